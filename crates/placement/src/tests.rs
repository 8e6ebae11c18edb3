//! Unit cases for each rule, and a property test against a brute-force oracle.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use uuid::Uuid;

use super::*;

fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

fn tags(t: &[&str]) -> BTreeSet<String> {
    t.iter().map(|s| s.to_string()).collect()
}

fn host(n: u128, cluster: u128) -> Host {
    Host {
        id: id(n),
        cluster: id(cluster),
        usable: true,
        cpus: 4,
        cpu_mhz: 2000,
        memory: 8 << 30,
        used_cpu_mhz: 0,
        used_memory: 0,
        vms: 0,
        owner_vms: 0,
        max_guests: 50,
        tags: BTreeSet::new(),
        dedicated: None,
        implicit: BTreeMap::new(),
        implicit_vms: 0,
    }
}

fn cluster(n: u128, pod: u128) -> Cluster {
    Cluster {
        id: id(n),
        pod: id(pod),
        enabled: true,
        cpu_overcommit: 1.0,
        mem_overcommit: 1.0,
    }
}

fn shared_pool(n: u128, cluster: u128) -> Pool {
    Pool {
        id: id(n),
        scope: PoolScope::Cluster(id(cluster)),
        usable: true,
        capacity: 1 << 40,
        allocated: 0,
        overprovisioning: 1.0,
        tags: BTreeSet::new(),
    }
}

/// Two clusters (100, 200) in pods 10 and 20, hosts 1-2 and 3-4, a shared pool each.
fn snapshot() -> Snapshot {
    Snapshot {
        clusters: vec![cluster(100, 10), cluster(200, 20)],
        hosts: vec![host(1, 100), host(2, 100), host(3, 200), host(4, 200)],
        pools: vec![shared_pool(1000, 100), shared_pool(2000, 200)],
    }
}

fn small() -> Request {
    Request {
        cpus: 1,
        cpu_mhz: 500,
        memory: 512 << 20,
        disk: 5 << 30,
        ..Default::default()
    }
}

#[test]
fn first_fit_takes_the_cluster_with_most_free_cpu_then_the_first_host() {
    let mut s = snapshot();
    s.hosts[0].used_cpu_mhz = 4000; // cluster 100 has less free CPU
    let p = plan(&s, &small(), &Policy::default()).expect("fits");
    assert_eq!((p.cluster, p.host, p.pool), (id(200), id(3), id(2000)));
}

#[test]
fn overcommit_ratios_stretch_cpu_and_memory() {
    let mut s = snapshot();
    s.clusters.truncate(1);
    s.hosts.truncate(1);
    let big = Request {
        cpus: 4,
        cpu_mhz: 2000,
        memory: 12 << 30,
        ..small()
    };
    assert!(plan(
        &s,
        &big,
        &Policy {
            cluster_mem_threshold: 1.0,
            ..Policy::default()
        }
    )
    .is_err());
    s.clusters[0].mem_overcommit = 2.0;
    let p = plan(
        &s,
        &big,
        &Policy {
            cluster_cpu_threshold: 1.0,
            cluster_mem_threshold: 1.0,
            ..Policy::default()
        },
    );
    assert_eq!(p.map(|p| p.host), Ok(id(1)));
}

#[test]
fn guest_limit_tags_and_usability_exclude_hosts() {
    let mut s = snapshot();
    s.hosts[0].max_guests = 0;
    s.hosts[1].usable = false;
    s.hosts[2].tags = tags(&["ssd"]);
    let r = Request {
        host_tags: tags(&["ssd"]),
        ..small()
    };
    assert_eq!(plan(&s, &r, &Policy::default()).map(|p| p.host), Ok(id(3)));
    s.hosts[2].tags.clear();
    let e = plan(&s, &r, &Policy::default()).expect_err("no tagged host");
    assert!(e.reason.contains("host tags"), "{e}");
}

#[test]
fn affinity_groups_rule_out_confine_and_prefer_hosts() {
    let s = snapshot();
    let p = Policy {
        allocator: Allocator::FirstFit,
        ..Policy::default()
    };
    let first = plan(&s, &small(), &p).expect("fits").host;
    // Strict anti-affinity: not the host running a member.
    let mut r = small();
    r.anti_affinity_hosts = [first].into();
    let got = plan(&s, &r, &p).expect("another host").host;
    assert_ne!(got, first);
    // All hosts taken by members: refused, and the reason names the groups.
    r.anti_affinity_hosts = (1..=4).map(id).collect();
    let e = plan(&s, &r, &p).expect_err("none left");
    assert!(e.reason.contains("strict affinity groups"), "{}", e.reason);
    // Strict affinity: only the group's host, in whichever cluster.
    let mut r = small();
    r.affinity_hosts = Some([id(4)].into());
    assert_eq!(plan(&s, &r, &p).expect("fits").host, id(4));
    // Non-strict: the preferred host first, a disliked one last — never a refusal.
    let mut r = small();
    r.host_preference = [(id(3), 1), (first, -1)].into();
    assert_eq!(plan(&s, &r, &p).expect("fits").host, id(3));
    r.host_preference = (1..=4).map(|h| (id(h), -1)).collect();
    assert!(plan(&s, &r, &p).is_ok());
}

