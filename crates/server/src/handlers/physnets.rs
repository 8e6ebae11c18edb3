//! Physical networks, their traffic types, network service providers and virtual router
//! elements. A new physical network gets CloudStack's default providers, Disabled.

use std::collections::HashMap;

use api::{list_body, success_body, Args};
use db::{DbError, Infra, InfraFilter, InfraRow};
use model::net;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::context::OpContext;
use crate::error::{param_err, AppResult};
use crate::handlers::zones::{get, names};
use crate::jobs::{JobPlan, JobRef};
use crate::state::State;

/// The providers every physical network starts with, and their services.
pub(crate) const DEFAULT_PROVIDERS: &[(&str, &[&str])] = &[
    (
        "VirtualRouter",
        &[
            "Dhcp",
            "Dns",
            "SourceNat",
            "PortForwarding",
            "StaticNat",
            "Lb",
            "Firewall",
            "UserData",
            "Vpn",
            "Gateway",
        ],
    ),
    (
        "VpcVirtualRouter",
        &[
            "Dhcp",
            "Dns",
            "SourceNat",
            "PortForwarding",
            "StaticNat",
            "Lb",
            "NetworkACL",
            "UserData",
            "Vpn",
            "Gateway",
        ],
    ),
    ("InternalLbVm", &["Lb"]),
    ("SecurityGroupProvider", &["SecurityGroup"]),
    ("ConfigDrive", &["UserData"]),
];

fn list_param(args: &Args, name: &str) -> Option<Vec<String>> {
    args.list(name).map(|l| l.to_vec())
}

fn join(v: &Value) -> String {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str())
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

// --- physical networks -----------------------------------------------------------------------

fn physnet_view(p: &InfraRow, zones: &HashMap<Uuid, String>) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(p.id));
    m.insert("name".into(), json!(p.name));
    m.insert("zoneid".into(), json!(p.zone_id));
    if let Some(z) = zones.get(&p.zone_id) {
        m.insert("zonename".into(), json!(z));
    }
    m.insert("state".into(), json!(p.state));
    m.insert(
        "isolationmethods".into(),
        json!(join(&p.attrs["isolationmethods"])),
    );
    for k in ["vlan", "broadcastdomainrange", "networkspeed"] {
        if let Some(v) = p.attrs.get(k).and_then(|v| v.as_str()) {
            m.insert(k.into(), json!(v));
        }
    }
    let tags = join(&p.attrs["tags"]);
    if !tags.is_empty() {
        m.insert("tags".into(), json!(tags));
    }
    if let Some(d) = p.domain_id {
        m.insert("domainid".into(), json!(d));
    }
    Value::Object(m)
}

async fn physnet_json(st: &State, p: &InfraRow) -> AppResult<Value> {
    let zn = names(st, Infra::Zone, std::iter::once(p.zone_id)).await?;
    Ok(physnet_view(p, &zn))
}

/// Validates VLAN/VNI ranges for the isolation methods.
fn ranges(methods: &[String], vlan: &str) -> AppResult<String> {
    let max = if methods.iter().any(|m| m == "VXLAN") {
        16_777_214
    } else {
        4094
    };
    match net::parse_ranges(vlan, max) {
        Some(r) => Ok(r
            .iter()
            .map(|(a, b)| {
                if a == b {
                    a.to_string()
                } else {
                    format!("{a}-{b}")
                }
            })
            .collect::<Vec<_>>()
            .join(",")),
        None => param_err(format!(
            "Invalid vlan range {vlan}: use ranges like 100-200,300 within 1-{max}"
        )),
    }
}

