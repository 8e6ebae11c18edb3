//! Virtual routers (a network namespace per isolated network — and per shared network, for
//! DHCP and DNS — on one host of the zone; the host's agent builds it from the compiled
//! configuration) and the static routes on them. Modules: `placement` (where routers run and
//! their addresses), `routes` (static routes); here the router commands and views.
//!
//! listRouters, startRouter, stopRouter, rebootRouter, destroyRouter; createStaticRoute,
//! listStaticRoutes, deleteStaticRoute (Canopy's extension: per guest network, with a next
//! hop, an interface and a metric).

use api::{list_body, ApiError, Args};
use db::{Infra, RouterRow};
use model::identity::display_domain_path;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::context::OpContext;
use crate::error::{param_err, AppError, AppResult};
use crate::events::Event;
use crate::jobs::{JobPlan, JobRef};
use crate::state::State;

mod placement;
mod routes;

use placement::choose_host;
pub(crate) use placement::of_network;
pub use placement::{ensure_router, ensure_vpc_router, host_failed};
pub use routes::{
    create_route_prepare, create_route_run, delete_route_prepare, delete_route_run, list_routes,
};

async fn view(st: &State, routers: &[RouterRow]) -> AppResult<Vec<Value>> {
    let zones = super::zones::names(st, Infra::Zone, routers.iter().map(|r| r.zone_id)).await?;
    let mut c = st.store.read().await?;
    // The upstream resolvers the routers forward to: their zone's dns1/dns2.
    let mut dns: std::collections::HashMap<Uuid, (Option<String>, Option<String>)> =
        std::collections::HashMap::new();
    for z in routers.iter().map(|r| r.zone_id) {
        if let std::collections::hash_map::Entry::Vacant(e) = dns.entry(z) {
            if let Some(row) = db::infra_get(&mut c, Infra::Zone, z).await? {
                e.insert((
                    super::zones::attr_str(&row, "dns1"),
                    super::zones::attr_str(&row, "dns2"),
                ));
            }
        }
    }
    let mut out = Vec::new();
    for r in routers {
        let net = db::network_get(&mut c, r.network_id).await?;
        let host = match r.host_id {
            Some(h) => db::host_get(&mut c, h).await?,
            None => None,
        };
        let ip = match r.public_ip_id {
            Some(p) => db::public_ip_get(&mut c, p).await?,
            None => None,
        };
        let mut v = json!({
            "id": r.id,
            "name": r.name,
            "state": r.state,
            "zoneid": r.zone_id,
            "role": "VIRTUAL_ROUTER",
            "redundantstate": "UNKNOWN",
            "isredundantrouter": false,
            "requiresupgrade": false,
            "version": "canopy-1",
            "softwareversion": "canopy-1",
            "hypervisor": host.as_ref().map(|h| h.hypervisor.clone()).unwrap_or_else(|| "Simulator".into()),
            "linklocalip": r.link_local_ip,
            "linklocalnetmask": "255.255.0.0",
            "created": api::time::format_ms(r.created),
            "healthcheckresults": [],
        });
        if let Some(z) = zones.get(&r.zone_id) {
            v["zonename"] = json!(z);
        }
        if let Some((d1, d2)) = dns.get(&r.zone_id) {
            if let Some(d) = d1.as_ref().filter(|d| !d.is_empty()) {
                v["dns1"] = json!(d);
            }
            if let Some(d) = d2.as_ref().filter(|d| !d.is_empty()) {
                v["dns2"] = json!(d);
            }
        }
        if let Some(h) = &host {
            v["hostid"] = json!(h.id);
            v["hostname"] = json!(h.name);
            v["podid"] = json!(h.pod_id);
        }
        let mut nics = vec![json!({
            "id": Uuid::new_v5(&r.id, b"control"),
            "traffictype": "Control",
            "ipaddress": r.link_local_ip,
            "netmask": "255.255.0.0",
            "isdefault": false,
            "type": "Control",
        })];
        if r.vpc_id.is_none() {
            v["guestnetworkid"] = json!(r.network_id);
        }
        if let Some(vpc) = r.vpc_id {
            // A VPC's router: a guest NIC on each implemented tier (its gateway).
            v["vpcid"] = json!(vpc);
            if let Some(p) = db::vpc_get(&mut c, vpc).await? {
                v["vpcname"] = json!(p.name);
                if let Some(d) = &p.network_domain {
                    v["networkdomain"] = json!(d);
                }
            }
            let tiers = db::network_list(
                &mut c,
                &db::NetworkFilter {
                    vpc_ids: vec![vpc],
                    ..Default::default()
                },
            )
            .await?
            .0;
            for t in tiers.iter().filter(|t| t.vni.is_some()) {
                nics.push(json!({
                    "id": Uuid::new_v5(&r.id, t.id.0.as_bytes()),
                    "networkid": t.id,
                    "networkname": t.name,
                    "traffictype": "Guest",
                    "type": t.guest_type,
                    "ipaddress": t.gateway,
                    "macaddress": netplan::vpc::tier_mac(r.id, t.id.0),
                    "netmask": t.netmask,
                    "isdefault": false,
                    "broadcasturi": t.vni.map(|x| format!("vxlan://{x}")),
                }));
            }
        }
        if let Some(n) = &net {
            v["guestnetworkname"] = json!(n.name);
            if let Some(d) = &n.network_domain {
                v["networkdomain"] = json!(d);
            }
            if let Some(g) = &r.guest_ip {
                v["guestipaddress"] = json!(g);
                v["guestmacaddress"] = json!(r.guest_mac);
                if let Some(m) = &n.netmask {
                    v["guestnetmask"] = json!(m);
                }
                nics.push(json!({
                    "id": Uuid::new_v5(&r.id, b"guest"),
                    "networkid": n.id,
                    "networkname": n.name,
                    "traffictype": "Guest",
                    "type": n.guest_type,
                    "ipaddress": g,
                    "macaddress": r.guest_mac,
                    "netmask": n.netmask,
                    "isdefault": false,
                    "broadcasturi": n.vni.map(|x| format!("vxlan://{x}")),
                }));
            }
        }
        if let Some(p) = &ip {
            v["publicip"] = json!(p.address);
            v["publicmacaddress"] = json!(r.public_mac);
            v["publicnetmask"] = json!(p.netmask);
            v["gateway"] = json!(p.gateway);
            nics.push(json!({
                "id": Uuid::new_v5(&r.id, b"public"),
                "traffictype": "Public",
                "type": "Public",
                "ipaddress": p.address,
                "macaddress": r.public_mac,
                "netmask": p.netmask,
                "gateway": p.gateway,
                "isdefault": true,
                "broadcasturi": p.vlan.clone().unwrap_or_else(|| "vlan://untagged".into()),
            }));
        }
        v["nic"] = json!(nics);
        if let Some(a) = &r.account_name {
            v["account"] = json!(a);
        }
        if let (Some(d), Some(dn)) = (r.domain_id, &r.domain_name) {
            v["domainid"] = json!(d);
            v["domain"] = json!(dn);
            v["domainpath"] = json!(display_domain_path(r.domain_path.as_deref().unwrap_or("/")));
        }
        out.push(v);
    }
    Ok(out)
}

