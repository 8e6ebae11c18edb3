//! Guest VLAN (VNI) ranges dedicated to an account: dedicateGuestVlanRange,
//! listDedicatedGuestVlanRanges, releaseDedicatedGuestVlanRange. The account's networks take
//! their VNIs from its ranges first (then from the zone's shared ones); no other account's
//! network is given one of them (`networks::allocate_vni`).

use api::{list_body, success_body, ApiError, Args};
use db::{Infra, VlanDedicationRow};
use model::identity::display_domain_path;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::context::OpContext;
use crate::error::{param_err, AppResult};
use crate::events::Event;
use crate::handlers::zones;
use crate::jobs::{JobPlan, JobRef};
use crate::state::State;

const MAX_VNI: u32 = 16_777_215;

async fn view(st: &State, d: &VlanDedicationRow) -> AppResult<Value> {
    let a = crate::access::account(st, "accountid", d.account_id).await?;
    Ok(json!({
        "id": d.id,
        "guestvlanrange": format!("{}-{}", d.first_vni, d.last_vni),
        "account": a.name,
        "accountid": a.id,
        "domainid": a.domain_id,
        "domain": a.domain_name,
        "domainpath": display_domain_path(&a.domain_path),
        "physicalnetworkid": d.physnet_id,
        "zoneid": d.zone_id,
    }))
}

pub async fn dedicate(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let pn = zones::get(
        st,
        Infra::PhysicalNetwork,
        "physicalnetworkid",
        args.required_id("physicalnetworkid")?,
    )
    .await?;
    let text = args.required_str("vlanrange")?;
    let (first, last) = match model::net::parse_ranges(text, MAX_VNI).as_deref() {
        Some([one]) => *one,
        _ => {
            return param_err(format!(
                "Invalid vlanrange {text}: give one range, <first>-<last> (or one VNI)"
            ))
        }
    };
    let theirs = pn.attrs["vlan"]
        .as_str()
        .and_then(|v| model::net::parse_ranges(v, MAX_VNI))
        .unwrap_or_default();
    if !theirs.iter().any(|(a, b)| *a <= first && last <= *b) {
        return param_err(format!(
            "The VLAN range {first}-{last} is not inside one of physical network {}'s ranges ({})",
            pn.name,
            pn.attrs["vlan"].as_str().unwrap_or("none")
        ));
    }
    let name = args.required_str("account")?;
    let acct = crate::access::account_by_name(st, ctx, name, args.id("domainid")).await?;
    let (existing, owners) = {
        let mut c = st.store.read().await?;
        (
            db::vlan_dedication_list(&mut c, Some(pn.zone_id)).await?,
            db::network_vni_owners(&mut c, pn.zone_id).await?,
        )
    };
    if let Some(d) = existing
        .iter()
        .find(|d| d.first_vni <= i64::from(last) && i64::from(first) <= d.last_vni)
    {
        return param_err(format!(
            "The VLAN range {first}-{last} overlaps the range {}-{} already dedicated (id {})",
            d.first_vni, d.last_vni, d.id
        ));
    }
    if let Some((_, vni)) = owners.iter().find(|(owner, vni)| {
        (i64::from(first)..=i64::from(last)).contains(vni) && *owner != Some(acct.id)
    }) {
        return param_err(format!(
            "VNI {vni} of the range is used by another account's network: the range can't be dedicated to {}",
            acct.name
        ));
    }
    let row = VlanDedicationRow {
        id: Uuid::new_v4(),
        zone_id: pn.zone_id,
        physnet_id: pn.id,
        first_vni: i64::from(first),
        last_vni: i64::from(last),
        account_id: acct.id,
        domain_id: acct.domain_id,
        created: 0,
    };
    let mut tx = st.store.begin().await?;
    db::vlan_dedication_insert(&mut tx, &row).await?;
    Event::new(
        ctx,
        "GUEST.VLANRANGE.DEDICATE",
        format!("Guest VLAN range {first}-{last} dedicated to {}", acct.name),
    )
    .resource(row.id, "GuestVlanRange", None)
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(json!({ "dedicatedguestvlanrange": view(st, &row).await? }))
}

pub async fn list(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let rows = {
        let mut c = st.store.read().await?;
        db::vlan_dedication_list(&mut c, args.uuid("zoneid")).await?
    };
    let account = match args.text("account") {
        Some(a) => Some(
            crate::access::account_by_name(st, ctx, a, args.id("domainid"))
                .await?
                .id,
        ),
        None => None,
    };
    let range = match args.text("guestvlanrange") {
        Some(t) => match model::net::parse_ranges(t, MAX_VNI).as_deref() {
            Some([one]) => Some(*one),
            _ => return param_err(format!("Invalid guestvlanrange {t}")),
        },
        None => None,
    };
    let rows: Vec<VlanDedicationRow> = rows
        .into_iter()
        .filter(|d| args.uuid("id").is_none_or(|i| i == d.id))
        .filter(|d| {
            args.uuid("physicalnetworkid")
                .is_none_or(|p| p == d.physnet_id)
        })
        .filter(|d| account.is_none_or(|a| a == d.account_id))
        .filter(|d| {
            range.is_none_or(|(a, b)| d.first_vni == i64::from(a) && d.last_vni == i64::from(b))
        })
        .collect();
    let total = rows.len() as u64;
    let mut out = Vec::new();
    for d in args.page.slice(rows) {
        out.push(view(st, &d).await?);
    }
    Ok(list_body("dedicatedguestvlanrange", total, out))
}

async fn get(st: &State, id: Uuid) -> AppResult<VlanDedicationRow> {
    let mut c = st.store.read().await?;
    db::vlan_dedication_list(&mut c, None)
        .await?
        .into_iter()
        .find(|d| d.id == id)
        .ok_or_else(|| ApiError::invalid_id("id", &id.to_string()).into())
}

pub async fn release_prepare(st: &State, _ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let d = get(st, args.required_id("id")?).await?;
    Ok(JobPlan {
        instance_type: None,
        instance_id: Some(d.id.to_string()),
        returns_id: false,
        description: format!(
            "Releasing the dedicated guest VLAN range {}-{}",
            d.first_vni, d.last_vni
        ),
    })
}

/// The range goes back to the zone; networks keep the VNIs they have.
pub async fn release_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    _job: &JobRef,
) -> AppResult<Value> {
    let d = get(st, args.required_id("id")?).await?;
    let mut tx = st.store.begin().await?;
    db::vlan_dedication_delete(&mut tx, d.id).await?;
    Event::new(
        ctx,
        "GUEST.VLANRANGE.RELEASE",
        format!(
            "Dedicated guest VLAN range {}-{} released",
            d.first_vni, d.last_vni
        ),
    )
    .resource(d.id, "GuestVlanRange", None)
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(success_body())
}
