//! VM snapshots: the `vmsnapshot` saga (record → take on the VM's host → done), revert and
//! delete. A VM snapshot is an internal snapshot named by its `tag` in every disk of the VM,
//! with the guest's memory when taken with it (the VM must run then; reverting one resumes
//! the guest from that moment). Disks-only snapshots are reverted with the VM stopped.

use db::VmSnapshotRow;
use futures_util::future::BoxFuture;
use model::{VmSnapshotId, VmSnapshotState as S};

use crate::core::Core;
use crate::error::{DomainError, DomainResult, ErrorKind};
use crate::vms::{SagaCx, SagaDef, Step};

/// Writing a guest's memory under TCG takes a while.
const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1800);

pub async fn load(st: &Core, id: VmSnapshotId) -> DomainResult<Option<VmSnapshotRow>> {
    let mut c = st.store.read().await?;
    Ok(db::vm_snapshot_list(
        &mut c,
        &db::VmSnapshotFilter {
            ids: vec![id],
            ..Default::default()
        },
    )
    .await?
    .into_iter()
    .next())
}

async fn transition(st: &Core, id: VmSnapshotId, from: &[S], to: S) -> DomainResult<bool> {
    let mut tx = st.store.begin().await?;
    let moved = db::vm_snapshot_transition(&mut tx, id, from, to).await?;
    tx.commit().await?;
    Ok(moved)
}

/// The VM's disks as its host knows them (created volumes, root first).
async fn disks(st: &Core, vm: model::VmId) -> DomainResult<Vec<proto::DiskSpec>> {
    Ok(crate::vms::volumes_of(st, vm)
        .await?
        .iter()
        .filter(|v| v.state == model::VolumeState::Ready)
        .map(crate::volumes::disk_of)
        .collect())
}

/// The host to act on: a running VM's, else one that created or last ran its root.
async fn host_for(st: &Core, vm: &db::VmRow) -> DomainResult<model::HostId> {
    if vm.state == model::VmState::Running {
        if let Some(h) = vm.host_id {
            return Ok(h);
        }
    }
    let root = crate::vms::volumes_of(st, vm.id)
        .await?
        .into_iter()
        .find(|v| v.vol_type == "ROOT");
    let candidates: Vec<model::HostId> = root
        .and_then(|r| r.host_id)
        .into_iter()
        .chain(vm.last_host_id)
        .collect();
    st.hub.first_reachable(&candidates).await.ok_or_else(|| {
        DomainError::refused(
            ErrorKind::Unavailable,
            format!(
                "No host that can reach VM {}'s disks is connected",
                vm.display_name
            ),
        )
    })
}

/// What the VM must be for a snapshot to be taken (with memory: Running).
pub fn check_vm(vm: &db::VmRow, memory: bool) -> DomainResult<()> {
    let ok = match vm.state {
        model::VmState::Running => true,
        model::VmState::Stopped => !memory,
        _ => false,
    };
    if ok {
        return Ok(());
    }
    crate::error::refuse(format!(
        "VM {} is {}: a VM snapshot {} is taken of a {} VM",
        vm.display_name,
        vm.state,
        if memory {
            "with memory"
        } else {
            "of the disks"
        },
        if memory {
            "Running"
        } else {
            "Running or Stopped"
        }
    ))
}

// --- the saga --------------------------------------------------------------------------------

/// vmsnapshot: record (Creating; undo: Error) → take on the host (undo: delete the tag) →
/// done (Ready, the VM's current snapshot). Past the take it completes.
pub static VMSNAPSHOT: SagaDef = SagaDef {
    first_step_records: false,
    kind: "vmsnapshot",
    pivot: Some(1),
    steps: &[
        Step {
            name: "record",
            run: record,
            undo: Some(unrecord),
        },
        Step {
            name: "take",
            run: take,
            undo: Some(untake),
        },
        Step {
            name: "done",
            run: done,
            undo: None,
        },
    ],
};

pub async fn run(
    st: &std::sync::Arc<Core>,
    job: model::JobId,
    id: VmSnapshotId,
) -> DomainResult<()> {
    crate::saga::run(st, job, &VMSNAPSHOT, id.0, Default::default()).await?;
    Ok(())
}

async fn saga_row(cx: &SagaCx) -> DomainResult<(VmSnapshotRow, db::VmRow)> {
    let s = load(&cx.st, VmSnapshotId(cx.resource))
        .await?
        .ok_or_else(|| DomainError::invalid_id("vmsnapshotid", &cx.resource.to_string()))?;
    let vm = crate::vms::load(&cx.st, s.vm_id)
        .await?
        .ok_or_else(|| crate::vms::vm_gone(s.vm_id))?;
    Ok((s, vm))
}

fn record(cx: &mut SagaCx) -> BoxFuture<'_, DomainResult<()>> {
    Box::pin(async move {
        let (s, vm) = saga_row(cx).await?;
        if s.state != S::Allocated && cx.data.host.is_some() {
            return Ok(()); // resumed
        }
        if s.state == S::Allocated {
            check_vm(&vm, s.memory)?;
        }
        cx.data.host = Some(host_for(&cx.st, &vm).await?);
        transition(&cx.st, s.id, &[S::Allocated], S::Creating).await?;
        Ok(())
    })
}

fn unrecord(cx: &mut SagaCx) -> BoxFuture<'_, DomainResult<()>> {
    Box::pin(async move {
        transition(
            &cx.st,
            VmSnapshotId(cx.resource),
            &[S::Allocated, S::Creating],
            S::Error,
        )
        .await?;
        Ok(())
    })
}

