//! Files agents send to and fetch from the image store over the agent endpoint
//! (`/store/<kind>/<id>`, the host's credential in `Authorization: Host id:secret`, the same
//! pinned TLS as template downloads — a host needs nothing but port 9443):
//!
//! - `PUT /store/snapshot/<id>`: a snapshot being backed up (state BackingUp) — kept at
//!   `STORE/snapshots/<volume>/<id>.qcow2` and recorded on the snapshot row;
//! - `PUT /store/template/<id>`: the disk of a template being created from a volume (it waits
//!   for the upload: `awaitingupload`) — kept where registered templates are;
//! - `PUT /store/extract/<id>`: a volume being extracted (extractVolume) — kept at the
//!   download link's file until the link expires;
//! - `GET /store/snapshot/<id>`: a BackedUp snapshot (a volume made from it, a revert);
//! - `GET /store/volume/<id>`: an uploaded volume's file (the host creates the volume from it).
//!
//! A received file is written to a `.part` next to its place, must be a qcow2 image, is
//! synced, and only then renamed into place.

use axum::extract::{Path as AxPath, State as AxState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;
use uuid::Uuid;

use crate::state::State;

fn deny(code: StatusCode, why: impl Into<String>) -> Response {
    (code, why.into()).into_response()
}

/// Where a PUT of `kind`/`id` goes, or why it may not be sent.
async fn destination(
    st: &State,
    host: model::HostId,
    kind: &str,
    id: Uuid,
) -> Result<std::path::PathBuf, Response> {
    fn unavailable<E>(_: E) -> Response {
        deny(StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
    }
    match kind {
        "snapshot" => {
            let s = domain::snapshots::load(st, model::SnapshotId(id))
                .await
                .map_err(unavailable)?
                .ok_or_else(|| deny(StatusCode::NOT_FOUND, "no such snapshot"))?;
            if s.state != model::SnapshotState::BackingUp {
                return Err(deny(
                    StatusCode::CONFLICT,
                    format!("snapshot {id} is {}, not being backed up", s.state),
                ));
            }
            // Only the host that took the copy sends it.
            let taker = domain::snapshots::attrs(&s)
                .map_err(|e| deny(StatusCode::CONFLICT, e.phrased().1))?
                .host_id;
            if taker.is_some_and(|t| t != host.0) {
                return Err(deny(
                    StatusCode::FORBIDDEN,
                    format!("snapshot {id} is taken by another host"),
                ));
            }
            let (_, path) = domain::snapshots::zone_store(st, s.zone_id)
                .await
                .map_err(|e| deny(StatusCode::CONFLICT, e.phrased().1))?;
            Ok(path.join(domain::snapshots::rel_path(s.volume_id, s.id)))
        }
        "template" => {
            let t = {
                let mut c = st.store.read().await.map_err(unavailable)?;
                db::infra_get(&mut c, db::Infra::Template, id)
                    .await
                    .map_err(|_| deny(StatusCode::SERVICE_UNAVAILABLE, "database unavailable"))?
            }
            .ok_or_else(|| deny(StatusCode::NOT_FOUND, "no such template"))?;
            if t.attrs["awaitingupload"] != true || t.attrs["isready"] == true {
                return Err(deny(
                    StatusCode::CONFLICT,
                    format!("template {id} is not waiting for its disk"),
                ));
            }
            let store = t.attrs["storepath"]
                .as_str()
                .ok_or_else(|| deny(StatusCode::CONFLICT, "the template has no image store"))?;
            Ok(crate::images::image_path(
                std::path::Path::new(store),
                id,
                "QCOW2",
            ))
        }
        "extract" => {
            let e = {
                let mut c = st.store.read().await.map_err(unavailable)?;
                db::extract_get(&mut c, id).await.map_err(unavailable)?
            }
            .ok_or_else(|| deny(StatusCode::NOT_FOUND, "no such download link"))?;
            if e.kind != "volume" || e.state != "Uploading" {
                return Err(deny(
                    StatusCode::CONFLICT,
                    format!("download link {id} is not waiting for a volume"),
                ));
            }
            Ok(std::path::PathBuf::from(e.file))
        }
        _ => Err(deny(
            StatusCode::NOT_FOUND,
            "kinds are snapshot, template and extract",
        )),
    }
}

/// Receives a file from a host.
pub async fn put(
    AxState(st): AxState<State>,
    AxPath((kind, id)): AxPath<(String, Uuid)>,
    headers: axum::http::HeaderMap,
    body: axum::body::Body,
) -> Response {
    let host = match crate::hub::authenticate_host(&st, &headers).await {
        Ok(h) => h,
        Err((code, why)) => return deny(code, why),
    };
    let dest = match destination(&st, host, &kind, id).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    let size = match receive(body, &dest).await {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(%host, %kind, %id, error = %e, "a file sent to the image store was refused");
            return deny(StatusCode::UNPROCESSABLE_ENTITY, e);
        }
    };
    if kind == "snapshot" {
        let snap = model::SnapshotId(id);
        let recorded = async {
            let s = domain::snapshots::load(&st, snap)
                .await?
                .ok_or_else(|| domain::DomainError::param("the snapshot is gone"))?;
            let (store, _) = domain::snapshots::zone_store(&st, s.zone_id).await?;
            let rel = domain::snapshots::rel_path(s.volume_id, s.id);
            let mut tx = st.store.begin().await?;
            db::snapshot_stored(&mut tx, snap, store, Some(&rel), size as i64).await?;
            tx.commit().await?;
            Ok::<(), domain::DomainError>(())
        }
        .await;
        if let Err(e) = recorded {
            let _ = std::fs::remove_file(&dest);
            return deny(StatusCode::SERVICE_UNAVAILABLE, e.phrased().1);
        }
    }
    tracing::info!(%host, %kind, %id, size, "stored a file on the image store");
    (StatusCode::OK, size.to_string()).into_response()
}

/// Writes the body to `dest` (through `dest.part`); its size. It must be a qcow2 image.
async fn receive(body: axum::body::Body, dest: &std::path::Path) -> Result<u64, String> {
    let dir = dest
        .parent()
        .ok_or_else(|| "no directory for the file".to_string())?;
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let part = dest.with_extension("part");
    let mut out = tokio::fs::File::create(&part)
        .await
        .map_err(|e| format!("creating {}: {e}", part.display()))?;
    let mut stream = body.into_data_stream();
    let mut size = 0u64;
    let mut head: Vec<u8> = Vec::with_capacity(4);
    let written = async {
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| format!("receiving: {e}"))?;
            if head.len() < 4 {
                head.extend(chunk.iter().take(4 - head.len()));
            }
            out.write_all(&chunk)
                .await
                .map_err(|e| format!("writing: {e}"))?;
            size += chunk.len() as u64;
        }
        if head.as_slice() != b"QFI\xfb" {
            return Err("the file is not a qcow2 image".to_string());
        }
        out.sync_all().await.map_err(|e| format!("syncing: {e}"))?;
        Ok(())
    }
    .await;
    if let Err(e) = written {
        let _ = tokio::fs::remove_file(&part).await;
        return Err(e);
    }
    tokio::fs::rename(&part, dest)
        .await
        .map_err(|e| format!("renaming: {e}"))?;
    Ok(size)
}

