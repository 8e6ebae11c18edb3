//! A guest network's life: created (Allocated; shared networks Setup), implemented when its
//! first VM starts (a VNI from the physical network's range, a router placed on a host of the
//! zone with the source-NAT address, state Implemented), shut down by the garbage collector
//! once no VM has used it for `network.gc.wait` (router gone, VNI released, Allocated again;
//! public IPs and rules are kept), deleted when no VM is left on it.

use std::net::Ipv4Addr;

use api::{success_body, ApiError, Args, ErrorCode};
use db::{DbError, Infra, NetworkRow};
use serde_json::{json, Value};
use uuid::Uuid;

use super::*;
use crate::events::Event;
use crate::jobs::{JobPlan, JobRef};

/// VM states that keep a network in use.
pub(crate) const ACTIVE: &[model::VmState] = model::VmState::ACTIVE;

fn plan(n: &NetworkRow, what: &str) -> JobPlan {
    JobPlan {
        instance_type: Some("Network"),
        instance_id: Some(n.id.to_string()),
        returns_id: false,
        description: format!("{what} network {}", n.name),
    }
}

fn parse_ip(param: &str, v: &str) -> AppResult<Ipv4Addr> {
    v.trim()
        .parse()
        .map_err(|_| ApiError::param(format!("Invalid {param}: {v} is not an IPv4 address")).into())
}

/// `vlan` as given (`1234`, `vlan://1234`, `vxlan://1234`) → the segment id.
pub(crate) fn parse_vni(v: &str) -> AppResult<i64> {
    let t = v
        .trim()
        .trim_start_matches("vxlan://")
        .trim_start_matches("vlan://");
    match t.parse::<i64>() {
        Ok(n) if (1..=16_777_215).contains(&n) => Ok(n),
        _ => param_err(format!(
            "Invalid vlan {v}: give a VLAN/VNI number (1-16777215), optionally as vxlan://N"
        )),
    }
}

