//! VM snapshots (`createVMSnapshot`, `listVMSnapshot`, `revertToVMSnapshot`,
//! `deleteVMSnapshot`): the CloudStack edge of `domain::vmsnapshots`.

use api::{list_body, success_body, ApiError, Args};
use db::VmSnapshotRow;
use model::{VmSnapshotId, VmSnapshotState};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::access;
use crate::context::OpContext;
use crate::error::{param_err, AppResult};
use crate::events::Event;
use crate::jobs::{JobPlan, JobRef};
use crate::state::State;

/// The most VM snapshots a VM may have (CloudStack's `vmsnapshot.max` default).
const MAX_PER_VM: u64 = 10;

async fn owned(st: &State, ctx: &OpContext, id: Uuid) -> AppResult<VmSnapshotRow> {
    let s = domain::vmsnapshots::load(st, VmSnapshotId(id))
        .await?
        .ok_or_else(|| ApiError::invalid_id("vmsnapshotid", &id.to_string()))?;
    if s.account_id != ctx.account_id() {
        let a = access::account(st, "vmsnapshotid", s.account_id).await?;
        access::check_account(ctx, &a)?;
    }
    Ok(s)
}

fn view(s: &VmSnapshotRow, all: &[VmSnapshotRow], vm: Option<&db::VmRow>) -> Value {
    let mut o = json!({
        "id": s.id,
        "name": s.name,
        "displayname": s.display_name,
        "description": s.description,
        "state": s.state,
        "type": if s.memory { "DiskAndMemory" } else { "Disk" },
        "current": s.current,
        "virtualmachineid": s.vm_id,
        "zoneid": s.zone_id,
        "created": api::time::format_ms(s.created),
        "account": s.account_name,
        "domainid": s.domain_id,
        "domain": s.domain_name,
        "hypervisor": vm
            .and_then(|v| v.attrs["hypervisor"].as_str())
            .unwrap_or("KVM"),
    });
    if let Some(p) = s.parent_id {
        o["parent"] = json!(p);
        if let Some(ps) = all.iter().find(|x| x.id == p) {
            o["parentName"] = json!(ps.display_name);
        }
    }
    if let Some(v) = vm {
        o["virtualmachinename"] = json!(v.display_name);
    }
    o
}

pub async fn create_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let vm = crate::handlers::vms::owned(st, ctx, args.required_id("virtualmachineid")?).await?;
    let memory = args.flag("snapshotmemory");
    domain::vmsnapshots::check_vm(&vm, memory)?;
    crate::handlers::volumes::refuse_encrypted_vm(st, vm.id, "A VM snapshot").await?;
    let existing = {
        let mut c = st.store.read().await?;
        db::vm_snapshot_list(
            &mut c,
            &db::VmSnapshotFilter {
                vm_id: Some(vm.id),
                ..Default::default()
            },
        )
        .await?
    };
    if existing.len() as u64 >= MAX_PER_VM {
        return param_err(format!(
            "VM {} has {MAX_PER_VM} VM snapshots, the most it may have: delete one first",
            vm.display_name
        ));
    }
    if existing
        .iter()
        .any(|s| !matches!(s.state, VmSnapshotState::Ready | VmSnapshotState::Error))
    {
        return param_err("Another VM snapshot of this VM is in progress");
    }
    let now = api::time::now_ms();
    let stamp = chrono::Utc::now().format("%Y%m%d%H%M%S");
    let name = format!("{}_VS_{stamp}", vm.instance_name);
    let display = args
        .text("name")
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| name.clone());
    if existing.iter().any(|s| s.display_name == display) {
        return param_err(format!("The VM already has a VM snapshot named {display}"));
    }
    let id = VmSnapshotId::new();
    let row = VmSnapshotRow {
        id,
        vm_id: vm.id,
        account_id: vm.account_id,
        account_name: String::new(),
        domain_id: vm.domain_id,
        domain_name: String::new(),
        zone_id: vm.zone_id,
        name: name.clone(),
        display_name: display.clone(),
        description: args.text("description").unwrap_or_default().to_string(),
        memory,
        state: VmSnapshotState::Allocated,
        // The internal snapshots' name: short, unique, only [0-9a-f-].
        tag: format!("cnp-{}", id.0.simple()),
        parent_id: existing.iter().find(|s| s.current).map(|s| s.id),
        current: false,
        created: now,
    };
    let mut tx = st.store.begin().await?;
    db::vm_snapshot_insert(&mut tx, &row).await?;
    Event::new(
        ctx,
        "VMSNAPSHOT.CREATE",
        format!("VM snapshot {display} of {} requested", vm.display_name),
    )
    .resource(id, "VMSnapshot", Some(&display))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(JobPlan {
        instance_type: Some("VMSnapshot"),
        instance_id: Some(id.to_string()),
        returns_id: true,
        description: format!("Taking VM snapshot {display} of {}", vm.instance_name),
    })
}

