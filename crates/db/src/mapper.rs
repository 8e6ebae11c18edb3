//! The one row mapper: a field's Rust type says how its stored column decodes.
//!
//! Every row function used to decode its columns by hand (`try_get`, then a parse, then a
//! `Corrupt` error naming the column), about 250 times. Now a row is declared as a table of
//! field ← column, and [`Column`] decodes each by the field's type:
//!
//! ```ignore
//! map_row!(r, "vms", VmRow { id: "v_id", state: "v_state", keypairs: (json "v_kp"), … })
//! ```
//!
//! - text ids and state enums parse with `FromStr`; a value that does not parse is a
//!   [`DbError::Corrupt`] naming the table and column (never a silently dropped row);
//! - booleans are stored as BIGINT 0/1 on both backends;
//! - `(csv "col")` is a comma-separated TEXT list;
//! - `(json "col")` decodes a TEXT JSON document into any `Deserialize` type, strictly;
//! - `{ expr }` is any other expression (a nested row, a computed field).
//!
//! sqlx's `#[derive(FromRow)]` was the alternative; it cannot decode our typed ids or
//! integer-stored booleans through the `Any` driver without a wrapper type per field, and its
//! errors do not name the table.

use serde::de::DeserializeOwned;
use sqlx::any::AnyRow;
use sqlx::Row;
use std::str::FromStr;

use crate::{DbError, Result};

/// How one stored column becomes a value of `Self`.
pub(crate) trait Column: Sized {
    fn column(row: &AnyRow, table: &'static str, col: &'static str) -> Result<Self>;
}

/// Types sqlx's `Any` driver decodes itself, alone or nullable.
macro_rules! plain_columns {
    ($($t:ty),* $(,)?) => {$(
        impl Column for $t {
            fn column(row: &AnyRow, _: &'static str, col: &'static str) -> Result<Self> {
                Ok(row.try_get(col)?)
            }
        }
    )*};
}

plain_columns!(i64, Option<i64>, String, Option<String>);

/// Booleans are BIGINT 0/1.
impl Column for bool {
    fn column(row: &AnyRow, _: &'static str, col: &'static str) -> Result<Self> {
        Ok(row.try_get::<i64, _>(col)? != 0)
    }
}

impl Column for Option<bool> {
    fn column(row: &AnyRow, _: &'static str, col: &'static str) -> Result<Self> {
        Ok(row.try_get::<Option<i64>, _>(col)?.map(|v| v != 0))
    }
}

/// A JSON document stored as TEXT, decoded strictly.
impl Column for serde_json::Value {
    fn column(row: &AnyRow, table: &'static str, col: &'static str) -> Result<Self> {
        json(row, table, col)
    }
}

/// Decodes a TEXT JSON column into `T`; a document that does not decode is `Corrupt`.
pub(crate) fn json<T: DeserializeOwned>(
    row: &AnyRow,
    table: &'static str,
    col: &'static str,
) -> Result<T> {
    let s: String = row.try_get(col)?;
    serde_json::from_str(&s).map_err(|_| DbError::Corrupt {
        table,
        column: col,
        value: s,
    })
}

/// A comma-separated list stored as TEXT (`a,b`; empty items dropped).
pub(crate) fn csv(row: &AnyRow, col: &'static str) -> Result<Vec<String>> {
    let s: String = row.try_get(col)?;
    Ok(s.split(',')
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect())
}

/// Parses a text column with `FromStr`.
pub(crate) fn parsed<T: FromStr>(
    row: &AnyRow,
    table: &'static str,
    col: &'static str,
) -> Result<T> {
    let s: String = row.try_get(col)?;
    T::from_str(&s).map_err(|_| DbError::Corrupt {
        table,
        column: col,
        value: s,
    })
}

/// Parses a nullable text column with `FromStr`.
pub(crate) fn parsed_opt<T: FromStr>(
    row: &AnyRow,
    table: &'static str,
    col: &'static str,
) -> Result<Option<T>> {
    let s: Option<String> = row.try_get(col)?;
    s.map(|s| {
        T::from_str(&s).map_err(|_| DbError::Corrupt {
            table,
            column: col,
            value: s,
        })
    })
    .transpose()
}

