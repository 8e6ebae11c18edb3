//! `createTemplate`: a template from a BackedUp snapshot (the server copies the snapshot's
//! file into the image store) or from a volume whose VM is stopped (the volume's host sends
//! it, flattened, to `PUT /store/template/<id>`). A template whose source was booted by a
//! kernel and initramfs (the source volume's template had them) gets copies of them, so a
//! VM deployed from it boots what was on the disk the same way.

use api::{ApiError, Args};
use db::{Infra, InfraRow};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::access;
use crate::context::OpContext;
use crate::error::{param_err, AppResult};
use crate::events::Event;
use crate::jobs::{JobPlan, JobRef};
use crate::state::State;

/// What the template is made from.
enum Source {
    Snapshot(db::SnapshotRow),
    Volume(db::VolumeRow),
}

async fn source(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Source> {
    match (
        args.uuid("snapshotid"),
        args.uuid("volumeid"),
        args.uuid("virtualmachineid"),
    ) {
        (Some(_), Some(_), _) => {
            param_err("Specify either snapshotid or volumeid to create a template, not both")
        }
        (Some(s), None, _) => {
            let s = super::owned(st, ctx, "snapshotid", s).await?;
            if s.state != model::SnapshotState::BackedUp {
                return param_err(format!(
                    "Snapshot {} is {}: a template is made from a BackedUp snapshot",
                    s.name, s.state
                ));
            }
            Ok(Source::Snapshot(s))
        }
        (None, v, vm) => {
            let v = match (v, vm) {
                (Some(v), _) => crate::handlers::volumes::owned(st, ctx, "volumeid", v).await?,
                (None, Some(vm)) => {
                    let vm = crate::handlers::vms::owned(st, ctx, vm).await?;
                    crate::handlers::vms::volumes_of(st, vm.id)
                        .await?
                        .into_iter()
                        .find(|v| v.vol_type == "ROOT")
                        .ok_or_else(|| ApiError::param("The VM has no root volume"))?
                }
                (None, None) => {
                    return param_err("Specify either snapshotid or volumeid to create a template")
                }
            };
            if v.state != model::VolumeState::Ready || v.pool_id.is_none() {
                return param_err(format!(
                    "Volume {} is {}: a template is made from a volume created on primary storage",
                    v.name, v.state
                ));
            }
            if let Some(vm) = v.vm_id {
                if let Some(vm) = crate::handlers::vms::load(st, vm).await? {
                    if vm.state != model::VmState::Stopped {
                        return param_err(format!(
                            "VM {} is {}: the VM must be Stopped to create a template of its volume",
                            vm.display_name, vm.state
                        ));
                    }
                }
            }
            Ok(Source::Volume(v))
        }
    }
}

pub async fn create_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let name = args.required_str("name")?.trim().to_string();
    if name.is_empty() {
        return param_err("name must not be empty");
    }
    let os = args.required_id::<Uuid>("ostypeid")?;
    let os = model::os::os_type(&os.to_string())
        .ok_or_else(|| ApiError::invalid_id("ostypeid", &os.to_string()))?;
    if args.flag("isfeatured") && !ctx.is_admin() {
        return Err(ApiError::permission("Only admins can create featured templates").into());
    }
    let src = source(st, ctx, args).await?;
    let (zone, volume_id, size, account) = match &src {
        Source::Snapshot(s) => (s.zone_id, s.volume_id, s.size, s.account_id),
        Source::Volume(v) => (v.zone_id, v.id, v.size, v.account_id),
    };
    if let Source::Volume(v) = &src {
        crate::handlers::volumes::refuse_encrypted(v, "A template")?;
    }
    if let Some(z) = args.uuid("zoneid") {
        if z != zone {
            return param_err("The template is created in its source's zone: zoneid must be it");
        }
    }
    // The owner: the source's (CloudStack: the caller's account; the source is its own).
    let owner = access::account(st, "volumeid", account).await?;
    if !ctx.is_admin() && owner.id != ctx.account_id() {
        return Err(ApiError::permission("The source belongs to another account").into());
    }
    let (store_id, store_path) = domain::snapshots::zone_store(st, zone).await?;
    // The source's own template: its hypervisor, and its kernel and initrd when it boots so.
    let volume = domain::volumes::load(st, volume_id).await?;
    let base = match volume.as_ref().and_then(|v| v.template_id) {
        Some(t) => {
            let mut c = st.store.read().await?;
            db::infra_get(&mut c, Infra::Template, t).await?
        }
        None => None,
    };
    let hypervisor = base
        .as_ref()
        .and_then(|b| b.attrs["hypervisor"].as_str().map(str::to_string))
        .unwrap_or_else(|| "KVM".into());
    let id = Uuid::new_v4();
    let mut attrs = json!({
        "displaytext": args.text("displaytext").unwrap_or(&name),
        "format": "QCOW2",
        "hypervisor": hypervisor,
        "ostypeid": os.id,
        "ispublic": args.flag("ispublic"),
        "isfeatured": args.flag("isfeatured"),
        "isextractable": true,
        "passwordenabled": args.flag("passwordenabled"),
        "sshkeyenabled": args.flag("sshkeyenabled"),
        "bootable": true,
        "templatetype": "USER",
        "account_id": owner.id,
        "crosszones": false,
        "isready": false,
        "downloading": false,
        "downloadprogress": 0,
        "storepath": store_path.display().to_string(),
        "size": size,
        "sourcevolumeid": volume_id.to_string(),
    });
    match &src {
        Source::Snapshot(s) => attrs["sourcesnapshotid"] = json!(s.id),
        Source::Volume(_) => attrs["awaitingupload"] = json!(true),
    }
    if let Some(b) = &base {
        attrs["sourcetemplateid"] = json!(b.id);
    }
    let row = InfraRow {
        id,
        zone_id: zone,
        parent_id: Some(store_id),
        name: name.clone(),
        kind: "TEMPLATE".into(),
        state: "Creating".into(),
        domain_id: Some(owner.domain_id.0),
        attrs,
        created: 0,
    };
    let mut tx = st.store.begin().await?;
    db::infra_insert(&mut tx, Infra::Template, &row).await?;
    Event::new(
        ctx,
        "TEMPLATE.CREATE",
        format!("Template {name} being created"),
    )
    .resource(id, "Template", Some(&name))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(JobPlan {
        instance_type: Some("Template"),
        instance_id: Some(id.to_string()),
        returns_id: true,
        description: format!("Creating template {name}"),
    })
}

