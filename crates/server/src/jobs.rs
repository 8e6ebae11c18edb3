//! Async jobs as the CloudStack edge sees them: `submit` stores a bound command as a job
//! (its parameters without the ones that authenticate), and the server runs a stored job by
//! rebinding its parameters and dispatching the command's job body. The engine itself —
//! worker pool, leases, recovery — is [`domain::jobs`]; [`JobHost`] binds it to this server.

use std::sync::Arc;
use std::time::Duration;

use api::{ApiError, Args, RawParams};
use db::{JobRow, NewJob};
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use model::jobs::EventState;
use model::JobId;
use serde_json::Value;

pub use domain::jobs::{JobEngine, JobFailure, JobHost, JobRef, LEASE_MS, MAX_ATTEMPTS};

use crate::context::OpContext;
use crate::dispatch;
use crate::error::{AppError, AppResult};
use crate::events::{event_type, Event};
use crate::state::{AppState, State};

/// Parameters that authenticate or shape a request; never stored with a job.
const NOT_STORED: &[&str] = &[
    "apikey",
    "signature",
    "signatureversion",
    "expires",
    "sessionkey",
    "response",
    "command",
    "_",
];

/// What an async command's preparation decided before the job exists.
pub struct JobPlan {
    pub instance_type: Option<&'static str>,
    pub instance_id: Option<String>,
    /// Whether the answer carries `id` (async "create" commands).
    pub returns_id: bool,
    pub description: String,
}

/// Stores the job and its `Scheduled` event, then starts it. Returns the job id.
pub async fn submit(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    raw: &RawParams,
    plan: &JobPlan,
) -> AppResult<JobId> {
    let params: serde_json::Map<String, Value> = raw
        .lowered()
        .filter(|(k, _)| !NOT_STORED.contains(&k.as_str()))
        .map(|(k, v)| (k, Value::String(v.to_string())))
        .collect();
    let id = JobId::new();
    let mut tx = st.store.begin().await?;
    let mut event_id = None;
    if let Some(t) = event_type(args.command) {
        let mut ev = Event::new(ctx, t, format!("{} (job {id})", plan.description))
            .state(EventState::Scheduled);
        if let (Some(k), Some(i)) = (plan.instance_type, &plan.instance_id) {
            ev = ev.resource(i, k, None);
        }
        event_id = Some(ev.record(&mut tx).await?);
    }
    let row = NewJob {
        id,
        command: args.command.to_string(),
        params: Value::Object(params).to_string(),
        user_id: ctx.user_id(),
        account_id: ctx.account_id(),
        domain_id: ctx.domain_id(),
        instance_type: plan.instance_type.map(str::to_string),
        instance_id: plan.instance_id.clone(),
        event_id,
    };
    db::job_insert(&mut tx, &row, st.server_id, domain::now_ms() + LEASE_MS).await?;
    tx.commit().await?;
    domain::jobs::spawn(st.clone(), id);
    Ok(id)
}

/// Rebuilds the caller and the bound arguments from the stored job.
async fn prepare(st: &State, job: &JobRow) -> Result<(OpContext, Args), ApiError> {
    let spec = st
        .registry
        .get(&job.command)
        .filter(|s| s.isasync)
        .ok_or_else(|| {
            ApiError::internal(format!(
                "Job command {} is not known to this management server",
                job.command
            ))
        })?;
    let user = {
        let mut c = st
            .store
            .read()
            .await
            .map_err(|e| AppError::from(e).into_api())?;
        db::user_get(&mut c, job.user_id)
            .await
            .map_err(|e| AppError::from(e).into_api())?
    }
    .ok_or_else(|| ApiError::internal("The user who submitted this job no longer exists"))?;
    let params: serde_json::Map<String, Value> = serde_json::from_str(&job.params)
        .map_err(|_| ApiError::internal("The job's stored parameters are unreadable"))?;
    let raw = RawParams::from_pairs(
        params
            .into_iter()
            .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_string())),
    );
    let args = spec.bind(&raw, u64::MAX)?;
    let mut ctx = OpContext::new(user, false);
    crate::projectscope::restore(st, &mut ctx, &raw)
        .await
        .map_err(|e| e.into_api())?;
    Ok((ctx, args))
}

