//! The routers' rules in a round's state: firewall and egress rules, port forwarding, load
//! balancers (members, stickiness, health checks), static routes and remote-access VPN, each
//! decoded from its stored spec (`db::RuleSpec`); and the small conversions security-group
//! rules share.

use std::net::Ipv4Addr;

use model::VmId;
use netplan::{Cidr, NetState};

use super::load::{RouterSide, Rows};
use crate::core::Core;

pub(super) fn protocol(s: &str) -> Option<netplan::Protocol> {
    use netplan::Protocol::*;
    match s.to_ascii_lowercase().as_str() {
        "tcp" | "6" => Some(Tcp),
        "udp" | "17" => Some(Udp),
        "icmp" | "1" => Some(Icmp),
        "all" | "-1" => Some(All),
        n => n.parse::<u8>().ok().map(Number),
    }
}

pub(super) fn port(v: Option<i64>) -> Option<u16> {
    v.and_then(|p| u16::try_from(p).ok())
}

pub(super) fn int(v: Option<i64>) -> Option<i32> {
    v.and_then(|p| i32::try_from(p).ok())
}

pub(super) fn cidrs(v: &[String]) -> Vec<Cidr> {
    v.iter().filter_map(|s| s.parse().ok()).collect()
}

/// Firewall, egress, port forwarding, load balancer, route and VPN rules of the routers here.
pub(super) fn add_router_rules(st: &Core, s: &mut NetState, rows: &Rows) {
    let side = &rows.router_side;
    let guest_ip_of = |vm: VmId| -> Option<Ipv4Addr> {
        rows.nics
            .iter()
            .filter(|n| n.vm_id == vm)
            .find(|n| rows.router_networks.contains(&n.network_id))
            .and_then(|n| n.ip4.as_deref())
            .and_then(|i| i.parse().ok())
    };
    use db::RuleSpec as K;
    for r in &side.rules {
        match &r.spec {
            K::Firewall(x) => s
                .firewall_rules
                .extend(firewall_rule(r, &x.l4, &x.cidrlist)),
            K::IpForward(x) => s
                .firewall_rules
                .extend(firewall_rule(r, &x.l4, &x.cidrlist)),
            K::EgressFirewall(x) => s.egress_rules.extend(egress_rule(r, x)),
            K::PortForward(x) => s.port_forwards.extend(port_forward(r, x, &guest_ip_of)),
            K::LoadBalancer(x) => s
                .load_balancers
                .extend(load_balancer(r, x, side, &guest_ip_of)),
            K::InternalLb(x) => s.internal_lbs.extend(internal_lb(r, x, side, &guest_ip_of)),
            K::Route(x) => s.routes.extend(static_route(r, x)),
            K::Vpn(x) => s.vpns.extend(remote_access_vpn(st, r, x, side)),
            _ => {}
        }
    }
}

fn firewall_rule(
    r: &db::RuleRow,
    x: &db::rulespec::L4,
    cidrlist: &[String],
) -> Option<netplan::FirewallRule> {
    let ip_id = r.ip_id?;
    let p = protocol(&x.protocol)?;
    Some(netplan::FirewallRule {
        id: r.id,
        ip_id,
        protocol: p,
        start_port: port(x.startport),
        end_port: port(x.endport),
        icmp_type: int(x.icmptype),
        icmp_code: int(x.icmpcode),
        cidrs: cidrs(cidrlist),
    })
}

fn egress_rule(r: &db::RuleRow, x: &db::rulespec::FirewallSpec) -> Option<netplan::EgressRule> {
    let (Some(network_id), Some(p)) = (r.network_id, protocol(&x.l4.protocol)) else {
        return None;
    };
    Some(netplan::EgressRule {
        id: r.id,
        network_id: network_id.into(),
        protocol: p,
        start_port: port(x.l4.startport),
        end_port: port(x.l4.endport),
        icmp_type: int(x.l4.icmptype),
        icmp_code: int(x.l4.icmpcode),
        cidrs: cidrs(&x.cidrlist),
        dest_cidrs: super::tags::split_sources(&x.destcidrlist).0,
        dest_tags: super::tags::split_sources(&x.destcidrlist).1,
    })
}

fn port_forward(
    r: &db::RuleRow,
    x: &db::rulespec::PortForwardSpec,
    guest_ip_of: &dyn Fn(VmId) -> Option<Ipv4Addr>,
) -> Option<netplan::PortForward> {
    let ip_id = r.ip_id?;
    let dest = x
        .vmguestip
        .as_deref()
        .and_then(|a| a.parse().ok())
        .or_else(|| guest_ip_of(x.virtualmachineid));
    let (Some(dest), Some(ps), Some(qs)) =
        (dest, port(Some(x.publicport)), port(Some(x.privateport)))
    else {
        return None;
    };
    Some(netplan::PortForward {
        id: r.id,
        ip_id,
        protocol: protocol(&x.protocol).unwrap_or(netplan::Protocol::Tcp),
        public_start: ps,
        public_end: port(Some(x.publicendport)).unwrap_or(ps),
        private_start: qs,
        private_end: port(Some(x.privateendport)).unwrap_or(qs),
        dest,
        cidrs: cidrs(&x.cidrlist),
    })
}

