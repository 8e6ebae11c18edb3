//! addNetworkServiceProvider / deleteNetworkServiceProvider: a physical network's providers
//! come with it (`physnets::DEFAULT_PROVIDERS`); one deleted can be added back, with its
//! services (and, for the routers and InternalLbVm, a new element, disabled).

use api::{success_body, ApiError, Args};
use db::{Infra, InfraRow};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::context::OpContext;
use crate::error::{param_err, AppResult};
use crate::handlers::physnets::{plan_for, provider_view, DEFAULT_PROVIDERS};
use crate::handlers::zones;
use crate::jobs::{JobPlan, JobRef};
use crate::state::State;

async fn providers_of(st: &State, physnet: Uuid) -> AppResult<Vec<InfraRow>> {
    let mut c = st.store.read().await?;
    Ok(db::infra_list(
        &mut c,
        Infra::Provider,
        &db::InfraFilter {
            parent_id: Some(physnet),
            ..Default::default()
        },
    )
    .await?
    .0)
}

/// The provider's known name and its default services.
fn known(name: &str) -> AppResult<(&'static str, &'static [&'static str])> {
    DEFAULT_PROVIDERS
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name.trim()))
        .map(|(n, s)| (*n, *s))
        .ok_or_else(|| {
            ApiError::param(format!(
                "Invalid network service provider {name}: Canopy has {}",
                DEFAULT_PROVIDERS
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .into()
        })
}

pub async fn add_prepare(st: &State, _ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let pn = zones::get(
        st,
        Infra::PhysicalNetwork,
        "physicalnetworkid",
        args.required_id("physicalnetworkid")?,
    )
    .await?;
    let (name, _) = known(args.required_str("name")?)?;
    if providers_of(st, pn.id)
        .await?
        .iter()
        .any(|p| p.name == name)
    {
        return param_err(format!(
            "The provider {name} is already added to physical network {}",
            pn.name
        ));
    }
    if args.uuid("destinationphysicalnetworkid").is_some() {
        return param_err(
            "Bridging two physical networks (destinationphysicalnetworkid) is not supported",
        );
    }
    Ok(plan_for(
        "PhysicalNetworkServiceProvider",
        pn.id,
        format!("Adding provider {name} to {}", pn.name),
    ))
}

pub async fn add_run(st: &State, _ctx: &OpContext, args: &Args, _job: &JobRef) -> AppResult<Value> {
    let pn = zones::get(
        st,
        Infra::PhysicalNetwork,
        "physicalnetworkid",
        args.required_id("physicalnetworkid")?,
    )
    .await?;
    let (name, defaults) = known(args.required_str("name")?)?;
    if let Some(p) = providers_of(st, pn.id)
        .await?
        .into_iter()
        .find(|p| p.name == name)
    {
        // A resumed job: already there.
        return Ok(json!({ "networkserviceprovider": provider_view(&p) }));
    }
    let services: Vec<String> = match args.list("servicelist") {
        Some(l) => {
            for s in l.iter() {
                if !defaults.iter().any(|d| d.eq_ignore_ascii_case(s.trim())) {
                    return param_err(format!(
                        "Provider {name} does not provide {s}: it provides {}",
                        defaults.join(", ")
                    ));
                }
            }
            l.iter().map(|s| s.trim().to_string()).collect()
        }
        None => defaults.iter().map(|s| s.to_string()).collect(),
    };
    let mut attrs = json!({ "servicelist": services, "canenableindividualservice": true });
    if name.ends_with("VirtualRouter") || name == "InternalLbVm" {
        attrs["element"] = json!({ "id": Uuid::new_v4(), "enabled": false });
    }
    let row = InfraRow {
        id: Uuid::new_v4(),
        zone_id: pn.zone_id,
        parent_id: Some(pn.id),
        name: name.into(),
        kind: "Provider".into(),
        state: "Disabled".into(),
        domain_id: None,
        attrs,
        created: 0,
    };
    let mut tx = st.store.begin().await?;
    db::infra_insert(&mut tx, Infra::Provider, &row).await?;
    tx.commit().await?;
    let row = zones::get(st, Infra::Provider, "id", row.id).await?;
    Ok(json!({ "networkserviceprovider": provider_view(&row) }))
}

pub async fn delete_prepare(st: &State, _ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let p = zones::get(st, Infra::Provider, "id", args.required_id("id")?).await?;
    if p.state == "Enabled" {
        return param_err(format!(
            "Provider {} is Enabled: disable it (updateNetworkServiceProvider state=Disabled) before deleting it",
            p.name
        ));
    }
    Ok(plan_for(
        "PhysicalNetworkServiceProvider",
        p.id,
        format!("Deleting provider {}", p.name),
    ))
}

pub async fn delete_run(
    st: &State,
    _ctx: &OpContext,
    args: &Args,
    _job: &JobRef,
) -> AppResult<Value> {
    let id = args.required_id("id")?;
    let mut tx = st.store.begin().await?;
    db::infra_mark_removed(&mut tx, Infra::Provider, id).await?;
    tx.commit().await?;
    Ok(success_body())
}
