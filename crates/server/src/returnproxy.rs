//! Return proxy (after CycleCloud's): a cluster whose hosts cannot reach the management
//! server names one machine of it — the proxy — that the server reaches over SSH. Each server
//! keeps its own tunnel to the proxy: an SSH remote forward of the proxy's port
//! `37140 + i` (i = the server's place among the live servers, by name; the first server's
//! is 37140, as CycleCloud's) to the server's agent endpoint. The cluster's agents — the
//! proxy's own included — are given those ports of the proxy instead of the servers'
//! endpoints (join tokens, `Welcome`, `SetServers`), so agent traffic, console dial-backs
//! included, goes through the tunnels; the proxy carries nothing else (no Internet access).
//!
//! The SSH side is the OpenSSH client (`ssh -N -R …`), supervised here: a maintained,
//! audited implementation every Debian host has, with keep-alives
//! (`ServerAliveInterval`), `ExitOnForwardFailure` (a forward the proxy refuses ends the
//! process, so a running process means a working forward) and strict host-key checking
//! against the key recorded when the proxy was designated (`ssh-keyscan`, like a
//! `known_hosts` entry). The proxy's sshd must allow remote forwards on its addresses
//! (`GatewayPorts clientspecified`, `AllowTcpForwarding remote`). The servers share one SSH
//! key pair (`cluster_secrets`, encrypted with the server key); its public half is shown in
//! listClusters for the proxy's `authorized_keys`.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use db::{Infra, InfraRow};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::error::{AppError, AppResult};
use crate::events::Event;
use crate::state::State;

/// The proxy port of the first server's tunnel (CycleCloud's); the i-th server's is this + i.
pub const FIRST_PORT: u16 = 37140;
/// The SSH user on the proxy when none is given.
pub const DEFAULT_USER: &str = "canopy";
const KEY_SECRET: &str = "returnproxy.sshkey";

/// A cluster's return proxy, as designated (`attrs.returnproxy` of the cluster).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Designation {
    /// The proxy's private address (the server's SSH goes there; hosts dial it by default).
    pub address: Ipv4Addr,
    /// Its public address, where hosts dial it with `use_public`.
    pub public: Option<Ipv4Addr>,
    /// `ReturnProxyAddress = public`.
    pub use_public: bool,
    pub user: String,
    pub ssh_port: u16,
    /// The proxy's SSH host key (`type base64`), recorded at designation.
    pub host_key: String,
    /// The host that is the proxy, once its agent joined.
    pub host_id: Option<Uuid>,
}

impl Designation {
    /// The cluster's designation, if it has one.
    pub fn of(cluster: &InfraRow) -> Option<Designation> {
        let r = &cluster.attrs["returnproxy"];
        Some(Designation {
            address: r["address"].as_str()?.parse().ok()?,
            public: r["publicaddress"].as_str().and_then(|a| a.parse().ok()),
            use_public: r["use"].as_str() == Some("public"),
            user: r["user"].as_str().unwrap_or(DEFAULT_USER).to_string(),
            ssh_port: r["sshport"]
                .as_u64()
                .and_then(|p| u16::try_from(p).ok())
                .unwrap_or(22),
            host_key: r["hostkey"].as_str()?.to_string(),
            host_id: r["hostid"].as_str().and_then(|h| h.parse().ok()),
        })
    }

    pub fn to_json(&self) -> Value {
        json!({
            "address": self.address.to_string(),
            "publicaddress": self.public.map(|p| p.to_string()),
            "use": if self.use_public { "public" } else { "private" },
            "user": self.user,
            "sshport": self.ssh_port,
            "hostkey": self.host_key,
            "hostid": self.host_id,
        })
    }

    /// The address the cluster's hosts dial.
    pub fn reach(&self) -> Ipv4Addr {
        match (self.use_public, self.public) {
            (true, Some(p)) => p,
            _ => self.address,
        }
    }

    /// The proxy ports of the servers' tunnels (`servers` of them), as agent endpoints.
    pub fn endpoints(&self, st: &State, servers: usize) -> Vec<String> {
        (0..servers.max(1))
            .map(|i| format!("{}:{}", self.reach(), port_of(st, i)))
            .collect()
    }
}

/// The proxy port of the i-th server's tunnel: `returnproxy.port` (37140) + i.
pub fn port_of(st: &State, i: usize) -> u16 {
    let first = u16::try_from(st.settings.int("returnproxy.port"))
        .ok()
        .filter(|p| *p > 0)
        .unwrap_or(FIRST_PORT);
    first.saturating_add(u16::try_from(i).unwrap_or(u16::MAX))
}

