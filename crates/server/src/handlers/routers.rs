//! Virtual routers (a network namespace per isolated network on one host of the zone; the
//! host's agent builds it from the compiled configuration) and the static routes on them.
//!
//! listRouters, startRouter, stopRouter, rebootRouter, destroyRouter; createStaticRoute,
//! listStaticRoutes, deleteStaticRoute (Canopy's extension: per guest network, with a next
//! hop, an interface and a metric).

use std::collections::HashMap;
use std::net::Ipv4Addr;

use api::{list_body, success_body, ApiError, Args, ErrorCode};
use db::{DbError, Infra, NetworkRow, RouterRow};
use model::identity::display_domain_path;
use rand::Rng;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::context::OpContext;
use crate::error::{param_err, AppError, AppResult};
use crate::events::Event;
use crate::jobs::{JobPlan, JobRef};
use crate::state::State;

/// Hosts that can run routers: Up, Enabled, with an agent whose drivers run guests.
async fn candidate_hosts(st: &State, zone: Uuid) -> AppResult<Vec<db::HostRow>> {
    let mut c = st.store.read().await?;
    let hosts = db::host_list(
        &mut c,
        &db::HostFilter {
            zone_id: Some(zone),
            status: Some("Up".into()),
            resource_state: Some("Enabled".into()),
            ..Default::default()
        },
    )
    .await?
    .0;
    Ok(hosts
        .into_iter()
        .filter(|h| {
            h.inventory["capabilities"]
                .as_array()
                .is_some_and(|c| c.iter().any(|x| x == "vms"))
        })
        .collect())
}

/// The host for a network's router: the candidate with the fewest routers (ties broken by a
/// hash of network and host, so routers spread), never one in `avoid`.
async fn choose_host(st: &State, zone: Uuid, network: Uuid, avoid: &[Uuid]) -> AppResult<Uuid> {
    let hosts = candidate_hosts(st, zone).await?;
    let routers = {
        let mut c = st.store.read().await?;
        db::router_list(
            &mut c,
            &db::RouterFilter {
                zone_id: Some(zone),
                ..Default::default()
            },
        )
        .await?
        .0
    };
    let mut load: HashMap<Uuid, usize> = HashMap::new();
    for r in routers.iter().filter_map(|r| r.host_id) {
        *load.entry(r).or_default() += 1;
    }
    let mix = |h: Uuid| {
        let (a, b) = (network.as_u128(), h.as_u128());
        netplan::digest(&(a ^ b).to_le_bytes())
    };
    hosts
        .iter()
        .filter(|h| !avoid.contains(&h.id))
        .min_by_key(|h| (load.get(&h.id).copied().unwrap_or(0), mix(h.id)))
        .map(|h| h.id)
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::InsufficientCapacity,
                "Unable to place the virtual router: no host in the zone is Up and Enabled"
                    .to_string(),
            )
            .into()
        })
}

fn random_mac() -> String {
    netplan::ipam::mac_from(rand::thread_rng().gen())
}

/// The network's source-NAT address: the one it has, else a free public address claimed for
/// it (ranges dedicated to its account first).
pub(crate) async fn source_nat_ip(st: &State, n: &NetworkRow) -> AppResult<Option<Uuid>> {
    let off = super::networks::offering_of(st, n).await?;
    if !super::networks::has_service(n, off.as_ref(), "SourceNat") {
        return Ok(None);
    }
    let (Some(acct), Some(dom)) = (n.account_id, n.domain_id) else {
        return Ok(None);
    };
    {
        let mut c = st.store.read().await?;
        let have = db::public_ip_list(
            &mut c,
            &db::PublicIpFilter {
                network_id: Some(n.id),
                source_nat: Some(true),
                ..Default::default()
            },
        )
        .await?
        .0;
        if let Some(ip) = have.first() {
            return Ok(Some(ip.id));
        }
    }
    for _ in 0..8 {
        let free = {
            let mut c = st.store.read().await?;
            db::public_ip_free(&mut c, n.zone_id, acct, 8).await?
        };
        if free.is_empty() {
            return Err(ApiError::new(
                ErrorCode::InsufficientCapacity,
                format!(
                    "Insufficient address capacity: no free public IP address in the zone for the source NAT of network {} (add one with createVlanIpRange)",
                    n.name
                ),
            )
            .into());
        }
        let (id, addr) = free[rand::thread_rng().gen_range(0..free.len())].clone();
        let mut tx = st.store.begin().await?;
        if db::public_ip_claim(&mut tx, id, acct, dom, Some(n.id), true, "Allocated").await? {
            tx.commit().await?;
            tracing::info!(network = %n.id, ip = %addr, "source NAT address acquired");
            return Ok(Some(id));
        }
    }
    Err(AppError::Internal(format!(
        "could not claim a source NAT address for network {} after 8 attempts",
        n.id
    )))
}

