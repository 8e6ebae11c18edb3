//! Virtual machines and the numbers in their instance names.
//!
//! State changes are conditional updates (`… WHERE state IN (from…)`): two operations racing
//! on one VM cannot both win, and an illegal transition changes nothing.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use uuid::Uuid;

use model::ids::{AccountId, DomainId, HostId, UserId, VmId};
use model::VmState;

use crate::identity::{count, Listed};
use crate::mapper::map_row;
use crate::migrate::now_ms;
use crate::sql::{OwnerScope, Sql};
use crate::{DbError, Result};

/// States in which a VM holds CPU and memory on its host.
pub const ACTIVE_STATES: &[VmState] = VmState::ACTIVE;

#[derive(Clone, Debug, PartialEq)]
pub struct VmRow {
    pub id: VmId,
    pub seq: i64,
    pub instance_name: String,
    /// The host name.
    pub name: String,
    pub display_name: String,
    pub state: VmState,
    pub account_id: AccountId,
    pub account_name: String,
    pub domain_id: DomainId,
    pub domain_name: String,
    pub domain_path: String,
    pub user_id: UserId,
    pub zone_id: Uuid,
    pub pod_id: Option<Uuid>,
    pub cluster_id: Option<Uuid>,
    pub host_id: Option<HostId>,
    pub last_host_id: Option<HostId>,
    /// Where a Migrating VM is going (its capacity is held there too).
    pub dest_host_id: Option<HostId>,
    pub template_id: Option<Uuid>,
    pub iso_id: Option<Uuid>,
    pub service_offering_id: Uuid,
    pub cpus: i64,
    pub cpu_mhz: i64,
    pub memory_mib: i64,
    pub ha_enable: bool,
    pub group: Option<String>,
    pub userdata: Option<String>,
    pub keypairs: Vec<String>,
    /// Everything else the app layer keeps (details, networkids, securitygroupids, …).
    pub attrs: serde_json::Value,
    pub created: i64,
    pub updated: i64,
    /// Whether its host's CPU and memory accounting counts it (an admission policy may drop
    /// either; the VM still holds its slot).
    pub reserve_cpu: bool,
    pub reserve_memory: bool,
}

/// A VM to create (state `Stopped`, no host).
#[derive(Clone, Debug)]
pub struct NewVm {
    pub id: VmId,
    /// Host name; `None` = use the instance name's `VM-<uuid>` default.
    pub name: Option<String>,
    pub display_name: Option<String>,
    pub account_id: AccountId,
    pub domain_id: DomainId,
    pub user_id: UserId,
    pub zone_id: Uuid,
    pub template_id: Option<Uuid>,
    pub iso_id: Option<Uuid>,
    pub service_offering_id: Uuid,
    pub cpus: i64,
    pub cpu_mhz: i64,
    pub memory_mib: i64,
    pub ha_enable: bool,
    pub group: Option<String>,
    pub userdata: Option<String>,
    pub keypairs: Vec<String>,
    pub attrs: serde_json::Value,
    /// The `instance.name` suffix.
    pub suffix: String,
    /// See [`VmRow::reserve_cpu`].
    pub reserve_cpu: bool,
    pub reserve_memory: bool,
}

/// What `listVirtualMachines` filters on.
#[derive(Clone, Debug, Default)]
pub struct VmFilter {
    pub scope: Option<OwnerScope>,
    pub ids: Vec<VmId>,
    pub name: Option<String>,
    /// Exactly these states (empty = any).
    pub states: Vec<VmState>,
    /// Never these states.
    pub hide_states: Vec<VmState>,
    /// Match no VM (a state filter naming no state: CloudStack answers an empty list).
    pub none: bool,
    pub zone_id: Option<Uuid>,
    pub pod_id: Option<Uuid>,
    pub cluster_id: Option<Uuid>,
    pub host_id: Option<HostId>,
    pub template_id: Option<Uuid>,
    pub iso_id: Option<Uuid>,
    pub service_offering_id: Option<Uuid>,
    pub group: Option<String>,
    pub ha_enable: Option<bool>,
    pub keypair: Option<String>,
    pub user_id: Option<UserId>,
    pub storage_id: Option<Uuid>,
    pub tags: Vec<(String, String)>,
    pub keyword: Option<String>,
    /// VMs in this affinity group.
    pub affinity_group: Option<Uuid>,
    pub offset: u64,
    pub limit: Option<u64>,
}

