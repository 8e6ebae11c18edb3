//! The real binary, killed with SIGKILL while a job runs: after a restart the job is resumed
//! and finishes, and nothing stays pending. Also checks `canopy up` prints the endpoint and
//! the admin credentials and writes admin.json with mode 0600.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(dir: &Path, port: u16, sub: &str, job_delay_ms: Option<u64>) -> Proc {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_canopy"));
    cmd.arg(sub);
    if sub == "up" {
        // Tests keep real VMs and bridges off the machine: a simulated host.
        cmd.args(["--host", "simulator"]);
    }
    cmd.arg("--data-dir")
        .arg(dir)
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .args(["--agent-listen", "127.0.0.1:0"]);
    cmd.env("CANOPY_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Some(d) = job_delay_ms {
        cmd.env("CANOPY_FAULT_JOB_DELAY_MS", d.to_string());
    }
    Proc(cmd.spawn().expect("spawn canopy"))
}

/// Waits for the "is up" banner; returns stdout lines up to the credentials' file line.
fn banner(p: &mut Proc) -> Vec<String> {
    let out = p.0.stdout.take().expect("stdout");
    let mut lines = Vec::new();
    for line in BufReader::new(out).lines().take(20) {
        let Ok(line) = line else { break };
        let last = line.contains("saved in") || line.contains("admin credentials:");
        lines.push(line);
        if last {
            break;
        }
    }
    lines
}

fn sign_url(base: &str, creds: &Value, params: &[(&str, &str)]) -> String {
    let mut p: Vec<(String, String)> = params
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    p.push(("response".into(), "json".into()));
    p.push((
        "apiKey".into(),
        creds["apikey"].as_str().expect("k").to_string(),
    ));
    let refs: Vec<(&str, &str)> = p.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let sig = api::sign::sign(&refs, creds["secretkey"].as_str().expect("s"));
    p.push(("signature".into(), sig));
    let q: Vec<String> = p
        .iter()
        .map(|(k, v)| {
            let e: String = v
                .bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect();
            format!("{k}={e}")
        })
        .collect();
    format!("{base}?{}", q.join("&"))
}

async fn get(url: &str) -> (u16, Value) {
    let r = reqwest::get(url).await.expect("request");
    let st = r.status().as_u16();
    let text = r.text().await.expect("body");
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not json: {text}"));
    let inner = v
        .as_object()
        .and_then(|m| m.values().next().cloned())
        .expect("envelope");
    (st, inner)
}

#[tokio::test]
async fn sigkill_mid_job_then_restart_resumes_it() {
    let dir = tempfile::tempdir().expect("tmp");
    let port = testkit::free_port();
    let base = format!("http://127.0.0.1:{port}/client/api");
    let mut p = spawn(dir.path(), port, "up", Some(4_000));
    let lines = banner(&mut p);
    let text = lines.join("\n");
    assert!(
        text.contains(&format!("http://127.0.0.1:{port}/client/api")),
        "{text}"
    );
    assert!(
        text.contains("admin apikey:") && text.contains("admin secretkey:"),
        "{text}"
    );
    let admin_json = dir.path().join("admin.json");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&admin_json)
            .expect("admin.json")
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    let creds: Value =
        serde_json::from_str(&std::fs::read_to_string(&admin_json).expect("read")).expect("json");
    for k in ["username", "password", "apikey", "secretkey"] {
        assert!(creds[k].is_string(), "admin.json lacks {k}");
    }
    assert!(
        text.contains(creds["secretkey"].as_str().expect("s")),
        "banner prints the secret key"
    );

    let (st, a) = get(&sign_url(
        &base,
        &creds,
        &[
            ("command", "createAccount"),
            ("username", "doomed"),
            ("password", "pw"),
            ("email", "d@x"),
            ("firstname", "D"),
            ("lastname", "X"),
        ],
    ))
    .await;
    assert_eq!(st, 200, "{a}");
    let acct = a["account"]["id"].as_str().expect("id").to_string();
    let (st, j) = get(&sign_url(
        &base,
        &creds,
        &[("command", "deleteAccount"), ("id", &acct)],
    ))
    .await;
    assert_eq!(st, 200, "{j}");
    let jobid = j["jobid"].as_str().expect("jobid").to_string();
    let (_, q) = get(&sign_url(
        &base,
        &creds,
        &[("command", "queryAsyncJobResult"), ("jobid", &jobid)],
    ))
    .await;
    assert_eq!(
        q["jobstatus"], 0,
        "the job is still running (delayed by fault injection)"
    );

    // SIGKILL (what std's Child::kill sends on Unix): no chance to clean up.
    p.0.kill().expect("kill");
    let _ = p.0.wait();
    drop(p);

    // Restart without the delay: the job is taken over and completes.
    let mut p = spawn(dir.path(), port, "server", None);
    let _ = banner(&mut p);
    let mut last = Value::Null;
    for _ in 0..200 {
        let (_, q) = get(&sign_url(
            &base,
            &creds,
            &[("command", "queryAsyncJobResult"), ("jobid", &jobid)],
        ))
        .await;
        if q["jobstatus"] != 0 {
            last = q;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(last["jobstatus"], 1, "resumed job succeeded: {last}");
    assert_eq!(last["jobresult"]["success"], true);
    let (st, l) = get(&sign_url(
        &base,
        &creds,
        &[
            ("command", "listAccounts"),
            ("listall", "true"),
            ("name", "doomed"),
        ],
    ))
    .await;
    assert_eq!(
        (st, l.get("count")),
        (200, None),
        "the account is gone: {l}"
    );
    let (_, jobs) = get(&sign_url(&base, &creds, &[("command", "listAsyncJobs")])).await;
    let pending: Vec<&Value> = jobs["asyncjobs"]
        .as_array()
        .map(|a| a.iter().filter(|j| j["jobstatus"] == 0).collect())
        .unwrap_or_default();
    assert!(pending.is_empty(), "no job stays pending: {pending:?}");
}

#[tokio::test]
async fn bad_database_url_and_foreign_server_key_are_refused_clearly() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = Command::new(env!("CARGO_BIN_EXE_canopy"))
        .args(["server", "--data-dir"])
        .arg(dir.path())
        .args([
            "--listen",
            "127.0.0.1:0",
            "--agent-listen",
            "127.0.0.1:0",
            "--database",
            "mysql://nope",
        ])
        .env("CANOPY_LOG", "off")
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unsupported database url"), "{err}");

    // A database created with one server.key refuses another key.
    let port = testkit::free_port();
    let mut p = spawn(dir.path(), port, "server", None);
    let _ = banner(&mut p);
    drop(p);
    std::fs::write(dir.path().join("server.key"), "00".repeat(32)).expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_canopy"))
        .args(["server", "--data-dir"])
        .arg(dir.path())
        .args(["--listen", "127.0.0.1:0", "--agent-listen", "127.0.0.1:0"])
        .env("CANOPY_LOG", "off")
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("server.key does not match this database"),
        "{err}"
    );
}
