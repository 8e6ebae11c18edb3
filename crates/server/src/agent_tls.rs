//! The agent endpoint's TLS identity: a self-signed certificate made on first start and kept
//! in the data directory. Agents pin it by the SHA-256 of its DER form (the fingerprint in
//! their join token), so no CA is involved.
//!
//! Every server of one database presents the same identity ([`load_shared`]): the first to
//! start stores its certificate and key (encrypted with the shared server key) in
//! `cluster_secrets`, the others adopt it, so an agent that pinned one server trusts all.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};

use crate::crypto::write_private;
use crate::error::{AppError, AppResult};

pub struct AgentTls {
    pub acceptor: tokio_rustls::TlsAcceptor,
    /// Lower-case hex SHA-256 of the certificate.
    pub fingerprint: String,
}

pub fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

const SECRET: &str = "agent-tls";

#[derive(serde::Serialize, serde::Deserialize)]
struct Stored {
    cert_pem: String,
    /// The key's PEM, encrypted with the server key.
    key_enc: String,
}

/// The identity every server of this database shares: the stored one (written into the data
/// directory), or this directory's (created if need be), stored for the others.
pub async fn load_shared(
    store: &db::DataStore,
    key: &crate::crypto::ServerKey,
    dir: &Path,
) -> AppResult<AgentTls> {
    let cert_path = dir.join("agent-cert.pem");
    let key_path = dir.join("agent-key.pem");
    let mut c = store.read().await?;
    let stored = db::cluster_secret_get(&mut c, SECRET).await?;
    drop(c);
    let stored = match stored {
        Some(s) => s,
        None => {
            load_or_create(dir)?;
            let mine = Stored {
                cert_pem: std::fs::read_to_string(&cert_path)?,
                key_enc: key.encrypt(&std::fs::read_to_string(&key_path)?)?,
            };
            let json = serde_json::to_string(&mine)
                .map_err(|e| AppError::Crypto(format!("the agent identity: {e}")))?;
            let mut tx = store.begin().await?;
            let s = db::cluster_secret_put_once(&mut tx, SECRET, &json).await?;
            tx.commit().await?;
            s
        }
    };
    let s: Stored = serde_json::from_str(&stored)
        .map_err(|e| AppError::Crypto(format!("the stored agent identity: {e}")))?;
    let key_pem = key.decrypt(&s.key_enc).map_err(|_| {
        AppError::Crypto(
            "the stored agent identity was encrypted with another server key: every server of one database needs the same server.key".into(),
        )
    })?;
    if std::fs::read_to_string(&cert_path).ok().as_deref() != Some(s.cert_pem.as_str()) {
        write_private(&key_path, key_pem.as_bytes())?;
        std::fs::write(&cert_path, s.cert_pem.as_bytes())?;
    }
    load_or_create(dir)
}

/// Loads `DIR/agent-cert.pem` and `DIR/agent-key.pem`, creating them on first start.
pub fn load_or_create(dir: &Path) -> AppResult<AgentTls> {
    let cert_path = dir.join("agent-cert.pem");
    let key_path = dir.join("agent-key.pem");
    if !cert_path.exists() || !key_path.exists() {
        let ck =
            rcgen::generate_simple_self_signed(vec!["canopy".to_string(), "localhost".to_string()])
                .map_err(|e| AppError::Crypto(format!("generating the agent certificate: {e}")))?;
        write_private(&key_path, ck.key_pair.serialize_pem().as_bytes())?;
        std::fs::write(&cert_path, ck.cert.pem())?;
    }
    let cert = CertificateDer::from_pem_file(&cert_path)
        .map_err(|e| AppError::Crypto(format!("{}: {e}", cert_path.display())))?;
    let key = PrivateKeyDer::from_pem_file(&key_path)
        .map_err(|e| AppError::Crypto(format!("{}: {e}", key_path.display())))?;
    let fingerprint = sha256_hex(cert.as_ref());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| AppError::Crypto(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .map_err(|e| AppError::Crypto(e.to_string()))?;
    Ok(AgentTls {
        acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
        fingerprint,
    })
}
