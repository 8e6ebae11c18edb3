//! Calls between management servers. A command for a host whose agent is connected to
//! another server goes to that server's agent endpoint (`POST /internal/v1/command`), which
//! runs it on its own connection to the agent and answers the agent's answer — CloudStack
//! forwards a request to the host's management server the same way.
//!
//! Why HTTPS on the agent endpoint rather than PostgreSQL LISTEN/NOTIFY: answers can be large
//! (a host's VM list, volume figures) and need a reply path with a timeout, SQLite-only
//! deployments have no NOTIFY, and every server already listens on the agent endpoint with
//! the one TLS identity all servers share (so the caller pins it like an agent does). The
//! caller proves it is a server of this cluster with an HMAC of the request under the shared
//! server key (`x-canopy-peer: <ms>.<hex mac>` over `<ms>\n<body>`, ±60 s), so no agent or
//! stranger can drive another host through it.

use std::sync::Weak;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State as AxState;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use futures_util::future::BoxFuture;
use http_body_util::{BodyExt, Full};
use model::{HostId, ServerId};
use serde_json::Value;

use crate::state::State;
use domain::core::Core;
use domain::error::{DomainError, ErrorKind};
use domain::hub::PeerHosts;

pub use proto::peer::{PeerAnswer, PeerRequest, HEADER, PATH};
const SKEW_MS: i64 = 60_000;
/// The longest command a peer runs for another (a live migration's wait is the longest).
const MAX_TIMEOUT: Duration = Duration::from_secs(900);

fn answer_of(r: Result<Value, DomainError>) -> PeerAnswer {
    match r {
        Ok(body) => PeerAnswer {
            ok: true,
            body,
            ..Default::default()
        },
        Err(DomainError::Refused { kind, text }) => PeerAnswer {
            kind: Some(kind.number()),
            text: Some(text),
            ..Default::default()
        },
        Err(e) => PeerAnswer {
            text: Some(e.to_string()),
            ..Default::default()
        },
    }
}

fn result_of(a: PeerAnswer, peer: &str) -> Result<Value, DomainError> {
    if a.ok {
        return Ok(a.body);
    }
    let text = a.text.unwrap_or_default();
    match a.kind.and_then(ErrorKind::from_number) {
        Some(kind) => Err(DomainError::refused(kind, text)),
        None => Err(DomainError::Internal(format!(
            "through server {peer}: {text}"
        ))),
    }
}

/// The header value proving `body` comes from a server holding `key`.
fn sign(key: &domain::crypto::ServerKey, now: i64, body: &[u8]) -> String {
    let mut data = format!("{now}\n").into_bytes();
    data.extend_from_slice(body);
    format!("{now}.{}", key.mac(&data))
}

fn verify(key: &domain::crypto::ServerKey, header: &str, body: &[u8], now: i64) -> bool {
    let Some((ts, mac)) = proto::peer::parse_auth(header) else {
        return false;
    };
    if (now - ts).abs() > SKEW_MS {
        return false;
    }
    let mut data = format!("{ts}\n").into_bytes();
    data.extend_from_slice(body);
    key.verify_mac(&data, mac)
}

