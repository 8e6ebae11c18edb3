//! Settings, events, async jobs, management-server rows and metadata.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use model::{EventId, JobId, ServerId, UserId};

use crate::identity::Listed;
use crate::mapper::{map_row, parsed};
use crate::migrate::now_ms;
use crate::rows::*;
use crate::sql::{OwnerScope, Sql};
use crate::{DbError, Result};

// --- metadata ------------------------------------------------------------------------------

pub async fn meta_get(conn: &mut AnyConnection, key: &str) -> Result<Option<String>> {
    let mut q = Sql::new("SELECT value FROM meta WHERE key = ");
    q.bind(key);
    Ok(q.query()
        .fetch_optional(conn)
        .await?
        .map(|r| r.try_get("value"))
        .transpose()?)
}

/// Inserts a metadata value; returns false if the key already existed (the old value stays).
pub async fn meta_insert(conn: &mut AnyConnection, key: &str, value: &str) -> Result<bool> {
    let mut q = Sql::new("INSERT INTO meta (key, value) VALUES (");
    q.bind(key).push(", ").bind(value).push(")");
    match q.query().execute(conn).await.map_err(DbError::classify) {
        Ok(_) => Ok(true),
        Err(DbError::Conflict(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

// --- settings ------------------------------------------------------------------------------

/// Every setting an operator changed.
pub async fn setting_all(conn: &mut AnyConnection) -> Result<Vec<(String, String)>> {
    let rows = sqlx::query("SELECT name, value FROM settings ORDER BY name")
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("name")?, r.try_get("value")?)))
        .collect()
}

/// A fingerprint of the stored settings (how many, the latest change): it changes whenever a
/// setting is set or reset, so a server can tell that a peer changed one.
pub async fn setting_version(conn: &mut AnyConnection) -> Result<(i64, i64)> {
    let r = sqlx::query("SELECT COUNT(*) AS n, COALESCE(MAX(updated), 0) AS latest FROM settings")
        .fetch_one(conn)
        .await?;
    Ok((r.try_get("n")?, r.try_get("latest")?))
}

pub async fn setting_set(conn: &mut AnyConnection, name: &str, value: &str) -> Result<()> {
    let mut q = Sql::new("DELETE FROM settings WHERE name = ");
    q.bind(name);
    q.query().execute(&mut *conn).await?;
    let mut q = Sql::new("INSERT INTO settings (name, value, updated) VALUES (");
    q.bind(name)
        .push(", ")
        .bind(value)
        .push(", ")
        .bind(now_ms())
        .push(")");
    q.query().execute(conn).await?;
    Ok(())
}

/// Removes a stored value (resetConfiguration): the setting is back to its default, or a
/// scoped value back to what it inherits.
pub async fn setting_reset(conn: &mut AnyConnection, name: &str) -> Result<bool> {
    let mut q = Sql::new("DELETE FROM settings WHERE name = ");
    q.bind(name);
    Ok(q.query().execute(conn).await?.rows_affected() > 0)
}

// --- events --------------------------------------------------------------------------------

pub async fn event_insert(conn: &mut AnyConnection, e: &NewEvent) -> Result<()> {
    let mut q = Sql::new("INSERT INTO events (id, event_type, level, description, state, account_id, domain_id, user_id, resource_id, resource_type, resource_name, parent_id, created, archived) VALUES (");
    q.bind(e.id)
        .push(", ")
        .bind(e.event_type.clone())
        .push(", ")
        .bind(e.level)
        .push(", ")
        .bind(e.description.clone());
    q.push(", ")
        .bind(e.state)
        .push(", ")
        .bind(e.account_id)
        .push(", ")
        .bind(e.domain_id)
        .push(", ")
        .bind(e.user_id);
    q.push(", ")
        .bind(e.resource_id.clone())
        .push(", ")
        .bind(e.resource_type.clone())
        .push(", ");
    q.bind(e.resource_name.clone())
        .push(", ")
        .bind(e.parent_id)
        .push(", ")
        .bind(now_ms())
        .push(", 0)");
    q.query().execute(conn).await?;
    Ok(())
}

const EVENT_COLS: &str =
    "e.*, a.name AS account_name, d.name AS domain_name, u.username AS username";
const EVENT_FROM: &str =
    " FROM events e JOIN accounts a ON a.id = e.account_id JOIN domains d ON d.id = e.domain_id \
     LEFT JOIN users u ON u.id = e.user_id WHERE 1 = 1";

fn event_row(r: &AnyRow) -> Result<EventRow> {
    map_row!(
        r,
        "events",
        EventRow {
            id: "id",
            event_type: "event_type",
            level: "level",
            description: "description",
            state: "state",
            account_id: "account_id",
            account_name: "account_name",
            domain_id: "domain_id",
            domain_name: "domain_name",
            username: "username",
            user_id: "user_id",
            resource_id: "resource_id",
            resource_type: "resource_type",
            resource_name: "resource_name",
            parent_id: "parent_id",
            created: "created",
            archived: "archived",
        }
    )
}

/// Filters for [`event_list`].
#[derive(Clone, Debug)]
pub struct EventFilter {
    pub scope: OwnerScope,
    pub id: Option<EventId>,
    pub event_type: Option<String>,
    pub level: Option<String>,
    pub start: Option<i64>,
    pub end: Option<i64>,
    pub keyword: Option<String>,
    pub resource_id: Option<String>,
    pub resource_type: Option<String>,
    pub start_id: Option<EventId>,
    /// Any of these (archiveEvents/deleteEvents `ids`); empty = no condition.
    pub ids: Vec<EventId>,
    /// Archived ones only, or unarchived ones only (listEvents shows the unarchived).
    pub archived: Option<bool>,
    pub offset: u64,
    pub limit: Option<u64>,
}

fn event_where(q: &mut Sql, f: &EventFilter) {
    f.scope.push(q, "e.account_id", "d");
    if let Some(id) = f.id {
        q.and(" AND e.id = ", id);
    }
    if !f.ids.is_empty() {
        q.push(" AND e.id IN (");
        for (i, id) in f.ids.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.bind(*id);
        }
        q.push(")");
    }
    if let Some(a) = f.archived {
        q.and(" AND e.archived = ", a);
    }
    if let Some(t) = &f.event_type {
        q.and(" AND e.event_type = ", t.clone());
    }
    if let Some(l) = &f.level {
        q.and(" AND e.level = ", l.to_uppercase());
    }
    if let Some(s) = f.start {
        q.and(" AND e.created >= ", s);
    }
    if let Some(e) = f.end {
        q.and(" AND e.created <= ", e);
    }
    if let Some(k) = &f.keyword {
        let k = format!("%{}%", k.to_lowercase());
        q.and(" AND (lower(e.description) LIKE ", k.clone())
            .and(" OR lower(e.event_type) LIKE ", k)
            .push(")");
    }
    if let Some(r) = &f.resource_id {
        q.and(" AND e.resource_id = ", r.clone());
    }
    if let Some(r) = &f.resource_type {
        q.and(" AND e.resource_type = ", r.clone());
    }
    if let Some(s) = f.start_id {
        q.and(" AND (e.id = ", s)
            .and(" OR e.parent_id = ", s)
            .push(")");
    }
}

