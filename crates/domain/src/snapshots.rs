//! Volume snapshots: the `snapshot` saga (record → take a point-in-time copy on the volume's
//! host → back it up to the zone's image store → done), revert, delete, the retention of
//! snapshot policies, and their schedules (CloudStack's `MM`, `MM:HH`, `MM:HH:DD` forms).

use std::path::PathBuf;

use db::{Attrs, SnapshotRow};
use futures_util::future::BoxFuture;
use model::{SnapshotId, SnapshotState as S};
use uuid::Uuid;

pub use model::schedule::{zone_offset, Interval, Schedule};

use crate::core::Core;
use crate::error::{DomainError, DomainResult};
use crate::vms::{pool_path, SagaCx, SagaDef, Step, HOST_TIMEOUT};

/// A backup of a large disk takes a while (TCG, a slow image store).
const BACKUP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3600);

// --- where snapshots are kept ----------------------------------------------------------------

/// The zone's image store (the first writable one): its id and path on the management server.
pub async fn zone_store(st: &Core, zone: Uuid) -> DomainResult<(Uuid, PathBuf)> {
    let mut c = st.store.read().await?;
    let f = db::InfraFilter {
        zone_id: Some(zone),
        ..Default::default()
    };
    let s = db::infra_list(&mut c, db::Infra::ImageStore, &f)
        .await?
        .0
        .into_iter()
        // A read-only store (updateImageStore readonly=true) takes no new files.
        .find(|s| s.attrs["readonly"] != true)
        .ok_or_else(|| {
            DomainError::param(
                "The zone has no writable image store to keep snapshots on: add one with addImageStore",
            )
        })?;
    let path = s.attrs["path"]
        .as_str()
        .map(PathBuf::from)
        .ok_or_else(|| DomainError::Internal(format!("image store {} has no path", s.id)))?;
    Ok((s.id, path))
}

/// A snapshot's file, relative to its image store.
pub fn rel_path(volume: model::VolumeId, id: SnapshotId) -> String {
    format!("snapshots/{volume}/{id}.qcow2")
}

/// The snapshot's file on this server, when it has one.
pub async fn file_of(st: &Core, s: &SnapshotRow) -> DomainResult<Option<PathBuf>> {
    let (Some(store), Some(rel)) = (s.store_id, s.path.as_deref()) else {
        return Ok(None);
    };
    if rel.is_empty() {
        return Ok(None);
    }
    let row = {
        let mut c = st.store.read().await?;
        db::infra_get(&mut c, db::Infra::ImageStore, store).await?
    };
    Ok(row
        .and_then(|r| r.attrs["path"].as_str().map(PathBuf::from))
        .map(|p| p.join(rel)))
}

pub async fn load(st: &Core, id: SnapshotId) -> DomainResult<Option<SnapshotRow>> {
    let mut c = st.store.read().await?;
    Ok(db::snapshot_get(&mut c, id).await?)
}

async fn transition(st: &Core, id: SnapshotId, from: &[S], to: S) -> DomainResult<bool> {
    let mut tx = st.store.begin().await?;
    let moved = db::snapshot_transition(&mut tx, id, from, to).await?;
    tx.commit().await?;
    Ok(moved)
}

// --- the snapshot saga -----------------------------------------------------------------------

/// snapshot: record (Creating; undo: Error) → take the copy on the host (undo: delete it) →
/// back it up to the image store (BackingUp) → done (BackedUp; a policy's oldest beyond its
/// `maxsnaps` go). Past the backup it completes.
pub static SNAPSHOT: SagaDef = SagaDef {
    first_step_records: false,
    kind: "snapshot",
    pivot: Some(2),
    steps: &[
        Step {
            name: "record",
            run: snap_record,
            undo: Some(snap_unrecord),
        },
        Step {
            name: "take",
            run: snap_take,
            undo: Some(snap_untake),
        },
        Step {
            name: "backup",
            run: snap_backup,
            undo: None,
        },
        Step {
            name: "done",
            run: snap_done,
            undo: None,
        },
    ],
};

