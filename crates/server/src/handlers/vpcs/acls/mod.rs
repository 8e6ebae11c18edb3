//! Network ACL lists and their items (CloudStack's VPC network ACLs). A list belongs to a VPC
//! (or is global: the built-in `default_allow` and `default_deny`, or one a root admin made);
//! each tier of a VPC is guarded by exactly one list (`networks.acl_id`). Items are evaluated
//! lowest `number` first; a change to a list is pushed to the routers of every tier it guards.
//!
//! Storage: lists are `net_rules` of kind `acllist` (parent = the VPC), items of kind
//! `aclitem` (parent = the list). The order and the consistency hash are `netplan::acl`'s.
//! Here: the built-in lists and what lists and items share; [`lists`] and [`items`] are the
//! commands.

mod items;
mod lists;

pub use items::*;
pub use lists::*;

use api::ApiError;
use db::rulespec::{AclItemSpec, AclListSpec, L4};
use db::{RuleRow, RuleSpec};
use uuid::Uuid;

use crate::context::OpContext;
use crate::error::{param_err, AppResult};
use crate::state::State;

pub const DEFAULT_ALLOW: &str = "default_allow";
pub const DEFAULT_DENY: &str = "default_deny";

/// Inserts the built-in lists once per database: `default_allow` (allow all ingress and
/// egress) and `default_deny` (rule 1 denies all ingress, rule 2 all egress).
pub async fn seed_defaults(store: &db::DataStore) -> AppResult<()> {
    const MARK: &str = "seed:acl:1";
    {
        let mut c = store.read().await?;
        if db::meta_get(&mut c, MARK).await?.is_some() {
            return Ok(());
        }
    }
    let mut tx = store.begin().await?;
    if !db::meta_insert(&mut tx, MARK, "1").await? {
        return Ok(());
    }
    for (name, action, text) in [
        (DEFAULT_ALLOW, "Allow", "Default Network ACL Allow All"),
        (DEFAULT_DENY, "Deny", "Default Network ACL Deny All"),
    ] {
        let list = Uuid::new_v4();
        db::rule_insert(
            &mut tx,
            &db::NewRule {
                id: list,
                name: Some(name.into()),
                state: model::RuleState::Active,
                account_id: None,
                domain_id: None,
                network_id: None,
                ip_id: None,
                parent_id: None,
                spec: RuleSpec::AclList(AclListSpec {
                    description: text.into(),
                    fordisplay: true,
                    builtin: true,
                }),
            },
        )
        .await?;
        for (number, traffic) in [(1, "Ingress"), (2, "Egress")] {
            db::rule_insert(
                &mut tx,
                &db::NewRule {
                    id: Uuid::new_v4(),
                    name: None,
                    state: model::RuleState::Active,
                    account_id: None,
                    domain_id: None,
                    network_id: None,
                    ip_id: None,
                    parent_id: Some(list),
                    spec: RuleSpec::AclItem(AclItemSpec {
                        l4: L4::protocol("all"),
                        number,
                        action: action.into(),
                        traffictype: traffic.into(),
                        cidrlist: vec!["0.0.0.0/0".into()],
                        reason: String::new(),
                        fordisplay: true,
                    }),
                },
            )
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

fn list_spec(r: &RuleRow) -> Option<&AclListSpec> {
    match &r.spec {
        RuleSpec::AclList(s) => Some(s),
        _ => None,
    }
}

fn item_spec(r: &RuleRow) -> Option<&AclItemSpec> {
    match &r.spec {
        RuleSpec::AclItem(s) => Some(s),
        _ => None,
    }
}

/// A built-in list, which nobody may change.
pub(crate) fn builtin(r: &RuleRow) -> bool {
    list_spec(r).is_some_and(|s| s.builtin)
}

/// The built-in list of this name.
pub(crate) async fn builtin_list(st: &State, name: &str) -> AppResult<RuleRow> {
    let mut c = st.store.read().await?;
    db::rule_list(
        &mut c,
        &db::RuleFilter {
            name: Some(name.into()),
            ..db::RuleFilter::kind("acllist")
        },
    )
    .await?
    .0
    .into_iter()
    .find(|r| r.account_id.is_none() && builtin(r))
    .ok_or_else(|| crate::error::AppError::Internal(format!("the built-in ACL {name} is missing")))
}

/// The list `id` names, if the caller may see it: global lists are everyone's; a VPC's list
/// its owner's (and admins reaching the owner).
pub(crate) async fn visible_list(
    st: &State,
    ctx: &OpContext,
    param: &str,
    id: Uuid,
) -> AppResult<RuleRow> {
    let r = {
        let mut c = st.store.read().await?;
        db::rule_get(&mut c, id).await?
    };
    let Some(r) = r.filter(|r| r.kind() == "acllist") else {
        return Err(ApiError::invalid_id(param, &id.to_string()).into());
    };
    if let Some(a) = r.account_id {
        if a != ctx.account_id() {
            let acct = crate::access::account(st, "account", a).await?;
            if crate::access::check_account(ctx, &acct).is_err() {
                return Err(ApiError::invalid_id(param, &id.to_string()).into());
            }
        }
    }
    Ok(r)
}

/// The list `id` names, if the caller may change it: not a built-in one; a global one only
/// for root admins.
pub(crate) async fn changeable_list(
    st: &State,
    ctx: &OpContext,
    param: &str,
    id: Uuid,
) -> AppResult<RuleRow> {
    let r = visible_list(st, ctx, param, id).await?;
    if builtin(&r) {
        return param_err("Default ACL cannot be modified");
    }
    if r.account_id.is_none() && !ctx.is_root_admin() {
        return Err(ApiError::permission(format!(
            "Only a root admin can change the global ACL list {}",
            r.name.as_deref().unwrap_or_default()
        ))
        .into());
    }
    Ok(r)
}

/// The items of a list.
async fn items_of(st: &State, list: Uuid) -> AppResult<Vec<RuleRow>> {
    let mut c = st.store.read().await?;
    let mut v = db::rule_list(
        &mut c,
        &db::RuleFilter {
            parent_ids: vec![list],
            ..db::RuleFilter::kind("aclitem")
        },
    )
    .await?
    .0;
    v.sort_by_key(|r| (item_spec(r).map(|s| s.number).unwrap_or(0), r.id));
    Ok(v)
}

/// An item as the planner sees it (for ordering, moving and hashing).
pub(crate) fn plan_item(r: &RuleRow) -> Option<netplan::acl::Item> {
    domain::netsync::acl_item(r.id, item_spec(r)?)
}

/// The tiers a list guards.
async fn tiers_using(st: &State, list: Uuid) -> AppResult<Vec<db::NetworkRow>> {
    let mut c = st.store.read().await?;
    Ok(db::network_list(
        &mut c,
        &db::NetworkFilter {
            acl_ids: vec![list],
            ..Default::default()
        },
    )
    .await?
    .0)
}

/// Pushes the configuration of every tier a list guards.
async fn apply_list(st: &State, list: Uuid) -> AppResult<()> {
    let nets: Vec<model::NetworkId> = tiers_using(st, list).await?.iter().map(|n| n.id).collect();
    if !nets.is_empty() {
        crate::netsync::networks_changed(st, &nets).await?;
    }
    Ok(())
}
