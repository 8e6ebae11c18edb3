//! This machine's agent under `canopy up`: a real host agent (QEMU VMs, the Linux data
//! plane) run in the server's process, joining through the server's agent endpoint like any
//! other host. Its credential is saved in the data directory so that it rejoins after a
//! restart.

use std::path::Path;
use std::sync::{Arc, Mutex};

use server::error::{AppError, AppResult};
use server::state::State;

/// Saved credential of the local agent `canopy up` runs.
const LOCAL_AGENT: &str = "local-agent.json";

/// [`server::up::LocalAgent`] with the real agent (QEMU driver) of this machine.
pub struct QemuLocalAgent;

impl server::up::LocalAgent for QemuLocalAgent {
    fn join(&self, st: &State, data_dir: &Path, token_secret: String) -> AppResult<()> {
        start(
            st,
            data_dir,
            agent::Credential::Token {
                secret: token_secret,
            },
        )
    }

    fn resume(&self, st: &State, data_dir: &Path) -> AppResult<bool> {
        let saved: Option<serde_json::Value> = std::fs::read(data_dir.join(LOCAL_AGENT))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        let Some(s) = saved else { return Ok(false) };
        let (Some(host_id), Some(secret)) = (
            s["host_id"].as_str().and_then(|h| h.parse().ok()),
            s["secret"].as_str(),
        ) else {
            return Ok(false);
        };
        start(
            st,
            data_dir,
            agent::Credential::Host {
                host_id,
                secret: secret.to_string(),
            },
        )?;
        Ok(true)
    }
}

fn start(st: &State, data_dir: &Path, credential: agent::Credential) -> AppResult<()> {
    let path = data_dir.join(LOCAL_AGENT);
    let servers = agent::ServerList::from(st.agent_endpoint.as_str());
    let images = agent::images::ImageSource::new(&servers, &st.agent_fingerprint, &credential);
    let joined = images.clone();
    let mut inventory = agent::inventory::local("127.0.0.1");
    // This machine's VMs (QEMU) and data plane; their runtime files under DIR/host.
    // The uplink of the public bridge (routers' public side), e.g. CANOPY_PUBLIC_UPLINK=eth1.
    let uplink = std::env::var("CANOPY_PUBLIC_UPLINK")
        .ok()
        .filter(|v| !v.is_empty());
    let (driver, _adopted) =
        agent::qemu::for_this_machine(&mut inventory, &data_dir.join("host"), uplink, images)
            .map_err(|e| AppError::Internal(e.to_string()))?;
    let host = Arc::new(agent::HostAgent {
        server: servers,
        fingerprint: st.agent_fingerprint.clone(),
        credential: Mutex::new(credential),
        inventory,
        driver,
        offline: None,
        local: None,
        on_credential: Some(Arc::new(move |host_id, secret: &str| {
            joined.joined(host_id, secret);
            let v = serde_json::json!({"host_id": host_id, "secret": secret});
            if let Err(e) = server::crypto::write_private(&path, v.to_string().as_bytes()) {
                tracing::error!(error = %e, "could not save the local agent's credential");
            }
        })),
    });
    let stop = st.stopping.clone();
    tokio::spawn(async move {
        if let Err(e) = host.run(stop).await {
            tracing::error!(error = %e, "the local agent stopped");
        }
    });
    Ok(())
}
