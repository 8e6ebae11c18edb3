//! Reading what a round needs from the database into a `netplan::NetState`: the hosts' VMs
//! and routers, every NIC of their networks, security groups, their rules and member sets, the
//! routers' public IPs and rules, hosts' underlay addresses, offerings and zones. The guests'
//! data (`guests`) and the routers' rules (`rules`) are built in their own modules.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use db::attrs::{NetworkOfferingAttrs, PhysicalNetworkAttrs, ZoneAttrs};
use db::Attrs;
use model::{HostId, NetworkId, VmId};
use netplan::NetState;
use uuid::Uuid;

use super::guests::{add_guest_data, read_guests, Guest};
use super::rules::{add_router_rules, cidrs, int, port, protocol};
use super::tags::{read_service_tags, split_sources};
use super::ON_HOST;
use crate::core::Core;
use crate::error::DomainResult;

// ---------------------------------------------------------------------------------------
// Loading the state

/// The underlay address other hosts' VXLAN tunnels point at: the host's address, or for a
/// simulated host (whose address is a name) a stable one in 100.64.0.0/10 from its id.
fn underlay(h: &db::HostRow) -> Ipv4Addr {
    if let Ok(a) = h.address.parse::<Ipv4Addr>() {
        return a;
    }
    let b = h.id.0.as_bytes();
    Ipv4Addr::new(100, 64 | (b[13] & 0x3f), b[14], b[15])
}

/// The (gateway/prefix) of a network's public range for a router's public interface.
fn prefix_of(mask: &str) -> u8 {
    mask.parse::<Ipv4Addr>()
        .ok()
        .and_then(model::net::prefix_len)
        .unwrap_or(24)
}

fn vlan_of(v: &Option<String>) -> Option<u16> {
    v.as_deref()
        .map(|s| s.trim_start_matches("vlan://"))
        .and_then(|s| s.parse().ok())
}

/// What a round reads from the database: the rows the network state is built from.
#[derive(Default)]
pub(super) struct Rows {
    /// Every NIC of the networks concerned (and of the VMs in the security groups named).
    pub(super) nics: Vec<db::NetNic>,
    pub(super) networks: Vec<db::NetworkRow>,
    /// Every router of those networks.
    pub(super) routers: Vec<db::RouterRow>,
    /// The networks whose routers run on the hosts of the round.
    pub(super) router_networks: Vec<NetworkId>,
    pub(super) security: Security,
    pub(super) router_side: RouterSide,
    pub(super) hosts: Vec<db::HostRow>,
    pub(super) offerings: BTreeMap<Uuid, db::InfraRow>,
    pub(super) zones: BTreeMap<Uuid, db::InfraRow>,
    /// Zones whose physical networks isolate with 802.1Q VLANs (and not VXLAN).
    pub(super) vlan_zones: BTreeSet<Uuid>,
    /// The VMs on the networks of the routers here, with what their data servers tell them.
    pub(super) guests: Vec<Guest>,
    /// NIC id → its secondary addresses (addIpToNic).
    pub(super) secondary: BTreeMap<Uuid, Vec<Ipv4Addr>>,
    /// The VPCs of the tiers concerned.
    pub(super) vpcs: Vec<db::VpcRow>,
    /// The items of the tiers' network ACL lists (parent = the list).
    pub(super) acl_items: Vec<db::RuleRow>,
    /// The service tags those items name.
    pub(super) service_tags: Vec<netplan::ServiceTag>,
}

/// Security groups: the groups of the VMs here and those their rules name, the groups'
/// rules, and each VM's groups.
#[derive(Default)]
pub(super) struct Security {
    pub(super) groups: Vec<db::RuleRow>,
    pub(super) rules: Vec<db::RuleRow>,
    pub(super) vm_groups: BTreeMap<VmId, Vec<Uuid>>,
}

