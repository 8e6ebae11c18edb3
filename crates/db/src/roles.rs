//! Roles and their permissions (CloudStack's dynamic roles): a role's rules in `sort_order`,
//! each an API name pattern with allow or deny.

use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use model::identity::RoleType;
use model::rules::{Permission, Rule};
use model::RoleId;
use uuid::Uuid;

use crate::mapper::{map_row, parsed};
use crate::migrate::now_ms;
use crate::rows::*;
use crate::sql::Sql;
use crate::{DbError, Result};

fn role_row(r: &AnyRow) -> Result<RoleRow> {
    map_row!(
        r,
        "roles",
        RoleRow {
            id: "id",
            name: "name",
            role_type: "role_type",
            description: "description",
            is_default: "is_default",
            read_only: "read_only",
            is_public: "is_public",
            state: "state",
        }
    )
}

pub async fn role_insert(conn: &mut AnyConnection, role: &RoleRow) -> Result<()> {
    let mut q = Sql::new("INSERT INTO roles (id, name, role_type, description, is_default, read_only, is_public, state, created) VALUES (");
    q.bind(role.id)
        .push(", ")
        .bind(role.name.clone())
        .push(", ")
        .bind(role.role_type.as_str())
        .push(", ");
    q.bind(role.description.clone())
        .push(", ")
        .bind(role.is_default)
        .push(", ")
        .bind(role.read_only)
        .push(", ")
        .bind(role.is_public)
        .push(", ")
        .bind(role.state.clone());
    q.push(", ").bind(now_ms()).push(")");
    q.query().execute(conn).await.map_err(DbError::classify)?;
    Ok(())
}

/// Name, type, description, public flag and state of a role.
pub async fn role_update(conn: &mut AnyConnection, role: &RoleRow) -> Result<bool> {
    let mut q = Sql::new("UPDATE roles SET name = ");
    q.bind(role.name.clone())
        .and(", role_type = ", role.role_type.as_str())
        .and(", description = ", role.description.clone())
        .and(", is_public = ", role.is_public)
        .and(", state = ", role.state.clone())
        .and(" WHERE id = ", role.id);
    Ok(q.query()
        .execute(conn)
        .await
        .map_err(DbError::classify)?
        .rows_affected()
        > 0)
}

/// Deletes a role and its rules (the caller checked no account uses it).
pub async fn role_delete(conn: &mut AnyConnection, id: RoleId) -> Result<bool> {
    let mut q = Sql::new("DELETE FROM role_permissions WHERE role_id = ");
    q.bind(id);
    q.query().execute(&mut *conn).await?;
    let mut q = Sql::new("DELETE FROM roles WHERE id = ");
    q.bind(id);
    Ok(q.query().execute(conn).await?.rows_affected() > 0)
}

/// How many live accounts have the role.
pub async fn role_accounts(conn: &mut AnyConnection, id: RoleId) -> Result<u64> {
    let mut q = Sql::new("SELECT COUNT(*) FROM accounts WHERE removed IS NULL AND role_id = ");
    q.bind(id);
    crate::identity::count(conn, &q).await
}

pub async fn role_get(conn: &mut AnyConnection, id: RoleId) -> Result<Option<RoleRow>> {
    let mut q = Sql::new("SELECT * FROM roles WHERE id = ");
    q.bind(id);
    q.one(conn, role_row).await
}

/// The default (non read-only) role of a type.
pub async fn role_default_for(conn: &mut AnyConnection, t: RoleType) -> Result<Option<RoleRow>> {
    let mut q =
        Sql::new("SELECT * FROM roles WHERE is_default = 1 AND read_only = 0 AND role_type = ");
    q.bind(t.as_str()).push(" ORDER BY created LIMIT 1");
    q.one(conn, role_row).await
}

