//! The agent hub: the HTTPS endpoint agents dial (`wss://…:9443/agent`), their
//! authentication (join token or host credential), the live connections, commands with
//! replies, and the host-status monitor (which hands hosts that stopped answering to `ha`).
//!
//! Heartbeats are recorded in memory and written in batches, so thousands of hosts do not
//! cost thousands of write transactions per interval. Status rules (times from
//! `ping.interval` × `ping.timeout`): a connection that closes → Disconnected; a connected
//! agent silent past the timeout has its connection closed; any host whose last heartbeat is
//! older than the timeout is investigated by `ha` (Alert when a peer still reaches it, else
//! Down, fenced, and its HA VMs restarted) — except hosts in Maintenance or Disabled, which
//! just go Disconnected.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State as AxState};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use futures_channel::mpsc;
use futures_util::{SinkExt, StreamExt};
use model::HostId;
use proto::{AgentMsg, Auth, Inventory, ServerMsg};
use rand::RngCore;
use tokio::sync::watch;
use uuid::Uuid;

use crate::agent_tls::sha256_hex;
use crate::error::{AppError, AppResult};
use crate::state::State;

pub use domain::hub::{AgentHub, RECONNECT_WAIT};

/// Why an agent was refused.
struct Refusal {
    reason: String,
    retry: bool,
}

fn refuse<T>(reason: impl Into<String>, retry: bool) -> Result<T, Refusal> {
    Err(Refusal {
        reason: reason.into(),
        retry,
    })
}

fn now_ms() -> i64 {
    api::time::now_ms()
}

pub fn new_secret() -> String {
    use base64::Engine;
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

pub fn router(st: State) -> Router {
    Router::new()
        .route(proto::AGENT_PATH, get(upgrade))
        .route("/images/{template}/{file}", get(image))
        .route(
            &format!("{}/{{kind}}/{{id}}", proto::STORE_PATH),
            get(crate::store::get).put(crate::store::put),
        )
        .route(crate::peers::PATH, axum::routing::post(crate::peers::serve))
        .route(
            &format!("{}/{{session}}", proto::CONSOLE_PATH),
            get(crate::console::agent),
        )
        .with_state(st)
}

/// A joined host's credential from `Authorization: Host <host id>:<host secret>`.
pub(crate) async fn authenticate_host(
    st: &State,
    headers: &axum::http::HeaderMap,
) -> Result<HostId, (axum::http::StatusCode, &'static str)> {
    use axum::http::StatusCode;
    let Some((host, secret)) = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Host "))
        .and_then(|v| v.split_once(':'))
        .and_then(|(h, s)| Some((h.parse::<HostId>().ok()?, s.to_string())))
    else {
        return Err((StatusCode::UNAUTHORIZED, "host credential required"));
    };
    let h = match st.store.read().await {
        Ok(mut c) => db::host_get(&mut c, host).await.ok().flatten(),
        Err(_) => return Err((StatusCode::SERVICE_UNAVAILABLE, "database unavailable")),
    };
    let Some(h) = h else {
        return Err((StatusCode::NOT_FOUND, "no such host"));
    };
    if h.secret_hash.as_deref() != Some(sha256_hex(secret.as_bytes()).as_str()) {
        tracing::warn!(%host, "request with a wrong host credential");
        return Err((StatusCode::UNAUTHORIZED, "wrong host credential"));
    }
    Ok(host)
}

/// Serves a template's files (disk image, kernel, initrd) from the image store to agents.
/// Only a joined host may fetch: `Authorization: Host <host id>:<host secret>`.
async fn image(
    AxState(st): AxState<State>,
    axum::extract::Path((template, file)): axum::extract::Path<(Uuid, String)>,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    use axum::http::StatusCode;
    let deny = |code: StatusCode, why: &str| (code, why.to_string()).into_response();
    let host = match authenticate_host(&st, &headers).await {
        Ok(h) => h,
        Err((code, why)) => return deny(code, why),
    };
    let (t, zone) = match st.store.read().await {
        Ok(mut c) => (
            db::infra_get(&mut c, db::Infra::Template, template)
                .await
                .ok()
                .flatten(),
            db::host_get(&mut c, host)
                .await
                .ok()
                .flatten()
                .map(|h| h.zone_id),
        ),
        Err(_) => return deny(StatusCode::SERVICE_UNAVAILABLE, "database unavailable"),
    };
    let Some(t) = t else {
        return deny(StatusCode::NOT_FOUND, "no such template");
    };
    if t.attrs["isready"] != true {
        return deny(StatusCode::CONFLICT, "the template is not ready");
    }
    // A host fetches its own zone's copy when the template was copied there.
    let disk = match zone {
        Some(z) => crate::handlers::template_copy::path_in(&t, z),
        None => t.attrs["path"].as_str().map(std::path::PathBuf::from),
    };
    let Some(disk) = disk else {
        return deny(StatusCode::NOT_FOUND, "the template has no file");
    };
    let path = match file.as_str() {
        "disk" => disk,
        "kernel" | "initrd" => disk.with_extension(&file),
        _ => return deny(StatusCode::NOT_FOUND, "files are disk, kernel and initrd"),
    };
    send_file(&path).await
}

/// A file of the image store as a response (404 when it is not there).
pub(crate) async fn send_file(path: &std::path::Path) -> axum::response::Response {
    use axum::http::StatusCode;
    let Ok(f) = tokio::fs::File::open(path).await else {
        return (
            StatusCode::NOT_FOUND,
            "the file is not in the image store".to_string(),
        )
            .into_response();
    };
    let len = f.metadata().await.map(|m| m.len()).unwrap_or(0);
    let mut resp = (
        StatusCode::OK,
        axum::body::Body::from_stream(file_chunks(f)),
    )
        .into_response();
    if let Ok(v) = axum::http::HeaderValue::from_str(&len.to_string()) {
        resp.headers_mut()
            .insert(axum::http::header::CONTENT_LENGTH, v);
    }
    resp
}

/// A file as a stream of 256 KiB chunks.
fn file_chunks(
    mut f: tokio::fs::File,
) -> impl futures_util::Stream<Item = std::io::Result<axum::body::Bytes>> {
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
                std::task::Poll::Ready(Some(Ok(axum::body::Bytes::from(buf))))
            }
            std::task::Poll::Ready(Err(e)) => std::task::Poll::Ready(Some(Err(e))),
            std::task::Poll::Pending => std::task::Poll::Pending,
        }
    })
}

