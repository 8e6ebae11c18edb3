//! Text renderers: nftables rulesets, dnsmasq, haproxy and L2TP/IPsec configuration.
//! Deterministic: inputs arrive sorted or are sorted here.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::Ipv4Addr;

use crate::compile::{tap_name, Index, Lease, VpnDesired};
use crate::state::*;

fn hex8(id: uuid::Uuid) -> String {
    crate::compile::short(id, 8)
}

fn ports(start: Option<u16>, end: Option<u16>) -> Option<String> {
    match (start, end) {
        (Some(a), Some(b)) if b > a => Some(format!("{a}-{b}")),
        (Some(a), _) => Some(a.to_string()),
        (None, Some(b)) => Some(b.to_string()),
        (None, None) => None,
    }
}

fn any(v: Option<i32>) -> Option<i32> {
    v.filter(|x| *x >= 0)
}

/// The layer-4 part of a match. `dport_expr` is what the destination port is read from
/// (`tcp dport` in place, `ct original proto-dst` after DNAT).
pub(crate) fn l4(
    protocol: Protocol,
    start: Option<u16>,
    end: Option<u16>,
    icmp_type: Option<i32>,
    icmp_code: Option<i32>,
    after_dnat: bool,
) -> String {
    match protocol {
        Protocol::Tcp | Protocol::Udp => {
            let p = if protocol == Protocol::Tcp {
                "tcp"
            } else {
                "udp"
            };
            match (ports(start, end), after_dnat) {
                (Some(r), false) => format!("{p} dport {r}"),
                (Some(r), true) => format!("meta l4proto {p} ct original proto-dst {r}"),
                (None, _) => format!("meta l4proto {p}"),
            }
        }
        Protocol::Icmp => match (any(icmp_type), any(icmp_code)) {
            (Some(t), Some(c)) => format!("icmp type {t} icmp code {c}"),
            (Some(t), None) => format!("icmp type {t}"),
            _ => "meta l4proto icmp".into(),
        },
        Protocol::All => String::new(),
        Protocol::Number(n) => format!("meta l4proto {n}"),
    }
}

pub(crate) fn set_of(cidrs: &[Cidr]) -> Option<String> {
    let mut v: Vec<Cidr> = cidrs.to_vec();
    v.sort_unstable();
    v.dedup();
    if v.is_empty() || v.iter().any(|c| c.len == 0) {
        return None;
    }
    if v.len() == 1 {
        return Some(v[0].to_string());
    }
    Some(format!(
        "{{ {} }}",
        v.iter().map(Cidr::to_string).collect::<Vec<_>>().join(", ")
    ))
}

fn line(out: &mut String, indent: usize, parts: &[&str]) {
    let body: Vec<&str> = parts.iter().copied().filter(|p| !p.is_empty()).collect();
    let _ = writeln!(out, "{}{}", " ".repeat(indent), body.join(" "));
}

fn group_set(g: uuid::Uuid) -> String {
    format!("g_{}", hex8(g))
}

