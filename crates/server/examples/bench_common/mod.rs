//! What the release benchmarks share (`#[path]`-included by vm_bench and net_bench): a signed
//! API client, argument and process helpers, and [`start`]: a release `canopy up` (SQLite,
//! or a throwaway PostgreSQL with `--pg`) with HOSTS simulated hosts of `canopy agent
//! --simulate` in a cluster of their own, plus 4 "victim" hosts in a second agent process,
//! a storage pool, a tiny template and a small offering.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

pub struct Api {
    pub base: String,
    pub key: String,
    pub secret: String,
    pub http: reqwest::Client,
}

impl Api {
    pub async fn call(&self, params: &[(&str, &str)]) -> Res<Value> {
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

    pub async fn job(&self, params: &[(&str, &str)]) -> Res<Value> {
        let r = self.call(params).await?;
        let id = r["jobid"].as_str().ok_or("no jobid")?.to_string();
        self.wait(&id, Duration::from_millis(20)).await
    }

    pub async fn wait(&self, job: &str, every: Duration) -> Res<Value> {
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

impl Api {
    /// The server's Prometheus figures (`GET /metrics`, allowed from loopback): each sample
    /// line's name with its labels → value.
    pub async fn metrics(&self) -> Res<std::collections::BTreeMap<String, f64>> {
        let url = self.base.replace("/client/api", "/metrics");
        let text = self.http.get(url).send().await?.text().await?;
        Ok(text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let (k, v) = l.rsplit_once(' ')?;
                Some((k.to_string(), v.parse().ok()?))
            })
            .collect())
    }
}

/// From two scrapes, the mean of a histogram (`name` with its label text, e.g.
/// `canopy_saga_step_duration_seconds{saga="start",step="boot"}`) between them, in ms, and how
/// many observations it had.
pub fn histogram_mean_ms(
    before: &std::collections::BTreeMap<String, f64>,
    after: &std::collections::BTreeMap<String, f64>,
    name: &str,
    labels: &str,
) -> (f64, f64) {
    let key = |suffix: &str| format!("{name}_{suffix}{labels}");
    let d =
        |k: String| after.get(&k).copied().unwrap_or(0.0) - before.get(&k).copied().unwrap_or(0.0);
    let (sum, count) = (d(key("sum")), d(key("count")));
    if count > 0.0 {
        (sum * 1000.0 / count, count)
    } else {
        (0.0, 0.0)
    }
}

pub fn arg(name: &str, default: usize) -> usize {
    let a: Vec<String> = std::env::args().collect();
    a.iter()
        .position(|x| x == name)
        .and_then(|i| a.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub fn canopy_bin() -> PathBuf {
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

pub fn rss_mib(pid: u32) -> u64 {
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

pub fn pct(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

pub struct Procs(pub Vec<Child>);

impl Drop for Procs {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// A started benchmark cloud.
pub struct Bench {
    pub api: Api,
    pub zone: String,
    pub pod: String,
    pub cluster: String,
    pub template: String,
    pub offering: String,
    pub server_pid: u32,
    /// The server, the main agent process, the victims' agent process (in that order).
    pub procs: Procs,
    pub pg: Option<testkit::Postgres>,
    pub backend: &'static str,
    /// Hosts Up: HOSTS + the 4 victims.
    pub want: u64,
    /// The PostgreSQL database URL (`None`: SQLite in the data directory).
    pub database: Option<String>,
}

/// Starts the cloud (see the module's text); `title` ends the banner line.
pub async fn start(data: &Path, hosts: usize, title: &str) -> Res<Bench> {
    let pg_wanted = std::env::args().any(|a| a == "--pg");
    let data = data.to_path_buf();
    let pg = if pg_wanted {
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
        .env(
            "CANOPY_LOG",
            std::env::var("CANOPY_BENCH_LOG").unwrap_or_else(|_| "warn".into()),
        )
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
    println!("== {backend}: {hosts} simulated hosts{title}");

    // A cluster for the benchmark hosts, plus 4 "victims" in a second agent process.
    let zone = s(&api.call(&[("command", "listZones")]).await?["zone"][0]["id"]);
    let pod = s(&api.call(&[("command", "listPods")]).await?["pod"][0]["id"]);
    for (k, v) in [
        ("cluster.cpu.allocated.capacity.disablethreshold", "1"),
        ("cluster.memory.allocated.capacity.disablethreshold", "1"),
        ("vm.allocation.algorithm", "random"),
        // The VMs a benchmark writes straight into the database are not on the simulated
        // hosts: the power-state sync would (rightly) stop every one of them, a write storm
        // that is not what is measured. Set before the agents connect, so no host's periodic
        // sync is due during the run.
        ("vm.power.sync.interval", "86400"),
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
    // file:// images must come from the server's staging directory (`image.staging.dirs`,
    // by default DATA/staging).
    std::fs::create_dir_all(data.join("staging"))?;
    let img = data.join("staging").join("tiny.qcow2");
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

    Ok(Bench {
        api,
        zone,
        pod,
        cluster,
        template,
        offering,
        server_pid,
        procs,
        pg,
        backend,
        want,
        database,
    })
}

/// Runs a benchmark in a temporary data directory; on failure prints the server's last log
/// lines (and with CANOPY_BENCH_KEEP_LOG=FILE keeps the whole log).
pub async fn main_with<F, Fut>(run: F) -> Res<()>
where
    F: FnOnce(PathBuf) -> Fut,
    Fut: std::future::Future<Output = Res<()>>,
{
    let dir = tempfile::tempdir()?;
    let r = run(dir.path().to_path_buf()).await;
    if let Ok(keep) = std::env::var("CANOPY_BENCH_KEEP_LOG") {
        let _ = std::fs::copy(dir.path().join("server.log"), keep);
    }
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

/// Kills the victims' agent process with 8 HA VMs on its 4 hosts; the time until all 8 run
/// on other hosts.
pub async fn ha_after_death(
    api: &Api,
    zone: &str,
    cluster: &str,
    template: &str,
    offering: &str,
    procs: &mut Procs,
) -> Res<String> {
    let victims: Vec<String> = api
        .call(&[
            ("command", "listHosts"),
            ("clusterid", cluster),
            ("keyword", "victim"),
        ])
        .await?["host"]
        .as_array()
        .map(|a| a.iter().map(|h| s(&h["id"])).collect())
        .unwrap_or_default();
    if victims.is_empty() {
        return Err("no victim host to kill".into());
    }
    let mut ha = Vec::new();
    for i in 0..8 {
        let victim = &victims[i % victims.len()];
        let j = api
            .job(&[
                ("command", "deployVirtualMachine"),
                ("zoneid", zone),
                ("templateid", template),
                ("serviceofferingid", offering),
                ("hostid", victim),
            ])
            .await?;
        // A failed deploy has no VM to watch (and an empty id would list every VM).
        let vm = &j["jobresult"]["virtualmachine"];
        if j["jobstatus"] != 1 || s(&vm["hostid"]) != *victim {
            return Err(
                format!("an HA VM was not deployed onto its victim host {victim}: {j}").into(),
            );
        }
        ha.push(s(&vm["id"]));
    }
    let mut victim = procs.0.remove(2);
    let died = Instant::now();
    let killed = victim.kill();
    let _ = victim.wait();
    killed?;
    let mut down = None;
    while died.elapsed() < Duration::from_secs(300) {
        if down.is_none() {
            let r = api
                .call(&[("command", "listHosts"), ("id", &victims[0])])
                .await?;
            if r["host"][0]["state"] == "Down" {
                down = Some(died.elapsed());
            }
        }
        let mut states: std::collections::BTreeMap<String, usize> = Default::default();
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
            let text = format!(
                "Down {:.1} s, HA {:.1} s",
                down.unwrap_or_default().as_secs_f64(),
                died.elapsed().as_secs_f64()
            );
            println!(
                "HA: host death → {text} (all {} HA VMs Running on other hosts)",
                ha.len()
            );
            return Ok(text);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Ok("not within 300 s".into())
}

/// The hosts of `clusters` that VMs written straight into the database may go onto: all but
/// the victims (their cluster must keep the capacity for the HA measurement's deploys).
pub async fn fill_hosts(store: &db::DataStore, clusters: &[String]) -> Res<Vec<db::HostRow>> {
    let mut hosts = Vec::new();
    let mut c = store.read().await?;
    for cluster in clusters {
        hosts.extend(
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
            .filter(|h| !h.address.starts_with("victim")),
        );
    }
    Ok(hosts)
}
