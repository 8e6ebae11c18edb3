//! The agent hub's core: the live connections of host agents, commands with replies and
//! their timeouts, heartbeats waiting to be written. The server's agent endpoint (TLS,
//! WebSocket, authentication) attaches each authenticated session here with
//! [`AgentHub::attach`] and hands it what arrives; everything else talks to hosts through
//! [`AgentHub::command`].

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use futures_util::future::BoxFuture;

use futures_channel::mpsc;
use futures_util::SinkExt;
use model::HostId;
use proto::{Command, ServerMsg};
use tokio::sync::oneshot;

use crate::error::{now_ms, DomainError, DomainResult, ErrorKind};

struct Conn {
    conn_id: u64,
    /// `futures`' queue: idle it costs ~0.2 KiB, tokio's ~1 KiB (one per connected host).
    tx: mpsc::Sender<Box<ServerMsg>>,
    last_heartbeat: i64,
    /// When this connection's heartbeat was last handed to the database writer (0: never).
    persisted: i64,
    /// The heartbeat interval this agent was told at welcome.
    interval_ms: i64,
}

/// An agent's answer to a command: ok, body, error text.
type ReplyTo = oneshot::Sender<(bool, serde_json::Value, Option<String>)>;

/// How long a command waits for its host's agent to (re)connect, by default (one server: its
/// agents reconnect within seconds of a restart). Several servers wait longer
/// ([`AgentHub::set_reconnect_wait`]): a dead server's agents move within seconds, but its
/// server-run simulated hosts only once it is judged dead.
pub const RECONNECT_WAIT: Duration = Duration::from_secs(15);

/// Reaches hosts whose agents are connected to another management server (the server
/// implements it: an authenticated call to the server the host's agent uses).
pub trait PeerHosts: Send + Sync {
    /// Runs `command` on `host` through the server its agent is connected to and answers
    /// that host's answer; `None` when no other Up server has the host's agent.
    fn command(
        &self,
        host: HostId,
        command: Command,
        timeout: Duration,
    ) -> BoxFuture<'_, Option<DomainResult<serde_json::Value>>>;
    /// Whether the host's agent is connected to another Up server (as far as the database
    /// says).
    fn has(&self, host: HostId) -> BoxFuture<'_, bool>;
}

#[derive(Default)]
pub struct AgentHub {
    /// Set once at start when several servers may share the database.
    peers: OnceLock<Arc<dyn PeerHosts>>,
    conns: Mutex<HashMap<HostId, Conn>>,
    /// Heartbeats not yet written to the database.
    pending_pings: Mutex<HashMap<HostId, i64>>,
    /// A connected host's heartbeat is written at most this often (milliseconds; 0: every
    /// one). Its liveness is judged here, in memory; the row's `last_pinged` only serves the
    /// hosts no live server holds (see `server::hostmonitor`).
    persist_every_ms: std::sync::atomic::AtomicI64,
    replies: Mutex<HashMap<u64, ReplyTo>>,
    next_id: AtomicU64,
    /// Hosts being investigated right now (one investigation per host at a time).
    pub investigating: Mutex<HashSet<HostId>>,
    /// [`RECONNECT_WAIT`] unless set, in milliseconds.
    reconnect_wait_ms: AtomicU64,
}

impl AgentHub {
    pub fn is_connected(&self, host: HostId) -> bool {
        self.conns
            .lock()
            .map(|c| c.contains_key(&host))
            .unwrap_or(false)
    }

    /// The id of the host's current connection, if it is connected.
    pub fn connection_id(&self, host: HostId) -> Option<u64> {
        self.conns
            .lock()
            .ok()
            .and_then(|c| c.get(&host).map(|c| c.conn_id))
    }

    /// The longest time since a connected agent's last heartbeat, in milliseconds.
    pub fn max_heartbeat_lag_ms(&self) -> i64 {
        let now = now_ms();
        self.conns
            .lock()
            .map(|c| {
                c.values()
                    .map(|x| (now - x.last_heartbeat).max(0))
                    .max()
                    .unwrap_or(0)
            })
            .unwrap_or(0)
    }

    /// The hosts whose agents are connected here now.
    pub fn connected_hosts(&self) -> Vec<HostId> {
        self.conns
            .lock()
            .map(|c| c.keys().copied().collect())
            .unwrap_or_default()
    }

    pub fn connected_count(&self) -> usize {
        self.conns.lock().map(|c| c.len()).unwrap_or(0)
    }

