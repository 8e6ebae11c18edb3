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

/// What the running guests of a host use, from their latest figures (listHostsMetrics and the
/// cluster and zone metrics: Canopy's agents report guests, not the host's own load).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct GuestUse {
    /// CPU cores' worth in use (a 2-CPU VM at 50 % is 1.0).
    pub cores: f64,
    /// Memory the guests hold (bytes), less what they report free.
    pub memory_bytes: u64,
    pub net_read_bytes: u64,
    pub net_write_bytes: u64,
}

/// [`GuestUse`] per host, for these hosts (figures of VMs still Running on the host that
/// reported them).
pub async fn guest_use_by_host(
    conn: &mut AnyConnection,
    hosts: &[HostId],
) -> Result<std::collections::HashMap<HostId, GuestUse>> {
    let mut out: std::collections::HashMap<HostId, GuestUse> = Default::default();
    for chunk in hosts.chunks(500) {
        let mut q = Sql::new(
            "SELECT s.host_id, s.stats, v.cpus FROM vm_stats s JOIN vms v ON v.id = s.vm_id \
             AND v.host_id = s.host_id WHERE v.removed IS NULL AND v.state = 'Running'",
        );
        in_list(&mut q, "s.host_id", chunk);
        for r in q.query().fetch_all(&mut *conn).await? {
            let host: HostId = parsed(&r, "vm_stats", "host_id")?;
            let doc: String = r.try_get("stats")?;
            let cpus: i64 = r.try_get("cpus")?;
            let Ok(s) = serde_json::from_str::<GuestStats>(&doc) else {
                continue; // vm_stats_get reports a corrupt document; a sum skips it
            };
            let u = out.entry(host).or_default();
            u.cores += s.cpu_used_percent.clamp(0.0, 100.0) / 100.0 * cpus.max(0) as f64;
            u.memory_bytes += s
                .memory_kib
                .saturating_sub(s.memory_free_kib.unwrap_or(0))
                .saturating_mul(1024);
            u.net_read_bytes += s.net_read_bytes;
            u.net_write_bytes += s.net_write_bytes;
        }
    }
    Ok(out)
}

/// (running, all) VMs placed on each of these hosts.
pub async fn vm_counts_by_host(
    conn: &mut AnyConnection,
    hosts: &[HostId],
) -> Result<std::collections::HashMap<HostId, (u64, u64)>> {
    let mut out: std::collections::HashMap<HostId, (u64, u64)> = Default::default();
    for chunk in hosts.chunks(500) {
        let mut q = Sql::new(
            "SELECT host_id, state, COUNT(*) AS n FROM vms WHERE removed IS NULL \
             AND host_id IS NOT NULL",
        );
        in_list(&mut q, "host_id", chunk);
        q.push(" GROUP BY host_id, state");
        for r in q.query().fetch_all(&mut *conn).await? {
            let host: HostId = parsed(&r, "vms", "host_id")?;
            let state: String = r.try_get("state")?;
            let n: i64 = r.try_get("n")?;
            let e = out.entry(host).or_default();
            e.1 += n.max(0) as u64;
            if state == "Running" {
                e.0 += n.max(0) as u64;
            }
        }
    }
    Ok(out)
}
