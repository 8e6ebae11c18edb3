//! Projects (CloudStack's ProjectManager): createProject, listProjects, updateProject,
//! activateProject, suspendProject, deleteProject; members (addAccountToProject,
//! addUserToProject, deleteAccountFromProject, deleteUserFromProject, listProjectAccounts);
//! invitations (listProjectInvitations, updateProjectInvitation, deleteProjectInvitation;
//! used when `project.invite.required` is true).
//!
//! A project owns its resources through its own account (`PrjAcct-<name>-<domain id>`, type
//! Project, no users). Requests name it with `projectid` (see [`crate::projectscope`]).
//! Suspending a project disables its account and stops its VMs; a suspended project takes no
//! new resources and its VMs do not start.

use std::time::Duration;

use api::{list_body, success_body, ApiError, Args};
use db::{DbError, ProjectFilter, ProjectRow};
use model::identity::{
    display_domain_path, AccountState, AccountType, InvitationState, ProjectRole, ProjectState,
};
use model::limits::ResourceType;
use model::{ProjectId, UserId};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::access;
use crate::context::OpContext;
use crate::error::{param_err, AppError, AppResult};
use crate::events::Event;
use crate::jobs::{JobPlan, JobRef};
use crate::projectscope::{self, ACCOUNT_PREFIX};
use crate::state::State;

/// How long suspending or deleting a project waits for its VMs' jobs.
const VM_JOBS_WAIT: Duration = Duration::from_secs(600);

pub(crate) async fn get(st: &State, param: &str, id: ProjectId) -> AppResult<ProjectRow> {
    let mut c = st.store.read().await?;
    db::project_get(&mut c, id)
        .await?
        .ok_or_else(|| ApiError::invalid_id(param, &id.to_string()).into())
}

/// The project, if the caller may use it (members; admins over its domain).
async fn used(st: &State, ctx: &OpContext, param: &str, id: ProjectId) -> AppResult<ProjectRow> {
    let p = get(st, param, id).await?;
    if !projectscope::may_use(ctx, &p) {
        return Err(ApiError::permission(format!(
            "Account {} can't access project id={id}",
            ctx.user.account.name
        ))
        .into());
    }
    Ok(p)
}

/// The project, if the caller may manage it (its Admins; admins over its domain).
async fn managed(st: &State, ctx: &OpContext, param: &str, id: ProjectId) -> AppResult<ProjectRow> {
    let p = used(st, ctx, param, id).await?;
    if !projectscope::may_manage(ctx, &p) {
        return Err(ApiError::permission(format!(
            "Account {} is not an Admin of project id={id}",
            ctx.user.account.name
        ))
        .into());
    }
    Ok(p)
}

fn role_arg(args: &Args) -> AppResult<Option<ProjectRole>> {
    match args.text("roletype") {
        None => Ok(None),
        Some(r) => ProjectRole::parse(r.trim()).map(Some).ok_or_else(|| {
            ApiError::param(format!("Invalid role type {r}: use Admin or Regular")).into()
        }),
    }
}

pub(crate) async fn view(st: &State, p: &ProjectRow, resources: bool) -> AppResult<Value> {
    let admins = admins(st, p).await?;
    let owners: Vec<Value> = admins
        .iter()
        .map(|m| {
            let mut o = json!({ "account": m.account_name, "accountid": m.account_id });
            if let (Some(u), Some(n)) = (m.user_id, &m.user_name) {
                o["userid"] = json!(u);
                o["user"] = json!(n);
            }
            o
        })
        .collect();
    let mut v = json!({
        "id": p.id,
        "name": p.name,
        "displaytext": p.display_text,
        "domainid": p.domain_id,
        "domain": p.domain_name,
        "domainpath": display_domain_path(&p.domain_path),
        "owner": owners,
        "projectaccountname": p.account_name,
        "state": p.state.as_str(),
        "created": api::time::format_ms(p.created),
        "tags": [],
    });
    if resources {
        let a = access::account(st, "id", p.account_id).await?;
        let fields = crate::handlers::limits::account_resources(st, &a).await?;
        let (running, stopped) = vm_states(st, p).await?;
        if let Some(o) = v.as_object_mut() {
            o.extend(fields);
            o.insert("vmrunning".into(), json!(running));
            o.insert("vmstopped".into(), json!(stopped));
        }
    }
    Ok(v)
}

