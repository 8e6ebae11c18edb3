//! Static routes on a network's router (Canopy's extension: next hop, interface, metric).

use std::net::Ipv4Addr;

use api::{list_body, success_body, ApiError, Args};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::context::OpContext;
use crate::error::{param_err, AppResult};
use crate::events::Event;
use crate::jobs::{JobPlan, JobRef};
use crate::state::State;

pub(crate) fn route_view(r: &db::RuleRow) -> Value {
    let default = db::rulespec::RouteSpec::default();
    let s = match &r.spec {
        db::RuleSpec::Route(s) => s,
        _ => &default,
    };
    let mut v = json!({
        "id": r.id,
        "cidr": s.cidr,
        "metric": s.metric,
        "state": r.state,
        "networkid": r.network_id,
        "tags": [],
    });
    for (k, x) in [("nexthop", &s.nexthop), ("interface", &s.interface)] {
        if let Some(x) = x {
            v[k] = json!(x);
        }
    }
    if let Some(g) = s.gatewayid {
        // A VPC's route: stored under the VPC's id.
        v["gatewayid"] = json!(g);
        v["vpcid"] = json!(r.network_id);
        if let Some(o) = v.as_object_mut() {
            o.remove("networkid");
        }
    }
    crate::handlers::netrules::owner_fields(&mut v, r);
    v
}

pub async fn create_route_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    if let Some(g) = args.uuid("gatewayid") {
        return vpc_route(st, ctx, args, g).await;
    }
    if args.uuid("vpcid").is_some() {
        return param_err("A VPC's static routes go through a private gateway: give gatewayid");
    }
    let Some(net) = args.uuid("networkid") else {
        return param_err(
            "Please specify networkid: the guest network whose router gets the route",
        );
    };
    let n = crate::handlers::networks::owned_network(st, ctx, "networkid", net).await?;
    if n.guest_type != "Isolated" {
        return param_err(format!(
            "Network {} has no virtual router: static routes go on isolated networks",
            n.name
        ));
    }
    let dest: netplan::Cidr = args.required_str("cidr")?.parse().map_err(|_| {
        ApiError::param(format!("Invalid cidr {}", args.text("cidr").unwrap_or("")))
    })?;
    let nexthop =
        match args.text("nexthop") {
            Some(h) => Some(h.trim().parse::<Ipv4Addr>().map_err(|_| {
                ApiError::param(format!("Invalid nexthop {h}: not an IPv4 address"))
            })?),
            None => None,
        };
    let iface = match args.text("interface") {
        Some(i) if i.eq_ignore_ascii_case("guest") => Some("guest"),
        Some(i) if i.eq_ignore_ascii_case("public") => Some("public"),
        Some(i) => return param_err(format!("Invalid interface {i}: use guest or public")),
        None => None,
    };
    if nexthop.is_none() && iface.is_none() {
        return param_err("Give nexthop, interface, or both");
    }
    let guest: Option<netplan::Cidr> = n.cidr.as_deref().and_then(|c| c.parse().ok());
    if let (Some(h), Some(g)) = (nexthop, guest) {
        if iface.unwrap_or("guest") == "guest" && !g.contains(h) {
            return param_err(format!(
                "The next hop {h} is not in the network's CIDR {g}: give interface=public for a next hop on the public side"
            ));
        }
    }
    let metric = args.int("metric").unwrap_or(0);
    if !(0..=i64::from(u32::MAX)).contains(&metric) {
        return param_err("metric must be between 0 and 4294967295");
    }
    let existing = {
        let mut c = st.store.read().await?;
        db::rule_list(
            &mut c,
            &db::RuleFilter {
                kinds: vec!["route"],
                network_ids: vec![n.id],
                ..Default::default()
            },
        )
        .await?
        .0
    };
    let same = existing.iter().any(|r| match &r.spec {
        db::RuleSpec::Route(s) => {
            s.cidr == dest.to_string()
                && s.nexthop == nexthop.map(|h| h.to_string())
                && s.metric == metric
        }
        _ => false,
    });
    if same {
        return param_err(format!(
            "A static route to {dest} via {} with metric {metric} already exists",
            nexthop
                .map(|h| h.to_string())
                .unwrap_or_else(|| "the interface".into())
        ));
    }
    let id = Uuid::new_v4();
    let spec = db::RuleSpec::Route(db::rulespec::RouteSpec {
        cidr: dest.to_string(),
        metric,
        nexthop: nexthop.map(|h| h.to_string()),
        interface: iface.map(|i| i.to_string()),
        gatewayid: None,
    });
    let mut tx = st.store.begin().await?;
    db::rule_insert(
        &mut tx,
        &db::NewRule {
            id,
            name: None,
            state: model::RuleState::Staged,
            account_id: n.account_id,
            domain_id: n.domain_id,
            network_id: Some(n.id),
            ip_id: None,
            parent_id: None,
            spec,
        },
    )
    .await?;
    Event::new(
        ctx,
        "STATIC.ROUTE.CREATE",
        format!("Static route to {dest} on network {}", n.name),
    )
    .resource(id, "StaticRoute", None)
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(JobPlan {
        instance_type: Some("StaticRoute"),
        instance_id: Some(id.to_string()),
        returns_id: true,
        description: format!("Adding a static route to {dest}"),
    })
}

