//! Projects at the edge, as CloudStack does them around every command:
//! - `projectid=<id>` makes the project's own account the owner of what the request creates
//!   and the scope of what it lists (CloudStack's `finalizeOwner` and
//!   `buildACLSearchParameters`): the caller must be a member (or an admin over the project's
//!   domain), and nothing is added to a project that is not Active;
//! - `projectid=-1` widens a list to every project the caller may see, and only to them;
//! - objects owned by a project's account answer `project`/`projectid` in place of
//!   `account` (CloudStack's `populateOwner`).
//!
//! Handlers see the project as the `account` + `domainid` they already understand; the
//! caller's memberships ride in the [`OpContext`] so `access::check_account` admits members.

use std::collections::HashMap;

use api::{ApiError, CommandSpec, RawParams};
use model::identity::ProjectState;
use model::ProjectId;
use serde_json::{json, Value};

use crate::context::OpContext;
use crate::error::AppResult;
use crate::state::State;

/// The prefix of every project's own account name (`PrjAcct-<name>-<domain id>`).
pub const ACCOUNT_PREFIX: &str = "PrjAcct-";

/// Commands that add something to their owner: refused in a project that is not Active.
const ADDING: &[&str] = &[
    "create",
    "deploy",
    "register",
    "associate",
    "add",
    "authorize",
    "upload",
    "copy",
    "assign",
];

/// Loads the caller's project memberships (root admins reach every project without them)
/// and, for the command being run, the projects whose role for the caller denies it.
pub async fn load_memberships(
    st: &State,
    ctx: &mut OpContext,
    command: Option<&'static str>,
) -> AppResult<()> {
    ctx.command = command;
    if ctx.is_root_admin() {
        return Ok(());
    }
    let mut c = st.store.read().await?;
    ctx.projects = db::memberships_of(&mut c, ctx.account_id(), ctx.user_id()).await?;
    let Some(command) = command else {
        return Ok(());
    };
    if ctx.is_domain_admin() {
        return Ok(());
    }
    let mut denied = Vec::new();
    let mut seen = Vec::new();
    for m in &ctx.projects {
        if seen.contains(&m.project_id) {
            continue;
        }
        seen.push(m.project_id);
        if role_denies(&mut c, ctx, m.project_id, command).await? {
            denied.push(m.project_account);
        }
    }
    ctx.denied_projects = denied;
    Ok(())
}

/// CloudStack's ProjectRoleBasedApiAccessChecker for one project: the caller's membership —
/// its user's own first, else its account's. An Admin member, or one without a project role,
/// may call anything; otherwise the role's first rule matching the command decides (none:
/// allowed).
async fn role_denies(
    c: &mut db::Conn,
    ctx: &OpContext,
    project: ProjectId,
    command: &str,
) -> AppResult<bool> {
    let Some(m) = ctx
        .projects
        .iter()
        .filter(|m| m.project_id == project)
        .max_by_key(|m| m.user_level)
    else {
        return Ok(false);
    };
    if m.role == model::identity::ProjectRole::Admin {
        return Ok(false);
    }
    let Some(role) = m.project_role else {
        return Ok(false);
    };
    let rules = db::project_permission_list(c, role).await?;
    Ok(rules
        .iter()
        .find(|r| r.rule.matches(command))
        .is_some_and(|r| r.permission == model::rules::Permission::Deny))
}

/// May the caller use this project (see its resources, add to it)?
pub fn may_use(ctx: &OpContext, p: &db::ProjectRow) -> bool {
    ctx.is_root_admin()
        || (ctx.is_domain_admin() && p.domain_path.starts_with(ctx.domain_path()))
        || ctx.project_role(p.account_id).is_some()
}

/// May the caller manage this project (change it, its members, its invitations)? Its Admin
/// members, and admins over its domain.
pub fn may_manage(ctx: &OpContext, p: &db::ProjectRow) -> bool {
    ctx.is_root_admin()
        || (ctx.is_domain_admin() && p.domain_path.starts_with(ctx.domain_path()))
        || ctx.project_role(p.account_id) == Some(model::identity::ProjectRole::Admin)
}

