//! listAlerts, archiveAlerts, deleteAlerts (root admins): the alerts `domain::alerts` raises —
//! hosts unreachable or Down, management servers gone, VMs where the database does not place
//! them.

use api::{list_body, success_body, ApiError, Args};
use db::AlertFilter;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::context::OpContext;
use crate::error::{param_err, AppResult};
use crate::state::State;

fn view(a: &db::AlertRow) -> Value {
    let mut v = json!({
        "id": a.id,
        "type": a.alert_type,
        "name": a.name,
        "description": a.subject,
        "sent": api::time::format_ms(a.created),
    });
    if let Some(z) = a.zone_id {
        v["zoneid"] = json!(z);
    }
    if let Some(p) = a.pod_id {
        v["podid"] = json!(p);
    }
    if let Some(c) = a.cluster_id {
        v["clusterid"] = json!(c);
    }
    v
}

pub async fn list(st: &State, _ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let f = AlertFilter {
        id: args.uuid("id"),
        alert_type: args.int("type"),
        name: args.text("name").map(str::to_string),
        keyword: args.text("keyword").map(str::to_string),
        archived: Some(false),
        ..Default::default()
    };
    let rows = {
        let mut c = st.store.read().await?;
        db::alert_list(&mut c, &f).await?
    };
    let total = rows.len() as u64;
    let items: Vec<Value> = args.page.slice(rows).iter().map(view).collect();
    Ok(list_body("alert", total, items))
}

/// archiveAlerts / deleteAlerts by ids, type, startdate, enddate (one of them needed).
pub async fn archive_or_delete(st: &State, _ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let mut ids = Vec::new();
    for i in args.list("ids").unwrap_or_default() {
        ids.push(
            i.trim()
                .parse::<Uuid>()
                .map_err(|_| ApiError::invalid_id("ids", i))?,
        );
    }
    let t = args.text("type").map(str::trim).filter(|t| !t.is_empty());
    let alert_type = match t {
        Some(t) => Some(
            t.parse::<i64>()
                .map_err(|_| ApiError::param(format!("Invalid alert type {t}: a number")))?,
        ),
        None => None,
    };
    let (start, end) = (args.date("startdate"), args.date("enddate"));
    if ids.is_empty() && alert_type.is_none() && start.is_none() && end.is_none() {
        return param_err("Please specify ids, type, startdate or enddate of the alerts");
    }
    let f = AlertFilter {
        ids,
        alert_type,
        start,
        end: end.map(|d| {
            if d % 86_400_000 == 0 {
                d + 86_399_999
            } else {
                d
            }
        }),
        ..Default::default()
    };
    let mut tx = st.store.begin().await?;
    if args.command == "deleteAlerts" {
        db::alert_delete(&mut tx, &f).await?;
    } else {
        db::alert_archive(&mut tx, &f).await?;
    }
    tx.commit().await?;
    Ok(success_body())
}