pub async fn create(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let zone =
        super::super::zones::get(st, Infra::Zone, "zoneid", args.required_id("zoneid")?).await?;
    let offering = crate::handlers::offerings::usable(
        st,
        &ctx.user.account,
        Infra::NetworkOffering,
        "networkofferingid",
        args.required_id("networkofferingid")?,
    )
    .await?;
    if !offering.state.eq_ignore_ascii_case("enabled") {
        return param_err(format!(
            "Network offering {} is not in Enabled state; it cannot be used to create networks",
            offering.name
        ));
    }
    let guest = offering.kind.clone();
    let name = args.required_str("name")?.trim().to_string();
    if name.is_empty() {
        return param_err("Network name cannot be empty");
    }
    let display = args.text("displaytext").unwrap_or(&name).to_string();
    let acltype = match args.text("acltype") {
        Some(a) if a.eq_ignore_ascii_case("account") => "Account",
        Some(a) if a.eq_ignore_ascii_case("domain") => "Domain",
        Some(a) => return param_err(format!("Invalid acltype {a}: use Account or Domain")),
        None if guest == "Shared" && args.text("account").is_none() => "Domain",
        None => "Account",
    };
    if guest == "Isolated" && acltype == "Domain" {
        return param_err("Isolated networks are owned by an account: acltype must be Account");
    }
    if (guest == "Shared" || acltype == "Domain") && !ctx.is_admin() {
        return Err(
            ApiError::permission("Only admins can create shared or domain-wide networks").into(),
        );
    }
    let acct = super::super::vms::owner_account(st, ctx, args).await?;
    let services = services_of(&offering);
    let mut attrs = json!({
        "acltype": acltype,
        "services": services,
        "egressdefaultpolicy": offering.attrs["egressdefaultpolicy"].as_bool().unwrap_or(true),
        "displaynetwork": args.bool("displaynetwork").unwrap_or(true),
        "subdomainaccess": args.bool("subdomainaccess").unwrap_or(true),
    });
    for k in ["dns1", "dns2"] {
        if let Some(d) = args.text(k) {
            parse_ip(k, d)?;
            attrs[k] = json!(d);
        }
    }
    if let Some(p) = args.uuid("physicalnetworkid") {
        super::super::zones::get(st, Infra::PhysicalNetwork, "physicalnetworkid", p).await?;
        attrs["physicalnetworkid"] = json!(p);
    }
    let gateway = args
        .text("gateway")
        .map(|g| parse_ip("gateway", g))
        .transpose()?;
    let netmask = args
        .text("netmask")
        .map(|m| parse_ip("netmask", m))
        .transpose()?;
    let cidr = match (gateway, netmask) {
        (Some(g), Some(m)) => {
            let prefix = model::net::prefix_len(m)
                .ok_or_else(|| ApiError::param(format!("Invalid netmask {m}")))?;
            Some((model::net::network(g, prefix), prefix, g))
        }
        (None, None) => None,
        _ => return param_err("gateway and netmask must be given together"),
    };
    let vni = args.text("vlan").map(parse_vni).transpose()?;
    if vni.is_some() && !ctx.is_root_admin() {
        return Err(
            ApiError::permission("Only root admins can choose the vlan of a network").into(),
        );
    }
    let mut row = match guest.as_str() {
        "Isolated" => {
            let mut r = isolated_row(
                &zone,
                &acct,
                &offering,
                name.clone(),
                display.clone(),
                cidr.map(|(n, p, _)| (n, p)),
            )?;
            if let Some((_, _, g)) = cidr {
                r.gateway = Some(g.to_string());
            }
            r
        }
        "Shared" | "L2" => {
            let (cidr_s, gw, mask) = match cidr {
                Some((n, p, g)) => (
                    Some(format!("{n}/{p}")),
                    Some(g.to_string()),
                    Some(mask_of(p).to_string()),
                ),
                None if guest == "Shared" => {
                    return param_err("gateway and netmask are required to create a Shared network")
                }
                None => (None, None, None),
            };
            NetworkRow {
                id: model::NetworkId::new(),
                name: name.clone(),
                display_text: display.clone(),
                zone_id: zone.id,
                account_id: (acltype == "Account").then_some(acct.id),
                account_name: None,
                domain_id: Some(args.id("domainid").unwrap_or(acct.domain_id)),
                domain_name: None,
                domain_path: None,
                guest_type: guest.clone(),
                traffic_type: "Guest".into(),
                state: if guest == "Shared" {
                    model::NetworkState::Setup
                } else {
                    model::NetworkState::Allocated
                },
                cidr: cidr_s,
                gateway: gw,
                netmask: mask,
                network_domain: super::super::zones::attr_str(&zone, "domain"),
                vni,
                network_offering_id: Some(offering.id),
                vpc_id: None,
                acl_id: None,
                attrs: attrs.clone(),
                created: 0,
            }
        }
        other => return param_err(format!("Unsupported guest type {other}")),
    };
    if guest == "Isolated" {
        for (k, v) in attrs.as_object().into_iter().flatten() {
            row.attrs[k] = v.clone();
        }
        row.vni = vni;
    }
    if let Some(d) = args.text("networkdomain") {
        row.network_domain = Some(d.trim().to_string());
    }
    let forvpc = offering.attrs["forvpc"].as_bool().unwrap_or(false);
    match (args.uuid("vpcid"), forvpc) {
        (Some(v), true) => {
            let vpc = crate::handlers::vpcs::owned_vpc(st, ctx, "vpcid", v).await?;
            tier_checks(st, ctx, args, &vpc, &acct, &mut row).await?;
        }
        (Some(_), false) => {
            return param_err(format!(
                "Network offering {} is not for VPC tiers: use one with forvpc=true",
                offering.name
            ))
        }
        (None, true) => {
            return param_err(format!(
                "Network offering {} can be used for VPC networks only: give vpcid",
                offering.name
            ))
        }
        (None, false) => {
            if args.has("aclid") {
                return param_err("aclid is for VPC tiers only: give vpcid");
            }
        }
    }
    // A shared network's addresses: its IP range.
    let range = if guest == "Shared" {
        let (Some(s), Some((net, prefix, g))) = (args.text("startip"), cidr) else {
            return param_err("startip is required to create a Shared network");
        };
        let s = parse_ip("startip", s)?;
        let e = match args.text("endip") {
            Some(e) => parse_ip("endip", e)?,
            None => s,
        };
        let c =
            netplan::Cidr::new(net, prefix).ok_or_else(|| ApiError::param("Invalid netmask"))?;
        if !c.contains(s) || !c.contains(e) || u32::from(e) < u32::from(s) {
            return param_err(format!(
                "The IP range {s}-{e} is not inside {c} (or ends before it starts)"
            ));
        }
        if (u32::from(s)..=u32::from(e)).contains(&u32::from(g)) {
            return param_err("The gateway cannot be inside the IP range");
        }
        Some((s, e))
    } else {
        None
    };
    if guest == "Shared" && row.vni.is_none() {
        row.vni = Some(allocate_vni(st, &zone, row.account_id).await?);
    }
    let mut tx = st.store.begin().await?;
    match db::network_insert(&mut tx, &row).await {
        Ok(()) => {}
        Err(DbError::Conflict(m)) if m.contains("vni") => {
            return param_err(format!(
                "The vlan {} is already used by another network in zone {}",
                row.vni.unwrap_or_default(),
                zone.name
            ))
        }
        Err(DbError::Conflict(_)) => {
            return param_err(format!(
                "A network with name {name} already exists for this owner in zone {}",
                zone.name
            ))
        }
        Err(e) => return Err(e.into()),
    }
    if let (Some((s, e)), Some(gw), Some(mask)) = (range, &row.gateway, &row.netmask) {
        db::vlan_range_insert(
            &mut tx,
            &db::VlanRangeRow {
                id: Uuid::new_v4(),
                zone_id: zone.id,
                physnet_id: args.uuid("physicalnetworkid"),
                pod_id: None,
                network_id: Some(row.id),
                vlan: row.vni.map(|v| format!("vxlan://{v}")),
                gateway: gw.clone(),
                netmask: mask.clone(),
                start_ip: s.to_string(),
                end_ip: e.to_string(),
                for_virtual: false,
                for_system: false,
                for_lb: false,
                account_id: row.account_id,
                account_name: None,
                domain_id: row.domain_id,
                domain_name: None,
                domain_path: None,
                created: 0,
            },
        )
        .await?;
    }
    Event::new(ctx, "NETWORK.CREATE", format!("Network {name} created"))
        .resource(row.id, "Network", Some(&name))
        .record(&mut tx)
        .await?;
    tx.commit().await?;
    let n = network_get(st, "id", row.id).await?;
    Ok(json!({ "network": views(st, ctx, &[n]).await?.remove(0) }))
}

