//! Dynamic roles through the API (SQLite and PostgreSQL): a custom role's rules — the first
//! matching pattern decides, `*` wildcards, allow/deny, order — are enforced on every call of
//! its accounts and reflected in `listApis`; with no matching rule the command's default for
//! the role's type applies. Role and rule management: clone, import, update, delete, the
//! refusals, and who may see what.

mod common;

use common::*;
use serde_json::Value;

/// An account of `role` with API keys.
async fn member(ts: &TestServer, c: &Client, name: &str, role: &str) -> Client {
    let a = c
        .ok(&[
            ("command", "createAccount"),
            ("username", name),
            ("password", "pw-123"),
            ("email", "x@example.org"),
            ("firstname", "F"),
            ("lastname", "L"),
            ("roleid", role),
        ])
        .await;
    let user = s(&a["account"]["user"][0]["id"]);
    let keys = c
        .ok(&[("command", "registerUserKeys"), ("id", &user)])
        .await;
    ts.client(
        &s(&keys["userkeys"]["apikey"]),
        &s(&keys["userkeys"]["secretkey"]),
    )
}

async fn rule(c: &Client, role: &str, rule: &str, perm: &str) -> String {
    s(&c.ok(&[
        ("command", "createRolePermission"),
        ("roleid", role),
        ("rule", rule),
        ("permission", perm),
    ])
    .await["rolepermission"]["id"])
}

async fn apis(c: &Client) -> Vec<String> {
    names(&c.ok(&[("command", "listApis")]).await, "api", "name")
}

