//! The compiled files are checked by the real tools: `nft -c` (in a fresh network namespace,
//! so nothing is applied to this machine), `haproxy -c` and `dnsmasq --test`. The test command
//! installs them and sets CANOPY_REQUIRE_TOOLS=1, which turns a missing tool into a failure;
//! elsewhere a missing tool (or not being root, which `unshare -n` needs) skips its check,
//! saying so (`testkit::skip`).

use std::path::{Path, PathBuf};
use std::process::Command;

fn golden() -> PathBuf {
    PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("tests/golden")
}

fn files(ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(golden())
        .expect("golden dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(ext))
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no golden *{ext}");
    v
}

/// Whether `tool` is installed; when not, `test` is skipped (loudly; a failure under the
/// test command, which sets CANOPY_REQUIRE_TOOLS=1).
fn have(test: &str, tool: &str) -> bool {
    let found = ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        .iter()
        .any(|d| Path::new(d).join(tool).exists());
    if !found {
        testkit::skip(
            test,
            &format!("{tool} is not installed (scripts/install-deps.sh installs it)"),
            "CANOPY_REQUIRE_TOOLS",
        );
    }
    found
}

/// Whether this runs as root; when not, `test` is skipped as [`have`] does.
fn root(test: &str) -> bool {
    let root = is_root();
    if !root {
        testkit::skip(test, "needs root (unshare -n)", "CANOPY_REQUIRE_TOOLS");
    }
    root
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1))
                == Some("0")
        })
        .unwrap_or(false)
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("run the tool");
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn nftables_rulesets_are_accepted_by_nft() {
    const T: &str = "nftables_rulesets_are_accepted_by_nft";
    if !have(T, "nft") || !have(T, "unshare") || !root(T) {
        return;
    }
    for f in files(".nft") {
        run(Command::new("unshare")
            .args(["-n", "nft", "-c", "-f"])
            .arg(&f));
    }
}

#[test]
fn haproxy_configurations_are_valid() {
    if !have("haproxy_configurations_are_valid", "haproxy") {
        return;
    }
    for f in files(".haproxy.cfg") {
        run(Command::new("haproxy").arg("-c").arg("-f").arg(&f));
    }
}

#[test]
fn dnsmasq_configurations_are_valid() {
    if !have("dnsmasq_configurations_are_valid", "dnsmasq") {
        return;
    }
    for f in files(".dnsmasq.conf") {
        run(Command::new("dnsmasq")
            .arg("--test")
            .arg(format!("--conf-file={}", f.display())));
    }
}

/// A security-group change applied as the delta (`nft_delta`) leaves the kernel with exactly
/// the ruleset a full replacement gives.
#[test]
fn security_group_deltas_apply_and_equal_the_full_ruleset() {
    const T: &str = "security_group_deltas_apply_and_equal_the_full_ruleset";
    if !have(T, "nft") || !have(T, "unshare") || !root(T) {
        return;
    }
    let old = std::fs::read_to_string(golden().join("h1.security.nft")).expect("golden");
    // A rule more in one group, a member more in a group set.
    let new = old
        .replacen(
            "meta nfproto ipv4 tcp dport 80 accept",
            "meta nfproto ipv4 tcp dport 80 accept\n        meta nfproto ipv4 tcp dport 8443 accept",
            1,
        )
        .replacen("elements = { 10.2.0.21, 10.2.0.22 }", "elements = { 10.2.0.21, 10.2.0.22, 10.2.0.23 }", 1);
    assert_ne!(old, new, "the golden file has the lines this test changes");
    let delta = netplan::nft_delta(&old, &new).expect("a delta");
    assert!(
        delta.contains("flush chain") && delta.contains("flush set"),
        "{delta}"
    );
    let dir = tempfile::tempdir().expect("tmp");
    for (n, t) in [("old", &old), ("new", &new), ("delta", &delta)] {
        std::fs::write(dir.path().join(n), t).expect("write");
    }
    let script = "nft -f old && nft -f delta && nft list ruleset > by-delta && \
                  nft -f new && nft list ruleset > by-full && cmp by-delta by-full";
    run(Command::new("unshare")
        .args(["-n", "sh", "-c", script])
        .current_dir(dir.path()));
}