/// What the routers here serve: public IPs, rules, load balancer members and policies, VPN
/// users.
#[derive(Default)]
pub(super) struct RouterSide {
    pub(super) ips: Vec<db::PublicIpRow>,
    pub(super) rules: Vec<db::RuleRow>,
    pub(super) lb_members: Vec<db::MemberRow>,
    pub(super) lb_policies: Vec<db::RuleRow>,
    pub(super) vpn_users: Vec<db::RuleRow>,
    /// Site-to-site VPN connections of the VPC routers here.
    pub(super) s2s: Vec<super::s2s::Row>,
    /// Certificate id → the PEM haproxy terminates TLS with (certificate, chain, private key).
    pub(super) tls: BTreeMap<Uuid, String>,
}

/// The network state the hosts' configurations are compiled from.
pub(super) async fn load_state(st: &Core, hosts: &[HostId]) -> DomainResult<NetState> {
    let rows = read_rows(st, hosts).await?;
    let mut s = NetState {
        hosts: rows
            .hosts
            .iter()
            .map(|h| netplan::Host {
                id: h.id.0,
                address: underlay(h),
            })
            .collect(),
        ..Default::default()
    };
    add_networks(&mut s, &rows)?;
    add_nics(&mut s, &rows);
    add_routers(&mut s, &rows);
    add_vpcs(&mut s, &rows);
    add_security_groups(&mut s, &rows.security);
    add_public_ips(&mut s, &rows.router_side.ips);
    add_router_rules(st, &mut s, &rows);
    super::s2s::add(st, &mut s, &rows.router_side.s2s);
    add_guest_data(st, &mut s, &rows)?;
    Ok(s)
}

