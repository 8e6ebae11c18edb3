//! Rows rendered as CloudStack response objects. Null fields are left out, as gson does.

use api::time::format_ms;
use db::{AccountRow, DomainRow, EventRow, JobRow, RoleRow, UserRow};
use model::identity::display_domain_path;
use serde_json::{json, Map, Value};

fn put(m: &mut Map<String, Value>, k: &str, v: Option<impl Into<Value>>) {
    if let Some(v) = v {
        m.insert(k.to_string(), v.into());
    }
}

pub fn domain(d: &DomainRow) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(d.id));
    m.insert("name".into(), json!(d.name));
    m.insert("level".into(), json!(d.level));
    put(&mut m, "parentdomainid", d.parent_id.map(|p| p.to_string()));
    put(&mut m, "parentdomainname", d.parent_name.clone());
    m.insert("haschild".into(), json!(d.has_child));
    m.insert("path".into(), json!(display_domain_path(&d.path)));
    m.insert("state".into(), json!(d.state));
    put(&mut m, "networkdomain", d.network_domain.clone());
    m.insert("created".into(), json!(format_ms(d.created)));
    Value::Object(m)
}

pub fn account(a: &AccountRow, users: &[UserRow]) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(a.id));
    m.insert("name".into(), json!(a.name));
    m.insert("accounttype".into(), json!(a.account_type.as_i64()));
    m.insert("roleid".into(), json!(a.role_id));
    m.insert("roletype".into(), json!(a.role_type.as_str()));
    m.insert("rolename".into(), json!(a.role_name));
    m.insert("domainid".into(), json!(a.domain_id));
    m.insert("domain".into(), json!(a.domain_name));
    m.insert(
        "domainpath".into(),
        json!(display_domain_path(&a.domain_path)),
    );
    m.insert("state".into(), json!(a.state.as_str()));
    m.insert("isdefault".into(), json!(a.is_default));
    put(&mut m, "networkdomain", a.network_domain.clone());
    m.insert("created".into(), json!(format_ms(a.created)));
    m.insert(
        "user".into(),
        Value::Array(users.iter().map(user).collect()),
    );
    Value::Object(m)
}

pub fn user(u: &UserRow) -> Value {
    let a = &u.account;
    let mut m = Map::new();
    m.insert("id".into(), json!(u.id));
    m.insert("username".into(), json!(u.username));
    put(&mut m, "firstname", u.firstname.clone());
    put(&mut m, "lastname", u.lastname.clone());
    put(&mut m, "email", u.email.clone());
    m.insert("created".into(), json!(format_ms(u.created)));
    m.insert("state".into(), json!(u.state.as_str()));
    m.insert("account".into(), json!(a.name));
    m.insert("accountid".into(), json!(a.id));
    m.insert("accounttype".into(), json!(a.account_type.as_i64()));
    m.insert("roleid".into(), json!(a.role_id));
    m.insert("roletype".into(), json!(a.role_type.as_str()));
    m.insert("rolename".into(), json!(a.role_name));
    m.insert("domainid".into(), json!(a.domain_id));
    m.insert("domain".into(), json!(a.domain_name));
    put(&mut m, "timezone", u.timezone.clone());
    put(&mut m, "apikey", u.api_key.clone());
    m.insert("isdefault".into(), json!(u.is_default));
    m.insert("usersource".into(), json!(u.source));
    m.insert("is2faenabled".into(), json!(false));
    Value::Object(m)
}

pub fn role(r: &RoleRow) -> Value {
    json!({
        "id": r.id,
        "name": r.name,
        "type": r.role_type.as_str(),
        "description": r.description,
        "isdefault": r.is_default,
        "ispublic": r.is_public,
        "state": r.state.to_uppercase(),
    })
}

pub fn event(e: &EventRow) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(e.id));
    put(&mut m, "username", e.username.clone());
    m.insert("type".into(), json!(e.event_type));
    m.insert("level".into(), json!(e.level));
    m.insert("description".into(), json!(e.description));
    m.insert("account".into(), json!(e.account_name));
    m.insert("domainid".into(), json!(e.domain_id));
    m.insert("domain".into(), json!(e.domain_name));
    m.insert("created".into(), json!(format_ms(e.created)));
    m.insert("state".into(), json!(e.state));
    put(&mut m, "parentid", e.parent_id.map(|p| p.to_string()));
    put(&mut m, "resourceid", e.resource_id.clone());
    put(&mut m, "resourcetype", e.resource_type.clone());
    put(&mut m, "resourcename", e.resource_name.clone());
    m.insert("archived".into(), json!(e.archived));
    Value::Object(m)
}

/// A job as `queryAsyncJobResult` and `listAsyncJobs` show it.
pub fn job(j: &JobRow) -> Value {
    let mut m = Map::new();
    m.insert("accountid".into(), json!(j.account_id));
    m.insert("account".into(), json!(j.account_name));
    m.insert("domainid".into(), json!(j.domain_id));
    m.insert("domainpath".into(), json!(j.domain_path));
    m.insert("userid".into(), json!(j.user_id));
    m.insert(
        "cmd".into(),
        json!(format!(
            "org.apache.cloudstack.api.command.{}Cmd",
            j.command
        )),
    );
    m.insert("jobstatus".into(), json!(j.status));
    m.insert("jobprocstatus".into(), json!(j.progress));
    m.insert("jobresultcode".into(), json!(j.result_code));
    if j.status != 0 {
        if let Some(mut r) = j
            .result
            .as_deref()
            .and_then(|r| serde_json::from_str::<Value>(r).ok())
        {
            // The entity carries its job, as CloudStack's response objects do (jobid and
            // jobstatus 0 — the entity's own, not the job's).
            if j.status == 1 {
                if let Some(obj) = r.as_object_mut() {
                    for v in obj.values_mut() {
                        if let Some(e) = v.as_object_mut() {
                            e.entry("jobid").or_insert(json!(j.id));
                            e.entry("jobstatus").or_insert(json!(0));
                        }
                    }
                }
            }
            m.insert("jobresulttype".into(), json!("object"));
            m.insert("jobresult".into(), r);
        }
    }
    put(&mut m, "jobinstancetype", j.instance_type.clone());
    put(&mut m, "jobinstanceid", j.instance_id.clone());
    m.insert("created".into(), json!(format_ms(j.created)));
    put(&mut m, "completed", j.completed.map(format_ms));
    m.insert("jobid".into(), json!(j.id));
    put(&mut m, "managementserverid", j.owner.map(|o| o.to_string()));
    Value::Object(m)
}
