//! The web console's files: the built single-page application (`ui/dist`, built by npm/Vite)
//! served under `/client/`. The UI is only another API client — it talks to `/client/api` with
//! a session like any other — so this module does nothing but hand out files: no templating,
//! no API shortcuts. Paths are resolved inside the directory only (no `..`, no symlink
//! escapes), hashed assets are cacheable for a year, the entry pages never.

use std::path::{Component, Path, PathBuf};

use axum::extract::{Path as AxPath, State as AxState};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use crate::state::State;

/// What `/client/` shows when no UI is configured or built.
const NOT_BUILT: &str = "<!doctype html><title>Canopy</title><h1>The web console is not built</h1>\
<p>Build it with <code>scripts/build-ui.sh</code> (npm), or start the server with \
<code>--ui-dir</code> naming a built UI. The API is at <code>/client/api</code>.</p>";

/// The pages' content security policy: scripts and styles from this origin only; API calls
/// and the console websocket to this origin.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
img-src 'self' data: blob:; connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'";

pub async fn root() -> Redirect {
    Redirect::permanent("/client/")
}

pub async fn index(AxState(st): AxState<State>) -> Response {
    serve(st.ui_dir.as_deref(), "index.html").await
}

pub async fn file(AxState(st): AxState<State>, AxPath(rel): AxPath<String>) -> Response {
    serve(st.ui_dir.as_deref(), &rel).await
}

/// The file `rel` of the UI directory, or 404. A path with no extension that names no file is
/// a client-side route: it gets the application's entry page.
async fn serve(dir: Option<&Path>, rel: &str) -> Response {
    let Some(dir) = dir else {
        return not_built();
    };
    let Some(path) = inside(dir, rel) else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    let path = if path.is_dir() {
        path.join("index.html")
    } else {
        path
    };
    let (path, bytes) = match tokio::fs::read(&path).await {
        Ok(b) => (path, b),
        Err(_) if path.extension().is_none() => {
            let entry = dir.join("index.html");
            match tokio::fs::read(&entry).await {
                Ok(b) => (entry, b),
                Err(_) => return not_built(),
            }
        }
        Err(_) if rel == "index.html" => return not_built(),
        Err(_) => return (StatusCode::NOT_FOUND, "not found").into_response(),
    };
    // The symlink check: what was read must still be inside the directory.
    match (path.canonicalize(), dir.canonicalize()) {
        (Ok(p), Ok(d)) if p.starts_with(&d) => {}
        _ => return (StatusCode::NOT_FOUND, "not found").into_response(),
    }
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let hashed = path
        .parent()
        .and_then(|p| p.file_name())
        .is_some_and(|p| p == "assets");
    let mut resp = (StatusCode::OK, bytes).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(name)),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if hashed {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        }),
    );
    secure(h);
    resp
}

/// The page `/client/` shows while no UI is built.
fn not_built() -> Response {
    let mut resp = (StatusCode::OK, NOT_BUILT).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    secure(h);
    resp
}

fn secure(h: &mut axum::http::HeaderMap) {
    h.insert("content-security-policy", HeaderValue::from_static(CSP));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
}

/// `rel` joined to `dir` when every component is a plain name.
fn inside(dir: &Path, rel: &str) -> Option<PathBuf> {
    let rel = Path::new(rel);
    let mut out = dir.to_path_buf();
    for c in rel.components() {
        match c {
            Component::Normal(n) if !n.to_string_lossy().starts_with('.') => out.push(n),
            _ => return None,
        }
    }
    Some(out)
}

fn content_type(name: &str) -> &'static str {
    let ext = name.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    match ext {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside() {
        let d = Path::new("/srv/ui");
        assert_eq!(inside(d, "assets/a.js"), Some(d.join("assets/a.js")));
        assert_eq!(inside(d, "../etc/passwd"), None);
        assert_eq!(inside(d, "assets/../../x"), None);
        assert_eq!(inside(d, "/etc/passwd"), None);
        assert_eq!(inside(d, ".env"), None);
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("x.js"), "text/javascript; charset=utf-8");
    }

    async fn body(r: Response) -> (StatusCode, String, String) {
        let status = r.status();
        let cache = r
            .headers()
            .get(header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let b = axum::body::to_bytes(r.into_body(), 1 << 20)
            .await
            .expect("body");
        (status, String::from_utf8_lossy(&b).into_owned(), cache)
    }

    #[tokio::test]
    async fn serves_files_routes_and_nothing_outside() {
        let tmp = tempfile::tempdir().expect("tmp");
        let d = tmp.path().join("dist");
        std::fs::create_dir_all(d.join("assets")).expect("mkdir");
        std::fs::write(d.join("index.html"), "ENTRY").expect("write");
        std::fs::write(d.join("assets/app-1a2b.js"), "JS").expect("write");
        std::fs::write(tmp.path().join("secret"), "SECRET").expect("write");
        std::os::unix::fs::symlink(tmp.path().join("secret"), d.join("leak.txt")).expect("ln");

        let (s, b, c) = body(serve(Some(&d), "index.html").await).await;
        assert_eq!(
            (s, b.as_str(), c.as_str()),
            (StatusCode::OK, "ENTRY", "no-cache")
        );
        let (s, b, c) = body(serve(Some(&d), "assets/app-1a2b.js").await).await;
        assert_eq!((s, b.as_str()), (StatusCode::OK, "JS"));
        assert!(c.contains("immutable"));
        // A client-side route gets the entry page; a missing asset is 404.
        assert_eq!(body(serve(Some(&d), "instances").await).await.1, "ENTRY");
        assert_eq!(
            body(serve(Some(&d), "assets/gone.js").await).await.0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            body(serve(Some(&d), "../secret").await).await.0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            body(serve(Some(&d), "leak.txt").await).await.0,
            StatusCode::NOT_FOUND
        );
        // No UI: a page that says how to build it.
        let (s, b, _) = body(serve(None, "index.html").await).await;
        assert_eq!(s, StatusCode::OK);
        assert!(b.contains("not built"));
    }
}