pub async fn run(st: &std::sync::Arc<Core>, job: model::JobId, id: SnapshotId) -> DomainResult<()> {
    crate::saga::run(st, job, &SNAPSHOT, id.0, Default::default()).await?;
    Ok(())
}

async fn saga_snapshot(cx: &SagaCx) -> DomainResult<SnapshotRow> {
    load(&cx.st, SnapshotId(cx.resource))
        .await?
        .ok_or_else(|| DomainError::invalid_id("id", &cx.resource.to_string()))
}

fn host_of(cx: &SagaCx) -> DomainResult<model::HostId> {
    cx.data
        .host
        .ok_or_else(|| DomainError::Internal("snapshot saga without a host".into()))
}

/// The running VM using a volume (its host and instance name), or where a stopped volume
/// can be reached.
async fn where_to_take(
    st: &Core,
    v: &db::VolumeRow,
) -> DomainResult<(Option<model::HostId>, Option<String>)> {
    let vm = match v.vm_id {
        Some(id) => crate::vms::load(st, id).await?,
        None => None,
    };
    if let Some(vm) = &vm {
        match vm.state {
            model::VmState::Running => return Ok((vm.host_id, Some(vm.instance_name.clone()))),
            model::VmState::Stopped | model::VmState::Destroyed => {}
            _ => {
                return crate::error::refuse(format!(
                "VM {} is {}: a snapshot of its volume can be taken when it is Running or Stopped",
                vm.display_name, vm.state
            ))
            }
        }
    }
    let candidates: Vec<model::HostId> = v
        .host_id
        .into_iter()
        .chain(vm.and_then(|vm| vm.last_host_id))
        .collect();
    Ok((st.hub.first_reachable(&candidates).await, None))
}

fn snap_record(cx: &mut SagaCx) -> BoxFuture<'_, DomainResult<()>> {
    Box::pin(async move {
        let s = saga_snapshot(cx).await?;
        if s.state != S::Allocated && cx.data.host.is_some() {
            return Ok(()); // resumed
        }
        let v = crate::volumes::load(&cx.st, s.volume_id)
            .await?
            .ok_or_else(|| DomainError::param("The snapshot's volume no longer exists"))?;
        let (model::VolumeState::Ready, Some(pool)) = (v.state, v.pool_id) else {
            return crate::error::refuse(format!(
                "Volume {} is {}: only a Ready volume (created on primary storage) can be snapshotted",
                v.name, v.state
            ));
        };
        let (host, _) = where_to_take(&cx.st, &v).await?;
        let host = host.ok_or_else(|| {
            DomainError::refused(
                crate::error::ErrorKind::Unavailable,
                format!(
                    "No host that can reach volume {}'s storage is connected",
                    v.name
                ),
            )
        })?;
        cx.data.host = Some(host);
        cx.data.pool = Some(pool);
        // The image store takes the copy from this host only.
        let mut attrs = s.attrs.clone();
        if !attrs.is_object() {
            attrs = serde_json::json!({});
        }
        attrs["host_id"] = serde_json::json!(host);
        attrs["pool_id"] = serde_json::json!(pool);
        attrs["job_id"] = serde_json::json!(cx.job);
        let mut tx = cx.st.store.begin().await?;
        db::snapshot_set_attrs(&mut tx, s.id, &attrs).await?;
        db::snapshot_transition(&mut tx, s.id, &[S::Allocated], S::Creating).await?;
        tx.commit().await?;
        Ok(())
    })
}

fn snap_unrecord(cx: &mut SagaCx) -> BoxFuture<'_, DomainResult<()>> {
    Box::pin(async move {
        transition(
            &cx.st,
            SnapshotId(cx.resource),
            &[S::Allocated, S::Creating, S::CreatedOnPrimary, S::BackingUp],
            S::Error,
        )
        .await?;
        Ok(())
    })
}

