//! The Canopy management server: the app layer (one module per resource family under
//! `handlers`), the job engine, and the HTTP wiring.
//!
//! Layering: `http` parses and authenticates, `dispatch` routes a bound command to its
//! handler, handlers authorise next to their queries (`access`) and write through `db` in
//! transactions that also record the command's event. Handlers never see HTTP or raw
//! parameter maps.

pub mod access;
pub mod agent_tls;
pub mod auth;
pub mod bootstrap;
pub mod cluster;
pub mod conn;
pub mod console;
pub mod dispatch;
pub mod error;
pub mod ha;
pub mod handlers;
pub mod hostmonitor;
pub mod http;
pub mod hub;
pub mod images;
pub mod jobs;
pub mod metrics;
pub mod openfiles;
pub mod panics;
pub mod peers;
pub mod powersync;
pub mod projectscope;
pub mod returnproxy;
pub mod rolecheck;
pub mod saga;
pub mod sources;
pub mod sshkeys;
pub mod state;
pub mod store;
pub mod up;
pub mod upload;
pub mod validate;
pub mod views;
pub mod webui;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use model::ServerId;
use tokio::sync::watch;

pub use bootstrap::AdminCreds;
/// Modules of the domain layer, under the names the server's code has always used.
pub use domain::{context, crypto, events, netsync, placing, settings, tasks};
use state::{AppState, State};

/// How to run a server.
#[derive(Clone, Debug)]
pub struct Config {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    /// `sqlite:PATH` or `postgres://…`; default: SQLite in the data directory.
    pub database: Option<String>,
    /// Address of the agent endpoint (TLS).
    pub agent_listen: SocketAddr,
    /// Host name or address agents use to reach the agent endpoint; default: the listen
    /// address, or 127.0.0.1 when it is unspecified.
    pub advertise: Option<String>,
    /// The built web console (`ui/dist`); `None` serves a page saying it is not built.
    pub ui_dir: Option<PathBuf>,
}

/// A running server.
pub struct Server {
    pub addr: SocketAddr,
    /// Where the agent endpoint listens.
    pub agent_addr: SocketAddr,
    /// Set when this start created the database (first start).
    pub admin: Option<AdminCreds>,
    pub state: State,
    stop: watch::Sender<bool>,
    serve: tokio::task::JoinHandle<()>,
}

impl Server {
    /// Stops serving and the background loops (unfinished jobs are resumed at next start).
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        self.state.tunnels.stop_all();
        let _ = self.serve.await;
        if !self.state.cluster.fenced() {
            cluster::leave(&self.state).await;
        }
        self.state.store.close().await;
    }
    /// Waits until the server stops.
    pub async fn wait(self) {
        let _ = self.serve.await;
    }
    /// A handle that stops the server.
    pub fn stopper(&self) -> watch::Sender<bool> {
        self.stop.clone()
    }
}

