//! VM schedules (SQLite and PostgreSQL): createVMSchedule checks its cron text, time zone,
//! action and dates; a due schedule stops (then starts) its VM through a job of the VM's
//! owner, once, and moves on to its next run; a disabled one does nothing; another tenant
//! sees none of it.

mod common;

use common::*;

async fn due_now(ts: &TestServer, id: &str) {
    let st = ts.server.as_ref().expect("running").state.clone();
    let id: uuid::Uuid = id.parse().expect("id");
    let mut tx = st.store.begin().await.expect("db");
    let rows = db::vm_schedule_list(&mut tx, None).await.expect("list");
    let s = rows.into_iter().find(|s| s.id == id).expect("schedule");
    let now = api::time::now_ms();
    assert!(
        db::vm_schedule_claim(&mut tx, id, s.next_run.expect("next run"), Some(now - 1))
            .await
            .expect("claim")
    );
    tx.commit().await.expect("commit");
}

async fn state_of(c: &Client, vm: &str) -> String {
    s(&vm_view(c, vm).await["state"])
}

async fn schedules(ts: TestServer) {
    let admin = ts.admin.clone();
    let z = VmZone::new(&ts, 1).await;
    let (_, _, u) = account_with_keys(&ts, &admin, "sched", None, "0").await;
    let vm = s(&deploy_vm(&u, &z, "nightly", &[]).await["id"]);
    let create = |extra: &[(&'static str, &'static str)]| {
        let mut p = vec![
            ("command", "createVMSchedule"),
            ("virtualmachineid", vm.as_str()),
            ("schedule", "0 22 * * *"),
            ("timezone", "UTC"),
            ("action", "STOP"),
        ];
        for (k, v) in extra {
            p.retain(|(x, _)| x != k);
            p.push((k, v));
        }
        p
    };
    for (bad, why) in [
        (vec![("action", "PAUSE")], "Invalid action"),
        (vec![("schedule", "0 25 * * *")], "Invalid schedule"),
        (vec![("schedule", "* * * *")], "five fields"),
        (vec![("timezone", "Mars/Olympus")], "timezone"),
        (
            vec![
                ("startdate", "2030-01-02 00:00:00"),
                ("enddate", "2030-01-01 00:00:00"),
            ],
            "enddate",
        ),
    ] {
        let e = u.err(&create(&bad), 431).await;
        assert!(e.contains(why), "{why}: {e}");
    }
    let stop = u.ok(&create(&[("description", "night stop")])).await["vmschedule"].clone();
    assert_eq!(stop["action"], "STOP", "{stop}");
    assert_eq!(stop["schedule"], "0 22 * * *", "{stop}");
    let start = u
        .ok(&create(&[
            ("action", "START"),
            ("schedule", "0 6 * * MON-FRI"),
        ]))
        .await["vmschedule"]
        .clone();
    let l = u
        .ok(&[("command", "listVMSchedule"), ("virtualmachineid", &vm)])
        .await;
    assert_eq!(l["count"], 2, "{l}");
    // Due now: the task stops the VM through a job, once.
    due_now(&ts, &s(&stop["id"])).await;
    admin
        .ok(&[("command", "runBackgroundTask"), ("name", "vm-schedules")])
        .await;
    let mut stopped = false;
    for _ in 0..100 {
        if state_of(&u, &vm).await == "Stopped" {
            stopped = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(stopped, "the STOP schedule did not stop the VM");
    let st = ts.server.as_ref().expect("running").state.clone();
    let next = {
        let mut c = st.store.read().await.expect("db");
        db::vm_schedule_list(&mut c, None)
            .await
            .expect("list")
            .into_iter()
            .find(|x| x.id.to_string() == s(&stop["id"]))
            .and_then(|x| x.next_run)
            .expect("next run")
    };
    assert!(next > api::time::now_ms(), "moved on to its next run");
    // Disabled: due, but nothing happens; enabled again, it starts the VM.
    u.ok(&[
        ("command", "updateVMSchedule"),
        ("id", &s(&start["id"])),
        ("enabled", "false"),
    ])
    .await;
    due_now(&ts, &s(&start["id"])).await;
    admin
        .ok(&[("command", "runBackgroundTask"), ("name", "vm-schedules")])
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(state_of(&u, &vm).await, "Stopped");
    u.ok(&[
        ("command", "updateVMSchedule"),
        ("id", &s(&start["id"])),
        ("enabled", "true"),
    ])
    .await;
    due_now(&ts, &s(&start["id"])).await;
    admin
        .ok(&[("command", "runBackgroundTask"), ("name", "vm-schedules")])
        .await;
    let mut running = false;
    for _ in 0..100 {
        if state_of(&u, &vm).await == "Running" {
            running = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(running, "the START schedule did not start the VM");
    // Another tenant: nothing.
    let (_, _, eve) = account_with_keys(&ts, &admin, "eve-sched", None, "0").await;
    eve.err(
        &[("command", "listVMSchedule"), ("virtualmachineid", &vm)],
        531,
    )
    .await;
    eve.err(
        &[
            ("command", "updateVMSchedule"),
            ("id", &s(&start["id"])),
            ("enabled", "false"),
        ],
        531,
    )
    .await;
    let ids = format!("{},{}", s(&stop["id"]), s(&start["id"]));
    u.ok(&[
        ("command", "deleteVMSchedule"),
        ("virtualmachineid", &vm),
        ("ids", &ids),
    ])
    .await;
    let l = u
        .ok(&[("command", "listVMSchedule"), ("virtualmachineid", &vm)])
        .await;
    assert_eq!(l["count"].as_u64().unwrap_or(0), 0, "{l}");
    ts.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn vm_schedules_stop_and_start_their_vm() {
    schedules(TestServer::start().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn vm_schedules_stop_and_start_their_vm_postgres() {
    let Some(pg) = testkit::Postgres::start_for_test() else {
        return;
    };
    schedules(TestServer::start_with(Some(pg.fresh_database().expect("db"))).await).await;
}
