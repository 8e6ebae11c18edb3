//! Volumes: listVolumes. Root volumes are created with their VM (deployVirtualMachine) on
//! the primary storage placement chose, when the VM first starts; a deploy with a disk offering
//! adds a data volume the same way.

use std::collections::HashMap;

use api::{list_body, ApiError, Args};
use db::{Infra, VolumeRow};
use model::identity::display_domain_path;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::access;
use crate::context::OpContext;
use crate::error::AppResult;
use crate::state::State;

mod destroy;
mod ops;
mod upload;

pub use destroy::{cleanup, destroy_prepare, destroy_run, recover};
pub use ops::*;
pub use upload::{upload_params, upload_prepare, upload_run};

pub(crate) struct Names {
    zones: HashMap<Uuid, String>,
    pools: HashMap<Uuid, String>,
    offerings: HashMap<Uuid, String>,
    vms: HashMap<model::VmId, db::VmRow>,
}

pub(crate) async fn names(st: &State, rows: &[VolumeRow]) -> AppResult<Names> {
    use super::zones::names as n;
    let zones = n(st, Infra::Zone, rows.iter().map(|v| v.zone_id)).await?;
    let pools = n(
        st,
        Infra::StoragePool,
        rows.iter().filter_map(|v| v.pool_id),
    )
    .await?;
    let offerings = n(
        st,
        Infra::DiskOffering,
        rows.iter().filter_map(|v| v.disk_offering_id),
    )
    .await?;
    // The page's VMs in one query, not one per volume.
    let mut ids: Vec<model::VmId> = rows.iter().filter_map(|v| v.vm_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let vms: HashMap<model::VmId, db::VmRow> = if ids.is_empty() {
        HashMap::new()
    } else {
        let mut c = st.store.read().await?;
        let f = db::VmFilter {
            ids,
            ..Default::default()
        };
        db::vm_list(&mut c, &f)
            .await?
            .0
            .into_iter()
            .map(|v| (v.id, v))
            .collect()
    };
    Ok(Names {
        zones,
        pools,
        offerings,
        vms,
    })
}

/// A volume as listVolumes answers it (CloudStack's `VolumeResponse`): every field is named
/// in `api`'s `VOLUME` list (a test checks), in the order clients have always seen them;
/// absent values are left out.
#[derive(serde::Serialize)]
pub(crate) struct VolumeView<'a> {
    id: model::VolumeId,
    name: &'a str,
    #[serde(rename = "type")]
    vol_type: &'a str,
    state: model::VolumeState,
    size: i64,
    zoneid: Uuid,
    #[serde(skip_serializing_if = "Option::is_none")]
    zonename: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    virtualmachineid: Option<model::VmId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    vmname: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    vmdisplayname: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    vmstate: Option<model::VmState>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hypervisor: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    deviceid: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    attached: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    diskofferingid: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    diskofferingname: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    templateid: Option<Uuid>,
    /// Admins only.
    #[serde(skip_serializing_if = "Option::is_none")]
    storageid: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    storage: Option<&'a str>,
    storagetype: &'static str,
    /// Admins only.
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<&'a str>,
    provisioningtype: &'static str,
    account: &'a str,
    domainid: model::DomainId,
    domain: &'a str,
    domainpath: String,
    created: String,
    destroyed: bool,
    displayvolume: bool,
    deleteprotection: bool,
    /// `LUKS` for an encrypted volume.
    #[serde(skip_serializing_if = "Option::is_none")]
    encryptformat: Option<&'static str>,
    tags: Value,
}

impl<'a> VolumeView<'a> {
    pub(crate) fn of(ctx: &OpContext, v: &'a VolumeRow, n: &'a Names, tags: &[db::TagRow]) -> Self {
        let vm = v.vm_id.and_then(|id| n.vms.get(&id));
        let pool = v.pool_id;
        VolumeView {
            id: v.id,
            name: &v.name,
            vol_type: &v.vol_type,
            state: v.state,
            size: v.size,
            zoneid: v.zone_id,
            zonename: n.zones.get(&v.zone_id).map(String::as_str),
            virtualmachineid: v.vm_id,
            vmname: vm.map(|vm| vm.name.as_str()),
            vmdisplayname: vm.map(|vm| vm.display_name.as_str()),
            vmstate: vm.map(|vm| vm.state),
            hypervisor: vm.map(|vm| vm.attrs["hypervisor"].as_str().unwrap_or("Simulator")),
            deviceid: v.vm_id.and(v.device_id),
            attached: v.attached.map(api::time::format_ms),
            diskofferingid: v.disk_offering_id,
            diskofferingname: v
                .disk_offering_id
                .and_then(|d| n.offerings.get(&d))
                .map(String::as_str),
            templateid: v.template_id,
            storageid: pool.filter(|_| ctx.is_admin()),
            storage: pool.and_then(|p| n.pools.get(&p)).map(String::as_str),
            storagetype: "shared",
            path: v.path.as_deref().filter(|_| ctx.is_admin()),
            provisioningtype: "thin",
            account: &v.account_name,
            domainid: v.domain_id,
            domain: &v.domain_name,
            domainpath: display_domain_path(&v.domain_path),
            created: api::time::format_ms(v.created),
            destroyed: v.state == model::VolumeState::Destroy,
            displayvolume: v.attrs["displayvolume"].as_bool().unwrap_or(true),
            deleteprotection: v.attrs["deleteprotection"] == true,
            encryptformat: v.attrs["passphrase"].is_string().then_some("LUKS"),
            tags: super::tags::embedded(tags, v.id.into()),
        }
    }
}

