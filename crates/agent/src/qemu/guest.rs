//! What the driver learns from, and asks of, a running guest: its statistics (QMP's block
//! statistics and balloon figures, the QEMU process's CPU time, the taps' counters, the
//! guest agent's view of its interfaces) and a graceful stop through its guest agent.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use model::stats::{DiskIo, GuestStats};
use proto::VmSpec;
use serde_json::{json, Value};

use super::QemuDriver;
use crate::qga::Qga;

/// The guest agent's socket in the VM's directory.
pub(super) const QGA_SOCKET: &str = "qga.sock";
/// The balloon device (its statistics are the guest's own memory figures).
pub(super) const BALLOON: &str = "/machine/peripheral/balloon0";
/// How long a guest agent gets to answer before the driver goes on without it.
const QGA_WAIT: Duration = Duration::from_secs(2);

/// Clock ticks of user and system time in a `/proc/<pid>/stat` line (fields 14 and 15; the
/// command name in parentheses may hold spaces, so fields are counted after the last `)`).
pub(crate) fn cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    Some(utime.saturating_add(stime))
}

/// `query-blockstats`' answer: I/O per volume (the drives are `drive-<volume id>`; the config
/// drive and anything else are left out).
pub(crate) fn block_stats(v: &Value) -> Vec<DiskIo> {
    let n = |s: &Value, k: &str| s[k].as_u64().unwrap_or(0);
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| {
            let id = d["device"].as_str()?.strip_prefix("drive-")?.parse().ok()?;
            let s = &d["stats"];
            Some(DiskIo {
                volume_id: id,
                read_bytes: n(s, "rd_bytes"),
                write_bytes: n(s, "wr_bytes"),
                read_ops: n(s, "rd_operations"),
                write_ops: n(s, "wr_operations"),
            })
        })
        .collect()
}

/// Received and sent bytes per device of this process's network namespace, from
/// `/proc/self/net/dev` (sysfs would show the namespace it was mounted in).
pub(crate) fn net_counters(dev_table: &str) -> BTreeMap<String, (u64, u64)> {
    dev_table
        .lines()
        .filter_map(|l| {
            let (name, rest) = l.split_once(':')?;
            let f: Vec<u64> = rest
                .split_whitespace()
                .map(|x| x.parse().unwrap_or(0))
                .collect();
            Some((name.trim().to_string(), (*f.first()?, *f.get(8)?)))
        })
        .collect()
}

impl QemuDriver {
    /// Asks the guest's agent to power the guest off. False when no agent answered (the
    /// caller falls back to the ACPI power button).
    pub(super) async fn powerdown_through_agent(&self, name: &str) -> bool {
        let sock = self.vm_dir(name).join(QGA_SOCKET);
        match Qga::connect(&sock, QGA_WAIT).await {
            Ok(mut q) => match q.powerdown().await {
                Ok(()) => {
                    tracing::info!(vm = name, "stopping through the guest agent");
                    true
                }
                Err(e) => {
                    tracing::info!(vm = name, error = %e, "the guest agent did not take the shutdown; using ACPI");
                    false
                }
            },
            Err(e) => {
                tracing::info!(vm = name, error = %e, "no guest agent answers; stopping through ACPI");
                false
            }
        }
    }

    /// Turns on the balloon's statistics (the guest reports its memory every 10 s).
    pub(super) async fn enable_balloon_stats(&self, name: &str) {
        if let Ok(mut q) = self.qmp(name).await {
            let _ = q
                .execute(
                    "qom-set",
                    json!({"path": BALLOON, "property": "guest-stats-polling-interval", "value": 10}),
                )
                .await;
        }
    }

    /// The statistics of every VM running here (a VM whose figures cannot be read now is
    /// left out of this round).
    pub async fn guest_stats(&self) -> Vec<GuestStats> {
        let mut out = Vec::new();
        for name in self.running() {
            let Some(spec) = self.spec_of(&name) else {
                continue;
            };
            match self.stats_of(&name, &spec).await {
                Ok(s) => out.push(s),
                Err(e) => tracing::debug!(vm = %name, error = %e, "no statistics this round"),
            }
        }
        let running: Vec<String> = self.running();
        if let Ok(mut c) = self.cpu_samples.lock() {
            c.retain(|k, _| running.contains(k));
        }
        out
    }