/// A page of events, newest first, and the total: counted and paged on the `events` table
/// alone (the domains joined only when the caller's scope needs their paths), then only the
/// page's rows joined with their owners — as `vm_list` does.
pub async fn event_list(conn: &mut AnyConnection, f: &EventFilter) -> Result<Listed<EventRow>> {
    let lean = if f.scope.uses_domain() {
        " FROM events e JOIN domains d ON d.id = e.domain_id WHERE 1 = 1"
    } else {
        " FROM events e WHERE 1 = 1"
    };
    let mut c = Sql::new(&format!("SELECT COUNT(*){lean}"));
    event_where(&mut c, f);
    let total: i64 = c.query().fetch_one(&mut *conn).await?.try_get(0)?;
    if f.limit == Some(0) || total <= 0 {
        return Ok((Vec::new(), total.max(0) as u64));
    }
    let mut q = Sql::new(&format!("SELECT e.id{lean}"));
    event_where(&mut q, f);
    q.push(" ORDER BY e.created DESC, e.id DESC")
        .page(f.offset, f.limit);
    let ids = crate::sql::page_ids(conn, q).await?;
    let select = format!("SELECT {EVENT_COLS}{EVENT_FROM}");
    let mut rows = crate::sql::rows_by_ids(conn, &select, "e.id", &ids, event_row).await?;
    rows.sort_by_key(|e: &EventRow| std::cmp::Reverse((e.created, e.id)));
    Ok((rows, total.max(0) as u64))
}

