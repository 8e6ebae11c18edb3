//! Load balancing on a network's router (haproxy): createLoadBalancerRule (roundrobin,
//! leastconn, source), assign/remove VMs, list/update/delete, listLoadBalancerRuleInstances,
//! stickiness policies (LbCookie, AppCookie, SourceBased) and health-check policies.

pub mod certs;
pub mod internal;
mod policies;
mod pool;

pub use policies::*;

use api::{list_body, success_body, ApiError, Args};
use db::{RuleRow, RuleSpec};
use serde_json::{json, Value};
use uuid::Uuid;

use super::netrules::{activate, owned_rule, owner_fields, revoke};
use crate::context::OpContext;
use crate::error::{param_err, AppResult};
use crate::events::Event;
use crate::jobs::{JobPlan, JobRef};
use crate::state::State;

/// Public load balancer rules and internal load balancers share the member commands.
const LB_KINDS: &[&str] = &["lb", internal::KIND];

const ALGORITHMS: &[&str] = &["roundrobin", "leastconn", "source"];

fn algorithm(v: &str) -> AppResult<String> {
    let a = v.trim().to_ascii_lowercase();
    if ALGORITHMS.contains(&a.as_str()) {
        Ok(a)
    } else {
        param_err(format!(
            "Invalid algorithm: {v} (use source, roundrobin or leastconn)"
        ))
    }
}

fn protocol(v: Option<&str>) -> AppResult<String> {
    let p = v.unwrap_or("tcp").trim().to_ascii_lowercase();
    match p.as_str() {
        "tcp" | "udp" | "tcp-proxy" | "ssl" => Ok(p),
        _ => param_err(format!(
            "Invalid protocol {p}: use tcp, udp, tcp-proxy or ssl"
        )),
    }
}

fn lb_view(r: &RuleRow, ip: Option<&db::PublicIpRow>, zone: Option<&String>) -> Value {
    let default = db::rulespec::LbSpec::default();
    let s = match &r.spec {
        RuleSpec::LoadBalancer(s) => s,
        _ => &default,
    };
    let mut v = json!({
        "id": r.id,
        "name": r.name,
        "description": s.description,
        "algorithm": s.algorithm,
        "publicport": s.publicport.to_string(),
        "privateport": s.privateport.to_string(),
        "protocol": s.protocol,
        "cidrlist": s.cidrlist.join(","),
        "state": r.state,
        "fordisplay": s.fordisplay,
        "tags": [],
    });
    if s.pooled {
        v["servicepool"] = json!(true);
    }
    if let Some(n) = r.network_id {
        v["networkid"] = json!(n);
    }
    if let Some(ip) = ip {
        v["publicipid"] = json!(ip.id);
        v["publicip"] = json!(ip.address);
        v["zoneid"] = json!(ip.zone_id);
        if let Some(z) = zone {
            v["zonename"] = json!(z);
        }
    }
    owner_fields(&mut v, r);
    v
}

async fn views(st: &State, rows: &[RuleRow]) -> AppResult<Vec<Value>> {
    let ids: Vec<Uuid> = rows.iter().filter_map(|r| r.ip_id).collect();
    let ips: Vec<db::PublicIpRow> = if ids.is_empty() {
        Vec::new()
    } else {
        let mut c = st.store.read().await?;
        db::public_ip_list(
            &mut c,
            &db::PublicIpFilter {
                ids,
                ..Default::default()
            },
        )
        .await?
        .0
    };
    let zones = super::zones::names(st, db::Infra::Zone, ips.iter().map(|i| i.zone_id)).await?;
    let tags =
        super::tags::for_resources(st, &rows.iter().map(|r| r.id).collect::<Vec<_>>()).await?;
    Ok(rows
        .iter()
        .map(|r| {
            let ip = ips.iter().find(|i| Some(i.id) == r.ip_id);
            let mut v = lb_view(r, ip, ip.and_then(|i| zones.get(&i.zone_id)));
            v["tags"] = super::tags::embedded(&tags, r.id);
            v
        })
        .collect())
}

pub async fn create_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    // The plain parameters first: a bad one is refused before any address is taken.
    algorithm(args.required_str("algorithm")?)?;
    protocol(args.text("protocol"))?;
    for k in ["publicport", "privateport"] {
        if let Some(p) = args.int(k).filter(|p| !(1..=65535).contains(p)) {
            return param_err(format!("Invalid {k} {p}: ports are between 1 and 65535"));
        }
    }
    let ip_id = match args.uuid("publicipid") {
        Some(id) => id,
        // No address: the next one of a service IP pool (a Canopy addition).
        None => match args.uuid("networkid") {
            Some(n) => pool::take(st, ctx, args, n).await?,
            None => {
                return param_err(
                    "Please specify publicipid, or networkid to take an address of a service IP pool (elastic load balancing is not supported)",
                )
            }
        },
    };
    let pooled = args.uuid("publicipid").is_none();
    let created = create_on(st, ctx, args, ip_id, pooled).await;
    if created.is_err() && pooled {
        // The address was taken for this rule alone: give it back.
        if let Err(e) = pool::give_back(st, ctx, ip_id).await {
            tracing::warn!(ip = %ip_id, error = %e, "could not give a service IP pool's address back after a refused rule");
        }
    }
    created
}

