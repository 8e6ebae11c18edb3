//! dedicatePublicIpRange / releasePublicIpRange (SQLite and PostgreSQL): a dedicated public
//! range's addresses go to its account first and to no other; a range another account holds
//! an address of is not dedicated; released, it serves everyone again.

mod common;

use common::*;

async fn ranges(ts: TestServer) {
    let admin = ts.admin.clone();
    let z = VmZone::new(&ts, 1).await;
    let (_, _, a) = account_with_keys(&ts, &admin, "ranger", None, "0").await;
    let (_, _, b) = account_with_keys(&ts, &admin, "other", None, "0").await;
    let na = s(&deploy_vm(&a, &z, "ra", &[]).await["nic"][0]["networkid"]);
    let nb = s(&deploy_vm(&b, &z, "rb", &[]).await["nic"][0]["networkid"]);
    let range = s(&admin
        .ok(&[
            ("command", "createVlanIpRange"),
            ("zoneid", &z.zone),
            ("forvirtualnetwork", "true"),
            ("vlan", "untagged"),
            ("gateway", "198.18.7.1"),
            ("netmask", "255.255.255.0"),
            ("startip", "198.18.7.10"),
            ("endip", "198.18.7.12"),
        ])
        .await["vlan"]["id"]);
    let dom = s(&admin
        .ok(&[
            ("command", "listAccounts"),
            ("listall", "true"),
            ("name", "ranger"),
        ])
        .await["account"][0]["domainid"]);
    let r = admin
        .ok(&[
            ("command", "dedicatePublicIpRange"),
            ("id", &range),
            ("account", "ranger"),
            ("domainid", &dom),
        ])
        .await;
    assert_eq!(r["vlan"]["account"], "ranger", "{r}");
    // The account's addresses come from its range first; the other account never gets one.
    let ip = |c: &Client, net: &str| {
        let c = Client::new(&c.base, &c.key, &c.secret);
        let net = net.to_string();
        async move {
            let j = c
                .job(&[("command", "associateIpAddress"), ("networkid", &net)])
                .await;
            assert_eq!(j["jobstatus"], 1, "{j}");
            s(&j["jobresult"]["ipaddress"]["ipaddress"])
        }
    };
    let mine = ip(&a, &na).await;
    assert!(mine.starts_with("198.18.7."), "{mine}");
    // An address of the range the account did not take.
    let spare = ["198.18.7.10", "198.18.7.11", "198.18.7.12"]
        .into_iter()
        .find(|x| *x != mine)
        .expect("a spare address");
    for _ in 0..3 {
        assert!(!ip(&b, &nb).await.starts_with("198.18.7."));
    }
    // Users may not dedicate.
    a.err(
        &[
            ("command", "dedicatePublicIpRange"),
            ("id", &range),
            ("account", "ranger"),
        ],
        401,
    )
    .await;
    // Released: everyone's again — the other account may take one of its addresses — and
    // then the range can't be dedicated back while that account holds it.
    let want = |c: &Client, net: &str, addr: &str| {
        let c = Client::new(&c.base, &c.key, &c.secret);
        let (net, addr) = (net.to_string(), addr.to_string());
        async move {
            c.call(&[
                ("command", "associateIpAddress"),
                ("networkid", &net),
                ("ipaddress", &addr),
            ])
            .await
        }
    };
    let r = want(&b, &nb, spare).await;
    assert_eq!(
        r.status, 431,
        "a dedicated address went to another account: {}",
        r.text
    );
    assert!(
        r.text.contains("dedicated to another account"),
        "{}",
        r.text
    );
    admin
        .ok(&[("command", "releasePublicIpRange"), ("id", &range)])
        .await;
    let l = admin
        .ok(&[("command", "listVlanIpRanges"), ("id", &range)])
        .await;
    assert!(l["vlaniprange"][0].get("account").is_none(), "{l}");
    let r = want(&b, &nb, spare).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let j = b.wait_job(&s(&r.inner()["jobid"])).await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let e = admin
        .err(
            &[
                ("command", "dedicatePublicIpRange"),
                ("id", &range),
                ("account", "ranger"),
                ("domainid", &dom),
            ],
            431,
        )
        .await;
    assert!(e.contains("another account"), "{e}");
    admin
        .err(&[("command", "releasePublicIpRange"), ("id", &range)], 431)
        .await;
    ts.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dedicated_public_range_serves_its_account_only() {
    ranges(TestServer::start().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dedicated_public_range_serves_its_account_only_postgres() {
    let Some(pg) = testkit::Postgres::start_for_test() else {
        return;
    };
    ranges(TestServer::start_with(Some(pg.fresh_database().expect("db"))).await).await;
}

/// updateVlanIpRange grows and shrinks a public range: its new addresses can be taken, the
/// ones it dropped can't; an allocated address pins it; overlaps and a gateway inside it are
/// refused.
async fn update(ts: TestServer) {
    let admin = ts.admin.clone();
    let z = VmZone::new(&ts, 1).await;
    let (_, _, a) = account_with_keys(&ts, &admin, "grower", None, "0").await;
    let net = s(&deploy_vm(&a, &z, "ga", &[]).await["nic"][0]["networkid"]);
    let mk = |start: &str, end: &str| {
        let admin = admin.clone();
        let (zone, start, end) = (z.zone.clone(), start.to_string(), end.to_string());
        async move {
            s(&admin
                .ok(&[
                    ("command", "createVlanIpRange"),
                    ("zoneid", &zone),
                    ("forvirtualnetwork", "true"),
                    ("vlan", "untagged"),
                    ("gateway", "198.18.8.1"),
                    ("netmask", "255.255.255.0"),
                    ("startip", &start),
                    ("endip", &end),
                ])
                .await["vlan"]["id"])
        }
    };
    let range = mk("198.18.8.20", "198.18.8.22").await;
    let other = mk("198.18.8.30", "198.18.8.31").await;
    let take = |addr: &str| {
        let c = Client::new(&a.base, &a.key, &a.secret);
        let (net, addr) = (net.clone(), addr.to_string());
        async move {
            c.call(&[
                ("command", "associateIpAddress"),
                ("networkid", &net),
                ("ipaddress", &addr),
            ])
            .await
        }
    };
    let r = take("198.18.8.21").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(a.wait_job(&s(&r.inner()["jobid"])).await["jobstatus"], 1);
    // Grown at the end, shrunk at the start.
    let v = admin
        .ok(&[
            ("command", "updateVlanIpRange"),
            ("id", &range),
            ("startip", "198.18.8.21"),
            ("endip", "198.18.8.25"),
        ])
        .await;
    assert_eq!(v["vlan"]["startip"], "198.18.8.21", "{v}");
    assert_eq!(v["vlan"]["endip"], "198.18.8.25", "{v}");
    let count = |addr: &str| {
        let admin = admin.clone();
        let addr = addr.to_string();
        async move {
            admin
                .ok(&[
                    ("command", "listPublicIpAddresses"),
                    ("allocatedonly", "false"),
                    ("ipaddress", &addr),
                ])
                .await["count"]
                .as_u64()
                .unwrap_or(0)
        }
    };
    assert_eq!(count("198.18.8.25").await, 1);
    assert_eq!(count("198.18.8.20").await, 0);
    let r = take("198.18.8.24").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(a.wait_job(&s(&r.inner()["jobid"])).await["jobstatus"], 1);
    assert_ne!(take("198.18.8.20").await.status, 200);
    // updateIpAddress: hidden from display, by its owner only.
    let ipid = s(&a
        .ok(&[
            ("command", "listPublicIpAddresses"),
            ("ipaddress", "198.18.8.24"),
        ])
        .await["publicipaddress"][0]["id"]);
    let j = a
        .job(&[
            ("command", "updateIpAddress"),
            ("id", &ipid),
            ("fordisplay", "false"),
        ])
        .await;
    assert_eq!(j["jobresult"]["ipaddress"]["fordisplay"], false, "{j}");
    let (_, _, stranger) = account_with_keys(&ts, &admin, "notmine", None, "0").await;
    stranger
        .err(&[("command", "updateIpAddress"), ("id", &ipid)], 531)
        .await;
    // .21 is allocated: the range can't leave it out.
    let e = admin
        .err(
            &[
                ("command", "updateVlanIpRange"),
                ("id", &range),
                ("startip", "198.18.8.22"),
            ],
            536,
        )
        .await;
    assert!(e.contains("outside"), "{e}");
    let e = admin
        .err(
            &[
                ("command", "updateVlanIpRange"),
                ("id", &range),
                ("endip", "198.18.8.30"),
            ],
            431,
        )
        .await;
    assert!(e.contains("overlaps"), "{e}");
    admin
        .err(
            &[
                ("command", "updateVlanIpRange"),
                ("id", &range),
                ("gateway", "198.18.8.23"),
            ],
            431,
        )
        .await;
    admin
        .err(
            &[
                ("command", "updateVlanIpRange"),
                ("id", &other),
                ("endip", "198.18.8.29"),
            ],
            431,
        )
        .await;
    a.err(&[("command", "updateVlanIpRange"), ("id", &range)], 401)
        .await;
    ts.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn update_vlan_ip_range_grows_and_shrinks() {
    update(TestServer::start().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn update_vlan_ip_range_grows_and_shrinks_postgres() {
    let Some(pg) = testkit::Postgres::start_for_test() else {
        return;
    };
    update(TestServer::start_with(Some(pg.fresh_database().expect("db"))).await).await;
}