/// The routers of a network.
pub(crate) async fn of_network(st: &State, network: Uuid) -> AppResult<Vec<RouterRow>> {
    let mut c = st.store.read().await?;
    Ok(db::router_list(
        &mut c,
        &db::RouterFilter {
            network_ids: vec![network],
            ..Default::default()
        },
    )
    .await?
    .0)
}

/// Makes sure a network (isolated, or shared with addresses) has a running router
/// (idempotent).
pub async fn ensure_router(st: &State, n: &NetworkRow) -> AppResult<()> {
    let existing = of_network(st, n.id).await?;
    if let Some(r) = existing.into_iter().next() {
        if r.state == "Running" && r.host_id.is_some() {
            return Ok(());
        }
        let host = choose_host(st, n.zone_id, n.id, &[]).await?;
        let mut tx = st.store.begin().await?;
        db::router_set(&mut tx, r.id, "Running", Some(host)).await?;
        tx.commit().await?;
        return Ok(());
    }
    let public = source_nat_ip(st, n).await?;
    let host = choose_host(st, n.zone_id, n.id, &[]).await?;
    // An isolated network's router is its gateway; a shared network's (DHCP and DNS only)
    // takes the highest free address of its range, VMs take the lowest.
    let guest_ip = if n.guest_type == "Shared" {
        Some(shared_router_ip(st, n).await?.to_string())
    } else {
        n.gateway.clone()
    };
    let id = Uuid::new_v4();
    let b = id.as_bytes();
    let row = RouterRow {
        id,
        name: format!("r-{}-VM", &id.simple().to_string()[..8]),
        network_id: n.id,
        zone_id: n.zone_id,
        account_id: n.account_id,
        account_name: None,
        domain_id: n.domain_id,
        domain_name: None,
        domain_path: None,
        host_id: Some(host),
        state: "Running".into(),
        guest_ip,
        guest_mac: random_mac(),
        public_ip_id: public,
        public_mac: random_mac(),
        link_local_ip: Ipv4Addr::new(169, 254, b[14].max(1), b[15].max(2)).to_string(),
        created: 0,
    };
    let mut tx = st.store.begin().await?;
    match db::router_insert(&mut tx, &row).await {
        Ok(()) => {
            tx.commit().await?;
            tracing::info!(network = %n.id, router = %row.name, %host, "virtual router placed");
            Ok(())
        }
        // A concurrent implement placed it.
        Err(DbError::Conflict(_)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

async fn shared_router_ip(st: &State, n: &NetworkRow) -> AppResult<Ipv4Addr> {
    let ranges = super::networks::nic_ranges(st, n).await?;
    let used: std::collections::BTreeSet<u32> = {
        let mut c = st.store.read().await?;
        db::nic_ips(&mut c, n.id)
            .await?
            .iter()
            .filter_map(|a| a.parse::<Ipv4Addr>().ok())
            .map(u32::from)
            .collect()
    };
    let gateway = n
        .gateway
        .as_deref()
        .and_then(|g| g.parse::<Ipv4Addr>().ok())
        .map(u32::from);
    ranges
        .iter()
        .rev()
        .flat_map(|(f, l)| (*f..=*l).rev())
        .find(|a| !used.contains(a) && Some(*a) != gateway)
        .map(Ipv4Addr::from)
        .ok_or_else(|| {
            api::ApiError::new(
                api::ErrorCode::InsufficientCapacity,
                format!(
                    "Insufficient address capacity: network {} has no free address for its DHCP router",
                    n.name
                ),
            )
            .into()
        })
}

/// A host failed: its routers move to other hosts of the zone and are rebuilt there.
pub async fn host_failed(st: &State, host: Uuid) -> AppResult<usize> {
    let routers = {
        let mut c = st.store.read().await?;
        db::router_list(
            &mut c,
            &db::RouterFilter {
                host_ids: vec![host],
                ..Default::default()
            },
        )
        .await?
        .0
    };
    let mut moved = 0;
    let mut nets = Vec::new();
    for r in routers.into_iter().filter(|r| r.state == "Running") {
        match choose_host(st, r.zone_id, r.network_id, &[host]).await {
            Ok(to) => {
                let mut tx = st.store.begin().await?;
                db::router_set(&mut tx, r.id, "Running", Some(to)).await?;
                tx.commit().await?;
                tracing::warn!(router = %r.name, from = %host, %to, "virtual router re-placed after its host failed");
                moved += 1;
                nets.push(r.network_id);
            }
            Err(e) => {
                tracing::error!(router = %r.name, error = %e, "no host to re-place the virtual router on");
                let mut tx = st.store.begin().await?;
                db::router_set(&mut tx, r.id, "Stopped", None).await?;
                tx.commit().await?;
            }
        }
    }
    if !nets.is_empty() {
        crate::netsync::networks_changed(st, &nets).await?;
    }
    Ok(moved)
}

async fn view(st: &State, routers: &[RouterRow]) -> AppResult<Vec<Value>> {
    let zones = super::zones::names(st, Infra::Zone, routers.iter().map(|r| r.zone_id)).await?;
    let mut c = st.store.read().await?;
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
            "guestnetworkid": r.network_id,
            "created": api::time::format_ms(r.created),
            "healthcheckresults": [],
        });
        if let Some(z) = zones.get(&r.zone_id) {
            v["zonename"] = json!(z);
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
    let scope = crate::access::owner_scope(st, ctx, args).await?;
    let scope =
        if args.text("account").is_none() && args.uuid("domainid").is_none() && ctx.is_root_admin()
        {
            db::OwnerScope::All
        } else {
            scope
        };
    if args.flag("forvpc") || args.uuid("vpcid").is_some() {
        return Ok(list_body("router", 0, Vec::new()));
    }
    let mut f = db::RouterFilter {
        scope: Some(scope),
        zone_id: args.uuid("zoneid"),
        state: args.text("state").map(str::to_string),
        name: args.text("name").map(str::to_string),
        offset: args.page.offset,
        limit: args.page.limit,
        ..Default::default()
    };
    f.ids.extend(args.uuid("id"));
    f.network_ids.extend(args.uuid("networkid"));
    f.host_ids.extend(args.uuid("hostid"));
    let (rows, total) = {
        let mut c = st.store.read().await?;
        db::router_list(&mut c, &f).await?
    };
    Ok(list_body("router", total, view(st, &rows).await?))
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
    if !(r.state == "Running" && r.host_id.is_some()) {
        let host = choose_host(st, r.zone_id, r.network_id, &[]).await?;
        let mut tx = st.store.begin().await?;
        db::router_set(&mut tx, r.id, "Running", Some(host)).await?;
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
    if r.state != "Stopped" {
        let mut hosts = crate::netsync::hosts_of_networks(st, &[r.network_id]).await?;
        let mut tx = st.store.begin().await?;
        db::router_set(&mut tx, r.id, "Stopped", None).await?;
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
    if r.state != "Running" {
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
        for (state, force) in [("Stopped", false), ("Running", true)] {
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
        Err(_) => return Ok(json!({"router": {"id": id, "state": "Destroyed"}})),
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
    v["state"] = json!("Destroyed");
    Ok(json!({ "router": v }))
}

// --- static routes -----------------------------------------------------------------------

pub(crate) fn route_view(r: &db::RuleRow) -> Value {
    let mut v = json!({
        "id": r.id,
        "cidr": r.spec["cidr"],
        "metric": r.spec["metric"],
        "state": r.state,
        "networkid": r.network_id,
        "tags": [],
    });
    for k in ["nexthop", "interface"] {
        if let Some(x) = r.spec[k].as_str() {
            v[k] = json!(x);
        }
    }
    super::netrules::owner_fields(&mut v, r);
    v
}

pub async fn create_route_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    if args.uuid("vpcid").is_some() || args.uuid("gatewayid").is_some() {
        return param_err("VPCs and private gateways are not supported: give networkid (a guest network with a virtual router)");
    }
    let Some(net) = args.uuid("networkid") else {
        return param_err(
            "Please specify networkid: the guest network whose router gets the route",
        );
    };
    let n = super::networks::owned_network(st, ctx, "networkid", net).await?;
    if n.guest_type != "Isolated" {
        return param_err(format!(
            "Network {} has no virtual router: static routes go on isolated networks",
            n.name
        ));
    }
    let dest: netplan::Cidr = args.required_str("cidr")?.parse().map_err(|_| {
        ApiError::param(format!("Invalid cidr {}", args.text("cidr").unwrap_or("")))
    })?;
    let nexthop =
        match args.text("nexthop") {
            Some(h) => Some(h.trim().parse::<Ipv4Addr>().map_err(|_| {
                ApiError::param(format!("Invalid nexthop {h}: not an IPv4 address"))
            })?),
            None => None,
        };
    let iface = match args.text("interface") {
        Some(i) if i.eq_ignore_ascii_case("guest") => Some("guest"),
        Some(i) if i.eq_ignore_ascii_case("public") => Some("public"),
        Some(i) => return param_err(format!("Invalid interface {i}: use guest or public")),
        None => None,
    };
    if nexthop.is_none() && iface.is_none() {
        return param_err("Give nexthop, interface, or both");
    }
    let guest: Option<netplan::Cidr> = n.cidr.as_deref().and_then(|c| c.parse().ok());
    if let (Some(h), Some(g)) = (nexthop, guest) {
        if iface.unwrap_or("guest") == "guest" && !g.contains(h) {
            return param_err(format!(
                "The next hop {h} is not in the network's CIDR {g}: give interface=public for a next hop on the public side"
            ));
        }
    }
    let metric = args.int("metric").unwrap_or(0);
    if !(0..=i64::from(u32::MAX)).contains(&metric) {
        return param_err("metric must be between 0 and 4294967295");
    }
    let existing = {
        let mut c = st.store.read().await?;
        db::rule_list(
            &mut c,
            &db::RuleFilter {
                kinds: vec!["route"],
                network_ids: vec![n.id],
                ..Default::default()
            },
        )
        .await?
        .0
    };
    let same = existing.iter().any(|r| {
        r.spec["cidr"].as_str() == Some(&dest.to_string())
            && r.spec["nexthop"].as_str().map(str::to_string) == nexthop.map(|h| h.to_string())
            && r.spec["metric"].as_i64() == Some(metric)
    });
    if same {
        return param_err(format!(
            "A static route to {dest} via {} with metric {metric} already exists",
            nexthop
                .map(|h| h.to_string())
                .unwrap_or_else(|| "the interface".into())
        ));
    }
    let id = Uuid::new_v4();
    let mut spec = json!({"cidr": dest.to_string(), "metric": metric});
    if let Some(h) = nexthop {
        spec["nexthop"] = json!(h.to_string());
    }
    if let Some(i) = iface {
        spec["interface"] = json!(i);
    }
    let mut tx = st.store.begin().await?;
    db::rule_insert(
        &mut tx,
        &db::NewRule {
            id,
            kind: "route",
            name: None,
            state: "Staged",
            account_id: n.account_id,
            domain_id: n.domain_id,
            network_id: Some(n.id),
            ip_id: None,
            parent_id: None,
            spec,
        },
    )
    .await?;
    Event::new(
        ctx,
        "STATIC.ROUTE.CREATE",
        format!("Static route to {dest} on network {}", n.name),
    )
    .resource(id, "StaticRoute", None)
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(JobPlan {
        instance_type: Some("StaticRoute"),
        instance_id: Some(id.to_string()),
        returns_id: true,
        description: format!("Adding a static route to {dest}"),
    })
}

pub async fn create_route_run(
    st: &State,
    _ctx: &OpContext,
    _args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let id: Uuid = job.instance()?;
    let r = super::netrules::activate(st, id).await?;
    Ok(json!({ "staticroute": route_view(&r) }))
}

pub async fn list_routes(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    if args.uuid("vpcid").is_some() || args.uuid("gatewayid").is_some() {
        return Ok(list_body("staticroute", 0, Vec::new()));
    }
    let mut f = db::RuleFilter::kind("route");
    f.scope = Some(crate::access::owner_scope(st, ctx, args).await?);
    f.ids.extend(args.uuid("id"));
    f.network_ids.extend(args.uuid("networkid"));
    f.offset = args.page.offset;
    f.limit = args.page.limit;
    let (rows, total) = {
        let mut c = st.store.read().await?;
        db::rule_list(&mut c, &f).await?
    };
    let rows: Vec<_> = match args.text("state") {
        Some(s) => rows
            .into_iter()
            .filter(|r| r.state.eq_ignore_ascii_case(s))
            .collect(),
        None => rows,
    };
    Ok(list_body(
        "staticroute",
        total,
        rows.iter().map(route_view).collect(),
    ))
}

pub async fn delete_route_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let r = super::netrules::owned_rule(st, ctx, "id", args.required_id("id")?, &["route"]).await?;
    Ok(JobPlan {
        instance_type: Some("StaticRoute"),
        instance_id: Some(r.id.to_string()),
        returns_id: false,
        description: "Deleting a static route".into(),
    })
}

pub async fn delete_route_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    _job: &JobRef,
) -> AppResult<Value> {
    super::netrules::revoke(st, ctx, args.required_id("id")?, &["route"]).await?;
    Ok(success_body())
}

/// getHostNetworkConfiguration (Canopy): a host's compiled data plane — bridges, VXLAN peers,
/// taps, the security-group ruleset and its routers' files — with the generation the host was
/// given and the one it acknowledged. `routerid` narrows it to one router.
pub async fn host_config(st: &State, _ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let (host, router) = match (args.uuid("hostid"), args.uuid("routerid")) {
        (Some(h), r) => (h, r),
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
