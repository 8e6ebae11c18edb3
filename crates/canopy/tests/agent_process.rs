//! Real processes: `canopy up` (simulated zone), `canopy token create`, and a separate
//! `canopy agent --simulate 3` whose hosts join over TLS; killing the agent process takes
//! its hosts out of Up.

use std::io::{BufRead, BufReader};
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

fn signed(base: &str, creds: &Value, params: &[(&str, &str)]) -> String {
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
    let enc = |v: &str| -> String {
        v.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    };
    format!(
        "{base}?{}",
        p.iter()
            .map(|(k, v)| format!("{k}={}", enc(v)))
            .collect::<Vec<_>>()
            .join("&")
    )
}

async fn get(url: &str) -> Value {
    let t = reqwest::get(url)
        .await
        .expect("request")
        .text()
        .await
        .expect("body");
    let v: Value = serde_json::from_str(&t).unwrap_or_else(|_| panic!("not json: {t}"));
    v.as_object()
        .and_then(|m| m.values().next().cloned())
        .expect("envelope")
}

#[tokio::test]
async fn agent_process_joins_and_leaves() {
    let dir = tempfile::tempdir().expect("tmp");
    let port = testkit::free_port();
    let base = format!("http://127.0.0.1:{port}/client/api");
    let mut up = Proc(
        Command::new(env!("CARGO_BIN_EXE_canopy"))
            .args([
                "up",
                "--host",
                "simulator",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--agent-listen",
                "127.0.0.1:0",
                "--data-dir",
            ])
            .arg(dir.path())
            .env("CANOPY_LOG", "warn")
            .env("CANOPY_TEMPLATE_DIR", dir.path().join("no-template"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("canopy up"),
    );
    let out = up.0.stdout.take().expect("stdout");
    let banner: Vec<String> = BufReader::new(out)
        .lines()
        .map_while(Result::ok)
        .take_while(|l| !l.contains("saved in"))
        .collect();
    assert!(
        banner.iter().any(|l| l.contains("host: Simulator")),
        "{banner:?}"
    );
    assert!(
        banner.iter().any(|l| l.contains("template:        none")),
        "without a built template up says so: {banner:?}"
    );
    let creds: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("admin.json")).expect("admin.json"))
            .expect("json");
    let clusters = get(&signed(&base, &creds, &[("command", "listClusters")])).await;
    let cluster = clusters["cluster"][0]["id"]
        .as_str()
        .expect("cluster")
        .to_string();

    // canopy token create (through the API with admin.json).
    let tok = Command::new(env!("CARGO_BIN_EXE_canopy"))
        .args([
            "token",
            "create",
            "--cluster",
            &cluster,
            "--uses",
            "3",
            "--api",
            &base,
            "--admin-json",
        ])
        .arg(dir.path().join("admin.json"))
        .output()
        .expect("token");
    assert!(
        tok.status.success(),
        "{}",
        String::from_utf8_lossy(&tok.stderr)
    );
    let token = String::from_utf8_lossy(&tok.stdout).trim().to_string();
    assert!(token.starts_with("cnp1."), "{token}");

    // A separate agent process simulating three hosts.
    let agent = Proc(
        Command::new(env!("CARGO_BIN_EXE_canopy"))
            .args([
                "agent",
                "--token",
                &token,
                "--simulate",
                "3",
                "--sim-prefix",
                "proc",
                "--state-dir",
            ])
            .arg(dir.path().join("agent"))
            .env("CANOPY_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("canopy agent"),
    );
    let mut up_count = 0;
    for _ in 0..100 {
        up_count = get(&signed(
            &base,
            &creds,
            &[
                ("command", "listHosts"),
                ("clusterid", &cluster),
                ("state", "Up"),
                ("keyword", "proc"),
            ],
        ))
        .await["count"]
            .as_u64()
            .unwrap_or(0);
        if up_count == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        up_count, 3,
        "three simulated hosts joined from the agent process"
    );
    assert!(
        dir.path().join("agent/simulated-hosts.json").exists(),
        "their credentials are kept"
    );

    // Kill the agent process: its hosts are no longer Up.
    drop(agent);
    let mut left = 3;
    for _ in 0..100 {
        left = get(&signed(
            &base,
            &creds,
            &[
                ("command", "listHosts"),
                ("state", "Up"),
                ("keyword", "proc"),
            ],
        ))
        .await["count"]
            .as_u64()
            .unwrap_or(0);
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(left, 0);
    let h = get(&signed(
        &base,
        &creds,
        &[("command", "listHosts"), ("keyword", "proc")],
    ))
    .await;
    assert!(
        h["host"]
            .as_array()
            .expect("hosts")
            .iter()
            .all(|x| x["state"] == "Disconnected"),
        "{h}"
    );
}
