//! Scheduling (issue 19): VM slots as a schedulable resource — the cluster's and a host's own
//! count, shown in listHosts and listCapacity, exact under 200 concurrent deploys on SQLite and
//! PostgreSQL — and admission policies for a runtime class: a matching deploy lands with no
//! CPU or memory reserved (the originals in its details, an event), a protected domain's is
//! left alone, another class is untouched, a refusing policy answers 431 with its name, and
//! a policy's host tags steer placement.

mod common;

use common::*;
use serde_json::Value;

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

async fn tiny_offering(c: &Client, name: &str) -> String {
    s(&c.ok(&[
        ("command", "createServiceOffering"),
        ("name", name),
        ("displaytext", name),
        ("cpunumber", "1"),
        ("cpuspeed", "100"),
        ("memory", "64"),
    ])
    .await["serviceoffering"]["id"])
}

async fn no_thresholds(c: &Client) {
    for k in [
        "cluster.cpu.allocated.capacity.disablethreshold",
        "cluster.memory.allocated.capacity.disablethreshold",
    ] {
        c.ok(&[
            ("command", "updateConfiguration"),
            ("name", k),
            ("value", "1"),
        ])
        .await;
    }
}

async fn host_view(c: &Client, id: &str) -> Value {
    c.ok(&[("command", "listHosts"), ("id", id)]).await["host"][0].clone()
}

