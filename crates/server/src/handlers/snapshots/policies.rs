//! Snapshot policies (`createSnapshotPolicy`, `listSnapshotPolicies`, `updateSnapshotPolicy`,
//! `deleteSnapshotPolicies`) and the task that takes their snapshots when due: every
//! `snapshot.poll.interval` seconds each server claims the due policies by moving their
//! `next_run` on with a conditional update — the server whose update lands takes the
//! snapshot, so with several servers each one is taken once — and submits a `createSnapshot`
//! job as the volume's owner; the saga's last step removes the oldest beyond `maxsnaps`.

use api::{list_body, success_body, ApiError, Args, RawParams};
use db::SnapshotPolicyRow;
use domain::snapshots::{Interval, Schedule};
use model::SnapshotPolicyId;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::access;
use crate::context::OpContext;
use crate::error::{param_err, AppResult};
use crate::events::Event;
use crate::jobs::{JobPlan, JobRef};
use crate::state::State;

/// The most snapshots a policy may keep (CloudStack's `snapshot.max.hourly` … defaults).
const MAX_SNAPS: i64 = 8;

fn view(p: &SnapshotPolicyRow) -> Value {
    json!({
        "id": p.id,
        "volumeid": p.volume_id,
        "schedule": p.schedule,
        "intervaltype": Interval::parse(&p.interval_type).map(Interval::ordinal).unwrap_or(0),
        "maxsnaps": p.max_snaps,
        "timezone": p.timezone,
        "fordisplay": p.display,
        "nextrun": api::time::format_ms(p.next_run),
        "tags": [],
    })
}

/// The policy the caller may act on.
pub(crate) async fn owned(
    st: &State,
    ctx: &OpContext,
    param: &str,
    id: Uuid,
) -> AppResult<SnapshotPolicyRow> {
    let p = {
        let mut c = st.store.read().await?;
        db::snapshot_policy_list(&mut c, None, &[SnapshotPolicyId(id)], None).await?
    }
    .into_iter()
    .next()
    .ok_or_else(|| ApiError::invalid_id(param, &id.to_string()))?;
    if p.account_id != ctx.account_id() {
        let a = access::account(st, param, p.account_id).await?;
        access::check_account(ctx, &a)?;
    }
    Ok(p)
}

fn max_snaps(args: &Args) -> AppResult<Option<i64>> {
    match args.int("maxsnaps") {
        None => Ok(None),
        Some(n) if (1..=MAX_SNAPS).contains(&n) => Ok(Some(n)),
        Some(n) => param_err(format!(
            "maxsnaps {n} is out of range: a policy keeps 1 to {MAX_SNAPS} snapshots"
        )),
    }
}

pub async fn create(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let v =
        crate::handlers::volumes::owned(st, ctx, "volumeid", args.required_id("volumeid")?).await?;
    let it = args.required_str("intervaltype")?;
    let interval = Interval::parse(it).ok_or_else(|| {
        ApiError::param(format!(
            "Invalid intervaltype {it}: HOURLY, DAILY, WEEKLY or MONTHLY"
        ))
    })?;
    let schedule = args.required_str("schedule")?.trim().to_string();
    let tz = args.required_str("timezone")?.trim().to_string();
    let sched = Schedule::parse(interval, &schedule, &tz).map_err(ApiError::param)?;
    let max = max_snaps(args)?.ok_or_else(|| ApiError::param("maxsnaps is required"))?;
    for z in args.list("zoneids").unwrap_or_default() {
        if z.trim().parse::<Uuid>().ok() != Some(v.zone_id) {
            return param_err(
                "Snapshots are kept in the volume's zone only: zoneids may name only it",
            );
        }
    }
    let now = api::time::now_ms();
    let existing = {
        let mut c = st.store.read().await?;
        db::snapshot_policy_list(&mut c, Some(v.id), &[], None).await?
    }
    .into_iter()
    .find(|p| p.interval_type == interval.as_str());
    let mut tx = st.store.begin().await?;
    // A second policy of the same interval replaces the first (CloudStack updates it).
    let row = match existing {
        Some(mut p) => {
            p.schedule = schedule;
            p.timezone = tz;
            p.max_snaps = max;
            p.next_run = sched.next_after(now);
            p.display = args.bool("fordisplay").unwrap_or(p.display);
            db::snapshot_policy_update(&mut tx, &p).await?;
            p
        }
        None => {
            let p = SnapshotPolicyRow {
                id: SnapshotPolicyId::new(),
                volume_id: v.id,
                account_id: v.account_id,
                domain_id: v.domain_id,
                interval_type: interval.as_str().into(),
                schedule,
                timezone: tz,
                max_snaps: max,
                next_run: sched.next_after(now),
                display: args.bool("fordisplay").unwrap_or(true),
                created: now,
            };
            db::snapshot_policy_insert(&mut tx, &p).await?;
            p
        }
    };
    Event::new(
        ctx,
        "SNAPSHOTPOLICY.CREATE",
        format!(
            "{} snapshot policy for volume {}",
            row.interval_type, v.name
        ),
    )
    .resource(row.id, "SnapshotPolicy", None)
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(json!({ "snapshotpolicy": view(&row) }))
}

