//! VLAN IP ranges: public ranges (each address a Free public IP), the guest range of a basic
//! zone (which makes its shared guest network), the ranges of shared networks.

use std::net::Ipv4Addr;

use api::{list_body, success_body, ApiError, Args, ErrorCode};
use db::{Infra, VlanRangeRow};
use model::identity::display_domain_path;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::context::OpContext;
use crate::error::{param_err, AppResult};
use crate::events::Event;
use crate::handlers::{networks, zones};
use crate::state::State;

/// At most this many addresses per range (each is a row).
const MAX_RANGE: u32 = 65_536;

fn ip(param: &str, v: Option<&str>) -> AppResult<Ipv4Addr> {
    let Some(v) = v else {
        return param_err(format!("Please specify {param}"));
    };
    v.trim()
        .parse()
        .map_err(|_| ApiError::param(format!("Invalid {param}: {v} is not an IPv4 address")).into())
}

fn range_view(r: &VlanRangeRow, zone: Option<&String>, pod: Option<&String>) -> Value {
    let prefix = r
        .netmask
        .parse::<Ipv4Addr>()
        .ok()
        .and_then(model::net::prefix_len)
        .unwrap_or(32);
    let gw: Ipv4Addr = r.gateway.parse().unwrap_or(Ipv4Addr::UNSPECIFIED);
    let mut v = json!({
        "id": r.id,
        "forvirtualnetwork": r.for_virtual,
        "forsystemvms": r.for_system,
        "forloadbalancers": r.for_lb,
        "zoneid": r.zone_id,
        "vlan": r.vlan.clone().unwrap_or_else(|| "vlan://untagged".into()),
        "gateway": r.gateway,
        "netmask": r.netmask,
        "cidr": format!("{}/{prefix}", model::net::network(gw, prefix)),
        "startip": r.start_ip,
        "endip": r.end_ip,
    });
    if let Some(z) = zone {
        v["zonename"] = json!(z);
    }
    if let Some(p) = r.pod_id {
        v["podid"] = json!(p);
        if let Some(n) = pod {
            v["podname"] = json!(n);
        }
    }
    if let Some(n) = r.network_id {
        v["networkid"] = json!(n);
    }
    if let Some(p) = r.physnet_id {
        v["physicalnetworkid"] = json!(p);
    }
    if let Some(a) = &r.account_name {
        v["account"] = json!(a);
    }
    if let (Some(d), Some(dn)) = (r.domain_id, &r.domain_name) {
        v["domainid"] = json!(d);
        v["domain"] = json!(dn);
        v["domainpath"] = json!(display_domain_path(r.domain_path.as_deref().unwrap_or("/")));
    }
    v
}

async fn range_views(st: &State, rows: &[VlanRangeRow]) -> AppResult<Vec<Value>> {
    let zones = zones::names(st, Infra::Zone, rows.iter().map(|r| r.zone_id)).await?;
    let pods = zones::names(st, Infra::Pod, rows.iter().filter_map(|r| r.pod_id)).await?;
    Ok(rows
        .iter()
        .map(|r| {
            range_view(
                r,
                zones.get(&r.zone_id),
                r.pod_id.and_then(|p| pods.get(&p)),
            )
        })
        .collect())
}

