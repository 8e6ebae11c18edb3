//! Primary storage pools and image stores.
//!
//! A primary pool is a directory present on every host of its scope: a shared mount
//! (`sharedmountpoint:///PATH`, e.g. an NFS export mounted by the operator) or a local path
//! (`filesystem:///PATH`). Its capacity is measured by an agent of the scope when the pool is
//! created or updated. An image store is a directory on the management server
//! (`file:///PATH`); agents will fetch images from it over the agent endpoint.

use std::time::Duration;

use api::{list_body, success_body, ApiError, Args, ErrorCode};
use db::{HostFilter, Infra, InfraFilter, InfraRow};
use proto::Command;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::context::OpContext;
use crate::error::{param_err, AppResult};
use crate::events::Event;
use crate::handlers::zones::{attr_str, get, names};
use crate::jobs::{JobPlan, JobRef};
use crate::state::State;

/// (pool type, path) of a primary storage URL.
fn pool_url(url: &str) -> AppResult<(&'static str, String)> {
    let lower = url.to_ascii_lowercase();
    let (kind, rest) = if lower.starts_with("sharedmountpoint://") {
        ("SharedMountPoint", &url["sharedmountpoint://".len()..])
    } else if lower.starts_with("filesystem://") {
        ("Filesystem", &url["filesystem://".len()..])
    } else if lower.starts_with("nfs://") {
        return param_err("NFS pools are not mounted by Canopy: mount the export on every host of the scope and use sharedmountpoint:///MOUNTPOINT");
    } else {
        return param_err(format!(
            "Unsupported storage URL {url}: use sharedmountpoint:///PATH or filesystem:///PATH"
        ));
    };
    // `sharedmountpoint://host/path` (CloudStack's form) keeps only the path.
    let path = if rest.starts_with('/') {
        rest.to_string()
    } else {
        rest.split_once('/')
            .map(|(_, p)| format!("/{p}"))
            .unwrap_or_default()
    };
    if path.len() < 2 || path.contains("..") {
        return param_err(format!(
            "Invalid storage path in {url}: give an absolute path"
        ));
    }
    Ok((kind, path))
}

fn n(r: &InfraRow, k: &str) -> u64 {
    r.attrs.get(k).and_then(|v| v.as_u64()).unwrap_or(0)
}

async fn pool_views(st: &State, rows: &[InfraRow]) -> AppResult<Vec<Value>> {
    let zn = names(st, Infra::Zone, rows.iter().map(|r| r.zone_id)).await?;
    let cn = names(
        st,
        Infra::Cluster,
        rows.iter()
            .filter(|r| r.kind == "CLUSTER")
            .filter_map(|r| r.parent_id),
    )
    .await?;
    let pods: Vec<Uuid> = rows
        .iter()
        .filter_map(|r| attr_str(r, "podid").and_then(|p| p.parse().ok()))
        .collect();
    let pn = names(st, Infra::Pod, pods.into_iter()).await?;
    Ok(rows
        .iter()
        .map(|r| {
            let mut m = Map::new();
            m.insert("id".into(), json!(r.id));
            m.insert("name".into(), json!(r.name));
            m.insert("zoneid".into(), json!(r.zone_id));
            if let Some(z) = zn.get(&r.zone_id) {
                m.insert("zonename".into(), json!(z));
            }
            if let Some(p) = attr_str(r, "podid") {
                if let Some(name) = p.parse::<Uuid>().ok().and_then(|id| pn.get(&id)) {
                    m.insert("podname".into(), json!(name));
                }
                m.insert("podid".into(), json!(p));
            }
            if r.kind == "CLUSTER" {
                if let Some(c) = r.parent_id {
                    m.insert("clusterid".into(), json!(c));
                    if let Some(name) = cn.get(&c) {
                        m.insert("clustername".into(), json!(name));
                    }
                }
            }
            m.insert("state".into(), json!(r.state));
            m.insert("scope".into(), json!(r.kind));
            for k in ["type", "path", "hypervisor", "provider", "url"] {
                if let Some(v) = attr_str(r, k) {
                    m.insert(k.into(), json!(v));
                }
            }
            m.insert("ipaddress".into(), json!("localhost"));
            m.insert("disksizetotal".into(), json!(n(r, "capacity_bytes")));
            m.insert("disksizeused".into(), json!(n(r, "used_bytes")));
            m.insert("disksizeallocated".into(), json!(n(r, "allocated_bytes")));
            let tags: Vec<&str> = r.attrs["tags"]
                .as_array()
                .map(|a| a.iter().filter_map(|t| t.as_str()).collect())
                .unwrap_or_default();
            m.insert("tags".into(), json!(tags.join(",")));
            m.insert(
                "overprovisionfactor".into(),
                json!(st
                    .settings
                    .float("storage.overprovisioning.factor")
                    .to_string()),
            );
            m.insert("created".into(), json!(api::time::format_ms(r.created)));
            Value::Object(m)
        })
        .collect())
}

