//! A VPC's router: one namespace with an interface on every implemented tier (the tier's
//! gateway address, named `t<VNI>`), the VPC's public side and source NAT for its super CIDR,
//! DHCP and DNS for every tier (VM names of all tiers resolve in the VPC's domain), and the
//! tiers' network ACLs: the forward chain sends traffic leaving a tier through its list's
//! `acl_out_<list>` chain, then traffic entering a tier through its list's `acl_in_<list>`
//! chain ([`crate::acl::render`]); a list's chains exist once however many tiers it guards.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::Ipv4Addr;

use crate::compile::{bridge_name, namespace, Index, Interface, Lease, RouterDesired};
use crate::state::*;

/// The chain tag of a network ACL list: `l` and its id's 32 hex digits.
pub fn list_tag(list: uuid::Uuid) -> String {
    format!("l{}", list.simple())
}

/// A tier's interface on its VPC router (`t<VNI>`; a private gateway's `g<VNI>`).
pub fn tier_interface(n: &Network) -> Option<String> {
    let p = if n.private_gateway.is_some() {
        "g"
    } else {
        "t"
    };
    match n.isolation {
        Isolation::Vxlan(v) => Some(format!("{p}{v}")),
        Isolation::Vlan(v) => Some(format!("{p}{v}")),
        Isolation::None => None,
    }
}

/// The MAC of the router's interface on a tier: derived from both ids, so it is stable
/// without being stored.
pub fn tier_mac(router: uuid::Uuid, network: uuid::Uuid) -> String {
    let mut b = router.as_bytes().to_vec();
    b.extend_from_slice(network.as_bytes());
    let d = crate::digest(&b);
    let bits = u32::from_str_radix(&d[8..], 16).unwrap_or(0);
    crate::ipam::mac_from(bits)
}

/// The implemented tiers of a VPC (with an interface name, a CIDR and a gateway), by VNI.
pub(crate) fn tiers<'a>(ix: &Index<'a>, vpc: uuid::Uuid) -> Vec<&'a Network> {
    let mut v: Vec<&Network> = ix
        .networks
        .values()
        .copied()
        .filter(|n| n.vpc_id == Some(vpc))
        .filter(|n| tier_interface(n).is_some() && n.cidr.is_some() && n.gateway.is_some())
        .collect();
    v.sort_by_key(|n| (tier_interface(n), n.id));
    v
}

