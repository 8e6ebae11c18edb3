//! Hypervisor capabilities (`listHypervisorCapabilities`): the per-host guest limit the
//! placement honours, and what each hypervisor supports.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use uuid::Uuid;

use crate::sql::Sql;
use crate::{DbError, Result};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HvCapsRow {
    pub id: Uuid,
    pub hypervisor: String,
    pub version: String,
    pub max_guests: i64,
    pub max_data_volumes: i64,
    pub max_hosts_per_cluster: Option<i64>,
    pub security_group_enabled: bool,
    pub storage_motion_enabled: bool,
    pub vm_snapshot_enabled: bool,
}

const COLS: &str = "SELECT id, hypervisor, version, max_guests, max_data_volumes, max_hosts_per_cluster, \
     security_group_enabled, storage_motion_enabled, vm_snapshot_enabled FROM hypervisor_capabilities WHERE 1 = 1";

fn row(r: &AnyRow) -> Result<HvCapsRow> {
    let id: String = r.try_get("id")?;
    Ok(HvCapsRow {
        id: Uuid::parse_str(&id).map_err(|_| DbError::Corrupt {
            table: "hypervisor_capabilities",
            column: "id",
            value: id,
        })?,
        hypervisor: r.try_get("hypervisor")?,
        version: r.try_get("version")?,
        max_guests: r.try_get("max_guests")?,
        max_data_volumes: r.try_get("max_data_volumes")?,
        max_hosts_per_cluster: r.try_get("max_hosts_per_cluster")?,
        security_group_enabled: r.try_get::<i64, _>("security_group_enabled")? != 0,
        storage_motion_enabled: r.try_get::<i64, _>("storage_motion_enabled")? != 0,
        vm_snapshot_enabled: r.try_get::<i64, _>("vm_snapshot_enabled")? != 0,
    })
}

/// Rows by id and/or hypervisor (case-insensitive), ordered by hypervisor and version.
pub async fn hvcaps_list(
    conn: &mut AnyConnection,
    id: Option<Uuid>,
    hypervisor: Option<&str>,
) -> Result<Vec<HvCapsRow>> {
    let mut q = Sql::new(COLS);
    if let Some(id) = id {
        q.and(" AND id = ", id.to_string());
    }
    if let Some(h) = hypervisor {
        q.and(" AND lower(hypervisor) = ", h.to_lowercase());
    }
    q.push(" ORDER BY hypervisor, version");
    let rows = q.query().fetch_all(conn).await?;
    rows.iter().map(row).collect()
}

/// The capabilities for a hypervisor version, falling back to its `default` row.
pub async fn hvcaps_for(
    conn: &mut AnyConnection,
    hypervisor: &str,
    version: Option<&str>,
) -> Result<Option<HvCapsRow>> {
    let rows = hvcaps_list(conn, None, Some(hypervisor)).await?;
    let exact = version.and_then(|v| rows.iter().find(|r| r.version == v).cloned());
    Ok(exact.or_else(|| rows.into_iter().find(|r| r.version == "default")))
}

/// Writes the changeable fields of a row.
pub async fn hvcaps_update(conn: &mut AnyConnection, r: &HvCapsRow) -> Result<()> {
    let mut q = Sql::new("UPDATE hypervisor_capabilities SET max_guests = ");
    q.bind(r.max_guests)
        .and(", max_data_volumes = ", r.max_data_volumes)
        .and(
            ", security_group_enabled = ",
            r.security_group_enabled as i64,
        );
    q.and(
        ", storage_motion_enabled = ",
        r.storage_motion_enabled as i64,
    )
    .and(", vm_snapshot_enabled = ", r.vm_snapshot_enabled as i64)
    .and(" WHERE id = ", r.id.to_string());
    q.query().execute(conn).await?;
    Ok(())
}
