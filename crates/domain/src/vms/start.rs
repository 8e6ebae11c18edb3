//! The start saga (deploy, start, HA restart) and the stop saga.

use db::VmPlace;
use futures_util::future::BoxFuture;
use model::HostId;
use uuid::Uuid;

use super::*;
use crate::error::{DomainError, DomainResult, ErrorKind};
use db::attrs::{PoolAttrs, VmAttrs};
use db::Attrs;

// --- the start saga --------------------------------------------------------------------------

pub static START: SagaDef = SagaDef {
    first_step_records: true,
    pivot: None,
    kind: "start",
    steps: &[
        Step {
            name: "reserve",
            run: reserve,
            undo: Some(release),
        },
        Step {
            name: "network",
            run: implement_networks,
            undo: None,
        },
        Step {
            name: "volumes",
            run: create_volumes,
            undo: Some(delete_created_volumes),
        },
        Step {
            name: "boot",
            run: boot,
            undo: Some(halt_forced),
        },
        Step {
            name: "running",
            run: mark_running,
            undo: None,
        },
    ],
};

pub async fn vm_of(cx: &SagaCx) -> DomainResult<VmRow> {
    load(&cx.st, cx.vm()).await?.ok_or_else(|| vm_gone(cx.vm()))
}

pub fn host_of(cx: &SagaCx) -> DomainResult<HostId> {
    cx.data
        .host
        .ok_or_else(|| DomainError::Internal(format!("saga {} has no host", cx.job)))
}

