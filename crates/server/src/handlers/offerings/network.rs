//! Network offerings: which services a guest network gets and from which provider.

use std::collections::HashMap;

use api::{list_body, ApiError, Args};
use db::{Infra, InfraFilter, InfraRow};
use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::{
    b, delete, insert, n, new_row, positive, rename, s, save, scope, scope_fields, visible,
    visible_filter,
};
use crate::context::OpContext;
use crate::error::{param_err, AppResult};
use crate::handlers::zones::get;
use crate::state::State;

/// Services a network offering can list, and the provider each gets by default.
const SERVICES: &[(&str, &str)] = &[
    ("Dhcp", "VirtualRouter"),
    ("Dns", "VirtualRouter"),
    ("SourceNat", "VirtualRouter"),
    ("PortForwarding", "VirtualRouter"),
    ("StaticNat", "VirtualRouter"),
    ("Lb", "VirtualRouter"),
    ("Firewall", "VirtualRouter"),
    ("UserData", "VirtualRouter"),
    ("Vpn", "VirtualRouter"),
    ("Gateway", "VirtualRouter"),
    ("SecurityGroup", "SecurityGroupProvider"),
    ("NetworkACL", "VpcVirtualRouter"),
];

/// Services that need a router with a public side: Isolated (or VPC) networks only.
const ISOLATED_ONLY: &[&str] = &[
    "SourceNat",
    "PortForwarding",
    "StaticNat",
    "Firewall",
    "Vpn",
    "Gateway",
    "NetworkACL",
];

async fn network_view(st: &State, r: &InfraRow) -> AppResult<Value> {
    let services: Vec<Value> = r.attrs["services"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|svc| {
                    let caps: Vec<Value> = r.attrs["capabilities"]
                        .as_array()
                        .map(|c| c.iter().filter(|c| c["service"] == svc["name"]).map(|c| json!({"name": c["name"], "value": c["value"], "canchooseservicecapability": false})).collect())
                        .unwrap_or_default();
                    json!({ "name": svc["name"], "provider": [{ "name": svc["provider"] }], "capability": caps })
                })
                .collect()
        })
        .unwrap_or_default();
    let mut m = Map::new();
    m.insert("id".into(), json!(r.id));
    m.insert("name".into(), json!(r.name));
    m.insert(
        "displaytext".into(),
        json!(s(r, "displaytext").unwrap_or_else(|| r.name.clone())),
    );
    m.insert("traffictype".into(), json!("Guest"));
    m.insert("isdefault".into(), json!(b(r, "isdefault")));
    for k in [
        "specifyvlan",
        "conservemode",
        "specifyipranges",
        "egressdefaultpolicy",
        "ispersistent",
        "forvpc",
    ] {
        m.insert(k.into(), json!(b(r, k)));
    }
    m.insert(
        "availability".into(),
        json!(s(r, "availability").unwrap_or_else(|| "Optional".into())),
    );
    if let Some(rate) = n(r, "networkrate") {
        m.insert("networkrate".into(), json!(rate));
    }
    m.insert("state".into(), json!(r.state));
    m.insert("guestiptype".into(), json!(r.kind));
    m.insert("service".into(), Value::Array(services));
    if let Some(t) = s(r, "tags") {
        m.insert("tags".into(), json!(t));
    }
    m.insert("internetprotocol".into(), json!("IPv4"));
    m.insert("supportspublicaccess".into(), json!(false));
    m.insert("created".into(), json!(api::time::format_ms(r.created)));
    scope_fields(st, &mut m, r).await?;
    Ok(Value::Object(m))
}

/// What defines a network offering's behaviour.
pub(crate) struct NetworkSpec<'a> {
    pub guest: &'a str,
    pub services: &'a [String],
    /// Lower-cased service name -> provider, where not the default.
    pub providers: &'a HashMap<String, String>,
    pub availability: &'a str,
    pub specifyvlan: bool,
    pub specifyipranges: bool,
    pub egress_allow: bool,
    pub forvpc: bool,
}

