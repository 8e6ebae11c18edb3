//! Helpers for the server's API tests: an in-process server on a loopback port with its own
//! data directory (SQLite, or a PostgreSQL database), and a signing client.
#![allow(dead_code)]

pub mod agents;
pub mod kvm_zone;

use std::time::Duration;

use reqwest::header::HeaderMap;
use serde_json::Value;

pub struct TestServer {
    pub server: Option<server::Server>,
    pub base: String,
    pub admin: Client,
    pub dir: tempfile::TempDir,
    pub database: Option<String>,
}

impl TestServer {
    /// The server's default staging directory (`image.staging.dirs` = `staging` below the data
    /// directory): the only place file:// registrations may read from.
    pub fn staging(&self) -> std::path::PathBuf {
        let d = self.dir.path().join("staging");
        std::fs::create_dir_all(&d).expect("staging dir");
        d
    }

    pub async fn start() -> Self {
        Self::start_with(None).await
    }

    pub async fn start_with(database: Option<String>) -> Self {
        let dir = tempfile::tempdir().expect("tmp");
        Self::start_in(dir, database).await
    }

    pub async fn start_in(dir: tempfile::TempDir, database: Option<String>) -> Self {
        Self::start_full(dir, database, "127.0.0.1:0".parse().expect("addr")).await
    }

    /// The agent endpoint's address (fixed across `restart`, so agents can reconnect).
    pub fn agent_addr(&self) -> std::net::SocketAddr {
        self.server.as_ref().map(|s| s.agent_addr).expect("running")
    }

    pub async fn start_full(
        dir: tempfile::TempDir,
        database: Option<String>,
        agent_listen: std::net::SocketAddr,
    ) -> Self {
        // The server's warnings are captured with the test's output (shown when it fails);
        // `CANOPY_TEST_LOG=info` (or any filter) shows more.
        let filter = std::env::var("CANOPY_TEST_LOG").unwrap_or_else(|_| "warn".into());
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .try_init();
        let cfg = server::Config {
            data_dir: dir.path().to_path_buf(),
            listen: "127.0.0.1:0".parse().expect("addr"),
            database: database.clone(),
            agent_listen,
            advertise: None,
            ui_dir: None,
        };
        let srv = server::start(cfg).await.expect("server starts");
        let base = format!("http://{}/client/api", srv.addr);
        let creds: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join("admin.json")).expect("admin.json"),
        )
        .expect("json");
        let admin = Client::new(
            &base,
            creds["apikey"].as_str().expect("key"),
            creds["secretkey"].as_str().expect("secret"),
        );
        Self {
            server: Some(srv),
            base,
            admin,
            dir,
            database,
        }
    }

    pub fn admin_password(&self) -> String {
        let creds: Value = serde_json::from_str(
            &std::fs::read_to_string(self.dir.path().join("admin.json")).expect("admin.json"),
        )
        .expect("json");
        creds["password"].as_str().expect("password").to_string()
    }

    /// Stops the server and starts it again on the same data directory and database.
    pub async fn restart(mut self) -> Self {
        let agent = self.agent_addr();
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
        let TestServer { dir, database, .. } = self;
        Self::start_full(dir, database, agent).await
    }

    /// Another management server on this one's database: its own data directory with the
    /// shared `server.key` (and the admin credentials, for the test's client).
    pub async fn join(&self) -> Self {
        let dir = tempfile::tempdir().expect("tmp");
        for f in ["server.key", "admin.json"] {
            std::fs::copy(self.dir.path().join(f), dir.path().join(f)).expect("copy");
        }
        Self::start_in(dir, self.database.clone()).await
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
    }

    pub fn client(&self, key: &str, secret: &str) -> Client {
        Client::new(&self.base, key, secret)
    }
}

#[derive(Clone)]
pub struct Client {
    pub base: String,
    pub key: String,
    pub secret: String,
    pub http: reqwest::Client,
}

pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }
    /// The value inside the single `<x>response` key.
    pub fn inner(&self) -> Value {
        let v = self.json();
        let m = v.as_object().expect("object");
        assert_eq!(m.len(), 1, "exactly one top-level key: {}", self.text);
        m.values().next().cloned().expect("value")
    }
    pub fn key(&self) -> String {
        self.json()
            .as_object()
            .expect("object")
            .keys()
            .next()
            .cloned()
            .expect("key")
    }
}