async fn upgrade(
    AxState(st): AxState<State>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ws: WebSocketUpgrade,
) -> impl IntoResponse {
    // Agent frames are small JSON documents; tungstenite's default 128 KiB read and write
    // buffers per connection would cost ~1.5 GiB at 10,000 hosts.
    ws.max_message_size(1 << 20)
        .read_buffer_size(4096)
        .write_buffer_size(0)
        .on_upgrade(move |socket| async move {
            // The connection's file, counted against the agents' share while it lives.
            let file = st.files.take_agent_file();
            let (out, inc) = socket.split();
            let out = out
                .with(|t: String| std::future::ready(Ok::<_, axum::Error>(Message::Text(t.into()))))
                .sink_map_err(|e| AppError::Internal(e.to_string()));
            let inc = inc.map(|m| match m {
                Ok(Message::Text(t)) => Frame::Text(t.to_string()),
                Ok(Message::Ping(_) | Message::Pong(_)) => Frame::Skip,
                _ => Frame::End,
            });
            let link = Link {
                peer: peer.to_string(),
                file,
            };
            if let Err(e) = session(st, Box::pin(inc), Box::pin(out), link).await {
                tracing::debug!(%peer, error = %e, "agent session ended");
            }
        })
}

/// A frame from an agent, whatever carries it.
enum Frame {
    Text(String),
    /// A control frame: nothing to do.
    Skip,
    /// Closed, failed, or not text.
    End,
}

/// Where an agent session comes from: a socket (counted against the agents' share of open
/// files — `Err` past it, with the reason) or this process.
struct Link {
    peer: String,
    file: Result<crate::openfiles::AgentFile, String>,
}

