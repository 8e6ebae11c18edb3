//! Stickiness (LbCookie, AppCookie, SourceBased) and health-check policies of load balancers.

use std::collections::BTreeMap;

use api::{list_body, success_body, ApiError, Args};
use db::{RuleRow, RuleSpec};
use serde_json::{json, Value};
use uuid::Uuid;

use super::plan;
use crate::context::OpContext;
use crate::error::{param_err, AppResult};
use crate::events::Event;
use crate::handlers::netrules::{activate, owned_rule, owner_fields, revoke};
use crate::jobs::{JobPlan, JobRef};
use crate::state::State;

const METHODS: &[&str] = &["LbCookie", "AppCookie", "SourceBased"];

// --- stickiness and health checks ----------------------------------------------------------

fn policy_view(r: &RuleRow, lb: &RuleRow, zone: Option<Uuid>) -> Value {
    let (wrapper, inner) = match &r.spec {
        RuleSpec::Stickiness(s) => (
            "stickinesspolicy",
            json!({
                "id": r.id,
                "name": r.name,
                "methodname": s.methodname,
                "description": s.description,
                "params": s.params,
                "state": r.state,
                "fordisplay": s.fordisplay,
            }),
        ),
        RuleSpec::HealthCheck(h) => (
            "healthcheckpolicy",
            json!({
                "id": r.id,
                "pingpath": h.pingpath,
                "description": h.description,
                "responsetime": h.responsetimeout,
                "healthcheckinterval": h.intervaltime,
                "healthcheckthresshold": h.healthythreshold,
                "unhealthcheckthresshold": h.unhealthythreshold,
                "state": r.state,
                "fordisplay": h.fordisplay,
            }),
        ),
        _ => ("healthcheckpolicy", json!({ "id": r.id, "state": r.state })),
    };
    let mut v = json!({
        "lbruleid": lb.id,
        wrapper: [inner],
    });
    if let RuleSpec::Stickiness(s) = &r.spec {
        v["name"] = json!(r.name);
        v["description"] = json!(s.description);
        v["state"] = json!(r.state);
    }
    if let Some(z) = zone {
        v["zoneid"] = json!(z);
    }
    owner_fields(&mut v, lb);
    v
}

async fn lb_zone(st: &State, lb: &RuleRow) -> AppResult<Option<Uuid>> {
    let Some(ip) = lb.ip_id else { return Ok(None) };
    let mut c = st.store.read().await?;
    Ok(db::public_ip_get(&mut c, ip).await?.map(|i| i.zone_id))
}

