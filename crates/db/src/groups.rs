//! Instance groups: named groups of an account's VMs (CloudStack's `instance_group`). A VM
//! names its group in `vms.vm_group` (names are unique per account among live groups).

use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use model::ids::{AccountId, DomainId};
use uuid::Uuid;

use crate::identity::{count, Listed};
use crate::mapper::map_row;
use crate::migrate::now_ms;
use crate::sql::{OwnerScope, Sql};
use crate::{DbError, Result};

/// One instance group, with its owner's names for responses.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupRow {
    pub id: Uuid,
    pub account_id: AccountId,
    pub account_name: String,
    pub domain_id: DomainId,
    pub domain_name: String,
    pub domain_path: String,
    pub name: String,
    pub created: i64,
}

/// What `listInstanceGroups` filters on.
#[derive(Clone, Debug)]
pub struct GroupFilter {
    pub scope: OwnerScope,
    pub id: Option<Uuid>,
    pub name: Option<String>,
    pub keyword: Option<String>,
    pub offset: u64,
    pub limit: Option<u64>,
}

const G_COLS: &str =
    "g.id AS g_id, g.account_id AS g_acct, a.name AS a_name, g.domain_id AS g_dom, \
     d.name AS d_name, d.path AS d_path, g.name AS g_name, g.created AS g_created";
const G_FROM: &str = " FROM instance_groups g JOIN accounts a ON a.id = g.account_id \
     JOIN domains d ON d.id = g.domain_id WHERE g.removed IS NULL";

fn g_row(r: &AnyRow) -> Result<GroupRow> {
    map_row!(
        r,
        "instance_groups",
        GroupRow {
            id: "g_id",
            account_id: "g_acct",
            account_name: "a_name",
            domain_id: "g_dom",
            domain_name: "d_name",
            domain_path: "d_path",
            name: "g_name",
            created: "g_created",
        }
    )
}

/// Stores a group; a second live group of the name in the account is a [`DbError::Conflict`].
pub async fn group_insert(
    conn: &mut AnyConnection,
    id: Uuid,
    account: AccountId,
    domain: DomainId,
    name: &str,
) -> Result<()> {
    let mut q =
        Sql::new("INSERT INTO instance_groups (id, account_id, domain_id, name, created) VALUES (");
    q.bind(id.to_string())
        .push(", ")
        .bind(account)
        .push(", ")
        .bind(domain)
        .push(", ")
        .bind(name)
        .push(", ")
        .bind(now_ms())
        .push(")");
    q.query().execute(conn).await.map_err(DbError::classify)?;
    Ok(())
}

pub async fn group_get(conn: &mut AnyConnection, id: Uuid) -> Result<Option<GroupRow>> {
    let mut q = Sql::new(&format!("SELECT {G_COLS}{G_FROM}"));
    q.and(" AND g.id = ", id.to_string());
    q.one(conn, g_row).await
}

pub async fn group_get_by_name(
    conn: &mut AnyConnection,
    account: AccountId,
    name: &str,
) -> Result<Option<GroupRow>> {
    let mut q = Sql::new(&format!("SELECT {G_COLS}{G_FROM}"));
    q.and(" AND g.account_id = ", account)
        .and(" AND g.name = ", name);
    q.one(conn, g_row).await
}

fn g_where(q: &mut Sql, f: &GroupFilter) {
    f.scope.push(q, "g.account_id", "d");
    if let Some(id) = f.id {
        q.and(" AND g.id = ", id.to_string());
    }
    if let Some(n) = &f.name {
        q.and(" AND g.name = ", n.clone());
    }
    if let Some(k) = &f.keyword {
        q.and(
            " AND lower(g.name) LIKE ",
            format!("%{}%", k.to_lowercase()),
        );
    }
}

pub async fn group_list(conn: &mut AnyConnection, f: &GroupFilter) -> Result<Listed<GroupRow>> {
    let mut c = Sql::new(&format!("SELECT COUNT(*){G_FROM}"));
    g_where(&mut c, f);
    let total = count(conn, &c).await?;
    let mut q = Sql::new(&format!("SELECT {G_COLS}{G_FROM}"));
    g_where(&mut q, f);
    q.push(" ORDER BY g.created, g.id").page(f.offset, f.limit);
    let rows = q.query().fetch_all(conn).await?;
    Ok((rows.iter().map(g_row).collect::<Result<_>>()?, total))
}

/// Renames a group and its VMs' references to it.
pub async fn group_rename(conn: &mut AnyConnection, g: &GroupRow, name: &str) -> Result<()> {
    let mut q = Sql::new("UPDATE instance_groups SET name = ");
    q.bind(name).and(" WHERE id = ", g.id.to_string());
    q.query()
        .execute(&mut *conn)
        .await
        .map_err(DbError::classify)?;
    let mut q = Sql::new("UPDATE vms SET vm_group = ");
    q.bind(name)
        .and(" WHERE account_id = ", g.account_id)
        .and(" AND vm_group = ", g.name.clone());
    q.query().execute(conn).await?;
    Ok(())
}

/// Removes a group; its VMs leave it.
pub async fn group_remove(conn: &mut AnyConnection, g: &GroupRow) -> Result<bool> {
    let mut q = Sql::new("UPDATE vms SET vm_group = NULL WHERE account_id = ");
    q.bind(g.account_id).and(" AND vm_group = ", g.name.clone());
    q.query().execute(&mut *conn).await?;
    let mut q = Sql::new("UPDATE instance_groups SET removed = ");
    q.bind(now_ms())
        .and(" WHERE removed IS NULL AND id = ", g.id.to_string());
    Ok(q.query().execute(conn).await?.rows_affected() > 0)
}
