//! The VM benchmark, with the real processes: a release `canopy up` (SQLite, or a throwaway
//! PostgreSQL with `--pg`), `canopy agent --simulate HOSTS` (0-delay simulated hosts, a
//! separate process), driven over the API like any client. Prints:
//! - deployVirtualMachine throughput and p50/p99 API-to-Running latency (DEPLOYS deploys,
//!   32 at a time, each polled every 5 ms until its job finished);
//! - listVirtualMachines (pagesize 500, listall) p50/p99 with VMS VMs: the deployed ones plus
//!   the rest written straight to the database as Running VMs spread over the hosts (the
//!   list path reads only the database);
//! - the server's RSS at that size;
//! - with `--ui`: the web console in Chromium at that size (`ui/tests/bench.mjs`: dashboard,
//!   the instances list, a search, the next page, a VM's page);
//! - the time from the death of a host (its agent process killed) to its HA VMs Running on
//!   other hosts, with the default 10 s heartbeats.
//!
//! Run:
//!
//!     scripts/bench-vms.sh            # both databases, 25,000 hosts, 100,000 VMs
//!     cargo run --release -p server --example vm_bench -- [--pg] [--hosts N] [--vms N] [--deploys N]

#[path = "bench_common/mod.rs"]
mod bench_common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use bench_common::*;

#[tokio::main]
async fn main() -> Res<()> {
    main_with(run).await
}