async fn roles(ts: TestServer) {
    let c = ts.admin.clone();
    let z = VmZone::new(&ts, 1).await;
    // Refusals of role management.
    c.err(&[("command", "createRole"), ("name", "x")], 431)
        .await;
    c.err(
        &[("command", "createRole"), ("name", "x"), ("type", "Wizard")],
        431,
    )
    .await;
    c.err(
        &[
            ("command", "createRole"),
            ("name", "User"),
            ("type", "User"),
        ],
        431,
    )
    .await;
    let role = s(&c
        .ok(&[
            ("command", "createRole"),
            ("name", "operator"),
            ("type", "User"),
            ("description", "no destroying"),
        ])
        .await["role"]["id"]);
    for (r, p) in [("list-VMs", "allow"), ("list*", "maybe"), ("", "allow")] {
        c.err(
            &[
                ("command", "createRolePermission"),
                ("roleid", &role),
                ("rule", r),
                ("permission", p),
            ],
            431,
        )
        .await;
    }
    let deny_destroy = rule(&c, &role, "destroyVirtualMachine", "deny").await;
    let allow_list = rule(&c, &role, "list*", "allow").await;
    let allow_deploy = rule(&c, &role, "deployVirtualMachine", "allow").await;
    let allow_job = rule(&c, &role, "queryAsyncJobResult", "allow").await;
    let deny_all = rule(&c, &role, "*", "deny").await;
    c.err(
        &[
            ("command", "createRolePermission"),
            ("roleid", &role),
            ("rule", "list*"),
            ("permission", "deny"),
        ],
        431,
    )
    .await;
    let listed = c
        .ok(&[("command", "listRolePermissions"), ("roleid", &role)])
        .await;
    let order: Vec<String> = listed["rolepermission"]
        .as_array()
        .expect("rules")
        .iter()
        .map(|p| s(&p["rule"]))
        .collect();
    assert_eq!(
        order,
        [
            "destroyVirtualMachine",
            "list*",
            "deployVirtualMachine",
            "queryAsyncJobResult",
            "*"
        ]
    );

    // The role's account: allowed, denied, and what listApis says.
    let op = member(&ts, &c, "op", &role).await;
    op.ok(&[("command", "listZones")]).await;
    let vm = s(&deploy_vm(&op, &z, "op-vm", &[]).await["id"]);
    let e = op
        .err(&[("command", "destroyVirtualMachine"), ("id", &vm)], 401)
        .await;
    assert!(e.contains("destroyVirtualMachine"), "{e}");
    // Not named, caught by the closing "*" deny, though a User may by default.
    op.err(
        &[
            ("command", "createVolume"),
            ("name", "v"),
            ("zoneid", &z.zone),
        ],
        401,
    )
    .await;
    let a = apis(&op).await;
    for yes in [
        "listZones",
        "listApis",
        "deployVirtualMachine",
        "queryAsyncJobResult",
    ] {
        assert!(a.contains(&yes.to_string()), "{yes} in {a:?}");
    }
    for no in ["destroyVirtualMachine", "createVolume", "createZone"] {
        assert!(!a.contains(&no.to_string()), "{no} not in {a:?}");
    }
    // "list*" allows an admin's list too: the role's rules decide (the handler still scopes).
    assert!(a.contains(&"listHosts".to_string()));

    // Order: an allow placed before the deny wins; the ids must all be given.
    let allow_destroy = rule(&c, &role, "destroy*", "allow").await;
    op.err(&[("command", "destroyVirtualMachine"), ("id", &vm)], 401)
        .await;
    c.err(
        &[
            ("command", "updateRolePermission"),
            ("roleid", &role),
            ("ruleorder", &format!("{allow_destroy},{deny_destroy}")),
        ],
        431,
    )
    .await;
    c.ok(&[
        ("command", "updateRolePermission"),
        ("roleid", &role),
        (
            "ruleorder",
            &[
                allow_destroy.as_str(),
                deny_destroy.as_str(),
                allow_list.as_str(),
                allow_deploy.as_str(),
                allow_job.as_str(),
                deny_all.as_str(),
            ]
            .join(","),
        ),
    ])
    .await;
    assert!(apis(&op)
        .await
        .contains(&"destroyVirtualMachine".to_string()));
    // The permission of one rule flips.
    c.ok(&[
        ("command", "updateRolePermission"),
        ("roleid", &role),
        ("ruleid", &allow_destroy),
        ("permission", "deny"),
    ])
    .await;
    assert!(!apis(&op)
        .await
        .contains(&"destroyVirtualMachine".to_string()));
    // Without the closing deny, unnamed commands fall back to the User default.
    c.ok(&[("command", "deleteRolePermission"), ("id", &deny_all)])
        .await;
    assert!(apis(&op).await.contains(&"createVolume".to_string()));
    assert!(!apis(&op).await.contains(&"createZone".to_string()));
    c.ok(&[("command", "deleteRolePermission"), ("id", &allow_destroy)])
        .await;
    c.ok(&[("command", "deleteRolePermission"), ("id", &deny_destroy)])
        .await;
    let j = op
        .job(&[("command", "destroyVirtualMachine"), ("id", &vm)])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");

    // Who may manage roles: root admins only; a domain admin lists public non-admin roles.
    op.err(
        &[("command", "createRole"), ("name", "y"), ("type", "User")],
        401,
    )
    .await;
    let private = s(&c
        .ok(&[
            ("command", "createRole"),
            ("name", "hidden"),
            ("type", "User"),
            ("ispublic", "false"),
        ])
        .await["role"]["id"]);
    let (_, _, dadmin) = account_with_keys(&ts, &c, "dadmin", None, "2").await;
    let seen = names(
        &dadmin.ok(&[("command", "listRoles")]).await,
        "role",
        "name",
    );
    assert!(seen.contains(&"operator".to_string()), "{seen:?}");
    assert!(!seen.contains(&"hidden".to_string()), "{seen:?}");
    assert!(!seen.contains(&"Root Admin".to_string()), "{seen:?}");
    dadmin
        .err(
            &[("command", "listRolePermissions"), ("roleid", &role)],
            401,
        )
        .await;

    // Clone: type and rules copied.
    let clone = c
        .ok(&[
            ("command", "createRole"),
            ("name", "operator2"),
            ("roleid", &role),
        ])
        .await["role"]
        .clone();
    assert_eq!(clone["type"], "User");
    let cloned = c
        .ok(&[
            ("command", "listRolePermissions"),
            ("roleid", &s(&clone["id"])),
        ])
        .await;
    assert_eq!(cloned["count"], 3, "{cloned}");

    // Import, then import again with forced: the rules replaced.
    let imported = c
        .ok(&[
            ("command", "importRole"),
            ("name", "auditor"),
            ("type", "User"),
            ("rules[0].rule", "list*"),
            ("rules[0].permission", "allow"),
            ("rules[1].rule", "*"),
            ("rules[1].permission", "deny"),
        ])
        .await["role"]
        .clone();
    let aud = s(&imported["id"]);
    c.err(
        &[
            ("command", "importRole"),
            ("name", "auditor"),
            ("type", "User"),
            ("rules[0].rule", "*"),
            ("rules[0].permission", "allow"),
        ],
        431,
    )
    .await;
    c.ok(&[
        ("command", "importRole"),
        ("name", "auditor"),
        ("type", "User"),
        ("forced", "true"),
        ("rules[0].rule", "listZones"),
        ("rules[0].permission", "allow"),
    ])
    .await;
    let r = c
        .ok(&[("command", "listRolePermissions"), ("roleid", &aud)])
        .await;
    assert_eq!(r["count"], 1, "{r}");

    // Update and delete: not the defaults, not while in use.
    let defaults: Value = c.ok(&[("command", "listRoles"), ("name", "User")]).await;
    let user_role = s(&defaults["role"][0]["id"]);
    c.err(
        &[("command", "updateRole"), ("id", &user_role), ("name", "U")],
        431,
    )
    .await;
    c.err(&[("command", "deleteRole"), ("id", &user_role)], 431)
        .await;
    let root = c.ok(&[("command", "listRoles"), ("type", "Admin")]).await;
    let root_role = s(&root["role"][0]["id"]);
    c.err(
        &[
            ("command", "createRolePermission"),
            ("roleid", &root_role),
            ("rule", "*"),
            ("permission", "deny"),
        ],
        431,
    )
    .await;
    let e = c
        .err(&[("command", "deleteRole"), ("id", &role)], 431)
        .await;
    assert!(e.contains("in use"), "{e}");
    c.err(
        &[("command", "updateRole"), ("id", &role), ("type", "Admin")],
        431,
    )
    .await;
    let up = c
        .ok(&[
            ("command", "updateRole"),
            ("id", &private),
            ("name", "hidden2"),
            ("ispublic", "true"),
        ])
        .await;
    assert_eq!(up["role"]["ispublic"], true, "{up}");
    c.ok(&[("command", "deleteRole"), ("id", &private)]).await;
    c.ok(&[("command", "deleteRole"), ("id", &aud)]).await;
    let left = names(&c.ok(&[("command", "listRoles")]).await, "role", "name");
    assert!(!left.contains(&"auditor".to_string()), "{left:?}");
    ts.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn custom_roles_decide_what_their_accounts_may_call() {
    roles(TestServer::start().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn custom_roles_decide_what_their_accounts_may_call_postgres() {
    let Some(pg) = testkit::Postgres::start_for_test() else {
        return;
    };
    roles(TestServer::start_with(Some(pg.fresh_database().expect("db"))).await).await;
}

/// Two servers on one PostgreSQL database: a rule added through one is enforced by the other
/// within its cache time (2 s), and taken back the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rule_made_on_one_server_holds_on_the_other() {
    let Some(pg) = testkit::Postgres::start_for_test() else {
        return;
    };
    let a = TestServer::start_with(Some(pg.fresh_database().expect("db"))).await;
    let b = a.join().await;
    let c = a.admin.clone();
    let role = s(&c
        .ok(&[
            ("command", "createRole"),
            ("name", "no-zones"),
            ("type", "User"),
        ])
        .await["role"]["id"]);
    let user = member(&a, &c, "nz", &role).await;
    // The same keys against the second server.
    let uid = s(&c
        .ok(&[
            ("command", "listUsers"),
            ("username", "nz"),
            ("listall", "true"),
        ])
        .await["user"][0]["id"]);
    let keys = c.ok(&[("command", "getUserKeys"), ("id", &uid)]).await["userkeys"].clone();
    let on_b = b.client(&s(&keys["apikey"]), &s(&keys["secretkey"]));
    on_b.ok(&[("command", "listZones")]).await;
    let rule_id = rule(&c, &role, "listZones", "deny").await;
    user.err(&[("command", "listZones")], 401).await;
    let mut denied = false;
    for _ in 0..40 {
        if on_b.call(&[("command", "listZones")]).await.status == 401 {
            denied = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        denied,
        "the second server enforces the rule within its cache time"
    );
    c.ok(&[("command", "deleteRolePermission"), ("id", &rule_id)])
        .await;
    let mut allowed = false;
    for _ in 0..40 {
        if on_b.call(&[("command", "listZones")]).await.status == 200 {
            allowed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(allowed, "and lets go of it the same way");
    b.stop().await;
    a.stop().await;
}
