//! IP ranges (public ranges, the ranges of shared networks) and public IPs: one row per
//! address of a public range, Free until a conditional update claims it.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use uuid::Uuid;

use model::ids::{AccountId, DomainId, NetworkId};

use crate::identity::{count, Listed};
use crate::mapper::{map_row, parsed};
use crate::migrate::now_ms;
use crate::sql::{in_list, OwnerScope, Sql};
use crate::{DbError, Result};

// ---------------------------------------------------------------------------------------
// IP ranges

#[derive(Clone, Debug, PartialEq)]
pub struct VlanRangeRow {
    pub id: Uuid,
    pub zone_id: Uuid,
    pub physnet_id: Option<Uuid>,
    pub pod_id: Option<Uuid>,
    /// Set for the IP range of a shared network.
    pub network_id: Option<NetworkId>,
    pub vlan: Option<String>,
    pub gateway: String,
    pub netmask: String,
    pub start_ip: String,
    pub end_ip: String,
    pub for_virtual: bool,
    pub for_system: bool,
    /// A service IP pool: its addresses go to load balancer rules only (Canopy).
    pub for_lb: bool,
    pub account_id: Option<AccountId>,
    pub account_name: Option<String>,
    pub domain_id: Option<DomainId>,
    pub domain_name: Option<String>,
    pub domain_path: Option<String>,
    pub created: i64,
}

#[derive(Clone, Debug, Default)]
pub struct VlanRangeFilter {
    pub ids: Vec<Uuid>,
    pub zone_id: Option<Uuid>,
    pub network_id: Option<NetworkId>,
    /// `Some(true)`: public ranges only (no network); `Some(false)`: network ranges only.
    pub public: Option<bool>,
    pub physnet_id: Option<Uuid>,
    pub offset: u64,
    pub limit: Option<u64>,
}

const RANGE_COLS: &str =
    "r.id AS r_id, r.zone_id AS r_zone, r.physnet_id AS r_pn, r.pod_id AS r_pod, \
    r.network_id AS r_net, r.vlan AS r_vlan, r.gateway AS r_gw, r.netmask AS r_mask, \
    r.start_ip AS r_start, r.end_ip AS r_end, r.for_virtual AS r_fv, r.for_system AS r_fs, \
    r.for_lb AS r_flb, r.account_id AS r_acct, a.name AS a_name, r.domain_id AS r_dom, d.name AS d_name, \
    d.path AS d_path, r.created AS r_created";
const RANGE_FROM: &str = " FROM vlan_ranges r LEFT JOIN accounts a ON a.id = r.account_id \
    LEFT JOIN domains d ON d.id = r.domain_id WHERE r.removed IS NULL";

fn range_row(r: &AnyRow) -> Result<VlanRangeRow> {
    const T: &str = "vlan_ranges";
    map_row!(
        r,
        T,
        VlanRangeRow {
            id: "r_id",
            zone_id: "r_zone",
            physnet_id: "r_pn",
            pod_id: "r_pod",
            network_id: "r_net",
            vlan: "r_vlan",
            gateway: "r_gw",
            netmask: "r_mask",
            start_ip: "r_start",
            end_ip: "r_end",
            for_virtual: "r_fv",
            for_system: "r_fs",
            for_lb: "r_flb",
            account_id: "r_acct",
            account_name: "a_name",
            domain_id: "r_dom",
            domain_name: "d_name",
            domain_path: "d_path",
            created: "r_created",
        }
    )
}

