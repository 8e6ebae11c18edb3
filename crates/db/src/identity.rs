//! Domains, roles, accounts, users and sessions.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use model::identity::{AccountState, AccountType};
use model::{AccountId, DomainId, RoleId, SessionId, UserId};

use crate::mapper::{map_row, parsed};
use crate::migrate::now_ms;
use crate::rows::*;
use crate::sql::{OwnerScope, Sql};
use crate::{DbError, Result};

/// A page of results and the total that matched.
pub type Listed<T> = (Vec<T>, u64);

pub(crate) async fn count(conn: &mut AnyConnection, q: &Sql) -> Result<u64> {
    let row = q.query().fetch_one(&mut *conn).await?;
    let n: i64 = row.try_get(0)?;
    Ok(n.max(0) as u64)
}

// --- domains -------------------------------------------------------------------------------

const DOMAIN_COLS: &str = "d.id, d.name, d.path, d.parent_id, p.name AS parent_name, d.level, d.network_domain, d.state, d.created, \
     (SELECT COUNT(*) FROM domains c WHERE c.parent_id = d.id AND c.removed IS NULL) AS children";
/// A page's columns without the children count (added per page by `domain_list`).
const DOMAIN_PAGE_COLS: &str = "d.id, d.name, d.path, d.parent_id, p.name AS parent_name, d.level, d.network_domain, d.state, d.created";
const DOMAIN_FROM: &str =
    " FROM domains d LEFT JOIN domains p ON p.id = d.parent_id WHERE d.removed IS NULL";

fn domain_row(r: &AnyRow) -> Result<DomainRow> {
    map_row!(
        r,
        "domains",
        DomainRow {
            id: "id",
            name: "name",
            path: "path",
            parent_id: "parent_id",
            parent_name: "parent_name",
            level: "level",
            network_domain: "network_domain",
            state: "state",
            created: "created",
            has_child: "children",
        }
    )
}

/// Filters for [`domain_list`].
#[derive(Clone, Debug, Default)]
pub struct DomainFilter {
    pub id: Option<DomainId>,
    pub name: Option<String>,
    pub level: Option<i64>,
    pub keyword: Option<String>,
    /// Only this domain (`false`) or its whole subtree (`true`).
    pub under: Option<(String, bool)>,
    /// Only direct children of this domain.
    pub parent: Option<DomainId>,
    /// Only domains deeper than this level.
    pub deeper_than: Option<i64>,
    pub offset: u64,
    pub limit: Option<u64>,
}

pub async fn domain_insert(
    conn: &mut AnyConnection,
    id: DomainId,
    name: &str,
    path: &str,
    parent: Option<DomainId>,
    level: i64,
    network_domain: Option<&str>,
) -> Result<()> {
    let mut q = Sql::new("INSERT INTO domains (id, name, path, parent_id, level, network_domain, state, created) VALUES (");
    q.bind(id)
        .push(", ")
        .bind(name)
        .push(", ")
        .bind(path)
        .push(", ")
        .bind(parent)
        .push(", ");
    q.bind(level)
        .push(", ")
        .bind(network_domain.map(str::to_string))
        .push(", 'Active', ")
        .bind(now_ms())
        .push(")");
    q.query().execute(conn).await.map_err(DbError::classify)?;
    Ok(())
}

pub async fn domain_get(conn: &mut AnyConnection, id: DomainId) -> Result<Option<DomainRow>> {
    let mut q = Sql::new(&format!("SELECT {DOMAIN_COLS}{DOMAIN_FROM}"));
    q.and(" AND d.id = ", id);
    q.one(conn, domain_row).await
}

pub async fn domain_get_by_path(conn: &mut AnyConnection, path: &str) -> Result<Option<DomainRow>> {
    let mut q = Sql::new(&format!("SELECT {DOMAIN_COLS}{DOMAIN_FROM}"));
    q.and(" AND d.path = ", path);
    q.one(conn, domain_row).await
}

fn domain_where(q: &mut Sql, f: &DomainFilter) {
    if let Some(id) = f.id {
        q.and(" AND d.id = ", id);
    }
    if let Some(n) = &f.name {
        q.and(" AND lower(d.name) = lower(", n.clone()).push(")");
    }
    if let Some(l) = f.level {
        q.and(" AND d.level = ", l);
    }
    if let Some(k) = &f.keyword {
        q.and(
            " AND lower(d.name) LIKE ",
            format!("%{}%", k.to_lowercase()),
        );
    }
    if let Some(p) = f.parent {
        q.and(" AND d.parent_id = ", p);
    }
    if let Some(l) = f.deeper_than {
        q.and(" AND d.level > ", l);
    }
    match &f.under {
        Some((path, true)) => {
            q.starts_with("d.path", path);
        }
        Some((path, false)) => {
            q.and(" AND d.path = ", path.clone());
        }
        None => {}
    }
}