/// The security-group ruleset of a host, two tables in one transaction:
/// * `bridge canopy_spoof`: per tap, stateless anti-spoofing (the VM's MAC and IP, ARP, DHCP
///   discovery) — the bridge family sees the tap port but has no conntrack on these kernels;
/// * `inet canopy_sg`: the stateful rules (bridged IPv4 traverses the inet hooks, where the
///   interface is the bridge), dispatched on bridge + address: `from_<tap>` checks what a VM
///   sends (allowed traffic `return`s, so the receiver's chain still runs for VM-to-VM traffic
///   on one host), `to_<tap>` what it receives. One set of member addresses per group a rule
///   names.
pub(crate) fn security_ruleset(ix: &Index, nics: &[&Nic]) -> String {
    let mut out = String::new();
    out.push_str("# Canopy security groups (generated; applied as one transaction)\n");
    out.push_str("table bridge canopy_spoof {}\ndelete table bridge canopy_spoof\n");
    out.push_str("table inet canopy_sg {}\ndelete table inet canopy_sg\n");

    out.push_str("table bridge canopy_spoof {\n");
    out.push_str(
        "    chain forward {\n        type filter hook forward priority filter; policy accept;\n",
    );
    for n in nics {
        let t = tap_name(n.id);
        let _ = writeln!(out, "        iifname \"{t}\" jump spoof_{t}");
    }
    out.push_str("    }\n");
    for n in nics {
        let t = tap_name(n.id);
        let mac = n.mac.to_lowercase();
        let _ = writeln!(out, "    chain spoof_{t} {{");
        let _ = writeln!(out, "        ether saddr != {mac} drop");
        let _ = writeln!(out, "        ether type arp arp saddr ether != {mac} drop");
        match n.ip {
            Some(ip) => {
                // Its address, and its secondary addresses (addIpToNic).
                let own = if n.secondary_ips.is_empty() {
                    ip.to_string()
                } else {
                    let mut all = vec![ip];
                    all.extend(n.secondary_ips.iter().copied());
                    all.sort_unstable();
                    all.dedup();
                    let l: Vec<String> = all.iter().map(Ipv4Addr::to_string).collect();
                    format!("{{ {} }}", l.join(", "))
                };
                let _ = writeln!(out, "        ether type arp arp saddr ip != {own} drop");
                out.push_str(
                    "        ether type ip ip saddr 0.0.0.0 ip daddr 255.255.255.255 udp sport 68 udp dport 67 accept\n",
                );
                let _ = writeln!(out, "        ether type ip ip saddr != {own} drop");
            }
            None => out.push_str("        ether type ip drop\n"),
        }
        out.push_str("        ether type ip6 drop\n    }\n");
    }
    out.push_str("}\n");

    out.push_str("table inet canopy_sg {\n");
    // Groups referenced by the rules of these NICs' groups.
    let mut referenced: BTreeSet<uuid::Uuid> = BTreeSet::new();
    for n in nics {
        for g in n.security_groups.iter().filter_map(|g| ix.groups.get(g)) {
            for r in g.ingress.iter().chain(&g.egress) {
                referenced.extend(r.groups.iter().copied());
            }
        }
    }
    for g in &referenced {
        let members: &[Ipv4Addr] = ix.members.get(g).map(Vec::as_slice).unwrap_or(&[]);
        let _ = write!(
            out,
            "    set {} {{\n        type ipv4_addr\n",
            group_set(*g)
        );
        if !members.is_empty() {
            let m: Vec<String> = members.iter().map(Ipv4Addr::to_string).collect();
            let _ = writeln!(out, "        elements = {{ {} }}", m.join(", "));
        }
        out.push_str("    }\n");
    }
    out.push_str(
        "    chain forward {\n        type filter hook forward priority filter; policy accept;\n",
    );
    out.push_str("        ct state established,related accept\n");
    out.push_str("        ct state invalid drop\n");
    out.push_str("        udp sport 67 udp dport 68 accept\n");
    for n in nics {
        let (Some(ip), Some(net)) = (n.ip, ix.networks.get(&n.network_id)) else {
            continue;
        };
        let t = tap_name(n.id);
        let br = crate::compile::bridge_name(net);
        let _ = writeln!(out, "        iifname \"{br}\" ip saddr {ip} jump from_{t}");
        let _ = writeln!(out, "        oifname \"{br}\" ip daddr {ip} jump to_{t}");
    }
    out.push_str("    }\n");

    // Each group's rules are rendered once: ingress as a chain of its own that the VMs'
    // `to_` chains jump to (an accept there is final: the sender's side ran first); egress
    // inline in each member's `from_` chain, because an allowed packet must come back with
    // `return` to reach the receiver's chain.
    let mut used: Vec<uuid::Uuid> = nics
        .iter()
        .flat_map(|n| n.security_groups.iter().copied())
        .filter(|g| ix.groups.contains_key(g))
        .collect();
    used.sort_unstable();
    used.dedup();
    let mut egress_text: std::collections::BTreeMap<uuid::Uuid, String> = Default::default();
    for g in &used {
        let Some(grp) = ix.groups.get(g) else {
            continue;
        };
        let _ = writeln!(out, "    chain sgin_{} {{", hex8(*g));
        for r in &grp.ingress {
            rule_lines(&mut out, r, "saddr", "accept");
        }
        out.push_str("    }\n");
        let mut e = String::new();
        for r in &grp.egress {
            rule_lines(&mut e, r, "daddr", "return");
        }
        egress_text.insert(*g, e);
    }
    for n in nics.iter().filter(|n| n.ip.is_some()) {
        let t = tap_name(n.id);
        let mut groups: Vec<uuid::Uuid> = n
            .security_groups
            .iter()
            .copied()
            .filter(|g| ix.groups.contains_key(g))
            .collect();
        groups.sort_unstable();
        groups.dedup();
        let _ = writeln!(out, "    chain from_{t} {{");
        let mut any_egress = false;
        for g in &groups {
            if let Some(e) = egress_text.get(g).filter(|e| !e.is_empty()) {
                out.push_str(e);
                any_egress = true;
            }
        }
        // No egress rule in any of its groups: everything out is allowed (CloudStack's
        // default); once there is one, only what the rules list.
        out.push_str(if any_egress {
            "        drop\n"
        } else {
            "        return\n"
        });
        out.push_str("    }\n");
        let _ = writeln!(out, "    chain to_{t} {{");
        for g in &groups {
            let _ = writeln!(out, "        jump sgin_{}", hex8(*g));
        }
        out.push_str("        drop\n    }\n");
    }
    out.push_str("}\n");
    out
}

