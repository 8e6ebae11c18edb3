//! Network ACL lists and their items (CloudStack's VPC network ACLs). A list belongs to a VPC
//! (or is global: the built-in `default_allow` and `default_deny`, or one a root admin made);
//! each tier of a VPC is guarded by exactly one list (`networks.acl_id`). Items are evaluated
//! lowest `number` first; a change to a list is pushed to the routers of every tier it guards.
//!
//! Storage: lists are `net_rules` of kind `acllist` (parent = the VPC), items of kind
//! `aclitem` (parent = the list). The order and the consistency hash are `netplan::acl`'s.

use std::collections::HashMap;

use api::{list_body, success_body, ApiError, Args};
use db::rulespec::{AclItemSpec, AclListSpec, L4};
use db::{RuleRow, RuleSpec};
use model::VpcId;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::context::OpContext;
use crate::error::{param_err, AppResult};
use crate::events::Event;
use crate::handlers::netrules::owner_fields;
use crate::jobs::{JobPlan, JobRef};
use crate::state::State;

pub const DEFAULT_ALLOW: &str = "default_allow";
pub const DEFAULT_DENY: &str = "default_deny";

/// Inserts the built-in lists once per database: `default_allow` (allow all ingress and
/// egress) and `default_deny` (rule 1 denies all ingress, rule 2 all egress).
pub async fn seed_defaults(store: &db::DataStore) -> AppResult<()> {
    const MARK: &str = "seed:acl:1";
    {
        let mut c = store.read().await?;
        if db::meta_get(&mut c, MARK).await?.is_some() {
            return Ok(());
        }
    }
    let mut tx = store.begin().await?;
    if !db::meta_insert(&mut tx, MARK, "1").await? {
        return Ok(());
    }
    for (name, action, text) in [
        (DEFAULT_ALLOW, "Allow", "Default Network ACL Allow All"),
        (DEFAULT_DENY, "Deny", "Default Network ACL Deny All"),
    ] {
        let list = Uuid::new_v4();
        db::rule_insert(
            &mut tx,
            &db::NewRule {
                id: list,
                name: Some(name.into()),
                state: model::RuleState::Active,
                account_id: None,
                domain_id: None,
                network_id: None,
                ip_id: None,
                parent_id: None,
                spec: RuleSpec::AclList(AclListSpec {
                    description: text.into(),
                    fordisplay: true,
                    builtin: true,
                }),
            },
        )
        .await?;
        for (number, traffic) in [(1, "Ingress"), (2, "Egress")] {
            db::rule_insert(
                &mut tx,
                &db::NewRule {
                    id: Uuid::new_v4(),
                    name: None,
                    state: model::RuleState::Active,
                    account_id: None,
                    domain_id: None,
                    network_id: None,
                    ip_id: None,
                    parent_id: Some(list),
                    spec: RuleSpec::AclItem(AclItemSpec {
                        l4: L4::protocol("all"),
                        number,
                        action: action.into(),
                        traffictype: traffic.into(),
                        cidrlist: vec!["0.0.0.0/0".into()],
                        reason: String::new(),
                        fordisplay: true,
                    }),
                },
            )
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

fn list_spec(r: &RuleRow) -> Option<&AclListSpec> {
    match &r.spec {
        RuleSpec::AclList(s) => Some(s),
        _ => None,
    }
}

fn item_spec(r: &RuleRow) -> Option<&AclItemSpec> {
    match &r.spec {
        RuleSpec::AclItem(s) => Some(s),
        _ => None,
    }
}

/// A built-in list, which nobody may change.
pub(crate) fn builtin(r: &RuleRow) -> bool {
    list_spec(r).is_some_and(|s| s.builtin)
}

/// The built-in list of this name.
pub(crate) async fn builtin_list(st: &State, name: &str) -> AppResult<RuleRow> {
    let mut c = st.store.read().await?;
    db::rule_list(
        &mut c,
        &db::RuleFilter {
            name: Some(name.into()),
            ..db::RuleFilter::kind("acllist")
        },
    )
    .await?
    .0
    .into_iter()
    .find(|r| r.account_id.is_none() && builtin(r))
    .ok_or_else(|| crate::error::AppError::Internal(format!("the built-in ACL {name} is missing")))
}

/// The list `id` names, if the caller may see it: global lists are everyone's; a VPC's list
/// its owner's (and admins reaching the owner).
pub(crate) async fn visible_list(
    st: &State,
    ctx: &OpContext,
    param: &str,
    id: Uuid,
) -> AppResult<RuleRow> {
    let r = {
        let mut c = st.store.read().await?;
        db::rule_get(&mut c, id).await?
    };
    let Some(r) = r.filter(|r| r.kind() == "acllist") else {
        return Err(ApiError::invalid_id(param, &id.to_string()).into());
    };
    if let Some(a) = r.account_id {
        if a != ctx.account_id() {
            let acct = crate::access::account(st, "account", a).await?;
            if crate::access::check_account(ctx, &acct).is_err() {
                return Err(ApiError::invalid_id(param, &id.to_string()).into());
            }
        }
    }
    Ok(r)
}

/// The list `id` names, if the caller may change it: not a built-in one; a global one only
/// for root admins.
pub(crate) async fn changeable_list(
    st: &State,
    ctx: &OpContext,
    param: &str,
    id: Uuid,
) -> AppResult<RuleRow> {
    let r = visible_list(st, ctx, param, id).await?;
    if builtin(&r) {
        return param_err("Default ACL cannot be modified");
    }
    if r.account_id.is_none() && !ctx.is_root_admin() {
        return Err(ApiError::permission(format!(
            "Only a root admin can change the global ACL list {}",
            r.name.as_deref().unwrap_or_default()
        ))
        .into());
    }
    Ok(r)
}

/// The items of a list.
async fn items_of(st: &State, list: Uuid) -> AppResult<Vec<RuleRow>> {
    let mut c = st.store.read().await?;
    let mut v = db::rule_list(
        &mut c,
        &db::RuleFilter {
            parent_ids: vec![list],
            ..db::RuleFilter::kind("aclitem")
        },
    )
    .await?
    .0;
    v.sort_by_key(|r| (item_spec(r).map(|s| s.number).unwrap_or(0), r.id));
    Ok(v)
}

/// An item as the planner sees it (for ordering, moving and hashing).
pub(crate) fn plan_item(r: &RuleRow) -> Option<netplan::acl::Item> {
    domain::netsync::acl_item(r.id, item_spec(r)?)
}

/// The tiers a list guards.
async fn tiers_using(st: &State, list: Uuid) -> AppResult<Vec<db::NetworkRow>> {
    let mut c = st.store.read().await?;
    Ok(db::network_list(
        &mut c,
        &db::NetworkFilter {
            acl_ids: vec![list],
            ..Default::default()
        },
    )
    .await?
    .0)
}

/// Pushes the configuration of every tier a list guards.
async fn apply_list(st: &State, list: Uuid) -> AppResult<()> {
    let nets: Vec<model::NetworkId> = tiers_using(st, list).await?.iter().map(|n| n.id).collect();
    if !nets.is_empty() {
        crate::netsync::networks_changed(st, &nets).await?;
    }
    Ok(())
}

// --- lists ----------------------------------------------------------------------------------

fn list_view(r: &RuleRow, vpc_names: &HashMap<Uuid, String>) -> Value {
    let s = list_spec(r).cloned().unwrap_or_default();
    let mut v = json!({
        "id": r.id,
        "name": r.name,
        "description": s.description,
        "fordisplay": s.fordisplay,
    });
    if let Some(p) = r.parent_id {
        v["vpcid"] = json!(p);
        if let Some(n) = vpc_names.get(&p) {
            v["vpcname"] = json!(n);
        }
    }
    v
}

async fn vpc_names(st: &State, rows: &[RuleRow]) -> AppResult<HashMap<Uuid, String>> {
    let ids: Vec<VpcId> = rows.iter().filter_map(|r| r.parent_id).map(VpcId).collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let mut c = st.store.read().await?;
    Ok(db::vpc_list(
        &mut c,
        &db::VpcFilter {
            ids,
            ..Default::default()
        },
    )
    .await?
    .0
    .into_iter()
    .map(|v| (v.id.0, v.name))
    .collect())
}

fn list_plan(id: Uuid, what: &str, returns_id: bool) -> JobPlan {
    JobPlan {
        instance_type: Some("NetworkAcl"),
        instance_id: Some(id.to_string()),
        returns_id,
        description: format!("{what} network ACL list {id}"),
    }
}

pub async fn create_list_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let name = args.required_str("name")?.trim().to_string();
    if name.is_empty() {
        return param_err("Network ACL list name cannot be empty");
    }
    if [DEFAULT_ALLOW, DEFAULT_DENY].contains(&name.as_str()) {
        return param_err(format!("{name} is the name of a default ACL list"));
    }
    let vpc = match args.uuid("vpcid") {
        Some(v) => Some(super::owned_vpc(st, ctx, "vpcid", v).await?),
        None if ctx.is_root_admin() => None,
        None => {
            return Err(ApiError::permission(
                "Only a root admin can create a global ACL list: give vpcid",
            )
            .into())
        }
    };
    if args.has("fordisplay") && !ctx.is_admin() {
        return param_err("Only admins can set fordisplay");
    }
    let id = Uuid::new_v4();
    let mut tx = st.store.begin().await?;
    db::rule_insert(
        &mut tx,
        &db::NewRule {
            id,
            name: Some(name.clone()),
            state: model::RuleState::Active,
            account_id: vpc.as_ref().and_then(|v| v.account_id),
            domain_id: vpc.as_ref().and_then(|v| v.domain_id),
            network_id: None,
            ip_id: None,
            parent_id: vpc.as_ref().map(|v| v.id.0),
            spec: RuleSpec::AclList(AclListSpec {
                description: args.text("description").unwrap_or(&name).to_string(),
                fordisplay: args.bool("fordisplay").unwrap_or(true),
                builtin: false,
            }),
        },
    )
    .await?;
    Event::new(
        ctx,
        "NETWORK.ACL.CREATE",
        format!("Network ACL list {name} created"),
    )
    .resource(id, "NetworkAcl", Some(&name))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(list_plan(id, "Creating", true))
}

pub async fn create_list_run(
    st: &State,
    ctx: &OpContext,
    _args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let r = visible_list(st, ctx, "id", job.instance()?).await?;
    let names = vpc_names(st, std::slice::from_ref(&r)).await?;
    Ok(json!({ "networkacllist": list_view(&r, &names) }))
}

/// The lists the caller may see: its VPCs' (or, for admins, those in reach) and the global
/// ones.
async fn visible_lists(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    id: Option<Uuid>,
) -> AppResult<Vec<RuleRow>> {
    let scope = crate::access::owner_scope(st, ctx, args).await?;
    let mut c = st.store.read().await?;
    let mut f = db::RuleFilter {
        scope: Some(scope),
        ..db::RuleFilter::kind("acllist")
    };
    f.ids.extend(id);
    let mut rows = db::rule_list(&mut c, &f).await?.0;
    // Global lists have no owner: every caller sees them (unless an account is named).
    if args.text("account").is_none() {
        let mut g = db::rule_list(
            &mut c,
            &db::RuleFilter {
                ids: f.ids.clone(),
                ..db::RuleFilter::kind("acllist")
            },
        )
        .await?
        .0;
        g.retain(|r| r.account_id.is_none() && !rows.iter().any(|x| x.id == r.id));
        rows.extend(g);
    }
    Ok(rows)
}

pub async fn list_lists(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    if args.has("projectid") {
        return param_err("Projects are not supported");
    }
    let mut rows = visible_lists(st, ctx, args, args.uuid("id")).await?;
    if let Some(v) = args.uuid("vpcid") {
        let vpc = super::owned_vpc(st, ctx, "vpcid", v).await?;
        rows.retain(|r| r.parent_id == Some(vpc.id.0) || r.parent_id.is_none());
    }
    if let Some(n) = args.uuid("networkid") {
        let net = crate::handlers::networks::owned_network(st, ctx, "networkid", n).await?;
        rows.retain(|r| Some(r.id) == net.acl_id);
    }
    if let Some(n) = args.text("name") {
        rows.retain(|r| r.name.as_deref().is_some_and(|x| x.eq_ignore_ascii_case(n)));
    }
    if let Some(k) = args.text("keyword") {
        let k = k.to_lowercase();
        rows.retain(|r| {
            r.name
                .as_deref()
                .is_some_and(|x| x.to_lowercase().contains(&k))
        });
    }
    if let Some(fd) = args.bool("fordisplay") {
        rows.retain(|r| list_spec(r).is_some_and(|s| s.fordisplay == fd));
    }
    rows.sort_by_key(|r| (r.parent_id.is_some(), r.created, r.id));
    let total = rows.len() as u64;
    let page = args.page.slice(rows);
    let names = vpc_names(st, &page).await?;
    Ok(list_body(
        "networkacllist",
        total,
        page.iter()
            .map(|r| {
                let mut v = list_view(r, &names);
                owner_fields(&mut v, r);
                v
            })
            .collect(),
    ))
}

pub async fn update_list_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let r = changeable_list(st, ctx, "id", args.required_id("id")?).await?;
    if args.has("customid") {
        return param_err("customid is not supported");
    }
    if let Some(n) = args.text("name") {
        if n.trim().is_empty() {
            return param_err("Network ACL list name cannot be empty");
        }
    }
    Ok(list_plan(r.id, "Updating", false))
}

pub async fn update_list_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    _job: &JobRef,
) -> AppResult<Value> {
    let r = changeable_list(st, ctx, "id", args.required_id("id")?).await?;
    let mut s = list_spec(&r).cloned().unwrap_or_default();
    if let Some(d) = args.text("description") {
        s.description = d.to_string();
    }
    if let Some(fd) = args.bool("fordisplay") {
        s.fordisplay = fd;
    }
    let name = args
        .text("name")
        .map(|n| n.trim().to_string())
        .or(r.name.clone());
    let mut tx = st.store.begin().await?;
    db::rule_update(
        &mut tx,
        r.id,
        r.state,
        name.as_deref(),
        &RuleSpec::AclList(s),
    )
    .await?;
    Event::new(
        ctx,
        "NETWORK.ACL.UPDATE",
        format!("Network ACL list {} updated", r.id),
    )
    .resource(r.id, "NetworkAcl", name.as_deref())
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(success_body())
}