/// Resolves `projectid` of a command that declares it. Returns the parameters the handler
/// binds: with the project's account as `account` + `domainid`, or without `projectid=-1`
/// (then [`OpContext::all_projects`] is set). `None`: nothing to change.
pub async fn resolve(
    st: &State,
    ctx: &mut OpContext,
    spec: &CommandSpec,
    raw: &RawParams,
) -> Result<Option<RawParams>, ApiError> {
    // The project family reads its own `projectid` (the project it manages).
    if spec.name.contains("Project") || !spec.params.iter().any(|p| p.name == "projectid") {
        return Ok(None);
    }
    let Some(v) = raw
        .get("projectid")
        .map(str::trim)
        .filter(|v| !v.is_empty())
    else {
        return Ok(None);
    };
    if v == "-1" && spec.list {
        ctx.all_projects = true;
        return Ok(Some(raw.without("projectid")));
    }
    let id: ProjectId = v
        .parse()
        .map_err(|_| ApiError::invalid_id("projectid", v))?;
    if raw.get("account").is_some_and(|a| !a.trim().is_empty()) {
        return Err(ApiError::param(
            "Account and projectid can't be specified together",
        ));
    }
    let p = {
        let mut c = st
            .store
            .read()
            .await
            .map_err(|e| crate::error::AppError::from(e).into_api())?;
        db::project_get(&mut c, id)
            .await
            .map_err(|e| crate::error::AppError::from(e).into_api())?
    }
    .ok_or_else(|| ApiError::param(format!("Unable to find project by id {id}")))?;
    if !may_use(ctx, &p) {
        return Err(ApiError::permission(format!(
            "Account {} can't access project id={id}",
            ctx.user.account.name
        )));
    }
    check_project_role(ctx, &p)?;
    let adding = !spec.list && ADDING.iter().any(|a| spec.name.starts_with(a));
    if adding && p.state != ProjectState::Active {
        return Err(ApiError::permission(format!(
            "Can't add resources to the project id={id} in state={} as it's no longer active",
            p.state.as_str()
        )));
    }
    let raw = raw
        .with("account", &p.account_name)
        .with("domainid", &p.domain_id.to_string());
    ctx.project = Some(p);
    Ok(Some(raw))
}

/// A call sent with projectid: refused when the caller's project role denies the command
/// (worked out once per request by [`load_memberships`]; root and domain admins and the
/// project's Admins are never held).
pub fn check_project_role(ctx: &OpContext, p: &db::ProjectRow) -> Result<(), ApiError> {
    match ctx.project_denial(p.account_id) {
        Some(why) => Err(ApiError::permission(why)),
        None => Ok(()),
    }
}

/// For a resumed job: the project its request acted in (its events stay the project's).
pub async fn restore(st: &State, ctx: &mut OpContext, raw: &RawParams) -> AppResult<()> {
    // The job was admitted when it was submitted: its role is not judged again.
    load_memberships(st, ctx, None).await?;
    if let Some(id) = raw
        .get("projectid")
        .and_then(|v| v.trim().parse::<ProjectId>().ok())
    {
        let mut c = st.store.read().await?;
        ctx.project = db::project_get(&mut c, id).await?;
    }
    Ok(())
}

/// Whether any object in `v` names an account that may be a project's.
fn names_project_account(v: &Value) -> bool {
    match v {
        Value::Object(m) => {
            m.get("account")
                .and_then(Value::as_str)
                .is_some_and(|a| a.starts_with(ACCOUNT_PREFIX))
                || m.values().any(names_project_account)
        }
        Value::Array(a) => a.iter().any(names_project_account),
        _ => false,
    }
}

/// (domain id, account name) → (project id, project name).
type Owners = HashMap<(String, String), (String, String)>;

fn rewrite(v: &mut Value, owners: &Owners) {
    match v {
        Value::Object(m) => {
            let key = match (m.get("domainid"), m.get("account")) {
                (Some(Value::String(d)), Some(Value::String(a))) => Some((d.clone(), a.clone())),
                _ => None,
            };
            if let Some((pid, pname)) = key.and_then(|k| owners.get(&k)) {
                m.remove("account");
                m.insert("projectid".into(), json!(pid));
                m.insert("project".into(), json!(pname));
            }
            for x in m.values_mut() {
                rewrite(x, owners);
            }
        }
        Value::Array(a) => {
            for x in a {
                rewrite(x, owners);
            }
        }
        _ => {}
    }
}

/// Objects owned by a project's account answer with the project (see the module docs).
pub async fn show_owners(st: &State, v: &mut Value) -> AppResult<()> {
    if !names_project_account(v) {
        return Ok(());
    }
    let projects = {
        let mut c = st.store.read().await?;
        db::project_all(&mut c).await?
    };
    let owners: Owners = projects
        .into_iter()
        .map(|p| {
            (
                (p.domain_id.to_string(), p.account_name),
                (p.id.to_string(), p.name),
            )
        })
        .collect();
    rewrite(v, &owners);
    Ok(())
}