fn take(cx: &mut SagaCx) -> BoxFuture<'_, DomainResult<()>> {
    Box::pin(async move {
        let (s, vm) = saga_row(cx).await?;
        if s.state != S::Creating {
            return Ok(());
        }
        let host = cx
            .data
            .host
            .ok_or_else(|| DomainError::Internal("VM snapshot saga without a host".into()))?;
        cx.data.created = true;
        cx.st
            .hub
            .command_ready(
                host,
                proto::Command::CreateVmSnapshot {
                    vm: vm.instance_name.clone(),
                    tag: s.tag.clone(),
                    memory: s.memory,
                    disks: disks(&cx.st, vm.id).await?,
                },
                TIMEOUT,
            )
            .await?;
        Ok(())
    })
}

fn untake(cx: &mut SagaCx) -> BoxFuture<'_, DomainResult<()>> {
    Box::pin(async move {
        let (Some(host), true) = (cx.data.host, cx.data.created) else {
            return Ok(());
        };
        let (s, vm) = saga_row(cx).await?;
        cx.st
            .hub
            .command_ready(
                host,
                proto::Command::DeleteVmSnapshot {
                    vm: vm.instance_name.clone(),
                    tag: s.tag.clone(),
                    disks: disks(&cx.st, vm.id).await?,
                },
                TIMEOUT,
            )
            .await?;
        Ok(())
    })
}

fn done(cx: &mut SagaCx) -> BoxFuture<'_, DomainResult<()>> {
    Box::pin(async move {
        let (s, vm) = saga_row(cx).await?;
        let mut tx = cx.st.store.begin().await?;
        db::vm_snapshot_transition(&mut tx, s.id, &[S::Creating], S::Ready).await?;
        db::vm_snapshot_set_current(&mut tx, vm.id, s.id).await?;
        tx.commit().await?;
        Ok(())
    })
}

// --- revert, delete --------------------------------------------------------------------------

/// What the VM must be to revert to `s`: Running for a snapshot with memory (the guest
/// continues from it), Stopped for one of the disks.
pub fn check_revert(s: &VmSnapshotRow, vm: &db::VmRow) -> DomainResult<()> {
    let want = if s.memory {
        model::VmState::Running
    } else {
        model::VmState::Stopped
    };
    if s.state != S::Ready {
        return crate::error::refuse(format!(
            "VM snapshot {} is {}: only a Ready one can be reverted to",
            s.display_name, s.state
        ));
    }
    if vm.state != want {
        return crate::error::refuse(format!(
            "VM {} is {}: a snapshot {} is reverted to with the VM {want}",
            vm.display_name,
            vm.state,
            if s.memory {
                "with memory"
            } else {
                "of the disks"
            }
        ));
    }
    Ok(())
}

pub async fn revert(st: &Core, id: VmSnapshotId) -> DomainResult<()> {
    let s = load(st, id)
        .await?
        .ok_or_else(|| DomainError::invalid_id("vmsnapshotid", &id.to_string()))?;
    let vm = crate::vms::load(st, s.vm_id)
        .await?
        .ok_or_else(|| crate::vms::vm_gone(s.vm_id))?;
    if s.state != S::Reverting {
        check_revert(&s, &vm)?;
        transition(st, id, &[S::Ready], S::Reverting).await?;
    }
    let host = host_for(st, &vm).await?;
    let r = st
        .hub
        .command_ready(
            host,
            proto::Command::RevertVmSnapshot {
                vm: vm.instance_name.clone(),
                tag: s.tag.clone(),
                memory: s.memory,
                disks: disks(st, vm.id).await?,
            },
            TIMEOUT,
        )
        .await;
    let mut tx = st.store.begin().await?;
    db::vm_snapshot_transition(&mut tx, id, &[S::Reverting], S::Ready).await?;
    if r.is_ok() {
        db::vm_snapshot_set_current(&mut tx, vm.id, id).await?;
    }
    tx.commit().await?;
    r?;
    Ok(())
}

pub async fn delete(st: &Core, id: VmSnapshotId) -> DomainResult<()> {
    let Some(s) = load(st, id).await? else {
        return Ok(());
    };
    let vm = crate::vms::load(st, s.vm_id)
        .await?
        .ok_or_else(|| crate::vms::vm_gone(s.vm_id))?;
    if matches!(s.state, S::Ready | S::Error) {
        transition(st, id, &[S::Ready, S::Error], S::Expunging).await?;
    } else if s.state != S::Expunging {
        return crate::error::refuse(format!(
            "VM snapshot {} is {}: it can be deleted when Ready",
            s.display_name, s.state
        ));
    }
    let host = host_for(st, &vm).await?;
    st.hub
        .command_ready(
            host,
            proto::Command::DeleteVmSnapshot {
                vm: vm.instance_name.clone(),
                tag: s.tag.clone(),
                disks: disks(st, vm.id).await?,
            },
            TIMEOUT,
        )
        .await?;
    transition(st, id, &[S::Expunging], S::Removed).await?;
    Ok(())
}

/// A refusal when the VM has VM snapshots (its disks may not change: CloudStack's rule).
pub async fn refuse_volume_change(st: &Core, vm: model::VmId) -> DomainResult<()> {
    let n = {
        let mut c = st.store.read().await?;
        db::vm_snapshot_count(&mut c, vm).await?
    };
    if n > 0 {
        return crate::error::refuse(
            "The VM has VM snapshots: delete them before attaching, detaching or resizing its volumes",
        );
    }
    Ok(())
}
