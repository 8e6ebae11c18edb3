//! migrateVirtualMachineWithVolume: a running VM moves to a host that need not reach its
//! storage — another cluster, or off a host's local storage — and the volumes that host cannot
//! reach move with it, live (the source mirrors each disk into the destination's new file over
//! NBD; see `agent::qemu::migration`). The `migratestorage` saga: reserve (the destination's
//! capacity; VM Migrating, moving volumes Migrating; undo: back) → prepare (the destination
//! creates and exports the new files and waits for the VM; undo: stopped, files deleted) →
//! transfer (the pivot: the VM runs on the destination from its new files) → done (VM on the
//! destination, volumes on their new pools, the exports ended, the old files deleted).

use std::collections::BTreeMap;

use db::{HostRow, VmPlace, VmRow};
use futures_util::future::BoxFuture;
use model::{HostId, VmId, VmState, VolumeId, VolumeState};
use uuid::Uuid;

use super::migrate::{admit, dest_of, saga_vm};
use super::{pool_path, spec, state_err, volumes_of, SagaCx, SagaDef, Step, HOST_TIMEOUT};
use crate::core::Core;
use crate::error::{DomainError, DomainResult, ErrorKind};
use crate::saga::{SagaData, VolumeMove};

/// Mirroring whole disks under TCG takes a while.
const TRANSFER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3600);

pub static MIGRATE_STORAGE: SagaDef = SagaDef {
    first_step_records: false,
    kind: "migratestorage",
    pivot: Some(2),
    steps: &[
        Step {
            name: "reserve",
            run: reserve,
            undo: Some(release),
        },
        Step {
            name: "prepare",
            run: prepare,
            undo: Some(unprepare),
        },
        Step {
            name: "transfer",
            run: transfer,
            undo: None,
        },
        Step {
            name: "done",
            run: done,
            undo: None,
        },
    ],
};

/// Runs the saga: `vm` to `dest`, with `pools` (volume → pool) asked for; volumes not named
/// stay where they are when `dest` reaches them, else go to a pool `dest` reaches.
pub async fn run(
    st: &std::sync::Arc<Core>,
    job: model::JobId,
    vm: VmId,
    dest: HostId,
    pools: &[(VolumeId, Uuid)],
) -> DomainResult<()> {
    let data = SagaData {
        hostid: Some(dest),
        moves: pools
            .iter()
            .map(|(v, p)| VolumeMove {
                volume: *v,
                to_pool: *p,
                from_pool: None,
                from_path: None,
                path: None,
                size: 0,
            })
            .collect(),
        ..Default::default()
    };
    crate::saga::run(st, job, &MIGRATE_STORAGE, vm.0, data).await?;
    Ok(())
}