/// Asks a connected agent of the pool's scope how large the pool's filesystem is.
async fn measure(
    st: &State,
    zone: Uuid,
    cluster: Option<Uuid>,
    path: &str,
) -> AppResult<(u64, u64)> {
    let hosts = {
        let mut c = st.store.read().await?;
        db::host_list(
            &mut c,
            &HostFilter {
                zone_id: Some(zone),
                cluster_id: cluster,
                status: Some(model::HostStatus::Up),
                // One connected host is enough; do not read a 20,000-host cluster for it.
                limit: Some(32),
                ..Default::default()
            },
        )
        .await?
        .0
    };
    // A host connected here, else one connected to another server.
    let mut pick = hosts.iter().find(|h| st.hub.is_connected(h.id));
    for h in &hosts {
        if pick.is_some() {
            break;
        }
        if st.hub.reachable(h.id).await {
            pick = Some(h);
        }
    }
    let Some(h) = pick else {
        return Err(ApiError::internal("No host is up in the storage pool's scope to reach the pool's path; add and connect a host first").into());
    };
    let r = st
        .hub
        .command(
            h.id,
            Command::StorageStat {
                path: path.to_string(),
            },
            Duration::from_secs(15),
        )
        .await
        .map_err(|e| {
            let text = match e {
                domain::DomainError::Refused { text, .. } => text,
                other => other.to_string(),
            };
            ApiError::new(
                ErrorCode::ResourceUnavailable,
                format!("Host {} cannot use the pool path {path}: {text}", h.name),
            )
        })?;
    Ok((
        r["capacity_bytes"].as_u64().unwrap_or(0),
        r["used_bytes"].as_u64().unwrap_or(0),
    ))
}

