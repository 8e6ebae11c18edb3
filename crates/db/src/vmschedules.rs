//! VM schedules: rows, listing by VM, updates, and the claim of a due one (its `next_run`
//! moved on only if it still holds the value read — one server runs each firing).

use sqlx::{AnyConnection, Row};
use uuid::Uuid;

use model::VmId;

use crate::mapper::parsed;
use crate::migrate::now_ms;
use crate::sql::Sql;
use crate::{DbError, Result};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VmScheduleRow {
    pub id: Uuid,
    pub vm_id: VmId,
    pub description: String,
    pub schedule: String,
    pub timezone: String,
    pub action: String,
    pub enabled: bool,
    pub start_date: i64,
    pub end_date: Option<i64>,
    pub next_run: Option<i64>,
    pub created: i64,
}

const COLS: &str = "SELECT id, vm_id, description, schedule, timezone, action, enabled, \
     start_date, end_date, next_run, created FROM vm_schedules WHERE 1 = 1";

fn row(r: &sqlx::any::AnyRow) -> Result<VmScheduleRow> {
    const T: &str = "vm_schedules";
    Ok(VmScheduleRow {
        id: parsed(r, T, "id")?,
        vm_id: parsed(r, T, "vm_id")?,
        description: r.try_get("description")?,
        schedule: r.try_get("schedule")?,
        timezone: r.try_get("timezone")?,
        action: r.try_get("action")?,
        enabled: r.try_get::<i64, _>("enabled")? != 0,
        start_date: r.try_get("start_date")?,
        end_date: r.try_get("end_date")?,
        next_run: r.try_get("next_run")?,
        created: r.try_get("created")?,
    })
}

/// The schedules of a VM (`None`: of every VM), oldest first.
pub async fn vm_schedule_list(
    conn: &mut AnyConnection,
    vm: Option<VmId>,
) -> Result<Vec<VmScheduleRow>> {
    let mut q = Sql::new(COLS);
    if let Some(v) = vm {
        q.and(" AND vm_id = ", v.to_string());
    }
    q.push(" ORDER BY created, id");
    let rows = q.query().fetch_all(&mut *conn).await?;
    rows.iter().map(row).collect()
}

/// Enabled schedules due at `now` (at most `limit`).
pub async fn vm_schedules_due(
    conn: &mut AnyConnection,
    now: i64,
    limit: i64,
) -> Result<Vec<VmScheduleRow>> {
    let mut q = Sql::new(COLS);
    q.and(
        " AND enabled = 1 AND next_run IS NOT NULL AND next_run <= ",
        now,
    )
    .push(" ORDER BY next_run")
    .and(" LIMIT ", limit);
    let rows = q.query().fetch_all(&mut *conn).await?;
    rows.iter().map(row).collect()
}

/// Inserts or replaces a schedule (updateVMSchedule writes the whole row).
pub async fn vm_schedule_put(conn: &mut AnyConnection, s: &VmScheduleRow) -> Result<()> {
    let mut d = Sql::new("DELETE FROM vm_schedules WHERE id = ");
    d.bind(s.id);
    d.query().execute(&mut *conn).await?;
    let mut q = Sql::new(
        "INSERT INTO vm_schedules (id, vm_id, description, schedule, timezone, action, enabled, \
         start_date, end_date, next_run, created) VALUES (",
    );
    q.bind(s.id)
        .push(", ")
        .bind(s.vm_id.to_string())
        .push(", ")
        .bind(s.description.clone())
        .push(", ")
        .bind(s.schedule.clone())
        .push(", ")
        .bind(s.timezone.clone())
        .push(", ")
        .bind(s.action.clone())
        .push(", ")
        .bind(i64::from(s.enabled))
        .push(", ")
        .bind(s.start_date)
        .push(", ")
        .bind(s.end_date)
        .push(", ")
        .bind(s.next_run)
        .push(", ")
        .bind(if s.created > 0 { s.created } else { now_ms() })
        .push(")");
    q.query()
        .execute(&mut *conn)
        .await
        .map_err(DbError::classify)?;
    Ok(())
}

pub async fn vm_schedule_delete(conn: &mut AnyConnection, ids: &[Uuid]) -> Result<u64> {
    let mut n = 0;
    for id in ids {
        let mut q = Sql::new("DELETE FROM vm_schedules WHERE id = ");
        q.bind(*id);
        n += q.query().execute(&mut *conn).await?.rows_affected();
    }
    Ok(n)
}

/// The schedules of a VM that goes away.
pub async fn vm_schedules_delete_for_vm(conn: &mut AnyConnection, vm: VmId) -> Result<u64> {
    let mut q = Sql::new("DELETE FROM vm_schedules WHERE vm_id = ");
    q.bind(vm.to_string());
    Ok(q.query().execute(&mut *conn).await?.rows_affected())
}

/// Moves a schedule's `next_run` from `seen` to `next`: true for the one server whose update
/// lands.
pub async fn vm_schedule_claim(
    conn: &mut AnyConnection,
    id: Uuid,
    seen: i64,
    next: Option<i64>,
) -> Result<bool> {
    let mut q = Sql::new("UPDATE vm_schedules SET next_run = ");
    q.bind(next)
        .and(" WHERE id = ", id)
        .and(" AND next_run = ", seen);
    Ok(q.query().execute(&mut *conn).await?.rows_affected() == 1)
}
