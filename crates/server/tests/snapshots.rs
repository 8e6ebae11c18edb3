//! Volume snapshots, snapshot policies and templates from snapshots and volumes through the
//! API on simulated hosts: the lifecycle, another tenant's view, limits, hostile input, the
//! snapshot saga failing and killed at every step, and a policy keeping exactly `maxsnaps`
//! with two servers claiming it (SQLite and PostgreSQL). The real disks are the real-hosts
//! test's (`tests/e2e/real_hosts.py`).

mod common;

use std::time::Duration;

use common::*;
use domain::saga::{Fault, FaultKind};

async fn root_volume(c: &Client, vm: &str) -> String {
    s(&c.ok(&[
        ("command", "listVolumes"),
        ("virtualmachineid", vm),
        ("type", "ROOT"),
        ("listall", "true"),
    ])
    .await["volume"][0]["id"])
}

/// Snapshot copies still on the zone's simulated hosts' primary storage.
fn copies(z: &VmZone) -> usize {
    z.hosts
        .iter()
        .map(|(_, a)| {
            agent::simulator::sim_host(a)
                .snapshots
                .lock()
                .map(|m| m.len())
                .unwrap_or(0)
        })
        .sum()
}

async fn snapshot_state(c: &Client, id: &str) -> String {
    s(&c.ok(&[
        ("command", "listSnapshots"),
        ("id", id),
        ("listall", "true"),
    ])
    .await["snapshot"][0]["state"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn snapshots_volumes_and_templates_from_them() {
    let ts = TestServer::start().await;
    let z = VmZone::new(&ts, 1).await;
    let c = &ts.admin;
    let vm = s(&deploy_vm(c, &z, "snap1", &[]).await["id"]);
    let root = root_volume(c, &vm).await;
    // A snapshot of the running VM's root volume.
    let j = c
        .job(&[
            ("command", "createSnapshot"),
            ("volumeid", &root),
            ("name", "first"),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let snap = &j["jobresult"]["snapshot"];
    assert_eq!(snap["state"], "BackedUp", "{j}");
    assert_eq!(snap["name"], "first");
    assert_eq!(snap["snapshottype"], "MANUAL");
    assert_eq!(snap["volumeid"], root.as_str());
    assert_eq!(snap["volumetype"], "ROOT");
    assert!(snap["physicalsize"].as_i64().unwrap_or(0) > 0, "{snap}");
    assert_eq!(snap["revertable"], true);
    let sid = s(&snap["id"]);
    assert_eq!(copies(&z), 0, "the primary copy goes once backed up");
    // A default name: <VM>_<volume>_<timestamp>.
    let j = c
        .job(&[("command", "createSnapshot"), ("volumeid", &root)])
        .await;
    let n = s(&j["jobresult"]["snapshot"]["name"]);
    assert!(n.starts_with("snap1_ROOT-"), "{n}");
    let second = s(&j["jobresult"]["snapshot"]["id"]);
    let l = c
        .ok(&[("command", "listSnapshots"), ("volumeid", &root)])
        .await;
    assert_eq!(l["count"], 2, "{l}");
    // A volume made from it: the snapshot's size, created when attached.
    let j = c
        .job(&[
            ("command", "createVolume"),
            ("snapshotid", &sid),
            ("name", "fromsnap"),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let vol = s(&j["jobresult"]["volume"]["id"]);
    assert_eq!(j["jobresult"]["volume"]["size"], snap["virtualsize"]);
    let j = c
        .job(&[
            ("command", "attachVolume"),
            ("id", &vol),
            ("virtualmachineid", &vm),
        ])
        .await;
    assert_eq!(j["jobresult"]["volume"]["state"], "Ready", "{j}");
    // A snapshot of another zone's volume cannot be named: the volume lands in its zone.
    let e = c
        .err(
            &[
                ("command", "createVolume"),
                ("snapshotid", &sid),
                ("zoneid", &uuid::Uuid::new_v4().to_string()),
            ],
            431,
        )
        .await;
    assert!(e.contains("zone"), "{e}");
    // Revert: refused while the VM runs, done once it is stopped.
    let e = c
        .err(&[("command", "revertSnapshot"), ("id", &sid)], 431)
        .await;
    assert!(e.contains("stop it"), "{e}");
    let j = c
        .job(&[("command", "stopVirtualMachine"), ("id", &vm)])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let j = c.job(&[("command", "revertSnapshot"), ("id", &sid)]).await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    assert_eq!(j["jobresult"]["snapshot"]["id"], sid.as_str());
    // Download links: the stopped VM's root volume, the template.
    let j = c
        .job(&[
            ("command", "extractVolume"),
            ("id", &root),
            ("mode", "HTTP_DOWNLOAD"),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let e = &j["jobresult"]["volume"];
    assert_eq!(e["state"], "DOWNLOAD_URL_CREATED", "{j}");
    assert_eq!(e["id"], root.as_str());
    let url = s(&e["url"]);
    assert!(url.contains("/client/extract/"), "{url}");
    let got = reqwest::get(&url).await.expect("download");
    assert_eq!(got.status(), 200);
    assert!(got.bytes().await.expect("body").starts_with(b"QFI\xfb"));
    let j = c
        .job(&[("command", "extractTemplate"), ("id", &z.template)])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let turl = s(&j["jobresult"]["template"]["url"]);
    let got = reqwest::get(&turl).await.expect("download");
    assert_eq!(got.status(), 200);
    assert_eq!(
        got.bytes().await.expect("body").len(),
        64 * 1024,
        "the template's file"
    );
    c.err(
        &[
            ("command", "extractVolume"),
            ("id", &root),
            ("mode", "FTP_UPLOAD"),
        ],
        431,
    )
    .await;
    let wrong = url.replace("/client/extract/", "/client/extract/0");
    assert_eq!(reqwest::get(&wrong).await.expect("get").status(), 404);
    // Expired links go with the purge.
    {
        let st = ts.server.as_ref().expect("running").state.clone();
        let mut tx = st.store.begin().await.expect("db");
        let gone = db::extract_take_expired(&mut tx, i64::MAX)
            .await
            .expect("purge");
        tx.commit().await.expect("commit");
        assert_eq!(gone.len(), 2);
    }
    assert_eq!(reqwest::get(&url).await.expect("get").status(), 404);
    // Templates: from the snapshot, and from the stopped VM's root volume.
    let os = s(&c.ok(&[("command", "listOsTypes")]).await["ostype"][0]["id"]);
    let j = c
        .job(&[
            ("command", "createTemplate"),
            ("snapshotid", &sid),
            ("name", "from-snap"),
            ("ostypeid", &os),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let t1 = &j["jobresult"]["template"];
    assert_eq!(t1["isready"], true, "{j}");
    assert_eq!(t1["templatetype"], "USER");
    let t1 = s(&t1["id"]);
    let j = c
        .job(&[
            ("command", "createTemplate"),
            ("volumeid", &root),
            ("name", "from-volume"),
            ("ostypeid", &os),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    assert_eq!(j["jobresult"]["template"]["isready"], true, "{j}");
    // Deploying from it works.
    let j = c
        .job(&[
            ("command", "deployVirtualMachine"),
            ("zoneid", &z.zone),
            ("templateid", &t1),
            ("serviceofferingid", &z.offering),
            ("name", "fromtemplate"),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    assert_eq!(j["jobresult"]["virtualmachine"]["state"], "Running");
    // The VM must be stopped for a template of its volume.
    let running = s(&j["jobresult"]["virtualmachine"]["id"]);
    let e = c
        .err(
            &[
                ("command", "createTemplate"),
                ("virtualmachineid", &running),
                ("name", "nope"),
                ("ostypeid", &os),
            ],
            431,
        )
        .await;
    assert!(e.contains("Stopped"), "{e}");
    // Delete: gone from the list; a second delete names nothing.
    let j = c
        .job(&[("command", "deleteSnapshot"), ("id", &second)])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let l = c
        .ok(&[("command", "listSnapshots"), ("volumeid", &root)])
        .await;
    assert_eq!(l["count"], 1, "{l}");
    c.err(&[("command", "deleteSnapshot"), ("id", &second)], 431)
        .await;
    // Another tenant sees nothing of it and can do nothing with it.
    let (_, _, other) = account_with_keys(&ts, c, "snapper", None, "0").await;
    let l = other
        .ok(&[("command", "listSnapshots"), ("listall", "true")])
        .await;
    assert_eq!(l["count"].as_u64().unwrap_or(0), 0, "{l}");
    for p in [
        vec![("command", "deleteSnapshot"), ("id", sid.as_str())],
        vec![("command", "revertSnapshot"), ("id", sid.as_str())],
        vec![("command", "createVolume"), ("snapshotid", sid.as_str())],
        vec![
            ("command", "createTemplate"),
            ("snapshotid", sid.as_str()),
            ("name", "theirs"),
            ("ostypeid", os.as_str()),
        ],
        vec![("command", "createSnapshot"), ("volumeid", root.as_str())],
        vec![("command", "extractVolume"), ("id", root.as_str())],
        vec![
            ("command", "createSnapshotPolicy"),
            ("volumeid", root.as_str()),
            ("intervaltype", "HOURLY"),
            ("schedule", "5"),
            ("timezone", "UTC"),
            ("maxsnaps", "2"),
        ],
    ] {
        let r = other.call(&p).await;
        assert!(
            [431, 531].contains(&r.status),
            "{p:?}: {} {}",
            r.status,
            r.text
        );
    }
    ts.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn snapshot_limits_and_hostile_input() {
    let ts = TestServer::start().await;
    let z = VmZone::new(&ts, 1).await;
    let c = &ts.admin;
    let vm = s(&deploy_vm(c, &z, "lim", &[]).await["id"]);
    let root = root_volume(c, &vm).await;
    // The account may keep one snapshot.
    let (_, _, user) = account_with_keys(&ts, c, "limited", None, "0").await;
    let l = user.ok(&[("command", "listAccounts")]).await;
    let (name, domain) = (s(&l["account"][0]["name"]), s(&l["account"][0]["domainid"]));
    c.ok(&[
        ("command", "updateResourceLimit"),
        ("account", &name),
        ("domainid", &domain),
        ("resourcetype", "3"),
        ("max", "1"),
    ])
    .await;
    let j = user
        .job(&[
            ("command", "deployVirtualMachine"),
            ("zoneid", &z.zone),
            ("templateid", &z.template),
            ("serviceofferingid", &z.offering),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let theirs = root_volume(&user, &s(&j["jobresult"]["virtualmachine"]["id"])).await;
    let j = user
        .job(&[("command", "createSnapshot"), ("volumeid", &theirs)])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let e = user
        .err(&[("command", "createSnapshot"), ("volumeid", &theirs)], 535)
        .await;
    assert!(e.contains("snapshot"), "{e}");
    // Hostile policies.
    for (it, sched, tz, max) in [
        ("HOURLY", "60", "UTC", "2"),
        ("HOURLY", "5", "Mars/Olympus", "2"),
        ("HOURLY", "5", "UTC", "0"),
        ("HOURLY", "5", "UTC", "100"),
        ("DAILY", "5", "UTC", "2"),
        ("WEEKLY", "0:0:9", "UTC", "2"),
        ("MONTHLY", "0:0:31", "UTC", "2"),
        ("YEARLY", "0", "UTC", "2"),
        ("HOURLY", "\u{e9}", "UTC", "2"),
        ("HOURLY", "5", "+99:99", "2"),
        ("HOURLY", "5", &"x".repeat(5000), "2"),
    ] {
        let r = c
            .call(&[
                ("command", "createSnapshotPolicy"),
                ("volumeid", &root),
                ("intervaltype", it),
                ("schedule", sched),
                ("timezone", tz),
                ("maxsnaps", max),
            ])
            .await;
        assert_eq!(r.status, 431, "{it} {sched} {tz} {max}: {}", r.text);
    }
    // A policy is one per interval: a second HOURLY one replaces the first.
    let p1 = c
        .ok(&[
            ("command", "createSnapshotPolicy"),
            ("volumeid", &root),
            ("intervaltype", "HOURLY"),
            ("schedule", "5"),
            ("timezone", "UTC"),
            ("maxsnaps", "2"),
        ])
        .await;
    assert_eq!(p1["snapshotpolicy"]["intervaltype"], 0, "{p1}");
    let p2 = c
        .ok(&[
            ("command", "createSnapshotPolicy"),
            ("volumeid", &root),
            ("intervaltype", "hourly"),
            ("schedule", "7"),
            ("timezone", "+05:30"),
            ("maxsnaps", "3"),
        ])
        .await;
    assert_eq!(p2["snapshotpolicy"]["id"], p1["snapshotpolicy"]["id"]);
    let l = c
        .ok(&[("command", "listSnapshotPolicies"), ("volumeid", &root)])
        .await;
    assert_eq!(l["count"], 1, "{l}");
    assert_eq!(l["snapshotpolicy"][0]["schedule"], "7");
    assert_eq!(l["snapshotpolicy"][0]["maxsnaps"], 3);
    let pid = s(&l["snapshotpolicy"][0]["id"]);
    let j = c
        .job(&[
            ("command", "updateSnapshotPolicy"),
            ("id", &pid),
            ("maxsnaps", "1"),
            ("fordisplay", "false"),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    assert_eq!(j["jobresult"]["snapshotpolicy"]["maxsnaps"], 1);
    assert_eq!(j["jobresult"]["snapshotpolicy"]["fordisplay"], false);
    c.ok(&[("command", "deleteSnapshotPolicies"), ("id", &pid)])
        .await;
    let l = c
        .ok(&[("command", "listSnapshotPolicies"), ("volumeid", &root)])
        .await;
    assert_eq!(l["count"].as_u64().unwrap_or(0), 0, "{l}");
    c.err(&[("command", "deleteSnapshotPolicies")], 431).await;
    // listCapacity counts snapshots as secondary storage used: a 50 GB data volume's (its
    // store's file system is shared with the machine, so with some slack).
    let disk = s(&c
        .ok(&[
            ("command", "createDiskOffering"),
            ("name", "big"),
            ("displaytext", "big"),
            ("customized", "true"),
        ])
        .await["diskoffering"]["id"]);
    let big = s(&c
        .job(&[
            ("command", "createVolume"),
            ("zoneid", &z.zone),
            ("diskofferingid", &disk),
            ("size", "50"),
            ("virtualmachineid", &vm),
        ])
        .await["jobresult"]["volume"]["id"]);
    let secondary = || async {
        c.ok(&[
            ("command", "listCapacity"),
            ("zoneid", &z.zone),
            ("type", "6"),
        ])
        .await["capacity"][0]["capacityused"]
            .as_u64()
            .unwrap_or(0)
    };
    let before = secondary().await;
    let j = c
        .job(&[("command", "createSnapshot"), ("volumeid", &big)])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let size = j["jobresult"]["snapshot"]["physicalsize"]
        .as_u64()
        .unwrap_or(0);
    let after = secondary().await;
    assert!(
        size == 50 << 30 && after + (2 << 30) >= before + size,
        "{before} + {size} -> {after}"
    );
    ts.stop().await;
}

/// The snapshot saga failing at each step: before the backup it unwinds (the snapshot ends
/// Error, no copy is left on the host); past it, it completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_snapshot_step_unwinds_or_completes() {
    let ts = TestServer::start().await;
    let z = VmZone::new(&ts, 1).await;
    let c = ts.admin.clone();
    let vm = s(&deploy_vm(&c, &z, "fail", &[]).await["id"]);
    let root = root_volume(&c, &vm).await;
    let faults = &ts.server.as_ref().expect("running").state.faults;
    for step in 0..4 {
        faults.add(Fault {
            saga: "snapshot".into(),
            step,
            kind: FaultKind::Fail,
        });
        let r = c
            .ok(&[("command", "createSnapshot"), ("volumeid", &root)])
            .await;
        let j = c.wait_job(&s(&r["jobid"])).await;
        let id = s(&r["id"]);
        if step < 3 {
            assert_eq!(j["jobstatus"], 2, "step {step}: {j}");
            assert_eq!(snapshot_state(&c, &id).await, "Error", "step {step}");
            // An Error snapshot can be deleted.
            let d = c.job(&[("command", "deleteSnapshot"), ("id", &id)]).await;
            assert_eq!(d["jobstatus"], 1, "{d}");
        } else {
            assert_eq!(j["jobstatus"], 1, "step {step}: {j}");
            assert_eq!(snapshot_state(&c, &id).await, "BackedUp", "step {step}");
        }
        assert_eq!(copies(&z), 0, "step {step}: a copy was left on the host");
    }
    ts.stop().await;
}

/// The server killed before and after each step of the snapshot saga: after a restart the
/// job completes, the snapshot is BackedUp, and no copy is left on the host.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_snapshot_is_finished_after_restart() {
    let mut ts = TestServer::start().await;
    let z = VmZone::new(&ts, 1).await;
    let vm = s(&deploy_vm(&ts.admin, &z, "kill", &[]).await["id"]);
    let root = root_volume(&ts.admin, &vm).await;
    for step in 0..4 {
        for kind in [FaultKind::CrashBefore, FaultKind::CrashAfter] {
            let c = ts.admin.clone();
            ts.server
                .as_ref()
                .expect("running")
                .state
                .faults
                .add(Fault {
                    saga: "snapshot".into(),
                    step,
                    kind,
                });
            let r = c
                .ok(&[("command", "createSnapshot"), ("volumeid", &root)])
                .await;
            wait_crash(&ts, 0).await;
            ts = ts.restart().await;
            let c = ts.admin.clone();
            let why = format!("killed {kind:?} step {step}");
            let j = c.wait_job(&s(&r["jobid"])).await;
            assert_eq!(j["jobstatus"], 1, "{why}: {j}");
            assert_eq!(snapshot_state(&c, &s(&r["id"])).await, "BackedUp", "{why}");
            assert_eq!(copies(&z), 0, "{why}: a copy was left on the host");
        }
    }
    ts.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_policy_keeps_exactly_maxsnaps() {
    policy_keeps_maxsnaps(TestServer::start().await, false).await;
}

/// Two servers on one PostgreSQL database run the policy task: each due snapshot is taken
/// once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_policy_keeps_exactly_maxsnaps_with_two_servers() {
    let Some(pg) = testkit::Postgres::start_for_test() else {
        return;
    };
    let ts = TestServer::start_with(Some(pg.fresh_database().expect("db"))).await;
    policy_keeps_maxsnaps(ts, true).await;
}

async fn policy_keeps_maxsnaps(ts: TestServer, two: bool) {
    let z = VmZone::new(&ts, 1).await;
    let c = ts.admin.clone();
    c.ok(&[
        ("command", "updateConfiguration"),
        ("name", "snapshot.poll.interval"),
        ("value", "1"),
    ])
    .await;
    let other = if two { Some(ts.join().await) } else { None };
    let vm = s(&deploy_vm(&c, &z, "policy", &[]).await["id"]);
    let root = root_volume(&c, &vm).await;
    let p = c
        .ok(&[
            ("command", "createSnapshotPolicy"),
            ("volumeid", &root),
            ("intervaltype", "HOURLY"),
            ("schedule", "0"),
            ("timezone", "UTC"),
            ("maxsnaps", "2"),
        ])
        .await;
    let pid: model::SnapshotPolicyId = s(&p["snapshotpolicy"]["id"]).parse().expect("id");
    let st = ts.server.as_ref().expect("running").state.clone();
    // Four rounds: the policy is made due (as the clock would every hour), the servers take
    // one snapshot, and the oldest beyond maxsnaps go.
    let mut seen = std::collections::BTreeSet::new();
    for round in 1..=4u64 {
        let row = {
            let mut conn = st.store.read().await.expect("db");
            db::snapshot_policy_list(&mut conn, None, &[pid], None)
                .await
                .expect("policy")
                .remove(0)
        };
        {
            let mut tx = st.store.begin().await.expect("db");
            assert!(db::snapshot_policy_claim(&mut tx, pid, row.next_run, 0)
                .await
                .expect("due"));
            tx.commit().await.expect("commit");
        }
        let mut taken = 0;
        for _ in 0..200 {
            let l = c
                .ok(&[
                    ("command", "listSnapshots"),
                    ("volumeid", &root),
                    ("snapshottype", "RECURRING"),
                ])
                .await;
            for x in l["snapshot"].as_array().cloned().unwrap_or_default() {
                seen.insert(s(&x["id"]));
            }
            let states: Vec<String> = l["snapshot"]
                .as_array()
                .map(|a| a.iter().map(|x| s(&x["state"])).collect())
                .unwrap_or_default();
            taken = seen.len() as u64;
            if taken >= round && states.iter().all(|x| x == "BackedUp") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(taken, round, "round {round}: one snapshot per due run");
    }
    // Settle, then exactly maxsnaps remain, the newest ones.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let l = c
        .ok(&[
            ("command", "listSnapshots"),
            ("volumeid", &root),
            ("snapshottype", "RECURRING"),
        ])
        .await;
    assert_eq!(l["count"], 2, "{l}");
    for x in l["snapshot"].as_array().cloned().unwrap_or_default() {
        assert_eq!(x["intervaltype"], "HOURLY");
        assert_eq!(x["state"], "BackedUp");
    }
    assert_eq!(seen.len(), 4, "no due run was taken twice");
    let next = c
        .ok(&[("command", "listSnapshotPolicies"), ("volumeid", &root)])
        .await;
    assert!(
        !s(&next["snapshotpolicy"][0]["nextrun"]).is_empty(),
        "{next}"
    );
    if let Some(o) = other {
        o.stop().await;
    }
    ts.stop().await;
}
