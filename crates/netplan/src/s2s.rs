//! Site-to-site VPN on a VPC's router: strongSwan's `swanctl.conf` for the router's
//! connections (IKE with a pre-shared key, one tunnel from the VPC's super CIDR to the peer's
//! subnets), and CloudStack's policy strings in strongSwan's proposal syntax.
//!
//! The router's charon uses userspace ESP (kernel-libipsec: a TUN device, ESP always in UDP
//! 4500), so a host without the kernel's ESP support still carries the tunnels.

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::state::{Cidr, SiteToSite};

/// What a router's strongSwan runs: its configuration and the connections it holds, by the
/// name charon knows each one by ([`conn_name`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct S2sDesired {
    pub swanctl_conf: String,
    pub connections: Vec<Uuid>,
}

/// The name of a connection (and of its IKE SA and child SAs) in charon.
pub fn conn_name(id: Uuid) -> String {
    format!("c{}", id.simple())
}

/// The connection a charon name stands for.
pub fn conn_id(name: &str) -> Option<Uuid> {
    let hex = name.strip_prefix('c')?;
    if hex.len() != 32 {
        return None;
    }
    Uuid::parse_str(hex).ok()
}

const CIPHERS: [&str; 4] = ["3des", "aes128", "aes192", "aes256"];
const HASHES: [&str; 5] = ["md5", "sha1", "sha256", "sha384", "sha512"];
const GROUPS: [&str; 7] = [
    "modp1024", "modp1536", "modp2048", "modp3072", "modp4096", "modp6144", "modp8192",
];

/// A CloudStack IKE or ESP policy (`cipher-hash[;group][,…]`, as NetUtils.isValidS2SVpnPolicy
/// reads it: an IKE policy needs its Diffie-Hellman group) as strongSwan proposals
/// (`cipher-hash[-group][,…]`), or why it is not valid.
pub fn proposals(policy: &str, ike: bool) -> Result<String, String> {
    let mut out = Vec::new();
    for p in policy.split(',') {
        let p = p.trim();
        let (cipher_hash, group) = match p.split_once(';') {
            Some((c, g)) => (c, Some(g)),
            None => (p, None),
        };
        let Some((cipher, hash)) = cipher_hash.split_once('-') else {
            return Err(format!("{p:?} is not cipher-hash[;group]"));
        };
        if !CIPHERS.contains(&cipher) {
            return Err(format!(
                "unknown cipher {cipher:?} (one of {})",
                CIPHERS.join(", ")
            ));
        }
        if !HASHES.contains(&hash) {
            return Err(format!(
                "unknown hash {hash:?} (one of {})",
                HASHES.join(", ")
            ));
        }
        match group {
            Some(g) if !GROUPS.contains(&g) => {
                return Err(format!(
                    "unknown Diffie-Hellman group {g:?} (one of {})",
                    GROUPS.join(", ")
                ))
            }
            None if ike => return Err("the Diffie-Hellman group is required".into()),
            _ => {}
        }
        out.push(match group {
            Some(g) => format!("{cipher}-{hash}-{g}"),
            None => format!("{cipher}-{hash}"),
        });
    }
    if out.is_empty() {
        return Err("no proposal".into());
    }
    Ok(out.join(","))
}

