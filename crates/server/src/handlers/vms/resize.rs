//! Changing offering (changeServiceForVirtualMachine, scaleVirtualMachine), SSH keys, metrics.

use super::*;

// --- change offering / scale / reset key ----------------------------------------------------

/// The new offering and what it gives this VM; refuses system, inactive and unchanged
/// offerings, checks storage type and the limits for the increase.
pub(crate) async fn new_offering(
    st: &State,
    vm: &VmRow,
    args: &Args,
) -> AppResult<(InfraRow, i64, i64, i64)> {
    let owner = crate::access::account(st, "id", vm.account_id).await?;
    let so = crate::handlers::offerings::usable(
        st,
        &owner,
        Infra::ServiceOffering,
        "serviceofferingid",
        args.required_id("serviceofferingid")?,
    )
    .await?;
    if attr_b(&so, "issystem") || so.state == "Inactive" {
        return param_err(format!(
            "Service offering {} cannot be used for a user VM",
            so.name
        ));
    }
    let (cpus, mhz, mem) = compute_of(&so, args)?;
    if so.id == vm.service_offering_id && (cpus, mhz, mem) == (vm.cpus, vm.cpu_mhz, vm.memory_mib) {
        return param_err("The VM already has this service offering");
    }
    let local_now = vm.attrs["localstorage"].as_bool().unwrap_or(false);
    let local_new = attr_s(&so, "storagetype").as_deref() == Some("local");
    if local_now != local_new {
        return param_err("The new offering's storage type (local/shared) differs from the VM's: its disks cannot move");
    }
    let acct = access::account(st, "id", vm.account_id).await?;
    crate::handlers::limits::enforce(
        st,
        &acct,
        &[
            (model::limits::ResourceType::Cpu, cpus - vm.cpus),
            (model::limits::ResourceType::Memory, mem - vm.memory_mib),
        ],
    )
    .await?;
    Ok((so, cpus, mhz, mem))
}

pub(crate) async fn apply_offering(
    st: &State,
    ctx: &OpContext,
    vm: &VmRow,
    so: &InfraRow,
    (cpus, mhz, mem): (i64, i64, i64),
    from: &[model::VmState],
) -> AppResult<bool> {
    let mut attrs = vm.attrs.clone();
    attrs["hosttags"] = json!(attr_s(so, "hosttags"));
    attrs["storagetags"] = json!(attr_s(so, "storagetags"));
    let mut tx = st.store.begin().await?;
    // Only in the state the caller checked (a concurrent start must not be scaled behind its
    // back): re-check under the write lock.
    let now = db::vm_get(&mut tx, vm.id).await?;
    if !now.map(|v| from.contains(&v.state)).unwrap_or(false) {
        return Ok(false);
    }
    db::vm_update(
        &mut tx,
        vm.id,
        &db::VmChanges {
            offering: Some((so.id, cpus, mhz, mem)),
            attrs: Some(attrs),
            ha_enable: Some(attr_b(so, "offerha")),
            ..Default::default()
        },
    )
    .await?;
    Event::new(
        ctx,
        "VM.UPGRADE",
        format!(
            "VM {} now has service offering {}",
            vm.instance_name, so.name
        ),
    )
    .resource(vm.id, "VirtualMachine", Some(&vm.name))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(true)
}

pub async fn change_service(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let vm = owned(st, ctx, args.required_id("id")?).await?;
    if vm.state != model::VmState::Stopped {
        return param_err(format!(
            "Unable to upgrade virtual machine {}: it is {}; stop it first, or use scaleVirtualMachine",
            vm.display_name, vm.state
        ));
    }
    let (so, cpus, mhz, mem) = new_offering(st, &vm, args).await?;
    if !apply_offering(
        st,
        ctx,
        &vm,
        &so,
        (cpus, mhz, mem),
        &[model::VmState::Stopped],
    )
    .await?
    {
        return Err(state_err(&vm, "upgrade"));
    }
    result(st, ctx, vm.id.into()).await
}

