//! Instance groups through the API (SQLite and PostgreSQL): created, listed, renamed and
//! deleted by their account; VMs join by name at deploy or update (a missing group is
//! created) and list `group`/`groupid`; `listVirtualMachines groupid=` filters; another
//! tenant neither sees nor changes them.

mod common;

use common::*;

async fn groups(c: &Client) -> Vec<String> {
    names(
        &c.ok(&[("command", "listInstanceGroups")]).await,
        "instancegroup",
        "name",
    )
}

async fn instance_groups(ts: TestServer) {
    let c = ts.admin.clone();
    let z = VmZone::new(&ts, 1).await;
    let (acct, _, a) = account_with_keys(&ts, &c, "ga", None, "0").await;
    let (_, _, b) = account_with_keys(&ts, &c, "gb", None, "0").await;
    let web = a
        .ok(&[("command", "createInstanceGroup"), ("name", "web")])
        .await["instancegroup"]
        .clone();
    assert_eq!(web["name"], "web");
    assert_eq!(web["account"], "ga");
    let web_id = s(&web["id"]);
    let e = a
        .err(&[("command", "createInstanceGroup"), ("name", "web")], 431)
        .await;
    assert!(e.contains("already exists"), "{e}");
    a.err(&[("command", "createInstanceGroup"), ("name", "  ")], 431)
        .await;
    // The same name in another account is another group.
    b.ok(&[("command", "createInstanceGroup"), ("name", "web")])
        .await;

    // VMs join by name; a new name makes a new group.
    let v1 = deploy_vm(&a, &z, "g1", &[("group", "web")]).await;
    assert_eq!(v1["group"], "web", "{v1}");
    assert_eq!(v1["groupid"], web_id.as_str(), "{v1}");
    let v2 = deploy_vm(&a, &z, "g2", &[("group", "batch")]).await;
    assert_eq!(groups(&a).await, ["batch", "web"]);
    let batch_id = s(&v2["groupid"]);
    assert!(!batch_id.is_empty(), "{v2}");
    let in_web = a
        .ok(&[("command", "listVirtualMachines"), ("groupid", &web_id)])
        .await;
    assert_eq!(names(&in_web, "virtualmachine", "name"), ["g1"]);

    // Another tenant: its own group only, nothing of a's, no changes.
    assert_eq!(groups(&b).await, ["web"]);
    let r = b
        .ok(&[("command", "listVirtualMachines"), ("groupid", &web_id)])
        .await;
    assert!(
        r["virtualmachine"]
            .as_array()
            .map(|v| v.is_empty())
            .unwrap_or(true),
        "{r}"
    );
    b.err(
        &[
            ("command", "updateInstanceGroup"),
            ("id", &web_id),
            ("name", "x"),
        ],
        531,
    )
    .await;
    b.err(&[("command", "deleteInstanceGroup"), ("id", &web_id)], 531)
        .await;
    a.err(
        &[
            ("command", "deleteInstanceGroup"),
            ("id", &uuid::Uuid::new_v4().to_string()),
        ],
        431,
    )
    .await;

    // Renamed: the VM follows; a taken name is refused.
    a.err(
        &[
            ("command", "updateInstanceGroup"),
            ("id", &web_id),
            ("name", "batch"),
        ],
        431,
    )
    .await;
    let r = a
        .ok(&[
            ("command", "updateInstanceGroup"),
            ("id", &web_id),
            ("name", "frontend"),
        ])
        .await;
    assert_eq!(r["instancegroup"]["name"], "frontend");
    let v = vm_view(&a, &s(&v1["id"])).await;
    assert_eq!(
        (v["group"].clone(), v["groupid"].clone()),
        ("frontend".into(), web_id.clone().into())
    );

    // updateVirtualMachine: leave with an empty name, join another (created when missing).
    a.ok(&[
        ("command", "updateVirtualMachine"),
        ("id", &s(&v1["id"])),
        ("group", ""),
    ])
    .await;
    let v = vm_view(&a, &s(&v1["id"])).await;
    assert!(v.get("group").is_none() || v["group"].is_null(), "{v}");
    a.ok(&[
        ("command", "updateVirtualMachine"),
        ("id", &s(&v1["id"])),
        ("group", "db"),
    ])
    .await;
    assert_eq!(groups(&a).await, ["batch", "db", "frontend"]);

    // Deleted: its VMs leave it.
    a.ok(&[("command", "deleteInstanceGroup"), ("id", &batch_id)])
        .await;
    let v = vm_view(&a, &s(&v2["id"])).await;
    assert!(v.get("group").is_none() || v["group"].is_null(), "{v}");
    assert_eq!(groups(&a).await, ["db", "frontend"]);

    // An admin creates one for an account; lists them all with listall.
    let dom =
        s(&c.ok(&[("command", "listAccounts"), ("id", &acct)]).await["account"][0]["domainid"]);
    c.ok(&[
        ("command", "createInstanceGroup"),
        ("name", "ops"),
        ("account", "ga"),
        ("domainid", &dom),
    ])
    .await;
    assert_eq!(groups(&a).await, ["db", "frontend", "ops"]);
    let all = c
        .ok(&[("command", "listInstanceGroups"), ("listall", "true")])
        .await;
    assert_eq!(all["count"], 4, "{all}");
    ts.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn instance_groups_gather_an_accounts_vms() {
    instance_groups(TestServer::start().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn instance_groups_gather_an_accounts_vms_postgres() {
    let Some(pg) = testkit::Postgres::start_for_test() else {
        return;
    };
    instance_groups(TestServer::start_with(Some(pg.fresh_database().expect("db"))).await).await;
}
