//! Service tags (a Canopy addition, after the locked-down seed's "service tags"): named groups
//! of addresses root admins keep, which network ACL items name in their `cidrlist` in place
//! of a CIDR. The built-in `Internet` is computed per zone (everything outside the private
//! ranges and the zone's public ranges). A tag's members changing updates every router whose
//! tiers' items name it — the tag's nftables set changes, no rule does.

use api::{list_body, success_body, ApiError, Args};
use db::rulespec::ServiceTagSpec;
use db::{RuleRow, RuleSpec};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::context::OpContext;
use crate::error::{param_err, AppResult};
use crate::events::Event;
use crate::jobs::{JobPlan, JobRef};
use crate::state::State;

fn spec(r: &RuleRow) -> ServiceTagSpec {
    match &r.spec {
        RuleSpec::ServiceTag(s) => s.clone(),
        _ => ServiceTagSpec::default(),
    }
}

fn view(r: &RuleRow) -> Value {
    let s = spec(r);
    json!({
        "id": r.id,
        "name": r.name,
        "description": s.description,
        "cidrlist": s.cidrlist.join(","),
        "builtin": false,
    })
}

fn internet_view() -> Value {
    json!({
        "name": netplan::tags::INTERNET,
        "description": "every address outside the private, loopback, link-local, multicast and reserved ranges and the zone's public ranges",
        "cidrlist": "",
        "builtin": true,
    })
}

/// The built-in `ManagementServers` and `ImageStores`, with their addresses now.
async fn computed_views(st: &State) -> AppResult<Vec<Value>> {
    let mut c = st.store.read().await?;
    let servers = domain::netsync::management_addresses(&mut c).await?;
    let stores = db::infra_list(&mut c, db::Infra::ImageStore, &db::InfraFilter::default())
        .await?
        .0;
    let mut images: Vec<std::net::Ipv4Addr> = stores
        .iter()
        .flat_map(|s| domain::netsync::image_store_addresses(s, &servers))
        .collect();
    images.sort();
    images.dedup();
    let cidrs = |a: &[std::net::Ipv4Addr]| {
        a.iter()
            .map(|x| format!("{x}/32"))
            .collect::<Vec<_>>()
            .join(",")
    };
    Ok(vec![
        json!({
            "name": netplan::tags::MANAGEMENT_SERVERS,
            "description": "the management servers' addresses (those not down)",
            "cidrlist": cidrs(&servers),
            "builtin": true,
        }),
        json!({
            "name": netplan::tags::IMAGE_STORES,
            "description": "the image stores' addresses (a store on the management servers' disks is theirs)",
            "cidrlist": cidrs(&images),
            "builtin": true,
        }),
    ])
}

fn check_name(name: &str) -> AppResult<()> {
    let ok = !name.is_empty()
        && name.chars().count() <= 40
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !ok {
        return param_err(format!(
            "Invalid service tag name {name:?}: letters, digits, '-' and '_', at most 40 characters"
        ));
    }
    if netplan::tags::builtin(name).is_some() {
        return param_err(format!("{name} is a built-in service tag"));
    }
    Ok(())
}

/// Every service tag (root admins').
pub(crate) async fn all(st: &State) -> AppResult<Vec<RuleRow>> {
    let mut c = st.store.read().await?;
    Ok(db::rule_list(&mut c, &db::RuleFilter::kind("servicetag"))
        .await?
        .0)
}

/// The canonical name of the tag `given` names (any case), if there is one.
pub(crate) async fn resolve(st: &State, given: &str) -> AppResult<Option<String>> {
    if let Some(b) = netplan::tags::builtin(given) {
        return Ok(Some(b.into()));
    }
    Ok(all(st)
        .await?
        .into_iter()
        .filter_map(|r| r.name)
        .find(|n| n.eq_ignore_ascii_case(given)))
}

