//! Sagas: multi-step operations whose progress is persisted, so a failure unwinds what was done
//! and a restart resumes where the last server stopped.
//!
//! A saga is a list of [`Step`]s, each an idempotent action with an optional idempotent undo.
//! Its row in `sagas` (keyed by the job) records the phase and the next step, plus a JSON
//! `data` bag the steps share (the chosen host, the volumes to create, …). Forward: after
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
use std::sync::Mutex;
use std::time::Duration;

use api::{ApiError, ErrorCode};
use futures_util::future::BoxFuture;
use model::JobId;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::error::{AppError, AppResult};
use crate::state::State;

/// The context steps run in.
pub struct SagaCx {
    pub st: State,
    pub job: JobId,
    pub resource: Uuid,
    /// Shared, persisted between steps.
    pub data: Map<String, Value>,
}

impl SagaCx {
    pub fn uuid(&self, key: &str) -> Option<Uuid> {
        self.data
            .get(key)
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok())
    }
    pub fn flag(&self, key: &str) -> bool {
        self.data.get(key).and_then(Value::as_bool).unwrap_or(false)
    }
    pub fn uuids(&self, key: &str) -> Vec<Uuid> {
        self.data
            .get(key)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().and_then(|s| s.parse().ok()))
                    .collect()
            })
            .unwrap_or_default()
    }
}

pub type StepFn = for<'a> fn(&'a mut SagaCx) -> BoxFuture<'a, AppResult<()>>;

pub struct Step {
    pub name: &'static str,
    pub run: StepFn,
    pub undo: Option<StepFn>,
}

pub struct SagaDef {
    pub kind: &'static str,
    pub steps: &'static [Step],
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
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    pub saga: String,
    pub step: usize,
    pub kind: FaultKind,
}

/// Injected faults; each strikes once. Set by tests through [`crate::Server::faults`], or by
/// `CANOPY_FAULT_SAGA=kind:step:fail|crash-before|crash-after` for a whole process.
#[derive(Default)]
pub struct Faults {
    rules: Mutex<Vec<Fault>>,
    crashes: AtomicU64,
    failures: AtomicU64,
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
    async fn check(&self, saga: &str, step: usize, kind: FaultKind) -> AppResult<()> {
        if !self.take(saga, step, kind) {
            return Ok(());
        }
        if kind == FaultKind::Fail {
            self.failures.fetch_add(1, Ordering::SeqCst);
            return Err(AppError::Internal(format!(
                "injected failure at step {step} of saga {saga}"
            )));
        }
        tracing::warn!(saga, step, ?kind, "injected crash: this saga stops here");
        self.crashes.fetch_add(1, Ordering::SeqCst);
        std::future::pending::<()>().await;
        Ok(())
    }
}

const PHASE_FORWARD: &str = "forward";
const PHASE_UNWIND: &str = "unwind";
const PHASE_DONE: &str = "done";
const PHASE_UNWOUND: &str = "unwound";

