//! Admission policies (a Canopy addition): root-admin rules that rewrite a deploy request of a
//! runtime class before placement. The rule itself lives in `attrs` (see
//! `domain::admission::Policy`); one policy per runtime class.

use sqlx::any::AnyRow;
use sqlx::AnyConnection;
use uuid::Uuid;

use crate::mapper::map_row;
use crate::sql::Sql;
use crate::{DbError, Result};

#[derive(Clone, Debug, PartialEq)]
pub struct AdmissionRow {
    pub id: Uuid,
    pub name: String,
    pub runtime_class: String,
    pub attrs: serde_json::Value,
    pub created: i64,
}

fn row(r: &AnyRow) -> Result<AdmissionRow> {
    map_row!(r, "admission_policies", AdmissionRow {
        id: "id",
        name: "name",
        runtime_class: "runtime_class",
        attrs: (json "attrs"),
        created: "created",
    })
}

/// Every policy (or the one with this id), by name.
pub async fn admission_list(
    conn: &mut AnyConnection,
    id: Option<Uuid>,
) -> Result<Vec<AdmissionRow>> {
    let mut q = Sql::new("SELECT * FROM admission_policies WHERE 1 = 1");
    if let Some(id) = id {
        q.and(" AND id = ", id.to_string());
    }
    q.push(" ORDER BY name");
    let rows = q.query().fetch_all(conn).await?;
    rows.iter().map(row).collect()
}

/// Adds a policy; a name or runtime class already taken is a `Conflict`.
pub async fn admission_insert(conn: &mut AnyConnection, r: &AdmissionRow) -> Result<()> {
    let mut q = Sql::new(
        "INSERT INTO admission_policies (id, name, runtime_class, attrs, created) VALUES (",
    );
    q.bind(r.id.to_string())
        .push(", ")
        .bind(r.name.clone())
        .push(", ")
        .bind(r.runtime_class.clone())
        .push(", ")
        .bind(r.attrs.to_string())
        .push(", ")
        .bind(r.created)
        .push(")");
    q.query().execute(conn).await.map_err(DbError::classify)?;
    Ok(())
}

/// Writes a policy's name, runtime class and rule.
pub async fn admission_update(conn: &mut AnyConnection, r: &AdmissionRow) -> Result<()> {
    let mut q = Sql::new("UPDATE admission_policies SET name = ");
    q.bind(r.name.clone())
        .and(", runtime_class = ", r.runtime_class.clone())
        .and(", attrs = ", r.attrs.to_string())
        .and(" WHERE id = ", r.id.to_string());
    q.query().execute(conn).await.map_err(DbError::classify)?;
    Ok(())
}

/// Deletes a policy; whether it existed.
pub async fn admission_delete(conn: &mut AnyConnection, id: Uuid) -> Result<bool> {
    let mut q = Sql::new("DELETE FROM admission_policies WHERE id = ");
    q.bind(id.to_string());
    Ok(q.query().execute(conn).await?.rows_affected() > 0)
}
