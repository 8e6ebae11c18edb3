//! Networking through the API on simulated hosts: an isolated network implemented by its
//! first VM (VNI, router, source NAT), public IPs with static NAT, port forwarding, firewall,
//! egress, load balancing with stickiness and health checks, VPN, static routes — each checked
//! in the list commands and in the configuration the simulated hosts were given, and rule
//! changes reaching exactly the hosts they concern; security groups on a shared network;
//! IPAM under concurrency; network garbage collection; routers re-placed when a host dies.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::*;
use serde_json::Value;

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

async fn vm_view(c: &Client, id: &str) -> Value {
    c.ok(&[
        ("command", "listVirtualMachines"),
        ("id", id),
        ("listall", "true"),
    ])
    .await["virtualmachine"][0]
        .clone()
}

async fn deploy(c: &Client, z: &VmZone, name: &str, extra: &[(&str, &str)]) -> Value {
    let mut p = z.deploy(&[("name", name)]);
    p.extend_from_slice(extra);
    let j = c.job(&p).await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    j["jobresult"]["virtualmachine"].clone()
}

/// The hosts whose generation changed between two snapshots.
fn changed(a: &BTreeMap<String, u64>, b: &BTreeMap<String, u64>) -> BTreeSet<String> {
    a.iter()
        .filter(|(h, g)| b.get(*h) != Some(*g))
        .map(|(h, _)| h.clone())
        .collect()
}

