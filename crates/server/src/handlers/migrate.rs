//! Live migration and host maintenance: migrateVirtualMachine, prepareHostForMaintenance,
//! cancelHostMaintenance.
//!
//! Migration is a saga: reserve the destination (its capacity is held while the VM is
//! Migrating, on both hosts) → prepare the destination → transfer (the point of no return) →
//! Running on the destination. Maintenance migrates every running VM off the host, each with
//! its own migration saga, then puts the host in Maintenance — or ErrorInMaintenance when a VM
//! cannot move.

use api::{ApiError, Args};
use db::{HostRow, VmPlace, VmRow};
use futures_util::future::BoxFuture;
use serde_json::{json, Value};
use uuid::Uuid;

use super::vms::{load, state_err, vm_gone, volumes_of, HOST_TIMEOUT};
use crate::context::OpContext;
use crate::error::{param_err, AppError, AppResult};
use crate::jobs::{JobPlan, JobRef};
use crate::saga::{self, SagaCx, SagaDef, Step};
use crate::state::State;

/// CloudStack's refusal for VMs with disks on host-local storage.
const LOCAL_STORAGE: &str = "Unsupported operation, VM uses Local storage, cannot migrate";

async fn uses_local_storage(st: &State, vm: &VmRow) -> AppResult<bool> {
    for v in volumes_of(st, vm.id).await? {
        if let Some(p) = v.pool_id {
            let pool = super::zones::get(st, db::Infra::StoragePool, "storageid", p).await?;
            if pool.kind == "HOST" {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// Why `dest` cannot take `vm` from its host (None: it can, capacity aside).
fn unsuitable(vm: &VmRow, dest: &HostRow) -> Option<String> {
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

async fn check_migratable(st: &State, vm: &VmRow) -> AppResult<()> {
    if vm.state != model::VmState::Running {
        return param_err(format!(
            "VM is not Running, unable to migrate the vm {} (it is {})",
            vm.instance_name, vm.state
        ));
    }
    if uses_local_storage(st, vm).await? {
        return param_err(LOCAL_STORAGE);
    }
    Ok(())
}

/// What a running VM needs of a destination host (CPU and memory; its disks stay where they
/// are).
fn request(vm: &VmRow) -> placement::Request {
    placement::Request {
        cpus: vm.cpus.clamp(0, u32::MAX as i64) as u32,
        cpu_mhz: vm.cpu_mhz.max(0) as u64,
        memory: (vm.memory_mib.max(0) as u64) << 20,
        disk: 0,
        ..Default::default()
    }
}

/// findHostsForMigration: the other hosts of the VM's cluster (live migration stays within
/// it), each with `suitableformigration` — Up, Enabled, and room for the VM now (the same
/// over-commit arithmetic placement uses; the migration re-checks under the host's lock).
pub async fn find_hosts(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let vm = super::vms::owned(st, ctx, args.required_id("virtualmachineid")?).await?;
    check_migratable(st, &vm).await?;
    let Some(cluster) = vm.cluster_id else {
        return Err(state_err(&vm, "migrate"));
    };
    let rows = {
        let mut c = st.store.read().await?;
        db::host_list(
            &mut c,
            &db::HostFilter {
                cluster_id: Some(cluster),
                ..Default::default()
            },
        )
        .await?
        .0
    };
    let rows: Vec<HostRow> = rows
        .into_iter()
        .filter(|h| Some(h.id) != vm.host_id)
        .collect();
    let snap = crate::placing::snapshot(st, vm.zone_id).await?;
    let req = request(&vm);
    let c = snap.clusters.iter().find(|c| c.id == cluster);
    let mut views = super::hosts::views(st, &rows).await?;
    for (v, h) in views.iter_mut().zip(&rows) {
        let fits = match (snap.hosts.iter().find(|x| x.id == h.id), c) {
            (Some(sh), Some(c)) => placement::host_fits(sh, c, &req),
            _ => false,
        };
        v["suitableformigration"] = json!(unsuitable(&vm, h).is_none() && fits);
        v["requiresStorageMotion"] = json!(false);
    }
    Ok(api::list_body("host", views.len() as u64, views))
}

pub async fn migrate_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let vm = super::vms::owned(st, ctx, args.required_id("virtualmachineid")?).await?;
    if args.has("storageid") {
        return param_err("Storage migration (storageid) is not supported yet: Canopy migrates running VMs between hosts that share their primary storage");
    }
    check_migratable(st, &vm).await?;
    if let Some(h) = args.uuid("hostid") {
        let dest = super::hosts::host(st, "hostid", h).await?;
        if let Some(why) = unsuitable(&vm, &dest) {
            return param_err(why);
        }
    }
    Ok(JobPlan {
        instance_type: Some("VirtualMachine"),
        instance_id: Some(vm.id.to_string()),
        returns_id: false,
        description: format!("Migrating VM {}", vm.instance_name),
    })
}

pub async fn migrate_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let id: Uuid = job.instance()?;
    migrate(st, job.id, id, args.uuid("hostid")).await?;
    let vm = load(st, id).await?.ok_or_else(|| vm_gone(id))?;
    super::vms::result_of(st, ctx, &vm).await
}

/// Runs the migration saga of `vm` under `saga_job` (a job, or a job-derived key when one job
/// migrates several VMs).
pub async fn migrate(
    st: &State,
    saga_job: model::JobId,
    vm: Uuid,
    dest: Option<Uuid>,
) -> AppResult<()> {
    let data = saga::SagaData {
        hostid: dest,
        ..Default::default()
    };
    saga::run(st, saga_job, &MIGRATE, vm, data).await?;
    Ok(())
}

pub static MIGRATE: SagaDef = SagaDef {
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

async fn saga_vm(cx: &SagaCx) -> AppResult<VmRow> {
    load(&cx.st, cx.resource)
        .await?
        .ok_or_else(|| vm_gone(cx.resource))
}

fn dest_of(cx: &SagaCx) -> AppResult<Uuid> {
    cx.data
        .dest
        .ok_or_else(|| AppError::Internal(format!("migration saga {} has no destination", cx.job)))
}

fn reserve_dest(cx: &mut SagaCx) -> BoxFuture<'_, AppResult<()>> {
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
                    let req = placement::Request {
                        cluster: Some(cluster),
                        avoid_hosts: avoid.clone(),
                        seed: vm.seq as u64,
                        ..request(&vm)
                    };
                    let policy = crate::placing::policy(&st.settings);
                    placement::plan(&snap, &req, &policy)
                        .map_err(|e| {
                            AppError::from(ApiError::new(
                                api::ErrorCode::InsufficientCapacity,
                                format!(
                                    "No host in the cluster can take VM {}: {}",
                                    vm.instance_name, e.reason
                                ),
                            ))
                        })?
                        .host
                }
            };
            let dest_row = super::hosts::host(&st, "hostid", dest).await?;
            if let Some(why) = unsuitable(&vm, &dest_row) {
                return param_err(why);
            }
            // Capacity on the destination, under its lock.
            let snap = crate::placing::snapshot(&st, vm.zone_id).await?;
            let (Some(h), Some(c)) = (
                snap.hosts.iter().find(|h| h.id == dest),
                snap.clusters.iter().find(|c| c.id == cluster),
            ) else {
                return Err(AppError::Internal(
                    "destination not in the zone's snapshot".into(),
                ));
            };
            let mut tx = st.store.begin().await?;
            let fits = crate::placing::host_takes(
                &mut tx,
                h,
                c,
                vm.cpus * vm.cpu_mhz,
                vm.memory_mib,
                true,
            )
            .await?;
            if !fits {
                drop(tx);
                if cx.data.hostid.is_some() {
                    return Err(ApiError::new(
                        api::ErrorCode::InsufficientCapacity,
                        format!(
                            "Host {} does not have enough capacity for VM {}",
                            dest_row.name, vm.instance_name
                        ),
                    )
                    .into());
                }
                avoid.insert(dest);
                continue;
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
        Err(ApiError::new(
            api::ErrorCode::InsufficientCapacity,
            format!("No host in the cluster can take VM {}", vm.instance_name),
        )
        .into())
    })
}