async fn vm_states(st: &State, p: &ProjectRow) -> AppResult<(usize, usize)> {
    let vms = project_vms(st, p).await?;
    Ok((
        vms.iter()
            .filter(|v| v.state == model::VmState::Running)
            .count(),
        vms.iter()
            .filter(|v| v.state == model::VmState::Stopped)
            .count(),
    ))
}

async fn project_vms(st: &State, p: &ProjectRow) -> AppResult<Vec<db::VmRow>> {
    let mut c = st.store.read().await?;
    Ok(db::vm_list(
        &mut c,
        &db::VmFilter {
            scope: Some(db::OwnerScope::Account(p.account_id)),
            ..Default::default()
        },
    )
    .await?
    .0)
}

// --- createProject ---------------------------------------------------------------------------

pub async fn create_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    if !ctx.is_admin() && !st.settings.bool("allow.user.create.projects") {
        return Err(
            ApiError::permission("Regular user is not permitted to create a project").into(),
        );
    }
    let name = args.required_str("name")?.trim().to_string();
    crate::validate::plain_name("Project", &name)?;
    let display_text = args
        .text("displaytext")
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| name.clone());
    if args.text("account").is_some() != args.has("domainid") {
        return param_err("Account name and domain id must be specified together");
    }
    // The owner: the caller, or (admins) `account` + `domainid`; `userid` makes one user of
    // the owner the project's Admin.
    let mut owner = match args.text("account") {
        Some(a) => {
            let acct = access::account_by_name(st, ctx, a, args.id("domainid")).await?;
            access::not_project_account("account", &acct)?;
            access::check_account_admin(ctx, &acct)?;
            acct
        }
        None => ctx.user.account.clone(),
    };
    let user = match args.id::<UserId>("userid") {
        Some(uid) => {
            let u = access::user(st, "userid", uid).await?;
            if let Some(aid) = args.id::<model::AccountId>("accountid") {
                if u.account.id != aid {
                    return param_err("User doesn't belong to the specified account or domain");
                }
            }
            access::check_account(ctx, &u.account)?;
            if u.account.id != owner.id && args.text("account").is_some() {
                return param_err("User doesn't belong to the specified account or domain");
            }
            owner = u.account.clone();
            Some(u.id)
        }
        None if args.has("accountid") => {
            return param_err("Domain ID and account ID must be provided with User ID")
        }
        None => None,
    };
    crate::handlers::limits::enforce(st, &owner, &[(ResourceType::Project, 1)]).await?;
    let role = {
        let mut c = st.store.read().await?;
        db::role_default_for(&mut c, model::identity::RoleType::User)
            .await?
            .ok_or_else(|| AppError::Internal("no default User role".into()))?
    };
    let id = ProjectId::new();
    let account_id = model::AccountId::new();
    let account_name = format!("{ACCOUNT_PREFIX}{name}-{}", owner.domain_id);
    let mut tx = st.store.begin().await?;
    let taken = || {
        ApiError::param(format!(
            "Project with name {name} already exists in domain id={}",
            owner.domain_id
        ))
    };
    let exists = db::project_list(
        &mut tx,
        &ProjectFilter {
            name: Some(name.clone()),
            scope: Some(db::OwnerScope::Domain {
                id: owner.domain_id,
                path: owner.domain_path.clone(),
                recursive: false,
            }),
            limit: Some(1),
            ..Default::default()
        },
    )
    .await?
    .1 > 0;
    if exists {
        return Err(taken().into());
    }
    match db::account_insert(
        &mut tx,
        &db::NewAccount {
            id: account_id,
            name: account_name,
            account_type: AccountType::Project,
            role_id: role.id,
            domain_id: owner.domain_id,
            network_domain: None,
            is_default: false,
        },
    )
    .await
    {
        Err(DbError::Conflict(_)) => return Err(taken().into()),
        r => r?,
    }
    match db::project_insert(
        &mut tx,
        &db::NewProject {
            id,
            name: &name,
            display_text: &display_text,
            domain_id: owner.domain_id,
            account_id,
        },
    )
    .await
    {
        Err(DbError::Conflict(_)) => return Err(taken().into()),
        r => r?,
    }
    db::project_member_add(&mut tx, id, owner.id, user, ProjectRole::Admin, None).await?;
    Event::new(ctx, "PROJECT.CREATE", format!("Project {name} created"))
        .resource(id, "Project", Some(&name))
        .record(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(JobPlan {
        instance_type: Some("Project"),
        instance_id: Some(id.to_string()),
        returns_id: true,
        description: format!("Creating project {name}"),
    })
}