    async fn stats_of(&self, name: &str, spec: &VmSpec) -> crate::HostResult<GuestStats> {
        let mut s = GuestStats {
            vm_id: spec.id,
            memory_kib: spec.memory_mib.saturating_mul(1024),
            ..Default::default()
        };
        // CPU: the QEMU process's time since the previous round, over the VM's CPUs.
        if let Some(pid) = self.pid(name) {
            let ticks = std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|t| cpu_ticks(&t));
            if let (Some(ticks), Ok(mut samples)) = (ticks, self.cpu_samples.lock()) {
                let now = Instant::now();
                if let Some((then, before)) = samples.get(name) {
                    let secs = now.duration_since(*then).as_secs_f64();
                    let hz = rustix::param::clock_ticks_per_second() as f64;
                    if secs > 0.0 && hz > 0.0 {
                        let used = ticks.saturating_sub(*before) as f64 / hz;
                        s.cpu_used_percent =
                            (used / secs / spec.cpus.max(1) as f64 * 100.0).clamp(0.0, 100.0);
                    }
                }
                samples.insert(name.to_string(), (now, ticks));
            }
        }
        let mut q = self.qmp(name).await?;
        s.disks = block_stats(&q.execute("query-blockstats", Value::Null).await?);
        for d in &s.disks {
            s.disk_read_bytes += d.read_bytes;
            s.disk_write_bytes += d.write_bytes;
            s.disk_read_ops += d.read_ops;
            s.disk_write_ops += d.write_ops;
        }
        if let Ok(b) = q.execute("query-balloon", Value::Null).await {
            s.memory_target_kib = b["actual"].as_u64().map(|a| a / 1024);
        }
        if let Ok(g) = q
            .execute(
                "qom-get",
                json!({"path": BALLOON, "property": "guest-stats"}),
            )
            .await
        {
            if g["last-update"].as_u64().unwrap_or(0) > 0 {
                s.memory_free_kib = g["stats"]["stat-free-memory"]
                    .as_i64()
                    .filter(|f| *f >= 0)
                    .map(|f| f as u64 / 1024);
            }
        }
        // The taps: what the host sends into the tap the guest reads.
        let devs = net_counters(&std::fs::read_to_string("/proc/self/net/dev").unwrap_or_default());
        for n in &spec.nics {
            if let Some((rx, tx)) = devs.get(&n.tap) {
                s.net_read_bytes += tx;
                s.net_write_bytes += rx;
            }
        }
        if let Ok(mut a) = Qga::connect(&self.vm_dir(name).join(QGA_SOCKET), QGA_WAIT).await {
            if let Ok(v) = a
                .call("guest-network-get-interfaces", Value::Null, QGA_WAIT)
                .await
            {
                s.interfaces = crate::qga::interfaces(&v);
            }
        }
        Ok(s)
    }
}

/// Previous CPU samples per VM: when, and the QEMU process's ticks then.
pub(super) type CpuSamples = std::sync::Mutex<BTreeMap<String, (Instant, u64)>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_and_block_statistics_are_read_from_their_sources() {
        let stat = "4242 (qemu-system-x86 (x)) S 1 4242 4242 0 -1 4194560 1 0 0 0 150 50 0 0 20 0 3 0 100 0 0";
        assert_eq!(cpu_ticks(stat), Some(200));
        assert_eq!(cpu_ticks("garbage"), None);
        let v = json!([
            {"device": "drive-00000000-0000-0000-0000-000000000001",
             "stats": {"rd_bytes": 4096, "wr_bytes": 512, "rd_operations": 2, "wr_operations": 1}},
            {"device": "drive-config", "stats": {"rd_bytes": 99}},
            {"device": "", "qdev": "x", "stats": {}}
        ]);
        let d = block_stats(&v);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].read_bytes, 4096);
        assert_eq!(d[0].write_ops, 1);
        let t = "Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n vt0000000003: 1500 10 0 0 0 0 0 0 9000 20 0 0 0 0 0 0\n    lo: 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n";
        let n = net_counters(t);
        assert_eq!(n.get("vt0000000003"), Some(&(1500, 9000)));
        assert_eq!(n.len(), 2);
    }
}
