//! A job's outcome follows its saga's: a destroy-with-expunge job whose server dies after each
//! of its five steps in turn (five restarts in a row — more than the restart limit) still
//! completes, because every restart found the saga further along; its saga row ends `done`.
//! A job that dies at the same point again and again is given up after the limit, with a text
//! that says so, and its saga is unwound (it was before its point of no return). Faults are armed through `CANOPY_FAULT_SAGA` before each restart, so this
//! binary holds only this test.

mod common;

use std::time::Duration;

use common::*;
use server::saga::{Fault, FaultKind};

/// The phase of the saga of `job`, as stored.
async fn saga_phase(ts: &TestServer, job: &str) -> Option<String> {
    let st = ts.server.as_ref().expect("running").state.clone();
    let mut conn = st.store.read().await.expect("read");
    db::saga_get(&mut conn, job.parse().expect("job id"))
        .await
        .expect("saga")
        .map(|s| s.phase.to_string())
}

/// Submits destroyVirtualMachine with expunge for `id`; the job id.
async fn destroy_expunge(c: &Client, id: &str) -> String {
    c.ok(&[
        ("command", "destroyVirtualMachine"),
        ("id", id),
        ("expunge", "true"),
    ])
    .await["jobid"]
        .as_str()
        .expect("jobid")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_job_that_progresses_across_many_crashes_completes() {
    let mut ts = TestServer::start().await;
    let z = VmZone::new(&ts, 2).await;
    let c = ts.admin.clone();
    let vm = deploy_vm(&c, &z, "often-killed", &[]).await;
    let id = vm["id"].as_str().expect("id").to_string();
    ts.server
        .as_ref()
        .expect("running")
        .state
        .faults
        .add(Fault {
            saga: "destroy-expunge".into(),
            step: 0,
            kind: FaultKind::CrashAfter,
        });
    let job = destroy_expunge(&c, &id).await;
    // The server "dies" right after steps 0, 1, 2, 3 and 4 — five restarts in a row.
    for next in 1..=5 {
        wait_crash(&ts, 0).await;
        if next < 5 {
            std::env::set_var(
                "CANOPY_FAULT_SAGA",
                format!("destroy-expunge:{next}:crash-after"),
            );
        } else {
            std::env::remove_var("CANOPY_FAULT_SAGA");
        }
        ts = ts.restart().await;
        if next == 5 {
            break;
        }
    }
    let c = ts.admin.clone();
    let j = c.wait_job(&job).await;
    assert_eq!(j["jobstatus"], 1, "the job reports what its saga did: {j}");
    assert_eq!(
        c.ok(&[
            ("command", "listVirtualMachines"),
            ("listall", "true"),
            ("id", &id),
        ])
        .await,
        serde_json::json!({}),
        "the VM is gone"
    );
    assert_eq!(saga_phase(&ts, &job).await.as_deref(), Some("done"));

    // A job that dies at the same point every time is given up, saying why.
    let vm = deploy_vm(&c, &z, "always-killed", &[]).await;
    let id = vm["id"].as_str().expect("id").to_string();
    std::env::set_var("CANOPY_FAULT_SAGA", "destroy-expunge:1:crash-before");
    ts = ts.restart().await;
    let c = ts.admin.clone();
    let job = destroy_expunge(&c, &id).await;
    let mut outcome = serde_json::Value::Null;
    let mut restarts = 0;
    'runs: for _ in 0..10 {
        // Either the armed crash strikes (restart), or the job ends.
        for _ in 0..600 {
            let q = ts
                .admin
                .ok(&[("command", "queryAsyncJobResult"), ("jobid", &job)])
                .await;
            if q["jobstatus"] != 0 {
                outcome = q;
                break 'runs;
            }
            if ts.server.as_ref().expect("running").state.faults.crashes() > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        ts = ts.restart().await;
        restarts += 1;
    }
    assert_eq!(restarts, 4, "given up after the restart limit");
    std::env::remove_var("CANOPY_FAULT_SAGA");
    assert_eq!(outcome["jobstatus"], 2, "{outcome}");
    assert!(
        outcome["jobresult"]["errortext"]
            .as_str()
            .unwrap_or("")
            .contains("without making progress"),
        "{outcome}"
    );
    // It was rolled back, not left half done: the VM runs as before and its saga is final.
    assert_eq!(vm_view(&ts.admin, &id).await["state"], "Running");
    assert_eq!(saga_phase(&ts, &job).await.as_deref(), Some("unwound"));
    ts.stop().await;
}
