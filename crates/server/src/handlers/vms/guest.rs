//! What reaches the guest at boot through its router's data and password servers:
//! resetPasswordForVirtualMachine (password-enabled templates), getVirtualMachineUserData,
//! and the password a deploy of a password-enabled template answers.

use super::*;

/// The pending password of a VM (decrypted), if it has one.
pub(crate) fn pending_password(st: &State, vm: &VmRow) -> Option<String> {
    vm.attrs[domain::guestdata::PENDING_PASSWORD]
        .as_str()
        .and_then(|e| st.key.decrypt(e).ok())
}

/// Whether the VM's template supports password reset.
pub(crate) async fn password_enabled(st: &State, vm: &VmRow) -> AppResult<bool> {
    let Some(t) = vm.template_id else {
        return Ok(false);
    };
    let mut c = st.store.read().await?;
    Ok(db::infra_get(&mut c, Infra::Template, t)
        .await?
        .is_some_and(|t| attr_b(&t, "passwordenabled")))
}

fn check_password(p: &str) -> AppResult<()> {
    if p.is_empty() || p.len() > 255 || p.contains(['\n', '\r', '\0']) {
        return param_err("The password must be 1 to 255 characters, without line breaks");
    }
    Ok(())
}

pub async fn reset_password_prepare(
    st: &State,
    ctx: &OpContext,
    args: &Args,
) -> AppResult<JobPlan> {
    let vm = owned(st, ctx, args.required_id("id")?).await?;
    if !password_enabled(st, &vm).await? {
        return param_err(
            "Fail to reset password for the virtual machine, the template is not password enabled",
        );
    }
    if matches!(
        vm.state,
        model::VmState::Error | model::VmState::Expunging | model::VmState::Destroyed
    ) {
        return param_err(format!("Vm with id {} is not in the right state", vm.id));
    }
    if vm.state != model::VmState::Stopped {
        return param_err(format!(
            "Vm {} should be stopped to do password reset",
            vm.instance_name
        ));
    }
    if let Some(p) = args.text("password") {
        check_password(p)?;
    }
    Ok(job_plan(&vm, "Resetting the password of"))
}

/// The new password is kept (encrypted) with the VM and served to the guest by its router's
/// password server at its next boot; the job answers it, as CloudStack does.
pub async fn reset_password_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let id: Uuid = job.instance()?;
    let vm = load(st, model::VmId(id))
        .await?
        .ok_or_else(|| vm_gone(id))?;
    let password = match args.text("password") {
        Some(p) => p.to_string(),
        None => domain::guestdata::generate_password(st),
    };
    domain::guestdata::set_pending_password(st, vm.id, Some(&password)).await?;
    let mut tx = st.store.begin().await?;
    Event::new(
        ctx,
        "VM.RESETPASSWORD",
        format!("Password of VM {} reset", vm.instance_name),
    )
    .resource(vm.id, "VirtualMachine", Some(&vm.name))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    crate::netsync::vm_changed(st, vm.id, false).await;
    let mut r = result(st, ctx, id).await?;
    r["virtualmachine"]["password"] = json!(password);
    Ok(r)
}

/// getVirtualMachineUserData: the user data as it was given (base64).
pub async fn get_userdata(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let vm = owned(st, ctx, args.required_id("id")?).await?;
    let mut v = json!({ "virtualmachineid": vm.id });
    if let Some(u) = vm.userdata.as_deref().filter(|u| !u.is_empty()) {
        v["userdata"] = json!(u);
    }
    Ok(json!({ "virtualmachineuserdata": v }))
}
