//! Async jobs (leases, recovery) and concurrent writers.

use db::*;
use model::identity::AccountType;
use model::*;

use crate::*;

fn new_server(id: ServerId, name: &str) -> NewServer {
    NewServer {
        id,
        name: name.into(),
        address: "127.0.0.1:8080".into(),
        agent_endpoint: name.into(),
        version: "4.20.0.0".into(),
    }
}

/// Management servers: registration, heartbeats, a peer's judgement, shared secrets.
pub(crate) async fn servers(store: &DataStore) {
    let (a, b, a2) = (ServerId::new(), ServerId::new(), ServerId::new());
    let mut tx = store.begin().await.expect("begin");
    server_register(&mut tx, &new_server(a, "10.0.0.1:9443"), 0)
        .await
        .expect("a");
    server_register(&mut tx, &new_server(b, "10.0.0.2:9443"), 0)
        .await
        .expect("b");
    tx.commit().await.expect("commit");
    // Registering a name that is still heartbeating says so (the caller warns).
    let mut tx = store.begin().await.expect("begin");
    assert_eq!(
        server_register(&mut tx, &new_server(a2, "10.0.0.1:9443"), 0)
            .await
            .expect("again"),
        1
    );
    drop(tx);
    let mut tx = store.begin().await.expect("begin");
    assert_eq!(
        server_heartbeat(&mut tx, a, Some(&serde_json::json!({"cpuload": "1%"})))
            .await
            .expect("hb")
            .as_deref(),
        Some("Up")
    );
    // Nobody is stale yet; then b is (its heartbeat is before the cut-off) and only b.
    assert!(server_mark_dead(&mut tx, 0).await.expect("scan").is_empty());
    sqlx::query("UPDATE servers SET heartbeat = 5 WHERE id = $1")
        .bind(b.to_string())
        .execute(&mut *tx)
        .await
        .expect("age b");
    assert_eq!(server_mark_dead(&mut tx, 10).await.expect("scan"), vec![b]);
    // A server marked Down cannot heartbeat any more: it must fence itself.
    assert_eq!(server_heartbeat(&mut tx, b, None).await.expect("hb"), None);
    // Conditional moves: only from the states named.
    assert!(
        server_transition(&mut tx, a, &["Up"], "PreparingForMaintenance")
            .await
            .expect("t")
    );
    assert!(!server_transition(&mut tx, a, &["Up"], "Maintenance")
        .await
        .expect("t"));
    assert_eq!(
        server_heartbeat(&mut tx, a, None)
            .await
            .expect("hb")
            .as_deref(),
        Some("PreparingForMaintenance")
    );
    assert!(server_transition(
        &mut tx,
        a,
        &["PreparingForMaintenance", "Maintenance"],
        "Up"
    )
    .await
    .expect("t"));
    tx.commit().await.expect("commit");
    let mut c = store.read().await.expect("read");
    let rows = server_list(&mut c).await.expect("list");
    let states: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r.name.as_str(), r.state.as_str()))
        .collect();
    assert_eq!(
        states,
        vec![("10.0.0.1:9443", "Up"), ("10.0.0.2:9443", "Down")]
    );
    assert_eq!(rows[1].stopped, Some(5));
    assert_eq!(rows[0].metrics["cpuload"], "1%");
    assert!(server_load(&mut c).await.expect("load").is_empty());
    drop(c);
    // The same name after its earlier process stopped heartbeating replaces that row.
    let mut tx = store.begin().await.expect("begin");
    server_register(&mut tx, &new_server(a2, "10.0.0.1:9443"), i64::MAX)
        .await
        .expect("a again");
    assert!(server_set_state(&mut tx, b, "Down", Some(7))
        .await
        .expect("set"));
    tx.commit().await.expect("commit");
    let mut c = store.read().await.expect("read");
    let ids: Vec<ServerId> = server_list(&mut c)
        .await
        .expect("list")
        .iter()
        .map(|r| r.id)
        .collect();
    assert!(ids.contains(&a2) && !ids.contains(&a) && ids.contains(&b));
    // The first shared secret stored wins; later ones read it.
    assert_eq!(
        cluster_secret_get(&mut c, "agent-tls").await.expect("q"),
        None
    );
    drop(c);
    let mut tx = store.begin().await.expect("begin");
    assert_eq!(
        cluster_secret_put_once(&mut tx, "agent-tls", "one")
            .await
            .expect("put"),
        "one"
    );
    assert_eq!(
        cluster_secret_put_once(&mut tx, "agent-tls", "two")
            .await
            .expect("put"),
        "one"
    );
    tx.commit().await.expect("commit");
}

