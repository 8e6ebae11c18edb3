//! A VPC's private gateways (`createPrivateGateway`, root admins, as in CloudStack): a segment
//! (a VXLAN — or VLAN — id of the operator's choosing) the VPC router joins with its own
//! address, towards a next hop (`gateway`) on the other side; static routes of the VPC
//! (`createStaticRoute gatewayid=`) go through it, its network ACL list guards what enters and
//! leaves the VPC there, and with `sourcenatsupported` the VPC leaves through it as the
//! router's address. Stored as a network of guest type `Private` with the VPC's id (the VNI
//! unique in the zone like any network's; `attrs.privategateway` holds the router's address).

use std::net::Ipv4Addr;

use api::{list_body, success_body, ApiError, Args};
use db::NetworkRow;
use model::VpcId;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::context::OpContext;
use crate::error::{param_err, AppResult};
use crate::events::Event;
use crate::jobs::{JobPlan, JobRef};
use crate::state::State;

pub(crate) const GUEST_TYPE: &str = "Private";

fn ip(args: &Args, k: &str) -> AppResult<Ipv4Addr> {
    let v = args.required_str(k)?.trim();
    v.parse()
        .map_err(|_| ApiError::param(format!("Invalid {k} {v}: not an IPv4 address")).into())
}

/// The private gateway `id` names (the caller must reach its VPC).
pub(crate) async fn owned_gateway(
    st: &State,
    ctx: &OpContext,
    param: &str,
    id: Uuid,
) -> AppResult<NetworkRow> {
    let n = {
        let mut c = st.store.read().await?;
        db::network_get(&mut c, model::NetworkId(id)).await?
    };
    let Some(n) = n.filter(|n| n.guest_type == GUEST_TYPE && n.vpc_id.is_some()) else {
        return Err(ApiError::invalid_id(param, &id.to_string()).into());
    };
    if let Some(v) = n.vpc_id {
        super::owned_vpc(st, ctx, param, v.0).await?;
    }
    Ok(n)
}

/// The router's interface on a private gateway (`g<VNI>`), where its static routes go out.
pub(crate) fn interface(n: &NetworkRow) -> Option<String> {
    n.vni.map(|v| format!("g{v}"))
}

pub async fn create_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    if args.has("associatednetworkid") {
        return param_err(
            "associatednetworkid is not supported: give vlan (the private gateway's own segment)",
        );
    }
    let vpc = super::owned_vpc(st, ctx, "vpcid", args.required_id("vpcid")?).await?;
    let address = ip(args, "ipaddress")?;
    let gateway = ip(args, "gateway")?;
    let netmask = ip(args, "netmask")?;
    let prefix = model::net::prefix_len(netmask)
        .filter(|p| *p >= 8 && *p <= 30)
        .ok_or_else(|| ApiError::param(format!("Invalid netmask {netmask}: /8 to /30")))?;
    let cidr = netplan::Cidr::new(gateway, prefix)
        .ok_or_else(|| ApiError::param(format!("Invalid netmask {netmask}")))?;
    if !cidr.contains(address) || address == gateway {
        return param_err(format!(
            "The ipaddress {address} must be another address of the gateway's subnet {cidr}"
        ));
    }
    let (first, last) = cidr.hosts();
    if u32::from(address) < u32::from(first) || u32::from(address) > u32::from(last) {
        return param_err(format!(
            "The ipaddress {address} is not a host address of {cidr}"
        ));
    }
    let vpc_cidr: Option<netplan::Cidr> = vpc.cidr.parse().ok();
    if vpc_cidr.is_some_and(|v| v.contains(cidr.addr) || cidr.contains(v.addr)) {
        return param_err(format!(
            "The private gateway's subnet {cidr} overlaps the VPC's CIDR {}",
            vpc.cidr
        ));
    }
    let vni = crate::handlers::networks::parse_vni(args.required_str("vlan")?)?;
    let acl = match args.uuid("aclid") {
        Some(a) => {
            let l = super::acls::visible_list(st, ctx, "aclid", a).await?;
            if l.parent_id.is_some_and(|p| p != vpc.id.0) {
                return param_err(format!(
                    "Network ACL list {} belongs to another VPC",
                    l.name.as_deref().unwrap_or_default()
                ));
            }
            l.id
        }
        // CloudStack's default for a private gateway.
        None => {
            super::acls::builtin_list(st, super::acls::DEFAULT_DENY)
                .await?
                .id
        }
    };
    let source_nat = args.bool("sourcenatsupported").unwrap_or(false);
    let id = model::NetworkId(Uuid::new_v4());
    let name = format!("private-gateway-{vni}");
    let row = NetworkRow {
        id,
        name: name.clone(),
        display_text: format!("Private gateway {address} of VPC {}", vpc.name),
        zone_id: vpc.zone_id,
        account_id: vpc.account_id,
        account_name: None,
        domain_id: vpc.domain_id,
        domain_name: None,
        domain_path: None,
        guest_type: GUEST_TYPE.into(),
        traffic_type: "Guest".into(),
        state: model::NetworkState::Implemented,
        cidr: Some(cidr.to_string()),
        gateway: Some(gateway.to_string()),
        netmask: Some(netmask.to_string()),
        network_domain: None,
        vni: Some(vni),
        network_offering_id: None,
        vpc_id: Some(vpc.id),
        acl_id: Some(acl),
        attrs: json!({
            "privategateway": {
                "ipaddress": address.to_string(),
                "sourcenatsupported": source_nat,
                "physicalnetworkid": args.uuid("physicalnetworkid"),
            }
        }),
        created: 0,
    };
    let mut tx = st.store.begin().await?;
    match db::network_insert(&mut tx, &row).await {
        Ok(()) => {}
        Err(db::DbError::Conflict(_)) => {
            return param_err(format!(
                "The vlan {vni} is already used by another network or private gateway of the zone"
            ))
        }
        Err(e) => return Err(e.into()),
    }
    Event::new(
        ctx,
        "PRIVATE.GATEWAY.CREATE",
        format!("Private gateway {address} (vlan {vni}) of VPC {}", vpc.name),
    )
    .resource(id.0, "PrivateGateway", Some(&name))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(JobPlan {
        instance_type: Some("PrivateGateway"),
        instance_id: Some(id.to_string()),
        returns_id: true,
        description: format!("Creating private gateway {address} of VPC {}", vpc.name),
    })
}

