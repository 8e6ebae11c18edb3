//! Template and ISO downloads into the zone's image store: `file://` (a file on the
//! management server — for networks with no way out) and `http(s)://` (directly, or through
//! the HTTP proxy `secstorage.proxy` names: [`http`]), streamed to disk while
//! md5 and sha256 are computed, with progress recorded, then the checksum and the format
//! checked. A download interrupted by a restart starts again.

mod http;

use std::path::{Path, PathBuf};

use db::{Infra, InfraRow};
use md5::Md5;
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use uuid::Uuid;

use crate::state::State;

pub(crate) struct Fetched {
    pub(crate) size: u64,
    pub(crate) md5: String,
    pub(crate) sha256: String,
}

/// An error with its causes ("client error (Connect): invalid peer certificate: UnknownIssuer").
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !out.contains(&t) {
            out.push_str(": ");
            out.push_str(&t);
        }
        cur = c.source();
    }
    out
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Where a template's file lives in an image store.
pub fn image_path(store: &Path, id: Uuid, format: &str) -> PathBuf {
    let ext = match format {
        "QCOW2" => "qcow2",
        "ISO" => "iso",
        _ => "raw",
    };
    store
        .join("template")
        .join(id.to_string())
        .join(format!("{id}.{ext}"))
}

/// Parses a checksum: `{MD5}hex`, `{SHA-256}hex`, or plain hex by its length.
pub fn parse_checksum(s: &str) -> Option<(&'static str, String)> {
    let s = s.trim();
    let (algo, hexs) = if let Some(rest) = s.strip_prefix('{') {
        let (a, h) = rest.split_once('}')?;
        let a = match a.to_ascii_lowercase().replace('-', "").as_str() {
            "md5" => "md5",
            "sha256" => "sha256",
            _ => return None,
        };
        (a, h)
    } else {
        match s.len() {
            32 => ("md5", s),
            64 => ("sha256", s),
            _ => return None,
        }
    };
    let want = if algo == "md5" { 32 } else { 64 };
    (hexs.len() == want && hexs.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| (algo, hexs.to_ascii_lowercase()))
}

pub(crate) async fn set(st: &State, id: Uuid, f: impl FnOnce(&mut InfraRow)) -> Result<(), String> {
    let mut tx = st.store.begin().await.map_err(|e| e.to_string())?;
    let Some(mut row) = db::infra_get(&mut tx, Infra::Template, id)
        .await
        .map_err(|e| e.to_string())?
    else {
        return Ok(());
    };
    f(&mut row);
    db::infra_update(&mut tx, Infra::Template, &row)
        .await
        .map_err(|e| e.to_string())?;
    tx.commit().await.map_err(|e| e.to_string())
}

async fn progress(st: &State, id: Uuid, done: u64, total: Option<u64>, last: &mut i64) {
    let pct = total
        .filter(|t| *t > 0)
        .map(|t| (done * 100 / t) as i64)
        .unwrap_or(0);
    if pct >= *last + 5 {
        *last = pct;
        let _ = set(st, id, |r| {
            r.attrs["downloadprogress"] = json!(pct);
            r.state = format!("{pct}% Downloaded");
        })
        .await;
    }
}

/// Feeds `buf[..n]` to both digests on a blocking thread: hashing a large image is CPU work
/// that would otherwise hold an async worker (and every request queued behind it) for
/// seconds on a small machine.
async fn hash(
    mut md5: Md5,
    mut sha: Sha256,
    buf: Vec<u8>,
    n: usize,
) -> Result<(Md5, Sha256, Vec<u8>), String> {
    tokio::task::spawn_blocking(move || {
        let part = buf.get(..n).unwrap_or(&buf);
        md5.update(part);
        sha.update(part);
        (md5, sha, buf)
    })
    .await
    .map_err(|e| format!("hashing the image: {e}"))
}

async fn fetch(
    st: &State,
    id: Uuid,
    url: &str,
    dest: &Path,
    restricted: bool,
) -> Result<Fetched, String> {
    let max = st.settings.int("max.template.iso.size").max(1) as u64 * (1 << 30);
    fetch_with(st, Some(id), url, dest, restricted, max).await
}

/// Downloads `url` to `dest` (uploadVolume): at most `max` bytes.
pub(crate) async fn fetch_to(
    st: &State,
    url: &str,
    dest: &Path,
    restricted: bool,
    max: u64,
) -> Result<Fetched, String> {
    fetch_with(st, None, url, dest, restricted, max).await
}

