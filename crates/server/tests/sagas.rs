//! Sagas under failure: 200 concurrent deploys against hosts that fit exactly 100; a failure
//! injected at every step of every VM saga; the server "killed" at every step (before and
//! after the step's action) and restarted. After each, the database, the hosts and the
//! capacity accounting must agree.

mod common;

use std::collections::HashMap;

use common::*;
use serde_json::Value;
use server::saga::{Fault, FaultKind};

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

fn items<'a>(v: &'a Value, key: &str) -> Vec<&'a Value> {
    v[key]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

/// The database, the simulated hosts and placement's capacity view agree: every Running VM
/// runs on its host and nothing else runs; every Ready volume is stored and nothing else is;
/// no VM is left in a transitional state; hosts hold exactly their Running VMs' CPU.
async fn consistent(ts: &TestServer, z: &VmZone, why: &str) {
    let c = &ts.admin;
    let vms = c
        .ok(&[
            ("command", "listVirtualMachines"),
            ("listall", "true"),
            ("pagesize", "-1"),
        ])
        .await;
    let mut running: Vec<String> = Vec::new();
    let mut used: HashMap<String, u64> = HashMap::new();
    for vm in items(&vms, "virtualmachine") {
        let state = s(&vm["state"]);
        assert!(
            !["Starting", "Stopping", "Migrating", "Expunging"].contains(&state.as_str()),
            "{why}: VM left in {state}: {vm}"
        );
        if state == "Running" {
            running.push(s(&vm["instancename"]));
            *used.entry(s(&vm["hostid"])).or_default() +=
                vm["cpunumber"].as_u64().unwrap_or(0) * vm["cpuspeed"].as_u64().unwrap_or(0);
        } else {
            assert!(
                vm.get("hostid").is_none(),
                "{why}: a {state} VM holds a host: {vm}"
            );
        }
    }
    running.sort();
    assert_eq!(
        running,
        z.running(),
        "{why}: running VMs (database vs hosts)"
    );
    let vols = c
        .ok(&[
            ("command", "listVolumes"),
            ("listall", "true"),
            ("pagesize", "-1"),
        ])
        .await;
    let mut ready: Vec<String> = Vec::new();
    for v in items(&vols, "volume") {
        match v["state"].as_str() {
            Some("Ready") => ready.push(s(&v["id"])),
            Some("Allocated") => assert!(v.get("storageid").is_none(), "{why}: {v}"),
            _ => panic!("{why}: volume in an unexpected state: {v}"),
        }
    }
    ready.sort();
    assert_eq!(
        ready,
        z.stored_volumes(),
        "{why}: volumes (database vs hosts)"
    );
    // Every running VM has exactly its Ready volumes plugged in.
    for vm in items(&vms, "virtualmachine") {
        if vm["state"] != "Running" {
            continue;
        }
        let name = s(&vm["instancename"]);
        let mut plugged: Vec<String> = z
            .hosts
            .iter()
            .find_map(|(_, a)| {
                agent::simulator::sim_host(a)
                    .vms
                    .lock()
                    .ok()?
                    .get(&name)
                    .cloned()
            })
            .map(|spec| spec.disks.iter().map(|d| d.volume_id.to_string()).collect())
            .unwrap_or_default();
        plugged.sort();
        let mut want: Vec<String> = items(&vols, "volume")
            .into_iter()
            .filter(|v| v["virtualmachineid"] == vm["id"] && v["state"] == "Ready")
            .map(|v| s(&v["id"]))
            .collect();
        want.sort();
        assert_eq!(plugged, want, "{why}: disks of {name}");
    }
    let st = ts.server.as_ref().expect("running").state.clone();
    let snap = server::placing::snapshot(&st, z.zone.parse().expect("uuid"))
        .await
        .expect("snapshot");
    for h in &snap.hosts {
        let want = used.get(&h.id.to_string()).copied().unwrap_or(0);
        assert_eq!(h.used_cpu_mhz, want, "{why}: CPU held on host {}", h.id);
    }
}

async fn vm_state(c: &Client, id: &str) -> Option<String> {
    let r = c
        .ok(&[
            ("command", "listVirtualMachines"),
            ("listall", "true"),
            ("id", id),
        ])
        .await;
    r["virtualmachine"][0]["state"].as_str().map(str::to_string)
}

async fn deploy(c: &Client, z: &VmZone, start: bool) -> String {
    let j = c
        .job(&z.deploy(&[("startvm", if start { "true" } else { "false" })]))
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    s(&j["jobresult"]["virtualmachine"]["id"])
}

