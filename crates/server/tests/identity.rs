//! Identity and access through the API: domains, accounts, users, keys, roles; every list
//! scoped by the caller; async jobs, events. The scoping and job flows run on
//! SQLite and on a throwaway PostgreSQL (configuration and job recovery: settings_jobs.rs).

mod common;

use common::*;
use serde_json::Value;

fn ids(v: &Value, key: &str) -> Vec<String> {
    v[key]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x["id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// ROOT/a (domain admin `da`), ROOT/a/a1 (user `u1`), ROOT/b (user `u2`).
async fn scoping(ts: &TestServer) {
    let c = &ts.admin;
    let a = create_domain(c, "a", None).await;
    let a1 = create_domain(c, "a1", Some(&a)).await;
    let b = create_domain(c, "b", None).await;
    let (da_acct, _, da) = account_with_keys(ts, c, "da", Some(&a), "2").await;
    let (u1_acct, u1_user, u1) = account_with_keys(ts, c, "u1", Some(&a1), "0").await;
    let (u2_acct, _, u2) = account_with_keys(ts, c, "u2", Some(&b), "0").await;

    // A user sees only its own account and users, whatever it asks for.
    for q in [
        vec![("command", "listAccounts")],
        vec![("command", "listAccounts"), ("listall", "true")],
        vec![("command", "listAccounts"), ("domainid", &a1)],
    ] {
        let v = u1.ok(&q).await;
        assert_eq!(ids(&v, "account"), vec![u1_acct.clone()], "{q:?}");
    }
    assert_eq!(
        ids(
            &u1.ok(&[("command", "listUsers"), ("listall", "true")])
                .await,
            "user"
        ),
        vec![u1_user.clone()]
    );
    let t = u1
        .err(&[("command", "listAccounts"), ("domainid", &b)], 531)
        .await;
    assert!(t.contains("does not have permission"), "{t}");
    u1.err(
        &[
            ("command", "listAccounts"),
            ("account", "u2"),
            ("domainid", &b),
        ],
        531,
    )
    .await;
    // ...and not another account's events or jobs.
    let e1 = u1
        .ok(&[("command", "listEvents"), ("listall", "true")])
        .await;
    assert!(e1["event"]
        .as_array()
        .map(|a| a.iter().all(|e| e["account"] == "u1"))
        .unwrap_or(true));

    // A domain admin sees its subtree, never outside it.
    let v = da
        .ok(&[("command", "listAccounts"), ("listall", "true")])
        .await;
    assert_eq!(names(&v, "account", "name"), vec!["da", "u1"]);
    let v = da
        .ok(&[("command", "listDomains"), ("listall", "true")])
        .await;
    assert_eq!(names(&v, "domain", "name"), vec!["a", "a1"]);
    let v = da
        .ok(&[("command", "listDomainChildren"), ("isrecursive", "true")])
        .await;
    assert_eq!(names(&v, "domain", "name"), vec!["a1"]);
    let v = da.ok(&[("command", "listUsers"), ("domainid", &a1)]).await;
    assert_eq!(names(&v, "user", "username"), vec!["u1"]);
    da.err(&[("command", "listAccounts"), ("domainid", &b)], 531)
        .await;
    da.err(&[("command", "listDomains"), ("id", &b)], 531).await;
    da.err(
        &[
            ("command", "createAccount"),
            ("username", "x"),
            ("password", "p"),
            ("email", "e"),
            ("firstname", "f"),
            ("lastname", "l"),
            ("domainid", &b),
        ],
        531,
    )
    .await;
    da.err(
        &[
            ("command", "createDomain"),
            ("name", "evil"),
            ("parentdomainid", &b),
        ],
        531,
    )
    .await;
    da.err(&[("command", "deleteAccount"), ("id", &u2_acct)], 531)
        .await;
    // A domain admin cannot create root admins, nor manage accounts above it.
    da.err(
        &[
            ("command", "createAccount"),
            ("username", "ra"),
            ("password", "p"),
            ("email", "e"),
            ("firstname", "f"),
            ("lastname", "l"),
            ("accounttype", "1"),
            ("domainid", &a),
        ],
        531,
    )
    .await;
    let admin_acct = c
        .ok(&[("command", "listAccounts"), ("name", "admin")])
        .await;
    let admin_id = ids(&admin_acct, "account")[0].clone();
    da.err(
        &[
            ("command", "disableAccount"),
            ("id", &admin_id),
            ("lock", "true"),
        ],
        531,
    )
    .await;
    // listAccounts and listDomains as CloudStack's searchForAccounts / searchForDomains: an
    // admin without listall or domainid sees its own account; with domainid that domain
    // (isrecursive: its subtree); by id anything in reach. Root admins see every domain,
    // domain admins their own (listall: their subtree).
    let v = c.ok(&[("command", "listAccounts")]).await;
    assert_eq!(names(&v, "account", "name"), vec!["admin"]);
    let v = c.ok(&[("command", "listAccounts"), ("id", &u2_acct)]).await;
    assert_eq!(ids(&v, "account"), vec![u2_acct.clone()]);
    let v = da.ok(&[("command", "listAccounts")]).await;
    assert_eq!(names(&v, "account", "name"), vec!["da"]);
    let v = da
        .ok(&[("command", "listAccounts"), ("domainid", &a1)])
        .await;
    assert_eq!(names(&v, "account", "name"), vec!["u1"]);
    let v = da
        .ok(&[
            ("command", "listAccounts"),
            ("domainid", &a),
            ("isrecursive", "true"),
        ])
        .await;
    assert_eq!(names(&v, "account", "name"), vec!["da", "u1"]);
    let v = da
        .ok(&[("command", "listAccounts"), ("id", &u1_acct)])
        .await;
    assert_eq!(ids(&v, "account"), vec![u1_acct.clone()]);
    da.err(&[("command", "listAccounts"), ("id", &u2_acct)], 531)
        .await;
    let v = c.ok(&[("command", "listDomains")]).await;
    assert_eq!(names(&v, "domain", "name"), vec!["ROOT", "a", "a1", "b"]);
    let v = da.ok(&[("command", "listDomains")]).await;
    assert_eq!(names(&v, "domain", "name"), vec!["a"]);
    // Anyone may read their own keys.
    let k = u1.ok(&[("command", "getUserKeys"), ("id", &u1_user)]).await;
    assert_eq!(k["userkeys"]["apikey"].as_str(), Some(u1.key.as_str()));

    // Inside its subtree it works.
    da.ok(&[
        ("command", "createDomain"),
        ("name", "a2"),
        ("parentdomainid", &a),
    ])
    .await;
    let j = da
        .job(&[
            ("command", "disableAccount"),
            ("id", &u1_acct),
            ("lock", "false"),
        ])
        .await;
    assert_eq!(
        (
            j["jobstatus"].as_i64(),
            j["jobresult"]["account"]["state"].as_str()
        ),
        (Some(1), Some("disabled"))
    );
    // A disabled account's keys stop working; enabling restores them.
    assert_eq!(u1.call(&[("command", "listAccounts")]).await.status, 401);
    da.ok(&[("command", "enableAccount"), ("id", &u1_acct)])
        .await;
    assert_eq!(u1.call(&[("command", "listAccounts")]).await.status, 200);
    // A user cannot see another account's job.
    let j = c
        .ok(&[("command", "deleteAccount"), ("id", &u2_acct)])
        .await;
    let jobid = j["jobid"].as_str().expect("jobid").to_string();
    u1.err(
        &[("command", "queryAsyncJobResult"), ("jobid", &jobid)],
        531,
    )
    .await;
    let done = c.wait_job(&jobid).await;
    assert_eq!(done["jobstatus"], 1);
    assert_eq!(
        u2.call(&[("command", "listAccounts")]).await.status,
        401,
        "deleted account's keys are gone"
    );
    let jobs = u1
        .ok(&[("command", "listAsyncJobs"), ("listall", "true")])
        .await;
    assert!(ids(&jobs, "asyncjobs").is_empty());
    let _ = da_acct;
}

#[tokio::test]
async fn scoping_on_sqlite() {
    let ts = TestServer::start().await;
    scoping(&ts).await;
    ts.stop().await;
}

#[tokio::test]
async fn scoping_and_jobs_on_postgres() {
    let Some(pg) = testkit::Postgres::start_for_test() else {
        return;
    };
    let ts = TestServer::start_with(Some(pg.fresh_database().expect("db"))).await;
    scoping(&ts).await;
    jobs_and_events(&ts).await;
    ts.stop().await;
}

async fn jobs_and_events(ts: &TestServer) {
    let c = &ts.admin;
    let d = create_domain(c, "jobs", None).await;
    let (acct, _, _) = account_with_keys(ts, c, "jobber", Some(&d), "0").await;
    // A failing job: HTTP 200, jobstatus 2, jobresultcode 530, errortext.
    let j = c.job(&[("command", "deleteDomain"), ("id", &d)]).await;
    assert_eq!(
        (
            j["jobstatus"].as_i64(),
            j["jobresultcode"].as_i64(),
            j["jobresult"]["errorcode"].as_i64()
        ),
        (Some(2), Some(530), Some(530))
    );
    assert!(j["jobresult"]["errortext"]
        .as_str()
        .expect("text")
        .contains("1 account(s)"));
    assert_eq!(j["jobinstancetype"], "Domain");
    // Succeeding jobs.
    let j = c.job(&[("command", "deleteAccount"), ("id", &acct)]).await;
    assert_eq!(
        (
            j["jobstatus"].as_i64(),
            j["jobresultcode"].as_i64(),
            j["jobresulttype"].as_str()
        ),
        (Some(1), Some(0), Some("object"))
    );
    assert_eq!(j["jobresult"], serde_json::json!({"success": true}));
    assert!(j["completed"].is_string() && j["created"].is_string() && j["userid"].is_string());
    let j = c.job(&[("command", "deleteDomain"), ("id", &d)]).await;
    assert_eq!(j["jobstatus"], 1);
    c.err(&[("command", "listDomains"), ("id", &d)], 431).await;
    // Events: one per change; async ones have Scheduled and Completed.
    let ev = c
        .ok(&[("command", "listEvents"), ("type", "ACCOUNT.DELETE")])
        .await;
    let states = names(&ev, "event", "state");
    assert!(
        states.contains(&"Scheduled".to_string()) && states.contains(&"Completed".to_string()),
        "{states:?}"
    );
    let failed = c
        .ok(&[
            ("command", "listEvents"),
            ("type", "DOMAIN.DELETE"),
            ("level", "ERROR"),
        ])
        .await;
    assert_eq!(failed["count"], 1);
    let created = c
        .ok(&[
            ("command", "listEvents"),
            ("type", "ACCOUNT.CREATE"),
            ("resourcetype", "Account"),
        ])
        .await;
    assert!(created["count"].as_u64().unwrap_or(0) >= 1);
    c.err(&[("command", "listEvents"), ("level", "LOUD")], 431)
        .await;
    c.err(
        &[
            ("command", "queryAsyncJobResult"),
            ("jobid", "00000000-0000-0000-0000-000000000001"),
        ],
        431,
    )
    .await;
    let jobs = c.ok(&[("command", "listAsyncJobs")]).await;
    assert!(jobs["count"].as_u64().unwrap_or(0) >= 3);
}

#[tokio::test]
async fn jobs_and_events_on_sqlite() {
    let ts = TestServer::start().await;
    jobs_and_events(&ts).await;
    ts.stop().await;
}

#[tokio::test]
async fn accounts_users_keys_and_roles() {
    let ts = TestServer::start().await;
    let c = &ts.admin;
    let roles = c.ok(&[("command", "listRoles")]).await;
    let rnames = names(&roles, "role", "name");
    for r in [
        "Root Admin",
        "Domain Admin",
        "User",
        "Read-Only User - Default",
    ] {
        assert!(rnames.contains(&r.to_string()), "{rnames:?}");
    }
    let ro_role = roles["role"]
        .as_array()
        .expect("roles")
        .iter()
        .find(|r| r["name"] == "Read-Only User - Default")
        .expect("ro")["id"]
        .as_str()
        .expect("id")
        .to_string();

    let sub = create_domain(c, "people", None).await;
    let (acct, user, alice) = account_with_keys(&ts, c, "alice", Some(&sub), "0").await;
    // Duplicates.
    let t = c
        .err(
            &[
                ("command", "createAccount"),
                ("username", "other"),
                ("account", "alice"),
                ("password", "p"),
                ("email", "e"),
                ("firstname", "f"),
                ("lastname", "l"),
                ("domainid", &sub),
            ],
            431,
        )
        .await;
    assert!(t.contains("already exists"), "{t}");
    c.err(
        &[
            ("command", "createUser"),
            ("account", "alice"),
            ("domainid", &sub),
            ("username", "alice"),
            ("password", "p"),
            ("email", "e"),
            ("firstname", "f"),
            ("lastname", "l"),
        ],
        431,
    )
    .await;
    // Root admin type only in ROOT.
    c.err(
        &[
            ("command", "createAccount"),
            ("username", "r2"),
            ("password", "p"),
            ("email", "e"),
            ("firstname", "f"),
            ("lastname", "l"),
            ("accounttype", "1"),
            ("domainid", &sub),
        ],
        431,
    )
    .await;
    // Second user in the account, update, keys.
    let u2 = c
        .ok(&[
            ("command", "createUser"),
            ("account", "alice"),
            ("domainid", &sub),
            ("username", "alice2"),
            ("password", "pw"),
            ("email", "a2@x"),
            ("firstname", "A"),
            ("lastname", "Two"),
        ])
        .await;
    let u2id = u2["user"]["id"].as_str().expect("id").to_string();
    assert_eq!(u2["user"]["account"], "alice");
    let up = c
        .ok(&[
            ("command", "updateAccount"),
            ("id", &acct),
            ("newname", "alice-team"),
            ("networkdomain", "team.example"),
        ])
        .await;
    assert_eq!(
        (
            up["account"]["name"].as_str(),
            up["account"]["networkdomain"].as_str()
        ),
        (Some("alice-team"), Some("team.example"))
    );
    assert_eq!(up["account"]["user"].as_array().map(Vec::len), Some(2));
    c.err(
        &[
            ("command", "updateAccount"),
            ("id", &acct),
            ("networkdomain", "-bad-"),
        ],
        431,
    )
    .await;
    let da_role = roles["role"]
        .as_array()
        .expect("roles")
        .iter()
        .find(|r| r["name"] == "Domain Admin")
        .expect("da")["id"]
        .as_str()
        .expect("id")
        .to_string();
    let t = c
        .err(
            &[
                ("command", "updateAccount"),
                ("id", &acct),
                ("roleid", &da_role),
            ],
            431,
        )
        .await;
    assert!(t.contains("type"), "{t}");
    // A user updates itself; changing its password needs the current one.
    alice
        .err(
            &[
                ("command", "updateUser"),
                ("id", &user),
                ("password", "new"),
            ],
            431,
        )
        .await;
    alice
        .err(
            &[
                ("command", "updateUser"),
                ("id", &user),
                ("password", "new"),
                ("currentpassword", "wrong"),
            ],
            431,
        )
        .await;
    let me = alice
        .ok(&[
            ("command", "updateUser"),
            ("id", &user),
            ("password", "new-pw"),
            ("currentpassword", "pw-123"),
            ("email", "alice@x"),
        ])
        .await;
    assert_eq!(me["user"]["email"], "alice@x");
    let login = c
        .post_form(
            "",
            &format!("command=login&response=json&username=alice&password=new-pw&domainid={sub}"),
            &[],
        )
        .await;
    assert_eq!(login.status, 200, "{}", login.text);
    let login = c
        .post_form(
            "",
            "command=login&response=json&username=alice&password=new-pw&domain=people",
            &[],
        )
        .await;
    assert_eq!(login.status, 200, "domain given as a path: {}", login.text);
    // ...but cannot touch another user of another account or create anything.
    let (_, other_user, _) = account_with_keys(&ts, c, "mallory", Some(&sub), "0").await;
    alice
        .err(
            &[
                ("command", "updateUser"),
                ("id", &other_user),
                ("email", "x"),
            ],
            531,
        )
        .await;
    alice
        .err(&[("command", "getUserKeys"), ("id", &other_user)], 531)
        .await;
    // Keys: get returns the current pair; register replaces it and the old one stops working.
    let k = alice.ok(&[("command", "getUserKeys"), ("id", &user)]).await;
    assert_eq!(k["userkeys"]["apikey"].as_str(), Some(alice.key.as_str()));
    assert_eq!(
        k["userkeys"]["secretkey"].as_str(),
        Some(alice.secret.as_str())
    );
    let nk = alice
        .ok(&[("command", "registerUserKeys"), ("id", &user)])
        .await;
    assert_eq!(alice.call(&[("command", "listAccounts")]).await.status, 401);
    let alice = ts.client(
        nk["userkeys"]["apikey"].as_str().expect("k"),
        nk["userkeys"]["secretkey"].as_str().expect("s"),
    );
    assert_eq!(alice.call(&[("command", "listAccounts")]).await.status, 200);
    // Secrets are never stored in plain text.
    let db_bytes = std::fs::read(ts.dir.path().join("canopy.db")).unwrap_or_default();
    let wal_bytes = std::fs::read(ts.dir.path().join("canopy.db-wal")).unwrap_or_default();
    let secret = nk["userkeys"]["secretkey"]
        .as_str()
        .expect("s")
        .as_bytes()
        .to_vec();
    for bytes in [&db_bytes, &wal_bytes] {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_slice()),
            "secret key found in plain text on disk"
        );
    }
    // Users: lock, disable (async), enable, delete; self-protection.
    c.ok(&[("command", "lockUser"), ("id", &user)]).await;
    assert_eq!(alice.call(&[("command", "listAccounts")]).await.status, 401);
    c.ok(&[("command", "enableUser"), ("id", &user)]).await;
    let j = c.job(&[("command", "disableUser"), ("id", &user)]).await;
    assert_eq!(j["jobresult"]["user"]["state"], "disabled");
    assert_eq!(alice.call(&[("command", "listAccounts")]).await.status, 401);
    c.ok(&[("command", "enableUser"), ("id", &user)]).await;
    assert_eq!(alice.call(&[("command", "listAccounts")]).await.status, 200);
    assert_eq!(
        c.ok(&[("command", "deleteUser"), ("id", &u2id)]).await["success"],
        true
    );
    let admin_user = c
        .ok(&[("command", "listUsers"), ("username", "admin")])
        .await;
    let admin_uid = ids(&admin_user, "user")[0].clone();
    c.err(&[("command", "deleteUser"), ("id", &admin_uid)], 431)
        .await;
    c.err(&[("command", "lockUser"), ("id", &admin_uid)], 431)
        .await;
    let admin_acct = c
        .ok(&[("command", "listAccounts"), ("name", "admin")])
        .await;
    c.err(
        &[
            ("command", "deleteAccount"),
            ("id", &ids(&admin_acct, "account")[0]),
        ],
        431,
    )
    .await;
    // Lock an account (sync) by name + domain.
    let l = c
        .ok(&[
            ("command", "lockAccount"),
            ("account", "alice-team"),
            ("domainid", &sub),
        ])
        .await;
    assert_eq!(l["account"]["state"], "locked");
    assert_eq!(alice.call(&[("command", "listAccounts")]).await.status, 401);
    // A read-only user may list but not change anything.
    let ro = c
        .ok(&[
            ("command", "createAccount"),
            ("username", "viewer"),
            ("password", "pw"),
            ("email", "v@x"),
            ("firstname", "V"),
            ("lastname", "W"),
            ("roleid", &ro_role),
            ("domainid", &sub),
        ])
        .await;
    let ro_user = ro["account"]["user"][0]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let keys = c
        .ok(&[("command", "registerUserKeys"), ("id", &ro_user)])
        .await;
    let viewer = ts.client(
        keys["userkeys"]["apikey"].as_str().expect("k"),
        keys["userkeys"]["secretkey"].as_str().expect("s"),
    );
    assert_eq!(
        viewer.call(&[("command", "listAccounts")]).await.status,
        200
    );
    viewer
        .err(
            &[
                ("command", "updateUser"),
                ("id", &ro_user),
                ("email", "x@y"),
            ],
            401,
        )
        .await;
    viewer
        .err(&[("command", "registerUserKeys"), ("id", &ro_user)], 401)
        .await;
    // Domains: rename moves the subtree, ROOT cannot be renamed or deleted.
    let child = create_domain(c, "kid", Some(&sub)).await;
    c.ok(&[("command", "updateDomain"), ("id", &sub), ("name", "folks")])
        .await;
    let kid = c.ok(&[("command", "listDomains"), ("id", &child)]).await;
    assert_eq!(kid["domain"][0]["path"], "ROOT/folks/kid");
    let root = c.ok(&[("command", "listDomains")]).await;
    let root_id = ids(&root, "domain")[0].clone();
    c.err(
        &[
            ("command", "updateDomain"),
            ("id", &root_id),
            ("name", "TOP"),
        ],
        431,
    )
    .await;
    c.err(&[("command", "deleteDomain"), ("id", &root_id)], 431)
        .await;
    // Cleanup deletes the subtree and its accounts.
    let j = c
        .job(&[
            ("command", "deleteDomain"),
            ("id", &sub),
            ("cleanup", "true"),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let left = c
        .ok(&[("command", "listDomains"), ("listall", "true")])
        .await;
    assert_eq!(names(&left, "domain", "name"), vec!["ROOT"]);
    let accts = c
        .ok(&[("command", "listAccounts"), ("listall", "true")])
        .await;
    assert_eq!(names(&accts, "account", "name"), vec!["admin", "system"]);
    ts.stop().await;
}