pub async fn scale_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let vm = owned(st, ctx, args.required_id("id")?).await?;
    if !matches!(vm.state, model::VmState::Running | model::VmState::Stopped) {
        return Err(state_err(&vm, "scale"));
    }
    let (_, cpus, mhz, mem) = new_offering(st, &vm, args).await?;
    let zone = [(model::settings::Scope::Zone, vm.zone_id.to_string())];
    if vm.state == model::VmState::Running
        && !st.settings.scoped_bool("enable.dynamic.scale.vm", &zone)
    {
        return param_err(
            "Dynamic scaling of running VMs is disabled (enable.dynamic.scale.vm): stop the VM to scale it",
        );
    }
    if vm.state == model::VmState::Running
        && (cpus < vm.cpus || mhz < vm.cpu_mhz || mem < vm.memory_mib)
    {
        return param_err("Only scaling up a running VM is supported: stop it to scale down");
    }
    Ok(job_plan(&vm, "Scaling"))
}

pub async fn scale_run(st: &State, ctx: &OpContext, args: &Args, job: &JobRef) -> AppResult<Value> {
    let id: Uuid = job.instance()?;
    let vm = load(st, model::VmId(id))
        .await?
        .ok_or_else(|| vm_gone(id))?;
    let (so, cpus, mhz, mem) = match new_offering(st, &vm, args).await {
        Ok(x) => x,
        // Resumed after the change was applied.
        Err(_) if vm.service_offering_id == args.uuid("serviceofferingid").unwrap_or_default() => {
            return result(st, ctx, id).await
        }
        Err(e) => return Err(e),
    };
    if vm.state == model::VmState::Stopped {
        if !apply_offering(
            st,
            ctx,
            &vm,
            &so,
            (cpus, mhz, mem),
            &[model::VmState::Stopped],
        )
        .await?
        {
            return Err(state_err(&vm, "scale"));
        }
        return result(st, ctx, id).await;
    }
    let (Some(host), Some(cluster)) = (vm.host_id, vm.cluster_id) else {
        return Err(state_err(&vm, "scale"));
    };
    // The increase must fit the VM's host (under its lock), as a deploy would.
    let snap = crate::placing::snapshot(st, vm.zone_id).await?;
    let (Some(h), Some(c)) = (
        snap.hosts.iter().find(|x| x.id == host),
        snap.clusters.iter().find(|x| x.id == cluster),
    ) else {
        return Err(AppError::Internal(
            "the VM's host is not in its zone".into(),
        ));
    };
    {
        let mut tx = st.store.begin().await?;
        let fits = h.cpus as i64 >= cpus
            && h.cpu_mhz as i64 >= mhz
            && crate::placing::host_takes(
                &mut tx,
                h,
                c,
                // What it holds more (a reservation an admission policy dropped stays dropped).
                if vm.reserve_cpu {
                    cpus * mhz - vm.cpus * vm.cpu_mhz
                } else {
                    0
                },
                if vm.reserve_memory {
                    mem - vm.memory_mib
                } else {
                    0
                },
                false,
            )
            .await?;
        if !fits {
            return Err(ApiError::new(
                ErrorCode::InsufficientCapacity,
                format!(
                    "Unable to scale VM {}: its host does not have enough free CPU or memory",
                    vm.instance_name
                ),
            )
            .into());
        }
        // Claim it in the same transaction: the VM's new size is what the host holds.
        db::vm_update(
            &mut tx,
            vm.id,
            &db::VmChanges {
                offering: Some((so.id, cpus, mhz, mem)),
                ..Default::default()
            },
        )
        .await?;
        tx.commit().await?;
    }
    let r = st
        .hub
        .command_ready(
            host,
            proto::Command::ScaleVm {
                name: vm.instance_name.clone(),
                cpus: cpus.clamp(0, u32::MAX as i64) as u32,
                cpu_mhz: mhz.max(0) as u64,
                memory_mib: mem.max(0) as u64,
            },
            HOST_TIMEOUT,
        )
        .await;
    if let Err(e) = r {
        // Put the old size back: the host did not take the new one.
        let mut tx = st.store.begin().await?;
        db::vm_update(
            &mut tx,
            vm.id,
            &db::VmChanges {
                offering: Some((vm.service_offering_id, vm.cpus, vm.cpu_mhz, vm.memory_mib)),
                ..Default::default()
            },
        )
        .await?;
        tx.commit().await?;
        return Err(e.into());
    }
    apply_offering(
        st,
        ctx,
        &vm,
        &so,
        (cpus, mhz, mem),
        &[model::VmState::Running],
    )
    .await?;
    result(st, ctx, id).await
}