pub async fn domain_list(conn: &mut AnyConnection, f: &DomainFilter) -> Result<Listed<DomainRow>> {
    let mut c = Sql::new(&format!("SELECT COUNT(*){DOMAIN_FROM}"));
    domain_where(&mut c, f);
    let total = count(conn, &c).await?;
    // The children are counted for the page's rows only, by one grouped join: a per-row
    // count ran for every row up to the page's end (PostgreSQL projects before OFFSET), and
    // PostgreSQL scanned the whole table for each (most domains share one parent, so it
    // judged the parent index useless): 12 s a page at 25,000 domains.
    let mut q = Sql::new(&format!(
        "SELECT pg.*, COALESCE(k.n, 0) AS children FROM (SELECT {DOMAIN_PAGE_COLS}{DOMAIN_FROM}"
    ));
    domain_where(&mut q, f);
    q.push(" ORDER BY d.path, d.id").page(f.offset, f.limit);
    q.push(
        ") pg LEFT JOIN (SELECT parent_id, COUNT(*) AS n FROM domains WHERE removed IS NULL GROUP BY parent_id) k \
         ON k.parent_id = pg.id ORDER BY pg.path, pg.id",
    );
    let rows = q.query().fetch_all(conn).await?;
    Ok((rows.iter().map(domain_row).collect::<Result<_>>()?, total))
}

/// Renames a domain; the paths of the domain and its whole subtree are rewritten.
pub async fn domain_rename(
    conn: &mut AnyConnection,
    id: DomainId,
    old_path: &str,
    new_path: &str,
    name: &str,
) -> Result<()> {
    let mut q = Sql::new("UPDATE domains SET name = ");
    q.bind(name).and(" WHERE id = ", id);
    q.query()
        .execute(&mut *conn)
        .await
        .map_err(DbError::classify)?;
    let mut q = Sql::new("UPDATE domains SET path = ");
    q.bind(new_path)
        .push(" || substr(path, CAST(")
        .bind(old_path.chars().count() as i64 + 1)
        .push(" AS INTEGER))");
    q.push(" WHERE removed IS NULL")
        .starts_with("path", old_path);
    q.query().execute(conn).await.map_err(DbError::classify)?;
    Ok(())
}

pub async fn domain_set_network_domain(
    conn: &mut AnyConnection,
    id: DomainId,
    nd: Option<&str>,
) -> Result<()> {
    let mut q = Sql::new("UPDATE domains SET network_domain = ");
    q.bind(nd.map(str::to_string)).and(" WHERE id = ", id);
    q.query().execute(conn).await?;
    Ok(())
}

pub async fn domain_mark_removed(conn: &mut AnyConnection, id: DomainId) -> Result<bool> {
    let mut q = Sql::new("UPDATE domains SET removed = ");
    q.bind(now_ms())
        .push(", state = 'Inactive'")
        .and(" WHERE removed IS NULL AND id = ", id);
    Ok(q.query().execute(conn).await?.rows_affected() > 0)
}

// --- accounts ------------------------------------------------------------------------------

const ACCOUNT_COLS: &str = "a.id AS a_id, a.name AS a_name, a.account_type AS a_type, a.role_id AS a_role, r.name AS r_name, \
     r.role_type AS r_type, r.read_only AS r_ro, a.domain_id AS a_domain, d.name AS d_name, d.path AS d_path, a.state AS a_state, \
     a.network_domain AS a_nd, a.is_default AS a_default, a.created AS a_created";
const ACCOUNT_FROM: &str =
    " FROM accounts a JOIN roles r ON r.id = a.role_id JOIN domains d ON d.id = a.domain_id WHERE a.removed IS NULL";

fn account_row(r: &AnyRow) -> Result<AccountRow> {
    map_row!(
        r,
        "accounts",
        AccountRow {
            id: "a_id",
            name: "a_name",
            account_type: "a_type",
            role_id: "a_role",
            role_name: "r_name",
            role_type: "r_type",
            role_read_only: "r_ro",
            domain_id: "a_domain",
            domain_name: "d_name",
            domain_path: "d_path",
            state: "a_state",
            network_domain: "a_nd",
            is_default: "a_default",
            created: "a_created",
        }
    )
}

