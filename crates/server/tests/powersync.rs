//! Power-state sync: what simulated hosts run is compared with the database and reconciled
//! both ways — a VM its host lost is marked Stopped (its capacity freed, an event written), a
//! stale copy of a VM that runs elsewhere is stopped, an unknown VM is only reported.

mod common;

use common::*;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hosts_and_database_are_reconciled_both_ways() {
    let ts = TestServer::start().await;
    let st = ts.server.as_ref().expect("running").state.clone();
    let z = VmZone::new(&ts, 2).await;
    let c = ts.admin.clone();
    let a = deploy_vm(&c, &z, "ps-a", &[]).await;
    let b = deploy_vm(&c, &z, "ps-b", &[]).await;
    let addr_of = |host: &str| {
        z.hosts
            .iter()
            .find(|(h, _)| h == host)
            .map(|(_, a)| a.clone())
            .expect("a host of the zone")
    };
    let (a_id, a_host) = (
        a["id"].as_str().expect("id").to_string(),
        a["hostid"].as_str().expect("host").to_string(),
    );
    let a_name = a["instancename"].as_str().expect("name").to_string();
    let b_host = b["hostid"].as_str().expect("host").to_string();
    let b_name = b["instancename"].as_str().expect("name").to_string();
    let used = |v: &serde_json::Value| v["host"][0]["memoryallocatedbytes"].as_i64();
    let before = used(&c.ok(&[("command", "listHosts"), ("id", &a_host)]).await);

    // Nothing to do when both agree.
    let r = server::powersync::sync_host(&st, a_host.parse().expect("uuid"))
        .await
        .expect("sync");
    assert_eq!(r, server::powersync::Report::default());

    // The host lost VM a (a phantom in the database): Stopped, capacity freed, an event.
    let sim = agent::simulator::sim_host(&addr_of(&a_host));
    let spec = sim
        .vms
        .lock()
        .expect("lock")
        .remove(&a_name)
        .expect("a runs there");
    let r = server::powersync::sync_host(&st, a_host.parse().expect("uuid"))
        .await
        .expect("sync");
    assert_eq!(r.missing, vec![a_name.clone()]);
    if a["haenable"] == true {
        // HA restarts it (on either host): wait until it runs again.
        let mut state = serde_json::Value::Null;
        for _ in 0..200 {
            state = vm_view(&c, &a_id).await["state"].clone();
            if state == "Running" {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(state, "Running", "HA restarted the lost VM");
    } else {
        assert_eq!(vm_view(&c, &a_id).await["state"], "Stopped");
        let after = used(&c.ok(&[("command", "listHosts"), ("id", &a_host)]).await);
        assert!(after < before, "capacity freed: {before:?} -> {after:?}");
    }
    let ev = c
        .ok(&[
            ("command", "listEvents"),
            ("type", "VM.POWER.SYNC"),
            ("listall", "true"),
        ])
        .await;
    assert!(
        ev["event"]
            .as_array()
            .map(|e| e.iter().any(|e| e["resourceid"] == a_id.as_str()))
            .unwrap_or(false),
        "{ev}"
    );

    // A stale copy of VM b on the other host: stopped there, b keeps running on its own.
    let other = z
        .hosts
        .iter()
        .find(|(h, _)| *h != b_host)
        .map(|(h, a)| (h.clone(), a.clone()))
        .expect("two hosts");
    let b_spec = agent::simulator::sim_host(&addr_of(&b_host))
        .vms
        .lock()
        .expect("lock")
        .get(&b_name)
        .cloned()
        .expect("b runs there");
    let other_sim = agent::simulator::sim_host(&other.1);
    other_sim
        .vms
        .lock()
        .expect("lock")
        .insert(b_name.clone(), b_spec);
    // And a VM nobody knows, which is only reported.
    let mut stray = spec.clone();
    stray.name = format!("i-stray-{}", Uuid::new_v4().simple());
    other_sim
        .vms
        .lock()
        .expect("lock")
        .insert(stray.name.clone(), stray.clone());
    let r = server::powersync::sync_host(&st, other.0.parse().expect("uuid"))
        .await
        .expect("sync");
    assert_eq!(r.stopped, vec![b_name.clone()]);
    assert_eq!(r.strays, vec![stray.name.clone()]);
    assert!(!other_sim.vm_names().contains(&b_name));
    assert!(other_sim.vm_names().contains(&stray.name));
    let bv = vm_view(&c, b["id"].as_str().expect("id")).await;
    assert_eq!(
        (bv["state"].as_str(), bv["hostid"].as_str()),
        (Some("Running"), Some(b_host.as_str()))
    );
    assert!(agent::simulator::sim_host(&addr_of(&b_host))
        .vm_names()
        .contains(&b_name));

    // The VM that was lost starts again normally.
    let j = c
        .job(&[("command", "startVirtualMachine"), ("id", &a_id)])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    ts.stop().await;
}