async fn insert_policy(
    st: &State,
    ctx: &OpContext,
    lb: &RuleRow,
    name: Option<String>,
    spec: RuleSpec,
) -> AppResult<Uuid> {
    let kind = spec.kind();
    let existing = {
        let mut c = st.store.read().await?;
        db::rule_list(
            &mut c,
            &db::RuleFilter {
                kinds: vec![kind],
                parent_ids: vec![lb.id],
                ..Default::default()
            },
        )
        .await?
        .1
    };
    if existing > 0 {
        return param_err(format!(
            "Failed to create the policy: load balancer rule {} already has a {kind} policy; delete it first",
            lb.id
        ));
    }
    let id = Uuid::new_v4();
    let mut tx = st.store.begin().await?;
    db::rule_insert(
        &mut tx,
        &db::NewRule {
            id,
            name,
            state: model::RuleState::Add,
            account_id: lb.account_id,
            domain_id: lb.domain_id,
            network_id: lb.network_id,
            ip_id: None,
            parent_id: Some(lb.id),
            spec,
        },
    )
    .await?;
    let ev = if kind == "stickiness" {
        "LB.STICKINESSPOLICY.CREATE"
    } else {
        "LB.HEALTHCHECKPOLICY.CREATE"
    };
    Event::new(ctx, ev, format!("{kind} policy on load balancer {}", lb.id))
        .resource(id, "LoadBalancerRule", None)
        .record(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(id)
}

pub async fn create_stickiness_prepare(
    st: &State,
    ctx: &OpContext,
    args: &Args,
) -> AppResult<JobPlan> {
    let lb = owned_rule(st, ctx, "lbruleid", args.required_id("lbruleid")?, &["lb"]).await?;
    let given = args.required_str("methodname")?;
    let Some(method) = METHODS.iter().find(|m| m.eq_ignore_ascii_case(given)) else {
        return param_err(format!(
            "Failed to create Stickiness policy: Invalid stickiness method {given} (use LbCookie, AppCookie or SourceBased)"
        ));
    };
    let allowed: &[&str] = match *method {
        "LbCookie" => &[
            "cookie-name",
            "mode",
            "nocache",
            "indirect",
            "postonly",
            "domain",
        ],
        "AppCookie" => &[
            "cookie-name",
            "length",
            "holdtime",
            "request-learn",
            "prefix",
            "mode",
        ],
        _ => &["tablesize", "expire"],
    };
    let mut params = BTreeMap::new();
    for m in args.map("param").unwrap_or_default() {
        let (Some(n), Some(v)) = (m.get("name"), m.get("value")) else {
            return param_err("param entries need a name and a value");
        };
        let n = n.trim().to_ascii_lowercase();
        if !allowed.contains(&n.as_str()) {
            return param_err(format!(
                "Failed to create Stickiness policy: parameter {n} is not supported by {method} (it takes {})",
                allowed.join(", ")
            ));
        }
        let ok = match n.as_str() {
            "length" | "tablesize" => v.trim_end_matches(['k', 'm', 'g']).parse::<u64>().is_ok(),
            "holdtime" | "expire" => v
                .trim_end_matches(['s', 'm', 'h', 'd'])
                .parse::<u64>()
                .is_ok(),
            "nocache" | "indirect" | "postonly" | "request-learn" | "prefix" => {
                v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false")
            }
            _ => !v.is_empty() && !v.contains(char::is_whitespace),
        };
        if !ok {
            return param_err(format!(
                "Failed to create Stickiness policy: invalid value {v:?} for {n}"
            ));
        }
        params.insert(n, v.clone());
    }
    if (*method == "LbCookie" || *method == "AppCookie") && lb.spec.protocol() == Some("udp") {
        return param_err("Cookie-based stickiness needs a TCP (HTTP) load balancer rule");
    }
    let spec = RuleSpec::Stickiness(db::rulespec::StickinessSpec {
        methodname: method.to_string(),
        description: args.text("description").unwrap_or("").to_string(),
        params,
        fordisplay: args.bool("fordisplay").unwrap_or(true),
    });
    let name = args.required_str("name")?.trim().to_string();
    let id = insert_policy(st, ctx, &lb, Some(name), spec).await?;
    Ok(JobPlan {
        instance_type: Some("LoadBalancerRule"),
        instance_id: Some(id.to_string()),
        returns_id: true,
        description: "Creating a stickiness policy".into(),
    })
}

async fn policy_result(st: &State, id: Uuid, key: &str) -> AppResult<Value> {
    let r = activate(st, id).await?;
    let lb = {
        let mut c = st.store.read().await?;
        db::rule_get(&mut c, r.parent_id.unwrap_or_default()).await?
    }
    .ok_or_else(|| {
        ApiError::invalid_id("lbruleid", &r.parent_id.unwrap_or_default().to_string())
    })?;
    let z = lb_zone(st, &lb).await?;
    Ok(json!({ key: policy_view(&r, &lb, z) }))
}

pub async fn create_stickiness_run(
    st: &State,
    _ctx: &OpContext,
    _args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    policy_result(st, job.instance()?, "stickinesspolicies").await
}

async fn list_policies(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    kind: &'static str,
    key: &str,
) -> AppResult<Value> {
    let lb = match (args.uuid("lbruleid"), args.uuid("id")) {
        (Some(l), _) => owned_rule(st, ctx, "lbruleid", l, &["lb"]).await?,
        (None, Some(p)) => {
            let pol = owned_rule(st, ctx, "id", p, &[kind]).await?;
            owned_rule(st, ctx, "id", pol.parent_id.unwrap_or_default(), &["lb"]).await?
        }
        (None, None) => return param_err("Please specify lbruleid or id"),
    };
    let mut rows = {
        let mut c = st.store.read().await?;
        db::rule_list(
            &mut c,
            &db::RuleFilter {
                kinds: vec![kind],
                parent_ids: vec![lb.id],
                ..Default::default()
            },
        )
        .await?
        .0
    };
    if let Some(p) = args.uuid("id") {
        rows.retain(|r| r.id == p);
    }
    let z = lb_zone(st, &lb).await?;
    // One object per rule, with its policies (CloudStack answers the rule's even when empty).
    let mut v = policy_view_many(&rows, &lb, z, kind);
    if rows.is_empty() && kind == "stickiness" {
        v["stickinesspolicy"] = json!([]);
    }
    Ok(list_body(key, 1, vec![v]))
}

fn policy_view_many(rows: &[RuleRow], lb: &RuleRow, zone: Option<Uuid>, kind: &str) -> Value {
    let key = if kind == "stickiness" {
        "stickinesspolicy"
    } else {
        "healthcheckpolicy"
    };
    let mut base = match rows.first() {
        Some(r) => policy_view(r, lb, zone),
        None => {
            let mut v = json!({"lbruleid": lb.id, key: []});
            owner_fields(&mut v, lb);
            if let Some(z) = zone {
                v["zoneid"] = json!(z);
            }
            v
        }
    };
    let all: Vec<Value> = rows
        .iter()
        .filter_map(|r| policy_view(r, lb, zone)[key].get(0).cloned())
        .collect();
    base[key] = json!(all);
    base
}

pub async fn list_stickiness(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    list_policies(st, ctx, args, "stickiness", "stickinesspolicies").await
}

pub async fn delete_stickiness_prepare(
    st: &State,
    ctx: &OpContext,
    args: &Args,
) -> AppResult<JobPlan> {
    let r = owned_rule(st, ctx, "id", args.required_id("id")?, &["stickiness"]).await?;
    Ok(plan(&r, "Deleting the stickiness policy of"))
}

pub async fn delete_stickiness_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    _job: &JobRef,
) -> AppResult<Value> {
    revoke(st, ctx, args.required_id("id")?, &["stickiness"]).await?;
    Ok(success_body())
}

