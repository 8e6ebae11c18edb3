//! The networking benchmark, with the real processes: a release `canopy up` (SQLite, or a
//! throwaway PostgreSQL with `--pg`) and `canopy agent --simulate HOSTS`, driven over the API.
//! VMS VMs are deployed on a shared network with security groups, spread over GROUPS groups
//! of RULES rules each (every group also names another group, so member sets are compiled
//! too). Prints:
//! - the end-to-end time of a security-group change: authorizeSecurityGroupIngress accepted
//!   at the API → compiled for every host with a member → pushed → the new generation
//!   acknowledged by those agents (the job ends only then), p50/p99 over CHANGES changes;
//! - the same for a port-forwarding rule on an isolated network (one router);
//! - the server's RSS.
//!
//! Run:
//!
//!     scripts/bench-net.sh            # both databases, 100 hosts, 1,000 VMs, 50 rules each
//!     cargo run --release -p server --example net_bench -- [--pg] [--hosts N] [--vms N] [--rules N]

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

async fn run(data: &Path) -> Res<()> {
    let hosts = arg("--hosts", 100);
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
    println!("== {backend}: {hosts} simulated hosts");

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

    let vms = arg("--vms", 1_000);
    let groups = arg("--groups", 20).max(1);
    let rules = arg("--rules", 50).max(2);
    let changes = arg("--changes", 30).max(1);
    for k in [
        "max.account.user.vms",
        "max.account.cpus",
        "max.account.memory",
        "max.account.volumes",
        "max.account.primary.storage",
        "max.account.public.ips",
    ] {
        api.call(&[
            ("command", "updateConfiguration"),
            ("name", k),
            ("value", "-1"),
        ])
        .await?;
    }
    // A shared network with security groups, big enough for every VM.
    let sg_offering = s(&api
        .call(&[
            ("command", "listNetworkOfferings"),
            ("name", "DefaultSharedNetworkOfferingWithSGService"),
        ])
        .await?["networkoffering"][0]["id"]);
    let net = s(&api
        .call(&[
            ("command", "createNetwork"),
            ("name", "bench-shared"),
            ("zoneid", &zone),
            ("networkofferingid", &sg_offering),
            ("gateway", "10.128.0.1"),
            ("netmask", "255.255.0.0"),
            ("startip", "10.128.0.10"),
            ("endip", "10.128.255.250"),
            ("vlan", "4000"),
        ])
        .await?["network"]["id"]);
    // Groups: RULES rules each (4/5 ingress, 1/5 egress), one naming the next group.
    let mut group_ids = Vec::new();
    for g in 0..groups {
        let id = s(&api
            .call(&[
                ("command", "createSecurityGroup"),
                ("name", &format!("g{g}")),
            ])
            .await?["securitygroup"]["id"]);
        group_ids.push(id);
    }
    for (g, id) in group_ids.iter().enumerate() {
        let next = format!("g{}", (g + 1) % groups);
        for k in 0..rules {
            let port = (1000 + k).to_string();
            let cidr = format!("172.{}.{}.0/24", g % 250, k % 250);
            let cmd = if k % 5 == 4 {
                "authorizeSecurityGroupEgress"
            } else {
                "authorizeSecurityGroupIngress"
            };
            let mut p = vec![
                ("command", cmd),
                ("securitygroupid", id.as_str()),
                ("protocol", "tcp"),
                ("startport", port.as_str()),
                ("endport", port.as_str()),
            ];
            let (a, n) = (
                "usersecuritygrouplist[0].account",
                "usersecuritygrouplist[0].group",
            );
            if k == 0 {
                p.push((a, "admin"));
                p.push((n, next.as_str()));
            } else {
                p.push(("cidrlist", cidr.as_str()));
            }
            let j = api.job(&p).await?;
            if j["jobstatus"] != 1 {
                return Err(format!("rule: {j}").into());
            }
        }
    }
    println!("{groups} security groups x {rules} rules created");

    // VMs, 32 at a time, round-robin over the groups.
    let started = Instant::now();
    let mut pending = Vec::new();
    let mut done = 0usize;
    for i in 0..vms {
        let g = &group_ids[i % groups];
        let r = api
            .call(&[
                ("command", "deployVirtualMachine"),
                ("zoneid", &zone),
                ("templateid", &template),
                ("serviceofferingid", &offering),
                ("networkids", &net),
                ("securitygroupids", g),
            ])
            .await?;
        pending.push(s(&r["jobid"]));
        if pending.len() >= 32 {
            for j in pending.drain(..) {
                if api.wait(&j, Duration::from_millis(5)).await?["jobstatus"] == 1 {
                    done += 1;
                }
            }
        }
    }
    for j in pending.drain(..) {
        if api.wait(&j, Duration::from_millis(5)).await?["jobstatus"] == 1 {
            done += 1;
        }
    }
    println!(
        "{done} VMs Running on the shared network in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // 1. Security-group changes: accepted → compiled → pushed → acknowledged.
    let mut sg = Vec::new();
    for c in 0..changes {
        let id = &group_ids[c % groups];
        let port = (20_000 + c).to_string();
        let t = Instant::now();
        let j = api
            .call(&[
                ("command", "authorizeSecurityGroupIngress"),
                ("securitygroupid", id),
                ("protocol", "udp"),
                ("startport", &port),
                ("endport", &port),
                ("cidrlist", "0.0.0.0/0"),
            ])
            .await?;
        let r = api.wait(&s(&j["jobid"]), Duration::from_millis(1)).await?;
        if r["jobstatus"] != 1 {
            return Err(format!("authorize: {r}").into());
        }
        sg.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let per_group = vms / groups;
    println!(
        "security-group rule change -> generation acknowledged by the member hosts: p50 {:.1} ms, p99 {:.1} ms ({} changes; ~{per_group} member VMs per group, on up to {hosts} hosts)",
        pct(&mut sg, 0.5),
        pct(&mut sg, 0.99),
        sg.len()
    );

    // 2. A port forwarding rule on an isolated network (one router).
    let iso = api
        .job(&[
            ("command", "deployVirtualMachine"),
            ("zoneid", &zone),
            ("templateid", &template),
            ("serviceofferingid", &offering),
            ("name", "iso-1"),
        ])
        .await?;
    let vm = s(&iso["jobresult"]["virtualmachine"]["id"]);
    let inet = s(&iso["jobresult"]["virtualmachine"]["nic"][0]["networkid"]);
    let ip = s(&api
        .job(&[("command", "associateIpAddress"), ("networkid", &inet)])
        .await?["jobresult"]["ipaddress"]["id"]);
    let mut pf = Vec::new();
    for c in 0..changes {
        let port = (3000 + c).to_string();
        let t = Instant::now();
        let j = api
            .call(&[
                ("command", "createPortForwardingRule"),
                ("ipaddressid", &ip),
                ("protocol", "tcp"),
                ("publicport", &port),
                ("privateport", "22"),
                ("virtualmachineid", &vm),
            ])
            .await?;
        let r = api.wait(&s(&j["jobid"]), Duration::from_millis(1)).await?;
        if r["jobstatus"] != 1 {
            return Err(format!("port forward: {r}").into());
        }
        pf.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    println!(
        "port forwarding rule -> generation acknowledged by the router's host: p50 {:.1} ms, p99 {:.1} ms ({} rules)",
        pct(&mut pf, 0.5),
        pct(&mut pf, 0.99),
        pf.len()
    );
    println!("server RSS: {} MiB", rss_mib(server_pid));
    drop(procs);
    if let Some(p) = pg.as_mut() {
        p.stop();
    }
    Ok(())
}