/// Reads every row a round needs, in one read connection.
async fn read_rows(st: &Core, hosts: &[HostId]) -> DomainResult<Rows> {
    let mut c = st.store.read().await?;
    let local: Vec<db::NetNic> = db::net_nics_on_hosts(&mut c, hosts)
        .await?
        .into_iter()
        .filter(|n| ON_HOST.contains(&n.vm_state))
        .collect();
    let routers_here = db::router_list(
        &mut c,
        &db::RouterFilter {
            host_ids: hosts.to_vec(),
            ..Default::default()
        },
    )
    .await?
    .0;
    let mut net_ids: BTreeSet<NetworkId> = local.iter().map(|n| n.network_id).collect();
    net_ids.extend(routers_here.iter().map(|r| r.network_id));
    let net_list: Vec<NetworkId> = net_ids.iter().copied().collect();
    let mut networks = if net_list.is_empty() {
        Vec::new()
    } else {
        db::network_list(
            &mut c,
            &db::NetworkFilter {
                ids: net_list.clone(),
                ..Default::default()
            },
        )
        .await?
        .0
    };
    // VPCs: a tier here brings its VPC's router; a VPC router here brings every tier.
    let vpc_ids: BTreeSet<model::VpcId> = networks
        .iter()
        .filter_map(|n| n.vpc_id)
        .chain(routers_here.iter().filter_map(|r| r.vpc_id))
        .collect();
    let vpc_list: Vec<model::VpcId> = vpc_ids.iter().copied().collect();
    let (vpcs, tiers) = if vpc_list.is_empty() {
        (Vec::new(), Vec::new())
    } else {
        let vpcs = db::vpc_list(
            &mut c,
            &db::VpcFilter {
                ids: vpc_list.clone(),
                ..Default::default()
            },
        )
        .await?
        .0;
        let tiers = db::network_list(
            &mut c,
            &db::NetworkFilter {
                vpc_ids: vpc_list.clone(),
                ..Default::default()
            },
        )
        .await?
        .0;
        (vpcs, tiers)
    };
    for t in &tiers {
        if net_ids.insert(t.id) {
            networks.push(t.clone());
        }
    }
    let net_list: Vec<NetworkId> = net_ids.iter().copied().collect();
    let mut nics = db::net_nics(&mut c, &net_list).await?;
    // A VPC's router is stored under the VPC's id.
    let mut router_keys = net_list.clone();
    router_keys.extend(vpc_list.iter().map(|v| NetworkId(v.0)));
    let routers = db::router_list(
        &mut c,
        &db::RouterFilter {
            network_ids: router_keys,
            ..Default::default()
        },
    )
    .await?
    .0;
    let acl_ids: Vec<Uuid> = tiers.iter().filter_map(|t| t.acl_id).collect();
    let acl_items = if acl_ids.is_empty() {
        Vec::new()
    } else {
        db::rule_list(
            &mut c,
            &db::RuleFilter {
                parent_ids: acl_ids,
                ..db::RuleFilter::kind("aclitem")
            },
        )
        .await?
        .0
    };
    let local_vms: Vec<VmId> = local.iter().map(|n| n.vm_id).collect();
    let security = read_security(&mut c, &local_vms, &mut nics).await?;
    // What the routers here serve: their networks; a VPC router every tier of its VPC (and
    // the VPC's own addresses, stored under its id).
    let mut router_networks: Vec<NetworkId> = routers_here.iter().map(|r| r.network_id).collect();
    for v in routers_here.iter().filter_map(|r| r.vpc_id) {
        router_networks.extend(tiers.iter().filter(|t| t.vpc_id == Some(v)).map(|t| t.id));
    }
    let mut router_side = read_router_side(&mut c, &router_networks).await?;
    router_side.tls = read_certificates(st, &mut c, &router_side.lb_policies).await?;
    let mut named_by = acl_items.clone();
    named_by.extend(
        router_side
            .rules
            .iter()
            .filter(|r| matches!(r.spec, db::RuleSpec::EgressFirewall(_)))
            .cloned(),
    );
    let service_tags = read_service_tags(&mut c, &named_by, &networks).await?;
    // Hosts' underlay addresses.
    let mut host_ids: BTreeSet<HostId> = hosts.iter().copied().collect();
    host_ids.extend(nics.iter().filter_map(|n| n.host_id));
    host_ids.extend(routers.iter().filter_map(|r| r.host_id));
    let host_rows = db::host_list(
        &mut c,
        &db::HostFilter {
            ids: host_ids.iter().copied().collect(),
            ..Default::default()
        },
    )
    .await?
    .0;
    let (offerings, zones, vlan_zones) = read_inventory(&mut c, &networks).await?;
    let guests = read_guests(&mut c, &nics, &router_networks).await?;
    let nic_ids: Vec<Uuid> = nics.iter().map(|n| n.nic_id).collect();
    let mut secondary: BTreeMap<Uuid, Vec<Ipv4Addr>> = BTreeMap::new();
    for (_, nic, _, ip) in db::nic_secondaries(&mut c, &nic_ids).await? {
        if let Ok(ip) = ip.parse() {
            secondary.entry(nic).or_default().push(ip);
        }
    }
    Ok(Rows {
        secondary,
        nics,
        networks,
        routers,
        router_networks,
        security,
        router_side,
        hosts: host_rows,
        offerings,
        zones,
        vlan_zones,
        guests,
        vpcs,
        acl_items,
        service_tags,
    })
}

