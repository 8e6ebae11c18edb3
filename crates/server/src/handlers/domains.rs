//! Domains: a tree under ROOT. Paths are stored as `/a/b/` and shown as `ROOT/a/b`.

use api::{list_body, success_body, ApiError, Args};
use db::{DbError, DomainFilter};
use model::DomainId;
use serde_json::{json, Value};

use crate::access;
use crate::context::OpContext;
use crate::error::{param_err, AppError, AppResult};
use crate::events::Event;
use crate::handlers::accounts;
use crate::jobs::JobPlan;
use crate::state::State;
use crate::{validate, views};

async fn root(st: &State) -> AppResult<db::DomainRow> {
    let mut c = st.store.read().await?;
    db::domain_get_by_path(&mut c, "/")
        .await?
        .ok_or_else(|| AppError::Internal("ROOT domain missing".into()))
}

async fn get_view(st: &State, id: DomainId) -> AppResult<Value> {
    let mut c = st.store.read().await?;
    let d = db::domain_get(&mut c, id)
        .await?
        .ok_or_else(|| AppError::Internal("domain vanished".into()))?;
    Ok(views::domain(&d))
}

pub async fn create(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let name = args.required_str("name")?;
    validate::plain_name("Domain", name)?;
    let parent = match args.id::<DomainId>("parentdomainid") {
        Some(p) => access::domain(st, "parentdomainid", p).await?,
        None => root(st).await?,
    };
    access::check_domain_admin(ctx, &parent)?;
    let nd = args.text("networkdomain");
    if let Some(nd) = nd {
        validate::network_domain(nd)?;
    }
    let id = args.id::<DomainId>("domainid").unwrap_or_default();
    let path = format!("{}{}/", parent.path, name);
    let mut tx = st.store.begin().await?;
    match db::domain_insert(
        &mut tx,
        id,
        name,
        &path,
        Some(parent.id),
        parent.level + 1,
        nd,
    )
    .await
    {
        Err(DbError::Conflict(_)) => {
            return param_err(format!(
                "Domain with name {name} already exists for the parent id={}",
                parent.id
            ));
        }
        r => r?,
    }
    Event::new(
        ctx,
        "DOMAIN.CREATE",
        format!("Domain {name} created under {}", parent.name),
    )
    .resource(id, "Domain", Some(name))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(json!({ "domain": get_view(st, id).await? }))
}

pub async fn list(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let mut f = DomainFilter {
        name: args.text("name").map(str::to_string),
        level: args.int("level"),
        keyword: args.text("keyword").map(str::to_string),
        offset: args.page.offset,
        limit: args.page.limit,
        ..Default::default()
    };
    // As CloudStack's searchForDomains: by id, any domain the caller may see (its own for a
    // user); otherwise root admins see every domain, others their own domain — and with
    // listall their subtree. name/level/keyword narrow that.
    if let Some(id) = args.id::<DomainId>("id") {
        let d = access::domain(st, "id", id).await?;
        access::check_domain_visible(ctx, &d)?;
        f.id = Some(id);
    } else if !ctx.is_root_admin() {
        f.under = Some((ctx.domain_path().to_string(), args.flag("listall")));
    }
    let (rows, total) = {
        let mut c = st.store.read().await?;
        db::domain_list(&mut c, &f).await?
    };
    let counts = super::limits::domains_resources(st, &rows).await?;
    let mut items = Vec::new();
    for (d, fields) in rows.iter().zip(counts) {
        let mut v = views::domain(d);
        if let Some(m) = v.as_object_mut() {
            m.extend(fields);
        }
        items.push(v);
    }
    Ok(list_body("domain", total, items))
}

pub async fn list_children(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let parent = match args.id::<DomainId>("id") {
        Some(id) => access::domain(st, "id", id).await?,
        None => access::domain(st, "id", ctx.domain_id()).await?,
    };
    access::check_domain_admin(ctx, &parent)?;
    let mut f = DomainFilter {
        name: args.text("name").map(str::to_string),
        keyword: args.text("keyword").map(str::to_string),
        offset: args.page.offset,
        limit: args.page.limit,
        ..Default::default()
    };
    if args.flag("isrecursive") {
        f.under = Some((parent.path.clone(), true));
        f.deeper_than = Some(parent.level);
    } else {
        f.parent = Some(parent.id);
    }
    let mut c = st.store.read().await?;
    let (rows, total) = db::domain_list(&mut c, &f).await?;
    Ok(list_body(
        "domain",
        total,
        rows.iter().map(views::domain).collect(),
    ))
}

