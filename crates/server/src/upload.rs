//! Browser uploads into the image store (CloudStack's "post upload"): getUploadParamsFor
//! Template/Iso/Volume record the object and hand the caller a ticket — `postURL`,
//! `metadata`, `expires`, `signature` — and the caller POSTs the file (multipart/form-data,
//! as CloudStack's UI sends it, or the raw bytes) to `postURL` with the headers
//! `X-signature`, `X-metadata` and `X-expires`.
//!
//! The ticket is signed with the servers' shared key (any server of the cloud takes the
//! upload), names one object, a format, a size limit and an optional checksum, and expires
//! after `upload.operation.timeout` minutes. The file is written to `.part` while md5 and
//! sha256 are computed, its format and checksum are checked, and only then is it renamed into
//! place and the object made ready (a template `Download Complete`, a volume `Uploaded`).

use std::path::PathBuf;

use axum::extract::{FromRequest, Path as AxPath, Request, State as AxState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use futures_util::StreamExt;
use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::Sha256;
use tokio::io::AsyncWriteExt;
use uuid::Uuid;

use crate::context::OpContext;
use crate::state::State;

/// What an upload may be: one object, its format, at most `max` bytes, before `expires`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ticket {
    /// `template` (templates and ISOs) or `volume`.
    pub kind: String,
    pub id: Uuid,
    pub format: String,
    pub max: u64,
    #[serde(default)]
    pub checksum: Option<String>,
    /// Epoch ms.
    pub expires: i64,
}

impl Ticket {
    pub fn new(
        st: &State,
        kind: &str,
        id: Uuid,
        format: &str,
        max: u64,
        checksum: Option<&str>,
    ) -> Self {
        Ticket {
            kind: kind.into(),
            id,
            format: format.to_ascii_uppercase(),
            max,
            checksum: checksum.map(str::to_string),
            expires: api::time::now_ms() + timeout_ms(st),
        }
    }
}

/// `upload.operation.timeout` (minutes) in ms.
pub fn timeout_ms(st: &State) -> i64 {
    st.settings.int("upload.operation.timeout").max(1) * 60_000
}

fn signed_text(id: Uuid, metadata: &str, expires: &str) -> String {
    format!("{id}\n{metadata}\n{expires}")
}

/// The `getuploadparams` answer for a ticket.
pub fn params(st: &State, ctx: &OpContext, t: Ticket) -> Value {
    let origin = ctx
        .origin
        .clone()
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let post_url = format!("http://{origin}/client/upload/{}", t.id);
    let metadata = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&t).unwrap_or_default());
    let expires = api::time::format_ms(t.expires);
    let signature = st
        .key
        .mac(signed_text(t.id, &metadata, &expires).as_bytes());
    json!({ "getuploadparams": {
        "id": t.id,
        "postURL": post_url,
        "metadata": metadata,
        "expires": expires,
        "signature": signature,
    }})
}

/// A refusal: the HTTP status and why.
type Refusal = (StatusCode, String);

fn unavailable<E>(_: E) -> Refusal {
    no(StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
}

fn no(code: StatusCode, why: impl Into<String>) -> Refusal {
    (code, why.into())
}

fn text<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

fn refuse(code: StatusCode, why: impl Into<String>) -> Response {
    (code, why.into()).into_response()
}

/// The ticket the headers carry, checked: signed by a server of this cloud, for `id`, not
/// expired.
fn ticket(st: &State, id: Uuid, headers: &HeaderMap) -> Result<Ticket, Refusal> {
    let h = |k: &str| headers.get(k).and_then(|v| v.to_str().ok()).map(str::trim);
    let (Some(sig), Some(meta), Some(exp)) = (h("x-signature"), h("x-metadata"), h("x-expires"))
    else {
        return Err(no(
            StatusCode::BAD_REQUEST,
            "the X-signature, X-metadata and X-expires headers of getUploadParams are required",
        ));
    };
    if !st
        .key
        .verify_mac(signed_text(id, meta, exp).as_bytes(), sig)
    {
        return Err(no(StatusCode::FORBIDDEN, "invalid upload signature"));
    }
    let t: Ticket = URL_SAFE_NO_PAD
        .decode(meta)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| no(StatusCode::BAD_REQUEST, "malformed X-metadata"))?;
    if t.id != id {
        return Err(no(
            StatusCode::FORBIDDEN,
            "the ticket is for another object",
        ));
    }
    if api::time::now_ms() > t.expires {
        return Err(no(StatusCode::FORBIDDEN, "the upload URL has expired"));
    }
    Ok(t)
}

