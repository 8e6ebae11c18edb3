//! Affinity groups (CloudStack's `createAffinityGroup` family): an account's groups of VMs
//! that placement keeps on one host (host affinity) or on different hosts (host
//! anti-affinity), strictly or as a preference. `domain::affinity` turns them into placement
//! constraints and re-checks them when a VM is reserved.

use api::{list_body, ApiError, Args};
use db::{AccountRow, AffinityFilter, AffinityRow};
use domain::affinity::{parse_type, TYPES};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::access;
use crate::context::OpContext;
use crate::error::{param_err, AppResult};
use crate::events::Event;
use crate::jobs::{JobPlan, JobRef};
use crate::state::State;

pub(crate) fn view(g: &AffinityRow, members: &[model::VmId]) -> Value {
    json!({
        "id": g.id,
        "name": g.name,
        "type": g.group_type,
        "description": g.description,
        "account": g.account_name,
        "domainid": g.domain_id,
        "domain": g.domain_name,
        "domainpath": g.domain_path,
        "virtualmachineIds": members.iter().map(|v| v.to_string()).collect::<Vec<_>>(),
    })
}

/// The account's group of this name (compared without case).
async fn named(c: &mut db::Conn, acct: &AccountRow, name: &str) -> AppResult<Option<AffinityRow>> {
    let f = AffinityFilter {
        scope: Some(db::OwnerScope::Account(acct.id)),
        name: Some(name.trim().to_string()),
        ..Default::default()
    };
    Ok(db::affinity_list(c, &f).await?.into_iter().next())
}

/// The group with this id, whoever owns it.
async fn by_id(c: &mut db::Conn, id: Uuid) -> AppResult<Option<AffinityRow>> {
    let f = AffinityFilter {
        ids: vec![id],
        ..Default::default()
    };
    Ok(db::affinity_list(c, &f).await?.into_iter().next())
}

async fn owner(st: &State, ctx: &OpContext, args: &Args) -> AppResult<AccountRow> {
    match args.text("account") {
        Some(a) => {
            let acct = access::account_by_name(st, ctx, a, args.id("domainid")).await?;
            access::check_owner(ctx, &acct)?;
            Ok(acct)
        }
        None => Ok(ctx.user.account.clone()),
    }
}

pub async fn list_types(_st: &State, _ctx: &OpContext, _args: &Args) -> AppResult<Value> {
    let items: Vec<Value> = TYPES
        .iter()
        .map(|(t, d)| json!({ "type": t, "description": d }))
        .collect();
    Ok(list_body("affinityGroupType", items.len() as u64, items))
}

pub async fn create_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let acct = owner(st, ctx, args).await?;
    let name = args.required_str("name")?.trim().to_string();
    if name.is_empty() || name.chars().count() > 255 || name.chars().any(char::is_control) {
        return param_err(format!("Invalid affinity group name {name:?}"));
    }
    let t = args.required_str("type")?;
    let Some(group_type) = parse_type(t) else {
        return param_err(format!(
            "Unable to create affinity group, invalid affinity group type {t}: one of {}",
            TYPES.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
        ));
    };
    let g = AffinityRow {
        id: Uuid::new_v4(),
        name: name.clone(),
        group_type: group_type.to_string(),
        description: args.text("description").unwrap_or_default().to_string(),
        account_id: acct.id,
        account_name: acct.name.clone(),
        domain_id: acct.domain_id,
        domain_name: String::new(),
        domain_path: String::new(),
        created: api::time::now_ms(),
    };
    let mut tx = st.store.begin().await?;
    // Names are unique per account without case (CloudStack compares them in MySQL's
    // case-insensitive collation); the unique index catches the exact-case race.
    let taken = named(&mut tx, &acct, &name).await?.is_some();
    let inserted = if taken {
        Err(db::DbError::Conflict(name.clone()))
    } else {
        db::affinity_insert(&mut tx, &g).await
    };
    match inserted {
        Err(db::DbError::Conflict(_)) => {
            return param_err(format!(
                "Unable to create affinity group, a group with name {name} already exists for account {}",
                acct.name
            ))
        }
        r => r?,
    }
    Event::new(
        ctx,
        "AG.CREATE",
        format!("Affinity group {name} ({group_type}) created"),
    )
    .resource(g.id, "AffinityGroup", Some(&name))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(JobPlan {
        instance_type: Some("AffinityGroup"),
        instance_id: Some(g.id.to_string()),
        returns_id: true,
        description: format!("Creating affinity group {name}"),
    })
}

