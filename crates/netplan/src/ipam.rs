//! Address and segment allocation decisions. The database makes them stick (unique indexes
//! on live VNIs, NIC addresses and MACs); these functions only choose.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

/// The lowest VNI/VLAN id of `ranges` (inclusive pairs) not in `used`.
pub fn pick_vni(ranges: &[(u32, u32)], used: &BTreeSet<u32>) -> Option<u32> {
    let mut sorted = ranges.to_vec();
    sorted.sort_unstable();
    for (a, b) in sorted {
        // Skip runs of used ids quickly: walk the used set from `a`.
        let mut next = a;
        for u in used.range(a..=b) {
            if *u != next {
                break;
            }
            next = next.saturating_add(1);
        }
        if next <= b {
            return Some(next);
        }
    }
    None
}

/// Up to `n` free addresses of `[first, last]`, lowest first, skipping `used` and `reserved`.
pub fn free_addresses(
    first: Ipv4Addr,
    last: Ipv4Addr,
    used: &BTreeSet<Ipv4Addr>,
    reserved: &[Ipv4Addr],
    n: usize,
) -> Vec<Ipv4Addr> {
    let (a, b) = (u32::from(first), u32::from(last));
    let mut out = Vec::new();
    let mut x = a;
    while x <= b && out.len() < n {
        let ip = Ipv4Addr::from(x);
        if !used.contains(&ip) && !reserved.contains(&ip) {
            out.push(ip);
        }
        if x == u32::MAX {
            break;
        }
        x += 1;
    }
    out
}

/// Whether two inclusive address ranges overlap.
pub fn ranges_overlap(a: (Ipv4Addr, Ipv4Addr), b: (Ipv4Addr, Ipv4Addr)) -> bool {
    u32::from(a.0) <= u32::from(b.1) && u32::from(b.0) <= u32::from(a.1)
}

/// A locally administered unicast MAC from 32 random bits (the server draws them; the
/// database refuses duplicates and it draws again).
pub fn mac_from(bits: u32) -> String {
    let b = bits.to_be_bytes();
    format!("02:00:{:02x}:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2], b[3])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vni_is_the_lowest_free_across_ranges() {
        let used: BTreeSet<u32> = [5000, 5001, 5003].into_iter().collect();
        assert_eq!(pick_vni(&[(5000, 5010)], &used), Some(5002));
        let full: BTreeSet<u32> = (5000..=5002).collect();
        assert_eq!(pick_vni(&[(7000, 7001), (5000, 5002)], &full), Some(7000));
        assert_eq!(pick_vni(&[(5000, 5002)], &full), None);
        assert_eq!(pick_vni(&[], &full), None);
    }

    #[test]
    fn free_addresses_skip_used_and_reserved() {
        let used: BTreeSet<Ipv4Addr> = [Ipv4Addr::new(10, 0, 0, 2)].into_iter().collect();
        let got = free_addresses(
            Ipv4Addr::new(10, 0, 0, 1),
            Ipv4Addr::new(10, 0, 0, 5),
            &used,
            &[Ipv4Addr::new(10, 0, 0, 1)],
            2,
        );
        assert_eq!(
            got,
            vec![Ipv4Addr::new(10, 0, 0, 3), Ipv4Addr::new(10, 0, 0, 4)]
        );
        let top = free_addresses(
            Ipv4Addr::new(255, 255, 255, 255),
            Ipv4Addr::new(255, 255, 255, 255),
            &BTreeSet::new(),
            &[],
            4,
        );
        assert_eq!(top.len(), 1);
    }

    #[test]
    fn overlap_and_macs() {
        let r = |a: u8, b: u8| (Ipv4Addr::new(1, 0, 0, a), Ipv4Addr::new(1, 0, 0, b));
        assert!(ranges_overlap(r(1, 10), r(10, 20)));
        assert!(!ranges_overlap(r(1, 9), r(10, 20)));
        assert_eq!(mac_from(0x0a0b0c0d), "02:00:0a:0b:0c:0d");
    }
}

/// `ranges` less every id of `cut` (inclusive ranges in, inclusive ranges out; dedicated VNI
/// ranges taken out of a zone's).
pub fn subtract_ranges(ranges: &[(u32, u32)], cut: &[(u32, u32)]) -> Vec<(u32, u32)> {
    let mut out: Vec<(u32, u32)> = ranges.to_vec();
    for &(c0, c1) in cut {
        out = out
            .into_iter()
            .flat_map(|(a, b)| {
                let mut parts = Vec::new();
                if c1 < a || c0 > b {
                    parts.push((a, b));
                } else {
                    if c0 > a {
                        parts.push((a, c0 - 1));
                    }
                    if c1 < b {
                        parts.push((c1 + 1, b));
                    }
                }
                parts
            })
            .collect();
    }
    out
}

#[cfg(test)]
mod subtract_tests {
    use super::subtract_ranges;

    #[test]
    fn dedicated_ranges_come_out_of_the_zones() {
        assert_eq!(
            subtract_ranges(&[(100, 200)], &[(120, 130)]),
            vec![(100, 119), (131, 200)]
        );
        assert_eq!(
            subtract_ranges(&[(100, 200)], &[(50, 150)]),
            vec![(151, 200)]
        );
        assert_eq!(subtract_ranges(&[(100, 200)], &[(100, 200)]), vec![]);
        assert_eq!(
            subtract_ranges(&[(100, 200), (300, 310)], &[(305, 400), (0, 99)]),
            vec![(100, 200), (300, 304)]
        );
        assert_eq!(
            subtract_ranges(&[(0, u32::MAX)], &[(0, 0), (u32::MAX, u32::MAX)]),
            vec![(1, u32::MAX - 1)]
        );
    }
}
