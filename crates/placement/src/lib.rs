//! VM placement as a pure function: `plan(&Snapshot, &Request, &Policy)` chooses a host and a
//! storage pool, or says why nothing fits. No IO, no clock, no global randomness: the same
//! inputs give the same answer (the `random` allocator draws from the request's seed), so the
//! server can re-check a choice inside the transaction that reserves it.
//!
//! Follows CloudStack's pipeline (reference §7): a planner orders clusters (first fit by free
//! capacity, user dispersing by the owner's VM count, user concentrated pod by pods already
//! holding the owner's VMs), dropping disabled ones and those over the disable thresholds; an
//! allocator orders the hosts of each cluster (firstfit, random, firstfitleastconsumed,
//! userdispersing); a host must be Up and Enabled, carry the offering's host tags, stay under
//! its guest limit, and have the CPU and memory free after the cluster's over-commit ratios; a
//! storage pool of the right kind (local to that host, or shared in its cluster or zone) with
//! the storage tags and free space must exist. Avoid sets exclude what a previous try rejected.

use std::collections::{BTreeMap, BTreeSet};

use uuid::Uuid;

/// A cluster as placement sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Cluster {
    pub id: Uuid,
    pub pod: Uuid,
    /// The cluster and its pod are Enabled.
    pub enabled: bool,
    pub cpu_overcommit: f64,
    pub mem_overcommit: f64,
}

/// A host as placement sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Host {
    pub id: Uuid,
    pub cluster: Uuid,
    /// Status Up and resource state Enabled (not Disabled, not in maintenance).
    pub usable: bool,
    pub cpus: u32,
    pub cpu_mhz: u64,
    pub memory: u64,
    /// Already reserved by VMs: CPU in MHz, memory in bytes.
    pub used_cpu_mhz: u64,
    pub used_memory: u64,
    pub vms: u32,
    /// VMs of the requesting account on this host (for user dispersing).
    pub owner_vms: u32,
    /// VM slots: `maxguestslimit` of the host's hypervisor, or its cluster's or its own count.
    pub max_guests: u32,
    pub tags: BTreeSet<String>,
    /// Dedicated (the host, its cluster, pod or zone) to a domain or an account.
    pub dedicated: Option<Dedicated>,
    /// Accounts whose implicitly dedicated VMs (ImplicitDedicationPlanner) run here, each with
    /// whether one of them is Strict; and how many such VMs run here (of `vms`).
    pub implicit: BTreeMap<Uuid, bool>,
    pub implicit_vms: u32,
}

/// ImplicitDedicationPlanner's mode (the offering's `ImplicitDedicationMode` detail).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImplicitMode {
    /// Only hosts running nothing but the account's implicitly dedicated VMs, or empty ones.
    Strict,
    /// Those first, then any host not holding another account's strict ones.
    Preferred,
}

/// Whom a dedicated resource is kept for: a domain's accounts (and its subdomains'), or one
/// account of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dedicated {
    pub domain: Uuid,
    pub account: Option<Uuid>,
}

/// Where a storage pool serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PoolScope {
    Host(Uuid),
    Cluster(Uuid),
    Zone,
}

/// A primary storage pool as placement sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Pool {
    pub id: Uuid,
    pub scope: PoolScope,
    pub usable: bool,
    pub capacity: u64,
    pub allocated: u64,
    pub overprovisioning: f64,
    pub tags: BTreeSet<String>,
}

/// Everything placement looks at, for one zone.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    pub clusters: Vec<Cluster>,
    pub hosts: Vec<Host>,
    pub pools: Vec<Pool>,
}

/// Cluster ordering (`vm.deployment.planner` or the offering's planner).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Planner {
    FirstFit,
    /// FirstFit's cluster order; hosts by implicit dedication (the request's `implicit`).
    ImplicitDedication,
    UserDispersing,
    UserConcentratedPod,
}

/// Host ordering within a cluster (`vm.allocation.algorithm`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Allocator {
    FirstFit,
    Random,
    FirstFitLeastConsumed,
    UserDispersing,
}

impl Allocator {
    /// Parses `vm.allocation.algorithm`.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "firstfit" | "userconcentratedpod_firstfit" => Self::FirstFit,
            "random" | "userconcentratedpod_random" => Self::Random,
            "firstfitleastconsumed" => Self::FirstFitLeastConsumed,
            "userdispersing" => Self::UserDispersing,
            _ => return None,
        })
    }
}

