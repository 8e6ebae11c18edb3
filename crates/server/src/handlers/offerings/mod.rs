//! Service (compute), disk and network offerings, and the defaults CloudStack seeds.
//! Offerings are immutable except for their names (network offerings also change state and
//! availability). Offerings scoped to domains are visible to those domains' subtrees.

use std::collections::HashMap;

use api::{list_body, success_body, ApiError, Args};
use db::{Infra, InfraFilter, InfraRow};
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::context::OpContext;
use crate::error::{param_err, AppResult};
use crate::events::Event;
use crate::handlers::zones::{domain_lineage, get, names};
use crate::state::State;

pub(crate) mod io;
mod network;
mod seed;
pub(crate) mod vpc;

pub use network::{create_network, delete_network, list_network, update_network};
pub use seed::seed_defaults;
pub use vpc::{
    create_vpc_prepare, create_vpc_run, delete_vpc_prepare, delete_vpc_run, list_vpc,
    update_vpc_prepare, update_vpc_run,
};
pub(crate) use vpc::{has_service as vpc_offering_has, services_view as vpc_services_view};

pub(super) fn s(r: &InfraRow, k: &str) -> Option<String> {
    r.attrs.get(k).and_then(|v| v.as_str()).map(str::to_string)
}
pub(super) fn b(r: &InfraRow, k: &str) -> bool {
    r.attrs.get(k).and_then(|v| v.as_bool()).unwrap_or(false)
}
pub(super) fn n(r: &InfraRow, k: &str) -> Option<i64> {
    r.attrs.get(k).and_then(|v| v.as_i64())
}
pub(super) fn uuids(r: &InfraRow, k: &str) -> Vec<Uuid> {
    r.attrs
        .get(k)
        .and_then(|v| v.as_array())
        .map(|a| a.iter().filter_map(|x| x.as_str()?.parse().ok()).collect())
        .unwrap_or_default()
}

/// `domainid` / `zoneid` lists of a create request, checked to exist.
pub(super) async fn scope(
    st: &State,
    ctx: &OpContext,
    args: &Args,
) -> AppResult<(Vec<Uuid>, Vec<Uuid>)> {
    let domains: Vec<Uuid> = args.ids::<Uuid>("domainid").unwrap_or_default();
    for d in &domains {
        let dom = crate::access::domain(st, "domainid", model::DomainId(*d)).await?;
        crate::access::check_domain_admin(ctx, &dom)?;
    }
    if domains.is_empty() && !ctx.is_root_admin() {
        return param_err(
            "A domain admin can only create offerings for its own domains: give domainid",
        );
    }
    let zones: Vec<Uuid> = args.ids::<Uuid>("zoneid").unwrap_or_default();
    for z in &zones {
        get(st, Infra::Zone, "zoneid", *z).await?;
    }
    Ok((domains, zones))
}

/// Writes `domainid`/`domain`/`zoneid`/`zone` as CloudStack's comma lists.
pub(super) async fn scope_fields(
    st: &State,
    m: &mut Map<String, Value>,
    r: &InfraRow,
) -> AppResult<()> {
    let ds = uuids(r, "domainids");
    if !ds.is_empty() {
        let mut c = st.store.read().await?;
        let mut dn = Vec::new();
        for d in &ds {
            if let Some(x) = db::domain_get(&mut c, model::DomainId(*d)).await? {
                dn.push(x.name);
            }
        }
        m.insert(
            "domainid".into(),
            json!(ds.iter().map(Uuid::to_string).collect::<Vec<_>>().join(",")),
        );
        m.insert("domain".into(), json!(dn.join(",")));
    }
    let zs = uuids(r, "zoneids");
    if !zs.is_empty() {
        let zn: HashMap<Uuid, String> = names(st, Infra::Zone, zs.iter().copied()).await?;
        m.insert(
            "zoneid".into(),
            json!(zs.iter().map(Uuid::to_string).collect::<Vec<_>>().join(",")),
        );
        m.insert(
            "zone".into(),
            json!(zs
                .iter()
                .filter_map(|z| zn.get(z).cloned())
                .collect::<Vec<_>>()
                .join(",")),
        );
    }
    Ok(())
}

/// Whether the caller may see an offering: root admins all; others public ones and those
/// scoped to their domain or an ancestor (admins also their subtree's).
pub(super) async fn visible_filter(st: &State, ctx: &OpContext) -> AppResult<Option<Vec<Uuid>>> {
    if ctx.is_root_admin() {
        return Ok(None);
    }
    Ok(Some(domain_lineage(st, ctx).await?))
}

