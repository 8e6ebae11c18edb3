//! Settings at a scope (SQLite, and PostgreSQL with two servers): listConfigurations with a
//! scope lists what may be set there and the value that applies (inherited until set);
//! updateConfiguration sets it for that zone, cluster or account only, and the code honours
//! it (enable.dynamic.scale.vm per zone, allow.user.expunge.recover.vm per account or domain);
//! resetConfiguration goes back to inheriting; a global-only setting is refused at a scope.

mod common;

use common::*;
use serde_json::Value;

fn value(v: &Value, name: &str) -> String {
    v["configuration"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["name"] == name))
        .map(|c| s(&c["value"]))
        .unwrap_or_else(|| panic!("{name} not listed: {v}"))
}

async fn scoped(ts: TestServer, other: Option<Client>) {
    let admin = ts.admin.clone();
    let z = VmZone::new(&ts, 1).await;
    let list_at = |c: &Client, k: &'static str, id: &str| {
        let c = Client::new(&c.base, &c.key, &c.secret);
        let id = id.to_string();
        async move {
            c.ok(&[("command", "listConfigurations"), (k, id.as_str())])
                .await
        }
    };
    // At a zone: only what may be set per zone, inheriting the global value.
    let l = list_at(&admin, "zoneid", &z.zone).await;
    assert_eq!(value(&l, "enable.dynamic.scale.vm"), "false");
    assert!(l["configuration"]
        .as_array()
        .expect("list")
        .iter()
        .all(|c| c["scope"] == "zone" && c["id"] == z.zone.as_str()));
    assert!(!l.to_string().contains("\"default.page.size\""), "{l}");
    let e = admin
        .err(
            &[
                ("command", "updateConfiguration"),
                ("name", "default.page.size"),
                ("value", "10"),
                ("zoneid", &z.zone),
            ],
            431,
        )
        .await;
    assert!(e.contains("global"), "{e}");
    admin
        .err(
            &[
                ("command", "listConfigurations"),
                ("zoneid", &z.zone),
                ("clusterid", &z.cluster),
            ],
            431,
        )
        .await;

    // Dynamic scaling on for this zone only: honoured there.
    let (_, _, u) = account_with_keys(&ts, &admin, "scopy", None, "0").await;
    let vm = deploy_vm(&u, &z, "sc1", &[]).await;
    let big = s(&admin
        .ok(&[
            ("command", "createServiceOffering"),
            ("name", "big"),
            ("displaytext", "big"),
            ("cpunumber", "2"),
            ("cpuspeed", "1000"),
            ("memory", "1024"),
        ])
        .await["serviceoffering"]["id"]);
    let scale = [
        ("command", "scaleVirtualMachine"),
        ("id", vm["id"].as_str().expect("id")),
        ("serviceofferingid", big.as_str()),
    ];
    u.err(&scale, 431).await;
    let r = admin
        .ok(&[
            ("command", "updateConfiguration"),
            ("name", "enable.dynamic.scale.vm"),
            ("value", "true"),
            ("zoneid", &z.zone),
        ])
        .await;
    assert_eq!(r["configuration"]["value"], "true", "{r}");
    assert_eq!(r["configuration"]["scope"], "zone", "{r}");
    let global = admin
        .ok(&[
            ("command", "listConfigurations"),
            ("name", "enable.dynamic.scale.vm"),
        ])
        .await;
    assert_eq!(value(&global, "enable.dynamic.scale.vm"), "false");
    // Another server on the same database sees the zone's value at once.
    if let Some(o) = &other {
        assert_eq!(
            value(
                &list_at(o, "zoneid", &z.zone).await,
                "enable.dynamic.scale.vm"
            ),
            "true"
        );
    }
    let j = u.job(&scale).await;
    assert_eq!(j["jobstatus"], 1, "{j}");

    // Cluster scope inherits from the zone until set.
    let l = list_at(&admin, "clusterid", &z.cluster).await;
    assert_eq!(value(&l, "cpu.overprovisioning.factor"), "1.0");

    // Account and domain scope: a domain's users may expunge; others may not.
    let d = create_domain(&admin, "scopes", None).await;
    let (_, _, du) = account_with_keys(&ts, &admin, "dscopy", Some(&d), "0").await;
    admin
        .ok(&[
            ("command", "updateConfiguration"),
            ("name", "allow.user.expunge.recover.vm"),
            ("value", "true"),
            ("domainid", &d),
        ])
        .await;
    let v1 = deploy_vm(&du, &z, "dx1", &[]).await;
    let j = du
        .job(&[
            ("command", "destroyVirtualMachine"),
            ("id", v1["id"].as_str().expect("id")),
            ("expunge", "true"),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    u.err(
        &[
            ("command", "destroyVirtualMachine"),
            ("id", vm["id"].as_str().expect("id")),
            ("expunge", "true"),
        ],
        531,
    )
    .await;

    // Reset: the zone inherits the global value again, and scaling is refused there.
    let r = admin
        .ok(&[
            ("command", "resetConfiguration"),
            ("name", "enable.dynamic.scale.vm"),
            ("zoneid", &z.zone),
        ])
        .await;
    assert_eq!(r["configuration"]["value"], "false", "{r}");
    let l = list_at(&admin, "zoneid", &z.zone).await;
    assert_eq!(value(&l, "enable.dynamic.scale.vm"), "false");
    // A global reset: back to the default.
    admin
        .ok(&[
            ("command", "updateConfiguration"),
            ("name", "vm.password.length"),
            ("value", "12"),
        ])
        .await;
    let r = admin
        .ok(&[
            ("command", "resetConfiguration"),
            ("name", "vm.password.length"),
        ])
        .await;
    assert_eq!(
        r["configuration"]["value"], r["configuration"]["defaultvalue"],
        "{r}"
    );
    ts.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn settings_apply_per_zone_cluster_and_account() {
    scoped(TestServer::start().await, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn settings_apply_per_zone_cluster_and_account_postgres_two_servers() {
    let Some(pg) = testkit::Postgres::start_for_test() else {
        return;
    };
    let ts = TestServer::start_with(Some(pg.fresh_database().expect("db"))).await;
    let other = ts.join().await;
    let c = other.admin.clone();
    scoped(ts, Some(c)).await;
    other.stop().await;
}
