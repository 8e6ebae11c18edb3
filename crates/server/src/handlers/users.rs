//! Users of accounts, and their API keys. Secret keys are stored encrypted with the server key
//! and shown only to their user and to admins over them.

use api::{list_body, success_body, ApiError, Args};
use db::{DbError, NewUser, UserFilter, UserRow};
use model::identity::{AccountState, AccountType};
use model::{DomainId, UserId};
use serde_json::{json, Value};

use crate::access;
use crate::context::OpContext;
use crate::crypto;
use crate::error::{param_err, AppError, AppResult};
use crate::events::Event;
use crate::jobs::JobPlan;
use crate::state::State;
use crate::{validate, views};

async fn view(st: &State, id: UserId) -> AppResult<Value> {
    let mut c = st.store.read().await?;
    let u = db::user_get(&mut c, id)
        .await?
        .ok_or_else(|| AppError::Internal("user vanished".into()))?;
    Ok(views::user(&u))
}

/// Checks `username` and `password` of a create request and hashes the password.
pub(crate) async fn credentials(args: &Args) -> AppResult<(String, String)> {
    let username = args.required_str("username")?;
    let password = args.required_str("password")?;
    validate::plain_name("User", username)?;
    if password.is_empty() {
        return param_err("Password can't be empty");
    }
    Ok((
        username.to_string(),
        crypto::hash_password_async(password.to_string()).await?,
    ))
}

/// Inserts the user a createAccount or createUser request describes; a username taken in
/// the domain is a 431.
pub(crate) async fn insert_from_args(
    tx: &mut db::Tx,
    args: &Args,
    id: UserId,
    account: (model::AccountId, DomainId),
    username: &str,
    password_hash: String,
) -> AppResult<()> {
    let row = NewUser {
        id,
        account_id: account.0,
        domain_id: account.1,
        username: username.to_string(),
        password_hash,
        email: args.text("email").map(str::to_string),
        firstname: args.text("firstname").map(str::to_string),
        lastname: args.text("lastname").map(str::to_string),
        timezone: args.text("timezone").map(str::to_string),
        is_default: false,
        api_key: None,
        secret_enc: None,
    };
    match db::user_insert(tx, &row).await {
        Err(DbError::Conflict(_)) => param_err(format!(
            "The user {username} already exists in domain {}",
            account.1
        )),
        r => Ok(r?),
    }
}

pub async fn create(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let account = access::account_by_name(
        st,
        ctx,
        args.required_str("account")?,
        args.id::<DomainId>("domainid"),
    )
    .await?;
    access::not_project_account("account", &account)?;
    access::check_account_admin(ctx, &account)?;
    let id = match args.text("userid") {
        Some(s) => s
            .parse::<UserId>()
            .map_err(|_| ApiError::invalid_id("userid", s))?,
        None => UserId::new(),
    };
    let (username, hash) = credentials(args).await?;
    let username = username.as_str();
    let mut tx = st.store.begin().await?;
    insert_from_args(
        &mut tx,
        args,
        id,
        (account.id, account.domain_id),
        username,
        hash,
    )
    .await?;
    Event::new(
        ctx,
        "USER.CREATE",
        format!("User {username} created in account {}", account.name),
    )
    .resource(id, "User", Some(username))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(json!({ "user": view(st, id).await? }))
}

/// The `state` and `accounttype` filters of listAccounts and listUsers.
pub(crate) fn state_and_type_filters(
    args: &Args,
) -> AppResult<(Option<AccountState>, Option<AccountType>)> {
    let state = match args.text("state") {
        Some(s) => Some(AccountState::parse(s).ok_or_else(|| {
            ApiError::param(format!(
                "Invalid state {s}: use enabled, disabled or locked"
            ))
        })?),
        None => None,
    };
    let account_type = match args.int("accounttype") {
        Some(t) => Some(
            AccountType::from_i64(t)
                .ok_or_else(|| ApiError::param(format!("Invalid account type {t}")))?,
        ),
        None => None,
    };
    Ok((state, account_type))
}

pub async fn list(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let (state, account_type) = state_and_type_filters(args)?;
    let f = UserFilter {
        scope: access::account_list_scope(st, ctx, args).await?,
        id: args.id("id"),
        username: args.text("username").map(str::to_string),
        account_type,
        state,
        keyword: args.text("keyword").map(str::to_string),
        offset: args.page.offset,
        limit: args.page.limit,
    };
    let mut c = st.store.read().await?;
    let (rows, total) = db::user_list(&mut c, &f).await?;
    Ok(list_body(
        "user",
        total,
        rows.iter().map(views::user).collect(),
    ))
}

