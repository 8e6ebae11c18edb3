//! A cluster behind a return proxy, with a real sshd (Debian's openssh-server) on loopback as
//! the proxy: designation records the proxy's host key and shows the servers' public key;
//! once the key is authorized the server's tunnel (the OpenSSH client, a remote forward of the
//! proxy's port to the agent endpoint) comes Up; a join token for the cluster names the
//! proxy's port, and agents join through the tunnel; the tunnel's ssh is SIGKILLed → it is
//! re-established, the agents reconnect, and no host is ever declared Down; a second proxy is
//! refused; clearing the designation stops the tunnel.

mod common;

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use common::agents::Agents;
use common::*;
use serde_json::Value;

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// sshd in the foreground on 127.0.0.1:port, stopped by its PID when dropped.
struct Sshd {
    child: std::process::Child,
    dir: tempfile::TempDir,
    port: u16,
}

impl Sshd {
    fn start() -> Option<Self> {
        if !Path::new("/usr/sbin/sshd").exists() {
            assert!(
                std::env::var_os("CANOPY_REQUIRE_TOOLS").is_none(),
                "sshd is missing (scripts/install-deps.sh installs openssh-server)"
            );
            return None;
        }
        let dir = tempfile::tempdir().expect("tmp");
        let key = dir.path().join("hostkey");
        let ok = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&key)
            .status()
            .expect("ssh-keygen")
            .success();
        assert!(ok, "ssh-keygen");
        std::fs::write(dir.path().join("authorized_keys"), "").expect("keys");
        let port = free_port();
        let conf = dir.path().join("sshd_config");
        std::fs::write(
            &conf,
            format!(
                "ListenAddress 127.0.0.1:{port}\nHostKey {}\nAuthorizedKeysFile {}\nStrictModes no\n\
                 PermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
                 GatewayPorts clientspecified\nAllowTcpForwarding remote\nPidFile {}\nUsePAM no\n",
                key.display(),
                dir.path().join("authorized_keys").display(),
                dir.path().join("sshd.pid").display()
            ),
        )
        .expect("config");
        std::fs::create_dir_all("/run/sshd").expect("/run/sshd");
        let child = std::process::Command::new("/usr/sbin/sshd")
            .args(["-D", "-e", "-f"])
            .arg(&conf)
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("sshd.log")).expect("log"))
            .spawn()
            .expect("sshd starts");
        let end = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < end, "sshd did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(Sshd { child, dir, port })
    }

    fn authorize(&self, key: &str) {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(self.dir.path().join("authorized_keys"))
            .expect("keys");
        writeln!(f, "{key}").expect("write");
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn hosts_named(c: &Client, prefix: &str) -> Vec<Value> {
    c.ok(&[("command", "listHosts"), ("keyword", prefix)]).await["host"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

async fn cluster_view(c: &Client, id: &str) -> Value {
    c.ok(&[("command", "listClusters"), ("id", id)]).await["cluster"][0].clone()
}

async fn wait_state(c: &Client, id: &str, want: &str) -> Value {
    let end = Instant::now() + Duration::from_secs(30);
    loop {
        let v = cluster_view(c, id).await;
        if v["returnproxystate"] == want {
            return v;
        }
        assert!(Instant::now() < end, "tunnel never {want}: {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hosts_join_and_stay_through_the_return_proxy() {
    let Some(sshd) = Sshd::start() else {
        return;
    };
    let ts = TestServer::start().await;
    let admin = &ts.admin;
    let z = VmZone::new(&ts, 0).await;
    let cluster = s(&admin
        .ok(&[("command", "listClusters"), ("zoneid", &z.zone)])
        .await["cluster"][0]["id"]);
    let port = free_port();
    admin
        .ok(&[
            ("command", "updateConfiguration"),
            ("name", "returnproxy.port"),
            ("value", &port.to_string()),
        ])
        .await;

    // Hostile values are refused before anything is dialled.
    for (k, v) in [
        ("returnproxyaddress", "not-an-address"),
        ("returnproxyaddress", "10.0.0.1\u{0}"),
        ("returnproxyuser", "r\u{7}oot"),
        ("returnproxyuser", "rööt"),
        ("returnproxyuser", "-oProxyCommand=x"),
        ("returnproxysshport", "70000"),
        ("returnproxysshport", "twenty-two"),
        ("returnproxyuse", "public"),
    ] {
        let mut p = vec![("command", "updateCluster"), ("id", cluster.as_str())];
        if k != "returnproxyaddress" {
            p.push(("returnproxyaddress", "127.0.0.1"));
        }
        p.push((k, v));
        let r = admin.call(&p).await;
        assert_eq!(r.status, 431, "{k}={v:?} -> {}", r.text);
    }
    let huge = "u".repeat(5000);
    let r = admin
        .call(&[
            ("command", "updateCluster"),
            ("id", &cluster),
            ("returnproxyaddress", "127.0.0.1"),
            ("returnproxyuser", &huge),
        ])
        .await;
    assert_eq!(r.status, 431, "{}", r.text);

    // Designation: the proxy's host key is read and kept; the servers' public key shown.
    let e = admin
        .err(
            &[
                ("command", "updateCluster"),
                ("id", &cluster),
                ("returnproxyaddress", "127.0.0.1"),
                ("returnproxysshport", &free_port().to_string()),
            ],
            431,
        )
        .await;
    assert!(e.contains("host key"), "no SSH server there: {e}");
    let sshport = sshd.port.to_string();
    let v = admin
        .ok(&[
            ("command", "updateCluster"),
            ("id", &cluster),
            ("returnproxyaddress", "127.0.0.1"),
            ("returnproxysshport", &sshport),
            ("returnproxyuser", "root"),
        ])
        .await["cluster"]
        .clone();
    assert!(
        s(&v["returnproxyhostkey"]).starts_with("ssh-ed25519 "),
        "{v}"
    );
    let public = s(&v["returnproxypublickey"]);
    assert!(public.starts_with("ssh-ed25519 "), "{v}");
    // Not yet authorized on the proxy: the tunnel cannot come up.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_ne!(
        cluster_view(admin, &cluster).await["returnproxystate"],
        "Up"
    );
    let t0 = Instant::now();
    sshd.authorize(&public);
    let v = wait_state(admin, &cluster, "Up").await;
    let up_after = t0.elapsed();
    assert_eq!(v["returnproxyport"], port, "{v}");

    // A second proxy is refused.
    let e = admin
        .err(
            &[
                ("command", "updateCluster"),
                ("id", &cluster),
                ("returnproxyaddress", "127.0.0.2"),
            ],
            431,
        )
        .await;
    assert!(e.contains("already has a return proxy"), "{e}");

    // Designating a host of the cluster as another proxy is refused too (updateHost).
    let other = s(&admin
        .ok(&[("command", "listHosts"), ("clusterid", &cluster)])
        .await["host"][0]["id"]);
    if !other.is_empty() {
        let e = admin
            .err(
                &[
                    ("command", "updateHost"),
                    ("id", &other),
                    ("returnproxy", "true"),
                ],
                431,
            )
            .await;
        assert!(
            e.contains("return proxy") || e.contains("returnproxy"),
            "{e}"
        );
    }

    // Agents join through the proxy's port.
    let t1 = Instant::now();
    let agents = Agents::join(&ts, &cluster, "rp", 2).await;
    assert_eq!(agents.server, format!("127.0.0.1:{port}"));
    let st = ts.server.as_ref().expect("running").state.clone();
    let prefix = agents.prefix.clone();
    let hosts = || hosts_named(admin, &prefix);
    let end = Instant::now() + Duration::from_secs(30);
    loop {
        let h = hosts().await;
        if h.len() == 2 && h.iter().all(|x| x["state"] == "Up") {
            break;
        }
        assert!(
            Instant::now() < end,
            "hosts not Up through the proxy: {h:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let joined_after = t1.elapsed();
    let ids: Vec<model::HostId> = hosts()
        .await
        .iter()
        .filter_map(|h| h["id"].as_str()?.parse().ok())
        .map(model::HostId)
        .collect();

    // An agent command's round trip through the tunnel, and to a directly connected agent (a
    // second cluster without a proxy), 50 pings each: the medians.
    let pod = s(&admin
        .ok(&[("command", "listPods"), ("zoneid", &z.zone)])
        .await["pod"][0]["id"]);
    let direct_cluster = s(&admin
        .ok(&[
            ("command", "addCluster"),
            ("clustername", "direct"),
            ("clustertype", "CloudManaged"),
            ("hypervisor", "Simulator"),
            ("podid", &pod),
            ("zoneid", &z.zone),
        ])
        .await["cluster"][0]["id"]);
    let direct = Agents::join(&ts, &direct_cluster, "direct", 1).await;
    assert_eq!(direct.server, st.agent_endpoint, "a direct token");
    let end = Instant::now() + Duration::from_secs(30);
    let direct_id = loop {
        let h = hosts_named(admin, &direct.prefix).await;
        if let Some(id) = h
            .first()
            .filter(|x| x["state"] == "Up")
            .and_then(|x| x["id"].as_str()?.parse().ok())
        {
            break model::HostId(id);
        }
        assert!(Instant::now() < end, "the direct agent never Up: {h:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let median = |host: model::HostId| {
        let st = st.clone();
        async move {
            let mut t = Vec::new();
            for _ in 0..50 {
                let t0 = Instant::now();
                st.hub
                    .command(host, proto::Command::Ping, Duration::from_secs(5))
                    .await
                    .expect("ping");
                t.push(t0.elapsed());
            }
            t.sort();
            t[t.len() / 2]
        }
    };
    let through = median(ids[0]).await;
    let straight = median(direct_id).await;
    println!(
        "return proxy: agent command round trip (median of 50) through the tunnel {:.2} ms, direct {:.2} ms",
        through.as_secs_f64() * 1000.0,
        straight.as_secs_f64() * 1000.0
    );
    direct.stop().await;

    // The tunnel's ssh is killed: re-established, agents back, nobody Down.
    let cid: uuid::Uuid = cluster.parse().expect("uuid");
    let pid = st.tunnels.pid(cid).expect("the tunnel's ssh");
    let t2 = Instant::now();
    let _ = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status();
    let end = Instant::now() + Duration::from_secs(60);
    let mut saw_down = false;
    let mut states = std::collections::BTreeSet::new();
    loop {
        for h in hosts().await {
            let state = s(&h["state"]);
            saw_down |= state == "Down";
            states.insert(state);
        }
        let back = st.tunnels.pid(cid).is_some_and(|p| p != pid)
            && ids.iter().all(|h| st.hub.is_connected(*h));
        if back {
            break;
        }
        assert!(
            Instant::now() < end,
            "not back after the tunnel's loss: {states:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let recovered_after = t2.elapsed();
    assert!(!saw_down, "a host was declared Down: {states:?}");
    let events = admin
        .ok(&[("command", "listEvents"), ("type", "RETURNPROXY.UP")])
        .await;
    assert!(
        events["count"].as_u64().unwrap_or(0) >= 1,
        "the recovery is an event: {events}"
    );
    println!(
        "return proxy: tunnel Up {:.2} s after the key was authorized; 2 agents Up through it in {:.2} s; ssh killed -> tunnel and agents back in {:.2} s (host states seen: {states:?})",
        up_after.as_secs_f64(),
        joined_after.as_secs_f64(),
        recovered_after.as_secs_f64()
    );

    // Clearing the designation stops the tunnel.
    admin
        .ok(&[
            ("command", "updateCluster"),
            ("id", &cluster),
            ("returnproxyaddress", ""),
        ])
        .await;
    let end = Instant::now() + Duration::from_secs(10);
    while st.tunnels.pid(cid).is_some() {
        assert!(Instant::now() < end, "the tunnel stayed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    agents.stop().await;
    ts.stop().await;
    drop(sshd);
}
