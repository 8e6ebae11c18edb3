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
}

pub type State = Arc<AppState>;