fn snap_take(cx: &mut SagaCx) -> BoxFuture<'_, DomainResult<()>> {
    Box::pin(async move {
        let s = saga_snapshot(cx).await?;
        if s.state != S::Creating {
            return Ok(()); // resumed past it
        }
        let host = host_of(cx)?;
        let pool = cx
            .data
            .pool
            .ok_or_else(|| DomainError::Internal("snapshot saga without a pool".into()))?;
        let v = crate::volumes::load(&cx.st, s.volume_id)
            .await?
            .ok_or_else(|| DomainError::param("The snapshot's volume no longer exists"))?;
        let (_, vm) = where_to_take(&cx.st, &v).await?;
        cx.data.created = true;
        let reply = cx
            .st
            .hub
            .command_ready(
                host,
                proto::Command::SnapshotVolume {
                    pool_path: pool_path(&cx.st, pool).await?,
                    volume_id: s.volume_id.into(),
                    snapshot_id: s.id.into(),
                    vm,
                },
                BACKUP_TIMEOUT,
            )
            .await?;
        tracing::debug!(snapshot = %s.id, ?reply, "snapshot taken on primary storage");
        transition(&cx.st, s.id, &[S::Creating], S::CreatedOnPrimary).await?;
        Ok(())
    })
}

fn snap_untake(cx: &mut SagaCx) -> BoxFuture<'_, DomainResult<()>> {
    Box::pin(async move {
        let (Some(host), Some(pool), true) = (cx.data.host, cx.data.pool, cx.data.created) else {
            return Ok(());
        };
        cx.st
            .hub
            .command_ready(
                host,
                proto::Command::DeleteSnapshotCopy {
                    pool_path: pool_path(&cx.st, pool).await?,
                    snapshot_id: cx.resource,
                },
                HOST_TIMEOUT,
            )
            .await?;
        Ok(())
    })
}

fn snap_backup(cx: &mut SagaCx) -> BoxFuture<'_, DomainResult<()>> {
    Box::pin(async move {
        let s = saga_snapshot(cx).await?;
        if !matches!(s.state, S::CreatedOnPrimary | S::BackingUp) {
            return Ok(());
        }
        if s.state == S::BackingUp && s.store_id.is_some() {
            // Resumed after the image store received it (the host removed its copy then).
            return Ok(());
        }
        let host = host_of(cx)?;
        let pool = cx
            .data
            .pool
            .ok_or_else(|| DomainError::Internal("snapshot saga without a pool".into()))?;
        // Where it goes is known before the host sends it (the store receives it there).
        let (store, _) = zone_store(&cx.st, s.zone_id).await?;
        {
            let mut tx = cx.st.store.begin().await?;
            db::snapshot_transition(&mut tx, s.id, &[S::CreatedOnPrimary], S::BackingUp).await?;
            tx.commit().await?;
        }
        let reply = cx
            .st
            .hub
            .command_ready(
                host,
                proto::Command::BackupSnapshot {
                    pool_path: pool_path(&cx.st, pool).await?,
                    snapshot_id: s.id.into(),
                },
                BACKUP_TIMEOUT,
            )
            .await?;
        if reply["simulated"] == true {
            // A simulated host keeps no file: the size is what it reports.
            let stored = reply["stored"].as_i64().unwrap_or(s.size);
            let mut tx = cx.st.store.begin().await?;
            db::snapshot_stored(&mut tx, s.id, store, None, stored).await?;
            tx.commit().await?;
        }
        Ok(())
    })
}

fn snap_done(cx: &mut SagaCx) -> BoxFuture<'_, DomainResult<()>> {
    Box::pin(async move {
        let s = saga_snapshot(cx).await?;
        if s.state == S::BackingUp {
            transition(&cx.st, s.id, &[S::BackingUp], S::BackedUp).await?;
        }
        if let Some(p) = s.policy_id {
            retain(&cx.st, p).await?;
        }
        Ok(())
    })
}

// --- revert, delete, retention ---------------------------------------------------------------

