//! Background tasks, each its own tokio task with its own period, timeout and status (last
//! start, duration, last error, runs, failures), runnable on demand. One slow task (a pool
//! refresh waiting on unreachable hosts) no longer delays the others — above all job lease
//! renewal, which must never wait behind IO: with several servers a late renewal lets another
//! server take over a job that is still running. Every task is idempotent (conditional
//! database writes), so several servers may run them at once.
//!
//! Root admins see the tasks with `listBackgroundTasks` and run one now with
//! `runBackgroundTask` (Canopy additions).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use tokio::sync::{watch, Notify};

/// A task body: takes its context, says what went wrong.
pub type TaskFn<C> = fn(C) -> BoxFuture<'static, Result<(), String>>;

/// One periodic task.
pub struct TaskDef<C> {
    pub name: &'static str,
    pub description: &'static str,
    /// The pause between the end of one run and the start of the next (re-read every second
    /// while waiting, so a setting change applies at once).
    pub period: fn(&C) -> Duration,
    /// A run that takes longer is abandoned and recorded as failed.
    pub timeout: Duration,
    pub run: TaskFn<C>,
}

/// What a task did lately.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TaskStatus {
    pub name: &'static str,
    pub description: &'static str,
    pub period_ms: u64,
    pub timeout_ms: u64,
    pub running: bool,
    pub runs: u64,
    pub failures: u64,
    /// Epoch milliseconds.
    pub last_start: Option<i64>,
    pub last_duration_ms: Option<u64>,
    pub last_error: Option<String>,
}

struct Entry {
    status: TaskStatus,
    wake: Arc<Notify>,
}

