//! Roles and their permissions (CloudStack's dynamic roles). The default roles are seeded on
//! first start and have no rules: their accounts get each command's default for the role
//! type. A role's rules — API name patterns with allow/deny, in order — decide first
//! (`crate::rolecheck`). Only root admins change roles; domain admins list public roles
//! below the root admin's type.

use std::collections::BTreeMap;

use api::{list_body, success_body, ApiError, Args};
use db::{RolePermissionRow, RoleRow};
use model::identity::RoleType;
use model::rules::{Permission, Rule};
use model::RoleId;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::context::OpContext;
use crate::error::{param_err, AppResult};
use crate::events::Event;
use crate::state::State;
use crate::views;

fn role_type(t: &str) -> AppResult<RoleType> {
    RoleType::parse(t).ok_or_else(|| {
        ApiError::param(format!(
            "Invalid role type {t}: use Admin, ResourceAdmin, DomainAdmin or User"
        ))
        .into()
    })
}

fn rule(s: &str) -> AppResult<Rule> {
    Rule::parse(s).ok_or_else(|| {
        ApiError::param(format!(
            "Invalid rule {s}: an API name or a pattern of letters, digits and * wildcards"
        ))
        .into()
    })
}

fn permission(s: &str) -> AppResult<Permission> {
    Permission::parse(s)
        .ok_or_else(|| ApiError::param(format!("Invalid permission {s}: use allow or deny")).into())
}

async fn role(st: &State, param: &str, id: RoleId) -> AppResult<RoleRow> {
    let mut c = st.store.read().await?;
    db::role_get(&mut c, id)
        .await?
        .ok_or_else(|| ApiError::invalid_id(param, &id.to_string()).into())
}

/// The root admins' own role is not changed through the API (its rules would lock them out).
fn changeable(r: &RoleRow, what: &str) -> AppResult<()> {
    if r.is_default && r.role_type == RoleType::Admin {
        return param_err(format!("The default role {} cannot be {what}", r.name));
    }
    Ok(())
}

async fn name_free(st: &State, name: &str, except: Option<RoleId>) -> AppResult<()> {
    let mut c = st.store.read().await?;
    let same = db::role_list(&mut c, None, Some(name), None, None).await?;
    if same.iter().any(|r| Some(r.id) != except) {
        return param_err(format!("A role with the name {name} already exists"));
    }
    Ok(())
}

pub async fn list(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let role_type = args.text("type").map(role_type).transpose()?;
    let mut c = st.store.read().await?;
    let rows = db::role_list(
        &mut c,
        args.id("id"),
        args.text("name"),
        role_type,
        args.text("keyword"),
    )
    .await?;
    // Domain admins see public roles, never the root admin's type.
    let rows: Vec<_> = rows
        .into_iter()
        .filter(|r| ctx.is_root_admin() || (r.role_type != RoleType::Admin && r.is_public))
        .filter(|r| {
            args.bool("ispublic")
                .map(|p| r.is_public == p)
                .unwrap_or(true)
        })
        .filter(|r| {
            args.text("state")
                .map(|s| r.state.eq_ignore_ascii_case(s))
                .unwrap_or(true)
        })
        .collect();
    let total = rows.len() as u64;
    let page = args.page.slice(rows).iter().map(views::role).collect();
    Ok(list_body("role", total, page))
}

/// A role's rules in the order given (created, cloned or imported).
async fn insert_rules(
    tx: &mut db::Conn,
    role: RoleId,
    rules: &[(Rule, Permission, String)],
) -> AppResult<()> {
    for (i, (rule, perm, d)) in rules.iter().enumerate() {
        db::permission_insert(
            tx,
            &RolePermissionRow {
                id: Uuid::new_v4(),
                role_id: role,
                rule: rule.clone(),
                permission: *perm,
                description: d.clone(),
                sort_order: i as i64,
            },
        )
        .await?;
    }
    Ok(())
}