async fn create_on(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    ip_id: Uuid,
    pooled: bool,
) -> AppResult<JobPlan> {
    let ip = super::netrules::rule_ip_on_tier(
        st,
        ctx,
        "publicipid",
        ip_id,
        args.uuid("networkid"),
        None,
    )
    .await?;
    let net = ip.network_id.unwrap_or_default();
    if let Some(n) = args.uuid("networkid") {
        if n != net {
            return param_err("networkid must be the network of the public IP address");
        }
    }
    let net_row = super::netrules::require_service(st, net, "Lb").await?;
    let tier = net_row.vpc_id.is_some();
    if tier && internal::balances_internally(st, &net_row).await? {
        return param_err(format!(
            "Network {}'s offering balances internally (its Lb provider is InternalLbVm): public load balancer rules go on a tier whose offering's Lb provider is VpcVirtualRouter; internal load balancers use createLoadBalancer",
            net_row.name
        ));
    }
    if tier && !internal::on_network(st, net).await?.is_empty() {
        return param_err(
            "The tier has internal load balancers: a tier is load balanced publicly or internally, not both",
        );
    }
    if ip.static_nat_vm.is_some() {
        return param_err(format!(
            "Can't create a load balancer rule on IP {}: static NAT is enabled on it",
            ip.address
        ));
    }
    let name = args.required_str("name")?.trim().to_string();
    let algo = algorithm(args.required_str("algorithm")?)?;
    let proto = protocol(args.text("protocol"))?;
    let ports = |k: &str| -> AppResult<i64> {
        match args.int(k) {
            Some(p) if (1..=65535).contains(&p) => Ok(p),
            Some(p) => param_err(format!("Invalid {k} {p}: ports are between 1 and 65535")),
            None => param_err(format!("Please specify {k}")),
        }
    };
    let public = ports("publicport")?;
    let private = ports("privateport")?;
    let l4 = if proto == "udp" { "udp" } else { "tcp" };
    super::netrules::check_port_conflict(
        st,
        &ip,
        vec!["portforward", "lb"],
        l4,
        (public, public),
        None,
    )
    .await?;
    let cidrs = super::netrules::parse_cidrs(args, "cidrlist", false)?;
    let spec = db::rulespec::LbSpec {
        algorithm: algo,
        protocol: proto,
        publicport: public,
        privateport: private,
        description: args.text("description").unwrap_or("").to_string(),
        cidrlist: cidrs.clone(),
        fordisplay: args.bool("fordisplay").unwrap_or(true),
        pooled,
    };
    let id = super::netrules::insert_rule(
        st,
        ctx,
        Some(&ip),
        None,
        Some(name),
        RuleSpec::LoadBalancer(spec),
        "LB.CREATE",
    )
    .await?;
    // VPC tiers have no firewall: their network ACLs guard them (and the router opens the
    // load balancer's port on its address).
    if args.bool("openfirewall").unwrap_or(true) && !tier {
        let cidrs = if cidrs.is_empty() {
            vec!["0.0.0.0/0".to_string()]
        } else {
            cidrs
        };
        super::netrules::insert_rule(
            st,
            ctx,
            Some(&ip),
            None,
            None,
            RuleSpec::Firewall(super::netrules::opened_firewall(
                l4, public, public, cidrs, id,
            )),
            "FIREWALL.OPEN",
        )
        .await?;
    }
    Ok(JobPlan {
        instance_type: Some("LoadBalancerRule"),
        instance_id: Some(id.to_string()),
        returns_id: true,
        description: "Creating a load balancer rule".into(),
    })
}

pub async fn create_run(
    st: &State,
    _ctx: &OpContext,
    _args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let r = activate(st, job.instance()?).await?;
    super::netrules::activate_companions(st, &r).await?;
    Ok(json!({ "loadbalancer": views(st, &[r]).await?.remove(0) }))
}

