//! Guest networks: the model shared by every networking command (who may use a network, its
//! offering's services, NIC address allocation, the `network` and `nic` objects), listNetworks,
//! and the networks a deploy puts a VM on.
//!
//! * [`lifecycle`]: createNetwork, updateNetwork, deleteNetwork, restartNetwork; implementing
//!   a network when its first VM starts (VNI, router, source-NAT IP) and shutting idle ones
//!   down after `network.gc.wait`.
//! * [`nics`]: listNics, addNicToVirtualMachine, removeNicFromVirtualMachine,
//!   updateDefaultNicForVirtualMachine.

pub mod implement;
pub mod lifecycle;
pub mod nics;
mod views;

pub use implement::*;
pub use lifecycle::*;
pub use nics::*;
pub use views::*;

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use api::ApiError;
use db::{DbError, Infra, InfraRow, NetworkRow};
use rand::Rng;
use serde_json::json;
use uuid::Uuid;

use crate::access;
use crate::context::OpContext;
use crate::error::{param_err, AppError, AppResult};
use crate::state::{Core, State};

pub(crate) const DEFAULT_CIDR: &str = "10.1.1.0/24";

pub(crate) fn mask_of(prefix: u8) -> Ipv4Addr {
    Ipv4Addr::from(u32::MAX.checked_shl(32 - prefix as u32).unwrap_or(0))
}

pub use domain::inventory::has_service;