pub async fn vlan_range_insert(conn: &mut AnyConnection, v: &VlanRangeRow) -> Result<()> {
    let mut q = Sql::new(
        "INSERT INTO vlan_ranges (id, zone_id, physnet_id, pod_id, network_id, vlan, gateway, \
         netmask, start_ip, end_ip, for_virtual, for_system, for_lb, account_id, domain_id, created) VALUES (",
    );
    q.bind(v.id)
        .push(", ")
        .bind(v.zone_id)
        .push(", ")
        .bind(v.physnet_id)
        .push(", ")
        .bind(v.pod_id)
        .push(", ")
        .bind(v.network_id)
        .push(", ")
        .bind(v.vlan.clone())
        .push(", ")
        .bind(v.gateway.clone())
        .push(", ")
        .bind(v.netmask.clone())
        .push(", ")
        .bind(v.start_ip.clone())
        .push(", ")
        .bind(v.end_ip.clone())
        .push(", ")
        .bind(v.for_virtual)
        .push(", ")
        .bind(v.for_system)
        .push(", ")
        .bind(v.for_lb)
        .push(", ")
        .bind(v.account_id)
        .push(", ")
        .bind(v.domain_id)
        .push(", ")
        .bind(now_ms())
        .push(")");
    q.query()
        .execute(&mut *conn)
        .await
        .map_err(DbError::classify)?;
    Ok(())
}

fn range_where(q: &mut Sql, f: &VlanRangeFilter) {
    if !f.ids.is_empty() {
        in_list(q, "r.id", &f.ids);
    }
    if let Some(z) = f.zone_id {
        q.and(" AND r.zone_id = ", z);
    }
    if let Some(n) = f.network_id {
        q.and(" AND r.network_id = ", n);
    }
    if let Some(p) = f.physnet_id {
        q.and(" AND r.physnet_id = ", p);
    }
    match f.public {
        Some(true) => {
            q.push(" AND r.network_id IS NULL");
        }
        Some(false) => {
            q.push(" AND r.network_id IS NOT NULL");
        }
        None => {}
    }
}

pub async fn vlan_range_list(
    conn: &mut AnyConnection,
    f: &VlanRangeFilter,
) -> Result<Listed<VlanRangeRow>> {
    let mut c = Sql::new(&format!("SELECT COUNT(*){RANGE_FROM}"));
    range_where(&mut c, f);
    let total = count(conn, &c).await?;
    let mut q = Sql::new(&format!("SELECT {RANGE_COLS}{RANGE_FROM}"));
    range_where(&mut q, f);
    q.push(" ORDER BY r.created, r.id").page(f.offset, f.limit);
    Ok((q.all(conn, range_row).await?, total))
}

/// Dedicates a public range to an account (`Some`) or releases it to the zone (`None`).
pub async fn vlan_range_set_owner(
    conn: &mut AnyConnection,
    id: Uuid,
    owner: Option<(AccountId, DomainId)>,
) -> Result<u64> {
    let mut q = Sql::new("UPDATE vlan_ranges SET account_id = ");
    q.bind(owner.map(|o| o.0))
        .and(", domain_id = ", owner.map(|o| o.1))
        .and(" WHERE id = ", id.to_string());
    Ok(q.query().execute(conn).await?.rows_affected())
}

/// New bounds of a range (updateVlanIpRange); the addresses follow separately.
pub async fn vlan_range_set_bounds(conn: &mut AnyConnection, v: &VlanRangeRow) -> Result<u64> {
    let mut q = Sql::new("UPDATE vlan_ranges SET gateway = ");
    q.bind(v.gateway.clone())
        .and(", netmask = ", v.netmask.clone())
        .and(", start_ip = ", v.start_ip.clone())
        .and(", end_ip = ", v.end_ip.clone())
        .and(", for_system = ", v.for_system)
        .and(" WHERE removed IS NULL AND id = ", v.id);
    Ok(q.query().execute(&mut *conn).await?.rows_affected())
}

pub async fn vlan_range_remove(conn: &mut AnyConnection, id: Uuid) -> Result<u64> {
    let mut q = Sql::new("UPDATE vlan_ranges SET removed = ");
    q.bind(now_ms()).and(" WHERE removed IS NULL AND id = ", id);
    Ok(q.query().execute(&mut *conn).await?.rows_affected())
}

