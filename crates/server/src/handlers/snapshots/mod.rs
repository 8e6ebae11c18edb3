//! Volume snapshots (`createSnapshot`, `listSnapshots`, `deleteSnapshot`, `revertSnapshot`):
//! the CloudStack edge of `domain::snapshots`. Policies are in `policies`, templates made
//! from snapshots and volumes in `templates`.

use api::{list_body, success_body, ApiError, Args};
use db::SnapshotRow;
use model::identity::display_domain_path;
use model::{SnapshotId, SnapshotState};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::access;
use crate::context::OpContext;
use crate::error::{param_err, AppResult};
use crate::events::Event;
use crate::jobs::{JobPlan, JobRef};
use crate::state::State;

pub mod extract;
pub mod policies;
pub mod templates;
pub mod vm;

pub use policies::*;

/// The snapshot the caller may act on.
pub(crate) async fn owned(
    st: &State,
    ctx: &OpContext,
    param: &str,
    id: Uuid,
) -> AppResult<SnapshotRow> {
    let s = domain::snapshots::load(st, SnapshotId(id))
        .await?
        .ok_or_else(|| ApiError::invalid_id(param, &id.to_string()))?;
    if s.account_id != ctx.account_id() {
        let a = access::account(st, param, s.account_id).await?;
        access::check_account(ctx, &a)?;
    }
    Ok(s)
}

struct Names {
    zones: std::collections::HashMap<Uuid, String>,
    volumes: std::collections::HashMap<model::VolumeId, db::VolumeRow>,
}

