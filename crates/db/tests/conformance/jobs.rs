//! Async jobs (leases, recovery) and concurrent writers.

use db::*;
use model::identity::AccountType;
use model::*;

use crate::*;

pub(crate) async fn jobs(store: &DataStore) {
    let role = seed_roles(store).await;
    let root = domain(store, "ROOT", None).await;
    let a = account(store, "admin", &root, &role).await;
    let u = user(store, "admin", a, root.id, None).await;
    let (s1, s2) = (ServerId::new(), ServerId::new());
    let mut tx = store.begin().await.expect("begin");
    server_register(&mut tx, s1, "127.0.0.1:1")
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
    // The old owner can no longer complete it.
    assert!(!job_complete(&mut tx, j.id, s1, 1, 0, "{}")
        .await
        .expect("complete"));
    assert_eq!(
        job_renew_leases(&mut tx, s2, 123_000).await.expect("renew"),
        1
    );
    assert!(
        job_complete(&mut tx, j.id, s2, 2, 530, r#"{"errorcode":530}"#)
            .await
            .expect("complete")
    );
    assert!(!job_complete(&mut tx, j.id, s2, 1, 0, "{}")
        .await
        .expect("only once"));
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
