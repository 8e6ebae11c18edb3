//! Projects: a project's resources belong to its own account (`account_type` 5, no users);
//! member accounts (or single users of an account) use them, as Admin or Regular members;
//! invitations ask an account, user or e-mail address to join (CloudStack's `projects`,
//! `project_account`, `project_invitations`).

use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use model::identity::{InvitationState, ProjectRole, ProjectState};
use model::ids::{AccountId, DomainId, ProjectId, UserId};
use uuid::Uuid;

use crate::identity::{count, Listed};
use crate::mapper::map_row;
use crate::migrate::now_ms;
use crate::sql::{OwnerScope, Sql};
use crate::{DbError, Result};

/// One project, with its domain's and its account's names for responses.
#[derive(Clone, Debug, PartialEq)]
pub struct ProjectRow {
    pub id: ProjectId,
    pub name: String,
    pub display_text: String,
    pub domain_id: DomainId,
    pub domain_name: String,
    pub domain_path: String,
    /// The account that owns the project's resources.
    pub account_id: AccountId,
    pub account_name: String,
    pub state: ProjectState,
    pub created: i64,
}

/// A new project (its account is inserted first).
pub struct NewProject<'a> {
    pub id: ProjectId,
    pub name: &'a str,
    pub display_text: &'a str,
    pub domain_id: DomainId,
    pub account_id: AccountId,
}

/// What `listProjects` filters on.
#[derive(Clone, Debug, Default)]
pub struct ProjectFilter {
    /// Projects in these domains (`None`: everywhere).
    pub scope: Option<OwnerScope>,
    /// Only projects this account (or, when `user` is set, this user) is a member of.
    pub member: Option<(AccountId, Option<UserId>)>,
    pub id: Option<ProjectId>,
    pub name: Option<String>,
    pub display_text: Option<String>,
    pub state: Option<ProjectState>,
    pub keyword: Option<String>,
    pub offset: u64,
    pub limit: Option<u64>,
}

const P_COLS: &str =
    "p.id AS p_id, p.name AS p_name, p.display_text AS p_dt, p.domain_id AS p_dom, \
     d.name AS d_name, d.path AS d_path, p.account_id AS p_acct, a.name AS a_name, \
     p.state AS p_state, p.created AS p_created";
const P_FROM: &str = " FROM projects p JOIN domains d ON d.id = p.domain_id \
     JOIN accounts a ON a.id = p.account_id WHERE p.removed IS NULL";

fn p_row(r: &AnyRow) -> Result<ProjectRow> {
    map_row!(
        r,
        "projects",
        ProjectRow {
            id: "p_id",
            name: "p_name",
            display_text: "p_dt",
            domain_id: "p_dom",
            domain_name: "d_name",
            domain_path: "d_path",
            account_id: "p_acct",
            account_name: "a_name",
            state: "p_state",
            created: "p_created",
        }
    )
}

/// Stores a project; a second live project of the name in the domain is a
/// [`DbError::Conflict`].
pub async fn project_insert(conn: &mut AnyConnection, p: &NewProject<'_>) -> Result<()> {
    let mut q = Sql::new(
        "INSERT INTO projects (id, name, display_text, domain_id, account_id, state, created) VALUES (",
    );
    q.bind(p.id)
        .push(", ")
        .bind(p.name)
        .push(", ")
        .bind(p.display_text)
        .push(", ")
        .bind(p.domain_id)
        .push(", ")
        .bind(p.account_id)
        .push(", ")
        .bind(ProjectState::Active.as_str())
        .push(", ")
        .bind(now_ms())
        .push(")");
    q.query().execute(conn).await.map_err(DbError::classify)?;
    Ok(())
}

pub async fn project_get(conn: &mut AnyConnection, id: ProjectId) -> Result<Option<ProjectRow>> {
    let mut q = Sql::new(&format!("SELECT {P_COLS}{P_FROM}"));
    q.and(" AND p.id = ", id);
    q.one(conn, p_row).await
}

/// The live project whose resources this account owns.
pub async fn project_by_account(
    conn: &mut AnyConnection,
    account: AccountId,
) -> Result<Option<ProjectRow>> {
    let mut q = Sql::new(&format!("SELECT {P_COLS}{P_FROM}"));
    q.and(" AND p.account_id = ", account);
    q.one(conn, p_row).await
}