pub async fn create_physnet_prepare(
    st: &State,
    _ctx: &OpContext,
    args: &Args,
) -> AppResult<JobPlan> {
    let zone = get(st, Infra::Zone, "zoneid", args.required_id("zoneid")?).await?;
    let name = args.required_str("name")?.trim().to_string();
    if name.is_empty() {
        return param_err("Physical network name can't be empty");
    }
    let mut methods = Vec::new();
    for m in list_param(args, "isolationmethods").unwrap_or_else(|| vec!["VLAN".into()]) {
        let canon = match m.to_ascii_uppercase().as_str() {
            "VLAN" => "VLAN",
            "VXLAN" => "VXLAN",
            "L3" => "L3",
            _ => {
                return param_err(format!(
                    "Unsupported isolation method {m}: use VLAN, VXLAN or L3"
                ))
            }
        };
        methods.push(canon.to_string());
    }
    let vlan = args.text("vlan").map(|v| ranges(&methods, v)).transpose()?;
    let bdr = match args.text("broadcastdomainrange") {
        None => {
            if zone.kind == "Basic" {
                "POD"
            } else {
                "ZONE"
            }
        }
        Some(b) if b.eq_ignore_ascii_case("zone") => "ZONE",
        Some(b) if b.eq_ignore_ascii_case("pod") => "POD",
        Some(b) => {
            return param_err(format!(
                "Invalid broadcast domain range {b}: use ZONE or POD"
            ))
        }
    };
    let domain_id = match args.id::<model::DomainId>("domainid") {
        Some(d) => Some(crate::access::domain(st, "domainid", d).await?.id.0),
        None => None,
    };
    let mut attrs = json!({ "isolationmethods": methods, "broadcastdomainrange": bdr, "tags": list_param(args, "tags").unwrap_or_default() });
    if let Some(v) = vlan {
        attrs["vlan"] = json!(v);
    }
    if let Some(s) = args.text("networkspeed") {
        attrs["networkspeed"] = json!(s);
    }
    let row = InfraRow {
        id: Uuid::new_v4(),
        zone_id: zone.id,
        parent_id: Some(zone.id),
        name: name.clone(),
        kind: "PhysicalNetwork".into(),
        state: "Disabled".into(),
        domain_id,
        attrs,
        created: 0,
    };
    let mut tx = st.store.begin().await?;
    match db::infra_insert(&mut tx, Infra::PhysicalNetwork, &row).await {
        Err(DbError::Conflict(_)) => {
            return param_err(format!(
                "A physical network with name {name} already exists in zone {}",
                zone.name
            ))
        }
        r => r?,
    }
    for (p, services) in DEFAULT_PROVIDERS {
        let mut attrs = json!({ "servicelist": services, "canenableindividualservice": true });
        if p.ends_with("VirtualRouter") || *p == "InternalLbVm" {
            attrs["element"] = json!({ "id": Uuid::new_v4(), "enabled": false });
        }
        let prov = InfraRow {
            id: Uuid::new_v4(),
            zone_id: zone.id,
            parent_id: Some(row.id),
            name: (*p).into(),
            kind: "Provider".into(),
            state: "Disabled".into(),
            domain_id: None,
            attrs,
            created: 0,
        };
        db::infra_insert(&mut tx, Infra::Provider, &prov).await?;
    }
    tx.commit().await?;
    Ok(JobPlan {
        instance_type: Some("PhysicalNetwork"),
        instance_id: Some(row.id.to_string()),
        returns_id: true,
        description: format!("Creating physical network {name}"),
    })
}

pub async fn create_physnet_run(
    st: &State,
    _ctx: &OpContext,
    _args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let p = get(st, Infra::PhysicalNetwork, "id", job.instance()?).await?;
    Ok(json!({ "physicalnetwork": physnet_json(st, &p).await? }))
}

pub async fn list_physnets(st: &State, _ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let f = InfraFilter {
        ids: args.uuid("id").map(|i| vec![i]),
        zone_id: args.uuid("zoneid"),
        name: args.text("name").map(str::to_string),
        keyword: args.text("keyword").map(str::to_string),
        offset: args.page.offset,
        limit: args.page.limit,
        ..Default::default()
    };
    let (rows, total) = {
        let mut c = st.store.read().await?;
        db::infra_list(&mut c, Infra::PhysicalNetwork, &f).await?
    };
    let zn = names(st, Infra::Zone, rows.iter().map(|r| r.zone_id)).await?;
    Ok(list_body(
        "physicalnetwork",
        total,
        rows.iter().map(|p| physnet_view(p, &zn)).collect(),
    ))
}