/// Marks the events the filter matches archived (hidden from listEvents); how many.
pub async fn event_archive(conn: &mut AnyConnection, f: &EventFilter) -> Result<u64> {
    let mut q = Sql::new(&format!(
        "UPDATE events SET archived = 1 WHERE id IN (SELECT e.id{EVENT_FROM}"
    ));
    event_where(&mut q, f);
    q.push(")");
    Ok(q.query().execute(conn).await?.rows_affected())
}

/// Deletes the events the filter matches; how many.
pub async fn event_delete(conn: &mut AnyConnection, f: &EventFilter) -> Result<u64> {
    let mut q = Sql::new(&format!(
        "DELETE FROM events WHERE id IN (SELECT e.id{EVENT_FROM}"
    ));
    event_where(&mut q, f);
    q.push(")");
    Ok(q.query().execute(conn).await?.rows_affected())
}

/// Deletes events older than `before`; returns how many.
pub async fn event_purge(conn: &mut AnyConnection, before: i64) -> Result<u64> {
    let mut q = Sql::new("DELETE FROM events WHERE created < ");
    q.bind(before);
    Ok(q.query().execute(conn).await?.rows_affected())
}

// --- jobs ----------------------------------------------------------------------------------

const JOB_COLS: &str = "j.*, a.name AS account_name, d.path AS domain_path";
const JOB_FROM: &str = " FROM jobs j JOIN accounts a ON a.id = j.account_id JOIN domains d ON d.id = j.domain_id WHERE 1 = 1";

fn job_row(r: &AnyRow) -> Result<JobRow> {
    map_row!(
        r,
        "jobs",
        JobRow {
            id: "id",
            command: "command",
            params: "params",
            user_id: "user_id",
            account_id: "account_id",
            account_name: "account_name",
            domain_id: "domain_id",
            domain_path: "domain_path",
            status: "status",
            result_code: "result_code",
            result: "result",
            instance_type: "instance_type",
            instance_id: "instance_id",
            created: "created",
            completed: "completed",
            owner: "owner",
            lease_until: "lease_until",
            attempts: "attempts",
            generation: "generation",
            event_id: "event_id",
            progress: "progress",
            resume_mark: "resume_mark",
        }
    )
}

/// Records how far a running job is (0–100). A finished job, or an id that is not a job (a
/// saga key derived from one), is left alone.
pub async fn job_set_progress(conn: &mut AnyConnection, id: JobId, pct: i64) -> Result<()> {
    let mut q = Sql::new("UPDATE jobs SET progress = ");
    q.bind(pct.clamp(0, 100))
        .push(" WHERE status = 0 AND id = ")
        .bind(id);
    q.query().execute(conn).await?;
    Ok(())
}

