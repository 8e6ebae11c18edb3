//! createConsoleEndpoint and the console websocket's checks (the RFB stream itself is tested
//! with real QEMU hosts in scripts/real-hosts.sh).

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn console_endpoints_are_for_running_vms_their_users_may_use() {
    let ts = TestServer::start().await;
    let z = VmZone::new(&ts, 1).await;
    let c = ts.admin.clone();
    let vm = deploy_vm(&c, &z, "con1", &[]).await;
    let id = vm["id"].as_str().expect("id").to_string();

    let r = c
        .ok(&[
            ("command", "createConsoleEndpoint"),
            ("virtualmachineid", &id),
        ])
        .await;
    let e = &r["consoleendpoint"];
    assert_eq!(e["success"], true, "{r}");
    let url = e["url"].as_str().expect("url");
    assert!(
        url.starts_with("http://") && url.contains("/client/console.html?token="),
        "{url}"
    );
    assert_eq!(e["websocket"]["path"], "/client/console");
    let token = e["websocket"]["token"].as_str().expect("token").to_string();

    // Another account's user may not open this VM's console: CloudStack answers with
    // success=false and "Permission denied" (and no token).
    let (_, _, other) = account_with_keys(&ts, &c, "conuser", None, "0").await;
    let denied = other
        .ok(&[
            ("command", "createConsoleEndpoint"),
            ("virtualmachineid", &id),
        ])
        .await;
    assert_eq!(
        denied,
        serde_json::json!({"consoleendpoint": {"success": false, "details": "Permission denied"}})
    );
    other
        .err(&[("command", "createConsoleEndpoint")], 431)
        .await;

    // The websocket: a bad token is refused, a good one needs the upgrade.
    let console = ts.base.replace("/client/api", "/client/console");
    let http = reqwest::Client::new();
    let r = http
        .get(format!("{console}?token=garbage"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 401);
    let r = http
        .get(format!("{console}?token={token}"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 426, "a plain GET is told to upgrade");

    // A stopped VM has no console.
    let j = c
        .job(&[("command", "stopVirtualMachine"), ("id", &id)])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let r = c
        .ok(&[
            ("command", "createConsoleEndpoint"),
            ("virtualmachineid", &id),
        ])
        .await;
    assert_eq!(r["consoleendpoint"]["success"], false, "{r}");
    assert!(
        r["consoleendpoint"]["details"]
            .as_str()
            .unwrap_or("")
            .contains("Stopped"),
        "{r}"
    );
    let r = http
        .get(format!("{console}?token={token}"))
        .send()
        .await
        .expect("send");
    assert_eq!(
        r.status().as_u16(),
        409,
        "the token's VM is no longer running"
    );
    ts.stop().await;
}
