//! Guest networks and NICs.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use uuid::Uuid;

use model::ids::{AccountId, DomainId, HostId, NetworkId, VmId};

use crate::identity::{count, Listed};
use crate::mapper::{map_row, parsed};
use crate::migrate::now_ms;
use crate::sql::{in_list, OwnerScope, Sql};
use crate::{DbError, Result};

#[derive(Clone, Debug, PartialEq)]
pub struct NetworkRow {
    pub id: NetworkId,
    pub name: String,
    pub display_text: String,
    pub zone_id: Uuid,
    pub account_id: Option<AccountId>,
    pub account_name: Option<String>,
    pub domain_id: Option<DomainId>,
    pub domain_name: Option<String>,
    pub domain_path: Option<String>,
    /// `Isolated`, `Shared` or `L2`.
    pub guest_type: String,
    pub traffic_type: String,
    pub state: model::NetworkState,
    pub cidr: Option<String>,
    pub gateway: Option<String>,
    pub netmask: Option<String>,
    pub network_domain: Option<String>,
    pub vni: Option<i64>,
    pub network_offering_id: Option<Uuid>,
    /// The VPC this network is a tier of.
    pub vpc_id: Option<model::VpcId>,
    /// A tier's network ACL list (a `net_rules` row of kind `acllist`).
    pub acl_id: Option<Uuid>,
    pub attrs: serde_json::Value,
    pub created: i64,
}

#[derive(Clone, Debug, Default)]
pub struct NetworkFilter {
    pub scope: Option<OwnerScope>,
    pub ids: Vec<NetworkId>,
    pub zone_id: Option<Uuid>,
    pub guest_type: Option<String>,
    pub keyword: Option<String>,
    /// Tiers of these VPCs only.
    pub vpc_ids: Vec<model::VpcId>,
    /// Tiers guarded by these ACL lists only.
    pub acl_ids: Vec<Uuid>,
    /// `Some(false)`: networks outside any VPC; `Some(true)`: tiers only.
    pub in_vpc: Option<bool>,
    pub offset: u64,
    pub limit: Option<u64>,
}

const COLS: &str =
    "n.id AS n_id, n.name AS n_name, n.display_text AS n_text, n.zone_id AS n_zone, \
     n.account_id AS n_acct, a.name AS a_name, n.domain_id AS n_dom, d.name AS d_name, \
     d.path AS d_path, n.guest_type AS n_gt, n.traffic_type AS n_tt, n.state AS n_state, \
     n.cidr AS n_cidr, n.gateway AS n_gw, n.netmask AS n_mask, n.network_domain AS n_nd, \
     n.vni AS n_vni, n.network_offering_id AS n_no, n.vpc_id AS n_vpc, n.acl_id AS n_acl, n.attrs AS n_attrs, n.created AS n_created";
const FROM: &str = " FROM networks n LEFT JOIN accounts a ON a.id = n.account_id \
     LEFT JOIN domains d ON d.id = n.domain_id WHERE n.removed IS NULL";

fn row(r: &AnyRow) -> Result<NetworkRow> {
    const T: &str = "networks";
    map_row!(
        r,
        T,
        NetworkRow {
            id: "n_id",
            name: "n_name",
            display_text: "n_text",
            zone_id: "n_zone",
            account_id: "n_acct",
            account_name: "a_name",
            domain_id: "n_dom",
            domain_name: "d_name",
            domain_path: "d_path",
            guest_type: "n_gt",
            traffic_type: "n_tt",
            state: "n_state",
            cidr: "n_cidr",
            gateway: "n_gw",
            netmask: "n_mask",
            network_domain: "n_nd",
            vni: "n_vni",
            network_offering_id: "n_no",
            vpc_id: "n_vpc",
            acl_id: "n_acl",
            attrs: "n_attrs",
            created: "n_created",
        }
    )
}