const VM_COLS: &str =
    "v.id AS v_id, v.seq AS v_seq, v.instance_name AS v_iname, v.name AS v_name, \
     v.display_name AS v_dname, v.state AS v_state, v.account_id AS v_acct, a.name AS a_name, \
     v.domain_id AS v_dom, d.name AS d_name, d.path AS d_path, v.user_id AS v_user, \
     v.zone_id AS v_zone, v.pod_id AS v_pod, v.cluster_id AS v_cluster, v.host_id AS v_host, \
     v.last_host_id AS v_last, v.dest_host_id AS v_dest, v.template_id AS v_tmpl, v.iso_id AS v_iso, \
     v.service_offering_id AS v_so, v.cpus AS v_cpus, v.cpu_mhz AS v_mhz, v.memory_mib AS v_mem, \
     v.ha_enable AS v_ha, v.vm_group AS v_group, v.userdata AS v_ud, v.keypairs AS v_kp, \
     v.attrs AS v_attrs, v.created AS v_created, v.updated AS v_updated, \
     v.reserve_cpu AS v_rcpu, v.reserve_memory AS v_rmem";
const VM_FROM: &str = " FROM vms v JOIN accounts a ON a.id = v.account_id \
     JOIN domains d ON d.id = v.domain_id WHERE v.removed IS NULL";

fn vm_row(r: &AnyRow) -> Result<VmRow> {
    const T: &str = "vms";
    map_row!(r, T, VmRow {
        id: "v_id",
        seq: "v_seq",
        instance_name: "v_iname",
        name: "v_name",
        display_name: "v_dname",
        state: "v_state",
        account_id: "v_acct",
        account_name: "a_name",
        domain_id: "v_dom",
        domain_name: "d_name",
        domain_path: "d_path",
        user_id: "v_user",
        zone_id: "v_zone",
        pod_id: "v_pod",
        cluster_id: "v_cluster",
        host_id: "v_host",
        last_host_id: "v_last",
        dest_host_id: "v_dest",
        template_id: "v_tmpl",
        iso_id: "v_iso",
        service_offering_id: "v_so",
        cpus: "v_cpus",
        cpu_mhz: "v_mhz",
        memory_mib: "v_mem",
        ha_enable: "v_ha",
        group: "v_group",
        userdata: "v_ud",
        keypairs: (json "v_kp"),
        attrs: "v_attrs",
        created: "v_created",
        updated: "v_updated",
        reserve_cpu: "v_rcpu",
        reserve_memory: "v_rmem",
    })
}

/// The next value of a named counter (a row lock on PostgreSQL; SQLite has one writer).
pub async fn counter_next(conn: &mut AnyConnection, name: &str) -> Result<i64> {
    let mut q = Sql::new("UPDATE counters SET value = value + 1 WHERE name = ");
    q.bind(name).push(" RETURNING value");
    let row = q.query().fetch_one(&mut *conn).await?;
    Ok(row.try_get(0)?)
}

/// The account's number in instance names, given on first use. Two first deploys of one
/// account racing both take a number; one row wins and both read it back.
pub async fn account_number(conn: &mut AnyConnection, account: AccountId) -> Result<i64> {
    let mut q = Sql::new("SELECT num FROM account_numbers WHERE account_id = ");
    q.bind(account);
    if let Some(r) = q.query().fetch_optional(&mut *conn).await? {
        return Ok(r.try_get(0)?);
    }
    let n = counter_next(conn, "account").await?;
    let mut ins = Sql::new("INSERT INTO account_numbers (account_id, num) VALUES (");
    ins.bind(account)
        .push(", ")
        .bind(n)
        .push(") ON CONFLICT (account_id) DO NOTHING");
    ins.query()
        .execute(&mut *conn)
        .await
        .map_err(DbError::classify)?;
    let r = q.query().fetch_one(&mut *conn).await?;
    Ok(r.try_get(0)?)
}