/// A VPC's static route through its private gateway `gateway`: the gateway's next hop, out of
/// the router's interface on it; stored under the VPC's id.
async fn vpc_route(st: &State, ctx: &OpContext, args: &Args, gateway: Uuid) -> AppResult<JobPlan> {
    use crate::handlers::vpcs::private_gateways as pg;
    let g = pg::owned_gateway(st, ctx, "gatewayid", gateway).await?;
    let Some(vpc) = g.vpc_id else {
        return Err(ApiError::invalid_id("gatewayid", &gateway.to_string()).into());
    };
    if args.uuid("vpcid").is_some_and(|v| v != vpc.0) {
        return param_err("The private gateway belongs to another VPC");
    }
    let dest: netplan::Cidr = args.required_str("cidr")?.parse().map_err(|_| {
        ApiError::param(format!("Invalid cidr {}", args.text("cidr").unwrap_or("")))
    })?;
    let v = crate::handlers::vpcs::owned_vpc(st, ctx, "gatewayid", vpc.0).await?;
    if let Ok(c) = v.cidr.parse::<netplan::Cidr>() {
        if c.contains(dest.addr) || dest.contains(c.addr) {
            return param_err(format!(
                "The route's cidr {dest} overlaps the VPC's CIDR {c}: routes lead out of the VPC"
            ));
        }
    }
    let hop: Option<Ipv4Addr> =
        match args.text("nexthop") {
            Some(h) => Some(h.trim().parse().map_err(|_| {
                ApiError::param(format!("Invalid nexthop {h}: not an IPv4 address"))
            })?),
            None => g.gateway.as_deref().and_then(|h| h.parse().ok()),
        };
    let seg: Option<netplan::Cidr> = g.cidr.as_deref().and_then(|c| c.parse().ok());
    if let (Some(h), Some(seg)) = (hop, seg) {
        if !seg.contains(h) {
            return param_err(format!(
                "The next hop {h} is not on the private gateway's subnet {seg}"
            ));
        }
    }
    let metric = args.int("metric").unwrap_or(0);
    if !(0..=i64::from(u32::MAX)).contains(&metric) {
        return param_err("metric must be between 0 and 4294967295");
    }
    let key = model::NetworkId(vpc.0);
    let existing = {
        let mut c = st.store.read().await?;
        db::rule_list(
            &mut c,
            &db::RuleFilter {
                kinds: vec!["route"],
                network_ids: vec![key],
                ..Default::default()
            },
        )
        .await?
        .0
    };
    if existing.iter().any(|r| {
        matches!(&r.spec, db::RuleSpec::Route(s) if s.cidr == dest.to_string() && s.gatewayid == Some(g.id.0) && s.metric == metric)
    }) {
        return param_err(format!(
            "A static route to {dest} through this private gateway with metric {metric} already exists"
        ));
    }
    let id = Uuid::new_v4();
    let spec = db::RuleSpec::Route(db::rulespec::RouteSpec {
        cidr: dest.to_string(),
        metric,
        nexthop: hop.map(|h| h.to_string()),
        interface: pg::interface(&g),
        gatewayid: Some(g.id.0),
    });
    let mut tx = st.store.begin().await?;
    db::rule_insert(
        &mut tx,
        &db::NewRule {
            id,
            name: None,
            state: model::RuleState::Staged,
            account_id: v.account_id,
            domain_id: v.domain_id,
            network_id: Some(key),
            ip_id: None,
            parent_id: None,
            spec,
        },
    )
    .await?;
    Event::new(
        ctx,
        "STATIC.ROUTE.CREATE",
        format!(
            "Static route to {dest} through a private gateway of VPC {}",
            v.name
        ),
    )
    .resource(id, "StaticRoute", None)
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(JobPlan {
        instance_type: Some("StaticRoute"),
        instance_id: Some(id.to_string()),
        returns_id: true,
        description: format!("Adding a static route to {dest}"),
    })
}

pub async fn create_route_run(
    st: &State,
    _ctx: &OpContext,
    _args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let id: Uuid = job.instance()?;
    let r = crate::handlers::netrules::activate(st, id).await?;
    Ok(json!({ "staticroute": route_view(&r) }))
}

pub async fn list_routes(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let mut f = db::RuleFilter::kind("route");
    f.scope = Some(crate::access::owner_scope(st, ctx, args).await?);
    f.ids.extend(args.uuid("id"));
    f.network_ids
        .extend(args.id::<model::NetworkId>("networkid"));
    // A VPC's routes are stored under its id.
    f.network_ids
        .extend(args.uuid("vpcid").map(model::NetworkId));
    let gateway = args.uuid("gatewayid");
    if gateway.is_none() {
        f.offset = args.page.offset;
        f.limit = args.page.limit;
    }
    let (rows, total) = {
        let mut c = st.store.read().await?;
        db::rule_list(&mut c, &f).await?
    };
    let mut rows: Vec<_> = match args.text("state") {
        Some(s) => rows
            .into_iter()
            .filter(|r| r.state.as_str().eq_ignore_ascii_case(s))
            .collect(),
        None => rows,
    };
    let total = match gateway {
        Some(g) => {
            rows.retain(|r| matches!(&r.spec, db::RuleSpec::Route(s) if s.gatewayid == Some(g)));
            let n = rows.len() as u64;
            rows = args.page.slice(rows);
            n
        }
        None => total,
    };
    Ok(list_body(
        "staticroute",
        total,
        rows.iter().map(route_view).collect(),
    ))
}

pub async fn delete_route_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let r =
        crate::handlers::netrules::owned_rule(st, ctx, "id", args.required_id("id")?, &["route"])
            .await?;
    Ok(JobPlan {
        instance_type: Some("StaticRoute"),
        instance_id: Some(r.id.to_string()),
        returns_id: false,
        description: "Deleting a static route".into(),
    })
}

pub async fn delete_route_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    _job: &JobRef,
) -> AppResult<Value> {
    crate::handlers::netrules::revoke(st, ctx, args.required_id("id")?, &["route"]).await?;
    Ok(success_body())
}