fn release_dest(cx: &mut SagaCx) -> BoxFuture<'_, AppResult<()>> {
    Box::pin(async move {
        let mut place = VmPlace::keep();
        place.dest = Some(None);
        let mut tx = cx.st.store.begin().await?;
        db::vm_transition(
            &mut tx,
            cx.resource,
            &[model::VmState::Migrating],
            model::VmState::Running,
            &place,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    })
}

fn prepare_dest(cx: &mut SagaCx) -> BoxFuture<'_, AppResult<()>> {
    Box::pin(async move {
        let dest = dest_of(cx)?;
        let vm = saga_vm(cx).await?;
        let spec = super::vms::spec(&cx.st, &vm).await?;
        cx.st
            .hub
            .command_ready(
                dest,
                proto::Command::PrepareMigration { vm: spec },
                HOST_TIMEOUT,
            )
            .await?;
        Ok(())
    })
}

fn unprepare_dest(cx: &mut SagaCx) -> BoxFuture<'_, AppResult<()>> {
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

fn transfer(cx: &mut SagaCx) -> BoxFuture<'_, AppResult<()>> {
    Box::pin(async move {
        let dest = dest_of(cx)?;
        let source = cx
            .data
            .source
            .ok_or_else(|| AppError::Internal("migration saga without a source".into()))?;
        let vm = saga_vm(cx).await?;
        let address = super::hosts::host(&cx.st, "hostid", dest).await?.address;
        cx.st
            .hub
            .command_ready(
                source,
                proto::Command::MigrateVm {
                    name: vm.instance_name,
                    dest: address,
                },
                HOST_TIMEOUT,
            )
            .await?;
        Ok(())
    })
}

