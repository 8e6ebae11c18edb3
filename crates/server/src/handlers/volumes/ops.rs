//! createVolume, attachVolume (a saga), detachVolume (a saga), resizeVolume, deleteVolume.

use super::*;

// --- create / attach / detach / resize / delete -----------------------------------------------

use api::{success_body, ErrorCode};

use crate::error::param_err;
use crate::events::Event;
use crate::handlers::vms::{host_for_volume, pool_path, state_err, volumes_of, GIB, HOST_TIMEOUT};
use crate::handlers::zones::get as infra_get;
use crate::jobs::{JobPlan, JobRef};
use crate::saga;

pub(crate) use domain::volumes::load;

/// The volume the caller may act on.
pub(crate) async fn owned(
    st: &State,
    ctx: &OpContext,
    param: &str,
    id: Uuid,
) -> AppResult<VolumeRow> {
    let v = load(st, model::VolumeId(id))
        .await?
        .ok_or_else(|| ApiError::invalid_id(param, &id.to_string()))?;
    if v.account_id != ctx.account_id() {
        let a = access::account(st, "id", v.account_id).await?;
        access::check_account(ctx, &a)?;
    }
    Ok(v)
}

pub(crate) async fn result(st: &State, ctx: &OpContext, id: model::VolumeId) -> AppResult<Value> {
    let v = load(st, id)
        .await?
        .ok_or_else(|| ApiError::invalid_id("id", &id.to_string()))?;
    let n = names(st, std::slice::from_ref(&v)).await?;
    let tags = crate::handlers::tags::for_resources(st, &[v.id.into()]).await?;
    Ok(json!({ "volume": view(ctx, &v, &n, &tags) }))
}

pub async fn create_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let acct = crate::handlers::vms::owner_account(st, ctx, args).await?;
    let vm = match args.uuid("virtualmachineid") {
        Some(id) => {
            let vm = crate::handlers::vms::owned(st, ctx, id).await?;
            if vm.account_id != acct.id {
                return param_err("The volume and the VM must belong to the same account");
            }
            Some(vm)
        }
        None => None,
    };
    // From a snapshot: its content and size, in its zone; the volume is created with it
    // when it is first attached (or its VM starts).
    let snapshot = match args.uuid("snapshotid") {
        Some(sid) => {
            let snap = crate::handlers::snapshots::owned(st, ctx, "snapshotid", sid).await?;
            if snap.state != model::SnapshotState::BackedUp {
                return param_err(format!(
                    "Snapshot {} is {}: a volume is made from a BackedUp snapshot",
                    snap.name, snap.state
                ));
            }
            if snap.account_id != acct.id {
                return param_err("The snapshot and the volume must belong to the same account");
            }
            Some(snap)
        }
        None => None,
    };
    let offering = match (args.uuid("diskofferingid"), &snapshot) {
        (Some(d), _) => Some(
            crate::handlers::offerings::usable(st, &acct, Infra::DiskOffering, "diskofferingid", d)
                .await?,
        ),
        (None, Some(_)) => None,
        (None, None) => {
            return param_err(
                "Either disk offering or snapshot id must be passed whilst creating volume",
            )
        }
    };
    let size = if let Some(snap) = &snapshot {
        match args.int("size") {
            Some(g) if g > 0 && g.saturating_mul(GIB) >= snap.size => g.saturating_mul(GIB),
            Some(g) => {
                return param_err(format!(
                    "size {g} GB is smaller than the snapshot ({} bytes)",
                    snap.size
                ))
            }
            None => snap.size,
        }
    } else if offering
        .as_ref()
        .is_some_and(|o| crate::handlers::offerings::b(o, "iscustomized"))
    {
        match args.int("size") {
            Some(g) if g > 0 => g * GIB,
            _ => return param_err("This disk offering requires a custom size: give size (GB)"),
        }
    } else {
        if args.has("size") {
            return param_err(
                "This disk offering has a fixed size; size can only be given with a customized offering",
            );
        }
        offering
            .as_ref()
            .and_then(|o| crate::handlers::offerings::n(o, "disksize"))
            .unwrap_or(0)
            * GIB
    };
    let zone = match (args.uuid("zoneid"), &vm, &snapshot) {
        (Some(z), _, Some(snap)) if z != snap.zone_id => {
            return param_err("The volume is made in its snapshot's zone: zoneid must be it")
        }
        (_, _, Some(snap)) => snap.zone_id,
        (Some(z), _, None) => infra_get(st, Infra::Zone, "zoneid", z).await?.id,
        (None, Some(vm), None) => vm.zone_id,
        (None, None, None) => return param_err("Please specify zoneid with diskofferingid"),
    };
    if let Some(vm) = &vm {
        if vm.zone_id != zone {
            return param_err("The volume and the VM must be in the same zone");
        }
    }
    crate::handlers::limits::enforce(
        st,
        &acct,
        &[
            (model::limits::ResourceType::Volume, 1),
            (model::limits::ResourceType::PrimaryStorage, size),
        ],
    )
    .await?;
    let id = Uuid::new_v4();
    let name = match args.text("name") {
        Some(n) => n.trim().to_string(),
        None => format!("DATA-{}", &id.simple().to_string()[..8]),
    };
    let mut tx = st.store.begin().await?;
    db::volume_insert(
        &mut tx,
        &db::NewVolume {
            id: model::VolumeId(id),
            name: name.clone(),
            vol_type: "DATADISK".into(),
            account_id: acct.id,
            domain_id: acct.domain_id,
            zone_id: zone,
            vm_id: None,
            device_id: None,
            size,
            disk_offering_id: offering.as_ref().map(|o| o.id),
            template_id: None,
            attrs: match &snapshot {
                Some(snap) => json!({ "snapshot_id": snap.id }),
                None => json!({}),
            },
        },
    )
    .await?;
    Event::new(ctx, "VOLUME.CREATE", format!("Volume {name} created"))
        .resource(id, "Volume", Some(&name))
        .record(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(JobPlan {
        instance_type: Some("Volume"),
        instance_id: Some(id.to_string()),
        returns_id: true,
        description: format!("Creating volume {name}"),
    })
}

