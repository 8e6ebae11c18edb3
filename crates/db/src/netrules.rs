//! Rule-like objects of the networking model (`net_rules`: security groups and their rules,
//! firewall, egress, port/IP forwarding, load balancers and their policies, static routes,
//! VPNs and VPN users) and their members (`rule_members`).

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use uuid::Uuid;

use model::ids::{AccountId, DomainId, NetworkId, VmId};

use crate::identity::{count, Listed};
use crate::mapper::{map_row, parsed};
use crate::migrate::now_ms;
use crate::rulespec::RuleSpec;
use crate::sql::{in_list, OwnerScope, Sql};
use crate::{DbError, Result};

// ---------------------------------------------------------------------------------------
// Rules

/// A rule-like object. `kind` is one of `securitygroup`, `ingress`, `egress` (security group
/// rules, parent = the group), `firewall` (ip), `egressfw` (network), `portforward` (ip),
/// `ipforward` (ip), `lb` (ip), `stickiness` / `healthcheck` (parent = the lb), `route`
/// (network), `vpn` (ip), `vpnuser` (account).
#[derive(Clone, Debug, PartialEq)]
pub struct RuleRow {
    pub id: Uuid,
    pub name: Option<String>,
    pub state: model::RuleState,
    pub account_id: Option<AccountId>,
    pub account_name: Option<String>,
    pub domain_id: Option<DomainId>,
    pub domain_name: Option<String>,
    pub domain_path: Option<String>,
    pub network_id: Option<NetworkId>,
    pub ip_id: Option<Uuid>,
    pub parent_id: Option<Uuid>,
    /// What the rule says, decoded by its kind.
    pub spec: RuleSpec,
    pub created: i64,
}

impl RuleRow {
    /// The stored kind (`net_rules.kind`), which is the spec's.
    pub fn kind(&self) -> &'static str {
        self.spec.kind()
    }
}

#[derive(Clone, Debug, Default)]
pub struct RuleFilter {
    pub kinds: Vec<&'static str>,
    pub scope: Option<OwnerScope>,
    pub ids: Vec<Uuid>,
    pub name: Option<String>,
    pub network_ids: Vec<NetworkId>,
    pub ip_ids: Vec<Uuid>,
    pub parent_ids: Vec<Uuid>,
    pub offset: u64,
    pub limit: Option<u64>,
}

impl RuleFilter {
    pub fn kind(kind: &'static str) -> Self {
        RuleFilter {
            kinds: vec![kind],
            ..Default::default()
        }
    }
}

const RULE_COLS: &str = "x.id AS x_id, x.kind AS x_kind, x.name AS x_name, x.state AS x_state, \
    x.account_id AS x_acct, a.name AS a_name, x.domain_id AS x_dom, d.name AS d_name, \
    d.path AS d_path, x.network_id AS x_net, x.ip_id AS x_ip, x.parent_id AS x_parent, \
    x.spec AS x_spec, x.created AS x_created";
const RULE_FROM: &str = " FROM net_rules x LEFT JOIN accounts a ON a.id = x.account_id \
    LEFT JOIN domains d ON d.id = x.domain_id WHERE x.removed IS NULL";

fn rule_row(r: &AnyRow) -> Result<RuleRow> {
    const T: &str = "net_rules";
    let spec: String = r.try_get("x_spec")?;
    let kind: String = r.try_get("x_kind")?;
    let id = parsed(r, T, "x_id")?;
    map_row!(
        r,
        T,
        RuleRow {
            id: { id },
            name: "x_name",
            state: "x_state",
            account_id: "x_acct",
            account_name: "a_name",
            domain_id: "x_dom",
            domain_name: "d_name",
            domain_path: "d_path",
            network_id: "x_net",
            ip_id: "x_ip",
            parent_id: "x_parent",
            spec: { RuleSpec::decode(&kind, &spec, id)? },
            created: "x_created",
        }
    )
}

#[derive(Clone, Debug)]
pub struct NewRule {
    pub id: Uuid,
    pub name: Option<String>,
    pub state: model::RuleState,
    pub account_id: Option<AccountId>,
    pub domain_id: Option<DomainId>,
    pub network_id: Option<NetworkId>,
    pub ip_id: Option<Uuid>,
    pub parent_id: Option<Uuid>,
    /// Its kind is the rule's kind.
    pub spec: RuleSpec,
}

