//! Virtual machines through the API on simulated hosts: deploy, the state machine, volumes,
//! names, limits, capacity under concurrency.

mod common;

use common::*;
use serde_json::Value;

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deploy_and_the_vm_state_machine() {
    lifecycle(TestServer::start().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deploy_and_the_vm_state_machine_postgres() {
    let Some(pg) = testkit::Postgres::start_for_test() else {
        return;
    };
    lifecycle(TestServer::start_with(Some(pg.fresh_database().expect("db"))).await).await;
}

async fn lifecycle(ts: TestServer) {
    let z = VmZone::new(&ts, 2).await;
    let c = &ts.admin;
    let (_acct, _user, alice) = account_with_keys(&ts, c, "alice", None, "0").await;
    let kp = alice
        .ok(&[
            ("command", "registerSSHKeyPair"),
            ("name", "k1"),
            ("publickey", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl alice"),
        ])
        .await;
    assert_eq!(kp["keypair"]["name"], "k1");

    // Deploy as a user: the answer has the VM id at once, the job result the Running VM.
    let r = alice
        .ok(&z.deploy(&[
            ("name", "web-1"),
            ("displayname", "Web one"),
            ("group", "web"),
            ("keypair", "k1"),
            ("userdata", "I2Nsb3VkLWNvbmZpZwo="),
        ]))
        .await;
    let id = s(&r["id"]);
    assert!(!id.is_empty(), "{r}");
    let j = alice.wait_job(&s(&r["jobid"])).await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    assert_eq!(j["jobinstancetype"], "VirtualMachine");
    let vm = &j["jobresult"]["virtualmachine"];
    assert_eq!(vm["id"], id.as_str());
    assert_eq!(vm["state"], "Running");
    assert_eq!(vm["name"], "web-1");
    assert_eq!(vm["displayname"], "Web one");
    assert_eq!(vm["group"], "web");
    // The group was created for the account; its id filters the list.
    let web_group = s(&vm["groupid"]);
    assert!(!web_group.is_empty(), "{vm}");
    assert_eq!(vm["keypairs"], "k1");
    assert_eq!(vm["templateid"], z.template.as_str());
    assert_eq!(vm["serviceofferingid"], z.offering.as_str());
    assert_eq!(vm["cpunumber"], 1);
    assert_eq!(vm["memory"], 512);
    assert_eq!(vm["haenable"], true, "offerha offering");
    assert!(vm["tags"].is_array(), "{vm}");
    // Its NIC is on the account's default isolated network, created by this first deploy.
    let nic = &vm["nic"][0];
    let nets = alice
        .ok(&[("command", "listNetworks"), ("zoneid", &z.zone)])
        .await;
    assert_eq!(nets["count"], 1, "{nets}");
    let net = &nets["network"][0];
    assert_eq!(net["type"], "Isolated");
    assert_eq!(nic["networkid"], net["id"], "{vm}");
    assert_eq!(nic["gateway"], net["gateway"]);
    assert_eq!(nic["isdefault"], true);
    assert!(s(&nic["macaddress"]).starts_with("02:00:"), "{nic}");
    let ip = s(&nic["ipaddress"]);
    assert!(!ip.is_empty() && ip != s(&net["gateway"]), "{nic}");
    // Users do not see the host or the instance name.
    assert!(
        vm.get("hostid").is_none() && vm.get("instancename").is_none(),
        "{vm}"
    );
    let admin_view = c
        .ok(&[
            ("command", "listVirtualMachines"),
            ("id", &id),
            ("listall", "true"),
        ])
        .await["virtualmachine"][0]
        .clone();
    let instance = s(&admin_view["instancename"]);
    assert!(
        instance.starts_with("i-") && instance.ends_with("-VM"),
        "{instance}"
    );
    assert!(z
        .hosts
        .iter()
        .any(|(h, _)| admin_view["hostid"] == h.as_str()));
    // The host runs it, with the key and the user data.
    assert_eq!(z.running(), vec![instance.clone()]);
    let spec = z
        .hosts
        .iter()
        .find_map(|(_, a)| {
            agent::simulator::sim_host(a)
                .vms
                .lock()
                .ok()?
                .get(&instance)
                .cloned()
        })
        .expect("on a host");
    assert_eq!(spec.hostname, "web-1");
    assert_eq!(spec.userdata.as_deref(), Some("I2Nsb3VkLWNvbmZpZwo="));
    assert!(spec.ssh_keys[0].starts_with("ssh-ed25519 "));
    assert_eq!(spec.disks.len(), 1);
    // Its root volume is Ready on the zone's pool and stored on the host.
    let vols = alice
        .ok(&[("command", "listVolumes"), ("virtualmachineid", &id)])
        .await;
    assert_eq!(vols["count"], 1, "{vols}");
    let root = &vols["volume"][0];
    assert_eq!(root["type"], "ROOT");
    assert_eq!(root["state"], "Ready");
    assert_eq!(root["vmname"], "web-1");
    assert_eq!(root["vmstate"], "Running");
    assert!(root["storage"].is_string(), "{root}");
    assert_eq!(z.stored_volumes(), vec![s(&root["id"])]);

    // Filters.
    for (k, v, n) in [
        ("name", "web-1", 1),
        ("state", "Running", 1),
        ("state", "running", 1),
        ("state", "Stopped", 0),
        ("groupid", web_group.as_str(), 1),
        ("keypair", "k1", 1),
        ("keyword", "Web", 1),
        ("templateid", z.template.as_str(), 1),
        ("zoneid", z.zone.as_str(), 1),
    ] {
        let r = alice
            .ok(&[("command", "listVirtualMachines"), (k, v)])
            .await;
        assert_eq!(r["count"].as_u64().unwrap_or(0), n, "{k}={v}: {r}");
    }
    // A host name is unique among the account's VMs.
    let e = alice.err(&z.deploy(&[("name", "web-1")]), 431).await;
    assert!(e.contains("already exists"), "{e}");
    let e = alice.err(&z.deploy(&[("name", "9lives")]), 431).await;
    assert!(e.contains("can't start with digit"), "{e}");
    // Placement parameters are for root admins.
    let e = alice
        .err(&z.deploy(&[("hostid", z.hosts[0].0.as_str())]), 531)
        .await;
    assert!(e.contains("Root Admin"), "{e}");
    // Illegal transitions are refused before a job exists.
    let e = alice
        .err(&[("command", "recoverVirtualMachine"), ("id", &id)], 531)
        .await;
    assert!(e.contains("admins"), "{e}");
    let e = c
        .err(&[("command", "recoverVirtualMachine"), ("id", &id)], 431)
        .await;
    assert!(e.contains("Running"), "{e}");
    let e = alice
        .err(
            &[
                ("command", "updateVirtualMachine"),
                ("id", &id),
                ("name", "web-2"),
            ],
            431,
        )
        .await;
    assert!(e.contains("Stopped"), "{e}");

    // Reboot, stop, start.
    let j = alice
        .job(&[("command", "rebootVirtualMachine"), ("id", &id)])
        .await;
    assert_eq!(j["jobresult"]["virtualmachine"]["state"], "Running", "{j}");
    let j = alice
        .job(&[("command", "stopVirtualMachine"), ("id", &id)])
        .await;
    assert_eq!(j["jobresult"]["virtualmachine"]["state"], "Stopped", "{j}");
    assert!(z.running().is_empty());
    let e = alice
        .err(&[("command", "rebootVirtualMachine"), ("id", &id)], 431)
        .await;
    assert!(e.contains("Stopped"), "{e}");
    alice
        .ok(&[
            ("command", "updateVirtualMachine"),
            ("id", &id),
            ("name", "web-2"),
            ("displayname", "Web two"),
            ("haenable", "false"),
            ("details[0].owner", "ops"),
        ])
        .await;
    let j = alice
        .job(&[("command", "startVirtualMachine"), ("id", &id)])
        .await;
    let vm = &j["jobresult"]["virtualmachine"];
    assert_eq!(vm["state"], "Running", "{j}");
    assert_eq!(vm["name"], "web-2");
    assert_eq!(vm["displayname"], "Web two");
    assert_eq!(vm["haenable"], false);
    assert_eq!(vm["details"]["owner"], "ops");
    assert_eq!(z.running(), vec![instance.clone()]);
    // The instance name never changes.
    let again = c
        .ok(&[
            ("command", "listVirtualMachines"),
            ("id", &id),
            ("listall", "true"),
        ])
        .await["virtualmachine"][0]["instancename"]
        .clone();
    assert_eq!(again, instance.as_str());

    // Destroy: hidden from the user, visible to admins as Destroyed; recover; expunge.
    let j = alice
        .job(&[("command", "destroyVirtualMachine"), ("id", &id)])
        .await;
    assert_eq!(
        j["jobresult"]["virtualmachine"]["state"], "Destroyed",
        "{j}"
    );
    assert!(z.running().is_empty());
    let r = alice.ok(&[("command", "listVirtualMachines")]).await;
    assert!(r.get("count").is_none(), "{r}");
    let r = c
        .ok(&[
            ("command", "listVirtualMachines"),
            ("listall", "true"),
            ("state", "Destroyed"),
        ])
        .await;
    assert_eq!(r["count"], 1, "{r}");
    let r = c
        .ok(&[
            ("command", "listVirtualMachines"),
            ("listall", "true"),
            ("state", "present"),
        ])
        .await;
    assert!(r.get("count").is_none(), "{r}");
    let e = alice
        .err(
            &[
                ("command", "destroyVirtualMachine"),
                ("id", &id),
                ("expunge", "true"),
            ],
            431,
        )
        .await;
    assert!(!e.is_empty());
    let r = c
        .ok(&[("command", "recoverVirtualMachine"), ("id", &id)])
        .await;
    assert_eq!(r["virtualmachine"]["state"], "Stopped", "{r}");
    let j = c
        .job(&[
            ("command", "destroyVirtualMachine"),
            ("id", &id),
            ("expunge", "true"),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    assert_eq!(j["jobresult"]["virtualmachine"]["state"], "Expunging");
    let r = c
        .ok(&[
            ("command", "listVirtualMachines"),
            ("listall", "true"),
            ("id", &id),
        ])
        .await;
    assert!(r.get("count").is_none(), "{r}");
    assert!(
        z.stored_volumes().is_empty(),
        "root volume deleted on the host"
    );
    let r = c
        .ok(&[
            ("command", "listVolumes"),
            ("listall", "true"),
            ("virtualmachineid", &id),
        ])
        .await;
    assert!(r.get("count").is_none(), "{r}");
    let ev = c
        .ok(&[
            ("command", "listEvents"),
            ("listall", "true"),
            ("type", "VM.CREATE"),
        ])
        .await;
    assert!(ev["count"].as_u64().unwrap_or(0) >= 1, "{ev}");
    ts.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deploy_options_disks_and_errors() {
    let ts = TestServer::start().await;
    let z = VmZone::new(&ts, 1).await;
    let c = &ts.admin;
    // startvm=false leaves the VM Stopped with an Allocated root volume.
    let j = c
        .job(&z.deploy(&[("startvm", "false"), ("name", "cold")]))
        .await;
    let vm = &j["jobresult"]["virtualmachine"];
    assert_eq!(vm["state"], "Stopped", "{j}");
    let id = s(&vm["id"]);
    let v = c
        .ok(&[("command", "listVolumes"), ("virtualmachineid", &id)])
        .await;
    assert_eq!(v["volume"][0]["state"], "Allocated", "{v}");
    assert!(z.running().is_empty());
    // A data disk from a disk offering.
    let disk = c
        .ok(&[
            ("command", "createDiskOffering"),
            ("name", "d5"),
            ("displaytext", "5 GB"),
            ("disksize", "5"),
        ])
        .await["diskoffering"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let j = c
        .job(&z.deploy(&[("diskofferingid", &disk), ("name", "withdata")]))
        .await;
    assert_eq!(j["jobresult"]["virtualmachine"]["state"], "Running", "{j}");
    let vid = s(&j["jobresult"]["virtualmachine"]["id"]);
    let v = c
        .ok(&[
            ("command", "listVolumes"),
            ("virtualmachineid", &vid),
            ("type", "DATADISK"),
        ])
        .await;
    assert_eq!(v["volume"][0]["size"], 5u64 << 30, "{v}");
    assert_eq!(v["volume"][0]["deviceid"], 1);
    assert_eq!(v["volume"][0]["state"], "Ready");
    // A customized offering takes its numbers from details.
    let custom = c
        .ok(&[
            ("command", "createServiceOffering"),
            ("name", "custom"),
            ("displaytext", "custom"),
            ("customized", "true"),
        ])
        .await["serviceoffering"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let e = c
        .err(
            &[
                ("command", "deployVirtualMachine"),
                ("zoneid", &z.zone),
                ("templateid", &z.template),
                ("serviceofferingid", &custom),
            ],
            431,
        )
        .await;
    assert!(e.contains("cpuNumber"), "{e}");
    let j = c
        .job(&[
            ("command", "deployVirtualMachine"),
            ("zoneid", &z.zone),
            ("templateid", &z.template),
            ("serviceofferingid", &custom),
            ("details[0].cpuNumber", "2"),
            ("details[0].cpuSpeed", "1500"),
            ("details[0].memory", "1024"),
        ])
        .await;
    let vm = &j["jobresult"]["virtualmachine"];
    assert_eq!(
        (
            vm["cpunumber"].clone(),
            vm["cpuspeed"].clone(),
            vm["memory"].clone()
        ),
        (2.into(), 1500.into(), 1024.into()),
        "{j}"
    );
    // Too big for any host: 533 with the reason, and the VM is left in Error.
    let huge = c
        .ok(&[
            ("command", "createServiceOffering"),
            ("name", "huge"),
            ("displaytext", "huge"),
            ("cpunumber", "64"),
            ("cpuspeed", "1000"),
            ("memory", "1024"),
        ])
        .await["serviceoffering"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let r = c
        .ok(&[
            ("command", "deployVirtualMachine"),
            ("zoneid", &z.zone),
            ("templateid", &z.template),
            ("serviceofferingid", &huge),
        ])
        .await;
    let j = c.wait_job(&s(&r["jobid"])).await;
    assert_eq!(j["jobstatus"], 2, "{j}");
    assert_eq!(j["jobresultcode"], 533, "{j}");
    assert!(
        s(&j["jobresult"]["errortext"]).contains("Unable to create a deployment"),
        "{j}"
    );
    let vm = c
        .ok(&[("command", "listVirtualMachines"), ("id", &s(&r["id"]))])
        .await;
    assert_eq!(vm["virtualmachine"][0]["state"], "Error", "{vm}");
    // An Error VM is expunged by destroy.
    let j = c
        .job(&[("command", "destroyVirtualMachine"), ("id", &s(&r["id"]))])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    // Bad references.
    let e = c
        .err(
            &[
                ("command", "deployVirtualMachine"),
                ("zoneid", &z.zone),
                ("templateid", "7d2c5e3c-0000-4000-8000-000000000000"),
                ("serviceofferingid", &z.offering),
            ],
            431,
        )
        .await;
    assert!(!e.is_empty());
    let e = c.err(&z.deploy(&[("keypair", "nope")]), 431).await;
    assert!(e.contains("nope"), "{e}");
    let e = c.err(&z.deploy(&[("userdata", "%%%")]), 431).await;
    assert!(e.contains("base64"), "{e}");
    // An ISO deploy needs a disk offering for its blank root disk.
    let e = c
        .err(
            &[
                ("command", "deployVirtualMachine"),
                ("zoneid", &z.zone),
                ("isoid", &z.template),
                ("serviceofferingid", &z.offering),
            ],
            431,
        )
        .await;
    assert!(!e.is_empty());
    ts.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn limits_are_enforced_at_deploy() {
    let ts = TestServer::start().await;
    let z = VmZone::new(&ts, 1).await;
    let c = &ts.admin;
    let (_a, _u, bob) = account_with_keys(&ts, c, "bob", None, "0").await;
    c.ok(&[
        ("command", "updateResourceLimit"),
        ("account", "bob"),
        (
            "domainid",
            &s(&c.ok(&[("command", "listDomains"), ("name", "ROOT")]).await["domain"][0]["id"]),
        ),
        ("resourcetype", "0"),
        ("max", "1"),
    ])
    .await;
    let j = bob.job(&z.deploy(&[])).await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let e = bob.err(&z.deploy(&[]), 535).await;
    assert!(e.contains("'user_vm'"), "{e}");
    // CPU limit.
    c.ok(&[
        ("command", "updateResourceLimit"),
        ("account", "bob"),
        (
            "domainid",
            &s(&c.ok(&[("command", "listDomains"), ("name", "ROOT")]).await["domain"][0]["id"]),
        ),
        ("resourcetype", "0"),
        ("max", "-1"),
    ])
    .await;
    c.ok(&[
        ("command", "updateResourceLimit"),
        ("account", "bob"),
        (
            "domainid",
            &s(&c.ok(&[("command", "listDomains"), ("name", "ROOT")]).await["domain"][0]["id"]),
        ),
        ("resourcetype", "8"),
        ("max", "1"),
    ])
    .await;
    let e = bob.err(&z.deploy(&[]), 535).await;
    assert!(e.contains("'cpu'"), "{e}");
    ts.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scale_keys_metrics_tags_and_the_expunge_thread() {
    let ts = TestServer::start().await;
    let z = VmZone::new(&ts, 1).await;
    let c = &ts.admin;
    let (_a, _u, alice) = account_with_keys(&ts, c, "alice", None, "0").await;
    for (name, key) in [
        (
            "k1",
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl one",
        ),
        (
            "k2",
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBlSBSLcL1sKfs3nhRWX8zUQgXv7cuJqCuzj0jKAEcau two",
        ),
    ] {
        alice
            .ok(&[
                ("command", "registerSSHKeyPair"),
                ("name", name),
                ("publickey", key),
            ])
            .await;
    }
    let big = s(&c
        .ok(&[
            ("command", "createServiceOffering"),
            ("name", "big"),
            ("displaytext", "big"),
            ("cpunumber", "2"),
            ("cpuspeed", "1000"),
            ("memory", "1024"),
        ])
        .await["serviceoffering"]["id"]);
    let j = alice
        .job(&z.deploy(&[("keypair", "k1"), ("name", "s1")]))
        .await;
    let id = s(&j["jobresult"]["virtualmachine"]["id"]);
    let inst = s(&c
        .ok(&[
            ("command", "listVirtualMachines"),
            ("id", &id),
            ("listall", "true"),
        ])
        .await["virtualmachine"][0]["instancename"]);
    let spec = |name: &str| {
        z.hosts.iter().find_map(|(_, a)| {
            agent::simulator::sim_host(a)
                .vms
                .lock()
                .ok()?
                .get(name)
                .cloned()
        })
    };
    // Scale a running VM up: the host hot-plugs the new size.
    let e = alice
        .err(
            &[
                ("command", "changeServiceForVirtualMachine"),
                ("id", &id),
                ("serviceofferingid", &big),
            ],
            431,
        )
        .await;
    assert!(e.contains("stop it first"), "{e}");
    // Dynamic scaling is off by default, as CloudStack's enable.dynamic.scale.vm.
    let e = alice
        .err(
            &[
                ("command", "scaleVirtualMachine"),
                ("id", &id),
                ("serviceofferingid", &big),
            ],
            431,
        )
        .await;
    assert!(e.contains("enable.dynamic.scale.vm"), "{e}");
    c.ok(&[
        ("command", "updateConfiguration"),
        ("name", "enable.dynamic.scale.vm"),
        ("value", "true"),
    ])
    .await;
    let j = alice
        .job(&[
            ("command", "scaleVirtualMachine"),
            ("id", &id),
            ("serviceofferingid", &big),
        ])
        .await;
    assert_eq!(j["jobresult"]["virtualmachine"]["cpunumber"], 2, "{j}");
    assert_eq!(
        j["jobresult"]["virtualmachine"]["serviceofferingid"],
        big.as_str()
    );
    assert_eq!(spec(&inst).map(|v| (v.cpus, v.memory_mib)), Some((2, 1024)));
    let e = alice
        .err(
            &[
                ("command", "scaleVirtualMachine"),
                ("id", &id),
                ("serviceofferingid", &z.offering),
            ],
            431,
        )
        .await;
    assert!(e.contains("scaling up"), "{e}");
    // Stopped: change offering (down) and reset the key.
    alice
        .job(&[("command", "stopVirtualMachine"), ("id", &id)])
        .await;
    let r = alice
        .ok(&[
            ("command", "changeServiceForVirtualMachine"),
            ("id", &id),
            ("serviceofferingid", &z.offering),
        ])
        .await;
    assert_eq!(r["virtualmachine"]["cpunumber"], 1, "{r}");
    let r = alice
        .call(&[
            ("command", "resetSSHKeyForVirtualMachine"),
            ("id", &id),
            ("keypair", "k2"),
            ("response", "json"),
        ])
        .await;
    assert_eq!(
        r.key(),
        "resetSSHKeyforvirtualmachineresponse",
        "{}",
        r.text
    );
    let j = alice.wait_job(&s(&r.inner()["jobid"])).await;
    assert_eq!(j["jobresult"]["virtualmachine"]["keypairs"], "k2", "{j}");
    alice
        .job(&[("command", "startVirtualMachine"), ("id", &id)])
        .await;
    let keys = spec(&inst).map(|v| v.ssh_keys).unwrap_or_default();
    assert!(keys.len() == 1 && keys[0].ends_with(" two"), "{keys:?}");
    let e = alice
        .err(
            &[
                ("command", "resetSSHKeyForVirtualMachine"),
                ("id", &id),
                ("keypair", "k1"),
            ],
            431,
        )
        .await;
    assert!(e.contains("should be stopped"), "{e}");
    // Metrics.
    let m = alice.ok(&[("command", "listVirtualMachinesMetrics")]).await;
    assert_eq!(m["virtualmachine"][0]["cputotal"], "1.00 Ghz", "{m}");
    assert!(
        m["virtualmachine"][0]["disksizetotal"]
            .as_u64()
            .unwrap_or(0)
            > 0
    );
    // Tags on VMs and volumes; listVirtualMachines filters by tag.
    let root = s(&alice
        .ok(&[("command", "listVolumes"), ("virtualmachineid", &id)])
        .await["volume"][0]["id"]);
    for (t, rid) in [("UserVm", &id), ("Volume", &root)] {
        let j = alice
            .job(&[
                ("command", "createTags"),
                ("resourcetype", t),
                ("resourceids", rid),
                ("tags[0].key", "env"),
                ("tags[0].value", "prod"),
            ])
            .await;
        assert_eq!(j["jobstatus"], 1, "{t}: {j}");
    }
    let r = alice
        .ok(&[
            ("command", "listVirtualMachines"),
            ("tags[0].key", "env"),
            ("tags[0].value", "prod"),
        ])
        .await;
    assert_eq!(r["count"], 1, "{r}");
    assert_eq!(r["virtualmachine"][0]["tags"][0]["key"], "env");
    let r = alice
        .ok(&[
            ("command", "listVirtualMachines"),
            ("tags[0].key", "env"),
            ("tags[0].value", "dev"),
        ])
        .await;
    assert!(r.get("count").is_none(), "{r}");
    let v = alice.ok(&[("command", "listVolumes"), ("id", &root)]).await;
    assert_eq!(v["volume"][0]["tags"][0]["value"], "prod", "{v}");
    // The expunge thread removes Destroyed VMs after expunge.delay; their tags go with them.
    for (k, val) in [("expunge.delay", "1"), ("expunge.interval", "1")] {
        c.ok(&[
            ("command", "updateConfiguration"),
            ("name", k),
            ("value", val),
        ])
        .await;
    }
    alice
        .job(&[("command", "destroyVirtualMachine"), ("id", &id)])
        .await;
    let mut gone = false;
    for _ in 0..100 {
        let r = c
            .ok(&[
                ("command", "listVirtualMachines"),
                ("id", &id),
                ("listall", "true"),
            ])
            .await;
        if r.get("count").is_none() {
            gone = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(gone, "expunged by the expunge thread");
    assert!(z.stored_volumes().is_empty());
    let t = c.ok(&[("command", "listTags"), ("listall", "true")]).await;
    assert!(t.get("count").is_none(), "{t}");
    ts.stop().await;
}