/// Filters for [`account_list`].
#[derive(Clone, Debug)]
pub struct AccountFilter {
    pub scope: OwnerScope,
    pub id: Option<AccountId>,
    pub name: Option<String>,
    pub account_type: Option<AccountType>,
    pub state: Option<AccountState>,
    pub keyword: Option<String>,
    pub offset: u64,
    pub limit: Option<u64>,
}

pub async fn account_insert(conn: &mut AnyConnection, a: &NewAccount) -> Result<()> {
    let mut q = Sql::new("INSERT INTO accounts (id, name, account_type, role_id, domain_id, state, network_domain, is_default, created) VALUES (");
    q.bind(a.id)
        .push(", ")
        .bind(a.name.clone())
        .push(", ")
        .bind(a.account_type.as_i64())
        .push(", ")
        .bind(a.role_id)
        .push(", ");
    q.bind(a.domain_id)
        .push(", 'enabled', ")
        .bind(a.network_domain.clone())
        .push(", ")
        .bind(a.is_default);
    q.push(", ").bind(now_ms()).push(")");
    q.query().execute(conn).await.map_err(DbError::classify)?;
    Ok(())
}

pub async fn account_get(conn: &mut AnyConnection, id: AccountId) -> Result<Option<AccountRow>> {
    let mut q = Sql::new(&format!("SELECT {ACCOUNT_COLS}{ACCOUNT_FROM}"));
    q.and(" AND a.id = ", id);
    q.one(conn, account_row).await
}

pub async fn account_get_by_name(
    conn: &mut AnyConnection,
    domain: DomainId,
    name: &str,
) -> Result<Option<AccountRow>> {
    let mut q = Sql::new(&format!("SELECT {ACCOUNT_COLS}{ACCOUNT_FROM}"));
    q.and(" AND a.domain_id = ", domain)
        .and(" AND a.name = ", name);
    q.one(conn, account_row).await
}

fn account_where(q: &mut Sql, f: &AccountFilter) {
    f.scope.push(q, "a.id", "d");
    if let Some(id) = f.id {
        q.and(" AND a.id = ", id);
    }
    if let Some(n) = &f.name {
        q.and(" AND a.name = ", n.clone());
    }
    if let Some(t) = f.account_type {
        q.and(" AND a.account_type = ", t.as_i64());
    }
    if let Some(s) = f.state {
        q.and(" AND a.state = ", s.as_str());
    }
    if let Some(k) = &f.keyword {
        q.and(
            " AND lower(a.name) LIKE ",
            format!("%{}%", k.to_lowercase()),
        );
    }
}

pub async fn account_list(
    conn: &mut AnyConnection,
    f: &AccountFilter,
) -> Result<Listed<AccountRow>> {
    let mut c = Sql::new(&format!("SELECT COUNT(*){ACCOUNT_FROM}"));
    account_where(&mut c, f);
    let total = count(conn, &c).await?;
    let mut q = Sql::new(&format!("SELECT {ACCOUNT_COLS}{ACCOUNT_FROM}"));
    account_where(&mut q, f);
    q.push(" ORDER BY a.created, a.id").page(f.offset, f.limit);
    let rows = q.query().fetch_all(conn).await?;
    Ok((rows.iter().map(account_row).collect::<Result<_>>()?, total))
}

/// Every account (removed ones too: their leftovers still count) of the given domains.
pub async fn account_ids_in_domains(
    conn: &mut AnyConnection,
    domains: &[DomainId],
) -> Result<Vec<AccountId>> {
    let mut out = Vec::new();
    for chunk in domains.chunks(500) {
        let mut q = Sql::new("SELECT a.id AS a_id FROM accounts a WHERE 1 = 1");
        crate::sql::in_list(&mut q, "a.domain_id", chunk);
        for r in q.query().fetch_all(&mut *conn).await? {
            out.push(parsed(&r, "accounts", "a_id")?);
        }
    }
    Ok(out)
}

/// Live accounts in a domain's subtree (for deleteDomain).
pub async fn account_ids_under(conn: &mut AnyConnection, path: &str) -> Result<Vec<AccountId>> {
    let mut q = Sql::new("SELECT a.id AS a_id FROM accounts a JOIN domains d ON d.id = a.domain_id WHERE a.removed IS NULL");
    q.starts_with("d.path", path);
    q.query()
        .fetch_all(conn)
        .await?
        .iter()
        .map(|r| parsed(r, "accounts", "a_id"))
        .collect()
}