/// Security groups of the VMs here, their rules, and the members of the groups the rules
/// name (whose NICs are added to `nics`: their addresses fill the groups' sets).
async fn read_security(
    c: &mut db::Conn,
    local_vms: &[VmId],
    nics: &mut Vec<db::NetNic>,
) -> DomainResult<Security> {
    let mut groups_here: BTreeSet<Uuid> = db::memberships(c, local_vms)
        .await?
        .into_iter()
        .map(|m| m.owner_id)
        .collect();
    let rules = if groups_here.is_empty() {
        Vec::new()
    } else {
        db::rule_list(
            c,
            &db::RuleFilter {
                kinds: vec!["ingress", "egress"],
                parent_ids: groups_here.iter().copied().collect(),
                ..Default::default()
            },
        )
        .await?
        .0
    };
    let referenced: BTreeSet<Uuid> = rules.iter().flat_map(|r| r.spec.groups()).collect();
    groups_here.extend(referenced.iter().copied());
    let member_rows = db::members_of(c, &groups_here.iter().copied().collect::<Vec<_>>()).await?;
    let member_vms: Vec<VmId> = member_rows.iter().map(|m| m.member_id).collect();
    let known: BTreeSet<Uuid> = nics.iter().map(|n| n.nic_id).collect();
    for n in db::net_nics_of_vms(c, &member_vms).await? {
        if !known.contains(&n.nic_id) {
            nics.push(n);
        }
    }
    let all_vms: Vec<VmId> = nics.iter().map(|n| n.vm_id).collect();
    let mut vm_groups: BTreeMap<VmId, Vec<Uuid>> = BTreeMap::new();
    for m in db::memberships(c, &all_vms).await? {
        vm_groups.entry(m.member_id).or_default().push(m.owner_id);
    }
    let groups = if groups_here.is_empty() {
        Vec::new()
    } else {
        db::rule_list(
            c,
            &db::RuleFilter {
                kinds: vec!["securitygroup"],
                ids: groups_here.iter().copied().collect(),
                ..Default::default()
            },
        )
        .await?
        .0
    };
    Ok(Security {
        groups,
        rules,
        vm_groups,
    })
}

/// Router-side objects of the networks whose routers run here.
async fn read_router_side(c: &mut db::Conn, rnets: &[NetworkId]) -> DomainResult<RouterSide> {
    if rnets.is_empty() {
        return Ok(RouterSide::default());
    }
    let mut ips = Vec::new();
    for n in rnets {
        ips.extend(
            db::public_ip_list(
                c,
                &db::PublicIpFilter {
                    network_id: Some(*n),
                    allocated_only: true,
                    ..Default::default()
                },
            )
            .await?
            .0,
        );
    }
    let rules = db::rule_list(
        c,
        &db::RuleFilter {
            kinds: vec![
                "firewall",
                "egressfw",
                "portforward",
                "ipforward",
                "lb",
                "ilb",
                "route",
                "vpn",
            ],
            network_ids: rnets.to_vec(),
            ..Default::default()
        },
    )
    .await?
    .0;
    let lb_ids: Vec<Uuid> = rules
        .iter()
        .filter(|r| {
            [
                db::rulespec::kind::LOAD_BALANCER,
                db::rulespec::kind::INTERNAL_LB,
            ]
            .contains(&r.kind())
        })
        .map(|r| r.id)
        .collect();
    let lb_members = db::members_of(c, &lb_ids).await?;
    let lb_policies = if lb_ids.is_empty() {
        Vec::new()
    } else {
        db::rule_list(
            c,
            &db::RuleFilter {
                kinds: vec!["stickiness", "healthcheck", "lbcert"],
                parent_ids: lb_ids.clone(),
                ..Default::default()
            },
        )
        .await?
        .0
    };
    let vpn_accounts: Vec<model::AccountId> = rules
        .iter()
        .filter(|r| r.kind() == db::rulespec::kind::VPN)
        .filter_map(|r| r.account_id)
        .collect();
    let mut vpn_users: Vec<db::RuleRow> = Vec::new();
    for a in vpn_accounts {
        vpn_users.extend(
            db::rule_list(
                c,
                &db::RuleFilter {
                    kinds: vec!["vpnuser"],
                    scope: Some(db::OwnerScope::Account(a)),
                    ..Default::default()
                },
            )
            .await?
            .0,
        );
    }
    Ok(RouterSide {
        ips,
        rules,
        lb_members,
        lb_policies,
        vpn_users,
        s2s: super::s2s::read(c, rnets).await?,
        tls: BTreeMap::new(),
    })
}

