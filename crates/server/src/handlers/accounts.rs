//! Accounts: create (with the first user), list, update, enable/disable/lock, delete.

use api::{list_body, success_body, ApiError, Args};
use db::{AccountFilter, AccountRow, DbError};
use model::identity::{AccountState, AccountType, RoleType};
use model::{AccountId, DomainId, RoleId, UserId};
use serde_json::{json, Value};

use crate::access;
use crate::context::OpContext;
use crate::error::{param_err, AppError, AppResult};
use crate::events::Event;
use crate::handlers::users;
use crate::jobs::JobPlan;
use crate::state::State;
use crate::{validate, views};

pub(crate) async fn view(st: &State, id: AccountId) -> AppResult<Value> {
    let mut c = st.store.read().await?;
    let a = db::account_get(&mut c, id)
        .await?
        .ok_or_else(|| AppError::Internal("account vanished".into()))?;
    let users = db::user_list_for_accounts(&mut c, &[id]).await?;
    Ok(views::account(&a, &users))
}

fn parse_requested_id<T: std::str::FromStr>(args: &Args, name: &str) -> AppResult<Option<T>> {
    match args.text(name) {
        None => Ok(None),
        Some(s) => s
            .parse::<T>()
            .map(Some)
            .map_err(|_| ApiError::invalid_id(name, s).into()),
    }
}

/// The role a new account gets: `roleid`, else the default role of `accounttype`, else User.
async fn choose_role(st: &State, args: &Args) -> AppResult<db::RoleRow> {
    let mut c = st.store.read().await?;
    if let Some(rid) = args.id::<RoleId>("roleid") {
        return db::role_get(&mut c, rid)
            .await?
            .ok_or_else(|| ApiError::invalid_id("roleid", &rid.to_string()).into());
    }
    let t = match args.int("accounttype") {
        Some(t) => AccountType::from_i64(t)
            .filter(|t| *t != AccountType::Project)
            .ok_or_else(|| {
                ApiError::param(format!(
                    "Invalid account type {t}: use 0 (user), 1 (root admin) or 2 (domain admin)"
                ))
            })?,
        None => AccountType::User,
    };
    db::role_default_for(&mut c, t.default_role_type())
        .await?
        .ok_or_else(|| AppError::Internal(format!("no default role for {t:?}")))
}

pub async fn create(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let username = args.required_str("username")?;
    let domain = match args.id::<DomainId>("domainid") {
        Some(d) => access::domain(st, "domainid", d).await?,
        None => access::domain(st, "domainid", ctx.domain_id()).await?,
    };
    access::check_domain_admin(ctx, &domain)?;
    let role = choose_role(st, args).await?;
    if role.role_type == RoleType::Admin {
        if !ctx.is_root_admin() {
            return Err(
                ApiError::permission("Only a root admin can create root admin accounts").into(),
            );
        }
        if domain.path != "/" {
            return param_err(format!("Invalid account type Admin given for an account in domain {}; unable to create user of admin role type in non-ROOT domain.", domain.id));
        }
    }
    let name = args.text("account").unwrap_or(username);
    validate::plain_name("Account", name)?;
    let nd = args.text("networkdomain");
    if let Some(nd) = nd {
        validate::network_domain(nd)?;
    }
    let account_id = parse_requested_id::<AccountId>(args, "accountid")?.unwrap_or_default();
    let user_id = parse_requested_id::<UserId>(args, "userid")?.unwrap_or_default();
    let (_, hash) = users::credentials(args).await?;
    let mut tx = st.store.begin().await?;
    match db::account_insert(
        &mut tx,
        &db::NewAccount {
            id: account_id,
            name: name.to_string(),
            account_type: role.role_type.account_type(),
            role_id: role.id,
            domain_id: domain.id,
            network_domain: nd.map(str::to_string),
            is_default: false,
        },
    )
    .await
    {
        Err(DbError::Conflict(_)) => {
            return param_err(format!(
                "The specified account: {name} already exists in domain {}",
                domain.id
            ))
        }
        r => r?,
    }
    users::insert_from_args(
        &mut tx,
        args,
        user_id,
        (account_id, domain.id),
        username,
        hash,
    )
    .await?;
    Event::new(
        ctx,
        "ACCOUNT.CREATE",
        format!("Account {name} created in domain {}", domain.name),
    )
    .resource(account_id, "Account", Some(name))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(json!({ "account": view(st, account_id).await? }))
}