pub async fn delete_list_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let id = args.required_id("id")?;
    let r = visible_list(st, ctx, "id", id).await?;
    if builtin(&r) {
        return param_err("Default Network ACL lists cannot be removed");
    }
    let r = changeable_list(st, ctx, "id", id).await?;
    let used = tiers_using(st, r.id).await?;
    if !used.is_empty() {
        return param_err(format!(
            "Network ACL list {} is still in use by {} network(s) ({}): replace it on them first",
            r.name.as_deref().unwrap_or_default(),
            used.len(),
            used.iter()
                .map(|n| n.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Ok(list_plan(r.id, "Deleting", false))
}

pub async fn delete_list_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    _job: &JobRef,
) -> AppResult<Value> {
    let Ok(r) = changeable_list(st, ctx, "id", args.required_id("id")?).await else {
        return Ok(success_body());
    };
    let mut tx = st.store.begin().await?;
    db::rule_remove(&mut tx, db::RuleOwner::Parent, r.id).await?;
    db::rule_remove(&mut tx, db::RuleOwner::Id, r.id).await?;
    Event::new(
        ctx,
        "NETWORK.ACL.DELETE",
        format!("Network ACL list {} deleted", r.id),
    )
    .resource(r.id, "NetworkAcl", r.name.as_deref())
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(success_body())
}

/// The tier and list of a `replaceNetworkACLList`, checked: the tier belongs to a VPC the
/// caller may change, the list is that VPC's or a global one.
async fn replace_target(
    st: &State,
    ctx: &OpContext,
    args: &Args,
) -> AppResult<(db::NetworkRow, RuleRow)> {
    let net = match (args.uuid("networkid"), args.uuid("gatewayid")) {
        (Some(_), Some(_)) | (None, None) => {
            return param_err("Give either networkid or gatewayid (and not both)")
        }
        (None, Some(_)) => return param_err("Private gateways are not supported yet"),
        (Some(n), None) => {
            crate::handlers::networks::owned_network(st, ctx, "networkid", n).await?
        }
    };
    let Some(vpc) = net.vpc_id else {
        return param_err(format!(
            "Network {} is not a VPC tier: network ACLs guard VPC tiers only",
            net.name
        ));
    };
    let list = visible_list(st, ctx, "aclid", args.required_id("aclid")?).await?;
    if let Some(p) = list.parent_id {
        if p != vpc.0 {
            return param_err(format!(
                "Network ACL list {} belongs to another VPC than network {}",
                list.name.as_deref().unwrap_or_default(),
                net.name
            ));
        }
    }
    Ok((net, list))
}

pub async fn replace_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let (net, _) = replace_target(st, ctx, args).await?;
    Ok(JobPlan {
        instance_type: Some("Network"),
        instance_id: Some(net.id.to_string()),
        returns_id: false,
        description: format!("Replacing the network ACL list of network {}", net.name),
    })
}

pub async fn replace_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    _job: &JobRef,
) -> AppResult<Value> {
    let (net, list) = replace_target(st, ctx, args).await?;
    if net.acl_id != Some(list.id) {
        let mut tx = st.store.begin().await?;
        db::network_set_acl(&mut tx, net.id, list.id).await?;
        Event::new(
            ctx,
            "NETWORK.ACL.REPLACE",
            format!(
                "Network {} is guarded by ACL list {}",
                net.name,
                list.name.as_deref().unwrap_or_default()
            ),
        )
        .resource(net.id.0, "Network", Some(&net.name))
        .record(&mut tx)
        .await?;
        tx.commit().await?;
    }
    crate::netsync::networks_changed(st, &[net.id]).await?;
    Ok(success_body())
}

