//! `canopy up`'s zone with a simulated host: built through the API handlers. (With this
//! machine as a KVM host — the local agent the binary wires — see `crates/canopy/tests/up.rs`.)

mod common;

use std::time::Duration;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn capacity_of_a_simulated_zone() {
    let ts = TestServer::start().await;
    let st = ts.server.as_ref().expect("running").state.clone();
    let z = server::up::ensure_zone(
        &st,
        ts.dir.path(),
        server::up::HostChoice::Simulator,
        &server::up::NoLocalAgent,
    )
    .await
    .map_err(|e| e.into_api())
    .expect("zone");
    let c = ts.admin.clone();
    let caps = c
        .ok(&[("command", "listCapacity"), ("zoneid", &z.zone_id)])
        .await;
    let by_type = |t: i64| {
        caps["capacity"]
            .as_array()
            .expect("caps")
            .iter()
            .find(|x| x["type"] == t)
            .cloned()
            .unwrap_or_else(|| panic!("no type {t}: {caps}"))
    };
    assert_eq!(
        (
            by_type(0)["capacitytotal"].as_u64(),
            by_type(0)["name"].as_str()
        ),
        (Some(8 << 30), Some("MEMORY"))
    );
    assert_eq!(by_type(1)["capacitytotal"].as_u64(), Some(4 * 8000));
    assert_eq!(by_type(90)["capacitytotal"].as_u64(), Some(4));
    assert_eq!(by_type(2)["capacitytotal"].as_u64(), Some(1 << 40));
    assert_eq!(
        by_type(3)["capacitytotal"].as_u64(),
        Some(2 << 40),
        "storage.overprovisioning.factor 2"
    );
    assert_eq!(
        by_type(5)["capacitytotal"].as_u64(),
        Some(65_521),
        "172.30.0.10 - 172.30.255.250"
    );
    assert!(
        by_type(6)["capacitytotal"].as_u64().unwrap_or(0) > 0,
        "secondary storage measured on the server"
    );
    assert_eq!(by_type(0)["percentused"], "0.00");
    assert_eq!(by_type(0)["zonename"], "zone1");
    // The built-in template (scripts/build-test-template.sh; the test command builds it and
    // sets CANOPY_REQUIRE_TEMPLATE=1) is registered, public and featured, and becomes ready.
    let built = server::up::template_dir().join("template.json").exists();
    if !built {
        testkit::skip(
            "up: the built-in template becomes ready",
            "the template is not built (scripts/build-test-template.sh)",
            "CANOPY_REQUIRE_TEMPLATE",
        );
    }
    match (&z.template, built) {
        (Ok(id), true) => {
            let mut t = serde_json::Value::Null;
            for _ in 0..400 {
                t = c
                    .ok(&[
                        ("command", "listTemplates"),
                        ("templatefilter", "featured"),
                        ("id", id),
                    ])
                    .await["template"][0]
                    .clone();
                if t["isready"] == true
                    || t["status"]
                        .as_str()
                        .map(|s| !s.contains("Download"))
                        .unwrap_or(false)
                {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            assert_eq!(
                (
                    t["isready"].as_bool(),
                    t["name"].as_str(),
                    t["hypervisor"].as_str()
                ),
                (Some(true), Some("Canopy Tiny Linux"), Some("Simulator")),
                "{t}"
            );
            let dir = ts.dir.path().join("secondary").join("template").join(id);
            for f in ["qcow2", "kernel", "initrd"] {
                assert!(
                    dir.join(format!("{id}.{f}")).exists(),
                    "{f} in the image store"
                );
            }
        }
        (Err(why), false) => assert!(why.contains("build-test-template"), "{why}"),
        other => panic!("unexpected template outcome: {other:?}"),
    }
    // One type; per cluster.
    let mem = c.ok(&[("command", "listCapacity"), ("type", "0")]).await;
    assert_eq!(mem["count"], 1);
    let cl = c.ok(&[("command", "listClusters")]).await["cluster"][0]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let per = c
        .ok(&[
            ("command", "listCapacity"),
            ("clusterid", &cl),
            ("type", "1"),
        ])
        .await;
    assert_eq!(
        (
            per["count"].as_u64(),
            per["capacity"][0]["clustername"].as_str()
        ),
        (Some(1), Some("cluster1"))
    );
    drop(st);
    ts.stop().await;
}