    /// Lets commands reach hosts connected to other servers.
    pub fn set_peers(&self, peers: Arc<dyn PeerHosts>) {
        let _ = self.peers.set(peers);
    }

    /// How long commands wait for a host's agent to (re)connect (see [`RECONNECT_WAIT`]).
    pub fn set_reconnect_wait(&self, wait: Duration) {
        self.reconnect_wait_ms.store(
            wait.as_millis().min(u64::MAX as u128) as u64,
            Ordering::Relaxed,
        );
    }

    pub fn reconnect_wait(&self) -> Duration {
        match self.reconnect_wait_ms.load(Ordering::Relaxed) {
            0 => RECONNECT_WAIT,
            ms => Duration::from_millis(ms),
        }
    }

    /// Whether a command can reach the host now: its agent is connected here, or to another
    /// Up server.
    pub async fn reachable(&self, host: HostId) -> bool {
        if self.is_connected(host) {
            return true;
        }
        match self.peers.get() {
            Some(p) => p.has(host).await,
            None => false,
        }
    }

    /// The first of `hosts` a command can reach, waiting (up to the reconnect wait) for one
    /// whose agent is moving between servers or reconnecting.
    pub async fn first_reachable(&self, hosts: &[HostId]) -> Option<HostId> {
        let end = tokio::time::Instant::now() + self.reconnect_wait();
        loop {
            for h in hosts {
                if self.reachable(*h).await {
                    return Some(*h);
                }
            }
            if hosts.is_empty() || tokio::time::Instant::now() >= end {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Sends a command and waits for its reply: to the host's agent when it is connected
    /// here, else through the server it is connected to (CloudStack forwards to the host's
    /// management server the same way).
    pub async fn command(
        &self,
        host: HostId,
        command: Command,
        timeout: Duration,
    ) -> DomainResult<serde_json::Value> {
        if !self.is_connected(host) {
            if let Some(p) = self.peers.get() {
                if let Some(r) = p.command(host, command.clone(), timeout).await {
                    return r;
                }
            }
        }
        self.command_local(host, command, timeout).await
    }

    /// Sends a command to an agent connected here (never forwarded) and waits for its reply.
    pub async fn command_local(
        &self,
        host: HostId,
        command: Command,
        timeout: Duration,
    ) -> DomainResult<serde_json::Value> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let (tx, rx) = oneshot::channel();
        let sender = self
            .conns
            .lock()
            .ok()
            .and_then(|c| c.get(&host).map(|c| c.tx.clone()));
        let Some(mut sender) = sender else {
            return Err(DomainError::refused(
                ErrorKind::Unavailable,
                format!("Host {host} is not connected, try again later"),
            ));
        };
        if let Ok(mut r) = self.replies.lock() {
            r.insert(id, tx);
        }
        let out = match sender
            .send(Box::new(ServerMsg::Command {
                id,
                generation: 0,
                command,
            }))
            .await
        {
            Ok(()) => Some(tokio::time::timeout(timeout, rx).await),
            Err(_) => None,
        };
        if let Ok(mut r) = self.replies.lock() {
            r.remove(&id);
        }
        let Some(out) = out else {
            return Err(DomainError::refused(
                ErrorKind::Unavailable,
                format!("Host {host} is not connected, try again later"),
            ));
        };
        match out {
            Ok(Ok((true, body, _))) => Ok(body),
            Ok(Ok((false, _, err))) => {
                let err = err.unwrap_or_default();
                match proto::vm_not_here_name(&err) {
                    // The session that carried the reply reconciles the VM (see `session`).
                    Some(vm) => Err(DomainError::refused(
                        ErrorKind::Unavailable,
                        format!("VM {vm} is not running on its host: it stopped outside the cloud's control and is marked Stopped now (HA-enabled VMs are restarted); start it again"),
                    )),
                    None => Err(DomainError::Internal(format!("host {host}: {err}"))),
                }
            }
            Ok(Err(_)) => Err(DomainError::refused(
                ErrorKind::Unavailable,
                format!("Host {host} disconnected before answering"),
            )),
            Err(_) => Err(DomainError::refused(
                ErrorKind::Unavailable,
                format!("Host {host} did not answer in {timeout:?}"),
            )),
        }
    }

    /// Like [`AgentHub::command`], but first waits (up to the reconnect wait) for a host that
    /// is not connected right now: after a server restart its agent reconnects within seconds,
    /// and a resumed saga should not fail for that.
    pub async fn command_ready(
        &self,
        host: HostId,
        command: Command,
        timeout: Duration,
    ) -> DomainResult<serde_json::Value> {
        let end = tokio::time::Instant::now() + self.reconnect_wait();
        while !self.is_connected(host) {
            if let Some(p) = self.peers.get() {
                if let Some(r) = p.command(host, command.clone(), timeout).await {
                    return r;
                }
            }
            if tokio::time::Instant::now() >= end {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        self.command_local(host, command, timeout).await
    }

    /// Sends a message without waiting (Forget, Reconnect).
    pub async fn notify(&self, host: HostId, command: Command) -> bool {
        let sender = self
            .conns
            .lock()
            .ok()
            .and_then(|c| c.get(&host).map(|c| c.tx.clone()));
        match sender {
            Some(mut s) => s
                .send(Box::new(ServerMsg::Command {
                    id: 0,
                    generation: 0,
                    command,
                }))
                .await
                .is_ok(),
            None => false,
        }
    }

    /// Attaches an authenticated agent's session: commands for `host` go to `tx` from now on.
    /// Returns the connection's id and whether it replaced an earlier connection.
    pub fn attach(
        &self,
        host: HostId,
        tx: mpsc::Sender<Box<ServerMsg>>,
        interval_ms: i64,
    ) -> (u64, bool) {
        let conn_id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let old = self.conns.lock().ok().and_then(|mut c| {
            c.insert(
                host,
                Conn {
                    conn_id,
                    tx,
                    last_heartbeat: now_ms(),
                    persisted: 0,
                    interval_ms,
                },
            )
        });
        (conn_id, old.is_some())
    }

    /// Detaches connection `conn_id` of `host` if it is still the current one; whether it was.
    pub fn detach(&self, host: HostId, conn_id: u64) -> bool {
        self.conns
            .lock()
            .map(|mut c| {
                if c.get(&host).map(|x| x.conn_id) == Some(conn_id) {
                    c.remove(&host);
                    true
                } else {
                    false
                }
            })
            .unwrap_or(false)
    }

    /// The agent of `host` sent a heartbeat at `now` (written to the database in batches, at
    /// most once per [`AgentHub::set_persist_every`] for a connection).
    pub fn heartbeat(&self, host: HostId, now: i64) {
        let every = self.persist_every_ms.load(Ordering::Relaxed);
        let due = match self.conns.lock() {
            Ok(mut c) => match c.get_mut(&host) {
                Some(conn) => {
                    conn.last_heartbeat = now;
                    let due = conn.persisted == 0 || now - conn.persisted >= every;
                    if due {
                        conn.persisted = now;
                    }
                    due
                }
                None => true,
            },
            Err(_) => true,
        };
        if due {
            if let Ok(mut p) = self.pending_pings.lock() {
                p.insert(host, now);
            }
        }
    }

    /// How often a connected host's heartbeat is written to the database (milliseconds).
    pub fn set_persist_every(&self, ms: i64) {
        self.persist_every_ms.store(ms.max(0), Ordering::Relaxed);
    }

    /// The last heartbeat of `host`'s agent if it is connected here (epoch milliseconds).
    pub fn last_heartbeat(&self, host: HostId) -> Option<i64> {
        self.conns
            .lock()
            .ok()
            .and_then(|c| c.get(&host).map(|x| x.last_heartbeat))
    }

    /// A reply to command `id` arrived: the waiting caller gets it.
    pub fn deliver(&self, id: u64, ok: bool, body: serde_json::Value, error: Option<String>) {
        if let Some(waiter) = self.replies.lock().ok().and_then(|mut r| r.remove(&id)) {
            let _ = waiter.send((ok, body, error));
        }
    }

    /// The hosts that sent heartbeats since the last call.
    pub fn take_heartbeats(&self) -> Vec<HostId> {
        self.pending_pings
            .lock()
            .map(|mut p| p.drain().map(|(k, _)| k).collect())
            .unwrap_or_default()
    }

    /// Drops the connections whose agents have been silent for more than `factor` times the
    /// interval each was given (dropping the sender ends the session). Returns their hosts.
    pub fn drop_silent(&self, now: i64, factor: f64) -> Vec<HostId> {
        self.conns
            .lock()
            .map(|mut c| {
                let ids: Vec<HostId> = c
                    .iter()
                    .filter(|(_, x)| {
                        now - x.last_heartbeat > (x.interval_ms as f64 * factor) as i64
                    })
                    .map(|(k, _)| *k)
                    .collect();
                ids.into_iter().filter(|k| c.remove(k).is_some()).collect()
            })
            .unwrap_or_default()
    }
}