/// A list of CIDRs (given as their network address) and service tag names (stored in the
/// tag's own spelling), as ACL items' `cidrlist` and egress rules' `destcidrlist` take it;
/// `None` when not given, `0.0.0.0/0` when given empty and `default_any`.
pub(crate) async fn cidrs_or_tags(
    st: &State,
    args: &Args,
    key: &str,
    default_any: bool,
) -> AppResult<Option<Vec<String>>> {
    let Some(given) = args.list(key) else {
        return Ok(None);
    };
    let mut out = Vec::new();
    for e in given
        .iter()
        .flat_map(|s| s.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let looks_like_address = e.chars().next().is_some_and(|c| c.is_ascii_digit());
        if looks_like_address {
            let p: netplan::Cidr = e
                .parse()
                .map_err(|_| ApiError::param(format!("Invalid CIDR {e} in {key}")))?;
            if !e.contains('/') || p.to_string() != e {
                return param_err(format!("Invalid CIDR {e} in {key}: give it as {p}"));
            }
            out.push(e.to_string());
        } else {
            match resolve(st, e).await? {
                Some(name) => out.push(name),
                None => {
                    return param_err(format!(
                        "{e} in {key} is neither a CIDR nor a service tag (listServiceTags)"
                    ))
                }
            }
        }
    }
    if out.is_empty() && default_any {
        out.push("0.0.0.0/0".into());
    }
    Ok(Some(out))
}

/// A tag by id (root admins only change them).
async fn get(st: &State, id: Uuid) -> AppResult<RuleRow> {
    let mut c = st.store.read().await?;
    db::rule_get(&mut c, id)
        .await?
        .filter(|r| r.kind() == "servicetag")
        .ok_or_else(|| ApiError::invalid_id("id", &id.to_string()).into())
}

/// The ACL items and egress firewall rules naming a tag.
async fn items_naming(st: &State, name: &str) -> AppResult<Vec<RuleRow>> {
    let mut c = st.store.read().await?;
    let items = db::rule_list(
        &mut c,
        &db::RuleFilter {
            kinds: vec!["aclitem", "egressfw"],
            ..Default::default()
        },
    )
    .await?
    .0;
    let names = |l: &[String]| l.iter().any(|e| e.eq_ignore_ascii_case(name));
    Ok(items
        .into_iter()
        .filter(|r| match &r.spec {
            RuleSpec::AclItem(s) => names(&s.cidrlist),
            RuleSpec::EgressFirewall(s) => names(&s.destcidrlist),
            _ => false,
        })
        .collect())
}

pub async fn create(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let name = args.required_str("name")?.trim().to_string();
    check_name(&name)?;
    let cidrs = crate::handlers::netrules::parse_cidrs(args, "cidrlist", false)?;
    if cidrs.is_empty() {
        return param_err("cidrlist is required: the tag's addresses");
    }
    if resolve(st, &name).await?.is_some() {
        return param_err(format!("A service tag named {name} already exists"));
    }
    let id = Uuid::new_v4();
    let mut tx = st.store.begin().await?;
    let r = db::rule_insert(
        &mut tx,
        &db::NewRule {
            id,
            name: Some(name.clone()),
            state: model::RuleState::Active,
            account_id: None,
            domain_id: None,
            network_id: None,
            ip_id: None,
            parent_id: None,
            spec: RuleSpec::ServiceTag(ServiceTagSpec {
                description: args.text("description").unwrap_or_default().to_string(),
                cidrlist: cidrs,
            }),
        },
    )
    .await;
    match r {
        Ok(()) => {}
        Err(db::DbError::Conflict(_)) => {
            return param_err(format!("A service tag named {name} already exists"))
        }
        Err(e) => return Err(e.into()),
    }
    Event::new(
        ctx,
        "SERVICE.TAG.CREATE",
        format!("Service tag {name} created"),
    )
    .resource(id, "ServiceTag", Some(&name))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(json!({ "servicetag": view(&get(st, id).await?) }))
}

