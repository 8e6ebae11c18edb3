//! destroyVolume, recoverVolume and the storage cleanup task, as CloudStack 4.15+: a
//! destroyed data volume is kept (state Destroy, out of the account's volume and primary
//! storage counts) for `storage.cleanup.delay` seconds, then expunged; until then its owner
//! may recover it. `expunge=true` deletes it at once.

use api::ErrorCode;

use super::*;
use crate::error::param_err;
use crate::events::Event;
use crate::jobs::{JobPlan, JobRef};

/// `allow.user.expunge.recover.volume` as it applies to the caller's account.
async fn user_may(st: &State, ctx: &OpContext) -> AppResult<bool> {
    if ctx.is_admin() {
        return Ok(true);
    }
    let chain = crate::handlers::scoped_config::account_chain(st, &ctx.user.account).await?;
    Ok(st
        .settings
        .scoped_bool("allow.user.expunge.recover.volume", &chain))
}

fn refused(what: &str) -> crate::error::AppError {
    ApiError::permission(format!(
        "{what} a volume is for admins only (or when allow.user.expunge.recover.volume is true)"
    ))
    .into()
}

/// The states a detached volume is destroyed (or deleted) from.
pub(crate) const DESTROYABLE: &[model::VolumeState] = &[
    model::VolumeState::Allocated,
    model::VolumeState::Ready,
    model::VolumeState::Uploaded,
    model::VolumeState::NotUploaded,
    model::VolumeState::UploadError,
    model::VolumeState::UploadAbandoned,
];

async fn destroyable(st: &State, ctx: &OpContext, args: &Args) -> AppResult<VolumeRow> {
    let v = owned(st, ctx, "id", args.required_id("id")?).await?;
    if args.flag("expunge") && !user_may(st, ctx).await? {
        return Err(refused("Expunging"));
    }
    check_delete_protection(&v)?;
    if v.vm_id.is_some() {
        return param_err("Please specify a volume that is not attached to any VM.");
    }
    let ok = if args.flag("expunge") {
        matches!(
            v.state,
            model::VolumeState::Allocated
                | model::VolumeState::Ready
                | model::VolumeState::Uploaded
                | model::VolumeState::Destroy
        )
    } else {
        matches!(
            v.state,
            model::VolumeState::Allocated
                | model::VolumeState::Ready
                | model::VolumeState::Uploaded
        )
    };
    if !ok {
        return param_err(format!(
            "Volume {} is in state {}: it cannot be destroyed",
            v.name, v.state
        ));
    }
    Ok(v)
}

pub async fn destroy_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let v = destroyable(st, ctx, args).await?;
    Ok(JobPlan {
        instance_type: Some("Volume"),
        instance_id: Some(v.id.to_string()),
        returns_id: false,
        description: format!("Destroying volume {}", v.name),
    })
}

pub async fn destroy_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    _job: &JobRef,
) -> AppResult<Value> {
    // Checked again: the volume may have changed while the job waited.
    let v = destroyable(st, ctx, args).await?;
    if args.flag("expunge") {
        purge(st, ctx, &v, "VOLUME.DESTROY").await?;
        let gone = VolumeRow {
            state: model::VolumeState::Expunged,
            ..v
        };
        let n = names(st, std::slice::from_ref(&gone)).await?;
        return Ok(json!({ "volume": view(ctx, &gone, &n, &[]) }));
    }
    let mut attrs = v.attrs.clone();
    if !attrs.is_object() {
        attrs = json!({});
    }
    attrs["destroyedat"] = json!(api::time::now_ms());
    let mut tx = st.store.begin().await?;
    let moved = db::volume_transition(
        &mut tx,
        v.id,
        DESTROYABLE,
        model::VolumeState::Destroy,
        None,
    )
    .await?;
    if !moved {
        return param_err(format!("Volume {} changed state meanwhile", v.name));
    }
    db::volume_update(&mut tx, v.id, &v.name, &attrs).await?;
    Event::new(
        ctx,
        "VOLUME.DESTROY",
        format!("Volume {} destroyed", v.name),
    )
    .resource(v.id, "Volume", Some(&v.name))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    result(st, ctx, v.id).await
}

