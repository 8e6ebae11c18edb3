//! migrateVolume through the API on simulated hosts: a running VM's root volume moves to
//! another pool of its cluster only with livemigrate; refusals; the saga failing and killed
//! at every step (it unwinds before the move and completes after it). The mirror of a real
//! running guest's disk is the QEMU driver's test and the real-hosts test.

mod common;

use common::*;
use domain::saga::{Fault, FaultKind};

async fn volume(c: &Client, id: &str) -> serde_json::Value {
    c.ok(&[("command", "listVolumes"), ("id", id), ("listall", "true")])
        .await["volume"][0]
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn volumes_move_between_pools() {
    let mut ts = TestServer::start().await;
    let z = VmZone::new(&ts, 1).await;
    let c = ts.admin.clone();
    let vm = s(&deploy_vm(&c, &z, "mv", &[]).await["id"]);
    let root = s(&c
        .ok(&[
            ("command", "listVolumes"),
            ("virtualmachineid", &vm),
            ("type", "ROOT"),
        ])
        .await["volume"][0]["id"]);
    let from = s(&volume(&c, &root).await["storageid"]);
    let dir = ts.dir.path().join("second-pool");
    std::fs::create_dir_all(&dir).expect("pool");
    let p = c
        .ok(&[
            ("command", "createStoragePool"),
            ("name", "second"),
            ("zoneid", &z.zone),
            ("podid", &z.pod),
            ("clusterid", &z.cluster),
            ("url", &format!("filesystem://{}", dir.display())),
        ])
        .await;
    let to = s(&p["storagepool"]["id"]);
    // A running VM's disk moves only live.
    let e = c
        .err(
            &[
                ("command", "migrateVolume"),
                ("volumeid", &root),
                ("storageid", &to),
            ],
            431,
        )
        .await;
    assert!(e.contains("livemigrate"), "{e}");
    let e = c
        .err(
            &[
                ("command", "migrateVolume"),
                ("volumeid", &root),
                ("storageid", &from),
            ],
            431,
        )
        .await;
    assert!(e.contains("already"), "{e}");
    let j = c
        .job(&[
            ("command", "migrateVolume"),
            ("volumeid", &root),
            ("storageid", &to),
            ("livemigrate", "true"),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    assert_eq!(j["jobresult"]["volume"]["storageid"], to.as_str(), "{j}");
    assert_eq!(j["jobresult"]["volume"]["state"], "Ready");
    assert_eq!(vm_view(&c, &vm).await["state"], "Running");
    // Users may not (root admins only).
    let (_, _, user) = account_with_keys(&ts, &c, "mover", None, "0").await;
    let r = user
        .call(&[
            ("command", "migrateVolume"),
            ("volumeid", &root),
            ("storageid", &from),
        ])
        .await;
    assert!([401, 431, 531].contains(&r.status), "{}", r.text);
    // Failing at each step: before the move it is back where it was; after, it completes.
    let mut at = to.clone();
    let mut other = from.clone();
    for step in 0..3 {
        ts.server
            .as_ref()
            .expect("running")
            .state
            .faults
            .add(Fault {
                saga: "volmigrate".into(),
                step,
                kind: FaultKind::Fail,
            });
        let j = c
            .job(&[
                ("command", "migrateVolume"),
                ("volumeid", &root),
                ("storageid", &other),
                ("livemigrate", "true"),
            ])
            .await;
        let v = volume(&c, &root).await;
        assert_eq!(v["state"], "Ready", "step {step}: {v}");
        if step < 2 {
            assert_eq!(j["jobstatus"], 2, "step {step}: {j}");
            assert_eq!(s(&v["storageid"]), at, "step {step}");
        } else {
            assert_eq!(j["jobstatus"], 1, "step {step}: {j}");
            assert_eq!(s(&v["storageid"]), other, "step {step}");
            std::mem::swap(&mut at, &mut other);
        }
    }
    // Killed before and after each step: finished after a restart.
    for step in 0..3 {
        for kind in [FaultKind::CrashBefore, FaultKind::CrashAfter] {
            let c = ts.admin.clone();
            ts.server
                .as_ref()
                .expect("running")
                .state
                .faults
                .add(Fault {
                    saga: "volmigrate".into(),
                    step,
                    kind,
                });
            let r = c
                .ok(&[
                    ("command", "migrateVolume"),
                    ("volumeid", &root),
                    ("storageid", &other),
                    ("livemigrate", "true"),
                ])
                .await;
            wait_crash(&ts, 0).await;
            ts = ts.restart().await;
            let c = ts.admin.clone();
            let why = format!("killed {kind:?} step {step}");
            let j = c.wait_job(&s(&r["jobid"])).await;
            assert_eq!(j["jobstatus"], 1, "{why}: {j}");
            let v = volume(&c, &root).await;
            assert_eq!(v["state"], "Ready", "{why}");
            assert_eq!(s(&v["storageid"]), other, "{why}");
            std::mem::swap(&mut at, &mut other);
        }
    }
    ts.stop().await;
}
