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
const PGW: u128 = 0xa900;

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
        private_gateway: None,
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
        secondary_ips: Vec::new(),
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
            // A private gateway: the router is 172.16.50.2 on VXLAN 5001, the next hop .1;
            // the VPC leaves through it source-NATed.
            Network {
                private_gateway: Some(PrivateGateway {
                    address: ip("172.16.50.2"),
                    source_nat: true,
                }),
                ..tier(
                    PGW,
                    "private-gateway-5001",
                    5001,
                    "172.16.50.0/24",
                    "172.16.50.1",
                    APP_ACL,
                )
            },
        ],
        routes: vec![StaticRoute {
            id: id(0xb001),
            network_id: id(VPC),
            destination: cidr("192.168.100.0/24"),
            next_hop: Some(ip("172.16.50.1")),
            interface: Some("g5001".into()),
            metric: 0,
        }],
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
            tls_pem: None,
        }],
        // An internal load balancer on the web tier: the router answers on 10.50.1.250.
        internal_lbs: vec![InternalLb {
            lb: LoadBalancer {
                id: id(0xf301),
                name: "Cache Pool".into(),
                ip_id: Uuid::nil(),
                protocol: "tcp".into(),
                public_port: 6379,
                private_port: 6379,
                algorithm: Algorithm::Leastconn,
                members: vec![ip("10.50.1.11")],
                cidrs: vec![],
                stickiness: None,
                health_check: None,
                tls_pem: None,
            },
            network_id: id(WEB),
            address: ip("10.50.1.250"),
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
        // A site-to-site VPN to a branch office from the VPC's source-NAT address.
        s2s: vec![SiteToSite {
            id: id(0x5250),
            vpc_id: id(VPC),
            ip_id: id(0x9100),
            peer: "198.51.100.40".into(),
            peer_cidrs: vec![cidr("172.16.0.0/16")],
            psk: "branch-office-key".into(),
            ike_policy: "aes256-sha256;modp2048".into(),
            esp_policy: "aes256-sha256".into(),
            ike_lifetime: 86400,
            esp_lifetime: 3600,
            dpd: true,
            ike_version: "ikev2".into(),
            passive: false,
            split: false,
        }],
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
            if let Some(v) = &r.s2s {
                check(
                    &format!("{name}.{}.swanctl.conf", r.namespace),
                    &v.swanctl_conf,
                );
            }
        }
    }
}