/// Persists the saga's position; going forward, the job's progress (`jobprocstatus`) is the
/// share of steps done, written in the same transaction.
async fn save(cx: &SagaCx, def: &SagaDef, step: i64, phase: &str) -> AppResult<()> {
    let mut tx = cx.st.store.begin().await?;
    db::saga_put(
        &mut tx,
        &db::SagaRow {
            job_id: cx.job,
            kind: def.kind.to_string(),
            resource_id: Some(cx.resource),
            step,
            phase: phase.to_string(),
            data: Value::Object(cx.data.clone()),
        },
    )
    .await?;
    if phase == PHASE_FORWARD || phase == PHASE_DONE {
        db::job_set_progress(&mut tx, cx.job, progress(step, def.steps.len())).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Percent of `steps` done after `step` of them.
pub fn progress(step: i64, steps: usize) -> i64 {
    if steps == 0 {
        return 100;
    }
    (step.clamp(0, steps as i64) * 100) / steps as i64
}

fn stored_error(e: AppError) -> Value {
    let api = e.into_api();
    json!({"code": api.code as u16, "text": api.text})
}

fn error_from(v: Option<&Value>) -> AppError {
    let code = v
        .and_then(|v| v["code"].as_u64())
        .and_then(|c| ErrorCode::from_u16(c as u16))
        .unwrap_or(ErrorCode::Internal);
    let text = v
        .and_then(|v| v["text"].as_str())
        .unwrap_or("The operation failed and was rolled back")
        .to_string();
    ApiError::new(code, text).into()
}

/// Runs (or resumes) the saga of `job`. `data` seeds a new saga; a resumed one keeps its own.
/// Returns the final data on success; on failure, the failing step's error after unwinding.
pub async fn run(
    st: &State,
    job: JobId,
    def: &SagaDef,
    resource: Uuid,
    data: Map<String, Value>,
) -> AppResult<Map<String, Value>> {
    let saved = {
        let mut c = st.store.read().await?;
        db::saga_get(&mut c, job).await?
    };
    let (mut step, phase, data) = match saved {
        Some(s) if s.kind == def.kind => (
            s.step,
            s.phase,
            s.data.as_object().cloned().unwrap_or_default(),
        ),
        Some(s) => {
            return Err(AppError::Internal(format!(
                "job {job} has a {} saga, not {}",
                s.kind, def.kind
            )))
        }
        None => (0, PHASE_FORWARD.to_string(), data),
    };
    let mut cx = SagaCx {
        st: st.clone(),
        job,
        resource,
        data,
    };
    match phase.as_str() {
        PHASE_DONE => return Ok(cx.data),
        PHASE_UNWOUND => return Err(error_from(cx.data.get("error"))),
        PHASE_UNWIND => {
            tracing::info!(%job, saga = def.kind, step, "resuming the unwinding of a saga");
            return unwind(&mut cx, def, step).await;
        }
        _ => {}
    }
    if cx.flag("give_up") {
        // Recovery gave this saga up (it made no progress across several restarts): unwind
        // it where that is allowed, else report the failure and leave it to be asked again.
        let past_pivot = def.pivot.map(|p| step as usize > p).unwrap_or(false);
        if past_pivot {
            return Err(error_from(cx.data.get("error")));
        }
        tracing::warn!(%job, saga = def.kind, step, "unwinding a saga given up by recovery");
        save(&cx, def, step, PHASE_UNWIND).await?;
        return unwind(&mut cx, def, step).await;
    }
    if step > 0 {
        tracing::info!(%job, saga = def.kind, step, "resuming a saga");
    } else {
        save(&cx, def, 0, PHASE_FORWARD).await?;
    }
    while (step as usize) < def.steps.len() {
        let i = step as usize;
        let s = &def.steps[i];
        let faults = &st.faults;
        let past_pivot = def.pivot.map(|p| i > p).unwrap_or(false);
        let mut attempt = 0;
        let outcome = loop {
            attempt += 1;
            let r = tracing::Instrument::instrument(
                async {
                    faults.check(def.kind, i, FaultKind::CrashBefore).await?;
                    faults.check(def.kind, i, FaultKind::Fail).await?;
                    (s.run)(&mut cx).await?;
                    faults.check(def.kind, i, FaultKind::CrashAfter).await
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
        st.metrics.saga_step(def.kind, outcome.is_ok());
        match outcome {
            Ok(()) => {
                step += 1;
                let phase = if step as usize == def.steps.len() {
                    PHASE_DONE
                } else {
                    PHASE_FORWARD
                };
                save(&cx, def, step, phase).await?;
            }
            Err(e) => {
                tracing::warn!(%job, saga = def.kind, step = s.name, error = %e, "saga step failed; unwinding");
                cx.data.insert("error".into(), stored_error(e));
                cx.data.insert("failed_step".into(), json!(s.name));
                save(&cx, def, step, PHASE_UNWIND).await?;
                return unwind(&mut cx, def, step).await;
            }
        }
    }
    Ok(cx.data)
}

/// Undoes step `from` and every earlier one.
async fn unwind(cx: &mut SagaCx, def: &SagaDef, from: i64) -> AppResult<Map<String, Value>> {
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
            PHASE_UNWOUND
        } else {
            PHASE_UNWIND
        };
        save(cx, def, step.max(0), phase).await?;
    }
    cx.st.metrics.saga_unwound(def.kind);
    Err(error_from(cx.data.get("error")))
}

#[cfg(test)]
mod tests {
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