pub async fn create_run(
    st: &State,
    ctx: &OpContext,
    _args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let id: Uuid = job.instance()?;
    let n = owned_gateway(st, ctx, "id", id).await?;
    crate::netsync::networks_changed(st, &[n.id]).await?;
    Ok(json!({ "privategateway": views(st, &[n]).await?.remove(0) }))
}

pub(crate) async fn views(st: &State, rows: &[NetworkRow]) -> AppResult<Vec<Value>> {
    let mut out = Vec::new();
    let zones =
        crate::handlers::zones::names(st, db::Infra::Zone, rows.iter().map(|r| r.zone_id)).await?;
    for n in rows {
        let g = &n.attrs["privategateway"];
        let (acl_name, vpc_name) = {
            let mut c = st.store.read().await?;
            let acl = match n.acl_id {
                Some(a) => db::rule_get(&mut c, a).await?.and_then(|r| r.name),
                None => None,
            };
            let vpc = match n.vpc_id {
                Some(v) => db::vpc_get(&mut c, v).await?.map(|v| v.name),
                None => None,
            };
            (acl, vpc)
        };
        let mut v = json!({
            "id": n.id,
            "vpcid": n.vpc_id.map(|v| v.0),
            "vpcname": vpc_name,
            "ipaddress": g["ipaddress"],
            "gateway": n.gateway,
            "netmask": n.netmask,
            "vlan": n.vni.map(|v| format!("vxlan://{v}")),
            "zoneid": n.zone_id,
            "zonename": zones.get(&n.zone_id),
            "physicalnetworkid": g["physicalnetworkid"],
            "state": "Ready",
            "sourcenatsupported": g["sourcenatsupported"].as_bool().unwrap_or(false),
            "aclid": n.acl_id,
            "aclname": acl_name,
        });
        if let Some(a) = &n.account_name {
            v["account"] = json!(a);
        }
        if let (Some(d), Some(dn)) = (n.domain_id, &n.domain_name) {
            v["domainid"] = json!(d);
            v["domain"] = json!(dn);
        }
        out.push(v);
    }
    Ok(out)
}

