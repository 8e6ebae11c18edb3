//! Host investigation, fencing and HA restarts (reference §9).
//!
//! A host whose last heartbeat is older than `ping.interval` × `ping.timeout` is investigated:
//! up to three other connected hosts of its cluster are asked whether they can reach it
//! (`CheckHost`). If one can, the host is alive but cut off from this server: **Alert**, its
//! VMs untouched (the next monitor cycle asks again). Otherwise — the peers cannot reach it
//! either, or nobody can tell — it is **Down**: every VM on it is stopped in the database
//! (capacity released) and fenced (the host's agent, if it comes back, must stop them before
//! anything else: they are in its `Welcome`), then each HA-enabled VM (`haenable`, from the
//! offering's `offerha`) is started again elsewhere by a start job of its owner
//! ([`OwnJob::StartVm`], which the server stores as CloudStack's `startVirtualMachine`); the others stay Stopped. VMs whose root disk is on the dead host's local storage
//! stay Stopped (as CloudStack). Real KVM hosts answer `CheckHost` once the QEMU driver
//! exists; until then nobody can vouch for them and a silent one is declared Down.

use std::time::Duration;

use std::sync::Arc;

use db::{HostRow, VmPlace};
use model::{HostId, VmId};

use crate::core::{Core, OwnJob};
use crate::error::DomainResult as AppResult;

const CHECK_TIMEOUT: Duration = Duration::from_secs(5);
const PEERS_ASKED: usize = 3;
/// Peers read from the database per investigation (the connected ones among them are asked).
const PEERS_LISTED: u64 = 16;
/// Investigations running at once: after a network blip thousands of hosts can be overdue
/// together; they are worked through a few at a time instead of all hammering the database.
const PARALLEL: usize = 16;

fn permits() -> &'static std::sync::Arc<tokio::sync::Semaphore> {
    static P: std::sync::OnceLock<std::sync::Arc<tokio::sync::Semaphore>> =
        std::sync::OnceLock::new();
    P.get_or_init(|| std::sync::Arc::new(tokio::sync::Semaphore::new(PARALLEL)))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// A peer reaches it: only the server lost it.
    Alive,
    /// Nobody reaches it.
    Dead,
}

/// Starts an investigation of `h` unless one is running.
pub fn investigate_in_background(st: &Arc<Core>, h: HostRow) {
    let fresh = st
        .hub
        .investigating
        .lock()
        .map(|mut s| s.insert(h.id))
        .unwrap_or(false);
    if !fresh {
        return;
    }
    let st = st.clone();
    tokio::spawn(async move {
        let id = h.id;
        let _permit = permits().clone().acquire_owned().await;
        if let Err(e) = investigate(&st, h).await {
            tracing::warn!(host = %id, error = %e, "host investigation failed; retried next cycle");
        }
        if let Ok(mut s) = st.hub.investigating.lock() {
            s.remove(&id);
        }
    });
}

/// Whether the host's cluster is reached through a return proxy.
async fn behind_return_proxy(st: &Core, h: &HostRow) -> AppResult<bool> {
    let mut c = st.store.read().await?;
    Ok(db::infra_get(&mut c, db::Infra::Cluster, h.cluster_id)
        .await?
        .is_some_and(|cl| cl.attrs["returnproxy"].is_object()))
}

/// Whether another host of the host's cluster is connected now.
async fn any_peer_connected(st: &Core, h: &HostRow) -> AppResult<bool> {
    let peers = {
        let mut c = st.store.read().await?;
        db::host_list(
            &mut c,
            &db::HostFilter {
                cluster_id: Some(h.cluster_id),
                limit: Some(PEERS_LISTED),
                ..Default::default()
            },
        )
        .await?
        .0
    };
    Ok(peers
        .iter()
        .any(|p| p.id != h.id && st.hub.is_connected(p.id)))
}

/// Asks the host's peers whether they reach it.
pub async fn verdict(st: &Core, h: &HostRow) -> AppResult<Verdict> {
    let peers = {
        let mut c = st.store.read().await?;
        db::host_list(
            &mut c,
            &db::HostFilter {
                cluster_id: Some(h.cluster_id),
                status: Some(model::HostStatus::Up),
                limit: Some(PEERS_LISTED),
                ..Default::default()
            },
        )
        .await?
        .0
    };
    for p in peers
        .iter()
        .filter(|p| p.id != h.id && st.hub.is_connected(p.id))
        .take(PEERS_ASKED)
    {
        let r = st
            .hub
            .command(
                p.id,
                proto::Command::CheckHost {
                    address: h.address.clone(),
                },
                CHECK_TIMEOUT,
            )
            .await;
        match r {
            Ok(v) if v["alive"] == true => {
                tracing::info!(host = %h.id, peer = %p.id, "a peer still reaches the host");
                return Ok(Verdict::Alive);
            }
            Ok(_) => tracing::info!(host = %h.id, peer = %p.id, "a peer cannot reach the host"),
            Err(e) => {
                tracing::debug!(host = %h.id, peer = %p.id, error = %e, "a peer could not tell")
            }
        }
    }
    Ok(Verdict::Dead)
}

