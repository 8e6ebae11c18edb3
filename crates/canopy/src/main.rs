//! The `canopy` binary: argument parsing and wiring only.
//!
//! - `canopy server`: the management server (API on `--listen`, default 0.0.0.0:8080).
//! - `canopy up`: the all-in-one cloud on this machine (today: the server on embedded SQLite;
//!   the local host agent and the bootstrapped zone arrive with the inventory work), printing
//!   the endpoint and the admin credentials.
//! - `canopy agent`: a host agent (or `--simulate N` simulated hosts) joining with a token.
//! - `canopy token create`: mints a join token through the API.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

/// mimalloc returns freed memory to the OS; with glibc's malloc, the 19 MiB Argon2 blocks of
/// a few logins stayed resident for good (measured: +200 MB after 20 password hashes).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "canopy",
    version,
    about = "An IaaS cloud that speaks the CloudStack API"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Args, Clone)]
struct Common {
    /// Directory for the server key, the embedded database and admin.json.
    #[arg(long, env = "CANOPY_DATA_DIR", default_value = "./canopy-data")]
    data_dir: PathBuf,
    /// Address for the API.
    #[arg(long, env = "CANOPY_LISTEN", default_value = "0.0.0.0:8080")]
    listen: SocketAddr,
    /// Database URL: sqlite:PATH (default: DIR/canopy.db) or postgres://user:pass@host/db.
    #[arg(long, env = "CANOPY_DATABASE")]
    database: Option<String>,
    /// Address of the agent endpoint (TLS) that host agents dial.
    #[arg(long, env = "CANOPY_AGENT_LISTEN", default_value = "0.0.0.0:9443")]
    agent_listen: SocketAddr,
    /// Host name or IP agents use to reach this server (written into join tokens).
    #[arg(long, env = "CANOPY_ADVERTISE")]
    advertise: Option<String>,
    /// `up` only: the zone's host — this machine (kvm), a simulated one, or auto (this
    /// machine when QEMU is installed).
    #[arg(long, default_value = "auto", value_parser = ["auto", "kvm", "simulator"])]
    host: String,
    /// The built web console (npm run build in ui/); default: ./ui/dist when it exists.
    #[arg(long, env = "CANOPY_UI_DIR")]
    ui_dir: Option<PathBuf>,
}

#[derive(Args, Clone)]
struct AgentArgs {
    /// Join token (from addHost's `jointoken`, createHostJoinToken or `canopy token create`).
    #[arg(long, env = "CANOPY_TOKEN")]
    token: Option<String>,
    /// The address this host is known by (as given to addHost). Required for a real host.
    #[arg(long)]
    address: Option<String>,
    /// Where the host credential is kept after the first join.
    #[arg(long, default_value = "./canopy-agent")]
    state_dir: PathBuf,
    /// Simulate this many hosts instead of managing this machine.
    #[arg(long)]
    simulate: Option<usize>,
    /// Simulated hosts are named PREFIX-0, PREFIX-1, …
    #[arg(long, default_value = "sim")]
    sim_prefix: String,
    #[arg(long, default_value_t = 4)]
    sim_cpus: u32,
    #[arg(long, default_value_t = 8000)]
    sim_cpu_mhz: u64,
    #[arg(long, default_value_t = 8192)]
    sim_memory_mib: u64,
    #[arg(long, default_value_t = 1024)]
    sim_storage_gib: u64,
    /// Delay of every simulated operation.
    #[arg(long, default_value_t = 0)]
    sim_delay_ms: u64,
    /// Probability (0..1) that a simulated operation fails.
    #[arg(long, default_value_t = 0.0)]
    sim_fail_rate: f64,
    /// Where VMs' runtime files (QMP/VNC/serial sockets, pid files) and router files are
    /// kept (default: STATE_DIR/run).
    #[arg(long)]
    run_dir: Option<PathBuf>,
    /// The device joined to the public bridge (this host's link to the outside world).
    #[arg(long)]
    public_uplink: Option<String>,
}