/// recoverVolume: a destroyed volume comes back (Ready, or Allocated when it never had a
/// disk), counted against its account's limits again.
pub async fn recover(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let v = owned(st, ctx, "id", args.required_id("id")?).await?;
    if !user_may(st, ctx).await? {
        return Err(refused("Recovering"));
    }
    if v.state != model::VolumeState::Destroy {
        return param_err(format!(
            "Volume {} is in state {}: only a destroyed volume can be recovered",
            v.name, v.state
        ));
    }
    let acct = access::account(st, "id", v.account_id).await?;
    crate::handlers::limits::enforce(
        st,
        &acct,
        &[
            (model::limits::ResourceType::Volume, 1),
            (model::limits::ResourceType::PrimaryStorage, v.size),
        ],
    )
    .await?;
    let to = if v.pool_id.is_some() {
        model::VolumeState::Ready
    } else if v.attrs["image_file"].is_string() {
        model::VolumeState::Uploaded
    } else if v.attrs["image_format"].is_string() {
        return param_err(format!(
            "Volume {} was never uploaded: there is nothing to recover",
            v.name
        ));
    } else {
        model::VolumeState::Allocated
    };
    let mut attrs = v.attrs.clone();
    if let Some(o) = attrs.as_object_mut() {
        o.remove("destroyedat");
    }
    let mut tx = st.store.begin().await?;
    if !db::volume_transition(&mut tx, v.id, &[model::VolumeState::Destroy], to, None).await? {
        return Err(ApiError::new(
            ErrorCode::ResourceInUse,
            format!("Volume {} is being expunged", v.name),
        )
        .into());
    }
    db::volume_update(&mut tx, v.id, &v.name, &attrs).await?;
    Event::new(
        ctx,
        "VOLUME.RECOVER",
        format!("Volume {} recovered", v.name),
    )
    .resource(v.id, "Volume", Some(&v.name))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    result(st, ctx, v.id).await
}

/// The `storage-cleanup` task: expunges the volumes destroyed `storage.cleanup.delay`
/// seconds ago (each claimed Destroy → Expunging, so one server does it), and retries the
/// ones a failed attempt left Expunging.
pub async fn cleanup(st: &State) -> AppResult<usize> {
    if !st.settings.bool("storage.cleanup.enabled") {
        return Ok(0);
    }
    let abandoned = super::upload::abandon_expired(st).await?;
    if abandoned > 0 {
        tracing::info!(
            volumes = abandoned,
            "storage cleanup: uploads never made, abandoned"
        );
    }
    let now = api::time::now_ms();
    let delay = st.settings.int("storage.cleanup.delay").max(0) * 1000;
    let mut due = Vec::new();
    for state in [model::VolumeState::Destroy, model::VolumeState::Expunging] {
        let mut c = st.store.read().await?;
        due.extend(
            db::volume_list(
                &mut c,
                &db::VolumeFilter {
                    state: Some(state),
                    limit: Some(500),
                    ..Default::default()
                },
            )
            .await?
            .0,
        );
    }
    let mut n = 0;
    for v in due {
        let since = v.attrs["destroyedat"].as_i64().unwrap_or(v.created);
        if v.state == model::VolumeState::Destroy && now - since < delay {
            continue;
        }
        let claimed = {
            let mut tx = st.store.begin().await?;
            let won = db::volume_transition(
                &mut tx,
                v.id,
                &[v.state],
                model::VolumeState::Expunging,
                None,
            )
            .await?;
            tx.commit().await?;
            won
        };
        if !claimed {
            continue;
        }
        let user = {
            let mut c = st.store.read().await?;
            db::user_list_for_accounts(&mut c, &[v.account_id]).await?
        }
        .into_iter()
        .next();
        let Some(user) = user else {
            continue;
        };
        let ctx = OpContext::new(user, false);
        match purge(st, &ctx, &v, "VOLUME.DELETE").await {
            Ok(()) => n += 1,
            Err(e) => {
                tracing::warn!(volume = %v.id, error = %e, "a destroyed volume was not expunged; retried next round")
            }
        }
    }
    if n > 0 {
        tracing::info!(volumes = n, "storage cleanup: expunged destroyed volumes");
    }
    Ok(n)
}
