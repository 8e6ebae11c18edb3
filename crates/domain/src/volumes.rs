//! Volume sagas: attach (record the attachment → create the volume where the running VM's
//! root is → plug it into the running VM; a stopped VM gets it created at its next start)
//! and detach (unplug from the running VM → record; past the unplug it completes).

use db::Attrs;
use db::VolumeRow;
use futures_util::future::BoxFuture;
use model::VmId;
use uuid::Uuid;

use crate::core::Core;
use crate::error::{DomainError, DomainResult};
use crate::jobs::JobRef;
use crate::saga::SagaData;
use crate::vms::{pool_path, volumes_of, SagaCx, SagaDef, Step, HOST_TIMEOUT};

/// Where a volume can go for a VM: its root volume's pool (reachable by its host).
pub async fn root_pool(st: &Core, vm: VmId) -> DomainResult<Option<Uuid>> {
    Ok(volumes_of(st, vm)
        .await?
        .into_iter()
        .find(|v| v.vol_type == "ROOT")
        .and_then(|v| v.pool_id))
}

/// Whether a VM whose root is on `root` can use a volume on `pool`.
pub async fn reachable(st: &Core, root: Option<Uuid>, pool: Uuid) -> DomainResult<bool> {
    let Some(root) = root else { return Ok(true) };
    if root == pool {
        return Ok(true);
    }
    let (a, b) = (
        crate::inventory::get(st, db::Infra::StoragePool, "storageid", root).await?,
        crate::inventory::get(st, db::Infra::StoragePool, "storageid", pool).await?,
    );
    Ok(b.kind == "ZONE"
        || (a.kind == "CLUSTER" && b.kind == "CLUSTER" && a.parent_id == b.parent_id))
}

pub async fn check_attach(
    st: &Core,
    v: &VolumeRow,
    vm: &db::VmRow,
    device: Option<i64>,
) -> DomainResult<()> {
    if v.vol_type == "ROOT" {
        return crate::error::refuse("Please specify a volume that is not a ROOT volume");
    }
    if v.vm_id.is_some() {
        return crate::error::refuse(format!(
            "Volume {} is already attached to a VM; detach it first",
            v.name
        ));
    }
    if !matches!(
        v.state,
        model::VolumeState::Allocated | model::VolumeState::Ready | model::VolumeState::Uploaded
    ) {
        return crate::error::refuse(format!("Volume {} is in state {}", v.name, v.state));
    }
    if v.account_id != vm.account_id {
        return crate::error::refuse("The volume and the VM must belong to the same account");
    }
    if v.zone_id != vm.zone_id {
        return crate::error::refuse("The volume and the VM must be in the same zone");
    }
    if !matches!(vm.state, model::VmState::Running | model::VmState::Stopped) {
        return Err(crate::vms::state_err(vm, "attach a volume to"));
    }
    crate::vmsnapshots::refuse_volume_change(st, vm.id).await?;
    if let Some(pool) = v.pool_id {
        if !reachable(st, root_pool(st, vm.id).await?, pool).await? {
            return crate::error::refuse(format!(
                "Volume {} is on primary storage the VM's hosts cannot reach",
                v.name
            ));
        }
    }
    let attached = volumes_of(st, vm.id).await?;
    let hv = vm
        .decode::<db::attrs::VmAttrs>()?
        .hypervisor
        .unwrap_or_else(|| "Simulator".into());
    let max = {
        let mut c = st.store.read().await?;
        db::hvcaps_list(&mut c, None, Some(&hv))
            .await?
            .into_iter()
            .find(|r| r.version == "default")
            .map(|r| r.max_data_volumes)
            .unwrap_or(6)
    };
    let data = attached.iter().filter(|x| x.vol_type == "DATADISK").count() as i64;
    if data >= max {
        return crate::error::refuse(format!(
            "Maximum number of data volumes ({max}) for a {hv} VM has been reached"
        ));
    }
    if let Some(d) = device {
        if d <= 0 || d == 3 || d > 25 {
            return crate::error::refuse(format!(
                "deviceid {d} is not allowed: use 1, 2 or 4 to 25 (0 is the root disk, 3 the CD-ROM)"
            ));
        }
        if attached.iter().any(|x| x.device_id == Some(d)) {
            return crate::error::refuse(format!(
                "deviceid {d} is already used by another volume of the VM"
            ));
        }
    }
    Ok(())
}

pub fn next_device(used: &[Option<i64>]) -> i64 {
    (1..=25)
        .filter(|d| *d != 3)
        .find(|d| !used.contains(&Some(*d)))
        .unwrap_or(26)
}

/// A volume, if it exists.
pub async fn load(st: &Core, id: model::VolumeId) -> DomainResult<Option<VolumeRow>> {
    let mut c = st.store.read().await?;
    Ok(db::volume_get(&mut c, id).await?)
}

