//! Resource tags on templates and ISOs: createTags / deleteTags jobs, listTags filters and
//! scoping, the `tags` array in listTemplates, and CloudStack's refusals.

mod common;

use common::*;
use serde_json::Value;

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v["tag"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|t| {
                    format!(
                        "{}={}",
                        t["key"].as_str().unwrap_or(""),
                        t["value"].as_str().unwrap_or("")
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    k.sort();
    k
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tags_on_templates() {
    let ts = TestServer::start().await;
    let st = ts.server.as_ref().expect("running").state.clone();
    let z = server::up::ensure_zone(
        &st,
        ts.dir.path(),
        server::up::HostChoice::Simulator,
        &server::up::NoLocalAgent,
    )
    .await
    .map_err(|e| e.into_api())
    .expect("zone");
    let admin = ts.admin.clone();
    let dom = create_domain(&admin, "tenants", None).await;
    let (_, _, alice) = account_with_keys(&ts, &admin, "alice", Some(&dom), "0").await;
    let (_, _, bob) = account_with_keys(&ts, &admin, "bob", Some(&dom), "0").await;
    let files = ts.staging();
    let img = files.as_path().join("tiny.qcow2");
    let mut bytes = b"QFI\xfb".to_vec();
    bytes.resize(64 * 1024, 1);
    std::fs::write(&img, bytes).expect("write");
    let url = format!("file://{}", img.display());
    let mut ids = Vec::new();
    for name in ["t1", "t2"] {
        let r = admin
            .ok(&[
                ("command", "registerTemplate"),
                ("name", name),
                ("format", "QCOW2"),
                ("hypervisor", "KVM"),
                ("zoneid", &z.zone_id),
                ("url", &url),
                ("account", "alice"),
                ("domainid", &dom),
            ])
            .await;
        ids.push(r["template"][0]["id"].as_str().expect("id").to_string());
    }
    let both = format!("{},{}", ids[0], ids[1]);

    // createTags is a job; every resource gets every tag.
    let j = alice
        .job(&[
            ("command", "createTags"),
            ("resourcetype", "template"),
            ("resourceids", &both),
            ("tags[0].key", "env"),
            ("tags[0].value", "prod"),
            ("tags[1].key", "team"),
            ("tags[1].value", "db"),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    assert_eq!(j["jobresult"]["success"], true, "{j}");
    let l = alice.ok(&[("command", "listTags")]).await;
    assert_eq!(l["count"], 4);
    assert_eq!(l["tag"][0]["resourcetype"], "Template");
    assert_eq!(l["tag"][0]["account"], "alice");
    let l = alice
        .ok(&[("command", "listTags"), ("resourceid", &ids[0])])
        .await;
    assert_eq!(keys(&l), ["env=prod", "team=db"]);
    let l = alice
        .ok(&[("command", "listTags"), ("key", "env"), ("value", "prod")])
        .await;
    assert_eq!(l["count"], 2);
    // The template objects carry their tags.
    let t = alice
        .ok(&[
            ("command", "listTemplates"),
            ("templatefilter", "self"),
            ("id", &ids[0]),
        ])
        .await;
    let tags = t["template"][0]["tags"].as_array().expect("tags");
    assert_eq!(tags.len(), 2, "{t}");
    // Embedded tags are key and value only, as CloudStack's (the full form is listTags').
    assert_eq!(
        tags[0]
            .as_object()
            .map(|o| o.keys().cloned().collect::<Vec<_>>()),
        Some(vec!["key".to_string(), "value".to_string()]),
        "{t}"
    );

    // Refusals, before any job starts.
    let e = alice
        .err(
            &[
                ("command", "createTags"),
                ("resourcetype", "Template"),
                ("resourceids", &ids[0]),
                ("tags[0].key", "env"),
                ("tags[0].value", "dev"),
            ],
            431,
        )
        .await;
    assert!(e.contains("already"), "{e}");
    let e = alice
        .err(
            &[
                ("command", "createTags"),
                ("resourcetype", "Bogus"),
                ("resourceids", &ids[0]),
                ("tags[0].key", "a"),
                ("tags[0].value", "b"),
            ],
            431,
        )
        .await;
    assert!(e.contains("Invalid resource type"), "{e}");
    let e = alice
        .err(
            &[
                ("command", "createTags"),
                ("resourcetype", "Snapshot"),
                ("resourceids", &ids[0]),
                ("tags[0].key", "a"),
                ("tags[0].value", "b"),
            ],
            431,
        )
        .await;
    assert!(e.contains("not supported yet"), "{e}");
    alice
        .err(
            &[
                ("command", "createTags"),
                ("resourcetype", "ISO"),
                ("resourceids", &ids[0]),
                ("tags[0].key", "a"),
                ("tags[0].value", "b"),
            ],
            431,
        )
        .await;
    // Bob may not tag alice's template, nor see her tags.
    bob.err(
        &[
            ("command", "createTags"),
            ("resourcetype", "Template"),
            ("resourceids", &ids[0]),
            ("tags[0].key", "x"),
            ("tags[0].value", "y"),
        ],
        531,
    )
    .await;
    assert_eq!(
        bob.ok(&[("command", "listTags")]).await,
        serde_json::json!({})
    );
    // Admins see them with listall.
    let l = admin
        .ok(&[("command", "listTags"), ("listall", "true")])
        .await;
    assert_eq!(l["count"], 4);

    // deleteTags by key (and value), then all of a resource's tags.
    let j = alice
        .job(&[
            ("command", "deleteTags"),
            ("resourcetype", "Template"),
            ("resourceids", &ids[0]),
            ("tags[0].key", "env"),
            ("tags[0].value", "prod"),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let l = alice
        .ok(&[("command", "listTags"), ("resourceid", &ids[0])])
        .await;
    assert_eq!(keys(&l), ["team=db"]);
    let e = alice
        .err(
            &[
                ("command", "deleteTags"),
                ("resourcetype", "Template"),
                ("resourceids", &ids[0]),
                ("tags[0].key", "env"),
            ],
            431,
        )
        .await;
    assert!(e.contains("Unable to find any tags"), "{e}");
    alice
        .job(&[
            ("command", "deleteTags"),
            ("resourcetype", "Template"),
            ("resourceids", &ids[0]),
        ])
        .await;
    let l = alice.ok(&[("command", "listTags")]).await;
    assert_eq!(keys(&l), ["env=prod", "team=db"]);
    // Deleting the template deletes its tags.
    let j = alice
        .job(&[("command", "deleteTemplate"), ("id", &ids[1])])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    assert_eq!(
        alice.ok(&[("command", "listTags")]).await,
        serde_json::json!({})
    );
    ts.stop().await;
}