pub(crate) fn compile_vpc_router(
    ix: &Index,
    r: &Router,
    vpc_id: uuid::Uuid,
) -> Option<RouterDesired> {
    let st = ix.st;
    let vpc = st.vpcs.iter().find(|v| v.id == vpc_id)?;
    let tiers = tiers(ix, vpc_id);
    let tier_ids: BTreeSet<uuid::Uuid> = tiers.iter().map(|t| t.id).collect();
    let mut ips: Vec<&PublicIp> = st
        .public_ips
        .iter()
        .filter(|p| p.network_id == vpc_id || tier_ids.contains(&p.network_id))
        .collect();
    ips.sort_by_key(|p| (!p.source_nat, p.address));
    let ilbs = internal_lbs(st, &tier_ids);

    let mut interfaces = Vec::new();
    for t in &tiers {
        let (Some(name), Some(c), Some(gw)) = (tier_interface(t), t.cidr, t.gateway) else {
            continue;
        };
        // A private gateway: the router's own address there (the gateway is the next hop).
        if let Some(pg) = t.private_gateway {
            interfaces.push(Interface {
                name,
                bridge: Some(bridge_name(t)),
                mac: Some(tier_mac(r.id, t.id)),
                addresses: vec![format!("{}/{}", pg.address, c.len)],
            });
            continue;
        }
        // The gateway, then the addresses of the tier's internal load balancers.
        let mut addresses = vec![gw];
        for l in ilbs.iter().filter(|l| l.network_id == t.id) {
            if c.contains(l.address) && !addresses.contains(&l.address) {
                addresses.push(l.address);
            }
        }
        interfaces.push(Interface {
            name,
            bridge: Some(bridge_name(t)),
            mac: Some(tier_mac(r.id, t.id)),
            addresses: addresses.iter().map(|a| format!("{a}/{}", c.len)).collect(),
        });
    }
    let mut routes = Vec::new();
    crate::compile::outer_side(r, &ips, &mut interfaces, &mut routes);
    // Static routes of the VPC (through its private gateways).
    crate::compile::static_routes(st, vpc_id, &mut routes);

    // Every tier's VMs: leases per tier, names across the VPC.
    let domain = vpc.domain.clone().unwrap_or_else(|| "cs.internal".into());
    let mut per_tier: Vec<(&Network, Vec<Lease>)> = Vec::new();
    for t in tiers.iter().filter(|t| t.private_gateway.is_none()) {
        let mut nics: Vec<&Nic> = ix
            .nics_of
            .get(&t.id)
            .into_iter()
            .flatten()
            .copied()
            .filter(|n| n.ip.is_some())
            .collect();
        nics.sort_by_key(|n| (n.ip, n.id));
        nics.dedup_by_key(|n| n.ip);
        let leases = nics
            .iter()
            .filter_map(|n| {
                Some(Lease {
                    mac: n.mac.to_lowercase(),
                    ip: n.ip?,
                    hostname: n.vm_name.clone(),
                })
            })
            .collect();
        per_tier.push((t, leases));
    }
    let leases: Vec<Lease> = per_tier.iter().flat_map(|(_, l)| l.clone()).collect();
    let mut dns: Vec<(String, Ipv4Addr)> = leases
        .iter()
        .map(|l| (format!("{}.{domain}", l.hostname), l.ip))
        .collect();
    for (t, _) in &per_tier {
        if let Some(gw) = t.gateway {
            dns.push((format!("data-server.{domain}"), gw));
        }
    }
    let mut dnsmasq_conf = dnsmasq(vpc, r, &per_tier, &domain);
    let on_vpc: BTreeSet<(uuid::Uuid, Ipv4Addr)> = per_tier
        .iter()
        .flat_map(|(t, l)| l.iter().map(|l| (t.id, l.ip)))
        .collect();
    let mut guests: Vec<GuestData> = st
        .guests
        .iter()
        .filter(|(n, g)| on_vpc.contains(&(*n, g.ip)))
        .map(|(_, g)| g.clone())
        .collect();
    guests.sort_by_key(|g| (g.ip, g.vm_id));
    guests.dedup_by_key(|g| g.ip);
    let nftables = ruleset(ix, vpc, &tiers, &ips, &ilbs);
    let mut public: Vec<&LoadBalancer> = st
        .load_balancers
        .iter()
        .filter(|l| ips.iter().any(|i| i.id == l.ip_id))
        .collect();
    public.sort_by_key(|l| (l.public_port, l.id));
    // Public load balancers on the VPC's addresses, then the internal ones on tier addresses.
    let mut lbs: Vec<(Ipv4Addr, &LoadBalancer)> = public
        .into_iter()
        .filter_map(|l| Some((ips.iter().find(|i| i.id == l.ip_id)?.address, l)))
        .collect();
    lbs.extend(ilbs.iter().map(|l| (l.address, &l.lb)));
    let haproxy_cfg = (!lbs.is_empty()).then(|| crate::render::haproxy(&lbs));
    let haproxy_files = crate::render::haproxy_files(&lbs);
    // Every load balancer answers to its name in the VPC's domain, from every tier.
    let records = crate::render::lb_records(&lbs, &leases, &domain);
    dnsmasq_conf.push_str(&crate::render::host_records(&records));
    dns.extend(records);
    // A remote-access VPN on one of the VPC's addresses: clients get addresses of its range
    // and reach the tiers through the tiers' ingress items.
    let vpn = st
        .vpns
        .iter()
        .filter(|v| v.network_id == vpc_id || tier_ids.contains(&v.network_id))
        .min_by_key(|v| v.id)
        .and_then(|v| {
            let ip = ips.iter().find(|i| i.id == v.ip_id)?;
            let local = per_tier
                .iter()
                .find_map(|(t, _)| t.gateway)
                .unwrap_or(vpc.cidr.addr);
            Some(crate::render::vpn(v, ip.address, local))
        });
    // Site-to-site VPN connections, from the VPC's address each was made on.
    let s2s = s2s_of(st, vpc_id, &ips)
        .and_then(|(local, conns)| crate::s2s::render(&conns, local, vpc.cidr));
    Some(RouterDesired {
        router_id: r.id,
        network_id: vpc_id,
        namespace: namespace(r.id),
        interfaces,
        routes,
        leases,
        dns,
        dnsmasq_conf,
        nftables,
        haproxy_cfg,
        haproxy_files,
        vpn,
        s2s,
        // The data and password servers answer on every tier's gateway.
        data_address: Ipv4Addr::UNSPECIFIED,
        data_addresses: per_tier.iter().filter_map(|(t, _)| t.gateway).collect(),
        guests,
    })
}

