//! Service IP pools (a Canopy addition, after MetalLB's address pools) through the API, on
//! SQLite and PostgreSQL: a public range created with `forloadbalancers=true` lends its
//! addresses only to load balancer rules created without `publicipid` — an account's own pool
//! first, a shared one otherwise, never another account's — and takes each back with its rule;
//! associateIpAddress never takes one. The router's host is given the address, haproxy on it
//! and the balancer's name in the network's domain.

mod common;

use common::*;
use serde_json::Value;

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn service_ip_pools() {
    pools(TestServer::start().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn service_ip_pools_postgres() {
    let Some(pg) = testkit::Postgres::start_for_test() else {
        return;
    };
    pools(TestServer::start_with(Some(pg.fresh_database().expect("db"))).await).await;
}

fn lb<'a>(net: &'a str, name: &'a str, port: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("command", "createLoadBalancerRule"),
        ("networkid", net),
        ("name", name),
        ("algorithm", "roundrobin"),
        ("publicport", port),
        ("privateport", "80"),
    ]
}

async fn pools(ts: TestServer) {
    let admin = &ts.admin;
    let z = VmZone::new(&ts, 1).await;
    let (_, _, alice) = account_with_keys(&ts, admin, "alice", None, "0").await;
    let (_, _, bob) = account_with_keys(&ts, admin, "bob", None, "0").await;
    // Alice's network, implemented by a VM (its router runs).
    let j = alice.job(&z.deploy(&[("name", "web1")])).await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let vm = j["jobresult"]["virtualmachine"].clone();
    let net = s(&vm["nic"][0]["networkid"]);
    let domain = s(
        &alice.ok(&[("command", "listNetworks"), ("id", &net)]).await["network"][0]
            ["networkdomain"],
    );

    // No pool yet: a rule without an address says what to do.
    let e = alice.err(&lb(&net, "web", "80"), 533).await;
    assert!(e.contains("forloadbalancers"), "{e}");
    // A pool range: only public, virtual ranges can be one.
    let e = admin
        .err(
            &[
                ("command", "createVlanIpRange"),
                ("zoneid", &z.zone),
                ("forvirtualnetwork", "true"),
                ("forsystemvms", "true"),
                ("forloadbalancers", "true"),
                ("gateway", "198.19.0.1"),
                ("netmask", "255.255.255.0"),
                ("startip", "198.19.0.10"),
                ("endip", "198.19.0.11"),
            ],
            431,
        )
        .await;
    assert!(e.contains("forloadbalancers"), "{e}");
    let shared = admin
        .ok(&[
            ("command", "createVlanIpRange"),
            ("zoneid", &z.zone),
            ("forvirtualnetwork", "true"),
            ("forloadbalancers", "true"),
            ("vlan", "untagged"),
            ("gateway", "198.19.0.1"),
            ("netmask", "255.255.255.0"),
            ("startip", "198.19.0.10"),
            ("endip", "198.19.0.11"),
        ])
        .await;
    assert_eq!(shared["vlan"]["forloadbalancers"], true, "{shared}");
    // Bob's own pool: never lent to Alice.
    admin
        .ok(&[
            ("command", "createVlanIpRange"),
            ("zoneid", &z.zone),
            ("forvirtualnetwork", "true"),
            ("forloadbalancers", "true"),
            ("vlan", "untagged"),
            ("gateway", "198.19.1.1"),
            ("netmask", "255.255.255.0"),
            ("startip", "198.19.1.10"),
            ("endip", "198.19.1.19"),
            ("account", "bob"),
            (
                "domainid",
                &s(&admin
                    .ok(&[("command", "listDomains"), ("name", "ROOT")])
                    .await["domain"][0]["id"]),
            ),
        ])
        .await;

    // associateIpAddress never takes a pool's address, even when asked for one.
    let ip = alice
        .job(&[("command", "associateIpAddress"), ("networkid", &net)])
        .await;
    assert!(
        !s(&ip["jobresult"]["ipaddress"]["ipaddress"]).starts_with("198.19."),
        "{ip}"
    );
    let e = alice
        .err(
            &[
                ("command", "associateIpAddress"),
                ("networkid", &net),
                ("ipaddress", "198.19.0.10"),
            ],
            431,
        )
        .await;
    assert!(e.contains("service IP pool"), "{e}");

    // Two rules take the shared pool's two addresses; a third finds none (Bob's is his).
    let mut taken = Vec::new();
    let mut rules = Vec::new();
    for (name, port) in [("web", "80"), ("api", "8080")] {
        let j = alice.job(&lb(&net, name, port)).await;
        assert_eq!(j["jobstatus"], 1, "{j}");
        let r = j["jobresult"]["loadbalancer"].clone();
        assert_eq!(r["servicepool"], true, "{r}");
        assert_eq!(r["networkid"], net.as_str(), "{r}");
        taken.push(s(&r["publicip"]));
        rules.push(s(&r["id"]));
    }
    taken.sort();
    assert_eq!(taken, vec!["198.19.0.10", "198.19.0.11"]);
    let e = alice.err(&lb(&net, "third", "81"), 533).await;
    assert!(e.contains("service IP pool"), "{e}");
    let listed = alice
        .ok(&[
            ("command", "listPublicIpAddresses"),
            ("ipaddress", "198.19.0.10"),
        ])
        .await;
    assert_eq!(
        listed["publicipaddress"][0]["state"], "Allocated",
        "{listed}"
    );
    // Bad parameters are refused before an address is taken.
    let mut bad = lb(&net, "bad", "80");
    bad.push(("protocol", "sctp"));
    let e = alice.err(&bad, 431).await;
    assert!(e.contains("protocol"), "{e}");

    // What the router's host was given.
    let j = alice
        .job(&[
            ("command", "assignToLoadBalancerRule"),
            ("id", &rules[0]),
            ("virtualmachineids", &s(&vm["id"])),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let router = admin
        .ok(&[
            ("command", "listRouters"),
            ("networkid", &net),
            ("listall", "true"),
        ])
        .await["router"][0]
        .clone();
    let pushed = z.net_of(&s(&router["hostid"])).desired.expect("pushed");
    let r = pushed
        .routers
        .iter()
        .find(|r| r.network_id.to_string() == net)
        .expect("the router");
    let web_ip = {
        let l = alice
            .ok(&[("command", "listLoadBalancerRules"), ("id", &rules[0])])
            .await;
        s(&l["loadbalancerrule"][0]["publicip"])
    };
    let haproxy = r.haproxy_cfg.clone().unwrap_or_default();
    assert!(haproxy.contains(&format!("bind {web_ip}:80")), "{haproxy}");
    assert!(
        r.dnsmasq_conf
            .contains(&format!("host-record=web.{domain},{web_ip}")),
        "{}",
        r.dnsmasq_conf
    );

    // Another tenant cannot delete it; deleting it returns the address to the pool.
    bob.err(
        &[("command", "deleteLoadBalancerRule"), ("id", &rules[0])],
        531,
    )
    .await;
    let j = alice
        .job(&[("command", "deleteLoadBalancerRule"), ("id", &rules[0])])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let back = admin
        .ok(&[
            ("command", "listPublicIpAddresses"),
            ("ipaddress", &web_ip),
            ("allocatedonly", "false"),
            ("listall", "true"),
        ])
        .await;
    assert_eq!(back["publicipaddress"][0]["state"], "Free", "{back}");
    // A rule refused after its address was taken gives it back at once.
    let mut bad = lb(&net, "bad", "80");
    bad.push(("cidrlist", "not-a-cidr"));
    alice.err(&bad, 431).await;
    let back = admin
        .ok(&[
            ("command", "listPublicIpAddresses"),
            ("ipaddress", &web_ip),
            ("allocatedonly", "false"),
            ("listall", "true"),
        ])
        .await;
    assert_eq!(back["publicipaddress"][0]["state"], "Free", "{back}");
    let j = alice.job(&lb(&net, "again", "80")).await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    assert_eq!(
        j["jobresult"]["loadbalancer"]["publicip"],
        web_ip.as_str(),
        "{j}"
    );
    ts.stop().await;
}
