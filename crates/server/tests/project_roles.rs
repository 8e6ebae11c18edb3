//! Project roles through the API (SQLite and PostgreSQL): a role of list* allow then * deny
//! given to a Regular member holds it to listing in the project — and only in the project;
//! the rules' order decides; changing a rule changes what the member may do at once; the
//! project's Admin is not held to it; only Admins manage roles; a role in use is not deleted.

mod common;

use common::*;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn project_roles_on_sqlite() {
    project_roles(TestServer::start().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn project_roles_on_postgres() {
    let Some(pg) = testkit::Postgres::start_for_test() else {
        return;
    };
    project_roles(TestServer::start_with(Some(pg.fresh_database().expect("db"))).await).await;
}

fn ids(v: &Value, key: &str) -> Vec<String> {
    v[key]
        .as_array()
        .into_iter()
        .flatten()
        .map(|x| s(&x["id"]))
        .collect()
}

async fn project_roles(ts: TestServer) {
    let admin = &ts.admin;
    let (_, _, owner) = account_with_keys(&ts, admin, "rowner", None, "0").await;
    let (_, _, member) = account_with_keys(&ts, admin, "rmember", None, "0").await;
    let j = owner
        .job(&[
            ("command", "createProject"),
            ("name", "roles"),
            ("displaytext", "roles"),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let pid = s(&j["jobresult"]["project"]["id"]);

    // Roles and their rules: the project's Admin makes them.
    let role = owner
        .ok(&[
            ("command", "createProjectRole"),
            ("projectid", &pid),
            ("name", "readonly"),
            ("description", "lists only"),
        ])
        .await["projectrole"]
        .clone();
    assert_eq!(role["projectid"], pid.as_str(), "{role}");
    let rid = s(&role["id"]);
    let e = owner
        .err(
            &[
                ("command", "createProjectRole"),
                ("projectid", &pid),
                ("name", "readonly"),
            ],
            431,
        )
        .await;
    assert!(e.contains("already exists"), "{e}");
    let rule = |r: &'static str, p: &'static str| {
        let (owner, pid, rid) = (&owner, pid.clone(), rid.clone());
        async move {
            s(&owner
                .ok(&[
                    ("command", "createProjectRolePermission"),
                    ("projectid", &pid),
                    ("projectroleid", &rid),
                    ("rule", r),
                    ("permission", p),
                ])
                .await["projectrolepermission"]["id"])
        }
    };
    let allow_list = rule("list*", "allow").await;
    let deny_all = rule("*", "deny").await;
    owner
        .err(
            &[
                ("command", "createProjectRolePermission"),
                ("projectid", &pid),
                ("projectroleid", &rid),
                ("rule", "list VMs"),
                ("permission", "allow"),
            ],
            431,
        )
        .await;
    let perms = owner
        .ok(&[
            ("command", "listProjectRolePermissions"),
            ("projectid", &pid),
            ("projectroleid", &rid),
        ])
        .await;
    assert_eq!(
        ids(&perms, "projectrolepermission"),
        vec![allow_list.clone(), deny_all.clone()],
        "in order: {perms}"
    );

    // The member joins with the role.
    let j = owner
        .job(&[
            ("command", "addAccountToProject"),
            ("projectid", &pid),
            ("account", "rmember"),
            ("projectroleid", &rid),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let members = owner
        .ok(&[("command", "listProjectAccounts"), ("projectid", &pid)])
        .await;
    let m = members["projectaccount"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m["account"] == "rmember")
        .cloned()
        .expect("the member");
    assert_eq!(m["projectroleid"], rid.as_str(), "{members}");

    // In the project: lists yes, anything else no.
    member
        .ok(&[("command", "listSSHKeyPairs"), ("projectid", &pid)])
        .await;
    let e = member
        .err(
            &[
                ("command", "createSSHKeyPair"),
                ("name", "k1"),
                ("projectid", &pid),
            ],
            531,
        )
        .await;
    assert!(e.contains("project role"), "{e}");
    // Naming a project's object by id, without projectid, is held to the role too.
    let group = s(&owner
        .ok(&[
            ("command", "createInstanceGroup"),
            ("name", "web"),
            ("projectid", &pid),
        ])
        .await["instancegroup"]["id"]);
    for cmd in ["deleteInstanceGroup", "updateInstanceGroup"] {
        let e = member.err(&[("command", cmd), ("id", &group)], 531).await;
        assert!(e.contains(&format!("The API {cmd} is denied")), "{e}");
    }
    let l = member
        .ok(&[("command", "listInstanceGroups"), ("projectid", &pid)])
        .await;
    assert_eq!(ids(&l, "instancegroup"), vec![group.clone()], "{l}");
    // Outside the project the member's own role decides.
    member
        .ok(&[("command", "createSSHKeyPair"), ("name", "mine")])
        .await;
    // The project's Admin is not held to it.
    owner
        .ok(&[
            ("command", "createSSHKeyPair"),
            ("name", "k0"),
            ("projectid", &pid),
        ])
        .await;

    // Order decides: "*" deny first denies the lists too.
    owner
        .ok(&[
            ("command", "updateProjectRolePermission"),
            ("projectid", &pid),
            ("projectroleid", &rid),
            ("ruleorder", &format!("{deny_all},{allow_list}")),
        ])
        .await;
    member
        .err(&[("command", "listSSHKeyPairs"), ("projectid", &pid)], 531)
        .await;
    owner
        .err(
            &[
                ("command", "updateProjectRolePermission"),
                ("projectid", &pid),
                ("projectroleid", &rid),
                ("ruleorder", &deny_all),
            ],
            431,
        )
        .await;
    // A rule changed: the member may now create.
    owner
        .ok(&[
            ("command", "updateProjectRolePermission"),
            ("projectid", &pid),
            ("projectroleid", &rid),
            ("projectrolepermissionid", &deny_all),
            ("permission", "allow"),
        ])
        .await;
    member
        .ok(&[
            ("command", "createSSHKeyPair"),
            ("name", "k2"),
            ("projectid", &pid),
        ])
        .await;

    // Only Admins manage roles; members list them.
    member
        .err(
            &[
                ("command", "createProjectRole"),
                ("projectid", &pid),
                ("name", "x"),
            ],
            531,
        )
        .await;
    let l = member
        .ok(&[("command", "listProjectRoles"), ("projectid", &pid)])
        .await;
    assert_eq!(ids(&l, "projectrole"), vec![rid.clone()], "{l}");
    // A role in use stays; another project's role is not this one's.
    let e = owner
        .err(
            &[
                ("command", "deleteProjectRole"),
                ("projectid", &pid),
                ("id", &rid),
            ],
            431,
        )
        .await;
    assert!(e.contains("members"), "{e}");
    let j = owner
        .job(&[
            ("command", "createProject"),
            ("name", "other"),
            ("displaytext", "other"),
        ])
        .await;
    let other = s(&j["jobresult"]["project"]["id"]);
    owner
        .err(
            &[
                ("command", "addAccountToProject"),
                ("projectid", &other),
                ("account", "rmember"),
                ("projectroleid", &rid),
            ],
            431,
        )
        .await;
    // Removing the rules and the member frees the role.
    for p in [&allow_list, &deny_all] {
        owner
            .ok(&[
                ("command", "deleteProjectRolePermission"),
                ("projectid", &pid),
                ("id", p),
            ])
            .await;
    }
    let j = owner
        .job(&[
            ("command", "deleteAccountFromProject"),
            ("projectid", &pid),
            ("account", "rmember"),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    owner
        .ok(&[
            ("command", "deleteProjectRole"),
            ("projectid", &pid),
            ("id", &rid),
        ])
        .await;
    let l = owner
        .ok(&[("command", "listProjectRoles"), ("projectid", &pid)])
        .await;
    assert!(ids(&l, "projectrole").is_empty(), "{l}");
}
