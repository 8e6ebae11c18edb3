//! Authentication: API key + signature (with `signatureVersion=3` expiry), login sessions
//! (`JSESSIONID` + `sessionkey`), login and logout. Every failure of a credential check is the
//! same 401, with the reason logged, not returned.

use api::{sign, time, ApiError, ErrorCode, RawParams};
use axum::http::HeaderMap;
use db::SessionRow;
use model::identity::{normalize_domain_path, AccountState};
use model::{DomainId, SessionId};
use serde_json::{json, Value};

use crate::context::OpContext;
use crate::crypto;
use crate::error::AppError;
use crate::events::Event;
use crate::state::State;

/// Cookies of a request, `name -> value` (first wins).
pub fn cookies(headers: &HeaderMap) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for h in headers.get_all(axum::http::header::COOKIE) {
        let Ok(s) = h.to_str() else { continue };
        for part in s.split(';') {
            if let Some((k, v)) = part.trim().split_once('=') {
                if !out.iter().any(|(n, _)| n == k) {
                    out.push((k.trim().to_string(), v.trim().trim_matches('"').to_string()));
                }
            }
        }
    }
    out
}

fn cookie<'a>(c: &'a [(String, String)], name: &str) -> Option<&'a str> {
    c.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn denied(why: &str) -> ApiError {
    tracing::info!(reason = why, "credentials rejected");
    ApiError::bad_credentials()
}

fn internal(e: impl Into<AppError>) -> ApiError {
    e.into().into_api()
}

/// The session a request presents, if any. `Ok(None)`: no session key at all.
pub async fn session(
    st: &State,
    headers: &HeaderMap,
    raw: &RawParams,
) -> Result<Option<(OpContext, SessionRow)>, ApiError> {
    let jar = cookies(headers);
    let by_param = raw.get("sessionkey").filter(|s| !s.is_empty());
    let by_cookie = cookie(&jar, "sessionkey").filter(|s| !s.is_empty());
    let key = match (by_param, by_cookie) {
        (None, None) => return Ok(None),
        (Some(p), Some(c)) if p != c => {
            return Err(denied("sessionkey parameter and cookie differ"))
        }
        (Some(k), _) | (None, Some(k)) => k,
    };
    let mut c = st.store.read().await.map_err(internal)?;
    let s = db::session_get_by_key(&mut c, key)
        .await
        .map_err(internal)?
        .ok_or_else(|| denied("unknown session key"))?;
    if let Some(j) = cookie(&jar, "JSESSIONID") {
        if j.split('.').next() != Some(s.id.to_string().as_str()) {
            return Err(denied("JSESSIONID does not match the session key"));
        }
    }
    let now = time::now_ms();
    if s.last_seen + s.timeout_s * 1000 < now {
        return Err(denied("session expired"));
    }
    let user = db::user_get(&mut c, s.user_id)
        .await
        .map_err(internal)?
        .ok_or_else(|| denied("session user removed"))?;
    drop(c);
    if user.state != AccountState::Enabled || user.account.state != AccountState::Enabled {
        return Err(denied("user or account not enabled"));
    }
    if now - s.last_seen > 30_000 {
        let mut tx = st.store.begin().await.map_err(internal)?;
        db::session_touch(&mut tx, s.id, now)
            .await
            .map_err(internal)?;
        tx.commit()
            .await
            .map_err(|e| internal(AppError::from(db::DbError::from(e))))?;
    }
    Ok(Some((OpContext::new(user, true), s)))
}

/// API key + signature authentication.
pub async fn signature(st: &State, raw: &RawParams) -> Result<OpContext, ApiError> {
    let (Some(api_key), Some(sig)) = (raw.get("apikey"), raw.get("signature")) else {
        return Err(denied("no apiKey or signature"));
    };
    if !st.settings.bool("api.key.access") {
        return Err(denied("api.key.access is false"));
    }
    let user = {
        let mut c = st.store.read().await.map_err(internal)?;
        db::user_get_by_api_key(&mut c, api_key)
            .await
            .map_err(internal)?
    }
    .ok_or_else(|| denied("unknown api key"))?;
    if user.state != AccountState::Enabled || user.account.state != AccountState::Enabled {
        return Err(denied("user or account not enabled"));
    }
    let secret = match user.secret_enc.as_deref().map(|s| st.key.decrypt(s)) {
        Some(Ok(s)) => s,
        Some(Err(e)) => {
            tracing::error!(error = %e, user = %user.id, "cannot decrypt a stored secret key");
            return Err(ApiError::bad_credentials());
        }
        None => return Err(denied("user has no secret key")),
    };
    if !sign::verify(raw.entries(), &secret, sig) {
        return Err(denied("signature mismatch"));
    }
    let enforce = st.settings.bool("enforce.post.requests.and.timestamps");
    if raw.get("signatureversion") == Some("3") {
        let exp = raw
            .get("expires")
            .and_then(time::parse_expires)
            .ok_or_else(|| denied("signatureVersion=3 without a valid expires"))?;
        let now = time::now_ms();
        if exp.timestamp_millis() < now {
            return Err(denied("request expired"));
        }
        if enforce && exp.timestamp_millis() > now + 15 * 60 * 1000 {
            return Err(denied("expires more than 15 minutes ahead"));
        }
    } else if enforce {
        return Err(denied("signatureVersion=3 with expires is required"));
    }
    Ok(OpContext::new(user, false))
}