/// The user named by `id`, if the caller is that user or administers its account.
async fn target(st: &State, ctx: &OpContext, args: &Args, self_ok: bool) -> AppResult<UserRow> {
    let u = access::user(st, "id", args.required_id("id")?).await?;
    if !(self_ok && u.id == ctx.user_id()) {
        access::check_account_admin(ctx, &u.account)?;
    }
    Ok(u)
}

fn not_self(ctx: &OpContext, u: &UserRow, action: &str) -> AppResult<()> {
    if u.id == ctx.user_id() {
        return param_err(format!("You can't {action} your own user"));
    }
    Ok(())
}

pub async fn update(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let u = target(st, ctx, args, true).await?;
    let mut profile = db::UserProfile {
        username: u.username.clone(),
        email: u.email.clone(),
        firstname: u.firstname.clone(),
        lastname: u.lastname.clone(),
        timezone: u.timezone.clone(),
    };
    if let Some(n) = args.text("username") {
        validate::plain_name("User", n)?;
        profile.username = n.to_string();
    }
    for (field, slot) in [
        ("email", &mut profile.email),
        ("firstname", &mut profile.firstname),
        ("lastname", &mut profile.lastname),
        ("timezone", &mut profile.timezone),
    ] {
        if let Some(v) = args.text(field) {
            *slot = Some(v.to_string());
        }
    }
    let new_hash = match args.str("password") {
        Some("") => return param_err("Password can't be empty"),
        Some(pw) => {
            if u.id == ctx.user_id() && !ctx.is_root_admin() {
                let Some(current) = args.str("currentpassword") else {
                    return param_err("Current password is required to change your own password");
                };
                if !crypto::verify_password_async(current.to_string(), u.password_hash.clone())
                    .await
                {
                    return param_err("Current password is incorrect");
                }
            }
            Some(crypto::hash_password_async(pw.to_string()).await?)
        }
        None => None,
    };
    let keys = match (args.text("userapikey"), args.text("usersecretkey")) {
        (Some(k), Some(s)) => Some((k.to_string(), st.key.encrypt(s)?)),
        (None, None) => None,
        _ => return param_err("Please provide both userapikey and usersecretkey"),
    };
    let mut tx = st.store.begin().await?;
    match db::user_update_profile(&mut tx, u.id, &profile).await {
        Err(DbError::Conflict(_)) => {
            return param_err(format!(
                "The user {} already exists in domain {}",
                profile.username, u.account.domain_id
            ))
        }
        r => r?,
    }
    if let Some(h) = new_hash {
        db::user_set_password(&mut tx, u.id, &h).await?;
    }
    if let Some((k, s)) = keys {
        match db::user_set_keys(&mut tx, u.id, &k, &s).await {
            Err(DbError::Conflict(_)) => {
                return param_err("The api key is already in use by another user")
            }
            r => r?,
        }
    }
    Event::new(ctx, "USER.UPDATE", format!("User {} updated", u.username))
        .resource(u.id, "User", Some(&profile.username))
        .record(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(json!({ "user": view(st, u.id).await? }))
}

async fn set_state(
    st: &State,
    ctx: &OpContext,
    u: &UserRow,
    state: AccountState,
    ev: Option<&str>,
) -> AppResult<Value> {
    let mut tx = st.store.begin().await?;
    db::user_set_state(&mut tx, u.id, state).await?;
    if let Some(ev) = ev {
        Event::new(
            ctx,
            ev,
            format!("User {} is now {}", u.username, state.as_str()),
        )
        .resource(u.id, "User", Some(&u.username))
        .record(&mut tx)
        .await?;
    }
    tx.commit().await?;
    Ok(json!({ "user": view(st, u.id).await? }))
}

pub async fn enable(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let u = target(st, ctx, args, false).await?;
    set_state(st, ctx, &u, AccountState::Enabled, Some("USER.ENABLE")).await
}

pub async fn lock(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let u = target(st, ctx, args, false).await?;
    not_self(ctx, &u, "lock")?;
    set_state(st, ctx, &u, AccountState::Locked, Some("USER.LOCK")).await
}

pub async fn disable_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let u = target(st, ctx, args, false).await?;
    not_self(ctx, &u, "disable")?;
    Ok(JobPlan {
        instance_type: Some("User"),
        instance_id: Some(u.id.to_string()),
        returns_id: false,
        description: format!("Disabling user {}", u.username),
    })
}

