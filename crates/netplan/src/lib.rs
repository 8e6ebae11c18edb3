//! Network planning, pure and deterministic.
//!
//! * [`ipam`]: VNI/VLAN allocation from a physical network's ranges and address picking.
//! * [`state`]: the network state the server reads from its database (networks, NICs and where
//!   their VMs run, routers, security groups, public IPs and the rules on them).
//! * [`compile`]: from that state, the desired configuration of one host — bridges, VXLAN/VLAN
//!   links and their peer lists, taps, the security-group ruleset — and of every virtual router
//!   it runs — interfaces, routes, dnsmasq, nftables, haproxy, VPN. The Linux network driver
//!   applies it; the simulator records it.
//! * [`acl`] and [`vpc`]: network ACL lists (order, moves, chains) and a VPC's router (a
//!   namespace on every tier, the tiers' ACLs in its forward path); [`s2s`] its site-to-site
//!   VPN connections (strongSwan).
//!
//! Everything here is a function of its input: the same state compiles to byte-identical
//! output (the golden tests hold it to that), so the server can tell by a digest whether a
//! host's configuration changed and push a new generation only to the hosts it changed for.

pub mod acl;
pub mod compile;
pub mod ipam;
pub mod nftdelta;
mod render;
pub mod s2s;
pub mod state;
pub mod tags;
pub mod vpc;

pub use compile::{
    compile_host, compile_hosts, involved_hosts, tap_name, Bridge, HostDesired, Index, Link,
    RouterDesired,
};
pub use nftdelta::nft_delta;
pub use render::dns_label;
pub use state::*;
pub use tags::ServiceTag;

/// MD5 of `bytes` in lower-case hex (CloudStack's ACL consistency hash).
pub fn md5_hex(bytes: &[u8]) -> String {
    use md5::Digest;
    md5::Md5::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// FNV-1a, 64 bits: a digest that is stable across builds and toolchains (the server stores
/// it to decide whether a host's compiled configuration changed).
pub fn digest(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}
