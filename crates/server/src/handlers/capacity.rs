//! listCapacity: totals per zone (or per pod / cluster when asked), computed from what agents
//! report (host CPU, memory, local storage; pool sizes), storage pools, image stores on the
//! management server, pod management ranges and public IP ranges (allocated = associated
//! addresses); the figures use the clusters' over-commit ratios as CloudStack does.

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;

use api::{list_body, Args};
use db::{HostFilter, HostRow, Infra, InfraFilter, InfraRow};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::context::OpContext;
use crate::error::AppResult;
use crate::handlers::zones::{attr_str, names};
use crate::state::State;

/// Capacity types (`Capacity.java`) and their names.
const TYPES: &[(i64, &str)] = &[
    (0, "MEMORY"),
    (1, "CPU"),
    (2, "STORAGE"),
    (3, "STORAGE_ALLOCATED"),
    (4, "VIRTUAL_NETWORK_PUBLIC_IP"),
    (5, "PRIVATE_IP"),
    (6, "SECONDARY_STORAGE"),
    (9, "LOCAL_STORAGE"),
    (90, "CPU_CORE"),
    (1000, "VM_SLOTS"),
];

/// Where a figure belongs: (zone, pod, cluster) — the finer levels only when grouping by them.
type Key = (Uuid, Option<Uuid>, Option<Uuid>);

#[derive(Default, Clone, Copy)]
struct Figure {
    total: u64,
    used: u64,
    allocated: u64,
}

/// What the active VMs on each of `hosts` hold (a migrating VM counts on its host and its
/// destination, as placement counts it), read by the hosts' index: for a page of hosts.
pub(crate) async fn host_usage(
    st: &State,
    hosts: &[HostRow],
) -> AppResult<HashMap<model::HostId, db::Usage>> {
    let ids: Vec<model::HostId> = hosts.iter().map(|h| h.id).collect();
    let mut c = st.store.read().await?;
    Ok(db::hosts_usage(&mut c, &ids).await?.into_iter().collect())
}

/// The same for every host of these hosts' zones, one grouped scan per zone: for whole zones
/// (listCapacity), where reading thousands of hosts by index is slower (~400 ms against
/// 110–170 ms for 2,000 hosts and 100,000 VMs).
async fn zones_usage(
    st: &State,
    hosts: &[HostRow],
) -> AppResult<HashMap<model::HostId, db::Usage>> {
    let mut zones: Vec<Uuid> = hosts.iter().map(|h| h.zone_id).collect();
    zones.sort_unstable();
    zones.dedup();
    let mut out = HashMap::new();
    let mut c = st.store.read().await?;
    for z in zones {
        for (h, u, _) in db::zone_usage(&mut c, z, None).await? {
            out.insert(h, u);
        }
    }
    Ok(out)
}

/// A host's CPU (MHz) and memory (bytes) as placement may fill them: its inventory × its
/// cluster's over-commit ratios.
pub(crate) fn host_capacity(h: &HostRow, cluster: Option<&InfraRow>) -> (u64, u64) {
    let inv = |k: &str| h.inventory.get(k).and_then(|v| v.as_u64()).unwrap_or(0);
    (
        (inv("cpus") as f64 * inv("cpu_speed_mhz") as f64 * ratio(cluster, "cpuovercommitratio"))
            as u64,
        (inv("memory_bytes") as f64 * ratio(cluster, "memoryovercommitratio")) as u64,
    )
}

fn ratio(c: Option<&InfraRow>, k: &str) -> f64 {
    c.and_then(|c| attr_str(c, k))
        .and_then(|v| v.parse().ok())
        .unwrap_or(1.0)
}

fn range_size(p: &InfraRow) -> u64 {
    let ip = |k: &str| {
        attr_str(p, k)
            .and_then(|v| v.parse::<Ipv4Addr>().ok())
            .map(u32::from)
    };
    match (ip("startip"), ip("endip")) {
        (Some(a), Some(b)) if b >= a => (b - a + 1) as u64,
        _ => 0,
    }
}