pub(crate) fn plan_for(kind: &'static str, id: Uuid, what: String) -> JobPlan {
    JobPlan {
        instance_type: Some(kind),
        instance_id: Some(id.to_string()),
        returns_id: false,
        description: what,
    }
}

pub async fn update_physnet_prepare(
    st: &State,
    _ctx: &OpContext,
    args: &Args,
) -> AppResult<JobPlan> {
    let p = get(st, Infra::PhysicalNetwork, "id", args.required_id("id")?).await?;
    if let Some(s) = args.text("state") {
        if !s.eq_ignore_ascii_case("enabled") && !s.eq_ignore_ascii_case("disabled") {
            return param_err(format!("Invalid state {s}: use Enabled or Disabled"));
        }
    }
    if let Some(v) = args.text("vlan") {
        let methods: Vec<String> = p.attrs["isolationmethods"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        ranges(&methods, v)?;
    }
    Ok(plan_for(
        "PhysicalNetwork",
        p.id,
        format!("Updating physical network {}", p.name),
    ))
}

pub async fn update_physnet_run(
    st: &State,
    _ctx: &OpContext,
    args: &Args,
    _job: &JobRef,
) -> AppResult<Value> {
    let mut p = get(st, Infra::PhysicalNetwork, "id", args.required_id("id")?).await?;
    if let Some(s) = args.text("state") {
        p.state = if s.eq_ignore_ascii_case("enabled") {
            "Enabled".into()
        } else {
            "Disabled".into()
        };
    }
    if let Some(v) = args.text("vlan") {
        let methods: Vec<String> = p.attrs["isolationmethods"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        p.attrs["vlan"] = json!(ranges(&methods, v)?);
    }
    if let Some(t) = list_param(args, "tags") {
        p.attrs["tags"] = json!(t);
    }
    if let Some(s) = args.text("networkspeed") {
        p.attrs["networkspeed"] = json!(s);
    }
    let mut tx = st.store.begin().await?;
    db::infra_update(&mut tx, Infra::PhysicalNetwork, &p).await?;
    tx.commit().await?;
    Ok(json!({ "physicalnetwork": physnet_json(st, &p).await? }))
}

pub async fn delete_physnet_prepare(
    st: &State,
    _ctx: &OpContext,
    args: &Args,
) -> AppResult<JobPlan> {
    let p = get(st, Infra::PhysicalNetwork, "id", args.required_id("id")?).await?;
    Ok(plan_for(
        "PhysicalNetwork",
        p.id,
        format!("Deleting physical network {}", p.name),
    ))
}

/// Removes a physical network with its traffic types and providers. Idempotent.
pub async fn delete_physnet_run(
    st: &State,
    _ctx: &OpContext,
    args: &Args,
    _job: &JobRef,
) -> AppResult<Value> {
    let id: Uuid = args.required_id("id")?;
    let exists = {
        let mut c = st.store.read().await?;
        db::infra_get(&mut c, Infra::PhysicalNetwork, id)
            .await?
            .is_some()
    };
    if !exists {
        return Ok(success_body());
    }
    let children = {
        let mut c = st.store.read().await?;
        let f = InfraFilter {
            parent_id: Some(id),
            ..Default::default()
        };
        let mut all = db::infra_list(&mut c, Infra::TrafficType, &f)
            .await?
            .0
            .into_iter()
            .map(|r| (Infra::TrafficType, r.id))
            .collect::<Vec<_>>();
        all.extend(
            db::infra_list(&mut c, Infra::Provider, &f)
                .await?
                .0
                .into_iter()
                .map(|r| (Infra::Provider, r.id)),
        );
        all
    };
    let mut tx = st.store.begin().await?;
    for (t, cid) in children {
        db::infra_mark_removed(&mut tx, t, cid).await?;
    }
    db::infra_mark_removed(&mut tx, Infra::PhysicalNetwork, id).await?;
    tx.commit().await?;
    Ok(success_body())
}

// --- traffic types ---------------------------------------------------------------------------

const LABELS: &[&str] = &[
    "kvmnetworklabel",
    "xennetworklabel",
    "vmwarenetworklabel",
    "hypervnetworklabel",
    "simulatorlabel",
];

fn traffic_view(t: &InfraRow) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(t.id));
    m.insert("traffictype".into(), json!(t.kind));
    if let Some(p) = t.parent_id {
        m.insert("physicalnetworkid".into(), json!(p));
    }
    for k in LABELS.iter().chain(["isolationmethods", "vlan"].iter()) {
        if let Some(v) = t.attrs.get(*k).and_then(|v| v.as_str()) {
            m.insert((*k).into(), json!(v));
        }
    }
    Value::Object(m)
}

