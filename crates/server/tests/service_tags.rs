//! Service tags (a Canopy addition) through the API: root admins keep them, anyone lists them
//! (the built-in Internet included), network ACL items name them in their cidrlist, and a
//! change of members reaches the routers of the tiers whose items name them — the tag's
//! nftables set changes, the rules do not.

mod common;

use common::*;
use serde_json::Value;

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tags_named_by_acl_items_reach_the_router() {
    let ts = TestServer::start().await;
    let admin = &ts.admin;
    let z = VmZone::new(&ts, 1).await;
    let (_, _, dave) = account_with_keys(&ts, admin, "vdave", None, "0").await;

    // Root admins keep the tags.
    let t = admin
        .ok(&[
            ("command", "createServiceTag"),
            ("name", "Storage"),
            ("cidrlist", "198.51.100.7/32"),
            ("description", "the storage endpoints"),
        ])
        .await["servicetag"]
        .clone();
    let tag = s(&t["id"]);
    for (name, why) in [
        ("storage", "already exists"),
        ("internet", "built-in"),
        ("no spaces", "Invalid"),
    ] {
        let e = admin
            .err(
                &[
                    ("command", "createServiceTag"),
                    ("name", name),
                    ("cidrlist", "10.0.0.0/8"),
                ],
                431,
            )
            .await;
        assert!(e.contains(why), "{name}: {e}");
    }
    let r = dave
        .call(&[
            ("command", "createServiceTag"),
            ("name", "Mine"),
            ("cidrlist", "10.0.0.0/8"),
        ])
        .await;
    assert!(r.status >= 400, "a user made a tag: {}", r.text);
    let listed = dave.ok(&[("command", "listServiceTags")]).await;
    let mut got = names(&listed, "servicetag", "name");
    got.sort();
    assert_eq!(
        got,
        vec!["ImageStores", "Internet", "ManagementServers", "Storage"],
        "{listed}"
    );
    // The built-ins' addresses are the cloud's own: a tenant sees their names, not them.
    let ms = listed["servicetag"]
        .as_array()
        .and_then(|a| a.iter().find(|t| t["name"] == "ManagementServers"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(ms["cidrlist"], "", "{ms}");
    let all = admin
        .ok(&[
            ("command", "listServiceTags"),
            ("name", "ManagementServers"),
        ])
        .await;
    assert_eq!(all["servicetag"][0]["cidrlist"], "127.0.0.1/32", "{all}");

    // A VPC whose tier's egress is the locked-down seed's: 443 to Storage, nothing else out.
    let off = s(&admin
        .ok(&[("command", "listVPCOfferings"), ("isdefault", "true")])
        .await["vpcoffering"][0]["id"]);
    let vpc = s(&dave
        .job(&[
            ("command", "createVPC"),
            ("name", "locked"),
            ("cidr", "10.80.0.0/16"),
            ("vpcofferingid", &off),
            ("zoneid", &z.zone),
        ])
        .await["jobresult"]["vpc"]["id"]);
    let acl = s(&dave
        .job(&[
            ("command", "createNetworkACLList"),
            ("name", "locked"),
            ("vpcid", &vpc),
        ])
        .await["jobresult"]["networkacllist"]["id"]);
    let e = dave
        .err(
            &[
                ("command", "createNetworkACL"),
                ("aclid", &acl),
                ("protocol", "tcp"),
                ("cidrlist", "Nowhere"),
            ],
            431,
        )
        .await;
    assert!(e.contains("neither a CIDR nor a service tag"), "{e}");
    let j = dave
        .job(&[
            ("command", "createNetworkACL"),
            ("aclid", &acl),
            ("protocol", "tcp"),
            ("startport", "443"),
            ("traffictype", "egress"),
            ("number", "100"),
            ("cidrlist", "storage"),
        ])
        .await;
    assert_eq!(j["jobresult"]["networkacl"]["cidrlist"], "Storage", "{j}");
    let item = s(&j["jobresult"]["networkacl"]["id"]);
    let j = dave
        .job(&[
            ("command", "createNetworkACL"),
            ("aclid", &acl),
            ("protocol", "all"),
            ("traffictype", "egress"),
            ("action", "deny"),
            ("number", "4000"),
            ("cidrlist", "Internet"),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    // The built-in tags of the cloud's own servers: the management servers (and the image
    // store on their disks) on 8080.
    let j = dave
        .job(&[
            ("command", "createNetworkACL"),
            ("aclid", &acl),
            ("protocol", "tcp"),
            ("startport", "8080"),
            ("traffictype", "egress"),
            ("number", "90"),
            ("cidrlist", "managementservers,ImageStores"),
        ])
        .await;
    assert_eq!(
        j["jobresult"]["networkacl"]["cidrlist"], "ManagementServers,ImageStores",
        "{j}"
    );
    let tier_off = s(&admin
        .ok(&[
            ("command", "listNetworkOfferings"),
            ("name", "DefaultIsolatedNetworkOfferingForVpcNetworks"),
        ])
        .await["networkoffering"][0]["id"]);
    let tier = s(&dave
        .ok(&[
            ("command", "createNetwork"),
            ("name", "locked"),
            ("networkofferingid", &tier_off),
            ("zoneid", &z.zone),
            ("vpcid", &vpc),
            ("gateway", "10.80.1.1"),
            ("netmask", "255.255.255.0"),
            ("aclid", &acl),
        ])
        .await["network"]["id"]);
    let j = dave
        .job(&z.deploy(&[("name", "lk1"), ("networkids", tier.as_str())]))
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let rid = s(&admin
        .ok(&[
            ("command", "listRouters"),
            ("vpcid", &vpc),
            ("listall", "true"),
        ])
        .await["router"][0]["id"]);
    let nft = || async {
        s(&admin
            .ok(&[
                ("command", "getHostNetworkConfiguration"),
                ("routerid", &rid),
            ])
            .await["hostnetworkconfiguration"]["routers"][0]["nftables"])
    };
    let before = nft().await;
    for needle in [
        "set tag_storage {",
        "elements = { 198.51.100.7 }",
        "set tag_internet {",
        "ip daddr @tag_storage tcp dport 443 return comment \"acl 100\"",
        "ip daddr @tag_internet drop comment \"acl 4000\"",
        "set tag_managementservers {",
        "set tag_imagestores {",
        "elements = { 127.0.0.1 }",
        "ip daddr @tag_managementservers tcp dport 8080 return comment \"acl 90\"",
    ] {
        assert!(before.contains(needle), "{needle}:\n{before}");
    }
    // An isolated network's egress rule names the tag too.
    let j = dave.job(&z.deploy(&[("name", "iso1")])).await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let iso = s(&j["jobresult"]["virtualmachine"]["nic"][0]["networkid"]);
    let e = dave
        .err(
            &[
                ("command", "createEgressFirewallRule"),
                ("networkid", &iso),
                ("protocol", "tcp"),
                ("destcidrlist", "Nowhere"),
            ],
            431,
        )
        .await;
    assert!(e.contains("neither a CIDR nor a service tag"), "{e}");
    let j = dave
        .job(&[
            ("command", "createEgressFirewallRule"),
            ("networkid", &iso),
            ("protocol", "tcp"),
            ("startport", "443"),
            ("endport", "443"),
            ("destcidrlist", "Storage"),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let egress = s(&j["jobresult"]["firewallrule"]["id"]);
    let iso_router = s(&admin
        .ok(&[
            ("command", "listRouters"),
            ("networkid", &iso),
            ("listall", "true"),
        ])
        .await["router"][0]["id"]);
    let iso_nft = || async {
        s(&admin
            .ok(&[
                ("command", "getHostNetworkConfiguration"),
                ("routerid", &iso_router),
            ])
            .await["hostnetworkconfiguration"]["routers"][0]["nftables"])
    };
    let iso_before = iso_nft().await;
    assert!(
        iso_before.contains("ip daddr @tag_storage tcp dport 443 accept")
            && iso_before.contains("elements = { 198.51.100.7 }"),
        "{iso_before}"
    );
    // The members change: the set does, the rules do not.
    let j = admin
        .job(&[
            ("command", "updateServiceTag"),
            ("id", &tag),
            ("cidrlist", "198.51.100.99/32"),
        ])
        .await;
    assert_eq!(
        j["jobresult"]["servicetag"]["cidrlist"], "198.51.100.99/32",
        "{j}"
    );
    let after = nft().await;
    let changed: Vec<(&str, &str)> = before
        .lines()
        .zip(after.lines())
        .filter(|(a, b)| a != b)
        .collect();
    assert_eq!(
        changed,
        vec![(
            "        elements = { 198.51.100.7 }",
            "        elements = { 198.51.100.99 }"
        )],
        "only the tag's elements change"
    );
    assert!(iso_nft().await.contains("elements = { 198.51.100.99 }"));
    // A tag in use stays.
    let e = admin
        .err(&[("command", "deleteServiceTag"), ("id", &tag)], 431)
        .await;
    assert!(
        e.contains("named by 2"),
        "an ACL item and an egress rule: {e}"
    );
    let j = dave
        .job(&[("command", "deleteNetworkACL"), ("id", &item)])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    admin
        .err(&[("command", "deleteServiceTag"), ("id", &tag)], 431)
        .await;
    let j = dave
        .job(&[("command", "deleteEgressFirewallRule"), ("id", &egress)])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    admin
        .ok(&[("command", "deleteServiceTag"), ("id", &tag)])
        .await;
    assert_eq!(
        names(
            &dave.ok(&[("command", "listServiceTags")]).await,
            "servicetag",
            "name"
        ),
        vec!["ImageStores", "Internet", "ManagementServers"]
    );
    ts.stop().await;
}
