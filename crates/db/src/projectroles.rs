//! Project roles (CloudStack's `project_role`, `project_role_permissions`): named per project,
//! each an ordered list of allow/deny rules over command names; a member (an account, or one
//! user of it) may have one, which decides what it may call in the project.

use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use model::ids::ProjectId;
use model::rules::{Permission, Rule};
use uuid::Uuid;

use crate::mapper::parsed;
use crate::migrate::now_ms;
use crate::sql::Sql;
use crate::{DbError, Result};

#[derive(Clone, Debug, PartialEq)]
pub struct ProjectRoleRow {
    pub id: Uuid,
    pub project_id: ProjectId,
    pub name: String,
    pub description: String,
}

fn role_row(r: &AnyRow) -> Result<ProjectRoleRow> {
    use sqlx::Row;
    const T: &str = "project_roles";
    Ok(ProjectRoleRow {
        id: parsed(r, T, "id")?,
        project_id: parsed(r, T, "project_id")?,
        name: r.try_get("name")?,
        description: r.try_get("description")?,
    })
}

/// Adds a role; a name the project already uses is a [`DbError::Conflict`].
pub async fn project_role_insert(conn: &mut AnyConnection, r: &ProjectRoleRow) -> Result<()> {
    let mut q =
        Sql::new("INSERT INTO project_roles (id, project_id, name, description, created) VALUES (");
    q.bind(r.id.to_string())
        .push(", ")
        .bind(r.project_id)
        .push(", ")
        .bind(r.name.clone())
        .push(", ")
        .bind(r.description.clone())
        .push(", ")
        .bind(now_ms())
        .push(")");
    q.query().execute(conn).await.map_err(DbError::classify)?;
    Ok(())
}

/// Renames or redescribes a role (a taken name is a [`DbError::Conflict`]).
pub async fn project_role_update(conn: &mut AnyConnection, r: &ProjectRoleRow) -> Result<bool> {
    let mut q = Sql::new("UPDATE project_roles SET name = ");
    q.bind(r.name.clone())
        .and(", description = ", r.description.clone())
        .and(" WHERE id = ", r.id.to_string());
    Ok(q.query()
        .execute(conn)
        .await
        .map_err(DbError::classify)?
        .rows_affected()
        > 0)
}

/// Deletes a role and its rules.
pub async fn project_role_delete(conn: &mut AnyConnection, id: Uuid) -> Result<bool> {
    let mut q = Sql::new("DELETE FROM project_role_permissions WHERE project_role_id = ");
    q.bind(id.to_string());
    q.query().execute(&mut *conn).await?;
    let mut q = Sql::new("DELETE FROM project_roles WHERE id = ");
    q.bind(id.to_string());
    Ok(q.query().execute(conn).await?.rows_affected() > 0)
}

/// How many members (and pending invitations) have this role.
pub async fn project_role_holders(conn: &mut AnyConnection, id: Uuid) -> Result<u64> {
    use sqlx::Row;
    let mut q = Sql::new("SELECT COUNT(*) FROM project_members WHERE project_role_id = ");
    q.bind(id.to_string());
    let row = q.query().fetch_one(&mut *conn).await?;
    let members: i64 = row.try_get(0)?;
    let mut q = Sql::new(
        "SELECT COUNT(*) FROM project_invitations WHERE state = 'Pending' AND project_role_id = ",
    );
    q.bind(id.to_string());
    let row = q.query().fetch_one(conn).await?;
    let invitations: i64 = row.try_get(0)?;
    Ok((members + invitations).max(0) as u64)
}

pub async fn project_role_get(
    conn: &mut AnyConnection,
    project: ProjectId,
    id: Uuid,
) -> Result<Option<ProjectRoleRow>> {
    let mut q = Sql::new("SELECT * FROM project_roles WHERE id = ");
    q.bind(id.to_string()).and(" AND project_id = ", project);
    q.one(conn, role_row).await
}

/// A project's roles, by name (exact, case-insensitive) or keyword (in the name).
pub async fn project_role_list(
    conn: &mut AnyConnection,
    project: ProjectId,
    name: Option<&str>,
    keyword: Option<&str>,
) -> Result<Vec<ProjectRoleRow>> {
    let mut q = Sql::new("SELECT * FROM project_roles WHERE project_id = ");
    q.bind(project);
    if let Some(n) = name {
        q.and(" AND LOWER(name) = ", n.to_lowercase());
    }
    if let Some(k) = keyword {
        q.and(" AND LOWER(name) LIKE ", format!("%{}%", k.to_lowercase()));
    }
    q.push(" ORDER BY created, name");
    q.all(conn, role_row).await
}