fn arrived(cx: &mut SagaCx) -> BoxFuture<'_, AppResult<()>> {
    Box::pin(async move {
        let dest = dest_of(cx)?;
        let h = super::hosts::host(&cx.st, "hostid", dest).await?;
        let mut tx = cx.st.store.begin().await?;
        db::vm_transition(
            &mut tx,
            cx.resource,
            &[model::VmState::Migrating],
            model::VmState::Running,
            &VmPlace::on(h.id, h.cluster_id, h.pod_id),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    })
}

// --- maintenance -----------------------------------------------------------------------------

pub async fn maintenance_prepare(st: &State, _ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let h = super::hosts::host(st, "id", args.required_id("id")?).await?;
    if !matches!(
        h.resource_state,
        model::ResourceState::Enabled
            | model::ResourceState::Disabled
            | model::ResourceState::ErrorInMaintenance
            | model::ResourceState::ErrorInPrepareForMaintenance
            | model::ResourceState::PrepareForMaintenance
    ) {
        return param_err(format!(
            "Host {} is in resource state {}: it cannot be prepared for maintenance",
            h.name, h.resource_state
        ));
    }
    let mut tx = st.store.begin().await?;
    let mut row = h.clone();
    row.resource_state = model::ResourceState::PrepareForMaintenance;
    db::host_update(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(JobPlan {
        instance_type: Some("Host"),
        instance_id: Some(h.id.to_string()),
        returns_id: false,
        description: format!("Preparing host {} for maintenance", h.name),
    })
}

/// A saga key per (job, VM), so one job can run one migration saga per VM.
fn sub_job(job: model::JobId, vm: Uuid) -> model::JobId {
    let (a, b) = (job.0.as_bytes(), vm.as_bytes());
    let mut out = [0u8; 16];
    for i in 0..16 {
        out[i] = a[i] ^ b[i];
    }
    model::JobId(uuid::Builder::from_random_bytes(out).into_uuid())
}

pub async fn maintenance_run(
    st: &State,
    _ctx: &OpContext,
    _args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let host: Uuid = job.instance()?;
    let vms = {
        let mut c = st.store.read().await?;
        db::vm_list(
            &mut c,
            &db::VmFilter {
                host_id: Some(host),
                states: vec![model::VmState::Running, model::VmState::Migrating],
                ..Default::default()
            },
        )
        .await?
        .0
    };
    let mut failed = Vec::new();
    let total = vms.len();
    for (done, vm) in vms.into_iter().enumerate() {
        if let Err(e) = migrate(st, sub_job(job.id, vm.id), vm.id, None).await {
            let e = e.into_api();
            tracing::warn!(%host, vm = %vm.id, error = %e.text, "VM could not be migrated off a host entering maintenance");
            failed.push(format!("{}: {}", vm.instance_name, e.text));
        }
        // Progress: the share of the host's VMs dealt with (jobprocstatus).
        let mut tx = st.store.begin().await?;
        db::job_set_progress(
            &mut tx,
            job.id,
            crate::saga::progress(done as i64 + 1, total),
        )
        .await?;
        tx.commit().await?;
    }
    let mut h = super::hosts::host(st, "id", host).await?;
    if h.resource_state == model::ResourceState::PrepareForMaintenance {
        h.resource_state = if failed.is_empty() {
            model::ResourceState::Maintenance
        } else {
            model::ResourceState::ErrorInMaintenance
        };
        let mut tx = st.store.begin().await?;
        db::host_update(&mut tx, &h).await?;
        tx.commit().await?;
    }
    if !failed.is_empty() {
        tracing::warn!(%host, failed = ?failed, "host is in ErrorInMaintenance");
    }
    Ok(json!({ "host": super::hosts::views(st, std::slice::from_ref(&h)).await?.pop() }))
}

pub async fn cancel_prepare(st: &State, _ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let h = super::hosts::host(st, "id", args.required_id("id")?).await?;
    if !matches!(
        h.resource_state,
        model::ResourceState::Maintenance
            | model::ResourceState::ErrorInMaintenance
            | model::ResourceState::ErrorInPrepareForMaintenance
            | model::ResourceState::PrepareForMaintenance
    ) {
        return param_err(format!(
            "Host {} is in resource state {}, not in maintenance",
            h.name, h.resource_state
        ));
    }
    Ok(JobPlan {
        instance_type: Some("Host"),
        instance_id: Some(h.id.to_string()),
        returns_id: false,
        description: format!("Cancelling maintenance of host {}", h.name),
    })
}

pub async fn cancel_run(
    st: &State,
    _ctx: &OpContext,
    _args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let host: Uuid = job.instance()?;
    let mut h = super::hosts::host(st, "id", host).await?;
    if h.resource_state != model::ResourceState::Enabled {
        h.resource_state = model::ResourceState::Enabled;
        let mut tx = st.store.begin().await?;
        db::host_update(&mut tx, &h).await?;
        tx.commit().await?;
    }
    Ok(json!({ "host": super::hosts::views(st, std::slice::from_ref(&h)).await?.pop() }))
}
