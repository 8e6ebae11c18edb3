//! The VM console (noVNC-compatible): `createConsoleEndpoint` gives the caller a short-lived
//! token bound to the VM and to them; `/client/console?token=…` upgrades to a websocket
//! (subprotocol `binary`) that carries RFB from the VM's VNC socket. The server asks the VM's
//! host (`OpenConsole`) to dial back at `/agent/console/<session>` on the agent endpoint —
//! agents only ever dial out — and relays binary frames between the two websockets.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use api::{ApiError, Args};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State as AxState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::oneshot;
use uuid::Uuid;

use crate::context::OpContext;
use crate::error::AppResult;
use crate::state::State;

/// How long a console token may be used to open a session.
pub const TOKEN_TTL_MS: i64 = 60_000;

/// Console sessions waiting for their agent to dial back.
#[derive(Default)]
pub struct Consoles {
    pending: Mutex<HashMap<Uuid, oneshot::Sender<WebSocket>>>,
}

impl Consoles {
    fn wait(&self, session: Uuid) -> oneshot::Receiver<WebSocket> {
        let (tx, rx) = oneshot::channel();
        if let Ok(mut p) = self.pending.lock() {
            p.insert(session, tx);
        }
        rx
    }
    fn take(&self, session: Uuid) -> Option<oneshot::Sender<WebSocket>> {
        self.pending.lock().ok()?.remove(&session)
    }
    fn forget(&self, session: Uuid) {
        if let Ok(mut p) = self.pending.lock() {
            p.remove(&session);
        }
    }
}

/// createConsoleEndpoint (CloudStack 4.18): a websocket URL and token for a running VM the
/// caller may use.
pub async fn create_endpoint(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let id = args
        .uuid("virtualmachineid")
        .ok_or_else(|| ApiError::param("Please specify virtualmachineid"))?;
    // As CloudStack's ConsoleAccessManager: no access is an answer, not an error.
    let vm = match crate::handlers::vms::owned(st, ctx, id).await {
        Ok(vm) => vm,
        Err(crate::error::AppError::Api(e)) if e.code == api::ErrorCode::Account => {
            return Ok(json!({"consoleendpoint": {
                "success": false,
                "details": "Permission denied",
            }}));
        }
        Err(e) => return Err(e),
    };
    if vm.state != model::VmState::Running || vm.host_id.is_none() {
        return Ok(json!({"consoleendpoint": {
            "success": false,
            "details": format!("VM {} is {}: only a running VM has a console", vm.name, vm.state),
        }}));
    }
    let claims = json!({
        "vm": vm.id,
        "user": ctx.user.id.to_string(),
        "exp": api::time::now_ms() + TOKEN_TTL_MS,
        "extra": args.text("token"),
    });
    let token = URL_SAFE_NO_PAD.encode(st.key.encrypt(&claims.to_string())?);
    let origin = ctx
        .origin
        .clone()
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let (host, port) = match origin.rsplit_once(':') {
        Some((h, p)) if p.parse::<u16>().is_ok() => (h.to_string(), p.to_string()),
        _ => (origin.clone(), "80".to_string()),
    };
    Ok(json!({"consoleendpoint": {
        "success": true,
        // The page (the web console's noVNC viewer), as CloudStack's `url` is; it opens the
        // websocket below with the token.
        "url": format!("http://{origin}/client/console.html?token={token}"),
        "websocket": {
            "token": token,
            "host": host,
            "port": port,
            "path": "/client/console",
            "extra": args.text("token"),
        },
    }}))
}

/// What a valid token names: the VM and the user it was issued to.
fn check_token(st: &State, token: &str) -> Result<(Uuid, Uuid), String> {
    let bytes = URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| "malformed console token".to_string())?;
    let text = String::from_utf8(bytes).map_err(|_| "malformed console token".to_string())?;
    let plain = st
        .key
        .decrypt(&text)
        .map_err(|_| "invalid console token".to_string())?;
    let c: Value = serde_json::from_str(&plain).map_err(|_| "invalid console token".to_string())?;
    if c["exp"].as_i64().unwrap_or(0) < api::time::now_ms() {
        return Err("the console token expired: ask for a new one".into());
    }
    let vm_id: Uuid = c["vm"]
        .as_str()
        .and_then(|v| v.parse().ok())
        .ok_or("invalid console token")?;
    let user: Uuid = c["user"]
        .as_str()
        .and_then(|v| v.parse().ok())
        .ok_or("invalid console token")?;
    Ok((vm_id, user))
}

