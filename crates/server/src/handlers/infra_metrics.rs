//! The infrastructure metrics commands of CloudStack's metrics plugin: listHostsMetrics,
//! listClustersMetrics, listZonesMetrics, listStoragePoolsMetrics (each the matching list
//! command's items with the plugin's figures added), listDbMetrics and
//! listUsageServerMetrics.
//!
//! "Used" CPU and memory are what the running guests of a host use, from their latest
//! statistics (`vm_stats`): Canopy's agents report guests, not the host's own load.
//! Thresholds are CloudStack's: the `cluster.*.notificationthreshold` and
//! `*.disablethreshold` settings, compared as its metrics plugin compares them.

use std::collections::HashMap;

use api::Args;
use db::{GuestUse, HostRow, Infra};
use model::HostId;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::context::OpContext;
use crate::error::AppResult;
use crate::handlers::{capacity, clusters, hosts, storage, zones};
use crate::state::State;

const GIB: f64 = (1u64 << 30) as f64;

fn ghz(mhz: f64) -> String {
    format!("{:.2} Ghz", mhz / 1000.0)
}

fn gb(bytes: f64) -> String {
    format!("{:.2} GB", bytes / GIB)
}

fn pct(part: f64, whole: f64) -> Option<String> {
    (whole > 0.0).then(|| format!("{:.2}%", part * 100.0 / whole))
}

struct Thresholds {
    cpu: f64,
    cpu_disable: f64,
    mem: f64,
    mem_disable: f64,
}

impl Thresholds {
    fn of(st: &State) -> Self {
        Thresholds {
            cpu: st
                .settings
                .float("cluster.cpu.allocated.capacity.notificationthreshold"),
            cpu_disable: st
                .settings
                .float("cluster.cpu.allocated.capacity.disablethreshold"),
            mem: st
                .settings
                .float("cluster.memory.allocated.capacity.notificationthreshold"),
            mem_disable: st
                .settings
                .float("cluster.memory.allocated.capacity.disablethreshold"),
        }
    }
}

/// One host's figures: capacity (MHz, bytes, the cluster's over-commit applied as placement
/// applies it), what its VMs are allocated and what its guests use.
#[derive(Clone, Copy, Default)]
struct HostFig {
    cpu_total: f64,
    cpu_raw: f64,
    cpu_alloc: f64,
    cpu_used: f64,
    mem_total: f64,
    mem_alloc: f64,
    mem_used: f64,
    net_read: f64,
    net_write: f64,
}

async fn figures(st: &State, hosts: &[HostRow]) -> AppResult<HashMap<HostId, HostFig>> {
    let ids: Vec<HostId> = hosts.iter().map(|h| h.id).collect();
    let usage = capacity::host_usage(st, hosts).await?;
    let guests: HashMap<HostId, GuestUse> = {
        let mut c = st.store.read().await?;
        db::guest_use_by_host(&mut c, &ids).await?
    };
    let mut cluster_ids: Vec<Uuid> = hosts.iter().map(|h| h.cluster_id).collect();
    cluster_ids.sort_unstable();
    cluster_ids.dedup();
    let mut cl = HashMap::new();
    for id in cluster_ids {
        if let Ok(c) = zones::get(st, Infra::Cluster, "clusterid", id).await {
            cl.insert(id, c);
        }
    }
    Ok(hosts
        .iter()
        .map(|h| {
            let inv = |k: &str| h.inventory.get(k).and_then(Value::as_u64).unwrap_or(0) as f64;
            let (cpu_total, mem_total) = capacity::host_capacity(h, cl.get(&h.cluster_id));
            let u = usage.get(&h.id).copied().unwrap_or_default();
            let g = guests.get(&h.id).copied().unwrap_or_default();
            let speed = inv("cpu_speed_mhz");
            (
                h.id,
                HostFig {
                    cpu_total: cpu_total as f64,
                    cpu_raw: inv("cpus") * speed,
                    cpu_alloc: u.cpu_mhz.max(0) as f64,
                    cpu_used: g.cores * speed,
                    mem_total: mem_total as f64,
                    mem_alloc: (u.memory_mib.max(0) as f64) * 1024.0 * 1024.0,
                    mem_used: g.memory_bytes as f64,
                    net_read: g.net_read_bytes as f64,
                    net_write: g.net_write_bytes as f64,
                },
            )
        })
        .collect())
}