pub async fn create_healthcheck_prepare(
    st: &State,
    ctx: &OpContext,
    args: &Args,
) -> AppResult<JobPlan> {
    let lb = owned_rule(st, ctx, "lbruleid", args.required_id("lbruleid")?, &["lb"]).await?;
    let get = |k: &str, d: i64, lo: i64, hi: i64| -> AppResult<i64> {
        let v = args.int(k).unwrap_or(d);
        if (lo..=hi).contains(&v) {
            Ok(v)
        } else {
            param_err(format!("Invalid {k} {v}: between {lo} and {hi}"))
        }
    };
    let timeout = get("responsetimeout", 2, 2, 60)?;
    let interval = get("intervaltime", 5, 1, 20940)?;
    if interval <= timeout {
        return param_err("intervaltime must be greater than responsetimeout");
    }
    let path = args.text("pingpath").unwrap_or("/").trim().to_string();
    if !path.starts_with('/') || path.contains(char::is_whitespace) {
        return param_err(format!("Invalid pingpath {path:?}: an absolute HTTP path"));
    }
    let spec = RuleSpec::HealthCheck(db::rulespec::HealthCheckSpec {
        pingpath: path,
        responsetimeout: timeout,
        intervaltime: interval,
        healthythreshold: get("healthythreshold", 2, 1, 10)?,
        unhealthythreshold: get("unhealthythreshold", 10, 1, 10)?,
        description: args.text("description").unwrap_or("").to_string(),
        fordisplay: args.bool("fordisplay").unwrap_or(true),
    });
    let id = insert_policy(st, ctx, &lb, None, spec).await?;
    Ok(JobPlan {
        instance_type: Some("LoadBalancerRule"),
        instance_id: Some(id.to_string()),
        returns_id: true,
        description: "Creating a health check policy".into(),
    })
}

pub async fn create_healthcheck_run(
    st: &State,
    _ctx: &OpContext,
    _args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    policy_result(st, job.instance()?, "healthcheckpolicies").await
}

pub async fn list_healthcheck(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    list_policies(st, ctx, args, "healthcheck", "healthcheckpolicies").await
}

pub async fn delete_healthcheck_prepare(
    st: &State,
    ctx: &OpContext,
    args: &Args,
) -> AppResult<JobPlan> {
    let r = owned_rule(st, ctx, "id", args.required_id("id")?, &["healthcheck"]).await?;
    Ok(plan(&r, "Deleting the health check policy of"))
}

pub async fn delete_healthcheck_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    _job: &JobRef,
) -> AppResult<Value> {
    revoke(st, ctx, args.required_id("id")?, &["healthcheck"]).await?;
    Ok(success_body())
}
