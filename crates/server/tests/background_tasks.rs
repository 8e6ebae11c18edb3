//! The background tasks through the API (Canopy additions): every task runs on its own and is
//! listed with its status; a root admin runs one on demand; nobody else sees them.

mod common;

use std::time::Duration;

use common::*;

fn task<'a>(v: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    v["backgroundtask"]
        .as_array()
        .and_then(|a| a.iter().find(|t| t["name"] == name))
        .unwrap_or_else(|| panic!("no task {name}: {v}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tasks_run_independently_are_listed_and_run_on_demand() {
    let ts = TestServer::start().await;
    let c = ts.admin.clone();
    let names = [
        "expunge",
        "host-monitor",
        "job-lease-renewal",
        "job-recovery",
        "network-gc",
        "purge",
        "return-proxy",
        "s2s-vpn-check",
        "server-heartbeat",
        "snapshot-policies",
        "storage-cleanup",
        "storage-pool-refresh",
        "vm-schedules",
    ];
    // Each task runs once at start, then on its own period.
    let mut all = serde_json::Value::Null;
    for _ in 0..100 {
        all = c.ok(&[("command", "listBackgroundTasks")]).await;
        if names
            .iter()
            .all(|n| task(&all, n)["runs"].as_u64() >= Some(1))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(all["count"], names.len(), "{all}");
    for n in names {
        let t = task(&all, n);
        assert!(t["runs"].as_u64() >= Some(1), "{t}");
        assert_eq!(t["failures"], 0, "{t}");
        assert!(
            t["laststart"].is_string() && t["interval"].as_u64() > Some(0),
            "{t}"
        );
    }
    assert_eq!(task(&all, "job-lease-renewal")["interval"], 5);
    assert_eq!(task(&all, "purge")["interval"], 60);

    // On demand: the minute-long purge runs again now.
    let before = task(&all, "purge")["runs"].as_u64().expect("runs");
    let r = c
        .ok(&[("command", "runBackgroundTask"), ("name", "purge")])
        .await;
    assert_eq!(r["backgroundtask"]["name"], "purge");
    let mut after = before;
    for _ in 0..100 {
        let v = c
            .ok(&[("command", "listBackgroundTasks"), ("name", "purge")])
            .await;
        after = task(&v, "purge")["runs"].as_u64().expect("runs");
        if after > before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(after, before + 1);
    let e = c
        .err(&[("command", "runBackgroundTask"), ("name", "nope")], 431)
        .await;
    assert!(e.contains("job-lease-renewal"), "{e}");

    // Root admins only.
    let (_, _, user) = account_with_keys(&ts, &c, "taskuser", None, "0").await;
    user.err(&[("command", "listBackgroundTasks")], 401).await;
    user.err(&[("command", "runBackgroundTask"), ("name", "purge")], 401)
        .await;
    ts.stop().await;
}