/// Opens an in-process agent's connection: a pair of queues, served here as an upgraded
/// websocket is (the same protocol messages; no socket, no TLS, no framing). `None` once the
/// server is stopping.
pub fn connect_local(st: &State) -> Option<agent::LocalPipe> {
    if *st.stopping.borrow() {
        return None;
    }
    // futures' queues (see `agent::LocalPipe`: ~0.2 KiB each when idle).
    let (to_server, from_agent) = mpsc::channel::<String>(64);
    let (to_agent, from_server) = mpsc::channel::<String>(64);
    let inc = from_agent.map(Frame::Text);
    let out = to_agent.sink_map_err(|_| AppError::Internal("the in-process agent is gone".into()));
    let st = st.clone();
    tokio::spawn(async move {
        let link = Link {
            peer: "in-process".into(),
            file: Ok(crate::openfiles::AgentFile::none()),
        };
        if let Err(e) = session(st, Box::pin(inc), Box::pin(out), link).await {
            tracing::debug!(error = %e, "in-process agent session ended");
        }
    });
    Some(agent::LocalPipe {
        to_server,
        from_server,
    })
}

type Inbound = std::pin::Pin<Box<dyn futures_util::Stream<Item = Frame> + Send>>;
type Outbound = std::pin::Pin<Box<dyn futures_util::Sink<String, Error = AppError> + Send>>;

async fn send(ws: &mut Outbound, m: &ServerMsg) -> AppResult<()> {
    let text = serde_json::to_string(m).map_err(|e| AppError::Internal(e.to_string()))?;
    ws.send(text).await
}

/// What a session keeps once its agent has joined (the handshake's large futures are gone).
struct Joined {
    host: HostId,
    conn_id: u64,
    rx: mpsc::Receiver<Box<ServerMsg>>,
    fenced: Vec<String>,
    /// The agent's share of open files, held while connected.
    _file: crate::openfiles::AgentFile,
}

/// One agent connection. Thousands live at once (one per host; 100,000 server-run simulated
/// hosts in one process), so the task that waits on it is kept small: the handshake and the
/// rare database writes run as boxed futures, not inline in the task's state.
async fn session(st: State, mut inc: Inbound, mut out: Outbound, link: Link) -> AppResult<()> {
    let Some(Joined {
        host,
        conn_id,
        mut rx,
        mut fenced,
        _file,
    }) = Box::pin(handshake(&st, &mut inc, &mut out, link)).await?
    else {
        return Ok(());
    };
    let mut stopping = st.stopping.clone();
    let end = loop {
        tokio::select! {
            // A stopping server closes its agent connections; the agents dial again.
            _ = stopping.changed() => break Ok(()),
            m = rx.next() => {
                let Some(m) = m else { break Ok(()) };
                if send(&mut out, &m).await.is_err() {
                    break Ok(());
                }
            }
            m = inc.next() => {
                let text = match m {
                    Some(Frame::Text(t)) => t,
                    Some(Frame::Skip) => continue,
                    _ => break Ok(()),
                };
                if let Err(e) = Box::pin(received(&st, host, &mut fenced, &text)).await {
                    break Err(e);
                }
            }
        }
    };
    drop(_file);
    Box::pin(ended(&st, host, conn_id)).await?;
    end.map(|_: ()| ())
}

