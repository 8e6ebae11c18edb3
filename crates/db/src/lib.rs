//! The DataStore: every query Canopy makes, written once and run on SQLite (embedded, WAL)
//! or PostgreSQL through sqlx's `Any` driver.
//!
//! Conventions:
//! - Queries are free functions named `resource_verb` taking `&mut AnyConnection`, so the same
//!   function runs on a pooled read connection or inside a write transaction.
//! - Values are portable: ids are TEXT (UUID strings), times are BIGINT epoch milliseconds,
//!   booleans are BIGINT 0/1, documents are TEXT JSON. Placeholders are `$N` on both backends.
//! - On SQLite all writes go through one connection (SQLite allows one writer; queuing in the
//!   pool avoids BUSY errors), reads use a separate pool and proceed concurrently under WAL.
//!
//! This crate must never contain business rules: it stores and fetches.

mod addresses;
mod admission;
mod affinity;
mod alerts;
pub mod attrs;
mod dbinfo;
mod dedication;
mod details;
mod groups;
mod guest_stats;
mod hosts;
mod hvcaps;
mod identity;
mod infra;
mod keypairs;
mod limits;
mod mapper;
mod migrate;
mod netrules;
mod networks;
mod projectroles;
mod projects;
mod regions;
mod roles;
mod routers;
pub mod rows;
pub mod rulespec;
mod snapshots;
mod sql;
mod system;
mod tags;
mod usage;
mod userdata;
mod vlandedication;
mod vms;
mod vmschedules;
mod volumes;
mod vpcs;

pub use addresses::*;
pub use admission::*;
pub use affinity::*;
pub use alerts::*;
pub use attrs::Attrs;
pub use dbinfo::*;
pub use dedication::*;
pub use details::*;
pub use groups::*;
pub use guest_stats::*;
pub use hosts::*;
pub use hvcaps::*;
pub use identity::*;
pub use infra::*;
pub use keypairs::*;
pub use limits::*;
pub use migrate::{MIGRATIONS, SCHEMA_VERSION};
pub use netrules::*;
pub use networks::*;
pub use projectroles::*;
pub use projects::*;
pub use regions::*;
pub use roles::*;
pub use routers::*;
pub use rows::*;
pub use rulespec::RuleSpec;
pub use snapshots::*;
pub use sql::OwnerScope;
pub use system::*;
pub use tags::*;
pub use usage::*;
pub use userdata::*;
pub use vlandedication::*;
pub use vms::*;
pub use vmschedules::*;
pub use volumes::*;
pub use vpcs::*;

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyPool, Transaction};

pub use sqlx::AnyConnection as Conn;
pub use sqlx::Error as SqlxError;

/// A write transaction.
pub type Tx = Transaction<'static, Any>;

/// Storage errors.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("the database schema is version {found}, newer than this binary supports ({supported}); upgrade canopy")]
    SchemaTooNew { found: i64, supported: i64 },
    #[error("unique constraint violated: {0}")]
    Conflict(String),
    #[error("bad stored value in {table}.{column}: {value}")]
    Corrupt {
        table: &'static str,
        column: &'static str,
        value: String,
    },
    /// A conditional state change the state machine does not allow (a programming error).
    #[error("illegal {kind} transition {from} -> {to}")]
    IllegalTransition {
        kind: &'static str,
        from: &'static str,
        to: &'static str,
    },
    #[error("unsupported database url (use sqlite:PATH or postgres://…): {0}")]
    BadUrl(String),
}

impl DbError {
    /// Turns unique-constraint violations into [`DbError::Conflict`].
    pub(crate) fn classify(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(d) = &e {
            if d.is_unique_violation() {
                return Self::Conflict(d.message().to_string());
            }
        }
        Self::Sqlx(e)
    }

    /// Whether the database could not be reached (a connection refused or cut, the pool
    /// timed out, the server shutting down or not accepting connections yet): the operation
    /// may succeed when it is tried again, unlike a refusal or a bad row.
    pub fn is_unavailable(&self) -> bool {
        let Self::Sqlx(e) = self else { return false };
        match e {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => true,
            // SQLSTATE class 08 (connection exception) and 57P (operator intervention:
            // admin shutdown, crash shutdown, cannot connect now).
            sqlx::Error::Database(d) => d
                .code()
                .is_some_and(|c| c.starts_with("08") || c.starts_with("57P")),
            _ => false,
        }
    }
}

pub type Result<T, E = DbError> = std::result::Result<T, E>;

