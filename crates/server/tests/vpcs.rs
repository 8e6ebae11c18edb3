//! VPCs through the API, on SQLite and PostgreSQL: VPC offerings (the default one, creation,
//! update, deletion), VPCs (creation rules, another tenant's view, limits, deletion), tiers
//! (`createNetwork vpcid=`: CIDR inside the VPC's, no overlap, VPC offerings only) and network
//! ACL lists and items (the built-in lists, numbers unique, order, moves guarded by the
//! consistency hash, replacing a tier's list, lists in use kept).

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
async fn vpc_commands() {
    vpc_api(TestServer::start().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn vpc_commands_postgres() {
    let Some(pg) = testkit::Postgres::start_for_test() else {
        return;
    };
    vpc_api(TestServer::start_with(Some(pg.fresh_database().expect("db"))).await).await;
}

/// Items of a list answer under `key`, as (number, action, id).
fn items(v: &Value) -> Vec<(i64, String, String)> {
    v["networkacl"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|i| {
                    (
                        i["number"].as_i64().unwrap_or(0),
                        s(&i["action"]),
                        s(&i["id"]),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn vpc_api(ts: TestServer) {
    let admin = &ts.admin;
    let z = VmZone::new(&ts, 1).await;
    let zone = z.zone.as_str();

    // --- VPC offerings ---
    let offs = admin.ok(&[("command", "listVPCOfferings")]).await;
    let def = &offs["vpcoffering"][0];
    assert_eq!(def["name"], "Default VPC offering", "{offs}");
    assert_eq!(
        (def["isdefault"].as_bool(), def["state"].as_str()),
        (Some(true), Some("Enabled"))
    );
    let svc: Vec<String> = def["service"]
        .as_array()
        .expect("services")
        .iter()
        .map(|x| s(&x["name"]))
        .collect();
    assert!(svc.contains(&"NetworkACL".to_string()), "{svc:?}");
    let default_offering = s(&def["id"]);
    let e = admin
        .err(
            &[
                ("command", "createVPCOffering"),
                ("name", "fw"),
                ("supportedservices", "Dhcp,Firewall"),
            ],
            431,
        )
        .await;
    assert!(e.contains("Firewall"), "{e}");
    let j = admin
        .job(&[
            ("command", "createVPCOffering"),
            ("name", "lean"),
            ("displaytext", "lean VPC"),
            ("supportedservices", "Dhcp,Dns,SourceNat,NetworkACL"),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let lean = s(&j["jobresult"]["vpcoffering"]["id"]);
    assert_eq!(j["jobresult"]["vpcoffering"]["state"], "Disabled");
    let j = admin
        .job(&[
            ("command", "updateVPCOffering"),
            ("id", &lean),
            ("state", "Enabled"),
        ])
        .await;
    assert_eq!(j["jobresult"]["vpcoffering"]["state"], "Enabled", "{j}");
    let only_acl = admin
        .ok(&[("command", "listVPCOfferings"), ("supportedservices", "Lb")])
        .await;
    assert_eq!(
        n(&only_acl),
        1,
        "only the default offering has Lb: {only_acl}"
    );
    admin
        .err(
            &[("command", "deleteVPCOffering"), ("id", &default_offering)],
            431,
        )
        .await;

    // --- VPCs ---
    let d1 = create_domain(admin, "vpc-d1", None).await;
    let d2 = create_domain(admin, "vpc-d2", None).await;
    let (alice_id, _, alice) = account_with_keys(&ts, admin, "valice", Some(&d1), "0").await;
    let (_, _, bob) = account_with_keys(&ts, admin, "vbob", Some(&d2), "0").await;
    let create = |name: &'static str, cidr: &'static str| {
        vec![
            ("command", "createVPC"),
            ("name", name),
            ("displaytext", name),
            ("cidr", cidr),
            ("vpcofferingid", default_offering.as_str()),
            ("zoneid", zone),
        ]
    };
    for (cidr, why) in [
        ("8.8.0.0/16", "RFC 1918"),
        ("10.10.0.1/16", "as 10.10.0.0/16"),
        ("10.10.0.0/30", "too small"),
        ("nonsense", "Invalid cidr"),
    ] {
        let e = alice.err(&create("bad", cidr), 431).await;
        assert!(e.contains(why), "{cidr}: {e}");
    }
    let mut p = create("v1", "10.10.0.0/16");
    p.push(("networkdomain", "v1.internal"));
    let j = alice.job(&p).await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let vpc = j["jobresult"]["vpc"].clone();
    let vpc_id = s(&vpc["id"]);
    assert_eq!(
        (
            vpc["state"].as_str(),
            vpc["cidr"].as_str(),
            vpc["networkdomain"].as_str(),
            vpc["account"].as_str(),
            vpc["vpcofferingname"].as_str()
        ),
        (
            Some("Enabled"),
            Some("10.10.0.0/16"),
            Some("v1.internal"),
            Some("valice"),
            Some("Default VPC offering")
        ),
        "{vpc}"
    );
    let e = alice.err(&create("v1", "10.20.0.0/16"), 431).await;
    assert!(e.contains("already exists"), "{e}");
    assert_eq!(n(&alice.ok(&[("command", "listVPCs")]).await), 1);
    // The other tenant sees nothing and changes nothing.
    assert_eq!(n(&bob.ok(&[("command", "listVPCs")]).await), 0);
    assert_eq!(
        n(&bob.ok(&[("command", "listVPCs"), ("id", &vpc_id)]).await),
        0
    );
    let r = bob
        .call(&[("command", "updateVPC"), ("id", &vpc_id), ("name", "mine")])
        .await;
    assert!(r.status >= 400, "bob renamed alice's VPC: {}", r.text);
    let r = bob.call(&[("command", "deleteVPC"), ("id", &vpc_id)]).await;
    assert!(r.status >= 400, "bob deleted alice's VPC: {}", r.text);
    // A domain admin of another domain neither sees nor changes it.
    let (_, _, d2admin) = account_with_keys(&ts, admin, "vd2admin", Some(&d2), "2").await;
    assert_eq!(
        n(&d2admin
            .ok(&[("command", "listVPCs"), ("listall", "true")])
            .await),
        0
    );
    let r = d2admin
        .call(&[("command", "deleteVPC"), ("id", &vpc_id)])
        .await;
    assert!(
        r.status >= 400,
        "another domain's admin deleted it: {}",
        r.text
    );
    // Hostile input: a name past the parameter's length, control characters in a tag's
    // name: clear 431s.
    let long = "x".repeat(300);
    let mut p = create("v9", "10.30.0.0/16");
    p[1] = ("name", long.as_str());
    alice.err(&p, 431).await;
    let e = admin
        .err(
            &[
                ("command", "createServiceTag"),
                ("name", "Stor\u{7}age\n"),
                ("cidrlist", "10.0.0.0/8"),
            ],
            431,
        )
        .await;
    assert!(e.contains("non-printable"), "{e}");
    let e = admin
        .err(
            &[
                ("command", "createServiceTag"),
                ("name", "Stör-ägé"),
                ("cidrlist", "10.0.0.0/8"),
            ],
            431,
        )
        .await;
    assert!(e.contains("Invalid service tag name"), "{e}");
    let j = alice
        .job(&[
            ("command", "updateVPC"),
            ("id", &vpc_id),
            ("displaytext", "prod"),
        ])
        .await;
    assert_eq!(j["jobresult"]["vpc"]["displaytext"], "prod", "{j}");
    // The vpc limit.
    admin
        .ok(&[
            ("command", "updateResourceLimit"),
            ("resourcetype", "7"),
            ("max", "1"),
            ("account", "valice"),
            ("domainid", &d1),
        ])
        .await;
    alice.err(&create("v2", "10.20.0.0/16"), 535).await;
    let _ = alice_id;

    // --- tiers ---
    let offering = |name: &str| {
        let name = name.to_string();
        async move {
            s(&admin
                .ok(&[("command", "listNetworkOfferings"), ("name", &name)])
                .await["networkoffering"][0]["id"])
        }
    };
    let tier_off = offering("DefaultIsolatedNetworkOfferingForVpcNetworks").await;
    let plain_off = offering("DefaultIsolatedNetworkOffering").await;
    let tier = |name: &'static str, gw: &'static str, mask: &'static str, off: &str| {
        vec![
            ("command".to_string(), "createNetwork".to_string()),
            ("name".into(), name.into()),
            ("displaytext".into(), name.into()),
            ("networkofferingid".into(), off.to_string()),
            ("zoneid".into(), zone.to_string()),
            ("vpcid".into(), vpc_id.clone()),
            ("gateway".into(), gw.into()),
            ("netmask".into(), mask.into()),
        ]
    };
    let web = alice
        .ok(&call(&tier("web", "10.10.1.1", "255.255.255.0", &tier_off)))
        .await["network"]
        .clone();
    let web_id = s(&web["id"]);
    assert_eq!(web["vpcid"], vpc_id.as_str(), "{web}");
    assert_eq!(web["aclname"], "default_deny", "{web}");
    assert_eq!(web["networkdomain"], "v1.internal", "{web}");
    for (p, why) in [
        (
            tier("over", "10.10.1.129", "255.255.255.128", &tier_off),
            "overlaps",
        ),
        (
            tier("out", "10.99.1.1", "255.255.255.0", &tier_off),
            "not within",
        ),
        (
            tier("plain", "10.10.2.1", "255.255.255.0", &plain_off),
            "not for VPC",
        ),
    ] {
        let e = alice.err(&call(&p), 431).await;
        assert!(e.contains(why), "{why}: {e}");
    }
    let mut no_vpc = tier("novpc", "10.30.0.1", "255.255.255.0", &tier_off);
    no_vpc.retain(|(k, _)| k != "vpcid");
    let e = alice.err(&call(&no_vpc), 431).await;
    assert!(e.contains("VPC networks only"), "{e}");
    let app = alice
        .ok(&call(&tier("app", "10.10.2.1", "255.255.255.0", &tier_off)))
        .await["network"]
        .clone();
    let tiers = alice
        .ok(&[("command", "listNetworks"), ("vpcid", &vpc_id)])
        .await;
    assert_eq!(n(&tiers), 2, "{tiers}");
    let listed = alice.ok(&[("command", "listVPCs"), ("id", &vpc_id)]).await;
    assert_eq!(
        listed["vpc"][0]["network"].as_array().map(Vec::len),
        Some(2),
        "{listed}"
    );

    // --- ACL lists ---
    let lists = alice.ok(&[("command", "listNetworkACLLists")]).await;
    let mut global = names(&lists, "networkacllist", "name");
    global.sort();
    assert_eq!(global, vec!["default_allow", "default_deny"], "{lists}");
    let deny_list = lists["networkacllist"]
        .as_array()
        .and_then(|a| a.iter().find(|l| l["name"] == "default_deny"))
        .map(|l| s(&l["id"]))
        .expect("default_deny");
    let deny_items = alice
        .ok(&[("command", "listNetworkACLs"), ("aclid", &deny_list)])
        .await;
    assert_eq!(
        items(&deny_items)
            .iter()
            .map(|(n, a, _)| (*n, a.clone()))
            .collect::<Vec<_>>(),
        vec![(1, "Deny".to_string()), (2, "Deny".to_string())]
    );
    let e = alice
        .err(
            &[
                ("command", "createNetworkACL"),
                ("aclid", &deny_list),
                ("protocol", "tcp"),
            ],
            431,
        )
        .await;
    assert!(e.contains("Default ACL cannot be modified"), "{e}");
    let e = alice
        .err(
            &[("command", "deleteNetworkACLList"), ("id", &deny_list)],
            431,
        )
        .await;
    assert!(e.contains("cannot be removed"), "{e}");
    let j = alice
        .job(&[
            ("command", "createNetworkACLList"),
            ("name", "web-acl"),
            ("vpcid", &vpc_id),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let acl = s(&j["jobresult"]["networkacllist"]["id"]);
    assert_eq!(j["jobresult"]["networkacllist"]["vpcname"], "v1");
    let e = alice
        .err(
            &[
                ("command", "createNetworkACLList"),
                ("name", "WEB-ACL"),
                ("vpcid", &vpc_id),
            ],
            431,
        )
        .await;
    assert!(e.contains("already exists in VPC v1"), "{e}");
    assert_eq!(
        n(&alice
            .ok(&[("command", "listNetworkACLLists"), ("vpcid", &vpc_id)])
            .await),
        3
    );
    // Only a root admin makes global lists; bob does not see alice's.
    let r = alice
        .call(&[("command", "createNetworkACLList"), ("name", "g")])
        .await;
    assert!(r.status >= 400, "{}", r.text);
    let bl = bob.ok(&[("command", "listNetworkACLLists")]).await;
    assert_eq!(n(&bl), 2, "bob sees only the global lists: {bl}");
    bob.err(&[("command", "listNetworkACLs"), ("aclid", &acl)], 431)
        .await;
    let r = bob
        .call(&[
            ("command", "createNetworkACL"),
            ("aclid", &acl),
            ("protocol", "tcp"),
        ])
        .await;
    assert!(r.status >= 400, "bob wrote into alice's list: {}", r.text);

    // --- items ---
    let item = |number: &'static str, action: &'static str, port: &'static str| {
        vec![
            ("command", "createNetworkACL"),
            ("aclid", acl.as_str()),
            ("protocol", "tcp"),
            ("startport", port),
            ("endport", port),
            ("number", number),
            ("action", action),
            ("traffictype", "ingress"),
            ("cidrlist", "0.0.0.0/0"),
        ]
    };
    let j = alice.job(&item("200", "deny", "8080")).await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let deny_id = s(&j["jobresult"]["networkacl"]["id"]);
    assert_eq!(j["jobresult"]["networkacl"]["state"], "Active", "{j}");
    assert_eq!(j["jobresult"]["networkacl"]["aclname"], "web-acl");
    let j = alice.job(&item("100", "allow", "8080")).await;
    let allow_id = s(&j["jobresult"]["networkacl"]["id"]);
    let e = alice.err(&item("100", "allow", "22"), 431).await;
    assert!(e.contains("already exists"), "{e}");
    for (p, why) in [
        (
            vec![
                ("command", "createNetworkACL"),
                ("aclid", acl.as_str()),
                ("protocol", "icmp"),
                ("startport", "1"),
            ],
            "ICMP",
        ),
        (
            vec![
                ("command", "createNetworkACL"),
                ("aclid", acl.as_str()),
                ("protocol", "bogus"),
            ],
            "Invalid protocol",
        ),
        (
            vec![
                ("command", "createNetworkACL"),
                ("aclid", acl.as_str()),
                ("protocol", "tcp"),
                ("startport", "90"),
                ("endport", "80"),
            ],
            "bigger",
        ),
        (
            vec![
                ("command", "createNetworkACL"),
                ("aclid", acl.as_str()),
                ("protocol", "tcp"),
                ("action", "maybe"),
            ],
            "Invalid action",
        ),
        (
            vec![
                ("command", "createNetworkACL"),
                ("aclid", acl.as_str()),
                ("protocol", "tcp"),
                ("number", "0"),
            ],
            "Invalid number",
        ),
    ] {
        let e = alice.err(&p, 431).await;
        assert!(e.contains(why), "{why}: {e}");
    }
    // Without a number: after the last.
    let j = alice
        .job(&[
            ("command", "createNetworkACL"),
            ("aclid", &acl),
            ("protocol", "all"),
            ("traffictype", "egress"),
        ])
        .await;
    assert_eq!(j["jobresult"]["networkacl"]["number"], 201, "{j}");
    let egress_id = s(&j["jobresult"]["networkacl"]["id"]);
    let listed = alice
        .ok(&[("command", "listNetworkACLs"), ("aclid", &acl)])
        .await;
    assert_eq!(
        items(&listed)
            .iter()
            .map(|(n, _, _)| *n)
            .collect::<Vec<_>>(),
        vec![100, 200, 201],
        "{listed}"
    );
    assert_eq!(
        n(&alice
            .ok(&[
                ("command", "listNetworkACLs"),
                ("aclid", &acl),
                ("traffictype", "Egress")
            ])
            .await),
        1
    );

    // Moves: the consistency hash is MD5 of every item id in number order.
    let ordered = |v: &Value| -> String { items(v).iter().map(|(_, _, id)| id.clone()).collect() };
    let hash = netplan::md5_hex(ordered(&listed).as_bytes());
    let e = alice
        .err(
            &[
                ("command", "moveNetworkAclItem"),
                ("id", &deny_id),
                ("nextaclruleid", &allow_id),
                ("aclconsistencyhash", "0123456789abcdef0123456789abcdef"),
            ],
            431,
        )
        .await;
    assert!(e.contains("not in the state"), "{e}");
    let j = alice
        .job(&[
            ("command", "moveNetworkAclItem"),
            ("id", &deny_id),
            ("nextaclruleid", &allow_id),
            ("aclconsistencyhash", &hash),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    assert_eq!(j["jobresult"]["networkacl"]["number"], 1, "{j}");
    let listed = alice
        .ok(&[("command", "listNetworkACLs"), ("aclid", &acl)])
        .await;
    assert_eq!(
        items(&listed)
            .iter()
            .map(|(n, a, _)| (*n, a.clone()))
            .collect::<Vec<_>>(),
        vec![
            (1, "Deny".to_string()),
            (100, "Allow".to_string()),
            (201, "Allow".to_string())
        ],
        "the deny now comes first: {listed}"
    );
    // Update: a taken number is refused; the action changes.
    alice
        .err(
            &[
                ("command", "updateNetworkACLItem"),
                ("id", &allow_id),
                ("number", "1"),
            ],
            431,
        )
        .await;
    let j = alice
        .job(&[
            ("command", "updateNetworkACLItem"),
            ("id", &allow_id),
            ("action", "Deny"),
            ("startport", "443"),
            ("endport", "443"),
        ])
        .await;
    let u = &j["jobresult"]["networkacl"];
    assert_eq!(
        (
            u["action"].as_str(),
            u["startport"].as_str(),
            u["protocol"].as_str(),
            u["number"].as_i64()
        ),
        (Some("Deny"), Some("443"), Some("tcp"), Some(100)),
        "{j}"
    );
    let j = alice
        .job(&[("command", "deleteNetworkACL"), ("id", &egress_id)])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    assert_eq!(
        n(&alice
            .ok(&[("command", "listNetworkACLs"), ("aclid", &acl)])
            .await),
        2
    );

    // A tier's list replaced; a list in use is kept.
    let j = alice
        .job(&[
            ("command", "replaceNetworkACLList"),
            ("aclid", &acl),
            ("networkid", &web_id),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let w = alice
        .ok(&[("command", "listNetworks"), ("id", &web_id)])
        .await;
    assert_eq!(w["network"][0]["aclname"], "web-acl", "{w}");
    let e = alice
        .err(&[("command", "deleteNetworkACLList"), ("id", &acl)], 431)
        .await;
    assert!(e.contains("in use"), "{e}");
    // An item by network alone goes into the tier's list.
    let j = alice
        .job(&[
            ("command", "createNetworkACL"),
            ("networkid", &web_id),
            ("protocol", "udp"),
            ("startport", "53"),
        ])
        .await;
    assert_eq!(j["jobresult"]["networkacl"]["aclid"], acl.as_str(), "{j}");
    let by_net = alice
        .ok(&[("command", "listNetworkACLs"), ("networkid", &web_id)])
        .await;
    assert_eq!(n(&by_net), 3, "{by_net}");
    let e = alice
        .err(
            &[
                ("command", "replaceNetworkACLList"),
                ("aclid", &acl),
                ("networkid", &web_id),
                ("gatewayid", &web_id),
            ],
            431,
        )
        .await;
    assert!(e.contains("either"), "{e}");

    // --- deletion ---
    let e = alice
        .err(&[("command", "deleteVPC"), ("id", &vpc_id)], 431)
        .await;
    assert!(e.contains("network"), "{e}");
    for t in [web_id.as_str(), app["id"].as_str().unwrap_or_default()] {
        let j = alice.job(&[("command", "deleteNetwork"), ("id", t)]).await;
        assert_eq!(j["jobstatus"], 1, "{j}");
    }
    let j = alice
        .job(&[("command", "deleteVPC"), ("id", &vpc_id)])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    assert_eq!(n(&alice.ok(&[("command", "listVPCs")]).await), 0);
    let left = alice.ok(&[("command", "listNetworkACLLists")]).await;
    assert_eq!(n(&left), 2, "the VPC's lists went with it: {left}");
    // With the VPC gone, the limit admits a new one.
    let j = alice.job(&create("v2", "10.20.0.0/16")).await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    ts.stop().await;
}

fn call(p: &[(String, String)]) -> Vec<(&str, &str)> {
    p.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}