pub async fn create_run(
    st: &State,
    ctx: &OpContext,
    _args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let id: Uuid = job.instance()?;
    let t = crate::handlers::zones::get(st, Infra::Template, "id", id).await?;
    if t.attrs["isready"] != true {
        if let Err(e) = make(st, &t).await {
            let text = e.to_string();
            let _ = crate::images::set(st, id, |r| {
                r.state = format!("Failed: {text}");
                r.attrs["failed"] = json!(true);
            })
            .await;
            return Err(e);
        }
    }
    let row = crate::handlers::zones::get(st, Infra::Template, "id", id).await?;
    let items =
        crate::handlers::templates::views(st, ctx, std::slice::from_ref(&row), None).await?;
    Ok(json!({ "template": items.into_iter().next().unwrap_or(Value::Null) }))
}

/// Puts the template's disk (and kernel/initrd) in the image store and marks it ready.
async fn make(st: &State, t: &InfraRow) -> AppResult<()> {
    let store = std::path::PathBuf::from(t.attrs["storepath"].as_str().unwrap_or_default());
    let dest = crate::images::image_path(&store, t.id, "QCOW2");
    let mut file = true;
    if let Some(sid) = t.attrs["sourcesnapshotid"]
        .as_str()
        .and_then(|s| s.parse().ok())
    {
        let s = domain::snapshots::load(st, model::SnapshotId(sid))
            .await?
            .ok_or_else(|| ApiError::param("The source snapshot is gone"))?;
        match domain::snapshots::file_of(st, &s).await? {
            Some(src) => copy(&src, &dest).await?,
            None => file = false, // a simulated host's snapshot has no file
        }
    } else {
        let vid: Uuid = t.attrs["sourcevolumeid"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| crate::error::AppError::Internal("template without a source".into()))?;
        let v = domain::volumes::load(st, model::VolumeId(vid))
            .await?
            .ok_or_else(|| ApiError::param("The source volume is gone"))?;
        let pool = v
            .pool_id
            .ok_or_else(|| ApiError::param("The source volume is not on primary storage"))?;
        let vm = match v.vm_id {
            Some(vm) => crate::handlers::vms::load(st, vm).await?,
            None => None,
        };
        if let Some(vm) = &vm {
            if vm.state != model::VmState::Stopped {
                return param_err(format!(
                    "VM {} is {}: the VM must be Stopped to create a template of its volume",
                    vm.display_name, vm.state
                ));
            }
        }
        let host = domain::volumes::stored_host(st, &v, vm.as_ref()).await?;
        let reply = st
            .hub
            .command_ready(
                host,
                proto::Command::UploadVolume {
                    pool_path: domain::vms::pool_path(st, pool).await?,
                    volume_id: v.id.into(),
                    kind: "template".into(),
                    id: t.id,
                },
                std::time::Duration::from_secs(3600),
            )
            .await?;
        file = reply["simulated"] != true;
    }
    // A kernel and initramfs the source's template booted with come along.
    if let Some(base) = t.attrs["sourcetemplateid"]
        .as_str()
        .and_then(|s| s.parse().ok())
    {
        let b = {
            let mut c = st.store.read().await?;
            db::infra_get(&mut c, Infra::Template, base).await?
        };
        if let Some(disk) = b.and_then(|b| b.attrs["path"].as_str().map(std::path::PathBuf::from)) {
            for ext in ["kernel", "initrd"] {
                let src = disk.with_extension(ext);
                if src.exists() && file {
                    copy(&src, &dest.with_extension(ext)).await?;
                }
            }
        }
    }
    let physical = tokio::fs::metadata(&dest)
        .await
        .map(|m| m.len())
        .unwrap_or(0);
    let path = dest.display().to_string();
    crate::images::set(st, t.id, |r| {
        r.state = "Download Complete".into();
        r.attrs["isready"] = json!(true);
        r.attrs["awaitingupload"] = json!(false);
        r.attrs["downloadprogress"] = json!(100);
        r.attrs["physicalsize"] = json!(physical);
        if file {
            r.attrs["path"] = json!(path);
        }
    })
    .await
    .map_err(crate::error::AppError::Internal)?;
    Ok(())
}

/// Copies a file of the image store through a `.part` (synced, then renamed).
async fn copy(src: &std::path::Path, dest: &std::path::Path) -> AppResult<()> {
    let internal = |e: std::io::Error| {
        crate::error::AppError::Internal(format!(
            "copying {} to {}: {e}",
            src.display(),
            dest.display()
        ))
    };
    if let Some(dir) = dest.parent() {
        tokio::fs::create_dir_all(dir).await.map_err(internal)?;
    }
    let part = dest.with_extension(format!(
        "{}.part",
        dest.extension().and_then(|e| e.to_str()).unwrap_or("")
    ));
    tokio::fs::copy(src, &part).await.map_err(internal)?;
    tokio::fs::File::open(&part)
        .await
        .map_err(internal)?
        .sync_all()
        .await
        .map_err(internal)?;
    tokio::fs::rename(&part, dest).await.map_err(internal)?;
    Ok(())
}