pub async fn network_insert(conn: &mut AnyConnection, n: &NetworkRow) -> Result<()> {
    let mut q = Sql::new(
        "INSERT INTO networks (id, name, display_text, zone_id, account_id, domain_id, guest_type, \
         traffic_type, state, cidr, gateway, netmask, network_domain, vni, network_offering_id, \
         vpc_id, acl_id, attrs, created) VALUES (",
    );
    q.bind(n.id.to_string())
        .push(", ")
        .bind(n.name.clone())
        .push(", ")
        .bind(n.display_text.clone())
        .push(", ")
        .bind(n.zone_id.to_string())
        .push(", ")
        .bind(n.account_id)
        .push(", ")
        .bind(n.domain_id)
        .push(", ")
        .bind(n.guest_type.clone())
        .push(", ")
        .bind(n.traffic_type.clone())
        .push(", ")
        .bind(n.state)
        .push(", ")
        .bind(n.cidr.clone())
        .push(", ")
        .bind(n.gateway.clone())
        .push(", ")
        .bind(n.netmask.clone())
        .push(", ")
        .bind(n.network_domain.clone())
        .push(", ")
        .bind(n.vni)
        .push(", ")
        .bind(n.network_offering_id.map(|u| u.to_string()))
        .push(", ")
        .bind(n.vpc_id)
        .push(", ")
        .bind(n.acl_id)
        .push(", ")
        .bind(n.attrs.to_string())
        .push(", ")
        .bind(now_ms())
        .push(")");
    q.query()
        .execute(&mut *conn)
        .await
        .map_err(DbError::classify)?;
    Ok(())
}

pub async fn network_get(conn: &mut AnyConnection, id: NetworkId) -> Result<Option<NetworkRow>> {
    let mut q = Sql::new(&format!("SELECT {COLS}{FROM}"));
    q.and(" AND n.id = ", id.to_string());
    q.one(conn, row).await
}

fn net_where(q: &mut Sql, f: &NetworkFilter) {
    if let Some(s) = &f.scope {
        s.push(q, "n.account_id", "d");
    }
    if !f.ids.is_empty() {
        in_list(q, "n.id", &f.ids);
    }
    if let Some(z) = f.zone_id {
        q.and(" AND n.zone_id = ", z.to_string());
    }
    if let Some(t) = &f.guest_type {
        q.and(" AND lower(n.guest_type) = ", t.to_lowercase());
    }
    if let Some(k) = &f.keyword {
        q.and(
            " AND lower(n.name) LIKE ",
            format!("%{}%", k.to_lowercase()),
        );
    }
    if !f.vpc_ids.is_empty() {
        in_list(q, "n.vpc_id", &f.vpc_ids);
    }
    if !f.acl_ids.is_empty() {
        in_list(q, "n.acl_id", &f.acl_ids);
    }
    match f.in_vpc {
        Some(true) => {
            q.push(" AND n.vpc_id IS NOT NULL");
        }
        Some(false) => {
            q.push(" AND n.vpc_id IS NULL");
        }
        None => {}
    }
}

pub async fn network_list(
    conn: &mut AnyConnection,
    f: &NetworkFilter,
) -> Result<Listed<NetworkRow>> {
    let mut c = Sql::new(&format!("SELECT COUNT(*){FROM}"));
    net_where(&mut c, f);
    let total = count(conn, &c).await?;
    let mut q = Sql::new(&format!("SELECT {COLS}{FROM}"));
    net_where(&mut q, f);
    q.push(" ORDER BY n.created, n.id").page(f.offset, f.limit);
    let rows = q.query().fetch_all(&mut *conn).await?;
    Ok((rows.iter().map(row).collect::<Result<_>>()?, total))
}

/// A NIC with what responses show of its network.
#[derive(Clone, Debug, PartialEq)]
pub struct NicRow {
    pub id: Uuid,
    pub vm_id: VmId,
    pub network_id: NetworkId,
    pub network_name: String,
    pub guest_type: String,
    pub ip4: Option<String>,
    pub gateway: Option<String>,
    pub netmask: Option<String>,
    pub vni: Option<i64>,
    pub mac: String,
    pub device_id: i64,
    pub is_default: bool,
    /// Its secondary addresses (addIpToNic): (id, address).
    pub secondary: Vec<(Uuid, String)>,
}

#[derive(Clone, Debug)]
pub struct NewNic {
    pub id: Uuid,
    pub vm_id: VmId,
    pub network_id: NetworkId,
    pub ip4: Option<String>,
    pub mac: String,
    pub device_id: i64,
    pub is_default: bool,
}

/// Adds a NIC; an IP or MAC already taken is a [`DbError::Conflict`].
pub async fn nic_insert(conn: &mut AnyConnection, n: &NewNic) -> Result<()> {
    let mut q = Sql::new(
        "INSERT INTO nics (id, vm_id, network_id, ip4, mac, device_id, is_default, created) VALUES (",
    );
    q.bind(n.id.to_string())
        .push(", ")
        .bind(n.vm_id.to_string())
        .push(", ")
        .bind(n.network_id.to_string())
        .push(", ")
        .bind(n.ip4.clone())
        .push(", ")
        .bind(n.mac.clone())
        .push(", ")
        .bind(n.device_id)
        .push(", ")
        .bind(n.is_default)
        .push(", ")
        .bind(now_ms())
        .push(")");
    q.query()
        .execute(&mut *conn)
        .await
        .map_err(DbError::classify)?;
    Ok(())
}