async fn names(st: &State, rows: &[SnapshotRow]) -> AppResult<Names> {
    let zones = super::zones::names(st, db::Infra::Zone, rows.iter().map(|s| s.zone_id)).await?;
    let mut ids: Vec<model::VolumeId> = rows.iter().map(|s| s.volume_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let volumes = if ids.is_empty() {
        Default::default()
    } else {
        let mut c = st.store.read().await?;
        let f = db::VolumeFilter {
            ids,
            ..Default::default()
        };
        db::volume_list(&mut c, &f)
            .await?
            .0
            .into_iter()
            .map(|v| (v.id, v))
            .collect()
    };
    Ok(Names { zones, volumes })
}

fn view(s: &SnapshotRow, n: &Names, tags: &[db::TagRow]) -> Value {
    let v = n.volumes.get(&s.volume_id);
    let mut o = json!({
        "id": s.id,
        "name": s.name,
        "account": s.account_name,
        "domainid": s.domain_id,
        "domain": s.domain_name,
        "domainpath": display_domain_path(&s.domain_path),
        "snapshottype": if s.policy_id.is_some() { "RECURRING" } else { "MANUAL" },
        "volumeid": s.volume_id,
        "volumetype": s.vol_type,
        "created": api::time::format_ms(s.created),
        "intervaltype": s.interval_type,
        "state": s.state,
        "physicalsize": s.physical_size,
        "virtualsize": s.size,
        "zoneid": s.zone_id,
        "revertable": s.state == SnapshotState::BackedUp && v.is_some(),
        "locationtype": "Secondary",
        "tags": super::tags::embedded(tags, s.id.0),
    });
    if let Some(v) = v {
        o["volumename"] = json!(v.name);
        o["volumestate"] = json!(v.state);
    }
    if let Some(z) = n.zones.get(&s.zone_id) {
        o["zonename"] = json!(z);
    }
    o
}

async fn result(st: &State, id: SnapshotId) -> AppResult<Value> {
    let s = domain::snapshots::load(st, id)
        .await?
        .ok_or_else(|| ApiError::invalid_id("id", &id.to_string()))?;
    let n = names(st, std::slice::from_ref(&s)).await?;
    let tags = super::tags::for_resources(st, &[s.id.0]).await?;
    Ok(json!({ "snapshot": view(&s, &n, &tags) }))
}

/// Writes a snapshot row (Allocated) for `volume`, checking the owner's limits; its id.
pub(crate) async fn record(
    st: &State,
    ctx: &OpContext,
    v: &db::VolumeRow,
    name: Option<&str>,
    policy: Option<&db::SnapshotPolicyRow>,
) -> AppResult<SnapshotId> {
    if v.state != model::VolumeState::Ready || v.pool_id.is_none() {
        return param_err(format!(
            "VolumeId: {} is not in Ready state but {}: only a volume created on primary storage can be snapshotted",
            v.id, v.state
        ));
    }
    if let Some(vm) = v.vm_id {
        if let Some(vm) = crate::handlers::vms::load(st, vm).await? {
            if !matches!(vm.state, model::VmState::Running | model::VmState::Stopped) {
                return param_err(format!(
                    "VM {} is {}: a snapshot of its volume can be taken when it is Running or Stopped",
                    vm.display_name, vm.state
                ));
            }
        }
    }
    let acct = access::account(st, "volumeid", v.account_id).await?;
    crate::handlers::limits::enforce(
        st,
        &acct,
        &[
            (model::limits::ResourceType::Snapshot, 1),
            (model::limits::ResourceType::SecondaryStorage, v.size),
        ],
    )
    .await?;
    let id = SnapshotId::new();
    let vm_name = match v.vm_id {
        Some(vm) => crate::handlers::vms::load(st, vm)
            .await?
            .map(|vm| vm.display_name)
            .unwrap_or_default(),
        None => String::new(),
    };
    let stamp = chrono::Utc::now().format("%Y%m%d%H%M%S");
    let name = match name.map(str::trim).filter(|n| !n.is_empty()) {
        Some(n) => n.to_string(),
        // CloudStack's: <VM display name>_<volume name>_<yyyyMMddHHmmss>.
        None if vm_name.is_empty() => format!("{}_{stamp}", v.name),
        None => format!("{vm_name}_{}_{stamp}", v.name),
    };
    let mut tx = st.store.begin().await?;
    db::snapshot_insert(
        &mut tx,
        &db::NewSnapshot {
            id,
            name: name.clone(),
            account_id: v.account_id,
            domain_id: v.domain_id,
            zone_id: v.zone_id,
            volume_id: v.id,
            vol_type: v.vol_type.clone(),
            interval_type: policy
                .map(|p| p.interval_type.clone())
                .unwrap_or_else(|| "MANUAL".into()),
            policy_id: policy.map(|p| p.id),
            size: v.size,
            attrs: json!({}),
        },
    )
    .await?;
    Event::new(
        ctx,
        "SNAPSHOT.CREATE",
        format!("Snapshot {name} of volume {} requested", v.name),
    )
    .resource(id, "Snapshot", Some(&name))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(id)
}

pub async fn create_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let v =
        crate::handlers::volumes::owned(st, ctx, "volumeid", args.required_id("volumeid")?).await?;
    crate::handlers::volumes::refuse_encrypted(&v, "A snapshot")?;
    let policy = match args.uuid("policyid") {
        Some(p) => {
            let p = policies::owned(st, ctx, "policyid", p).await?;
            if p.volume_id != v.id {
                return param_err("The snapshot policy is not the volume's");
            }
            Some(p)
        }
        None => None,
    };
    let id = record(st, ctx, &v, args.text("name"), policy.as_ref()).await?;
    Ok(JobPlan {
        instance_type: Some("Snapshot"),
        instance_id: Some(id.to_string()),
        returns_id: true,
        description: format!("Taking a snapshot of volume {}", v.name),
    })
}

pub async fn create_run(
    st: &State,
    _ctx: &OpContext,
    _args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let id: SnapshotId = job.instance()?;
    domain::snapshots::run(&st.core, job.id, id).await?;
    result(st, id).await
}

