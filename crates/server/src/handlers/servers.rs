//! Management servers (`listManagementServers`, `listManagementServersMetrics`): the servers
//! registered on this database, as each last reported itself at its heartbeat.

use api::{list_body, Args};
use serde_json::{json, Value};

use crate::context::OpContext;
use crate::error::AppResult;
use crate::state::State;

/// A server's state as peers see it: its stored state, or Down when its heartbeat is older
/// than `cluster.heartbeat.threshold` (before any peer has written that judgement down).
fn state_of(st: &State, s: &db::ServerRow, now: i64) -> String {
    if s.state != "Down" && now - s.heartbeat > st.settings.int("cluster.heartbeat.threshold") {
        "Down".into()
    } else {
        s.state.clone()
    }
}

fn view(st: &State, s: &db::ServerRow, now: i64) -> Value {
    let ip = s
        .agent_endpoint
        .rsplit_once(':')
        .map(|(h, _)| h.trim_matches(['[', ']']).to_string())
        .unwrap_or_default();
    let mut v = json!({
        "id": s.id,
        "name": s.name,
        "state": state_of(st, s, now),
        "version": s.version,
        "lastserverstart": api::time::format_ms(s.started),
        "serviceip": ip,
        "ipaddress": ip,
        "agentendpoint": s.agent_endpoint,
    });
    if let Some(t) = s.stopped {
        v["lastserverstop"] = json!(api::time::format_ms(t));
    }
    for k in ["osdistribution", "kernelversion", "lastboottime"] {
        if let Some(x) = s.metrics.get(k) {
            v[k] = x.clone();
        }
    }
    v
}

async fn rows(st: &State, args: &Args) -> AppResult<Vec<db::ServerRow>> {
    let mut c = st.store.read().await?;
    let mut rows = db::server_list(&mut c).await?;
    if let Some(id) = args.uuid("id") {
        rows.retain(|s| s.id.0 == id);
    }
    if let Some(n) = args.text("name") {
        rows.retain(|s| s.name == n);
    }
    Ok(rows)
}

pub async fn list(st: &State, _ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let now = api::time::now_ms();
    let items: Vec<Value> = rows(st, args)
        .await?
        .iter()
        .map(|s| view(st, s, now))
        .collect();
    let total = items.len() as u64;
    Ok(list_body("managementserver", total, args.page.slice(items)))
}

pub async fn list_metrics(st: &State, _ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let now = api::time::now_ms();
    let servers = rows(st, args).await?;
    let load = {
        let mut c = st.store.read().await?;
        db::server_load(&mut c).await?
    };
    let items: Vec<Value> = servers
        .iter()
        .map(|s| {
            let mut v = view(st, s, now);
            if let Some(m) = s.metrics.as_object() {
                for (k, x) in m {
                    if v.get(k).is_none() {
                        v[k] = x.clone();
                    }
                }
            }
            let (agents, pending) = load.get(&s.id).cloned().unwrap_or_default();
            v["agentcount"] = json!(agents.len());
            v["agentscount"] = json!(agents.len());
            v["agents"] = json!(agents);
            v["pendingjobscount"] = json!(pending);
            v
        })
        .collect();
    let total = items.len() as u64;
    Ok(list_body("managementserver", total, args.page.slice(items)))
}

/// A server's maintenance status (`ManagementServerMaintenanceResponse`).
async fn maintenance_view(st: &State, id: model::ServerId) -> AppResult<Value> {
    let mut c = st.store.read().await?;
    let s = db::server_list(&mut c)
        .await?
        .into_iter()
        .find(|s| s.id == id)
        .ok_or_else(|| {
            api::ApiError::param(format!("Unable to find a management server by id {id}"))
        })?;
    let (agents, pending) = db::server_load(&mut c)
        .await?
        .remove(&id)
        .unwrap_or_default();
    let state = state_of(st, &s, api::time::now_ms());
    Ok(json!({ "managementserver": {
        "managementserverid": s.id,
        "state": state,
        "maintenanceinitiated": state == "PreparingForMaintenance" || state == "Maintenance",
        "shutdowntriggered": false,
        "readyforshutdown": state == "Maintenance" || (agents.is_empty() && pending == 0),
        "pendingjobscount": pending,
        "agentscount": agents.len(),
        "agents": agents,
    }}))
}

/// `prepareForMaintenance`: the server stops taking new jobs (503), finishes its running
/// ones, then moves its agents to the other servers and is in Maintenance (it acts at its
/// next heartbeats). Refused for the only server Up, or while another is preparing.
pub async fn prepare_for_maintenance(
    st: &State,
    _ctx: &OpContext,
    args: &Args,
) -> AppResult<Value> {
    let id: model::ServerId = args.required_id("managementserverid")?;
    let now = api::time::now_ms();
    let servers = {
        let mut c = st.store.read().await?;
        db::server_list(&mut c).await?
    };
    let Some(target) = servers.iter().find(|s| s.id == id) else {
        return Err(
            api::ApiError::param(format!("Unable to find a management server by id {id}")).into(),
        );
    };
    let up: Vec<&db::ServerRow> = servers
        .iter()
        .filter(|s| state_of(st, s, now) == "Up")
        .collect();
    match state_of(st, target, now).as_str() {
        "Up" => {}
        "PreparingForMaintenance" | "Maintenance" => return maintenance_view(st, id).await,
        other => {
            return Err(api::ApiError::param(format!(
                "Management server {} is {other}: only a server that is Up can be prepared for maintenance",
                target.name
            ))
            .into())
        }
    }
    if !up.iter().any(|s| s.id != id) {
        return Err(api::ApiError::param(format!(
            "Management server {} is the only one Up: its hosts' agents would have nowhere to go",
            target.name
        ))
        .into());
    }
    let forced = args.bool("forced").unwrap_or(false);
    if !forced
        && servers
            .iter()
            .any(|s| s.id != id && state_of(st, s, now) == "PreparingForMaintenance")
    {
        return Err(api::ApiError::param(
            "Another management server is preparing for maintenance; wait for it, or use forced=true",
        )
        .into());
    }
    {
        let mut tx = st.store.begin().await?;
        db::server_transition(&mut tx, id, &["Up"], "PreparingForMaintenance").await?;
        tx.commit().await?;
    }
    maintenance_view(st, id).await
}

/// `cancelMaintenance`: the server is Up again and takes new jobs (at its next heartbeat).
pub async fn cancel_maintenance(st: &State, _ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let id: model::ServerId = args.required_id("managementserverid")?;
    let moved = {
        let mut tx = st.store.begin().await?;
        let m = db::server_transition(
            &mut tx,
            id,
            &["PreparingForMaintenance", "Maintenance"],
            "Up",
        )
        .await?;
        tx.commit().await?;
        m
    };
    if !moved {
        let view = maintenance_view(st, id).await?;
        let state = view["managementserver"]["state"]
            .as_str()
            .unwrap_or("")
            .to_string();
        return Err(api::ApiError::param(format!(
            "Management server {id} is {state}, not in maintenance"
        ))
        .into());
    }
    maintenance_view(st, id).await
}
