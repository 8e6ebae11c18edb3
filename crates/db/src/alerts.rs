//! Alerts: what went wrong in the cloud for its administrators (a host unreachable or Down,
//! a management server gone, a VM running where the database does not place it), as
//! CloudStack's `alert` table; listed, archived and deleted by root admins.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use uuid::Uuid;

use crate::migrate::now_ms;
use crate::sql::Sql;
use crate::{DbError, Result};

#[derive(Clone, Debug, PartialEq)]
pub struct AlertRow {
    pub id: Uuid,
    /// CloudStack's alert type ordinal (7 host, 8 user VM, 14 management server…).
    pub alert_type: i64,
    pub name: String,
    pub subject: String,
    pub zone_id: Option<Uuid>,
    pub pod_id: Option<Uuid>,
    pub cluster_id: Option<Uuid>,
    pub created: i64,
    pub archived: bool,
}

#[derive(Clone, Debug, Default)]
pub struct AlertFilter {
    pub id: Option<Uuid>,
    pub ids: Vec<Uuid>,
    pub alert_type: Option<i64>,
    pub name: Option<String>,
    pub keyword: Option<String>,
    pub start: Option<i64>,
    pub end: Option<i64>,
    pub archived: Option<bool>,
}

fn uuid_col(r: &AnyRow, col: &'static str) -> Result<Option<Uuid>> {
    let v: Option<String> = r.try_get(col)?;
    v.map(|s| {
        s.parse().map_err(|_| DbError::Corrupt {
            table: "alerts",
            column: col,
            value: s.clone(),
        })
    })
    .transpose()
}

fn alert_row(r: &AnyRow) -> Result<AlertRow> {
    Ok(AlertRow {
        id: uuid_col(r, "id")?.ok_or(DbError::Corrupt {
            table: "alerts",
            column: "id",
            value: String::new(),
        })?,
        alert_type: r.try_get("alert_type")?,
        name: r.try_get("name")?,
        subject: r.try_get("subject")?,
        zone_id: uuid_col(r, "zone_id")?,
        pod_id: uuid_col(r, "pod_id")?,
        cluster_id: uuid_col(r, "cluster_id")?,
        created: r.try_get("created")?,
        archived: r.try_get::<i64, _>("archived")? != 0,
    })
}

pub async fn alert_insert(
    conn: &mut AnyConnection,
    alert_type: i64,
    name: &str,
    subject: &str,
    place: (Option<Uuid>, Option<Uuid>, Option<Uuid>),
) -> Result<Uuid> {
    let id = Uuid::new_v4();
    let mut q = Sql::new("INSERT INTO alerts (id, alert_type, name, subject, zone_id, pod_id, cluster_id, created, archived) VALUES (");
    q.bind(id.to_string())
        .push(", ")
        .bind(alert_type)
        .push(", ")
        .bind(name)
        .push(", ")
        .bind(subject)
        .push(", ")
        .bind(place.0.map(|u| u.to_string()))
        .push(", ")
        .bind(place.1.map(|u| u.to_string()))
        .push(", ")
        .bind(place.2.map(|u| u.to_string()))
        .push(", ")
        .bind(now_ms())
        .push(", 0)");
    q.query().execute(conn).await.map_err(DbError::classify)?;
    Ok(id)
}

fn alert_where(q: &mut Sql, f: &AlertFilter) {
    if let Some(id) = f.id {
        q.and(" AND id = ", id.to_string());
    }
    if !f.ids.is_empty() {
        q.push(" AND id IN (");
        for (i, id) in f.ids.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.bind(id.to_string());
        }
        q.push(")");
    }
    if let Some(t) = f.alert_type {
        q.and(" AND alert_type = ", t);
    }
    if let Some(n) = &f.name {
        q.and(" AND name = ", n.clone());
    }
    if let Some(k) = &f.keyword {
        q.and(
            " AND lower(subject) LIKE ",
            format!("%{}%", k.to_lowercase()),
        );
    }
    if let Some(s) = f.start {
        q.and(" AND created >= ", s);
    }
    if let Some(e) = f.end {
        q.and(" AND created <= ", e);
    }
    if let Some(a) = f.archived {
        q.and(" AND archived = ", a);
    }
}

/// Newest first.
pub async fn alert_list(conn: &mut AnyConnection, f: &AlertFilter) -> Result<Vec<AlertRow>> {
    let mut q = Sql::new("SELECT * FROM alerts WHERE 1 = 1");
    alert_where(&mut q, f);
    q.push(" ORDER BY created DESC, id");
    q.all(conn, alert_row).await
}

pub async fn alert_archive(conn: &mut AnyConnection, f: &AlertFilter) -> Result<u64> {
    let mut q = Sql::new("UPDATE alerts SET archived = 1 WHERE 1 = 1");
    alert_where(&mut q, f);
    Ok(q.query().execute(conn).await?.rows_affected())
}

pub async fn alert_delete(conn: &mut AnyConnection, f: &AlertFilter) -> Result<u64> {
    let mut q = Sql::new("DELETE FROM alerts WHERE 1 = 1");
    alert_where(&mut q, f);
    Ok(q.query().execute(conn).await?.rows_affected())
}
