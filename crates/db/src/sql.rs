//! A tiny SQL builder that numbers `$N` placeholders (which both backends accept) and keeps
//! the bound values, plus the owner scope shared by list queries.

use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::Any;

use model::{AccountId, DomainId};

#[derive(Clone, Debug)]
pub(crate) enum Val {
    Text(String),
    Int(i64),
    /// NULL for a TEXT column.
    Null,
    /// NULL for a BIGINT column.
    NullInt,
}

impl From<&str> for Val {
    fn from(s: &str) -> Self {
        Val::Text(s.to_string())
    }
}
impl From<String> for Val {
    fn from(s: String) -> Self {
        Val::Text(s)
    }
}
impl From<i64> for Val {
    fn from(i: i64) -> Self {
        Val::Int(i)
    }
}
impl From<bool> for Val {
    fn from(b: bool) -> Self {
        Val::Int(b as i64)
    }
}
/// A missing value: typed, because PostgreSQL refuses a text NULL for a BIGINT column.
macro_rules! opt_val {
    ($null:ident: $($t:ty),*) => {$(
        impl From<Option<$t>> for Val {
            fn from(o: Option<$t>) -> Self {
                o.map(Into::into).unwrap_or(Val::$null)
            }
        }
    )*};
}
opt_val!(Null: String, &str);
opt_val!(NullInt: i64, bool);

macro_rules! id_val {
    ($($t:ty),*) => {$(
        impl From<$t> for Val {
            fn from(id: $t) -> Self {
                Val::Text(id.to_string())
            }
        }
        impl From<Option<$t>> for Val {
            fn from(o: Option<$t>) -> Self {
                o.map(Into::into).unwrap_or(Val::Null)
            }
        }
    )*};
}
id_val!(
    model::VpcState,
    model::VpcId,
    model::ProjectId,
    model::VmState,
    model::VolumeState,
    model::HostStatus,
    model::ResourceState,
    model::NetworkState,
    model::IpState,
    model::RuleState,
    model::AllocationState,
    model::PoolState,
    model::SagaPhase,
    model::DomainId,
    model::VmId,
    model::HostId,
    model::VolumeId,
    model::SnapshotId,
    model::SnapshotPolicyId,
    model::SnapshotState,
    model::VmSnapshotId,
    model::VmSnapshotState,
    model::NetworkId,
    model::AccountId,
    model::UserId,
    model::RoleId,
    model::JobId,
    model::EventId,
    model::SessionId,
    model::ServerId,
    uuid::Uuid
);

#[derive(Default)]
pub(crate) struct Sql {
    pub sql: String,
    args: Vec<Val>,
}

impl Sql {
    pub fn new(s: &str) -> Self {
        Self {
            sql: s.to_string(),
            args: Vec::new(),
        }
    }
    /// Appends text.
    pub fn push(&mut self, s: &str) -> &mut Self {
        self.sql.push_str(s);
        self
    }
    /// Appends a placeholder for `v`.
    pub fn bind(&mut self, v: impl Into<Val>) -> &mut Self {
        self.args.push(v.into());
        self.sql.push_str(&format!("${}", self.args.len()));
        self
    }
    /// Appends `text` then a placeholder.
    pub fn and(&mut self, text: &str, v: impl Into<Val>) -> &mut Self {
        self.push(text).bind(v)
    }
    /// `LIMIT`/`OFFSET` (limit `None` = all).
    pub fn page(&mut self, offset: u64, limit: Option<u64>) -> &mut Self {
        if let Some(l) = limit {
            self.and(" LIMIT ", l as i64);
        } else if offset > 0 {
            // Both backends accept a very large limit where OFFSET needs one.
            self.push(" LIMIT 9223372036854775807");
        }
        if offset > 0 {
            self.and(" OFFSET ", offset as i64);
        }
        self
    }
    /// Appends ` AND <col>` starts with `prefix` (no LIKE, so `_` and `%` in names are literal).
    pub fn starts_with(&mut self, col: &str, prefix: &str) -> &mut Self {
        self.push(&format!(" AND substr({col}, 1, CAST("))
            .bind(prefix.chars().count() as i64)
            .push(" AS INTEGER)) = ")
            .bind(prefix.to_string())
    }
    /// Runs the query and maps the first row, if any.
    pub async fn one<T>(
        &self,
        conn: &mut sqlx::AnyConnection,
        map: fn(&sqlx::any::AnyRow) -> crate::Result<T>,
    ) -> crate::Result<Option<T>> {
        self.query()
            .fetch_optional(conn)
            .await?
            .as_ref()
            .map(map)
            .transpose()
    }
    /// Runs the query and maps every row.
    pub async fn all<T>(
        &self,
        conn: &mut sqlx::AnyConnection,
        map: fn(&sqlx::any::AnyRow) -> crate::Result<T>,
    ) -> crate::Result<Vec<T>> {
        self.query()
            .fetch_all(conn)
            .await?
            .iter()
            .map(map)
            .collect()
    }
    pub fn query(&self) -> Query<'_, Any, AnyArguments<'_>> {
        let mut q = sqlx::query(&self.sql);
        for a in &self.args {
            q = match a {
                Val::Text(s) => q.bind(s.clone()),
                Val::Int(i) => q.bind(*i),
                Val::Null => q.bind(Option::<String>::None),
                Val::NullInt => q.bind(Option::<i64>::None),
            };
        }
        q
    }
}

