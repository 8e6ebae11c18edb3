//! VPCs: a super CIDR an account carves tiers (networks with `vpcid`) from, one router that
//! routes between the tiers and to the public side, and network ACL lists guarding each tier
//! ([`acls`]).

pub mod acls;
pub mod private_gateways;
pub mod service_tags;

use std::collections::HashMap;

use api::{list_body, success_body, ApiError, Args};
use db::{Infra, InfraRow, VpcRow};
use model::VpcId;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::access;
use crate::context::OpContext;
use crate::error::{param_err, AppResult};
use crate::events::Event;
use crate::jobs::{JobPlan, JobRef};
use crate::state::State;

/// The VPC `id` names, if the caller may change it (its own, or one an admin reaches).
pub(crate) async fn owned_vpc(
    st: &State,
    ctx: &OpContext,
    param: &str,
    id: Uuid,
) -> AppResult<VpcRow> {
    let v = {
        let mut c = st.store.read().await?;
        db::vpc_get(&mut c, VpcId(id)).await?
    }
    .ok_or_else(|| ApiError::invalid_id(param, &id.to_string()))?;
    match v.account_id {
        Some(a) if a == ctx.account_id() => {}
        Some(a) => {
            let acct = access::account(st, "account", a).await?;
            access::check_account(ctx, &acct)?;
        }
        None if ctx.is_root_admin() => {}
        None => return Err(ApiError::invalid_id(param, &id.to_string()).into()),
    }
    Ok(v)
}

/// Checks a VPC's super CIDR: an IPv4 prefix given by its network address, inside the private
/// ranges (RFC 1918), no longer than /28 so it can hold a tier.
pub(crate) fn vpc_cidr(given: &str) -> AppResult<netplan::Cidr> {
    let c: netplan::Cidr = given
        .parse()
        .map_err(|_| ApiError::param(format!("Invalid cidr {given}: give a.b.c.d/len")))?;
    if !given.contains('/') || c.to_string() != given.trim() {
        return param_err(format!("Invalid cidr {given}: give it as {c}"));
    }
    let private: [netplan::Cidr; 3] = [
        netplan::Cidr::new([10, 0, 0, 0].into(), 8).unwrap_or(netplan::Cidr::any()),
        netplan::Cidr::new([172, 16, 0, 0].into(), 12).unwrap_or(netplan::Cidr::any()),
        netplan::Cidr::new([192, 168, 0, 0].into(), 16).unwrap_or(netplan::Cidr::any()),
    ];
    if !private.iter().any(|p| p.contains(c.addr) && c.len >= p.len) {
        return param_err(format!(
            "The VPC cidr {c} is not a private (RFC 1918) range: use one inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16"
        ));
    }
    if c.len > 28 {
        return param_err(format!(
            "The VPC cidr {c} is too small: give a /28 or larger"
        ));
    }
    Ok(c)
}

fn plan(v: &VpcRow, what: &str, returns_id: bool) -> JobPlan {
    JobPlan {
        instance_type: Some("Vpc"),
        instance_id: Some(v.id.to_string()),
        returns_id,
        description: format!("{what} VPC {}", v.name),
    }
}

