//! SSH key pairs: public keys registered to an account, referenced by name at deploy time.

use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use model::ids::{AccountId, DomainId};
use uuid::Uuid;

use crate::identity::{count, Listed};
use crate::mapper::map_row;
use crate::migrate::now_ms;
use crate::sql::{OwnerScope, Sql};
use crate::{DbError, Result};

/// One key pair, with its owner's names for responses.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyPairRow {
    pub id: Uuid,
    pub account_id: AccountId,
    pub account_name: String,
    pub domain_id: DomainId,
    pub domain_name: String,
    pub domain_path: String,
    pub name: String,
    pub fingerprint: String,
    pub public_key: String,
    pub created: i64,
}

/// What `listSSHKeyPairs` filters on.
#[derive(Clone, Debug)]
pub struct KeyPairFilter {
    pub scope: OwnerScope,
    pub id: Option<Uuid>,
    pub name: Option<String>,
    pub fingerprint: Option<String>,
    pub keyword: Option<String>,
    pub offset: u64,
    pub limit: Option<u64>,
}

const KP_COLS: &str =
    "k.id AS k_id, k.account_id AS k_acct, a.name AS a_name, k.domain_id AS k_dom, \
     d.name AS d_name, d.path AS d_path, k.name AS k_name, k.fingerprint AS k_fp, \
     k.public_key AS k_pub, k.created AS k_created";
const KP_FROM: &str = " FROM ssh_keypairs k JOIN accounts a ON a.id = k.account_id \
     JOIN domains d ON d.id = k.domain_id WHERE 1 = 1";

fn kp_row(r: &AnyRow) -> Result<KeyPairRow> {
    map_row!(
        r,
        "ssh_keypairs",
        KeyPairRow {
            id: "k_id",
            account_id: "k_acct",
            account_name: "a_name",
            domain_id: "k_dom",
            domain_name: "d_name",
            domain_path: "d_path",
            name: "k_name",
            fingerprint: "k_fp",
            public_key: "k_pub",
            created: "k_created",
        }
    )
}

/// Stores a key pair; a second pair with the same name in the account is a
/// [`DbError::Conflict`].
#[allow(clippy::too_many_arguments)]
pub async fn keypair_insert(
    conn: &mut AnyConnection,
    id: Uuid,
    account: AccountId,
    domain: DomainId,
    name: &str,
    fingerprint: &str,
    public_key: &str,
) -> Result<()> {
    let mut q = Sql::new(
        "INSERT INTO ssh_keypairs (id, account_id, domain_id, name, fingerprint, public_key, created) VALUES (",
    );
    q.bind(id.to_string())
        .push(", ")
        .bind(account)
        .push(", ")
        .bind(domain)
        .push(", ")
        .bind(name);
    q.push(", ")
        .bind(fingerprint)
        .push(", ")
        .bind(public_key)
        .push(", ")
        .bind(now_ms())
        .push(")");
    q.query().execute(conn).await.map_err(DbError::classify)?;
    Ok(())
}

pub async fn keypair_get_by_name(
    conn: &mut AnyConnection,
    account: AccountId,
    name: &str,
) -> Result<Option<KeyPairRow>> {
    let mut q = Sql::new(&format!("SELECT {KP_COLS}{KP_FROM}"));
    q.and(" AND k.account_id = ", account)
        .and(" AND k.name = ", name);
    q.one(conn, kp_row).await
}

fn kp_where(q: &mut Sql, f: &KeyPairFilter) {
    f.scope.push(q, "k.account_id", "d");
    if let Some(id) = f.id {
        q.and(" AND k.id = ", id.to_string());
    }
    if let Some(n) = &f.name {
        q.and(" AND k.name = ", n.clone());
    }
    if let Some(fp) = &f.fingerprint {
        q.and(" AND k.fingerprint = ", fp.clone());
    }
    if let Some(k) = &f.keyword {
        q.and(
            " AND lower(k.name) LIKE ",
            format!("%{}%", k.to_lowercase()),
        );
    }
}

pub async fn keypair_list(
    conn: &mut AnyConnection,
    f: &KeyPairFilter,
) -> Result<Listed<KeyPairRow>> {
    let mut c = Sql::new(&format!("SELECT COUNT(*){KP_FROM}"));
    kp_where(&mut c, f);
    let total = count(conn, &c).await?;
    let mut q = Sql::new(&format!("SELECT {KP_COLS}{KP_FROM}"));
    kp_where(&mut q, f);
    q.push(" ORDER BY k.created, k.id").page(f.offset, f.limit);
    let rows = q.query().fetch_all(conn).await?;
    Ok((rows.iter().map(kp_row).collect::<Result<_>>()?, total))
}

/// Deletes a key pair; whether it existed.
pub async fn keypair_delete(conn: &mut AnyConnection, id: Uuid) -> Result<bool> {
    let mut q = Sql::new("DELETE FROM ssh_keypairs WHERE id = ");
    q.bind(id.to_string());
    Ok(q.query().execute(conn).await?.rows_affected() > 0)
}

/// Deletes every key pair of an account (account removal).
pub async fn keypair_delete_for_account(
    conn: &mut AnyConnection,
    account: AccountId,
) -> Result<u64> {
    let mut q = Sql::new("DELETE FROM ssh_keypairs WHERE account_id = ");
    q.bind(account);
    Ok(q.query().execute(conn).await?.rows_affected())
}