/// The checks the edge makes before the job exists and the saga makes again: the VM runs,
/// the destination is another Up, Enabled host of its zone and hypervisor; every volume asked
/// for is the VM's. Returns the plan: each volume that moves, with its source pool and file.
/// `resuming`: the saga's own reservation is already recorded (VM and volumes Migrating).
pub async fn plan(
    st: &Core,
    vm: &VmRow,
    dest: &HostRow,
    asked: &[(VolumeId, Uuid)],
    resuming: bool,
) -> DomainResult<Vec<VolumeMove>> {
    let migrating = resuming && vm.state == VmState::Migrating;
    if vm.state != VmState::Running && !migrating {
        return crate::error::refuse(format!(
            "VM {} is {}: only a Running VM migrates with its volumes",
            vm.instance_name, vm.state
        ));
    }
    let Some(source) = vm.host_id else {
        return Err(state_err(vm, "migrate"));
    };
    if dest.id == source {
        return crate::error::refuse(format!(
            "VM {} already runs on host {}",
            vm.instance_name, dest.name
        ));
    }
    if dest.zone_id != vm.zone_id {
        return crate::error::refuse("The destination host is not in the VM's zone");
    }
    if dest.status != model::HostStatus::Up || dest.resource_state != model::ResourceState::Enabled
    {
        return crate::error::refuse(format!(
            "Host {} is {} and {}: it cannot take VMs",
            dest.name, dest.status, dest.resource_state
        ));
    }
    let src = crate::inventory::host(st, "hostid", source).await?;
    if src.hypervisor != dest.hypervisor {
        return crate::error::refuse(format!(
            "Host {} runs {}, the VM's host {}: a VM migrates between hosts of one hypervisor",
            dest.name, dest.hypervisor, src.hypervisor
        ));
    }
    crate::vmsnapshots::refuse_volume_change(st, vm.id).await?;
    let vols = volumes_of(st, vm.id).await?;
    let asked: BTreeMap<VolumeId, Uuid> = asked.iter().copied().collect();
    for v in asked.keys() {
        if !vols.iter().any(|x| x.id == *v) {
            return crate::error::refuse(format!(
                "Volume {v} is not attached to VM {}",
                vm.instance_name
            ));
        }
    }
    let snap = crate::placing::snapshot(st, vm.zone_id).await?;
    let policy = crate::placing::policy(&st.settings);
    let Some(h) = snap.hosts.iter().find(|h| h.id == dest.id.0) else {
        return Err(DomainError::Internal(
            "destination not in the zone's snapshot".into(),
        ));
    };
    let mut moves = Vec::new();
    // Pools planned so far, with what this plan adds to them.
    let mut adds: BTreeMap<Uuid, u64> = BTreeMap::new();
    for v in &vols {
        let state_ok =
            v.state == VolumeState::Ready || (migrating && v.state == VolumeState::Migrating);
        let (true, Some(from)) = (state_ok, v.pool_id) else {
            return crate::error::refuse(format!(
                "Volume {} is {}: it cannot migrate",
                v.name, v.state
            ));
        };
        let size = v.size.max(0) as u64;
        let from_pool = snap.pools.iter().find(|p| p.id == from);
        let local = matches!(
            from_pool.map(|p| &p.scope),
            Some(placement::PoolScope::Host(_))
        );
        let reaches = |p: &placement::Pool, local: bool| {
            let mut p = p.clone();
            p.allocated += adds.get(&p.id).copied().unwrap_or(0);
            let req = placement::Request {
                local_storage: local,
                disk: size,
                ..Default::default()
            };
            placement::pool_fits(&p, h, &req, &policy)
        };
        let to = match asked.get(&v.id) {
            Some(p) => {
                let pool = snap
                    .pools
                    .iter()
                    .find(|x| x.id == *p)
                    .ok_or_else(|| DomainError::invalid_id("migrateto.pool", &p.to_string()))?;
                let local = matches!(pool.scope, placement::PoolScope::Host(_));
                if *p != from && !reaches(pool, local) {
                    return crate::error::refuse(format!(
                        "Storage pool {p} cannot take volume {}: host {} does not reach it, it is not Up, or it has no room",
                        v.name, dest.name
                    ));
                }
                *p
            }
            None => {
                let stays = from_pool.is_some_and(|p| {
                    let mut p = p.clone();
                    p.allocated = 0;
                    let req = placement::Request {
                        local_storage: local,
                        ..Default::default()
                    };
                    placement::pool_fits(&p, h, &req, &policy)
                });
                if stays {
                    from
                } else {
                    // Same kind first (local to local, shared to shared), then the other.
                    let pick = snap
                        .pools
                        .iter()
                        .find(|p| reaches(p, local))
                        .or_else(|| snap.pools.iter().find(|p| reaches(p, !local)))
                        .ok_or_else(|| {
                            DomainError::refused(
                                ErrorKind::Capacity,
                                format!(
                                    "No storage pool that host {} reaches can take volume {}",
                                    dest.name, v.name
                                ),
                            )
                        })?;
                    pick.id
                }
            }
        };
        if to == from {
            continue;
        }
        *adds.entry(to).or_default() += size;
        moves.push(VolumeMove {
            volume: v.id,
            to_pool: to,
            from_pool: Some(from),
            from_path: v.path.clone(),
            path: None,
            size,
        });
    }
    if moves.is_empty() && Some(dest.cluster_id) != vm.cluster_id {
        return crate::error::refuse(format!(
            "Host {} does not reach VM {}'s storage and no volume would move",
            dest.name, vm.instance_name
        ));
    }
    Ok(moves)
}

