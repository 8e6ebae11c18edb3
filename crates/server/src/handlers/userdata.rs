//! The user data registry (CloudStack 4.18's): registerUserData, listUserData,
//! deleteUserData, linkUserDataToTemplate, and `userdataid` on deployVirtualMachine.
//!
//! A VM deployed with `userdataid` gets that user data (the router's data server and config
//! drives serve it, as any VM's); a template linked to user data gives it to VMs deployed from
//! it, under its policy: ALLOWOVERRIDE (the VM's own user data wins), APPEND (the template's,
//! then the VM's), DENYOVERRIDE (a VM may not bring its own: 431).

use api::{list_body, success_body, ApiError, Args};
use base64::Engine as _;
use db::{AccountRow, Infra, InfraRow, UserDataFilter, UserDataRow};
use model::identity::display_domain_path;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::access;
use crate::context::OpContext;
use crate::error::{param_err, AppResult};
use crate::events::Event;
use crate::state::State;

const POLICIES: &[&str] = &["ALLOWOVERRIDE", "APPEND", "DENYOVERRIDE"];

fn view(u: &UserDataRow) -> Value {
    json!({
        "id": u.id,
        "name": u.name,
        "userdata": u.userdata,
        "params": u.params,
        "account": u.account_name,
        "accountid": u.account_id,
        "domainid": u.domain_id,
        "domain": u.domain_name,
        "domainpath": display_domain_path(&u.domain_path),
        "hasannotations": false,
    })
}

async fn owner(st: &State, ctx: &OpContext, args: &Args) -> AppResult<AccountRow> {
    match args.text("account") {
        Some(a) => {
            let acct = access::account_by_name(st, ctx, a, args.id("domainid")).await?;
            access::check_owner(ctx, &acct)?;
            Ok(acct)
        }
        None => Ok(ctx.user.account.clone()),
    }
}

/// The registered user data, if the caller may use it (its owner's members and admins).
pub(crate) async fn usable(
    st: &State,
    ctx: &OpContext,
    param: &str,
    id: Uuid,
) -> AppResult<UserDataRow> {
    let u = {
        let mut c = st.store.read().await?;
        db::userdata_get(&mut c, id).await?
    }
    .ok_or_else(|| ApiError::invalid_id(param, &id.to_string()))?;
    if u.account_id != ctx.account_id() {
        let a = access::account(st, param, u.account_id).await?;
        access::check_account(ctx, &a)?;
    }
    Ok(u)
}

pub async fn register(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let acct = owner(st, ctx, args).await?;
    let name = args.required_str("name")?.trim().to_string();
    if name.is_empty() {
        return param_err("The user data name can't be empty");
    }
    let data = args.required_str("userdata")?.trim().to_string();
    super::vms::check_userdata(&data, st.settings.int("vm.userdata.max.length"))?;
    let params: Vec<String> = args
        .list("params")
        .unwrap_or_default()
        .iter()
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect();
    let id = Uuid::new_v4();
    let mut tx = st.store.begin().await?;
    match db::userdata_insert(
        &mut tx,
        id,
        (acct.id, acct.domain_id),
        &name,
        &data,
        &params.join(","),
    )
    .await
    {
        Err(db::DbError::Conflict(_)) => {
            return param_err(format!(
                "A userdata with name {name} already exists for this account"
            ))
        }
        r => r?,
    }
    Event::new(
        ctx,
        "REGISTER.USER.DATA",
        format!("User data {name} registered"),
    )
    .resource(id, "UserData", Some(&name))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    let u = usable(st, ctx, "id", id).await?;
    Ok(json!({ "userdata": view(&u) }))
}

pub async fn list(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let f = UserDataFilter {
        scope: access::owner_scope(st, ctx, args).await?,
        id: args.uuid("id"),
        name: args.text("name").map(|n| n.trim().to_string()),
        keyword: args.text("keyword").map(str::to_string),
        offset: args.page.offset,
        limit: args.page.limit,
    };
    let (rows, total) = {
        let mut c = st.store.read().await?;
        db::userdata_list(&mut c, &f).await?
    };
    Ok(list_body(
        "userdata",
        total,
        rows.iter().map(view).collect(),
    ))
}

/// Templates and ISOs linked to this user data.
async fn linked(st: &State, id: Uuid) -> AppResult<Vec<InfraRow>> {
    let mut c = st.store.read().await?;
    Ok(
        db::infra_list(&mut c, Infra::Template, &db::InfraFilter::default())
            .await?
            .0
            .into_iter()
            .filter(|t| t.attrs["userdataid"] == json!(id))
            .collect(),
    )
}

pub async fn delete(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    // Its owner's (and members', for a project's) and admins' over it.
    let u = usable(st, ctx, "id", args.required_id("id")?).await?;
    if let Some(t) = linked(st, u.id).await?.first() {
        return param_err(format!(
            "Userdata {} is linked to template {}: unlink it first (linkUserDataToTemplate without userdataid)",
            u.name, t.name
        ));
    }
    let mut tx = st.store.begin().await?;
    db::userdata_remove(&mut tx, u.id).await?;
    Event::new(
        ctx,
        "DELETE.USER.DATA",
        format!("User data {} deleted", u.name),
    )
    .resource(u.id, "UserData", Some(&u.name))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(success_body())
}

