//! IP address management: VLAN IP ranges (public ranges, the guest range of a basic zone, the
//! ranges of shared networks), public IPs (associate, disassociate, list; one source-NAT IP per
//! isolated network, taken when the network is implemented), and static NAT.
//!
//! A public range's addresses are rows (Free until associated), so two concurrent associations
//! cannot take the same address: the claim is a conditional update.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use api::{list_body, success_body, ApiError, Args, ErrorCode};
use db::{Infra, PublicIpRow, VlanRangeRow};
use model::identity::display_domain_path;
use rand::Rng;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::context::OpContext;
use crate::error::{param_err, AppResult};
use crate::events::Event;
use crate::jobs::{JobPlan, JobRef};
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
    let zones = super::zones::names(st, Infra::Zone, rows.iter().map(|r| r.zone_id)).await?;
    let pods = super::zones::names(st, Infra::Pod, rows.iter().filter_map(|r| r.pod_id)).await?;
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
    let vni = super::networks::allocate_vni(st, zone).await?;
    let row = db::NetworkRow {
        id: Uuid::new_v4(),
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
        state: "Setup".into(),
        cidr: Some(format!("{net}/{prefix}")),
        gateway: Some(gateway.to_string()),
        netmask: Some(super::networks::mask_of(prefix).to_string()),
        network_domain: super::zones::attr_str(zone, "domain"),
        vni: Some(vni),
        network_offering_id: Some(offering.id),
        attrs: json!({
            "acltype": "Domain",
            "services": super::networks::services_of(&offering),
            "egressdefaultpolicy": true,
            "subdomainaccess": true,
        }),
        created: 0,
    };
    let mut tx = st.store.begin().await?;
    db::network_insert(&mut tx, &row).await?;
    tx.commit().await?;
    super::networks::network_get(st, "networkid", row.id).await
}

pub async fn create_range(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    if args.has("projectid") {
        return param_err("Projects are not supported");
    }
    let network = match args.uuid("networkid") {
        Some(n) => Some(super::networks::network_get(st, "networkid", n).await?),
        None => None,
    };
    let zone_id = match (args.uuid("zoneid"), &network) {
        (Some(z), _) => z,
        (None, Some(n)) => n.zone_id,
        (None, None) => match args.uuid("podid") {
            Some(p) => super::zones::get(st, Infra::Pod, "podid", p).await?.zone_id,
            None => return param_err("Please specify zoneid, podid or networkid"),
        },
    };
    let zone = super::zones::get(st, Infra::Zone, "zoneid", zone_id).await?;
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
        Some(v) => Some(format!("vlan://{}", super::networks::parse_vni(v)?)),
    };
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
    let r = {
        let mut c = st.store.read().await?;
        db::vlan_range_list(
            &mut c,
            &db::VlanRangeFilter {
                ids: vec![row.id],
                ..Default::default()
            },
        )
        .await?
        .0
    };
    Ok(json!({ "vlan": range_views(st, &r).await?.into_iter().next().unwrap_or_default() }))
}

