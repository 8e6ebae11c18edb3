//! Roles (the default set is seeded on first start).

use api::{list_body, Args};
use model::identity::RoleType;
use serde_json::Value;

use crate::context::OpContext;
use crate::error::{param_err, AppResult};
use crate::state::State;
use crate::views;

pub async fn list(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let role_type = match args.text("type") {
        Some(t) => match RoleType::parse(t) {
            Some(t) => Some(t),
            None => {
                return param_err(format!(
                    "Invalid role type {t}: use Admin, ResourceAdmin, DomainAdmin or User"
                ))
            }
        },
        None => None,
    };
    let mut c = st.store.read().await?;
    let rows = db::role_list(
        &mut c,
        args.id("id"),
        args.text("name"),
        role_type,
        args.text("keyword"),
    )
    .await?;
    // Domain admins do not see the root-admin role.
    let rows: Vec<_> = rows
        .into_iter()
        .filter(|r| ctx.is_root_admin() || r.role_type != RoleType::Admin)
        .collect();
    let total = rows.len() as u64;
    let page = args.page.slice(rows).iter().map(views::role).collect();
    Ok(list_body("role", total, page))
}
