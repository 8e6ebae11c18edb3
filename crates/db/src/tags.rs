//! Resource tags: key/value pairs users attach to their resources (createTags).

use sqlx::any::AnyRow;
use sqlx::AnyConnection;
use uuid::Uuid;

use model::ids::{AccountId, DomainId};

use crate::identity::{count, Listed};
use crate::mapper::map_row;
use crate::migrate::now_ms;
use crate::sql::{OwnerScope, Sql};
use crate::{DbError, Result};

#[derive(Clone, Debug, PartialEq)]
pub struct TagRow {
    pub id: Uuid,
    /// The wire name: `Template`, `ISO`, `UserVm`…
    pub resource_type: String,
    pub resource_id: Uuid,
    pub key: String,
    pub value: String,
    pub account_id: AccountId,
    pub account_name: String,
    pub domain_id: DomainId,
    pub domain_name: String,
    pub domain_path: String,
    pub customer: Option<String>,
}

/// A new tag.
#[derive(Clone, Debug)]
pub struct NewTag {
    pub resource_type: String,
    pub resource_id: Uuid,
    pub key: String,
    pub value: String,
    pub account_id: AccountId,
    pub domain_id: DomainId,
    pub customer: Option<String>,
}

#[derive(Clone, Debug)]
pub struct TagFilter {
    pub scope: OwnerScope,
    pub resource_type: Option<String>,
    pub resource_ids: Vec<Uuid>,
    pub key: Option<String>,
    pub value: Option<String>,
    pub customer: Option<String>,
    pub keyword: Option<String>,
    pub offset: u64,
    pub limit: Option<u64>,
}

impl TagFilter {
    pub fn all() -> Self {
        Self {
            scope: OwnerScope::All,
            resource_type: None,
            resource_ids: Vec::new(),
            key: None,
            value: None,
            customer: None,
            keyword: None,
            offset: 0,
            limit: None,
        }
    }
}

const COLS: &str = "t.id AS t_id, t.resource_type AS t_rtype, t.resource_id AS t_rid, t.tag_key AS t_key, \
     t.tag_value AS t_value, t.account_id AS t_acct, a.name AS a_name, t.domain_id AS t_dom, d.name AS d_name, \
     d.path AS d_path, t.customer AS t_customer";
const FROM: &str = " FROM resource_tags t JOIN accounts a ON a.id = t.account_id \
     JOIN domains d ON d.id = t.domain_id WHERE 1 = 1";

fn tag_row(r: &AnyRow) -> Result<TagRow> {
    map_row!(
        r,
        "resource_tags",
        TagRow {
            id: "t_id",
            resource_type: "t_rtype",
            resource_id: "t_rid",
            key: "t_key",
            value: "t_value",
            account_id: "t_acct",
            account_name: "a_name",
            domain_id: "t_dom",
            domain_name: "d_name",
            domain_path: "d_path",
            customer: "t_customer",
        }
    )
}

/// Stores a tag; a key already on the resource is a [`DbError::Conflict`].
pub async fn tag_insert(conn: &mut AnyConnection, t: &NewTag) -> Result<Uuid> {
    let id = Uuid::new_v4();
    let mut q = Sql::new("INSERT INTO resource_tags (id, resource_type, resource_id, tag_key, tag_value, account_id, domain_id, customer, created) VALUES (");
    q.bind(id.to_string())
        .push(", ")
        .bind(t.resource_type.clone())
        .push(", ")
        .bind(t.resource_id.to_string())
        .push(", ")
        .bind(t.key.clone());
    q.push(", ")
        .bind(t.value.clone())
        .push(", ")
        .bind(t.account_id)
        .push(", ")
        .bind(t.domain_id)
        .push(", ");
    q.bind(t.customer.clone())
        .push(", ")
        .bind(now_ms())
        .push(")");
    q.query().execute(conn).await.map_err(DbError::classify)?;
    Ok(id)
}

fn tag_where(q: &mut Sql, f: &TagFilter) {
    f.scope.push(q, "t.account_id", "d");
    if let Some(t) = &f.resource_type {
        q.and(" AND t.resource_type = ", t.clone());
    }
    if !f.resource_ids.is_empty() {
        q.push(" AND t.resource_id IN (");
        for (i, id) in f.resource_ids.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.bind(id.to_string());
        }
        q.push(")");
    }
    if let Some(k) = &f.key {
        q.and(" AND t.tag_key = ", k.clone());
    }
    if let Some(v) = &f.value {
        q.and(" AND t.tag_value = ", v.clone());
    }
    if let Some(c) = &f.customer {
        q.and(" AND t.customer = ", c.clone());
    }
    if let Some(k) = &f.keyword {
        let k = format!("%{}%", k.to_lowercase());
        q.and(" AND (lower(t.tag_key) LIKE ", k.clone())
            .and(" OR lower(t.tag_value) LIKE ", k)
            .push(")");
    }
}

pub async fn tag_list(conn: &mut AnyConnection, f: &TagFilter) -> Result<Listed<TagRow>> {
    let mut c = Sql::new(&format!("SELECT COUNT(*){FROM}"));
    tag_where(&mut c, f);
    let total = count(conn, &c).await?;
    let mut q = Sql::new(&format!("SELECT {COLS}{FROM}"));
    tag_where(&mut q, f);
    q.push(" ORDER BY t.resource_type, t.resource_id, t.tag_key")
        .page(f.offset, f.limit);
    let rows = q.query().fetch_all(conn).await?;
    Ok((rows.iter().map(tag_row).collect::<Result<_>>()?, total))
}

pub async fn tag_delete(conn: &mut AnyConnection, id: Uuid) -> Result<()> {
    let mut q = Sql::new("DELETE FROM resource_tags WHERE id = ");
    q.bind(id.to_string());
    q.query().execute(conn).await?;
    Ok(())
}

/// Deletes the tags of a resource (the resource is gone).
pub async fn tag_delete_for_resource(conn: &mut AnyConnection, resource_id: Uuid) -> Result<()> {
    let mut q = Sql::new("DELETE FROM resource_tags WHERE resource_id = ");
    q.bind(resource_id.to_string());
    q.query().execute(conn).await?;
    Ok(())
}