// ---------------------------------------------------------------------------------------
// Public IPs

#[derive(Clone, Debug, PartialEq)]
pub struct PublicIpRow {
    pub id: Uuid,
    pub zone_id: Uuid,
    pub range_id: Uuid,
    pub address: String,
    pub state: model::IpState,
    pub account_id: Option<AccountId>,
    pub account_name: Option<String>,
    pub domain_id: Option<DomainId>,
    pub domain_name: Option<String>,
    pub domain_path: Option<String>,
    pub network_id: Option<NetworkId>,
    pub source_nat: bool,
    pub static_nat_vm: Option<Uuid>,
    pub static_nat_ip: Option<String>,
    pub allocated: Option<i64>,
    pub for_display: bool,
    /// From the range.
    pub vlan: Option<String>,
    pub gateway: String,
    pub netmask: String,
    pub physnet_id: Option<Uuid>,
}

#[derive(Clone, Debug, Default)]
pub struct PublicIpFilter {
    pub scope: Option<OwnerScope>,
    pub ids: Vec<Uuid>,
    pub zone_id: Option<Uuid>,
    pub network_id: Option<NetworkId>,
    pub range_id: Option<Uuid>,
    pub address: Option<String>,
    /// Only Allocated/Allocating/Releasing addresses (`allocatedonly`, the default).
    pub allocated_only: bool,
    pub state: Option<String>,
    pub source_nat: Option<bool>,
    pub static_nat: Option<bool>,
    pub static_nat_vm: Option<Uuid>,
    pub offset: u64,
    pub limit: Option<u64>,
}

const IP_COLS: &str =
    "p.id AS p_id, p.zone_id AS p_zone, p.range_id AS p_range, p.address AS p_addr, \
    p.state AS p_state, p.account_id AS p_acct, a.name AS a_name, p.domain_id AS p_dom, \
    d.name AS d_name, d.path AS d_path, p.network_id AS p_net, p.source_nat AS p_snat, \
    p.static_nat_vm AS p_svm, p.static_nat_ip AS p_sip, p.allocated AS p_alloc, \
    p.for_display AS p_disp, r.vlan AS r_vlan, r.gateway AS r_gw, r.netmask AS r_mask, \
    r.physnet_id AS r_pn";
const IP_FROM: &str = " FROM public_ips p JOIN vlan_ranges r ON r.id = p.range_id \
    LEFT JOIN accounts a ON a.id = p.account_id LEFT JOIN domains d ON d.id = p.domain_id \
    WHERE 1 = 1";

fn ip_row(r: &AnyRow) -> Result<PublicIpRow> {
    const T: &str = "public_ips";
    map_row!(
        r,
        T,
        PublicIpRow {
            id: "p_id",
            zone_id: "p_zone",
            range_id: "p_range",
            address: "p_addr",
            state: "p_state",
            account_id: "p_acct",
            account_name: "a_name",
            domain_id: "p_dom",
            domain_name: "d_name",
            domain_path: "d_path",
            network_id: "p_net",
            source_nat: "p_snat",
            static_nat_vm: "p_svm",
            static_nat_ip: "p_sip",
            allocated: "p_alloc",
            for_display: "p_disp",
            vlan: "r_vlan",
            gateway: "r_gw",
            netmask: "r_mask",
            physnet_id: "r_pn",
        }
    )
}

/// Adds the addresses of a public range, all Free.
pub async fn public_ips_insert(
    conn: &mut AnyConnection,
    zone: Uuid,
    range: Uuid,
    addrs: &[std::net::Ipv4Addr],
) -> Result<()> {
    for chunk in addrs.chunks(200) {
        let mut q = Sql::new(
            "INSERT INTO public_ips (id, zone_id, range_id, address, addr_num, state, source_nat, for_display) VALUES ",
        );
        for (i, a) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.push("(")
                .bind(Uuid::new_v4())
                .push(", ")
                .bind(zone)
                .push(", ")
                .bind(range)
                .push(", ")
                .bind(a.to_string())
                .push(", ")
                .bind(i64::from(u32::from(*a)))
                .push(", 'Free', 0, 1)");
        }
        q.query()
            .execute(&mut *conn)
            .await
            .map_err(DbError::classify)?;
    }
    Ok(())
}