/// Every live project (few: they are read whole to show owners in responses).
pub async fn project_all(conn: &mut AnyConnection) -> Result<Vec<ProjectRow>> {
    let q = Sql::new(&format!("SELECT {P_COLS}{P_FROM} ORDER BY p.created, p.id"));
    q.all(conn, p_row).await
}

fn p_where(q: &mut Sql, f: &ProjectFilter) {
    if let Some(s) = &f.scope {
        s.push(q, "p.account_id", "d");
    }
    if let Some((acct, user)) = f.member {
        q.and(
            " AND p.id IN (SELECT m.project_id FROM project_members m WHERE m.account_id = ",
            acct,
        );
        if let Some(u) = user {
            q.and(" AND (m.user_id IS NULL OR m.user_id = ", u)
                .push(")");
        }
        q.push(")");
    }
    if let Some(id) = f.id {
        q.and(" AND p.id = ", id);
    }
    if let Some(n) = &f.name {
        q.and(" AND lower(p.name) = ", n.to_lowercase());
    }
    if let Some(t) = &f.display_text {
        q.and(" AND p.display_text = ", t.clone());
    }
    if let Some(s) = f.state {
        q.and(" AND p.state = ", s.as_str());
    }
    if let Some(k) = &f.keyword {
        let k = format!("%{}%", k.to_lowercase());
        q.and(" AND (lower(p.name) LIKE ", k.clone())
            .and(" OR lower(p.display_text) LIKE ", k)
            .push(")");
    }
}

pub async fn project_list(
    conn: &mut AnyConnection,
    f: &ProjectFilter,
) -> Result<Listed<ProjectRow>> {
    let mut c = Sql::new(&format!("SELECT COUNT(*){P_FROM}"));
    p_where(&mut c, f);
    let total = count(conn, &c).await?;
    let mut q = Sql::new(&format!("SELECT {P_COLS}{P_FROM}"));
    p_where(&mut q, f);
    q.push(" ORDER BY p.created, p.id").page(f.offset, f.limit);
    let rows = q.query().fetch_all(conn).await?;
    Ok((rows.iter().map(p_row).collect::<Result<_>>()?, total))
}

pub async fn project_set_state(
    conn: &mut AnyConnection,
    id: ProjectId,
    state: ProjectState,
) -> Result<()> {
    let mut q = Sql::new("UPDATE projects SET state = ");
    q.bind(state.as_str())
        .and(" WHERE removed IS NULL AND id = ", id);
    q.query().execute(conn).await?;
    Ok(())
}

/// Renames a project or changes its display text; a taken name is a [`DbError::Conflict`].
pub async fn project_update(
    conn: &mut AnyConnection,
    id: ProjectId,
    name: &str,
    display_text: &str,
) -> Result<()> {
    let mut q = Sql::new("UPDATE projects SET name = ");
    q.bind(name)
        .and(", display_text = ", display_text)
        .and(" WHERE removed IS NULL AND id = ", id);
    q.query().execute(conn).await.map_err(DbError::classify)?;
    Ok(())
}

/// Removes a project with its members and invitations.
pub async fn project_remove(conn: &mut AnyConnection, id: ProjectId) -> Result<()> {
    let mut q = Sql::new("DELETE FROM project_members WHERE project_id = ");
    q.bind(id);
    q.query().execute(&mut *conn).await?;
    let mut q = Sql::new("DELETE FROM project_invitations WHERE project_id = ");
    q.bind(id);
    q.query().execute(&mut *conn).await?;
    let mut q = Sql::new("UPDATE projects SET removed = ");
    q.bind(now_ms()).and(" WHERE removed IS NULL AND id = ", id);
    q.query().execute(conn).await?;
    Ok(())
}

// --- members ---------------------------------------------------------------------------------

/// One member: an account, or one user of it.
#[derive(Clone, Debug, PartialEq)]
pub struct ProjectMemberRow {
    pub project_id: ProjectId,
    pub account_id: AccountId,
    pub account_name: String,
    pub user_id: Option<UserId>,
    pub user_name: Option<String>,
    pub role: ProjectRole,
    pub domain_id: DomainId,
    pub domain_name: String,
    /// The member's project role (what it may call in the project), if it has one.
    pub project_role_id: Option<Uuid>,
}

