//! Hosts (hypervisor hosts joined by an agent) and the join tokens that admit them.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use uuid::Uuid;

use model::{HostId, HostStatus, ResourceState};

use crate::identity::Listed;
use crate::mapper::map_row;
use crate::migrate::now_ms;
use crate::sql::Sql;
use crate::{DbError, Result};

/// A host as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct HostRow {
    pub id: HostId,
    pub zone_id: Uuid,
    pub pod_id: Uuid,
    pub cluster_id: Uuid,
    pub name: String,
    pub address: String,
    pub hypervisor: String,
    /// Connection status: Connecting, Up, Disconnected, Alert, Down, …
    pub status: HostStatus,
    /// Enabled, Disabled, PrepareForMaintenance, Maintenance, …
    pub resource_state: ResourceState,
    pub host_tags: Vec<String>,
    /// The agent's last inventory (JSON of `proto::Inventory`).
    pub inventory: serde_json::Value,
    pub secret_hash: Option<String>,
    pub server_id: Option<Uuid>,
    pub last_pinged: Option<i64>,
    pub disconnected: Option<i64>,
    pub simulated: bool,
    pub created: i64,
    /// VM slots (Canopy): overrides the cluster's and the hypervisor's guest limit.
    pub vm_slots: Option<i64>,
}

fn host_row(r: &AnyRow) -> Result<HostRow> {
    map_row!(r, "hosts", HostRow {
        id: "id",
        zone_id: "zone_id",
        pod_id: "pod_id",
        cluster_id: "cluster_id",
        name: "name",
        address: "address",
        hypervisor: "hypervisor",
        status: "status",
        resource_state: "resource_state",
        host_tags: (csv "host_tags"),
        inventory: (json "inventory"),
        secret_hash: "secret_hash",
        server_id: "server_id",
        last_pinged: "last_pinged",
        disconnected: "disconnected",
        simulated: "simulated",
        created: "created",
        vm_slots: "vm_slots",
    })
}

pub async fn host_insert(conn: &mut AnyConnection, h: &HostRow) -> Result<()> {
    let mut q = Sql::new("INSERT INTO hosts (id, zone_id, pod_id, cluster_id, name, address, hypervisor, status, resource_state, host_tags, inventory, secret_hash, simulated, created) VALUES (");
    q.bind(h.id.to_string())
        .push(", ")
        .bind(h.zone_id.to_string())
        .push(", ")
        .bind(h.pod_id.to_string())
        .push(", ");
    q.bind(h.cluster_id.to_string())
        .push(", ")
        .bind(h.name.clone())
        .push(", ")
        .bind(h.address.clone())
        .push(", ");
    q.bind(h.hypervisor.clone())
        .push(", ")
        .bind(h.status)
        .push(", ")
        .bind(h.resource_state)
        .push(", ");
    q.bind(h.host_tags.join(","))
        .push(", ")
        .bind(h.inventory.to_string())
        .push(", ")
        .bind(h.secret_hash.clone())
        .push(", ");
    q.bind(h.simulated).push(", ").bind(now_ms()).push(")");
    q.query().execute(conn).await.map_err(DbError::classify)?;
    Ok(())
}

pub async fn host_get(conn: &mut AnyConnection, id: HostId) -> Result<Option<HostRow>> {
    let mut q = Sql::new("SELECT * FROM hosts WHERE removed IS NULL AND id = ");
    q.bind(id.to_string());
    q.one(conn, host_row).await
}

pub async fn host_get_by_address(
    conn: &mut AnyConnection,
    address: &str,
) -> Result<Option<HostRow>> {
    let mut q = Sql::new("SELECT * FROM hosts WHERE removed IS NULL AND address = ");
    q.bind(address);
    q.one(conn, host_row).await
}

