//! The compiler: a host's desired data-plane configuration from the network state.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::render;
use crate::state::*;

/// VXLAN's IANA port.
pub const VXLAN_PORT: u16 = 4789;

/// How a bridge reaches the other hosts of its segment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Link {
    /// A VXLAN device with head-end replication to `peers` (the other hosts with this network).
    Vxlan {
        dev: String,
        vni: u32,
        local: Ipv4Addr,
        port: u16,
        peers: Vec<Ipv4Addr>,
    },
    /// An 802.1Q sub-interface of the host's uplink.
    Vlan { dev: String, id: u16 },
    /// The public network: the host's uplink bridge (tagged when the range has a VLAN).
    Public { vlan: Option<u16> },
    /// Only this host (no isolation id yet).
    Local,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bridge {
    pub name: String,
    /// `None` for the public bridge.
    pub network_id: Option<Uuid>,
    pub link: Link,
    pub mtu: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tap {
    pub name: String,
    pub bridge: String,
    pub vm_id: Uuid,
    pub nic_id: Uuid,
    pub mac: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interface {
    /// The name inside the router's namespace: `guest`, `public` or `control`.
    pub name: String,
    /// The host bridge its peer end joins (`None` for the control link to the host).
    pub bridge: Option<String>,
    pub mac: Option<String>,
    pub addresses: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    pub destination: Cidr,
    pub via: Option<Ipv4Addr>,
    pub dev: Option<String>,
    pub metric: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub mac: String,
    pub ip: Ipv4Addr,
    pub hostname: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VpnDesired {
    pub ipsec_conf: String,
    pub ipsec_secrets: String,
    pub xl2tpd_conf: String,
    pub chap_secrets: String,
}

/// Adds the static routes kept under `key` (a network, or a VPC) and orders the router's
/// routes: the longest prefix first, then the lowest metric.
pub(crate) fn static_routes(st: &NetState, key: Uuid, routes: &mut Vec<Route>) {
    routes.extend(
        st.routes
            .iter()
            .filter(|s| s.network_id == key)
            .map(|s| Route {
                destination: s.destination,
                via: s.next_hop,
                dev: s.interface.clone(),
                metric: s.metric,
            }),
    );
    routes.sort_by(|a, b| {
        b.destination
            .len
            .cmp(&a.destination.len)
            .then(a.metric.cmp(&b.metric))
            .then(a.destination.addr.cmp(&b.destination.addr))
            .then(a.via.cmp(&b.via))
    });
}

/// One virtual router: everything its namespace runs, as files and lists.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouterDesired {
    pub router_id: Uuid,
    pub network_id: Uuid,
    pub namespace: String,
    pub interfaces: Vec<Interface>,
    /// Longest prefix first, then lowest metric.
    pub routes: Vec<Route>,
    pub leases: Vec<Lease>,
    /// `(fqdn, address)`.
    pub dns: Vec<(String, Ipv4Addr)>,
    pub dnsmasq_conf: String,
    pub nftables: String,
    pub haproxy_cfg: Option<String>,
    /// Files haproxy reads next to its configuration (the PEM of each TLS-terminating load
    /// balancer: `<lb>.pem`, private key included — the agent writes them mode 0600).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub haproxy_files: BTreeMap<String, String>,
    pub vpn: Option<VpnDesired>,
    /// A VPC router's site-to-site VPN connections.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s2s: Option<crate::s2s::S2sDesired>,
    /// The router's guest address: its data server (port 80) and password server (8080).
    pub data_address: Ipv4Addr,
    /// A VPC router's: every tier's gateway (then `data_address` is unused). One listener per
    /// gateway, not one on 0.0.0.0, so an internal load balancer may listen on port 80 of
    /// another address of the router.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data_addresses: Vec<Ipv4Addr>,
    /// What the data and password servers tell each guest, by address.
    #[serde(default)]
    pub guests: Vec<crate::GuestData>,
}

/// Everything one host must have: the agent applies it idempotently.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostDesired {
    pub host_id: Uuid,
    pub bridges: Vec<Bridge>,
    pub taps: Vec<Tap>,
    /// The nftables ruleset of the security groups of this host's VMs (one atomic
    /// transaction: it deletes and recreates `table bridge canopy_sg`); `None` when no VM
    /// here is on a network that enforces security groups.
    pub security: Option<String>,
    pub routers: Vec<RouterDesired>,
}

impl HostDesired {
    /// The digest the server compares to decide whether to push a new generation.
    pub fn digest(&self) -> String {
        crate::digest(serde_json::to_string(self).unwrap_or_default().as_bytes())
    }
}

/// The last `n` hex digits of an id (random in a v4 UUID): short names for interfaces, chains
/// and namespaces.
pub(crate) fn short(id: Uuid, n: usize) -> String {
    let s = id.simple().to_string();
    s[s.len() - n..].to_string()
}

fn hex8(id: Uuid) -> String {
    short(id, 8)
}

/// A tap's name: `vt` + 10 hex digits of the NIC id (15 bytes is the kernel's limit; 40 random
/// bits make a clash between two NICs of one host about one in a million at 1,000 NICs).
pub fn tap_name(nic: Uuid) -> String {
    format!("vt{}", short(nic, 10))
}

/// A guest network's bridge: by VNI/VLAN when it has one, else by id.
pub fn bridge_name(n: &Network) -> String {
    match n.isolation {
        Isolation::Vxlan(v) => format!("cbr{v}"),
        Isolation::Vlan(v) => format!("cbv{v}"),
        Isolation::None => format!("cbn{}", hex8(n.id)),
    }
}

pub fn public_bridge(vlan: Option<u16>) -> String {
    match vlan {
        Some(v) => format!("cpub{v}"),
        None => "cpub".to_string(),
    }
}

/// The namespace of a router: `r-` + 8 hex digits of its id.
pub fn namespace(router: Uuid) -> String {
    format!("r-{}", hex8(router))
}

/// Indexes over a [`NetState`], built once and shared by every host compiled from it (so a
/// round over N hosts costs O(N), not O(N²)).
pub struct Index<'a> {
    pub(crate) st: &'a NetState,
    pub(crate) networks: BTreeMap<Uuid, &'a Network>,
    pub(crate) hosts: BTreeMap<Uuid, Ipv4Addr>,
    pub(crate) groups: BTreeMap<Uuid, &'a SecurityGroup>,
    /// Network → the hosts where it is present (running VMs, running router).
    network_hosts: BTreeMap<Uuid, BTreeSet<Uuid>>,
    /// Host → the NICs of the VMs running there.
    nics_on: BTreeMap<Uuid, Vec<&'a Nic>>,
    /// Network → its NICs (any VM state).
    pub(crate) nics_of: BTreeMap<Uuid, Vec<&'a Nic>>,
    /// Group → its members' addresses, sorted.
    pub(crate) members: BTreeMap<Uuid, Vec<Ipv4Addr>>,
}

