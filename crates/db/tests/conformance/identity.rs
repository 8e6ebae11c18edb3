//! Migrations, domains, accounts, users, sessions, settings and events.

use db::*;
use model::identity::{AccountState, AccountType, RoleType};
use model::*;

use crate::*;

pub(crate) async fn migrations(url: &str) {
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

pub(crate) async fn domains(store: &DataStore) {
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

pub(crate) async fn accounts_and_users(store: &DataStore) {
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

pub(crate) async fn sessions_settings_events(store: &DataStore) {
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
        ids: Vec::new(),
        archived: None,
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
