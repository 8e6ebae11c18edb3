//! What VMs hold: a host's, a zone's and an owner's usage (placement, capacity, limits), the
//! host lock reservations take, and where implicitly dedicated VMs run. Split from `vms.rs`.

use sqlx::{AnyConnection, Row};
use uuid::Uuid;

use model::ids::{AccountId, DomainId, HostId};

use crate::mapper::parsed;
use crate::sql::{in_list, OwnerScope, Sql};
use crate::vms::ACTIVE_STATES;
use crate::Result;

/// What the active VMs of a host hold: (cpu MHz, memory MiB, VM count).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub cpu_mhz: i64,
    pub memory_mib: i64,
    pub vms: i64,
}

fn usage_sql(q: &mut Sql) {
    q.push(" AND state IN (");
    for (i, s) in ACTIVE_STATES.iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.bind(*s);
    }
    q.push(")");
}

/// Locks a host row for the rest of the transaction (PostgreSQL; SQLite has one writer), so
/// concurrent reservations on one host are checked one after the other.
pub async fn host_lock(conn: &mut AnyConnection, host: HostId) -> Result<()> {
    let pg = conn.backend_name().eq_ignore_ascii_case("postgresql");
    let mut q = Sql::new("SELECT id FROM hosts WHERE id = ");
    q.bind(host.to_string());
    if pg {
        q.push(" FOR UPDATE");
    }
    q.query().fetch_optional(&mut *conn).await?;
    Ok(())
}

/// What a host's active VMs hold (call after [`host_lock`] when reserving).
pub async fn host_usage(conn: &mut AnyConnection, host: HostId) -> Result<Usage> {
    let mut q = Sql::new(
        "SELECT CAST(COALESCE(SUM(cpus * cpu_mhz * reserve_cpu), 0) AS BIGINT), CAST(COALESCE(SUM(memory_mib * reserve_memory), 0) AS BIGINT), COUNT(*) \
         FROM vms WHERE removed IS NULL AND (host_id = ",
    );
    q.bind(host.to_string())
        .and(" OR dest_host_id = ", host.to_string())
        .push(")");
    usage_sql(&mut q);
    let r = q.query().fetch_one(&mut *conn).await?;
    Ok(Usage {
        cpu_mhz: r.try_get(0)?,
        memory_mib: r.try_get(1)?,
        vms: r.try_get(2)?,
    })
}

/// What the active VMs on each of these hosts hold (a migrating VM counts on its host and its
/// destination); hosts without VMs are absent. Reads the hosts' VMs by index, so a page of
/// hosts costs the same whatever the zone holds.
pub async fn hosts_usage(
    conn: &mut AnyConnection,
    hosts: &[HostId],
) -> Result<Vec<(HostId, Usage)>> {
    let mut out: std::collections::BTreeMap<HostId, Usage> = Default::default();
    for chunk in hosts.chunks(500) {
        for col in ["host_id", "dest_host_id"] {
            let mut q = Sql::new(&format!(
                "SELECT {col} AS h, CAST(COALESCE(SUM(cpus * cpu_mhz * reserve_cpu), 0) AS BIGINT), \
                 CAST(COALESCE(SUM(memory_mib * reserve_memory), 0) AS BIGINT), COUNT(*) FROM vms WHERE removed IS NULL"
            ));
            crate::sql::in_list(&mut q, col, chunk);
            usage_sql(&mut q);
            q.push(&format!(" GROUP BY {col}"));
            for r in q.query().fetch_all(&mut *conn).await? {
                let e = out.entry(parsed(&r, "vms", "h")?).or_default();
                e.cpu_mhz += r.try_get::<i64, _>(1)?;
                e.memory_mib += r.try_get::<i64, _>(2)?;
                e.vms += r.try_get::<i64, _>(3)?;
            }
        }
    }
    Ok(out.into_iter().collect())
}