/// Refuses a conditional update `from… → to` that the state's transition table forbids.
pub(crate) fn check_moves<S: model::State>(from: &[S], to: S) -> Result<()> {
    match from.iter().find(|f| !f.can_become(to)) {
        Some(f) => Err(DbError::IllegalTransition {
            kind: S::KIND,
            from: f.as_str(),
            to: to.as_str(),
        }),
        None => Ok(()),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

type BoxFut<'c> = std::pin::Pin<
    Box<dyn std::future::Future<Output = std::result::Result<(), sqlx::Error>> + Send + 'c>,
>;

fn sqlite_pragmas(
    conn: &mut sqlx::AnyConnection,
    _meta: sqlx::pool::PoolConnectionMetadata,
) -> BoxFut<'_> {
    Box::pin(async move {
        use sqlx::Executor;
        conn.execute("PRAGMA busy_timeout = 10000").await?;
        conn.execute("PRAGMA synchronous = NORMAL").await?;
        conn.execute("PRAGMA foreign_keys = ON").await?;
        // Pages read through a shared mapping instead of read() copies into each of the nine
        // connections' caches (every commit empties the other connections' caches, so the
        // readers kept re-reading the same index pages: 8 % of the server's CPU listing VMs).
        conn.execute("PRAGMA mmap_size = 268435456").await?;
        Ok(())
    })
}

/// The store: a read pool and a write pool (the same pool on PostgreSQL).
#[derive(Clone)]
pub struct DataStore {
    read: AnyPool,
    write: AnyPool,
    backend: Backend,
    /// When this server opened the store (epoch ms).
    opened: i64,
}

impl DataStore {
    /// Opens `sqlite:PATH` (created if missing) or `postgres://…`, and applies migrations.
    pub async fn open(url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let store = if let Some(path) = url.strip_prefix("sqlite:") {
            let path = path.trim_start_matches("//");
            let url = format!("sqlite://{path}?mode=rwc");
            let opts = AnyConnectOptions::from_str(&url)?;
            let write = AnyPoolOptions::new()
                .max_connections(1)
                .acquire_timeout(Duration::from_secs(60))
                .after_connect(sqlite_pragmas)
                .connect_with(opts.clone())
                .await?;
            {
                use sqlx::Executor;
                write.execute("PRAGMA journal_mode = WAL").await?;
            }
            let read = AnyPoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(60))
                .after_connect(sqlite_pragmas)
                .connect_with(opts)
                .await?;
            Self {
                read,
                write,
                backend: Backend::Sqlite,
                opened: migrate::now_ms(),
            }
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            // sqlx retries a failed connect with a backoff of up to a fifth of the acquire
            // timeout: 15 s keeps it under 3 s, so after PostgreSQL restarts the servers are
            // back within seconds (with 60 s a 10 s outage cost ~20 s, near the fencing
            // threshold).
            let pool = AnyPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(15))
                .connect(url)
                .await?;
            Self {
                read: pool.clone(),
                write: pool,
                backend: Backend::Postgres,
                opened: migrate::now_ms(),
            }
        } else {
            return Err(DbError::BadUrl(url.to_string()));
        };
        migrate::run(&store).await?;
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// When this server opened the store (epoch ms).
    pub fn opened(&self) -> i64 {
        self.opened
    }

    /// This server's open connections to the database (both pools on SQLite).
    pub fn open_connections(&self) -> u32 {
        match self.backend {
            Backend::Sqlite => self.read.size() + self.write.size(),
            Backend::Postgres => self.read.size(),
        }
    }

    /// A connection for reads.
    pub async fn read(&self) -> Result<PoolConnection<Any>> {
        Ok(self.read.acquire().await?)
    }

    /// A write transaction. Never hold one across IO to anything but the database, and never
    /// open a second one in the same task while holding one (SQLite has one writer).
    pub async fn begin(&self) -> Result<Tx> {
        Ok(self.write.begin().await?)
    }

    /// Closes the pools.
    /// (pool, connections open, of them idle) for the read and write pools — for metrics.
    pub fn pool_stats(&self) -> [(&'static str, u32, usize); 2] {
        [
            ("read", self.read.size(), self.read.num_idle()),
            ("write", self.write.size(), self.write.num_idle()),
        ]
    }

    pub async fn close(&self) {
        self.read.close().await;
        self.write.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_unreachable_database_is_unavailable() {
        assert!(DbError::Sqlx(sqlx::Error::PoolTimedOut).is_unavailable());
        assert!(DbError::Sqlx(sqlx::Error::Io(std::io::Error::from(
            std::io::ErrorKind::ConnectionRefused
        )))
        .is_unavailable());
        assert!(!DbError::Sqlx(sqlx::Error::RowNotFound).is_unavailable());
        assert!(!DbError::Conflict("x".into()).is_unavailable());
        assert!(!DbError::BadUrl("x".into()).is_unavailable());
    }

    /// A closed pool answers as an unreachable database does, and a query against it fails
    /// as unavailable (a job stopped by it is resumed, not failed).
    #[tokio::test]
    async fn a_query_on_a_closed_store_is_unavailable() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = DataStore::open(&format!("sqlite:{}/t.db", dir.path().display()))
            .await
            .expect("open");
        store.close().await;
        match store.read().await {
            Err(e) => assert!(e.is_unavailable(), "{e}"),
            Ok(_) => panic!("a closed store gave a connection"),
        }
    }
}
