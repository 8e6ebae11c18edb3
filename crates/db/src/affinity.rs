//! Affinity groups (CloudStack's host affinity and anti-affinity, strict and not) and the VMs
//! in them. A group belongs to an account; its members are `vm_affinity` rows.

use std::collections::BTreeMap;

use model::{AccountId, DomainId, HostId, VmId};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use uuid::Uuid;

use crate::mapper::{map_row, parsed};
use crate::sql::{OwnerScope, Sql};
use crate::vms::ACTIVE_STATES;
use crate::{DbError, Result};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AffinityRow {
    pub id: Uuid,
    pub name: String,
    /// `host anti-affinity`, `host affinity`, `non-strict host anti-affinity`,
    /// `non-strict host affinity`.
    pub group_type: String,
    pub description: String,
    pub account_id: AccountId,
    pub account_name: String,
    pub domain_id: DomainId,
    pub domain_name: String,
    pub domain_path: String,
    pub created: i64,
}

fn row(r: &AnyRow) -> Result<AffinityRow> {
    map_row!(
        r,
        "affinity_groups",
        AffinityRow {
            id: "g_id",
            name: "g_name",
            group_type: "g_type",
            description: "g_desc",
            account_id: "g_acct",
            account_name: "a_name",
            domain_id: "g_dom",
            domain_name: "d_name",
            domain_path: "d_path",
            created: "g_created",
        }
    )
}

const COLS: &str = "SELECT g.id AS g_id, g.name AS g_name, g.group_type AS g_type, \
     g.description AS g_desc, g.account_id AS g_acct, a.name AS a_name, g.domain_id AS g_dom, \
     d.name AS d_name, d.path AS d_path, g.created AS g_created \
     FROM affinity_groups g JOIN accounts a ON a.id = g.account_id \
     JOIN domains d ON d.id = g.domain_id WHERE 1 = 1";

/// What `listAffinityGroups` filters on.
#[derive(Clone, Debug, Default)]
pub struct AffinityFilter {
    pub scope: Option<OwnerScope>,
    pub ids: Vec<Uuid>,
    /// Exact name (case-insensitive).
    pub name: Option<String>,
    pub group_type: Option<String>,
    /// Groups this VM is in.
    pub vm: Option<VmId>,
    pub keyword: Option<String>,
}

pub async fn affinity_list(
    conn: &mut AnyConnection,
    f: &AffinityFilter,
) -> Result<Vec<AffinityRow>> {
    let mut q = Sql::new(COLS);
    if let Some(s) = &f.scope {
        s.push(&mut q, "g.account_id", "d");
    }
    if !f.ids.is_empty() {
        crate::sql::in_list(&mut q, "g.id", &f.ids);
    }
    if let Some(n) = &f.name {
        q.and(" AND lower(g.name) = ", n.to_lowercase());
    }
    if let Some(t) = &f.group_type {
        q.and(" AND g.group_type = ", t.clone());
    }
    if let Some(vm) = f.vm {
        q.and(
            " AND g.id IN (SELECT group_id FROM vm_affinity WHERE vm_id = ",
            vm.to_string(),
        )
        .push(")");
    }
    if let Some(k) = &f.keyword {
        q.and(
            " AND lower(g.name) LIKE ",
            format!("%{}%", k.to_lowercase()),
        );
    }
    q.push(" ORDER BY g.created, g.id");
    let rows = q.query().fetch_all(conn).await?;
    rows.iter().map(row).collect()
}

/// Adds a group; a name the account already uses is a `Conflict`.
pub async fn affinity_insert(conn: &mut AnyConnection, g: &AffinityRow) -> Result<()> {
    let mut q = Sql::new(
        "INSERT INTO affinity_groups (id, name, group_type, description, account_id, domain_id, created) VALUES (",
    );
    q.bind(g.id.to_string())
        .push(", ")
        .bind(g.name.clone())
        .push(", ")
        .bind(g.group_type.clone())
        .push(", ")
        .bind(g.description.clone())
        .push(", ")
        .bind(g.account_id)
        .push(", ")
        .bind(g.domain_id)
        .push(", ")
        .bind(g.created)
        .push(")");
    q.query().execute(conn).await.map_err(DbError::classify)?;
    Ok(())
}