pub(crate) fn view(ctx: &OpContext, v: &VolumeRow, n: &Names, tags: &[db::TagRow]) -> Value {
    serde_json::to_value(VolumeView::of(ctx, v, n, tags)).unwrap_or(Value::Null)
}

pub async fn list(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let scope = access::owner_scope(st, ctx, args).await?;
    let mut f = db::VolumeFilter {
        scope: Some(scope),
        offset: args.page.offset,
        limit: args.page.limit,
        ..Default::default()
    };
    if let Some(id) = args.uuid("id") {
        f.ids.push(model::VolumeId(id));
    }
    for s in args.list("ids").unwrap_or_default() {
        f.ids.push(
            s.trim()
                .parse()
                .map_err(|_| ApiError::invalid_id("ids", s))?,
        );
    }
    f.name = args.text("name").map(str::to_string);
    f.vm_id = args.uuid("virtualmachineid").map(model::VmId);
    f.vol_type = args.text("type").map(str::to_string);
    if let Some(s) = args.text("state") {
        match model::VolumeState::parse_loose(s) {
            Some(v) => f.state = Some(v),
            None => f.none = true,
        }
    }
    f.zone_id = args.uuid("zoneid");
    f.disk_offering_id = args.uuid("diskofferingid");
    f.keyword = args.text("keyword").map(str::to_string);
    if ctx.is_admin() {
        f.pool_id = args.uuid("storageid");
    }
    let (rows, total) = {
        let mut c = st.store.read().await?;
        db::volume_list(&mut c, &f).await?
    };
    let n = names(st, &rows).await?;
    let ids: Vec<Uuid> = rows.iter().map(|v| v.id.0).collect();
    let tags = super::tags::for_resources(st, &ids).await?;
    Ok(list_body(
        "volume",
        total,
        rows.iter().map(|v| view(ctx, v, &n, &tags)).collect(),
    ))
}

/// listVolumesMetrics: the volumes of listVolumes with their I/O, from the latest statistics
/// of the running VMs they are attached to (`diskkbsread`, `diskkbswrite`, `diskioread`,
/// `diskiowrite`, `diskiopstotal`), and their size in GB.
pub async fn list_metrics(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let mut body = list(st, ctx, args).await?;
    let Some(items) = body.get_mut("volume").and_then(Value::as_array_mut) else {
        return Ok(body);
    };
    let vm_ids: Vec<model::VmId> = items
        .iter()
        .filter_map(|v| v["virtualmachineid"].as_str()?.parse().ok())
        .map(model::VmId)
        .collect();
    let vms = if vm_ids.is_empty() {
        Vec::new()
    } else {
        let mut c = st.store.read().await?;
        let mut out = Vec::new();
        for chunk in vm_ids.chunks(500) {
            out.extend(
                db::vm_list(
                    &mut c,
                    &db::VmFilter {
                        ids: chunk.to_vec(),
                        ..Default::default()
                    },
                )
                .await?
                .0,
            );
        }
        out
    };
    let stats = domain::guestdata::stats_of(st, &vms.iter().collect::<Vec<_>>()).await?;
    let io: std::collections::HashMap<Uuid, model::stats::DiskIo> = stats
        .values()
        .flat_map(|s| s.disks.iter().map(|d| (d.volume_id, d.clone())))
        .collect();
    for v in items.iter_mut() {
        let id: Option<Uuid> = v["id"].as_str().and_then(|s| s.parse().ok());
        let d = id.and_then(|i| io.get(&i)).cloned().unwrap_or_default();
        v["diskkbsread"] = json!(d.read_bytes / 1024);
        v["diskkbswrite"] = json!(d.write_bytes / 1024);
        v["diskioread"] = json!(d.read_ops);
        v["diskiowrite"] = json!(d.write_ops);
        v["diskiopstotal"] = json!(d.read_ops + d.write_ops);
        let size = v["size"].as_i64().unwrap_or(0);
        v["sizegb"] = json!(format!("{:.2} GB", size as f64 / (1u64 << 30) as f64));
    }
    Ok(body)
}

/// Operations Canopy does not carry out on encrypted volumes (their files open only with
/// the volume's key: snapshots, extraction, templates, resizing and moving them).
pub(crate) fn refuse_encrypted(v: &VolumeRow, what: &str) -> AppResult<()> {
    if domain::volumes::is_encrypted(v) {
        return crate::error::param_err(format!(
            "{what} is not supported for encrypted volumes: volume {} is encrypted",
            v.name
        ));
    }
    Ok(())
}

/// As [`refuse_encrypted`], for every volume of a VM.
pub(crate) async fn refuse_encrypted_vm(st: &State, vm: model::VmId, what: &str) -> AppResult<()> {
    for v in domain::vms::volumes_of(st, vm).await? {
        refuse_encrypted(&v, what)?;
    }
    Ok(())
}