/// `POST /client/upload/<id>`.
pub async fn post(
    AxState(st): AxState<State>,
    AxPath(id): AxPath<String>,
    req: Request,
) -> Response {
    let Ok(id) = id.parse::<Uuid>() else {
        return refuse(StatusCode::NOT_FOUND, "no such upload");
    };
    let t = match ticket(&st, id, req.headers()) {
        Ok(t) => t,
        Err(r) => return refused(req, r).await,
    };
    // Claimed once: a second POST of the same ticket finds it taken.
    let dest = match claim(&st, &t).await {
        Ok(d) => d,
        Err(r) => return refused(req, r).await,
    };
    let got = receive(&t, &dest, req).await;
    let outcome = match got {
        Ok(got) => finish(&st, &t, &dest, got).await,
        Err(e) => Err(e),
    };
    match outcome {
        Ok(size) => {
            tracing::info!(kind = %t.kind, %id, size, "upload stored in the image store");
            (StatusCode::OK, format!("{size}")).into_response()
        }
        Err(e) => {
            let _ = tokio::fs::remove_file(&dest).await;
            tracing::warn!(kind = %t.kind, %id, error = %e, "upload refused");
            if let Err(x) = failed(&st, &t, &e).await {
                tracing::error!(%id, error = %x, "could not record the failed upload");
            }
            refuse(StatusCode::BAD_REQUEST, e)
        }
    }
}