pub async fn list_ranges(st: &State, _ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let mut f = db::VlanRangeFilter {
        zone_id: args.uuid("zoneid"),
        network_id: args.uuid("networkid"),
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
    let r = {
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
    }
    .ok_or_else(|| ApiError::invalid_id("id", &id.to_string()))?;
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

// --- public IPs --------------------------------------------------------------------------

/// The public IP the caller may act on.
pub(crate) async fn owned_ip(
    st: &State,
    ctx: &OpContext,
    param: &str,
    id: Uuid,
) -> AppResult<PublicIpRow> {
    let ip = {
        let mut c = st.store.read().await?;
        db::public_ip_get(&mut c, id).await?
    };
    let Some(ip) = ip else {
        return Err(ApiError::invalid_id(param, &id.to_string()).into());
    };
    match ip.account_id {
        Some(a) if a == ctx.account_id() => Ok(ip),
        Some(a) => {
            let acct = crate::access::account(st, "account", a).await?;
            crate::access::check_account(ctx, &acct)?;
            Ok(ip)
        }
        None if ctx.is_root_admin() => Ok(ip),
        None => Err(ApiError::invalid_id(param, &id.to_string()).into()),
    }
}

/// A stable id for a zone's public network (CloudStack has one network row per zone for
/// public traffic; Canopy derives its id).
fn public_network_id(zone: Uuid) -> Uuid {
    Uuid::new_v5(&zone, b"public")
}

async fn ip_views(st: &State, ctx: &OpContext, rows: &[PublicIpRow]) -> AppResult<Vec<Value>> {
    let zones = super::zones::names(st, Infra::Zone, rows.iter().map(|r| r.zone_id)).await?;
    let mut nets: HashMap<Uuid, String> = HashMap::new();
    let mut vms: HashMap<Uuid, db::VmRow> = HashMap::new();
    let mut with_rules: std::collections::HashSet<Uuid> = Default::default();
    {
        let mut c = st.store.read().await?;
        for r in rows {
            if let Some(n) = r.network_id {
                if let std::collections::hash_map::Entry::Vacant(e) = nets.entry(n) {
                    if let Some(x) = db::network_get(&mut c, n).await? {
                        e.insert(x.name);
                    }
                }
            }
            if let Some(v) = r.static_nat_vm {
                if let Some(x) = db::vm_get_any(&mut c, v).await? {
                    vms.insert(v, x);
                }
            }
        }
        let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
        for chunk in ids.chunks(500) {
            let rules = db::rule_list(
                &mut c,
                &db::RuleFilter {
                    kinds: vec!["firewall", "portforward", "lb", "ipforward"],
                    ip_ids: chunk.to_vec(),
                    ..Default::default()
                },
            )
            .await?
            .0;
            with_rules.extend(rules.iter().filter_map(|r| r.ip_id));
        }
    }
    let tags =
        super::tags::for_resources(st, &rows.iter().map(|r| r.id).collect::<Vec<_>>()).await?;
    Ok(rows
        .iter()
        .map(|r| {
            let mut v = json!({
                "id": r.id,
                "ipaddress": r.address,
                "zoneid": r.zone_id,
                "issourcenat": r.source_nat,
                "forvirtualnetwork": true,
                "vlanid": r.range_id,
                "vlanname": r.vlan.clone().unwrap_or_else(|| "vlan://untagged".into()),
                "isstaticnat": r.static_nat_vm.is_some(),
                "issystem": false,
                "isportable": false,
                "fordisplay": r.for_display,
                "state": r.state,
                "networkid": public_network_id(r.zone_id),
                "hasrules": with_rules.contains(&r.id),
                "tags": tags.iter().filter(|t| t.resource_id == r.id).map(super::tags::view).collect::<Vec<_>>(),
            });
            if let Some(z) = zones.get(&r.zone_id) {
                v["zonename"] = json!(z);
            }
            if let Some(a) = r.allocated {
                v["allocated"] = json!(api::time::format_ms(a));
            }
            if let Some(p) = r.physnet_id {
                v["physicalnetworkid"] = json!(p);
            }
            if let Some(n) = r.network_id {
                v["associatednetworkid"] = json!(n);
                if let Some(name) = nets.get(&n) {
                    v["associatednetworkname"] = json!(name);
                }
            }
            if let Some(vm) = r.static_nat_vm {
                v["virtualmachineid"] = json!(vm);
                v["virtualmachinetype"] = json!("User");
                v["purpose"] = json!("StaticNat");
                if let Some(x) = vms.get(&vm) {
                    v["virtualmachinename"] = json!(x.name);
                    v["virtualmachinedisplayname"] = json!(x.display_name);
                }
                if let Some(g) = &r.static_nat_ip {
                    v["vmipaddress"] = json!(g);
                }
            }
            if let Some(a) = &r.account_name {
                v["account"] = json!(a);
            }
            if let (Some(d), Some(dn)) = (r.domain_id, &r.domain_name) {
                v["domainid"] = json!(d);
                v["domain"] = json!(dn);
                v["domainpath"] = json!(display_domain_path(r.domain_path.as_deref().unwrap_or("/")));
            }
            if !ctx.is_admin() {
                if let Some(o) = v.as_object_mut() {
                    o.remove("physicalnetworkid");
                }
            }
            v
        })
        .collect())
}

pub async fn list_ips(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let allocated_only = args.bool("allocatedonly").unwrap_or(true);
    if args.uuid("vpcid").is_some() {
        return Ok(list_body("publicipaddress", 0, Vec::new()));
    }
    let scope = crate::access::owner_scope(st, ctx, args).await?;
    let free_view = !allocated_only && ctx.is_root_admin() && args.text("account").is_none();
    let mut f = db::PublicIpFilter {
        scope: if free_view { None } else { Some(scope) },
        zone_id: args.uuid("zoneid"),
        network_id: args.uuid("associatednetworkid"),
        range_id: args.uuid("vlanid"),
        address: args.text("ipaddress").map(str::to_string),
        allocated_only,
        state: args.text("state").map(str::to_string),
        source_nat: args.bool("issourcenat"),
        static_nat: args.bool("isstaticnat"),
        offset: args.page.offset,
        limit: args.page.limit,
        ..Default::default()
    };
    f.ids.extend(args.uuid("id"));
    if args.bool("forvirtualnetwork") == Some(false) {
        return Ok(list_body("publicipaddress", 0, Vec::new()));
    }
    let (mut rows, mut total) = {
        let mut c = st.store.read().await?;
        db::public_ip_list(&mut c, &f).await?
    };
    if args.bool("forloadbalancing") == Some(true) {
        let mut c = st.store.read().await?;
        let lbs = db::rule_list(
            &mut c,
            &db::RuleFilter {
                kinds: vec!["lb"],
                ip_ids: rows.iter().map(|r| r.id).collect(),
                ..Default::default()
            },
        )
        .await?
        .0;
        rows.retain(|r| lbs.iter().any(|l| l.ip_id == Some(r.id)));
        total = rows.len() as u64;
    }
    Ok(list_body(
        "publicipaddress",
        total,
        ip_views(st, ctx, &rows).await?,
    ))
}

async fn result(st: &State, ctx: &OpContext, id: Uuid) -> AppResult<Value> {
    let ip = owned_ip(st, ctx, "id", id).await?;
    Ok(json!({ "ipaddress": ip_views(st, ctx, &[ip]).await?.remove(0) }))
}

pub async fn associate_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    if args.uuid("vpcid").is_some() {
        return param_err("VPCs are not supported");
    }
    if args.bool("isportable") == Some(true) {
        return param_err("Portable IP addresses are not supported");
    }
    let acct = super::vms::owner_account(st, ctx, args).await?;
    let network = match (args.uuid("networkid"), args.uuid("zoneid")) {
        (Some(n), _) => super::networks::network_get(st, "networkid", n).await?,
        (None, Some(z)) => {
            let zone = super::zones::get(st, Infra::Zone, "zoneid", z).await?;
            let mut c = st.store.read().await?;
            let (nets, n) = db::network_list(
                &mut c,
                &db::NetworkFilter {
                    scope: Some(db::OwnerScope::Account(acct.id)),
                    zone_id: Some(zone.id),
                    guest_type: Some("Isolated".into()),
                    ..Default::default()
                },
            )
            .await?;
            if n != 1 {
                return param_err(format!(
                    "Please specify networkid: account {} has {n} isolated networks in zone {}",
                    acct.name, zone.name
                ));
            }
            nets.into_iter()
                .next()
                .ok_or_else(|| ApiError::param("no network"))?
        }
        (None, None) => return param_err("Please specify networkid or zoneid"),
    };
    super::networks::check_use(st, ctx, &acct, &network).await?;
    if network.guest_type != "Isolated" {
        return param_err(format!(
            "Public IP addresses are associated with isolated networks; {} is {}",
            network.name, network.guest_type
        ));
    }
    if network.account_id != Some(acct.id) {
        return param_err("The IP address and the network must belong to the same account");
    }
    crate::handlers::limits::enforce(st, &acct, &[(model::limits::ResourceType::PublicIp, 1)])
        .await?;
    let wanted: Option<(Uuid, String)> = match args.text("ipaddress") {
        Some(want) => {
            let mut c = st.store.read().await?;
            let rows = db::public_ip_list(
                &mut c,
                &db::PublicIpFilter {
                    zone_id: Some(network.zone_id),
                    address: Some(want.trim().to_string()),
                    ..Default::default()
                },
            )
            .await?
            .0;
            let Some(r) = rows.into_iter().next() else {
                return param_err(format!(
                    "IP address {want} is not a public address of the zone"
                ));
            };
            if r.state != "Free" {
                return param_err(format!(
                    "IP address {want} is already in use (state {})",
                    r.state
                ));
            }
            Some((r.id, r.address))
        }
        None => None,
    };
    // Claim one: a concurrent association may take a candidate first, so try the free ones
    // in random order, and read them again when all were taken.
    for _ in 0..16 {
        let mut candidates = match &wanted {
            Some(w) => vec![w.clone()],
            None => {
                let mut c = st.store.read().await?;
                db::public_ip_free(&mut c, network.zone_id, acct.id, 32).await?
            }
        };
        if candidates.is_empty() {
            return Err(ApiError::new(
                ErrorCode::InsufficientCapacity,
                format!("Insufficient address capacity: no free public IP address in the zone for network {}", network.name),
            )
            .into());
        }
        {
            let mut r = rand::thread_rng();
            for i in (1..candidates.len()).rev() {
                candidates.swap(i, r.gen_range(0..=i));
            }
        }
        for (id, addr) in candidates {
            let mut tx = st.store.begin().await?;
            if db::public_ip_claim(
                &mut tx,
                id,
                acct.id,
                acct.domain_id,
                Some(network.id),
                false,
                "Allocating",
            )
            .await?
            {
                Event::new(
                    ctx,
                    "NET.IPASSIGN",
                    format!("IP {addr} associated with network {}", network.name),
                )
                .resource(id, "IpAddress", Some(&addr))
                .record(&mut tx)
                .await?;
                tx.commit().await?;
                return Ok(JobPlan {
                    instance_type: Some("IpAddress"),
                    instance_id: Some(id.to_string()),
                    returns_id: true,
                    description: format!("Associating IP {addr}"),
                });
            }
        }
        if wanted.is_some() {
            return param_err("The requested IP address was taken concurrently");
        }
    }
    Err(ApiError::new(
        ErrorCode::InsufficientCapacity,
        "Insufficient address capacity: every candidate address was taken concurrently; try again"
            .to_string(),
    )
    .into())
}

pub async fn associate_run(
    st: &State,
    ctx: &OpContext,
    _args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let id: Uuid = job.instance()?;
    let ip = owned_ip(st, ctx, "id", id).await?;
    if let Some(n) = ip.network_id {
        crate::netsync::networks_changed(st, &[n]).await?;
    }
    let mut tx = st.store.begin().await?;
    db::public_ip_set_state(&mut tx, id, "Allocated").await?;
    tx.commit().await?;
    result(st, ctx, id).await
}

async fn ip_param(st: &State, ctx: &OpContext, args: &Args) -> AppResult<PublicIpRow> {
    match (args.uuid("id"), args.text("ipaddress")) {
        (Some(id), _) => owned_ip(st, ctx, "id", id).await,
        (None, Some(a)) => {
            let rows = {
                let mut c = st.store.read().await?;
                db::public_ip_list(
                    &mut c,
                    &db::PublicIpFilter {
                        address: Some(a.trim().to_string()),
                        allocated_only: true,
                        scope: Some(db::OwnerScope::Account(ctx.account_id())),
                        ..Default::default()
                    },
                )
                .await?
                .0
            };
            match rows.into_iter().next() {
                Some(r) => Ok(r),
                None if ctx.is_admin() => {
                    let mut c = st.store.read().await?;
                    let any = db::public_ip_list(
                        &mut c,
                        &db::PublicIpFilter {
                            address: Some(a.trim().to_string()),
                            allocated_only: true,
                            ..Default::default()
                        },
                    )
                    .await?
                    .0;
                    drop(c);
                    match any.into_iter().next() {
                        Some(r) => owned_ip(st, ctx, "ipaddress", r.id).await,
                        None => param_err(format!("Unable to find an allocated IP address {a}")),
                    }
                }
                None => param_err(format!("Unable to find an allocated IP address {a}")),
            }
        }
        (None, None) => param_err("Please specify id or ipaddress"),
    }
}

pub async fn disassociate_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let ip = ip_param(st, ctx, args).await?;
    if ip.source_nat {
        return param_err(format!(
            "IP address {} is a source NAT address of its network: it is released with the network",
            ip.address
        ));
    }
    Ok(JobPlan {
        instance_type: Some("IpAddress"),
        instance_id: Some(ip.id.to_string()),
        returns_id: false,
        description: format!("Disassociating IP {}", ip.address),
    })
}

