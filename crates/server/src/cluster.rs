//! Several management servers on one database: each registers itself (`servers`), writes a
//! heartbeat every `cluster.heartbeat.interval` ms, and marks peers whose heartbeat is older
//! than `cluster.heartbeat.threshold` Down. A server that could not write its heartbeat for
//! longer than the threshold, or that a peer marked Down, fences itself: it stops serving at
//! once (the binary then exits with CloudStack's 219), because the others are taking over its
//! jobs and agents and two servers must never act on the same work. (Not on embedded SQLite:
//! one server, nobody to take over.)

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Mutex;

use model::HostId;

use tokio::sync::watch;

use crate::error::{AppError, AppResult};
use crate::state::{AppState, State};

/// CloudStack's exit status for a self-fenced management server.
pub const SELF_FENCING_EXIT_CODE: i32 = 219;

/// This server's standing in the cluster.
pub struct Membership {
    /// When the heartbeat was last written (epoch ms).
    last_ok: AtomicI64,
    fenced: AtomicBool,
    /// Preparing for maintenance, or in it: new async jobs are refused (503).
    draining: AtomicBool,
    stop: watch::Sender<bool>,
    /// The agent endpoints of the servers Up at the last heartbeat, by name.
    peers: Mutex<Vec<String>>,
}

impl Membership {
    pub fn new(stop: watch::Sender<bool>) -> Self {
        Self {
            last_ok: AtomicI64::new(api::time::now_ms()),
            fenced: AtomicBool::new(false),
            draining: AtomicBool::new(false),
            stop,
            peers: Mutex::new(Vec::new()),
        }
    }

    /// The agent endpoints of the servers Up at the last heartbeat (this one's alone before
    /// the first).
    pub fn peers(&self) -> Vec<String> {
        self.peers.lock().map(|p| p.clone()).unwrap_or_default()
    }

    /// Whether this server takes no new jobs (preparing for maintenance, or in it).
    pub fn draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// Whether this server fenced itself (the binary exits with [`SELF_FENCING_EXIT_CODE`]).
    pub fn fenced(&self) -> bool {
        self.fenced.load(Ordering::SeqCst)
    }

    fn fence(&self, why: &str) {
        tracing::error!(reason = why, "fencing this management server: it stops serving so that no two servers act on the same work");
        self.fenced.store(true, Ordering::SeqCst);
        let _ = self.stop.send(true);
    }
}

/// One heartbeat round (the `server-heartbeat` task).
pub async fn heartbeat(st: &State) -> AppResult<()> {
    let now = api::time::now_ms();
    let threshold = st.settings.int("cluster.heartbeat.threshold").max(1000);
    let round = async {
        let mut tx = st.store.begin().await?;
        let metrics = measure(st);
        let ours = db::server_heartbeat(&mut tx, st.server_id, Some(&metrics)).await?;
        let dead = if ours.is_some() {
            db::server_mark_dead(&mut tx, now - threshold).await?
        } else {
            Vec::new()
        };
        tx.commit().await?;
        Ok::<_, AppError>((ours, dead))
    };
    match round.await {
        Ok((Some(state), dead)) => {
            st.cluster.last_ok.store(now, Ordering::SeqCst);
            for d in dead {
                tracing::warn!(server = %d, "a management server stopped heartbeating; marked it Down");
                domain::alerts::raise(
                    st,
                    domain::alerts::AlertKind::ManagementServer,
                    &format!("Management server {d} stopped heartbeating; marked Down (its work is taken over)"),
                    (None, None, None),
                )
                .await;
            }
            let draining = state != "Up";
            if st.cluster.draining.swap(draining, Ordering::SeqCst) != draining {
                tracing::warn!(state = %state, "this management server {} new jobs", if draining { "refuses" } else { "accepts" });
            }
            refresh_peers(st, now, threshold).await?;
            if state == "PreparingForMaintenance" {
                drain(st).await?;
            }
            Ok(())
        }
        Ok((None, _)) => {
            st.cluster
                .fence("a peer marked this server Down (its heartbeat was late)");
            Ok(())
        }
        Err(e) => {
            let silent = now - st.cluster.last_ok.load(Ordering::SeqCst);
            // With embedded SQLite there is one server and nobody to take over: a busy
            // database is waited out, never a reason to stop.
            if silent > threshold && st.store.backend() != db::Backend::Sqlite {
                st.cluster.fence(&format!(
                    "could not write the heartbeat for {silent} ms (cluster.heartbeat.threshold {threshold} ms): {e}"
                ));
            }
            Err(e)
        }
    }
}

