//! VPCs: names unique per account and zone among live VPCs, listing by owner, state and name,
//! tiers found by their VPC (and kept out of "networks outside VPCs"), one live router per VPC.

use db::*;
use model::*;
use uuid::Uuid;

use crate::*;

fn vpc(zone: Uuid, acct: AccountId, dom: DomainId, name: &str) -> VpcRow {
    VpcRow {
        id: VpcId::new(),
        name: name.into(),
        display_text: format!("{name} text"),
        zone_id: zone,
        account_id: Some(acct),
        account_name: None,
        domain_id: Some(dom),
        domain_name: None,
        domain_path: None,
        vpc_offering_id: Uuid::new_v4(),
        cidr: "10.10.0.0/16".into(),
        network_domain: Some("vpc.internal".into()),
        state: VpcState::Enabled,
        attrs: serde_json::json!({"fordisplay": true}),
        created: 0,
    }
}

pub(crate) async fn vpcs(store: &DataStore) {
    let role = seed_roles(store).await;
    let root = domain(store, "ROOT", None).await;
    let alice = account(store, "alice", &root, &role).await;
    let bob = account(store, "bob", &root, &role).await;
    let zone = Uuid::new_v4();

    let a = vpc(zone, alice, root.id, "prod");
    let mut tx = store.begin().await.expect("begin");
    vpc_insert(&mut tx, &a).await.expect("vpc");
    tx.commit().await.expect("commit");
    // (A failed statement aborts a PostgreSQL transaction: the conflict gets its own.)
    let mut tx = store.begin().await.expect("begin");
    assert!(
        matches!(
            vpc_insert(&mut tx, &vpc(zone, alice, root.id, "prod")).await,
            Err(DbError::Conflict(_))
        ),
        "a second live VPC of one name in one account and zone"
    );
    drop(tx);
    let mut tx = store.begin().await.expect("begin");
    vpc_insert(&mut tx, &vpc(zone, bob, root.id, "prod"))
        .await
        .expect("another account may use the name");
    tx.commit().await.expect("commit");

    let mut c = store.read().await.expect("read");
    let got = vpc_get(&mut c, a.id).await.expect("get").expect("exists");
    assert_eq!(got.name, "prod");
    assert_eq!(got.account_name.as_deref(), Some("alice"));
    assert_eq!(got.cidr, "10.10.0.0/16");
    assert_eq!(got.state, VpcState::Enabled);
    assert_eq!(got.attrs["fordisplay"], true);
    let (mine, n) = vpc_list(
        &mut c,
        &VpcFilter {
            scope: Some(OwnerScope::Account(alice)),
            ..Default::default()
        },
    )
    .await
    .expect("list");
    assert_eq!((mine.len(), n), (1, 1));
    let (named, _) = vpc_list(
        &mut c,
        &VpcFilter {
            name: Some("PROD".into()),
            ..Default::default()
        },
    )
    .await
    .expect("list");
    assert_eq!(named.len(), 2, "names match without case");
    assert_eq!(
        owner_usage(&mut c, &OwnerScope::Account(alice))
            .await
            .expect("usage")
            .vpcs,
        1,
        "a VPC counts against the account's vpc limit"
    );
    drop(c);

    // Update and state.
    let mut up = got.clone();
    up.name = "production".into();
    up.state = VpcState::Inactive;
    up.attrs["restartrequired"] = serde_json::json!(true);
    let mut tx = store.begin().await.expect("begin");
    assert_eq!(vpc_update(&mut tx, &up).await.expect("update"), 1);
    tx.commit().await.expect("commit");
    let mut c = store.read().await.expect("read");
    let got = vpc_get(&mut c, a.id).await.expect("get").expect("exists");
    assert_eq!(
        (got.name.as_str(), got.state),
        ("production", VpcState::Inactive)
    );
    assert_eq!(got.attrs["restartrequired"], true);
    let (inactive, _) = vpc_list(
        &mut c,
        &VpcFilter {
            state: Some(VpcState::Inactive),
            ..Default::default()
        },
    )
    .await
    .expect("list");
    assert_eq!(inactive.len(), 1);
    drop(c);

    // Tiers.
    let tier = NetworkRow {
        id: NetworkId::new(),
        name: "web".into(),
        display_text: "web".into(),
        zone_id: zone,
        account_id: Some(alice),
        account_name: None,
        domain_id: Some(root.id),
        domain_name: None,
        domain_path: None,
        guest_type: "Isolated".into(),
        traffic_type: "Guest".into(),
        state: NetworkState::Allocated,
        cidr: Some("10.10.1.0/24".into()),
        gateway: Some("10.10.1.1".into()),
        netmask: Some("255.255.255.0".into()),
        network_domain: None,
        vni: None,
        network_offering_id: None,
        vpc_id: Some(a.id),
        acl_id: None,
        attrs: serde_json::json!({}),
        created: 0,
    };
    let plain = NetworkRow {
        id: NetworkId::new(),
        name: "plain".into(),
        vpc_id: None,
        ..tier.clone()
    };
    let mut tx = store.begin().await.expect("begin");
    network_insert(&mut tx, &tier).await.expect("tier");
    network_insert(&mut tx, &plain).await.expect("network");
    tx.commit().await.expect("commit");
    let mut c = store.read().await.expect("read");
    let (tiers, _) = network_list(
        &mut c,
        &NetworkFilter {
            vpc_ids: vec![a.id],
            ..Default::default()
        },
    )
    .await
    .expect("tiers");
    assert_eq!(
        tiers.iter().map(|t| t.id).collect::<Vec<_>>(),
        vec![tier.id]
    );
    assert_eq!(tiers[0].vpc_id, Some(a.id));
    let (outside, _) = network_list(
        &mut c,
        &NetworkFilter {
            in_vpc: Some(false),
            ..Default::default()
        },
    )
    .await
    .expect("outside");
    assert_eq!(
        outside.iter().map(|t| t.id).collect::<Vec<_>>(),
        vec![plain.id]
    );
    drop(c);

    // The VPC's router: one live per VPC.
    let r = |id: Uuid| RouterRow {
        id,
        name: "r-2-VM".into(),
        network_id: NetworkId(a.id.0),
        vpc_id: Some(a.id),
        zone_id: zone,
        account_id: Some(alice),
        account_name: None,
        domain_id: Some(root.id),
        domain_name: None,
        domain_path: None,
        host_id: None,
        state: VmState::Starting,
        guest_ip: None,
        guest_mac: "02:00:00:00:00:11".into(),
        public_ip_id: None,
        public_mac: "02:00:00:00:00:12".into(),
        link_local_ip: "169.254.0.10".into(),
        created: 0,
    };
    let first = Uuid::new_v4();
    let mut tx = store.begin().await.expect("begin");
    router_insert(&mut tx, &r(first)).await.expect("router");
    tx.commit().await.expect("commit");
    let mut tx = store.begin().await.expect("begin");
    assert!(matches!(
        router_insert(&mut tx, &r(Uuid::new_v4())).await,
        Err(DbError::Conflict(_))
    ));
    drop(tx);
    let mut c = store.read().await.expect("read");
    let (vr, _) = router_list(
        &mut c,
        &RouterFilter {
            vpc_ids: vec![a.id],
            ..Default::default()
        },
    )
    .await
    .expect("routers");
    assert_eq!(vr.len(), 1);
    assert_eq!(vr[0].vpc_id, Some(a.id));
    let (plain_routers, _) = router_list(
        &mut c,
        &RouterFilter {
            for_vpc: Some(false),
            ..Default::default()
        },
    )
    .await
    .expect("routers");
    assert!(plain_routers.is_empty());
    drop(c);

    // Removal frees the name.
    let mut tx = store.begin().await.expect("begin");
    assert_eq!(vpc_remove(&mut tx, a.id).await.expect("remove"), 1);
    vpc_insert(&mut tx, &vpc(zone, alice, root.id, "production"))
        .await
        .expect("the name is free again");
    tx.commit().await.expect("commit");
    let mut c = store.read().await.expect("read");
    assert!(vpc_get(&mut c, a.id).await.expect("get").is_none());
}