fn ip_where(q: &mut Sql, f: &PublicIpFilter) {
    if let Some(s) = &f.scope {
        s.push(q, "p.account_id", "d");
    }
    if !f.ids.is_empty() {
        in_list(q, "p.id", &f.ids);
    }
    if let Some(z) = f.zone_id {
        q.and(" AND p.zone_id = ", z);
    }
    if let Some(n) = f.network_id {
        q.and(" AND p.network_id = ", n);
    }
    if let Some(r) = f.range_id {
        q.and(" AND p.range_id = ", r);
    }
    if let Some(a) = &f.address {
        q.and(" AND p.address = ", a.clone());
    }
    if f.allocated_only {
        q.push(" AND p.state <> 'Free'");
    }
    if let Some(s) = &f.state {
        q.and(" AND lower(p.state) = ", s.to_lowercase());
    }
    if let Some(b) = f.source_nat {
        q.and(" AND p.source_nat = ", b);
    }
    match f.static_nat {
        Some(true) => {
            q.push(" AND p.static_nat_vm IS NOT NULL");
        }
        Some(false) => {
            q.push(" AND p.static_nat_vm IS NULL");
        }
        None => {}
    }
    if let Some(v) = f.static_nat_vm {
        q.and(" AND p.static_nat_vm = ", v);
    }
}

pub async fn public_ip_list(
    conn: &mut AnyConnection,
    f: &PublicIpFilter,
) -> Result<Listed<PublicIpRow>> {
    let mut c = Sql::new(&format!("SELECT COUNT(*){IP_FROM}"));
    ip_where(&mut c, f);
    let total = count(conn, &c).await?;
    let mut q = Sql::new(&format!("SELECT {IP_COLS}{IP_FROM}"));
    ip_where(&mut q, f);
    q.push(" ORDER BY p.zone_id, p.addr_num")
        .page(f.offset, f.limit);
    Ok((q.all(conn, ip_row).await?, total))
}

pub async fn public_ip_get(conn: &mut AnyConnection, id: Uuid) -> Result<Option<PublicIpRow>> {
    let mut q = Sql::new(&format!("SELECT {IP_COLS}{IP_FROM}"));
    q.and(" AND p.id = ", id);
    q.one(conn, ip_row).await
}

/// Up to `n` Free addresses of public ranges in a zone an account may take: ranges dedicated
/// to it first, then undedicated ones; lowest address first. Service IP pools excluded.
pub async fn public_ip_free(
    conn: &mut AnyConnection,
    zone: Uuid,
    account: AccountId,
    n: i64,
) -> Result<Vec<(Uuid, String)>> {
    free_in(conn, zone, account, n, false).await
}

/// Up to `n` Free addresses of the service IP pools (ranges marked for load balancers) in a
/// zone an account may take: its own pools first, then shared ones; lowest address first.
pub async fn public_ip_free_pool(
    conn: &mut AnyConnection,
    zone: Uuid,
    account: AccountId,
    n: i64,
) -> Result<Vec<(Uuid, String)>> {
    free_in(conn, zone, account, n, true).await
}