fn job_project(job: &JobRef) -> AppResult<ProjectId> {
    job.instance_id
        .as_deref()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| AppError::Internal("project job without its project".into()))
}

pub async fn create_run(
    st: &State,
    _ctx: &OpContext,
    _args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let p = get(st, "id", job_project(job)?).await?;
    Ok(json!({ "project": view(st, &p, true).await? }))
}

// --- listProjects ----------------------------------------------------------------------------

pub async fn list(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let mut f = ProjectFilter {
        id: args.id("id"),
        name: args.text("name").map(|s| s.trim().to_string()),
        display_text: args.text("displaytext").map(str::to_string),
        keyword: args.text("keyword").map(str::to_string),
        offset: args.page.offset,
        limit: args.page.limit,
        ..Default::default()
    };
    if let Some(s) = args.text("state") {
        match ProjectState::parse(s.trim()) {
            Some(s) => f.state = Some(s),
            None => {
                return param_err(format!(
                    "Invalid state {s}: use Active, Suspended or Disabled"
                ))
            }
        }
    }
    // Whose: a user the projects it (or its account) is a member of; an admin those too, or
    // with listall / domainid every project in its reach; `account` / `userid` a member.
    let listall = args.flag("listall");
    if let Some(name) = args.text("account") {
        let a = access::account_by_name(st, ctx, name, args.id("domainid")).await?;
        f.member = Some((a.id, None));
    } else if let Some(uid) = args.id::<UserId>("userid") {
        let u = access::user(st, "userid", uid).await?;
        access::check_account(ctx, &u.account)?;
        f.member = Some((u.account.id, Some(u.id)));
    } else if let Some(did) = args
        .id::<model::DomainId>("domainid")
        .filter(|_| ctx.is_admin())
    {
        let d = access::domain(st, "domainid", did).await?;
        access::check_domain_admin(ctx, &d)?;
        f.scope = Some(db::OwnerScope::Domain {
            id: d.id,
            path: d.path,
            recursive: listall || args.flag("isrecursive"),
        });
    } else if ctx.is_admin() && (listall || args.has("id")) {
        if !ctx.is_root_admin() {
            f.scope = Some(db::OwnerScope::Domain {
                id: ctx.domain_id(),
                path: ctx.domain_path().to_string(),
                recursive: true,
            });
        }
    } else {
        f.member = Some((ctx.account_id(), Some(ctx.user_id())));
    }
    if let Some(u) = args.text("username") {
        let mut c = st.store.read().await?;
        let found = db::user_get_by_username(&mut c, ctx.domain_id(), u.trim()).await?;
        match found {
            Some(u) if access::check_account(ctx, &u.account).is_ok() => {
                f.member = Some((u.account.id, Some(u.id)));
            }
            _ => return Ok(list_body("project", 0, Vec::new())),
        }
    }
    let (rows, total) = {
        let mut c = st.store.read().await?;
        db::project_list(&mut c, &f).await?
    };
    let min = args
        .list("details")
        .is_some_and(|d| d.iter().any(|x| x.eq_ignore_ascii_case("min")));
    let mut items = Vec::with_capacity(rows.len());
    for p in &rows {
        items.push(view(st, p, !min).await?);
    }
    Ok(list_body("project", total, items))
}

