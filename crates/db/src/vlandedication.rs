//! Guest VNI ranges dedicated to accounts (dedicateGuestVlanRange): the account's networks
//! take their VNIs from its ranges first; no other account's network takes one of them.

use sqlx::{AnyConnection, Row};
use uuid::Uuid;

use model::ids::{AccountId, DomainId};

use crate::mapper::parsed;
use crate::migrate::now_ms;
use crate::sql::Sql;
use crate::{DbError, Result};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VlanDedicationRow {
    pub id: Uuid,
    pub zone_id: Uuid,
    pub physnet_id: Uuid,
    pub first_vni: i64,
    pub last_vni: i64,
    pub account_id: AccountId,
    pub domain_id: DomainId,
    pub created: i64,
}

const COLS: &str =
    "SELECT id, zone_id, physnet_id, first_vni, last_vni, account_id, domain_id, created \
     FROM guest_vlan_dedications WHERE 1 = 1";

fn row(r: &sqlx::any::AnyRow) -> Result<VlanDedicationRow> {
    const T: &str = "guest_vlan_dedications";
    Ok(VlanDedicationRow {
        id: parsed(r, T, "id")?,
        zone_id: parsed(r, T, "zone_id")?,
        physnet_id: parsed(r, T, "physnet_id")?,
        first_vni: r.try_get("first_vni")?,
        last_vni: r.try_get("last_vni")?,
        account_id: parsed(r, T, "account_id")?,
        domain_id: parsed(r, T, "domain_id")?,
        created: r.try_get("created")?,
    })
}

/// The dedications of a zone (`None`: every zone), oldest first.
pub async fn vlan_dedication_list(
    conn: &mut AnyConnection,
    zone: Option<Uuid>,
) -> Result<Vec<VlanDedicationRow>> {
    let mut q = Sql::new(COLS);
    if let Some(z) = zone {
        q.and(" AND zone_id = ", z);
    }
    q.push(" ORDER BY created, id");
    let rows = q.query().fetch_all(&mut *conn).await?;
    rows.iter().map(row).collect()
}

pub async fn vlan_dedication_insert(conn: &mut AnyConnection, d: &VlanDedicationRow) -> Result<()> {
    let mut q = Sql::new(
        "INSERT INTO guest_vlan_dedications (id, zone_id, physnet_id, first_vni, last_vni, \
         account_id, domain_id, created) VALUES (",
    );
    q.bind(d.id)
        .push(", ")
        .bind(d.zone_id)
        .push(", ")
        .bind(d.physnet_id)
        .push(", ")
        .bind(d.first_vni)
        .push(", ")
        .bind(d.last_vni)
        .push(", ")
        .bind(d.account_id)
        .push(", ")
        .bind(d.domain_id)
        .push(", ")
        .bind(now_ms())
        .push(")");
    q.query()
        .execute(&mut *conn)
        .await
        .map_err(DbError::classify)?;
    Ok(())
}

pub async fn vlan_dedication_delete(conn: &mut AnyConnection, id: Uuid) -> Result<bool> {
    let mut q = Sql::new("DELETE FROM guest_vlan_dedications WHERE id = ");
    q.bind(id);
    Ok(q.query().execute(&mut *conn).await?.rows_affected() > 0)
}

/// The account and VNI of every live network of a zone that has one.
pub async fn network_vni_owners(
    conn: &mut AnyConnection,
    zone: Uuid,
) -> Result<Vec<(Option<AccountId>, i64)>> {
    let mut q = Sql::new(
        "SELECT account_id, vni FROM networks WHERE removed IS NULL AND vni IS NOT NULL AND zone_id = ",
    );
    q.bind(zone);
    let rows = q.query().fetch_all(&mut *conn).await?;
    rows.iter()
        .map(|r| {
            let a: Option<String> = r.try_get("account_id")?;
            let a = match a {
                Some(s) => Some(s.parse().map_err(|_| DbError::Corrupt {
                    table: "networks",
                    column: "account_id",
                    value: s,
                })?),
                None => None,
            };
            Ok((a, r.try_get::<i64, _>("vni")?))
        })
        .collect()
}
