//! A client of QEMU's guest agent (qemu-guest-agent inside the guest), reached through the
//! VM's virtio-serial port `org.qemu.guest_agent.0`, which QEMU exposes on the host as the
//! unix socket `qga.sock`. The protocol is QMP's JSON lines without a greeting; since a
//! previous client may have left half a conversation in the channel, every session starts
//! with `guest-sync-delimited` (the answer is preceded by a 0xFF byte, and only the answer
//! carrying our random id counts).
//!
//! Everything read here comes from the guest, which is not trusted: lines are bounded
//! ([`MAX_LINE`]), every wait has a deadline, and answers are decoded into bounded typed
//! values ([`interfaces`]) — the guest can make its own figures wrong, nothing else.

use std::path::Path;
use std::time::Duration;

use model::stats::GuestInterface;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

/// The longest answer line read from a guest.
pub const MAX_LINE: u64 = 256 * 1024;
/// The most interfaces and addresses per interface kept from an answer.
const MAX_IFS: usize = 32;
const MAX_ADDRS: usize = 16;

pub struct Qga {
    reader: BufReader<tokio::net::unix::OwnedReadHalf>,
    writer: tokio::net::unix::OwnedWriteHalf,
}

/// One line of the channel as JSON: the 0xFF bytes `guest-sync-delimited` puts before its
/// answer (and any stray ones) are dropped; a line that is not a JSON object is `None`.
pub fn parse_line(line: &[u8]) -> Option<Value> {
    let bytes: Vec<u8> = line.iter().copied().filter(|b| *b != 0xFF).collect();
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    v.is_object().then_some(v)
}

/// Short text from the guest: at most 64 characters.
fn short(v: &Value) -> Option<String> {
    let s = v.as_str()?;
    Some(s.chars().take(64).collect())
}

/// The answer of `guest-network-get-interfaces`, bounded; the loopback is left out.
pub fn interfaces(v: &Value) -> Vec<GuestInterface> {
    let Some(list) = v.as_array() else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|i| {
            let name = short(&i["name"])?;
            if name == "lo" {
                return None;
            }
            let mut g = GuestInterface {
                name,
                mac: short(&i["hardware-address"]).unwrap_or_default(),
                ..Default::default()
            };
            for a in i["ip-addresses"]
                .as_array()
                .into_iter()
                .flatten()
                .take(MAX_ADDRS)
            {
                let (Some(kind), Some(addr)) =
                    (a["ip-address-type"].as_str(), short(&a["ip-address"]))
                else {
                    continue;
                };
                match kind {
                    "ipv4" if addr.parse::<std::net::Ipv4Addr>().is_ok() => g.ipv4.push(addr),
                    "ipv6" if addr.parse::<std::net::Ipv6Addr>().is_ok() => g.ipv6.push(addr),
                    _ => {}
                }
            }
            Some(g)
        })
        .take(MAX_IFS)
        .collect()
}

impl Qga {
    /// Connects and synchronises within `wait`; an error when the guest's agent does not
    /// answer (not installed, not started yet, or the guest is busy).
    pub async fn connect(socket: &Path, wait: Duration) -> crate::HostResult<Qga> {
        let s = tokio::time::timeout(wait, UnixStream::connect(socket))
            .await
            .map_err(|_| "guest agent: connect timed out".to_string())?
            .map_err(|e| format!("guest agent {}: {e}", socket.display()))?;
        let (r, w) = s.into_split();
        let mut q = Qga {
            reader: BufReader::new(r),
            writer: w,
        };
        let id: u32 = rand::random::<u32>() & 0x7fff_ffff;
        // A 0xFF first resets the guest agent's parser after a half-written request.
        q.writer
            .write_all(&[0xFF])
            .await
            .map_err(|e| format!("guest agent: {e}"))?;
        // The agent answers that 0xFF with a parse error (qemu-ga 7: "stray '\xff'"), and a
        // previous client may have left answers behind: only our id counts.
        let got = q
            .call_raw(
                json!({"execute": "guest-sync-delimited", "arguments": {"id": id}}),
                wait,
                true,
                |v| v.get("return").and_then(Value::as_u64) == Some(id as u64),
            )
            .await?;
        if got.is_none() {
            return Err("guest agent: no answer to guest-sync".into());
        }
        Ok(q)
    }

    /// Sends `msg` and reads lines until one satisfies `done` (`Some`), an error answer
    /// (`Err`, unless `skip_errors`) or the deadline (`Err`).
    async fn call_raw(
        &mut self,
        msg: Value,
        wait: Duration,
        skip_errors: bool,
        done: impl Fn(&Value) -> bool,
    ) -> crate::HostResult<Option<Value>> {
        let mut text = msg.to_string();
        text.push('\n');
        self.writer
            .write_all(text.as_bytes())
            .await
            .map_err(|e| format!("guest agent: {e}"))?;
        let deadline = tokio::time::Instant::now() + wait;
        // Bounded: at most this many unrelated lines before the answer.
        for _ in 0..64 {
            let mut buf = Vec::new();
            let n = tokio::time::timeout_at(
                deadline,
                (&mut self.reader)
                    .take(MAX_LINE)
                    .read_until(b'\n', &mut buf),
            )
            .await
            .map_err(|_| "guest agent: no answer in time".to_string())?
            .map_err(|e| format!("guest agent: {e}"))?;
            if n == 0 {
                return Err("guest agent: the channel closed".into());
            }
            let Some(v) = parse_line(&buf) else { continue };
            if done(&v) {
                return Ok(Some(v));
            }
            if skip_errors {
                continue;
            }
            if let Some(e) = v.get("error") {
                return Err(crate::HostError::Qmp(format!(
                    "the guest agent refused: {}",
                    short(&e["desc"]).unwrap_or_else(|| "unknown error".into())
                )));
            }
        }
        Ok(None)
    }

