//! Service tags (a Canopy addition): named groups of addresses an ACL item names in place of a
//! CIDR — `Storage`, `AzureMonitor`… as root admins define them, and the built-in `Internet`
//! (everything outside the private, loopback, link-local, multicast and reserved ranges and
//! the zone's public ranges). A router holds each tag its tiers use as an nftables interval
//! set `tag_<name>`: a change of members changes the set's elements, never a rule.

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use crate::state::Cidr;

/// The built-in tag of everything outside.
pub const INTERNET: &str = "Internet";
/// The built-in tag of the management servers' addresses (what agents and guests' data reach).
pub const MANAGEMENT_SERVERS: &str = "ManagementServers";
/// The built-in tag of the zone's image stores' addresses.
pub const IMAGE_STORES: &str = "ImageStores";
/// Every built-in tag's name.
pub const BUILTIN: &[&str] = &[INTERNET, MANAGEMENT_SERVERS, IMAGE_STORES];

/// The built-in tag `name` spelled as given in any case, if it is one.
pub fn builtin(name: &str) -> Option<&'static str> {
    BUILTIN
        .iter()
        .copied()
        .find(|b| b.eq_ignore_ascii_case(name))
}

/// A tag and its members as address ranges (first, last), merged and sorted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceTag {
    pub name: String,
    pub ranges: Vec<(Ipv4Addr, Ipv4Addr)>,
}

impl ServiceTag {
    /// A tag of these single addresses.
    pub fn of_addresses(name: &str, addrs: &[Ipv4Addr]) -> ServiceTag {
        let cidrs: Vec<Cidr> = addrs.iter().filter_map(|a| Cidr::new(*a, 32)).collect();
        ServiceTag::of_cidrs(name, &cidrs)
    }

    /// A tag of these CIDRs.
    pub fn of_cidrs(name: &str, cidrs: &[Cidr]) -> ServiceTag {
        ServiceTag {
            name: name.to_string(),
            ranges: merge(cidrs.iter().map(range_of).collect()),
        }
    }
}

/// The addresses of a prefix.
pub fn range_of(c: &Cidr) -> (Ipv4Addr, Ipv4Addr) {
    let net = u32::from(c.addr);
    let last = net | (u32::MAX.checked_shr(u32::from(c.len)).unwrap_or(0));
    (c.addr, Ipv4Addr::from(last))
}

/// Sorted ranges with overlapping and adjacent ones joined (nftables refuses overlapping
/// elements of an interval set).
pub fn merge(mut v: Vec<(Ipv4Addr, Ipv4Addr)>) -> Vec<(Ipv4Addr, Ipv4Addr)> {
    v.retain(|(a, b)| a <= b);
    v.sort();
    let mut out: Vec<(Ipv4Addr, Ipv4Addr)> = Vec::new();
    for (a, b) in v {
        if let Some(last) = out.last_mut() {
            if u64::from(u32::from(a)) <= u64::from(u32::from(last.1)) + 1 {
                if b > last.1 {
                    last.1 = b;
                }
                continue;
            }
        }
        out.push((a, b));
    }
    out
}

/// Addresses that are never the Internet: this-network, private (RFC 1918), shared (CGN),
/// loopback, link-local, multicast and reserved.
pub fn not_internet() -> Vec<Cidr> {
    [
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "224.0.0.0/4",
        "240.0.0.0/4",
    ]
    .iter()
    .filter_map(|c| c.parse().ok())
    .collect()
}

/// The built-in `Internet`: every address outside `not_internet()` and the zone's `public`
/// ranges.
pub fn internet(public: &[(Ipv4Addr, Ipv4Addr)]) -> ServiceTag {
    let mut out_of: Vec<(Ipv4Addr, Ipv4Addr)> = not_internet().iter().map(range_of).collect();
    out_of.extend_from_slice(public);
    let taken = merge(out_of);
    let mut ranges = Vec::new();
    let mut next: u64 = 0;
    for (a, b) in taken {
        let (a, b) = (u64::from(u32::from(a)), u64::from(u32::from(b)));
        if a > next {
            ranges.push((to_ip(next), to_ip(a - 1)));
        }
        next = next.max(b + 1);
    }
    if next <= u64::from(u32::MAX) {
        ranges.push((to_ip(next), Ipv4Addr::from(u32::MAX)));
    }
    ServiceTag {
        name: INTERNET.into(),
        ranges,
    }
}