pub async fn update(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let d = access::domain(st, "id", args.required_id("id")?).await?;
    access::check_domain_admin(ctx, &d)?;
    let mut tx = st.store.begin().await?;
    if let Some(name) = args.text("name") {
        if name != d.name {
            if d.path == "/" {
                return param_err("ROOT domain can not be edited with a new name");
            }
            if d.id == ctx.domain_id() && !ctx.is_root_admin() {
                return Err(
                    ApiError::permission("You can't rename the domain you belong to").into(),
                );
            }
            validate::plain_name("Domain", name)?;
            let parent_path = &d.path[..d.path.len() - d.name.len() - 1];
            let new_path = format!("{parent_path}{name}/");
            match db::domain_rename(&mut tx, d.id, &d.path, &new_path, name).await {
                Err(DbError::Conflict(_)) => {
                    return param_err(format!(
                        "Domain with name {name} already exists for the parent id={}",
                        d.parent_id.map(|p| p.to_string()).unwrap_or_default()
                    ));
                }
                r => r?,
            }
        }
    }
    if let Some(nd) = args.str("networkdomain") {
        if nd.is_empty() {
            db::domain_set_network_domain(&mut tx, d.id, None).await?;
        } else {
            validate::network_domain(nd)?;
            db::domain_set_network_domain(&mut tx, d.id, Some(nd)).await?;
        }
    }
    Event::new(ctx, "DOMAIN.UPDATE", format!("Domain {} updated", d.name))
        .resource(d.id, "Domain", Some(&d.name))
        .record(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(json!({ "domain": get_view(st, d.id).await? }))
}

pub async fn delete_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let d = access::domain(st, "id", args.required_id("id")?).await?;
    access::check_domain_admin(ctx, &d)?;
    if d.path == "/" {
        return param_err("Can't delete ROOT domain");
    }
    if ctx.domain_path().starts_with(&d.path) {
        return param_err("Can't delete the domain you belong to, or one above it");
    }
    Ok(JobPlan {
        instance_type: Some("Domain"),
        instance_id: Some(d.id.to_string()),
        returns_id: false,
        description: format!("Deleting domain {}", d.name),
    })
}

/// Deletes a domain; with `cleanup` its whole subtree and every account in it. Idempotent:
/// a re-run after a crash continues where the last one stopped.
pub async fn delete_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    _job: &crate::jobs::JobRef,
) -> AppResult<Value> {
    let id: DomainId = args.required_id("id")?;
    let d = {
        let mut c = st.store.read().await?;
        db::domain_get(&mut c, id).await?
    };
    let Some(d) = d else {
        return Ok(success_body());
    };
    let (subtree, accounts) = {
        let mut c = st.store.read().await?;
        let f = DomainFilter {
            under: Some((d.path.clone(), true)),
            ..Default::default()
        };
        (
            db::domain_list(&mut c, &f).await?.0,
            db::account_ids_under(&mut c, &d.path).await?,
        )
    };
    if !args.flag("cleanup") && (subtree.len() > 1 || !accounts.is_empty()) {
        return Err(ApiError::internal(format!(
            "Cannot delete domain {}: it still has {} child domain(s) and {} account(s); delete them first or use cleanup=true",
            d.name,
            subtree.len() - 1,
            accounts.len()
        ))
        .into());
    }
    for a in accounts {
        accounts::remove_account(st, ctx, a, true).await?;
    }
    let mut tx = st.store.begin().await?;
    let mut ordered = subtree;
    ordered.sort_by_key(|x| std::cmp::Reverse(x.level));
    for x in &ordered {
        db::domain_mark_removed(&mut tx, x.id).await?;
        db::limit_delete_all(&mut tx, db::LimitOwner::Domain(x.id)).await?;
    }
    tx.commit().await?;
    Ok(success_body())
}