/// Adds ` AND col IN (…)` for these ids.
pub(crate) fn in_list<T: Copy + Into<Val>>(q: &mut Sql, col: &str, ids: &[T]) {
    q.push(&format!(" AND {col} IN ("));
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.bind(*id);
    }
    q.push(")");
}

/// Whose resources a list may return.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OwnerScope {
    /// Everything (root admin with listall).
    All,
    /// Resources of accounts in a domain: the domain only, or its whole subtree.
    Domain {
        id: DomainId,
        path: String,
        recursive: bool,
    },
    /// One account's resources.
    Account(AccountId),
    /// Several accounts' resources (a user's projects, `projectid=-1`); none when empty.
    Accounts(Vec<AccountId>),
    /// The inner scope without projects' resources (lists without `projectid`, as
    /// CloudStack's `SkipProjectResources`).
    NoProjects(Box<OwnerScope>),
    /// The inner scope, projects' resources only (an admin's `projectid=-1`).
    OnlyProjects(Box<OwnerScope>),
}

/// The accounts that own projects' resources.
const PROJECT_ACCOUNTS: &str = "SELECT pa.id FROM accounts pa WHERE pa.account_type = 5";

impl OwnerScope {
    /// Whether the condition reads the domain row (the caller must join it).
    pub fn uses_domain(&self) -> bool {
        match self {
            OwnerScope::Domain { .. } => true,
            OwnerScope::NoProjects(s) | OwnerScope::OnlyProjects(s) => s.uses_domain(),
            _ => false,
        }
    }

    /// Adds the condition for rows whose owning account is `acct_col` and whose domain row is
    /// aliased `dom` (joined by the caller).
    pub(crate) fn push(&self, q: &mut Sql, acct_col: &str, dom: &str) {
        match self {
            OwnerScope::All => {}
            OwnerScope::Account(a) => {
                q.and(&format!(" AND {acct_col} = "), *a);
            }
            OwnerScope::Accounts(v) if v.is_empty() => {
                q.push(" AND 1 = 0");
            }
            OwnerScope::Accounts(v) => in_list(q, acct_col, v),
            OwnerScope::NoProjects(s) => {
                s.push(q, acct_col, dom);
                q.push(&format!(" AND {acct_col} NOT IN ({PROJECT_ACCOUNTS})"));
            }
            OwnerScope::OnlyProjects(s) => {
                s.push(q, acct_col, dom);
                q.push(&format!(" AND {acct_col} IN ({PROJECT_ACCOUNTS})"));
            }
            OwnerScope::Domain {
                id,
                recursive: false,
                ..
            } => {
                q.and(&format!(" AND {dom}.id = "), *id);
            }
            OwnerScope::Domain {
                path,
                recursive: true,
                ..
            } => {
                q.starts_with(&format!("{dom}.path"), path);
            }
        }
    }
}

/// Two-step paging, first step: the ids `q` selects (its first column; the page found on the
/// table alone, an index walk in list order).
pub(crate) async fn page_ids(conn: &mut sqlx::AnyConnection, q: Sql) -> crate::Result<Vec<String>> {
    use sqlx::Row;
    Ok(q.query()
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| r.try_get::<String, _>(0))
        .collect::<std::result::Result<_, _>>()?)
}

/// Two-step paging, second step: the rows of `ids`, read by primary key `col` with `select`
/// (columns and a FROM … WHERE clause that `AND col IN (…)` can follow), 500 at a time. The
/// caller puts them back in list order.
pub(crate) async fn rows_by_ids<T>(
    conn: &mut sqlx::AnyConnection,
    select: &str,
    col: &str,
    ids: &[String],
    map: impl Fn(&sqlx::any::AnyRow) -> crate::Result<T>,
) -> crate::Result<Vec<T>> {
    let mut rows = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let mut q = Sql::new(select);
        crate::vms::in_list(&mut q, col, chunk);
        for r in q.query().fetch_all(&mut *conn).await? {
            rows.push(map(&r)?);
        }
    }
    Ok(rows)
}