// --- items ----------------------------------------------------------------------------------

fn item_view(r: &RuleRow, list_names: &HashMap<Uuid, String>) -> Value {
    let s = item_spec(r).cloned().unwrap_or_default();
    let mut v = json!({
        "id": r.id,
        "protocol": s.l4.protocol,
        "traffictype": s.traffictype,
        "state": r.state,
        "cidrlist": s.cidrlist.join(","),
        "number": s.number,
        "action": s.action,
        "fordisplay": s.fordisplay,
        "tags": [],
    });
    if let (Some(a), Some(b)) = (s.l4.startport, s.l4.endport) {
        v["startport"] = json!(a.to_string());
        v["endport"] = json!(b.to_string());
    }
    if let Some(t) = s.l4.icmptype {
        v["icmptype"] = json!(t);
    }
    if let Some(c) = s.l4.icmpcode {
        v["icmpcode"] = json!(c);
    }
    if !s.reason.is_empty() {
        v["reason"] = json!(s.reason);
    }
    if let Some(l) = r.parent_id {
        v["aclid"] = json!(l);
        if let Some(n) = list_names.get(&l) {
            v["aclname"] = json!(n);
        }
    }
    v
}

/// The layer-4 match of an ACL item, checked as CloudStack checks it: protocol TCP, UDP, ICMP,
/// ALL or a number 0–255 (1 is ICMP); ports only for TCP and UDP (0–65535, start ≤ end);
/// ICMP type and code only for ICMP (-1 = any).
fn acl_l4(
    protocol: &str,
    start: Option<i64>,
    end: Option<i64>,
    icmptype: Option<i64>,
    icmpcode: Option<i64>,
) -> AppResult<L4> {
    let p = protocol.trim().to_ascii_lowercase();
    let proto = match p.as_str() {
        "tcp" | "udp" | "icmp" | "all" => p.clone(),
        "1" => "icmp".into(),
        n => match n.parse::<i64>() {
            Ok(v) if (0..=255).contains(&v) => v.to_string(),
            _ => {
                return param_err(format!(
                "Invalid protocol {protocol}: use TCP, UDP, ICMP, ALL or a protocol number 0-255"
            ))
            }
        },
    };
    let mut l4 = L4::protocol(proto.clone());
    let end = end.or(start);
    if proto == "tcp" || proto == "udp" {
        for (k, v) in [("startport", start), ("endport", end)] {
            if let Some(v) = v {
                if !(0..=65535).contains(&v) {
                    return param_err(format!("Invalid {k} {v}: ports are 0-65535"));
                }
            }
        }
        match (start, end) {
            (Some(s), Some(e)) if e < s => {
                return param_err(format!("Start port can't be bigger than end port: {s}-{e}"))
            }
            (Some(s), Some(e)) => {
                l4.startport = Some(s);
                l4.endport = Some(e);
            }
            _ => {}
        }
    } else if start.is_some() || end.is_some() {
        return param_err(format!(
            "Can't specify start/end port when protocol is {}",
            proto.to_ascii_uppercase()
        ));
    }
    if proto == "icmp" {
        for (k, v) in [("icmptype", icmptype), ("icmpcode", icmpcode)] {
            let v = v.unwrap_or(-1);
            if !(-1..=255).contains(&v) {
                return param_err(format!("Invalid {k} {v}: -1 (any) or 0-255"));
            }
        }
        l4.icmptype = Some(icmptype.unwrap_or(-1));
        l4.icmpcode = Some(icmpcode.unwrap_or(-1));
    } else if icmptype.is_some() || icmpcode.is_some() {
        return param_err("Can't specify icmpType/icmpCode for a protocol other than ICMP");
    }
    Ok(l4)
}

