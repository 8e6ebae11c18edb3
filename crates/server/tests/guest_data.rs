//! What reaches a guest through its router: the data the router's data server answers
//! (meta-data, user data, keys) and the password its password server holds, as the hosts are
//! given them; the commands that change them (resetPasswordForVirtualMachine,
//! resetSSHKeyForVirtualMachine, updateVirtualMachine userdata, getVirtualMachineUserData);
//! a password acknowledged by the guest is dropped. (The servers themselves, answering from
//! inside a router's namespace to a real guest, are checked by the real-hosts test.)

mod common;

use std::time::Duration;

use common::*;
use serde_json::Value;

const KEY1: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICbbeT8ColB7mBxNy+TbMw16q3ol0aHZNeflEUglLH29 one@canopy";
const KEY2: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINcf01z8Nr9sh/utoUV7INrjNnTbD5aDPgaoDDvJDdT5 two@canopy";

/// What the hosts of the zone were last told to serve `vm` (the router's entry for it).
fn served(z: &VmZone, vm: &str) -> Option<Value> {
    for (h, _) in &z.hosts {
        let Some(d) = z.net_of(h).desired else {
            continue;
        };
        for r in &d.routers {
            if let Some(g) = r.guests.iter().find(|g| g.vm_id.to_string() == vm) {
                return Some(serde_json::to_value(g).expect("json"));
            }
        }
    }
    None
}

