//! Rows as stored. Typed ids; times in epoch milliseconds.

use model::identity::{AccountState, AccountType, RoleType};
use model::{AccountId, DomainId, EventId, JobId, RoleId, ServerId, SessionId, UserId};

#[derive(Clone, Debug, PartialEq)]
pub struct DomainRow {
    pub id: DomainId,
    pub name: String,
    /// `/` for ROOT, `/a/b/` below.
    pub path: String,
    pub parent_id: Option<DomainId>,
    pub parent_name: Option<String>,
    pub level: i64,
    pub network_domain: Option<String>,
    pub state: String,
    pub created: i64,
    pub has_child: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RoleRow {
    pub id: RoleId,
    pub name: String,
    pub role_type: RoleType,
    pub description: String,
    pub is_default: bool,
    pub read_only: bool,
    /// Domain admins see (and may give) only public roles.
    pub is_public: bool,
    /// `Enabled` or `Disabled` (a disabled role's accounts cannot call the API).
    pub state: String,
}

/// An account joined with its role and domain.
#[derive(Clone, Debug, PartialEq)]
pub struct AccountRow {
    pub id: AccountId,
    pub name: String,
    pub account_type: AccountType,
    pub role_id: RoleId,
    pub role_name: String,
    pub role_type: RoleType,
    pub role_read_only: bool,
    pub domain_id: DomainId,
    pub domain_name: String,
    pub domain_path: String,
    pub state: AccountState,
    pub network_domain: Option<String>,
    pub is_default: bool,
    pub created: i64,
}

/// What inserting an account stores.
#[derive(Clone, Debug)]
pub struct NewAccount {
    pub id: AccountId,
    pub name: String,
    pub account_type: AccountType,
    pub role_id: RoleId,
    pub domain_id: DomainId,
    pub network_domain: Option<String>,
    pub is_default: bool,
}

/// A user joined with its account (and the account's role and domain).
#[derive(Clone, Debug, PartialEq)]
pub struct UserRow {
    pub id: UserId,
    pub username: String,
    pub password_hash: String,
    pub email: Option<String>,
    pub firstname: Option<String>,
    pub lastname: Option<String>,
    pub state: AccountState,
    pub api_key: Option<String>,
    pub secret_enc: Option<String>,
    pub timezone: Option<String>,
    pub is_default: bool,
    pub source: String,
    pub created: i64,
    pub account: AccountRow,
}

/// What inserting a user stores.
#[derive(Clone, Debug)]
pub struct NewUser {
    pub id: UserId,
    pub account_id: AccountId,
    pub domain_id: DomainId,
    pub username: String,
    pub password_hash: String,
    pub email: Option<String>,
    pub firstname: Option<String>,
    pub lastname: Option<String>,
    pub timezone: Option<String>,
    pub is_default: bool,
    pub api_key: Option<String>,
    pub secret_enc: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SessionRow {
    pub id: SessionId,
    pub session_key: String,
    pub user_id: UserId,
    pub created: i64,
    pub last_seen: i64,
    pub timeout_s: i64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct EventRow {
    pub id: EventId,
    pub event_type: String,
    pub level: String,
    pub description: String,
    pub state: String,
    pub account_id: AccountId,
    pub account_name: String,
    pub domain_id: DomainId,
    pub domain_name: String,
    pub username: Option<String>,
    pub user_id: Option<UserId>,
    pub resource_id: Option<String>,
    pub resource_type: Option<String>,
    pub resource_name: Option<String>,
    pub parent_id: Option<EventId>,
    pub created: i64,
    pub archived: bool,
}

/// What inserting an event stores.
#[derive(Clone, Debug)]
pub struct NewEvent {
    pub id: EventId,
    pub event_type: String,
    pub level: &'static str,
    pub description: String,
    pub state: &'static str,
    pub account_id: AccountId,
    pub domain_id: DomainId,
    pub user_id: Option<UserId>,
    pub resource_id: Option<String>,
    pub resource_type: Option<String>,
    pub resource_name: Option<String>,
    pub parent_id: Option<EventId>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct JobRow {
    pub id: JobId,
    pub command: String,
    /// The bound request, JSON.
    pub params: String,
    pub user_id: UserId,
    pub account_id: AccountId,
    pub account_name: String,
    pub domain_id: DomainId,
    pub domain_path: String,
    pub status: i64,
    pub result_code: i64,
    /// JSON of `jobresult`.
    pub result: Option<String>,
    pub instance_type: Option<String>,
    pub instance_id: Option<String>,
    pub created: i64,
    pub completed: Option<i64>,
    pub owner: Option<ServerId>,
    pub lease_until: Option<i64>,
    pub attempts: i64,
    /// Incremented at every take-over: a body that started at an older generation has been
    /// superseded and may no longer write (see `job_hold`).
    pub generation: i64,
    pub event_id: Option<EventId>,
    /// How far the job is, 0–100 (`jobprocstatus`).
    pub progress: i64,
    /// Where the job stood when it was last taken over (see `job_take_over`).
    pub resume_mark: Option<String>,
}

/// What inserting a job stores.
#[derive(Clone, Debug)]
pub struct NewJob {
    pub id: JobId,
    pub command: String,
    pub params: String,
    pub user_id: UserId,
    pub account_id: AccountId,
    pub domain_id: DomainId,
    pub instance_type: Option<String>,
    pub instance_id: Option<String>,
    pub event_id: Option<EventId>,
}
