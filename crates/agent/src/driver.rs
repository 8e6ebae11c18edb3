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
                other => Err(format!("unsupported command {other:?}")),
            }
        })
    }
}

/// A real host before the hypervisor driver exists: answers pings only.
pub struct LocalDriver;

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
                other => Err(format!("unsupported command {other:?}")),
            }
        })
    }
}
