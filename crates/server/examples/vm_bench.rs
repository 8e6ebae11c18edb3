//! The VM benchmark, with the real processes: a release `canopy up` (SQLite, or a throwaway
//! PostgreSQL with `--pg`), `canopy agent --simulate HOSTS` (0-delay simulated hosts, a
//! separate process), driven over the API like any client. Prints:
//! - deployVirtualMachine throughput and p50/p99 API-to-Running latency (DEPLOYS deploys,
//!   32 at a time, each polled every 5 ms until its job finished);
//! - listVirtualMachines (pagesize 500, listall) p50/p99 with VMS VMs: the deployed ones plus
//!   the rest written straight to the database as Running VMs spread over the hosts (the
//!   list path reads only the database);
//! - the server's RSS at that size;
//! - the time from the death of a host (its agent process killed) to its HA VMs Running on
//!   other hosts, with the default 10 s heartbeats.
//!
//! Run:
//!
//!     scripts/bench-vms.sh            # both databases, 25,000 hosts, 100,000 VMs
//!     cargo run --release -p server --example vm_bench -- [--pg] [--hosts N] [--vms N] [--deploys N]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

struct Api {
    base: String,
    key: String,
    secret: String,
    http: reqwest::Client,
}

impl Api {
    async fn call(&self, params: &[(&str, &str)]) -> Res<Value> {
        let mut p: Vec<(String, String)> = params
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        p.push(("response".into(), "json".into()));
        p.push(("apiKey".into(), self.key.clone()));
        let refs: Vec<(&str, &str)> = p.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        let sig = api::sign::sign(&refs, &self.secret);
        p.push(("signature".into(), sig));
        let r = self.http.post(&self.base).form(&p).send().await?;
        let status = r.status();
        let v: Value = r.json().await?;
        let inner = v
            .as_object()
            .and_then(|m| m.values().next().cloned())
            .unwrap_or(Value::Null);
        if !status.is_success() {
            return Err(format!("{}: {inner}", params[0].1).into());
        }
        Ok(inner)
    }

    async fn job(&self, params: &[(&str, &str)]) -> Res<Value> {
        let r = self.call(params).await?;
        let id = r["jobid"].as_str().ok_or("no jobid")?.to_string();
        self.wait(&id, Duration::from_millis(20)).await
    }

    async fn wait(&self, job: &str, every: Duration) -> Res<Value> {
        let end = Instant::now() + Duration::from_secs(300);
        while Instant::now() < end {
            let j = self
                .call(&[("command", "queryAsyncJobResult"), ("jobid", job)])
                .await?;
            if j["jobstatus"] != 0 {
                return Ok(j);
            }
            tokio::time::sleep(every).await;
        }
        Err(format!("job {job} did not finish").into())
    }
}

fn arg(name: &str, default: usize) -> usize {
    let a: Vec<String> = std::env::args().collect();
    a.iter()
        .position(|x| x == name)
        .and_then(|i| a.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn canopy_bin() -> PathBuf {
    if let Ok(b) = std::env::var("CANOPY_BIN") {
        return b.into();
    }
    let exe = std::env::current_exe().unwrap_or_default();
    // target/release/examples/vm_bench → target/release/canopy
    exe.parent()
        .and_then(Path::parent)
        .map(|p| p.join("canopy"))
        .unwrap_or_else(|| "canopy".into())
}

fn rss_mib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<u64>().ok())
        })
        .map(|k| k / 1024)
        .unwrap_or(0)
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

struct Procs(Vec<Child>);

