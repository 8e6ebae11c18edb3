//! Scheduling (issue 19): VM slots as a schedulable resource — the cluster's and a host's own
//! count, shown in listHosts and listCapacity, exact under 200 concurrent deploys on SQLite and
//! PostgreSQL — and admission policies for a runtime class: a matching deploy lands with no
//! CPU or memory reserved (the originals in its details, an event), a protected domain's is
//! left alone, another class is untouched, a refusing policy answers 431 with its name, and
//! a policy's host tags steer placement.

mod common;

use common::*;
use serde_json::Value;

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
    let huge = "k".repeat(5000);
    for (name, class) in [
        ("bad name", "x"),
        ("ok", "kätä"),
        ("ok", "a\u{7}b"),
        ("ok", huge.as_str()),
        ("ok", "-x;rm"),
    ] {
        c.err(
            &[
                ("command", "createAdmissionPolicy"),
                ("name", name),
                ("runtimeclass", class),
            ],
            431,
        )
        .await;
    }
    // A boolean that is not "true" is false, as CloudStack's Boolean.parseBoolean reads it.
    let y = c
        .ok(&[
            ("command", "createAdmissionPolicy"),
            ("name", "y"),
            ("runtimeclass", "y"),
            ("dropcpu", "maybe"),
        ])
        .await["admissionpolicy"]
        .clone();
    assert_eq!(y["dropcpu"], false, "{y}");
    c.ok(&[
        ("command", "deleteAdmissionPolicy"),
        ("id", y["id"].as_str().unwrap_or_default()),
    ])
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
