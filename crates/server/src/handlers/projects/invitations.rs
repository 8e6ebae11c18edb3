//! Project invitations (used when `project.invite.required`): listProjectInvitations,
//! updateProjectInvitation (accept or decline), deleteProjectInvitation.

use super::*;

// --- invitations -----------------------------------------------------------------------------

/// Pending invitations older than `project.invite.timeout` seconds expire (read-time, as
/// CloudStack's cleanup thread would have).
async fn expire(st: &State) -> AppResult<()> {
    let timeout = st.settings.int("project.invite.timeout").max(1);
    let before = api::time::now_ms() - timeout.saturating_mul(1000);
    let mut tx = st.store.begin().await?;
    db::invitation_expire(&mut tx, before).await?;
    tx.commit().await?;
    Ok(())
}

fn invitation_view(i: &db::InvitationRow) -> Value {
    let mut v = json!({
        "id": i.id,
        "projectid": i.project_id,
        "project": i.project_name,
        "domainid": i.domain_id,
        "domain": i.domain_name,
        "state": i.state.as_str(),
    });
    if let Some(a) = &i.account_name {
        v["account"] = json!(a);
    }
    if let Some(u) = i.user_id {
        v["userid"] = json!(u);
    }
    if let Some(e) = &i.email {
        v["email"] = json!(e);
    }
    v
}

pub async fn list_invitations(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    expire(st).await?;
    let mut f = db::InvitationFilter {
        id: args.uuid("id"),
        offset: args.page.offset,
        limit: args.page.limit,
        ..Default::default()
    };
    if args.flag("activeonly") {
        f.state = Some(InvitationState::Pending);
    }
    if let Some(s) = args.text("state") {
        f.state = Some(InvitationState::parse(s.trim()).ok_or_else(|| {
            ApiError::param(format!(
                "Invalid state {s}: use Pending, Completed, Declined or Expired"
            ))
        })?);
    }
    if let Some(pid) = args.id::<ProjectId>("projectid") {
        let p = used(st, ctx, "projectid", pid).await?;
        f.project = Some(p.id);
        // A Regular member sees only what is addressed to it.
        if !projectscope::may_manage(ctx, &p) {
            f.account = Some(ctx.account_id());
        }
    } else if let Some(a) = args.text("account") {
        let a = access::account_by_name(st, ctx, a, args.id("domainid")).await?;
        f.account = Some(a.id);
    } else if let Some(uid) = args.id::<UserId>("userid") {
        let u = access::user(st, "userid", uid).await?;
        access::check_account(ctx, &u.account)?;
        f.user = Some(u.id);
    } else if args.flag("listall") {
        // The invitations of every project the caller manages.
        let mut c = st.store.read().await?;
        let all = db::project_all(&mut c).await?;
        f.projects = Some(
            all.iter()
                .filter(|p| projectscope::may_manage(ctx, p))
                .map(|p| p.id)
                .collect(),
        );
    } else {
        f.account = Some(ctx.account_id());
    }
    let (rows, total) = {
        let mut c = st.store.read().await?;
        db::invitation_list(&mut c, &f).await?
    };
    Ok(list_body(
        "projectinvitation",
        total,
        rows.iter().map(invitation_view).collect(),
    ))
}