pub fn reserve(cx: &mut SagaCx) -> BoxFuture<'_, DomainResult<()>> {
    Box::pin(async move {
        let vm = vm_of(cx).await?;
        let vols = volumes_of(&cx.st, vm.id).await?;
        let to_create: Vec<&VolumeRow> = vols
            .iter()
            .filter(|v| {
                matches!(
                    v.state,
                    model::VolumeState::Allocated | model::VolumeState::Uploaded
                )
            })
            .collect();
        cx.data.to_create = to_create.iter().map(|v| v.id).collect();
        if vm.state == model::VmState::Starting {
            // This saga reserved it before a restart: adopt the reservation.
            if let (Some(h), Some(c), Some(p)) = (vm.host_id, vm.cluster_id, vm.pod_id) {
                cx.data.host = Some(h);
                cx.data.cluster = Some(c);
                cx.data.pod = Some(p);
                if cx.data.pool.is_none() {
                    if let Some(pool) = vols.iter().find_map(|v| v.pool_id) {
                        cx.data.pool = Some(pool);
                    }
                }
                return Ok(());
            }
        }
        if vm.state != model::VmState::Stopped {
            return Err(state_err(&vm, "start"));
        }
        let st = cx.st.clone();
        let attrs: VmAttrs = vm.decode()?;
        let mut req = placement::Request {
            cpus: vm.cpus.clamp(0, u32::MAX as i64) as u32,
            cpu_mhz: vm.cpu_mhz.max(0) as u64,
            memory: (held(&vm).1.max(0) as u64) << 20,
            unreserved_cpu: !vm.reserve_cpu,
            disk: to_create.iter().map(|v| v.size.max(0) as u64).sum(),
            host_tags: attrs.hosttags.0,
            storage_tags: attrs.storagetags.0,
            local_storage: attrs.localstorage,
            host: cx.data.hostid.map(|h| h.0),
            cluster: cx.data.clusterid,
            pod: cx.data.podid,
            seed: vm.seq as u64,
            admin: false,
            ..Default::default()
        };
        // Volumes that already exist pin the VM to where their pool is reachable.
        let existing: Vec<Uuid> = vols.iter().filter_map(|v| v.pool_id).collect();
        if let Some(pool) = existing.first() {
            let p = crate::inventory::get(&st, db::Infra::StoragePool, "storageid", *pool).await?;
            match p.kind.as_str() {
                "CLUSTER" => req.cluster = p.parent_id.or(req.cluster),
                "HOST" => req.host = p.decode::<PoolAttrs>()?.host_id.map(|h| h.0),
                _ => {}
            }
        }
        // Dedicated resources: others' are never used, the owner's first.
        let (account, domains) = crate::placing::owner_of(&st, &vm).await?;
        req.owner_account = Some(account);
        req.owner_domains = domains;
        let mut policy = crate::placing::policy(&st.settings);
        let (planner, implicit) = crate::placing::planner_for(&st, &vm, policy.planner).await?;
        policy.planner = planner;
        req.implicit = implicit;
        // Each refusal rules a host out, so trying every host of the zone once ends too (many
        // VMs of one anti-affinity group racing for the last hosts need more than a few tries).
        let mut attempts = RESERVE_ATTEMPTS;
        let mut attempt = 0;
        while attempt < attempts {
            attempt += 1;
            let snap =
                crate::placing::planning_snapshot(&st, vm.zone_id, vm.account_id, &policy).await?;
            // The VM's affinity groups, where their members are now.
            let groups = crate::affinity::of_vm(&st, vm.id).await?;
            if !groups.groups.is_empty() {
                attempts = attempts.max(snap.hosts.len() + 1);
            }
            let mut grouped_req = req.clone();
            groups.apply(&mut grouped_req);
            let mut plan = placement::plan(&snap, &grouped_req, &policy).map_err(|e| {
                DomainError::refused(
                    ErrorKind::Capacity,
                    format!(
                        "Unable to create a deployment for VM[User|{}]: {}",
                        vm.instance_name, e.reason
                    ),
                )
            })?;
            if let Some(pool) = existing.first() {
                plan.pool = *pool;
            }
            let host = snap
                .hosts
                .iter()
                .find(|h| h.id == plan.host)
                .ok_or_else(|| DomainError::Internal("placement chose an unknown host".into()))?;
            let cluster = snap
                .clusters
                .iter()
                .find(|c| c.id == plan.cluster)
                .ok_or_else(|| {
                    DomainError::Internal("placement chose an unknown cluster".into())
                })?;
            // The database has the last word: under the host's lock, what its active VMs
            // hold now plus this VM must fit its over-committed capacity and guest limit.
            let mut tx = st.store.begin().await?;
            // Strict affinity groups first (their rows, then the host, are locked), then the
            // host's capacity under its lock.
            let grouped = crate::affinity::check_in_tx(&mut tx, vm.id, HostId(host.id)).await?;
            let (cpu, mem) = held(&vm);
            let fits = grouped.is_none()
                && crate::placing::host_takes(&mut tx, host, cluster, cpu, mem, true).await?
                && crate::placing::implicit_ok(&mut tx, HostId(host.id), vm.account_id, implicit)
                    .await?;
            if !fits {
                drop(tx);
                st.snapshots.invalidate(vm.zone_id);
                tracing::debug!(vm = %vm.id, host = %host.id, why = ?grouped, "reservation refused by the database; re-planning");
                req.avoid_hosts.insert(host.id);
                continue;
            }
            let moved = db::vm_transition(
                &mut tx,
                vm.id,
                &[model::VmState::Stopped],
                model::VmState::Starting,
                &VmPlace::on(HostId(host.id), cluster.id, cluster.pod),
            )
            .await?;
            if !moved {
                let now = load(&st, vm.id).await?;
                return Err(match now {
                    Some(v) => state_err(&v, "start"),
                    None => vm_gone(vm.id),
                });
            }
            // The reservation and the saga's position commit together (the saga's first
            // write: START records its first step itself).
            let before = (cx.data.host, cx.data.cluster, cx.data.pod, cx.data.pool);
            cx.data.host = Some(HostId(host.id));
            cx.data.cluster = Some(cluster.id);
            cx.data.pod = Some(cluster.pod);
            cx.data.pool = Some(plan.pool);
            let committed: DomainResult<()> = async {
                cx.record_step_done(&mut tx).await?;
                tx.commit().await?;
                Ok(())
            }
            .await;
            if let Err(e) = committed {
                (cx.data.host, cx.data.cluster, cx.data.pod, cx.data.pool) = before;
                return Err(e);
            }
            return Ok(());
        }
        Err(DomainError::refused(
            ErrorKind::Capacity,
            format!(
                "Unable to create a deployment for VM[User|{}]: every suitable host was taken by concurrent deployments",
                vm.instance_name
            ),
        ))
    })
}