#[test]
fn dedicated_hosts_are_their_owners_and_come_first_for_them() {
    let mut s = snapshot();
    let p = Policy {
        allocator: Allocator::FirstFit,
        ..Policy::default()
    };
    // Host 4 (the last one tried) is dedicated to domain 70; host 1 to account 80 of domain 71.
    s.hosts[3].dedicated = Some(Dedicated {
        domain: id(70),
        account: None,
    });
    s.hosts[0].dedicated = Some(Dedicated {
        domain: id(71),
        account: Some(id(80)),
    });
    let mut owner = small();
    owner.owner_domains = [id(70), id(1)].into();
    assert_eq!(
        plan(&s, &owner, &p).expect("fits").host,
        id(4),
        "the owner's own first"
    );
    let other = small();
    let got = plan(&s, &other, &p).expect("fits").host;
    assert!(got != id(4) && got != id(1), "others stay off: {got}");
    let mut acct = small();
    acct.owner_account = Some(id(80));
    acct.owner_domains = [id(71)].into();
    assert_eq!(plan(&s, &acct, &p).expect("fits").host, id(1));
    // Only dedicated hosts left: others are refused, saying why.
    s.hosts[1].usable = false;
    s.hosts[2].usable = false;
    let e = plan(&s, &other, &p).expect_err("none of theirs");
    assert!(
        e.reason.contains("dedicated to another domain or account"),
        "{}",
        e.reason
    );
}

#[test]
fn implicit_dedication_keeps_hosts_per_account() {
    let mut s = snapshot();
    let p = Policy {
        planner: Planner::ImplicitDedication,
        allocator: Allocator::FirstFit,
        ..Policy::default()
    };
    // Host 1: account 80's strict implicit VM; host 2: an ordinary VM; hosts 3, 4 empty.
    s.hosts[0].vms = 1;
    s.hosts[0].implicit_vms = 1;
    s.hosts[0].implicit = [(id(80), true)].into();
    s.hosts[1].vms = 1;
    let mut mine = small();
    mine.owner_account = Some(id(80));
    mine.implicit = Some(ImplicitMode::Strict);
    assert_eq!(
        plan(&s, &mine, &p).expect("fits").host,
        id(1),
        "its own host first"
    );
    let mut other = small();
    other.owner_account = Some(id(81));
    other.implicit = Some(ImplicitMode::Strict);
    let got = plan(&s, &other, &p).expect("an empty host").host;
    assert!(got == id(3) || got == id(4), "{got}");
    // Ordinary requests stay off account 80's strict host.
    let plain = small();
    assert_ne!(plan(&s, &plain, &p).expect("fits").host, id(1));
    // Strict with no empty or own host left: nothing; Preferred takes the shared host.
    s.hosts[2].vms = 1;
    s.hosts[3].vms = 1;
    assert!(plan(&s, &other, &p).is_err());
    other.implicit = Some(ImplicitMode::Preferred);
    assert!(plan(&s, &other, &p).is_ok());
}

#[test]
fn local_storage_needs_a_pool_of_that_host() {
    let mut s = snapshot();
    let r = Request {
        local_storage: true,
        ..small()
    };
    assert!(
        plan(&s, &r, &Policy::default()).is_err(),
        "shared pools do not serve local disks"
    );
    s.pools.push(Pool {
        id: id(4000),
        scope: PoolScope::Host(id(4)),
        ..shared_pool(0, 0)
    });
    assert_eq!(
        plan(&s, &r, &Policy::default()),
        Ok(Placement {
            host: id(4),
            cluster: id(200),
            pool: id(4000)
        })
    );
}