/// Creates a VM in state `Stopped`; returns its instance name.
pub async fn vm_insert(conn: &mut AnyConnection, v: &NewVm) -> Result<String> {
    let acct = account_number(conn, v.account_id).await?;
    let seq = counter_next(conn, "vm").await?;
    let instance = format!("i-{acct}-{seq}-{}", v.suffix);
    let name = v.name.clone().unwrap_or_else(|| format!("VM-{}", v.id));
    let display = v.display_name.clone().unwrap_or_else(|| name.clone());
    let now = now_ms();
    let mut q = Sql::new(
        "INSERT INTO vms (id, seq, instance_name, name, display_name, state, account_id, domain_id, \
         user_id, zone_id, template_id, iso_id, service_offering_id, cpus, cpu_mhz, memory_mib, \
         ha_enable, vm_group, userdata, keypairs, attrs, created, updated, reserve_cpu, reserve_memory) VALUES (",
    );
    q.bind(v.id.to_string())
        .push(", ")
        .bind(seq)
        .push(", ")
        .bind(instance.clone())
        .push(", ")
        .bind(name)
        .push(", ")
        .bind(display)
        .push(", ")
        .bind(VmState::Stopped)
        .push(", ")
        .bind(v.account_id)
        .push(", ")
        .bind(v.domain_id)
        .push(", ")
        .bind(v.user_id.to_string())
        .push(", ")
        .bind(v.zone_id.to_string())
        .push(", ")
        .bind(v.template_id.map(|u| u.to_string()))
        .push(", ")
        .bind(v.iso_id.map(|u| u.to_string()))
        .push(", ")
        .bind(v.service_offering_id.to_string())
        .push(", ")
        .bind(v.cpus)
        .push(", ")
        .bind(v.cpu_mhz)
        .push(", ")
        .bind(v.memory_mib)
        .push(", ")
        .bind(v.ha_enable)
        .push(", ")
        .bind(v.group.clone())
        .push(", ")
        .bind(v.userdata.clone())
        .push(", ")
        .bind(serde_json::to_string(&v.keypairs).unwrap_or_else(|_| "[]".into()))
        .push(", ")
        .bind(v.attrs.to_string())
        .push(", ")
        .bind(now)
        .push(", ")
        .bind(now)
        .push(", ")
        .bind(v.reserve_cpu)
        .push(", ")
        .bind(v.reserve_memory)
        .push(")");
    q.query()
        .execute(&mut *conn)
        .await
        .map_err(DbError::classify)?;
    Ok(instance)
}

/// A VM even after it was expunged (its last row, state `Expunging`).
pub async fn vm_get_any(conn: &mut AnyConnection, id: VmId) -> Result<Option<VmRow>> {
    let from = VM_FROM.replace("v.removed IS NULL", "1 = 1");
    let mut q = Sql::new(&format!("SELECT {VM_COLS}{from}"));
    q.and(" AND v.id = ", id.to_string());
    q.one(conn, vm_row).await
}

/// VMs by instance name, removed ones included; each with whether it is removed. For the
/// power-state sync, which must recognise a VM its host still runs after it was expunged.
pub async fn vm_by_instance_names(
    conn: &mut AnyConnection,
    names: &[String],
) -> Result<Vec<(VmRow, bool)>> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let from = VM_FROM.replace("v.removed IS NULL", "1 = 1");
    let mut out = Vec::new();
    for chunk in names.chunks(500) {
        let mut q = Sql::new(&format!("SELECT {VM_COLS}, v.removed AS v_removed{from}"));
        in_list(&mut q, "v.instance_name", chunk);
        for r in q.query().fetch_all(&mut *conn).await? {
            let removed: Option<i64> = r.try_get("v_removed")?;
            out.push((vm_row(&r)?, removed.is_some()));
        }
    }
    Ok(out)
}

pub async fn vm_get(conn: &mut AnyConnection, id: VmId) -> Result<Option<VmRow>> {
    let mut q = Sql::new(&format!("SELECT {VM_COLS}{VM_FROM}"));
    q.and(" AND v.id = ", id.to_string());
    q.one(conn, vm_row).await
}

pub(crate) fn in_list(q: &mut Sql, col: &str, vals: &[String]) {
    q.push(&format!(" AND {col} IN ("));
    for (i, v) in vals.iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.bind(v.clone());
    }
    q.push(")");
}

