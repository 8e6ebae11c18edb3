//! Volume snapshots (kept on an image store) and snapshot policies (recurring snapshots of a
//! volume, taken by whichever server moves the policy's `next_run` on first).

use model::{AccountId, DomainId, SnapshotId, SnapshotPolicyId, SnapshotState, VolumeId};
use sqlx::any::AnyRow;
use sqlx::AnyConnection;
use uuid::Uuid;

use crate::identity::{count, Listed};
use crate::mapper::map_row;
use crate::migrate::now_ms;
use crate::sql::{in_list, OwnerScope, Sql};
use crate::{DbError, Result};

#[derive(Clone, Debug, PartialEq)]
pub struct SnapshotRow {
    pub id: SnapshotId,
    pub name: String,
    pub account_id: AccountId,
    pub account_name: String,
    pub domain_id: DomainId,
    pub domain_name: String,
    pub domain_path: String,
    pub zone_id: Uuid,
    pub volume_id: VolumeId,
    /// The volume's type when the snapshot was taken (`ROOT`, `DATADISK`).
    pub vol_type: String,
    /// `MANUAL`, or the policy's interval (`HOURLY`, `DAILY`, `WEEKLY`, `MONTHLY`).
    pub interval_type: String,
    pub policy_id: Option<SnapshotPolicyId>,
    pub state: SnapshotState,
    /// The volume's virtual size (bytes).
    pub size: i64,
    /// What the snapshot occupies on the image store (bytes).
    pub physical_size: i64,
    pub store_id: Option<Uuid>,
    /// The file, relative to the image store's path.
    pub path: Option<String>,
    pub attrs: serde_json::Value,
    pub created: i64,
}

fn row(r: &AnyRow) -> Result<SnapshotRow> {
    map_row!(
        r,
        "snapshots",
        SnapshotRow {
            id: "s_id",
            name: "s_name",
            account_id: "s_acct",
            account_name: "a_name",
            domain_id: "s_dom",
            domain_name: "d_name",
            domain_path: "d_path",
            zone_id: "s_zone",
            volume_id: "s_vol",
            vol_type: "s_voltype",
            interval_type: "s_interval",
            policy_id: "s_policy",
            state: "s_state",
            size: "s_size",
            physical_size: "s_phys",
            store_id: "s_store",
            path: "s_path",
            attrs: "s_attrs",
            created: "s_created",
        }
    )
}

const COLS: &str = "s.id AS s_id, s.name AS s_name, s.account_id AS s_acct, a.name AS a_name, \
     s.domain_id AS s_dom, d.name AS d_name, d.path AS d_path, s.zone_id AS s_zone, \
     s.volume_id AS s_vol, s.vol_type AS s_voltype, s.interval_type AS s_interval, \
     s.policy_id AS s_policy, s.state AS s_state, s.size AS s_size, s.physical_size AS s_phys, \
     s.store_id AS s_store, s.path AS s_path, s.attrs AS s_attrs, s.created AS s_created";
const FROM: &str = " FROM snapshots s JOIN accounts a ON a.id = s.account_id \
     JOIN domains d ON d.id = s.domain_id WHERE s.removed IS NULL";

/// What `listSnapshots` filters on.
#[derive(Clone, Debug, Default)]
pub struct SnapshotFilter {
    pub scope: Option<OwnerScope>,
    pub ids: Vec<SnapshotId>,
    pub name: Option<String>,
    pub volume_id: Option<VolumeId>,
    pub zone_id: Option<Uuid>,
    pub interval_type: Option<String>,
    pub policy_id: Option<SnapshotPolicyId>,
    /// Only snapshots a policy took (`true`) or none did (`false`).
    pub recurring: Option<bool>,
    pub state: Option<SnapshotState>,
    pub keyword: Option<String>,
    pub offset: u64,
    pub limit: Option<u64>,
}

