//! Networks and NICs as responses (`network`, `nic`), and listNetworks.

use std::collections::HashMap;

use api::{list_body, Args};
use db::{Infra, InfraRow, NetworkRow};
use model::identity::display_domain_path;
use serde_json::{json, Value};
use uuid::Uuid;

use super::*;
use crate::context::OpContext;
use crate::error::AppResult;
use crate::state::State;

/// The `nic` objects of a VM.
pub fn nic_views(nics: &[db::NicRow], vm: Uuid) -> Vec<Value> {
    nics.iter()
        .filter(|n| n.vm_id == vm)
        .map(nic_view)
        .collect()
}

pub fn nic_view(n: &db::NicRow) -> Value {
    let mut v = json!({
        "id": n.id,
        "networkid": n.network_id,
        "networkname": n.network_name,
        "macaddress": n.mac,
        "isdefault": n.is_default,
        "deviceid": n.device_id.to_string(),
        "traffictype": "Guest",
        "type": n.guest_type,
        "virtualmachineid": n.vm_id,
        "secondaryip": n
            .secondary
            .iter()
            .map(|(id, ip)| json!({ "id": id, "ipaddress": ip }))
            .collect::<Vec<_>>(),
        "extradhcpoption": [],
    });
    for (k, x) in [
        ("ipaddress", &n.ip4),
        ("gateway", &n.gateway),
        ("netmask", &n.netmask),
    ] {
        if let Some(x) = x {
            v[k] = json!(x);
        }
    }
    if let Some(vni) = n.vni {
        v["isolationuri"] = json!(format!("vxlan://{vni}"));
        v["broadcasturi"] = json!(format!("vxlan://{vni}"));
    }
    v
}

/// CloudStack's capabilities of the VirtualRouter provider, per service, as `listNetworks`
/// shows them.
fn service_views(n: &NetworkRow, offering: Option<&InfraRow>) -> Vec<Value> {
    let names: Vec<String> = match n.attrs["services"].as_array() {
        Some(s) => s
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        None => offering.map(services_of).unwrap_or_default(),
    };
    names
        .iter()
        .map(|s| {
            let mut v = json!({"name": s, "provider": [{"name": if s == "SecurityGroup" { "SecurityGroupProvider" } else { "VirtualRouter" }}]});
            match s.as_str() {
                "Lb" => {
                    v["capability"] = json!([
                        {"name": "SupportedLbAlgorithms", "value": "roundrobin,leastconn,source", "canchooseservicecapability": false},
                        {"name": "SupportedProtocols", "value": "tcp, udp, tcp-proxy", "canchooseservicecapability": false},
                        {"name": "SupportedStickinessMethods", "value": STICKINESS_METHODS, "canchooseservicecapability": false},
                        {"name": "HealthCheckPolicy", "value": "true", "canchooseservicecapability": false},
                    ])
                }
                "SourceNat" => {
                    v["capability"] = json!([{"name": "SupportedSourceNatTypes", "value": "peraccount", "canchooseservicecapability": false}])
                }
                "Firewall" => {
                    v["capability"] = json!([
                        {"name": "SupportedProtocols", "value": "tcp,udp,icmp", "canchooseservicecapability": false},
                        {"name": "SupportedEgressProtocols", "value": "tcp,udp,icmp, all", "canchooseservicecapability": false},
                        {"name": "SupportedTrafficDirection", "value": "ingress, egress", "canchooseservicecapability": false},
                    ])
                }
                "Vpn" => {
                    v["capability"] = json!([{"name": "SupportedVpnTypes", "value": "pptp,l2tp,ipsec", "canchooseservicecapability": false}])
                }
                _ => {}
            }
            v
        })
        .collect()
}

/// What the VirtualRouter tells clients about its stickiness methods (names and params).
pub(crate) const STICKINESS_METHODS: &str = r#"[{"methodname":"LbCookie","paramlist":[{"paramname":"cookie-name","required":false,"isflag":false,"description":" "},{"paramname":"mode","required":false,"isflag":false,"description":" "},{"paramname":"nocache","required":false,"isflag":true,"description":" "},{"paramname":"indirect","required":false,"isflag":true,"description":" "},{"paramname":"postonly","required":false,"isflag":true,"description":" "},{"paramname":"domain","required":false,"isflag":false,"description":" "}],"description":"This is loadbalancer cookie based stickiness method."},{"methodname":"AppCookie","paramlist":[{"paramname":"cookie-name","required":false,"isflag":false,"description":" "},{"paramname":"length","required":false,"isflag":false,"description":" "},{"paramname":"holdtime","required":false,"isflag":false,"description":" "},{"paramname":"request-learn","required":false,"isflag":true,"description":" "},{"paramname":"prefix","required":false,"isflag":true,"description":" "},{"paramname":"mode","required":false,"isflag":false,"description":" "}],"description":"This is App session based sticky method."},{"methodname":"SourceBased","paramlist":[{"paramname":"tablesize","required":false,"isflag":false,"description":" "},{"paramname":"expire","required":false,"isflag":false,"description":" "}],"description":"This is source based Stickiness method, it can be used for any type of protocol."}]"#;

