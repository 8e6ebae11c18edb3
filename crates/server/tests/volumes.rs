//! Volumes through the API on simulated hosts: create, attach to running and stopped VMs,
//! detach, resize, delete, and what expunging a VM does to them (SQLite and PostgreSQL).

mod common;

use common::*;
use serde_json::Value;

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn volumes_create_attach_detach_resize_delete() {
    volumes(TestServer::start().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn volumes_create_attach_detach_resize_delete_postgres() {
    let Some(pg) = testkit::Postgres::start_for_test() else {
        return;
    };
    volumes(TestServer::start_with(Some(pg.fresh_database().expect("db"))).await).await;
}

async fn volumes(ts: TestServer) {
    let z = VmZone::new(&ts, 1).await;
    let c = &ts.admin;
    let disk = c
        .ok(&[
            ("command", "createDiskOffering"),
            ("name", "custom"),
            ("displaytext", "custom"),
            ("customized", "true"),
        ])
        .await["diskoffering"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let e = c
        .err(
            &[
                ("command", "createVolume"),
                ("zoneid", &z.zone),
                ("diskofferingid", &disk),
            ],
            431,
        )
        .await;
    assert!(e.contains("size"), "{e}");
    let r = c
        .ok(&[
            ("command", "createVolume"),
            ("zoneid", &z.zone),
            ("diskofferingid", &disk),
            ("size", "2"),
            ("name", "data1"),
        ])
        .await;
    let vol = s(&r["id"]);
    let j = c.wait_job(&s(&r["jobid"])).await;
    assert_eq!(j["jobresult"]["volume"]["state"], "Allocated", "{j}");
    assert_eq!(j["jobresult"]["volume"]["size"], 2u64 << 30);
    // Attach to a running VM: created on its root pool and plugged in.
    let vm = s(&c.job(&z.deploy(&[("name", "v1")])).await["jobresult"]["virtualmachine"]["id"]);
    let instance = s(&c
        .ok(&[("command", "listVirtualMachines"), ("id", &vm)])
        .await["virtualmachine"][0]["instancename"]);
    let j = c
        .job(&[
            ("command", "attachVolume"),
            ("id", &vol),
            ("virtualmachineid", &vm),
        ])
        .await;
    let v = &j["jobresult"]["volume"];
    assert_eq!(v["state"], "Ready", "{j}");
    assert_eq!(v["virtualmachineid"], vm.as_str());
    assert_eq!(v["deviceid"], 1);
    let disks = |name: &str| {
        z.hosts
            .iter()
            .find_map(|(_, a)| {
                agent::simulator::sim_host(a)
                    .vms
                    .lock()
                    .ok()?
                    .get(name)
                    .cloned()
            })
            .map(|v| v.disks.len())
            .unwrap_or(0)
    };
    assert_eq!(disks(&instance), 2);
    assert!(z.stored_volumes().contains(&vol));
    // Attached volumes cannot be deleted; the root cannot be detached.
    let e = c
        .err(&[("command", "deleteVolume"), ("id", &vol)], 431)
        .await;
    assert!(e.contains("attached"), "{e}");
    let root = s(&c
        .ok(&[
            ("command", "listVolumes"),
            ("virtualmachineid", &vm),
            ("type", "ROOT"),
        ])
        .await["volume"][0]["id"]);
    let e = c
        .err(&[("command", "detachVolume"), ("id", &root)], 431)
        .await;
    assert!(e.contains("ROOT"), "{e}");
    // Resize: growing is fine, shrinking needs shrinkok.
    let j = c
        .job(&[("command", "resizeVolume"), ("id", &vol), ("size", "3")])
        .await;
    assert_eq!(j["jobresult"]["volume"]["size"], 3u64 << 30, "{j}");
    let e = c
        .err(
            &[("command", "resizeVolume"), ("id", &vol), ("size", "1")],
            431,
        )
        .await;
    assert!(e.contains("shrinkok"), "{e}");
    // Detach by VM and device id: unplugged, kept.
    let j = c
        .job(&[
            ("command", "detachVolume"),
            ("virtualmachineid", &vm),
            ("deviceid", "1"),
        ])
        .await;
    assert!(
        j["jobresult"]["volume"].get("virtualmachineid").is_none(),
        "{j}"
    );
    assert_eq!(disks(&instance), 1);
    // Attach to a stopped VM: recorded now, created when it starts (device 2 asked).
    let j = c
        .job(&[("command", "stopVirtualMachine"), ("id", &vm)])
        .await;
    assert_eq!(j["jobresult"]["virtualmachine"]["state"], "Stopped");
    let r = c
        .ok(&[
            ("command", "createVolume"),
            ("diskofferingid", &disk),
            ("size", "1"),
            ("virtualmachineid", &vm),
        ])
        .await;
    let j = c.wait_job(&s(&r["jobid"])).await;
    assert_eq!(j["jobresult"]["volume"]["state"], "Allocated", "{j}");
    assert_eq!(j["jobresult"]["volume"]["deviceid"], 1);
    let e = c
        .err(
            &[
                ("command", "attachVolume"),
                ("id", &vol),
                ("virtualmachineid", &vm),
                ("deviceid", "3"),
            ],
            431,
        )
        .await;
    assert!(e.contains("CD-ROM"), "{e}");
    c.job(&[
        ("command", "attachVolume"),
        ("id", &vol),
        ("virtualmachineid", &vm),
        ("deviceid", "2"),
    ])
    .await;
    let j = c
        .job(&[("command", "startVirtualMachine"), ("id", &vm)])
        .await;
    assert_eq!(j["jobresult"]["virtualmachine"]["state"], "Running", "{j}");
    assert_eq!(disks(&instance), 3);
    let l = c
        .ok(&[("command", "listVolumes"), ("virtualmachineid", &vm)])
        .await;
    assert_eq!(l["count"], 3);
    for v in l["volume"].as_array().expect("volumes") {
        assert_eq!(v["state"], "Ready", "{v}");
    }
    // Expunging the VM deletes its root, detaches data volumes; then they can be deleted.
    let j = c
        .job(&[
            ("command", "destroyVirtualMachine"),
            ("id", &vm),
            ("expunge", "true"),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let l = c.ok(&[("command", "listVolumes")]).await;
    assert_eq!(l["count"], 2, "{l}");
    for v in l["volume"].as_array().expect("volumes") {
        assert!(v.get("virtualmachineid").is_none(), "{v}");
        c.ok(&[
            ("command", "deleteVolume"),
            ("id", v["id"].as_str().expect("id")),
        ])
        .await;
    }
    assert!(z.stored_volumes().is_empty());
    ts.stop().await;
}