/// The basic zone's shared guest network (created by the first guest range).
async fn basic_guest_network(
    st: &State,
    ctx: &OpContext,
    zone: &db::InfraRow,
    gateway: Ipv4Addr,
    prefix: u8,
) -> AppResult<db::NetworkRow> {
    {
        let mut c = st.store.read().await?;
        let found = db::network_list(
            &mut c,
            &db::NetworkFilter {
                zone_id: Some(zone.id),
                guest_type: Some("Shared".into()),
                ..Default::default()
            },
        )
        .await?
        .0;
        if let Some(n) = found.into_iter().find(|n| n.account_id.is_none()) {
            return Ok(n);
        }
    }
    let offering = {
        let mut c = st.store.read().await?;
        db::infra_list(
            &mut c,
            Infra::NetworkOffering,
            &db::InfraFilter {
                name: Some("DefaultSharedNetworkOfferingWithSGService".into()),
                ..Default::default()
            },
        )
        .await?
        .0
        .into_iter()
        .next()
    };
    let Some(offering) = offering else {
        return param_err("The DefaultSharedNetworkOfferingWithSGService offering is missing");
    };
    let net = model::net::network(gateway, prefix);
    let vni = networks::allocate_vni(st, zone, None).await?;
    let row = db::NetworkRow {
        id: model::NetworkId::new(),
        name: "defaultGuestNetwork".into(),
        display_text: "The basic zone's guest network".into(),
        zone_id: zone.id,
        account_id: None,
        account_name: None,
        domain_id: Some(ctx.domain_id()),
        domain_name: None,
        domain_path: None,
        guest_type: "Shared".into(),
        traffic_type: "Guest".into(),
        state: model::NetworkState::Setup,
        cidr: Some(format!("{net}/{prefix}")),
        gateway: Some(gateway.to_string()),
        netmask: Some(networks::mask_of(prefix).to_string()),
        network_domain: zones::attr_str(zone, "domain"),
        vni: Some(vni),
        network_offering_id: Some(offering.id),
        vpc_id: None,
        acl_id: None,
        attrs: json!({
            "acltype": "Domain",
            "services": networks::services_of(&offering),
            "egressdefaultpolicy": true,
            "subdomainaccess": true,
        }),
        created: 0,
    };
    let mut tx = st.store.begin().await?;
    db::network_insert(&mut tx, &row).await?;
    tx.commit().await?;
    networks::network_get(st, "networkid", row.id).await
}