/// The reply of a session command: body, and cookies to set.
pub struct SessionReply {
    pub body: Value,
    pub cookies: Vec<String>,
}

fn login_failed(user: &str, domain: &str) -> ApiError {
    ApiError {
        code: ErrorCode::Account,
        cs_code: None,
        text: format!("Failed to authenticate user {user} in domain {domain}; please provide valid credentials"),
    }
}

/// `login`: POST only; checks the password and opens a session.
pub async fn login(st: &State, post: bool, raw: &RawParams) -> Result<SessionReply, ApiError> {
    if !post {
        return Err(ApiError::new(
            ErrorCode::MethodNotAllowed,
            "Please use HTTP POST to authenticate using this API",
        ));
    }
    let spec = st
        .registry
        .get("login")
        .ok_or_else(|| ApiError::internal("login not registered"))?;
    let args = spec.bind(raw, st.settings.page_size())?;
    let username = args.required_str("username")?.to_string();
    let password = args.required_str("password")?.to_string();
    let mut c = st.store.read().await.map_err(internal)?;
    let (domain, label) = match args.text("domainid") {
        Some(d) => match d.parse::<DomainId>() {
            Ok(id) => (
                db::domain_get(&mut c, id).await.map_err(internal)?,
                d.to_string(),
            ),
            Err(_) => (None, d.to_string()),
        },
        None => {
            let path = normalize_domain_path(args.text("domain").unwrap_or("/"));
            (
                db::domain_get_by_path(&mut c, &path)
                    .await
                    .map_err(internal)?,
                path,
            )
        }
    };
    let Some(domain) = domain else {
        return Err(login_failed(&username, &label));
    };
    let user = db::user_get_by_username(&mut c, domain.id, &username)
        .await
        .map_err(internal)?;
    drop(c);
    let Some(user) = user else {
        // Spend the same time as a real check, so timing does not reveal user names.
        let _ = crypto::verify_password_async(password, "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into()).await;
        return Err(login_failed(&username, &domain.id.to_string()));
    };
    let ok = crypto::verify_password_async(password, user.password_hash.clone()).await;
    if !ok || user.state != AccountState::Enabled || user.account.state != AccountState::Enabled {
        tracing::info!(user = %username, domain = %domain.id, "login refused");
        return Err(login_failed(&username, &domain.id.to_string()));
    }
    let now = time::now_ms();
    let s = SessionRow {
        id: SessionId::new(),
        session_key: crypto::session_key(),
        user_id: user.id,
        created: now,
        last_seen: now,
        timeout_s: st.settings.int("session.timeout").max(60),
    };
    let ctx = OpContext::new(user.clone(), true);
    let mut tx = st.store.begin().await.map_err(internal)?;
    db::session_insert(&mut tx, &s).await.map_err(internal)?;
    Event::new(
        &ctx,
        "USER.LOGIN",
        format!("User {} logged in", user.username),
    )
    .resource(user.id, "User", Some(&user.username))
    .record(&mut tx)
    .await
    .map_err(|e| AppError::from(e).into_api())?;
    tx.commit()
        .await
        .map_err(|e| internal(db::DbError::from(e)))?;
    let a = &user.account;
    let mut body = json!({
        "username": user.username,
        "userid": user.id,
        "domainid": a.domain_id,
        "timeout": s.timeout_s,
        "account": a.name,
        "firstname": user.firstname.clone().unwrap_or_default(),
        "lastname": user.lastname.clone().unwrap_or_default(),
        "type": a.account_type.as_i64().to_string(),
        "registered": "false",
        "sessionkey": s.session_key,
        "is2faenabled": "false",
        "is2faverified": "true",
        "passwordchangerequired": false,
    });
    if let Some(tz) = &user.timezone {
        body["timezone"] = json!(tz);
    }
    if ctx.is_root_admin() {
        body["managementserverid"] = json!(st.server_id);
    }
    Ok(SessionReply {
        body,
        cookies: vec![
            format!("JSESSIONID={}; Path=/client; HttpOnly", s.id),
            format!(
                "sessionkey={}; Path=/client; HttpOnly; SameSite=Lax",
                s.session_key
            ),
        ],
    })
}

/// `logout`: ends the presented session.
pub async fn logout(
    st: &State,
    session: Option<(OpContext, SessionRow)>,
) -> Result<SessionReply, ApiError> {
    let Some((ctx, s)) = session else {
        return Err(ApiError::bad_credentials());
    };
    let mut tx = st.store.begin().await.map_err(internal)?;
    db::session_delete(&mut tx, s.id).await.map_err(internal)?;
    Event::new(
        &ctx,
        "USER.LOGOUT",
        format!("User {} logged out", ctx.user.username),
    )
    .resource(ctx.user_id(), "User", Some(&ctx.user.username))
    .record(&mut tx)
    .await
    .map_err(|e| AppError::from(e).into_api())?;
    tx.commit()
        .await
        .map_err(|e| internal(db::DbError::from(e)))?;
    Ok(SessionReply {
        body: json!({ "description": "success" }),
        cookies: vec![
            "JSESSIONID=; Path=/client; Max-Age=0; HttpOnly".into(),
            "sessionkey=; Path=/client; Max-Age=0; HttpOnly".into(),
        ],
    })
}
