//! Volumes (root and data disks) and the progress of sagas.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use uuid::Uuid;

use model::ids::{AccountId, DomainId, HostId, VmId, VolumeId};

use crate::identity::{count, Listed};
use crate::mapper::{map_row, parsed};
use crate::migrate::now_ms;
use crate::sql::{OwnerScope, Sql};
use crate::{DbError, Result};

#[derive(Clone, Debug, PartialEq)]
pub struct VolumeRow {
    pub id: VolumeId,
    pub name: String,
    /// `ROOT` or `DATADISK`.
    pub vol_type: String,
    pub state: model::VolumeState,
    pub account_id: AccountId,
    pub account_name: String,
    pub domain_id: DomainId,
    pub domain_name: String,
    pub domain_path: String,
    pub zone_id: Uuid,
    pub vm_id: Option<VmId>,
    pub device_id: Option<i64>,
    pub size: i64,
    pub pool_id: Option<Uuid>,
    pub path: Option<String>,
    /// The host that created it (where a host-local pool lives; any host of a shared one).
    pub host_id: Option<HostId>,
    pub disk_offering_id: Option<Uuid>,
    pub template_id: Option<Uuid>,
    pub attrs: serde_json::Value,
    pub created: i64,
    pub attached: Option<i64>,
}

#[derive(Clone, Debug)]
pub struct NewVolume {
    pub id: VolumeId,
    pub name: String,
    pub vol_type: String,
    pub account_id: AccountId,
    pub domain_id: DomainId,
    pub zone_id: Uuid,
    pub vm_id: Option<VmId>,
    pub device_id: Option<i64>,
    pub size: i64,
    pub disk_offering_id: Option<Uuid>,
    pub template_id: Option<Uuid>,
    pub attrs: serde_json::Value,
}

#[derive(Clone, Debug, Default)]
pub struct VolumeFilter {
    pub scope: Option<OwnerScope>,
    pub ids: Vec<VolumeId>,
    pub name: Option<String>,
    pub vm_id: Option<VmId>,
    pub vol_type: Option<String>,
    pub state: Option<model::VolumeState>,
    /// Match no volume (a state filter naming no state: CloudStack answers an empty list).
    pub none: bool,
    pub zone_id: Option<Uuid>,
    pub pool_id: Option<Uuid>,
    pub disk_offering_id: Option<Uuid>,
    pub keyword: Option<String>,
    pub offset: u64,
    pub limit: Option<u64>,
}

const COLS: &str = "o.id AS o_id, o.name AS o_name, o.vol_type AS o_type, o.state AS o_state, \
     o.account_id AS o_acct, a.name AS a_name, o.domain_id AS o_dom, d.name AS d_name, \
     d.path AS d_path, o.zone_id AS o_zone, o.vm_id AS o_vm, o.device_id AS o_dev, o.size AS o_size, \
     o.pool_id AS o_pool, o.path AS o_path, o.host_id AS o_host, o.disk_offering_id AS o_do, o.template_id AS o_tmpl, \
     o.attrs AS o_attrs, o.created AS o_created, o.attached AS o_attached";
const FROM: &str = " FROM volumes o JOIN accounts a ON a.id = o.account_id \
     JOIN domains d ON d.id = o.domain_id WHERE o.removed IS NULL";

fn row(r: &AnyRow) -> Result<VolumeRow> {
    const T: &str = "volumes";
    map_row!(
        r,
        T,
        VolumeRow {
            id: "o_id",
            name: "o_name",
            vol_type: "o_type",
            state: "o_state",
            account_id: "o_acct",
            account_name: "a_name",
            domain_id: "o_dom",
            domain_name: "d_name",
            domain_path: "d_path",
            zone_id: "o_zone",
            vm_id: "o_vm",
            device_id: "o_dev",
            size: "o_size",
            pool_id: "o_pool",
            path: "o_path",
            host_id: "o_host",
            disk_offering_id: "o_do",
            template_id: "o_tmpl",
            attrs: "o_attrs",
            created: "o_created",
            attached: "o_attached",
        }
    )
}