/// Usage of every host of a zone that has active VMs; also each host's VM count for `owner`.
pub async fn zone_usage(
    conn: &mut AnyConnection,
    zone: Uuid,
    owner: Option<AccountId>,
) -> Result<Vec<(HostId, Usage, i64)>> {
    // A migrating VM holds capacity on its host and on its destination.
    let mut out: std::collections::BTreeMap<HostId, (Usage, i64)> = Default::default();
    for col in ["host_id", "dest_host_id"] {
        let mut q = Sql::new(&format!(
            "SELECT {col} AS h, CAST(COALESCE(SUM(cpus * cpu_mhz * reserve_cpu), 0) AS BIGINT), \
             CAST(COALESCE(SUM(memory_mib * reserve_memory), 0) AS BIGINT), COUNT(*), CAST(SUM(CASE WHEN account_id = "
        ));
        q.bind(owner.map(|a| a.to_string()).unwrap_or_default())
            .push(&format!(
                " THEN 1 ELSE 0 END) AS BIGINT) FROM vms WHERE removed IS NULL AND {col} IS NOT NULL AND zone_id = "
            ))
            .bind(zone.to_string());
        usage_sql(&mut q);
        q.push(&format!(" GROUP BY {col}"));
        for r in q.query().fetch_all(&mut *conn).await? {
            let e = out.entry(parsed(&r, "vms", "h")?).or_default();
            e.0.cpu_mhz += r.try_get::<i64, _>(1)?;
            e.0.memory_mib += r.try_get::<i64, _>(2)?;
            e.0.vms += r.try_get::<i64, _>(3)?;
            e.1 += r.try_get::<Option<i64>, _>(4)?.unwrap_or(0);
        }
    }
    Ok(out.into_iter().map(|(h, (u, o))| (h, u, o)).collect())
}

/// What an account's VMs count against its limits (Destroyed and Error VMs do not).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AccountUsage {
    pub vms: i64,
    pub cpus: i64,
    pub memory_mib: i64,
    pub volumes: i64,
    pub storage_bytes: i64,
    /// Public addresses held (not Free), source-NAT ones included.
    pub public_ips: i64,
    /// Live VPCs.
    pub vpcs: i64,
    /// Live snapshots (not Destroyed or Error), and what they keep on image stores (bytes).
    pub snapshots: i64,
    pub secondary_bytes: i64,
    /// Guest networks owned (Isolated ones and VPC tiers; shared networks have no account).
    pub networks: i64,
    /// Projects the account is an Admin member of.
    pub projects: i64,
}

