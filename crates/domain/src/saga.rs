//! Sagas: multi-step operations whose progress is persisted, so a failure unwinds what was done
//! and a restart resumes where the last server stopped.
//!
//! A saga is a list of [`Step`]s, each an idempotent action with an optional idempotent undo.
//! Its row in `sagas` (keyed by the job) records the phase and the next step, plus the
//! [`SagaData`] the steps share (the request's hints, the chosen host, the volumes to
//! create, …) — a typed struct stored as JSON; a row that does not decode is
//! `DbError::Corrupt`, never silently empty. Forward: after
//! each step the next step is recorded. A step that fails switches the saga to `unwind`, which
//! undoes the failed step and every earlier one, newest first, recording progress the same
//! way; the job then fails with the step's error. Steps after a saga's pivot (the point of
//! no return, e.g. the host has stopped the VM) are retried rather than unwound. A resumed saga re-runs the step that was in
//! flight (forward) or the undo that was in flight (unwind): that is why both must be
//! idempotent.
//!
//! Fault injection ([`Faults`]) makes any step fail, or "crash" the server just before or just
//! after a step's action (the saga stops dead without recording anything, as if the process
//! had died), for the failure-injection and kill-at-every-step suites.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use model::{HostId, JobId, SagaPhase, VmId};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{DomainError, DomainResult, ErrorKind};

/// What the saga engine needs from the server it runs in. The engine knows nothing of the
/// steps' world (hosts, networks, the wire): a server implements this once and its steps
/// get the server back as [`SagaCx::st`].
pub trait SagaEnv: Send + Sync + 'static {
    /// What steps return: the server's own error, which takes the engine's.
    type Error: From<DomainError> + From<db::DbError> + std::fmt::Display + Send + 'static;
    fn store(&self) -> &db::DataStore;
    fn faults(&self) -> &Faults;
    /// A step ran (for metrics).
    fn step_ran(&self, _saga: &'static str, _step: &'static str, _ok: bool, _seconds: f64) {}
    /// A saga's position was written, taking `seconds` (for metrics).
    fn position_saved(&self, _seconds: f64) {}
    /// A saga was unwound to its start (for metrics).
    fn unwound(&self, _saga: &'static str) {}
    /// The error says the database could not be reached: the step is not unwound (nothing
    /// could record it anyway); the saga stays where it is and its job is resumed.
    fn unavailable(_e: &Self::Error) -> bool {
        false
    }
    /// A failing step's error as it is kept with the saga: as its caller will see it
    /// (internal details logged here, under a reference).
    fn keep_error(e: Self::Error) -> StoredError;
}

/// What a saga's steps share, persisted after every step. One struct for every saga; each
/// uses its own fields (the field names are the JSON keys, as rows written before this type
/// existed have them).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SagaData {
    // Seeds, from the request.
    /// start: a never-started VM (deploy) goes to Error when its start unwinds.
    #[serde(skip_serializing_if = "is_false")]
    pub fresh: bool,
    /// stop: skip the guest's shutdown.
    #[serde(skip_serializing_if = "is_false")]
    pub forced: bool,
    /// start: placement hints; migrate: the requested destination (`hostid`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostid: Option<HostId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clusterid: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub podid: Option<Uuid>,
    /// destroy: data volumes to delete with the VM.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumeids: Vec<model::VolumeId>,
    /// attach: the VM, and the device number asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vm: Option<VmId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deviceid: Option<i64>,
    /// restore: the template of the new root volume, and the new volume's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_volume: Option<model::VolumeId>,
    /// volmigrate: the pool the volume leaves (`pool` is where it goes) and its new path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_pool: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,

    // Step outputs.
    /// start: the reserved host, its cluster and pod, the root volume's pool; stop: the host
    /// the VM ran on; attach: the host that created the volume.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<HostId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pool: Option<Uuid>,
    /// start: volumes still Allocated, to be created on the host.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub to_create: Vec<model::VolumeId>,
    /// stop: the VM was Running when the stop began.
    #[serde(skip_serializing_if = "is_false")]
    pub was_running: bool,
    /// migrate: where the VM runs and where it goes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<HostId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dest: Option<HostId>,
    /// attach: the volume was created on a host / recorded as attached; the host the disk
    /// was plugged into.
    #[serde(skip_serializing_if = "is_false")]
    pub created: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub attached: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plugged_on: Option<HostId>,
    /// migrate with storage: each volume that moves (seeded with the pools asked for; the
    /// reserve step completes the plan).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub moves: Vec<VolumeMove>,

    // Outcome.
    /// The failing step's error (what the job answers after unwinding).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<StoredError>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_step: Option<String>,
    /// Recovery gave the saga up (no progress across several restarts).
    #[serde(skip_serializing_if = "is_false")]
    pub give_up: bool,
}

