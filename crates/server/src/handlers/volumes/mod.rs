//! Volumes: listVolumes. Root volumes are created with their VM (deployVirtualMachine) on
//! the primary storage placement chose, when the VM first starts; a deploy with a disk offering
//! adds a data volume the same way.

use std::collections::HashMap;

use api::{list_body, ApiError, Args};
use db::{Infra, VolumeRow};
use model::identity::display_domain_path;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::access;
use crate::context::OpContext;
use crate::error::AppResult;
use crate::state::State;

mod ops;

pub use ops::*;

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

pub(crate) fn view(ctx: &OpContext, v: &VolumeRow, n: &Names, tags: &[db::TagRow]) -> Value {
    let mut m = Map::new();
    let mut put = |k: &str, val: Value| {
        m.insert(k.to_string(), val);
    };
    put("id", json!(v.id));
    put("name", json!(v.name));
    put("type", json!(v.vol_type));
    put("state", json!(v.state));
    put("size", json!(v.size));
    put("zoneid", json!(v.zone_id));
    if let Some(z) = n.zones.get(&v.zone_id) {
        put("zonename", json!(z));
    }
    if let Some(vm_id) = v.vm_id {
        put("virtualmachineid", json!(vm_id));
        if let Some(vm) = n.vms.get(&vm_id) {
            put("vmname", json!(vm.name));
            put("vmdisplayname", json!(vm.display_name));
            put("vmstate", json!(vm.state));
            put(
                "hypervisor",
                json!(vm.attrs["hypervisor"].as_str().unwrap_or("Simulator")),
            );
        }
        if let Some(d) = v.device_id {
            put("deviceid", json!(d));
        }
    }
    if let Some(a) = v.attached {
        put("attached", json!(api::time::format_ms(a)));
    }
    if let Some(d) = v.disk_offering_id {
        put("diskofferingid", json!(d));
        if let Some(name) = n.offerings.get(&d) {
            put("diskofferingname", json!(name));
        }
    }
    if let Some(t) = v.template_id {
        put("templateid", json!(t));
    }
    if let Some(p) = v.pool_id {
        if ctx.is_admin() {
            put("storageid", json!(p));
        }
        if let Some(name) = n.pools.get(&p) {
            put("storage", json!(name));
        }
    }
    put("storagetype", json!("shared"));
    if ctx.is_admin() {
        if let Some(p) = &v.path {
            put("path", json!(p));
        }
    }
    put("provisioningtype", json!("thin"));
    put("account", json!(v.account_name));
    put("domainid", json!(v.domain_id));
    put("domain", json!(v.domain_name));
    put("domainpath", json!(display_domain_path(&v.domain_path)));
    put("created", json!(api::time::format_ms(v.created)));
    put("destroyed", json!(v.state == model::VolumeState::Destroy));
    put("displayvolume", json!(true));
    put("tags", super::tags::embedded(tags, v.id.into()));
    Value::Object(m)
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