impl Drop for Procs {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

#[tokio::main]
async fn main() -> Res<()> {
    let dir = tempfile::tempdir()?;
    let r = run(dir.path()).await;
    if let Err(e) = &r {
        eprintln!("benchmark failed: {e}; the server's last log lines:");
        let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default();
        for l in log
            .lines()
            .rev()
            .take(15)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
        {
            eprintln!("  {l}");
        }
    }
    r
}

async fn run(data: &Path) -> Res<()> {
    let hosts = arg("--hosts", 25_000);
    let vms = arg("--vms", 100_000);
    let deploys = arg("--deploys", 1_000).min(vms);
    let pg_wanted = std::env::args().any(|a| a == "--pg");
    let data = data.to_path_buf();
    let mut pg = if pg_wanted {
        Some(testkit::Postgres::start()?)
    } else {
        None
    };
    let database = match &pg {
        Some(p) => Some(p.fresh_database()?),
        None => None,
    };
    let backend = if pg_wanted { "PostgreSQL" } else { "SQLite" };
    let bin = canopy_bin();
    let mut procs = Procs(Vec::new());

    // The server.
    let mut up = Command::new(&bin);
    up.args(["up", "--host", "simulator", "--listen", "127.0.0.1:0"])
        .args(["--agent-listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .env("CANOPY_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(data.join("server.log"))?);
    if let Some(db) = &database {
        up.args(["--database", db]);
    }
    let server = up.spawn()?;
    let server_pid = server.id();
    procs.0.push(server);
    let end = Instant::now() + Duration::from_secs(120);
    while !(data.join("admin.json").exists() && data.join("server.addr").exists()) {
        if Instant::now() > end {
            return Err("canopy up did not start".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let addr = std::fs::read_to_string(data.join("server.addr"))?
        .trim()
        .to_string();
    let creds: Value = serde_json::from_str(&std::fs::read_to_string(data.join("admin.json"))?)?;
    let api = Api {
        base: format!("http://{addr}/client/api"),
        key: s(&creds["apikey"]),
        secret: s(&creds["secretkey"]),
        http: reqwest::Client::new(),
    };
    println!(
        "== {backend}: {hosts} simulated hosts, {vms} VMs ({deploys} deployed through the API)"
    );

    // A cluster for the benchmark hosts, plus 4 "victims" in a second agent process.
    let zone = s(&api.call(&[("command", "listZones")]).await?["zone"][0]["id"]);
    let pod = s(&api.call(&[("command", "listPods")]).await?["pod"][0]["id"]);
    for (k, v) in [
        ("cluster.cpu.allocated.capacity.disablethreshold", "1"),
        ("cluster.memory.allocated.capacity.disablethreshold", "1"),
        ("vm.allocation.algorithm", "random"),
    ] {
        api.call(&[
            ("command", "updateConfiguration"),
            ("name", k),
            ("value", v),
        ])
        .await?;
    }
    let cl = api
        .call(&[
            ("command", "addCluster"),
            ("clustername", "bench"),
            ("clustertype", "CloudManaged"),
            ("hypervisor", "Simulator"),
            ("podid", &pod),
            ("zoneid", &zone),
        ])
        .await?;
    let cluster = s(&cl["cluster"][0]["id"]);
    let token = |n: usize| {
        let api = &api;
        let cluster = cluster.clone();
        async move {
            Ok::<String, Box<dyn std::error::Error + Send + Sync>>(s(&api
                .call(&[
                    ("command", "createHostJoinToken"),
                    ("clusterid", &cluster),
                    ("uses", &n.to_string()),
                    ("validityminutes", "120"),
                ])
                .await?["jointoken"]["token"]))
        }
    };
    let t_main = token(hosts).await?;
    let t_victims = token(4).await?;
    let started = Instant::now();
    for (t, n, prefix, dir) in [
        (&t_main, hosts, "bench", "agent"),
        (&t_victims, 4, "victim", "victims"),
    ] {
        let child = Command::new(&bin)
            .args(["agent", "--token", t, "--simulate", &n.to_string()])
            .args(["--sim-prefix", prefix, "--state-dir"])
            .arg(data.join(dir))
            .env("CANOPY_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        procs.0.push(child);
    }
    let want = hosts as u64 + 4;
    loop {
        // The server is busy admitting hosts: a failed poll is retried.
        let n = match api
            .call(&[
                ("command", "listHosts"),
                ("clusterid", &cluster),
                ("state", "Up"),
                ("page", "1"),
                ("pagesize", "1"),
            ])
            .await
        {
            Ok(r) => r["count"].as_u64().unwrap_or(0),
            Err(e) => {
                eprintln!("listHosts while hosts join: {e}");
                0
            }
        };
        if n >= want {
            break;
        }
        if started.elapsed() > Duration::from_secs(900) {
            return Err(format!("only {n} of {want} hosts came Up").into());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    println!(
        "hosts: {want} Up after {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let primary = data.join("primary-bench");
    std::fs::create_dir_all(&primary)?;
    api.call(&[
        ("command", "createStoragePool"),
        ("name", "bench"),
        ("zoneid", &zone),
        ("podid", &pod),
        ("clusterid", &cluster),
        ("url", &format!("filesystem://{}", primary.display())),
    ])
    .await?;
    api.call(&[
        ("command", "updateCluster"),
        ("id", &cluster),
        ("allocationstate", "Enabled"),
    ])
    .await?;
    let img = data.join("tiny.qcow2");
    let mut b = b"QFI\xfb".to_vec();
    b.resize(64 * 1024, 7);
    std::fs::write(&img, b)?;
    let t = api
        .call(&[
            ("command", "registerTemplate"),
            ("name", "tiny"),
            ("displaytext", "tiny"),
            ("url", &format!("file://{}", img.display())),
            ("format", "QCOW2"),
            ("hypervisor", "Simulator"),
            ("zoneid", &zone),
            ("ispublic", "true"),
        ])
        .await?;
    let template = s(&t["template"][0]["id"]);
    for _ in 0..600 {
        let r = api
            .call(&[
                ("command", "listTemplates"),
                ("templatefilter", "all"),
                ("id", &template),
            ])
            .await?;
        if r["template"][0]["isready"] == true {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let offering = s(&api
        .call(&[
            ("command", "createServiceOffering"),
            ("name", "bench"),
            ("displaytext", "bench"),
            ("cpunumber", "1"),
            ("cpuspeed", "100"),
            ("memory", "64"),
            ("offerha", "true"),
        ])
        .await?["serviceoffering"]["id"]);

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
    let host_rows: Vec<db::HostRow> = {
        let mut c = store.read().await?;
        db::host_list(
            &mut c,
            &db::HostFilter {
                cluster_id: Some(cluster.parse()?),
                ..Default::default()
            },
        )
        .await?
        .0
        .into_iter()
        .filter(|h| !h.address.starts_with("victim"))
        .collect()
    };
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
            };
            db::vm_insert(&mut tx, &v).await?;
            let h = &host_rows[i % host_rows.len().max(1)];
            db::vm_transition(
                &mut tx,
                id,
                &["Stopped"],
                "Running",
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

    // 4. HA: 8 HA VMs on the 4 victim hosts; their agent process dies.
    let victims: Vec<String> = {
        let r = api
            .call(&[
                ("command", "listHosts"),
                ("clusterid", &cluster),
                ("keyword", "victim"),
            ])
            .await?;
        r["host"]
            .as_array()
            .map(|a| a.iter().map(|h| s(&h["id"])).collect())
            .unwrap_or_default()
    };
    let mut ha = Vec::new();
    for i in 0..8 {
        let j = api
            .job(&[
                ("command", "deployVirtualMachine"),
                ("zoneid", &zone),
                ("templateid", &template),
                ("serviceofferingid", &offering),
                ("hostid", &victims[i % victims.len().max(1)]),
            ])
            .await?;
        ha.push(s(&j["jobresult"]["virtualmachine"]["id"]));
    }
    let victim_proc = procs.0.remove(2);
    let mut victim_proc = victim_proc;
    let died = Instant::now();
    victim_proc.kill()?;
    let _ = victim_proc.wait();
    let mut first_down = None;
    loop {
        if died.elapsed() > Duration::from_secs(180) {
            println!("HA: the VMs were not all Running elsewhere within 180 s");
            break;
        }
        if first_down.is_none() {
            let r = api
                .call(&[("command", "listHosts"), ("id", &victims[0])])
                .await?;
            if r["host"][0]["state"] == "Down" {
                first_down = Some(died.elapsed());
            }
        }
        let mut states: BTreeMap<String, usize> = BTreeMap::new();
        let mut moved = 0;
        for id in &ha {
            let v = &api
                .call(&[
                    ("command", "listVirtualMachines"),
                    ("id", id),
                    ("listall", "true"),
                ])
                .await?["virtualmachine"][0];
            *states.entry(s(&v["state"])).or_default() += 1;
            if v["state"] == "Running" && !victims.contains(&s(&v["hostid"])) {
                moved += 1;
            }
        }
        if moved == ha.len() {
            println!(
                "HA: host death → Down in {:.1} s, all {} HA VMs Running on other hosts {:.1} s after the death (ping.interval 10 s × ping.timeout 2.5)",
                first_down.unwrap_or_default().as_secs_f64(),
                ha.len(),
                died.elapsed().as_secs_f64()
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    drop(procs);
    if let Some(p) = pg.as_mut() {
        p.stop();
    }
    Ok(())
}
