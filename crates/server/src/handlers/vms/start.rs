//! The start saga (deploy, start, HA restart), and start/stop/reboot.

use super::*;

// --- start / stop / reboot -------------------------------------------------------------------

pub(crate) fn job_plan(vm: &VmRow, what: &str) -> JobPlan {
    JobPlan {
        instance_type: Some("VirtualMachine"),
        instance_id: Some(vm.id.to_string()),
        returns_id: false,
        description: format!("{what} VM {}", vm.instance_name),
    }
}

pub async fn start_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let vm = owned(st, ctx, args.required_id("id")?).await?;
    for p in ["hostid", "clusterid", "podid"] {
        if args.has(p) && !ctx.is_root_admin() {
            return Err(ApiError::permission(format!(
                "Parameter {p} can only be specified by a Root Admin"
            ))
            .into());
        }
    }
    match vm.state {
        model::VmState::Stopped | model::VmState::Running => {}
        _ => return Err(state_err(&vm, "start")),
    }
    // As CloudStack: a disabled owner's VMs (a suspended project's) do not start.
    let owner = crate::access::account(st, "id", vm.account_id).await?;
    if owner.state == model::identity::AccountState::Disabled {
        return Err(ApiError::permission(format!(
            "The owner of VM {} is disabled: it can't be started",
            vm.display_name
        ))
        .into());
    }
    Ok(job_plan(&vm, "Starting"))
}

pub async fn start_run(st: &State, ctx: &OpContext, args: &Args, job: &JobRef) -> AppResult<Value> {
    let id: Uuid = job.instance()?;
    let vm = load(st, model::VmId(id))
        .await?
        .ok_or_else(|| vm_gone(id))?;
    // Starting a running VM is a no-op in CloudStack (it answers with the VM).
    if vm.state != model::VmState::Running || saga_exists(st, job).await? {
        saga::run(st, job.id, &START, id, placement_hints(args)).await?;
    }
    result(st, ctx, id).await
}

pub(crate) async fn saga_exists(st: &State, job: &JobRef) -> AppResult<bool> {
    let mut c = st.store.read().await?;
    Ok(db::saga_get(&mut c, job.id).await?.is_some())
}

pub async fn stop_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let vm = owned(st, ctx, args.required_id("id")?).await?;
    match vm.state {
        model::VmState::Running | model::VmState::Stopped | model::VmState::Stopping => {}
        model::VmState::Starting | model::VmState::Migrating if args.flag("forced") => {}
        _ => return Err(state_err(&vm, "stop")),
    }
    Ok(job_plan(&vm, "Stopping"))
}

pub async fn stop_run(st: &State, ctx: &OpContext, args: &Args, job: &JobRef) -> AppResult<Value> {
    let id: Uuid = job.instance()?;
    let data = saga::SagaData {
        forced: args.flag("forced"),
        ..Default::default()
    };
    saga::run(st, job.id, &STOP, id, data).await?;
    result(st, ctx, id).await
}

pub async fn reboot_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let vm = owned(st, ctx, args.required_id("id")?).await?;
    if vm.state != model::VmState::Running {
        return Err(state_err(&vm, "reboot"));
    }
    Ok(job_plan(&vm, "Rebooting"))
}

pub async fn reboot_run(
    st: &State,
    ctx: &OpContext,
    _args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let id: Uuid = job.instance()?;
    let vm = load(st, model::VmId(id))
        .await?
        .ok_or_else(|| vm_gone(id))?;
    let (Some(host), model::VmState::Running) = (vm.host_id, vm.state) else {
        return Err(state_err(&vm, "reboot"));
    };
    st.hub
        .command_ready(
            host,
            proto::Command::RebootVm {
                name: vm.instance_name.clone(),
            },
            HOST_TIMEOUT,
        )
        .await?;
    result(st, ctx, id).await
}

// --- restore ---------------------------------------------------------------------------------

/// restoreVirtualMachine: a fresh root volume from the VM's template or `templateid` (a
/// running VM is stopped and started again around it).
pub async fn restore_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let vm = owned(st, ctx, args.required_id("virtualmachineid")?).await?;
    match vm.state {
        model::VmState::Stopped | model::VmState::Running => {}
        _ => return Err(state_err(&vm, "restore")),
    }
    domain::vmsnapshots::refuse_volume_change(st, vm.id).await?;
    restore_template(st, ctx, &vm, args).await?;
    Ok(job_plan(&vm, "Restoring"))
}

async fn restore_template(st: &State, ctx: &OpContext, vm: &VmRow, args: &Args) -> AppResult<Uuid> {
    let id = match args.uuid("templateid").or(vm.template_id) {
        Some(t) => t,
        None => return param_err("The VM was deployed from an ISO: give templateid"),
    };
    let t = super::super::templates::usable(st, &ctx.user.account, "templateid", id).await?;
    if t.kind != "TEMPLATE" {
        return param_err(format!("{} is an ISO, not a template", t.name));
    }
    if t.attrs["isready"] != true {
        return param_err(format!("Template {} is not ready to be used", t.name));
    }
    if !crate::handlers::template_copy::ready_in(&t, vm.zone_id) {
        return param_err(format!(
            "Template {} is not available in the VM's zone",
            t.name
        ));
    }
    Ok(t.id)
}

pub async fn restore_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let id: model::VmId = job.instance()?;
    let vm = owned(st, ctx, id.0).await?;
    let template = restore_template(st, ctx, &vm, args).await?;
    domain::vms::restore::run(&st.core, job.id, id, template).await?;
    result(st, ctx, id.0).await
}
