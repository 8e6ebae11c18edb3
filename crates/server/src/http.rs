//! HTTP wiring: `/client/api` (GET and POST alike) → parse → authenticate → authorise → bind →
//! run (or queue a job) → envelope. The handlers never see HTTP.

use std::time::Instant;

use api::envelope::{render, response_name};
use api::{ApiError, ErrorCode, Format, RawParams};
use axum::body::Bytes;
use axum::extract::{RawQuery, State as AxState};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use crate::auth;
use crate::dispatch;
use crate::jobs;
use crate::rolecheck::allowed;
use crate::state::State;

pub fn router(st: State) -> Router {
    Router::new()
        .route("/client/api", get(api_entry).post(api_entry))
        .route("/metrics", get(crate::metrics::endpoint))
        .route("/client/console", get(crate::console::browser))
        .route("/client/extract/{id}", get(crate::store::download))
        // Browser uploads: the ticket's size limit applies, not the API's 2 MiB.
        .route(
            "/client/upload/{id}",
            axum::routing::post(crate::upload::post)
                .layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route("/client", get(crate::webui::root))
        .route("/client/", get(crate::webui::index))
        .route("/client/{*rel}", get(crate::webui::file))
        .with_state(st)
}

/// What goes back to the client.
struct Reply {
    wrapper: String,
    result: Result<Value, ApiError>,
    cookies: Vec<String>,
}

impl Reply {
    fn err(wrapper: impl Into<String>, e: ApiError) -> Self {
        Self {
            wrapper: wrapper.into(),
            result: Err(e),
            cookies: Vec::new(),
        }
    }
}

async fn api_entry(
    AxState(st): AxState<State>,
    method: Method,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: axum::body::Body,
) -> Response {
    let started = Instant::now();
    let body = match read_body(body).await {
        Ok(b) => b,
        Err(e) => return respond(Reply::err("errorresponse", e), Format::Json),
    };
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        })
        .unwrap_or(method == Method::POST);
    let raw = RawParams::parse(q.as_deref(), form.then_some(&body[..]));
    let format = Format::from_param(raw.get("response"));
    // The request id: in the log's span, in the caller's context, and in the answer.
    let request_id = uuid::Uuid::new_v4();
    let span = tracing::info_span!("api", request_id = %request_id);
    let reply = match crate::panics::guard(
        tracing::Instrument::instrument(handle(&st, &method, &headers, &raw, request_id), span),
        raw.command().unwrap_or("-"),
    )
    .await
    {
        Ok(r) => r,
        Err(e) => Reply::err("errorresponse", e),
    };
    let status = match &reply.result {
        Ok(_) => 200,
        Err(e) => e.code.http_status(),
    };
    // A label is a registered command's name, never what the caller sent.
    let label = match raw.command() {
        Some(c) => st.registry.get(c).map(|s| s.name).unwrap_or("unknown"),
        None => "none",
    };
    let secs = started.elapsed().as_secs_f64();
    st.metrics.api_request(label, status, secs);
    tracing::debug!(%request_id, command = label, status, ms = secs * 1000.0, "api");
    let mut resp = respond(reply, format);
    if let Ok(v) = HeaderValue::from_str(&request_id.to_string()) {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
}

/// Largest request body accepted (a template URL list or user data is far smaller).
const MAX_BODY: usize = 2 << 20;
/// Time a client has to send its whole body once the head arrived: 30 s
/// (`CANOPY_HTTP_BODY_TIMEOUT_MS` overrides it, for tests).
fn body_timeout() -> std::time::Duration {
    static T: std::sync::OnceLock<std::time::Duration> = std::sync::OnceLock::new();
    *T.get_or_init(|| {
        std::env::var("CANOPY_HTTP_BODY_TIMEOUT_MS")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .map(|ms| std::time::Duration::from_millis(ms.max(50)))
            .unwrap_or(std::time::Duration::from_secs(30))
    })
}

async fn read_body(body: axum::body::Body) -> Result<Bytes, ApiError> {
    match tokio::time::timeout(body_timeout(), axum::body::to_bytes(body, MAX_BODY)).await {
        Ok(Ok(b)) => Ok(b),
        Ok(Err(_)) => Err(ApiError::new(
            ErrorCode::ParamError,
            format!("The request body is larger than {MAX_BODY} bytes or could not be read"),
        )),
        Err(_) => Err(ApiError::new(
            ErrorCode::ParamError,
            "The request body was not received in time",
        )),
    }
}