/// A tier's ACL chains (every kind of match: ports, ICMP type and code, a protocol number,
/// all, source and destination sets) are accepted by nft.
#[test]
fn acl_chains_are_accepted_by_nft() {
    const T: &str = "acl_chains_are_accepted_by_nft";
    if !have(T, "nft") || !have(T, "unshare") || !root(T) {
        return;
    }
    use netplan::acl::{Action, Item, Traffic};
    let cidr = |s: &str| s.parse::<netplan::Cidr>().expect("cidr");
    let item = |n: u32,
                action,
                traffic,
                protocol,
                ports: Option<(u16, u16)>,
                cidrs: Vec<netplan::Cidr>| Item {
        id: uuid::Uuid::from_u128(n as u128),
        number: n,
        action,
        traffic,
        protocol,
        start_port: ports.map(|p| p.0),
        end_port: ports.map(|p| p.1),
        icmp_type: None,
        icmp_code: None,
        cidrs,
        tags: vec![],
    };
    let mut icmp = item(
        5,
        Action::Allow,
        Traffic::Ingress,
        netplan::Protocol::Icmp,
        None,
        vec![],
    );
    icmp.icmp_type = Some(8);
    icmp.icmp_code = Some(0);
    let items = vec![
        item(
            1,
            Action::Allow,
            Traffic::Ingress,
            netplan::Protocol::Tcp,
            Some((80, 80)),
            vec![cidr("10.0.0.0/8")],
        ),
        item(
            2,
            Action::Deny,
            Traffic::Ingress,
            netplan::Protocol::Udp,
            Some((1000, 2000)),
            vec![cidr("10.1.0.0/16"), cidr("192.168.0.0/24")],
        ),
        item(
            3,
            Action::Allow,
            Traffic::Egress,
            netplan::Protocol::Tcp,
            Some((443, 443)),
            vec![cidr("203.0.113.7/32")],
        ),
        item(
            4000,
            Action::Deny,
            Traffic::Egress,
            netplan::Protocol::All,
            None,
            vec![cidr("0.0.0.0/0")],
        ),
        item(
            6,
            Action::Deny,
            Traffic::Ingress,
            netplan::Protocol::Number(47),
            None,
            vec![],
        ),
        icmp,
    ];
    let dir = tempfile::tempdir().expect("tmp");
    let f = dir.path().join("acl.nft");
    std::fs::write(
        &f,
        format!(
            "table inet canopy_acl {{\n{}}}\n",
            netplan::acl::render("00007000", &items)
        ),
    )
    .expect("write");
    run(Command::new("unshare")
        .args(["-n", "nft", "-c", "-f"])
        .arg(&f));
}

/// ACL order proven by traffic, in a fresh network namespace: the tier's ingress chain guards
/// two listeners; an allow at 100 beats a deny at 200 (port 8080 open), a deny at 50 beats an
/// allow at 100 (port 8022 closed); moving the deny below the allow (moveNetworkAclItem's
/// renumbering) opens 8022.
#[test]
fn acl_order_is_what_traffic_sees() {
    const T: &str = "acl_order_is_what_traffic_sees";
    if !have(T, "nft") || !have(T, "unshare") || !have(T, "python3") || !root(T) {
        return;
    }
    use netplan::acl::{Action, Item, Traffic};
    let item = |n: u128, number: u32, action, port: u16| Item {
        id: uuid::Uuid::from_u128(n),
        number,
        action,
        traffic: Traffic::Ingress,
        protocol: netplan::Protocol::Tcp,
        start_port: Some(port),
        end_port: Some(port),
        icmp_type: None,
        icmp_code: None,
        cidrs: vec![],
        tags: vec![],
    };
    let mut items = vec![
        item(1, 200, Action::Deny, 8080),
        item(2, 100, Action::Allow, 8080),
        item(3, 100, Action::Allow, 8022),
        item(4, 50, Action::Deny, 8022),
    ];
    let probe = |items: &[Item]| -> String {
        let dir = tempfile::tempdir().expect("tmp");
        let rules = dir.path().join("acl.nft");
        std::fs::write(
            &rules,
            format!(
                "table inet t {{\n{}    chain input {{\n        type filter hook input priority 0; policy accept;\n        iifname \"lo\" tcp dport {{ 8080, 8022 }} jump acl_in_t\n    }}\n}}\n",
                netplan::acl::render("t", items)
            ),
        )
        .expect("write");
        // Listeners on both ports, the ruleset, then a bounded connect to each (1 s).
        let script = format!(
            "ip link set lo up && nft -f {rules} || exit 3
python3 -c 'import socket,time
ss=[socket.create_server((\"127.0.0.1\",p)) for p in (8080,8022)]
time.sleep(6)' & L=$!
sleep 0.5
for p in 8080 8022; do
  python3 -c 'import socket,sys
try:
  socket.create_connection((\"127.0.0.1\",int(sys.argv[1])),timeout=1).close(); print(sys.argv[1],\"open\")
except OSError: print(sys.argv[1],\"closed\")' $p
done
kill $L",
            rules = rules.display()
        );
        let out = Command::new("unshare")
            .args(["-n", "sh", "-c", &script])
            .output()
            .expect("run");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(probe(&items), "8080 open\n8022 closed");
    // Move the deny at 50 to below the allow for 8022 (between it and the deny at 200).
    let changes = netplan::acl::move_item(
        &items,
        uuid::Uuid::from_u128(4),
        Some(uuid::Uuid::from_u128(3)),
        Some(uuid::Uuid::from_u128(1)),
    )
    .expect("move");
    for (id, n) in changes {
        if let Some(i) = items.iter_mut().find(|i| i.id == id) {
            i.number = n;
        }
    }
    assert_eq!(probe(&items), "8080 open\n8022 open");
}