/// Reads the agent's hello, admits and authenticates it, records it connected and welcomes
/// it. `None`: refused (and told why).
async fn handshake(
    st: &State,
    inc: &mut Inbound,
    out: &mut Outbound,
    link: Link,
) -> AppResult<Option<Joined>> {
    let peer = link.peer;
    let first = tokio::time::timeout(Duration::from_secs(10), inc.next()).await;
    let hello = match first {
        Ok(Some(Frame::Text(t))) => serde_json::from_str::<AgentMsg>(&t).ok(),
        _ => None,
    };
    let Some(AgentMsg::Hello {
        version,
        auth,
        inventory,
    }) = hello
    else {
        tracing::warn!(%peer, "agent refused: no hello within 10 s");
        return Ok(None);
    };
    if version != proto::VERSION {
        let m = ServerMsg::Refused {
            reason: format!(
                "protocol version {version} not supported (server speaks {})",
                proto::VERSION
            ),
            retry: false,
        };
        tracing::warn!(%peer, version, "agent refused: protocol version");
        return send(out, &m).await.map(|_| None);
    }
    // Past the agents' share of open files, or while other hosts join: come back later.
    let admitted = link.file.and_then(|f| {
        st.files.try_join().map(|turn| (f, turn)).ok_or_else(|| {
            format!(
                "the management server is admitting {} other hosts; come back later",
                crate::openfiles::JOINS_AT_ONCE
            )
        })
    });
    let (_file, turn) = match admitted {
        Ok(v) => v,
        Err(reason) => {
            tracing::info!(%peer, address = %inventory.address, %reason, "agent told to come back later");
            return send(
                out,
                &ServerMsg::Refused {
                    reason,
                    retry: true,
                },
            )
            .await
            .map(|_| None);
        }
    };
    let (host, secret) = match authenticate(st, &auth, &inventory).await {
        Ok(v) => v,
        Err(r) => {
            tracing::warn!(%peer, address = %inventory.address, reason = %r.reason, "agent refused");
            return send(
                out,
                &ServerMsg::Refused {
                    reason: r.reason,
                    retry: r.retry,
                },
            )
            .await
            .map(|_| None);
        }
    };
    let inv = serde_json::to_value(&inventory).map_err(|e| AppError::Internal(e.to_string()))?;
    {
        let mut tx = st.store.begin().await?;
        db::host_connected(
            &mut tx,
            host,
            &inv,
            st.server_id.0,
            secret
                .as_deref()
                .map(|s| sha256_hex(s.as_bytes()))
                .as_deref(),
        )
        .await?;
        tx.commit().await?;
    }
    drop(inv);
    let interval = st.settings.int("ping.interval").max(1) as u64;
    let fenced: Vec<String> = {
        let mut c = st.store.read().await?;
        db::fence_list(&mut c, host).await?
    };
    if !fenced.is_empty() {
        tracing::warn!(%host, vms = ?fenced, "the host comes back: it must stop the VMs fenced off it first");
    }
    send(
        out,
        &ServerMsg::Welcome {
            host_id: host.0,
            host_secret: secret,
            ping_interval_s: interval,
            fenced: fenced.clone(),
            vm_stats_interval_ms: st.settings.int("vm.stats.interval").max(0) as u64,
            servers: crate::cluster::agent_servers_of(st, host).await,
            lb_check_interval_s: crate::cluster::lb_check_interval_s(st),
        },
    )
    .await?;
    // Boxed: a queue's block holds 32 slots (~9 KiB of unboxed messages per host).
    let (tx, rx) = mpsc::channel::<Box<ServerMsg>>(64);
    let (conn_id, replaced) = st.hub.attach(host, tx, interval as i64 * 1000);
    if replaced {
        tracing::info!(%host, "agent reconnected; the previous connection is replaced");
    }
    tracing::info!(%host, %peer, hypervisor = %inventory.hypervisor, "agent connected");
    if let Err(e) = crate::handlers::storage::ensure_local_pool(st, host).await {
        tracing::warn!(%host, error = %e, "could not create the host's local storage pool");
    }
    // Joined: the next host's turn.
    drop(turn);
    // What it runs is compared with the database now and then periodically.
    crate::powersync::spawn_for_connection(st.clone(), host, conn_id);
    // A (re)connected agent is told its whole data plane again: it may have restarted.
    {
        let st = st.clone();
        tokio::spawn(async move { crate::netsync::request(&st, [host], true).await });
    }
    Ok(Some(Joined {
        host,
        conn_id,
        rx,
        fenced,
        _file,
    }))
}

/// One message from a joined agent.
async fn received(st: &State, host: HostId, fenced: &mut Vec<String>, text: &str) -> AppResult<()> {
    match serde_json::from_str::<AgentMsg>(text) {
        Ok(AgentMsg::Heartbeat { stats, .. }) => {
            let now = now_ms();
            if let Some(s) = stats {
                st.metrics.agents.set(host, s);
            }
            // The agent heartbeats only after stopping the fenced VMs.
            if !fenced.is_empty() {
                let mut tx = st.store.begin().await?;
                db::fence_clear(&mut tx, host, fenced).await?;
                tx.commit().await?;
                tracing::info!(%host, "fenced VMs stopped; the fence is lifted");
                fenced.clear();
            }
            st.hub.heartbeat(host, now);
        }
        Ok(AgentMsg::Reply {
            id,
            ok,
            body,
            error,
        }) => {
            // A command named a VM this host does not run: reconcile it now (Running there
            // in the database → Stopped, HA restarts it).
            if let Some(vm) = error.as_deref().and_then(proto::vm_not_here_name) {
                let (st, vm) = (st.clone(), vm.to_string());
                tokio::spawn(async move {
                    if let Err(e) = domain::ha::vm_gone(&st.core, host, &vm).await {
                        tracing::warn!(%host, %vm, error = %e, "could not reconcile a VM its host does not run");
                    }
                });
            }
            st.hub.deliver(id, ok, body, error);
        }
        Ok(AgentMsg::PasswordSaved { vm_id }) => {
            let st = st.clone();
            tokio::spawn(async move {
                if let Err(e) =
                    domain::guestdata::password_saved(&st.core, host, model::VmId(vm_id)).await
                {
                    tracing::warn!(%host, vm = %vm_id, error = %e, "could not record a password acknowledgement");
                }
            });
        }
        Ok(AgentMsg::VmStats { vms }) => {
            let st = st.clone();
            tokio::spawn(async move {
                if let Err(e) = domain::guestdata::stats_reported(&st.core, host, vms).await {
                    tracing::warn!(%host, error = %e, "could not record guest statistics");
                }
            });
        }
        Ok(AgentMsg::VmGone { name }) => {
            let st = st.clone();
            tokio::spawn(async move {
                if let Err(e) = domain::ha::vm_gone(&st.core, host, &name).await {
                    tracing::error!(%host, vm = %name, error = %e, "could not handle a VM that stopped on its own");
                }
            });
        }
        Ok(AgentMsg::Hello { .. }) | Err(_) => {
            tracing::warn!(%host, "agent sent an unexpected message; closing");
            return Err(AppError::Internal(
                "the agent sent an unexpected message".into(),
            ));
        }
    }
    Ok(())
}

