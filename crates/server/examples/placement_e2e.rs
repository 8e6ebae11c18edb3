//! Placement end to end: snapshot a zone of N hosts from the database (SQLite; PostgreSQL with
//! `--pg` for a throwaway cluster or `CANOPY_BENCH_DATABASE=postgres://…`) and plan, as the
//! deploy path will.
//!
//!     cargo run --release -p server --example placement_e2e [HOSTS] [DECISIONS] [--pg]
//!
//! The zone is `canopy up`'s (one simulated host), widened with HOSTS rows in clusters of 100
//! written straight to the database (no agents: this measures the read + plan path).
//! Prints decisions per second and the snapshot/plan split.

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
    srv.shutdown().await;
    if let Some(p) = pg.as_mut() {
        p.stop();
    }
    Ok(())
}