async fn created(
    st: &State,
    ctx: &OpContext,
    r: &RoleRow,
    rules: &[(Rule, Permission, String)],
) -> AppResult<()> {
    let mut tx = st.store.begin().await?;
    db::role_insert(&mut tx, r).await?;
    insert_rules(&mut tx, r.id, rules).await?;
    Event::new(ctx, "ROLE.CREATE", format!("Role {} created", r.name))
        .resource(r.id.0, "Role", Some(&r.name))
        .record(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// createRole: a new role of a type, or a clone of another (type and rules copied).
pub async fn create(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let name = args.required_str("name")?.trim().to_string();
    if name.is_empty() {
        return param_err("Role name can't be empty");
    }
    let (t, rules) = match (args.text("type"), args.id::<RoleId>("roleid")) {
        (Some(_), Some(_)) => return param_err("Please provide either type or roleid, not both"),
        (None, None) => return param_err("Please provide either type or roleid"),
        (Some(t), None) => (role_type(t)?, Vec::new()),
        (None, Some(from)) => {
            let src = role(st, "roleid", from).await?;
            let mut c = st.store.read().await?;
            let rules = db::permission_list(&mut c, from)
                .await?
                .into_iter()
                .map(|p| (p.rule, p.permission, p.description))
                .collect();
            (src.role_type, rules)
        }
    };
    name_free(st, &name, None).await?;
    let r = RoleRow {
        id: RoleId::new(),
        name,
        role_type: t,
        description: args.text("description").unwrap_or_default().to_string(),
        is_default: false,
        read_only: false,
        is_public: args.bool("ispublic").unwrap_or(true),
        state: "Enabled".into(),
    };
    created(st, ctx, &r, &rules).await?;
    Ok(json!({ "role": views::role(&r) }))
}

/// importRole: a role with the rules given (`rules[i].rule`, `.permission`, `.description`);
/// `forced` replaces a role of the same name (type, description and rules).
pub async fn import(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let name = args.required_str("name")?.trim().to_string();
    if name.is_empty() {
        return param_err("Role name can't be empty");
    }
    let t = role_type(args.required_str("type")?)?;
    let mut rules = Vec::new();
    for m in args.map("rules").unwrap_or_default() {
        let (Some(r), Some(p)) = (m.get("rule"), m.get("permission")) else {
            return param_err("Each of rules needs rule and permission");
        };
        rules.push((
            rule(r)?,
            permission(p)?,
            m.get("description").cloned().unwrap_or_default(),
        ));
    }
    if rules.is_empty() {
        return param_err("rules must name at least one rule");
    }
    let existing = {
        let mut c = st.store.read().await?;
        db::role_list(&mut c, None, Some(&name), None, None)
            .await?
            .into_iter()
            .next()
    };
    let description = args.text("description").unwrap_or_default().to_string();
    let is_public = args.bool("ispublic").unwrap_or(true);
    match existing {
        Some(_) if !args.flag("forced") => param_err(format!(
            "A role with the name {name} already exists (forced=true replaces it)"
        )),
        Some(mut r) => {
            changeable(&r, "replaced")?;
            if r.is_default {
                return param_err(format!("The default role {} cannot be replaced", r.name));
            }
            let mut tx = st.store.begin().await?;
            if r.role_type != t && db::role_accounts(&mut tx, r.id).await? > 0 {
                return param_err("The role's type cannot change while accounts have it");
            }
            r.role_type = t;
            r.description = description;
            r.is_public = is_public;
            db::role_update(&mut tx, &r).await?;
            for p in db::permission_list(&mut tx, r.id).await? {
                db::permission_delete(&mut tx, p.id).await?;
            }
            insert_rules(&mut tx, r.id, &rules).await?;
            Event::new(
                ctx,
                "ROLE.IMPORT",
                format!("Role {} replaced by an import", r.name),
            )
            .resource(r.id.0, "Role", Some(&r.name))
            .record(&mut tx)
            .await?;
            tx.commit().await?;
            st.role_rules.forget(r.id);
            Ok(json!({ "role": views::role(&r) }))
        }
        None => {
            let r = RoleRow {
                id: RoleId::new(),
                name,
                role_type: t,
                description,
                is_default: false,
                read_only: false,
                is_public,
                state: "Enabled".into(),
            };
            created(st, ctx, &r, &rules).await?;
            Ok(json!({ "role": views::role(&r) }))
        }
    }
}

pub async fn update(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let mut r = role(st, "id", args.required_id("id")?).await?;
    if r.is_default {
        return param_err(format!("The default role {} cannot be updated", r.name));
    }
    if let Some(n) = args.text("name") {
        let n = n.trim();
        if n.is_empty() {
            return param_err("Role name can't be empty");
        }
        name_free(st, n, Some(r.id)).await?;
        r.name = n.to_string();
    }
    if let Some(d) = args.text("description") {
        r.description = d.to_string();
    }
    if let Some(p) = args.bool("ispublic") {
        r.is_public = p;
    }
    let mut tx = st.store.begin().await?;
    if let Some(t) = args.text("type") {
        let t = role_type(t)?;
        if t != r.role_type && db::role_accounts(&mut tx, r.id).await? > 0 {
            return param_err("The role's type cannot change while accounts have it");
        }
        r.role_type = t;
    }
    db::role_update(&mut tx, &r).await?;
    Event::new(ctx, "ROLE.UPDATE", format!("Role {} updated", r.name))
        .resource(r.id.0, "Role", Some(&r.name))
        .record(&mut tx)
        .await?;
    tx.commit().await?;
    st.role_rules.forget(r.id);
    Ok(json!({ "role": views::role(&r) }))
}

pub async fn delete(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let r = role(st, "id", args.required_id("id")?).await?;
    if r.is_default {
        return param_err(format!("The default role {} cannot be deleted", r.name));
    }
    let mut tx = st.store.begin().await?;
    let n = db::role_accounts(&mut tx, r.id).await?;
    if n > 0 {
        return param_err(format!(
            "Role {} is in use by {n} account(s): give them another role first",
            r.name
        ));
    }
    db::role_delete(&mut tx, r.id).await?;
    Event::new(ctx, "ROLE.DELETE", format!("Role {} deleted", r.name))
        .resource(r.id.0, "Role", Some(&r.name))
        .record(&mut tx)
        .await?;
    tx.commit().await?;
    st.role_rules.forget(r.id);
    Ok(success_body())
}

fn permission_view(p: &RolePermissionRow, role_name: &str) -> Value {
    json!({
        "id": p.id,
        "roleid": p.role_id,
        "rolename": role_name,
        "rule": p.rule.as_str(),
        "permission": p.permission.as_str(),
        "description": p.description,
    })
}

pub async fn create_permission(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let r = role(st, "roleid", args.required_id("roleid")?).await?;
    changeable(&r, "changed")?;
    let rule = rule(args.required_str("rule")?)?;
    let perm = permission(args.required_str("permission")?)?;
    let mut tx = st.store.begin().await?;
    if db::permission_list(&mut tx, r.id)
        .await?
        .iter()
        .any(|p| p.rule == rule)
    {
        return param_err(format!("Role {} already has a rule for {rule}", r.name));
    }
    let p = RolePermissionRow {
        id: Uuid::new_v4(),
        role_id: r.id,
        rule,
        permission: perm,
        description: args.text("description").unwrap_or_default().to_string(),
        sort_order: db::permission_next_order(&mut tx, r.id).await?,
    };
    db::permission_insert(&mut tx, &p).await?;
    Event::new(
        ctx,
        "ROLE.PERMISSION.CREATE",
        format!("Rule {} {} added to role {}", p.permission, p.rule, r.name),
    )
    .resource(r.id.0, "Role", Some(&r.name))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    st.role_rules.forget(r.id);
    Ok(json!({ "rolepermission": permission_view(&p, &r.name) }))
}

pub async fn list_permissions(st: &State, _ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let roles: Vec<RoleRow> = match args.id::<RoleId>("roleid") {
        Some(id) => vec![role(st, "roleid", id).await?],
        None => {
            let mut c = st.store.read().await?;
            db::role_list(&mut c, None, None, None, None).await?
        }
    };
    let mut items = Vec::new();
    {
        let mut c = st.store.read().await?;
        for r in &roles {
            for p in db::permission_list(&mut c, r.id).await? {
                items.push(permission_view(&p, &r.name));
            }
        }
    }
    Ok(list_body("rolepermission", items.len() as u64, items))
}

/// updateRolePermission: `ruleorder` (every rule id of the role, in the new order), or
/// `ruleid` with `permission`.
pub async fn update_permission(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let r = role(st, "roleid", args.required_id("roleid")?).await?;
    changeable(&r, "changed")?;
    let mut tx = st.store.begin().await?;
    let current = db::permission_list(&mut tx, r.id).await?;
    match (args.list("ruleorder"), args.id::<Uuid>("ruleid")) {
        (Some(order), None) => {
            let mut ids = Vec::new();
            for o in order {
                let id = o
                    .trim()
                    .parse::<Uuid>()
                    .map_err(|_| ApiError::invalid_id("ruleorder", o))?;
                ids.push(id);
            }
            let have: BTreeMap<Uuid, ()> = current.iter().map(|p| (p.id, ())).collect();
            let want: BTreeMap<Uuid, ()> = ids.iter().map(|i| (*i, ())).collect();
            if have != want || ids.len() != current.len() {
                return param_err("ruleorder must list every rule of the role exactly once");
            }
            for (i, id) in ids.iter().enumerate() {
                db::permission_set_order(&mut tx, *id, i as i64).await?;
            }
        }
        (None, Some(rid)) => {
            let Some(perm) = args.text("permission") else {
                return param_err("permission is required with ruleid");
            };
            let perm = permission(perm)?;
            if !current.iter().any(|p| p.id == rid) {
                return Err(ApiError::invalid_id("ruleid", &rid.to_string()).into());
            }
            db::permission_set(&mut tx, rid, perm).await?;
        }
        _ => return param_err("Please provide either ruleorder, or ruleid and permission"),
    }
    Event::new(
        ctx,
        "ROLE.PERMISSION.UPDATE",
        format!("Rules of role {} updated", r.name),
    )
    .resource(r.id.0, "Role", Some(&r.name))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    st.role_rules.forget(r.id);
    Ok(success_body())
}

pub async fn delete_permission(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let id: Uuid = args.required_id("id")?;
    let p = {
        let mut c = st.store.read().await?;
        db::permission_get(&mut c, id).await?
    }
    .ok_or_else(|| ApiError::invalid_id("id", &id.to_string()))?;
    let r = role(st, "roleid", p.role_id).await?;
    changeable(&r, "changed")?;
    let mut tx = st.store.begin().await?;
    db::permission_delete(&mut tx, id).await?;
    Event::new(
        ctx,
        "ROLE.PERMISSION.DELETE",
        format!("Rule {} removed from role {}", p.rule, r.name),
    )
    .resource(r.id.0, "Role", Some(&r.name))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    st.role_rules.forget(r.id);
    Ok(success_body())
}
