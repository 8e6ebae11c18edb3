//! Primary storage pools (capacity measured by an agent of the scope) and image stores.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pools_and_image_stores() {
    let ts = TestServer::start().await;
    let c = ts.admin.clone();
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
        .expect("z")
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
        .expect("p")
        .to_string();
    let sims = c
        .ok(&[
            ("command", "addCluster"),
            ("clustername", "C0"),
            ("clustertype", "CloudManaged"),
            ("hypervisor", "Simulator"),
            ("podid", &pod),
            ("zoneid", &zone),
        ])
        .await["cluster"][0]["id"]
        .as_str()
        .expect("c")
        .to_string();
    let kvms = c
        .ok(&[
            ("command", "addCluster"),
            ("clustername", "K0"),
            ("clustertype", "CloudManaged"),
            ("hypervisor", "KVM"),
            ("podid", &pod),
            ("zoneid", &zone),
        ])
        .await["cluster"][0]["id"]
        .as_str()
        .expect("c")
        .to_string();

    // No host in the scope yet: nobody can reach the path.
    let t = c
        .err(
            &[
                ("command", "createStoragePool"),
                ("name", "PS0"),
                ("zoneid", &zone),
                ("podid", &pod),
                ("clusterid", &sims),
                ("url", "sharedmountpoint:///mnt/primary"),
            ],
            530,
        )
        .await;
    assert!(t.contains("No host is up"), "{t}");
    c.ok(&[
        ("command", "addHost"),
        ("zoneid", &zone),
        ("podid", &pod),
        ("clusterid", &sims),
        ("hypervisor", "Simulator"),
        ("url", "http://sim/c0/h0"),
    ])
    .await;

    c.err(
        &[
            ("command", "createStoragePool"),
            ("name", "x"),
            ("zoneid", &zone),
            ("clusterid", &sims),
            ("url", "nfs://10.147.28.6:/export/home/sandbox/primary0"),
        ],
        431,
    )
    .await;
    c.err(
        &[
            ("command", "createStoragePool"),
            ("name", "x"),
            ("zoneid", &zone),
            ("clusterid", &sims),
            ("url", "rbd://pool"),
        ],
        431,
    )
    .await;
    c.err(
        &[
            ("command", "createStoragePool"),
            ("name", "x"),
            ("zoneid", &zone),
            ("url", "sharedmountpoint:///mnt/p"),
            ("scope", "zone"),
        ],
        431,
    )
    .await;
    let ps = c
        .ok(&[
            ("command", "createStoragePool"),
            ("name", "PS0"),
            ("zoneid", &zone),
            ("podid", &pod),
            ("clusterid", &sims),
            ("url", "sharedmountpoint://localhost/mnt/primary"),
            ("tags", "fast,ssd"),
        ])
        .await["storagepool"]
        .clone();
    assert_eq!(
        (
            ps["state"].as_str(),
            ps["scope"].as_str(),
            ps["type"].as_str(),
            ps["path"].as_str(),
            ps["disksizetotal"].as_u64(),
            ps["tags"].as_str(),
            ps["clustername"].as_str()
        ),
        (
            Some("Up"),
            Some("CLUSTER"),
            Some("SharedMountPoint"),
            Some("/mnt/primary"),
            Some(1 << 40),
            Some("fast,ssd"),
            Some("C0")
        )
    );
    let psid = ps["id"].as_str().expect("id").to_string();

    // A real agent measures a real directory (df); a missing path is refused.
    let r = c
        .ok(&[
            ("command", "addHost"),
            ("zoneid", &zone),
            ("podid", &pod),
            ("clusterid", &kvms),
            ("hypervisor", "KVM"),
            ("url", "http://10.7.7.7"),
        ])
        .await;
    let tok = proto::JoinToken::decode(r["host"][0]["jointoken"].as_str().expect("token"))
        .expect("decode");
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let agent = Arc::new(agent::HostAgent {
        server: tok.server.into(),
        fingerprint: tok.fingerprint,
        credential: Mutex::new(agent::Credential::Token { secret: tok.secret }),
        inventory: agent::inventory::local("10.7.7.7"),
        driver: Arc::new(agent::driver::LocalDriver),
        offline: None,
        local: None,
        on_credential: None,
    });
    let task = tokio::spawn({
        let a = agent.clone();
        async move { a.run(stop).await }
    });
    let host_id = r["host"][0]["id"].as_str().expect("id").to_string();
    for _ in 0..100 {
        if c.ok(&[("command", "listHosts"), ("id", &host_id)]).await["host"][0]["state"] == "Up" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let url = format!("filesystem://{}", dir.path().display());
    let t = c
        .err(
            &[
                ("command", "createStoragePool"),
                ("name", "bad"),
                ("zoneid", &zone),
                ("clusterid", &kvms),
                ("url", "filesystem:///no/such/dir"),
            ],
            534,
        )
        .await;
    assert!(t.contains("not a directory"), "{t}");
    let local = c
        .ok(&[
            ("command", "createStoragePool"),
            ("name", "ZPS"),
            ("zoneid", &zone),
            ("scope", "zone"),
            ("hypervisor", "KVM"),
            ("url", &url),
        ])
        .await["storagepool"]
        .clone();
    assert!(
        local["disksizetotal"].as_u64().unwrap_or(0) > 0
            && local["disksizeused"].as_u64().is_some(),
        "{local}"
    );
    assert_eq!(local["scope"], "ZONE");

    // The periodic refresh re-measures pools through their hosts, but keeps a capacity the
    // operator set.
    let st = ts.server.as_ref().expect("running").state.clone();
    c.ok(&[
        ("command", "updateStoragePool"),
        ("id", &psid),
        ("capacitybytes", "1234567"),
    ])
    .await;
    server::handlers::storage::refresh_pools(&st)
        .await
        .map_err(|e| e.into_api())
        .expect("refresh");
    let after = c
        .ok(&[("command", "listStoragePools"), ("id", &psid)])
        .await;
    assert_eq!(
        after["storagepool"][0]["disksizetotal"].as_u64(),
        Some(1_234_567)
    );
    let zps = c
        .ok(&[("command", "listStoragePools"), ("name", "ZPS")])
        .await;
    assert_eq!(
        zps["storagepool"][0]["disksizetotal"], local["disksizetotal"],
        "re-measured by the KVM agent: same filesystem"
    );
    drop(st);

    // Lists, updates, maintenance (CloudStack's odd wrapper names).
    assert_eq!(
        c.ok(&[("command", "listStoragePools"), ("clusterid", &sims)])
            .await["count"],
        1
    );
    assert_eq!(
        c.ok(&[("command", "listStoragePools"), ("scope", "ZONE")])
            .await["count"],
        1
    );
    let u = c
        .ok(&[
            ("command", "updateStoragePool"),
            ("id", &psid),
            ("tags", ""),
            ("enabled", "false"),
        ])
        .await;
    assert_eq!(
        (
            u["storagepool"]["tags"].as_str(),
            u["storagepool"]["state"].as_str()
        ),
        (Some(""), Some("Disabled"))
    );
    let r = c
        .call(&[("command", "enableStorageMaintenance"), ("id", &psid)])
        .await;
    assert_eq!(r.key(), "prepareprimarystorageformaintenanceresponse");
    let j = c
        .wait_job(r.inner()["jobid"].as_str().expect("jobid"))
        .await;
    assert_eq!(j["jobresult"]["storagepool"]["state"], "Maintenance");
    c.err(
        &[
            ("command", "updateStoragePool"),
            ("id", &psid),
            ("enabled", "true"),
        ],
        431,
    )
    .await;
    let r = c
        .call(&[("command", "cancelStorageMaintenance"), ("id", &psid)])
        .await;
    assert_eq!(r.key(), "cancelprimarystoragemaintenanceresponse");
    let j = c
        .wait_job(r.inner()["jobid"].as_str().expect("jobid"))
        .await;
    assert_eq!(j["jobresult"]["storagepool"]["state"], "Up");
    assert_eq!(
        c.ok(&[("command", "deleteStoragePool"), ("id", &psid)])
            .await["success"],
        true
    );

    // Image stores: a directory on the management server.
    let sec = tempfile::tempdir().expect("tmp");
    let surl = format!("file://{}/secondary", sec.path().display());
    c.err(
        &[
            ("command", "addImageStore"),
            ("provider", "NFS"),
            ("url", "nfs://10.147.28.6/export/secondary"),
            ("zoneid", &zone),
        ],
        431,
    )
    .await;
    c.err(
        &[
            ("command", "addImageStore"),
            ("provider", "NFS"),
            ("url", &surl),
        ],
        431,
    )
    .await;
    let is = c
        .ok(&[
            ("command", "addImageStore"),
            ("provider", "NFS"),
            ("name", "SS0"),
            ("url", &surl),
            ("zoneid", &zone),
        ])
        .await["imagestore"]
        .clone();
    assert_eq!(
        (
            is["protocol"].as_str(),
            is["providername"].as_str(),
            is["scope"].as_str(),
            is["zonename"].as_str()
        ),
        (Some("file"), Some("NFS"), Some("ZONE"), Some("z"))
    );
    assert!(sec.path().join("secondary").is_dir());
    let legacy = c
        .ok(&[
            ("command", "addSecondaryStorage"),
            ("url", &format!("file://{}/legacy", sec.path().display())),
            ("zoneid", &zone),
        ])
        .await;
    assert_eq!(legacy["imagestore"]["providername"], "NFS");
    assert_eq!(
        c.ok(&[("command", "listImageStores"), ("zoneid", &zone)])
            .await["count"],
        2
    );
    c.ok(&[
        ("command", "deleteImageStore"),
        ("id", is["id"].as_str().expect("id")),
    ])
    .await;
    assert_eq!(
        c.ok(&[("command", "listImageStores"), ("name", "SS0")])
            .await,
        serde_json::json!({})
    );
    let _ = stop_tx.send(true);
    let _ = task.await;
    ts.stop().await;
}
