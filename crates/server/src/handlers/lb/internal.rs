//! Internal load balancers (CloudStack's application load balancers, `scheme=Internal`):
//! haproxy on the VPC router answers on a source address of a tier — reserved against the
//! tier's NIC addresses (`db::nic_reserve`), taken by the router as its own — and spreads TCP
//! connections over VMs of the rule's tier; reachable only from inside the VPC, through the
//! tiers' network ACLs. `createLoadBalancer`, `listLoadBalancers`, `deleteLoadBalancer`;
//! members come and go with `assignToLoadBalancerRule` / `removeFromLoadBalancerRule`.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use api::{list_body, success_body, ApiError, Args};
use db::rulespec::InternalLbSpec;
use db::{DbError, RuleRow, RuleSpec};
use rand::Rng;
use serde_json::{json, Value};
use uuid::Uuid;

use super::super::netrules::{activate, owned_rule, owner_fields, revoke};
use crate::context::OpContext;
use crate::error::{param_err, AppResult};
use crate::jobs::{JobPlan, JobRef};
use crate::state::State;

/// The rule kind.
pub(crate) const KIND: &str = db::rulespec::kind::INTERNAL_LB;

fn plan(id: Uuid, what: String, creates: bool) -> JobPlan {
    JobPlan {
        instance_type: Some("LoadBalancerRule"),
        instance_id: Some(id.to_string()),
        returns_id: creates,
        description: what,
    }
}

fn port(args: &Args, k: &str) -> AppResult<i64> {
    match args.int(k) {
        Some(p) if (1..=65535).contains(&p) => Ok(p),
        Some(p) => param_err(format!("Invalid {k} {p}: ports are between 1 and 65535")),
        None => param_err(format!("Please specify {k}")),
    }
}

/// The tier's usable addresses, highest first (VMs take the lowest: the two rarely meet).
async fn candidates(st: &State, n: &db::NetworkRow) -> AppResult<Vec<Ipv4Addr>> {
    let ranges = super::super::networks::nic_ranges(st, n).await?;
    let used: BTreeSet<Ipv4Addr> = {
        let mut c = st.store.read().await?;
        db::nic_ips(&mut c, n.id)
            .await?
            .into_iter()
            .filter_map(|a| a.parse().ok())
            .collect()
    };
    let gateway: Option<Ipv4Addr> = n.gateway.as_deref().and_then(|g| g.parse().ok());
    // A shared network's DHCP router holds one of its addresses too.
    let routers: BTreeSet<Ipv4Addr> = crate::handlers::routers::of_network(st, n.id)
        .await?
        .iter()
        .filter_map(|r| r.guest_ip.as_deref()?.parse().ok())
        .collect();
    let mut out = Vec::new();
    for (f, l) in ranges.iter().rev() {
        let mut a = *l;
        while a >= *f && out.len() < 16 {
            let ip = Ipv4Addr::from(a);
            if Some(ip) != gateway && !used.contains(&ip) && !routers.contains(&ip) {
                out.push(ip);
            }
            if a == 0 {
                break;
            }
            a -= 1;
        }
    }
    Ok(out)
}

/// Reserves `want` (or the highest free address) of tier `n` for load balancer `owner`.
async fn reserve(
    st: &State,
    n: &db::NetworkRow,
    want: Option<Ipv4Addr>,
    owner: Uuid,
) -> AppResult<Ipv4Addr> {
    reserve_as(st, n, want, owner, (Uuid::new_v4(), db::RESERVED)).await
}

