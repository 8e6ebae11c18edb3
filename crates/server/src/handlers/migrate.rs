//! Live migration and host maintenance: migrateVirtualMachine, prepareHostForMaintenance,
//! cancelHostMaintenance.
//!
//! Migration is a saga: reserve the destination (its capacity is held while the VM is
//! Migrating, on both hosts) → prepare the destination → transfer (the point of no return) →
//! Running on the destination. Maintenance migrates every running VM off the host, each with
//! its own migration saga, then puts the host in Maintenance — or ErrorInMaintenance when a VM
//! cannot move.

use api::Args;
use db::HostRow;
use serde_json::{json, Value};
use uuid::Uuid;

use super::vms::{load, state_err, vm_gone};
use crate::context::OpContext;
use crate::error::{param_err, AppError, AppResult};
use crate::jobs::{JobPlan, JobRef};
use crate::state::State;

use domain::vms::migrate::{check_migratable, request, unsuitable};

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
    let mut req = request(&vm);
    // Hosts the VM's strict affinity groups rule out are not suitable.
    domain::affinity::of_vm(st, vm.id).await?.apply(&mut req);
    // Hosts dedicated to another domain or account are not suitable either.
    let (account, domains) = domain::placing::owner_of(st, &vm).await?;
    req.owner_account = Some(account);
    req.owner_domains = domains;
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
        let dest = super::hosts::host(st, "hostid", model::HostId(h)).await?;
        if let Some(why) = unsuitable(&vm, &dest) {
            return param_err(why);
        }
        // A host dedicated to another domain or account.
        let snap = crate::placing::snapshot(st, vm.zone_id).await?;
        let (account, domains) = domain::placing::owner_of(st, &vm).await?;
        let owner = placement::Request {
            owner_account: Some(account),
            owner_domains: domains,
            ..Default::default()
        };
        if snap
            .hosts
            .iter()
            .any(|x| x.id == dest.id.0 && placement::dedicated_to_others(x, &owner))
        {
            return Err(api::ApiError::new(
                api::ErrorCode::InsufficientCapacity,
                format!(
                    "Cannot migrate VM {} to host {}: it is dedicated to another domain or account",
                    vm.instance_name, dest.name
                ),
            )
            .into());
        }
        if let Some(why) = domain::affinity::of_vm(st, vm.id).await?.breaks(dest.id) {
            return Err(api::ApiError::new(
                api::ErrorCode::InsufficientCapacity,
                format!(
                    "Cannot migrate VM {} to host {}: {why}",
                    vm.instance_name, dest.name
                ),
            )
            .into());
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
    domain::vms::migrate::migrate(
        &st.core,
        job.id,
        model::VmId(id),
        args.uuid("hostid").map(model::HostId),
    )
    .await?;
    let vm = load(st, model::VmId(id))
        .await?
        .ok_or_else(|| vm_gone(id))?;
    super::vms::result_of(st, ctx, &vm).await
}

// --- with volumes --------------------------------------------------------------------------

/// `migrateto[i].volume` / `migrateto[i].pool` pairs.
fn volume_pools(args: &Args) -> AppResult<Vec<(model::VolumeId, Uuid)>> {
    let mut out = Vec::new();
    for m in args.map("migrateto").unwrap_or_default() {
        let (Some(v), Some(p)) = (m.get("volume"), m.get("pool")) else {
            return param_err("Each migrateto entry needs volume and pool");
        };
        let v = v
            .trim()
            .parse::<Uuid>()
            .map_err(|_| api::ApiError::invalid_id("migrateto.volume", v))?;
        let p = p
            .trim()
            .parse::<Uuid>()
            .map_err(|_| api::ApiError::invalid_id("migrateto.pool", p))?;
        out.push((model::VolumeId(v), p));
    }
    Ok(out)
}

pub async fn with_volume_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let vm = super::vms::owned(st, ctx, args.required_id("virtualmachineid")?).await?;
    let pools = volume_pools(args)?;
    super::volumes::refuse_encrypted_vm(st, vm.id, "Migration with volumes").await?;
    let Some(h) = args.uuid("hostid") else {
        return param_err("hostid is required: the host the VM migrates to");
    };
    let dest = super::hosts::host(st, "hostid", model::HostId(h)).await?;
    domain::vms::migrate_storage::plan(st, &vm, &dest, &pools, false).await?;
    Ok(JobPlan {
        instance_type: Some("VirtualMachine"),
        instance_id: Some(vm.id.to_string()),
        returns_id: false,
        description: format!("Migrating VM {} with its volumes", vm.instance_name),
    })
}

pub async fn with_volume_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let id: Uuid = job.instance()?;
    let dest = args
        .uuid("hostid")
        .ok_or_else(|| AppError::Internal("storage migration job without hostid".into()))?;
    domain::vms::migrate_storage::run(
        &st.core,
        job.id,
        model::VmId(id),
        model::HostId(dest),
        &volume_pools(args)?,
    )
    .await?;
    let vm = load(st, model::VmId(id))
        .await?
        .ok_or_else(|| vm_gone(id))?;
    super::vms::result_of(st, ctx, &vm).await
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
                host_id: Some(model::HostId(host)),
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
        if let Err(e) =
            domain::vms::migrate::migrate(&st.core, sub_job(job.id, vm.id.into()), vm.id, None)
                .await
        {
            let e = AppError::from(e).into_api();
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
    let mut h = super::hosts::host(st, "id", model::HostId(host)).await?;
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
    let mut h = super::hosts::host(st, "id", model::HostId(host)).await?;
    if h.resource_state != model::ResourceState::Enabled {
        h.resource_state = model::ResourceState::Enabled;
        let mut tx = st.store.begin().await?;
        db::host_update(&mut tx, &h).await?;
        tx.commit().await?;
    }
    Ok(json!({ "host": super::hosts::views(st, std::slice::from_ref(&h)).await?.pop() }))
}
