//! Templates and ISOs in several zones: `copyTemplate`/`copyIso` copy the file into another
//! zone's image store and record the copy on the template (`attrs.copies[zone]` =
//! `{state: Copying|Ready, store, storepath, path, size}`), as CloudStack keeps one template
//! with a row per image store. The template keeps its id in every zone: the listings show one
//! object per zone, deploys in a zone use that zone's copy, and hosts fetch the file of their
//! own zone. `deleteTemplate zoneid=…` removes one zone's copy (the origin's zone passes to a
//! ready copy).

use std::path::{Path, PathBuf};

use api::{list_body, ApiError, Args};
use db::{Infra, InfraRow};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::context::OpContext;
use crate::error::{param_err, AppError, AppResult};
use crate::handlers::zones::{attr_str, get};
use crate::jobs::{JobPlan, JobRef};
use crate::state::State;

const READY: &str = "Ready";
const COPYING: &str = "Copying";

/// A zone's copy of a template, if it has one (not the origin zone).
fn copy_of(r: &InfraRow, zone: Uuid) -> Option<&serde_json::Map<String, Value>> {
    r.attrs
        .get("copies")
        .and_then(|c| c.get(zone.to_string()))
        .and_then(|c| c.as_object())
}

/// The zones a template has been copied to (ready or still copying).
pub(crate) fn copy_zones(r: &InfraRow) -> Vec<Uuid> {
    r.attrs
        .get("copies")
        .and_then(|c| c.as_object())
        .map(|m| m.keys().filter_map(|k| k.parse().ok()).collect())
        .unwrap_or_default()
}

/// Whether the template is in `zone` at all: its own zone, every zone when cross-zone, or a
/// zone it was copied to.
pub(crate) fn in_zone(r: &InfraRow, zone: Uuid) -> bool {
    r.zone_id.is_nil() || r.zone_id == zone || copy_of(r, zone).is_some()
}

/// Whether the template can be used in `zone`: its file is there and complete.
pub(crate) fn ready_in(r: &InfraRow, zone: Uuid) -> bool {
    if r.zone_id.is_nil() || r.zone_id == zone {
        return r.attrs["isready"] == true;
    }
    copy_of(r, zone).is_some_and(|c| c.get("state").and_then(|s| s.as_str()) == Some(READY))
}

/// The state and size shown for the template in `zone` (for a copy: its own).
pub(crate) fn zone_status(r: &InfraRow, zone: Uuid) -> Option<(String, u64)> {
    let c = copy_of(r, zone)?;
    let state = c.get("state").and_then(|s| s.as_str()).unwrap_or(COPYING);
    let status = if state == READY {
        "Download Complete"
    } else {
        "Copying"
    };
    Some((
        status.to_string(),
        c.get("size").and_then(|s| s.as_u64()).unwrap_or(0),
    ))
}

/// The image file a host of `zone` fetches: the zone's copy when it has a ready one, else the
/// template's own file.
pub(crate) fn path_in(r: &InfraRow, zone: Uuid) -> Option<PathBuf> {
    if let Some(c) = copy_of(r, zone) {
        if c.get("state").and_then(|s| s.as_str()) == Some(READY) {
            return c.get("path").and_then(|p| p.as_str()).map(PathBuf::from);
        }
    }
    attr_str(r, "path").map(PathBuf::from)
}

fn is_iso(args: &Args) -> bool {
    args.command == "copyIso"
}

/// The destination zones: `destzoneid` and/or `destzoneids` (every id checked).
fn dest_zones(args: &Args) -> AppResult<Vec<Uuid>> {
    let mut out: Vec<Uuid> = Vec::new();
    if let Some(z) = args.uuid("destzoneid") {
        out.push(z);
    }
    for z in args.list("destzoneids").unwrap_or_default() {
        let id = z
            .trim()
            .parse::<Uuid>()
            .map_err(|_| ApiError::invalid_id("destzoneids", z))?;
        if !out.contains(&id) {
            out.push(id);
        }
    }
    if out.is_empty() {
        return param_err("Please specify destzoneid or destzoneids");
    }
    Ok(out)
}

