//! Destroy, expunge and recover.

use super::*;

// --- destroy / recover / expunge -------------------------------------------------------------

/// `allow.user.expunge.recover.vm` as it applies to the caller's account (set for it, its
/// domain or an ancestor, else globally).
async fn user_may_expunge(st: &State, ctx: &OpContext) -> AppResult<bool> {
    let chain = crate::handlers::scoped_config::account_chain(st, &ctx.user.account).await?;
    Ok(st
        .settings
        .scoped_bool("allow.user.expunge.recover.vm", &chain))
}

pub(crate) async fn may_expunge(st: &State, ctx: &OpContext) -> AppResult<()> {
    if ctx.is_admin() || user_may_expunge(st, ctx).await? {
        Ok(())
    } else {
        Err(ApiError::permission(
            "Parameter expunge can be passed by Admin only (or when allow.user.expunge.recover.vm is true)",
        )
        .into())
    }
}

pub async fn destroy_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let vm = owned(st, ctx, args.required_id("id")?).await?;
    if vm.attrs["deleteprotection"] == true {
        return crate::error::param_err(format!(
            "Instance {} has delete protection enabled and cannot be deleted",
            vm.name
        ));
    }
    if args.flag("expunge") {
        may_expunge(st, ctx).await?;
    }
    match vm.state {
        model::VmState::Running
        | model::VmState::Stopped
        | model::VmState::Stopping
        | model::VmState::Error => {}
        model::VmState::Destroyed if args.flag("expunge") => {}
        _ => return Err(state_err(&vm, "destroy")),
    }
    for v in args.list("volumeids").unwrap_or_default() {
        let id: Uuid = v
            .trim()
            .parse()
            .map_err(|_| ApiError::invalid_id("volumeids", v))?;
        let mut c = st.store.read().await?;
        let vol = db::volume_get(&mut c, model::VolumeId(id))
            .await?
            .ok_or_else(|| ApiError::invalid_id("volumeids", v))?;
        if vol.vm_id != Some(vm.id) || vol.vol_type != "DATADISK" {
            return param_err(format!(
                "Volume {} is not a data volume of VM {}",
                vol.name, vm.display_name
            ));
        }
    }
    Ok(job_plan(&vm, "Destroying"))
}

pub async fn destroy_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let id: Uuid = job.instance()?;
    // After a restart the saga may already have removed the VM: answer from its last row.
    let vm = {
        let mut c = st.store.read().await?;
        db::vm_get_any(&mut c, model::VmId(id)).await?
    }
    .ok_or_else(|| vm_gone(id))?;
    // The ids were checked when the job was accepted.
    let data = saga::SagaData {
        forced: true,
        volumeids: args
            .list("volumeids")
            .unwrap_or_default()
            .iter()
            .filter_map(|v| v.trim().parse().ok())
            .collect(),
        ..Default::default()
    };
    let expunge = args.flag("expunge") || vm.state == model::VmState::Error;
    if expunge {
        // A VM already Destroyed has nothing to stop: it is expunged (as CloudStack does for
        // `destroyVirtualMachine expunge=true` on a destroyed VM). A resumed job keeps the
        // saga it started with.
        let started = {
            let mut c = st.store.read().await?;
            db::saga_get(&mut c, job.id).await?.map(|s| s.kind)
        };
        let def = match started.as_deref() {
            Some(k) if k == EXPUNGE.kind => &EXPUNGE,
            Some(_) => &DESTROY_EXPUNGE,
            None if matches!(
                vm.state,
                model::VmState::Destroyed | model::VmState::Expunging
            ) =>
            {
                &EXPUNGE
            }
            None => &DESTROY_EXPUNGE,
        };
        saga::run(st, job.id, def, id, data).await?;
        // The removed VM, as its last state.
        let mut view = one_view(st, ctx, &vm).await?;
        view["state"] = json!(model::VmState::Expunging);
        return Ok(json!({ "virtualmachine": view }));
    }
    saga::run(st, job.id, &DESTROY, id, data).await?;
    result(st, ctx, id).await
}

pub async fn expunge_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let vm = owned(st, ctx, args.required_id("id")?).await?;
    may_expunge(st, ctx).await?;
    if !matches!(
        vm.state,
        model::VmState::Destroyed | model::VmState::Error | model::VmState::Expunging
    ) {
        return param_err(format!(
            "Please destroy VM {} before expunging it (it is {})",
            vm.display_name, vm.state
        ));
    }
    Ok(job_plan(&vm, "Expunging"))
}

pub async fn expunge_run(
    st: &State,
    _ctx: &OpContext,
    _args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let id: Uuid = job.instance()?;
    saga::run(st, job.id, &EXPUNGE, id, Default::default()).await?;
    Ok(success_body())
}

pub async fn recover(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let vm = owned(st, ctx, args.required_id("id")?).await?;
    if !ctx.is_admin() && !user_may_expunge(st, ctx).await? {
        return Err(ApiError::permission(
            "Recovering a VM is for admins only (or when allow.user.expunge.recover.vm is true)",
        )
        .into());
    }
    if vm.state != model::VmState::Destroyed {
        return Err(state_err(&vm, "recover"));
    }
    let mut tx = st.store.begin().await?;
    if !db::vm_transition(
        &mut tx,
        vm.id,
        &[model::VmState::Destroyed],
        model::VmState::Stopped,
        &VmPlace::keep(),
    )
    .await?
    {
        return Err(state_err(&vm, "recover"));
    }
    Event::new(
        ctx,
        "VM.RECOVER",
        format!("VM {} recovered", vm.instance_name),
    )
    .resource(vm.id, "VirtualMachine", Some(&vm.name))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    result(st, ctx, vm.id.into()).await
}
