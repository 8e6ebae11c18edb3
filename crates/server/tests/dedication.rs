//! Dedicated resources and the ImplicitDedicationPlanner (issue 19): a dedicated host is never
//! used by others and first by its owner, conflicts are refused, release gives it back; implicit
//! dedication gives each account hosts of its own.

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn dedicated_resources_are_kept_for_their_owner() {
    let ts = TestServer::start().await;
    let z = VmZone::new(&ts, 4).await;
    let c = &ts.admin;
    no_thresholds(c).await;
    let so = tiny_offering(c, "tiny-ded").await;
    let tenant = create_domain(c, "tenant", None).await;
    let (_, _, carol) = account_with_keys(&ts, c, "carol", Some(&tenant), "0").await;
    let (dave_acct, _, dave) = account_with_keys(&ts, c, "dave", None, "0").await;
    let h0 = z.hosts[0].0.clone();
    let deploy = |who: &Client, name: &str| {
        let (who, name) = (who.clone(), name.to_string());
        let (zone, tmpl, so) = (z.zone.clone(), z.template.clone(), so.clone());
        async move {
            let j = who
                .job(&[
                    ("command", "deployVirtualMachine"),
                    ("zoneid", &zone),
                    ("templateid", &tmpl),
                    ("serviceofferingid", &so),
                    ("name", &name),
                ])
                .await;
            assert_eq!(j["jobstatus"], 1, "{j}");
            s(&j["jobresult"]["virtualmachine"]["id"])
        }
    };
    let host_of = |id: String| async move { s(&vm_view(c, &id).await["hostid"]) };
    // Host 0 for the tenant domain.
    let j = c
        .job(&[
            ("command", "dedicateHost"),
            ("hostid", &h0),
            ("domainid", &tenant),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    assert_eq!(
        j["jobresult"]["dedicatedhost"]["hostid"],
        h0.as_str(),
        "{j}"
    );
    let l = c.ok(&[("command", "listDedicatedHosts")]).await;
    assert_eq!(l["count"], 1, "{l}");
    c.err(
        &[
            ("command", "dedicateHost"),
            ("hostid", &h0),
            ("domainid", &tenant),
        ],
        431,
    )
    .await;
    // Dave (ROOT) never lands there; Carol (tenant) lands there first.
    let mut dave_vms = Vec::new();
    for i in 0..4 {
        let id = deploy(&dave, &format!("dave{i}")).await;
        assert_ne!(
            host_of(id.clone()).await,
            h0,
            "dave's VM on the dedicated host"
        );
        dave_vms.push(id);
    }
    for i in 0..2 {
        let id = deploy(&carol, &format!("carol{i}")).await;
        assert_eq!(host_of(id).await, h0, "the owner's dedicated host first");
    }
    // Dave's VM cannot be migrated there; the host is not suitable for it.
    let found = c
        .ok(&[
            ("command", "findHostsForMigration"),
            ("virtualmachineid", &dave_vms[0]),
        ])
        .await;
    for h in found["host"].as_array().cloned().unwrap_or_default() {
        if h["id"] == h0.as_str() {
            assert_eq!(h["suitableformigration"], false, "{h}");
        }
    }
    let text = c
        .err(
            &[
                ("command", "migrateVirtualMachine"),
                ("virtualmachineid", &dave_vms[0]),
                ("hostid", &h0),
            ],
            533,
        )
        .await;
    assert!(text.contains("dedicated to another"), "{text}");
    // Conflicts: the cluster for Dave alone (host 0 is the tenant's); a host running Dave's VMs
    // for the tenant; the zone (Dave's VMs run there).
    let text = c
        .err(
            &[
                ("command", "dedicateCluster"),
                ("clusterid", &z.cluster),
                ("domainid", &tenant),
                ("account", "carol"),
            ],
            431,
        )
        .await;
    assert!(
        text.contains("a host in it is dedicated to another"),
        "{text}"
    );
    let dave_host = host_of(dave_vms[1].clone()).await;
    let text = c
        .err(
            &[
                ("command", "dedicateHost"),
                ("hostid", &dave_host),
                ("domainid", &tenant),
            ],
            431,
        )
        .await;
    assert!(text.contains("runs VMs of other accounts"), "{text}");
    let text = c
        .err(
            &[
                ("command", "dedicateZone"),
                ("zoneid", &z.zone),
                ("domainid", &tenant),
            ],
            431,
        )
        .await;
    assert!(text.contains("other accounts"), "{text}");
    // A domain admin can list what is dedicated to its domain, but cannot take or give
    // back infrastructure; users cannot either.
    let (_, _, tenant_admin) = account_with_keys(&ts, c, "tadmin", Some(&tenant), "2").await;
    let l = tenant_admin.ok(&[("command", "listDedicatedHosts")]).await;
    assert_eq!(l["count"], 1, "{l}");
    tenant_admin
        .err(
            &[
                ("command", "dedicateHost"),
                ("hostid", &dave_host),
                ("domainid", &tenant),
            ],
            401,
        )
        .await;
    tenant_admin
        .err(&[("command", "releaseDedicatedHost"), ("hostid", &h0)], 401)
        .await;
    // Users cannot dedicate.
    dave.err(
        &[
            ("command", "dedicateHost"),
            ("hostid", &dave_host),
            ("domainid", &tenant),
        ],
        401,
    )
    .await;
    let _ = dave_acct;
    // Released: Dave may use it again.
    let j = c
        .job(&[("command", "releaseDedicatedHost"), ("hostid", &h0)])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    c.err(&[("command", "releaseDedicatedHost"), ("hostid", &h0)], 431)
        .await;
    let l = c.ok(&[("command", "listDedicatedHosts")]).await;
    assert_eq!(l["count"].as_u64().unwrap_or(0), 0, "{l}");
    c.ok(&[
        ("command", "migrateVirtualMachine"),
        ("virtualmachineid", &dave_vms[0]),
        ("hostid", &h0),
    ])
    .await;
    ts.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn implicit_dedication_planner_keeps_hosts_per_account() {
    let ts = TestServer::start().await;
    let z = VmZone::new(&ts, 3).await;
    let c = &ts.admin;
    no_thresholds(c).await;
    let (_, _, erin) = account_with_keys(&ts, c, "erin", None, "0").await;
    let (_, _, fred) = account_with_keys(&ts, c, "fred", None, "0").await;
    let strict = s(&c
        .ok(&[
            ("command", "createServiceOffering"),
            ("name", "dedicated"),
            ("displaytext", "dedicated"),
            ("cpunumber", "1"),
            ("cpuspeed", "100"),
            ("memory", "64"),
            ("deploymentplanner", "ImplicitDedicationPlanner"),
        ])
        .await["serviceoffering"]["id"]);
    let plain = tiny_offering(c, "plain-implicit").await;
    c.err(
        &[
            ("command", "createServiceOffering"),
            ("name", "bad"),
            ("displaytext", "bad"),
            ("deploymentplanner", "NoSuchPlanner"),
        ],
        431,
    )
    .await;
    let deploy = |who: &Client, so: &str, name: &str| {
        let (who, so, name) = (who.clone(), so.to_string(), name.to_string());
        let (zone, tmpl) = (z.zone.clone(), z.template.clone());
        async move {
            who.job(&[
                ("command", "deployVirtualMachine"),
                ("zoneid", &zone),
                ("templateid", &tmpl),
                ("serviceofferingid", &so),
                ("name", &name),
            ])
            .await
        }
    };
    let host_of = |id: String| async move { s(&vm_view(c, &id).await["hostid"]) };
    // Erin's two strict VMs share one host; Fred's strict VM gets another empty host.
    let mut erin_hosts = Vec::new();
    for i in 0..2 {
        let j = deploy(&erin, &strict, &format!("e{i}")).await;
        assert_eq!(j["jobstatus"], 1, "{j}");
        erin_hosts.push(host_of(s(&j["jobresult"]["virtualmachine"]["id"])).await);
    }
    assert_eq!(
        erin_hosts[0], erin_hosts[1],
        "one host for the account's dedicated VMs"
    );
    let j = deploy(&fred, &strict, "f0").await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let fred_host = host_of(s(&j["jobresult"]["virtualmachine"]["id"])).await;
    assert_ne!(fred_host, erin_hosts[0]);
    // Ordinary VMs stay off both; with one host left they all go there.
    for i in 0..3 {
        let j = deploy(&fred, &plain, &format!("p{i}")).await;
        assert_eq!(j["jobstatus"], 1, "{j}");
        let h = host_of(s(&j["jobresult"]["virtualmachine"]["id"])).await;
        assert!(
            h != erin_hosts[0] && h != fred_host,
            "an ordinary VM on a dedicated host"
        );
    }
    // No empty or own host left for a third account: 533.
    let (_, _, gina) = account_with_keys(&ts, c, "gina", None, "0").await;
    let j = deploy(&gina, &strict, "g0").await;
    assert_eq!(j["jobresultcode"], 533, "{j}");
    // A root admin may name the planner on the deploy; a user may not.
    let text = erin
        .err(
            &[
                ("command", "deployVirtualMachine"),
                ("zoneid", &z.zone),
                ("templateid", &z.template),
                ("serviceofferingid", &plain),
                ("deploymentplanner", "UserDispersingPlanner"),
            ],
            531,
        )
        .await;
    assert!(text.contains("root admin"), "{text}");
    let j = c
        .job(&[
            ("command", "deployVirtualMachine"),
            ("zoneid", &z.zone),
            ("templateid", &z.template),
            ("serviceofferingid", &plain),
            ("deploymentplanner", "UserDispersingPlanner"),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    ts.stop().await;
}
