//! Compile benchmark: 1,000 VMs, each with 50 security-group rules, on 10 hosts, plus an
//! isolated network whose router carries 200 port forwards, 50 firewall rules and 20 load
//! balancers. Prints the time to compile every host, and one host, as the median of runs.
//!
//!     cargo run --release -p netplan --example compile_bench [-- VMS RULES HOSTS]

use std::time::Instant;

use netplan::*;
use uuid::Uuid;

#[path = "common/bench_state.rs"]
mod bench_state;
use bench_state::state;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let a: Vec<u32> = std::env::args()
        .skip(1)
        .filter_map(|s| s.parse().ok())
        .collect();
    let (vms, rules, hosts) = (
        a.first().copied().unwrap_or(1000),
        a.get(1).copied().unwrap_or(50),
        a.get(2).copied().unwrap_or(10),
    );
    let st = state(vms, rules, hosts);
    let host_ids: Vec<Uuid> = st.hosts.iter().map(|h| h.id).collect();
    let mut all = Vec::new();
    let mut one = Vec::new();
    let mut bytes = 0usize;
    let mut lines = 0usize;
    for _ in 0..15 {
        let t = Instant::now();
        let out: Vec<HostDesired> = host_ids.iter().map(|h| compile_host(&st, *h)).collect();
        all.push(t.elapsed().as_secs_f64() * 1e3);
        bytes = out
            .iter()
            .map(|d| serde_json::to_string(d).map(|s| s.len()).unwrap_or(0))
            .sum();
        lines = out
            .iter()
            .filter_map(|d| d.security.as_ref())
            .map(|s| s.lines().count())
            .sum();
        let t = Instant::now();
        let d = compile_host(&st, host_ids[1 % host_ids.len()]);
        one.push(t.elapsed().as_secs_f64() * 1e3);
        std::hint::black_box(d.digest());
    }
    println!(
        "netplan compile: {vms} VMs x {rules} rules on {hosts} hosts (+1 router, 200 port forwards, 20 LBs)"
    );
    println!(
        "  all hosts: median {:.2} ms  ({} security-rule lines, {} KiB of desired state)",
        median(all),
        lines,
        bytes / 1024
    );
    println!("  one host:  median {:.2} ms", median(one));
}
