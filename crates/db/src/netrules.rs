//! The networking model around guest networks: IP ranges, public IPs, rule-like objects
//! (`net_rules`), their members, virtual routers and the per-host data-plane generations.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use uuid::Uuid;

use model::ids::{AccountId, DomainId};

use crate::identity::{count, get_id, get_opt_id, Listed};
use crate::migrate::now_ms;
use crate::sql::{OwnerScope, Sql};
use crate::{DbError, Result};

fn in_list(q: &mut Sql, col: &str, ids: &[Uuid]) {
    q.push(&format!(" AND {col} IN ("));
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.bind(*id);
    }
    q.push(")");
}

// ---------------------------------------------------------------------------------------
// IP ranges

#[derive(Clone, Debug, PartialEq)]
pub struct VlanRangeRow {
    pub id: Uuid,
    pub zone_id: Uuid,
    pub physnet_id: Option<Uuid>,
    pub pod_id: Option<Uuid>,
    /// Set for the IP range of a shared network.
    pub network_id: Option<Uuid>,
    pub vlan: Option<String>,
    pub gateway: String,
    pub netmask: String,
    pub start_ip: String,
    pub end_ip: String,
    pub for_virtual: bool,
    pub for_system: bool,
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
    pub network_id: Option<Uuid>,
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
    r.account_id AS r_acct, a.name AS a_name, r.domain_id AS r_dom, d.name AS d_name, \
    d.path AS d_path, r.created AS r_created";
const RANGE_FROM: &str = " FROM vlan_ranges r LEFT JOIN accounts a ON a.id = r.account_id \
    LEFT JOIN domains d ON d.id = r.domain_id WHERE r.removed IS NULL";

fn range_row(r: &AnyRow) -> Result<VlanRangeRow> {
    const T: &str = "vlan_ranges";
    let fv: i64 = r.try_get("r_fv")?;
    let fs: i64 = r.try_get("r_fs")?;
    Ok(VlanRangeRow {
        id: get_id(r, "r_id", T)?,
        zone_id: get_id(r, "r_zone", T)?,
        physnet_id: get_opt_id(r, "r_pn", T)?,
        pod_id: get_opt_id(r, "r_pod", T)?,
        network_id: get_opt_id(r, "r_net", T)?,
        vlan: r.try_get("r_vlan")?,
        gateway: r.try_get("r_gw")?,
        netmask: r.try_get("r_mask")?,
        start_ip: r.try_get("r_start")?,
        end_ip: r.try_get("r_end")?,
        for_virtual: fv != 0,
        for_system: fs != 0,
        account_id: get_opt_id(r, "r_acct", T)?,
        account_name: r.try_get("a_name")?,
        domain_id: get_opt_id(r, "r_dom", T)?,
        domain_name: r.try_get("d_name")?,
        domain_path: r.try_get("d_path")?,
        created: r.try_get("r_created")?,
    })
}

pub async fn vlan_range_insert(conn: &mut AnyConnection, v: &VlanRangeRow) -> Result<()> {
    let mut q = Sql::new(
        "INSERT INTO vlan_ranges (id, zone_id, physnet_id, pod_id, network_id, vlan, gateway, \
         netmask, start_ip, end_ip, for_virtual, for_system, account_id, domain_id, created) VALUES (",
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
    pub state: String,
    pub account_id: Option<AccountId>,
    pub account_name: Option<String>,
    pub domain_id: Option<DomainId>,
    pub domain_name: Option<String>,
    pub domain_path: Option<String>,
    pub network_id: Option<Uuid>,
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
    pub network_id: Option<Uuid>,
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
    let snat: i64 = r.try_get("p_snat")?;
    let disp: i64 = r.try_get("p_disp")?;
    Ok(PublicIpRow {
        id: get_id(r, "p_id", T)?,
        zone_id: get_id(r, "p_zone", T)?,
        range_id: get_id(r, "p_range", T)?,
        address: r.try_get("p_addr")?,
        state: r.try_get("p_state")?,
        account_id: get_opt_id(r, "p_acct", T)?,
        account_name: r.try_get("a_name")?,
        domain_id: get_opt_id(r, "p_dom", T)?,
        domain_name: r.try_get("d_name")?,
        domain_path: r.try_get("d_path")?,
        network_id: get_opt_id(r, "p_net", T)?,
        source_nat: snat != 0,
        static_nat_vm: get_opt_id(r, "p_svm", T)?,
        static_nat_ip: r.try_get("p_sip")?,
        allocated: r.try_get("p_alloc")?,
        for_display: disp != 0,
        vlan: r.try_get("r_vlan")?,
        gateway: r.try_get("r_gw")?,
        netmask: r.try_get("r_mask")?,
        physnet_id: get_opt_id(r, "r_pn", T)?,
    })
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
/// to it first, then undedicated ones; lowest address first.
pub async fn public_ip_free(
    conn: &mut AnyConnection,
    zone: Uuid,
    account: AccountId,
    n: i64,
) -> Result<Vec<(Uuid, String)>> {
    let mut q = Sql::new(
        "SELECT p.id, p.address FROM public_ips p JOIN vlan_ranges r ON r.id = p.range_id \
         WHERE r.removed IS NULL AND r.network_id IS NULL AND r.for_system = 0 AND p.state = 'Free' AND p.zone_id = ",
    );
    q.bind(zone)
        .push(" AND (r.account_id IS NULL OR r.account_id = ")
        .bind(account)
        .push(") ORDER BY CASE WHEN r.account_id IS NULL THEN 1 ELSE 0 END, p.addr_num LIMIT ")
        .bind(n);
    let rows = q.query().fetch_all(&mut *conn).await?;
    rows.iter()
        .map(|r| Ok((get_id(r, "id", "public_ips")?, r.try_get("address")?)))
        .collect()
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
    state: &str,
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

pub async fn public_ip_set_state(conn: &mut AnyConnection, id: Uuid, state: &str) -> Result<u64> {
    let mut q = Sql::new("UPDATE public_ips SET state = ");
    q.bind(state).and(" WHERE state <> 'Free' AND id = ", id);
    Ok(q.query().execute(&mut *conn).await?.rows_affected())
}

/// Back to Free, with nothing attached.
pub async fn public_ip_release(conn: &mut AnyConnection, id: Uuid) -> Result<u64> {
    let mut q = Sql::new(
        "UPDATE public_ips SET state = 'Free', account_id = NULL, domain_id = NULL, network_id = NULL, \
         source_nat = 0, static_nat_vm = NULL, static_nat_ip = NULL, allocated = NULL WHERE id = ",
    );
    q.bind(id);
    Ok(q.query().execute(&mut *conn).await?.rows_affected())
}

pub async fn public_ip_set_network(
    conn: &mut AnyConnection,
    id: Uuid,
    network: Option<Uuid>,
) -> Result<u64> {
    let mut q = Sql::new("UPDATE public_ips SET network_id = ");
    q.bind(network).and(" WHERE id = ", id);
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

// ---------------------------------------------------------------------------------------
// Rules

/// A rule-like object. `kind` is one of `securitygroup`, `ingress`, `egress` (security group
/// rules, parent = the group), `firewall` (ip), `egressfw` (network), `portforward` (ip),
/// `ipforward` (ip), `lb` (ip), `stickiness` / `healthcheck` (parent = the lb), `route`
/// (network), `vpn` (ip), `vpnuser` (account).
#[derive(Clone, Debug, PartialEq)]
pub struct RuleRow {
    pub id: Uuid,
    pub kind: String,
    pub name: Option<String>,
    pub state: String,
    pub account_id: Option<AccountId>,
    pub account_name: Option<String>,
    pub domain_id: Option<DomainId>,
    pub domain_name: Option<String>,
    pub domain_path: Option<String>,
    pub network_id: Option<Uuid>,
    pub ip_id: Option<Uuid>,
    pub parent_id: Option<Uuid>,
    pub spec: serde_json::Value,
    pub created: i64,
}

#[derive(Clone, Debug, Default)]
pub struct RuleFilter {
    pub kinds: Vec<&'static str>,
    pub scope: Option<OwnerScope>,
    pub ids: Vec<Uuid>,
    pub name: Option<String>,
    pub network_ids: Vec<Uuid>,
    pub ip_ids: Vec<Uuid>,
    pub parent_ids: Vec<Uuid>,
    pub offset: u64,
    pub limit: Option<u64>,
}

impl RuleFilter {
    pub fn kind(kind: &'static str) -> Self {
        RuleFilter {
            kinds: vec![kind],
            ..Default::default()
        }
    }
}

const RULE_COLS: &str = "x.id AS x_id, x.kind AS x_kind, x.name AS x_name, x.state AS x_state, \
    x.account_id AS x_acct, a.name AS a_name, x.domain_id AS x_dom, d.name AS d_name, \
    d.path AS d_path, x.network_id AS x_net, x.ip_id AS x_ip, x.parent_id AS x_parent, \
    x.spec AS x_spec, x.created AS x_created";
const RULE_FROM: &str = " FROM net_rules x LEFT JOIN accounts a ON a.id = x.account_id \
    LEFT JOIN domains d ON d.id = x.domain_id WHERE x.removed IS NULL";

fn rule_row(r: &AnyRow) -> Result<RuleRow> {
    const T: &str = "net_rules";
    let spec: String = r.try_get("x_spec")?;
    Ok(RuleRow {
        id: get_id(r, "x_id", T)?,
        kind: r.try_get("x_kind")?,
        name: r.try_get("x_name")?,
        state: r.try_get("x_state")?,
        account_id: get_opt_id(r, "x_acct", T)?,
        account_name: r.try_get("a_name")?,
        domain_id: get_opt_id(r, "x_dom", T)?,
        domain_name: r.try_get("d_name")?,
        domain_path: r.try_get("d_path")?,
        network_id: get_opt_id(r, "x_net", T)?,
        ip_id: get_opt_id(r, "x_ip", T)?,
        parent_id: get_opt_id(r, "x_parent", T)?,
        spec: serde_json::from_str(&spec).map_err(|_| DbError::Corrupt {
            table: T,
            column: "spec",
            value: spec.clone(),
        })?,
        created: r.try_get("x_created")?,
    })
}

#[derive(Clone, Debug)]
pub struct NewRule {
    pub id: Uuid,
    pub kind: &'static str,
    pub name: Option<String>,
    pub state: &'static str,
    pub account_id: Option<AccountId>,
    pub domain_id: Option<DomainId>,
    pub network_id: Option<Uuid>,
    pub ip_id: Option<Uuid>,
    pub parent_id: Option<Uuid>,
    pub spec: serde_json::Value,
}

/// Adds a rule; a security group or VPN user whose name the account already uses is a
/// [`DbError::Conflict`].
pub async fn rule_insert(conn: &mut AnyConnection, n: &NewRule) -> Result<()> {
    let mut q = Sql::new(
        "INSERT INTO net_rules (id, kind, name, state, account_id, domain_id, network_id, ip_id, \
         parent_id, spec, created) VALUES (",
    );
    q.bind(n.id)
        .push(", ")
        .bind(n.kind)
        .push(", ")
        .bind(n.name.clone())
        .push(", ")
        .bind(n.state)
        .push(", ")
        .bind(n.account_id)
        .push(", ")
        .bind(n.domain_id)
        .push(", ")
        .bind(n.network_id)
        .push(", ")
        .bind(n.ip_id)
        .push(", ")
        .bind(n.parent_id)
        .push(", ")
        .bind(n.spec.to_string())
        .push(", ")
        .bind(now_ms())
        .push(")");
    q.query()
        .execute(&mut *conn)
        .await
        .map_err(DbError::classify)?;
    Ok(())
}

pub async fn rule_get(conn: &mut AnyConnection, id: Uuid) -> Result<Option<RuleRow>> {
    let mut q = Sql::new(&format!("SELECT {RULE_COLS}{RULE_FROM}"));
    q.and(" AND x.id = ", id);
    q.one(conn, rule_row).await
}

fn rule_where(q: &mut Sql, f: &RuleFilter) {
    if !f.kinds.is_empty() {
        q.push(" AND x.kind IN (");
        for (i, k) in f.kinds.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.bind(*k);
        }
        q.push(")");
    }
    if let Some(s) = &f.scope {
        s.push(q, "x.account_id", "d");
    }
    if !f.ids.is_empty() {
        in_list(q, "x.id", &f.ids);
    }
    if let Some(n) = &f.name {
        q.and(" AND lower(x.name) = ", n.to_lowercase());
    }
    if !f.network_ids.is_empty() {
        in_list(q, "x.network_id", &f.network_ids);
    }
    if !f.ip_ids.is_empty() {
        in_list(q, "x.ip_id", &f.ip_ids);
    }
    if !f.parent_ids.is_empty() {
        in_list(q, "x.parent_id", &f.parent_ids);
    }
}

pub async fn rule_list(conn: &mut AnyConnection, f: &RuleFilter) -> Result<Listed<RuleRow>> {
    let mut c = Sql::new(&format!("SELECT COUNT(*){RULE_FROM}"));
    rule_where(&mut c, f);
    let total = count(conn, &c).await?;
    let mut q = Sql::new(&format!("SELECT {RULE_COLS}{RULE_FROM}"));
    rule_where(&mut q, f);
    q.push(" ORDER BY x.created, x.id").page(f.offset, f.limit);
    Ok((q.all(conn, rule_row).await?, total))
}

/// Replaces a rule's state, name and spec.
pub async fn rule_update(
    conn: &mut AnyConnection,
    id: Uuid,
    state: &str,
    name: Option<&str>,
    spec: &serde_json::Value,
) -> Result<u64> {
    let mut q = Sql::new("UPDATE net_rules SET state = ");
    q.bind(state)
        .push(", name = ")
        .bind(name)
        .push(", spec = ")
        .bind(spec.to_string())
        .and(" WHERE removed IS NULL AND id = ", id);
    Ok(q.query()
        .execute(&mut *conn)
        .await
        .map_err(DbError::classify)?
        .rows_affected())
}

/// Removes rules: by id, or every rule under a parent / on an IP / of a network (and their
/// members).
pub async fn rule_remove(conn: &mut AnyConnection, col: RuleOwner, id: Uuid) -> Result<u64> {
    let c = match col {
        RuleOwner::Id => "id",
        RuleOwner::Parent => "parent_id",
        RuleOwner::Ip => "ip_id",
        RuleOwner::Network => "network_id",
    };
    let mut m = Sql::new(&format!(
        "DELETE FROM rule_members WHERE owner_id IN (SELECT id FROM net_rules WHERE {c} = "
    ));
    m.bind(id).push(")");
    m.query().execute(&mut *conn).await?;
    let mut q = Sql::new("UPDATE net_rules SET removed = ");
    q.bind(now_ms())
        .and(&format!(" WHERE removed IS NULL AND {c} = "), id);
    Ok(q.query().execute(&mut *conn).await?.rows_affected())
}

#[derive(Clone, Copy, Debug)]
pub enum RuleOwner {
    Id,
    Parent,
    Ip,
    Network,
}

/// A VM in a security group or behind a load balancer.
#[derive(Clone, Debug, PartialEq)]
pub struct MemberRow {
    pub owner_id: Uuid,
    pub member_id: Uuid,
    pub ip: Option<String>,
}

fn member_row(r: &AnyRow) -> Result<MemberRow> {
    const T: &str = "rule_members";
    Ok(MemberRow {
        owner_id: get_id(r, "owner_id", T)?,
        member_id: get_id(r, "member_id", T)?,
        ip: r.try_get("ip")?,
    })
}

/// Adds a member (idempotent: an existing pair is kept).
pub async fn member_add(conn: &mut AnyConnection, m: &MemberRow) -> Result<()> {
    let mut q = Sql::new("INSERT INTO rule_members (owner_id, member_id, ip, created) VALUES (");
    q.bind(m.owner_id)
        .push(", ")
        .bind(m.member_id)
        .push(", ")
        .bind(m.ip.clone())
        .push(", ")
        .bind(now_ms())
        .push(") ON CONFLICT (owner_id, member_id) DO NOTHING");
    q.query().execute(&mut *conn).await?;
    Ok(())
}

pub async fn member_remove(conn: &mut AnyConnection, owner: Uuid, member: Uuid) -> Result<u64> {
    let mut q = Sql::new("DELETE FROM rule_members WHERE owner_id = ");
    q.bind(owner).and(" AND member_id = ", member);
    Ok(q.query().execute(&mut *conn).await?.rows_affected())
}

/// Removes a VM from every group and load balancer (it is expunged).
pub async fn member_remove_everywhere(conn: &mut AnyConnection, member: Uuid) -> Result<u64> {
    let mut q = Sql::new("DELETE FROM rule_members WHERE member_id = ");
    q.bind(member);
    Ok(q.query().execute(&mut *conn).await?.rows_affected())
}

/// The members of these owners.
pub async fn members_of(conn: &mut AnyConnection, owners: &[Uuid]) -> Result<Vec<MemberRow>> {
    if owners.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for chunk in owners.chunks(500) {
        let mut q = Sql::new("SELECT owner_id, member_id, ip FROM rule_members WHERE 1 = 1");
        in_list(&mut q, "owner_id", chunk);
        q.push(" ORDER BY owner_id, created, member_id");
        out.extend(q.all(conn, member_row).await?);
    }
    Ok(out)
}

/// What these members belong to.
pub async fn memberships(conn: &mut AnyConnection, members: &[Uuid]) -> Result<Vec<MemberRow>> {
    if members.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for chunk in members.chunks(500) {
        let mut q = Sql::new("SELECT owner_id, member_id, ip FROM rule_members WHERE 1 = 1");
        in_list(&mut q, "member_id", chunk);
        q.push(" ORDER BY member_id, created, owner_id");
        out.extend(q.all(conn, member_row).await?);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Routers

#[derive(Clone, Debug, PartialEq)]
pub struct RouterRow {
    pub id: Uuid,
    pub name: String,
    pub network_id: Uuid,
    pub zone_id: Uuid,
    pub account_id: Option<AccountId>,
    pub account_name: Option<String>,
    pub domain_id: Option<DomainId>,
    pub domain_name: Option<String>,
    pub domain_path: Option<String>,
    pub host_id: Option<Uuid>,
    pub state: String,
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
    pub network_ids: Vec<Uuid>,
    pub host_ids: Vec<Uuid>,
    pub zone_id: Option<Uuid>,
    pub state: Option<String>,
    pub name: Option<String>,
    pub offset: u64,
    pub limit: Option<u64>,
}

const ROUTER_COLS: &str =
    "v.id AS v_id, v.name AS v_name, v.network_id AS v_net, v.zone_id AS v_zone, \
    v.account_id AS v_acct, a.name AS a_name, v.domain_id AS v_dom, d.name AS d_name, \
    d.path AS d_path, v.host_id AS v_host, v.state AS v_state, v.guest_ip AS v_gip, \
    v.guest_mac AS v_gmac, v.public_ip_id AS v_pip, v.public_mac AS v_pmac, \
    v.link_local_ip AS v_ll, v.created AS v_created";
const ROUTER_FROM: &str = " FROM routers v LEFT JOIN accounts a ON a.id = v.account_id \
    LEFT JOIN domains d ON d.id = v.domain_id WHERE v.removed IS NULL";

fn router_row(r: &AnyRow) -> Result<RouterRow> {
    const T: &str = "routers";
    Ok(RouterRow {
        id: get_id(r, "v_id", T)?,
        name: r.try_get("v_name")?,
        network_id: get_id(r, "v_net", T)?,
        zone_id: get_id(r, "v_zone", T)?,
        account_id: get_opt_id(r, "v_acct", T)?,
        account_name: r.try_get("a_name")?,
        domain_id: get_opt_id(r, "v_dom", T)?,
        domain_name: r.try_get("d_name")?,
        domain_path: r.try_get("d_path")?,
        host_id: get_opt_id(r, "v_host", T)?,
        state: r.try_get("v_state")?,
        guest_ip: r.try_get("v_gip")?,
        guest_mac: r.try_get("v_gmac")?,
        public_ip_id: get_opt_id(r, "v_pip", T)?,
        public_mac: r.try_get("v_pmac")?,
        link_local_ip: r.try_get("v_ll")?,
        created: r.try_get("v_created")?,
    })
}

/// Adds a network's router; a second live router for one network is a
/// [`DbError::Conflict`].
pub async fn router_insert(conn: &mut AnyConnection, v: &RouterRow) -> Result<()> {
    let mut q = Sql::new(
        "INSERT INTO routers (id, name, network_id, zone_id, account_id, domain_id, host_id, state, \
         guest_ip, guest_mac, public_ip_id, public_mac, link_local_ip, created, updated) VALUES (",
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
        .bind(v.state.clone())
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
    state: &str,
    host: Option<Uuid>,
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
    pub host_id: Uuid,
    pub generation: i64,
    pub digest: String,
    pub acked: i64,
}

pub async fn netgen_get(conn: &mut AnyConnection, host: Uuid) -> Result<Option<NetGeneration>> {
    let mut q =
        Sql::new("SELECT host_id, generation, digest, acked FROM net_generations WHERE host_id = ");
    q.bind(host);
    q.one(conn, |r| {
        Ok(NetGeneration {
            host_id: get_id(r, "host_id", "net_generations")?,
            generation: r.try_get("generation")?,
            digest: r.try_get("digest")?,
            acked: r.try_get("acked")?,
        })
    })
    .await
}

/// The generations of these hosts (hosts never pushed to are absent).
pub async fn netgen_list(conn: &mut AnyConnection, hosts: &[Uuid]) -> Result<Vec<NetGeneration>> {
    let mut out = Vec::new();
    for chunk in hosts.chunks(500) {
        let mut q =
            Sql::new("SELECT host_id, generation, digest, acked FROM net_generations WHERE 1 = 1");
        in_list(&mut q, "host_id", chunk);
        out.extend(
            q.all(conn, |r| {
                Ok(NetGeneration {
                    host_id: get_id(r, "host_id", "net_generations")?,
                    generation: r.try_get("generation")?,
                    digest: r.try_get("digest")?,
                    acked: r.try_get("acked")?,
                })
            })
            .await?,
        );
    }
    Ok(out)
}

/// Records a new generation for a host (its digest), keeping the acknowledged one.
pub async fn netgen_put(
    conn: &mut AnyConnection,
    host: Uuid,
    generation: i64,
    digest: &str,
) -> Result<()> {
    let mut q = Sql::new(
        "INSERT INTO net_generations (host_id, generation, digest, acked, updated) VALUES (",
    );
    q.bind(host)
        .push(", ")
        .bind(generation)
        .push(", ")
        .bind(digest)
        .push(", 0, ")
        .bind(now_ms())
        .push(") ON CONFLICT (host_id) DO UPDATE SET generation = excluded.generation, digest = excluded.digest, updated = excluded.updated");
    q.query().execute(&mut *conn).await?;
    Ok(())
}

/// Records a round's outcome for many hosts in one statement per 200 hosts: each host's
/// generation, digest and acknowledged generation (the acknowledgement never goes back).
pub async fn netgen_record(
    conn: &mut AnyConnection,
    rows: &[(Uuid, i64, String, i64)],
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

/// The agent applied `generation` (an older acknowledgement never overwrites a newer one).
pub async fn netgen_ack(conn: &mut AnyConnection, host: Uuid, generation: i64) -> Result<u64> {
    let mut q = Sql::new("UPDATE net_generations SET acked = ");
    q.bind(generation)
        .and(" WHERE host_id = ", host)
        .and(" AND acked < ", generation);
    Ok(q.query().execute(&mut *conn).await?.rows_affected())
}

// ---------------------------------------------------------------------------------------
// Network lifecycle helpers

/// The VNIs live networks of a zone hold.
pub async fn network_vnis(conn: &mut AnyConnection, zone: Uuid) -> Result<Vec<i64>> {
    let mut q = Sql::new(
        "SELECT vni FROM networks WHERE removed IS NULL AND vni IS NOT NULL AND zone_id = ",
    );
    q.bind(zone);
    let rows = q.query().fetch_all(&mut *conn).await?;
    rows.iter().map(|r| Ok(r.try_get::<i64, _>(0)?)).collect()
}

/// Sets a network's state (when it is in `from`, if given) and VNI. True when it changed.
pub async fn network_transition(
    conn: &mut AnyConnection,
    id: Uuid,
    from: Option<&str>,
    to: &str,
    vni: Option<Option<i64>>,
) -> Result<bool> {
    let mut q = Sql::new("UPDATE networks SET state = ");
    q.bind(to);
    if let Some(v) = vni {
        q.push(", vni = ").bind(v);
    }
    q.and(" WHERE removed IS NULL AND id = ", id);
    if let Some(f) = from {
        q.and(" AND state = ", f);
    }
    Ok(q.query()
        .execute(&mut *conn)
        .await
        .map_err(DbError::classify)?
        .rows_affected()
        == 1)
}

/// Gives a network without one its VNI. False when it already had one (a racing
/// implement set it first); a VNI another live network of the zone holds is a
/// [`DbError::Conflict`].
pub async fn network_set_vni(conn: &mut AnyConnection, id: Uuid, vni: i64) -> Result<bool> {
    let mut q = Sql::new("UPDATE networks SET vni = ");
    q.bind(vni)
        .and(" WHERE removed IS NULL AND vni IS NULL AND id = ", id);
    Ok(q.query()
        .execute(&mut *conn)
        .await
        .map_err(DbError::classify)?
        .rows_affected()
        == 1)
}

/// Updates what updateNetwork may change.
pub async fn network_update(conn: &mut AnyConnection, n: &crate::NetworkRow) -> Result<u64> {
    let mut q = Sql::new("UPDATE networks SET name = ");
    q.bind(n.name.clone())
        .push(", display_text = ")
        .bind(n.display_text.clone())
        .push(", network_domain = ")
        .bind(n.network_domain.clone())
        .push(", network_offering_id = ")
        .bind(n.network_offering_id)
        .push(", attrs = ")
        .bind(n.attrs.to_string())
        .and(" WHERE removed IS NULL AND id = ", n.id);
    Ok(q.query()
        .execute(&mut *conn)
        .await
        .map_err(DbError::classify)?
        .rows_affected())
}

pub async fn network_remove(conn: &mut AnyConnection, id: Uuid) -> Result<u64> {
    let mut q = Sql::new("UPDATE networks SET state = 'Destroy', vni = NULL, removed = ");
    q.bind(now_ms()).and(" WHERE removed IS NULL AND id = ", id);
    Ok(q.query().execute(&mut *conn).await?.rows_affected())
}

/// Live NICs on a network, with their VM's state and host (for IPAM, implement and GC).
#[derive(Clone, Debug, PartialEq)]
pub struct NetNic {
    pub nic_id: Uuid,
    pub vm_id: Uuid,
    pub vm_name: String,
    pub vm_state: String,
    pub host_id: Option<Uuid>,
    pub network_id: Uuid,
    pub ip4: Option<String>,
    pub mac: String,
    pub is_default: bool,
    pub device_id: i64,
}

fn net_nic_row(r: &AnyRow) -> Result<NetNic> {
    const T: &str = "nics";
    let d: i64 = r.try_get("c_def")?;
    Ok(NetNic {
        nic_id: get_id(r, "c_id", T)?,
        vm_id: get_id(r, "c_vm", T)?,
        vm_name: r.try_get("m_name")?,
        vm_state: r.try_get("m_state")?,
        host_id: get_opt_id(r, "m_host", T)?,
        network_id: get_id(r, "c_net", T)?,
        ip4: r.try_get("c_ip")?,
        mac: r.try_get("c_mac")?,
        is_default: d != 0,
        device_id: r.try_get("c_dev")?,
    })
}

const NET_NIC_SQL: &str = "SELECT c.id AS c_id, c.vm_id AS c_vm, m.name AS m_name, m.state AS m_state, \
    m.host_id AS m_host, c.network_id AS c_net, c.ip4 AS c_ip, c.mac AS c_mac, c.is_default AS c_def, \
    c.device_id AS c_dev FROM nics c JOIN vms m ON m.id = c.vm_id WHERE c.removed IS NULL";

pub async fn net_nics(conn: &mut AnyConnection, networks: &[Uuid]) -> Result<Vec<NetNic>> {
    if networks.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = Sql::new(NET_NIC_SQL);
    in_list(&mut q, "c.network_id", networks);
    q.push(" ORDER BY c.network_id, c.ip4, c.id");
    q.all(conn, net_nic_row).await
}

/// The live NICs of the VMs on these hosts (running there or arriving by migration).
pub async fn net_nics_on_hosts(conn: &mut AnyConnection, hosts: &[Uuid]) -> Result<Vec<NetNic>> {
    if hosts.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = Sql::new(NET_NIC_SQL);
    in_list(&mut q, "m.host_id", hosts);
    q.push(" AND m.removed IS NULL ORDER BY c.network_id, c.ip4, c.id");
    q.all(conn, net_nic_row).await
}

pub async fn net_nics_of_vms(conn: &mut AnyConnection, vms: &[Uuid]) -> Result<Vec<NetNic>> {
    if vms.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = Sql::new(NET_NIC_SQL);
    in_list(&mut q, "c.vm_id", vms);
    q.push(" ORDER BY c.vm_id, c.device_id");
    q.all(conn, net_nic_row).await
}

/// The distinct (network, host) pairs where VMs in one of `states` have NICs on these
/// networks, leaving out one VM's NICs.
pub async fn network_vm_hosts(
    conn: &mut AnyConnection,
    nets: &[Uuid],
    states: &[&str],
    except_vm: Option<Uuid>,
) -> Result<Vec<(Uuid, Uuid)>> {
    if nets.is_empty() || states.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = Sql::new(
        "SELECT DISTINCT c.network_id AS c_net, m.host_id AS m_host FROM nics c JOIN vms m ON m.id = c.vm_id \
         WHERE c.removed IS NULL AND m.host_id IS NOT NULL",
    );
    in_list(&mut q, "c.network_id", nets);
    q.push(" AND m.state IN (");
    for (i, st) in states.iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.bind(*st);
    }
    q.push(")");
    if let Some(v) = except_vm {
        q.and(" AND c.vm_id <> ", v);
    }
    q.all(conn, |r| {
        Ok((get_id(r, "c_net", "nics")?, get_id(r, "m_host", "vms")?))
    })
    .await
}

/// Removes one NIC (removeNicFromVirtualMachine).
pub async fn nic_remove(conn: &mut AnyConnection, nic: Uuid) -> Result<u64> {
    let mut q = Sql::new("UPDATE nics SET removed = ");
    q.bind(now_ms())
        .and(" WHERE removed IS NULL AND id = ", nic);
    Ok(q.query().execute(&mut *conn).await?.rows_affected())
}

/// Makes one NIC of a VM its default.
pub async fn nic_set_default(conn: &mut AnyConnection, vm: Uuid, nic: Uuid) -> Result<()> {
    let mut q = Sql::new("UPDATE nics SET is_default = CASE WHEN id = ");
    q.bind(nic)
        .push(" THEN 1 ELSE 0 END")
        .and(" WHERE removed IS NULL AND vm_id = ", vm);
    q.query().execute(&mut *conn).await?;
    Ok(())
}