/// The attributes of a network offering, checked: known services, a provider each, services
/// that need a router only on Isolated offerings, SecurityGroup not on Isolated ones, and
/// nothing but UserData on L2.
pub(crate) fn network_attrs(spec: &NetworkSpec<'_>) -> AppResult<Value> {
    let NetworkSpec {
        guest,
        services,
        providers,
        availability,
        specifyvlan,
        specifyipranges,
        egress_allow,
        forvpc,
    } = *spec;
    let mut svc = Vec::new();
    for name in services {
        let Some((canon, default)) = SERVICES.iter().find(|(s, _)| s.eq_ignore_ascii_case(name))
        else {
            return param_err(format!("Invalid service {name}"));
        };
        if guest != "Isolated" && ISOLATED_ONLY.contains(canon) {
            return param_err(format!(
                "Service {canon} is not supported by {guest} network offerings"
            ));
        }
        if guest == "Isolated" && *canon == "SecurityGroup" {
            return param_err(
                "SecurityGroup service is not supported by Isolated network offerings",
            );
        }
        if guest == "L2" && *canon != "UserData" {
            return param_err(format!(
                "Service {canon} is not supported by L2 network offerings"
            ));
        }
        let provider = providers
            .get(&canon.to_ascii_lowercase())
            .cloned()
            .unwrap_or_else(|| {
                if forvpc && *default == "VirtualRouter" {
                    "VpcVirtualRouter".into()
                } else {
                    default.to_string()
                }
            });
        svc.push(json!({"name": canon, "provider": provider}));
    }
    if availability == "Required"
        && !(guest == "Isolated" && services.iter().any(|s| s.eq_ignore_ascii_case("SourceNat")))
    {
        return param_err("Availability can be Required only for an Isolated network offering with the SourceNat service");
    }
    Ok(json!({
        "services": svc,
        "capabilities": [],
        "availability": availability,
        "specifyvlan": specifyvlan,
        "specifyipranges": specifyipranges,
        "conservemode": true,
        "ispersistent": false,
        "egressdefaultpolicy": egress_allow,
        "forvpc": forvpc,
        "isdefault": false,
    }))
}

fn availability(v: Option<&str>) -> AppResult<String> {
    match v {
        None => Ok("Optional".into()),
        Some(a) if a.eq_ignore_ascii_case("optional") => Ok("Optional".into()),
        Some(a) if a.eq_ignore_ascii_case("required") => Ok("Required".into()),
        Some(a) => param_err(format!(
            "Invalid availability {a}: use Optional or Required"
        )),
    }
}

async fn another_required(st: &State, except: Option<Uuid>) -> AppResult<Option<String>> {
    let mut c = st.store.read().await?;
    let rows = db::infra_list(&mut c, Infra::NetworkOffering, &InfraFilter::default())
        .await?
        .0;
    Ok(rows
        .into_iter()
        .find(|r| Some(r.id) != except && s(r, "availability").as_deref() == Some("Required"))
        .map(|r| r.name))
}

pub async fn create_network(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let name = args.required_str("name")?.trim();
    if name.is_empty() {
        return param_err("Network offering name can't be empty");
    }
    let gt = args.required_str("guestiptype")?;
    let guest = ["Isolated", "Shared", "L2"]
        .into_iter()
        .find(|g| g.eq_ignore_ascii_case(gt))
        .ok_or_else(|| {
            ApiError::param(format!(
                "Invalid guest type {gt}: use Isolated, Shared or L2"
            ))
        })?;
    if !args
        .required_str("traffictype")?
        .eq_ignore_ascii_case("guest")
    {
        return param_err("Only traffic type Guest is supported for network offerings");
    }
    let services: Vec<String> = args
        .list("supportedservices")
        .map(|l| l.to_vec())
        .unwrap_or_default();
    let mut providers = HashMap::new();
    for e in args.map("serviceproviderlist").unwrap_or_default() {
        let (Some(svc), Some(p)) = (e.get("service"), e.get("provider")) else {
            return param_err("serviceproviderlist entries need service and provider");
        };
        if !services.iter().any(|s| s.eq_ignore_ascii_case(svc)) {
            return param_err(format!(
                "Provider given for service {svc}, which is not in supportedservices"
            ));
        }
        providers.insert(svc.to_ascii_lowercase(), p.clone());
    }
    let avail = availability(args.text("availability"))?;
    let mut a = network_attrs(&NetworkSpec {
        guest,
        services: &services,
        providers: &providers,
        availability: &avail,
        specifyvlan: args.flag("specifyvlan"),
        specifyipranges: args.flag("specifyipranges"),
        egress_allow: args.bool("egressdefaultpolicy").unwrap_or(true),
        forvpc: args.flag("forvpc"),
    })?;
    if avail == "Required" {
        if let Some(other) = another_required(st, None).await? {
            return param_err(format!(
                "There is already a network offering with availability Required: {other}"
            ));
        }
    }
    a["displaytext"] = json!(args.text("displaytext").unwrap_or(name));
    a["conservemode"] = json!(args.bool("conservemode").unwrap_or(true));
    a["ispersistent"] = json!(args.flag("ispersistent"));
    if let Some(caps) = args.map("servicecapabilitylist") {
        a["capabilities"] = json!(caps.iter().map(|c| json!({"service": c.get("service"), "name": c.get("capabilitytype"), "value": c.get("capabilityvalue")})).collect::<Vec<_>>());
    }
    if let Some(rate) = positive(args, "networkrate")? {
        a["networkrate"] = json!(rate);
    }
    if let Some(t) = args.text("tags") {
        a["tags"] = json!(t);
    }
    let (domains, zones) = scope(st, ctx, args).await?;
    a["domainids"] = json!(domains);
    a["zoneids"] = json!(zones);
    let row = new_row(
        name,
        guest,
        if args.flag("enable") {
            "Enabled"
        } else {
            "Disabled"
        },
        a,
    );
    insert(
        st,
        ctx,
        Infra::NetworkOffering,
        &row,
        "NETWORK.OFFERING.CREATE",
    )
    .await?;
    let row = get(st, Infra::NetworkOffering, "id", row.id).await?;
    Ok(json!({ "networkoffering": network_view(st, &row).await? }))
}