pub async fn create_pool(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let zone = get(st, Infra::Zone, "zoneid", args.required_id("zoneid")?).await?;
    let name = args.required_str("name")?.trim().to_string();
    if name.is_empty() {
        return param_err("Storage pool name can't be empty");
    }
    let (kind, path) = pool_url(args.required_str("url")?)?;
    let scope = match args.text("scope") {
        None => {
            if args.has("clusterid") {
                "CLUSTER"
            } else {
                "ZONE"
            }
        }
        Some(s) if s.eq_ignore_ascii_case("cluster") => "CLUSTER",
        Some(s) if s.eq_ignore_ascii_case("zone") => "ZONE",
        Some(s) => return param_err(format!("Invalid scope {s}: use cluster or zone")),
    };
    let (cluster, pod, hypervisor) = if scope == "CLUSTER" {
        let Some(cid) = args.uuid("clusterid") else {
            return param_err("clusterid is required for a cluster-scoped storage pool");
        };
        let c = get(st, Infra::Cluster, "clusterid", cid).await?;
        if c.zone_id != zone.id {
            return param_err(format!(
                "Cluster {} doesn't belong to zone {}",
                c.id, zone.id
            ));
        }
        if let Some(p) = args.uuid("podid") {
            if c.parent_id != Some(p) {
                return param_err(format!("Cluster {} doesn't belong to pod {p}", c.id));
            }
        }
        (Some(c.id), c.parent_id, c.kind)
    } else {
        let hv = match args.text("hypervisor") {
            Some(h) if h.eq_ignore_ascii_case("kvm") => "KVM",
            Some(h) if h.eq_ignore_ascii_case("simulator") => "Simulator",
            Some(h) => {
                return param_err(format!(
                    "Unsupported hypervisor {h} for a zone-wide pool: KVM or Simulator"
                ))
            }
            None => return param_err("hypervisor is required for a zone-wide storage pool"),
        };
        (None, None, hv.to_string())
    };
    let (mut capacity, used) = measure(st, zone.id, cluster, &path).await?;
    // An operator-given capacity is what may be provisioned, whatever the filesystem says.
    if let Some(cap) = args.int("capacitybytes") {
        if cap <= 0 {
            return param_err("capacitybytes must be positive");
        }
        capacity = cap as u64;
    }
    let capacity_fixed = args.has("capacitybytes");
    let tags: Vec<String> = args
        .text("tags")
        .map(|t| {
            t.split(',')
                .map(|x| x.trim().to_string())
                .filter(|x| !x.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let mut attrs = json!({
        "url": args.required_str("url")?, "type": kind, "path": path, "hypervisor": hypervisor,
        "provider": args.text("provider").unwrap_or("DefaultPrimary"), "tags": tags,
        "capacity_bytes": capacity, "used_bytes": used, "allocated_bytes": 0, "capacity_fixed": capacity_fixed,
    });
    if let Some(p) = pod {
        attrs["podid"] = json!(p);
    }
    let row = InfraRow {
        id: Uuid::new_v4(),
        zone_id: zone.id,
        parent_id: Some(cluster.unwrap_or(zone.id)),
        name: name.clone(),
        kind: scope.into(),
        state: "Up".into(),
        domain_id: None,
        attrs,
        created: 0,
    };
    let mut tx = st.store.begin().await?;
    db::infra_insert(&mut tx, Infra::StoragePool, &row).await?;
    Event::new(
        ctx,
        "STORAGE.POOL.CREATE",
        format!("Storage pool {name} created"),
    )
    .resource(row.id, "StoragePool", Some(&name))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    let row = get(st, Infra::StoragePool, "id", row.id).await?;
    Ok(json!({ "storagepool": pool_views(st, std::slice::from_ref(&row)).await?.pop() }))
}

/// CloudStack's `StoragePoolStatus` values (listStoragePools `status`).
const POOL_STATUSES: &[&str] = &[
    "Initial",
    "Initialized",
    "Creating",
    "Attaching",
    "Up",
    "PrepareForMaintenance",
    "ErrorInPrepareForMaintenance",
    "CancelMaintenance",
    "Maintenance",
    "ErrorInMaintenance",
    "Disabled",
    "Removed",
];

pub async fn list_pools(st: &State, _ctx: &OpContext, args: &Args) -> AppResult<Value> {
    // As CloudStack: an unknown scope or status is an invalid parameter, not an empty list.
    let scope = match args.text("scope").map(str::trim) {
        Some(sc) if ["ZONE", "CLUSTER", "HOST"].contains(&sc.to_ascii_uppercase().as_str()) => {
            Some(sc.to_ascii_uppercase())
        }
        Some(sc) => {
            return param_err(format!(
                "Invalid scope type {sc}: use ZONE, CLUSTER or HOST"
            ))
        }
        None => None,
    };
    let status = match args.text("status").map(str::trim) {
        Some(x) => match POOL_STATUSES.iter().find(|s| s.eq_ignore_ascii_case(x)) {
            Some(s) => Some(s.to_string()),
            None => {
                return param_err(format!(
                    "Invalid status {x}: use one of {}",
                    POOL_STATUSES.join(", ")
                ))
            }
        },
        None => None,
    };
    let f = InfraFilter {
        ids: args.uuid("id").map(|i| vec![i]),
        zone_id: args.uuid("zoneid"),
        parent_id: args.uuid("clusterid"),
        name: args.text("name").map(str::to_string),
        kind: scope,
        state: status,
        keyword: args.text("keyword").map(str::to_string),
        ..Default::default()
    };
    let rows = {
        let mut c = st.store.read().await?;
        db::infra_list(&mut c, Infra::StoragePool, &f).await?.0
    };
    let mut rows: Vec<InfraRow> = rows
        .into_iter()
        .filter(|r| {
            args.uuid("podid")
                .map(|p| attr_str(r, "podid") == Some(p.to_string()))
                .unwrap_or(true)
        })
        .filter(|r| {
            args.text("path")
                .map(|p| attr_str(r, "path").as_deref() == Some(p))
                .unwrap_or(true)
        })
        // Canopy's pools are directories on their hosts: their address is the host's own.
        .filter(|_| {
            args.text("ipaddress")
                .map(|a| matches!(a.trim(), "localhost" | "127.0.0.1"))
                .unwrap_or(true)
        })
        .collect();
    let total = rows.len() as u64;
    let page: Vec<InfraRow> = args.page.slice(std::mem::take(&mut rows));
    Ok(list_body(
        "storagepool",
        total,
        pool_views(st, &page).await?,
    ))
}

pub async fn update_pool(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let mut p = get(st, Infra::StoragePool, "id", args.required_id("id")?).await?;
    if let Some(nm) = args.text("name") {
        p.name = nm.trim().to_string();
    }
    if let Some(t) = args.list("tags") {
        p.attrs["tags"] = json!(t);
    } else if args.given_empty("tags") {
        p.attrs["tags"] = json!([]);
    }
    if let Some(cap) = args.int("capacitybytes") {
        if cap <= 0 {
            return param_err("capacitybytes must be positive");
        }
        p.attrs["capacity_bytes"] = json!(cap);
        p.attrs["capacity_fixed"] = json!(true);
    }
    if let Some(en) = args.bool("enabled") {
        match (en, p.state.as_str()) {
            (true, "Disabled") => p.state = "Up".into(),
            (false, "Up") => p.state = "Disabled".into(),
            (_, "Up" | "Disabled") => {}
            (_, other) => return param_err(format!("Storage pool {} is in state {other}; enable or disable it once it is Up or Disabled", p.name)),
        }
    }
    let mut tx = st.store.begin().await?;
    db::infra_update(&mut tx, Infra::StoragePool, &p).await?;
    Event::new(
        ctx,
        "STORAGE.POOL.UPDATE",
        format!("Storage pool {} updated", p.name),
    )
    .resource(p.id, "StoragePool", Some(&p.name))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(json!({ "storagepool": pool_views(st, std::slice::from_ref(&p)).await?.pop() }))
}

pub async fn delete_pool(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let p = get(st, Infra::StoragePool, "id", args.required_id("id")?).await?;
    // Volumes arrive with the VM lifecycle; then a pool holding any is kept unless forced.
    let mut tx = st.store.begin().await?;
    db::infra_mark_removed(&mut tx, Infra::StoragePool, p.id).await?;
    Event::new(
        ctx,
        "STORAGE.POOL.DELETE",
        format!("Storage pool {} deleted", p.name),
    )
    .resource(p.id, "StoragePool", Some(&p.name))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(success_body())
}

fn plan(p: &InfraRow, what: &str) -> JobPlan {
    JobPlan {
        instance_type: Some("StoragePool"),
        instance_id: Some(p.id.to_string()),
        returns_id: false,
        description: format!("{what} storage pool {}", p.name),
    }
}

pub async fn maintenance_prepare(st: &State, _ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let p = get(st, Infra::StoragePool, "id", args.required_id("id")?).await?;
    if !["Up", "Disabled", "ErrorInMaintenance"].contains(&p.state.as_str()) {
        return param_err(format!(
            "Storage pool {} is {}; only an Up or Disabled pool can enter maintenance",
            p.name, p.state
        ));
    }
    Ok(plan(&p, "Maintenance of"))
}

/// Puts a pool into maintenance. With no volumes yet there is nothing to stop or move; the
/// VM lifecycle adds stopping the VMs that use the pool.
pub async fn maintenance_run(
    st: &State,
    _ctx: &OpContext,
    args: &Args,
    _job: &JobRef,
) -> AppResult<Value> {
    let mut p = get(st, Infra::StoragePool, "id", args.required_id("id")?).await?;
    p.state = "Maintenance".into();
    let mut tx = st.store.begin().await?;
    db::infra_update(&mut tx, Infra::StoragePool, &p).await?;
    tx.commit().await?;
    Ok(json!({ "storagepool": pool_views(st, std::slice::from_ref(&p)).await?.pop() }))
}

pub async fn cancel_maintenance_prepare(
    st: &State,
    _ctx: &OpContext,
    args: &Args,
) -> AppResult<JobPlan> {
    let p = get(st, Infra::StoragePool, "id", args.required_id("id")?).await?;
    if !["Maintenance", "PrepareForMaintenance", "ErrorInMaintenance"].contains(&p.state.as_str()) {
        return param_err(format!(
            "Storage pool {} is {}, not in maintenance",
            p.name, p.state
        ));
    }
    Ok(plan(&p, "Ending maintenance of"))
}

pub async fn cancel_maintenance_run(
    st: &State,
    _ctx: &OpContext,
    args: &Args,
    _job: &JobRef,
) -> AppResult<Value> {
    let mut p = get(st, Infra::StoragePool, "id", args.required_id("id")?).await?;
    p.state = "Up".into();
    let mut tx = st.store.begin().await?;
    db::infra_update(&mut tx, Infra::StoragePool, &p).await?;
    tx.commit().await?;
    Ok(json!({ "storagepool": pool_views(st, std::slice::from_ref(&p)).await?.pop() }))
}

// --- image stores ------------------------------------------------------------------------------

async fn store_views(st: &State, rows: &[InfraRow]) -> AppResult<Vec<Value>> {
    let zn = names(st, Infra::Zone, rows.iter().map(|r| r.zone_id)).await?;
    Ok(rows
        .iter()
        .map(|r| {
            json!({
                "id": r.id, "name": r.name, "url": attr_str(r, "url"), "protocol": r.kind,
                "providername": attr_str(r, "provider"), "scope": "ZONE", "zoneid": r.zone_id,
                "zonename": zn.get(&r.zone_id), "readonly": r.attrs["readonly"] == true,
                "disksizetotal": r.attrs.get("capacity_bytes"),
            })
        })
        .collect())
}

async fn add_store_inner(
    st: &State,
    ctx: &OpContext,
    provider: &str,
    name: Option<&str>,
    url: &str,
    zone: Option<Uuid>,
) -> AppResult<Value> {
    let Some(zone) = zone else {
        return param_err("zoneid is required for this image store provider");
    };
    let zone = get(st, Infra::Zone, "zoneid", zone).await?;
    let lower = url.to_ascii_lowercase();
    let path = if let Some(p) = lower.strip_prefix("file://") {
        url[url.len() - p.len()..].to_string()
    } else if lower.starts_with("nfs://") {
        return param_err("NFS image stores are not mounted by Canopy: mount the export on the management server and use file:///MOUNTPOINT");
    } else {
        return param_err(format!(
            "Unsupported image store URL {url}: use file:///PATH on the management server"
        ));
    };
    if !path.starts_with('/') || path.contains("..") {
        return param_err(format!(
            "Invalid image store path {path}: give an absolute path"
        ));
    }
    std::fs::create_dir_all(&path).map_err(|e| {
        ApiError::param(format!(
            "Cannot use {path} as an image store on the management server: {e}"
        ))
    })?;
    let name = name.map(str::to_string).unwrap_or_else(|| path.clone());
    let row = InfraRow {
        id: Uuid::new_v4(),
        zone_id: zone.id,
        parent_id: Some(zone.id),
        name: name.clone(),
        kind: "file".into(),
        state: "Up".into(),
        domain_id: None,
        attrs: json!({ "url": url, "path": path, "provider": provider }),
        created: 0,
    };
    let mut tx = st.store.begin().await?;
    db::infra_insert(&mut tx, Infra::ImageStore, &row).await?;
    Event::new(
        ctx,
        "IMAGE.STORE.CREATE",
        format!("Image store {name} added to zone {}", zone.name),
    )
    .resource(row.id, "ImageStore", Some(&name))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(json!({ "imagestore": store_views(st, std::slice::from_ref(&row)).await?.pop() }))
}

pub async fn add_image_store(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let provider = args.required_str("provider")?;
    let Some(url) = args.text("url") else {
        return param_err("url is required: file:///PATH on the management server");
    };
    add_store_inner(
        st,
        ctx,
        provider,
        args.text("name"),
        url,
        args.uuid("zoneid"),
    )
    .await
}

pub async fn add_secondary_storage(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    add_store_inner(
        st,
        ctx,
        "NFS",
        None,
        args.required_str("url")?,
        args.uuid("zoneid"),
    )
    .await
}

pub async fn list_image_stores(st: &State, _ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let f = InfraFilter {
        ids: args.uuid("id").map(|i| vec![i]),
        zone_id: args.uuid("zoneid"),
        name: args.text("name").map(str::to_string),
        kind: args.text("protocol").map(str::to_string),
        keyword: args.text("keyword").map(str::to_string),
        offset: args.page.offset,
        limit: args.page.limit,
        ..Default::default()
    };
    let (rows, total) = {
        let mut c = st.store.read().await?;
        db::infra_list(&mut c, Infra::ImageStore, &f).await?
    };
    let rows: Vec<InfraRow> = rows
        .into_iter()
        .filter(|r| {
            args.text("provider")
                .map(|p| {
                    attr_str(r, "provider")
                        .map(|x| x.eq_ignore_ascii_case(p))
                        .unwrap_or(false)
                })
                .unwrap_or(true)
        })
        .collect();
    let total = if args.has("provider") {
        rows.len() as u64
    } else {
        total
    };
    Ok(list_body(
        "imagestore",
        total,
        store_views(st, &rows).await?,
    ))
}

/// updateImageStore: its name, whether it is read-only (it keeps serving what it has and takes
/// nothing new: templates, ISOs, uploads and snapshots go to another store of the zone), and
/// the capacity it reports.
pub async fn update_image_store(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let mut s = get(st, Infra::ImageStore, "id", args.required_id("id")?).await?;
    if let Some(n) = args.text("name") {
        let n = n.trim();
        if n.is_empty() {
            return param_err("Name can't be empty");
        }
        s.name = n.to_string();
    }
    if let Some(r) = args.bool("readonly") {
        s.attrs["readonly"] = json!(r);
    }
    if let Some(c) = args.int("capacitybytes") {
        if c <= 0 {
            return param_err("capacitybytes must be positive");
        }
        s.attrs["capacity_bytes"] = json!(c);
    }
    let mut tx = st.store.begin().await?;
    db::infra_update(&mut tx, Infra::ImageStore, &s).await?;
    Event::new(
        ctx,
        "IMAGE.STORE.UPDATE",
        format!("Image store {} updated", s.name),
    )
    .resource(s.id, "ImageStore", Some(&s.name))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    let s = get(st, Infra::ImageStore, "id", s.id).await?;
    let v = store_views(st, std::slice::from_ref(&s)).await?;
    Ok(json!({ "imagestore": v.into_iter().next().unwrap_or(Value::Null) }))
}

pub async fn delete_image_store(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let s = get(st, Infra::ImageStore, "id", args.required_id("id")?).await?;
    // The directory and its files stay on disk; templates arrive with the next step.
    let mut tx = st.store.begin().await?;
    db::infra_mark_removed(&mut tx, Infra::ImageStore, s.id).await?;
    Event::new(
        ctx,
        "IMAGE.STORE.DELETE",
        format!("Image store {} deleted", s.name),
    )
    .resource(s.id, "ImageStore", Some(&s.name))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(success_body())
}

/// Re-measures every Up pool through a connected host of its scope (run every minute): the
/// agents report size and use; an operator-set capacity is kept.
pub async fn refresh_pools(st: &State) -> AppResult<()> {
    let pools = {
        let mut c = st.store.read().await?;
        db::infra_list(
            &mut c,
            Infra::StoragePool,
            &InfraFilter {
                state: Some("Up".into()),
                ..Default::default()
            },
        )
        .await?
        .0
    };
    for p in pools.into_iter().filter(|p| p.kind != "HOST") {
        let (Some(path), cluster) = (
            attr_str(&p, "path"),
            if p.kind == "CLUSTER" {
                p.parent_id
            } else {
                None
            },
        ) else {
            continue;
        };
        let Ok((capacity, used)) = measure(st, p.zone_id, cluster, &path).await else {
            continue;
        };
        let mut tx = st.store.begin().await?;
        if let Some(mut fresh) = db::infra_get(&mut tx, Infra::StoragePool, p.id).await? {
            if fresh.attrs["capacity_fixed"] != true {
                fresh.attrs["capacity_bytes"] = json!(capacity);
            }
            fresh.attrs["used_bytes"] = json!(used);
            db::infra_update(&mut tx, Infra::StoragePool, &fresh).await?;
        }
        tx.commit().await?;
    }
    Ok(())
}

/// A host's local storage as a primary storage pool (scope HOST), created when a host with
/// local storage joins a zone with `localstorageenabled` (CloudStack's local pools). Its
/// capacity is what the agent measured as local storage. Idempotent.
pub async fn ensure_local_pool(st: &State, host: model::HostId) -> AppResult<()> {
    let h = {
        let mut c = st.store.read().await?;
        db::host_get(&mut c, host).await?
    };
    let Some(h) = h else { return Ok(()) };
    let local = h
        .inventory
        .get("local_storage_bytes")
        .and_then(|v| v.as_u64())
        .unwrap_or(0);
    let zone = get(st, Infra::Zone, "zoneid", h.zone_id).await?;
    if local == 0 || zone.attrs["localstorageenabled"] != true {
        return Ok(());
    }
    let existing = {
        let mut c = st.store.read().await?;
        db::infra_list(
            &mut c,
            Infra::StoragePool,
            &InfraFilter {
                zone_id: Some(h.zone_id),
                kind: Some("HOST".into()),
                ..Default::default()
            },
        )
        .await?
        .0
    };
    if existing
        .iter()
        .any(|p| attr_str(p, "host_id") == Some(h.id.to_string()))
    {
        return Ok(());
    }
    let name = format!("{} Local Storage", h.name);
    let row = InfraRow {
        id: Uuid::new_v4(),
        zone_id: h.zone_id,
        parent_id: Some(h.cluster_id),
        name: name.clone(),
        kind: "HOST".into(),
        state: "Up".into(),
        domain_id: None,
        attrs: json!({
            "url": format!("file:///var/lib/canopy/local/{}", h.id), "type": "Filesystem",
            "path": format!("/var/lib/canopy/local/{}", h.id), "hypervisor": h.hypervisor,
            "provider": "DefaultPrimary", "tags": [], "capacity_bytes": local, "used_bytes": 0,
            "allocated_bytes": 0, "capacity_fixed": true, "host_id": h.id, "podid": h.pod_id,
        }),
        created: 0,
    };
    let mut tx = st.store.begin().await?;
    db::infra_insert(&mut tx, Infra::StoragePool, &row).await?;
    tx.commit().await?;
    tracing::info!(host = %h.id, pool = %row.id, "local storage pool created");
    Ok(())
}
