//! Inventory and catalogue objects: zones, pods, clusters, physical networks, traffic types,
//! network service providers and offerings. They share one table layout, so one set of functions
//! serves them all, chosen by [`Infra`].

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use uuid::Uuid;

use crate::identity::Listed;
use crate::mapper::map_row;
use crate::migrate::now_ms;
use crate::sql::Sql;
use crate::{DbError, Result};

/// Which inventory table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Infra {
    Zone,
    Pod,
    Cluster,
    PhysicalNetwork,
    TrafficType,
    Provider,
    ServiceOffering,
    DiskOffering,
    NetworkOffering,
    VpcOffering,
    StoragePool,
    ImageStore,
    Template,
}

impl Infra {
    fn table(self) -> &'static str {
        match self {
            Self::Zone => "zones",
            Self::Pod => "pods",
            Self::Cluster => "clusters",
            Self::PhysicalNetwork => "physical_networks",
            Self::TrafficType => "traffic_types",
            Self::Provider => "network_providers",
            Self::ServiceOffering => "service_offerings",
            Self::DiskOffering => "disk_offerings",
            Self::NetworkOffering => "network_offerings",
            Self::VpcOffering => "vpc_offerings",
            Self::StoragePool => "storage_pools",
            Self::ImageStore => "image_stores",
            Self::Template => "templates",
        }
    }
}

/// One inventory object.
#[derive(Clone, Debug, PartialEq)]
pub struct InfraRow {
    pub id: Uuid,
    pub zone_id: Uuid,
    pub parent_id: Option<Uuid>,
    pub name: String,
    /// Zone: network type; cluster: hypervisor; traffic type: the type; others: a label.
    pub kind: String,
    /// Allocation state (zones, pods, clusters) or state (physical networks, providers).
    pub state: String,
    pub domain_id: Option<Uuid>,
    /// The remaining attributes, as the app layer defines them.
    pub attrs: serde_json::Value,
    pub created: i64,
}

impl InfraRow {
    /// A zone's, pod's or cluster's allocation state; `None` for other rows, or a value the
    /// enum does not know (exactly as stored: such a row is not Enabled).
    pub fn allocation(&self) -> Option<model::AllocationState> {
        self.state.parse().ok()
    }

    /// A storage pool's status, as [`InfraRow::allocation`].
    pub fn pool_status(&self) -> Option<model::PoolState> {
        self.state.parse().ok()
    }
}

fn infra_row(r: &AnyRow) -> Result<InfraRow> {
    map_row!(
        r,
        "inventory",
        InfraRow {
            id: "id",
            zone_id: "zone_id",
            parent_id: "parent_id",
            name: "name",
            kind: "kind",
            state: "state",
            domain_id: "domain_id",
            attrs: "attrs",
            created: "created",
        }
    )
}

pub async fn infra_insert(conn: &mut AnyConnection, t: Infra, row: &InfraRow) -> Result<()> {
    let mut q = Sql::new(&format!("INSERT INTO {} (id, zone_id, parent_id, name, kind, state, domain_id, attrs, created) VALUES (", t.table()));
    q.bind(row.id.to_string())
        .push(", ")
        .bind(row.zone_id.to_string())
        .push(", ")
        .bind(row.parent_id.map(|p| p.to_string()));
    q.push(", ")
        .bind(row.name.clone())
        .push(", ")
        .bind(row.kind.clone())
        .push(", ")
        .bind(row.state.clone())
        .push(", ");
    q.bind(row.domain_id.map(|d| d.to_string()))
        .push(", ")
        .bind(row.attrs.to_string())
        .push(", ")
        .bind(now_ms())
        .push(")");
    q.query().execute(conn).await.map_err(DbError::classify)?;
    Ok(())
}

pub async fn infra_get(conn: &mut AnyConnection, t: Infra, id: Uuid) -> Result<Option<InfraRow>> {
    let mut q = Sql::new(&format!(
        "SELECT * FROM {} WHERE removed IS NULL AND id = ",
        t.table()
    ));
    q.bind(id.to_string());
    q.one(conn, infra_row).await
}

/// Filters for [`infra_list`].
#[derive(Clone, Debug, Default)]
pub struct InfraFilter {
    pub ids: Option<Vec<Uuid>>,
    pub zone_id: Option<Uuid>,
    pub parent_id: Option<Uuid>,
    /// Exact name, case-insensitive.
    pub name: Option<String>,
    pub kind: Option<String>,
    pub state: Option<String>,
    /// Only objects not dedicated to a domain, or dedicated to one of these domains.
    pub visible_to_domains: Option<Vec<Uuid>>,
    pub keyword: Option<String>,
    pub offset: u64,
    pub limit: Option<u64>,
}