pub async fn create_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let id: Uuid = job.instance()?;
    if let Some(vm) = args.uuid("virtualmachineid") {
        domain::volumes::attach_saga(&st.core, job, id, model::VmId(vm), None).await?;
    }
    result(st, ctx, model::VolumeId(id)).await
}

pub(crate) use domain::volumes::check_attach;

pub async fn attach_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let v = owned(st, ctx, "id", args.required_id("id")?).await?;
    let vm = crate::handlers::vms::owned(st, ctx, args.required_id("virtualmachineid")?).await?;
    check_attach(st, &v, &vm, args.int("deviceid")).await?;
    Ok(JobPlan {
        instance_type: Some("Volume"),
        instance_id: Some(v.id.to_string()),
        returns_id: false,
        description: format!("Attaching volume {} to VM {}", v.name, vm.instance_name),
    })
}

pub async fn attach_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let id: Uuid = job.instance()?;
    domain::volumes::attach_saga(
        &st.core,
        job,
        id,
        args.required_id("virtualmachineid")?,
        args.int("deviceid"),
    )
    .await?;
    result(st, ctx, model::VolumeId(id)).await
}

pub(crate) async fn detach_target(
    st: &State,
    ctx: &OpContext,
    args: &Args,
) -> AppResult<VolumeRow> {
    match (
        args.uuid("id"),
        args.uuid("virtualmachineid"),
        args.int("deviceid"),
    ) {
        (Some(id), _, _) => owned(st, ctx, "id", id).await,
        (None, Some(vm), Some(dev)) => {
            let vm = crate::handlers::vms::owned(st, ctx, vm).await?;
            let v = volumes_of(st, vm.id)
                .await?
                .into_iter()
                .find(|v| v.device_id == Some(dev))
                .ok_or_else(|| {
                    ApiError::param(format!(
                        "VM {} has no volume at deviceid {dev}",
                        vm.display_name
                    ))
                })?;
            Ok(v)
        }
        _ => param_err("Please specify the volume id, or virtualmachineid and deviceid"),
    }
}

pub async fn detach_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let v = detach_target(st, ctx, args).await?;
    if v.vol_type == "ROOT" {
        return param_err(
            "Please specify a volume that is not a ROOT volume: the root disk cannot be detached",
        );
    }
    let Some(vm) = v.vm_id else {
        return param_err(format!("Volume {} is not attached to any VM", v.name));
    };
    if let Some(vm) = crate::handlers::vms::load(st, vm).await? {
        if !matches!(
            vm.state,
            model::VmState::Running | model::VmState::Stopped | model::VmState::Destroyed
        ) {
            return Err(state_err(&vm, "detach a volume from"));
        }
        domain::vmsnapshots::refuse_volume_change(st, vm.id).await?;
    }
    Ok(JobPlan {
        instance_type: Some("Volume"),
        instance_id: Some(v.id.to_string()),
        returns_id: false,
        description: format!("Detaching volume {}", v.name),
    })
}

pub async fn detach_run(
    st: &State,
    ctx: &OpContext,
    _args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let id: Uuid = job.instance()?;
    saga::run(st, job.id, &domain::volumes::DETACH, id, Default::default()).await?;
    result(st, ctx, model::VolumeId(id)).await
}