/// A volume moving with a migrating VM: from its pool and file to `to_pool` at `path`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VolumeMove {
    pub volume: model::VolumeId,
    pub to_pool: uuid::Uuid,
    #[serde(default)]
    pub from_pool: Option<uuid::Uuid>,
    #[serde(default)]
    pub from_path: Option<String>,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub size: u64,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// An error as the client will see it, kept with the saga.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredError {
    pub code: u16,
    pub text: String,
}

impl SagaData {
    /// The saga data stored in `row`, or `Corrupt` naming the job.
    pub fn of(row: &db::SagaRow) -> DomainResult<Self> {
        serde_json::from_value(row.data.clone()).map_err(|e| {
            DomainError::Db(db::DbError::Corrupt {
                table: "sagas",
                column: "data",
                value: format!("job {}: {e}", row.job_id),
            })
        })
    }
}

/// The context steps run in.
pub struct SagaCx<E: SagaEnv> {
    pub st: Arc<E>,
    pub job: JobId,
    pub resource: Uuid,
    /// Shared, persisted between steps.
    pub data: SagaData,
    /// Which saga, the step running and how many steps it has (set by the runner).
    kind: &'static str,
    step: i64,
    steps: usize,
    /// The running step recorded its own completion ([`SagaCx::record_step_done`]).
    recorded: bool,
}

impl<E: SagaEnv> SagaCx<E> {
    /// The resource as a VM (the VM sagas' resource).
    pub fn vm(&self) -> VmId {
        VmId(self.resource)
    }

    /// Records, in the step's own transaction, that the running step is done: the saga's
    /// next position (fenced, as every position write) with `data` as it is now. The step's
    /// writes and the saga's progress then commit together, and the step costs one write
    /// transaction instead of two (the runner does not write the position again). Call it
    /// last before committing `tx`, with `data` final; if the commit fails, nothing was
    /// recorded and the step must fail.
    pub async fn record_step_done(&mut self, tx: &mut db::Tx) -> DomainResult<()> {
        let next = self.step + 1;
        let phase = if next as usize >= self.steps {
            SagaPhase::Done
        } else {
            SagaPhase::Forward
        };
        write_position(tx, self, next, phase).await?;
        self.recorded = true;
        Ok(())
    }
}

pub type StepFn<E> =
    for<'a> fn(&'a mut SagaCx<E>) -> BoxFuture<'a, Result<(), <E as SagaEnv>::Error>>;

pub struct Step<E: SagaEnv> {
    pub name: &'static str,
    pub run: StepFn<E>,
    pub undo: Option<StepFn<E>>,
}

pub struct SagaDef<E: SagaEnv> {
    pub kind: &'static str,
    /// The first step records its own completion in its transaction, fenced
    /// ([`SagaCx::record_step_done`]), so the saga's opening position write is skipped: a
    /// crash before that transaction leaves no saga, and the job's resumption starts it again.
    pub first_step_records: bool,
    pub steps: &'static [Step<E>],
    /// The point of no return: a step after it that fails is retried instead of unwound (a
    /// VM the host has stopped must end Stopped, not be marked Running again). `None`: every
    /// failure unwinds.
    pub pivot: Option<usize>,
}

/// How often a step past the pivot is tried before the job gives up (the saga then stays
/// `forward`, and the same operation can be asked again).
const FORWARD_ATTEMPTS: u64 = 5;

/// Where an injected fault strikes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// The step fails (its action is not run).
    Fail,
    /// The server "dies" before the step's action.
    CrashBefore,
    /// The server "dies" after the step's action, before its progress is recorded.
    CrashAfter,
    /// The saga stops before the step's action until [`Faults::release`] (a server paused
    /// past its lease, then running on).
    Hold,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    pub saga: String,
    pub step: usize,
    pub kind: FaultKind,
}

/// Injected faults; each strikes once. Set by tests through the server's `faults`, or by
/// `CANOPY_FAULT_SAGA=kind:step:fail|crash-before|crash-after` for a whole process.
#[derive(Default)]
pub struct Faults {
    rules: Mutex<Vec<Fault>>,
    crashes: AtomicU64,
    failures: AtomicU64,
    held: AtomicU64,
    release: tokio::sync::Notify,
}

