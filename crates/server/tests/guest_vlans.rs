//! dedicateGuestVlanRange (SQLite and PostgreSQL): an account's networks take their VNIs from
//! its dedicated range, another account's never do; ranges outside the physical network's,
//! overlapping another dedication or holding another account's VNI are refused; released,
//! the range is the zone's again.

mod common;

use common::*;

async fn vlans(ts: TestServer) {
    let admin = ts.admin.clone();
    let z = VmZone::new(&ts, 1).await;
    let pn = s(&admin
        .ok(&[("command", "listPhysicalNetworks"), ("zoneid", &z.zone)])
        .await["physicalnetwork"][0]["id"]);
    let (_, _, a) = account_with_keys(&ts, &admin, "vl-a", None, "0").await;
    let (_, _, b) = account_with_keys(&ts, &admin, "vl-b", None, "0").await;
    let dom = s(&admin
        .ok(&[
            ("command", "listAccounts"),
            ("listall", "true"),
            ("name", "vl-a"),
        ])
        .await["account"][0]["domainid"]);
    let dedicate = |range: &str, who: &str| {
        let admin = admin.clone();
        let (pn, dom, range, who) = (pn.clone(), dom.clone(), range.to_string(), who.to_string());
        async move {
            admin
                .call(&[
                    ("command", "dedicateGuestVlanRange"),
                    ("physicalnetworkid", &pn),
                    ("vlanrange", &range),
                    ("account", &who),
                    ("domainid", &dom),
                ])
                .await
        }
    };
    let r = dedicate("1500-1509", "vl-a").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let d = r.inner()["dedicatedguestvlanrange"].clone();
    assert_eq!(d["guestvlanrange"], "1500-1509", "{d}");
    assert_eq!(d["account"], "vl-a", "{d}");
    let vni_of = |c: &Client, net: String| {
        let c = Client::new(&c.base, &c.key, &c.secret);
        async move {
            // The VNI (`vlan`) is shown to admins only.
            c.ok(&[
                ("command", "listNetworks"),
                ("id", &net),
                ("listall", "true"),
            ])
            .await["network"][0]["vlan"]
                .as_str()
                .and_then(|v| v.parse::<u32>().ok())
                .expect("a VNI")
        }
    };
    let na = s(&deploy_vm(&a, &z, "va", &[]).await["nic"][0]["networkid"]);
    let nb = s(&deploy_vm(&b, &z, "vb", &[]).await["nic"][0]["networkid"]);
    let (va, vb) = (vni_of(&admin, na).await, vni_of(&admin, nb).await);
    assert!((1500..=1509).contains(&va), "A's network got {va}");
    assert!(!(1500..=1509).contains(&vb), "B's network got A's {vb}");
    // Refusals: outside the physical network, overlapping, holding B's VNI, users.
    for (range, why) in [
        ("3000-3001", "not inside"),
        ("1505-1520", "overlaps"),
        (&*format!("{vb}-{vb}"), "another account"),
        ("x-y", "Invalid"),
    ] {
        let r = dedicate(range, "vl-a").await;
        assert_eq!(r.status, 431, "{range}: {}", r.text);
        assert!(r.text.contains(why), "{range}: {}", r.text);
    }
    a.err(
        &[
            ("command", "dedicateGuestVlanRange"),
            ("physicalnetworkid", &pn),
            ("vlanrange", "1600-1601"),
            ("account", "vl-a"),
        ],
        401,
    )
    .await;
    let l = admin
        .ok(&[
            ("command", "listDedicatedGuestVlanRanges"),
            ("account", "vl-a"),
            ("domainid", &dom),
        ])
        .await;
    assert_eq!(l["count"], 1, "{l}");
    let j = admin
        .job(&[
            ("command", "releaseDedicatedGuestVlanRange"),
            ("id", &s(&d["id"])),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let l = admin
        .ok(&[("command", "listDedicatedGuestVlanRanges")])
        .await;
    assert_eq!(l["count"].as_u64().unwrap_or(0), 0, "{l}");
    ts.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dedicated_guest_vlan_ranges() {
    vlans(TestServer::start().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dedicated_guest_vlan_ranges_postgres() {
    let Some(pg) = testkit::Postgres::start_for_test() else {
        return;
    };
    vlans(TestServer::start_with(Some(pg.fresh_database().expect("db"))).await).await;
}
