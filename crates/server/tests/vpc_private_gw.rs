//! A VPC's private gateway and its static routes through the API (SQLite and PostgreSQL):
//! createPrivateGateway (root admins) on a tenant's VPC, listPrivateGateways (the tenant sees
//! its own, another tenant nothing), createStaticRoute gatewayid= (the gateway's next hop),
//! listStaticRoutes by gateway and VPC, replaceNetworkACLList gatewayid=, the refusals (a
//! tenant creating one, a subnet inside the VPC, a VNI taken, deleting a gateway routes go
//! through), and what the VPC router's host is given: the gateway's interface and address,
//! the route, the source NAT and the list's chains. deleteVPC takes its gateways with it.

mod common;

use common::*;
use serde_json::Value;

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn private_gateways() {
    gateways(TestServer::start().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn private_gateways_postgres() {
    let Some(pg) = testkit::Postgres::start_for_test() else {
        return;
    };
    gateways(TestServer::start_with(Some(pg.fresh_database().expect("db"))).await).await;
}

fn create<'a>(vpc: &'a str, ip: &'a str, vlan: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("command", "createPrivateGateway"),
        ("vpcid", vpc),
        ("ipaddress", ip),
        ("gateway", "172.16.50.1"),
        ("netmask", "255.255.255.0"),
        ("vlan", vlan),
        ("sourcenatsupported", "true"),
    ]
}