/// Views of VPCs: zone and offering names, the offering's services, the tiers.
pub(crate) async fn views(st: &State, ctx: &OpContext, rows: &[VpcRow]) -> AppResult<Vec<Value>> {
    let zones =
        crate::handlers::zones::names(st, Infra::Zone, rows.iter().map(|v| v.zone_id)).await?;
    let mut offerings: HashMap<Uuid, InfraRow> = HashMap::new();
    let tiers = {
        let mut c = st.store.read().await?;
        for o in rows.iter().map(|v| v.vpc_offering_id) {
            if let std::collections::hash_map::Entry::Vacant(e) = offerings.entry(o) {
                if let Some(r) = db::infra_get(&mut c, Infra::VpcOffering, o).await? {
                    e.insert(r);
                }
            }
        }
        if rows.is_empty() {
            Vec::new()
        } else {
            db::network_list(
                &mut c,
                &db::NetworkFilter {
                    vpc_ids: rows.iter().map(|v| v.id).collect(),
                    ..Default::default()
                },
            )
            .await?
            .0
            .into_iter()
            .filter(|n| n.guest_type != private_gateways::GUEST_TYPE)
            .collect()
        }
    };
    let tier_views = crate::handlers::networks::views(st, ctx, &tiers).await?;
    let tags =
        crate::handlers::tags::for_resources(st, &rows.iter().map(|v| v.id.0).collect::<Vec<_>>())
            .await?;
    Ok(rows
        .iter()
        .map(|v| {
            let off = offerings.get(&v.vpc_offering_id);
            let nets: Vec<Value> = tiers
                .iter()
                .zip(&tier_views)
                .filter(|(t, _)| t.vpc_id == Some(v.id))
                .map(|(_, tv)| tv.clone())
                .collect();
            let mut o = json!({
                "id": v.id,
                "name": v.name,
                "displaytext": v.display_text,
                "state": v.state,
                "zoneid": v.zone_id,
                "cidr": v.cidr,
                "vpcofferingid": v.vpc_offering_id,
                "network": nets,
                "service": off.map(crate::handlers::offerings::vpc_services_view).unwrap_or_default(),
                "restartrequired": v.attrs["restartrequired"].as_bool().unwrap_or(false),
                "redundantvpcrouter": false,
                "regionlevelvpc": false,
                "distributedvpcrouter": false,
                "fordisplay": v.attrs["fordisplay"].as_bool().unwrap_or(true),
                "created": api::time::format_ms(v.created),
                "tags": crate::handlers::tags::embedded(&tags, v.id.0),
            });
            if let Some(z) = zones.get(&v.zone_id) {
                o["zonename"] = json!(z);
            }
            if let Some(off) = off {
                o["vpcofferingname"] = json!(off.name);
            }
            if let Some(d) = &v.network_domain {
                o["networkdomain"] = json!(d);
            }
            for k in ["dns1", "dns2"] {
                if let Some(d) = v.attrs[k].as_str() {
                    o[k] = json!(d);
                }
            }
            if let Some(a) = &v.account_name {
                o["account"] = json!(a);
            }
            if let (Some(d), Some(dn)) = (v.domain_id, &v.domain_name) {
                o["domainid"] = json!(d);
                o["domain"] = json!(dn);
                o["domainpath"] = json!(model::identity::display_domain_path(
                    v.domain_path.as_deref().unwrap_or("/")
                ));
            }
            o
        })
        .collect())
}

pub(crate) async fn vpc_get(st: &State, param: &str, id: VpcId) -> AppResult<VpcRow> {
    let mut c = st.store.read().await?;
    db::vpc_get(&mut c, id)
        .await?
        .ok_or_else(|| ApiError::invalid_id(param, &id.to_string()).into())
}

pub async fn create_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let zone =
        crate::handlers::zones::get(st, Infra::Zone, "zoneid", args.required_id("zoneid")?).await?;
    if zone.kind.eq_ignore_ascii_case("basic") {
        return param_err(format!(
            "Zone {} is a basic zone: VPCs need an advanced zone",
            zone.name
        ));
    }
    let offering = crate::handlers::offerings::usable(
        st,
        &ctx.user.account,
        Infra::VpcOffering,
        "vpcofferingid",
        args.required_id("vpcofferingid")?,
    )
    .await?;
    if !offering.state.eq_ignore_ascii_case("enabled") {
        return param_err(format!(
            "VPC offering {} is not in Enabled state; it cannot be used to create VPCs",
            offering.name
        ));
    }
    let name = args.required_str("name")?.trim().to_string();
    if name.is_empty() {
        return param_err("VPC name cannot be empty");
    }
    let cidr = vpc_cidr(args.required_str("cidr")?)?;
    let acct = crate::handlers::vms::owner_account(st, ctx, args).await?;
    let mut attrs = json!({ "fordisplay": args.bool("fordisplay").unwrap_or(true) });
    for k in ["dns1", "dns2"] {
        if let Some(d) = args.text(k) {
            d.trim()
                .parse::<std::net::Ipv4Addr>()
                .map_err(|_| ApiError::param(format!("Invalid {k} {d}: give an IPv4 address")))?;
            attrs[k] = json!(d.trim());
        }
    }
    let domain = match args.text("networkdomain").map(str::trim) {
        Some(d) => {
            crate::validate::network_domain(d)?;
            d.to_string()
        }
        None => crate::handlers::zones::attr_str(&zone, "domain")
            .unwrap_or_else(|| "cs.cloud.internal".into()),
    };
    crate::handlers::limits::enforce(st, &acct, &[(model::limits::ResourceType::Vpc, 1)]).await?;
    let row = VpcRow {
        id: VpcId::new(),
        name: name.clone(),
        display_text: args.text("displaytext").unwrap_or(&name).to_string(),
        zone_id: zone.id,
        account_id: Some(acct.id),
        account_name: None,
        domain_id: Some(acct.domain_id),
        domain_name: None,
        domain_path: None,
        vpc_offering_id: offering.id,
        cidr: cidr.to_string(),
        network_domain: Some(domain),
        state: model::VpcState::Enabled,
        attrs,
        created: 0,
    };
    let mut tx = st.store.begin().await?;
    match db::vpc_insert(&mut tx, &row).await {
        Ok(()) => {}
        Err(db::DbError::Conflict(_)) => {
            return param_err(format!(
                "A VPC with name {name} already exists for account {} in zone {}",
                acct.name, zone.name
            ))
        }
        Err(e) => return Err(e.into()),
    }
    Event::new(ctx, "VPC.CREATE", format!("VPC {name} created"))
        .resource(row.id.0, "Vpc", Some(&name))
        .record(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(plan(&row, "Creating", true))
}