fn filter(q: &mut Sql, f: &SnapshotFilter) {
    if let Some(s) = &f.scope {
        s.push(q, "s.account_id", "d");
    }
    if !f.ids.is_empty() {
        in_list(q, "s.id", &f.ids);
    }
    if let Some(n) = &f.name {
        q.and(" AND s.name = ", n.clone());
    }
    if let Some(v) = f.volume_id {
        q.and(" AND s.volume_id = ", v);
    }
    if let Some(z) = f.zone_id {
        q.and(" AND s.zone_id = ", z);
    }
    if let Some(i) = &f.interval_type {
        q.and(" AND s.interval_type = ", i.to_uppercase());
    }
    if let Some(p) = f.policy_id {
        q.and(" AND s.policy_id = ", p);
    }
    match f.recurring {
        Some(true) => {
            q.push(" AND s.policy_id IS NOT NULL");
        }
        Some(false) => {
            q.push(" AND s.policy_id IS NULL");
        }
        None => {}
    }
    if let Some(st) = f.state {
        q.and(" AND s.state = ", st);
    }
    if let Some(k) = &f.keyword {
        q.and(
            " AND lower(s.name) LIKE ",
            format!("%{}%", k.to_lowercase()),
        );
    }
}

/// A page of snapshots, oldest first, and how many match.
pub async fn snapshot_list(
    conn: &mut AnyConnection,
    f: &SnapshotFilter,
) -> Result<Listed<SnapshotRow>> {
    let mut c = Sql::new(&format!("SELECT COUNT(*){FROM}"));
    filter(&mut c, f);
    let total = count(conn, &c).await?;
    let mut q = Sql::new(&format!("SELECT {COLS}{FROM}"));
    filter(&mut q, f);
    q.push(" ORDER BY s.created, s.id").page(f.offset, f.limit);
    let rows = q.query().fetch_all(&mut *conn).await?;
    Ok((rows.iter().map(row).collect::<Result<_>>()?, total))
}

pub async fn snapshot_get(conn: &mut AnyConnection, id: SnapshotId) -> Result<Option<SnapshotRow>> {
    let mut q = Sql::new(&format!("SELECT {COLS}{FROM}"));
    q.and(" AND s.id = ", id);
    q.one(conn, row).await
}

/// A new snapshot row, in state Allocated.
#[derive(Clone, Debug)]
pub struct NewSnapshot {
    pub id: SnapshotId,
    pub name: String,
    pub account_id: AccountId,
    pub domain_id: DomainId,
    pub zone_id: Uuid,
    pub volume_id: VolumeId,
    pub vol_type: String,
    pub interval_type: String,
    pub policy_id: Option<SnapshotPolicyId>,
    pub size: i64,
    pub attrs: serde_json::Value,
}

pub async fn snapshot_insert(conn: &mut AnyConnection, s: &NewSnapshot) -> Result<()> {
    let mut q = Sql::new(
        "INSERT INTO snapshots (id, name, account_id, domain_id, zone_id, volume_id, vol_type, \
         interval_type, policy_id, state, size, physical_size, attrs, created) VALUES (",
    );
    q.bind(s.id)
        .push(", ")
        .bind(s.name.clone())
        .push(", ")
        .bind(s.account_id)
        .push(", ")
        .bind(s.domain_id)
        .push(", ")
        .bind(s.zone_id)
        .push(", ")
        .bind(s.volume_id)
        .push(", ")
        .bind(s.vol_type.clone())
        .push(", ")
        .bind(s.interval_type.clone())
        .push(", ")
        .bind(s.policy_id)
        .push(", 'Allocated', ")
        .bind(s.size)
        .push(", 0, ")
        .bind(s.attrs.to_string())
        .push(", ")
        .bind(now_ms())
        .push(")");
    q.query()
        .execute(&mut *conn)
        .await
        .map_err(DbError::classify)?;
    Ok(())
}

/// Moves a snapshot to `to` if it is in one of `from`; whether it moved.
pub async fn snapshot_transition(
    conn: &mut AnyConnection,
    id: SnapshotId,
    from: &[SnapshotState],
    to: SnapshotState,
) -> Result<bool> {
    crate::check_moves(from, to)?;
    let mut q = Sql::new("UPDATE snapshots SET state = ");
    q.bind(to);
    if to == SnapshotState::Destroyed {
        q.and(", removed = ", now_ms());
    }
    q.and(" WHERE removed IS NULL AND id = ", id);
    in_list(&mut q, "state", from);
    Ok(q.query().execute(&mut *conn).await?.rows_affected() > 0)
}

/// Records where a snapshot's copy is kept and how much it occupies.
pub async fn snapshot_stored(
    conn: &mut AnyConnection,
    id: SnapshotId,
    store: Uuid,
    path: Option<&str>,
    physical_size: i64,
) -> Result<bool> {
    let mut q = Sql::new("UPDATE snapshots SET store_id = ");
    q.bind(store)
        .and(", path = ", path)
        .and(", physical_size = ", physical_size)
        .and(" WHERE removed IS NULL AND id = ", id);
    Ok(q.query().execute(&mut *conn).await?.rows_affected() > 0)
}