/// Reserves `want` (or the highest free address) of network `n` for `owner` as a NIC row of
/// this (id, kind): an internal load balancer's address, or a NIC's secondary address. The
/// unique live (network, address) index keeps it from any VM's NIC, across servers.
pub(crate) async fn reserve_as(
    st: &State,
    n: &db::NetworkRow,
    want: Option<Ipv4Addr>,
    owner: Uuid,
    row: (Uuid, i64),
) -> AppResult<Ipv4Addr> {
    let tries: Vec<Ipv4Addr> = match want {
        Some(ip) => {
            let x = u32::from(ip);
            let ranges = super::super::networks::nic_ranges(st, n).await?;
            let gateway: Option<Ipv4Addr> = n.gateway.as_deref().and_then(|g| g.parse().ok());
            if !ranges.iter().any(|(f, l)| x >= *f && x <= *l) || Some(ip) == gateway {
                return param_err(format!(
                    "IP address {ip} is not a usable address of network {} ({})",
                    n.name,
                    n.cidr.as_deref().unwrap_or("no CIDR")
                ));
            }
            vec![ip]
        }
        None => candidates(st, n).await?,
    };
    if tries.is_empty() {
        return Err(ApiError::new(
            api::ErrorCode::InsufficientCapacity,
            format!(
                "Insufficient address capacity: network {} has no free IP address",
                n.name
            ),
        )
        .into());
    }
    for ip in &tries {
        let mac = netplan::ipam::mac_from(rand::thread_rng().gen());
        let mut tx = st.store.begin().await?;
        match db::nic_reserve_as(&mut tx, row.0, row.1, n.id, &ip.to_string(), owner, &mac).await {
            Ok(()) => {
                tx.commit().await?;
                return Ok(*ip);
            }
            // A VM (or another balancer) took it meanwhile: the next one, unless asked for.
            Err(DbError::Conflict(_)) if want.is_none() => continue,
            Err(DbError::Conflict(_)) => {
                return param_err(format!(
                    "IP address {ip} is already in use in network {}",
                    n.name
                ))
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::new(
        api::ErrorCode::InsufficientCapacity,
        format!(
            "Insufficient address capacity: no free IP address could be reserved in network {}",
            n.name
        ),
    )
    .into())
}

pub async fn create_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let scheme = args.required_str("scheme")?.trim();
    if !scheme.eq_ignore_ascii_case("Internal") {
        return param_err(format!(
            "Invalid scheme {scheme}: createLoadBalancer supports the Internal scheme (public load balancers: createLoadBalancerRule)"
        ));
    }
    let name = args.required_str("name")?.trim().to_string();
    if name.is_empty() {
        return param_err("Please specify a name for the load balancer");
    }
    let algorithm = super::algorithm(args.required_str("algorithm")?)?;
    let sourceport = port(args, "sourceport")?;
    let instanceport = port(args, "instanceport")?;
    let net =
        super::super::networks::owned_network(st, ctx, "networkid", args.required_id("networkid")?)
            .await?;
    let src = super::super::networks::owned_network(
        st,
        ctx,
        "sourceipaddressnetworkid",
        args.required_id("sourceipaddressnetworkid")?,
    )
    .await?;
    let Some(vpc) = net.vpc_id else {
        return param_err(format!(
            "Internal load balancers are supported in VPC tiers only: network {} is not in a VPC",
            net.name
        ));
    };
    if src.vpc_id != Some(vpc) {
        return param_err(format!(
            "The source IP address network {} is not a tier of the VPC of network {}",
            src.name, net.name
        ));
    }
    super::super::netrules::require_service(st, net.id, "Lb").await?;
    if !balances_internally(st, &net).await? {
        return param_err(format!(
            "Network {}'s offering does not balance internally: internal load balancers need a tier whose offering's Lb provider is InternalLbVm (such as DefaultIsolatedNetworkOfferingForVpcNetworksWithInternalLB)",
            net.name
        ));
    }
    // A tier balances publicly or internally, not both (CloudStack's rule).
    let public = {
        let mut c = st.store.read().await?;
        let mut f = db::RuleFilter::kind("lb");
        f.network_ids.push(net.id);
        f.limit = Some(1);
        db::rule_list(&mut c, &f).await?.0
    };
    if !public.is_empty() {
        return param_err(format!(
            "Network {} has a public load balancer rule: a tier is load balanced publicly or internally, not both",
            net.name
        ));
    }
    let want = match args.text("sourceipaddress").map(str::trim) {
        None | Some("") => None,
        Some(a) => Some(a.parse::<Ipv4Addr>().map_err(|_| {
            ApiError::param(format!("Invalid sourceipaddress {a}: an IPv4 address"))
        })?),
    };
    // Another internal load balancer on that address and port?
    let existing = {
        let mut c = st.store.read().await?;
        let mut f = db::RuleFilter::kind(KIND);
        f.scope = None;
        db::rule_list(&mut c, &f).await?.0
    };
    if let Some(ip) = want {
        let clash = existing.iter().any(|r| match &r.spec {
            RuleSpec::InternalLb(s) => {
                s.sourceipaddressnetworkid == src.id.0
                    && s.sourceipaddress == ip.to_string()
                    && s.sourceport == sourceport
            }
            _ => false,
        });
        if clash {
            return param_err(format!(
                "An internal load balancer already listens on {ip}:{sourceport}"
            ));
        }
    }
    let id = Uuid::new_v4();
    // An address another balancer of this tier already holds is shared (another port);
    // otherwise it is reserved against the tier's VMs.
    let shared = want.filter(|ip| {
        existing.iter().any(|r| match &r.spec {
            RuleSpec::InternalLb(s) => {
                s.sourceipaddressnetworkid == src.id.0 && s.sourceipaddress == ip.to_string()
            }
            _ => false,
        })
    });
    let address = match shared {
        Some(ip) => ip,
        None => reserve(st, &src, want, id).await?,
    };
    let spec = InternalLbSpec {
        algorithm,
        sourceport,
        instanceport,
        sourceipaddress: address.to_string(),
        sourceipaddressnetworkid: src.id.0,
        description: args.text("description").unwrap_or("").to_string(),
        fordisplay: args.bool("fordisplay").unwrap_or(true),
    };
    let mut tx = st.store.begin().await?;
    let inserted = db::rule_insert(
        &mut tx,
        &db::NewRule {
            id,
            name: Some(name.clone()),
            state: model::RuleState::Add,
            account_id: net.account_id,
            domain_id: net.domain_id,
            network_id: Some(net.id),
            ip_id: None,
            parent_id: None,
            spec: RuleSpec::InternalLb(spec),
        },
    )
    .await;
    if let Err(e) = inserted {
        drop(tx);
        release(st, id).await?;
        return Err(e.into());
    }
    crate::events::Event::new(
        ctx,
        "LB.CREATE",
        format!("internal load balancer {name} on {address}:{sourceport}"),
    )
    .resource(id, "LoadBalancer", Some(&name))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(plan(
        id,
        format!("Creating internal load balancer {name}"),
        true,
    ))
}

/// Frees the source address `owner` reserved — or, when another balancer of the tier still
/// listens on it (another port), hands the reservation to that one.
async fn release(st: &State, owner: Uuid) -> AppResult<()> {
    let mut c = st.store.read().await?;
    let rows = db::rule_list(&mut c, &db::RuleFilter::kind(KIND)).await?.0;
    drop(c);
    let mine = rows.iter().find_map(|r| match &r.spec {
        RuleSpec::InternalLb(s) if r.id == owner => {
            Some((s.sourceipaddressnetworkid, s.sourceipaddress.clone()))
        }
        _ => None,
    });
    let heir = rows.iter().find(|r| {
        r.id != owner
            && matches!(&r.spec, RuleSpec::InternalLb(s)
                if mine.as_ref().is_some_and(|(n, a)| s.sourceipaddressnetworkid == *n && s.sourceipaddress == *a))
    });
    let mut tx = st.store.begin().await?;
    match heir {
        Some(h) => db::nic_transfer(&mut tx, owner, h.id).await?,
        None => db::nic_release_for_vm(&mut tx, model::VmId(owner)).await?,
    };
    tx.commit().await?;
    Ok(())
}

pub async fn create_run(
    st: &State,
    ctx: &OpContext,
    _args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let r = activate(st, job.instance()?).await?;
    Ok(json!({ "loadbalancer": views(st, ctx, &[r]).await?.remove(0) }))
}

/// The API's view: CloudStack's ApplicationLoadBalancerResponse.
pub(crate) async fn views(st: &State, ctx: &OpContext, rows: &[RuleRow]) -> AppResult<Vec<Value>> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let members = {
        let mut c = st.store.read().await?;
        db::members_of(&mut c, &ids).await?
    };
    let tags = super::super::tags::for_resources(st, &ids).await?;
    let domains: std::collections::BTreeMap<Uuid, Option<String>> = {
        let nets: BTreeSet<model::NetworkId> = rows.iter().filter_map(|r| r.network_id).collect();
        let mut out = std::collections::BTreeMap::new();
        let mut c = st.store.read().await?;
        for n in nets {
            let d = match db::network_get(&mut c, n).await? {
                Some(net) => match net.vpc_id {
                    Some(v) => db::vpc_get(&mut c, v).await?.and_then(|v| v.network_domain),
                    None => net.network_domain,
                },
                None => None,
            };
            out.insert(n.0, d);
        }
        out
    };
    let mut out = Vec::new();
    for r in rows {
        let RuleSpec::InternalLb(s) = &r.spec else {
            continue;
        };
        let mut instances = Vec::new();
        for m in members.iter().filter(|m| m.owner_id == r.id) {
            if let Ok(vm) = super::super::vms::owned(st, ctx, m.member_id.into()).await {
                instances.push(json!({
                    "id": vm.id,
                    "name": vm.name,
                    "state": vm.state.to_string(),
                    "ipaddress": m.ip,
                }));
            }
        }
        let mut v = json!({
            "id": r.id,
            "name": r.name,
            "description": s.description,
            "algorithm": s.algorithm,
            "networkid": r.network_id,
            "sourceipaddress": s.sourceipaddress,
            "sourceipaddressnetworkid": s.sourceipaddressnetworkid,
            "loadbalancerrule": [{
                "sourceport": s.sourceport,
                "instanceport": s.instanceport,
                "state": r.state.to_string(),
            }],
            "loadbalancerinstance": instances,
            "fordisplay": s.fordisplay,
            "tags": super::super::tags::embedded(&tags, r.id),
        });
        let domain = r
            .network_id
            .and_then(|n| domains.get(&n.0).cloned().flatten())
            .unwrap_or_else(|| "cs.internal".to_string());
        if let Some(label) = r.name.as_deref().and_then(netplan::dns_label) {
            v["dnsname"] = json!(format!("{label}.{domain}"));
        }
        owner_fields(&mut v, r);
        out.push(v);
    }
    Ok(out)
}