/// One rule of a project role.
#[derive(Clone, Debug, PartialEq)]
pub struct ProjectRolePermissionRow {
    pub id: Uuid,
    pub project_role_id: Uuid,
    pub project_id: ProjectId,
    pub rule: Rule,
    pub permission: Permission,
    pub description: String,
    pub sort_order: i64,
}

fn permission_row(r: &AnyRow) -> Result<ProjectRolePermissionRow> {
    use sqlx::Row;
    const T: &str = "project_role_permissions";
    Ok(ProjectRolePermissionRow {
        id: parsed(r, T, "id")?,
        project_role_id: parsed(r, T, "project_role_id")?,
        project_id: parsed(r, T, "project_id")?,
        rule: parsed(r, T, "rule")?,
        permission: parsed(r, T, "permission")?,
        description: r.try_get("description")?,
        sort_order: r.try_get("sort_order")?,
    })
}

/// Appends a rule after the role's last one.
pub async fn project_permission_insert(
    conn: &mut AnyConnection,
    p: &ProjectRolePermissionRow,
) -> Result<()> {
    use sqlx::Row;
    let mut q = Sql::new(
        "SELECT COALESCE(MAX(sort_order), -1) + 1 FROM project_role_permissions WHERE project_role_id = ",
    );
    q.bind(p.project_role_id.to_string());
    let next: i64 = q.query().fetch_one(&mut *conn).await?.try_get(0)?;
    let mut q = Sql::new(
        "INSERT INTO project_role_permissions (id, project_role_id, project_id, rule, permission, description, sort_order) VALUES (",
    );
    q.bind(p.id.to_string())
        .push(", ")
        .bind(p.project_role_id.to_string())
        .push(", ")
        .bind(p.project_id)
        .push(", ")
        .bind(p.rule.as_str().to_string())
        .push(", ")
        .bind(p.permission.as_str())
        .push(", ")
        .bind(p.description.clone())
        .push(", ")
        .bind(next)
        .push(")");
    q.query().execute(conn).await.map_err(DbError::classify)?;
    Ok(())
}

/// A role's rules in order.
pub async fn project_permission_list(
    conn: &mut AnyConnection,
    role: Uuid,
) -> Result<Vec<ProjectRolePermissionRow>> {
    let mut q = Sql::new("SELECT * FROM project_role_permissions WHERE project_role_id = ");
    q.bind(role.to_string()).push(" ORDER BY sort_order, id");
    q.all(conn, permission_row).await
}

pub async fn project_permission_get(
    conn: &mut AnyConnection,
    project: ProjectId,
    id: Uuid,
) -> Result<Option<ProjectRolePermissionRow>> {
    let mut q = Sql::new("SELECT * FROM project_role_permissions WHERE id = ");
    q.bind(id.to_string()).and(" AND project_id = ", project);
    q.one(conn, permission_row).await
}

pub async fn project_permission_set(
    conn: &mut AnyConnection,
    id: Uuid,
    permission: Permission,
) -> Result<bool> {
    let mut q = Sql::new("UPDATE project_role_permissions SET permission = ");
    q.bind(permission.as_str())
        .and(" WHERE id = ", id.to_string());
    Ok(q.query().execute(conn).await?.rows_affected() > 0)
}

pub async fn project_permission_set_order(
    conn: &mut AnyConnection,
    id: Uuid,
    order: i64,
) -> Result<bool> {
    let mut q = Sql::new("UPDATE project_role_permissions SET sort_order = ");
    q.bind(order).and(" WHERE id = ", id.to_string());
    Ok(q.query().execute(conn).await?.rows_affected() > 0)
}

pub async fn project_permission_delete(conn: &mut AnyConnection, id: Uuid) -> Result<bool> {
    let mut q = Sql::new("DELETE FROM project_role_permissions WHERE id = ");
    q.bind(id.to_string());
    Ok(q.query().execute(conn).await?.rows_affected() > 0)
}