/// The IPv4 addresses live NICs hold on a network.
pub async fn nic_ips(conn: &mut AnyConnection, network: NetworkId) -> Result<Vec<String>> {
    let mut q = Sql::new(
        "SELECT ip4 FROM nics WHERE removed IS NULL AND ip4 IS NOT NULL AND network_id = ",
    );
    q.bind(network.to_string());
    let rows = q.query().fetch_all(&mut *conn).await?;
    rows.iter()
        .map(|r| Ok(r.try_get::<String, _>(0)?))
        .collect()
}

/// The live NICs of these VMs, by VM then device.
pub async fn nics_for_vms(conn: &mut AnyConnection, vms: &[VmId]) -> Result<Vec<NicRow>> {
    if vms.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = Sql::new(
        "SELECT c.id AS c_id, c.vm_id AS c_vm, c.network_id AS c_net, n.name AS n_name, \
         n.guest_type AS n_gt, c.ip4 AS c_ip, n.gateway AS n_gw, n.netmask AS n_mask, \
         n.vni AS n_vni, c.mac AS c_mac, c.device_id AS c_dev, c.is_default AS c_def \
         FROM nics c JOIN networks n ON n.id = c.network_id WHERE c.removed IS NULL",
    );
    in_list(&mut q, "c.vm_id", vms);
    q.push(" ORDER BY c.vm_id, c.device_id");
    let rows = q.query().fetch_all(&mut *conn).await?;
    let mut nics = rows
        .iter()
        .map(|r| {
            map_row!(
                r,
                "nics",
                NicRow {
                    id: "c_id",
                    vm_id: "c_vm",
                    network_id: "c_net",
                    network_name: "n_name",
                    guest_type: "n_gt",
                    ip4: "c_ip",
                    gateway: "n_gw",
                    netmask: "n_mask",
                    vni: "n_vni",
                    mac: "c_mac",
                    device_id: "c_dev",
                    is_default: "c_def",
                    secondary: { Vec::new() },
                }
            )
        })
        .collect::<Result<Vec<NicRow>>>()?;
    let ids: Vec<Uuid> = nics.iter().map(|n| n.id).collect();
    for (id, nic, _, ip) in nic_secondaries(conn, &ids).await? {
        if let Some(n) = nics.iter_mut().find(|n| n.id == nic) {
            n.secondary.push((id, ip));
        }
    }
    Ok(nics)
}

/// Reserves an address of a network for something other than a VM (an internal load
/// balancer's source address): a NIC row owned by `owner`, device -1, never joined to a VM,
/// so the unique live (network, address) index keeps VMs and reservations apart even across
/// servers. An address already taken is a [`DbError::Conflict`]. Released by
/// [`nic_release_for_vm`] with the owner's id.
pub async fn nic_reserve(
    conn: &mut AnyConnection,
    network: NetworkId,
    ip: &str,
    owner: Uuid,
    mac: &str,
) -> Result<()> {
    nic_reserve_as(conn, Uuid::new_v4(), RESERVED, network, ip, owner, mac).await
}

/// `device_id` of an address reserved by an internal load balancer.
pub const RESERVED: i64 = -1;
/// `device_id` of a NIC's secondary address (addIpToNic): the row's `vm_id` is the NIC's id.
pub const SECONDARY: i64 = -2;

/// [`nic_reserve`] with the row's id and kind (`RESERVED` or `SECONDARY`).
pub async fn nic_reserve_as(
    conn: &mut AnyConnection,
    id: Uuid,
    device: i64,
    network: NetworkId,
    ip: &str,
    owner: Uuid,
    mac: &str,
) -> Result<()> {
    let mut q = Sql::new(
        "INSERT INTO nics (id, vm_id, network_id, ip4, mac, device_id, is_default, created) VALUES (",
    );
    q.bind(id.to_string())
        .push(", ")
        .bind(owner.to_string())
        .push(", ")
        .bind(network.to_string())
        .push(", ")
        .bind(ip.to_string())
        .push(", ")
        .bind(mac.to_string())
        .push(", ")
        .bind(device)
        .push(", 0, ")
        .bind(now_ms())
        .push(")");
    q.query()
        .execute(&mut *conn)
        .await
        .map_err(DbError::classify)?;
    Ok(())
}

