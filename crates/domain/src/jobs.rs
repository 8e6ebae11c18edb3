//! The job engine: a bounded worker pool, leases, and recovery of orphaned jobs.
//!
//! A job row is written (leased to this server) together with its `Scheduled` event before
//! the client gets `{jobid}` (by the server's `submit`, which knows the wire); a worker then
//! has the server run the command's body ([`JobHost::execute`]) and records the outcome and
//! the `Completed` event. Leases are renewed while the server lives ([`renew`], a background
//! task that never waits behind IO). After a crash, jobs whose owner is gone are taken over
//! ([`recover`]): resumed when the command is one this server runs and the attempt limit is
//! not reached, otherwise failed with a clear text. No job stays pending forever.

use std::sync::Arc;
use std::time::Duration;

use db::{Backend, DataStore, JobRow};
use futures_util::future::BoxFuture;
use model::jobs::{EventLevel, JobStatus};
use model::{JobId, SagaPhase, ServerId};
use serde_json::{json, Value};
use tokio::sync::Semaphore;

use crate::context::OpContext;
use crate::error::{now_ms, DomainError, DomainResult, ErrorKind};
use crate::events::{event_type, Event};
use crate::saga::{SagaData, StoredError};

/// How many times in a row a job may be started without its saga or progress moving (the run
/// that made the last progress included) before recovery gives up.
pub const MAX_ATTEMPTS: i64 = 3;
/// Lease length; renewed every third of it.
pub const LEASE_MS: i64 = 30_000;

/// The hold a job body runs under: the job, the server that owns it, and the generation it
/// owns it at. Set for the body's task by the job runner ([`current_claim`]); a saga run
/// inside it writes its progress only while the job is still held at that generation
/// (`db::job_hold`), so when another server (or this one, after its lease ran out) took the
/// job over, the superseded run stops at its next step instead of acting twice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Claim {
    pub job: JobId,
    pub owner: ServerId,
    pub generation: i64,
}

tokio::task_local! {
    static CLAIM: Claim;
}

/// The claim of the job whose body runs in this task, if any.
pub fn current_claim() -> Option<Claim> {
    CLAIM.try_with(|c| *c).ok()
}

/// Confirms in `tx` that `claim` still holds its job (extending the lease), or fails: the job
/// was taken over and this run is superseded.
pub async fn hold(tx: &mut db::Tx, claim: &Claim) -> DomainResult<()> {
    if db::job_hold(
        tx,
        claim.job,
        claim.owner,
        claim.generation,
        now_ms() + LEASE_MS,
    )
    .await?
    {
        return Ok(());
    }
    tracing::warn!(job = %claim.job, generation = claim.generation, "job was taken over; this superseded run stops");
    Err(DomainError::Internal(format!(
        "job {} was taken over by another run (generation {} superseded)",
        claim.job, claim.generation
    )))
}

/// The worker pool.
pub struct JobEngine {
    permits: Arc<Semaphore>,
    /// The jobs this process runs now (only their leases are renewed).
    running: std::sync::Mutex<std::collections::HashSet<JobId>>,
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
            running: Default::default(),
            delay,
        }
    }

    /// The jobs this process runs now.
    pub fn running(&self) -> Vec<JobId> {
        self.running
            .lock()
            .map(|r| r.iter().copied().collect())
            .unwrap_or_default()
    }
}

/// Marks a job as run by this process while it lives.
struct Runs<'a>(&'a JobEngine, JobId);

impl<'a> Runs<'a> {
    fn new(engine: &'a JobEngine, id: JobId) -> Self {
        if let Ok(mut r) = engine.running.lock() {
            r.insert(id);
        }
        Self(engine, id)
    }
}

impl Drop for Runs<'_> {
    fn drop(&mut self) {
        if let Ok(mut r) = self.0.running.lock() {
            r.remove(&self.1);
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
    pub fn instance<T: std::str::FromStr>(&self) -> DomainResult<T> {
        self.instance_id
            .as_deref()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| {
                DomainError::Internal(format!("job {} has no valid instance id", self.id))
            })
    }
}