/// Bytes of live snapshots per account (secondary storage use).
pub async fn snapshot_bytes(conn: &mut AnyConnection, account: AccountId) -> Result<i64> {
    let mut q = Sql::new(
        "SELECT CAST(COALESCE(SUM(physical_size), 0) AS BIGINT) FROM snapshots WHERE removed IS NULL \
         AND account_id = ",
    );
    q.bind(account);
    count(conn, &q).await.map(|n| n as i64)
}

/// Bytes of a zone's live snapshots that have no file on the image store (taken on simulated
/// hosts): listCapacity adds them to what the store's file system says is used.
pub async fn snapshot_zone_unfiled_bytes(conn: &mut AnyConnection, zone: Uuid) -> Result<i64> {
    let mut q = Sql::new(
        "SELECT CAST(COALESCE(SUM(physical_size), 0) AS BIGINT) FROM snapshots WHERE removed IS NULL \
         AND path IS NULL AND zone_id = ",
    );
    q.bind(zone);
    count(conn, &q).await.map(|n| n as i64)
}

// --- policies --------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq)]
pub struct SnapshotPolicyRow {
    pub id: SnapshotPolicyId,
    pub volume_id: VolumeId,
    pub account_id: AccountId,
    pub domain_id: DomainId,
    /// `HOURLY`, `DAILY`, `WEEKLY`, `MONTHLY`.
    pub interval_type: String,
    /// CloudStack's schedule text (`MM`, `MM:HH`, `MM:HH:DD`).
    pub schedule: String,
    pub timezone: String,
    pub max_snaps: i64,
    /// When the next snapshot is due (epoch ms).
    pub next_run: i64,
    pub display: bool,
    pub created: i64,
}

fn policy_row(r: &AnyRow) -> Result<SnapshotPolicyRow> {
    map_row!(
        r,
        "snapshot_policies",
        SnapshotPolicyRow {
            id: "id",
            volume_id: "volume_id",
            account_id: "account_id",
            domain_id: "domain_id",
            interval_type: "interval_type",
            schedule: "schedule",
            timezone: "timezone",
            max_snaps: "max_snaps",
            next_run: "next_run",
            display: "display",
            created: "created",
        }
    )
}

const POLICY_COLS: &str = "SELECT id, volume_id, account_id, domain_id, interval_type, schedule, \
     timezone, max_snaps, next_run, display, created FROM snapshot_policies WHERE 1 = 1";

/// Policies of a volume (all of them when `volume` is `None`), optionally only some ids or
/// one account's.
pub async fn snapshot_policy_list(
    conn: &mut AnyConnection,
    volume: Option<VolumeId>,
    ids: &[SnapshotPolicyId],
    account: Option<AccountId>,
) -> Result<Vec<SnapshotPolicyRow>> {
    let mut q = Sql::new(POLICY_COLS);
    if let Some(a) = account {
        q.and(" AND account_id = ", a);
    }
    if let Some(v) = volume {
        q.and(" AND volume_id = ", v);
    }
    if !ids.is_empty() {
        in_list(&mut q, "id", ids);
    }
    q.push(" ORDER BY created, id");
    let rows = q.query().fetch_all(conn).await?;
    rows.iter().map(policy_row).collect()
}

/// Policies due at `now` (at most `limit`).
pub async fn snapshot_policies_due(
    conn: &mut AnyConnection,
    now: i64,
    limit: i64,
) -> Result<Vec<SnapshotPolicyRow>> {
    let mut q = Sql::new(POLICY_COLS);
    q.and(" AND next_run <= ", now)
        .push(" ORDER BY next_run, id LIMIT ")
        .bind(limit);
    let rows = q.query().fetch_all(conn).await?;
    rows.iter().map(policy_row).collect()
}

/// Adds a policy; a second one of the same interval for the volume is a `Conflict`.
pub async fn snapshot_policy_insert(conn: &mut AnyConnection, p: &SnapshotPolicyRow) -> Result<()> {
    let mut q = Sql::new(
        "INSERT INTO snapshot_policies (id, volume_id, account_id, domain_id, interval_type, \
         schedule, timezone, max_snaps, next_run, display, created) VALUES (",
    );
    q.bind(p.id)
        .push(", ")
        .bind(p.volume_id)
        .push(", ")
        .bind(p.account_id)
        .push(", ")
        .bind(p.domain_id)
        .push(", ")
        .bind(p.interval_type.clone())
        .push(", ")
        .bind(p.schedule.clone())
        .push(", ")
        .bind(p.timezone.clone())
        .push(", ")
        .bind(p.max_snaps)
        .push(", ")
        .bind(p.next_run)
        .push(", ")
        .bind(p.display)
        .push(", ")
        .bind(p.created)
        .push(")");
    q.query().execute(conn).await.map_err(DbError::classify)?;
    Ok(())
}