/// Replaces the volume's content with the snapshot's (the volume's VM must be stopped, as
/// CloudStack's KVM revert requires).
pub async fn revert(st: &Core, id: SnapshotId) -> DomainResult<()> {
    let s = load(st, id)
        .await?
        .ok_or_else(|| DomainError::invalid_id("id", &id.to_string()))?;
    if s.state != S::BackedUp {
        return crate::error::refuse(format!(
            "Snapshot {} is {}: only a BackedUp snapshot can be reverted to",
            s.name, s.state
        ));
    }
    let v = crate::volumes::load(st, s.volume_id)
        .await?
        .ok_or_else(|| DomainError::param("The snapshot's volume no longer exists"))?;
    if let Some(vm) = match v.vm_id {
        Some(vm) => crate::vms::load(st, vm).await?,
        None => None,
    } {
        if vm.state != model::VmState::Stopped {
            return crate::error::refuse(format!(
                "VM {} is {}: stop it before reverting its volume to a snapshot",
                vm.display_name, vm.state
            ));
        }
    }
    let Some(pool) = v.pool_id else {
        // Never created: the snapshot becomes its content when it is.
        return crate::error::refuse(format!(
            "Volume {} has not been created on primary storage",
            v.name
        ));
    };
    let (host, _) = where_to_take(st, &v).await?;
    let host = host.ok_or_else(|| {
        DomainError::refused(
            crate::error::ErrorKind::Unavailable,
            format!(
                "No host that can reach volume {}'s storage is connected",
                v.name
            ),
        )
    })?;
    st.hub
        .command_ready(
            host,
            proto::Command::RevertVolume {
                pool_path: pool_path(st, pool).await?,
                volume_id: v.id.into(),
                snapshot_id: s.id.into(),
            },
            BACKUP_TIMEOUT,
        )
        .await?;
    if v.size < s.size {
        let mut tx = st.store.begin().await?;
        db::volume_resize(&mut tx, v.id, s.size).await?;
        tx.commit().await?;
    }
    Ok(())
}

/// Deletes a snapshot: its file on the image store, then the row (Destroyed). Idempotent.
pub async fn delete(st: &Core, id: SnapshotId) -> DomainResult<()> {
    let Some(s) = load(st, id).await? else {
        return Ok(());
    };
    if matches!(
        s.state,
        S::Creating | S::CreatedOnPrimary | S::BackingUp | S::Allocated
    ) {
        return crate::error::refuse(format!(
            "Snapshot {} is {}: wait until it is taken",
            s.name, s.state
        ));
    }
    if s.state == S::BackedUp {
        transition(st, id, &[S::BackedUp], S::Destroying).await?;
    }
    if let Some(f) = file_of(st, &s).await? {
        match std::fs::remove_file(&f) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(DomainError::Internal(format!(
                    "deleting {}: {e}",
                    f.display()
                )))
            }
        }
    }
    transition(st, id, &[S::Destroying, S::Error], S::Destroyed).await?;
    Ok(())
}

/// Keeps a policy's newest `maxsnaps` snapshots; deletes the older ones.
pub async fn retain(st: &Core, policy: model::SnapshotPolicyId) -> DomainResult<()> {
    let (p, snaps) = {
        let mut c = st.store.read().await?;
        let Some(p) = db::snapshot_policy_list(&mut c, None, &[policy], None)
            .await?
            .into_iter()
            .next()
        else {
            return Ok(());
        };
        let f = db::SnapshotFilter {
            policy_id: Some(policy),
            state: Some(S::BackedUp),
            ..Default::default()
        };
        (p, db::snapshot_list(&mut c, &f).await?.0)
    };
    let extra = snaps.len().saturating_sub(p.max_snaps.max(1) as usize);
    for s in snaps.into_iter().take(extra) {
        tracing::info!(snapshot = %s.id, policy = %policy, "removing a snapshot beyond the policy's maxsnaps");
        delete(st, s.id).await?;
    }
    Ok(())
}

/// What a snapshot's attributes say (the host that took it, the job).
pub fn attrs(s: &SnapshotRow) -> DomainResult<db::attrs::SnapshotAttrs> {
    Ok(s.decode()?)
}
