//! Resource details (CloudStack's `*_details` tables behind add/list/removeResourceDetail):
//! key/value pairs on a resource of a type, with a display flag. A VM's details are its own
//! (`vms.attrs.details`); every other type's are here.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use uuid::Uuid;

use crate::sql::Sql;
use crate::{DbError, Result};

#[derive(Clone, Debug, PartialEq)]
pub struct DetailRow {
    pub resource_type: String,
    pub resource_id: Uuid,
    pub name: String,
    pub value: String,
    pub for_display: bool,
}

fn detail_row(r: &AnyRow) -> Result<DetailRow> {
    let id: String = r.try_get("resource_id")?;
    Ok(DetailRow {
        resource_type: r.try_get("resource_type")?,
        resource_id: id.parse().map_err(|_| DbError::Corrupt {
            table: "resource_details",
            column: "resource_id",
            value: id.clone(),
        })?,
        name: r.try_get("name")?,
        value: r.try_get("value")?,
        for_display: r.try_get::<i64, _>("for_display")? != 0,
    })
}

/// Sets a detail (replacing the value of an existing key).
pub async fn detail_set(conn: &mut AnyConnection, d: &DetailRow) -> Result<()> {
    let mut q = Sql::new("DELETE FROM resource_details WHERE resource_type = ");
    q.bind(d.resource_type.clone())
        .and(" AND resource_id = ", d.resource_id.to_string())
        .and(" AND name = ", d.name.clone());
    q.query().execute(&mut *conn).await?;
    let mut q = Sql::new(
        "INSERT INTO resource_details (resource_type, resource_id, name, value, for_display) VALUES (",
    );
    q.bind(d.resource_type.clone())
        .push(", ")
        .bind(d.resource_id.to_string())
        .push(", ")
        .bind(d.name.clone())
        .push(", ")
        .bind(d.value.clone())
        .push(", ")
        .bind(d.for_display)
        .push(")");
    q.query().execute(conn).await.map_err(DbError::classify)?;
    Ok(())
}

/// A resource's details, by key when given.
pub async fn detail_list(
    conn: &mut AnyConnection,
    resource_type: &str,
    resource_id: Uuid,
    name: Option<&str>,
) -> Result<Vec<DetailRow>> {
    let mut q = Sql::new("SELECT * FROM resource_details WHERE resource_type = ");
    q.bind(resource_type)
        .and(" AND resource_id = ", resource_id.to_string());
    if let Some(n) = name {
        q.and(" AND name = ", n);
    }
    q.push(" ORDER BY name");
    q.all(conn, detail_row).await
}

/// Removes a resource's detail (every one without a key); how many.
pub async fn detail_remove(
    conn: &mut AnyConnection,
    resource_type: &str,
    resource_id: Uuid,
    name: Option<&str>,
) -> Result<u64> {
    let mut q = Sql::new("DELETE FROM resource_details WHERE resource_type = ");
    q.bind(resource_type)
        .and(" AND resource_id = ", resource_id.to_string());
    if let Some(n) = name {
        q.and(" AND name = ", n);
    }
    Ok(q.query().execute(conn).await?.rows_affected())
}