pub async fn add_traffic_prepare(st: &State, _ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let p = get(
        st,
        Infra::PhysicalNetwork,
        "physicalnetworkid",
        args.required_id("physicalnetworkid")?,
    )
    .await?;
    let tt = args.required_str("traffictype")?;
    let kind = ["Guest", "Management", "Public", "Storage"]
        .into_iter()
        .find(|k| k.eq_ignore_ascii_case(tt))
        .ok_or_else(|| {
            api::ApiError::param(format!(
                "Invalid traffic type {tt}: use Guest, Management, Public or Storage"
            ))
        })?;
    let mut attrs = Map::new();
    for k in LABELS {
        if let Some(v) = args.text(k) {
            attrs.insert((*k).into(), json!(v));
        }
    }
    if let Some(m) = args.text("isolationmethod") {
        attrs.insert("isolationmethods".into(), json!(m));
    }
    if let Some(v) = args.text("vlan") {
        attrs.insert("vlan".into(), json!(v));
    }
    let row = InfraRow {
        id: Uuid::new_v4(),
        zone_id: p.zone_id,
        parent_id: Some(p.id),
        name: kind.into(),
        kind: kind.into(),
        state: "Enabled".into(),
        domain_id: None,
        attrs: Value::Object(attrs),
        created: 0,
    };
    let mut tx = st.store.begin().await?;
    match db::infra_insert(&mut tx, Infra::TrafficType, &row).await {
        Err(DbError::Conflict(_)) => {
            return param_err(format!(
                "Traffic type {kind} is already added to physical network {}",
                p.name
            ))
        }
        r => r?,
    }
    tx.commit().await?;
    Ok(JobPlan {
        instance_type: Some("TrafficType"),
        instance_id: Some(row.id.to_string()),
        returns_id: true,
        description: format!("Adding traffic type {kind}"),
    })
}

pub async fn add_traffic_run(
    st: &State,
    _ctx: &OpContext,
    _args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let t = get(st, Infra::TrafficType, "id", job.instance()?).await?;
    Ok(json!({ "traffictype": traffic_view(&t) }))
}

pub async fn list_traffic(st: &State, _ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let p = get(
        st,
        Infra::PhysicalNetwork,
        "physicalnetworkid",
        args.required_id("physicalnetworkid")?,
    )
    .await?;
    let f = InfraFilter {
        parent_id: Some(p.id),
        keyword: args.text("keyword").map(str::to_string),
        offset: args.page.offset,
        limit: args.page.limit,
        ..Default::default()
    };
    let mut c = st.store.read().await?;
    let (rows, total) = db::infra_list(&mut c, Infra::TrafficType, &f).await?;
    Ok(list_body(
        "traffictype",
        total,
        rows.iter().map(traffic_view).collect(),
    ))
}