/// The services of an offering, as names.
pub(crate) fn services_of(offering: &InfraRow) -> Vec<String> {
    offering.attrs["services"]
        .as_array()
        .map(|s| {
            s.iter()
                .filter_map(|x| x["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) async fn network_get(
    st: &Core,
    param: &str,
    id: model::NetworkId,
) -> AppResult<NetworkRow> {
    let mut c = st.store.read().await?;
    db::network_get(&mut c, id)
        .await?
        .ok_or_else(|| ApiError::invalid_id(param, &id.to_string()).into())
}

/// May the caller put VMs and rules on this network? Its owner (or an admin over the
/// owner); for networks without an owner (zone- or domain-wide shared), anyone in the domain
/// subtree (or everyone when zone-wide).
pub(crate) async fn check_use(
    st: &State,
    ctx: &OpContext,
    acct: &db::AccountRow,
    n: &NetworkRow,
) -> AppResult<()> {
    match n.account_id {
        Some(a) if a == acct.id => Ok(()),
        Some(_) => Err(ApiError::permission(format!(
            "Account {} does not have permission to use network {}",
            acct.name, n.name
        ))
        .into()),
        None => {
            if let Some(d) = n.domain_id {
                let dom = access::domain(st, "domainid", d).await?;
                let sub = n.attrs["subdomainaccess"].as_bool().unwrap_or(true);
                let ok = acct.domain_id == d
                    || (sub && acct.domain_path.starts_with(&dom.path))
                    || ctx.is_root_admin();
                if !ok {
                    return Err(ApiError::permission(format!(
                        "Account {} does not have permission to use network {}",
                        acct.name, n.name
                    ))
                    .into());
                }
            }
            Ok(())
        }
    }
}

/// The network the caller may change (its owner's admins, or root for shared networks).
pub(crate) async fn owned_network(
    st: &State,
    ctx: &OpContext,
    param: &str,
    id: Uuid,
) -> AppResult<NetworkRow> {
    let n = network_get(st, param, model::NetworkId(id)).await?;
    match n.account_id {
        Some(a) if a == ctx.account_id() => Ok(n),
        Some(a) => {
            let acct = access::account(st, "account", a).await?;
            access::check_account(ctx, &acct)?;
            Ok(n)
        }
        None if ctx.is_root_admin() => Ok(n),
        None => {
            if let (Some(d), true) = (n.domain_id, ctx.is_domain_admin()) {
                let dom = access::domain(st, "domainid", d).await?;
                access::check_domain_admin(ctx, &dom)?;
                return Ok(n);
            }
            Err(ApiError::permission(format!(
                "Account {} does not have permission to change network {}",
                ctx.user.account.name, n.name
            ))
            .into())
        }
    }
}

pub(crate) async fn offering_of(st: &Core, n: &NetworkRow) -> AppResult<Option<InfraRow>> {
    let Some(o) = n.network_offering_id else {
        return Ok(None);
    };
    let mut c = st.store.read().await?;
    Ok(db::infra_get(&mut c, Infra::NetworkOffering, o).await?)
}

/// The networks a new VM goes on (the first is its default): the given `networkids`, else in
/// a basic zone its shared guest network, else the account's only isolated network (created
/// from the Required offering when there is none, as CloudStack's `getDefaultNetwork`).
pub async fn deploy_networks(
    st: &State,
    ctx: &OpContext,
    acct: &db::AccountRow,
    zone: &InfraRow,
    networkids: &[String],
) -> AppResult<Vec<NetworkRow>> {
    if !networkids.is_empty() {
        let mut out = Vec::new();
        for given in networkids {
            let id: Uuid = given
                .trim()
                .parse()
                .map_err(|_| ApiError::invalid_id("networkids", given))?;
            let n = network_get(st, "networkids", model::NetworkId(id)).await?;
            if n.zone_id != zone.id {
                return param_err(format!("Network {} is not in zone {}", n.name, zone.name));
            }
            check_use(st, ctx, acct, &n).await?;
            if out.iter().any(|o: &NetworkRow| o.id == n.id) {
                return param_err(format!("Network {} is given twice in networkids", n.name));
            }
            out.push(n);
        }
        return Ok(out);
    }
    if zone.kind.eq_ignore_ascii_case("basic") {
        let mut c = st.store.read().await?;
        let (found, _) = db::network_list(
            &mut c,
            &db::NetworkFilter {
                zone_id: Some(zone.id),
                guest_type: Some("Shared".into()),
                ..Default::default()
            },
        )
        .await?;
        return match found.into_iter().find(|n| n.account_id.is_none()) {
            Some(n) => Ok(vec![n]),
            None => param_err(format!(
                "Zone {} has no guest network yet: add its guest IP range with createVlanIpRange podid=… forvirtualnetwork=false",
                zone.name
            )),
        };
    }
    let mine = db::NetworkFilter {
        scope: Some(db::OwnerScope::Account(acct.id)),
        zone_id: Some(zone.id),
        guest_type: Some("Isolated".into()),
        // A VPC's tiers are Isolated too, but never an account's default network.
        in_vpc: Some(false),
        ..Default::default()
    };
    {
        let mut c = st.store.read().await?;
        let (found, n) = db::network_list(&mut c, &mine).await?;
        match n {
            1 => return Ok(found),
            0 => {}
            _ => {
                return param_err(format!(
                    "More than 1 default Isolated networks are found for account {}; please specify networkIds",
                    acct.name
                ))
            }
        }
    }
    let offering = {
        let mut c = st.store.read().await?;
        db::infra_list(&mut c, Infra::NetworkOffering, &db::InfraFilter::default())
            .await?
            .0
            .into_iter()
            .find(|o| o.attrs["availability"].as_str() == Some("Required"))
    };
    let Some(offering) = offering else {
        return param_err(
            "Unable to find a network offering with Required availability to create the account's default network; give networkids",
        );
    };
    let row = isolated_row(
        zone,
        acct,
        &offering,
        format!("{}-network", acct.name),
        format!("Default isolated network of {}", acct.name),
        None,
    )?;
    let mut tx = st.store.begin().await?;
    match db::network_insert(&mut tx, &row).await {
        Ok(()) => {
            tx.commit().await?;
            tracing::info!(account = %acct.name, network = %row.id, "created the account's default isolated network");
        }
        // Another deploy of this account created it first.
        Err(DbError::Conflict(_)) => drop(tx),
        Err(e) => return Err(e.into()),
    }
    let mut c = st.store.read().await?;
    let (found, _) = db::network_list(&mut c, &mine).await?;
    if found.is_empty() {
        return Err(AppError::Internal("the default network vanished".into()));
    }
    Ok(found.into_iter().take(1).collect())
}

/// A new isolated network row: the zone's guest CIDR (or `cidr`), the gateway its first
/// address (the router's).
pub(crate) fn isolated_row(
    zone: &InfraRow,
    acct: &db::AccountRow,
    offering: &InfraRow,
    name: String,
    display: String,
    cidr: Option<(Ipv4Addr, u8)>,
) -> AppResult<NetworkRow> {
    let (net, prefix) = match cidr {
        Some(c) => c,
        None => {
            let c = super::zones::attr_str(zone, "guestcidraddress")
                .filter(|c| model::net::parse_cidr(c).is_some())
                .unwrap_or_else(|| DEFAULT_CIDR.to_string());
            model::net::parse_cidr(&c)
                .ok_or_else(|| AppError::Internal(format!("bad guest CIDR {c}")))?
        }
    };
    let gateway = Ipv4Addr::from(u32::from(net) + 1);
    Ok(NetworkRow {
        id: model::NetworkId::new(),
        name,
        display_text: display,
        zone_id: zone.id,
        account_id: Some(acct.id),
        account_name: None,
        domain_id: Some(acct.domain_id),
        domain_name: None,
        domain_path: None,
        guest_type: "Isolated".into(),
        traffic_type: "Guest".into(),
        state: model::NetworkState::Allocated,
        cidr: Some(format!("{net}/{prefix}")),
        gateway: Some(gateway.to_string()),
        netmask: Some(mask_of(prefix).to_string()),
        network_domain: super::zones::attr_str(zone, "domain")
            .or_else(|| Some("cs.cloud.internal".into())),
        vni: None,
        network_offering_id: Some(offering.id),
        vpc_id: None,
        acl_id: None,
        attrs: json!({
            "acltype": "Account",
            "services": services_of(offering),
            "egressdefaultpolicy": offering.attrs["egressdefaultpolicy"].as_bool().unwrap_or(true),
        }),
        created: 0,
    })
}

fn random_mac() -> String {
    netplan::ipam::mac_from(rand::thread_rng().gen())
}

/// The address ranges NICs of a network take from: a shared network's IP ranges, else the
/// whole CIDR (network and broadcast addresses excluded).
pub(crate) async fn nic_ranges(st: &Core, n: &NetworkRow) -> AppResult<Vec<(u32, u32)>> {
    let mut c = st.store.read().await?;
    let ranges = db::vlan_range_list(
        &mut c,
        &db::VlanRangeFilter {
            network_id: Some(n.id),
            ..Default::default()
        },
    )
    .await?
    .0;
    let mut out: Vec<(u32, u32)> = ranges
        .iter()
        .filter_map(|r| {
            let a: Ipv4Addr = r.start_ip.parse().ok()?;
            let b: Ipv4Addr = r.end_ip.parse().ok()?;
            Some((u32::from(a), u32::from(b)))
        })
        .collect();
    if out.is_empty() {
        let (net, prefix) = n
            .cidr
            .as_deref()
            .and_then(model::net::parse_cidr)
            .ok_or_else(|| AppError::Internal(format!("network {} has no CIDR", n.id)))?;
        let first = u32::from(net) + 1;
        let last = (u32::from(net) | !u32::from(mask_of(prefix))).saturating_sub(1);
        out.push((first, last));
    }
    out.sort_unstable();
    Ok(out)
}

/// Gives a VM a NIC on `n`: the requested address (if free and in the network's ranges),
/// else one of the lowest free ones (the gateway excluded). L2 networks have no addresses.
#[allow(clippy::too_many_arguments)]
pub async fn allocate_nic(
    st: &State,
    vm: Uuid,
    n: &NetworkRow,
    want_ip: Option<&str>,
    want_mac: Option<&str>,
    device_id: i64,
    is_default: bool,
) -> AppResult<Uuid> {
    let l2 = n.guest_type == "L2" || n.cidr.is_none();
    let ranges = if l2 {
        Vec::new()
    } else {
        nic_ranges(st, n).await?
    };
    let gateway = n
        .gateway
        .as_deref()
        .and_then(|g| g.parse::<Ipv4Addr>().ok());
    // A shared network's DHCP router holds one of its addresses too.
    let router_ips: Vec<Ipv4Addr> = crate::handlers::routers::of_network(st, n.id)
        .await?
        .iter()
        .filter_map(|r| r.guest_ip.as_deref()?.parse().ok())
        .filter(|ip| Some(*ip) != gateway)
        .collect();
    if let Some(ip) = want_ip {
        let ok = ip
            .parse::<Ipv4Addr>()
            .map(|a| {
                let x = u32::from(a);
                ranges.iter().any(|(f, l)| x >= *f && x <= *l)
                    && Some(a) != gateway
                    && !router_ips.contains(&a)
            })
            .unwrap_or(false);
        if !ok {
            return param_err(format!(
                "IP address {ip} is not a usable address of network {} ({})",
                n.name,
                n.cidr.as_deref().unwrap_or("no CIDR")
            ));
        }
    }
    if let Some(m) = want_mac {
        let valid = m.len() == 17
            && m.split(':')
                .all(|p| p.len() == 2 && u8::from_str_radix(p, 16).is_ok());
        if !valid {
            return param_err(format!("Mac address is not valid: {m}"));
        }
    }
    for attempt in 0..16 {
        // Read the used addresses in the transaction that claims one: on SQLite that is the
        // single writer, so nobody can take it meanwhile; on PostgreSQL the unique index
        // refuses a duplicate and we try again, then among the first free ones at random.
        let mut tx = st.store.begin().await?;
        let ip = if l2 {
            None
        } else {
            let used: BTreeSet<Ipv4Addr> = db::nic_ips(&mut tx, n.id)
                .await?
                .into_iter()
                .filter_map(|a| a.parse().ok())
                .collect();
            match want_ip {
                Some(ip)
                    if used.contains(&ip.parse::<Ipv4Addr>().unwrap_or(Ipv4Addr::UNSPECIFIED)) =>
                {
                    return param_err(format!(
                        "IP address {ip} is already in use in network {}",
                        n.name
                    ))
                }
                Some(ip) => Some(ip.to_string()),
                None => {
                    let want = if attempt == 0 { 1 } else { 64 };
                    let reserved: Vec<Ipv4Addr> = gateway
                        .into_iter()
                        .chain(router_ips.iter().copied())
                        .collect();
                    let mut free = Vec::new();
                    for (f, l) in &ranges {
                        free.extend(netplan::ipam::free_addresses(
                            Ipv4Addr::from(*f),
                            Ipv4Addr::from(*l),
                            &used,
                            &reserved,
                            want - free.len(),
                        ));
                        if free.len() >= want {
                            break;
                        }
                    }
                    if free.is_empty() {
                        return Err(ApiError::new(
                            api::ErrorCode::InsufficientCapacity,
                            format!(
                                "Insufficient address capacity: network {} has no free IP address",
                                n.name
                            ),
                        )
                        .into());
                    }
                    Some(free[rand::thread_rng().gen_range(0..free.len())].to_string())
                }
            }
        };
        let nic = db::NewNic {
            id: Uuid::new_v4(),
            vm_id: model::VmId(vm),
            network_id: n.id,
            ip4: ip,
            mac: want_mac.map(str::to_lowercase).unwrap_or_else(random_mac),
            device_id,
            is_default,
        };
        match db::nic_insert(&mut tx, &nic).await {
            Ok(()) => {
                tx.commit().await?;
                return Ok(nic.id);
            }
            // Someone took the address (or the MAC) meanwhile: try the next one.
            Err(DbError::Conflict(_)) if want_mac.is_none() && want_ip.is_none() => continue,
            Err(DbError::Conflict(_)) if want_mac.is_none() => {
                return param_err(format!(
                    "IP address {} is already in use in network {}",
                    nic.ip4.unwrap_or_default(),
                    n.name
                ))
            }
            Err(DbError::Conflict(_)) => {
                return param_err(format!("MAC address {} is already in use", nic.mac))
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::Internal(format!(
        "could not allocate an address in network {} after 16 attempts",
        n.id
    )))
}