fn load_balancer(
    r: &db::RuleRow,
    x: &db::rulespec::LbSpec,
    side: &RouterSide,
    guest_ip_of: &dyn Fn(VmId) -> Option<Ipv4Addr>,
) -> Option<netplan::LoadBalancer> {
    let ip_id = r.ip_id?;
    let (Some(pp), Some(qp)) = (port(Some(x.publicport)), port(Some(x.privateport))) else {
        return None;
    };
    let members: Vec<Ipv4Addr> = side
        .lb_members
        .iter()
        .filter(|m| m.owner_id == r.id)
        .filter_map(|m| {
            m.ip.as_deref()
                .and_then(|i| i.parse().ok())
                .or_else(|| guest_ip_of(m.member_id))
        })
        .collect();
    let policies = side
        .lb_policies
        .iter()
        .filter(|p| p.parent_id == Some(r.id));
    let stickiness = policies.clone().find_map(|p| match &p.spec {
        db::RuleSpec::Stickiness(s) => Some(netplan::Stickiness {
            method: s.methodname.clone(),
            name: p.name.clone().unwrap_or_default(),
            params: s.params.clone().into_iter().collect(),
        }),
        _ => None,
    });
    let health_check = policies.clone().find_map(|p| match &p.spec {
        db::RuleSpec::HealthCheck(h) => Some(netplan::HealthCheck {
            ping_path: h.pingpath.clone(),
            interval_s: h.intervaltime.clamp(0, u32::MAX as i64) as u32,
            timeout_s: h.responsetimeout.clamp(0, u32::MAX as i64) as u32,
            healthy: h.healthythreshold.clamp(0, u32::MAX as i64) as u32,
            unhealthy: h.unhealthythreshold.clamp(0, u32::MAX as i64) as u32,
        }),
        _ => None,
    });
    let tls_pem = policies.clone().find_map(|p| match &p.spec {
        db::RuleSpec::LbCert(c) => side.tls.get(&c.certid).cloned(),
        _ => None,
    });
    Some(netplan::LoadBalancer {
        id: r.id,
        name: r.name.clone().unwrap_or_default(),
        ip_id,
        protocol: x.protocol.clone(),
        public_port: pp,
        private_port: qp,
        algorithm: algorithm(&x.algorithm),
        members,
        cidrs: cidrs(&x.cidrlist),
        stickiness,
        health_check,
        tls_pem,
    })
}

/// An internal load balancer: haproxy on the VPC router, on the source address of its tier.
fn internal_lb(
    r: &db::RuleRow,
    x: &db::rulespec::InternalLbSpec,
    side: &RouterSide,
    guest_ip_of: &dyn Fn(VmId) -> Option<Ipv4Addr>,
) -> Option<netplan::InternalLb> {
    let (Some(sp), Some(ip), Ok(address)) = (
        port(Some(x.sourceport)),
        port(Some(x.instanceport)),
        x.sourceipaddress.parse(),
    ) else {
        return None;
    };
    let members = side
        .lb_members
        .iter()
        .filter(|m| m.owner_id == r.id)
        .filter_map(|m| {
            m.ip.as_deref()
                .and_then(|i| i.parse().ok())
                .or_else(|| guest_ip_of(m.member_id))
        })
        .collect();
    Some(netplan::InternalLb {
        lb: netplan::LoadBalancer {
            id: r.id,
            name: r.name.clone().unwrap_or_default(),
            ip_id: uuid::Uuid::nil(),
            protocol: "tcp".into(),
            public_port: sp,
            private_port: ip,
            algorithm: algorithm(&x.algorithm),
            members,
            cidrs: Vec::new(),
            stickiness: None,
            health_check: None,
            tls_pem: None,
        },
        network_id: x.sourceipaddressnetworkid,
        address,
    })
}

fn algorithm(a: &str) -> netplan::Algorithm {
    match a {
        "leastconn" => netplan::Algorithm::Leastconn,
        "source" => netplan::Algorithm::Source,
        _ => netplan::Algorithm::Roundrobin,
    }
}

fn static_route(r: &db::RuleRow, x: &db::rulespec::RouteSpec) -> Option<netplan::StaticRoute> {
    let (Some(network_id), Ok(dest)) = (r.network_id, x.cidr.parse::<Cidr>()) else {
        return None;
    };
    Some(netplan::StaticRoute {
        id: r.id,
        network_id: network_id.into(),
        destination: dest,
        next_hop: x.nexthop.as_deref().and_then(|h| h.parse().ok()),
        interface: x.interface.clone(),
        metric: x.metric.clamp(0, u32::MAX as i64) as u32,
    })
}

fn remote_access_vpn(
    st: &Core,
    r: &db::RuleRow,
    x: &db::rulespec::VpnSpec,
    side: &RouterSide,
) -> Option<netplan::RemoteAccessVpn> {
    let (Some(ip_id), Some(network_id)) = (r.ip_id, r.network_id) else {
        return None;
    };
    let range = x.iprange.as_str();
    let (a, b) = range.split_once('-').unwrap_or((range, range));
    let (Ok(a), Ok(b)) = (a.trim().parse(), b.trim().parse()) else {
        return None;
    };
    let psk = st.key.decrypt(&x.presharedkey).unwrap_or_default();
    Some(netplan::RemoteAccessVpn {
        id: r.id,
        ip_id,
        network_id: network_id.into(),
        range_start: a,
        range_end: b,
        preshared_key: psk,
        users: side
            .vpn_users
            .iter()
            .filter(|u| u.account_id == r.account_id && u.state != model::RuleState::Revoke)
            .filter_map(|u| match &u.spec {
                db::RuleSpec::VpnUser(v) => Some(netplan::VpnUser {
                    username: u.name.clone().unwrap_or_default(),
                    password: st.key.decrypt(&v.password).unwrap_or_default(),
                }),
                _ => None,
            })
            .collect(),
    })
}
