//! migrateVirtualMachineWithVolume through the API on simulated hosts: a running VM moves to
//! a host of another cluster and its volumes to a pool that host reaches (chosen, or named by
//! `migrateto`); refusals; the saga failing at every step (unwound before the transfer,
//! completed after) and killed before and after every step (finished after a restart). The
//! live mirror of a real guest's disks over NBD is the QEMU driver's test
//! (`vms_migrate_live_with_their_disks`) and the real-hosts test.

mod common;

use common::*;
use domain::saga::{Fault, FaultKind};

async fn root_of(c: &Client, vm: &str) -> serde_json::Value {
    c.ok(&[
        ("command", "listVolumes"),
        ("virtualmachineid", vm),
        ("type", "ROOT"),
    ])
    .await["volume"][0]
        .clone()
}

/// Where the VM runs and its root volume's pool.
async fn place(c: &Client, vm: &str) -> (String, String, String) {
    let v = vm_view(c, vm).await;
    let r = root_of(c, vm).await;
    assert_eq!(v["state"], "Running", "{v}");
    assert_eq!(r["state"], "Ready", "{r}");
    (s(&v["hostid"]), s(&r["storageid"]), s(&r["id"]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn vms_migrate_with_their_volumes_to_another_cluster() {
    let mut ts = TestServer::start().await;
    let z = VmZone::new(&ts, 1).await;
    let c = ts.admin.clone();
    // A second cluster with its own host and pool.
    let c2 = s(&c
        .ok(&[
            ("command", "addCluster"),
            ("clustername", "second"),
            ("clustertype", "CloudManaged"),
            ("hypervisor", "Simulator"),
            ("podid", &z.pod),
            ("zoneid", &z.zone),
        ])
        .await["cluster"][0]["id"]);
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let h2_addr = format!("sim/{tag}/c2");
    let h2 = s(&c
        .ok(&[
            ("command", "addHost"),
            ("zoneid", &z.zone),
            ("podid", &z.pod),
            ("clusterid", &c2),
            ("hypervisor", "Simulator"),
            ("url", &format!("http://{h2_addr}")),
            ("username", "root"),
            ("password", "password"),
        ])
        .await["host"][0]["id"]);
    let dir = ts.dir.path().join("pool-c2");
    std::fs::create_dir_all(&dir).expect("pool");
    let p2 = s(&c
        .ok(&[
            ("command", "createStoragePool"),
            ("name", "c2-pool"),
            ("zoneid", &z.zone),
            ("podid", &z.pod),
            ("clusterid", &c2),
            ("url", &format!("filesystem://{}", dir.display())),
        ])
        .await["storagepool"]["id"]);
    for _ in 0..100 {
        if host_view(&c, &h2).await["state"] == "Up" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let vm = s(&deploy_vm(&c, &z, "sm", &[]).await["id"]);
    let (h1, p1, root) = place(&c, &vm).await;

    // Refusals.
    let base = [
        ("command", "migrateVirtualMachineWithVolume"),
        ("virtualmachineid", vm.as_str()),
    ];
    let e = c.err(&base, 431).await;
    assert!(e.contains("hostid"), "{e}");
    let err = |extra: Vec<(&'static str, String)>, code: u16| {
        let c = c.clone();
        let mut p: Vec<(&str, String)> = base.iter().map(|(a, b)| (*a, b.to_string())).collect();
        p.extend(extra);
        async move {
            let q: Vec<(&str, &str)> = p.iter().map(|(a, b)| (*a, b.as_str())).collect();
            c.err(&q, code).await
        }
    };
    let e = err(vec![("hostid", h1.clone())], 431).await;
    assert!(e.contains("already runs"), "{e}");
    // The first cluster's pool is out of the second cluster's host's reach.
    let e = err(
        vec![
            ("hostid", h2.clone()),
            ("migrateto[0].volume", root.clone()),
            ("migrateto[0].pool", p1.clone()),
        ],
        431,
    )
    .await;
    assert!(e.contains("does not reach") || e.contains("no room"), "{e}");
    let stranger = uuid::Uuid::new_v4().to_string();
    let e = err(
        vec![
            ("hostid", h2.clone()),
            ("migrateto[0].volume", stranger),
            ("migrateto[0].pool", p2.clone()),
        ],
        431,
    )
    .await;
    assert!(e.contains("not attached"), "{e}");
    err(
        vec![
            ("hostid", h2.clone()),
            ("migrateto[0].volume", "nope".into()),
            ("migrateto[0].pool", p2.clone()),
        ],
        431,
    )
    .await;
    let (_, _, user) = account_with_keys(&ts, &c, "mover", None, "0").await;
    let r = user
        .call(&[
            ("command", "migrateVirtualMachineWithVolume"),
            ("virtualmachineid", &vm),
            ("hostid", &h2),
        ])
        .await;
    assert!([401, 431, 531].contains(&r.status), "{}", r.text);

    // To the second cluster: its pool is chosen for the root volume.
    let j = c
        .job(&[
            ("command", "migrateVirtualMachineWithVolume"),
            ("virtualmachineid", &vm),
            ("hostid", &h2),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    assert_eq!(
        j["jobresult"]["virtualmachine"]["hostid"],
        h2.as_str(),
        "{j}"
    );
    let (h, p, _) = place(&c, &vm).await;
    assert_eq!((h.as_str(), p.as_str()), (h2.as_str(), p2.as_str()));
    let r = root_of(&c, &vm).await;
    assert!(
        s(&r["path"]).is_empty() || s(&r["path"]).starts_with(&dir.display().to_string()),
        "{r}"
    );
    let inst = s(&vm_view(&c, &vm).await["instancename"]);
    let sim2 = agent::simulator::sim_host(&h2_addr);
    assert!(sim2.vms.lock().expect("vms").contains_key(&inst));
    let root_id: uuid::Uuid = root.parse().expect("id");
    assert!(sim2.volumes.lock().expect("vols").contains_key(&root_id));
    assert!(!z.running().contains(&inst), "gone from the first cluster");
    // And back, the pool named.
    let j = c
        .job(&[
            ("command", "migrateVirtualMachineWithVolume"),
            ("virtualmachineid", &vm),
            ("hostid", &h1),
            ("migrateto[0].volume", &root),
            ("migrateto[0].pool", &p1),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    assert_eq!(place(&c, &vm).await, (h1.clone(), p1.clone(), root.clone()));
    assert!(!sim2.vms.lock().expect("vms").contains_key(&inst));

    // Failing at each step: before the transfer it stays; after, it completes.
    let mut at = (h1.clone(), p1.clone());
    let mut other = (h2.clone(), p2.clone());
    for step in 0..4 {
        ts.server
            .as_ref()
            .expect("running")
            .state
            .faults
            .add(Fault {
                saga: "migratestorage".into(),
                step,
                kind: FaultKind::Fail,
            });
        let j = c
            .job(&[
                ("command", "migrateVirtualMachineWithVolume"),
                ("virtualmachineid", &vm),
                ("hostid", &other.0),
            ])
            .await;
        let (h, p, _) = place(&c, &vm).await;
        if step < 3 {
            assert_eq!(j["jobstatus"], 2, "step {step}: {j}");
            assert_eq!((h, p), at, "step {step}");
            // Nothing left running on the destination.
            let sim = agent::simulator::sim_host(if other.0 == h2 {
                &h2_addr
            } else {
                &z.hosts[0].1
            });
            assert!(
                !sim.vms.lock().expect("vms").contains_key(&inst),
                "step {step}"
            );
        } else {
            assert_eq!(j["jobstatus"], 1, "step {step}: {j}");
            assert_eq!((h, p), other, "step {step}");
            std::mem::swap(&mut at, &mut other);
        }
    }
    // Killed before and after each step: finished after a restart.
    for step in 0..4 {
        for kind in [FaultKind::CrashBefore, FaultKind::CrashAfter] {
            let c = ts.admin.clone();
            ts.server
                .as_ref()
                .expect("running")
                .state
                .faults
                .add(Fault {
                    saga: "migratestorage".into(),
                    step,
                    kind,
                });
            let r = c
                .ok(&[
                    ("command", "migrateVirtualMachineWithVolume"),
                    ("virtualmachineid", &vm),
                    ("hostid", &other.0),
                ])
                .await;
            wait_crash(&ts, 0).await;
            ts = ts.restart().await;
            let c = ts.admin.clone();
            let why = format!("killed {kind:?} step {step}");
            let j = c.wait_job(&s(&r["jobid"])).await;
            assert_eq!(j["jobstatus"], 1, "{why}: {j}");
            let (h, p, _) = place(&c, &vm).await;
            assert_eq!((h, p), other, "{why}");
            std::mem::swap(&mut at, &mut other);
        }
    }
    ts.stop().await;
}
