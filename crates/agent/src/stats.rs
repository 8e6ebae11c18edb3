//! The agent's own figures: commands by op (count, failures, latency histogram), failures by
//! error kind, and the VMs it runs. The agent never listens on a port: the figures travel in
//! its heartbeats (only when they changed) and the server exposes them at `/metrics` with a
//! `host` label.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use proto::{AgentStats, CommandStats, COMMAND_SECONDS_BUCKETS};

#[derive(Debug, Default)]
pub struct Stats {
    inner: Mutex<Inner>,
    changed: AtomicBool,
}

#[derive(Debug, Default)]
struct Inner {
    /// By op (a sorted list: a host sees a handful of ops, and a map's first node would
    /// cost ~1 KiB on each of 100,000 simulated hosts).
    commands: Vec<CommandStats>,
    errors: BTreeMap<&'static str, u64>,
    vms: Option<u64>,
}

impl Stats {
    /// One command carried out: its op, how long it took, and the error kind if it failed.
    pub fn record(&self, op: &'static str, seconds: f64, failed: Option<&'static str>) {
        let Ok(mut i) = self.inner.lock() else { return };
        let at = match i.commands.binary_search_by(|c| c.op.as_str().cmp(op)) {
            Ok(at) => at,
            Err(at) => {
                i.commands.insert(
                    at,
                    CommandStats {
                        op: op.to_string(),
                        buckets: vec![0; COMMAND_SECONDS_BUCKETS.len()],
                        ..Default::default()
                    },
                );
                at
            }
        };
        let Some(c) = i.commands.get_mut(at) else {
            return;
        };
        match failed {
            None => c.ok += 1,
            Some(_) => c.failed += 1,
        }
        c.seconds_sum += seconds;
        for (b, bound) in c.buckets.iter_mut().zip(COMMAND_SECONDS_BUCKETS) {
            if seconds <= *bound {
                *b += 1;
            }
        }
        if let Some(kind) = failed {
            *i.errors.entry(kind).or_default() += 1;
        }
        self.changed.store(true, Ordering::Relaxed);
    }

    /// The number of VMs the host runs now.
    pub fn set_vms(&self, n: Option<u64>) {
        let Ok(mut i) = self.inner.lock() else { return };
        if i.vms != n {
            i.vms = n;
            self.changed.store(true, Ordering::Relaxed);
        }
    }

    /// The figures, if they changed since the last call.
    pub fn take_changed(&self) -> Option<AgentStats> {
        if !self.changed.swap(false, Ordering::Relaxed) {
            return None;
        }
        let i = self.inner.lock().ok()?;
        Some(AgentStats {
            vms: i.vms.unwrap_or(0),
            commands: i.commands.clone(),
            errors: i.errors.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_accumulate_and_are_sent_once_per_change() {
        let s = Stats::default();
        assert_eq!(s.take_changed(), None, "nothing happened yet");
        s.record("start_vm", 0.3, None);
        s.record("start_vm", 7.0, Some("tool"));
        s.set_vms(Some(1));
        let a = s.take_changed().expect("changed");
        assert_eq!(a.vms, 1);
        let c = &a.commands[0];
        assert_eq!((c.op.as_str(), c.ok, c.failed), ("start_vm", 1, 1));
        assert!((c.seconds_sum - 7.3).abs() < 1e-9);
        // 0.3 s falls in the 0.5 s bucket and above; 7 s only from the 10 s bucket on.
        let at = |bound: f64| {
            let i = COMMAND_SECONDS_BUCKETS
                .iter()
                .position(|b| *b == bound)
                .expect("bound");
            c.buckets[i]
        };
        assert_eq!((at(0.25), at(0.5), at(5.0), at(10.0)), (0, 1, 1, 2));
        assert_eq!(a.errors.get("tool"), Some(&1));
        assert_eq!(s.take_changed(), None, "sent once");
        s.set_vms(Some(1));
        assert_eq!(s.take_changed(), None, "same VM count is no change");
    }
}