// --- updateProject ---------------------------------------------------------------------------

pub async fn update_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let p = managed(st, ctx, "id", args.required_id("id")?).await?;
    role_arg(args)?;
    if let Some(n) = args.text("name") {
        crate::validate::plain_name("Project", n.trim())?;
    }
    Ok(plan(&p, "Updating"))
}

fn plan(p: &ProjectRow, what: &str) -> JobPlan {
    JobPlan {
        instance_type: Some("Project"),
        instance_id: Some(p.id.to_string()),
        returns_id: false,
        description: format!("{what} project {}", p.name),
    }
}

/// The project's Admin members.
async fn admins(st: &State, p: &ProjectRow) -> AppResult<Vec<db::ProjectMemberRow>> {
    let mut c = st.store.read().await?;
    Ok(db::project_member_list(
        &mut c,
        &db::ProjectMemberFilter {
            project: Some(p.id),
            role: Some(ProjectRole::Admin),
            ..Default::default()
        },
    )
    .await?
    .0)
}

async fn admins_left(st: &State, p: &ProjectRow) -> AppResult<usize> {
    Ok(admins(st, p).await?.len())
}

pub async fn update_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let p = get(st, "id", job_project(job)?).await?;
    let role = role_arg(args)?;
    let name = args
        .text("name")
        .map(|n| n.trim().to_string())
        .unwrap_or_else(|| p.name.clone());
    let display_text = args
        .text("displaytext")
        .map(str::to_string)
        .unwrap_or_else(|| p.display_text.clone());
    // The member whose role changes: `account` (the new owner when no role is given, as
    // CloudStack's older updateProject), or `userid`.
    let member = if let Some(a) = args.text("account") {
        let a = account_in(st, &p, a).await?;
        Some((a.id, None, a.name))
    } else if let Some(uid) = args.id::<UserId>("userid") {
        let u = access::user(st, "userid", uid).await?;
        if u.account.domain_id != p.domain_id {
            return param_err(format!(
                "Unable to find user {} in domain id={}",
                u.username, p.domain_id
            ));
        }
        Some((u.account.id, Some(u.id), u.username.clone()))
    } else {
        None
    };
    let mut tx = st.store.begin().await?;
    if name != p.name || display_text != p.display_text {
        match db::project_update(&mut tx, p.id, &name, &display_text).await {
            Err(DbError::Conflict(_)) => {
                return param_err(format!(
                    "Project with name {name} already exists in domain id={}",
                    p.domain_id
                ))
            }
            r => r?,
        }
    }
    if let Some((acct, user, label)) = member {
        let rows = db::project_member_list(
            &mut tx,
            &db::ProjectMemberFilter {
                project: Some(p.id),
                account: Some(acct),
                ..Default::default()
            },
        )
        .await?
        .0;
        let Some(m) = rows.iter().find(|m| m.user_id == user) else {
            return param_err(format!("Account {label} doesn't belong to the project. Add it to the project first and then change the project's ownership"));
        };
        let new_role = role.unwrap_or(ProjectRole::Admin);
        let admins = admins_left(st, &p).await?;
        if m.role == ProjectRole::Admin && new_role != ProjectRole::Admin && admins <= 1 {
            return param_err("Cannot demote the only admin of the project");
        }
        if role.is_none() {
            // The legacy ownership swap: the current Admins become Regular members.
            for o in db::project_member_list(
                &mut tx,
                &db::ProjectMemberFilter {
                    project: Some(p.id),
                    role: Some(ProjectRole::Admin),
                    ..Default::default()
                },
            )
            .await?
            .0
            {
                db::project_member_set_role(
                    &mut tx,
                    p.id,
                    o.account_id,
                    o.user_id,
                    ProjectRole::Regular,
                )
                .await?;
            }
        }
        db::project_member_set_role(&mut tx, p.id, acct, user, new_role).await?;
    }
    Event::new(ctx, "PROJECT.UPDATE", format!("Project {name} updated"))
        .resource(p.id, "Project", Some(&name))
        .record(&mut tx)
        .await?;
    tx.commit().await?;
    let p = get(st, "id", p.id).await?;
    Ok(json!({ "project": view(st, &p, true).await? }))
}