pub async fn disassociate_run(
    st: &State,
    ctx: &OpContext,
    _args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let id: Uuid = job.instance()?;
    let Ok(ip) = owned_ip(st, ctx, "id", id).await else {
        return Ok(success_body());
    };
    if ip.state == "Free" {
        return Ok(success_body());
    }
    let mut tx = st.store.begin().await?;
    db::public_ip_set_state(&mut tx, ip.id, "Releasing").await?;
    db::rule_remove(&mut tx, db::RuleOwner::Ip, ip.id).await?;
    db::public_ip_static_nat(&mut tx, ip.id, None).await?;
    tx.commit().await?;
    if let Some(n) = ip.network_id {
        crate::netsync::networks_changed(st, &[n]).await?;
    }
    let mut tx = st.store.begin().await?;
    db::public_ip_release(&mut tx, ip.id).await?;
    Event::new(ctx, "NET.IPRELEASE", format!("IP {} released", ip.address))
        .resource(ip.id, "IpAddress", Some(&ip.address))
        .record(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(success_body())
}

// --- static NAT ----------------------------------------------------------------------------

pub async fn enable_static_nat(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let ip =
        super::netrules::rule_ip(st, ctx, "ipaddressid", args.required_id("ipaddressid")?).await?;
    let net = ip.network_id.unwrap_or_default();
    super::netrules::require_service(st, net, "StaticNat").await?;
    if ip.source_nat {
        return param_err(format!(
            "Static NAT can't be enabled on IP {}: it is the network's source NAT address",
            ip.address
        ));
    }
    if let Some(n) = args.uuid("networkid") {
        if n != net {
            return param_err("networkid must be the network of the IP address");
        }
    }
    let (vm, guest) = super::netrules::target_vm(
        st,
        ctx,
        args.required_id("virtualmachineid")?,
        net,
        args.text("vmguestip"),
    )
    .await?;
    if ip.static_nat_vm == Some(vm.id) {
        return Ok(success_body());
    }
    if ip.static_nat_vm.is_some() {
        return param_err(format!(
            "Failed to enable static NAT for IP {}: it is already static NAT for another VM",
            ip.address
        ));
    }
    {
        let mut c = st.store.read().await?;
        let busy = db::rule_list(
            &mut c,
            &db::RuleFilter {
                kinds: vec!["portforward", "lb"],
                ip_ids: vec![ip.id],
                ..Default::default()
            },
        )
        .await?
        .1;
        if busy > 0 {
            return param_err(format!(
                "Failed to enable static NAT for IP {}: it has port forwarding or load balancing rules",
                ip.address
            ));
        }
        let other = db::public_ip_list(
            &mut c,
            &db::PublicIpFilter {
                static_nat_vm: Some(vm.id),
                network_id: Some(net),
                ..Default::default()
            },
        )
        .await?
        .0;
        if let Some(o) = other.first() {
            return param_err(format!(
                "Failed to enable static NAT: VM {} is already static NAT for IP {}",
                vm.instance_name, o.address
            ));
        }
    }
    let mut tx = st.store.begin().await?;
    if !db::public_ip_static_nat(&mut tx, ip.id, Some((vm.id, guest.clone()))).await? {
        return param_err(format!(
            "Static NAT was enabled on IP {} concurrently",
            ip.address
        ));
    }
    Event::new(
        ctx,
        "STATICNAT.ENABLE",
        format!(
            "Static NAT {} -> {} ({})",
            ip.address, guest, vm.instance_name
        ),
    )
    .resource(ip.id, "IpAddress", Some(&ip.address))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    crate::netsync::networks_changed(st, &[net]).await?;
    Ok(success_body())
}

pub async fn disable_static_nat_prepare(
    st: &State,
    ctx: &OpContext,
    args: &Args,
) -> AppResult<JobPlan> {
    let ip = owned_ip(st, ctx, "ipaddressid", args.required_id("ipaddressid")?).await?;
    if ip.static_nat_vm.is_none() {
        return param_err(format!("Static NAT is not enabled on IP {}", ip.address));
    }
    Ok(JobPlan {
        instance_type: Some("IpAddress"),
        instance_id: Some(ip.id.to_string()),
        returns_id: false,
        description: format!("Disabling static NAT on {}", ip.address),
    })
}

pub async fn disable_static_nat_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    _job: &JobRef,
) -> AppResult<Value> {
    let ip = owned_ip(st, ctx, "ipaddressid", args.required_id("ipaddressid")?).await?;
    let mut tx = st.store.begin().await?;
    db::public_ip_static_nat(&mut tx, ip.id, None).await?;
    // The IP forwarding rules were port ranges of the static NAT.
    let fwd = db::rule_list(
        &mut tx,
        &db::RuleFilter {
            kinds: vec!["ipforward"],
            ip_ids: vec![ip.id],
            ..Default::default()
        },
    )
    .await?
    .0;
    for r in fwd {
        db::rule_remove(&mut tx, db::RuleOwner::Id, r.id).await?;
    }
    Event::new(
        ctx,
        "STATICNAT.DISABLE",
        format!("Static NAT disabled on {}", ip.address),
    )
    .resource(ip.id, "IpAddress", Some(&ip.address))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    if let Some(n) = ip.network_id {
        crate::netsync::networks_changed(st, &[n]).await?;
    }
    Ok(success_body())
}
