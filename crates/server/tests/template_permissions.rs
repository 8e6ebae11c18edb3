//! Template permissions: a private template shared with named accounts of its owner's domain
//! is listed (templatefilter=shared, sharedexecutable, executable) and deployable by them, not
//! by others; removal and reset take it back; only the owner (or an admin over it) changes or
//! lists the permissions.

mod common;

use common::*;

async fn visible(c: &Client, filter: &str, t: &str) -> bool {
    let r = c
        .ok(&[
            ("command", "listTemplates"),
            ("templatefilter", filter),
            ("id", t),
        ])
        .await;
    r["count"].as_u64().unwrap_or(0) > 0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_private_template_is_shared_with_named_accounts() {
    let ts = TestServer::start().await;
    let c = ts.admin.clone();
    let z = VmZone::new(&ts, 1).await;
    let (_, _, owner) = account_with_keys(&ts, &c, "towner", None, "0").await;
    let (_, _, friend) = account_with_keys(&ts, &c, "tfriend", None, "0").await;
    let (_, _, stranger) = account_with_keys(&ts, &c, "tstranger", None, "0").await;
    // A private template of `owner`: made public=false from the zone's public one's file.
    let img = ts.staging().join("private.qcow2");
    let mut b = b"QFI\xfb".to_vec();
    b.resize(64 * 1024, 7);
    std::fs::write(&img, b).expect("image");
    // Registered by the admin for the owner (file:// is for root admins).
    let t = s(&c
        .ok(&[
            ("command", "registerTemplate"),
            ("name", "private"),
            ("displaytext", "private"),
            ("url", &format!("file://{}", img.display())),
            ("format", "QCOW2"),
            ("hypervisor", "Simulator"),
            ("zoneid", &z.zone),
            ("ispublic", "false"),
            ("account", "towner"),
            (
                "domainid",
                &s(&c
                    .ok(&[
                        ("command", "listAccounts"),
                        ("listall", "true"),
                        ("name", "towner"),
                    ])
                    .await["account"][0]["domainid"]),
            ),
            ("ostypeid", "4e3f2c1a-7b6d-4e5f-8a9b-000000000001"),
        ])
        .await["template"][0]["id"]);
    for _ in 0..200 {
        if visible(&owner, "selfexecutable", &t).await {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        visible(&owner, "selfexecutable", &t).await,
        "the template is ready"
    );
    assert!(!visible(&friend, "executable", &t).await);
    let deploy = |c: Client| {
        let (zone, t, o) = (z.zone.clone(), t.clone(), z.offering.clone());
        async move {
            c.call(&[
                ("command", "deployVirtualMachine"),
                ("zoneid", &zone),
                ("templateid", &t),
                ("serviceofferingid", &o),
            ])
            .await
        }
    };
    let r = deploy(friend.clone()).await;
    assert_eq!(r.status, 431, "{}", r.text);

    // Refusals: op missing, an unknown account, another account changing it.
    owner
        .err(
            &[
                ("command", "updateTemplatePermissions"),
                ("id", &t),
                ("accounts", "tfriend"),
            ],
            431,
        )
        .await;
    owner
        .err(
            &[
                ("command", "updateTemplatePermissions"),
                ("id", &t),
                ("accounts", "nobody"),
                ("op", "add"),
            ],
            431,
        )
        .await;
    let r = stranger
        .call(&[
            ("command", "updateTemplatePermissions"),
            ("id", &t),
            ("accounts", "tstranger"),
            ("op", "add"),
        ])
        .await;
    assert!([431, 531].contains(&r.status), "{}", r.text);

    // Shared with the friend: listed as shared, deployable; not for the stranger.
    owner
        .ok(&[
            ("command", "updateTemplatePermissions"),
            ("id", &t),
            ("accounts", "tfriend"),
            ("op", "add"),
        ])
        .await;
    let p = owner
        .ok(&[("command", "listTemplatePermissions"), ("id", &t)])
        .await;
    assert_eq!(
        p["templatepermission"]["account"],
        serde_json::json!(["tfriend"]),
        "{p}"
    );
    assert!(visible(&friend, "shared", &t).await);
    assert!(visible(&friend, "sharedexecutable", &t).await);
    assert!(visible(&friend, "executable", &t).await);
    assert!(!visible(&stranger, "executable", &t).await);
    let r = deploy(friend.clone()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = deploy(stranger.clone()).await;
    assert_eq!(r.status, 431, "{}", r.text);
    stranger
        .err(&[("command", "listTemplatePermissions"), ("id", &t)], 531)
        .await;

    // Removed, then re-added and reset: gone again.
    owner
        .ok(&[
            ("command", "updateTemplatePermissions"),
            ("id", &t),
            ("accounts", "tfriend"),
            ("op", "remove"),
        ])
        .await;
    assert!(!visible(&friend, "shared", &t).await);
    owner
        .ok(&[
            ("command", "updateTemplatePermissions"),
            ("id", &t),
            ("accounts", "tfriend"),
            ("op", "add"),
        ])
        .await;
    owner
        .ok(&[
            ("command", "updateTemplatePermissions"),
            ("id", &t),
            ("op", "reset"),
        ])
        .await;
    assert!(!visible(&friend, "shared", &t).await);
    // ispublic through the same command.
    owner
        .ok(&[
            ("command", "updateTemplatePermissions"),
            ("id", &t),
            ("ispublic", "true"),
        ])
        .await;
    assert!(visible(&stranger, "executable", &t).await);
    ts.stop().await;
}