/// An offering `who` may use: a public one, or one scoped to its domain or an ancestor (root
/// admins: any). Otherwise the same answer as for an id that does not exist, so offerings of
/// other domains cannot be probed.
pub(crate) async fn usable(
    st: &State,
    who: &db::AccountRow,
    t: Infra,
    param: &str,
    id: Uuid,
) -> AppResult<InfraRow> {
    let r = get(st, t, param, id).await?;
    if who.role_type == model::identity::RoleType::Admin {
        return Ok(r);
    }
    let ds = uuids(&r, "domainids");
    if ds.is_empty() {
        return Ok(r);
    }
    let lineage = crate::handlers::zones::domain_lineage_of(st, who.domain_id).await?;
    if ds.iter().any(|d| lineage.contains(d)) {
        Ok(r)
    } else {
        Err(ApiError::invalid_id(param, &id.to_string()).into())
    }
}

/// The domains `domainid` names for a list of offerings: that domain, and with
/// `isrecursive=true` its whole subtree (CloudStack 4.19's `isrecursive`).
pub(super) async fn domain_filter(st: &State, args: &Args) -> AppResult<Option<Vec<Uuid>>> {
    let Some(d) = args.id::<model::DomainId>("domainid") else {
        return Ok(None);
    };
    let dom = crate::access::domain(st, "domainid", d).await?;
    if !args.flag("isrecursive") {
        return Ok(Some(vec![dom.id.0]));
    }
    let mut c = st.store.read().await?;
    let all = db::domain_list(
        &mut c,
        &db::DomainFilter {
            under: Some((dom.path.clone(), true)),
            ..Default::default()
        },
    )
    .await?
    .0;
    Ok(Some(all.into_iter().map(|x| x.id.0).collect()))
}

pub(super) fn visible(r: &InfraRow, lineage: &Option<Vec<Uuid>>, zone: Option<Uuid>) -> bool {
    let ds = uuids(r, "domainids");
    let zs = uuids(r, "zoneids");
    lineage
        .as_ref()
        .map(|l| ds.is_empty() || ds.iter().any(|d| l.contains(d)))
        .unwrap_or(true)
        && zone
            .map(|z| zs.is_empty() || zs.contains(&z))
            .unwrap_or(true)
}

fn state_filter(args: &Args, default: &str) -> Option<String> {
    match args.text("state") {
        Some(s) if s.eq_ignore_ascii_case("all") => None,
        Some(s) => Some(s.to_string()),
        None => Some(default.to_string()),
    }
}

pub(super) async fn insert(
    st: &State,
    ctx: &OpContext,
    t: Infra,
    row: &InfraRow,
    ev: &str,
) -> AppResult<()> {
    let mut tx = st.store.begin().await?;
    db::infra_insert(&mut tx, t, row).await?;
    Event::new(ctx, ev, format!("Offering {} created", row.name))
        .resource(row.id, "Offering", Some(&row.name))
        .record(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

pub(super) fn new_row(name: &str, kind: &str, state: &str, attrs: Value) -> InfraRow {
    InfraRow {
        id: Uuid::new_v4(),
        zone_id: Uuid::nil(),
        parent_id: None,
        name: name.to_string(),
        kind: kind.to_string(),
        state: state.to_string(),
        domain_id: None,
        attrs,
        created: 0,
    }
}

fn provisioning(args: &Args) -> AppResult<&'static str> {
    match args.text("provisioningtype") {
        None => Ok("thin"),
        Some(p) if p.eq_ignore_ascii_case("thin") => Ok("thin"),
        Some(p) if p.eq_ignore_ascii_case("sparse") => Ok("sparse"),
        Some(p) if p.eq_ignore_ascii_case("fat") => Ok("fat"),
        Some(p) => param_err(format!(
            "Invalid provisioning type {p}: use thin, sparse or fat"
        )),
    }
}

fn storage_type(args: &Args) -> AppResult<&'static str> {
    match args.text("storagetype") {
        None => Ok("shared"),
        Some(t) if t.eq_ignore_ascii_case("shared") => Ok("shared"),
        Some(t) if t.eq_ignore_ascii_case("local") => Ok("local"),
        Some(t) => param_err(format!("Invalid storage type {t}: use shared or local")),
    }
}