/// The connection ended: only the connection that is still current marks the host
/// Disconnected (and has it investigated unless this server is stopping).
async fn ended(st: &State, host: HostId, conn_id: u64) -> AppResult<()> {
    let stopping = *st.stopping.borrow();
    if st.hub.detach(host, conn_id) {
        st.metrics.agents.remove(host);
        let mut tx = st.store.begin().await?;
        if let Some(h) = db::host_get(&mut tx, host).await? {
            if h.status == model::HostStatus::Up || h.status == model::HostStatus::Connecting {
                db::host_set_status(
                    &mut tx,
                    host,
                    model::HostStatus::Disconnected,
                    Some(now_ms()),
                )
                .await?;
            }
        }
        tx.commit().await?;
        tracing::info!(%host, "agent disconnected");
        if !stopping {
            investigate_after_drop(st.clone(), host);
        }
    }
    Ok(())
}

/// How long an agent whose connection dropped has to dial again before its host is
/// investigated (a live agent dials at once: its first backoff is at most 0.5 s).
pub const DROP_GRACE: Duration = Duration::from_secs(3);

/// A connection that dropped (not closed by this server stopping) is investigated after
/// [`DROP_GRACE`] — by its peers, as the monitor does once heartbeats are late — rather than
/// after the heartbeat timeout: a dead host is Down and its HA VMs restarting within seconds.
/// Skipped when the agent is back (here or, by the host's row, on another server) or an
/// operator took the host out (Maintenance, Disabled), as the monitor skips them.
fn investigate_after_drop(st: State, host: HostId) {
    tokio::spawn(async move {
        tokio::time::sleep(DROP_GRACE).await;
        if st.hub.is_connected(host) || *st.stopping.borrow() {
            return;
        }
        let row = match st.store.read().await {
            Ok(mut c) => db::host_get(&mut c, host).await.ok().flatten(),
            Err(_) => None,
        };
        let Some(h) = row else { return };
        use model::{HostStatus as H, ResourceState as R};
        let ours = h.server_id.is_none_or(|s| s == st.server_id.0);
        let judged = matches!(h.status, H::Disconnected | H::Connecting)
            && !matches!(h.resource_state, R::Maintenance | R::Disabled);
        if ours && judged {
            tracing::info!(%host, "the agent's connection dropped and it has not dialled again; investigating the host now");
            domain::ha::investigate_in_background(&st.core, h);
        }
    });
}