/// A caller's membership: what its requests may reach.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Membership {
    pub project_id: ProjectId,
    /// The project's own account.
    pub project_account: AccountId,
    pub role: ProjectRole,
    /// A membership of this user alone (not of its whole account).
    pub user_level: bool,
    pub project_role: Option<Uuid>,
}

const M_COLS: &str = "m.project_id AS m_proj, m.account_id AS m_acct, a.name AS a_name, \
     m.user_id AS m_user, u.username AS u_name, m.role AS m_role, a.domain_id AS a_dom, d.name AS d_name, \
     m.project_role_id AS m_prole";
const M_FROM: &str = " FROM project_members m JOIN accounts a ON a.id = m.account_id \
     JOIN domains d ON d.id = a.domain_id LEFT JOIN users u ON u.id = m.user_id WHERE 1 = 1";

fn m_row(r: &AnyRow) -> Result<ProjectMemberRow> {
    map_row!(
        r,
        "project_members",
        ProjectMemberRow {
            project_id: "m_proj",
            account_id: "m_acct",
            account_name: "a_name",
            user_id: "m_user",
            user_name: "u_name",
            role: "m_role",
            domain_id: "a_dom",
            domain_name: "d_name",
            project_role_id: "m_prole",
        }
    )
}

/// Adds a member; a second row for the same account (and user) is a [`DbError::Conflict`].
pub async fn project_member_add(
    conn: &mut AnyConnection,
    project: ProjectId,
    account: AccountId,
    user: Option<UserId>,
    role: ProjectRole,
    project_role: Option<Uuid>,
) -> Result<()> {
    let mut q = Sql::new(
        "INSERT INTO project_members (id, project_id, account_id, user_id, role, project_role_id, created) VALUES (",
    );
    q.bind(Uuid::new_v4().to_string())
        .push(", ")
        .bind(project)
        .push(", ")
        .bind(account)
        .push(", ")
        .bind(user)
        .push(", ")
        .bind(role.as_str())
        .push(", ")
        .bind(project_role.map(|r| r.to_string()))
        .push(", ")
        .bind(now_ms())
        .push(")");
    q.query().execute(conn).await.map_err(DbError::classify)?;
    Ok(())
}

fn member_match(q: &mut Sql, project: ProjectId, account: AccountId, user: Option<UserId>) {
    q.and(" AND project_id = ", project)
        .and(" AND account_id = ", account);
    match user {
        Some(u) => q.and(" AND user_id = ", u),
        None => q.push(" AND user_id IS NULL"),
    };
}

/// Removes a member row (the account's, or with `user` that user's). False when absent.
pub async fn project_member_remove(
    conn: &mut AnyConnection,
    project: ProjectId,
    account: AccountId,
    user: Option<UserId>,
) -> Result<bool> {
    let mut q = Sql::new("DELETE FROM project_members WHERE 1 = 1");
    member_match(&mut q, project, account, user);
    Ok(q.query().execute(conn).await?.rows_affected() > 0)
}

pub async fn project_member_set_role(
    conn: &mut AnyConnection,
    project: ProjectId,
    account: AccountId,
    user: Option<UserId>,
    role: ProjectRole,
) -> Result<()> {
    let mut q = Sql::new("UPDATE project_members SET role = ");
    q.bind(role.as_str());
    q.push(" WHERE 1 = 1");
    member_match(&mut q, project, account, user);
    q.query().execute(conn).await?;
    Ok(())
}

/// What `listProjectAccounts` filters on.
#[derive(Clone, Debug, Default)]
pub struct ProjectMemberFilter {
    pub project: Option<ProjectId>,
    pub account: Option<AccountId>,
    pub user: Option<UserId>,
    pub role: Option<ProjectRole>,
    pub offset: u64,
    pub limit: Option<u64>,
}

