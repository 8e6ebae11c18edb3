//! Power-state sync (CloudStack's `VirtualMachinePowerStateSync`): what a host runs and what
//! the database says are compared when its agent (re)connects and then periodically
//! (`vm.power.sync.interval`), for real and simulated hosts alike, and reconciled both ways:
//!
//! - a VM the database has Running on the host that the host does not run → Stopped, and
//!   restarted elsewhere when HA-enabled (as a VM that stopped on its own; an event says so);
//! - a VM the host runs that the database has Running (or Starting) on another host — the
//!   stale copy of a VM moved or restarted elsewhere — is stopped on this host;
//! - any other VM the host runs that the database does not place there is reported as an
//!   alert (an event and a warning), not touched.
//!
//! VMs in a transitional state, or with an unfinished saga, belong to that saga and are left
//! alone: only settled states are compared. The database is read before the host is asked,
//! so a VM that became Running while the question was on its way is not taken for missing.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use model::jobs::EventLevel;
use model::{HostId, VmId};

use crate::context::OpContext;
use crate::error::{AppError, AppResult};
use crate::events::Event;
use crate::state::State;

/// What one sync found and did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Running in the database, absent on the host: marked Stopped (HA restarts follow).
    pub missing: Vec<String>,
    /// Running on the host but placed on another host: stopped here.
    pub stopped: Vec<String>,
    /// Running on the host, unknown to the database or not placed anywhere: alerted.
    pub strays: Vec<String>,
}

/// Syncs one connected host. An unreachable host is left to the host monitor.
pub async fn sync_host(st: &State, host: HostId) -> AppResult<Report> {
    let before = domain::ha::running_on(st, host).await?;
    let body = st
        .hub
        .command(host, proto::Command::ListVms, Duration::from_secs(30))
        .await?;
    let listed: proto::VmList = serde_json::from_value(body)
        .map_err(|e| AppError::Internal(format!("host {host}: unreadable ListVms reply: {e}")))?;
    let running: HashSet<String> = listed
        .vms
        .into_iter()
        .filter(|v| v.state == proto::PowerState::Running)
        .map(|v| v.name)
        .collect();
    let mut report = Report::default();
    for vm in &before {
        if running.contains(&vm.instance_name) || unfinished_saga(st, vm.id).await? {
            continue;
        }
        // Conditional on the VM still being Running there: a stop or migration that began
        // after the database was read is not taken for a loss.
        if !domain::ha::vm_gone(&st.core, host, &vm.instance_name).await? {
            continue;
        }
        report.missing.push(vm.instance_name.clone());
        record(
            st,
            vm,
            EventLevel::Warn,
            format!(
                "VM {} is not running on its host {host} (power-state sync); marked Stopped{}",
                vm.instance_name,
                if vm.ha_enable { ", HA restarts it" } else { "" }
            ),
        )
        .await;
    }
    let placed: HashSet<&str> = before.iter().map(|v| v.instance_name.as_str()).collect();
    let unknown: Vec<String> = running
        .iter()
        .filter(|n| !placed.contains(n.as_str()))
        .cloned()
        .collect();
    if unknown.is_empty() {
        return Ok(report);
    }
    let rows = by_instance_name(st, &unknown).await?;
    for name in unknown {
        let row = rows
            .get(&name)
            .filter(|(_, removed)| !removed)
            .map(|(v, _)| v);
        let elsewhere = row.is_some_and(|v| {
            v.host_id.is_some_and(|h| h != host)
                && matches!(v.state, model::VmState::Running | model::VmState::Starting)
        });
        let busy = match row {
            Some(v) => {
                !matches!(
                    v.state,
                    model::VmState::Running
                        | model::VmState::Starting
                        | model::VmState::Stopped
                        | model::VmState::Destroyed
                        | model::VmState::Error
                ) || unfinished_saga(st, v.id).await?
            }
            None => false,
        };
        // A VM placed on this host in a transitional state (the database read above only
        // took Running ones): its saga decides.
        let here_in_flight = row.is_some_and(|v| v.host_id == Some(host));
        if busy || here_in_flight {
            continue;
        }
        if elsewhere {
            report.stopped.push(name.clone());
            tracing::warn!(%host, vm = %name, "power-state sync: a stale copy of a VM that runs on another host; stopping it here");
            if let Some(v) = row {
                record(
                    st,
                    v,
                    EventLevel::Warn,
                    format!("A stale copy of VM {name} was running on host {host}; stopped there (the VM runs on its own host)"),
                )
                .await;
            }
            st.hub
                .command(
                    host,
                    proto::Command::StopVm {
                        name: name.clone(),
                        force: true,
                    },
                    Duration::from_secs(30),
                )
                .await?;
        } else {
            report.strays.push(name.clone());
            tracing::warn!(%host, vm = %name, state = row.map(|v| v.state.as_str()).unwrap_or("unknown"), "ALERT power-state sync: the host runs a VM the database does not place there");
            if let Some(v) = row {
                record(
                    st,
                    v,
                    EventLevel::Error,
                    format!("ALERT: host {host} runs VM {name}, which the database has {} and not on that host", v.state),
                )
                .await;
            }
            domain::alerts::raise(
                st,
                domain::alerts::AlertKind::UserVm,
                &format!("Host {host} runs VM {name}, which the database does not place there"),
                (None, None, None),
            )
            .await;
        }
    }
    Ok(report)
}

