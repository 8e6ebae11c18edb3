//! Async jobs: persisted rows, a bounded worker pool, leases, and recovery.
//!
//! A job row is written (leased to this server) together with its `Scheduled` event before
//! the client gets `{jobid}`; a worker then rebinds the stored parameters and runs the
//! command's job body. Leases are renewed while the server lives. After a crash, jobs whose
//! owner is gone are taken over: resumed when the command's body is idempotent and the attempt
//! limit is not reached, otherwise failed with a clear text. No job stays pending forever.

use std::sync::Arc;
use std::time::Duration;

use api::{ApiError, Args, RawParams};
use db::{Backend, JobRow, NewJob};
use model::jobs::{EventLevel, EventState, JobStatus};
use model::JobId;
use model::SagaPhase;
use serde_json::{json, Value};
use tokio::sync::Semaphore;

use crate::context::OpContext;
use crate::dispatch;
use crate::error::{AppError, AppResult};
use crate::events::{event_type, Event};
use crate::state::{AppState, State};

/// How many times in a row a job may be started without its saga or progress moving (the run
/// that made the last progress included) before recovery gives up.
pub const MAX_ATTEMPTS: i64 = 3;
/// Lease length; renewed every third of it.
pub const LEASE_MS: i64 = 30_000;

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

pub struct JobEngine {
    permits: Arc<Semaphore>,
    /// Fault injection for crash tests: every job body waits this long first
    /// (`CANOPY_FAULT_JOB_DELAY_MS`).
    delay: Duration,
}

impl JobEngine {
    pub fn new(workers: usize) -> Self {
        let delay = std::env::var("CANOPY_FAULT_JOB_DELAY_MS")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .map(Duration::from_millis)
            .unwrap_or(Duration::ZERO);
        if !delay.is_zero() {
            tracing::warn!(?delay, "fault injection: every job body is delayed");
        }
        Self {
            permits: Arc::new(Semaphore::new(workers.max(1))),
            delay,
        }
    }
}

/// What a job body knows about its job.
pub struct JobRef {
    pub id: JobId,
    /// The entity the job acts on (for create-style commands, the one `prepare` created).
    pub instance_id: Option<String>,
}

impl JobRef {
    /// The instance id as a typed id.
    pub fn instance<T: std::str::FromStr>(&self) -> AppResult<T> {
        self.instance_id
            .as_deref()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| AppError::Internal(format!("job {} has no valid instance id", self.id)))
    }
}

/// What an async command's preparation decided before the job exists.
pub struct JobPlan {
    pub instance_type: Option<&'static str>,
    pub instance_id: Option<String>,
    /// Whether the answer carries `id` (async "create" commands).
    pub returns_id: bool,
    pub description: String,
}

fn now_ms() -> i64 {
    api::time::now_ms()
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
    db::job_insert(&mut tx, &row, st.server_id, now_ms() + LEASE_MS).await?;
    tx.commit().await?;
    spawn(st.clone(), id);
    Ok(id)
}

fn spawn(st: State, id: JobId) {
    tokio::spawn(async move {
        if let Err(e) = run(&st, id).await {
            tracing::error!(job = %id, error = %e, "job runner failed; recovery will retry");
        }
    });
}

