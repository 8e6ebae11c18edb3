//! What the database says about itself (listDbMetrics): version, connections, uptime,
//! statements run, TLS — from PostgreSQL's statistics views, or SQLite's own functions and
//! this server's pool for the embedded database.

use sqlx::{AnyConnection, Row};

use crate::{Backend, DataStore, Result};

#[derive(Clone, Debug, Default, PartialEq)]
pub struct DbMetrics {
    pub hostname: String,
    pub replicas: Vec<String>,
    pub connections: i64,
    pub uptime_secs: i64,
    pub version: String,
    pub version_comment: String,
    /// Transactions committed and rolled back in this database (PostgreSQL); SQLite keeps
    /// no such count: 0.
    pub queries: i64,
    /// The TLS version of this server's connection, when it uses TLS.
    pub tls: String,
}

pub async fn db_metrics(conn: &mut AnyConnection, store: &DataStore) -> Result<DbMetrics> {
    match store.backend() {
        Backend::Sqlite => {
            let r = sqlx::query("SELECT sqlite_version() AS v")
                .fetch_one(&mut *conn)
                .await?;
            let v: String = r.try_get("v")?;
            Ok(DbMetrics {
                hostname: "localhost".into(),
                replicas: Vec::new(),
                connections: i64::from(store.open_connections()),
                uptime_secs: (crate::migrate::now_ms() - store.opened()).max(0) / 1000,
                version: v,
                version_comment: "SQLite, embedded in the management server".into(),
                queries: 0,
                tls: String::new(),
            })
        }
        Backend::Postgres => {
            let r = sqlx::query(
                "SELECT current_setting('server_version') AS v, version() AS vc, \
                 COALESCE(host(inet_server_addr()), 'localhost') AS h, \
                 CAST(EXTRACT(EPOCH FROM now() - pg_postmaster_start_time()) AS BIGINT) AS up, \
                 (SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database()) AS c, \
                 (SELECT CAST(xact_commit + xact_rollback AS BIGINT) FROM pg_stat_database \
                  WHERE datname = current_database()) AS q, \
                 COALESCE((SELECT version FROM pg_stat_ssl WHERE pid = pg_backend_pid() AND ssl), '') AS tls",
            )
            .fetch_one(&mut *conn)
            .await?;
            let replicas: Vec<String> = sqlx::query(
                "SELECT COALESCE(host(client_addr), application_name) AS r FROM pg_stat_replication",
            )
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .filter_map(|r| r.try_get::<String, _>("r").ok())
            .collect();
            Ok(DbMetrics {
                hostname: r.try_get("h")?,
                replicas,
                connections: r.try_get("c")?,
                uptime_secs: r.try_get("up")?,
                version: r.try_get("v")?,
                version_comment: r.try_get("vc")?,
                queries: r.try_get::<Option<i64>, _>("q")?.unwrap_or(0),
                tls: r.try_get("tls")?,
            })
        }
    }
}
