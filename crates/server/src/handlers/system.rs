//! Discovery (`listCapabilities`, `listApis`), async-job queries, events and configuration.

use api::{list_body, ApiError, Args, CLOUDSTACK_VERSION};
use model::settings::{self, SettingDef, SETTINGS};
use model::JobId;
use serde_json::{json, Value};

use crate::access;
use crate::context::OpContext;
use crate::error::{param_err, AppResult};
use crate::events::Event;
use crate::state::State;
use crate::views;

pub async fn list_capabilities(st: &State, _ctx: &OpContext, _args: &Args) -> AppResult<Value> {
    let s = &st.settings;
    Ok(json!({ "capability": {
        "cloudstackversion": CLOUDSTACK_VERSION,
        "securitygroupsenabled": false,
        "userpublictemplateenabled": true,
        "supportELB": "false",
        "projectinviterequired": false,
        "allowusercreateprojects": true,
        "customdiskofferingminsize": 1,
        "customdiskofferingmaxsize": 1024,
        "kvmsnapshotenabled": true,
        "allowuserviewdestroyedvm": s.bool("allow.user.view.destroyed.vm"),
        "allowuserexpungerecovervm": s.bool("allow.user.expunge.recover.vm"),
        "dynamicrolesenabled": true,
        "defaultuipagesize": 20,
    }}))
}

/// listApis: the commands the caller's role allows (its rules, else each command's default).
pub async fn list_apis(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let name = args.text("name");
    let rules = st.role_rules.of(st, ctx.user.account.role_id).await?;
    let items: Vec<Value> = st
        .registry
        .all()
        .iter()
        .filter(|s| crate::rolecheck::allowed_by(ctx, s, &rules))
        .filter(|s| name.map(|n| n == s.name).unwrap_or(true))
        .map(|s| s.to_api_json())
        .collect();
    if let (Some(n), true) = (name, items.is_empty()) {
        return param_err(format!(
            "The API {n} does not exist or is not available for this account."
        ));
    }
    Ok(list_body("api", items.len() as u64, items))
}

pub async fn query_async_job_result(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let id: JobId = args.required_id("jobid")?;
    let job = {
        let mut c = st.store.read().await?;
        db::job_get(&mut c, id).await?
    };
    let Some(job) = job else {
        return param_err(format!("Unable to find a job by id {id}"));
    };
    let visible = job.account_id == ctx.account_id()
        || ctx.is_root_admin()
        || (ctx.is_domain_admin() && job.domain_path.starts_with(ctx.domain_path()));
    if !visible {
        return Err(ApiError::permission(format!(
            "Account {} does not have permission to access job {id}",
            ctx.user.account.name
        ))
        .into());
    }
    Ok(views::job(&job))
}

pub async fn list_async_jobs(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let f = db::JobFilter {
        scope: access::owner_scope(st, ctx, args).await?,
        start: args.date("startdate"),
        keyword: args.text("keyword").map(str::to_string),
        offset: args.page.offset,
        limit: args.page.limit,
    };
    let mut c = st.store.read().await?;
    let (rows, total) = db::job_list(&mut c, &f).await?;
    Ok(list_body(
        "asyncjobs",
        total,
        rows.iter().map(views::job).collect(),
    ))
}

pub async fn list_events(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let level = args.text("level").map(str::to_uppercase);
    if let Some(l) = &level {
        if !["INFO", "WARN", "ERROR"].contains(&l.as_str()) {
            return param_err(format!("Level {l} is not valid: use INFO, WARN or ERROR"));
        }
    }
    let f = db::EventFilter {
        scope: access::owner_scope(st, ctx, args).await?,
        id: args.id("id"),
        event_type: args.text("type").map(str::to_string),
        level,
        start: args.date("startdate"),
        // A plain end date includes the whole day.
        end: args.date("enddate").map(|d| {
            if d % 86_400_000 == 0 {
                d + 86_399_999
            } else {
                d
            }
        }),
        keyword: args.text("keyword").map(str::to_string),
        resource_id: args.text("resourceid").map(str::to_string),
        resource_type: args.text("resourcetype").map(str::to_string),
        start_id: args.id("startid"),
        ids: Vec::new(),
        archived: Some(args.flag("archived")),
        offset: args.page.offset,
        limit: args.page.limit,
    };
    let mut c = st.store.read().await?;
    let (rows, total) = db::event_list(&mut c, &f).await?;
    Ok(list_body(
        "event",
        total,
        rows.iter().map(views::event).collect(),
    ))
}

