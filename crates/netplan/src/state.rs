//! The input of the compiler: the part of the cloud's network state that decides what hosts
//! and routers must do. The server fills it from its database; tests build it by hand.

use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// An IPv4 prefix, always normalised to its network address (`10.1.1.7/24` → `10.1.1.0/24`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cidr {
    pub addr: Ipv4Addr,
    pub len: u8,
}

impl Cidr {
    pub fn new(addr: Ipv4Addr, len: u8) -> Option<Cidr> {
        (len <= 32).then(|| Cidr {
            addr: Ipv4Addr::from(u32::from(addr) & Self::mask_bits(len)),
            len,
        })
    }
    fn mask_bits(len: u8) -> u32 {
        u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0)
    }
    pub fn netmask(&self) -> Ipv4Addr {
        Ipv4Addr::from(Self::mask_bits(self.len))
    }
    /// Whether the two prefixes share an address (one contains the other's network).
    pub fn overlaps(&self, other: &Cidr) -> bool {
        self.contains(other.addr) || other.contains(self.addr)
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & Self::mask_bits(self.len) == u32::from(self.addr)
    }
    /// The first and last addresses usable by hosts (network and broadcast excluded when the
    /// prefix has them).
    pub fn hosts(&self) -> (Ipv4Addr, Ipv4Addr) {
        let net = u32::from(self.addr);
        let bcast = net | !Self::mask_bits(self.len);
        if self.len >= 31 {
            (Ipv4Addr::from(net), Ipv4Addr::from(bcast))
        } else {
            (Ipv4Addr::from(net + 1), Ipv4Addr::from(bcast - 1))
        }
    }
    pub fn any() -> Cidr {
        Cidr {
            addr: Ipv4Addr::UNSPECIFIED,
            len: 0,
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{0:?} is not an IPv4 CIDR (a.b.c.d/len)")]
pub struct BadCidr(pub String);

impl FromStr for Cidr {
    type Err = BadCidr;
    fn from_str(s: &str) -> Result<Cidr, BadCidr> {
        let bad = || BadCidr(s.to_string());
        let t = s.trim();
        let (ip, len) = match t.split_once('/') {
            Some((ip, len)) => (ip, len.parse::<u8>().map_err(|_| bad())?),
            None => (t, 32),
        };
        let ip: Ipv4Addr = ip.parse().map_err(|_| bad())?;
        Cidr::new(ip, len).ok_or_else(bad)
    }
}

impl Serialize for Cidr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Cidr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Cidr, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// How a guest network's L2 segment spans hosts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "kind", content = "id")]
pub enum Isolation {
    /// A VXLAN segment (the default on these machines: their kernels have no 802.1Q).
    Vxlan(u32),
    /// An 802.1Q VLAN on the host's uplink.
    Vlan(u16),
    /// Not yet isolated (a network that was never implemented) or untagged.
    None,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum GuestType {
    Isolated,
    Shared,
    L2,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Host {
    pub id: Uuid,
    /// The underlay address VXLAN tunnels of other hosts point at.
    pub address: Ipv4Addr,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    pub id: Uuid,
    pub name: String,
    pub guest_type: GuestType,
    pub isolation: Isolation,
    pub cidr: Option<Cidr>,
    pub gateway: Option<Ipv4Addr>,
    /// The DNS domain VM names resolve in (`networkdomain`).
    pub domain: Option<String>,
    /// Upstream resolvers the router forwards to (the zone's dns1/dns2).
    pub dns: Vec<Ipv4Addr>,
    /// The network offering's `egressdefaultpolicy`: true = egress allowed unless a rule
    /// denies it; false = denied unless a rule allows it.
    pub egress_default_allow: bool,
    /// Security groups are enforced on this network's NICs (basic zones, shared networks
    /// with the SecurityGroup service).
    pub security_groups: bool,
    pub mtu: u32,
    /// The VPC this network is a tier of (its router is the VPC's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<Uuid>,
    /// A tier's network ACL list ([`NetState::acls`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acl: Option<Uuid>,
    /// Set when this network is a VPC's private gateway: the segment (VNI) the VPC router
    /// joins with its own address there; `gateway` is the next hop on the other side.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_gateway: Option<PrivateGateway>,
}

/// A VPC's private gateway (`createPrivateGateway`): the router's address on the segment and
/// whether traffic from the VPC leaving through it is source-NATed to that address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivateGateway {
    pub address: Ipv4Addr,
    pub source_nat: bool,
}

/// A VM's NIC and where the VM runs now (`host_id` is `None` for a stopped VM).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nic {
    pub id: Uuid,
    pub vm_id: Uuid,
    /// The VM's host name (what DHCP hands out and DNS resolves).
    pub vm_name: String,
    pub network_id: Uuid,
    pub host_id: Option<Uuid>,
    pub ip: Option<Ipv4Addr>,
    pub mac: String,
    pub is_default: bool,
    /// The VM's security groups (applied when the network enforces them).
    pub security_groups: Vec<Uuid>,
    /// Its secondary addresses (addIpToNic): the VM may send from them too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secondary_ips: Vec<Ipv4Addr>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouterPublic {
    pub ip: Ipv4Addr,
    pub prefix: u8,
    pub gateway: Ipv4Addr,
    pub mac: String,
    /// The public range's VLAN; `None` = untagged.
    pub vlan: Option<u16>,
}

/// A network's virtual router (a namespace on `host_id`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Router {
    pub id: Uuid,
    pub name: String,
    pub network_id: Uuid,
    pub host_id: Option<Uuid>,
    /// Whether it should run (stopRouter keeps the row, removes it from the host).
    pub running: bool,
    pub guest_ip: Ipv4Addr,
    pub guest_mac: String,
    pub link_local_ip: Ipv4Addr,
    pub public: Option<RouterPublic>,
    /// Set on a VPC's router: `network_id` is then the VPC's id and the router serves every
    /// implemented tier of the VPC (`guest_ip`/`guest_mac` are unused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<Uuid>,
}

/// A virtual private cloud: its tiers are the networks with its id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vpc {
    pub id: Uuid,
    pub name: String,
    /// The super CIDR (source NAT covers it).
    pub cidr: Cidr,
    /// The DNS domain VM names of every tier resolve in.
    pub domain: Option<String>,
    /// Upstream resolvers.
    pub dns: Vec<Ipv4Addr>,
}

