//! Account-owned side tables: SSH key pairs, resource limits, resource tags.

use db::*;
use model::*;

use crate::*;

pub(crate) async fn keypairs(store: &DataStore) {
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

pub(crate) async fn limits(store: &DataStore) {
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

pub(crate) async fn tags(store: &DataStore) {
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