impl Faults {
    pub fn from_env() -> Self {
        let f = Self::default();
        if let Ok(spec) = std::env::var("CANOPY_FAULT_SAGA") {
            let parts: Vec<&str> = spec.split(':').collect();
            let kind = match parts.get(2).copied() {
                Some("fail") => Some(FaultKind::Fail),
                Some("crash-before") => Some(FaultKind::CrashBefore),
                Some("crash-after") => Some(FaultKind::CrashAfter),
                _ => None,
            };
            match (
                parts.first(),
                parts.get(1).and_then(|s| s.parse().ok()),
                kind,
            ) {
                (Some(saga), Some(step), Some(kind)) => {
                    tracing::warn!(%spec, "fault injection armed");
                    f.add(Fault {
                        saga: saga.to_string(),
                        step,
                        kind,
                    });
                }
                _ => tracing::error!(%spec, "CANOPY_FAULT_SAGA not understood; ignored"),
            }
        }
        f
    }
    pub fn add(&self, f: Fault) {
        if let Ok(mut r) = self.rules.lock() {
            r.push(f);
        }
    }
    pub fn clear(&self) {
        if let Ok(mut r) = self.rules.lock() {
            r.clear();
        }
    }
    /// Lets every saga stopped by a `Hold` fault go on.
    pub fn release(&self) {
        self.release.notify_waiters();
    }
    /// How many sagas a `Hold` fault has stopped so far.
    pub fn held(&self) -> u64 {
        self.held.load(Ordering::SeqCst)
    }
    /// How many injected crashes have struck.
    pub fn crashes(&self) -> u64 {
        self.crashes.load(Ordering::SeqCst)
    }
    /// How many injected failures have struck.
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::SeqCst)
    }
    fn take(&self, saga: &str, step: usize, kind: FaultKind) -> bool {
        let Ok(mut r) = self.rules.lock() else {
            return false;
        };
        match r
            .iter()
            .position(|f| f.saga == saga && f.step == step && f.kind == kind)
        {
            Some(i) => {
                r.remove(i);
                true
            }
            None => false,
        }
    }
    async fn check(&self, saga: &str, step: usize, kind: FaultKind) -> DomainResult<()> {
        if !self.take(saga, step, kind) {
            return Ok(());
        }
        if kind == FaultKind::Hold {
            let released = self.release.notified();
            self.held.fetch_add(1, Ordering::SeqCst);
            tracing::warn!(saga, step, "injected hold: this saga waits to be released");
            released.await;
            return Ok(());
        }
        if kind == FaultKind::Fail {
            self.failures.fetch_add(1, Ordering::SeqCst);
            return Err(DomainError::Internal(format!(
                "injected failure at step {step} of saga {saga}"
            )));
        }
        tracing::warn!(saga, step, ?kind, "injected crash: this saga stops here");
        self.crashes.fetch_add(1, Ordering::SeqCst);
        std::future::pending::<()>().await;
        Ok(())
    }
}

/// Persists the saga's position; going forward, the job's progress (`jobprocstatus`) is the
/// share of steps done, written in the same transaction.
async fn save<E: SagaEnv>(
    cx: &SagaCx<E>,
    def: &SagaDef<E>,
    step: i64,
    phase: SagaPhase,
) -> DomainResult<()> {
    debug_assert_eq!(def.kind, cx.kind);
    let started = std::time::Instant::now();
    let mut tx = cx.st.store().begin().await?;
    write_position(&mut tx, cx, step, phase).await?;
    tx.commit().await?;
    cx.st.position_saved(started.elapsed().as_secs_f64());
    Ok(())
}

/// Writes the saga's position in `tx`: fenced (only the run that holds the job at its
/// generation moves the saga on), with the job's progress going forward.
async fn write_position<E: SagaEnv>(
    tx: &mut db::Tx,
    cx: &SagaCx<E>,
    step: i64,
    phase: SagaPhase,
) -> DomainResult<()> {
    let data = serde_json::to_value(&cx.data)
        .map_err(|e| DomainError::Internal(format!("saga data: {e}")))?;
    if let Some(claim) = crate::jobs::current_claim() {
        crate::jobs::hold(tx, &claim).await?;
    }
    db::saga_put(
        tx,
        &db::SagaRow {
            job_id: cx.job,
            kind: cx.kind.to_string(),
            resource_id: Some(cx.resource),
            step,
            phase,
            data,
        },
    )
    .await?;
    if phase == SagaPhase::Forward || phase == SagaPhase::Done {
        db::job_set_progress(tx, cx.job, progress(step, cx.steps)).await?;
    }
    Ok(())
}