/// Creates a volume in state `Allocated` (no pool yet).
pub async fn volume_insert(conn: &mut AnyConnection, v: &NewVolume) -> Result<()> {
    volume_insert_in(conn, v, model::VolumeState::Allocated).await
}

/// Records a new volume in `state` (Allocated, or NotUploaded for one to be uploaded).
pub async fn volume_insert_in(
    conn: &mut AnyConnection,
    v: &NewVolume,
    state: model::VolumeState,
) -> Result<()> {
    let now = now_ms();
    let mut q = Sql::new(
        "INSERT INTO volumes (id, name, vol_type, state, account_id, domain_id, zone_id, vm_id, \
         device_id, size, disk_offering_id, template_id, attrs, created, attached) VALUES (",
    );
    q.bind(v.id.to_string())
        .push(", ")
        .bind(v.name.clone())
        .push(", ")
        .bind(v.vol_type.clone())
        .push(", ")
        .bind(state)
        .push(", ")
        .bind(v.account_id)
        .push(", ")
        .bind(v.domain_id)
        .push(", ")
        .bind(v.zone_id.to_string())
        .push(", ")
        .bind(v.vm_id.map(|u| u.to_string()))
        .push(", ")
        .bind(v.device_id)
        .push(", ")
        .bind(v.size)
        .push(", ")
        .bind(v.disk_offering_id.map(|u| u.to_string()))
        .push(", ")
        .bind(v.template_id.map(|u| u.to_string()))
        .push(", ")
        .bind(v.attrs.to_string())
        .push(", ")
        .bind(now)
        .push(", ")
        .bind(v.vm_id.map(|_| now))
        .push(")");
    q.query()
        .execute(&mut *conn)
        .await
        .map_err(DbError::classify)?;
    Ok(())
}

pub async fn volume_get(conn: &mut AnyConnection, id: VolumeId) -> Result<Option<VolumeRow>> {
    let mut q = Sql::new(&format!("SELECT {COLS}{FROM}"));
    q.and(" AND o.id = ", id.to_string());
    q.one(conn, row).await
}

fn vol_where(q: &mut Sql, f: &VolumeFilter) {
    if let Some(s) = &f.scope {
        s.push(q, "o.account_id", "d");
    }
    if !f.ids.is_empty() {
        q.push(" AND o.id IN (");
        for (i, id) in f.ids.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.bind(id.to_string());
        }
        q.push(")");
    }
    if let Some(n) = &f.name {
        q.and(" AND o.name = ", n.clone());
    }
    if let Some(t) = &f.vol_type {
        q.and(" AND o.vol_type = ", t.to_uppercase());
    }
    if f.none {
        q.push(" AND 1 = 0");
    }
    if let Some(s) = &f.state {
        q.and(" AND o.state = ", *s);
    }
    if let Some(vm) = f.vm_id {
        q.and(" AND o.vm_id = ", vm.to_string());
    }
    for (col, v) in [
        ("o.zone_id", f.zone_id),
        ("o.pool_id", f.pool_id),
        ("o.disk_offering_id", f.disk_offering_id),
    ] {
        if let Some(v) = v {
            q.and(&format!(" AND {col} = "), v.to_string());
        }
    }
    if let Some(k) = &f.keyword {
        q.and(
            " AND lower(o.name) LIKE ",
            format!("%{}%", k.to_lowercase()),
        );
    }
}