/// What the VMs and volumes of an account, or of a domain's accounts, count against limits.
pub async fn owner_usage(conn: &mut AnyConnection, scope: &OwnerScope) -> Result<AccountUsage> {
    let mut q = Sql::new(
        "SELECT CAST(COALESCE(SUM(v.cpus), 0) AS BIGINT), CAST(COALESCE(SUM(v.memory_mib), 0) AS BIGINT), COUNT(*) FROM vms v \
         JOIN domains d ON d.id = v.domain_id \
         WHERE v.removed IS NULL AND v.state <> 'Destroyed' AND v.state <> 'Error'",
    );
    scope.push(&mut q, "v.account_id", "d");
    let r = q.query().fetch_one(&mut *conn).await?;
    let mut q = Sql::new(
        "SELECT COUNT(*), CAST(COALESCE(SUM(o.size), 0) AS BIGINT) FROM volumes o \
         JOIN domains d ON d.id = o.domain_id WHERE o.removed IS NULL \
         AND o.state <> 'Destroy' AND o.state <> 'Expunging'",
    );
    scope.push(&mut q, "o.account_id", "d");
    let v = q.query().fetch_one(&mut *conn).await?;
    let mut q = Sql::new(
        "SELECT COUNT(*) FROM public_ips p JOIN domains d ON d.id = p.domain_id WHERE p.state <> 'Free'",
    );
    scope.push(&mut q, "p.account_id", "d");
    let p = q.query().fetch_one(&mut *conn).await?;
    let mut q = Sql::new(
        "SELECT COUNT(*) FROM vpcs x JOIN domains d ON d.id = x.domain_id WHERE x.removed IS NULL",
    );
    scope.push(&mut q, "x.account_id", "d");
    let x = q.query().fetch_one(&mut *conn).await?;
    let mut q = Sql::new(
        "SELECT COUNT(*), CAST(COALESCE(SUM(s.physical_size), 0) AS BIGINT) FROM snapshots s \
         JOIN domains d ON d.id = s.domain_id WHERE s.removed IS NULL AND s.state <> 'Error'",
    );
    scope.push(&mut q, "s.account_id", "d");
    let sn = q.query().fetch_one(&mut *conn).await?;
    let mut q = Sql::new(
        "SELECT COUNT(*) FROM networks n JOIN domains d ON d.id = n.domain_id \
         WHERE n.removed IS NULL AND n.account_id IS NOT NULL AND n.traffic_type = 'Guest'",
    );
    scope.push(&mut q, "n.account_id", "d");
    let nw = q.query().fetch_one(&mut *conn).await?;
    let mut q = Sql::new(
        "SELECT COUNT(*) FROM project_members m JOIN projects pr ON pr.id = m.project_id \
         JOIN accounts ma ON ma.id = m.account_id JOIN domains d ON d.id = ma.domain_id \
         WHERE pr.removed IS NULL AND m.role = 'Admin' AND m.user_id IS NULL",
    );
    scope.push(&mut q, "m.account_id", "d");
    let pj = q.query().fetch_one(&mut *conn).await?;
    Ok(AccountUsage {
        networks: nw.try_get(0)?,
        projects: pj.try_get(0)?,
        snapshots: sn.try_get(0)?,
        secondary_bytes: sn.try_get(1)?,
        cpus: r.try_get(0)?,
        memory_mib: r.try_get(1)?,
        vms: r.try_get(2)?,
        volumes: v.try_get(0)?,
        storage_bytes: v.try_get(1)?,
        public_ips: p.try_get(0)?,
        vpcs: x.try_get(0)?,
    })
}

impl std::ops::AddAssign for AccountUsage {
    fn add_assign(&mut self, o: Self) {
        self.vms += o.vms;
        self.cpus += o.cpus;
        self.memory_mib += o.memory_mib;
        self.volumes += o.volumes;
        self.storage_bytes += o.storage_bytes;
        self.public_ips += o.public_ips;
        self.vpcs += o.vpcs;
        self.snapshots += o.snapshots;
        self.secondary_bytes += o.secondary_bytes;
        self.networks += o.networks;
        self.projects += o.projects;
    }
}