/// A network ACL list and its items (any order: the compiler orders them).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AclList {
    pub id: Uuid,
    pub items: Vec<crate::acl::Item>,
}

/// What a router's data and password servers tell one guest (CloudStack's VM data: the
/// server builds it from the VM's row; the router serves it to the guest's address only).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuestData {
    pub vm_id: Uuid,
    /// The guest's address on the router's network (how the servers know it).
    pub ip: Ipv4Addr,
    /// `latest/meta-data/<key>` → value.
    pub metadata: BTreeMap<String, String>,
    /// The user data as the API took it (base64); served decoded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_data: Option<String>,
    /// A password the guest has not acknowledged yet (password-enabled templates).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
    Icmp,
    All,
    /// An IP protocol number (security groups accept them).
    Number(u8),
}

/// A security-group rule: traffic from (ingress) or to (egress) the CIDRs and the members of
/// the groups, on a protocol and port range or ICMP type/code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SgRule {
    pub id: Uuid,
    pub protocol: Protocol,
    pub start_port: Option<u16>,
    pub end_port: Option<u16>,
    /// `None` or -1 = any.
    pub icmp_type: Option<i32>,
    pub icmp_code: Option<i32>,
    pub cidrs: Vec<Cidr>,
    pub groups: Vec<Uuid>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityGroup {
    pub id: Uuid,
    pub name: String,
    pub ingress: Vec<SgRule>,
    pub egress: Vec<SgRule>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicIp {
    pub id: Uuid,
    pub address: Ipv4Addr,
    /// The guest network it is associated with (its router answers for it).
    pub network_id: Uuid,
    pub source_nat: bool,
    /// Static NAT: the guest address every port of this IP maps to.
    pub static_nat: Option<Ipv4Addr>,
}

/// An ingress firewall rule on a public IP (or, with `network_id` on the egress list, an
/// egress rule of a guest network).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirewallRule {
    pub id: Uuid,
    pub ip_id: Uuid,
    pub protocol: Protocol,
    pub start_port: Option<u16>,
    pub end_port: Option<u16>,
    pub icmp_type: Option<i32>,
    pub icmp_code: Option<i32>,
    pub cidrs: Vec<Cidr>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EgressRule {
    pub id: Uuid,
    pub network_id: Uuid,
    pub protocol: Protocol,
    pub start_port: Option<u16>,
    pub end_port: Option<u16>,
    pub icmp_type: Option<i32>,
    pub icmp_code: Option<i32>,
    /// Guest sources (empty = the whole network).
    pub cidrs: Vec<Cidr>,
    /// Destinations (empty = anywhere).
    pub dest_cidrs: Vec<Cidr>,
    /// Destinations named by service tags ([`NetState::service_tags`]), besides `dest_cidrs`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dest_tags: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortForward {
    pub id: Uuid,
    pub ip_id: Uuid,
    pub protocol: Protocol,
    pub public_start: u16,
    pub public_end: u16,
    pub private_start: u16,
    pub private_end: u16,
    pub dest: Ipv4Addr,
    pub cidrs: Vec<Cidr>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    Roundrobin,
    Leastconn,
    Source,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stickiness {
    /// `LbCookie`, `AppCookie` or `SourceBased`.
    pub method: String,
    pub name: String,
    pub params: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthCheck {
    pub ping_path: String,
    pub interval_s: u32,
    pub timeout_s: u32,
    pub healthy: u32,
    pub unhealthy: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadBalancer {
    pub id: Uuid,
    pub name: String,
    pub ip_id: Uuid,
    /// `tcp`, `udp`, `tcp-proxy` or `ssl`.
    pub protocol: String,
    pub public_port: u16,
    pub private_port: u16,
    pub algorithm: Algorithm,
    /// Guest addresses of the assigned VMs.
    pub members: Vec<Ipv4Addr>,
    pub cidrs: Vec<Cidr>,
    pub stickiness: Option<Stickiness>,
    pub health_check: Option<HealthCheck>,
    /// `ssl` rules with a certificate (assignCertToLoadBalancer): the PEM certificate, its
    /// chain and its private key, in the file haproxy terminates TLS with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_pem: Option<String>,
}

/// An internal load balancer (CloudStack's `createLoadBalancer scheme=Internal`): haproxy on
/// the VPC router answers on `address`, an address of the tier `network_id` the router takes
/// as its own, reachable only from inside the VPC. `lb.ip_id` is unused (nil); `public_port`
/// is the source port, `private_port` the instance port; always TCP.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InternalLb {
    pub lb: LoadBalancer,
    pub network_id: Uuid,
    pub address: Ipv4Addr,
}

/// A static route on a network's router: the longest prefix wins, then the lowest metric.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaticRoute {
    pub id: Uuid,
    pub network_id: Uuid,
    pub destination: Cidr,
    pub next_hop: Option<Ipv4Addr>,
    /// `guest` or `public` (the router's interfaces), or none to let the next hop decide.
    pub interface: Option<String>,
    pub metric: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VpnUser {
    pub username: String,
    pub password: String,
}

/// L2TP/IPsec remote access on a public IP of the network.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteAccessVpn {
    pub id: Uuid,
    pub ip_id: Uuid,
    pub network_id: Uuid,
    pub range_start: Ipv4Addr,
    pub range_end: Ipv4Addr,
    pub preshared_key: String,
    pub users: Vec<VpnUser>,
}

/// A site-to-site VPN connection of a VPC (its router runs it, from the VPC's address `ip_id`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteToSite {
    pub id: Uuid,
    pub vpc_id: Uuid,
    pub ip_id: Uuid,
    /// The customer gateway: an address or a DNS name.
    pub peer: String,
    pub peer_cidrs: Vec<Cidr>,
    pub psk: String,
    /// CloudStack's policy strings (`aes128-sha1;modp1536`).
    pub ike_policy: String,
    pub esp_policy: String,
    pub ike_lifetime: u32,
    pub esp_lifetime: u32,
    pub dpd: bool,
    /// `ike`, `ikev1` or `ikev2`.
    pub ike_version: String,
    /// Waits for the peer to initiate.
    pub passive: bool,
    /// One child SA per peer subnet.
    pub split: bool,
}

/// Everything the compiler reads. Lists need not be sorted: the compiler orders its output.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetState {
    /// What routers' data servers tell each guest: `(network, data)`.
    pub guests: Vec<(Uuid, GuestData)>,
    pub hosts: Vec<Host>,
    pub networks: Vec<Network>,
    pub nics: Vec<Nic>,
    pub routers: Vec<Router>,
    pub security_groups: Vec<SecurityGroup>,
    pub public_ips: Vec<PublicIp>,
    pub firewall_rules: Vec<FirewallRule>,
    pub egress_rules: Vec<EgressRule>,
    pub port_forwards: Vec<PortForward>,
    pub load_balancers: Vec<LoadBalancer>,
    #[serde(default)]
    pub internal_lbs: Vec<InternalLb>,
    pub routes: Vec<StaticRoute>,
    pub vpns: Vec<RemoteAccessVpn>,
    #[serde(default)]
    pub vpcs: Vec<Vpc>,
    #[serde(default)]
    pub acls: Vec<AclList>,
    /// Site-to-site VPN connections of the VPCs.
    #[serde(default)]
    pub s2s: Vec<SiteToSite>,
    /// The service tags the ACL items name (with their members).
    #[serde(default)]
    pub service_tags: Vec<crate::tags::ServiceTag>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_normalise_and_round_trip() {
        let c: Cidr = "10.1.1.7/24".parse().expect("cidr");
        assert_eq!(c.to_string(), "10.1.1.0/24");
        assert_eq!(c.netmask(), Ipv4Addr::new(255, 255, 255, 0));
        assert!(c.contains(Ipv4Addr::new(10, 1, 1, 200)));
        assert!(!c.contains(Ipv4Addr::new(10, 1, 2, 1)));
        assert_eq!(
            c.hosts(),
            (Ipv4Addr::new(10, 1, 1, 1), Ipv4Addr::new(10, 1, 1, 254))
        );
        assert_eq!("1.2.3.4".parse::<Cidr>().expect("host").len, 32);
        assert!("1.2.3.4/33".parse::<Cidr>().is_err());
        assert!("nope/8".parse::<Cidr>().is_err());
        assert_eq!(Cidr::any().to_string(), "0.0.0.0/0");
        let j = serde_json::to_string(&c).expect("json");
        assert_eq!(j, "\"10.1.1.0/24\"");
        assert_eq!(serde_json::from_str::<Cidr>(&j).expect("back"), c);
    }
}