fn df(path: &str) -> Option<(u64, u64)> {
    let out = std::process::Command::new("df")
        .args(["-P", "-B1", path])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let f: Vec<&str> = text.lines().nth(1)?.split_whitespace().collect();
    Some((f.get(1)?.parse().ok()?, f.get(2)?.parse().ok()?))
}

pub async fn list_capacity(st: &State, _ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let zone_f = args.uuid("zoneid");
    let (pod_f, cluster_f) = (args.uuid("podid"), args.uuid("clusterid"));
    let (hosts, clusters, pods, pools, stores) = {
        let mut c = st.store.read().await?;
        let hosts = db::host_list(
            &mut c,
            &HostFilter {
                zone_id: zone_f,
                pod_id: pod_f,
                cluster_id: cluster_f,
                status: Some(model::HostStatus::Up),
                ..Default::default()
            },
        )
        .await?
        .0;
        let f = InfraFilter {
            zone_id: zone_f,
            ..Default::default()
        };
        (
            hosts,
            db::infra_list(&mut c, Infra::Cluster, &f).await?.0,
            db::infra_list(&mut c, Infra::Pod, &f).await?.0,
            db::infra_list(&mut c, Infra::StoragePool, &f).await?.0,
            db::infra_list(&mut c, Infra::ImageStore, &f).await?.0,
        )
    };
    let usage = zones_usage(st, &hosts).await?;
    let caps = {
        let mut c = st.store.read().await?;
        db::hvcaps_list(&mut c, None, None).await?
    };
    let cluster_of = |id: Uuid| clusters.iter().find(|c| c.id == id);
    let key = |zone: Uuid, pod: Option<Uuid>, cluster: Option<Uuid>| -> Key {
        (
            zone,
            if pod_f.is_some() || cluster_f.is_some() {
                pod
            } else {
                None
            },
            if cluster_f.is_some() { cluster } else { None },
        )
    };
    let mut figures: BTreeMap<(Key, i64), Figure> = BTreeMap::new();
    let mut add = |k: Key, t: i64, total: u64, used: u64| {
        let f = figures.entry((k, t)).or_default();
        f.total += total;
        f.used += used;
    };
    for h in &hosts {
        let c = cluster_of(h.cluster_id);
        let inv = |k: &str| h.inventory.get(k).and_then(|v| v.as_u64()).unwrap_or(0);
        let k = key(h.zone_id, Some(h.pod_id), Some(h.cluster_id));
        let u = usage.get(&h.id).copied().unwrap_or_default();
        let (cpu_total, mem_total) = host_capacity(h, c);
        add(k, 0, mem_total, u.memory_mib.max(0) as u64 * 1024 * 1024);
        add(k, 1, cpu_total, u.cpu_mhz.max(0) as u64);
        add(k, 90, inv("cpus"), 0);
        let cluster_slots = c
            .and_then(|c| c.attrs.get("vmslots"))
            .and_then(|v| v.as_i64());
        add(
            k,
            1000,
            domain::placing::vm_slots(h, cluster_slots, &caps) as u64,
            u.vms.max(0) as u64,
        );
        if inv("local_storage_bytes") > 0 {
            add(k, 9, inv("local_storage_bytes"), 0);
        }
    }
    let over = st
        .settings
        .float("storage.overprovisioning.factor")
        .max(1.0);
    for p in pools
        .iter()
        .filter(|p| p.pool_status() == Some(model::PoolState::Up))
    {
        let cl = if p.kind == "CLUSTER" {
            p.parent_id
        } else {
            None
        };
        if cluster_f.is_some() && cl != cluster_f {
            continue;
        }
        let pod = attr_str(p, "podid").and_then(|v| v.parse().ok());
        if pod_f.is_some() && pod != pod_f {
            continue;
        }
        let n = |k: &str| p.attrs.get(k).and_then(|v| v.as_u64()).unwrap_or(0);
        let k = key(p.zone_id, pod, cl);
        add(k, 2, n("capacity_bytes"), n("used_bytes"));
        add(
            k,
            3,
            (n("capacity_bytes") as f64 * over) as u64,
            n("allocated_bytes"),
        );
    }
    if pod_f.is_none() && cluster_f.is_none() {
        // Snapshots on the store are in its file system's use; simulated ones have no file
        // and are added (once per zone).
        let mut counted = std::collections::BTreeSet::new();
        for s in &stores {
            if let Some((total, used)) = attr_str(s, "path").and_then(|p| df(&p)) {
                let unfiled = if counted.insert(s.zone_id) {
                    let mut c = st.store.read().await?;
                    db::snapshot_zone_unfiled_bytes(&mut c, s.zone_id)
                        .await?
                        .max(0) as u64
                } else {
                    0
                };
                add(key(s.zone_id, None, None), 6, total, used + unfiled);
            }
        }
    }
    if cluster_f.is_none() {
        for p in pods
            .iter()
            .filter(|p| pod_f.map(|f| f == p.id).unwrap_or(true))
        {
            let used = hosts
                .iter()
                .filter(|h| h.pod_id == p.id && !h.simulated)
                .count() as u64;
            add(key(p.zone_id, Some(p.id), None), 5, range_size(p), used);
        }
    }
    // Public addresses per zone: every address of the public ranges, allocated = not Free.
    if pod_f.is_none() && cluster_f.is_none() {
        let zones = {
            let mut c = st.store.read().await?;
            db::infra_list(
                &mut c,
                Infra::Zone,
                &InfraFilter {
                    ids: zone_f.map(|z| vec![z]),
                    ..Default::default()
                },
            )
            .await?
            .0
        };
        for z in zones {
            let (total, used) = {
                let mut c = st.store.read().await?;
                db::public_ip_capacity(&mut c, z.id).await?
            };
            if total > 0 {
                add(key(z.id, None, None), 4, total, used);
            }
        }
    }
    let zn = names(st, Infra::Zone, figures.keys().map(|((z, _, _), _)| *z)).await?;
    let pn = names(
        st,
        Infra::Pod,
        figures.keys().filter_map(|((_, p, _), _)| *p),
    )
    .await?;
    let cn = names(
        st,
        Infra::Cluster,
        figures.keys().filter_map(|((_, _, c), _)| *c),
    )
    .await?;
    let wanted = args.int("type");
    let mut items: Vec<(f64, Value)> = figures
        .into_iter()
        .filter(|((_, t), _)| wanted.map(|w| w == *t).unwrap_or(true))
        .map(|(((z, p, c), t), f)| {
            let pct = if f.total == 0 {
                0.0
            } else {
                (f.used.max(f.allocated)) as f64 * 100.0 / f.total as f64
            };
            let mut v = json!({
                "type": t,
                "name": TYPES.iter().find(|(n, _)| *n == t).map(|(_, s)| *s).unwrap_or(""),
                "zoneid": z, "zonename": zn.get(&z),
                "capacitytotal": f.total, "capacityused": f.used, "capacityallocated": f.allocated,
                "percentused": format!("{pct:.2}"),
            });
            if let Some(p) = p {
                v["podid"] = json!(p);
                v["podname"] = json!(pn.get(&p));
            }
            if let Some(c) = c {
                v["clusterid"] = json!(c);
                v["clustername"] = json!(cn.get(&c));
            }
            (pct, v)
        })
        .collect();
    if args
        .text("sortby")
        .map(|s| s.eq_ignore_ascii_case("usage"))
        .unwrap_or(false)
    {
        items.sort_by(|a, b| b.0.total_cmp(&a.0));
    }
    let total = items.len() as u64;
    let page = args.page.slice(items.into_iter().map(|(_, v)| v).collect());
    Ok(list_body("capacity", total, page))
}