pub async fn resize_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let v = owned(st, ctx, "id", args.required_id("id")?).await?;
    super::refuse_encrypted(&v, "Resizing")?;
    if let Some(vm) = v.vm_id {
        domain::vmsnapshots::refuse_volume_change(st, vm).await?;
    }
    let new = new_size(st, &v, args).await?;
    if new < v.size && !args.flag("shrinkok") {
        return param_err(format!(
            "Going from existing size of {} to size of {new} would shrink the volume. Need to sign off by supplying the shrinkok parameter with value of true.",
            v.size
        ));
    }
    if new > v.size {
        let acct = access::account(st, "id", v.account_id).await?;
        crate::handlers::limits::enforce(
            st,
            &acct,
            &[(model::limits::ResourceType::PrimaryStorage, new - v.size)],
        )
        .await?;
    }
    if !matches!(
        v.state,
        model::VolumeState::Allocated | model::VolumeState::Ready
    ) {
        return param_err(format!("Volume {} is in state {}", v.name, v.state));
    }
    Ok(JobPlan {
        instance_type: Some("Volume"),
        instance_id: Some(v.id.to_string()),
        returns_id: false,
        description: format!("Resizing volume {}", v.name),
    })
}

pub(crate) async fn new_size(st: &State, v: &VolumeRow, args: &Args) -> AppResult<i64> {
    if let Some(d) = args.uuid("diskofferingid") {
        let o = infra_get(st, Infra::DiskOffering, "diskofferingid", d).await?;
        if !crate::handlers::offerings::b(&o, "iscustomized") {
            return Ok(crate::handlers::offerings::n(&o, "disksize").unwrap_or(0) * GIB);
        }
    }
    match args.int("size") {
        Some(g) if g > 0 => Ok(g * GIB),
        Some(g) => param_err(format!("size must be a positive number of GB: {g}")),
        None if v.vol_type == "ROOT" || args.has("diskofferingid") => {
            param_err("Please specify the new size (GB)")
        }
        None => param_err("Please specify size (GB) or a fixed-size diskofferingid"),
    }
}

pub async fn resize_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let id: Uuid = job.instance()?;
    let v = load(st, model::VolumeId(id))
        .await?
        .ok_or_else(|| ApiError::invalid_id("id", &id.to_string()))?;
    let new = new_size(st, &v, args).await?;
    if let (Some(pool), model::VolumeState::Ready) = (v.pool_id, v.state) {
        let vm = match v.vm_id {
            Some(vm) => crate::handlers::vms::load(st, vm).await?,
            None => None,
        };
        let host = match vm.as_ref().and_then(|vm| vm.host_id) {
            Some(h) => Some(h),
            None => match &vm {
                Some(vm) => host_for_volume(st, &v, vm).await?,
                None => st.hub.first_reachable(&Vec::from_iter(v.host_id)).await,
            },
        };
        let host = host.ok_or_else(|| {
            ApiError::new(
                ErrorCode::ResourceUnavailable,
                format!("No connected host can reach volume {} to resize it", v.name),
            )
        })?;
        let path = pool_path(st, pool).await?;
        st.hub
            .command_ready(
                host,
                proto::Command::ResizeVolume {
                    pool_path: path,
                    volume_id: v.id.into(),
                    size_bytes: new.max(0) as u64,
                },
                HOST_TIMEOUT,
            )
            .await?;
    }
    let mut tx = st.store.begin().await?;
    db::volume_resize(&mut tx, model::VolumeId(id), new).await?;
    tx.commit().await?;
    result(st, ctx, model::VolumeId(id)).await
}

/// updateVolume: the owner renames a volume, hides it from lists (`displayvolume`) or
/// protects it from deletion (`deleteprotection`).
pub async fn update(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let v = owned(st, ctx, "id", args.required_id("id")?).await?;
    let mut name = v.name.clone();
    if let Some(n) = args.text("name") {
        let n = n.trim();
        if n.is_empty() {
            return param_err("Volume name can't be empty");
        }
        name = n.to_string();
    }
    let mut attrs = v.attrs.clone();
    if !attrs.is_object() {
        attrs = serde_json::json!({});
    }
    if let Some(d) = args.bool("displayvolume") {
        attrs["displayvolume"] = serde_json::json!(d);
    }
    if let Some(p) = args.bool("deleteprotection") {
        attrs["deleteprotection"] = serde_json::json!(p);
    }
    let mut tx = st.store.begin().await?;
    db::volume_update(&mut tx, v.id, &name, &attrs).await?;
    crate::events::Event::new(ctx, "VOLUME.UPDATE", format!("Volume {name} updated"))
        .resource(v.id.0, "Volume", Some(&name))
        .record(&mut tx)
        .await?;
    tx.commit().await?;
    let v = owned(st, ctx, "id", v.id.0).await?;
    let n = super::names(st, std::slice::from_ref(&v)).await?;
    let tags = super::super::tags::for_resources(st, &[v.id.0]).await?;
    Ok(serde_json::json!({ "volume": super::view(ctx, &v, &n, &tags) }))
}

