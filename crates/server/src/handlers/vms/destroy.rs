//! Destroy, expunge and recover.

use super::*;

// --- destroy / recover / expunge -------------------------------------------------------------

pub static DESTROY: SagaDef = SagaDef {
    pivot: Some(1),
    kind: "destroy",
    steps: &[
        Step {
            name: "stopping",
            run: to_stopping,
            undo: Some(back_to_running),
        },
        Step {
            name: "halt",
            run: halt,
            undo: None,
        },
        Step {
            name: "destroyed",
            run: mark_destroyed,
            undo: None,
        },
    ],
};

pub static DESTROY_EXPUNGE: SagaDef = SagaDef {
    pivot: Some(1),
    kind: "destroy-expunge",
    steps: &[
        Step {
            name: "stopping",
            run: to_stopping,
            undo: Some(back_to_running),
        },
        Step {
            name: "halt",
            run: halt,
            undo: None,
        },
        Step {
            name: "expunging",
            run: to_expunging,
            undo: None,
        },
        Step {
            name: "volumes",
            run: delete_volumes,
            undo: None,
        },
        Step {
            name: "removed",
            run: mark_removed,
            undo: None,
        },
    ],
};

pub static EXPUNGE: SagaDef = SagaDef {
    pivot: Some(0),
    kind: "expunge",
    steps: &[
        Step {
            name: "expunging",
            run: to_expunging,
            undo: None,
        },
        Step {
            name: "volumes",
            run: delete_volumes,
            undo: None,
        },
        Step {
            name: "removed",
            run: mark_removed,
            undo: None,
        },
    ],
};

pub(crate) fn mark_destroyed(cx: &mut SagaCx) -> BoxFuture<'_, AppResult<()>> {
    Box::pin(async move {
        let mut tx = cx.st.store.begin().await?;
        let moved = db::vm_transition(
            &mut tx,
            cx.resource,
            &[
                model::VmState::Stopping,
                model::VmState::Stopped,
                model::VmState::Destroyed,
            ],
            model::VmState::Destroyed,
            &VmPlace::off(),
        )
        .await?;
        tx.commit().await?;
        if !moved {
            let vm = vm_of(cx).await?;
            return Err(state_err(&vm, "destroy"));
        }
        Ok(())
    })
}

pub(crate) fn to_expunging(cx: &mut SagaCx) -> BoxFuture<'_, AppResult<()>> {
    Box::pin(async move {
        let mut tx = cx.st.store.begin().await?;
        let moved = db::vm_transition(
            &mut tx,
            cx.resource,
            &[
                model::VmState::Stopping,
                model::VmState::Stopped,
                model::VmState::Destroyed,
                model::VmState::Error,
                model::VmState::Expunging,
            ],
            model::VmState::Expunging,
            &VmPlace::off(),
        )
        .await?;
        tx.commit().await?;
        if !moved {
            let vm = vm_of(cx).await?;
            return Err(state_err(&vm, "expunge"));
        }
        Ok(())
    })
}

/// A connected host that can reach a volume: the one that created it, else any Up host of the
/// VM's last cluster.
pub(crate) async fn host_for_volume(
    st: &State,
    v: &VolumeRow,
    vm: &VmRow,
) -> AppResult<Option<Uuid>> {
    for h in v.host_id.into_iter().chain(vm.last_host_id) {
        if st.hub.is_connected(h) {
            return Ok(Some(h));
        }
    }
    Ok(None)
}