/// The certificates load balancers were assigned, as haproxy reads them: certificate, chain,
/// then the private key (decrypted with the server key; a key that does not decrypt leaves its
/// balancer without TLS, logged).
async fn read_certificates(
    st: &Core,
    c: &mut db::Conn,
    policies: &[db::RuleRow],
) -> DomainResult<BTreeMap<Uuid, String>> {
    let ids: Vec<Uuid> = policies
        .iter()
        .filter_map(|p| match &p.spec {
            db::RuleSpec::LbCert(x) => Some(x.certid),
            _ => None,
        })
        .collect();
    if ids.is_empty() {
        return Ok(BTreeMap::new());
    }
    let certs = db::rule_list(
        c,
        &db::RuleFilter {
            kinds: vec![db::rulespec::kind::SSL_CERT],
            ids,
            ..Default::default()
        },
    )
    .await?
    .0;
    let mut out = BTreeMap::new();
    for r in certs {
        let db::RuleSpec::SslCert(x) = &r.spec else {
            continue;
        };
        match st.key.decrypt(&x.privatekey) {
            Ok(key) => {
                let mut pem = x.certificate.trim_end().to_string();
                pem.push('\n');
                if !x.certchain.trim().is_empty() {
                    pem.push_str(x.certchain.trim_end());
                    pem.push('\n');
                }
                pem.push_str(key.trim_end());
                pem.push('\n');
                out.insert(r.id, pem);
            }
            Err(e) => {
                tracing::error!(cert = %r.id, error = %e, "a certificate's key does not decrypt")
            }
        }
    }
    Ok(out)
}

type Inventory = (
    BTreeMap<Uuid, db::InfraRow>,
    BTreeMap<Uuid, db::InfraRow>,
    BTreeSet<Uuid>,
);

/// The networks' offerings (egress policy, security groups) and zones (DNS, and whether
/// their physical networks isolate with VLANs).
async fn read_inventory(c: &mut db::Conn, networks: &[db::NetworkRow]) -> DomainResult<Inventory> {
    let offering_ids: BTreeSet<Uuid> = networks
        .iter()
        .filter_map(|n| n.network_offering_id)
        .collect();
    let mut offerings = BTreeMap::new();
    for o in offering_ids {
        if let Some(row) = db::infra_get(c, db::Infra::NetworkOffering, o).await? {
            offerings.insert(o, row);
        }
    }
    let zone_ids: BTreeSet<Uuid> = networks.iter().map(|n| n.zone_id).collect();
    let mut zones = BTreeMap::new();
    let mut vlan_zones = BTreeSet::new();
    for z in zone_ids {
        if let Some(row) = db::infra_get(c, db::Infra::Zone, z).await? {
            zones.insert(z, row);
        }
        let pns = db::infra_list(
            c,
            db::Infra::PhysicalNetwork,
            &db::InfraFilter {
                zone_id: Some(z),
                ..Default::default()
            },
        )
        .await?
        .0;
        let mut methods = Vec::new();
        for p in &pns {
            methods.push(p.decode::<PhysicalNetworkAttrs>()?.isolationmethods);
        }
        let has = |m: &str| methods.iter().any(|t| t.contains_ignore_case(m));
        if has("VLAN") && !has("VXLAN") {
            vlan_zones.insert(z);
        }
    }
    Ok((offerings, zones, vlan_zones))
}

/// A VPC's private gateway network (guest type `Private`): the router's address on it and
/// source NAT, from its attributes (`privategateway`).
fn private_gateway(n: &db::NetworkRow) -> Option<netplan::PrivateGateway> {
    if n.guest_type != "Private" || n.vpc_id.is_none() {
        return None;
    }
    let g = &n.attrs["privategateway"];
    Some(netplan::PrivateGateway {
        address: g["ipaddress"].as_str()?.parse().ok()?,
        source_nat: g["sourcenatsupported"].as_bool().unwrap_or(false),
    })
}