/// A page of volumes and the total, as [`crate::vm_list`] finds VMs: counted and paged on the
/// `volumes` table alone (the domains joined only when the scope needs their paths; the page
/// an index walk in (created, id) order), then only the page's rows joined with their owners.
pub async fn volume_list(conn: &mut AnyConnection, f: &VolumeFilter) -> Result<Listed<VolumeRow>> {
    let lean = match &f.scope {
        Some(s) if s.uses_domain() => {
            " FROM volumes o JOIN domains d ON d.id = o.domain_id WHERE o.removed IS NULL"
        }
        _ => " FROM volumes o WHERE o.removed IS NULL",
    };
    let mut c = Sql::new(&format!("SELECT COUNT(*){lean}"));
    vol_where(&mut c, f);
    let total = count(conn, &c).await?;
    if f.limit == Some(0) || total == 0 {
        return Ok((Vec::new(), total));
    }
    let mut q = Sql::new(&format!("SELECT o.id{lean}"));
    vol_where(&mut q, f);
    q.push(" ORDER BY o.created, o.id").page(f.offset, f.limit);
    let ids = crate::sql::page_ids(conn, q).await?;
    // By primary key only: with `removed IS NULL` here SQLite would walk that index instead.
    let by_id = FROM.replace("o.removed IS NULL", "1 = 1");
    let select = format!("SELECT {COLS}{by_id}");
    let mut rows = crate::sql::rows_by_ids(conn, &select, "o.id", &ids, row).await?;
    rows.sort_by_key(|a| (a.created, a.id));
    Ok((rows, total))
}

/// Moves a volume to `to` if it is in one of `from`, setting the pool and path when given
/// (`Some(None)` clears them); whether it moved.
pub async fn volume_transition(
    conn: &mut AnyConnection,
    id: VolumeId,
    from: &[model::VolumeState],
    to: model::VolumeState,
    pool: Option<Option<(Uuid, String)>>,
) -> Result<bool> {
    crate::check_moves(from, to)?;
    let mut q = Sql::new("UPDATE volumes SET state = ");
    q.bind(to);
    match pool {
        None => {}
        Some(Some((p, path))) => {
            q.and(", pool_id = ", p.to_string()).and(", path = ", path);
        }
        Some(None) => {
            q.push(", pool_id = NULL, path = NULL");
        }
    }
    q.and(" WHERE removed IS NULL AND id = ", id.to_string());
    q.push(" AND state IN (");
    for (i, s) in from.iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.bind(*s);
    }
    q.push(")");
    Ok(q.query().execute(&mut *conn).await?.rows_affected() > 0)
}

/// Attaches (`Some((vm, device))`) or detaches (`None`) a volume.
pub async fn volume_attach(
    conn: &mut AnyConnection,
    id: VolumeId,
    to: Option<(VmId, i64)>,
) -> Result<bool> {
    let mut q = Sql::new("UPDATE volumes SET ");
    match to {
        Some((vm, dev)) => {
            q.and("vm_id = ", vm.to_string())
                .and(", device_id = ", dev)
                .and(", attached = ", now_ms());
        }
        None => {
            q.push("vm_id = NULL, device_id = NULL, attached = NULL");
        }
    }
    q.and(" WHERE removed IS NULL AND id = ", id.to_string());
    Ok(q.query().execute(&mut *conn).await?.rows_affected() > 0)
}

/// Records the host that created a volume.
pub async fn volume_set_host(
    conn: &mut AnyConnection,
    id: VolumeId,
    host: Option<HostId>,
) -> Result<bool> {
    let mut q = Sql::new("UPDATE volumes SET host_id = ");
    q.bind(host.map(|h| h.to_string()))
        .and(" WHERE removed IS NULL AND id = ", id.to_string());
    Ok(q.query().execute(&mut *conn).await?.rows_affected() > 0)
}

/// Renames a volume and replaces its attributes (updateVolume).
pub async fn volume_update(
    conn: &mut AnyConnection,
    id: VolumeId,
    name: &str,
    attrs: &serde_json::Value,
) -> Result<bool> {
    let mut q = Sql::new("UPDATE volumes SET name = ");
    q.bind(name)
        .and(", attrs = ", attrs.to_string())
        .and(" WHERE removed IS NULL AND id = ", id.to_string());
    Ok(q.query().execute(&mut *conn).await?.rows_affected() > 0)
}