async fn host_rows(st: &State, ids: Vec<HostId>) -> AppResult<Vec<HostRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut c = st.store.read().await?;
    Ok(db::host_list(
        &mut c,
        &db::HostFilter {
            ids,
            ..Default::default()
        },
    )
    .await?
    .0)
}

/// listHostsMetrics: listHosts with `instances` (running / all), `cputotalghz`,
/// `cpuusedghz`, `cpuallocatedghz`, `memorytotalgb`, `memoryusedgb`, `memoryallocatedgb`,
/// `networkread`/`networkwrite` and the threshold flags.
pub async fn list_hosts_metrics(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let mut body = hosts::list_hosts(st, ctx, args).await?;
    let Some(items) = body.get_mut("host").and_then(Value::as_array_mut) else {
        return Ok(body);
    };
    let ids: Vec<HostId> = items
        .iter()
        .filter_map(|h| h["id"].as_str()?.parse().ok())
        .map(HostId)
        .collect();
    let rows = host_rows(st, ids.clone()).await?;
    let figs = figures(st, &rows).await?;
    let counts = {
        let mut c = st.store.read().await?;
        db::vm_counts_by_host(&mut c, &ids).await?
    };
    let t = Thresholds::of(st);
    for h in items.iter_mut() {
        let Some(id) = h["id"].as_str().and_then(|s| s.parse().ok()).map(HostId) else {
            continue;
        };
        let f = figs.get(&id).copied().unwrap_or_default();
        let (running, all) = counts.get(&id).copied().unwrap_or_default();
        h["instances"] = json!(format!("{running} / {all}"));
        h["cputotalghz"] = json!(ghz(f.cpu_raw));
        h["cpuusedghz"] = json!(ghz(f.cpu_used));
        h["cpuallocatedghz"] = json!(ghz(f.cpu_alloc));
        h["cpuused"] = json!(pct(f.cpu_used, f.cpu_raw).unwrap_or_else(|| "0.00%".into()));
        h["memorytotalgb"] = json!(gb(f.mem_total));
        h["memoryusedgb"] = json!(gb(f.mem_used));
        h["memoryallocatedgb"] = json!(gb(f.mem_alloc));
        h["memoryused"] = json!(f.mem_used as u64);
        h["networkread"] = json!(gb(f.net_read));
        h["networkwrite"] = json!(gb(f.net_write));
        flags(h, &f, &t);
    }
    Ok(body)
}

fn flags(v: &mut Value, f: &HostFig, t: &Thresholds) {
    let over = |part: f64, whole: f64, th: f64| whole > 0.0 && part / whole > th;
    v["cputhreshold"] = json!(over(f.cpu_used, f.cpu_raw, t.cpu));
    v["cpudisablethreshold"] = json!(over(f.cpu_used, f.cpu_raw, t.cpu_disable));
    v["cpuallocatedthreshold"] = json!(over(f.cpu_alloc, f.cpu_total, t.cpu));
    v["cpuallocateddisablethreshold"] = json!(over(f.cpu_alloc, f.cpu_total, t.cpu_disable));
    v["memorythreshold"] = json!(over(f.mem_used, f.mem_total, t.mem));
    v["memorydisablethreshold"] = json!(over(f.mem_used, f.mem_total, t.mem_disable));
    v["memoryallocatedthreshold"] = json!(over(f.mem_alloc, f.mem_total, t.mem));
    v["memoryallocateddisablethreshold"] = json!(over(f.mem_alloc, f.mem_total, t.mem_disable));
}

