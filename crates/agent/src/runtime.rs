//! One host's connection to the server: dial (TLS, pinned), say hello, then heartbeats and
//! commands until the connection ends; reconnect with jittered exponential backoff, so a
//! restarted server is not stormed by every agent at once.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use proto::{AgentMsg, Auth, Command, Inventory, ServerMsg};
use rand::Rng;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

use crate::driver::Driver;

/// Who this host is to the server.
#[derive(Clone, Debug, PartialEq)]
pub enum Credential {
    Token { secret: String },
    Host { host_id: Uuid, secret: String },
}

/// Called with the host credential when the server issues one (first join).
pub type OnCredential = Arc<dyn Fn(Uuid, &str) + Send + Sync>;

pub struct HostAgent {
    /// The management servers' agent endpoints (`host:port`), the one in use first; the
    /// agent moves to the next when it loses its server.
    pub server: crate::ServerList,
    pub fingerprint: String,
    pub credential: Mutex<Credential>,
    pub inventory: Inventory,
    pub driver: Arc<dyn Driver>,
    pub on_credential: Option<OnCredential>,
    /// While this reads true the agent stays (or goes) offline: simulated hosts use it for
    /// power-off and network partitions.
    pub offline: Option<watch::Receiver<bool>>,
    /// A server in this process that the agent reaches without a socket (hosts the server
    /// simulates itself): used whenever that server is the one in use.
    pub local: Option<LocalLink>,
}

/// The socket under an agent's websocket.
pub trait AgentIo: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> AgentIo for T {}

type WsError = tokio_tungstenite::tungstenite::Error;

/// An agent's channel to its server: protocol frames both ways — a websocket over TLS, or a
/// pair of in-memory queues to a server in this process.
trait Channel:
    futures_util::Sink<Message, Error = WsError>
    + futures_util::Stream<Item = Result<Message, WsError>>
    + Send
    + Unpin
{
}
impl<T> Channel for T where
    T: futures_util::Sink<Message, Error = WsError>
        + futures_util::Stream<Item = Result<Message, WsError>>
        + Send
        + Unpin
{
}

/// The two queues between an agent and a server in its process: the agent's frames to the
/// server, the server's to the agent (each a protocol message's JSON text). `futures`'
/// queues, not tokio's: an idle one costs ~0.2 KiB where tokio's allocates its first block of
/// 32 slots and cache-padded ends (~1.2 KiB), on each of 100,000 simulated hosts.
pub struct LocalPipe {
    pub to_server: futures_channel::mpsc::Sender<String>,
    pub from_server: futures_channel::mpsc::Receiver<String>,
}

/// An in-process server: its agent endpoint (as the server list names it) and how to open a
/// connection to it — queues whose other ends the server serves as it serves an upgraded
/// websocket. No socket, no TLS, no framing, no buffers beyond the messages themselves (a
/// simulated host costs what its state and two sessions cost); the same protocol messages.
#[derive(Clone)]
pub struct LocalLink {
    pub endpoint: String,
    pub connect: Arc<dyn Fn() -> Option<LocalPipe> + Send + Sync>,
}

/// A [`LocalPipe`] as a [`Channel`].
struct Queues<S, R> {
    sink: std::pin::Pin<Box<S>>,
    stream: std::pin::Pin<Box<R>>,
}

impl<S: futures_util::Sink<Message, Error = WsError>, R> futures_util::Sink<Message>
    for Queues<S, R>
{
    type Error = WsError;
    fn poll_ready(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), WsError>> {
        self.sink.as_mut().poll_ready(cx)
    }
    fn start_send(mut self: std::pin::Pin<&mut Self>, m: Message) -> Result<(), WsError> {
        self.sink.as_mut().start_send(m)
    }
    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), WsError>> {
        self.sink.as_mut().poll_flush(cx)
    }
    fn poll_close(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), WsError>> {
        self.sink.as_mut().poll_close(cx)
    }
}

impl<S, R: futures_util::Stream<Item = Result<Message, WsError>>> futures_util::Stream
    for Queues<S, R>
{
    type Item = Result<Message, WsError>;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.stream.as_mut().poll_next(cx)
    }
}

