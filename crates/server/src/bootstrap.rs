//! First start: the default roles, the ROOT domain, the `system` account, and the `admin`
//! account and user with a random password and API keys. The credentials are written to
//! `DIR/admin.json` (mode 0600) — staged before the database commit and moved into place after
//! it, so a crash in between cannot lose them.

use std::path::Path;

use db::{DataStore, NewUser, RoleRow};
use model::identity::{AccountType, RoleType, DEFAULT_ROLES};
use model::{AccountId, DomainId, RoleId, UserId};
use serde::Serialize;

use crate::crypto::{self, ServerKey};
use crate::error::{AppError, AppResult};

const KEY_CHECK: &str = "canopy-server-key-check";

/// The first admin's credentials.
#[derive(Clone, Debug, Serialize)]
pub struct AdminCreds {
    pub username: String,
    pub password: String,
    pub apikey: String,
    pub secretkey: String,
}

/// Refuses to run with a server key other than the one the database was created with.
async fn check_key(store: &DataStore, key: &ServerKey) -> AppResult<()> {
    let mut c = store.read().await?;
    if let Some(enc) = db::meta_get(&mut c, "key_check").await? {
        let ok = key.decrypt(&enc).map(|p| p == KEY_CHECK).unwrap_or(false);
        if !ok {
            return Err(AppError::Crypto(
                "server.key does not match this database: servers sharing a database must use the same server.key".into(),
            ));
        }
    }
    Ok(())
}

/// Seeds an empty database. Returns the admin credentials when this call seeded it.
pub async fn run(
    store: &DataStore,
    key: &ServerKey,
    data_dir: &Path,
) -> AppResult<Option<AdminCreds>> {
    check_key(store, key).await?;
    let final_path = data_dir.join("admin.json");
    let staged = data_dir.join("admin.json.staged");
    {
        let mut c = store.read().await?;
        if db::meta_get(&mut c, "bootstrapped").await?.is_some() {
            if staged.exists() && !final_path.exists() {
                std::fs::rename(&staged, &final_path)?;
            }
            return Ok(None);
        }
    }
    let creds = AdminCreds {
        username: "admin".into(),
        password: crypto::random_password(),
        apikey: crypto::random_key(),
        secretkey: crypto::random_key(),
    };
    let admin_hash = crypto::hash_password_async(creds.password.clone()).await?;
    let system_hash = crypto::hash_password_async(crypto::random_password()).await?;
    let secret_enc = key.encrypt(&creds.secretkey)?;
    let json = serde_json::to_vec_pretty(&creds).map_err(|e| AppError::Internal(e.to_string()))?;
    crypto::write_private(&staged, &json)?;

    let mut tx = store.begin().await?;
    if !db::meta_insert(&mut tx, "bootstrapped", &api::time::now_ms().to_string()).await? {
        // Another server seeded it first.
        let _ = std::fs::remove_file(&staged);
        return Ok(None);
    }
    db::meta_insert(&mut tx, "key_check", &key.encrypt(KEY_CHECK)?).await?;
    let mut admin_role = None;
    for r in DEFAULT_ROLES {
        let row = RoleRow {
            id: RoleId::new(),
            name: r.name.into(),
            role_type: r.role_type,
            description: r.description.into(),
            is_default: true,
            read_only: r.read_only,
            is_public: true,
            state: "Enabled".into(),
        };
        db::role_insert(&mut tx, &row).await?;
        if r.role_type == RoleType::Admin {
            admin_role = Some(row.id);
        }
    }
    let admin_role =
        admin_role.ok_or_else(|| AppError::Internal("no admin role in the defaults".into()))?;
    let root = DomainId::new();
    db::domain_insert(&mut tx, root, "ROOT", "/", None, 0, None).await?;
    for (name, hash, keys) in [
        ("system", system_hash, None),
        (
            "admin",
            admin_hash,
            Some((creds.apikey.clone(), secret_enc)),
        ),
    ] {
        let account = AccountId::new();
        db::account_insert(
            &mut tx,
            &db::NewAccount {
                id: account,
                name: name.into(),
                account_type: AccountType::RootAdmin,
                role_id: admin_role,
                domain_id: root,
                network_domain: None,
                is_default: true,
            },
        )
        .await?;
        let user = NewUser {
            id: UserId::new(),
            account_id: account,
            domain_id: root,
            username: name.into(),
            password_hash: hash,
            email: None,
            firstname: Some(if name == "admin" { "Admin" } else { "System" }.into()),
            lastname: Some("User".into()),
            timezone: None,
            is_default: true,
            api_key: keys.as_ref().map(|k| k.0.clone()),
            secret_enc: keys.map(|k| k.1),
        };
        db::user_insert(&mut tx, &user).await?;
        if name == "system" {
            // The system user never logs in.
            db::user_set_state(&mut tx, user.id, model::identity::AccountState::Disabled).await?;
        }
    }
    tx.commit().await?;
    std::fs::rename(&staged, &final_path)?;
    tracing::info!("bootstrapped a new database: ROOT domain, default roles, admin account");
    Ok(Some(creds))
}