/// One step of preparing this server for maintenance (CloudStack 4.21's
/// `prepareForMaintenance`): once its running jobs are done, its agents are told to move
/// (their server lists no longer name it; `Reconnect` makes them dial the next); with no job
/// and no agent left it is in Maintenance.
async fn drain(st: &State) -> AppResult<()> {
    let pending = {
        let mut c = st.store.read().await?;
        db::server_load(&mut c)
            .await?
            .get(&st.server_id)
            .map(|l| l.1)
            .unwrap_or(0)
    };
    if pending > 0 {
        return Ok(());
    }
    let agents = st.hub.connected_hosts();
    if agents.is_empty() {
        let mut tx = st.store.begin().await?;
        if db::server_transition(
            &mut tx,
            st.server_id,
            &["PreparingForMaintenance"],
            "Maintenance",
        )
        .await?
        {
            tracing::warn!("this management server is in maintenance: no jobs, no agents");
        }
        tx.commit().await?;
        return Ok(());
    }
    let own_port = format!(
        ":{}",
        crate::returnproxy::port_of(st, crate::returnproxy::place(st).0)
    );
    for host in agents {
        let behind_proxy = matches!(crate::returnproxy::of_host(st, host).await, Ok(Some(_)));
        let servers: Vec<String> = agent_servers_of(st, host)
            .await
            .into_iter()
            .filter(|s| *s != st.agent_endpoint && !(behind_proxy && s.ends_with(&own_port)))
            .collect();
        if servers.is_empty() {
            continue;
        }
        st.hub
            .notify(host, proto::Command::SetServers { servers })
            .await;
        st.hub.notify(host, proto::Command::Reconnect).await;
    }
    Ok(())
}

/// Marks this server Down on a graceful stop (peers need not wait for the threshold).
pub async fn leave(st: &AppState) {
    let r = async {
        let mut tx = st.store.begin().await?;
        db::server_set_state(&mut tx, st.server_id, "Down", Some(api::time::now_ms())).await?;
        tx.commit().await?;
        Ok::<_, AppError>(())
    };
    if let Err(e) = r.await {
        tracing::warn!(error = %e, "could not mark this server Down on leaving");
    }
}

/// What this server measures of itself at each heartbeat, stored with it so that any server
/// can answer `listManagementServersMetrics` for all. Read from `/proc` (a handful of lines;
/// no crate needed), with CloudStack's field names; a figure that cannot be read is absent.
pub fn measure(st: &AppState) -> serde_json::Value {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let field = |text: &str, key: &str| -> Option<u64> {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
    };
    let status = read("/proc/self/status");
    let meminfo = read("/proc/meminfo");
    let loads: Vec<f64> = read("/proc/loadavg")
        .split_whitespace()
        .take(3)
        .filter_map(|v| v.parse().ok())
        .collect();
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let total_kib = field(&meminfo, "MemTotal:");
    let free_kib = field(&meminfo, "MemAvailable:");
    let uptime_s: Option<f64> = read("/proc/uptime")
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok());
    let now = api::time::now_ms();
    let os = read("/etc/os-release")
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_string());
    let gib = |kib: u64| format!("{:.2} GB", kib as f64 / 1_048_576.0);
    let mut m = serde_json::json!({
        "collectiontime": api::time::format_ms(now),
        "availableprocessors": cpus,
        "systemloadaverages": loads,
        "kernelversion": read("/proc/sys/kernel/osrelease").trim(),
        "agentcount": st.hub.connected_count(),
        "sessions": 0,
        "dbislocal": st.store.backend() == db::Backend::Sqlite,
        "usageislocal": false,
    });
    if let Some(l) = loads.first() {
        m["cpuload"] = serde_json::json!(format!("{:.2}%", l * 100.0 / cpus as f64));
    }
    if let Some(rss) = field(&status, "VmRSS:") {
        m["heapmemoryused"] = serde_json::json!(rss * 1024);
        m["heapmemorytotal"] = serde_json::json!(rss * 1024);
    }
    if let Some(t) = field(&status, "Threads:") {
        m["threadstotalcount"] = serde_json::json!(t);
    }
    if let (Some(t), Some(f)) = (total_kib, free_kib) {
        m["systemmemorytotal"] = serde_json::json!(gib(t));
        m["systemmemoryfree"] = serde_json::json!(gib(f));
        m["systemmemoryused"] = serde_json::json!(gib(t.saturating_sub(f)));
    }
    if let Some(u) = uptime_s {
        m["lastboottime"] = serde_json::json!(api::time::format_ms(now - (u * 1000.0) as i64));
    }
    if let Some(os) = os {
        m["osdistribution"] = serde_json::json!(os);
    }
    m
}