#[derive(Subcommand)]
enum TokenCmd {
    /// Mint a join token (calls createHostJoinToken with the admin's API keys).
    Create {
        /// Cluster the token admits hosts to.
        #[arg(long)]
        cluster: String,
        /// Bind the token to one host address (added with addHost).
        #[arg(long)]
        address: Option<String>,
        /// How many hosts a cluster token admits.
        #[arg(long, default_value_t = 1)]
        uses: u32,
        #[arg(long, default_value_t = 60)]
        validity_minutes: u32,
        /// The API endpoint (plain HTTP).
        #[arg(long, default_value = "http://127.0.0.1:8080/client/api")]
        api: String,
        /// The admin credentials file written at first start.
        #[arg(long, default_value = "./canopy-data/admin.json")]
        admin_json: PathBuf,
    },
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a management server.
    Server(Common),
    /// Run the all-in-one cloud on this machine and print how to reach it.
    Up(Common),
    /// Run a host agent (or simulated hosts) that joins a server.
    Agent(AgentArgs),
    /// Join tokens for host agents.
    #[command(subcommand)]
    Token(TokenCmd),
}

fn endpoint(addr: SocketAddr) -> String {
    let host = if addr.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        addr.ip().to_string()
    };
    format!("http://{host}:{}", addr.port())
}

fn print_credentials(c: &server::AdminCreds, file: &std::path::Path) {
    println!("  admin user:      {} / {}", c.username, c.password);
    println!("  admin apikey:    {}", c.apikey);
    println!("  admin secretkey: {}", c.secretkey);
    println!("  (saved in {})", file.display());
}

async fn wait_for_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}

/// The web console's directory: `--ui-dir`, else `./ui/dist` when it exists.
fn ui_dir(c: &Common) -> Option<PathBuf> {
    c.ui_dir.clone().or_else(|| {
        let d = PathBuf::from("ui/dist");
        d.is_dir().then(|| d.canonicalize().unwrap_or(d))
    })
}

async fn run(c: Common, up: bool) -> anyhow::Result<()> {
    let cfg = server::Config {
        data_dir: c.data_dir.clone(),
        listen: c.listen,
        database: c.database.clone(),
        agent_listen: c.agent_listen,
        advertise: c.advertise.clone(),
        ui_dir: ui_dir(&c),
    };
    let srv = server::start(cfg).await?;
    let zone = if up {
        Some(
            server::up::ensure_zone(
                &srv.state,
                &c.data_dir,
                match c.host.as_str() {
                    "kvm" => server::up::HostChoice::Kvm,
                    "simulator" => server::up::HostChoice::Simulator,
                    _ => server::up::HostChoice::Auto,
                },
                &canopy::local_agent::QemuLocalAgent,
            )
            .await
            .map_err(|e| anyhow::anyhow!("setting up the zone: {}", e.into_api().text))?,
        )
    } else {
        None
    };
    let base = endpoint(srv.addr);
    let admin_file = c.data_dir.join("admin.json");
    println!("Canopy management server is up.");
    println!("  API:             {base}/client/api");
    println!("  agent endpoint:  {} (TLS)", srv.state.agent_endpoint);
    if let Some(z) = &zone {
        println!(
            "  zone:            {} ({}; host: {})",
            z.zone_id,
            if z.created { "created now" } else { "existing" },
            z.host_kind
        );
        match &z.template {
            Ok(id) => println!("  template:        {} {id}", server::up::BUILTIN_TEMPLATE),
            Err(why) => println!("  template:        none — {why}"),
        }
    }
    match ui_dir(&c) {
        Some(d) if d.join("index.html").is_file() => {
            println!(
                "  web console:     {base}/client/  (files: {})",
                d.display()
            )
        }
        _ => println!("  web console:     not built — scripts/build-ui.sh builds it (npm)"),
    }
    match (&srv.admin, up) {
        (Some(creds), _) => print_credentials(creds, &admin_file),
        (None, true) => {
            let text = std::fs::read_to_string(&admin_file)
                .with_context(|| format!("reading {}", admin_file.display()))?;
            let creds: serde_json::Value = serde_json::from_str(&text)?;
            println!(
                "  admin user:      {} / {}",
                creds["username"].as_str().unwrap_or("admin"),
                creds["password"].as_str().unwrap_or("?")
            );
            println!(
                "  admin apikey:    {}",
                creds["apikey"].as_str().unwrap_or("?")
            );
            println!(
                "  admin secretkey: {}",
                creds["secretkey"].as_str().unwrap_or("?")
            );
            println!("  (saved in {})", admin_file.display());
        }
        (None, false) => println!(
            "  admin credentials: see {} on the server that created the database",
            admin_file.display()
        ),
    }
    let stop = srv.stopper();
    let mut stopped = stop.subscribe();
    tokio::select! {
        _ = wait_for_signal() => {
            tracing::info!("shutting down");
            let _ = stop.send(true);
        }
        // The server stopped itself: it fenced itself off the cluster.
        _ = stopped.wait_for(|s| *s) => {}
    }
    let fenced = srv.state.cluster.fenced();
    srv.shutdown().await;
    if fenced {
        eprintln!(
            "this management server fenced itself (see the log); exiting with {}",
            server::cluster::SELF_FENCING_EXIT_CODE
        );
        std::process::exit(server::cluster::SELF_FENCING_EXIT_CODE);
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CANOPY_LOG")
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        match cli.cmd {
            Cmd::Server(c) => run(c, false).await,
            Cmd::Up(c) => run(c, true).await,
            Cmd::Agent(a) => run_agent(a).await,
            Cmd::Token(TokenCmd::Create {
                cluster,
                address,
                uses,
                validity_minutes,
                api,
                admin_json,
            }) => {
                let token = mint_token(
                    &api,
                    &admin_json,
                    &cluster,
                    address.as_deref(),
                    uses,
                    validity_minutes,
                )
                .await?;
                println!("{token}");
                Ok(())
            }
        }
    })
}

