//! Project roles (CloudStack's ProjectRoleManager): createProjectRole, listProjectRoles,
//! updateProjectRole, deleteProjectRole and their rules (createProjectRolePermission,
//! listProjectRolePermissions, updateProjectRolePermission, deleteProjectRolePermission).
//! A project's Admins (and admins over its domain) manage them; members list them. A Regular
//! member with a role may call, in the project, what the role's first matching rule allows
//! (`projectscope::check_project_role`).

use db::{ProjectRolePermissionRow, ProjectRoleRow};
use model::rules::{Permission, Rule};

use super::*;

fn role_view(r: &ProjectRoleRow) -> Value {
    json!({
        "id": r.id,
        "name": r.name,
        "description": r.description,
        "projectid": r.project_id,
    })
}

fn permission_view(p: &ProjectRolePermissionRow, role: &ProjectRoleRow) -> Value {
    json!({
        "id": p.id,
        "projectroleid": p.project_role_id,
        "projectrolename": role.name,
        "projectid": p.project_id,
        "rule": p.rule.as_str(),
        "permission": p.permission.as_str(),
        "description": p.description,
    })
}

/// The role `id` of project `p`.
async fn role_of(st: &State, p: &ProjectRow, param: &str, id: Uuid) -> AppResult<ProjectRoleRow> {
    let mut c = st.store.read().await?;
    db::project_role_get(&mut c, p.id, id)
        .await?
        .ok_or_else(|| ApiError::invalid_id(param, &id.to_string()).into())
}

/// Checks a project role given to a member (`projectroleid`): it must be the project's.
pub(crate) async fn member_role(
    st: &State,
    p: &ProjectRow,
    args: &Args,
) -> AppResult<Option<Uuid>> {
    match args.uuid("projectroleid") {
        None => Ok(None),
        Some(id) => Ok(Some(role_of(st, p, "projectroleid", id).await?.id)),
    }
}

fn name_arg(args: &Args) -> AppResult<Option<String>> {
    match args.text("name").map(str::trim) {
        Some("") => param_err("The project role's name must not be empty"),
        Some(n) if n.chars().count() > 255 => param_err("The project role's name is too long"),
        Some(n) => Ok(Some(n.to_string())),
        None => Ok(None),
    }
}

pub async fn create_role(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let p = managed(st, ctx, "projectid", args.required_id("projectid")?).await?;
    let name =
        name_arg(args)?.ok_or_else(|| ApiError::missing_param("createProjectRole", "name"))?;
    let r = ProjectRoleRow {
        id: Uuid::new_v4(),
        project_id: p.id,
        name: name.clone(),
        description: args.text("description").unwrap_or_default().to_string(),
    };
    let mut tx = st.store.begin().await?;
    match db::project_role_insert(&mut tx, &r).await {
        Ok(()) => {}
        Err(DbError::Conflict(_)) => {
            return param_err(format!(
                "A project role named {name} already exists in project {}",
                p.name
            ))
        }
        Err(e) => return Err(e.into()),
    }
    Event::new(
        ctx,
        "PROJECT.ROLE.CREATE",
        format!("Project role {name} created"),
    )
    .resource(p.id, "Project", Some(&p.name))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(json!({ "projectrole": role_view(&r) }))
}

pub async fn list_roles(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let p = used(st, ctx, "projectid", args.required_id("projectid")?).await?;
    let mut rows = {
        let mut c = st.store.read().await?;
        db::project_role_list(
            &mut c,
            p.id,
            args.text("name").map(str::trim),
            args.text("keyword").map(str::trim),
        )
        .await?
    };
    if let Some(id) = args.uuid("projectroleid") {
        rows.retain(|r| r.id == id);
    }
    let total = rows.len() as u64;
    let page: Vec<ProjectRoleRow> = args.page.slice(rows);
    Ok(list_body(
        "projectrole",
        total,
        page.iter().map(role_view).collect(),
    ))
}

pub async fn update_role(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let p = managed(st, ctx, "projectid", args.required_id("projectid")?).await?;
    let mut r = role_of(st, &p, "id", args.required_id("id")?).await?;
    if let Some(n) = name_arg(args)? {
        r.name = n;
    }
    if let Some(d) = args.text("description") {
        r.description = d.to_string();
    }
    let mut tx = st.store.begin().await?;
    match db::project_role_update(&mut tx, &r).await {
        Ok(_) => {}
        Err(DbError::Conflict(_)) => {
            return param_err(format!(
                "A project role named {} already exists in project {}",
                r.name, p.name
            ))
        }
        Err(e) => return Err(e.into()),
    }
    Event::new(
        ctx,
        "PROJECT.ROLE.UPDATE",
        format!("Project role {} updated", r.name),
    )
    .resource(p.id, "Project", Some(&p.name))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(json!({ "projectrole": role_view(&r) }))
}