/// Deletes the VM's ROOT volume (and the DATA volumes named in `volumeids`) on their host and
/// marks them expunged; other DATA volumes are detached and kept.
pub(crate) fn delete_volumes(cx: &mut SagaCx) -> BoxFuture<'_, AppResult<()>> {
    Box::pin(async move {
        let vm = vm_of(cx).await?;
        let also = cx.data.volumeids.clone();
        for v in volumes_of(&cx.st, vm.id).await? {
            let delete = v.vol_type == "ROOT" || also.contains(&v.id);
            if !delete {
                let mut tx = cx.st.store.begin().await?;
                db::volume_attach(&mut tx, v.id, None).await?;
                tx.commit().await?;
                continue;
            }
            if let Some(pool) = v.pool_id {
                match host_for_volume(&cx.st, &v, &vm).await? {
                    Some(h) => {
                        let path = pool_path(&cx.st, pool).await?;
                        cx.st
                            .hub
                            .command_ready(
                                h,
                                proto::Command::DeleteVolume {
                                    pool_path: path,
                                    volume_id: v.id,
                                },
                                HOST_TIMEOUT,
                            )
                            .await?;
                    }
                    None => {
                        return Err(ApiError::new(
                            ErrorCode::ResourceUnavailable,
                            format!(
                                "No connected host can reach volume {} to delete it; try again when its host is Up",
                                v.name
                            ),
                        )
                        .into())
                    }
                }
            }
            let mut tx = cx.st.store.begin().await?;
            db::volume_mark_removed(&mut tx, v.id).await?;
            db::tag_delete_for_resource(&mut tx, v.id).await?;
            tx.commit().await?;
        }
        Ok(())
    })
}

pub(crate) fn mark_removed(cx: &mut SagaCx) -> BoxFuture<'_, AppResult<()>> {
    Box::pin(async move {
        let vm = cx.resource;
        let nets: Vec<Uuid> = {
            let mut c = cx.st.store.read().await?;
            db::net_nics_of_vms(&mut c, &[vm])
                .await?
                .into_iter()
                .map(|n| n.network_id)
                .collect()
        };
        let groups = {
            let mut c = cx.st.store.read().await?;
            db::memberships(&mut c, &[vm]).await?
        };
        let mut tx = cx.st.store.begin().await?;
        db::vm_mark_removed(&mut tx, vm).await?;
        db::nic_release_for_vm(&mut tx, vm).await?;
        db::tag_delete_for_resource(&mut tx, vm).await?;
        // Its groups and load balancers forget it; rules pointing at it go.
        db::member_remove_everywhere(&mut tx, vm).await?;
        let rules = db::rule_list(
            &mut tx,
            &db::RuleFilter {
                kinds: vec!["portforward", "ipforward"],
                network_ids: nets.clone(),
                ..Default::default()
            },
        )
        .await?
        .0;
        let me = vm.to_string();
        for r in rules
            .iter()
            .filter(|r| r.spec["virtualmachineid"].as_str() == Some(&me))
        {
            db::rule_remove(&mut tx, db::RuleOwner::Id, r.id).await?;
        }
        let nat = db::public_ip_list(
            &mut tx,
            &db::PublicIpFilter {
                static_nat_vm: Some(vm),
                ..Default::default()
            },
        )
        .await?
        .0;
        for ip in nat {
            db::public_ip_static_nat(&mut tx, ip.id, None).await?;
        }
        tx.commit().await?;
        // The routers' leases and the member sets of other hosts change.
        let st = cx.st.clone();
        crate::netsync::networks_changed(&st, &nets).await?;
        let groups: Vec<Uuid> = groups.into_iter().map(|m| m.owner_id).collect();
        crate::netsync::groups_changed(&st, &groups).await?;
        Ok(())
    })
}

pub(crate) fn may_expunge(st: &State, ctx: &OpContext) -> AppResult<()> {
    if ctx.is_admin() || st.settings.bool("allow.user.expunge.recover.vm") {
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
    if args.flag("expunge") {
        may_expunge(st, ctx)?;
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
        let vol = db::volume_get(&mut c, id)
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
        db::vm_get_any(&mut c, id).await?
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
    may_expunge(st, ctx)?;
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
    if !ctx.is_admin() && !st.settings.bool("allow.user.expunge.recover.vm") {
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
    result(st, ctx, vm.id).await
}
