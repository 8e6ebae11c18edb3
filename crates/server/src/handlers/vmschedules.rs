//! VM schedules: createVMSchedule, listVMSchedule, updateVMSchedule, deleteVMSchedule, and the
//! `vm-schedules` task that runs the due ones — each firing claimed by one server (its
//! `next_run` moved on conditionally), then submitted as a start, stop or reboot job of the
//! VM's owner (`FORCE_STOP`/`FORCE_REBOOT`: `forced=true`).

use api::{list_body, success_body, ApiError, Args, RawParams};
use db::VmScheduleRow;
use model::vmschedule::{Action, CronSchedule};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::context::OpContext;
use crate::error::{param_err, AppResult};
use crate::events::Event;
use crate::state::State;

fn view(s: &VmScheduleRow) -> Value {
    let mut v = json!({
        "id": s.id,
        "virtualmachineid": s.vm_id,
        "description": s.description,
        "schedule": s.schedule,
        "timezone": s.timezone,
        "action": s.action,
        "enabled": s.enabled,
        "startdate": api::time::format_ms(s.start_date),
        "created": api::time::format_ms(s.created),
    });
    if let Some(e) = s.end_date {
        v["enddate"] = json!(api::time::format_ms(e));
    }
    v
}

/// A date parameter (`yyyy-MM-dd HH:mm:ss`, or a day) in the schedule's time zone.
fn date(args: &Args, name: &str, tz: &str) -> AppResult<Option<i64>> {
    let Some(t) = args.text(name) else {
        return Ok(None);
    };
    let ms = api::time::parse_date_param(t, true)
        .ok_or_else(|| ApiError::param(format!("Invalid {name} {t}: use yyyy-MM-dd HH:mm:ss")))?;
    let offset = model::schedule::zone_offset(tz).unwrap_or(0);
    Ok(Some(ms - i64::from(offset) * 60_000))
}

/// The next run of a schedule from now on (none past its end date).
fn next_run(s: &VmScheduleRow, now: i64) -> AppResult<Option<i64>> {
    let c = CronSchedule::parse(&s.schedule, &s.timezone).map_err(ApiError::param)?;
    let from = now.max(s.start_date - 1);
    Ok(c.next_after(from)
        .filter(|t| s.end_date.is_none_or(|e| *t <= e)))
}

/// Checks a schedule and computes its next run.
fn checked(mut s: VmScheduleRow) -> AppResult<VmScheduleRow> {
    if Action::parse(&s.action).is_none() {
        return param_err(format!(
            "Invalid action {}: use START, STOP, REBOOT, FORCE_STOP or FORCE_REBOOT",
            s.action
        ));
    }
    let now = api::time::now_ms();
    if let Some(e) = s.end_date {
        if e <= s.start_date.max(now) {
            return param_err("enddate must be after startdate and in the future");
        }
    }
    s.next_run = next_run(&s, now)?;
    if s.next_run.is_none() {
        return param_err(format!(
            "The schedule {} never runs between its start and end dates",
            s.schedule
        ));
    }
    Ok(s)
}

pub async fn create(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let vm = crate::handlers::vms::owned(st, ctx, args.required_id("virtualmachineid")?).await?;
    let tz = args.required_str("timezone")?.trim().to_string();
    let now = api::time::now_ms();
    let action = args.required_str("action")?.trim().to_ascii_uppercase();
    let s = checked(VmScheduleRow {
        id: Uuid::new_v4(),
        vm_id: vm.id,
        description: args
            .text("description")
            .map(str::to_string)
            .unwrap_or_else(|| format!("{action} {}", vm.name)),
        schedule: args.required_str("schedule")?.trim().to_string(),
        timezone: tz.clone(),
        action,
        enabled: args.bool("enabled").unwrap_or(true),
        start_date: date(args, "startdate", &tz)?.unwrap_or(now),
        end_date: date(args, "enddate", &tz)?,
        next_run: None,
        created: now,
    })?;
    let mut tx = st.store.begin().await?;
    db::vm_schedule_put(&mut tx, &s).await?;
    Event::new(
        ctx,
        "VM.SCHEDULE.CREATE",
        format!("Schedule {} ({}) for VM {}", s.schedule, s.action, vm.name),
    )
    .resource(s.id, "VMSchedule", None)
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(json!({ "vmschedule": view(&s) }))
}

/// The schedules of a VM the caller may act on.
async fn of_vm(st: &State, ctx: &OpContext, vm: Uuid) -> AppResult<Vec<VmScheduleRow>> {
    let vm = crate::handlers::vms::owned(st, ctx, vm).await?;
    let mut c = st.store.read().await?;
    Ok(db::vm_schedule_list(&mut c, Some(vm.id)).await?)
}

pub async fn list(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let rows: Vec<VmScheduleRow> = of_vm(st, ctx, args.required_id("virtualmachineid")?)
        .await?
        .into_iter()
        .filter(|s| args.uuid("id").is_none_or(|i| i == s.id))
        .filter(|s| {
            args.text("action")
                .is_none_or(|a| s.action.eq_ignore_ascii_case(a.trim()))
        })
        .filter(|s| args.bool("enabled").is_none_or(|e| e == s.enabled))
        .collect();
    let total = rows.len() as u64;
    let items = args.page.slice(rows).iter().map(view).collect();
    Ok(list_body("vmschedule", total, items))
}