fn rule_lines(out: &mut String, r: &SgRule, dir: &str, verdict: &str) {
    let m = l4(
        r.protocol,
        r.start_port,
        r.end_port,
        r.icmp_type,
        r.icmp_code,
        false,
    );
    let comment = format!("comment \"rule {}\"", hex8(r.id));
    if !r.cidrs.is_empty() {
        let who = set_of(&r.cidrs)
            .map(|s| format!("ip {dir} {s}"))
            .unwrap_or_default();
        line(out, 8, &["meta nfproto ipv4", &who, &m, verdict, &comment]);
    }
    let mut groups = r.groups.clone();
    groups.sort_unstable();
    groups.dedup();
    for g in groups {
        let who = format!("ip {dir} @{}", group_set(g));
        line(out, 8, &["meta nfproto ipv4", &who, &m, verdict, &comment]);
    }
}

/// The router's nftables: DNAT for static NAT and port forwarding, SNAT, the ingress firewall
/// on public IPs (for traffic to the router itself and, by the original destination, for
/// traffic forwarded to VMs), and egress with the offering's default policy.
pub(crate) fn router_ruleset(ix: &Index, net: &Network, r: &Router, ips: &[&PublicIp]) -> String {
    let st = ix.st;
    let mut out = String::new();
    out.push_str("# Canopy virtual router (generated; applied as one transaction)\n");
    out.push_str("table ip canopy {}\ndelete table ip canopy\n");
    out.push_str("table ip canopy {\n");
    let ip_of = |id: uuid::Uuid| ips.iter().find(|i| i.id == id).map(|i| i.address);
    // The service tags this network's egress rules name, as sets (one missing from the state
    // is an empty set: its rules match nothing).
    let tags: std::collections::BTreeSet<&str> = st
        .egress_rules
        .iter()
        .filter(|e| e.network_id == net.id)
        .flat_map(|e| e.dest_tags.iter().map(String::as_str))
        .collect();
    for name in tags {
        let ranges = st
            .service_tags
            .iter()
            .find(|t| t.name.eq_ignore_ascii_case(name))
            .map(|t| t.ranges.clone())
            .unwrap_or_default();
        out.push_str(&crate::tags::render_set(&crate::tags::ServiceTag {
            name: name.to_string(),
            ranges,
        }));
    }

    let mut pfs: Vec<&PortForward> = st
        .port_forwards
        .iter()
        .filter(|p| ip_of(p.ip_id).is_some())
        .collect();
    pfs.sort_by_key(|p| (ip_of(p.ip_id), p.public_start, p.protocol, p.id));
    let mut fws: Vec<&FirewallRule> = st
        .firewall_rules
        .iter()
        .filter(|f| ip_of(f.ip_id).is_some())
        .collect();
    fws.sort_by_key(|f| (ip_of(f.ip_id), f.protocol, f.start_port, f.id));

    out.push_str("    chain prerouting {\n        type nat hook prerouting priority dstnat; policy accept;\n");
    for i in ips.iter().filter(|i| i.static_nat.is_some()) {
        if let Some(vm) = i.static_nat {
            let _ = writeln!(
                out,
                "        iifname \"public\" ip daddr {} dnat to {vm}",
                i.address
            );
        }
    }
    for p in &pfs {
        let Some(pub_ip) = ip_of(p.ip_id) else {
            continue;
        };
        let proto = if p.protocol == Protocol::Udp {
            "udp"
        } else {
            "tcp"
        };
        let public = ports(Some(p.public_start), Some(p.public_end)).unwrap_or_default();
        let private = ports(Some(p.private_start), Some(p.private_end)).unwrap_or_default();
        let _ = writeln!(
            out,
            "        iifname \"public\" ip daddr {pub_ip} {proto} dport {public} dnat to {}:{private}",
            p.dest
        );
    }
    out.push_str("    }\n");

    out.push_str("    chain postrouting {\n        type nat hook postrouting priority srcnat; policy accept;\n");
    for i in ips.iter().filter(|i| i.static_nat.is_some()) {
        if let Some(vm) = i.static_nat {
            let _ = writeln!(
                out,
                "        oifname \"public\" ip saddr {vm} snat to {}",
                i.address
            );
        }
    }
    if let (Some(snat), Some(cidr)) = (ips.iter().find(|i| i.source_nat), net.cidr) {
        let _ = writeln!(
            out,
            "        oifname \"public\" ip saddr {cidr} snat to {}",
            snat.address
        );
    }
    out.push_str("    }\n");

    // Traffic to the router itself on its public side (load balancers, VPN).
    out.push_str(
        "    chain input {\n        type filter hook input priority filter; policy accept;\n",
    );
    out.push_str("        iifname \"public\" ct state established,related accept\n");
    out.push_str("        iifname \"public\" ct state invalid drop\n");
    for f in &fws {
        let Some(ip) = ip_of(f.ip_id) else { continue };
        let who = set_of(&f.cidrs)
            .map(|s| format!("ip saddr {s}"))
            .unwrap_or_default();
        let m = l4(
            f.protocol,
            f.start_port,
            f.end_port,
            f.icmp_type,
            f.icmp_code,
            false,
        );
        let dst = format!("ip daddr {ip}");
        line(
            &mut out,
            8,
            &["iifname \"public\"", &dst, &who, &m, "accept"],
        );
    }
    for v in st.vpns.iter().filter(|v| v.network_id == net.id) {
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
    out.push_str("        iifname \"public\" drop\n    }\n");

    out.push_str(
        "    chain forward {\n        type filter hook forward priority filter; policy accept;\n",
    );
    out.push_str("        ct state established,related accept\n");
    out.push_str("        ct state invalid drop\n");
    for f in &fws {
        let Some(ip) = ip_of(f.ip_id) else { continue };
        let who = set_of(&f.cidrs)
            .map(|s| format!("ip saddr {s}"))
            .unwrap_or_default();
        let m = l4(
            f.protocol,
            f.start_port,
            f.end_port,
            f.icmp_type,
            f.icmp_code,
            true,
        );
        let dst = format!("ct original ip daddr {ip}");
        line(
            &mut out,
            8,
            &[
                "iifname \"public\" oifname \"guest\"",
                &dst,
                &who,
                &m,
                "accept",
            ],
        );
    }
    out.push_str("        iifname \"public\" oifname \"guest\" drop\n");
    let (verdict, default) = if net.egress_default_allow {
        ("drop", "accept")
    } else {
        ("accept", "drop")
    };
    let mut egress: Vec<&EgressRule> = st
        .egress_rules
        .iter()
        .filter(|e| e.network_id == net.id)
        .collect();
    egress.sort_by_key(|e| (e.protocol, e.start_port, e.id));
    for e in egress {
        let src = set_of(&e.cidrs)
            .map(|s| format!("ip saddr {s}"))
            .unwrap_or_default();
        // One line per destination source: the CIDRs (none = anywhere), each tag's set.
        let mut dsts: Vec<String> = Vec::new();
        if !e.dest_cidrs.is_empty() || e.dest_tags.is_empty() {
            dsts.push(
                set_of(&e.dest_cidrs)
                    .map(|s| format!("ip daddr {s}"))
                    .unwrap_or_default(),
            );
        }
        for t in &e.dest_tags {
            dsts.push(format!("ip daddr @{}", crate::tags::set_name(t)));
        }
        let m = l4(
            e.protocol,
            e.start_port,
            e.end_port,
            e.icmp_type,
            e.icmp_code,
            false,
        );
        for dst in &dsts {
            line(
                &mut out,
                8,
                &[
                    "iifname \"guest\" oifname \"public\"",
                    &src,
                    dst,
                    &m,
                    verdict,
                ],
            );
        }
    }
    let _ = writeln!(
        out,
        "        iifname \"guest\" oifname \"public\" {default}"
    );
    let _ = r;
    out.push_str("    }\n}\n");
    out
}

/// dnsmasq for one guest network: DHCP with static leases only, DNS for VM names.
pub(crate) fn dnsmasq(net: &Network, r: &Router, leases: &[Lease], domain: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Canopy router {} for network {}", r.name, net.name);
    out.push_str("interface=guest\nbind-interfaces\nexcept-interface=lo\n");
    out.push_str("no-resolv\nno-hosts\ndhcp-authoritative\nlog-dhcp\n");
    for d in &net.dns {
        let _ = writeln!(out, "server={d}");
    }
    let _ = writeln!(out, "domain={domain}");
    let _ = writeln!(out, "local=/{domain}/");
    if let Some(c) = net.cidr {
        let _ = writeln!(
            out,
            "dhcp-range=set:guest,{},static,{},1h",
            c.addr,
            c.netmask()
        );
    }
    let gw = net.gateway.unwrap_or(r.guest_ip);
    let _ = writeln!(out, "dhcp-option=tag:guest,option:router,{gw}");
    let _ = writeln!(
        out,
        "dhcp-option=tag:guest,option:dns-server,{}",
        r.guest_ip
    );
    let _ = writeln!(out, "dhcp-option=tag:guest,option:domain-name,{domain}");
    let _ = writeln!(out, "dhcp-option=tag:guest,option:mtu,{}", net.mtu);
    for l in leases {
        let _ = writeln!(out, "dhcp-host={},{},{},infinite", l.mac, l.ip, l.hostname);
    }
    for l in leases {
        let _ = writeln!(
            out,
            "host-record={}.{domain},{},{}",
            l.hostname, l.hostname, l.ip
        );
    }
    // cloud-init's CloudStack datasource looks for the data server by this name first.
    let _ = writeln!(
        out,
        "host-record=data-server.{domain},data-server,{}",
        r.guest_ip
    );
    out
}

fn haproxy_name(lb: &LoadBalancer) -> String {
    format!("lb_{}", hex8(lb.id))
}

/// Whether haproxy terminates TLS for this load balancer: an `ssl` rule with a certificate.
fn terminates_tls(lb: &LoadBalancer) -> bool {
    lb.protocol == "ssl" && lb.tls_pem.is_some()
}

/// The PEM files of the load balancers that terminate TLS, by file name (relative to the
/// directory haproxy runs in).
pub(crate) fn haproxy_files(lbs: &[(Ipv4Addr, &LoadBalancer)]) -> BTreeMap<String, String> {
    lbs.iter()
        .filter(|(_, lb)| terminates_tls(lb))
        .filter_map(|(_, lb)| Some((format!("{}.pem", haproxy_name(lb)), lb.tls_pem.clone()?)))
        .collect()
}

/// A DNS label for a load balancer's name: lower case, letters, digits and `-` (anything
/// else becomes `-`), at most 63 characters; none when nothing usable is left.
pub fn dns_label(name: &str) -> Option<String> {
    let mut l: String = name
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_alphanumeric() {
                c
            } else {
                '-'
            }
        })
        .collect();
    l = l.trim_matches('-').to_string();
    l.truncate(63);
    let l = l.trim_end_matches('-').to_string();
    (!l.is_empty()).then_some(l)
}