fn vm_where(q: &mut Sql, f: &VmFilter) {
    if let Some(s) = &f.scope {
        s.push(q, "v.account_id", "d");
    }
    if !f.ids.is_empty() {
        let ids: Vec<String> = f.ids.iter().map(VmId::to_string).collect();
        in_list(q, "v.id", &ids);
    }
    if let Some(n) = &f.name {
        q.and(" AND v.name = ", n.clone());
    }
    if f.none {
        q.push(" AND 1 = 0");
    }
    if !f.states.is_empty() {
        let states: Vec<String> = f.states.iter().map(|s| s.to_string()).collect();
        in_list(q, "v.state", &states);
    }
    if !f.hide_states.is_empty() {
        q.push(" AND NOT (1 = 0");
        for s in &f.hide_states {
            q.and(" OR v.state = ", *s);
        }
        q.push(")");
    }
    if let Some(h) = f.host_id {
        q.and(" AND v.host_id = ", h.to_string());
    }
    for (col, v) in [
        ("v.zone_id", f.zone_id),
        ("v.pod_id", f.pod_id),
        ("v.cluster_id", f.cluster_id),
        ("v.template_id", f.template_id),
        ("v.iso_id", f.iso_id),
        ("v.service_offering_id", f.service_offering_id),
    ] {
        if let Some(v) = v {
            q.and(&format!(" AND {col} = "), v.to_string());
        }
    }
    if let Some(g) = &f.group {
        q.and(" AND v.vm_group = ", g.clone());
    }
    if let Some(h) = f.ha_enable {
        q.and(" AND v.ha_enable = ", h);
    }
    if let Some(k) = &f.keypair {
        q.and(
            " AND v.keypairs LIKE ",
            format!("%\"{}\"%", k.replace('"', "")),
        );
    }
    if let Some(u) = f.user_id {
        q.and(" AND v.user_id = ", u.to_string());
    }
    if let Some(p) = f.storage_id {
        q.and(
            " AND v.id IN (SELECT vm_id FROM volumes WHERE removed IS NULL AND pool_id = ",
            p.to_string(),
        )
        .push(")");
    }
    for (k, v) in &f.tags {
        q.and(
            " AND v.id IN (SELECT resource_id FROM resource_tags WHERE resource_type = 'UserVm' AND tag_key = ",
            k.clone(),
        )
        .and(" AND tag_value = ", v.clone())
        .push(")");
    }
    if let Some(g) = f.affinity_group {
        q.and(
            " AND v.id IN (SELECT vm_id FROM vm_affinity WHERE group_id = ",
            g.to_string(),
        )
        .push(")");
    }
    if let Some(k) = &f.keyword {
        let k = format!("%{}%", k.to_lowercase());
        q.and(" AND (lower(v.name) LIKE ", k.clone())
            .and(" OR lower(v.display_name) LIKE ", k.clone())
            .and(" OR lower(v.instance_name) LIKE ", k)
            .push(")");
    }
}

/// The FROM clause for counting and paging: the domains join only when the scope needs it.
fn vm_from_lean(f: &VmFilter) -> &'static str {
    match &f.scope {
        Some(s) if s.uses_domain() => {
            " FROM vms v JOIN domains d ON d.id = v.domain_id WHERE v.removed IS NULL"
        }
        _ => " FROM vms v WHERE v.removed IS NULL",
    }
}

/// A page of VMs and the total. The page is found on the `vms` table alone (an index walk in
/// `seq` order), then only its rows are joined with their owners — at 100,000 VMs joining
/// every row just to skip it costs more than the rest of the request.
pub async fn vm_list(conn: &mut AnyConnection, f: &VmFilter) -> Result<Listed<VmRow>> {
    let lean = vm_from_lean(f);
    let mut c = Sql::new(&format!("SELECT COUNT(*){lean}"));
    vm_where(&mut c, f);
    let total = count(conn, &c).await?;
    // Nothing matches: the page query would walk every live VM in `seq` order to find none.
    if f.limit == Some(0) || total == 0 {
        return Ok((Vec::new(), total));
    }
    let mut q = Sql::new(&format!("SELECT v.id{lean}"));
    vm_where(&mut q, f);
    q.push(" ORDER BY v.seq").page(f.offset, f.limit);
    let ids = crate::sql::page_ids(conn, q).await?;
    // By primary key only: with `removed IS NULL` here SQLite would walk that index instead.
    let by_id = VM_FROM.replace("v.removed IS NULL", "1 = 1");
    let select = format!("SELECT {VM_COLS}{by_id}");
    let mut rows = crate::sql::rows_by_ids(conn, &select, "v.id", &ids, vm_row).await?;
    rows.sort_by_key(|v| v.seq);
    Ok((rows, total))
}