pub async fn attach_saga(
    st: &std::sync::Arc<Core>,
    job: &JobRef,
    volume: Uuid,
    vm: VmId,
    device: Option<i64>,
) -> DomainResult<()> {
    let data = SagaData {
        vm: Some(vm),
        deviceid: device,
        ..Default::default()
    };
    crate::saga::run(st, job.id, &ATTACH, volume, data).await?;
    Ok(())
}

/// attach: record the attachment → create the volume where the running VM's root is →
/// plug it into the running VM. A stopped VM gets the volume created at its next start.
pub static ATTACH: SagaDef = SagaDef {
    first_step_records: false,
    kind: "attach",
    pivot: None,
    steps: &[
        Step {
            name: "record",
            run: attach_record,
            undo: Some(attach_unrecord),
        },
        Step {
            name: "create",
            run: attach_create,
            undo: Some(attach_uncreate),
        },
        Step {
            name: "plug",
            run: attach_plug,
            undo: Some(attach_unplug),
        },
    ],
};

pub async fn saga_vm(cx: &SagaCx) -> DomainResult<db::VmRow> {
    let id = cx
        .data
        .vm
        .ok_or_else(|| DomainError::Internal("attach saga without a VM".into()))?;
    crate::vms::load(&cx.st, id)
        .await?
        .ok_or_else(|| crate::vms::vm_gone(id))
}

pub async fn saga_volume(cx: &SagaCx) -> DomainResult<VolumeRow> {
    load(&cx.st, model::VolumeId(cx.resource))
        .await?
        .ok_or_else(|| DomainError::invalid_id("id", &cx.resource.to_string()))
}

pub fn attach_record(cx: &mut SagaCx) -> BoxFuture<'_, DomainResult<()>> {
    Box::pin(async move {
        let vm = saga_vm(cx).await?;
        let v = saga_volume(cx).await?;
        if v.vm_id == Some(vm.id) {
            return Ok(()); // resumed
        }
        check_attach(&cx.st, &v, &vm, cx.data.deviceid).await?;
        let used: Vec<Option<i64>> = volumes_of(&cx.st, vm.id)
            .await?
            .iter()
            .map(|x| x.device_id)
            .collect();
        let dev = cx.data.deviceid.unwrap_or_else(|| next_device(&used));
        let mut tx = cx.st.store.begin().await?;
        db::volume_attach(&mut tx, v.id, Some((vm.id, dev))).await?;
        tx.commit().await?;
        cx.data.attached = true;
        Ok(())
    })
}

pub fn attach_unrecord(cx: &mut SagaCx) -> BoxFuture<'_, DomainResult<()>> {
    Box::pin(async move {
        if cx.data.attached {
            let mut tx = cx.st.store.begin().await?;
            db::volume_attach(&mut tx, model::VolumeId(cx.resource), None).await?;
            tx.commit().await?;
        }
        Ok(())
    })
}

pub fn attach_create(cx: &mut SagaCx) -> BoxFuture<'_, DomainResult<()>> {
    Box::pin(async move {
        let vm = saga_vm(cx).await?;
        let v = saga_volume(cx).await?;
        let (Some(host), model::VmState::Running) = (vm.host_id, vm.state) else {
            return Ok(());
        };
        if v.state == model::VolumeState::Ready {
            return Ok(());
        }
        let pool = root_pool(&cx.st, vm.id).await?.ok_or_else(|| {
            DomainError::Internal(format!("running VM {} has no root pool", vm.id))
        })?;
        cx.data.host = Some(host);
        cx.data.created = true;
        let path = pool_path(&cx.st, pool).await?;
        let mut tx = cx.st.store.begin().await?;
        db::volume_transition(
            &mut tx,
            v.id,
            &[
                model::VolumeState::Allocated,
                model::VolumeState::Uploaded,
                model::VolumeState::Creating,
            ],
            model::VolumeState::Creating,
            Some(Some((pool, String::new()))),
        )
        .await?;
        tx.commit().await?;
        let attrs = v.decode::<db::attrs::VolumeAttrs>()?;
        let secret = passphrase(&cx.st, &v, None, true).await?;
        let reply = cx
            .st
            .hub
            .command_ready(
                host,
                proto::Command::CreateVolume {
                    volume: Box::new(proto::VolumeSpec {
                        volume_id: v.id.into(),
                        pool_path: path.clone(),
                        size_bytes: v.size.max(0) as u64,
                        template_id: None,
                        snapshot_id: attrs.snapshot_id,
                        image_format: attrs.image_file.as_ref().and(attrs.image_format.clone()),
                        secret,
                    }),
                },
                HOST_TIMEOUT,
            )
            .await?;
        let vpath = reply["path"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| format!("{path}/{}", v.id));
        let mut tx = cx.st.store.begin().await?;
        db::volume_transition(
            &mut tx,
            v.id,
            &[model::VolumeState::Creating],
            model::VolumeState::Ready,
            Some(Some((pool, vpath))),
        )
        .await?;
        db::volume_set_host(&mut tx, v.id, Some(host)).await?;
        tx.commit().await?;
        Ok(())
    })
}

