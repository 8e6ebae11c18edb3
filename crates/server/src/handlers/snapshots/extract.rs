//! extractVolume and extractTemplate: a time-limited download link (`/client/extract/<id>` on
//! the API port; the id is random and is the link's only secret) to the file on the image
//! store. A volume is first sent there by its host (its VM stopped, or detached), flattened;
//! a template's own file is linked. Links expire after `extract.url.expiration.interval`
//! seconds; the purge task deletes them and the volume copies.

use api::{ApiError, Args};
use db::{ExtractRow, Infra};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::context::OpContext;
use crate::error::{param_err, AppResult};
use crate::jobs::{JobPlan, JobRef};
use crate::state::State;

fn mode(args: &Args) -> AppResult<()> {
    match args.text("mode").map(str::to_ascii_uppercase).as_deref() {
        None | Some("HTTP_DOWNLOAD") => Ok(()),
        Some("FTP_UPLOAD") => param_err("FTP_UPLOAD is not supported: use HTTP_DOWNLOAD"),
        Some(m) => param_err(format!("Invalid mode {m}: HTTP_DOWNLOAD")),
    }
}

fn link(st: &State, ctx: &OpContext, id: Uuid) -> String {
    let _ = st;
    let origin = ctx
        .origin
        .clone()
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    format!("http://{origin}/client/extract/{id}.qcow2")
}

fn view(e: &ExtractRow, name: &str, zone: Option<&str>) -> Value {
    let ready = e.state == "Ready";
    let mut o = json!({
        "id": e.object_id,
        "name": name,
        "extractId": e.id,
        "accountid": e.account_id,
        "state": if ready { "DOWNLOAD_URL_CREATED" } else { "UPLOAD_IN_PROGRESS" },
        "status": if ready { "DOWNLOAD_URL_CREATED" } else { "Uploading" },
        "uploadpercentage": if ready { 100 } else { 0 },
        "extractMode": "HTTP_DOWNLOAD",
        "created": api::time::format_ms(e.created),
        "expires": api::time::format_ms(e.expires),
        "zoneid": e.zone_id,
        "url": e.url,
    });
    if let Some(z) = zone {
        o["zonename"] = json!(z);
    }
    o
}

async fn expires(st: &State) -> i64 {
    api::time::now_ms() + st.settings.int("extract.url.expiration.interval").max(60) * 1000
}

pub async fn volume_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    mode(args)?;
    let v = crate::handlers::volumes::owned(st, ctx, "id", args.required_id("id")?).await?;
    crate::handlers::volumes::refuse_encrypted(&v, "Extraction")?;
    if v.state != model::VolumeState::Ready || v.pool_id.is_none() {
        return param_err(format!(
            "Volume {} is {}: only a volume created on primary storage can be extracted",
            v.name, v.state
        ));
    }
    if let Some(z) = args.uuid("zoneid") {
        if z != v.zone_id {
            return param_err("The volume is not in that zone");
        }
    }
    if let Some(vm) = v.vm_id {
        if let Some(vm) = crate::handlers::vms::load(st, vm).await? {
            if vm.state != model::VmState::Stopped {
                return param_err(format!(
                    "Volume {} is attached to VM {}, which is {}: stop it to extract the volume",
                    v.name, vm.display_name, vm.state
                ));
            }
        }
    }
    let (_, store) = domain::snapshots::zone_store(st, v.zone_id).await?;
    let id = Uuid::new_v4();
    let e = ExtractRow {
        id,
        kind: "volume".into(),
        object_id: v.id.0,
        account_id: v.account_id,
        zone_id: v.zone_id,
        file: store
            .join("extract")
            .join(format!("{id}.qcow2"))
            .display()
            .to_string(),
        url: link(st, ctx, id),
        state: "Uploading".into(),
        expires: expires(st).await,
        created: api::time::now_ms(),
    };
    let mut tx = st.store.begin().await?;
    db::extract_insert(&mut tx, &e).await?;
    tx.commit().await?;
    Ok(JobPlan {
        instance_type: Some("Volume"),
        instance_id: Some(v.id.to_string()),
        returns_id: false,
        description: format!("Extracting volume {}", v.name),
    })
}

/// The job's object and its newest download link.
async fn link_of(st: &State, job: &JobRef, kind: &str) -> AppResult<(Uuid, ExtractRow)> {
    let object: Uuid = job.instance()?;
    let e = {
        let mut c = st.store.read().await?;
        db::extract_latest(&mut c, kind, object).await?
    }
    .ok_or_else(|| ApiError::param("The download link expired before it was ready"))?;
    Ok((object, e))
}

