//! The Linux network driver's decisions, through the fake `Sys`.

use super::router::{dnsmasq_files, without_stale_leases};
use super::*;
use crate::sys::FakeSys;

fn desired(link: Link) -> HostDesired {
    HostDesired {
        host_id: uuid::Uuid::nil(),
        bridges: vec![Bridge {
            name: "cbv42".into(),
            network_id: Some(uuid::Uuid::nil()),
            link,
            mtu: 1500,
        }],
        taps: Vec::new(),
        security: None,
        routers: Vec::new(),
    }
}

#[test]
fn vlan_networks_get_a_sub_interface_of_the_uplink_joined_to_their_bridge() {
    let sys = Arc::new(FakeSys::default());
    let dir = std::env::temp_dir().join(format!("canopy-ln-{}", uuid::Uuid::new_v4()));
    let net = LinuxNet::new(sys.clone(), dir.clone(), None);
    net.apply(
        1,
        &desired(Link::Vlan {
            dev: "eth1".into(),
            id: 42,
        }),
    )
    .expect("apply");
    let cmds = sys.commands();
    assert!(
        cmds.contains(&"ip link add name cbv42 mtu 1500 type bridge stp_state 0".into()),
        "{cmds:#?}"
    );
    assert!(
        cmds.contains(&"ip link add link eth1 name cvl42 type vlan id 42".into()),
        "{cmds:#?}"
    );
    assert!(
        cmds.contains(&"ip link set cvl42 master cbv42".into()),
        "{cmds:#?}"
    );
    // Stale generations change nothing.
    let n = sys.commands().len();
    assert_eq!(net.apply(0, &desired(Link::Local)), Ok(1));
    assert_eq!(sys.commands().len(), n);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn dnsmasq_keeps_leases_and_names_in_files_it_rereads() {
    let golden = std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("../netplan/tests/golden/h3.json");
    let host: HostDesired =
        serde_json::from_slice(&std::fs::read(golden).expect("golden")).expect("json");
    let r = &host.routers[0];
    let dir = tempfile::tempdir().expect("tmp");
    let (conf, hosts, names) = dnsmasq_files(dir.path(), r);
    assert!(
        !conf.contains("dhcp-host=") && !conf.contains("host-record="),
        "{conf}"
    );
    assert!(
        conf.contains("dhcp-hostsfile=") && conf.contains("addn-hosts="),
        "{conf}"
    );
    assert!(
        hosts.contains("02:00:00:00:00:01,10.1.1.11,web1,infinite"),
        "{hosts}"
    );
    assert!(
        names.contains("10.1.1.11 web1.acme.internal web1"),
        "{names}"
    );
    // The real dnsmasq accepts the configuration and its files.
    if std::process::Command::new("dnsmasq")
        .arg("--version")
        .output()
        .is_ok()
    {
        std::fs::write(dir.path().join("hosts.dhcp"), &hosts).expect("write");
        std::fs::write(dir.path().join("hosts.dns"), &names).expect("write");
        let f = dir.path().join("dnsmasq.conf");
        std::fs::write(&f, &conf).expect("write");
        let out = std::process::Command::new("dnsmasq")
            .arg("--test")
            .arg(format!("--conf-file={}", f.display()))
            .output()
            .expect("dnsmasq");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn a_security_group_change_sends_only_the_changed_chain() {
    let sys = Arc::new(FakeSys::default());
    let dir = std::env::temp_dir().join(format!("canopy-ln-{}", uuid::Uuid::new_v4()));
    let mut net = LinuxNet::new(sys.clone(), dir.clone(), None);
    std::fs::create_dir_all(&dir).expect("dir");
    net.bridge_nf = dir.join("bridge-nf-call-iptables");
    std::fs::write(&net.bridge_nf, "0").expect("switch");
    let rules = |extra: &str| {
        format!(
            "table inet canopy_sg {{}}\ndelete table inet canopy_sg\ntable inet canopy_sg {{\n    chain forward {{\n        type filter hook forward priority filter; policy accept;\n{}    }}\n    chain sgin_1 {{\n        tcp dport 80 accept\n{extra}    }}\n}}\n",
            "        jump sgin_1\n".repeat(200)
        )
    };
    let mut d = desired(Link::Local);
    d.security = Some(rules(""));
    net.apply(1, &d).expect("apply");
    d.security = Some(rules("        tcp dport 443 accept\n"));
    net.apply(2, &d).expect("apply");
    let nft: Vec<String> = sys
        .commands()
        .into_iter()
        .filter(|c| c.starts_with("nft -f -"))
        .collect();
    assert_eq!(nft.len(), 2, "{nft:?}");
    let size = |c: &str| {
        c.rsplit("<<")
            .next()
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(0)
    };
    assert!(
        size(&nft[1]) < 150 && size(&nft[0]) > 3000,
        "the second apply sends the changed chain only: {nft:?}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn vxlan_peers_are_diffed_against_the_fdb() {
    let sys = Arc::new(FakeSys::default());
    sys.answer(
        "ip -j link show",
        r#"[{"ifname":"cbv42","flags":["UP"],"mtu":1450},{"ifname":"cvx42","master":"cbv42","flags":["UP"],"mtu":1450},{"ifname":"cbr7","flags":["UP"],"mtu":1450}]"#,
    );
    sys.answer(
        "bridge -j fdb show dev cvx42",
        r#"[{"mac":"00:00:00:00:00:00","dst":"10.0.0.2"},{"mac":"00:00:00:00:00:00","dst":"10.0.0.9"},{"mac":"02:00:00:00:00:01","master":"cbv42"}]"#,
    );
    let dir = std::env::temp_dir().join(format!("canopy-ln-{}", uuid::Uuid::new_v4()));
    let net = LinuxNet::new(sys.clone(), dir.clone(), None);
    let mut d = desired(Link::Vxlan {
        dev: "cvx42".into(),
        vni: 42,
        local: "10.0.0.1".parse().expect("ip"),
        port: 4789,
        peers: vec![
            "10.0.0.2".parse().expect("ip"),
            "10.0.0.3".parse().expect("ip"),
        ],
    });
    d.bridges[0].mtu = 1450;
    net.apply(3, &d).expect("apply");
    let cmds = sys.commands();
    let changes: Vec<&String> = cmds
        .iter()
        .filter(|c| !c.contains(" -j ") && !c.starts_with("ip -j") && !c.starts_with("bridge -j"))
        .collect();
    assert_eq!(
        changes,
        vec![
            "bridge fdb append 00:00:00:00:00:00 dev cvx42 dst 10.0.0.3",
            "bridge fdb del 00:00:00:00:00:00 dev cvx42 dst 10.0.0.9",
            "nft -f - <<114",
            "ip link del cbr7",
        ],
        "only the differences are applied; a bridge no longer desired goes"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn security_groups_fail_closed_when_bridged_traffic_cannot_be_filtered() {
    let sys = Arc::new(FakeSys::default());
    let dir = std::env::temp_dir().join(format!("canopy-ln-{}", uuid::Uuid::new_v4()));
    let mut net = LinuxNet::new(sys.clone(), dir.clone(), None);
    // A switch that cannot be set (no br_netfilter, and modprobe does not help).
    net.bridge_nf = dir.join("no-such-dir").join("bridge-nf-call-iptables");
    let mut d = desired(Link::Local);
    d.security = Some("table inet canopy_sg {}\n".into());
    let e = net.apply(1, &d).expect_err("refused");
    assert!(
        e.to_string().contains("security groups cannot be enforced"),
        "{e}"
    );
    let cmds = sys.commands();
    assert!(
        cmds.iter().any(|c| c == "modprobe br_netfilter"),
        "{cmds:?}"
    );
    assert!(
        !cmds
            .iter()
            .any(|c| c.starts_with("nft") || c.contains("master")),
        "nothing applied: {cmds:?}"
    );
    // Without security groups the host's networks are applied as before.
    d.security = None;
    net.apply(2, &d).expect("applied");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_lease_whose_address_moved_to_another_vm_is_dropped() {
    let lease = |mac: &str, ip: &str| netplan::compile::Lease {
        mac: mac.into(),
        ip: ip.parse().expect("ip"),
        hostname: "vm".into(),
    };
    let file = "0 02:00:00:00:00:01 10.1.0.2 vm1 *\n0 02:00:00:00:00:02 10.1.0.4 pw1 *\n";
    // Nothing moved: the file stays as it is.
    assert_eq!(
        without_stale_leases(
            file,
            &[
                lease("02:00:00:00:00:01", "10.1.0.2"),
                lease("02:00:00:00:00:02", "10.1.0.4")
            ]
        ),
        None
    );
    // 10.1.0.4 now belongs to another MAC (its VM was expunged, a new one got the address).
    assert_eq!(
        without_stale_leases(
            file,
            &[
                lease("02:00:00:00:00:01", "10.1.0.2"),
                lease("02:00:00:00:00:09", "10.1.0.4")
            ]
        ),
        Some("0 02:00:00:00:00:01 10.1.0.2 vm1 *\n".into())
    );
    // An address no VM has any more goes too.
    assert_eq!(
        without_stale_leases(file, &[lease("02:00:00:00:00:01", "10.1.0.2")]),
        Some("0 02:00:00:00:00:01 10.1.0.2 vm1 *\n".into())
    );
}

/// A router's ruleset change that keeps its shape (an ACL item, a service tag's members) is
/// sent as the changed chains and sets only, in the router's namespace.
#[test]
fn a_router_ruleset_change_sends_only_what_changed() {
    let golden = std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("../netplan/tests/golden/vpc-vr.json");
    let mut host: HostDesired =
        serde_json::from_slice(&std::fs::read(golden).expect("golden")).expect("json");
    let sys = Arc::new(FakeSys::default());
    let dir = std::env::temp_dir().join(format!("canopy-ln-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    let net = LinuxNet::new(sys.clone(), dir.clone(), None);
    net.apply(1, &host).expect("apply");
    let ns = host.routers[0].namespace.clone();
    // The namespace exists now.
    sys.answer("ip -j netns list", &format!("[{{\"name\": \"{ns}\"}}]"));
    let before = host.routers[0].nftables.clone();
    host.routers[0].nftables = before.replace(
        "elements = { 198.51.100.7 }",
        "elements = { 198.51.100.99 }",
    );
    assert_ne!(before, host.routers[0].nftables);
    net.apply(2, &host).expect("apply");
    let nft: Vec<String> = sys
        .commands()
        .into_iter()
        .filter(|c| c.contains(&format!("netns exec {ns} nft -f")))
        .collect();
    assert_eq!(nft.len(), 2, "{nft:?}");
    assert!(
        nft[0].contains("ruleset.nft"),
        "the first load is the whole file: {nft:?}"
    );
    assert!(
        nft[1].contains("nft -f -"),
        "the change is a delta: {nft:?}"
    );
    let size = nft[1]
        .rsplit("<<")
        .next()
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(usize::MAX);
    assert!(
        size < 200,
        "only the tag's set is sent ({size} bytes): {nft:?}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// Every interface of a router gets its own host end (a VPC router has one per tier), within
/// the kernel's 15 characters.
#[test]
fn host_ends_are_unique_per_interface() {
    let ns = "r-1234abcd";
    let names: Vec<String> = ["guest", "public", "control", "t3002", "t3003", "t16777215"]
        .iter()
        .map(|i| host_end(ns, i))
        .collect();
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), names.len(), "{names:?}");
    assert!(names.iter().all(|n| n.len() <= 15), "{names:?}");
    assert_eq!(names[0], "rg1234abcd");
}

#[test]
fn a_vpc_router_with_site_to_site_connections_runs_charon_in_its_own_mount_namespace() {
    use std::os::unix::fs::PermissionsExt;
    let golden = std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("../netplan/tests/golden/vpc-vr.json");
    let mut host: HostDesired =
        serde_json::from_slice(&std::fs::read(golden).expect("golden")).expect("json");
    assert!(
        host.routers[0].s2s.is_some(),
        "the golden VPC router has a connection"
    );
    let sys = Arc::new(FakeSys::default());
    let dir = tempfile::tempdir().expect("tmp");
    let net = LinuxNet::new(sys.clone(), dir.path().to_path_buf(), None);
    net.apply(1, &host).expect("apply");
    let ns = host.routers[0].namespace.clone();
    let cmds = sys.commands();
    let start = cmds
        .iter()
        .find(|c| c.contains("unshare -m --propagation private sh -c mount --bind"))
        .unwrap_or_else(|| panic!("charon started: {cmds:#?}"));
    assert!(
        start.starts_with(&format!("ip netns exec {ns} ")),
        "{start}"
    );
    assert!(start.contains("STRONGSWAN_CONF="), "{start}");
    let conf = dir
        .path()
        .join("routers")
        .join(&ns)
        .join("ipsec")
        .join("swanctl.conf");
    assert!(
        cmds.iter()
            .any(|c| c.starts_with("swanctl --load-all --file") && c.contains(&path(&conf))),
        "{cmds:#?}"
    );
    let mode = std::fs::metadata(&conf).expect("conf").permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the keys are the owner's only");
    // The connections gone, so is strongSwan's directory.
    host.routers[0].s2s = None;
    net.apply(2, &host).expect("apply");
    assert!(!conf.exists());
}