impl<'a> Index<'a> {
    pub fn new(st: &'a NetState) -> Self {
        let mut network_hosts: BTreeMap<Uuid, BTreeSet<Uuid>> = BTreeMap::new();
        let mut nics_on: BTreeMap<Uuid, Vec<&Nic>> = BTreeMap::new();
        let mut nics_of: BTreeMap<Uuid, Vec<&Nic>> = BTreeMap::new();
        let mut members: BTreeMap<Uuid, Vec<Ipv4Addr>> = BTreeMap::new();
        for n in &st.nics {
            if let Some(h) = n.host_id {
                network_hosts.entry(n.network_id).or_default().insert(h);
                nics_on.entry(h).or_default().push(n);
            }
            nics_of.entry(n.network_id).or_default().push(n);
            if let Some(ip) = n.ip {
                for g in &n.security_groups {
                    members.entry(*g).or_default().push(ip);
                }
            }
        }
        for r in st.routers.iter().filter(|r| r.running) {
            if let Some(h) = r.host_id {
                network_hosts.entry(r.network_id).or_default().insert(h);
                // A VPC's router is on every tier of the VPC.
                if let Some(v) = r.vpc_id {
                    for n in st.networks.iter().filter(|n| n.vpc_id == Some(v)) {
                        network_hosts.entry(n.id).or_default().insert(h);
                    }
                }
            }
        }
        for m in members.values_mut() {
            m.sort_unstable();
            m.dedup();
        }
        Index {
            st,
            networks: st.networks.iter().map(|n| (n.id, n)).collect(),
            hosts: st.hosts.iter().map(|h| (h.id, h.address)).collect(),
            groups: st.security_groups.iter().map(|g| (g.id, g)).collect(),
            network_hosts,
            nics_on,
            nics_of,
            members,
        }
    }
}

/// Every host the state gives something to (running VMs or routers): the hosts whose
/// configuration the server compiles after a change to this state.
pub fn involved_hosts(st: &NetState) -> BTreeSet<Uuid> {
    st.nics
        .iter()
        .filter_map(|n| n.host_id)
        .chain(
            st.routers
                .iter()
                .filter(|r| r.running)
                .filter_map(|r| r.host_id),
        )
        .collect()
}

