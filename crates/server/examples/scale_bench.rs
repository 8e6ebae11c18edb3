//! The scale benchmark (issue 22): builds the scale the way an operator's cloud gets it and
//! prints every figure beside CloudStack's published one.
//!
//! - hosts by agents (`canopy agent --simulate AGENT_HOSTS`, one socket each, a separate
//!   process) and by the server (`addHost url=http://sim/...`, SERVER_HOSTS of them, 64 calls at
//!   a time; in-memory, no file each), with listHosts timed all through the join storm — the
//!   API must keep answering;
//! - VMs through the API (DEPLOYS deployVirtualMachine, CLIENTS at a time (default 256), each
//!   polling its job every 100 ms, all in the admin's one default network — throughput printed
//!   per quarter, so a fall with the network's size shows, and where a deploy's time goes, from
//!   the server's metrics) and the rest up to VMS straight into the database (each with its root volume);
//! - ACCOUNTS domains with an account each, and EVENTS events, straight into the database;
//! - the lists at that size (pagesize 500, random pages, 100 calls each: p50/p99);
//! - the server's resident memory; the time from a host's death to its HA VMs Running
//!   elsewhere (default settings).
//!
//! Run:
//!
//!     scripts/bench-scale.sh [--agent-hosts N] [--server-hosts N] [--vms N] [--deploys N]
//!                            [--clients N] [--accounts N] [--events N]  # SQLite, then PostgreSQL
//!     cargo run --release -p server --example scale_bench -- [--pg] [same options]

#[path = "bench_common/mod.rs"]
mod bench_common;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bench_common::*;

#[tokio::main]
async fn main() -> Res<()> {
    main_with(run).await
}