pub async fn create_range(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let network = match args.uuid("networkid") {
        Some(n) => Some(networks::network_get(st, "networkid", model::NetworkId(n)).await?),
        None => None,
    };
    let zone_id = match (args.uuid("zoneid"), &network) {
        (Some(z), _) => z,
        (None, Some(n)) => n.zone_id,
        (None, None) => match args.uuid("podid") {
            Some(p) => zones::get(st, Infra::Pod, "podid", p).await?.zone_id,
            None => return param_err("Please specify zoneid, podid or networkid"),
        },
    };
    let zone = zones::get(st, Infra::Zone, "zoneid", zone_id).await?;
    let basic = zone.kind.eq_ignore_ascii_case("basic");
    let for_virtual = args
        .bool("forvirtualnetwork")
        .unwrap_or(network.is_none() && !basic);
    let start = ip("startip", args.text("startip"))?;
    let end = match args.text("endip") {
        Some(e) => ip("endip", Some(e))?,
        None => start,
    };
    if u32::from(end) < u32::from(start) {
        return param_err(format!(
            "Invalid range {start}-{end}: the end is before the start"
        ));
    }
    if u32::from(end) - u32::from(start) >= MAX_RANGE {
        return param_err(format!("A range holds at most {MAX_RANGE} addresses"));
    }
    let (gateway, netmask) = match (&network, args.text("gateway"), args.text("netmask")) {
        (_, Some(g), Some(m)) => (ip("gateway", Some(g))?, ip("netmask", Some(m))?),
        (Some(n), None, None) => (
            ip("gateway", n.gateway.as_deref())?,
            ip("netmask", n.netmask.as_deref())?,
        ),
        _ => return param_err("Please specify gateway and netmask"),
    };
    let prefix = model::net::prefix_len(netmask)
        .ok_or_else(|| ApiError::param(format!("Invalid netmask {netmask}")))?;
    let cidr =
        netplan::Cidr::new(gateway, prefix).ok_or_else(|| ApiError::param("Invalid netmask"))?;
    if !cidr.contains(start) || !cidr.contains(end) {
        return param_err(format!(
            "The range {start}-{end} is not inside {cidr} (gateway {gateway}, netmask {netmask})"
        ));
    }
    if (u32::from(start)..=u32::from(end)).contains(&u32::from(gateway)) {
        return param_err("The gateway cannot be inside the IP range");
    }
    let vlan = match args.text("vlan") {
        None => None,
        Some(v) if v.eq_ignore_ascii_case("untagged") || v == "vlan://untagged" => None,
        Some(v) => Some(format!("vlan://{}", networks::parse_vni(v)?)),
    };
    // A service IP pool is a public range, not one for the system VMs.
    let for_lb = args.bool("forloadbalancers").unwrap_or(false);
    if for_lb && (network.is_some() || !for_virtual || args.bool("forsystemvms") == Some(true)) {
        return param_err(
            "forloadbalancers marks a public range (forvirtualnetwork=true, no network, not for system VMs)",
        );
    }
    // Dedication to an account.
    let owner = match args.text("account") {
        Some(a) => Some(crate::access::account_by_name(st, ctx, a, args.id("domainid")).await?),
        None => None,
    };
    // Guest ranges: of the given shared network, or of the basic zone's guest network.
    let network = match network {
        Some(n) => Some(n),
        None if !for_virtual && basic => Some(basic_guest_network(st, ctx, &zone, gateway, prefix).await?),
        None if !for_virtual => {
            return param_err("A direct (forvirtualnetwork=false) range in an advanced zone belongs to a shared network: give networkid")
        }
        None => None,
    };
    if let Some(n) = &network {
        if n.guest_type != "Shared" {
            return param_err(format!(
                "Network {} is {}: only shared networks take IP ranges",
                n.name, n.guest_type
            ));
        }
        if n.cidr.as_deref() != Some(&cidr.to_string()) {
            return param_err(format!(
                "The range's subnet {cidr} is not the network's ({})",
                n.cidr.as_deref().unwrap_or("none")
            ));
        }
    }
    // No overlap with another range of the zone (public) or of the network.
    let existing = {
        let mut c = st.store.read().await?;
        db::vlan_range_list(
            &mut c,
            &db::VlanRangeFilter {
                zone_id: Some(zone.id),
                ..Default::default()
            },
        )
        .await?
        .0
    };
    for r in &existing {
        let same_space = match (&network, r.network_id) {
            (Some(n), Some(m)) => n.id == m,
            (None, None) => true,
            _ => false,
        };
        let (Ok(a), Ok(b)) = (r.start_ip.parse::<Ipv4Addr>(), r.end_ip.parse::<Ipv4Addr>()) else {
            continue;
        };
        if same_space && netplan::ipam::ranges_overlap((a, b), (start, end)) {
            return param_err(format!(
                "The IP range {start}-{end} overlaps the existing range {a}-{b} (id {})",
                r.id
            ));
        }
    }
    let row = VlanRangeRow {
        id: Uuid::new_v4(),
        zone_id: zone.id,
        physnet_id: args.uuid("physicalnetworkid"),
        pod_id: args.uuid("podid"),
        network_id: network.as_ref().map(|n| n.id),
        vlan: vlan.or_else(|| {
            network
                .as_ref()
                .and_then(|n| n.vni)
                .map(|v| format!("vxlan://{v}"))
        }),
        gateway: gateway.to_string(),
        netmask: netmask.to_string(),
        start_ip: start.to_string(),
        end_ip: end.to_string(),
        for_virtual,
        for_system: args.bool("forsystemvms").unwrap_or(false),
        for_lb,
        account_id: owner.as_ref().map(|a| a.id),
        account_name: None,
        domain_id: owner.as_ref().map(|a| a.domain_id).or(args.id("domainid")),
        domain_name: None,
        domain_path: None,
        created: 0,
    };
    let mut tx = st.store.begin().await?;
    db::vlan_range_insert(&mut tx, &row).await?;
    if row.network_id.is_none() {
        let addrs: Vec<Ipv4Addr> = (u32::from(start)..=u32::from(end))
            .map(Ipv4Addr::from)
            .collect();
        match db::public_ips_insert(&mut tx, zone.id, row.id, &addrs).await {
            Ok(()) => {}
            Err(db::DbError::Conflict(_)) => {
                return param_err(
                    "Some addresses of the range are already public addresses of the zone",
                )
            }
            Err(e) => return Err(e.into()),
        }
    }
    Event::new(
        ctx,
        "VLAN.IP.RANGE.CREATE",
        format!("IP range {start}-{end} created in zone {}", zone.name),
    )
    .resource(row.id, "Vlan", None)
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    range_answer(st, row.id).await
}