/// Rewrites a policy's schedule, time zone, retention and next run.
pub async fn snapshot_policy_update(
    conn: &mut AnyConnection,
    p: &SnapshotPolicyRow,
) -> Result<bool> {
    let mut q = Sql::new("UPDATE snapshot_policies SET schedule = ");
    q.bind(p.schedule.clone())
        .and(", timezone = ", p.timezone.clone())
        .and(", max_snaps = ", p.max_snaps)
        .and(", next_run = ", p.next_run)
        .and(", display = ", p.display)
        .and(" WHERE id = ", p.id);
    Ok(q.query().execute(conn).await?.rows_affected() > 0)
}

/// Moves a policy's next run from `was` to `next`; false when another server already did
/// (that server takes the snapshot).
pub async fn snapshot_policy_claim(
    conn: &mut AnyConnection,
    id: SnapshotPolicyId,
    was: i64,
    next: i64,
) -> Result<bool> {
    let mut q = Sql::new("UPDATE snapshot_policies SET next_run = ");
    q.bind(next)
        .and(" WHERE id = ", id)
        .and(" AND next_run = ", was);
    Ok(q.query().execute(conn).await?.rows_affected() > 0)
}

/// Deletes policies (by id, or every policy of a volume).
pub async fn snapshot_policy_delete(
    conn: &mut AnyConnection,
    ids: &[SnapshotPolicyId],
    volume: Option<VolumeId>,
) -> Result<u64> {
    let mut q = Sql::new("DELETE FROM snapshot_policies WHERE 1 = 1");
    if !ids.is_empty() {
        in_list(&mut q, "id", ids);
    }
    if let Some(v) = volume {
        q.and(" AND volume_id = ", v);
    } else if ids.is_empty() {
        return Ok(0);
    }
    Ok(q.query().execute(conn).await?.rows_affected())
}

// --- VM snapshots ----------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq)]
pub struct VmSnapshotRow {
    pub id: model::VmSnapshotId,
    pub vm_id: model::VmId,
    pub account_id: AccountId,
    pub account_name: String,
    pub domain_id: DomainId,
    pub domain_name: String,
    pub zone_id: Uuid,
    pub name: String,
    pub display_name: String,
    pub description: String,
    /// Taken with the guest's memory (reverting resumes the guest where it was).
    pub memory: bool,
    pub state: model::VmSnapshotState,
    /// The internal snapshots' name in the VM's disks.
    pub tag: String,
    pub parent_id: Option<model::VmSnapshotId>,
    pub current: bool,
    pub created: i64,
}

fn vm_snapshot_row(r: &AnyRow) -> Result<VmSnapshotRow> {
    map_row!(
        r,
        "vm_snapshots",
        VmSnapshotRow {
            id: "v_id",
            vm_id: "v_vm",
            account_id: "v_acct",
            account_name: "a_name",
            domain_id: "v_dom",
            domain_name: "d_name",
            zone_id: "v_zone",
            name: "v_name",
            display_name: "v_display",
            description: "v_desc",
            memory: "v_memory",
            state: "v_state",
            tag: "v_tag",
            parent_id: "v_parent",
            current: "v_current",
            created: "v_created",
        }
    )
}

const VM_SNAP_SELECT: &str = "SELECT v.id AS v_id, v.vm_id AS v_vm, v.account_id AS v_acct, \
     a.name AS a_name, v.domain_id AS v_dom, d.name AS d_name, v.zone_id AS v_zone, \
     v.name AS v_name, v.display_name AS v_display, v.description AS v_desc, v.memory AS v_memory, \
     v.state AS v_state, v.tag AS v_tag, v.parent_id AS v_parent, v.current AS v_current, \
     v.created AS v_created FROM vm_snapshots v JOIN accounts a ON a.id = v.account_id \
     JOIN domains d ON d.id = v.domain_id WHERE v.removed IS NULL";

