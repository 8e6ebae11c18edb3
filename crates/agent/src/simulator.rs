//! Many simulated hosts in one process: each its own connection and identity, speaking the
//! same protocol as a real agent. Identities can be kept in a state file so a restarted
//! simulator comes back as the same hosts.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use proto::Inventory;
use tokio::sync::watch;
use uuid::Uuid;

use crate::driver::{SimDriver, SimHost};
use crate::runtime::{Credential, HostAgent, OnCredential};

/// Shape of the simulated hosts (CloudStack's simulator defaults: 4 × 8000 MHz, 8 GiB, 1 TiB).
#[derive(Clone, Debug)]
pub struct SimOptions {
    pub count: usize,
    /// Host names and addresses are `<prefix>-<i>`.
    pub prefix: String,
    pub cpus: u32,
    pub cpu_mhz: u64,
    pub memory_bytes: u64,
    pub storage_bytes: u64,
    pub delay: Duration,
    pub fail_rate: f64,
    /// Where host credentials are kept between runs.
    pub state_file: Option<PathBuf>,
}

impl Default for SimOptions {
    fn default() -> Self {
        Self {
            count: 1,
            prefix: "sim".into(),
            cpus: 4,
            cpu_mhz: 8000,
            memory_bytes: 8 << 30,
            storage_bytes: 1 << 40,
            delay: Duration::ZERO,
            fail_rate: 0.0,
            state_file: None,
        }
    }
}

pub fn inventory(opts: &SimOptions, address: &str) -> Inventory {
    Inventory {
        hostname: address.to_string(),
        address: address.to_string(),
        cpus: opts.cpus,
        cpu_speed_mhz: opts.cpu_mhz,
        memory_bytes: opts.memory_bytes,
        local_storage_bytes: opts.storage_bytes,
        hypervisor: "Simulator".into(),
        hypervisor_version: "1.0".into(),
        accelerator: "none".into(),
        // `vms`: this host runs VMs (placement only chooses such hosts).
        capabilities: vec!["hvm".into(), "vms".into()],
        agent_version: env!("CARGO_PKG_VERSION").into(),
    }
}

type Saved = HashMap<String, (Uuid, String)>;

/// Builds the simulated hosts; `token` is a join token's secret (a cluster token with enough
/// uses, or a host token when `count` is 1 and `addresses` names that host).
pub fn hosts(
    server: &str,
    fingerprint: &str,
    token: &str,
    opts: &SimOptions,
    addresses: Option<Vec<String>>,
) -> Vec<Arc<HostAgent>> {
    let saved: Saved = opts
        .state_file
        .as_ref()
        .and_then(|p| std::fs::read(p).ok())
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let saved = Arc::new(Mutex::new(saved));
    let addresses = addresses.unwrap_or_else(|| {
        (0..opts.count)
            .map(|i| format!("{}-{i}", opts.prefix))
            .collect()
    });
    addresses
        .into_iter()
        .map(|address| {
            let cred = match saved.lock().ok().and_then(|s| s.get(&address).cloned()) {
                Some((host_id, secret)) => Credential::Host { host_id, secret },
                None => Credential::Token { secret: token.to_string() },
            };
            let on_credential: Option<OnCredential> = opts.state_file.clone().map(|path| {
                let saved = saved.clone();
                let address = address.clone();
                Arc::new(move |id: Uuid, secret: &str| {
                    if let Ok(mut s) = saved.lock() {
                        s.insert(address.clone(), (id, secret.to_string()));
                        if let Ok(b) = serde_json::to_vec(&*s) {
                            let tmp = path.with_extension("tmp");
                            if std::fs::write(&tmp, b).and_then(|_| std::fs::rename(&tmp, &path)).is_err() {
                                tracing::error!(path = %path.display(), "could not save simulated host credentials");
                            }
                        }
                    }
                }) as OnCredential
            });
            let host = sim_host(&address);
            let offline = Some(host.offline.subscribe());
            let driver = Arc::new(SimDriver {
                delay: opts.delay,
                fail_rate: opts.fail_rate,
                storage_bytes: opts.storage_bytes,
                host,
            });
            Arc::new(HostAgent {
                server: server.into(),
                fingerprint: fingerprint.to_string(),
                credential: Mutex::new(cred),
                inventory: inventory(opts, &address),
                driver,
                on_credential,
                offline,
                local: None,
            })
        })
        .collect()
}

/// The in-memory state of the simulated host at `address`. It outlives the host's agent, so a
/// simulated host whose agent (or in-process server) restarts still runs its VMs, as a real
/// hypervisor would; it is lost when the process exits.
pub fn sim_host(address: &str) -> Arc<SimHost> {
    match registry().lock() {
        Ok(mut m) => m.entry(address.to_string()).or_default().clone(),
        Err(_) => Arc::default(),
    }
}

/// The simulated host at `address` if this process runs it (a peer in another process cannot
/// be judged from here).
pub fn known_sim_host(address: &str) -> Option<Arc<SimHost>> {
    registry().lock().ok()?.get(address).cloned()
}

fn registry() -> &'static Mutex<HashMap<String, Arc<SimHost>>> {
    static HOSTS: std::sync::OnceLock<Mutex<HashMap<String, Arc<SimHost>>>> =
        std::sync::OnceLock::new();
    HOSTS.get_or_init(Default::default)
}

/// Runs hosts until `stop` fires; returns their tasks.
pub fn spawn(
    hosts: Vec<Arc<HostAgent>>,
    stop: watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    hosts
        .into_iter()
        .map(|h| {
            let stop = stop.clone();
            tokio::spawn(async move {
                let _ = h.run(stop).await;
            })
        })
        .collect()
}
