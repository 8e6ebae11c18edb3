//! Network ACL items: create, update, move, delete, list.

use std::collections::HashMap;

use api::{list_body, success_body, ApiError, Args};
use db::rulespec::{AclItemSpec, AclListSpec, L4};
use db::{RuleRow, RuleSpec};
use serde_json::{json, Value};
use uuid::Uuid;

use super::*;
use crate::context::OpContext;
use crate::error::{param_err, AppResult};
use crate::events::Event;
use crate::handlers::netrules::owner_fields;
use crate::jobs::{JobPlan, JobRef};
use crate::state::State;

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

/// `cidrlist` of an item: CIDRs and service tag names; `None` when not given.
async fn sources(st: &State, args: &Args) -> AppResult<Option<Vec<String>>> {
    crate::handlers::vpcs::service_tags::cidrs_or_tags(st, args, "cidrlist", true).await
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
    let cidrs = sources(st, args)
        .await?
        .unwrap_or_else(|| vec!["0.0.0.0/0".into()]);
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
    given_sources: Option<Vec<String>>,
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
    let cidrlist = given_sources.unwrap_or_else(|| base.cidrlist.clone());
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
    updated_spec(args, sources(st, args).await?, &cur, &items, &r, &list)?;
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
    let spec = updated_spec(args, sources(st, args).await?, &cur, &items, &r, &list)?;
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