#[test]
fn storage_tags_and_space() {
    let mut s = snapshot();
    s.pools[1].allocated = (1u64 << 40) - (1 << 30); // cluster 200's pool is full
    s.hosts[0].used_cpu_mhz = 4000;
    let p = plan(&s, &small(), &Policy::default()).expect("falls back to cluster 100");
    assert_eq!(p.pool, id(1000));
    let r = Request {
        storage_tags: tags(&["fast"]),
        ..small()
    };
    let e = plan(&s, &r, &Policy::default()).expect_err("no tagged pool");
    assert!(e.reason.contains("storage pool"), "{e}");
}

#[test]
fn disabled_clusters_only_for_root_admins_and_thresholds_apply() {
    let mut s = snapshot();
    s.clusters[1].enabled = false;
    s.hosts[0].used_cpu_mhz = 4000;
    assert_eq!(
        plan(&s, &small(), &Policy::default()).map(|p| p.cluster),
        Ok(id(100))
    );
    let admin = Request {
        admin: true,
        ..small()
    };
    assert_eq!(
        plan(&s, &admin, &Policy::default()).map(|p| p.cluster),
        Ok(id(200))
    );
    s.clusters[1].enabled = true;
    for h in &mut s.hosts {
        h.used_memory = 7 << 30; // 87.5% of memory allocated everywhere
    }
    let e = plan(&s, &small(), &Policy::default()).expect_err("over the 0.85 threshold");
    assert!(e.reason.contains("allocation thresholds"), "{e}");
}

#[test]
fn avoid_sets_and_fixed_scope() {
    let s = snapshot();
    let r = Request {
        avoid_hosts: [id(1), id(3)].into(),
        ..small()
    };
    let p = plan(&s, &r, &Policy::default()).expect("fits");
    assert!(p.host == id(2) || p.host == id(4));
    let r = Request {
        host: Some(id(4)),
        ..small()
    };
    assert_eq!(plan(&s, &r, &Policy::default()).map(|p| p.host), Ok(id(4)));
    let r = Request {
        pod: Some(id(10)),
        avoid_clusters: [id(100)].into(),
        ..small()
    };
    assert!(plan(&s, &r, &Policy::default()).is_err());
}

#[test]
fn allocators_order_hosts() {
    let mut s = snapshot();
    s.clusters.truncate(1);
    s.hosts = vec![host(1, 100), host(2, 100), host(3, 100)];
    s.hosts[0].used_memory = 4 << 30;
    s.hosts[1].owner_vms = 3;
    s.hosts[2].owner_vms = 1;
    s.hosts[2].used_cpu_mhz = 1000;
    let with = |a| Policy {
        allocator: a,
        ..Policy::default()
    };
    assert_eq!(
        plan(&s, &small(), &with(Allocator::FirstFit)).map(|p| p.host),
        Ok(id(1))
    );
    assert_eq!(
        plan(&s, &small(), &with(Allocator::FirstFitLeastConsumed)).map(|p| p.host),
        Ok(id(2))
    );
    assert_eq!(
        plan(&s, &small(), &with(Allocator::UserDispersing)).map(|p| p.host),
        Ok(id(1))
    );
    // Random: the same seed gives the same host; different seeds spread over all hosts.
    let r = |seed| Request { seed, ..small() };
    assert_eq!(
        plan(&s, &r(7), &with(Allocator::Random)),
        plan(&s, &r(7), &with(Allocator::Random))
    );
    let chosen: BTreeSet<Uuid> = (0..64)
        .filter_map(|seed| plan(&s, &r(seed), &with(Allocator::Random)).ok())
        .map(|p| p.host)
        .collect();
    assert_eq!(chosen.len(), 3);
    assert_eq!(
        Allocator::parse("userconcentratedpod_random"),
        Some(Allocator::Random)
    );
    assert_eq!(Allocator::parse("nonsense"), None);
}

#[test]
fn planners_order_clusters() {
    let mut s = snapshot();
    s.hosts[2].owner_vms = 2; // the owner already has VMs in cluster 200 (pod 20)
    s.hosts[0].used_cpu_mhz = 100; // cluster 200 has the most free CPU either way
    let with = |p| Policy {
        planner: p,
        ..Policy::default()
    };
    assert_eq!(
        plan(&s, &small(), &with(Planner::UserDispersing)).map(|p| p.cluster),
        Ok(id(100))
    );
    assert_eq!(
        plan(&s, &small(), &with(Planner::UserConcentratedPod)).map(|p| p.cluster),
        Ok(id(200))
    );
}

