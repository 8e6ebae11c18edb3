//! VPC offerings: which services a VPC's router provides to its tiers. CloudStack makes these
//! commands asynchronous (clients wait on a job), so they are here too; the work is one
//! database write.

use std::collections::HashMap;

use api::{list_body, success_body, ApiError, Args};
use db::{Infra, InfraFilter, InfraRow};
use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::{b, insert, n, new_row, rename, s, save, scope, scope_fields, visible, visible_filter};
use crate::context::OpContext;
use crate::error::{param_err, AppResult};
use crate::handlers::zones::get;
use crate::jobs::{JobPlan, JobRef};
use crate::state::State;

/// Services a VPC offering can list and the provider each gets by default. Firewall and
/// SecurityGroup are not VPC services (tiers are guarded by network ACLs).
pub(crate) const VPC_SERVICES: &[(&str, &str)] = &[
    ("Dhcp", "VpcVirtualRouter"),
    ("Dns", "VpcVirtualRouter"),
    ("SourceNat", "VpcVirtualRouter"),
    ("PortForwarding", "VpcVirtualRouter"),
    ("StaticNat", "VpcVirtualRouter"),
    ("Lb", "VpcVirtualRouter"),
    ("UserData", "VpcVirtualRouter"),
    ("Vpn", "VpcVirtualRouter"),
    ("NetworkACL", "VpcVirtualRouter"),
    ("Gateway", "VpcVirtualRouter"),
];

/// The attributes of a VPC offering: its services (known ones, each with a provider).
pub(crate) fn vpc_attrs(
    services: &[String],
    providers: &HashMap<String, String>,
) -> AppResult<Value> {
    let mut svc = Vec::new();
    for name in services {
        let Some((canon, default)) = VPC_SERVICES
            .iter()
            .find(|(s, _)| s.eq_ignore_ascii_case(name))
        else {
            return param_err(format!(
                "Service {name} is not supported by VPC offerings (supported: {})",
                VPC_SERVICES
                    .iter()
                    .map(|(s, _)| *s)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        };
        if svc.iter().any(|s: &Value| s["name"] == *canon) {
            continue;
        }
        let provider = providers
            .get(&canon.to_ascii_lowercase())
            .cloned()
            .unwrap_or_else(|| default.to_string());
        if !["VpcVirtualRouter", "InternalLbVm", "ConfigDrive"].contains(&provider.as_str()) {
            return param_err(format!(
                "Provider {provider} is not supported for service {canon} of a VPC offering"
            ));
        }
        svc.push(json!({"name": canon, "provider": provider}));
    }
    if svc.is_empty() {
        return param_err("A VPC offering needs at least one service in supportedservices");
    }
    Ok(json!({ "services": svc, "isdefault": false, "fordisplay": true }))
}

/// Whether a VPC offering provides `service`.
pub(crate) fn has_service(r: &InfraRow, service: &str) -> bool {
    r.attrs["services"]
        .as_array()
        .map(|a| {
            a.iter().any(|x| {
                x["name"]
                    .as_str()
                    .is_some_and(|n| n.eq_ignore_ascii_case(service))
            })
        })
        .unwrap_or(false)
}

/// The `service` list of a VPC or VPC offering response.
pub(crate) fn services_view(r: &InfraRow) -> Vec<Value> {
    r.attrs["services"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|svc| json!({ "name": svc["name"], "provider": [{ "name": svc["provider"] }], "capability": [] }))
                .collect()
        })
        .unwrap_or_default()
}

async fn vpc_offering_view(st: &State, r: &InfraRow) -> AppResult<Value> {
    let mut m = Map::new();
    m.insert("id".into(), json!(r.id));
    m.insert("name".into(), json!(r.name));
    m.insert(
        "displaytext".into(),
        json!(s(r, "displaytext").unwrap_or_else(|| r.name.clone())),
    );
    m.insert("isdefault".into(), json!(b(r, "isdefault")));
    m.insert("state".into(), json!(r.state));
    m.insert("service".into(), Value::Array(services_view(r)));
    m.insert("distributedvpcrouter".into(), json!(false));
    m.insert("supportsregionLevelvpc".into(), json!(false));
    m.insert(
        "fordisplay".into(),
        json!(r.attrs["fordisplay"].as_bool().unwrap_or(true)),
    );
    m.insert("internetprotocol".into(), json!("IPv4"));
    m.insert("created".into(), json!(api::time::format_ms(r.created)));
    scope_fields(st, &mut m, r).await?;
    Ok(Value::Object(m))
}