fn to_ip(v: u64) -> Ipv4Addr {
    Ipv4Addr::from(u32::try_from(v).unwrap_or(u32::MAX))
}

/// The nftables set of a tag: `tag_` and the name in lower case, anything but letters and
/// digits as `_`.
pub fn set_name(tag: &str) -> String {
    let slug: String = tag
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("tag_{slug}")
}

/// A tag's set, in nftables syntax (inside a table).
pub fn render_set(t: &ServiceTag) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "    set {} {{", set_name(&t.name));
    s.push_str("        type ipv4_addr\n        flags interval\n");
    if !t.ranges.is_empty() {
        let elems: Vec<String> = t
            .ranges
            .iter()
            .map(|(a, b)| {
                if a == b {
                    a.to_string()
                } else {
                    format!("{a}-{b}")
                }
            })
            .collect();
        let _ = writeln!(s, "        elements = {{ {} }}", elems.join(", "));
    }
    s.push_str("    }\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().expect("ip")
    }

    #[test]
    fn ranges_merge() {
        let m = merge(vec![
            (ip("10.0.0.5"), ip("10.0.0.9")),
            (ip("10.0.0.0"), ip("10.0.0.4")),
            (ip("10.0.0.8"), ip("10.0.0.20")),
            (ip("10.1.0.0"), ip("10.1.0.0")),
        ]);
        assert_eq!(
            m,
            vec![
                (ip("10.0.0.0"), ip("10.0.0.20")),
                (ip("10.1.0.0"), ip("10.1.0.0"))
            ]
        );
    }

    #[test]
    fn the_internet_is_what_is_not_private_nor_the_zones_public_range() {
        let t = internet(&[(ip("203.0.113.0"), ip("203.0.113.255"))]);
        let inside = |a: &str| t.ranges.iter().any(|(x, y)| *x <= ip(a) && ip(a) <= *y);
        for a in [
            "8.8.8.8",
            "1.1.1.1",
            "198.51.100.7",
            "203.0.112.255",
            "203.0.114.0",
            "223.255.255.255",
        ] {
            assert!(inside(a), "{a} is the Internet");
        }
        for a in [
            "10.1.2.3",
            "192.168.1.1",
            "172.20.0.1",
            "127.0.0.1",
            "169.254.1.1",
            "203.0.113.9",
            "0.1.2.3",
            "224.0.0.1",
            "255.255.255.255",
        ] {
            assert!(!inside(a), "{a} is not");
        }
        // Its ranges do not overlap (nftables would refuse them).
        assert_eq!(merge(t.ranges.clone()).len(), t.ranges.len());
    }

    #[test]
    fn sets_are_named_and_rendered() {
        assert_eq!(set_name("AzureMonitor"), "tag_azuremonitor");
        assert_eq!(set_name("my-tag.1"), "tag_my_tag_1");
        let t = ServiceTag::of_cidrs(
            "Storage",
            &[
                "198.51.100.7/32".parse().expect("c"),
                "198.51.100.4/30".parse().expect("c"),
            ],
        );
        assert_eq!(t.ranges, vec![(ip("198.51.100.4"), ip("198.51.100.7"))]);
        let s = render_set(&t);
        assert!(s.contains("set tag_storage {"), "{s}");
        assert!(
            s.contains("elements = { 198.51.100.4-198.51.100.7 }"),
            "{s}"
        );
        assert!(!render_set(&ServiceTag {
            name: "Empty".into(),
            ranges: vec![]
        })
        .contains("elements"));
    }
}