/// An enabled account of the project's domain, by name.
async fn account_in(st: &State, p: &ProjectRow, name: &str) -> AppResult<db::AccountRow> {
    let mut c = st.store.read().await?;
    match db::account_get_by_name(&mut c, p.domain_id, name.trim()).await? {
        Some(a) if a.account_type != AccountType::Project => Ok(a),
        _ => param_err(format!(
            "Unable to find account name={} in domain id={}",
            name.trim(),
            p.domain_id
        )),
    }
}

// --- activate / suspend ----------------------------------------------------------------------

pub async fn activate_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let p = managed(st, ctx, "id", args.required_id("id")?).await?;
    if p.state == ProjectState::Disabled {
        return param_err(format!(
            "Can't activate the project in {} state",
            p.state.as_str()
        ));
    }
    Ok(plan(&p, "Activating"))
}

pub async fn activate_run(
    st: &State,
    ctx: &OpContext,
    _args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let p = get(st, "id", job_project(job)?).await?;
    if p.state == ProjectState::Suspended {
        let mut tx = st.store.begin().await?;
        db::project_set_state(&mut tx, p.id, ProjectState::Active).await?;
        db::account_set_state(&mut tx, p.account_id, AccountState::Enabled).await?;
        Event::new(
            ctx,
            "PROJECT.ACTIVATE",
            format!("Project {} activated", p.name),
        )
        .resource(p.id, "Project", Some(&p.name))
        .record(&mut tx)
        .await?;
        tx.commit().await?;
    }
    let p = get(st, "id", p.id).await?;
    Ok(json!({ "project": view(st, &p, true).await? }))
}

pub async fn suspend_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let p = managed(st, ctx, "id", args.required_id("id")?).await?;
    if p.state == ProjectState::Disabled {
        return param_err(format!(
            "Can't suspend the project in {} state",
            p.state.as_str()
        ));
    }
    Ok(plan(&p, "Suspending"))
}

/// Submits `command` for each of these VMs (as the VM's owner) and waits for the jobs.
pub(crate) async fn vm_jobs(
    st: &State,
    vms: &[db::VmRow],
    command: &str,
    extra: &[(&str, &str)],
    what: &str,
) -> AppResult<()> {
    let mut jobs = Vec::new();
    for vm in vms {
        if let Some(j) = crate::ha::submit_for_owner_with(st, vm, command, what, extra).await? {
            jobs.push(j);
        }
    }
    let end = tokio::time::Instant::now() + VM_JOBS_WAIT;
    for j in jobs {
        loop {
            let row = {
                let mut c = st.store.read().await?;
                db::job_get(&mut c, j).await?
            };
            match row {
                Some(r) if r.status == 0 && tokio::time::Instant::now() < end => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Some(r) if r.status == 0 => {
                    return Err(AppError::Internal(format!(
                        "job {j} ({command}) did not finish"
                    )));
                }
                Some(r) if r.status == 2 => {
                    return Err(ApiError::internal(format!(
                        "{command} failed for a VM of the project (job {j})"
                    ))
                    .into());
                }
                _ => break,
            }
        }
    }
    Ok(())
}