pub async fn list(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let rows = match (args.uuid("id"), args.uuid("volumeid")) {
        (Some(id), _) => vec![owned(st, ctx, "id", id).await?],
        (None, Some(vol)) => {
            let v = crate::handlers::volumes::owned(st, ctx, "volumeid", vol).await?;
            let mut c = st.store.read().await?;
            db::snapshot_policy_list(&mut c, Some(v.id), &[], None).await?
        }
        (None, None) => {
            let mut c = st.store.read().await?;
            db::snapshot_policy_list(&mut c, None, &[], Some(ctx.account_id())).await?
        }
    };
    let shown: Vec<Value> = rows
        .iter()
        .filter(|p| match args.bool("fordisplay") {
            Some(d) => p.display == d,
            None => true,
        })
        .filter(|p| match args.text("keyword") {
            Some(k) => p.interval_type.to_lowercase().contains(&k.to_lowercase()),
            None => true,
        })
        .map(view)
        .collect();
    let total = shown.len() as u64;
    let page: Vec<Value> = shown
        .into_iter()
        .skip(args.page.offset as usize)
        .take(args.page.limit.unwrap_or(u64::MAX) as usize)
        .collect();
    Ok(list_body("snapshotpolicy", total, page))
}

pub async fn update_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let p = owned(st, ctx, "id", args.required_id("id")?).await?;
    if args.has("customid") && !ctx.is_root_admin() {
        return Err(ApiError::permission("Only root admins may set a custom id").into());
    }
    updated(&p, args)?;
    Ok(JobPlan {
        instance_type: Some("SnapshotPolicy"),
        instance_id: Some(p.id.to_string()),
        returns_id: false,
        description: format!("Updating the {} snapshot policy", p.interval_type),
    })
}

/// The policy as the update asks it to be.
fn updated(p: &SnapshotPolicyRow, args: &Args) -> AppResult<SnapshotPolicyRow> {
    let mut n = p.clone();
    if let Some(s) = args.text("schedule") {
        n.schedule = s.trim().to_string();
    }
    if let Some(t) = args.text("timezone") {
        n.timezone = t.trim().to_string();
    }
    if let Some(m) = max_snaps(args)? {
        n.max_snaps = m;
    }
    if let Some(d) = args.bool("fordisplay") {
        n.display = d;
    }
    let interval = Interval::parse(&n.interval_type).unwrap_or(Interval::Hourly);
    let sched = Schedule::parse(interval, &n.schedule, &n.timezone).map_err(ApiError::param)?;
    if n.schedule != p.schedule || n.timezone != p.timezone {
        n.next_run = sched.next_after(api::time::now_ms());
    }
    Ok(n)
}

pub async fn update_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let id: SnapshotPolicyId = job.instance()?;
    let p = owned(st, ctx, "id", id.0).await?;
    let n = updated(&p, args)?;
    let mut tx = st.store.begin().await?;
    db::snapshot_policy_update(&mut tx, &n).await?;
    tx.commit().await?;
    if n.max_snaps < p.max_snaps {
        domain::snapshots::retain(st, n.id).await?;
    }
    Ok(json!({ "snapshotpolicy": view(&n) }))
}