/// Percent-encodes for a query string (application/x-www-form-urlencoded).
pub fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub fn query(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

impl Client {
    pub fn new(base: &str, key: &str, secret: &str) -> Self {
        Self {
            base: base.to_string(),
            key: key.to_string(),
            secret: secret.to_string(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client"),
        }
    }

    /// The parameters of a signed JSON request.
    pub fn signed(&self, params: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut p: Vec<(String, String)> = params
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        if !p.iter().any(|(k, _)| k == "response") {
            p.push(("response".into(), "json".into()));
        }
        p.push(("apiKey".into(), self.key.clone()));
        let refs: Vec<(&str, &str)> = p.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        let sig = api::sign::sign(&refs, &self.secret);
        p.push(("signature".into(), sig));
        p
    }

    pub async fn get_query(&self, q: &str, headers: &[(&str, &str)]) -> Resp {
        let mut rb = self.http.get(format!("{}?{}", self.base, q));
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        to_resp(rb.send().await.expect("send")).await
    }

    pub async fn post_form(&self, q: &str, body: &str, headers: &[(&str, &str)]) -> Resp {
        let mut rb = self
            .http
            .post(format!(
                "{}{}",
                self.base,
                if q.is_empty() {
                    String::new()
                } else {
                    format!("?{q}")
                }
            ))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_string());
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        to_resp(rb.send().await.expect("send")).await
    }

    /// A signed GET with `response=json`.
    pub async fn call(&self, params: &[(&str, &str)]) -> Resp {
        self.get_query(&query(&self.signed(params)), &[]).await
    }

    /// A signed call that must succeed; returns the inner value.
    pub async fn ok(&self, params: &[(&str, &str)]) -> Value {
        let r = self.call(params).await;
        assert_eq!(r.status, 200, "{params:?} -> {}", r.text);
        r.inner()
    }

    /// A signed call that must fail with `code`; returns the error text.
    pub async fn err(&self, params: &[(&str, &str)], code: u16) -> String {
        let r = self.call(params).await;
        assert_eq!(r.status, code, "{params:?} -> {}", r.text);
        let inner = r.inner();
        assert_eq!(inner["errorcode"], code, "{}", r.text);
        inner["errortext"].as_str().expect("errortext").to_string()
    }

    /// Runs an async command and waits for its job; returns the final job object.
    pub async fn job(&self, params: &[(&str, &str)]) -> Value {
        let r = self.ok(params).await;
        let id = r["jobid"]
            .as_str()
            .unwrap_or_else(|| panic!("no jobid: {r}"))
            .to_string();
        self.wait_job(&id).await
    }

    /// Waits (30 s by the clock, however slow each query is) for a job to end.
    pub async fn wait_job(&self, id: &str) -> Value {
        let start = std::time::Instant::now();
        let mut queries = 0;
        let mut last = Value::Null;
        while start.elapsed() < Duration::from_secs(30) {
            last = self
                .ok(&[("command", "queryAsyncJobResult"), ("jobid", id)])
                .await;
            queries += 1;
            if last["jobstatus"] != 0 {
                return last;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("job {id} did not finish in 30 s ({queries} queries; the last answered {last})");
    }
}

async fn to_resp(r: reqwest::Response) -> Resp {
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.expect("body");
    Resp {
        status,
        headers,
        text,
    }
}

/// Creates an account with one user and API keys; returns (account id, user id, client).
pub async fn account_with_keys(
    ts: &TestServer,
    by: &Client,
    name: &str,
    domainid: Option<&str>,
    accounttype: &str,
) -> (String, String, Client) {
    let mut p = vec![
        ("command", "createAccount"),
        ("username", name),
        ("password", "pw-123"),
        ("email", "x@example.org"),
        ("firstname", "F"),
        ("lastname", "L"),
        ("accounttype", accounttype),
    ];
    if let Some(d) = domainid {
        p.push(("domainid", d));
    }
    let a = by.ok(&p).await;
    let acct = a["account"]["id"].as_str().expect("id").to_string();
    let user = a["account"]["user"][0]["id"]
        .as_str()
        .expect("user id")
        .to_string();
    let keys = by
        .ok(&[("command", "registerUserKeys"), ("id", &user)])
        .await;
    let c = ts.client(
        keys["userkeys"]["apikey"].as_str().expect("k"),
        keys["userkeys"]["secretkey"].as_str().expect("s"),
    );
    (acct, user, c)
}

pub async fn create_domain(c: &Client, name: &str, parent: Option<&str>) -> String {
    let mut p = vec![("command", "createDomain"), ("name", name)];
    if let Some(pd) = parent {
        p.push(("parentdomainid", pd));
    }
    c.ok(&p).await["domain"]["id"]
        .as_str()
        .expect("id")
        .to_string()
}

/// The sorted `field` of every item under `key` of a list answer.
pub fn names(v: &Value, key: &str, field: &str) -> Vec<String> {
    let mut n: Vec<String> = v[key]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x[field].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    n.sort();
    n
}

/// A zone ready for VMs: the `canopy up` zone with its own host disabled, `hosts` simulated
/// hosts of 4 × 8000 MHz / 8 GiB with addresses unique to this test (their in-memory state is
/// per process), a ready template and a 1-CPU offering.
pub struct VmZone {
    pub zone: String,
    pub pod: String,
    pub cluster: String,
    /// (host id, simulator address)
    pub hosts: Vec<(String, String)>,
    pub template: String,
    pub offering: String,
}

impl VmZone {
    pub async fn new(ts: &TestServer, hosts: usize) -> Self {
        let st = ts.server.as_ref().expect("running").state.clone();
        let z = server::up::ensure_zone(
            &st,
            ts.dir.path(),
            server::up::HostChoice::Simulator,
            &server::up::NoLocalAgent,
        )
        .await
        .map_err(|e| e.into_api())
        .expect("zone");
        let c = &ts.admin;
        let mut up = Value::Null;
        for _ in 0..200 {
            up = c
                .ok(&[
                    ("command", "listHosts"),
                    ("zoneid", &z.zone_id),
                    ("type", "Routing"),
                ])
                .await["host"][0]
                .clone();
            if up["state"] == "Up" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(up["state"], "Up", "{up}");
        // The `canopy up` host has a fixed address shared by every test of this process.
        c.ok(&[
            ("command", "updateHost"),
            ("id", up["id"].as_str().expect("id")),
            ("allocationstate", "Disable"),
        ])
        .await;
        let (pod, cluster) = (
            up["podid"].as_str().expect("pod").to_string(),
            up["clusterid"].as_str().expect("cluster").to_string(),
        );
        let tag = uuid::Uuid::new_v4().simple().to_string();
        let mut out = Vec::new();
        for i in 0..hosts {
            let url = format!("http://sim/{tag}/h{i}");
            let r = c
                .ok(&[
                    ("command", "addHost"),
                    ("zoneid", &z.zone_id),
                    ("podid", &pod),
                    ("clusterid", &cluster),
                    ("hypervisor", "Simulator"),
                    ("url", &url),
                    ("username", "root"),
                    ("password", "password"),
                ])
                .await;
            out.push((
                r["host"][0]["id"].as_str().expect("host id").to_string(),
                format!("sim/{tag}/h{i}"),
            ));
        }
        // A tiny QCOW2 on the management server.
        let img = ts.staging().join(format!("tiny-{tag}.qcow2"));
        let mut b = b"QFI\xfb".to_vec();
        b.resize(64 * 1024, 7);
        std::fs::write(&img, b).expect("write image");
        let url = format!("file://{}", img.display());
        let t = c
            .ok(&[
                ("command", "registerTemplate"),
                ("name", "tiny"),
                ("displaytext", "tiny"),
                ("url", &url),
                ("format", "QCOW2"),
                ("hypervisor", "Simulator"),
                ("zoneid", &z.zone_id),
                ("ispublic", "true"),
                ("ostypeid", "4e3f2c1a-7b6d-4e5f-8a9b-000000000001"),
            ])
            .await;
        let template = t["template"][0]["id"]
            .as_str()
            .expect("template")
            .to_string();
        let mut ready = false;
        for _ in 0..200 {
            let r = c
                .ok(&[
                    ("command", "listTemplates"),
                    ("templatefilter", "all"),
                    ("id", &template),
                ])
                .await;
            if r["template"][0]["isready"] == true {
                ready = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(ready, "template not ready");
        let offering = c
            .ok(&[
                ("command", "createServiceOffering"),
                ("name", "small"),
                ("displaytext", "small"),
                ("cpunumber", "1"),
                ("cpuspeed", "1000"),
                ("memory", "512"),
                ("offerha", "true"),
            ])
            .await["serviceoffering"]["id"]
            .as_str()
            .expect("offering")
            .to_string();
        Self {
            zone: z.zone_id,
            pod,
            cluster,
            hosts: out,
            template,
            offering,
        }
    }

    /// deployVirtualMachine params with this zone's template and offering.
    pub fn deploy<'a>(&'a self, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut p = vec![
            ("command", "deployVirtualMachine"),
            ("zoneid", self.zone.as_str()),
            ("templateid", self.template.as_str()),
            ("serviceofferingid", self.offering.as_str()),
        ];
        p.extend_from_slice(extra);
        p
    }

    /// The instance names running on every simulated host of this zone.
    pub fn running(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .hosts
            .iter()
            .flat_map(|(_, a)| agent::simulator::sim_host(a).vm_names())
            .collect();
        v.sort();
        v
    }

    /// The data plane simulated host `host_id` was last told to have.
    pub fn net_of(&self, host_id: &str) -> agent::netdriver::FakeNetState {
        let addr = self
            .hosts
            .iter()
            .find(|(h, _)| h == host_id)
            .map(|(_, a)| a.clone())
            .unwrap_or_else(|| panic!("{host_id} is not a host of this zone"));
        agent::simulator::sim_host(&addr).net.snapshot()
    }

    /// Host id → the data-plane generation it applied.
    pub fn generations(&self) -> std::collections::BTreeMap<String, u64> {
        self.hosts
            .iter()
            .map(|(h, a)| {
                (
                    h.clone(),
                    agent::simulator::sim_host(a).net.snapshot().generation,
                )
            })
            .collect()
    }

    /// The volumes stored on every simulated host of this zone.
    pub fn stored_volumes(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .hosts
            .iter()
            .flat_map(|(_, a)| agent::simulator::sim_host(a).volume_ids())
            .map(|u| u.to_string())
            .collect();
        v.sort();
        v
    }
}

/// Deploys a VM named `name` in the zone and waits for it; the job's VM object.
pub async fn deploy_vm(c: &Client, z: &VmZone, name: &str, extra: &[(&str, &str)]) -> Value {
    let mut p = z.deploy(&[("name", name)]);
    p.extend_from_slice(extra);
    let j = c.job(&p).await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    j["jobresult"]["virtualmachine"].clone()
}

/// A VM as `listVirtualMachines id=… listall=true` shows it to `c`.
pub async fn vm_view(c: &Client, id: &str) -> Value {
    c.ok(&[
        ("command", "listVirtualMachines"),
        ("id", id),
        ("listall", "true"),
    ])
    .await["virtualmachine"][0]
        .clone()
}

/// The hosts whose data-plane generation changed between two snapshots.
pub fn generations_changed(
    a: &std::collections::BTreeMap<String, u64>,
    b: &std::collections::BTreeMap<String, u64>,
) -> std::collections::BTreeSet<String> {
    a.iter()
        .filter(|(h, g)| b.get(*h) != Some(*g))
        .map(|(h, _)| h.clone())
        .collect()
}

/// Waits (at most 12 s) until an injected saga crash has struck more than `before` times.
pub async fn wait_crash(ts: &TestServer, before: u64) {
    let faults = &ts.server.as_ref().expect("running").state.faults;
    for _ in 0..600 {
        if faults.crashes() > before {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the injected crash never struck");
}

// --- scheduling tests (scheduling.rs, affinity.rs, dedication.rs) ----------------------------

/// A string field of a JSON answer ("" when missing).
pub fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// A 1 × 100 MHz / 64 MiB offering: hundreds fit on a simulated host.
pub async fn tiny_offering(c: &Client, name: &str) -> String {
    s(&c.ok(&[
        ("command", "createServiceOffering"),
        ("name", name),
        ("displaytext", name),
        ("cpunumber", "1"),
        ("cpuspeed", "100"),
        ("memory", "64"),
    ])
    .await["serviceoffering"]["id"])
}

/// Cluster disable thresholds at 100 %: only slots, groups and dedication limit placement.
pub async fn no_thresholds(c: &Client) {
    for k in [
        "cluster.cpu.allocated.capacity.disablethreshold",
        "cluster.memory.allocated.capacity.disablethreshold",
    ] {
        c.ok(&[
            ("command", "updateConfiguration"),
            ("name", k),
            ("value", "1"),
        ])
        .await;
    }
}

/// A host as listHosts answers it.
pub async fn host_view(c: &Client, id: &str) -> Value {
    c.ok(&[("command", "listHosts"), ("id", id)]).await["host"][0].clone()
}
