//! Virtual routers (one live per network) and the per-host data-plane generations.

use sqlx::any::AnyRow;
use sqlx::AnyConnection;
use uuid::Uuid;

use model::ids::{AccountId, DomainId, HostId, NetworkId};

use crate::identity::{count, Listed};
use crate::mapper::map_row;
use crate::migrate::now_ms;
use crate::sql::{in_list, OwnerScope, Sql};
use crate::{DbError, Result};

// ---------------------------------------------------------------------------------------
// Routers

#[derive(Clone, Debug, PartialEq)]
pub struct RouterRow {
    pub id: Uuid,
    pub name: String,
    /// The network it serves; for a VPC's router the VPC's id (so the one-live-router index
    /// also holds for VPCs) — read [`RouterRow::vpc_id`] first.
    pub network_id: NetworkId,
    /// Set on a VPC's router: it serves every tier of this VPC.
    pub vpc_id: Option<model::VpcId>,
    pub zone_id: Uuid,
    pub account_id: Option<AccountId>,
    pub account_name: Option<String>,
    pub domain_id: Option<DomainId>,
    pub domain_name: Option<String>,
    pub domain_path: Option<String>,
    pub host_id: Option<HostId>,
    pub state: model::VmState,
    pub guest_ip: Option<String>,
    pub guest_mac: String,
    pub public_ip_id: Option<Uuid>,
    pub public_mac: String,
    pub link_local_ip: String,
    pub created: i64,
}

#[derive(Clone, Debug, Default)]
pub struct RouterFilter {
    pub scope: Option<OwnerScope>,
    pub ids: Vec<Uuid>,
    pub network_ids: Vec<NetworkId>,
    pub vpc_ids: Vec<model::VpcId>,
    /// `Some(true)`: VPC routers only; `Some(false)`: network routers only.
    pub for_vpc: Option<bool>,
    pub host_ids: Vec<HostId>,
    pub zone_id: Option<Uuid>,
    pub state: Option<String>,
    pub name: Option<String>,
    pub offset: u64,
    pub limit: Option<u64>,
}

const ROUTER_COLS: &str =
    "v.id AS v_id, v.name AS v_name, v.network_id AS v_net, v.vpc_id AS v_vpc, v.zone_id AS v_zone, \
    v.account_id AS v_acct, a.name AS a_name, v.domain_id AS v_dom, d.name AS d_name, \
    d.path AS d_path, v.host_id AS v_host, v.state AS v_state, v.guest_ip AS v_gip, \
    v.guest_mac AS v_gmac, v.public_ip_id AS v_pip, v.public_mac AS v_pmac, \
    v.link_local_ip AS v_ll, v.created AS v_created";
const ROUTER_FROM: &str = " FROM routers v LEFT JOIN accounts a ON a.id = v.account_id \
    LEFT JOIN domains d ON d.id = v.domain_id WHERE v.removed IS NULL";

fn router_row(r: &AnyRow) -> Result<RouterRow> {
    const T: &str = "routers";
    map_row!(
        r,
        T,
        RouterRow {
            id: "v_id",
            name: "v_name",
            network_id: "v_net",
            vpc_id: "v_vpc",
            zone_id: "v_zone",
            account_id: "v_acct",
            account_name: "a_name",
            domain_id: "v_dom",
            domain_name: "d_name",
            domain_path: "d_path",
            host_id: "v_host",
            state: "v_state",
            guest_ip: "v_gip",
            guest_mac: "v_gmac",
            public_ip_id: "v_pip",
            public_mac: "v_pmac",
            link_local_ip: "v_ll",
            created: "v_created",
        }
    )
}

/// Adds a network's router; a second live router for one network is a
/// [`DbError::Conflict`].
pub async fn router_insert(conn: &mut AnyConnection, v: &RouterRow) -> Result<()> {
    let mut q = Sql::new(
        "INSERT INTO routers (id, name, network_id, zone_id, account_id, domain_id, host_id, state, \
         guest_ip, guest_mac, public_ip_id, public_mac, link_local_ip, vpc_id, created, updated) \
         VALUES (",
    );
    let now = now_ms();
    q.bind(v.id)
        .push(", ")
        .bind(v.name.clone())
        .push(", ")
        .bind(v.network_id)
        .push(", ")
        .bind(v.zone_id)
        .push(", ")
        .bind(v.account_id)
        .push(", ")
        .bind(v.domain_id)
        .push(", ")
        .bind(v.host_id)
        .push(", ")
        .bind(v.state)
        .push(", ")
        .bind(v.guest_ip.clone())
        .push(", ")
        .bind(v.guest_mac.clone())
        .push(", ")
        .bind(v.public_ip_id)
        .push(", ")
        .bind(v.public_mac.clone())
        .push(", ")
        .bind(v.link_local_ip.clone())
        .push(", ")
        .bind(v.vpc_id)
        .push(", ")
        .bind(now)
        .push(", ")
        .bind(now)
        .push(")");
    q.query()
        .execute(&mut *conn)
        .await
        .map_err(DbError::classify)?;
    Ok(())
}

