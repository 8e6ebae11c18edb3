//! Which commands a caller may use: the caller's role's rules first (the first rule whose
//! pattern matches the command decides, `model::rules`), else the command's default for the
//! role's type (`CommandSpec::roles`); read-only roles never mutate. Rules are cached per role
//! for [`TTL`]: a change made on this server takes effect at once, one made on another
//! server within that time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use api::registry::CommandSpec;
use model::rules::{Permission, Rule};
use model::RoleId;

use crate::context::OpContext;
use crate::error::AppResult;
use crate::state::State;

pub const TTL: Duration = Duration::from_secs(2);

pub type Rules = Arc<Vec<(Rule, Permission)>>;

#[derive(Default)]
pub struct RoleRules {
    cache: Mutex<HashMap<RoleId, (Instant, Rules)>>,
}

impl RoleRules {
    /// A role's rules, from the cache while fresh.
    pub async fn of(&self, st: &State, role: RoleId) -> AppResult<Rules> {
        if let Ok(c) = self.cache.lock() {
            if let Some((at, r)) = c.get(&role) {
                if at.elapsed() < TTL {
                    return Ok(r.clone());
                }
            }
        }
        let rules: Rules = {
            let mut c = st.store.read().await?;
            Arc::new(
                db::permission_list(&mut c, role)
                    .await?
                    .into_iter()
                    .map(|p| (p.rule, p.permission))
                    .collect(),
            )
        };
        if let Ok(mut c) = self.cache.lock() {
            c.insert(role, (Instant::now(), rules.clone()));
        }
        Ok(rules)
    }

    /// Drops a role's cached rules (after a change on this server).
    pub fn forget(&self, role: RoleId) {
        if let Ok(mut c) = self.cache.lock() {
            c.remove(&role);
        }
    }
}

/// Whether a caller whose role has `rules` may call `spec`.
pub fn allowed_by(ctx: &OpContext, spec: &CommandSpec, rules: &[(Rule, Permission)]) -> bool {
    if ctx.read_only() && spec.mutates() {
        return false;
    }
    match model::rules::decide(rules, spec.name) {
        Some(p) => p == Permission::Allow,
        None => spec.roles & ctx.role_type().mask() != 0,
    }
}

/// Whether the caller may call `spec` (its role's rules loaded or cached).
pub async fn allowed(st: &State, ctx: &OpContext, spec: &CommandSpec) -> AppResult<bool> {
    let rules = st.role_rules.of(st, ctx.user.account.role_id).await?;
    Ok(allowed_by(ctx, spec, &rules))
}
