//! IP address management: VLAN IP ranges (public ranges, the guest range of a basic zone, the
//! ranges of shared networks), public IPs (associate, disassociate, list; one source-NAT IP per
//! isolated network, taken when the network is implemented), and static NAT.
//!
//! A public range's addresses are rows (Free until associated), so two concurrent associations
//! cannot take the same address: the claim is a conditional update.

mod ranges;
mod static_nat;

pub use ranges::*;
pub use static_nat::*;

use std::collections::HashMap;

use api::{list_body, success_body, ApiError, Args, ErrorCode};
use db::{Infra, PublicIpRow};
use model::identity::display_domain_path;
use rand::Rng;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::context::OpContext;
use crate::error::{param_err, AppResult};
use crate::events::Event;
use crate::jobs::{JobPlan, JobRef};
use crate::state::State;

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
    let mut nets: HashMap<model::NetworkId, String> = HashMap::new();
    let mut vms: HashMap<Uuid, db::VmRow> = HashMap::new();
    let mut with_rules: std::collections::HashSet<Uuid> = Default::default();
    // Addresses of a VPC (its own, under its id) and of its tiers.
    let mut vpcs: HashMap<model::NetworkId, model::VpcId> = HashMap::new();
    let mut vpc_own: std::collections::HashSet<model::NetworkId> = Default::default();
    {
        let mut c = st.store.read().await?;
        for r in rows {
            if let Some(n) = r.network_id {
                if let std::collections::hash_map::Entry::Vacant(e) = nets.entry(n) {
                    if let Some(x) = db::network_get(&mut c, n).await? {
                        if let Some(v) = x.vpc_id {
                            vpcs.insert(n, v);
                        }
                        e.insert(x.name);
                    } else if let Some(v) = db::vpc_get(&mut c, model::VpcId(n.0)).await? {
                        vpc_own.insert(n);
                        vpcs.insert(n, v.id);
                    }
                }
            }
            if let Some(v) = r.static_nat_vm {
                if let Some(x) = db::vm_get_any(&mut c, model::VmId(v)).await? {
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
                "tags": super::tags::embedded(&tags, r.id),
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
                if !vpc_own.contains(&n) {
                    v["associatednetworkid"] = json!(n);
                    if let Some(name) = nets.get(&n) {
                        v["associatednetworkname"] = json!(name);
                    }
                }
                if let Some(vpc) = vpcs.get(&n) {
                    v["vpcid"] = json!(vpc);
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
                v["domainpath"] =
                    json!(display_domain_path(r.domain_path.as_deref().unwrap_or("/")));
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
    let vpc_rows = match args.uuid("vpcid") {
        // A VPC's addresses: its own and its tiers'.
        Some(v) => {
            let vpc = super::vpcs::owned_vpc(st, ctx, "vpcid", v).await?;
            let mut keys = vec![model::NetworkId(vpc.id.0)];
            keys.extend(
                super::vpcs::tiers_of(st, vpc.id)
                    .await?
                    .iter()
                    .map(|t| t.id),
            );
            Some(keys)
        }
        None => None,
    };
    let scope = crate::access::owner_scope(st, ctx, args).await?;
    let free_view = !allocated_only && ctx.is_root_admin() && args.text("account").is_none();
    let mut f = db::PublicIpFilter {
        scope: if free_view { None } else { Some(scope) },
        zone_id: args.uuid("zoneid"),
        network_id: args.id("associatednetworkid"),
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
    let (mut rows, mut total) = match vpc_rows {
        Some(keys) => {
            let mut c = st.store.read().await?;
            let mut rows = Vec::new();
            for k in keys {
                let mut g = f.clone();
                g.network_id = Some(k);
                g.offset = 0;
                g.limit = None;
                rows.extend(db::public_ip_list(&mut c, &g).await?.0);
            }
            rows.sort_by(|a, b| a.address.cmp(&b.address));
            let total = rows.len() as u64;
            (args.page.slice(rows), total)
        }
        None => {
            let mut c = st.store.read().await?;
            db::public_ip_list(&mut c, &f).await?
        }
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

/// Where an associated address goes: a network, or a VPC (stored under the VPC's id, as its
/// router is; the address moves to a tier with its first forwarding or load-balancing rule).
struct Target {
    key: model::NetworkId,
    zone_id: Uuid,
    name: String,
}

pub async fn associate_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    if args.bool("isportable") == Some(true) {
        return param_err("Portable IP addresses are not supported");
    }
    let acct = super::vms::owner_account(st, ctx, args).await?;
    let network = if let Some(v) = args.uuid("vpcid") {
        let vpc = super::vpcs::owned_vpc(st, ctx, "vpcid", v).await?;
        if vpc.account_id != Some(acct.id) {
            return param_err("The IP address and the VPC must belong to the same account");
        }
        Target {
            key: model::NetworkId(vpc.id.0),
            zone_id: vpc.zone_id,
            name: format!("VPC {}", vpc.name),
        }
    } else {
        let network = match (args.uuid("networkid"), args.uuid("zoneid")) {
            (Some(n), _) => {
                super::networks::network_get(st, "networkid", model::NetworkId(n)).await?
            }
            (None, Some(z)) => {
                let zone = super::zones::get(st, Infra::Zone, "zoneid", z).await?;
                let mut c = st.store.read().await?;
                let (nets, n) = db::network_list(
                    &mut c,
                    &db::NetworkFilter {
                        scope: Some(db::OwnerScope::Account(acct.id)),
                        zone_id: Some(zone.id),
                        guest_type: Some("Isolated".into()),
                        in_vpc: Some(false),
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
            (None, None) => return param_err("Please specify networkid, vpcid or zoneid"),
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
        Target {
            key: network.id,
            zone_id: network.zone_id,
            name: network.name.clone(),
        }
    };
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
            if r.state != model::IpState::Free {
                return param_err(format!(
                    "IP address {want} is already in use (state {})",
                    r.state
                ));
            }
            let range = db::vlan_range_list(
                &mut c,
                &db::VlanRangeFilter {
                    ids: vec![r.range_id],
                    ..Default::default()
                },
            )
            .await?
            .0
            .into_iter()
            .next();
            // A range dedicated to another account (dedicatePublicIpRange) is its only.
            if range
                .as_ref()
                .is_some_and(|g| g.account_id.is_some_and(|a| a != acct.id))
            {
                return param_err(format!(
                    "IP address {want} belongs to a range dedicated to another account"
                ));
            }
            let pool = range.is_some_and(|g| g.for_lb);
            if pool {
                return param_err(format!(
                    "IP address {want} belongs to a service IP pool: it goes to load balancer rules created without publicipid"
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
                format!(
                    "Insufficient address capacity: no free public IP address in the zone for {}",
                    network.name
                ),
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
                Some(network.key.into()),
                false,
                model::IpState::Allocating,
            )
            .await?
            {
                Event::new(
                    ctx,
                    "NET.IPASSIGN",
                    format!("IP {addr} associated with {}", network.name),
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
    args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let id: Uuid = job.instance()?;
    let ip = owned_ip(st, ctx, "id", id).await?;
    if let Some(n) = ip.network_id {
        crate::netsync::networks_changed(st, &[n]).await?;
    }
    let mut tx = st.store.begin().await?;
    db::public_ip_set_state(&mut tx, id, model::IpState::Allocated).await?;
    db::public_ip_set_display(&mut tx, id, args.bool("fordisplay").unwrap_or(true)).await?;
    tx.commit().await?;
    result(st, ctx, id).await
}

/// updateIpAddress: whether the address is shown to end users (`fordisplay`); `customid` is
/// accepted (Canopy's ids are the UUIDs it made).
pub async fn update_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let ip = owned_ip(st, ctx, "id", args.required_id("id")?).await?;
    if ip.state == model::IpState::Free {
        return param_err(format!("IP address {} is not allocated", ip.address));
    }
    Ok(JobPlan {
        instance_type: Some("IpAddress"),
        instance_id: Some(ip.id.to_string()),
        returns_id: false,
        description: format!("Updating IP address {}", ip.address),
    })
}

pub async fn update_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let id: Uuid = job.instance()?;
    let ip = owned_ip(st, ctx, "id", id).await?;
    if let Some(show) = args.bool("fordisplay") {
        let mut tx = st.store.begin().await?;
        db::public_ip_set_display(&mut tx, id, show).await?;
        Event::new(
            ctx,
            "NET.IPUPDATE",
            format!("IP address {} updated", ip.address),
        )
        .resource(id, "IpAddress", None)
        .record(&mut tx)
        .await?;
        tx.commit().await?;
    }
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
    if ip.state == model::IpState::Free {
        return Ok(success_body());
    }
    release(st, ctx, &ip).await?;
    Ok(success_body())
}

/// Releases an address: its rules and static NAT go, the router stops answering on it, and it
/// is Free again.
pub(crate) async fn release(st: &State, ctx: &OpContext, ip: &PublicIpRow) -> AppResult<()> {
    let mut tx = st.store.begin().await?;
    db::public_ip_set_state(&mut tx, ip.id, model::IpState::Releasing).await?;
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
    Ok(())
}