/// Filters for [`host_list`].
#[derive(Clone, Debug, Default)]
pub struct HostFilter {
    pub id: Option<HostId>,
    /// Any of these hosts (empty: no condition).
    pub ids: Vec<HostId>,
    pub zone_id: Option<Uuid>,
    pub pod_id: Option<Uuid>,
    pub cluster_id: Option<Uuid>,
    pub name: Option<String>,
    pub status: Option<HostStatus>,
    pub resource_state: Option<ResourceState>,
    /// Match no host (a state filter naming no state: CloudStack answers an empty list).
    pub none: bool,
    pub hypervisor: Option<String>,
    pub keyword: Option<String>,
    pub offset: u64,
    pub limit: Option<u64>,
}

fn host_where(q: &mut Sql, f: &HostFilter) {
    if let Some(id) = f.id {
        q.and(" AND id = ", id.to_string());
    }
    for (col, v) in [
        ("zone_id", f.zone_id),
        ("pod_id", f.pod_id),
        ("cluster_id", f.cluster_id),
    ] {
        if let Some(v) = v {
            q.and(&format!(" AND {col} = "), v.to_string());
        }
    }
    if f.none {
        q.push(" AND 1 = 0");
    }
    if let Some(s) = f.status {
        q.and(" AND status = ", s);
    }
    if let Some(s) = f.resource_state {
        q.and(" AND resource_state = ", s);
    }
    for (col, v) in [("name", &f.name), ("hypervisor", &f.hypervisor)] {
        if let Some(v) = v {
            q.and(&format!(" AND lower({col}) = lower("), v.clone())
                .push(")");
        }
    }
    if let Some(k) = &f.keyword {
        q.and(" AND lower(name) LIKE ", format!("%{}%", k.to_lowercase()));
    }
    if !f.ids.is_empty() {
        q.push(" AND id IN (");
        for (i, id) in f.ids.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.bind(id.to_string());
        }
        q.push(")");
    }
}

pub async fn host_list(conn: &mut AnyConnection, f: &HostFilter) -> Result<Listed<HostRow>> {
    let mut c = Sql::new("SELECT COUNT(*) FROM hosts WHERE removed IS NULL");
    host_where(&mut c, f);
    let total: i64 = c.query().fetch_one(&mut *conn).await?.try_get(0)?;
    let mut q = Sql::new("SELECT * FROM hosts WHERE removed IS NULL");
    host_where(&mut q, f);
    q.push(" ORDER BY created, id").page(f.offset, f.limit);
    Ok((q.all(conn, host_row).await?, total.max(0) as u64))
}

/// What the host monitor asks [`host_monitor_candidates`] for (epoch milliseconds).
#[derive(Clone, Copy, Debug)]
pub struct MonitorQuery<'a> {
    /// Hosts no live server holds are looked at once silent since before this.
    pub silent_before: i64,
    /// A live server writes its hosts' heartbeats only now and then (their liveness is judged
    /// in its memory): those silent since before this are looked at too (a connection that
    /// ended without its status written).
    pub stale_before: i64,
    /// The servers alive (the asking one included).
    pub live: &'a [Uuid],
    /// Several servers share the database: hosts held by a server not alive are looked at.
    pub several: bool,
}

/// The hosts the host monitor must look at (`server::hostmonitor::monitor_once`): Disconnected
/// ones, those no live server holds whose last heartbeat is older than `silent_before`, those
/// of a live server older than `stale_before` and, with several servers, those held by a
/// server not alive. The others are connected and beating, and need no decision: at 100,000
/// hosts, reading every row each round (every 2 s) held a read connection 1.5–2 s and starved
/// the API's reads.
pub async fn host_monitor_candidates(
    conn: &mut AnyConnection,
    m: &MonitorQuery<'_>,
) -> Result<Vec<HostRow>> {
    let not_live = |q: &mut Sql| {
        if m.live.is_empty() {
            q.push("1 = 1");
            return;
        }
        q.push("server_id NOT IN (");
        for (i, id) in m.live.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.bind(id.to_string());
        }
        q.push(")");
    };
    let mut q = Sql::new("SELECT * FROM hosts WHERE removed IS NULL AND (status = ");
    q.bind(HostStatus::Disconnected)
        .and(" OR last_pinged < ", m.stale_before)
        .and(" OR (last_pinged < ", m.silent_before)
        .push(" AND (server_id IS NULL OR ");
    not_live(&mut q);
    q.push("))");
    if m.several {
        q.push(" OR (server_id IS NOT NULL AND ");
        not_live(&mut q);
        q.push(")");
    }
    q.push(") ORDER BY created, id");
    q.all(conn, host_row).await
}

