//! The DataStore conformance suite: the same checks against embedded SQLite and a throwaway
//! PostgreSQL (started by testkit; `CANOPY_REQUIRE_PG=1` makes its absence a failure).

use db::*;
use model::identity::{AccountState, AccountType, RoleType};
use model::*;

async fn seed_roles(store: &DataStore) -> RoleRow {
    let mut tx = store.begin().await.expect("begin");
    let mut user_role = None;
    for (name, t) in [
        ("Root Admin", RoleType::Admin),
        ("Domain Admin", RoleType::DomainAdmin),
        ("User", RoleType::User),
    ] {
        let r = RoleRow {
            id: RoleId::new(),
            name: name.into(),
            role_type: t,
            description: "d".into(),
            is_default: true,
            read_only: false,
        };
        role_insert(&mut tx, &r).await.expect("role");
        if t == RoleType::User {
            user_role = Some(r);
        }
    }
    tx.commit().await.expect("commit");
    user_role.expect("user role")
}

async fn domain(store: &DataStore, name: &str, parent: Option<&DomainRow>) -> DomainRow {
    let id = DomainId::new();
    let (path, level) = match parent {
        None => ("/".to_string(), 0),
        Some(p) => (format!("{}{}/", p.path, name), p.level + 1),
    };
    let mut tx = store.begin().await.expect("begin");
    domain_insert(&mut tx, id, name, &path, parent.map(|p| p.id), level, None)
        .await
        .expect("insert domain");
    tx.commit().await.expect("commit");
    let mut c = store.read().await.expect("read");
    domain_get(&mut c, id).await.expect("get").expect("exists")
}

async fn account(store: &DataStore, name: &str, d: &DomainRow, role: &RoleRow) -> AccountId {
    let id = AccountId::new();
    let mut tx = store.begin().await.expect("begin");
    account_insert(
        &mut tx,
        &NewAccount {
            id,
            name: name.to_string(),
            account_type: AccountType::User,
            role_id: role.id,
            domain_id: d.id,
            network_domain: None,
            is_default: false,
        },
    )
    .await
    .expect("account");
    tx.commit().await.expect("commit");
    id
}

async fn user(
    store: &DataStore,
    name: &str,
    a: AccountId,
    d: DomainId,
    key: Option<&str>,
) -> UserId {
    let id = UserId::new();
    let mut tx = store.begin().await.expect("begin");
    let u = NewUser {
        id,
        account_id: a,
        domain_id: d,
        username: name.into(),
        password_hash: "h".into(),
        email: Some(format!("{name}@example.org")),
        firstname: Some("F".into()),
        lastname: Some("L".into()),
        timezone: None,
        is_default: false,
        api_key: key.map(str::to_string),
        secret_enc: key.map(|_| "enc".to_string()),
    };
    user_insert(&mut tx, &u).await.expect("user");
    tx.commit().await.expect("commit");
    id
}

async fn migrations(url: &str) {
    let store = DataStore::open(url).await.expect("open");
    store.close().await;
    // Re-opening applies nothing and succeeds.
    let store = DataStore::open(url).await.expect("reopen");
    {
        let mut tx = store.begin().await.expect("begin");
        sqlx::query(
            "INSERT INTO schema_version (version, name, applied) VALUES (999, 'future', 0)",
        )
        .execute(&mut *tx)
        .await
        .expect("insert");
        tx.commit().await.expect("commit");
    }
    store.close().await;
    match DataStore::open(url).await {
        Err(DbError::SchemaTooNew {
            found: 999,
            supported,
        }) => assert_eq!(supported, SCHEMA_VERSION),
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("a newer schema must be refused"),
    }
}

