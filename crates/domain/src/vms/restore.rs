//! restoreVirtualMachine: the VM gets a fresh root volume from its template (or another one),
//! the old root goes. A running VM is stopped first and started again after — each by its own
//! saga (stop, start), run under a job id derived from the restore's, so each resumes after a
//! crash on its own row while the restore's row says where the whole is.

use futures_util::future::BoxFuture;
use model::{JobId, VmState};
use uuid::Uuid;

use crate::error::{DomainError, DomainResult};
use crate::saga::SagaData;
use crate::vms::{
    host_for_volume, pool_path, vm_of, volumes_of, SagaCx, SagaDef, Step, HOST_TIMEOUT,
};

/// restore: decide (was it running, the new volume's id) → stop (undo: start it again) →
/// swap the root volume (the pivot) → start.
pub static RESTORE: SagaDef = SagaDef {
    first_step_records: false,
    kind: "restore",
    pivot: Some(2),
    steps: &[
        Step {
            name: "decide",
            run: decide,
            undo: None,
        },
        Step {
            name: "stop",
            run: stop,
            undo: Some(restart),
        },
        Step {
            name: "swap",
            run: swap,
            undo: None,
        },
        Step {
            name: "start",
            run: start,
            undo: None,
        },
    ],
};

/// The id of a saga run inside the restore's job (`n` tells them apart).
fn inner(job: JobId, n: u128) -> JobId {
    JobId(Uuid::from_u128(job.0.as_u128() ^ (0x5e57_0000 + n)))
}

pub async fn run(
    st: &std::sync::Arc<crate::core::Core>,
    job: JobId,
    vm: model::VmId,
    template: Uuid,
) -> DomainResult<()> {
    let data = SagaData {
        template: Some(template),
        ..Default::default()
    };
    crate::saga::run(st, job, &RESTORE, vm.0, data).await?;
    Ok(())
}

fn decide(cx: &mut SagaCx) -> BoxFuture<'_, DomainResult<()>> {
    Box::pin(async move {
        let vm = vm_of(cx).await?;
        match vm.state {
            VmState::Running => cx.data.was_running = true,
            VmState::Stopped => cx.data.was_running = false,
            _ => return Err(crate::vms::state_err(&vm, "restore")),
        }
        cx.data.new_volume = Some(model::VolumeId(Uuid::new_v4()));
        Ok(())
    })
}

fn stop(cx: &mut SagaCx) -> BoxFuture<'_, DomainResult<()>> {
    Box::pin(async move {
        if !cx.data.was_running {
            return Ok(());
        }
        let data = SagaData {
            forced: false,
            ..Default::default()
        };
        crate::saga::run(
            &cx.st,
            inner(cx.job, 1),
            &crate::vms::STOP,
            cx.resource,
            data,
        )
        .await?;
        Ok(())
    })
}

fn restart(cx: &mut SagaCx) -> BoxFuture<'_, DomainResult<()>> {
    Box::pin(async move {
        if !cx.data.was_running {
            return Ok(());
        }
        let vm = vm_of(cx).await?;
        if vm.state == VmState::Stopped {
            crate::saga::run(
                &cx.st,
                inner(cx.job, 3),
                &crate::vms::START,
                cx.resource,
                SagaData::default(),
            )
            .await?;
        }
        Ok(())
    })
}

fn swap(cx: &mut SagaCx) -> BoxFuture<'_, DomainResult<()>> {
    Box::pin(async move {
        let vm = vm_of(cx).await?;
        let new = cx
            .data
            .new_volume
            .ok_or_else(|| DomainError::Internal("restore without a new volume".into()))?;
        let template = cx
            .data
            .template
            .ok_or_else(|| DomainError::Internal("restore without a template".into()))?;
        if vm.state != VmState::Stopped {
            return Err(crate::vms::state_err(&vm, "restore"));
        }
        let vols = volumes_of(&cx.st, vm.id).await?;
        if vols.iter().any(|v| v.id == new) {
            return Ok(()); // resumed after the swap
        }
        let Some(old) = vols.into_iter().find(|v| v.vol_type == "ROOT") else {
            return Err(DomainError::Internal(format!(
                "VM {} has no root volume",
                vm.id
            )));
        };
        // The old root goes from its host first (a host that cannot be reached keeps it
        // until the expunge of orphans; the database forgets it either way).
        if let Some(pool) = old.pool_id {
            if let Some(h) = host_for_volume(&cx.st, &old, &vm).await? {
                cx.st
                    .hub
                    .command_ready(
                        h,
                        proto::Command::DeleteVolume {
                            pool_path: pool_path(&cx.st, pool).await?,
                            volume_id: old.id.into(),
                        },
                        HOST_TIMEOUT,
                    )
                    .await?;
            }
        }
        let mut tx = cx.st.store.begin().await?;
        db::volume_mark_removed(&mut tx, old.id).await?;
        db::volume_insert(
            &mut tx,
            &db::NewVolume {
                id: new,
                name: old.name.clone(),
                vol_type: "ROOT".into(),
                account_id: old.account_id,
                domain_id: old.domain_id,
                zone_id: old.zone_id,
                vm_id: Some(vm.id),
                device_id: Some(0),
                size: old.size,
                disk_offering_id: old.disk_offering_id,
                template_id: Some(template),
                attrs: serde_json::json!({}),
            },
        )
        .await?;
        db::vm_set_template(&mut tx, vm.id, template).await?;
        tx.commit().await?;
        Ok(())
    })
}

fn start(cx: &mut SagaCx) -> BoxFuture<'_, DomainResult<()>> {
    Box::pin(async move {
        if !cx.data.was_running {
            return Ok(());
        }
        crate::saga::run(
            &cx.st,
            inner(cx.job, 2),
            &crate::vms::START,
            cx.resource,
            SagaData::default(),
        )
        .await?;
        Ok(())
    })
}