/// What to place.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Request {
    pub cpus: u32,
    pub cpu_mhz: u64,
    pub memory: u64,
    /// Bytes the root (and data) volumes need on one pool.
    pub disk: u64,
    pub host_tags: BTreeSet<String>,
    pub storage_tags: BTreeSet<String>,
    /// Local storage (a pool of the chosen host) rather than shared.
    pub local_storage: bool,
    /// Only this host / cluster / pod (admin placement, or a restart on its last host).
    pub host: Option<Uuid>,
    pub cluster: Option<Uuid>,
    pub pod: Option<Uuid>,
    /// Excluded after failed tries.
    pub avoid_hosts: BTreeSet<Uuid>,
    pub avoid_clusters: BTreeSet<Uuid>,
    pub avoid_pools: BTreeSet<Uuid>,
    /// Seed of the `random` allocator (e.g. from the VM id): same seed, same choice.
    pub seed: u64,
    /// Root admins may place into disabled clusters (as CloudStack).
    pub admin: bool,
    /// The VM holds no CPU on its host (an admission policy dropped its reservation): the
    /// host must still have `cpus` cores of `cpu_mhz`, but no free CPU is needed. (A dropped
    /// memory reservation is `memory` 0.)
    pub unreserved_cpu: bool,
    /// Strict host anti-affinity: hosts running a VM of one of the VM's groups (never chosen).
    pub anti_affinity_hosts: BTreeSet<Uuid>,
    /// Strict host affinity: when set, only these hosts (where its groups' VMs run).
    pub affinity_hosts: Option<BTreeSet<Uuid>>,
    /// Non-strict groups: a host's preference (+1 per VM of a non-strict affinity group
    /// there, −1 per VM of a non-strict anti-affinity group); higher first, after the
    /// planner's and allocator's order.
    pub host_preference: BTreeMap<Uuid, i32>,
    /// The VM's owner, for dedicated resources: its account and its domain with the domain's
    /// ancestors. Others' dedicated hosts are never chosen; its own come first.
    pub owner_account: Option<Uuid>,
    pub owner_domains: BTreeSet<Uuid>,
    /// Implicit dedication (ImplicitDedicationPlanner) for `owner_account`.
    pub implicit: Option<ImplicitMode>,
}

/// Global knobs.
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    pub planner: Planner,
    pub allocator: Allocator,
    /// `cluster.cpu.allocated.capacity.disablethreshold` (0..1).
    pub cluster_cpu_threshold: f64,
    /// `cluster.memory.allocated.capacity.disablethreshold` (0..1).
    pub cluster_mem_threshold: f64,
    /// `pool.storage.allocated.capacity.disablethreshold` (0..1).
    pub pool_threshold: f64,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            planner: Planner::FirstFit,
            allocator: Allocator::FirstFit,
            cluster_cpu_threshold: 0.85,
            cluster_mem_threshold: 0.85,
            pool_threshold: 0.85,
        }
    }
}

/// The choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    pub host: Uuid,
    pub cluster: Uuid,
    pub pool: Uuid,
}

/// Why nothing fits (shown in CloudStack's 533 error).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("Unable to create a deployment for the VM: {reason}")]
pub struct NoFit {
    pub reason: String,
}

fn cpu_need(r: &Request) -> u64 {
    if r.unreserved_cpu {
        0
    } else {
        r.cpus as u64 * r.cpu_mhz
    }
}

/// Free CPU (MHz) and memory (bytes) of a host under its cluster's over-commit ratios.
pub fn free(h: &Host, c: &Cluster) -> (u64, u64) {
    let cpu_total = (h.cpus as f64 * h.cpu_mhz as f64 * c.cpu_overcommit) as u64;
    let mem_total = (h.memory as f64 * c.mem_overcommit) as u64;
    (
        cpu_total.saturating_sub(h.used_cpu_mhz),
        mem_total.saturating_sub(h.used_memory),
    )
}

/// Whether a dedicated host is kept for someone else.
pub fn dedicated_to_others(h: &Host, r: &Request) -> bool {
    match h.dedicated {
        None => false,
        Some(Dedicated {
            account: Some(a), ..
        }) => r.owner_account != Some(a),
        Some(Dedicated { domain, .. }) => !r.owner_domains.contains(&domain),
    }
}

/// Whether implicit dedication keeps the request off the host: another account's Strict
/// implicitly dedicated VMs run there (for every request); and for an implicitly dedicated
/// request in Strict mode, anything but the account's own implicitly dedicated VMs.
pub fn implicit_excludes(h: &Host, r: &Request) -> bool {
    let others_strict = h
        .implicit
        .iter()
        .any(|(a, strict)| *strict && Some(*a) != r.owner_account);
    if others_strict {
        return true;
    }
    match r.implicit {
        Some(ImplicitMode::Strict) => {
            h.vms > h.implicit_vms || h.implicit.keys().any(|a| Some(*a) != r.owner_account)
        }
        _ => false,
    }
}

