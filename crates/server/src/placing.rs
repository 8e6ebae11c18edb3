//! The IO shell around the pure `placement` crate: builds its [`Snapshot`] of one zone from
//! the database (hosts with their agents' inventories, clusters with their over-commit
//! ratios, pools, hypervisor guest limits) and its [`Policy`] from the settings. The deploy
//! saga calls [`snapshot`] + `placement::plan` and re-checks the choice in the transaction
//! that reserves it. (VM reservations are not counted yet: used CPU, memory and VM counts are
//! zero until the VM lifecycle exists.)

use std::collections::{BTreeSet, HashMap};

use db::{HostFilter, Infra, InfraFilter, InfraRow};
use placement::{Allocator, Cluster, Host, Planner, Policy, Pool, PoolScope, Snapshot};
use uuid::Uuid;

use crate::error::AppResult;
use crate::handlers::zones::attr_str;
use crate::settings::Settings;
use crate::state::State;

fn ratio(c: &InfraRow, k: &str) -> f64 {
    attr_str(c, k)
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v > 0.0)
        .unwrap_or(1.0)
}

fn tag_set(v: Option<&serde_json::Value>) -> BTreeSet<String> {
    match v {
        Some(serde_json::Value::Array(a)) => a
            .iter()
            .filter_map(|t| t.as_str())
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .collect(),
        Some(serde_json::Value::String(s)) => s
            .split(',')
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .collect(),
        _ => BTreeSet::new(),
    }
}

/// Everything placement needs to know about one zone.
pub async fn snapshot(st: &State, zone: Uuid) -> AppResult<Snapshot> {
    let mut c = st.store.read().await?;
    let f = InfraFilter {
        zone_id: Some(zone),
        ..Default::default()
    };
    let zone_enabled = db::infra_get(&mut c, Infra::Zone, zone)
        .await?
        .map(|z| z.state == "Enabled")
        .unwrap_or(false);
    let pods: HashMap<Uuid, bool> = db::infra_list(&mut c, Infra::Pod, &f)
        .await?
        .0
        .into_iter()
        .map(|p| (p.id, p.state == "Enabled"))
        .collect();
    let clusters: Vec<Cluster> = db::infra_list(&mut c, Infra::Cluster, &f)
        .await?
        .0
        .iter()
        .filter_map(|cl| {
            let pod = cl.parent_id?;
            Some(Cluster {
                id: cl.id,
                pod,
                enabled: zone_enabled
                    && cl.state == "Enabled"
                    && pods.get(&pod).copied().unwrap_or(false),
                cpu_overcommit: ratio(cl, "cpuovercommitratio"),
                mem_overcommit: ratio(cl, "memoryovercommitratio"),
            })
        })
        .collect();
    let caps = db::hvcaps_list(&mut c, None, None).await?;
    let max_guests = |hv: &str| {
        caps.iter()
            .find(|r| r.hypervisor.eq_ignore_ascii_case(hv) && r.version == "default")
            .map(|r| r.max_guests.clamp(0, u32::MAX as i64) as u32)
            .unwrap_or(50)
    };
    let hosts: Vec<Host> = db::host_list(
        &mut c,
        &HostFilter {
            zone_id: Some(zone),
            ..Default::default()
        },
    )
    .await?
    .0
    .iter()
    .map(|h| {
        let inv = |k: &str| h.inventory.get(k).and_then(|v| v.as_u64()).unwrap_or(0);
        Host {
            id: h.id,
            cluster: h.cluster_id,
            usable: h.status == "Up" && h.resource_state == "Enabled",
            cpus: inv("cpus").min(u32::MAX as u64) as u32,
            cpu_mhz: inv("cpu_speed_mhz"),
            memory: inv("memory_bytes"),
            used_cpu_mhz: 0,
            used_memory: 0,
            vms: 0,
            owner_vms: 0,
            max_guests: max_guests(&h.hypervisor),
            tags: h.host_tags.iter().map(|t| t.trim().to_string()).collect(),
        }
    })
    .collect();
    let overprovisioning = st
        .settings
        .float("storage.overprovisioning.factor")
        .max(1.0);
    let pools: Vec<Pool> = db::infra_list(&mut c, Infra::StoragePool, &f)
        .await?
        .0
        .iter()
        .filter_map(|p| {
            let scope = match p.kind.as_str() {
                "CLUSTER" => PoolScope::Cluster(p.parent_id?),
                "ZONE" => PoolScope::Zone,
                _ => return None,
            };
            let n = |k: &str| p.attrs.get(k).and_then(|v| v.as_u64()).unwrap_or(0);
            Some(Pool {
                id: p.id,
                scope,
                usable: p.state == "Up",
                capacity: n("capacity_bytes"),
                allocated: n("allocated_bytes"),
                overprovisioning,
                tags: tag_set(p.attrs.get("tags")),
            })
        })
        .collect();
    Ok(Snapshot {
        clusters,
        hosts,
        pools,
    })
}

/// The planner, allocator and thresholds from the global settings.
pub fn policy(s: &Settings) -> Policy {
    let text = |name: &str| {
        model::settings::setting(name)
            .map(|d| s.value(d))
            .unwrap_or_default()
    };
    let planner = match text("vm.deployment.planner").as_str() {
        "UserDispersingPlanner" => Planner::UserDispersing,
        "UserConcentratedPodPlanner" => Planner::UserConcentratedPod,
        _ => Planner::FirstFit,
    };
    let algo = text("vm.allocation.algorithm");
    let planner = if algo.starts_with("userconcentratedpod") {
        Planner::UserConcentratedPod
    } else {
        planner
    };
    Policy {
        planner,
        allocator: Allocator::parse(&algo).unwrap_or(Allocator::Random),
        cluster_cpu_threshold: s.float("cluster.cpu.allocated.capacity.disablethreshold"),
        cluster_mem_threshold: s.float("cluster.memory.allocated.capacity.disablethreshold"),
        pool_threshold: s.float("pool.storage.allocated.capacity.disablethreshold"),
    }
}