async fn domains(store: &DataStore) {
    let root = domain(store, "ROOT", None).await;
    let a = domain(store, "a", Some(&root)).await;
    let ab = domain(store, "b_x", Some(&a)).await;
    let _other = domain(store, "ab", Some(&root)).await; // path /ab/ shares a prefix with /a/
    let mut c = store.read().await.expect("read");
    assert!(
        domain_get(&mut c, a.id)
            .await
            .expect("get")
            .expect("a")
            .has_child
    );
    assert_eq!(ab.path, "/a/b_x/");
    assert_eq!(ab.parent_name.as_deref(), Some("a"));

    let f = DomainFilter {
        under: Some(("/a/".into(), true)),
        ..Default::default()
    };
    let (rows, total) = domain_list(&mut c, &f).await.expect("list");
    assert_eq!(
        total, 2,
        "subtree of /a/ is a and a/b_x, not /ab/: {rows:?}"
    );
    let f = DomainFilter {
        parent: Some(root.id),
        ..Default::default()
    };
    assert_eq!(domain_list(&mut c, &f).await.expect("list").1, 2);
    let f = DomainFilter {
        keyword: Some("B_".into()),
        ..Default::default()
    };
    assert_eq!(domain_list(&mut c, &f).await.expect("list").1, 1);
    let f = DomainFilter {
        limit: Some(2),
        offset: 2,
        ..Default::default()
    };
    let (rows, total) = domain_list(&mut c, &f).await.expect("list");
    assert_eq!((rows.len(), total), (2, 4));
    drop(c);

    // Duplicate live path is a conflict; after removal the path can be reused.
    let mut tx = store.begin().await.expect("begin");
    let dup = domain_insert(&mut tx, DomainId::new(), "a", "/a/", Some(root.id), 1, None).await;
    assert!(matches!(dup, Err(DbError::Conflict(_))), "{dup:?}");
    tx.rollback().await.expect("rollback");

    let mut tx = store.begin().await.expect("begin");
    domain_rename(&mut tx, a.id, "/a/", "/z/", "z")
        .await
        .expect("rename");
    tx.commit().await.expect("commit");
    let mut c = store.read().await.expect("read");
    assert_eq!(
        domain_get(&mut c, ab.id)
            .await
            .expect("get")
            .expect("ab")
            .path,
        "/z/b_x/"
    );
    assert_eq!(
        domain_get_by_path(&mut c, "/z/")
            .await
            .expect("get")
            .expect("z")
            .name,
        "z"
    );
    drop(c);

    let mut tx = store.begin().await.expect("begin");
    assert!(domain_mark_removed(&mut tx, ab.id).await.expect("rm"));
    assert!(!domain_mark_removed(&mut tx, ab.id).await.expect("rm twice"));
    domain_insert(
        &mut tx,
        DomainId::new(),
        "b_x",
        "/z/b_x/",
        Some(a.id),
        2,
        None,
    )
    .await
    .expect("reuse path");
    tx.commit().await.expect("commit");
}