/// A VPC tier: the VPC's owner, zone and network domain, a CIDR inside the VPC's that no other
/// tier overlaps (given with gateway and netmask), and an ACL list of the VPC or a global one
/// (`default_deny` unless `aclid` says otherwise).
async fn tier_checks(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    vpc: &db::VpcRow,
    acct: &db::AccountRow,
    row: &mut NetworkRow,
) -> AppResult<()> {
    if vpc.state != model::VpcState::Enabled {
        return param_err(format!(
            "VPC {} is not Enabled: it can't get new tiers",
            vpc.name
        ));
    }
    if vpc.zone_id != row.zone_id {
        return param_err(format!("VPC {} is in another zone", vpc.name));
    }
    if vpc.account_id != Some(acct.id) {
        return param_err(format!(
            "VPC {} belongs to another account than the network's owner {}",
            vpc.name, acct.name
        ));
    }
    if !(args.has("gateway") && args.has("netmask")) {
        return param_err("Gateway and netmask are required when creating a network in a VPC");
    }
    let super_cidr: netplan::Cidr = vpc
        .cidr
        .parse()
        .map_err(|_| AppError::Internal(format!("VPC {} has a bad cidr", vpc.id)))?;
    let tier: netplan::Cidr = row
        .cidr
        .as_deref()
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| ApiError::param("Invalid gateway/netmask"))?;
    if !(super_cidr.contains(tier.addr) && tier.len >= super_cidr.len) {
        return param_err(format!(
            "Network cidr {tier} is not within the VPC's cidr {super_cidr}"
        ));
    }
    for other in crate::handlers::vpcs::tiers_of(st, vpc.id).await? {
        let Some(o) = other
            .cidr
            .as_deref()
            .and_then(|c| c.parse::<netplan::Cidr>().ok())
        else {
            continue;
        };
        if o.contains(tier.addr) || tier.contains(o.addr) {
            return param_err(format!(
                "Network cidr {tier} overlaps with the cidr {o} of network {} in VPC {}",
                other.name, vpc.name
            ));
        }
    }
    if let Some(d) = args.text("networkdomain") {
        if Some(d.trim()) != vpc.network_domain.as_deref() {
            return param_err(format!(
                "A VPC tier has its VPC's network domain ({}): networkdomain can't differ",
                vpc.network_domain.as_deref().unwrap_or_default()
            ));
        }
    }
    let acl = match args.uuid("aclid") {
        Some(a) => {
            let l = crate::handlers::vpcs::acls::visible_list(st, ctx, "aclid", a).await?;
            if l.parent_id.is_some_and(|p| p != vpc.id.0) {
                return param_err(format!(
                    "Network ACL list {} belongs to another VPC",
                    l.name.as_deref().unwrap_or_default()
                ));
            }
            l
        }
        None => {
            crate::handlers::vpcs::acls::builtin_list(st, crate::handlers::vpcs::acls::DEFAULT_DENY)
                .await?
        }
    };
    row.vpc_id = Some(vpc.id);
    row.acl_id = Some(acl.id);
    row.network_domain = vpc.network_domain.clone();
    for k in ["dns1", "dns2"] {
        if row.attrs[k].is_null() {
            if let Some(d) = vpc.attrs[k].as_str() {
                row.attrs[k] = json!(d);
            }
        }
    }
    Ok(())
}