pub async fn list(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let mut f = db::RuleFilter::kind("lb");
    f.scope = Some(crate::access::owner_scope(st, ctx, args).await?);
    f.ids.extend(args.uuid("id"));
    f.ip_ids.extend(args.uuid("publicipid"));
    f.network_ids
        .extend(args.id::<model::NetworkId>("networkid"));
    f.name = args.text("name").map(|n| n.trim().to_string());
    let mut rows = {
        let mut c = st.store.read().await?;
        db::rule_list(&mut c, &f).await?.0
    };
    if let Some(vm) = args.uuid("virtualmachineid") {
        let m = {
            let mut c = st.store.read().await?;
            db::memberships(&mut c, &[model::VmId(vm)]).await?
        };
        rows.retain(|r| m.iter().any(|x| x.owner_id == r.id));
    }
    if let Some(z) = args.uuid("zoneid") {
        let mut keep = Vec::new();
        let mut c = st.store.read().await?;
        for r in rows {
            if let Some(ip) = r.ip_id {
                if db::public_ip_get(&mut c, ip)
                    .await?
                    .is_some_and(|i| i.zone_id == z)
                {
                    keep.push(r);
                }
            }
        }
        rows = keep;
    }
    let total = rows.len() as u64;
    let rows = args.page.slice(rows);
    Ok(list_body(
        "loadbalancerrule",
        total,
        views(st, &rows).await?,
    ))
}

pub(super) fn plan(r: &RuleRow, what: &str) -> JobPlan {
    JobPlan {
        instance_type: Some("LoadBalancerRule"),
        instance_id: Some(r.id.to_string()),
        returns_id: false,
        description: format!(
            "{what} load balancer rule {}",
            r.name.as_deref().unwrap_or("")
        ),
    }
}

pub async fn delete_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let r = owned_rule(st, ctx, "id", args.required_id("id")?, &["lb"]).await?;
    Ok(plan(&r, "Deleting"))
}

pub async fn delete_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    _job: &JobRef,
) -> AppResult<Value> {
    let rule = owned_rule(st, ctx, "id", args.required_id("id")?, &["lb"]).await;
    if let Ok(r) = &rule {
        super::netrules::remove_companions(st, r).await?;
    }
    revoke(st, ctx, args.required_id("id")?, &["lb"]).await?;
    // An address a service IP pool lent this rule goes back to the pool with it.
    if let Ok(r) = &rule {
        if let (RuleSpec::LoadBalancer(s), Some(ip)) = (&r.spec, r.ip_id) {
            if s.pooled {
                pool::give_back(st, ctx, ip).await?;
            }
        }
    }
    Ok(success_body())
}

pub async fn update_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let r = owned_rule(st, ctx, "id", args.required_id("id")?, &["lb"]).await?;
    if let Some(a) = args.text("algorithm") {
        algorithm(a)?;
    }
    if args.has("protocol") {
        protocol(args.text("protocol"))?;
    }
    Ok(plan(&r, "Updating"))
}

pub async fn update_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    _job: &JobRef,
) -> AppResult<Value> {
    let r = owned_rule(st, ctx, "id", args.required_id("id")?, &["lb"]).await?;
    let RuleSpec::LoadBalancer(mut spec) = r.spec.clone() else {
        return Err(ApiError::invalid_id("id", &r.id.to_string()).into());
    };
    if let Some(a) = args.text("algorithm") {
        spec.algorithm = algorithm(a)?;
    }
    if args.has("protocol") {
        spec.protocol = protocol(args.text("protocol"))?;
    }
    if let Some(d) = args.text("description") {
        spec.description = d.to_string();
    }
    if let Some(d) = args.bool("fordisplay") {
        spec.fordisplay = d;
    }
    let spec = RuleSpec::LoadBalancer(spec);
    let name = args
        .text("name")
        .map(|n| n.trim().to_string())
        .or(r.name.clone());
    let mut tx = st.store.begin().await?;
    db::rule_update(&mut tx, r.id, model::RuleState::Add, name.as_deref(), &spec).await?;
    tx.commit().await?;
    let r = activate(st, r.id).await?;
    Ok(json!({ "loadbalancer": views(st, &[r]).await?.remove(0) }))
}

/// `virtualmachineids` and `vmidipmap` → (vm, guest ip on the rule's network).
async fn members_arg(
    st: &State,
    ctx: &OpContext,
    r: &RuleRow,
    args: &Args,
) -> AppResult<Vec<(model::VmId, String)>> {
    let net = r.network_id.unwrap_or_default();
    let mut out = Vec::new();
    for v in args.list("virtualmachineids").unwrap_or_default() {
        let id: Uuid = v
            .trim()
            .parse()
            .map_err(|_| ApiError::invalid_id("virtualmachineids", v))?;
        let (vm, ip) = super::netrules::target_vm(st, ctx, id, net, None).await?;
        out.push((vm.id, ip));
    }
    for m in args.map("vmidipmap").unwrap_or_default() {
        let Some(id) = m.get("vmid").and_then(|v| v.trim().parse::<Uuid>().ok()) else {
            return param_err("vmidipmap entries need a vmid");
        };
        let (vm, ip) =
            super::netrules::target_vm(st, ctx, id, net, m.get("vmip").map(String::as_str)).await?;
        out.push((vm.id, ip));
    }
    if out.is_empty() {
        return param_err("Please specify virtualmachineids or vmidipmap");
    }
    out.sort();
    out.dedup();
    Ok(out)
}