/// The VM's networks are implemented (VNI, router, source NAT) before it boots; nothing to
/// undo: an idle network is shut down by the garbage collector. On a real host the data plane
/// is pushed now too (its bridge, its tap's place, its router serving DHCP), so the guest
/// finds its network when it boots; simulated hosts get it after the job, as every VM job.
pub fn implement_networks(cx: &mut SagaCx) -> BoxFuture<'_, DomainResult<()>> {
    Box::pin(async move {
        let st = cx.st.clone();
        st.networks.implement_for_vm(&st, cx.vm()).await?;
        let real = match cx.data.host {
            Some(h) => {
                let mut c = st.store.read().await?;
                db::host_get(&mut c, h)
                    .await?
                    .is_some_and(|h| h.hypervisor != "Simulator")
            }
            None => false,
        };
        if real {
            crate::netsync::vm_changed(&st, cx.vm(), true).await;
        }
        Ok(())
    })
}

/// Undo of `reserve`: off the host; a VM that never ran goes to Error.
pub fn release(cx: &mut SagaCx) -> BoxFuture<'_, DomainResult<()>> {
    Box::pin(async move {
        let to = if cx.data.fresh {
            model::VmState::Error
        } else {
            model::VmState::Stopped
        };
        let mut tx = cx.st.store.begin().await?;
        db::vm_transition(
            &mut tx,
            cx.vm(),
            &[model::VmState::Starting, model::VmState::Stopped],
            to,
            &VmPlace::off(),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    })
}

pub async fn pool_path(st: &Core, pool: Uuid) -> DomainResult<String> {
    let p = crate::inventory::get(st, db::Infra::StoragePool, "storageid", pool).await?;
    Ok(p.decode::<PoolAttrs>()?
        .path
        .unwrap_or_else(|| format!("/var/lib/canopy/pools/{pool}")))
}

pub fn create_volumes(cx: &mut SagaCx) -> BoxFuture<'_, DomainResult<()>> {
    Box::pin(async move {
        let host = host_of(cx)?;
        let Some(pool) = cx.data.pool else {
            return Ok(());
        };
        let path = pool_path(&cx.st, pool).await?;
        // A root volume is encrypted when its VM's offering says `encryptroot`.
        let offering = crate::vms::migrate::saga_vm(cx).await?.service_offering_id;
        let last = cx.data.to_create.last().copied();
        for id in cx.data.to_create.clone() {
            let v = {
                let mut c = cx.st.store.read().await?;
                db::volume_get(&mut c, id).await?
            };
            let Some(v) = v else { continue };
            if v.state == model::VolumeState::Ready {
                continue;
            }
            let mut tx = cx.st.store.begin().await?;
            db::volume_transition(
                &mut tx,
                id,
                &[
                    model::VolumeState::Allocated,
                    model::VolumeState::Uploaded,
                    model::VolumeState::Creating,
                ],
                model::VolumeState::Creating,
                Some(Some((pool, String::new()))),
            )
            .await?;
            tx.commit().await?;
            let attrs = v.decode::<db::attrs::VolumeAttrs>()?;
            let secret = crate::volumes::passphrase(&cx.st, &v, Some(offering), true).await?;
            let reply = cx
                .st
                .hub
                .command_ready(
                    host,
                    proto::Command::CreateVolume {
                        volume: Box::new(proto::VolumeSpec {
                            volume_id: id.into(),
                            pool_path: path.clone(),
                            size_bytes: v.size.max(0) as u64,
                            template_id: v.template_id,
                            snapshot_id: attrs.snapshot_id,
                            image_format: attrs.image_file.as_ref().and(attrs.image_format.clone()),
                            secret,
                        }),
                    },
                    HOST_TIMEOUT,
                )
                .await?;
            let vpath = reply["path"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| format!("{path}/{id}"));
            let mut tx = cx.st.store.begin().await?;
            db::volume_transition(
                &mut tx,
                id,
                &[model::VolumeState::Creating],
                model::VolumeState::Ready,
                Some(Some((pool, vpath))),
            )
            .await?;
            db::volume_set_host(&mut tx, id, Some(host)).await?;
            if Some(id) == last {
                // The last volume Ready and the step done, in one write.
                cx.record_step_done(&mut tx).await?;
            }
            tx.commit().await?;
        }
        Ok(())
    })
}