/// Checks the agent's credentials; binds a host to a join token on first contact. Returns
/// the host id and, on first contact, the new host secret.
async fn authenticate(
    st: &State,
    auth: &Auth,
    inv: &Inventory,
) -> Result<(HostId, Option<String>), Refusal> {
    let internal = |e: AppError| {
        tracing::error!(error = %e, "agent authentication failed internally");
        Refusal {
            reason: "internal error on the management server".into(),
            retry: true,
        }
    };
    match auth {
        Auth::Host { host_id, secret } => {
            let mut c = st.store.read().await.map_err(|e| internal(e.into()))?;
            let Some(h) = db::host_get(&mut c, HostId(*host_id))
                .await
                .map_err(|e| internal(e.into()))?
            else {
                return refuse(
                    format!("host {host_id} is not registered (removed?)"),
                    false,
                );
            };
            if h.secret_hash.as_deref() != Some(sha256_hex(secret.as_bytes()).as_str()) {
                return refuse(format!("wrong credential for host {host_id}"), false);
            }
            Ok((h.id, None))
        }
        Auth::Token { secret, address } => {
            let hash = sha256_hex(secret.as_bytes());
            let token = {
                let mut c = st.store.read().await.map_err(|e| internal(e.into()))?;
                db::token_get(&mut c, &hash)
                    .await
                    .map_err(|e| internal(e.into()))?
            };
            let Some(token) = token else {
                return refuse("unknown join token", false);
            };
            if token.expires < now_ms() {
                return refuse("join token expired", false);
            }
            if token.uses_left <= 0 {
                return refuse("join token already used", false);
            }
            if let Some(a) = &token.address {
                if a != address {
                    return refuse(
                        format!("join token is for host address {a}, the agent says {address}"),
                        false,
                    );
                }
            }
            let cluster = {
                let mut c = st.store.read().await.map_err(|e| internal(e.into()))?;
                db::infra_get(&mut c, db::Infra::Cluster, token.cluster_id)
                    .await
                    .map_err(|e| internal(e.into()))?
            };
            let Some(cluster) = cluster else {
                return refuse("the token's cluster no longer exists", false);
            };
            if !cluster.kind.eq_ignore_ascii_case(&inv.hypervisor) {
                return refuse(
                    format!(
                        "cluster {} is {}, the agent runs {}",
                        cluster.name, cluster.kind, inv.hypervisor
                    ),
                    false,
                );
            }
            let host_secret = new_secret();
            let mut tx = st.store.begin().await.map_err(|e| internal(e.into()))?;
            let existing = db::host_get_by_address(&mut tx, address)
                .await
                .map_err(|e| internal(e.into()))?;
            let id = match existing {
                Some(h) if h.cluster_id == cluster.id && h.secret_hash.is_none() => h.id,
                Some(_) => {
                    return refuse(
                        format!("address {address} is already registered to a joined host"),
                        false,
                    )
                }
                None if token.address.is_some() => {
                    return refuse(
                        format!(
                            "no host with address {address} was added to cluster {}",
                            cluster.name
                        ),
                        false,
                    )
                }
                None => {
                    let h = db::HostRow {
                        id: HostId::new(),
                        zone_id: cluster.zone_id,
                        pod_id: cluster.parent_id.unwrap_or(cluster.zone_id),
                        cluster_id: cluster.id,
                        name: if inv.hostname.is_empty() {
                            address.clone()
                        } else {
                            inv.hostname.clone()
                        },
                        address: address.clone(),
                        hypervisor: cluster.kind.clone(),
                        status: model::HostStatus::Connecting,
                        resource_state: model::ResourceState::Enabled,
                        host_tags: vec![],
                        inventory: serde_json::json!({}),
                        secret_hash: None,
                        server_id: None,
                        last_pinged: None,
                        disconnected: None,
                        simulated: inv.hypervisor == "Simulator",
                        created: 0,
                        vm_slots: None,
                    };
                    db::host_insert(&mut tx, &h)
                        .await
                        .map_err(|e| internal(e.into()))?;
                    h.id
                }
            };
            if !db::token_spend(&mut tx, token.id)
                .await
                .map_err(|e| internal(e.into()))?
            {
                return refuse("join token already used", false);
            }
            tx.commit().await.map_err(|e| internal(e.into()))?;
            Ok((id, Some(host_secret)))
        }
    }
}

/// Serves the agent endpoint over TLS until `stop` fires.
pub async fn serve(
    st: State,
    listener: tokio::net::TcpListener,
    tls: tokio_rustls::TlsAcceptor,
    stop: watch::Receiver<bool>,
) {
    let app = router(st.clone()).into_make_service_with_connect_info::<SocketAddr>();
    crate::conn::serve(
        listener,
        Some(tls),
        app,
        crate::conn::from_env(crate::conn::Limits {
            max_connections: st.files.agent_handshakes,
            ..crate::conn::Limits::AGENT
        }),
        stop,
    )
    .await;
}
