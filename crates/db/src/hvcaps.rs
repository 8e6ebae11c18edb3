//! Hypervisor capabilities (`listHypervisorCapabilities`): the per-host guest limit the
//! placement honours, and what each hypervisor supports.

use sqlx::any::AnyRow;
use sqlx::AnyConnection;
use uuid::Uuid;

use crate::mapper::map_row;
use crate::sql::Sql;
use crate::Result;

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
    map_row!(
        r,
        "hypervisor_capabilities",
        HvCapsRow {
            id: "id",
            hypervisor: "hypervisor",
            version: "version",
            max_guests: "max_guests",
            max_data_volumes: "max_data_volumes",
            max_hosts_per_cluster: "max_hosts_per_cluster",
            security_group_enabled: "security_group_enabled",
            storage_motion_enabled: "storage_motion_enabled",
            vm_snapshot_enabled: "vm_snapshot_enabled",
        }
    )
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