/// A download; its progress recorded on the template `progress_of`.
async fn fetch_with(
    st: &State,
    progress_of: Option<Uuid>,
    url: &str,
    dest: &Path,
    restricted: bool,
    max: u64,
) -> Result<Fetched, String> {
    let too_big = |size: u64| {
        (size > max).then(|| format!("the file is larger than the {max} bytes allowed"))
    };
    if let Some(parent) = dest.parent() {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(|e| format!("creating {}: {e}", parent.display()))?;
    }
    let tmp = dest.with_extension("part");
    let mut out = tokio::fs::File::create(&tmp)
        .await
        .map_err(|e| format!("creating {}: {e}", tmp.display()))?;
    let (mut md5, mut sha, mut size, mut last) = (Md5::new(), Sha256::new(), 0u64, -5i64);
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("file:") {
        // Checked again now: the file (or a symlink on its way) may have changed since the
        // registration was accepted.
        let path = crate::sources::staged_file(url, &crate::sources::staging_dirs(st))
            .map_err(|_| crate::sources::FILE_REFUSED.to_string())?;
        let path = path.display().to_string();
        let mut f = tokio::fs::File::open(&path)
            .await
            .map_err(|e| format!("cannot read {path} on the management server: {e}"))?;
        let total = f.metadata().await.map(|m| m.len()).ok();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = tokio::io::AsyncReadExt::read(&mut f, &mut buf)
                .await
                .map_err(|e| format!("reading {path}: {e}"))?;
            if n == 0 {
                break;
            }
            (md5, sha, buf) = hash(md5, sha, buf, n).await?;
            out.write_all(&buf[..n])
                .await
                .map_err(|e| format!("writing the image: {e}"))?;
            size += n as u64;
            if let Some(e) = too_big(size) {
                return Err(e);
            }
            if let Some(id) = progress_of {
                progress(st, id, size, total, &mut last).await;
            }
        }
    } else if lower.starts_with("http://") || lower.starts_with("https://") {
        use http_body_util::BodyExt;
        let policy = if restricted {
            crate::sources::Policy::of(st)
        } else {
            crate::sources::Policy::open()
        };
        let proxy = http::Proxy::parse(&st.settings.text("secstorage.proxy"))?;
        let resp = http::get(url, policy, proxy).await?;
        if !resp.status().is_success() {
            return Err(format!("fetching {url}: HTTP {}", resp.status()));
        }
        let total = resp
            .headers()
            .get(hyper::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let mut body = resp.into_body();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| format!("reading {url}: {}", chain(&e)))?;
            if let Ok(data) = frame.into_data() {
                let n = data.len();
                (md5, sha, _) = hash(md5, sha, data.to_vec(), n).await?;
                out.write_all(&data)
                    .await
                    .map_err(|e| format!("writing the image: {e}"))?;
                size += data.len() as u64;
                if let Some(e) = too_big(size) {
                    return Err(e);
                }
                if let Some(id) = progress_of {
                    progress(st, id, size, total, &mut last).await;
                }
            }
        }
    } else {
        return Err(format!(
            "Unsupported URL {url}: use https://, http:// or file://"
        ));
    }
    out.flush().await.map_err(|e| e.to_string())?;
    out.sync_all().await.map_err(|e| e.to_string())?;
    drop(out);
    tokio::fs::rename(&tmp, dest)
        .await
        .map_err(|e| e.to_string())?;
    Ok(Fetched {
        size,
        md5: hex(&md5.finalize()),
        sha256: hex(&sha.finalize()),
    })
}

/// Checks the file really is of the declared format.
pub(crate) async fn check_format(path: &Path, format: &str) -> Result<(), String> {
    use tokio::io::{AsyncReadExt, AsyncSeekExt};
    let mut f = tokio::fs::File::open(path)
        .await
        .map_err(|e| e.to_string())?;
    match format {
        "QCOW2" => {
            let mut magic = [0u8; 4];
            f.read_exact(&mut magic)
                .await
                .map_err(|_| "the file is too short to be a QCOW2 image".to_string())?;
            if &magic != b"QFI\xfb" {
                return Err("the file is not a QCOW2 image (no QFI magic)".into());
            }
        }
        "ISO" => {
            let mut id = [0u8; 5];
            f.seek(std::io::SeekFrom::Start(32769))
                .await
                .map_err(|e| e.to_string())?;
            if f.read_exact(&mut id).await.is_err() || &id != b"CD001" {
                return Err("the file is not an ISO 9660 image".into());
            }
        }
        _ => {}
    }
    Ok(())
}

