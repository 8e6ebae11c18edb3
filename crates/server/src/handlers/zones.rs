//! Zones, pods and clusters. Created Disabled unless asked otherwise; a zone is enabled only
//! when its physical networks carry the traffic types it needs.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use api::{list_body, success_body, ApiError, Args};
use db::{DbError, Infra, InfraFilter, InfraRow};
use model::net;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::context::OpContext;
use crate::error::{param_err, AppError, AppResult};
use crate::events::Event;
use crate::state::State;
use crate::validate;

/// `Enabled` / `Disabled` from a parameter (any case), or the default.
pub(crate) fn allocation_state(args: &Args, default: &str) -> AppResult<String> {
    match args.text("allocationstate") {
        None => Ok(default.to_string()),
        Some(s) if s.eq_ignore_ascii_case("enabled") => Ok("Enabled".into()),
        Some(s) if s.eq_ignore_ascii_case("disabled") => Ok("Disabled".into()),
        Some(s) => param_err(format!(
            "Invalid allocation state {s}: use Enabled or Disabled"
        )),
    }
}

fn ipv4(args: &Args, name: &str) -> AppResult<Option<String>> {
    match args.text(name) {
        None => Ok(None),
        Some(v) => match v.trim().parse::<Ipv4Addr>() {
            Ok(ip) => Ok(Some(ip.to_string())),
            Err(_) => param_err(format!("Please enter a valid IP address for {name}: {v}")),
        },
    }
}

pub(crate) use domain::inventory::get;

/// Names of zones (and pods) by id, for the `zonename`/`podname` fields of lists.
pub(crate) async fn names(
    st: &State,
    t: Infra,
    ids: impl Iterator<Item = Uuid>,
) -> AppResult<HashMap<Uuid, String>> {
    let mut ids: Vec<Uuid> = ids.collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let mut c = st.store.read().await?;
    let f = InfraFilter {
        ids: Some(ids),
        ..Default::default()
    };
    Ok(db::infra_list(&mut c, t, &f)
        .await?
        .0
        .into_iter()
        .map(|r| (r.id, r.name))
        .collect())
}

pub(crate) use domain::inventory::attr_str;

fn attr_bool(r: &InfraRow, k: &str) -> bool {
    r.attrs.get(k).and_then(|v| v.as_bool()).unwrap_or(false)
}

pub(crate) fn conflict<T>(what: &str, name: &str) -> AppResult<T> {
    param_err(format!("A {what} with name {name} already exists"))
}

// --- zones -----------------------------------------------------------------------------------

async fn zone_view(st: &State, z: &InfraRow) -> AppResult<Value> {
    let mut m = Map::new();
    m.insert("id".into(), json!(z.id));
    m.insert("name".into(), json!(z.name));
    for k in [
        "description",
        "dns1",
        "dns2",
        "internaldns1",
        "internaldns2",
        "ip6dns1",
        "ip6dns2",
        "guestcidraddress",
    ] {
        if let Some(v) = attr_str(z, k) {
            m.insert(k.into(), json!(v));
        }
    }
    m.insert("networktype".into(), json!(z.kind));
    m.insert(
        "securitygroupsenabled".into(),
        json!(attr_bool(z, "securitygroupsenabled")),
    );
    m.insert("allocationstate".into(), json!(z.state));
    m.insert(
        "localstorageenabled".into(),
        json!(attr_bool(z, "localstorageenabled")),
    );
    if let Some(nd) = attr_str(z, "networkdomain") {
        m.insert("domain".into(), json!(nd));
    }
    if let Some(d) = z.domain_id {
        m.insert("domainid".into(), json!(d));
        let mut c = st.store.read().await?;
        if let Some(dom) = db::domain_get(&mut c, model::DomainId(d)).await? {
            m.insert("domainname".into(), json!(dom.name));
        }
    }
    m.insert(
        "dhcpprovider".into(),
        json!(attr_str(z, "dhcpprovider").unwrap_or_else(|| "VirtualRouter".into())),
    );
    m.insert(
        "type".into(),
        json!(if attr_bool(z, "isedge") {
            "Edge"
        } else {
            "Core"
        }),
    );
    m.insert("tags".into(), json!([]));
    m.insert("hasannotations".into(), json!(false));
    Ok(Value::Object(m))
}