/// The pending invitation updateProjectInvitation answers: by token, for `account`, for
/// `userid`, or for the caller (its user's, else its account's).
async fn pending_for(
    st: &State,
    ctx: &OpContext,
    p: &ProjectRow,
    args: &Args,
) -> AppResult<(db::InvitationRow, db::AccountRow, Option<UserId>)> {
    let (acct, user) = if let Some(a) = args.text("account") {
        let a = account_in(st, p, a).await?;
        access::check_account(ctx, &a)?;
        (a, None)
    } else if let Some(uid) = args.id::<UserId>("userid") {
        let u = access::user(st, "userid", uid).await?;
        if u.account.domain_id != p.domain_id {
            return param_err(format!(
                "Unable to find user ={uid} in domain id={}",
                p.domain_id
            ));
        }
        access::check_account(ctx, &u.account)?;
        (u.account.clone(), Some(u.id))
    } else {
        (ctx.user.account.clone(), Some(ctx.user_id()))
    };
    let mut c = st.store.read().await?;
    let mut f = db::InvitationFilter {
        project: Some(p.id),
        state: Some(InvitationState::Pending),
        ..Default::default()
    };
    if let Some(t) = args.text("token") {
        f.token = Some(t.trim().to_string());
    } else {
        f.account = Some(acct.id);
    }
    let rows = db::invitation_list(&mut c, &f).await?.0;
    let found = rows
        .into_iter()
        .find(|i| args.has("token") || i.user_id.is_none() || i.user_id == user);
    match found {
        Some(i) => Ok((i, acct, user)),
        None => param_err(format!(
            "Unable to find invitation for account name={} to the project id={}",
            acct.name, p.id
        )),
    }
}

pub async fn update_invitation_prepare(
    st: &State,
    ctx: &OpContext,
    args: &Args,
) -> AppResult<JobPlan> {
    expire(st).await?;
    let p = get(st, "projectid", args.required_id("projectid")?).await?;
    pending_for(st, ctx, &p, args).await?;
    Ok(plan(&p, "Answering an invitation to"))
}

pub async fn update_invitation_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let p = get(st, "projectid", job_project(job)?).await?;
    let (inv, acct, _) = match pending_for(st, ctx, &p, args).await {
        Ok(x) => x,
        // A resumed job that already answered: done.
        Err(_) if args.text("token").is_none() => return Ok(success_body()),
        Err(e) => return Err(e),
    };
    let accept = args.bool("accept").unwrap_or(true);
    let mut tx = st.store.begin().await?;
    let state = if accept {
        InvitationState::Completed
    } else {
        InvitationState::Declined
    };
    db::invitation_set_state(&mut tx, inv.id, state).await?;
    if accept {
        let member = inv.account_id.unwrap_or(acct.id);
        match db::project_member_add(
            &mut tx,
            p.id,
            member,
            inv.user_id,
            inv.role,
            inv.project_role_id,
        )
        .await
        {
            Err(DbError::Conflict(_)) => {}
            r => r?,
        }
    }
    Event::new(
        ctx,
        "PROJECT.INVITATION.UPDATE",
        format!(
            "Invitation to project {} {}",
            p.name,
            if accept { "accepted" } else { "declined" }
        ),
    )
    .resource(p.id, "Project", Some(&p.name))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(success_body())
}

async fn invitation(st: &State, id: Uuid) -> AppResult<db::InvitationRow> {
    let mut c = st.store.read().await?;
    db::invitation_list(
        &mut c,
        &db::InvitationFilter {
            id: Some(id),
            ..Default::default()
        },
    )
    .await?
    .0
    .into_iter()
    .next()
    .ok_or_else(|| ApiError::invalid_id("id", &id.to_string()).into())
}

pub async fn delete_invitation_prepare(
    st: &State,
    ctx: &OpContext,
    args: &Args,
) -> AppResult<JobPlan> {
    let i = invitation(st, args.required_id("id")?).await?;
    let p = managed(st, ctx, "id", i.project_id).await?;
    Ok(JobPlan {
        instance_type: Some("Project"),
        instance_id: Some(p.id.to_string()),
        returns_id: false,
        description: format!("Deleting an invitation to project {}", p.name),
    })
}

pub async fn delete_invitation_run(
    st: &State,
    _ctx: &OpContext,
    args: &Args,
    _job: &JobRef,
) -> AppResult<Value> {
    let id: Uuid = args.required_id("id")?;
    let mut tx = st.store.begin().await?;
    db::invitation_delete(&mut tx, id).await?;
    tx.commit().await?;
    Ok(success_body())
}
