//! Volumes that come from outside: getUploadParamsForVolume (the caller POSTs the file to the
//! image store, see `crate::upload`) and uploadVolume (the image store downloads it from a
//! URL). Either way the file stays in the zone's image store (state `Uploaded`) until the
//! volume is first attached or its VM starts: then its host fetches it and makes it the
//! volume's disk on primary storage.

use api::ApiError;

use super::*;
use crate::error::param_err;
use crate::events::Event;
use crate::handlers::zones::get as infra_get;
use crate::jobs::{JobPlan, JobRef};

/// The checks both commands make; records the volume in `state`; its id and format.
async fn record(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    state: model::VolumeState,
    attrs: Value,
) -> AppResult<(Uuid, String)> {
    let acct = crate::handlers::vms::owner_account(st, ctx, args).await?;
    let name = args.required_str("name")?.trim().to_string();
    if name.is_empty() {
        return param_err("Name can't be empty");
    }
    let zone = infra_get(st, Infra::Zone, "zoneid", args.required_id("zoneid")?).await?;
    let format = args.required_str("format")?.trim().to_ascii_uppercase();
    if format != "QCOW2" && format != "RAW" {
        return param_err(format!(
            "Invalid format {format}: KVM volumes are uploaded as QCOW2 or RAW"
        ));
    }
    if let Some(c) = args.text("checksum") {
        if crate::images::parse_checksum(c).is_none() {
            return param_err(format!(
                "Invalid checksum {c}: give md5 or sha256 hex, optionally as {{MD5}}hex or {{SHA-256}}hex"
            ));
        }
    }
    let offering = match args.uuid("diskofferingid") {
        Some(o) => Some(infra_get(st, Infra::DiskOffering, "diskofferingid", o).await?),
        None => None,
    };
    if offering
        .as_ref()
        .is_some_and(|o| o.attrs.get("encrypt").and_then(Value::as_bool) == Some(true))
    {
        return param_err(
            "An uploaded volume cannot be encrypted: choose a disk offering without encrypt",
        );
    }
    crate::handlers::limits::enforce(st, &acct, &[(model::limits::ResourceType::Volume, 1)])
        .await?;
    let id = Uuid::new_v4();
    let mut attrs = attrs;
    attrs["image_format"] = json!(format);
    let mut tx = st.store.begin().await?;
    db::volume_insert_in(
        &mut tx,
        &db::NewVolume {
            id: model::VolumeId(id),
            name: name.clone(),
            vol_type: "DATADISK".into(),
            account_id: acct.id,
            domain_id: acct.domain_id,
            zone_id: zone.id,
            vm_id: None,
            device_id: None,
            size: 0,
            disk_offering_id: offering.as_ref().map(|o| o.id),
            template_id: None,
            attrs,
        },
        state,
    )
    .await?;
    Event::new(
        ctx,
        "VOLUME.UPLOAD",
        format!("Volume {name} to be uploaded ({format})"),
    )
    .resource(id, "Volume", Some(&name))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok((id, format))
}

fn max_bytes(st: &State) -> u64 {
    st.settings.int("storage.max.volume.upload.size").max(1) as u64 * (1 << 30)
}

/// getUploadParamsForVolume.
pub async fn upload_params(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let expires = api::time::now_ms() + crate::upload::timeout_ms(st);
    let (id, format) = record(
        st,
        ctx,
        args,
        model::VolumeState::NotUploaded,
        json!({ "upload_expires": expires }),
    )
    .await?;
    let mut t = crate::upload::Ticket::new(
        st,
        "volume",
        id,
        &format,
        max_bytes(st),
        args.text("checksum"),
    );
    t.expires = expires;
    Ok(crate::upload::params(st, ctx, t))
}

/// uploadVolume: recorded at once (UploadInProgress: the answer's `id`), downloaded by the job.
pub async fn upload_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let url = args.required_str("url")?.trim().to_string();
    crate::sources::check(st, ctx.is_root_admin(), &url, "url").await?;
    let (id, _) = record(
        st,
        ctx,
        args,
        model::VolumeState::NotUploaded,
        json!({ "url": url }),
    )
    .await?;
    let mut tx = st.store.begin().await?;
    db::volume_transition(
        &mut tx,
        model::VolumeId(id),
        &[model::VolumeState::NotUploaded],
        model::VolumeState::UploadInProgress,
        None,
    )
    .await?;
    tx.commit().await?;
    Ok(JobPlan {
        instance_type: Some("Volume"),
        instance_id: Some(id.to_string()),
        returns_id: true,
        description: format!("Uploading volume {}", args.text("name").unwrap_or("")),
    })
}

pub async fn upload_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let id = model::VolumeId(job.instance()?);
    let v = load(st, id)
        .await?
        .ok_or_else(|| ApiError::invalid_id("id", &id.to_string()))?;
    if v.state != model::VolumeState::UploadInProgress {
        // Done before a restart took the job over.
        return result(st, ctx, id).await;
    }
    let url = v.attrs["url"].as_str().unwrap_or_default().to_string();
    let format = v.attrs["image_format"]
        .as_str()
        .unwrap_or("QCOW2")
        .to_string();
    let fetched = async {
        let dest = crate::upload::volume_file(st, v.zone_id, id.0, &format).await?;
        let size =
            crate::images::fetch_to(st, &url, &dest, !ctx.is_root_admin(), max_bytes(st)).await?;
        let checked = async {
            crate::images::check_format(&dest, &format).await?;
            if let Some((algo, want)) = args
                .text("checksum")
                .and_then(crate::images::parse_checksum)
            {
                let have = if algo == "md5" {
                    &size.md5
                } else {
                    &size.sha256
                };
                if *have != want {
                    return Err(format!(
                        "Checksum mismatch: expected {algo} {want}, got {have}"
                    ));
                }
            }
            Ok(())
        }
        .await;
        if let Err(e) = checked {
            let _ = tokio::fs::remove_file(&dest).await;
            return Err(e);
        }
        let vsize = crate::upload::virtual_size(&dest, &format, size.size).await;
        crate::upload::volume_ready(
            st,
            id,
            model::VolumeState::UploadInProgress,
            &dest,
            &format,
            vsize,
        )
        .await
    }
    .await;
    if let Err(e) = fetched {
        if let Ok(dest) = crate::upload::volume_file(st, v.zone_id, id.0, &format).await {
            let _ = tokio::fs::remove_file(dest.with_extension("part")).await;
        }
        let _ = crate::upload::volume_failed(st, id, &e).await;
        return param_err(format!("Uploading volume {} failed: {e}", v.name));
    }
    result(st, ctx, id).await
}

/// The storage cleanup's part: volumes whose upload ticket expired unused are abandoned.
pub(crate) async fn abandon_expired(st: &State) -> AppResult<usize> {
    let now = api::time::now_ms();
    let waiting = {
        let mut c = st.store.read().await?;
        db::volume_list(
            &mut c,
            &db::VolumeFilter {
                state: Some(model::VolumeState::NotUploaded),
                limit: Some(500),
                ..Default::default()
            },
        )
        .await?
        .0
    };
    let mut n = 0;
    for v in waiting {
        if v.attrs["upload_expires"].as_i64().is_some_and(|e| e < now) {
            let mut tx = st.store.begin().await?;
            if db::volume_transition(
                &mut tx,
                v.id,
                &[model::VolumeState::NotUploaded],
                model::VolumeState::UploadAbandoned,
                None,
            )
            .await?
            {
                n += 1;
            }
            tx.commit().await?;
        }
    }
    Ok(n)
}