pub async fn volume_run(
    st: &State,
    _ctx: &OpContext,
    _args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let (vid, e) = link_of(st, job, "volume").await?;
    let lid = e.id;
    let v = domain::volumes::load(st, model::VolumeId(vid))
        .await?
        .ok_or_else(|| ApiError::invalid_id("id", &vid.to_string()))?;
    if e.state != "Ready" {
        let pool = v
            .pool_id
            .ok_or_else(|| ApiError::param("The volume is not on primary storage"))?;
        let vm = match v.vm_id {
            Some(vm) => crate::handlers::vms::load(st, vm).await?,
            None => None,
        };
        let host = domain::volumes::stored_host(st, &v, vm.as_ref()).await?;
        let reply = st
            .hub
            .command_ready(
                host,
                proto::Command::UploadVolume {
                    pool_path: domain::vms::pool_path(st, pool).await?,
                    volume_id: v.id.into(),
                    kind: "extract".into(),
                    id: lid,
                },
                std::time::Duration::from_secs(3600),
            )
            .await?;
        if reply["simulated"] == true {
            // A simulated host sends nothing: the link serves an empty qcow2 header.
            let path = std::path::Path::new(&e.file);
            if let Some(d) = path.parent() {
                let _ = std::fs::create_dir_all(d);
            }
            std::fs::write(path, b"QFI\xfb")
                .map_err(|err| crate::error::AppError::Internal(err.to_string()))?;
        }
        let mut tx = st.store.begin().await?;
        db::extract_set_state(&mut tx, lid, "Ready").await?;
        tx.commit().await?;
    }
    let e = {
        let mut c = st.store.read().await?;
        db::extract_get(&mut c, lid).await?
    }
    .ok_or_else(|| ApiError::param("The download link expired"))?;
    let zone = crate::handlers::zones::names(st, Infra::Zone, std::iter::once(e.zone_id)).await?;
    Ok(json!({ "volume": view(&e, &v.name, zone.get(&e.zone_id).map(String::as_str)) }))
}

pub async fn template_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    mode(args)?;
    let id = args.required_id::<Uuid>("id")?;
    let t = crate::handlers::templates::usable(st, &ctx.user.account, "id", id).await?;
    // extractIso takes ISOs, extractTemplate templates (one table holds both).
    if (t.kind == "ISO") != (args.command == "extractIso") {
        return Err(ApiError::invalid_id("id", &id.to_string()).into());
    }
    let owner = t.attrs["account_id"]
        .as_str()
        .and_then(|a| a.parse::<Uuid>().ok());
    if !ctx.is_admin() && owner != Some(ctx.account_id().0) && t.attrs["isextractable"] != true {
        return Err(ApiError::permission(format!(
            "Template {} is not extractable by this account",
            t.name
        ))
        .into());
    }
    let Some(file) = t.attrs["path"].as_str() else {
        return param_err(format!(
            "Template {} has no file in the image store",
            t.name
        ));
    };
    if t.attrs["isready"] != true {
        return param_err(format!("Template {} is not ready", t.name));
    }
    let zone = match args.uuid("zoneid") {
        Some(z) => z,
        None if !t.zone_id.is_nil() => t.zone_id,
        None => return param_err("Please specify zoneid for a cross-zone template"),
    };
    let lid = Uuid::new_v4();
    let e = ExtractRow {
        id: lid,
        kind: "template".into(),
        object_id: t.id,
        account_id: ctx.account_id(),
        zone_id: zone,
        file: file.to_string(),
        url: link(st, ctx, lid),
        state: "Ready".into(),
        expires: expires(st).await,
        created: api::time::now_ms(),
    };
    let mut tx = st.store.begin().await?;
    db::extract_insert(&mut tx, &e).await?;
    tx.commit().await?;
    Ok(JobPlan {
        instance_type: Some("Template"),
        instance_id: Some(t.id.to_string()),
        returns_id: false,
        description: format!("Extracting template {}", t.name),
    })
}

pub async fn template_run(
    st: &State,
    _ctx: &OpContext,
    args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let (tid, e) = link_of(st, job, "template").await?;
    let t = crate::handlers::zones::get(st, Infra::Template, "id", tid).await?;
    let zone = crate::handlers::zones::names(st, Infra::Zone, std::iter::once(e.zone_id)).await?;
    let key = if args.command == "extractIso" {
        "iso"
    } else {
        "template"
    };
    Ok(json!({ key: view(&e, &t.name, zone.get(&e.zone_id).map(String::as_str)) }))
}

/// The purge: expired links go, with the volume copies made for them.
pub async fn purge(st: &crate::state::AppState) -> AppResult<()> {
    let gone = {
        let mut tx = st.store.begin().await?;
        let rows = db::extract_take_expired(&mut tx, api::time::now_ms()).await?;
        tx.commit().await?;
        rows
    };
    for e in gone.iter().filter(|e| e.kind == "volume") {
        let _ = std::fs::remove_file(&e.file);
    }
    Ok(())
}
