//! What every handler gets: the store, the command registry, settings, the server key, and
//! this server's identity.

use std::sync::Arc;

use api::Registry;
use db::DataStore;
use model::ServerId;

use crate::crypto::ServerKey;
use crate::jobs::JobEngine;
use crate::settings::Settings;

pub struct AppState {
    pub store: DataStore,
    pub registry: Registry,
    pub settings: Settings,
    pub key: ServerKey,
    pub server_id: ServerId,
    pub jobs: JobEngine,
    pub hub: crate::hub::AgentHub,
    /// Injected saga faults (tests and `CANOPY_FAULT_SAGA`).
    pub faults: crate::saga::Faults,
    /// Data-plane requests: hosts whose compiled network configuration must be pushed.
    pub net: crate::netsync::NetSync,
    /// Recent placement snapshots per zone.
    pub snapshots: crate::placing::SnapshotCache,
    /// How agents reach this server (`host:port`), written into join tokens.
    pub agent_endpoint: String,
    /// SHA-256 of the agent endpoint's certificate.
    pub agent_fingerprint: String,
    /// Fires when the server stops (in-process simulated hosts stop with it).
    pub stopping: tokio::sync::watch::Receiver<bool>,
    /// The built web console's directory, served at `/client/`.
    pub ui_dir: Option<std::path::PathBuf>,
    /// The server's data directory (relative staging directories are taken below it).
    pub data_dir: std::path::PathBuf,
    /// The background tasks and their status.
    pub tasks: Arc<crate::tasks::Tasks>,
    /// Prometheus metrics (`/metrics`).
    pub metrics: crate::metrics::Metrics,
}

pub type State = Arc<AppState>;