async fn investigate(st: &Arc<Core>, h: HostRow) -> AppResult<()> {
    // It may have come back while this waited for its turn.
    if st.hub.is_connected(h.id) {
        return Ok(());
    }
    // A cluster reached through a return proxy: with none of its hosts connected, what is gone
    // is the proxy (or its tunnel) — the hosts are unreachable, not dead; nothing is fenced.
    if behind_return_proxy(st, &h).await? && !any_peer_connected(st, &h).await? {
        if h.status != model::HostStatus::Alert {
            let mut tx = st.store.begin().await?;
            db::host_set_status(
                &mut tx,
                h.id,
                model::HostStatus::Alert,
                Some(h.disconnected.unwrap_or_else(crate::now_ms)),
            )
            .await?;
            tx.commit().await?;
            tracing::warn!(host = %h.id, name = %h.name, "host Alert: its cluster's return proxy is unreachable (not declared Down)");
            crate::alerts::raise(
                st,
                crate::alerts::AlertKind::Host,
                &format!("Host {} is unreachable: its cluster's return proxy cannot be reached (not declared Down)", h.name),
                (Some(h.zone_id), Some(h.pod_id), Some(h.cluster_id)),
            )
            .await;
        }
        return Ok(());
    }
    let v = verdict(st, &h).await?;
    // The agent may have come back while we asked.
    if st.hub.is_connected(h.id) {
        return Ok(());
    }
    let now = crate::now_ms();
    match v {
        Verdict::Alive => {
            if h.status != model::HostStatus::Alert {
                let mut tx = st.store.begin().await?;
                db::host_set_status(
                    &mut tx,
                    h.id,
                    model::HostStatus::Alert,
                    Some(h.disconnected.unwrap_or(now)),
                )
                .await?;
                tx.commit().await?;
                tracing::warn!(host = %h.id, name = %h.name, "host Alert: alive but unreachable from the management server");
                crate::alerts::raise(
                    st,
                    crate::alerts::AlertKind::Host,
                    &format!(
                        "Host {} is alive but unreachable from the management server",
                        h.name
                    ),
                    (Some(h.zone_id), Some(h.pod_id), Some(h.cluster_id)),
                )
                .await;
            }
            Ok(())
        }
        Verdict::Dead => host_down(st, &h).await,
    }
}

/// Declares a host Down: fences and stops its VMs, then restarts the HA-enabled ones.
pub async fn host_down(st: &Arc<Core>, h: &HostRow) -> AppResult<()> {
    let vms = {
        let mut c = st.store.read().await?;
        db::vm_list(
            &mut c,
            &db::VmFilter {
                host_id: Some(h.id),
                states: db::ACTIVE_STATES.to_vec(),
                ..Default::default()
            },
        )
        .await?
        .0
    };
    let mut stopped = Vec::new();
    let mut tx = st.store.begin().await?;
    db::host_set_status(
        &mut tx,
        h.id,
        model::HostStatus::Down,
        Some(h.disconnected.unwrap_or_else(crate::now_ms)),
    )
    .await?;
    for vm in &vms {
        db::fence_add(&mut tx, h.id, &vm.instance_name).await?;
        if db::vm_transition(
            &mut tx,
            vm.id,
            db::ACTIVE_STATES,
            model::VmState::Stopped,
            &VmPlace::off(),
        )
        .await?
        {
            stopped.push(vm.clone());
        }
    }
    tx.commit().await?;
    tracing::warn!(host = %h.id, name = %h.name, vms = stopped.len(), "host Down: its VMs are fenced and stopped");
    crate::alerts::raise(
        st,
        crate::alerts::AlertKind::Host,
        &format!(
            "Host {} is Down: {} VM(s) fenced and stopped (HA-enabled ones restart elsewhere)",
            h.name,
            stopped.len()
        ),
        (Some(h.zone_id), Some(h.pod_id), Some(h.cluster_id)),
    )
    .await;
    // The other hosts of the stopped VMs' networks drop the dead host from their peers.
    {
        let st = st.clone();
        let ids: Vec<VmId> = stopped.iter().map(|v| v.id).collect();
        tokio::spawn(async move {
            let nets: Vec<model::NetworkId> = match st.store.read().await {
                Ok(mut c) => db::net_nics_of_vms(&mut c, &ids)
                    .await
                    .map(|n| n.into_iter().map(|x| x.network_id).collect())
                    .unwrap_or_default(),
                Err(_) => Vec::new(),
            };
            if let Err(e) = crate::netsync::networks_changed(&st, &nets).await {
                tracing::warn!(error = %e, "could not update the data plane after a host went Down");
            }
        });
    }
    // Its virtual routers move to other hosts at once (they hold no state of their own).
    if let Err(e) = st.networks.routers_host_failed(st, h.id).await {
        tracing::error!(host = %h.id, error = %e, "could not re-place the host's virtual routers");
    }
    for vm in stopped {
        if !vm.ha_enable {
            tracing::warn!(vm = %vm.id, name = %vm.instance_name, "VM stopped unexpectedly (host down; HA not enabled)");
            continue;
        }
        if on_local_storage(st, vm.id).await? {
            tracing::warn!(vm = %vm.id, "not restarted: its root disk is on the dead host's local storage");
            continue;
        }
        if let Err(e) = restart(st, &vm).await {
            tracing::error!(vm = %vm.id, error = %e, "could not schedule the HA restart");
        }
    }
    Ok(())
}