fn action_arg(v: Option<&str>, default: &str) -> AppResult<String> {
    match v.map(str::trim) {
        None => Ok(default.into()),
        Some(a) if a.eq_ignore_ascii_case("allow") => Ok("Allow".into()),
        Some(a) if a.eq_ignore_ascii_case("deny") => Ok("Deny".into()),
        Some(a) => param_err(format!("Invalid action {a}: use Allow or Deny")),
    }
}

fn traffic_arg(v: Option<&str>, default: &str) -> AppResult<String> {
    match v.map(str::trim) {
        None => Ok(default.into()),
        Some(a) if a.eq_ignore_ascii_case("ingress") => Ok("Ingress".into()),
        Some(a) if a.eq_ignore_ascii_case("egress") => Ok("Egress".into()),
        Some(a) => param_err(format!("Invalid traffic type {a}: use Ingress or Egress")),
    }
}

fn number_arg(args: &Args) -> AppResult<Option<i64>> {
    match args.int("number") {
        Some(n) if !(1..=i64::from(u32::MAX)).contains(&n) => {
            param_err(format!("Invalid number {n}: ACL item numbers start at 1"))
        }
        other => Ok(other),
    }
}

/// Refuses a number another item of the list already has.
fn check_number_free(
    items: &[RuleRow],
    number: i64,
    except: Option<Uuid>,
    list: &RuleRow,
) -> AppResult<()> {
    if items
        .iter()
        .any(|i| Some(i.id) != except && item_spec(i).is_some_and(|s| s.number == number))
    {
        return param_err(format!(
            "ACL item with number {number} already exists in ACL: {}",
            list.name.as_deref().unwrap_or_default()
        ));
    }
    Ok(())
}

