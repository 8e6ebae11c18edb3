//! A VPC's public side through the API, in the Kubernetes cloud controller's call sequence for
//! a Service of type LoadBalancer on a VPC tier (listLoadBalancerRules → associateIpAddress
//! vpcid → createLoadBalancerRule networkid=tier → assignToLoadBalancerRule → the tier's ACL
//! list looked up and an ingress item created): the address moves to the tier with its rule,
//! and the VPC router's host is given haproxy for it and the port opened on the address.

mod common;

use common::*;
use serde_json::Value;

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

fn n(v: &Value) -> u64 {
    v["count"].as_u64().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_cloud_controllers_load_balancer_on_a_vpc_tier() {
    let ts = TestServer::start().await;
    let admin = &ts.admin;
    let z = VmZone::new(&ts, 2).await;
    let (_, _, kube) = account_with_keys(&ts, admin, "kube", None, "0").await;
    let off = s(&admin
        .ok(&[("command", "listVPCOfferings"), ("isdefault", "true")])
        .await["vpcoffering"][0]["id"]);
    let vpc = s(&kube
        .job(&[
            ("command", "createVPC"),
            ("name", "k8s"),
            ("cidr", "10.90.0.0/16"),
            ("vpcofferingid", &off),
            ("zoneid", &z.zone),
        ])
        .await["jobresult"]["vpc"]["id"]);
    let acl = s(&kube
        .job(&[
            ("command", "createNetworkACLList"),
            ("name", "nodes"),
            ("vpcid", &vpc),
        ])
        .await["jobresult"]["networkacllist"]["id"]);
    let tier_off = s(&admin
        .ok(&[
            ("command", "listNetworkOfferings"),
            ("name", "DefaultIsolatedNetworkOfferingForVpcNetworks"),
        ])
        .await["networkoffering"][0]["id"]);
    let tier = s(&kube
        .ok(&[
            ("command", "createNetwork"),
            ("name", "nodes"),
            ("networkofferingid", &tier_off),
            ("zoneid", &z.zone),
            ("vpcid", &vpc),
            ("gateway", "10.90.1.1"),
            ("netmask", "255.255.255.0"),
            ("aclid", &acl),
        ])
        .await["network"]["id"]);
    let mut vms = Vec::new();
    for name in ["node1", "node2"] {
        let j = kube
            .job(&z.deploy(&[("name", name), ("networkids", tier.as_str())]))
            .await;
        assert_eq!(j["jobstatus"], 1, "{j}");
        vms.push(s(&j["jobresult"]["virtualmachine"]["id"]));
    }

    // The controller's sequence.
    let lbname = "a1b2c3d4";
    let rules = kube
        .ok(&[
            ("command", "listLoadBalancerRules"),
            ("keyword", lbname),
            ("listall", "true"),
        ])
        .await;
    assert_eq!(n(&rules), 0);
    let net = kube.ok(&[("command", "listNetworks"), ("id", &tier)]).await;
    assert_eq!(net["network"][0]["vpcid"], vpc.as_str(), "{net}");
    let services: Vec<String> = net["network"][0]["service"]
        .as_array()
        .expect("services")
        .iter()
        .map(|x| s(&x["name"]))
        .collect();
    assert!(services.contains(&"NetworkACL".to_string()), "{services:?}");
    let j = kube
        .job(&[("command", "associateIpAddress"), ("vpcid", &vpc)])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let ip = j["jobresult"]["ipaddress"].clone();
    let (ipid, addr) = (s(&ip["id"]), s(&ip["ipaddress"]));
    assert_eq!(ip["vpcid"], vpc.as_str(), "{ip}");
    assert!(
        ip.get("associatednetworkid").is_none(),
        "not a tier's yet: {ip}"
    );
    // Without a tier, a rule is refused with what to give.
    let e = kube
        .err(
            &[
                ("command", "createLoadBalancerRule"),
                ("algorithm", "roundrobin"),
                ("name", "x"),
                ("privateport", "80"),
                ("publicport", "80"),
                ("publicipid", &ipid),
            ],
            431,
        )
        .await;
    assert!(e.contains("give networkid"), "{e}");
    let name = format!("{lbname}-tcp-80");
    let j = kube
        .job(&[
            ("command", "createLoadBalancerRule"),
            ("algorithm", "roundrobin"),
            ("name", &name),
            ("privateport", "30080"),
            ("publicport", "80"),
            ("networkid", &tier),
            ("publicipid", &ipid),
            ("protocol", "tcp"),
            ("openfirewall", "false"),
            ("cidrlist", "0.0.0.0/0"),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let lb = s(&j["jobresult"]["loadbalancer"]["id"]);
    let j = kube
        .job(&[
            ("command", "assignToLoadBalancerRule"),
            ("id", &lb),
            ("virtualmachineids", &vms.join(",")),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let lists = kube
        .ok(&[("command", "listNetworkACLLists"), ("id", &acl)])
        .await;
    assert_eq!(lists["networkacllist"][0]["name"], "nodes", "{lists}");
    assert_eq!(
        n(&kube
            .ok(&[
                ("command", "listNetworkACLs"),
                ("aclid", &acl),
                ("networkid", &tier)
            ])
            .await),
        0
    );
    let j = kube
        .job(&[
            ("command", "createNetworkACL"),
            ("protocol", "tcp"),
            ("aclid", &acl),
            ("action", "Allow"),
            ("cidrlist", "0.0.0.0/0"),
            ("startport", "30080"),
            ("endport", "30080"),
            ("networkid", &tier),
            ("traffictype", "Ingress"),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");

    // The address is the tier's now; the VPC lists it.
    let listed = kube
        .ok(&[("command", "listPublicIpAddresses"), ("vpcid", &vpc)])
        .await;
    let mine = listed["publicipaddress"]
        .as_array()
        .expect("ips")
        .iter()
        .find(|i| i["id"] == ipid.as_str())
        .cloned()
        .expect("the LB address among the VPC's");
    assert_eq!(mine["associatednetworkid"], tier.as_str(), "{mine}");
    let found = kube
        .ok(&[
            ("command", "listLoadBalancerRules"),
            ("keyword", lbname),
            ("listall", "true"),
        ])
        .await;
    assert_eq!(
        found["loadbalancerrule"][0]["publicip"],
        addr.as_str(),
        "{found}"
    );
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
    let haproxy = vr.haproxy_cfg.clone().unwrap_or_default();
    assert!(haproxy.contains(&format!("bind {addr}:80")), "{haproxy}");
    assert!(
        haproxy.matches(":30080").count() >= 2,
        "both nodes behind it: {haproxy}"
    );
    assert!(
        vr.nftables.contains(&format!(
            "iifname \"public\" ip daddr {addr} tcp dport 80 accept"
        )),
        "{}",
        vr.nftables
    );
    assert!(
        vr.nftables.contains("tcp dport 30080 accept"),
        "{}",
        vr.nftables
    );
    ts.stop().await;
}
