//! attachIso and detachIso: an ISO in the VM's CD-ROM. A running VM's host fetches the ISO
//! from the image store into its pool's image cache and swaps the CD-ROM's medium (QMP
//! `blockdev-change-medium`; detach ejects it); a stopped VM gets it at its next start.

use super::*;

/// The pool of the VM's root disk (where its host caches images).
async fn root_pool(st: &State, vm: &VmRow) -> AppResult<String> {
    let vols = domain::vms::volumes_of(st, vm.id).await?;
    let pool = vols
        .iter()
        .find(|v| v.vol_type == "ROOT")
        .and_then(|v| v.pool_id)
        .ok_or_else(|| AppError::Internal(format!("VM {} has no root disk on a pool", vm.id)))?;
    Ok(pool_path(st, pool).await?)
}

/// Tells a running VM's host to put `iso` in the CD-ROM (or empty it).
async fn change_on_host(st: &State, vm: &VmRow, iso: Option<Uuid>) -> AppResult<()> {
    if vm.state != model::VmState::Running {
        return Ok(());
    }
    let Some(host) = vm.host_id else {
        return Ok(());
    };
    let pool_path = root_pool(st, vm).await?;
    st.hub
        .command_ready(
            host,
            proto::Command::ChangeIso {
                name: vm.instance_name.clone(),
                iso,
                pool_path,
            },
            HOST_TIMEOUT,
        )
        .await?;
    Ok(())
}

pub async fn attach_iso_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let vm = owned(st, ctx, args.required_id("virtualmachineid")?).await?;
    let owner = crate::access::account(st, "virtualmachineid", vm.account_id).await?;
    let iso = crate::handlers::templates::usable(st, &owner, "id", args.required_id("id")?).await?;
    if iso.kind != "ISO" {
        return Err(ApiError::invalid_id("id", &iso.id.to_string()).into());
    }
    if !crate::handlers::template_copy::ready_in(&iso, vm.zone_id) {
        return param_err(format!("ISO {} is not ready in the VM's zone", iso.name));
    }
    if !matches!(vm.state, model::VmState::Running | model::VmState::Stopped) {
        return Err(state_err(&vm, "attach an ISO to"));
    }
    if vm.iso_id.is_some() && vm.iso_id != Some(iso.id) && !args.flag("forced") {
        return param_err("An ISO is already attached to the VM: detach it first (or forced=true)");
    }
    Ok(job_plan(&vm, "Attaching an ISO to"))
}

pub async fn attach_iso_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let id: Uuid = job.instance()?;
    let iso: Uuid = args.required_id("id")?;
    let vm = load(st, model::VmId(id))
        .await?
        .ok_or_else(|| vm_gone(id))?;
    change_on_host(st, &vm, Some(iso)).await?;
    let mut tx = st.store.begin().await?;
    db::vm_set_iso(&mut tx, vm.id, Some(iso)).await?;
    Event::new(
        ctx,
        "VM.ISO.ATTACH",
        format!("ISO {iso} attached to VM {}", vm.instance_name),
    )
    .resource(vm.id, "VirtualMachine", Some(&vm.name))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    result(st, ctx, id).await
}

pub async fn detach_iso_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let vm = owned(st, ctx, args.required_id("virtualmachineid")?).await?;
    if vm.iso_id.is_none() {
        return param_err(format!("No ISO is attached to VM {}", vm.display_name));
    }
    if !matches!(vm.state, model::VmState::Running | model::VmState::Stopped) {
        return Err(state_err(&vm, "detach an ISO from"));
    }
    Ok(job_plan(&vm, "Detaching the ISO of"))
}

pub async fn detach_iso_run(
    st: &State,
    ctx: &OpContext,
    _args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let id: Uuid = job.instance()?;
    let vm = load(st, model::VmId(id))
        .await?
        .ok_or_else(|| vm_gone(id))?;
    change_on_host(st, &vm, None).await?;
    let mut tx = st.store.begin().await?;
    db::vm_set_iso(&mut tx, vm.id, None).await?;
    Event::new(
        ctx,
        "VM.ISO.DETACH",
        format!("ISO detached from VM {}", vm.instance_name),
    )
    .resource(vm.id, "VirtualMachine", Some(&vm.name))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    result(st, ctx, id).await
}
