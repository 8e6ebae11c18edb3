//! The host monitor: writes the heartbeats agents sent, drops connected-but-silent agents,
//! and moves the status of the hosts a decision can concern (Disconnected, silent past the
//! timeout, or held by a server that is not alive); suspects go to HA's investigation.

use api::time::now_ms;
use model::HostId;
use uuid::Uuid;

use crate::error::AppResult;
use crate::state::State;

/// How often a connected host's heartbeat is written to its row: twice the timeout, at least
/// a minute. Nothing judges a host held by a live server by that row (see
/// `db::host_monitor_candidates`); it is what peers and `listHosts` see.
pub fn persist_every_ms(timeout_ms: i64) -> i64 {
    (2 * timeout_ms).max(60_000)
}

/// Writes pending heartbeats and moves host status on; runs every few seconds.
pub async fn monitor_once(st: &State) -> AppResult<()> {
    let now = now_ms();
    let factor = st.settings.float("ping.timeout").max(1.0);
    let timeout_ms = (st.settings.int("ping.interval").max(1) as f64 * factor * 1000.0) as i64;
    // A connected host's liveness is judged here, in memory; its row's heartbeat is written
    // only now and then (at 100,000 hosts beating every 10 s, writing each heartbeat was
    // 10,000 row updates a second on the database's one writer).
    let persist_every = persist_every_ms(timeout_ms);
    st.hub.set_persist_every(persist_every);
    let pings: Vec<HostId> = st.hub.take_heartbeats();
    // Connected but silent: drop the connection; the host is then investigated below. Each
    // agent is judged by the interval it was given (a changed ping.interval reaches it at its
    // next connection).
    let silent = st.hub.drop_silent(now, factor);
    let several = st.store.backend() != db::Backend::Sqlite;
    // A peer whose heartbeat is this late is probably gone: its hosts take no new VMs.
    let silent_ms = (3 * st.settings.int("cluster.heartbeat.interval")).max(3000);
    let (hosts, servers) = {
        let mut c = st.store.read().await?;
        let servers: std::collections::HashMap<Uuid, db::ServerRow> = db::server_list(&mut c)
            .await?
            .into_iter()
            .map(|s| (s.id.0, s))
            .collect();
        // Only the hosts a decision can concern (the rest are beating, to servers alive;
        // this one is, whatever its row says).
        let mut live: Vec<Uuid> = servers
            .values()
            .filter(|s| s.state != "Down" && now - s.heartbeat <= silent_ms)
            .map(|s| s.id.0)
            .collect();
        if !live.contains(&st.server_id.0) {
            live.push(st.server_id.0);
        }
        let hosts = db::host_monitor_candidates(
            &mut c,
            &db::MonitorQuery {
                silent_before: now - timeout_ms,
                stale_before: now - 3 * persist_every,
                live: &live,
                several,
            },
        )
        .await?;
        (hosts, servers)
    };
    let threshold = st.settings.int("cluster.heartbeat.threshold");
    let mut tx = st.store.begin().await?;
    db::host_touch_many(&mut tx, &pings, now).await?;
    // Removing a connection from the map dropped its sender, which ends its session.
    for id in &silent {
        tracing::warn!(host = %id, "no heartbeat within the timeout; the connection is dropped");
    }
    let mut suspects = Vec::new();
    for h in hosts {
        if st.hub.is_connected(h.id) {
            // Connected here, though a peer marked it Disconnected while this server was
            // slow to heartbeat: it is Up.
            if h.status == model::HostStatus::Disconnected {
                db::host_set_status(&mut tx, h.id, model::HostStatus::Up, None).await?;
            }
            continue;
        }
        // This server's own hosts write their heartbeat only now and then: for them the
        // moment the connection ended (or this server started) counts as a heartbeat too.
        let own = h.server_id.is_none_or(|s| s == st.server_id.0);
        let last = if pings.contains(&h.id) {
            Some(now)
        } else if own {
            h.last_pinged.map(|p| p.max(h.disconnected.unwrap_or(0)))
        } else {
            h.last_pinged
        };
        // Never joined: nothing to decide yet.
        let Some(last) = last else { continue };
        // The server its agent used is not this one: "that server died" is not "the host
        // died". While that server heartbeats, it judges its own hosts. Once it is silent,
        // the host is Disconnected (no new VM is placed there) but nobody suspects it until
        // its agent had the time to move, or its server-run host to be adopted.
        if let Some(owner) = h.server_id.filter(|s| several && *s != st.server_id.0) {
            let since = match servers.get(&owner) {
                Some(s) if s.state != "Down" && now - s.heartbeat <= silent_ms => continue,
                Some(s) => s.heartbeat,
                // A restart replaced its row: the old process is gone since at most its
                // last ping.
                None => last,
            };
            if h.status == model::HostStatus::Up {
                db::host_disconnect_if_owned(&mut tx, h.id, owner, now).await?;
            }
            if now - since <= threshold + timeout_ms {
                continue;
            }
        }
        if now - last <= timeout_ms {
            continue;
        }
        use model::{HostStatus as H, ResourceState as R};
        match (h.status, h.resource_state) {
            (H::Down, _) => {}
            // As CloudStack: hosts an operator took out are not investigated.
            (_, R::Maintenance | R::Disabled) if h.status != H::Disconnected => {
                db::host_set_status(
                    &mut tx,
                    h.id,
                    model::HostStatus::Disconnected,
                    Some(h.disconnected.unwrap_or(now)),
                )
                .await?;
            }
            (_, R::Maintenance | R::Disabled) => {}
            (H::Up | H::Connecting | H::Disconnected | H::Alert, _) => suspects.push(h),
            _ => {}
        }
    }
    tx.commit().await?;
    for h in suspects {
        domain::ha::investigate_in_background(&st.core, h);
    }
    Ok(())
}