pub async fn create_run(
    st: &State,
    ctx: &OpContext,
    _args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let v = vpc_get(st, "id", job.instance()?).await?;
    Ok(json!({ "vpc": views(st, ctx, &[v]).await?.remove(0) }))
}

pub async fn list(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let scope = access::owner_scope(st, ctx, args).await?;
    let state =
        match args.text("state") {
            Some(s) => Some(s.parse::<model::VpcState>().map_err(|_| {
                ApiError::param(format!("Invalid state {s}: use Enabled or Inactive"))
            })?),
            None => None,
        };
    let f = db::VpcFilter {
        scope: Some(scope),
        ids: args.uuid("id").map(|i| vec![VpcId(i)]).unwrap_or_default(),
        zone_id: args.uuid("zoneid"),
        name: args.text("name").map(str::to_string),
        keyword: args.text("keyword").map(str::to_string),
        state,
        offering_id: args.uuid("vpcofferingid"),
        offset: 0,
        limit: None,
    };
    let rows = {
        let mut c = st.store.read().await?;
        db::vpc_list(&mut c, &f).await?.0
    };
    let wanted: Vec<String> = args
        .list("supportedservices")
        .map(|l| {
            l.iter()
                .flat_map(|s| s.split(','))
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let mut offerings: HashMap<Uuid, Option<InfraRow>> = HashMap::new();
    let mut keep = Vec::new();
    for v in rows {
        if let Some(c) = args.text("cidr") {
            if v.cidr != c.trim() {
                continue;
            }
        }
        if let Some(d) = args.text("displaytext") {
            if v.display_text != d {
                continue;
            }
        }
        if let Some(r) = args.bool("restartrequired") {
            if v.attrs["restartrequired"].as_bool().unwrap_or(false) != r {
                continue;
            }
        }
        if let Some(fd) = args.bool("fordisplay") {
            if v.attrs["fordisplay"].as_bool().unwrap_or(true) != fd {
                continue;
            }
        }
        if !wanted.is_empty() {
            if let std::collections::hash_map::Entry::Vacant(e) = offerings.entry(v.vpc_offering_id)
            {
                let mut c = st.store.read().await?;
                e.insert(db::infra_get(&mut c, Infra::VpcOffering, v.vpc_offering_id).await?);
            }
            let Some(Some(o)) = offerings.get(&v.vpc_offering_id) else {
                continue;
            };
            if !wanted
                .iter()
                .all(|w| crate::handlers::offerings::vpc_offering_has(o, w))
            {
                continue;
            }
        }
        keep.push(v);
    }
    let total = keep.len() as u64;
    let page = args.page.slice(keep);
    Ok(list_body("vpc", total, views(st, ctx, &page).await?))
}

pub async fn update_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let v = owned_vpc(st, ctx, "id", args.required_id("id")?).await?;
    if args.has("customid") {
        return param_err("customid is not supported");
    }
    if let Some(n) = args.text("name") {
        if n.trim().is_empty() {
            return param_err("VPC name cannot be empty");
        }
    }
    Ok(plan(&v, "Updating", false))
}

pub async fn update_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    _job: &JobRef,
) -> AppResult<Value> {
    let mut v = owned_vpc(st, ctx, "id", args.required_id("id")?).await?;
    if let Some(n) = args.text("name") {
        v.name = n.trim().to_string();
    }
    if let Some(d) = args.text("displaytext") {
        v.display_text = d.to_string();
    }
    if let Some(fd) = args.bool("fordisplay") {
        v.attrs["fordisplay"] = json!(fd);
    }
    let mut tx = st.store.begin().await?;
    match db::vpc_update(&mut tx, &v).await {
        Ok(_) => {}
        Err(db::DbError::Conflict(_)) => {
            return param_err(format!(
                "A VPC with name {} already exists for this account in its zone",
                v.name
            ))
        }
        Err(e) => return Err(e.into()),
    }
    Event::new(ctx, "VPC.UPDATE", format!("VPC {} updated", v.name))
        .resource(v.id.0, "Vpc", Some(&v.name))
        .record(&mut tx)
        .await?;
    tx.commit().await?;
    let v = vpc_get(st, "id", v.id).await?;
    Ok(json!({ "vpc": views(st, ctx, &[v]).await?.remove(0) }))
}

