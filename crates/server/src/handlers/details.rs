//! Resource details: addResourceDetail / removeResourceDetail (async, as CloudStack's) and
//! listResourceDetails — key/value pairs on a VM, volume, template, ISO, network, snapshot or
//! VPC the caller may see (to list) or change (to add and remove). A VM's details are the ones
//! updateVirtualMachine sets and listVirtualMachines shows; the other types' are kept in
//! `resource_details`.

use std::collections::BTreeMap;

use api::{list_body, success_body, ApiError, Args};
use db::DetailRow;
use model::AccountId;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::context::OpContext;
use crate::error::{param_err, AppResult};
use crate::jobs::{JobPlan, JobRef};
use crate::state::State;

/// The types with details, as CloudStack names them.
const TYPES: &[&str] = &[
    "UserVm", "Volume", "Template", "ISO", "Network", "Snapshot", "Vpc",
];

/// Longest key and value (CloudStack's columns).
const MAX_KEY: usize = 255;
const MAX_VALUE: usize = 1024;

fn canonical(t: &str) -> AppResult<&'static str> {
    let t = t.trim();
    if t.eq_ignore_ascii_case("VirtualMachine") {
        return Ok("UserVm");
    }
    TYPES
        .iter()
        .find(|x| x.eq_ignore_ascii_case(t))
        .copied()
        .ok_or_else(|| {
            ApiError::param(format!(
                "Invalid resourcetype {t}: use one of {}",
                TYPES.join(", ")
            ))
            .into()
        })
}

/// The resource's owner, once the caller may see it (`write`: change it).
async fn owner(
    st: &State,
    ctx: &OpContext,
    t: &str,
    id: Uuid,
    write: bool,
) -> AppResult<Option<AccountId>> {
    let p = "resourceid";
    Ok(match t {
        "UserVm" => Some(super::vms::owned(st, ctx, id).await?.account_id),
        "Volume" => Some(super::volumes::owned(st, ctx, p, id).await?.account_id),
        "Template" | "ISO" => {
            let r = if write {
                super::templates::owned(st, ctx, id, t == "ISO").await?
            } else {
                super::templates::usable(st, &ctx.user.account, p, id).await?
            };
            r.attrs["account_id"]
                .as_str()
                .and_then(|a| a.parse().ok())
                .map(AccountId)
        }
        "Network" => {
            super::networks::owned_network(st, ctx, p, id)
                .await?
                .account_id
        }
        "Snapshot" => Some(super::snapshots::owned(st, ctx, p, id).await?.account_id),
        "Vpc" => super::vpcs::owned_vpc(st, ctx, p, id).await?.account_id,
        _ => return param_err(format!("Invalid resourcetype {t}")),
    })
}

/// `details[i].key=…&details[i].value=…` (checked).
fn details(args: &Args) -> AppResult<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for m in args.map("details").unwrap_or_default() {
        let (Some(k), Some(v)) = (m.get("key"), m.get("value")) else {
            return param_err("Each of details needs key and value");
        };
        let k = k.trim();
        if k.is_empty() || k.chars().count() > MAX_KEY {
            return param_err(format!("Detail keys are 1 to {MAX_KEY} characters"));
        }
        if v.chars().count() > MAX_VALUE {
            return param_err(format!("Detail values are at most {MAX_VALUE} characters"));
        }
        out.insert(k.to_string(), v.to_string());
    }
    if out.is_empty() {
        return param_err("details must name at least one key and value");
    }
    Ok(out)
}

pub async fn add_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let t = canonical(args.required_str("resourcetype")?)?;
    let id: Uuid = args.required_id("resourceid")?;
    owner(st, ctx, t, id, true).await?;
    let d = details(args)?;
    Ok(JobPlan {
        instance_type: None,
        instance_id: None,
        returns_id: false,
        description: format!("Adding {} detail(s) to {t} {id}", d.len()),
    })
}

