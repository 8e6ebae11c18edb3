//! migrateVolume: a volume moves to another primary storage pool — live for a running VM's
//! disk (the host mirrors it; the guest keeps writing), by a copy otherwise. The `volmigrate`
//! saga: record (Migrating; undo: Ready) → move on the host (the pivot: past it the VM writes
//! to the new file) → done (the volume's pool and path, Ready).

use futures_util::future::BoxFuture;
use model::VolumeState;
use uuid::Uuid;

use crate::core::Core;
use crate::error::{DomainError, DomainResult, ErrorKind};
use crate::saga::SagaData;
use crate::vms::{pool_path, SagaCx, SagaDef, Step};

/// A mirror of a large disk under TCG takes a while.
const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3600);

pub static VOLMIGRATE: SagaDef = SagaDef {
    first_step_records: false,
    kind: "volmigrate",
    pivot: Some(1),
    steps: &[
        Step {
            name: "record",
            run: record,
            undo: Some(unrecord),
        },
        Step {
            name: "move",
            run: move_it,
            undo: None,
        },
        Step {
            name: "done",
            run: done,
            undo: None,
        },
    ],
};

/// Checks a move of `v` to `pool` (an Up pool of the volume's zone, not its own, that the
/// VM's hosts reach; a running VM's disk only with `live`).
pub async fn check(st: &Core, v: &db::VolumeRow, pool: Uuid, live: bool) -> DomainResult<()> {
    let (VolumeState::Ready, Some(from)) = (v.state, v.pool_id) else {
        return crate::error::refuse(format!(
            "Volume {} is {}: only a volume created on primary storage can be migrated",
            v.name, v.state
        ));
    };
    if from == pool {
        return crate::error::refuse(format!("Volume {} is already on that storage pool", v.name));
    }
    let p = crate::inventory::get(st, db::Infra::StoragePool, "storageid", pool).await?;
    if p.zone_id != v.zone_id {
        return crate::error::refuse("The storage pool is not in the volume's zone");
    }
    if p.state != "Up" {
        return crate::error::refuse(format!("Storage pool {} is {}", p.name, p.state));
    }
    if p.kind == "HOST" {
        return crate::error::refuse(
            "Volumes move between shared pools (not to a host's local storage)",
        );
    }
    let from_row = crate::inventory::get(st, db::Infra::StoragePool, "storageid", from).await?;
    if from_row.kind == "HOST" {
        return crate::error::refuse("A volume on a host's local storage cannot be migrated");
    }
    if let Some(vm) = v.vm_id {
        let vm = crate::vms::load(st, vm)
            .await?
            .ok_or_else(|| crate::vms::vm_gone(vm))?;
        crate::vmsnapshots::refuse_volume_change(st, vm.id).await?;
        match vm.state {
            model::VmState::Running if !live => {
                return crate::error::refuse(format!(
                    "Volume {} is attached to running VM {}: migrate it with livemigrate=true, or stop the VM",
                    v.name, vm.display_name
                ))
            }
            model::VmState::Running | model::VmState::Stopped => {}
            _ => return Err(crate::vms::state_err(&vm, "migrate a volume of")),
        }
        let root = crate::volumes::root_pool(st, vm.id).await?;
        // The VM's disks must stay reachable from where it runs: a root goes anywhere its
        // cluster reaches; a data disk to a pool the root's hosts reach.
        let reach_from = if v.vol_type == "ROOT" {
            Some(from)
        } else {
            root
        };
        if !crate::volumes::reachable(st, reach_from, pool).await? {
            return crate::error::refuse(format!(
                "Storage pool {} cannot be reached by VM {}'s hosts",
                p.name, vm.display_name
            ));
        }
    }
    Ok(())
}

pub async fn run(
    st: &std::sync::Arc<Core>,
    job: model::JobId,
    volume: model::VolumeId,
    pool: Uuid,
) -> DomainResult<()> {
    let data = SagaData {
        pool: Some(pool),
        ..Default::default()
    };
    crate::saga::run(st, job, &VOLMIGRATE, volume.0, data).await?;
    Ok(())
}