/// Live hosts of a cluster.
pub async fn host_count_in_cluster(conn: &mut AnyConnection, cluster: Uuid) -> Result<u64> {
    let mut q = Sql::new("SELECT COUNT(*) FROM hosts WHERE removed IS NULL AND cluster_id = ");
    q.bind(cluster.to_string());
    let n: i64 = q.query().fetch_one(conn).await?.try_get(0)?;
    Ok(n.max(0) as u64)
}

/// An agent connected: status, inventory, owning server, credential (on first join).
pub async fn host_connected(
    conn: &mut AnyConnection,
    id: HostId,
    inventory: &serde_json::Value,
    server: Uuid,
    secret_hash: Option<&str>,
) -> Result<()> {
    let now = now_ms();
    let mut q = Sql::new("UPDATE hosts SET status = 'Up', disconnected = NULL, inventory = ");
    q.bind(inventory.to_string())
        .and(", server_id = ", server.to_string())
        .and(", last_pinged = ", now);
    if let Some(h) = secret_hash {
        q.and(", secret_hash = ", h);
    }
    q.and(" WHERE removed IS NULL AND id = ", id.to_string());
    q.query().execute(conn).await?;
    Ok(())
}

/// Claims a host for server `me` unless a live server holds it: answers whether `me` holds it
/// now. A host held by no server is claimed only with `unowned` (at start; otherwise it may be
/// a host being added elsewhere). One conditional UPDATE, so of several servers claiming at
/// once exactly one wins.
pub async fn host_claim(
    conn: &mut AnyConnection,
    id: HostId,
    me: model::ServerId,
    live: &[model::ServerId],
    unowned: bool,
) -> Result<bool> {
    let mut q = Sql::new("UPDATE hosts SET server_id = ");
    q.bind(me.to_string())
        .and(" WHERE removed IS NULL AND id = ", id.to_string())
        .push(" AND (");
    q.push(if unowned { "server_id IS NULL OR " } else { "" });
    q.push("(server_id IS NOT NULL");
    for s in live {
        q.and(" AND server_id <> ", s.to_string());
    }
    q.push("))");
    Ok(q.query().execute(conn).await?.rows_affected() == 1)
}

/// Marks an Up host Disconnected if its agent is still recorded with server `owner` (one
/// conditional UPDATE: a host whose agent has meanwhile connected to another server is left
/// alone). Answers whether it changed.
pub async fn host_disconnect_if_owned(
    conn: &mut AnyConnection,
    id: HostId,
    owner: Uuid,
    now: i64,
) -> Result<bool> {
    let mut q = Sql::new("UPDATE hosts SET status = 'Disconnected', disconnected = ");
    q.bind(now)
        .and(
            " WHERE removed IS NULL AND status = 'Up' AND id = ",
            id.to_string(),
        )
        .and(" AND server_id = ", owner.to_string());
    Ok(q.query().execute(conn).await?.rows_affected() == 1)
}

/// Sets the connection status; `disconnected` records when the host was last lost.
pub async fn host_set_status(
    conn: &mut AnyConnection,
    id: HostId,
    status: HostStatus,
    disconnected: Option<i64>,
) -> Result<()> {
    let mut q = Sql::new("UPDATE hosts SET status = ");
    q.bind(status)
        .and(", disconnected = ", disconnected)
        .and(" WHERE removed IS NULL AND id = ", id.to_string());
    q.query().execute(conn).await?;
    Ok(())
}