/// A job's failure as it is stored: its code and the text its caller reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobFailure {
    pub code: u16,
    pub text: String,
    /// The body stopped because the database could not be reached: the job is not failed
    /// but released, and recovery resumes it (see [`release`]).
    pub retry: bool,
}

/// What the engine needs from the server it runs in.
pub trait JobHost: Send + Sync + 'static {
    fn store(&self) -> &DataStore;
    fn server_id(&self) -> ServerId;
    fn engine(&self) -> &JobEngine;
    /// Whether this server runs `command` as a job.
    fn knows(&self, command: &str) -> bool;
    /// Runs the job's body: who asked (when they still exist) and the outcome.
    fn execute<'a>(
        st: &'a Arc<Self>,
        job: &'a JobRow,
    ) -> BoxFuture<'a, (Option<OpContext>, Result<Value, JobFailure>)>;
    /// After the body, before its outcome is recorded: what must follow the job (a VM that
    /// changed has its hosts' data plane configured first). Runs without a worker slot.
    fn settle<'a>(st: &'a Arc<Self>, job: &'a JobRow) -> BoxFuture<'a, ()>;
    /// Before the jobs resumed at start-up run (the hosts' agents reconnect first).
    fn before_resume(st: &Arc<Self>) -> BoxFuture<'_, ()>;
    /// What a caller who is not an admin may read of a failure.
    fn for_caller(failure: JobFailure, admin: bool) -> JobFailure;
    /// A job started after waiting `queued_s` seconds (for metrics).
    fn job_started(&self, _queued_s: f64) {}
    /// A job's body finished (for metrics).
    fn job_finished(&self, _command: &str, _ok: bool) {}
    /// A phase of a job's run took `seconds` (for metrics): `run` (its body), `settle` (what
    /// follows it before it answers), `record` (writing its outcome).
    fn job_phase(&self, _phase: &'static str, _seconds: f64) {}
}

/// Starts a job this server owns.
pub fn spawn<H: JobHost>(st: Arc<H>, id: JobId) {
    tokio::spawn(async move {
        let _runs = Runs::new(st.engine(), id);
        if let Err(e) = run(&st, id).await {
            tracing::error!(job = %id, error = %e, "job runner failed; its lease is released so recovery resumes it");
            release(&*st, id).await;
        }
    });
}