pub async fn assign_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let r = owned_rule(st, ctx, "id", args.required_id("id")?, LB_KINDS).await?;
    let m = members_arg(st, ctx, &r, args).await?;
    for (vm, _) in &m {
        let v = super::vms::owned(st, ctx, (*vm).into()).await?;
        if Some(v.account_id) != r.account_id {
            return param_err(format!(
                "VM {} belongs to another account than the load balancer rule",
                v.instance_name
            ));
        }
    }
    Ok(plan(&r, "Assigning VMs to"))
}

pub async fn assign_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    _job: &JobRef,
) -> AppResult<Value> {
    let r = owned_rule(st, ctx, "id", args.required_id("id")?, LB_KINDS).await?;
    let m = members_arg(st, ctx, &r, args).await?;
    let mut tx = st.store.begin().await?;
    for (vm, ip) in &m {
        db::member_add(
            &mut tx,
            &db::MemberRow {
                owner_id: r.id,
                member_id: *vm,
                ip: Some(ip.clone()),
            },
        )
        .await?;
    }
    Event::new(
        ctx,
        "LB.ASSIGN.TO.RULE",
        format!("{} VMs assigned to load balancer {}", m.len(), r.id),
    )
    .resource(r.id, "LoadBalancerRule", r.name.as_deref())
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    activate(st, r.id).await?;
    Ok(success_body())
}

pub async fn remove_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let r = owned_rule(st, ctx, "id", args.required_id("id")?, LB_KINDS).await?;
    Ok(plan(&r, "Removing VMs from"))
}

pub async fn remove_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    _job: &JobRef,
) -> AppResult<Value> {
    let r = owned_rule(st, ctx, "id", args.required_id("id")?, LB_KINDS).await?;
    let mut ids: Vec<Uuid> = Vec::new();
    for v in args.list("virtualmachineids").unwrap_or_default() {
        ids.push(
            v.trim()
                .parse()
                .map_err(|_| ApiError::invalid_id("virtualmachineids", v))?,
        );
    }
    for m in args.map("vmidipmap").unwrap_or_default() {
        if let Some(id) = m.get("vmid").and_then(|v| v.trim().parse().ok()) {
            ids.push(id);
        }
    }
    if ids.is_empty() {
        return param_err("Please specify virtualmachineids or vmidipmap");
    }
    let mut tx = st.store.begin().await?;
    for vm in &ids {
        db::member_remove(&mut tx, r.id, model::VmId(*vm)).await?;
    }
    Event::new(
        ctx,
        "LB.REMOVE.FROM.RULE",
        format!("{} VMs removed from load balancer {}", ids.len(), r.id),
    )
    .resource(r.id, "LoadBalancerRule", r.name.as_deref())
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    activate(st, r.id).await?;
    Ok(success_body())
}

pub async fn list_instances(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let r = owned_rule(st, ctx, "id", args.required_id("id")?, LB_KINDS).await?;
    let members = {
        let mut c = st.store.read().await?;
        db::members_of(&mut c, &[r.id]).await?
    };
    let mut out = Vec::new();
    for m in &members {
        if let Ok(vm) = super::vms::owned(st, ctx, m.member_id.into()).await {
            let mut v = super::vms::one_view(st, ctx, &vm).await?;
            if args.flag("lbvmips") {
                v["lbvmipaddresses"] = json!(m.ip.iter().collect::<Vec<_>>());
            }
            out.push(v);
        }
    }
    let total = out.len() as u64;
    Ok(list_body(
        "loadbalancerruleinstance",
        total,
        args.page.slice(out),
    ))
}

/// listAutoScaleVmGroups: Canopy has no autoscaling (createAutoScaleVmGroup is not
/// implemented), so no load balancer rule has a group and the list is empty; an `id` names
/// nothing (431), and `lbruleid` must name a rule the caller may see. Terraform's
/// load balancer rule resource asks before it deletes a rule.
pub async fn list_autoscale_groups(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    if let Some(id) = args.uuid("id") {
        return Err(ApiError::invalid_id("id", &id.to_string()).into());
    }
    if let Some(rule) = args.uuid("lbruleid") {
        owned_rule(
            st,
            ctx,
            "lbruleid",
            rule,
            &[db::rulespec::kind::LOAD_BALANCER],
        )
        .await?;
    }
    Ok(list_body("autoscalevmgroup", 0, Vec::new()))
}