pub async fn create_run(
    st: &State,
    ctx: &OpContext,
    _args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let g = visible(st, ctx, job.instance()?).await?;
    Ok(json!({ "affinitygroup": view(&g, &[]) }))
}

/// A group the caller may see (its own; admins': in their reach).
async fn visible(st: &State, ctx: &OpContext, id: Uuid) -> AppResult<AffinityRow> {
    let g = {
        let mut c = st.store.read().await?;
        by_id(&mut c, id).await?
    }
    .ok_or_else(|| ApiError::invalid_id("id", &id.to_string()))?;
    let acct = access::account(st, "id", g.account_id).await?;
    access::check_account(ctx, &acct).map_err(|_| ApiError::invalid_id("id", &id.to_string()))?;
    Ok(g)
}

/// The group named by `id`, or by `name` (of the caller's account, or `account`/`domainid`).
async fn by_id_or_name(st: &State, ctx: &OpContext, args: &Args) -> AppResult<AffinityRow> {
    if let Some(id) = args.uuid("id") {
        return visible(st, ctx, id).await;
    }
    let Some(name) = args.text("name") else {
        return param_err("Either the affinity group's id or its name must be given");
    };
    let acct = owner(st, ctx, args).await?;
    let mut c = st.store.read().await?;
    named(&mut c, &acct, name).await?.ok_or_else(|| {
        ApiError::param(format!(
            "Unable to find affinity group by name {name} for account {}",
            acct.name
        ))
        .into()
    })
}

pub async fn delete_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let g = by_id_or_name(st, ctx, args).await?;
    Ok(JobPlan {
        instance_type: Some("AffinityGroup"),
        instance_id: Some(g.id.to_string()),
        returns_id: false,
        description: format!("Deleting affinity group {}", g.name),
    })
}

pub async fn delete_run(
    st: &State,
    ctx: &OpContext,
    _args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let g = visible(st, ctx, job.instance()?).await?;
    let mut tx = st.store.begin().await?;
    let members = db::affinity_members(&mut tx, g.id).await?;
    if !members.is_empty() {
        return Err(ApiError::new(
            api::ErrorCode::ResourceInUse,
            format!(
                "Cannot delete affinity group {}: {} VM(s) are in it; remove them first (updateVMAffinityGroup)",
                g.name,
                members.len()
            ),
        )
        .into());
    }
    db::affinity_delete(&mut tx, g.id).await?;
    Event::new(
        ctx,
        "AG.DELETE",
        format!("Affinity group {} deleted", g.name),
    )
    .resource(g.id, "AffinityGroup", Some(&g.name))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(api::success_body())
}

pub async fn list(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let vm = match args.uuid("virtualmachineid") {
        Some(v) => {
            // The VM must be the caller's to see.
            crate::handlers::vms::owned(st, ctx, v).await?;
            Some(model::VmId(v))
        }
        None => None,
    };
    let f = AffinityFilter {
        scope: Some(access::owner_scope(st, ctx, args).await?),
        ids: args.uuid("id").into_iter().collect(),
        name: args.text("name").map(|n| n.trim().to_string()),
        group_type: match args.text("type") {
            Some(t) => Some(
                parse_type(t)
                    .ok_or_else(|| ApiError::param(format!("Invalid affinity group type {t}")))?
                    .to_string(),
            ),
            None => None,
        },
        vm,
        keyword: args.text("keyword").map(str::to_string),
    };
    let mut c = st.store.read().await?;
    let rows = db::affinity_list(&mut c, &f).await?;
    let total = rows.len() as u64;
    let mut items = Vec::new();
    for g in rows
        .iter()
        .skip(args.page.offset as usize)
        .take(args.page.limit.map(|l| l as usize).unwrap_or(usize::MAX))
    {
        let members = db::affinity_members(&mut c, g.id).await?;
        items.push(view(g, &members));
    }
    Ok(list_body("affinitygroup", total, items))
}