/// Runs one job this server owns.
async fn run(st: &State, id: JobId) -> AppResult<()> {
    let permit = st
        .jobs
        .permits
        .clone()
        .acquire_owned()
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    if !st.jobs.delay.is_zero() {
        tokio::time::sleep(st.jobs.delay).await;
    }
    let job = {
        let mut c = st.store.read().await?;
        db::job_get(&mut c, id).await?
    };
    let Some(job) = job else { return Ok(()) };
    if job.status != JobStatus::InProgress.as_i64() || job.owner != Some(st.server_id) {
        return Ok(());
    }
    let started = std::time::Instant::now();
    st.metrics
        .job_queue_wait
        .observe((now_ms() - job.created).max(0) as f64 / 1000.0);
    st.metrics.jobs_running.inc();
    let span = tracing::info_span!("job", job = %job.id, command = %job.command);
    let (ctx, outcome) = match prepare(st, &job).await {
        Ok((ctx, args)) => {
            let jr = JobRef {
                id: job.id,
                instance_id: job.instance_id.clone(),
            };
            let r = crate::panics::guard(
                tracing::Instrument::instrument(dispatch::run_async(st, &ctx, &args, &jr), span),
                &job.command,
            )
            .await
            .and_then(|r| r.map_err(AppError::into_api));
            (Some(ctx), r)
        }
        Err(e) => (None, Err(e)),
    };
    // A VM that changed (started, stopped, moved, got a NIC…): its hosts' data plane follows
    // before the job answers, so a finished job means configured hosts. Waiting for the
    // data-plane round is not work: the job gives its worker slot back first.
    drop(permit);
    st.metrics.jobs_running.dec();
    st.metrics.job_finished(
        st.registry
            .get(&job.command)
            .map(|s| s.name)
            .unwrap_or("unknown"),
        outcome.is_ok(),
    );
    if job.instance_type.as_deref() == Some("VirtualMachine") {
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
    tracing::info!(job = %id, command = %job.command, ok = outcome.is_ok(), ms = started.elapsed().as_millis() as u64, "job finished");
    finish(st, &job, ctx.as_ref(), outcome).await
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
    Ok((OpContext::new(user, false), args))
}

/// Records the outcome and the `Completed` event, if this server still owns the job.
async fn finish(
    st: &AppState,
    job: &JobRow,
    ctx: Option<&OpContext>,
    outcome: Result<Value, ApiError>,
) -> AppResult<()> {
    let admin = ctx.map(|c| c.is_admin()).unwrap_or(false);
    let (status, code, result, level) = match outcome {
        Ok(v) => (JobStatus::Succeeded, 0, v, EventLevel::Info),
        Err(e) => {
            let e = if admin { e } else { crate::error::for_user(e) };
            (
                JobStatus::Failed,
                e.code as i64,
                json!({"errorcode": e.code as u16, "errortext": e.text}),
                EventLevel::Error,
            )
        }
    };
    let mut tx = st.store.begin().await?;
    if !db::job_complete(
        &mut tx,
        job.id,
        st.server_id,
        status.as_i64(),
        code,
        &result.to_string(),
    )
    .await?
    {
        tracing::warn!(job = %job.id, "job was taken over by another server; dropping this result");
        return Ok(());
    }
    if let (Some(t), Some(ctx)) = (event_type(&job.command), ctx) {
        let text = match status {
            JobStatus::Succeeded => format!("{} completed (job {})", job.command, job.id),
            _ => format!(
                "{} failed (job {}): {}",
                job.command,
                job.id,
                result["errortext"].as_str().unwrap_or("")
            ),
        };
        let mut ev = Event::new(ctx, t, text).level(level).parent(job.event_id);
        if let (Some(k), Some(i)) = (&job.instance_type, &job.instance_id) {
            ev = ev.resource(i, k, None);
        }
        ev.record(&mut tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Takes over orphaned jobs: resumes those that can be, fails the rest with a clear text.
/// At start-up on SQLite (one server per database) every unfinished job is an orphan.
pub async fn recover(st: &State, startup: bool) -> AppResult<usize> {
    let all = startup && st.store.backend() == Backend::Sqlite;
    let orphans = {
        let mut c = st.store.read().await?;
        db::job_orphans(&mut c, st.server_id, now_ms(), all).await?
    };
    let mut n = 0;
    let mut resume = Vec::new();
    for job in orphans {
        let mut tx = st.store.begin().await?;
        let saga = db::saga_get(&mut tx, job.id).await?;
        let mark = format!(
            "{}|{}",
            job.progress,
            saga.as_ref()
                .map(|s| format!("{}:{}", s.phase, s.step))
                .unwrap_or_default()
        );
        if !db::job_take_over(&mut tx, &job, st.server_id, now_ms() + LEASE_MS, &mark).await? {
            continue;
        }
        tx.commit().await?;
        n += 1;
        let known = st
            .registry
            .get(&job.command)
            .map(|s| s.isasync)
            .unwrap_or(false);
        let attempt = if job.resume_mark.as_deref() == Some(mark.as_str()) {
            job.attempts + 1
        } else {
            1
        };
        // A saga that reached its end only has its outcome left to record: always resume it,
        // so the job answers what the saga did (not "interrupted").
        let settled = saga
            .as_ref()
            .is_some_and(|s| matches!(s.phase, SagaPhase::Done | SagaPhase::Unwound));
        // A saga stuck going forward is not left half done: it is told to give up, and the
        // resumed job unwinds it (before its point of no return) or reports the failure.
        let stuck_forward = saga
            .as_ref()
            .filter(|s| s.phase == SagaPhase::Forward)
            .map(|s| (s, crate::saga::SagaData::of(s)))
            .filter(|(_, d)| !d.as_ref().is_ok_and(|d| d.give_up));
        if known && (attempt <= MAX_ATTEMPTS || (settled && attempt <= 3 * MAX_ATTEMPTS)) {
            tracing::info!(job = %job.id, command = %job.command, attempt, "resuming job after restart");
            resume.push(job.id);
        } else if let (true, Some((s, data))) = (known, stuck_forward) {
            let text = format!(
                "Job {} ({}) was interrupted {} times by management server restarts without making progress; it was rolled back where it could be",
                job.id,
                job.command,
                attempt - 1
            );
            tracing::warn!(job = %job.id, saga = %s.kind, step = s.step, "a saga makes no progress across restarts; giving it up");
            let mut data = data?;
            data.give_up = true;
            data.error = Some(crate::saga::StoredError { code: 530, text });
            let mut given_up = s.clone();
            given_up.data = serde_json::to_value(&data)
                .map_err(|e| AppError::Internal(format!("saga data: {e}")))?;
            let mut tx = st.store.begin().await?;
            db::saga_put(&mut tx, &given_up).await?;
            tx.commit().await?;
            resume.push(job.id);
        } else {
            let why = if known {
                format!(
                    "it was interrupted {} times without making progress",
                    attempt - 1
                )
            } else {
                format!(
                    "the command {} is not known to this management server",
                    job.command
                )
            };
            tracing::warn!(job = %job.id, %why, "failing orphaned job");
            let text = format!("Job {} ({}) was interrupted by a management server restart and cannot be resumed: {why}", job.id, job.command);
            let taken = JobRow {
                owner: Some(st.server_id),
                attempts: attempt,
                ..job
            };
            let ctx = match st.store.read().await {
                Ok(mut c) => db::user_get(&mut c, taken.user_id)
                    .await
                    .ok()
                    .flatten()
                    .map(|u| OpContext::new(u, false)),
                Err(_) => None,
            };
            finish(st, &taken, ctx.as_ref(), Err(ApiError::internal(text))).await?;
        }
    }
    if startup && !resume.is_empty() {
        // Resumed sagas talk to hosts: give the agents that were Up a moment to reconnect
        // to this (re)started server first, so a restart does not fail their work.
        let st = st.clone();
        tokio::spawn(async move {
            wait_for_agents(&st).await;
            for id in resume {
                spawn(st.clone(), id);
            }
        });
    } else {
        for id in resume {
            spawn(st.clone(), id);
        }
    }
    Ok(n)
}

/// Waits (at most [`crate::hub::RECONNECT_WAIT`]) until every host that is not Down is
/// connected (a stopping server marks its agents Disconnected).
async fn wait_for_agents(st: &State) {
    let expected: Vec<uuid::Uuid> = match st.store.read().await {
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

/// Renews this server's leases; run periodically.
pub async fn renew(st: &AppState) -> AppResult<()> {
    let mut tx = st.store.begin().await?;
    db::job_renew_leases(&mut tx, st.server_id, now_ms() + LEASE_MS).await?;
    db::server_heartbeat(&mut tx, st.server_id).await?;
    tx.commit().await?;
    Ok(())
}