async fn volume(cx: &SagaCx) -> DomainResult<db::VolumeRow> {
    crate::volumes::load(&cx.st, model::VolumeId(cx.resource))
        .await?
        .ok_or_else(|| DomainError::invalid_id("volumeid", &cx.resource.to_string()))
}

fn record(cx: &mut SagaCx) -> BoxFuture<'_, DomainResult<()>> {
    Box::pin(async move {
        let v = volume(cx).await?;
        if v.state == VolumeState::Migrating && cx.data.source.is_some() {
            return Ok(()); // resumed
        }
        let pool = cx
            .data
            .pool
            .ok_or_else(|| DomainError::Internal("volume migration without a pool".into()))?;
        if v.state == VolumeState::Ready {
            check(&cx.st, &v, pool, true).await?;
        }
        let vm = match v.vm_id {
            Some(vm) => crate::vms::load(&cx.st, vm).await?,
            None => None,
        };
        let host = match vm.as_ref().filter(|vm| vm.state == model::VmState::Running) {
            Some(vm) => vm.host_id,
            None => {
                let candidates: Vec<model::HostId> = v
                    .host_id
                    .into_iter()
                    .chain(vm.as_ref().and_then(|vm| vm.last_host_id))
                    .collect();
                cx.st.hub.first_reachable(&candidates).await
            }
        };
        let host = host.ok_or_else(|| {
            DomainError::refused(
                ErrorKind::Unavailable,
                format!(
                    "No host that can reach volume {}'s storage is connected",
                    v.name
                ),
            )
        })?;
        cx.data.source = Some(host);
        cx.data.from_pool = v.pool_id;
        let mut tx = cx.st.store.begin().await?;
        db::volume_transition(
            &mut tx,
            v.id,
            &[VolumeState::Ready],
            VolumeState::Migrating,
            None,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    })
}

fn unrecord(cx: &mut SagaCx) -> BoxFuture<'_, DomainResult<()>> {
    Box::pin(async move {
        let mut tx = cx.st.store.begin().await?;
        db::volume_transition(
            &mut tx,
            model::VolumeId(cx.resource),
            &[VolumeState::Migrating],
            VolumeState::Ready,
            None,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    })
}

fn move_it(cx: &mut SagaCx) -> BoxFuture<'_, DomainResult<()>> {
    Box::pin(async move {
        let v = volume(cx).await?;
        let (Some(host), Some(from), Some(to)) = (cx.data.source, cx.data.from_pool, cx.data.pool)
        else {
            return Err(DomainError::Internal(
                "volume migration without its plan".into(),
            ));
        };
        let vm = match v.vm_id {
            Some(vm) => crate::vms::load(&cx.st, vm)
                .await?
                .filter(|vm| vm.state == model::VmState::Running)
                .map(|vm| vm.instance_name),
            None => None,
        };
        let reply = cx
            .st
            .hub
            .command_ready(
                host,
                proto::Command::MigrateVolume {
                    volume_id: v.id.into(),
                    from_pool: pool_path(&cx.st, from).await?,
                    to_pool: pool_path(&cx.st, to).await?,
                    vm,
                },
                TIMEOUT,
            )
            .await?;
        cx.data.path = reply["path"].as_str().map(str::to_string);
        Ok(())
    })
}

fn done(cx: &mut SagaCx) -> BoxFuture<'_, DomainResult<()>> {
    Box::pin(async move {
        let v = volume(cx).await?;
        let to = cx
            .data
            .pool
            .ok_or_else(|| DomainError::Internal("volume migration without a pool".into()))?;
        let path = match cx.data.path.clone() {
            Some(p) => p,
            None => format!("{}/{}.qcow2", pool_path(&cx.st, to).await?, v.id),
        };
        let mut tx = cx.st.store.begin().await?;
        db::volume_transition(
            &mut tx,
            v.id,
            &[VolumeState::Migrating],
            VolumeState::Ready,
            Some(Some((to, path))),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    })
}