pub async fn list(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let scope = access::owner_scope(st, ctx, args).await?;
    let mut f = db::SnapshotFilter {
        scope: Some(scope),
        offset: args.page.offset,
        limit: args.page.limit,
        ..Default::default()
    };
    if let Some(id) = args.uuid("id") {
        f.ids.push(SnapshotId(id));
    }
    for s in args.list("ids").unwrap_or_default() {
        f.ids.push(
            s.trim()
                .parse()
                .map_err(|_| ApiError::invalid_id("ids", s))?,
        );
    }
    f.name = args.text("name").map(str::to_string);
    f.volume_id = args.uuid("volumeid").map(model::VolumeId);
    f.zone_id = args.uuid("zoneid");
    f.keyword = args.text("keyword").map(str::to_string);
    if let Some(i) = args.text("intervaltype") {
        match domain::snapshots::Interval::parse(i) {
            Some(i) => f.interval_type = Some(i.as_str().into()),
            None => {
                return param_err(format!(
                    "Invalid intervaltype {i}: HOURLY, DAILY, WEEKLY or MONTHLY"
                ))
            }
        }
    }
    let recurring = match args
        .text("snapshottype")
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        None => None,
        Some("MANUAL") => Some(false),
        Some("RECURRING") => Some(true),
        Some(t) => return param_err(format!("Invalid snapshottype {t}: MANUAL or RECURRING")),
    };
    f.recurring = recurring;
    let (rows, total) = {
        let mut c = st.store.read().await?;
        db::snapshot_list(&mut c, &f).await?
    };
    let n = names(st, &rows).await?;
    let ids: Vec<Uuid> = rows.iter().map(|s| s.id.0).collect();
    let tags = super::tags::for_resources(st, &ids).await?;
    Ok(list_body(
        "snapshot",
        total,
        rows.iter().map(|s| view(s, &n, &tags)).collect(),
    ))
}

pub async fn delete_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let s = owned(st, ctx, "id", args.required_id("id")?).await?;
    if !matches!(
        s.state,
        SnapshotState::BackedUp | SnapshotState::Error | SnapshotState::Destroying
    ) {
        return param_err(format!(
            "Snapshot {} is {}: it can be deleted once it is taken (BackedUp) or failed (Error)",
            s.name, s.state
        ));
    }
    Ok(JobPlan {
        instance_type: Some("Snapshot"),
        instance_id: Some(s.id.to_string()),
        returns_id: false,
        description: format!("Deleting snapshot {}", s.name),
    })
}

pub async fn delete_run(
    st: &State,
    _ctx: &OpContext,
    _args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let id: SnapshotId = job.instance()?;
    domain::snapshots::delete(st, id).await?;
    Ok(success_body())
}

pub async fn revert_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let s = owned(st, ctx, "id", args.required_id("id")?).await?;
    if s.state != SnapshotState::BackedUp {
        return param_err(format!(
            "Snapshot {} is {}: only a BackedUp snapshot can be reverted to",
            s.name, s.state
        ));
    }
    let v = domain::volumes::load(st, s.volume_id)
        .await?
        .ok_or_else(|| ApiError::param("The snapshot's volume no longer exists"))?;
    if let Some(vm) = v.vm_id {
        if let Some(vm) = crate::handlers::vms::load(st, vm).await? {
            if vm.state != model::VmState::Stopped {
                return param_err(format!(
                    "VM {} is {}: stop it before reverting its volume to a snapshot",
                    vm.display_name, vm.state
                ));
            }
        }
    }
    Ok(JobPlan {
        instance_type: Some("Snapshot"),
        instance_id: Some(s.id.to_string()),
        returns_id: false,
        description: format!("Reverting volume {} to snapshot {}", v.name, s.name),
    })
}

pub async fn revert_run(
    st: &State,
    _ctx: &OpContext,
    _args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let id: SnapshotId = job.instance()?;
    domain::snapshots::revert(st, id).await?;
    result(st, id).await
}