/// The desired configuration of `host`.
pub fn compile_host(st: &NetState, host: Uuid) -> HostDesired {
    compile_indexed(&Index::new(st), host)
}

/// The desired configurations of several hosts of one state (the index is built once).
pub fn compile_hosts(st: &NetState, hosts: &[Uuid]) -> Vec<HostDesired> {
    let ix = Index::new(st);
    hosts.iter().map(|h| compile_indexed(&ix, *h)).collect()
}

fn compile_indexed(ix: &Index, host: Uuid) -> HostDesired {
    let st = ix.st;
    let local = ix
        .hosts
        .get(&host)
        .copied()
        .unwrap_or(Ipv4Addr::UNSPECIFIED);
    let mut nics: Vec<&Nic> = ix.nics_on.get(&host).cloned().unwrap_or_default();
    nics.sort_by_key(|n| (n.vm_id, n.id));
    let mut routers: Vec<&Router> = st
        .routers
        .iter()
        .filter(|r| r.host_id == Some(host) && r.running)
        .collect();
    routers.sort_by_key(|r| r.id);

    let mut nets: BTreeSet<Uuid> = nics.iter().map(|n| n.network_id).collect();
    nets.extend(routers.iter().map(|r| r.network_id));
    for v in routers.iter().filter_map(|r| r.vpc_id) {
        nets.extend(crate::vpc::tiers(ix, v).iter().map(|t| t.id));
    }
    let mut bridges = Vec::new();
    for id in &nets {
        let Some(n) = ix.networks.get(id) else {
            continue;
        };
        let link = match n.isolation {
            Isolation::Vxlan(vni) => {
                let mut peers: Vec<Ipv4Addr> = ix
                    .network_hosts
                    .get(&n.id)
                    .into_iter()
                    .flatten()
                    .copied()
                    .filter(|h| *h != host)
                    .filter_map(|h| ix.hosts.get(&h).copied())
                    .collect();
                peers.sort_unstable();
                peers.dedup();
                Link::Vxlan {
                    dev: format!("cvx{vni}"),
                    vni,
                    local,
                    port: VXLAN_PORT,
                    peers,
                }
            }
            Isolation::Vlan(v) => Link::Vlan {
                dev: format!("cvl{v}"),
                id: v,
            },
            Isolation::None => Link::Local,
        };
        bridges.push(Bridge {
            name: bridge_name(n),
            network_id: Some(n.id),
            link,
            mtu: n.mtu,
        });
    }
    let publics: BTreeSet<Option<u16>> = routers
        .iter()
        .filter_map(|r| r.public.as_ref().map(|p| p.vlan))
        .collect();
    for vlan in publics {
        bridges.push(Bridge {
            name: public_bridge(vlan),
            network_id: None,
            link: Link::Public { vlan },
            mtu: 1500,
        });
    }

    let taps = nics
        .iter()
        .filter_map(|n| {
            let net = ix.networks.get(&n.network_id)?;
            Some(Tap {
                name: tap_name(n.id),
                bridge: bridge_name(net),
                vm_id: n.vm_id,
                nic_id: n.id,
                mac: n.mac.to_lowercase(),
            })
        })
        .collect();

    let guarded: Vec<&Nic> = nics
        .iter()
        .copied()
        .filter(|n| {
            ix.networks
                .get(&n.network_id)
                .is_some_and(|net| net.security_groups)
        })
        .collect();
    let security = (!guarded.is_empty()).then(|| render::security_ruleset(ix, &guarded));

    let routers = routers
        .into_iter()
        .filter_map(|r| compile_router(ix, r))
        .collect();
    HostDesired {
        host_id: host,
        bridges,
        taps,
        security,
        routers,
    }
}

/// A router's public interface (its address and every other public IP it answers for) with
/// the default route through the public gateway, and its control interface — the same for a
/// network's router and a VPC's.
pub(crate) fn outer_side(
    r: &Router,
    ips: &[&PublicIp],
    interfaces: &mut Vec<Interface>,
    routes: &mut Vec<Route>,
) {
    if let Some(p) = &r.public {
        let mut addrs = vec![format!("{}/{}", p.ip, p.prefix)];
        addrs.extend(
            ips.iter()
                .filter(|i| i.address != p.ip)
                .map(|i| format!("{}/{}", i.address, p.prefix)),
        );
        interfaces.push(Interface {
            name: "public".into(),
            bridge: Some(public_bridge(p.vlan)),
            mac: Some(p.mac.to_lowercase()),
            addresses: addrs,
        });
        routes.push(Route {
            destination: Cidr::any(),
            via: Some(p.gateway),
            dev: Some("public".into()),
            metric: 0,
        });
    }
    interfaces.push(Interface {
        name: "control".into(),
        bridge: None,
        mac: None,
        addresses: vec![format!("{}/16", r.link_local_ip)],
    });
}

