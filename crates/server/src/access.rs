//! Authorisation next to the data: who may see or change which domain, account and user, and
//! the owner scope of list commands (`account`, `domainid`, `isrecursive`, `listall`).

use api::{ApiError, Args};
use db::{AccountRow, DomainRow, OwnerScope, UserRow};
use model::{AccountId, DomainId, UserId};

use crate::context::OpContext;
use crate::error::AppResult;
use crate::state::AppState;

/// Whether `path` is the caller's domain or below it.
fn in_subtree(ctx: &OpContext, path: &str) -> bool {
    path.starts_with(ctx.domain_path())
}

/// May the caller administer objects in this domain? Root admins anywhere, domain admins in
/// their subtree, users nowhere.
pub fn check_domain_admin(ctx: &OpContext, domain: &DomainRow) -> AppResult<()> {
    if ctx.is_root_admin() || (ctx.is_domain_admin() && in_subtree(ctx, &domain.path)) {
        return Ok(());
    }
    Err(ApiError::permission(format!(
        "Account {} does not have permission to operate within domain id={}",
        ctx.user.account.name, domain.id
    ))
    .into())
}

/// May the caller see a domain? Admins their subtree; users only their own domain.
pub fn check_domain_visible(ctx: &OpContext, domain: &DomainRow) -> AppResult<()> {
    if ctx.is_root_admin()
        || (ctx.is_domain_admin() && in_subtree(ctx, &domain.path))
        || domain.id == ctx.domain_id()
    {
        return Ok(());
    }
    check_domain_admin(ctx, domain)
}

/// May the caller act on this account? Its own, or any in an administered subtree.
pub fn check_account(ctx: &OpContext, a: &AccountRow) -> AppResult<()> {
    if a.id == ctx.account_id()
        || ctx.is_root_admin()
        || (ctx.is_domain_admin() && in_subtree(ctx, &a.domain_path))
    {
        return Ok(());
    }
    Err(ApiError::permission(format!(
        "Account {} does not have permission to access account {}",
        ctx.user.account.name, a.name
    ))
    .into())
}

/// May the caller manage (not just use) this account? Admins only, in their subtree; a domain
/// admin may not manage root-admin accounts.
pub fn check_account_admin(ctx: &OpContext, a: &AccountRow) -> AppResult<()> {
    let ok = ctx.is_root_admin()
        || (ctx.is_domain_admin()
            && in_subtree(ctx, &a.domain_path)
            && a.role_type != model::identity::RoleType::Admin);
    if ok {
        Ok(())
    } else {
        Err(ApiError::permission(format!(
            "Account {} does not have permission to manage account {}",
            ctx.user.account.name, a.name
        ))
        .into())
    }
}

pub async fn domain(st: &AppState, param: &str, id: DomainId) -> AppResult<DomainRow> {
    let mut c = st.store.read().await?;
    db::domain_get(&mut c, id)
        .await?
        .ok_or_else(|| ApiError::invalid_id(param, &id.to_string()).into())
}

pub async fn account(st: &AppState, param: &str, id: AccountId) -> AppResult<AccountRow> {
    let mut c = st.store.read().await?;
    db::account_get(&mut c, id)
        .await?
        .ok_or_else(|| ApiError::invalid_id(param, &id.to_string()).into())
}

pub async fn user(st: &AppState, param: &str, id: UserId) -> AppResult<UserRow> {
    let mut c = st.store.read().await?;
    db::user_get(&mut c, id)
        .await?
        .ok_or_else(|| ApiError::invalid_id(param, &id.to_string()).into())
}

/// Resolves `account` + `domainid` (domain defaults to the caller's) to an account the caller
/// may access.
pub async fn account_by_name(
    st: &AppState,
    ctx: &OpContext,
    name: &str,
    domain_id: Option<DomainId>,
) -> AppResult<AccountRow> {
    let domain_id = domain_id.unwrap_or(ctx.domain_id());
    let d = domain(st, "domainid", domain_id).await?;
    check_domain_visible(ctx, &d)?;
    let mut c = st.store.read().await?;
    let a = db::account_get_by_name(&mut c, domain_id, name)
        .await?
        .ok_or_else(|| {
            ApiError::param(format!(
                "Unable to find account {name} in domain id={domain_id}"
            ))
        })?;
    check_account(ctx, &a)?;
    Ok(a)
}

/// The owner scope of a list of account-owned resources, following CloudStack:
/// `account` (+`domainid`) → that account; `domainid` → that domain (its subtree with
/// `isrecursive`); nothing → the caller's own account, or everything the caller may see with
/// `listall=true`. Users are always limited to their own account.
pub async fn owner_scope(st: &AppState, ctx: &OpContext, args: &Args) -> AppResult<OwnerScope> {
    let account = args.text("account");
    let domain_id: Option<DomainId> = args.id("domainid");
    if let Some(name) = account {
        let a = account_by_name(st, ctx, name, domain_id).await?;
        return Ok(OwnerScope::Account(a.id));
    }
    if let Some(did) = domain_id {
        let d = domain(st, "domainid", did).await?;
        if !ctx.is_admin() {
            check_domain_visible(ctx, &d)?;
            return Ok(OwnerScope::Account(ctx.account_id()));
        }
        check_domain_admin(ctx, &d)?;
        return Ok(OwnerScope::Domain {
            id: d.id,
            path: d.path,
            recursive: args.flag("isrecursive"),
        });
    }
    // As CloudStack's buildACLSearchParameters: an admin naming the object by `id` gets it
    // whoever in its reach owns it (root admins: anyone; domain admins: their subtree).
    let by_id = args.has("id") || args.has("ids");
    if ctx.is_admin() && (args.flag("listall") || by_id) {
        return Ok(reach(ctx));
    }
    Ok(OwnerScope::Account(ctx.account_id()))
}

/// Everything an admin may see: all for a root admin, its subtree for a domain admin.
fn reach(ctx: &OpContext) -> OwnerScope {
    if ctx.is_root_admin() {
        return OwnerScope::All;
    }
    OwnerScope::Domain {
        id: ctx.domain_id(),
        path: ctx.domain_path().to_string(),
        recursive: true,
    }
}

/// The scope of `listAccounts` and `listUsers`, as CloudStack's searchForAccounts: users
/// their own account; `account`/`id` as [`owner_scope`]; an admin with `domainid` that domain
/// (its subtree with `isrecursive` or `listall`), with `listall` alone its own subtree (root
/// admins: everything), and with neither only its own account.
pub async fn account_list_scope(
    st: &AppState,
    ctx: &OpContext,
    args: &Args,
) -> AppResult<OwnerScope> {
    if !ctx.is_admin() || args.text("account").is_some() || args.has("id") {
        return owner_scope(st, ctx, args).await;
    }
    let listall = args.flag("listall");
    if let Some(did) = args.id::<DomainId>("domainid") {
        let d = domain(st, "domainid", did).await?;
        check_domain_admin(ctx, &d)?;
        return Ok(OwnerScope::Domain {
            id: d.id,
            path: d.path,
            recursive: listall || args.flag("isrecursive"),
        });
    }
    if listall {
        return Ok(reach(ctx));
    }
    Ok(OwnerScope::Account(ctx.account_id()))
}