pub async fn account_update(
    conn: &mut AnyConnection,
    id: AccountId,
    name: &str,
    network_domain: Option<&str>,
    role_id: RoleId,
) -> Result<()> {
    let mut q = Sql::new("UPDATE accounts SET name = ");
    q.bind(name)
        .and(", network_domain = ", network_domain.map(str::to_string))
        .and(", role_id = ", role_id);
    q.and(" WHERE removed IS NULL AND id = ", id);
    q.query().execute(conn).await.map_err(DbError::classify)?;
    Ok(())
}

pub async fn account_set_state(
    conn: &mut AnyConnection,
    id: AccountId,
    state: AccountState,
) -> Result<()> {
    let mut q = Sql::new("UPDATE accounts SET state = ");
    q.bind(state.as_str())
        .and(" WHERE removed IS NULL AND id = ", id);
    q.query().execute(conn).await?;
    Ok(())
}

/// Marks an account and its users removed and ends their sessions. Idempotent.
pub async fn account_mark_removed(conn: &mut AnyConnection, id: AccountId) -> Result<()> {
    let now = now_ms();
    let mut q =
        Sql::new("DELETE FROM sessions WHERE user_id IN (SELECT id FROM users WHERE account_id = ");
    q.bind(id).push(")");
    q.query().execute(&mut *conn).await?;
    let mut q = Sql::new("UPDATE users SET removed = ");
    q.bind(now)
        .push(", api_key = NULL, secret_enc = NULL")
        .and(" WHERE removed IS NULL AND account_id = ", id);
    q.query().execute(&mut *conn).await?;
    let mut q = Sql::new("UPDATE accounts SET removed = ");
    q.bind(now).and(" WHERE removed IS NULL AND id = ", id);
    q.query().execute(conn).await?;
    Ok(())
}

// --- users ---------------------------------------------------------------------------------

fn user_cols() -> String {
    format!(
        "u.id AS u_id, u.username AS u_username, u.password_hash AS u_hash, u.email AS u_email, u.firstname AS u_first, \
         u.lastname AS u_last, u.state AS u_state, u.api_key AS u_key, u.secret_enc AS u_secret, u.timezone AS u_tz, \
         u.is_default AS u_default, u.source AS u_source, u.created AS u_created, {ACCOUNT_COLS}"
    )
}
const USER_FROM: &str =
    " FROM users u JOIN accounts a ON a.id = u.account_id JOIN roles r ON r.id = a.role_id \
     JOIN domains d ON d.id = a.domain_id WHERE u.removed IS NULL";

fn user_row(r: &AnyRow) -> Result<UserRow> {
    map_row!(
        r,
        "users",
        UserRow {
            id: "u_id",
            username: "u_username",
            password_hash: "u_hash",
            email: "u_email",
            firstname: "u_first",
            lastname: "u_last",
            state: "u_state",
            api_key: "u_key",
            secret_enc: "u_secret",
            timezone: "u_tz",
            is_default: "u_default",
            source: "u_source",
            created: "u_created",
            account: { account_row(r)? },
        }
    )
}

/// Filters for [`user_list`].
#[derive(Clone, Debug)]
pub struct UserFilter {
    pub scope: OwnerScope,
    pub id: Option<UserId>,
    pub username: Option<String>,
    pub account_type: Option<AccountType>,
    pub state: Option<AccountState>,
    pub keyword: Option<String>,
    pub offset: u64,
    pub limit: Option<u64>,
}

pub async fn user_insert(conn: &mut AnyConnection, u: &NewUser) -> Result<()> {
    let mut q = Sql::new("INSERT INTO users (id, account_id, domain_id, username, password_hash, email, firstname, lastname, state, api_key, secret_enc, timezone, is_default, source, created) VALUES (");
    q.bind(u.id)
        .push(", ")
        .bind(u.account_id)
        .push(", ")
        .bind(u.domain_id)
        .push(", ")
        .bind(u.username.clone());
    q.push(", ")
        .bind(u.password_hash.clone())
        .push(", ")
        .bind(u.email.clone())
        .push(", ")
        .bind(u.firstname.clone());
    q.push(", ")
        .bind(u.lastname.clone())
        .push(", 'enabled', ")
        .bind(u.api_key.clone())
        .push(", ");
    q.bind(u.secret_enc.clone())
        .push(", ")
        .bind(u.timezone.clone())
        .push(", ")
        .bind(u.is_default);
    q.push(", 'native', ").bind(now_ms()).push(")");
    q.query().execute(conn).await.map_err(DbError::classify)?;
    Ok(())
}