pub async fn delete_role(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let p = managed(st, ctx, "projectid", args.required_id("projectid")?).await?;
    let r = role_of(st, &p, "id", args.required_id("id")?).await?;
    let mut tx = st.store.begin().await?;
    if db::project_role_holders(&mut tx, r.id).await? > 0 {
        return param_err(format!(
            "Project role {} cannot be deleted: project members or invitations have it",
            r.name
        ));
    }
    db::project_role_delete(&mut tx, r.id).await?;
    Event::new(
        ctx,
        "PROJECT.ROLE.DELETE",
        format!("Project role {} deleted", r.name),
    )
    .resource(p.id, "Project", Some(&p.name))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(success_body())
}

// --- rules -----------------------------------------------------------------------------------

pub async fn create_permission(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let p = managed(st, ctx, "projectid", args.required_id("projectid")?).await?;
    let role = role_of(st, &p, "projectroleid", args.required_id("projectroleid")?).await?;
    let text = args.required_str("rule")?;
    let rule = Rule::parse(text).ok_or_else(|| {
        ApiError::param(format!(
            "Invalid rule {text}: an API name, or a pattern of letters, digits and *"
        ))
    })?;
    let ptext = args.required_str("permission")?;
    let permission = Permission::parse(ptext)
        .ok_or_else(|| ApiError::param(format!("Invalid permission {ptext}: allow or deny")))?;
    let row = ProjectRolePermissionRow {
        id: Uuid::new_v4(),
        project_role_id: role.id,
        project_id: p.id,
        rule,
        permission,
        description: args.text("description").unwrap_or_default().to_string(),
        sort_order: 0,
    };
    let mut tx = st.store.begin().await?;
    db::project_permission_insert(&mut tx, &row).await?;
    Event::new(
        ctx,
        "PROJECT.ROLE.PERMISSION.CREATE",
        format!(
            "Rule {} {} added to project role {}",
            row.permission.as_str(),
            row.rule.as_str(),
            role.name
        ),
    )
    .resource(p.id, "Project", Some(&p.name))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(json!({ "projectrolepermission": permission_view(&row, &role) }))
}

pub async fn list_permissions(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let p = used(st, ctx, "projectid", args.required_id("projectid")?).await?;
    let roles = match args.uuid("projectroleid") {
        Some(id) => vec![role_of(st, &p, "projectroleid", id).await?],
        None => {
            let mut c = st.store.read().await?;
            db::project_role_list(&mut c, p.id, None, None).await?
        }
    };
    let mut out = Vec::new();
    let mut c = st.store.read().await?;
    for r in &roles {
        for x in db::project_permission_list(&mut c, r.id).await? {
            out.push(permission_view(&x, r));
        }
    }
    Ok(list_body("projectrolepermission", out.len() as u64, out))
}

pub async fn update_permission(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let p = managed(st, ctx, "projectid", args.required_id("projectid")?).await?;
    let role = role_of(st, &p, "projectroleid", args.required_id("projectroleid")?).await?;
    let order = args.list("ruleorder").map(|l| l.to_vec());
    let single = args.uuid("projectrolepermissionid");
    let mut tx = st.store.begin().await?;
    let current = db::project_permission_list(&mut tx, role.id).await?;
    match (order, single) {
        (Some(ids), None) => {
            // The whole new order: exactly the role's rules, each once.
            let ids: Vec<Uuid> = ids
                .iter()
                .map(|s| s.trim().parse::<Uuid>())
                .collect::<Result<_, _>>()
                .map_err(|_| ApiError::param("ruleorder must list the role's rule ids"))?;
            let mut given = ids.clone();
            given.sort();
            given.dedup();
            let mut have: Vec<Uuid> = current.iter().map(|x| x.id).collect();
            have.sort();
            if given != have || ids.len() != have.len() {
                return param_err(
                    "ruleorder must name every rule of the project role exactly once",
                );
            }
            for (i, id) in ids.iter().enumerate() {
                db::project_permission_set_order(&mut tx, *id, i as i64).await?;
            }
        }
        (None, Some(id)) => {
            if !current.iter().any(|x| x.id == id) {
                return Err(
                    ApiError::invalid_id("projectrolepermissionid", &id.to_string()).into(),
                );
            }
            let ptext = args.required_str("permission")?;
            let permission = Permission::parse(ptext).ok_or_else(|| {
                ApiError::param(format!("Invalid permission {ptext}: allow or deny"))
            })?;
            db::project_permission_set(&mut tx, id, permission).await?;
        }
        _ => return param_err("Give either ruleorder, or projectrolepermissionid with permission"),
    }
    Event::new(
        ctx,
        "PROJECT.ROLE.PERMISSION.UPDATE",
        format!("Rules of project role {} updated", role.name),
    )
    .resource(p.id, "Project", Some(&p.name))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(success_body())
}

pub async fn delete_permission(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let p = managed(st, ctx, "projectid", args.required_id("projectid")?).await?;
    let id: Uuid = args.required_id("id")?;
    let mut tx = st.store.begin().await?;
    let Some(x) = db::project_permission_get(&mut tx, p.id, id).await? else {
        return Err(ApiError::invalid_id("id", &id.to_string()).into());
    };
    db::project_permission_delete(&mut tx, x.id).await?;
    Event::new(
        ctx,
        "PROJECT.ROLE.PERMISSION.DELETE",
        format!("Rule {} of a project role deleted", x.rule.as_str()),
    )
    .resource(p.id, "Project", Some(&p.name))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(success_body())
}