/// A refusal before the file is read: up to 4 MiB of the body is read first (for 5 s at
/// most), so that a client still sending gets the answer rather than a reset connection.
async fn refused(req: Request, (code, why): Refusal) -> Response {
    let mut body = req.into_body().into_data_stream();
    let drain = async {
        let mut n = 0usize;
        while let Some(Ok(c)) = body.next().await {
            n += c.len();
            if n > 4 << 20 {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), drain).await;
    refuse(code, why)
}

/// The image store path of the zone of a volume.
async fn zone_store(st: &State, zone: Uuid) -> Result<PathBuf, String> {
    let mut c = st.store.read().await.map_err(|e| e.to_string())?;
    let stores = db::infra_list(
        &mut c,
        db::Infra::ImageStore,
        &db::InfraFilter {
            zone_id: Some(zone),
            ..Default::default()
        },
    )
    .await
    .map_err(|e| e.to_string())?
    .0;
    stores
        .iter()
        .filter(|s| s.attrs["readonly"] != true)
        .find_map(|s| s.attrs["path"].as_str().map(PathBuf::from))
        .ok_or_else(|| "the zone has no writable image store".to_string())
}

/// Where an uploaded (or downloaded) volume's file goes.
pub async fn volume_file(
    st: &State,
    zone: Uuid,
    id: Uuid,
    format: &str,
) -> Result<PathBuf, String> {
    let ext = if format.eq_ignore_ascii_case("RAW") {
        "raw"
    } else {
        "qcow2"
    };
    Ok(zone_store(st, zone)
        .await?
        .join("volumes")
        .join(format!("{id}.{ext}")))
}

async fn claim(st: &State, t: &Ticket) -> Result<PathBuf, Refusal> {
    let busy = || {
        no(
            StatusCode::CONFLICT,
            "this object is not waiting for an upload",
        )
    };
    match t.kind.as_str() {
        "template" => {
            let mut tx = st.store.begin().await.map_err(unavailable)?;
            let row = db::infra_get(&mut tx, db::Infra::Template, t.id)
                .await
                .map_err(unavailable)?
                .ok_or_else(|| no(StatusCode::NOT_FOUND, "no such template"))?;
            if row.state != "NotUploaded" {
                return Err(busy());
            }
            let mut row = row;
            row.state = "Upload in progress".into();
            db::infra_update(&mut tx, db::Infra::Template, &row)
                .await
                .map_err(unavailable)?;
            tx.commit().await.map_err(unavailable)?;
            let store = row.attrs["storepath"].as_str().unwrap_or_default();
            Ok(crate::images::image_path(
                std::path::Path::new(store),
                t.id,
                &t.format,
            ))
        }
        "volume" => {
            let v = domain::volumes::load(st, model::VolumeId(t.id))
                .await
                .map_err(unavailable)?
                .ok_or_else(|| no(StatusCode::NOT_FOUND, "no such volume"))?;
            let dest = volume_file(st, v.zone_id, t.id, &t.format)
                .await
                .map_err(|e| no(StatusCode::CONFLICT, e))?;
            let mut tx = st.store.begin().await.map_err(unavailable)?;
            let won = db::volume_transition(
                &mut tx,
                v.id,
                &[model::VolumeState::NotUploaded],
                model::VolumeState::UploadInProgress,
                None,
            )
            .await
            .map_err(unavailable)?;
            tx.commit().await.map_err(unavailable)?;
            if !won {
                return Err(busy());
            }
            Ok(dest)
        }
        _ => Err(no(StatusCode::BAD_REQUEST, "unknown upload kind")),
    }
}

pub struct Received {
    pub size: u64,
    pub md5: String,
    pub sha256: String,
}

/// Streams the file (a multipart form's first file field, or the raw body) to `dest.part`.
async fn receive(t: &Ticket, dest: &std::path::Path, req: Request) -> Result<Received, String> {
    if let Some(dir) = dest.parent() {
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| format!("creating {}: {e}", dir.display()))?;
    }
    let part = dest.with_extension("part");
    let mut out = tokio::fs::File::create(&part)
        .await
        .map_err(|e| format!("creating {}: {e}", part.display()))?;
    let multipart = req
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.to_ascii_lowercase().starts_with("multipart/form-data"));
    let (mut md5, mut sha, mut size) = (Md5::new(), Sha256::new(), 0u64);
    let mut write = |chunk: &[u8], out: &mut tokio::fs::File| {
        size += chunk.len() as u64;
        if size > t.max {
            return Err(format!(
                "the file is larger than the {} bytes allowed",
                t.max
            ));
        }
        md5.update(chunk);
        sha.update(chunk);
        let _ = out;
        Ok(())
    };
    let written: Result<(), String> = async {
        if multipart {
            let mut form = axum::extract::Multipart::from_request(req, &())
                .await
                .map_err(|e| format!("not a multipart form: {e}"))?;
            let mut found = false;
            while let Some(mut field) = form
                .next_field()
                .await
                .map_err(|e| format!("reading the form: {e}"))?
            {
                if field.file_name().is_none() && field.name() != Some("file") {
                    continue;
                }
                found = true;
                while let Some(chunk) =
                    field.chunk().await.map_err(|e| format!("receiving: {e}"))?
                {
                    write(&chunk, &mut out)?;
                    out.write_all(&chunk)
                        .await
                        .map_err(|e| format!("writing: {e}"))?;
                }
                break;
            }
            if !found {
                return Err("the form has no file".into());
            }
        } else {
            let mut body = req.into_body().into_data_stream();
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|e| format!("receiving: {e}"))?;
                write(&chunk, &mut out)?;
                out.write_all(&chunk)
                    .await
                    .map_err(|e| format!("writing: {e}"))?;
            }
        }
        out.sync_all().await.map_err(|e| format!("syncing: {e}"))?;
        Ok(())
    }
    .await;
    drop(out);
    if let Err(e) = written {
        let _ = tokio::fs::remove_file(&part).await;
        return Err(e);
    }
    let checked = async {
        if size == 0 {
            return Err("the file is empty".to_string());
        }
        crate::images::check_format(&part, &t.format).await?;
        if let Some((algo, want)) = t
            .checksum
            .as_deref()
            .and_then(crate::images::parse_checksum)
        {
            let have = if algo == "md5" {
                hex(&md5.clone().finalize())
            } else {
                hex(&sha.clone().finalize())
            };
            if have != want {
                return Err(format!(
                    "Checksum mismatch: expected {algo} {want}, got {have}"
                ));
            }
        }
        Ok(())
    }
    .await;
    if let Err(e) = checked {
        let _ = tokio::fs::remove_file(&part).await;
        return Err(e);
    }
    tokio::fs::rename(&part, dest)
        .await
        .map_err(|e| format!("renaming: {e}"))?;
    Ok(Received {
        size,
        md5: hex(&md5.finalize()),
        sha256: hex(&sha.finalize()),
    })
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A disk image's virtual size: a qcow2's header says it; a raw image is its size.
pub async fn virtual_size(path: &std::path::Path, format: &str, size: u64) -> u64 {
    if !format.eq_ignore_ascii_case("QCOW2") {
        return size;
    }
    let Ok(head) = tokio::fs::read(path).await.map(|mut b| {
        b.truncate(32);
        b
    }) else {
        return size;
    };
    head.get(24..32)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(u64::from_be_bytes)
        .unwrap_or(size)
}

