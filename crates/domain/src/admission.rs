//! Admission policies (a Canopy addition, after the mutating webhook of OpenShift's peer pods):
//! a root admin's rule for one runtime class rewrites a deploy request before placement —
//! its CPU and/or memory reservation dropped (the originals kept as the VM's details), host
//! tags required (a node selector) — or refuses it; owners in the policy's protected domains
//! (and their subdomains) or accounts are left alone. Every VM holds one VM slot of its host
//! whatever a policy says (the slot is what a mutated VM still reserves).
//!
//! [`decide`] is pure; [`load`] reads the policies.

use serde::{Deserialize, Serialize};

use crate::core::Core;
use crate::error::DomainResult;

/// What a policy does to a matching request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    #[default]
    Mutate,
    Refuse,
}

/// A policy's rule (`admission_policies.attrs`, with its name and runtime class).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    #[serde(skip)]
    pub id: uuid::Uuid,
    #[serde(skip)]
    pub name: String,
    #[serde(skip)]
    pub runtime_class: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub action: Action,
    #[serde(default)]
    pub drop_cpu: bool,
    #[serde(default)]
    pub drop_memory: bool,
    /// Host tags the VM's host must carry (added to the offering's).
    #[serde(default)]
    pub host_tags: Vec<String>,
    /// Owners left alone: these domains (and their subdomains) and accounts.
    #[serde(default)]
    pub protected_domains: Vec<model::DomainId>,
    #[serde(default)]
    pub protected_accounts: Vec<model::AccountId>,
}

impl Policy {
    /// From its row.
    pub fn of(r: &db::AdmissionRow) -> Policy {
        let mut p: Policy = serde_json::from_value(r.attrs.clone()).unwrap_or_default();
        p.id = r.id;
        p.name = r.name.clone();
        p.runtime_class = r.runtime_class.clone();
        p
    }

    /// Its rule, for the row.
    pub fn attrs(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// Who asks, for what runtime class.
#[derive(Clone, Debug)]
pub struct Subject<'a> {
    pub runtime_class: Option<&'a str>,
    pub account: model::AccountId,
    /// The owner's domain and its ancestors.
    pub domains: &'a [model::DomainId],
}

/// The decision on a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision<'a> {
    /// No policy for its runtime class (or none given).
    Untouched,
    /// A policy matches but the owner is protected from it.
    Protected(&'a Policy),
    Mutate(&'a Policy),
    Refuse(&'a Policy),
}

/// The policy of the request's runtime class (compared without case), applied unless the
/// owner is protected.
pub fn decide<'a>(policies: &'a [Policy], s: &Subject<'_>) -> Decision<'a> {
    let Some(class) = s.runtime_class.map(str::trim).filter(|c| !c.is_empty()) else {
        return Decision::Untouched;
    };
    let Some(p) = policies
        .iter()
        .find(|p| p.runtime_class.eq_ignore_ascii_case(class))
    else {
        return Decision::Untouched;
    };
    if p.protected_accounts.contains(&s.account)
        || s.domains.iter().any(|d| p.protected_domains.contains(d))
    {
        return Decision::Protected(p);
    }
    match p.action {
        Action::Mutate => Decision::Mutate(p),
        Action::Refuse => Decision::Refuse(p),
    }
}

/// Every policy.
pub async fn load(st: &Core) -> DomainResult<Vec<Policy>> {
    let mut c = st.store.read().await?;
    Ok(db::admission_list(&mut c, None)
        .await?
        .iter()
        .map(Policy::of)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(class: &str, action: Action) -> Policy {
        Policy {
            name: format!("{class}-policy"),
            runtime_class: class.into(),
            action,
            drop_cpu: true,
            drop_memory: true,
            ..Default::default()
        }
    }

    #[test]
    fn the_runtime_class_picks_the_policy_and_protection_wins() {
        let root = model::DomainId(uuid::Uuid::new_v4());
        let sys = model::DomainId(uuid::Uuid::new_v4());
        let acct = model::AccountId(uuid::Uuid::new_v4());
        let mut kata = policy("kata-remote", Action::Mutate);
        kata.protected_domains = vec![sys];
        let ps = vec![kata, policy("forbidden", Action::Refuse)];
        let ask = |class: Option<&'static str>, domains: &'static [model::DomainId]| Subject {
            runtime_class: class,
            account: acct,
            domains,
        };
        let plain: &'static [model::DomainId] = Box::leak(Box::new([root]));
        let under_sys: &'static [model::DomainId] = Box::leak(Box::new([root, sys]));
        assert!(
            matches!(decide(&ps, &ask(Some("KATA-remote"), plain)), Decision::Mutate(p) if p.runtime_class == "kata-remote")
        );
        assert!(matches!(
            decide(&ps, &ask(Some("kata-remote"), under_sys)),
            Decision::Protected(_)
        ));
        assert!(matches!(
            decide(&ps, &ask(Some("forbidden"), plain)),
            Decision::Refuse(_)
        ));
        assert_eq!(decide(&ps, &ask(Some("runc"), plain)), Decision::Untouched);
        assert_eq!(decide(&ps, &ask(None, plain)), Decision::Untouched);
        assert_eq!(decide(&ps, &ask(Some("  "), plain)), Decision::Untouched);
        // Protected by account.
        let mut p = ps.clone();
        p[0].protected_accounts = vec![acct];
        assert!(matches!(
            decide(&p, &ask(Some("kata-remote"), plain)),
            Decision::Protected(_)
        ));
    }
}