async fn unfinished_saga(st: &State, vm: VmId) -> AppResult<bool> {
    let mut c = st.store.read().await?;
    Ok(!db::saga_unfinished_for(&mut c, vm.0).await?.is_empty())
}

/// VMs by instance name, removed ones included (a VM expunged while its host was away).
async fn by_instance_name(
    st: &State,
    names: &[String],
) -> AppResult<HashMap<String, (db::VmRow, bool)>> {
    let mut c = st.store.read().await?;
    let mut out: HashMap<String, (db::VmRow, bool)> = HashMap::new();
    for (v, removed) in db::vm_by_instance_names(&mut c, names).await? {
        // Instance names are unique among live VMs; prefer the live one.
        match out.get(&v.instance_name) {
            Some((_, false)) => {}
            _ => {
                out.insert(v.instance_name.clone(), (v, removed));
            }
        }
    }
    Ok(out)
}

/// An event on the VM, owned by its owner (so the owner sees it in `listEvents`).
async fn record(st: &State, vm: &db::VmRow, level: EventLevel, text: String) {
    let user = match st.store.read().await {
        Ok(mut c) => db::user_get(&mut c, vm.user_id).await.ok().flatten(),
        Err(_) => None,
    };
    let Some(user) = user else { return };
    let ctx = OpContext::new(user, false);
    let out: AppResult<()> = async {
        let mut tx = st.store.begin().await?;
        Event::new(&ctx, "VM.POWER.SYNC", text)
            .level(level)
            .resource(vm.id, "VirtualMachine", Some(&vm.name))
            .record(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
    .await;
    if let Err(e) = out {
        tracing::warn!(vm = %vm.id, error = %e, "could not record the power-state sync event");
    }
}

/// Runs the sync for `host` shortly after it connects, then every `vm.power.sync.interval`
/// seconds while `conn_id` is still its connection.
pub fn spawn_for_connection(st: State, host: HostId, conn_id: u64) {
    tokio::spawn(async move {
        // Let the agent finish its own start-up (adopting VMs) first.
        tokio::time::sleep(Duration::from_millis(500)).await;
        loop {
            if st.hub.connection_id(host) != Some(conn_id) || *st.stopping.borrow() {
                return;
            }
            // Boxed: the sync's future lives only while it runs, not in the task that sleeps
            // between rounds (one such task per connected host).
            match Box::pin(sync_host(&st, host)).await {
                Ok(r) if r != Report::default() => {
                    tracing::info!(%host, missing = r.missing.len(), stopped = r.stopped.len(), strays = r.strays.len(), "power-state sync reconciled the host")
                }
                Ok(_) => {}
                Err(e) => tracing::debug!(%host, error = %e, "power-state sync skipped"),
            }
            let secs = st.settings.int("vm.power.sync.interval").max(5) as u64;
            // Spread hosts over the interval.
            let jitter = (host.0.as_u128() % 1000) as u64;
            tokio::time::sleep(Duration::from_secs(secs) + Duration::from_millis(jitter)).await;
        }
    });
}
