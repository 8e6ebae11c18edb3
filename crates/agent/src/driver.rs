//! What carries out commands on a host. The simulator answers from memory; the QEMU driver
//! (a later issue) will run real VMs behind the same trait.

use std::time::Duration;

use proto::Command;
use rand::Rng;

pub trait Driver: Send + Sync {
    /// Carries out a command; the `Ok` value is the reply body.
    fn handle<'a>(
        &'a self,
        command: &'a Command,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<serde_json::Value, String>> + Send + 'a>,
    >;
}

/// Simulated host: configurable delay per operation and injected failures.
pub struct SimDriver {
    pub delay: Duration,
    /// What `StorageStat` reports as capacity.
    pub storage_bytes: u64,
    /// Probability (0..1) that an operation fails with "Simulated failure".
    pub fail_rate: f64,
}

impl Driver for SimDriver {
    fn handle<'a>(
        &'a self,
        command: &'a Command,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<serde_json::Value, String>> + Send + 'a>,
    > {
        Box::pin(async move {
            if !self.delay.is_zero() {
                tokio::time::sleep(self.delay).await;
            }
            if self.fail_rate > 0.0 && rand::thread_rng().gen_bool(self.fail_rate.min(1.0)) {
                return Err("Simulated failure".into());
            }
            match command {
                Command::Ping => Ok(serde_json::json!({"pong": true})),
                // A simulated host's storage is as large as configured and empty.
                Command::StorageStat { .. } => {
                    Ok(serde_json::json!({"capacity_bytes": self.storage_bytes, "used_bytes": 0}))
                }
                other => Err(format!("unsupported command {other:?}")),
            }
        })
    }
}

/// A real host before the hypervisor driver exists: answers pings and measures storage.
pub struct LocalDriver;

/// Size and use of the filesystem holding `path`, via `df` (no unsafe statvfs here).
pub async fn storage_stat(path: &str) -> Result<serde_json::Value, String> {
    if !std::path::Path::new(path).is_dir() {
        return Err(format!("{path} is not a directory on this host"));
    }
    let out = tokio::process::Command::new("df")
        .args(["-P", "-B1", path])
        .output()
        .await
        .map_err(|e| format!("running df: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let fields: Vec<&str> = text
        .lines()
        .nth(1)
        .map(|l| l.split_whitespace().collect())
        .unwrap_or_default();
    match (
        fields.get(1).and_then(|v| v.parse::<u64>().ok()),
        fields.get(2).and_then(|v| v.parse::<u64>().ok()),
    ) {
        (Some(total), Some(used)) => {
            Ok(serde_json::json!({"capacity_bytes": total, "used_bytes": used}))
        }
        _ => Err(format!("cannot read df output for {path}: {text}")),
    }
}

impl Driver for LocalDriver {
    fn handle<'a>(
        &'a self,
        command: &'a Command,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<serde_json::Value, String>> + Send + 'a>,
    > {
        Box::pin(async move {
            match command {
                Command::Ping => Ok(serde_json::json!({"pong": true})),
                Command::StorageStat { path } => storage_stat(path).await,
                other => Err(format!("unsupported command {other:?}")),
            }
        })
    }
}