/// archiveEvents / deleteEvents: the caller's events (users), or those of the accounts an
/// admin is over, chosen by `ids` and/or `type`, `startdate`, `enddate` (one of them needed).
pub async fn archive_or_delete_events(
    st: &State,
    ctx: &OpContext,
    args: &Args,
) -> AppResult<Value> {
    let mut ids = Vec::new();
    for i in args.list("ids").unwrap_or_default() {
        ids.push(
            i.trim()
                .parse::<model::EventId>()
                .map_err(|_| ApiError::invalid_id("ids", i))?,
        );
    }
    let (t, start, end) = (
        args.text("type"),
        args.date("startdate"),
        args.date("enddate"),
    );
    if ids.is_empty() && t.is_none() && start.is_none() && end.is_none() {
        return param_err("Please specify ids, type, startdate or enddate of the events");
    }
    let scope = if ctx.is_root_admin() {
        db::OwnerScope::All
    } else if ctx.is_domain_admin() {
        db::OwnerScope::Domain {
            id: ctx.user.account.domain_id,
            path: ctx.user.account.domain_path.clone(),
            recursive: true,
        }
    } else {
        db::OwnerScope::Account(ctx.account_id())
    };
    let f = db::EventFilter {
        scope,
        id: None,
        event_type: t.map(str::to_string),
        level: None,
        start,
        end: end.map(|d| {
            if d % 86_400_000 == 0 {
                d + 86_399_999
            } else {
                d
            }
        }),
        keyword: None,
        resource_id: None,
        resource_type: None,
        start_id: None,
        ids,
        archived: None,
        offset: 0,
        limit: None,
    };
    let mut tx = st.store.begin().await?;
    if args.command == "deleteEvents" {
        db::event_delete(&mut tx, &f).await?;
    } else {
        db::event_archive(&mut tx, &f).await?;
    }
    tx.commit().await?;
    Ok(api::success_body())
}

fn configuration(st: &State, d: &SettingDef) -> Value {
    let (group, subgroup) = model::setting_groups::group_of(d.name);
    json!({
        "group": group,
        "subgroup": subgroup,
        "category": d.category,
        "name": d.name,
        "value": st.settings.value(d),
        "defaultvalue": d.default,
        "description": d.description,
        "type": d.kind.as_str(),
        "isdynamic": d.dynamic,
        "scope": "global",
    })
}

/// A setting as it applies at a scope: its value there (set there, or inherited).
fn scoped_configuration(
    st: &State,
    d: &SettingDef,
    scope: (model::settings::Scope, uuid::Uuid),
    chain: &[(model::settings::Scope, String)],
) -> Value {
    let mut v = configuration(st, d);
    v["value"] = json!(st.settings.scoped_text(d.name, chain));
    v["scope"] = json!(scope.0.as_str());
    v["id"] = json!(scope.1);
    v
}

pub async fn list_configurations(st: &State, _ctx: &OpContext, args: &Args) -> AppResult<Value> {
    st.settings.refresh(&st.store).await;
    let scope = super::scoped_config::scope_arg(args)?;
    let chain = match scope {
        Some((s, id)) => super::scoped_config::chain(st, s, id).await?,
        None => Vec::new(),
    };
    let name = args.text("name").map(str::to_lowercase);
    let category = args.text("category");
    let keyword = args.text("keyword").map(str::to_lowercase);
    let group = args.text("group").map(str::trim);
    let subgroup = args.text("subgroup").map(str::trim);
    let matching: Vec<&SettingDef> = SETTINGS
        .iter()
        .filter(|d| {
            let (g, sg) = model::setting_groups::group_of(d.name);
            group.is_none_or(|x| g.eq_ignore_ascii_case(x))
                && subgroup.is_none_or(|x| sg.eq_ignore_ascii_case(x))
        })
        .filter(|d| {
            name.as_deref()
                .map(|n| d.name.to_lowercase().contains(n))
                .unwrap_or(true)
        })
        .filter(|d| {
            category
                .map(|c| d.category.eq_ignore_ascii_case(c))
                .unwrap_or(true)
        })
        .filter(|d| {
            keyword
                .as_deref()
                .map(|k| {
                    d.name.to_lowercase().contains(k) || d.description.to_lowercase().contains(k)
                })
                .unwrap_or(true)
        })
        // At a scope: only what may be set there.
        .filter(|d| {
            scope
                .map(|(s, _)| settings::scopes_of(d.name).contains(&s))
                .unwrap_or(true)
        })
        .collect();
    let total = matching.len() as u64;
    let page = args
        .page
        .slice(matching)
        .into_iter()
        .map(|d| match scope {
            Some(sc) => scoped_configuration(st, d, sc, &chain),
            None => configuration(st, d),
        })
        .collect();
    Ok(list_body("configuration", total, page))
}

