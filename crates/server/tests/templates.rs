//! Templates and ISOs: registration from file:// and http:// into the image store, checksum
//! and format checks with clear failures, listings per filter and caller, update, delete.

mod common;

use std::time::Duration;

use common::*;
use serde_json::Value;
use sha2::Digest;

fn qcow2_bytes() -> Vec<u8> {
    let mut b = b"QFI\xfb".to_vec();
    b.resize(256 * 1024, 7);
    b
}

fn call(v: &[(String, String)]) -> Vec<(&str, &str)> {
    v.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect()
}

fn iso_bytes() -> Vec<u8> {
    let mut b = vec![0u8; 40 * 1024];
    b[32769..32774].copy_from_slice(b"CD001");
    b
}

async fn wait_template(c: &Client, id: &str, filter: &str) -> Value {
    let mut last = Value::Null;
    for _ in 0..200 {
        let r = c
            .ok(&[
                ("command", "listTemplates"),
                ("templatefilter", filter),
                ("id", id),
            ])
            .await;
        last = r["template"][0].clone();
        let st = last["status"].as_str().unwrap_or("");
        if last["isready"] == true || (!st.contains("Download") && !st.is_empty()) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("template {id} did not finish: {last}");
}

/// Serves one file over plain HTTP on loopback (for http:// registration).
async fn http_server(body: Vec<u8>) -> (String, tokio::task::JoinHandle<()>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = l.local_addr().expect("addr");
    let h = tokio::spawn(async move {
        for _ in 0..4 {
            let Ok((mut s, _)) = l.accept().await else {
                return;
            };
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf).await;
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n", body.len());
            let _ = s.write_all(head.as_bytes()).await;
            let _ = s.write_all(&body).await;
        }
    });
    (format!("http://{addr}/images/tiny.qcow2"), h)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn register_download_check_list_and_delete() {
    let ts = TestServer::start().await;
    let st = ts.server.as_ref().expect("running").state.clone();
    let z = server::up::ensure_zone(
        &st,
        ts.dir.path(),
        server::up::HostChoice::Simulator,
        &server::up::NoLocalAgent,
    )
    .await
    .map_err(|e| e.into_api())
    .expect("zone");
    let c = ts.admin.clone();
    let files = ts.staging();
    let img = files.as_path().join("tiny.qcow2");
    std::fs::write(&img, qcow2_bytes()).expect("write");
    let sha = sha2::Sha256::digest(qcow2_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>();
    let os = c
        .ok(&[
            ("command", "listOsTypes"),
            ("description", "Debian GNU/Linux 12 (64-bit)"),
        ])
        .await["ostype"][0]["id"]
        .as_str()
        .expect("os")
        .to_string();
    assert_eq!(
        c.ok(&[("command", "listOsCategories"), ("name", "Debian")])
            .await["count"],
        1
    );

    // Parameter checks.
    let file_url = format!("file://{}", img.display());
    let base = |name: &'static str,
                url: &str,
                format: &'static str,
                checksum: &str|
     -> Vec<(String, String)> {
        let mut v = vec![
            ("command", "registerTemplate"),
            ("name", name),
            ("displaytext", name),
            ("format", format),
            ("hypervisor", "KVM"),
            ("ostypeid", os.as_str()),
            ("zoneid", z.zone_id.as_str()),
            ("ispublic", "true"),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect::<Vec<_>>();
        v.push(("url".into(), url.to_string()));
        if !checksum.is_empty() {
            v.push(("checksum".into(), checksum.to_string()));
        }
        v
    };
    c.err(&call(&base("x", "ftp://host/x", "QCOW2", "")), 431)
        .await;
    c.err(&call(&base("x", &file_url, "VHD", "")), 431).await;
    // For the simulator, VHD is taken (as CloudStack's simulator takes it).
    let mut vhd = base("vhd-sim", &file_url, "VHD", "");
    for (k, v) in vhd.iter_mut() {
        if k == "hypervisor" {
            *v = "Simulator".into();
        }
    }
    let r = c.ok(&call(&vhd)).await;
    assert_eq!(r["template"][0]["format"], "VHD", "{r}");
    let id = r["template"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let j = c.job(&[("command", "deleteTemplate"), ("id", &id)]).await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    c.err(&call(&base("x", &file_url, "QCOW2", "nothex")), 431)
        .await;

    // file:// with the right sha256: ready, with size; the file is in the image store.
    let r = c
        .ok(&call(&base(
            "good",
            &file_url,
            "QCOW2",
            &format!("{{SHA-256}}{sha}"),
        )))
        .await;
    assert_eq!(
        (r["count"].as_u64(), r["template"][0]["isready"].as_bool()),
        (Some(1), Some(false))
    );
    let good = r["template"][0]["id"].as_str().expect("id").to_string();
    let t = wait_template(&c, &good, "self").await;
    assert_eq!(
        (
            t["isready"].as_bool(),
            t["status"].as_str(),
            t["size"].as_u64(),
            t["ostypename"].as_str()
        ),
        (
            Some(true),
            Some("Download Complete"),
            Some(256 * 1024),
            Some("Debian GNU/Linux 12 (64-bit)")
        ),
        "{t}"
    );
    let stored = ts
        .dir
        .path()
        .join("secondary")
        .join("template")
        .join(&good)
        .join(format!("{good}.qcow2"));
    assert_eq!(std::fs::read(&stored).expect("stored image"), qcow2_bytes());

    // Failures are clear: wrong checksum, wrong format, missing file.
    let bad = c
        .ok(&call(&base("badsum", &file_url, "QCOW2", &"0".repeat(32))))
        .await["template"][0]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let t = wait_template(&c, &bad, "self").await;
    assert_eq!(t["isready"], false);
    assert!(
        t["status"]
            .as_str()
            .unwrap_or("")
            .starts_with("Checksum mismatch: expected md5 00000000000000000000000000000000, got "),
        "{t}"
    );
    let raw = files.as_path().join("raw.img");
    std::fs::write(&raw, vec![0u8; 4096]).expect("write");
    let notq = c
        .ok(&call(&base(
            "notqcow",
            &format!("file://{}", raw.display()),
            "QCOW2",
            "",
        )))
        .await["template"][0]["id"]
        .as_str()
        .expect("id")
        .to_string();
    assert!(wait_template(&c, &notq, "self").await["status"]
        .as_str()
        .unwrap_or("")
        .contains("not a QCOW2 image"));
    // A file that is not there, outside the staging directories, a directory, a symlink
    // out of staging, the server's own key: one answer that reveals nothing about the path.
    std::fs::create_dir_all(files.join("subdir")).expect("mkdir");
    std::os::unix::fs::symlink(ts.dir.path().join("server.key"), files.join("key.qcow2"))
        .expect("symlink");
    for url in [
        "file:///no/such/file.qcow2".to_string(),
        "file:///etc/passwd".to_string(),
        format!("file://{}", ts.dir.path().join("server.key").display()),
        format!("file://{}", files.join("subdir").display()),
        format!("file://{}", files.join("key.qcow2").display()),
        format!("file://{}/../server.key", files.display()),
    ] {
        let e = c.err(&call(&base("missing", &url, "QCOW2", "")), 431).await;
        assert_eq!(e, server::sources::FILE_REFUSED, "{url}");
    }

    // http:// from a loopback server.
    let (url, server) = http_server(qcow2_bytes()).await;
    let web = c.ok(&call(&base("web", &url, "QCOW2", &sha))).await["template"][0]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let t = wait_template(&c, &web, "self").await;
    assert_eq!(
        (t["isready"].as_bool(), t["size"].as_u64()),
        (Some(true), Some(256 * 1024)),
        "{t}"
    );
    server.abort();

    // https: the server's certificate must chain to a public root; a self-signed one fails
    // the download with a clear status.
    let certdir = tempfile::tempdir().expect("tmp");
    let tls = server::agent_tls::load_or_create(certdir.path()).expect("cert");
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let https_url = format!(
        "https://127.0.0.1:{}/tiny.qcow2",
        l.local_addr().expect("addr").port()
    );
    let acceptor = tls.acceptor.clone();
    let tls_server = tokio::spawn(async move {
        if let Ok((s, _)) = l.accept().await {
            let _ = acceptor.accept(s).await;
        }
    });
    let https = c.ok(&call(&base("secure", &https_url, "QCOW2", ""))).await["template"][0]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let t = wait_template(&c, &https, "self").await;
    let status = t["status"].as_str().unwrap_or("").to_lowercase();
    assert!(
        t["isready"] == false && (status.contains("certificate") || status.contains("issuer")),
        "{t}"
    );
    tls_server.abort();

    // Filters as seen by another account: public ready templates are executable for it.
    let (_, _, user) = account_with_keys(&ts, &c, "tpluser", None, "0").await;
    let exec = user
        .ok(&[
            ("command", "listTemplates"),
            ("templatefilter", "executable"),
        ])
        .await;
    let names: Vec<&str> = exec["template"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| t["name"].as_str())
                .filter(|n| *n != server::up::BUILTIN_TEMPLATE)
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        names,
        vec!["good", "web"],
        "ready public templates only (besides the built-in one)"
    );
    assert_eq!(
        user.ok(&[("command", "listTemplates"), ("templatefilter", "self")])
            .await,
        serde_json::json!({})
    );
    // Only the built-in template (when built) is featured.
    let featured = user
        .ok(&[("command", "listTemplates"), ("templatefilter", "featured")])
        .await;
    assert!(
        featured["template"]
            .as_array()
            .map(|a| a.iter().all(|t| t["name"] == server::up::BUILTIN_TEMPLATE))
            .unwrap_or(true),
        "{featured}"
    );
    assert_eq!(
        user.ok(&[
            ("command", "listTemplates"),
            ("templatefilter", "community")
        ])
        .await["count"]
            .as_u64(),
        Some(5)
    );
    user.err(
        &[("command", "listTemplates"), ("templatefilter", "all")],
        531,
    )
    .await;
    user.err(
        &[
            ("command", "updateTemplate"),
            ("id", &good),
            ("name", "mine"),
        ],
        531,
    )
    .await;
    c.err(
        &[("command", "listTemplates"), ("templatefilter", "bogus")],
        431,
    )
    .await;
    // Users may not read the server's files, even in staging, nor make it fetch from its
    // own (loopback) addresses — until the operator allows that range.
    let up = files.as_path().join("user.qcow2");
    std::fs::write(&up, qcow2_bytes()).expect("write");
    let user_reg = |url: String| {
        vec![
            ("command".to_string(), "registerTemplate".to_string()),
            ("name".into(), "private".into()),
            ("format".into(), "QCOW2".into()),
            ("hypervisor".into(), "KVM".into()),
            ("url".into(), url),
            ("zoneid".into(), z.zone_id.clone()),
        ]
    };
    for url in [
        format!("file://{}", up.display()),
        "file:///etc/passwd".to_string(),
        format!("file://{}", ts.dir.path().join("server.key").display()),
    ] {
        let e = user.err(&call(&user_reg(url.clone())), 431).await;
        assert_eq!(e, server::sources::FILE_REFUSED, "{url}");
    }
    let (url, server) = http_server(qcow2_bytes()).await;
    for internal in [
        url.clone(),
        url.replace("127.0.0.1", "localhost"),
        "http://169.254.169.254/latest/meta-data".to_string(),
        "http://[::1]/x.qcow2".to_string(),
    ] {
        let e = user.err(&call(&user_reg(internal.clone())), 431).await;
        assert!(e.contains("internal address"), "{internal}: {e}");
    }
    c.ok(&[
        ("command", "updateConfiguration"),
        ("name", "secstorage.allowed.internal.download.sites"),
        ("value", "127.0.0.0/8"),
    ])
    .await;
    let mine = user.ok(&call(&user_reg(url))).await["template"][0]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let t = wait_template(&user, &mine, "self").await;
    assert_eq!(t["isready"], true, "{t}");
    server.abort();
    // Users never see a server path: the built-in and staged templates have no url for them.
    let all = user
        .ok(&[
            ("command", "listTemplates"),
            ("templatefilter", "executable"),
        ])
        .await;
    for t in all["template"].as_array().cloned().unwrap_or_default() {
        assert!(!t["url"].as_str().unwrap_or("").starts_with("file:"), "{t}");
    }
    let (_, _, other) = account_with_keys(&ts, &c, "tplother", None, "0").await;
    let seen = other
        .ok(&[
            ("command", "listTemplates"),
            ("templatefilter", "executable"),
        ])
        .await;
    assert!(!seen["template"]
        .as_array()
        .map(|a| a.iter().any(|t| t["id"] == mine.as_str()))
        .unwrap_or(false));

    // ISOs.
    let iso = files.as_path().join("boot.iso");
    std::fs::write(&iso, iso_bytes()).expect("write");
    c.err(
        &[
            ("command", "registerIso"),
            ("name", "noos"),
            ("url", &format!("file://{}", iso.display())),
            ("zoneid", &z.zone_id),
        ],
        431,
    )
    .await;
    let i = c
        .ok(&[
            ("command", "registerIso"),
            ("name", "boot"),
            ("url", &format!("file://{}", iso.display())),
            ("zoneid", "-1"),
            ("ostypeid", &os),
        ])
        .await;
    assert_eq!(
        (i["count"].as_u64(), i["iso"][0]["crossZones"].as_bool()),
        (Some(1), Some(true))
    );
    let iso_id = i["iso"][0]["id"].as_str().expect("id").to_string();
    let mut ready = false;
    for _ in 0..100 {
        let l = c.ok(&[("command", "listIsos"), ("id", &iso_id)]).await;
        if l["iso"][0]["isready"] == true {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ready, "ISO downloaded and checked");
    assert_eq!(
        c.ok(&[
            ("command", "listTemplates"),
            ("templatefilter", "all"),
            ("id", &iso_id)
        ])
        .await,
        serde_json::json!({}),
        "ISOs are not templates"
    );

    // Update and delete.
    let u = c
        .ok(&[
            ("command", "updateTemplate"),
            ("id", &good),
            ("name", "golden"),
            ("passwordenabled", "true"),
        ])
        .await;
    assert_eq!(
        (
            u["template"]["name"].as_str(),
            u["template"]["passwordenabled"].as_bool()
        ),
        (Some("golden"), Some(true))
    );
    let j = c.job(&[("command", "deleteTemplate"), ("id", &good)]).await;
    assert_eq!(j["jobstatus"], 1);
    assert!(!stored.exists(), "the image file is removed");
    assert_eq!(
        c.ok(&[
            ("command", "listTemplates"),
            ("templatefilter", "all"),
            ("id", &good)
        ])
        .await,
        serde_json::json!({})
    );
    assert_eq!(
        c.job(&[("command", "deleteIso"), ("id", &iso_id)]).await["jobstatus"],
        1
    );
    drop(st);
    ts.stop().await;
}
