//! Fetching template files (disk, kernel, initrd) from the server's image store over the
//! agent endpoint: the same pinned TLS, authenticated with the host's own credential.

use std::path::Path;

use http_body_util::BodyExt;
use tokio::io::AsyncWriteExt;
use uuid::Uuid;

use crate::runtime::{Credential, HostAgent};

impl HostAgent {
    /// Downloads `file` (`disk`, `kernel` or `initrd`) of a template to `dest`; returns its size.
    pub async fn fetch_image(
        &self,
        template: Uuid,
        file: &str,
        dest: &Path,
    ) -> crate::HostResult<u64> {
        let credential = self
            .credential
            .lock()
            .map(|c| c.clone())
            .map_err(|_| "credential poisoned".to_string())?;
        ImageSource::new(&self.server, &self.fingerprint, &credential)
            .fetch(template, file, dest)
            .await
    }
}

/// Where a real host's driver fetches template files: the server and the host's credential
/// (set once the host has joined).
#[derive(Clone, Default)]
pub struct ImageSource {
    /// The servers (images are fetched from the one in use).
    pub server: crate::ServerList,
    pub fingerprint: String,
    pub credential: std::sync::Arc<std::sync::Mutex<Option<(Uuid, String)>>>,
}

impl ImageSource {
    /// For an agent dialling `server`: usable at once with a host credential, after the
    /// first join (see `joined`) with a join token.
    pub fn new(server: &crate::ServerList, fingerprint: &str, credential: &Credential) -> Self {
        let s = Self {
            server: server.clone(),
            fingerprint: fingerprint.to_string(),
            credential: Default::default(),
        };
        if let Credential::Host { host_id, secret } = credential {
            s.joined(*host_id, secret);
        }
        s
    }

    /// The host joined (or its credential was renewed).
    pub fn joined(&self, host: Uuid, secret: &str) {
        if let Ok(mut c) = self.credential.lock() {
            *c = Some((host, secret.to_string()));
        }
    }

    /// Downloads `file` of `template` to `dest`; an error starting `HTTP 404` means the
    /// template has no such file.
    pub async fn fetch(&self, template: Uuid, file: &str, dest: &Path) -> crate::HostResult<u64> {
        let cred = self.credential.lock().ok().and_then(|c| c.clone());
        let Some((host, secret)) = cred else {
            return Err("this host has not joined yet".into());
        };
        fetch(
            &self.server.current(),
            &self.fingerprint,
            host,
            &secret,
            template,
            file,
            dest,
        )
        .await
    }
}

async fn fetch(
    server: &str,
    fingerprint: &str,
    host: Uuid,
    secret: &str,
    template: Uuid,
    file: &str,
    dest: &Path,
) -> crate::HostResult<u64> {
    {
        let mut sender = crate::tls::http1(server, fingerprint).await?;
        let req = hyper::Request::get(format!("/images/{template}/{file}"))
            .header(hyper::header::HOST, "canopy")
            .header(
                hyper::header::AUTHORIZATION,
                format!("Host {host}:{secret}"),
            )
            .body(http_body_util::Empty::<hyper::body::Bytes>::new())
            .map_err(|e| e.to_string())?;
        let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
        let status = resp.status();
        if !status.is_success() {
            let body = resp
                .into_body()
                .collect()
                .await
                .map(|b| String::from_utf8_lossy(&b.to_bytes()).to_string())
                .unwrap_or_default();
            return Err(format!("HTTP {status}: {body}").into());
        }
        let tmp = dest.with_extension("part");
        let mut out = tokio::fs::File::create(&tmp)
            .await
            .map_err(|e| format!("creating {}: {e}", tmp.display()))?;
        let mut body = resp.into_body();
        let mut size = 0u64;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| e.to_string())?;
            if let Ok(data) = frame.into_data() {
                out.write_all(&data).await.map_err(|e| e.to_string())?;
                size += data.len() as u64;
            }
        }
        out.sync_all().await.map_err(|e| e.to_string())?;
        tokio::fs::rename(&tmp, dest)
            .await
            .map_err(|e| e.to_string())?;
        Ok(size)
    }
}