fn router_where(q: &mut Sql, f: &RouterFilter) {
    if let Some(s) = &f.scope {
        s.push(q, "v.account_id", "d");
    }
    if !f.ids.is_empty() {
        in_list(q, "v.id", &f.ids);
    }
    if !f.network_ids.is_empty() {
        in_list(q, "v.network_id", &f.network_ids);
    }
    if !f.vpc_ids.is_empty() {
        in_list(q, "v.vpc_id", &f.vpc_ids);
    }
    match f.for_vpc {
        Some(true) => {
            q.push(" AND v.vpc_id IS NOT NULL");
        }
        Some(false) => {
            q.push(" AND v.vpc_id IS NULL");
        }
        None => {}
    }
    if !f.host_ids.is_empty() {
        in_list(q, "v.host_id", &f.host_ids);
    }
    if let Some(z) = f.zone_id {
        q.and(" AND v.zone_id = ", z);
    }
    if let Some(s) = &f.state {
        q.and(" AND lower(v.state) = ", s.to_lowercase());
    }
    if let Some(n) = &f.name {
        q.and(" AND v.name = ", n.clone());
    }
}

pub async fn router_list(conn: &mut AnyConnection, f: &RouterFilter) -> Result<Listed<RouterRow>> {
    let mut c = Sql::new(&format!("SELECT COUNT(*){ROUTER_FROM}"));
    router_where(&mut c, f);
    let total = count(conn, &c).await?;
    let mut q = Sql::new(&format!("SELECT {ROUTER_COLS}{ROUTER_FROM}"));
    router_where(&mut q, f);
    q.push(" ORDER BY v.created, v.id").page(f.offset, f.limit);
    Ok((q.all(conn, router_row).await?, total))
}

/// Moves a router to a state and host.
pub async fn router_set(
    conn: &mut AnyConnection,
    id: Uuid,
    state: model::VmState,
    host: Option<HostId>,
) -> Result<u64> {
    let mut q = Sql::new("UPDATE routers SET state = ");
    q.bind(state)
        .push(", host_id = ")
        .bind(host)
        .push(", updated = ")
        .bind(now_ms())
        .and(" WHERE removed IS NULL AND id = ", id);
    Ok(q.query().execute(&mut *conn).await?.rows_affected())
}

pub async fn router_remove(conn: &mut AnyConnection, id: Uuid) -> Result<u64> {
    let mut q = Sql::new("UPDATE routers SET state = 'Expunging', host_id = NULL, removed = ");
    q.bind(now_ms()).and(" WHERE removed IS NULL AND id = ", id);
    Ok(q.query().execute(&mut *conn).await?.rows_affected())
}

// ---------------------------------------------------------------------------------------
// Data-plane generations

#[derive(Clone, Debug, PartialEq)]
pub struct NetGeneration {
    pub host_id: HostId,
    pub generation: i64,
    pub digest: String,
    pub acked: i64,
}

fn netgen_row(r: &AnyRow) -> Result<NetGeneration> {
    map_row!(
        r,
        "net_generations",
        NetGeneration {
            host_id: "host_id",
            generation: "generation",
            digest: "digest",
            acked: "acked",
        }
    )
}

pub async fn netgen_get(conn: &mut AnyConnection, host: HostId) -> Result<Option<NetGeneration>> {
    let mut q =
        Sql::new("SELECT host_id, generation, digest, acked FROM net_generations WHERE host_id = ");
    q.bind(host);
    q.one(conn, netgen_row).await
}

/// The generations of these hosts (hosts never pushed to are absent).
pub async fn netgen_list(conn: &mut AnyConnection, hosts: &[HostId]) -> Result<Vec<NetGeneration>> {
    let mut out = Vec::new();
    for chunk in hosts.chunks(500) {
        let mut q =
            Sql::new("SELECT host_id, generation, digest, acked FROM net_generations WHERE 1 = 1");
        in_list(&mut q, "host_id", chunk);
        out.extend(q.all(conn, netgen_row).await?);
    }
    Ok(out)
}

/// Records a round's outcome for many hosts in one statement per 200 hosts: each host's
/// generation, digest and acknowledged generation (the acknowledgement never goes back).
pub async fn netgen_record(
    conn: &mut AnyConnection,
    rows: &[(HostId, i64, String, i64)],
) -> Result<()> {
    let now = now_ms();
    for chunk in rows.chunks(200) {
        let mut q = Sql::new(
            "INSERT INTO net_generations (host_id, generation, digest, acked, updated) VALUES ",
        );
        for (i, (h, g, d, a)) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.push("(")
                .bind(*h)
                .push(", ")
                .bind(*g)
                .push(", ")
                .bind(d.clone())
                .push(", ")
                .bind(*a)
                .push(", ")
                .bind(now)
                .push(")");
        }
        q.push(
            " ON CONFLICT (host_id) DO UPDATE SET generation = excluded.generation, \
             digest = excluded.digest, updated = excluded.updated, \
             acked = CASE WHEN excluded.acked > net_generations.acked THEN excluded.acked ELSE net_generations.acked END",
        );
        q.query().execute(&mut *conn).await?;
    }
    Ok(())
}