pub async fn list(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let (state, account_type) = users::state_and_type_filters(args)?;
    // By id, as CloudStack: an account the caller may not see is refused, not hidden.
    if let Some(id) = args.id::<AccountId>("id") {
        let a = access::account(st, "id", id).await?;
        if access::check_account(ctx, &a).is_err() {
            // Without the account's name: the caller only sent an id.
            return Err(api::ApiError::permission(format!(
                "Account {} does not have permission to access account id={id}",
                ctx.user.account.name
            ))
            .into());
        }
    }
    let f = AccountFilter {
        scope: access::account_list_scope(st, ctx, args).await?,
        id: args.id("id"),
        name: args.text("name").map(str::to_string),
        account_type,
        state,
        keyword: args.text("keyword").map(str::to_string),
        offset: args.page.offset,
        limit: args.page.limit,
    };
    let mut c = st.store.read().await?;
    let (rows, total) = db::account_list(&mut c, &f).await?;
    let ids: Vec<AccountId> = rows.iter().map(|a| a.id).collect();
    let users = db::user_list_for_accounts(&mut c, &ids).await?;
    drop(c);
    // Resource counts and limits unless only `details=min` is asked for.
    let min = args
        .list("details")
        .map(|d| d.iter().all(|x| x.trim().eq_ignore_ascii_case("min")) && !d.is_empty())
        .unwrap_or(false);
    let mut counts = if min {
        Vec::new()
    } else {
        super::limits::accounts_resources(st, &rows).await?
    }
    .into_iter();
    let mut items = Vec::new();
    for a in &rows {
        let mine: Vec<_> = users
            .iter()
            .filter(|u| u.account.id == a.id)
            .cloned()
            .collect();
        let mut v = views::account(a, &mine);
        if let (Some(m), Some(fields)) = (v.as_object_mut(), counts.next()) {
            m.extend(fields);
        }
        items.push(v);
    }
    Ok(list_body("account", total, items))
}

/// The account named by `id`, or by `account` (+`domainid`).
async fn target(st: &State, ctx: &OpContext, args: &Args) -> AppResult<AccountRow> {
    let a = if let Some(id) = args.id::<AccountId>("id") {
        access::account(st, "id", id).await?
    } else if let Some(name) = args.text("account") {
        access::account_by_name(st, ctx, name, args.id("domainid")).await?
    } else {
        return param_err("Either id or account (with domainid) must be specified");
    };
    access::not_project_account("id", &a)?;
    access::check_account_admin(ctx, &a)?;
    Ok(a)
}

/// Refuses state changes and deletion of the caller's own account and of default accounts.
fn not_self_or_default(ctx: &OpContext, a: &AccountRow, action: &str) -> AppResult<()> {
    if a.id == ctx.account_id() {
        return param_err(format!("You can't {action} your own account"));
    }
    if a.is_default {
        return param_err(format!(
            "The account {} is a default account: you can't {action} it",
            a.name
        ));
    }
    Ok(())
}