async fn free_in(
    conn: &mut AnyConnection,
    zone: Uuid,
    account: AccountId,
    n: i64,
    pool: bool,
) -> Result<Vec<(Uuid, String)>> {
    // The account's dedicated ranges while they have a free address (callers pick among the
    // candidates at random), then the zone's shared ones.
    for dedicated in [true, false] {
        let mut q = Sql::new(
            "SELECT p.id, p.address FROM public_ips p JOIN vlan_ranges r ON r.id = p.range_id \
             WHERE r.removed IS NULL AND r.network_id IS NULL AND r.for_system = 0 AND p.state = 'Free' AND r.for_lb = ",
        );
        q.bind(pool).push(" AND p.zone_id = ").bind(zone);
        if dedicated {
            q.and(" AND r.account_id = ", account);
        } else {
            q.push(" AND r.account_id IS NULL");
        }
        q.push(" ORDER BY p.addr_num LIMIT ").bind(n);
        let rows = q.query().fetch_all(&mut *conn).await?;
        if !rows.is_empty() || !dedicated {
            return rows
                .iter()
                .map(|r| Ok((parsed(r, "public_ips", "id")?, r.try_get("address")?)))
                .collect();
        }
    }
    Ok(Vec::new())
}

/// Locks the network or VPC `key` (a network's or a VPC's id) for the rest of the
/// transaction (PostgreSQL; SQLite has one writer), so concurrent claims of its source NAT
/// address are decided one after the other: the second sees the first's.
pub async fn source_nat_lock(conn: &mut AnyConnection, key: Uuid) -> Result<()> {
    if !conn.backend_name().eq_ignore_ascii_case("postgresql") {
        return Ok(());
    }
    for table in ["networks", "vpcs"] {
        let mut q = Sql::new(&format!("SELECT id FROM {table} WHERE id = "));
        q.bind(key.to_string());
        q.push(" FOR UPDATE");
        q.query().fetch_optional(&mut *conn).await?;
    }
    Ok(())
}

/// Free → `state` (Allocating or Allocated) for an account and network, if still Free. True
/// when this call took it.
pub async fn public_ip_claim(
    conn: &mut AnyConnection,
    id: Uuid,
    account: AccountId,
    domain: DomainId,
    network: Option<Uuid>,
    source_nat: bool,
    state: model::IpState,
) -> Result<bool> {
    let mut q = Sql::new("UPDATE public_ips SET state = ");
    q.bind(state)
        .push(", account_id = ")
        .bind(account)
        .push(", domain_id = ")
        .bind(domain)
        .push(", network_id = ")
        .bind(network)
        .push(", source_nat = ")
        .bind(source_nat)
        .push(", allocated = ")
        .bind(now_ms())
        .and(" WHERE state = 'Free' AND id = ", id);
    Ok(q.query().execute(&mut *conn).await?.rows_affected() == 1)
}

pub async fn public_ip_set_state(
    conn: &mut AnyConnection,
    id: Uuid,
    state: model::IpState,
) -> Result<u64> {
    let mut q = Sql::new("UPDATE public_ips SET state = ");
    q.bind(state).and(" WHERE state <> 'Free' AND id = ", id);
    Ok(q.query().execute(&mut *conn).await?.rows_affected())
}

/// Back to Free, with nothing attached.
/// Moves an allocated address to another network (a VPC's address to the tier its first rule
/// is for). Only from `from`: true when it moved.
pub async fn public_ip_move(
    conn: &mut AnyConnection,
    id: Uuid,
    from: NetworkId,
    to: NetworkId,
) -> Result<bool> {
    let mut q = Sql::new("UPDATE public_ips SET network_id = ");
    q.bind(to)
        .and(" WHERE id = ", id)
        .and(" AND network_id = ", from);
    Ok(q.query().execute(&mut *conn).await?.rows_affected() == 1)
}

pub async fn public_ip_release(conn: &mut AnyConnection, id: Uuid) -> Result<u64> {
    let mut q = Sql::new(
        "UPDATE public_ips SET state = 'Free', account_id = NULL, domain_id = NULL, network_id = NULL, \
         source_nat = 0, static_nat_vm = NULL, static_nat_ip = NULL, allocated = NULL WHERE id = ",
    );
    q.bind(id);
    Ok(q.query().execute(&mut *conn).await?.rows_affected())
}