/// Adds a rule; a security group or VPN user whose name the account already uses is a
/// [`DbError::Conflict`].
pub async fn rule_insert(conn: &mut AnyConnection, n: &NewRule) -> Result<()> {
    let mut q = Sql::new(
        "INSERT INTO net_rules (id, kind, name, state, account_id, domain_id, network_id, ip_id, \
         parent_id, spec, created) VALUES (",
    );
    q.bind(n.id)
        .push(", ")
        .bind(n.spec.kind())
        .push(", ")
        .bind(n.name.clone())
        .push(", ")
        .bind(n.state)
        .push(", ")
        .bind(n.account_id)
        .push(", ")
        .bind(n.domain_id)
        .push(", ")
        .bind(n.network_id)
        .push(", ")
        .bind(n.ip_id)
        .push(", ")
        .bind(n.parent_id)
        .push(", ")
        .bind(n.spec.to_json())
        .push(", ")
        .bind(now_ms())
        .push(")");
    q.query()
        .execute(&mut *conn)
        .await
        .map_err(DbError::classify)?;
    Ok(())
}

pub async fn rule_get(conn: &mut AnyConnection, id: Uuid) -> Result<Option<RuleRow>> {
    let mut q = Sql::new(&format!("SELECT {RULE_COLS}{RULE_FROM}"));
    q.and(" AND x.id = ", id);
    q.one(conn, rule_row).await
}

fn rule_where(q: &mut Sql, f: &RuleFilter) {
    if !f.kinds.is_empty() {
        q.push(" AND x.kind IN (");
        for (i, k) in f.kinds.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.bind(*k);
        }
        q.push(")");
    }
    if let Some(s) = &f.scope {
        s.push(q, "x.account_id", "d");
    }
    if !f.ids.is_empty() {
        in_list(q, "x.id", &f.ids);
    }
    if let Some(n) = &f.name {
        q.and(" AND lower(x.name) = ", n.to_lowercase());
    }
    if !f.network_ids.is_empty() {
        in_list(q, "x.network_id", &f.network_ids);
    }
    if !f.ip_ids.is_empty() {
        in_list(q, "x.ip_id", &f.ip_ids);
    }
    if !f.parent_ids.is_empty() {
        in_list(q, "x.parent_id", &f.parent_ids);
    }
}

pub async fn rule_list(conn: &mut AnyConnection, f: &RuleFilter) -> Result<Listed<RuleRow>> {
    let mut c = Sql::new(&format!("SELECT COUNT(*){RULE_FROM}"));
    rule_where(&mut c, f);
    let total = count(conn, &c).await?;
    let mut q = Sql::new(&format!("SELECT {RULE_COLS}{RULE_FROM}"));
    rule_where(&mut q, f);
    q.push(" ORDER BY x.created, x.id").page(f.offset, f.limit);
    Ok((q.all(conn, rule_row).await?, total))
}

/// Replaces a rule's state, name and spec (a spec of another kind changes nothing).
pub async fn rule_update(
    conn: &mut AnyConnection,
    id: Uuid,
    state: model::RuleState,
    name: Option<&str>,
    spec: &RuleSpec,
) -> Result<u64> {
    let mut q = Sql::new("UPDATE net_rules SET state = ");
    q.bind(state)
        .push(", name = ")
        .bind(name)
        .push(", spec = ")
        .bind(spec.to_json())
        .and(" WHERE removed IS NULL AND kind = ", spec.kind())
        .and(" AND id = ", id);
    Ok(q.query()
        .execute(&mut *conn)
        .await
        .map_err(DbError::classify)?
        .rows_affected())
}