pub async fn link(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let (id, iso) = match (args.uuid("templateid"), args.uuid("isoid")) {
        (Some(t), None) => (t, false),
        (None, Some(i)) => (i, true),
        _ => return param_err("Specify either templateid or isoid"),
    };
    let mut t = super::templates::owned(st, ctx, id, iso).await?;
    let policy = args
        .text("userdatapolicy")
        .map(|p| p.trim().to_ascii_uppercase())
        .unwrap_or_else(|| "ALLOWOVERRIDE".into());
    if !POLICIES.contains(&policy.as_str()) {
        return param_err(format!(
            "Invalid userdatapolicy {policy}: use ALLOWOVERRIDE, APPEND or DENYOVERRIDE"
        ));
    }
    match args.uuid("userdataid") {
        Some(u) => {
            let u = usable(st, ctx, "userdataid", u).await?;
            t.attrs["userdataid"] = json!(u.id);
            t.attrs["userdataname"] = json!(u.name);
            t.attrs["userdatapolicy"] = json!(policy);
        }
        None => {
            for k in ["userdataid", "userdataname", "userdatapolicy"] {
                if let Some(m) = t.attrs.as_object_mut() {
                    m.remove(k);
                }
            }
        }
    }
    let mut tx = st.store.begin().await?;
    db::infra_update(&mut tx, Infra::Template, &t).await?;
    Event::new(
        ctx,
        if iso { "ISO.UPDATE" } else { "TEMPLATE.UPDATE" },
        format!("User data of {} linked", t.name),
    )
    .resource(t.id, if iso { "ISO" } else { "Template" }, Some(&t.name))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    let views = super::templates::views(st, ctx, std::slice::from_ref(&t), None).await?;
    Ok(json!({ "template": views.into_iter().next().unwrap_or(Value::Null) }))
}

/// What a VM being deployed gets: its user data (base64) and, when it comes from the
/// registry, the registry entry's id, name and the policy that applied.
pub(crate) struct DeployUserData {
    pub userdata: Option<String>,
    pub from: Option<(Uuid, String, String)>,
}

/// Resolves deployVirtualMachine's `userdata` / `userdataid` against the template's linked
/// user data and its policy.
pub(crate) async fn for_deploy(
    st: &State,
    ctx: &OpContext,
    template: Option<&InfraRow>,
    args: &Args,
) -> AppResult<DeployUserData> {
    let max = st.settings.int("vm.userdata.max.length");
    let own_text = args.text("userdata").map(|u| u.trim().to_string());
    if let Some(u) = &own_text {
        super::vms::check_userdata(u, max)?;
    }
    if own_text.is_some() && args.has("userdataid") {
        return param_err("Specify either userdata or userdataid, not both");
    }
    let own: Option<(String, Option<(Uuid, String)>)> = match args.uuid("userdataid") {
        Some(id) => {
            let u = usable(st, ctx, "userdataid", id).await?;
            Some((u.userdata.clone(), Some((u.id, u.name.clone()))))
        }
        None => own_text.map(|t| (t, None)),
    };
    let linked = match template.and_then(|t| t.attrs["userdataid"].as_str()) {
        Some(id) => {
            let id: Uuid = id
                .parse()
                .map_err(|_| crate::error::AppError::Internal("a template's userdataid".into()))?;
            let mut c = st.store.read().await?;
            db::userdata_get(&mut c, id).await?
        }
        None => None,
    };
    let Some(t) = linked else {
        return Ok(DeployUserData {
            userdata: own.as_ref().map(|o| o.0.clone()),
            from: own
                .and_then(|o| o.1)
                .map(|(i, n)| (i, n, "ALLOWOVERRIDE".to_string())),
        });
    };
    let policy = template
        .and_then(|t| t.attrs["userdatapolicy"].as_str())
        .unwrap_or("ALLOWOVERRIDE")
        .to_string();
    let from_template = Some((t.id, t.name.clone(), policy.clone()));
    Ok(match (policy.as_str(), own) {
        (_, None) => DeployUserData {
            userdata: Some(t.userdata.clone()),
            from: from_template,
        },
        ("DENYOVERRIDE", Some(_)) => {
            return param_err(format!(
                "The template's user data policy is DENYOVERRIDE: user data {} can't be overridden",
                t.name
            ))
        }
        ("APPEND", Some((mine, _))) => {
            let b64 = base64::engine::general_purpose::STANDARD;
            let mut joined = b64.decode(t.userdata.trim()).unwrap_or_default();
            if !joined.ends_with(b"\n") {
                joined.push(b'\n');
            }
            joined.extend(b64.decode(mine.trim()).unwrap_or_default());
            if joined.len() as i64 > max {
                return param_err(format!(
                    "User data is too long: {} bytes after appending to the template's, the limit is {max} (vm.userdata.max.length)",
                    joined.len()
                ));
            }
            DeployUserData {
                userdata: Some(b64.encode(joined)),
                from: from_template,
            }
        }
        (_, Some((mine, reg))) => DeployUserData {
            userdata: Some(mine),
            from: reg.map(|(i, n)| (i, n, policy)),
        },
    })
}
