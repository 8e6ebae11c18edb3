//! The server's open files (issue 22): hosts the server simulates itself cost no file
//! handle, and agents past the agents' share of open files are told to come back later
//! instead of being accepted into a server that can no longer open its database.
//!
//! One test in its own binary: it counts this process's open files and lowers the agents'
//! share through the environment.

mod common;

use std::time::Duration;

use common::*;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse().ok())
        })
        .unwrap_or(0)
}

fn open_files() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Hosts the server simulates in this test.
const HOSTS: usize = 200;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn server_run_hosts_cost_no_files_and_agents_past_the_share_wait() {
    // Set before the server starts (it reads the share once).
    std::env::set_var("CANOPY_AGENT_CONNECTIONS", "3");
    let ts = TestServer::start().await;
    let c = ts.admin.clone();
    let zone = s(&c
        .ok(&[
            ("command", "createZone"),
            ("name", "z"),
            ("networktype", "Advanced"),
            ("dns1", "8.8.8.8"),
            ("internaldns1", "10.0.0.1"),
        ])
        .await["zone"]["id"]);
    let pod = s(&c
        .ok(&[
            ("command", "createPod"),
            ("name", "p"),
            ("zoneid", &zone),
            ("gateway", "172.16.15.1"),
            ("netmask", "255.255.255.0"),
            ("startip", "172.16.15.2"),
        ])
        .await["pod"]["id"]);
    let cluster = s(&c
        .ok(&[
            ("command", "addCluster"),
            ("clustername", "sims"),
            ("clustertype", "CloudManaged"),
            ("hypervisor", "Simulator"),
            ("podid", &pod),
            ("zoneid", &zone),
        ])
        .await["cluster"][0]["id"]);
    let hub = || {
        ts.server
            .as_ref()
            .expect("running")
            .state
            .hub
            .connected_count()
    };

    // Hosts the server simulates itself (CloudStack's simulator URLs), all Up, and the
    // process holds about as many files as before: no socket per host.
    let before = open_files();
    let rss_before = rss_kib();
    for i in 0..HOSTS {
        let url = format!("http://sim/c0/h{i}");
        c.ok(&[
            ("command", "addHost"),
            ("zoneid", &zone),
            ("podid", &pod),
            ("clusterid", &cluster),
            ("hypervisor", "Simulator"),
            ("url", &url),
            ("username", "root"),
            ("password", "x"),
        ])
        .await;
    }
    let mut up = 0;
    for _ in 0..1200 {
        up = hub();
        if up == HOSTS {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(up, HOSTS, "every server-run host joined");
    let after = open_files();
    tokio::time::sleep(Duration::from_secs(1)).await;
    println!(
        "{HOSTS} server-run hosts: {} files, RSS +{} KiB ({} KiB each, debug build)",
        after.saturating_sub(before),
        rss_kib().saturating_sub(rss_before),
        rss_kib().saturating_sub(rss_before) / HOSTS as u64
    );
    assert!(
        after < before + 40,
        "{HOSTS} server-run hosts took {} files ({before} → {after})",
        after.saturating_sub(before)
    );

    // Agents over sockets: the share is 3 (CANOPY_AGENT_CONNECTIONS), so of 6 only 3 join;
    // the others are refused with the reason and keep retrying, never registered.
    let t = s(&c
        .ok(&[
            ("command", "createHostJoinToken"),
            ("clusterid", &cluster),
            ("uses", "6"),
        ])
        .await["jointoken"]["token"]);
    let tok = proto::JoinToken::decode(&t).expect("token");
    let opts = agent::simulator::SimOptions {
        count: 6,
        prefix: "tcp".into(),
        ..Default::default()
    };
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let tasks = agent::simulator::spawn(
        agent::simulator::hosts(&tok.server, &tok.fingerprint, &tok.secret, &opts, None),
        stop,
    );
    for _ in 0..200 {
        if hub() >= HOSTS + 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Let the other three retry a while: still refused.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        hub(),
        HOSTS + 3,
        "three socket agents within the share, no more"
    );
    let tcp_hosts = c
        .ok(&[
            ("command", "listHosts"),
            ("clusterid", &cluster),
            ("keyword", "tcp-"),
            ("pagesize", "-1"),
        ])
        .await;
    assert_eq!(
        tcp_hosts["count"], 3,
        "the refused were never registered: {tcp_hosts}"
    );
    // The API answers all along.
    c.ok(&[("command", "listZones")]).await;
    let _ = stop_tx.send(true);
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
    }
}