pub async fn create_zone(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let name = args.required_str("name")?.trim();
    if name.is_empty() {
        return param_err("Zone name can't be empty");
    }
    let nt = args.required_str("networktype")?;
    let basic = if nt.eq_ignore_ascii_case("basic") {
        true
    } else if nt.eq_ignore_ascii_case("advanced") {
        false
    } else {
        return param_err(
            "Invalid zone network type specified; should be either Basic or Advanced",
        );
    };
    let mut attrs = Map::new();
    for k in ["dns1", "internaldns1", "dns2", "internaldns2"] {
        if let Some(ip) = ipv4(args, k)? {
            attrs.insert(k.into(), json!(ip));
        }
    }
    for k in ["ip6dns1", "ip6dns2"] {
        if let Some(v) = args.text(k) {
            if v.parse::<std::net::Ipv6Addr>().is_err() {
                return param_err(format!("Please enter a valid IPv6 address for {k}: {v}"));
            }
            attrs.insert(k.into(), json!(v));
        }
    }
    match (basic, args.text("guestcidraddress")) {
        (true, Some(_)) => return param_err("guestcidraddress is not supported for Basic zones"),
        (false, Some(c)) => {
            let (ip, len) = net::parse_cidr(c)
                .ok_or_else(|| ApiError::param(format!("Please enter a valid guest cidr: {c}")))?;
            attrs.insert("guestcidraddress".into(), json!(format!("{ip}/{len}")));
        }
        (false, None) => {
            attrs.insert("guestcidraddress".into(), json!("10.1.1.0/24"));
        }
        (true, None) => {}
    }
    if let Some(nd) = args.text("domain") {
        validate::network_domain(nd)?;
        attrs.insert("networkdomain".into(), json!(nd));
    }
    attrs.insert(
        "securitygroupsenabled".into(),
        json!(basic || args.flag("securitygroupenabled")),
    );
    attrs.insert(
        "localstorageenabled".into(),
        json!(args.flag("localstorageenabled")),
    );
    attrs.insert("isedge".into(), json!(args.flag("isedge")));
    let domain_id = match args.id::<model::DomainId>("domainid") {
        Some(d) => Some(crate::access::domain(st, "domainid", d).await?.id.0),
        None => None,
    };
    let id = Uuid::new_v4();
    let row = InfraRow {
        id,
        zone_id: id,
        parent_id: None,
        name: name.to_string(),
        kind: if basic { "Basic" } else { "Advanced" }.into(),
        state: allocation_state(args, "Disabled")?,
        domain_id,
        attrs: Value::Object(attrs),
        created: 0,
    };
    let mut tx = st.store.begin().await?;
    match db::infra_insert(&mut tx, Infra::Zone, &row).await {
        Err(DbError::Conflict(_)) => return conflict("zone", name),
        r => r?,
    }
    Event::new(ctx, "ZONE.CREATE", format!("Zone {name} created"))
        .resource(id, "Zone", Some(name))
        .record(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(json!({ "zone": zone_view(st, &get(st, Infra::Zone, "id", id).await?).await? }))
}

/// The ids of the caller's domain and its ancestors (zones dedicated to any of them are
/// visible to it).
pub(crate) async fn domain_lineage(st: &State, ctx: &OpContext) -> AppResult<Vec<Uuid>> {
    domain_lineage_of(st, ctx.domain_id()).await
}

/// A domain and its ancestors, nearest first.
pub(crate) async fn domain_lineage_of(st: &State, domain: model::DomainId) -> AppResult<Vec<Uuid>> {
    let mut out = Vec::new();
    let mut next = Some(domain);
    let mut c = st.store.read().await?;
    while let Some(id) = next.take() {
        if out.len() > 64 {
            break;
        }
        if let Some(d) = db::domain_get(&mut c, id).await? {
            out.push(d.id.0);
            next = d.parent_id;
        }
    }
    Ok(out)
}

pub async fn list_zones(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let mut f = InfraFilter {
        name: args.text("name").map(str::to_string),
        kind: args.text("networktype").map(str::to_string),
        keyword: args.text("keyword").map(str::to_string),
        offset: args.page.offset,
        limit: args.page.limit,
        ..Default::default()
    };
    let mut ids: Vec<Uuid> = args.ids::<Uuid>("ids").unwrap_or_default();
    if let Some(id) = args.uuid("id") {
        ids.push(id);
    }
    if !ids.is_empty() {
        f.ids = Some(ids);
    }
    if !ctx.is_root_admin() {
        f.visible_to_domains = Some(domain_lineage(st, ctx).await?);
    }
    if !ctx.is_admin() || args.flag("available") {
        f.state = Some("Enabled".into());
    }
    let rows = {
        let mut c = st.store.read().await?;
        db::infra_list(&mut c, Infra::Zone, &f).await?
    };
    let mut items = Vec::with_capacity(rows.0.len());
    for z in &rows.0 {
        if let Some(d) = args.uuid("domainid") {
            if z.domain_id != Some(d) {
                continue;
            }
        }
        items.push(zone_view(st, z).await?);
    }
    let total = if args.has("domainid") {
        items.len() as u64
    } else {
        rows.1
    };
    Ok(list_body("zone", total, items))
}

/// Why a zone cannot be enabled yet, if it cannot. Adds the Storage traffic type (mirroring
/// Management) when it is missing, as CloudStack does.
async fn check_enable(st: &State, ctx: &OpContext, z: &InfraRow) -> AppResult<()> {
    let (physnets, traffic) = {
        let mut c = st.store.read().await?;
        let f = InfraFilter {
            zone_id: Some(z.id),
            ..Default::default()
        };
        (
            db::infra_list(&mut c, Infra::PhysicalNetwork, &f).await?.0,
            db::infra_list(&mut c, Infra::TrafficType, &f).await?.0,
        )
    };
    let reason = if physnets.is_empty() {
        Some("no physical network is set up in the zone".to_string())
    } else {
        let has = |t: &str| traffic.iter().any(|x| x.kind.eq_ignore_ascii_case(t));
        let sg = attr_bool(z, "securitygroupsenabled");
        if !has("Guest") {
            Some("no physical network carries Guest traffic".into())
        } else if !has("Management") {
            Some("no physical network carries Management traffic".into())
        } else if z.kind == "Advanced" && !sg && !has("Public") {
            Some("no physical network carries Public traffic (required in an Advanced zone)".into())
        } else {
            None
        }
    };
    if let Some(r) = reason {
        return param_err(format!("Cannot enable this Zone since: {r}"));
    }
    if !traffic.iter().any(|x| x.kind == "Storage") {
        if let Some(mgmt) = traffic.iter().find(|x| x.kind == "Management") {
            let row = InfraRow {
                id: Uuid::new_v4(),
                name: "Storage".into(),
                kind: "Storage".into(),
                ..mgmt.clone()
            };
            let mut tx = st.store.begin().await?;
            db::infra_insert(&mut tx, Infra::TrafficType, &row).await?;
            Event::new(
                ctx,
                "TRAFFIC.TYPE.CREATE",
                "Storage traffic type added mirroring Management",
            )
            .resource(row.id, "TrafficType", Some("Storage"))
            .record(&mut tx)
            .await?;
            tx.commit().await?;
        }
    }
    Ok(())
}

pub async fn update_zone(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let mut z = get(st, Infra::Zone, "id", args.required_id("id")?).await?;
    if let Some(n) = args.text("name") {
        z.name = n.trim().to_string();
    }
    let Value::Object(attrs) = &mut z.attrs else {
        return Err(AppError::Internal("zone attrs not an object".into()));
    };
    for k in ["dns1", "internaldns1", "dns2", "internaldns2"] {
        if let Some(ip) = ipv4(args, k)? {
            attrs.insert(k.into(), json!(ip));
        }
    }
    for k in ["ip6dns1", "ip6dns2", "dhcpprovider"] {
        if let Some(v) = args.text(k) {
            attrs.insert(k.into(), json!(v));
        }
    }
    if let Some(c) = args.text("guestcidraddress") {
        if z.kind == "Basic" {
            return param_err("guestcidraddress is not supported for Basic zones");
        }
        let (ip, len) = net::parse_cidr(c)
            .ok_or_else(|| ApiError::param(format!("Please enter a valid guest cidr: {c}")))?;
        attrs.insert("guestcidraddress".into(), json!(format!("{ip}/{len}")));
    }
    match args.str("domain") {
        Some("") => {
            attrs.remove("networkdomain");
        }
        Some(nd) => {
            validate::network_domain(nd)?;
            attrs.insert("networkdomain".into(), json!(nd));
        }
        None => {}
    }
    if let Some(l) = args.bool("localstorageenabled") {
        attrs.insert("localstorageenabled".into(), json!(l));
    }
    if let Some(d) = args.map("details") {
        let details: Map<String, Value> = d
            .iter()
            .flat_map(|m| m.iter().map(|(k, v)| (k.clone(), json!(v))))
            .collect();
        attrs.insert("details".into(), Value::Object(details));
    }
    if args.flag("ispublic") {
        z.domain_id = None;
    }
    let new_state = allocation_state(args, &z.state)?;
    if new_state == "Enabled" && z.state != "Enabled" {
        check_enable(st, ctx, &z).await?;
    }
    z.state = new_state;
    let mut tx = st.store.begin().await?;
    match db::infra_update(&mut tx, Infra::Zone, &z).await {
        Err(DbError::Conflict(_)) => return conflict("zone", &z.name),
        r => r?,
    }
    Event::new(ctx, "ZONE.EDIT", format!("Zone {} updated", z.name))
        .resource(z.id, "Zone", Some(&z.name))
        .record(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(json!({ "zone": zone_view(st, &z).await? }))
}

pub async fn delete_zone(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let z = get(st, Infra::Zone, "id", args.required_id("id")?).await?;
    let (pods, physnets) = {
        let mut c = st.store.read().await?;
        (
            db::infra_count_children(&mut c, Infra::Pod, z.id).await?,
            db::infra_count_children(&mut c, Infra::PhysicalNetwork, z.id).await?,
        )
    };
    if pods > 0 || physnets > 0 {
        return Err(ApiError::internal(format!(
            "The zone is not deletable because there are {pods} pod(s) and {physnets} physical network(s) in this zone"
        ))
        .into());
    }
    let mut tx = st.store.begin().await?;
    db::infra_mark_removed(&mut tx, Infra::Zone, z.id).await?;
    Event::new(ctx, "ZONE.DELETE", format!("Zone {} deleted", z.name))
        .resource(z.id, "Zone", Some(&z.name))
        .record(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(success_body())
}

// --- pods ------------------------------------------------------------------------------------

fn pod_view(p: &InfraRow, zone_names: &HashMap<Uuid, String>) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(p.id));
    m.insert("name".into(), json!(p.name));
    m.insert("zoneid".into(), json!(p.zone_id));
    if let Some(n) = zone_names.get(&p.zone_id) {
        m.insert("zonename".into(), json!(n));
    }
    for k in ["gateway", "netmask"] {
        if let Some(v) = attr_str(p, k) {
            m.insert(k.into(), json!(v));
        }
    }
    let start = attr_str(p, "startip");
    let end = attr_str(p, "endip");
    m.insert("startip".into(), json!(start.iter().collect::<Vec<_>>()));
    m.insert("endip".into(), json!(end.iter().collect::<Vec<_>>()));
    if let (Some(s), Some(e)) = (&start, &end) {
        m.insert(
            "ipranges".into(),
            json!([{ "startip": s, "endip": e, "forsystemvms": "0", "vlanid": "" }]),
        );
    }
    m.insert("allocationstate".into(), json!(p.state));
    Value::Object(m)
}

/// Checks a pod's management range and returns its attributes; the range must lie in the
/// gateway's subnet and not overlap other pods of the zone or an Advanced zone's guest CIDR.
async fn pod_range(
    st: &State,
    zone: &InfraRow,
    pod_id: Option<Uuid>,
    args: &Args,
    old: &Map<String, Value>,
) -> AppResult<Map<String, Value>> {
    let get = |k: &str| -> AppResult<Option<Ipv4Addr>> {
        match ipv4(args, k)? {
            Some(v) => Ok(v.parse().ok()),
            None => Ok(old
                .get(k)
                .and_then(|v| v.as_str())
                .and_then(|s| s.parse().ok())),
        }
    };
    let (gw, mask, start, end) = (
        get("gateway")?,
        get("netmask")?,
        get("startip")?,
        get("endip")?,
    );
    let mut attrs = Map::new();
    let Some(gw) = gw else {
        if mask.is_some() || start.is_some() || end.is_some() {
            return param_err("gateway is required with netmask, startip and endip");
        }
        return Ok(attrs);
    };
    let (Some(mask), Some(start)) = (mask, start) else {
        return param_err("netmask and startip are required with gateway");
    };
    let len =
        net::prefix_len(mask).ok_or_else(|| ApiError::param(format!("Invalid netmask {mask}")))?;
    let cidr = (net::network(gw, len), len);
    let end = end.unwrap_or_else(|| {
        let host_bits = 32 - len as u32;
        let last = u32::from(cidr.0)
            | if host_bits >= 32 {
                u32::MAX
            } else {
                (1u32 << host_bits) - 1
            };
        Ipv4Addr::from(last.saturating_sub(1))
    });
    for (what, ip) in [("startip", start), ("endip", end)] {
        if net::network(ip, len) != cidr.0 {
            return param_err(format!(
                "The {what} {ip} is not in the pod's subnet {}/{len}",
                cidr.0
            ));
        }
    }
    if u32::from(start) > u32::from(end) {
        return param_err(format!("The startip {start} is after the endip {end}"));
    }
    if (u32::from(start)..=u32::from(end)).contains(&u32::from(gw)) {
        return param_err(format!(
            "The gateway {gw} must not be inside the range {start}-{end}"
        ));
    }
    if zone.kind == "Advanced" {
        if let Some(g) = attr_str(zone, "guestcidraddress").and_then(|c| net::parse_cidr(&c)) {
            if net::overlaps(g, cidr) {
                return param_err(format!(
                    "The pod's subnet {}/{len} overlaps the zone's guest CIDR {}/{}",
                    cidr.0, g.0, g.1
                ));
            }
        }
    }
    let others = {
        let mut c = st.store.read().await?;
        db::infra_list(
            &mut c,
            Infra::Pod,
            &InfraFilter {
                zone_id: Some(zone.id),
                ..Default::default()
            },
        )
        .await?
        .0
    };
    for o in others.iter().filter(|o| Some(o.id) != pod_id) {
        if let (Some(g), Some(m)) = (attr_str(o, "gateway"), attr_str(o, "netmask")) {
            if let (Ok(g), Some(l)) = (
                g.parse::<Ipv4Addr>(),
                m.parse().ok().and_then(net::prefix_len),
            ) {
                if net::overlaps((net::network(g, l), l), cidr) {
                    return param_err(format!(
                        "The pod's subnet {}/{len} overlaps pod {}",
                        cidr.0, o.name
                    ));
                }
            }
        }
    }
    attrs.insert("gateway".into(), json!(gw.to_string()));
    attrs.insert("netmask".into(), json!(mask.to_string()));
    attrs.insert("startip".into(), json!(start.to_string()));
    attrs.insert("endip".into(), json!(end.to_string()));
    Ok(attrs)
}

pub async fn create_pod(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let zone = get(st, Infra::Zone, "zoneid", args.required_id("zoneid")?).await?;
    let name = args.required_str("name")?.trim().to_string();
    if name.is_empty() {
        return param_err("Pod name can't be empty");
    }
    let attrs = pod_range(st, &zone, None, args, &Map::new()).await?;
    let row = InfraRow {
        id: Uuid::new_v4(),
        zone_id: zone.id,
        parent_id: Some(zone.id),
        name: name.clone(),
        kind: "Pod".into(),
        state: allocation_state(args, "Disabled")?,
        domain_id: None,
        attrs: Value::Object(attrs),
        created: 0,
    };
    let mut tx = st.store.begin().await?;
    match db::infra_insert(&mut tx, Infra::Pod, &row).await {
        Err(DbError::Conflict(_)) => return conflict("pod in this zone", &name),
        r => r?,
    }
    Event::new(
        ctx,
        "POD.CREATE",
        format!("Pod {name} created in zone {}", zone.name),
    )
    .resource(row.id, "Pod", Some(&name))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    let names = HashMap::from([(zone.id, zone.name)]);
    Ok(json!({ "pod": pod_view(&row, &names) }))
}

pub async fn list_pods(st: &State, _ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let f = InfraFilter {
        ids: args.uuid("id").map(|i| vec![i]),
        zone_id: args.uuid("zoneid"),
        name: args.text("name").map(str::to_string),
        state: args.text("allocationstate").map(str::to_string),
        keyword: args.text("keyword").map(str::to_string),
        offset: args.page.offset,
        limit: args.page.limit,
        ..Default::default()
    };
    let (rows, total) = {
        let mut c = st.store.read().await?;
        db::infra_list(&mut c, Infra::Pod, &f).await?
    };
    let zn = names(st, Infra::Zone, rows.iter().map(|r| r.zone_id)).await?;
    Ok(list_body(
        "pod",
        total,
        rows.iter().map(|p| pod_view(p, &zn)).collect(),
    ))
}

pub async fn update_pod(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let mut p = get(st, Infra::Pod, "id", args.required_id("id")?).await?;
    let zone = get(st, Infra::Zone, "zoneid", p.zone_id).await?;
    if let Some(n) = args.text("name") {
        p.name = n.trim().to_string();
    }
    if ["gateway", "netmask", "startip", "endip"]
        .iter()
        .any(|k| args.has(k))
    {
        let old = p.attrs.as_object().cloned().unwrap_or_default();
        p.attrs = Value::Object(pod_range(st, &zone, Some(p.id), args, &old).await?);
    }
    p.state = allocation_state(args, &p.state)?;
    let mut tx = st.store.begin().await?;
    match db::infra_update(&mut tx, Infra::Pod, &p).await {
        Err(DbError::Conflict(_)) => return conflict("pod in this zone", &p.name),
        r => r?,
    }
    Event::new(ctx, "POD.EDIT", format!("Pod {} updated", p.name))
        .resource(p.id, "Pod", Some(&p.name))
        .record(&mut tx)
        .await?;
    tx.commit().await?;
    let names = HashMap::from([(zone.id, zone.name)]);
    Ok(json!({ "pod": pod_view(&p, &names) }))
}

pub async fn delete_pod(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let p = get(st, Infra::Pod, "id", args.required_id("id")?).await?;
    let clusters = {
        let mut c = st.store.read().await?;
        db::infra_count_children(&mut c, Infra::Cluster, p.id).await?
    };
    if clusters > 0 {
        return Err(ApiError::internal(format!(
            "The pod is not deletable because there are {clusters} cluster(s) in it"
        ))
        .into());
    }
    let mut tx = st.store.begin().await?;
    db::infra_mark_removed(&mut tx, Infra::Pod, p.id).await?;
    Event::new(ctx, "POD.DELETE", format!("Pod {} deleted", p.name))
        .resource(p.id, "Pod", Some(&p.name))
        .record(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(success_body())
}
