//! A minimal QMP client (QEMU Machine Protocol: JSON lines over a unix socket): greeting,
//! `qmp_capabilities`, then commands answered by `return` or `error`; asynchronous events
//! in between are skipped.

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

pub struct Qmp {
    reader: BufReader<tokio::net::unix::OwnedReadHalf>,
    writer: tokio::net::unix::OwnedWriteHalf,
}

const TIMEOUT: Duration = Duration::from_secs(10);

impl Qmp {
    pub async fn connect(socket: &Path) -> crate::HostResult<Qmp> {
        let s = tokio::time::timeout(TIMEOUT, UnixStream::connect(socket))
            .await
            .map_err(|_| format!("QMP {}: connect timed out", socket.display()))?
            .map_err(|e| format!("QMP {}: {e}", socket.display()))?;
        let (r, w) = s.into_split();
        let mut q = Qmp {
            reader: BufReader::new(r),
            writer: w,
        };
        let greeting = q.line().await?;
        if greeting.get("QMP").is_none() {
            return Err(crate::HostError::Qmp(format!(
                "not a QMP greeting: {greeting}"
            )));
        }
        q.execute("qmp_capabilities", Value::Null).await?;
        Ok(q)
    }

    async fn line(&mut self) -> crate::HostResult<Value> {
        let mut buf = String::new();
        let n = tokio::time::timeout(TIMEOUT, self.reader.read_line(&mut buf))
            .await
            .map_err(|_| "QMP: no answer within 10 s".to_string())?
            .map_err(|e| format!("QMP: {e}"))?;
        if n == 0 {
            return Err("QMP: connection closed".into());
        }
        serde_json::from_str(&buf)
            .map_err(|e| crate::HostError::Qmp(format!("QMP: bad JSON ({e}): {buf}")))
    }

    /// Runs a command; its `return` value, or its error's description.
    pub async fn execute(&mut self, command: &str, arguments: Value) -> crate::HostResult<Value> {
        let mut msg = json!({ "execute": command });
        if !arguments.is_null() {
            msg["arguments"] = arguments;
        }
        let mut text = msg.to_string();
        text.push('\n');
        self.writer
            .write_all(text.as_bytes())
            .await
            .map_err(|e| format!("QMP: {e}"))?;
        // Bounded: events never outnumber this many between a command and its answer.
        for _ in 0..1000 {
            let v = self.line().await?;
            if let Some(r) = v.get("return") {
                return Ok(r.clone());
            }
            if let Some(e) = v.get("error") {
                return Err(crate::HostError::Qmp(format!(
                    "QEMU refused {command}: {}",
                    e["desc"].as_str().unwrap_or("unknown error")
                )));
            }
        }
        Err(crate::HostError::Qmp(format!(
            "QMP: no answer to {command}"
        )))
    }
}