pub async fn update_traffic_prepare(
    st: &State,
    _ctx: &OpContext,
    args: &Args,
) -> AppResult<JobPlan> {
    let t = get(st, Infra::TrafficType, "id", args.required_id("id")?).await?;
    Ok(plan_for(
        "TrafficType",
        t.id,
        format!("Updating traffic type {}", t.kind),
    ))
}

pub async fn update_traffic_run(
    st: &State,
    _ctx: &OpContext,
    args: &Args,
    _job: &JobRef,
) -> AppResult<Value> {
    let mut t = get(st, Infra::TrafficType, "id", args.required_id("id")?).await?;
    for k in LABELS {
        if let Some(v) = args.text(k) {
            t.attrs[*k] = json!(v);
        }
    }
    let mut tx = st.store.begin().await?;
    db::infra_update(&mut tx, Infra::TrafficType, &t).await?;
    tx.commit().await?;
    Ok(json!({ "traffictype": traffic_view(&t) }))
}

pub async fn delete_traffic_prepare(
    st: &State,
    _ctx: &OpContext,
    args: &Args,
) -> AppResult<JobPlan> {
    let t = get(st, Infra::TrafficType, "id", args.required_id("id")?).await?;
    Ok(plan_for(
        "TrafficType",
        t.id,
        format!("Deleting traffic type {}", t.kind),
    ))
}

pub async fn delete_traffic_run(
    st: &State,
    _ctx: &OpContext,
    args: &Args,
    _job: &JobRef,
) -> AppResult<Value> {
    let id: Uuid = args.required_id("id")?;
    let mut tx = st.store.begin().await?;
    db::infra_mark_removed(&mut tx, Infra::TrafficType, id).await?;
    tx.commit().await?;
    Ok(success_body())
}

// --- providers and virtual router elements ----------------------------------------------------

pub(crate) fn provider_view(p: &InfraRow) -> Value {
    json!({
        "id": p.id,
        "name": p.name,
        "physicalnetworkid": p.parent_id,
        "destinationphysicalnetworkid": "0",
        "state": p.state,
        "servicelist": p.attrs.get("servicelist").cloned().unwrap_or(json!([])),
        "canenableindividualservice": p.attrs.get("canenableindividualservice").and_then(|v| v.as_bool()).unwrap_or(true),
    })
}

pub async fn list_providers(st: &State, _ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let f = InfraFilter {
        parent_id: args.uuid("physicalnetworkid"),
        name: args.text("name").map(str::to_string),
        state: args.text("state").map(str::to_string),
        keyword: args.text("keyword").map(str::to_string),
        offset: args.page.offset,
        limit: args.page.limit,
        ..Default::default()
    };
    let mut c = st.store.read().await?;
    let (rows, total) = db::infra_list(&mut c, Infra::Provider, &f).await?;
    Ok(list_body(
        "networkserviceprovider",
        total,
        rows.iter().map(provider_view).collect(),
    ))
}

pub async fn update_provider_prepare(
    st: &State,
    _ctx: &OpContext,
    args: &Args,
) -> AppResult<JobPlan> {
    let p = get(st, Infra::Provider, "id", args.required_id("id")?).await?;
    if let Some(s) = args.text("state") {
        if !["enabled", "disabled", "shutdown"].contains(&s.to_ascii_lowercase().as_str()) {
            return param_err(format!(
                "Invalid state {s}: use Enabled, Disabled or Shutdown"
            ));
        }
    }
    Ok(plan_for(
        "PhysicalNetworkServiceProvider",
        p.id,
        format!("Updating provider {}", p.name),
    ))
}