/// The credential a real agent keeps after its first join.
#[derive(serde::Serialize, serde::Deserialize)]
struct SavedCredential {
    host_id: uuid::Uuid,
    secret: String,
    /// The server the host first joined through.
    server: String,
    fingerprint: String,
    /// Every management server's agent endpoint, as the servers last told (the order to try
    /// them); empty in credentials saved before several servers.
    #[serde(default)]
    servers: Vec<String>,
}

async fn run_agent(a: AgentArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&a.state_dir)
        .with_context(|| format!("creating {}", a.state_dir.display()))?;
    let token = a
        .token
        .as_deref()
        .map(|t| proto::JoinToken::decode(t).context("the join token is malformed"))
        .transpose()?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    if let Some(n) = a.simulate {
        let token = token.context("--simulate needs --token (a cluster token with enough uses)")?;
        let opts = agent::simulator::SimOptions {
            count: n,
            prefix: a.sim_prefix.clone(),
            cpus: a.sim_cpus,
            cpu_mhz: a.sim_cpu_mhz,
            memory_bytes: a.sim_memory_mib << 20,
            storage_bytes: a.sim_storage_gib << 30,
            delay: std::time::Duration::from_millis(a.sim_delay_ms),
            fail_rate: a.sim_fail_rate,
            state_file: Some(a.state_dir.join("simulated-hosts.json")),
        };
        let hosts = agent::simulator::hosts(
            &token.server,
            &token.fingerprint,
            &token.secret,
            &opts,
            None,
        );
        println!("simulating {n} hosts against {}", token.server);
        let tasks = agent::simulator::spawn(hosts, stop_rx);
        wait_for_signal().await;
        let _ = stop_tx.send(true);
        for t in tasks {
            let _ = t.await;
        }
        return Ok(());
    }
    let cred_path = a.state_dir.join("credential.json");
    let saved: Option<SavedCredential> = std::fs::read(&cred_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let address = a
        .address
        .clone()
        .context("--address is required: the address this host was added with")?;
    let (server, fingerprint, credential) = match (&saved, &token) {
        (Some(s), _) => (
            s.server.clone(),
            s.fingerprint.clone(),
            agent::Credential::Host {
                host_id: s.host_id,
                secret: s.secret.clone(),
            },
        ),
        (None, Some(t)) => (
            t.server.clone(),
            t.fingerprint.clone(),
            agent::Credential::Token {
                secret: t.secret.clone(),
            },
        ),
        (None, None) => anyhow::bail!(
            "no saved credential in {}: give --token",
            a.state_dir.display()
        ),
    };
    let (srv, fp) = (server.clone(), fingerprint.clone());
    let path = cred_path.clone();
    let known = saved
        .as_ref()
        .map(|s| s.servers.clone())
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| vec![server.clone()]);
    // A new list from the servers is saved with the credential (when there is one yet).
    let list_path = cred_path.clone();
    let servers = agent::ServerList::new(known).on_change(std::sync::Arc::new(move |l: &[String]| {
        let Some(mut c) = std::fs::read(&list_path)
            .ok()
            .and_then(|b| serde_json::from_slice::<SavedCredential>(&b).ok())
        else {
            return;
        };
        c.servers = l.to_vec();
        if let Ok(b) = serde_json::to_vec_pretty(&c) {
            if std::fs::write(&list_path, b).is_err() {
                tracing::error!(path = %list_path.display(), "could not save the management servers' list");
            }
        }
    }));
    let images = agent::images::ImageSource::new(&servers, &fingerprint, &credential);
    let in_use = servers.clone();
    let joined = images.clone();
    let run_dir = a.run_dir.clone().unwrap_or_else(|| a.state_dir.join("run"));
    let mut inventory = agent::inventory::local(&address);
    let (driver, adopted) =
        agent::qemu::for_this_machine(&mut inventory, &run_dir, a.public_uplink.clone(), images)
            .map_err(|e| anyhow::anyhow!(e))?;
    if !adopted.is_empty() {
        println!("adopted {} running VMs: {adopted:?}", adopted.len());
    }
    let host = agent::HostAgent {
        server: servers,
        fingerprint,
        credential: std::sync::Mutex::new(credential),
        inventory,
        driver,
        offline: None,
        local: None,
        on_credential: Some(std::sync::Arc::new(move |host_id, secret: &str| {
            joined.joined(host_id, secret);
            let c = SavedCredential {
                host_id,
                secret: secret.to_string(),
                server: srv.clone(),
                fingerprint: fp.clone(),
                servers: in_use.all(),
            };
            if let Ok(b) = serde_json::to_vec_pretty(&c) {
                if std::fs::write(&path, b).is_err() {
                    tracing::error!(path = %path.display(), "could not save the host credential");
                }
            }
        })),
    };
    println!(
        "agent for {address} ({} acceleration) dialling {}",
        host.inventory.accelerator,
        host.server.current()
    );
    let run = host.run(stop_rx);
    tokio::select! {
        r = run => r.map_err(|e| anyhow::anyhow!(e.to_string())),
        _ = wait_for_signal() => {
            let _ = stop_tx.send(true);
            Ok(())
        }
    }
}