pub async fn copy_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let iso = is_iso(args);
    let r = super::templates::owned(st, ctx, args.required_id("id")?, iso).await?;
    let dests = dest_zones(args)?;
    let source = args.uuid("sourcezoneid");
    if let Some(s) = source {
        get(st, Infra::Zone, "sourcezoneid", s).await?;
        if !in_zone(&r, s) {
            return param_err(format!("{} is not in zone {s}", r.name));
        }
    }
    let kind = if iso { "ISO" } else { "Template" };
    if r.attrs["isready"] != true {
        return param_err(format!(
            "{kind} {} is not ready: it can be copied once it is downloaded",
            r.name
        ));
    }
    for z in &dests {
        let zone = get(st, Infra::Zone, "destzoneid", *z).await?;
        if source == Some(*z) {
            return param_err("The source and destination zones are the same");
        }
        // Copies land in the zone's image store: it must have one.
        domain::snapshots::zone_store(st, zone.id)
            .await
            .map_err(|_| {
                AppError::from(ApiError::param(format!(
                    "Zone {} has no image store to copy the {} to: add one with addImageStore",
                    zone.name,
                    kind.to_lowercase()
                )))
            })?;
    }
    Ok(JobPlan {
        instance_type: Some(if iso { "Iso" } else { "Template" }),
        instance_id: Some(r.id.to_string()),
        returns_id: false,
        description: format!("Copying {} to {} zone(s)", r.name, dests.len()),
    })
}

/// Copies the file into each destination zone's image store. Idempotent: a job resumed after
/// a crash copies again what is not Ready; a cross-zone template or a zone that has the file
/// already is left as is (CloudStack answers with the template then too).
pub async fn copy_run(st: &State, ctx: &OpContext, args: &Args, _job: &JobRef) -> AppResult<Value> {
    let iso = is_iso(args);
    let id: Uuid = args.required_id("id")?;
    let dests = dest_zones(args)?;
    for z in &dests {
        let r = get(st, Infra::Template, "id", id).await?;
        if r.zone_id.is_nil() || r.zone_id == *z || ready_in(&r, *z) {
            continue;
        }
        let Some(src) = attr_str(&r, "path").map(PathBuf::from) else {
            return Err(AppError::Internal(format!("template {id} has no file")));
        };
        let (store_id, store_path) = domain::snapshots::zone_store(st, *z).await?;
        let format = attr_str(&r, "format").unwrap_or_else(|| "RAW".into());
        let dest = crate::images::image_path(&store_path, id, &format);
        let extras: Vec<String> = r
            .attrs
            .get("extras")
            .and_then(|e| e.as_object())
            .map(|e| e.keys().cloned().collect())
            .unwrap_or_default();
        let key = z.to_string();
        let copy = json!({
            "state": COPYING,
            "store": store_id,
            "storepath": store_path.display().to_string(),
            "path": dest.display().to_string(),
            "size": 0,
        });
        crate::images::set(st, id, |row| {
            if !row.attrs["copies"].is_object() {
                row.attrs["copies"] = json!({});
            }
            row.attrs["copies"][&key] = copy;
        })
        .await
        .map_err(AppError::Internal)?;
        match copy_files(&src, &dest, &extras).await {
            Ok(size) => {
                crate::images::set(st, id, |row| {
                    row.attrs["copies"][&key]["state"] = json!(READY);
                    row.attrs["copies"][&key]["size"] = json!(size);
                })
                .await
                .map_err(AppError::Internal)?;
                tracing::info!(template = %id, zone = %z, size, "template copied");
            }
            Err(e) => {
                // Unwind: no half copy stays listed or on disk.
                let _ = crate::images::set(st, id, |row| {
                    if let Some(m) = row.attrs["copies"].as_object_mut() {
                        m.remove(&key);
                    }
                })
                .await;
                if dest != src {
                    remove_copy_files(&dest, &extras).await;
                }
                return Err(AppError::Internal(format!(
                    "copying template {id} to zone {z}: {e}"
                )));
            }
        }
    }
    let r = get(st, Infra::Template, "id", id).await?;
    let items =
        super::templates::views(st, ctx, std::slice::from_ref(&r), dests.first().copied()).await?;
    let key = if iso { "iso" } else { "template" };
    match items.into_iter().next() {
        Some(v) => Ok(json!({ key: v })),
        None => Ok(list_body(key, 0, Vec::new())),
    }
}

