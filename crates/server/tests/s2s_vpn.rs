//! Site-to-site VPN through the API (SQLite and PostgreSQL), on simulated hosts: a VPC's VPN
//! gateway on its source-NAT address, customer gateways checked as CloudStack checks them, a
//! connection reaching the VPC router's host as strongSwan configuration, reset, updates that
//! reach the router, another account seeing and changing nothing, and what deleting needs
//! first. The tunnel itself is tested between two real VPC routers (tests/e2e/real_hosts.py).

mod common;

use common::*;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn site_to_site_on_sqlite() {
    site_to_site(TestServer::start().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn site_to_site_on_postgres() {
    let Some(pg) = testkit::Postgres::start_for_test() else {
        return;
    };
    site_to_site(TestServer::start_with(Some(pg.fresh_database().expect("db"))).await).await;
}

/// The swanctl configuration the VPC router's host was given, if any.
fn swanctl(z: &VmZone, host: &str, vpc: &str) -> Option<String> {
    let pushed = z.net_of(host).desired?;
    let vr = pushed
        .routers
        .iter()
        .find(|r| r.network_id.to_string() == vpc)?;
    vr.s2s.as_ref().map(|x| x.swanctl_conf.clone())
}

fn gw_params<'a>(name: &'a str, cidr: &'a str, psk: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("command", "createVpnCustomerGateway"),
        ("name", name),
        ("gateway", "198.51.100.40"),
        ("cidrlist", cidr),
        ("ipsecpsk", psk),
        ("ikepolicy", "aes256-sha256;modp2048"),
        ("esppolicy", "aes256-sha256"),
        ("dpd", "true"),
    ]
}

