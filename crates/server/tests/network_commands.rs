//! The networking commands the scenario tests (tests/networks.rs) do not walk through: the
//! update, delete and list variants of every rule family, IP forwarding, disableStaticNat,
//! VPN and VPN-user removal, routers destroyed, ranges deleted — each through the API, checked
//! in the lists and, where the data plane changes, in the router's compiled configuration.

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
async fn every_remaining_networking_command() {
    let ts = TestServer::start().await;
    let z = VmZone::new(&ts, 2).await;
    let admin = &ts.admin;
    let (_a, _u, hal) = account_with_keys(&ts, admin, "hal", None, "0").await;
    let mut ids = Vec::new();
    for name in ["c1", "c2"] {
        let j = hal.job(&z.deploy(&[("name", name)])).await;
        assert_eq!(j["jobstatus"], 1, "{j}");
        ids.push(s(&j["jobresult"]["virtualmachine"]["id"]));
    }
    let vm1 = &ids[0];
    let vm2 = &ids[1];
    let net = s(&hal.ok(&[("command", "listNetworks")]).await["network"][0]["id"]);
    let router = s(&admin
        .ok(&[
            ("command", "listRouters"),
            ("networkid", &net),
            ("listall", "true"),
        ])
        .await["router"][0]["id"]);
    let router_cfg = || async {
        admin
            .ok(&[
                ("command", "getHostNetworkConfiguration"),
                ("routerid", &router),
            ])
            .await["hostnetworkconfiguration"]["routers"][0]
            .clone()
    };
    let acquire = || async {
        let j = hal
            .job(&[("command", "associateIpAddress"), ("networkid", &net)])
            .await;
        assert_eq!(j["jobstatus"], 1, "{j}");
        (
            s(&j["jobresult"]["ipaddress"]["id"]),
            s(&j["jobresult"]["ipaddress"]["ipaddress"]),
        )
    };

    // updateNetwork: name, network domain (reaches the router's dnsmasq).
    let j = hal
        .job(&[
            ("command", "updateNetwork"),
            ("id", &net),
            ("name", "renamed"),
            ("networkdomain", "hal.example"),
        ])
        .await;
    assert_eq!(j["jobresult"]["network"]["name"], "renamed", "{j}");
    assert_eq!(j["jobresult"]["network"]["networkdomain"], "hal.example");
    let cfg = router_cfg().await;
    assert!(
        s(&cfg["dnsmasq_conf"]).contains("domain=hal.example"),
        "{cfg}"
    );

    // Static NAT + IP forwarding, then disableStaticNat takes both away.
    let (nat, nat_ip) = acquire().await;
    hal.ok(&[
        ("command", "enableStaticNat"),
        ("ipaddressid", &nat),
        ("virtualmachineid", vm1),
    ])
    .await;
    let j = hal
        .job(&[
            ("command", "createIpForwardingRule"),
            ("ipaddressid", &nat),
            ("protocol", "tcp"),
            ("startport", "8000"),
            ("endport", "8100"),
        ])
        .await;
    let fwd = s(&j["jobresult"]["ipforwardingrule"]["id"]);
    assert_eq!(j["jobresult"]["ipforwardingrule"]["state"], "Active", "{j}");
    let l = hal
        .ok(&[
            ("command", "listIpForwardingRules"),
            ("virtualmachineid", vm1),
        ])
        .await;
    assert_eq!(n(&l), 1, "{l}");
    assert!(s(&router_cfg().await["nftables"])
        .contains(&format!("ip daddr {nat_ip} tcp dport 8000-8100 accept")));
    let j = hal
        .job(&[("command", "deleteIpForwardingRule"), ("id", &fwd)])
        .await;
    assert_eq!(j["jobresult"]["success"], true);
    hal.job(&[
        ("command", "createIpForwardingRule"),
        ("ipaddressid", &nat),
        ("protocol", "udp"),
        ("startport", "53"),
    ])
    .await;
    let j = hal
        .job(&[("command", "disableStaticNat"), ("ipaddressid", &nat)])
        .await;
    assert_eq!(j["jobresult"]["success"], true, "{j}");
    assert_eq!(n(&hal.ok(&[("command", "listIpForwardingRules")]).await), 0);
    let cfg = router_cfg().await;
    assert!(
        !s(&cfg["nftables"]).contains(&format!("ip daddr {nat_ip} dnat")),
        "{cfg}"
    );
    hal.err(
        &[("command", "disableStaticNat"), ("ipaddressid", &nat)],
        431,
    )
    .await;

    // Firewall and egress rules: update (display flag) and delete.
    let j = hal
        .job(&[
            ("command", "createFirewallRule"),
            ("ipaddressid", &nat),
            ("protocol", "icmp"),
            ("icmptype", "8"),
            ("icmpcode", "-1"),
        ])
        .await;
    let fw = s(&j["jobresult"]["firewallrule"]["id"]);
    assert_eq!(j["jobresult"]["firewallrule"]["icmptype"], 8, "{j}");
    let j = hal
        .job(&[
            ("command", "updateFirewallRule"),
            ("id", &fw),
            ("fordisplay", "false"),
        ])
        .await;
    assert_eq!(j["jobresult"]["firewallrule"]["fordisplay"], false, "{j}");
    hal.job(&[("command", "deleteFirewallRule"), ("id", &fw)])
        .await;
    assert_eq!(
        n(&hal
            .ok(&[("command", "listFirewallRules"), ("ipaddressid", &nat)])
            .await),
        0
    );
    hal.err(
        &[
            ("command", "createFirewallRule"),
            ("ipaddressid", &nat),
            ("protocol", "tcp"),
            ("startport", "90"),
            ("endport", "80"),
        ],
        431,
    )
    .await;
    let j = hal
        .job(&[
            ("command", "createEgressFirewallRule"),
            ("networkid", &net),
            ("protocol", "all"),
            ("destcidrlist", "192.0.2.0/24"),
        ])
        .await;
    let eg = s(&j["jobresult"]["firewallrule"]["id"]);
    assert_eq!(
        j["jobresult"]["firewallrule"]["destcidrlist"], "192.0.2.0/24",
        "{j}"
    );
    let j = hal
        .job(&[
            ("command", "updateEgressFirewallRule"),
            ("id", &eg),
            ("fordisplay", "false"),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let l = hal
        .ok(&[("command", "listEgressFirewallRules"), ("networkid", &net)])
        .await;
    assert_eq!(n(&l), 1, "{l}");
    assert!(s(&router_cfg().await["nftables"]).contains("ip daddr 192.0.2.0/24 accept"));
    hal.job(&[("command", "deleteEgressFirewallRule"), ("id", &eg)])
        .await;
    assert!(!s(&router_cfg().await["nftables"]).contains("192.0.2.0/24"));

    // Port forwarding: update the private port and the VM.
    let (pf_ip_id, pf_ip) = acquire().await;
    let j = hal
        .job(&[
            ("command", "createPortForwardingRule"),
            ("ipaddressid", &pf_ip_id),
            ("protocol", "udp"),
            ("publicport", "5000"),
            ("privateport", "5000"),
            ("virtualmachineid", vm1),
            ("openfirewall", "false"),
        ])
        .await;
    let pf = s(&j["jobresult"]["portforwardingrule"]["id"]);
    assert_eq!(
        n(&hal
            .ok(&[("command", "listFirewallRules"), ("ipaddressid", &pf_ip_id)])
            .await),
        0
    );
    let j = hal
        .job(&[
            ("command", "updatePortForwardingRule"),
            ("id", &pf),
            ("privateport", "6000"),
            ("virtualmachineid", vm2),
        ])
        .await;
    let r = &j["jobresult"]["portforwardingrule"];
    assert_eq!(r["privateport"], "6000", "{j}");
    assert_eq!(r["virtualmachineid"], vm2.as_str());
    let vm2_ip = s(&hal
        .ok(&[("command", "listVirtualMachines"), ("id", vm2)])
        .await["virtualmachine"][0]["nic"][0]["ipaddress"]);
    assert!(s(&router_cfg().await["nftables"]).contains(&format!(
        "ip daddr {pf_ip} udp dport 5000 dnat to {vm2_ip}:6000"
    )));

    // Load balancer: update, remove a member, health check and stickiness deleted, rule deleted.
    let (lb_ip, _) = acquire().await;
    let r = hal
        .job(&[
            ("command", "createLoadBalancerRule"),
            ("publicipid", &lb_ip),
            ("name", "lb1"),
            ("algorithm", "source"),
            ("publicport", "443"),
            ("privateport", "443"),
            ("cidrlist", "198.51.100.0/24"),
        ])
        .await;
    let lb = s(&r["jobresult"]["loadbalancer"]["id"]);
    hal.job(&[
        ("command", "assignToLoadBalancerRule"),
        ("id", &lb),
        ("virtualmachineids", &format!("{vm1},{vm2}")),
    ])
    .await;
    let j = hal
        .job(&[
            ("command", "updateLoadBalancerRule"),
            ("id", &lb),
            ("algorithm", "leastconn"),
            ("name", "lb-renamed"),
        ])
        .await;
    assert_eq!(
        j["jobresult"]["loadbalancer"]["algorithm"], "leastconn",
        "{j}"
    );
    assert_eq!(j["jobresult"]["loadbalancer"]["name"], "lb-renamed");
    hal.err(
        &[
            ("command", "updateLoadBalancerRule"),
            ("id", &lb),
            ("algorithm", "random"),
        ],
        431,
    )
    .await;
    let j = hal
        .job(&[
            ("command", "removeFromLoadBalancerRule"),
            ("id", &lb),
            ("virtualmachineids", vm2),
        ])
        .await;
    assert_eq!(j["jobresult"]["success"], true);
    assert_eq!(
        n(&hal
            .ok(&[("command", "listLoadBalancerRuleInstances"), ("id", &lb)])
            .await),
        1
    );
    let hc = hal
        .job(&[
            ("command", "createLBHealthCheckPolicy"),
            ("lbruleid", &lb),
            ("pingpath", "/ping"),
        ])
        .await;
    let hc_id = s(&hc["jobresult"]["healthcheckpolicies"]["healthcheckpolicy"][0]["id"]);
    let l = hal
        .ok(&[("command", "listLBHealthCheckPolicies"), ("lbruleid", &lb)])
        .await;
    assert_eq!(
        l["healthcheckpolicies"][0]["healthcheckpolicy"][0]["pingpath"], "/ping",
        "{l}"
    );
    let ha = s(&router_cfg().await["haproxy_cfg"]);
    assert!(
        ha.contains("balance leastconn") && ha.contains("option httpchk GET /ping"),
        "{ha}"
    );
    assert!(ha.contains("acl allowed src 198.51.100.0/24"), "{ha}");
    hal.job(&[("command", "deleteLBHealthCheckPolicy"), ("id", &hc_id)])
        .await;
    let sp = hal
        .job(&[
            ("command", "createLBStickinessPolicy"),
            ("lbruleid", &lb),
            ("methodname", "SourceBased"),
            ("name", "src"),
        ])
        .await;
    let sp_id = s(&sp["jobresult"]["stickinesspolicies"]["stickinesspolicy"][0]["id"]);
    hal.job(&[("command", "deleteLBStickinessPolicy"), ("id", &sp_id)])
        .await;
    let ha = s(&router_cfg().await["haproxy_cfg"]);
    assert!(
        !ha.contains("httpchk") && !ha.contains("stick on src"),
        "{ha}"
    );
    hal.job(&[("command", "deleteLoadBalancerRule"), ("id", &lb)])
        .await;
    assert!(router_cfg().await["haproxy_cfg"].is_null());

    // VPN: update, list, users removed, deleted.
    let snat = s(&hal
        .ok(&[
            ("command", "listPublicIpAddresses"),
            ("issourcenat", "true"),
        ])
        .await["publicipaddress"][0]["id"]);
    let v = hal
        .job(&[
            ("command", "createRemoteAccessVpn"),
            ("publicipid", &snat),
            ("iprange", "10.250.0.2-10.250.0.20"),
        ])
        .await;
    let vpn = s(&v["jobresult"]["remoteaccessvpn"]["id"]);
    let j = hal
        .job(&[
            ("command", "updateRemoteAccessVpn"),
            ("id", &vpn),
            ("fordisplay", "false"),
        ])
        .await;
    assert_eq!(
        j["jobresult"]["remoteaccessvpn"]["fordisplay"], false,
        "{j}"
    );
    assert_eq!(
        n(&hal
            .ok(&[("command", "listRemoteAccessVpns"), ("networkid", &net)])
            .await),
        1
    );
    hal.job(&[
        ("command", "addVpnUser"),
        ("username", "u1"),
        ("password", "pw-u1"),
    ])
    .await;
    hal.err(
        &[
            ("command", "addVpnUser"),
            ("username", "u1"),
            ("password", "pw-u1"),
        ],
        431,
    )
    .await;
    hal.job(&[("command", "removeVpnUser"), ("username", "u1")])
        .await;
    assert_eq!(n(&hal.ok(&[("command", "listVpnUsers")]).await), 0);
    let cfg = router_cfg().await;
    assert!(!s(&cfg["vpn"]["chap_secrets"]).contains("u1"), "{cfg}");
    hal.job(&[("command", "deleteRemoteAccessVpn"), ("publicipid", &snat)])
        .await;
    assert!(router_cfg().await["vpn"].is_null());

    // Static route deleted.
    let r = hal
        .job(&[
            ("command", "createStaticRoute"),
            ("networkid", &net),
            ("cidr", "100.64.0.0/10"),
            ("interface", "public"),
            ("nexthop", "203.0.113.1"),
        ])
        .await;
    let route = s(&r["jobresult"]["staticroute"]["id"]);
    hal.job(&[("command", "deleteStaticRoute"), ("id", &route)])
        .await;
    assert_eq!(n(&hal.ok(&[("command", "listStaticRoutes")]).await), 0);

    // Security groups: rename, egress revoke.
    let g = s(&hal
        .ok(&[("command", "createSecurityGroup"), ("name", "old")])
        .await["securitygroup"]["id"]);
    let u = hal
        .ok(&[
            ("command", "updateSecurityGroup"),
            ("id", &g),
            ("name", "new"),
        ])
        .await;
    assert_eq!(u["securitygroup"]["name"], "new", "{u}");
    let def = s(&hal
        .ok(&[
            ("command", "listSecurityGroups"),
            ("securitygroupname", "default"),
        ])
        .await["securitygroup"][0]["id"]);
    hal.err(
        &[
            ("command", "updateSecurityGroup"),
            ("id", &def),
            ("name", "x"),
        ],
        431,
    )
    .await;
    let j = hal
        .job(&[
            ("command", "authorizeSecurityGroupEgress"),
            ("securitygroupid", &g),
            ("protocol", "all"),
            ("cidrlist", "0.0.0.0/0"),
        ])
        .await;
    let rule = s(&j["jobresult"]["securitygroup"]["egressrule"][0]["ruleid"]);
    hal.job(&[("command", "revokeSecurityGroupEgress"), ("id", &rule)])
        .await;
    let l = hal
        .ok(&[("command", "listSecurityGroups"), ("id", &g)])
        .await;
    assert_eq!(
        l["securitygroup"][0]["egressrule"].as_array().map(Vec::len),
        Some(0),
        "{l}"
    );

    // Routers: destroyed; the next restart places a new one.
    let j = admin
        .job(&[("command", "destroyRouter"), ("id", &router)])
        .await;
    assert_eq!(j["jobresult"]["router"]["state"], "Destroyed", "{j}");
    let r = admin
        .ok(&[
            ("command", "listRouters"),
            ("networkid", &net),
            ("listall", "true"),
        ])
        .await;
    assert_eq!(n(&r), 0, "{r}");
    hal.job(&[
        ("command", "restartNetwork"),
        ("id", &net),
        ("cleanup", "true"),
    ])
    .await;
    let r = admin
        .ok(&[
            ("command", "listRouters"),
            ("networkid", &net),
            ("listall", "true"),
        ])
        .await;
    assert_eq!(n(&r), 1, "{r}");

    // Public ranges: a range with allocated addresses cannot go; a fresh one can.
    let ranges = admin
        .ok(&[
            ("command", "listVlanIpRanges"),
            ("zoneid", &z.zone),
            ("forvirtualnetwork", "true"),
        ])
        .await;
    let used = s(&ranges["vlaniprange"][0]["id"]);
    admin
        .err(&[("command", "deleteVlanIpRange"), ("id", &used)], 536)
        .await;
    let fresh = admin
        .ok(&[
            ("command", "createVlanIpRange"),
            ("zoneid", &z.zone),
            ("forvirtualnetwork", "true"),
            ("vlan", "untagged"),
            ("gateway", "198.18.0.1"),
            ("netmask", "255.255.255.0"),
            ("startip", "198.18.0.10"),
            ("endip", "198.18.0.20"),
        ])
        .await;
    let fresh = s(&fresh["vlan"]["id"]);
    let cap = admin
        .ok(&[
            ("command", "listCapacity"),
            ("zoneid", &z.zone),
            ("type", "4"),
        ])
        .await;
    assert!(
        cap["capacity"][0]["capacitytotal"].as_u64().unwrap_or(0) >= 11,
        "{cap}"
    );
    admin
        .ok(&[("command", "deleteVlanIpRange"), ("id", &fresh)])
        .await;
    // Tags on networking objects, shown in their objects.
    let g2 = s(&hal
        .ok(&[
            ("command", "listSecurityGroups"),
            ("securitygroupname", "new"),
        ])
        .await["securitygroup"][0]["id"]);
    for (rtype, id) in [
        ("Network", net.as_str()),
        ("SecurityGroup", g2.as_str()),
        ("PublicIpAddress", pf_ip_id.as_str()),
    ] {
        let j = hal
            .job(&[
                ("command", "createTags"),
                ("resourcetype", rtype),
                ("resourceids", id),
                ("tags[0].key", "env"),
                ("tags[0].value", "prod"),
            ])
            .await;
        assert_eq!(j["jobstatus"], 1, "{rtype}: {j}");
    }
    let nl = hal.ok(&[("command", "listNetworks"), ("id", &net)]).await;
    assert_eq!(nl["network"][0]["tags"][0]["value"], "prod", "{nl}");
    let g = hal
        .ok(&[("command", "listSecurityGroups"), ("id", &g2)])
        .await;
    assert_eq!(g["securitygroup"][0]["tags"][0]["key"], "env", "{g}");
    let i = hal
        .ok(&[("command", "listPublicIpAddresses"), ("id", &pf_ip_id)])
        .await;
    assert_eq!(i["publicipaddress"][0]["tags"][0]["key"], "env", "{i}");
    assert_eq!(
        n(&hal
            .ok(&[("command", "listTags"), ("resourcetype", "Network")])
            .await),
        1
    );
    // Users may not manage ranges.
    hal.err(&[("command", "listVlanIpRanges")], 401).await;
    ts.stop().await;
}