/// Copies the disk (and kernel/initrd) next to `dest` under a temporary name, then renames:
/// a reader never sees a partial file. Returns the disk's size. A copy onto the same file (two
/// zones sharing one image store) is a no-op.
async fn copy_files(src: &Path, dest: &Path, extras: &[String]) -> std::io::Result<u64> {
    if src == dest {
        return Ok(tokio::fs::metadata(src).await?.len());
    }
    if let Some(dir) = dest.parent() {
        tokio::fs::create_dir_all(dir).await?;
    }
    let mut pairs = vec![(src.to_path_buf(), dest.to_path_buf())];
    for e in extras {
        pairs.push((src.with_extension(e), dest.with_extension(e)));
    }
    for (from, to) in &pairs {
        let part = to.with_extension("part");
        tokio::fs::copy(from, &part).await?;
        tokio::fs::rename(&part, to).await?;
    }
    Ok(tokio::fs::metadata(dest).await?.len())
}

async fn remove_copy_files(dest: &Path, extras: &[String]) {
    let _ = tokio::fs::remove_file(dest).await;
    let _ = tokio::fs::remove_file(dest.with_extension("part")).await;
    for e in extras {
        let _ = tokio::fs::remove_file(dest.with_extension(e)).await;
    }
    if let Some(dir) = dest.parent() {
        let _ = tokio::fs::remove_dir(dir).await;
    }
}

/// Removes one zone's copy (its files unless another zone shares them). Returns false when the
/// template has no copy in `zone`.
pub(crate) async fn remove_copy(st: &State, r: &InfraRow, zone: Uuid) -> AppResult<bool> {
    let Some(c) = copy_of(r, zone) else {
        return Ok(false);
    };
    let path = c.get("path").and_then(|p| p.as_str()).map(PathBuf::from);
    let key = zone.to_string();
    crate::images::set(st, r.id, |row| {
        if let Some(m) = row.attrs["copies"].as_object_mut() {
            m.remove(&key);
        }
    })
    .await
    .map_err(AppError::Internal)?;
    if let Some(p) = path {
        if !shared(r, &p, Some(zone)) {
            remove_copy_files(&p, &extras(r)).await;
        }
    }
    Ok(true)
}

/// Removes the origin zone's file and makes a ready copy the template's own (its zone, image
/// store and file). Returns false when there is no ready copy to take over.
pub(crate) async fn pass_origin(st: &State, r: &InfraRow) -> AppResult<bool> {
    let heir = copy_zones(r).into_iter().find(|z| ready_in(r, *z));
    let Some(z) = heir else { return Ok(false) };
    let Some(c) = copy_of(r, z).cloned() else {
        return Ok(false);
    };
    let old = attr_str(r, "path").map(PathBuf::from);
    let key = z.to_string();
    let mut tx = st.store.begin().await?;
    let Some(mut row) = db::infra_get(&mut tx, Infra::Template, r.id).await? else {
        return Ok(false);
    };
    row.zone_id = z;
    row.parent_id = c
        .get("store")
        .and_then(|s| s.as_str())
        .and_then(|s| s.parse().ok());
    for k in ["storepath", "path", "size"] {
        if let Some(v) = c.get(k) {
            row.attrs[k] = v.clone();
        }
    }
    row.attrs["physicalsize"] = c.get("size").cloned().unwrap_or(json!(0));
    if let Some(m) = row.attrs["copies"].as_object_mut() {
        m.remove(&key);
    }
    db::infra_update(&mut tx, Infra::Template, &row).await?;
    db::infra_move(&mut tx, Infra::Template, row.id, row.zone_id, row.parent_id).await?;
    tx.commit().await?;
    if let Some(p) = old {
        if !shared(&row, &p, None) {
            remove_copy_files(&p, &extras(r)).await;
        }
    }
    Ok(true)
}