/// A VPC's site-to-site connections on one of its addresses (the gateway's: a VPC has one),
/// with that address.
fn s2s_of<'a>(
    st: &'a NetState,
    vpc: uuid::Uuid,
    ips: &[&PublicIp],
) -> Option<(Ipv4Addr, Vec<&'a SiteToSite>)> {
    let conns: Vec<&SiteToSite> = st.s2s.iter().filter(|c| c.vpc_id == vpc).collect();
    let first = conns.iter().map(|c| c.ip_id).min()?;
    let local = ips.iter().find(|i| i.id == first)?.address;
    Some((
        local,
        conns.into_iter().filter(|c| c.ip_id == first).collect(),
    ))
}

/// The internal load balancers on these tiers, by address, port and id.
fn internal_lbs<'a>(st: &'a NetState, tiers: &BTreeSet<uuid::Uuid>) -> Vec<&'a InternalLb> {
    let mut v: Vec<&InternalLb> = st
        .internal_lbs
        .iter()
        .filter(|l| tiers.contains(&l.network_id))
        .collect();
    v.sort_by_key(|l| (l.address, l.lb.public_port, l.lb.id));
    v
}

/// dnsmasq for every tier: DHCP with static leases per tier interface, DNS for the VM names
/// of all tiers; `data-server` answers with the gateway of the tier asking.
fn dnsmasq(vpc: &Vpc, r: &Router, tiers: &[(&Network, Vec<Lease>)], domain: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Canopy VPC router {} for VPC {}", r.name, vpc.name);
    for (t, _) in tiers {
        if let Some(i) = tier_interface(t) {
            let _ = writeln!(out, "interface={i}");
        }
    }
    out.push_str("bind-dynamic\nexcept-interface=lo\nexcept-interface=public\n");
    out.push_str("no-resolv\nno-hosts\ndhcp-authoritative\nlog-dhcp\nlocalise-queries\n");
    for d in &vpc.dns {
        let _ = writeln!(out, "server={d}");
    }
    let _ = writeln!(out, "domain={domain}");
    let _ = writeln!(out, "local=/{domain}/");
    for (t, _) in tiers {
        let (Some(i), Some(c), Some(gw)) = (tier_interface(t), t.cidr, t.gateway) else {
            continue;
        };
        let _ = writeln!(
            out,
            "dhcp-range=set:{i},{},static,{},1h",
            c.addr,
            c.netmask()
        );
        let _ = writeln!(out, "dhcp-option=tag:{i},option:router,{gw}");
        let _ = writeln!(out, "dhcp-option=tag:{i},option:dns-server,{gw}");
        let _ = writeln!(out, "dhcp-option=tag:{i},option:domain-name,{domain}");
        let _ = writeln!(out, "dhcp-option=tag:{i},option:mtu,{}", t.mtu);
        let _ = writeln!(out, "interface-name=data-server.{domain},{i}");
    }
    for (_, leases) in tiers {
        for l in leases {
            let _ = writeln!(out, "dhcp-host={},{},{},infinite", l.mac, l.ip, l.hostname);
        }
    }
    for (_, leases) in tiers {
        for l in leases {
            let _ = writeln!(
                out,
                "host-record={}.{domain},{},{}",
                l.hostname, l.hostname, l.ip
            );
        }
    }
    out
}

