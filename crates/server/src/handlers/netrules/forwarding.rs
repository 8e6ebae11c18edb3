//! Port forwarding and IP forwarding (port ranges of a static-NAT IP).

use api::{list_body, success_body, Args};
use serde_json::{json, Value};

use super::*;

// --- port forwarding -----------------------------------------------------------------------

pub async fn create_pf_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let ip = rule_ip_on_tier(
        st,
        ctx,
        "ipaddressid",
        args.required_id("ipaddressid")?,
        args.uuid("networkid"),
        args.uuid("virtualmachineid"),
    )
    .await?;
    let net = ip.network_id.unwrap_or_default();
    let tier = require_service(st, net, "PortForwarding")
        .await?
        .vpc_id
        .is_some();
    if ip.static_nat_vm.is_some() {
        return param_err(format!(
            "Can't create a port forwarding rule on IP {}: static NAT is enabled on it",
            ip.address
        ));
    }
    let protocol = args.required_str("protocol")?.to_ascii_lowercase();
    if protocol != "tcp" && protocol != "udp" {
        return param_err(format!("Invalid protocol {protocol}: use TCP or UDP"));
    }
    let pub_s = port_arg(args, "publicport")?.unwrap_or(0);
    let pub_e = port_arg(args, "publicendport")?.unwrap_or(pub_s);
    let prv_s = port_arg(args, "privateport")?.unwrap_or(0);
    let prv_e = port_arg(args, "privateendport")?.unwrap_or(prv_s);
    if pub_e < pub_s || prv_e < prv_s {
        return param_err("Invalid port range: an end port is lower than its start port");
    }
    if pub_e - pub_s != prv_e - prv_s {
        return param_err("Private and public port ranges must be of the same size");
    }
    let (vm, guest) = target_vm(
        st,
        ctx,
        args.required_id("virtualmachineid")?,
        net,
        args.text("vmguestip"),
    )
    .await?;
    if let Some(n) = args.uuid("networkid") {
        if n != net {
            return param_err("networkid must be the network of the IP address");
        }
    }
    check_port_conflict(
        st,
        &ip,
        vec!["portforward", "lb"],
        &protocol,
        (pub_s, pub_e),
        None,
    )
    .await?;
    let cidrs = parse_cidrs(args, "cidrlist", true)?;
    let spec = db::rulespec::PortForwardSpec {
        protocol: protocol.clone(),
        publicport: pub_s,
        publicendport: pub_e,
        privateport: prv_s,
        privateendport: prv_e,
        virtualmachineid: vm.id,
        vmguestip: Some(guest),
        cidrlist: cidrs.clone(),
        fordisplay: args.bool("fordisplay").unwrap_or(true),
    };
    let id = insert_rule(
        st,
        ctx,
        Some(&ip),
        None,
        None,
        RuleSpec::PortForward(spec),
        "NET.RULEADD",
    )
    .await?;
    // openfirewall (default true): the matching ingress firewall rule, created with it.
    // (VPC tiers have no firewall: their network ACLs guard them.)
    if args.bool("openfirewall").unwrap_or(true) && !tier {
        insert_rule(
            st,
            ctx,
            Some(&ip),
            None,
            None,
            RuleSpec::Firewall(opened_firewall(&protocol, pub_s, pub_e, cidrs, id)),
            "FIREWALL.OPEN",
        )
        .await?;
    }
    Ok(create_plan(id, "Creating a port forwarding rule"))
}

pub async fn create_pf_run(
    st: &State,
    _ctx: &OpContext,
    _args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let r = activate(st, job.instance()?).await?;
    activate_companions(st, &r).await?;
    let v = forward_views(st, std::slice::from_ref(&r), pf_view)
        .await?
        .remove(0);
    Ok(json!({ "portforwardingrule": v }))
}

pub async fn list_pf(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    list_forwards(st, ctx, args, "portforward", "portforwardingrule", pf_view).await
}

pub async fn delete_pf_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let r = owned_rule(st, ctx, "id", args.required_id("id")?, &["portforward"]).await?;
    Ok(rule_plan(&r, "Deleting port forwarding"))
}

pub async fn delete_pf_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    _job: &JobRef,
) -> AppResult<Value> {
    if let Ok(r) = owned_rule(st, ctx, "id", args.required_id("id")?, &["portforward"]).await {
        remove_companions(st, &r).await?;
    }
    revoke(st, ctx, args.required_id("id")?, &["portforward"]).await?;
    Ok(success_body())
}

pub async fn update_pf_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let r = owned_rule(st, ctx, "id", args.required_id("id")?, &["portforward"]).await?;
    Ok(rule_plan(&r, "Updating port forwarding"))
}

