//! Virtual private clouds. A VPC's tiers are `networks` rows with its `vpc_id`; its router is
//! a `routers` row with its `vpc_id`; its network ACL lists are `net_rules` of kind `acllist`
//! whose parent is the VPC.

use sqlx::any::AnyRow;
use sqlx::AnyConnection;
use uuid::Uuid;

use model::ids::{AccountId, DomainId, VpcId};

use crate::identity::{count, Listed};
use crate::mapper::map_row;
use crate::migrate::now_ms;
use crate::sql::{in_list, OwnerScope, Sql};
use crate::{DbError, Result};

#[derive(Clone, Debug, PartialEq)]
pub struct VpcRow {
    pub id: VpcId,
    pub name: String,
    pub display_text: String,
    pub zone_id: Uuid,
    pub account_id: Option<AccountId>,
    pub account_name: Option<String>,
    pub domain_id: Option<DomainId>,
    pub domain_name: Option<String>,
    pub domain_path: Option<String>,
    pub vpc_offering_id: Uuid,
    /// The super CIDR every tier's CIDR lies in.
    pub cidr: String,
    pub network_domain: Option<String>,
    pub state: model::VpcState,
    /// `fordisplay`, `restartrequired`, `dns1`/`dns2`, `publicmtu`.
    pub attrs: serde_json::Value,
    pub created: i64,
}

#[derive(Clone, Debug, Default)]
pub struct VpcFilter {
    pub scope: Option<OwnerScope>,
    pub ids: Vec<VpcId>,
    pub zone_id: Option<Uuid>,
    pub name: Option<String>,
    pub keyword: Option<String>,
    pub state: Option<model::VpcState>,
    pub offering_id: Option<Uuid>,
    pub offset: u64,
    pub limit: Option<u64>,
}

const COLS: &str = "p.id AS p_id, p.name AS p_name, p.display_text AS p_text, \
    p.zone_id AS p_zone, p.account_id AS p_acct, a.name AS a_name, p.domain_id AS p_dom, \
    d.name AS d_name, d.path AS d_path, p.vpc_offering_id AS p_off, p.cidr AS p_cidr, \
    p.network_domain AS p_nd, p.state AS p_state, p.attrs AS p_attrs, p.created AS p_created";
const FROM: &str = " FROM vpcs p LEFT JOIN accounts a ON a.id = p.account_id \
    LEFT JOIN domains d ON d.id = p.domain_id WHERE p.removed IS NULL";

fn row(r: &AnyRow) -> Result<VpcRow> {
    map_row!(
        r,
        "vpcs",
        VpcRow {
            id: "p_id",
            name: "p_name",
            display_text: "p_text",
            zone_id: "p_zone",
            account_id: "p_acct",
            account_name: "a_name",
            domain_id: "p_dom",
            domain_name: "d_name",
            domain_path: "d_path",
            vpc_offering_id: "p_off",
            cidr: "p_cidr",
            network_domain: "p_nd",
            state: "p_state",
            attrs: "p_attrs",
            created: "p_created",
        }
    )
}

/// Adds a VPC; a name the account already uses in the zone is a [`DbError::Conflict`].
pub async fn vpc_insert(conn: &mut AnyConnection, v: &VpcRow) -> Result<()> {
    let mut q = Sql::new(
        "INSERT INTO vpcs (id, name, display_text, zone_id, account_id, domain_id, \
         vpc_offering_id, cidr, network_domain, state, attrs, created) VALUES (",
    );
    q.bind(v.id)
        .push(", ")
        .bind(v.name.clone())
        .push(", ")
        .bind(v.display_text.clone())
        .push(", ")
        .bind(v.zone_id)
        .push(", ")
        .bind(v.account_id)
        .push(", ")
        .bind(v.domain_id)
        .push(", ")
        .bind(v.vpc_offering_id)
        .push(", ")
        .bind(v.cidr.clone())
        .push(", ")
        .bind(v.network_domain.clone())
        .push(", ")
        .bind(v.state)
        .push(", ")
        .bind(v.attrs.to_string())
        .push(", ")
        .bind(now_ms())
        .push(")");
    q.query()
        .execute(&mut *conn)
        .await
        .map_err(DbError::classify)?;
    Ok(())
}

pub async fn vpc_get(conn: &mut AnyConnection, id: VpcId) -> Result<Option<VpcRow>> {
    let mut q = Sql::new(&format!("SELECT {COLS}{FROM}"));
    q.and(" AND p.id = ", id);
    q.one(conn, row).await
}

fn vpc_where(q: &mut Sql, f: &VpcFilter) {
    if let Some(s) = &f.scope {
        s.push(q, "p.account_id", "d");
    }
    if !f.ids.is_empty() {
        in_list(q, "p.id", &f.ids);
    }
    if let Some(z) = f.zone_id {
        q.and(" AND p.zone_id = ", z);
    }
    if let Some(n) = &f.name {
        q.and(" AND lower(p.name) = ", n.to_lowercase());
    }
    if let Some(k) = &f.keyword {
        q.and(
            " AND lower(p.name) LIKE ",
            format!("%{}%", k.to_lowercase()),
        );
    }
    if let Some(s) = f.state {
        q.and(" AND p.state = ", s);
    }
    if let Some(o) = f.offering_id {
        q.and(" AND p.vpc_offering_id = ", o);
    }
}

pub async fn vpc_list(conn: &mut AnyConnection, f: &VpcFilter) -> Result<Listed<VpcRow>> {
    let mut c = Sql::new(&format!("SELECT COUNT(*){FROM}"));
    vpc_where(&mut c, f);
    let total = count(conn, &c).await?;
    let mut q = Sql::new(&format!("SELECT {COLS}{FROM}"));
    vpc_where(&mut q, f);
    q.push(" ORDER BY p.created, p.id").page(f.offset, f.limit);
    Ok((q.all(conn, row).await?, total))
}

/// Replaces what `updateVPC` and the lifecycle change: name, display text, state, attributes.
pub async fn vpc_update(conn: &mut AnyConnection, v: &VpcRow) -> Result<u64> {
    let mut q = Sql::new("UPDATE vpcs SET name = ");
    q.bind(v.name.clone())
        .push(", display_text = ")
        .bind(v.display_text.clone())
        .push(", state = ")
        .bind(v.state)
        .push(", attrs = ")
        .bind(v.attrs.to_string())
        .and(" WHERE removed IS NULL AND id = ", v.id);
    Ok(q.query()
        .execute(&mut *conn)
        .await
        .map_err(DbError::classify)?
        .rows_affected())
}

pub async fn vpc_remove(conn: &mut AnyConnection, id: VpcId) -> Result<u64> {
    let mut q = Sql::new("UPDATE vpcs SET removed = ");
    q.bind(now_ms()).and(" WHERE removed IS NULL AND id = ", id);
    Ok(q.query().execute(&mut *conn).await?.rows_affected())
}