/// Changes a volume's size (bytes).
pub async fn volume_resize(conn: &mut AnyConnection, id: VolumeId, size: i64) -> Result<bool> {
    let mut q = Sql::new("UPDATE volumes SET size = ");
    q.bind(size)
        .and(" WHERE removed IS NULL AND id = ", id.to_string());
    Ok(q.query().execute(&mut *conn).await?.rows_affected() > 0)
}

/// Marks a volume expunged.
pub async fn volume_mark_removed(conn: &mut AnyConnection, id: VolumeId) -> Result<bool> {
    let mut q = Sql::new("UPDATE volumes SET state = 'Expunged', vm_id = NULL, removed = ");
    q.bind(now_ms())
        .and(" WHERE removed IS NULL AND id = ", id.to_string());
    Ok(q.query().execute(&mut *conn).await?.rows_affected() > 0)
}

/// Bytes allocated on each pool of a zone (live volumes placed on it).
pub async fn pool_allocation(conn: &mut AnyConnection, zone: Uuid) -> Result<Vec<(Uuid, i64)>> {
    let mut q = Sql::new(
        "SELECT pool_id, CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM volumes WHERE removed IS NULL \
         AND pool_id IS NOT NULL AND zone_id = ",
    );
    q.bind(zone.to_string()).push(" GROUP BY pool_id");
    let rows = q.query().fetch_all(&mut *conn).await?;
    rows.iter()
        .map(|r| Ok((parsed(r, "volumes", "pool_id")?, r.try_get(1)?)))
        .collect()
}

// --- sagas -----------------------------------------------------------------------------------

/// A saga's persisted progress: the next step to run (forward) or to undo (unwinding).
#[derive(Clone, Debug, PartialEq)]
pub struct SagaRow {
    pub job_id: model::JobId,
    pub kind: String,
    pub resource_id: Option<Uuid>,
    pub step: i64,
    pub phase: model::SagaPhase,
    pub data: serde_json::Value,
}

pub async fn saga_get(conn: &mut AnyConnection, job: model::JobId) -> Result<Option<SagaRow>> {
    let mut q =
        Sql::new("SELECT job_id, kind, resource_id, step, phase, data FROM sagas WHERE job_id = ");
    q.bind(job);
    q.one(conn, |r| {
        map_row!(
            r,
            "sagas",
            SagaRow {
                job_id: "job_id",
                kind: "kind",
                resource_id: "resource_id",
                step: "step",
                phase: "phase",
                data: "data",
            }
        )
    })
    .await
}

/// Writes a saga's progress (insert or replace).
pub async fn saga_put(conn: &mut AnyConnection, s: &SagaRow) -> Result<()> {
    let mut q = Sql::new("DELETE FROM sagas WHERE job_id = ");
    q.bind(s.job_id);
    q.query().execute(&mut *conn).await?;
    let mut q = Sql::new(
        "INSERT INTO sagas (job_id, kind, resource_id, step, phase, data, updated) VALUES (",
    );
    q.bind(s.job_id)
        .push(", ")
        .bind(s.kind.clone())
        .push(", ")
        .bind(s.resource_id.map(|u| u.to_string()))
        .push(", ")
        .bind(s.step)
        .push(", ")
        .bind(s.phase)
        .push(", ")
        .bind(s.data.to_string())
        .push(", ")
        .bind(now_ms())
        .push(")");
    q.query().execute(&mut *conn).await?;
    Ok(())
}

/// Sagas of a resource that have not finished (a second operation on it must wait).
pub async fn saga_unfinished_for(
    conn: &mut AnyConnection,
    resource: Uuid,
) -> Result<Vec<(model::JobId, String)>> {
    let mut q = Sql::new(
        "SELECT job_id, kind FROM sagas WHERE phase IN ('forward', 'unwind') AND resource_id = ",
    );
    q.bind(resource.to_string());
    let rows = q.query().fetch_all(&mut *conn).await?;
    rows.iter()
        .map(|r| Ok((parsed(r, "sagas", "job_id")?, r.try_get("kind")?)))
        .collect()
}
