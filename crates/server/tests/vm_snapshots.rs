//! VM snapshots through the API on simulated hosts: with and without memory, the parent
//! chain and the current one, reverts in the states they need, volume changes refused while
//! they exist, another tenant, and the saga failing and killed at every step. Real disks and
//! memory are the QEMU driver's tests (`agent::qemu::tests`) and the real-hosts test. Also
//! restoreVirtualMachine, whose saga wraps the stop and start sagas.

mod common;

use common::*;
use domain::saga::{Fault, FaultKind};

async fn vm_snapshots(c: &Client, vm: &str) -> Vec<serde_json::Value> {
    c.ok(&[
        ("command", "listVMSnapshot"),
        ("virtualmachineid", vm),
        ("listall", "true"),
    ])
    .await["vmSnapshot"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn vm_snapshots_with_and_without_memory() {
    let ts = TestServer::start().await;
    let z = VmZone::new(&ts, 1).await;
    let c = &ts.admin;
    let vm = s(&deploy_vm(c, &z, "vms1", &[]).await["id"]);
    let j = c
        .job(&[
            ("command", "createVMSnapshot"),
            ("virtualmachineid", &vm),
            ("snapshotmemory", "true"),
            ("name", "before"),
            ("description", "first"),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let m = &j["jobresult"]["vmsnapshot"];
    assert_eq!(m["state"], "Ready", "{j}");
    assert_eq!(m["type"], "DiskAndMemory");
    assert_eq!(m["displayname"], "before");
    assert_eq!(m["virtualmachinename"], "vms1");
    let mem = s(&m["id"]);
    // Volume changes are refused while the VM has snapshots.
    let disk = s(&c
        .ok(&[
            ("command", "createDiskOffering"),
            ("name", "vms-data"),
            ("displaytext", "1 GB"),
            ("disksize", "1"),
        ])
        .await["diskoffering"]["id"]);
    let vol = s(&c
        .job(&[
            ("command", "createVolume"),
            ("zoneid", &z.zone),
            ("diskofferingid", &disk),
        ])
        .await["jobresult"]["volume"]["id"]);
    let e = c
        .err(
            &[
                ("command", "attachVolume"),
                ("id", &vol),
                ("virtualmachineid", &vm),
            ],
            431,
        )
        .await;
    assert!(e.contains("VM snapshots"), "{e}");
    // A second, disks only: its parent is the first, and it is current now.
    let j = c
        .job(&[("command", "createVMSnapshot"), ("virtualmachineid", &vm)])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let d = &j["jobresult"]["vmsnapshot"];
    assert_eq!(d["type"], "Disk");
    let disk_snap = s(&d["id"]);
    let all = vm_snapshots(c, &vm).await;
    assert_eq!(all.len(), 2, "{all:?}");
    let second = all
        .iter()
        .find(|x| x["id"] == disk_snap.as_str())
        .expect("second");
    assert_eq!(second["parent"], mem.as_str());
    assert_eq!(second["parentName"], "before");
    assert_eq!(second["current"], true);
    // With memory: reverted while Running. Disks only: refused while Running.
    let j = c
        .job(&[("command", "revertToVMSnapshot"), ("vmsnapshotid", &mem)])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    assert_eq!(j["jobresult"]["virtualmachine"]["state"], "Running");
    let e = c
        .err(
            &[
                ("command", "revertToVMSnapshot"),
                ("vmsnapshotid", &disk_snap),
            ],
            431,
        )
        .await;
    assert!(e.contains("Stopped"), "{e}");
    c.job(&[("command", "stopVirtualMachine"), ("id", &vm)])
        .await;
    let j = c
        .job(&[
            ("command", "revertToVMSnapshot"),
            ("vmsnapshotid", &disk_snap),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let e = c
        .err(
            &[
                ("command", "createVMSnapshot"),
                ("virtualmachineid", &vm),
                ("snapshotmemory", "true"),
            ],
            431,
        )
        .await;
    assert!(e.contains("Running"), "{e}");
    // Another tenant sees none and touches none.
    let (_, _, other) = account_with_keys(&ts, c, "vmsnapper", None, "0").await;
    let l = other
        .ok(&[("command", "listVMSnapshot"), ("listall", "true")])
        .await;
    assert_eq!(l["count"].as_u64().unwrap_or(0), 0, "{l}");
    for cmd in ["revertToVMSnapshot", "deleteVMSnapshot"] {
        let r = other
            .call(&[("command", cmd), ("vmsnapshotid", &mem)])
            .await;
        assert!([431, 531].contains(&r.status), "{cmd}: {}", r.text);
    }
    let r = other
        .call(&[("command", "createVMSnapshot"), ("virtualmachineid", &vm)])
        .await;
    assert!([431, 531].contains(&r.status), "{}", r.text);
    // Deleted: gone, and volumes can change again.
    for id in [&mem, &disk_snap] {
        let j = c
            .job(&[("command", "deleteVMSnapshot"), ("vmsnapshotid", id)])
            .await;
        assert_eq!(j["jobstatus"], 1, "{j}");
    }
    assert!(vm_snapshots(c, &vm).await.is_empty());
    let j = c
        .job(&[
            ("command", "attachVolume"),
            ("id", &vol),
            ("virtualmachineid", &vm),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    // Expunging the VM removes its snapshots.
    c.job(&[("command", "createVMSnapshot"), ("virtualmachineid", &vm)])
        .await;
    c.job(&[
        ("command", "destroyVirtualMachine"),
        ("id", &vm),
        ("expunge", "true"),
    ])
    .await;
    let l = c
        .ok(&[("command", "listVMSnapshot"), ("listall", "true")])
        .await;
    assert_eq!(l["count"].as_u64().unwrap_or(0), 0, "{l}");
    ts.stop().await;
}

/// The vmsnapshot saga failing at each step (before the take: Error, nothing on the host;
/// after: Ready), and the server killed before and after each step (Ready after a restart).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_or_killed_vm_snapshot_unwinds_or_finishes() {
    let mut ts = TestServer::start().await;
    let z = VmZone::new(&ts, 1).await;
    let vm = s(&deploy_vm(&ts.admin, &z, "vmsk", &[]).await["id"]);
    let on_host = |z: &VmZone| -> usize {
        z.hosts
            .iter()
            .map(|(_, a)| {
                agent::simulator::sim_host(a)
                    .vm_snapshots
                    .lock()
                    .map(|m| m.len())
                    .unwrap_or(0)
            })
            .sum()
    };
    for step in 0..3 {
        let c = ts.admin.clone();
        ts.server
            .as_ref()
            .expect("running")
            .state
            .faults
            .add(Fault {
                saga: "vmsnapshot".into(),
                step,
                kind: FaultKind::Fail,
            });
        let j = c
            .job(&[("command", "createVMSnapshot"), ("virtualmachineid", &vm)])
            .await;
        let id = s(&j["jobinstanceid"]);
        let l = vm_snapshots(&c, &vm).await;
        let row = l.iter().find(|x| x["id"] == id.as_str()).expect("row");
        if step < 2 {
            assert_eq!(j["jobstatus"], 2, "step {step}: {j}");
            assert_eq!(row["state"], "Error", "step {step}");
            c.job(&[("command", "deleteVMSnapshot"), ("vmsnapshotid", &id)])
                .await;
        } else {
            assert_eq!(j["jobstatus"], 1, "step {step}: {j}");
            assert_eq!(row["state"], "Ready", "step {step}");
            c.job(&[("command", "deleteVMSnapshot"), ("vmsnapshotid", &id)])
                .await;
        }
        assert_eq!(on_host(&z), 0, "step {step}: left on the host");
    }
    for step in 0..3 {
        for kind in [FaultKind::CrashBefore, FaultKind::CrashAfter] {
            let c = ts.admin.clone();
            ts.server
                .as_ref()
                .expect("running")
                .state
                .faults
                .add(Fault {
                    saga: "vmsnapshot".into(),
                    step,
                    kind,
                });
            let r = c
                .ok(&[("command", "createVMSnapshot"), ("virtualmachineid", &vm)])
                .await;
            wait_crash(&ts, 0).await;
            ts = ts.restart().await;
            let c = ts.admin.clone();
            let why = format!("killed {kind:?} step {step}");
            let j = c.wait_job(&s(&r["jobid"])).await;
            assert_eq!(j["jobstatus"], 1, "{why}: {j}");
            assert_eq!(j["jobresult"]["vmsnapshot"]["state"], "Ready", "{why}");
            let d = c
                .job(&[
                    ("command", "deleteVMSnapshot"),
                    ("vmsnapshotid", &s(&r["id"])),
                ])
                .await;
            assert_eq!(d["jobstatus"], 1, "{why}: {d}");
            assert_eq!(on_host(&z), 0, "{why}: left on the host");
        }
    }
    ts.stop().await;
}

async fn root_of(c: &Client, vm: &str) -> Vec<serde_json::Value> {
    c.ok(&[
        ("command", "listVolumes"),
        ("virtualmachineid", vm),
        ("type", "ROOT"),
        ("listall", "true"),
    ])
    .await["volume"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// restoreVirtualMachine: a fresh root volume (the old one deleted on its host), a running VM
/// stopped and started around it; refused with VM snapshots; failing or killed at every
/// step it unwinds (the VM running on its old root) or completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn restore_gives_a_fresh_root_volume() {
    let mut ts = TestServer::start().await;
    let z = VmZone::new(&ts, 1).await;
    let c = ts.admin.clone();
    let vm = s(&deploy_vm(&c, &z, "rst", &[]).await["id"]);
    let old = s(&root_of(&c, &vm).await[0]["id"]);
    let j = c
        .job(&[
            ("command", "restoreVirtualMachine"),
            ("virtualmachineid", &vm),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    assert_eq!(j["jobresult"]["virtualmachine"]["state"], "Running", "{j}");
    let roots = root_of(&c, &vm).await;
    assert_eq!(roots.len(), 1, "{roots:?}");
    assert_ne!(s(&roots[0]["id"]), old);
    assert_eq!(roots[0]["state"], "Ready");
    assert!(
        !z.stored_volumes().contains(&old),
        "the old root is deleted on the host"
    );
    // With VM snapshots: refused.
    c.job(&[("command", "createVMSnapshot"), ("virtualmachineid", &vm)])
        .await;
    let e = c
        .err(
            &[
                ("command", "restoreVirtualMachine"),
                ("virtualmachineid", &vm),
            ],
            431,
        )
        .await;
    assert!(e.contains("VM snapshots"), "{e}");
    let vs = s(&vm_snapshots(&c, &vm).await[0]["id"]);
    c.job(&[("command", "deleteVMSnapshot"), ("vmsnapshotid", &vs)])
        .await;
    // Failing at each step: before the swap the VM runs on its old root again; after it
    // (the start) the step is retried and the restore completes.
    for step in 0..4 {
        let before = s(&root_of(&c, &vm).await[0]["id"]);
        ts.server
            .as_ref()
            .expect("running")
            .state
            .faults
            .add(Fault {
                saga: "restore".into(),
                step,
                kind: FaultKind::Fail,
            });
        let j = c
            .job(&[
                ("command", "restoreVirtualMachine"),
                ("virtualmachineid", &vm),
            ])
            .await;
        let roots = root_of(&c, &vm).await;
        assert_eq!(roots.len(), 1, "step {step}: {roots:?}");
        assert_eq!(vm_view(&c, &vm).await["state"], "Running", "step {step}");
        if step < 3 {
            assert_eq!(j["jobstatus"], 2, "step {step}: {j}");
            assert_eq!(
                s(&roots[0]["id"]),
                before,
                "step {step}: the old root stays"
            );
        } else {
            assert_eq!(j["jobstatus"], 1, "step {step}: {j}");
            assert_ne!(s(&roots[0]["id"]), before, "step {step}");
        }
    }
    // Killed before and after each step: finished after a restart.
    for step in 0..4 {
        for kind in [FaultKind::CrashBefore, FaultKind::CrashAfter] {
            let c = ts.admin.clone();
            let before = s(&root_of(&c, &vm).await[0]["id"]);
            ts.server
                .as_ref()
                .expect("running")
                .state
                .faults
                .add(Fault {
                    saga: "restore".into(),
                    step,
                    kind,
                });
            let r = c
                .ok(&[
                    ("command", "restoreVirtualMachine"),
                    ("virtualmachineid", &vm),
                ])
                .await;
            wait_crash(&ts, 0).await;
            ts = ts.restart().await;
            let c = ts.admin.clone();
            let why = format!("killed {kind:?} step {step}");
            let j = c.wait_job(&s(&r["jobid"])).await;
            assert_eq!(j["jobstatus"], 1, "{why}: {j}");
            let roots = root_of(&c, &vm).await;
            assert_eq!(roots.len(), 1, "{why}: {roots:?}");
            assert_ne!(s(&roots[0]["id"]), before, "{why}");
            assert_eq!(vm_view(&c, &vm).await["state"], "Running", "{why}");
            let mut running = z.running();
            running.retain(|n| n.starts_with("i-"));
            assert_eq!(running.len(), 1, "{why}: {running:?}");
        }
    }
    ts.stop().await;
}
