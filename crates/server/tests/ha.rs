//! HA on simulated hosts: a dead host is investigated, declared Down and fenced, its HA VMs
//! restart elsewhere and the others stop; a host only the server lost is Alert and keeps its
//! VMs; a fenced host that comes back stops the fenced VMs first.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

async fn host_state(c: &Client, id: &str) -> String {
    s(&c.ok(&[("command", "listHosts"), ("id", id)]).await["host"][0]["state"])
}

async fn wait_host(c: &Client, id: &str, want: &str, secs: u64) -> Duration {
    let t = Instant::now();
    for _ in 0..secs * 10 {
        if host_state(c, id).await == want {
            return t.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "host {id} did not reach {want} in {secs} s (it is {})",
        host_state(c, id).await
    );
}

async fn vm(c: &Client, id: &str) -> Value {
    c.ok(&[
        ("command", "listVirtualMachines"),
        ("id", id),
        ("listall", "true"),
    ])
    .await["virtualmachine"][0]
        .clone()
}

/// Waits until the VM is in `state` on a host other than `not_on`.
async fn wait_vm(c: &Client, id: &str, state: &str, not_on: &str, secs: u64) -> Value {
    let mut last = Value::Null;
    for _ in 0..secs * 10 {
        last = vm(c, id).await;
        if last["state"] == state && last["hostid"] != not_on {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("VM {id} did not reach {state} in {secs} s: {last}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dead_host_partitioned_host_and_fencing() {
    let ts = TestServer::start().await;
    let c = &ts.admin;
    // Fast heartbeats (given to agents when they connect): 1 s × 2.
    for (k, v) in [("ping.interval", "1"), ("ping.timeout", "2")] {
        c.ok(&[
            ("command", "updateConfiguration"),
            ("name", k),
            ("value", v),
        ])
        .await;
    }
    let z = VmZone::new(&ts, 3).await;
    let noha = s(&c
        .ok(&[
            ("command", "createServiceOffering"),
            ("name", "noha"),
            ("displaytext", "noha"),
            ("cpunumber", "1"),
            ("cpuspeed", "500"),
            ("memory", "256"),
        ])
        .await["serviceoffering"]["id"]);
    let (h0, a0) = z.hosts[0].clone();
    let mut ha = Vec::new();
    for _ in 0..2 {
        let j = c.job(&z.deploy(&[("hostid", &h0)])).await;
        ha.push(s(&j["jobresult"]["virtualmachine"]["id"]));
    }
    let j = c
        .job(&[
            ("command", "deployVirtualMachine"),
            ("zoneid", &z.zone),
            ("templateid", &z.template),
            ("serviceofferingid", &noha),
            ("hostid", &h0),
        ])
        .await;
    let plain = s(&j["jobresult"]["virtualmachine"]["id"]);
    assert_eq!(vm(c, &plain).await["haenable"], false);

    // 1. Host 0 dies: Down, HA VMs Running elsewhere, the other one Stopped.
    agent::simulator::sim_host(&a0).power_off();
    let down_after = wait_host(c, &h0, "Down", 20).await;
    for id in &ha {
        wait_vm(c, id, "Running", &h0, 20).await;
    }
    let p = vm(c, &plain).await;
    assert_eq!(p["state"], "Stopped", "{p}");
    assert!(p.get("hostid").is_none());
    println!("host Down {:?} after power-off", down_after);
    // An alert says so (root admins), in the host's zone; archived, it leaves the list.
    let host_name = s(&c.ok(&[("command", "listHosts"), ("id", &h0)]).await["host"][0]["name"]);
    let alerts = c.ok(&[("command", "listAlerts"), ("type", "7")]).await;
    let down: Vec<&Value> = alerts["alert"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|x| {
                    x["description"]
                        .as_str()
                        .unwrap_or("")
                        .contains(&format!("Host {host_name} is Down"))
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(down.len(), 1, "{alerts}");
    assert_eq!(down[0]["name"], "ALERT.COMPUTE.HOST");
    assert_eq!(down[0]["zoneid"], z.zone.as_str());
    let alert_id = s(&down[0]["id"]);
    // It comes back empty; its fences are lifted; nothing runs twice.
    agent::simulator::sim_host(&a0).restore();
    wait_host(c, &h0, "Up", 20).await;

    c.ok(&[("command", "archiveAlerts"), ("ids", &alert_id)])
        .await;
    let left = c.ok(&[("command", "listAlerts"), ("id", &alert_id)]).await;
    assert!(
        left["alert"]
            .as_array()
            .map(|a| a.is_empty())
            .unwrap_or(true),
        "{left}"
    );
    c.err(&[("command", "deleteAlerts")], 431).await;
    c.ok(&[("command", "deleteAlerts"), ("ids", &alert_id)])
        .await;

    // 2. Host 1 loses only the server: peers still reach it → Alert, VMs untouched.
    let (h1, a1) = z.hosts[1].clone();
    let j = c
        .job(&[
            ("command", "startVirtualMachine"),
            ("id", &plain),
            ("hostid", &h1),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    agent::simulator::sim_host(&a1).partition(true);
    wait_host(c, &h1, "Alert", 20).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        host_state(c, &h1).await,
        "Alert",
        "never Down while a peer reaches it"
    );
    assert_eq!(vm(c, &plain).await["state"], "Running");
    agent::simulator::sim_host(&a1).restore();
    wait_host(c, &h1, "Up", 20).await;

    // 3. Host 1 is cut off from everyone with its VMs still running: Down and fenced; the
    // HA VMs on it restart elsewhere; when it comes back it stops the fenced copies first.
    let on1: Vec<String> = ha.to_vec();
    for id in &on1 {
        let v = vm(c, id).await;
        if v["hostid"] != h1.as_str() {
            c.job(&[
                ("command", "migrateVirtualMachine"),
                ("virtualmachineid", id),
                ("hostid", &h1),
            ])
            .await;
        }
    }
    let names: Vec<String> = {
        let mut v = Vec::new();
        for id in &on1 {
            v.push(s(&vm(c, id).await["instancename"]));
        }
        v
    };
    agent::simulator::sim_host(&a1).partition(false);
    wait_host(c, &h1, "Down", 20).await;
    for id in &on1 {
        wait_vm(c, id, "Running", &h1, 20).await;
    }
    assert_eq!(vm(c, &plain).await["state"], "Stopped");
    // The partitioned host still runs its copies until it is back.
    let stale = agent::simulator::sim_host(&a1).vm_names();
    for n in &names {
        assert!(stale.contains(n), "{n} still runs on the cut-off host");
    }
    agent::simulator::sim_host(&a1).restore();
    wait_host(c, &h1, "Up", 20).await;
    for _ in 0..50 {
        if agent::simulator::sim_host(&a1).vm_names().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        agent::simulator::sim_host(&a1).vm_names().is_empty(),
        "fenced VMs stopped on return"
    );
    let mut running = z.running();
    let before = running.len();
    running.dedup();
    assert_eq!(running.len(), before, "no VM runs twice: {running:?}");
    assert_eq!(before, 2);
    ts.stop().await;
}

/// A host whose agent connection drops is investigated after a short grace, not after the
/// heartbeat timeout (here 30 s × 2.5 = 75 s): a dead host is Down and its HA VM Running
/// elsewhere long before; a host whose agent is back within the grace is never suspected.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dropped_connection_is_investigated_at_once() {
    let ts = TestServer::start().await;
    let c = &ts.admin;
    for (k, v) in [("ping.interval", "30"), ("ping.timeout", "2.5")] {
        c.ok(&[
            ("command", "updateConfiguration"),
            ("name", k),
            ("value", v),
        ])
        .await;
    }
    let z = VmZone::new(&ts, 3).await;
    let (h0, a0) = z.hosts[0].clone();
    let (h1, a1) = z.hosts[1].clone();
    let j = c.job(&z.deploy(&[("hostid", &h0)])).await;
    let id = s(&j["jobresult"]["virtualmachine"]["id"]);

    // Host 1's agent drops and is back within the grace: Up again, never Alert or Down.
    agent::simulator::sim_host(&a1).partition(true);
    tokio::time::sleep(Duration::from_millis(300)).await;
    agent::simulator::sim_host(&a1).restore();
    wait_host(c, &h1, "Up", 10).await;
    tokio::time::sleep(hub_grace() + Duration::from_secs(1)).await;
    assert_eq!(
        host_state(c, &h1).await,
        "Up",
        "a brief drop is not investigated"
    );

    // Host 0 dies: Down and its HA VM Running elsewhere well inside the 75 s timeout.
    agent::simulator::sim_host(&a0).power_off();
    let down = wait_host(c, &h0, "Down", 20).await;
    let v = wait_vm(c, &id, "Running", &h0, 20).await;
    println!(
        "host Down {down:?} after power-off (heartbeat timeout 75 s); VM on {}",
        v["hostid"]
    );
}

fn hub_grace() -> Duration {
    server::hub::DROP_GRACE
}