pub async fn list(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    list_for_vpcs(st, ctx, args, Vec::new()).await
}

/// listRouters, narrowed to the routers of `vpcs` when it is not empty (which replaces
/// `vpcid`: the caller has applied it).
pub(crate) async fn list_for_vpcs(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    vpcs: Vec<model::VpcId>,
) -> AppResult<Value> {
    let scope = crate::access::owner_scope(st, ctx, args).await?;
    let scope =
        if args.text("account").is_none() && args.uuid("domainid").is_none() && ctx.is_root_admin()
        {
            db::OwnerScope::All
        } else {
            scope
        };
    let mut f = db::RouterFilter {
        vpc_ids: if vpcs.is_empty() {
            args.id::<model::VpcId>("vpcid").into_iter().collect()
        } else {
            vpcs
        },
        for_vpc: args.bool("forvpc"),
        scope: Some(scope),
        zone_id: args.uuid("zoneid"),
        state: args.text("state").map(str::to_string),
        name: args.text("name").map(str::to_string),
        offset: args.page.offset,
        limit: args.page.limit,
        ..Default::default()
    };
    f.ids.extend(args.uuid("id"));
    f.network_ids
        .extend(args.id::<model::NetworkId>("networkid"));
    f.host_ids.extend(args.uuid("hostid").map(model::HostId));
    let (rows, total) = {
        let mut c = st.store.read().await?;
        db::router_list(&mut c, &f).await?
    };
    Ok(list_body("router", total, view(st, &rows).await?))
}

