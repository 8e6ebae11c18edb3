//! attachIso and detachIso through the API (SQLite and PostgreSQL): a running VM's host is
//! told to put the ISO in its CD-ROM (and to empty it); a stopped VM starts with it; the VM
//! lists isoid/isoname; another tenant's private ISO is not attachable. (The guest reading
//! the ISO on a real host: `tests/e2e/real_hosts.py`.)

mod common;

use common::*;

fn cdrom(z: &VmZone, instance: &str) -> Option<Option<uuid::Uuid>> {
    z.hosts.iter().find_map(|(_, a)| {
        agent::simulator::sim_host(a)
            .vms
            .lock()
            .ok()?
            .get(instance)
            .map(|v| v.iso)
    })
}

async fn iso(ts: TestServer) {
    let admin = ts.admin.clone();
    let z = VmZone::new(&ts, 1).await;
    let (_, _, u) = account_with_keys(&ts, &admin, "isou", None, "0").await;
    let (_, _, other) = account_with_keys(&ts, &admin, "isoo", None, "0").await;
    let file = ts.staging().join("tools.iso");
    let mut b = vec![0u8; 40 * 1024];
    b[32769..32774].copy_from_slice(b"CD001");
    std::fs::write(&file, b).expect("iso");
    let dom = s(&admin
        .ok(&[
            ("command", "listAccounts"),
            ("listall", "true"),
            ("name", "isou"),
        ])
        .await["account"][0]["domainid"]);
    let iso = s(&admin
        .ok(&[
            ("command", "registerIso"),
            ("name", "tools"),
            ("displaytext", "tools"),
            ("url", &format!("file://{}", file.display())),
            ("zoneid", &z.zone),
            ("account", "isou"),
            ("domainid", &dom),
            ("ispublic", "false"),
            ("bootable", "false"),
        ])
        .await["iso"][0]["id"]);
    for _ in 0..200 {
        let r = u
            .ok(&[("command", "listIsos"), ("isofilter", "self"), ("id", &iso)])
            .await;
        if r["iso"][0]["isready"] == true {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let vm = deploy_vm(&u, &z, "iso1", &[]).await;
    let vm_id = s(&vm["id"]);
    let inst = s(&vm_view(&admin, &vm_id).await["instancename"]);
    assert_eq!(cdrom(&z, &inst), Some(None), "an empty CD-ROM");

    // Running: the host swaps the medium.
    let j = u
        .job(&[
            ("command", "attachIso"),
            ("id", &iso),
            ("virtualmachineid", &vm_id),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    assert_eq!(
        j["jobresult"]["virtualmachine"]["isoid"],
        iso.as_str(),
        "{j}"
    );
    assert_eq!(j["jobresult"]["virtualmachine"]["isoname"], "tools", "{j}");
    assert_eq!(cdrom(&z, &inst), Some(Some(iso.parse().expect("uuid"))));
    let e = u
        .err(
            &[
                ("command", "attachIso"),
                ("id", &z.template),
                ("virtualmachineid", &vm_id),
            ],
            431,
        )
        .await;
    assert!(!e.is_empty());
    // Another tenant: not its VM, not its ISO.
    other
        .err(
            &[
                ("command", "attachIso"),
                ("id", &iso),
                ("virtualmachineid", &vm_id),
            ],
            531,
        )
        .await;
    let theirs = deploy_vm(&other, &z, "iso2", &[]).await;
    other
        .err(
            &[
                ("command", "attachIso"),
                ("id", &iso),
                ("virtualmachineid", &s(&theirs["id"])),
            ],
            431,
        )
        .await;

    let j = u
        .job(&[("command", "detachIso"), ("virtualmachineid", &vm_id)])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    assert!(
        j["jobresult"]["virtualmachine"].get("isoid").is_none(),
        "{j}"
    );
    assert_eq!(cdrom(&z, &inst), Some(None));
    u.err(
        &[("command", "detachIso"), ("virtualmachineid", &vm_id)],
        431,
    )
    .await;

    // extractIso: a download link to the ISO's own file (extractTemplate refuses an ISO).
    let j = u.job(&[("command", "extractIso"), ("id", &iso)]).await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let url = s(&j["jobresult"]["iso"]["url"]);
    let got = reqwest::get(&url).await.expect("download");
    assert_eq!(got.status(), 200);
    let body = got.bytes().await.expect("body");
    assert_eq!(
        (body.len(), &body[32769..32774]),
        (40 * 1024, &b"CD001"[..])
    );
    u.err(&[("command", "extractTemplate"), ("id", &iso)], 431)
        .await;

    // Stopped: it starts with the ISO in its CD-ROM.
    assert_eq!(
        u.job(&[("command", "stopVirtualMachine"), ("id", &vm_id)])
            .await["jobstatus"],
        1
    );
    assert_eq!(
        u.job(&[
            ("command", "attachIso"),
            ("id", &iso),
            ("virtualmachineid", &vm_id),
        ])
        .await["jobstatus"],
        1
    );
    assert_eq!(cdrom(&z, &inst), None, "stopped: not on the host");
    assert_eq!(
        u.job(&[("command", "startVirtualMachine"), ("id", &vm_id)])
            .await["jobstatus"],
        1
    );
    assert_eq!(cdrom(&z, &inst), Some(Some(iso.parse().expect("uuid"))));
    ts.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_iso_goes_into_the_vms_cdrom() {
    iso(TestServer::start().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_iso_goes_into_the_vms_cdrom_postgres() {
    let Some(pg) = testkit::Postgres::start_for_test() else {
        return;
    };
    iso(TestServer::start_with(Some(pg.fresh_database().expect("db"))).await).await;
}
