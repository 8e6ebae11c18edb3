//! Placement decisions per second with the pure function, at a given host count.
//!
//!     cargo run --release -p placement --example bench -- [hosts] [decisions]
//!
//! 10,000 hosts by default, in 100 clusters of 100 hosts (40 pods), shared pools per cluster,
//! a quarter of the hosts partly used; every decision is a fresh seeded request. Then the
//! same zone with 10 VM slots per host (a tenth of the hosts full) and the request in a strict
//! anti-affinity group of 1,000 VMs (1,000 hosts ruled out), and in a non-strict one.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use placement::*;
use uuid::Uuid;

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let hosts = args.first().copied().unwrap_or(10_000) as usize;
    let decisions = args.get(1).copied().unwrap_or(20_000) as usize;
    let per_cluster = 100;
    let clusters = hosts.div_ceil(per_cluster);
    let mut s = Snapshot::default();
    for c in 0..clusters {
        let cid = Uuid::from_u128(1_000_000 + c as u128);
        s.clusters.push(Cluster {
            id: cid,
            pod: Uuid::from_u128(c as u128 % 40),
            enabled: true,
            cpu_overcommit: 2.0,
            mem_overcommit: 1.0,
        });
        s.pools.push(Pool {
            id: Uuid::from_u128(2_000_000 + c as u128),
            scope: PoolScope::Cluster(cid),
            usable: true,
            capacity: 100 << 40,
            allocated: 0,
            overprovisioning: 2.0,
            tags: BTreeSet::new(),
        });
    }
    for h in 0..hosts {
        let c = h / per_cluster;
        s.hosts.push(Host {
            id: Uuid::from_u128(h as u128 + 1),
            cluster: Uuid::from_u128(1_000_000 + c as u128),
            usable: true,
            cpus: 32,
            cpu_mhz: 2500,
            memory: 256 << 30,
            used_cpu_mhz: if h % 4 == 0 { 80_000 } else { 0 },
            used_memory: if h % 4 == 0 { 128 << 30 } else { 0 },
            vms: (h % 20) as u32,
            owner_vms: (h % 3) as u32,
            max_guests: 100,
            tags: BTreeSet::new(),
            dedicated: None,
            implicit: BTreeMap::new(),
            implicit_vms: 0,
        });
    }
    for (name, allocator) in [
        ("firstfit", Allocator::FirstFit),
        ("random", Allocator::Random),
        ("firstfitleastconsumed", Allocator::FirstFitLeastConsumed),
    ] {
        let policy = Policy {
            allocator,
            ..Policy::default()
        };
        let start = Instant::now();
        let mut ok = 0;
        for i in 0..decisions {
            let r = Request {
                cpus: 2,
                cpu_mhz: 1000,
                memory: 4 << 30,
                disk: 20 << 30,
                seed: i as u64,
                ..Default::default()
            };
            if plan(&s, &r, &policy).is_ok() {
                ok += 1;
            }
        }
        let secs = start.elapsed().as_secs_f64();
        println!("placement ({name}): {hosts} hosts, {decisions} decisions in {secs:.2} s = {:.0} decisions/s ({ok} placed)", decisions as f64 / secs);
    }
    // VM slots: 10 per host, every tenth host full; an anti-affinity group of 1,000 VMs.
    for h in s.hosts.iter_mut() {
        h.max_guests = 10;
        h.vms = if h.id.as_u128() % 10 == 0 {
            10
        } else {
            (h.id.as_u128() % 7) as u32
        };
    }
    let members: BTreeSet<Uuid> = s
        .hosts
        .iter()
        .step_by((hosts / 1000).max(1))
        .take(1000)
        .map(|h| h.id)
        .collect();
    let policy = Policy {
        allocator: Allocator::Random,
        ..Policy::default()
    };
    for (name, strict) in [
        ("strict host anti-affinity", true),
        ("non-strict host anti-affinity", false),
    ] {
        let start = Instant::now();
        let mut ok = 0;
        for i in 0..decisions {
            let mut r = Request {
                cpus: 2,
                cpu_mhz: 1000,
                memory: 4 << 30,
                disk: 20 << 30,
                seed: i as u64,
                ..Default::default()
            };
            if strict {
                r.anti_affinity_hosts = members.clone();
            } else {
                r.host_preference = members.iter().map(|h| (*h, -1)).collect();
            }
            if let Ok(p) = plan(&s, &r, &policy) {
                assert!(
                    !strict || !members.contains(&p.host),
                    "a member's host chosen"
                );
                ok += 1;
            }
        }
        let secs = start.elapsed().as_secs_f64();
        println!("placement (random, 10 VM slots per host, {name} group of {} VMs): {hosts} hosts, {decisions} decisions in {secs:.2} s = {:.0} decisions/s ({ok} placed)", members.len(), decisions as f64 / secs);
    }
}
