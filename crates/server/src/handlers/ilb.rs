//! The InternalLbVm provider's element (list/create/configureInternalLoadBalancerElement, as
//! CloudStack's deployDataCenter configures it) and the internal load balancer "VMs".
//!
//! Canopy has no separate internal load balancer appliance: a VPC's router serves its
//! internal load balancers with its haproxy, bound to their addresses on the tiers. So
//! listInternalLoadBalancerVMs lists the routers of the VPCs that have internal load
//! balancers, and start/stopInternalLoadBalancerVM start and stop those routers (stopped,
//! the balancers stop answering with the rest of the router).

use api::{list_body, ApiError, Args};
use db::{Infra, InfraRow};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::context::OpContext;
use crate::error::{param_err, AppResult};
use crate::handlers::physnets::{element_view, plan_for, providers_with_elements};
use crate::handlers::{lb, routers, zones};
use crate::jobs::{JobPlan, JobRef};
use crate::state::State;

pub async fn list_elements(st: &State, _ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let id = args.uuid("id").map(|u| u.to_string());
    let items: Vec<Value> = providers_with_elements(st, true)
        .await?
        .iter()
        .filter(|p| args.uuid("nspid").is_none_or(|n| n == p.id))
        .filter_map(element_view)
        .filter(|e| id.as_deref().is_none_or(|i| e["id"] == i))
        .filter(|e| args.bool("enabled").is_none_or(|b| e["enabled"] == b))
        .collect();
    let total = items.len() as u64;
    Ok(list_body(
        "internalloadbalancerelement",
        total,
        args.page.slice(items),
    ))
}

async fn provider_of_element(st: &State, id: Uuid) -> AppResult<InfraRow> {
    providers_with_elements(st, true)
        .await?
        .into_iter()
        .find(|p| p.attrs["element"]["id"] == id.to_string())
        .ok_or_else(|| ApiError::invalid_id("id", &id.to_string()).into())
}

pub async fn configure_prepare(st: &State, _ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let id: Uuid = args.required_id("id")?;
    let p = provider_of_element(st, id).await?;
    Ok(plan_for(
        "InternalLbVm",
        id,
        format!(
            "Configuring the internal load balancer element of {}",
            p.name
        ),
    ))
}

pub async fn configure_run(
    st: &State,
    _ctx: &OpContext,
    args: &Args,
    _job: &JobRef,
) -> AppResult<Value> {
    let mut p = provider_of_element(st, args.required_id("id")?).await?;
    p.attrs["element"]["enabled"] = json!(args.flag("enabled"));
    let mut tx = st.store.begin().await?;
    db::infra_update(&mut tx, Infra::Provider, &p).await?;
    tx.commit().await?;
    Ok(json!({ "internalloadbalancerelement": element_view(&p) }))
}

/// createInternalLoadBalancerElement: the element of an InternalLbVm provider that has none
/// (providers of physical networks created before Canopy made one).
pub async fn create_prepare(st: &State, _ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let p = zones::get(st, Infra::Provider, "nspid", args.required_id("nspid")?).await?;
    if p.name != "InternalLbVm" {
        return param_err(format!(
            "Provider {} is not InternalLbVm: it takes no internal load balancer element",
            p.name
        ));
    }
    if p.attrs.get("element").is_some() {
        return param_err("The InternalLbVm provider already has its element");
    }
    Ok(plan_for(
        "InternalLbVm",
        p.id,
        "Creating the internal load balancer element".into(),
    ))
}

pub async fn create_run(
    st: &State,
    _ctx: &OpContext,
    args: &Args,
    _job: &JobRef,
) -> AppResult<Value> {
    let mut p = zones::get(st, Infra::Provider, "nspid", args.required_id("nspid")?).await?;
    if p.attrs.get("element").is_none() {
        p.attrs["element"] = json!({ "id": Uuid::new_v4(), "enabled": false });
        let mut tx = st.store.begin().await?;
        db::infra_update(&mut tx, Infra::Provider, &p).await?;
        tx.commit().await?;
    }
    Ok(json!({ "internalloadbalancerelement": element_view(&p) }))
}

/// The VPCs that have internal load balancers (their tiers hold the rules).
async fn ilb_vpcs(st: &State) -> AppResult<Vec<model::VpcId>> {
    let rules = {
        let mut c = st.store.read().await?;
        db::rule_list(&mut c, &db::RuleFilter::kind(lb::internal::KIND))
            .await?
            .0
    };
    let mut nets: Vec<model::NetworkId> = rules.iter().filter_map(|r| r.network_id).collect();
    nets.sort_unstable_by_key(|n| n.0);
    nets.dedup();
    let mut vpcs = Vec::new();
    for n in nets {
        if let Ok(net) = crate::handlers::networks::network_get(st, "networkid", n).await {
            vpcs.extend(net.vpc_id);
        }
    }
    vpcs.sort_unstable_by_key(|v| v.0);
    vpcs.dedup();
    Ok(vpcs)
}

/// listInternalLoadBalancerVMs: the routers that serve internal load balancers (listRouters'
/// parameters; `vpcid` narrows to one VPC).
pub async fn list_vms(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let mut vpcs = ilb_vpcs(st).await?;
    if let Some(v) = args.id::<model::VpcId>("vpcid") {
        vpcs.retain(|x| *x == v);
    }
    if vpcs.is_empty() {
        return Ok(list_body("internalloadbalancervm", 0, Vec::new()));
    }
    let mut body = routers::list_for_vpcs(st, ctx, args, vpcs).await?;
    let items = body
        .get_mut("router")
        .map(Value::take)
        .unwrap_or_else(|| json!([]));
    let total = body["count"].as_u64().unwrap_or(0);
    let items = items.as_array().cloned().unwrap_or_default();
    Ok(list_body("internalloadbalancervm", total, items))
}

/// How many routers serve internal load balancers (listInfrastructure's `ilbvms`).
pub(crate) async fn count_vms(st: &State) -> AppResult<u64> {
    let vpcs = ilb_vpcs(st).await?;
    if vpcs.is_empty() {
        return Ok(0);
    }
    let mut c = st.store.read().await?;
    Ok(db::router_list(
        &mut c,
        &db::RouterFilter {
            vpc_ids: vpcs,
            limit: Some(0),
            ..Default::default()
        },
    )
    .await?
    .1)
}

/// The router `id` when it serves internal load balancers.
async fn ilb_router(st: &State, id: Uuid) -> AppResult<()> {
    let vpcs = ilb_vpcs(st).await?;
    let r = routers::get(st, id).await?;
    if r.vpc_id.is_some_and(|v| vpcs.contains(&v)) {
        Ok(())
    } else {
        Err(ApiError::invalid_id("id", &id.to_string()).into())
    }
}

pub async fn start_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    ilb_router(st, args.required_id("id")?).await?;
    routers::start_prepare(st, ctx, args).await
}

pub async fn stop_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    ilb_router(st, args.required_id("id")?).await?;
    routers::stop_prepare(st, ctx, args).await
}

fn as_ilb_vm(mut v: Value) -> Value {
    if let Some(r) = v.get_mut("router").map(Value::take) {
        return json!({ "internalloadbalancervm": r });
    }
    v
}

pub async fn start_run(st: &State, ctx: &OpContext, args: &Args, job: &JobRef) -> AppResult<Value> {
    Ok(as_ilb_vm(routers::start_run(st, ctx, args, job).await?))
}

pub async fn stop_run(st: &State, ctx: &OpContext, args: &Args, job: &JobRef) -> AppResult<Value> {
    Ok(as_ilb_vm(routers::stop_run(st, ctx, args, job).await?))
}