pub async fn list_ranges(st: &State, _ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let mut f = db::VlanRangeFilter {
        zone_id: args.uuid("zoneid"),
        network_id: args.id("networkid"),
        physnet_id: args.uuid("physicalnetworkid"),
        offset: 0,
        limit: None,
        ..Default::default()
    };
    f.ids.extend(args.uuid("id"));
    let mut rows = {
        let mut c = st.store.read().await?;
        db::vlan_range_list(&mut c, &f).await?.0
    };
    if let Some(v) = args.bool("forvirtualnetwork") {
        rows.retain(|r| r.for_virtual == v);
    }
    if let Some(v) = args.text("vlan") {
        let want = v.trim_start_matches("vlan://").to_string();
        rows.retain(|r| {
            r.vlan
                .as_deref()
                .map(|x| {
                    x.trim_start_matches("vlan://")
                        .trim_start_matches("vxlan://")
                        .to_string()
                })
                .unwrap_or_else(|| "untagged".into())
                == want
        });
    }
    if let Some(a) = args.text("account") {
        rows.retain(|r| r.account_name.as_deref() == Some(a));
    }
    let total = rows.len() as u64;
    let rows = args.page.slice(rows);
    Ok(list_body(
        "vlaniprange",
        total,
        range_views(st, &rows).await?,
    ))
}

pub async fn delete_range(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let id: Uuid = args.required_id("id")?;
    let r = range_by_id(st, id).await?;
    let mut tx = st.store.begin().await?;
    match r.network_id {
        None => {
            let used = db::public_ips_in_use(&mut tx, r.id).await?;
            if used > 0 {
                return Err(ApiError::new(
                    ErrorCode::ResourceInUse,
                    format!("The IP range can't be deleted because it has {used} allocated public IP addresses"),
                )
                .into());
            }
            db::public_ips_delete_range(&mut tx, r.id).await?;
        }
        Some(n) => {
            let (a, b): (Ipv4Addr, Ipv4Addr) = (
                r.start_ip.parse().unwrap_or(Ipv4Addr::UNSPECIFIED),
                r.end_ip.parse().unwrap_or(Ipv4Addr::UNSPECIFIED),
            );
            let busy = db::nic_ips(&mut tx, n).await?.into_iter().any(|x| {
                x.parse::<Ipv4Addr>()
                    .map(|x| (u32::from(a)..=u32::from(b)).contains(&u32::from(x)))
                    .unwrap_or(false)
            });
            if busy {
                return Err(ApiError::new(
                    ErrorCode::ResourceInUse,
                    "The IP range can't be deleted: VMs hold addresses of it".to_string(),
                )
                .into());
            }
        }
    }
    db::vlan_range_remove(&mut tx, r.id).await?;
    Event::new(
        ctx,
        "VLAN.IP.RANGE.DELETE",
        format!("IP range {}-{} deleted", r.start_ip, r.end_ip),
    )
    .resource(r.id, "Vlan", None)
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(success_body())
}

/// The public range `id` (not a shared network's).
async fn public_range(st: &State, id: Uuid) -> AppResult<VlanRangeRow> {
    Some(range_by_id(st, id).await?)
        .filter(|r| r.network_id.is_none())
        .ok_or_else(|| ApiError::invalid_id("id", &id.to_string()).into())
}

/// The range `id` (public or a shared network's).
async fn range_by_id(st: &State, id: Uuid) -> AppResult<VlanRangeRow> {
    let mut c = st.store.read().await?;
    db::vlan_range_list(
        &mut c,
        &db::VlanRangeFilter {
            ids: vec![id],
            ..Default::default()
        },
    )
    .await?
    .0
    .into_iter()
    .next()
    .ok_or_else(|| ApiError::invalid_id("id", &id.to_string()).into())
}