async fn accounts_and_users(store: &DataStore) {
    let role = seed_roles(store).await;
    let root = domain(store, "ROOT", None).await;
    let sub = domain(store, "sub", Some(&root)).await;
    let a1 = account(store, "alice", &root, &role).await;
    let a2 = account(store, "bob", &sub, &role).await;
    let u1 = user(store, "alice", a1, root.id, Some("key-1")).await;
    let u2 = user(store, "bob", a2, sub.id, None).await;

    // Same account name in the same domain conflicts; in another domain it is fine.
    let mut tx = store.begin().await.expect("begin");
    let r = account_insert(
        &mut tx,
        &NewAccount {
            id: AccountId::new(),
            name: "alice".to_string(),
            account_type: AccountType::User,
            role_id: role.id,
            domain_id: root.id,
            network_domain: None,
            is_default: false,
        },
    )
    .await;
    assert!(matches!(r, Err(DbError::Conflict(_))));
    tx.rollback().await.expect("rb");
    account(store, "alice", &sub, &role).await;

    let mut c = store.read().await.expect("read");
    let all = AccountFilter {
        scope: OwnerScope::All,
        id: None,
        name: None,
        account_type: None,
        state: None,
        keyword: None,
        offset: 0,
        limit: None,
    };
    assert_eq!(account_list(&mut c, &all).await.expect("list").1, 3);
    let only_root = AccountFilter {
        scope: OwnerScope::Domain {
            id: root.id,
            path: "/".into(),
            recursive: false,
        },
        ..all.clone()
    };
    assert_eq!(account_list(&mut c, &only_root).await.expect("list").1, 1);
    let sub_tree = AccountFilter {
        scope: OwnerScope::Domain {
            id: sub.id,
            path: "/sub/".into(),
            recursive: true,
        },
        ..all.clone()
    };
    assert_eq!(account_list(&mut c, &sub_tree).await.expect("list").1, 2);
    let one = AccountFilter {
        scope: OwnerScope::Account(a2),
        ..all.clone()
    };
    let (rows, _) = account_list(&mut c, &one).await.expect("list");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].domain_path, "/sub/");
    assert_eq!(rows[0].role_type, RoleType::User);
    let page = AccountFilter {
        offset: 1,
        limit: Some(1),
        ..all.clone()
    };
    let (rows, total) = account_list(&mut c, &page).await.expect("list");
    assert_eq!((rows.len(), total), (1, 3));

    let by_key = user_get_by_api_key(&mut c, "key-1")
        .await
        .expect("q")
        .expect("found");
    assert_eq!(by_key.id, u1);
    assert_eq!(by_key.account.name, "alice");
    let users = UserFilter {
        scope: OwnerScope::All,
        id: None,
        username: None,
        account_type: None,
        state: None,
        keyword: Some("EXAMPLE".into()),
        offset: 0,
        limit: None,
    };
    assert_eq!(user_list(&mut c, &users).await.expect("list").1, 2);
    drop(c);

    // API keys are unique.
    let mut tx = store.begin().await.expect("begin");
    let r = user_set_keys(&mut tx, u2, "key-1", "x").await;
    assert!(matches!(r, Err(DbError::Conflict(_))), "{r:?}");
    tx.rollback().await.expect("rb");

    // State changes, then removal hides users, their keys and their sessions.
    let mut tx = store.begin().await.expect("begin");
    account_set_state(&mut tx, a1, AccountState::Locked)
        .await
        .expect("state");
    let s = SessionRow {
        id: SessionId::new(),
        session_key: "sk".into(),
        user_id: u1,
        created: 1,
        last_seen: 1,
        timeout_s: 60,
    };
    session_insert(&mut tx, &s).await.expect("session");
    account_mark_removed(&mut tx, a1).await.expect("remove");
    account_mark_removed(&mut tx, a1)
        .await
        .expect("remove is idempotent");
    tx.commit().await.expect("commit");
    let mut c = store.read().await.expect("read");
    assert!(account_get(&mut c, a1).await.expect("q").is_none());
    assert!(user_get_by_api_key(&mut c, "key-1")
        .await
        .expect("q")
        .is_none());
    assert!(session_get_by_key(&mut c, "sk").await.expect("q").is_none());
    drop(c);
    // The name is free again.
    account(store, "alice", &root, &role).await;
}

