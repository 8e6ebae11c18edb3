//! What every handler gets: the domain's [`Core`] (store, settings, key, identity, jobs,
//! agents, data plane, placement, tasks, metrics; the state dereferences to it) and what
//! only the CloudStack edge needs: the command registry, the console sessions, how agents
//! reach this server and where the web console's files are.

use std::sync::Arc;

use api::Registry;
pub use domain::core::Core;

pub struct AppState {
    pub core: Arc<Core>,
    pub registry: Registry,
    /// Console sessions waiting for their host to dial back.
    pub consoles: crate::console::Consoles,
    /// How agents reach this server (`host:port`), written into join tokens.
    pub agent_endpoint: String,
    /// SHA-256 of the agent endpoint's certificate.
    pub agent_fingerprint: String,
    /// The built web console's directory, served at `/client/`.
    pub ui_dir: Option<std::path::PathBuf>,
    /// This server's standing among the servers of its database.
    pub cluster: crate::cluster::Membership,
    /// This server's SSH tunnels to return proxies.
    pub tunnels: crate::returnproxy::Tunnels,
    /// The roles' permission rules, cached briefly.
    pub role_rules: crate::rolecheck::RoleRules,
    /// The process's open files, shared out (agents' share, joins a few at a time).
    pub files: crate::openfiles::Budget,
}

impl std::ops::Deref for AppState {
    type Target = Core;

    fn deref(&self) -> &Core {
        &self.core
    }
}

pub type State = Arc<AppState>;
