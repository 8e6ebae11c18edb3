//! Live migration and host maintenance on simulated hosts: migrations within a cluster,
//! refusals (local storage, wrong host, wrong state), evacuation of a host entering
//! maintenance, ErrorInMaintenance when a VM cannot move, deleteHost afterwards.

mod common;

use common::*;
use serde_json::Value;

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

async fn vm_host(c: &Client, id: &str) -> String {
    s(&c.ok(&[
        ("command", "listVirtualMachines"),
        ("id", id),
        ("listall", "true"),
    ])
    .await["virtualmachine"][0]["hostid"])
}

fn host_of(z: &VmZone, instance: &str) -> Option<String> {
    z.hosts
        .iter()
        .find(|(_, a)| {
            agent::simulator::sim_host(a)
                .vm_names()
                .iter()
                .any(|n| n == instance)
        })
        .map(|(h, _)| h.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn migrate_and_evacuate_for_maintenance() {
    let ts = TestServer::start().await;
    let z = VmZone::new(&ts, 3).await;
    let c = &ts.admin;
    let mut vms = Vec::new();
    for i in 0..4 {
        let j = c
            .job(&z.deploy(&[("name", &format!("m{i}")), ("hostid", &z.hosts[0].0)]))
            .await;
        assert_eq!(j["jobstatus"], 1, "{j}");
        // The deploy saga went through all its steps: jobprocstatus 100.
        assert_eq!(j["jobprocstatus"], 100, "{j}");
        let vm = &j["jobresult"]["virtualmachine"];
        vms.push((s(&vm["id"]), s(&vm["instancename"])));
    }
    let (id, inst) = vms[0].clone();
    assert_eq!(host_of(&z, &inst), Some(z.hosts[0].0.clone()));
    // What the four VMs hold shows on their host and in the zone's capacity.
    let vm = &c
        .ok(&[("command", "listVirtualMachines"), ("id", &id)])
        .await["virtualmachine"][0];
    let mem = vm["memory"].as_u64().expect("memory") << 20;
    let mhz = vm["cpunumber"].as_u64().expect("cpus") * vm["cpuspeed"].as_u64().expect("mhz");
    let h0 = &c
        .ok(&[("command", "listHosts"), ("id", &z.hosts[0].0)])
        .await["host"][0];
    assert_eq!(h0["memoryallocated"].as_u64(), Some(4 * mem), "{h0}");
    assert_eq!(h0["cpuallocatedvalue"].as_u64(), Some(4 * mhz), "{h0}");
    assert!(
        s(&h0["cpuallocated"]).ends_with('%') && s(&h0["cpuallocated"]) != "0%",
        "{h0}"
    );
    let cap = c.ok(&[("command", "listCapacity"), ("type", "0")]).await;
    assert_eq!(
        cap["capacity"][0]["capacityused"].as_u64(),
        Some(4 * mem),
        "{cap}"
    );
    // findHostsForMigration: the other hosts of the cluster; a disabled one is not suitable.
    c.ok(&[
        ("command", "updateHost"),
        ("id", &z.hosts[2].0),
        ("allocationstate", "Disable"),
    ])
    .await;
    let found = c
        .ok(&[
            ("command", "findHostsForMigration"),
            ("virtualmachineid", &id),
        ])
        .await;
    let hosts = found["host"].as_array().expect("hosts");
    // (the cluster also holds the test server's own disabled host)
    assert!(hosts.len() >= 2, "{found}");
    assert_eq!(
        hosts
            .iter()
            .filter(|h| h["suitableformigration"] == true)
            .count(),
        1,
        "{found}"
    );
    for h in hosts {
        assert_ne!(s(&h["id"]), z.hosts[0].0, "not the VM's own host");
        let expect = s(&h["id"]) == z.hosts[1].0;
        assert_eq!(h["suitableformigration"], expect, "{h}");
        assert_eq!(h["requiresStorageMotion"], false);
    }
    c.ok(&[
        ("command", "updateHost"),
        ("id", &z.hosts[2].0),
        ("allocationstate", "Enable"),
    ])
    .await;
    // Migrate to a chosen host: the guest moves, the database follows.
    let j = c
        .job(&[
            ("command", "migrateVirtualMachine"),
            ("virtualmachineid", &id),
            ("hostid", &z.hosts[1].0),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    assert_eq!(j["jobresult"]["virtualmachine"]["state"], "Running");
    assert_eq!(
        j["jobresult"]["virtualmachine"]["hostid"],
        z.hosts[1].0.as_str()
    );
    assert_eq!(host_of(&z, &inst), Some(z.hosts[1].0.clone()));
    // Refusals.
    let e = c
        .err(
            &[
                ("command", "migrateVirtualMachine"),
                ("virtualmachineid", &id),
                ("hostid", &z.hosts[1].0),
            ],
            431,
        )
        .await;
    assert!(e.contains("already running there"), "{e}");
    let (alice_acct, _u, alice) = account_with_keys(&ts, c, "alice", None, "0").await;
    let _ = alice_acct;
    let e = alice
        .err(
            &[
                ("command", "migrateVirtualMachine"),
                ("virtualmachineid", &id),
            ],
            401,
        )
        .await;
    assert!(!e.is_empty());
    let (sid, _) = vms[3].clone();
    c.job(&[("command", "stopVirtualMachine"), ("id", &sid)])
        .await;
    let e = c
        .err(
            &[
                ("command", "migrateVirtualMachine"),
                ("virtualmachineid", &sid),
            ],
            431,
        )
        .await;
    assert!(e.contains("VM is not Running"), "{e}");
    c.job(&[
        ("command", "startVirtualMachine"),
        ("id", &sid),
        ("hostid", &z.hosts[0].0),
    ])
    .await;

    // Maintenance evacuates host 0 to the others of the cluster.
    let on0: Vec<String> = {
        let r = c
            .ok(&[
                ("command", "listVirtualMachines"),
                ("listall", "true"),
                ("hostid", &z.hosts[0].0),
            ])
            .await;
        r["virtualmachine"]
            .as_array()
            .map(|a| a.iter().map(|v| s(&v["id"])).collect())
            .unwrap_or_default()
    };
    assert_eq!(on0.len(), 3);
    let j = c
        .job(&[
            ("command", "prepareHostForMaintenance"),
            ("id", &z.hosts[0].0),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    assert_eq!(j["jobprocstatus"], 100, "every VM dealt with: {j}");
    assert_eq!(
        j["jobresult"]["host"]["resourcestate"], "Maintenance",
        "{j}"
    );
    for id in &on0 {
        let h = vm_host(c, id).await;
        assert!(h != z.hosts[0].0 && !h.is_empty(), "{id} still on the host");
    }
    assert!(agent::simulator::sim_host(&z.hosts[0].1)
        .vm_names()
        .is_empty());
    // A host in maintenance is never chosen.
    for _ in 0..3 {
        let j = c.job(&z.deploy(&[])).await;
        assert_ne!(
            j["jobresult"]["virtualmachine"]["hostid"],
            z.hosts[0].0.as_str()
        );
    }
    let e = c
        .err(
            &[("command", "cancelHostMaintenance"), ("id", &z.hosts[1].0)],
            431,
        )
        .await;
    assert!(e.contains("not in maintenance"), "{e}");
    let j = c
        .job(&[("command", "cancelHostMaintenance"), ("id", &z.hosts[0].0)])
        .await;
    assert_eq!(j["jobresult"]["host"]["resourcestate"], "Enabled", "{j}");
    // deleteHost: refused with VMs on it, fine after maintenance emptied it.
    let e = c
        .err(&[("command", "deleteHost"), ("id", &z.hosts[1].0)], 431)
        .await;
    assert!(e.contains("maintenance") || e.contains("vms"), "{e}");
    let j = c
        .job(&[
            ("command", "prepareHostForMaintenance"),
            ("id", &z.hosts[2].0),
        ])
        .await;
    assert_eq!(
        j["jobresult"]["host"]["resourcestate"], "Maintenance",
        "{j}"
    );
    c.ok(&[("command", "deleteHost"), ("id", &z.hosts[2].0)])
        .await;
    ts.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn local_storage_vms_cannot_migrate() {
    let ts = TestServer::start().await;
    let z = VmZone::new(&ts, 2).await;
    let c = &ts.admin;
    c.ok(&[
        ("command", "updateZone"),
        ("id", &z.zone),
        ("localstorageenabled", "true"),
    ])
    .await;
    // Local pools appear as hosts (re)connect.
    for (h, _) in &z.hosts {
        c.job(&[("command", "reconnectHost"), ("id", h)]).await;
    }
    let mut n = 0;
    for _ in 0..100 {
        n = c
            .ok(&[
                ("command", "listStoragePools"),
                ("zoneid", &z.zone),
                ("scope", "HOST"),
            ])
            .await["count"]
            .as_u64()
            .unwrap_or(0);
        if n == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(n, 2, "one local pool per host");
    let local = s(&c
        .ok(&[
            ("command", "createServiceOffering"),
            ("name", "local"),
            ("displaytext", "local"),
            ("cpunumber", "1"),
            ("cpuspeed", "500"),
            ("memory", "256"),
            ("storagetype", "local"),
        ])
        .await["serviceoffering"]["id"]);
    let j = c
        .job(&[
            ("command", "deployVirtualMachine"),
            ("zoneid", &z.zone),
            ("templateid", &z.template),
            ("serviceofferingid", &local),
            ("hostid", &z.hosts[0].0),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let id = s(&j["jobresult"]["virtualmachine"]["id"]);
    let root = &c
        .ok(&[("command", "listVolumes"), ("virtualmachineid", &id)])
        .await["volume"][0];
    assert!(s(&root["storage"]).contains("Local Storage"), "{root}");
    let e = c
        .err(
            &[
                ("command", "migrateVirtualMachine"),
                ("virtualmachineid", &id),
            ],
            431,
        )
        .await;
    assert_eq!(
        e,
        "Unsupported operation, VM uses Local storage, cannot migrate"
    );
    // Its host cannot be evacuated: ErrorInMaintenance, and the VM stays where it is.
    let j = c
        .job(&[
            ("command", "prepareHostForMaintenance"),
            ("id", &z.hosts[0].0),
        ])
        .await;
    assert_eq!(
        j["jobresult"]["host"]["resourcestate"], "ErrorInMaintenance",
        "{j}"
    );
    assert_eq!(vm_host(c, &id).await, z.hosts[0].0);
    let j = c
        .job(&[("command", "cancelHostMaintenance"), ("id", &z.hosts[0].0)])
        .await;
    assert_eq!(j["jobresult"]["host"]["resourcestate"], "Enabled", "{j}");
    // A stopped local VM restarts on the host that holds its disk.
    c.job(&[("command", "stopVirtualMachine"), ("id", &id)])
        .await;
    for _ in 0..3 {
        let j = c
            .job(&[("command", "startVirtualMachine"), ("id", &id)])
            .await;
        assert_eq!(j["jobresult"]["virtualmachine"]["state"], "Running", "{j}");
        assert_eq!(vm_host(c, &id).await, z.hosts[0].0);
        c.job(&[("command", "stopVirtualMachine"), ("id", &id)])
            .await;
    }
    ts.stop().await;
}