async fn slots_are_exact(ts: &TestServer) {
    let z = VmZone::new(ts, 4).await;
    let c = &ts.admin;
    no_thresholds(c).await;
    let so = tiny_offering(c, "tiny-slots").await;
    // 10 slots per host in the cluster; one host says 12 of its own.
    c.ok(&[
        ("command", "updateCluster"),
        ("id", &z.cluster),
        ("vmslots", "10"),
    ])
    .await;
    let cl = c
        .ok(&[("command", "listClusters"), ("id", &z.cluster)])
        .await;
    assert_eq!(cl["cluster"][0]["vmslots"], 10, "{cl}");
    c.ok(&[
        ("command", "updateHost"),
        ("id", &z.hosts[3].0),
        ("vmslots", "12"),
    ])
    .await;
    assert_eq!(host_view(c, &z.hosts[0].0).await["vmslots"], 10);
    assert_eq!(host_view(c, &z.hosts[3].0).await["vmslots"], 12);
    // Bad counts are refused.
    for bad in ["-1", "100001", "ten"] {
        c.err(
            &[
                ("command", "updateHost"),
                ("id", &z.hosts[0].0),
                ("vmslots", bad),
            ],
            431,
        )
        .await;
    }
    let mut tasks = Vec::new();
    for _ in 0..200 {
        let c = c.clone();
        let (zone, tmpl, so) = (z.zone.clone(), z.template.clone(), so.clone());
        tasks.push(tokio::spawn(async move {
            let r = c
                .ok(&[
                    ("command", "deployVirtualMachine"),
                    ("zoneid", &zone),
                    ("templateid", &tmpl),
                    ("serviceofferingid", &so),
                ])
                .await;
            c.wait_job(r["jobid"].as_str().expect("jobid")).await
        }));
    }
    let (mut ok, mut full) = (0, 0);
    for t in tasks {
        let j = t.await.expect("task");
        match j["jobstatus"].as_i64() {
            Some(1) => ok += 1,
            _ => {
                assert_eq!(j["jobresultcode"], 533, "{j}");
                full += 1;
            }
        }
    }
    assert_eq!((ok, full), (42, 158), "exactly the slots");
    for (i, (h, addr)) in z.hosts.iter().enumerate() {
        let want = if i == 3 { 12 } else { 10 };
        let v = host_view(c, h).await;
        assert_eq!(
            (v["vmslots"].as_i64(), v["vmslotsused"].as_i64()),
            (Some(want), Some(want)),
            "{v}"
        );
        assert_eq!(
            agent::simulator::sim_host(addr).vm_names().len() as i64,
            want
        );
    }
    let cap = c
        .ok(&[
            ("command", "listCapacity"),
            ("zoneid", &z.zone),
            ("type", "1000"),
        ])
        .await;
    let v = &cap["capacity"][0];
    assert_eq!(v["name"], "VM_SLOTS", "{cap}");
    // The zone's disabled `canopy up` host counts its slots too (and holds no VM).
    assert_eq!(v["capacityused"], 42, "{cap}");
    assert!(v["capacitytotal"].as_i64().unwrap_or(0) >= 42, "{cap}");
    // Clearing the host's own count gives it the cluster's again.
    c.ok(&[
        ("command", "updateHost"),
        ("id", &z.hosts[3].0),
        ("vmslots", ""),
    ])
    .await;
    assert_eq!(host_view(c, &z.hosts[3].0).await["vmslots"], 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn vm_slots_are_exact_under_concurrency_sqlite() {
    let ts = TestServer::start().await;
    slots_are_exact(&ts).await;
    ts.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn vm_slots_are_exact_under_concurrency_postgres() {
    let Some(pg) = testkit::Postgres::start_for_test() else {
        return;
    };
    let ts = TestServer::start_with(Some(pg.fresh_database().expect("db"))).await;
    slots_are_exact(&ts).await;
    ts.stop().await;
}

fn detail<'a>(vm: &'a Value, k: &str) -> Option<&'a str> {
    vm["details"][k].as_str()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn admission_policies_rewrite_deploys_of_their_runtime_class() {
    let ts = TestServer::start().await;
    let z = VmZone::new(&ts, 1).await;
    let c = &ts.admin;
    no_thresholds(c).await;
    let host = z.hosts[0].0.clone();
    // A protected domain ("system namespaces") with a user, and an ordinary user.
    let sys = create_domain(c, "kube-system", None).await;
    let (_, _, sys_user) = account_with_keys(&ts, c, "sysop", Some(&sys), "0").await;
    let (alice_acct, _, alice) = account_with_keys(&ts, c, "alice", None, "0").await;
    let p = c
        .ok(&[
            ("command", "createAdmissionPolicy"),
            ("name", "peer-pods"),
            ("runtimeclass", "kata-remote"),
            ("protecteddomainids", &sys),
            ("description", "peer pods run in their own VMs"),
        ])
        .await["admissionpolicy"]
        .clone();
    assert_eq!(
        (p["dropcpu"].as_bool(), p["dropmemory"].as_bool()),
        (Some(true), Some(true)),
        "{p}"
    );
    assert_eq!(p["protecteddomainids"], sys.as_str());
    // Users cannot see or make policies.
    alice
        .err(&[("command", "listAdmissionPolicies")], 401)
        .await;
    // One policy per runtime class; bad names and ids are refused.
    c.err(
        &[
            ("command", "createAdmissionPolicy"),
            ("name", "again"),
            ("runtimeclass", "KATA-remote"),
        ],
        431,
    )
    .await;
    c.err(
        &[
            ("command", "createAdmissionPolicy"),
            ("name", "bad name"),
            ("runtimeclass", "x"),
        ],
        431,
    )
    .await;
    c.err(
        &[
            ("command", "createAdmissionPolicy"),
            ("name", "x"),
            ("runtimeclass", "x"),
            (
                "protectedaccountids",
                "7c1f9a5e-0000-4000-8000-000000000000",
            ),
        ],
        431,
    )
    .await;
    c.err(
        &[
            ("command", "createAdmissionPolicy"),
            ("name", "x"),
            ("runtimeclass", "x"),
            ("dropcpu", "false"),
            ("dropmemory", "false"),
        ],
        431,
    )
    .await;

    let held = |v: &Value| {
        (
            v["cpuallocatedvalue"].as_i64(),
            v["memoryallocatedbytes"].as_i64(),
            v["vmslotsused"].as_i64(),
        )
    };
    let before = held(&host_view(c, &host).await);
    // Alice's kata-remote deploy: no CPU or memory held, one slot, the originals in details.
    let j = alice
        .job(&z.deploy(&[
            ("name", "peer1"),
            ("details[0].runtimeclass", "kata-remote"),
        ]))
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let vm = j["jobresult"]["virtualmachine"].clone();
    assert_eq!(detail(&vm, "admissionpolicy"), Some("peer-pods"), "{vm}");
    assert_eq!(detail(&vm, "originalcpureservation"), Some("1000"), "{vm}");
    assert_eq!(
        detail(&vm, "originalmemoryreservation"),
        Some("512"),
        "{vm}"
    );
    // The guest still has its size.
    assert_eq!(
        (vm["cpunumber"].as_i64(), vm["memory"].as_i64()),
        (Some(1), Some(512))
    );
    let after = held(&host_view(c, &host).await);
    assert_eq!((after.0, after.1), (before.0, before.1), "nothing reserved");
    assert_eq!(after.2, before.2.map(|n| n + 1), "one slot");
    let ev = c
        .ok(&[
            ("command", "listEvents"),
            ("type", "VM.ADMISSION"),
            ("listall", "true"),
        ])
        .await;
    let texts = names(&ev, "event", "description");
    assert!(
        texts
            .iter()
            .any(|t| t.contains("peer-pods") && t.contains("CPU reservation 1000 MHz dropped")),
        "{texts:?}"
    );
    // The same request from the protected domain is not mutated.
    let j = sys_user
        .job(&z.deploy(&[("name", "sys1"), ("details[0].runtimeclass", "kata-remote")]))
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let vm = j["jobresult"]["virtualmachine"].clone();
    assert_eq!(detail(&vm, "admissionpolicy"), None, "{vm}");
    let now = held(&host_view(c, &host).await);
    assert_eq!(
        now.0,
        after.0.map(|n| n + 1000),
        "the protected VM holds its CPU"
    );
    // Another class is untouched.
    let j = alice
        .job(&z.deploy(&[("name", "runc1"), ("details[0].runtimeclass", "runc")]))
        .await;
    assert_eq!(
        detail(&j["jobresult"]["virtualmachine"], "admissionpolicy"),
        None
    );
    // The offering can carry the class.
    let so = s(&c
        .ok(&[
            ("command", "createServiceOffering"),
            ("name", "kata"),
            ("displaytext", "kata"),
            ("cpunumber", "1"),
            ("cpuspeed", "500"),
            ("memory", "256"),
            ("serviceofferingdetails[0].runtimeclass", "kata-remote"),
        ])
        .await["serviceoffering"]["id"]);
    let j = alice
        .job(&[
            ("command", "deployVirtualMachine"),
            ("zoneid", &z.zone),
            ("templateid", &z.template),
            ("serviceofferingid", &so),
            ("name", "peer2"),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    assert_eq!(
        detail(&j["jobresult"]["virtualmachine"], "originalcpureservation"),
        Some("500")
    );
    // A refusing policy answers 431 naming itself; protecting the account lets it through.
    let refuse = c
        .ok(&[
            ("command", "createAdmissionPolicy"),
            ("name", "no-gpu"),
            ("runtimeclass", "nvidia"),
            ("action", "refuse"),
        ])
        .await["admissionpolicy"]["id"]
        .as_str()
        .map(str::to_string)
        .expect("id");
    let text = alice
        .err(
            &z.deploy(&[("name", "g1"), ("details[0].runtimeclass", "nvidia")]),
            431,
        )
        .await;
    assert!(text.contains("no-gpu"), "{text}");
    c.ok(&[
        ("command", "updateAdmissionPolicy"),
        ("id", &refuse),
        ("protectedaccountids", &alice_acct),
    ])
    .await;
    let j = alice
        .job(&z.deploy(&[("name", "g2"), ("details[0].runtimeclass", "nvidia")]))
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    // Host tags (a node selector): no host has the tag → 533; once it has, the deploy lands.
    c.ok(&[
        ("command", "createAdmissionPolicy"),
        ("name", "remote-only"),
        ("runtimeclass", "kata-qemu"),
        ("dropcpu", "false"),
        ("dropmemory", "false"),
        ("hosttags", "peerpods"),
    ])
    .await;
    let j = alice
        .job(&z.deploy(&[("name", "t1"), ("details[0].runtimeclass", "kata-qemu")]))
        .await;
    assert_eq!(j["jobresultcode"], 533, "{j}");
    c.ok(&[
        ("command", "updateHost"),
        ("id", &host),
        ("hosttags", "peerpods"),
    ])
    .await;
    let j = alice
        .job(&z.deploy(&[("name", "t2"), ("details[0].runtimeclass", "kata-qemu")]))
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    // (users do not see host ids: the admin looks)
    let id = s(&j["jobresult"]["virtualmachine"]["id"]);
    assert_eq!(vm_view(c, &id).await["hostid"], host.as_str());
    assert_eq!(
        detail(&j["jobresult"]["virtualmachine"], "admissionhosttags"),
        Some("peerpods")
    );
    // Listing, renaming, deleting.
    let l = c.ok(&[("command", "listAdmissionPolicies")]).await;
    assert_eq!(
        names(&l, "admissionpolicy", "name"),
        ["no-gpu", "peer-pods", "remote-only"]
    );
    c.ok(&[("command", "deleteAdmissionPolicy"), ("id", &refuse)])
        .await;
    c.err(
        &[("command", "deleteAdmissionPolicy"), ("id", &refuse)],
        431,
    )
    .await;
    ts.stop().await;
}

async fn group(c: &Client, name: &str, kind: &str) -> String {
    let j = c
        .job(&[
            ("command", "createAffinityGroup"),
            ("name", name),
            ("type", kind),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    s(&j["jobresult"]["affinitygroup"]["id"])
}

/// 100 deploys at once in one strict anti-affinity group over 50 hosts: exactly 50 land,
/// never two on one host; the rest get 533 saying why.
async fn anti_affinity_is_exact(ts: &TestServer) {
    let z = VmZone::new(ts, 50).await;
    let c = &ts.admin;
    no_thresholds(c).await;
    let so = tiny_offering(c, "tiny-aa").await;
    let g = group(c, "spread", "host anti-affinity").await;
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let c = c.clone();
        let (zone, tmpl, so, g) = (z.zone.clone(), z.template.clone(), so.clone(), g.clone());
        tasks.push(tokio::spawn(async move {
            let r = c
                .ok(&[
                    ("command", "deployVirtualMachine"),
                    ("zoneid", &zone),
                    ("templateid", &tmpl),
                    ("serviceofferingid", &so),
                    ("affinitygroupids", &g),
                ])
                .await;
            c.wait_job(r["jobid"].as_str().expect("jobid")).await
        }));
    }
    let (mut ok, mut refused) = (Vec::new(), 0);
    for t in tasks {
        let j = t.await.expect("task");
        match j["jobstatus"].as_i64() {
            Some(1) => ok.push(s(&j["jobresult"]["virtualmachine"]["hostid"])),
            _ => {
                assert_eq!(j["jobresultcode"], 533, "{j}");
                let text = s(&j["jobresult"]["errortext"]);
                assert!(text.contains("affinity"), "{text}");
                refused += 1;
            }
        }
    }
    assert_eq!((ok.len(), refused), (50, 50));
    ok.sort();
    ok.dedup();
    assert_eq!(ok.len(), 50, "two VMs of the group on one host");
    let l = c.ok(&[("command", "listAffinityGroups"), ("id", &g)]).await;
    // The refused VMs (Error) are still members until expunged.
    assert_eq!(
        l["affinitygroup"][0]["virtualmachineIds"]
            .as_array()
            .map(Vec::len),
        Some(100),
        "{l}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn strict_anti_affinity_is_exact_under_concurrency_sqlite() {
    let ts = TestServer::start().await;
    anti_affinity_is_exact(&ts).await;
    ts.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn strict_anti_affinity_is_exact_under_concurrency_postgres() {
    let Some(pg) = testkit::Postgres::start_for_test() else {
        return;
    };
    let ts = TestServer::start_with(Some(pg.fresh_database().expect("db"))).await;
    anti_affinity_is_exact(&ts).await;
    ts.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn affinity_groups_steer_placement_migration_and_their_owners() {
    let ts = TestServer::start().await;
    let z = VmZone::new(&ts, 4).await;
    let c = &ts.admin;
    no_thresholds(c).await;
    let (_, _, alice) = account_with_keys(&ts, c, "alice", None, "0").await;
    let (_, _, bob) = account_with_keys(&ts, c, "bob", None, "0").await;
    let so = tiny_offering(c, "tiny-ag").await;
    let types = alice.ok(&[("command", "listAffinityGroupTypes")]).await;
    assert_eq!(
        names(&types, "affinityGroupType", "type"),
        [
            "host affinity",
            "host anti-affinity",
            "non-strict host affinity",
            "non-strict host anti-affinity"
        ]
    );
    let deploy = |c: &Client, name: &str, groups: &[(&str, &str)]| {
        let mut p: Vec<(String, String)> = vec![
            ("command".into(), "deployVirtualMachine".into()),
            ("zoneid".into(), z.zone.clone()),
            ("templateid".into(), z.template.clone()),
            ("serviceofferingid".into(), so.clone()),
            ("name".into(), name.into()),
        ];
        p.extend(groups.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let c = c.clone();
        async move {
            let refs: Vec<(&str, &str)> = p.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            c.job(&refs).await
        }
    };
    let host_of = |id: String| async move { s(&vm_view(c, &id).await["hostid"]) };
    // Bad type, duplicate name.
    alice
        .err(
            &[
                ("command", "createAffinityGroup"),
                ("name", "x"),
                ("type", "rack affinity"),
            ],
            431,
        )
        .await;
    let web = group(&alice, "web", "host anti-affinity").await;
    // Names are unique per account, without case.
    alice
        .err(
            &[
                ("command", "createAffinityGroup"),
                ("name", "WEB"),
                ("type", "host affinity"),
            ],
            431,
        )
        .await;
    // Bob may use the same name; he cannot see, use or delete Alice's group.
    group(&bob, "web", "host affinity").await;
    let l = bob.ok(&[("command", "listAffinityGroups")]).await;
    assert_eq!(l["count"], 1, "{l}");
    let text = bob
        .err(
            &[
                ("command", "deployVirtualMachine"),
                ("zoneid", &z.zone),
                ("templateid", &z.template),
                ("serviceofferingid", &so),
                ("affinitygroupids", &web),
            ],
            431,
        )
        .await;
    assert!(!text.contains("web"), "Alice's group stays private: {text}");
    bob.err(&[("command", "deleteAffinityGroup"), ("id", &web)], 431)
        .await;

    // Strict anti-affinity: four VMs on four hosts, the fifth is refused with the reason.
    let mut hosts = Vec::new();
    for i in 0..4 {
        let j = deploy(&alice, &format!("w{i}"), &[("affinitygroupnames", "web")]).await;
        assert_eq!(j["jobstatus"], 1, "{j}");
        hosts.push(host_of(s(&j["jobresult"]["virtualmachine"]["id"])).await);
        let groups = &j["jobresult"]["virtualmachine"]["affinitygroup"];
        assert_eq!(groups[0]["name"], "web", "{j}");
    }
    let mut distinct = hosts.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 4, "{hosts:?}");
    let j = deploy(&alice, "w4", &[("affinitygroupnames", "web")]).await;
    assert_eq!(j["jobresultcode"], 533, "{j}");
    assert!(
        s(&j["jobresult"]["errortext"]).contains("strict affinity"),
        "{j}"
    );

    // Strict affinity: VMs follow the first.
    let db = group(&alice, "db", "host affinity").await;
    let mut db_hosts = Vec::new();
    let mut db_vms = Vec::new();
    for i in 0..3 {
        let j = deploy(&alice, &format!("d{i}"), &[("affinitygroupids", &db)]).await;
        assert_eq!(j["jobstatus"], 1, "{j}");
        let id = s(&j["jobresult"]["virtualmachine"]["id"]);
        db_hosts.push(host_of(id.clone()).await);
        db_vms.push(id);
    }
    assert!(db_hosts.iter().all(|h| *h == db_hosts[0]), "{db_hosts:?}");

    // Migration: a web VM may not go where another web VM runs; findHostsForMigration says so.
    let w0 = {
        let l = alice
            .ok(&[("command", "listVirtualMachines"), ("name", "w0")])
            .await;
        s(&l["virtualmachine"][0]["id"])
    };
    let found = c
        .ok(&[
            ("command", "findHostsForMigration"),
            ("virtualmachineid", &w0),
        ])
        .await;
    for h in found["host"].as_array().cloned().unwrap_or_default() {
        assert_eq!(
            h["suitableformigration"], false,
            "every other host runs a web VM: {h}"
        );
    }
    let text = c
        .err(
            &[
                ("command", "migrateVirtualMachine"),
                ("virtualmachineid", &w0),
                ("hostid", &hosts[1]),
            ],
            533,
        )
        .await;
    assert!(text.contains("anti-affinity group web"), "{text}");
    // A db VM may not leave its group's host while the others stay.
    let text = c
        .err(
            &[
                ("command", "migrateVirtualMachine"),
                ("virtualmachineid", &db_vms[0]),
                (
                    "hostid",
                    if db_hosts[0] == hosts[0] {
                        &hosts[1]
                    } else {
                        &hosts[0]
                    },
                ),
            ],
            533,
        )
        .await;
    assert!(text.contains("affinity group db"), "{text}");

    // updateVMAffinityGroup: only stopped VMs; then it moves groups.
    alice
        .err(
            &[
                ("command", "updateVMAffinityGroup"),
                ("id", &w0),
                ("affinitygroupids", &db),
            ],
            431,
        )
        .await;
    let j = alice
        .job(&[("command", "stopVirtualMachine"), ("id", &w0)])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let j = alice
        .job(&[
            ("command", "updateVMAffinityGroup"),
            ("id", &w0),
            ("affinitygroupnames", "db"),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    assert_eq!(
        j["jobresult"]["virtualmachine"]["affinitygroup"][0]["name"], "db",
        "{j}"
    );
    let j = alice
        .job(&[("command", "startVirtualMachine"), ("id", &w0)])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    assert_eq!(
        host_of(w0.clone()).await,
        db_hosts[0],
        "it joined the db host"
    );
    let l = alice
        .ok(&[("command", "listAffinityGroups"), ("virtualmachineid", &w0)])
        .await;
    assert_eq!(names(&l, "affinitygroup", "name"), ["db"]);
    let l = alice
        .ok(&[("command", "listVirtualMachines"), ("affinitygroupid", &db)])
        .await;
    assert_eq!(
        names(&l, "virtualmachine", "name"),
        ["d0", "d1", "d2", "w0"]
    );

    // A group with VMs cannot be deleted; an empty one can.
    let j = alice
        .job(&[("command", "deleteAffinityGroup"), ("id", &db)])
        .await;
    assert_eq!(j["jobresultcode"], 536, "{j}");
    let spare = group(&alice, "spare", "non-strict host anti-affinity").await;
    let j = alice
        .job(&[("command", "deleteAffinityGroup"), ("name", "spare")])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let l = alice
        .ok(&[("command", "listAffinityGroups"), ("id", &spare)])
        .await;
    assert_eq!(l["count"].as_u64().unwrap_or(0), 0, "{l}");

    // Non-strict: preferences, never refusals.
    let soft = group(&alice, "soft", "non-strict host affinity").await;
    let mut soft_hosts = Vec::new();
    for i in 0..3 {
        let j = deploy(&alice, &format!("s{i}"), &[("affinitygroupids", &soft)]).await;
        assert_eq!(j["jobstatus"], 1, "{j}");
        soft_hosts.push(host_of(s(&j["jobresult"]["virtualmachine"]["id"])).await);
    }
    assert!(
        soft_hosts.iter().all(|h| *h == soft_hosts[0]),
        "{soft_hosts:?}"
    );
    ts.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn dedicated_resources_are_kept_for_their_owner() {
    let ts = TestServer::start().await;
    let z = VmZone::new(&ts, 4).await;
    let c = &ts.admin;
    no_thresholds(c).await;
    let so = tiny_offering(c, "tiny-ded").await;
    let tenant = create_domain(c, "tenant", None).await;
    let (_, _, carol) = account_with_keys(&ts, c, "carol", Some(&tenant), "0").await;
    let (dave_acct, _, dave) = account_with_keys(&ts, c, "dave", None, "0").await;
    let h0 = z.hosts[0].0.clone();
    let deploy = |who: &Client, name: &str| {
        let (who, name) = (who.clone(), name.to_string());
        let (zone, tmpl, so) = (z.zone.clone(), z.template.clone(), so.clone());
        async move {
            let j = who
                .job(&[
                    ("command", "deployVirtualMachine"),
                    ("zoneid", &zone),
                    ("templateid", &tmpl),
                    ("serviceofferingid", &so),
                    ("name", &name),
                ])
                .await;
            assert_eq!(j["jobstatus"], 1, "{j}");
            s(&j["jobresult"]["virtualmachine"]["id"])
        }
    };
    let host_of = |id: String| async move { s(&vm_view(c, &id).await["hostid"]) };
    // Host 0 for the tenant domain.
    let j = c
        .job(&[
            ("command", "dedicateHost"),
            ("hostid", &h0),
            ("domainid", &tenant),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    assert_eq!(
        j["jobresult"]["dedicatedhost"]["hostid"],
        h0.as_str(),
        "{j}"
    );
    let l = c.ok(&[("command", "listDedicatedHosts")]).await;
    assert_eq!(l["count"], 1, "{l}");
    c.err(
        &[
            ("command", "dedicateHost"),
            ("hostid", &h0),
            ("domainid", &tenant),
        ],
        431,
    )
    .await;
    // Dave (ROOT) never lands there; Carol (tenant) lands there first.
    let mut dave_vms = Vec::new();
    for i in 0..4 {
        let id = deploy(&dave, &format!("dave{i}")).await;
        assert_ne!(
            host_of(id.clone()).await,
            h0,
            "dave's VM on the dedicated host"
        );
        dave_vms.push(id);
    }
    for i in 0..2 {
        let id = deploy(&carol, &format!("carol{i}")).await;
        assert_eq!(host_of(id).await, h0, "the owner's dedicated host first");
    }
    // Dave's VM cannot be migrated there; the host is not suitable for it.
    let found = c
        .ok(&[
            ("command", "findHostsForMigration"),
            ("virtualmachineid", &dave_vms[0]),
        ])
        .await;
    for h in found["host"].as_array().cloned().unwrap_or_default() {
        if h["id"] == h0.as_str() {
            assert_eq!(h["suitableformigration"], false, "{h}");
        }
    }
    let text = c
        .err(
            &[
                ("command", "migrateVirtualMachine"),
                ("virtualmachineid", &dave_vms[0]),
                ("hostid", &h0),
            ],
            533,
        )
        .await;
    assert!(text.contains("dedicated to another"), "{text}");
    // Conflicts: the cluster for Dave alone (host 0 is the tenant's); a host running Dave's VMs
    // for the tenant; the zone (Dave's VMs run there).
    let text = c
        .err(
            &[
                ("command", "dedicateCluster"),
                ("clusterid", &z.cluster),
                ("domainid", &tenant),
                ("account", "carol"),
            ],
            431,
        )
        .await;
    assert!(
        text.contains("a host in it is dedicated to another"),
        "{text}"
    );
    let dave_host = host_of(dave_vms[1].clone()).await;
    let text = c
        .err(
            &[
                ("command", "dedicateHost"),
                ("hostid", &dave_host),
                ("domainid", &tenant),
            ],
            431,
        )
        .await;
    assert!(text.contains("runs VMs of other accounts"), "{text}");
    let text = c
        .err(
            &[
                ("command", "dedicateZone"),
                ("zoneid", &z.zone),
                ("domainid", &tenant),
            ],
            431,
        )
        .await;
    assert!(text.contains("other accounts"), "{text}");
    // Users cannot dedicate.
    dave.err(
        &[
            ("command", "dedicateHost"),
            ("hostid", &dave_host),
            ("domainid", &tenant),
        ],
        401,
    )
    .await;
    let _ = dave_acct;
    // Released: Dave may use it again.
    let j = c
        .job(&[("command", "releaseDedicatedHost"), ("hostid", &h0)])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    c.err(&[("command", "releaseDedicatedHost"), ("hostid", &h0)], 431)
        .await;
    let l = c.ok(&[("command", "listDedicatedHosts")]).await;
    assert_eq!(l["count"].as_u64().unwrap_or(0), 0, "{l}");
    c.ok(&[
        ("command", "migrateVirtualMachine"),
        ("virtualmachineid", &dave_vms[0]),
        ("hostid", &h0),
    ])
    .await;
    ts.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn implicit_dedication_planner_keeps_hosts_per_account() {
    let ts = TestServer::start().await;
    let z = VmZone::new(&ts, 3).await;
    let c = &ts.admin;
    no_thresholds(c).await;
    let (_, _, erin) = account_with_keys(&ts, c, "erin", None, "0").await;
    let (_, _, fred) = account_with_keys(&ts, c, "fred", None, "0").await;
    let strict = s(&c
        .ok(&[
            ("command", "createServiceOffering"),
            ("name", "dedicated"),
            ("displaytext", "dedicated"),
            ("cpunumber", "1"),
            ("cpuspeed", "100"),
            ("memory", "64"),
            ("deploymentplanner", "ImplicitDedicationPlanner"),
        ])
        .await["serviceoffering"]["id"]);
    let plain = tiny_offering(c, "plain-implicit").await;
    c.err(
        &[
            ("command", "createServiceOffering"),
            ("name", "bad"),
            ("displaytext", "bad"),
            ("deploymentplanner", "NoSuchPlanner"),
        ],
        431,
    )
    .await;
    let deploy = |who: &Client, so: &str, name: &str| {
        let (who, so, name) = (who.clone(), so.to_string(), name.to_string());
        let (zone, tmpl) = (z.zone.clone(), z.template.clone());
        async move {
            who.job(&[
                ("command", "deployVirtualMachine"),
                ("zoneid", &zone),
                ("templateid", &tmpl),
                ("serviceofferingid", &so),
                ("name", &name),
            ])
            .await
        }
    };
    let host_of = |id: String| async move { s(&vm_view(c, &id).await["hostid"]) };
    // Erin's two strict VMs share one host; Fred's strict VM gets another empty host.
    let mut erin_hosts = Vec::new();
    for i in 0..2 {
        let j = deploy(&erin, &strict, &format!("e{i}")).await;
        assert_eq!(j["jobstatus"], 1, "{j}");
        erin_hosts.push(host_of(s(&j["jobresult"]["virtualmachine"]["id"])).await);
    }
    assert_eq!(
        erin_hosts[0], erin_hosts[1],
        "one host for the account's dedicated VMs"
    );
    let j = deploy(&fred, &strict, "f0").await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let fred_host = host_of(s(&j["jobresult"]["virtualmachine"]["id"])).await;
    assert_ne!(fred_host, erin_hosts[0]);
    // Ordinary VMs stay off both; with one host left they all go there.
    for i in 0..3 {
        let j = deploy(&fred, &plain, &format!("p{i}")).await;
        assert_eq!(j["jobstatus"], 1, "{j}");
        let h = host_of(s(&j["jobresult"]["virtualmachine"]["id"])).await;
        assert!(
            h != erin_hosts[0] && h != fred_host,
            "an ordinary VM on a dedicated host"
        );
    }
    // No empty or own host left for a third account: 533.
    let (_, _, gina) = account_with_keys(&ts, c, "gina", None, "0").await;
    let j = deploy(&gina, &strict, "g0").await;
    assert_eq!(j["jobresultcode"], 533, "{j}");
    // A root admin may name the planner on the deploy; a user may not.
    let text = erin
        .err(
            &[
                ("command", "deployVirtualMachine"),
                ("zoneid", &z.zone),
                ("templateid", &z.template),
                ("serviceofferingid", &plain),
                ("deploymentplanner", "UserDispersingPlanner"),
            ],
            531,
        )
        .await;
    assert!(text.contains("root admin"), "{text}");
    let j = c
        .job(&[
            ("command", "deployVirtualMachine"),
            ("zoneid", &z.zone),
            ("templateid", &z.template),
            ("serviceofferingid", &plain),
            ("deploymentplanner", "UserDispersingPlanner"),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    ts.stop().await;
}
