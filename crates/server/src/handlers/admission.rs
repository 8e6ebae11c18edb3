//! Admission policies (a Canopy addition; `domain::admission` decides): the root admin's
//! commands, and the deploy step that applies the policy of the request's runtime class.

use api::{list_body, success_body, ApiError, Args};
use domain::admission::{Action, Decision, Policy, Subject};
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::context::OpContext;
use crate::error::{param_err, AppResult};
use crate::events::Event;
use crate::state::State;

fn view(p: &Policy, created: i64) -> Value {
    json!({
        "id": p.id,
        "name": p.name,
        "runtimeclass": p.runtime_class,
        "description": p.description,
        "action": match p.action { Action::Mutate => "mutate", Action::Refuse => "refuse" },
        "dropcpu": p.drop_cpu,
        "dropmemory": p.drop_memory,
        "hosttags": p.host_tags.join(","),
        "protecteddomainids": p.protected_domains.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(","),
        "protectedaccountids": p.protected_accounts.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(","),
        "created": api::time::format_ms(created),
    })
}

/// A runtime class or policy name: 1–63 of letters, digits, '-', '_' and '.'.
fn check_name(what: &str, v: &str) -> AppResult<String> {
    let v = v.trim();
    if v.is_empty()
        || v.chars().count() > 63
        || !v
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
    {
        return param_err(format!(
            "Invalid {what} {v:?}: 1 to 63 letters, digits, '-', '_' or '.'"
        ));
    }
    Ok(v.to_string())
}

/// Applies the command's rule parameters to `p`, checking the ids they name.
async fn apply_args(st: &State, p: &mut Policy, args: &Args) -> AppResult<()> {
    if let Some(a) = args.text("action") {
        p.action = if a.eq_ignore_ascii_case("mutate") {
            Action::Mutate
        } else if a.eq_ignore_ascii_case("refuse") {
            Action::Refuse
        } else {
            return param_err(format!("Invalid action {a}: mutate or refuse"));
        };
    }
    if let Some(b) = args.bool("dropcpu") {
        p.drop_cpu = b;
    }
    if let Some(b) = args.bool("dropmemory") {
        p.drop_memory = b;
    }
    if let Some(d) = args.str("description") {
        p.description = d.trim().to_string();
    }
    if let Some(tags) = args.list("hosttags") {
        p.host_tags = tags
            .iter()
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .collect();
    } else if args.given_empty("hosttags") {
        p.host_tags.clear();
    }
    let mut c = st.store.read().await?;
    if let Some(ids) = args.ids::<Uuid>("protecteddomainids") {
        let mut out = Vec::new();
        for id in ids {
            let d = db::domain_get(&mut c, model::DomainId(id))
                .await?
                .ok_or_else(|| ApiError::invalid_id("protecteddomainids", &id.to_string()))?;
            out.push(d.id);
        }
        p.protected_domains = out;
    } else if args.given_empty("protecteddomainids") {
        p.protected_domains.clear();
    }
    if let Some(ids) = args.ids::<Uuid>("protectedaccountids") {
        let mut out = Vec::new();
        for id in ids {
            let a = db::account_get(&mut c, model::AccountId(id))
                .await?
                .ok_or_else(|| ApiError::invalid_id("protectedaccountids", &id.to_string()))?;
            out.push(a.id);
        }
        p.protected_accounts = out;
    } else if args.given_empty("protectedaccountids") {
        p.protected_accounts.clear();
    }
    if p.action == Action::Mutate && !p.drop_cpu && !p.drop_memory && p.host_tags.is_empty() {
        return param_err(
            "A mutating policy must drop the CPU or memory reservation or require host tags",
        );
    }
    Ok(())
}

fn row_of(p: &Policy, created: i64) -> db::AdmissionRow {
    db::AdmissionRow {
        id: p.id,
        name: p.name.clone(),
        runtime_class: p.runtime_class.clone(),
        attrs: p.attrs(),
        created,
    }
}

fn taken(p: &Policy) -> crate::error::AppError {
    ApiError::param(format!(
        "An admission policy named {} or for runtime class {} exists: one policy per name and per runtime class",
        p.name, p.runtime_class
    ))
    .into()
}

pub async fn create(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let mut p = Policy {
        id: Uuid::new_v4(),
        name: check_name("name", args.text("name").unwrap_or_default())?,
        // Runtime classes compare without case (stored lower-case, as Kubernetes names them).
        runtime_class: check_name(
            "runtimeclass",
            args.text("runtimeclass").unwrap_or_default(),
        )?
        .to_ascii_lowercase(),
        drop_cpu: true,
        drop_memory: true,
        ..Default::default()
    };
    apply_args(st, &mut p, args).await?;
    let created = api::time::now_ms();
    let mut tx = st.store.begin().await?;
    match db::admission_insert(&mut tx, &row_of(&p, created)).await {
        Err(db::DbError::Conflict(_)) => return Err(taken(&p)),
        r => r?,
    }
    Event::new(
        ctx,
        "ADMISSION.POLICY.CREATE",
        format!(
            "Admission policy {} for runtime class {} created",
            p.name, p.runtime_class
        ),
    )
    .resource(p.id, "AdmissionPolicy", Some(&p.name))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(json!({ "admissionpolicy": view(&p, created) }))
}

async fn get(st: &State, id: Uuid) -> AppResult<(Policy, i64)> {
    let mut c = st.store.read().await?;
    let r = db::admission_list(&mut c, Some(id))
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::invalid_id("id", &id.to_string()))?;
    Ok((Policy::of(&r), r.created))
}