pub async fn update(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let a = target(st, ctx, args).await?;
    let mut name = a.name.clone();
    if let Some(n) = args.text("newname") {
        validate::plain_name("Account", n)?;
        name = n.to_string();
    }
    let nd = match args.str("networkdomain") {
        Some("") => None,
        Some(nd) => {
            validate::network_domain(nd)?;
            Some(nd.to_string())
        }
        None => a.network_domain.clone(),
    };
    let mut role_id = a.role_id;
    if let Some(rid) = args.id::<RoleId>("roleid") {
        let mut c = st.store.read().await?;
        let r = db::role_get(&mut c, rid)
            .await?
            .ok_or_else(|| ApiError::invalid_id("roleid", &rid.to_string()))?;
        if r.role_type != a.role_type {
            return param_err(format!("Role {} is of type {}, the account's role type is {}; the type of an account can't change", r.name, r.role_type.as_str(), a.role_type.as_str()));
        }
        role_id = r.id;
    }
    let mut tx = st.store.begin().await?;
    match db::account_update(&mut tx, a.id, &name, nd.as_deref(), role_id).await {
        Err(DbError::Conflict(_)) => {
            return param_err(format!(
                "The specified account: {name} already exists in domain {}",
                a.domain_id
            ))
        }
        r => r?,
    }
    Event::new(ctx, "ACCOUNT.UPDATE", format!("Account {} updated", a.name))
        .resource(a.id, "Account", Some(&name))
        .record(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(json!({ "account": view(st, a.id).await? }))
}

async fn set_state(
    st: &State,
    ctx: &OpContext,
    a: &AccountRow,
    state: AccountState,
    ev: Option<&str>,
) -> AppResult<Value> {
    let mut tx = st.store.begin().await?;
    db::account_set_state(&mut tx, a.id, state).await?;
    if let Some(ev) = ev {
        Event::new(
            ctx,
            ev,
            format!("Account {} is now {}", a.name, state.as_str()),
        )
        .resource(a.id, "Account", Some(&a.name))
        .record(&mut tx)
        .await?;
    }
    tx.commit().await?;
    Ok(json!({ "account": view(st, a.id).await? }))
}

pub async fn enable(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let a = target(st, ctx, args).await?;
    set_state(st, ctx, &a, AccountState::Enabled, Some("ACCOUNT.ENABLE")).await
}

pub async fn lock(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let a = target(st, ctx, args).await?;
    not_self_or_default(ctx, &a, "lock")?;
    set_state(st, ctx, &a, AccountState::Locked, Some("ACCOUNT.DISABLE")).await
}

pub async fn disable_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let a = target(st, ctx, args).await?;
    not_self_or_default(ctx, &a, "disable")?;
    Ok(JobPlan {
        instance_type: Some("Account"),
        instance_id: Some(a.id.to_string()),
        returns_id: false,
        description: format!("Disabling account {}", a.name),
    })
}

pub async fn disable_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    _job: &crate::jobs::JobRef,
) -> AppResult<Value> {
    let a = target(st, ctx, args).await?;
    let state = if args.flag("lock") {
        AccountState::Locked
    } else {
        AccountState::Disabled
    };
    set_state(st, ctx, &a, state, None).await
}

pub async fn delete_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let a = target(st, ctx, args).await?;
    not_self_or_default(ctx, &a, "delete")?;
    Ok(JobPlan {
        instance_type: Some("Account"),
        instance_id: Some(a.id.to_string()),
        returns_id: false,
        description: format!("Deleting account {}", a.name),
    })
}

pub async fn delete_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    _job: &crate::jobs::JobRef,
) -> AppResult<Value> {
    let id: AccountId = args.required_id("id")?;
    // As CloudStack's account clean-up: the account's VMs are expunged (their hosts stop
    // them and delete their disks) and its detached volumes deleted before the account goes,
    // so nothing runs or stays on a host for an owner that no longer exists.
    let vms = {
        let mut c = st.store.read().await?;
        db::vm_list(
            &mut c,
            &db::VmFilter {
                scope: Some(db::OwnerScope::Account(id)),
                ..Default::default()
            },
        )
        .await?
        .0
    };
    super::projects::vm_jobs(
        st,
        &vms,
        "destroyVirtualMachine",
        &[("expunge", "true")],
        "Account deletion: expunge",
    )
    .await?;
    super::volumes::remove_detached_for_account(st, ctx, id).await?;
    remove_account(st, ctx, id, false).await?;
    Ok(success_body())
}

/// Removes an account and everything it owns. Idempotent; later resource families add their
/// clean-up here. `record` adds an ACCOUNT.DELETE event (for removals that are part of a
/// larger job; deleteAccount's own job records its events).
pub(crate) async fn remove_account(
    st: &State,
    ctx: &OpContext,
    id: AccountId,
    record: bool,
) -> AppResult<()> {
    let a = {
        let mut c = st.store.read().await?;
        db::account_get(&mut c, id).await?
    };
    let Some(a) = a else { return Ok(()) };
    super::networks::remove_for_account(st, id).await?;
    let mut tx = st.store.begin().await?;
    db::keypair_delete_for_account(&mut tx, id).await?;
    db::limit_delete_all(&mut tx, db::LimitOwner::Account(id)).await?;
    db::account_mark_removed(&mut tx, id).await?;
    if record {
        Event::new(ctx, "ACCOUNT.DELETE", format!("Account {} deleted", a.name))
            .resource(id, "Account", Some(&a.name))
            .record(&mut tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}