/// The list a new item goes into: `aclid`, or the list guarding `networkid` — a tier still on
/// no list of its own gets a new one (`VPC_<vpc>_Tier_<network>_ACL_<id>`), as in CloudStack.
async fn target_list(st: &State, ctx: &OpContext, args: &Args) -> AppResult<RuleRow> {
    if let Some(a) = args.uuid("aclid") {
        return changeable_list(st, ctx, "aclid", a).await;
    }
    let Some(n) = args.uuid("networkid") else {
        return param_err("Give aclid or networkid");
    };
    let net = crate::handlers::networks::owned_network(st, ctx, "networkid", n).await?;
    let Some(vpc) = net.vpc_id else {
        return param_err(format!(
            "Network {} is not a VPC tier: network ACLs guard VPC tiers only",
            net.name
        ));
    };
    if let Some(l) = net.acl_id {
        return changeable_list(st, ctx, "networkid", l).await;
    }
    let id = Uuid::new_v4();
    let name = format!("VPC_{}_Tier_{}_ACL_{}", vpc, net.id, id);
    let mut tx = st.store.begin().await?;
    db::rule_insert(
        &mut tx,
        &db::NewRule {
            id,
            name: Some(name.clone()),
            state: model::RuleState::Active,
            account_id: net.account_id,
            domain_id: net.domain_id,
            network_id: None,
            ip_id: None,
            parent_id: Some(vpc.0),
            spec: RuleSpec::AclList(AclListSpec {
                description: format!("ACL of network {}", net.name),
                fordisplay: true,
                builtin: false,
            }),
        },
    )
    .await?;
    db::network_set_acl(&mut tx, net.id, id).await?;
    tx.commit().await?;
    visible_list(st, ctx, "networkid", id).await
}

