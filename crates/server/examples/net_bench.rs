//! The networking benchmark, with the real processes: a release `canopy up` (SQLite, or a
//! throwaway PostgreSQL with `--pg`) and `canopy agent --simulate HOSTS`, driven over the API.
//! VMS VMs are deployed on a shared network with security groups, spread over GROUPS groups
//! of RULES rules each (every group also names another group, so member sets are compiled
//! too). Prints:
//! - the end-to-end time of a security-group change: authorizeSecurityGroupIngress accepted
//!   at the API → compiled for every host with a member → pushed → the new generation
//!   acknowledged by those agents (the job ends only then), p50/p99 over CHANGES changes;
//! - the same for a port-forwarding rule on an isolated network (one router);
//! - the server's RSS.
//!
//! Run:
//!
//!     scripts/bench-net.sh            # both databases, 100 hosts, 1,000 VMs, 50 rules each
//!     cargo run --release -p server --example net_bench -- [--pg] [--hosts N] [--vms N] [--rules N]

#[path = "bench_common/mod.rs"]
mod bench_common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use bench_common::*;

#[tokio::main]
async fn main() -> Res<()> {
    main_with(run).await
}

async fn run(data: PathBuf) -> Res<()> {
    let hosts = arg("--hosts", 100);
    let Bench {
        api,
        zone,
        template,
        offering,
        server_pid,
        procs,
        mut pg,
        ..
    } = start(&data, hosts, "").await?;

    let vms = arg("--vms", 1_000);
    let groups = arg("--groups", 20).max(1);
    let rules = arg("--rules", 50).max(2);
    let changes = arg("--changes", 30).max(1);
    for k in [
        "max.account.user.vms",
        "max.account.cpus",
        "max.account.memory",
        "max.account.volumes",
        "max.account.primary.storage",
        "max.account.public.ips",
    ] {
        api.call(&[
            ("command", "updateConfiguration"),
            ("name", k),
            ("value", "-1"),
        ])
        .await?;
    }
    // A shared network with security groups, big enough for every VM.
    let sg_offering = s(&api
        .call(&[
            ("command", "listNetworkOfferings"),
            ("name", "DefaultSharedNetworkOfferingWithSGService"),
        ])
        .await?["networkoffering"][0]["id"]);
    let net = s(&api
        .call(&[
            ("command", "createNetwork"),
            ("name", "bench-shared"),
            ("zoneid", &zone),
            ("networkofferingid", &sg_offering),
            ("gateway", "10.128.0.1"),
            ("netmask", "255.255.0.0"),
            ("startip", "10.128.0.10"),
            ("endip", "10.128.255.250"),
            ("vlan", "4000"),
        ])
        .await?["network"]["id"]);
    // Groups: RULES rules each (4/5 ingress, 1/5 egress), one naming the next group.
    let mut group_ids = Vec::new();
    for g in 0..groups {
        let id = s(&api
            .call(&[
                ("command", "createSecurityGroup"),
                ("name", &format!("g{g}")),
            ])
            .await?["securitygroup"]["id"]);
        group_ids.push(id);
    }
    for (g, id) in group_ids.iter().enumerate() {
        let next = format!("g{}", (g + 1) % groups);
        for k in 0..rules {
            let port = (1000 + k).to_string();
            let cidr = format!("172.{}.{}.0/24", g % 250, k % 250);
            let cmd = if k % 5 == 4 {
                "authorizeSecurityGroupEgress"
            } else {
                "authorizeSecurityGroupIngress"
            };
            let mut p = vec![
                ("command", cmd),
                ("securitygroupid", id.as_str()),
                ("protocol", "tcp"),
                ("startport", port.as_str()),
                ("endport", port.as_str()),
            ];
            let (a, n) = (
                "usersecuritygrouplist[0].account",
                "usersecuritygrouplist[0].group",
            );
            if k == 0 {
                p.push((a, "admin"));
                p.push((n, next.as_str()));
            } else {
                p.push(("cidrlist", cidr.as_str()));
            }
            let j = api.job(&p).await?;
            if j["jobstatus"] != 1 {
                return Err(format!("rule: {j}").into());
            }
        }
    }
    println!("{groups} security groups x {rules} rules created");

    // VMs, 32 at a time, round-robin over the groups.
    let started = Instant::now();
    let mut pending = Vec::new();
    let mut done = 0usize;
    for i in 0..vms {
        let g = &group_ids[i % groups];
        let r = api
            .call(&[
                ("command", "deployVirtualMachine"),
                ("zoneid", &zone),
                ("templateid", &template),
                ("serviceofferingid", &offering),
                ("networkids", &net),
                ("securitygroupids", g),
            ])
            .await?;
        pending.push(s(&r["jobid"]));
        if pending.len() >= 32 {
            for j in pending.drain(..) {
                if api.wait(&j, Duration::from_millis(5)).await?["jobstatus"] == 1 {
                    done += 1;
                }
            }
        }
    }
    for j in pending.drain(..) {
        if api.wait(&j, Duration::from_millis(5)).await?["jobstatus"] == 1 {
            done += 1;
        }
    }
    println!(
        "{done} VMs Running on the shared network in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // 1. Security-group changes: accepted → compiled → pushed → acknowledged.
    let mut sg = Vec::new();
    for c in 0..changes {
        let id = &group_ids[c % groups];
        let port = (20_000 + c).to_string();
        let t = Instant::now();
        let j = api
            .call(&[
                ("command", "authorizeSecurityGroupIngress"),
                ("securitygroupid", id),
                ("protocol", "udp"),
                ("startport", &port),
                ("endport", &port),
                ("cidrlist", "0.0.0.0/0"),
            ])
            .await?;
        let r = api.wait(&s(&j["jobid"]), Duration::from_millis(1)).await?;
        if r["jobstatus"] != 1 {
            return Err(format!("authorize: {r}").into());
        }
        sg.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let per_group = vms / groups;
    println!(
        "security-group rule change -> generation acknowledged by the member hosts: p50 {:.1} ms, p99 {:.1} ms ({} changes; ~{per_group} member VMs per group, on up to {hosts} hosts)",
        pct(&mut sg, 0.5),
        pct(&mut sg, 0.99),
        sg.len()
    );

    // 2. A port forwarding rule on an isolated network (one router).
    let iso = api
        .job(&[
            ("command", "deployVirtualMachine"),
            ("zoneid", &zone),
            ("templateid", &template),
            ("serviceofferingid", &offering),
            ("name", "iso-1"),
        ])
        .await?;
    let vm = s(&iso["jobresult"]["virtualmachine"]["id"]);
    let inet = s(&iso["jobresult"]["virtualmachine"]["nic"][0]["networkid"]);
    let ip = s(&api
        .job(&[("command", "associateIpAddress"), ("networkid", &inet)])
        .await?["jobresult"]["ipaddress"]["id"]);
    let mut pf = Vec::new();
    for c in 0..changes {
        let port = (3000 + c).to_string();
        let t = Instant::now();
        let j = api
            .call(&[
                ("command", "createPortForwardingRule"),
                ("ipaddressid", &ip),
                ("protocol", "tcp"),
                ("publicport", &port),
                ("privateport", "22"),
                ("virtualmachineid", &vm),
            ])
            .await?;
        let r = api.wait(&s(&j["jobid"]), Duration::from_millis(1)).await?;
        if r["jobstatus"] != 1 {
            return Err(format!("port forward: {r}").into());
        }
        pf.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    println!(
        "port forwarding rule -> generation acknowledged by the router's host: p50 {:.1} ms, p99 {:.1} ms ({} rules)",
        pct(&mut pf, 0.5),
        pct(&mut pf, 0.99),
        pf.len()
    );
    println!("server RSS: {} MiB", rss_mib(server_pid));
    drop(procs);
    if let Some(p) = pg.as_mut() {
        p.stop();
    }
    Ok(())
}