/// The `vlan` answer of a range, as it is now.
async fn range_answer(st: &State, id: Uuid) -> AppResult<Value> {
    let r = range_by_id(st, id).await?;
    let v = range_views(st, std::slice::from_ref(&r)).await?;
    Ok(json!({ "vlan": v.into_iter().next().unwrap_or(Value::Null) }))
}

/// dedicatePublicIpRange: a public range becomes one account's (or, with `projectid`, a
/// project's): its addresses go to that account only. Refused while another account holds
/// one of them.
pub async fn dedicate_range(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let r = public_range(st, args.required_id("id")?).await?;
    let name = args.required_str("account")?;
    let acct = crate::access::account_by_name(st, ctx, name, args.id("domainid")).await?;
    if let Some(owner) = r.account_id.filter(|o| *o != acct.id) {
        return param_err(format!(
            "The IP range is already dedicated to account {}",
            r.account_name.clone().unwrap_or_else(|| owner.to_string())
        ));
    }
    let held = {
        let mut c = st.store.read().await?;
        db::public_ip_list(
            &mut c,
            &db::PublicIpFilter {
                range_id: Some(r.id),
                allocated_only: true,
                ..Default::default()
            },
        )
        .await?
        .0
    };
    if let Some(ip) = held
        .iter()
        .find(|ip| ip.account_id.is_some_and(|a| a != acct.id))
    {
        return param_err(format!(
            "Public IP address {} of the range is allocated to another account: release it first",
            ip.address
        ));
    }
    let mut tx = st.store.begin().await?;
    db::vlan_range_set_owner(&mut tx, r.id, Some((acct.id, acct.domain_id))).await?;
    Event::new(
        ctx,
        "VLAN.IP.RANGE.DEDICATE",
        format!(
            "IP range {}-{} dedicated to {}",
            r.start_ip, r.end_ip, acct.name
        ),
    )
    .resource(r.id, "Vlan", None)
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    range_answer(st, r.id).await
}

/// releasePublicIpRange: a dedicated public range goes back to the zone.
pub async fn release_range(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let r = public_range(st, args.required_id("id")?).await?;
    if r.account_id.is_none() {
        return param_err("The IP range is not dedicated to an account");
    }
    let mut tx = st.store.begin().await?;
    db::vlan_range_set_owner(&mut tx, r.id, None).await?;
    Event::new(
        ctx,
        "VLAN.IP.RANGE.RELEASE",
        format!("IP range {}-{} released", r.start_ip, r.end_ip),
    )
    .resource(r.id, "Vlan", None)
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(success_body())
}