pub async fn update_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let n = owned_network(st, ctx, "id", args.required_id("id")?).await?;
    if let Some(o) = args.uuid("networkofferingid") {
        let off = crate::handlers::offerings::usable(
            st,
            &ctx.user.account,
            Infra::NetworkOffering,
            "networkofferingid",
            o,
        )
        .await?;
        if off.kind != n.guest_type {
            return param_err(format!(
                "Can't upgrade from network offering of guest type {} to {}",
                n.guest_type, off.kind
            ));
        }
        if !off.state.eq_ignore_ascii_case("enabled") {
            return param_err(format!("Network offering {} is not Enabled", off.name));
        }
    }
    Ok(plan(&n, "Updating"))
}

pub async fn update_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    _job: &JobRef,
) -> AppResult<Value> {
    let mut n = owned_network(st, ctx, "id", args.required_id("id")?).await?;
    if let Some(v) = args.text("name") {
        n.name = v.trim().to_string();
    }
    if let Some(v) = args.text("displaytext") {
        n.display_text = v.to_string();
    }
    if let Some(v) = args.text("networkdomain") {
        n.network_domain = Some(v.trim().to_string());
    }
    if let Some(v) = args.bool("displaynetwork") {
        n.attrs["displaynetwork"] = json!(v);
    }
    if let Some(o) = args.uuid("networkofferingid") {
        let off =
            super::super::zones::get(st, Infra::NetworkOffering, "networkofferingid", o).await?;
        n.network_offering_id = Some(off.id);
        n.attrs["services"] = json!(services_of(&off));
        n.attrs["egressdefaultpolicy"] =
            json!(off.attrs["egressdefaultpolicy"].as_bool().unwrap_or(true));
    }
    let mut tx = st.store.begin().await?;
    match db::network_update(&mut tx, &n).await {
        Ok(_) => {}
        Err(DbError::Conflict(_)) => {
            return param_err(format!("A network with name {} already exists", n.name))
        }
        Err(e) => return Err(e.into()),
    }
    Event::new(ctx, "NETWORK.UPDATE", format!("Network {} updated", n.name))
        .resource(n.id, "Network", Some(&n.name))
        .record(&mut tx)
        .await?;
    tx.commit().await?;
    // The router's DNS domain, egress policy or services may have changed.
    crate::netsync::networks_changed(st, &[n.id]).await?;
    let n = network_get(st, "id", n.id).await?;
    Ok(json!({ "network": views(st, ctx, &[n]).await?.remove(0) }))
}

