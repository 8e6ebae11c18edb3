//! VPC ACL benchmark: a VPC of `TIERS` tiers with `VMS` VMs over `HOSTS` hosts, every tier
//! guarded by one network ACL list of `RULES` items (half ingress, half egress; TCP ports,
//! CIDRs and a service tag). Prints the time to compile the router's host, the ruleset's size,
//! the time to recompile after one item changes and the size of the delta the agent sends
//! (`nft_delta`); writes `full.nft`, `changed.nft` and `delta.nft` into DIR for
//! `scripts/bench-vpc-acl.sh`, which applies them with nft in a fresh namespace.
//!
//!     cargo run --release -p netplan --example vpc_acl_bench -- DIR [RULES VMS TIERS HOSTS]

use std::net::Ipv4Addr;
use std::time::Instant;

use netplan::acl::{Action, Item, Traffic};
use netplan::*;
use uuid::Uuid;

fn id(kind: u128, n: u128) -> Uuid {
    Uuid::from_u128((kind << 64) | n)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn state(rules: u32, vms: u32, tiers: u32, hosts: u32) -> NetState {
    let vpc = id(9, 1);
    let acl = id(8, 1);
    let router_host = id(1, u128::from(hosts));
    let mut st = NetState::default();
    for h in 0..=hosts {
        st.hosts.push(Host {
            id: id(1, u128::from(h)),
            address: Ipv4Addr::new(10, 200, (h >> 8) as u8, h as u8),
        });
    }
    for t in 0..tiers {
        st.networks.push(Network {
            id: id(2, u128::from(t)),
            name: format!("tier{t}"),
            guest_type: GuestType::Isolated,
            isolation: Isolation::Vxlan(5000 + t),
            cidr: Some(Cidr::new(Ipv4Addr::new(10, 90, t as u8, 0), 24).unwrap_or(Cidr::any())),
            gateway: Some(Ipv4Addr::new(10, 90, t as u8, 1)),
            domain: Some("bench.vpc".into()),
            dns: vec![],
            egress_default_allow: true,
            security_groups: false,
            mtu: 1450,
            vpc_id: Some(vpc),
            acl: Some(acl),
            private_gateway: None,
        });
    }
    for v in 0..vms {
        let t = v % tiers;
        let n = v / tiers + 10;
        st.nics.push(Nic {
            id: id(3, u128::from(v)),
            vm_id: id(4, u128::from(v)),
            vm_name: format!("vm{v}"),
            network_id: id(2, u128::from(t)),
            host_id: Some(id(1, u128::from(v % hosts))),
            ip: Some(Ipv4Addr::new(10, 90, t as u8, n as u8)),
            mac: ipam::mac_from(v),
            is_default: true,
            security_groups: vec![],
            secondary_ips: Vec::new(),
        });
    }
    st.routers.push(Router {
        id: id(5, 1),
        name: "r-bench-VM".into(),
        network_id: vpc,
        host_id: Some(router_host),
        running: true,
        guest_ip: Ipv4Addr::UNSPECIFIED,
        guest_mac: String::new(),
        link_local_ip: Ipv4Addr::new(169, 254, 9, 9),
        public: Some(RouterPublic {
            ip: Ipv4Addr::new(203, 0, 113, 9),
            prefix: 24,
            gateway: Ipv4Addr::new(203, 0, 113, 1),
            mac: "02:00:00:00:09:09".into(),
            vlan: None,
        }),
        vpc_id: Some(vpc),
    });
    st.public_ips.push(PublicIp {
        id: id(6, 1),
        address: Ipv4Addr::new(203, 0, 113, 9),
        network_id: vpc,
        source_nat: true,
        static_nat: None,
    });
    st.vpcs.push(Vpc {
        id: vpc,
        name: "bench".into(),
        cidr: Cidr::new(Ipv4Addr::new(10, 90, 0, 0), 16).unwrap_or(Cidr::any()),
        domain: Some("bench.vpc".into()),
        dns: vec![],
    });
    let items = (0..rules)
        .map(|i| Item {
            id: id(7, u128::from(i)),
            number: i + 1,
            action: if i % 3 == 0 {
                Action::Deny
            } else {
                Action::Allow
            },
            traffic: if i % 2 == 0 {
                Traffic::Ingress
            } else {
                Traffic::Egress
            },
            protocol: Protocol::Tcp,
            start_port: Some(1000 + (i % 60000) as u16),
            end_port: Some(1000 + (i % 60000) as u16),
            icmp_type: None,
            icmp_code: None,
            cidrs: vec![Cidr::new(
                Ipv4Addr::new(172, 16 + (i % 16) as u8, (i / 16) as u8, 0),
                24,
            )
            .unwrap_or(Cidr::any())],
            tags: if i % 100 == 0 {
                vec!["Storage".into()]
            } else {
                vec![]
            },
        })
        .collect();
    st.acls.push(AclList { id: acl, items });
    st.service_tags.push(ServiceTag::of_cidrs(
        "Storage",
        &[Cidr::new(Ipv4Addr::new(198, 51, 100, 7), 32).unwrap_or(Cidr::any())],
    ));
    st
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(dir) = args.first().cloned() else {
        eprintln!("usage: vpc_acl_bench DIR [RULES VMS TIERS HOSTS]");
        std::process::exit(2);
    };
    let n: Vec<u32> = args.iter().skip(1).filter_map(|s| s.parse().ok()).collect();
    let (rules, vms, tiers, hosts) = (
        n.first().copied().unwrap_or(2000),
        n.get(1).copied().unwrap_or(500),
        n.get(2).copied().unwrap_or(5),
        n.get(3).copied().unwrap_or(20),
    );
    let st = state(rules, vms, tiers.max(1), hosts.max(1));
    let router_host = id(1, u128::from(hosts.max(1)));
    let mut full_ms = Vec::new();
    let mut full = HostDesired {
        host_id: router_host,
        bridges: vec![],
        taps: vec![],
        security: None,
        routers: vec![],
    };
    for _ in 0..9 {
        let t = Instant::now();
        full = compile_host(&st, router_host);
        full_ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let Some(r) = full.routers.first() else {
        eprintln!("no router compiled");
        std::process::exit(1);
    };
    // One item changes: its port.
    let mut changed_state = st.clone();
    if let Some(i) = changed_state.acls[0].items.get_mut(rules as usize / 2) {
        i.start_port = Some(65000);
        i.end_port = Some(65000);
    }
    let mut change_ms = Vec::new();
    let mut changed = full.clone();
    for _ in 0..9 {
        let t = Instant::now();
        changed = compile_host(&changed_state, router_host);
        change_ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let new = &changed.routers[0].nftables;
    let t = Instant::now();
    let delta = nft_delta(&r.nftables, new).unwrap_or_default();
    let delta_ms = t.elapsed().as_secs_f64() * 1e3;
    let rule_lines = r
        .nftables
        .lines()
        .filter(|l| l.contains("comment \"acl "))
        .count();
    println!(
        "VPC: {tiers} tiers, {vms} VMs on {hosts} hosts; one ACL list of {rules} items on every tier"
    );
    println!(
        "  compile the router's host           {:8.1} ms (median of 9)",
        median(full_ms)
    );
    println!(
        "  ruleset                              {:8} bytes, {rule_lines} ACL rules",
        r.nftables.len()
    );
    println!(
        "  recompile after one item changes     {:8.1} ms",
        median(change_ms)
    );
    println!(
        "  delta (nft_delta)                    {:8.2} ms, {} bytes",
        delta_ms,
        delta.len()
    );
    let write = |name: &str, text: &str| {
        if let Err(e) = std::fs::write(std::path::Path::new(&dir).join(name), text) {
            eprintln!("writing {name}: {e}");
            std::process::exit(1);
        }
    };
    write("full.nft", &r.nftables);
    write("changed.nft", new);
    write("delta.nft", &delta);
}