/// Sets (or with `None`, clears) the VM an IP statically maps to. With `Some`, only an IP
/// without static NAT changes (true when it did).
pub async fn public_ip_static_nat(
    conn: &mut AnyConnection,
    id: Uuid,
    target: Option<(Uuid, String)>,
) -> Result<bool> {
    let mut q = Sql::new("UPDATE public_ips SET static_nat_vm = ");
    match target {
        Some((vm, ip)) => {
            q.bind(vm)
                .push(", static_nat_ip = ")
                .bind(ip)
                .and(" WHERE static_nat_vm IS NULL AND id = ", id);
        }
        None => {
            q.push("NULL, static_nat_ip = NULL").and(" WHERE id = ", id);
        }
    }
    Ok(q.query().execute(&mut *conn).await?.rows_affected() == 1)
}

/// How many addresses of a range are not Free.
pub async fn public_ips_in_use(conn: &mut AnyConnection, range: Uuid) -> Result<u64> {
    let mut q = Sql::new("SELECT COUNT(*) FROM public_ips WHERE state <> 'Free' AND range_id = ");
    q.bind(range);
    count(conn, &q).await
}

pub async fn public_ips_delete_range(conn: &mut AnyConnection, range: Uuid) -> Result<u64> {
    let mut q = Sql::new("DELETE FROM public_ips WHERE state = 'Free' AND range_id = ");
    q.bind(range);
    Ok(q.query().execute(&mut *conn).await?.rows_affected())
}

/// (total, allocated) public addresses of a zone.
pub async fn public_ip_capacity(conn: &mut AnyConnection, zone: Uuid) -> Result<(u64, u64)> {
    let mut t = Sql::new("SELECT COUNT(*) FROM public_ips WHERE zone_id = ");
    t.bind(zone);
    let total = count(conn, &t).await?;
    let mut u = Sql::new("SELECT COUNT(*) FROM public_ips WHERE state <> 'Free' AND zone_id = ");
    u.bind(zone);
    Ok((total, count(conn, &u).await?))
}

/// How many addresses of a range outside `lo..=hi` are not Free (updateVlanIpRange keeps them).
pub async fn public_ips_in_use_outside(
    conn: &mut AnyConnection,
    range: Uuid,
    lo: std::net::Ipv4Addr,
    hi: std::net::Ipv4Addr,
) -> Result<u64> {
    let mut q = Sql::new("SELECT COUNT(*) FROM public_ips WHERE state <> 'Free' AND range_id = ");
    q.bind(range)
        .and(" AND (addr_num < ", i64::from(u32::from(lo)))
        .and(" OR addr_num > ", i64::from(u32::from(hi)))
        .push(")");
    count(conn, &q).await
}

/// Drops the Free addresses of a range outside `lo..=hi` (a range shrunk by updateVlanIpRange).
pub async fn public_ips_trim_range(
    conn: &mut AnyConnection,
    range: Uuid,
    lo: std::net::Ipv4Addr,
    hi: std::net::Ipv4Addr,
) -> Result<u64> {
    let mut q = Sql::new("DELETE FROM public_ips WHERE state = 'Free' AND range_id = ");
    q.bind(range)
        .and(" AND (addr_num < ", i64::from(u32::from(lo)))
        .and(" OR addr_num > ", i64::from(u32::from(hi)))
        .push(")");
    Ok(q.query().execute(&mut *conn).await?.rows_affected())
}

/// Whether an address is shown to its owner's users (`fordisplay`).
pub async fn public_ip_set_display(conn: &mut AnyConnection, id: Uuid, show: bool) -> Result<u64> {
    let mut q = Sql::new("UPDATE public_ips SET for_display = ");
    q.bind(show).and(" WHERE id = ", id);
    Ok(q.query().execute(&mut *conn).await?.rows_affected())
}
