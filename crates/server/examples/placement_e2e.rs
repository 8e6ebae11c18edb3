//! Placement end to end: snapshot a zone of N hosts from the database (SQLite; PostgreSQL with
//! `--pg` for a throwaway cluster or `CANOPY_BENCH_DATABASE=postgres://…`) and plan, as the
//! deploy path will.
//!
//!     cargo run --release -p server --example placement_e2e [HOSTS] [DECISIONS] [--pg]
//!
//! The zone is `canopy up`'s (one simulated host), widened with HOSTS rows in clusters of 100
//! written straight to the database (no agents: this measures the read + plan path).
//! Prints decisions per second and the snapshot/plan split. Then, with 10 VM slots per host,
//! the same for a VM of a strict anti-affinity group whose 1,000 other VMs run on 1,000 hosts:
//! each decision also reads where the group's members run (`domain::affinity::of_vm`).

use std::time::{Duration, Instant};

use db::{Infra, InfraRow};
use uuid::Uuid;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let hosts = args.first().copied().unwrap_or(10_000);
    let decisions = args.get(1).copied().unwrap_or(50).max(1);
    let dir = tempfile::tempdir()?;
    // `--pg`: a throwaway PostgreSQL (testkit), stopped at the end.
    let mut pg = if std::env::args().any(|a| a == "--pg") {
        Some(testkit::Postgres::start()?)
    } else {
        None
    };
    let database = match &pg {
        Some(p) => Some(p.fresh_database()?),
        None => std::env::var("CANOPY_BENCH_DATABASE").ok(),
    };
    let backend = if database.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let cfg = server::Config {
        data_dir: dir.path().to_path_buf(),
        listen: "127.0.0.1:0".parse()?,
        database,
        agent_listen: "127.0.0.1:0".parse()?,
        advertise: None,
        ui_dir: None,
    };
    let srv = server::start(cfg).await?;
    let st = srv.state.clone();
    // Rows written here have no agent: keep the monitor from declaring them down mid-run.
    st.settings.set_local("ping.timeout", "100000");
    let z = server::up::ensure_zone(
        &st,
        dir.path(),
        server::up::HostChoice::Simulator,
        &server::up::NoLocalAgent,
    )
    .await
    .map_err(|e| format!("{:?}", e.into_api()))?;
    let zone: Uuid = z.zone_id.parse()?;
    let (cluster, host) = {
        let mut c = st.store.read().await?;
        let f = db::InfraFilter {
            zone_id: Some(zone),
            ..Default::default()
        };
        let cl: InfraRow = db::infra_list(&mut c, Infra::Cluster, &f)
            .await?
            .0
            .into_iter()
            .next()
            .ok_or("no cluster")?;
        let mut h = None;
        for _ in 0..200 {
            let hs = db::host_list(&mut c, &db::HostFilter::default()).await?.0;
            if let Some(x) = hs.into_iter().find(|x| x.status == model::HostStatus::Up) {
                h = Some(x);
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        (cl, h.ok_or("the simulated host never came Up")?)
    };
    let start = Instant::now();
    let mut tx = st.store.begin().await?;
    let mut current = cluster.clone();
    for i in 0..hosts {
        if i % 100 == 0 && i > 0 {
            current = InfraRow {
                id: Uuid::new_v4(),
                name: format!("bench-cluster-{}", i / 100),
                ..cluster.clone()
            };
            db::infra_insert(&mut tx, Infra::Cluster, &current).await?;
        }
        let mut h = host.clone();
        h.id = model::HostId(Uuid::new_v4());
        h.cluster_id = current.id;
        h.name = format!("bench-host-{i}");
        h.address = format!("bench-{i}");
        db::host_insert(&mut tx, &h).await?;
        let server_id = host.server_id.unwrap_or_default();
        db::host_connected(&mut tx, h.id, &h.inventory, server_id, None).await?;
    }
    tx.commit().await?;
    println!(
        "placement e2e: inserted {hosts} hosts in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    let policy = server::placing::policy(&st.settings);
    let (mut snap_t, mut plan_t, mut placed, mut usable) = (0f64, 0f64, 0, 0);
    let start = Instant::now();
    for i in 0..decisions {
        let t = Instant::now();
        let snap = server::placing::snapshot(&st, zone)
            .await
            .map_err(|e| format!("{e}"))?;
        snap_t += t.elapsed().as_secs_f64();
        usable = snap.hosts.iter().filter(|h| h.usable).count();
        let t = Instant::now();
        let r = placement::Request {
            cpus: 1,
            cpu_mhz: 500,
            memory: 256 << 20,
            disk: 1 << 30,
            seed: i as u64,
            ..Default::default()
        };
        if placement::plan(&snap, &r, &policy).is_ok() {
            placed += 1;
        }
        plan_t += t.elapsed().as_secs_f64();
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "placement e2e ({backend}): {} hosts ({usable} usable), {decisions} decisions in {secs:.2} s = {:.1} decisions/s; per decision: snapshot {:.1} ms, plan {:.2} ms ({placed} placed)",
        hosts + 1,
        decisions as f64 / secs,
        snap_t * 1000.0 / decisions as f64,
        plan_t * 1000.0 / decisions as f64,
    );
    // VM slots and a strict anti-affinity group of 1,000 running VMs.
    let group_size = 1000.min(hosts);
    let t = Instant::now();
    let (acct, user, domain) = {
        let mut c = st.store.read().await?;
        let root = db::domain_get_by_path(&mut c, "/")
            .await?
            .ok_or("no ROOT domain")?;
        let a = db::account_get_by_name(&mut c, root.id, "admin")
            .await?
            .ok_or("no admin account")?;
        let u = db::user_list_for_accounts(&mut c, &[a.id])
            .await?
            .into_iter()
            .next()
            .ok_or("no admin user")?;
        (a.id, u.id, root.id)
    };
    let all_hosts = {
        let mut c = st.store.read().await?;
        db::host_list(&mut c, &db::HostFilter::default()).await?.0
    };
    let group = Uuid::new_v4();
    let mut tx = st.store.begin().await?;
    db::counter_next(&mut tx, "account").await?;
    db::affinity_insert(
        &mut tx,
        &db::AffinityRow {
            id: group,
            name: "bench-spread".into(),
            group_type: domain::affinity::ANTI.into(),
            description: String::new(),
            account_id: acct,
            account_name: String::new(),
            domain_id: domain,
            domain_name: String::new(),
            domain_path: String::new(),
            created: 0,
        },
    )
    .await?;
    let new_vm = |i: usize| db::NewVm {
        id: model::VmId(Uuid::new_v4()),
        name: Some(format!("spread-{i}")),
        display_name: None,
        account_id: acct,
        domain_id: domain,
        user_id: user,
        zone_id: zone,
        template_id: None,
        iso_id: None,
        service_offering_id: Uuid::new_v4(),
        cpus: 1,
        cpu_mhz: 500,
        memory_mib: 256,
        ha_enable: false,
        group: None,
        userdata: None,
        keypairs: Vec::new(),
        attrs: serde_json::json!({}),
        suffix: "VM".into(),
        reserve_cpu: true,
        reserve_memory: true,
    };
    // The members spread over every cluster (every tenth host), so each cluster keeps hosts
    // the newcomer may take (only the first cluster has a storage pool).
    let step = (all_hosts.len() / group_size.max(1)).max(1);
    for (i, h) in all_hosts.iter().step_by(step).take(group_size).enumerate() {
        let v = new_vm(i);
        db::vm_insert(&mut tx, &v).await?;
        db::vm_transition(
            &mut tx,
            v.id,
            &[model::VmState::Stopped],
            model::VmState::Running,
            &db::VmPlace::on(h.id, h.cluster_id, h.pod_id),
        )
        .await?;
        db::vm_affinity_set(&mut tx, v.id, &[group]).await?;
    }
    let newcomer = new_vm(group_size);
    db::vm_insert(&mut tx, &newcomer).await?;
    db::vm_affinity_set(&mut tx, newcomer.id, &[group]).await?;
    tx.commit().await?;
    st.settings.set_local("vm.allocation.algorithm", "random");
    println!(
        "placement e2e: {group_size} running VMs of one anti-affinity group written in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let policy = server::placing::policy(&st.settings);
    let (mut snap_t, mut aff_t, mut plan_t, mut placed) = (0f64, 0f64, 0f64, 0);
    let start = Instant::now();
    for i in 0..decisions {
        let t = Instant::now();
        let mut snap = server::placing::snapshot(&st, zone)
            .await
            .map_err(|e| format!("{e}"))?;
        for h in snap.hosts.iter_mut() {
            h.max_guests = 10;
        }
        snap_t += t.elapsed().as_secs_f64();
        let t = Instant::now();
        let groups = domain::affinity::of_vm(&st, newcomer.id)
            .await
            .map_err(|e| format!("{e}"))?;
        aff_t += t.elapsed().as_secs_f64();
        let t = Instant::now();
        let mut r = placement::Request {
            cpus: 1,
            cpu_mhz: 500,
            memory: 256 << 20,
            disk: 1 << 30,
            seed: i as u64,
            ..Default::default()
        };
        groups.apply(&mut r);
        match placement::plan(&snap, &r, &policy) {
            Ok(p) => {
                if r.anti_affinity_hosts.contains(&p.host) {
                    return Err("a member's host was chosen".into());
                }
                placed += 1;
            }
            Err(e) if i == 0 => println!("placement e2e: not placed: {}", e.reason),
            Err(_) => {}
        }
        plan_t += t.elapsed().as_secs_f64();
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "placement e2e ({backend}), 10 VM slots per host, strict anti-affinity group of {group_size}: {decisions} decisions in {secs:.2} s = {:.1} decisions/s; per decision: snapshot {:.1} ms, group members {:.1} ms, plan {:.2} ms ({placed} placed)",
        decisions as f64 / secs,
        snap_t * 1000.0 / decisions as f64,
        aff_t * 1000.0 / decisions as f64,
        plan_t * 1000.0 / decisions as f64,
    );
    srv.shutdown().await;
    if let Some(p) = pg.as_mut() {
        p.stop();
    }
    Ok(())
}