/// A schedule by id, with its VM checked against the caller.
async fn owned(st: &State, ctx: &OpContext, id: Uuid) -> AppResult<VmScheduleRow> {
    let s = {
        let mut c = st.store.read().await?;
        db::vm_schedule_list(&mut c, None)
            .await?
            .into_iter()
            .find(|s| s.id == id)
    }
    .ok_or_else(|| ApiError::invalid_id("id", &id.to_string()))?;
    crate::handlers::vms::owned(st, ctx, s.vm_id.0).await?;
    Ok(s)
}

pub async fn update(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let mut s = owned(st, ctx, args.required_id("id")?).await?;
    if let Some(t) = args.text("timezone") {
        s.timezone = t.trim().to_string();
    }
    if let Some(x) = args.text("schedule") {
        s.schedule = x.trim().to_string();
    }
    if let Some(d) = args.text("description") {
        s.description = d.to_string();
    }
    if let Some(e) = args.bool("enabled") {
        s.enabled = e;
    }
    if let Some(d) = date(args, "startdate", &s.timezone)? {
        s.start_date = d;
    }
    if let Some(d) = date(args, "enddate", &s.timezone)? {
        s.end_date = Some(d);
    }
    let s = checked(s)?;
    let mut tx = st.store.begin().await?;
    db::vm_schedule_put(&mut tx, &s).await?;
    tx.commit().await?;
    Ok(json!({ "vmschedule": view(&s) }))
}

pub async fn delete(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let mine = of_vm(st, ctx, args.required_id("virtualmachineid")?).await?;
    let mut ids: Vec<Uuid> = args.uuid("id").into_iter().collect();
    for i in args.list("ids").unwrap_or_default() {
        ids.push(
            i.trim()
                .parse()
                .map_err(|_| ApiError::invalid_id("ids", i))?,
        );
    }
    if ids.is_empty() {
        return param_err("Please specify id or ids");
    }
    if let Some(x) = ids.iter().find(|i| !mine.iter().any(|s| s.id == **i)) {
        return Err(ApiError::invalid_id("id", &x.to_string()).into());
    }
    let mut tx = st.store.begin().await?;
    db::vm_schedule_delete(&mut tx, &ids).await?;
    tx.commit().await?;
    Ok(success_body())
}

/// The `vm-schedules` task: claims the due schedules and submits their actions.
pub async fn run_due(st: &State) -> AppResult<usize> {
    let now = api::time::now_ms();
    let due = {
        let mut c = st.store.read().await?;
        db::vm_schedules_due(&mut c, now, 200).await?
    };
    let mut n = 0;
    for s in due {
        let Some(seen) = s.next_run else { continue };
        let next = next_run(&s, now).unwrap_or(None);
        let claimed = {
            let mut tx = st.store.begin().await?;
            let won = db::vm_schedule_claim(&mut tx, s.id, seen, next).await?;
            tx.commit().await?;
            won
        };
        if !claimed {
            continue; // another server runs this one
        }
        match fire(st, &s).await {
            Ok(()) => n += 1,
            Err(e) => {
                tracing::warn!(schedule = %s.id, vm = %s.vm_id, error = %e, "a VM schedule's action was not submitted")
            }
        }
    }
    Ok(n)
}

/// Submits a schedule's action as its VM's owner (the account's first user).
async fn fire(st: &State, s: &VmScheduleRow) -> AppResult<()> {
    let Some(vm) = crate::handlers::vms::load(st, s.vm_id).await? else {
        let mut tx = st.store.begin().await?;
        db::vm_schedules_delete_for_vm(&mut tx, s.vm_id).await?;
        tx.commit().await?;
        return Ok(());
    };
    let user = {
        let mut c = st.store.read().await?;
        db::user_list_for_accounts(&mut c, &[vm.account_id]).await?
    }
    .into_iter()
    .next()
    .ok_or_else(|| ApiError::param("the VM's account has no user"))?;
    let ctx = OpContext::new(user, false);
    let (command, forced) = match Action::parse(&s.action) {
        Some(Action::Start) => ("startVirtualMachine", false),
        Some(Action::Stop) => ("stopVirtualMachine", false),
        Some(Action::ForceStop) => ("stopVirtualMachine", true),
        Some(Action::Reboot) => ("rebootVirtualMachine", false),
        Some(Action::ForceReboot) => ("rebootVirtualMachine", true),
        None => return param_err(format!("Invalid action {}", s.action)),
    };
    let id = vm.id.to_string();
    let mut pairs = vec![("command", command), ("id", id.as_str())];
    if forced {
        pairs.push(("forced", "true"));
    }
    let raw = RawParams::from_pairs(pairs);
    let spec = st
        .registry
        .get(command)
        .ok_or_else(|| crate::error::AppError::Internal(format!("no {command}")))?;
    let args = spec.bind(&raw, u64::MAX)?;
    let plan = crate::dispatch::prepare_async(st, &ctx, &args).await?;
    crate::jobs::submit(st, &ctx, &args, &raw, &plan).await?;
    tracing::info!(schedule = %s.id, vm = %vm.name, action = %s.action, "VM schedule fired");
    Ok(())
}