/// Hands the address reservations of `from` to `to` (an internal load balancer going while
/// another still listens on its address).
pub async fn nic_transfer(conn: &mut AnyConnection, from: Uuid, to: Uuid) -> Result<u64> {
    let mut q = Sql::new("UPDATE nics SET vm_id = ");
    q.bind(to.to_string()).and(
        " WHERE removed IS NULL AND device_id = -1 AND vm_id = ",
        from.to_string(),
    );
    Ok(q.query().execute(&mut *conn).await?.rows_affected())
}

/// Releases the NICs of an expunged VM and their secondary addresses (the addresses become
/// free).
pub async fn nic_release_for_vm(conn: &mut AnyConnection, vm: VmId) -> Result<u64> {
    let mut q = Sql::new("UPDATE nics SET removed = ");
    q.bind(now_ms())
        .and(" WHERE removed IS NULL AND device_id = ", SECONDARY)
        .and(
            " AND vm_id IN (SELECT p.id FROM nics p WHERE p.vm_id = ",
            vm.to_string(),
        )
        .push(")");
    q.query().execute(&mut *conn).await?;
    let mut q = Sql::new("UPDATE nics SET removed = ");
    q.bind(now_ms())
        .and(" WHERE removed IS NULL AND vm_id = ", vm.to_string());
    Ok(q.query().execute(&mut *conn).await?.rows_affected())
}

/// The VM a live NIC belongs to (secondary addresses and reservations have none).
pub async fn nic_vm(conn: &mut AnyConnection, nic: Uuid) -> Result<Option<VmId>> {
    let mut q = Sql::new(
        "SELECT vm_id AS c_vm FROM nics WHERE removed IS NULL AND device_id >= 0 AND id = ",
    );
    q.bind(nic);
    q.one(conn, |r| crate::mapper::Column::column(r, "nics", "c_vm"))
        .await
}

/// A NIC's secondary address: (its id, the NIC's id, the network's id, the address).
pub type SecondaryIp = (Uuid, Uuid, NetworkId, String);

/// The live secondary addresses of these NICs, by NIC then address.
pub async fn nic_secondaries(conn: &mut AnyConnection, nics: &[Uuid]) -> Result<Vec<SecondaryIp>> {
    if nics.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = Sql::new(
        "SELECT id AS s_id, vm_id AS s_nic, network_id AS s_net, ip4 AS s_ip FROM nics \
         WHERE removed IS NULL AND device_id = ",
    );
    q.bind(SECONDARY);
    in_list(&mut q, "vm_id", nics);
    q.push(" ORDER BY vm_id, ip4");
    q.all(conn, |r| {
        Ok((
            crate::mapper::Column::column(r, "nics", "s_id")?,
            crate::mapper::Column::column(r, "nics", "s_nic")?,
            crate::mapper::Column::column(r, "nics", "s_net")?,
            crate::mapper::Column::column(r, "nics", "s_ip")?,
        ))
    })
    .await
}

