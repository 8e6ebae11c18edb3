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
