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
        self.fetch_path(&format!("/images/{template}/{file}"), dest)
            .await
    }

    /// Downloads a snapshot's copy from the image store to `dest`; returns its size.
    pub async fn fetch_snapshot(&self, snapshot: Uuid, dest: &Path) -> crate::HostResult<u64> {
        self.fetch_path(&format!("{}/snapshot/{snapshot}", proto::STORE_PATH), dest)
            .await
    }

    /// An uploaded volume's file in the image store.
    pub async fn fetch_volume_image(&self, volume: Uuid, dest: &Path) -> crate::HostResult<u64> {
        self.fetch_path(&format!("{}/volume/{volume}", proto::STORE_PATH), dest)
            .await
    }

    fn joined_as(&self) -> crate::HostResult<(Uuid, String)> {
        self.credential
            .lock()
            .ok()
            .and_then(|c| c.clone())
            .ok_or_else(|| "this host has not joined yet".into())
    }

    async fn fetch_path(&self, path: &str, dest: &Path) -> crate::HostResult<u64> {
        let (host, secret) = self.joined_as()?;
        fetch(
            &self.server.current(),
            &self.fingerprint,
            host,
            &secret,
            path,
            dest,
        )
        .await
    }

    /// Sends the file `src` to the image store as `kind`/`id` (`snapshot`, `template`,
    /// `extract`); returns the size the server stored.
    pub async fn upload(&self, kind: &str, id: Uuid, src: &Path) -> crate::HostResult<u64> {
        // A connection that breaks while the body is being written (the server may answer a
        // refusal and close before the client has written its last frame) hides the answer:
        // send once more on a new connection (the store writes a `.part` file and renames it,
        // so a second send is harmless).
        match self.upload_once(kind, id, src).await {
            Err(Sent::Broken(e)) => {
                tracing::debug!(%kind, %id, error = %e, "upload connection broke; sending again");
                self.upload_once(kind, id, src)
                    .await
                    .map_err(Sent::into_error)
            }
            r => r.map_err(Sent::into_error),
        }
    }

    async fn upload_once(&self, kind: &str, id: Uuid, src: &Path) -> Result<u64, Sent> {
        let (host, secret) = self.joined_as().map_err(Sent::Failed)?;
        let f = tokio::fs::File::open(src)
            .await
            .map_err(|e| Sent::Failed(format!("opening {}: {e}", src.display()).into()))?;
        let len = f
            .metadata()
            .await
            .map_err(|e| Sent::Failed(e.to_string().into()))?
            .len();
        let mut sender = crate::tls::http1(&self.server.current(), &self.fingerprint)
            .await
            .map_err(|e| Sent::Failed(e.into()))?;
        let body = http_body_util::StreamBody::new(futures_util::StreamExt::map(
            tokio_util_like::chunks(f),
            |r| r.map(hyper::body::Frame::data),
        ));
        let req = hyper::Request::put(format!("{}/{kind}/{id}", proto::STORE_PATH))
            .header(hyper::header::HOST, "canopy")
            .header(hyper::header::CONTENT_LENGTH, len)
            .header(
                hyper::header::AUTHORIZATION,
                format!("Host {host}:{secret}"),
            )
            .body(body)
            .map_err(|e| Sent::Failed(e.to_string().into()))?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| Sent::Broken(e.to_string()))?;
        let status = resp.status();
        let body = resp
            .into_body()
            .collect()
            .await
            .map(|b| String::from_utf8_lossy(&b.to_bytes()).to_string())
            .unwrap_or_default();
        if !status.is_success() {
            return Err(Sent::Failed(
                format!("storing {kind} {id}: HTTP {status}: {body}").into(),
            ));
        }
        Ok(body.trim().parse().unwrap_or(len))
    }
}

/// How one upload attempt failed: the connection broke before an answer (worth one more
/// try), or anything else.
enum Sent {
    Broken(String),
    Failed(crate::HostError),
}

impl Sent {
    fn into_error(self) -> crate::HostError {
        match self {
            Sent::Broken(e) => e.into(),
            Sent::Failed(e) => e,
        }
    }
}

/// A file read as a stream of 256 KiB chunks (what tokio-util's `ReaderStream` does; one
/// function is not worth the dependency).
mod tokio_util_like {
    pub fn chunks(
        mut f: tokio::fs::File,
    ) -> impl futures_util::Stream<Item = std::io::Result<hyper::body::Bytes>> {
        futures_util::stream::poll_fn(move |cx| {
            use tokio::io::AsyncRead;
            let mut buf = vec![0u8; 256 * 1024];
            let mut rb = tokio::io::ReadBuf::new(&mut buf);
            match std::pin::Pin::new(&mut f).poll_read(cx, &mut rb) {
                std::task::Poll::Ready(Ok(())) if rb.filled().is_empty() => {
                    std::task::Poll::Ready(None)
                }
                std::task::Poll::Ready(Ok(())) => {
                    let n = rb.filled().len();
                    buf.truncate(n);
                    std::task::Poll::Ready(Some(Ok(hyper::body::Bytes::from(buf))))
                }
                std::task::Poll::Ready(Err(e)) => std::task::Poll::Ready(Some(Err(e))),
                std::task::Poll::Pending => std::task::Poll::Pending,
            }
        })
    }
}

async fn fetch(
    server: &str,
    fingerprint: &str,
    host: Uuid,
    secret: &str,
    path: &str,
    dest: &Path,
) -> crate::HostResult<u64> {
    {
        let mut sender = crate::tls::http1(server, fingerprint).await?;
        let req = hyper::Request::get(path)
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