/// The oracle: does any (cluster, host, pool) satisfy every rule?
fn anything_fits(s: &Snapshot, r: &Request, policy: &Policy) -> bool {
    s.clusters.iter().any(|c| {
        let hosts: Vec<&Host> = s.hosts.iter().filter(|h| h.cluster == c.id).collect();
        (c.enabled || r.admin)
            && !r.avoid_clusters.contains(&c.id)
            && r.cluster.map(|x| x == c.id).unwrap_or(true)
            && r.pod.map(|x| x == c.pod).unwrap_or(true)
            && cluster_under_threshold(c, &hosts, r, policy)
            && hosts
                .iter()
                .any(|h| host_fits(h, c, r) && s.pools.iter().any(|p| pool_fits(p, h, r, policy)))
    })
}

fn arb_snapshot() -> impl Strategy<Value = Snapshot> {
    let host = (
        0u128..3,
        any::<bool>(),
        1u32..8,
        0u64..8000,
        0u64..(16u64 << 30),
        0u32..4,
        any::<bool>(),
        0u32..5,
    );
    (
        prop::collection::vec((any::<bool>(), 1.0f64..3.0, 1.0f64..2.0), 1..4),
        prop::collection::vec(host, 0..10),
        prop::collection::vec(
            (0u128..12, any::<bool>(), 0u64..(1u64 << 34), any::<bool>()),
            0..6,
        ),
    )
        .prop_map(|(cs, hs, ps)| {
            let clusters: Vec<Cluster> = cs
                .iter()
                .enumerate()
                .map(|(i, (en, cr, mr))| Cluster {
                    id: id(100 + i as u128),
                    pod: id(10 + (i as u128 % 2)),
                    enabled: *en,
                    cpu_overcommit: *cr,
                    mem_overcommit: *mr,
                })
                .collect();
            let n = clusters.len() as u128;
            let hosts: Vec<Host> = hs
                .iter()
                .enumerate()
                .map(
                    |(i, (c, usable, cpus, used_cpu, used_mem, vms, tagged, slots))| Host {
                        id: id(1 + i as u128),
                        cluster: id(100 + c % n),
                        usable: *usable,
                        cpus: *cpus,
                        cpu_mhz: 2000,
                        memory: 16 << 30,
                        used_cpu_mhz: *used_cpu,
                        used_memory: *used_mem,
                        vms: *vms,
                        owner_vms: *vms / 2,
                        max_guests: *slots,
                        tags: if *tagged {
                            tags(&["ssd"])
                        } else {
                            BTreeSet::new()
                        },
                        // Hosts 1–3: dedicated to domain 70, account 80 of it, domain 71.
                        dedicated: match i {
                            0 => Some(Dedicated {
                                domain: id(70),
                                account: None,
                            }),
                            1 => Some(Dedicated {
                                domain: id(70),
                                account: Some(id(80)),
                            }),
                            2 => Some(Dedicated {
                                domain: id(71),
                                account: None,
                            }),
                            _ => None,
                        },
                        // Host 5 runs account 80's strict implicitly dedicated VMs (all of
                        // them), host 6 account 81's preferred ones among others.
                        implicit: match i {
                            4 => [(id(80), true)].into(),
                            5 => [(id(81), false)].into(),
                            _ => BTreeMap::new(),
                        },
                        implicit_vms: match i {
                            4 => *vms,
                            5 => (*vms).min(1),
                            _ => 0,
                        },
                    },
                )
                .collect();
            let pools = ps
                .iter()
                .enumerate()
                .map(|(i, (scope, usable, allocated, tagged))| Pool {
                    id: id(1000 + i as u128),
                    scope: match scope {
                        0..=3 => PoolScope::Cluster(id(100 + scope % n)),
                        4..=5 => PoolScope::Zone,
                        x => PoolScope::Host(id(1 + (x - 6))),
                    },
                    usable: *usable,
                    capacity: 1 << 34,
                    allocated: *allocated,
                    overprovisioning: 1.0,
                    tags: if *tagged {
                        tags(&["fast"])
                    } else {
                        BTreeSet::new()
                    },
                })
                .collect();
            Snapshot {
                clusters,
                hosts,
                pools,
            }
        })
}