/// What `listVMSnapshot` filters on.
#[derive(Clone, Debug, Default)]
pub struct VmSnapshotFilter {
    pub scope: Option<OwnerScope>,
    pub ids: Vec<model::VmSnapshotId>,
    pub vm_id: Option<model::VmId>,
    pub name: Option<String>,
    pub state: Option<model::VmSnapshotState>,
    pub keyword: Option<String>,
}

/// A VM's snapshots (or those the filter names), oldest first.
pub async fn vm_snapshot_list(
    conn: &mut AnyConnection,
    f: &VmSnapshotFilter,
) -> Result<Vec<VmSnapshotRow>> {
    let mut q = Sql::new(VM_SNAP_SELECT);
    if let Some(s) = &f.scope {
        s.push(&mut q, "v.account_id", "d");
    }
    if !f.ids.is_empty() {
        in_list(&mut q, "v.id", &f.ids);
    }
    if let Some(vm) = f.vm_id {
        q.and(" AND v.vm_id = ", vm);
    }
    if let Some(n) = &f.name {
        q.and(" AND v.name = ", n.clone());
    }
    if let Some(s) = f.state {
        q.and(" AND v.state = ", s);
    }
    if let Some(k) = &f.keyword {
        q.and(
            " AND lower(v.display_name) LIKE ",
            format!("%{}%", k.to_lowercase()),
        );
    }
    q.push(" ORDER BY v.created, v.id");
    let rows = q.query().fetch_all(conn).await?;
    rows.iter().map(vm_snapshot_row).collect()
}

pub async fn vm_snapshot_insert(conn: &mut AnyConnection, v: &VmSnapshotRow) -> Result<()> {
    let mut q = Sql::new(
        "INSERT INTO vm_snapshots (id, vm_id, account_id, domain_id, zone_id, name, display_name, \
         description, memory, state, tag, parent_id, current, created) VALUES (",
    );
    q.bind(v.id)
        .push(", ")
        .bind(v.vm_id)
        .push(", ")
        .bind(v.account_id)
        .push(", ")
        .bind(v.domain_id)
        .push(", ")
        .bind(v.zone_id)
        .push(", ")
        .bind(v.name.clone())
        .push(", ")
        .bind(v.display_name.clone())
        .push(", ")
        .bind(v.description.clone())
        .push(", ")
        .bind(v.memory)
        .push(", ")
        .bind(v.state)
        .push(", ")
        .bind(v.tag.clone())
        .push(", ")
        .bind(v.parent_id)
        .push(", ")
        .bind(v.current)
        .push(", ")
        .bind(v.created)
        .push(")");
    q.query().execute(conn).await.map_err(DbError::classify)?;
    Ok(())
}

/// Moves a VM snapshot to `to` if it is in one of `from` (Removed also sets `removed`).
pub async fn vm_snapshot_transition(
    conn: &mut AnyConnection,
    id: model::VmSnapshotId,
    from: &[model::VmSnapshotState],
    to: model::VmSnapshotState,
) -> Result<bool> {
    crate::check_moves(from, to)?;
    let mut q = Sql::new("UPDATE vm_snapshots SET state = ");
    q.bind(to);
    if to == model::VmSnapshotState::Removed {
        q.and(", current = 0, removed = ", now_ms());
    }
    q.and(" WHERE removed IS NULL AND id = ", id);
    in_list(&mut q, "state", from);
    Ok(q.query().execute(conn).await?.rows_affected() > 0)
}

/// Makes `id` the VM's current snapshot (the parent of the next one).
pub async fn vm_snapshot_set_current(
    conn: &mut AnyConnection,
    vm: model::VmId,
    id: model::VmSnapshotId,
) -> Result<()> {
    let mut q = Sql::new("UPDATE vm_snapshots SET current = 0 WHERE vm_id = ");
    q.bind(vm);
    q.query().execute(&mut *conn).await?;
    let mut q = Sql::new("UPDATE vm_snapshots SET current = 1 WHERE id = ");
    q.bind(id);
    q.query().execute(&mut *conn).await?;
    Ok(())
}

/// How many live snapshots a VM has (volume changes are refused while it has any).
pub async fn vm_snapshot_count(conn: &mut AnyConnection, vm: model::VmId) -> Result<u64> {
    let mut q = Sql::new("SELECT COUNT(*) FROM vm_snapshots WHERE removed IS NULL AND vm_id = ");
    q.bind(vm);
    count(conn, &q).await
}