/// The server side: a peer asks this server to run a command on an agent connected here.
pub async fn serve(
    AxState(st): AxState<State>,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    let now = api::time::now_ms();
    let authentic = headers
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|h| verify(&st.key, h, &body, now));
    if !authentic {
        return (
            StatusCode::UNAUTHORIZED,
            "not a management server of this cloud",
        )
            .into_response();
    }
    let Ok(req) = serde_json::from_slice::<PeerRequest>(&body) else {
        return (StatusCode::BAD_REQUEST, "not a command").into_response();
    };
    let answer = if st.hub.is_connected(req.host_id) {
        let timeout = Duration::from_millis(req.timeout_ms).min(MAX_TIMEOUT);
        answer_of(
            st.hub
                .command_local(req.host_id, req.command, timeout)
                .await,
        )
    } else {
        PeerAnswer {
            not_here: true,
            ..Default::default()
        }
    };
    match serde_json::to_vec(&answer) {
        Ok(b) => ([(axum::http::header::CONTENT_TYPE, "application/json")], b).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// The calling side, set on the hub at start.
pub struct Link {
    core: Weak<Core>,
    /// The agent certificate's fingerprint (every server presents the same one).
    fingerprint: String,
}

impl Link {
    pub fn new(core: Weak<Core>, fingerprint: String) -> Self {
        Self { core, fingerprint }
    }
}

/// The agent endpoint of the Up server (other than `me`) the host's agent is connected to.
async fn owner(core: &Core, me: ServerId, host: HostId) -> Result<Option<String>, DomainError> {
    let mut c = core.store.read().await?;
    let Some(h) = db::host_get(&mut c, host).await? else {
        return Ok(None);
    };
    let Some(owner) = h.server_id.filter(|s| *s != me.0) else {
        return Ok(None);
    };
    if h.disconnected.is_some() {
        return Ok(None);
    }
    let now = api::time::now_ms();
    let threshold = core.settings.int("cluster.heartbeat.threshold");
    Ok(db::server_list(&mut c)
        .await?
        .into_iter()
        .find(|s| s.id.0 == owner && s.state == "Up" && now - s.heartbeat <= threshold)
        .map(|s| s.agent_endpoint))
}

impl PeerHosts for Link {
    fn command(
        &self,
        host: HostId,
        command: proto::Command,
        timeout: Duration,
    ) -> BoxFuture<'_, Option<Result<Value, DomainError>>> {
        Box::pin(async move {
            let core = self.core.upgrade()?;
            let peer = match owner(&core, core.server_id, host).await {
                Ok(Some(p)) => p,
                Ok(None) => return None,
                Err(e) => return Some(Err(e)),
            };
            let req = PeerRequest {
                host_id: host,
                command,
                timeout_ms: timeout.as_millis().min(u64::MAX as u128) as u64,
            };
            match call(&peer, &self.fingerprint, &core.key, &req, timeout).await {
                Ok(a) if a.not_here => None,
                Ok(a) => Some(result_of(a, &peer)),
                Err(e) => {
                    tracing::warn!(%host, %peer, error = %e, "could not reach the host's management server");
                    None
                }
            }
        })
    }

    fn has(&self, host: HostId) -> BoxFuture<'_, bool> {
        Box::pin(async move {
            let Some(core) = self.core.upgrade() else {
                return false;
            };
            matches!(owner(&core, core.server_id, host).await, Ok(Some(_)))
        })
    }
}

/// One authenticated request to a peer's agent endpoint.
async fn call(
    peer: &str,
    fingerprint: &str,
    key: &domain::crypto::ServerKey,
    req: &PeerRequest,
    timeout: Duration,
) -> Result<PeerAnswer, String> {
    let body = serde_json::to_vec(req).map_err(|e| e.to_string())?;
    let header = sign(key, api::time::now_ms(), &body);
    let wait = timeout + Duration::from_secs(5);
    let (status, bytes) = tokio::time::timeout(wait, post(peer, fingerprint, Some(&header), body))
        .await
        .map_err(|_| format!("no answer within {wait:?}"))??;
    if !(200..300).contains(&status) {
        return Err(format!("HTTP {status}"));
    }
    serde_json::from_slice::<PeerAnswer>(&bytes).map_err(|e| e.to_string())
}

/// POSTs `body` to a server's peer endpoint (HTTP/1.1 over TLS pinned to the shared agent
/// certificate) with the given authentication header; answers the status and body.
pub async fn post(
    peer: &str,
    fingerprint: &str,
    auth: Option<&str>,
    body: Vec<u8>,
) -> Result<(u16, Vec<u8>), String> {
    let mut sender = agent::tls::http1(peer, fingerprint).await?;
    let mut request = hyper::Request::post(PATH)
        .header(hyper::header::HOST, peer)
        .header(hyper::header::CONTENT_TYPE, "application/json");
    if let Some(a) = auth {
        request = request.header(HEADER, a);
    }
    let request = request
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    let resp = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let bytes = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((status, bytes.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_fresh_request_signed_with_the_shared_key_is_authentic() {
        let dir = tempfile::tempdir().expect("tmp");
        let key = domain::crypto::ServerKey::load_or_create(dir.path()).expect("key");
        let h = sign(&key, 1_000_000, b"{}");
        assert!(verify(&key, &h, b"{}", 1_000_000 + 59_000));
        assert!(!verify(&key, &h, b"{ }", 1_000_000), "another body");
        assert!(!verify(&key, &h, b"{}", 1_000_000 + 61_000), "too old");
        assert!(!verify(&key, "12.zz", b"{}", 12));
        assert!(!verify(&key, "garbage", b"{}", 12));
        let other =
            domain::crypto::ServerKey::load_or_create(tempfile::tempdir().expect("tmp").path())
                .expect("k2");
        assert!(!verify(&other, &h, b"{}", 1_000_000));
    }
}