/// The sums over a set of hosts, and the cluster/zone fields made of them.
fn summary(v: &mut Value, figs: &[HostFig], up: u64, total: u64, key: &str, t: &Thresholds) {
    let mut s = HostFig::default();
    let (mut max_cpu_pct, mut max_mem) = (0.0f64, 0.0f64);
    for f in figs {
        s.cpu_total += f.cpu_total;
        s.cpu_raw += f.cpu_raw;
        s.cpu_alloc += f.cpu_alloc;
        s.cpu_used += f.cpu_used;
        s.mem_total += f.mem_total;
        s.mem_alloc += f.mem_alloc;
        s.mem_used += f.mem_used;
        if f.cpu_raw > 0.0 {
            max_cpu_pct = max_cpu_pct.max(f.cpu_used * 100.0 / f.cpu_raw);
        }
        max_mem = max_mem.max(f.mem_used);
    }
    let n = figs.len() as f64;
    v[key] = json!(format!("{up} / {total}"));
    v["cputotal"] = json!(ghz(s.cpu_total));
    v["memorytotal"] = json!(gb(s.mem_total));
    if n > 0.0 {
        let avg_cpu_pct = if s.cpu_raw > 0.0 {
            s.cpu_used * 100.0 / s.cpu_raw
        } else {
            0.0
        };
        v["cpuused"] = json!(format!("{avg_cpu_pct:.2}%"));
        if avg_cpu_pct > 0.0 {
            v["cpumaxdeviation"] = json!(format!(
                "{:.2}%",
                (max_cpu_pct - avg_cpu_pct) * 100.0 / avg_cpu_pct
            ));
        }
        let avg_mem = s.mem_used / n;
        if avg_mem > 0.0 {
            v["memorymaxdeviation"] =
                json!(format!("{:.2}%", (max_mem - avg_mem) * 100.0 / avg_mem));
        }
    }
    if let Some(p) = pct(s.cpu_alloc, s.cpu_total) {
        v["cpuallocated"] = json!(p);
    }
    if let Some(p) = pct(s.mem_used, s.mem_total) {
        v["memoryused"] = json!(p);
    }
    if let Some(p) = pct(s.mem_alloc, s.mem_total) {
        v["memoryallocated"] = json!(p);
    }
    flags(v, &s, t);
}

async fn hosts_where(st: &State, f: db::HostFilter) -> AppResult<Vec<HostRow>> {
    let mut c = st.store.read().await?;
    Ok(db::host_list(&mut c, &f).await?.0)
}

fn is_up(h: &HostRow) -> bool {
    h.status == model::HostStatus::Up
}

/// listClustersMetrics: listClusters with `hosts` (Up / all), CPU and memory totals, use,
/// allocation, maximum deviations and the threshold flags.
pub async fn list_clusters_metrics(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let mut body = clusters::list_clusters(st, ctx, args).await?;
    let Some(items) = body.get_mut("cluster").and_then(Value::as_array_mut) else {
        return Ok(body);
    };
    let t = Thresholds::of(st);
    for c in items.iter_mut() {
        let Some(id) = c["id"].as_str().and_then(|s| s.parse::<Uuid>().ok()) else {
            continue;
        };
        let rows = hosts_where(
            st,
            db::HostFilter {
                cluster_id: Some(id),
                ..Default::default()
            },
        )
        .await?;
        let figs = figures(st, &rows).await?;
        let up = rows.iter().filter(|h| is_up(h)).count() as u64;
        let all: Vec<HostFig> = rows
            .iter()
            .filter_map(|h| figs.get(&h.id).copied())
            .collect();
        if c.get("state").is_none() {
            let state = c["allocationstate"].clone();
            c["state"] = state;
        }
        summary(c, &all, up, rows.len() as u64, "hosts", &t);
    }
    Ok(body)
}

