//! Virtual machines, volumes and saga progress.

use db::*;
use model::*;
use uuid::Uuid;

use crate::*;

fn new_vm(acct: AccountId, dom: DomainId, user: UserId, zone: Uuid, name: &str) -> NewVm {
    NewVm {
        id: model::VmId(Uuid::new_v4()),
        name: Some(name.to_string()),
        display_name: None,
        account_id: acct,
        domain_id: dom,
        user_id: user,
        zone_id: zone,
        template_id: Some(Uuid::new_v4()),
        iso_id: None,
        service_offering_id: Uuid::new_v4(),
        cpus: 2,
        cpu_mhz: 1000,
        memory_mib: 512,
        ha_enable: true,
        group: Some("web".into()),
        userdata: None,
        keypairs: vec!["k1".into()],
        attrs: serde_json::json!({"hypervisor": "Simulator"}),
        suffix: "VM".into(),
        reserve_cpu: true,
        reserve_memory: true,
    }
}

pub(crate) async fn vms(store: &DataStore) {
    let role = seed_roles(store).await;
    let root = domain(store, "ROOT", None).await;
    let sub = domain(store, "sub", Some(&root)).await;
    let alice = account(store, "alice", &root, &role).await;
    let bob = account(store, "bob", &sub, &role).await;
    let ua = user(store, "alice", alice, root.id, None).await;
    let ub = user(store, "bob", bob, sub.id, None).await;
    let zone = Uuid::new_v4();
    let (host, cluster, pod) = (HostId::new(), Uuid::new_v4(), Uuid::new_v4());

    // Instance names: i-<account number>-<vm number>-<suffix>, numbers handed out once.
    let a1 = new_vm(alice, root.id, ua, zone, "a1");
    let a2 = new_vm(alice, root.id, ua, zone, "a2");
    let b1 = new_vm(bob, sub.id, ub, zone, "b1");
    let mut tx = store.begin().await.expect("begin");
    let n1 = vm_insert(&mut tx, &a1).await.expect("a1");
    let n2 = vm_insert(&mut tx, &a2).await.expect("a2");
    let n3 = vm_insert(&mut tx, &b1).await.expect("b1");
    tx.commit().await.expect("commit");
    assert_eq!(n1, "i-2-1-VM");
    assert_eq!(n2, "i-2-2-VM");
    assert_eq!(n3, "i-3-3-VM");

    // Concurrent inserts never share a number.
    let mut tasks = Vec::new();
    for i in 0..10 {
        let store = store.clone();
        let v = new_vm(alice, root.id, ua, zone, &format!("c{i}"));
        tasks.push(tokio::spawn(async move {
            let mut tx = store.begin().await.expect("begin");
            let n = vm_insert(&mut tx, &v).await.expect("insert");
            tx.commit().await.expect("commit");
            n
        }));
    }
    let mut names = std::collections::BTreeSet::new();
    for t in tasks {
        assert!(names.insert(t.await.expect("task")));
    }
    assert_eq!(names.len(), 10);

    let mut c = store.read().await.expect("read");
    let v = vm_get(&mut c, a1.id).await.expect("get").expect("exists");
    assert_eq!(v.state, model::VmState::Stopped);
    assert_eq!(v.name, "a1");
    assert_eq!(v.display_name, "a1", "display name defaults to the name");
    assert_eq!(v.account_name, "alice");
    assert_eq!(v.keypairs, vec!["k1".to_string()]);
    assert_eq!(v.group.as_deref(), Some("web"));
    assert!(v.ha_enable && v.host_id.is_none());

    // Lists: scope, filters, paging.
    let all = VmFilter {
        scope: Some(OwnerScope::All),
        ..Default::default()
    };
    assert_eq!(vm_list(&mut c, &all).await.expect("list").1, 13);
    let bobs = VmFilter {
        scope: Some(OwnerScope::Account(bob)),
        ..Default::default()
    };
    assert_eq!(vm_list(&mut c, &bobs).await.expect("list").0[0].id, b1.id);
    let subtree = VmFilter {
        scope: Some(OwnerScope::Domain {
            id: sub.id,
            path: sub.path.clone(),
            recursive: true,
        }),
        ..Default::default()
    };
    assert_eq!(vm_list(&mut c, &subtree).await.expect("list").1, 1);
    let paged = VmFilter {
        offset: 2,
        limit: Some(2),
        ..all.clone()
    };
    let (p, total) = vm_list(&mut c, &paged).await.expect("list");
    assert_eq!((p.len(), total), (2, 13));
    assert_eq!(p[0].seq, 3, "ordered by number");
    let named = VmFilter {
        name: Some("a2".into()),
        keypair: Some("k1".into()),
        group: Some("web".into()),
        ..all.clone()
    };
    assert_eq!(vm_list(&mut c, &named).await.expect("list").0[0].id, a2.id);
    let kw = VmFilter {
        keyword: Some("I-2-2".into()),
        ..all.clone()
    };
    assert_eq!(vm_list(&mut c, &kw).await.expect("list").1, 1);
    drop(c);

    // Transitions are conditional: an illegal one changes nothing.
    let mut tx = store.begin().await.expect("begin");
    // A move the state machine forbids is refused before it reaches the database.
    assert!(matches!(
        vm_transition(
            &mut tx,
            a1.id,
            &[model::VmState::Expunging],
            model::VmState::Running,
            &VmPlace::keep()
        )
        .await,
        Err(db::DbError::IllegalTransition {
            from: "Expunging",
            to: "Running",
            ..
        })
    ));
    assert!(!vm_transition(
        &mut tx,
        a1.id,
        &[model::VmState::Running],
        model::VmState::Stopping,
        &VmPlace::keep()
    )
    .await
    .expect("t"));
    assert!(vm_transition(
        &mut tx,
        a1.id,
        &[model::VmState::Stopped],
        model::VmState::Starting,
        &VmPlace::on(host, cluster, pod)
    )
    .await
    .expect("t"));
    assert!(vm_transition(
        &mut tx,
        a1.id,
        &[model::VmState::Starting],
        model::VmState::Running,
        &VmPlace::keep()
    )
    .await
    .expect("t"));
    assert!(vm_transition(
        &mut tx,
        a2.id,
        &[model::VmState::Stopped],
        model::VmState::Starting,
        &VmPlace::on(host, cluster, pod)
    )
    .await
    .expect("t"));
    host_lock(&mut tx, host).await.expect("lock");
    let u = host_usage(&mut tx, host).await.expect("usage");
    assert_eq!(
        u,
        Usage {
            cpu_mhz: 4000,
            memory_mib: 1024,
            vms: 2
        }
    );
    tx.commit().await.expect("commit");
    let mut c = store.read().await.expect("read");
    let zu = zone_usage(&mut c, zone, Some(alice))
        .await
        .expect("zone usage");
    assert_eq!(zu, vec![(host, u, 2)]);
    let other = HostId::new();
    assert_eq!(
        hosts_usage(&mut c, &[other, host])
            .await
            .expect("hosts usage"),
        vec![(host, u)]
    );
    assert_eq!(hosts_usage(&mut c, &[]).await.expect("none"), vec![]);
    let on_host = VmFilter {
        host_id: Some(host),
        states: vec![model::VmState::Running],
        ..all.clone()
    };
    assert_eq!(vm_list(&mut c, &on_host).await.expect("list").1, 1);
    let present = VmFilter {
        hide_states: vec![model::VmState::Running, model::VmState::Starting],
        ..all.clone()
    };
    assert_eq!(vm_list(&mut c, &present).await.expect("list").1, 11);
    drop(c);
    // Off the host: the host becomes the last host and frees its capacity.
    let mut tx = store.begin().await.expect("begin");
    assert!(vm_transition(
        &mut tx,
        a2.id,
        &[model::VmState::Starting],
        model::VmState::Stopped,
        &VmPlace::off()
    )
    .await
    .expect("t"));
    assert!(vm_update(
        &mut tx,
        a2.id,
        &VmChanges {
            display_name: Some("Two".into()),
            group: Some(None),
            offering: Some((Uuid::new_v4(), 4, 2000, 2048)),
            ..Default::default()
        }
    )
    .await
    .expect("update"));
    tx.commit().await.expect("commit");
    let mut c = store.read().await.expect("read");
    let v = vm_get(&mut c, a2.id).await.expect("get").expect("exists");
    assert_eq!((v.host_id, v.last_host_id), (None, Some(host)));
    assert_eq!(
        (v.display_name.as_str(), v.group.clone(), v.cpus),
        ("Two", None, 4)
    );
    assert_eq!(host_usage(&mut c, host).await.expect("usage").vms, 1);
    drop(c);

    // Volumes: Allocated → Creating → Ready on a pool; allocation per pool; attach/detach.
    let pool = Uuid::new_v4();
    let root_vol = Uuid::new_v4();
    let data_vol = Uuid::new_v4();
    let mut tx = store.begin().await.expect("begin");
    for (id, t, dev, size) in [
        (root_vol, "ROOT", 0, 10i64 << 30),
        (data_vol, "DATADISK", 1, 5 << 30),
    ] {
        volume_insert(
            &mut tx,
            &NewVolume {
                id: model::VolumeId(id),
                name: format!("{t}-1"),
                vol_type: t.into(),
                account_id: alice,
                domain_id: root.id,
                zone_id: zone,
                vm_id: Some(a1.id),
                device_id: Some(dev),
                size,
                disk_offering_id: None,
                template_id: None,
                attrs: serde_json::json!({}),
            },
        )
        .await
        .expect("volume");
    }
    assert!(!volume_transition(
        &mut tx,
        model::VolumeId(root_vol),
        &[model::VolumeState::Creating],
        model::VolumeState::Ready,
        None
    )
    .await
    .expect("t"));
    assert!(volume_transition(
        &mut tx,
        model::VolumeId(root_vol),
        &[model::VolumeState::Allocated],
        model::VolumeState::Creating,
        Some(Some((pool, String::new())))
    )
    .await
    .expect("t"));
    assert!(volume_transition(
        &mut tx,
        model::VolumeId(root_vol),
        &[model::VolumeState::Creating],
        model::VolumeState::Ready,
        Some(Some((pool, "/p/root".into())))
    )
    .await
    .expect("t"));
    assert!(
        volume_set_host(&mut tx, model::VolumeId(root_vol), Some(host))
            .await
            .expect("host")
    );
    tx.commit().await.expect("commit");
    let mut c = store.read().await.expect("read");
    let v = volume_get(&mut c, model::VolumeId(root_vol))
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(
        (v.state.as_str(), v.pool_id, v.path.as_deref(), v.host_id),
        ("Ready", Some(pool), Some("/p/root"), Some(host))
    );
    assert_eq!(
        pool_allocation(&mut c, zone).await.expect("alloc"),
        vec![(pool, 10 << 30)]
    );
    let of_vm = VolumeFilter {
        scope: Some(OwnerScope::Account(alice)),
        vm_id: Some(a1.id),
        ..Default::default()
    };
    assert_eq!(volume_list(&mut c, &of_vm).await.expect("list").1, 2);
    let data_only = VolumeFilter {
        vol_type: Some("datadisk".into()),
        ..of_vm.clone()
    };
    assert_eq!(
        volume_list(&mut c, &data_only).await.expect("list").0[0].id,
        data_vol
    );
    let usage = owner_usage(&mut c, &OwnerScope::Account(alice))
        .await
        .expect("usage");
    assert_eq!(
        (usage.vms, usage.volumes, usage.storage_bytes),
        (12, 2, 15 << 30)
    );
    let in_root = OwnerScope::Domain {
        id: root.id,
        path: root.path.clone(),
        recursive: true,
    };
    assert_eq!(owner_usage(&mut c, &in_root).await.expect("usage").vms, 13);
    drop(c);
    let mut tx = store.begin().await.expect("begin");
    assert!(volume_attach(&mut tx, model::VolumeId(data_vol), None)
        .await
        .expect("detach"));
    assert!(volume_resize(&mut tx, model::VolumeId(data_vol), 6 << 30)
        .await
        .expect("resize"));
    assert!(volume_mark_removed(&mut tx, model::VolumeId(root_vol))
        .await
        .expect("removed"));
    assert!(vm_mark_removed(&mut tx, a1.id).await.expect("removed"));
    tx.commit().await.expect("commit");
    let mut c = store.read().await.expect("read");
    let d = volume_get(&mut c, model::VolumeId(data_vol))
        .await
        .expect("get")
        .expect("exists");
    assert_eq!((d.vm_id, d.size), (None, 6 << 30));
    assert!(volume_get(&mut c, model::VolumeId(root_vol))
        .await
        .expect("get")
        .is_none());
    assert!(vm_get(&mut c, a1.id).await.expect("get").is_none());
    assert!(pool_allocation(&mut c, zone)
        .await
        .expect("alloc")
        .is_empty());
    assert_eq!(host_usage(&mut c, host).await.expect("usage").vms, 0);
    drop(c);

    // A detached volume (no VM, no device: typed NULLs on PostgreSQL).
    let mut tx = store.begin().await.expect("begin");
    volume_insert(
        &mut tx,
        &NewVolume {
            id: model::VolumeId::new(),
            name: "loose".into(),
            vol_type: "DATADISK".into(),
            account_id: alice,
            domain_id: root.id,
            zone_id: zone,
            vm_id: None,
            device_id: None,
            size: 1 << 30,
            disk_offering_id: None,
            template_id: None,
            attrs: serde_json::json!({}),
        },
    )
    .await
    .expect("detached volume");
    // Networks and NICs: an address or a MAC is taken once among live NICs.
    let net = NetworkRow {
        id: model::NetworkId::new(),
        name: "alice-network".into(),
        display_text: "d".into(),
        zone_id: zone,
        account_id: Some(alice),
        account_name: None,
        domain_id: Some(root.id),
        domain_name: None,
        domain_path: None,
        guest_type: "Isolated".into(),
        traffic_type: "Guest".into(),
        state: model::NetworkState::Allocated,
        cidr: Some("10.1.1.0/24".into()),
        gateway: Some("10.1.1.1".into()),
        netmask: Some("255.255.255.0".into()),
        network_domain: None,
        vni: None,
        network_offering_id: None,
        vpc_id: None,
        acl_id: None,
        attrs: serde_json::json!({}),
        created: 0,
    };
    network_insert(&mut tx, &net).await.expect("network");
    let dup = NetworkRow {
        id: model::NetworkId::new(),
        ..net.clone()
    };
    tx.commit().await.expect("commit");
    let mut tx = store.begin().await.expect("begin");
    assert!(matches!(
        network_insert(&mut tx, &dup).await,
        Err(DbError::Conflict(_))
    ));
    drop(tx);
    let nic = |vm: Uuid, ip: &str, mac: &str| NewNic {
        id: Uuid::new_v4(),
        vm_id: model::VmId(vm),
        network_id: net.id,
        ip4: Some(ip.into()),
        mac: mac.into(),
        device_id: 0,
        is_default: true,
    };
    let mut tx = store.begin().await.expect("begin");
    nic_insert(&mut tx, &nic(a2.id.into(), "10.1.1.2", "02:00:00:00:00:01"))
        .await
        .expect("nic");
    tx.commit().await.expect("commit");
    for bad in [
        nic(b1.id.into(), "10.1.1.2", "02:00:00:00:00:02"),
        nic(b1.id.into(), "10.1.1.3", "02:00:00:00:00:01"),
    ] {
        let mut tx = store.begin().await.expect("begin");
        assert!(matches!(
            nic_insert(&mut tx, &bad).await,
            Err(DbError::Conflict(_))
        ));
    }
    let mut c = store.read().await.expect("read");
    assert_eq!(
        nic_ips(&mut c, net.id).await.expect("ips"),
        vec!["10.1.1.2"]
    );
    let shown = nics_for_vms(&mut c, &[a2.id, b1.id]).await.expect("nics");
    assert_eq!(shown.len(), 1);
    assert_eq!(
        (shown[0].network_name.as_str(), shown[0].gateway.as_deref()),
        ("alice-network", Some("10.1.1.1"))
    );
    let mine = NetworkFilter {
        scope: Some(OwnerScope::Account(alice)),
        guest_type: Some("isolated".into()),
        ..Default::default()
    };
    assert_eq!(network_list(&mut c, &mine).await.expect("list").1, 1);
    drop(c);
    let mut tx = store.begin().await.expect("begin");
    assert_eq!(
        nic_release_for_vm(&mut tx, a2.id).await.expect("release"),
        1
    );
    nic_insert(&mut tx, &nic(b1.id.into(), "10.1.1.2", "02:00:00:00:00:01"))
        .await
        .expect("the address is free again");
    tx.commit().await.expect("commit");

    // Sagas: progress replaced in place; unfinished ones found by resource.
    let job = JobId::new();
    let mut row = SagaRow {
        job_id: job,
        kind: "start".into(),
        resource_id: Some(a2.id.into()),
        step: 0,
        phase: model::SagaPhase::Forward,
        data: serde_json::json!({"host": host}),
    };
    let mut tx = store.begin().await.expect("begin");
    saga_put(&mut tx, &row).await.expect("put");
    row.step = 2;
    saga_put(&mut tx, &row).await.expect("put");
    tx.commit().await.expect("commit");
    let mut c = store.read().await.expect("read");
    assert_eq!(saga_get(&mut c, job).await.expect("get"), Some(row.clone()));
    assert_eq!(
        saga_unfinished_for(&mut c, a2.id.into())
            .await
            .expect("unfinished"),
        vec![(job, "start".to_string())]
    );
    drop(c);
    row.phase = model::SagaPhase::Done;
    let mut tx = store.begin().await.expect("begin");
    saga_put(&mut tx, &row).await.expect("put");
    tx.commit().await.expect("commit");
    let mut c = store.read().await.expect("read");
    assert!(saga_unfinished_for(&mut c, a2.id.into())
        .await
        .expect("unfinished")
        .is_empty());
}

