//! Dedicated resources (`dedicateZone`/`Pod`/`Cluster`/`Host`, their list and release
//! commands): a zone, pod, cluster or host kept for one domain (its accounts and its
//! subdomains') or one account. Placement (`placement::Request::owner_*`) keeps everyone else
//! off it and tries it first for its owner. A zone's dedication is also its `domain_id`, which
//! hides the zone from other domains' users (listZones), as CloudStack's createZone domainid.

use api::{list_body, success_body, ApiError, Args};
use db::{DedicationRow, Infra};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::access;
use crate::context::OpContext;
use crate::error::{param_err, AppResult};
use crate::events::Event;
use crate::jobs::{JobPlan, JobRef};
use crate::state::State;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Zone,
    Pod,
    Cluster,
    Host,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Zone => "Zone",
            Kind::Pod => "Pod",
            Kind::Cluster => "Cluster",
            Kind::Host => "Host",
        }
    }
    fn lower(self) -> &'static str {
        match self {
            Kind::Zone => "zone",
            Kind::Pod => "pod",
            Kind::Cluster => "cluster",
            Kind::Host => "host",
        }
    }
    /// The resource's id parameter (`zoneid`, …).
    fn param(self) -> &'static str {
        match self {
            Kind::Zone => "zoneid",
            Kind::Pod => "podid",
            Kind::Cluster => "clusterid",
            Kind::Host => "hostid",
        }
    }
    /// The response object's key (`dedicatedzone`, …).
    fn key(self) -> &'static str {
        match self {
            Kind::Zone => "dedicatedzone",
            Kind::Pod => "dedicatedpod",
            Kind::Cluster => "dedicatedcluster",
            Kind::Host => "dedicatedhost",
        }
    }
}

/// A resource's place: (its name, zone, pod, cluster) — the ids above it, itself included.
struct Place {
    name: String,
    zone: Uuid,
    pod: Option<Uuid>,
    cluster: Option<Uuid>,
    host: Option<Uuid>,
}

async fn place(st: &State, kind: Kind, id: Uuid) -> AppResult<Place> {
    let missing = || ApiError::invalid_id(kind.param(), &id.to_string());
    let mut c = st.store.read().await?;
    Ok(match kind {
        Kind::Host => {
            let h = db::host_get(&mut c, model::HostId(id))
                .await?
                .ok_or_else(missing)?;
            Place {
                name: h.name,
                zone: h.zone_id,
                pod: Some(h.pod_id),
                cluster: Some(h.cluster_id),
                host: Some(id),
            }
        }
        Kind::Cluster => {
            let r = db::infra_get(&mut c, Infra::Cluster, id)
                .await?
                .ok_or_else(missing)?;
            Place {
                name: r.name,
                zone: r.zone_id,
                pod: r.parent_id,
                cluster: Some(id),
                host: None,
            }
        }
        Kind::Pod => {
            let r = db::infra_get(&mut c, Infra::Pod, id)
                .await?
                .ok_or_else(missing)?;
            Place {
                name: r.name,
                zone: r.zone_id,
                pod: Some(id),
                cluster: None,
                host: None,
            }
        }
        Kind::Zone => {
            let r = db::infra_get(&mut c, Infra::Zone, id)
                .await?
                .ok_or_else(missing)?;
            Place {
                name: r.name,
                zone: id,
                pod: None,
                cluster: None,
                host: None,
            }
        }
    })
}

/// The domain and its ancestors.
async fn lineage(st: &State, d: model::DomainId) -> AppResult<Vec<Uuid>> {
    super::zones::domain_lineage_of(st, d).await
}

/// Whether an owner `a` may use what is dedicated to `b` (b's domain is a's or an ancestor's,
/// and b names no other account).
async fn covers(
    st: &State,
    b: &DedicationRow,
    a_domain: model::DomainId,
    a_account: Option<model::AccountId>,
) -> AppResult<bool> {
    if let Some(acct) = b.account_id {
        return Ok(a_account == Some(acct));
    }
    Ok(lineage(st, a_domain).await?.contains(&b.domain_id.0))
}

fn view(st_names: &(String, Option<String>), kind: Kind, d: &DedicationRow) -> Value {
    let mut v = json!({
        "id": d.id,
        "domainid": d.domain_id,
        "accountid": d.account_id,
        "affinitygroupid": Value::Null,
    });
    v[kind.param()] = json!(d.resource_id);
    v[format!("{}name", kind.lower())] = json!(st_names.0);
    if let Some(a) = &st_names.1 {
        v["account"] = json!(a);
    }
    v
}

async fn names_of(
    st: &State,
    kind: Kind,
    d: &DedicationRow,
) -> AppResult<(String, Option<String>)> {
    let name = place(st, kind, d.resource_id)
        .await
        .map(|p| p.name)
        .unwrap_or_default();
    let acct = match d.account_id {
        Some(a) => Some(access::account(st, "accountid", a).await?.name),
        None => None,
    };
    Ok((name, acct))
}

