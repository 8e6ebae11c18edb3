//! Internal load balancers through the API (SQLite and PostgreSQL): createLoadBalancer
//! scheme=Internal on a VPC tier — the source address reserved against the tier's VMs (the
//! next free one, or the one asked for), listLoadBalancers with its rule and instances,
//! assignToLoadBalancerRule, deleteLoadBalancer giving the address back — and what the VPC
//! router's host is given: the address on the tier's interface, haproxy bound to it, the
//! name `<lb>.<vpc domain>` in dnsmasq, the input chain passing other tiers through the ACLs.
//! Refusals: outside a VPC, another tenant's tier, a taken address, a public LB on the tier,
//! deleting a tier that still has one.

mod common;

use common::*;
use serde_json::Value;

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn internal_load_balancers() {
    ilb_api(TestServer::start().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn internal_load_balancers_postgres() {
    let Some(pg) = testkit::Postgres::start_for_test() else {
        return;
    };
    ilb_api(TestServer::start_with(Some(pg.fresh_database().expect("db"))).await).await;
}

async fn tier(
    c: &Client,
    z: &VmZone,
    off: &str,
    vpc: &str,
    name: &str,
    gw: &str,
    acl: &str,
) -> String {
    s(&c.ok(&[
        ("command", "createNetwork"),
        ("name", name),
        ("networkofferingid", off),
        ("zoneid", &z.zone),
        ("vpcid", vpc),
        ("gateway", gw),
        ("netmask", "255.255.255.0"),
        ("aclid", acl),
    ])
    .await["network"]["id"])
}

/// Deploys a VM that must fail (refused at once, or its job fails); the error text.
async fn deploy_fails(c: &Client, params: &[(&str, &str)]) -> String {
    let r = c.call(params).await;
    if r.status != 200 {
        return r.inner()["errortext"].as_str().unwrap_or("").to_string();
    }
    let id = s(&r.inner()["jobid"]);
    let j = c.wait_job(&id).await;
    assert_eq!(j["jobstatus"], 2, "{j}");
    s(&j["jobresult"]["errortext"])
}

/// createLoadBalancer on tier `app` (instances and source address there).
fn create<'a>(
    app: &'a str,
    name: &'a str,
    ip: Option<&'a str>,
    port: &'a str,
) -> Vec<(&'a str, &'a str)> {
    let mut p = vec![
        ("command", "createLoadBalancer"),
        ("name", name),
        ("scheme", "Internal"),
        ("algorithm", "roundrobin"),
        ("sourceport", port),
        ("instanceport", "8080"),
        ("networkid", app),
        ("sourceipaddressnetworkid", app),
    ];
    if let Some(ip) = ip {
        p.push(("sourceipaddress", ip));
    }
    p
}

async fn ilb_api(ts: TestServer) {
    let admin = &ts.admin;
    let z = VmZone::new(&ts, 2).await;
    let (_, _, alice) = account_with_keys(&ts, admin, "alice", None, "0").await;
    let (_, _, bob) = account_with_keys(&ts, admin, "bob", None, "0").await;
    let off = s(&admin
        .ok(&[("command", "listVPCOfferings"), ("isdefault", "true")])
        .await["vpcoffering"][0]["id"]);
    let vpc = s(&alice
        .job(&[
            ("command", "createVPC"),
            ("name", "shop"),
            ("cidr", "10.70.0.0/16"),
            ("vpcofferingid", &off),
            ("zoneid", &z.zone),
            ("networkdomain", "shop.internal"),
        ])
        .await["jobresult"]["vpc"]["id"]);
    let allow = s(&alice
        .ok(&[
            ("command", "listNetworkACLLists"),
            ("name", "default_allow"),
        ])
        .await["networkacllist"][0]["id"]);
    let tier_off = s(&admin
        .ok(&[
            ("command", "listNetworkOfferings"),
            ("name", "DefaultIsolatedNetworkOfferingForVpcNetworks"),
        ])
        .await["networkoffering"][0]["id"]);
    let ilb_off = s(&admin
        .ok(&[
            ("command", "listNetworkOfferings"),
            (
                "name",
                "DefaultIsolatedNetworkOfferingForVpcNetworksWithInternalLB",
            ),
        ])
        .await["networkoffering"][0]["id"]);
    let web = tier(&alice, &z, &tier_off, &vpc, "web", "10.70.1.1", &allow).await;
    let app = tier(&alice, &z, &ilb_off, &vpc, "app", "10.70.2.1", &allow).await;
    let mut vms = Vec::new();
    for name in ["app1", "app2"] {
        let j = alice
            .job(&z.deploy(&[("name", name), ("networkids", app.as_str())]))
            .await;
        assert_eq!(j["jobstatus"], 1, "{j}");
        vms.push(j["jobresult"]["virtualmachine"].clone());
    }
    let j = alice
        .job(&z.deploy(&[("name", "web1"), ("networkids", web.as_str())]))
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let web1 = s(&j["jobresult"]["virtualmachine"]["id"]);

    // The next free address: the top of the tier, never a VM's.
    let j = alice.job(&create(&app, "api", None, "80")).await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let lb = j["jobresult"]["loadbalancer"].clone();
    let lbid = s(&lb["id"]);
    assert_eq!(lb["sourceipaddress"], "10.70.2.254", "{lb}");
    assert_eq!(lb["sourceipaddressnetworkid"], app.as_str(), "{lb}");
    assert_eq!(lb["loadbalancerrule"][0]["sourceport"], 80, "{lb}");
    assert_eq!(lb["loadbalancerrule"][0]["instanceport"], 8080, "{lb}");
    assert_eq!(lb["dnsname"], "api.shop.internal", "{lb}");
    assert_eq!(lb["account"], "alice", "{lb}");
    // A second port on the same address shares it; the same port is refused.
    let j = alice
        .job(&create(&app, "api-tls", Some("10.70.2.254"), "443"))
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let tls = s(&j["jobresult"]["loadbalancer"]["id"]);
    let e = alice
        .err(&create(&app, "again", Some("10.70.2.254"), "80"), 431)
        .await;
    assert!(e.contains("already listens"), "{e}");
    // A VM's address is not free; nor is the gateway; nor an address outside the tier.
    let vm_ip = s(&vms[0]["nic"][0]["ipaddress"]);
    let e = alice
        .err(&create(&app, "taken", Some(&vm_ip), "81"), 431)
        .await;
    assert!(e.contains("already in use"), "{e}");
    let e = alice
        .err(&create(&app, "gw", Some("10.70.2.1"), "81"), 431)
        .await;
    assert!(e.contains("not a usable address"), "{e}");
    let e = alice
        .err(&create(&app, "out", Some("10.70.9.9"), "81"), 431)
        .await;
    assert!(e.contains("not a usable address"), "{e}");
    // A VM deployed now never gets the reserved address.
    let e = deploy_fails(
        &alice,
        &z.deploy(&[
            ("name", "app3"),
            ("networkids", app.as_str()),
            ("ipaddress", "10.70.2.254"),
        ]),
    )
    .await;
    assert!(e.contains("already in use"), "{e}");

    // Members.
    let ids: Vec<String> = vms.iter().map(|v| s(&v["id"])).collect();
    let j = alice
        .job(&[
            ("command", "assignToLoadBalancerRule"),
            ("id", &lbid),
            ("virtualmachineids", &ids.join(",")),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let listed = alice
        .ok(&[("command", "listLoadBalancers"), ("id", &lbid)])
        .await;
    assert_eq!(listed["count"], 1, "{listed}");
    let inst = listed["loadbalancer"][0]["loadbalancerinstance"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(inst.len(), 2, "{listed}");
    assert!(
        inst.iter().all(|i| i["ipaddress"]
            .as_str()
            .is_some_and(|a| a.starts_with("10.70.2."))),
        "{listed}"
    );
    let by_source = alice
        .ok(&[
            ("command", "listLoadBalancers"),
            ("sourceipaddress", "10.70.2.254"),
            ("scheme", "Internal"),
        ])
        .await;
    assert_eq!(by_source["count"], 2, "{by_source}");
    // A VM of another tier is not a member.
    alice
        .err(
            &[
                ("command", "assignToLoadBalancerRule"),
                ("id", &lbid),
                ("virtualmachineids", &web1),
            ],
            431,
        )
        .await;

    // What the VPC router's host was given.
    let router = admin
        .ok(&[
            ("command", "listRouters"),
            ("vpcid", &vpc),
            ("listall", "true"),
        ])
        .await["router"][0]
        .clone();
    let pushed = z.net_of(&s(&router["hostid"])).desired.expect("pushed");
    let vr = pushed
        .routers
        .iter()
        .find(|r| r.network_id.to_string() == vpc)
        .expect("the VPC router");
    let app_if = vr
        .interfaces
        .iter()
        .find(|i| i.addresses.iter().any(|a| a == "10.70.2.1/24"))
        .expect("the app tier's interface");
    assert!(
        app_if.addresses.iter().any(|a| a == "10.70.2.254/24"),
        "{app_if:?}"
    );
    let haproxy = vr.haproxy_cfg.clone().unwrap_or_default();
    assert!(haproxy.contains("bind 10.70.2.254:80"), "{haproxy}");
    assert!(haproxy.contains("bind 10.70.2.254:443"), "{haproxy}");
    for v in &vms {
        let ip = s(&v["nic"][0]["ipaddress"]);
        assert!(haproxy.contains(&format!("{ip}:8080")), "{haproxy}");
    }
    assert!(
        vr.dnsmasq_conf
            .contains("host-record=api.shop.internal,10.70.2.254"),
        "{}",
        vr.dnsmasq_conf
    );
    assert!(
        vr.nftables
            .contains("ip daddr 10.70.2.254 tcp dport 80 jump acl_out_"),
        "{}",
        vr.nftables
    );

    // Refusals.
    let e = alice.err(&create(&web, "on-web", None, "80"), 431).await;
    assert!(
        e.contains("InternalLbVm"),
        "a tier that balances publicly: {e}"
    );
    let e = bob.err(&create(&app, "theirs", None, "80"), 531).await;
    assert!(!e.is_empty());
    let e = bob
        .err(&[("command", "deleteLoadBalancer"), ("id", &lbid)], 531)
        .await;
    assert!(e.contains("permission"), "{e}");
    assert_eq!(
        bob.ok(&[("command", "listLoadBalancers"), ("id", &lbid)])
            .await["count"]
            .as_u64()
            .unwrap_or(0),
        0
    );
    let mut bad = create(&app, "x", None, "80");
    bad.retain(|(k, _)| *k != "scheme");
    bad.push(("scheme", "Public"));
    let e = alice.err(&bad, 431).await;
    assert!(e.contains("Internal"), "{e}");
    let mut bad = create(&app, "x", None, "0");
    bad.retain(|(k, _)| *k != "sourceport");
    bad.push(("sourceport", "70000"));
    alice.err(&bad, 431).await;
    let mut bad = create(&app, "x", Some("not-an-ip"), "82");
    bad.push(("description", "d"));
    let e = alice.err(&bad, 431).await;
    assert!(e.contains("sourceipaddress"), "{e}");
    let ip = alice
        .job(&[("command", "associateIpAddress"), ("vpcid", &vpc)])
        .await["jobresult"]["ipaddress"]["id"]
        .clone();
    let e = alice
        .err(
            &[
                ("command", "createLoadBalancerRule"),
                ("algorithm", "roundrobin"),
                ("name", "pub"),
                ("privateport", "80"),
                ("publicport", "80"),
                ("networkid", &app),
                ("publicipid", &s(&ip)),
            ],
            431,
        )
        .await;
    assert!(e.contains("internal load balancers"), "{e}");
    let e = alice
        .err(&[("command", "deleteNetwork"), ("id", &app)], 536)
        .await;
    assert!(e.contains("internal load balancer"), "{e}");

    // The "internal LB VM" is the VPC's router: listed, stopped and started as one.
    let vms = admin
        .ok(&[
            ("command", "listInternalLoadBalancerVMs"),
            ("listall", "true"),
        ])
        .await;
    assert_eq!(vms["count"], 1, "{vms}");
    let ilbvm = s(&vms["internalloadbalancervm"][0]["id"]);
    let inf = admin.ok(&[("command", "listInfrastructure")]).await;
    assert_eq!(inf["infrastructure"]["ilbvms"], 1, "{inf}");
    let sys = admin.ok(&[("command", "listSystemVms")]).await;
    assert_eq!(sys["count"].as_u64().unwrap_or(0), 0, "{sys}");
    admin
        .err(
            &[("command", "listSystemVms"), ("systemvmtype", "router")],
            431,
        )
        .await;
    assert_eq!(ilbvm, s(&router["id"]), "{vms}");
    let j = admin
        .job(&[("command", "stopInternalLoadBalancerVM"), ("id", &ilbvm)])
        .await;
    assert_eq!(
        j["jobresult"]["internalloadbalancervm"]["state"], "Stopped",
        "{j}"
    );
    let j = admin
        .job(&[("command", "startInternalLoadBalancerVM"), ("id", &ilbvm)])
        .await;
    assert_eq!(
        j["jobresult"]["internalloadbalancervm"]["state"], "Running",
        "{j}"
    );
    alice
        .err(&[("command", "listInternalLoadBalancerVMs")], 401)
        .await;
    // A router without internal load balancers is not one.
    let other = admin
        .ok(&[("command", "listRouters"), ("listall", "true")])
        .await["router"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|r| s(&r["id"]))
        .find(|id| *id != ilbvm);
    if let Some(other) = other {
        admin
            .err(
                &[("command", "stopInternalLoadBalancerVM"), ("id", &other)],
                431,
            )
            .await;
    }

    // Deleting one keeps the shared address for the other; deleting both frees it.
    let j = alice
        .job(&[("command", "deleteLoadBalancer"), ("id", &lbid)])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let e = deploy_fails(
        &alice,
        &z.deploy(&[
            ("name", "app5"),
            ("networkids", app.as_str()),
            ("ipaddress", "10.70.2.254"),
        ]),
    )
    .await;
    assert!(
        e.contains("already in use"),
        "the other balancer keeps it: {e}"
    );
    let j = alice
        .job(&[("command", "deleteLoadBalancer"), ("id", &tls)])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    assert_eq!(
        alice
            .ok(&[("command", "listLoadBalancers"), ("networkid", &app)])
            .await["count"]
            .as_u64()
            .unwrap_or(0),
        0
    );
    let j = alice
        .job(&z.deploy(&[
            ("name", "app4"),
            ("networkids", app.as_str()),
            ("ipaddress", "10.70.2.254"),
        ]))
        .await;
    assert_eq!(j["jobstatus"], 1, "the address is free again: {j}");
    ts.stop().await;
}
