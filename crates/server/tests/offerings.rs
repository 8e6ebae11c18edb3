//! Offerings through the API: the seeded defaults, creation rules, immutability, scoping to
//! domains, and deletion.

mod common;

use common::*;
use serde_json::Value;

fn count(v: &Value) -> u64 {
    v["count"].as_u64().unwrap_or(0)
}

fn names(v: &Value, key: &str) -> Vec<String> {
    v[key]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn defaults_rules_scoping_and_deletion() {
    let ts = TestServer::start().await;
    let c = &ts.admin;

    // Defaults CloudStack seeds, found by name as Marvin and clients do.
    let so = c.ok(&[("command", "listServiceOfferings")]).await;
    assert_eq!(
        names(&so, "serviceoffering"),
        vec!["Small Instance", "Medium Instance"]
    );
    let small = &so["serviceoffering"][0];
    assert_eq!(
        (
            small["cpunumber"].as_i64(),
            small["cpuspeed"].as_i64(),
            small["memory"].as_i64(),
            small["iscustomized"].as_bool()
        ),
        (Some(1), Some(500), Some(512), Some(false))
    );
    let sys = c
        .ok(&[("command", "listServiceOfferings"), ("issystem", "true")])
        .await;
    assert_eq!(sys["serviceoffering"][0]["systemvmtype"], "domainrouter");
    let d = c
        .ok(&[("command", "listDiskOfferings"), ("name", "Small")])
        .await;
    assert_eq!(d["diskoffering"][0]["disksize"], 5);
    let custom = c
        .ok(&[("command", "listDiskOfferings"), ("name", "Custom")])
        .await;
    assert_eq!(custom["diskoffering"][0]["iscustomized"], true);
    assert_eq!(count(&c.ok(&[("command", "listDiskOfferings")]).await), 4);
    let req = c
        .ok(&[
            ("command", "listNetworkOfferings"),
            ("name", "DefaultIsolatedNetworkOfferingWithSourceNatService"),
        ])
        .await;
    let no = &req["networkoffering"][0];
    assert_eq!(
        (
            no["availability"].as_str(),
            no["state"].as_str(),
            no["guestiptype"].as_str(),
            no["isdefault"].as_bool(),
            no["egressdefaultpolicy"].as_bool()
        ),
        (
            Some("Required"),
            Some("Enabled"),
            Some("Isolated"),
            Some(true),
            Some(false)
        )
    );
    let snat = no["service"]
        .as_array()
        .expect("services")
        .iter()
        .find(|s| s["name"] == "SourceNat")
        .expect("SourceNat");
    assert_eq!(snat["provider"][0]["name"], "VirtualRouter");
    assert_eq!(
        count(
            &c.ok(&[("command", "listNetworkOfferings"), ("guestiptype", "L2")])
                .await
        ),
        4
    );
    assert_eq!(
        count(
            &c.ok(&[
                ("command", "listNetworkOfferings"),
                ("sourcenatsupported", "true"),
                ("forvpc", "false")
            ])
            .await
        ),
        1
    );
    assert_eq!(
        count(
            &c.ok(&[
                ("command", "listNetworkOfferings"),
                ("supportedservices", "SecurityGroup")
            ])
            .await
        ),
        1
    );

    // Service offerings.
    c.err(
        &[
            ("command", "createServiceOffering"),
            ("name", "bad"),
            ("cpunumber", "1"),
            ("cpuspeed", "100"),
            ("memory", "0"),
        ],
        431,
    )
    .await;
    c.err(
        &[
            ("command", "createServiceOffering"),
            ("name", "bad"),
            ("cpunumber", "1"),
            ("cpuspeed", "100"),
            ("memory", "128"),
            ("storagetype", "nfs"),
        ],
        431,
    )
    .await;
    c.err(
        &[
            ("command", "createServiceOffering"),
            ("name", "bad"),
            ("deploymentplanner", "Magic"),
        ],
        431,
    )
    .await;
    let tiny = c
        .ok(&[
            ("command", "createServiceOffering"),
            ("name", "tiny"),
            ("cpunumber", "1"),
            ("cpuspeed", "100"),
            ("memory", "128"),
            ("hosttags", "ssd"),
            ("tags", "fast"),
            ("offerha", "true"),
            ("storagetype", "LOCAL"),
        ])
        .await["serviceoffering"]
        .clone();
    assert_eq!(
        (
            tiny["displaytext"].as_str(),
            tiny["storagetype"].as_str(),
            tiny["hosttags"].as_str(),
            tiny["storagetags"].as_str(),
            tiny["offerha"].as_bool()
        ),
        (
            Some("tiny"),
            Some("local"),
            Some("ssd"),
            Some("fast"),
            Some(true)
        )
    );
    let cust = c
        .ok(&[
            ("command", "createServiceOffering"),
            ("name", "flex"),
            ("customized", "true"),
        ])
        .await;
    assert_eq!(cust["serviceoffering"]["iscustomized"], true);
    let tid = tiny["id"].as_str().expect("id").to_string();
    // Only names change; other parameters are not part of update.
    let up = c
        .ok(&[
            ("command", "updateServiceOffering"),
            ("id", &tid),
            ("name", "tiny2"),
            ("displaytext", "Tiny"),
            ("cpunumber", "8"),
        ])
        .await;
    assert_eq!(
        (
            up["serviceoffering"]["name"].as_str(),
            up["serviceoffering"]["displaytext"].as_str(),
            up["serviceoffering"]["cpunumber"].as_i64()
        ),
        (Some("tiny2"), Some("Tiny"), Some(1))
    );
    assert_eq!(
        count(
            &c.ok(&[("command", "listServiceOfferings"), ("memory", "1024")])
                .await
        ),
        2,
        "Medium and the custom one"
    );

    // Disk offerings.
    c.err(
        &[("command", "createDiskOffering"), ("name", "nosize")],
        431,
    )
    .await;
    c.err(
        &[
            ("command", "createDiskOffering"),
            ("name", "both"),
            ("disksize", "5"),
            ("customized", "true"),
        ],
        431,
    )
    .await;
    c.err(
        &[
            ("command", "createDiskOffering"),
            ("name", "iops"),
            ("disksize", "5"),
            ("miniops", "500"),
            ("maxiops", "100"),
        ],
        431,
    )
    .await;
    let dk = c
        .ok(&[
            ("command", "createDiskOffering"),
            ("name", "fast10"),
            ("disksize", "10"),
            ("tags", "ssd"),
            ("provisioningtype", "sparse"),
        ])
        .await["diskoffering"]
        .clone();
    assert_eq!(
        (
            dk["disksize"].as_i64(),
            dk["tags"].as_str(),
            dk["provisioningtype"].as_str()
        ),
        (Some(10), Some("ssd"), Some("sparse"))
    );

    // Network offerings.
    let base = [
        ("command", "createNetworkOffering"),
        ("traffictype", "GUEST"),
    ];
    let with = |extra: &[(&'static str, &'static str)]| -> Vec<(&'static str, &'static str)> {
        base.iter().chain(extra.iter()).copied().collect()
    };
    c.err(
        &with(&[
            ("name", "x"),
            ("guestiptype", "Shared"),
            ("supportedservices", "Dhcp,SourceNat"),
        ]),
        431,
    )
    .await;
    c.err(
        &with(&[
            ("name", "x"),
            ("guestiptype", "L2"),
            ("supportedservices", "Dhcp"),
        ]),
        431,
    )
    .await;
    c.err(
        &with(&[
            ("name", "x"),
            ("guestiptype", "Isolated"),
            ("supportedservices", "Dhcp,SecurityGroup"),
        ]),
        431,
    )
    .await;
    c.err(
        &with(&[
            ("name", "x"),
            ("guestiptype", "Isolated"),
            ("supportedservices", "Teleport"),
        ]),
        431,
    )
    .await;
    c.err(
        &with(&[
            ("name", "x"),
            ("guestiptype", "Isolated"),
            ("supportedservices", "Dhcp,SourceNat"),
            ("availability", "Required"),
        ]),
        431,
    )
    .await;
    c.err(
        &[
            ("command", "createNetworkOffering"),
            ("traffictype", "Public"),
            ("name", "x"),
            ("guestiptype", "Isolated"),
        ],
        431,
    )
    .await;
    c.err(
        &with(&[
            ("name", "x"),
            ("guestiptype", "Isolated"),
            ("supportedservices", "Dhcp"),
            ("serviceproviderlist[0].service", "Lb"),
            ("serviceproviderlist[0].provider", "VirtualRouter"),
        ]),
        431,
    )
    .await;
    let mine = c
        .ok(&with(&[
            ("name", "iso-lb"),
            ("guestiptype", "isolated"),
            ("supportedservices", "Dhcp,Dns,SourceNat,Lb"),
            ("serviceproviderlist[0].service", "Lb"),
            ("serviceproviderlist[0].provider", "InternalLbVm"),
            ("egressdefaultpolicy", "false"),
        ]))
        .await["networkoffering"]
        .clone();
    assert_eq!(
        (
            mine["state"].as_str(),
            mine["availability"].as_str(),
            mine["guestiptype"].as_str()
        ),
        (Some("Disabled"), Some("Optional"), Some("Isolated"))
    );
    let lb = mine["service"]
        .as_array()
        .expect("s")
        .iter()
        .find(|s| s["name"] == "Lb")
        .expect("lb");
    assert_eq!(lb["provider"][0]["name"], "InternalLbVm");
    let nid = mine["id"].as_str().expect("id").to_string();
    let en = c
        .ok(&[
            ("command", "updateNetworkOffering"),
            ("id", &nid),
            ("state", "enabled"),
        ])
        .await;
    assert_eq!(en["networkoffering"]["state"], "Enabled");
    c.err(
        &[
            ("command", "updateNetworkOffering"),
            ("id", &nid),
            ("availability", "Required"),
        ],
        431,
    )
    .await;

    // Domain-scoped offerings are seen only in that domain's subtree.
    let dom = create_domain(c, "tenants", None).await;
    let other = create_domain(c, "others", None).await;
    let (_, _, da) = account_with_keys(&ts, c, "tenantadmin", Some(&dom), "2").await;
    let (_, _, inside) = account_with_keys(&ts, c, "tenantuser", Some(&dom), "0").await;
    let (_, _, outside) = account_with_keys(&ts, c, "otheruser", Some(&other), "0").await;
    da.err(
        &[
            ("command", "createServiceOffering"),
            ("name", "public-by-da"),
            ("cpunumber", "1"),
            ("cpuspeed", "100"),
            ("memory", "128"),
        ],
        431,
    )
    .await;
    da.err(
        &[
            ("command", "createServiceOffering"),
            ("name", "x"),
            ("cpunumber", "1"),
            ("cpuspeed", "100"),
            ("memory", "128"),
            ("domainid", &other),
        ],
        531,
    )
    .await;
    let scoped = da
        .ok(&[
            ("command", "createServiceOffering"),
            ("name", "tenant-only"),
            ("cpunumber", "1"),
            ("cpuspeed", "100"),
            ("memory", "128"),
            ("domainid", &dom),
        ])
        .await;
    assert_eq!(scoped["serviceoffering"]["domain"], "tenants");
    assert!(names(
        &inside.ok(&[("command", "listServiceOfferings")]).await,
        "serviceoffering"
    )
    .contains(&"tenant-only".to_string()));
    assert!(!names(
        &outside.ok(&[("command", "listServiceOfferings")]).await,
        "serviceoffering"
    )
    .contains(&"tenant-only".to_string()));
    inside
        .err(
            &[("command", "listServiceOfferings"), ("issystem", "true")],
            531,
        )
        .await;
    inside
        .err(
            &[
                ("command", "createDiskOffering"),
                ("name", "x"),
                ("disksize", "1"),
            ],
            401,
        )
        .await;

    // Deletion: system defaults and default network offerings stay (as in CloudStack); the
    // seeded compute and disk offerings may go like any other.
    let router = sys["serviceoffering"][0]["id"]
        .as_str()
        .expect("id")
        .to_string();
    c.err(
        &[("command", "deleteServiceOffering"), ("id", &router)],
        431,
    )
    .await;
    c.err(
        &[
            ("command", "deleteNetworkOffering"),
            ("id", no["id"].as_str().expect("id")),
        ],
        431,
    )
    .await;
    assert_eq!(
        c.ok(&[("command", "deleteServiceOffering"), ("id", &tid)])
            .await["success"],
        true
    );
    assert_eq!(
        c.ok(&[("command", "listServiceOfferings"), ("id", &tid)])
            .await,
        serde_json::json!({})
    );
    c.ok(&[
        ("command", "deleteDiskOffering"),
        ("id", dk["id"].as_str().expect("id")),
    ])
    .await;
    c.ok(&[("command", "deleteNetworkOffering"), ("id", &nid)])
        .await;
    // Seeding happens once: a restart does not duplicate the defaults.
    let ts = ts.restart().await;
    assert_eq!(
        count(&ts.admin.ok(&[("command", "listDiskOfferings")]).await),
        4
    );
    ts.stop().await;
}

/// `domainid` lists the offerings scoped to that domain; with `isrecursive=true` also those
/// of its subdomains.
#[tokio::test]
async fn offerings_of_a_domain_and_its_subdomains() {
    let ts = TestServer::start().await;
    let c = &ts.admin;
    let parent = create_domain(c, "osp", None).await;
    let child = create_domain(c, "osc", Some(&parent)).await;
    c.ok(&[
        ("command", "createServiceOffering"),
        ("name", "child-only"),
        ("cpunumber", "1"),
        ("cpuspeed", "500"),
        ("memory", "128"),
        ("domainid", &child),
    ])
    .await;
    c.ok(&[
        ("command", "createDiskOffering"),
        ("name", "child-disk"),
        ("disksize", "1"),
        ("domainid", &child),
    ])
    .await;
    for (cmd, key, want) in [
        ("listServiceOfferings", "serviceoffering", "child-only"),
        ("listDiskOfferings", "diskoffering", "child-disk"),
    ] {
        let direct = c.ok(&[("command", cmd), ("domainid", &parent)]).await;
        assert!(names(&direct, key).is_empty(), "{direct}");
        let deep = c
            .ok(&[
                ("command", cmd),
                ("domainid", &parent),
                ("isrecursive", "true"),
            ])
            .await;
        assert_eq!(names(&deep, key), vec![want], "{deep}");
    }
    ts.stop().await;
}