pub async fn list(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let mut rows: Vec<Value> = Vec::new();
    if args.uuid("id").is_none() {
        rows.push(internet_view());
        let mut computed = computed_views(st).await?;
        // The cloud's own addresses are for root admins to see; tenants may name the tags.
        if !ctx.is_root_admin() {
            for v in &mut computed {
                v["cidrlist"] = json!("");
            }
        }
        rows.extend(computed);
    }
    rows.extend(all(st).await?.iter().map(view));
    rows.retain(|v| {
        args.uuid("id")
            .is_none_or(|i| v["id"].as_str() == Some(i.to_string().as_str()))
            && args.text("name").is_none_or(|n| {
                v["name"]
                    .as_str()
                    .is_some_and(|x| x.eq_ignore_ascii_case(n))
            })
            && args.text("keyword").is_none_or(|k| {
                v["name"]
                    .as_str()
                    .is_some_and(|x| x.to_lowercase().contains(&k.to_lowercase()))
            })
    });
    let total = rows.len() as u64;
    Ok(list_body("servicetag", total, args.page.slice(rows)))
}

pub async fn update_prepare(st: &State, _ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let r = get(st, args.required_id("id")?).await?;
    if args.has("cidrlist")
        && crate::handlers::netrules::parse_cidrs(args, "cidrlist", false)?.is_empty()
    {
        return param_err("cidrlist cannot be empty: delete the tag instead");
    }
    Ok(JobPlan {
        instance_type: Some("ServiceTag"),
        instance_id: Some(r.id.to_string()),
        returns_id: false,
        description: format!(
            "Updating service tag {}",
            r.name.as_deref().unwrap_or_default()
        ),
    })
}

pub async fn update_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    _job: &JobRef,
) -> AppResult<Value> {
    let r = get(st, args.required_id("id")?).await?;
    let mut s = spec(&r);
    if args.has("cidrlist") {
        s.cidrlist = crate::handlers::netrules::parse_cidrs(args, "cidrlist", false)?;
    }
    if let Some(d) = args.text("description") {
        s.description = d.to_string();
    }
    let name = r.name.clone().unwrap_or_default();
    let mut tx = st.store.begin().await?;
    db::rule_update(
        &mut tx,
        r.id,
        r.state,
        r.name.as_deref(),
        &RuleSpec::ServiceTag(s),
    )
    .await?;
    Event::new(
        ctx,
        "SERVICE.TAG.UPDATE",
        format!("Service tag {name} updated"),
    )
    .resource(r.id, "ServiceTag", Some(&name))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    // Every tier whose list has an item naming the tag, every network whose egress rules
    // name it: its router's set changes.
    let naming = items_naming(st, &name).await?;
    let egress_nets: Vec<model::NetworkId> = naming
        .iter()
        .filter(|r| r.kind() == "egressfw")
        .filter_map(|r| r.network_id)
        .collect();
    if !egress_nets.is_empty() {
        crate::netsync::networks_changed(st, &egress_nets).await?;
    }
    let lists: Vec<Uuid> = naming
        .iter()
        .filter(|r| r.kind() == "aclitem")
        .filter_map(|i| i.parent_id)
        .collect();
    if !lists.is_empty() {
        let nets: Vec<model::NetworkId> = {
            let mut c = st.store.read().await?;
            db::network_list(
                &mut c,
                &db::NetworkFilter {
                    acl_ids: lists,
                    ..Default::default()
                },
            )
            .await?
            .0
            .iter()
            .map(|n| n.id)
            .collect()
        };
        if !nets.is_empty() {
            crate::netsync::networks_changed(st, &nets).await?;
        }
    }
    Ok(json!({ "servicetag": view(&get(st, r.id).await?) }))
}

pub async fn delete(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let r = get(st, args.required_id("id")?).await?;
    let name = r.name.clone().unwrap_or_default();
    let used = items_naming(st, &name).await?;
    if !used.is_empty() {
        return param_err(format!(
            "Service tag {name} is named by {} network ACL item(s) or egress firewall rule(s): change or delete them first",
            used.len()
        ));
    }
    let mut tx = st.store.begin().await?;
    db::rule_remove(&mut tx, db::RuleOwner::Id, r.id).await?;
    Event::new(
        ctx,
        "SERVICE.TAG.DELETE",
        format!("Service tag {name} deleted"),
    )
    .resource(r.id, "ServiceTag", Some(&name))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(success_body())
}