pub(crate) async fn guest_stats(store: &DataStore) {
    let (vm, other) = (VmId(Uuid::new_v4()), VmId(Uuid::new_v4()));
    let (h1, h2) = (HostId::new(), HostId::new());
    let figures = |id: VmId, reads: u64| model::stats::GuestStats {
        vm_id: id.0,
        cpu_used_percent: 12.5,
        memory_kib: 524288,
        memory_free_kib: Some(1000),
        disk_read_ops: reads,
        disks: vec![model::stats::DiskIo {
            volume_id: Uuid::new_v4(),
            read_ops: reads,
            ..Default::default()
        }],
        interfaces: vec![model::stats::GuestInterface {
            name: "eth0".into(),
            mac: "02:00:00:00:00:01".into(),
            ipv4: vec!["10.0.0.5".into()],
            ipv6: vec![],
        }],
        ..Default::default()
    };
    let mut tx = store.begin().await.expect("begin");
    vm_stats_put(&mut tx, h1, &[figures(vm, 1), figures(other, 7)])
        .await
        .expect("put");
    tx.commit().await.expect("commit");
    // A later report replaces the earlier one, wherever it came from.
    let mut tx = store.begin().await.expect("begin");
    vm_stats_put(&mut tx, h2, &[figures(vm, 5)])
        .await
        .expect("put");
    tx.commit().await.expect("commit");
    let mut c = store.read().await.expect("read");
    let mut rows = vm_stats_get(&mut c, &[vm, other, VmId(Uuid::new_v4())])
        .await
        .expect("get");
    rows.sort_by_key(|r| r.stats.disk_read_ops);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].vm_id, vm);
    assert_eq!(rows[0].host_id, h2);
    assert_eq!(rows[0].stats.disk_read_ops, 5);
    assert_eq!(
        rows[0].stats.interfaces[0].ipv4,
        vec!["10.0.0.5".to_string()]
    );
    assert_eq!(rows[0].stats.memory_free_kib, Some(1000));
    assert_eq!(rows[1].stats.disk_read_ops, 7);
    assert!(rows[0].collected > 0);
    drop(c);
    let mut tx = store.begin().await.expect("begin");
    assert_eq!(vm_stats_clear(&mut tx, vm).await.expect("clear"), 1);
    tx.commit().await.expect("commit");
    let mut c = store.read().await.expect("read");
    assert_eq!(vm_stats_get(&mut c, &[vm]).await.expect("get").len(), 0);
}