/// Marks every snapshot of an expunged VM removed.
pub async fn vm_snapshots_remove_for_vm(conn: &mut AnyConnection, vm: model::VmId) -> Result<()> {
    let mut q = Sql::new("UPDATE vm_snapshots SET state = 'Removed', current = 0, removed = ");
    q.bind(now_ms())
        .and(" WHERE removed IS NULL AND vm_id = ", vm);
    q.query().execute(conn).await?;
    Ok(())
}

// --- download links (extractVolume, extractTemplate) -----------------------------------------

#[derive(Clone, Debug, PartialEq)]
pub struct ExtractRow {
    pub id: Uuid,
    /// `volume` (a copy made for the link) or `template` (the template's own file).
    pub kind: String,
    pub object_id: Uuid,
    pub account_id: AccountId,
    pub zone_id: Uuid,
    pub file: String,
    pub url: String,
    /// `Uploading` or `Ready`.
    pub state: String,
    pub expires: i64,
    pub created: i64,
}

fn extract_row(r: &AnyRow) -> Result<ExtractRow> {
    map_row!(
        r,
        "extracts",
        ExtractRow {
            id: "id",
            kind: "kind",
            object_id: "object_id",
            account_id: "account_id",
            zone_id: "zone_id",
            file: "file",
            url: "url",
            state: "state",
            expires: "expires",
            created: "created",
        }
    )
}

const EXTRACT_COLS: &str = "SELECT id, kind, object_id, account_id, zone_id, file, url, state, \
     expires, created FROM extracts WHERE 1 = 1";

pub async fn extract_insert(conn: &mut AnyConnection, e: &ExtractRow) -> Result<()> {
    let mut q = Sql::new(
        "INSERT INTO extracts (id, kind, object_id, account_id, zone_id, file, url, state, expires, \
         created) VALUES (",
    );
    q.bind(e.id)
        .push(", ")
        .bind(e.kind.clone())
        .push(", ")
        .bind(e.object_id)
        .push(", ")
        .bind(e.account_id)
        .push(", ")
        .bind(e.zone_id)
        .push(", ")
        .bind(e.file.clone())
        .push(", ")
        .bind(e.url.clone())
        .push(", ")
        .bind(e.state.clone())
        .push(", ")
        .bind(e.expires)
        .push(", ")
        .bind(e.created)
        .push(")");
    q.query().execute(conn).await.map_err(DbError::classify)?;
    Ok(())
}

pub async fn extract_get(conn: &mut AnyConnection, id: Uuid) -> Result<Option<ExtractRow>> {
    let mut q = Sql::new(EXTRACT_COLS);
    q.and(" AND id = ", id);
    q.one(conn, extract_row).await
}

pub async fn extract_set_state(conn: &mut AnyConnection, id: Uuid, state: &str) -> Result<bool> {
    let mut q = Sql::new("UPDATE extracts SET state = ");
    q.bind(state.to_string()).and(" WHERE id = ", id);
    Ok(q.query().execute(conn).await?.rows_affected() > 0)
}

/// Links expired at `now`, removed from the table (their files are the caller's to delete).
pub async fn extract_take_expired(conn: &mut AnyConnection, now: i64) -> Result<Vec<ExtractRow>> {
    let mut q = Sql::new(EXTRACT_COLS);
    q.and(" AND expires <= ", now);
    let rows: Vec<ExtractRow> = q
        .query()
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(extract_row)
        .collect::<Result<_>>()?;
    let mut q = Sql::new("DELETE FROM extracts WHERE expires <= ");
    q.bind(now);
    q.query().execute(conn).await?;
    Ok(rows)
}

/// The newest link to an object (the one its extract job made).
pub async fn extract_latest(
    conn: &mut AnyConnection,
    kind: &str,
    object: Uuid,
) -> Result<Option<ExtractRow>> {
    let mut q = Sql::new(EXTRACT_COLS);
    q.and(" AND kind = ", kind.to_string())
        .and(" AND object_id = ", object)
        .push(" ORDER BY created DESC, id LIMIT 1");
    q.one(conn, extract_row).await
}

/// Replaces a snapshot's attributes.
pub async fn snapshot_set_attrs(
    conn: &mut AnyConnection,
    id: SnapshotId,
    attrs: &serde_json::Value,
) -> Result<bool> {
    let mut q = Sql::new("UPDATE snapshots SET attrs = ");
    q.bind(attrs.to_string())
        .and(" WHERE removed IS NULL AND id = ", id);
    Ok(q.query().execute(conn).await?.rows_affected() > 0)
}
