//! The placement shell: a snapshot of a real (simulated-host) zone from the database, planned
//! by the pure placement crate — disabled clusters, guest limits, host tags and thresholds
//! taken from the API-visible state.

mod common;

use std::time::Duration;

use common::*;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn snapshot_of_a_zone_drives_placement() {
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
    let zone: Uuid = z.zone_id.parse().expect("uuid");
    let c = ts.admin.clone();
    // Wait for the simulated host to be Up.
    let mut host = serde_json::Value::Null;
    for _ in 0..200 {
        let h = c
            .ok(&[
                ("command", "listHosts"),
                ("zoneid", &z.zone_id),
                ("type", "Routing"),
            ])
            .await;
        host = h["host"][0].clone();
        if host["state"] == "Up" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(host["state"], "Up", "{host}");
    let host_id: Uuid = host["id"].as_str().expect("id").parse().expect("uuid");
    let cluster_id = host["clusterid"].as_str().expect("cluster").to_string();

    let snap = server::placing::snapshot(&st, zone)
        .await
        .expect("snapshot");
    assert_eq!(snap.clusters.len(), 1);
    assert!(snap.clusters[0].enabled);
    assert_eq!(snap.hosts.len(), 1);
    let h = &snap.hosts[0];
    assert!(
        h.usable && h.cpus > 0 && h.memory > 0 && h.max_guests == 50,
        "{h:?}"
    );
    assert_eq!(snap.pools.len(), 1);
    assert!(snap.pools[0].usable && snap.pools[0].capacity > 0);

    let policy = server::placing::policy(&st.settings);
    let req = placement::Request {
        cpus: 1,
        cpu_mhz: 500,
        memory: 256 << 20,
        disk: 1 << 30,
        seed: 7,
        ..Default::default()
    };
    let p = placement::plan(&snap, &req, &policy).expect("fits");
    assert_eq!(p.host, host_id);

    // Host tags from the API.
    let tagged = placement::Request {
        host_tags: ["gpu".to_string()].into(),
        ..req.clone()
    };
    assert!(placement::plan(&snap, &tagged, &policy).is_err());
    c.ok(&[
        ("command", "updateHost"),
        ("id", host["id"].as_str().expect("id")),
        ("hosttags", "gpu,ssd"),
    ])
    .await;
    let snap = server::placing::snapshot(&st, zone)
        .await
        .expect("snapshot");
    assert_eq!(
        placement::plan(&snap, &tagged, &policy)
            .expect("tagged")
            .host,
        host_id
    );

    // maxguestslimit 0 for the simulator: nothing fits, and the reason says so.
    let caps = c
        .ok(&[
            ("command", "listHypervisorCapabilities"),
            ("hypervisor", "Simulator"),
        ])
        .await;
    let caps_id = caps["hypervisorCapabilities"][0]["id"]
        .as_str()
        .expect("id")
        .to_string();
    c.ok(&[
        ("command", "updateHypervisorCapabilities"),
        ("id", &caps_id),
        ("maxguestslimit", "0"),
    ])
    .await;
    let snap = server::placing::snapshot(&st, zone)
        .await
        .expect("snapshot");
    let e = placement::plan(&snap, &req, &policy).expect_err("guest limit");
    assert!(e.reason.contains("VM slot"), "{e}");
    c.ok(&[
        ("command", "updateHypervisorCapabilities"),
        ("id", &caps_id),
        ("maxguestslimit", "50"),
    ])
    .await;

    // A disabled cluster: users get nothing, root admins may still place there.
    c.ok(&[
        ("command", "updateCluster"),
        ("id", &cluster_id),
        ("allocationstate", "Disabled"),
    ])
    .await;
    let snap = server::placing::snapshot(&st, zone)
        .await
        .expect("snapshot");
    let e = placement::plan(&snap, &req, &policy).expect_err("disabled");
    assert!(e.reason.contains("disabled"), "{e}");
    let admin_req = placement::Request {
        admin: true,
        ..req.clone()
    };
    assert_eq!(
        placement::plan(&snap, &admin_req, &policy)
            .expect("admin")
            .host,
        host_id
    );

    // The allocator follows vm.allocation.algorithm.
    c.ok(&[
        ("command", "updateConfiguration"),
        ("name", "vm.allocation.algorithm"),
        ("value", "firstfitleastconsumed"),
    ])
    .await;
    assert_eq!(
        server::placing::policy(&st.settings).allocator,
        placement::Allocator::FirstFitLeastConsumed
    );
    ts.stop().await;
}