pub(crate) async fn get(st: &State, id: Uuid) -> AppResult<RouterRow> {
    router_get(st, id).await
}

async fn router_get(st: &State, id: Uuid) -> AppResult<RouterRow> {
    let mut c = st.store.read().await?;
    db::router_list(
        &mut c,
        &db::RouterFilter {
            ids: vec![id],
            ..Default::default()
        },
    )
    .await?
    .0
    .into_iter()
    .next()
    .ok_or_else(|| ApiError::invalid_id("id", &id.to_string()).into())
}

fn plan(r: &RouterRow, what: &str) -> JobPlan {
    JobPlan {
        instance_type: Some("DomainRouter"),
        instance_id: Some(r.id.to_string()),
        returns_id: false,
        description: format!("{what} router {}", r.name),
    }
}

async fn result(st: &State, id: Uuid) -> AppResult<Value> {
    let r = router_get(st, id).await?;
    Ok(json!({ "router": view(st, &[r]).await?.remove(0) }))
}

pub async fn start_prepare(st: &State, _ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let r = router_get(st, args.required_id("id")?).await?;
    Ok(plan(&r, "Starting"))
}

pub async fn start_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    _job: &JobRef,
) -> AppResult<Value> {
    let r = router_get(st, args.required_id("id")?).await?;
    if !(r.state == model::VmState::Running && r.host_id.is_some()) {
        let host = choose_host(st, r.zone_id, r.network_id.into(), &[]).await?;
        let mut tx = st.store.begin().await?;
        db::router_set(&mut tx, r.id, model::VmState::Running, Some(host)).await?;
        Event::new(ctx, "ROUTER.START", format!("Router {} started", r.name))
            .resource(r.id, "DomainRouter", Some(&r.name))
            .record(&mut tx)
            .await?;
        tx.commit().await?;
        crate::netsync::networks_changed(st, &[r.network_id]).await?;
    }
    result(st, r.id).await
}

pub async fn stop_prepare(st: &State, _ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let r = router_get(st, args.required_id("id")?).await?;
    Ok(plan(&r, "Stopping"))
}

pub async fn stop_run(st: &State, ctx: &OpContext, args: &Args, _job: &JobRef) -> AppResult<Value> {
    let r = router_get(st, args.required_id("id")?).await?;
    if r.state != model::VmState::Stopped {
        let mut hosts = crate::netsync::hosts_of_networks(st, &[r.network_id]).await?;
        let mut tx = st.store.begin().await?;
        db::router_set(&mut tx, r.id, model::VmState::Stopped, None).await?;
        Event::new(ctx, "ROUTER.STOP", format!("Router {} stopped", r.name))
            .resource(r.id, "DomainRouter", Some(&r.name))
            .record(&mut tx)
            .await?;
        tx.commit().await?;
        hosts.extend(r.host_id);
        crate::netsync::request(st, hosts, false).await;
    }
    result(st, r.id).await
}

pub async fn reboot_prepare(st: &State, _ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let r = router_get(st, args.required_id("id")?).await?;
    if r.state != model::VmState::Running {
        return param_err(format!(
            "Router {} is in state {}: only a Running router can be rebooted",
            r.name, r.state
        ));
    }
    Ok(plan(&r, "Rebooting"))
}