pub async fn delete_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let n = owned_network(st, ctx, "id", args.required_id("id")?).await?;
    let ilbs = crate::handlers::lb::internal::on_network(st, n.id).await?;
    if let Some(l) = ilbs.first() {
        return Err(ApiError::new(
            ErrorCode::ResourceInUse,
            format!(
                "Can't delete the network {}: internal load balancer {} uses it (deleteLoadBalancer first)",
                n.name,
                l.name.as_deref().unwrap_or("")
            ),
        )
        .into());
    }
    Ok(plan(&n, "Deleting"))
}

pub async fn delete_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    _job: &JobRef,
) -> AppResult<Value> {
    let id = args.required_id("id")?;
    let n = match owned_network(st, ctx, "id", id).await {
        Ok(n) => n,
        // Resumed after it was already deleted.
        Err(_) => return Ok(success_body()),
    };
    let in_use = {
        let mut c = st.store.read().await?;
        db::net_nics(&mut c, &[n.id])
            .await?
            .into_iter()
            .any(|x| x.vm_state != model::VmState::Expunging)
    };
    if in_use {
        return Err(ApiError::new(
            ErrorCode::ResourceInUse,
            format!(
                "Can't delete the network {}: not all user vms are expunged (VMs still have NICs on it)",
                n.name
            ),
        )
        .into());
    }
    let hosts = crate::netsync::hosts_of_networks(st, &[n.id]).await?;
    let ips = {
        let mut c = st.store.read().await?;
        db::public_ip_list(
            &mut c,
            &db::PublicIpFilter {
                network_id: Some(n.id),
                ..Default::default()
            },
        )
        .await?
        .0
    };
    let mut tx = st.store.begin().await?;
    for r in db::router_list(
        &mut tx,
        &db::RouterFilter {
            network_ids: vec![n.id],
            ..Default::default()
        },
    )
    .await?
    .0
    {
        db::router_remove(&mut tx, r.id).await?;
    }
    db::rule_remove(&mut tx, db::RuleOwner::Network, n.id.into()).await?;
    for ip in &ips {
        db::rule_remove(&mut tx, db::RuleOwner::Ip, ip.id).await?;
        db::public_ip_release(&mut tx, ip.id).await?;
    }
    for r in db::vlan_range_list(
        &mut tx,
        &db::VlanRangeFilter {
            network_id: Some(n.id),
            ..Default::default()
        },
    )
    .await?
    .0
    {
        db::vlan_range_remove(&mut tx, r.id).await?;
    }
    db::network_remove(&mut tx, n.id).await?;
    Event::new(ctx, "NETWORK.DELETE", format!("Network {} deleted", n.name))
        .resource(n.id, "Network", Some(&n.name))
        .record(&mut tx)
        .await?;
    tx.commit().await?;
    crate::netsync::request(st, hosts, false).await;
    Ok(success_body())
}

pub async fn restart_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let n = owned_network(st, ctx, "id", args.required_id("id")?).await?;
    if args.bool("makeredundant") == Some(true) {
        return param_err("Redundant routers are not supported");
    }
    if !matches!(
        n.state,
        model::NetworkState::Implemented | model::NetworkState::Setup
    ) {
        return param_err(format!(
            "Network {} is in state {}: only Implemented or Setup networks can be restarted",
            n.name, n.state
        ));
    }
    Ok(plan(&n, "Restarting"))
}