/// One line of the final table: what, Canopy's figure, CloudStack's.
struct Figure(String, String, &'static str);

async fn run(data: PathBuf) -> Res<()> {
    let agent_hosts = arg("--agent-hosts", 10_000);
    let server_hosts = arg("--server-hosts", 0);
    let vms = arg("--vms", 100_000);
    let deploys = arg("--deploys", 1_000).min(vms);
    let clients = arg("--clients", 256).max(1);
    let accounts = arg("--accounts", 25_000);
    let events = arg("--events", 100_000);
    let mut figures: Vec<Figure> = Vec::new();
    let started = Instant::now();
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
        database,
        backend,
        ..
    } = start(
        &data,
        agent_hosts,
        &format!(
            " by agents + {server_hosts} by the server, {vms} VMs, {accounts} accounts, {events} events"
        ),
    )
    .await?;
    figures.push(Figure(
        format!(
            "{} agent hosts Up (from the agents' start)",
            agent_hosts + 4
        ),
        format!("{:.1} s", started.elapsed().as_secs_f64()),
        "—",
    ));
    // The VMs written straight into the database go onto the agent hosts and the server-run
    // ones (100 a host at 1,000 agent hosts and 100,000 VMs): past the simulator's 50-guest
    // limit, HA would find no host for the dead host's VMs. The limit follows the scale.
    let caps = api
        .call(&[
            ("command", "listHypervisorCapabilities"),
            ("hypervisor", "Simulator"),
        ])
        .await?;
    let per_host = (vms / (agent_hosts + server_hosts).max(1) + 20)
        .max(50)
        .to_string();
    for c in caps["hypervisorCapabilities"]
        .as_array()
        .into_iter()
        .flatten()
    {
        api.call(&[
            ("command", "updateHypervisorCapabilities"),
            ("id", &s(&c["id"])),
            ("maxguestslimit", &per_host),
        ])
        .await?;
    }
    let api = Arc::new(api);

    // 1. Hosts the server simulates itself, added through the API while listHosts is timed.
    let rss_before = rss_mib(server_pid);
    // The clusters the VMs written straight into the database spread over.
    let mut fill_clusters = vec![cluster.clone()];
    if server_hosts > 0 {
        let srv = s(&api
            .call(&[
                ("command", "addCluster"),
                ("clustername", "server-run"),
                ("clustertype", "CloudManaged"),
                ("hypervisor", "Simulator"),
                ("podid", &pod),
                ("zoneid", &zone),
            ])
            .await?["cluster"][0]["id"]);
        fill_clusters.push(srv.clone());
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let poller = {
            let (api, done) = (api.clone(), done.clone());
            tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut failed = 0;
                while !done.load(std::sync::atomic::Ordering::SeqCst) {
                    let t = Instant::now();
                    match tokio::time::timeout(
                        Duration::from_secs(60),
                        api.call(&[("command", "listHosts"), ("page", "1"), ("pagesize", "500")]),
                    )
                    .await
                    {
                        Ok(Ok(_)) => lat.push(t.elapsed().as_secs_f64() * 1000.0),
                        _ => failed += 1,
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                (lat, failed)
            })
        };
        let t0 = Instant::now();
        let sem = Arc::new(tokio::sync::Semaphore::new(64));
        let mut tasks = Vec::new();
        for i in 0..server_hosts {
            let (api, sem) = (api.clone(), sem.clone());
            let (zone, pod, srv) = (zone.clone(), pod.clone(), srv.clone());
            tasks.push(tokio::spawn(async move {
                let _p = sem.acquire_owned().await;
                let url = format!("http://sim/srv/h{i}");
                api.call(&[
                    ("command", "addHost"),
                    ("zoneid", &zone),
                    ("podid", &pod),
                    ("clusterid", &srv),
                    ("hypervisor", "Simulator"),
                    ("url", &url),
                    ("username", "root"),
                    ("password", "x"),
                ])
                .await
                .map(|_| ())
            }));
        }
        let mut failed = 0;
        for t in tasks {
            if !matches!(t.await, Ok(Ok(()))) {
                failed += 1;
            }
        }
        let added = t0.elapsed().as_secs_f64();
        let want = server_hosts as u64;
        let mut up = 0;
        while t0.elapsed() < Duration::from_secs(1800) {
            up = api
                .call(&[
                    ("command", "listHosts"),
                    ("clusterid", &srv),
                    ("state", "Up"),
                    ("page", "1"),
                    ("pagesize", "1"),
                ])
                .await
                .map(|r| r["count"].as_u64().unwrap_or(0))
                .unwrap_or(0);
            if up >= want {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        let (mut lat, lost) = poller.await?;
        println!(
            "server-run hosts: {server_hosts} added in {added:.1} s ({:.0}/s, {failed} calls failed), {up} Up after {:.1} s",
            server_hosts as f64 / added,
            t0.elapsed().as_secs_f64()
        );
        println!(
            "listHosts pagesize=500 during the join: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} calls, {lost} failed or over 60 s)",
            pct(&mut lat, 0.5),
            pct(&mut lat, 0.99),
            pct(&mut lat, 1.0),
            lat.len()
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
        let rss = rss_mib(server_pid);
        println!(
            "server RSS {rss_before} → {rss} MiB with the server-run hosts ({:.1} KiB each, both ends in one process)",
            (rss.saturating_sub(rss_before) as f64 * 1024.0) / server_hosts as f64
        );
        figures.push(Figure(
            format!("{server_hosts} server-run hosts Up"),
            format!("{:.1} s", t0.elapsed().as_secs_f64()),
            "—",
        ));
        figures.push(Figure(
            "listHosts while hosts join (p99 / max)".into(),
            format!("{:.0} / {:.0} ms", pct(&mut lat, 0.99), pct(&mut lat, 1.0)),
            "—",
        ));
    }
    let total_hosts = agent_hosts + 4 + server_hosts;

    // 2. Deploys through the API, CLIENTS at a time, in quarters.
    let sem = Arc::new(tokio::sync::Semaphore::new(clients));
    let before = api.metrics().await?;
    let mut all = Vec::new();
    let mut rates = Vec::new();
    let quarter = (deploys / 4).max(1);
    let mut left = deploys;
    while left > 0 {
        let n = quarter.min(left);
        left -= n;
        let t0 = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..n {
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
                let j = api
                    .wait(&s(&r["jobid"]), Duration::from_millis(100))
                    .await?;
                if j["jobstatus"] != 1 {
                    return Err(format!("deploy failed: {}", j["jobresult"]).into());
                }
                Ok::<f64, Box<dyn std::error::Error + Send + Sync>>(
                    t.elapsed().as_secs_f64() * 1000.0,
                )
            }));
        }
        let mut ok = 0;
        for t in tasks {
            match t.await? {
                Ok(ms) => {
                    all.push(ms);
                    ok += 1;
                }
                Err(e) => eprintln!("deploy: {e}"),
            }
        }
        rates.push(ok as f64 / t0.elapsed().as_secs_f64());
    }
    let deployed = all.len();
    let rate_text: Vec<String> = rates.iter().map(|r| format!("{r:.0}")).collect();
    println!(
        "deployVirtualMachine: {deployed}/{deploys} Running into one network, deploys/s by quarter {}; API-to-Running p50 {:.1} ms, p99 {:.1} ms ({clients} concurrent clients, polling every 100 ms)",
        rate_text.join(" → "),
        pct(&mut all, 0.5),
        pct(&mut all, 0.99)
    );
    let after = api.metrics().await?;
    let mean = |name: &str, labels: &str| histogram_mean_ms(&before, &after, name, labels);
    let mut parts = vec![
        format!(
            "the deployVirtualMachine call {:.1}",
            mean(
                "canopy_api_request_duration_seconds",
                "{command=\"deployVirtualMachine\"}"
            )
            .0
        ),
        format!("queued {:.1}", mean("canopy_job_queue_wait_seconds", "").0),
    ];
    for step in ["reserve", "network", "volumes", "boot", "running"] {
        parts.push(format!(
            "{step} {:.1}",
            mean(
                "canopy_saga_step_duration_seconds",
                &format!("{{saga=\"start\",step=\"{step}\"}}")
            )
            .0
        ));
    }
    parts.push(format!(
        "position writes {:.1} each",
        mean("canopy_saga_position_write_seconds", "").0
    ));
    for phase in ["settle", "record"] {
        parts.push(format!(
            "{phase} {:.1}",
            mean(
                "canopy_job_phase_duration_seconds",
                &format!("{{phase=\"{phase}\"}}")
            )
            .0
        ));
    }
    let (round, rounds) = mean("canopy_dataplane_round_duration_seconds", "");
    println!(
        "a deploy's time on the server, mean ms: {}; {rounds} data-plane rounds of {round:.1} ms",
        parts.join(", ")
    );
    figures.push(Figure(
        format!("deploys/s, {clients} clients, one network (first → last quarter)"),
        format!(
            "{} → {}",
            rate_text.first().cloned().unwrap_or_default(),
            rate_text.last().cloned().unwrap_or_default()
        ),
        "—",
    ));

    // 3. The rest straight into the database.
    let url = database
        .clone()
        .unwrap_or_else(|| format!("sqlite:{}", data.join("canopy.db").display()));
    let store = db::DataStore::open(&url).await?;
    let t1 = Instant::now();
    let filled = fill_vms(
        &api,
        &store,
        &fill_clusters,
        &zone,
        &template,
        &offering,
        vms.saturating_sub(deployed),
    )
    .await?;
    let (d, a) = fill_accounts(&api, &store, accounts).await?;
    let e = fill_events(&api, &store, events).await?;
    println!(
        "filled straight into the database in {:.1} s: {filled} Running VMs with their root volumes, {d} domains with {a} accounts, {e} events",
        t1.elapsed().as_secs_f64()
    );

    // 4. The lists at that size.
    for (cmd, key, extra, cs) in [
        (
            "listVirtualMachines",
            "virtualmachine",
            vec![("listall", "true")],
            "9.8–17 s (25,000 hosts, 2 vCPUs)",
        ),
        ("listHosts", "host", vec![], "—"),
        ("listVolumes", "volume", vec![("listall", "true")], "—"),
        ("listNetworks", "network", vec![("listall", "true")], "—"),
        (
            "listAccounts",
            "account",
            vec![("listall", "true")],
            "50 s (25,000 accounts)",
        ),
        ("listDomains", "domain", vec![("listall", "true")], "—"),
        ("listEvents", "event", vec![("listall", "true")], "—"),
    ] {
        let (p50, p99, total) = time_list(&api, cmd, key, &extra).await?;
        println!("{cmd} pagesize=500 over {total}: p50 {p50:.1} ms, p99 {p99:.1} ms (100 calls, client-side)");
        figures.push(Figure(
            format!("{cmd}, page of 500 of {total} (p50 / p99)"),
            format!("{p50:.0} / {p99:.0} ms"),
            cs,
        ));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss = rss_mib(server_pid);
    println!("server RSS with {total_hosts} hosts and {vms} VMs: {rss} MiB");
    figures.push(Figure(
        format!("server memory, {total_hosts} hosts, {vms} VMs"),
        format!("{rss} MiB"),
        "—",
    ));

    // 5. HA: 8 HA VMs on the 4 victim hosts; their agent process dies.
    let ha = ha_after_death(&api, &zone, &cluster, &template, &offering, &mut procs).await?;
    figures.push(Figure(
        "host death → its HA VMs Running elsewhere (default settings)".into(),
        ha,
        "≥ 2.5 min (agent timeout 150 s)",
    ));

    println!("\n== {backend}, side by side (CloudStack's published figures, where it has one)");
    println!("{:<62} {:>22}   CloudStack", "", "Canopy");
    for Figure(what, ours, theirs) in &figures {
        println!("{what:<62} {ours:>22}   {theirs}");
    }
    drop(procs);
    if let Some(p) = pg.as_mut() {
        p.stop();
    }
    Ok(())
}

/// p50, p99 and the count of 100 calls of `cmd` at random pages of 500.
async fn time_list(
    api: &Api,
    cmd: &str,
    key: &str,
    extra: &[(&str, &str)],
) -> Res<(f64, f64, u64)> {
    let mut p: Vec<(&str, &str)> = vec![("command", cmd), ("page", "1"), ("pagesize", "1")];
    p.extend_from_slice(extra);
    let total = api.call(&p).await?["count"].as_u64().unwrap_or(0);
    let pages = (total as usize).div_ceil(500).max(1);
    let mut lat = Vec::new();
    for i in 0..100 {
        let page = (1 + (i * 7919) % pages).to_string();
        let mut p: Vec<(&str, &str)> = vec![("command", cmd), ("pagesize", "500"), ("page", &page)];
        p.extend_from_slice(extra);
        let t = Instant::now();
        let r = api.call(&p).await?;
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
        if r.get(key).is_none() && total > 0 {
            return Err(format!("{cmd} page {page} answered no {key}").into());
        }
    }
    Ok((pct(&mut lat, 0.5), pct(&mut lat, 0.99), total))
}

async fn admin_ids(api: &Api) -> Res<(model::AccountId, model::UserId, model::DomainId)> {
    let a = api
        .call(&[("command", "listAccounts"), ("name", "admin")])
        .await?;
    let u = &a["account"][0]["user"][0];
    Ok((
        s(&a["account"][0]["id"]).parse()?,
        s(&u["id"]).parse()?,
        s(&a["account"][0]["domainid"]).parse()?,
    ))
}

#[allow(clippy::too_many_arguments)]
async fn fill_vms(
    api: &Api,
    store: &db::DataStore,
    clusters: &[String],
    zone: &str,
    template: &str,
    offering: &str,
    fill: usize,
) -> Res<usize> {
    let (acct, user, domain) = admin_ids(api).await?;
    // Every host but the victims (whose cluster must keep the capacity to take their HA
    // VMs' deploys): 10 VMs a host at 100,000 hosts and 1,000,000 VMs, as the shape;
    // piled onto the agent hosts alone (1,000 each) they put the cluster past its allocation
    // threshold, and the HA measurement's deploys failed.
    let hosts = fill_hosts(store, clusters).await?;
    let (zone_id, tmpl_id, so_id) = (
        zone.parse::<uuid::Uuid>()?,
        template.parse::<uuid::Uuid>()?,
        offering.parse::<uuid::Uuid>()?,
    );
    let mut done = 0;
    while done < fill {
        let mut tx = store.begin().await?;
        // Write first: the server writes to the same SQLite file, and a transaction that
        // starts with a read cannot wait for the write lock.
        db::counter_next(&mut tx, "account").await?;
        for i in done..(done + 2_000).min(fill) {
            let id = model::VmId(uuid::Uuid::new_v4());
            let v = db::NewVm {
                id,
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
            db::volume_insert(
                &mut tx,
                &db::NewVolume {
                    id: model::VolumeId(uuid::Uuid::new_v4()),
                    name: format!("ROOT-fill-{i}"),
                    vol_type: "ROOT".into(),
                    account_id: acct,
                    domain_id: domain,
                    zone_id,
                    vm_id: Some(id),
                    device_id: Some(0),
                    size: 64 << 10,
                    disk_offering_id: None,
                    template_id: Some(tmpl_id),
                    attrs: serde_json::json!({}),
                },
            )
            .await?;
            let h = &hosts[i % hosts.len().max(1)];
            db::vm_transition(
                &mut tx,
                id,
                &[model::VmState::Stopped],
                model::VmState::Running,
                &db::VmPlace::on(h.id, h.cluster_id, h.pod_id),
            )
            .await?;
        }
        tx.commit().await?;
        done = (done + 2_000).min(fill);
    }
    Ok(fill)
}

/// `n` domains under ROOT, an account (User role) in each.
async fn fill_accounts(api: &Api, store: &db::DataStore, n: usize) -> Res<(usize, usize)> {
    let roles = api
        .call(&[("command", "listRoles"), ("type", "User")])
        .await?;
    let role: model::RoleId = roles["role"]
        .as_array()
        .and_then(|a| a.iter().find(|r| r["name"] == "User"))
        .map(|r| s(&r["id"]))
        .ok_or("no User role")?
        .parse()?;
    let root: model::DomainId = s(&api
        .call(&[("command", "listDomains"), ("level", "0")])
        .await?["domain"][0]["id"])
    .parse()?;
    let mut done = 0;
    while done < n {
        let mut tx = store.begin().await?;
        db::counter_next(&mut tx, "account").await?;
        for i in done..(done + 2_000).min(n) {
            let d = model::DomainId(uuid::Uuid::new_v4());
            let name = format!("scale-{i}");
            db::domain_insert(&mut tx, d, &name, &format!("/{name}/"), Some(root), 1, None).await?;
            db::account_insert(
                &mut tx,
                &db::NewAccount {
                    id: model::AccountId(uuid::Uuid::new_v4()),
                    name: format!("acct-{i}"),
                    account_type: model::identity::AccountType::User,
                    role_id: role,
                    domain_id: d,
                    network_domain: None,
                    is_default: false,
                },
            )
            .await?;
        }
        tx.commit().await?;
        done = (done + 2_000).min(n);
    }
    Ok((n, n))
}

async fn fill_events(api: &Api, store: &db::DataStore, n: usize) -> Res<usize> {
    let (acct, user, domain) = admin_ids(api).await?;
    let mut done = 0;
    while done < n {
        let mut tx = store.begin().await?;
        db::counter_next(&mut tx, "account").await?;
        for i in done..(done + 5_000).min(n) {
            db::event_insert(
                &mut tx,
                &db::NewEvent {
                    id: model::EventId(uuid::Uuid::new_v4()),
                    event_type: "VM.CREATE".into(),
                    level: "INFO",
                    description: format!("filled event {i}"),
                    state: "Completed",
                    account_id: acct,
                    domain_id: domain,
                    user_id: Some(user),
                    resource_id: None,
                    resource_type: None,
                    resource_name: None,
                    parent_id: None,
                },
            )
            .await?;
        }
        tx.commit().await?;
        done = (done + 5_000).min(n);
    }
    Ok(n)
}
