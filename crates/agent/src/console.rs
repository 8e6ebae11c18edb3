//! The agent's half of a VM console: it dials the server (agents only ever dial out) at
//! `/agent/console/<session>` and carries bytes between that websocket (binary frames) and the
//! VM's VNC unix socket until either side closes.

use std::path::Path;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

use crate::runtime::{Credential, HostAgent};

impl HostAgent {
    /// What a console session needs to dial the server: its address, pin and credential.
    pub(crate) fn dialer(&self) -> Dialer {
        Dialer {
            server: self.server.current(),
            fingerprint: self.fingerprint.clone(),
            credential: self.credential.lock().ok().map(|c| c.clone()),
        }
    }
}

pub(crate) struct Dialer {
    /// The server to dial (the one holding the console session).
    pub(crate) server: String,
    fingerprint: String,
    credential: Option<Credential>,
}

impl Dialer {
    /// Connects the VNC socket to the server's console session; returns once both ends are
    /// connected (the relay goes on in a task of its own).
    pub async fn open_console(&self, vnc: &Path, session: Uuid) -> crate::HostResult<()> {
        let (host, secret) = match &self.credential {
            Some(Credential::Host { host_id, secret }) => (*host_id, secret.clone()),
            _ => return Err("this host has not joined yet".into()),
        };
        let unix = tokio::net::UnixStream::connect(vnc)
            .await
            .map_err(|e| format!("connecting to the VNC socket: {e}"))?;
        let tcp = tokio::time::timeout(
            Duration::from_secs(10),
            tokio::net::TcpStream::connect(&self.server),
        )
        .await
        .map_err(|_| "connecting timed out".to_string())?
        .map_err(|e| format!("connecting to {}: {e}", self.server))?;
        let _ = tcp.set_nodelay(true);
        let connector = crate::tls::connector(&self.fingerprint).map_err(|e| e.to_string())?;
        let name = rustls::pki_types::ServerName::try_from("canopy").map_err(|e| e.to_string())?;
        let tls = connector
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS: {e}"))?;
        let mut req = format!("wss://{}{}/{session}", self.server, proto::CONSOLE_PATH)
            .into_client_request()
            .map_err(|e| e.to_string())?;
        let auth = format!("Host {host}:{secret}")
            .parse()
            .map_err(|_| "bad credential".to_string())?;
        req.headers_mut().insert("authorization", auth);
        let (ws, _) = tokio_tungstenite::client_async(req, tls)
            .await
            .map_err(|e| format!("console websocket: {e}"))?;
        tokio::spawn(relay(ws, unix));
        Ok(())
    }
}

async fn relay<S>(ws: tokio_tungstenite::WebSocketStream<S>, unix: tokio::net::UnixStream)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut tx, mut rx) = ws.split();
    let (mut ur, mut uw) = unix.into_split();
    let up = async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match ur.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx.send(Message::binary(buf[..n].to_vec())).await.is_err() {
                        break;
                    }
                }
            }
        }
        let _ = tx.close().await;
    };
    let down = async {
        while let Some(Ok(m)) = rx.next().await {
            let go_on = match m {
                Message::Binary(b) => uw.write_all(&b).await.is_ok(),
                Message::Close(_) => false,
                _ => true,
            };
            if !go_on {
                break;
            }
        }
    };
    tokio::select! {
        _ = up => {}
        _ = down => {}
    }
}
