//! Firewall rules (ingress on a public IP) and egress firewall rules (per network).

use api::{list_body, success_body, ApiError, Args};
use serde_json::{json, Value};

use super::*;

// --- firewall (ingress) ----------------------------------------------------------------------

pub async fn create_firewall_prepare(
    st: &State,
    ctx: &OpContext,
    args: &Args,
) -> AppResult<JobPlan> {
    let ip = rule_ip(st, ctx, "ipaddressid", args.required_id("ipaddressid")?).await?;
    if let Some(n) = ip.network_id {
        require_service(st, n, "Firewall").await?;
    }
    let spec = db::rulespec::FirewallSpec {
        l4: l4_spec(args, false)?,
        cidrlist: parse_cidrs(args, "cidrlist", true)?,
        destcidrlist: Vec::new(),
        rule_type: args.text("type").unwrap_or("user").to_string(),
        fordisplay: args.bool("fordisplay").unwrap_or(true),
        opened_for: None,
    };
    if let Some(r) = spec.l4.ports() {
        check_port_conflict(st, &ip, vec!["firewall"], &spec.l4.protocol, r, None).await?;
    }
    let id = insert_rule(
        st,
        ctx,
        Some(&ip),
        None,
        None,
        RuleSpec::Firewall(spec),
        "FIREWALL.OPEN",
    )
    .await?;
    Ok(create_plan(id, "Creating a firewall rule"))
}

pub async fn create_firewall_run(
    st: &State,
    _ctx: &OpContext,
    _args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let r = activate(st, job.instance()?).await?;
    let ips = ips_by_id(st, std::slice::from_ref(&r)).await?;
    Ok(json!({ "firewallrule": firewall_view(&r, r.ip_id.and_then(|i| ips.get(&i))) }))
}

pub async fn list_firewall(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let (rows, total) = list_rules(st, ctx, args, vec!["firewall"]).await?;
    let ips = ips_by_id(st, &rows).await?;
    Ok(list_body(
        "firewallrule",
        total,
        rows.iter()
            .map(|r| firewall_view(r, r.ip_id.and_then(|i| ips.get(&i))))
            .collect(),
    ))
}

pub async fn delete_firewall_prepare(
    st: &State,
    ctx: &OpContext,
    args: &Args,
) -> AppResult<JobPlan> {
    let r = owned_rule(st, ctx, "id", args.required_id("id")?, &["firewall"]).await?;
    Ok(rule_plan(&r, "Deleting firewall"))
}

pub async fn delete_firewall_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    _job: &JobRef,
) -> AppResult<Value> {
    revoke(st, ctx, args.required_id("id")?, &["firewall"]).await?;
    Ok(success_body())
}

pub async fn update_firewall_prepare(
    st: &State,
    ctx: &OpContext,
    args: &Args,
) -> AppResult<JobPlan> {
    let r = owned_rule(st, ctx, "id", args.required_id("id")?, &["firewall"]).await?;
    Ok(rule_plan(&r, "Updating firewall"))
}

pub async fn update_firewall_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    _job: &JobRef,
) -> AppResult<Value> {
    let r = update_display(st, ctx, args, &["firewall"]).await?;
    let ips = ips_by_id(st, std::slice::from_ref(&r)).await?;
    Ok(json!({ "firewallrule": firewall_view(&r, r.ip_id.and_then(|i| ips.get(&i))) }))
}

// --- egress ------------------------------------------------------------------------------

pub async fn create_egress_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let n = crate::handlers::networks::owned_network(
        st,
        ctx,
        "networkid",
        args.required_id("networkid")?,
    )
    .await?;
    if n.guest_type != "Isolated" {
        return param_err(format!(
            "Egress firewall rules are for isolated networks; {} is {}",
            n.name, n.guest_type
        ));
    }
    require_service(st, n.id, "Firewall").await?;
    let l4 = l4_spec(args, true)?;
    let src = parse_cidrs(args, "cidrlist", false)?;
    if let Some(g) = n
        .cidr
        .as_deref()
        .and_then(|c| c.parse::<netplan::Cidr>().ok())
    {
        for c in &src {
            let p: netplan::Cidr = c
                .parse()
                .map_err(|_| ApiError::param(format!("Invalid CIDR {c}")))?;
            // 0.0.0.0/0 means "the whole guest network" (CloudStack skips its check for it;
            // its own test framework creates exactly that rule for every advanced network).
            if p.len != 0 && !(g.contains(p.addr) && p.len >= g.len) {
                return param_err(format!(
                    "Source CIDR {c} of an egress rule must be inside the network's CIDR {g}"
                ));
            }
        }
    }
    let spec = db::rulespec::FirewallSpec {
        l4,
        cidrlist: src,
        // Destinations may name service tags (Canopy).
        destcidrlist: crate::handlers::vpcs::service_tags::cidrs_or_tags(
            st,
            args,
            "destcidrlist",
            false,
        )
        .await?
        .unwrap_or_default(),
        rule_type: args.text("type").unwrap_or("user").to_string(),
        fordisplay: args.bool("fordisplay").unwrap_or(true),
        opened_for: None,
    };
    let id = insert_rule(
        st,
        ctx,
        None,
        Some(&n),
        None,
        RuleSpec::EgressFirewall(spec),
        "FIREWALL.EGRESS.OPEN",
    )
    .await?;
    Ok(create_plan(id, "Creating an egress firewall rule"))
}

pub async fn create_egress_run(
    st: &State,
    _ctx: &OpContext,
    _args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let r = activate(st, job.instance()?).await?;
    Ok(json!({ "firewallrule": firewall_view(&r, None) }))
}

pub async fn list_egress(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let (rows, total) = list_rules(st, ctx, args, vec!["egressfw"]).await?;
    Ok(list_body(
        "firewallrule",
        total,
        rows.iter().map(|r| firewall_view(r, None)).collect(),
    ))
}

pub async fn delete_egress_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let r = owned_rule(st, ctx, "id", args.required_id("id")?, &["egressfw"]).await?;
    Ok(rule_plan(&r, "Deleting egress"))
}

pub async fn delete_egress_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    _job: &JobRef,
) -> AppResult<Value> {
    revoke(st, ctx, args.required_id("id")?, &["egressfw"]).await?;
    Ok(success_body())
}

pub async fn update_egress_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let r = owned_rule(st, ctx, "id", args.required_id("id")?, &["egressfw"]).await?;
    Ok(rule_plan(&r, "Updating egress"))
}

pub async fn update_egress_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    _job: &JobRef,
) -> AppResult<Value> {
    let r = update_display(st, ctx, args, &["egressfw"]).await?;
    Ok(json!({ "firewallrule": firewall_view(&r, None) }))
}
