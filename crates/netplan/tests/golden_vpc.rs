//! Golden tests of a VPC: two tiers (web, app) with a VM each on two hosts and the VPC's
//! router on a third; web guarded by an ACL list in the shape of the locked-down seed (an
//! allow at 100 beats a deny at 200, a deny at 50 beats an allow at 100, egress to one
//! address on 443 then deny at 4000), app by an empty list. The files under `tests/golden/`
//! named `vpc-*` are what it compiles to (`tests/tools.rs` has nft and dnsmasq check them);
//! regenerate with `UPDATE_GOLDEN=1 cargo test -p netplan` and review the diff like code.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use netplan::acl::{Action, Item, Traffic};
use netplan::*;
use uuid::Uuid;

fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}
fn ip(s: &str) -> Ipv4Addr {
    s.parse().expect("ip")
}
fn cidr(s: &str) -> Cidr {
    s.parse().expect("cidr")
}

const V1: u128 = 0x1100;
const V2: u128 = 0x2200;
const VR: u128 = 0x3300;
const VPC: u128 = 0x7700;
const WEB: u128 = 0xa100;
const APP: u128 = 0xa200;
const WEB_ACL: u128 = 0xac01;
const APP_ACL: u128 = 0xac02;
const ROUTER: u128 = 0x7701;

fn tier(n: u128, name: &str, vni: u32, c: &str, gw: &str, acl: u128) -> Network {
    Network {
        id: id(n),
        name: name.into(),
        guest_type: GuestType::Isolated,
        isolation: Isolation::Vxlan(vni),
        cidr: Some(cidr(c)),
        gateway: Some(ip(gw)),
        domain: Some("prod.vpc".into()),
        dns: vec![ip("192.0.2.53")],
        egress_default_allow: true,
        security_groups: false,
        mtu: 1450,
        vpc_id: Some(id(VPC)),
        acl: Some(id(acl)),
    }
}

fn vm(n: u128, name: &str, net: u128, host: u128, addr: &str) -> Nic {
    Nic {
        id: id(0xc100 + n),
        vm_id: id(0xd100 + n),
        vm_name: name.into(),
        network_id: id(net),
        host_id: Some(id(host)),
        ip: Some(ip(addr)),
        mac: format!("02:00:00:00:10:{n:02X}"),
        is_default: true,
        security_groups: vec![],
    }
}

fn item(
    n: u128,
    number: u32,
    action: Action,
    traffic: Traffic,
    port: Option<u16>,
    cidrs: &[&str],
) -> Item {
    Item {
        id: id(0xe100 + n),
        number,
        action,
        traffic,
        protocol: if port.is_some() {
            Protocol::Tcp
        } else {
            Protocol::All
        },
        start_port: port,
        end_port: port,
        icmp_type: None,
        icmp_code: None,
        cidrs: cidrs.iter().map(|c| cidr(c)).collect(),
        tags: vec![],
    }
}

fn tagged(mut i: Item, tag: &str) -> Item {
    i.tags.push(tag.into());
    i
}