fn m_where(q: &mut Sql, f: &ProjectMemberFilter) {
    if let Some(p) = f.project {
        q.and(" AND m.project_id = ", p);
    }
    if let Some(a) = f.account {
        q.and(" AND m.account_id = ", a);
    }
    if let Some(u) = f.user {
        q.and(" AND m.user_id = ", u);
    }
    if let Some(r) = f.role {
        q.and(" AND m.role = ", r.as_str());
    }
}

pub async fn project_member_list(
    conn: &mut AnyConnection,
    f: &ProjectMemberFilter,
) -> Result<Listed<ProjectMemberRow>> {
    let mut c = Sql::new(&format!("SELECT COUNT(*){M_FROM}"));
    m_where(&mut c, f);
    let total = count(conn, &c).await?;
    let mut q = Sql::new(&format!("SELECT {M_COLS}{M_FROM}"));
    m_where(&mut q, f);
    q.push(" ORDER BY m.created, m.id").page(f.offset, f.limit);
    let rows = q.query().fetch_all(conn).await?;
    Ok((rows.iter().map(m_row).collect::<Result<_>>()?, total))
}

/// The projects a user may use: its account's memberships and its own, in live projects.
pub async fn memberships_of(
    conn: &mut AnyConnection,
    account: AccountId,
    user: UserId,
) -> Result<Vec<Membership>> {
    let mut q = Sql::new(
        "SELECT m.project_id AS m_proj, p.account_id AS p_acct, m.role AS m_role, \
         CAST(CASE WHEN m.user_id IS NULL THEN 0 ELSE 1 END AS BIGINT) AS m_userlevel, m.project_role_id AS m_prole \
         FROM project_members m JOIN projects p ON p.id = m.project_id \
         WHERE p.removed IS NULL AND m.account_id = ",
    );
    q.bind(account)
        .and(" AND (m.user_id IS NULL OR m.user_id = ", user)
        .push(")");
    q.all(conn, |r| {
        map_row!(
            r,
            "project_members",
            Membership {
                project_id: "m_proj",
                project_account: "p_acct",
                role: "m_role",
                user_level: "m_userlevel",
                project_role: "m_prole",
            }
        )
    })
    .await
}

// --- invitations -----------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq)]
pub struct InvitationRow {
    pub id: Uuid,
    pub project_id: ProjectId,
    pub project_name: String,
    pub domain_id: DomainId,
    pub domain_name: String,
    pub account_id: Option<AccountId>,
    pub account_name: Option<String>,
    pub user_id: Option<UserId>,
    pub email: Option<String>,
    pub token: Option<String>,
    pub role: ProjectRole,
    pub state: InvitationState,
    pub created: i64,
    pub project_role_id: Option<Uuid>,
}

pub struct NewInvitation<'a> {
    pub project: ProjectId,
    pub account: Option<AccountId>,
    pub user: Option<UserId>,
    pub email: Option<&'a str>,
    pub token: Option<&'a str>,
    pub role: ProjectRole,
    pub project_role: Option<Uuid>,
}

const I_COLS: &str = "i.id AS i_id, i.project_id AS i_proj, p.name AS p_name, p.domain_id AS p_dom, \
     d.name AS d_name, i.account_id AS i_acct, a.name AS a_name, i.user_id AS i_user, \
     i.email AS i_email, i.token AS i_token, i.role AS i_role, i.state AS i_state, i.created AS i_created, \
     i.project_role_id AS i_prole";
const I_FROM: &str = " FROM project_invitations i JOIN projects p ON p.id = i.project_id \
     JOIN domains d ON d.id = p.domain_id LEFT JOIN accounts a ON a.id = i.account_id \
     WHERE p.removed IS NULL";

fn i_row(r: &AnyRow) -> Result<InvitationRow> {
    map_row!(
        r,
        "project_invitations",
        InvitationRow {
            id: "i_id",
            project_id: "i_proj",
            project_name: "p_name",
            domain_id: "p_dom",
            domain_name: "d_name",
            account_id: "i_acct",
            account_name: "a_name",
            user_id: "i_user",
            email: "i_email",
            token: "i_token",
            role: "i_role",
            state: "i_state",
            created: "i_created",
            project_role_id: "i_prole",
        }
    )
}