async fn sessions_settings_events(store: &DataStore) {
    let role = seed_roles(store).await;
    let root = domain(store, "ROOT", None).await;
    let a = account(store, "admin", &root, &role).await;
    let u = user(store, "admin", a, root.id, None).await;
    let mut tx = store.begin().await.expect("begin");
    let s = SessionRow {
        id: SessionId::new(),
        session_key: "k".into(),
        user_id: u,
        created: 0,
        last_seen: 0,
        timeout_s: 10,
    };
    session_insert(&mut tx, &s).await.expect("insert");
    let s2 = SessionRow {
        id: SessionId::new(),
        session_key: "k2".into(),
        last_seen: 50_000,
        ..s.clone()
    };
    session_insert(&mut tx, &s2).await.expect("insert");
    session_touch(&mut tx, s.id, 5_000).await.expect("touch");
    assert_eq!(
        session_delete_expired(&mut tx, 20_000)
            .await
            .expect("expire"),
        1
    );
    setting_set(&mut tx, "default.page.size", "100")
        .await
        .expect("set");
    setting_set(&mut tx, "default.page.size", "200")
        .await
        .expect("set again");
    tx.commit().await.expect("commit");
    let mut c = store.read().await.expect("read");
    assert!(session_get(&mut c, s.id).await.expect("q").is_none());
    assert_eq!(
        session_get_by_key(&mut c, "k2")
            .await
            .expect("q")
            .map(|r| r.id),
        Some(s2.id)
    );
    assert_eq!(
        setting_all(&mut c).await.expect("all"),
        vec![("default.page.size".to_string(), "200".to_string())]
    );
    drop(c);

    let mut tx = store.begin().await.expect("begin");
    let mut first = None;
    for i in 0..5 {
        let id = EventId::new();
        first.get_or_insert(id);
        let e = NewEvent {
            id,
            event_type: if i % 2 == 0 {
                "USER.CREATE".into()
            } else {
                "ACCOUNT.DELETE".into()
            },
            level: if i == 4 { "ERROR" } else { "INFO" },
            description: format!("event {i}"),
            state: "Completed",
            account_id: a,
            domain_id: root.id,
            user_id: Some(u),
            resource_id: Some(format!("r{i}")),
            resource_type: Some("User".into()),
            resource_name: None,
            parent_id: if i == 3 { first } else { None },
        };
        event_insert(&mut tx, &e).await.expect("event");
    }
    tx.commit().await.expect("commit");
    let mut c = store.read().await.expect("read");
    let base = EventFilter {
        scope: OwnerScope::Account(a),
        id: None,
        event_type: None,
        level: None,
        start: None,
        end: None,
        keyword: None,
        resource_id: None,
        resource_type: None,
        start_id: None,
        offset: 0,
        limit: Some(2),
    };
    let (rows, total) = event_list(&mut c, &base).await.expect("list");
    assert_eq!((rows.len(), total), (2, 5));
    assert_eq!(rows[0].username.as_deref(), Some("admin"));
    assert_eq!(
        event_list(
            &mut c,
            &EventFilter {
                event_type: Some("USER.CREATE".into()),
                ..base.clone()
            }
        )
        .await
        .expect("l")
        .1,
        3
    );
    assert_eq!(
        event_list(
            &mut c,
            &EventFilter {
                level: Some("error".into()),
                ..base.clone()
            }
        )
        .await
        .expect("l")
        .1,
        1
    );
    assert_eq!(
        event_list(
            &mut c,
            &EventFilter {
                start_id: first,
                ..base.clone()
            }
        )
        .await
        .expect("l")
        .1,
        2
    );
    assert_eq!(
        event_list(
            &mut c,
            &EventFilter {
                keyword: Some("EVENT 3".into()),
                ..base.clone()
            }
        )
        .await
        .expect("l")
        .1,
        1
    );
    assert_eq!(
        event_list(
            &mut c,
            &EventFilter {
                end: Some(0),
                ..base.clone()
            }
        )
        .await
        .expect("l")
        .1,
        0
    );
    assert_eq!(
        event_list(
            &mut c,
            &EventFilter {
                scope: OwnerScope::Account(AccountId::new()),
                ..base.clone()
            }
        )
        .await
        .expect("l")
        .1,
        0
    );
}