/// Removes rules: by id, or every rule under a parent / on an IP / of a network (and their
/// members).
pub async fn rule_remove(conn: &mut AnyConnection, col: RuleOwner, id: Uuid) -> Result<u64> {
    let c = match col {
        RuleOwner::Id => "id",
        RuleOwner::Parent => "parent_id",
        RuleOwner::Ip => "ip_id",
        RuleOwner::Network => "network_id",
    };
    let mut m = Sql::new(&format!(
        "DELETE FROM rule_members WHERE owner_id IN (SELECT id FROM net_rules WHERE {c} = "
    ));
    m.bind(id).push(")");
    m.query().execute(&mut *conn).await?;
    let mut q = Sql::new("UPDATE net_rules SET removed = ");
    q.bind(now_ms())
        .and(&format!(" WHERE removed IS NULL AND {c} = "), id);
    Ok(q.query().execute(&mut *conn).await?.rows_affected())
}

/// Removes a rule's children of one kind (a load balancer's certificate assignment).
pub async fn rule_remove_children(
    conn: &mut AnyConnection,
    parent: Uuid,
    kind: &str,
) -> Result<u64> {
    let mut q = Sql::new("UPDATE net_rules SET removed = ");
    q.bind(now_ms())
        .and(" WHERE removed IS NULL AND parent_id = ", parent)
        .and(" AND kind = ", kind);
    Ok(q.query().execute(conn).await?.rows_affected())
}

#[derive(Clone, Copy, Debug)]
pub enum RuleOwner {
    Id,
    Parent,
    Ip,
    Network,
}

/// A VM in a security group or behind a load balancer.
#[derive(Clone, Debug, PartialEq)]
pub struct MemberRow {
    pub owner_id: Uuid,
    /// Members are VMs.
    pub member_id: VmId,
    pub ip: Option<String>,
}

fn member_row(r: &AnyRow) -> Result<MemberRow> {
    const T: &str = "rule_members";
    map_row!(
        r,
        T,
        MemberRow {
            owner_id: "owner_id",
            member_id: "member_id",
            ip: "ip",
        }
    )
}

/// Adds a member (idempotent: an existing pair is kept).
pub async fn member_add(conn: &mut AnyConnection, m: &MemberRow) -> Result<()> {
    let mut q = Sql::new("INSERT INTO rule_members (owner_id, member_id, ip, created) VALUES (");
    q.bind(m.owner_id)
        .push(", ")
        .bind(m.member_id)
        .push(", ")
        .bind(m.ip.clone())
        .push(", ")
        .bind(now_ms())
        .push(") ON CONFLICT (owner_id, member_id) DO NOTHING");
    q.query().execute(&mut *conn).await?;
    Ok(())
}

pub async fn member_remove(conn: &mut AnyConnection, owner: Uuid, member: VmId) -> Result<u64> {
    let mut q = Sql::new("DELETE FROM rule_members WHERE owner_id = ");
    q.bind(owner).and(" AND member_id = ", member);
    Ok(q.query().execute(&mut *conn).await?.rows_affected())
}

/// Removes a VM from every group and load balancer (it is expunged).
pub async fn member_remove_everywhere(conn: &mut AnyConnection, member: VmId) -> Result<u64> {
    let mut q = Sql::new("DELETE FROM rule_members WHERE member_id = ");
    q.bind(member);
    Ok(q.query().execute(&mut *conn).await?.rows_affected())
}

/// The members of these owners.
pub async fn members_of(conn: &mut AnyConnection, owners: &[Uuid]) -> Result<Vec<MemberRow>> {
    if owners.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for chunk in owners.chunks(500) {
        let mut q = Sql::new("SELECT owner_id, member_id, ip FROM rule_members WHERE 1 = 1");
        in_list(&mut q, "owner_id", chunk);
        q.push(" ORDER BY owner_id, created, member_id");
        out.extend(q.all(conn, member_row).await?);
    }
    Ok(out)
}

/// What these members belong to.
pub async fn memberships(conn: &mut AnyConnection, members: &[VmId]) -> Result<Vec<MemberRow>> {
    if members.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for chunk in members.chunks(500) {
        let mut q = Sql::new("SELECT owner_id, member_id, ip FROM rule_members WHERE 1 = 1");
        in_list(&mut q, "member_id", chunk);
        q.push(" ORDER BY member_id, created, owner_id");
        out.extend(q.all(conn, member_row).await?);
    }
    Ok(out)
}
