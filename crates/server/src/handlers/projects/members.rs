//! A project's members: addAccountToProject / addUserToProject (an invitation instead when
//! `project.invite.required`), deleteAccountFromProject / deleteUserFromProject,
//! listProjectAccounts.

use super::*;

// --- members ---------------------------------------------------------------------------------

/// addAccountToProject / addUserToProject: checks before the job.
pub async fn add_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let p = managed(st, ctx, "projectid", args.required_id("projectid")?).await?;
    if p.state != ProjectState::Active {
        return param_err(format!(
            "Can't add account to the specified project id in state={} as it's no longer active",
            p.state.as_str()
        ));
    }
    role_arg(args)?;
    roles::member_role(st, &p, args).await?;
    let (acct, user) = new_member(st, &p, args).await?;
    if acct.is_none() && args.text("email").is_none() {
        return param_err("Account information is required for assigning account to the project");
    }
    if let Some(a) = &acct {
        let mut c = st.store.read().await?;
        let rows = db::project_member_list(
            &mut c,
            &db::ProjectMemberFilter {
                project: Some(p.id),
                account: Some(a.id),
                ..Default::default()
            },
        )
        .await?
        .0;
        if user.is_some() && rows.iter().any(|m| m.user_id.is_none()) {
            return param_err(format!(
                "User belongs to account {} which is already part of the project",
                a.name
            ));
        }
    }
    Ok(JobPlan {
        instance_type: Some("Project"),
        instance_id: Some(p.id.to_string()),
        returns_id: false,
        description: format!("Adding a member to project {}", p.name),
    })
}

/// The account (and user) a member command names.
async fn new_member(
    st: &State,
    p: &ProjectRow,
    args: &Args,
) -> AppResult<(Option<db::AccountRow>, Option<db::UserRow>)> {
    if let Some(username) = args.text("username") {
        let u = {
            let mut c = st.store.read().await?;
            db::user_get_by_username(&mut c, p.domain_id, username.trim()).await?
        };
        let u = u.ok_or_else(|| ApiError::param("Invalid user ID provided"))?;
        return Ok((Some(u.account.clone()), Some(u)));
    }
    match args.text("account") {
        Some(a) => Ok((Some(account_in(st, p, a).await?), None)),
        None => Ok((None, None)),
    }
}

pub async fn add_run(st: &State, ctx: &OpContext, args: &Args, job: &JobRef) -> AppResult<Value> {
    let p = get(st, "projectid", job_project(job)?).await?;
    let role = role_arg(args)?.unwrap_or(ProjectRole::Regular);
    let project_role = roles::member_role(st, &p, args).await?;
    let (acct, user) = new_member(st, &p, args).await?;
    let user_id = user.as_ref().map(|u| u.id);
    let mut tx = st.store.begin().await?;
    if st.settings.bool("project.invite.required") {
        // An invitation the account (or user, or e-mail address) accepts or declines.
        let email = args.text("email").map(str::trim);
        let pending = db::invitation_list(
            &mut tx,
            &db::InvitationFilter {
                project: Some(p.id),
                account: acct.as_ref().map(|a| a.id),
                user: user_id,
                email: email.filter(|_| acct.is_none()).map(str::to_string),
                state: Some(InvitationState::Pending),
                ..Default::default()
            },
        )
        .await?
        .1;
        if pending > 0 {
            return param_err(format!(
                "There is already a pending invitation for {} to the project id={}",
                acct.as_ref()
                    .map_or(email.unwrap_or_default(), |a| a.name.as_str()),
                p.id
            ));
        }
        let token = acct.is_none().then(invitation_token);
        db::invitation_insert(
            &mut tx,
            &db::NewInvitation {
                project: p.id,
                account: acct.as_ref().map(|a| a.id),
                user: user_id,
                email,
                token: token.as_deref(),
                role,
                project_role,
            },
        )
        .await?;
        Event::new(
            ctx,
            "PROJECT.INVITATION.CREATE",
            format!("Invitation to project {} created", p.name),
        )
        .resource(p.id, "Project", Some(&p.name))
        .record(&mut tx)
        .await?;
        tx.commit().await?;
        return Ok(success_body());
    }
    let Some(a) = acct else {
        return param_err("Account information is required for assigning account to the project");
    };
    if role == ProjectRole::Admin {
        crate::handlers::limits::enforce(st, &a, &[(ResourceType::Project, 1)]).await?;
    }
    match db::project_member_add(&mut tx, p.id, a.id, user_id, role, project_role).await {
        // Already a member (a resumed job, or added twice): done, as CloudStack.
        Err(DbError::Conflict(_)) => return Ok(success_body()),
        r => r?,
    }
    Event::new(
        ctx,
        "PROJECT.ACCOUNT.ADD",
        format!(
            "{} added to project {}",
            user.as_ref()
                .map_or(a.name.as_str(), |u| u.username.as_str()),
            p.name
        ),
    )
    .resource(p.id, "Project", Some(&p.name))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(success_body())
}