pub fn attach_uncreate(cx: &mut SagaCx) -> BoxFuture<'_, DomainResult<()>> {
    Box::pin(async move {
        if !cx.data.created {
            return Ok(());
        }
        let v = saga_volume(cx).await?;
        let host = cx
            .data
            .host
            .ok_or_else(|| DomainError::Internal("attach saga without a host".into()))?;
        if let Some(pool) = v.pool_id {
            let path = pool_path(&cx.st, pool).await?;
            cx.st
                .hub
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
        let mut tx = cx.st.store.begin().await?;
        db::volume_transition(
            &mut tx,
            v.id,
            &[model::VolumeState::Creating, model::VolumeState::Ready],
            model::VolumeState::Allocated,
            Some(None),
        )
        .await?;
        db::volume_set_host(&mut tx, v.id, None).await?;
        tx.commit().await?;
        Ok(())
    })
}

/// Whether a volume's offering asks for encryption: a root volume's service offering
/// (`encryptroot`), a data volume's disk offering (`encrypt`).
pub async fn offering_encrypts(
    st: &Core,
    v: &VolumeRow,
    service_offering: Option<Uuid>,
) -> DomainResult<bool> {
    let (kind, id, key) = if v.vol_type == "ROOT" {
        (db::Infra::ServiceOffering, service_offering, "encryptroot")
    } else {
        (db::Infra::DiskOffering, v.disk_offering_id, "encrypt")
    };
    let Some(id) = id else { return Ok(false) };
    let mut c = st.store.read().await?;
    Ok(db::infra_get(&mut c, kind, id)
        .await?
        .is_some_and(|o| o.attrs.get(key).and_then(serde_json::Value::as_bool) == Some(true)))
}

/// Whether a volume is encrypted (its file was made with a passphrase).
pub fn is_encrypted(v: &VolumeRow) -> bool {
    v.decode::<db::attrs::VolumeAttrs>()
        .map(|a| a.passphrase.is_some())
        .unwrap_or(false)
}

/// A volume's passphrase, decrypted. With `create` (its file is about to be made) and an
/// offering that asks for encryption, a new random one is stored first — so a file is
/// never made encrypted under a key the database does not hold.
pub async fn passphrase(
    st: &Core,
    v: &VolumeRow,
    service_offering: Option<Uuid>,
    create: bool,
) -> DomainResult<Option<proto::Secret>> {
    let attrs = v.decode::<db::attrs::VolumeAttrs>()?;
    if let Some(p) = attrs.passphrase {
        return Ok(Some(proto::Secret(st.key.decrypt(&p)?)));
    }
    if !create || !offering_encrypts(st, v, service_offering).await? {
        return Ok(None);
    }
    if attrs.snapshot_id.is_some() || attrs.image_file.is_some() {
        return Err(DomainError::refused(
            crate::error::ErrorKind::Param,
            "An encrypted volume cannot be made from a snapshot or an upload",
        ));
    }
    let key: String = {
        use rand::Rng;
        let b: [u8; 32] = rand::thread_rng().gen();
        b.iter().map(|x| format!("{x:02x}")).collect()
    };
    let mut doc = v.attrs.clone();
    if !doc.is_object() {
        doc = serde_json::json!({});
    }
    doc["passphrase"] = serde_json::json!(st.key.encrypt(&key)?);
    let mut tx = st.store.begin().await?;
    db::volume_update(&mut tx, v.id, &v.name, &doc).await?;
    tx.commit().await?;
    Ok(Some(proto::Secret(key)))
}

pub fn disk_of(v: &VolumeRow) -> proto::DiskSpec {
    proto::DiskSpec {
        volume_id: v.id.into(),
        path: v.path.clone().unwrap_or_default(),
        device_id: v.device_id.unwrap_or(1).clamp(0, u32::MAX as i64) as u32,
        ..Default::default()
    }
}