/// Releases a job whose run failed, so recovery resumes it (a lease this server keeps
/// renewing would keep it pending forever). The database may be what failed: this tries for
/// a minute; if it never answers, the server's heartbeat cannot be written either and the
/// server fences itself, which ends its leases too.
async fn release<H: JobHost>(st: &H, id: JobId) {
    for _ in 0..60 {
        let r = tokio::time::timeout(DB_WAIT, async {
            let mut tx = st.store().begin().await?;
            let released = db::job_release(&mut tx, id, st.server_id()).await?;
            tx.commit().await?;
            Ok::<bool, DomainError>(released)
        })
        .await
        .unwrap_or_else(|_| Err(DomainError::Internal("the database did not answer".into())));
        match r {
            Ok(_) => return,
            Err(e) => {
                tracing::debug!(job = %id, error = %e, "could not release the job yet");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Runs one job this server owns.
async fn run<H: JobHost>(st: &Arc<H>, id: JobId) -> DomainResult<()> {
    let engine = st.engine();
    let permit = engine
        .permits
        .clone()
        .acquire_owned()
        .await
        .map_err(|e| DomainError::Internal(e.to_string()))?;
    if !engine.delay.is_zero() {
        tokio::time::sleep(engine.delay).await;
    }
    let job = {
        let mut c = st.store().read().await?;
        db::job_get(&mut c, id).await?
    };
    let Some(job) = job else { return Ok(()) };
    if job.status != JobStatus::InProgress.as_i64() || job.owner != Some(st.server_id()) {
        return Ok(());
    }
    let started = std::time::Instant::now();
    st.job_started((now_ms() - job.created).max(0) as f64 / 1000.0);
    let claim = Claim {
        job: job.id,
        owner: st.server_id(),
        generation: job.generation,
    };
    let (ctx, outcome) = CLAIM.scope(claim, H::execute(st, &job)).await;
    // Waiting for what follows the job is not work: the job gives its worker slot back first.
    drop(permit);
    if matches!(&outcome, Err(f) if f.retry) {
        tracing::warn!(job = %id, command = %job.command, "the database was unavailable; the job is released and resumed by recovery");
        release(&**st, id).await;
        return Ok(());
    }
    st.job_finished(&job.command, outcome.is_ok());
    st.job_phase("run", started.elapsed().as_secs_f64());
    let settling = std::time::Instant::now();
    H::settle(st, &job).await;
    st.job_phase("settle", settling.elapsed().as_secs_f64());
    let recording = std::time::Instant::now();
    tracing::info!(job = %id, command = %job.command, ok = outcome.is_ok(), ms = started.elapsed().as_millis() as u64, "job finished");
    // Bounded: a database that went away mid-write must not leave the job pending under a
    // lease this server keeps renewing (the caller releases it on an error).
    match tokio::time::timeout(DB_WAIT, finish::<H>(st, &job, ctx.as_ref(), outcome)).await {
        Ok(r) => {
            st.job_phase("record", recording.elapsed().as_secs_f64());
            r
        }
        Err(_) => Err(DomainError::Internal(format!(
            "recording the outcome of job {id} took longer than {DB_WAIT:?}"
        ))),
    }
}

/// The longest a job's bookkeeping (recording its outcome, releasing it) waits on the
/// database before giving up that attempt.
const DB_WAIT: Duration = Duration::from_secs(30);

/// Records the outcome and the `Completed` event, if this server still owns the job.
async fn finish<H: JobHost>(
    st: &H,
    job: &JobRow,
    ctx: Option<&OpContext>,
    outcome: Result<Value, JobFailure>,
) -> DomainResult<()> {
    let admin = ctx.map(|c| c.is_admin()).unwrap_or(false);
    let (status, code, result, level) = match outcome {
        Ok(v) => (JobStatus::Succeeded, 0, v, EventLevel::Info),
        Err(f) => {
            let f = H::for_caller(f, admin);
            (
                JobStatus::Failed,
                f.code as i64,
                json!({"errorcode": f.code, "errortext": f.text}),
                EventLevel::Error,
            )
        }
    };
    let mut tx = st.store().begin().await?;
    if !db::job_complete(
        &mut tx,
        job.id,
        st.server_id(),
        job.generation,
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

/// What recovery does with one orphaned job it took over.
enum Fate {
    Resume,
    /// Its saga is stuck going forward: told to give up, then resumed (it unwinds).
    GiveUp(Box<(db::SagaRow, SagaData)>),
    Fail(String),
}

/// Takes over orphaned jobs: resumes those that can be, fails the rest with a clear text.
/// At start-up on SQLite (one server per database) every unfinished job is an orphan.
pub async fn recover<H: JobHost>(st: &Arc<H>, startup: bool) -> DomainResult<usize> {
    let all = startup && st.store().backend() == Backend::Sqlite;
    let orphans = {
        let mut c = st.store().read().await?;
        db::job_orphans(&mut c, st.server_id(), now_ms(), all).await?
    };
    let mut n = 0;
    let mut resume = Vec::new();
    for job in orphans {
        let mut tx = st.store().begin().await?;
        let saga = db::saga_get(&mut tx, job.id).await?;
        let mark = format!(
            "{}|{}",
            job.progress,
            saga.as_ref()
                .map(|s| format!("{}:{}", s.phase, s.step))
                .unwrap_or_default()
        );
        if !db::job_take_over(&mut tx, &job, st.server_id(), now_ms() + LEASE_MS, &mark).await? {
            continue;
        }
        tx.commit().await?;
        n += 1;
        let attempt = if job.resume_mark.as_deref() == Some(mark.as_str()) {
            job.attempts + 1
        } else {
            1
        };
        match fate(st.knows(&job.command), &job, saga, attempt)? {
            Fate::Resume => {
                tracing::info!(job = %job.id, command = %job.command, attempt, "resuming job after restart");
                resume.push(job.id);
            }
            Fate::GiveUp(given) => {
                let (s, mut data) = *given;
                let text = format!(
                    "Job {} ({}) was interrupted {} times by management server restarts without making progress; it was rolled back where it could be",
                    job.id,
                    job.command,
                    attempt - 1
                );
                tracing::warn!(job = %job.id, saga = %s.kind, step = s.step, "a saga makes no progress across restarts; giving it up");
                data.give_up = true;
                data.error = Some(StoredError {
                    code: ErrorKind::Internal.number(),
                    text,
                });
                let mut given_up = s;
                given_up.data = serde_json::to_value(&data)
                    .map_err(|e| DomainError::Internal(format!("saga data: {e}")))?;
                let mut tx = st.store().begin().await?;
                db::saga_put(&mut tx, &given_up).await?;
                tx.commit().await?;
                resume.push(job.id);
            }
            Fate::Fail(why) => {
                tracing::warn!(job = %job.id, %why, "failing orphaned job");
                let text = format!("Job {} ({}) was interrupted by a management server restart and cannot be resumed: {why}", job.id, job.command);
                let taken = JobRow {
                    owner: Some(st.server_id()),
                    attempts: attempt,
                    generation: job.generation + 1,
                    ..job
                };
                let ctx = match st.store().read().await {
                    Ok(mut c) => db::user_get(&mut c, taken.user_id)
                        .await
                        .ok()
                        .flatten()
                        .map(|u| OpContext::new(u, false)),
                    Err(_) => None,
                };
                let failure = JobFailure {
                    code: ErrorKind::Internal.number(),
                    text,
                    retry: false,
                };
                finish::<H>(st, &taken, ctx.as_ref(), Err(failure)).await?;
            }
        }
    }
    if startup && !resume.is_empty() {
        // Resumed sagas talk to hosts: give the agents that were Up a moment to reconnect
        // to this (re)started server first, so a restart does not fail their work.
        let st = st.clone();
        tokio::spawn(async move {
            H::before_resume(&st).await;
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

/// Decides what becomes of an orphaned job on its `attempt`-th take-over.
fn fate(known: bool, job: &JobRow, saga: Option<db::SagaRow>, attempt: i64) -> DomainResult<Fate> {
    // A saga that reached its end only has its outcome left to record: always resume it,
    // so the job answers what the saga did (not "interrupted").
    let settled = saga
        .as_ref()
        .is_some_and(|s| matches!(s.phase, SagaPhase::Done | SagaPhase::Unwound));
    if known && (attempt <= MAX_ATTEMPTS || (settled && attempt <= 3 * MAX_ATTEMPTS)) {
        return Ok(Fate::Resume);
    }
    // A saga stuck going forward is not left half done: it is told to give up, and the
    // resumed job unwinds it (before its point of no return) or reports the failure.
    if let Some(s) = saga.filter(|s| known && s.phase == SagaPhase::Forward) {
        match SagaData::of(&s) {
            Ok(d) if d.give_up => {}
            Ok(d) => return Ok(Fate::GiveUp(Box::new((s, d)))),
            Err(e) => return Err(e),
        }
    }
    Ok(Fate::Fail(if known {
        format!(
            "it was interrupted {} times without making progress",
            attempt - 1
        )
    } else {
        format!(
            "the command {} is not known to this management server",
            job.command
        )
    }))
}

/// Renews the leases of the jobs this server runs now; run periodically (its heartbeat is the
/// `server-heartbeat` task's).
pub async fn renew(store: &DataStore, server: ServerId, engine: &JobEngine) -> DomainResult<()> {
    let running = engine.running();
    let mut tx = store.begin().await?;
    db::job_renew_leases(&mut tx, server, &running, now_ms() + LEASE_MS).await?;
    tx.commit().await?;
    Ok(())
}