pub async fn update_configuration(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let name = args.required_str("name")?.trim();
    let Some(def) = settings::setting(name) else {
        return param_err(format!("Config parameter with name {name} doesn't exist"));
    };
    let value = match args.str("value") {
        Some(v) => settings::validate(def, v).map_err(ApiError::param)?,
        None => def.default.to_string(),
    };
    if let Some((scope, id)) = super::scoped_config::scope_arg(args)? {
        super::scoped_config::check_scopable(def.name, scope)?;
        let chain = super::scoped_config::chain(st, scope, id).await?;
        let key = settings::scoped_key(def.name, scope, &id.to_string());
        let mut tx = st.store.begin().await?;
        db::setting_set(&mut tx, &key, &value).await?;
        Event::new(
            ctx,
            "CONFIGURATION.VALUE.EDIT",
            format!(
                "Value of configuration {} for {} {id} changed to {value}",
                def.name,
                scope.as_str()
            ),
        )
        .resource(def.name, "Configuration", Some(def.name))
        .record(&mut tx)
        .await?;
        tx.commit().await?;
        st.settings.set_local(&key, &value);
        return Ok(json!({ "configuration": scoped_configuration(st, def, (scope, id), &chain) }));
    }
    let mut tx = st.store.begin().await?;
    db::setting_set(&mut tx, def.name, &value).await?;
    Event::new(
        ctx,
        "CONFIGURATION.VALUE.EDIT",
        format!("Value of configuration {} changed to {value}", def.name),
    )
    .resource(def.name, "Configuration", Some(def.name))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    st.settings.set_local(def.name, &value);
    Ok(json!({ "configuration": configuration(st, def) }))
}

/// resetConfiguration: the global value back to the default, or a scope's value removed (the
/// scope inherits again).
pub async fn reset_configuration(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let name = args.required_str("name")?.trim();
    let Some(def) = settings::setting(name) else {
        return param_err(format!("Config parameter with name {name} doesn't exist"));
    };
    let scope = super::scoped_config::scope_arg(args)?;
    let (key, chain) = match scope {
        Some((s, id)) => {
            super::scoped_config::check_scopable(def.name, s)?;
            (
                settings::scoped_key(def.name, s, &id.to_string()),
                super::scoped_config::chain(st, s, id).await?,
            )
        }
        None => (def.name.to_string(), Vec::new()),
    };
    let mut tx = st.store.begin().await?;
    db::setting_reset(&mut tx, &key).await?;
    Event::new(
        ctx,
        "CONFIGURATION.VALUE.EDIT",
        format!("Value of configuration {} reset", def.name),
    )
    .resource(def.name, "Configuration", Some(def.name))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    st.settings.reset_local(&key);
    let view = match scope {
        Some(sc) => scoped_configuration(st, def, sc, &chain),
        None => configuration(st, def),
    };
    Ok(json!({ "configuration": view }))
}

fn task_view(st: &State, t: &crate::tasks::TaskStatus) -> Value {
    let mut v = json!({
        "name": t.name,
        "description": t.description,
        "managementserverid": st.server_id.0,
        "interval": t.period_ms / 1000,
        "timeout": t.timeout_ms / 1000,
        "running": t.running,
        "runs": t.runs,
        "failures": t.failures,
    });
    if let Some(s) = t.last_start {
        v["laststart"] = json!(api::time::format_ms(s));
    }
    if let Some(d) = t.last_duration_ms {
        v["lastduration"] = json!(d);
    }
    if let Some(e) = &t.last_error {
        v["lasterror"] = json!(e);
    }
    v
}

/// `listBackgroundTasks` (Canopy addition, root admin): this server's background tasks.
pub async fn list_background_tasks(st: &State, _ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let items: Vec<Value> = st
        .tasks
        .status()
        .iter()
        .filter(|t| args.text("name").map(|n| n == t.name).unwrap_or(true))
        .map(|t| task_view(st, t))
        .collect();
    let total = items.len() as u64;
    Ok(list_body("backgroundtask", total, args.page.slice(items)))
}

/// `runBackgroundTask` (Canopy addition, root admin): runs a task now.
pub async fn run_background_task(st: &State, _ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let name = args.required_str("name")?;
    if !st.tasks.trigger(name) {
        let known: Vec<&str> = st.tasks.status().iter().map(|t| t.name).collect();
        return param_err(format!(
            "Unknown background task {}: the tasks are {}",
            name.chars().take(100).collect::<String>(),
            known.join(", ")
        ));
    }
    let t = st
        .tasks
        .status()
        .into_iter()
        .find(|t| t.name == name)
        .ok_or_else(|| crate::error::AppError::Internal("task vanished".into()))?;
    Ok(json!({ "backgroundtask": task_view(st, &t) }))
}

/// listConfigurationGroups: CloudStack's groups of settings with their subgroups
/// (`model::setting_groups`), by precedence; `name` picks one.
pub async fn list_configuration_groups(
    _st: &State,
    _ctx: &OpContext,
    args: &Args,
) -> AppResult<Value> {
    let name = args.text("name").map(str::trim);
    let items: Vec<Value> = model::setting_groups::GROUPS
        .iter()
        .filter(|(g, ..)| name.is_none_or(|n| g.eq_ignore_ascii_case(n)))
        .map(|(g, desc, prec, subs)| {
            json!({
                "name": g,
                "description": desc,
                "precedence": prec,
                "subgroup": subs
                    .iter()
                    .map(|(n, _, p)| json!({ "name": n, "precedence": p }))
                    .collect::<Vec<_>>(),
            })
        })
        .collect();
    let total = items.len() as u64;
    Ok(list_body(
        "configurationgroup",
        total,
        args.page.slice(items),
    ))
}