pub async fn role_list(
    conn: &mut AnyConnection,
    id: Option<RoleId>,
    name: Option<&str>,
    role_type: Option<RoleType>,
    keyword: Option<&str>,
) -> Result<Vec<RoleRow>> {
    let mut q = Sql::new("SELECT * FROM roles WHERE 1 = 1");
    if let Some(id) = id {
        q.and(" AND id = ", id);
    }
    if let Some(n) = name {
        q.and(" AND lower(name) = lower(", n).push(")");
    }
    if let Some(t) = role_type {
        q.and(" AND role_type = ", t.as_str());
    }
    if let Some(k) = keyword {
        q.and(" AND lower(name) LIKE ", format!("%{}%", k.to_lowercase()));
    }
    q.push(" ORDER BY created, name");
    q.all(conn, role_row).await
}

// --- permissions ---------------------------------------------------------------------------

/// One rule of a role.
#[derive(Clone, Debug, PartialEq)]
pub struct RolePermissionRow {
    pub id: Uuid,
    pub role_id: RoleId,
    pub rule: Rule,
    pub permission: Permission,
    pub description: String,
    pub sort_order: i64,
}

fn permission_row(r: &AnyRow) -> Result<RolePermissionRow> {
    use sqlx::Row;
    const T: &str = "role_permissions";
    Ok(RolePermissionRow {
        id: parsed(r, T, "id")?,
        role_id: parsed(r, T, "role_id")?,
        rule: parsed(r, T, "rule")?,
        permission: parsed(r, T, "permission")?,
        description: r.try_get("description")?,
        sort_order: r.try_get("sort_order")?,
    })
}

/// Appends a rule after the role's last one (or at `sort_order` when given).
pub async fn permission_insert(conn: &mut AnyConnection, p: &RolePermissionRow) -> Result<()> {
    let mut q = Sql::new("INSERT INTO role_permissions (id, role_id, rule, permission, description, sort_order) VALUES (");
    q.bind(p.id.to_string())
        .push(", ")
        .bind(p.role_id)
        .push(", ")
        .bind(p.rule.as_str().to_string())
        .push(", ")
        .bind(p.permission.as_str())
        .push(", ")
        .bind(p.description.clone())
        .push(", ")
        .bind(p.sort_order)
        .push(")");
    q.query().execute(conn).await.map_err(DbError::classify)?;
    Ok(())
}

/// The next sort position of a role's rules.
pub async fn permission_next_order(conn: &mut AnyConnection, role: RoleId) -> Result<i64> {
    use sqlx::Row;
    let mut q =
        Sql::new("SELECT COALESCE(MAX(sort_order), -1) + 1 FROM role_permissions WHERE role_id = ");
    q.bind(role);
    let row = q.query().fetch_one(conn).await?;
    Ok(row.try_get::<i64, _>(0)?)
}

/// A role's rules in order.
pub async fn permission_list(
    conn: &mut AnyConnection,
    role: RoleId,
) -> Result<Vec<RolePermissionRow>> {
    let mut q = Sql::new("SELECT * FROM role_permissions WHERE role_id = ");
    q.bind(role).push(" ORDER BY sort_order, id");
    q.all(conn, permission_row).await
}

pub async fn permission_get(
    conn: &mut AnyConnection,
    id: Uuid,
) -> Result<Option<RolePermissionRow>> {
    let mut q = Sql::new("SELECT * FROM role_permissions WHERE id = ");
    q.bind(id.to_string());
    q.one(conn, permission_row).await
}

pub async fn permission_set(
    conn: &mut AnyConnection,
    id: Uuid,
    permission: Permission,
) -> Result<bool> {
    let mut q = Sql::new("UPDATE role_permissions SET permission = ");
    q.bind(permission.as_str())
        .and(" WHERE id = ", id.to_string());
    Ok(q.query().execute(conn).await?.rows_affected() > 0)
}

pub async fn permission_set_order(conn: &mut AnyConnection, id: Uuid, order: i64) -> Result<bool> {
    let mut q = Sql::new("UPDATE role_permissions SET sort_order = ");
    q.bind(order).and(" WHERE id = ", id.to_string());
    Ok(q.query().execute(conn).await?.rows_affected() > 0)
}

pub async fn permission_delete(conn: &mut AnyConnection, id: Uuid) -> Result<bool> {
    let mut q = Sql::new("DELETE FROM role_permissions WHERE id = ");
    q.bind(id.to_string());
    Ok(q.query().execute(conn).await?.rows_affected() > 0)
}