pub(crate) async fn jobs(store: &DataStore) {
    let role = seed_roles(store).await;
    let root = domain(store, "ROOT", None).await;
    let a = account(store, "admin", &root, &role).await;
    let u = user(store, "admin", a, root.id, None).await;
    let (s1, s2) = (ServerId::new(), ServerId::new());
    let mut tx = store.begin().await.expect("begin");
    server_register(&mut tx, &new_server(s1, "127.0.0.1:1"), 0)
        .await
        .expect("server");
    let j = NewJob {
        id: JobId::new(),
        command: "deleteAccount".into(),
        params: "{}".into(),
        user_id: u,
        account_id: a,
        domain_id: root.id,
        instance_type: Some("Account".into()),
        instance_id: Some(a.to_string()),
        event_id: None,
    };
    job_insert(&mut tx, &j, s1, 10_000).await.expect("job");
    tx.commit().await.expect("commit");

    let mut c = store.read().await.expect("read");
    let row = job_get(&mut c, j.id).await.expect("q").expect("job");
    assert_eq!((row.status, row.attempts, row.owner), (0, 1, Some(s1)));
    assert_eq!(row.account_name, "admin");
    assert_eq!(row.progress, 0);
    drop(c);
    // Progress is recorded while the job runs (clamped to 0–100); an unknown id changes nothing.
    let mut tx = store.begin().await.expect("begin");
    job_set_progress(&mut tx, j.id, 40).await.expect("progress");
    job_set_progress(&mut tx, JobId::new(), 70)
        .await
        .expect("no such job");
    tx.commit().await.expect("commit");
    let mut c = store.read().await.expect("read");
    assert_eq!(
        job_get(&mut c, j.id)
            .await
            .expect("q")
            .expect("job")
            .progress,
        40
    );
    // Not orphaned while the lease runs; orphaned after; or at once for "any other owner".
    assert!(job_orphans(&mut c, s2, 5_000, false)
        .await
        .expect("q")
        .is_empty());
    assert_eq!(
        job_orphans(&mut c, s2, 20_000, false)
            .await
            .expect("q")
            .len(),
        1
    );
    assert_eq!(job_orphans(&mut c, s2, 0, true).await.expect("q").len(), 1);
    assert!(job_orphans(&mut c, s1, 0, true)
        .await
        .expect("q")
        .is_empty());
    drop(c);

    let mut tx = store.begin().await.expect("begin");
    assert!(job_take_over(&mut tx, &row, s2, 99_000, "0|forward:1")
        .await
        .expect("take"));
    // A second taker with the stale view loses.
    assert!(!job_take_over(&mut tx, &row, s1, 99_000, "0|forward:1")
        .await
        .expect("take"));
    // The restart counter counts take-overs without progress, and starts again after progress.
    let taken = job_get(&mut tx, j.id).await.expect("get").expect("job");
    assert_eq!(
        (taken.attempts, taken.resume_mark.as_deref()),
        (1, Some("0|forward:1"))
    );
    assert!(job_take_over(&mut tx, &taken, s2, 99_000, "0|forward:1")
        .await
        .expect("take"));
    let again = job_get(&mut tx, j.id).await.expect("get").expect("job");
    assert_eq!(again.attempts, 2);
    assert!(job_take_over(&mut tx, &again, s2, 99_000, "40|forward:2")
        .await
        .expect("take"));
    let moved = job_get(&mut tx, j.id).await.expect("get").expect("job");
    assert_eq!(moved.attempts, 1);
    // Three take-overs: the fourth generation. Earlier generations are superseded, even on
    // the same server (a run that outlived its lease and was taken over by its own server).
    assert_eq!(moved.generation, 4);
    assert!(job_hold(&mut tx, j.id, s2, 4, 99_500).await.expect("hold"));
    assert!(!job_hold(&mut tx, j.id, s2, 3, 99_500).await.expect("hold"));
    assert!(!job_hold(&mut tx, j.id, s1, 4, 99_500).await.expect("hold"));
    // The old owner can no longer complete it.
    assert!(!job_complete(&mut tx, j.id, s1, 1, 1, 0, "{}")
        .await
        .expect("complete"));
    assert!(!job_complete(&mut tx, j.id, s2, 3, 1, 0, "{}")
        .await
        .expect("superseded generation"));
    assert_eq!(
        job_renew_leases(&mut tx, s2, &[j.id], 123_000)
            .await
            .expect("renew"),
        1
    );
    // Only jobs the server still runs are renewed.
    assert_eq!(
        job_renew_leases(&mut tx, s2, &[JobId::new()], 123_000)
            .await
            .expect("renew"),
        0
    );
    assert_eq!(
        job_renew_leases(&mut tx, s2, &[], 123_000)
            .await
            .expect("renew"),
        0
    );
    // A released job (its run failed) is no longer renewed: recovery takes it over.
    assert!(!job_release(&mut tx, j.id, s1).await.expect("not the owner"));
    assert!(job_release(&mut tx, j.id, s2).await.expect("release"));
    assert_eq!(
        job_renew_leases(&mut tx, s2, &[j.id], 124_000)
            .await
            .expect("renew"),
        0
    );
    let orphans = job_orphans(&mut tx, s1, 1, false).await.expect("orphans");
    assert_eq!(orphans.iter().map(|o| o.id).collect::<Vec<_>>(), vec![j.id]);
    assert!(
        job_complete(&mut tx, j.id, s2, 4, 2, 530, r#"{"errorcode":530}"#)
            .await
            .expect("complete")
    );
    assert!(!job_complete(&mut tx, j.id, s2, 4, 1, 0, "{}")
        .await
        .expect("only once"));
    assert!(!job_hold(&mut tx, j.id, s2, 4, 99_500).await.expect("hold"));
    tx.commit().await.expect("commit");
    let mut c = store.read().await.expect("read");
    let row = job_get(&mut c, j.id).await.expect("q").expect("job");
    assert_eq!((row.status, row.result_code, row.attempts), (2, 530, 1));
    assert!(row.completed.is_some());
    let f = JobFilter {
        scope: OwnerScope::Account(a),
        start: None,
        keyword: Some("DELETE".into()),
        offset: 0,
        limit: None,
    };
    assert_eq!(job_list(&mut c, &f).await.expect("list").1, 1);
}

/// Concurrent writers: each insert succeeds exactly once; duplicates conflict cleanly.
pub(crate) async fn concurrency(store: &DataStore) {
    let role = seed_roles(store).await;
    let root = domain(store, "ROOT", None).await;
    let mut tasks = Vec::new();
    for i in 0..40 {
        let store = store.clone();
        let (role_id, dom) = (role.id, root.id);
        tasks.push(tokio::spawn(async move {
            let mut tx = store.begin().await.expect("begin");
            let name = format!("acct{}", i % 20);
            let r = account_insert(
                &mut tx,
                &NewAccount {
                    id: AccountId::new(),
                    name: name.clone(),
                    account_type: AccountType::User,
                    role_id,
                    domain_id: dom,
                    network_domain: None,
                    is_default: false,
                },
            )
            .await;
            match r {
                Ok(()) => {
                    tx.commit().await.expect("commit");
                    true
                }
                Err(DbError::Conflict(_)) => false,
                Err(e) => panic!("unexpected error: {e}"),
            }
        }));
    }
    let mut ok = 0;
    for t in tasks {
        if t.await.expect("join") {
            ok += 1;
        }
    }
    assert_eq!(ok, 20, "each of the 20 names is inserted exactly once");
}
