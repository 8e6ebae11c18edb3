//! The destroy, destroy-with-expunge and expunge sagas.

use db::VmPlace;
use futures_util::future::BoxFuture;
use model::HostId;
use uuid::Uuid;

use super::*;
use crate::error::{DomainError, DomainResult, ErrorKind};

use super::start::*;

pub static DESTROY: SagaDef = SagaDef {
    first_step_records: false,
    pivot: Some(1),
    kind: "destroy",
    steps: &[
        Step {
            name: "stopping",
            run: to_stopping,
            undo: Some(back_to_running),
        },
        Step {
            name: "halt",
            run: halt,
            undo: None,
        },
        Step {
            name: "destroyed",
            run: mark_destroyed,
            undo: None,
        },
    ],
};

pub static DESTROY_EXPUNGE: SagaDef = SagaDef {
    first_step_records: false,
    pivot: Some(1),
    kind: "destroy-expunge",
    steps: &[
        Step {
            name: "stopping",
            run: to_stopping,
            undo: Some(back_to_running),
        },
        Step {
            name: "halt",
            run: halt,
            undo: None,
        },
        Step {
            name: "expunging",
            run: to_expunging,
            undo: None,
        },
        Step {
            name: "volumes",
            run: delete_volumes,
            undo: None,
        },
        Step {
            name: "removed",
            run: mark_removed,
            undo: None,
        },
    ],
};

pub static EXPUNGE: SagaDef = SagaDef {
    first_step_records: false,
    pivot: Some(0),
    kind: "expunge",
    steps: &[
        Step {
            name: "expunging",
            run: to_expunging,
            undo: None,
        },
        Step {
            name: "volumes",
            run: delete_volumes,
            undo: None,
        },
        Step {
            name: "removed",
            run: mark_removed,
            undo: None,
        },
    ],
};

pub fn mark_destroyed(cx: &mut SagaCx) -> BoxFuture<'_, DomainResult<()>> {
    Box::pin(async move {
        let mut tx = cx.st.store.begin().await?;
        let moved = db::vm_transition(
            &mut tx,
            cx.vm(),
            &[
                model::VmState::Stopping,
                model::VmState::Stopped,
                model::VmState::Destroyed,
            ],
            model::VmState::Destroyed,
            &VmPlace::off(),
        )
        .await?;
        tx.commit().await?;
        if !moved {
            let vm = vm_of(cx).await?;
            return Err(state_err(&vm, "destroy"));
        }
        Ok(())
    })
}

pub fn to_expunging(cx: &mut SagaCx) -> BoxFuture<'_, DomainResult<()>> {
    Box::pin(async move {
        let mut tx = cx.st.store.begin().await?;
        let moved = db::vm_transition(
            &mut tx,
            cx.vm(),
            &[
                model::VmState::Stopping,
                model::VmState::Stopped,
                model::VmState::Destroyed,
                model::VmState::Error,
                model::VmState::Expunging,
            ],
            model::VmState::Expunging,
            &VmPlace::off(),
        )
        .await?;
        tx.commit().await?;
        if !moved {
            let vm = vm_of(cx).await?;
            return Err(state_err(&vm, "expunge"));
        }
        Ok(())
    })
}

/// A connected host that can reach a volume: the one that created it, else any Up host of the
/// VM's last cluster.
/// A host whose agent is moving between servers (or reconnecting) is waited for, up to the
/// hub's reconnect wait.
pub async fn host_for_volume(st: &Core, v: &VolumeRow, vm: &VmRow) -> DomainResult<Option<HostId>> {
    let candidates: Vec<HostId> = v.host_id.into_iter().chain(vm.last_host_id).collect();
    Ok(st.hub.first_reachable(&candidates).await)
}

/// Deletes the VM's ROOT volume (and the DATA volumes named in `volumeids`) on their host and
/// marks them expunged; other DATA volumes are detached and kept.
pub fn delete_volumes(cx: &mut SagaCx) -> BoxFuture<'_, DomainResult<()>> {
    Box::pin(async move {
        let vm = vm_of(cx).await?;
        let also = cx.data.volumeids.clone();
        for v in volumes_of(&cx.st, vm.id).await? {
            let delete = v.vol_type == "ROOT" || also.contains(&v.id);
            if !delete {
                let mut tx = cx.st.store.begin().await?;
                db::volume_attach(&mut tx, v.id, None).await?;
                tx.commit().await?;
                continue;
            }
            if let Some(pool) = v.pool_id {
                match host_for_volume(&cx.st, &v, &vm).await? {
                    Some(h) => {
                        let path = pool_path(&cx.st, pool).await?;
                        cx.st
                            .hub
                            .command_ready(
                                h,
                                proto::Command::DeleteVolume {
                                    pool_path: path,
                                    volume_id: v.id.into(),
                                },
                                HOST_TIMEOUT,
                            )
                            .await?;
                    }
                    None => {
                        return Err(DomainError::refused(
                            ErrorKind::Unavailable,
                            format!(
                                "No connected host can reach volume {} to delete it; try again when its host is Up",
                                v.name
                            ),
                        ))
                    }
                }
            }
            let mut tx = cx.st.store.begin().await?;
            db::volume_mark_removed(&mut tx, v.id).await?;
            db::tag_delete_for_resource(&mut tx, v.id.into()).await?;
            tx.commit().await?;
        }
        Ok(())
    })
}

pub fn mark_removed(cx: &mut SagaCx) -> BoxFuture<'_, DomainResult<()>> {
    Box::pin(async move {
        let vm = cx.vm();
        let nets: Vec<model::NetworkId> = {
            let mut c = cx.st.store.read().await?;
            db::net_nics_of_vms(&mut c, &[vm])
                .await?
                .into_iter()
                .map(|n| n.network_id)
                .collect()
        };
        let groups = {
            let mut c = cx.st.store.read().await?;
            db::memberships(&mut c, &[vm]).await?
        };
        let mut tx = cx.st.store.begin().await?;
        db::vm_mark_removed(&mut tx, vm).await?;
        db::vm_stats_clear(&mut tx, vm).await?;
        // Its VM snapshots lived in its disks, which are gone.
        db::vm_snapshots_remove_for_vm(&mut tx, vm).await?;
        db::nic_release_for_vm(&mut tx, vm).await?;
        db::tag_delete_for_resource(&mut tx, vm.0).await?;
        // Its groups and load balancers forget it; rules pointing at it go.
        db::member_remove_everywhere(&mut tx, vm).await?;
        let rules = db::rule_list(
            &mut tx,
            &db::RuleFilter {
                kinds: vec!["portforward", "ipforward"],
                network_ids: nets.clone(),
                ..Default::default()
            },
        )
        .await?
        .0;
        for r in rules.iter().filter(|r| r.spec.target_vm() == Some(vm)) {
            db::rule_remove(&mut tx, db::RuleOwner::Id, r.id).await?;
        }
        let nat = db::public_ip_list(
            &mut tx,
            &db::PublicIpFilter {
                static_nat_vm: Some(vm.0),
                ..Default::default()
            },
        )
        .await?
        .0;
        for ip in nat {
            db::public_ip_static_nat(&mut tx, ip.id, None).await?;
        }
        tx.commit().await?;
        // The routers' leases and the member sets of other hosts change.
        let st = cx.st.clone();
        crate::netsync::networks_changed(&st, &nets).await?;
        let groups: Vec<Uuid> = groups.into_iter().map(|m| m.owner_id).collect();
        crate::netsync::groups_changed(&st, &groups).await?;
        Ok(())
    })
}
