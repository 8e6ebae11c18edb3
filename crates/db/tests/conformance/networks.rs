//! Networking tables: ranges and public IPs (claims are exclusive), rules and their members,
//! routers (one live per network), generations (acknowledgements never go back), VNIs (unique
//! per zone among live networks).

use db::*;
use model::*;
use uuid::Uuid;

use crate::*;

fn network(zone: Uuid, acct: AccountId, dom: DomainId, name: &str, vni: Option<i64>) -> NetworkRow {
    NetworkRow {
        id: model::NetworkId::new(),
        name: name.into(),
        display_text: name.into(),
        zone_id: zone,
        account_id: Some(acct),
        account_name: None,
        domain_id: Some(dom),
        domain_name: None,
        domain_path: None,
        guest_type: "Isolated".into(),
        traffic_type: "Guest".into(),
        state: model::NetworkState::Allocated,
        cidr: Some("10.1.1.0/24".into()),
        gateway: Some("10.1.1.1".into()),
        netmask: Some("255.255.255.0".into()),
        network_domain: None,
        vni,
        network_offering_id: None,
        vpc_id: None,
        acl_id: None,
        attrs: serde_json::json!({}),
        created: 0,
    }
}

pub(crate) async fn networking(store: &DataStore) {
    let role = seed_roles(store).await;
    let root = domain(store, "ROOT", None).await;
    let alice = account(store, "alice", &root, &role).await;
    let bob = account(store, "bob", &root, &role).await;
    let zone = Uuid::new_v4();

    // A public range and its addresses.
    let range = VlanRangeRow {
        id: Uuid::new_v4(),
        zone_id: zone,
        physnet_id: None,
        pod_id: None,
        network_id: None,
        vlan: None,
        gateway: "203.0.113.1".into(),
        netmask: "255.255.255.0".into(),
        start_ip: "203.0.113.10".into(),
        end_ip: "203.0.113.13".into(),
        for_virtual: true,
        for_system: false,
        for_lb: false,
        account_id: None,
        account_name: None,
        domain_id: None,
        domain_name: None,
        domain_path: None,
        created: 0,
    };
    let addrs: Vec<std::net::Ipv4Addr> = (10..=13)
        .map(|i| std::net::Ipv4Addr::new(203, 0, 113, i))
        .collect();
    let mut tx = store.begin().await.expect("begin");
    vlan_range_insert(&mut tx, &range).await.expect("range");
    public_ips_insert(&mut tx, zone, range.id, &addrs)
        .await
        .expect("ips");
    tx.commit().await.expect("commit");
    // The same address twice in a zone is refused.
    let mut tx = store.begin().await.expect("begin");
    assert!(matches!(
        public_ips_insert(&mut tx, zone, range.id, &addrs[..1]).await,
        Err(DbError::Conflict(_))
    ));
    drop(tx);
    let mut c = store.read().await.expect("read");
    let free = public_ip_free(&mut c, zone, alice, 10).await.expect("free");
    assert_eq!(free.len(), 4);
    assert_eq!(free[0].1, "203.0.113.10", "lowest first");
    drop(c);

    // Networks: VNIs unique per zone among live networks.
    let na = network(zone, alice, root.id, "a-net", Some(1000));
    let nb = network(zone, bob, root.id, "b-net", None);
    let mut tx = store.begin().await.expect("begin");
    network_insert(&mut tx, &na).await.expect("a");
    network_insert(&mut tx, &nb).await.expect("b");
    tx.commit().await.expect("commit");
    let mut tx = store.begin().await.expect("begin");
    assert!(matches!(
        network_set_vni(&mut tx, nb.id, 1000).await,
        Err(DbError::Conflict(_))
    ));
    drop(tx);
    let mut tx = store.begin().await.expect("begin");
    assert!(network_set_vni(&mut tx, nb.id, 1001).await.expect("vni"));
    assert!(
        !network_set_vni(&mut tx, nb.id, 1002).await.expect("vni"),
        "only once"
    );
    tx.commit().await.expect("commit");
    let mut c = store.read().await.expect("read");
    let mut v = network_vnis(&mut c, zone).await.expect("vnis");
    v.sort_unstable();
    assert_eq!(v, vec![1000, 1001]);
    drop(c);
    // A stored value that does not decode (an unknown state, attributes that are not JSON) is
    // an error naming the table and column, never a row with the value silently dropped.
    for (sql, column) in [
        (
            "UPDATE networks SET attrs = 'not json' WHERE id = $1",
            "n_attrs",
        ),
        (
            "UPDATE networks SET state = 'Sideways' WHERE id = $1",
            "n_state",
        ),
    ] {
        let mut tx = store.begin().await.expect("begin");
        let old = network_get(&mut tx, nb.id).await.expect("get").expect("nb");
        sqlx::query(sql)
            .bind(nb.id.to_string())
            .execute(&mut *tx)
            .await
            .expect("corrupt it");
        match network_get(&mut tx, nb.id).await {
            Err(DbError::Corrupt {
                table, column: c, ..
            }) => {
                assert_eq!((table, c), ("networks", column))
            }
            other => panic!("a corrupt {column} must fail loudly: {other:?}"),
        }
        drop(tx);
        assert_eq!(old.id, nb.id);
    }

    // Claims are exclusive; release frees.
    let ip = free_first(store, zone, alice).await;
    let mut tx = store.begin().await.expect("begin");
    assert!(public_ip_claim(
        &mut tx,
        ip,
        alice,
        root.id,
        Some(na.id.into()),
        true,
        model::IpState::Allocated
    )
    .await
    .expect("claim"));
    assert!(!public_ip_claim(
        &mut tx,
        ip,
        bob,
        root.id,
        Some(nb.id.into()),
        false,
        model::IpState::Allocated
    )
    .await
    .expect("claim"));
    tx.commit().await.expect("commit");
    let mut c = store.read().await.expect("read");
    let mine = public_ip_list(
        &mut c,
        &PublicIpFilter {
            scope: Some(OwnerScope::Account(alice)),
            allocated_only: true,
            ..Default::default()
        },
    )
    .await
    .expect("list");
    assert_eq!(mine.1, 1);
    assert!(mine.0[0].source_nat);
    assert_eq!(mine.0[0].network_id, Some(na.id));
    assert_eq!(mine.0[0].gateway, "203.0.113.1");
    assert_eq!(public_ip_capacity(&mut c, zone).await.expect("cap"), (4, 1));
    assert_eq!(public_ips_in_use(&mut c, range.id).await.expect("use"), 1);
    drop(c);
    let mut tx = store.begin().await.expect("begin");
    assert!(
        public_ip_static_nat(&mut tx, ip, Some((Uuid::new_v4(), "10.1.1.5".into())))
            .await
            .expect("nat")
    );
    assert!(
        !public_ip_static_nat(&mut tx, ip, Some((Uuid::new_v4(), "10.1.1.6".into())))
            .await
            .expect("nat")
    );
    public_ip_release(&mut tx, ip).await.expect("release");
    tx.commit().await.expect("commit");
    let mut c = store.read().await.expect("read");
    let got = public_ip_get(&mut c, ip).await.expect("get").expect("row");
    assert_eq!(
        (got.state.as_str(), got.account_id, got.static_nat_vm),
        ("Free", None, None)
    );
    drop(c);

    // Rules: unique security-group names per account, members, removal by parent.
    let sg = Uuid::new_v4();
    let rule = |id: Uuid,
                kind: &'static str,
                name: Option<&str>,
                acct: AccountId,
                parent: Option<Uuid>| NewRule {
        id,
        name: name.map(str::to_string),
        state: model::RuleState::Active,
        account_id: Some(acct),
        domain_id: Some(root.id),
        network_id: None,
        ip_id: None,
        parent_id: parent,
        spec: match kind {
            "securitygroup" => RuleSpec::SecurityGroup(Default::default()),
            _ => RuleSpec::Ingress(db::rulespec::SgRuleSpec {
                l4: db::rulespec::L4 {
                    protocol: "tcp".into(),
                    startport: Some(22),
                    ..Default::default()
                },
                ..Default::default()
            }),
        },
    };
    let mut tx = store.begin().await.expect("begin");
    rule_insert(
        &mut tx,
        &rule(sg, "securitygroup", Some("web"), alice, None),
    )
    .await
    .expect("sg");
    rule_insert(
        &mut tx,
        &rule(Uuid::new_v4(), "securitygroup", Some("web"), bob, None),
    )
    .await
    .expect("other account");
    rule_insert(
        &mut tx,
        &rule(Uuid::new_v4(), "ingress", None, alice, Some(sg)),
    )
    .await
    .expect("rule");
    tx.commit().await.expect("commit");
    let mut tx = store.begin().await.expect("begin");
    assert!(matches!(
        rule_insert(
            &mut tx,
            &rule(Uuid::new_v4(), "securitygroup", Some("web"), alice, None)
        )
        .await,
        Err(DbError::Conflict(_))
    ));
    drop(tx);
    let vm = Uuid::new_v4();
    let mut tx = store.begin().await.expect("begin");
    for _ in 0..2 {
        member_add(
            &mut tx,
            &MemberRow {
                owner_id: sg,
                member_id: model::VmId(vm),
                ip: None,
            },
        )
        .await
        .expect("member");
    }
    tx.commit().await.expect("commit");
    let mut c = store.read().await.expect("read");
    assert_eq!(
        members_of(&mut c, &[sg]).await.expect("members").len(),
        1,
        "idempotent"
    );
    assert_eq!(
        memberships(&mut c, &[model::VmId(vm)])
            .await
            .expect("of vm")[0]
            .owner_id,
        sg
    );
    let (rows, n) = rule_list(
        &mut c,
        &RuleFilter {
            kinds: vec!["ingress"],
            parent_ids: vec![sg],
            ..Default::default()
        },
    )
    .await
    .expect("rules");
    assert_eq!(
        (n, rows[0].spec.l4().and_then(|l| l.startport)),
        (1, Some(22))
    );
    drop(c);
    // A spec that does not decode as its kind is an error naming the row, not a lost rule.
    let mut tx = store.begin().await.expect("begin");
    sqlx::query("UPDATE net_rules SET spec = '{\"protocol\": 6}' WHERE id = $1")
        .bind(rows[0].id.to_string())
        .execute(&mut *tx)
        .await
        .expect("corrupt it");
    tx.commit().await.expect("commit");
    let mut c = store.read().await.expect("read");
    match rule_get(&mut c, rows[0].id).await {
        Err(DbError::Corrupt { value, .. }) => assert!(value.contains(&rows[0].id.to_string())),
        other => panic!("a corrupt spec must fail loudly: {other:?}"),
    }
    drop(c);
    let mut tx = store.begin().await.expect("begin");
    rule_update(
        &mut tx,
        rows[0].id,
        model::RuleState::Active,
        None,
        &rows[0].spec,
    )
    .await
    .expect("repair");
    tx.commit().await.expect("commit");
    let mut tx = store.begin().await.expect("begin");
    assert_eq!(
        rule_remove(&mut tx, RuleOwner::Parent, sg)
            .await
            .expect("rm"),
        1
    );
    assert_eq!(
        rule_remove(&mut tx, RuleOwner::Id, sg).await.expect("rm"),
        1
    );
    tx.commit().await.expect("commit");
    let mut c = store.read().await.expect("read");
    assert!(
        members_of(&mut c, &[sg]).await.expect("members").is_empty(),
        "members go with it"
    );
    drop(c);

    // Routers: one live per network.
    let r = |id: Uuid| RouterRow {
        id,
        name: "r-1-VM".into(),
        network_id: na.id,
        vpc_id: None,
        zone_id: zone,
        account_id: Some(alice),
        account_name: None,
        domain_id: Some(root.id),
        domain_name: None,
        domain_path: None,
        host_id: Some(model::HostId(Uuid::new_v4())),
        state: model::VmState::Running,
        guest_ip: Some("10.1.1.1".into()),
        guest_mac: "02:00:00:00:00:01".into(),
        public_ip_id: Some(ip),
        public_mac: "02:00:00:00:00:02".into(),
        link_local_ip: "169.254.0.9".into(),
        created: 0,
    };
    let first = Uuid::new_v4();
    let mut tx = store.begin().await.expect("begin");
    router_insert(&mut tx, &r(first)).await.expect("router");
    assert!(matches!(
        router_insert(&mut tx, &r(Uuid::new_v4())).await,
        Err(DbError::Conflict(_))
    ));
    drop(tx);
    let mut tx = store.begin().await.expect("begin");
    router_set(&mut tx, first, model::VmState::Stopped, None)
        .await
        .expect("set");
    router_remove(&mut tx, first).await.expect("rm");
    router_insert(&mut tx, &r(Uuid::new_v4()))
        .await
        .expect("a new one after removal");
    tx.commit().await.expect("commit");

    // Generations: recorded per round; an acknowledgement never goes back.
    let h = Uuid::new_v4();
    let mut tx = store.begin().await.expect("begin");
    netgen_record(&mut tx, &[(model::HostId(h), 3, "d3".into(), 3)])
        .await
        .expect("record");
    netgen_record(&mut tx, &[(model::HostId(h), 4, "d4".into(), 2)])
        .await
        .expect("record");
    tx.commit().await.expect("commit");
    let mut c = store.read().await.expect("read");
    let g = netgen_get(&mut c, model::HostId(h))
        .await
        .expect("get")
        .expect("row");
    assert_eq!((g.generation, g.digest.as_str(), g.acked), (4, "d4", 3));
    assert_eq!(
        netgen_list(&mut c, &[model::HostId(h), HostId::new()])
            .await
            .expect("list")
            .len(),
        1
    );
}

async fn free_first(store: &DataStore, zone: Uuid, acct: AccountId) -> Uuid {
    let mut c = store.read().await.expect("read");
    public_ip_free(&mut c, zone, acct, 1).await.expect("free")[0].0
}
