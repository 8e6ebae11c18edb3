//! Template and ISO permissions: updateTemplatePermissions / updateIsoPermissions share a
//! private image with named accounts of its owner's domain (`op` add, remove or reset) and
//! change its public, featured and extractable flags; listTemplatePermissions /
//! listIsoPermissions show them. A shared image is visible to and deployable by those accounts
//! and listed under `templatefilter=shared`/`sharedexecutable`. The account ids are kept in the
//! template row's attrs (`permitted`).

use api::{success_body, ApiError, Args};
use db::{Infra, InfraRow};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::context::OpContext;
use crate::error::{param_err, AppResult};
use crate::events::Event;
use crate::state::State;

/// The accounts an image is shared with.
pub(crate) fn permitted(r: &InfraRow) -> Vec<Uuid> {
    r.attrs
        .get("permitted")
        .and_then(|p| p.as_array())
        .map(|a| a.iter().filter_map(|v| v.as_str()?.parse().ok()).collect())
        .unwrap_or_default()
}

/// Whether the image is shared with `account`.
pub(crate) fn shared_with(r: &InfraRow, account: Uuid) -> bool {
    permitted(r).contains(&account)
}

fn is_iso(args: &Args) -> bool {
    args.command.contains("Iso")
}

pub async fn update(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let iso = is_iso(args);
    let mut r = super::templates::owned(st, ctx, args.required_id("id")?, iso).await?;
    let kind = if iso { "ISO" } else { "template" };
    let names: Vec<String> = args
        .list("accounts")
        .unwrap_or_default()
        .iter()
        .map(|a| a.trim().to_string())
        .filter(|a| !a.is_empty())
        .collect();
    // Projects share through their own accounts (CloudStack's `projectids`).
    let mut project_accounts = Vec::new();
    for p in args.list("projectids").unwrap_or_default() {
        let id: model::ProjectId = p
            .trim()
            .parse()
            .map_err(|_| ApiError::invalid_id("projectids", p))?;
        let p = super::projects::get(st, "projectids", id).await?;
        if Some(p.domain_id.0) != r.domain_id {
            return param_err(format!(
                "Project {} is not in the domain of the {kind}'s owner",
                p.name
            ));
        }
        project_accounts.push(p.account_id.0);
    }
    let op = args.text("op").map(str::to_ascii_lowercase);
    if (!names.is_empty() || !project_accounts.is_empty()) && op.is_none() {
        return param_err("op is required with accounts or projectids: add, remove or reset");
    }
    let mut list = permitted(&r);
    match op.as_deref() {
        None => {}
        Some("reset") => list.clear(),
        Some(o @ ("add" | "remove")) => {
            if names.is_empty() && project_accounts.is_empty() {
                return param_err(format!("accounts or projectids is required with op={o}"));
            }
            for a in &project_accounts {
                if o == "remove" {
                    list.retain(|x| x != a);
                } else if !list.contains(a) {
                    list.push(*a);
                }
            }
            // Accounts of the owner's domain, by name.
            let domain = r
                .domain_id
                .ok_or_else(|| ApiError::param(format!("The {kind} has no owner domain")))?;
            for n in &names {
                let acct = {
                    let mut c = st.store.read().await?;
                    db::account_get_by_name(&mut c, model::DomainId(domain), n).await?
                }
                .ok_or_else(|| {
                    ApiError::param(format!(
                        "Unable to find account {n} in the domain of the {kind}'s owner"
                    ))
                })?;
                if o == "add" {
                    if !list.contains(&acct.id.0) {
                        list.push(acct.id.0);
                    }
                } else {
                    list.retain(|a| *a != acct.id.0);
                }
            }
        }
        Some(o) => return param_err(format!("Invalid op {o}: use add, remove or reset")),
    }
    r.attrs["permitted"] = json!(list);
    if let Some(p) = args.bool("ispublic") {
        r.attrs["ispublic"] = json!(p);
    }
    if let Some(f) = args.bool("isfeatured") {
        if !ctx.is_admin() {
            return Err(ApiError::permission("Only admins can feature templates").into());
        }
        r.attrs["isfeatured"] = json!(f);
    }
    if let Some(e) = args.bool("isextractable") {
        if !ctx.is_root_admin() && e != (r.attrs["isextractable"] == true) {
            return Err(ApiError::permission("Only root admins can change isextractable").into());
        }
        r.attrs["isextractable"] = json!(e);
    }
    let mut tx = st.store.begin().await?;
    db::infra_update(&mut tx, Infra::Template, &r).await?;
    let ev = if iso { "ISO.UPDATE" } else { "TEMPLATE.UPDATE" };
    Event::new(ctx, ev, format!("Permissions of {} updated", r.name))
        .resource(r.id, if iso { "ISO" } else { "Template" }, Some(&r.name))
        .record(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(success_body())
}

pub async fn list(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let iso = is_iso(args);
    let r = super::templates::owned(st, ctx, args.required_id("id")?, iso).await?;
    let mut names = Vec::new();
    {
        let mut c = st.store.read().await?;
        for a in permitted(&r) {
            if let Some(acct) = db::account_get(&mut c, model::AccountId(a)).await? {
                names.push(acct.name);
            }
        }
    }
    let key = if iso {
        "isopermission"
    } else {
        "templatepermission"
    };
    Ok(json!({ key: {
        "id": r.id,
        "ispublic": r.attrs["ispublic"] == true,
        "domainid": r.domain_id,
        "account": names,
    }}))
}
