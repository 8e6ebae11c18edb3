//! Regions (CloudStack's `region`): an id, a name and the API endpoint of each; region 1 is
//! this cloud.

use sqlx::{AnyConnection, Row};

use crate::sql::Sql;
use crate::{DbError, Result};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegionRow {
    pub id: i64,
    pub name: String,
    pub endpoint: String,
}

pub async fn region_list(conn: &mut AnyConnection) -> Result<Vec<RegionRow>> {
    let rows = sqlx::query("SELECT id, name, endpoint FROM regions ORDER BY id")
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(RegionRow {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                endpoint: r.try_get("endpoint")?,
            })
        })
        .collect()
}

/// Adds a region; a taken id or name is a [`DbError::Conflict`].
pub async fn region_insert(conn: &mut AnyConnection, r: &RegionRow) -> Result<()> {
    let mut q = Sql::new("INSERT INTO regions (id, name, endpoint) VALUES (");
    q.bind(r.id)
        .push(", ")
        .bind(r.name.clone())
        .push(", ")
        .bind(r.endpoint.clone())
        .push(")");
    q.query().execute(conn).await.map_err(DbError::classify)?;
    Ok(())
}

/// Renames a region or changes its endpoint; a taken name is a [`DbError::Conflict`].
pub async fn region_update(conn: &mut AnyConnection, r: &RegionRow) -> Result<bool> {
    let mut q = Sql::new("UPDATE regions SET name = ");
    q.bind(r.name.clone())
        .and(", endpoint = ", r.endpoint.clone())
        .and(" WHERE id = ", r.id);
    Ok(q.query()
        .execute(conn)
        .await
        .map_err(DbError::classify)?
        .rows_affected()
        > 0)
}

pub async fn region_remove(conn: &mut AnyConnection, id: i64) -> Result<bool> {
    let mut q = Sql::new("DELETE FROM regions WHERE id = ");
    q.bind(id);
    Ok(q.query().execute(conn).await?.rows_affected() > 0)
}
