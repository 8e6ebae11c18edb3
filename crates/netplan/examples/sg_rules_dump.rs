//! Writes one host's security-group change both ways, for scripts/bench-sg-apply.sh:
//! `DIR/sg.nft` (the compiled ruleset, one `nft -f` transaction) and `DIR/iptables.sh` (the
//! same policy as one `iptables` call per rule: a chain per VM with its rules, the way
//! per-rule tools program it).
//!
//!     cargo run --release -p netplan --example sg_rules_dump -- DIR [VMS RULES]

#[path = "common/bench_state.rs"]
mod bench_state;

use std::fmt::Write;

use netplan::*;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(dir) = args.first() else {
        eprintln!("usage: sg_rules_dump DIR [VMS RULES]");
        std::process::exit(2);
    };
    let vms = args.get(1).and_then(|v| v.parse().ok()).unwrap_or(1000);
    let rules = args.get(2).and_then(|v| v.parse().ok()).unwrap_or(50);
    // Every VM on one host: its ruleset covers all of them.
    let st = bench_state::state(vms, rules, 1);
    let host = st.hosts[0].id;
    let nft = compile_host(&st, host).security.unwrap_or_default();
    // The change: one rule more in one group (its 50 members' traffic is affected).
    let mut changed = st.clone();
    let mut rule = changed.security_groups[0].ingress[0].clone();
    rule.id = uuid::Uuid::from_u128(u128::MAX);
    rule.start_port = Some(9999);
    rule.end_port = Some(9999);
    changed.security_groups[0].ingress.push(rule);
    let nft2 = compile_host(&changed, host).security.unwrap_or_default();
    let (Some(fwd), Some(back)) = (nft_delta(&nft, &nft2), nft_delta(&nft2, &nft)) else {
        eprintln!("the change altered the ruleset's shape: no delta");
        std::process::exit(1);
    };
    let groups: std::collections::HashMap<_, _> =
        st.security_groups.iter().map(|g| (g.id, g)).collect();
    let mut ipt = String::from("set -e\n");
    let mut calls = 0usize;
    let mut add = |s: String| {
        ipt.push_str("iptables -w ");
        ipt.push_str(&s);
        ipt.push('\n');
        calls += 1;
    };
    for n in st.nics.iter().filter(|n| !n.security_groups.is_empty()) {
        let Some(ip) = n.ip else { continue };
        let chain = format!("v{}", &n.id.simple().to_string()[20..]);
        add(format!("-N {chain}-in"));
        add(format!("-N {chain}-out"));
        add(format!("-A FORWARD -d {ip} -j {chain}-in"));
        add(format!("-A FORWARD -s {ip} -j {chain}-out"));
        for g in &n.security_groups {
            let Some(g) = groups.get(g) else { continue };
            for (dir, list, addr) in [("in", &g.ingress, "-s"), ("out", &g.egress, "-d")] {
                for r in list.iter() {
                    let proto = match r.protocol {
                        Protocol::Tcp => "tcp",
                        Protocol::Udp => "udp",
                        _ => "icmp",
                    };
                    let mut rule = format!("-A {chain}-{dir} -p {proto}");
                    if let (Some(s), Some(e)) = (r.start_port, r.end_port) {
                        let _ = write!(rule, " --dport {s}:{e}");
                    }
                    for c in &r.cidrs {
                        add(format!("{rule} {addr} {c} -j ACCEPT"));
                    }
                    // Rules naming a group: one rule per member address.
                    for _ in &r.groups {
                        add(format!("{rule} -m set --match-set g{} src -j ACCEPT", dir));
                    }
                }
            }
        }
        add(format!("-A {chain}-in -j DROP"));
    }
    let _ = std::fs::create_dir_all(dir);
    let w = |f: &str, s: &str| {
        if let Err(e) = std::fs::write(format!("{dir}/{f}"), s) {
            eprintln!("writing {f}: {e}");
            std::process::exit(1);
        }
    };
    w("sg.nft", &nft);
    w("sg-changed.nft", &nft2);
    w("delta-forward.nft", &fwd);
    w("delta-back.nft", &back);
    w("iptables.sh", &ipt);
    println!(
        "{vms} VMs x {rules} rules on one host: sg.nft {} lines ({} KiB), the change as a delta {} lines, iptables.sh {calls} calls",
        nft.lines().count(),
        nft.len() / 1024,
        fwd.lines().count()
    );
}