pub async fn user_get(conn: &mut AnyConnection, id: UserId) -> Result<Option<UserRow>> {
    let mut q = Sql::new(&format!("SELECT {}{USER_FROM}", user_cols()));
    q.and(" AND u.id = ", id);
    q.one(conn, user_row).await
}

pub async fn user_get_by_username(
    conn: &mut AnyConnection,
    domain: DomainId,
    username: &str,
) -> Result<Option<UserRow>> {
    let mut q = Sql::new(&format!("SELECT {}{USER_FROM}", user_cols()));
    q.and(" AND u.domain_id = ", domain)
        .and(" AND u.username = ", username);
    q.one(conn, user_row).await
}

pub async fn user_get_by_api_key(
    conn: &mut AnyConnection,
    api_key: &str,
) -> Result<Option<UserRow>> {
    let mut q = Sql::new(&format!("SELECT {}{USER_FROM}", user_cols()));
    q.and(" AND u.api_key = ", api_key);
    q.one(conn, user_row).await
}

fn user_where(q: &mut Sql, f: &UserFilter) {
    f.scope.push(q, "u.account_id", "d");
    if let Some(id) = f.id {
        q.and(" AND u.id = ", id);
    }
    if let Some(n) = &f.username {
        q.and(" AND u.username = ", n.clone());
    }
    if let Some(t) = f.account_type {
        q.and(" AND a.account_type = ", t.as_i64());
    }
    if let Some(s) = f.state {
        q.and(" AND u.state = ", s.as_str());
    }
    if let Some(k) = &f.keyword {
        let k = format!("%{}%", k.to_lowercase());
        q.and(" AND (lower(u.username) LIKE ", k.clone())
            .and(" OR lower(COALESCE(u.email, '')) LIKE ", k.clone());
        q.and(" OR lower(COALESCE(u.firstname, '')) LIKE ", k.clone())
            .and(" OR lower(COALESCE(u.lastname, '')) LIKE ", k)
            .push(")");
    }
}

pub async fn user_list(conn: &mut AnyConnection, f: &UserFilter) -> Result<Listed<UserRow>> {
    let mut c = Sql::new(&format!("SELECT COUNT(*){USER_FROM}"));
    user_where(&mut c, f);
    let total = count(conn, &c).await?;
    let mut q = Sql::new(&format!("SELECT {}{USER_FROM}", user_cols()));
    user_where(&mut q, f);
    q.push(" ORDER BY u.created, u.id").page(f.offset, f.limit);
    let rows = q.query().fetch_all(conn).await?;
    Ok((rows.iter().map(user_row).collect::<Result<_>>()?, total))
}

/// Live users of an account.
pub async fn user_count_for_account(conn: &mut AnyConnection, account: AccountId) -> Result<u64> {
    let mut q = Sql::new("SELECT COUNT(*) FROM users WHERE removed IS NULL AND account_id = ");
    q.bind(account);
    count(conn, &q).await
}

/// Profile fields of a user (every field is the new value).
#[derive(Clone, Debug)]
pub struct UserProfile {
    pub username: String,
    pub email: Option<String>,
    pub firstname: Option<String>,
    pub lastname: Option<String>,
    pub timezone: Option<String>,
}

pub async fn user_update_profile(
    conn: &mut AnyConnection,
    id: UserId,
    p: &UserProfile,
) -> Result<()> {
    let mut q = Sql::new("UPDATE users SET username = ");
    q.bind(p.username.clone())
        .and(", email = ", p.email.clone())
        .and(", firstname = ", p.firstname.clone());
    q.and(", lastname = ", p.lastname.clone())
        .and(", timezone = ", p.timezone.clone());
    q.and(" WHERE removed IS NULL AND id = ", id);
    q.query().execute(conn).await.map_err(DbError::classify)?;
    Ok(())
}

pub async fn user_set_password(conn: &mut AnyConnection, id: UserId, hash: &str) -> Result<()> {
    let mut q = Sql::new("UPDATE users SET password_hash = ");
    q.bind(hash).and(" WHERE removed IS NULL AND id = ", id);
    q.query().execute(conn).await?;
    Ok(())
}

/// Moves a user to another account (of the same domain: the caller checks).
pub async fn user_set_account(
    conn: &mut AnyConnection,
    id: UserId,
    account: AccountId,
) -> Result<()> {
    let mut q = Sql::new("UPDATE users SET account_id = ");
    q.bind(account).and(" WHERE removed IS NULL AND id = ", id);
    q.query().execute(conn).await?;
    Ok(())
}