/// Inserts a job already owned (leased) by `owner`.
pub async fn job_insert(
    conn: &mut AnyConnection,
    j: &NewJob,
    owner: ServerId,
    lease_until: i64,
) -> Result<()> {
    let mut q = Sql::new("INSERT INTO jobs (id, command, params, user_id, account_id, domain_id, status, result_code, instance_type, instance_id, created, owner, lease_until, attempts, event_id) VALUES (");
    q.bind(j.id)
        .push(", ")
        .bind(j.command.clone())
        .push(", ")
        .bind(j.params.clone())
        .push(", ")
        .bind(j.user_id);
    q.push(", ")
        .bind(j.account_id)
        .push(", ")
        .bind(j.domain_id)
        .push(", 0, 0, ")
        .bind(j.instance_type.clone());
    q.push(", ")
        .bind(j.instance_id.clone())
        .push(", ")
        .bind(now_ms())
        .push(", ")
        .bind(owner)
        .push(", ");
    q.bind(lease_until).push(", 1, ").bind(j.event_id).push(")");
    q.query().execute(conn).await?;
    Ok(())
}

pub async fn job_get(conn: &mut AnyConnection, id: JobId) -> Result<Option<JobRow>> {
    let mut q = Sql::new(&format!("SELECT {JOB_COLS}{JOB_FROM}"));
    q.and(" AND j.id = ", id);
    q.one(conn, job_row).await
}

/// Filters for [`job_list`].
#[derive(Clone, Debug)]
pub struct JobFilter {
    pub scope: OwnerScope,
    pub start: Option<i64>,
    pub keyword: Option<String>,
    pub offset: u64,
    pub limit: Option<u64>,
}

fn job_where(q: &mut Sql, f: &JobFilter) {
    f.scope.push(q, "j.account_id", "d");
    if let Some(s) = f.start {
        q.and(" AND j.created >= ", s);
    }
    if let Some(k) = &f.keyword {
        q.and(
            " AND lower(j.command) LIKE ",
            format!("%{}%", k.to_lowercase()),
        );
    }
}

pub async fn job_list(conn: &mut AnyConnection, f: &JobFilter) -> Result<Listed<JobRow>> {
    let mut c = Sql::new(&format!("SELECT COUNT(*){JOB_FROM}"));
    job_where(&mut c, f);
    let total: i64 = c.query().fetch_one(&mut *conn).await?.try_get(0)?;
    let mut q = Sql::new(&format!("SELECT {JOB_COLS}{JOB_FROM}"));
    job_where(&mut q, f);
    q.push(" ORDER BY j.created DESC, j.id")
        .page(f.offset, f.limit);
    let rows = q.query().fetch_all(conn).await?;
    Ok((
        rows.iter().map(job_row).collect::<Result<_>>()?,
        total.max(0) as u64,
    ))
}

/// Confirms, inside the caller's transaction, that `owner` still holds the job at
/// `generation` (it is in progress and nobody took it over since), extending its lease. A
/// saga writes its progress only in a transaction where this returned true, so a server that
/// was paused past its lease and superseded cannot move the saga on.
pub async fn job_hold(
    conn: &mut AnyConnection,
    id: JobId,
    owner: ServerId,
    generation: i64,
    until: i64,
) -> Result<bool> {
    let mut q = Sql::new("UPDATE jobs SET lease_until = ");
    q.bind(until)
        .and(" WHERE status = 0 AND id = ", id)
        .and(" AND owner = ", owner)
        .and(" AND generation = ", generation);
    Ok(q.query().execute(conn).await?.rows_affected() > 0)
}

/// Records a job's end. Only a job still in progress, owned by `owner` at `generation`, is
/// changed, so a server that lost its lease (or a superseded run on the same server) cannot
/// overwrite the new owner's result.
pub async fn job_complete(
    conn: &mut AnyConnection,
    id: JobId,
    owner: ServerId,
    generation: i64,
    status: i64,
    result_code: i64,
    result: &str,
) -> Result<bool> {
    let mut q = Sql::new("UPDATE jobs SET status = ");
    q.bind(status)
        .and(", result_code = ", result_code)
        .and(", result = ", result)
        .and(", completed = ", now_ms());
    q.push(", lease_until = NULL")
        .and(" WHERE status = 0 AND id = ", id)
        .and(" AND owner = ", owner)
        .and(" AND generation = ", generation);
    Ok(q.query().execute(conn).await?.rows_affected() > 0)
}