async fn finish(
    st: &State,
    t: &Ticket,
    dest: &std::path::Path,
    got: Received,
) -> Result<u64, String> {
    match t.kind.as_str() {
        "template" => {
            let path = dest.display().to_string();
            crate::images::set(st, t.id, |r| {
                r.state = "Download Complete".into();
                r.attrs["isready"] = json!(true);
                r.attrs["downloadprogress"] = json!(100);
                r.attrs["size"] = json!(got.size);
                r.attrs["physicalsize"] = json!(got.size);
                r.attrs["path"] = json!(path);
                r.attrs["sha256"] = json!(got.sha256);
            })
            .await?;
        }
        _ => {
            let vsize = virtual_size(dest, &t.format, got.size).await;
            volume_ready(
                st,
                model::VolumeId(t.id),
                model::VolumeState::UploadInProgress,
                dest,
                &t.format,
                vsize,
            )
            .await?;
        }
    }
    Ok(got.size)
}

/// An uploaded or downloaded volume's file is in place: the volume is Uploaded, its content
/// that file.
pub async fn volume_ready(
    st: &State,
    id: model::VolumeId,
    from: model::VolumeState,
    file: &std::path::Path,
    format: &str,
    virtual_size: u64,
) -> Result<(), String> {
    let mut tx = st.store.begin().await.map_err(text)?;
    let v = db::volume_get(&mut tx, id)
        .await
        .map_err(text)?
        .ok_or_else(|| "the volume is gone".to_string())?;
    let mut attrs = v.attrs.clone();
    if !attrs.is_object() {
        attrs = json!({});
    }
    attrs["image_file"] = json!(file.display().to_string());
    attrs["image_format"] = json!(format.to_ascii_uppercase());
    if let Some(o) = attrs.as_object_mut() {
        o.remove("upload_expires");
    }
    db::volume_update(&mut tx, id, &v.name, &attrs)
        .await
        .map_err(text)?;
    db::volume_resize(&mut tx, id, virtual_size.min(i64::MAX as u64) as i64)
        .await
        .map_err(text)?;
    if !db::volume_transition(&mut tx, id, &[from], model::VolumeState::Uploaded, None)
        .await
        .map_err(text)?
    {
        return Err("the volume changed state during the upload".into());
    }
    tx.commit().await.map_err(text)
}

/// Records a failed upload (a template's state says why; a volume is UploadError).
pub async fn failed(st: &State, t: &Ticket, why: &str) -> Result<(), String> {
    match t.kind.as_str() {
        "template" => {
            crate::images::set(st, t.id, |r| {
                r.state = format!("Upload Error: {why}");
                r.attrs["failed"] = json!(true);
            })
            .await
        }
        _ => volume_failed(st, model::VolumeId(t.id), why).await,
    }
}

pub async fn volume_failed(st: &State, id: model::VolumeId, why: &str) -> Result<(), String> {
    let mut tx = st.store.begin().await.map_err(text)?;
    if let Some(v) = db::volume_get(&mut tx, id).await.map_err(text)? {
        let mut attrs = v.attrs.clone();
        if !attrs.is_object() {
            attrs = json!({});
        }
        attrs["upload_error"] = json!(why);
        db::volume_update(&mut tx, id, &v.name, &attrs)
            .await
            .map_err(text)?;
        db::volume_transition(
            &mut tx,
            id,
            &[
                model::VolumeState::NotUploaded,
                model::VolumeState::UploadInProgress,
            ],
            model::VolumeState::UploadError,
            None,
        )
        .await
        .map_err(text)?;
    }
    tx.commit().await.map_err(text)
}