/// Opens (and on first start seeds) the database, resumes unfinished jobs, and serves.
pub async fn start(cfg: Config) -> anyhow::Result<Server> {
    std::fs::create_dir_all(&cfg.data_dir)
        .with_context(|| format!("creating {}", cfg.data_dir.display()))?;
    // The directory holds the server key and (with SQLite) password hashes and encrypted
    // secrets: owner only.
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&cfg.data_dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("restricting {}", cfg.data_dir.display()))?;
    }
    let files = openfiles::Budget::new(
        openfiles::raise_limit(),
        conn::Limits::API.max_connections,
        conn::Limits::AGENT.max_connections,
    )
    .agents_from_env();
    tracing::info!(
        open_files = files.limit,
        agents = files.agents,
        api_connections = files.api,
        agent_handshakes = files.agent_handshakes,
        reserve = files.reserve,
        "open files shared out: this server holds this many agent connections (hosts it simulates itself cost none)"
    );
    let key = crypto::ServerKey::load_or_create(&cfg.data_dir)?;
    let url = cfg
        .database
        .clone()
        .unwrap_or_else(|| format!("sqlite:{}", cfg.data_dir.join("canopy.db").display()));
    let store = db::DataStore::open(&url)
        .await
        .with_context(|| format!("opening the database {}", redact_url(&url)))?;
    let admin = bootstrap::run(&store, &key, &cfg.data_dir).await?;
    handlers::offerings::seed_defaults(&store).await?;
    handlers::vpcs::acls::seed_defaults(&store).await?;
    let settings = settings::Settings::load(&store).await?;
    let workers = settings.int("workers").clamp(1, 256) as usize;
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .with_context(|| format!("binding {}", cfg.listen))?;
    let addr = listener.local_addr()?;
    let agent_tls = agent_tls::load_shared(&store, &key, &cfg.data_dir).await?;
    let agent_listener = tokio::net::TcpListener::bind(cfg.agent_listen)
        .await
        .with_context(|| format!("binding the agent endpoint {}", cfg.agent_listen))?;
    let agent_addr = agent_listener.local_addr()?;
    let advertise = cfg.advertise.clone().unwrap_or_else(|| {
        if agent_addr.ip().is_unspecified() {
            "127.0.0.1".to_string()
        } else {
            agent_addr.ip().to_string()
        }
    });
    let server_id = ServerId::new();
    let agent_endpoint = format!("{advertise}:{}", agent_addr.port());
    {
        let mut tx = store.begin().await?;
        let stale = api::time::now_ms() - settings.int("cluster.heartbeat.threshold");
        let live = db::server_register(
            &mut tx,
            &db::NewServer {
                id: server_id,
                name: agent_endpoint.clone(),
                address: addr.to_string(),
                agent_endpoint: agent_endpoint.clone(),
                version: api::CLOUDSTACK_VERSION.to_string(),
            },
            stale,
        )
        .await
        .with_context(|| format!("registering this management server ({agent_endpoint})"))?;
        tx.commit().await?;
        if live > 0 {
            tracing::warn!(name = %agent_endpoint, "replaced a management server of the same name that was still heartbeating: a restart after a crash — or two servers advertising one endpoint (give each its own --advertise)");
        }
    }
    let (stop, stopped) = watch::channel(false);
    let own_jobs = ha::OwnJobs::default();
    let core = Arc::new(state::Core {
        store,
        settings,
        key,
        server_id,
        jobs: jobs::JobEngine::new(workers),
        hub: hub::AgentHub::default(),
        faults: saga::Faults::from_env(),
        net: netsync::NetSync::default(),
        snapshots: placing::SnapshotCache::default(),
        stopping: stopped.clone(),
        data_dir: cfg.data_dir.clone(),
        tasks: Default::default(),
        metrics: Default::default(),
        networks: Box::new(handlers::networks::Lifecycle),
        own_jobs: Box::new(own_jobs.clone()),
    });
    core.hub.set_peers(Arc::new(peers::Link::new(
        Arc::downgrade(&core),
        agent_tls.fingerprint.clone(),
    )));
    if core.store.backend() == db::Backend::Postgres {
        // Several servers: a command waits out a dead server's hosts moving to a survivor
        // (its server-run hosts move once it is judged dead, after the threshold).
        let threshold = core.settings.int("cluster.heartbeat.threshold").max(0) as u64;
        core.hub
            .set_reconnect_wait(Duration::from_millis(threshold + 10_000).max(hub::RECONNECT_WAIT));
    }
    let st: State = Arc::new(AppState {
        core,
        registry: api::commands::registry(),
        consoles: Default::default(),
        agent_endpoint,
        agent_fingerprint: agent_tls.fingerprint.clone(),
        ui_dir: cfg.ui_dir.clone(),
        cluster: cluster::Membership::new(stop.clone()),
        tunnels: Default::default(),
        role_rules: Default::default(),
        files,
    });
    let _ = own_jobs.state.set(Arc::downgrade(&st));
    let resumed = jobs::recover(&st, true).await?;
    if resumed > 0 {
        tracing::info!(resumed, "took over unfinished jobs");
    }
    std::fs::write(cfg.data_dir.join("server.addr"), addr.to_string())?;
    netsync::spawn_worker(st.core.clone());
    spawn_background(st.clone(), stopped.clone());
    tokio::spawn(hub::serve(
        st.clone(),
        agent_listener,
        agent_tls.acceptor,
        stopped.clone(),
    ));
    if st.store.backend() == db::Backend::Sqlite {
        // One server per SQLite database: no agent is connected to a server that just started.
        let mut tx = st.store.begin().await?;
        db::host_mark_all_disconnected(&mut tx, api::time::now_ms()).await?;
        tx.commit().await?;
    }
    let sims = handlers::hosts::resume_simulated(&st, true).await?;
    let downloads = images::resume(&st).await?;
    if downloads > 0 {
        tracing::info!(downloads, "restarted interrupted template downloads");
    }
    if sims > 0 {
        tracing::info!(sims, "restarted in-process simulated hosts");
    }
    let app = http::router(st.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let serve = tokio::spawn(conn::serve(
        listener,
        None,
        app,
        conn::from_env(conn::Limits {
            max_connections: st.files.api,
            ..conn::Limits::API
        }),
        stopped,
    ));
    tracing::info!(%addr, %agent_addr, %server_id, "canopy server listening");
    Ok(Server {
        addr,
        agent_addr,
        admin,
        state: st,
        stop,
        serve,
    })
}