fn infra_where(q: &mut Sql, f: &InfraFilter) {
    if let Some(ids) = &f.ids {
        if ids.is_empty() {
            q.push(" AND 1 = 0");
        } else {
            q.push(" AND id IN (");
            for (i, id) in ids.iter().enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                q.bind(id.to_string());
            }
            q.push(")");
        }
    }
    if let Some(z) = f.zone_id {
        q.and(" AND zone_id = ", z.to_string());
    }
    if let Some(p) = f.parent_id {
        q.and(" AND parent_id = ", p.to_string());
    }
    if let Some(n) = &f.name {
        q.and(" AND lower(name) = lower(", n.clone()).push(")");
    }
    if let Some(k) = &f.kind {
        q.and(" AND lower(kind) = lower(", k.clone()).push(")");
    }
    if let Some(s) = &f.state {
        q.and(" AND lower(state) = lower(", s.clone()).push(")");
    }
    if let Some(ds) = &f.visible_to_domains {
        q.push(" AND (domain_id IS NULL");
        for d in ds {
            q.and(" OR domain_id = ", d.to_string());
        }
        q.push(")");
    }
    if let Some(k) = &f.keyword {
        q.and(" AND lower(name) LIKE ", format!("%{}%", k.to_lowercase()));
    }
}

pub async fn infra_list(
    conn: &mut AnyConnection,
    t: Infra,
    f: &InfraFilter,
) -> Result<Listed<InfraRow>> {
    let mut c = Sql::new(&format!(
        "SELECT COUNT(*) FROM {} WHERE removed IS NULL",
        t.table()
    ));
    infra_where(&mut c, f);
    let total: i64 = c.query().fetch_one(&mut *conn).await?.try_get(0)?;
    let mut q = Sql::new(&format!(
        "SELECT * FROM {} WHERE removed IS NULL",
        t.table()
    ));
    infra_where(&mut q, f);
    q.push(" ORDER BY created, id").page(f.offset, f.limit);
    Ok((q.all(conn, infra_row).await?, total.max(0) as u64))
}

/// Writes back name, kind, state, domain and attrs.
pub async fn infra_update(conn: &mut AnyConnection, t: Infra, row: &InfraRow) -> Result<()> {
    let mut q = Sql::new(&format!("UPDATE {} SET name = ", t.table()));
    q.bind(row.name.clone())
        .and(", kind = ", row.kind.clone())
        .and(", state = ", row.state.clone());
    q.and(", domain_id = ", row.domain_id.map(|d| d.to_string()))
        .and(", attrs = ", row.attrs.to_string());
    q.and(" WHERE removed IS NULL AND id = ", row.id.to_string());
    q.query().execute(conn).await.map_err(DbError::classify)?;
    Ok(())
}

/// Moves an object to another zone and parent (a template whose origin zone passed to a copy).
pub async fn infra_move(
    conn: &mut AnyConnection,
    t: Infra,
    id: Uuid,
    zone_id: Uuid,
    parent_id: Option<Uuid>,
) -> Result<()> {
    let mut q = Sql::new(&format!("UPDATE {} SET zone_id = ", t.table()));
    q.bind(zone_id.to_string())
        .and(", parent_id = ", parent_id.map(|p| p.to_string()));
    q.and(" WHERE removed IS NULL AND id = ", id.to_string());
    q.query().execute(conn).await.map_err(DbError::classify)?;
    Ok(())
}

pub async fn infra_mark_removed(conn: &mut AnyConnection, t: Infra, id: Uuid) -> Result<bool> {
    let mut q = Sql::new(&format!("UPDATE {} SET removed = ", t.table()));
    q.bind(now_ms())
        .and(" WHERE removed IS NULL AND id = ", id.to_string());
    Ok(q.query().execute(conn).await?.rows_affected() > 0)
}

/// How many live objects of `t` have this parent.
pub async fn infra_count_children(conn: &mut AnyConnection, t: Infra, parent: Uuid) -> Result<u64> {
    let mut q = Sql::new(&format!(
        "SELECT COUNT(*) FROM {} WHERE removed IS NULL AND parent_id = ",
        t.table()
    ));
    q.bind(parent.to_string());
    let n: i64 = q.query().fetch_one(conn).await?.try_get(0)?;
    Ok(n.max(0) as u64)
}
