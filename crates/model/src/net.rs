//! IPv4 helpers for inventory validation (pod ranges, guest CIDRs). Pure.

use std::net::Ipv4Addr;

/// A prefix length from a dotted netmask (`255.255.255.0` → 24); `None` if not contiguous.
pub fn prefix_len(mask: Ipv4Addr) -> Option<u8> {
    let m = u32::from(mask);
    let len = m.leading_ones();
    (m.checked_shl(len).unwrap_or(0) == 0).then_some(len as u8)
}

/// The network address of `ip` under a prefix length.
pub fn network(ip: Ipv4Addr, prefix: u8) -> Ipv4Addr {
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix as u32)
    };
    Ipv4Addr::from(u32::from(ip) & mask)
}

/// Parses `a.b.c.d/len`.
pub fn parse_cidr(s: &str) -> Option<(Ipv4Addr, u8)> {
    let (ip, len) = s.trim().split_once('/')?;
    let ip: Ipv4Addr = ip.parse().ok()?;
    let len: u8 = len.parse().ok().filter(|l| *l <= 32)?;
    Some((network(ip, len), len))
}

/// Whether two networks overlap.
pub fn overlaps(a: (Ipv4Addr, u8), b: (Ipv4Addr, u8)) -> bool {
    let p = a.1.min(b.1);
    network(a.0, p) == network(b.0, p)
}

/// Parses VLAN/VNI ranges `100-200,300` into inclusive pairs; `None` if malformed or
/// out of `1..=max`.
pub fn parse_ranges(s: &str, max: u32) -> Option<Vec<(u32, u32)>> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a.trim().parse().ok()?, b.trim().parse().ok()?),
            None => {
                let v: u32 = part.parse().ok()?;
                (v, v)
            }
        };
        if a == 0 || a > b || b > max {
            return None;
        }
        out.push((a, b));
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_cidrs_and_ranges() {
        assert_eq!(prefix_len("255.255.255.0".parse().expect("ip")), Some(24));
        assert_eq!(prefix_len("255.255.0.255".parse().expect("ip")), None);
        assert_eq!(prefix_len("0.0.0.0".parse().expect("ip")), Some(0));
        assert_eq!(
            parse_cidr("10.1.1.7/24"),
            Some(("10.1.1.0".parse().expect("ip"), 24))
        );
        assert!(parse_cidr("10.1.1.0/33").is_none());
        assert!(overlaps(
            parse_cidr("10.0.0.0/8").expect("c"),
            parse_cidr("10.1.0.0/16").expect("c")
        ));
        assert!(!overlaps(
            parse_cidr("10.0.0.0/24").expect("c"),
            parse_cidr("10.0.1.0/24").expect("c")
        ));
        assert_eq!(
            parse_ranges("100-200, 300", 4094),
            Some(vec![(100, 200), (300, 300)])
        );
        assert!(parse_ranges("200-100", 4094).is_none());
        assert!(parse_ranges("5000", 4094).is_none());
        assert!(parse_ranges("0-5", 4094).is_none());
        assert!(parse_ranges("x", 4094).is_none());
    }
}