/// The background tasks (`tasks`), each on its own: the host monitor every 2 s (heartbeat
/// flush, status, HA), job lease renewal every 5 s (database only: it never waits behind
/// IO), job recovery every 6 s, the expunge thread every `expunge.interval`, the storage
/// cleanup every `storage.cleanup.interval`, the network
/// garbage collector every `network.gc.interval`, and every minute the purge of expired
/// sessions, old jobs and old events and the storage-pool refresh through their hosts.
fn spawn_background(st: State, stopped: watch::Receiver<bool>) {
    use futures_util::FutureExt;
    use tasks::TaskDef;
    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }
    fn text<T, E: std::fmt::Display>(r: Result<T, E>) -> Result<(), String> {
        r.map(|_| ()).map_err(|e| e.to_string())
    }
    let defs: Vec<TaskDef<State>> = vec![
        TaskDef {
            name: "host-monitor",
            description: "Flushes heartbeats, marks silent hosts, investigates them and starts HA",
            period: |_| secs(2),
            timeout: secs(120),
            run: |st| async move { text(hostmonitor::monitor_once(&st).await) }.boxed(),
        },
        TaskDef {
            name: "server-heartbeat",
            description: "Writes this server's heartbeat (cluster.heartbeat.interval), marks silent peers Down, and stops this server (exit 219) when it cannot heartbeat for cluster.heartbeat.threshold",
            period: |st| Duration::from_millis(st.settings.int("cluster.heartbeat.interval").max(100) as u64),
            timeout: secs(10),
            run: |st| async move { text(cluster::heartbeat(&st).await) }.boxed(),
        },
        TaskDef {
            name: "return-proxy",
            description: "Keeps this server's SSH tunnels to the clusters' return proxies (restarted with backoff when they end)",
            period: |_| secs(1),
            timeout: secs(60),
            run: |st| async move { text(returnproxy::supervise(&st).await) }.boxed(),
        },
        TaskDef {
            name: "job-lease-renewal",
            description: "Renews the leases of this server's jobs",
            period: |_| secs(5),
            timeout: secs(10),
            run: |st| async move { text(jobs::renew(&st).await) }.boxed(),
        },
        TaskDef {
            name: "job-recovery",
            description: "Takes over jobs whose owner's lease ran out",
            period: |_| secs(6),
            timeout: secs(120),
            run: |st| async move { text(jobs::recover(&st, false).await) }.boxed(),
        },
        TaskDef {
            name: "expunge",
            description: "Expunges VMs destroyed for expunge.delay seconds, and VMs in Error",
            period: |st| secs(st.settings.int("expunge.interval").max(1) as u64),
            timeout: secs(600),
            run: |st| async move { text(domain::ha::expunge_due(&st.core).await) }.boxed(),
        },
        TaskDef {
            name: "storage-cleanup",
            description: "Expunges volumes destroyed for storage.cleanup.delay seconds (storage.cleanup.enabled)",
            period: |st| secs(st.settings.int("storage.cleanup.interval").max(1) as u64),
            timeout: secs(600),
            run: |st| async move { text(handlers::volumes::cleanup(&st).await) }.boxed(),
        },
        TaskDef {
            name: "network-gc",
            description: "Shuts down networks without VMs for network.gc.wait seconds",
            period: |st| secs(st.settings.int("network.gc.interval").max(1) as u64),
            timeout: secs(600),
            run: |st| async move { text(handlers::networks::gc(&st).await) }.boxed(),
        },
        TaskDef {
            name: "purge",
            description: "Removes expired sessions, old finished jobs, old events and expired download links",
            period: |_| secs(60),
            timeout: secs(120),
            run: |st| async move { text(purge(&st).await) }.boxed(),
        },
        TaskDef {
            name: "snapshot-policies",
            description: "Takes the snapshots of the snapshot policies that are due (snapshot.poll.interval), each once across servers",
            period: |st| secs(st.settings.int("snapshot.poll.interval").max(1) as u64),
            timeout: secs(120),
            run: |st| async move { text(handlers::snapshots::run_due(&st).await) }.boxed(),
        },
        TaskDef {
            name: "vm-schedules",
            description: "Runs the VM schedules that are due (createVMSchedule), each once across servers",
            period: |_| secs(10),
            timeout: secs(120),
            run: |st| async move { text(handlers::vmschedules::run_due(&st).await) }.boxed(),
        },
        TaskDef {
            name: "s2s-vpn-check",
            description: "Reads the site-to-site VPN connections' states from their VPC routers (router.check.interval)",
            period: |st| secs(st.settings.int("router.check.interval").max(1) as u64),
            timeout: secs(120),
            run: |st| async move { text(handlers::s2svpn::check_all(&st).await) }.boxed(),
        },
        TaskDef {
            name: "storage-pool-refresh",
            description: "Measures shared storage pools through their hosts",
            period: |_| secs(60),
            timeout: secs(600),
            run: |st| async move { text(handlers::storage::refresh_pools(&st).await) }.boxed(),
        },
    ];
    for def in defs {
        st.tasks.spawn(st.clone(), def, stopped.clone());
    }
}

async fn purge(st: &AppState) -> error::AppResult<()> {
    let now = api::time::now_ms();
    let mut tx = st.store.begin().await?;
    db::session_delete_expired(&mut tx, now).await?;
    db::job_purge(
        &mut tx,
        now - st.settings.int("job.expire.minutes") * 60_000,
    )
    .await?;
    let days = st.settings.int("event.purge.delay");
    if days > 0 {
        db::event_purge(&mut tx, now - days * 86_400_000).await?;
    }
    tx.commit().await?;
    handlers::snapshots::extract::purge(st).await?;
    Ok(())
}

/// A database URL without its password, for messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..s + 3], user, &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}
