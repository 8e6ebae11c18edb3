//! Resource tags: createTags, deleteTags, listTags, and the `tags` array of tagged objects.
//!
//! A tag belongs to the tagged resource's owner; whoever may change the resource may tag it.
//! Resource types are resolved here as their families arrive (today: Template, ISO, UserVm,
//! Volume, and the networking objects).

use api::{list_body, success_body, Args};
use db::{AccountRow, DbError, NewTag, TagFilter, TagRow};
use model::identity::display_domain_path;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::access;
use crate::context::OpContext;
use crate::error::{param_err, AppResult};
use crate::jobs::{JobPlan, JobRef};
use crate::state::State;

/// Resource types CloudStack tags, in their wire spelling.
const KNOWN: &[&str] = &[
    "UserVm",
    "Template",
    "ISO",
    "Volume",
    "Snapshot",
    "Network",
    "Nic",
    "LoadBalancer",
    "PortForwardingRule",
    "FirewallRule",
    "SecurityGroup",
    "SecurityGroupRule",
    "PublicIpAddress",
    "Project",
    "Account",
    "Vpc",
    "NetworkACL",
    "StaticRoute",
    "VMSnapshot",
    "RemoteAccessVpn",
    "Zone",
    "ServiceOffering",
    "Storage",
    "PrivateGateway",
    "NetworkACLList",
    "VpnGateway",
    "CustomerGateway",
    "VpnConnection",
    "User",
    "DiskOffering",
    "AutoScaleVmProfile",
    "AutoScaleVmGroup",
];

pub fn view(t: &TagRow) -> Value {
    let mut v = json!({
        "key": t.key,
        "value": t.value,
        "resourcetype": t.resource_type,
        "resourceid": t.resource_id,
        "account": t.account_name,
        "domainid": t.domain_id,
        "domain": t.domain_name,
        "domainpath": display_domain_path(&t.domain_path),
    });
    if let Some(c) = &t.customer {
        v["customer"] = json!(c);
    }
    v
}

/// The `tags` array embedded in a resource's own object: only `key` and `value`, as
/// CloudStack's `createResourceTagResponse(tag, keyValueOnly = true)` (the full form is
/// `listTags`'). Ansible compares these arrays exactly.
pub fn embedded(tags: &[TagRow], resource: Uuid) -> Value {
    Value::Array(
        tags.iter()
            .filter(|t| t.resource_id == resource)
            .map(|t| json!({"key": t.key, "value": t.value}))
            .collect(),
    )
}

/// The tags of these resources (for the `tags` array of their objects).
pub async fn for_resources(st: &State, ids: &[Uuid]) -> AppResult<Vec<TagRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    let mut c = st.store.read().await?;
    for chunk in ids.chunks(500) {
        let f = TagFilter {
            resource_ids: chunk.to_vec(),
            ..TagFilter::all()
        };
        out.extend(db::tag_list(&mut c, &f).await?.0);
    }
    Ok(out)
}

/// The canonical spelling of a resource type (matched case-insensitively), if Canopy can tag it.
fn resource_type(args: &Args) -> AppResult<&'static str> {
    let given = args.required_str("resourcetype")?;
    let Some(t) = KNOWN.iter().find(|k| k.eq_ignore_ascii_case(given)) else {
        return param_err(format!("Invalid resource type: {given}"));
    };
    match *t {
        "Template" | "ISO" | "UserVm" | "Volume" | "Network" | "PublicIpAddress"
        | "SecurityGroup" | "PortForwardingRule" | "FirewallRule" | "LoadBalancer"
        | "StaticRoute" | "RemoteAccessVpn" => Ok(t),
        other => param_err(format!(
            "Tagging {other} resources is not supported yet: Canopy has no such resources"
        )),
    }
}