/// Undo of `create_volumes`: the volumes this saga created are deleted on the host and are
/// Allocated again (no pool).
pub fn delete_created_volumes(cx: &mut SagaCx) -> BoxFuture<'_, DomainResult<()>> {
    Box::pin(async move {
        let host = host_of(cx)?;
        for id in cx.data.to_create.clone() {
            let v = {
                let mut c = cx.st.store.read().await?;
                db::volume_get(&mut c, id).await?
            };
            let Some(v) = v else { continue };
            if v.state == model::VolumeState::Allocated {
                continue;
            }
            if let Some(pool) = v.pool_id {
                let path = pool_path(&cx.st, pool).await?;
                cx.st
                    .hub
                    .command_ready(
                        host,
                        proto::Command::DeleteVolume {
                            pool_path: path,
                            volume_id: id.into(),
                        },
                        HOST_TIMEOUT,
                    )
                    .await?;
            }
            let mut tx = cx.st.store.begin().await?;
            db::volume_transition(
                &mut tx,
                id,
                &[model::VolumeState::Creating, model::VolumeState::Ready],
                model::VolumeState::Allocated,
                Some(None),
            )
            .await?;
            db::volume_set_host(&mut tx, id, None).await?;
            tx.commit().await?;
        }
        Ok(())
    })
}

pub async fn spec(st: &Core, vm: &VmRow) -> DomainResult<proto::VmSpec> {
    let vols = volumes_of(st, vm.id).await?;
    let mut disks = Vec::new();
    // A disk being moved (migrateVolume, migration with storage) is still the VM's.
    for v in vols.iter().filter(|v| {
        matches!(
            v.state,
            model::VolumeState::Ready | model::VolumeState::Migrating
        )
    }) {
        let mut d = crate::volumes::disk_with_io(st, v, vm.service_offering_id).await?;
        d.device_id = v.device_id.unwrap_or(0).clamp(0, u32::MAX as i64) as u32;
        disks.push(d);
    }
    let mut keys = Vec::new();
    let (nics, config_drive) = {
        let mut c = st.store.read().await?;
        let mut nics = db::nics_for_vms(&mut c, &[vm.id]).await?;
        nics.sort_by_key(|n| n.device_id);
        for k in &vm.keypairs {
            if let Some(kp) = db::keypair_get_by_name(&mut c, vm.account_id, k).await? {
                keys.push(kp.public_key);
            }
        }
        let drive = crate::guestdata::config_drive_of(st, &mut c, vm, &nics, &keys).await?;
        (nics, drive)
    };
    Ok(proto::VmSpec {
        id: vm.id.0,
        name: vm.instance_name.clone(),
        hostname: vm.name.clone(),
        cpus: vm.cpus.clamp(0, u32::MAX as i64) as u32,
        cpu_mhz: vm.cpu_mhz.max(0) as u64,
        memory_mib: vm.memory_mib.max(0) as u64,
        disks,
        userdata: vm.userdata.clone(),
        ssh_keys: keys,
        nics: nics
            .iter()
            .map(|n| proto::NicSpec {
                nic_id: n.id,
                mac: n.mac.clone(),
                tap: netplan::tap_name(n.id),
            })
            .collect(),
        template_id: vm.template_id,
        config_drive,
        iso: vm.iso_id,
        // Deployed from an ISO (a blank root disk): boot the CD-ROM first.
        boot_iso: vm.iso_id.is_some() && vm.template_id.is_none(),
    })
}

pub fn boot(cx: &mut SagaCx) -> BoxFuture<'_, DomainResult<()>> {
    Box::pin(async move {
        let host = host_of(cx)?;
        let vm = vm_of(cx).await?;
        let spec = spec(&cx.st, &vm).await?;
        cx.st
            .hub
            .command_ready(host, proto::Command::StartVm { vm: spec }, HOST_TIMEOUT)
            .await?;
        Ok(())
    })
}