pub async fn reset_key_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let vm = owned(st, ctx, args.required_id("id")?).await?;
    if vm.state != model::VmState::Stopped {
        return param_err(format!(
            "Vm {} should be stopped to do SSH Key reset",
            vm.display_name
        ));
    }
    reset_keys(st, &vm, args).await?;
    Ok(job_plan(&vm, "Resetting the SSH key of"))
}

pub(crate) async fn reset_keys(st: &State, vm: &VmRow, args: &Args) -> AppResult<Vec<String>> {
    let mut names: Vec<String> = Vec::new();
    if let Some(k) = args.text("keypair") {
        names.push(k.to_string());
    }
    for k in args.list("keypairs").unwrap_or_default() {
        if !names.contains(k) {
            names.push(k.clone());
        }
    }
    if names.is_empty() {
        return param_err("Please specify keypair or keypairs");
    }
    let mut c = st.store.read().await?;
    for k in &names {
        if db::keypair_get_by_name(&mut c, vm.account_id, k)
            .await?
            .is_none()
        {
            return param_err(format!(
                "A key pair with name '{k}' does not exist for account {} in specified domain id",
                vm.account_name
            ));
        }
    }
    Ok(names)
}

/// The new keys are stored with the VM and reach the guest (as its authorized_keys) at its
/// next start.
pub async fn reset_key_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let id: Uuid = job.instance()?;
    let vm = load(st, model::VmId(id))
        .await?
        .ok_or_else(|| vm_gone(id))?;
    let names = reset_keys(st, &vm, args).await?;
    let mut tx = st.store.begin().await?;
    db::vm_update(
        &mut tx,
        vm.id,
        &db::VmChanges {
            keypairs: Some(names),
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    // A password-enabled template's VM gets a new password with its new key, as CloudStack
    // does (answered in the job result, served at the next boot).
    let password = if super::guest::password_enabled(st, &vm).await? {
        let p = domain::guestdata::generate_password(st);
        domain::guestdata::set_pending_password(st, vm.id, Some(&p)).await?;
        Some(p)
    } else {
        None
    };
    // The routers' data servers answer the new keys (public-keys) from now on.
    crate::netsync::vm_changed(st, vm.id, false).await;
    let mut r = result(st, ctx, id).await?;
    if let Some(p) = password {
        r["virtualmachine"]["password"] = json!(p);
    }
    Ok(r)
}

/// listVirtualMachinesMetrics: the VMs of listVirtualMachines with their usage figures, from
/// the guests' latest statistics (listVirtualMachines' `cpuused`, `networkkbsread`…, which a
/// running VM has once its host reported; a VM without any shows zero use).
pub async fn list_metrics(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let mut body = list(st, ctx, args).await?;
    let Some(items) = body.get_mut("virtualmachine").and_then(Value::as_array_mut) else {
        return Ok(body);
    };
    let mb = |kb: i64| json!(format!("{:.2} MB", kb as f64 / 1024.0));
    for vm in items.iter_mut() {
        let id: Uuid = vm["id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or_default();
        let vols = volumes_of(st, model::VmId(id)).await?;
        let disk: i64 = vols.iter().map(|v| v.size).sum();
        let cpus = vm["cpunumber"].as_i64().unwrap_or(0);
        let mhz = vm["cpuspeed"].as_i64().unwrap_or(0);
        let mem = vm["memory"].as_i64().unwrap_or(0);
        let n = |k: &str| vm[k].as_i64().unwrap_or(0);
        let (net_r, net_w, disk_r, disk_w) = (
            n("networkkbsread"),
            n("networkkbswrite"),
            n("diskkbsread"),
            n("diskkbswrite"),
        );
        let iops = n("diskioread") + n("diskiowrite");
        vm["cputotal"] = json!(format!("{:.2} Ghz", (cpus * mhz) as f64 / 1000.0));
        if vm.get("cpuused").is_none() {
            vm["cpuused"] = json!("0%");
        }
        vm["memorytotal"] = json!(format!("{:.2} GB", mem as f64 / 1024.0));
        vm["disksizetotal"] = json!(disk);
        vm["disksizetotalgb"] = json!(format!("{:.2} GB", disk as f64 / GIB as f64));
        vm["networkread"] = mb(net_r);
        vm["networkwrite"] = mb(net_w);
        vm["diskread"] = mb(disk_r);
        vm["diskwrite"] = mb(disk_w);
        vm["diskiopstotal"] = json!(iops);
        vm["ipaddress"] = json!(null);
    }
    Ok(body)
}