/// The VMs the database has Running on `host`.
pub async fn running_on(st: &Core, host: HostId) -> AppResult<Vec<db::VmRow>> {
    let mut c = st.store.read().await?;
    Ok(db::vm_list(
        &mut c,
        &db::VmFilter {
            host_id: Some(host),
            states: vec![model::VmState::Running],
            ..Default::default()
        },
    )
    .await?
    .0)
}

/// A host reports that a VM stopped on its own (guest power-off, crash, killed process):
/// Running → Stopped, and an HA restart when the VM is HA-enabled. A VM that is
/// not Running on that host (stopping, migrating, already moved) is left alone.
/// Returns whether the VM was Running there and is now Stopped (by this call).
pub async fn vm_gone(st: &Arc<Core>, host: HostId, instance_name: &str) -> AppResult<bool> {
    let vm = running_on(st, host)
        .await?
        .into_iter()
        .find(|v| v.instance_name == instance_name);
    let Some(vm) = vm else {
        return Ok(false);
    };
    let mut tx = st.store.begin().await?;
    if !db::vm_transition(
        &mut tx,
        vm.id,
        &[model::VmState::Running],
        model::VmState::Stopped,
        &VmPlace::off(),
    )
    .await?
    {
        return Ok(false);
    }
    tx.commit().await?;
    tracing::warn!(vm = %vm.id, name = %vm.instance_name, %host, ha = vm.ha_enable, "VM stopped on its host without being asked");
    crate::netsync::vm_changed(st, vm.id, true).await;
    if vm.ha_enable {
        restart(st, &vm).await?;
    }
    Ok(true)
}

async fn on_local_storage(st: &Core, vm: VmId) -> AppResult<bool> {
    let vols = crate::vms::volumes_of(st, vm).await?;
    let mut c = st.store.read().await?;
    for v in vols.iter().filter(|v| v.vol_type == "ROOT") {
        if let Some(p) = v.pool_id {
            if let Some(pool) = db::infra_get(&mut c, db::Infra::StoragePool, p).await? {
                if pool.kind == "HOST" {
                    return Ok(true);
                }
            }
        }
    }
    Ok(false)
}

/// Starts the VM again elsewhere as its owner: a persisted job, so the restart survives a
/// management-server crash too.
async fn restart(st: &Arc<Core>, vm: &db::VmRow) -> AppResult<()> {
    let job = st.own_jobs.submit(st, vm, OwnJob::StartVm).await?;
    if let Some(job) = job {
        tracing::warn!(vm = %vm.id, %job, "HA: restarting the VM on another host");
    }
    Ok(())
}

/// The expunge thread: Destroyed VMs older than `expunge.delay` seconds (and VMs left in
/// Error) are expunged, each by an `expungeVirtualMachine` job of its owner.
pub async fn expunge_due(st: &Arc<Core>) -> AppResult<usize> {
    static SUBMITTED: std::sync::Mutex<Vec<(VmId, i64)>> = std::sync::Mutex::new(Vec::new());
    let now = crate::now_ms();
    let delay = st.settings.int("expunge.delay").max(0) * 1000;
    let vms = {
        let mut c = st.store.read().await?;
        db::vm_list(
            &mut c,
            &db::VmFilter {
                states: vec![model::VmState::Destroyed, model::VmState::Error],
                ..Default::default()
            },
        )
        .await?
        .0
    };
    let mut n = 0;
    for vm in vms.into_iter().filter(|v| now - v.updated >= delay) {
        // One job per VM (a job that is still queued keeps its VM Destroyed for a while).
        let fresh = SUBMITTED
            .lock()
            .map(|mut s| {
                s.retain(|(_, at)| now - at < 300_000);
                if s.iter().any(|(id, _)| *id == vm.id) {
                    false
                } else {
                    s.push((vm.id, now));
                    true
                }
            })
            .unwrap_or(false);
        if fresh
            && st
                .own_jobs
                .submit(st, &vm, OwnJob::ExpungeVm)
                .await?
                .is_some()
        {
            n += 1;
        }
    }
    if n > 0 {
        tracing::info!(vms = n, "expunge thread: expunging destroyed VMs");
    }
    Ok(n)
}