/// The owner of a resource the caller may change.
async fn owner(st: &State, ctx: &OpContext, rtype: &str, id: Uuid) -> AppResult<AccountRow> {
    match rtype {
        "Template" => super::templates::owner_account(st, ctx, id, false).await,
        "UserVm" => {
            let vm = super::vms::owned(st, ctx, id).await?;
            crate::access::account(st, "id", vm.account_id).await
        }
        "Volume" => {
            let v = super::volumes::owned(st, ctx, "resourceids", id).await?;
            crate::access::account(st, "id", v.account_id).await
        }
        "Network" => {
            let n = super::networks::owned_network(st, ctx, "resourceids", id).await?;
            match n.account_id {
                Some(a) => crate::access::account(st, "id", a).await,
                None => Ok(ctx.user.account.clone()),
            }
        }
        "PublicIpAddress" => {
            let ip = super::ips::owned_ip(st, ctx, "resourceids", id).await?;
            match ip.account_id {
                Some(a) => crate::access::account(st, "id", a).await,
                None => Ok(ctx.user.account.clone()),
            }
        }
        "SecurityGroup" | "PortForwardingRule" | "FirewallRule" | "LoadBalancer"
        | "StaticRoute" | "RemoteAccessVpn" => {
            let kinds: &[&str] = match rtype {
                "SecurityGroup" => &["securitygroup"],
                "PortForwardingRule" => &["portforward"],
                "FirewallRule" => &["firewall", "egressfw"],
                "LoadBalancer" => &["lb"],
                "StaticRoute" => &["route"],
                _ => &["vpn"],
            };
            let r = super::netrules::owned_rule(st, ctx, "resourceids", id, kinds).await?;
            match r.account_id {
                Some(a) => crate::access::account(st, "id", a).await,
                None => Ok(ctx.user.account.clone()),
            }
        }
        _ => super::templates::owner_account(st, ctx, id, true).await,
    }
}

fn resource_ids(args: &Args) -> AppResult<Vec<Uuid>> {
    let given = args.list("resourceids").unwrap_or_default();
    if given.is_empty() {
        return param_err("Please specify at least one resource id in resourceids");
    }
    given
        .iter()
        .map(|s| {
            s.trim()
                .parse::<Uuid>()
                .map_err(|_| api::ApiError::invalid_id("resourceids", s).into())
        })
        .collect()
}

/// `tags[i].key` / `tags[i].value` pairs.
fn tag_pairs(args: &Args, required: bool) -> AppResult<Vec<(String, Option<String>)>> {
    let maps = args.map("tags").unwrap_or_default();
    if maps.is_empty() && required {
        return param_err("Please specify the tags to create as tags[0].key=…&tags[0].value=…");
    }
    let mut out: Vec<(String, Option<String>)> = Vec::new();
    for m in maps {
        let key = m
            .get("key")
            .map(|k| k.trim().to_string())
            .unwrap_or_default();
        if key.is_empty() {
            return param_err("A tag key must not be empty");
        }
        if key.len() > 255 || m.get("value").map(|v| v.len() > 255).unwrap_or(false) {
            return param_err("Tag keys and values are at most 255 characters");
        }
        if required && out.iter().any(|(k, _)| *k == key) {
            return param_err(format!("The tag key {key} is given twice"));
        }
        out.push((key, m.get("value").cloned()));
    }
    Ok(out)
}

pub async fn create_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let rtype = resource_type(args)?;
    let ids = resource_ids(args)?;
    let pairs = tag_pairs(args, true)?;
    for id in &ids {
        owner(st, ctx, rtype, *id).await?;
        let mut c = st.store.read().await?;
        let f = TagFilter {
            resource_ids: vec![*id],
            ..TagFilter::all()
        };
        for t in db::tag_list(&mut c, &f).await?.0 {
            if pairs.iter().any(|(k, _)| *k == t.key) {
                return param_err(format!(
                    "Unable to create tags: the key {} is already on {rtype} {id}",
                    t.key
                ));
            }
        }
    }
    Ok(JobPlan {
        instance_type: None,
        instance_id: None,
        returns_id: false,
        description: format!(
            "Creating {} tag(s) on {} {rtype}(s)",
            pairs.len(),
            ids.len()
        ),
    })
}