/// The VPC's tiers (its private gateways are networks of the VPC too, but not tiers).
pub(crate) async fn tiers_of(st: &State, vpc: VpcId) -> AppResult<Vec<db::NetworkRow>> {
    let mut c = st.store.read().await?;
    Ok(db::network_list(
        &mut c,
        &db::NetworkFilter {
            vpc_ids: vec![vpc],
            ..Default::default()
        },
    )
    .await?
    .0
    .into_iter()
    .filter(|n| n.guest_type != private_gateways::GUEST_TYPE)
    .collect())
}

pub async fn restart_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let v = owned_vpc(st, ctx, "id", args.required_id("id")?).await?;
    if args.flag("makeredundant") {
        return param_err("Redundant VPC routers are not supported");
    }
    Ok(plan(&v, "Restarting", false))
}

pub async fn restart_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    _job: &JobRef,
) -> AppResult<Value> {
    let mut v = owned_vpc(st, ctx, "id", args.required_id("id")?).await?;
    let nets: Vec<model::NetworkId> = tiers_of(st, v.id).await?.iter().map(|n| n.id).collect();
    crate::netsync::networks_changed(st, &nets).await?;
    if v.attrs["restartrequired"].as_bool().unwrap_or(false) {
        v.attrs["restartrequired"] = json!(false);
        let mut tx = st.store.begin().await?;
        db::vpc_update(&mut tx, &v).await?;
        tx.commit().await?;
    }
    let mut tx = st.store.begin().await?;
    Event::new(ctx, "VPC.RESTART", format!("VPC {} restarted", v.name))
        .resource(v.id.0, "Vpc", Some(&v.name))
        .record(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(success_body())
}

pub async fn delete_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let v = owned_vpc(st, ctx, "id", args.required_id("id")?).await?;
    let tiers = tiers_of(st, v.id).await?;
    if !tiers.is_empty() {
        return param_err(format!(
            "Can't delete VPC {} as it has {} network(s): delete its tiers first",
            v.name,
            tiers.len()
        ));
    }
    Ok(plan(&v, "Deleting", false))
}

pub async fn delete_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    _job: &JobRef,
) -> AppResult<Value> {
    let id = args.required_id("id")?;
    let v = match owned_vpc(st, ctx, "id", id).await {
        Ok(v) => v,
        // Already gone (a resumed job).
        Err(_) => return Ok(success_body()),
    };
    // Its router goes (its host is told), its addresses are released.
    let key = model::NetworkId(v.id.0);
    let hosts = crate::netsync::hosts_of_networks(st, &[key]).await?;
    let mut tx = st.store.begin().await?;
    let routers = db::router_list(
        &mut tx,
        &db::RouterFilter {
            network_ids: vec![key],
            ..Default::default()
        },
    )
    .await?
    .0;
    for r in routers {
        db::router_remove(&mut tx, r.id).await?;
    }
    let ips = db::public_ip_list(
        &mut tx,
        &db::PublicIpFilter {
            network_id: Some(key),
            ..Default::default()
        },
    )
    .await?
    .0;
    for ip in ips {
        db::public_ip_release(&mut tx, ip.id).await?;
    }
    // Its private gateways and static routes, then its own ACL lists and their items.
    private_gateways::remove_all(&mut tx, v.id).await?;
    super::s2svpn::remove_for_vpc(&mut tx, v.id).await?;
    let lists = db::rule_list(
        &mut tx,
        &db::RuleFilter {
            kinds: vec!["acllist"],
            parent_ids: vec![v.id.0],
            ..Default::default()
        },
    )
    .await?
    .0;
    for l in lists {
        db::rule_remove(&mut tx, db::RuleOwner::Parent, l.id).await?;
        db::rule_remove(&mut tx, db::RuleOwner::Id, l.id).await?;
    }
    db::vpc_remove(&mut tx, v.id).await?;
    Event::new(ctx, "VPC.DELETE", format!("VPC {} deleted", v.name))
        .resource(v.id.0, "Vpc", Some(&v.name))
        .record(&mut tx)
        .await?;
    tx.commit().await?;
    crate::netsync::request(st, hosts, false).await;
    Ok(success_body())
}
