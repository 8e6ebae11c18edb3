//! Several management servers on one PostgreSQL database, from their agents' side: agents
//! move to another server when theirs goes away, and back to their preferred one.

mod common;
use common::agents::Agents;
use common::*;

use std::time::Duration;

/// Hosts whose agents joined through server A keep running when A goes away: the agents know
/// every server (from their welcome, and when B joined), move to B at once, and B — which
/// never saw them before — takes them over without judging any Down; their VMs keep running
/// and B stops one.
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn agents_move_to_another_server_when_theirs_goes_away() {
    let Some(pg) = testkit::Postgres::start_for_test() else {
        return;
    };
    let mut a = TestServer::start_with(Some(pg.fresh_database().expect("db"))).await;
    let z = VmZone::new(&a, 0).await;
    // The zone's own host is a simulated host A runs in its process.
    let sim: model::HostId = a
        .admin
        .ok(&[
            ("command", "listHosts"),
            ("zoneid", &z.zone),
            ("type", "Routing"),
        ])
        .await["host"][0]["id"]
        .as_str()
        .expect("host")
        .parse()
        .expect("uuid");
    let b = a.join().await;
    let sb = b.server.as_ref().expect("b").state.clone();
    // B does not run it too (it did before: both servers ran every server-run host).
    for _ in 0..15 {
        assert!(
            !sb.hub.is_connected(sim),
            "B runs A's simulated host as well"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (na, nb) = (
        a.server.as_ref().expect("a").state.agent_endpoint.clone(),
        sb.agent_endpoint.clone(),
    );
    let agents = Agents::join(&a, &z.cluster, "fo", 3).await;
    let (sims, prefix) = (&agents.sims, agents.prefix.clone());
    assert_eq!(agents.server, na, "the token names the server that made it");
    // Every agent learns both servers.
    let mut know = false;
    for _ in 0..150 {
        if sims.iter().all(|h| {
            let mut l = h.server.all();
            l.sort();
            let mut want = vec![na.clone(), nb.clone()];
            want.sort();
            l == want
        }) {
            know = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        know,
        "agents did not learn every server: {:?}",
        sims[0].server.all()
    );
    let hosts = a
        .admin
        .ok(&[
            ("command", "listHosts"),
            ("keyword", &prefix),
            ("state", "Up"),
        ])
        .await;
    assert_eq!(hosts["count"], 3, "{hosts}");
    // A VM on them, deployed through A.
    let vm = a.admin.job(&z.deploy(&[("name", "survivor")])).await;
    assert_eq!(
        vm["jobresult"]["virtualmachine"]["state"], "Running",
        "{vm}"
    );
    let vm_id = vm["jobresult"]["virtualmachine"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let instance = vm["jobresult"]["virtualmachine"]["instancename"]
        .as_str()
        .expect("instance")
        .to_string();
    let running_on = |name: &str| {
        sims.iter()
            .filter(|h| {
                agent::simulator::sim_host(&h.inventory.address)
                    .vm_names()
                    .contains(&name.to_string())
            })
            .count()
    };
    assert_eq!(running_on(&instance), 1);

    // A goes away; within seconds every agent is connected to B.
    if let Some(s) = a.server.take() {
        s.shutdown().await;
    }
    let ids: Vec<model::HostId> = hosts["host"]
        .as_array()
        .expect("hosts")
        .iter()
        .map(|h| h["id"].as_str().expect("id").parse().expect("uuid"))
        .collect();
    let started = std::time::Instant::now();
    let mut moved = false;
    for _ in 0..100 {
        if ids.iter().all(|h| sb.hub.is_connected(*h)) {
            moved = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(moved, "the agents did not reach B within 10 s");
    eprintln!("agents on B {:?} after A stopped", started.elapsed());
    // B takes over the simulated host A ran (at its next heartbeat after A left).
    let mut adopted = false;
    for _ in 0..100 {
        if sb.hub.is_connected(sim) {
            adopted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        adopted,
        "B did not take over A's simulated host within 10 s"
    );
    eprintln!(
        "A's simulated host on B {:?} after A stopped",
        started.elapsed()
    );
    // Nobody is judged Down over the next seconds (B's host monitor runs every 2 s), and the
    // VM keeps running where it was.
    for _ in 0..4 {
        let l = b
            .admin
            .ok(&[("command", "listHosts"), ("keyword", &prefix)])
            .await;
        for h in l["host"].as_array().expect("hosts") {
            assert_eq!(h["state"], "Up", "{h}");
        }
        tokio::time::sleep(Duration::from_millis(1000)).await;
    }
    assert_eq!(running_on(&instance), 1);
    assert_eq!(vm_view(&b.admin, &vm_id).await["state"], "Running");
    // B reaches the VM's host: a stop through B works.
    let j = b
        .admin
        .job(&[("command", "stopVirtualMachine"), ("id", &vm_id)])
        .await;
    assert_eq!(j["jobresult"]["virtualmachine"]["state"], "Stopped", "{j}");
    assert_eq!(running_on(&instance), 0);
    agents.stop().await;
    b.stop().await;
    a.stop().await;
}

/// `indirect.agent.lb.check.interval`: agents that joined through another server move to
/// their preferred one (the first of their list) between commands.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn agents_move_back_to_their_preferred_server() {
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
    a.admin
        .ok(&[
            ("command", "updateConfiguration"),
            ("name", "indirect.agent.lb.check.interval"),
            ("value", "1"),
        ])
        .await;
    for _ in 0..100 {
        if sa.cluster.peers().len() == 2 && sb.cluster.peers().len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // static: every agent prefers the first server by name.
    let preferred = sa.cluster.peers()[0].clone();
    let (via, pref_state) = if preferred == sa.agent_endpoint {
        (&b, sa.clone())
    } else {
        (&a, sb.clone())
    };
    let before = pref_state.hub.connected_count();
    let agents = Agents::join(via, &z.cluster, "lb", 3).await;
    assert_ne!(
        agents.server, preferred,
        "they join through the other server"
    );
    let mut on_preferred = 0;
    for _ in 0..150 {
        on_preferred = pref_state.hub.connected_count().saturating_sub(before);
        if on_preferred == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(on_preferred, 3, "the agents moved to {preferred}");
    agents.stop().await;
    b.stop().await;
    a.stop().await;
}
