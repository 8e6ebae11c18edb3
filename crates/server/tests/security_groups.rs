//! Security groups on a shared network through the API on simulated hosts: the `default`
//! group, groups given at deploy (by id and name), ingress/egress rules (one per CIDR and per
//! group), the compiled rulesets on the members' hosts, rule changes reaching exactly those
//! hosts, and the deletes CloudStack refuses.

mod common;

use std::collections::BTreeSet;

use common::*;
use serde_json::Value;

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn security_groups_on_a_shared_network() {
    let ts = TestServer::start().await;
    let z = VmZone::new(&ts, 3).await;
    let admin = &ts.admin;
    let (_a, _u, bob) = account_with_keys(&ts, admin, "bob", None, "0").await;
    let offering = s(&admin
        .ok(&[
            ("command", "listNetworkOfferings"),
            ("name", "DefaultSharedNetworkOfferingWithSGService"),
        ])
        .await["networkoffering"][0]["id"]);
    let shared = admin
        .ok(&[
            ("command", "createNetwork"),
            ("name", "shared-sg"),
            ("displaytext", "shared with security groups"),
            ("zoneid", &z.zone),
            ("networkofferingid", &offering),
            ("gateway", "10.50.0.1"),
            ("netmask", "255.255.255.0"),
            ("startip", "10.50.0.10"),
            ("endip", "10.50.0.100"),
            ("vlan", "3000"),
        ])
        .await;
    let net = s(&shared["network"]["id"]);
    assert_eq!(shared["network"]["state"], "Setup", "{shared}");
    assert_eq!(shared["network"]["type"], "Shared");
    // Users see the zone-wide shared network and may deploy on it.
    let seen = bob.ok(&[("command", "listNetworks"), ("id", &net)]).await;
    assert_eq!(seen["count"], 1, "{seen}");
    // Users cannot create shared networks.
    bob.err(
        &[
            ("command", "createNetwork"),
            ("name", "x"),
            ("zoneid", &z.zone),
            ("networkofferingid", &offering),
            ("gateway", "10.51.0.1"),
            ("netmask", "255.255.255.0"),
            ("startip", "10.51.0.10"),
        ],
        531,
    )
    .await;

    // The default group: no rules.
    let groups = bob.ok(&[("command", "listSecurityGroups")]).await;
    assert_eq!(groups["securitygroup"][0]["name"], "default", "{groups}");
    assert_eq!(
        groups["securitygroup"][0]["ingressrule"]
            .as_array()
            .map(Vec::len),
        Some(0)
    );
    let web = s(&bob
        .ok(&[
            ("command", "createSecurityGroup"),
            ("name", "web"),
            ("description", "web servers"),
        ])
        .await["securitygroup"]["id"]);
    let e = bob
        .err(&[("command", "createSecurityGroup"), ("name", "web")], 431)
        .await;
    assert!(e.contains("already exists"), "{e}");

    let a = deploy_vm(&bob, &z, "sg-a", &[("networkids", &net)]).await;
    let b = deploy_vm(
        &bob,
        &z,
        "sg-b",
        &[("networkids", &net), ("securitygroupnames", "web")],
    )
    .await;
    let c = deploy_vm(
        &bob,
        &z,
        "sg-c",
        &[("networkids", &net), ("securitygroupids", &web)],
    )
    .await;
    assert_eq!(a["securitygroup"][0]["name"], "default", "{a}");
    assert_eq!(b["securitygroup"][0]["name"], "web", "{b}");
    let ip_a = s(&a["nic"][0]["ipaddress"]);
    assert!(ip_a.starts_with("10.50.0."), "{a}");
    let (ha, hb, hc) = (
        s(&vm_view(admin, &s(&a["id"])).await["hostid"]),
        s(&vm_view(admin, &s(&b["id"])).await["hostid"]),
        s(&vm_view(admin, &s(&c["id"])).await["hostid"]),
    );
    assert!(!ha.is_empty() && !hb.is_empty() && !hc.is_empty());
    let web_hosts: BTreeSet<String> = [hb.clone(), hc.clone()].into();
    // Security groups on a network without the service: 431.
    let iso_err = bob
        .call(&z.deploy(&[("name", "x1"), ("securitygroupnames", "web")]))
        .await;
    assert_eq!(iso_err.status, 431, "{}", iso_err.text);

    // Rules on `web` reach exactly the hosts of its members.
    let before = z.generations();
    let j = bob
        .job(&[
            ("command", "authorizeSecurityGroupIngress"),
            ("securitygroupid", &web),
            ("protocol", "TCP"),
            ("startport", "80"),
            ("endport", "80"),
            ("cidrlist", "0.0.0.0/0,192.0.2.0/24"),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let rules = j["jobresult"]["securitygroup"]["ingressrule"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(rules.len(), 2, "one rule per CIDR: {j}");
    let after = z.generations();
    assert_eq!(
        generations_changed(&before, &after),
        web_hosts,
        "{before:?} {after:?}"
    );
    let j = bob
        .job(&[
            ("command", "authorizeSecurityGroupIngress"),
            ("securitygroupname", "web"),
            ("protocol", "icmp"),
            ("icmptype", "8"),
            ("icmpcode", "-1"),
            ("usersecuritygrouplist[0].account", "bob"),
            ("usersecuritygrouplist[0].group", "web"),
        ])
        .await;
    assert_eq!(
        j["jobresult"]["securitygroup"]["ingressrule"][0]["securitygroupname"], "web",
        "{j}"
    );
    let j = bob
        .job(&[
            ("command", "authorizeSecurityGroupEgress"),
            ("securitygroupid", &web),
            ("protocol", "tcp"),
            ("startport", "443"),
            ("endport", "443"),
            ("cidrlist", "0.0.0.0/0"),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let listed = &bob
        .ok(&[("command", "listSecurityGroups"), ("id", &web)])
        .await["securitygroup"][0];
    assert_eq!(
        listed["ingressrule"].as_array().map(Vec::len),
        Some(3),
        "{listed}"
    );
    assert_eq!(listed["egressrule"].as_array().map(Vec::len), Some(1));
    assert_eq!(listed["virtualmachinecount"], 2);

    // The compiled rulesets: B's host accepts port 80 and ICMP from the group's members;
    // A (default only) accepts nothing; anti-spoofing on every tap.
    let nft_b = z
        .net_of(&hb)
        .desired
        .and_then(|d| d.security)
        .expect("B's host has a ruleset");
    assert!(nft_b.contains("tcp dport 80 accept"), "{nft_b}");
    assert!(nft_b.contains("ip saddr @g_"), "{nft_b}");
    assert!(
        nft_b.contains(&format!(
            "elements = {{ {}",
            s(&b["nic"][0]["ipaddress"])
                .split('.')
                .take(3)
                .collect::<Vec<_>>()
                .join(".")
        )),
        "{nft_b}"
    );
    assert!(nft_b.contains("tcp dport 443 return"), "{nft_b}");
    let nft_a = z
        .net_of(&ha)
        .desired
        .and_then(|d| d.security)
        .expect("A's host has a ruleset");
    assert!(
        nft_a.contains(&format!("ether type ip ip saddr != {ip_a} drop")),
        "{nft_a}"
    );

    // Revoke reaches the same hosts; deleting groups in use or `default` is refused.
    let rule = s(&rules[0]["ruleid"]);
    let before = z.generations();
    let j = bob
        .job(&[("command", "revokeSecurityGroupIngress"), ("id", &rule)])
        .await;
    assert_eq!(j["jobresult"]["success"], true, "{j}");
    assert_eq!(generations_changed(&before, &z.generations()), web_hosts);
    let e = bob
        .err(
            &[("command", "deleteSecurityGroup"), ("name", "default")],
            431,
        )
        .await;
    assert!(e.contains("reserved"), "{e}");
    bob.err(&[("command", "deleteSecurityGroup"), ("id", &web)], 536)
        .await;
    for v in [&b, &c] {
        let j = admin
            .job(&[
                ("command", "destroyVirtualMachine"),
                ("id", &s(&v["id"])),
                ("expunge", "true"),
            ])
            .await;
        assert_eq!(j["jobstatus"], 1, "{j}");
    }
    // The ICMP rule names `web` itself: deleting it is allowed (self-reference).
    bob.ok(&[("command", "deleteSecurityGroup"), ("id", &web)])
        .await;
    ts.stop().await;
}