pub(super) fn positive(args: &Args, name: &str) -> AppResult<Option<i64>> {
    match args.int(name) {
        Some(v) if v <= 0 => param_err(format!("{name} must be a positive number: {v}")),
        v => Ok(v),
    }
}

// --- service offerings -------------------------------------------------------------------------

async fn service_view(st: &State, r: &InfraRow) -> AppResult<Value> {
    let mut m = Map::new();
    m.insert("id".into(), json!(r.id));
    m.insert("name".into(), json!(r.name));
    m.insert(
        "displaytext".into(),
        json!(s(r, "displaytext").unwrap_or_else(|| r.name.clone())),
    );
    for k in [
        "cpunumber",
        "cpuspeed",
        "memory",
        "rootdisksize",
        "networkrate",
    ] {
        if let Some(v) = n(r, k) {
            m.insert(k.into(), json!(v));
        }
    }
    m.insert("created".into(), json!(api::time::format_ms(r.created)));
    m.insert(
        "storagetype".into(),
        json!(s(r, "storagetype").unwrap_or_else(|| "shared".into())),
    );
    for k in [
        "offerha",
        "limitcpuuse",
        "issystem",
        "defaultuse",
        "iscustomized",
        "dynamicscalingenabled",
        "encryptroot",
    ] {
        m.insert(k.into(), json!(b(r, k)));
    }
    for k in [
        "systemvmtype",
        "hosttags",
        "storagetags",
        "deploymentplanner",
        "provisioningtype",
    ] {
        if let Some(v) = s(r, k) {
            m.insert(k.into(), json!(v));
        }
    }
    m.insert("state".into(), json!(r.state));
    io::view(&r.attrs, &mut m);
    scope_fields(st, &mut m, r).await?;
    Ok(Value::Object(m))
}

pub async fn create_service(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let name = args.required_str("name")?.trim();
    if name.is_empty() {
        return param_err("Service offering name can't be empty");
    }
    let (cpu, speed, mem) = (
        positive(args, "cpunumber")?,
        positive(args, "cpuspeed")?,
        positive(args, "memory")?,
    );
    let customized = args.flag("customized") || cpu.is_none() || speed.is_none() || mem.is_none();
    if !customized && mem.unwrap_or(0) < 32 {
        return param_err("Memory of a service offering must be at least 32 MB");
    }
    let issystem = args.flag("issystem");
    let systemvmtype = match (issystem, args.text("systemvmtype")) {
        (true, Some(t))
            if ["domainrouter", "consoleproxy", "secondarystoragevm"]
                .contains(&t.to_ascii_lowercase().as_str()) =>
        {
            Some(t.to_ascii_lowercase())
        }
        (true, Some(t)) => {
            return param_err(format!(
                "Invalid system vm type {t}: use domainrouter, consoleproxy or secondarystoragevm"
            ))
        }
        (true, None) => Some("domainrouter".to_string()),
        (false, Some(_)) => return param_err("systemvmtype is only valid with issystem=true"),
        (false, None) => None,
    };
    if let Some(p) = args.text("deploymentplanner") {
        if !domain::placing::PLANNERS.contains(&p) {
            return param_err(format!(
                "Invalid deployment planner {p}: use one of {}",
                domain::placing::PLANNERS.join(", ")
            ));
        }
    }
    let (domains, zones) = scope(st, ctx, args).await?;
    let mut a = json!({
        "displaytext": args.text("displaytext").unwrap_or(name),
        "iscustomized": customized,
        "storagetype": storage_type(args)?,
        "offerha": args.flag("offerha"),
        "limitcpuuse": args.flag("limitcpuuse"),
        "issystem": issystem,
        "defaultuse": false,
        "provisioningtype": provisioning(args)?,
        "dynamicscalingenabled": args.bool("dynamicscalingenabled").unwrap_or(true),
        "encryptroot": args.flag("encryptroot"),
        "domainids": domains,
        "zoneids": zones,
    });
    let opt_num = [
        ("cpunumber", cpu),
        ("cpuspeed", speed),
        ("memory", mem),
        ("rootdisksize", positive(args, "rootdisksize")?),
        ("networkrate", positive(args, "networkrate")?),
    ];
    for (k, v) in opt_num {
        if let Some(v) = v {
            a[k] = json!(v);
        }
    }
    for k in ["mincpunumber", "maxcpunumber", "minmemory", "maxmemory"] {
        if let Some(v) = positive(args, k)? {
            a[k] = json!(v);
        }
    }
    for (k, p) in [
        ("hosttags", "hosttags"),
        ("storagetags", "tags"),
        ("deploymentplanner", "deploymentplanner"),
    ] {
        if let Some(v) = args.text(p) {
            a[k] = json!(v);
        }
    }
    if let Some(t) = systemvmtype {
        a["systemvmtype"] = json!(t);
    }
    if let Some(d) = args.map("serviceofferingdetails") {
        a["details"] = json!(d);
    }
    io::read(args, &mut a)?;
    let row = new_row(name, if issystem { "system" } else { "user" }, "Active", a);
    insert(
        st,
        ctx,
        Infra::ServiceOffering,
        &row,
        "SERVICE.OFFERING.CREATE",
    )
    .await?;
    let row = get(st, Infra::ServiceOffering, "id", row.id).await?;
    Ok(json!({ "serviceoffering": service_view(st, &row).await? }))
}