pub async fn user_set_state(
    conn: &mut AnyConnection,
    id: UserId,
    state: AccountState,
) -> Result<()> {
    let mut q = Sql::new("UPDATE users SET state = ");
    q.bind(state.as_str())
        .and(" WHERE removed IS NULL AND id = ", id);
    q.query().execute(conn).await?;
    Ok(())
}

/// Sets a user's API key and encrypted secret.
pub async fn user_set_keys(
    conn: &mut AnyConnection,
    id: UserId,
    api_key: &str,
    secret_enc: &str,
) -> Result<()> {
    let mut q = Sql::new("UPDATE users SET api_key = ");
    q.bind(api_key)
        .and(", secret_enc = ", secret_enc)
        .and(" WHERE removed IS NULL AND id = ", id);
    q.query().execute(conn).await.map_err(DbError::classify)?;
    Ok(())
}

pub async fn user_mark_removed(conn: &mut AnyConnection, id: UserId) -> Result<()> {
    let mut q = Sql::new("DELETE FROM sessions WHERE user_id = ");
    q.bind(id);
    q.query().execute(&mut *conn).await?;
    let mut q = Sql::new("UPDATE users SET removed = ");
    q.bind(now_ms())
        .push(", api_key = NULL, secret_enc = NULL")
        .and(" WHERE removed IS NULL AND id = ", id);
    q.query().execute(conn).await?;
    Ok(())
}

// --- sessions ------------------------------------------------------------------------------

fn session_row(r: &AnyRow) -> Result<SessionRow> {
    map_row!(
        r,
        "sessions",
        SessionRow {
            id: "id",
            session_key: "session_key",
            user_id: "user_id",
            created: "created",
            last_seen: "last_seen",
            timeout_s: "timeout_s",
        }
    )
}

pub async fn session_insert(conn: &mut AnyConnection, s: &SessionRow) -> Result<()> {
    let mut q = Sql::new(
        "INSERT INTO sessions (id, session_key, user_id, created, last_seen, timeout_s) VALUES (",
    );
    q.bind(s.id)
        .push(", ")
        .bind(s.session_key.clone())
        .push(", ")
        .bind(s.user_id)
        .push(", ")
        .bind(s.created);
    q.push(", ")
        .bind(s.last_seen)
        .push(", ")
        .bind(s.timeout_s)
        .push(")");
    q.query().execute(conn).await?;
    Ok(())
}

pub async fn session_get(conn: &mut AnyConnection, id: SessionId) -> Result<Option<SessionRow>> {
    let mut q = Sql::new("SELECT * FROM sessions WHERE id = ");
    q.bind(id);
    q.one(conn, session_row).await
}

pub async fn session_get_by_key(conn: &mut AnyConnection, key: &str) -> Result<Option<SessionRow>> {
    let mut q = Sql::new("SELECT * FROM sessions WHERE session_key = ");
    q.bind(key);
    q.one(conn, session_row).await
}

pub async fn session_touch(conn: &mut AnyConnection, id: SessionId, now: i64) -> Result<()> {
    let mut q = Sql::new("UPDATE sessions SET last_seen = ");
    q.bind(now).and(" WHERE id = ", id);
    q.query().execute(conn).await?;
    Ok(())
}

pub async fn session_delete(conn: &mut AnyConnection, id: SessionId) -> Result<()> {
    let mut q = Sql::new("DELETE FROM sessions WHERE id = ");
    q.bind(id);
    q.query().execute(conn).await?;
    Ok(())
}

/// Removes sessions idle past their timeout; returns how many.
pub async fn session_delete_expired(conn: &mut AnyConnection, now: i64) -> Result<u64> {
    let mut q = Sql::new("DELETE FROM sessions WHERE last_seen + timeout_s * 1000 < ");
    q.bind(now);
    Ok(q.query().execute(conn).await?.rows_affected())
}

/// Live users of several accounts (for account listings).
pub async fn user_list_for_accounts(
    conn: &mut AnyConnection,
    accounts: &[AccountId],
) -> Result<Vec<UserRow>> {
    if accounts.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = Sql::new(&format!(
        "SELECT {}{USER_FROM} AND u.account_id IN (",
        user_cols()
    ));
    for (i, a) in accounts.iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.bind(*a);
    }
    q.push(") ORDER BY u.created, u.id");
    q.all(conn, user_row).await
}
