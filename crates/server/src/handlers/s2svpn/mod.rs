//! Site-to-site VPN (CloudStack's Site2SiteVpnManager): a VPC's VPN gateway on its source-NAT
//! address, customer gateways (the peers), and connections between the two, run by the VPC
//! router's strongSwan. All three are `net_rules`: a gateway under its VPC (`parent_id`), a
//! customer gateway named per account, a connection under its gateway. A connection's state
//! is read from its router (`Connected` once its tunnel is up) when it is made or reset, and
//! every `router.check.interval` seconds after. Here: what the three share (specs, views,
//! the routers' side: pushing, reading states, resets); the commands in `gateways`,
//! `customers` and `connections`.

use std::collections::{BTreeMap, BTreeSet};

use api::{list_body, success_body, ApiError, Args};
use db::rulespec::{kind, S2sConnectionSpec, S2sCustomerSpec, S2sGatewaySpec};
use db::{DbError, RuleRow, RuleSpec};
use model::{NetworkId, VpcId};
use serde_json::{json, Value};
use uuid::Uuid;

use super::netrules::{owned_rule, owner_fields};
use crate::context::OpContext;
use crate::error::{param_err, AppResult};
use crate::events::Event;
use crate::jobs::{JobPlan, JobRef};
use crate::state::State;

mod connections;
mod customers;
mod gateways;

pub use connections::*;
pub use customers::*;
pub use gateways::*;

const GW: &str = kind::S2S_GATEWAY;
const CUST: &str = kind::S2S_CUSTOMER;
const CONN: &str = kind::S2S_CONNECTION;

fn gw_spec(r: &RuleRow) -> S2sGatewaySpec {
    match &r.spec {
        RuleSpec::S2sGateway(s) => s.clone(),
        _ => S2sGatewaySpec::default(),
    }
}

fn cust_spec(r: &RuleRow) -> S2sCustomerSpec {
    match &r.spec {
        RuleSpec::S2sCustomer(s) => s.clone(),
        _ => S2sCustomerSpec::default(),
    }
}

fn conn_spec(r: &RuleRow) -> S2sConnectionSpec {
    match &r.spec {
        RuleSpec::S2sConnection(s) => s.clone(),
        _ => S2sConnectionSpec::default(),
    }
}

fn plan(kind: &'static str, id: Uuid, returns_id: bool, what: String) -> JobPlan {
    JobPlan {
        instance_type: Some(kind),
        instance_id: Some(id.to_string()),
        returns_id,
        description: what,
    }
}

/// The caller's `id` of `kind`, and the job plan of `verb`ing it (`instance` its job type).
async fn owned_plan(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    kind: &str,
    instance: &'static str,
    verb: &str,
) -> AppResult<(RuleRow, JobPlan)> {
    let r = owned_rule(st, ctx, "id", args.required_id("id")?, &[kind]).await?;
    let p = plan(instance, r.id, false, format!("{verb} {instance} {}", r.id));
    Ok((r, p))
}