/// What [`owner_usage`] counts, for many owners at once: one grouped query per table (not
/// seven queries per owner), keyed by (account, its domain). `accounts`: only theirs; `None`:
/// every owner (a domain's usage is the sum over the accounts of its subtree).
pub async fn owner_usage_grouped(
    conn: &mut AnyConnection,
    accounts: Option<&[AccountId]>,
) -> Result<Vec<(AccountId, DomainId, AccountUsage)>> {
    type Set = fn(&mut AccountUsage, i64, i64);
    let tables: [(&str, &str, &str, Set); 7] = [
        (
            "CAST(COALESCE(SUM(v.cpus), 0) AS BIGINT), CAST(COALESCE(SUM(v.memory_mib), 0) AS BIGINT), COUNT(*)",
            "vms v WHERE v.removed IS NULL AND v.state <> 'Destroyed' AND v.state <> 'Error'",
            "v",
            |u, a, b| {
                u.cpus = a;
                u.memory_mib = b;
            },
        ),
        (
            "COUNT(*), CAST(COALESCE(SUM(o.size), 0) AS BIGINT), 0",
            "volumes o WHERE o.removed IS NULL AND o.state <> 'Destroy' AND o.state <> 'Expunging'",
            "o",
            |u, a, b| {
                u.volumes = a;
                u.storage_bytes = b;
            },
        ),
        (
            "COUNT(*), 0, 0",
            "public_ips p WHERE p.state <> 'Free' AND p.account_id IS NOT NULL",
            "p",
            |u, a, _| u.public_ips = a,
        ),
        (
            "COUNT(*), 0, 0",
            "vpcs x WHERE x.removed IS NULL",
            "x",
            |u, a, _| u.vpcs = a,
        ),
        (
            "COUNT(*), CAST(COALESCE(SUM(s.physical_size), 0) AS BIGINT), 0",
            "snapshots s WHERE s.removed IS NULL AND s.state <> 'Error'",
            "s",
            |u, a, b| {
                u.snapshots = a;
                u.secondary_bytes = b;
            },
        ),
        (
            "COUNT(*), 0, 0",
            "networks n WHERE n.removed IS NULL AND n.account_id IS NOT NULL AND n.traffic_type = 'Guest'",
            "n",
            |u, a, _| u.networks = a,
        ),
        (
            "COUNT(*), 0, 0",
            "project_members m JOIN projects pr ON pr.id = m.project_id JOIN accounts ma ON ma.id = m.account_id \
             WHERE pr.removed IS NULL AND m.role = 'Admin' AND m.user_id IS NULL",
            "m",
            |u, a, _| u.projects = a,
        ),
    ];
    let mut out: std::collections::HashMap<(AccountId, DomainId), AccountUsage> =
        std::collections::HashMap::new();
    for (i, (aggs, from, t, set)) in tables.iter().enumerate() {
        // The members' domain is their account's (project_members has none of its own).
        let dom = if *t == "m" {
            "ma.domain_id".to_string()
        } else {
            format!("{t}.domain_id")
        };
        let mut q = Sql::new(&format!(
            "SELECT {t}.account_id AS acct, {dom} AS dom, {aggs} FROM {from}"
        ));
        if let Some(ids) = accounts {
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            in_list(&mut q, &format!("{t}.account_id"), ids);
        }
        q.push(&format!(" GROUP BY {t}.account_id, {dom}"));
        for r in q.query().fetch_all(&mut *conn).await? {
            let a: AccountId = parsed(&r, "usage", "acct")?;
            let d: DomainId = parsed(&r, "usage", "dom")?;
            let u = out.entry((a, d)).or_default();
            let (x, y, z): (i64, i64, i64) = (r.try_get(2)?, r.try_get(3)?, r.try_get(4)?);
            set(u, x, y);
            if i == 0 {
                u.vms = z;
            }
        }
    }
    Ok(out.into_iter().map(|((a, d), u)| (a, d, u)).collect())
}

// --- fencing ---------------------------------------------------------------------------------

/// The active VMs deployed by the ImplicitDedicationPlanner in a zone (or on one host): each
/// host they hold (a migrating one: both), their account, and whether they are Strict.
pub async fn implicit_dedicated(
    conn: &mut AnyConnection,
    zone: Option<Uuid>,
    host: Option<HostId>,
) -> Result<Vec<(HostId, AccountId, bool)>> {
    let mut q = Sql::new(
        "SELECT host_id, dest_host_id, account_id, attrs FROM vms WHERE removed IS NULL \
         AND attrs LIKE '%\"implicitdedication\"%'",
    );
    if let Some(z) = zone {
        q.and(" AND zone_id = ", z.to_string());
    }
    if let Some(h) = host {
        q.and(" AND (host_id = ", h.to_string())
            .and(" OR dest_host_id = ", h.to_string())
            .push(")");
    }
    usage_sql(&mut q);
    let mut out = Vec::new();
    for r in q.query().fetch_all(&mut *conn).await? {
        let attrs: String = r.try_get("attrs")?;
        let strict = serde_json::from_str::<serde_json::Value>(&attrs)
            .ok()
            .and_then(|a| a["implicitdedication"].as_str().map(|m| m != "Preferred"));
        let Some(strict) = strict else { continue };
        let account: AccountId = parsed(&r, "vms", "account_id")?;
        for col in ["host_id", "dest_host_id"] {
            if let Some(h) = crate::mapper::parsed_opt::<HostId>(&r, "vms", col)? {
                out.push((h, account, strict));
            }
        }
    }
    Ok(out)
}