fn reserve(cx: &mut SagaCx) -> BoxFuture<'_, DomainResult<()>> {
    Box::pin(async move {
        let vm = saga_vm(cx).await?;
        if vm.state == VmState::Migrating && cx.data.dest.is_some() {
            return Ok(()); // resumed: the plan is in the saga's data
        }
        let dest = cx
            .data
            .hostid
            .ok_or_else(|| DomainError::Internal("storage migration without a host".into()))?;
        // The reservation committed but its plan was not saved (a crash in between): the plan
        // again, from the same volumes, without a second reservation.
        let resumed = vm.state == VmState::Migrating && vm.dest_host_id == Some(dest);
        let dest_row = crate::inventory::host(&cx.st, "hostid", dest).await?;
        let asked: Vec<(VolumeId, Uuid)> = cx
            .data
            .moves
            .iter()
            .map(|m| (m.volume, m.to_pool))
            .collect();
        let mut moves = plan(&cx.st, &vm, &dest_row, &asked, resumed).await?;
        for m in &mut moves {
            m.path = Some(format!(
                "{}/{}.qcow2",
                pool_path(&cx.st, m.to_pool).await?,
                m.volume
            ));
        }
        if resumed {
            cx.data.dest = Some(dest);
            cx.data.source = vm.host_id;
            cx.data.moves = moves;
            return Ok(());
        }
        let mut tx = cx.st.store.begin().await?;
        if let Some(why) = admit(&cx.st, &mut tx, &vm, &dest_row).await? {
            return Err(DomainError::refused(ErrorKind::Capacity, why));
        }
        if !db::vm_transition(
            &mut tx,
            vm.id,
            &[VmState::Running],
            VmState::Migrating,
            &VmPlace::migrating_to(dest),
        )
        .await?
        {
            return Err(state_err(&vm, "migrate"));
        }
        for m in &moves {
            if !db::volume_transition(
                &mut tx,
                m.volume,
                &[VolumeState::Ready],
                VolumeState::Migrating,
                None,
            )
            .await?
            {
                return crate::error::refuse(format!(
                    "Volume {} changed while the migration was planned",
                    m.volume
                ));
            }
        }
        tx.commit().await?;
        cx.data.dest = Some(dest);
        cx.data.source = vm.host_id;
        cx.data.moves = moves;
        Ok(())
    })
}

fn release(cx: &mut SagaCx) -> BoxFuture<'_, DomainResult<()>> {
    Box::pin(async move {
        let mut place = VmPlace::keep();
        place.dest = Some(None);
        let mut tx = cx.st.store.begin().await?;
        db::vm_transition(
            &mut tx,
            cx.vm(),
            &[VmState::Migrating],
            VmState::Running,
            &place,
        )
        .await?;
        for m in &cx.data.moves {
            db::volume_transition(
                &mut tx,
                m.volume,
                &[VolumeState::Migrating],
                VolumeState::Ready,
                None,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    })
}

fn storage_moves(data: &SagaData) -> DomainResult<Vec<proto::StorageMove>> {
    data.moves
        .iter()
        .map(|m| {
            Ok(proto::StorageMove {
                volume_id: m.volume.into(),
                path: m.path.clone().ok_or_else(|| {
                    DomainError::Internal(format!("volume {} has no new path", m.volume))
                })?,
                size_bytes: m.size,
            })
        })
        .collect()
}

fn prepare(cx: &mut SagaCx) -> BoxFuture<'_, DomainResult<()>> {
    Box::pin(async move {
        let dest = dest_of(cx)?;
        let vm = saga_vm(cx).await?;
        // The new files must be exactly as large as the disks (a root grown to its template's
        // size is larger than the volume's recorded size): the source says.
        let source = cx
            .data
            .source
            .ok_or_else(|| DomainError::Internal("migration saga without a source".into()))?;
        let reply = cx
            .st
            .hub
            .command_ready(
                source,
                proto::Command::DiskSizes {
                    vm: vm.instance_name.clone(),
                    volumes: cx.data.moves.iter().map(|m| m.volume.into()).collect(),
                },
                HOST_TIMEOUT,
            )
            .await?;
        for m in &mut cx.data.moves {
            if let Some(n) = reply["sizes"][m.volume.to_string()].as_u64() {
                m.size = n;
            }
        }
        let mut spec = spec(&cx.st, &vm).await?;
        let storage = storage_moves(&cx.data)?;
        for d in &mut spec.disks {
            if let Some(m) = storage.iter().find(|m| m.volume_id == d.volume_id) {
                d.path = m.path.clone();
            }
        }
        cx.st
            .hub
            .command_ready(
                dest,
                proto::Command::PrepareMigration { vm: spec, storage },
                HOST_TIMEOUT,
            )
            .await?;
        Ok(())
    })
}