/// Removes a gateway, customer gateway or connection and records its event.
async fn remove(
    st: &State,
    ctx: &OpContext,
    r: &RuleRow,
    event: &str,
    instance: &str,
) -> AppResult<()> {
    let mut tx = st.store.begin().await?;
    db::rule_remove(&mut tx, db::RuleOwner::Id, r.id).await?;
    Event::new(ctx, event, format!("{instance} {} deleted", r.id))
        .resource(r.id, instance, r.name.as_deref())
        .record(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

async fn rule(st: &State, id: Uuid) -> AppResult<RuleRow> {
    let mut c = st.store.read().await?;
    db::rule_get(&mut c, id)
        .await?
        .ok_or_else(|| ApiError::invalid_id("id", &id.to_string()).into())
}

async fn rules(st: &State, f: db::RuleFilter) -> AppResult<Vec<RuleRow>> {
    let mut c = st.store.read().await?;
    Ok(db::rule_list(&mut c, &f).await?.0)
}

/// The connections under these gateways.
async fn connections_of(st: &State, gateways: Vec<Uuid>) -> AppResult<Vec<RuleRow>> {
    if gateways.is_empty() {
        return Ok(Vec::new());
    }
    rules(
        st,
        db::RuleFilter {
            kinds: vec![CONN],
            parent_ids: gateways,
            ..Default::default()
        },
    )
    .await
}

// --- views ----------------------------------------------------------------------------------

async fn gateway_views(st: &State, rows: &[RuleRow]) -> AppResult<Vec<Value>> {
    let mut out = Vec::new();
    let mut c = st.store.read().await?;
    for r in rows {
        let ip = match r.ip_id {
            Some(i) => db::public_ip_get(&mut c, i).await?,
            None => None,
        };
        let vpc = match r.parent_id {
            Some(v) => db::vpc_get(&mut c, VpcId(v)).await?,
            None => None,
        };
        let mut v = json!({
            "id": r.id,
            "fordisplay": gw_spec(r).fordisplay,
        });
        if let Some(ip) = ip {
            v["publicip"] = json!(ip.address);
        }
        if let Some(p) = r.parent_id {
            v["vpcid"] = json!(p);
        }
        if let Some(vpc) = vpc {
            v["vpcname"] = json!(vpc.name);
        }
        owner_fields(&mut v, r);
        out.push(v);
    }
    Ok(out)
}

/// The customer gateway's fields a connection repeats.
fn peer_fields(st: &State, v: &mut Value, s: &S2sCustomerSpec) {
    v["gateway"] = json!(s.gateway);
    v["cidrlist"] = json!(s.cidrlist);
    v["ipsecpsk"] = json!(st.key.decrypt(&s.ipsecpsk).unwrap_or_default());
    v["ikepolicy"] = json!(s.ikepolicy);
    v["esppolicy"] = json!(s.esppolicy);
    v["ikelifetime"] = json!(s.ikelifetime);
    v["esplifetime"] = json!(s.esplifetime);
    v["dpd"] = json!(s.dpd);
    v["forceencap"] = json!(s.forceencap);
    v["splitconnections"] = json!(s.splitconnections);
    v["ikeversion"] = json!(s.ikeversion);
}

fn customer_view(st: &State, r: &RuleRow) -> Value {
    let s = cust_spec(r);
    let mut v = json!({
        "id": r.id,
        "name": r.name,
        "ipaddress": s.gateway,
    });
    peer_fields(st, &mut v, &s);
    owner_fields(&mut v, r);
    v
}

async fn connection_views(st: &State, rows: &[RuleRow]) -> AppResult<Vec<Value>> {
    let mut out = Vec::new();
    let mut c = st.store.read().await?;
    for r in rows {
        let s = conn_spec(r);
        let ip = match r.ip_id {
            Some(i) => db::public_ip_get(&mut c, i).await?,
            None => None,
        };
        let cust = db::rule_get(&mut c, s.customergatewayid).await?;
        let mut v = json!({
            "id": r.id,
            "s2svpngatewayid": r.parent_id,
            "s2scustomergatewayid": s.customergatewayid,
            "state": s.status,
            "passive": s.passive,
            "fordisplay": s.fordisplay,
            "created": api::time::format_ms(r.created),
        });
        if let Some(ip) = ip {
            v["publicip"] = json!(ip.address);
        }
        if let Some(cust) = cust {
            peer_fields(st, &mut v, &cust_spec(&cust));
        }
        owner_fields(&mut v, r);
        out.push(v);
    }
    Ok(out)
}

fn page(rows: Vec<RuleRow>, args: &Args) -> Vec<RuleRow> {
    let skip = args.page.offset as usize;
    let take = args.page.limit.map(|l| l as usize).unwrap_or(usize::MAX);
    rows.into_iter().skip(skip).take(take).collect()
}

// --- the routers' side ---------------------------------------------------------------------

/// Pushes the routers of these connections' VPCs.
async fn vpcs_changed(st: &State, conns: &[RuleRow]) -> AppResult<()> {
    let gws: BTreeSet<Uuid> = conns.iter().filter_map(|c| c.parent_id).collect();
    let mut nets = Vec::new();
    for g in gws {
        if let Ok(gw) = rule(st, g).await {
            nets.extend(gw.parent_id.map(NetworkId));
        }
    }
    crate::netsync::networks_changed(st, &nets).await?;
    Ok(())
}

/// The VPC router serving a gateway: its host and namespace.
async fn router_of(st: &State, gateway: Uuid) -> AppResult<Option<(model::HostId, String)>> {
    let Ok(gw) = rule(st, gateway).await else {
        return Ok(None);
    };
    let Some(vpc) = gw.parent_id else {
        return Ok(None);
    };
    let mut c = st.store.read().await?;
    let routers = db::router_list(
        &mut c,
        &db::RouterFilter {
            network_ids: vec![NetworkId(vpc)],
            ..Default::default()
        },
    )
    .await?
    .0;
    Ok(routers
        .into_iter()
        .find_map(|r| Some((r.host_id?, netplan::compile::namespace(r.id)))))
}

const ROUTER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Reads these connections' states from their routers and stores the ones that changed: a
/// connection whose VPC has no running router is Disconnected; one its router cannot be
/// asked about keeps its state. Returns the states read.
async fn refresh(st: &State, conns: &[RuleRow]) -> AppResult<BTreeMap<Uuid, String>> {
    let mut by_gw: BTreeMap<Uuid, Vec<&RuleRow>> = BTreeMap::new();
    for c in conns {
        if let Some(g) = c.parent_id {
            by_gw.entry(g).or_default().push(c);
        }
    }
    let mut out = BTreeMap::new();
    for (gw, cs) in by_gw {
        let ids: Vec<Uuid> = cs.iter().map(|c| c.id).collect();
        let states: BTreeMap<Uuid, String> = match router_of(st, gw).await? {
            None => ids
                .iter()
                .map(|i| (*i, "Disconnected".to_string()))
                .collect(),
            Some((host, ns)) => {
                let reply = st
                    .hub
                    .command(
                        host,
                        proto::Command::S2sStatus {
                            namespace: ns,
                            connections: ids.clone(),
                        },
                        ROUTER_TIMEOUT,
                    )
                    .await;
                match reply {
                    Ok(v) => ids
                        .iter()
                        .filter_map(|i| {
                            let s = v["connections"][i.to_string()].as_str()?;
                            Some((*i, s.to_string()))
                        })
                        .collect(),
                    Err(e) => {
                        tracing::warn!(gateway = %gw, error = %e, "cannot read the site-to-site VPN states from the router");
                        BTreeMap::new()
                    }
                }
            }
        };
        for c in cs {
            let Some(now) = states.get(&c.id) else {
                continue;
            };
            out.insert(c.id, now.clone());
            let mut spec = conn_spec(c);
            if &spec.status != now {
                spec.status = now.clone();
                let mut tx = st.store.begin().await?;
                db::rule_update(&mut tx, c.id, c.state, None, &RuleSpec::S2sConnection(spec))
                    .await?;
                tx.commit().await?;
            }
        }
    }
    Ok(out)
}

/// Waits (bounded) for an initiating connection's tunnel, reading its state from the router.
async fn settle(st: &State, c: &RuleRow) -> AppResult<()> {
    let tries = if conn_spec(c).passive { 1 } else { 20 };
    for i in 0..tries {
        if i > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
        let c = rule(st, c.id).await?;
        if refresh(st, &[c]).await?.values().any(|s| s == "Connected") {
            break;
        }
    }
    Ok(())
}

/// Closes a connection's SAs on its router and, for an initiator, connects it again.
async fn reset(st: &State, c: &RuleRow) -> AppResult<()> {
    let Some(gw) = c.parent_id else {
        return Ok(());
    };
    if let Some((host, ns)) = router_of(st, gw).await? {
        st.hub
            .command(
                host,
                proto::Command::S2sReset {
                    namespace: ns,
                    connection: c.id,
                    initiate: !conn_spec(c).passive,
                },
                ROUTER_TIMEOUT,
            )
            .await?;
    }
    settle(st, c).await
}

/// The background check: every connection's state, read from its router.
pub async fn check_all(st: &State) -> AppResult<()> {
    let conns = rules(st, db::RuleFilter::kind(CONN)).await?;
    if !conns.is_empty() {
        refresh(st, &conns).await?;
    }
    Ok(())
}

/// A VPC going away takes its gateway and the gateway's connections with it (CloudStack's
/// cleanupVpnConnectionByVpc / cleanupVpnGatewayByVpc).
pub async fn remove_for_vpc(tx: &mut db::Conn, vpc: VpcId) -> AppResult<()> {
    let gws = db::rule_list(
        &mut *tx,
        &db::RuleFilter {
            kinds: vec![GW],
            parent_ids: vec![vpc.0],
            ..Default::default()
        },
    )
    .await?
    .0;
    for g in gws {
        db::rule_remove(&mut *tx, db::RuleOwner::Parent, g.id).await?;
        db::rule_remove(&mut *tx, db::RuleOwner::Id, g.id).await?;
    }
    Ok(())
}
