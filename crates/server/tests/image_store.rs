//! The image store's file endpoint on the agent port (`/store/<kind>/<id>`) as a real agent
//! uses it over TLS with its host credential: a snapshot's copy is accepted only from the host
//! that took it, only while it is backed up, only as a qcow2 image; a BackedUp one is fetched
//! back byte for byte; a wrong credential is refused.

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn snapshots_go_to_the_store_only_from_their_host() {
    let ts = TestServer::start().await;
    let c = ts.admin.clone();
    let kz = kvm_zone::KvmZone::new(&ts, "z", "10.9.9.9").await;
    let (zone, host, store, source) = (kz.zone.clone(), kz.host, kz.store.clone(), &kz.source);
    // A snapshot row being backed up, as the saga leaves it.
    let st = ts.server.as_ref().expect("running").state.clone();
    let acct = c
        .ok(&[("command", "listAccounts"), ("name", "admin")])
        .await;
    let account: model::AccountId = s(&acct["account"][0]["id"]).parse().expect("account");
    let domain: model::DomainId = s(&acct["account"][0]["domainid"]).parse().expect("domain");
    let snap = model::SnapshotId::new();
    let volume = model::VolumeId(uuid::Uuid::new_v4());
    let set_taker = |who: uuid::Uuid| {
        let st = st.clone();
        async move {
            let mut tx = st.store.begin().await.expect("db");
            db::snapshot_set_attrs(&mut tx, snap, &serde_json::json!({ "host_id": who }))
                .await
                .expect("attrs");
            tx.commit().await.expect("commit");
        }
    };
    {
        let mut tx = st.store.begin().await.expect("db");
        db::snapshot_insert(
            &mut tx,
            &db::NewSnapshot {
                id: snap,
                name: "s".into(),
                account_id: account,
                domain_id: domain,
                zone_id: zone.parse().expect("zone"),
                volume_id: volume,
                vol_type: "DATADISK".into(),
                interval_type: "MANUAL".into(),
                policy_id: None,
                size: 1 << 20,
                attrs: serde_json::json!({}),
            },
        )
        .await
        .expect("insert");
        use model::SnapshotState as S;
        db::snapshot_transition(&mut tx, snap, &[S::Allocated], S::Creating)
            .await
            .expect("creating");
        db::snapshot_transition(&mut tx, snap, &[S::Creating], S::BackingUp)
            .await
            .expect("backing up");
        tx.commit().await.expect("commit");
    }
    let dir = tempfile::tempdir().expect("tmp");
    let good = dir.path().join("good.qcow2");
    let mut body = b"QFI\xfb".to_vec();
    body.resize(300_000, 9);
    std::fs::write(&good, &body).expect("write");
    let bad = dir.path().join("bad.raw");
    std::fs::write(&bad, b"not an image").expect("write");
    // Taken by another host: refused.
    set_taker(uuid::Uuid::new_v4()).await;
    let e = source
        .upload("snapshot", snap.0, &good)
        .await
        .expect_err("other host");
    assert!(e.to_string().contains("403"), "{e}");
    // Its own host: not a qcow2 → refused; the image → stored and recorded.
    set_taker(host).await;
    let e = source
        .upload("snapshot", snap.0, &bad)
        .await
        .expect_err("not qcow2");
    assert!(
        e.to_string().contains("422") && e.to_string().contains("qcow2"),
        "{e}"
    );
    let n = source
        .upload("snapshot", snap.0, &good)
        .await
        .expect("stored");
    assert_eq!(n, body.len() as u64);
    let row = {
        let mut conn = st.store.read().await.expect("db");
        db::snapshot_get(&mut conn, snap)
            .await
            .expect("get")
            .expect("row")
    };
    assert_eq!(row.physical_size, body.len() as i64);
    let file = store.join(row.path.clone().expect("path"));
    assert_eq!(std::fs::read(&file).expect("stored file"), body);
    // Not fetched while backing up; fetched byte for byte once BackedUp.
    let back = dir.path().join("back.qcow2");
    assert!(source.fetch_snapshot(snap.0, &back).await.is_err());
    {
        let mut tx = st.store.begin().await.expect("db");
        use model::SnapshotState as S;
        db::snapshot_transition(&mut tx, snap, &[S::BackingUp], S::BackedUp)
            .await
            .expect("backed up");
        tx.commit().await.expect("commit");
    }
    source.fetch_snapshot(snap.0, &back).await.expect("fetch");
    assert_eq!(std::fs::read(&back).expect("back"), body);
    // Once BackedUp nothing replaces it; a wrong credential is refused.
    let e = source
        .upload("snapshot", snap.0, &good)
        .await
        .expect_err("done");
    assert!(e.to_string().contains("409"), "{e}");
    let wrong = agent::images::ImageSource::new(
        &kz.servers,
        &kz.fingerprint,
        &agent::Credential::Host {
            host_id: host,
            secret: "nope".into(),
        },
    );
    let e = wrong
        .fetch_snapshot(snap.0, &back)
        .await
        .expect_err("wrong secret");
    assert!(e.to_string().contains("401"), "{e}");
    kz.stop().await;
    ts.stop().await;
}