/// Extends the leases of the in-progress jobs this server owns and still runs (`running`: a
/// job whose run ended without recording an outcome — its outcome write lost, say — is not
/// renewed, so recovery takes it over once its lease runs out).
pub async fn job_renew_leases(
    conn: &mut AnyConnection,
    owner: ServerId,
    running: &[JobId],
    until: i64,
) -> Result<u64> {
    if running.is_empty() {
        return Ok(0);
    }
    let mut q = Sql::new("UPDATE jobs SET lease_until = ");
    q.bind(until)
        .and(" WHERE status = 0 AND owner = ", owner)
        .push(" AND (lease_until IS NULL OR lease_until <> 0)");
    crate::sql::in_list(&mut q, "id", running);
    Ok(q.query().execute(conn).await?.rows_affected())
}

/// Gives up this server's hold on a job whose run failed (its database went away, say):
/// its lease ends now and is no longer renewed, so recovery — here or on another server —
/// takes it over and resumes it.
pub async fn job_release(conn: &mut AnyConnection, id: JobId, owner: ServerId) -> Result<bool> {
    let mut q = Sql::new("UPDATE jobs SET lease_until = 0 WHERE status = 0 AND id = ");
    q.bind(id).and(" AND owner = ", owner);
    Ok(q.query().execute(conn).await?.rows_affected() > 0)
}

/// In-progress jobs another server owned whose lease has run out (or every job another server
/// owned, with `any_other_owner`: a single-server SQLite store at start-up).
pub async fn job_orphans(
    conn: &mut AnyConnection,
    me: ServerId,
    now: i64,
    any_other_owner: bool,
) -> Result<Vec<JobRow>> {
    let mut q = Sql::new(&format!("SELECT {JOB_COLS}{JOB_FROM} AND j.status = 0"));
    if any_other_owner {
        q.and(" AND (j.owner IS NULL OR j.owner <> ", me).push(")");
    } else {
        q.and(" AND (j.lease_until IS NULL OR j.lease_until < ", now)
            .push(")");
    }
    q.push(" ORDER BY j.created");
    q.all(conn, job_row).await
}

/// Takes over a job if it is still as seen (same owner and generation), starting its next
/// generation. Returns whether this server now owns it (at `job.generation + 1`). `mark` says where the job stands now (its saga's position and
/// progress): the attempt count is incremented when the mark is the one recorded at the last
/// take-over (no progress since), and starts again at 1 when the job moved on — so a job
/// interrupted many times while making progress is never failed for it.
pub async fn job_take_over(
    conn: &mut AnyConnection,
    job: &JobRow,
    me: ServerId,
    until: i64,
    mark: &str,
) -> Result<bool> {
    let attempts = if job.resume_mark.as_deref() == Some(mark) {
        job.attempts + 1
    } else {
        1
    };
    let mut q = Sql::new("UPDATE jobs SET owner = ");
    q.bind(me)
        .and(", lease_until = ", until)
        .and(", attempts = ", attempts)
        .and(", resume_mark = ", mark.to_string())
        .and(", generation = ", job.generation + 1);
    q.and(" WHERE status = 0 AND id = ", job.id)
        .and(" AND generation = ", job.generation);
    match job.owner {
        Some(o) => q.and(" AND owner = ", o),
        None => q.push(" AND owner IS NULL"),
    };
    Ok(q.query().execute(conn).await?.rows_affected() > 0)
}

/// Deletes finished jobs completed before `before`.
pub async fn job_purge(conn: &mut AnyConnection, before: i64) -> Result<u64> {
    let mut q = Sql::new("DELETE FROM jobs WHERE status <> 0 AND completed < ");
    q.bind(before);
    Ok(q.query().execute(conn).await?.rows_affected())
}

// --- management servers --------------------------------------------------------------------