pub async fn list_service(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let issystem = args.flag("issystem");
    if issystem && !ctx.is_admin() {
        return Err(ApiError::permission("Only admins can list system offerings").into());
    }
    let f = InfraFilter {
        ids: args.uuid("id").map(|i| vec![i]),
        name: args.text("name").map(str::to_string),
        kind: Some(if issystem { "system" } else { "user" }.into()),
        state: state_filter(args, "Active"),
        keyword: args.text("keyword").map(str::to_string),
        ..Default::default()
    };
    let rows = {
        let mut c = st.store.read().await?;
        db::infra_list(&mut c, Infra::ServiceOffering, &f).await?.0
    };
    let lineage = visible_filter(st, ctx).await?;
    let domains = domain_filter(st, args).await?;
    let mut matching: Vec<InfraRow> = rows
        .into_iter()
        .filter(|r| visible(r, &lineage, args.uuid("zoneid")))
        .filter(|r| {
            domains
                .as_ref()
                .is_none_or(|ds| uuids(r, "domainids").iter().any(|d| ds.contains(d)))
        })
        .filter(|r| {
            args.text("systemvmtype")
                .map(|t| s(r, "systemvmtype").as_deref() == Some(t))
                .unwrap_or(true)
        })
        .filter(|r| {
            args.bool("encryptroot")
                .is_none_or(|want| b(r, "encryptroot") == want)
        })
        .filter(|r| {
            // Offerings that can hold at least the requested size (custom ones can).
            ["cpunumber", "cpuspeed", "memory"]
                .iter()
                .all(|k| match (args.int(k), n(r, k)) {
                    (Some(want), Some(have)) => have >= want,
                    _ => true,
                })
        })
        .collect();
    matching.sort_by_key(|r| {
        (
            n(r, "sortkey").unwrap_or(0),
            n(r, "memory").unwrap_or(i64::MAX),
            n(r, "cpunumber").unwrap_or(i64::MAX),
            r.name.clone(),
        )
    });
    let total = matching.len() as u64;
    let page: Vec<InfraRow> = args.page.slice(std::mem::take(&mut matching));
    let mut items = Vec::with_capacity(page.len());
    for r in &page {
        items.push(service_view(st, r).await?);
    }
    Ok(list_body("serviceoffering", total, items))
}