/// Where a state change puts the VM.
#[derive(Clone, Debug, Default)]
pub struct VmPlace {
    /// `Some(None)` clears the placement (keeping `last_host_id`).
    pub host: Option<Option<(HostId, Uuid, Uuid)>>,
    /// `Some(x)` sets (or clears) the migration target.
    pub dest: Option<Option<HostId>>,
}

impl VmPlace {
    pub fn keep() -> Self {
        Self::default()
    }
    /// On host (host, cluster, pod).
    pub fn on(host: HostId, cluster: Uuid, pod: Uuid) -> Self {
        Self {
            host: Some(Some((host, cluster, pod))),
            dest: Some(None),
        }
    }
    /// Off any host; the current host becomes the last host.
    pub fn off() -> Self {
        Self {
            host: Some(None),
            dest: Some(None),
        }
    }
    /// Still on its host, migrating to `dest`.
    pub fn migrating_to(dest: HostId) -> Self {
        Self {
            host: None,
            dest: Some(Some(dest)),
        }
    }
}

/// Moves a VM to `to` if it is in one of `from`; whether it moved.
pub async fn vm_transition(
    conn: &mut AnyConnection,
    id: VmId,
    from: &[VmState],
    to: VmState,
    place: &VmPlace,
) -> Result<bool> {
    crate::check_moves(from, to)?;
    let mut q = Sql::new("UPDATE vms SET state = ");
    q.bind(to).and(", updated = ", now_ms());
    match &place.host {
        None => {}
        Some(Some((h, c, p))) => {
            q.and(", host_id = ", h.to_string())
                .and(", last_host_id = ", h.to_string())
                .and(", cluster_id = ", c.to_string())
                .and(", pod_id = ", p.to_string());
        }
        Some(None) => {
            q.push(", last_host_id = COALESCE(host_id, last_host_id), host_id = NULL");
        }
    }
    match place.dest {
        None => {}
        Some(d) => {
            q.and(", dest_host_id = ", d.map(|u| u.to_string()));
        }
    }
    q.and(" WHERE removed IS NULL AND id = ", id.to_string());
    let from: Vec<String> = from.iter().map(VmState::to_string).collect();
    in_list(&mut q, "state", &from);
    Ok(q.query().execute(&mut *conn).await?.rows_affected() > 0)
}

/// Changes what updateVirtualMachine / changeServiceForVirtualMachine may change.
#[derive(Clone, Debug, Default)]
pub struct VmChanges {
    pub name: Option<String>,
    pub display_name: Option<String>,
    pub ha_enable: Option<bool>,
    /// `Some(None)` clears the group.
    pub group: Option<Option<String>>,
    pub userdata: Option<String>,
    pub keypairs: Option<Vec<String>>,
    pub attrs: Option<serde_json::Value>,
    /// (offering, cpus, cpu_mhz, memory_mib)
    pub offering: Option<(Uuid, i64, i64, i64)>,
}