pub async fn suspend_run(
    st: &State,
    ctx: &OpContext,
    _args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let p = get(st, "id", job_project(job)?).await?;
    {
        let mut tx = st.store.begin().await?;
        db::project_set_state(&mut tx, p.id, ProjectState::Suspended).await?;
        db::account_set_state(&mut tx, p.account_id, AccountState::Disabled).await?;
        Event::new(
            ctx,
            "PROJECT.SUSPEND",
            format!("Project {} suspended", p.name),
        )
        .resource(p.id, "Project", Some(&p.name))
        .record(&mut tx)
        .await?;
        tx.commit().await?;
    }
    // As CloudStack's disableAccount: the project's running VMs stop.
    let running: Vec<db::VmRow> = project_vms(st, &p)
        .await?
        .into_iter()
        .filter(|v| v.state == model::VmState::Running)
        .collect();
    vm_jobs(
        st,
        &running,
        "stopVirtualMachine",
        &[],
        "Project suspension: stop",
    )
    .await?;
    let p = get(st, "id", p.id).await?;
    Ok(json!({ "project": view(st, &p, true).await? }))
}

// --- deleteProject ---------------------------------------------------------------------------

pub async fn delete_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let p = managed(st, ctx, "id", args.required_id("id")?).await?;
    if !args.flag("cleanup") {
        if let Some(what) = leftovers(st, &p).await? {
            return Err(ApiError::in_use(format!(
                "Can't delete the project yet because it has {what} to clean up"
            ))
            .into());
        }
    }
    Ok(plan(&p, "Deleting"))
}

/// What the project still owns that deleting it without `cleanup` refuses (CloudStack's
/// message: the first kind found, with its count).
async fn leftovers(st: &State, p: &ProjectRow) -> AppResult<Option<String>> {
    let vms = project_vms(st, p).await?.len();
    if vms > 0 {
        return Ok(Some(format!("{vms} UserVm")));
    }
    let mut c = st.store.read().await?;
    let scope = Some(db::OwnerScope::Account(p.account_id));
    let volumes = db::volume_list(
        &mut c,
        &db::VolumeFilter {
            scope: scope.clone(),
            ..Default::default()
        },
    )
    .await?
    .1;
    if volumes > 0 {
        return Ok(Some(format!("{volumes} Volume")));
    }
    let used = db::owner_usage(&mut c, &db::OwnerScope::Account(p.account_id)).await?;
    if used.networks > 0 {
        return Ok(Some(format!("{} Network", used.networks)));
    }
    if used.vpcs > 0 {
        return Ok(Some(format!("{} Vpc", used.vpcs)));
    }
    if used.snapshots > 0 {
        return Ok(Some(format!("{} Snapshot", used.snapshots)));
    }
    Ok(None)
}

pub async fn delete_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let id = job_project(job)?;
    let p = {
        let mut c = st.store.read().await?;
        db::project_get(&mut c, id).await?
    };
    // A resumed job whose project is gone: done.
    let Some(p) = p else {
        return Ok(success_body());
    };
    {
        let mut tx = st.store.begin().await?;
        db::project_set_state(&mut tx, p.id, ProjectState::Disabled).await?;
        tx.commit().await?;
    }
    if args.flag("cleanup") {
        let vms = project_vms(st, &p).await?;
        vm_jobs(
            st,
            &vms,
            "destroyVirtualMachine",
            &[("expunge", "true")],
            "Project deletion: expunge",
        )
        .await?;
        crate::handlers::volumes::remove_detached_for_account(st, ctx, p.account_id).await?;
    }
    if let Some(what) = leftovers(st, &p).await? {
        // Networks go with the account below; anything else stays and stops the deletion.
        if !what.ends_with("Network") {
            return Err(ApiError::in_use(format!(
                "Can't delete the project yet because it has {what} to clean up"
            ))
            .into());
        }
    }
    crate::handlers::accounts::remove_account(st, ctx, p.account_id, false).await?;
    let mut tx = st.store.begin().await?;
    db::project_remove(&mut tx, p.id).await?;
    Event::new(ctx, "PROJECT.DELETE", format!("Project {} deleted", p.name))
        .resource(p.id, "Project", Some(&p.name))
        .record(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(success_body())
}

mod invitations;
mod members;
mod roles;

pub use invitations::*;
pub use members::*;
pub use roles::*;