/// Rebuilds the network's data plane from the compiled state: with `cleanup`, a new router
/// (re-placed), else the same router told again.
pub async fn restart_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    _job: &JobRef,
) -> AppResult<Value> {
    let n = owned_network(st, ctx, "id", args.required_id("id")?).await?;
    let before = crate::netsync::hosts_of_networks(st, &[n.id]).await?;
    if args.flag("cleanup") && n.guest_type == "Isolated" {
        let mut tx = st.store.begin().await?;
        for r in db::router_list(
            &mut tx,
            &db::RouterFilter {
                network_ids: vec![n.id],
                ..Default::default()
            },
        )
        .await?
        .0
        {
            db::router_remove(&mut tx, r.id).await?;
        }
        tx.commit().await?;
        super::super::routers::ensure_router(st, &n).await?;
    } else if n.guest_type == "Shared" && n.cidr.is_some() {
        // DHCP and DNS for the shared network's VMs (no public side, no source NAT).
        super::super::routers::ensure_router(st, &n).await?;
    }
    let mut hosts = crate::netsync::hosts_of_networks(st, &[n.id]).await?;
    hosts.extend(before);
    crate::netsync::request(st, hosts, true).await;
    let mut tx = st.store.begin().await?;
    Event::new(
        ctx,
        "NETWORK.RESTART",
        format!("Network {} restarted", n.name),
    )
    .resource(n.id, "Network", Some(&n.name))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(success_body())
}

/// An account is removed: its rules, security groups, VPN users and public IPs go, and its
/// networks that no VM uses any more (with their routers and ranges).
pub async fn remove_for_account(st: &State, account: model::AccountId) -> AppResult<()> {
    let (rules, ips, nets) = {
        let mut c = st.store.read().await?;
        let rules = db::rule_list(
            &mut c,
            &db::RuleFilter {
                scope: Some(db::OwnerScope::Account(account)),
                ..Default::default()
            },
        )
        .await?
        .0;
        let ips = db::public_ip_list(
            &mut c,
            &db::PublicIpFilter {
                scope: Some(db::OwnerScope::Account(account)),
                ..Default::default()
            },
        )
        .await?
        .0;
        let nets = db::network_list(
            &mut c,
            &db::NetworkFilter {
                scope: Some(db::OwnerScope::Account(account)),
                ..Default::default()
            },
        )
        .await?
        .0;
        (rules, ips, nets)
    };
    let net_ids: Vec<model::NetworkId> = nets.iter().map(|n| n.id).collect();
    let hosts = crate::netsync::hosts_of_networks(st, &net_ids).await?;
    let mut tx = st.store.begin().await?;
    for r in &rules {
        db::rule_remove(&mut tx, db::RuleOwner::Id, r.id).await?;
    }
    for ip in &ips {
        db::rule_remove(&mut tx, db::RuleOwner::Ip, ip.id).await?;
        db::public_ip_release(&mut tx, ip.id).await?;
    }
    for n in &nets {
        let used = db::net_nics(&mut tx, &[n.id])
            .await?
            .iter()
            .any(|x| x.vm_state != model::VmState::Expunging);
        if used {
            tracing::warn!(network = %n.id, "the removed account's network still has VMs; kept");
            continue;
        }
        for r in db::router_list(
            &mut tx,
            &db::RouterFilter {
                network_ids: vec![n.id],
                ..Default::default()
            },
        )
        .await?
        .0
        {
            db::router_remove(&mut tx, r.id).await?;
        }
        db::rule_remove(&mut tx, db::RuleOwner::Network, n.id.into()).await?;
        for r in db::vlan_range_list(
            &mut tx,
            &db::VlanRangeFilter {
                network_id: Some(n.id),
                ..Default::default()
            },
        )
        .await?
        .0
        {
            db::vlan_range_remove(&mut tx, r.id).await?;
        }
        db::network_remove(&mut tx, n.id).await?;
    }
    tx.commit().await?;
    crate::netsync::request(st, hosts, false).await;
    Ok(())
}