pub fn fixture() -> NetState {
    NetState {
        hosts: vec![
            Host {
                id: id(V1),
                address: ip("192.168.10.1"),
            },
            Host {
                id: id(V2),
                address: ip("192.168.10.2"),
            },
            Host {
                id: id(VR),
                address: ip("192.168.10.3"),
            },
        ],
        networks: vec![
            tier(WEB, "web", 300, "10.50.1.0/24", "10.50.1.1", WEB_ACL),
            tier(APP, "app", 301, "10.50.2.0/24", "10.50.2.1", APP_ACL),
        ],
        nics: vec![
            vm(1, "web1", WEB, V1, "10.50.1.11"),
            vm(2, "app1", APP, V2, "10.50.2.21"),
        ],
        routers: vec![Router {
            id: id(ROUTER),
            name: "r-77-VM".into(),
            network_id: id(VPC),
            host_id: Some(id(VR)),
            running: true,
            guest_ip: Ipv4Addr::UNSPECIFIED,
            guest_mac: String::new(),
            link_local_ip: ip("169.254.7.7"),
            public: Some(RouterPublic {
                ip: ip("203.0.113.20"),
                prefix: 24,
                gateway: ip("203.0.113.1"),
                mac: "02:00:00:00:77:02".into(),
                vlan: None,
            }),
            vpc_id: Some(id(VPC)),
        }],
        public_ips: vec![
            PublicIp {
                id: id(0x9100),
                address: ip("203.0.113.20"),
                network_id: id(VPC),
                source_nat: true,
                static_nat: None,
            },
            PublicIp {
                id: id(0x9101),
                address: ip("203.0.113.21"),
                network_id: id(WEB),
                source_nat: false,
                static_nat: Some(ip("10.50.1.11")),
            },
            PublicIp {
                id: id(0x9102),
                address: ip("203.0.113.22"),
                network_id: id(WEB),
                source_nat: false,
                static_nat: None,
            },
            PublicIp {
                id: id(0x9103),
                address: ip("203.0.113.23"),
                network_id: id(APP),
                source_nat: false,
                static_nat: None,
            },
        ],
        port_forwards: vec![PortForward {
            id: id(0xf101),
            ip_id: id(0x9102),
            protocol: Protocol::Tcp,
            public_start: 8080,
            public_end: 8080,
            private_start: 80,
            private_end: 80,
            dest: ip("10.50.1.11"),
            cidrs: vec![],
        }],
        load_balancers: vec![LoadBalancer {
            id: id(0xf201),
            name: "app-lb".into(),
            ip_id: id(0x9103),
            protocol: "tcp".into(),
            public_port: 80,
            private_port: 80,
            algorithm: Algorithm::Roundrobin,
            members: vec![ip("10.50.2.21")],
            cidrs: vec![],
            stickiness: None,
            health_check: None,
        }],
        vpcs: vec![Vpc {
            id: id(VPC),
            name: "prod".into(),
            cidr: cidr("10.50.0.0/16"),
            domain: Some("prod.vpc".into()),
            dns: vec![ip("192.0.2.53")],
        }],
        acls: vec![
            AclList {
                id: id(WEB_ACL),
                items: vec![
                    item(1, 200, Action::Deny, Traffic::Ingress, Some(8080), &[]),
                    item(
                        2,
                        100,
                        Action::Allow,
                        Traffic::Ingress,
                        Some(8080),
                        &["0.0.0.0/0"],
                    ),
                    item(
                        3,
                        100,
                        Action::Allow,
                        Traffic::Ingress,
                        Some(22),
                        &["10.50.0.0/16"],
                    ),
                    item(4, 50, Action::Deny, Traffic::Ingress, Some(22), &[]),
                    // The locked-down seed: 443 to Storage at 100, nothing else to the Internet.
                    tagged(
                        item(5, 100, Action::Allow, Traffic::Egress, Some(443), &[]),
                        "Storage",
                    ),
                    tagged(
                        item(6, 4000, Action::Deny, Traffic::Egress, None, &[]),
                        "Internet",
                    ),
                ],
            },
            AclList {
                id: id(APP_ACL),
                items: vec![],
            },
        ],
        service_tags: vec![
            ServiceTag::of_cidrs("Storage", &[cidr("198.51.100.7/32")]),
            tags::internet(&[(ip("203.0.113.0"), ip("203.0.113.255"))]),
        ],
        ..Default::default()
    }
}

fn golden_dir() -> PathBuf {
    PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("tests/golden")
}

fn check(name: &str, actual: &str) {
    let path = golden_dir().join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).expect("write golden");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with UPDATE_GOLDEN=1 to create it)",
            path.display()
        )
    });
    assert_eq!(
        actual, expected,
        "{name} differs from its golden file (UPDATE_GOLDEN=1 regenerates)"
    );
}

#[test]
fn a_vpc_compiles_to_its_golden_files() {
    let st = fixture();
    for (host, name) in [(V1, "vpc-v1"), (V2, "vpc-v2"), (VR, "vpc-vr")] {
        let d = compile_host(&st, id(host));
        check(
            &format!("{name}.json"),
            &(serde_json::to_string_pretty(&d).expect("json") + "\n"),
        );
        for r in &d.routers {
            check(&format!("{name}.{}.nft", r.namespace), &r.nftables);
            check(
                &format!("{name}.{}.dnsmasq.conf", r.namespace),
                &r.dnsmasq_conf,
            );
            if let Some(h) = &r.haproxy_cfg {
                check(&format!("{name}.{}.haproxy.cfg", r.namespace), h);
            }
        }
    }
}

