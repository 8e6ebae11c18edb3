//! Inventory tables and hypervisor capabilities.

use db::*;

use crate::*;

pub(crate) async fn inventory(store: &DataStore) {
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

pub(crate) async fn hypervisor_capabilities(store: &DataStore) {
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

/// The host monitor's candidates: Disconnected hosts, hosts silent since the cutoff and,
/// with several servers, hosts held by a server not alive — never the beating rest.
pub(crate) async fn host_monitor(store: &DataStore) {
    let infra = |kind: &str, zone: Option<uuid::Uuid>, parent: Option<uuid::Uuid>| {
        let id = uuid::Uuid::new_v4();
        InfraRow {
            id,
            zone_id: zone.unwrap_or(id),
            parent_id: parent,
            name: format!("{kind}-{id}"),
            kind: kind.into(),
            state: "Enabled".into(),
            domain_id: None,
            attrs: serde_json::json!({}),
            created: 0,
        }
    };
    let zone = infra("Advanced", None, None);
    let pod = infra("pod", Some(zone.id), Some(zone.id));
    let cluster = infra("KVM", Some(zone.id), Some(pod.id));
    let (alive, dead) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    let host =
        |name: &str, status: HostStatus, pinged: Option<i64>, server: Option<uuid::Uuid>| HostRow {
            id: HostId::new(),
            zone_id: zone.id,
            pod_id: pod.id,
            cluster_id: cluster.id,
            name: name.into(),
            address: format!("{name}.example"),
            hypervisor: "KVM".into(),
            status,
            resource_state: ResourceState::Enabled,
            host_tags: vec![],
            inventory: serde_json::json!({}),
            secret_hash: None,
            server_id: server,
            last_pinged: pinged,
            disconnected: None,
            simulated: false,
            created: 0,
            vm_slots: None,
        };
    let hosts = [
        host("beating", HostStatus::Up, Some(10_000), Some(alive)),
        host("silent", HostStatus::Up, Some(1_000), Some(alive)),
        host(
            "disconnected",
            HostStatus::Disconnected,
            Some(10_000),
            Some(alive),
        ),
        host("orphaned", HostStatus::Up, Some(10_000), Some(dead)),
        host("never-joined", HostStatus::Connecting, None, None),
    ];
    let mut tx = store.begin().await.expect("begin");
    infra_insert(&mut tx, Infra::Zone, &zone)
        .await
        .expect("zone");
    infra_insert(&mut tx, Infra::Pod, &pod).await.expect("pod");
    infra_insert(&mut tx, Infra::Cluster, &cluster)
        .await
        .expect("cluster");
    for h in &hosts {
        host_insert(&mut tx, h).await.expect("host");
        // host_insert may not keep what a connection writes: set it as the agent would.
        if let (Some(s), Some(p)) = (h.server_id, h.last_pinged) {
            host_connected(&mut tx, h.id, &h.inventory, s, None)
                .await
                .expect("connected");
            host_touch_many(&mut tx, &[h.id], p).await.expect("ping");
        }
        host_set_status(&mut tx, h.id, h.status, None)
            .await
            .expect("status");
    }
    tx.commit().await.expect("commit");
    let mut c = store.read().await.expect("read");
    let names = |rows: Vec<HostRow>| -> Vec<String> {
        let mut n: Vec<String> = rows.into_iter().map(|h| h.name).collect();
        n.sort();
        n
    };
    fn ask(stale_before: i64, live: &[uuid::Uuid], several: bool) -> MonitorQuery<'_> {
        MonitorQuery {
            silent_before: 5_000,
            stale_before,
            live,
            several,
        }
    }
    let live = &[alive][..];
    // One server: its own connected hosts are judged in its memory; only Disconnected ones,
    // and those whose (rarely written) heartbeat is stale, are looked at.
    let one = host_monitor_candidates(&mut c, &ask(0, live, false))
        .await
        .expect("candidates");
    assert_eq!(names(one), vec!["disconnected"]);
    let stale = host_monitor_candidates(&mut c, &ask(2_000, live, false))
        .await
        .expect("candidates");
    assert_eq!(names(stale), vec!["disconnected", "silent"]);
    // A host held by a server that is not alive is judged by its heartbeat.
    let held_by_none = host_monitor_candidates(&mut c, &ask(0, &[], false))
        .await
        .expect("candidates");
    assert_eq!(names(held_by_none), vec!["disconnected", "silent"]);
    let several = host_monitor_candidates(&mut c, &ask(0, live, true))
        .await
        .expect("candidates");
    assert_eq!(names(several), vec!["disconnected", "orphaned"]);
    let none_alive = host_monitor_candidates(&mut c, &ask(0, &[], true))
        .await
        .expect("candidates");
    assert_eq!(
        names(none_alive),
        vec!["beating", "disconnected", "orphaned", "silent"]
    );
}