/// The groups a deploy or updateVMAffinityGroup names (`affinitygroupids` or
/// `affinitygroupnames`), which must be the VM owner's.
pub(crate) async fn named_groups(
    st: &State,
    acct: &AccountRow,
    args: &Args,
) -> AppResult<Vec<AffinityRow>> {
    let ids = args.ids::<Uuid>("affinitygroupids").unwrap_or_default();
    let names = args
        .list("affinitygroupnames")
        .map(|l| l.to_vec())
        .unwrap_or_default();
    if !ids.is_empty() && !names.is_empty() {
        return param_err("Give affinitygroupids or affinitygroupnames, not both");
    }
    let mut c = st.store.read().await?;
    let mut out: Vec<AffinityRow> = Vec::new();
    for id in ids {
        let g = by_id(&mut c, id)
            .await?
            .ok_or_else(|| ApiError::invalid_id("affinitygroupids", &id.to_string()))?;
        // Another account's group is as unknown as a missing one (its name stays private).
        if g.account_id != acct.id {
            return Err(ApiError::invalid_id("affinitygroupids", &id.to_string()).into());
        }
        out.push(g);
    }
    for n in names {
        let g = named(&mut c, acct, &n).await?.ok_or_else(|| {
            ApiError::param(format!(
                "Affinity group {} does not exist for account {}",
                n.trim(),
                acct.name
            ))
        })?;
        out.push(g);
    }
    out.sort_by_key(|g| g.id);
    out.dedup_by_key(|g| g.id);
    Ok(out)
}

pub async fn update_vm_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let vm = crate::handlers::vms::owned(st, ctx, args.required_id::<Uuid>("id")?).await?;
    if vm.state != model::VmState::Stopped {
        return param_err(format!(
            "VM {} is {}: stop it before changing its affinity groups",
            vm.instance_name, vm.state
        ));
    }
    if !args.has("affinitygroupids")
        && !args.has("affinitygroupnames")
        && !args.given_empty("affinitygroupids")
        && !args.given_empty("affinitygroupnames")
    {
        return param_err("Give affinitygroupids or affinitygroupnames (empty: no group)");
    }
    Ok(JobPlan {
        instance_type: Some("VirtualMachine"),
        instance_id: Some(vm.id.to_string()),
        returns_id: false,
        description: format!("Updating the affinity groups of VM {}", vm.instance_name),
    })
}

pub async fn update_vm_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let vm = crate::handlers::vms::owned(st, ctx, job.instance()?).await?;
    let acct = access::account(st, "id", vm.account_id).await?;
    let groups = named_groups(st, &acct, args).await?;
    let ids: Vec<Uuid> = groups.iter().map(|g| g.id).collect();
    let mut tx = st.store.begin().await?;
    let still = db::vm_get(&mut tx, vm.id).await?;
    if still.as_ref().map(|v| v.state) != Some(model::VmState::Stopped) {
        return param_err(format!(
            "VM {} is no longer Stopped: its affinity groups were not changed",
            vm.instance_name
        ));
    }
    db::vm_affinity_set(&mut tx, vm.id, &ids).await?;
    Event::new(
        ctx,
        "VM.AG.UPDATE",
        format!(
            "VM {} affinity groups: {}",
            vm.instance_name,
            groups
                .iter()
                .map(|g| g.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    )
    .resource(vm.id.0, "VirtualMachine", Some(&vm.name))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    crate::handlers::vms::result(st, ctx, vm.id.0).await
}