async fn gateways(ts: TestServer) {
    let admin = &ts.admin;
    let z = VmZone::new(&ts, 1).await;
    let (_, _, alice) = account_with_keys(&ts, admin, "alice", None, "0").await;
    let (_, _, bob) = account_with_keys(&ts, admin, "bob", None, "0").await;
    let off = s(&admin
        .ok(&[("command", "listVPCOfferings"), ("isdefault", "true")])
        .await["vpcoffering"][0]["id"]);
    let vpc = s(&alice
        .job(&[
            ("command", "createVPC"),
            ("name", "corp"),
            ("cidr", "10.80.0.0/16"),
            ("vpcofferingid", &off),
            ("zoneid", &z.zone),
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
    let web = s(&alice
        .ok(&[
            ("command", "createNetwork"),
            ("name", "web"),
            ("networkofferingid", &tier_off),
            ("zoneid", &z.zone),
            ("vpcid", &vpc),
            ("gateway", "10.80.1.1"),
            ("netmask", "255.255.255.0"),
            ("aclid", &allow),
        ])
        .await["network"]["id"]);
    let j = alice
        .job(&z.deploy(&[("name", "web1"), ("networkids", web.as_str())]))
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");

    // Tenants may not create one.
    let r = alice.call(&create(&vpc, "172.16.50.2", "5001")).await;
    assert_ne!(r.status, 200, "{}", r.text);
    // Refusals: a subnet inside the VPC, the next hop as the router's address.
    let mut inside = create(&vpc, "10.80.9.2", "5001");
    inside.retain(|(k, _)| *k != "gateway");
    inside.push(("gateway", "10.80.9.1"));
    let e = admin.err(&inside, 431).await;
    assert!(e.contains("overlaps"), "{e}");
    let e = admin.err(&create(&vpc, "172.16.50.1", "5001"), 431).await;
    assert!(e.contains("another address"), "{e}");
    let e = admin
        .err(&create(&vpc, "172.16.50.2", "vxlan://nope"), 431)
        .await;
    assert!(!e.is_empty());

    let j = admin.job(&create(&vpc, "172.16.50.2", "5001")).await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let gw = j["jobresult"]["privategateway"].clone();
    let gwid = s(&gw["id"]);
    assert_eq!(gw["ipaddress"], "172.16.50.2", "{gw}");
    assert_eq!(gw["gateway"], "172.16.50.1", "{gw}");
    assert_eq!(gw["vpcid"], vpc.as_str(), "{gw}");
    assert_eq!(gw["vlan"], "vxlan://5001", "{gw}");
    assert_eq!(gw["state"], "Ready", "{gw}");
    assert_eq!(gw["sourcenatsupported"], true, "{gw}");
    assert_eq!(gw["aclname"], "default_deny", "{gw}");
    // The VNI is the zone's: taken now.
    let e = admin.err(&create(&vpc, "172.16.50.3", "5001"), 431).await;
    assert!(e.contains("5001"), "{e}");

    // Listed to its tenant, not to another; not among the VPC's tiers or networks.
    let mine = alice
        .ok(&[("command", "listPrivateGateways"), ("vpcid", &vpc)])
        .await;
    assert_eq!(mine["count"], 1, "{mine}");
    let theirs = bob
        .ok(&[("command", "listPrivateGateways"), ("listall", "true")])
        .await;
    assert_eq!(theirs["count"].as_u64().unwrap_or(0), 0, "{theirs}");
    let nets = alice
        .ok(&[("command", "listNetworks"), ("vpcid", &vpc)])
        .await;
    assert_eq!(nets["count"], 1, "only the tier: {nets}");
    let v = alice.ok(&[("command", "listVPCs"), ("id", &vpc)]).await;
    assert_eq!(
        v["vpc"][0]["network"].as_array().map(Vec::len),
        Some(1),
        "{v}"
    );

    // A static route through it (the tenant may add it), its list replaced.
    let j = alice
        .job(&[
            ("command", "createStaticRoute"),
            ("gatewayid", &gwid),
            ("cidr", "192.168.100.0/24"),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let route = j["jobresult"]["staticroute"].clone();
    assert_eq!(route["gatewayid"], gwid.as_str(), "{route}");
    assert_eq!(route["vpcid"], vpc.as_str(), "{route}");
    assert_eq!(route["nexthop"], "172.16.50.1", "{route}");
    let e = alice
        .err(
            &[
                ("command", "createStaticRoute"),
                ("gatewayid", &gwid),
                ("cidr", "10.80.5.0/24"),
            ],
            431,
        )
        .await;
    assert!(e.contains("overlaps"), "{e}");
    bob.err(
        &[
            ("command", "createStaticRoute"),
            ("gatewayid", &gwid),
            ("cidr", "192.168.200.0/24"),
        ],
        531,
    )
    .await;
    for (k, v) in [("gatewayid", gwid.as_str()), ("vpcid", vpc.as_str())] {
        let l = alice.ok(&[("command", "listStaticRoutes"), (k, v)]).await;
        assert_eq!(l["count"], 1, "{k}: {l}");
    }
    let j = alice
        .job(&[
            ("command", "replaceNetworkACLList"),
            ("gatewayid", &gwid),
            ("aclid", &allow),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");

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
    let g = vr
        .interfaces
        .iter()
        .find(|i| i.name == "g5001")
        .expect("the gateway's interface");
    assert_eq!(g.addresses, vec!["172.16.50.2/24".to_string()]);
    assert!(
        vr.routes
            .iter()
            .any(|r| r.destination.to_string() == "192.168.100.0/24"
                && r.via.map(|v| v.to_string()).as_deref() == Some("172.16.50.1")
                && r.dev.as_deref() == Some("g5001")),
        "{:?}",
        vr.routes
    );
    assert!(
        vr.nftables
            .contains("oifname \"g5001\" ip saddr 10.80.0.0/16 snat to 172.16.50.2"),
        "{}",
        vr.nftables
    );
    assert!(
        vr.nftables.contains("iifname \"g5001\" jump acl_gwin_"),
        "{}",
        vr.nftables
    );

    // A remote-access VPN on a VPC address: the VPC router serves it.
    let ip = alice
        .job(&[("command", "associateIpAddress"), ("vpcid", &vpc)])
        .await;
    assert_eq!(ip["jobstatus"], 1, "{ip}");
    let ipid = s(&ip["jobresult"]["ipaddress"]["id"]);
    let addr = s(&ip["jobresult"]["ipaddress"]["ipaddress"]);
    let e = alice
        .err(
            &[
                ("command", "createRemoteAccessVpn"),
                ("publicipid", &ipid),
                ("iprange", "10.80.200.1-10.80.200.9"),
            ],
            431,
        )
        .await;
    assert!(e.contains("overlaps"), "{e}");
    let j = alice
        .job(&[("command", "createRemoteAccessVpn"), ("publicipid", &ipid)])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let j = alice
        .job(&[
            ("command", "addVpnUser"),
            ("username", "road"),
            ("password", "warrior-1"),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let pushed = z.net_of(&s(&router["hostid"])).desired.expect("pushed");
    let vr = pushed
        .routers
        .iter()
        .find(|r| r.network_id.to_string() == vpc)
        .expect("the VPC router");
    let vpn = vr.vpn.clone().expect("the VPC router serves the VPN");
    assert!(
        vpn.ipsec_conf.contains(&format!("left={addr}")),
        "{}",
        vpn.ipsec_conf
    );
    assert!(vpn.chap_secrets.contains("road"), "the user");
    assert!(
        vr.nftables.contains(&format!(
            "iifname \"public\" ip daddr {addr} udp dport {{ 500, 1701, 4500 }} accept"
        )),
        "{}",
        vr.nftables
    );

    // Not deleted while a route goes through it; then deleted; deleteVPC takes the rest.
    let e = admin
        .err(&[("command", "deletePrivateGateway"), ("id", &gwid)], 536)
        .await;
    assert!(e.contains("static route"), "{e}");
    let j = alice
        .job(&[("command", "deleteStaticRoute"), ("id", &s(&route["id"]))])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let j = admin
        .job(&[("command", "deletePrivateGateway"), ("id", &gwid)])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    assert_eq!(
        alice
            .ok(&[("command", "listPrivateGateways"), ("vpcid", &vpc)])
            .await["count"]
            .as_u64()
            .unwrap_or(0),
        0
    );
    let j = admin.job(&create(&vpc, "172.16.50.2", "5002")).await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let web1 = s(&alice
        .ok(&[("command", "listVirtualMachines"), ("name", "web1")])
        .await["virtualmachine"][0]["id"]);
    let j = alice
        .job(&[("command", "destroyVirtualMachine"), ("id", &web1)])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    admin
        .job(&[("command", "expungeVirtualMachine"), ("id", &web1)])
        .await;
    let j = alice
        .job(&[("command", "deleteNetwork"), ("id", &web)])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let j = alice.job(&[("command", "deleteVPC"), ("id", &vpc)]).await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    assert_eq!(
        admin
            .ok(&[("command", "listPrivateGateways"), ("listall", "true")])
            .await["count"]
            .as_u64()
            .unwrap_or(0),
        0
    );
    ts.stop().await;
}