fn queues(pipe: LocalPipe) -> Box<dyn Channel> {
    let sink = futures_util::sink::unfold(pipe.to_server, |mut tx, m: Message| async move {
        // Only text frames carry the protocol; a close frame has nothing to carry.
        if let Ok(t) = m.into_text() {
            if !t.is_empty() {
                tx.send(t.to_string())
                    .await
                    .map_err(|_| WsError::ConnectionClosed)?;
            }
        }
        Ok::<_, WsError>(tx)
    });
    let stream = pipe.from_server.map(|t| Ok(Message::text(t)));
    Box::new(Queues {
        sink: Box::pin(sink),
        stream: Box::pin(stream),
    })
}

/// The agent channel's websocket settings (shared with the server's in-memory end).
pub fn ws_config() -> tokio_tungstenite::tungstenite::protocol::WebSocketConfig {
    // Small buffers: thousands of simulated hosts share one process.
    tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
}

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("refused by the server: {0}")]
    Refused(String),
    #[error("{0}")]
    Transient(String),
}

/// A joined connection and what the welcome said.
struct Joined {
    ws: Box<dyn Channel>,
    interval: Duration,
    stats_every: Option<Duration>,
    lb_every: Option<Duration>,
}

enum End {
    /// Connection lost or closed: reconnect.
    Lost { welcomed: bool },
    /// The server asked to reconnect at once.
    Reconnect,
    /// The host was removed.
    Forget,
}

/// Counts a command while it runs (the preferred-server check waits for none).
struct Running(Arc<std::sync::atomic::AtomicUsize>);