fn router_of(z: &VmZone, host: &str) -> netplan::RouterDesired {
    let n = z.net_of(host);
    let d = n
        .desired
        .unwrap_or_else(|| panic!("host {host} has no configuration"));
    assert_eq!(d.routers.len(), 1, "{d:?}");
    d.routers[0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn isolated_network_nat_firewall_lb_vpn_routes() {
    isolated(TestServer::start().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn isolated_network_nat_firewall_lb_vpn_routes_postgres() {
    let Some(pg) = testkit::Postgres::start_for_test() else {
        return;
    };
    isolated(TestServer::start_with(Some(pg.fresh_database().expect("db"))).await).await;
}

async fn isolated(ts: TestServer) {
    let z = VmZone::new(&ts, 3).await;
    let admin = &ts.admin;
    let (_a, _u, alice) = account_with_keys(&ts, admin, "alice", None, "0").await;

    // The first VM implements the account's network: VNI, router, source NAT.
    let vm1 = deploy(&alice, &z, "web1", &[]).await;
    let vm2 = deploy(&alice, &z, "web2", &[]).await;
    let (id1, id2) = (s(&vm1["id"]), s(&vm2["id"]));
    let ip1 = s(&vm1["nic"][0]["ipaddress"]);
    let ip2 = s(&vm2["nic"][0]["ipaddress"]);
    let net = s(&vm1["nic"][0]["networkid"]);
    assert_ne!(ip1, ip2);
    let n = &admin
        .ok(&[
            ("command", "listNetworks"),
            ("id", &net),
            ("listall", "true"),
        ])
        .await["network"][0];
    assert_eq!(n["state"], "Implemented", "{n}");
    assert_eq!(n["type"], "Isolated");
    let vni = s(&n["vlan"]);
    assert!(
        vni.parse::<u32>().is_ok_and(|v| (1000..=1999).contains(&v)),
        "{n}"
    );
    assert!(n["service"]
        .as_array()
        .is_some_and(|a| a.iter().any(|x| x["name"] == "Lb")));
    // Users do not see the VNI.
    let mine = &alice.ok(&[("command", "listNetworks"), ("id", &net)]).await["network"][0];
    assert!(mine.get("vlan").is_none(), "{mine}");

    let r = &admin
        .ok(&[
            ("command", "listRouters"),
            ("networkid", &net),
            ("listall", "true"),
        ])
        .await["router"][0];
    assert_eq!(r["state"], "Running", "{r}");
    assert_eq!(r["guestipaddress"], n["gateway"]);
    let snat = s(&r["publicip"]);
    assert!(snat.starts_with("203.0.113."), "{r}");
    assert!(s(&r["linklocalip"]).starts_with("169.254."));
    assert_eq!(r["nic"].as_array().map(Vec::len), Some(3));
    let rhost = s(&r["hostid"]);
    // Users may not list routers.
    alice.err(&[("command", "listRouters")], 401).await;

    let ips = alice.ok(&[("command", "listPublicIpAddresses")]).await;
    assert_eq!(ips["count"], 1, "{ips}");
    assert_eq!(ips["publicipaddress"][0]["issourcenat"], true);
    assert_eq!(ips["publicipaddress"][0]["ipaddress"], snat.as_str());
    assert_eq!(
        ips["publicipaddress"][0]["associatednetworkid"],
        net.as_str()
    );

    // The compiled configuration: taps on the VMs' hosts, the router on its host with both
    // leases, VXLAN peers that are exactly the other hosts of the network.
    let hosts_of = |v: &Value| s(&v["hostid"]);
    let h1 = hosts_of(&vm_view(admin, &id1).await);
    let h2 = hosts_of(&vm_view(admin, &id2).await);
    let router = router_of(&z, &rhost);
    assert_eq!(
        router.interfaces[0].addresses[0],
        format!("{}/16", s(&n["gateway"]))
    );
    let leases: Vec<String> = router.leases.iter().map(|l| l.ip.to_string()).collect();
    assert!(leases.contains(&ip1) && leases.contains(&ip2), "{leases:?}");
    assert!(
        router.dnsmasq_conf.contains(&format!("web1,{ip1},"))
            || router.dnsmasq_conf.contains(&format!("{ip1},web1")),
        "{}",
        router.dnsmasq_conf
    );
    assert!(
        router.nftables.contains(&format!("snat to {snat}")),
        "{}",
        router.nftables
    );
    let network_hosts: BTreeSet<String> = [h1.clone(), h2.clone(), rhost.clone()].into();
    for h in &network_hosts {
        let d = z.net_of(h).desired.expect("configured");
        let br = d
            .bridges
            .iter()
            .find(|b| b.name == format!("cbr{vni}"))
            .unwrap_or_else(|| panic!("{h} has no bridge for VNI {vni}: {d:?}"));
        let peers = match &br.link {
            netplan::compile::Link::Vxlan { peers, .. } => peers.len(),
            other => panic!("{other:?}"),
        };
        assert_eq!(peers, network_hosts.len() - 1, "{h}: {br:?}");
    }

    // Public IPs: associate three more.
    let mut extra = Vec::new();
    for _ in 0..3 {
        let j = alice
            .job(&[("command", "associateIpAddress"), ("networkid", &net)])
            .await;
        assert_eq!(j["jobstatus"], 1, "{j}");
        assert_eq!(j["jobresult"]["ipaddress"]["state"], "Allocated");
        extra.push((
            s(&j["jobresult"]["ipaddress"]["id"]),
            s(&j["jobresult"]["ipaddress"]["ipaddress"]),
        ));
    }
    let (nat_id, nat_ip) = extra[0].clone();
    let (pf_id, pf_ip) = extra[1].clone();
    let (lb_id, lb_ip) = extra[2].clone();

    // Static NAT + a firewall rule on it.
    alice
        .ok(&[
            ("command", "enableStaticNat"),
            ("ipaddressid", &nat_id),
            ("virtualmachineid", &id1),
        ])
        .await;
    let listed = &alice
        .ok(&[("command", "listPublicIpAddresses"), ("id", &nat_id)])
        .await["publicipaddress"][0];
    assert_eq!(listed["isstaticnat"], true);
    assert_eq!(listed["virtualmachineid"], id1.as_str());
    assert_eq!(listed["vmipaddress"], ip1.as_str());
    let fw = alice
        .job(&[
            ("command", "createFirewallRule"),
            ("ipaddressid", &nat_id),
            ("protocol", "TCP"),
            ("startport", "22"),
            ("endport", "22"),
            ("cidrlist", "198.51.100.0/24"),
        ])
        .await;
    assert_eq!(fw["jobresult"]["firewallrule"]["state"], "Active", "{fw}");
    assert_eq!(
        fw["jobresult"]["firewallrule"]["cidrlist"],
        "198.51.100.0/24"
    );
    // Port forwarding on a static-NAT IP is refused.
    alice
        .err(
            &[
                ("command", "createPortForwardingRule"),
                ("ipaddressid", &nat_id),
                ("protocol", "tcp"),
                ("publicport", "80"),
                ("privateport", "80"),
                ("virtualmachineid", &id2),
            ],
            431,
        )
        .await;

    // Port forwarding: listed at once (state Add), Active after the job; its firewall rule
    // comes with it (openfirewall).
    let before = z.generations();
    let r = alice
        .ok(&[
            ("command", "createPortForwardingRule"),
            ("ipaddressid", &pf_id),
            ("protocol", "TCP"),
            ("publicport", "2222"),
            ("privateport", "22"),
            ("virtualmachineid", &id2),
        ])
        .await;
    let pf_rule = s(&r["id"]);
    assert!(!pf_rule.is_empty(), "{r}");
    let j = alice.wait_job(&s(&r["jobid"])).await;
    assert_eq!(
        j["jobresult"]["portforwardingrule"]["state"], "Active",
        "{j}"
    );
    let after = z.generations();
    // Exactly the router's host got a new generation.
    assert_eq!(changed(&before, &after), BTreeSet::from([rhost.clone()]));
    let pfs = alice
        .ok(&[
            ("command", "listPortForwardingRules"),
            ("ipaddressid", &pf_id),
        ])
        .await;
    let p = &pfs["portforwardingrule"][0];
    for k in [
        "id",
        "virtualmachineid",
        "ipaddress",
        "protocol",
        "publicport",
        "privateport",
        "publicendport",
        "privateendport",
    ] {
        assert!(p.get(k).is_some(), "{k} missing: {p}");
    }
    assert_eq!(p["publicport"], "2222");
    assert_eq!(p["ipaddress"], pf_ip.as_str());
    assert_eq!(p["virtualmachinename"], "web2");
    let fws = alice
        .ok(&[("command", "listFirewallRules"), ("ipaddressid", &pf_id)])
        .await;
    assert_eq!(fws["count"], 1, "{fws}");
    assert_eq!(fws["firewallrule"][0]["startport"], 2222);
    // An overlapping forward is refused.
    let e = alice
        .err(
            &[
                ("command", "createPortForwardingRule"),
                ("ipaddressid", &pf_id),
                ("protocol", "tcp"),
                ("publicport", "2200"),
                ("publicendport", "2300"),
                ("privateport", "2200"),
                ("privateendport", "2300"),
                ("virtualmachineid", &id1),
            ],
            431,
        )
        .await;
    assert!(e.contains("conflicts"), "{e}");

    // Egress: the default isolated offering denies; a rule allows.
    let eg = alice
        .job(&[
            ("command", "createEgressFirewallRule"),
            ("networkid", &net),
            ("protocol", "tcp"),
            ("startport", "80"),
            ("endport", "443"),
        ])
        .await;
    assert_eq!(
        eg["jobresult"]["firewallrule"]["traffictype"], "Egress",
        "{eg}"
    );

    // Load balancer with two VMs, a stickiness policy and a health check.
    let r = alice
        .ok(&[
            ("command", "createLoadBalancerRule"),
            ("publicipid", &lb_id),
            ("name", "web-lb"),
            ("algorithm", "roundrobin"),
            ("publicport", "80"),
            ("privateport", "8080"),
        ])
        .await;
    let lb = s(&r["id"]);
    // libcloud lists the rule before waiting for the job.
    let early = alice
        .ok(&[
            ("command", "listLoadBalancerRules"),
            ("id", &lb),
            ("algorithm", "roundrobin"),
        ])
        .await;
    assert_eq!(early["count"], 1, "{early}");
    for k in [
        "id",
        "name",
        "state",
        "publicip",
        "publicport",
        "privateport",
        "publicipid",
    ] {
        assert!(
            early["loadbalancerrule"][0].get(k).is_some(),
            "{k}: {early}"
        );
    }
    alice.wait_job(&s(&r["jobid"])).await;
    let j = alice
        .job(&[
            ("command", "assignToLoadBalancerRule"),
            ("id", &lb),
            ("virtualmachineids", &format!("{id1},{id2}")),
        ])
        .await;
    assert_eq!(j["jobresult"]["success"], true, "{j}");
    let inst = alice
        .ok(&[("command", "listLoadBalancerRuleInstances"), ("id", &lb)])
        .await;
    assert_eq!(inst["count"], 2, "{inst}");
    assert!(inst["loadbalancerruleinstance"][0]["nic"][0]["ipaddress"].is_string());
    let sp = alice
        .job(&[
            ("command", "createLBStickinessPolicy"),
            ("lbruleid", &lb),
            ("methodname", "LbCookie"),
            ("name", "sticky"),
            ("param[0].name", "cookie-name"),
            ("param[0].value", "WEBSRV"),
        ])
        .await;
    assert_eq!(sp["jobstatus"], 1, "{sp}");
    assert_eq!(
        sp["jobresult"]["stickinesspolicies"]["stickinesspolicy"][0]["methodname"],
        "LbCookie"
    );
    alice
        .err(
            &[
                ("command", "createLBStickinessPolicy"),
                ("lbruleid", &lb),
                ("methodname", "SourceBased"),
                ("name", "bad"),
                ("param[0].name", "cookie-name"),
                ("param[0].value", "x"),
            ],
            431,
        )
        .await;
    let listed = alice
        .ok(&[("command", "listLBStickinessPolicies"), ("lbruleid", &lb)])
        .await;
    assert_eq!(
        listed["stickinesspolicies"][0]["stickinesspolicy"][0]["name"], "sticky",
        "{listed}"
    );
    let hc = alice
        .job(&[
            ("command", "createLBHealthCheckPolicy"),
            ("lbruleid", &lb),
            ("pingpath", "/healthz"),
            ("intervaltime", "5"),
            ("responsetimeout", "2"),
        ])
        .await;
    assert_eq!(hc["jobstatus"], 1, "{hc}");

    // VPN on the source-NAT IP, with a user.
    let snat_id = s(&alice
        .ok(&[
            ("command", "listPublicIpAddresses"),
            ("issourcenat", "true"),
        ])
        .await["publicipaddress"][0]["id"]);
    let vpn = alice
        .job(&[
            ("command", "createRemoteAccessVpn"),
            ("publicipid", &snat_id),
        ])
        .await;
    assert_eq!(
        vpn["jobresult"]["remoteaccessvpn"]["state"], "Running",
        "{vpn}"
    );
    let psk = s(&vpn["jobresult"]["remoteaccessvpn"]["presharedkey"]);
    assert_eq!(psk.len(), 24);
    let u = alice
        .job(&[
            ("command", "addVpnUser"),
            ("username", "bob"),
            ("password", "s3cret-pw"),
        ])
        .await;
    assert_eq!(u["jobresult"]["vpnuser"]["username"], "bob", "{u}");
    assert_eq!(alice.ok(&[("command", "listVpnUsers")]).await["count"], 1);

    // Static routes with metrics.
    for (cidr, hop, metric) in [
        ("10.20.0.0/16", "10.1.0.254", "10"),
        ("10.20.0.0/16", "10.1.0.253", "5"),
        ("10.20.30.0/24", "10.1.0.250", "100"),
    ] {
        let j = alice
            .job(&[
                ("command", "createStaticRoute"),
                ("networkid", &net),
                ("cidr", cidr),
                ("nexthop", hop),
                ("metric", metric),
            ])
            .await;
        assert_eq!(j["jobresult"]["staticroute"]["state"], "Active", "{j}");
    }
    alice
        .err(
            &[
                ("command", "createStaticRoute"),
                ("networkid", &net),
                ("cidr", "10.30.0.0/16"),
                ("nexthop", "192.168.1.1"),
            ],
            431,
        )
        .await;
    let routes = alice
        .ok(&[("command", "listStaticRoutes"), ("networkid", &net)])
        .await;
    assert_eq!(routes["count"], 3, "{routes}");

    // Everything reached the router's host, compiled.
    let router = router_of(&z, &rhost);
    let nft = &router.nftables;
    assert!(
        nft.contains(&format!("ip daddr {nat_ip} dnat to {ip1}")),
        "{nft}"
    );
    assert!(
        nft.contains(&format!("ip daddr {pf_ip} tcp dport 2222 dnat to {ip2}:22")),
        "{nft}"
    );
    assert!(
        nft.contains("ip saddr 198.51.100.0/24 meta l4proto tcp ct original proto-dst 22 accept"),
        "{nft}"
    );
    assert!(
        nft.contains("oifname \"public\" tcp dport 80-443 accept"),
        "{nft}"
    );
    assert!(
        nft.contains("iifname \"guest\" oifname \"public\" drop"),
        "{nft}"
    );
    let ha = router.haproxy_cfg.clone().expect("haproxy");
    assert!(ha.contains(&format!("bind {lb_ip}:80")), "{ha}");
    assert!(
        ha.contains(&format!("{ip1}:8080")) && ha.contains(&format!("{ip2}:8080")),
        "{ha}"
    );
    assert!(ha.contains("cookie WEBSRV insert"), "{ha}");
    assert!(ha.contains("option httpchk GET /healthz"), "{ha}");
    let v = router.vpn.clone().expect("vpn");
    assert!(
        v.chap_secrets.contains("\"bob\" * \"s3cret-pw\""),
        "{}",
        v.chap_secrets
    );
    assert!(v.ipsec_secrets.contains(&psk));
    let order: Vec<(String, u32)> = router
        .routes
        .iter()
        .map(|r| (r.destination.to_string(), r.metric))
        .collect();
    assert_eq!(
        order,
        vec![
            ("10.20.30.0/24".to_string(), 100),
            ("10.20.0.0/16".to_string(), 5),
            ("10.20.0.0/16".to_string(), 10),
            ("0.0.0.0/0".to_string(), 0),
        ]
    );

    // Deleting rules takes them out of the compiled state.
    let j = alice
        .job(&[("command", "deletePortForwardingRule"), ("id", &pf_rule)])
        .await;
    assert_eq!(j["jobresult"]["success"], true);
    assert_eq!(
        alice
            .ok(&[("command", "listFirewallRules"), ("ipaddressid", &pf_id)])
            .await["count"]
            .as_u64()
            .unwrap_or(0),
        0
    );
    assert!(!router_of(&z, &rhost).nftables.contains("dport 2222"));

    // The source-NAT IP stays; the network cannot go while VMs are on it.
    alice
        .err(
            &[("command", "disassociateIpAddress"), ("id", &snat_id)],
            431,
        )
        .await;
    let d = alice
        .job(&[("command", "deleteNetwork"), ("id", &net)])
        .await;
    assert_eq!(d["jobstatus"], 2, "{d}");
    assert_eq!(d["jobresult"]["errorcode"], 536);
    let j = alice
        .job(&[("command", "disassociateIpAddress"), ("id", &lb_id)])
        .await;
    assert_eq!(j["jobresult"]["success"], true);
    assert_eq!(
        alice.ok(&[("command", "listLoadBalancerRules")]).await["count"]
            .as_u64()
            .unwrap_or(0),
        0
    );

    // Expunged VMs leave the network; then it can be deleted and its addresses go back.
    for id in [&id1, &id2] {
        let j = admin
            .job(&[
                ("command", "destroyVirtualMachine"),
                ("id", id),
                ("expunge", "true"),
            ])
            .await;
        assert_eq!(j["jobstatus"], 1, "{j}");
    }
    let d = alice
        .job(&[("command", "deleteNetwork"), ("id", &net)])
        .await;
    assert_eq!(d["jobstatus"], 1, "{d}");
    assert_eq!(
        alice.ok(&[("command", "listPublicIpAddresses")]).await["count"]
            .as_u64()
            .unwrap_or(0),
        0
    );
    let routers = admin
        .ok(&[
            ("command", "listRouters"),
            ("networkid", &net),
            ("listall", "true"),
        ])
        .await;
    assert_eq!(routers["count"].as_u64().unwrap_or(0), 0, "{routers}");
    // Nothing of the network is left on any host.
    for (h, _) in &z.hosts {
        if let Some(d) = z.net_of(h).desired {
            assert!(d.routers.is_empty() && d.taps.is_empty(), "{h}: {d:?}");
        }
    }
    ts.stop().await;
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

    let a = deploy(&bob, &z, "sg-a", &[("networkids", &net)]).await;
    let b = deploy(
        &bob,
        &z,
        "sg-b",
        &[("networkids", &net), ("securitygroupnames", "web")],
    )
    .await;
    let c = deploy(
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
    assert_eq!(changed(&before, &after), web_hosts, "{before:?} {after:?}");
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
    assert_eq!(changed(&before, &z.generations()), web_hosts);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn ipam_under_concurrency() {
    ipam(TestServer::start().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn ipam_under_concurrency_postgres() {
    let Some(pg) = testkit::Postgres::start_for_test() else {
        return;
    };
    ipam(TestServer::start_with(Some(pg.fresh_database().expect("db"))).await).await;
}

/// 1,000 concurrent deploys on one network (allocation happens when the deploy is accepted;
/// the VMs stay Stopped), and 40 concurrent public IP associations: no duplicate address or
/// MAC.
async fn ipam(ts: TestServer) {
    let z = VmZone::new(&ts, 1).await;
    let admin = &ts.admin;
    for k in [
        "max.account.user.vms",
        "max.account.cpus",
        "max.account.memory",
        "max.account.volumes",
        "max.account.primary.storage",
        "max.account.public.ips",
    ] {
        admin
            .ok(&[
                ("command", "updateConfiguration"),
                ("name", k),
                ("value", "-1"),
            ])
            .await;
    }
    let (_a, _u, carol) = account_with_keys(&ts, admin, "carol", None, "0").await;
    // Create the network first (the first deploy does), so all race for its addresses.
    let first = carol
        .ok(&z.deploy(&[("name", "v0"), ("startvm", "false")]))
        .await;
    carol.wait_job(&s(&first["jobid"])).await;
    let n = 999;
    let mut tasks = Vec::new();
    for i in 1..=n {
        let c = Client::new(&carol.base, &carol.key, &carol.secret);
        let p: Vec<(String, String)> = z
            .deploy(&[("startvm", "false")])
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .chain([("name".to_string(), format!("v{i}"))])
            .collect();
        tasks.push(tokio::spawn(async move {
            let p: Vec<(&str, &str)> = p.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let r = c.call(&p).await;
            assert_eq!(r.status, 200, "{}", r.text);
        }));
    }
    for t in tasks {
        t.await.expect("deploy task");
    }
    let mut ips = BTreeSet::new();
    let mut macs = BTreeSet::new();
    let mut seen = 0;
    for page in 1..=3 {
        let p = page.to_string();
        let l = carol
            .ok(&[
                ("command", "listVirtualMachines"),
                ("page", &p),
                ("pagesize", "500"),
            ])
            .await;
        for v in l["virtualmachine"].as_array().cloned().unwrap_or_default() {
            seen += 1;
            ips.insert(s(&v["nic"][0]["ipaddress"]));
            macs.insert(s(&v["nic"][0]["macaddress"]));
        }
    }
    assert_eq!(seen, n + 1);
    assert_eq!(ips.len(), n + 1, "duplicate IP addresses");
    assert_eq!(macs.len(), n + 1, "duplicate MAC addresses");

    // Public IPs: 40 concurrent associations, all different.
    let net = s(&carol.ok(&[("command", "listNetworks")]).await["network"][0]["id"]);
    let mut tasks = Vec::new();
    for _ in 0..40 {
        let c = Client::new(&carol.base, &carol.key, &carol.secret);
        let net = net.clone();
        tasks.push(tokio::spawn(async move {
            let j = c
                .job(&[("command", "associateIpAddress"), ("networkid", &net)])
                .await;
            assert_eq!(j["jobstatus"], 1, "{j}");
            s(&j["jobresult"]["ipaddress"]["ipaddress"])
        }));
    }
    let mut got = BTreeSet::new();
    for t in tasks {
        got.insert(t.await.expect("associate task"));
    }
    assert_eq!(got.len(), 40);
    ts.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn network_implemented_on_first_vm_and_garbage_collected() {
    let ts = TestServer::start().await;
    let admin = &ts.admin;
    for (k, v) in [("network.gc.wait", "0"), ("network.gc.interval", "1")] {
        admin
            .ok(&[
                ("command", "updateConfiguration"),
                ("name", k),
                ("value", v),
            ])
            .await;
    }
    let z = VmZone::new(&ts, 2).await;
    let (_a, _u, dave) = account_with_keys(&ts, admin, "dave", None, "0").await;
    // A network created by hand is Allocated, without VNI or router, until a VM starts.
    let offering = s(&admin
        .ok(&[
            ("command", "listNetworkOfferings"),
            ("name", "DefaultIsolatedNetworkOfferingWithSourceNatService"),
        ])
        .await["networkoffering"][0]["id"]);
    let created = dave
        .ok(&[
            ("command", "createNetwork"),
            ("name", "mynet"),
            ("zoneid", &z.zone),
            ("networkofferingid", &offering),
            ("gateway", "10.9.8.1"),
            ("netmask", "255.255.255.0"),
        ])
        .await;
    let net = s(&created["network"]["id"]);
    assert_eq!(created["network"]["state"], "Allocated", "{created}");
    assert_eq!(created["network"]["cidr"], "10.9.8.0/24");
    let routers = |c: &Client| {
        let c = Client::new(&c.base, &c.key, &c.secret);
        let net = net.clone();
        async move {
            c.ok(&[
                ("command", "listRouters"),
                ("networkid", &net),
                ("listall", "true"),
            ])
            .await["count"]
                .as_u64()
                .unwrap_or(0)
        }
    };
    assert_eq!(routers(admin).await, 0);
    let vm = deploy(&dave, &z, "gc1", &[("networkids", &net)]).await;
    assert!(s(&vm["nic"][0]["ipaddress"]).starts_with("10.9.8."), "{vm}");
    let state = |c: &Client| {
        let c = Client::new(&c.base, &c.key, &c.secret);
        let net = net.clone();
        async move {
            c.ok(&[
                ("command", "listNetworks"),
                ("id", &net),
                ("listall", "true"),
            ])
            .await["network"][0]
                .clone()
        }
    };
    let n = state(admin).await;
    assert_eq!(n["state"], "Implemented", "{n}");
    assert!(n["vlan"].is_string());
    assert_eq!(routers(admin).await, 1);

    // Stopped VM: after network.gc.wait the network is shut down (router gone, VNI released).
    let j = dave
        .job(&[("command", "stopVirtualMachine"), ("id", &s(&vm["id"]))])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let mut last = Value::Null;
    for _ in 0..100 {
        last = state(admin).await;
        if last["state"] == "Allocated" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(last["state"], "Allocated", "{last}");
    assert!(last.get("vlan").is_none(), "VNI released: {last}");
    assert_eq!(routers(admin).await, 0);
    // The source-NAT IP stays with the network.
    let ips = dave.ok(&[("command", "listPublicIpAddresses")]).await;
    assert_eq!(ips["count"], 1, "{ips}");
    // Starting again implements it again.
    let j = dave
        .job(&[("command", "startVirtualMachine"), ("id", &s(&vm["id"]))])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    assert_eq!(state(admin).await["state"], "Implemented");
    assert_eq!(routers(admin).await, 1);
    let r = &admin
        .ok(&[
            ("command", "listRouters"),
            ("networkid", &net),
            ("listall", "true"),
        ])
        .await["router"][0];
    assert_eq!(r["publicip"], ips["publicipaddress"][0]["ipaddress"], "{r}");

    // Router actions.
    let rid = s(&r["id"]);
    let j = admin.job(&[("command", "stopRouter"), ("id", &rid)]).await;
    assert_eq!(j["jobresult"]["router"]["state"], "Stopped", "{j}");
    let j = admin.job(&[("command", "startRouter"), ("id", &rid)]).await;
    assert_eq!(j["jobresult"]["router"]["state"], "Running", "{j}");
    let h = s(&j["jobresult"]["router"]["hostid"]);
    let g0 = z.generations()[&h];
    let j = admin
        .job(&[("command", "rebootRouter"), ("id", &rid)])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    assert!(z.generations()[&h] >= g0);
    let j = dave
        .job(&[
            ("command", "restartNetwork"),
            ("id", &net),
            ("cleanup", "true"),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    assert_eq!(routers(admin).await, 1);

    // An L2 network: no addresses, no router; its VNI comes when a VM starts on it.
    let l2off = s(&admin
        .ok(&[
            ("command", "listNetworkOfferings"),
            ("name", "DefaultL2NetworkOffering"),
        ])
        .await["networkoffering"][0]["id"]);
    let l2 = s(&dave
        .ok(&[
            ("command", "createNetwork"),
            ("name", "l2net"),
            ("zoneid", &z.zone),
            ("networkofferingid", &l2off),
        ])
        .await["network"]["id"]);
    let vm2 = deploy(&dave, &z, "l2vm", &[("networkids", &format!("{l2},{net}"))]).await;
    assert!(vm2["nic"][0].get("ipaddress").is_none(), "{vm2}");
    assert_eq!(vm2["nic"][0]["networkid"], l2.as_str());
    assert_eq!(vm2["nic"][0]["isdefault"], true);
    assert!(
        s(&vm2["nic"][1]["ipaddress"]).starts_with("10.9.8."),
        "{vm2}"
    );
    let n = &admin
        .ok(&[
            ("command", "listNetworks"),
            ("id", &l2),
            ("listall", "true"),
        ])
        .await["network"][0];
    assert_eq!(n["state"], "Implemented", "{n}");
    assert!(n["vlan"].is_string(), "{n}");
    // NICs: list, add (one per network), make default, remove.
    let nics = dave
        .ok(&[
            ("command", "listNics"),
            ("virtualmachineid", &s(&vm2["id"])),
        ])
        .await;
    assert_eq!(nics["count"], 2, "{nics}");
    let second = s(&nics["nic"][1]["id"]);
    let e = dave
        .call(&[
            ("command", "addNicToVirtualMachine"),
            ("virtualmachineid", &s(&vm2["id"])),
            ("networkid", &net),
        ])
        .await;
    assert_eq!(e.status, 431, "one NIC per network: {}", e.text);
    let j = dave
        .job(&[
            ("command", "updateDefaultNicForVirtualMachine"),
            ("virtualmachineid", &s(&vm2["id"])),
            ("nicid", &second),
        ])
        .await;
    assert_eq!(
        j["jobresult"]["virtualmachine"]["nic"][1]["isdefault"], true,
        "{j}"
    );
    let first = s(&nics["nic"][0]["id"]);
    let j = dave
        .job(&[
            ("command", "removeNicFromVirtualMachine"),
            ("virtualmachineid", &s(&vm2["id"])),
            ("nicid", &first),
        ])
        .await;
    assert_eq!(
        j["jobresult"]["virtualmachine"]["nic"]
            .as_array()
            .map(Vec::len),
        Some(1),
        "{j}"
    );
    ts.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn router_moves_when_its_host_dies() {
    let ts = TestServer::start().await;
    let admin = &ts.admin;
    for (k, v) in [("ping.interval", "1"), ("ping.timeout", "2")] {
        admin
            .ok(&[
                ("command", "updateConfiguration"),
                ("name", k),
                ("value", v),
            ])
            .await;
    }
    let z = VmZone::new(&ts, 3).await;
    let (_a, _u, erin) = account_with_keys(&ts, admin, "erin", None, "0").await;
    let vm = deploy(&erin, &z, "r1", &[]).await;
    let net = s(&vm["nic"][0]["networkid"]);
    let router = |c: &Client| {
        let c = Client::new(&c.base, &c.key, &c.secret);
        let net = net.clone();
        async move {
            c.ok(&[
                ("command", "listRouters"),
                ("networkid", &net),
                ("listall", "true"),
            ])
            .await["router"][0]
                .clone()
        }
    };
    let r = router(admin).await;
    let dead = s(&r["hostid"]);
    let addr = z
        .hosts
        .iter()
        .find(|(h, _)| *h == dead)
        .map(|(_, a)| a.clone())
        .expect("router host is a host of the zone");
    agent::simulator::sim_host(&addr).power_off();
    let mut now = Value::Null;
    for _ in 0..600 {
        now = router(admin).await;
        if now["state"] == "Running" && s(&now["hostid"]) != dead && !s(&now["hostid"]).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let moved_to = s(&now["hostid"]);
    assert!(
        moved_to != dead && !moved_to.is_empty(),
        "router did not move: {now}"
    );
    assert_eq!(now["publicip"], r["publicip"], "same addresses");
    // The new host has it (pushed by the re-placement).
    let mut has = false;
    for _ in 0..100 {
        if z.net_of(&moved_to)
            .desired
            .is_some_and(|d| d.routers.len() == 1)
        {
            has = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(has, "the new host was not given the router");
    agent::simulator::sim_host(&addr).restore();
    ts.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deleting_an_account_releases_its_networking() {
    let ts = TestServer::start().await;
    let z = VmZone::new(&ts, 2).await;
    let admin = &ts.admin;
    let (acct, _u, frank) = account_with_keys(&ts, admin, "frank", None, "0").await;
    let vm = deploy(&frank, &z, "f1", &[]).await;
    let net = s(&vm["nic"][0]["networkid"]);
    let j = frank
        .job(&[("command", "associateIpAddress"), ("networkid", &net)])
        .await;
    let extra = s(&j["jobresult"]["ipaddress"]["ipaddress"]);
    frank
        .ok(&[("command", "createSecurityGroup"), ("name", "fsg")])
        .await;
    let j = admin
        .job(&[
            ("command", "destroyVirtualMachine"),
            ("id", &s(&vm["id"])),
            ("expunge", "true"),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let j = admin
        .job(&[("command", "deleteAccount"), ("id", &acct)])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let ip = &admin
        .ok(&[
            ("command", "listPublicIpAddresses"),
            ("ipaddress", &extra),
            ("allocatedonly", "false"),
            ("listall", "true"),
        ])
        .await["publicipaddress"][0];
    assert_eq!(ip["state"], "Free", "{ip}");
    let allocated = admin
        .ok(&[("command", "listPublicIpAddresses"), ("listall", "true")])
        .await;
    assert_eq!(allocated["count"].as_u64().unwrap_or(0), 0, "{allocated}");
    let nets = admin
        .ok(&[
            ("command", "listNetworks"),
            ("id", &net),
            ("listall", "true"),
        ])
        .await;
    assert_eq!(nets["count"].as_u64().unwrap_or(0), 0, "{nets}");
    let routers = admin
        .ok(&[
            ("command", "listRouters"),
            ("listall", "true"),
            ("networkid", &net),
        ])
        .await;
    assert_eq!(routers["count"].as_u64().unwrap_or(0), 0, "{routers}");
    let sgs = admin
        .ok(&[
            ("command", "listSecurityGroups"),
            ("listall", "true"),
            ("securitygroupname", "fsg"),
        ])
        .await;
    assert_eq!(sgs["count"].as_u64().unwrap_or(0), 0, "{sgs}");
    ts.stop().await;
}

/// A basic zone as Marvin's basic.cfg builds it: the pod's guest range (createVlanIpRange
/// podid=… forvirtualnetwork=false) makes the zone's shared guest network with security
/// groups; a VM deployed without networks lands on it, in the account's `default` group.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn basic_zone_guest_network_and_default_group() {
    let ts = TestServer::start().await;
    let c = &ts.admin;
    let zone = s(&c
        .ok(&[
            ("command", "createZone"),
            ("name", "basic1"),
            ("networktype", "Basic"),
            ("dns1", "192.0.2.53"),
            ("internaldns1", "192.0.2.53"),
        ])
        .await["zone"]["id"]);
    let pn = c
        .job(&[
            ("command", "createPhysicalNetwork"),
            ("name", "basic-pn"),
            ("zoneid", &zone),
            ("isolationmethods", "VXLAN"),
            ("vlan", "2000-2099"),
        ])
        .await;
    let pn = s(&pn["jobresult"]["physicalnetwork"]["id"]);
    for t in ["Guest", "Management"] {
        c.job(&[
            ("command", "addTrafficType"),
            ("physicalnetworkid", &pn),
            ("traffictype", t),
        ])
        .await;
    }
    let pod = s(&c
        .ok(&[
            ("command", "createPod"),
            ("name", "bpod"),
            ("zoneid", &zone),
            ("allocationstate", "Enabled"),
            ("gateway", "172.17.0.1"),
            ("netmask", "255.255.255.0"),
            ("startip", "172.17.0.10"),
            ("endip", "172.17.0.100"),
        ])
        .await["pod"]["id"]);
    let range = c
        .ok(&[
            ("command", "createVlanIpRange"),
            ("podid", &pod),
            ("forvirtualnetwork", "false"),
            ("gateway", "10.147.29.1"),
            ("netmask", "255.255.255.0"),
            ("startip", "10.147.29.10"),
            ("endip", "10.147.29.50"),
        ])
        .await;
    let guest = s(&range["vlan"]["networkid"]);
    assert!(!guest.is_empty(), "{range}");
    let n = &c
        .ok(&[
            ("command", "listNetworks"),
            ("id", &guest),
            ("listall", "true"),
        ])
        .await["network"][0];
    assert_eq!(n["type"], "Shared", "{n}");
    assert!(n["service"]
        .as_array()
        .is_some_and(|a| a.iter().any(|x| x["name"] == "SecurityGroup")));
    // A second guest range of the pod extends the same network; overlapping is refused.
    let r2 = c
        .ok(&[
            ("command", "createVlanIpRange"),
            ("podid", &pod),
            ("forvirtualnetwork", "false"),
            ("gateway", "10.147.29.1"),
            ("netmask", "255.255.255.0"),
            ("startip", "10.147.29.60"),
            ("endip", "10.147.29.70"),
        ])
        .await;
    assert_eq!(r2["vlan"]["networkid"], guest.as_str());
    c.err(
        &[
            ("command", "createVlanIpRange"),
            ("podid", &pod),
            ("forvirtualnetwork", "false"),
            ("gateway", "10.147.29.1"),
            ("netmask", "255.255.255.0"),
            ("startip", "10.147.29.40"),
            ("endip", "10.147.29.65"),
        ],
        431,
    )
    .await;
    let ranges = c
        .ok(&[("command", "listVlanIpRanges"), ("networkid", &guest)])
        .await;
    assert_eq!(ranges["count"], 2, "{ranges}");

    let cluster = s(&c
        .ok(&[
            ("command", "addCluster"),
            ("clustername", "bc"),
            ("clustertype", "CloudManaged"),
            ("allocationstate", "Enabled"),
            ("hypervisor", "Simulator"),
            ("podid", &pod),
            ("zoneid", &zone),
        ])
        .await["cluster"][0]["id"]);
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let mut hosts = Vec::new();
    for i in 0..2 {
        let h = c
            .ok(&[
                ("command", "addHost"),
                ("zoneid", &zone),
                ("podid", &pod),
                ("clusterid", &cluster),
                ("hypervisor", "Simulator"),
                ("url", &format!("http://sim/{tag}/b{i}")),
                ("username", "root"),
                ("password", "password"),
            ])
            .await;
        hosts.push(s(&h["host"][0]["id"]));
    }
    let primary = ts.dir.path().join("basic-primary");
    std::fs::create_dir_all(&primary).expect("primary");
    c.ok(&[
        ("command", "createStoragePool"),
        ("name", "bps"),
        ("zoneid", &zone),
        ("podid", &pod),
        ("clusterid", &cluster),
        ("url", &format!("filesystem://{}", primary.display())),
    ])
    .await;
    let sec = ts.dir.path().join("basic-secondary");
    std::fs::create_dir_all(&sec).expect("secondary");
    c.ok(&[
        ("command", "addImageStore"),
        ("provider", "NFS"),
        ("name", "bss"),
        ("url", &format!("file://{}", sec.display())),
        ("zoneid", &zone),
    ])
    .await;
    c.ok(&[
        ("command", "updateZone"),
        ("id", &zone),
        ("allocationstate", "Enabled"),
    ])
    .await;
    let img = ts.dir.path().join("basic-tiny.qcow2");
    let mut b = b"QFI\xfb".to_vec();
    b.resize(64 * 1024, 7);
    std::fs::write(&img, b).expect("image");
    let t = s(&c
        .ok(&[
            ("command", "registerTemplate"),
            ("name", "btiny"),
            ("displaytext", "btiny"),
            ("url", &format!("file://{}", img.display())),
            ("format", "QCOW2"),
            ("hypervisor", "Simulator"),
            ("zoneid", &zone),
            ("ispublic", "true"),
            ("ostypeid", "4e3f2c1a-7b6d-4e5f-8a9b-000000000001"),
        ])
        .await["template"][0]["id"]);
    for _ in 0..200 {
        let r = c
            .ok(&[
                ("command", "listTemplates"),
                ("templatefilter", "all"),
                ("id", &t),
            ])
            .await;
        if r["template"][0]["isready"] == true {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let so = s(&c
        .ok(&[
            ("command", "createServiceOffering"),
            ("name", "bsmall"),
            ("displaytext", "bsmall"),
            ("cpunumber", "1"),
            ("cpuspeed", "500"),
            ("memory", "256"),
        ])
        .await["serviceoffering"]["id"]);
    let (_a, _u, gina) = account_with_keys(&ts, c, "gina", None, "0").await;

    let j = gina
        .job(&[
            ("command", "deployVirtualMachine"),
            ("zoneid", &zone),
            ("templateid", &t),
            ("serviceofferingid", &so),
            ("name", "b1"),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let vm = &j["jobresult"]["virtualmachine"];
    assert_eq!(vm["nic"][0]["networkid"], guest.as_str(), "{vm}");
    let ip = s(&vm["nic"][0]["ipaddress"]);
    assert!(ip.starts_with("10.147.29."), "{vm}");
    assert_eq!(vm["securitygroup"][0]["name"], "default", "{vm}");
    // Its host enforces the default group: nothing in, anti-spoofing on its tap.
    let host = s(&c
        .ok(&[
            ("command", "listVirtualMachines"),
            ("id", &s(&vm["id"])),
            ("listall", "true"),
        ])
        .await["virtualmachine"][0]["hostid"]);
    let cfg = &c
        .ok(&[
            ("command", "getHostNetworkConfiguration"),
            ("hostid", &host),
        ])
        .await["hostnetworkconfiguration"];
    let nft = s(&cfg["security"]);
    assert!(nft.contains(&format!("ip saddr != {ip} drop")), "{cfg}");
    assert_eq!(cfg["pushed"], true, "{cfg}");
    assert_eq!(cfg["generation"], cfg["acknowledged"]);
    ts.stop().await;
}