pub async fn create_item_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let l4 = acl_l4(
        args.required_str("protocol")?,
        args.int("startport"),
        args.int("endport"),
        args.int("icmptype"),
        args.int("icmpcode"),
    )?;
    let action = action_arg(args.text("action"), "Allow")?;
    let traffic = traffic_arg(args.text("traffictype"), "Ingress")?;
    let cidrs = crate::handlers::netrules::parse_cidrs(args, "cidrlist", true)?;
    let number = number_arg(args)?;
    if args.has("fordisplay") && !ctx.is_admin() {
        return param_err("Only admins can set fordisplay");
    }
    let list = target_list(st, ctx, args).await?;
    let items = items_of(st, list.id).await?;
    let number = match number {
        Some(n) => {
            check_number_free(&items, n, None, &list)?;
            n
        }
        None => {
            items
                .iter()
                .filter_map(|i| item_spec(i).map(|s| s.number))
                .max()
                .unwrap_or(0)
                + 1
        }
    };
    let id = Uuid::new_v4();
    let mut tx = st.store.begin().await?;
    db::rule_insert(
        &mut tx,
        &db::NewRule {
            id,
            name: None,
            state: model::RuleState::Add,
            account_id: list.account_id,
            domain_id: list.domain_id,
            network_id: None,
            ip_id: None,
            parent_id: Some(list.id),
            spec: RuleSpec::AclItem(AclItemSpec {
                l4,
                number,
                action,
                traffictype: traffic,
                cidrlist: cidrs,
                reason: args.text("reason").unwrap_or_default().to_string(),
                fordisplay: args.bool("fordisplay").unwrap_or(true),
            }),
        },
    )
    .await?;
    Event::new(
        ctx,
        "NETWORK.ACL.ITEM.CREATE",
        format!("Network ACL item {number} created in {}", list.id),
    )
    .resource(id, "NetworkAclItem", None)
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(JobPlan {
        instance_type: Some("NetworkAclItem"),
        instance_id: Some(id.to_string()),
        returns_id: true,
        description: format!("Creating network ACL item {number}"),
    })
}

/// The item `id` names, if the caller may change its list.
async fn changeable_item(
    st: &State,
    ctx: &OpContext,
    param: &str,
    id: Uuid,
) -> AppResult<(RuleRow, RuleRow)> {
    let r = {
        let mut c = st.store.read().await?;
        db::rule_get(&mut c, id).await?
    };
    let Some(r) = r.filter(|r| r.kind() == "aclitem") else {
        return Err(ApiError::invalid_id(param, &id.to_string()).into());
    };
    let Some(list) = r.parent_id else {
        return Err(ApiError::invalid_id(param, &id.to_string()).into());
    };
    let list = match visible_list(st, ctx, param, list).await {
        Ok(l) => l,
        Err(_) => return Err(ApiError::invalid_id(param, &id.to_string()).into()),
    };
    let list = changeable_list(st, ctx, param, list.id).await?;
    Ok((r, list))
}

/// Pushes the item's list to its tiers and marks the item Active.
async fn activate_item(st: &State, ctx: &OpContext, id: Uuid) -> AppResult<Value> {
    let (r, list) = changeable_item(st, ctx, "id", id).await?;
    apply_list(st, list.id).await?;
    if r.state != model::RuleState::Active {
        let mut tx = st.store.begin().await?;
        db::rule_update(&mut tx, r.id, model::RuleState::Active, None, &r.spec).await?;
        tx.commit().await?;
    }
    let r = {
        let mut c = st.store.read().await?;
        db::rule_get(&mut c, id).await?
    }
    .ok_or_else(|| ApiError::invalid_id("id", &id.to_string()))?;
    let names: HashMap<Uuid, String> = list
        .name
        .clone()
        .map(|n| (list.id, n))
        .into_iter()
        .collect();
    Ok(json!({ "networkacl": item_view(&r, &names) }))
}

pub async fn create_item_run(
    st: &State,
    ctx: &OpContext,
    _args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    activate_item(st, ctx, job.instance()?).await
}

