//! Instance groups: createInstanceGroup, listInstanceGroups, updateInstanceGroup,
//! deleteInstanceGroup. A VM joins a group by name (`group` of deployVirtualMachine and
//! updateVirtualMachine; the group is created for the VM's account when it does not exist, as
//! CloudStack does) and lists it as `group`/`groupid`; `listVirtualMachines groupid=` filters.

use api::{list_body, success_body, ApiError, Args};
use db::{AccountRow, DbError, GroupFilter, GroupRow};
use model::identity::display_domain_path;
use model::{AccountId, DomainId};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::access;
use crate::context::OpContext;
use crate::error::{param_err, AppError, AppResult};
use crate::state::State;

/// Longest group name (CloudStack's column).
const MAX_NAME: usize = 255;

pub(crate) fn view(g: &GroupRow) -> Value {
    json!({
        "id": g.id,
        "name": g.name,
        "account": g.account_name,
        "domainid": g.domain_id,
        "domain": g.domain_name,
        "domainpath": display_domain_path(&g.domain_path),
        "created": api::time::format_ms(g.created),
        "hasannotations": false,
    })
}

fn check_name(name: &str) -> AppResult<String> {
    let n = name.trim();
    if n.is_empty() {
        return param_err("Instance group name can't be empty");
    }
    if n.chars().count() > MAX_NAME {
        return param_err(format!(
            "Instance group names are at most {MAX_NAME} characters"
        ));
    }
    Ok(n.to_string())
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

/// The group the caller may change: its account's own, or one an admin is over.
async fn owned(st: &State, ctx: &OpContext, id: Uuid) -> AppResult<GroupRow> {
    let g = {
        let mut c = st.store.read().await?;
        db::group_get(&mut c, id).await?
    }
    .ok_or_else(|| ApiError::invalid_id("id", &id.to_string()))?;
    if g.account_id != ctx.account_id() {
        let a = access::account(st, "id", g.account_id).await?;
        access::check_owner(ctx, &a)?;
    }
    Ok(g)
}

/// The id of the account's group of that name, created when missing (deploy and
/// updateVirtualMachine name groups).
pub(crate) async fn ensure(
    st: &State,
    account: AccountId,
    domain: DomainId,
    name: &str,
) -> AppResult<Uuid> {
    let name = check_name(name)?;
    for _ in 0..3 {
        {
            let mut c = st.store.read().await?;
            if let Some(g) = db::group_get_by_name(&mut c, account, &name).await? {
                return Ok(g.id);
            }
        }
        let id = Uuid::new_v4();
        let mut tx = st.store.begin().await?;
        match db::group_insert(&mut tx, id, account, domain, &name).await {
            Ok(()) => {
                tx.commit().await?;
                return Ok(id);
            }
            // Created meanwhile by another request: read it.
            Err(DbError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::Internal(format!(
        "instance group {name} could not be created"
    )))
}

pub async fn create(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let name = check_name(args.required_str("name")?)?;
    let acct = owner(st, ctx, args).await?;
    let id = Uuid::new_v4();
    let mut tx = st.store.begin().await?;
    match db::group_insert(&mut tx, id, acct.id, acct.domain_id, &name).await {
        Ok(()) => {}
        Err(DbError::Conflict(_)) => {
            return param_err(format!(
                "Unable to create instance group, a group with name {name} already exists for account {}",
                acct.name
            ))
        }
        Err(e) => return Err(e.into()),
    }
    tx.commit().await?;
    let g = {
        let mut c = st.store.read().await?;
        db::group_get(&mut c, id).await?
    }
    .ok_or_else(|| AppError::Internal("instance group vanished".into()))?;
    Ok(json!({ "instancegroup": view(&g) }))
}

pub async fn list(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let f = GroupFilter {
        scope: access::owner_scope(st, ctx, args).await?,
        id: args.uuid("id"),
        name: args.text("name").map(str::to_string),
        keyword: args.text("keyword").map(str::to_string),
        offset: args.page.offset,
        limit: args.page.limit,
    };
    let mut c = st.store.read().await?;
    let (rows, total) = db::group_list(&mut c, &f).await?;
    Ok(list_body(
        "instancegroup",
        total,
        rows.iter().map(view).collect(),
    ))
}

pub async fn update(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let g = owned(st, ctx, args.required_id("id")?).await?;
    if let Some(n) = args.text("name") {
        let n = check_name(n)?;
        if n != g.name {
            let mut tx = st.store.begin().await?;
            match db::group_rename(&mut tx, &g, &n).await {
                Ok(()) => tx.commit().await?,
                Err(DbError::Conflict(_)) => {
                    return param_err(format!(
                        "Unable to update instance group, a group with name {n} already exists for account {}",
                        g.account_name
                    ))
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    let g = {
        let mut c = st.store.read().await?;
        db::group_get(&mut c, g.id).await?
    }
    .ok_or_else(|| AppError::Internal("instance group vanished".into()))?;
    Ok(json!({ "instancegroup": view(&g) }))
}

pub async fn delete(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let g = owned(st, ctx, args.required_id("id")?).await?;
    let mut tx = st.store.begin().await?;
    db::group_remove(&mut tx, &g).await?;
    tx.commit().await?;
    Ok(success_body())
}

/// `listVirtualMachines groupid=`: the group's name and account (None: a group the caller
/// cannot see, which matches nothing).
pub(crate) async fn filter_of(
    st: &State,
    ctx: &OpContext,
    id: Uuid,
) -> AppResult<Option<(AccountId, String)>> {
    let g = {
        let mut c = st.store.read().await?;
        db::group_get(&mut c, id).await?
    };
    let Some(g) = g else { return Ok(None) };
    if g.account_id != ctx.account_id() {
        let a = access::account(st, "id", g.account_id).await?;
        if access::check_account(ctx, &a).is_err() {
            return Ok(None);
        }
    }
    Ok(Some((g.account_id, g.name)))
}