/// The VPC router's ruleset: static NAT, source NAT of the super CIDR, the public side closed
/// to the router itself, and every tier's ACL chains in the forward path.
fn ruleset(
    ix: &Index,
    vpc: &Vpc,
    tiers: &[&Network],
    ips: &[&PublicIp],
    ilbs: &[&InternalLb],
) -> String {
    let st = ix.st;
    let mut out = String::new();
    out.push_str("# Canopy VPC router (generated; applied as one transaction)\n");
    out.push_str("table ip canopy {}\ndelete table ip canopy\n");
    out.push_str("table ip canopy {\n");
    // The service tags the tiers' items name, as sets (a tag missing from the state is an
    // empty set: its items match nothing).
    let used: BTreeSet<&str> = tiers
        .iter()
        .filter_map(|t| t.acl)
        .filter_map(|a| st.acls.iter().find(|l| l.id == a))
        .flat_map(|l| {
            l.items
                .iter()
                .flat_map(|i| i.tags.iter().map(String::as_str))
        })
        .collect();
    for name in used {
        let empty = crate::tags::ServiceTag {
            name: name.to_string(),
            ranges: vec![],
        };
        let t = st
            .service_tags
            .iter()
            .find(|t| t.name.eq_ignore_ascii_case(name))
            .map(|t| crate::tags::ServiceTag {
                name: name.to_string(),
                ranges: t.ranges.clone(),
            })
            .unwrap_or(empty);
        out.push_str(&crate::tags::render_set(&t));
    }
    // Each list's chains once, whichever tiers it guards (a change of one item rewrites one
    // chain); a tier whose list is not in the state gets the empty list's (ingress denied).
    let list_of = |t: &Network| -> (String, &[crate::acl::Item]) {
        match t.acl.and_then(|a| st.acls.iter().find(|l| l.id == a)) {
            Some(l) => (list_tag(l.id), l.items.as_slice()),
            None => ("none".to_string(), &[]),
        }
    };
    let ip_of = |id: uuid::Uuid| ips.iter().find(|i| i.id == id).map(|i| i.address);
    let mut pfs: Vec<&PortForward> = st
        .port_forwards
        .iter()
        .filter(|p| ip_of(p.ip_id).is_some())
        .collect();
    pfs.sort_by_key(|p| (ip_of(p.ip_id), p.public_start, p.protocol, p.id));
    out.push_str("    chain prerouting {\n        type nat hook prerouting priority dstnat; policy accept;\n");
    for i in ips.iter() {
        if let Some(vm) = i.static_nat {
            let _ = writeln!(
                out,
                "        iifname \"public\" ip daddr {} dnat to {vm}",
                i.address
            );
        }
    }
    for p in &pfs {
        let Some(addr) = ip_of(p.ip_id) else { continue };
        let proto = if p.protocol == Protocol::Udp {
            "udp"
        } else {
            "tcp"
        };
        let range = |a: u16, b: u16| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}-{b}")
            }
        };
        let _ = writeln!(
            out,
            "        iifname \"public\" ip daddr {addr} {proto} dport {} dnat to {}:{}",
            range(p.public_start, p.public_end),
            p.dest,
            range(p.private_start, p.private_end)
        );
    }
    out.push_str("    }\n");
    out.push_str("    chain postrouting {\n        type nat hook postrouting priority srcnat; policy accept;\n");
    for i in ips.iter() {
        if let Some(vm) = i.static_nat {
            let _ = writeln!(
                out,
                "        oifname \"public\" ip saddr {vm} snat to {}",
                i.address
            );
        }
    }
    if let Some(snat) = ips.iter().find(|i| i.source_nat) {
        let _ = writeln!(
            out,
            "        oifname \"public\" ip saddr {} snat to {}",
            vpc.cidr, snat.address
        );
    }
    // A private gateway with source NAT: the VPC leaves through it as the router's address.
    for t in tiers {
        if let (Some(pg), Some(i)) = (t.private_gateway, tier_interface(t)) {
            if pg.source_nat {
                let _ = writeln!(
                    out,
                    "        oifname \"{i}\" ip saddr {} snat to {}",
                    vpc.cidr, pg.address
                );
            }
        }
    }
    out.push_str("    }\n");
    out.push_str(
        "    chain input {\n        type filter hook input priority filter; policy accept;\n",
    );
    out.push_str("        iifname \"public\" ct state established,related accept\n");
    // The load balancers' ports on their addresses (haproxy runs in the router).
    let mut lbs: Vec<&LoadBalancer> = st
        .load_balancers
        .iter()
        .filter(|l| ip_of(l.ip_id).is_some())
        .collect();
    lbs.sort_by_key(|l| (ip_of(l.ip_id), l.public_port, l.id));
    for l in lbs {
        let Some(addr) = ip_of(l.ip_id) else { continue };
        let proto = if l.protocol == "udp" { "udp" } else { "tcp" };
        let who = crate::render::set_of(&l.cidrs)
            .map(|s| format!(" ip saddr {s}"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "        iifname \"public\" ip daddr {addr}{who} {proto} dport {} accept",
            l.public_port
        );
    }
    // A remote-access VPN's IKE, NAT-T and L2TP, and ESP, on its address.
    let tier_ids: BTreeSet<uuid::Uuid> = tiers.iter().map(|t| t.id).collect();
    for v in st
        .vpns
        .iter()
        .filter(|v| v.network_id == vpc.id || tier_ids.contains(&v.network_id))
    {
        if let Some(ip) = ip_of(v.ip_id) {
            let _ = writeln!(
                out,
                "        iifname \"public\" ip daddr {ip} udp dport {{ 500, 1701, 4500 }} accept"
            );
            let _ = writeln!(
                out,
                "        iifname \"public\" ip daddr {ip} meta l4proto esp accept"
            );
        }
    }
    // Site-to-site VPN: IKE and NAT-T (ESP travels in UDP 4500) on the gateway's address.
    if let Some((local, _)) = s2s_of(st, vpc.id, ips) {
        let _ = writeln!(
            out,
            "        iifname \"public\" ip daddr {local} udp dport {{ 500, 4500 }} accept"
        );
    }
    out.push_str("        iifname \"public\" drop\n");
    // An internal load balancer is reached from its own tier directly; from another tier
    // through that tier's egress items and its own tier's ingress items, as if it were a
    // VM of its tier (CloudStack's internal LB VM sits on the tier).
    for l in ilbs {
        let Some(own) = tiers.iter().find(|t| t.id == l.network_id) else {
            continue;
        };
        let Some(own_if) = tier_interface(own) else {
            continue;
        };
        let dest = format!("ip daddr {} tcp dport {}", l.address, l.lb.public_port);
        let _ = writeln!(out, "        iifname \"{own_if}\" {dest} accept");
        for t in tiers.iter().filter(|t| t.id != own.id) {
            let Some(i) = tier_interface(t) else { continue };
            // From a private gateway: its list's way in.
            let leaving = if t.private_gateway.is_some() {
                "acl_gwin_"
            } else {
                "acl_out_"
            };
            let _ = writeln!(
                out,
                "        iifname \"{i}\" {dest} jump {leaving}{}",
                list_of(t).0
            );
            let _ = writeln!(
                out,
                "        iifname \"{i}\" {dest} jump acl_in_{}",
                list_of(own).0
            );
        }
    }
    out.push_str("    }\n");
    out.push_str(
        "    chain forward {\n        type filter hook forward priority filter; policy accept;\n",
    );
    out.push_str("        ct state invalid drop\n");
    // Leaving a tier: its list's egress items (an allow returns here, a deny drops). Entering
    // the VPC through a private gateway: its list's ingress items (an allow returns here too,
    // so the destination tier's ingress items still decide).
    for t in tiers {
        if let Some(i) = tier_interface(t) {
            let chain = if t.private_gateway.is_some() {
                "acl_gwin_"
            } else {
                "acl_out_"
            };
            let _ = writeln!(out, "        iifname \"{i}\" jump {chain}{}", list_of(t).0);
        }
    }
    // From outside, only what a static NAT (or forwarding) rule sent in reaches a tier.
    out.push_str("        iifname \"public\" ct state new ct status != dnat drop\n");
    // Entering a tier: its list's ingress items (from another tier or, DNAT'd, from outside).
    // Leaving the VPC through a private gateway: its list's egress items.
    for t in tiers {
        if let Some(i) = tier_interface(t) {
            let chain = if t.private_gateway.is_some() {
                "acl_out_"
            } else {
                "acl_in_"
            };
            let _ = writeln!(out, "        oifname \"{i}\" jump {chain}{}", list_of(t).0);
        }
    }
    out.push_str("    }\n");
    let mut lists: Vec<(String, &[crate::acl::Item])> = tiers.iter().map(|t| list_of(t)).collect();
    lists.sort_by(|a, b| a.0.cmp(&b.0));
    lists.dedup_by(|a, b| a.0 == b.0);
    for (tag, items) in lists {
        out.push_str(&crate::acl::render(&tag, items));
    }
    // The private gateways' lists, entering: ingress items that return on allow.
    let mut gw_lists: Vec<(String, &[crate::acl::Item])> = tiers
        .iter()
        .filter(|t| t.private_gateway.is_some())
        .map(|t| list_of(t))
        .collect();
    gw_lists.sort_by(|a, b| a.0.cmp(&b.0));
    gw_lists.dedup_by(|a, b| a.0 == b.0);
    for (tag, items) in gw_lists {
        out.push_str(&crate::acl::render_gateway_in(&tag, items));
    }
    out.push_str("}\n");
    out
}