/// Undo of `boot`: stop the VM on the host, without waiting for the guest.
pub fn halt_forced(cx: &mut SagaCx) -> BoxFuture<'_, DomainResult<()>> {
    Box::pin(async move {
        let host = host_of(cx)?;
        let vm = vm_of(cx).await?;
        cx.st
            .hub
            .command_ready(
                host,
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

pub fn mark_running(cx: &mut SagaCx) -> BoxFuture<'_, DomainResult<()>> {
    Box::pin(async move {
        let mut tx = cx.st.store.begin().await?;
        let moved = db::vm_transition(
            &mut tx,
            cx.vm(),
            &[model::VmState::Starting],
            model::VmState::Running,
            &VmPlace::keep(),
        )
        .await?;
        if moved {
            // Running and the saga done, in one write.
            cx.record_step_done(&mut tx).await?;
        }
        tx.commit().await?;
        if !moved {
            let vm = vm_of(cx).await?;
            if vm.state != model::VmState::Running {
                return Err(state_err(&vm, "mark as running"));
            }
        }
        Ok(())
    })
}

// --- the stop saga ----------------------------------------------------------------------------

pub static STOP: SagaDef = SagaDef {
    first_step_records: false,
    pivot: Some(1),
    kind: "stop",
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
            name: "stopped",
            run: mark_stopped,
            undo: None,
        },
    ],
};

pub fn to_stopping(cx: &mut SagaCx) -> BoxFuture<'_, DomainResult<()>> {
    Box::pin(async move {
        let vm = vm_of(cx).await?;
        match vm.state {
            model::VmState::Running => {
                let mut tx = cx.st.store.begin().await?;
                let moved = db::vm_transition(
                    &mut tx,
                    vm.id,
                    &[model::VmState::Running],
                    model::VmState::Stopping,
                    &VmPlace::keep(),
                )
                .await?;
                tx.commit().await?;
                if !moved {
                    return Err(state_err(&vm, "stop"));
                }
                cx.data.was_running = true;
                if let Some(h) = vm.host_id {
                    cx.data.host = Some(h);
                }
            }
            model::VmState::Stopping => {
                if let Some(h) = vm.host_id {
                    cx.data.host = Some(h);
                }
            }
            model::VmState::Stopped | model::VmState::Error => {}
            _ => return Err(state_err(&vm, "stop")),
        }
        Ok(())
    })
}

pub fn back_to_running(cx: &mut SagaCx) -> BoxFuture<'_, DomainResult<()>> {
    Box::pin(async move {
        if cx.data.was_running {
            let mut tx = cx.st.store.begin().await?;
            db::vm_transition(
                &mut tx,
                cx.vm(),
                &[model::VmState::Stopping],
                model::VmState::Running,
                &VmPlace::keep(),
            )
            .await?;
            tx.commit().await?;
        }
        Ok(())
    })
}

pub fn halt(cx: &mut SagaCx) -> BoxFuture<'_, DomainResult<()>> {
    Box::pin(async move {
        let Some(host) = cx.data.host else {
            return Ok(());
        };
        let vm = vm_of(cx).await?;
        let forced = cx.data.forced;
        let r = cx
            .st
            .hub
            .command_ready(
                host,
                proto::Command::StopVm {
                    name: vm.instance_name.clone(),
                    force: forced,
                },
                HOST_TIMEOUT,
            )
            .await;
        match r {
            Ok(_) => Ok(()),
            Err(e) if forced => {
                tracing::warn!(vm = %vm.id, %host, error = %e, "forced stop: the host did not confirm; the VM is marked Stopped");
                Ok(())
            }
            Err(e) => Err(e),
        }
    })
}

/// Final step of stop (and the stop part of destroy).
pub fn mark_stopped(cx: &mut SagaCx) -> BoxFuture<'_, DomainResult<()>> {
    Box::pin(async move {
        let mut tx = cx.st.store.begin().await?;
        db::vm_transition(
            &mut tx,
            cx.vm(),
            &[model::VmState::Stopping, model::VmState::Stopped],
            model::VmState::Stopped,
            &VmPlace::off(),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    })
}