/// One management-server process. `name` is its agent endpoint (unique among live servers).
#[derive(Clone, Debug, PartialEq)]
pub struct ServerRow {
    pub id: ServerId,
    pub name: String,
    /// The API address it listens on.
    pub address: String,
    /// `host:port` agents dial.
    pub agent_endpoint: String,
    pub version: String,
    /// Up, PreparingForMaintenance, Maintenance, Down.
    pub state: String,
    pub started: i64,
    pub heartbeat: i64,
    pub stopped: Option<i64>,
    /// What the server last measured of itself (JSON object).
    pub metrics: serde_json::Value,
}

/// What registering a server stores.
#[derive(Clone, Debug)]
pub struct NewServer {
    pub id: ServerId,
    pub name: String,
    pub address: String,
    pub agent_endpoint: String,
    pub version: String,
}

/// Registers a starting server, replacing earlier rows of the same name (the server bound
/// that endpoint, so their processes are gone). Answers how many of those were still
/// heartbeating after `stale_before`: a restart after a crash, or — a misconfiguration — two
/// servers advertising one endpoint.
pub async fn server_register(
    conn: &mut AnyConnection,
    s: &NewServer,
    stale_before: i64,
) -> Result<i64> {
    let mut q = Sql::new("SELECT COUNT(*) FROM servers WHERE state <> 'Down' AND name = ");
    q.bind(s.name.clone())
        .push(" AND heartbeat >= ")
        .bind(stale_before);
    let live: i64 = q.query().fetch_one(&mut *conn).await?.try_get(0)?;
    let mut q = Sql::new("DELETE FROM servers WHERE name = ");
    q.bind(s.name.clone());
    q.query().execute(&mut *conn).await?;
    let now = now_ms();
    let mut q = Sql::new(
        "INSERT INTO servers (id, address, started, heartbeat, name, agent_endpoint, version, state) VALUES (",
    );
    q.bind(s.id)
        .push(", ")
        .bind(s.address.clone())
        .push(", ")
        .bind(now)
        .push(", ")
        .bind(now)
        .push(", ")
        .bind(s.name.clone())
        .push(", ")
        .bind(s.agent_endpoint.clone())
        .push(", ")
        .bind(s.version.clone())
        .push(", 'Up')");
    q.query().execute(conn).await.map_err(DbError::classify)?;
    Ok(live)
}

/// Writes this server's heartbeat and answers its stored state (Up, PreparingForMaintenance,
/// Maintenance). `None` when its row is gone or a peer marked it Down: the others have taken
/// over its work, so it must stop acting (self-fencing).
pub async fn server_heartbeat(
    conn: &mut AnyConnection,
    id: ServerId,
    metrics: Option<&serde_json::Value>,
) -> Result<Option<String>> {
    let mut q = Sql::new("UPDATE servers SET heartbeat = ");
    q.bind(now_ms());
    if let Some(m) = metrics {
        q.push(", metrics = ").bind(m.to_string());
    }
    q.and(" WHERE id = ", id)
        .push(" AND state <> 'Down' RETURNING state");
    let row = q.query().fetch_optional(conn).await?;
    row.map(|r| Ok(r.try_get::<String, _>("state")?))
        .transpose()
}

/// Moves a server from one state to another (conditional: `false` when it was not in
/// `from`).
pub async fn server_transition(
    conn: &mut AnyConnection,
    id: ServerId,
    from: &[&str],
    to: &str,
) -> Result<bool> {
    let mut q = Sql::new("UPDATE servers SET state = ");
    q.bind(to).and(" WHERE id = ", id).push(" AND state IN (");
    for (i, s) in from.iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.bind(*s);
    }
    q.push(")");
    Ok(q.query().execute(conn).await?.rows_affected() == 1)
}

/// Every registered server, by name.
pub async fn server_list(conn: &mut AnyConnection) -> Result<Vec<ServerRow>> {
    let q = Sql::new(
        "SELECT id, name, address, agent_endpoint, version, state, started, heartbeat, stopped, \
         metrics FROM servers ORDER BY name, started",
    );
    q.all(conn, |r| {
        map_row!(
            r,
            "servers",
            ServerRow {
                id: "id",
                name: "name",
                address: "address",
                agent_endpoint: "agent_endpoint",
                version: "version",
                state: "state",
                started: "started",
                heartbeat: "heartbeat",
                stopped: "stopped",
                metrics: "metrics",
            }
        )
    })
    .await
}