fn item_plan(r: &RuleRow, what: &str) -> JobPlan {
    JobPlan {
        instance_type: Some("NetworkAclItem"),
        instance_id: Some(r.id.to_string()),
        returns_id: false,
        description: format!("{what} network ACL item {}", r.id),
    }
}

/// The item an `updateNetworkACLItem` makes: the given fields over the current ones
/// (`partialupgrade`, the default), or the given fields over the defaults.
fn updated_spec(
    args: &Args,
    cur: &AclItemSpec,
    items: &[RuleRow],
    r: &RuleRow,
    list: &RuleRow,
) -> AppResult<AclItemSpec> {
    let partial = args.bool("partialupgrade").unwrap_or(true);
    let base = if partial {
        cur.clone()
    } else {
        AclItemSpec {
            l4: L4::protocol("all"),
            number: cur.number,
            action: "Allow".into(),
            traffictype: "Ingress".into(),
            cidrlist: vec!["0.0.0.0/0".into()],
            reason: String::new(),
            fordisplay: true,
        }
    };
    let proto_given = args.has("protocol");
    let protocol = args
        .text("protocol")
        .unwrap_or(&base.l4.protocol)
        .to_string();
    // A new protocol starts from no ports / ICMP fields unless they are given again.
    let keep = |v: Option<i64>| if proto_given { None } else { v };
    let l4 = acl_l4(
        &protocol,
        args.int("startport").or(keep(base.l4.startport)),
        args.int("endport").or(keep(base.l4.endport)),
        args.int("icmptype").or(keep(base.l4.icmptype)),
        args.int("icmpcode").or(keep(base.l4.icmpcode)),
    )?;
    let number = number_arg(args)?.unwrap_or(base.number);
    check_number_free(items, number, Some(r.id), list)?;
    let cidrlist = if args.has("cidrlist") {
        crate::handlers::netrules::parse_cidrs(args, "cidrlist", true)?
    } else {
        base.cidrlist.clone()
    };
    Ok(AclItemSpec {
        l4,
        number,
        action: action_arg(args.text("action"), &base.action)?,
        traffictype: traffic_arg(args.text("traffictype"), &base.traffictype)?,
        cidrlist,
        reason: args
            .text("reason")
            .map(str::to_string)
            .unwrap_or(base.reason),
        fordisplay: args.bool("fordisplay").unwrap_or(base.fordisplay),
    })
}

pub async fn update_item_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    if args.has("customid") {
        return param_err("customid is not supported");
    }
    let (r, list) = changeable_item(st, ctx, "id", args.required_id("id")?).await?;
    let items = items_of(st, list.id).await?;
    let cur = item_spec(&r).cloned().unwrap_or_default();
    updated_spec(args, &cur, &items, &r, &list)?;
    Ok(item_plan(&r, "Updating"))
}

pub async fn update_item_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    _job: &JobRef,
) -> AppResult<Value> {
    let (r, list) = changeable_item(st, ctx, "id", args.required_id("id")?).await?;
    let items = items_of(st, list.id).await?;
    let cur = item_spec(&r).cloned().unwrap_or_default();
    let spec = updated_spec(args, &cur, &items, &r, &list)?;
    if spec != cur {
        let mut tx = st.store.begin().await?;
        db::rule_update(
            &mut tx,
            r.id,
            model::RuleState::Add,
            None,
            &RuleSpec::AclItem(spec),
        )
        .await?;
        Event::new(
            ctx,
            "NETWORK.ACL.ITEM.UPDATE",
            format!("Network ACL item {} updated", r.id),
        )
        .resource(r.id, "NetworkAclItem", None)
        .record(&mut tx)
        .await?;
        tx.commit().await?;
    }
    activate_item(st, ctx, r.id).await
}

/// `previousaclruleid` / `nextaclruleid`: an item id, or nothing (`NULL` or empty: the top or
/// the bottom of the list).
fn neighbour(args: &Args, key: &str) -> AppResult<Option<Uuid>> {
    match args.text(key).map(str::trim) {
        None => Ok(None),
        Some(v) if v.is_empty() || v.eq_ignore_ascii_case("null") => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| ApiError::invalid_id(key, v).into()),
    }
}

/// The renumbering a move makes, checked against the list the mover saw.
async fn planned_move(
    st: &State,
    ctx: &OpContext,
    args: &Args,
) -> AppResult<(RuleRow, Vec<(Uuid, u32)>)> {
    let (r, list) = changeable_item(st, ctx, "id", args.required_id("id")?).await?;
    let prev = neighbour(args, "previousaclruleid")?;
    let next = neighbour(args, "nextaclruleid")?;
    let rows = items_of(st, list.id).await?;
    let items: Vec<netplan::acl::Item> = rows.iter().filter_map(plan_item).collect();
    if let Some(h) = args
        .text("aclconsistencyhash")
        .map(str::trim)
        .filter(|h| !h.is_empty())
    {
        let now = netplan::acl::consistency_hash(&items);
        if !now.eq_ignore_ascii_case(h) {
            return param_err(
                "It seems that the access control list in the database is not in the state that you used to apply the changed. Could you try it again?",
            );
        }
    }
    for n in [prev, next].into_iter().flatten() {
        if !items.iter().any(|i| i.id == n) {
            return param_err(format!(
                "Rule {n} is not an item of the same ACL list as the rule being moved"
            ));
        }
    }
    let changes = netplan::acl::move_item(&items, r.id, prev, next)
        .map_err(|e| ApiError::param(e.to_string()))?;
    Ok((r, changes))
}