/// The VM, if the token's user is still enabled and still reaches it.
async fn still_allowed(st: &State, user: Uuid, vm: Uuid) -> Result<db::VmRow, String> {
    use model::identity::AccountState;
    let u = {
        let mut c = st
            .store
            .read()
            .await
            .map_err(|_| "database unavailable".to_string())?;
        db::user_get(&mut c, model::UserId::from(user))
            .await
            .map_err(|_| "database unavailable".to_string())?
    };
    let Some(u) = u else {
        return Err("the user of this console token no longer exists".into());
    };
    if u.state != AccountState::Enabled || u.account.state != AccountState::Enabled {
        return Err("the user of this console token is disabled".into());
    }
    let ctx = OpContext::new(u, false);
    crate::handlers::vms::owned(st, &ctx, vm)
        .await
        .map_err(|e| e.into_api().text)
}

/// `GET /client/console?token=…` (websocket upgrade).
pub async fn browser(
    AxState(st): AxState<State>,
    Query(q): Query<HashMap<String, String>>,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let Some(token) = q.get("token") else {
        return (StatusCode::BAD_REQUEST, "token required").into_response();
    };
    let (vm, user) = match check_token(&st, token) {
        Ok(v) => v,
        Err(e) => return (StatusCode::UNAUTHORIZED, e).into_response(),
    };
    // The caller the token was issued to must still be enabled and still reach the VM.
    let vm = match still_allowed(&st, user, vm).await {
        Ok(vm) => vm,
        Err(e) => return (StatusCode::FORBIDDEN, e).into_response(),
    };
    let (Some(host), model::VmState::Running) = (vm.host_id, vm.state) else {
        return (
            StatusCode::CONFLICT,
            format!("VM {} is {}", vm.name, vm.state),
        )
            .into_response();
    };
    let Ok(ws) = ws else {
        return (
            StatusCode::UPGRADE_REQUIRED,
            "the console is a websocket (RFB): open it with noVNC",
        )
            .into_response();
    };
    let name = vm.instance_name.clone();
    ws.protocols(["binary"])
        .on_upgrade(move |socket| async move {
            if let Err(e) = relay(st, socket, host, name.clone()).await {
                tracing::warn!(vm = %name, error = %e, "console session ended with an error");
            }
        })
}

async fn relay(
    st: State,
    mut browser: WebSocket,
    host: model::HostId,
    name: String,
) -> Result<(), String> {
    let session = Uuid::new_v4();
    // The session waits here, whichever server the agent is connected to: the agent dials this
    // server's agent endpoint — or, behind a return proxy, this server's port on the proxy.
    let server = match crate::returnproxy::of_host(&st, host).await {
        Ok(Some(d)) => format!(
            "{}:{}",
            d.reach(),
            crate::returnproxy::port_of(&st, crate::returnproxy::place(&st).0)
        ),
        _ => st.agent_endpoint.clone(),
    };
    let rx = st.consoles.wait(session);
    let asked = st
        .hub
        .command_ready(
            host,
            proto::Command::OpenConsole {
                name: name.clone(),
                session,
                server: Some(server),
            },
            Duration::from_secs(20),
        )
        .await;
    if let Err(e) = asked {
        st.consoles.forget(session);
        let text = crate::error::AppError::from(e).into_api().text;
        let _ = browser
            .send(Message::Close(Some(axum::extract::ws::CloseFrame {
                code: 1011,
                reason: text.clone().into(),
            })))
            .await;
        return Err(text);
    }
    let agent = match tokio::time::timeout(Duration::from_secs(10), rx).await {
        Ok(Ok(a)) => a,
        _ => {
            st.consoles.forget(session);
            return Err("the host did not connect the console".into());
        }
    };
    tracing::info!(vm = %name, %host, "console session open");
    let (btx, brx) = browser.split();
    let (atx, arx) = agent.split();
    tokio::select! {
        _ = pump(arx, btx) => {}
        _ = pump(brx, atx) => {}
    }
    Ok(())
}

/// Binary frames from one websocket to the other until either closes.
async fn pump<R, T>(mut from: R, mut to: T)
where
    R: futures_util::Stream<Item = Result<Message, axum::Error>> + Unpin,
    T: futures_util::Sink<Message> + Unpin,
{
    while let Some(Ok(m)) = from.next().await {
        let go_on = match m {
            Message::Binary(b) => to.send(Message::Binary(b)).await.is_ok(),
            Message::Close(_) => false,
            _ => true,
        };
        if !go_on {
            break;
        }
    }
    let _ = to.close().await;
}

/// `GET /agent/console/<session>` on the agent endpoint: the host dials back.
pub async fn agent(
    AxState(st): AxState<State>,
    axum::extract::Path(session): axum::extract::Path<Uuid>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    if let Err((code, why)) = crate::hub::authenticate_host(&st, &headers).await {
        return (code, why).into_response();
    }
    let Some(tx) = st.consoles.take(session) else {
        return (StatusCode::NOT_FOUND, "no such console session").into_response();
    };
    ws.on_upgrade(move |socket| async move {
        let _ = tx.send(socket);
    })
}
