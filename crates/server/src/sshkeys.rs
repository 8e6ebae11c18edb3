//! SSH public keys: parsing and fingerprints (as CloudStack's `SSHKeysHelper`), and RSA key
//! pair generation for `createSSHKeyPair`.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use md5::{Digest, Md5};
use rsa::pkcs1::{EncodeRsaPrivateKey, LineEnding};
use rsa::traits::PublicKeyParts;

/// Key types accepted by `registerSSHKeyPair`.
const TYPES: &[&str] = &[
    "ssh-rsa",
    "ssh-dss",
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
];

/// A validated OpenSSH public key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey {
    /// `type base64 [comment]`, single-spaced, as stored and given to guests.
    pub text: String,
    /// MD5 of the key blob, colon-separated lower-case hex (CloudStack's format).
    pub fingerprint: String,
}

/// Reads the first SSH wire-format string of a key blob.
fn first_string(blob: &[u8]) -> Option<&[u8]> {
    let len = u32::from_be_bytes(blob.get(..4)?.try_into().ok()?) as usize;
    blob.get(4..4usize.checked_add(len)?)
}

pub fn fingerprint(blob: &[u8]) -> String {
    Md5::digest(blob)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Parses `type base64 [comment]`; `None` when it is not a public key of a known type whose
/// blob names the same type.
pub fn parse_public_key(s: &str) -> Option<PublicKey> {
    let mut parts = s.split_whitespace();
    let kind = parts.next()?;
    let b64 = parts.next()?;
    let comment: Vec<&str> = parts.collect();
    if !TYPES.contains(&kind) {
        return None;
    }
    let blob = B64.decode(b64).ok()?;
    if first_string(&blob)? != kind.as_bytes() {
        return None;
    }
    let mut text = format!("{kind} {b64}");
    if !comment.is_empty() {
        text.push(' ');
        text.push_str(&comment.join(" "));
    }
    Some(PublicKey {
        text,
        fingerprint: fingerprint(&blob),
    })
}

fn put_string(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(bytes);
}

/// An SSH `mpint`: big-endian, with a leading zero when the high bit is set.
fn put_mpint(out: &mut Vec<u8>, be: &[u8]) {
    let be = match be.iter().position(|b| *b != 0) {
        Some(i) => &be[i..],
        None => &[],
    };
    if be.first().is_some_and(|b| b & 0x80 != 0) {
        let mut v = Vec::with_capacity(be.len() + 1);
        v.push(0);
        v.extend_from_slice(be);
        put_string(out, &v);
    } else {
        put_string(out, be);
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyGenError {
    #[error("RSA key generation failed: {0}")]
    Rsa(#[from] rsa::Error),
    #[error("PEM encoding failed: {0}")]
    Pem(#[from] rsa::pkcs1::Error),
}

/// A new 2048-bit RSA key pair: the public key and the private key as PKCS#1 PEM (what
/// CloudStack returns). CPU-heavy: call from a blocking thread.
pub fn generate_rsa() -> Result<(PublicKey, String), KeyGenError> {
    let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048)?;
    let pem = key.to_pkcs1_pem(LineEnding::LF)?.to_string();
    let mut blob = Vec::new();
    put_string(&mut blob, b"ssh-rsa");
    put_mpint(&mut blob, &key.e().to_bytes_be());
    put_mpint(&mut blob, &key.n().to_bytes_be());
    let public = PublicKey {
        text: format!("ssh-rsa {}", B64.encode(&blob)),
        fingerprint: fingerprint(&blob),
    };
    Ok((public, pem))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Generated with `ssh-keygen -t ed25519 -C test@canopy`; fingerprint from
    // `ssh-keygen -l -E md5`.
    const ED: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICbbeT8ColB7mBxNy+TbMw16q3ol0aHZNeflEUglLH29 test@canopy";

    #[test]
    fn parses_and_fingerprints_like_ssh_keygen() {
        let k = parse_public_key(&format!("  {ED}\n")).expect("valid");
        assert_eq!(k.text, ED);
        assert_eq!(k.fingerprint, ED_MD5);
    }

    const ED_MD5: &str = "d9:ac:c1:44:3e:98:ce:38:7a:71:0e:df:74:75:2a:8e";

    #[test]
    fn rejects_what_is_not_a_public_key() {
        for bad in [
            "",
            "ssh-rsa",
            "ssh-rsa !!!notbase64",
            "ssh-foo AAAAC3NzaC1lZDI1NTE5AAAAICbbeT8ColB7mBxNy+TbMw16q3ol0aHZNeflEUglLH29",
            // The blob says ssh-ed25519, the text says ssh-rsa.
            "ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAICbbeT8ColB7mBxNy+TbMw16q3ol0aHZNeflEUglLH29",
            "-----BEGIN RSA PRIVATE KEY-----",
        ] {
            assert!(parse_public_key(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn generated_key_round_trips_through_the_parser() {
        let (public, pem) = generate_rsa().expect("keygen");
        assert!(pem.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
        let parsed = parse_public_key(&public.text).expect("own key parses");
        assert_eq!(parsed.fingerprint, public.fingerprint);
        assert_eq!(public.fingerprint.len(), 47);
        // OpenSSH derives the same public key from the private key we hand out.
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("id_rsa");
        std::fs::write(&path, &pem).expect("write");
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .expect("chmod");
        match std::process::Command::new("ssh-keygen")
            .arg("-y")
            .arg("-f")
            .arg(&path)
            .output()
        {
            Ok(out) => {
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), public.text);
            }
            Err(e) => eprintln!("ssh-keygen not available ({e}); skipped the OpenSSH cross-check"),
        }
    }
}
