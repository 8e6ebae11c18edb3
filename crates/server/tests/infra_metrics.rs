//! listHostsMetrics, listClustersMetrics, listZonesMetrics, listStoragePoolsMetrics,
//! listDbMetrics and listUsageServerMetrics (SQLite and PostgreSQL): the list commands'
//! objects with the metrics plugin's figures, computed from what the hosts run and report;
//! admins only.

mod common;

use std::time::Duration;

use common::*;
use serde_json::Value;

fn num(v: &Value, suffix: &str) -> f64 {
    v.as_str()
        .and_then(|s| s.strip_suffix(suffix))
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| panic!("not a number with {suffix:?}: {v}"))
}

async fn metrics(ts: TestServer, postgres: bool) {
    let c = ts.admin.clone();
    c.ok(&[
        ("command", "updateConfiguration"),
        ("name", "vm.stats.interval"),
        ("value", "1000"),
    ])
    .await;
    let z = VmZone::new(&ts, 2).await;
    let vm = deploy_vm(&c, &z, "metered", &[]).await;
    let host = s(&vm["hostid"]);
    // Wait for the guest's first statistics.
    let mut h = Value::Null;
    for _ in 0..100 {
        let l = c
            .ok(&[("command", "listHostsMetrics"), ("id", &host)])
            .await;
        h = l["host"][0].clone();
        if num(&h["memoryusedgb"], " GB") > 0.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(h["instances"], "1 / 1", "{h}");
    assert!(num(&h["cputotalghz"], " Ghz") > 0.0, "{h}");
    // The VM's 1 CPU at its offering's speed is allocated here.
    let alloc = num(&h["cpuallocatedghz"], " Ghz");
    assert!(alloc > 0.0, "{h}");
    assert!(num(&h["memoryallocatedgb"], " GB") > 0.0, "{h}");
    assert!(num(&h["memoryusedgb"], " GB") > 0.0, "{h}");
    assert!(
        h["networkread"]
            .as_str()
            .is_some_and(|s| s.ends_with(" GB")),
        "{h}"
    );
    assert_eq!(h["memoryallocateddisablethreshold"], false, "{h}");
    // The same hosts listHosts lists (its filters apply).
    let all = c.ok(&[("command", "listHostsMetrics")]).await;
    let plain = c.ok(&[("command", "listHosts")]).await;
    assert_eq!(all["count"], plain["count"], "{all}");
    // A threshold of 0: every flag for what is allocated is raised.
    c.ok(&[
        ("command", "updateConfiguration"),
        (
            "name",
            "cluster.cpu.allocated.capacity.notificationthreshold",
        ),
        ("value", "0"),
    ])
    .await;
    let l = c
        .ok(&[("command", "listHostsMetrics"), ("id", &host)])
        .await;
    assert_eq!(l["host"][0]["cpuallocatedthreshold"], true, "{l}");
    // Clusters and zones sum their hosts.
    let cl = c.ok(&[("command", "listClustersMetrics")]).await;
    let cl = &cl["cluster"][0];
    let n = c
        .ok(&[("command", "listHosts"), ("clusterid", &s(&cl["id"]))])
        .await["count"]
        .clone();
    assert_eq!(cl["hosts"], format!("{n} / {n}"), "{cl}");
    assert!(
        num(&cl["cputotal"], " Ghz") > num(&h["cputotalghz"], " Ghz") - 0.01,
        "{cl}"
    );
    assert!(num(&cl["cpuallocated"], "%") > 0.0, "{cl}");
    assert_eq!(cl["cpuallocatedthreshold"], true, "{cl}");
    assert!(cl["state"].is_string(), "{cl}");
    let zm = c
        .ok(&[("command", "listZonesMetrics"), ("id", &z.zone)])
        .await;
    let zm = &zm["zone"][0];
    assert_eq!(zm["clusters"], "1 / 1", "{zm}");
    assert!(num(&zm["memorytotal"], " GB") > 0.0, "{zm}");
    assert_eq!(zm["state"], "Enabled", "{zm}");
    let pools = c.ok(&[("command", "listStoragePoolsMetrics")]).await;
    let p = &pools["storagepool"][0];
    assert!(
        p["disksizetotalgb"]
            .as_str()
            .is_some_and(|s| s.contains(" GB (x")),
        "{p}"
    );
    assert!(p["storageallocatedthreshold"].is_boolean(), "{p}");
    // listStoragePools' filters, as CloudStack checks them (the metrics command shares them).
    let n = |v: Value| v["count"].as_u64().unwrap_or(0);
    let all = n(c.ok(&[("command", "listStoragePools")]).await);
    assert!(all >= 1);
    for (k, v, want) in [
        ("status", "up", all),
        ("ipaddress", "localhost", all),
        ("ipaddress", "192.0.2.77", 0),
    ] {
        let got = n(c.ok(&[("command", "listStoragePools"), (k, v)]).await);
        assert_eq!(got, want, "{k}={v}");
    }
    for (k, v) in [("scope", "galaxy"), ("status", "Melting")] {
        c.err(&[("command", "listStoragePoolsMetrics"), (k, v)], 431)
            .await;
    }
    // The database, as it reports itself.
    let d = c.ok(&[("command", "listDbMetrics")]).await;
    let d = &d["dbMetrics"];
    assert!(d["connections"].as_i64().unwrap_or(0) >= 1, "{d}");
    assert!(d["uptime"].as_i64().is_some(), "{d}");
    if postgres {
        assert!(
            d["versioncomment"]
                .as_str()
                .is_some_and(|s| s.starts_with("PostgreSQL")),
            "{d}"
        );
        assert!(d["queries"].as_i64().unwrap_or(0) > 0, "{d}");
    } else {
        assert!(
            d["version"].as_str().is_some_and(|s| s.starts_with('3')),
            "{d}"
        );
    }
    let u = c.ok(&[("command", "listUsageServerMetrics")]).await;
    assert_eq!(u["usageMetrics"]["state"], "Down", "{u}");
    // Users: not theirs to call.
    let (_, _, user) = account_with_keys(&ts, &c, "peeker", None, "0").await;
    for cmd in [
        "listHostsMetrics",
        "listClustersMetrics",
        "listZonesMetrics",
        "listStoragePoolsMetrics",
        "listDbMetrics",
        "listUsageServerMetrics",
    ] {
        user.err(&[("command", cmd)], 401).await;
    }
    ts.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn infrastructure_metrics() {
    metrics(TestServer::start().await, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn infrastructure_metrics_postgres() {
    let Some(pg) = testkit::Postgres::start_for_test() else {
        return;
    };
    metrics(
        TestServer::start_with(Some(pg.fresh_database().expect("db"))).await,
        true,
    )
    .await;
}
