//! The life of networks through the API on simulated hosts: IPAM under concurrency (1,000
//! deploys, 40 associations), implement-on-first-VM and garbage collection, router actions,
//! L2 networks and NICs, routers re-placed when their host dies, account removal, and a basic
//! zone built as Marvin's basic.cfg.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;
use serde_json::Value;

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn ipam_under_concurrency() {
    ipam(TestServer::start().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn ipam_under_concurrency_postgres() {
    let Some(pg) = testkit::Postgres::start_for_test() else {
        return;
    };
    ipam(TestServer::start_with(Some(pg.fresh_database().expect("db"))).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn first_deploys_race_for_the_source_nat() {
    source_nat_race(TestServer::start().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn first_deploys_race_for_the_source_nat_postgres() {
    let Some(pg) = testkit::Postgres::start_for_test() else {
        return;
    };
    source_nat_race(TestServer::start_with(Some(pg.fresh_database().expect("db"))).await).await;
}

/// 24 deploys at once into an account's new network: all implement it together, and it gets
/// one source NAT address (they used to claim one each, and past the free candidates failed
/// with "could not claim a source NAT address").
async fn source_nat_race(ts: TestServer) {
    let z = VmZone::new(&ts, 4).await;
    let (_a, _u, erin) = account_with_keys(&ts, &ts.admin, "erin", None, "0").await;
    let mut tasks = Vec::new();
    for i in 0..24 {
        let c = Client::new(&erin.base, &erin.key, &erin.secret);
        let p: Vec<(String, String)> = z
            .deploy(&[])
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .chain([("name".to_string(), format!("race{i}"))])
            .collect();
        tasks.push(tokio::spawn(async move {
            let p: Vec<(&str, &str)> = p.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let r = c.ok(&p).await;
            c.wait_job(&s(&r["jobid"])).await
        }));
    }
    for t in tasks {
        let j = t.await.expect("deploy task");
        assert_eq!(j["jobstatus"], 1, "{j}");
    }
    let ips = erin
        .ok(&[
            ("command", "listPublicIpAddresses"),
            ("issourcenat", "true"),
        ])
        .await;
    assert_eq!(ips["count"], 1, "source NAT addresses of one network");
    let nets = erin.ok(&[("command", "listNetworks")]).await;
    assert_eq!(nets["count"], 1, "{nets}");
}

/// 1,000 concurrent deploys on one network (allocation happens when the deploy is accepted;
/// the VMs stay Stopped), and 40 concurrent public IP associations: no duplicate address or
/// MAC.
async fn ipam(ts: TestServer) {
    let z = VmZone::new(&ts, 1).await;
    let admin = &ts.admin;
    for k in [
        "max.account.user.vms",
        "max.account.cpus",
        "max.account.memory",
        "max.account.volumes",
        "max.account.primary.storage",
        "max.account.public.ips",
    ] {
        admin
            .ok(&[
                ("command", "updateConfiguration"),
                ("name", k),
                ("value", "-1"),
            ])
            .await;
    }
    let (_a, _u, carol) = account_with_keys(&ts, admin, "carol", None, "0").await;
    // Create the network first (the first deploy does), so all race for its addresses.
    let first = carol
        .ok(&z.deploy(&[("name", "v0"), ("startvm", "false")]))
        .await;
    carol.wait_job(&s(&first["jobid"])).await;
    let n = 999;
    let mut tasks = Vec::new();
    for i in 1..=n {
        let c = Client::new(&carol.base, &carol.key, &carol.secret);
        let p: Vec<(String, String)> = z
            .deploy(&[("startvm", "false")])
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .chain([("name".to_string(), format!("v{i}"))])
            .collect();
        tasks.push(tokio::spawn(async move {
            let p: Vec<(&str, &str)> = p.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let r = c.call(&p).await;
            assert_eq!(r.status, 200, "{}", r.text);
        }));
    }
    for t in tasks {
        t.await.expect("deploy task");
    }
    let mut ips = BTreeSet::new();
    let mut macs = BTreeSet::new();
    let mut seen = 0;
    for page in 1..=3 {
        let p = page.to_string();
        let l = carol
            .ok(&[
                ("command", "listVirtualMachines"),
                ("page", &p),
                ("pagesize", "500"),
            ])
            .await;
        for v in l["virtualmachine"].as_array().cloned().unwrap_or_default() {
            seen += 1;
            ips.insert(s(&v["nic"][0]["ipaddress"]));
            macs.insert(s(&v["nic"][0]["macaddress"]));
        }
    }
    assert_eq!(seen, n + 1);
    assert_eq!(ips.len(), n + 1, "duplicate IP addresses");
    assert_eq!(macs.len(), n + 1, "duplicate MAC addresses");

    // Public IPs: 40 concurrent associations, all different.
    let net = s(&carol.ok(&[("command", "listNetworks")]).await["network"][0]["id"]);
    let mut tasks = Vec::new();
    for _ in 0..40 {
        let c = Client::new(&carol.base, &carol.key, &carol.secret);
        let net = net.clone();
        tasks.push(tokio::spawn(async move {
            let j = c
                .job(&[("command", "associateIpAddress"), ("networkid", &net)])
                .await;
            assert_eq!(j["jobstatus"], 1, "{j}");
            s(&j["jobresult"]["ipaddress"]["ipaddress"])
        }));
    }
    let mut got = BTreeSet::new();
    for t in tasks {
        got.insert(t.await.expect("associate task"));
    }
    assert_eq!(got.len(), 40);
    ts.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn network_implemented_on_first_vm_and_garbage_collected() {
    let ts = TestServer::start().await;
    let admin = &ts.admin;
    for (k, v) in [("network.gc.wait", "0"), ("network.gc.interval", "1")] {
        admin
            .ok(&[
                ("command", "updateConfiguration"),
                ("name", k),
                ("value", v),
            ])
            .await;
    }
    let z = VmZone::new(&ts, 2).await;
    let (_a, _u, dave) = account_with_keys(&ts, admin, "dave", None, "0").await;
    // A network created by hand is Allocated, without VNI or router, until a VM starts.
    let offering = s(&admin
        .ok(&[
            ("command", "listNetworkOfferings"),
            ("name", "DefaultIsolatedNetworkOfferingWithSourceNatService"),
        ])
        .await["networkoffering"][0]["id"]);
    let created = dave
        .ok(&[
            ("command", "createNetwork"),
            ("name", "mynet"),
            ("zoneid", &z.zone),
            ("networkofferingid", &offering),
            ("gateway", "10.9.8.1"),
            ("netmask", "255.255.255.0"),
        ])
        .await;
    let net = s(&created["network"]["id"]);
    assert_eq!(created["network"]["state"], "Allocated", "{created}");
    assert_eq!(created["network"]["cidr"], "10.9.8.0/24");
    let routers = |c: &Client| {
        let c = Client::new(&c.base, &c.key, &c.secret);
        let net = net.clone();
        async move {
            c.ok(&[
                ("command", "listRouters"),
                ("networkid", &net),
                ("listall", "true"),
            ])
            .await["count"]
                .as_u64()
                .unwrap_or(0)
        }
    };
    assert_eq!(routers(admin).await, 0);
    let vm = deploy_vm(&dave, &z, "gc1", &[("networkids", &net)]).await;
    assert!(s(&vm["nic"][0]["ipaddress"]).starts_with("10.9.8."), "{vm}");
    let state = |c: &Client| {
        let c = Client::new(&c.base, &c.key, &c.secret);
        let net = net.clone();
        async move {
            c.ok(&[
                ("command", "listNetworks"),
                ("id", &net),
                ("listall", "true"),
            ])
            .await["network"][0]
                .clone()
        }
    };
    let n = state(admin).await;
    assert_eq!(n["state"], "Implemented", "{n}");
    assert!(n["vlan"].is_string());
    assert_eq!(routers(admin).await, 1);

    // Stopped VM: after network.gc.wait the network is shut down (router gone, VNI released).
    let j = dave
        .job(&[("command", "stopVirtualMachine"), ("id", &s(&vm["id"]))])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let mut last = Value::Null;
    for _ in 0..100 {
        last = state(admin).await;
        if last["state"] == "Allocated" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(last["state"], "Allocated", "{last}");
    assert!(last.get("vlan").is_none(), "VNI released: {last}");
    assert_eq!(routers(admin).await, 0);
    // The source-NAT IP stays with the network.
    let ips = dave.ok(&[("command", "listPublicIpAddresses")]).await;
    assert_eq!(ips["count"], 1, "source NAT addresses of one network");
    // Starting again implements it again.
    let j = dave
        .job(&[("command", "startVirtualMachine"), ("id", &s(&vm["id"]))])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    assert_eq!(state(admin).await["state"], "Implemented");
    assert_eq!(routers(admin).await, 1);
    let r = &admin
        .ok(&[
            ("command", "listRouters"),
            ("networkid", &net),
            ("listall", "true"),
        ])
        .await["router"][0];
    assert_eq!(r["publicip"], ips["publicipaddress"][0]["ipaddress"], "{r}");

    // Router actions.
    let rid = s(&r["id"]);
    let j = admin.job(&[("command", "stopRouter"), ("id", &rid)]).await;
    assert_eq!(j["jobresult"]["router"]["state"], "Stopped", "{j}");
    let j = admin.job(&[("command", "startRouter"), ("id", &rid)]).await;
    assert_eq!(j["jobresult"]["router"]["state"], "Running", "{j}");
    let h = s(&j["jobresult"]["router"]["hostid"]);
    let received = z.net_of(&h).received;
    let j = admin
        .job(&[("command", "rebootRouter"), ("id", &rid)])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    // The router's host is told its whole configuration again (same generation: unchanged).
    assert!(z.net_of(&h).received > received);
    let j = dave
        .job(&[
            ("command", "restartNetwork"),
            ("id", &net),
            ("cleanup", "true"),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    assert_eq!(routers(admin).await, 1);

    // An L2 network: no addresses, no router; its VNI comes when a VM starts on it.
    let l2off = s(&admin
        .ok(&[
            ("command", "listNetworkOfferings"),
            ("name", "DefaultL2NetworkOffering"),
        ])
        .await["networkoffering"][0]["id"]);
    let l2 = s(&dave
        .ok(&[
            ("command", "createNetwork"),
            ("name", "l2net"),
            ("zoneid", &z.zone),
            ("networkofferingid", &l2off),
        ])
        .await["network"]["id"]);
    let vm2 = deploy_vm(&dave, &z, "l2vm", &[("networkids", &format!("{l2},{net}"))]).await;
    assert!(vm2["nic"][0].get("ipaddress").is_none(), "{vm2}");
    assert_eq!(vm2["nic"][0]["networkid"], l2.as_str());
    assert_eq!(vm2["nic"][0]["isdefault"], true);
    assert!(
        s(&vm2["nic"][1]["ipaddress"]).starts_with("10.9.8."),
        "{vm2}"
    );
    let n = &admin
        .ok(&[
            ("command", "listNetworks"),
            ("id", &l2),
            ("listall", "true"),
        ])
        .await["network"][0];
    assert_eq!(n["state"], "Implemented", "{n}");
    assert!(n["vlan"].is_string(), "{n}");
    // NICs: list, add (one per network), make default, remove.
    let nics = dave
        .ok(&[
            ("command", "listNics"),
            ("virtualmachineid", &s(&vm2["id"])),
        ])
        .await;
    assert_eq!(nics["count"], 2, "{nics}");
    let second = s(&nics["nic"][1]["id"]);
    let e = dave
        .call(&[
            ("command", "addNicToVirtualMachine"),
            ("virtualmachineid", &s(&vm2["id"])),
            ("networkid", &net),
        ])
        .await;
    assert_eq!(e.status, 431, "one NIC per network: {}", e.text);
    let j = dave
        .job(&[
            ("command", "updateDefaultNicForVirtualMachine"),
            ("virtualmachineid", &s(&vm2["id"])),
            ("nicid", &second),
        ])
        .await;
    assert_eq!(
        j["jobresult"]["virtualmachine"]["nic"][1]["isdefault"], true,
        "{j}"
    );
    let first = s(&nics["nic"][0]["id"]);
    let j = dave
        .job(&[
            ("command", "removeNicFromVirtualMachine"),
            ("virtualmachineid", &s(&vm2["id"])),
            ("nicid", &first),
        ])
        .await;
    assert_eq!(
        j["jobresult"]["virtualmachine"]["nic"]
            .as_array()
            .map(Vec::len),
        Some(1),
        "{j}"
    );
    ts.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn router_moves_when_its_host_dies() {
    let ts = TestServer::start().await;
    let admin = &ts.admin;
    for (k, v) in [("ping.interval", "1"), ("ping.timeout", "2")] {
        admin
            .ok(&[
                ("command", "updateConfiguration"),
                ("name", k),
                ("value", v),
            ])
            .await;
    }
    let z = VmZone::new(&ts, 3).await;
    let (_a, _u, erin) = account_with_keys(&ts, admin, "erin", None, "0").await;
    let vm = deploy_vm(&erin, &z, "r1", &[]).await;
    let net = s(&vm["nic"][0]["networkid"]);
    let router = |c: &Client| {
        let c = Client::new(&c.base, &c.key, &c.secret);
        let net = net.clone();
        async move {
            c.ok(&[
                ("command", "listRouters"),
                ("networkid", &net),
                ("listall", "true"),
            ])
            .await["router"][0]
                .clone()
        }
    };
    let r = router(admin).await;
    let dead = s(&r["hostid"]);
    let addr = z
        .hosts
        .iter()
        .find(|(h, _)| *h == dead)
        .map(|(_, a)| a.clone())
        .expect("router host is a host of the zone");
    agent::simulator::sim_host(&addr).power_off();
    let mut now = Value::Null;
    for _ in 0..600 {
        now = router(admin).await;
        if now["state"] == "Running" && s(&now["hostid"]) != dead && !s(&now["hostid"]).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let moved_to = s(&now["hostid"]);
    assert!(
        moved_to != dead && !moved_to.is_empty(),
        "router did not move: {now}"
    );
    assert_eq!(now["publicip"], r["publicip"], "same addresses");
    // The new host has it (pushed by the re-placement).
    let mut has = false;
    for _ in 0..100 {
        if z.net_of(&moved_to)
            .desired
            .is_some_and(|d| d.routers.len() == 1)
        {
            has = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(has, "the new host was not given the router");
    agent::simulator::sim_host(&addr).restore();
    ts.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deleting_an_account_releases_its_networking() {
    let ts = TestServer::start().await;
    let z = VmZone::new(&ts, 2).await;
    let admin = &ts.admin;
    let (acct, _u, frank) = account_with_keys(&ts, admin, "frank", None, "0").await;
    let vm = deploy_vm(&frank, &z, "f1", &[]).await;
    let net = s(&vm["nic"][0]["networkid"]);
    let j = frank
        .job(&[("command", "associateIpAddress"), ("networkid", &net)])
        .await;
    let extra = s(&j["jobresult"]["ipaddress"]["ipaddress"]);
    frank
        .ok(&[("command", "createSecurityGroup"), ("name", "fsg")])
        .await;
    let j = admin
        .job(&[
            ("command", "destroyVirtualMachine"),
            ("id", &s(&vm["id"])),
            ("expunge", "true"),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    // A VM still running when its account is deleted: expunged with it (its host stops it).
    let kept = deploy_vm(&frank, &z, "f2", &[]).await;
    let kept_name = s(&vm_view(admin, &s(&kept["id"])).await["instancename"]);
    assert!(z.running().contains(&kept_name));
    let j = admin
        .job(&[("command", "deleteAccount"), ("id", &acct)])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    assert!(
        !z.running().contains(&kept_name),
        "a deleted account's VM still runs on its host"
    );
    let l = admin
        .ok(&[
            ("command", "listVirtualMachines"),
            ("id", &s(&kept["id"])),
            ("listall", "true"),
        ])
        .await;
    assert_eq!(l["count"].as_u64().unwrap_or(0), 0, "{l}");
    let ip = &admin
        .ok(&[
            ("command", "listPublicIpAddresses"),
            ("ipaddress", &extra),
            ("allocatedonly", "false"),
            ("listall", "true"),
        ])
        .await["publicipaddress"][0];
    assert_eq!(ip["state"], "Free", "{ip}");
    let allocated = admin
        .ok(&[("command", "listPublicIpAddresses"), ("listall", "true")])
        .await;
    assert_eq!(allocated["count"].as_u64().unwrap_or(0), 0, "{allocated}");
    let nets = admin
        .ok(&[
            ("command", "listNetworks"),
            ("id", &net),
            ("listall", "true"),
        ])
        .await;
    assert_eq!(nets["count"].as_u64().unwrap_or(0), 0, "{nets}");
    let routers = admin
        .ok(&[
            ("command", "listRouters"),
            ("listall", "true"),
            ("networkid", &net),
        ])
        .await;
    assert_eq!(routers["count"].as_u64().unwrap_or(0), 0, "{routers}");
    let sgs = admin
        .ok(&[
            ("command", "listSecurityGroups"),
            ("listall", "true"),
            ("securitygroupname", "fsg"),
        ])
        .await;
    assert_eq!(sgs["count"].as_u64().unwrap_or(0), 0, "{sgs}");
    ts.stop().await;
}

/// A basic zone as Marvin's basic.cfg builds it: the pod's guest range (createVlanIpRange
/// podid=… forvirtualnetwork=false) makes the zone's shared guest network with security
/// groups; a VM deployed without networks lands on it, in the account's `default` group.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn basic_zone_guest_network_and_default_group() {
    let ts = TestServer::start().await;
    let c = &ts.admin;
    let zone = s(&c
        .ok(&[
            ("command", "createZone"),
            ("name", "basic1"),
            ("networktype", "Basic"),
            ("dns1", "192.0.2.53"),
            ("internaldns1", "192.0.2.53"),
        ])
        .await["zone"]["id"]);
    let pn = c
        .job(&[
            ("command", "createPhysicalNetwork"),
            ("name", "basic-pn"),
            ("zoneid", &zone),
            ("isolationmethods", "VXLAN"),
            ("vlan", "2000-2099"),
        ])
        .await;
    let pn = s(&pn["jobresult"]["physicalnetwork"]["id"]);
    for t in ["Guest", "Management"] {
        c.job(&[
            ("command", "addTrafficType"),
            ("physicalnetworkid", &pn),
            ("traffictype", t),
        ])
        .await;
    }
    let pod = s(&c
        .ok(&[
            ("command", "createPod"),
            ("name", "bpod"),
            ("zoneid", &zone),
            ("allocationstate", "Enabled"),
            ("gateway", "172.17.0.1"),
            ("netmask", "255.255.255.0"),
            ("startip", "172.17.0.10"),
            ("endip", "172.17.0.100"),
        ])
        .await["pod"]["id"]);
    let range = c
        .ok(&[
            ("command", "createVlanIpRange"),
            ("podid", &pod),
            ("forvirtualnetwork", "false"),
            ("gateway", "10.147.29.1"),
            ("netmask", "255.255.255.0"),
            ("startip", "10.147.29.10"),
            ("endip", "10.147.29.50"),
        ])
        .await;
    let guest = s(&range["vlan"]["networkid"]);
    assert!(!guest.is_empty(), "{range}");
    let n = &c
        .ok(&[
            ("command", "listNetworks"),
            ("id", &guest),
            ("listall", "true"),
        ])
        .await["network"][0];
    assert_eq!(n["type"], "Shared", "{n}");
    assert!(n["service"]
        .as_array()
        .is_some_and(|a| a.iter().any(|x| x["name"] == "SecurityGroup")));
    // A second guest range of the pod extends the same network; overlapping is refused.
    let r2 = c
        .ok(&[
            ("command", "createVlanIpRange"),
            ("podid", &pod),
            ("forvirtualnetwork", "false"),
            ("gateway", "10.147.29.1"),
            ("netmask", "255.255.255.0"),
            ("startip", "10.147.29.60"),
            ("endip", "10.147.29.70"),
        ])
        .await;
    assert_eq!(r2["vlan"]["networkid"], guest.as_str());
    c.err(
        &[
            ("command", "createVlanIpRange"),
            ("podid", &pod),
            ("forvirtualnetwork", "false"),
            ("gateway", "10.147.29.1"),
            ("netmask", "255.255.255.0"),
            ("startip", "10.147.29.40"),
            ("endip", "10.147.29.65"),
        ],
        431,
    )
    .await;
    let ranges = c
        .ok(&[("command", "listVlanIpRanges"), ("networkid", &guest)])
        .await;
    assert_eq!(ranges["count"], 2, "{ranges}");

    let cluster = s(&c
        .ok(&[
            ("command", "addCluster"),
            ("clustername", "bc"),
            ("clustertype", "CloudManaged"),
            ("allocationstate", "Enabled"),
            ("hypervisor", "Simulator"),
            ("podid", &pod),
            ("zoneid", &zone),
        ])
        .await["cluster"][0]["id"]);
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let mut hosts = Vec::new();
    for i in 0..2 {
        let h = c
            .ok(&[
                ("command", "addHost"),
                ("zoneid", &zone),
                ("podid", &pod),
                ("clusterid", &cluster),
                ("hypervisor", "Simulator"),
                ("url", &format!("http://sim/{tag}/b{i}")),
                ("username", "root"),
                ("password", "password"),
            ])
            .await;
        hosts.push(s(&h["host"][0]["id"]));
    }
    let primary = ts.dir.path().join("basic-primary");
    std::fs::create_dir_all(&primary).expect("primary");
    c.ok(&[
        ("command", "createStoragePool"),
        ("name", "bps"),
        ("zoneid", &zone),
        ("podid", &pod),
        ("clusterid", &cluster),
        ("url", &format!("filesystem://{}", primary.display())),
    ])
    .await;
    let sec = ts.dir.path().join("basic-secondary");
    std::fs::create_dir_all(&sec).expect("secondary");
    c.ok(&[
        ("command", "addImageStore"),
        ("provider", "NFS"),
        ("name", "bss"),
        ("url", &format!("file://{}", sec.display())),
        ("zoneid", &zone),
    ])
    .await;
    c.ok(&[
        ("command", "updateZone"),
        ("id", &zone),
        ("allocationstate", "Enabled"),
    ])
    .await;
    let img = ts.staging().join("basic-tiny.qcow2");
    let mut b = b"QFI\xfb".to_vec();
    b.resize(64 * 1024, 7);
    std::fs::write(&img, b).expect("image");
    let t = s(&c
        .ok(&[
            ("command", "registerTemplate"),
            ("name", "btiny"),
            ("displaytext", "btiny"),
            ("url", &format!("file://{}", img.display())),
            ("format", "QCOW2"),
            ("hypervisor", "Simulator"),
            ("zoneid", &zone),
            ("ispublic", "true"),
            ("ostypeid", "4e3f2c1a-7b6d-4e5f-8a9b-000000000001"),
        ])
        .await["template"][0]["id"]);
    for _ in 0..200 {
        let r = c
            .ok(&[
                ("command", "listTemplates"),
                ("templatefilter", "all"),
                ("id", &t),
            ])
            .await;
        if r["template"][0]["isready"] == true {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let so = s(&c
        .ok(&[
            ("command", "createServiceOffering"),
            ("name", "bsmall"),
            ("displaytext", "bsmall"),
            ("cpunumber", "1"),
            ("cpuspeed", "500"),
            ("memory", "256"),
        ])
        .await["serviceoffering"]["id"]);
    let (_a, _u, gina) = account_with_keys(&ts, c, "gina", None, "0").await;

    let j = gina
        .job(&[
            ("command", "deployVirtualMachine"),
            ("zoneid", &zone),
            ("templateid", &t),
            ("serviceofferingid", &so),
            ("name", "b1"),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let vm = &j["jobresult"]["virtualmachine"];
    assert_eq!(vm["nic"][0]["networkid"], guest.as_str(), "{vm}");
    let ip = s(&vm["nic"][0]["ipaddress"]);
    assert!(ip.starts_with("10.147.29."), "{vm}");
    assert_eq!(vm["securitygroup"][0]["name"], "default", "{vm}");
    // Its host enforces the default group: nothing in, anti-spoofing on its tap.
    let host = s(&c
        .ok(&[
            ("command", "listVirtualMachines"),
            ("id", &s(&vm["id"])),
            ("listall", "true"),
        ])
        .await["virtualmachine"][0]["hostid"]);
    let cfg = &c
        .ok(&[
            ("command", "getHostNetworkConfiguration"),
            ("hostid", &host),
        ])
        .await["hostnetworkconfiguration"];
    let nft = s(&cfg["security"]);
    assert!(nft.contains(&format!("ip saddr != {ip} drop")), "{cfg}");
    assert_eq!(cfg["pushed"], true, "{cfg}");
    assert_eq!(cfg["generation"], cfg["acknowledged"]);
    ts.stop().await;
}