/// Deletes a group and its memberships.
pub async fn affinity_delete(conn: &mut AnyConnection, id: Uuid) -> Result<()> {
    let mut q = Sql::new("DELETE FROM vm_affinity WHERE group_id = ");
    q.bind(id.to_string());
    q.query().execute(&mut *conn).await?;
    let mut q = Sql::new("DELETE FROM affinity_groups WHERE id = ");
    q.bind(id.to_string());
    q.query().execute(&mut *conn).await?;
    Ok(())
}

/// Live (not expunged) VMs in a group.
pub async fn affinity_members(conn: &mut AnyConnection, group: Uuid) -> Result<Vec<VmId>> {
    let mut q = Sql::new(
        "SELECT m.vm_id AS vm_id FROM vm_affinity m JOIN vms v ON v.id = m.vm_id \
         WHERE v.removed IS NULL AND m.group_id = ",
    );
    q.bind(group.to_string()).push(" ORDER BY m.vm_id");
    let rows = q.query().fetch_all(conn).await?;
    rows.iter()
        .map(|r| parsed(r, "vm_affinity", "vm_id"))
        .collect()
}

/// Replaces a VM's groups.
pub async fn vm_affinity_set(conn: &mut AnyConnection, vm: VmId, groups: &[Uuid]) -> Result<()> {
    let mut q = Sql::new("DELETE FROM vm_affinity WHERE vm_id = ");
    q.bind(vm.to_string());
    q.query().execute(&mut *conn).await?;
    for g in groups {
        let mut q = Sql::new("INSERT INTO vm_affinity (vm_id, group_id) VALUES (");
        q.bind(vm.to_string())
            .push(", ")
            .bind(g.to_string())
            .push(")");
        q.query()
            .execute(&mut *conn)
            .await
            .map_err(DbError::classify)?;
    }
    Ok(())
}

/// The groups of each of these VMs.
pub async fn vm_affinity_of(
    conn: &mut AnyConnection,
    vms: &[VmId],
) -> Result<BTreeMap<VmId, Vec<Uuid>>> {
    let mut out: BTreeMap<VmId, Vec<Uuid>> = BTreeMap::new();
    for chunk in vms.chunks(500) {
        let mut q = Sql::new("SELECT vm_id, group_id FROM vm_affinity WHERE 1 = 1");
        crate::sql::in_list(&mut q, "vm_id", chunk);
        q.push(" ORDER BY vm_id, group_id");
        for r in q.query().fetch_all(&mut *conn).await? {
            out.entry(parsed(&r, "vm_affinity", "vm_id")?)
                .or_default()
                .push(parsed(&r, "vm_affinity", "group_id")?);
        }
    }
    Ok(out)
}

/// Where the active members of a group other than `except` are: each host holding one
/// (a migrating member holds its host and its destination), with how many.
pub async fn affinity_member_hosts(
    conn: &mut AnyConnection,
    group: Uuid,
    except: VmId,
) -> Result<BTreeMap<HostId, i64>> {
    let mut out: BTreeMap<HostId, i64> = BTreeMap::new();
    for col in ["host_id", "dest_host_id"] {
        let mut q = Sql::new(&format!(
            "SELECT v.{col} AS h, COUNT(*) FROM vm_affinity m JOIN vms v ON v.id = m.vm_id \
             WHERE v.removed IS NULL AND v.{col} IS NOT NULL AND m.group_id = "
        ));
        q.bind(group.to_string())
            .and(" AND v.id <> ", except.to_string())
            .push(" AND v.state IN (");
        for (i, s) in ACTIVE_STATES.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.bind(*s);
        }
        q.push(&format!(") GROUP BY v.{col}"));
        for r in q.query().fetch_all(&mut *conn).await? {
            let n: i64 = r.try_get(1)?;
            *out.entry(parsed::<HostId>(&r, "vms", "h")?).or_default() += n;
        }
    }
    Ok(out)
}

/// Locks a group row for the rest of the transaction (PostgreSQL; SQLite has one writer), so
/// the reservations of a strict affinity group's members are checked one after the other.
pub async fn affinity_lock(conn: &mut AnyConnection, group: Uuid) -> Result<()> {
    let pg = conn.backend_name().eq_ignore_ascii_case("postgresql");
    let mut q = Sql::new("SELECT id FROM affinity_groups WHERE id = ");
    q.bind(group.to_string());
    if pg {
        q.push(" FOR UPDATE");
    }
    q.query().fetch_optional(&mut *conn).await?;
    Ok(())
}