pub async fn list_network(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let f = InfraFilter {
        ids: args.uuid("id").map(|i| vec![i]),
        name: args.text("name").map(str::to_string),
        kind: args.text("guestiptype").map(str::to_string),
        state: args.text("state").map(str::to_string),
        keyword: args.text("keyword").map(str::to_string),
        ..Default::default()
    };
    if let Some(t) = args.text("traffictype") {
        if !t.eq_ignore_ascii_case("guest") {
            return Ok(json!({}));
        }
    }
    let rows = {
        let mut c = st.store.read().await?;
        db::infra_list(&mut c, Infra::NetworkOffering, &f).await?.0
    };
    let lineage = visible_filter(st, ctx).await?;
    let wanted: Vec<String> = args
        .list("supportedservices")
        .map(|l| l.iter().map(|s| s.to_ascii_lowercase()).collect())
        .unwrap_or_default();
    let has = |r: &InfraRow, svc: &str| {
        r.attrs["services"]
            .as_array()
            .map(|a| {
                a.iter().any(|x| {
                    x["name"]
                        .as_str()
                        .map(|n| n.eq_ignore_ascii_case(svc))
                        .unwrap_or(false)
                })
            })
            .unwrap_or(false)
    };
    let mut matching: Vec<InfraRow> = rows
        .into_iter()
        .filter(|r| visible(r, &lineage, args.uuid("zoneid")))
        .filter(|r| {
            args.text("availability")
                .map(|a| {
                    s(r, "availability")
                        .map(|x| x.eq_ignore_ascii_case(a))
                        .unwrap_or(false)
                })
                .unwrap_or(true)
        })
        .filter(|r| {
            ["isdefault", "specifyvlan", "specifyipranges", "forvpc"]
                .iter()
                .all(|k| args.bool(k).map(|v| b(r, k) == v).unwrap_or(true))
        })
        .filter(|r| {
            args.bool("sourcenatsupported")
                .map(|v| has(r, "SourceNat") == v)
                .unwrap_or(true)
        })
        .filter(|r| wanted.iter().all(|w| has(r, w)))
        .collect();
    matching.sort_by_key(|r| (n(r, "sortkey").unwrap_or(0), r.created));
    let total = matching.len() as u64;
    let page: Vec<InfraRow> = args.page.slice(std::mem::take(&mut matching));
    let mut items = Vec::with_capacity(page.len());
    for r in &page {
        items.push(network_view(st, r).await?);
    }
    Ok(list_body("networkoffering", total, items))
}

pub async fn update_network(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let mut r = rename(st, ctx, Infra::NetworkOffering, args).await?;
    if let Some(stt) = args.text("state") {
        r.state = ["Enabled", "Disabled"]
            .into_iter()
            .find(|x| x.eq_ignore_ascii_case(stt))
            .ok_or_else(|| {
                ApiError::param(format!("Invalid state {stt}: use Enabled or Disabled"))
            })?
            .into();
    }
    if let Some(a) = args.text("availability") {
        let a = availability(Some(a))?;
        if a == "Required" {
            let src = r.attrs["services"]
                .as_array()
                .map(|s| s.iter().any(|x| x["name"] == "SourceNat"))
                .unwrap_or(false);
            if r.kind != "Isolated" || !src {
                return param_err("Availability can be Required only for an Isolated network offering with the SourceNat service");
            }
            if let Some(other) = another_required(st, Some(r.id)).await? {
                return param_err(format!(
                    "There is already a network offering with availability Required: {other}"
                ));
            }
        }
        r.attrs["availability"] = json!(a);
    }
    save(st, ctx, Infra::NetworkOffering, &r, "NETWORK.OFFERING.EDIT").await?;
    Ok(json!({ "networkoffering": network_view(st, &r).await? }))
}

pub async fn delete_network(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    delete(
        st,
        ctx,
        Infra::NetworkOffering,
        args,
        "NETWORK.OFFERING.DELETE",
    )
    .await
}