impl Running {
    fn start(n: &Arc<std::sync::atomic::AtomicUsize>) -> Self {
        n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Self(n.clone())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

const BACKOFF_BASE: Duration = Duration::from_millis(500);
const BACKOFF_CAP: Duration = Duration::from_secs(30);

/// Full jitter: a random wait up to base·2^attempt, capped.
fn backoff(attempt: u32) -> Duration {
    let max = BACKOFF_BASE
        .saturating_mul(1u32 << attempt.min(10))
        .min(BACKOFF_CAP);
    Duration::from_millis(rand::thread_rng().gen_range(0..=max.as_millis() as u64))
}

impl HostAgent {
    /// Runs until stopped, forgotten, or refused for good.
    pub async fn run(&self, mut stop: watch::Receiver<bool>) -> Result<(), AgentError> {
        let mut attempt = 0u32;
        loop {
            if *stop.borrow() {
                return Ok(());
            }
            if let Some(mut off) = self.offline.clone() {
                while *off.borrow_and_update() {
                    tokio::select! {
                        r = off.changed() => if r.is_err() { return Ok(()) },
                        _ = stop.changed() => return Ok(()),
                    }
                }
            }
            let end = tokio::select! {
                e = self.session() => e,
                _ = stop.changed() => return Ok(()),
                _ = went_offline(self.offline.clone()) => Ok(End::Lost { welcomed: true }),
            };
            match end {
                Ok(End::Forget) => {
                    tracing::warn!(address = %self.inventory.address, "the server removed this host; stopping");
                    return Ok(());
                }
                Ok(End::Reconnect) => attempt = 0,
                Ok(End::Lost { welcomed }) => {
                    attempt = if welcomed { 0 } else { attempt + 1 };
                    // The server in use is gone: the next one at once (CloudStack's agent
                    // reconnects to the next host of its list).
                    let next = self.server.advance();
                    tracing::info!(address = %self.inventory.address, server = %next, "lost the management server; trying the next");
                }
                Err(AgentError::Refused(r)) => {
                    tracing::error!(address = %self.inventory.address, reason = %r, "the server refused this agent");
                    return Err(AgentError::Refused(r));
                }
                Err(AgentError::Transient(e)) => {
                    attempt += 1;
                    self.server.advance();
                    tracing::debug!(address = %self.inventory.address, error = %e, attempt, "connection attempt failed");
                }
            }
            let wait = backoff(attempt);
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.changed() => return Ok(()),
            }
        }
    }

    /// Dials a server over TCP and TLS (its certificate pinned) and opens the websocket.
    async fn dial(
        &self,
        server: &str,
    ) -> Result<tokio_tungstenite::WebSocketStream<Box<dyn AgentIo>>, AgentError> {
        let t = |e: String| AgentError::Transient(e);
        let tcp = tokio::time::timeout(
            Duration::from_secs(10),
            tokio::net::TcpStream::connect(server),
        )
        .await
        .map_err(|_| t(format!("connecting to {server} timed out")))?
        .map_err(|e| t(format!("connecting to {server}: {e}")))?;
        let _ = tcp.set_nodelay(true);
        let connector = crate::tls::connector(&self.fingerprint).map_err(|e| t(e.to_string()))?;
        let name =
            rustls::pki_types::ServerName::try_from("canopy").map_err(|e| t(e.to_string()))?;
        let tls = tokio::time::timeout(Duration::from_secs(10), connector.connect(name, tcp))
            .await
            .map_err(|_| t("TLS handshake timed out".into()))?
            .map_err(|e| t(format!("TLS: {e}")))?;
        let url = format!("wss://{server}{}", proto::AGENT_PATH);
        let io: Box<dyn AgentIo> = Box::new(tls);
        let (ws, _) = tokio_tungstenite::client_async_with_config(url, io, Some(ws_config()))
            .await
            .map_err(|e| t(format!("websocket: {e}")))?;
        Ok(ws)
    }

    fn auth(&self) -> Auth {
        match self.credential.lock().map(|c| c.clone()) {
            Ok(Credential::Host { host_id, secret }) => Auth::Host { host_id, secret },
            Ok(Credential::Token { secret }) => Auth::Token {
                secret,
                address: self.inventory.address.clone(),
            },
            Err(_) => Auth::Token {
                secret: String::new(),
                address: self.inventory.address.clone(),
            },
        }
    }

    /// Dials (or opens the in-process queues), says hello, and handles the welcome.
    async fn join(&self) -> Result<Joined, AgentError> {
        let t = |e: String| AgentError::Transient(e);
        let server = self.server.current();
        let local = self
            .local
            .as_ref()
            .filter(|l| l.endpoint == server)
            .map(|l| (l.connect)());
        let mut ws: Box<dyn Channel> = match local {
            Some(Some(pipe)) => queues(pipe),
            Some(None) => return Err(t(format!("the in-process server {server} is stopping"))),
            None => Box::new(self.dial(&server).await?),
        };
        let hello = AgentMsg::Hello {
            version: proto::VERSION,
            auth: self.auth(),
            inventory: self.inventory.clone(),
        };
        ws.send(Message::text(json(&hello)))
            .await
            .map_err(|e| t(e.to_string()))?;
        let first = tokio::time::timeout(Duration::from_secs(15), ws.next())
            .await
            .map_err(|_| t("no welcome within 15 s".into()))?;
        let mut stats_every = None;
        let mut lb_every = None;
        let interval = match first
            .and_then(|m| m.ok())
            .and_then(|m| m.into_text().ok())
            .and_then(|s| serde_json::from_str::<ServerMsg>(&s).ok())
        {
            Some(ServerMsg::Welcome {
                host_id,
                host_secret,
                ping_interval_s,
                fenced,
                vm_stats_interval_ms,
                servers,
                lb_check_interval_s,
            }) => {
                self.server.set(servers);
                if lb_check_interval_s > 0 {
                    lb_every = Some(Duration::from_secs(lb_check_interval_s));
                }
                if vm_stats_interval_ms > 0 {
                    stats_every = Some(Duration::from_millis(vm_stats_interval_ms.max(1000)));
                }
                // Fenced VMs first: they run elsewhere now.
                for name in fenced {
                    let stop = Command::StopVm {
                        name: name.clone(),
                        force: true,
                    };
                    match self.driver.handle(&stop).await {
                        Ok(_) => {
                            tracing::warn!(address = %self.inventory.address, vm = %name, "stopped a VM the server fenced off this host")
                        }
                        Err(e) => return Err(t(format!("could not stop fenced VM {name}: {e}"))),
                    }
                }
                if let Some(secret) = host_secret {
                    if let Ok(mut c) = self.credential.lock() {
                        *c = Credential::Host {
                            host_id,
                            secret: secret.clone(),
                        };
                    }
                    if let Some(cb) = &self.on_credential {
                        cb(host_id, &secret);
                    }
                }
                tracing::info!(address = %self.inventory.address, %host_id, "joined");
                Duration::from_secs(ping_interval_s.max(1))
            }
            Some(ServerMsg::Refused {
                reason,
                retry: false,
            }) => return Err(AgentError::Refused(reason)),
            Some(ServerMsg::Refused {
                reason,
                retry: true,
            }) => return Err(t(reason)),
            _ => return Err(t("unexpected first message".into())),
        };
        Ok(Joined {
            ws,
            interval,
            stats_every,
            lb_every,
        })
    }

    /// One connection, from dial to end. Thousands of simulated hosts run in one process, so
    /// the task that waits on the connection is kept small: joining (dial, TLS, welcome,
    /// fenced VMs) runs as a boxed future, gone once joined.
    async fn session(&self) -> Result<End, AgentError> {
        let Joined {
            mut ws,
            interval,
            stats_every,
            lb_every,
        } = Box::pin(self.join()).await?;
        let mut tick = tokio::time::interval(interval);
        tick.tick().await;
        let mut seq = 0u64;
        // Commands run concurrently (a VM's graceful stop may take many seconds; heartbeats
        // and other commands must not wait for it); their replies come back here (boxed: a
        // queue's block holds 32 slots, ~8 KiB of unboxed messages per host).
        let (reply_tx, mut replies) = tokio::sync::mpsc::channel::<Box<AgentMsg>>(256);
        let stats = Arc::new(crate::stats::Stats::default());
        // VMs that stopped on their own are reported at once (not at the next heartbeat).
        let reaping = self.driver.gone_every().is_some();
        let mut reap = tokio::time::interval(self.driver.gone_every().unwrap_or(interval));
        // Guest statistics, collected off this loop (one round at a time) and sent through
        // the replies' channel.
        let mut stats_tick = tokio::time::interval(stats_every.unwrap_or(interval));
        stats_tick.tick().await;
        let collecting = Arc::new(std::sync::atomic::AtomicBool::new(false));
        // The preferred-server check: commands running now (it waits for none).
        let mut lb_tick = tokio::time::interval(lb_every.unwrap_or(interval));
        lb_tick.tick().await;
        let running = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        loop {
            tokio::select! {
                _ = lb_tick.tick(), if lb_every.is_some() => {
                    // No command running and no answer waiting to be sent (either would be
                    // lost with the connection).
                    let idle = running.load(std::sync::atomic::Ordering::SeqCst) == 0 && replies.is_empty();
                    if self.server.off_preferred() && idle {
                        self.server.prefer_first();
                        tracing::info!(address = %self.inventory.address, server = %self.server.current(), "moving back to the preferred management server");
                        let _ = ws.close().await;
                        return Ok(End::Reconnect);
                    }
                }
                Some(reply) = replies.recv() => {
                    if ws.send(Message::text(json(&reply))).await.is_err() {
                        return Ok(End::Lost { welcomed: true });
                    }
                }
                _ = tick.tick() => {
                    seq += 1;
                    stats.set_vms(self.driver.vm_count());
                    let hb = AgentMsg::Heartbeat { seq, stats: stats.take_changed() };
                    if ws.send(Message::text(json(&hb))).await.is_err() {
                        return Ok(End::Lost { welcomed: true });
                    }
                }
                _ = stats_tick.tick(), if stats_every.is_some() => {
                    if !collecting.swap(true, std::sync::atomic::Ordering::SeqCst) {
                        let (driver, tx, busy) = (self.driver.clone(), reply_tx.clone(), collecting.clone());
                        tokio::spawn(async move {
                            let vms = driver.guest_stats().await;
                            if !vms.is_empty() {
                                let _ = tx.send(Box::new(AgentMsg::VmStats { vms })).await;
                            }
                            busy.store(false, std::sync::atomic::Ordering::SeqCst);
                        });
                    }
                }
                _ = reap.tick(), if reaping => {
                    for name in self.driver.gone() {
                        tracing::warn!(vm = %name, "the VM stopped on its own; reporting it");
                        if ws.send(Message::text(json(&AgentMsg::VmGone { name: name.clone() }))).await.is_err() {
                            return Ok(End::Lost { welcomed: true });
                        }
                        self.driver.reported(&name);
                    }
                    for vm_id in self.driver.passwords_saved() {
                        if ws.send(Message::text(json(&AgentMsg::PasswordSaved { vm_id }))).await.is_err() {
                            return Ok(End::Lost { welcomed: true });
                        }
                    }
                }
                m = ws.next() => {
                    let Some(Ok(m)) = m else { return Ok(End::Lost { welcomed: true }) };
                    let Ok(text) = m.into_text() else { continue };
                    let Ok(ServerMsg::Command { id, command, .. }) = serde_json::from_str::<ServerMsg>(&text) else { continue };
                    match command {
                        Command::Forget => return Ok(End::Forget),
                        Command::SetServers { servers } => {
                            self.server.set(servers);
                            let ok = AgentMsg::Reply { id, ok: true, body: serde_json::Value::Null, error: None };
                            if ws.send(Message::text(json(&ok))).await.is_err() {
                                return Ok(End::Lost { welcomed: true });
                            }
                        }
                        Command::Reconnect => {
                            let _ = ws.send(Message::text(json(&AgentMsg::Reply { id, ok: true, body: serde_json::Value::Null, error: None }))).await;
                            let _ = ws.close().await;
                            return Ok(End::Reconnect);
                        }
                        Command::OpenConsole { name, session, server } => {
                            let vnc = self.driver.vnc_socket(&name);
                            let mut dialer = self.dialer();
                            if let Some(s) = server.filter(|s| !s.is_empty()) {
                                dialer.server = s;
                            }
                            let tx = reply_tx.clone();
                            let running = Running::start(&running);
                            tokio::spawn(async move {
                                let _running = running;
                                let r = match vnc {
                                    Some(path) => dialer.open_console(&path, session).await,
                                    None => Err(crate::HostError::Refused(format!("VM {name} has no console on this host"))),
                                };
                                let reply = match r {
                                    Ok(()) => AgentMsg::Reply { id, ok: true, body: serde_json::json!({}), error: None },
                                    Err(e) => AgentMsg::Reply { id, ok: false, body: serde_json::Value::Null, error: Some(e.to_string()) },
                                };
                                let _ = tx.send(Box::new(reply)).await;
                            });
                        }
                        other => {
                            let driver = self.driver.clone();
                            let tx = reply_tx.clone();
                            let stats = stats.clone();
                            let running = Running::start(&running);
                            tokio::spawn(async move {
                                let _running = running;
                                let started = std::time::Instant::now();
                                let r = driver.handle(&other).await;
                                let took = started.elapsed().as_secs_f64();
                                stats.record(other.op(), took, r.as_ref().err().map(crate::HostError::kind));
                                let reply = match r {
                                    Ok(body) => AgentMsg::Reply { id, ok: true, body, error: None },
                                    Err(e) => {
                                        tracing::warn!(op = other.op(), kind = e.kind(), error = %e, "command failed");
                                        AgentMsg::Reply { id, ok: false, body: serde_json::Value::Null, error: Some(e.to_string()) }
                                    }
                                };
                                // The session may have ended meanwhile: the server re-asks.
                                let _ = tx.send(Box::new(reply)).await;
                            });
                        }
                    }
                }
            }
        }
    }
}

/// Resolves when the offline gate turns true (never, without a gate).
async fn went_offline(gate: Option<watch::Receiver<bool>>) {
    let Some(mut g) = gate else {
        return std::future::pending().await;
    };
    loop {
        if *g.borrow_and_update() {
            return;
        }
        if g.changed().await.is_err() {
            return std::future::pending().await;
        }
    }
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_is_bounded_and_jittered() {
        for a in 0..20 {
            assert!(super::backoff(a) <= super::BACKOFF_CAP);
        }
        let samples: std::collections::HashSet<_> =
            (0..20).map(|_| super::backoff(6).as_millis()).collect();
        assert!(samples.len() > 1, "jittered");
    }
}