pub(crate) fn view(
    n: &NetworkRow,
    zone_name: Option<&String>,
    offering: Option<&InfraRow>,
    admin: bool,
) -> Value {
    let a = &n.attrs;
    let mut v = json!({
        "id": n.id,
        "name": n.name,
        "displaytext": n.display_text,
        "zoneid": n.zone_id,
        "type": n.guest_type,
        "traffictype": n.traffic_type,
        "state": n.state,
        "isdefault": offering.map(|o| o.attrs["availability"].as_str() == Some("Required")).unwrap_or(false),
        "issystem": false,
        "canusefordeploy": true,
        "acltype": a["acltype"].as_str().unwrap_or(if n.account_id.is_some() { "Account" } else { "Domain" }),
        "specifyipranges": offering.map(|o| o.attrs["specifyipranges"].as_bool().unwrap_or(false)).unwrap_or(false),
        "restartrequired": a["restartrequired"].as_bool().unwrap_or(false),
        "ispersistent": false,
        "redundantrouter": false,
        "displaynetwork": a["displaynetwork"].as_bool().unwrap_or(true),
        "egressdefaultpolicy": a["egressdefaultpolicy"].as_bool().unwrap_or(true),
        "service": service_views(n, offering),
        "tags": [],
    });
    if let Some(z) = zone_name {
        v["zonename"] = json!(z);
    }
    if let Some(p) = n.vpc_id {
        v["vpcid"] = json!(p);
    }
    if let Some(l) = n.acl_id {
        v["aclid"] = json!(l);
    }
    for (k, x) in [
        ("cidr", &n.cidr),
        ("gateway", &n.gateway),
        ("netmask", &n.netmask),
        ("networkdomain", &n.network_domain),
    ] {
        if let Some(x) = x {
            v[k] = json!(x);
        }
    }
    for k in ["dns1", "dns2", "physicalnetworkid"] {
        if let Some(x) = a[k].as_str() {
            v[k] = json!(x);
        }
    }
    if let Some(o) = offering {
        v["networkofferingid"] = json!(o.id);
        v["networkofferingname"] = json!(o.name);
        v["networkofferingdisplaytext"] = json!(o.attrs["displaytext"].as_str().unwrap_or(&o.name));
        v["networkofferingavailability"] =
            json!(o.attrs["availability"].as_str().unwrap_or("Optional"));
        v["networkofferingconservemode"] = json!(true);
    } else if let Some(o) = n.network_offering_id {
        v["networkofferingid"] = json!(o);
    }
    if let Some(an) = &n.account_name {
        v["account"] = json!(an);
    }
    if let (Some(d), Some(dn)) = (n.domain_id, &n.domain_name) {
        v["domainid"] = json!(d);
        v["domain"] = json!(dn);
        v["domainpath"] = json!(display_domain_path(n.domain_path.as_deref().unwrap_or("/")));
    }
    if admin {
        match n.vni {
            Some(vni) => {
                v["vlan"] = json!(vni.to_string());
                v["broadcasturi"] = json!(format!("vxlan://{vni}"));
                v["broadcastdomaintype"] = json!("Vxlan");
            }
            None => {
                if let Some(vl) = a["vlan"].as_str() {
                    v["vlan"] = json!(vl);
                }
            }
        }
    }
    v
}