pub async fn list(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    if let Some(s) = args.text("scheme") {
        if !s.trim().eq_ignore_ascii_case("Internal") {
            return param_err(format!(
                "Invalid scheme {s}: listLoadBalancers lists the Internal scheme"
            ));
        }
    }
    let mut f = db::RuleFilter::kind(KIND);
    f.scope = Some(crate::access::owner_scope(st, ctx, args).await?);
    f.ids.extend(args.uuid("id"));
    f.network_ids
        .extend(args.id::<model::NetworkId>("networkid"));
    f.name = args.text("name").map(|n| n.trim().to_string());
    // The balancers of one VPC (a Canopy addition: the web console's VPC page asks so).
    if let Some(v) = args.id::<model::VpcId>("vpcid") {
        let tiers = crate::handlers::vpcs::tiers_of(st, v).await?;
        if tiers.is_empty() {
            return Ok(list_body("loadbalancer", 0, Vec::new()));
        }
        if f.network_ids.is_empty() {
            f.network_ids = tiers.iter().map(|t| t.id).collect();
        } else {
            f.network_ids.retain(|n| tiers.iter().any(|t| t.id == *n));
            if f.network_ids.is_empty() {
                return Ok(list_body("loadbalancer", 0, Vec::new()));
            }
        }
    }
    let mut rows = {
        let mut c = st.store.read().await?;
        db::rule_list(&mut c, &f).await?.0
    };
    let source = args.text("sourceipaddress").map(str::trim);
    let source_net = args.uuid("sourceipaddressnetworkid");
    let display = args.bool("fordisplay");
    rows.retain(|r| match &r.spec {
        RuleSpec::InternalLb(s) => {
            source.is_none_or(|a| s.sourceipaddress == a)
                && source_net.is_none_or(|n| s.sourceipaddressnetworkid == n)
                && display.is_none_or(|d| s.fordisplay == d)
        }
        _ => false,
    });
    let total = rows.len() as u64;
    let rows = args.page.slice(rows);
    Ok(list_body(
        "loadbalancer",
        total,
        views(st, ctx, &rows).await?,
    ))
}

