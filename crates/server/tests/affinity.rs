//! Affinity groups (issue 19): the four types as CloudStack has them — strict anti-affinity exact
//! under 100 concurrent deploys over 50 hosts (SQLite and PostgreSQL), strict affinity keeping a
//! group on one host, non-strict preferences, migration refusals, updateVMAffinityGroup, and
//! another tenant seeing and using nothing of a group.

mod common;

use common::*;

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
    let long = "w".repeat(300);
    for (name, kind) in [
        ("a\u{1}b", "host affinity"),
        (long.as_str(), "host affinity"),
        ("x", "höst affinity"),
    ] {
        alice
            .err(
                &[
                    ("command", "createAffinityGroup"),
                    ("name", name),
                    ("type", kind),
                ],
                431,
            )
            .await;
    }
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