/// The refusal for a volume whose owner protected it.
pub(crate) fn check_delete_protection(v: &db::VolumeRow) -> AppResult<()> {
    if v.attrs["deleteprotection"] == true {
        return param_err(format!(
            "Volume {} has delete protection enabled and cannot be deleted",
            v.name
        ));
    }
    Ok(())
}

pub async fn delete(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let v = owned(st, ctx, "id", args.required_id("id")?).await?;
    check_delete_protection(&v)?;
    if v.vm_id.is_some() {
        return param_err("Please specify a volume that is not attached to any VM.");
    }
    if !super::destroy::DESTROYABLE.contains(&v.state) {
        return param_err(format!("Volume {} is in state {}", v.name, v.state));
    }
    purge(st, ctx, &v, "VOLUME.DELETE").await?;
    Ok(success_body())
}

/// Deletes a volume's data on its pool (through a host that reaches it) and marks it
/// expunged, recording `event` (deleteVolume, destroyVolume expunge=true, the cleanup task).
pub(crate) async fn purge(
    st: &State,
    ctx: &OpContext,
    v: &VolumeRow,
    event: &str,
) -> AppResult<()> {
    if let Some(pool) = v.pool_id {
        let host = st
            .hub
            .first_reachable(&Vec::from_iter(v.host_id))
            .await
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::ResourceUnavailable,
                    format!("No connected host can reach volume {} to delete it", v.name),
                )
            })?;
        let path = pool_path(st, pool).await?;
        st.hub
            .command_ready(
                host,
                proto::Command::DeleteVolume {
                    pool_path: path,
                    volume_id: v.id.into(),
                },
                HOST_TIMEOUT,
            )
            .await?;
    }
    // An uploaded volume's file in the image store goes with it.
    if let Some(f) = v.attrs["image_file"].as_str() {
        if let Err(e) = tokio::fs::remove_file(f).await {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(volume = %v.id, file = f, error = %e, "an uploaded volume's file was not removed");
            }
        }
    }
    let mut tx = st.store.begin().await?;
    db::volume_mark_removed(&mut tx, v.id).await?;
    db::tag_delete_for_resource(&mut tx, v.id.into()).await?;
    Event::new(ctx, event, format!("Volume {} deleted", v.name))
        .resource(v.id, "Volume", Some(&v.name))
        .record(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Deletes every detached volume of an account (a project's, when it is deleted with
/// `cleanup=true`), as deleteVolume does one by one.
pub(crate) async fn remove_detached_for_account(
    st: &State,
    ctx: &OpContext,
    account: model::AccountId,
) -> AppResult<()> {
    let vols = {
        let mut c = st.store.read().await?;
        db::volume_list(
            &mut c,
            &db::VolumeFilter {
                scope: Some(db::OwnerScope::Account(account)),
                ..Default::default()
            },
        )
        .await?
        .0
    };
    for v in vols.iter().filter(|v| v.vm_id.is_none()) {
        let args = Args::from_values("deleteVolume", vec![("id", api::Arg::Uuid(v.id.into()))]);
        delete(st, ctx, &args).await?;
    }
    Ok(())
}

// --- migrate ---------------------------------------------------------------------------------

/// migrateVolume (root admins): the volume moves to another shared pool of its zone — live
/// (`livemigrate=true`) for a running VM's disk.
pub async fn migrate_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let v = owned(st, ctx, "volumeid", args.required_id("volumeid")?).await?;
    super::refuse_encrypted(&v, "Volume migration")?;
    let pool: Uuid = args.required_id("storageid")?;
    if args.has("newdiskofferingid") {
        return param_err(
            "newdiskofferingid is not supported: change the offering with resizeVolume",
        );
    }
    domain::volmigrate::check(st, &v, pool, args.flag("livemigrate")).await?;
    Ok(JobPlan {
        instance_type: Some("Volume"),
        instance_id: Some(v.id.to_string()),
        returns_id: false,
        description: format!("Migrating volume {}", v.name),
    })
}

pub async fn migrate_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let id: Uuid = job.instance()?;
    domain::volmigrate::run(
        &st.core,
        job.id,
        model::VolumeId(id),
        args.required_id("storageid")?,
    )
    .await?;
    result(st, ctx, model::VolumeId(id)).await
}