/// Views of networks with their zone names and offerings.
pub(crate) async fn views(
    st: &State,
    ctx: &OpContext,
    rows: &[NetworkRow],
) -> AppResult<Vec<Value>> {
    let zones =
        crate::handlers::zones::names(st, Infra::Zone, rows.iter().map(|n| n.zone_id)).await?;
    let mut offerings: HashMap<Uuid, InfraRow> = HashMap::new();
    {
        let mut c = st.store.read().await?;
        for o in rows.iter().filter_map(|n| n.network_offering_id) {
            if let std::collections::hash_map::Entry::Vacant(e) = offerings.entry(o) {
                if let Some(r) = db::infra_get(&mut c, Infra::NetworkOffering, o).await? {
                    e.insert(r);
                }
            }
        }
    }
    let tags =
        crate::handlers::tags::for_resources(st, &rows.iter().map(|n| n.id.0).collect::<Vec<_>>())
            .await?;
    // Tiers: their VPC's and ACL list's names.
    let mut vpc_names: HashMap<model::VpcId, String> = HashMap::new();
    let mut acl_names: HashMap<Uuid, String> = HashMap::new();
    {
        let mut c = st.store.read().await?;
        for n in rows {
            if let Some(p) = n.vpc_id {
                if let std::collections::hash_map::Entry::Vacant(e) = vpc_names.entry(p) {
                    if let Some(v) = db::vpc_get(&mut c, p).await? {
                        e.insert(v.name);
                    }
                }
            }
            if let Some(l) = n.acl_id {
                if let std::collections::hash_map::Entry::Vacant(e) = acl_names.entry(l) {
                    if let Some(name) = db::rule_get(&mut c, l).await?.and_then(|r| r.name) {
                        e.insert(name);
                    }
                }
            }
        }
    }
    Ok(rows
        .iter()
        .map(|n| {
            let mut v = view(
                n,
                zones.get(&n.zone_id),
                n.network_offering_id.and_then(|o| offerings.get(&o)),
                ctx.is_root_admin(),
            );
            v["tags"] = crate::handlers::tags::embedded(&tags, n.id.into());
            if let Some(name) = n.vpc_id.and_then(|p| vpc_names.get(&p)) {
                v["vpcname"] = json!(name);
            }
            if let Some(name) = n.acl_id.and_then(|l| acl_names.get(&l)) {
                v["aclname"] = json!(name);
            }
            v
        })
        .collect())
}

pub async fn list(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let scope = access::owner_scope(st, ctx, args).await?;
    let mut f = db::NetworkFilter {
        zone_id: args.uuid("zoneid"),
        guest_type: args
            .text("type")
            .or(args.text("guestiptype"))
            .filter(|t| !t.eq_ignore_ascii_case("all"))
            .map(str::to_string),
        keyword: args.text("keyword").map(str::to_string),
        offset: 0,
        limit: None,
        ..Default::default()
    };
    if let Some(id) = args.uuid("id") {
        f.ids.push(model::NetworkId(id));
    }
    if let Some(v) = args.uuid("vpcid") {
        f.vpc_ids.push(model::VpcId(v));
    }
    f.in_vpc = args.bool("forvpc");
    if let Some(t) = args.text("traffictype") {
        if !t.eq_ignore_ascii_case("guest") {
            return Ok(list_body("network", 0, Vec::new()));
        }
    }
    if args.bool("issystem") == Some(true) {
        return Ok(list_body("network", 0, Vec::new()));
    }
    // The caller's own (or scoped) networks, plus the shared networks without an owner it
    // may use — CloudStack lists both unless an account/domain filter narrows it.
    let mut rows = {
        let mut c = st.store.read().await?;
        let mut owned = f.clone();
        owned.scope = Some(scope.clone());
        let mut rows = db::network_list(&mut c, &owned).await?.0;
        if args.text("account").is_none() {
            let shared = db::NetworkFilter {
                guest_type: Some("Shared".into()),
                ..f.clone()
            };
            if f.guest_type
                .as_deref()
                .is_none_or(|t| t.eq_ignore_ascii_case("shared"))
            {
                for n in db::network_list(&mut c, &shared).await?.0 {
                    if n.account_id.is_none() && !rows.iter().any(|r| r.id == n.id) {
                        rows.push(n);
                    }
                }
            }
        }
        rows
    };
    if !ctx.is_root_admin() {
        let me = ctx.user.account.clone();
        let mut keep = Vec::new();
        for n in rows {
            if n.account_id.is_some() || check_use(st, ctx, &me, &n).await.is_ok() {
                keep.push(n);
            }
        }
        rows = keep;
    }
    // A VPC's private gateways are listed by listPrivateGateways, not here (unless asked for
    // by their type).
    if !f.guest_type.as_deref().is_some_and(|t| {
        t.eq_ignore_ascii_case(crate::handlers::vpcs::private_gateways::GUEST_TYPE)
    }) {
        rows.retain(|n| n.guest_type != crate::handlers::vpcs::private_gateways::GUEST_TYPE);
    }
    if let Some(o) = args.uuid("networkofferingid") {
        rows.retain(|n| n.network_offering_id == Some(o));
    }
    if let Some(p) = args.uuid("physicalnetworkid") {
        rows.retain(|n| n.attrs["physicalnetworkid"].as_str() == Some(&p.to_string()));
    }
    if let Some(svcs) = args.list("supportedservices") {
        let mut keep = Vec::new();
        for n in rows {
            let off = offering_of(st, &n).await?;
            let mut all = true;
            for s in svcs {
                all &= has_service(&n, off.as_ref(), s.trim())?;
            }
            if all {
                keep.push(n);
            }
        }
        rows = keep;
    }
    let total = rows.len() as u64;
    let rows = args.page.slice(rows);
    Ok(list_body("network", total, views(st, ctx, &rows).await?))
}
