//! destroyVolume / recoverVolume and the storage cleanup (SQLite and PostgreSQL): a
//! destroyed volume is kept out of its account's counts until it is recovered or the
//! cleanup task deletes its disk from the host; `expunge=true` deletes it at once; users may
//! not when allow.user.expunge.recover.volume is false for their account.

mod common;

use common::*;
use serde_json::Value;

async fn destroy_recover(ts: TestServer) {
    let admin = ts.admin.clone();
    let z = VmZone::new(&ts, 1).await;
    let (_, _, u) = account_with_keys(&ts, &admin, "vols", None, "0").await;
    let disk = s(&admin
        .ok(&[
            ("command", "createDiskOffering"),
            ("name", "d1"),
            ("displaytext", "d1"),
            ("disksize", "1"),
        ])
        .await["diskoffering"]["id"]);
    let create = |name: &str| {
        let c = Client::new(&u.base, &u.key, &u.secret);
        let (zone, disk, name) = (z.zone.clone(), disk.clone(), name.to_string());
        async move {
            let j = c
                .job(&[
                    ("command", "createVolume"),
                    ("zoneid", &zone),
                    ("diskofferingid", &disk),
                    ("name", &name),
                ])
                .await;
            assert_eq!(j["jobstatus"], 1, "{j}");
            s(&j["jobresult"]["volume"]["id"])
        }
    };
    let vol = create("keep").await;
    // Made Ready on the host: attached to a VM, then detached.
    let vm = s(&deploy_vm(&u, &z, "vd", &[]).await["id"]);
    let j = u
        .job(&[
            ("command", "attachVolume"),
            ("id", &vol),
            ("virtualmachineid", &vm),
        ])
        .await;
    assert_eq!(j["jobresult"]["volume"]["state"], "Ready", "{j}");
    // An attached volume is not destroyed.
    let e = u
        .err(&[("command", "destroyVolume"), ("id", &vol)], 431)
        .await;
    assert!(e.contains("attached"), "{e}");
    let j = u.job(&[("command", "detachVolume"), ("id", &vol)]).await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    assert!(z.stored_volumes().contains(&vol));
    let count = |c: &Client| {
        let c = c.clone();
        async move {
            let l = c
                .ok(&[
                    ("command", "listAccounts"),
                    ("listall", "true"),
                    ("name", "vols"),
                ])
                .await;
            l["account"][0]["volumetotal"]
                .as_u64()
                .unwrap_or_else(|| panic!("no volumetotal: {l}"))
        }
    };
    let before = count(&admin).await;
    let j = u.job(&[("command", "destroyVolume"), ("id", &vol)]).await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    assert_eq!(j["jobresult"]["volume"]["state"], "Destroy", "{j}");
    assert_eq!(j["jobresult"]["volume"]["destroyed"], true, "{j}");
    assert_eq!(
        count(&admin).await,
        before - 1,
        "a destroyed volume is not counted"
    );
    // Still on the host and listed; not attachable.
    assert!(z.stored_volumes().contains(&vol));
    let l = u.ok(&[("command", "listVolumes"), ("id", &vol)]).await;
    assert_eq!(l["volume"][0]["state"], "Destroy", "{l}");
    let e = u
        .err(
            &[
                ("command", "attachVolume"),
                ("id", &vol),
                ("virtualmachineid", &vm),
            ],
            431,
        )
        .await;
    assert!(e.contains("Destroy"), "{e}");
    // Recovered: Ready and counted again; then recover again is refused.
    let r = u.ok(&[("command", "recoverVolume"), ("id", &vol)]).await;
    assert_eq!(r["volume"]["state"], "Ready", "{r}");
    assert_eq!(count(&admin).await, before);
    u.err(&[("command", "recoverVolume"), ("id", &vol)], 431)
        .await;
    // Another account sees none of it.
    let (_, _, other) = account_with_keys(&ts, &admin, "intruder", None, "0").await;
    other
        .err(&[("command", "recoverVolume"), ("id", &vol)], 531)
        .await;
    let r = other
        .call(&[("command", "destroyVolume"), ("id", &vol)])
        .await;
    assert_eq!(r.status, 531, "{}", r.text);
    // Users may not expunge or recover when the setting says so for their account.
    let acct = s(&admin
        .ok(&[
            ("command", "listAccounts"),
            ("listall", "true"),
            ("name", "vols"),
        ])
        .await["account"][0]["id"]);
    admin
        .ok(&[
            ("command", "updateConfiguration"),
            ("name", "allow.user.expunge.recover.volume"),
            ("value", "false"),
            ("accountid", &acct),
        ])
        .await;
    let r = u
        .call(&[
            ("command", "destroyVolume"),
            ("id", &vol),
            ("expunge", "true"),
        ])
        .await;
    assert_eq!(r.status, 531, "{}", r.text);
    // Destroyed, then the cleanup task deletes its disk once the delay has passed.
    admin
        .ok(&[
            ("command", "updateConfiguration"),
            ("name", "storage.cleanup.delay"),
            ("value", "0"),
        ])
        .await;
    admin
        .ok(&[
            ("command", "updateConfiguration"),
            ("name", "storage.cleanup.interval"),
            ("value", "1"),
        ])
        .await;
    let j = u.job(&[("command", "destroyVolume"), ("id", &vol)]).await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let mut gone = false;
    for _ in 0..100 {
        let l = admin
            .ok(&[
                ("command", "listVolumes"),
                ("id", &vol),
                ("listall", "true"),
            ])
            .await;
        if l["count"].as_u64().unwrap_or(0) == 0 && !z.stored_volumes().contains(&vol) {
            gone = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(
        gone,
        "the cleanup task did not expunge the destroyed volume"
    );
    // expunge=true (an admin): gone at once.
    let v2 = create("now").await;
    let j = admin
        .job(&[
            ("command", "destroyVolume"),
            ("id", &v2),
            ("expunge", "true"),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    assert_eq!(j["jobresult"]["volume"]["state"], "Expunged", "{j}");
    let l: Value = admin
        .ok(&[("command", "listVolumes"), ("id", &v2), ("listall", "true")])
        .await;
    assert_eq!(l["count"].as_u64().unwrap_or(0), 0, "{l}");
    ts.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn destroyed_volumes_are_recovered_or_cleaned_up() {
    destroy_recover(TestServer::start().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn destroyed_volumes_are_recovered_or_cleaned_up_postgres() {
    let Some(pg) = testkit::Postgres::start_for_test() else {
        return;
    };
    destroy_recover(TestServer::start_with(Some(pg.fresh_database().expect("db"))).await).await;
}