/// Creates every tag in one transaction: all or none.
pub async fn create_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    _job: &JobRef,
) -> AppResult<Value> {
    let rtype = resource_type(args)?;
    let ids = resource_ids(args)?;
    let pairs = tag_pairs(args, true)?;
    let customer = args.text("customer").map(str::to_string);
    let mut owners = Vec::new();
    for id in &ids {
        owners.push((*id, owner(st, ctx, rtype, *id).await?));
    }
    let mut tx = st.store.begin().await?;
    for (id, acct) in &owners {
        for (key, value) in &pairs {
            let t = NewTag {
                resource_type: rtype.to_string(),
                resource_id: *id,
                key: key.clone(),
                value: value.clone().unwrap_or_default(),
                account_id: acct.id,
                domain_id: acct.domain_id,
                customer: customer.clone(),
            };
            match db::tag_insert(&mut tx, &t).await {
                Ok(_) => {}
                Err(DbError::Conflict(_)) => {
                    return param_err(format!(
                        "Unable to create tags: the key {key} is already on {rtype} {id}"
                    ))
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    tx.commit().await?;
    Ok(success_body())
}

/// The tags a deleteTags call names: on the given resources, matching the given keys (and
/// values, where given); all of the resources' tags when no tags are given.
async fn matching(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Vec<TagRow>> {
    let rtype = resource_type(args)?;
    let ids = resource_ids(args)?;
    let pairs = tag_pairs(args, false)?;
    for id in &ids {
        owner(st, ctx, rtype, *id).await?;
    }
    let f = TagFilter {
        resource_type: Some(rtype.to_string()),
        resource_ids: ids,
        ..TagFilter::all()
    };
    let mut c = st.store.read().await?;
    let all = db::tag_list(&mut c, &f).await?.0;
    Ok(all
        .into_iter()
        .filter(|t| {
            pairs.is_empty()
                || pairs
                    .iter()
                    .any(|(k, v)| *k == t.key && v.as_ref().map(|v| *v == t.value).unwrap_or(true))
        })
        .collect())
}

pub async fn delete_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let found = matching(st, ctx, args).await?;
    if found.is_empty() {
        return param_err("Unable to find any tags which conform to specified delete parameters.");
    }
    Ok(JobPlan {
        instance_type: None,
        instance_id: None,
        returns_id: false,
        description: format!("Deleting {} tag(s)", found.len()),
    })
}

/// Deletes the matching tags. Idempotent.
pub async fn delete_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    _job: &JobRef,
) -> AppResult<Value> {
    let found = matching(st, ctx, args).await?;
    let mut tx = st.store.begin().await?;
    for t in &found {
        db::tag_delete(&mut tx, t.id).await?;
    }
    tx.commit().await?;
    Ok(success_body())
}

pub async fn list(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let rtype = match args.text("resourcetype") {
        Some(given) => match KNOWN.iter().find(|k| k.eq_ignore_ascii_case(given)) {
            Some(t) => Some(t.to_string()),
            None => return param_err(format!("Invalid resource type: {given}")),
        },
        None => None,
    };
    let f = TagFilter {
        scope: access::owner_scope(st, ctx, args).await?,
        resource_type: rtype,
        resource_ids: args.uuid("resourceid").into_iter().collect(),
        key: args.text("key").map(str::to_string),
        value: args.text("value").map(str::to_string),
        customer: args.text("customer").map(str::to_string),
        keyword: args.text("keyword").map(str::to_string),
        offset: args.page.offset,
        limit: args.page.limit,
    };
    let mut c = st.store.read().await?;
    let (rows, total) = db::tag_list(&mut c, &f).await?;
    Ok(list_body("tag", total, rows.iter().map(view).collect()))
}