/// An implicitly dedicated request's preference: 2 for a host running only the account's
/// implicitly dedicated VMs, 1 for an empty host, 0 otherwise.
fn implicit_rank(h: &Host, r: &Request) -> u8 {
    if r.implicit.is_none() {
        return 0;
    }
    if h.vms == 0 {
        1
    } else if h.vms == h.implicit_vms && h.implicit.keys().all(|a| Some(*a) == r.owner_account) {
        2
    } else {
        0
    }
}

/// Whether the request's strict affinity groups allow the host.
pub fn affinity_allows(h: &Host, r: &Request) -> bool {
    !r.anti_affinity_hosts.contains(&h.id)
        && r.affinity_hosts.as_ref().is_none_or(|a| a.contains(&h.id))
}

/// Whether a host can take the request by itself (ignoring storage and cluster rules).
pub fn host_fits(h: &Host, c: &Cluster, r: &Request) -> bool {
    let (cpu, mem) = free(h, c);
    affinity_allows(h, r)
        && !dedicated_to_others(h, r)
        && !implicit_excludes(h, r)
        && h.usable
        && h.vms < h.max_guests
        && h.cpus >= r.cpus
        && h.cpu_mhz >= r.cpu_mhz
        && cpu >= cpu_need(r)
        && mem >= r.memory
        && r.host_tags.is_subset(&h.tags)
        && !r.avoid_hosts.contains(&h.id)
        && r.host.map(|x| x == h.id).unwrap_or(true)
}

/// Whether a pool can hold the request's disks for a VM on host `h`.
pub fn pool_fits(p: &Pool, h: &Host, r: &Request, policy: &Policy) -> bool {
    let kind_ok = match (&p.scope, r.local_storage) {
        (PoolScope::Host(owner), true) => *owner == h.id,
        (PoolScope::Cluster(c), false) => *c == h.cluster,
        (PoolScope::Zone, false) => true,
        _ => false,
    };
    let limit = p.capacity as f64 * p.overprovisioning.max(1.0);
    kind_ok
        && p.usable
        && !r.avoid_pools.contains(&p.id)
        && r.storage_tags.is_subset(&p.tags)
        && (p.allocated + r.disk) as f64 <= limit * policy.pool_threshold.min(1.0)
}

/// Whether adding the request keeps the cluster under its disable thresholds.
fn cluster_under_threshold(c: &Cluster, hosts: &[&Host], r: &Request, policy: &Policy) -> bool {
    let (mut cpu_total, mut cpu_used, mut mem_total, mut mem_used) = (0f64, 0f64, 0f64, 0f64);
    for h in hosts {
        cpu_total += h.cpus as f64 * h.cpu_mhz as f64 * c.cpu_overcommit;
        cpu_used += h.used_cpu_mhz as f64;
        mem_total += h.memory as f64 * c.mem_overcommit;
        mem_used += h.used_memory as f64;
    }
    cpu_total > 0.0
        && mem_total > 0.0
        && (cpu_used + cpu_need(r) as f64) / cpu_total <= policy.cluster_cpu_threshold
        && (mem_used + r.memory as f64) / mem_total <= policy.cluster_mem_threshold
}