/// Percent of `steps` done after `step` of them.
pub fn progress(step: i64, steps: usize) -> i64 {
    if steps == 0 {
        return 100;
    }
    (step.clamp(0, steps as i64) * 100) / steps as i64
}

/// The error a failed saga answers, from what was kept with it (already phrased for the
/// caller, so it is a refusal of the kind it was).
fn error_from(v: Option<&StoredError>) -> DomainError {
    let kind = v
        .and_then(|v| ErrorKind::from_number(v.code))
        .unwrap_or(ErrorKind::Internal);
    let text = v
        .map(|v| v.text.clone())
        .unwrap_or_else(|| "The operation failed and was rolled back".to_string());
    DomainError::refused(kind, text)
}

/// Runs (or resumes) the saga of `job`. `data` seeds a new saga; a resumed one keeps its own.
/// Returns the final data on success; on failure, the failing step's error after unwinding.
pub async fn run<E: SagaEnv>(
    st: &Arc<E>,
    job: JobId,
    def: &SagaDef<E>,
    resource: Uuid,
    data: SagaData,
) -> Result<SagaData, E::Error> {
    let saved = {
        let mut c = st.store().read().await?;
        db::saga_get(&mut c, job).await?
    };
    let (mut step, phase, data) = match saved {
        Some(s) if s.kind == def.kind => (s.step, s.phase, SagaData::of(&s)?),
        Some(s) => {
            return Err(DomainError::Internal(format!(
                "job {job} has a {} saga, not {}",
                s.kind, def.kind
            ))
            .into())
        }
        None => (0, SagaPhase::Forward, data),
    };
    let mut cx = SagaCx {
        st: st.clone(),
        job,
        resource,
        data,
        kind: def.kind,
        step,
        steps: def.steps.len(),
        recorded: false,
    };
    match phase {
        SagaPhase::Done => return Ok(cx.data),
        SagaPhase::Unwound => return Err(error_from(cx.data.error.as_ref()).into()),
        SagaPhase::Unwind => {
            tracing::info!(%job, saga = def.kind, step, "resuming the unwinding of a saga");
            return unwind(&mut cx, def, step).await;
        }
        SagaPhase::Forward => {}
    }
    if cx.data.give_up {
        // Recovery gave this saga up (it made no progress across several restarts): unwind
        // it where that is allowed, else report the failure and leave it to be asked again.
        let past_pivot = def.pivot.map(|p| step as usize > p).unwrap_or(false);
        if past_pivot {
            return Err(error_from(cx.data.error.as_ref()).into());
        }
        tracing::warn!(%job, saga = def.kind, step, "unwinding a saga given up by recovery");
        save(&cx, def, step, SagaPhase::Unwind).await?;
        return unwind(&mut cx, def, step).await;
    }
    if step > 0 {
        tracing::info!(%job, saga = def.kind, step, "resuming a saga");
    } else if !def.first_step_records {
        save(&cx, def, 0, SagaPhase::Forward).await?;
    }
    while (step as usize) < def.steps.len() {
        let i = step as usize;
        let s = &def.steps[i];
        let faults = st.faults();
        let past_pivot = def.pivot.map(|p| i > p).unwrap_or(false);
        let mut attempt = 0;
        let step_started = std::time::Instant::now();
        let outcome = loop {
            attempt += 1;
            let r = tracing::Instrument::instrument(
                async {
                    faults.check(def.kind, i, FaultKind::Hold).await?;
                    faults.check(def.kind, i, FaultKind::CrashBefore).await?;
                    faults.check(def.kind, i, FaultKind::Fail).await?;
                    cx.step = step;
                    cx.recorded = false;
                    (s.run)(&mut cx).await?;
                    faults.check(def.kind, i, FaultKind::CrashAfter).await?;
                    Ok::<(), E::Error>(())
                },
                tracing::info_span!("saga_step", saga = def.kind, step = s.name),
            )
            .await;
            match r {
                Err(e) if past_pivot && attempt < FORWARD_ATTEMPTS => {
                    tracing::warn!(%job, saga = def.kind, step = s.name, error = %e, attempt, "step past the point of no return failed; retrying");
                    tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
                }
                Err(e) if past_pivot => {
                    tracing::error!(%job, saga = def.kind, step = s.name, error = %e, "step past the point of no return keeps failing; the operation can be retried");
                    return Err(e);
                }
                r => break r,
            }
        };
        st.step_ran(
            def.kind,
            s.name,
            outcome.is_ok(),
            step_started.elapsed().as_secs_f64(),
        );
        match outcome {
            Ok(()) => {
                step += 1;
                let phase = if step as usize == def.steps.len() {
                    SagaPhase::Done
                } else {
                    SagaPhase::Forward
                };
                if !cx.recorded {
                    save(&cx, def, step, phase).await?;
                }
            }
            Err(e) if E::unavailable(&e) => {
                tracing::warn!(%job, saga = def.kind, step = s.name, error = %e, "the database is unavailable; the saga stays at this step and its job is resumed");
                return Err(e);
            }
            Err(e) => {
                tracing::warn!(%job, saga = def.kind, step = s.name, error = %e, "saga step failed; unwinding");
                cx.data.error = Some(E::keep_error(e));
                cx.data.failed_step = Some(s.name.to_string());
                save(&cx, def, step, SagaPhase::Unwind).await?;
                return unwind(&mut cx, def, step).await;
            }
        }
    }
    Ok(cx.data)
}

