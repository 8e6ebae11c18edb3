//! Secondary addresses of NICs through the API (SQLite and PostgreSQL): addIpToNic gives a
//! NIC another address of its network (asked for, or a free one) that no VM can take;
//! listNics and listVirtualMachines show it; the VM's host lets the VM send from it (the
//! anti-spoofing chain of its tap admits it) until removeIpFromNic; another tenant can do
//! none of it; expunging the VM frees the address.

mod common;

use common::*;

async fn secondary(ts: TestServer) {
    let admin = ts.admin.clone();
    let z = VmZone::new(&ts, 1).await;
    let (_, _, u) = account_with_keys(&ts, &admin, "sec", None, "0").await;
    let (_, _, other) = account_with_keys(&ts, &admin, "sec2", None, "0").await;
    let offering = s(&admin
        .ok(&[
            ("command", "listNetworkOfferings"),
            ("name", "DefaultSharedNetworkOfferingWithSGService"),
        ])
        .await["networkoffering"][0]["id"]);
    let net = s(&admin
        .ok(&[
            ("command", "createNetwork"),
            ("name", "shared-sg"),
            ("displaytext", "shared with security groups"),
            ("zoneid", &z.zone),
            ("networkofferingid", &offering),
            ("gateway", "10.60.0.1"),
            ("netmask", "255.255.255.0"),
            ("startip", "10.60.0.10"),
            ("endip", "10.60.0.20"),
            ("vlan", "3001"),
        ])
        .await["network"]["id"]);
    let vm = deploy_vm(&u, &z, "sec1", &[("networkids", &net)]).await;
    let vm_id = s(&vm["id"]);
    let nic = s(&vm["nic"][0]["id"]);
    let primary = s(&vm["nic"][0]["ipaddress"]);

    // A chosen address, then a free one; a taken or foreign address is refused.
    let add = |c: &Client, ip: Option<&str>| {
        let c = Client::new(&c.base, &c.key, &c.secret);
        let (nic, ip) = (nic.clone(), ip.map(str::to_string));
        async move {
            let mut p = vec![("command", "addIpToNic"), ("nicid", nic.as_str())];
            if let Some(ip) = &ip {
                p.push(("ipaddress", ip.as_str()));
            }
            c.call(&p).await
        }
    };
    let r = add(&u, Some("10.60.0.15")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let j = u.wait_job(&s(&r.inner()["jobid"])).await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let chosen = j["jobresult"]["nicsecondaryip"].clone();
    assert_eq!(chosen["ipaddress"], "10.60.0.15", "{chosen}");
    assert_eq!(chosen["virtualmachineid"], vm_id.as_str());
    let j = u.wait_job(&s(&add(&u, None).await.inner()["jobid"])).await;
    let free = s(&j["jobresult"]["nicsecondaryip"]["ipaddress"]);
    assert!(
        free.starts_with("10.60.0.") && free != primary && free != "10.60.0.15",
        "{j}"
    );
    for (ip, why) in [
        ("10.60.0.15", "already in use"),
        (primary.as_str(), "already in use"),
        ("10.61.0.5", "not a usable address"),
        ("10.60.0.1", "not a usable address"),
    ] {
        let r = add(&u, Some(ip)).await;
        assert_eq!(r.status, 431, "{ip}: {}", r.text);
        assert!(r.text.contains(why), "{ip}: {}", r.text);
    }
    // Another tenant: neither adds nor removes.
    assert_eq!(add(&other, Some("10.60.0.16")).await.status, 531);
    other
        .err(
            &[("command", "removeIpFromNic"), ("id", &s(&chosen["id"]))],
            531,
        )
        .await;

    // Listed on the NIC, in listNics and listVirtualMachines.
    let l = u
        .ok(&[("command", "listNics"), ("virtualmachineid", &vm_id)])
        .await;
    let ips: Vec<String> = l["nic"][0]["secondaryip"]
        .as_array()
        .expect("secondaryip")
        .iter()
        .map(|x| s(&x["ipaddress"]))
        .collect();
    assert_eq!(ips.len(), 2, "{l}");
    assert!(
        ips.contains(&"10.60.0.15".to_string()) && ips.contains(&free),
        "{l}"
    );
    let v = vm_view(&u, &vm_id).await;
    assert_eq!(
        v["nic"][0]["secondaryip"].as_array().map(Vec::len),
        Some(2),
        "{v}"
    );

    // The host lets the VM send from them: its tap's anti-spoofing chain admits them.
    let host = s(&vm_view(&admin, &vm_id).await["hostid"]);
    let nft = z
        .net_of(&host)
        .desired
        .and_then(|d| d.security)
        .expect("a security ruleset");
    assert!(
        nft.contains(&format!(
            "ip saddr != {{ 10.60.0.15, {free}, {primary} }} drop"
        )) || nft.contains("ip saddr != {") && nft.contains("10.60.0.15") && nft.contains(&free),
        "{nft}"
    );
    // A new VM never takes them.
    let vm2 = deploy_vm(&u, &z, "sec2", &[("networkids", &net)]).await;
    let ip2 = s(&vm2["nic"][0]["ipaddress"]);
    assert!(ip2 != "10.60.0.15" && ip2 != free, "{vm2}");

    // Removed: the host stops admitting it.
    let j = u
        .job(&[("command", "removeIpFromNic"), ("id", &s(&chosen["id"]))])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let nft = z
        .net_of(&host)
        .desired
        .and_then(|d| d.security)
        .expect("a security ruleset");
    assert!(!nft.contains("10.60.0.15"), "{nft}");
    // Expunged with its VM: the address is free again.
    let j = admin
        .job(&[
            ("command", "destroyVirtualMachine"),
            ("id", &vm_id),
            ("expunge", "true"),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let r = add(&u, None).await;
    assert_eq!(r.status, 431, "the NIC is gone: {}", r.text);
    let vm3 = deploy_vm(
        &u,
        &z,
        "sec3",
        &[("networkids", &net), ("ipaddress", &free)],
    )
    .await;
    assert_eq!(s(&vm3["nic"][0]["ipaddress"]), free, "{vm3}");
    ts.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn secondary_addresses_pass_the_anti_spoofing() {
    secondary(TestServer::start().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn secondary_addresses_pass_the_anti_spoofing_postgres() {
    let Some(pg) = testkit::Postgres::start_for_test() else {
        return;
    };
    secondary(TestServer::start_with(Some(pg.fresh_database().expect("db"))).await).await;
}