async fn result(st: &State, id: VmSnapshotId) -> AppResult<Value> {
    let s = domain::vmsnapshots::load(st, id)
        .await?
        .ok_or_else(|| ApiError::invalid_id("vmsnapshotid", &id.to_string()))?;
    let vm = crate::handlers::vms::load(st, s.vm_id).await?;
    Ok(json!({ "vmsnapshot": view(&s, &[], vm.as_ref()) }))
}

pub async fn create_run(
    st: &State,
    _ctx: &OpContext,
    _args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let id: VmSnapshotId = job.instance()?;
    domain::vmsnapshots::run(&st.core, job.id, id).await?;
    result(st, id).await
}

pub async fn list(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let scope = access::owner_scope(st, ctx, args).await?;
    let mut f = db::VmSnapshotFilter {
        scope: Some(scope),
        vm_id: args.uuid("virtualmachineid").map(model::VmId),
        keyword: args.text("keyword").map(str::to_string),
        ..Default::default()
    };
    if let Some(id) = args.uuid("vmsnapshotid") {
        f.ids.push(VmSnapshotId(id));
    }
    for s in args.list("vmsnapshotids").unwrap_or_default() {
        f.ids.push(
            s.trim()
                .parse()
                .map_err(|_| ApiError::invalid_id("vmsnapshotids", s))?,
        );
    }
    if let Some(s) = args.text("state") {
        match VmSnapshotState::parse_loose(s) {
            Some(s) => f.state = Some(s),
            None => return Ok(list_body("vmSnapshot", 0, Vec::new())),
        }
    }
    let rows = {
        let mut c = st.store.read().await?;
        db::vm_snapshot_list(&mut c, &f).await?
    };
    let rows: Vec<VmSnapshotRow> = match args.text("name") {
        Some(n) => rows
            .into_iter()
            .filter(|s| s.name == n || s.display_name == n)
            .collect(),
        None => rows,
    };
    let mut names = std::collections::HashMap::new();
    for s in &rows {
        if let std::collections::hash_map::Entry::Vacant(e) = names.entry(s.vm_id) {
            e.insert(crate::handlers::vms::load(st, s.vm_id).await?);
        }
    }
    let total = rows.len() as u64;
    let page: Vec<Value> = rows
        .iter()
        .skip(args.page.offset as usize)
        .take(args.page.limit.unwrap_or(u64::MAX) as usize)
        .map(|s| view(s, &rows, names.get(&s.vm_id).and_then(Option::as_ref)))
        .collect();
    Ok(list_body("vmSnapshot", total, page))
}

pub async fn revert_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let s = owned(st, ctx, args.required_id("vmsnapshotid")?).await?;
    let vm = crate::handlers::vms::owned(st, ctx, s.vm_id.0).await?;
    domain::vmsnapshots::check_revert(&s, &vm)?;
    Ok(JobPlan {
        instance_type: Some("VMSnapshot"),
        instance_id: Some(s.id.to_string()),
        returns_id: false,
        description: format!("Reverting VM {} to {}", vm.instance_name, s.display_name),
    })
}

pub async fn revert_run(
    st: &State,
    ctx: &OpContext,
    _args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let id: VmSnapshotId = job.instance()?;
    domain::vmsnapshots::revert(st, id).await?;
    let s = owned(st, ctx, id.0).await?;
    crate::handlers::vms::result(st, ctx, s.vm_id.0).await
}

pub async fn delete_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let s = owned(st, ctx, args.required_id("vmsnapshotid")?).await?;
    if !matches!(
        s.state,
        VmSnapshotState::Ready | VmSnapshotState::Error | VmSnapshotState::Expunging
    ) {
        return param_err(format!(
            "VM snapshot {} is {}: it can be deleted when Ready",
            s.display_name, s.state
        ));
    }
    Ok(JobPlan {
        instance_type: Some("VMSnapshot"),
        instance_id: Some(s.id.to_string()),
        returns_id: false,
        description: format!("Deleting VM snapshot {}", s.display_name),
    })
}

pub async fn delete_run(
    st: &State,
    _ctx: &OpContext,
    _args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let id: VmSnapshotId = job.instance()?;
    domain::vmsnapshots::delete(st, id).await?;
    Ok(success_body())
}
