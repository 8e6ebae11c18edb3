//! What the domain layer's services share: the store, settings, the server's key and
//! identity, the job and saga machinery, the agent hub, the data-plane queue, placement
//! snapshots, background tasks and metrics. The server's state holds one `Arc<Core>` and
//! dereferences to it, so a service that takes `&Core` is called with the server's state.

use std::sync::Arc;

use db::DataStore;
use model::ServerId;

use crate::crypto::ServerKey;
use crate::hub::AgentHub;
use crate::jobs::JobEngine;
use crate::metrics::Metrics;
use crate::netsync::NetSync;
use crate::placing::SnapshotCache;
use crate::saga::Faults;
use crate::settings::Settings;
use crate::tasks::Tasks;

pub struct Core {
    pub store: DataStore,
    pub settings: Settings,
    pub key: ServerKey,
    pub server_id: ServerId,
    pub jobs: JobEngine,
    /// The connected host agents.
    pub hub: AgentHub,
    /// Injected saga faults (tests and `CANOPY_FAULT_SAGA`).
    pub faults: Faults,
    /// Data-plane requests: hosts whose compiled network configuration must be pushed.
    pub net: NetSync,
    /// Recent placement snapshots per zone.
    pub snapshots: SnapshotCache,
    /// Fires when the server stops (in-process simulated hosts stop with it).
    pub stopping: tokio::sync::watch::Receiver<bool>,
    /// The server's data directory (relative staging directories are taken below it).
    pub data_dir: std::path::PathBuf,
    /// The background tasks and their status.
    pub tasks: Arc<Tasks>,
    /// Prometheus metrics.
    pub metrics: Metrics,
    /// Network lifecycle operations that still live in the server crate.
    pub networks: Box<dyn NetworkLifecycle>,
    /// How the server's own background work submits persisted jobs.
    pub own_jobs: Box<dyn OwnJobs>,
}

/// Work the server does on its own behalf as a VM's owner (HA restarts, the expunge
/// task): persisted jobs, so they survive a management-server crash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OwnJob {
    /// Start the VM (on whichever host placement chooses).
    StartVm,
    /// Expunge the destroyed VM.
    ExpungeVm,
}

impl OwnJob {
    pub fn describe(self) -> &'static str {
        match self {
            OwnJob::StartVm => "HA restart",
            OwnJob::ExpungeVm => "Expunge",
        }
    }
}

/// Submits [`OwnJob`]s. Jobs are stored in the API's form (the command and its parameters,
/// rebound when a job is resumed), which only the server crate knows; it implements this.
pub trait OwnJobs: Send + Sync {
    /// Submits the job as the VM's owner; `None` when the owner is gone (nothing submitted).
    fn submit<'a>(
        &'a self,
        core: &'a Arc<Core>,
        vm: &'a db::VmRow,
        job: OwnJob,
    ) -> futures_util::future::BoxFuture<'a, crate::DomainResult<Option<model::JobId>>>;
}

/// What the domain's sagas need of the network lifecycle, which still lives in the server
/// crate (with the routers it deploys): the server implements it and hands it to [`Core`].
pub trait NetworkLifecycle: Send + Sync {
    /// Implements every network a VM has a NIC on (VNI, router, source NAT), idempotently.
    fn implement_for_vm<'a>(
        &'a self,
        core: &'a Arc<Core>,
        vm: model::VmId,
    ) -> futures_util::future::BoxFuture<'a, crate::DomainResult<()>>;

    /// Re-places the virtual routers of a host declared Down on other hosts; returns how
    /// many moved.
    fn routers_host_failed<'a>(
        &'a self,
        core: &'a Arc<Core>,
        host: model::HostId,
    ) -> futures_util::future::BoxFuture<'a, crate::DomainResult<usize>>;
}

impl crate::saga::SagaEnv for Core {
    type Error = crate::DomainError;

    fn store(&self) -> &DataStore {
        &self.store
    }

    fn faults(&self) -> &Faults {
        &self.faults
    }

    fn step_ran(&self, saga: &'static str, step: &'static str, ok: bool, seconds: f64) {
        self.metrics.saga_step(saga, step, ok, seconds);
    }

    fn position_saved(&self, seconds: f64) {
        self.metrics.saga_save_seconds.observe(seconds);
    }

    fn unwound(&self, saga: &'static str) {
        self.metrics.saga_unwound(saga);
    }

    fn unavailable(e: &crate::DomainError) -> bool {
        e.is_unavailable()
    }

    fn keep_error(e: crate::DomainError) -> crate::saga::StoredError {
        let (kind, text) = e.phrased();
        crate::saga::StoredError {
            code: kind.number(),
            text,
        }
    }
}
