//! Hosts and agents: agents dial the TLS agent endpoint with a join token, report inventory and
//! heartbeats; the server tracks their status, refuses bad tokens, survives restarts without
//! operator action; simulator URLs make the server run simulated hosts itself.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use serde_json::Value;

struct Cloud {
    zone: String,
    pod: String,
    sim_cluster: String,
    kvm_cluster: String,
}

async fn cloud(c: &Client) -> Cloud {
    let zone = c
        .ok(&[
            ("command", "createZone"),
            ("name", "z"),
            ("networktype", "Advanced"),
            ("dns1", "8.8.8.8"),
            ("internaldns1", "10.0.0.1"),
        ])
        .await["zone"]["id"]
        .as_str()
        .expect("zone")
        .to_string();
    let pod = c
        .ok(&[
            ("command", "createPod"),
            ("name", "p"),
            ("zoneid", &zone),
            ("gateway", "172.16.15.1"),
            ("netmask", "255.255.255.0"),
            ("startip", "172.16.15.2"),
        ])
        .await["pod"]["id"]
        .as_str()
        .expect("pod")
        .to_string();
    let mut ids = Vec::new();
    for (name, hv) in [("sims", "Simulator"), ("kvms", "KVM")] {
        let r = c
            .ok(&[
                ("command", "addCluster"),
                ("clustername", name),
                ("clustertype", "CloudManaged"),
                ("hypervisor", hv),
                ("podid", &pod),
                ("zoneid", &zone),
            ])
            .await;
        ids.push(r["cluster"][0]["id"].as_str().expect("cluster").to_string());
    }
    Cloud {
        zone,
        pod,
        sim_cluster: ids[0].clone(),
        kvm_cluster: ids[1].clone(),
    }
}

async fn host_state(c: &Client, id: &str) -> Value {
    c.ok(&[("command", "listHosts"), ("id", id)]).await["host"][0].clone()
}