/// This server's place among the live servers (their agent endpoints sorted), and how many.
pub fn place(st: &State) -> (usize, usize) {
    let mut peers = st.cluster.peers();
    if !peers.contains(&st.agent_endpoint) {
        peers.push(st.agent_endpoint.clone());
    }
    peers.sort();
    let i = peers
        .iter()
        .position(|p| *p == st.agent_endpoint)
        .unwrap_or(0);
    (i, peers.len())
}

/// The designation of a host's cluster, if it has one.
pub async fn of_host(st: &State, host: model::HostId) -> AppResult<Option<Designation>> {
    let mut c = st.store.read().await?;
    let Some(h) = db::host_get(&mut c, host).await? else {
        return Ok(None);
    };
    Ok(db::infra_get(&mut c, Infra::Cluster, h.cluster_id)
        .await?
        .as_ref()
        .and_then(Designation::of))
}

/// The designation of a cluster, if it has one.
pub async fn of_cluster(st: &State, cluster: Uuid) -> AppResult<Option<Designation>> {
    let mut c = st.store.read().await?;
    Ok(db::infra_get(&mut c, Infra::Cluster, cluster)
        .await?
        .as_ref()
        .and_then(Designation::of))
}

/// The proxy's SSH host key (`type base64`), read with `ssh-keyscan` (ed25519 preferred).
pub async fn scan_host_key(address: Ipv4Addr, port: u16) -> Result<String, String> {
    let out = tokio::time::timeout(
        Duration::from_secs(15),
        tokio::process::Command::new("ssh-keyscan")
            .args([
                "-T",
                "5",
                "-p",
                &port.to_string(),
                "-t",
                "ed25519,ecdsa,rsa",
            ])
            .arg(address.to_string())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .map_err(|_| format!("ssh-keyscan {address}:{port} timed out"))?
    .map_err(|e| format!("running ssh-keyscan: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut keys: Vec<String> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let mut p = l.split_whitespace();
            let _host = p.next()?;
            Some(format!("{} {}", p.next()?, p.next()?))
        })
        .collect();
    keys.sort_by_key(|k| !k.starts_with("ssh-ed25519"));
    keys.into_iter()
        .next()
        .ok_or_else(|| format!("no SSH server answered on {address}:{port}"))
}

/// The servers' shared SSH key pair: made once (ssh-keygen, ed25519), kept encrypted in
/// `cluster_secrets`, written to this server's data directory for the ssh client. Answers the
/// private key's path and the public key line.
pub async fn key_pair(st: &State) -> AppResult<(PathBuf, String)> {
    let dir = st.data_dir.join("returnproxy");
    std::fs::create_dir_all(&dir)
        .map_err(|e| AppError::Internal(format!("creating {}: {e}", dir.display())))?;
    let stored = {
        let mut c = st.store.read().await?;
        db::cluster_secret_get(&mut c, KEY_SECRET).await?
    };
    let sealed = match stored {
        Some(s) => s,
        None => {
            let tmp = dir.join(format!("new-{}", Uuid::new_v4().simple()));
            let out = tokio::process::Command::new("ssh-keygen")
                .args([
                    "-q",
                    "-t",
                    "ed25519",
                    "-N",
                    "",
                    "-C",
                    "canopy-return-proxy",
                    "-f",
                ])
                .arg(&tmp)
                .output()
                .await
                .map_err(|e| AppError::Internal(format!("running ssh-keygen: {e}")))?;
            if !out.status.success() {
                return Err(AppError::Internal(format!(
                    "ssh-keygen failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                )));
            }
            let private = std::fs::read_to_string(&tmp)
                .map_err(|e| AppError::Internal(format!("reading the new key: {e}")))?;
            let _ = std::fs::remove_file(&tmp);
            let _ = std::fs::remove_file(tmp.with_extension("pub"));
            let sealed = st.key.encrypt(&private)?;
            let mut tx = st.store.begin().await?;
            let s = db::cluster_secret_put_once(&mut tx, KEY_SECRET, &sealed).await?;
            tx.commit().await?;
            s
        }
    };
    let private = st.key.decrypt(&sealed)?;
    let path = dir.join("id_ed25519");
    write_private(&path, &private)?;
    let out = tokio::process::Command::new("ssh-keygen")
        .arg("-y")
        .arg("-f")
        .arg(&path)
        .output()
        .await
        .map_err(|e| AppError::Internal(format!("running ssh-keygen -y: {e}")))?;
    let public = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if public.is_empty() {
        return Err(AppError::Internal(
            "the return proxy key has no public half".into(),
        ));
    }
    Ok((path, format!("{public} canopy-return-proxy")))
}

fn write_private(path: &std::path::Path, text: &str) -> AppResult<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| AppError::Internal(format!("writing {}: {e}", path.display())))?;
    f.write_all(text.as_bytes())
        .map_err(|e| AppError::Internal(format!("writing {}: {e}", path.display())))
}

/// One tunnel's state, as listClusters shows it.
#[derive(Clone, Debug, Default)]
pub struct TunnelView {
    /// Connecting, Up or Down.
    pub state: String,
    pub since_ms: i64,
    pub last_error: Option<String>,
    pub restarts: u64,
    pub port: u16,
}

struct Tunnel {
    /// What the process was started for (a change restarts it).
    config: String,
    child: Option<tokio::process::Child>,
    started_ms: i64,
    next_try_ms: i64,
    backoff_ms: i64,
    view: TunnelView,
}

/// This server's tunnels, by cluster.
#[derive(Default)]
pub struct Tunnels {
    inner: Mutex<HashMap<Uuid, Tunnel>>,
}

impl Tunnels {
    /// This server's tunnel to a cluster's proxy, if it keeps one.
    pub fn view(&self, cluster: Uuid) -> Option<TunnelView> {
        self.inner
            .lock()
            .ok()?
            .get(&cluster)
            .map(|t| t.view.clone())
    }

    /// Stops every tunnel (the server stops).
    pub fn stop_all(&self) {
        if let Ok(mut m) = self.inner.lock() {
            for (_, t) in m.iter_mut() {
                if let Some(c) = t.child.as_mut() {
                    let _ = c.start_kill();
                }
            }
            m.clear();
        }
    }

    /// The pid of a tunnel's ssh process (tests kill it).
    pub fn pid(&self, cluster: Uuid) -> Option<u32> {
        self.inner
            .lock()
            .ok()?
            .get(&cluster)
            .and_then(|t| t.child.as_ref())
            .and_then(|c| c.id())
    }
}

/// Once a process has run this long with `ExitOnForwardFailure`, its forward works.
const SETTLE_MS: i64 = 1_500;
const MAX_BACKOFF_MS: i64 = 30_000;

/// One round of the supervisor (the `return-proxy` background task, every second): starts
/// the tunnels designations ask for, notices the ones that ended (Down, an event) and starts
/// them again after a backoff (1 s doubling to 30 s), marks settled ones Up (an event after a
/// loss), and stops tunnels no designation asks for any more.
pub async fn supervise(st: &State) -> AppResult<()> {
    let clusters: Vec<(InfraRow, Designation)> = {
        let mut c = st.store.read().await?;
        db::infra_list(&mut c, Infra::Cluster, &db::InfraFilter::default())
            .await?
            .0
            .into_iter()
            .filter_map(|r| Designation::of(&r).map(|d| (r, d)))
            .collect()
    };
    if clusters.is_empty() {
        st.tunnels.stop_all();
        return Ok(());
    }
    let (key, _) = key_pair(st).await?;
    let (i, _) = place(st);
    let port = port_of(st, i);
    let now = api::time::now_ms();
    let mut changes: Vec<(Uuid, String, &'static str, String)> = Vec::new();
    {
        let Ok(mut m) = st.tunnels.inner.lock() else {
            return Ok(());
        };
        let wanted: Vec<Uuid> = clusters.iter().map(|(c, _)| c.id).collect();
        m.retain(|id, t| {
            let keep = wanted.contains(id);
            if !keep {
                if let Some(c) = t.child.as_mut() {
                    let _ = c.start_kill();
                }
            }
            keep
        });
        for (cluster, d) in &clusters {
            let known = st
                .data_dir
                .join("returnproxy")
                .join(format!("{}.known_hosts", cluster.id));
            let config = format!(
                "{}@{}:{} {} -> {} via {port}",
                d.user, d.address, d.ssh_port, d.host_key, st.agent_endpoint
            );
            let t = m.entry(cluster.id).or_insert_with(|| Tunnel {
                config: String::new(),
                child: None,
                started_ms: 0,
                next_try_ms: 0,
                backoff_ms: 1_000,
                view: TunnelView::default(),
            });
            if t.config != config {
                if let Some(c) = t.child.as_mut() {
                    let _ = c.start_kill();
                }
                t.child = None;
                t.config = config;
                t.next_try_ms = 0;
                t.backoff_ms = 1_000;
            }
            // Ended?
            let ended = match t.child.as_mut().map(|c| c.try_wait()) {
                Some(Ok(Some(status))) => Some(format!("ssh exited ({status})")),
                Some(Err(e)) => Some(format!("ssh: {e}")),
                _ => None,
            };
            if let Some(why) = ended {
                t.child = None;
                let was_up = t.view.state == "Up";
                t.view.state = "Down".into();
                t.view.since_ms = now;
                t.view.last_error = Some(why.clone());
                t.next_try_ms = now + t.backoff_ms;
                t.backoff_ms = (t.backoff_ms * 2).min(MAX_BACKOFF_MS);
                if was_up {
                    changes.push((cluster.id, cluster.name.clone(), "RETURNPROXY.DOWN", why));
                }
            }
            if t.child.is_none() && now >= t.next_try_ms {
                if let Err(e) = std::fs::write(
                    &known,
                    format!(
                        "[{}]:{} {}\n{} {}\n",
                        d.address, d.ssh_port, d.host_key, d.address, d.host_key
                    ),
                ) {
                    t.view.last_error = Some(format!("writing {}: {e}", known.display()));
                    continue;
                }
                let forward = format!("0.0.0.0:{port}:{}", st.agent_endpoint);
                let mut cmd = tokio::process::Command::new("ssh");
                cmd.arg("-N")
                    .args(["-o", "BatchMode=yes"])
                    .args(["-o", "StrictHostKeyChecking=yes"])
                    .arg("-o")
                    .arg(format!("UserKnownHostsFile={}", known.display()))
                    .args(["-o", "ExitOnForwardFailure=yes"])
                    .args(["-o", "ServerAliveInterval=3"])
                    .args(["-o", "ServerAliveCountMax=3"])
                    .args(["-o", "ConnectTimeout=10"])
                    .args(["-o", "IdentitiesOnly=yes"])
                    .arg("-i")
                    .arg(&key)
                    .args(["-p", &d.ssh_port.to_string()])
                    .args(["-R", &forward])
                    .arg(format!("{}@{}", d.user, d.address))
                    .stdin(std::process::Stdio::null())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .kill_on_drop(true);
                match cmd.spawn() {
                    Ok(child) => {
                        t.child = Some(child);
                        t.started_ms = now;
                        t.view.state = "Connecting".into();
                        t.view.since_ms = now;
                        t.view.port = port;
                        t.view.restarts += 1;
                    }
                    Err(e) => {
                        t.view.state = "Down".into();
                        t.view.last_error = Some(format!("starting ssh: {e}"));
                        t.next_try_ms = now + t.backoff_ms;
                        t.backoff_ms = (t.backoff_ms * 2).min(MAX_BACKOFF_MS);
                    }
                }
            } else if t.child.is_some()
                && t.view.state == "Connecting"
                && now - t.started_ms >= SETTLE_MS
            {
                let after_loss = t.view.last_error.is_some();
                t.view.state = "Up".into();
                t.view.since_ms = now;
                t.backoff_ms = 1_000;
                if after_loss {
                    changes.push((
                        cluster.id,
                        cluster.name.clone(),
                        "RETURNPROXY.UP",
                        format!("tunnel to {} re-established (port {port})", d.address),
                    ));
                } else {
                    tracing::info!(cluster = %cluster.name, proxy = %d.address, port, "return proxy tunnel up");
                }
            }
        }
    }
    if !changes.is_empty() {
        let ctx = crate::up::admin_context(st).await?;
        let mut tx = st.store.begin().await?;
        for (id, name, kind, text) in changes {
            tracing::warn!(cluster = %name, event = kind, "{text}");
            Event::new(&ctx, kind, format!("Cluster {name}: {text}"))
                .resource(id, "Cluster", Some(&name))
                .record(&mut tx)
                .await?;
        }
        tx.commit().await?;
    }
    Ok(())
}

/// The cluster view's return proxy fields (Canopy).
pub fn view_fields(st: &State, cluster: &InfraRow, public_key: Option<&str>) -> Option<Value> {
    let d = Designation::of(cluster)?;
    let t = st.tunnels.view(cluster.id).unwrap_or_default();
    Some(json!({
        "returnproxyaddress": d.address.to_string(),
        "returnproxypublicaddress": d.public.map(|p| p.to_string()),
        "returnproxyuse": if d.use_public { "public" } else { "private" },
        "returnproxyuser": d.user,
        "returnproxysshport": d.ssh_port,
        "returnproxyhostkey": d.host_key,
        "returnproxyhostid": d.host_id,
        "returnproxystate": if t.state.is_empty() { "Connecting".to_string() } else { t.state },
        "returnproxyport": t.port,
        "returnproxylasterror": t.last_error,
        "returnproxypublickey": public_key,
    }))
}
