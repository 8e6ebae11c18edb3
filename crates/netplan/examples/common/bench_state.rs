//! The benchmarks' network state: `vms` VMs in 20 security groups whose ingress + egress make
//! `rules` rules per VM, spread over `hosts` hosts, plus an isolated network whose router
//! carries 200 port forwards, 50 firewall rules and 20 load balancers.

use std::net::Ipv4Addr;

use netplan::*;
use uuid::Uuid;

pub fn id(kind: u128, n: u128) -> Uuid {
    Uuid::from_u128((kind << 64) | n)
}

pub fn state(vms: u32, rules: u32, hosts: u32) -> NetState {
    let groups = 20u32;
    let mut st = NetState::default();
    for h in 0..hosts {
        st.hosts.push(Host {
            id: id(1, h.into()),
            address: Ipv4Addr::new(10, 0, (h >> 8) as u8, h as u8),
        });
    }
    let shared = id(2, 1);
    let isolated = id(2, 2);
    let net = |nid, name: &str, vni, cidr: &str, sg| Network {
        id: nid,
        name: name.into(),
        guest_type: GuestType::Shared,
        isolation: Isolation::Vxlan(vni),
        cidr: Some(cidr.parse().expect("cidr")),
        gateway: None,
        domain: Some("bench.internal".into()),
        dns: vec![],
        egress_default_allow: true,
        security_groups: sg,
        mtu: 1450,
        vpc_id: None,
        acl: None,
        private_gateway: None,
    };
    st.networks
        .push(net(shared, "shared", 6000, "10.64.0.0/16", true));
    st.networks
        .push(net(isolated, "isolated", 6001, "10.1.0.0/16", false));
    for g in 0..groups {
        // `rules` per VM: each VM is in one group whose ingress + egress make `rules`.
        let mk = |k: u32, dir: u128| SgRule {
            id: id(3 + dir, (g * 1000 + k).into()),
            protocol: if k.is_multiple_of(3) {
                Protocol::Udp
            } else {
                Protocol::Tcp
            },
            start_port: Some(1000 + k as u16),
            end_port: Some(1000 + k as u16 + (k % 4) as u16),
            icmp_type: None,
            icmp_code: None,
            cidrs: vec![format!("172.{}.{}.0/24", g, k).parse().expect("cidr")],
            groups: if k.is_multiple_of(10) {
                vec![id(5, ((g + 1) % groups).into())]
            } else {
                vec![]
            },
        };
        st.security_groups.push(SecurityGroup {
            id: id(5, g.into()),
            name: format!("g{g}"),
            ingress: (0..rules * 4 / 5).map(|k| mk(k, 0)).collect(),
            egress: (0..rules / 5).map(|k| mk(k, 1)).collect(),
        });
    }
    for v in 0..vms {
        let host = id(1, (v % hosts).into());
        st.nics.push(Nic {
            id: id(6, v.into()),
            vm_id: id(7, v.into()),
            vm_name: format!("vm{v}"),
            network_id: shared,
            host_id: Some(host),
            ip: Some(Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 64, 0, 10)) + v)),
            mac: format!("02:00:00:00:{:02x}:{:02x}", v >> 8, v & 0xff),
            is_default: true,
            security_groups: vec![id(5, (v % groups).into())],
            secondary_ips: Vec::new(),
        });
        if v < 200 {
            st.nics.push(Nic {
                id: id(8, v.into()),
                vm_id: id(9, v.into()),
                vm_name: format!("iso{v}"),
                network_id: isolated,
                host_id: Some(host),
                ip: Some(Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 1, 0, 10)) + v)),
                mac: format!("02:00:00:01:{:02x}:{:02x}", v >> 8, v & 0xff),
                is_default: true,
                security_groups: vec![],
                secondary_ips: Vec::new(),
            });
        }
    }
    st.routers.push(Router {
        id: id(10, 1),
        name: "r-1-VM".into(),
        network_id: isolated,
        host_id: Some(id(1, 0)),
        running: true,
        guest_ip: Ipv4Addr::new(10, 1, 0, 1),
        guest_mac: "02:00:00:02:00:01".into(),
        link_local_ip: Ipv4Addr::new(169, 254, 0, 9),
        public: Some(RouterPublic {
            ip: Ipv4Addr::new(203, 0, 113, 2),
            prefix: 24,
            gateway: Ipv4Addr::new(203, 0, 113, 1),
            mac: "02:00:00:02:00:02".into(),
            vlan: None,
        }),
        vpc_id: None,
    });
    for p in 0..20u32 {
        st.public_ips.push(PublicIp {
            id: id(11, p.into()),
            address: Ipv4Addr::new(203, 0, 113, 2 + p as u8),
            network_id: isolated,
            source_nat: p == 0,
            static_nat: None,
        });
        st.load_balancers.push(LoadBalancer {
            id: id(12, p.into()),
            name: format!("lb{p}"),
            ip_id: id(11, p.into()),
            protocol: "tcp".into(),
            public_port: 80,
            private_port: 8080,
            algorithm: Algorithm::Leastconn,
            members: (0..10)
                .map(|m| Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 1, 0, 10)) + p * 10 + m))
                .collect(),
            cidrs: vec![],
            stickiness: None,
            health_check: None,
            tls_pem: None,
        });
    }
    for k in 0..200u32 {
        st.port_forwards.push(PortForward {
            id: id(13, k.into()),
            ip_id: id(11, (k % 20).into()),
            protocol: Protocol::Tcp,
            public_start: 2000 + k as u16,
            public_end: 2000 + k as u16,
            private_start: 22,
            private_end: 22,
            dest: Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 1, 0, 10)) + k),
            cidrs: vec![],
        });
    }
    for k in 0..50u32 {
        st.firewall_rules.push(FirewallRule {
            id: id(14, k.into()),
            ip_id: id(11, (k % 20).into()),
            protocol: Protocol::Tcp,
            start_port: Some(2000 + k as u16),
            end_port: None,
            icmp_type: None,
            icmp_code: None,
            cidrs: vec!["198.51.100.0/24".parse().expect("cidr")],
        });
    }
    st
}