/// Sends a BackedUp snapshot's file to a host.
pub async fn get(
    AxState(st): AxState<State>,
    AxPath((kind, id)): AxPath<(String, Uuid)>,
    headers: axum::http::HeaderMap,
) -> Response {
    if let Err((code, why)) = crate::hub::authenticate_host(&st, &headers).await {
        return deny(code, why);
    }
    if kind == "volume" {
        return volume_image(&st, id).await;
    }
    if kind != "snapshot" {
        return deny(
            StatusCode::NOT_FOUND,
            "only snapshots and uploaded volumes are fetched here",
        );
    }
    let s = match domain::snapshots::load(&st, model::SnapshotId(id)).await {
        Ok(Some(s)) => s,
        Ok(None) => return deny(StatusCode::NOT_FOUND, "no such snapshot"),
        Err(_) => return deny(StatusCode::SERVICE_UNAVAILABLE, "database unavailable"),
    };
    if !matches!(
        s.state,
        model::SnapshotState::BackedUp | model::SnapshotState::Copying
    ) {
        return deny(
            StatusCode::CONFLICT,
            format!("snapshot {id} is {}", s.state),
        );
    }
    let file = match domain::snapshots::file_of(&st, &s).await {
        Ok(Some(f)) => f,
        Ok(None) => {
            return deny(
                StatusCode::NOT_FOUND,
                "the snapshot has no file (simulated)",
            )
        }
        Err(_) => return deny(StatusCode::SERVICE_UNAVAILABLE, "database unavailable"),
    };
    crate::hub::send_file(&file).await
}

/// An uploaded volume's file (a host creates the volume from it).
async fn volume_image(st: &State, id: Uuid) -> Response {
    use db::attrs::Attrs as _;
    let v = match domain::volumes::load(st, model::VolumeId(id)).await {
        Ok(Some(v)) => v,
        Ok(None) => return deny(StatusCode::NOT_FOUND, "no such volume"),
        Err(_) => return deny(StatusCode::SERVICE_UNAVAILABLE, "database unavailable"),
    };
    let file = v
        .decode::<db::attrs::VolumeAttrs>()
        .ok()
        .and_then(|a| a.image_file);
    match file {
        Some(f) => crate::hub::send_file(std::path::Path::new(&f)).await,
        None => deny(StatusCode::NOT_FOUND, "the volume was not uploaded"),
    }
}

/// `GET /client/extract/<id>` on the API port: the file of a Ready download link that has not
/// expired (extractVolume, extractTemplate). The id is the link's secret (a random UUID).
pub async fn download(AxState(st): AxState<State>, AxPath(id): AxPath<String>) -> Response {
    let Ok(id) = id.trim_end_matches(".qcow2").parse::<Uuid>() else {
        return deny(StatusCode::NOT_FOUND, "no such download link");
    };
    let e = match st.store.read().await {
        Ok(mut c) => db::extract_get(&mut c, id).await.ok().flatten(),
        Err(_) => return deny(StatusCode::SERVICE_UNAVAILABLE, "database unavailable"),
    };
    let Some(e) = e else {
        return deny(StatusCode::NOT_FOUND, "no such download link");
    };
    if e.expires <= api::time::now_ms() {
        return deny(StatusCode::GONE, "the download link has expired");
    }
    if e.state != "Ready" {
        return deny(StatusCode::CONFLICT, "the file is not ready yet");
    }
    let mut resp = crate::hub::send_file(std::path::Path::new(&e.file)).await;
    if let Ok(v) = axum::http::HeaderValue::from_str(&format!(
        "attachment; filename=\"{}.qcow2\"",
        e.object_id
    )) {
        resp.headers_mut()
            .insert(axum::http::header::CONTENT_DISPOSITION, v);
    }
    resp
}