pub async fn delete_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let r = owned_rule(st, ctx, "id", args.required_id("id")?, &[KIND]).await?;
    Ok(plan(
        r.id,
        format!(
            "Deleting internal load balancer {}",
            r.name.as_deref().unwrap_or("")
        ),
        false,
    ))
}

pub async fn delete_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    _job: &JobRef,
) -> AppResult<Value> {
    let id = args.required_id("id")?;
    // The router no longer answers on the address: the tier's VMs may take it again.
    release(st, id).await?;
    revoke(st, ctx, id, &[KIND]).await?;
    Ok(success_body())
}

/// Whether a network's offering provides Lb through InternalLbVm (CloudStack's internal load
/// balancer provider): such a tier takes internal load balancers, and no public ones.
pub(crate) async fn balances_internally(st: &State, n: &db::NetworkRow) -> AppResult<bool> {
    let off = super::super::networks::offering_of(st, n).await?;
    Ok(off.is_some_and(|o| {
        o.attrs["services"].as_array().is_some_and(|a| {
            a.iter().any(|x| {
                x["name"]
                    .as_str()
                    .is_some_and(|n| n.eq_ignore_ascii_case("Lb"))
                    && x["provider"]
                        .as_str()
                        .is_some_and(|p| p.eq_ignore_ascii_case("InternalLbVm"))
            })
        })
    }))
}

/// The internal load balancers of these networks (their tier or their source tier), for
/// refusing to delete a tier that still has some.
pub(crate) async fn on_network(st: &State, n: model::NetworkId) -> AppResult<Vec<RuleRow>> {
    let mut c = st.store.read().await?;
    let rows = db::rule_list(&mut c, &db::RuleFilter::kind(KIND)).await?.0;
    Ok(rows
        .into_iter()
        .filter(|r| {
            r.network_id == Some(n)
                || matches!(&r.spec, RuleSpec::InternalLb(s) if s.sourceipaddressnetworkid == n.0)
        })
        .collect())
}
