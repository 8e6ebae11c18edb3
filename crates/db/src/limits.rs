//! Resource limits set explicitly for an account or a domain.

use sqlx::{AnyConnection, Row};

use crate::sql::Sql;
use crate::Result;

/// Whose limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitOwner {
    Account(model::AccountId),
    Domain(model::DomainId),
}

impl LimitOwner {
    fn parts(self) -> (&'static str, String) {
        match self {
            Self::Account(a) => ("account", a.to_string()),
            Self::Domain(d) => ("domain", d.to_string()),
        }
    }
}

/// The explicit limits of an owner, as (resource type ordinal, max).
pub async fn limit_list(conn: &mut AnyConnection, owner: LimitOwner) -> Result<Vec<(i64, i64)>> {
    let (kind, id) = owner.parts();
    let mut q = Sql::new("SELECT resource_type, max FROM resource_limits WHERE owner_kind = ");
    q.bind(kind)
        .and(" AND owner_id = ", id)
        .push(" ORDER BY resource_type");
    let rows = q.query().fetch_all(conn).await?;
    rows.iter()
        .map(|r| Ok((r.try_get("resource_type")?, r.try_get("max")?)))
        .collect()
}

/// Every explicitly set limit of accounts (`domains` false) or of domains, by owner id: one
/// query for a whole page of owners (only limits an operator set are rows; the rest are the
/// settings' defaults).
pub async fn limit_list_all(
    conn: &mut AnyConnection,
    domains: bool,
) -> Result<std::collections::HashMap<String, Vec<(i64, i64)>>> {
    let mut q =
        Sql::new("SELECT owner_id, resource_type, max FROM resource_limits WHERE owner_kind = ");
    q.bind(if domains { "domain" } else { "account" })
        .push(" ORDER BY owner_id, resource_type");
    let mut out: std::collections::HashMap<String, Vec<(i64, i64)>> = Default::default();
    for r in q.query().fetch_all(conn).await? {
        out.entry(r.try_get("owner_id")?)
            .or_default()
            .push((r.try_get("resource_type")?, r.try_get("max")?));
    }
    Ok(out)
}

/// Sets (inserts or replaces) an owner's limit for one type.
pub async fn limit_set(
    conn: &mut AnyConnection,
    owner: LimitOwner,
    resource_type: i64,
    max: i64,
) -> Result<()> {
    let (kind, id) = owner.parts();
    let mut q = Sql::new("DELETE FROM resource_limits WHERE owner_kind = ");
    q.bind(kind)
        .and(" AND owner_id = ", id.clone())
        .and(" AND resource_type = ", resource_type);
    q.query().execute(&mut *conn).await?;
    let mut q =
        Sql::new("INSERT INTO resource_limits (owner_kind, owner_id, resource_type, max) VALUES (");
    q.bind(kind)
        .push(", ")
        .bind(id)
        .push(", ")
        .bind(resource_type)
        .push(", ")
        .bind(max)
        .push(")");
    q.query().execute(conn).await?;
    Ok(())
}

/// Forgets every limit of an owner (account or domain removal).
pub async fn limit_delete_all(conn: &mut AnyConnection, owner: LimitOwner) -> Result<()> {
    let (kind, id) = owner.parts();
    let mut q = Sql::new("DELETE FROM resource_limits WHERE owner_kind = ");
    q.bind(kind).and(" AND owner_id = ", id);
    q.query().execute(conn).await?;
    Ok(())
}