/// Name, display text and sort key: the only mutable parts of an offering.
pub(super) async fn rename(
    st: &State,
    ctx: &OpContext,
    t: Infra,
    args: &Args,
) -> AppResult<InfraRow> {
    let mut r = get(st, t, "id", args.required_id("id")?).await?;
    if !ctx.is_root_admin() {
        let ds = uuids(&r, "domainids");
        let mut c = st.store.read().await?;
        for d in &ds {
            if let Some(dom) = db::domain_get(&mut c, model::DomainId(*d)).await? {
                crate::access::check_domain_admin(ctx, &dom)?;
            }
        }
        if ds.is_empty() {
            return Err(
                ApiError::permission("Only a root admin can change public offerings").into(),
            );
        }
    }
    // `domainid` / `zoneid` change the scope (CloudStack: comma lists, "public" / "all").
    if let Some(list) = args.text("domainid") {
        let mut ds = Vec::new();
        if !list.trim().eq_ignore_ascii_case("public") {
            for d in list.split(',').map(str::trim).filter(|d| !d.is_empty()) {
                let id: Uuid = d.parse().map_err(|_| ApiError::invalid_id("domainid", d))?;
                let dom = crate::access::domain(st, "domainid", model::DomainId(id)).await?;
                crate::access::check_domain_admin(ctx, &dom)?;
                ds.push(id);
            }
        }
        if ds.is_empty() && !ctx.is_root_admin() {
            return Err(
                ApiError::permission("Only a root admin can make an offering public").into(),
            );
        }
        r.attrs["domainids"] = json!(ds);
    }
    if let Some(list) = args.text("zoneid") {
        let mut zs = Vec::new();
        if !list.trim().eq_ignore_ascii_case("all") {
            for z in list.split(',').map(str::trim).filter(|z| !z.is_empty()) {
                let id: Uuid = z.parse().map_err(|_| ApiError::invalid_id("zoneid", z))?;
                get(st, Infra::Zone, "zoneid", id).await?;
                zs.push(id);
            }
        }
        r.attrs["zoneids"] = json!(zs);
    }
    if let Some(nm) = args.text("name") {
        r.name = nm.trim().to_string();
    }
    if let Some(d) = args.text("displaytext") {
        r.attrs["displaytext"] = json!(d);
    }
    if let Some(k) = args.int("sortkey") {
        r.attrs["sortkey"] = json!(k);
    }
    if let Some(d) = args.bool("displayoffering") {
        r.attrs["displayoffering"] = json!(d);
    }
    Ok(r)
}