/// Waits (at most [`crate::hub::RECONNECT_WAIT`]) until every host that is not Down is
/// connected (a stopping server marks its agents Disconnected).
async fn wait_for_agents(st: &State) {
    let expected: Vec<model::HostId> = match st.store.read().await {
        Ok(mut c) => db::host_list(&mut c, &db::HostFilter::default())
            .await
            .map(|(hosts, _)| {
                hosts
                    .into_iter()
                    .filter(|h| {
                        matches!(
                            h.status,
                            model::HostStatus::Up
                                | model::HostStatus::Connecting
                                | model::HostStatus::Disconnected
                                | model::HostStatus::Alert
                        )
                    })
                    .map(|h| h.id)
                    .collect()
            })
            .unwrap_or_default(),
        Err(_) => Vec::new(),
    };
    let end = tokio::time::Instant::now() + crate::hub::RECONNECT_WAIT;
    while tokio::time::Instant::now() < end && !expected.iter().all(|h| st.hub.is_connected(*h)) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

impl JobHost for AppState {
    fn store(&self) -> &db::DataStore {
        &self.store
    }

    fn server_id(&self) -> model::ServerId {
        self.server_id
    }

    fn engine(&self) -> &JobEngine {
        &self.jobs
    }

    fn knows(&self, command: &str) -> bool {
        self.registry
            .get(command)
            .map(|s| s.isasync)
            .unwrap_or(false)
    }

    fn execute<'a>(
        st: &'a Arc<Self>,
        job: &'a JobRow,
    ) -> BoxFuture<'a, (Option<OpContext>, Result<Value, JobFailure>)> {
        async move {
            let span = tracing::info_span!("job", job = %job.id, command = %job.command);
            let mut retry = false;
            let (ctx, outcome) = match prepare(st, job).await {
                Ok((ctx, args)) => {
                    let jr = JobRef {
                        id: job.id,
                        instance_id: job.instance_id.clone(),
                    };
                    let r = crate::panics::guard(
                        tracing::Instrument::instrument(
                            dispatch::run_async(st, &ctx, &args, &jr),
                            span,
                        ),
                        &job.command,
                    )
                    .await
                    .and_then(|r| {
                        r.map_err(|e| {
                            if e.is_unavailable() {
                                retry = true;
                            }
                            e.into_api()
                        })
                    });
                    let r = match r {
                        Ok(mut v) => crate::projectscope::show_owners(st, &mut v)
                            .await
                            .map(|()| v)
                            .map_err(|e| e.into_api()),
                        e => e,
                    };
                    (Some(ctx), r)
                }
                Err(e) => (None, Err(e)),
            };
            let outcome = outcome.map_err(|e| JobFailure {
                code: e.code as u16,
                text: e.text,
                retry,
            });
            (ctx, outcome)
        }
        .boxed()
    }

    fn settle<'a>(st: &'a Arc<Self>, job: &'a JobRow) -> BoxFuture<'a, ()> {
        async move {
            // A VM that changed (started, stopped, moved, got a NIC…): its hosts' data plane
            // follows before the job answers, so a finished job means configured hosts.
            if job.instance_type.as_deref() != Some("VirtualMachine") {
                return;
            }
            if let Some(vm) = job.instance_id.as_deref().and_then(|i| i.parse().ok()) {
                let structural = matches!(
                    job.command.as_str(),
                    "deployVirtualMachine"
                        | "addNicToVirtualMachine"
                        | "removeNicFromVirtualMachine"
                        | "updateDefaultNicForVirtualMachine"
                );
                crate::netsync::vm_changed(st, vm, structural).await;
            }
        }
        .boxed()
    }

    fn before_resume(st: &Arc<Self>) -> BoxFuture<'_, ()> {
        wait_for_agents(st).boxed()
    }

    fn for_caller(failure: JobFailure, admin: bool) -> JobFailure {
        if admin {
            return failure;
        }
        let code = api::ErrorCode::from_u16(failure.code).unwrap_or(api::ErrorCode::Internal);
        let e = crate::error::for_user(ApiError::new(code, failure.text));
        JobFailure {
            code: e.code as u16,
            text: e.text,
            retry: failure.retry,
        }
    }

    fn job_started(&self, queued_s: f64) {
        self.metrics.job_queue_wait.observe(queued_s);
        self.metrics.jobs_running.inc();
    }

    fn job_phase(&self, phase: &'static str, seconds: f64) {
        self.metrics
            .job_phase_seconds
            .get_or_create(&domain::metrics::JobPhase {
                phase: phase.to_string(),
            })
            .observe(seconds);
    }

    fn job_finished(&self, command: &str, ok: bool) {
        self.metrics.jobs_running.dec();
        self.metrics.job_finished(
            self.registry
                .get(command)
                .map(|s| s.name)
                .unwrap_or("unknown"),
            ok,
        );
    }
}

/// Takes over orphaned jobs (see [`domain::jobs::recover`]).
pub async fn recover(st: &State, startup: bool) -> AppResult<usize> {
    Ok(domain::jobs::recover(st, startup).await?)
}

/// Renews this server's leases; run periodically.
pub async fn renew(st: &AppState) -> AppResult<()> {
    Ok(domain::jobs::renew(&st.store, st.server_id, &st.jobs).await?)
}