async fn handle(
    st: &State,
    method: &Method,
    headers: &HeaderMap,
    raw: &RawParams,
    request_id: uuid::Uuid,
) -> Reply {
    let Some(command) = raw.command() else {
        return Reply::err(
            "errorresponse",
            ApiError::new(
                ErrorCode::UnsupportedAction,
                "Invalid request, no command sent",
            ),
        );
    };
    let wrapper = response_name(command);
    if command == "login" {
        return session_reply(wrapper, auth::login(st, method == Method::POST, raw).await);
    }
    let session = auth::session(st, headers, raw).await;
    if command == "logout" {
        return session_reply(
            wrapper,
            match session {
                Ok(s) => auth::logout(st, s).await,
                Err(e) => Err(e),
            },
        );
    }
    let (ctx, via_session) = match session {
        Ok(Some((ctx, _))) => (Ok(ctx), true),
        Ok(None) => (auth::signature(st, raw).await, false),
        Err(e) => (Err(e), true),
    };
    let Some(spec) = st.registry.get(command) else {
        // Without a valid session an unknown command is indistinguishable from bad credentials.
        return match ctx {
            Ok(_) if via_session => Reply::err(
                "errorresponse",
                ApiError::new(
                    ErrorCode::UnsupportedAction,
                    format!("Unknown API command: {command}"),
                ),
            ),
            // Signed correctly: CloudStack's 401 with the text that names the command, so
            // the caller does not go looking for a key problem.
            Ok(_) => Reply::err(
                "errorresponse",
                ApiError::new(
                    ErrorCode::Unauthorized,
                    format!(
                        "The given command '{}' either does not exist, is not available for user, or not available from ip address",
                        printable(command)
                    ),
                ),
            ),
            _ => Reply::err("errorresponse", ApiError::bad_credentials()),
        };
    };
    let wrapper = spec.wrapper.map(str::to_string).unwrap_or(wrapper);
    let mut ctx = match ctx {
        Ok(c) => c,
        Err(e) => return Reply::err(wrapper, e),
    };
    ctx.request_id = request_id;
    ctx.origin = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    match allowed(st, &ctx, spec).await {
        Ok(true) => {}
        Ok(false) => return Reply::err(wrapper, ApiError::not_permitted(command)),
        Err(e) => return Reply::err(wrapper, crate::error::for_user(e.into_api())),
    }
    if spec.mutates()
        && *method != Method::POST
        && st.settings.bool("enforce.post.requests.and.timestamps")
    {
        return Reply::err(
            wrapper,
            ApiError::new(
                ErrorCode::MethodNotAllowed,
                "This API is only supported via POST",
            ),
        );
    }
    let admin = ctx.is_admin();
    let result = run(st, &mut ctx, spec, raw).await.map_err(|e| {
        if admin {
            e
        } else {
            crate::error::for_user(e)
        }
    });
    Reply {
        wrapper,
        result,
        cookies: Vec::new(),
    }
}

async fn run(
    st: &State,
    ctx: &mut crate::context::OpContext,
    spec: &'static api::CommandSpec,
    raw: &RawParams,
) -> Result<Value, ApiError> {
    st.settings.refresh(&st.store).await;
    crate::projectscope::load_memberships(st, ctx, Some(spec.name))
        .await
        .map_err(|e| e.into_api())?;
    let resolved = crate::projectscope::resolve(st, ctx, spec, raw).await?;
    let raw = resolved.as_ref().unwrap_or(raw);
    let ctx = &*ctx;
    let args = spec.bind(raw, st.settings.page_size())?;
    if !spec.isasync {
        let mut v = dispatch::run_sync(st, ctx, &args)
            .await
            .map_err(|e| e.into_api())?;
        crate::projectscope::show_owners(st, &mut v)
            .await
            .map_err(|e| e.into_api())?;
        return Ok(v);
    }
    if st.cluster.draining() {
        // CloudStack 4.21: a server preparing for maintenance answers 503 to new jobs (a
        // balancer in front retries them on another server).
        return Err(api::ApiError::new(
            api::ErrorCode::ServiceUnavailable,
            "This management server is preparing for maintenance and accepts no new jobs; send the request to another management server",
        ));
    }
    let plan = dispatch::prepare_async(st, ctx, &args)
        .await
        .map_err(|e| e.into_api())?;
    let job = jobs::submit(st, ctx, &args, raw, &plan)
        .await
        .map_err(|e| e.into_api())?;
    let mut body = json!({ "jobid": job });
    if plan.returns_id {
        if let Some(id) = &plan.instance_id {
            body = json!({ "id": id, "jobid": job });
        }
    }
    Ok(body)
}

fn session_reply(wrapper: String, r: Result<auth::SessionReply, ApiError>) -> Reply {
    match r {
        Ok(s) => Reply {
            wrapper,
            result: Ok(s.body),
            cookies: s.cookies,
        },
        Err(e) => Reply::err(wrapper, e),
    }
}

/// A caller's command name as it may appear in a message: at most 100 characters, control
/// characters replaced.
fn printable(s: &str) -> String {
    s.chars()
        .take(100)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// Header-safe text: visible ASCII only.
fn header_text(s: &str) -> HeaderValue {
    let clean: String = s
        .chars()
        .map(|c| if (' '..='~').contains(&c) { c } else { '?' })
        .take(1000)
        .collect();
    HeaderValue::from_str(&clean).unwrap_or_else(|_| HeaderValue::from_static("error"))
}

fn respond(reply: Reply, format: Format) -> Response {
    let (status, inner, description) = match &reply.result {
        Ok(v) => (200, v.clone(), None),
        Err(e) => (
            e.code.http_status(),
            e.body(),
            (e.code != ErrorCode::Unauthorized).then(|| e.text.clone()),
        ),
    };
    let text = render(&reply.wrapper, &inner, format);
    let mut resp = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        text,
    )
        .into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("x-xss-protection", HeaderValue::from_static("1;mode=block"));
    h.insert(
        "content-security-policy",
        HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(d) = description {
        h.insert("x-description", header_text(&d));
    }
    for c in reply.cookies {
        if let Ok(v) = HeaderValue::from_str(&c) {
            h.append(header::SET_COOKIE, v);
        }
    }
    resp
}