pub async fn invitation_insert(conn: &mut AnyConnection, i: &NewInvitation<'_>) -> Result<Uuid> {
    let id = Uuid::new_v4();
    let mut q = Sql::new("INSERT INTO project_invitations (id, project_id, account_id, user_id, email, token, role, project_role_id, state, created) VALUES (");
    q.bind(id.to_string())
        .push(", ")
        .bind(i.project)
        .push(", ")
        .bind(i.account)
        .push(", ")
        .bind(i.user)
        .push(", ")
        .bind(i.email)
        .push(", ")
        .bind(i.token)
        .push(", ")
        .bind(i.role.as_str())
        .push(", ")
        .bind(i.project_role.map(|r| r.to_string()))
        .push(", ")
        .bind(InvitationState::Pending.as_str())
        .push(", ")
        .bind(now_ms())
        .push(")");
    q.query().execute(conn).await.map_err(DbError::classify)?;
    Ok(id)
}

/// What `listProjectInvitations` filters on.
#[derive(Clone, Debug, Default)]
pub struct InvitationFilter {
    pub id: Option<Uuid>,
    pub project: Option<ProjectId>,
    /// Invitations of these projects (an admin's reach), when set.
    pub projects: Option<Vec<ProjectId>>,
    /// Invitations addressed to this account (or to one of its users).
    pub account: Option<AccountId>,
    pub user: Option<UserId>,
    pub email: Option<String>,
    pub token: Option<String>,
    pub state: Option<InvitationState>,
    pub offset: u64,
    pub limit: Option<u64>,
}

fn i_where(q: &mut Sql, f: &InvitationFilter) {
    if let Some(id) = f.id {
        q.and(" AND i.id = ", id.to_string());
    }
    if let Some(p) = f.project {
        q.and(" AND i.project_id = ", p);
    }
    if let Some(ps) = &f.projects {
        if ps.is_empty() {
            q.push(" AND 1 = 0");
        } else {
            crate::sql::in_list(q, "i.project_id", ps);
        }
    }
    if let Some(a) = f.account {
        q.and(" AND i.account_id = ", a);
    }
    if let Some(u) = f.user {
        q.and(" AND i.user_id = ", u);
    }
    if let Some(e) = &f.email {
        q.and(" AND i.email = ", e.clone());
    }
    if let Some(t) = &f.token {
        q.and(" AND i.token = ", t.clone());
    }
    if let Some(s) = f.state {
        q.and(" AND i.state = ", s.as_str());
    }
}

pub async fn invitation_list(
    conn: &mut AnyConnection,
    f: &InvitationFilter,
) -> Result<Listed<InvitationRow>> {
    let mut c = Sql::new(&format!("SELECT COUNT(*){I_FROM}"));
    i_where(&mut c, f);
    let total = count(conn, &c).await?;
    let mut q = Sql::new(&format!("SELECT {I_COLS}{I_FROM}"));
    i_where(&mut q, f);
    q.push(" ORDER BY i.created, i.id").page(f.offset, f.limit);
    let rows = q.query().fetch_all(conn).await?;
    Ok((rows.iter().map(i_row).collect::<Result<_>>()?, total))
}

pub async fn invitation_set_state(
    conn: &mut AnyConnection,
    id: Uuid,
    state: InvitationState,
) -> Result<()> {
    let mut q = Sql::new("UPDATE project_invitations SET state = ");
    q.bind(state.as_str()).and(" WHERE id = ", id.to_string());
    q.query().execute(conn).await?;
    Ok(())
}

/// Pending invitations created before `before` (ms) become Expired; returns how many.
pub async fn invitation_expire(conn: &mut AnyConnection, before: i64) -> Result<u64> {
    let mut q = Sql::new("UPDATE project_invitations SET state = ");
    q.bind(InvitationState::Expired.as_str())
        .and(" WHERE state = ", InvitationState::Pending.as_str())
        .and(" AND created < ", before);
    Ok(q.query().execute(conn).await?.rows_affected())
}

pub async fn invitation_delete(conn: &mut AnyConnection, id: Uuid) -> Result<bool> {
    let mut q = Sql::new("DELETE FROM project_invitations WHERE id = ");
    q.bind(id.to_string());
    Ok(q.query().execute(conn).await?.rows_affected() > 0)
}