/// A resource's dedication, if it has one.
async fn dedication_of(st: &State, resource: Uuid) -> AppResult<Option<DedicationRow>> {
    let mut c = st.store.read().await?;
    Ok(db::dedication_list(&mut c, None, Some(resource))
        .await?
        .into_iter()
        .next())
}

async fn dedicate_prepare(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    kind: Kind,
) -> AppResult<JobPlan> {
    let id: Uuid = args.required_id(kind.param())?;
    let p = place(st, kind, id).await?;
    let domain = access::domain(st, "domainid", args.required_id("domainid")?).await?;
    access::check_domain_admin(ctx, &domain)?;
    let account = match args.text("account") {
        Some(a) => {
            let acct = access::account_by_name(st, ctx, a, Some(domain.id)).await?;
            Some(acct.id)
        }
        None => None,
    };
    let all = {
        let mut c = st.store.read().await?;
        db::dedication_list(&mut c, None, None).await?
    };
    if all.iter().any(|d| d.resource_id == id) {
        return param_err(format!(
            "{} {} is already dedicated; release it first",
            kind.name(),
            p.name
        ));
    }
    let new = DedicationRow {
        id: Uuid::new_v4(),
        kind: kind.name().into(),
        resource_id: id,
        domain_id: domain.id,
        account_id: account,
        created: api::time::now_ms(),
    };
    // Above it: a zone, pod or cluster dedicated to an owner this one is not under.
    for above in [Some(p.zone), p.pod, p.cluster]
        .into_iter()
        .flatten()
        .filter(|x| *x != id)
    {
        if let Some(d) = all.iter().find(|d| d.resource_id == above) {
            if !covers(st, d, domain.id, account).await? {
                return param_err(format!(
                    "Cannot dedicate {} {}: its {} is dedicated to another domain or account",
                    kind.lower(),
                    p.name,
                    d.kind.to_lowercase()
                ));
            }
        }
    }
    // Below it: something dedicated to an owner outside the new one's reach.
    let hosts = {
        let mut c = st.store.read().await?;
        db::host_list(
            &mut c,
            &db::HostFilter {
                zone_id: Some(p.zone),
                ..Default::default()
            },
        )
        .await?
        .0
    };
    let inside: Vec<&db::HostRow> = hosts
        .iter()
        .filter(|h| match kind {
            Kind::Zone => true,
            Kind::Pod => Some(h.pod_id) == p.pod,
            Kind::Cluster => Some(h.cluster_id) == p.cluster,
            Kind::Host => Some(h.id.0) == p.host,
        })
        .collect();
    let mut below: Vec<Uuid> = inside.iter().map(|h| h.id.0).collect();
    if kind == Kind::Zone || kind == Kind::Pod {
        below.extend(inside.iter().map(|h| h.cluster_id));
    }
    if kind == Kind::Zone {
        below.extend(inside.iter().map(|h| h.pod_id));
    }
    for d in all
        .iter()
        .filter(|d| below.contains(&d.resource_id) && d.resource_id != id)
    {
        let d_domain = d.domain_id;
        if !covers(st, &new, d_domain, d.account_id).await? {
            return param_err(format!(
                "Cannot dedicate {} {}: a {} in it is dedicated to another domain or account",
                kind.lower(),
                p.name,
                d.kind.to_lowercase()
            ));
        }
    }
    // Running VMs of other owners on its hosts (as CloudStack refuses).
    {
        let mut c = st.store.read().await?;
        for h in &inside {
            let vms = db::vm_list(
                &mut c,
                &db::VmFilter {
                    host_id: Some(h.id),
                    states: model::VmState::ACTIVE.to_vec(),
                    ..Default::default()
                },
            )
            .await?
            .0;
            for v in vms {
                let theirs = match account {
                    Some(a) => v.account_id == a,
                    None => lineage(st, v.domain_id).await?.contains(&domain.id.0),
                };
                if !theirs {
                    return param_err(format!(
                        "Cannot dedicate {} {}: host {} runs VMs of other accounts ({})",
                        kind.lower(),
                        p.name,
                        h.name,
                        v.instance_name
                    ));
                }
            }
        }
    }
    let mut tx = st.store.begin().await?;
    match db::dedication_insert(&mut tx, &new).await {
        Err(db::DbError::Conflict(_)) => {
            return param_err(format!("{} {} is already dedicated", kind.name(), p.name))
        }
        r => r?,
    }
    if kind == Kind::Zone {
        let mut conn_zone = db::infra_get(&mut tx, Infra::Zone, id)
            .await?
            .ok_or_else(|| ApiError::invalid_id("zoneid", &id.to_string()))?;
        conn_zone.domain_id = Some(domain.id.0);
        db::infra_update(&mut tx, Infra::Zone, &conn_zone).await?;
    }
    Event::new(
        ctx,
        &format!("DEDICATE.{}", kind.name().to_uppercase()),
        format!(
            "{} {} dedicated to domain {}{}",
            kind.name(),
            p.name,
            domain.name,
            account
                .map(|a| format!(", account {a}"))
                .unwrap_or_default()
        ),
    )
    .resource(id, kind.name(), Some(&p.name))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    st.snapshots.invalidate(p.zone);
    Ok(JobPlan {
        instance_type: Some(kind.name()),
        instance_id: Some(id.to_string()),
        returns_id: false,
        description: format!("Dedicating {} {}", kind.lower(), p.name),
    })
}