fn compile_router(ix: &Index, r: &Router) -> Option<RouterDesired> {
    if let Some(v) = r.vpc_id {
        return crate::vpc::compile_vpc_router(ix, r, v);
    }
    let st = ix.st;
    let net = *ix.networks.get(&r.network_id)?;
    let prefix = net.cidr.map(|c| c.len).unwrap_or(24);
    let mut ips: Vec<&PublicIp> = st
        .public_ips
        .iter()
        .filter(|p| p.network_id == net.id)
        .collect();
    ips.sort_by_key(|p| (!p.source_nat, p.address));

    let mut interfaces = vec![Interface {
        name: "guest".into(),
        bridge: Some(bridge_name(net)),
        mac: Some(r.guest_mac.to_lowercase()),
        addresses: vec![format!("{}/{prefix}", r.guest_ip)],
    }];
    let mut routes = Vec::new();
    outer_side(r, &ips, &mut interfaces, &mut routes);

    static_routes(st, net.id, &mut routes);

    let mut nics: Vec<&Nic> = ix
        .nics_of
        .get(&net.id)
        .into_iter()
        .flatten()
        .copied()
        .filter(|n| n.ip.is_some())
        .collect();
    nics.sort_by_key(|n| (n.ip, n.id));
    nics.dedup_by_key(|n| n.ip);
    let leases: Vec<Lease> = nics
        .iter()
        .filter_map(|n| {
            Some(Lease {
                mac: n.mac.to_lowercase(),
                ip: n.ip?,
                hostname: n.vm_name.clone(),
            })
        })
        .collect();
    let domain = net.domain.clone().unwrap_or_else(|| "cs.internal".into());
    let mut dns: Vec<(String, Ipv4Addr)> = leases
        .iter()
        .map(|l| (format!("{}.{domain}", l.hostname), l.ip))
        .collect();
    // cloud-init's CloudStack datasource looks for the data server by this name first.
    dns.push((format!("data-server.{domain}"), r.guest_ip));

    let dnsmasq_conf = render::dnsmasq(net, r, &leases, &domain);
    let on_net: BTreeSet<Ipv4Addr> = leases.iter().map(|l| l.ip).collect();
    let mut guests: Vec<crate::GuestData> = st
        .guests
        .iter()
        .filter(|(n, g)| *n == net.id && on_net.contains(&g.ip))
        .map(|(_, g)| g.clone())
        .collect();
    guests.sort_by_key(|g| (g.ip, g.vm_id));
    guests.dedup_by_key(|g| g.ip);
    let nftables = render::router_ruleset(ix, net, r, &ips);
    let mut lbs: Vec<&LoadBalancer> = st
        .load_balancers
        .iter()
        .filter(|l| ips.iter().any(|i| i.id == l.ip_id))
        .collect();
    lbs.sort_by_key(|l| (l.public_port, l.id));
    let lbs: Vec<(Ipv4Addr, &LoadBalancer)> = lbs
        .into_iter()
        .filter_map(|l| Some((ips.iter().find(|i| i.id == l.ip_id)?.address, l)))
        .collect();
    let haproxy_cfg = (!lbs.is_empty()).then(|| render::haproxy(&lbs));
    let haproxy_files = render::haproxy_files(&lbs);
    // Every load balancer answers to its name in the network's domain.
    let records = render::lb_records(&lbs, &leases, &domain);
    let mut dnsmasq_conf = dnsmasq_conf;
    dnsmasq_conf.push_str(&render::host_records(&records));
    dns.extend(records);
    let vpn = st
        .vpns
        .iter()
        .filter(|v| v.network_id == net.id)
        .min_by_key(|v| v.id)
        .and_then(|v| {
            let ip = ips.iter().find(|i| i.id == v.ip_id)?;
            Some(render::vpn(v, ip.address, r.guest_ip))
        });
    Some(RouterDesired {
        router_id: r.id,
        network_id: net.id,
        namespace: namespace(r.id),
        interfaces,
        routes,
        leases,
        dns,
        dnsmasq_conf,
        nftables,
        haproxy_cfg,
        haproxy_files,
        vpn,
        s2s: None,
        data_address: r.guest_ip,
        data_addresses: Vec::new(),
        guests,
    })
}
