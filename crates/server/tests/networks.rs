//! Networking through the API on simulated hosts: an isolated network implemented by its
//! first VM (VNI, router, source NAT), public IPs with static NAT, port forwarding, firewall,
//! egress, load balancing with stickiness and health checks, VPN, static routes — each checked
//! in the list commands and in the configuration the simulated hosts were given, and rule
//! changes reaching exactly the hosts they concern. (Security groups: security_groups.rs;
//! IPAM under concurrency, GC, router failover, basic zones: network_lifecycle.rs.)

mod common;

use std::collections::BTreeSet;

use common::*;
use serde_json::Value;

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
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
    let vm1 = deploy_vm(&alice, &z, "web1", &[]).await;
    let vm2 = deploy_vm(&alice, &z, "web2", &[]).await;
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
    assert_eq!(
        generations_changed(&before, &after),
        BTreeSet::from([rhost.clone()])
    );
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
