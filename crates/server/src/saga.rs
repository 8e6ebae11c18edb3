//! The server's sagas run on the domain layer's engine ([`domain::saga`]); this module binds
//! it to the server's state: steps get the whole server as `cx.st`, return the server's
//! error, and the error a step fails with is kept as its caller will see it.

use std::sync::Arc;

pub use domain::saga::{progress, Fault, FaultKind, Faults, SagaData, SagaEnv, StoredError};
use model::JobId;
use uuid::Uuid;

use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// The context the server's steps run in.
pub type SagaCx = domain::saga::SagaCx<AppState>;
/// A saga of the server.
pub type SagaDef = domain::saga::SagaDef<AppState>;
/// A step of one.
pub type Step = domain::saga::Step<AppState>;

impl SagaEnv for AppState {
    type Error = AppError;

    fn store(&self) -> &db::DataStore {
        &self.store
    }

    fn faults(&self) -> &Faults {
        &self.faults
    }

    fn step_ran(&self, saga: &'static str, ok: bool) {
        self.metrics.saga_step(saga, ok);
    }

    fn unwound(&self, saga: &'static str) {
        self.metrics.saga_unwound(saga);
    }

    fn keep_error(e: AppError) -> StoredError {
        let api = e.into_api();
        StoredError {
            code: api.code as u16,
            text: api.text,
        }
    }
}

/// Runs (or resumes) the saga of `job` (see [`domain::saga::run`]).
pub async fn run(
    st: &Arc<AppState>,
    job: JobId,
    def: &SagaDef,
    resource: Uuid,
    data: SagaData,
) -> AppResult<SagaData> {
    domain::saga::run(st, job, def, resource, data).await
}
