//! The VPC router through the API on simulated hosts: one router serves every tier (an
//! interface on each tier's gateway, every VM's name, each tier's ACL chains), what its host
//! was given, an ACL change reaching it, and the router going with the VPC.

mod common;

use common::*;
use serde_json::Value;

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

fn n(v: &Value) -> u64 {
    v["count"].as_u64().unwrap_or(0)
}

/// VMs in two tiers on two hosts: one VPC router serves both (an interface on each tier's
/// gateway, every VM's name, each tier's ACL chains), and an ACL change reaches it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_router_serves_every_tier() {
    let ts = TestServer::start().await;
    let admin = &ts.admin;
    let z = VmZone::new(&ts, 2).await;
    let (_, _, carol) = account_with_keys(&ts, admin, "vcarol", None, "0").await;
    let off = s(&admin
        .ok(&[("command", "listVPCOfferings"), ("isdefault", "true")])
        .await["vpcoffering"][0]["id"]);
    let j = carol
        .job(&[
            ("command", "createVPC"),
            ("name", "shop"),
            ("cidr", "10.60.0.0/16"),
            ("vpcofferingid", &off),
            ("zoneid", &z.zone),
            ("networkdomain", "shop.vpc"),
        ])
        .await;
    let vpc = s(&j["jobresult"]["vpc"]["id"]);
    let tier_off = s(&admin
        .ok(&[
            ("command", "listNetworkOfferings"),
            ("name", "DefaultIsolatedNetworkOfferingForVpcNetworks"),
        ])
        .await["networkoffering"][0]["id"]);
    let j = carol
        .job(&[
            ("command", "createNetworkACLList"),
            ("name", "web"),
            ("vpcid", &vpc),
        ])
        .await;
    let acl = s(&j["jobresult"]["networkacllist"]["id"]);
    let mut tiers = Vec::new();
    for (name, gw, aclid) in [
        ("web", "10.60.1.1", Some(acl.as_str())),
        ("app", "10.60.2.1", None),
    ] {
        let mut p = vec![
            ("command", "createNetwork"),
            ("name", name),
            ("networkofferingid", tier_off.as_str()),
            ("zoneid", z.zone.as_str()),
            ("vpcid", vpc.as_str()),
            ("gateway", gw),
            ("netmask", "255.255.255.0"),
        ];
        if let Some(a) = aclid {
            p.push(("aclid", a));
        }
        tiers.push(s(&carol.ok(&p).await["network"]["id"]));
    }
    // web1 first (it places the VPC's router), then app1 on a host without the router: the
    // router's host must still learn of app1 (its lease, its name).
    let dom = carol_domain(admin).await;
    let deploy = |vm: &'static str, tier: String, host: String| {
        let (z, dom) = (&z, &dom);
        async move {
            let j = admin
                .job(&z.deploy(&[
                    ("name", vm),
                    ("networkids", tier.as_str()),
                    ("account", "vcarol"),
                    ("domainid", dom.as_str()),
                    ("hostid", host.as_str()),
                ]))
                .await;
            assert_eq!(j["jobstatus"], 1, "{j}");
        }
    };
    deploy("web1", tiers[0].clone(), z.hosts[0].0.clone()).await;
    let router_host = s(&admin
        .ok(&[
            ("command", "listRouters"),
            ("vpcid", &vpc),
            ("listall", "true"),
        ])
        .await["router"][0]["hostid"]);
    let other = z
        .hosts
        .iter()
        .map(|h| h.0.clone())
        .find(|h| *h != router_host)
        .expect("another host");
    deploy("app1", tiers[1].clone(), other).await;
    // What the router's host was given (not what would compile now): app1's name and lease.
    let pushed = z.net_of(&router_host).desired.expect("pushed");
    let vr = pushed
        .routers
        .iter()
        .find(|r| r.network_id.to_string() == vpc)
        .expect("the VPC router on its host");
    assert!(
        vr.dns.iter().any(|(name, _)| name == "app1.shop.vpc"),
        "the router's host learnt of app1: {:?}",
        vr.dns
    );
    assert_eq!(vr.leases.len(), 2, "{:?}", vr.leases);
    let routers = admin
        .ok(&[
            ("command", "listRouters"),
            ("vpcid", &vpc),
            ("listall", "true"),
        ])
        .await;
    assert_eq!(n(&routers), 1, "one router for the VPC: {routers}");
    let router = &routers["router"][0];
    assert_eq!(router["vpcname"], "shop");
    let guest_nics: Vec<String> = router["nic"]
        .as_array()
        .expect("nics")
        .iter()
        .filter(|x| x["traffictype"] == "Guest")
        .map(|x| s(&x["ipaddress"]))
        .collect();
    assert_eq!(guest_nics, vec!["10.60.1.1", "10.60.2.1"], "{router}");
    assert!(router["publicip"].is_string(), "source NAT: {router}");
    let rid = s(&router["id"]);
    let cfg = || async {
        admin
            .ok(&[
                ("command", "getHostNetworkConfiguration"),
                ("routerid", &rid),
            ])
            .await["hostnetworkconfiguration"]["routers"][0]
            .clone()
    };
    let c = cfg().await;
    let names: Vec<String> = c["dns"]
        .as_array()
        .expect("dns")
        .iter()
        .map(|d| s(&d[0]))
        .collect();
    assert!(names.contains(&"web1.shop.vpc".to_string()), "{names:?}");
    assert!(names.contains(&"app1.shop.vpc".to_string()), "{names:?}");
    let nft = s(&c["nftables"]);
    assert!(nft.contains("chain acl_in_l"), "{nft}");
    assert!(!nft.contains("dport 8080"), "{nft}");
    // An ACL item reaches the router.
    let j = carol
        .job(&[
            ("command", "createNetworkACL"),
            ("aclid", &acl),
            ("protocol", "tcp"),
            ("startport", "8080"),
            ("number", "100"),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let nft = s(&cfg().await["nftables"]);
    assert!(
        nft.contains("tcp dport 8080 accept comment \"acl 100\""),
        "{nft}"
    );
    // Deleting the VMs, the tiers and the VPC takes the router away.
    for vm in ["web1", "app1"] {
        let id = s(&admin
            .ok(&[
                ("command", "listVirtualMachines"),
                ("name", vm),
                ("listall", "true"),
            ])
            .await["virtualmachine"][0]["id"]);
        let j = admin
            .job(&[
                ("command", "destroyVirtualMachine"),
                ("id", &id),
                ("expunge", "true"),
            ])
            .await;
        assert_eq!(j["jobstatus"], 1, "{j}");
    }
    for t in &tiers {
        let j = carol.job(&[("command", "deleteNetwork"), ("id", t)]).await;
        assert_eq!(j["jobstatus"], 1, "{j}");
    }
    let j = carol.job(&[("command", "deleteVPC"), ("id", &vpc)]).await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let left = admin
        .ok(&[
            ("command", "listRouters"),
            ("vpcid", &vpc),
            ("listall", "true"),
        ])
        .await;
    assert_eq!(n(&left), 0, "{left}");
    ts.stop().await;
}

async fn carol_domain(admin: &Client) -> String {
    s(&admin
        .ok(&[
            ("command", "listAccounts"),
            ("name", "vcarol"),
            ("listall", "true"),
        ])
        .await["account"][0]["domainid"])
}