pub async fn update_pf_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    _job: &JobRef,
) -> AppResult<Value> {
    let r = owned_rule(st, ctx, "id", args.required_id("id")?, &["portforward"]).await?;
    let RuleSpec::PortForward(mut spec) = r.spec.clone() else {
        return Err(api::ApiError::invalid_id("id", &r.id.to_string()).into());
    };
    let pub_len = spec.publicendport - spec.publicport;
    if let Some(p) = port_arg(args, "privateport")? {
        spec.privateport = p;
        let e = port_arg(args, "privateendport")?.unwrap_or(p + pub_len);
        if e - p != pub_len {
            return param_err("Private and public port ranges must be of the same size");
        }
        spec.privateendport = e;
    }
    if let Some(vm) = args.uuid("virtualmachineid") {
        let net = r.network_id.unwrap_or_default();
        let (vm, guest) = target_vm(st, ctx, vm, net, args.text("vmguestip")).await?;
        spec.virtualmachineid = vm.id;
        spec.vmguestip = Some(guest);
    }
    if let Some(d) = args.bool("fordisplay") {
        spec.fordisplay = d;
    }
    let mut tx = st.store.begin().await?;
    db::rule_update(
        &mut tx,
        r.id,
        model::RuleState::Add,
        None,
        &RuleSpec::PortForward(spec),
    )
    .await?;
    tx.commit().await?;
    let r = activate(st, r.id).await?;
    let v = forward_views(st, std::slice::from_ref(&r), pf_view)
        .await?
        .remove(0);
    Ok(json!({ "portforwardingrule": v }))
}

// --- IP forwarding (port ranges of a static-NAT IP) ------------------------------------------

pub async fn create_ipfwd_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let ip = rule_ip(st, ctx, "ipaddressid", args.required_id("ipaddressid")?).await?;
    let Some(vm) = ip.static_nat_vm else {
        return param_err(format!(
            "Unable to create an ip forwarding rule: static NAT is not enabled on IP {}",
            ip.address
        ));
    };
    let protocol = args.required_str("protocol")?.to_ascii_lowercase();
    if protocol != "tcp" && protocol != "udp" {
        return param_err(format!("Invalid protocol {protocol}: use TCP or UDP"));
    }
    let s = port_arg(args, "startport")?.unwrap_or(0);
    let e = port_arg(args, "endport")?.unwrap_or(s);
    if e < s {
        return param_err("Invalid port range: the end port is lower than the start port");
    }
    check_port_conflict(st, &ip, vec!["ipforward"], &protocol, (s, e), None).await?;
    let spec = db::rulespec::IpForwardSpec {
        l4: L4 {
            protocol,
            startport: Some(s),
            endport: Some(e),
            ..Default::default()
        },
        virtualmachineid: model::VmId(vm),
        cidrlist: parse_cidrs(args, "cidrlist", true)?,
    };
    let id = insert_rule(
        st,
        ctx,
        Some(&ip),
        None,
        None,
        RuleSpec::IpForward(spec),
        "NET.RULEADD",
    )
    .await?;
    Ok(create_plan(id, "Creating an IP forwarding rule"))
}

pub async fn create_ipfwd_run(
    st: &State,
    _ctx: &OpContext,
    _args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let r = activate(st, job.instance()?).await?;
    let v = forward_views(st, std::slice::from_ref(&r), ipfwd_view)
        .await?
        .remove(0);
    Ok(json!({ "ipforwardingrule": v }))
}

pub async fn list_ipfwd(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    list_forwards(st, ctx, args, "ipforward", "ipforwardingrule", ipfwd_view).await
}

pub async fn delete_ipfwd_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let r = owned_rule(st, ctx, "id", args.required_id("id")?, &["ipforward"]).await?;
    Ok(rule_plan(&r, "Deleting IP forwarding"))
}

pub async fn delete_ipfwd_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    _job: &JobRef,
) -> AppResult<Value> {
    revoke(st, ctx, args.required_id("id")?, &["ipforward"]).await?;
    Ok(success_body())
}

type ForwardView = fn(&RuleRow, Option<&PublicIpRow>, Option<&db::VmRow>) -> Value;

/// Views of forwarding rules with their public IP and target VM.
async fn forward_views(st: &State, rows: &[RuleRow], view: ForwardView) -> AppResult<Vec<Value>> {
    let ips = ips_by_id(st, rows).await?;
    let vms = vm_names(st, rows).await?;
    Ok(rows
        .iter()
        .map(|r| {
            view(
                r,
                r.ip_id.and_then(|i| ips.get(&i)),
                r.spec.target_vm().and_then(|v| vms.get(&v)),
            )
        })
        .collect())
}

/// listPortForwardingRules / listIpForwardingRules: the owner-scoped list, by VM too.
async fn list_forwards(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    kind: &'static str,
    key: &str,
    view: ForwardView,
) -> AppResult<Value> {
    let (mut rows, mut total) = list_rules(st, ctx, args, vec![kind]).await?;
    if let Some(vm) = args.uuid("virtualmachineid") {
        rows.retain(|r| r.spec.target_vm() == Some(model::VmId(vm)));
        total = rows.len() as u64;
    }
    Ok(list_body(key, total, forward_views(st, &rows, view).await?))
}