/// Downloads a registered template or ISO; records the outcome on the row.
pub async fn download(st: State, id: Uuid) {
    let row = match st.store.read().await {
        Ok(mut c) => db::infra_get(&mut c, Infra::Template, id)
            .await
            .ok()
            .flatten(),
        Err(_) => None,
    };
    let Some(row) = row else { return };
    let url = row.attrs["url"].as_str().unwrap_or_default().to_string();
    let format = row.attrs["format"].as_str().unwrap_or("RAW").to_string();
    // Registered by someone other than a root admin (rows from before the rule: restricted).
    let restricted = row.attrs["restricted"].as_bool().unwrap_or(true);
    let store = PathBuf::from(row.attrs["storepath"].as_str().unwrap_or_default());
    let dest = image_path(&store, id, &format);
    let me = st.server_id.to_string();
    let _ = set(&st, id, |r| {
        r.state = "Download in progress".into();
        // Which server downloads it (into its own image store): another server resumes the
        // download only when this one is gone.
        r.attrs["downloadserver"] = json!(me);
    })
    .await;
    let work = async {
        let got = fetch(&st, id, &url, &dest, restricted).await?;
        if let Some((algo, want)) = row.attrs["checksum"].as_str().and_then(parse_checksum) {
            let have = if algo == "md5" { &got.md5 } else { &got.sha256 };
            if *have != want {
                let _ = tokio::fs::remove_file(&dest).await;
                return Err(format!(
                    "Checksum mismatch: expected {algo} {want}, got {have}"
                ));
            }
        }
        check_format(&dest, &format).await.inspect_err(|_| {
            let _ = std::fs::remove_file(&dest);
        })?;
        // Direct-kernel-boot files (kernel, initrd) go next to the disk image.
        if let Some(extras) = row.attrs.get("extras").and_then(|e| e.as_object()) {
            for (name, url) in extras {
                let Some(url) = url.as_str() else { continue };
                let path = dest.with_extension(name);
                fetch(&st, id, url, &path, restricted)
                    .await
                    .map_err(|e| format!("{name}: {e}"))?;
            }
        }
        Ok(got)
    };
    // A download stops with its server: the next server to start (or a survivor) resumes it;
    // one left running would write the same files as the one that resumed it.
    let mut stopping = st.stopping.clone();
    let outcome = tokio::select! {
        r = work => r,
        _ = stopping.wait_for(|s| *s) => {
            tracing::info!(template = %id, "the server stops: the download is left to be resumed");
            return;
        }
    };
    let res = match outcome {
        Ok(got) => {
            tracing::info!(template = %id, size = got.size, "image downloaded");
            set(&st, id, |r| {
                r.state = "Download Complete".into();
                r.attrs["isready"] = json!(true);
                r.attrs["downloading"] = json!(false);
                r.attrs["downloadprogress"] = json!(100);
                r.attrs["size"] = json!(got.size);
                r.attrs["physicalsize"] = json!(got.size);
                r.attrs["path"] = json!(dest.display().to_string());
                r.attrs["sha256"] = json!(got.sha256);
            })
            .await
        }
        Err(e) => {
            tracing::warn!(template = %id, error = %e, "image download failed");
            set(&st, id, |r| {
                r.state = e.clone();
                r.attrs["isready"] = json!(false);
                r.attrs["downloading"] = json!(false);
                r.attrs["failed"] = json!(true);
            })
            .await
        }
    };
    if let Err(e) = res {
        tracing::error!(template = %id, error = %e, "could not record the download's outcome");
    }
}

/// At start: downloads that a restart interrupted begin again.
pub async fn resume(st: &State) -> crate::error::AppResult<usize> {
    let now = api::time::now_ms();
    let threshold = st.settings.int("cluster.heartbeat.threshold");
    let (rows, live) = {
        let mut c = st.store.read().await?;
        let rows = db::infra_list(&mut c, Infra::Template, &db::InfraFilter::default())
            .await?
            .0;
        let live: Vec<String> = db::server_list(&mut c)
            .await?
            .into_iter()
            .filter(|s| s.id != st.server_id && s.state != "Down" && now - s.heartbeat <= threshold)
            .map(|s| s.id.to_string())
            .collect();
        (rows, live)
    };
    // Interrupted downloads — not those another live server is doing.
    let pending: Vec<Uuid> = rows
        .into_iter()
        .filter(|r| r.attrs["downloading"] == true)
        .filter(|r| {
            r.attrs["downloadserver"]
                .as_str()
                .is_none_or(|s| !live.iter().any(|l| l == s))
        })
        .map(|r| r.id)
        .collect();
    for id in &pending {
        tokio::spawn(download(st.clone(), *id));
    }
    Ok(pending.len())
}

#[cfg(test)]
mod tests {
    #[test]
    fn checksums_parse() {
        let md5 = "d41d8cd98f00b204e9800998ecf8427e";
        assert_eq!(super::parse_checksum(md5), Some(("md5", md5.into())));
        assert_eq!(
            super::parse_checksum(&format!("{{MD5}}{}", md5.to_uppercase())),
            Some(("md5", md5.into()))
        );
        let sha = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(
            super::parse_checksum(&format!("{{SHA-256}}{sha}")),
            Some(("sha256", sha.into()))
        );
        assert!(super::parse_checksum("xyz").is_none());
        assert!(super::parse_checksum("{SHA-1}abc").is_none());
    }
}
