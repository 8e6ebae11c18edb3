//! Several management servers on one PostgreSQL database: they know each other
//! (`listManagementServers`, `listManagementServersMetrics`), share the agent endpoint's TLS
//! identity, judge a silent peer Down, and a server judged Down fences itself.

mod common;
use common::agents::Agents;
use common::*;

use std::time::Duration;

fn by_name<'a>(list: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    list["managementserver"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["name"] == name))
        .unwrap_or_else(|| panic!("{name} not in {list}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn servers_know_each_other_and_a_server_judged_dead_fences_itself() {
    let Some(pg) = testkit::Postgres::start_for_test() else {
        return;
    };
    let a = TestServer::start_with(Some(pg.fresh_database().expect("db"))).await;
    let b = a.join().await;
    let (sa, sb) = (a.server.as_ref().expect("a"), b.server.as_ref().expect("b"));
    let (na, nb) = (
        sa.state.agent_endpoint.clone(),
        sb.state.agent_endpoint.clone(),
    );
    // One agent identity for all: an agent that pinned A's certificate trusts B.
    assert_eq!(sa.state.agent_fingerprint, sb.state.agent_fingerprint);

    // Each server answers for both, through either.
    for c in [&a.admin, &b.admin] {
        let l = c.ok(&[("command", "listManagementServers")]).await;
        assert_eq!(l["count"], 2, "{l}");
        for n in [&na, &nb] {
            let s = by_name(&l, n);
            assert_eq!(s["state"], "Up", "{s}");
            assert_eq!(s["version"], api::CLOUDSTACK_VERSION);
            assert_eq!(s["ipaddress"], "127.0.0.1");
            assert!(s["lastserverstart"].is_string());
        }
    }
    // Metrics as each measured itself at its heartbeat (the Kubernetes CCM reads `version`).
    // (B's first heartbeat may still be under way: wait for its figures.)
    let mut m = serde_json::Value::Null;
    for _ in 0..100 {
        m = a
            .admin
            .ok(&[("command", "listManagementServersMetrics")])
            .await;
        if by_name(&m, &nb)["collectiontime"].is_string() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let s = by_name(&m, &nb);
    assert!(s["availableprocessors"].as_u64().unwrap_or(0) >= 1, "{s}");
    assert!(s["heapmemoryused"].as_u64().unwrap_or(0) > 0, "{s}");
    assert_eq!(s["agentcount"], 0);
    assert_eq!(s["pendingjobscount"], 0);
    assert_eq!(s["dbislocal"], false);
    assert!(s["collectiontime"].is_string());
    // Filters, and what a stranger gets.
    let id = s["id"].as_str().expect("id").to_string();
    let one = a
        .admin
        .ok(&[("command", "listManagementServers"), ("id", &id)])
        .await;
    assert_eq!(
        (one["count"].as_u64(), &one["managementserver"][0]["name"]),
        (Some(1), &serde_json::json!(nb))
    );
    a.admin
        .err(
            &[("command", "listManagementServers"), ("id", "not-a-uuid")],
            431,
        )
        .await;
    let (_, _, tenant) = account_with_keys(&a, &a.admin, "tenant", None, "0").await;
    tenant
        .err(&[("command", "listManagementServersMetrics")], 401)
        .await;
    // A domain admin of another domain may not take a server out either; hostile ids are
    // parameter errors.
    let dom = create_domain(&a.admin, "elsewhere", None).await;
    let (_, _, dadmin) = account_with_keys(&a, &a.admin, "dadmin", Some(&dom), "2").await;
    for c in [&tenant, &dadmin] {
        c.err(
            &[
                ("command", "prepareForMaintenance"),
                ("managementserverid", &id),
            ],
            401,
        )
        .await;
        c.err(
            &[
                ("command", "cancelMaintenance"),
                ("managementserverid", &id),
            ],
            401,
        )
        .await;
    }
    let huge = "9".repeat(5000);
    for bad in ["ü\u{7}", huge.as_str(), "1 OR 1=1"] {
        a.admin
            .err(
                &[
                    ("command", "prepareForMaintenance"),
                    ("managementserverid", bad),
                ],
                431,
            )
            .await;
        // A name filter: refused (control characters, length) or matching nothing.
        let r = a
            .admin
            .call(&[("command", "listManagementServers"), ("name", bad)])
            .await;
        match r.status {
            200 => assert_eq!(r.inner()["count"].as_u64().unwrap_or(0), 0, "{}", r.text),
            431 => {}
            other => panic!("{other}: {}", r.text),
        }
    }

    // B goes silent (its heartbeat is made old): A judges it Down at A's next heartbeat, and
    // B, finding itself Down at its own next heartbeat, fences itself — stops serving.
    sqlx::any::install_default_drivers();
    let mut conn =
        <sqlx::AnyConnection as sqlx::Connection>::connect(a.database.as_deref().expect("pg url"))
            .await
            .expect("connect");
    let mut down = false;
    for _ in 0..100 {
        sqlx::query("UPDATE servers SET heartbeat = 1 WHERE name = $1")
            .bind(&nb)
            .execute(&mut conn)
            .await
            .expect("age b");
        tokio::time::sleep(Duration::from_millis(100)).await;
        let l = a
            .admin
            .ok(&[("command", "listManagementServers"), ("name", &nb)])
            .await;
        if l["managementserver"][0]["state"] == "Down" && sb.state.cluster.fenced() {
            down = true;
            break;
        }
    }
    assert!(down, "B was not judged Down and fenced within 10 s");
    let l = a
        .admin
        .ok(&[("command", "listManagementServers"), ("name", &nb)])
        .await;
    assert!(
        l["managementserver"][0]["lastserverstop"].is_string(),
        "{l}"
    );
    // A fenced server answers no more API calls.
    let mut refused = false;
    for _ in 0..50 {
        if reqwest::get(&b.base).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(refused, "a fenced server still serves");
    assert_eq!(
        by_name(
            &a.admin.ok(&[("command", "listManagementServers")]).await,
            &na
        )["state"],
        "Up"
    );
    b.stop().await;

    // A graceful stop marks a server Down at once, with its stop time.
    let c = a.join().await;
    let nc = c.server.as_ref().expect("c").state.agent_endpoint.clone();
    assert_eq!(
        by_name(
            &a.admin.ok(&[("command", "listManagementServers")]).await,
            &nc
        )["state"],
        "Up"
    );
    c.stop().await;
    let s = a
        .admin
        .ok(&[("command", "listManagementServers"), ("name", &nc)])
        .await;
    assert_eq!(s["managementserver"][0]["state"], "Down", "{s}");
    assert!(s["managementserver"][0]["lastserverstop"].is_string());
    a.stop().await;
}

/// Any call reaches any host: hosts whose agents are connected to server B are driven through
/// server A (deploy, reboot, stop), A forwarding each command to B; B's peer endpoint obeys
/// only a server holding the shared key.
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn a_server_drives_hosts_connected_to_another() {
    let Some(pg) = testkit::Postgres::start_for_test() else {
        return;
    };
    let a = TestServer::start_with(Some(pg.fresh_database().expect("db"))).await;
    let z = VmZone::new(&a, 0).await;
    let b = a.join().await;
    let (sa, sb) = (
        a.server.as_ref().expect("a").state.clone(),
        b.server.as_ref().expect("b").state.clone(),
    );
    // The agents join through B (B made their token).
    let agents = Agents::join(&b, &z.cluster, "fw", 2).await;
    let (sims, prefix) = (&agents.sims, agents.prefix.clone());
    assert_eq!(agents.server, sb.agent_endpoint);
    let mut hosts = serde_json::Value::Null;
    for _ in 0..100 {
        hosts = a
            .admin
            .ok(&[
                ("command", "listHosts"),
                ("keyword", &prefix),
                ("state", "Up"),
            ])
            .await;
        if hosts["count"] == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(hosts["count"], 2, "{hosts}");
    for h in hosts["host"].as_array().expect("hosts") {
        let id: model::HostId = h["id"].as_str().expect("id").parse().expect("uuid");
        assert!(sb.hub.is_connected(id) && !sa.hub.is_connected(id));
    }
    let running_on = |name: &str| {
        sims.iter()
            .filter(|h| {
                agent::simulator::sim_host(&h.inventory.address)
                    .vm_names()
                    .contains(&name.to_string())
            })
            .count()
    };
    // A setting changed through A is in force on B at once (behind a balancer the next call
    // may reach either): B read its settings just before.
    let value_on_b = |v: serde_json::Value| v["configuration"][0]["value"].clone();
    let read = [
        ("command", "listConfigurations"),
        ("name", "vm.stats.interval"),
    ];
    assert_eq!(value_on_b(b.admin.ok(&read).await), "60000");
    a.admin
        .ok(&[
            ("command", "updateConfiguration"),
            ("name", "vm.stats.interval"),
            ("value", "45000"),
        ])
        .await;
    assert_eq!(value_on_b(b.admin.ok(&read).await), "45000");
    assert_eq!(sb.settings.int("vm.stats.interval"), 45000);
    // Deploy, reboot and stop through A.
    let vm = a.admin.job(&z.deploy(&[("name", "through-a")])).await;
    assert_eq!(
        vm["jobresult"]["virtualmachine"]["state"], "Running",
        "{vm}"
    );
    let id = vm["jobresult"]["virtualmachine"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let instance = vm["jobresult"]["virtualmachine"]["instancename"]
        .as_str()
        .expect("instance")
        .to_string();
    assert_eq!(running_on(&instance), 1, "the VM runs on a host of B's");
    let r = a
        .admin
        .job(&[("command", "rebootVirtualMachine"), ("id", &id)])
        .await;
    assert_eq!(r["jobresult"]["virtualmachine"]["state"], "Running", "{r}");
    let r = a
        .admin
        .job(&[("command", "stopVirtualMachine"), ("id", &id)])
        .await;
    assert_eq!(r["jobresult"]["virtualmachine"]["state"], "Stopped", "{r}");
    assert_eq!(running_on(&instance), 0);

    // B's peer endpoint: no signature, or one made with another key, is refused.
    let body = serde_json::to_vec(&serde_json::json!({
        "host_id": hosts["host"][0]["id"], "command": {"op": "list_vms"}, "timeout_ms": 1000
    }))
    .expect("json");
    let (status, _) = server::peers::post(
        &sb.agent_endpoint,
        &sb.agent_fingerprint,
        None,
        body.clone(),
    )
    .await
    .expect("post");
    assert_eq!(status, 401);
    let (status, _) = server::peers::post(
        &sb.agent_endpoint,
        &sb.agent_fingerprint,
        Some("1.00ff"),
        body,
    )
    .await
    .expect("post");
    assert_eq!(status, 401);

    agents.stop().await;
    b.stop().await;
    a.stop().await;
}

/// A simulated host that also offers a VNC socket (a fake RFB server), so a console can be
/// carried end to end without QEMU.
struct WithVnc {
    inner: agent::driver::SimDriver,
    sock: std::path::PathBuf,
}

impl agent::driver::Driver for WithVnc {
    fn handle<'a>(
        &'a self,
        command: &'a proto::Command,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = agent::HostResult<serde_json::Value>> + Send + 'a>,
    > {
        self.inner.handle(command)
    }
    fn vnc_socket(&self, _vm: &str) -> Option<std::path::PathBuf> {
        Some(self.sock.clone())
    }
}

/// A console opened through server A for a VM whose host's agent is connected to server B:
/// A forwards the request, the agent dials A (which holds the session), and the browser
/// reads the VM's RFB greeting.
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn a_console_through_one_server_for_a_host_on_another() {
    use futures_util::StreamExt;
    use tokio::io::AsyncWriteExt;
    let Some(pg) = testkit::Postgres::start_for_test() else {
        return;
    };
    let a = TestServer::start_with(Some(pg.fresh_database().expect("db"))).await;
    let z = VmZone::new(&a, 0).await;
    let b = a.join().await;
    let sb = b.server.as_ref().expect("b").state.clone();
    // The fake VNC server: greets each connection with the RFB version line.
    let dir = tempfile::tempdir().expect("tmp");
    let sock = dir.path().join("vnc.sock");
    let listener = tokio::net::UnixListener::bind(&sock).expect("bind");
    let vnc = tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let _ = s.write_all(b"RFB 003.008\n").await;
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(5)).await;
                drop(s);
            });
        }
    });
    let t = b
        .admin
        .ok(&[
            ("command", "createHostJoinToken"),
            ("clusterid", &z.cluster),
            ("uses", "1"),
        ])
        .await["jointoken"]["token"]
        .as_str()
        .expect("token")
        .to_string();
    let tok = proto::JoinToken::decode(&t).expect("token");
    let address = format!("vnc-{}", uuid::Uuid::new_v4().simple());
    let opts = agent::simulator::SimOptions::default();
    let host = std::sync::Arc::new(agent::HostAgent {
        server: tok.server.clone().into(),
        fingerprint: tok.fingerprint.clone(),
        credential: std::sync::Mutex::new(agent::Credential::Token {
            secret: tok.secret.clone(),
        }),
        inventory: agent::simulator::inventory(&opts, &address),
        driver: std::sync::Arc::new(WithVnc {
            inner: agent::driver::SimDriver {
                delay: Duration::ZERO,
                storage_bytes: opts.storage_bytes,
                fail_rate: 0.0,
                host: agent::simulator::sim_host(&address),
            },
            sock,
        }),
        offline: None,
        local: None,
        on_credential: None,
    });
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let run = {
        let h = host.clone();
        tokio::spawn(async move { h.run(stop).await })
    };
    let vm = a.admin.job(&z.deploy(&[("name", "con-b")])).await;
    assert_eq!(
        vm["jobresult"]["virtualmachine"]["state"], "Running",
        "{vm}"
    );
    let id = vm["jobresult"]["virtualmachine"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let hid: model::HostId = vm["jobresult"]["virtualmachine"]["hostid"]
        .as_str()
        .expect("host")
        .parse()
        .expect("uuid");
    assert!(sb.hub.is_connected(hid), "the VM's host is on B");
    let e = a
        .admin
        .ok(&[
            ("command", "createConsoleEndpoint"),
            ("virtualmachineid", &id),
        ])
        .await;
    let token = e["consoleendpoint"]["websocket"]["token"]
        .as_str()
        .unwrap_or_else(|| panic!("{e}"))
        .to_string();
    let url = format!(
        "{}?token={token}",
        a.base
            .replace("/client/api", "/client/console")
            .replace("http://", "ws://")
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("websocket");
    let first = tokio::time::timeout(Duration::from_secs(20), ws.next())
        .await
        .expect("a frame within 20 s")
        .expect("a frame")
        .expect("not an error");
    assert_eq!(first.into_data().as_ref(), b"RFB 003.008\n");
    drop(ws);
    let _ = stop_tx.send(true);
    let _ = run.await;
    vnc.abort();
    b.stop().await;
    a.stop().await;
}

/// Maintenance of a management server (CloudStack 4.21): refused for the only server Up; a
/// server preparing for maintenance answers 503 to new jobs, moves its agents to the others
/// and reaches Maintenance; cancelled, it takes jobs again.
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn a_server_in_maintenance_hands_its_agents_to_the_others() {
    let Some(pg) = testkit::Postgres::start_for_test() else {
        return;
    };
    let a = TestServer::start_with(Some(pg.fresh_database().expect("db"))).await;
    let z = VmZone::new(&a, 0).await;
    let id_of = |st: &server::state::State| st.server_id.to_string();
    let sa = a.server.as_ref().expect("a").state.clone();
    // Alone, A may not go into maintenance.
    let e = a
        .admin
        .err(
            &[
                ("command", "prepareForMaintenance"),
                ("managementserverid", &id_of(&sa)),
            ],
            431,
        )
        .await;
    assert!(e.contains("only one Up"), "{e}");
    let b = a.join().await;
    let sb = b.server.as_ref().expect("b").state.clone();
    // Agents on B.
    let agents = Agents::join(&b, &z.cluster, "mt", 2).await;
    let (sims, prefix) = (&agents.sims, agents.prefix.clone());
    let mut ids: Vec<model::HostId> = Vec::new();
    for _ in 0..100 {
        let l = a
            .admin
            .ok(&[
                ("command", "listHosts"),
                ("keyword", &prefix),
                ("state", "Up"),
            ])
            .await;
        if l["count"] == 2 {
            ids = l["host"]
                .as_array()
                .expect("hosts")
                .iter()
                .map(|h| h["id"].as_str().expect("id").parse().expect("uuid"))
                .collect();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(ids.len(), 2);
    // Both servers know each other before B is taken out (their lists name both).
    for _ in 0..100 {
        if sims.iter().all(|h| h.server.all().len() == 2) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ids.iter().all(|h| sb.hub.is_connected(*h)));

    // B into maintenance, asked through A.
    let r = a
        .admin
        .ok(&[
            ("command", "prepareForMaintenance"),
            ("managementserverid", &id_of(&sb)),
        ])
        .await;
    let m = &r["managementserver"];
    assert_eq!(
        (m["state"].as_str(), m["maintenanceinitiated"].as_bool()),
        (Some("PreparingForMaintenance"), Some(true)),
        "{r}"
    );
    let started = std::time::Instant::now();
    let mut state = String::new();
    for _ in 0..150 {
        let l = a
            .admin
            .ok(&[("command", "listManagementServers"), ("id", &id_of(&sb))])
            .await;
        state = l["managementserver"][0]["state"]
            .as_str()
            .unwrap_or("")
            .to_string();
        if state == "Maintenance" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        state, "Maintenance",
        "B did not reach Maintenance within 15 s"
    );
    eprintln!(
        "B in Maintenance {:?} after prepareForMaintenance",
        started.elapsed()
    );
    assert!(ids.iter().all(|h| !sb.hub.is_connected(*h)));
    let sa2 = sa.clone();
    let mut moved = false;
    for _ in 0..50 {
        if ids.iter().all(|h| sa2.hub.is_connected(*h)) {
            moved = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(moved, "B's agents are not on A");
    // B takes no new job (503), but still answers; a job through A runs on the moved hosts.
    let r = b.admin.call(&z.deploy(&[("name", "refused")])).await;
    assert_eq!(r.status, 503, "{}", r.text);
    assert_eq!(r.inner()["errorcode"], 503);
    b.admin.ok(&[("command", "listZones")]).await;
    let vm = a.admin.job(&z.deploy(&[("name", "on-a")])).await;
    assert_eq!(
        vm["jobresult"]["virtualmachine"]["state"], "Running",
        "{vm}"
    );
    // Cancelled: B takes jobs again (from its next heartbeat).
    let r = a
        .admin
        .ok(&[
            ("command", "cancelMaintenance"),
            ("managementserverid", &id_of(&sb)),
        ])
        .await;
    assert_eq!(r["managementserver"]["state"], "Up", "{r}");
    let mut ok = false;
    for _ in 0..50 {
        if b.admin.call(&[("command", "listAsyncJobs")]).await.status == 200
            && !sb.cluster.draining()
        {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ok, "B still refuses jobs");
    let vm = b.admin.job(&z.deploy(&[("name", "on-b-again")])).await;
    assert_eq!(
        vm["jobresult"]["virtualmachine"]["state"], "Running",
        "{vm}"
    );
    a.admin
        .err(
            &[
                ("command", "cancelMaintenance"),
                ("managementserverid", &id_of(&sb)),
            ],
            431,
        )
        .await;
    agents.stop().await;
    b.stop().await;
    a.stop().await;
}
