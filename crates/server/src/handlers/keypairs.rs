//! SSH key pairs: createSSHKeyPair (Canopy generates an RSA key and returns the private key
//! once; only the public key is kept), registerSSHKeyPair, listSSHKeyPairs, deleteSSHKeyPair.

use api::{list_body, success_body, Args};
use db::{AccountRow, DbError, KeyPairFilter, KeyPairRow};
use model::identity::display_domain_path;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::access;
use crate::context::OpContext;
use crate::error::{param_err, AppError, AppResult};
use crate::events::Event;
use crate::sshkeys::{self, PublicKey};
use crate::state::State;

fn view(k: &KeyPairRow) -> Value {
    json!({
        "id": k.id,
        "name": k.name,
        "fingerprint": k.fingerprint,
        "account": k.account_name,
        "accountid": k.account_id,
        "domainid": k.domain_id,
        "domain": k.domain_name,
        "domainpath": display_domain_path(&k.domain_path),
        "hasannotations": false,
    })
}

/// The owner: the caller, or (admins) `account` + `domainid`.
async fn owner(st: &State, ctx: &OpContext, args: &Args) -> AppResult<AccountRow> {
    match args.text("account") {
        Some(a) => {
            let acct = access::account_by_name(st, ctx, a, args.id("domainid")).await?;
            access::check_owner(ctx, &acct)?;
            Ok(acct)
        }
        None => Ok(ctx.user.account.clone()),
    }
}

fn exists(name: &str, acct: &AccountRow) -> AppError {
    api::ApiError::param(format!(
        "A key pair with name '{name}' already exists for account {} in specified domain id",
        acct.name
    ))
    .into()
}

/// Stores the key for `acct` and returns its view.
async fn store(
    st: &State,
    ctx: &OpContext,
    acct: &AccountRow,
    name: &str,
    key: &PublicKey,
    event: &str,
) -> AppResult<KeyPairRow> {
    let id = Uuid::new_v4();
    let mut tx = st.store.begin().await?;
    match db::keypair_insert(
        &mut tx,
        id,
        acct.id,
        acct.domain_id,
        name,
        &key.fingerprint,
        &key.text,
    )
    .await
    {
        Ok(()) => {}
        Err(DbError::Conflict(_)) => return Err(exists(name, acct)),
        Err(e) => return Err(e.into()),
    }
    Event::new(ctx, event, format!("SSH key pair {name} registered"))
        .resource(id, "SSHKeyPair", Some(name))
        .record(&mut tx)
        .await?;
    tx.commit().await?;
    let mut c = st.store.read().await?;
    db::keypair_get_by_name(&mut c, acct.id, name)
        .await?
        .ok_or_else(|| AppError::Internal("key pair vanished after insert".into()))
}

async fn check_name_free(st: &State, acct: &AccountRow, name: &str) -> AppResult<()> {
    let mut c = st.store.read().await?;
    if db::keypair_get_by_name(&mut c, acct.id, name)
        .await?
        .is_some()
    {
        return Err(exists(name, acct));
    }
    Ok(())
}

pub async fn create(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let name = args.required_str("name")?.trim().to_string();
    if name.is_empty() {
        return param_err("The key pair name must not be empty");
    }
    let acct = owner(st, ctx, args).await?;
    // Refuse a taken name before spending a key generation on it; the insert re-checks.
    check_name_free(st, &acct, &name).await?;
    let (public, private) = tokio::task::spawn_blocking(sshkeys::generate_rsa)
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let row = store(st, ctx, &acct, &name, &public, "CREATE.SSH.KEYPAIR").await?;
    let mut v = view(&row);
    v["privatekey"] = json!(private);
    Ok(json!({ "keypair": v }))
}

pub async fn register(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let name = args.required_str("name")?.trim().to_string();
    if name.is_empty() {
        return param_err("The key pair name must not be empty");
    }
    let Some(key) = sshkeys::parse_public_key(args.required_str("publickey")?) else {
        return param_err("Public key is invalid");
    };
    let acct = owner(st, ctx, args).await?;
    check_name_free(st, &acct, &name).await?;
    {
        let mut c = st.store.read().await?;
        let same = KeyPairFilter {
            scope: db::OwnerScope::Account(acct.id),
            id: None,
            name: None,
            fingerprint: Some(key.fingerprint.clone()),
            keyword: None,
            offset: 0,
            limit: Some(1),
        };
        if let Some(k) = db::keypair_list(&mut c, &same).await?.0.first() {
            return param_err(format!(
                "A key pair with key '{}' already exists for this account (key pair {})",
                key.text, k.name
            ));
        }
    }
    let row = store(st, ctx, &acct, &name, &key, "REGISTER.SSH.KEYPAIR").await?;
    Ok(json!({ "keypair": view(&row) }))
}

pub async fn list(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let f = KeyPairFilter {
        scope: access::owner_scope(st, ctx, args).await?,
        id: args.uuid("id"),
        name: args.text("name").map(str::to_string),
        fingerprint: args.text("fingerprint").map(str::to_lowercase),
        keyword: args.text("keyword").map(str::to_string),
        offset: args.page.offset,
        limit: args.page.limit,
    };
    let mut c = st.store.read().await?;
    let (rows, total) = db::keypair_list(&mut c, &f).await?;
    Ok(list_body(
        "sshkeypair",
        total,
        rows.iter().map(view).collect(),
    ))
}

pub async fn delete(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let name = args.required_str("name")?;
    let acct = owner(st, ctx, args).await?;
    let row = {
        let mut c = st.store.read().await?;
        db::keypair_get_by_name(&mut c, acct.id, name).await?
    };
    let Some(row) = row else {
        return param_err(format!(
            "A key pair with name '{name}' does not exist for account {} in specified domain id",
            acct.name
        ));
    };
    let mut tx = st.store.begin().await?;
    db::keypair_delete(&mut tx, row.id).await?;
    Event::new(
        ctx,
        "DELETE.SSH.KEYPAIR",
        format!("SSH key pair {name} deleted"),
    )
    .resource(row.id, "SSHKeyPair", Some(name))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(success_body())
}