#[test]
fn the_vpc_router_is_on_every_tier_and_every_tier_reaches_it() {
    let st = fixture();
    let vr = compile_host(&st, id(VR));
    // The router's host carries both tiers' bridges, peered with the VMs' hosts.
    let peers = |d: &HostDesired, vni: u32| -> Vec<Ipv4Addr> {
        d.bridges
            .iter()
            .find_map(|b| match &b.link {
                Link::Vxlan { vni: v, peers, .. } if *v == vni => Some(peers.clone()),
                _ => None,
            })
            .unwrap_or_default()
    };
    assert_eq!(peers(&vr, 300), vec![ip("192.168.10.1")]);
    assert_eq!(peers(&vr, 301), vec![ip("192.168.10.2")]);
    assert_eq!(
        peers(&compile_host(&st, id(V1)), 300),
        vec![ip("192.168.10.3")]
    );
    assert_eq!(
        peers(&compile_host(&st, id(V2)), 301),
        vec![ip("192.168.10.3")]
    );
    assert!(compile_host(&st, id(V1)).routers.is_empty());
    let r = &vr.routers[0];
    let ifs: Vec<(&str, Vec<String>)> = r
        .interfaces
        .iter()
        .map(|i| (i.name.as_str(), i.addresses.clone()))
        .collect();
    assert_eq!(
        ifs,
        vec![
            ("t300", vec!["10.50.1.1/24".to_string()]),
            ("t301", vec!["10.50.2.1/24".to_string()]),
            (
                "public",
                ["20", "21", "22", "23"]
                    .iter()
                    .map(|n| format!("203.0.113.{n}/24"))
                    .collect()
            ),
            ("control", vec!["169.254.7.7/16".to_string()]),
        ]
    );
    // Names of every tier resolve on the one router.
    assert!(r.dns.contains(&("web1.prod.vpc".into(), ip("10.50.1.11"))));
    assert!(r.dns.contains(&("app1.prod.vpc".into(), ip("10.50.2.21"))));
    assert_eq!(r.leases.len(), 2);
    // Each tier's traffic goes through its chains; source NAT covers the super CIDR.
    for needle in [
        "iifname \"t300\" jump acl_out_l0000000000000000000000000000ac01",
        "oifname \"t301\" jump acl_in_l0000000000000000000000000000ac02",
        "chain acl_in_l0000000000000000000000000000ac01 {",
        "chain acl_out_l0000000000000000000000000000ac02 {",
        "oifname \"public\" ip saddr 10.50.0.0/16 snat to 203.0.113.20",
        "iifname \"public\" ip daddr 203.0.113.21 dnat to 10.50.1.11",
        "set tag_storage {",
        "elements = { 198.51.100.7 }",
        "iifname \"public\" ip daddr 203.0.113.22 tcp dport 8080 dnat to 10.50.1.11:80",
        "iifname \"public\" ip daddr 203.0.113.23 tcp dport 80 accept",
        "ip daddr @tag_storage tcp dport 443 return comment \"acl 100\"",
        "ip daddr @tag_internet drop comment \"acl 4000\"",
    ] {
        assert!(
            r.nftables.contains(needle),
            "{needle} missing:\n{}",
            r.nftables
        );
    }
    // Leaving checks come before entering checks (an inter-tier packet needs both).
    let pos = |s: &str| r.nftables.find(s).unwrap_or(usize::MAX);
    assert!(
        pos("jump acl_out_l0000000000000000000000000000ac02")
            < pos("jump acl_in_l0000000000000000000000000000ac01")
    );
}

#[test]
fn a_tier_without_its_list_in_the_state_denies_ingress() {
    let mut st = fixture();
    st.acls.retain(|l| l.id != id(WEB_ACL));
    let vr = compile_host(&st, id(VR));
    let text = &vr.routers[0].nftables;
    let inbound: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.contains("chain acl_in_none"))
        .take(4)
        .collect();
    assert_eq!(inbound.get(2).map(|l| l.trim()), Some("drop"), "{text}");
}

#[test]
fn a_tag_whose_members_change_changes_only_its_set() {
    let st = fixture();
    let mut moved = fixture();
    moved.service_tags[0] = ServiceTag::of_cidrs("Storage", &[cidr("198.51.100.99/32")]);
    let a = compile_host(&st, id(VR)).routers[0].nftables.clone();
    let b = compile_host(&moved, id(VR)).routers[0].nftables.clone();
    let differ: Vec<(&str, &str)> = a.lines().zip(b.lines()).filter(|(x, y)| x != y).collect();
    assert_eq!(
        differ,
        vec![(
            "        elements = { 198.51.100.7 }",
            "        elements = { 198.51.100.99 }"
        )],
        "only the set's elements change"
    );
}
