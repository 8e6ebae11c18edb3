//! The caller of an operation, passed explicitly to every app-layer function.

use db::UserRow;
use model::identity::{AccountType, RoleType};
use model::{AccountId, DomainId, UserId};

/// Who is asking, and through what.
#[derive(Clone, Debug)]
pub struct OpContext {
    pub user: UserRow,
    /// Set for requests that came with a login session.
    pub via_session: bool,
    pub request_id: uuid::Uuid,
    /// The `Host` the request was sent to (for URLs handed back, such as the console's).
    pub origin: Option<String>,
    /// The projects the caller is a member of (loaded for each request of a user).
    pub projects: Vec<db::Membership>,
    /// The project a request acts in (`projectid`): its account owns what the request
    /// creates and the request's events.
    pub project: Option<db::ProjectRow>,
    /// `projectid=-1`: lists cover every project the caller may see, and nothing else.
    pub all_projects: bool,
    /// The command being run, and the projects (by their accounts) whose project role for
    /// this caller denies it: membership alone does not admit the caller to their objects.
    /// Set by `projectscope::load_memberships` for API requests (a resumed job was admitted).
    pub command: Option<&'static str>,
    pub denied_projects: Vec<AccountId>,
}

impl OpContext {
    pub fn new(user: UserRow, via_session: bool) -> Self {
        Self {
            user,
            via_session,
            request_id: uuid::Uuid::new_v4(),
            origin: None,
            projects: Vec::new(),
            project: None,
            all_projects: false,
            command: None,
            denied_projects: Vec::new(),
        }
    }
    /// The caller's role in the project whose resources this account owns, if a member.
    pub fn project_role(&self, project_account: AccountId) -> Option<model::identity::ProjectRole> {
        self.projects
            .iter()
            .filter(|m| m.project_account == project_account)
            .map(|m| m.role)
            .max_by_key(|r| *r == model::identity::ProjectRole::Admin)
    }
    /// Why membership of the project owning this account does not admit the caller to the
    /// command being run (its project role denies it), if it does not.
    pub fn project_denial(&self, project_account: AccountId) -> Option<String> {
        self.denied_projects.contains(&project_account).then(|| {
            format!(
                "The API {} is denied for the user's/account's project role",
                self.command.unwrap_or("call")
            )
        })
    }
    pub fn user_id(&self) -> UserId {
        self.user.id
    }
    pub fn account_id(&self) -> AccountId {
        self.user.account.id
    }
    pub fn domain_id(&self) -> DomainId {
        self.user.account.domain_id
    }
    /// The caller's domain path (`/`, `/a/`).
    pub fn domain_path(&self) -> &str {
        &self.user.account.domain_path
    }
    pub fn role_type(&self) -> RoleType {
        self.user.account.role_type
    }
    pub fn account_type(&self) -> AccountType {
        self.user.account.account_type
    }
    pub fn is_root_admin(&self) -> bool {
        self.role_type() == RoleType::Admin
    }
    /// Domain admins and resource (domain) admins manage a domain subtree.
    pub fn is_domain_admin(&self) -> bool {
        matches!(
            self.role_type(),
            RoleType::DomainAdmin | RoleType::ResourceAdmin
        )
    }
    pub fn is_admin(&self) -> bool {
        self.is_root_admin() || self.is_domain_admin()
    }
    pub fn read_only(&self) -> bool {
        self.user.account.role_read_only
    }
}
