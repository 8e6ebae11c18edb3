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

/// May the caller act on this account? Its own, any in an administered subtree, or the
/// account of a project the caller is a member of.
pub fn check_account(ctx: &OpContext, a: &AccountRow) -> AppResult<()> {
    if a.id == ctx.account_id()
        || ctx.is_root_admin()
        || (ctx.is_domain_admin() && in_subtree(ctx, &a.domain_path))
    {
        return Ok(());
    }
    if ctx.project_role(a.id).is_some() {
        // A member naming a project's object by id (without projectid) is held to its
        // project role as one that sends projectid is.
        return match ctx.project_denial(a.id) {
            Some(why) => Err(ApiError::permission(why).into()),
            None => Ok(()),
        };
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

/// May the caller make this account the owner of a new resource, or change one it owns on
/// its behalf? An administrator of the account, or a member of the project that owns it
/// (CloudStack lets Regular members use a project; only its Admins manage the project).
pub fn check_owner(ctx: &OpContext, a: &AccountRow) -> AppResult<()> {
    if a.account_type == model::identity::AccountType::Project && ctx.project_role(a.id).is_some() {
        return match ctx.project_denial(a.id) {
            Some(why) => Err(ApiError::permission(why).into()),
            None => Ok(()),
        };
    }
    check_account_admin(ctx, a)
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
    if ctx.all_projects {
        return projects_scope(st, ctx, args).await;
    }
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
        let scope = OwnerScope::Domain {
            id: d.id,
            path: d.path,
            recursive: args.flag("isrecursive"),
        };
        return Ok(without_projects(scope, args));
    }
    // As CloudStack's buildACLSearchParameters: an admin naming the object by `id` gets it
    // whoever in its reach owns it (root admins: anyone; domain admins: their subtree).
    let by_id = args.has("id") || args.has("ids");
    if ctx.is_admin() && (args.flag("listall") || by_id) {
        return Ok(without_projects(reach(ctx), args));
    }
    Ok(OwnerScope::Account(ctx.account_id()))
}

/// Without `projectid` (and without naming an object by id) a list skips projects'
/// resources, as CloudStack's `SkipProjectResources`.
fn without_projects(scope: OwnerScope, args: &Args) -> OwnerScope {
    if args.has("id") || args.has("ids") {
        scope
    } else {
        OwnerScope::NoProjects(Box::new(scope))
    }
}

/// `projectid=-1`: a user's lists cover the projects it is a member of; an admin's, every
/// project in its reach (in `domainid`'s when given).
async fn projects_scope(st: &AppState, ctx: &OpContext, args: &Args) -> AppResult<OwnerScope> {
    if !ctx.is_admin() {
        let mut accounts: Vec<AccountId> = ctx.projects.iter().map(|m| m.project_account).collect();
        accounts.sort();
        accounts.dedup();
        return Ok(OwnerScope::Accounts(accounts));
    }
    let inner = match args.id::<DomainId>("domainid") {
        Some(did) => {
            let d = domain(st, "domainid", did).await?;
            check_domain_admin(ctx, &d)?;
            OwnerScope::Domain {
                id: d.id,
                path: d.path,
                recursive: args.flag("isrecursive") || args.flag("listall"),
            }
        }
        None => reach(ctx),
    };
    Ok(OwnerScope::OnlyProjects(Box::new(inner)))
}

/// Refuses a project's own account where an account is managed (its users, its state): a
/// project is changed through the project commands.
pub fn not_project_account(param: &str, a: &AccountRow) -> AppResult<()> {
    if a.account_type == model::identity::AccountType::Project {
        return Err(ApiError::param(format!(
            "Account {} belongs to a project (parameter {param}); manage it with the project commands",
            a.name
        ))
        .into());
    }
    Ok(())
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
    // Projects' own accounts are never listed (CloudStack's `typeNEQ PROJECT`).
    let scope = account_list_scope_inner(st, ctx, args).await?;
    Ok(match scope {
        s @ OwnerScope::NoProjects(_) => s,
        s => OwnerScope::NoProjects(Box::new(s)),
    })
}

async fn account_list_scope_inner(
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