/// A small deterministic generator (splitmix64) for the `random` allocator.
fn splitmix(mut x: u64) -> impl FnMut() -> u64 {
    move || {
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// Chooses a host and a pool, or explains why none fits.
pub fn plan(s: &Snapshot, r: &Request, policy: &Policy) -> Result<Placement, NoFit> {
    // Candidate clusters in scope, with their hosts: one pass over the hosts,
    // grouped by cluster index, so a plan is linear in the snapshot size.
    let mut clusters: Vec<(&Cluster, Vec<&Host>)> = s
        .clusters
        .iter()
        .filter(|c| {
            r.cluster.map(|x| x == c.id).unwrap_or(true)
                && r.pod.map(|x| x == c.pod).unwrap_or(true)
        })
        .filter(|c| !r.avoid_clusters.contains(&c.id))
        .map(|c| (c, Vec::new()))
        .collect();
    let index: std::collections::HashMap<Uuid, usize> = clusters
        .iter()
        .enumerate()
        .map(|(i, (c, _))| (c.id, i))
        .collect();
    for h in &s.hosts {
        if let Some(&i) = index.get(&h.cluster) {
            clusters[i].1.push(h);
        }
    }
    if clusters.is_empty() {
        return Err(NoFit {
            reason: "no cluster in the requested scope".into(),
        });
    }
    let disabled = clusters.iter().filter(|(c, _)| !c.enabled).count();
    if !r.admin {
        clusters.retain(|(c, _)| c.enabled);
    }
    let over = clusters.len();
    clusters.retain(|(c, hs)| cluster_under_threshold(c, hs, r, policy));
    let over = over - clusters.len();
    // Planner: order clusters.
    let free_cpu = |(c, hs): &(&Cluster, Vec<&Host>)| {
        hs.iter()
            .filter(|h| h.usable)
            .map(|h| free(h, c).0)
            .sum::<u64>()
    };
    let owner_vms =
        |(_, hs): &(&Cluster, Vec<&Host>)| hs.iter().map(|h| h.owner_vms as u64).sum::<u64>();
    match policy.planner {
        Planner::FirstFit | Planner::ImplicitDedication => {
            clusters.sort_by_cached_key(|x| std::cmp::Reverse(free_cpu(x)))
        }
        Planner::UserDispersing => {
            clusters.sort_by_cached_key(|x| (owner_vms(x), std::cmp::Reverse(free_cpu(x))))
        }
        Planner::UserConcentratedPod => {
            let pods_with_vms: BTreeSet<Uuid> = clusters
                .iter()
                .filter(|x| owner_vms(x) > 0)
                .map(|(c, _)| c.pod)
                .collect();
            clusters.sort_by_cached_key(|x| {
                (
                    !pods_with_vms.contains(&x.0.pod),
                    std::cmp::Reverse(free_cpu(x)),
                )
            });
        }
    }
    // The owner's dedicated hosts first, then non-strict affinity: clusters holding the best
    // ranked host first (stable: the planner's order otherwise).
    let any_dedicated = s.hosts.iter().any(|h| h.dedicated.is_some());
    let reorder = any_dedicated || !r.host_preference.is_empty() || r.implicit.is_some();
    let rank = |h: &Host| {
        (
            h.dedicated.is_some() && !dedicated_to_others(h, r),
            implicit_rank(h, r),
            r.host_preference.get(&h.id).copied().unwrap_or(0),
        )
    };
    if reorder {
        clusters.sort_by_cached_key(|(_, hs)| {
            std::cmp::Reverse(hs.iter().map(|h| rank(h)).max().unwrap_or((false, 0, 0)))
        });
    }
    let mut rng = splitmix(r.seed);
    let mut host_reasons = (0usize, 0usize);
    let (mut by_affinity, mut by_dedication) = (0usize, 0usize);
    for (c, hosts) in &clusters {
        by_affinity += hosts.iter().filter(|h| !affinity_allows(h, r)).count();
        if any_dedicated {
            by_dedication += hosts
                .iter()
                .filter(|h| affinity_allows(h, r) && dedicated_to_others(h, r))
                .count();
        }
        let mut fit: Vec<&Host> = hosts
            .iter()
            .copied()
            .filter(|h| host_fits(h, c, r))
            .collect();
        host_reasons.0 += hosts.len() - fit.len();
        match policy.allocator {
            Allocator::FirstFit => {}
            Allocator::FirstFitLeastConsumed => {
                fit.sort_by_cached_key(|h| std::cmp::Reverse(free(h, c)))
            }
            Allocator::UserDispersing => fit.sort_by_key(|h| h.owner_vms),
            Allocator::Random => {
                for i in (1..fit.len()).rev() {
                    let j = (rng() % (i as u64 + 1)) as usize;
                    fit.swap(i, j);
                }
            }
        }
        if reorder {
            fit.sort_by_key(|h| std::cmp::Reverse(rank(h)));
        }
        for h in fit {
            let pool = s
                .pools
                .iter()
                .filter(|p| pool_fits(p, h, r, policy))
                .max_by_key(|p| {
                    ((p.capacity as f64 * p.overprovisioning) as u64).saturating_sub(p.allocated)
                });
            match pool {
                Some(p) => {
                    return Ok(Placement {
                        host: h.id,
                        cluster: c.id,
                        pool: p.id,
                    })
                }
                None => host_reasons.1 += 1,
            }
        }
    }
    let mut why = Vec::new();
    if disabled > 0 && !r.admin {
        why.push(format!("{disabled} cluster(s) disabled"));
    }
    if over > 0 {
        why.push(format!("{over} cluster(s) over the allocation thresholds"));
    }
    if by_affinity > 0 {
        why.push(format!(
            "{by_affinity} host(s) ruled out by the VM's strict affinity groups (host anti-affinity: already running a VM of the group; host affinity: not the group's host)"
        ));
    }
    if by_dedication > 0 {
        why.push(format!(
            "{by_dedication} host(s) dedicated to another domain or account"
        ));
    }
    if host_reasons.0 > by_affinity + by_dedication {
        why.push(format!("{} host(s) without enough free CPU or memory, the host tags, a free VM slot, or not Up and Enabled", host_reasons.0 - by_affinity - by_dedication));
    }
    if host_reasons.1 > 0 {
        why.push(format!(
            "{} suitable host(s) without a {} storage pool with {} bytes free and the storage tags",
            host_reasons.1,
            if r.local_storage { "local" } else { "shared" },
            r.disk
        ));
    }
    if why.is_empty() {
        why.push("no host in the requested scope".into());
    }
    Err(NoFit {
        reason: why.join("; "),
    })
}

#[cfg(test)]
mod tests;