async fn run(data: PathBuf) -> Res<()> {
    let hosts = arg("--hosts", 25_000);
    let vms = arg("--vms", 100_000);
    let deploys = arg("--deploys", 1_000).min(vms);
    let Bench {
        api,
        zone,
        pod,
        cluster,
        template,
        offering,
        server_pid,
        mut procs,
        mut pg,
        want,
        database,
        ..
    } = start(
        &data,
        hosts,
        &format!(", {vms} VMs ({deploys} deployed through the API)"),
    )
    .await?;

    // 1. Deploys through the API: one at a time (latency), then 32 at a time (throughput).
    let mut solo = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        let r = api
            .call(&[
                ("command", "deployVirtualMachine"),
                ("zoneid", &zone),
                ("templateid", &template),
                ("serviceofferingid", &offering),
            ])
            .await?;
        let j = api.wait(&s(&r["jobid"]), Duration::from_millis(2)).await?;
        if j["jobstatus"] == 1 {
            solo.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    println!(
        "deployVirtualMachine one at a time: API-to-Running p50 {:.1} ms, p99 {:.1} ms ({} deploys, job polled every 2 ms)",
        pct(&mut solo, 0.5),
        pct(&mut solo, 0.99),
        solo.len()
    );
    let sem = std::sync::Arc::new(tokio::sync::Semaphore::new(32));
    let api = std::sync::Arc::new(api);
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..deploys {
        let (api, sem) = (api.clone(), sem.clone());
        let (zone, template, offering) = (zone.clone(), template.clone(), offering.clone());
        tasks.push(tokio::spawn(async move {
            let _p = sem.acquire_owned().await;
            let t = Instant::now();
            let r = api
                .call(&[
                    ("command", "deployVirtualMachine"),
                    ("zoneid", &zone),
                    ("templateid", &template),
                    ("serviceofferingid", &offering),
                ])
                .await?;
            let j = api.wait(&s(&r["jobid"]), Duration::from_millis(5)).await?;
            if j["jobstatus"] != 1 {
                return Err(format!("deploy failed: {}", j["jobresult"]).into());
            }
            Ok::<f64, Box<dyn std::error::Error + Send + Sync>>(t.elapsed().as_secs_f64() * 1000.0)
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        match t.await? {
            Ok(ms) => lat.push(ms),
            Err(e) => eprintln!("deploy: {e}"),
        }
    }
    let wall = t0.elapsed().as_secs_f64();
    let ok = lat.len();
    println!(
        "deployVirtualMachine: {ok}/{deploys} Running, {:.0} deploys/s; API-to-Running p50 {:.1} ms, p99 {:.1} ms (32 concurrent clients)",
        ok as f64 / wall,
        pct(&mut lat, 0.5),
        pct(&mut lat, 0.99)
    );

    // 2. The rest of the VMs, straight into the database.
    let url = database
        .clone()
        .unwrap_or_else(|| format!("sqlite:{}", data.join("canopy.db").display()));
    let store = db::DataStore::open(&url).await?;
    let (acct, user, domain) = {
        let a = api
            .call(&[("command", "listAccounts"), ("name", "admin")])
            .await?;
        let u = &a["account"][0]["user"][0];
        (
            s(&a["account"][0]["id"]).parse::<model::AccountId>()?,
            s(&u["id"]).parse::<model::UserId>()?,
            s(&a["account"][0]["domainid"]).parse::<model::DomainId>()?,
        )
    };
    let host_rows = fill_hosts(&store, std::slice::from_ref(&cluster)).await?;
    let fill = vms.saturating_sub(ok + solo.len());
    let t1 = Instant::now();
    let (zone_id, tmpl_id, so_id) = (
        zone.parse::<uuid::Uuid>()?,
        template.parse::<uuid::Uuid>()?,
        offering.parse::<uuid::Uuid>()?,
    );
    let cluster_id: uuid::Uuid = cluster.parse()?;
    let pod_id: uuid::Uuid = pod.parse()?;
    let mut done = 0;
    while done < fill {
        let mut tx = store.begin().await?;
        // Write first: the server writes to the same SQLite file, and a transaction that
        // starts with a read cannot wait for the write lock.
        db::counter_next(&mut tx, "account").await?;
        for i in done..(done + 2_000).min(fill) {
            let id = uuid::Uuid::new_v4();
            let v = db::NewVm {
                id: model::VmId(id),
                name: Some(format!("fill-{i}")),
                display_name: None,
                account_id: acct,
                domain_id: domain,
                user_id: user,
                zone_id,
                template_id: Some(tmpl_id),
                iso_id: None,
                service_offering_id: so_id,
                cpus: 1,
                cpu_mhz: 100,
                memory_mib: 64,
                ha_enable: false,
                group: None,
                userdata: None,
                keypairs: Vec::new(),
                attrs: serde_json::json!({"hypervisor": "Simulator"}),
                suffix: "VM".into(),
                reserve_cpu: true,
                reserve_memory: true,
            };
            db::vm_insert(&mut tx, &v).await?;
            let h = &host_rows[i % host_rows.len().max(1)];
            db::vm_transition(
                &mut tx,
                model::VmId(id),
                &[model::VmState::Stopped],
                model::VmState::Running,
                &db::VmPlace::on(h.id, cluster_id, pod_id),
            )
            .await?;
        }
        tx.commit().await?;
        done = (done + 2_000).min(fill);
    }
    println!(
        "filled {fill} more Running VMs straight into the database in {:.1} s",
        t1.elapsed().as_secs_f64()
    );

    // 3. listVirtualMachines at that size.
    let pages = (vms / 500).max(1);
    let mut lat = Vec::new();
    let mut total = 0;
    for i in 0..200 {
        let page = (1 + (i * 7919) % pages).to_string();
        let t = Instant::now();
        let r = api
            .call(&[
                ("command", "listVirtualMachines"),
                ("listall", "true"),
                ("page", &page),
                ("pagesize", "500"),
            ])
            .await?;
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
        total = r["count"].as_u64().unwrap_or(0);
    }
    println!(
        "listVirtualMachines pagesize=500 over {total} VMs: p50 {:.1} ms, p99 {:.1} ms (200 calls, client-side)",
        pct(&mut lat, 0.5),
        pct(&mut lat, 0.99)
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    println!(
        "server RSS with {want} hosts and {total} VMs: {} MiB",
        rss_mib(server_pid)
    );

    // 3b. The web console at that size, as a browser sees it.
    if std::env::args().any(|a| a == "--ui") {
        let origin = api.base.trim_end_matches("/client/api").to_string();
        let out = std::process::Command::new("node")
            .current_dir("ui")
            .args(["tests/bench.mjs", "--base", &origin, "--admin-json"])
            .arg(data.join("admin.json"))
            .args(["--search", "fill-4242"])
            .output()?;
        print!("{}", String::from_utf8_lossy(&out.stdout));
        if !out.status.success() {
            eprintln!("ui bench failed: {}", String::from_utf8_lossy(&out.stderr));
        }
    }

    // 4. HA: 8 HA VMs on the 4 victim hosts; their agent process dies.
    ha_after_death(&api, &zone, &cluster, &template, &offering, &mut procs).await?;
    drop(procs);
    if let Some(p) = pg.as_mut() {
        p.stop();
    }
    Ok(())
}
