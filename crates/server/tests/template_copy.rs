//! copyTemplate: a template copied to another zone's image store is listed and usable there,
//! the hosts of that zone fetch that zone's file, and deleting one zone's copy leaves the
//! other (the origin's zone passes to the copy).

mod common;

use common::*;

fn file_of(store: &std::path::Path, t: &str) -> std::path::PathBuf {
    store.join("template").join(t).join(format!("{t}.qcow2"))
}

async fn zones_of(c: &Client, t: &str) -> Vec<(String, bool)> {
    let r = c
        .ok(&[
            ("command", "listTemplates"),
            ("templatefilter", "all"),
            ("id", t),
        ])
        .await;
    r["template"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|t| (s(&t["zoneid"]), t["isready"] == true))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_template_copied_to_another_zone_is_used_there_and_deleted_per_zone() {
    let ts = TestServer::start().await;
    let c = ts.admin.clone();
    let a = VmZone::new(&ts, 1).await;
    let b = kvm_zone::KvmZone::new(&ts, "b", "10.9.9.10").await;
    let t = a.template.clone();
    let origin_store = {
        let st = ts.server.as_ref().expect("running").state.clone();
        let mut conn = st.store.read().await.expect("db");
        let row = db::infra_get(&mut conn, db::Infra::Template, t.parse().expect("id"))
            .await
            .expect("get")
            .expect("row");
        std::path::PathBuf::from(row.attrs["path"].as_str().expect("path"))
    };
    let original = std::fs::read(&origin_store).expect("origin file");
    assert_eq!(zones_of(&c, &t).await, vec![(a.zone.clone(), true)]);
    let deploy_b = |c: Client, zone: String, t: String, o: String| async move {
        c.call(&[
            ("command", "deployVirtualMachine"),
            ("zoneid", &zone),
            ("templateid", &t),
            ("serviceofferingid", &o),
        ])
        .await
    };
    let r = deploy_b(c.clone(), b.zone.clone(), t.clone(), a.offering.clone()).await;
    assert!(r.text.contains("not available in zone"), "{}", r.text);

    // Refusals: no destination, an unknown zone, the same zone, a zone without an image
    // store, another account's template.
    c.err(&[("command", "copyTemplate"), ("id", &t)], 431).await;
    let unknown = uuid::Uuid::new_v4().to_string();
    c.err(
        &[
            ("command", "copyTemplate"),
            ("id", &t),
            ("destzoneid", &unknown),
        ],
        431,
    )
    .await;
    c.err(
        &[
            ("command", "copyTemplate"),
            ("id", &t),
            ("destzoneids", "not-a-uuid"),
        ],
        431,
    )
    .await;
    c.err(
        &[
            ("command", "copyTemplate"),
            ("id", &t),
            ("sourcezoneid", &a.zone),
            ("destzoneid", &a.zone),
        ],
        431,
    )
    .await;
    let bare = s(&c
        .ok(&[
            ("command", "createZone"),
            ("name", "bare"),
            ("networktype", "Advanced"),
            ("dns1", "8.8.8.8"),
            ("internaldns1", "10.0.0.1"),
        ])
        .await["zone"]["id"]);
    let e = c
        .err(
            &[
                ("command", "copyTemplate"),
                ("id", &t),
                ("destzoneid", &bare),
            ],
            431,
        )
        .await;
    assert!(e.contains("image store"), "{e}");
    let (_, _, user) = account_with_keys(&ts, &c, "tenant", None, "0").await;
    user.err(
        &[
            ("command", "copyTemplate"),
            ("id", &t),
            ("destzoneid", &b.zone),
        ],
        531,
    )
    .await;

    // The copy: listed in both zones, the file in zone b's image store.
    let j = c
        .job(&[
            ("command", "copyTemplate"),
            ("id", &t),
            ("sourcezoneid", &a.zone),
            ("destzoneid", &b.zone),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let v = &j["jobresult"]["template"];
    assert_eq!(v["id"], t.as_str(), "{j}");
    assert_eq!(v["zoneid"], b.zone.as_str(), "{j}");
    assert_eq!(v["isready"], true, "{j}");
    let mut zones = zones_of(&c, &t).await;
    zones.sort();
    let mut want = vec![(a.zone.clone(), true), (b.zone.clone(), true)];
    want.sort();
    assert_eq!(zones, want);
    let in_b = c
        .ok(&[
            ("command", "listTemplates"),
            ("templatefilter", "all"),
            ("zoneid", &b.zone),
        ])
        .await;
    assert_eq!(in_b["count"], 1, "{in_b}");
    let copy = file_of(&b.store, &t);
    assert_eq!(std::fs::read(&copy).expect("copy"), original);
    // Copying again changes nothing.
    let j = c
        .job(&[
            ("command", "copyTemplate"),
            ("id", &t),
            ("destzoneid", &b.zone),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    assert_eq!(zones_of(&c, &t).await.len(), 2);

    // The host of zone b is served zone b's file (marked here so the two differ).
    let mut marked = original.clone();
    marked.extend_from_slice(b"zone-b");
    std::fs::write(&copy, &marked).expect("mark");
    let got = ts.dir.path().join("fetched.qcow2");
    b.source
        .fetch(t.parse().expect("id"), "disk", &got)
        .await
        .expect("fetch");
    assert_eq!(std::fs::read(&got).expect("fetched"), marked);

    // Deploys in zone b pass the template check now.
    let r = deploy_b(c.clone(), b.zone.clone(), t.clone(), a.offering.clone()).await;
    assert!(!r.text.contains("Template"), "{}", r.text);

    // Deleting the origin's zone: the template lives on in zone b with b's file.
    let j = c
        .job(&[
            ("command", "deleteTemplate"),
            ("id", &t),
            ("zoneid", &a.zone),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    assert_eq!(zones_of(&c, &t).await, vec![(b.zone.clone(), true)]);
    assert!(!origin_store.exists(), "the origin's file is removed");
    assert!(copy.exists());
    let r = deploy_b(c.clone(), a.zone.clone(), t.clone(), a.offering.clone()).await;
    assert!(r.text.contains("not available in zone"), "{}", r.text);
    b.source
        .fetch(t.parse().expect("id"), "disk", &got)
        .await
        .expect("fetch after the origin went");
    assert_eq!(std::fs::read(&got).expect("fetched"), marked);
    // The last zone: the template is gone with its file.
    let j = c
        .job(&[
            ("command", "deleteTemplate"),
            ("id", &t),
            ("zoneid", &b.zone),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    assert!(zones_of(&c, &t).await.is_empty());
    assert!(!copy.exists());
    b.stop().await;
    ts.stop().await;
}