/// Reads which servers are Up; when that changed, tells every connected agent its new list
/// (CloudStack's `SetupMSListCommand`), so an agent always knows where to go next.
async fn refresh_peers(st: &State, now: i64, threshold: i64) -> AppResult<()> {
    let rows = {
        let mut c = st.store.read().await?;
        db::server_list(&mut c).await?
    };
    let up: Vec<String> = rows
        .into_iter()
        .filter(|s| {
            s.state == "Up" && now - s.heartbeat <= threshold && !s.agent_endpoint.is_empty()
        })
        .map(|s| s.agent_endpoint)
        .collect();
    let changed = {
        let Ok(mut p) = st.cluster.peers.lock() else {
            return Ok(());
        };
        let changed = *p != up;
        *p = up;
        changed
    };
    if changed {
        // A server went away: the simulated hosts it ran are run here, if no other server
        // claims them first.
        let adopted = crate::handlers::hosts::resume_simulated(st, false).await?;
        if adopted > 0 {
            tracing::info!(
                adopted,
                "running the simulated hosts of a server that went away"
            );
        }
        for host in st.hub.connected_hosts() {
            let servers = agent_servers_of(st, host).await;
            st.hub
                .notify(host, proto::Command::SetServers { servers })
                .await;
        }
    }
    Ok(())
}

/// The agent endpoints a host's agent should try, in order: the Up servers (this one alone
/// before the first heartbeat) ordered by `indirect.agent.lb.algorithm`.
pub fn agent_servers(st: &AppState, host: HostId) -> Vec<String> {
    let mut up = st.cluster.peers();
    if up.is_empty() {
        up.push(st.agent_endpoint.clone());
    }
    order(
        &up,
        &st.settings.text("indirect.agent.lb.algorithm"),
        host.0.as_u128(),
        api::time::now_ms() as u64,
    )
}

/// [`agent_servers`], or — for a host of a cluster reached through a return proxy — the
/// proxy's ports of the servers' tunnels.
pub async fn agent_servers_of(st: &State, host: HostId) -> Vec<String> {
    match crate::returnproxy::of_host(st, host).await {
        Ok(Some(d)) => d.endpoints(st, crate::returnproxy::place(st).1),
        _ => agent_servers(st, host),
    }
}

/// How often agents check they use their preferred server (`indirect.agent.lb.check.interval`;
/// as CloudStack, never with `shuffle`, whose order means nothing).
pub fn lb_check_interval_s(st: &AppState) -> u64 {
    if st.settings.text("indirect.agent.lb.algorithm") == "shuffle" {
        return 0;
    }
    st.settings.int("indirect.agent.lb.check.interval").max(0) as u64
}

/// CloudStack's orderings (`IndirectAgentLB*Algorithm`): `static` keeps the list,
/// `roundrobin` rotates it by the host (here by its id, so hosts spread evenly),
/// `shuffle` shuffles it with `seed`. Anything else is static.
pub fn order(list: &[String], algorithm: &str, host: u128, seed: u64) -> Vec<String> {
    let mut out = list.to_vec();
    if out.is_empty() {
        return out;
    }
    match algorithm {
        "roundrobin" => {
            let n = (host % out.len() as u128) as usize;
            out.rotate_left(n);
        }
        "shuffle" => {
            use rand::seq::SliceRandom;
            use rand::SeedableRng;
            out.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));
        }
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orderings_are_cloudstacks() {
        let l: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        assert_eq!(order(&l, "static", 7, 1), l);
        assert_eq!(order(&l, "roundrobin", 4, 1), ["b", "c", "a"]);
        assert_eq!(order(&l, "roundrobin", 3, 1), l);
        let mut s = order(&l, "shuffle", 9, 42);
        s.sort();
        assert_eq!(s, l);
        assert_eq!(order(&l, "nonsense", 1, 1), l);
        assert!(order(&[], "roundrobin", 1, 1).is_empty());
    }
}
