//! The IO shell around the pure `placement` crate: builds its [`Snapshot`] of one zone from
//! the database (hosts with their agents' inventories, clusters with their over-commit
//! ratios, pools, hypervisor guest limits) and its [`Policy`] from the settings. The deploy
//! saga calls [`snapshot_for`] + `placement::plan` and re-checks the choice in the transaction
//! that reserves it. Used CPU, memory and VM counts are the sums over the VMs that hold a host
//! (Starting, Running, Stopping, Migrating); a pool's allocation is the sum of its volumes.

use std::collections::HashMap;

use db::attrs::{ClusterAttrs, PoolAttrs};
use db::{Attrs, HostFilter, Infra, InfraFilter};
use placement::{Allocator, Cluster, Dedicated, Host, Planner, Policy, Pool, PoolScope, Snapshot};
use uuid::Uuid;

use crate::core::Core;
use crate::error::DomainResult;
use crate::settings::Settings;

/// How long a zone's snapshot is reused for planning. Staleness only costs a re-plan: the
/// reservation is re-checked in the database, and a refusal drops the cached snapshot.
pub const SNAPSHOT_TTL: std::time::Duration = std::time::Duration::from_millis(3000);

/// Recent snapshots per zone, for the deploy path (building one of a 25,000-host zone costs
/// far more than planning on it).
#[derive(Default)]
pub struct SnapshotCache {
    zones: std::sync::Mutex<HashMap<Uuid, (std::time::Instant, std::sync::Arc<Snapshot>)>>,
    /// One rebuild at a time: concurrent deploys wait for it rather than all rebuilding.
    rebuild: tokio::sync::Mutex<()>,
}

impl SnapshotCache {
    /// Forgets a zone's snapshot (a reservation was refused, or the zone changed).
    pub fn invalidate(&self, zone: Uuid) {
        if let Ok(mut z) = self.zones.lock() {
            z.remove(&zone);
        }
    }
}

/// The snapshot to plan `owner`'s VM on: a cached one (at most [`SNAPSHOT_TTL`] old) for the
/// first-fit planner; a fresh one for the planners that count the owner's VMs per host.
pub async fn planning_snapshot(
    st: &Core,
    zone: Uuid,
    owner: model::AccountId,
    policy: &Policy,
) -> DomainResult<std::sync::Arc<Snapshot>> {
    if policy.planner != Planner::FirstFit {
        return Ok(std::sync::Arc::new(
            snapshot_for(st, zone, Some(owner)).await?,
        ));
    }
    let cached = || {
        st.snapshots.zones.lock().ok().and_then(|z| {
            z.get(&zone)
                .filter(|(at, _)| at.elapsed() < SNAPSHOT_TTL)
                .map(|(_, s)| s.clone())
        })
    };
    if let Some(s) = cached() {
        return Ok(s);
    }
    let _one = st.snapshots.rebuild.lock().await;
    if let Some(s) = cached() {
        return Ok(s);
    }
    let fresh = std::sync::Arc::new(snapshot_for(st, zone, None).await?);
    if let Ok(mut z) = st.snapshots.zones.lock() {
        z.insert(zone, (std::time::Instant::now(), fresh.clone()));
    }
    Ok(fresh)
}

/// The database's last word on a placement, in the transaction that claims it: under the
/// host's lock, the host must still be Up and Enabled, and what its active VMs hold now plus
/// `cpu_mhz` / `memory_mib` more (and one more guest, with `new_guest`) must fit its
/// over-committed capacity. A deploy, a migration and a scale-up all ask this.
pub async fn host_takes(
    tx: &mut db::Conn,
    h: &Host,
    c: &Cluster,
    cpu_mhz: i64,
    memory_mib: i64,
    new_guest: bool,
) -> DomainResult<bool> {
    db::host_lock(tx, model::HostId(h.id)).await?;
    let used = db::host_usage(tx, model::HostId(h.id)).await?;
    let live = db::host_get(tx, model::HostId(h.id))
        .await?
        .map(|r| {
            r.status == model::HostStatus::Up && r.resource_state == model::ResourceState::Enabled
        })
        .unwrap_or(false);
    let memory = ((used.memory_mib + memory_mib).max(0) as u64) << 20;
    Ok(live
        && (used.cpu_mhz + cpu_mhz) as f64 <= h.cpus as f64 * h.cpu_mhz as f64 * c.cpu_overcommit
        && memory as f64 <= h.memory as f64 * c.mem_overcommit
        && (!new_guest || used.vms < h.max_guests as i64))
}

/// A deployment planner by CloudStack's name.
pub fn planner_named(name: &str) -> Option<Planner> {
    Some(match name.trim() {
        "FirstFitPlanner" => Planner::FirstFit,
        "UserDispersingPlanner" => Planner::UserDispersing,
        "UserConcentratedPodPlanner" => Planner::UserConcentratedPod,
        "ImplicitDedicationPlanner" => Planner::ImplicitDedication,
        _ => return None,
    })
}

