//! Dedicated resources (`dedicateZone`/`Pod`/`Cluster`/`Host`): a zone, pod, cluster or host
//! kept for one domain (its accounts and subdomains') or one account.

use model::{AccountId, DomainId};
use sqlx::any::AnyRow;
use sqlx::AnyConnection;
use uuid::Uuid;

use crate::mapper::map_row;
use crate::sql::Sql;
use crate::{DbError, Result};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DedicationRow {
    pub id: Uuid,
    /// Zone, Pod, Cluster or Host.
    pub kind: String,
    pub resource_id: Uuid,
    pub domain_id: DomainId,
    pub account_id: Option<AccountId>,
    pub created: i64,
}

fn row(r: &AnyRow) -> Result<DedicationRow> {
    map_row!(
        r,
        "dedications",
        DedicationRow {
            id: "id",
            kind: "kind",
            resource_id: "resource_id",
            domain_id: "domain_id",
            account_id: "account_id",
            created: "created",
        }
    )
}

/// Every dedication (of one kind, and/or of one resource).
pub async fn dedication_list(
    conn: &mut AnyConnection,
    kind: Option<&str>,
    resource: Option<Uuid>,
) -> Result<Vec<DedicationRow>> {
    let mut q = Sql::new("SELECT * FROM dedications WHERE 1 = 1");
    if let Some(k) = kind {
        q.and(" AND kind = ", k.to_string());
    }
    if let Some(r) = resource {
        q.and(" AND resource_id = ", r.to_string());
    }
    q.push(" ORDER BY created, id");
    let rows = q.query().fetch_all(conn).await?;
    rows.iter().map(row).collect()
}

/// Adds a dedication; a resource already dedicated is a `Conflict`.
pub async fn dedication_insert(conn: &mut AnyConnection, d: &DedicationRow) -> Result<()> {
    let mut q = Sql::new(
        "INSERT INTO dedications (id, kind, resource_id, domain_id, account_id, created) VALUES (",
    );
    q.bind(d.id.to_string())
        .push(", ")
        .bind(d.kind.clone())
        .push(", ")
        .bind(d.resource_id.to_string())
        .push(", ")
        .bind(d.domain_id)
        .push(", ")
        .bind(d.account_id.map(|a| a.to_string()))
        .push(", ")
        .bind(d.created)
        .push(")");
    q.query().execute(conn).await.map_err(DbError::classify)?;
    Ok(())
}

/// Releases a resource; whether it was dedicated.
pub async fn dedication_delete(conn: &mut AnyConnection, resource: Uuid) -> Result<bool> {
    let mut q = Sql::new("DELETE FROM dedications WHERE resource_id = ");
    q.bind(resource.to_string());
    Ok(q.query().execute(conn).await?.rows_affected() > 0)
}