/// One secondary address by its id.
pub async fn nic_secondary_get(conn: &mut AnyConnection, id: Uuid) -> Result<Option<SecondaryIp>> {
    let mut q = Sql::new(
        "SELECT id AS s_id, vm_id AS s_nic, network_id AS s_net, ip4 AS s_ip FROM nics \
         WHERE removed IS NULL AND device_id = ",
    );
    q.bind(SECONDARY).and(" AND id = ", id);
    q.one(conn, |r| {
        Ok((
            crate::mapper::Column::column(r, "nics", "s_id")?,
            crate::mapper::Column::column(r, "nics", "s_nic")?,
            crate::mapper::Column::column(r, "nics", "s_net")?,
            crate::mapper::Column::column(r, "nics", "s_ip")?,
        ))
    })
    .await
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
    id: NetworkId,
    from: Option<model::NetworkState>,
    to: model::NetworkState,
    vni: Option<Option<i64>>,
) -> Result<bool> {
    if let Some(f) = from {
        crate::check_moves(&[f], to)?;
    }
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
pub async fn network_set_vni(conn: &mut AnyConnection, id: NetworkId, vni: i64) -> Result<bool> {
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

/// Guards a tier with another network ACL list (`replaceNetworkACLList`).
pub async fn network_set_acl(conn: &mut AnyConnection, id: NetworkId, acl: Uuid) -> Result<u64> {
    let mut q = Sql::new("UPDATE networks SET acl_id = ");
    q.bind(acl).and(" WHERE removed IS NULL AND id = ", id);
    Ok(q.query().execute(&mut *conn).await?.rows_affected())
}

pub async fn network_remove(conn: &mut AnyConnection, id: NetworkId) -> Result<u64> {
    let mut q = Sql::new("UPDATE networks SET state = 'Destroy', vni = NULL, removed = ");
    q.bind(now_ms()).and(" WHERE removed IS NULL AND id = ", id);
    Ok(q.query().execute(&mut *conn).await?.rows_affected())
}

/// Live NICs on a network, with their VM's state and host (for IPAM, implement and GC).
#[derive(Clone, Debug, PartialEq)]
pub struct NetNic {
    pub nic_id: Uuid,
    pub vm_id: VmId,
    pub vm_name: String,
    pub vm_state: model::VmState,
    pub host_id: Option<HostId>,
    pub network_id: NetworkId,
    pub ip4: Option<String>,
    pub mac: String,
    pub is_default: bool,
    pub device_id: i64,
}

fn net_nic_row(r: &AnyRow) -> Result<NetNic> {
    map_row!(
        r,
        "nics",
        NetNic {
            nic_id: "c_id",
            vm_id: "c_vm",
            vm_name: "m_name",
            vm_state: "m_state",
            host_id: "m_host",
            network_id: "c_net",
            ip4: "c_ip",
            mac: "c_mac",
            is_default: "c_def",
            device_id: "c_dev",
        }
    )
}

const NET_NIC_SQL: &str = "SELECT c.id AS c_id, c.vm_id AS c_vm, m.name AS m_name, m.state AS m_state, \
    m.host_id AS m_host, c.network_id AS c_net, c.ip4 AS c_ip, c.mac AS c_mac, c.is_default AS c_def, \
    c.device_id AS c_dev FROM nics c JOIN vms m ON m.id = c.vm_id WHERE c.removed IS NULL";

pub async fn net_nics(conn: &mut AnyConnection, networks: &[NetworkId]) -> Result<Vec<NetNic>> {
    if networks.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = Sql::new(NET_NIC_SQL);
    in_list(&mut q, "c.network_id", networks);
    q.push(" ORDER BY c.network_id, c.ip4, c.id");
    q.all(conn, net_nic_row).await
}

/// The live NICs of the VMs on these hosts (running there or arriving by migration).
pub async fn net_nics_on_hosts(conn: &mut AnyConnection, hosts: &[HostId]) -> Result<Vec<NetNic>> {
    if hosts.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = Sql::new(NET_NIC_SQL);
    in_list(&mut q, "m.host_id", hosts);
    q.push(" AND m.removed IS NULL ORDER BY c.network_id, c.ip4, c.id");
    q.all(conn, net_nic_row).await
}

pub async fn net_nics_of_vms(conn: &mut AnyConnection, vms: &[VmId]) -> Result<Vec<NetNic>> {
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
    nets: &[NetworkId],
    states: &[model::VmState],
    except_vm: Option<VmId>,
) -> Result<Vec<(Uuid, HostId)>> {
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
        Ok((parsed(r, "nics", "c_net")?, parsed(r, "vms", "m_host")?))
    })
    .await
}

/// Removes one NIC (removeNicFromVirtualMachine) with its secondary addresses, or one
/// secondary address (removeIpFromNic).
pub async fn nic_remove(conn: &mut AnyConnection, nic: Uuid) -> Result<u64> {
    let mut q = Sql::new("UPDATE nics SET removed = ");
    q.bind(now_ms())
        .and(" WHERE removed IS NULL AND device_id = ", SECONDARY)
        .and(" AND vm_id = ", nic);
    q.query().execute(&mut *conn).await?;
    let mut q = Sql::new("UPDATE nics SET removed = ");
    q.bind(now_ms())
        .and(" WHERE removed IS NULL AND id = ", nic);
    Ok(q.query().execute(&mut *conn).await?.rows_affected())
}

/// Makes one NIC of a VM its default.
pub async fn nic_set_default(conn: &mut AnyConnection, vm: VmId, nic: Uuid) -> Result<()> {
    let mut q = Sql::new("UPDATE nics SET is_default = CASE WHEN id = ");
    q.bind(nic)
        .push(" THEN 1 ELSE 0 END")
        .and(" WHERE removed IS NULL AND vm_id = ", vm);
    q.query().execute(&mut *conn).await?;
    Ok(())
}