/// The connections of one router, whose outer address is `local` and whose tunnels carry
/// `local_cidr` (the VPC's super CIDR). A connection whose policies do not translate (they
/// were checked when stored) is left out.
pub fn render(conns: &[&SiteToSite], local: Ipv4Addr, local_cidr: Cidr) -> Option<S2sDesired> {
    use base64::Engine as _;
    let mut conns: Vec<&SiteToSite> = conns.to_vec();
    conns.sort_by_key(|c| c.id);
    let mut out = String::from("# Canopy site-to-site VPN (generated)\nconnections {\n");
    let mut secrets = String::from("secrets {\n");
    let mut ids = Vec::new();
    for c in conns {
        let (Ok(ike), Ok(esp)) = (
            proposals(&c.ike_policy, true),
            proposals(&c.esp_policy, false),
        ) else {
            continue;
        };
        if c.peer_cidrs.is_empty() {
            continue;
        }
        let name = conn_name(c.id);
        let version = match c.ike_version.as_str() {
            "ikev1" => 1,
            "ikev2" => 2,
            _ => 0,
        };
        // A peer named by address authenticates as that address; one named by DNS name as
        // whatever it says (the key is the connection's either way).
        let remote_id = match c.peer.parse::<Ipv4Addr>() {
            Ok(a) => a.to_string(),
            Err(_) => "%any".to_string(),
        };
        let _ = writeln!(out, "  {name} {{");
        let _ = writeln!(out, "    version = {version}");
        let _ = writeln!(out, "    local_addrs = {local}");
        let _ = writeln!(out, "    remote_addrs = {}", c.peer);
        let _ = writeln!(out, "    proposals = {ike}");
        let _ = writeln!(out, "    rekey_time = {}s", c.ike_lifetime.max(60));
        // Userspace ESP only travels in UDP: always encapsulated (forceencap or not).
        out.push_str("    encap = yes\n");
        // Initiators retry until the peer answers.
        let _ = writeln!(out, "    keyingtries = {}", if c.passive { 1 } else { 0 });
        if c.dpd {
            out.push_str("    dpd_delay = 30s\n    dpd_timeout = 120s\n");
        }
        let _ = writeln!(
            out,
            "    local {{\n      auth = psk\n      id = {local}\n    }}"
        );
        let _ = writeln!(
            out,
            "    remote {{\n      auth = psk\n      id = {remote_id}\n    }}"
        );
        out.push_str("    children {\n");
        // Split connections: one child per remote subnet (IKEv2 peers that want one SA each).
        let groups: Vec<Vec<Cidr>> = if c.split {
            c.peer_cidrs.iter().map(|x| vec![*x]).collect()
        } else {
            vec![c.peer_cidrs.clone()]
        };
        for (i, g) in groups.iter().enumerate() {
            let child = if i == 0 {
                name.clone()
            } else {
                format!("{name}-{i}")
            };
            let remote: Vec<String> = g.iter().map(|x| x.to_string()).collect();
            let _ = writeln!(out, "      {child} {{");
            let _ = writeln!(out, "        local_ts = {local_cidr}");
            let _ = writeln!(out, "        remote_ts = {}", remote.join(","));
            let _ = writeln!(out, "        esp_proposals = {esp}");
            let _ = writeln!(out, "        rekey_time = {}s", c.esp_lifetime.max(60));
            let action = if c.passive { "none" } else { "start" };
            let _ = writeln!(out, "        start_action = {action}");
            let _ = writeln!(out, "        close_action = {action}");
            if c.dpd {
                out.push_str("        dpd_action = restart\n");
            }
            out.push_str("      }\n");
        }
        out.push_str("    }\n  }\n");
        // Base64 (`0s…`): the key is written whatever characters it holds.
        let key = base64::engine::general_purpose::STANDARD.encode(c.psk.as_bytes());
        let _ = writeln!(
            secrets,
            "  ike-{name} {{\n    id-1 = {local}\n    id-2 = {remote_id}\n    secret = 0s{key}\n  }}"
        );
        ids.push(c.id);
    }
    if ids.is_empty() {
        return None;
    }
    out.push_str("}\n");
    secrets.push_str("}\n");
    out.push_str(&secrets);
    Some(S2sDesired {
        swanctl_conf: out,
        connections: ids,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(passive: bool) -> SiteToSite {
        SiteToSite {
            id: Uuid::from_u128(7),
            vpc_id: Uuid::from_u128(1),
            ip_id: Uuid::from_u128(2),
            peer: "198.51.100.2".into(),
            peer_cidrs: vec![
                "10.2.0.0/16".parse().expect("valid"),
                "10.3.0.0/24".parse().expect("valid"),
            ],
            psk: "s3cret \"quoted\"".into(),
            ike_policy: "aes128-sha1;modp1536".into(),
            esp_policy: "aes256-sha256".into(),
            ike_lifetime: 86400,
            esp_lifetime: 3600,
            dpd: true,
            ike_version: "ikev2".into(),
            passive,
            split: false,
        }
    }

    #[test]
    fn policies_follow_cloudstack_rules() {
        assert_eq!(
            proposals("aes128-sha1;modp1536,aes256-sha256;modp2048", true).expect("valid"),
            "aes128-sha1-modp1536,aes256-sha256-modp2048"
        );
        assert_eq!(
            proposals("aes128-sha1", false).expect("valid"),
            "aes128-sha1"
        );
        assert!(proposals("aes128-sha1", true).is_err(), "IKE needs a group");
        assert!(proposals("blowfish-sha1;modp1024", true).is_err());
        assert!(proposals("aes128-crc;modp1024", true).is_err());
        assert!(proposals("aes128-sha1;modp999", true).is_err());
        assert!(proposals("aes128", false).is_err());
        assert!(proposals("", false).is_err());
        assert!(proposals("aes128-sha1,", false).is_err());
    }

    #[test]
    fn names_round_trip() {
        let id = Uuid::new_v4();
        assert_eq!(conn_id(&conn_name(id)), Some(id));
        assert_eq!(conn_id("c123"), None);
        assert_eq!(conn_id("x"), None);
    }

    #[test]
    fn renders_an_initiator_and_a_responder() {
        let c = conn(false);
        let local: Ipv4Addr = "198.51.100.1".parse().expect("valid");
        let d = render(&[&c], local, "10.1.0.0/16".parse().expect("valid")).expect("valid");
        let s = &d.swanctl_conf;
        assert_eq!(d.connections, vec![c.id]);
        assert!(s.contains("version = 2"), "{s}");
        assert!(s.contains("remote_addrs = 198.51.100.2"));
        assert!(s.contains("proposals = aes128-sha1-modp1536"));
        assert!(s.contains("esp_proposals = aes256-sha256"));
        assert!(s.contains("local_ts = 10.1.0.0/16"));
        assert!(s.contains("remote_ts = 10.2.0.0/16,10.3.0.0/24"));
        assert!(s.contains("start_action = start"));
        assert!(s.contains("dpd_action = restart"));
        // The key is base64: quotes in it cannot end the value.
        assert!(!s.contains("s3cret"));
        assert!(s.contains("secret = 0s"));
        let p =
            render(&[&conn(true)], local, "10.1.0.0/16".parse().expect("valid")).expect("valid");
        assert!(p.swanctl_conf.contains("start_action = none"));
        let mut split = conn(false);
        split.split = true;
        let sp = render(&[&split], local, "10.1.0.0/16".parse().expect("valid")).expect("valid");
        assert!(sp.swanctl_conf.contains("remote_ts = 10.3.0.0/24"));
        assert!(sp
            .swanctl_conf
            .contains(&format!("{}-1 {{", conn_name(split.id))));
        // Same input, same bytes.
        assert_eq!(
            render(&[&c], local, "10.1.0.0/16".parse().expect("valid")),
            Some(d)
        );
    }

    #[test]
    fn nothing_to_run_without_valid_connections() {
        let mut c = conn(false);
        c.ike_policy = "nonsense".into();
        let local: Ipv4Addr = "198.51.100.1".parse().expect("valid");
        assert_eq!(
            render(&[&c], local, "10.1.0.0/16".parse().expect("valid")),
            None
        );
        assert_eq!(
            render(&[], local, "10.1.0.0/16".parse().expect("valid")),
            None
        );
    }
}