fn add_networks(s: &mut NetState, rows: &Rows) -> DomainResult<()> {
    for n in &rows.networks {
        let off = n.network_offering_id.and_then(|o| rows.offerings.get(&o));
        let zone: ZoneAttrs = match rows.zones.get(&n.zone_id) {
            Some(z) => z.decode()?,
            None => ZoneAttrs::default(),
        };
        let offering: NetworkOfferingAttrs = match off {
            Some(o) => o.decode()?,
            None => NetworkOfferingAttrs::default(),
        };
        s.networks.push(netplan::Network {
            id: n.id.into(),
            name: n.name.clone(),
            guest_type: match n.guest_type.as_str() {
                "Shared" => netplan::GuestType::Shared,
                "L2" => netplan::GuestType::L2,
                _ => netplan::GuestType::Isolated,
            },
            isolation: match n.vni {
                Some(v) if rows.vlan_zones.contains(&n.zone_id) && (1..=4094).contains(&v) => {
                    netplan::Isolation::Vlan(v as u16)
                }
                Some(v) if (1..=16_777_215).contains(&v) => netplan::Isolation::Vxlan(v as u32),
                _ => netplan::Isolation::None,
            },
            cidr: n.cidr.as_deref().and_then(|c| c.parse().ok()),
            gateway: n.gateway.as_deref().and_then(|g| g.parse().ok()),
            domain: n.network_domain.clone(),
            dns: [zone.dns1, zone.dns2]
                .into_iter()
                .flatten()
                .filter_map(|d| d.parse().ok())
                .collect(),
            egress_default_allow: offering.egressdefaultpolicy.unwrap_or(true),
            security_groups: crate::inventory::has_service(n, off, "SecurityGroup")?,
            mtu: 1450,
            vpc_id: n.vpc_id.map(|v| v.0),
            acl: n.vpc_id.and(n.acl_id),
            private_gateway: private_gateway(n),
        });
    }
    Ok(())
}

fn add_nics(s: &mut NetState, rows: &Rows) {
    let mut seen = BTreeSet::new();
    for n in &rows.nics {
        if !seen.insert(n.nic_id) {
            continue;
        }
        s.nics.push(netplan::Nic {
            id: n.nic_id,
            vm_id: n.vm_id.0,
            vm_name: n.vm_name.clone(),
            network_id: n.network_id.into(),
            host_id: n
                .host_id
                .filter(|_| ON_HOST.contains(&n.vm_state))
                .map(|h| h.0),
            ip: n.ip4.as_deref().and_then(|i| i.parse().ok()),
            mac: n.mac.clone(),
            is_default: n.is_default,
            security_groups: rows
                .security
                .vm_groups
                .get(&n.vm_id)
                .cloned()
                .unwrap_or_default(),
            secondary_ips: rows.secondary.get(&n.nic_id).cloned().unwrap_or_default(),
        });
    }
}

fn add_routers(s: &mut NetState, rows: &Rows) {
    let ip_rows: BTreeMap<Uuid, &db::PublicIpRow> =
        rows.router_side.ips.iter().map(|i| (i.id, i)).collect();
    for r in &rows.routers {
        let public = r.public_ip_id.and_then(|p| ip_rows.get(&p)).and_then(|p| {
            Some(netplan::RouterPublic {
                ip: p.address.parse().ok()?,
                prefix: prefix_of(&p.netmask),
                gateway: p.gateway.parse().ok()?,
                mac: r.public_mac.clone(),
                vlan: vlan_of(&p.vlan),
            })
        });
        let guest_ip = match (r.guest_ip.as_deref().and_then(|g| g.parse().ok()), r.vpc_id) {
            (Some(g), _) => g,
            // A VPC's router is on its tiers' gateways.
            (None, Some(_)) => Ipv4Addr::UNSPECIFIED,
            (None, None) => continue,
        };
        s.routers.push(netplan::Router {
            id: r.id,
            name: r.name.clone(),
            network_id: r.network_id.into(),
            host_id: r.host_id.map(|h| h.0),
            running: r.state == model::VmState::Running || r.state == model::VmState::Starting,
            guest_ip,
            guest_mac: r.guest_mac.clone(),
            link_local_ip: r
                .link_local_ip
                .parse()
                .unwrap_or(Ipv4Addr::new(169, 254, 0, 1)),
            public,
            vpc_id: r.vpc_id.map(|v| v.0),
        });
    }
}