/// Sets the details (a key already there takes the new value). Idempotent.
pub async fn add_run(st: &State, ctx: &OpContext, args: &Args, _job: &JobRef) -> AppResult<Value> {
    let t = canonical(args.required_str("resourcetype")?)?;
    let id: Uuid = args.required_id("resourceid")?;
    owner(st, ctx, t, id, true).await?;
    let d = details(args)?;
    let display = args.bool("fordisplay").unwrap_or(true);
    if t == "UserVm" {
        let vm = super::vms::owned(st, ctx, id).await?;
        let mut attrs = vm.attrs.clone();
        let mut m = attrs["details"].as_object().cloned().unwrap_or_default();
        for (k, v) in d {
            m.insert(k, json!(v));
        }
        attrs["details"] = Value::Object(m);
        let mut tx = st.store.begin().await?;
        db::vm_update(
            &mut tx,
            vm.id,
            &db::VmChanges {
                attrs: Some(attrs),
                ..Default::default()
            },
        )
        .await?;
        tx.commit().await?;
        return Ok(success_body());
    }
    let mut tx = st.store.begin().await?;
    for (k, v) in d {
        db::detail_set(
            &mut tx,
            &DetailRow {
                resource_type: t.to_string(),
                resource_id: id,
                name: k,
                value: v,
                for_display: display,
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(success_body())
}

pub async fn remove_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let t = canonical(args.required_str("resourcetype")?)?;
    let id: Uuid = args.required_id("resourceid")?;
    owner(st, ctx, t, id, true).await?;
    Ok(JobPlan {
        instance_type: None,
        instance_id: None,
        returns_id: false,
        description: format!("Removing details of {t} {id}"),
    })
}

/// Removes the detail `key` (every detail without it). Idempotent.
pub async fn remove_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    _job: &JobRef,
) -> AppResult<Value> {
    let t = canonical(args.required_str("resourcetype")?)?;
    let id: Uuid = args.required_id("resourceid")?;
    owner(st, ctx, t, id, true).await?;
    let key = args.text("key").map(str::trim);
    if t == "UserVm" {
        let vm = super::vms::owned(st, ctx, id).await?;
        let mut attrs = vm.attrs.clone();
        let mut m = attrs["details"].as_object().cloned().unwrap_or_default();
        match key {
            Some(k) => {
                m.remove(k);
            }
            None => m.clear(),
        }
        attrs["details"] = Value::Object(m);
        let mut tx = st.store.begin().await?;
        db::vm_update(
            &mut tx,
            vm.id,
            &db::VmChanges {
                attrs: Some(attrs),
                ..Default::default()
            },
        )
        .await?;
        tx.commit().await?;
        return Ok(success_body());
    }
    let mut tx = st.store.begin().await?;
    db::detail_remove(&mut tx, t, id, key).await?;
    tx.commit().await?;
    Ok(success_body())
}

pub async fn list(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let t = canonical(args.required_str("resourcetype")?)?;
    let Some(id) = args.uuid("resourceid") else {
        return param_err("resourceid is required: Canopy lists one resource's details");
    };
    let acct = owner(st, ctx, t, id, false).await?;
    let rows: Vec<DetailRow> = if t == "UserVm" {
        let vm = super::vms::owned(st, ctx, id).await?;
        vm.attrs["details"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| DetailRow {
                        resource_type: t.into(),
                        resource_id: id,
                        name: k.clone(),
                        value: v
                            .as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| v.to_string()),
                        for_display: true,
                    })
                    .collect()
            })
            .unwrap_or_default()
    } else {
        let mut c = st.store.read().await?;
        db::detail_list(&mut c, t, id, None).await?
    };
    let owner_row = match acct {
        Some(a) => Some(crate::access::account(st, "id", a).await?),
        None => None,
    };
    let items: Vec<Value> = rows
        .iter()
        .filter(|d| args.text("key").map(|k| d.name == k).unwrap_or(true))
        .filter(|d| args.text("value").map(|v| d.value == v).unwrap_or(true))
        .filter(|d| {
            args.bool("fordisplay")
                .map(|f| d.for_display == f)
                .unwrap_or(true)
        })
        .map(|d| {
            let mut m = Map::new();
            m.insert("resourceid".into(), json!(d.resource_id));
            m.insert("resourcetype".into(), json!(d.resource_type));
            m.insert("key".into(), json!(d.name));
            m.insert("value".into(), json!(d.value));
            m.insert("fordisplay".into(), json!(d.for_display));
            if let Some(a) = &owner_row {
                m.insert("account".into(), json!(a.name));
                m.insert("domainid".into(), json!(a.domain_id));
                m.insert("domain".into(), json!(a.domain_name));
            }
            Value::Object(m)
        })
        .collect();
    let total = items.len() as u64;
    Ok(list_body("resourcedetail", total, args.page.slice(items)))
}