    /// Runs a command; its `return` value.
    pub async fn call(
        &mut self,
        command: &str,
        arguments: Value,
        wait: Duration,
    ) -> crate::HostResult<Value> {
        let mut msg = json!({ "execute": command });
        if !arguments.is_null() {
            msg["arguments"] = arguments;
        }
        self.call_raw(msg, wait, false, |v| v.get("return").is_some())
            .await?
            .and_then(|v| v.get("return").cloned())
            .ok_or_else(|| {
                crate::HostError::Qmp(format!("the guest agent did not answer {command}"))
            })
    }

    /// Asks the guest to power off (`guest-shutdown`, which answers nothing when it works).
    pub async fn powerdown(&mut self) -> crate::HostResult<()> {
        let mut text =
            json!({"execute": "guest-shutdown", "arguments": {"mode": "powerdown"}}).to_string();
        text.push('\n');
        self.writer
            .write_all(text.as_bytes())
            .await
            .map_err(|e| format!("guest agent: {e}"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_markers_are_dropped_and_answers_decoded_within_bounds() {
        assert_eq!(
            parse_line(b"\xff{\"return\": 7}\n"),
            Some(json!({"return": 7}))
        );
        assert_eq!(parse_line(b"garbage\n"), None);
        assert_eq!(parse_line(b"[1]\n"), None);
        let v = json!([
            {"name": "lo", "hardware-address": "00:00:00:00:00:00",
             "ip-addresses": [{"ip-address-type": "ipv4", "ip-address": "127.0.0.1", "prefix": 8}]},
            {"name": "eth0", "hardware-address": "02:00:00:00:00:07",
             "ip-addresses": [
                {"ip-address-type": "ipv4", "ip-address": "10.1.1.5", "prefix": 24},
                {"ip-address-type": "ipv6", "ip-address": "fe80::1", "prefix": 64},
                {"ip-address-type": "ipv4", "ip-address": "not an address"},
                {"ip-address-type": "other", "ip-address": "10.0.0.1"}]},
            {"no": "name"}
        ]);
        let got = interfaces(&v);
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].name, "eth0");
        assert_eq!(got[0].mac, "02:00:00:00:00:07");
        assert_eq!(got[0].ipv4, vec!["10.1.1.5".to_string()]);
        assert_eq!(got[0].ipv6, vec!["fe80::1".to_string()]);
        let many: Vec<Value> = (0..100)
            .map(|i| json!({"name": format!("e{i}"), "ip-addresses": []}))
            .collect();
        assert_eq!(interfaces(&Value::Array(many)).len(), MAX_IFS);
        assert!(interfaces(&json!({"not": "a list"})).is_empty());
    }

    /// A fake guest agent on a socket: stale bytes first, then answers by the protocol.
    #[tokio::test]
    async fn a_session_syncs_past_stale_output_and_reads_the_answer() {
        let dir = tempfile::tempdir().expect("tmp");
        let sock = dir.path().join("qga.sock");
        let l = tokio::net::UnixListener::bind(&sock).expect("bind");
        let guest = tokio::spawn(async move {
            let (s, _) = l.accept().await.expect("accept");
            let (r, mut w) = s.into_split();
            let mut r = BufReader::new(r);
            w.write_all(b"{\"return\": {}}\n").await.expect("stale");
            // qemu-ga answers the reset byte with a parse error.
            w.write_all(b"{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray '\\xff'\"}}\n")
                .await
                .expect("error");
            let mut buf = Vec::new();
            for _ in 0..2 {
                buf.clear();
                r.read_until(b'\n', &mut buf).await.expect("read");
                let v = parse_line(&buf).expect("json");
                match v["execute"].as_str() {
                    Some("guest-sync-delimited") => {
                        let id = v["arguments"]["id"].clone();
                        let mut line = vec![0xFF];
                        line.extend(format!("{}\n", json!({"return": id})).into_bytes());
                        w.write_all(&line).await.expect("write");
                    }
                    Some("guest-network-get-interfaces") => {
                        w.write_all(b"{\"return\": [{\"name\": \"eth0\", \"hardware-address\": \"02:00:00:00:00:01\"}]}\n")
                            .await
                            .expect("write");
                    }
                    other => panic!("unexpected {other:?}"),
                }
            }
        });
        let mut q = Qga::connect(&sock, Duration::from_secs(5))
            .await
            .expect("sync");
        let v = q
            .call(
                "guest-network-get-interfaces",
                Value::Null,
                Duration::from_secs(5),
            )
            .await
            .expect("answer");
        assert_eq!(interfaces(&v)[0].mac, "02:00:00:00:00:01");
        guest.await.expect("guest");
        // Nobody answering: an error within the deadline, not a hang.
        let silent = dir.path().join("silent.sock");
        let _l = tokio::net::UnixListener::bind(&silent).expect("bind");
        let t = std::time::Instant::now();
        assert!(Qga::connect(&silent, Duration::from_millis(300))
            .await
            .is_err());
        assert!(t.elapsed() < Duration::from_secs(5));
    }
}