pub async fn vm_update(conn: &mut AnyConnection, id: VmId, c: &VmChanges) -> Result<bool> {
    let mut q = Sql::new("UPDATE vms SET updated = ");
    q.bind(now_ms());
    if let Some(n) = &c.name {
        q.and(", name = ", n.clone());
    }
    if let Some(n) = &c.display_name {
        q.and(", display_name = ", n.clone());
    }
    if let Some(h) = c.ha_enable {
        q.and(", ha_enable = ", h);
    }
    if let Some(g) = &c.group {
        q.and(", vm_group = ", g.clone());
    }
    if let Some(u) = &c.userdata {
        q.and(", userdata = ", u.clone());
    }
    if let Some(k) = &c.keypairs {
        q.and(
            ", keypairs = ",
            serde_json::to_string(k).unwrap_or_else(|_| "[]".into()),
        );
    }
    if let Some(a) = &c.attrs {
        q.and(", attrs = ", a.to_string());
    }
    if let Some((o, cpus, mhz, mem)) = c.offering {
        q.and(", service_offering_id = ", o.to_string())
            .and(", cpus = ", cpus)
            .and(", cpu_mhz = ", mhz)
            .and(", memory_mib = ", mem);
    }
    q.and(" WHERE removed IS NULL AND id = ", id.to_string());
    Ok(q.query().execute(&mut *conn).await?.rows_affected() > 0)
}

/// Marks an expunged VM removed (its row stays for events and usage).
pub async fn vm_mark_removed(conn: &mut AnyConnection, id: VmId) -> Result<bool> {
    let mut q = Sql::new("UPDATE vms SET state = 'Expunging', host_id = NULL, removed = ");
    q.bind(now_ms())
        .and(" WHERE removed IS NULL AND id = ", id.to_string());
    Ok(q.query().execute(&mut *conn).await?.rows_affected() > 0)
}

/// Records that a VM was fenced off a host declared Down: the host's agent must stop it when
/// it comes back.
pub async fn fence_add(conn: &mut AnyConnection, host: HostId, vm_name: &str) -> Result<()> {
    let mut q = Sql::new("INSERT INTO fences (host_id, vm_name, created) VALUES (");
    q.bind(host.to_string())
        .push(", ")
        .bind(vm_name)
        .push(", ")
        .bind(now_ms())
        .push(") ON CONFLICT (host_id, vm_name) DO NOTHING");
    q.query().execute(&mut *conn).await?;
    Ok(())
}

/// The VMs fenced off a host, oldest first.
pub async fn fence_list(conn: &mut AnyConnection, host: HostId) -> Result<Vec<String>> {
    let mut q = Sql::new("SELECT vm_name FROM fences WHERE host_id = ");
    q.bind(host.to_string()).push(" ORDER BY created, vm_name");
    let rows = q.query().fetch_all(&mut *conn).await?;
    rows.iter()
        .map(|r| Ok(r.try_get::<String, _>(0)?))
        .collect()
}

/// Lifts these fences (the host's agent stopped the VMs).
pub async fn fence_clear(conn: &mut AnyConnection, host: HostId, names: &[String]) -> Result<()> {
    for n in names {
        let mut q = Sql::new("DELETE FROM fences WHERE host_id = ");
        q.bind(host.to_string()).and(" AND vm_name = ", n.clone());
        q.query().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Live VMs per state (for metrics).
pub async fn vm_count_by_state(conn: &mut AnyConnection) -> Result<Vec<(String, i64)>> {
    let rows =
        sqlx::query("SELECT state, COUNT(*) AS n FROM vms WHERE removed IS NULL GROUP BY state")
            .fetch_all(&mut *conn)
            .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("state")?, r.try_get("n")?)))
        .collect()
}

/// Sets (or clears) the ISO in a VM's CD-ROM (attachIso, detachIso).
pub async fn vm_set_iso(conn: &mut AnyConnection, id: VmId, iso: Option<Uuid>) -> Result<bool> {
    let mut q = Sql::new("UPDATE vms SET iso_id = ");
    q.bind(iso.map(|i| i.to_string()))
        .and(", updated = ", now_ms())
        .and(" WHERE removed IS NULL AND id = ", id.to_string());
    Ok(q.query().execute(&mut *conn).await?.rows_affected() > 0)
}

/// Sets the template a VM's root volume is made from (restoreVirtualMachine).
pub async fn vm_set_template(conn: &mut AnyConnection, id: VmId, template: Uuid) -> Result<bool> {
    let mut q = Sql::new("UPDATE vms SET template_id = ");
    q.bind(template.to_string())
        .and(", updated = ", now_ms())
        .and(" WHERE removed IS NULL AND id = ", id.to_string());
    Ok(q.query().execute(&mut *conn).await?.rows_affected() > 0)
}
