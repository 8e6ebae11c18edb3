//! Resource limits: defaults from the max.account.* / max.domain.* settings, explicit limits
//! on accounts and domains, the caps between them, and who may change what.

mod common;

use common::*;
use serde_json::Value;

/// (resourcetypename, max) of a listResourceLimits answer.
fn limits(v: &Value) -> Vec<(String, i64)> {
    v["resourcelimit"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|l| {
                    (
                        l["resourcetypename"].as_str().expect("name").to_string(),
                        l["max"].as_i64().expect("max"),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn max_of(v: &Value, name: &str) -> i64 {
    limits(v)
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("{name} missing from {v}"))
        .1
}

#[tokio::test]
async fn defaults_updates_caps_and_permissions() {
    let ts = TestServer::start().await;
    let admin = &ts.admin;
    let dom = create_domain(admin, "tenants", None).await;
    let sub = create_domain(admin, "team", Some(&dom)).await;
    let (_, _, alice) = account_with_keys(&ts, admin, "alice", Some(&dom), "0").await;
    let (_, _, da) = account_with_keys(&ts, admin, "tenantadmin", Some(&dom), "2").await;

    // A user sees its own account's twelve limits, from the settings' defaults.
    let l = alice.ok(&[("command", "listResourceLimits")]).await;
    assert_eq!(l["count"], 12);
    assert_eq!(l["resourcelimit"][0]["resourcetype"], "0");
    assert_eq!(l["resourcelimit"][0]["account"], "alice");
    assert_eq!(l["resourcelimit"][0]["domainid"], dom.as_str());
    assert_eq!(max_of(&l, "user_vm"), 20);
    assert_eq!(max_of(&l, "memory"), 40960);
    let one = alice
        .ok(&[("command", "listResourceLimits"), ("resourcetype", "8")])
        .await;
    assert_eq!(limits(&one), [("cpu".to_string(), 40)]);
    let one = alice
        .ok(&[
            ("command", "listResourceLimits"),
            ("resourcetypename", "primary_storage"),
        ])
        .await;
    assert_eq!(limits(&one), [("primary_storage".to_string(), 200)]);
    alice
        .err(
            &[("command", "listResourceLimits"), ("resourcetype", "12")],
            431,
        )
        .await;
    // Root admin accounts and the ROOT domain are unlimited.
    let l = admin.ok(&[("command", "listResourceLimits")]).await;
    assert!(limits(&l).iter().all(|(_, m)| *m == -1), "{l}");
    // Changing the default setting changes accounts without their own limit.
    admin
        .ok(&[
            ("command", "updateConfiguration"),
            ("name", "max.account.user.vms"),
            ("value", "25"),
        ])
        .await;
    let l = alice
        .ok(&[("command", "listResourceLimits"), ("resourcetype", "0")])
        .await;
    assert_eq!(max_of(&l, "user_vm"), 25);

    // Domain limits: settable below ROOT, inherited by subdomains without their own.
    let e = admin
        .err(
            &[
                ("command", "updateResourceLimit"),
                ("resourcetype", "0"),
                ("max", "10"),
                ("domainid", &root_domain(admin).await),
            ],
            431,
        )
        .await;
    assert!(e.contains("ROOT"), "{e}");
    let r = admin
        .ok(&[
            ("command", "updateResourceLimit"),
            ("resourcetype", "0"),
            ("max", "30"),
            ("domainid", &dom),
        ])
        .await;
    assert_eq!(r["resourcelimit"]["max"], 30);
    assert!(r["resourcelimit"].get("account").is_none());
    let l = admin
        .ok(&[
            ("command", "listResourceLimits"),
            ("domainid", &sub),
            ("resourcetype", "0"),
        ])
        .await;
    assert_eq!(max_of(&l, "user_vm"), 30);
    // A subdomain cannot exceed its parent, nor be unlimited under a limited parent.
    for bad in ["31", "-1"] {
        let e = admin
            .err(
                &[
                    ("command", "updateResourceLimit"),
                    ("resourcetype", "0"),
                    ("max", bad),
                    ("domainid", &sub),
                ],
                431,
            )
            .await;
        assert!(e.contains("less than or equal to 30"), "{e}");
    }
    // Accounts: capped by their domain; -1 is refused under a limited domain.
    let e = admin
        .err(
            &[
                ("command", "updateResourceLimit"),
                ("resourcetype", "0"),
                ("max", "50"),
                ("account", "alice"),
                ("domainid", &dom),
            ],
            431,
        )
        .await;
    assert!(e.contains("cannot exceed"), "{e}");
    admin
        .err(
            &[
                ("command", "updateResourceLimit"),
                ("resourcetype", "0"),
                ("max", "-2"),
                ("account", "alice"),
                ("domainid", &dom),
            ],
            431,
        )
        .await;
    // The domain admin manages its users' limits, not its own nor its own domain's.
    let r = da
        .ok(&[
            ("command", "updateResourceLimit"),
            ("resourcetype", "9"),
            ("max", "2048"),
            ("account", "alice"),
            ("domainid", &dom),
        ])
        .await;
    assert_eq!(r["resourcelimit"]["account"], "alice");
    assert_eq!(r["resourcelimit"]["resourcetypename"], "memory");
    let l = alice
        .ok(&[("command", "listResourceLimits"), ("resourcetype", "9")])
        .await;
    assert_eq!(max_of(&l, "memory"), 2048);
    da.err(
        &[
            ("command", "updateResourceLimit"),
            ("resourcetype", "9"),
            ("max", "1"),
            ("account", "tenantadmin"),
            ("domainid", &dom),
        ],
        531,
    )
    .await;
    da.err(
        &[
            ("command", "updateResourceLimit"),
            ("resourcetype", "9"),
            ("max", "1"),
            ("domainid", &dom),
        ],
        531,
    )
    .await;
    da.ok(&[
        ("command", "updateResourceLimit"),
        ("resourcetype", "9"),
        ("max", "4096"),
        ("domainid", &sub),
    ])
    .await;
    // Users may not change limits at all, nor see other accounts'.
    alice
        .err(
            &[
                ("command", "updateResourceLimit"),
                ("resourcetype", "0"),
                ("max", "1"),
            ],
            401,
        )
        .await;
    alice
        .err(
            &[
                ("command", "listResourceLimits"),
                ("account", "tenantadmin"),
                ("domainid", &dom),
            ],
            531,
        )
        .await;
    // Neither account nor domain.
    admin
        .err(
            &[("command", "updateResourceLimit"), ("resourcetype", "0")],
            431,
        )
        .await;
    // Limits survive a restart.
    let ts = ts.restart().await;
    let l = ts
        .admin
        .ok(&[
            ("command", "listResourceLimits"),
            ("account", "alice"),
            ("domainid", &dom),
            ("resourcetype", "9"),
        ])
        .await;
    assert_eq!(max_of(&l, "memory"), 2048);
    ts.stop().await;
}

async fn root_domain(c: &Client) -> String {
    let d = c.ok(&[("command", "listDomains"), ("name", "ROOT")]).await;
    d["domain"][0]["id"].as_str().expect("root id").to_string()
}

#[tokio::test]
async fn hypervisor_capabilities_list_and_update() {
    let ts = TestServer::start().await;
    let admin = &ts.admin;
    let r = ts
        .admin
        .call(&[("command", "listHypervisorCapabilities")])
        .await;
    // The item key is camelCase, as CloudStack's.
    let body = r.json();
    let list = &body["listhypervisorcapabilitiesresponse"];
    assert_eq!(list["count"], 2, "{body}");
    let kvm = list["hypervisorCapabilities"]
        .as_array()
        .expect("items")
        .iter()
        .find(|x| x["hypervisor"] == "KVM")
        .expect("KVM row")
        .clone();
    assert_eq!(kvm["hypervisorversion"], "default");
    assert_eq!(kvm["maxguestslimit"], 50);
    let id = kvm["id"].as_str().expect("id").to_string();
    let only = admin
        .ok(&[
            ("command", "listHypervisorCapabilities"),
            ("hypervisor", "simulator"),
        ])
        .await;
    assert_eq!(only["count"], 1);
    assert_eq!(only["hypervisorCapabilities"][0]["hypervisor"], "Simulator");

    let u = admin
        .ok(&[
            ("command", "updateHypervisorCapabilities"),
            ("id", &id),
            ("maxguestslimit", "3"),
            ("vmsnapshotenabled", "false"),
        ])
        .await;
    assert_eq!(u["hypervisorCapabilities"]["maxguestslimit"], 3);
    assert_eq!(u["hypervisorCapabilities"]["vmsnapshotenabled"], false);
    assert_eq!(u["hypervisorCapabilities"]["maxdatavolumeslimit"], 24);
    admin
        .err(
            &[
                ("command", "updateHypervisorCapabilities"),
                ("id", &id),
                ("maxguestslimit", "-1"),
            ],
            431,
        )
        .await;
    admin
        .err(
            &[
                ("command", "updateHypervisorCapabilities"),
                ("id", "00000000-0000-4000-8000-000000000000"),
            ],
            431,
        )
        .await;
    let (_, _, user) = account_with_keys(&ts, admin, "carol", None, "0").await;
    user.err(&[("command", "listHypervisorCapabilities")], 401)
        .await;
    let ts = ts.restart().await;
    let l = ts
        .admin
        .ok(&[("command", "listHypervisorCapabilities"), ("id", &id)])
        .await;
    assert_eq!(l["hypervisorCapabilities"][0]["maxguestslimit"], 3);
    ts.stop().await;
}
