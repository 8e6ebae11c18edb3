//! The latest statistics of each VM's guest, as its host reported them (`vm_stats`: one row
//! per VM, replaced at each report; the figures are a JSON document of
//! [`model::stats::GuestStats`], decoded here — a document that does not decode is
//! [`DbError::Corrupt`]).

use model::stats::GuestStats;
use model::{HostId, VmId};
use sqlx::{AnyConnection, Row};

use crate::mapper::parsed;

use crate::migrate::now_ms;
use crate::sql::{in_list, Sql};
use crate::{DbError, Result};

/// A VM's latest figures: who reported them and when (epoch ms).
#[derive(Clone, Debug, PartialEq)]
pub struct VmStatsRow {
    pub vm_id: VmId,
    pub host_id: HostId,
    pub collected: i64,
    pub stats: GuestStats,
}

/// Records a host's report: one row per VM, replacing the previous one (200 VMs per
/// statement).
pub async fn vm_stats_put(
    conn: &mut AnyConnection,
    host: HostId,
    stats: &[GuestStats],
) -> Result<()> {
    let now = now_ms();
    for chunk in stats.chunks(200) {
        let mut q = Sql::new("INSERT INTO vm_stats (vm_id, host_id, collected, stats) VALUES ");
        for (i, s) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            let doc = serde_json::to_string(s).map_err(|e| DbError::Corrupt {
                table: "vm_stats",
                column: "stats",
                value: e.to_string(),
            })?;
            q.push("(")
                .bind(VmId(s.vm_id))
                .push(", ")
                .bind(host)
                .push(", ")
                .bind(now)
                .push(", ")
                .bind(doc)
                .push(")");
        }
        q.push(
            " ON CONFLICT (vm_id) DO UPDATE SET host_id = excluded.host_id, \
             collected = excluded.collected, stats = excluded.stats",
        );
        q.query().execute(&mut *conn).await?;
    }
    Ok(())
}

/// The latest figures of these VMs (those that have any).
pub async fn vm_stats_get(conn: &mut AnyConnection, vms: &[VmId]) -> Result<Vec<VmStatsRow>> {
    let mut out = Vec::new();
    for chunk in vms.chunks(500) {
        let mut q = Sql::new("SELECT vm_id, host_id, collected, stats FROM vm_stats WHERE 1 = 1");
        in_list(&mut q, "vm_id", chunk);
        for r in q.query().fetch_all(&mut *conn).await? {
            let doc: String = r.try_get("stats")?;
            let stats: GuestStats = serde_json::from_str(&doc).map_err(|e| DbError::Corrupt {
                table: "vm_stats",
                column: "stats",
                value: format!("{e}: {}", doc.chars().take(80).collect::<String>()),
            })?;
            out.push(VmStatsRow {
                vm_id: parsed(&r, "vm_stats", "vm_id")?,
                host_id: parsed(&r, "vm_stats", "host_id")?,
                collected: r.try_get("collected")?,
                stats,
            });
        }
    }
    Ok(out)
}

/// Forgets a VM's figures (it stopped: a stopped VM shows none).
pub async fn vm_stats_clear(conn: &mut AnyConnection, vm: VmId) -> Result<u64> {
    Ok(sqlx::query("DELETE FROM vm_stats WHERE vm_id = $1")
        .bind(vm.to_string())
        .execute(&mut *conn)
        .await?
        .rows_affected())
}
