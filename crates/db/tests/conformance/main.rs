//! The DataStore conformance suite: the same checks against embedded SQLite and a throwaway
//! PostgreSQL (started by testkit; `CANOPY_REQUIRE_PG=1` makes its absence a failure).

use db::*;
use model::identity::{AccountType, RoleType};
use model::*;

mod identity;
mod inventory;
mod jobs;
mod networks;
mod owned;
mod vms;
mod vpcs;

use identity::*;
use inventory::*;
use jobs::*;
use networks::*;
use owned::*;
use vms::*;
use vpcs::*;

pub(crate) async fn seed_roles(store: &DataStore) -> RoleRow {
    let mut tx = store.begin().await.expect("begin");
    let mut user_role = None;
    for (name, t) in [
        ("Root Admin", RoleType::Admin),
        ("Domain Admin", RoleType::DomainAdmin),
        ("User", RoleType::User),
    ] {
        let r = RoleRow {
            id: RoleId::new(),
            name: name.into(),
            role_type: t,
            description: "d".into(),
            is_default: true,
            read_only: false,
            is_public: true,
            state: "Enabled".into(),
        };
        role_insert(&mut tx, &r).await.expect("role");
        if t == RoleType::User {
            user_role = Some(r);
        }
    }
    tx.commit().await.expect("commit");
    user_role.expect("user role")
}

pub(crate) async fn domain(store: &DataStore, name: &str, parent: Option<&DomainRow>) -> DomainRow {
    let id = DomainId::new();
    let (path, level) = match parent {
        None => ("/".to_string(), 0),
        Some(p) => (format!("{}{}/", p.path, name), p.level + 1),
    };
    let mut tx = store.begin().await.expect("begin");
    domain_insert(&mut tx, id, name, &path, parent.map(|p| p.id), level, None)
        .await
        .expect("insert domain");
    tx.commit().await.expect("commit");
    let mut c = store.read().await.expect("read");
    domain_get(&mut c, id).await.expect("get").expect("exists")
}

pub(crate) async fn account(
    store: &DataStore,
    name: &str,
    d: &DomainRow,
    role: &RoleRow,
) -> AccountId {
    let id = AccountId::new();
    let mut tx = store.begin().await.expect("begin");
    account_insert(
        &mut tx,
        &NewAccount {
            id,
            name: name.to_string(),
            account_type: AccountType::User,
            role_id: role.id,
            domain_id: d.id,
            network_domain: None,
            is_default: false,
        },
    )
    .await
    .expect("account");
    tx.commit().await.expect("commit");
    id
}

pub(crate) async fn user(
    store: &DataStore,
    name: &str,
    a: AccountId,
    d: DomainId,
    key: Option<&str>,
) -> UserId {
    let id = UserId::new();
    let mut tx = store.begin().await.expect("begin");
    let u = NewUser {
        id,
        account_id: a,
        domain_id: d,
        username: name.into(),
        password_hash: "h".into(),
        email: Some(format!("{name}@example.org")),
        firstname: Some("F".into()),
        lastname: Some("L".into()),
        timezone: None,
        is_default: false,
        api_key: key.map(str::to_string),
        secret_enc: key.map(|_| "enc".to_string()),
    };
    user_insert(&mut tx, &u).await.expect("user");
    tx.commit().await.expect("commit");
    id
}

/// One throwaway PostgreSQL shared by the tests of this binary that run at the same time
/// (each gets a fresh database); stopped when the last of them drops it.
fn shared_pg() -> Option<std::sync::Arc<testkit::Postgres>> {
    use std::sync::{Arc, Mutex, Weak};
    static SHARED: Mutex<Weak<testkit::Postgres>> = Mutex::new(Weak::new());
    let mut g = SHARED.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(p) = g.upgrade() {
        return Some(p);
    }
    let p = Arc::new(testkit::Postgres::start_for_test()?);
    *g = Arc::downgrade(&p);
    Some(p)
}

/// A test per family and backend, so one failure does not hide the others: `sqlite::jobs`,
/// `postgres::jobs`, …
macro_rules! families {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn migrations() {
                let dir = tempfile::tempdir().expect("tmp");
                super::migrations(&format!("sqlite:{}", dir.path().join("db.sqlite").display()))
                    .await;
            }
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let dir = tempfile::tempdir().expect("tmp");
                    let url = format!("sqlite:{}", dir.path().join("db.sqlite").display());
                    super::$name(&DataStore::open(&url).await.expect("open")).await;
                }
            )*
        }
        mod postgres {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn migrations() {
                let Some(pg) = shared_pg() else { return };
                super::migrations(&pg.fresh_database().expect("create database")).await;
            }
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let Some(pg) = shared_pg() else { return };
                    let url = pg.fresh_database().expect("create database");
                    super::$name(&DataStore::open(&url).await.expect("open")).await;
                }
            )*
        }
    };
}

families!(
    domains,
    accounts_and_users,
    sessions_settings_events,
    jobs,
    concurrency,
    inventory,
    host_monitor,
    keypairs,
    limits,
    hypervisor_capabilities,
    tags,
    vms,
    guest_stats,
    networking,
    vpcs,
    servers,
);
