//! Settings at a scope (CloudStack's zone, cluster, storage pool, image store, domain and
//! account configurations): `listConfigurations` / `updateConfiguration` with `zoneid`,
//! `clusterid`, `storageid`, `imagestoreid`, `domainid` or `accountid`, and
//! `resetConfiguration`. A value set at a scope is stored among the settings under
//! `model::settings::scoped_key`; reading one follows CloudStack's inheritance: a storage
//! pool, then its cluster and zone; a cluster, then its zone; an image store, then its zone;
//! an account, then its domain and the domain's ancestors; then the global value.

use api::{ApiError, Args};
use db::{Infra, InfraRow};
use model::settings::{scopes_of, Scope};
use uuid::Uuid;

use crate::error::{param_err, AppResult};
use crate::state::State;

/// The scope a request names (at most one of the scope parameters).
pub(crate) fn scope_arg(args: &Args) -> AppResult<Option<(Scope, Uuid)>> {
    let given: Vec<(Scope, Uuid)> = Scope::ALL
        .iter()
        .filter_map(|s| args.uuid(s.param()).map(|id| (*s, id)))
        .collect();
    match given.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(*one)),
        _ => param_err(
            "Specify one scope at most: zoneid, clusterid, storageid, imagestoreid, domainid or accountid",
        ),
    }
}

async fn infra(st: &State, t: Infra, param: &str, id: Uuid) -> AppResult<InfraRow> {
    let mut c = st.store.read().await?;
    db::infra_get(&mut c, t, id)
        .await?
        .ok_or_else(|| ApiError::invalid_id(param, &id.to_string()).into())
}

/// A domain and its ancestors, nearest first.
async fn domain_chain(st: &State, id: model::DomainId) -> AppResult<Vec<(Scope, String)>> {
    let mut out = Vec::new();
    let mut next = Some(id);
    for _ in 0..64 {
        let Some(d) = next else { break };
        let row = crate::access::domain(st, "domainid", d).await?;
        out.push((Scope::Domain, row.id.to_string()));
        next = row.parent_id;
    }
    Ok(out)
}

/// An account's chain: the account, its domain, the domain's ancestors.
pub(crate) async fn account_chain(
    st: &State,
    a: &db::AccountRow,
) -> AppResult<Vec<(Scope, String)>> {
    let mut out = vec![(Scope::Account, a.id.to_string())];
    out.extend(domain_chain(st, a.domain_id).await?);
    Ok(out)
}

/// The objects whose values apply at `(scope, id)`, most specific first (checks it exists).
pub(crate) async fn chain(st: &State, scope: Scope, id: Uuid) -> AppResult<Vec<(Scope, String)>> {
    Ok(match scope {
        Scope::Zone => {
            infra(st, Infra::Zone, scope.param(), id).await?;
            vec![(Scope::Zone, id.to_string())]
        }
        Scope::Cluster => {
            let c = infra(st, Infra::Cluster, scope.param(), id).await?;
            vec![
                (Scope::Cluster, id.to_string()),
                (Scope::Zone, c.zone_id.to_string()),
            ]
        }
        Scope::StoragePool => {
            let p = infra(st, Infra::StoragePool, scope.param(), id).await?;
            let mut v = vec![(Scope::StoragePool, id.to_string())];
            if p.kind == "CLUSTER" {
                if let Some(c) = p.parent_id {
                    v.push((Scope::Cluster, c.to_string()));
                }
            }
            v.push((Scope::Zone, p.zone_id.to_string()));
            v
        }
        Scope::ImageStore => {
            let s = infra(st, Infra::ImageStore, scope.param(), id).await?;
            vec![
                (Scope::ImageStore, id.to_string()),
                (Scope::Zone, s.zone_id.to_string()),
            ]
        }
        Scope::Domain => domain_chain(st, model::DomainId(id)).await?,
        Scope::Account => {
            let a = crate::access::account(st, scope.param(), model::AccountId(id)).await?;
            account_chain(st, &a).await?
        }
    })
}

/// Refuses a setting that cannot be set at this scope.
pub(crate) fn check_scopable(name: &str, scope: Scope) -> AppResult<()> {
    if scopes_of(name).contains(&scope) {
        return Ok(());
    }
    let allowed: Vec<&str> = scopes_of(name).iter().map(|s| s.as_str()).collect();
    param_err(format!(
        "Configuration {name} can't be set for a {}: {}",
        scope.as_str(),
        if allowed.is_empty() {
            "it is a global setting".to_string()
        } else {
            format!("its scopes are {}", allowed.join(", "))
        }
    ))
}
