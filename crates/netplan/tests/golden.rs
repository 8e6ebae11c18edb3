//! Golden tests: a small cloud (three hosts, an isolated network with a router, a shared
//! network with security groups) compiles to the files under `tests/golden/`. Regenerate
//! with `UPDATE_GOLDEN=1 cargo test -p netplan` and review the diff like code.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;

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

const H1: u128 = 0x1000;
const H2: u128 = 0x2000;
const H3: u128 = 0x3000;
const NET_A: u128 = 0xa000;
const NET_B: u128 = 0xb000;
const SG_DEFAULT: u128 = 0x5000;
const SG_WEB: u128 = 0x5100;

fn nic(n: u128, vm: &str, net: u128, host: Option<u128>, addr: &str, sgs: &[u128]) -> Nic {
    Nic {
        id: id(0xc000 + n),
        vm_id: id(0xd000 + n),
        vm_name: vm.into(),
        network_id: id(net),
        host_id: host.map(id),
        ip: Some(ip(addr)),
        mac: format!("02:00:00:00:00:{n:02X}"),
        is_default: true,
        security_groups: sgs.iter().map(|g| id(*g)).collect(),
        secondary_ips: Vec::new(),
    }
}

fn sg_rule(
    n: u128,
    protocol: Protocol,
    ports: Option<(u16, u16)>,
    cidrs: &[&str],
    groups: &[u128],
) -> SgRule {
    SgRule {
        id: id(0xe000 + n),
        protocol,
        start_port: ports.map(|p| p.0),
        end_port: ports.map(|p| p.1),
        icmp_type: (protocol == Protocol::Icmp).then_some(8),
        icmp_code: (protocol == Protocol::Icmp).then_some(-1),
        cidrs: cidrs.iter().map(|c| cidr(c)).collect(),
        groups: groups.iter().map(|g| id(*g)).collect(),
    }
}

fn fw(n: u128, ip_id: u128, protocol: Protocol, port: Option<u16>, cidrs: &[&str]) -> FirewallRule {
    FirewallRule {
        id: id(0xf000 + n),
        ip_id: id(ip_id),
        protocol,
        start_port: port,
        end_port: port,
        icmp_type: (protocol == Protocol::Icmp).then_some(8),
        icmp_code: None,
        cidrs: cidrs.iter().map(|c| cidr(c)).collect(),
    }
}

fn public(n: u128, addr: &str, snat: bool, static_nat: Option<&str>) -> PublicIp {
    PublicIp {
        id: id(n),
        address: ip(addr),
        network_id: id(NET_A),
        source_nat: snat,
        static_nat: static_nat.map(ip),
    }
}

