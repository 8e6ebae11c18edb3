//! Global settings through the API (typed, persisted across restarts) and job recovery at
//! start-up (unfinished jobs resumed or failed).

mod common;

use common::*;

#[tokio::test]
async fn configuration_is_typed_and_persisted() {
    let ts = TestServer::start().await;
    let c = &ts.admin;
    let all = c
        .ok(&[("command", "listConfigurations"), ("pagesize", "-1")])
        .await;
    let n = names(&all, "configuration", "name");
    for s in [
        "default.page.size",
        "ping.interval",
        "ping.timeout",
        "cpu.overprovisioning.factor",
        "mem.overprovisioning.factor",
        "cluster.cpu.allocated.capacity.disablethreshold",
    ] {
        assert!(n.contains(&s.to_string()), "{s} missing");
    }
    let one = c
        .ok(&[("command", "listConfigurations"), ("name", "ping.interval")])
        .await;
    assert_eq!(
        (
            one["count"].as_u64(),
            one["configuration"][0]["value"].as_str(),
            one["configuration"][0]["type"].as_str()
        ),
        (Some(1), Some("10"), Some("Integer"))
    );
    c.err(
        &[
            ("command", "updateConfiguration"),
            ("name", "ping.interval"),
            ("value", "soon"),
        ],
        431,
    )
    .await;
    c.err(
        &[
            ("command", "updateConfiguration"),
            ("name", "cpu.overprovisioning.factor"),
            ("value", "0.5"),
        ],
        431,
    )
    .await;
    c.err(
        &[
            ("command", "updateConfiguration"),
            ("name", "no.such.setting"),
            ("value", "1"),
        ],
        431,
    )
    .await;
    let u = c
        .ok(&[
            ("command", "updateConfiguration"),
            ("name", "cpu.overprovisioning.factor"),
            ("value", "2.5"),
        ])
        .await;
    assert_eq!(u["configuration"]["value"], "2.5");
    let ts = ts.restart().await;
    let c = &ts.admin;
    let one = c
        .ok(&[
            ("command", "listConfigurations"),
            ("name", "cpu.overprovisioning.factor"),
        ])
        .await;
    assert_eq!(
        one["configuration"][0]["value"], "2.5",
        "survives a restart"
    );
    let ev = c
        .ok(&[
            ("command", "listEvents"),
            ("type", "CONFIGURATION.VALUE.EDIT"),
        ])
        .await;
    assert_eq!(ev["count"], 1);
    // Users may not read or change settings.
    let (_, _, user) = account_with_keys(&ts, c, "cfguser", None, "0").await;
    user.err(&[("command", "listConfigurations")], 401).await;
    ts.stop().await;
}

/// Jobs left unfinished by a dead server are taken over at start: resumed when possible,
/// otherwise failed with a clear text. (The SIGKILL variant runs against the binary, in the
/// canopy crate's tests.)
#[tokio::test]
async fn unfinished_jobs_are_resumed_or_failed_at_start() {
    let ts = TestServer::start().await;
    let c = &ts.admin;
    let (acct, _, _) = account_with_keys(&ts, c, "orphan", None, "0").await;
    let admin = c
        .ok(&[("command", "listUsers"), ("username", "admin")])
        .await;
    let admin_user = admin["user"][0].clone();
    let ts_dir = ts.dir.path().to_path_buf();
    let server = ts.server.as_ref().map(|s| s.state.clone()).expect("state");
    drop(server);
    let TestServer {
        server,
        dir,
        database,
        ..
    } = ts;
    if let Some(s) = server {
        s.shutdown().await;
    }
    // Two jobs "owned" by a server that died: one resumable, one for a command this binary
    // does not know.
    let store = db::DataStore::open(&format!("sqlite:{}", ts_dir.join("canopy.db").display()))
        .await
        .expect("open");
    let dead = model::ServerId::new();
    let uid: model::UserId = admin_user["id"]
        .as_str()
        .expect("id")
        .parse()
        .expect("uuid");
    let aid: model::AccountId = admin_user["accountid"]
        .as_str()
        .expect("id")
        .parse()
        .expect("uuid");
    let did: model::DomainId = admin_user["domainid"]
        .as_str()
        .expect("id")
        .parse()
        .expect("uuid");
    let resumable = model::JobId::new();
    let unknown = model::JobId::new();
    let mut tx = store.begin().await.expect("tx");
    for (id, cmd, params) in [
        (resumable, "deleteAccount", format!(r#"{{"id":"{acct}"}}"#)),
        (unknown, "frobnicateVm", "{}".to_string()),
    ] {
        let j = db::NewJob {
            id,
            command: cmd.into(),
            params,
            user_id: uid,
            account_id: aid,
            domain_id: did,
            instance_type: None,
            instance_id: None,
            event_id: None,
        };
        db::job_insert(&mut tx, &j, dead, i64::MAX)
            .await
            .expect("insert");
    }
    tx.commit().await.expect("commit");
    store.close().await;

    let ts = TestServer::start_in(dir, database).await;
    let c = &ts.admin;
    let r = c.wait_job(&resumable.to_string()).await;
    assert_eq!(r["jobstatus"], 1, "resumed: {r}");
    // Gone: by id it does not exist any more (431, as CloudStack's "Unable to find account").
    c.err(&[("command", "listAccounts"), ("id", &acct)], 431)
        .await;
    let f = c.wait_job(&unknown.to_string()).await;
    assert_eq!(
        (f["jobstatus"].as_i64(), f["jobresultcode"].as_i64()),
        (Some(2), Some(530))
    );
    let text = f["jobresult"]["errortext"].as_str().expect("text");
    assert!(
        text.contains("interrupted by a management server restart")
            && text.contains("frobnicateVm"),
        "{text}"
    );
    ts.stop().await;
}