/// updateVlanIpRange: new start/end (grow or shrink), gateway/netmask, forsystemvms. As
/// CloudStack's `updateVlanAndPublicIpRange`: every allocated address must stay inside the
/// new range, the new range must not overlap another of the zone (or of the network), and
/// the subnet of a shared network's range stays the network's.
pub async fn update_range(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let id: Uuid = args.required_id("id")?;
    let old = range_by_id(st, id).await?;
    let old_start = ip("startip", Some(&old.start_ip))?;
    let old_end = ip("endip", Some(&old.end_ip))?;
    let start = match args.text("startip") {
        Some(v) => ip("startip", Some(v))?,
        None => old_start,
    };
    let end = match args.text("endip") {
        Some(v) => ip("endip", Some(v))?,
        None => old_end,
    };
    let gateway = match args.text("gateway") {
        Some(v) => ip("gateway", Some(v))?,
        None => ip("gateway", Some(&old.gateway))?,
    };
    let netmask = match args.text("netmask") {
        Some(v) => ip("netmask", Some(v))?,
        None => ip("netmask", Some(&old.netmask))?,
    };
    if u32::from(end) < u32::from(start) {
        return param_err(format!(
            "Invalid range {start}-{end}: the end is before the start"
        ));
    }
    if u32::from(end) - u32::from(start) >= MAX_RANGE {
        return param_err(format!("A range holds at most {MAX_RANGE} addresses"));
    }
    let prefix = model::net::prefix_len(netmask)
        .ok_or_else(|| ApiError::param(format!("Invalid netmask {netmask}")))?;
    let cidr =
        netplan::Cidr::new(gateway, prefix).ok_or_else(|| ApiError::param("Invalid netmask"))?;
    if !cidr.contains(start) || !cidr.contains(end) {
        return param_err(format!(
            "The range {start}-{end} is not inside {cidr} (gateway {gateway}, netmask {netmask})"
        ));
    }
    if (u32::from(start)..=u32::from(end)).contains(&u32::from(gateway)) {
        return param_err("The gateway cannot be inside the IP range");
    }
    if let Some(n) = old.network_id {
        let net = networks::network_get(st, "networkid", n).await?;
        if net.cidr.as_deref() != Some(&cidr.to_string()) {
            return param_err(format!(
                "The range's subnet {cidr} is not the network's ({})",
                net.cidr.as_deref().unwrap_or("none")
            ));
        }
    }
    let others = {
        let mut c = st.store.read().await?;
        db::vlan_range_list(
            &mut c,
            &db::VlanRangeFilter {
                zone_id: Some(old.zone_id),
                ..Default::default()
            },
        )
        .await?
        .0
    };
    for r in others.iter().filter(|r| r.id != old.id) {
        let (Ok(a), Ok(b)) = (r.start_ip.parse::<Ipv4Addr>(), r.end_ip.parse::<Ipv4Addr>()) else {
            continue;
        };
        if r.network_id == old.network_id && netplan::ipam::ranges_overlap((a, b), (start, end)) {
            return param_err(format!(
                "The IP range {start}-{end} overlaps the existing range {a}-{b} (id {})",
                r.id
            ));
        }
    }
    let inside = |x: Ipv4Addr| (u32::from(start)..=u32::from(end)).contains(&u32::from(x));
    let mut tx = st.store.begin().await?;
    match old.network_id {
        None => {
            let held = db::public_ips_in_use_outside(&mut tx, old.id, start, end).await?;
            if held > 0 {
                return Err(ApiError::new(
                    ErrorCode::ResourceInUse,
                    format!("The IP range can't be changed to {start}-{end}: {held} allocated public IP addresses would fall outside it"),
                )
                .into());
            }
            db::public_ips_trim_range(&mut tx, old.id, start, end).await?;
            let was = |x: u32| (u32::from(old_start)..=u32::from(old_end)).contains(&x);
            let added: Vec<Ipv4Addr> = (u32::from(start)..=u32::from(end))
                .filter(|x| !was(*x))
                .map(Ipv4Addr::from)
                .collect();
            match db::public_ips_insert(&mut tx, old.zone_id, old.id, &added).await {
                Ok(()) => {}
                Err(db::DbError::Conflict(_)) => {
                    return param_err(
                        "Some addresses of the new range are already public addresses of the zone",
                    )
                }
                Err(e) => return Err(e.into()),
            }
        }
        Some(n) => {
            let outside = db::nic_ips(&mut tx, n)
                .await?
                .into_iter()
                .filter_map(|x| x.parse::<Ipv4Addr>().ok())
                .filter(|x| {
                    (u32::from(old_start)..=u32::from(old_end)).contains(&u32::from(*x))
                        && !inside(*x)
                })
                .count();
            if outside > 0 {
                return Err(ApiError::new(
                    ErrorCode::ResourceInUse,
                    format!("The IP range can't be changed to {start}-{end}: {outside} addresses held by VMs would fall outside it"),
                )
                .into());
            }
        }
    }
    let new = VlanRangeRow {
        gateway: gateway.to_string(),
        netmask: netmask.to_string(),
        start_ip: start.to_string(),
        end_ip: end.to_string(),
        for_system: args.bool("forsystemvms").unwrap_or(old.for_system),
        ..old.clone()
    };
    db::vlan_range_set_bounds(&mut tx, &new).await?;
    Event::new(
        ctx,
        "VLAN.IP.RANGE.UPDATE",
        format!(
            "IP range {}-{} updated to {start}-{end}",
            old.start_ip, old.end_ip
        ),
    )
    .resource(old.id, "Vlan", None)
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    range_answer(st, old.id).await
}