async fn dedicate_run(st: &State, _ctx: &OpContext, job: &JobRef, kind: Kind) -> AppResult<Value> {
    let id: Uuid = job.instance()?;
    let d = dedication_of(st, id)
        .await?
        .ok_or_else(|| ApiError::invalid_id(kind.param(), &id.to_string()))?;
    let n = names_of(st, kind, &d).await?;
    Ok(json!({ kind.key(): view(&n, kind, &d) }))
}

async fn release_prepare(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    kind: Kind,
) -> AppResult<JobPlan> {
    let id: Uuid = args.required_id(kind.param())?;
    let p = place(st, kind, id).await?;
    let Some(d) = dedication_of(st, id).await? else {
        return param_err(format!("{} {} is not dedicated", kind.name(), p.name));
    };
    let domain = access::domain(st, "domainid", d.domain_id).await?;
    access::check_domain_admin(ctx, &domain)?;
    Ok(JobPlan {
        instance_type: Some(kind.name()),
        instance_id: Some(id.to_string()),
        returns_id: false,
        description: format!("Releasing dedicated {} {}", kind.lower(), p.name),
    })
}

async fn release_run(st: &State, ctx: &OpContext, job: &JobRef, kind: Kind) -> AppResult<Value> {
    let id: Uuid = job.instance()?;
    let p = place(st, kind, id).await?;
    let mut tx = st.store.begin().await?;
    db::dedication_delete(&mut tx, id).await?;
    if kind == Kind::Zone {
        if let Some(mut z) = db::infra_get(&mut tx, Infra::Zone, id).await? {
            z.domain_id = None;
            db::infra_update(&mut tx, Infra::Zone, &z).await?;
        }
    }
    Event::new(
        ctx,
        &format!("RELEASE.DEDICATED.{}", kind.name().to_uppercase()),
        format!("Dedicated {} {} released", kind.lower(), p.name),
    )
    .resource(id, kind.name(), Some(&p.name))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    st.snapshots.invalidate(p.zone);
    Ok(success_body())
}

async fn list(st: &State, ctx: &OpContext, args: &Args, kind: Kind) -> AppResult<Value> {
    let rows = {
        let mut c = st.store.read().await?;
        db::dedication_list(&mut c, Some(kind.name()), args.uuid(kind.param())).await?
    };
    let want_domain = args.uuid("domainid");
    let want_account = match args.text("account") {
        Some(a) => Some(
            access::account_by_name(st, ctx, a, args.id("domainid"))
                .await?
                .id,
        ),
        None => None,
    };
    let mut items = Vec::new();
    for d in rows {
        if want_domain.is_some_and(|w| w != d.domain_id.0)
            || want_account.is_some_and(|w| Some(w) != d.account_id)
        {
            continue;
        }
        // Domain admins see what is dedicated in their subtree.
        let dom = access::domain(st, "domainid", d.domain_id).await?;
        if access::check_domain_admin(ctx, &dom).is_err() {
            continue;
        }
        let n = names_of(st, kind, &d).await?;
        items.push(view(&n, kind, &d));
    }
    let total = items.len() as u64;
    let page: Vec<Value> = items
        .into_iter()
        .skip(args.page.offset as usize)
        .take(args.page.limit.map(|l| l as usize).unwrap_or(usize::MAX))
        .collect();
    Ok(list_body(kind.key(), total, page))
}

macro_rules! commands {
    ($kind:expr, $dp:ident, $dr:ident, $rp:ident, $rr:ident, $l:ident) => {
        pub async fn $dp(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
            dedicate_prepare(st, ctx, args, $kind).await
        }
        pub async fn $dr(
            st: &State,
            ctx: &OpContext,
            _args: &Args,
            job: &JobRef,
        ) -> AppResult<Value> {
            dedicate_run(st, ctx, job, $kind).await
        }
        pub async fn $rp(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
            release_prepare(st, ctx, args, $kind).await
        }
        pub async fn $rr(
            st: &State,
            ctx: &OpContext,
            _args: &Args,
            job: &JobRef,
        ) -> AppResult<Value> {
            release_run(st, ctx, job, $kind).await
        }
        pub async fn $l(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
            list(st, ctx, args, $kind).await
        }
    };
}

commands!(
    Kind::Zone,
    dedicate_zone_prepare,
    dedicate_zone_run,
    release_zone_prepare,
    release_zone_run,
    list_zones
);
commands!(
    Kind::Pod,
    dedicate_pod_prepare,
    dedicate_pod_run,
    release_pod_prepare,
    release_pod_run,
    list_pods
);
commands!(
    Kind::Cluster,
    dedicate_cluster_prepare,
    dedicate_cluster_run,
    release_cluster_prepare,
    release_cluster_run,
    list_clusters
);
commands!(
    Kind::Host,
    dedicate_host_prepare,
    dedicate_host_run,
    release_host_prepare,
    release_host_run,
    list_hosts
);