pub async fn list(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let mut f = db::NetworkFilter {
        scope: Some(crate::access::owner_scope(st, ctx, args).await?),
        guest_type: Some(GUEST_TYPE.into()),
        ..Default::default()
    };
    f.ids.extend(args.id::<model::NetworkId>("id"));
    f.vpc_ids.extend(args.id::<VpcId>("vpcid"));
    let mut rows = {
        let mut c = st.store.read().await?;
        db::network_list(&mut c, &f).await?.0
    };
    rows.retain(|n| n.vpc_id.is_some());
    if let Some(a) = args.text("ipaddress") {
        rows.retain(|n| n.attrs["privategateway"]["ipaddress"].as_str() == Some(a.trim()));
    }
    if let Some(v) = args.text("vlan") {
        let want = crate::handlers::networks::parse_vni(v)?;
        rows.retain(|n| n.vni == Some(want));
    }
    if let Some(s) = args.text("state") {
        if !s.eq_ignore_ascii_case("Ready") {
            rows.clear();
        }
    }
    let total = rows.len() as u64;
    let rows = args.page.slice(rows);
    Ok(list_body("privategateway", total, views(st, &rows).await?))
}

/// The VPC's static routes through this gateway.
async fn routes_through(st: &State, n: &NetworkRow) -> AppResult<Vec<db::RuleRow>> {
    let Some(vpc) = n.vpc_id else {
        return Ok(Vec::new());
    };
    let mut c = st.store.read().await?;
    let rows = db::rule_list(
        &mut c,
        &db::RuleFilter {
            kinds: vec!["route"],
            network_ids: vec![model::NetworkId(vpc.0)],
            ..Default::default()
        },
    )
    .await?
    .0;
    Ok(rows
        .into_iter()
        .filter(|r| matches!(&r.spec, db::RuleSpec::Route(s) if s.gatewayid == Some(n.id.0)))
        .collect())
}

pub async fn delete_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let n = owned_gateway(st, ctx, "id", args.required_id("id")?).await?;
    let routes = routes_through(st, &n).await?;
    if !routes.is_empty() {
        return Err(ApiError::new(
            api::ErrorCode::ResourceInUse,
            format!(
                "Can't delete private gateway {}: {} static route(s) go through it (deleteStaticRoute first)",
                n.attrs["privategateway"]["ipaddress"].as_str().unwrap_or_default(),
                routes.len()
            ),
        )
        .into());
    }
    Ok(JobPlan {
        instance_type: Some("PrivateGateway"),
        instance_id: Some(n.id.to_string()),
        returns_id: false,
        description: "Deleting a private gateway".into(),
    })
}

pub async fn delete_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    _job: &JobRef,
) -> AppResult<Value> {
    let Ok(n) = owned_gateway(st, ctx, "id", args.required_id("id")?).await else {
        return Ok(success_body());
    };
    let hosts = crate::netsync::hosts_of_networks(st, &[n.id]).await?;
    let mut tx = st.store.begin().await?;
    db::network_remove(&mut tx, n.id).await?;
    Event::new(
        ctx,
        "PRIVATE.GATEWAY.DELETE",
        format!("Private gateway {} deleted", n.name),
    )
    .resource(n.id.0, "PrivateGateway", Some(&n.name))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    crate::netsync::request(st, hosts, false).await;
    Ok(success_body())
}

/// Removes a deleted VPC's private gateways, and the rules kept under the VPC's id (static
/// routes, a remote-access VPN on its address, rules of addresses not yet on a tier).
pub(crate) async fn remove_all(tx: &mut db::Conn, vpc: VpcId) -> AppResult<()> {
    let gws = db::network_list(
        tx,
        &db::NetworkFilter {
            vpc_ids: vec![vpc],
            guest_type: Some(GUEST_TYPE.into()),
            ..Default::default()
        },
    )
    .await?
    .0;
    for g in gws {
        db::network_remove(tx, g.id).await?;
    }
    let routes = db::rule_list(
        tx,
        &db::RuleFilter {
            kinds: vec!["route", "vpn", "firewall", "portforward", "ipforward", "lb"],
            network_ids: vec![model::NetworkId(vpc.0)],
            ..Default::default()
        },
    )
    .await?
    .0;
    for r in routes {
        db::rule_remove(tx, db::RuleOwner::Parent, r.id).await?;
        db::rule_remove(tx, db::RuleOwner::Id, r.id).await?;
    }
    Ok(())
}
