//! Secrets: the server key (data directory, mode 0600) that encrypts API secret keys at rest
//! (AES-256-GCM — secrets must be recoverable to check HMAC signatures), memory-hard password
//! hashes (Argon2id), and random keys in CloudStack's shapes.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use rand::RngCore;

use crate::error::{DomainError, DomainResult};

/// The key that encrypts secrets. Servers sharing one database must share this file.
#[derive(Clone)]
pub struct ServerKey {
    cipher: Aes256Gcm,
    /// Authenticates calls between the servers sharing this key (HMAC-SHA256).
    mac_key: [u8; 32],
}

impl ServerKey {
    /// Loads `DIR/server.key`, creating it (0600) on first start.
    pub fn load_or_create(dir: &Path) -> DomainResult<Self> {
        let path = dir.join("server.key");
        let bytes = match std::fs::read_to_string(&path) {
            Ok(s) => hex_decode(s.trim()).ok_or_else(|| {
                DomainError::Crypto(format!("{} is not a 64-digit hex key", path.display()))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut k = [0u8; 32];
                rand::thread_rng().fill_bytes(&mut k);
                write_private(&path, hex_encode(&k).as_bytes())?;
                k.to_vec()
            }
            Err(e) => return Err(e.into()),
        };
        if bytes.len() != 32 {
            return Err(DomainError::Crypto(format!(
                "{} must hold 32 bytes",
                path.display()
            )));
        }
        let cipher =
            Aes256Gcm::new_from_slice(&bytes).map_err(|e| DomainError::Crypto(e.to_string()))?;
        // A separate key for authentication, derived so that a MAC never uses the cipher key.
        let mut d = Sha256::new();
        d.update(b"canopy server-to-server v1");
        d.update(&bytes);
        Ok(Self {
            cipher,
            mac_key: d.finalize().into(),
        })
    }

    /// HMAC-SHA256 of `data` (lower-case hex): proof to another server sharing this key.
    pub fn mac(&self, data: &[u8]) -> String {
        // HMAC takes keys of any length: this cannot fail (an empty MAC would never verify).
        let Ok(mut m) = <Hmac<Sha256> as Mac>::new_from_slice(&self.mac_key) else {
            return String::new();
        };
        m.update(data);
        hex_encode(&m.finalize().into_bytes())
    }

    /// Whether `mac_hex` is [`ServerKey::mac`] of `data` (compared in constant time).
    pub fn verify_mac(&self, data: &[u8], mac_hex: &str) -> bool {
        let Some(want) = hex_decode(mac_hex) else {
            return false;
        };
        let Ok(mut m) = <Hmac<Sha256> as Mac>::new_from_slice(&self.mac_key) else {
            return false;
        };
        m.update(data);
        m.verify_slice(&want).is_ok()
    }

    pub fn encrypt(&self, plain: &str) -> DomainResult<String> {
        let mut nonce = [0u8; 12];
        rand::thread_rng().fill_bytes(&mut nonce);
        let ct = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), plain.as_bytes())
            .map_err(|e| DomainError::Crypto(e.to_string()))?;
        let mut all = nonce.to_vec();
        all.extend(ct);
        Ok(format!("v1:{}", STANDARD.encode(all)))
    }

    pub fn decrypt(&self, stored: &str) -> DomainResult<String> {
        let raw = stored
            .strip_prefix("v1:")
            .and_then(|b| STANDARD.decode(b).ok())
            .filter(|r| r.len() > 12)
            .ok_or_else(|| DomainError::Crypto("malformed encrypted value".into()))?;
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(&raw[..12]), &raw[12..])
            .map_err(|_| DomainError::Crypto("cannot decrypt with this server key (is server.key the one this database was created with?)".into()))?;
        String::from_utf8(plain).map_err(|e| DomainError::Crypto(e.to_string()))
    }
}

/// Writes a file readable only by its owner.
pub fn write_private(path: &Path, data: &[u8]) -> DomainResult<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// An API key or secret key: 64 random bytes, URL-safe Base64 (86 characters), as CloudStack.
pub fn random_key() -> String {
    random_token::<64>()
}

/// N random bytes as URL-safe Base64, never starting with `-`: a leading dash makes
/// command-line tools (argparse, getopt) read the key or password as an option.
fn random_token<const N: usize>() -> String {
    let mut b = [0u8; N];
    rand::thread_rng().fill_bytes(&mut b);
    // The first character is the top six bits of the first byte; 62 is '-'.
    if b[0] >> 2 == 62 {
        b[0] &= 0x7f;
    }
    URL_SAFE_NO_PAD.encode(b)
}

/// A session key: 20 random bytes, URL-safe Base64 without padding.
pub fn session_key() -> String {
    let mut b = [0u8; 20];
    rand::thread_rng().fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

/// A random password for the first admin.
pub fn random_password() -> String {
    random_token::<15>()
}

/// Argon2id hash in PHC form. CPU-heavy: call from a blocking task.
pub fn hash_password(password: &str) -> DomainResult<String> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| DomainError::Crypto(e.to_string()))
}

/// Checks a password against a stored hash. CPU-heavy: call from a blocking task.
pub fn verify_password(password: &str, hash: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(hash)
        .map(|h| {
            argon2::Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Hashes on the blocking pool.
pub async fn hash_password_async(password: String) -> DomainResult<String> {
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| DomainError::Internal(e.to_string()))?
}

/// Verifies on the blocking pool.
pub async fn verify_password_async(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || verify_password(&password, &hash))
        .await
        .unwrap_or(false)
}

fn hex_encode(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encrypts_round_trip_and_key_file_is_private() {
        let dir = tempfile::tempdir().expect("tmp");
        let k = ServerKey::load_or_create(dir.path()).expect("key");
        // Server-to-server MACs: the same key verifies, another does not; tampering fails.
        let mac = k.mac(b"hello");
        assert!(k.verify_mac(b"hello", &mac));
        assert!(!k.verify_mac(b"hellO", &mac));
        assert!(!k.verify_mac(b"hello", "zz"));
        let other =
            ServerKey::load_or_create(tempfile::tempdir().expect("tmp").path()).expect("k2");
        assert!(!other.verify_mac(b"hello", &mac));
        let e = k.encrypt("secret").expect("enc");
        assert!(!e.contains("secret"));
        assert_eq!(k.decrypt(&e).expect("dec"), "secret");
        let again = ServerKey::load_or_create(dir.path()).expect("reload");
        assert_eq!(again.decrypt(&e).expect("dec"), "secret");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("server.key"))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let other =
            ServerKey::load_or_create(tempfile::tempdir().expect("tmp").path()).expect("key");
        assert!(other.decrypt(&e).is_err());
        assert!(k.decrypt("garbage").is_err());
    }

    #[test]
    fn keys_and_passwords_never_start_with_a_dash() {
        // 1 in 64 would without the guard; 4000 draws miss that with probability ~1e-27.
        for _ in 0..2000 {
            let k = random_key();
            assert_eq!(k.len(), 86);
            assert!(!k.starts_with('-'), "{k}");
            assert!(!random_password().starts_with('-'));
        }
    }

    #[test]
    fn passwords_and_keys() {
        let h = hash_password("pw").expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("pw", &h));
        assert!(!verify_password("pW", &h));
        assert!(!verify_password("pw", "not-a-hash"));
        assert_eq!(random_key().len(), 86);
        assert_ne!(random_key(), random_key());
    }
}