/// listZonesMetrics: listZones with `clusters` (Enabled / all) and the sums over its hosts.
pub async fn list_zones_metrics(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let mut body = zones::list_zones(st, ctx, args).await?;
    let Some(items) = body.get_mut("zone").and_then(Value::as_array_mut) else {
        return Ok(body);
    };
    let t = Thresholds::of(st);
    for z in items.iter_mut() {
        let Some(id) = z["id"].as_str().and_then(|s| s.parse::<Uuid>().ok()) else {
            continue;
        };
        let cls = {
            let mut c = st.store.read().await?;
            db::infra_list(
                &mut c,
                Infra::Cluster,
                &db::InfraFilter {
                    zone_id: Some(id),
                    ..Default::default()
                },
            )
            .await?
            .0
        };
        let enabled = cls
            .iter()
            .filter(|c| c.state.eq_ignore_ascii_case("Enabled"))
            .count() as u64;
        let rows = hosts_where(
            st,
            db::HostFilter {
                zone_id: Some(id),
                ..Default::default()
            },
        )
        .await?;
        let figs = figures(st, &rows).await?;
        let all: Vec<HostFig> = figs.values().copied().collect();
        let state = z["allocationstate"].clone();
        z["state"] = state;
        summary(z, &all, enabled, cls.len() as u64, "clusters", &t);
    }
    Ok(body)
}

/// listStoragePoolsMetrics: listStoragePools with sizes in GB and the storage thresholds.
pub async fn list_pools_metrics(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let mut body = storage::list_pools(st, ctx, args).await?;
    let Some(items) = body.get_mut("storagepool").and_then(Value::as_array_mut) else {
        return Ok(body);
    };
    let factor = st.settings.float("storage.overprovisioning.factor");
    let used_th = st
        .settings
        .float("cluster.storage.capacity.notificationthreshold");
    let used_dis = st.settings.float("pool.storage.capacity.disablethreshold");
    let alloc_th = st
        .settings
        .float("cluster.storage.allocated.capacity.notificationthreshold");
    let alloc_dis = st
        .settings
        .float("pool.storage.allocated.capacity.disablethreshold");
    for p in items.iter_mut() {
        let n = |k: &str| p[k].as_f64().unwrap_or(0.0);
        let (total, used, alloc) = (
            n("disksizetotal"),
            n("disksizeused"),
            n("disksizeallocated"),
        );
        let cap = total * factor;
        p["disksizetotalgb"] = json!(format!("{} (x{factor})", gb(total)));
        p["disksizeusedgb"] = json!(gb(used));
        p["disksizeallocatedgb"] = json!(gb(alloc));
        p["disksizeunallocatedgb"] = json!(gb((cap - alloc).max(0.0)));
        p["storageusagethreshold"] = json!(used > cap * used_th);
        p["storageusagedisablethreshold"] = json!(used > cap * used_dis);
        p["storageallocatedthreshold"] = json!(alloc > cap * alloc_th);
        p["storageallocateddisablethreshold"] = json!(alloc > cap * alloc_dis);
    }
    Ok(body)
}

/// listDbMetrics: the database the servers share, as it reports itself.
pub async fn list_db_metrics(st: &State, _ctx: &OpContext, _args: &Args) -> AppResult<Value> {
    let m = {
        let mut c = st.store.read().await?;
        db::db_metrics(&mut c, &st.store).await?
    };
    Ok(json!({ "dbMetrics": {
        "hostname": m.hostname,
        "replicas": m.replicas,
        "connections": m.connections,
        "uptime": m.uptime_secs,
        "version": m.version,
        "versioncomment": m.version_comment,
        "queries": m.queries,
        "tlsversions": m.tls,
        "dbloadaverages": [],
        "collectiontime": api::time::format_ms(api::time::now_ms()),
    }}))
}

/// listUsageServerMetrics: Canopy has no usage server (usage records are not produced), so
/// the answer is CloudStack's for a cloud whose usage server does not run: state Down.
pub async fn list_usage_server_metrics(
    _st: &State,
    _ctx: &OpContext,
    _args: &Args,
) -> AppResult<Value> {
    Ok(json!({ "usageMetrics": {
        "hostname": "N/A",
        "state": "Down",
        "collectiontime": api::time::format_ms(api::time::now_ms()),
    }}))
}