/// Undoes step `from` and every earlier one.
async fn unwind<E: SagaEnv>(
    cx: &mut SagaCx<E>,
    def: &SagaDef<E>,
    from: i64,
) -> Result<SagaData, E::Error> {
    let mut step = from.min(def.steps.len() as i64 - 1);
    while step >= 0 {
        let s = &def.steps[step as usize];
        if let Some(undo) = s.undo {
            let mut attempt = 0;
            loop {
                match undo(cx).await {
                    Ok(()) => break,
                    Err(e) if attempt < 3 => {
                        attempt += 1;
                        tracing::warn!(job = %cx.job, saga = def.kind, step = s.name, error = %e, attempt, "undo failed; retrying");
                        tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
                    }
                    Err(e) => {
                        tracing::error!(job = %cx.job, saga = def.kind, step = s.name, error = %e, "undo failed; the saga stays unwinding and is retried on restart");
                        return Err(e);
                    }
                }
            }
        }
        step -= 1;
        let phase = if step < 0 {
            SagaPhase::Unwound
        } else {
            SagaPhase::Unwind
        };
        save(cx, def, step.max(0), phase).await?;
    }
    cx.st.unwound(def.kind);
    Err(error_from(cx.data.error.as_ref()).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saga_data_reads_rows_written_as_json_maps() {
        // The shape rows had when the data was a JSON map read by key.
        let row = db::SagaRow {
            job_id: JobId::new(),
            kind: "start".into(),
            resource_id: None,
            step: 2,
            phase: SagaPhase::Forward,
            data: serde_json::json!({
                "fresh": true,
                "host": "7c835313-f944-413e-92e2-23a1a65b846a",
                "to_create": ["9d7799d9-5833-4021-8770-95fe252c6d48"],
                "error": {"code": 530, "text": "boom"},
            }),
        };
        let d = SagaData::of(&row).expect("decodes");
        assert!(d.fresh && !d.forced);
        assert_eq!(d.to_create.len(), 1);
        assert_eq!(d.error.as_ref().map(|e| e.code), Some(530));
        let back = serde_json::to_value(&d).expect("encodes");
        assert_eq!(back["host"], row.data["host"]);
        assert!(back.get("forced").is_none(), "false flags are left out");
        // A value of the wrong type is Corrupt, naming the job.
        let bad = db::SagaRow {
            data: serde_json::json!({"host": 7}),
            ..row
        };
        match SagaData::of(&bad) {
            Err(DomainError::Db(db::DbError::Corrupt { table, value, .. })) => {
                assert_eq!(table, "sagas");
                assert!(value.contains(&bad.job_id.to_string()), "{value}");
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }

    #[test]
    fn progress_is_the_share_of_steps_done() {
        assert_eq!(super::progress(0, 4), 0);
        assert_eq!(super::progress(1, 4), 25);
        assert_eq!(super::progress(3, 4), 75);
        assert_eq!(super::progress(4, 4), 100);
        assert_eq!(super::progress(9, 4), 100);
        assert_eq!(super::progress(-1, 4), 0);
        assert_eq!(super::progress(0, 0), 100);
    }
}