/// The DNS records of a router's load balancers, `<name>.<domain>` → the address it answers
/// on — unless a VM already has that name (the VM keeps it); one record per name (the lowest
/// address when two balancers share one).
pub(crate) fn lb_records(
    lbs: &[(Ipv4Addr, &LoadBalancer)],
    leases: &[Lease],
    domain: &str,
) -> Vec<(String, Ipv4Addr)> {
    let mut out: std::collections::BTreeMap<String, Ipv4Addr> = Default::default();
    for (addr, lb) in lbs {
        let Some(label) = dns_label(&lb.name) else {
            continue;
        };
        if leases
            .iter()
            .any(|l| l.hostname.eq_ignore_ascii_case(&label))
        {
            continue;
        }
        let e = out.entry(label).or_insert(*addr);
        *e = (*e).min(*addr);
    }
    out.into_iter()
        .map(|(l, a)| (format!("{l}.{domain}"), a))
        .collect()
}

/// dnsmasq lines for [`lb_records`].
pub(crate) fn host_records(records: &[(String, Ipv4Addr)]) -> String {
    let mut out = String::new();
    for (name, addr) in records {
        let _ = writeln!(out, "host-record={name},{addr}");
    }
    out
}

/// haproxy for load balancers, each with the address it listens on (a router's public IP, or
/// an internal load balancer's tier address).
pub(crate) fn haproxy(lbs: &[(Ipv4Addr, &LoadBalancer)]) -> String {
    let mut out = String::new();
    out.push_str("# Canopy load balancers (generated)\n");
    out.push_str("global\n    maxconn 4096\n    log stdout format raw local0\n\n");
    out.push_str("defaults\n    mode tcp\n    log global\n    timeout connect 5s\n    timeout client 50s\n    timeout server 50s\n    timeout check 5s\n");
    for (ip, lb) in lbs {
        let name = haproxy_name(lb);
        let tls = terminates_tls(lb);
        let http = tls
            || matches!(
                lb.stickiness.as_ref().map(|s| s.method.as_str()),
                Some("LbCookie") | Some("AppCookie")
            );
        let mode = if http { "http" } else { "tcp" };
        // TLS ends here (CloudStack's `ssl` protocol): the members get plain HTTP, told the
        // client's scheme and address.
        let bind_tls = if tls {
            format!(" ssl crt {name}.pem")
        } else {
            String::new()
        };
        let _ = write!(
            out,
            "\n# {} ({})\nfrontend {name}\n    mode {mode}\n    bind {ip}:{}{bind_tls}\n",
            lb.name, lb.id, lb.public_port
        );
        if tls {
            out.push_str(
                "    option forwardfor\n    http-request set-header X-Forwarded-Proto https\n",
            );
        }
        if let Some(s) = set_of(&lb.cidrs) {
            let list = s
                .trim_start_matches("{ ")
                .trim_end_matches(" }")
                .replace(',', "");
            let _ = writeln!(out, "    acl allowed src {list}");
            out.push_str("    tcp-request connection reject if !allowed\n");
        }
        let _ = writeln!(out, "    default_backend {name}");
        let algo = match lb.algorithm {
            Algorithm::Roundrobin => "roundrobin",
            Algorithm::Leastconn => "leastconn",
            Algorithm::Source => "source",
        };
        let _ = write!(
            out,
            "\nbackend {name}\n    mode {mode}\n    balance {algo}\n"
        );
        let mut cookie_servers = false;
        if let Some(s) = &lb.stickiness {
            let p = |k: &str| s.params.get(k).map(String::as_str);
            match s.method.as_str() {
                "LbCookie" => {
                    let cookie = p("cookie-name").unwrap_or("CANOPYSRV");
                    let mut opts = vec!["insert".to_string()];
                    if p("indirect") != Some("false") {
                        opts.push("indirect".into());
                    }
                    if p("nocache") != Some("false") {
                        opts.push("nocache".into());
                    }
                    if p("postonly") == Some("true") {
                        opts.push("postonly".into());
                    }
                    if let Some(d) = p("domain") {
                        opts.push(format!("domain {d}"));
                    }
                    let _ = writeln!(out, "    cookie {cookie} {}", opts.join(" "));
                    cookie_servers = true;
                }
                "AppCookie" => {
                    let cookie = p("cookie-name").unwrap_or("JSESSIONID");
                    let len = p("length").unwrap_or("52");
                    let hold = p("holdtime").unwrap_or("3h");
                    let _ = writeln!(
                        out,
                        "    stick-table type string len {len} size 200k expire {hold}"
                    );
                    let _ = writeln!(out, "    stick on req.cook({cookie})");
                    let _ = writeln!(out, "    stick store-response res.cook({cookie})");
                }
                _ => {
                    let size = p("tablesize").unwrap_or("200k");
                    let expire = p("expire").unwrap_or("30m");
                    let _ = writeln!(out, "    stick-table type ip size {size} expire {expire}");
                    out.push_str("    stick on src\n");
                }
            }
        }
        let check = if let Some(h) = &lb.health_check {
            let _ = writeln!(out, "    option httpchk GET {}", h.ping_path);
            let _ = writeln!(
                out,
                "    default-server inter {}s fall {} rise {}",
                h.interval_s, h.unhealthy, h.healthy
            );
            let _ = writeln!(out, "    timeout check {}s", h.timeout_s);
            " check"
        } else {
            ""
        };
        let mut members = lb.members.clone();
        members.sort_unstable();
        members.dedup();
        for (i, m) in members.iter().enumerate() {
            let cookie = if cookie_servers {
                format!(" cookie s{i}")
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "    server s{i} {m}:{}{check}{cookie}",
                lb.private_port
            );
        }
    }
    out
}