/// A random token for an e-mail invitation (CloudStack: ten of 0-9A-Z).
fn invitation_token() -> String {
    use rand::Rng;
    const CHARS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut r = rand::thread_rng();
    (0..10)
        .map(|_| CHARS[r.gen_range(0..CHARS.len())] as char)
        .collect()
}

/// deleteAccountFromProject / deleteUserFromProject.
pub async fn remove_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let p = managed(st, ctx, "projectid", args.required_id("projectid")?).await?;
    let (acct, user) = leaving(st, &p, args).await?;
    let mut c = st.store.read().await?;
    let rows = db::project_member_list(
        &mut c,
        &db::ProjectMemberFilter {
            project: Some(p.id),
            account: Some(acct.id),
            ..Default::default()
        },
    )
    .await?
    .0;
    drop(c);
    let Some(m) = rows.iter().find(|m| m.user_id == user) else {
        return param_err(format!(
            "{} is not assigned to the project with specified id",
            if user.is_some() { "User" } else { "Account" }
        ));
    };
    if m.role == ProjectRole::Admin && admins_left(st, &p).await? <= 1 {
        return param_err(format!("Unable to delete account {} from the project with specified id as the account is the owner of the project", acct.name));
    }
    Ok(plan(&p, "Removing a member of"))
}

async fn leaving(
    st: &State,
    p: &ProjectRow,
    args: &Args,
) -> AppResult<(db::AccountRow, Option<UserId>)> {
    if let Some(uid) = args.id::<UserId>("userid") {
        let u = access::user(st, "userid", uid).await?;
        if u.account.domain_id != p.domain_id {
            return param_err(format!(
                "Unable to find user {} in domain id={}",
                u.username, p.domain_id
            ));
        }
        return Ok((u.account.clone(), Some(u.id)));
    }
    Ok((
        account_in(st, p, args.required_str("account")?).await?,
        None,
    ))
}

pub async fn remove_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let p = get(st, "projectid", job_project(job)?).await?;
    let (acct, user) = leaving(st, &p, args).await?;
    let mut tx = st.store.begin().await?;
    db::project_member_remove(&mut tx, p.id, acct.id, user).await?;
    Event::new(
        ctx,
        "PROJECT.ACCOUNT.REMOVE",
        format!("{} removed from project {}", acct.name, p.name),
    )
    .resource(p.id, "Project", Some(&p.name))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(success_body())
}

pub async fn list_accounts(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let p = used(st, ctx, "projectid", args.required_id("projectid")?).await?;
    let mut f = db::ProjectMemberFilter {
        project: Some(p.id),
        user: args.id("userid"),
        offset: args.page.offset,
        limit: args.page.limit,
        ..Default::default()
    };
    if let Some(r) = args.text("role") {
        f.role =
            Some(ProjectRole::parse(r.trim()).ok_or_else(|| {
                ApiError::param(format!("Invalid role {r}: use Admin or Regular"))
            })?);
    }
    if let Some(a) = args.text("account") {
        let mut c = st.store.read().await?;
        match db::account_get_by_name(&mut c, p.domain_id, a.trim()).await? {
            Some(a) => f.account = Some(a.id),
            None => return Ok(list_body("projectaccount", 0, Vec::new())),
        }
    }
    let (rows, total) = {
        let mut c = st.store.read().await?;
        db::project_member_list(&mut c, &f).await?
    };
    let mut items = Vec::with_capacity(rows.len());
    for m in rows {
        let a = access::account(st, "account", m.account_id).await?;
        let mut v = json!({
            "projectid": p.id,
            "project": p.name,
            "accountid": m.account_id,
            "account": m.account_name,
            "accounttype": a.account_type.as_i64(),
            "role": m.role.as_str(),
            "domainid": m.domain_id,
            "domain": m.domain_name,
        });
        if let (Some(u), Some(n)) = (m.user_id, m.user_name) {
            v["userid"] = json!(u);
            v["username"] = json!(n);
        }
        if let Some(r) = m.project_role_id {
            v["projectroleid"] = json!(r);
        }
        items.push(v);
    }
    Ok(list_body("projectaccount", total, items))
}