/// The VPCs and the items of their tiers' ACL lists.
fn add_vpcs(s: &mut NetState, rows: &Rows) {
    for v in &rows.vpcs {
        let Ok(cidr) = v.cidr.parse() else {
            tracing::error!(vpc = %v.id, cidr = %v.cidr, "a VPC with a bad CIDR is left out of the data plane");
            continue;
        };
        s.vpcs.push(netplan::Vpc {
            id: v.id.0,
            name: v.name.clone(),
            cidr,
            domain: v.network_domain.clone(),
            dns: ["dns1", "dns2"]
                .iter()
                .filter_map(|k| v.attrs[*k].as_str())
                .filter_map(|d| d.parse().ok())
                .collect(),
        });
    }
    let mut lists: BTreeMap<Uuid, Vec<netplan::acl::Item>> = BTreeMap::new();
    for n in &rows.networks {
        if let Some(a) = n.acl_id {
            lists.entry(a).or_default();
        }
    }
    for r in &rows.acl_items {
        let (Some(list), db::RuleSpec::AclItem(spec)) = (r.parent_id, &r.spec) else {
            continue;
        };
        let Some(item) = acl_item(r.id, spec) else {
            tracing::error!(item = %r.id, "a network ACL item that does not compile is left out (its list's other items apply)");
            continue;
        };
        lists.entry(list).or_default().push(item);
    }
    s.acls = lists
        .into_iter()
        .map(|(id, items)| netplan::AclList { id, items })
        .collect();
    s.service_tags = rows.service_tags.clone();
}

/// An ACL item as the planner takes it.
pub fn acl_item(id: Uuid, s: &db::rulespec::AclItemSpec) -> Option<netplan::acl::Item> {
    Some(netplan::acl::Item {
        id,
        number: u32::try_from(s.number).ok()?,
        action: if s.action.eq_ignore_ascii_case("deny") {
            netplan::acl::Action::Deny
        } else {
            netplan::acl::Action::Allow
        },
        traffic: if s.traffictype.eq_ignore_ascii_case("egress") {
            netplan::acl::Traffic::Egress
        } else {
            netplan::acl::Traffic::Ingress
        },
        protocol: super::rules::protocol(&s.l4.protocol)?,
        start_port: super::rules::port(s.l4.startport),
        end_port: super::rules::port(s.l4.endport),
        icmp_type: super::rules::int(s.l4.icmptype),
        icmp_code: super::rules::int(s.l4.icmpcode),
        cidrs: split_sources(&s.cidrlist).0,
        tags: split_sources(&s.cidrlist).1,
    })
}

fn add_security_groups(s: &mut NetState, sec: &Security) {
    for g in &sec.groups {
        let rules_of = |dir: &str| -> Vec<netplan::SgRule> {
            sec.rules
                .iter()
                .filter(|r| r.parent_id == Some(g.id) && r.kind() == dir)
                .filter_map(|r| {
                    let (db::RuleSpec::Ingress(x) | db::RuleSpec::Egress(x)) = &r.spec else {
                        return None;
                    };
                    Some(netplan::SgRule {
                        id: r.id,
                        protocol: protocol(&x.l4.protocol)?,
                        start_port: port(x.l4.startport),
                        end_port: port(x.l4.endport),
                        icmp_type: int(x.l4.icmptype),
                        icmp_code: int(x.l4.icmpcode),
                        cidrs: cidrs(&x.cidrlist),
                        groups: x.groups(),
                    })
                })
                .collect()
        };
        s.security_groups.push(netplan::SecurityGroup {
            id: g.id,
            name: g.name.clone().unwrap_or_default(),
            ingress: rules_of("ingress"),
            egress: rules_of("egress"),
        });
    }
}

fn add_public_ips(s: &mut NetState, ips: &[db::PublicIpRow]) {
    for i in ips {
        let (Ok(address), Some(network_id)) = (i.address.parse(), i.network_id) else {
            continue;
        };
        s.public_ips.push(netplan::PublicIp {
            id: i.id,
            address,
            network_id: network_id.into(),
            source_nat: i.source_nat,
            static_nat: i.static_nat_ip.as_deref().and_then(|a| a.parse().ok()),
        });
    }
}