pub(super) async fn save(
    st: &State,
    ctx: &OpContext,
    t: Infra,
    r: &InfraRow,
    ev: &str,
) -> AppResult<()> {
    let mut tx = st.store.begin().await?;
    db::infra_update(&mut tx, t, r).await?;
    Event::new(ctx, ev, format!("Offering {} updated", r.name))
        .resource(r.id, "Offering", Some(&r.name))
        .record(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn update_service(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let r = rename(st, ctx, Infra::ServiceOffering, args).await?;
    save(st, ctx, Infra::ServiceOffering, &r, "SERVICE.OFFERING.EDIT").await?;
    Ok(json!({ "serviceoffering": service_view(st, &r).await? }))
}

/// Deletes an offering. Nothing can use offerings yet (VMs, volumes and networks arrive in
/// later issues); once they can, an offering in use is marked Inactive (hidden from new use)
/// instead and removed when the last user goes.
pub(super) async fn delete(
    st: &State,
    ctx: &OpContext,
    t: Infra,
    args: &Args,
    ev: &str,
) -> AppResult<Value> {
    let r = rename(st, ctx, t, args).await?;
    if b(&r, "isdefault") || b(&r, "defaultuse") {
        return param_err(format!(
            "The offering {} is a default offering and can't be deleted",
            r.name
        ));
    }
    let mut tx = st.store.begin().await?;
    db::infra_mark_removed(&mut tx, t, r.id).await?;
    Event::new(ctx, ev, format!("Offering {} deleted", r.name))
        .resource(r.id, "Offering", Some(&r.name))
        .record(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(success_body())
}

pub async fn delete_service(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    delete(
        st,
        ctx,
        Infra::ServiceOffering,
        args,
        "SERVICE.OFFERING.DELETE",
    )
    .await
}

// --- disk offerings ----------------------------------------------------------------------------

async fn disk_view(st: &State, r: &InfraRow) -> AppResult<Value> {
    let mut m = Map::new();
    m.insert("id".into(), json!(r.id));
    m.insert("name".into(), json!(r.name));
    m.insert(
        "displaytext".into(),
        json!(s(r, "displaytext").unwrap_or_else(|| r.name.clone())),
    );
    m.insert("disksize".into(), json!(n(r, "disksize").unwrap_or(0)));
    m.insert("iscustomized".into(), json!(b(r, "iscustomized")));
    m.insert("storagetype".into(), json!(r.kind));
    for k in ["tags", "provisioningtype"] {
        if let Some(v) = s(r, k) {
            m.insert(k.into(), json!(v));
        }
    }
    for k in ["miniops", "maxiops"] {
        if let Some(v) = n(r, k) {
            m.insert(k.into(), json!(v));
        }
    }
    m.insert("iscustomizediops".into(), json!(b(r, "iscustomizediops")));
    m.insert(
        "displayoffering".into(),
        json!(r
            .attrs
            .get("displayoffering")
            .and_then(|v| v.as_bool())
            .unwrap_or(true)),
    );
    m.insert("encrypt".into(), json!(b(r, "encrypt")));
    io::view(&r.attrs, &mut m);
    m.insert("created".into(), json!(api::time::format_ms(r.created)));
    m.insert("state".into(), json!(r.state));
    scope_fields(st, &mut m, r).await?;
    Ok(Value::Object(m))
}

pub async fn create_disk(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let name = args.required_str("name")?.trim();
    if name.is_empty() {
        return param_err("Disk offering name can't be empty");
    }
    let size = positive(args, "disksize")?;
    let customized = args.flag("customized");
    match (size, customized) {
        (None, false) => {
            return param_err("Disksize is required for a non-customized disk offering")
        }
        (Some(_), true) => {
            return param_err("Disksize must not be given for a customized disk offering")
        }
        _ => {}
    }
    let (miniops, maxiops) = (positive(args, "miniops")?, positive(args, "maxiops")?);
    if let (Some(a), Some(b)) = (miniops, maxiops) {
        if a > b {
            return param_err("miniops must be less than or equal to maxiops");
        }
    }
    let (domains, zones) = scope(st, ctx, args).await?;
    let mut a = json!({
        "displaytext": args.text("displaytext").unwrap_or(name),
        "iscustomized": customized,
        "provisioningtype": provisioning(args)?,
        "iscustomizediops": args.flag("customizediops"),
        "displayoffering": args.bool("displayoffering").unwrap_or(true),
        "encrypt": args.flag("encrypt"),
        "disksizestrictness": args.flag("disksizestrictness"),
        "domainids": domains,
        "zoneids": zones,
    });
    for (k, v) in [
        ("disksize", size),
        ("miniops", miniops),
        ("maxiops", maxiops),
    ] {
        if let Some(v) = v {
            a[k] = json!(v);
        }
    }
    if let Some(t) = args.text("tags") {
        a["tags"] = json!(t);
    }
    io::read(args, &mut a)?;
    let row = new_row(name, storage_type(args)?, "Active", a);
    insert(st, ctx, Infra::DiskOffering, &row, "DISK.OFFERING.CREATE").await?;
    let row = get(st, Infra::DiskOffering, "id", row.id).await?;
    Ok(json!({ "diskoffering": disk_view(st, &row).await? }))
}

pub async fn list_disk(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let f = InfraFilter {
        ids: args.uuid("id").map(|i| vec![i]),
        name: args.text("name").map(str::to_string),
        kind: args.text("storagetype").map(str::to_string),
        state: state_filter(args, "Active"),
        keyword: args.text("keyword").map(str::to_string),
        ..Default::default()
    };
    let rows = {
        let mut c = st.store.read().await?;
        db::infra_list(&mut c, Infra::DiskOffering, &f).await?.0
    };
    let lineage = visible_filter(st, ctx).await?;
    let domains = domain_filter(st, args).await?;
    let mut matching: Vec<InfraRow> = rows
        .into_iter()
        .filter(|r| visible(r, &lineage, args.uuid("zoneid")))
        .filter(|r| {
            domains
                .as_ref()
                .is_none_or(|ds| uuids(r, "domainids").iter().any(|d| ds.contains(d)))
        })
        .filter(|r| {
            ctx.is_admin()
                || r.attrs
                    .get("displayoffering")
                    .and_then(|v| v.as_bool())
                    .unwrap_or(true)
        })
        .filter(|r| {
            args.bool("encrypt")
                .is_none_or(|want| b(r, "encrypt") == want)
        })
        .collect();
    matching.sort_by_key(|r| {
        (
            n(r, "sortkey").unwrap_or(0),
            n(r, "disksize").unwrap_or(i64::MAX),
            r.name.clone(),
        )
    });
    let total = matching.len() as u64;
    let page: Vec<InfraRow> = args.page.slice(std::mem::take(&mut matching));
    let mut items = Vec::with_capacity(page.len());
    for r in &page {
        items.push(disk_view(st, r).await?);
    }
    Ok(list_body("diskoffering", total, items))
}

pub async fn update_disk(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let r = rename(st, ctx, Infra::DiskOffering, args).await?;
    save(st, ctx, Infra::DiskOffering, &r, "DISK.OFFERING.EDIT").await?;
    Ok(json!({ "diskoffering": disk_view(st, &r).await? }))
}

pub async fn delete_disk(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    delete(st, ctx, Infra::DiskOffering, args, "DISK.OFFERING.DELETE").await
}
