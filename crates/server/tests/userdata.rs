//! The user data registry through the API (SQLite and PostgreSQL): registered user data is
//! what a VM deployed with `userdataid` gets — down to what its router's data server is told
//! to serve the guest —; a template linked to user data gives it to its VMs under its policy
//! (ALLOWOVERRIDE, APPEND, DENYOVERRIDE); linked user data is not deleted; another tenant
//! neither lists nor uses it.

mod common;

use base64::Engine as _;
use common::*;

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// The user data the guest's router serves the VM (decoded).
fn served(z: &VmZone, vm: &str) -> Option<String> {
    let host = &z.hosts[0].0;
    let d = z.net_of(host).desired?;
    let g = d
        .routers
        .iter()
        .flat_map(|r| r.guests.iter())
        .find(|g| g.vm_id.to_string() == vm)?;
    let raw = g.user_data.as_deref()?;
    let bytes = base64::engine::general_purpose::STANDARD.decode(raw).ok()?;
    String::from_utf8(bytes).ok()
}

async fn userdata(ts: TestServer) {
    let admin = ts.admin.clone();
    let z = VmZone::new(&ts, 1).await;
    let (_, _, u) = account_with_keys(&ts, &admin, "ud", None, "0").await;
    let (_, _, other) = account_with_keys(&ts, &admin, "ud2", None, "0").await;
    let r = u
        .ok(&[
            ("command", "registerUserData"),
            ("name", "web"),
            ("userdata", &b64("#cloud-config\nhostname: web\n")),
            ("params", "role,env"),
        ])
        .await["userdata"]
        .clone();
    let ud = s(&r["id"]);
    assert_eq!(
        (r["name"].clone(), r["params"].clone()),
        ("web".into(), "role,env".into())
    );
    u.err(
        &[
            ("command", "registerUserData"),
            ("name", "web"),
            ("userdata", &b64("x")),
        ],
        431,
    )
    .await;
    u.err(
        &[
            ("command", "registerUserData"),
            ("name", "bad"),
            ("userdata", "not base64!"),
        ],
        431,
    )
    .await;
    assert_eq!(
        names(
            &u.ok(&[("command", "listUserData")]).await,
            "userdata",
            "name"
        ),
        ["web"]
    );

    // Deployed with it: the VM and its router's data server have it.
    let vm = deploy_vm(&u, &z, "ud1", &[("userdataid", &ud)]).await;
    assert_eq!(vm["userdataid"], ud.as_str(), "{vm}");
    assert_eq!(vm["userdataname"], "web", "{vm}");
    let got = u
        .ok(&[
            ("command", "getVirtualMachineUserData"),
            ("id", &s(&vm["id"])),
        ])
        .await;
    assert_eq!(
        got["virtualmachineuserdata"]["userdata"],
        b64("#cloud-config\nhostname: web\n").as_str()
    );
    assert_eq!(
        served(&z, &s(&vm["id"])).as_deref(),
        Some("#cloud-config\nhostname: web\n")
    );
    u.err(
        &z.deploy(&[
            ("name", "both"),
            ("userdataid", &ud),
            ("userdata", &b64("y")),
        ]),
        431,
    )
    .await;

    // Another tenant: not listed, not usable, not deletable.
    assert!(names(
        &other.ok(&[("command", "listUserData")]).await,
        "userdata",
        "name"
    )
    .is_empty());
    other
        .err(&z.deploy(&[("name", "steal"), ("userdataid", &ud)]), 531)
        .await;
    other
        .err(&[("command", "deleteUserData"), ("id", &ud)], 531)
        .await;

    // Linked to a template of the account's (registered for it by the admin from a staged
    // file): its VMs get the user data under the template's policy.
    let img = ts.staging().join("ud.qcow2");
    let mut b = b"QFI\xfb".to_vec();
    b.resize(64 * 1024, 7);
    std::fs::write(&img, b).expect("image");
    let dom = s(&admin
        .ok(&[
            ("command", "listAccounts"),
            ("listall", "true"),
            ("name", "ud"),
        ])
        .await["account"][0]["domainid"]);
    let mine = s(&admin
        .ok(&[
            ("command", "registerTemplate"),
            ("name", "ud-tpl"),
            ("displaytext", "ud-tpl"),
            ("url", &format!("file://{}", img.display())),
            ("format", "QCOW2"),
            ("hypervisor", "Simulator"),
            ("zoneid", &z.zone),
            ("ispublic", "false"),
            ("account", "ud"),
            ("domainid", &dom),
            ("ostypeid", "4e3f2c1a-7b6d-4e5f-8a9b-000000000001"),
        ])
        .await["template"][0]["id"]);
    for _ in 0..200 {
        let r = u
            .ok(&[
                ("command", "listTemplates"),
                ("templatefilter", "self"),
                ("id", &mine),
            ])
            .await;
        if r["template"][0]["isready"] == true {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let web = "#cloud-config\nhostname: web\n";
    for (i, (policy, own, want)) in [
        ("ALLOWOVERRIDE", Some("mine\n"), Some("mine\n".to_string())),
        ("ALLOWOVERRIDE", None, Some(web.to_string())),
        ("APPEND", Some("mine\n"), Some(format!("{web}mine\n"))),
        ("DENYOVERRIDE", None, Some(web.to_string())),
        ("DENYOVERRIDE", Some("mine\n"), None),
    ]
    .into_iter()
    .enumerate()
    {
        let t = u
            .ok(&[
                ("command", "linkUserDataToTemplate"),
                ("templateid", &mine),
                ("userdataid", &ud),
                ("userdatapolicy", policy),
            ])
            .await["template"]
            .clone();
        assert_eq!(t["userdatapolicy"], policy, "{t}");
        assert_eq!(t["userdataid"], ud.as_str(), "{t}");
        let name = format!("t{i}");
        let own = own.map(b64);
        let mut p = vec![
            ("command", "deployVirtualMachine"),
            ("zoneid", z.zone.as_str()),
            ("serviceofferingid", z.offering.as_str()),
            ("templateid", mine.as_str()),
            ("name", name.as_str()),
            ("startvm", "false"),
        ];
        if let Some(o) = &own {
            p.push(("userdata", o.as_str()));
        }
        match want {
            Some(w) => {
                let j = u.job(&p).await;
                assert_eq!(j["jobstatus"], 1, "{policy}: {j}");
                let id = s(&j["jobresult"]["virtualmachine"]["id"]);
                let got = u
                    .ok(&[("command", "getVirtualMachineUserData"), ("id", &id)])
                    .await;
                assert_eq!(
                    got["virtualmachineuserdata"]["userdata"],
                    b64(&w).as_str(),
                    "{policy} with {own:?}"
                );
            }
            None => {
                let e = u.err(&p, 431).await;
                assert!(e.contains("DENYOVERRIDE"), "{e}");
            }
        }
    }
    let e = u
        .err(&[("command", "deleteUserData"), ("id", &ud)], 431)
        .await;
    assert!(e.contains("linked"), "{e}");
    u.ok(&[("command", "linkUserDataToTemplate"), ("templateid", &mine)])
        .await;
    let j = u
        .job(&[("command", "destroyVirtualMachine"), ("id", &s(&vm["id"]))])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    u.ok(&[("command", "deleteUserData"), ("id", &ud)]).await;
    assert!(names(
        &u.ok(&[("command", "listUserData")]).await,
        "userdata",
        "name"
    )
    .is_empty());
    ts.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn registered_user_data_reaches_the_guest() {
    userdata(TestServer::start().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn registered_user_data_reaches_the_guest_postgres() {
    let Some(pg) = testkit::Postgres::start_for_test() else {
        return;
    };
    userdata(TestServer::start_with(Some(pg.fresh_database().expect("db"))).await).await;
}
