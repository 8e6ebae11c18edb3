//! The user data registry (registerUserData): an account's named user data (base64, as the
//! API takes it) and the names of the parameters it expects; deployVirtualMachine and
//! linkUserDataToTemplate refer to it by id.

use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use model::ids::{AccountId, DomainId};
use uuid::Uuid;

use crate::identity::{count, Listed};
use crate::mapper::map_row;
use crate::migrate::now_ms;
use crate::sql::{OwnerScope, Sql};
use crate::{DbError, Result};

#[derive(Clone, Debug, PartialEq)]
pub struct UserDataRow {
    pub id: Uuid,
    pub account_id: AccountId,
    pub account_name: String,
    pub domain_id: DomainId,
    pub domain_name: String,
    pub domain_path: String,
    pub name: String,
    /// Base64.
    pub userdata: String,
    /// Comma-separated parameter names.
    pub params: String,
    pub created: i64,
}

#[derive(Clone, Debug)]
pub struct UserDataFilter {
    pub scope: OwnerScope,
    pub id: Option<Uuid>,
    pub name: Option<String>,
    pub keyword: Option<String>,
    pub offset: u64,
    pub limit: Option<u64>,
}

const U_COLS: &str = "u.id AS u_id, u.account_id AS u_acct, a.name AS a_name, u.domain_id AS u_dom, \
     d.name AS d_name, d.path AS d_path, u.name AS u_name, u.userdata AS u_data, u.params AS u_params, \
     u.created AS u_created";
const U_FROM: &str = " FROM user_data u JOIN accounts a ON a.id = u.account_id \
     JOIN domains d ON d.id = u.domain_id WHERE u.removed IS NULL";

fn u_row(r: &AnyRow) -> Result<UserDataRow> {
    map_row!(
        r,
        "user_data",
        UserDataRow {
            id: "u_id",
            account_id: "u_acct",
            account_name: "a_name",
            domain_id: "u_dom",
            domain_name: "d_name",
            domain_path: "d_path",
            name: "u_name",
            userdata: "u_data",
            params: "u_params",
            created: "u_created",
        }
    )
}

/// Stores user data; a second live entry of the name in the account is a
/// [`DbError::Conflict`].
pub async fn userdata_insert(
    conn: &mut AnyConnection,
    id: Uuid,
    owner: (AccountId, DomainId),
    name: &str,
    userdata: &str,
    params: &str,
) -> Result<()> {
    let mut q = Sql::new(
        "INSERT INTO user_data (id, account_id, domain_id, name, userdata, params, created) VALUES (",
    );
    q.bind(id.to_string())
        .push(", ")
        .bind(owner.0)
        .push(", ")
        .bind(owner.1)
        .push(", ")
        .bind(name)
        .push(", ")
        .bind(userdata)
        .push(", ")
        .bind(params)
        .push(", ")
        .bind(now_ms())
        .push(")");
    q.query().execute(conn).await.map_err(DbError::classify)?;
    Ok(())
}

pub async fn userdata_get(conn: &mut AnyConnection, id: Uuid) -> Result<Option<UserDataRow>> {
    let mut q = Sql::new(&format!("SELECT {U_COLS}{U_FROM}"));
    q.and(" AND u.id = ", id.to_string());
    q.one(conn, u_row).await
}

fn u_where(q: &mut Sql, f: &UserDataFilter) {
    f.scope.push(q, "u.account_id", "d");
    if let Some(id) = f.id {
        q.and(" AND u.id = ", id.to_string());
    }
    if let Some(n) = &f.name {
        q.and(" AND u.name = ", n.clone());
    }
    if let Some(k) = &f.keyword {
        q.and(
            " AND lower(u.name) LIKE ",
            format!("%{}%", k.to_lowercase()),
        );
    }
}

pub async fn userdata_list(
    conn: &mut AnyConnection,
    f: &UserDataFilter,
) -> Result<Listed<UserDataRow>> {
    let mut c = Sql::new(&format!("SELECT COUNT(*){U_FROM}"));
    u_where(&mut c, f);
    let total = count(conn, &c).await?;
    let mut q = Sql::new(&format!("SELECT {U_COLS}{U_FROM}"));
    u_where(&mut q, f);
    q.push(" ORDER BY u.created, u.id").page(f.offset, f.limit);
    let rows = q.query().fetch_all(conn).await?;
    Ok((rows.iter().map(u_row).collect::<Result<_>>()?, total))
}

pub async fn userdata_remove(conn: &mut AnyConnection, id: Uuid) -> Result<bool> {
    let mut q = Sql::new("UPDATE user_data SET removed = ");
    q.bind(now_ms())
        .and(" WHERE removed IS NULL AND id = ", id.to_string());
    Ok(q.query().execute(conn).await?.rows_affected() > 0)
}