/// Types stored as text and parsed with `FromStr` (ids, state enums), alone or nullable.
macro_rules! text_columns {
    ($($t:ty),* $(,)?) => {$(
        impl Column for $t {
            fn column(row: &AnyRow, table: &'static str, col: &'static str) -> Result<Self> {
                parsed(row, table, col)
            }
        }
        impl Column for Option<$t> {
            fn column(row: &AnyRow, table: &'static str, col: &'static str) -> Result<Self> {
                parsed_opt(row, table, col)
            }
        }
    )*};
}

text_columns!(
    uuid::Uuid,
    model::DomainId,
    model::AccountId,
    model::UserId,
    model::RoleId,
    model::JobId,
    model::EventId,
    model::SessionId,
    model::ServerId,
    model::ZoneId,
    model::PodId,
    model::ClusterId,
    model::PhysicalNetworkId,
    model::TrafficTypeId,
    model::ProviderId,
    model::VmId,
    model::HostId,
    model::VolumeId,
    model::SnapshotId,
    model::SnapshotPolicyId,
    model::SnapshotState,
    model::VmSnapshotId,
    model::VmSnapshotState,
    model::NetworkId,
    model::VpcId,
    model::ProjectId,
    model::VpcState,
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
);

/// Identity enums keep CloudStack's spellings and their own parsers.
impl Column for model::identity::RoleType {
    fn column(row: &AnyRow, table: &'static str, col: &'static str) -> Result<Self> {
        let s: String = row.try_get(col)?;
        Self::parse(&s).ok_or(DbError::Corrupt {
            table,
            column: col,
            value: s,
        })
    }
}

impl Column for model::identity::AccountState {
    fn column(row: &AnyRow, table: &'static str, col: &'static str) -> Result<Self> {
        let s: String = row.try_get(col)?;
        Self::parse(&s).ok_or(DbError::Corrupt {
            table,
            column: col,
            value: s,
        })
    }
}

/// Project enums keep CloudStack's spellings and their own parsers.
macro_rules! parse_columns {
    ($($t:ty),* $(,)?) => {$(
        impl Column for $t {
            fn column(row: &AnyRow, table: &'static str, col: &'static str) -> Result<Self> {
                let s: String = row.try_get(col)?;
                Self::parse(&s).ok_or(DbError::Corrupt {
                    table,
                    column: col,
                    value: s,
                })
            }
        }
    )*};
}

parse_columns!(
    model::identity::ProjectState,
    model::identity::ProjectRole,
    model::identity::InvitationState,
);

/// Account types are stored as CloudStack's numbers.
impl Column for model::identity::AccountType {
    fn column(row: &AnyRow, table: &'static str, col: &'static str) -> Result<Self> {
        let n: i64 = row.try_get(col)?;
        Self::from_i64(n).ok_or(DbError::Corrupt {
            table,
            column: col,
            value: n.to_string(),
        })
    }
}

/// Builds a row struct from a table of field ← column (see the module docs). Evaluates to
/// `Result<$ty>`.
macro_rules! map_row {
    ($r:expr, $table:expr, $ty:ident { $($field:ident : $src:tt),* $(,)? }) => {{
        let r: &sqlx::any::AnyRow = $r;
        let table: &'static str = $table;
        let row: $crate::Result<$ty> = Ok($ty { $($field: map_row!(@col r, table, $src)),* });
        row
    }};
    (@col $r:ident, $t:ident, $c:literal) => {
        $crate::mapper::Column::column($r, $t, $c)?
    };
    (@col $r:ident, $t:ident, (json $c:literal)) => {
        $crate::mapper::json($r, $t, $c)?
    };
    (@col $r:ident, $t:ident, (csv $c:literal)) => {
        $crate::mapper::csv($r, $c)?
    };
    (@col $r:ident, $t:ident, { $e:expr }) => {
        $e
    };
}

pub(crate) use map_row;