/// L2TP over IPsec (transport mode, pre-shared key), as CloudStack's router runs it.
pub(crate) fn vpn(v: &RemoteAccessVpn, public: Ipv4Addr, local: Ipv4Addr) -> VpnDesired {
    let ipsec_conf = format!(
        "# Canopy remote access VPN {}\nconn canopy-l2tp-psk\n    keyexchange=ikev1\n    authby=secret\n    type=transport\n    left={public}\n    leftprotoport=17/1701\n    right=%any\n    rightprotoport=17/%any\n    auto=add\n",
        v.id
    );
    let ipsec_secrets = format!("{public} %any : PSK \"{}\"\n", v.preshared_key);
    let xl2tpd_conf = format!(
        "[lns default]\nip range = {}-{}\nlocal ip = {local}\nrequire chap = yes\nrefuse pap = yes\nrequire authentication = yes\nname = canopy-vpn\nppp debug = no\npppoptfile = /etc/ppp/options.xl2tpd\nlength bit = yes\n",
        v.range_start, v.range_end
    );
    let mut users = v.users.clone();
    users.sort_by(|a, b| a.username.cmp(&b.username));
    let mut chap_secrets = String::from("# client server secret addresses\n");
    for u in users {
        let _ = writeln!(chap_secrets, "\"{}\" * \"{}\" *", u.username, u.password);
    }
    VpnDesired {
        ipsec_conf,
        ipsec_secrets,
        xl2tpd_conf,
        chap_secrets,
    }
}

#[cfg(test)]
#[path = "render_tls_tests.rs"]
mod tls_tests;