pub async fn disable_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    _job: &crate::jobs::JobRef,
) -> AppResult<Value> {
    let u = target(st, ctx, args, false).await?;
    set_state(st, ctx, &u, AccountState::Disabled, None).await
}

/// moveUser: a user goes to another account of its domain (`account` by name or
/// `accountid`). Not the caller itself, a default user, an account's last user (it would be
/// left without one), nor into a project's account.
pub async fn move_user(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let u = target(st, ctx, args, false).await?;
    not_self(ctx, &u, "move")?;
    if u.is_default {
        return param_err(format!(
            "The user {} is a default user and can't be moved",
            u.username
        ));
    }
    let to = match (
        args.text("account"),
        args.id::<model::AccountId>("accountid"),
    ) {
        (Some(name), None) => {
            let mut c = st.store.read().await?;
            db::account_get_by_name(&mut c, u.account.domain_id, name.trim())
                .await?
                .ok_or_else(|| {
                    ApiError::param(format!(
                        "Unable to find account {name} in the user's domain"
                    ))
                })?
        }
        (None, Some(id)) => access::account(st, "accountid", id).await?,
        _ => return param_err("Specify either account or accountid"),
    };
    access::not_project_account("account", &to)?;
    access::check_account_admin(ctx, &to)?;
    if to.domain_id != u.account.domain_id {
        return param_err("Cannot move a user to an account of another domain");
    }
    if to.id == u.account.id {
        return param_err(format!(
            "The user {} is already in account {}",
            u.username, to.name
        ));
    }
    let mut tx = st.store.begin().await?;
    let left = db::user_list_for_accounts(&mut tx, &[u.account.id])
        .await?
        .len();
    if left <= 1 {
        return param_err(format!(
            "The user {} is the last user of account {}: it can't be moved",
            u.username, u.account.name
        ));
    }
    db::user_set_account(&mut tx, u.id, to.id).await?;
    Event::new(
        ctx,
        "USER.MOVE",
        format!(
            "User {} moved from account {} to {}",
            u.username, u.account.name, to.name
        ),
    )
    .resource(u.id, "User", Some(&u.username))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(success_body())
}

pub async fn delete(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let u = target(st, ctx, args, false).await?;
    not_self(ctx, &u, "delete")?;
    if u.is_default {
        return param_err(format!(
            "The user {} is a default user and can't be removed",
            u.username
        ));
    }
    let mut tx = st.store.begin().await?;
    db::user_mark_removed(&mut tx, u.id).await?;
    Event::new(ctx, "USER.DELETE", format!("User {} deleted", u.username))
        .resource(u.id, "User", Some(&u.username))
        .record(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(success_body())
}

pub async fn register_keys(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let u = target(st, ctx, args, true).await?;
    let (key, secret) = (crypto::random_key(), crypto::random_key());
    let enc = st.key.encrypt(&secret)?;
    let mut tx = st.store.begin().await?;
    db::user_set_keys(&mut tx, u.id, &key, &enc).await?;
    Event::new(
        ctx,
        "REGISTER.USER.KEY",
        format!("New API keys registered for user {}", u.username),
    )
    .resource(u.id, "User", Some(&u.username))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(json!({ "userkeys": { "apikey": key, "secretkey": secret } }))
}

/// getUser (root admins, as CloudStack): the user an API key belongs to (Ansible's
/// collection asks it for its caller).
pub async fn get_by_api_key(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let key = args.required_str("userapikey")?.trim();
    let u = {
        let mut c = st.store.read().await?;
        db::user_get_by_api_key(&mut c, key).await?
    };
    // An unknown key and one of a user out of the caller's reach answer alike.
    let u = u
        .filter(|u| access::check_account_admin(ctx, &u.account).is_ok())
        .ok_or_else(|| ApiError::param("Unable to find user by the given API key"))?;
    Ok(json!({ "user": views::user(&u) }))
}

pub async fn get_keys(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let u = target(st, ctx, args, true).await?;
    let mut keys = serde_json::Map::new();
    if let (Some(k), Some(s)) = (&u.api_key, &u.secret_enc) {
        keys.insert("apikey".into(), json!(k));
        keys.insert("secretkey".into(), json!(st.key.decrypt(s)?));
    }
    Ok(json!({ "userkeys": keys }))
}