/// Records heartbeats of many hosts in one statement per 500.
pub async fn host_touch_many(conn: &mut AnyConnection, ids: &[HostId], now: i64) -> Result<()> {
    for chunk in ids.chunks(500) {
        let mut q = Sql::new("UPDATE hosts SET last_pinged = ");
        q.bind(now).push(" WHERE id IN (");
        for (i, id) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.bind(id.to_string());
        }
        q.push(")");
        q.query().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Name, tags, resource state and VM slots (the operator-controlled parts).
pub async fn host_update(conn: &mut AnyConnection, h: &HostRow) -> Result<()> {
    let mut q = Sql::new("UPDATE hosts SET name = ");
    q.bind(h.name.clone())
        .and(", host_tags = ", h.host_tags.join(","))
        .and(", resource_state = ", h.resource_state)
        .and(", vm_slots = ", h.vm_slots);
    q.and(" WHERE removed IS NULL AND id = ", h.id.to_string());
    q.query().execute(conn).await?;
    Ok(())
}

pub async fn host_mark_removed(conn: &mut AnyConnection, id: HostId) -> Result<()> {
    let mut q = Sql::new("UPDATE hosts SET removed = ");
    q.bind(now_ms())
        .push(", secret_hash = NULL, status = 'Removed'")
        .and(" WHERE removed IS NULL AND id = ", id.to_string());
    q.query().execute(conn).await?;
    Ok(())
}

/// A join token as stored (the secret only by its hash).
#[derive(Clone, Debug, PartialEq)]
pub struct TokenRow {
    pub id: Uuid,
    pub cluster_id: Uuid,
    /// Bound to one host address, or `None` for a cluster token that admits new hosts.
    pub address: Option<String>,
    pub uses_left: i64,
    pub expires: i64,
}

pub async fn token_insert(conn: &mut AnyConnection, t: &TokenRow, secret_hash: &str) -> Result<()> {
    let mut q = Sql::new("INSERT INTO join_tokens (id, secret_hash, cluster_id, address, uses_left, expires, created) VALUES (");
    q.bind(t.id.to_string())
        .push(", ")
        .bind(secret_hash)
        .push(", ")
        .bind(t.cluster_id.to_string())
        .push(", ");
    q.bind(t.address.clone())
        .push(", ")
        .bind(t.uses_left)
        .push(", ")
        .bind(t.expires)
        .push(", ")
        .bind(now_ms())
        .push(")");
    q.query().execute(conn).await?;
    Ok(())
}

/// The token with this secret hash, if it exists (used up or expired ones too).
pub async fn token_get(conn: &mut AnyConnection, secret_hash: &str) -> Result<Option<TokenRow>> {
    let mut q = Sql::new("SELECT * FROM join_tokens WHERE secret_hash = ");
    q.bind(secret_hash);
    q.one(conn, |r| {
        map_row!(
            r,
            "join_tokens",
            TokenRow {
                id: "id",
                cluster_id: "cluster_id",
                address: "address",
                uses_left: "uses_left",
                expires: "expires",
            }
        )
    })
    .await
}

/// Spends one use of a token; false when none is left (another join won the race).
pub async fn token_spend(conn: &mut AnyConnection, id: Uuid) -> Result<bool> {
    let mut q =
        Sql::new("UPDATE join_tokens SET uses_left = uses_left - 1 WHERE uses_left > 0 AND id = ");
    q.bind(id.to_string());
    Ok(q.query().execute(conn).await?.rows_affected() > 0)
}

/// Marks every joined host Disconnected (single-server start-up: no agent is connected yet).
pub async fn host_mark_all_disconnected(conn: &mut AnyConnection, now: i64) -> Result<u64> {
    let mut q = Sql::new("UPDATE hosts SET status = 'Disconnected', disconnected = ");
    q.bind(now).push(" WHERE removed IS NULL AND secret_hash IS NOT NULL AND status IN ('Up', 'Connecting', 'Alert')");
    Ok(q.query().execute(conn).await?.rows_affected())
}

/// Live hosts per (status, resource state) (for metrics).
pub async fn host_count_by_status(conn: &mut AnyConnection) -> Result<Vec<(String, String, i64)>> {
    let rows = sqlx::query(
        "SELECT status, resource_state, COUNT(*) AS n FROM hosts WHERE removed IS NULL GROUP BY status, resource_state",
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("status")?,
                r.try_get("resource_state")?,
                r.try_get("n")?,
            ))
        })
        .collect()
}