pub async fn update_provider_run(
    st: &State,
    _ctx: &OpContext,
    args: &Args,
    _job: &JobRef,
) -> AppResult<Value> {
    let mut p = get(st, Infra::Provider, "id", args.required_id("id")?).await?;
    // CloudStack's `isReady`: a provider with an element is enabled once its element is.
    if args
        .text("state")
        .is_some_and(|s| s.eq_ignore_ascii_case("enabled"))
        && p.attrs.get("element").is_some_and(|e| e["enabled"] != true)
    {
        return param_err(format!(
            "Provider {} is not ready, cannot Enable the provider, please configure the provider first (its element is disabled)",
            p.name
        ));
    }
    if let Some(s) = args.text("state") {
        p.state = match s.to_ascii_lowercase().as_str() {
            "enabled" => "Enabled",
            "disabled" => "Disabled",
            _ => "Shutdown",
        }
        .into();
    }
    if let Some(l) = list_param(args, "servicelist") {
        p.attrs["servicelist"] = json!(l);
    }
    let mut tx = st.store.begin().await?;
    db::infra_update(&mut tx, Infra::Provider, &p).await?;
    tx.commit().await?;
    Ok(json!({ "networkserviceprovider": provider_view(&p) }))
}

pub(crate) fn element_view(p: &InfraRow) -> Option<Value> {
    let e = p.attrs.get("element")?;
    Some(
        json!({ "id": e["id"], "nspid": p.id, "enabled": e["enabled"].as_bool().unwrap_or(false) }),
    )
}

/// The providers that have an element: the virtual routers' (`VirtualRouter`,
/// `VpcVirtualRouter`) or, with `internal_lb`, `InternalLbVm`'s.
pub(crate) async fn providers_with_elements(
    st: &State,
    internal_lb: bool,
) -> AppResult<Vec<InfraRow>> {
    let mut c = st.store.read().await?;
    let rows = db::infra_list(&mut c, Infra::Provider, &InfraFilter::default())
        .await?
        .0;
    Ok(rows
        .into_iter()
        .filter(|p| p.attrs.get("element").is_some())
        .filter(|p| (p.name == "InternalLbVm") == internal_lb)
        .collect())
}

pub async fn list_vr_elements(st: &State, _ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let id = args.uuid("id").map(|u| u.to_string());
    let mut items: Vec<Value> = providers_with_elements(st, false)
        .await?
        .iter()
        .filter(|p| args.uuid("nspid").map(|n| n == p.id).unwrap_or(true))
        .filter_map(element_view)
        .filter(|e| id.as_deref().map(|i| e["id"] == i).unwrap_or(true))
        .filter(|e| {
            args.bool("enabled")
                .map(|b| e["enabled"] == b)
                .unwrap_or(true)
        })
        .collect();
    let total = items.len() as u64;
    let items: Vec<Value> = args.page.slice(std::mem::take(&mut items));
    Ok(list_body("virtualrouterelement", total, items))
}

async fn provider_of_element(st: &State, id: Uuid) -> AppResult<InfraRow> {
    providers_with_elements(st, false)
        .await?
        .into_iter()
        .find(|p| p.attrs["element"]["id"] == id.to_string())
        .ok_or_else(|| api::ApiError::invalid_id("id", &id.to_string()).into())
}

pub async fn configure_vr_prepare(st: &State, _ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let id: Uuid = args.required_id("id")?;
    let p = provider_of_element(st, id).await?;
    Ok(plan_for(
        "VirtualRouterElement",
        id,
        format!("Configuring the virtual router element of {}", p.name),
    ))
}

pub async fn configure_vr_run(
    st: &State,
    _ctx: &OpContext,
    args: &Args,
    _job: &JobRef,
) -> AppResult<Value> {
    let id: Uuid = args.required_id("id")?;
    let mut p = provider_of_element(st, id).await?;
    p.attrs["element"]["enabled"] = json!(args.flag("enabled"));
    let mut tx = st.store.begin().await?;
    db::infra_update(&mut tx, Infra::Provider, &p).await?;
    tx.commit().await?;
    Ok(json!({ "virtualrouterelement": element_view(&p) }))
}