fn unprepare(cx: &mut SagaCx) -> BoxFuture<'_, DomainResult<()>> {
    Box::pin(async move {
        let dest = dest_of(cx)?;
        // The incoming VM stopped (as plain migration's undo), then its new files deleted.
        super::migrate::unprepare_dest(cx).await?;
        for m in &cx.data.moves {
            let to = pool_path(&cx.st, m.to_pool).await?;
            if let Some(from) = m.from_pool {
                // Never the VM's own file (two pools on one directory).
                if pool_path(&cx.st, from).await? == to {
                    continue;
                }
            }
            cx.st
                .hub
                .command_ready(
                    dest,
                    proto::Command::DeleteVolume {
                        pool_path: to,
                        volume_id: m.volume.into(),
                    },
                    HOST_TIMEOUT,
                )
                .await?;
        }
        Ok(())
    })
}

fn transfer(cx: &mut SagaCx) -> BoxFuture<'_, DomainResult<()>> {
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
                    storage: cx.data.moves.iter().map(|m| m.volume.into()).collect(),
                },
                TRANSFER_TIMEOUT,
            )
            .await?;
        Ok(())
    })
}

fn done(cx: &mut SagaCx) -> BoxFuture<'_, DomainResult<()>> {
    Box::pin(async move {
        let dest = dest_of(cx)?;
        let h = crate::inventory::host(&cx.st, "hostid", dest).await?;
        let vm = saga_vm(cx).await?;
        let mut tx = cx.st.store.begin().await?;
        for m in &cx.data.moves {
            let path = m.path.clone().unwrap_or_default();
            db::volume_transition(
                &mut tx,
                m.volume,
                &[VolumeState::Migrating],
                VolumeState::Ready,
                Some(Some((m.to_pool, path))),
            )
            .await?;
            // The host that holds the file now (local storage: the only one that can).
            db::volume_set_host(&mut tx, m.volume, Some(dest)).await?;
        }
        db::vm_transition(
            &mut tx,
            cx.vm(),
            &[VmState::Migrating],
            VmState::Running,
            &VmPlace::on(h.id, h.cluster_id, h.pod_id),
        )
        .await?;
        tx.commit().await?;
        // Housekeeping past the pivot: the exports closed, the old files deleted. A host that
        // cannot be reached now keeps a stale file (logged), never the VM's disk.
        if let Err(e) = cx
            .st
            .hub
            .command_ready(
                dest,
                proto::Command::EndDiskExport {
                    name: vm.instance_name.clone(),
                },
                HOST_TIMEOUT,
            )
            .await
        {
            tracing::warn!(vm = %vm.instance_name, error = %e, "could not end the disk exports");
        }
        if let Some(source) = cx.data.source {
            for m in &cx.data.moves {
                let Some(from) = m.from_pool else { continue };
                let from = pool_path(&cx.st, from).await?;
                if from == pool_path(&cx.st, m.to_pool).await? {
                    continue; // the same directory: the file is the VM's disk now
                }
                let cmd = proto::Command::DeleteVolume {
                    pool_path: from,
                    volume_id: m.volume.into(),
                };
                if let Err(e) = cx.st.hub.command_ready(source, cmd, HOST_TIMEOUT).await {
                    tracing::warn!(volume = %m.volume, error = %e,
                        "the volume's old file could not be deleted on the source host");
                }
            }
        }
        Ok(())
    })
}