/// The tasks of this server.
#[derive(Default)]
pub struct Tasks {
    entries: Mutex<BTreeMap<&'static str, Entry>>,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Tasks {
    /// Starts `def` on its own tokio task: a run now, then one every period, or sooner when
    /// triggered; until `stop` turns true.
    pub fn spawn<C: Clone + Send + Sync + 'static>(
        self: &Arc<Self>,
        ctx: C,
        def: TaskDef<C>,
        mut stop: watch::Receiver<bool>,
    ) {
        let wake = Arc::new(Notify::new());
        if let Ok(mut e) = self.entries.lock() {
            e.insert(
                def.name,
                Entry {
                    status: TaskStatus {
                        name: def.name,
                        description: def.description,
                        period_ms: (def.period)(&ctx).as_millis() as u64,
                        timeout_ms: def.timeout.as_millis() as u64,
                        ..Default::default()
                    },
                    wake: wake.clone(),
                },
            );
        }
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                if *stop.borrow() {
                    break;
                }
                me.update(def.name, |s| {
                    s.running = true;
                    s.last_start = Some(now_ms());
                });
                let started = Instant::now();
                let outcome = match tokio::time::timeout(def.timeout, (def.run)(ctx.clone())).await
                {
                    Ok(r) => r,
                    Err(_) => Err(format!("did not finish within {:?}", def.timeout)),
                };
                let took = started.elapsed();
                if let Err(e) = &outcome {
                    tracing::warn!(task = def.name, error = %e, "background task failed");
                }
                let period = (def.period)(&ctx);
                me.update(def.name, |s| {
                    s.running = false;
                    s.runs += 1;
                    s.last_duration_ms = Some(took.as_millis() as u64);
                    s.period_ms = period.as_millis() as u64;
                    match outcome {
                        Ok(()) => s.last_error = None,
                        Err(e) => {
                            s.failures += 1;
                            s.last_error = Some(e);
                        }
                    }
                });
                // Wait out the period, re-reading it every second so that a setting lowered
                // while the task sleeps takes effect at once.
                let ended = Instant::now();
                let stopped = loop {
                    let left = (def.period)(&ctx).saturating_sub(ended.elapsed());
                    if left.is_zero() {
                        break false;
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(left.min(Duration::from_secs(1))) => {}
                        _ = wake.notified() => break false,
                        _ = stop.changed() => break true,
                    }
                };
                if stopped {
                    break;
                }
            }
        });
    }

    fn update(&self, name: &str, f: impl FnOnce(&mut TaskStatus)) {
        if let Ok(mut e) = self.entries.lock() {
            if let Some(entry) = e.get_mut(name) {
                f(&mut entry.status);
            }
        }
    }

    /// Every task's status, by name.
    pub fn status(&self) -> Vec<TaskStatus> {
        self.entries
            .lock()
            .map(|e| e.values().map(|x| x.status.clone()).collect())
            .unwrap_or_default()
    }

    /// Asks a task to run now (after its current run, if one is under way). False when there
    /// is no such task.
    pub fn trigger(&self, name: &str) -> bool {
        let wake = self
            .entries
            .lock()
            .ok()
            .and_then(|e| e.get(name).map(|x| x.wake.clone()));
        match wake {
            Some(w) => {
                w.notify_one();
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slow(_: ()) -> BoxFuture<'static, Result<(), String>> {
        Box::pin(async {
            tokio::time::sleep(Duration::from_millis(600)).await;
            Ok(())
        })
    }
    fn fast(_: ()) -> BoxFuture<'static, Result<(), String>> {
        Box::pin(async { Ok(()) })
    }
    fn failing(_: ()) -> BoxFuture<'static, Result<(), String>> {
        Box::pin(async { Err("no luck".to_string()) })
    }
    fn hanging(_: ()) -> BoxFuture<'static, Result<(), String>> {
        Box::pin(std::future::pending())
    }

    fn def(name: &'static str, period_ms: u64, timeout_ms: u64, run: TaskFn<()>) -> TaskDef<()> {
        fn p10(_: &()) -> Duration {
            Duration::from_millis(10)
        }
        fn p1h(_: &()) -> Duration {
            Duration::from_secs(3600)
        }
        TaskDef {
            name,
            description: "test",
            period: if period_ms <= 10 { p10 } else { p1h },
            timeout: Duration::from_millis(timeout_ms),
            run,
        }
    }

    fn get(t: &Tasks, name: &str) -> TaskStatus {
        t.status()
            .into_iter()
            .find(|s| s.name == name)
            .expect("task")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_slow_task_does_not_hold_the_others_and_hung_runs_time_out() {
        let tasks = Arc::new(Tasks::default());
        let (stop_tx, stop) = watch::channel(false);
        tasks.spawn((), def("slow", 10, 5_000, slow), stop.clone());
        tasks.spawn((), def("fast", 10, 5_000, fast), stop.clone());
        tasks.spawn((), def("failing", 10, 5_000, failing), stop.clone());
        tasks.spawn((), def("hung", 10, 200, hanging), stop.clone());
        tasks.spawn((), def("hourly", 3_600_000, 5_000, fast), stop.clone());
        tokio::time::sleep(Duration::from_millis(450)).await;
        // While the slow one is still in its first run, the fast one ran many times.
        let s = get(&tasks, "slow");
        assert!(s.running && s.runs == 0, "{s:?}");
        assert!(get(&tasks, "fast").runs > 10, "{:?}", get(&tasks, "fast"));
        let f = get(&tasks, "failing");
        assert!(
            f.failures > 0 && f.last_error.as_deref() == Some("no luck"),
            "{f:?}"
        );
        let h = get(&tasks, "hung");
        assert!(h.failures >= 1, "{h:?}");
        assert!(h.last_error.unwrap_or_default().contains("did not finish"));
        // On demand: the hourly task runs again at once when triggered.
        assert_eq!(get(&tasks, "hourly").runs, 1);
        assert!(tasks.trigger("hourly"));
        assert!(!tasks.trigger("nope"));
        for _ in 0..100 {
            if get(&tasks, "hourly").runs == 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(get(&tasks, "hourly").runs, 2);
        let _ = stop_tx.send(true);
    }
}