pub fn fixture() -> NetState {
    let net = |n: u128, name: &str, gt: GuestType, vni: u32, c: &str, gw: &str, sg: bool| Network {
        id: id(n),
        name: name.into(),
        guest_type: gt,
        isolation: Isolation::Vxlan(vni),
        cidr: Some(cidr(c)),
        gateway: Some(ip(gw)),
        domain: Some("acme.internal".into()),
        dns: vec![ip("192.0.2.53")],
        egress_default_allow: false,
        security_groups: sg,
        mtu: 1450,
        vpc_id: None,
        acl: None,
        private_gateway: None,
    };
    NetState {
        // web1's data, and one for an address the network does not have (not served).
        guests: vec![
            (
                id(NET_A),
                GuestData {
                    vm_id: id(0xd001),
                    ip: ip("10.1.1.11"),
                    metadata: [
                        ("instance-id".to_string(), "web1-id".to_string()),
                        ("local-hostname".to_string(), "web1".to_string()),
                    ]
                    .into(),
                    user_data: Some("I2Nsb3VkLWNvbmZpZwo=".into()),
                    password: Some("s3cret".into()),
                },
            ),
            (
                id(NET_A),
                GuestData {
                    vm_id: id(0xdfff),
                    ip: ip("10.1.1.99"),
                    metadata: Default::default(),
                    user_data: None,
                    password: None,
                },
            ),
        ],
        hosts: vec![
            Host {
                id: id(H1),
                address: ip("10.0.0.1"),
            },
            Host {
                id: id(H2),
                address: ip("10.0.0.2"),
            },
            Host {
                id: id(H3),
                address: ip("10.0.0.3"),
            },
        ],
        networks: vec![
            net(
                NET_A,
                "acme-network",
                GuestType::Isolated,
                5001,
                "10.1.1.0/24",
                "10.1.1.1",
                false,
            ),
            net(
                NET_B,
                "shared-sg",
                GuestType::Shared,
                5002,
                "10.2.0.0/24",
                "10.2.0.1",
                true,
            ),
        ],
        nics: vec![
            nic(1, "web1", NET_A, Some(H1), "10.1.1.11", &[]),
            nic(2, "web2", NET_A, Some(H2), "10.1.1.12", &[]),
            nic(3, "db1", NET_A, None, "10.1.1.13", &[]),
            nic(
                4,
                "app1",
                NET_B,
                Some(H1),
                "10.2.0.21",
                &[SG_DEFAULT, SG_WEB],
            ),
            nic(5, "app2", NET_B, Some(H2), "10.2.0.22", &[SG_WEB]),
        ],
        routers: vec![Router {
            id: id(0x7000),
            name: "r-7-VM".into(),
            network_id: id(NET_A),
            host_id: Some(id(H3)),
            running: true,
            guest_ip: ip("10.1.1.1"),
            guest_mac: "02:00:00:00:01:01".into(),
            link_local_ip: ip("169.254.3.7"),
            public: Some(RouterPublic {
                ip: ip("203.0.113.10"),
                prefix: 24,
                gateway: ip("203.0.113.1"),
                mac: "02:00:00:00:01:02".into(),
                vlan: None,
            }),
            vpc_id: None,
        }],
        security_groups: vec![
            SecurityGroup {
                id: id(SG_DEFAULT),
                name: "default".into(),
                ingress: vec![],
                egress: vec![],
            },
            SecurityGroup {
                id: id(SG_WEB),
                name: "web".into(),
                ingress: vec![
                    sg_rule(1, Protocol::Tcp, Some((80, 80)), &["0.0.0.0/0"], &[]),
                    sg_rule(
                        2,
                        Protocol::Tcp,
                        Some((22, 22)),
                        &["192.168.0.0/16", "10.0.0.0/8"],
                        &[],
                    ),
                    sg_rule(3, Protocol::Icmp, None, &[], &[SG_WEB]),
                ],
                egress: vec![
                    sg_rule(4, Protocol::Tcp, Some((443, 443)), &["0.0.0.0/0"], &[]),
                    sg_rule(5, Protocol::Udp, Some((53, 53)), &["10.2.0.1/32"], &[]),
                ],
            },
        ],
        public_ips: vec![
            public(0x9010, "203.0.113.10", true, None),
            public(0x9011, "203.0.113.11", false, Some("10.1.1.11")),
            public(0x9012, "203.0.113.12", false, None),
            public(0x9013, "203.0.113.13", false, None),
        ],
        firewall_rules: vec![
            fw(1, 0x9011, Protocol::Tcp, Some(22), &["0.0.0.0/0"]),
            fw(2, 0x9011, Protocol::Icmp, None, &["0.0.0.0/0"]),
            fw(3, 0x9012, Protocol::Tcp, Some(2222), &["198.51.100.0/24"]),
            fw(4, 0x9013, Protocol::Tcp, Some(80), &["0.0.0.0/0"]),
        ],
        egress_rules: vec![
            EgressRule {
                id: id(0xf100),
                network_id: id(NET_A),
                protocol: Protocol::Tcp,
                start_port: Some(80),
                end_port: Some(443),
                icmp_type: None,
                icmp_code: None,
                cidrs: vec![],
                dest_cidrs: vec![],
                // The locked-down seed's egress on an isolated network: a service tag.
                dest_tags: vec!["Storage".into()],
            },
            EgressRule {
                id: id(0xf101),
                network_id: id(NET_A),
                protocol: Protocol::All,
                start_port: None,
                end_port: None,
                icmp_type: None,
                icmp_code: None,
                cidrs: vec![cidr("10.1.1.0/28")],
                dest_cidrs: vec![cidr("10.9.0.0/16")],
                dest_tags: vec![],
            },
        ],
        port_forwards: vec![
            PortForward {
                id: id(0xf200),
                ip_id: id(0x9012),
                protocol: Protocol::Tcp,
                public_start: 2222,
                public_end: 2222,
                private_start: 22,
                private_end: 22,
                dest: ip("10.1.1.12"),
                cidrs: vec![],
            },
            PortForward {
                id: id(0xf201),
                ip_id: id(0x9012),
                protocol: Protocol::Udp,
                public_start: 8000,
                public_end: 8010,
                private_start: 9000,
                private_end: 9010,
                dest: ip("10.1.1.11"),
                cidrs: vec![],
            },
        ],
        internal_lbs: vec![],
        load_balancers: vec![LoadBalancer {
            id: id(0xf300),
            name: "web-lb".into(),
            ip_id: id(0x9013),
            protocol: "tcp".into(),
            public_port: 80,
            private_port: 8080,
            algorithm: Algorithm::Roundrobin,
            members: vec![ip("10.1.1.12"), ip("10.1.1.11")],
            cidrs: vec![],
            stickiness: Some(Stickiness {
                method: "LbCookie".into(),
                name: "sticky".into(),
                params: BTreeMap::from([("cookie-name".to_string(), "WEBSRV".to_string())]),
            }),
            health_check: Some(HealthCheck {
                ping_path: "/healthz".into(),
                interval_s: 5,
                timeout_s: 2,
                healthy: 2,
                unhealthy: 3,
            }),
            tls_pem: None,
        }],
        routes: vec![
            StaticRoute {
                id: id(0xf400),
                network_id: id(NET_A),
                destination: cidr("10.20.0.0/16"),
                next_hop: Some(ip("10.1.1.254")),
                interface: Some("guest".into()),
                metric: 10,
            },
            StaticRoute {
                id: id(0xf401),
                network_id: id(NET_A),
                destination: cidr("10.20.0.0/16"),
                next_hop: Some(ip("10.1.1.253")),
                interface: Some("guest".into()),
                metric: 5,
            },
            StaticRoute {
                id: id(0xf402),
                network_id: id(NET_A),
                destination: cidr("10.20.30.0/24"),
                next_hop: Some(ip("10.1.1.250")),
                interface: None,
                metric: 100,
            },
        ],
        vpns: vec![RemoteAccessVpn {
            id: id(0xf500),
            ip_id: id(0x9010),
            network_id: id(NET_A),
            range_start: ip("10.1.2.1"),
            range_end: ip("10.1.2.8"),
            preshared_key: "s3cretPSK".into(),
            users: vec![
                VpnUser {
                    username: "bob".into(),
                    password: "pw-bob".into(),
                },
                VpnUser {
                    username: "alice".into(),
                    password: "pw-alice".into(),
                },
            ],
        }],
        vpcs: vec![],
        acls: vec![],
        s2s: vec![],
        service_tags: vec![ServiceTag::of_cidrs("Storage", &[cidr("198.51.100.7/32")])],
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
fn compiled_hosts_match_golden_files() {
    let st = fixture();
    for (host, name) in [(H1, "h1"), (H2, "h2"), (H3, "h3")] {
        let d = compile_host(&st, id(host));
        check(
            &format!("{name}.json"),
            &(serde_json::to_string_pretty(&d).expect("json") + "\n"),
        );
        if let Some(s) = &d.security {
            check(&format!("{name}.security.nft"), s);
        }
        for r in &d.routers {
            check(&format!("{name}.{}.nft", r.namespace), &r.nftables);
            check(
                &format!("{name}.{}.dnsmasq.conf", r.namespace),
                &r.dnsmasq_conf,
            );
            if let Some(h) = &r.haproxy_cfg {
                check(&format!("{name}.{}.haproxy.cfg", r.namespace), h);
            }
            if let Some(v) = &r.vpn {
                let all = format!(
                    "## ipsec.conf\n{}## ipsec.secrets\n{}## xl2tpd.conf\n{}## chap-secrets\n{}",
                    v.ipsec_conf, v.ipsec_secrets, v.xl2tpd_conf, v.chap_secrets
                );
                check(&format!("{name}.{}.vpn.txt", r.namespace), &all);
            }
        }
    }
}

#[test]
fn the_order_of_the_input_does_not_matter() {
    let st = fixture();
    let mut rev = st.clone();
    rev.hosts.reverse();
    rev.networks.reverse();
    rev.nics.reverse();
    rev.public_ips.reverse();
    rev.firewall_rules.reverse();
    rev.egress_rules.reverse();
    rev.port_forwards.reverse();
    rev.routes.reverse();
    for g in &mut rev.security_groups {
        g.ingress.reverse();
    }
    for h in [H1, H2, H3] {
        // Rule order inside a group is the order the user created them in (kept); everything
        // else is sorted by the compiler.
        let a = compile_host(&st, id(h));
        let mut b = compile_host(&rev, id(h));
        if let (Some(x), Some(y)) = (&a.security, &b.security) {
            assert_eq!(x.lines().count(), y.lines().count());
            b.security = a.security.clone();
        }
        assert_eq!(a, b, "host {h:x}");
    }
}

#[test]
fn vxlan_peers_are_the_other_hosts_of_the_network() {
    let st = fixture();
    let d = compile_host(&st, id(H1));
    let a = d
        .bridges
        .iter()
        .find(|b| b.name == "cbr5001")
        .expect("bridge A");
    match &a.link {
        compile::Link::Vxlan { peers, local, .. } => {
            assert_eq!(*local, ip("10.0.0.1"));
            // web2 on h2 and the router on h3; the stopped db1 counts nowhere.
            assert_eq!(peers, &vec![ip("10.0.0.2"), ip("10.0.0.3")]);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(d.taps.len(), 2);
    assert!(d.routers.is_empty());
}

#[test]
fn routes_longest_prefix_first_then_lowest_metric() {
    let d = compile_host(&fixture(), id(H3));
    let r = &d.routers[0];
    let order: Vec<(String, u32)> = r
        .routes
        .iter()
        .map(|x| (x.destination.to_string(), x.metric))
        .collect();
    assert_eq!(
        order,
        vec![
            ("10.20.30.0/24".to_string(), 100),
            ("10.20.0.0/16".to_string(), 5),
            ("10.20.0.0/16".to_string(), 10),
            ("0.0.0.0/0".to_string(), 0),
        ]
    );
}

#[test]
fn a_change_reaches_exactly_the_hosts_it_concerns() {
    let before = fixture();
    let digests = |st: &NetState| -> Vec<String> {
        [H1, H2, H3]
            .iter()
            .map(|h| compile_host(st, id(*h)).digest())
            .collect()
    };
    let d0 = digests(&before);

    // A security-group rule: the hosts of the group's members (h1, h2), not the router's.
    let mut sg = before.clone();
    sg.security_groups[1].ingress.push(sg_rule(
        9,
        Protocol::Udp,
        Some((5000, 5001)),
        &["0.0.0.0/0"],
        &[],
    ));
    let d1 = digests(&sg);
    assert_ne!(d0[0], d1[0]);
    assert_ne!(d0[1], d1[1]);
    assert_eq!(d0[2], d1[2]);

    // A port-forwarding rule: only the router's host.
    let mut pf = before.clone();
    pf.port_forwards[0].public_start = 2223;
    pf.port_forwards[0].public_end = 2223;
    let d2 = digests(&pf);
    assert_eq!(
        (d0[0] == d2[0], d0[1] == d2[1], d0[2] == d2[2]),
        (true, true, false)
    );

    // db1 starting on h1: a tap there; h1 already was a VXLAN peer of A for h2 and h3 and the
    // router already had db1's lease, so nothing else changes.
    let mut start = before.clone();
    start.nics[2].host_id = Some(id(H1));
    let d3 = digests(&start);
    assert_eq!(
        (d0[0] == d3[0], d0[1] == d3[1], d0[2] == d3[2]),
        (false, true, true)
    );

    // web2 stopping: h2 has nothing of A any more, so h1 and h3 lose it as a peer; all three change.
    let mut stop = before.clone();
    stop.nics[1].host_id = None;
    let d4 = digests(&stop);
    assert!(d0.iter().zip(&d4).all(|(a, b)| a != b));
}

/// The other branches of the renderers (AppCookie and SourceBased stickiness, a CIDR-limited
/// load balancer, leastconn/source, an allow-by-default egress policy, protocol numbers, ICMP
/// codes, a VLAN-isolated network, a tagged public VLAN), so the real tools check them too.
#[test]
fn variants_match_golden_files() {
    let mut st = fixture();
    st.networks[0].egress_default_allow = true;
    st.networks[1].isolation = Isolation::Vlan(120);
    if let Some(p) = st.routers[0].public.as_mut() {
        p.vlan = Some(30);
    }
    st.load_balancers[0].stickiness = Some(Stickiness {
        method: "AppCookie".into(),
        name: "app".into(),
        params: BTreeMap::from([
            ("cookie-name".to_string(), "JSESSIONID".to_string()),
            ("holdtime".to_string(), "1h".to_string()),
        ]),
    });
    st.load_balancers[0].algorithm = Algorithm::Leastconn;
    st.load_balancers.push(LoadBalancer {
        id: id(0xf301),
        name: "dns-lb".into(),
        ip_id: id(0x9013),
        protocol: "tcp".into(),
        public_port: 5353,
        private_port: 53,
        algorithm: Algorithm::Source,
        members: vec![ip("10.1.1.11")],
        cidrs: vec![cidr("198.51.100.0/24"), cidr("203.0.113.0/24")],
        stickiness: Some(Stickiness {
            method: "SourceBased".into(),
            name: "src".into(),
            params: BTreeMap::from([("expire".to_string(), "10m".to_string())]),
        }),
        health_check: None,
        tls_pem: None,
    });
    let web = &mut st.security_groups[1];
    web.ingress.push(SgRule {
        id: id(0xe010),
        protocol: Protocol::Number(47),
        start_port: None,
        end_port: None,
        icmp_type: None,
        icmp_code: None,
        cidrs: vec![cidr("10.0.0.0/8")],
        groups: vec![],
    });
    web.ingress.push(SgRule {
        id: id(0xe011),
        protocol: Protocol::Icmp,
        start_port: None,
        end_port: None,
        icmp_type: Some(3),
        icmp_code: Some(4),
        cidrs: vec![cidr("0.0.0.0/0")],
        groups: vec![],
    });
    web.egress.push(SgRule {
        id: id(0xe012),
        protocol: Protocol::All,
        start_port: None,
        end_port: None,
        icmp_type: None,
        icmp_code: None,
        cidrs: vec![cidr("10.2.0.0/24")],
        groups: vec![id(SG_DEFAULT)],
    });
    st.egress_rules.push(EgressRule {
        id: id(0xf102),
        network_id: id(NET_A),
        protocol: Protocol::Udp,
        start_port: Some(53),
        end_port: Some(53),
        icmp_type: None,
        icmp_code: None,
        cidrs: vec![],
        dest_cidrs: vec![cidr("8.8.8.8/32")],
        dest_tags: vec![],
    });
    for (host, name) in [(H1, "v-h1"), (H3, "v-h3")] {
        let d = compile_host(&st, id(host));
        check(
            &format!("{name}.json"),
            &(serde_json::to_string_pretty(&d).expect("json") + "\n"),
        );
        if let Some(s) = &d.security {
            check(&format!("{name}.security.nft"), s);
        }
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
    let h1 = compile_host(&st, id(H1));
    assert!(h1
        .bridges
        .iter()
        .any(|b| matches!(b.link, compile::Link::Vlan { id: 120, .. })));
}