/// Sets a server's state (`stopped` is written when given).
pub async fn server_set_state(
    conn: &mut AnyConnection,
    id: ServerId,
    state: &str,
    stopped: Option<i64>,
) -> Result<bool> {
    let mut q = Sql::new("UPDATE servers SET state = ");
    q.bind(state);
    if let Some(t) = stopped {
        q.push(", stopped = ").bind(t);
    }
    q.and(" WHERE id = ", id);
    Ok(q.query().execute(conn).await?.rows_affected() == 1)
}

/// Marks Down every server still Up (or in maintenance) whose heartbeat is older than
/// `stale_before`, and answers them: a peer's judgement that they are dead.
pub async fn server_mark_dead(
    conn: &mut AnyConnection,
    stale_before: i64,
) -> Result<Vec<ServerId>> {
    let mut q = Sql::new("UPDATE servers SET state = 'Down', stopped = heartbeat WHERE state <> 'Down' AND heartbeat < ");
    q.bind(stale_before).push(" RETURNING id");
    let rows = q.query().fetch_all(conn).await?;
    rows.iter().map(|r| parsed(r, "servers", "id")).collect()
}

/// Per server: the hosts whose agents are connected to it now (names), and its unfinished
/// jobs.
pub async fn server_load(
    conn: &mut AnyConnection,
) -> Result<std::collections::HashMap<ServerId, (Vec<String>, i64)>> {
    let mut out: std::collections::HashMap<ServerId, (Vec<String>, i64)> = Default::default();
    let q = Sql::new(
        "SELECT server_id, name FROM hosts WHERE removed IS NULL AND server_id IS NOT NULL \
         AND disconnected IS NULL ORDER BY name",
    );
    for r in q.query().fetch_all(&mut *conn).await? {
        let id: ServerId = parsed(&r, "hosts", "server_id")?;
        out.entry(id).or_default().0.push(r.try_get("name")?);
    }
    let q = Sql::new(
        "SELECT owner, COUNT(*) AS n FROM jobs WHERE status = 0 AND owner IS NOT NULL GROUP BY owner",
    );
    for r in q.query().fetch_all(&mut *conn).await? {
        let id: ServerId = parsed(&r, "jobs", "owner")?;
        out.entry(id).or_default().1 = r.try_get("n")?;
    }
    Ok(out)
}

/// A secret every server shares (see `cluster_secrets`), if one was stored.
pub async fn cluster_secret_get(conn: &mut AnyConnection, name: &str) -> Result<Option<String>> {
    let mut q = Sql::new("SELECT value FROM cluster_secrets WHERE name = ");
    q.bind(name);
    q.one(conn, |r| Ok(r.try_get("value")?)).await
}

/// Stores a shared secret unless one of that name exists; answers the stored one (this, or
/// the one a concurrently starting server stored first).
pub async fn cluster_secret_put_once(
    conn: &mut AnyConnection,
    name: &str,
    value: &str,
) -> Result<String> {
    let mut q = Sql::new("INSERT INTO cluster_secrets (name, value, created) VALUES (");
    q.bind(name)
        .push(", ")
        .bind(value)
        .push(", ")
        .bind(now_ms())
        .push(") ON CONFLICT (name) DO NOTHING");
    q.query().execute(&mut *conn).await?;
    Ok(cluster_secret_get(conn, name)
        .await?
        .unwrap_or_else(|| value.to_string()))
}

/// Whether a user id still names a live user (job owners may have been removed since).
pub async fn user_exists(conn: &mut AnyConnection, id: UserId) -> Result<bool> {
    let mut q = Sql::new("SELECT COUNT(*) FROM users WHERE removed IS NULL AND id = ");
    q.bind(id);
    let n: i64 = q.query().fetch_one(conn).await?.try_get(0)?;
    Ok(n > 0)
}
