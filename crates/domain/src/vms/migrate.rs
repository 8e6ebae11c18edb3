//! The migration saga: reserve the destination (its capacity is held while the VM is
//! Migrating, on both hosts) → prepare the destination → transfer (the point of no return) →
//! Running on the destination; and the checks migrateVirtualMachine and
//! findHostsForMigration share.

use db::{HostRow, VmPlace, VmRow};
use futures_util::future::BoxFuture;
use model::{HostId, VmId};

use super::{load, spec, state_err, vm_gone, volumes_of, SagaCx, SagaDef, Step, HOST_TIMEOUT};
use crate::core::Core;
use crate::error::{DomainError, DomainResult, ErrorKind};
use crate::saga::SagaData;

/// CloudStack's refusal for VMs with disks on host-local storage.
pub const LOCAL_STORAGE: &str = "Unsupported operation, VM uses Local storage, cannot migrate";

pub async fn uses_local_storage(st: &Core, vm: &VmRow) -> DomainResult<bool> {
    for v in volumes_of(st, vm.id).await? {
        if let Some(p) = v.pool_id {
            let pool = crate::inventory::get(st, db::Infra::StoragePool, "storageid", p).await?;
            if pool.kind == "HOST" {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// Why `dest` cannot take `vm` from its host (None: it can, capacity aside).
pub fn unsuitable(vm: &VmRow, dest: &HostRow) -> Option<String> {
    if Some(dest.id) == vm.host_id {
        return Some(format!(
            "Cannot migrate VM {} to host {}: it is already running there",
            vm.instance_name, dest.name
        ));
    }
    if Some(dest.cluster_id) != vm.cluster_id {
        return Some(format!(
            "Cannot migrate VM {} to host {}: live migration is only possible within the VM's cluster",
            vm.instance_name, dest.name
        ));
    }
    if dest.status != model::HostStatus::Up || dest.resource_state != model::ResourceState::Enabled
    {
        return Some(format!(
            "Host {} is {} and {}: it cannot take VMs",
            dest.name, dest.status, dest.resource_state
        ));
    }
    None
}

pub async fn check_migratable(st: &Core, vm: &VmRow) -> DomainResult<()> {
    if vm.state != model::VmState::Running {
        return crate::error::refuse(format!(
            "VM is not Running, unable to migrate the vm {} (it is {})",
            vm.instance_name, vm.state
        ));
    }
    if uses_local_storage(st, vm).await? {
        return crate::error::refuse(LOCAL_STORAGE);
    }
    Ok(())
}

/// What a running VM needs of a destination host (CPU and memory; its disks stay where they
/// are).
pub fn request(vm: &VmRow) -> placement::Request {
    placement::Request {
        cpus: vm.cpus.clamp(0, u32::MAX as i64) as u32,
        cpu_mhz: vm.cpu_mhz.max(0) as u64,
        memory: (super::held(vm).1.max(0) as u64) << 20,
        disk: 0,
        unreserved_cpu: !vm.reserve_cpu,
        ..Default::default()
    }
}

/// Runs the migration saga of `vm` under `saga_job` (a job, or a job-derived key when one job
/// migrates several VMs).
pub async fn migrate(
    st: &std::sync::Arc<Core>,
    saga_job: model::JobId,
    vm: VmId,
    dest: Option<HostId>,
) -> DomainResult<()> {
    let data = SagaData {
        hostid: dest,
        ..Default::default()
    };
    crate::saga::run(st, saga_job, &MIGRATE, vm.0, data).await?;
    Ok(())
}

pub static MIGRATE: SagaDef = SagaDef {
    first_step_records: false,
    kind: "migrate",
    pivot: Some(2),
    steps: &[
        Step {
            name: "reserve",
            run: reserve_dest,
            undo: Some(release_dest),
        },
        Step {
            name: "prepare",
            run: prepare_dest,
            undo: Some(unprepare_dest),
        },
        Step {
            name: "transfer",
            run: transfer,
            undo: None,
        },
        Step {
            name: "done",
            run: arrived,
            undo: None,
        },
    ],
};

/// Whether `dest` can take `vm` now, checked in `tx` (under the host's lock): None when it
/// can, else why not (a strict affinity group it would break, or its capacity — CPU and
/// memory with its cluster's over-commit, implicit dedication). A host dedicated to another
/// domain or account is refused outright.
pub async fn admit(
    st: &Core,
    tx: &mut db::Conn,
    vm: &VmRow,
    dest_row: &HostRow,
) -> DomainResult<Option<String>> {
    let snap = crate::placing::snapshot(st, vm.zone_id).await?;
    let (Some(h), Some(c)) = (
        snap.hosts.iter().find(|h| h.id == dest_row.id.0),
        snap.clusters.iter().find(|c| c.id == dest_row.cluster_id),
    ) else {
        return Err(DomainError::Internal(
            "destination not in the zone's snapshot".into(),
        ));
    };
    let (account, domains) = crate::placing::owner_of(st, vm).await?;
    let owner = placement::Request {
        owner_account: Some(account),
        owner_domains: domains,
        ..Default::default()
    };
    if placement::dedicated_to_others(h, &owner) {
        return Err(DomainError::refused(
            ErrorKind::Capacity,
            format!(
                "Cannot migrate VM {} to host {}: it is dedicated to another domain or account",
                vm.instance_name, dest_row.name
            ),
        ));
    }
    if let Some(why) = crate::affinity::check_in_tx(tx, vm.id, dest_row.id).await? {
        return Ok(Some(format!(
            "Cannot migrate VM {} to host {}: {why}",
            vm.instance_name, dest_row.name
        )));
    }
    let (cpu, mem) = super::held(vm);
    let implicit = crate::placing::planner_for(st, vm, placement::Planner::FirstFit)
        .await?
        .1;
    let fits = crate::placing::host_takes(tx, h, c, cpu, mem, true).await?
        && crate::placing::implicit_ok(tx, dest_row.id, vm.account_id, implicit).await?;
    Ok((!fits).then(|| {
        format!(
            "Host {} does not have enough capacity for VM {}",
            dest_row.name, vm.instance_name
        )
    }))
}

pub async fn saga_vm(cx: &SagaCx) -> DomainResult<VmRow> {
    load(&cx.st, cx.vm()).await?.ok_or_else(|| vm_gone(cx.vm()))
}

pub fn dest_of(cx: &SagaCx) -> DomainResult<HostId> {
    cx.data.dest.ok_or_else(|| {
        DomainError::Internal(format!("migration saga {} has no destination", cx.job))
    })
}

pub fn reserve_dest(cx: &mut SagaCx) -> BoxFuture<'_, DomainResult<()>> {
    Box::pin(async move {
        let vm = saga_vm(cx).await?;
        if vm.state == model::VmState::Migrating {
            if let Some(d) = vm.dest_host_id {
                cx.data.dest = Some(d);
                cx.data.source = vm.host_id;
                return Ok(()); // resumed
            }
        }
        check_migratable(&cx.st, &vm).await?;
        let st = cx.st.clone();
        let (Some(source), Some(cluster)) = (vm.host_id, vm.cluster_id) else {
            return Err(state_err(&vm, "migrate"));
        };
        let mut avoid = std::collections::BTreeSet::from([source]);
        for _ in 0..8 {
            let dest = match cx.data.hostid {
                Some(h) => h,
                None => {
                    let snap =
                        crate::placing::snapshot_for(&st, vm.zone_id, Some(vm.account_id)).await?;
                    let mut req = placement::Request {
                        cluster: Some(cluster),
                        avoid_hosts: avoid.iter().map(|h| h.0).collect(),
                        seed: vm.seq as u64,
                        ..request(&vm)
                    };
                    crate::affinity::of_vm(&st, vm.id).await?.apply(&mut req);
                    let (account, domains) = crate::placing::owner_of(&st, &vm).await?;
                    req.owner_account = Some(account);
                    req.owner_domains = domains;
                    req.implicit =
                        crate::placing::planner_for(&st, &vm, placement::Planner::FirstFit)
                            .await?
                            .1;
                    let policy = crate::placing::policy(&st.settings);
                    placement::plan(&snap, &req, &policy)
                        .map_err(|e| {
                            DomainError::refused(
                                ErrorKind::Capacity,
                                format!(
                                    "No host in the cluster can take VM {}: {}",
                                    vm.instance_name, e.reason
                                ),
                            )
                        })
                        .map(|p| HostId(p.host))?
                }
            };
            let dest_row = crate::inventory::host(&st, "hostid", dest).await?;
            if let Some(why) = unsuitable(&vm, &dest_row) {
                return crate::error::refuse(why);
            }
            let mut tx = st.store.begin().await?;
            if let Some(why) = admit(&st, &mut tx, &vm, &dest_row).await? {
                drop(tx);
                if cx.data.hostid.is_none() {
                    // Chosen by placement, taken since (capacity, a group member): another one.
                    avoid.insert(dest);
                    continue;
                }
                return Err(DomainError::refused(ErrorKind::Capacity, why));
            }
            if !db::vm_transition(
                &mut tx,
                vm.id,
                &[model::VmState::Running],
                model::VmState::Migrating,
                &VmPlace::migrating_to(dest),
            )
            .await?
            {
                return Err(state_err(&vm, "migrate"));
            }
            tx.commit().await?;
            cx.data.dest = Some(dest);
            cx.data.source = Some(source);
            return Ok(());
        }
        Err(DomainError::refused(
            ErrorKind::Capacity,
            format!("No host in the cluster can take VM {}", vm.instance_name),
        ))
    })
}

pub fn release_dest(cx: &mut SagaCx) -> BoxFuture<'_, DomainResult<()>> {
    Box::pin(async move {
        let mut place = VmPlace::keep();
        place.dest = Some(None);
        let mut tx = cx.st.store.begin().await?;
        db::vm_transition(
            &mut tx,
            cx.vm(),
            &[model::VmState::Migrating],
            model::VmState::Running,
            &place,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    })
}

pub fn prepare_dest(cx: &mut SagaCx) -> BoxFuture<'_, DomainResult<()>> {
    Box::pin(async move {
        let dest = dest_of(cx)?;
        let vm = saga_vm(cx).await?;
        let spec = spec(&cx.st, &vm).await?;
        cx.st
            .hub
            .command_ready(
                dest,
                proto::Command::PrepareMigration {
                    vm: spec,
                    storage: Vec::new(),
                },
                HOST_TIMEOUT,
            )
            .await?;
        Ok(())
    })
}

pub fn unprepare_dest(cx: &mut SagaCx) -> BoxFuture<'_, DomainResult<()>> {
    Box::pin(async move {
        let dest = dest_of(cx)?;
        let vm = saga_vm(cx).await?;
        cx.st
            .hub
            .command_ready(
                dest,
                proto::Command::StopVm {
                    name: vm.instance_name,
                    force: true,
                },
                HOST_TIMEOUT,
            )
            .await?;
        Ok(())
    })
}

pub fn transfer(cx: &mut SagaCx) -> BoxFuture<'_, DomainResult<()>> {
    Box::pin(async move {
        let dest = dest_of(cx)?;
        let source = cx
            .data
            .source
            .ok_or_else(|| DomainError::Internal("migration saga without a source".into()))?;
        let vm = saga_vm(cx).await?;
        let address = crate::inventory::host(&cx.st, "hostid", dest)
            .await?
            .address;
        cx.st
            .hub
            .command_ready(
                source,
                proto::Command::MigrateVm {
                    name: vm.instance_name,
                    dest: address,
                    storage: Vec::new(),
                },
                HOST_TIMEOUT,
            )
            .await?;
        Ok(())
    })
}

pub fn arrived(cx: &mut SagaCx) -> BoxFuture<'_, DomainResult<()>> {
    Box::pin(async move {
        let dest = dest_of(cx)?;
        let h = crate::inventory::host(&cx.st, "hostid", dest).await?;
        let mut tx = cx.st.store.begin().await?;
        db::vm_transition(
            &mut tx,
            cx.vm(),
            &[model::VmState::Migrating],
            model::VmState::Running,
            &VmPlace::on(h.id, h.cluster_id, h.pod_id),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    })
}