fn arb_request() -> impl Strategy<Value = Request> {
    (
        1u32..6,
        100u64..2500,
        0u64..(12u64 << 30),
        0u64..(8u64 << 30),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<u64>(),
        prop::option::of(1u128..6),
        any::<bool>(),
        (
            prop::collection::btree_set(1u128..10, 0..4),
            prop::option::of(prop::collection::btree_set(1u128..10, 0..4)),
            prop::collection::btree_map(1u128..10, -2i32..3, 0..4),
        ),
    )
        .prop_map(
            |(
                cpus,
                mhz,
                mem,
                disk,
                ssd,
                fast,
                local,
                admin,
                seed,
                avoid,
                unreserved,
                (anti, aff, pref),
            )| Request {
                cpus,
                cpu_mhz: mhz,
                memory: mem,
                disk,
                host_tags: if ssd { tags(&["ssd"]) } else { BTreeSet::new() },
                storage_tags: if fast {
                    tags(&["fast"])
                } else {
                    BTreeSet::new()
                },
                local_storage: local,
                admin,
                seed,
                avoid_hosts: avoid.map(|a| [id(a)].into()).unwrap_or_default(),
                unreserved_cpu: unreserved,
                anti_affinity_hosts: anti.into_iter().map(id).collect(),
                affinity_hosts: aff.map(|a| a.into_iter().map(id).collect()),
                host_preference: pref.into_iter().map(|(h, p)| (id(h), p)).collect(),
                owner_account: if seed % 3 == 0 { Some(id(80)) } else { None },
                owner_domains: if seed % 2 == 0 {
                    [id(70)].into()
                } else {
                    BTreeSet::new()
                },
                implicit: match seed % 5 {
                    0 => Some(ImplicitMode::Strict),
                    1 => Some(ImplicitMode::Preferred),
                    _ => None,
                },
                ..Default::default()
            },
        )
}

fn arb_policy() -> impl Strategy<Value = Policy> {
    (0usize..3, 0usize..4, 0.5f64..1.0, 0.5f64..1.0).prop_map(|(p, a, ct, mt)| Policy {
        planner: [
            Planner::FirstFit,
            Planner::UserDispersing,
            Planner::UserConcentratedPod,
        ][p],
        allocator: [
            Allocator::FirstFit,
            Allocator::Random,
            Allocator::FirstFitLeastConsumed,
            Allocator::UserDispersing,
        ][a],
        cluster_cpu_threshold: ct,
        cluster_mem_threshold: mt,
        pool_threshold: 0.85,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Every answer obeys every rule; "no fit" only when nothing fits; same input, same answer.
    #[test]
    fn plan_agrees_with_the_oracle(s in arb_snapshot(), r in arb_request(), policy in arb_policy()) {
        let got = plan(&s, &r, &policy);
        match &got {
            Ok(p) => {
                let c = s.clusters.iter().find(|c| c.id == p.cluster).expect("cluster exists");
                let h = s.hosts.iter().find(|h| h.id == p.host).expect("host exists");
                let pool = s.pools.iter().find(|x| x.id == p.pool).expect("pool exists");
                let hosts: Vec<&Host> = s.hosts.iter().filter(|x| x.cluster == c.id).collect();
                prop_assert_eq!(h.cluster, c.id);
                prop_assert!(c.enabled || r.admin);
                prop_assert!(host_fits(h, c, &r));
                // Stated again without the crate's predicates: a free VM slot, the cores, and
                // the free CPU unless the request holds none.
                prop_assert!(h.vms < h.max_guests);
                prop_assert!(h.cpus >= r.cpus && h.cpu_mhz >= r.cpu_mhz);
                prop_assert!(r.unreserved_cpu || free(h, c).0 >= r.cpus as u64 * r.cpu_mhz);
                // Strict affinity groups: never a host running a member of an anti-affinity
                // group, only the affinity group's hosts.
                prop_assert!(!r.anti_affinity_hosts.contains(&h.id));
                prop_assert!(r.affinity_hosts.as_ref().is_none_or(|a| a.contains(&h.id)));
                // Implicit dedication: never a host with another account's strict implicit
                // VMs; in Strict mode only hosts holding nothing but the account's own.
                prop_assert!(!h.implicit.iter().any(|(a, strict)| *strict && Some(*a) != r.owner_account));
                if r.implicit == Some(ImplicitMode::Strict) {
                    prop_assert!(h.vms == h.implicit_vms && h.implicit.keys().all(|a| Some(*a) == r.owner_account));
                }
                // Dedication: another owner's host never.
                match h.dedicated {
                    Some(Dedicated { account: Some(a), .. }) => prop_assert_eq!(r.owner_account, Some(a)),
                    Some(Dedicated { domain, .. }) => prop_assert!(r.owner_domains.contains(&domain)),
                    None => {}
                }
                prop_assert!(pool_fits(pool, h, &r, &policy));
                prop_assert!(cluster_under_threshold(c, &hosts, &r, &policy));
            }
            Err(e) => {
                prop_assert!(!anything_fits(&s, &r, &policy), "said no fit ({}) but something fits", e.reason);
                prop_assert!(!e.reason.is_empty());
            }
        }
        prop_assert_eq!(got, plan(&s, &r, &policy));
    }
}