async fn wait_state(c: &Client, id: &str, want: &str, secs: u64) -> Value {
    let mut last = Value::Null;
    for _ in 0..(secs * 10) {
        last = host_state(c, id).await;
        if last["state"] == want {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("host {id} did not reach {want} in {secs} s; last: {last}");
}

/// A real-protocol agent in this test process (KVM inventory, ping-only driver).
fn kvm_agent(
    token: &str,
    address: &str,
    saved: Arc<Mutex<Option<(uuid::Uuid, String)>>>,
) -> Arc<agent::HostAgent> {
    let t = proto::JoinToken::decode(token).expect("token");
    let mut inv = agent::inventory::local(address);
    inv.hostname = format!("kvm-{address}");
    Arc::new(agent::HostAgent {
        server: t.server.into(),
        fingerprint: t.fingerprint,
        credential: Mutex::new(agent::Credential::Token { secret: t.secret }),
        inventory: inv,
        driver: Arc::new(agent::driver::LocalDriver),
        offline: None,
        local: None,
        on_credential: Some(Arc::new(move |id, secret: &str| {
            if let Ok(mut s) = saved.lock() {
                *s = Some((id, secret.to_string()));
            }
        })),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn agents_join_heartbeat_reconnect_and_leave() {
    let ts = TestServer::start().await;
    let c = ts.admin.clone();
    let cl = cloud(&c).await;

    // Simulator URL: the server runs the host itself; it is Up when addHost answers.
    let r = c
        .ok(&[
            ("command", "addHost"),
            ("zoneid", &cl.zone),
            ("podid", &cl.pod),
            ("clusterid", &cl.sim_cluster),
            ("hypervisor", "Simulator"),
            ("url", "http://sim/c0/h0"),
            ("username", "root"),
            ("password", "password"),
        ])
        .await;
    assert_eq!(r["count"], 1);
    let sim = &r["host"][0];
    assert_eq!(
        (
            sim["state"].as_str(),
            sim["hypervisor"].as_str(),
            sim["cpunumber"].as_u64(),
            sim["memorytotal"].as_u64(),
            sim["accelerator"].as_str()
        ),
        (
            Some("Up"),
            Some("Simulator"),
            Some(4),
            Some(8 << 30),
            Some("none")
        )
    );
    assert!(sim.get("jointoken").is_none());
    let sim_id = sim["id"].as_str().expect("id").to_string();
    let big = c
        .ok(&[
            ("command", "addHost"),
            ("zoneid", &cl.zone),
            ("podid", &cl.pod),
            ("clustername", "sims"),
            ("hypervisor", "simulator"),
            ("url", "http://sim/c0/h1/cpucore=8&memory=1073741824"),
        ])
        .await;
    assert_eq!(
        (
            big["host"][0]["cpunumber"].as_u64(),
            big["host"][0]["memorytotal"].as_u64()
        ),
        (Some(8), Some(1 << 30))
    );
    c.err(
        &[
            ("command", "addHost"),
            ("zoneid", &cl.zone),
            ("podid", &cl.pod),
            ("clusterid", &cl.sim_cluster),
            ("hypervisor", "KVM"),
            ("url", "http://10.0.0.9"),
        ],
        431,
    )
    .await;
    c.err(
        &[
            ("command", "addHost"),
            ("zoneid", &cl.zone),
            ("podid", &cl.pod),
            ("clusterid", &cl.sim_cluster),
            ("hypervisor", "Simulator"),
            ("url", "http://sim/c0/h0"),
        ],
        431,
    )
    .await;

    // A KVM host: registered, then joined by its agent with the token addHost returned.
    let r = c
        .ok(&[
            ("command", "addHost"),
            ("zoneid", &cl.zone),
            ("podid", &cl.pod),
            ("clusterid", &cl.kvm_cluster),
            ("hypervisor", "KVM"),
            ("url", "http://10.9.9.9"),
            ("hosttags", "ssd,gpu"),
        ])
        .await;
    let kvm = &r["host"][0];
    assert_eq!(
        (kvm["state"].as_str(), kvm["hosttags"].as_str()),
        (Some("Connecting"), Some("ssd,gpu"))
    );
    let kvm_id = kvm["id"].as_str().expect("id").to_string();
    let token = kvm["jointoken"].as_str().expect("jointoken").to_string();
    let decoded = proto::JoinToken::decode(&token).expect("token");
    assert_eq!(decoded.server, ts.agent_addr().to_string());

    // Wrong address, garbage token: refused for good, with the reason.
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let wrong = kvm_agent(&token, "10.9.9.8", Arc::new(Mutex::new(None)));
    match wrong.run(stop.clone()).await {
        Err(agent::runtime::AgentError::Refused(r)) => {
            assert!(r.contains("is for host address 10.9.9.9"), "{r}")
        }
        other => panic!("wrong address must be refused: {other:?}"),
    }
    let garbage = proto::JoinToken {
        secret: "nope".into(),
        ..decoded.clone()
    }
    .encode();
    match kvm_agent(&garbage, "10.9.9.9", Arc::new(Mutex::new(None)))
        .run(stop.clone())
        .await
    {
        Err(agent::runtime::AgentError::Refused(r)) => assert_eq!(r, "unknown join token"),
        other => panic!("garbage token must be refused: {other:?}"),
    }
    let saved = Arc::new(Mutex::new(None));
    let real = kvm_agent(&token, "10.9.9.9", saved.clone());
    let task = {
        let (real, stop) = (real.clone(), stop.clone());
        tokio::spawn(async move { real.run(stop).await })
    };
    let up = wait_state(&c, &kvm_id, "Up", 15).await;
    assert!(
        ["kvm", "tcg"].contains(&up["accelerator"].as_str().unwrap_or("")),
        "{up}"
    );
    assert!(
        up["cpunumber"].as_u64().unwrap_or(0) >= 1 && up["memorytotal"].as_u64().unwrap_or(0) > 0
    );
    // The server marks the host Up once it sent the welcome; the agent saves the credential
    // the welcome carries a moment later.
    for _ in 0..50 {
        if saved.lock().expect("lock").is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        saved.lock().expect("lock").is_some(),
        "the agent received its host credential"
    );
    // The same token again: refused as used.
    match kvm_agent(&token, "10.9.9.9", Arc::new(Mutex::new(None)))
        .run(stop.clone())
        .await
    {
        Err(agent::runtime::AgentError::Refused(r)) => assert_eq!(r, "join token already used"),
        other => panic!("a reused token must be refused: {other:?}"),
    }

    // A cluster token admits new hosts, as many as it has uses.
    let t = c
        .ok(&[
            ("command", "createHostJoinToken"),
            ("clusterid", &cl.sim_cluster),
            ("uses", "3"),
        ])
        .await["jointoken"]["token"]
        .as_str()
        .expect("token")
        .to_string();
    let tok = proto::JoinToken::decode(&t).expect("token");
    let opts = agent::simulator::SimOptions {
        count: 4,
        prefix: "batch".into(),
        ..Default::default()
    };
    let sims = agent::simulator::hosts(&tok.server, &tok.fingerprint, &tok.secret, &opts, None);
    let mut results = Vec::new();
    let mut handles = Vec::new();
    for h in sims {
        let stop = stop.clone();
        handles.push(tokio::spawn(async move {
            (h.inventory.address.clone(), h.run(stop).await)
        }));
    }
    for _ in 0..100 {
        let n = c
            .ok(&[
                ("command", "listHosts"),
                ("clusterid", &cl.sim_cluster),
                ("state", "Up"),
            ])
            .await["count"]
            .as_u64()
            .unwrap_or(0);
        if n == 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        c.ok(&[
            ("command", "listHosts"),
            ("clusterid", &cl.sim_cluster),
            ("state", "Up")
        ])
        .await["count"],
        5,
        "2 added + 3 admitted"
    );
    for h in handles.iter_mut().filter(|h| h.is_finished()) {
        let (addr, r) = h.await.expect("join");
        results.push(addr);
        assert!(
            matches!(r, Err(agent::runtime::AgentError::Refused(ref m)) if m == "join token already used"),
            "{r:?}"
        );
    }
    assert_eq!(results.len(), 1, "exactly one of four was refused");

    // updateHost: tags, allocation state; listHosts filters.
    let u = c
        .ok(&[
            ("command", "updateHost"),
            ("id", &kvm_id),
            ("hosttags", "fast"),
            ("allocationstate", "Disable"),
        ])
        .await;
    assert_eq!(
        (
            u["host"]["hosttags"].as_str(),
            u["host"]["resourcestate"].as_str()
        ),
        (Some("fast"), Some("Disabled"))
    );
    assert_eq!(
        c.ok(&[("command", "listHosts"), ("resourcestate", "Disabled")])
            .await["count"],
        1
    );
    let u = c
        .ok(&[
            ("command", "updateHost"),
            ("id", &kvm_id),
            ("hosttags", ""),
            ("allocationstate", "Enable"),
        ])
        .await;
    assert_eq!(
        (
            u["host"]["hosttags"].as_str(),
            u["host"]["resourcestate"].as_str()
        ),
        (Some(""), Some("Enabled"))
    );
    c.err(
        &[
            ("command", "updateHost"),
            ("id", &kvm_id),
            ("allocationstate", "Sleep"),
        ],
        431,
    )
    .await;

    // reconnectHost: the agent drops and dials again.
    let j = c
        .job(&[("command", "reconnectHost"), ("id", &kvm_id)])
        .await;
    assert_eq!(
        (
            j["jobstatus"].as_i64(),
            j["jobresult"]["host"]["state"].as_str()
        ),
        (Some(1), Some("Up")),
        "{j}"
    );

    // Server restart: agents come back without operator action (the in-process simulated
    // hosts are restarted by the server; external agents reconnect with their credential).
    let ts = ts.restart().await;
    let c = ts.admin.clone();
    let me = ts
        .server
        .as_ref()
        .expect("running")
        .state
        .server_id
        .to_string();
    for id in [&kvm_id, &sim_id] {
        let mut h = host_state(&c, id).await;
        for _ in 0..300 {
            if h["state"] == "Up" && h["managementserverid"] == me.as_str() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            h = host_state(&c, id).await;
        }
        assert_eq!(
            (h["state"].as_str(), h["managementserverid"].as_str()),
            (Some("Up"), Some(me.as_str())),
            "reconnected to the new server: {h}"
        );
    }

    // Heartbeat timeouts from configuration: a killed agent goes Disconnected, then Down.
    c.ok(&[
        ("command", "updateConfiguration"),
        ("name", "ping.interval"),
        ("value", "1"),
    ])
    .await;
    c.ok(&[
        ("command", "updateConfiguration"),
        ("name", "ping.timeout"),
        ("value", "2"),
    ])
    .await;
    let _ = stop_tx.send(true);
    let _ = task.await;
    wait_state(&c, &kvm_id, "Disconnected", 10).await;
    let down = wait_state(&c, &kvm_id, "Down", 15).await;
    assert!(down["disconnected"].is_string());
    assert_eq!(
        host_state(&c, &sim_id).await["state"],
        "Up",
        "the simulated host keeps heartbeating"
    );

    // Deleting: an Up host needs maintenance or forced; a Down one can go.
    let t = c
        .err(&[("command", "deleteHost"), ("id", &sim_id)], 431)
        .await;
    assert!(t.contains("maintenance"), "{t}");
    c.err(
        &[("command", "deleteCluster"), ("id", &cl.kvm_cluster)],
        530,
    )
    .await;
    assert_eq!(
        c.ok(&[("command", "deleteHost"), ("id", &kvm_id)]).await["success"],
        true
    );
    c.ok(&[
        ("command", "deleteHost"),
        ("id", &sim_id),
        ("forced", "true"),
    ])
    .await;
    assert_eq!(
        c.ok(&[("command", "listHosts"), ("id", &sim_id)]).await,
        serde_json::json!({})
    );
    c.ok(&[("command", "deleteCluster"), ("id", &cl.kvm_cluster)])
        .await;
    ts.stop().await;
}

/// 1,000 simulated hosts from one process join one server (each its own TLS connection and
/// identity). The timing is printed, not asserted; the bench binary measures it properly.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_simulated_hosts_join() {
    let ts = TestServer::start().await;
    let c = ts.admin.clone();
    let cl = cloud(&c).await;
    let t = c
        .ok(&[
            ("command", "createHostJoinToken"),
            ("clusterid", &cl.sim_cluster),
            ("uses", "1000"),
        ])
        .await["jointoken"]["token"]
        .as_str()
        .expect("token")
        .to_string();
    let tok = proto::JoinToken::decode(&t).expect("token");
    let opts = agent::simulator::SimOptions {
        count: 1000,
        prefix: "scale".into(),
        ..Default::default()
    };
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let started = std::time::Instant::now();
    let tasks = agent::simulator::spawn(
        agent::simulator::hosts(&tok.server, &tok.fingerprint, &tok.secret, &opts, None),
        stop,
    );
    let mut up = 0;
    for _ in 0..1200 {
        up = ts
            .server
            .as_ref()
            .expect("running")
            .state
            .hub
            .connected_count();
        if up == 1000 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let joined = started.elapsed();
    assert_eq!(up, 1000, "all 1000 simulated hosts joined");
    let r = c
        .ok(&[
            ("command", "listHosts"),
            ("clusterid", &cl.sim_cluster),
            ("state", "Up"),
            ("pagesize", "-1"),
        ])
        .await;
    assert_eq!(r["count"], 1000);
    let t0 = std::time::Instant::now();
    c.ok(&[("command", "listHosts"), ("page", "1"), ("pagesize", "500")])
        .await;
    eprintln!(
        "1000 simulated hosts joined in {joined:?}; listHosts page of 500 in {:?} (debug build)",
        t0.elapsed()
    );
    let _ = stop_tx.send(true);
    for t in tasks {
        let _ = t.await;
    }
    ts.stop().await;
}