pub async fn move_item_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let (r, _) = planned_move(st, ctx, args).await?;
    Ok(item_plan(&r, "Moving"))
}

pub async fn move_item_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let id: Uuid = job.instance()?;
    // A resumed job whose move already landed: the hash the mover sent no longer matches,
    // and the item is where it was asked to be — push and answer.
    let changes = match planned_move(st, ctx, args).await {
        Ok((_, c)) => c,
        Err(_) => Vec::new(),
    };
    if !changes.is_empty() {
        let mut tx = st.store.begin().await?;
        for (item, number) in &changes {
            let row = db::rule_get(&mut tx, *item).await?;
            if let Some(row) = row {
                if let RuleSpec::AclItem(mut s) = row.spec.clone() {
                    s.number = i64::from(*number);
                    db::rule_update(&mut tx, row.id, row.state, None, &RuleSpec::AclItem(s))
                        .await?;
                }
            }
        }
        Event::new(
            ctx,
            "NETWORK.ACL.ITEM.UPDATE",
            format!("Network ACL item {id} moved"),
        )
        .resource(id, "NetworkAclItem", None)
        .record(&mut tx)
        .await?;
        tx.commit().await?;
    }
    activate_item(st, ctx, id).await
}

pub async fn delete_item_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let (r, _) = changeable_item(st, ctx, "id", args.required_id("id")?).await?;
    Ok(item_plan(&r, "Deleting"))
}

pub async fn delete_item_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    _job: &JobRef,
) -> AppResult<Value> {
    let Ok((r, list)) = changeable_item(st, ctx, "id", args.required_id("id")?).await else {
        return Ok(success_body());
    };
    let mut tx = st.store.begin().await?;
    db::rule_remove(&mut tx, db::RuleOwner::Id, r.id).await?;
    Event::new(
        ctx,
        "NETWORK.ACL.ITEM.DELETE",
        format!("Network ACL item {} deleted", r.id),
    )
    .resource(r.id, "NetworkAclItem", None)
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    apply_list(st, list.id).await?;
    Ok(success_body())
}

pub async fn list_items(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    if args.has("projectid") {
        return param_err("Projects are not supported");
    }
    // The lists in view: one named by aclid or networkid, else every visible one.
    let lists: Vec<RuleRow> = if let Some(a) = args.uuid("aclid") {
        vec![visible_list(st, ctx, "aclid", a).await?]
    } else if let Some(n) = args.uuid("networkid") {
        let net = crate::handlers::networks::owned_network(st, ctx, "networkid", n).await?;
        match net.acl_id {
            Some(l) => vec![visible_list(st, ctx, "networkid", l).await?],
            None => Vec::new(),
        }
    } else {
        visible_lists(st, ctx, args, None).await?
    };
    let names: HashMap<Uuid, String> = lists
        .iter()
        .filter_map(|l| Some((l.id, l.name.clone()?)))
        .collect();
    let mut rows = if lists.is_empty() {
        Vec::new()
    } else {
        let mut c = st.store.read().await?;
        db::rule_list(
            &mut c,
            &db::RuleFilter {
                parent_ids: lists.iter().map(|l| l.id).collect(),
                ids: args.uuid("id").into_iter().collect(),
                ..db::RuleFilter::kind("aclitem")
            },
        )
        .await?
        .0
    };
    rows.retain(|r| {
        let Some(s) = item_spec(r) else { return false };
        args.text("traffictype")
            .is_none_or(|t| s.traffictype.eq_ignore_ascii_case(t))
            && args
                .text("action")
                .is_none_or(|a| s.action.eq_ignore_ascii_case(a))
            && args
                .text("protocol")
                .is_none_or(|p| s.l4.protocol.eq_ignore_ascii_case(p))
            && args.bool("fordisplay").is_none_or(|f| s.fordisplay == f)
    });
    rows.sort_by_key(|r| {
        (
            r.parent_id,
            item_spec(r).map(|s| s.number).unwrap_or(0),
            r.id,
        )
    });
    let total = rows.len() as u64;
    let page = args.page.slice(rows);
    Ok(list_body(
        "networkacl",
        total,
        page.iter()
            .map(|r| {
                let mut v = item_view(r, &names);
                owner_fields(&mut v, r);
                v
            })
            .collect(),
    ))
}
