//! Site-to-site VPN connections of the VPC routers here: each connection (under its VPC's
//! gateway) with its customer gateway, decrypted into the state the compiler reads.

use db::rulespec::kind;
use db::{RuleRow, RuleSpec};
use model::NetworkId;
use netplan::NetState;

use crate::core::Core;
use crate::DomainResult;

/// A connection, its gateway's VPC, and its customer gateway.
pub(super) struct Row {
    vpc: uuid::Uuid,
    conn: RuleRow,
    customer: RuleRow,
}

/// The connections of the VPCs among `keys` (a VPC router's key is its VPC's id).
pub(super) async fn read(c: &mut db::Conn, keys: &[NetworkId]) -> DomainResult<Vec<Row>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let gws = db::rule_list(
        c,
        &db::RuleFilter {
            kinds: vec![kind::S2S_GATEWAY],
            parent_ids: keys.iter().map(|k| k.0).collect(),
            ..Default::default()
        },
    )
    .await?
    .0;
    if gws.is_empty() {
        return Ok(Vec::new());
    }
    let conns = db::rule_list(
        c,
        &db::RuleFilter {
            kinds: vec![kind::S2S_CONNECTION],
            parent_ids: gws.iter().map(|g| g.id).collect(),
            ..Default::default()
        },
    )
    .await?
    .0;
    let wanted: Vec<uuid::Uuid> = conns
        .iter()
        .filter_map(|r| match &r.spec {
            RuleSpec::S2sConnection(s) => Some(s.customergatewayid),
            _ => None,
        })
        .collect();
    let customers = if wanted.is_empty() {
        Vec::new()
    } else {
        db::rule_list(
            c,
            &db::RuleFilter {
                kinds: vec![kind::S2S_CUSTOMER],
                ids: wanted,
                ..Default::default()
            },
        )
        .await?
        .0
    };
    Ok(conns
        .into_iter()
        .filter_map(|conn| {
            let vpc = gws
                .iter()
                .find(|g| Some(g.id) == conn.parent_id)?
                .parent_id?;
            let RuleSpec::S2sConnection(s) = &conn.spec else {
                return None;
            };
            let customer = customers
                .iter()
                .find(|x| x.id == s.customergatewayid)?
                .clone();
            Some(Row {
                vpc,
                conn,
                customer,
            })
        })
        .collect())
}

/// The connections as the compiler reads them (a key that does not decrypt leaves its
/// connection out, logged).
pub(super) fn add(st: &Core, s: &mut NetState, rows: &[Row]) {
    for r in rows {
        let (RuleSpec::S2sConnection(c), RuleSpec::S2sCustomer(x)) =
            (&r.conn.spec, &r.customer.spec)
        else {
            continue;
        };
        let Some(ip_id) = r.conn.ip_id else { continue };
        let psk = match st.key.decrypt(&x.ipsecpsk) {
            Ok(k) => k,
            Err(e) => {
                tracing::warn!(connection = %r.conn.id, error = %e, "the customer gateway's key does not decrypt; connection left out");
                continue;
            }
        };
        s.s2s.push(netplan::SiteToSite {
            id: r.conn.id,
            vpc_id: r.vpc,
            ip_id,
            peer: x.gateway.clone(),
            peer_cidrs: super::rules::cidrs(
                &x.cidrlist
                    .split(',')
                    .map(str::to_string)
                    .collect::<Vec<_>>(),
            ),
            psk,
            ike_policy: x.ikepolicy.clone(),
            esp_policy: x.esppolicy.clone(),
            ike_lifetime: u32::try_from(x.ikelifetime).unwrap_or(86400),
            esp_lifetime: u32::try_from(x.esplifetime).unwrap_or(3600),
            dpd: x.dpd,
            ike_version: x.ikeversion.clone(),
            passive: c.passive,
            split: x.splitconnections,
        });
    }
}