/// Every copy's file (for deleting the whole template).
pub(crate) async fn remove_all_copies(r: &InfraRow) {
    let own = attr_str(r, "path").map(PathBuf::from);
    for z in copy_zones(r) {
        if let Some(p) = copy_of(r, z)
            .and_then(|c| c.get("path"))
            .and_then(|p| p.as_str())
            .map(PathBuf::from)
        {
            if Some(&p) != own.as_ref() {
                remove_copy_files(&p, &extras(r)).await;
            }
        }
    }
}

fn extras(r: &InfraRow) -> Vec<String> {
    r.attrs
        .get("extras")
        .and_then(|e| e.as_object())
        .map(|e| e.keys().cloned().collect())
        .unwrap_or_default()
}

/// Whether `path` is also the file of the template itself or of another copy than `except`.
fn shared(r: &InfraRow, path: &Path, except: Option<Uuid>) -> bool {
    if attr_str(r, "path").map(PathBuf::from).as_deref() == Some(path) && except.is_some() {
        return true;
    }
    copy_zones(r)
        .into_iter()
        .filter(|z| Some(*z) != except)
        .any(|z| {
            copy_of(r, z)
                .and_then(|c| c.get("path"))
                .and_then(|p| p.as_str())
                == path.to_str()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(zone: Uuid, copies: Value) -> InfraRow {
        InfraRow {
            id: Uuid::new_v4(),
            zone_id: zone,
            parent_id: None,
            name: "t".into(),
            kind: "TEMPLATE".into(),
            state: "Download Complete".into(),
            domain_id: None,
            attrs: json!({"isready": true, "path": "/a/t.qcow2", "copies": copies}),
            created: 0,
        }
    }

    #[test]
    fn a_copy_is_usable_in_its_zone_once_ready() {
        let (a, b, c) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let r = row(
            a,
            json!({ b.to_string(): {"state": "Ready", "path": "/b/t.qcow2", "size": 5},
                    c.to_string(): {"state": "Copying", "path": "/c/t.qcow2"} }),
        );
        assert!(ready_in(&r, a) && ready_in(&r, b) && !ready_in(&r, c));
        assert!(in_zone(&r, c) && !in_zone(&r, Uuid::new_v4()));
        assert_eq!(path_in(&r, b), Some(PathBuf::from("/b/t.qcow2")));
        // A copy still in progress is not served: hosts of that zone get the origin's file.
        assert_eq!(path_in(&r, c), Some(PathBuf::from("/a/t.qcow2")));
        assert_eq!(zone_status(&r, c).map(|s| s.0), Some("Copying".to_string()));
        assert_eq!(
            zone_status(&r, b),
            Some(("Download Complete".to_string(), 5))
        );
        assert_eq!(zone_status(&r, a), None);
    }

    #[test]
    fn a_file_shared_with_the_origin_is_not_removed_with_the_copy() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let r = row(
            a,
            json!({ b.to_string(): {"state": "Ready", "path": "/a/t.qcow2"} }),
        );
        assert!(shared(&r, Path::new("/a/t.qcow2"), Some(b)));
        let r = row(
            a,
            json!({ b.to_string(): {"state": "Ready", "path": "/b/t.qcow2"} }),
        );
        assert!(!shared(&r, Path::new("/b/t.qcow2"), Some(b)));
    }
}