pub async fn delete(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let mut ids: Vec<Uuid> = args.uuid("id").into_iter().collect();
    for s in args.list("ids").unwrap_or_default() {
        ids.push(
            s.trim()
                .parse()
                .map_err(|_| ApiError::invalid_id("ids", s))?,
        );
    }
    if ids.is_empty() {
        return param_err("Please specify id or ids of the snapshot policies to delete");
    }
    let mut rows = Vec::new();
    for id in ids {
        rows.push(owned(st, ctx, "id", id).await?);
    }
    let mut tx = st.store.begin().await?;
    let ids: Vec<SnapshotPolicyId> = rows.iter().map(|p| p.id).collect();
    db::snapshot_policy_delete(&mut tx, &ids, None).await?;
    for p in &rows {
        Event::new(
            ctx,
            "SNAPSHOTPOLICY.DELETE",
            format!("{} snapshot policy deleted", p.interval_type),
        )
        .resource(p.id, "SnapshotPolicy", None)
        .record(&mut tx)
        .await?;
    }
    tx.commit().await?;
    Ok(success_body())
}

/// The `snapshot-policies` task: claims the due policies and submits their snapshots.
pub async fn run_due(st: &State) -> AppResult<()> {
    let now = api::time::now_ms();
    let due = {
        let mut c = st.store.read().await?;
        db::snapshot_policies_due(&mut c, now, 200).await?
    };
    for p in due {
        let next = Interval::parse(&p.interval_type)
            .and_then(|i| Schedule::parse(i, &p.schedule, &p.timezone).ok())
            .map(|s| s.next_after(now))
            .unwrap_or(now + 3_600_000);
        let claimed = {
            let mut tx = st.store.begin().await?;
            let won = db::snapshot_policy_claim(&mut tx, p.id, p.next_run, next).await?;
            tx.commit().await?;
            won
        };
        if !claimed {
            continue; // another server takes this one
        }
        if let Err(e) = take(st, &p).await {
            tracing::warn!(policy = %p.id, volume = %p.volume_id, error = %e, "a scheduled snapshot was not taken");
        }
    }
    Ok(())
}

/// Submits a policy's snapshot as the volume's owner (its account's first user).
async fn take(st: &State, p: &SnapshotPolicyRow) -> AppResult<()> {
    let Some(v) = domain::volumes::load(st, p.volume_id).await? else {
        // The volume is gone: so is its policy.
        let mut tx = st.store.begin().await?;
        db::snapshot_policy_delete(&mut tx, &[p.id], None).await?;
        tx.commit().await?;
        return Ok(());
    };
    let user = {
        let mut c = st.store.read().await?;
        db::user_list_for_accounts(&mut c, &[v.account_id]).await?
    }
    .into_iter()
    .next();
    let Some(user) = user else {
        tracing::warn!(policy = %p.id, "the volume's account has no user; no snapshot taken");
        return Ok(());
    };
    let ctx = OpContext::new(user, false);
    let id = super::record(st, &ctx, &v, None, Some(p)).await?;
    let (vol, pol) = (v.id.to_string(), p.id.to_string());
    let raw = RawParams::from_pairs([
        ("command", "createSnapshot"),
        ("volumeid", vol.as_str()),
        ("policyid", pol.as_str()),
    ]);
    let spec = st
        .registry
        .get("createSnapshot")
        .ok_or_else(|| crate::error::AppError::Internal("no createSnapshot".into()))?;
    let args = spec.bind(&raw, u64::MAX)?;
    let plan = JobPlan {
        instance_type: Some("Snapshot"),
        instance_id: Some(id.to_string()),
        returns_id: true,
        description: format!("{} snapshot of volume {}", p.interval_type, v.name),
    };
    crate::jobs::submit(st, &ctx, &args, &raw, &plan).await?;
    Ok(())
}