/// The planners a deploy or an offering may name.
pub const PLANNERS: &[&str] = &[
    "FirstFitPlanner",
    "UserDispersingPlanner",
    "UserConcentratedPodPlanner",
    "ImplicitDedicationPlanner",
];

/// The planner for a VM: the one its deploy named (root admins), else its offering's, else
/// the global one; and its implicit dedication mode when that planner is
/// ImplicitDedicationPlanner (recorded on the VM at deploy).
pub async fn planner_for(
    st: &Core,
    vm: &db::VmRow,
    global: Planner,
) -> DomainResult<(Planner, Option<placement::ImplicitMode>)> {
    let a: db::attrs::VmAttrs = vm.decode()?;
    let named = match a.deploymentplanner.as_deref() {
        Some(p) => planner_named(p),
        None => {
            let mut c = st.store.read().await?;
            db::infra_get(&mut c, Infra::ServiceOffering, vm.service_offering_id)
                .await?
                .and_then(|o| {
                    o.attrs["deploymentplanner"]
                        .as_str()
                        .and_then(planner_named)
                })
        }
    };
    let implicit = a.implicitdedication.as_deref().map(|m| {
        if m == "Preferred" {
            placement::ImplicitMode::Preferred
        } else {
            placement::ImplicitMode::Strict
        }
    });
    Ok((named.unwrap_or(global), implicit))
}