/// A volume's disk as its VM's host runs it: its offering's I/O limits and cache mode (a
/// root volume's are its VM's service offering's, a data volume's its disk offering's).
pub async fn disk_with_io(
    st: &Core,
    v: &VolumeRow,
    service_offering: Uuid,
) -> DomainResult<proto::DiskSpec> {
    let (kind, id) = if v.vol_type == "ROOT" {
        (db::Infra::ServiceOffering, Some(service_offering))
    } else {
        (db::Infra::DiskOffering, v.disk_offering_id)
    };
    let mut d = disk_of(v);
    d.secret = passphrase(st, v, Some(service_offering), false).await?;
    let Some(id) = id else {
        return Ok(d);
    };
    let row = {
        let mut c = st.store.read().await?;
        db::infra_get(&mut c, kind, id).await?
    };
    if let Some(r) = row {
        let n = |k: &str| r.attrs.get(k).and_then(serde_json::Value::as_u64);
        let l = proto::DiskLimits {
            bytes_read: n("bytesreadrate"),
            bytes_read_max: n("bytesreadratemax"),
            bytes_read_max_length: n("bytesreadratemaxlength"),
            bytes_write: n("byteswriterate"),
            bytes_write_max: n("byteswriteratemax"),
            bytes_write_max_length: n("byteswriteratemaxlength"),
            iops_read: n("iopsreadrate"),
            iops_read_max: n("iopsreadratemax"),
            iops_read_max_length: n("iopsreadratemaxlength"),
            iops_write: n("iopswriterate"),
            iops_write_max: n("iopswriteratemax"),
            iops_write_max_length: n("iopswriteratemaxlength"),
        };
        d.limits = (l != proto::DiskLimits::default()).then_some(l);
        d.cache = r
            .attrs
            .get("cachemode")
            .and_then(serde_json::Value::as_str)
            .map(str::to_string);
    }
    Ok(d)
}

pub fn attach_plug(cx: &mut SagaCx) -> BoxFuture<'_, DomainResult<()>> {
    Box::pin(async move {
        let vm = saga_vm(cx).await?;
        let v = saga_volume(cx).await?;
        let (Some(host), model::VmState::Running) = (vm.host_id, vm.state) else {
            return Ok(());
        };
        cx.data.plugged_on = Some(host);
        cx.st
            .hub
            .command_ready(
                host,
                proto::Command::AttachDisk {
                    vm: vm.instance_name.clone(),
                    disk: Box::new(disk_with_io(&cx.st, &v, vm.service_offering_id).await?),
                },
                HOST_TIMEOUT,
            )
            .await?;
        Ok(())
    })
}

pub fn attach_unplug(cx: &mut SagaCx) -> BoxFuture<'_, DomainResult<()>> {
    Box::pin(async move {
        let Some(host) = cx.data.plugged_on else {
            return Ok(());
        };
        let vm = saga_vm(cx).await?;
        cx.st
            .hub
            .command_ready(
                host,
                proto::Command::DetachDisk {
                    vm: vm.instance_name,
                    volume_id: cx.resource,
                },
                HOST_TIMEOUT,
            )
            .await?;
        Ok(())
    })
}

/// detach: unplug from the running VM → record. Past the unplug it completes.
pub static DETACH: SagaDef = SagaDef {
    first_step_records: false,
    kind: "detach",
    pivot: Some(0),
    steps: &[
        Step {
            name: "unplug",
            run: detach_unplug,
            undo: None,
        },
        Step {
            name: "record",
            run: detach_record,
            undo: None,
        },
    ],
};

pub fn detach_unplug(cx: &mut SagaCx) -> BoxFuture<'_, DomainResult<()>> {
    Box::pin(async move {
        let v = saga_volume(cx).await?;
        let Some(vm_id) = v.vm_id else {
            return Ok(());
        };
        let Some(vm) = crate::vms::load(&cx.st, vm_id).await? else {
            return Ok(());
        };
        if let (Some(host), model::VmState::Running) = (vm.host_id, vm.state) {
            cx.st
                .hub
                .command_ready(
                    host,
                    proto::Command::DetachDisk {
                        vm: vm.instance_name,
                        volume_id: v.id.into(),
                    },
                    HOST_TIMEOUT,
                )
                .await?;
        }
        Ok(())
    })
}

pub fn detach_record(cx: &mut SagaCx) -> BoxFuture<'_, DomainResult<()>> {
    Box::pin(async move {
        let mut tx = cx.st.store.begin().await?;
        db::volume_attach(&mut tx, model::VolumeId(cx.resource), None).await?;
        tx.commit().await?;
        Ok(())
    })
}

/// A connected host that reaches a volume no running VM uses: the host that created it, else
/// the one its VM last ran on (a refusal, 534, when neither is connected).
pub async fn stored_host(
    st: &Core,
    v: &VolumeRow,
    vm: Option<&db::VmRow>,
) -> DomainResult<model::HostId> {
    let candidates: Vec<model::HostId> = v
        .host_id
        .into_iter()
        .chain(vm.and_then(|vm| vm.last_host_id))
        .collect();
    st.hub.first_reachable(&candidates).await.ok_or_else(|| {
        DomainError::refused(
            crate::error::ErrorKind::Unavailable,
            format!(
                "No host that can reach volume {}'s storage is connected",
                v.name
            ),
        )
    })
}
