//! Regions (root admins; CloudStack's addRegion, updateRegion, removeRegion, listRegions):
//! region 1 is this cloud; the others name other clouds' API endpoints. Canopy federates
//! nothing between regions (no GSLB, no portable IPs): they are listed for clients that ask.

use api::{list_body, success_body, ApiError, Args};
use db::RegionRow;
use serde_json::{json, Value};

use crate::context::OpContext;
use crate::error::{param_err, AppResult};
use crate::state::State;

fn view(r: &RegionRow) -> Value {
    json!({
        "id": r.id,
        "name": r.name,
        "endpoint": r.endpoint,
        "gslbserviceenabled": false,
        "portableipserviceenabled": false,
    })
}

async fn all(st: &State) -> AppResult<Vec<RegionRow>> {
    let mut c = st.store.read().await?;
    Ok(db::region_list(&mut c).await?)
}

fn endpoint(v: &str) -> AppResult<String> {
    let v = v.trim();
    match url::Url::parse(v) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(v.to_string()),
        _ => param_err(format!(
            "Invalid endpoint {v}: an http(s) URL of the region's API"
        )),
    }
}

pub async fn list(st: &State, _ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let name = args.text("name").map(str::trim);
    let keyword = args.text("keyword").map(str::to_lowercase);
    let rows: Vec<RegionRow> = all(st)
        .await?
        .into_iter()
        .filter(|r| args.int("id").is_none_or(|i| i == r.id))
        .filter(|r| name.is_none_or(|n| n == r.name))
        .filter(|r| {
            keyword
                .as_deref()
                .is_none_or(|k| r.name.to_lowercase().contains(k))
        })
        .collect();
    let total = rows.len() as u64;
    Ok(list_body(
        "region",
        total,
        args.page.slice(rows).iter().map(view).collect(),
    ))
}

pub async fn add(st: &State, _ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let id = args
        .int("id")
        .filter(|i| *i > 0)
        .ok_or_else(|| ApiError::param("Please specify a positive region id"))?;
    let r = RegionRow {
        id,
        name: args.required_str("name")?.trim().to_string(),
        endpoint: endpoint(args.required_str("endpoint")?)?,
    };
    if r.name.is_empty() {
        return param_err("The region name can't be empty");
    }
    let mut tx = st.store.begin().await?;
    match db::region_insert(&mut tx, &r).await {
        Err(db::DbError::Conflict(_)) => {
            return param_err(format!(
                "A region with id {} or name {} already exists",
                r.id, r.name
            ))
        }
        x => x?,
    }
    tx.commit().await?;
    Ok(json!({ "region": view(&r) }))
}

pub async fn update(st: &State, _ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let id = args
        .int("id")
        .ok_or_else(|| ApiError::param("Please specify the region id"))?;
    let mut r = all(st)
        .await?
        .into_iter()
        .find(|r| r.id == id)
        .ok_or_else(|| ApiError::param(format!("Region with id {id} doesn't exist")))?;
    if let Some(n) = args.text("name").map(str::trim).filter(|n| !n.is_empty()) {
        r.name = n.to_string();
    }
    if let Some(e) = args.text("endpoint") {
        r.endpoint = endpoint(e)?;
    }
    let mut tx = st.store.begin().await?;
    match db::region_update(&mut tx, &r).await {
        Err(db::DbError::Conflict(_)) => {
            return param_err(format!("A region named {} already exists", r.name))
        }
        x => x?,
    };
    tx.commit().await?;
    Ok(json!({ "region": view(&r) }))
}

pub async fn remove(st: &State, _ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let id = args
        .int("id")
        .ok_or_else(|| ApiError::param("Please specify the region id"))?;
    if id == 1 {
        return param_err("Region 1 is this cloud: it can't be removed");
    }
    let mut tx = st.store.begin().await?;
    if !db::region_remove(&mut tx, id).await? {
        return param_err(format!("Region with id {id} doesn't exist"));
    }
    tx.commit().await?;
    Ok(success_body())
}
