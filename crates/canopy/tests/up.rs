//! `canopy up`'s zone: built through the API handlers on first start, reused afterwards; with
//! this machine as a KVM host its local agent joins, and comes back after a restart.

#[path = "../../server/tests/common/mod.rs"]
mod common;

use std::time::Duration;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn up_builds_an_enabled_zone_with_a_local_kvm_host() {
    let ts = TestServer::start().await;
    let dir = ts.dir.path().to_path_buf();
    let st = ts.server.as_ref().expect("running").state.clone();
    let z = server::up::ensure_zone(
        &st,
        &dir,
        server::up::HostChoice::Kvm,
        &canopy::local_agent::QemuLocalAgent,
    )
    .await
    .map_err(|e| e.into_api())
    .expect("zone");
    assert!(z.created);
    let c = ts.admin.clone();
    let zone = c.ok(&[("command", "listZones"), ("id", &z.zone_id)]).await;
    assert_eq!(zone["zone"][0]["allocationstate"], "Enabled");
    let hosts = c
        .ok(&[
            ("command", "listHosts"),
            ("zoneid", &z.zone_id),
            ("hypervisor", "KVM"),
        ])
        .await;
    assert_eq!(
        (
            hosts["count"].as_u64(),
            hosts["host"][0]["state"].as_str(),
            hosts["host"][0]["hypervisor"].as_str()
        ),
        (Some(1), Some("Up"), Some("KVM"))
    );
    // This machine runs the VMs itself: no simulated host.
    let sims = c
        .ok(&[
            ("command", "listHosts"),
            ("zoneid", &z.zone_id),
            ("hypervisor", "Simulator"),
        ])
        .await;
    assert_eq!(sims["count"].as_u64().unwrap_or(0), 0, "{sims}");
    let pools = c
        .ok(&[("command", "listStoragePools"), ("zoneid", &z.zone_id)])
        .await;
    assert!(
        pools["storagepool"][0]["disksizetotal"]
            .as_u64()
            .unwrap_or(0)
            > 0,
        "{pools}"
    );
    assert_eq!(
        c.ok(&[("command", "listImageStores"), ("zoneid", &z.zone_id)])
            .await["count"],
        1
    );
    assert!(
        dir.join("local-agent.json").exists(),
        "the local agent's credential is kept"
    );

    // Agents fetch template files from the image store over the agent endpoint, with their
    // host credential; anyone else is refused.
    let files = ts.staging();
    let img = files.as_path().join("t.qcow2");
    let mut bytes = b"QFI\xfb".to_vec();
    bytes.resize(300 * 1024, 3);
    std::fs::write(&img, &bytes).expect("write");
    let t = c
        .ok(&[
            ("command", "registerTemplate"),
            ("name", "fetchme"),
            ("format", "QCOW2"),
            ("hypervisor", "KVM"),
            ("url", &format!("file://{}", img.display())),
            ("zoneid", &z.zone_id),
        ])
        .await;
    let tid = t["template"][0]["id"].as_str().expect("id").to_string();
    for _ in 0..100 {
        if c.ok(&[
            ("command", "listTemplates"),
            ("templatefilter", "self"),
            ("id", &tid),
        ])
        .await["template"][0]["isready"]
            == true
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("local-agent.json")).expect("cred"))
            .expect("json");
    let make = |secret: &str| agent::HostAgent {
        server: st.agent_endpoint.as_str().into(),
        fingerprint: st.agent_fingerprint.clone(),
        credential: std::sync::Mutex::new(agent::Credential::Host {
            host_id: saved["host_id"]
                .as_str()
                .expect("id")
                .parse()
                .expect("uuid"),
            secret: secret.to_string(),
        }),
        inventory: agent::inventory::local("127.0.0.1"),
        driver: std::sync::Arc::new(agent::driver::LocalDriver),
        offline: None,
        local: None,
        on_credential: None,
    };
    let fetcher = make(saved["secret"].as_str().expect("secret"));
    let dest = files.as_path().join("fetched.qcow2");
    let n = fetcher
        .fetch_image(tid.parse().expect("uuid"), "disk", &dest)
        .await
        .expect("fetch");
    assert_eq!(
        (n, std::fs::read(&dest).expect("read")),
        (bytes.len() as u64, bytes.clone())
    );
    let e = make("wrong")
        .fetch_image(tid.parse().expect("uuid"), "disk", &dest)
        .await
        .expect_err("refused");
    assert!(e.to_string().contains("401"), "{e}");
    let e = fetcher
        .fetch_image(tid.parse().expect("uuid"), "passwd", &dest)
        .await
        .expect_err("refused");
    assert!(e.to_string().contains("404"), "{e}");
    drop(st);

    // After a restart the zone is reused and the local agent rejoins with its credential.
    let ts = ts.restart().await;
    let st = ts.server.as_ref().expect("running").state.clone();
    let again = server::up::ensure_zone(
        &st,
        &dir,
        server::up::HostChoice::Kvm,
        &canopy::local_agent::QemuLocalAgent,
    )
    .await
    .map_err(|e| e.into_api())
    .expect("zone");
    assert!(!again.created);
    assert_eq!(again.zone_id, z.zone_id);
    let host = hosts["host"][0]["id"].as_str().expect("id").to_string();
    let mut state = String::new();
    for _ in 0..100 {
        state = ts
            .admin
            .ok(&[("command", "listHosts"), ("id", &host)])
            .await["host"][0]["state"]
            .as_str()
            .unwrap_or("")
            .to_string();
        if state == "Up" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(state, "Up");
    drop(st);
    ts.stop().await;
}
