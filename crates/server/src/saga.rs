//! The server runs the domain's sagas ([`domain::saga`]; their definitions are in
//! [`domain::vms`] and [`domain::volumes`]) in its jobs.

use std::sync::Arc;

pub use domain::saga::{progress, Fault, FaultKind, Faults, SagaData, StoredError};
use model::JobId;
use uuid::Uuid;

use crate::error::AppResult;
use crate::state::{AppState, Core};

/// Runs (or resumes) a saga of the domain for job `job` of the server (see
/// [`domain::saga::run`]).
pub async fn run(
    st: &Arc<AppState>,
    job: JobId,
    def: &domain::saga::SagaDef<Core>,
    resource: Uuid,
    data: SagaData,
) -> AppResult<SagaData> {
    Ok(domain::saga::run(&st.core, job, def, resource, data).await?)
}