/// A reboot rebuilds the router's namespace from the compiled state on its host.
pub async fn reboot_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    _job: &JobRef,
) -> AppResult<Value> {
    let r = router_get(st, args.required_id("id")?).await?;
    if let Some(h) = r.host_id {
        // Down, then up again: the host tears the namespace (and its daemons) down, then
        // builds it anew from the compiled state.
        for (state, force) in [
            (model::VmState::Stopped, false),
            (model::VmState::Running, true),
        ] {
            let mut tx = st.store.begin().await?;
            db::router_set(&mut tx, r.id, state, Some(h)).await?;
            tx.commit().await?;
            crate::netsync::request(st, [h], force).await;
        }
    }
    let mut tx = st.store.begin().await?;
    Event::new(ctx, "ROUTER.REBOOT", format!("Router {} rebooted", r.name))
        .resource(r.id, "DomainRouter", Some(&r.name))
        .record(&mut tx)
        .await?;
    tx.commit().await?;
    result(st, r.id).await
}

pub async fn destroy_prepare(st: &State, _ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let r = router_get(st, args.required_id("id")?).await?;
    Ok(plan(&r, "Destroying"))
}

pub async fn destroy_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    _job: &JobRef,
) -> AppResult<Value> {
    let id: Uuid = args.required_id("id")?;
    let r = match router_get(st, id).await {
        Ok(r) => r,
        Err(_) => return Ok(json!({"router": {"id": id, "state": model::VmState::Destroyed}})),
    };
    let mut hosts = crate::netsync::hosts_of_networks(st, &[r.network_id]).await?;
    let v = view(st, std::slice::from_ref(&r)).await?.remove(0);
    let mut tx = st.store.begin().await?;
    db::router_remove(&mut tx, r.id).await?;
    Event::new(
        ctx,
        "ROUTER.DESTROY",
        format!("Router {} destroyed", r.name),
    )
    .resource(r.id, "DomainRouter", Some(&r.name))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    hosts.extend(r.host_id);
    crate::netsync::request(st, hosts, false).await;
    let mut v = v;
    v["state"] = json!(model::VmState::Destroyed);
    Ok(json!({ "router": v }))
}

// --- static routes -----------------------------------------------------------------------

/// getHostNetworkConfiguration (Canopy): a host's compiled data plane — bridges, VXLAN peers,
/// taps, the security-group ruleset and its routers' files — with the generation the host was
/// given and the one it acknowledged. `routerid` narrows it to one router.
pub async fn host_config(st: &State, _ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let (host, router) = match (args.uuid("hostid"), args.uuid("routerid")) {
        (Some(h), r) => (model::HostId(h), r),
        (None, Some(r)) => {
            let row = router_get(st, r).await?;
            let Some(h) = row.host_id else {
                return param_err(format!(
                    "Router {} is not on a host (state {})",
                    row.name, row.state
                ));
            };
            (h, Some(r))
        }
        (None, None) => return param_err("Please specify hostid or routerid"),
    };
    {
        let mut c = st.store.read().await?;
        if db::host_get(&mut c, host).await?.is_none() {
            return Err(ApiError::invalid_id("hostid", &host.to_string()).into());
        }
    }
    let (desired, generation) = crate::netsync::compiled_for(st, host).await?;
    let digest = desired.digest();
    let mut body = serde_json::to_value(&desired)
        .map_err(|e| AppError::Internal(format!("serialising the configuration: {e}")))?;
    if let Some(r) = router {
        if let Some(list) = body["routers"].as_array_mut() {
            list.retain(|x| x["router_id"] == json!(r));
        }
    }
    // The TLS files hold private keys: named, never shown.
    if let Some(list) = body["routers"].as_array_mut() {
        for r in list {
            if let Some(files) = r.get_mut("haproxy_files").and_then(Value::as_object_mut) {
                for v in files.values_mut() {
                    *v = json!("(a certificate with its private key: not shown)");
                }
            }
        }
    }
    body["digest"] = json!(digest);
    if let Some(g) = generation {
        body["generation"] = json!(g.generation);
        body["acknowledged"] = json!(g.acked);
        body["pushed"] = json!(g.digest == digest);
    } else {
        body["generation"] = json!(0);
        body["acknowledged"] = json!(0);
        body["pushed"] = json!(false);
    }
    Ok(json!({ "hostnetworkconfiguration": body }))
}