#[test]
fn a_site_to_site_connection_opens_ike_on_the_gateway_address_only() {
    let st = fixture();
    let vr = compile_host(&st, id(VR));
    let r = &vr.routers[0];
    let s2s = r.s2s.as_ref().expect("the VPC router runs the connection");
    assert_eq!(s2s.connections, vec![id(0x5250)]);
    assert!(r
        .nftables
        .contains("iifname \"public\" ip daddr 203.0.113.20 udp dport { 500, 4500 } accept"));
    assert!(!r.nftables.contains("203.0.113.21 udp dport { 500, 4500 }"));
    // Without connections nothing runs and IKE is closed.
    let mut none = fixture();
    none.s2s.clear();
    let vr = compile_host(&none, id(VR));
    assert!(vr.routers[0].s2s.is_none());
    assert!(!vr.routers[0].nftables.contains("dport { 500, 4500 }"));
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
            // The private gateway (its segment sorts first), the router's own address there.
            ("g5001", vec!["172.16.50.2/24".to_string()]),
            // The gateway, then the internal load balancer's address.
            (
                "t300",
                vec!["10.50.1.1/24".to_string(), "10.50.1.250/24".to_string()]
            ),
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
    // In the forward chain, leaving checks come before entering checks (an inter-tier packet
    // needs both).
    let forward = r
        .nftables
        .split_once("chain forward {")
        .map(|(_, f)| f)
        .unwrap_or_default();
    let pos = |s: &str| forward.find(s).unwrap_or(usize::MAX);
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

#[test]
fn an_internal_load_balancer_answers_on_its_tier_and_by_name() {
    let st = fixture();
    let vr = compile_host(&st, id(VR));
    let r = &vr.routers[0];
    let h = r.haproxy_cfg.as_deref().unwrap_or_default();
    assert!(h.contains("bind 10.50.1.250:6379"), "{h}");
    assert!(h.contains("balance leastconn"), "{h}");
    // The name is a DNS label of the balancer's name, in the VPC's domain.
    assert!(r
        .dns
        .contains(&("cache-pool.prod.vpc".to_string(), ip("10.50.1.250"))));
    // From its own tier directly; from the app tier through app's egress and web's ingress.
    let n = &r.nftables;
    let own = n
        .find("iifname \"t300\" ip daddr 10.50.1.250 tcp dport 6379 accept")
        .expect("own tier");
    let out = n
        .find("iifname \"t301\" ip daddr 10.50.1.250 tcp dport 6379 jump acl_out_")
        .expect("other tier's egress");
    let inn = n
        .find("iifname \"t301\" ip daddr 10.50.1.250 tcp dport 6379 jump acl_in_")
        .expect("own tier's ingress");
    assert!(own < out && out < inn);
    // Never from the public side: that is dropped before.
    assert!(n.find("iifname \"public\" drop").expect("public drop") < own);
    // A VM named like the balancer keeps its name.
    let mut st = fixture();
    st.internal_lbs[0].lb.name = "web1".into();
    let r = &compile_host(&st, id(VR)).routers[0];
    assert!(r.dns.iter().filter(|(n, _)| n == "web1.prod.vpc").count() == 1);
    assert!(r
        .dns
        .contains(&("web1.prod.vpc".to_string(), ip("10.50.1.11"))));
}

#[test]
fn dns_labels_of_load_balancer_names() {
    assert_eq!(
        netplan::dns_label("Cache Pool").as_deref(),
        Some("cache-pool")
    );
    assert_eq!(
        netplan::dns_label("a1b2-tcp-80").as_deref(),
        Some("a1b2-tcp-80")
    );
    assert_eq!(netplan::dns_label("--x_y.z--").as_deref(), Some("x-y-z"));
    assert_eq!(netplan::dns_label("日本"), None);
    assert_eq!(netplan::dns_label(""), None);
    assert_eq!(
        netplan::dns_label(&"a".repeat(100)).map(|l| l.len()),
        Some(63)
    );
}

#[test]
fn a_private_gateway_is_an_interface_a_route_and_its_list_on_the_vpc_router() {
    let st = fixture();
    let vr = compile_host(&st, id(VR));
    let r = &vr.routers[0];
    let g = r
        .interfaces
        .iter()
        .find(|i| i.name == "g5001")
        .expect("the gateway's interface");
    assert_eq!(g.addresses, vec!["172.16.50.2/24".to_string()]);
    assert!(
        vr.bridges.iter().any(|b| b.name.contains("5001")),
        "{:?}",
        vr.bridges
    );
    let route = r
        .routes
        .iter()
        .find(|x| x.destination == cidr("192.168.100.0/24"))
        .expect("the static route");
    assert_eq!(route.via, Some(ip("172.16.50.1")));
    assert_eq!(route.dev.as_deref(), Some("g5001"));
    // No DHCP, DNS or data server on it.
    assert!(!r.dnsmasq_conf.contains("g5001"), "{}", r.dnsmasq_conf);
    assert!(!r.data_addresses.contains(&ip("172.16.50.2")));
    let n = &r.nftables;
    assert!(
        n.contains("oifname \"g5001\" ip saddr 10.50.0.0/16 snat to 172.16.50.2"),
        "{n}"
    );
    let list = format!("l{:032x}", APP_ACL);
    // Entering the VPC through it: its list's ingress items, an allow returning so the
    // destination tier's list decides too; leaving through it: its list's egress items.
    assert!(
        n.contains(&format!("iifname \"g5001\" jump acl_gwin_{list}")),
        "{n}"
    );
    assert!(
        n.contains(&format!("oifname \"g5001\" jump acl_out_{list}")),
        "{n}"
    );
    assert!(n.contains(&format!("chain acl_gwin_{list} {{")), "{n}");
}