/// The database's word on implicit dedication, in the reserving transaction (after the host's
/// lock): the host holds no other account's Strict implicitly dedicated VM, and — for a Strict
/// one — nothing but the account's own implicitly dedicated VMs.
pub async fn implicit_ok(
    tx: &mut db::Conn,
    host: model::HostId,
    account: model::AccountId,
    mode: Option<placement::ImplicitMode>,
) -> DomainResult<bool> {
    let here = db::implicit_dedicated(tx, None, Some(host)).await?;
    if here.iter().any(|(_, a, strict)| *strict && *a != account) {
        return Ok(false);
    }
    if mode == Some(placement::ImplicitMode::Strict) {
        let mine = here.iter().filter(|(_, a, _)| *a == account).count() as i64;
        let all = db::host_usage(tx, host).await?.vms;
        if all > mine || here.iter().any(|(_, a, _)| *a != account) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// A VM's owner as placement sees it (for dedicated resources): its account, and its domain
/// with the domain's ancestors.
pub async fn owner_of(
    st: &Core,
    vm: &db::VmRow,
) -> DomainResult<(Uuid, std::collections::BTreeSet<Uuid>)> {
    let mut c = st.store.read().await?;
    let mut domains = std::collections::BTreeSet::new();
    let mut next = Some(vm.domain_id);
    while let Some(d) = next.take() {
        if domains.len() > 64 || !domains.insert(d.0) {
            break;
        }
        next = db::domain_get(&mut c, d).await?.and_then(|r| r.parent_id);
    }
    Ok((vm.account_id.0, domains))
}

/// A host's VM slots (every VM it runs holds one): its own `vm_slots`, else its cluster's
/// `vmslots`, else its hypervisor's `maxguestslimit` (the `default` version row), else 50.
pub fn vm_slots(h: &db::HostRow, cluster: Option<i64>, caps: &[db::HvCapsRow]) -> u32 {
    h.vm_slots
        .or(cluster)
        .or_else(|| {
            caps.iter()
                .find(|r| {
                    r.hypervisor.eq_ignore_ascii_case(&h.hypervisor) && r.version == "default"
                })
                .map(|r| r.max_guests)
        })
        .unwrap_or(50)
        .clamp(0, u32::MAX as i64) as u32
}

/// Everything placement needs to know about one zone.
pub async fn snapshot(st: &Core, zone: Uuid) -> DomainResult<Snapshot> {
    snapshot_for(st, zone, None).await
}

/// The zone as `owner` deploys into it (the dispersing planners count the owner's VMs).
pub async fn snapshot_for(
    st: &Core,
    zone: Uuid,
    owner: Option<model::AccountId>,
) -> DomainResult<Snapshot> {
    let mut c = st.store.read().await?;
    let usage: HashMap<model::HostId, (db::Usage, i64)> = db::zone_usage(&mut c, zone, owner)
        .await?
        .into_iter()
        .map(|(h, u, o)| (h, (u, o)))
        .collect();
    let allocated: HashMap<Uuid, i64> = db::pool_allocation(&mut c, zone)
        .await?
        .into_iter()
        .collect();
    let f = InfraFilter {
        zone_id: Some(zone),
        ..Default::default()
    };
    let zone_enabled = db::infra_get(&mut c, Infra::Zone, zone)
        .await?
        .map(|z| z.allocation() == Some(model::AllocationState::Enabled))
        .unwrap_or(false);
    let pods: HashMap<Uuid, bool> = db::infra_list(&mut c, Infra::Pod, &f)
        .await?
        .0
        .into_iter()
        .map(|p| {
            (
                p.id,
                p.allocation() == Some(model::AllocationState::Enabled),
            )
        })
        .collect();
    let mut clusters: Vec<Cluster> = Vec::new();
    let mut cluster_slots: HashMap<Uuid, Option<i64>> = HashMap::new();
    for cl in db::infra_list(&mut c, Infra::Cluster, &f).await?.0 {
        let Some(pod) = cl.parent_id else { continue };
        let a: ClusterAttrs = cl.decode()?;
        cluster_slots.insert(cl.id, a.vmslots);
        clusters.push(Cluster {
            id: cl.id,
            pod,
            enabled: zone_enabled
                && cl.allocation() == Some(model::AllocationState::Enabled)
                && pods.get(&pod).copied().unwrap_or(false),
            cpu_overcommit: a.cpuovercommitratio.or_one(),
            mem_overcommit: a.memoryovercommitratio.or_one(),
        });
    }
    let caps = db::hvcaps_list(&mut c, None, None).await?;
    // Dedications: a host's own, else its cluster's, pod's or zone's (a zone's `domain_id`
    // is its dedication to a domain too).
    let dedications: HashMap<Uuid, Dedicated> = db::dedication_list(&mut c, None, None)
        .await?
        .into_iter()
        .map(|d| {
            (
                d.resource_id,
                Dedicated {
                    domain: d.domain_id.0,
                    account: d.account_id.map(|a| a.0),
                },
            )
        })
        .collect();
    let zone_dedication = db::infra_get(&mut c, Infra::Zone, zone)
        .await?
        .and_then(|z| z.domain_id)
        .map(|d| Dedicated {
            domain: d,
            account: None,
        });
    // Implicitly dedicated VMs per host.
    let mut implicit: HashMap<Uuid, (std::collections::BTreeMap<Uuid, bool>, u32)> = HashMap::new();
    for (h, a, strict) in db::implicit_dedicated(&mut c, Some(zone), None).await? {
        let e = implicit.entry(h.0).or_default();
        let s = e.0.entry(a.0).or_default();
        *s = *s || strict;
        e.1 += 1;
    }
    let dedicated_of = |h: &db::HostRow| {
        dedications
            .get(&h.id.0)
            .or_else(|| dedications.get(&h.cluster_id))
            .or_else(|| dedications.get(&h.pod_id))
            .or_else(|| dedications.get(&h.zone_id))
            .copied()
            .or(zone_dedication)
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
        let (u, owned) = usage.get(&h.id).copied().unwrap_or_default();
        Host {
            id: h.id.0,
            cluster: h.cluster_id,
            // Only agents whose driver runs VMs (capability `vms`) can take them.
            usable: h.status == model::HostStatus::Up
                && h.resource_state == model::ResourceState::Enabled
                && h.inventory["capabilities"]
                    .as_array()
                    .map(|c| c.iter().any(|x| x == "vms"))
                    .unwrap_or(false),
            cpus: inv("cpus").min(u32::MAX as u64) as u32,
            cpu_mhz: inv("cpu_speed_mhz"),
            memory: inv("memory_bytes"),
            used_cpu_mhz: u.cpu_mhz.max(0) as u64,
            used_memory: (u.memory_mib.max(0) as u64) << 20,
            vms: u.vms.clamp(0, u32::MAX as i64) as u32,
            owner_vms: owned.clamp(0, u32::MAX as i64) as u32,
            max_guests: vm_slots(
                h,
                cluster_slots.get(&h.cluster_id).copied().flatten(),
                &caps,
            ),
            tags: h.host_tags.iter().map(|t| t.trim().to_string()).collect(),
            dedicated: dedicated_of(h),
            implicit: implicit
                .get(&h.id.0)
                .map(|i| i.0.clone())
                .unwrap_or_default(),
            implicit_vms: implicit.get(&h.id.0).map(|i| i.1).unwrap_or(0),
        }
    })
    .collect();
    let overprovisioning = st
        .settings
        .float("storage.overprovisioning.factor")
        .max(1.0);
    let mut pools: Vec<Pool> = Vec::new();
    for p in db::infra_list(&mut c, Infra::StoragePool, &f).await?.0 {
        let a: PoolAttrs = p.decode()?;
        let scope = match (p.kind.as_str(), p.parent_id, a.host_id) {
            ("CLUSTER", Some(cluster), _) => PoolScope::Cluster(cluster),
            ("HOST", _, Some(host)) => PoolScope::Host(host.0),
            ("ZONE", _, _) => PoolScope::Zone,
            _ => continue,
        };
        pools.push(Pool {
            id: p.id,
            scope,
            usable: p.pool_status() == Some(model::PoolState::Up),
            capacity: a.capacity_bytes.unwrap_or(0).max(0) as u64,
            allocated: allocated.get(&p.id).copied().unwrap_or(0).max(0) as u64,
            overprovisioning,
            tags: a.tags.0,
        });
    }
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
    let planner = planner_named(&text("vm.deployment.planner")).unwrap_or(Planner::FirstFit);
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