pub async fn list(st: &State, _ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let rows = {
        let mut c = st.store.read().await?;
        db::admission_list(&mut c, args.uuid("id")).await?
    };
    let want = |r: &db::AdmissionRow| {
        args.text("name")
            .is_none_or(|n| r.name.eq_ignore_ascii_case(n.trim()))
            && args
                .text("runtimeclass")
                .is_none_or(|n| r.runtime_class.eq_ignore_ascii_case(n.trim()))
    };
    let items: Vec<Value> = rows
        .iter()
        .filter(|r| want(r))
        .map(|r| view(&Policy::of(r), r.created))
        .collect();
    let total = items.len();
    let page: Vec<Value> = items
        .into_iter()
        .skip(args.page.offset as usize)
        .take(args.page.limit.map(|l| l as usize).unwrap_or(usize::MAX))
        .collect();
    Ok(list_body("admissionpolicy", total as u64, page))
}

pub async fn update(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let (mut p, created) = get(st, args.required_id("id")?).await?;
    if let Some(n) = args.text("name") {
        p.name = check_name("name", n)?;
    }
    if let Some(n) = args.text("runtimeclass") {
        p.runtime_class = check_name("runtimeclass", n)?.to_ascii_lowercase();
    }
    apply_args(st, &mut p, args).await?;
    let mut tx = st.store.begin().await?;
    match db::admission_update(&mut tx, &row_of(&p, created)).await {
        Err(db::DbError::Conflict(_)) => return Err(taken(&p)),
        r => r?,
    }
    Event::new(
        ctx,
        "ADMISSION.POLICY.UPDATE",
        format!("Admission policy {} updated", p.name),
    )
    .resource(p.id, "AdmissionPolicy", Some(&p.name))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(json!({ "admissionpolicy": view(&p, created) }))
}

pub async fn delete(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let (p, _) = get(st, args.required_id("id")?).await?;
    let mut tx = st.store.begin().await?;
    db::admission_delete(&mut tx, p.id).await?;
    Event::new(
        ctx,
        "ADMISSION.POLICY.DELETE",
        format!("Admission policy {} deleted", p.name),
    )
    .resource(p.id, "AdmissionPolicy", Some(&p.name))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(success_body())
}

/// What admission did to a deploy request.
#[derive(Clone, Debug, Default)]
pub(crate) struct Admitted {
    pub reserve_cpu: bool,
    pub reserve_memory: bool,
    /// Host tags to require besides the offering's.
    pub host_tags: Vec<String>,
    /// Details to add to the VM (the policy and the originals it dropped).
    pub details: Map<String, Value>,
    /// The event text, when a policy changed the request.
    pub event: Option<String>,
}

/// The runtime class of a deploy: `details[0].runtimeclass`, else the service offering's
/// `serviceofferingdetails` `runtimeclass`.
fn runtime_class<'a>(so: &'a db::InfraRow, args: &'a Args) -> Option<&'a str> {
    let of_map = |m: &'a Map<String, Value>| {
        m.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("runtimeclass"))
            .and_then(|(_, v)| v.as_str())
    };
    // The offering keeps `serviceofferingdetails` as sent: a list of maps (or one map).
    super::vms::deploy::detail(args, "runtimeclass").or_else(|| match &so.attrs["details"] {
        Value::Array(a) => a.iter().filter_map(Value::as_object).find_map(of_map),
        Value::Object(m) => of_map(m),
        _ => None,
    })
}

/// Applies the policy of the request's runtime class: refused (431 naming the policy), or the
/// reservations to keep, the host tags to require and the details to record.
pub(crate) async fn admit(
    st: &State,
    acct: &db::AccountRow,
    so: &db::InfraRow,
    compute: (i64, i64, i64),
    args: &Args,
) -> AppResult<Admitted> {
    let mut out = Admitted {
        reserve_cpu: true,
        reserve_memory: true,
        ..Default::default()
    };
    let Some(class) = runtime_class(so, args) else {
        return Ok(out);
    };
    let policies = domain::admission::load(st).await?;
    if policies.is_empty() {
        return Ok(out);
    }
    let domains: Vec<model::DomainId> = super::zones::domain_lineage_of(st, acct.domain_id)
        .await?
        .into_iter()
        .map(model::DomainId)
        .collect();
    let subject = Subject {
        runtime_class: Some(class),
        account: acct.id,
        domains: &domains,
    };
    match domain::admission::decide(&policies, &subject) {
        Decision::Untouched => {}
        Decision::Protected(p) => {
            tracing::debug!(policy = %p.name, account = %acct.id, "admission policy not applied: protected owner");
        }
        Decision::Refuse(p) => {
            return param_err(format!(
                "Refused by admission policy {}: runtime class {class} is not admitted{}",
                p.name,
                if p.description.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", p.description)
                }
            ))
        }
        Decision::Mutate(p) => {
            let (cpus, mhz, mem) = compute;
            out.reserve_cpu = !p.drop_cpu;
            out.reserve_memory = !p.drop_memory;
            out.host_tags = p.host_tags.clone();
            out.details.insert("admissionpolicy".into(), json!(p.name));
            let mut did = Vec::new();
            if p.drop_cpu {
                out.details.insert(
                    "originalcpureservation".into(),
                    json!((cpus * mhz).to_string()),
                );
                did.push(format!("CPU reservation {} MHz dropped", cpus * mhz));
            }
            if p.drop_memory {
                out.details
                    .insert("originalmemoryreservation".into(), json!(mem.to_string()));
                did.push(format!("memory reservation {mem} MiB dropped"));
            }
            if !p.host_tags.is_empty() {
                out.details
                    .insert("admissionhosttags".into(), json!(p.host_tags.join(",")));
                did.push(format!("host tags {} required", p.host_tags.join(",")));
            }
            did.push("one VM slot held".into());
            out.event = Some(format!(
                "admission policy {} (runtime class {class}): {}",
                p.name,
                did.join(", ")
            ));
        }
    }
    Ok(out)
}