async fn jobs(store: &DataStore) {
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
    assert!(job_take_over(&mut tx, &row, s2, 99_000)
        .await
        .expect("take"));
    // A second taker with the stale view loses.
    assert!(!job_take_over(&mut tx, &row, s1, 99_000)
        .await
        .expect("take"));
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
    assert_eq!((row.status, row.result_code, row.attempts), (2, 530, 2));
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
async fn concurrency(store: &DataStore) {
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

async fn inventory(store: &DataStore) {
    let root = domain(store, "ROOT", None).await;
    let zone = |name: &str, dom: Option<uuid::Uuid>| {
        let id = uuid::Uuid::new_v4();
        InfraRow {
            id,
            zone_id: id,
            parent_id: None,
            name: name.into(),
            kind: "Advanced".into(),
            state: "Disabled".into(),
            domain_id: dom,
            attrs: serde_json::json!({"dns1": "8.8.8.8"}),
            created: 0,
        }
    };
    let z1 = zone("z1", None);
    let z2 = zone("z2", Some(root.id.0));
    let mut tx = store.begin().await.expect("begin");
    infra_insert(&mut tx, Infra::Zone, &z1).await.expect("z1");
    infra_insert(&mut tx, Infra::Zone, &z2).await.expect("z2");
    let dup = infra_insert(&mut tx, Infra::Zone, &zone("Z1x", None)).await;
    assert!(dup.is_ok());
    tx.commit().await.expect("commit");
    let mut tx = store.begin().await.expect("begin");
    assert!(matches!(
        infra_insert(&mut tx, Infra::Zone, &zone("z1", None)).await,
        Err(DbError::Conflict(_))
    ));
    tx.rollback().await.expect("rb");
    let pod = InfraRow {
        id: uuid::Uuid::new_v4(),
        zone_id: z1.id,
        parent_id: Some(z1.id),
        name: "p1".into(),
        kind: "pod".into(),
        state: "Disabled".into(),
        domain_id: None,
        attrs: serde_json::json!({}),
        created: 0,
    };
    let cluster = InfraRow {
        id: uuid::Uuid::new_v4(),
        zone_id: z1.id,
        parent_id: Some(pod.id),
        name: "c1".into(),
        kind: "KVM".into(),
        ..pod.clone()
    };
    let mut tx = store.begin().await.expect("begin");
    infra_insert(&mut tx, Infra::Pod, &pod).await.expect("pod");
    infra_insert(&mut tx, Infra::Cluster, &cluster)
        .await
        .expect("cluster");
    tx.commit().await.expect("commit");

    let mut c = store.read().await.expect("read");
    let got = infra_get(&mut c, Infra::Zone, z1.id)
        .await
        .expect("q")
        .expect("z1");
    assert_eq!(got.attrs["dns1"], "8.8.8.8");
    assert_eq!(
        infra_count_children(&mut c, Infra::Pod, z1.id)
            .await
            .expect("n"),
        1
    );
    assert_eq!(
        infra_count_children(&mut c, Infra::Cluster, pod.id)
            .await
            .expect("n"),
        1
    );
    let f = InfraFilter {
        visible_to_domains: Some(vec![]),
        ..Default::default()
    };
    assert_eq!(
        infra_list(&mut c, Infra::Zone, &f).await.expect("l").1,
        2,
        "dedicated zone hidden"
    );
    let f = InfraFilter {
        visible_to_domains: Some(vec![root.id.0]),
        ..Default::default()
    };
    assert_eq!(infra_list(&mut c, Infra::Zone, &f).await.expect("l").1, 3);
    let f = InfraFilter {
        name: Some("Z1".into()),
        ..Default::default()
    };
    assert_eq!(
        infra_list(&mut c, Infra::Zone, &f).await.expect("l").0[0].id,
        z1.id
    );
    let f = InfraFilter {
        ids: Some(vec![z1.id, z2.id]),
        limit: Some(1),
        offset: 1,
        ..Default::default()
    };
    let (rows, total) = infra_list(&mut c, Infra::Zone, &f).await.expect("l");
    assert_eq!((rows.len(), total), (1, 2));
    let f = InfraFilter {
        kind: Some("kvm".into()),
        zone_id: Some(z1.id),
        ..Default::default()
    };
    assert_eq!(
        infra_list(&mut c, Infra::Cluster, &f).await.expect("l").1,
        1
    );
    drop(c);

    let mut tx = store.begin().await.expect("begin");
    let mut upd = got.clone();
    upd.state = "Enabled".into();
    upd.attrs["dns2"] = serde_json::json!("1.1.1.1");
    infra_update(&mut tx, Infra::Zone, &upd)
        .await
        .expect("update");
    assert!(infra_mark_removed(&mut tx, Infra::Cluster, cluster.id)
        .await
        .expect("rm"));
    tx.commit().await.expect("commit");
    let mut c = store.read().await.expect("read");
    let got = infra_get(&mut c, Infra::Zone, z1.id)
        .await
        .expect("q")
        .expect("z1");
    assert_eq!(
        (got.state.as_str(), got.attrs["dns2"].as_str()),
        ("Enabled", Some("1.1.1.1"))
    );
    assert_eq!(
        infra_count_children(&mut c, Infra::Cluster, pod.id)
            .await
            .expect("n"),
        0
    );
    assert!(infra_get(&mut c, Infra::Cluster, cluster.id)
        .await
        .expect("q")
        .is_none());
}

async fn keypairs(store: &DataStore) {
    let role = seed_roles(store).await;
    let root = domain(store, "ROOT", None).await;
    let sub = domain(store, "sub", Some(&root)).await;
    let alice = account(store, "alice", &root, &role).await;
    let bob = account(store, "bob", &sub, &role).await;
    let (k1, k2, k3) = (
        uuid::Uuid::new_v4(),
        uuid::Uuid::new_v4(),
        uuid::Uuid::new_v4(),
    );
    let mut tx = store.begin().await.expect("begin");
    keypair_insert(
        &mut tx,
        k1,
        alice,
        root.id,
        "laptop",
        "aa:bb",
        "ssh-ed25519 AAAA1",
    )
    .await
    .expect("k1");
    keypair_insert(
        &mut tx,
        k2,
        alice,
        root.id,
        "ci",
        "cc:dd",
        "ssh-ed25519 AAAA2",
    )
    .await
    .expect("k2");
    // The same name in another account is fine.
    keypair_insert(
        &mut tx,
        k3,
        bob,
        sub.id,
        "laptop",
        "aa:bb",
        "ssh-ed25519 AAAA1",
    )
    .await
    .expect("k3");
    tx.commit().await.expect("commit");
    let mut tx = store.begin().await.expect("begin");
    let dup = keypair_insert(
        &mut tx,
        uuid::Uuid::new_v4(),
        alice,
        root.id,
        "laptop",
        "x",
        "y",
    )
    .await;
    assert!(matches!(dup, Err(DbError::Conflict(_))), "{dup:?}");
    drop(tx);
    let mut c = store.read().await.expect("read");
    let got = keypair_get_by_name(&mut c, bob, "laptop")
        .await
        .expect("get")
        .expect("some");
    assert_eq!(
        (got.id, got.account_name.as_str(), got.domain_name.as_str()),
        (k3, "bob", "sub")
    );
    let f = |scope: OwnerScope| KeyPairFilter {
        scope,
        id: None,
        name: None,
        fingerprint: None,
        keyword: None,
        offset: 0,
        limit: None,
    };
    let (rows, n) = keypair_list(&mut c, &f(OwnerScope::Account(alice)))
        .await
        .expect("list");
    assert_eq!((n, rows.len()), (2, 2));
    assert_eq!(
        keypair_list(&mut c, &f(OwnerScope::All))
            .await
            .expect("all")
            .1,
        3
    );
    let sub_scope = OwnerScope::Domain {
        id: sub.id,
        path: sub.path.clone(),
        recursive: false,
    };
    assert_eq!(keypair_list(&mut c, &f(sub_scope)).await.expect("sub").1, 1);
    let by_fp = KeyPairFilter {
        fingerprint: Some("aa:bb".into()),
        ..f(OwnerScope::All)
    };
    assert_eq!(keypair_list(&mut c, &by_fp).await.expect("fp").1, 2);
    let by_kw = KeyPairFilter {
        keyword: Some("LAP".into()),
        ..f(OwnerScope::Account(alice))
    };
    let (rows, n) = keypair_list(&mut c, &by_kw).await.expect("kw");
    assert_eq!((n, rows[0].id), (1, k1));
    let paged = KeyPairFilter {
        offset: 1,
        limit: Some(1),
        ..f(OwnerScope::All)
    };
    let (rows, n) = keypair_list(&mut c, &paged).await.expect("page");
    assert_eq!((n, rows.len()), (3, 1));
    drop(c);
    let mut tx = store.begin().await.expect("begin");
    assert!(keypair_delete(&mut tx, k1).await.expect("delete"));
    assert!(!keypair_delete(&mut tx, k1).await.expect("delete again"));
    tx.commit().await.expect("commit");
    let mut c = store.read().await.expect("read");
    assert!(keypair_get_by_name(&mut c, alice, "laptop")
        .await
        .expect("get")
        .is_none());
    drop(c);
    let mut tx = store.begin().await.expect("begin");
    assert_eq!(
        keypair_delete_for_account(&mut tx, alice)
            .await
            .expect("for account"),
        1
    );
    tx.commit().await.expect("commit");
    let mut c = store.read().await.expect("read");
    assert_eq!(
        keypair_list(&mut c, &f(OwnerScope::All))
            .await
            .expect("all")
            .1,
        1
    );
}

async fn limits(store: &DataStore) {
    let role = seed_roles(store).await;
    let root = domain(store, "ROOT", None).await;
    let alice = account(store, "alice", &root, &role).await;
    let (a, d) = (LimitOwner::Account(alice), LimitOwner::Domain(root.id));
    let mut tx = store.begin().await.expect("begin");
    limit_set(&mut tx, a, 0, 5).await.expect("set");
    limit_set(&mut tx, a, 9, 2048).await.expect("set");
    limit_set(&mut tx, a, 0, 7).await.expect("replace");
    limit_set(&mut tx, d, 0, -1).await.expect("domain");
    tx.commit().await.expect("commit");
    let mut c = store.read().await.expect("read");
    assert_eq!(
        limit_list(&mut c, a).await.expect("list"),
        [(0, 7), (9, 2048)]
    );
    assert_eq!(limit_list(&mut c, d).await.expect("list"), [(0, -1)]);
    drop(c);
    let mut tx = store.begin().await.expect("begin");
    limit_delete_all(&mut tx, a).await.expect("delete");
    tx.commit().await.expect("commit");
    let mut c = store.read().await.expect("read");
    assert!(limit_list(&mut c, a).await.expect("list").is_empty());
    assert_eq!(limit_list(&mut c, d).await.expect("list").len(), 1);
}

async fn hypervisor_capabilities(store: &DataStore) {
    let mut c = store.read().await.expect("read");
    let all = hvcaps_list(&mut c, None, None).await.expect("list");
    assert_eq!(
        all.iter()
            .map(|r| r.hypervisor.as_str())
            .collect::<Vec<_>>(),
        ["KVM", "Simulator"]
    );
    let kvm = hvcaps_for(&mut c, "kvm", Some("8.2"))
        .await
        .expect("for")
        .expect("default");
    assert_eq!((kvm.version.as_str(), kvm.max_guests), ("default", 50));
    assert!(hvcaps_for(&mut c, "XenServer", None)
        .await
        .expect("for")
        .is_none());
    drop(c);
    let mut tx = store.begin().await.expect("begin");
    hvcaps_update(
        &mut tx,
        &HvCapsRow {
            max_guests: 3,
            vm_snapshot_enabled: false,
            ..kvm.clone()
        },
    )
    .await
    .expect("update");
    tx.commit().await.expect("commit");
    let mut c = store.read().await.expect("read");
    let got = hvcaps_list(&mut c, Some(kvm.id), None)
        .await
        .expect("by id");
    assert_eq!(
        (
            got[0].max_guests,
            got[0].vm_snapshot_enabled,
            got[0].max_data_volumes
        ),
        (3, false, 24)
    );
}

async fn tags(store: &DataStore) {
    let role = seed_roles(store).await;
    let root = domain(store, "ROOT", None).await;
    let alice = account(store, "alice", &root, &role).await;
    let (r1, r2) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    let tag = |rid: uuid::Uuid, k: &str, v: &str| NewTag {
        resource_type: "Template".into(),
        resource_id: rid,
        key: k.into(),
        value: v.into(),
        account_id: alice,
        domain_id: root.id,
        customer: None,
    };
    let mut tx = store.begin().await.expect("begin");
    tag_insert(&mut tx, &tag(r1, "env", "prod"))
        .await
        .expect("t1");
    tag_insert(&mut tx, &tag(r1, "team", "db"))
        .await
        .expect("t2");
    tag_insert(&mut tx, &tag(r2, "env", "dev"))
        .await
        .expect("t3");
    tx.commit().await.expect("commit");
    let mut tx = store.begin().await.expect("begin");
    let dup = tag_insert(&mut tx, &tag(r1, "env", "other")).await;
    assert!(matches!(dup, Err(DbError::Conflict(_))), "{dup:?}");
    drop(tx);
    let mut c = store.read().await.expect("read");
    let (rows, n) = tag_list(&mut c, &TagFilter::all()).await.expect("all");
    assert_eq!((n, rows.len()), (3, 3));
    let f = TagFilter {
        resource_ids: vec![r1],
        ..TagFilter::all()
    };
    let (rows, _) = tag_list(&mut c, &f).await.expect("r1");
    assert_eq!(
        rows.iter().map(|t| t.key.as_str()).collect::<Vec<_>>(),
        ["env", "team"]
    );
    assert_eq!(rows[0].account_name, "alice");
    let f = TagFilter {
        key: Some("env".into()),
        value: Some("dev".into()),
        ..TagFilter::all()
    };
    assert_eq!(tag_list(&mut c, &f).await.expect("kv").0[0].resource_id, r2);
    let f = TagFilter {
        keyword: Some("PRO".into()),
        ..TagFilter::all()
    };
    assert_eq!(tag_list(&mut c, &f).await.expect("kw").1, 1);
    let f = TagFilter {
        scope: OwnerScope::Account(AccountId::new()),
        ..TagFilter::all()
    };
    assert_eq!(tag_list(&mut c, &f).await.expect("other").1, 0);
    let first = rows[0].id;
    drop(c);
    let mut tx = store.begin().await.expect("begin");
    tag_delete(&mut tx, first).await.expect("delete");
    tag_delete_for_resource(&mut tx, r2)
        .await
        .expect("for resource");
    tx.commit().await.expect("commit");
    let mut c = store.read().await.expect("read");
    let (rows, _) = tag_list(&mut c, &TagFilter::all()).await.expect("left");
    assert_eq!(
        rows.iter().map(|t| t.key.as_str()).collect::<Vec<_>>(),
        ["team"]
    );
}

async fn suite(fresh: impl Fn() -> String) {
    migrations(&fresh()).await;
    domains(&DataStore::open(&fresh()).await.expect("open")).await;
    accounts_and_users(&DataStore::open(&fresh()).await.expect("open")).await;
    sessions_settings_events(&DataStore::open(&fresh()).await.expect("open")).await;
    jobs(&DataStore::open(&fresh()).await.expect("open")).await;
    concurrency(&DataStore::open(&fresh()).await.expect("open")).await;
    inventory(&DataStore::open(&fresh()).await.expect("open")).await;
    keypairs(&DataStore::open(&fresh()).await.expect("open")).await;
    limits(&DataStore::open(&fresh()).await.expect("open")).await;
    hypervisor_capabilities(&DataStore::open(&fresh()).await.expect("open")).await;
    tags(&DataStore::open(&fresh()).await.expect("open")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conformance_sqlite() {
    let dir = tempfile::tempdir().expect("tmp");
    let n = std::sync::atomic::AtomicU32::new(0);
    suite(|| {
        let i = n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        format!(
            "sqlite:{}",
            dir.path().join(format!("db{i}.sqlite")).display()
        )
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conformance_postgres() {
    let Some(pg) = testkit::Postgres::start_for_test() else {
        return;
    };
    suite(|| pg.fresh_database().expect("create database")).await;
}
