//! Network ACL lists: create, list, update, delete, and replacing a tier's list.

use std::collections::HashMap;

use api::{list_body, success_body, ApiError, Args};
use db::rulespec::AclListSpec;
use db::{RuleRow, RuleSpec};
use model::VpcId;
use serde_json::{json, Value};
use uuid::Uuid;

use super::*;
use crate::context::OpContext;
use crate::error::{param_err, AppResult};
use crate::events::Event;
use crate::handlers::netrules::owner_fields;
use crate::jobs::{JobPlan, JobRef};
use crate::state::State;

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
        Some(v) => Some(crate::handlers::vpcs::owned_vpc(st, ctx, "vpcid", v).await?),
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
    // Names are unique among the VPC's lists (or among the global ones).
    let taken = {
        let mut c = st.store.read().await?;
        db::rule_list(
            &mut c,
            &db::RuleFilter {
                name: Some(name.clone()),
                ..db::RuleFilter::kind("acllist")
            },
        )
        .await?
        .0
        .into_iter()
        .any(|l| l.parent_id == vpc.as_ref().map(|v| v.id.0))
    };
    if taken {
        return param_err(format!(
            "A network ACL list named {name} already exists in {}",
            vpc.as_ref()
                .map(|v| format!("VPC {}", v.name))
                .unwrap_or_else(|| "the global lists".into())
        ));
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
pub(super) async fn visible_lists(
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
    let mut rows = visible_lists(st, ctx, args, args.uuid("id")).await?;
    if let Some(v) = args.uuid("vpcid") {
        let vpc = crate::handlers::vpcs::owned_vpc(st, ctx, "vpcid", v).await?;
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
        (None, Some(g)) => {
            super::super::private_gateways::owned_gateway(st, ctx, "gatewayid", g).await?
        }
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