/// Calls createHostJoinToken with a signed GET over plain HTTP.
/// Calls createHostJoinToken with the admin's keys (reqwest: a real HTTP client, not a
/// hand-written request over a TCP stream).
async fn mint_token(
    api_url: &str,
    admin_json: &std::path::Path,
    cluster: &str,
    address: Option<&str>,
    uses: u32,
    validity: u32,
) -> anyhow::Result<String> {
    let creds: serde_json::Value = serde_json::from_slice(
        &std::fs::read(admin_json).with_context(|| format!("reading {}", admin_json.display()))?,
    )?;
    let key = creds["apikey"]
        .as_str()
        .context("admin.json has no apikey")?;
    let secret = creds["secretkey"]
        .as_str()
        .context("admin.json has no secretkey")?;
    let (uses, validity) = (uses.to_string(), validity.to_string());
    let mut params: Vec<(&str, &str)> = vec![
        ("command", "createHostJoinToken"),
        ("clusterid", cluster),
        ("uses", &uses),
        ("validityminutes", &validity),
        ("response", "json"),
        ("apiKey", key),
    ];
    if let Some(a) = address {
        params.push(("hostaddress", a));
    }
    let sig = api::sign::sign(&params, secret);
    params.push(("signature", &sig));
    let resp = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()?
        .get(api_url)
        .query(&params)
        .send()
        .await
        .with_context(|| format!("calling {api_url}"))?;
    let body = resp.text().await?;
    let v: serde_json::Value =
        serde_json::from_str(&body).with_context(|| format!("unexpected answer: {body}"))?;
    let inner = &v["createhostjointokenresponse"];
    if let Some(t) = inner["jointoken"]["token"].as_str() {
        return Ok(t.to_string());
    }
    anyhow::bail!(
        "createHostJoinToken failed: {}",
        inner["errortext"].as_str().unwrap_or(&body)
    )
}