pub async fn create_vpc_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let name = args.required_str("name")?.trim();
    if name.is_empty() {
        return param_err("VPC offering name can't be empty");
    }
    if let Some(ip) = args.text("internetprotocol") {
        if !ip.eq_ignore_ascii_case("ipv4") {
            return param_err(format!(
                "Internet protocol {ip} is not supported: only IPv4 VPCs are"
            ));
        }
    }
    let services: Vec<String> = args
        .list("supportedservices")
        .map(|l| {
            l.iter()
                .flat_map(|s| s.split(','))
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
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
    let mut a = vpc_attrs(&services, &providers)?;
    if let Some(so) = args.uuid("serviceofferingid") {
        get(st, Infra::ServiceOffering, "serviceofferingid", so).await?;
        a["serviceofferingid"] = json!(so);
    }
    a["displaytext"] = json!(args.text("displaytext").unwrap_or(name));
    let (domains, zones) = scope(st, ctx, args).await?;
    a["domainids"] = json!(domains);
    a["zoneids"] = json!(zones);
    let row = new_row(
        name,
        "vpc",
        if args.flag("enable") {
            "Enabled"
        } else {
            "Disabled"
        },
        a,
    );
    insert(st, ctx, Infra::VpcOffering, &row, "VPC.OFFERING.CREATE").await?;
    Ok(JobPlan {
        instance_type: Some("VpcOffering"),
        instance_id: Some(row.id.to_string()),
        returns_id: true,
        description: format!("Creating VPC offering {name}"),
    })
}

pub async fn create_vpc_run(
    st: &State,
    _ctx: &OpContext,
    _args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let row = get(st, Infra::VpcOffering, "id", job.instance()?).await?;
    Ok(json!({ "vpcoffering": vpc_offering_view(st, &row).await? }))
}

pub async fn list_vpc(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let f = InfraFilter {
        ids: args.uuid("id").map(|i| vec![i]),
        name: args.text("name").map(str::to_string),
        state: args.text("state").map(str::to_string),
        keyword: args.text("keyword").map(str::to_string),
        ..Default::default()
    };
    let rows = {
        let mut c = st.store.read().await?;
        db::infra_list(&mut c, Infra::VpcOffering, &f).await?.0
    };
    let lineage = visible_filter(st, ctx).await?;
    let wanted: Vec<String> = args
        .list("supportedservices")
        .map(|l| {
            l.iter()
                .flat_map(|s| s.split(','))
                .map(|s| s.trim().to_string())
                .collect()
        })
        .unwrap_or_default();
    let mut matching: Vec<InfraRow> = rows
        .into_iter()
        .filter(|r| visible(r, &lineage, args.uuid("zoneid")))
        .filter(|r| {
            args.bool("isdefault")
                .map(|v| b(r, "isdefault") == v)
                .unwrap_or(true)
        })
        .filter(|r| {
            args.text("displaytext")
                .map(|d| s(r, "displaytext").as_deref() == Some(d))
                .unwrap_or(true)
        })
        .filter(|r| {
            wanted
                .iter()
                .filter(|w| !w.is_empty())
                .all(|w| has_service(r, w))
        })
        .collect();
    matching.sort_by_key(|r| (n(r, "sortkey").unwrap_or(0), r.created));
    let total = matching.len() as u64;
    let page: Vec<InfraRow> = args.page.slice(std::mem::take(&mut matching));
    let mut items = Vec::with_capacity(page.len());
    for r in &page {
        items.push(vpc_offering_view(st, r).await?);
    }
    Ok(list_body("vpcoffering", total, items))
}

fn offering_plan(id: Uuid, what: &str) -> JobPlan {
    JobPlan {
        instance_type: Some("VpcOffering"),
        instance_id: Some(id.to_string()),
        returns_id: false,
        description: format!("{what} VPC offering {id}"),
    }
}

pub async fn update_vpc_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let r = rename(st, ctx, Infra::VpcOffering, args).await?;
    if let Some(stt) = args.text("state") {
        if !["Enabled", "Disabled"]
            .iter()
            .any(|x| x.eq_ignore_ascii_case(stt))
        {
            return param_err(format!("Invalid state {stt}: use Enabled or Disabled"));
        }
    }
    Ok(offering_plan(r.id, "Updating"))
}

pub async fn update_vpc_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    _job: &JobRef,
) -> AppResult<Value> {
    let mut r = rename(st, ctx, Infra::VpcOffering, args).await?;
    if let Some(stt) = args.text("state") {
        r.state = ["Enabled", "Disabled"]
            .into_iter()
            .find(|x| x.eq_ignore_ascii_case(stt))
            .ok_or_else(|| {
                ApiError::param(format!("Invalid state {stt}: use Enabled or Disabled"))
            })?
            .into();
    }
    save(st, ctx, Infra::VpcOffering, &r, "VPC.OFFERING.UPDATE").await?;
    Ok(json!({ "vpcoffering": vpc_offering_view(st, &r).await? }))
}

pub async fn delete_vpc_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let r = rename(st, ctx, Infra::VpcOffering, args).await?;
    if b(&r, "isdefault") {
        return param_err(format!(
            "The VPC offering {} is a default offering and can't be deleted",
            r.name
        ));
    }
    let in_use = {
        let mut c = st.store.read().await?;
        db::vpc_list(
            &mut c,
            &db::VpcFilter {
                offering_id: Some(r.id),
                limit: Some(1),
                ..Default::default()
            },
        )
        .await?
        .1
    };
    if in_use > 0 {
        return param_err(format!(
            "The VPC offering {} is used by {in_use} VPC(s): delete them first",
            r.name
        ));
    }
    Ok(offering_plan(r.id, "Deleting"))
}

pub async fn delete_vpc_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    _job: &JobRef,
) -> AppResult<Value> {
    let id = args.required_id("id")?;
    let gone = {
        let mut c = st.store.read().await?;
        db::infra_get(&mut c, Infra::VpcOffering, id)
            .await?
            .is_none()
    };
    if gone {
        return Ok(success_body());
    }
    super::delete(st, ctx, Infra::VpcOffering, args, "VPC.OFFERING.DELETE").await
}