async fn concurrent_deploys(ts: &TestServer) {
    let z = VmZone::new(ts, 4).await;
    let c = &ts.admin;
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
    // 4 hosts × 4 × 8000 MHz: 25 VMs of 1 × 1280 MHz each, exactly (memory fits 25 × 320 MB).
    let so = c
        .ok(&[
            ("command", "createServiceOffering"),
            ("name", "q"),
            ("displaytext", "q"),
            ("cpunumber", "1"),
            ("cpuspeed", "1280"),
            ("memory", "320"),
        ])
        .await["serviceoffering"]["id"]
        .as_str()
        .expect("id")
        .to_string();
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
    assert_eq!((ok, full), (100, 100));
    // Every VM (the refused ones keep theirs until expunged) has its own address.
    let all = c
        .ok(&[
            ("command", "listVirtualMachines"),
            ("listall", "true"),
            ("pagesize", "-1"),
        ])
        .await;
    let mut ips: Vec<String> = items(&all, "virtualmachine")
        .iter()
        .map(|v| s(&v["nic"][0]["ipaddress"]))
        .collect();
    assert_eq!(ips.len(), 200);
    ips.sort();
    ips.dedup();
    assert_eq!(ips.len(), 200, "duplicate addresses");
    for (h, addr) in &z.hosts {
        let n = c
            .ok(&[
                ("command", "listVirtualMachines"),
                ("listall", "true"),
                ("hostid", h),
                ("state", "Running"),
            ])
            .await["count"]
            .as_u64()
            .unwrap_or(0);
        assert_eq!(n, 25, "host {h}");
        assert_eq!(agent::simulator::sim_host(addr).vm_names().len(), 25);
    }
    consistent(ts, &z, "after 200 concurrent deploys").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn concurrent_deploys_never_overcommit_sqlite() {
    let ts = TestServer::start().await;
    concurrent_deploys(&ts).await;
    ts.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn concurrent_deploys_never_overcommit_postgres() {
    let Some(pg) = testkit::Postgres::start_for_test() else {
        return;
    };
    let ts = TestServer::start_with(Some(pg.fresh_database().expect("db"))).await;
    concurrent_deploys(&ts).await;
    ts.stop().await;
}

/// (saga, steps, the operation, the precondition, the state when it fails, the state when it
/// completes). `None` = the VM is gone.
struct Case {
    saga: &'static str,
    steps: usize,
    op: &'static [(&'static str, &'static str)],
    /// Deploy running (true), stopped (false); "destroyed" VMs are deployed then destroyed.
    pre: &'static str,
    /// The parameter that names the VM.
    id_param: &'static str,
    failed: Option<&'static str>,
    done: Option<&'static str>,
    pivot: Option<usize>,
}

const CASES: &[Case] = &[
    Case {
        saga: "migrate",
        steps: 4,
        op: &[("command", "migrateVirtualMachine")],
        pre: "running",
        id_param: "virtualmachineid",
        failed: Some("Running"),
        done: Some("Running"),
        pivot: Some(2),
    },
    Case {
        saga: "start",
        steps: 4,
        op: &[("command", "startVirtualMachine")],
        pre: "stopped",
        id_param: "id",
        failed: Some("Stopped"),
        done: Some("Running"),
        pivot: None,
    },
    Case {
        saga: "stop",
        steps: 3,
        op: &[("command", "stopVirtualMachine")],
        pre: "running",
        id_param: "id",
        failed: Some("Running"),
        done: Some("Stopped"),
        pivot: Some(1),
    },
    Case {
        saga: "destroy",
        steps: 3,
        op: &[("command", "destroyVirtualMachine")],
        pre: "running",
        id_param: "id",
        failed: Some("Running"),
        done: Some("Destroyed"),
        pivot: Some(1),
    },
    Case {
        saga: "destroy-expunge",
        steps: 5,
        op: &[("command", "destroyVirtualMachine"), ("expunge", "true")],
        pre: "running",
        id_param: "id",
        failed: Some("Running"),
        done: None,
        pivot: Some(1),
    },
    Case {
        saga: "expunge",
        steps: 3,
        op: &[("command", "expungeVirtualMachine")],
        pre: "destroyed",
        id_param: "id",
        failed: Some("Destroyed"),
        done: None,
        pivot: Some(0),
    },
];

async fn prepare(c: &Client, z: &VmZone, pre: &str) -> String {
    let id = deploy(c, z, pre != "stopped").await;
    if pre == "destroyed" {
        let j = c
            .job(&[("command", "destroyVirtualMachine"), ("id", &id)])
            .await;
        assert_eq!(j["jobstatus"], 1, "{j}");
    }
    id
}

async fn submit(c: &Client, op: &[(&str, &str)], param: &str, id: &str) -> String {
    let mut p = op.to_vec();
    p.push((param, id));
    let r = c.ok(&p).await;
    s(&r["jobid"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failure_at_every_step_unwinds_or_completes() {
    let ts = TestServer::start().await;
    let z = VmZone::new(&ts, 2).await;
    let c = ts.admin.clone();
    let faults = &ts.server.as_ref().expect("running").state.faults;
    // A fresh deploy that fails at any step leaves an Error VM and nothing anywhere.
    for step in 0..4 {
        faults.add(Fault {
            saga: "start".into(),
            step,
            kind: FaultKind::Fail,
        });
        let r = c.ok(&z.deploy(&[])).await;
        let j = c.wait_job(&s(&r["jobid"])).await;
        assert_eq!(j["jobstatus"], 2, "deploy, step {step}: {j}");
        assert!(
            s(&j["jobresult"]["errortext"]).contains("Internal error"),
            "{j}"
        );
        assert_eq!(vm_state(&c, &s(&r["id"])).await.as_deref(), Some("Error"));
        consistent(&ts, &z, &format!("deploy failed at step {step}")).await;
    }
    for case in CASES {
        for step in 0..case.steps {
            let id = prepare(&c, &z, case.pre).await;
            faults.add(Fault {
                saga: case.saga.into(),
                step,
                kind: FaultKind::Fail,
            });
            let j = c
                .wait_job(&submit(&c, case.op, case.id_param, &id).await)
                .await;
            let why = format!("{} failing at step {step}", case.saga);
            // Past the pivot the step is retried and the operation completes.
            let past = case.pivot.map(|p| step > p).unwrap_or(false);
            let want = if past { case.done } else { case.failed };
            assert_eq!(j["jobstatus"], if past { 1 } else { 2 }, "{why}: {j}");
            assert_eq!(vm_state(&c, &id).await.as_deref(), want, "{why}");
            consistent(&ts, &z, &why).await;
        }
    }
    // Volumes: attach to a running VM (record → create → plug), detach (unplug → record).
    let vm = deploy(&c, &z, true).await;
    for step in 0..3 {
        let vol = data_volume(&c, &z).await;
        faults.add(Fault {
            saga: "attach".into(),
            step,
            kind: FaultKind::Fail,
        });
        let j = c
            .job(&[
                ("command", "attachVolume"),
                ("id", &vol),
                ("virtualmachineid", &vm),
            ])
            .await;
        assert_eq!(j["jobstatus"], 2, "attach failing at step {step}: {j}");
        consistent(&ts, &z, &format!("attach failing at step {step}")).await;
        let j = c
            .job(&[
                ("command", "attachVolume"),
                ("id", &vol),
                ("virtualmachineid", &vm),
            ])
            .await;
        assert_eq!(j["jobstatus"], 1, "{j}");
    }
    for step in 0..2 {
        let vol = data_volume(&c, &z).await;
        c.job(&[
            ("command", "attachVolume"),
            ("id", &vol),
            ("virtualmachineid", &vm),
        ])
        .await;
        faults.add(Fault {
            saga: "detach".into(),
            step,
            kind: FaultKind::Fail,
        });
        let j = c.job(&[("command", "detachVolume"), ("id", &vol)]).await;
        // The unplug is the point of no return: a failure after it is retried.
        assert_eq!(
            j["jobstatus"],
            if step == 0 { 2 } else { 1 },
            "detach failing at step {step}: {j}"
        );
        consistent(&ts, &z, &format!("detach failing at step {step}")).await;
    }
    assert_eq!(
        faults.failures(),
        4 + 5 + CASES.iter().map(|c| c.steps as u64).sum::<u64>()
    );
    ts.stop().await;
}

async fn data_volume(c: &Client, z: &VmZone) -> String {
    let d = c
        .ok(&[("command", "listDiskOfferings"), ("name", "saga-data")])
        .await;
    let offering = match d["diskoffering"][0]["id"].as_str() {
        Some(id) => id.to_string(),
        None => s(&c
            .ok(&[
                ("command", "createDiskOffering"),
                ("name", "saga-data"),
                ("displaytext", "1 GB"),
                ("disksize", "1"),
            ])
            .await["diskoffering"]["id"]),
    };
    let j = c
        .job(&[
            ("command", "createVolume"),
            ("zoneid", &z.zone),
            ("diskofferingid", &offering),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    s(&j["jobresult"]["volume"]["id"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_crash_at_every_step_is_recovered_after_restart() {
    let mut ts = TestServer::start().await;
    let z = VmZone::new(&ts, 2).await;
    let mut runs = 0;
    for case in CASES
        .iter()
        .map(|c| (c.saga, c.steps, c.op, c.id_param, c.pre, c.done))
        .chain([("start", 4, &[][..], "id", "deploy", Some("Running"))])
    {
        let (saga, steps, op, id_param, pre, done) = case;
        for step in 0..steps {
            for kind in [FaultKind::CrashBefore, FaultKind::CrashAfter] {
                let c = ts.admin.clone();
                let (id, job) = if pre == "deploy" {
                    let r = {
                        let faults = &ts.server.as_ref().expect("running").state.faults;
                        faults.add(Fault {
                            saga: saga.into(),
                            step,
                            kind,
                        });
                        c.ok(&z.deploy(&[])).await
                    };
                    (s(&r["id"]), s(&r["jobid"]))
                } else {
                    let id = prepare(&c, &z, pre).await;
                    ts.server
                        .as_ref()
                        .expect("running")
                        .state
                        .faults
                        .add(Fault {
                            saga: saga.into(),
                            step,
                            kind,
                        });
                    let job = submit(&c, op, id_param, &id).await;
                    (id, job)
                };
                wait_crash(&ts, 0).await;
                ts = ts.restart().await;
                runs += 1;
                let c = ts.admin.clone();
                let why = format!("{saga} killed {kind:?} step {step}");
                let j = c.wait_job(&job).await;
                assert_eq!(j["jobstatus"], 1, "{why}: {j}");
                assert_eq!(vm_state(&c, &id).await.as_deref(), done, "{why}");
                consistent(&ts, &z, &why).await;
            }
        }
    }
    assert_eq!(runs, 2 * (4 + CASES.iter().map(|c| c.steps).sum::<usize>()));
    ts.stop().await;
}

/// A run that outlived its hold on the job (its server paused past the lease, the job taken
/// over meanwhile) cannot move the saga on when it wakes: the saga stays where it was, the job
/// is not completed by it, and the run that took over finishes the deploy once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_superseded_run_cannot_move_its_saga_on() {
    let ts = TestServer::start().await;
    let z = VmZone::new(&ts, 2).await;
    let c = ts.admin.clone();
    let st = ts.server.as_ref().expect("running").state.clone();
    st.faults.add(Fault {
        saga: "start".into(),
        step: 1,
        kind: FaultKind::Hold,
    });
    let r = c.ok(&z.deploy(&[])).await;
    let (job, vm) = (s(&r["jobid"]), s(&r["id"]));
    let job_id: model::JobId = job.parse().expect("job id");
    for _ in 0..200 {
        if st.faults.held() > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(st.faults.held(), 1, "the deploy's saga reached the hold");
    // The job is taken over meanwhile (here by its own server: its recovery after the lease
    // ran out); nobody runs the new generation yet.
    let seen = {
        let mut c = st.store.read().await.expect("read");
        db::job_get(&mut c, job_id).await.expect("q").expect("job")
    };
    assert_eq!(seen.generation, 1);
    // The new generation's lease lasts past this test's wait, so the background recovery
    // (every 6 s) does not resume it meanwhile; it is run out below before the recovery that
    // should resume it.
    let mut tx = st.store.begin().await.expect("begin");
    let until = api::time::now_ms() + 120_000;
    assert!(
        db::job_take_over(&mut tx, &seen, st.server_id, until, "superseded")
            .await
            .expect("take")
    );
    tx.commit().await.expect("commit");
    st.faults.release();
    // The superseded run wakes, runs its step, and is refused at its save.
    let mut saga = None;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let mut c = st.store.read().await.expect("read");
        saga = db::saga_get(&mut c, job_id).await.expect("q");
    }
    let saga = saga.expect("saga row");
    assert_eq!(
        (saga.step, saga.phase),
        (1, model::SagaPhase::Forward),
        "the saga did not move on"
    );
    let j = c
        .ok(&[("command", "queryAsyncJobResult"), ("jobid", &job)])
        .await;
    assert_eq!(
        j["jobstatus"], 0,
        "not completed by the superseded run: {j}"
    );
    assert_eq!(vm_state(&c, &vm).await.as_deref(), Some("Starting"));
    // Its lease is run out: the next recovery resumes it as generation 3, which completes.
    let mut resumed = 0;
    for _ in 0..20 {
        // (The lease-renewal task may have renewed it since: run it out again.)
        let mut c = st.store.begin().await.expect("begin");
        sqlx::query(&format!(
            "UPDATE jobs SET lease_until = 0 WHERE id = '{job_id}'"
        ))
        .execute(&mut *c)
        .await
        .expect("expire");
        c.commit().await.expect("commit");
        resumed = server::jobs::recover(&st, false).await.expect("recover");
        if resumed > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(resumed, 1);
    let j = c.wait_job(&job).await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    assert_eq!(vm_state(&c, &vm).await.as_deref(), Some("Running"));
    let mut conn = st.store.read().await.expect("read");
    let done = db::job_get(&mut conn, job_id)
        .await
        .expect("q")
        .expect("job");
    assert_eq!(done.generation, 3);
    drop(conn);
    consistent(&ts, &z, "after a superseded run").await;
    ts.stop().await;
}