async fn site_to_site(ts: TestServer) {
    let admin = &ts.admin;
    let z = VmZone::new(&ts, 1).await;
    let (_, _, dana) = account_with_keys(&ts, admin, "sdana", None, "0").await;
    let (_, _, eve) = account_with_keys(&ts, admin, "seve", None, "0").await;
    let off = s(&admin
        .ok(&[("command", "listVPCOfferings"), ("isdefault", "true")])
        .await["vpcoffering"][0]["id"]);
    let vpc = s(&dana
        .job(&[
            ("command", "createVPC"),
            ("name", "hq"),
            ("cidr", "10.61.0.0/16"),
            ("vpcofferingid", &off),
            ("zoneid", &z.zone),
        ])
        .await["jobresult"]["vpc"]["id"]);
    let tier_off = s(&admin
        .ok(&[
            ("command", "listNetworkOfferings"),
            ("name", "DefaultIsolatedNetworkOfferingForVpcNetworks"),
        ])
        .await["networkoffering"][0]["id"]);
    let tier = s(&dana
        .ok(&[
            ("command", "createNetwork"),
            ("name", "web"),
            ("networkofferingid", &tier_off),
            ("zoneid", &z.zone),
            ("vpcid", &vpc),
            ("gateway", "10.61.1.1"),
            ("netmask", "255.255.255.0"),
        ])
        .await["network"]["id"]);
    // A VM places the VPC's router.
    deploy_vm(&dana, &z, "s2sweb", &[("networkids", &tier)]).await;
    let router_host = s(&admin
        .ok(&[
            ("command", "listRouters"),
            ("vpcid", &vpc),
            ("listall", "true"),
        ])
        .await["router"][0]["hostid"]);

    // The gateway: the VPC's source-NAT address; one per VPC.
    let j = dana
        .job(&[("command", "createVpnGateway"), ("vpcid", &vpc)])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let gw = &j["jobresult"]["vpngateway"];
    let snat = s(&dana
        .ok(&[
            ("command", "listPublicIpAddresses"),
            ("vpcid", &vpc),
            ("issourcenat", "true"),
        ])
        .await["publicipaddress"][0]["ipaddress"]);
    assert_eq!(gw["publicip"], snat.as_str(), "{gw}");
    assert_eq!(gw["vpcid"], vpc.as_str());
    assert_eq!(gw["vpcname"], "hq");
    assert_eq!(gw["account"], "sdana");
    let gw_id = s(&gw["id"]);
    let e = dana
        .err(&[("command", "createVpnGateway"), ("vpcid", &vpc)], 431)
        .await;
    assert!(e.contains("already exists"), "{e}");
    // Another account's VPC is not the caller's to use.
    eve.err(&[("command", "createVpnGateway"), ("vpcid", &vpc)], 531)
        .await;

    // Customer gateways, checked as CloudStack checks them.
    // Hostile input: a non-ASCII name for the peer, a list past the subnet limit, a huge one.
    let list = |n: usize| -> &'static str {
        Box::leak(
            (0..n)
                .map(|i| format!("10.{}.{}.0/24", 100 + i / 256, i % 256))
                .collect::<Vec<_>>()
                .join(",")
                .into_boxed_str(),
        )
    };
    for (k, v, why) in [
        ("gateway", "ホスト.example", "invalid"),
        ("cidrlist", list(12), "Too many"),
        ("cidrlist", list(2000), "max allowed length"),
        ("ikepolicy", "aes256-sha256\u{0}", "non-printable"),
        ("ikepolicy", "aes256-sha256", "group"),
        ("ikepolicy", "blowfish-sha1;modp1024", "cipher"),
        ("esppolicy", "aes128-crc32", "hash"),
        ("gateway", "not a host!", "invalid"),
        ("cidrlist", "10.9.0.0/16,10.9.1.0/24", "overlapped"),
        ("cidrlist", "10.9.0.0/33", "invalid"),
        ("ikelifetime", "90000", "lifetime"),
        ("ikeversion", "ikev3", "ikeversion"),
        ("ipsecpsk", "has\"quote", "double quotes"),
    ] {
        let mut p = gw_params("bad", "172.16.0.0/16", "k3y-branch");
        p.retain(|(n, _)| *n != k);
        p.push((k, v));
        let e = dana.err(&p, 431).await;
        assert!(e.contains(why), "{k}={v}: {e}");
    }
    let j = dana
        .job(&gw_params(
            "branch",
            "172.16.0.0/16,172.17.0.0/24",
            "k3y-branch",
        ))
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let cg = &j["jobresult"]["vpncustomergateway"];
    assert_eq!(cg["ipsecpsk"], "k3y-branch");
    assert_eq!(cg["cidrlist"], "172.16.0.0/16,172.17.0.0/24");
    assert_eq!(cg["ikeversion"], "ike");
    assert_eq!(cg["ikelifetime"], 86400);
    assert_eq!(cg["esplifetime"], 3600);
    assert_eq!(cg["dpd"], true);
    let cg_id = s(&cg["id"]);
    let e = dana
        .err(&gw_params("branch", "172.18.0.0/16", "x-key-1"), 431)
        .await;
    assert!(e.contains("already exists"), "{e}");
    // Overlapping the VPC's own CIDR: no connection.
    let j = dana
        .job(&gw_params("inside", "10.61.5.0/24", "k3y-inside"))
        .await;
    let inside = s(&j["jobresult"]["vpncustomergateway"]["id"]);
    let e = dana
        .err(
            &[
                ("command", "createVpnConnection"),
                ("s2svpngatewayid", &gw_id),
                ("s2scustomergatewayid", &inside),
            ],
            431,
        )
        .await;
    assert!(e.contains("overlaps the VPC"), "{e}");

    // The connection: the router's host gets strongSwan's configuration for it.
    let j = dana
        .job(&[
            ("command", "createVpnConnection"),
            ("s2svpngatewayid", &gw_id),
            ("s2scustomergatewayid", &cg_id),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let conn = &j["jobresult"]["vpnconnection"];
    let conn_id = s(&conn["id"]);
    assert_eq!(conn["state"], "Connected", "{conn}");
    assert_eq!(conn["publicip"], snat.as_str());
    assert_eq!(conn["gateway"], "198.51.100.40");
    assert_eq!(conn["cidrlist"], "172.16.0.0/16,172.17.0.0/24");
    assert_eq!(conn["s2scustomergatewayid"], cg_id.as_str());
    assert_eq!(conn["s2svpngatewayid"], gw_id.as_str());
    assert_eq!(conn["passive"], false);
    let conf = swanctl(&z, &router_host, &vpc).expect("the router runs the connection");
    assert!(conf.contains("remote_addrs = 198.51.100.40"), "{conf}");
    assert!(conf.contains("local_ts = 10.61.0.0/16"), "{conf}");
    assert!(
        conf.contains("remote_ts = 172.16.0.0/16,172.17.0.0/24"),
        "{conf}"
    );
    assert!(
        conf.contains("proposals = aes256-sha256-modp2048"),
        "{conf}"
    );
    assert!(conf.contains(&format!("local_addrs = {snat}")), "{conf}");
    let e = dana
        .err(
            &[
                ("command", "createVpnConnection"),
                ("s2svpngatewayid", &gw_id),
                ("s2scustomergatewayid", &cg_id),
            ],
            431,
        )
        .await;
    assert!(e.contains("already exists"), "{e}");

    // Lists, by VPC.
    let l = dana
        .ok(&[("command", "listVpnConnections"), ("vpcid", &vpc)])
        .await;
    assert_eq!(l["count"], 1, "{l}");
    let l = dana
        .ok(&[("command", "listVpnGateways"), ("vpcid", &vpc)])
        .await;
    assert_eq!(l["vpngateway"][0]["id"], gw_id.as_str(), "{l}");
    let l = dana
        .ok(&[("command", "listVpnCustomerGateways"), ("keyword", "bran")])
        .await;
    assert_eq!(l["count"], 1, "{l}");

    // Another account sees nothing and changes nothing.
    for cmd in [
        "listVpnConnections",
        "listVpnGateways",
        "listVpnCustomerGateways",
    ] {
        let l: Value = eve.ok(&[("command", cmd)]).await;
        assert!(l["count"].as_u64().unwrap_or(0) == 0, "{cmd}: {l}");
    }
    eve.err(&[("command", "deleteVpnConnection"), ("id", &conn_id)], 531)
        .await;
    eve.err(&[("command", "resetVpnConnection"), ("id", &conn_id)], 531)
        .await;
    let mut p = gw_params("branch", "172.16.0.0/16", "stolen-key");
    p[0] = ("command", "updateVpnCustomerGateway");
    p.push(("id", &cg_id));
    eve.err(&p, 531).await;
    let j = eve
        .job(&gw_params("mine", "192.168.7.0/24", "eve-key-1"))
        .await;
    let eve_cg = s(&j["jobresult"]["vpncustomergateway"]["id"]);
    let e = eve
        .err(
            &[
                ("command", "createVpnConnection"),
                ("s2svpngatewayid", &gw_id),
                ("s2scustomergatewayid", &eve_cg),
            ],
            531,
        )
        .await;
    assert!(!e.is_empty());

    // Nothing in use goes.
    let e = dana
        .err(
            &[("command", "deleteVpnCustomerGateway"), ("id", &cg_id)],
            431,
        )
        .await;
    assert!(e.contains("still VPN connections"), "{e}");
    let e = dana
        .err(&[("command", "deleteVpnGateway"), ("id", &gw_id)], 431)
        .await;
    assert!(e.contains("still VPN connections"), "{e}");

    // Reset: the job answers the connection as its router reports it.
    let j = dana
        .job(&[("command", "resetVpnConnection"), ("id", &conn_id)])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    assert_eq!(j["jobresult"]["vpnconnection"]["state"], "Connected");

    // A new key reaches the router.
    let before = swanctl(&z, &router_host, &vpc).expect("conf");
    let mut p = gw_params("branch", "172.16.0.0/16", "rotated-key-2");
    p[0] = ("command", "updateVpnCustomerGateway");
    p.push(("id", &cg_id));
    let j = dana.job(&p).await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    assert_eq!(
        j["jobresult"]["vpncustomergateway"]["ipsecpsk"],
        "rotated-key-2"
    );
    let after = swanctl(&z, &router_host, &vpc).expect("conf");
    assert_ne!(before, after, "the router has the new key");
    assert!(after.contains("remote_ts = 172.16.0.0/16\n"), "{after}");

    // Display flags.
    let j = dana
        .job(&[
            ("command", "updateVpnConnection"),
            ("id", &conn_id),
            ("fordisplay", "false"),
        ])
        .await;
    assert_eq!(j["jobresult"]["vpnconnection"]["fordisplay"], false, "{j}");
    let l = dana
        .ok(&[("command", "listVpnConnections"), ("fordisplay", "true")])
        .await;
    assert_eq!(l["count"].as_u64().unwrap_or(0), 0, "{l}");
    dana.err(
        &[
            ("command", "updateVpnGateway"),
            ("id", &gw_id),
            ("customid", "x"),
        ],
        431,
    )
    .await;

    // Deleting the connection takes it off the router; then the gateways may go.
    let j = dana
        .job(&[("command", "deleteVpnConnection"), ("id", &conn_id)])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    assert_eq!(swanctl(&z, &router_host, &vpc), None);
    for (cmd, id) in [
        ("deleteVpnCustomerGateway", &cg_id),
        ("deleteVpnCustomerGateway", &inside),
        ("deleteVpnGateway", &gw_id),
    ] {
        let j = dana.job(&[("command", cmd), ("id", id)]).await;
        assert_eq!(j["jobstatus"], 1, "{cmd}: {j}");
    }
    let l = dana.ok(&[("command", "listVpnGateways")]).await;
    assert_eq!(l["count"].as_u64().unwrap_or(0), 0, "{l}");
    // Events of the family were recorded.
    let ev = dana
        .ok(&[
            ("command", "listEvents"),
            ("type", "VPN.S2S.CONNECTION.CREATE"),
        ])
        .await;
    assert_eq!(ev["count"], 1, "{ev}");
}