/// Waits (bounded) until what the routers serve `vm` satisfies `ok`.
async fn served_until(z: &VmZone, vm: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    for _ in 0..200 {
        if let Some(g) = served(z, vm) {
            if ok(&g) {
                return g;
            }
            last = g;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the routers never served the expected data for {vm}; last: {last}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_router_serves_each_guest_its_data_and_a_password_until_acknowledged() {
    let ts = TestServer::start().await;
    let z = VmZone::new(&ts, 2).await;
    let c = ts.admin.clone();
    for (n, k) in [("one", KEY1), ("two", KEY2)] {
        c.ok(&[
            ("command", "registerSSHKeyPair"),
            ("name", n),
            ("publickey", k),
        ])
        .await;
    }
    let userdata = "I2Nsb3VkLWNvbmZpZwpob3N0bmFtZTogd2ViMQo="; // "#cloud-config\nhostname: web1\n"
    let vm = deploy_vm(
        &c,
        &z,
        "web1",
        &[("keypair", "one"), ("userdata", userdata)],
    )
    .await;
    let id = vm["id"].as_str().expect("id").to_string();
    assert!(
        vm.get("password").is_none(),
        "no password for a template that is not password-enabled: {vm}"
    );
    let ip = vm["nic"][0]["ipaddress"].as_str().expect("ip").to_string();
    let g = served_until(&z, &id, |_| true).await;
    let md = &g["metadata"];
    assert_eq!(md["instance-id"], id.as_str());
    assert_eq!(md["vm-id"], id.as_str());
    assert_eq!(md["local-hostname"], "web1");
    assert_eq!(md["local-ipv4"], ip.as_str());
    assert_eq!(md["public-keys"], KEY1);
    assert_eq!(md["service-offering"], "small");
    assert_eq!(g["ip"], ip.as_str());
    assert_eq!(g["user_data"], userdata);
    assert!(g.get("password").is_none(), "{g}");
    // The source NAT address of the network is the guest's public address.
    let snat = c
        .ok(&[
            ("command", "listPublicIpAddresses"),
            (
                "associatednetworkid",
                vm["nic"][0]["networkid"].as_str().expect("net"),
            ),
            ("issourcenat", "true"),
            ("listall", "true"),
        ])
        .await["publicipaddress"][0]["ipaddress"]
        .clone();
    assert_eq!(md["public-ipv4"], snat, "{g}");
    let ud = c
        .ok(&[("command", "getVirtualMachineUserData"), ("id", &id)])
        .await;
    assert_eq!(
        ud["virtualmachineuserdata"]["virtualmachineid"],
        id.as_str()
    );
    assert_eq!(ud["virtualmachineuserdata"]["userdata"], userdata);

    // New user data and a second key reach the router's data at once.
    let ud2 = "I2Nsb3VkLWNvbmZpZwpob3N0bmFtZTogd2ViMgo=";
    c.ok(&[
        ("command", "updateVirtualMachine"),
        ("id", &id),
        ("userdata", ud2),
    ])
    .await;
    served_until(&z, &id, |g| g["user_data"] == ud2).await;
    c.job(&[("command", "stopVirtualMachine"), ("id", &id)])
        .await;
    let j = c
        .job(&[
            ("command", "resetSSHKeyForVirtualMachine"),
            ("id", &id),
            ("keypair", "two"),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    served_until(&z, &id, |g| g["metadata"]["public-keys"] == KEY2).await;

    // Password reset: refused for a template that is not password-enabled.
    let e = c
        .err(
            &[("command", "resetPasswordForVirtualMachine"), ("id", &id)],
            431,
        )
        .await;
    assert!(e.contains("not password enabled"), "{e}");
    c.ok(&[
        ("command", "updateTemplate"),
        ("id", &z.template),
        ("passwordenabled", "true"),
    ])
    .await;
    let j = c
        .job(&[("command", "resetPasswordForVirtualMachine"), ("id", &id)])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let pw = j["jobresult"]["virtualmachine"]["password"]
        .as_str()
        .expect("the job answers the new password")
        .to_string();
    assert_eq!(pw.len(), 6, "vm.password.length");
    let g = served_until(&z, &id, |g| g["password"] == pw.as_str()).await;
    assert_eq!(g["ip"], ip.as_str());
    // Running VMs are refused (CloudStack's rule).
    c.job(&[("command", "startVirtualMachine"), ("id", &id)])
        .await;
    let e = c
        .err(
            &[
                ("command", "resetPasswordForVirtualMachine"),
                ("id", &id),
                ("password", "chosen-one"),
            ],
            431,
        )
        .await;
    assert!(e.contains("should be stopped to do password reset"), "{e}");

    // The guest acknowledges it at its router: dropped everywhere. A host that does not run
    // the VM's router cannot clear it.
    let st = ts.server.as_ref().expect("running").state.clone();
    let vm_id = model::VmId(id.parse().expect("uuid"));
    let router_host: String = c
        .ok(&[
            ("command", "listRouters"),
            (
                "networkid",
                vm["nic"][0]["networkid"].as_str().expect("net"),
            ),
        ])
        .await["router"][0]["hostid"]
        .as_str()
        .expect("router host")
        .to_string();
    let other = z
        .hosts
        .iter()
        .map(|(h, _)| h.clone())
        .find(|h| *h != router_host)
        .expect("another host");
    let not_there = domain::guestdata::password_saved(
        &st.core,
        model::HostId(other.parse().expect("uuid")),
        vm_id,
    )
    .await
    .expect("ack");
    assert!(
        !not_there,
        "a host without the VM's router cannot clear its password"
    );
    assert!(
        domain::guestdata::password_saved(
            &st.core,
            model::HostId(router_host.parse().expect("uuid")),
            vm_id
        )
        .await
        .expect("ack"),
        "the router's host clears it"
    );
    served_until(&z, &id, |g| g.get("password").is_none()).await;

    // With a password-enabled template, a key reset brings a new password too (CloudStack).
    c.job(&[("command", "stopVirtualMachine"), ("id", &id)])
        .await;
    let j = c
        .job(&[
            ("command", "resetSSHKeyForVirtualMachine"),
            ("id", &id),
            ("keypair", "one"),
        ])
        .await;
    let pw3 = j["jobresult"]["virtualmachine"]["password"]
        .as_str()
        .expect("a key reset of a password-enabled VM answers a password")
        .to_string();
    served_until(&z, &id, |g| {
        g["password"] == pw3.as_str() && g["metadata"]["public-keys"] == KEY1
    })
    .await;

    // A deploy of a password-enabled template answers its generated password, which the
    // router serves.
    let vm2 = deploy_vm(&c, &z, "web2", &[]).await;
    let pw2 = vm2["password"]
        .as_str()
        .expect("a password-enabled template's deploy answers the password");
    let id2 = vm2["id"].as_str().expect("id");
    served_until(&z, id2, |g| g["password"] == pw2).await;
    // Each guest's entry is its own (the router knows a guest by its address).
    let g1 = served(&z, &id).expect("web1");
    let g2 = served(&z, id2).expect("web2");
    assert_ne!(g1["ip"], g2["ip"]);
    assert_eq!(g2["metadata"]["local-hostname"], "web2");
    ts.stop().await;
}

/// The config drive `vm` (instance name) was started with on its simulated host, its files
/// decoded.
fn drive_of(z: &VmZone, instance: &str) -> Option<std::collections::BTreeMap<String, String>> {
    for (_, a) in &z.hosts {
        let h = agent::simulator::sim_host(a);
        let vms = h.vms.lock().expect("vms");
        if let Some(v) = vms.get(instance) {
            return v.config_drive.as_ref().map(|d| {
                d.decoded()
                    .expect("a valid drive")
                    .into_iter()
                    .map(|(p, c)| (p, String::from_utf8(c).expect("utf-8")))
                    .collect()
            });
        }
    }
    None
}

/// A VM on an L2 network (no router serves it) gets CloudStack's config drive: OpenStack's
/// files for cloud-init and CloudStack's own; a VM on a routed network does not. New user
/// data reaches a running VM's drive; another tenant reads none of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_vm_without_a_router_gets_its_data_on_a_config_drive() {
    let ts = TestServer::start().await;
    let z = VmZone::new(&ts, 1).await;
    let admin = ts.admin.clone();
    let (_a, _u, dave) = account_with_keys(&ts, &admin, "dave", None, "0").await;
    let (_a, _u, eve) = account_with_keys(&ts, &admin, "eve", None, "0").await;
    dave.ok(&[
        ("command", "registerSSHKeyPair"),
        ("name", "one"),
        ("publickey", KEY1),
    ])
    .await;
    let l2off = admin
        .ok(&[
            ("command", "listNetworkOfferings"),
            ("name", "DefaultL2NetworkOffering"),
        ])
        .await["networkoffering"][0]["id"]
        .as_str()
        .expect("offering")
        .to_string();
    let l2 = dave
        .ok(&[
            ("command", "createNetwork"),
            ("name", "l2net"),
            ("zoneid", &z.zone),
            ("networkofferingid", &l2off),
        ])
        .await["network"]["id"]
        .as_str()
        .expect("network")
        .to_string();
    let userdata = "I2Nsb3VkLWNvbmZpZwpob3N0bmFtZTogd2ViMQo="; // "#cloud-config\nhostname: web1\n"
    let vm = deploy_vm(
        &dave,
        &z,
        "l2web",
        &[
            ("networkids", &l2),
            ("keypair", "one"),
            ("userdata", userdata),
        ],
    )
    .await;
    let id = vm["id"].as_str().expect("id").to_string();
    let instance = vm["instancename"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| {
            // Users do not see instance names; the host knows the VM by it.
            z.running().into_iter().next().expect("running")
        });
    let d = drive_of(&z, &instance).expect("a config drive");
    let md: Value =
        serde_json::from_str(&d["openstack/latest/meta_data.json"]).expect("meta_data.json");
    assert_eq!(md["uuid"], id.as_str());
    assert_eq!(md["hostname"], "l2web");
    assert_eq!(md["public_keys"]["one@canopy"], KEY1, "{md}");
    assert_eq!(md["keys"][0]["data"], KEY1, "{md}");
    assert_eq!(
        d["openstack/latest/user_data"],
        "#cloud-config\nhostname: web1\n"
    );
    assert_eq!(d["openstack/latest/vendor_data.json"], "{}");
    assert_eq!(
        d["openstack/latest/network_data.json"], "{}",
        "an L2 NIC has no address to describe"
    );
    assert_eq!(d["cloudstack/metadata/vm-id.txt"], id);
    assert_eq!(d["cloudstack/metadata/public-keys.txt"], KEY1);
    assert_eq!(
        d["cloudstack/userdata/user_data.txt"],
        "#cloud-config\nhostname: web1\n"
    );
    assert!(!d.contains_key("cloudstack/password/vm_password.txt"));

    // New user data reaches the running VM's drive.
    let ud2 = "I2Nsb3VkLWNvbmZpZwpob3N0bmFtZTogd2ViMgo="; // hostname: web2
    dave.ok(&[
        ("command", "updateVirtualMachine"),
        ("id", &id),
        ("userdata", ud2),
    ])
    .await;
    let d = drive_of(&z, &instance).expect("a config drive");
    assert_eq!(
        d["openstack/latest/user_data"],
        "#cloud-config\nhostname: web2\n"
    );
    // Another tenant reads nothing of it.
    let e = eve
        .err(
            &[("command", "getVirtualMachineUserData"), ("id", &id)],
            531,
        )
        .await;
    assert!(!e.contains("hostname"), "{e}");
    eve.err(
        &[
            ("command", "updateVirtualMachine"),
            ("id", &id),
            ("userdata", userdata),
        ],
        531,
    )
    .await;
    let d = drive_of(&z, &instance).expect("a config drive");
    assert_eq!(
        d["openstack/latest/user_data"],
        "#cloud-config\nhostname: web2\n"
    );

    // A VM on a routed network gets its data from the router, not a drive.
    let routed = deploy_vm(&dave, &z, "routed", &[("keypair", "one")]).await;
    let names = z.running();
    assert_eq!(names.len(), 2, "{names:?}");
    let other = names.into_iter().find(|n| *n != instance).expect("other");
    assert!(drive_of(&z, &other).is_none(), "{routed}");
    ts.stop().await;
}

/// Hosts report their guests' statistics every `vm.stats.interval`; listVirtualMachines,
/// listVirtualMachinesMetrics and listVolumesMetrics show the latest (simulated hosts report
/// plausible, growing figures); a stopped VM shows none.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn guests_statistics_reach_the_vm_and_volume_views() {
    let ts = TestServer::start().await;
    let c = ts.admin.clone();
    c.ok(&[
        ("command", "updateConfiguration"),
        ("name", "vm.stats.interval"),
        ("value", "1000"),
    ])
    .await;
    let z = VmZone::new(&ts, 1).await;
    let vm = deploy_vm(&c, &z, "busy", &[]).await;
    let id = vm["id"].as_str().expect("id").to_string();
    let mut seen = Value::Null;
    for _ in 0..100 {
        seen = vm_view(&c, &id).await;
        if seen["diskioread"].as_u64().unwrap_or(0) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        seen["cpuused"].as_str().is_some_and(|s| s.ends_with('%')),
        "{seen}"
    );
    assert_eq!(seen["memorykbs"], 512 * 1024, "{seen}");
    assert!(seen["memoryintfreekbs"].as_u64().is_some(), "{seen}");
    assert!(seen["diskioread"].as_u64().unwrap_or(0) > 0, "{seen}");
    assert!(seen.get("networkkbsread").is_some(), "{seen}");
    let m = c
        .ok(&[("command", "listVirtualMachinesMetrics"), ("id", &id)])
        .await;
    let m = &m["virtualmachine"][0];
    assert!(m["diskiopstotal"].as_u64().unwrap_or(0) > 0, "{m}");
    assert!(
        m["diskread"].as_str().is_some_and(|s| s.ends_with(" MB")),
        "{m}"
    );
    let v = c
        .ok(&[
            ("command", "listVolumesMetrics"),
            ("virtualmachineid", &id),
            ("type", "ROOT"),
        ])
        .await;
    let v = &v["volume"][0];
    assert!(v["diskioread"].as_u64().unwrap_or(0) > 0, "{v}");
    assert!(
        v["sizegb"].as_str().is_some_and(|s| s.ends_with(" GB")),
        "{v}"
    );
    // Another tenant sees none of it; hostile parameters get CloudStack's 431.
    let (_a, _u, eve) = account_with_keys(&ts, &c, "eve", None, "0").await;
    let theirs = eve
        .ok(&[("command", "listVolumesMetrics"), ("virtualmachineid", &id)])
        .await;
    assert!(theirs.get("volume").is_none(), "{theirs}");
    let theirs = eve
        .ok(&[("command", "listVirtualMachinesMetrics"), ("id", &id)])
        .await;
    assert!(theirs.get("virtualmachine").is_none(), "{theirs}");
    for bad in ["\u{0}\u{7f}", "ü-not-a-uuid", &"x".repeat(5000)] {
        eve.err(
            &[("command", "listVolumesMetrics"), ("virtualmachineid", bad)],
            431,
        )
        .await;
    }
    // Stopped: no figures.
    c.job(&[("command", "stopVirtualMachine"), ("id", &id)])
        .await;
    let seen = vm_view(&c, &id).await;
    assert!(seen.get("cpuused").is_none(), "{seen}");
    ts.stop().await;
}
