//! Numbered migrations, applied in order at start inside one transaction each. A database
//! whose schema is newer than the binary is refused. On PostgreSQL an advisory lock keeps two
//! servers starting together from migrating at once.

use sqlx::{Executor, Row};

use crate::{Backend, DataStore, DbError, Result};

#[path = "migrate_early.rs"]
mod early;
use early::{V1, V10, V11, V12, V13, V2, V3, V4, V5, V6, V7, V8, V9};

/// (version, name, statements separated by `;`). Never edit a released migration: add one.
pub const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "identity, settings, events, jobs", V1),
    (2, "zones, pods, clusters, physical networks", V2),
    (3, "offerings", V3),
    (4, "hosts and join tokens", V4),
    (5, "storage pools and image stores", V5),
    (6, "templates and ISOs", V6),
    (7, "SSH key pairs", V7),
    (8, "resource limits", V8),
    (9, "hypervisor capabilities", V9),
    (10, "resource tags", V10),
    (11, "virtual machines, volumes, sagas", V11),
    (12, "guest networks and NICs", V12),
    (
        13,
        "IP ranges, public IPs, network rules, routers, data-plane generations",
        V13,
    ),
    (14, "VMs by state (counts by state without a scan)", V14),
    (15, "job progress", V15),
    (16, "where a job was when it was last resumed", V16),
    (17, "guest statistics", V17),
    (18, "management servers know each other", V18),
    (19, "job ownership generations", V19),
    (20, "VPC offerings, VPCs, tiers, VPC routers", V20),
    (21, "service tags", V21),
    (22, "service IP pools", V22),
    (23, "VM slots, unreserved VMs, admission policies", V23),
    (24, "affinity groups", V24),
    (25, "dedicated resources", V25),
    (26, "volume snapshots and snapshot policies", V26),
    (27, "VM snapshots", V27),
    (28, "download links of extracted volumes and templates", V28),
    (29, "role permissions", V29),
    (30, "instance groups", V30),
    (31, "resource details", V31),
    (32, "alerts", V32),
    (33, "projects, their members and invitations", V33),
    (34, "the user data registry", V34),
    (35, "regions", V35),
    (36, "guest VNI ranges dedicated to accounts", V36),
    (37, "VM schedules", V37),
    (
        38,
        "site-to-site VPN gateways, customer gateways and connections",
        V38,
    ),
    (
        39,
        "project roles and their rules; members' and invitations' project role",
        V39,
    ),
    (40, "live volumes in list order", V40),
    (41, "events in list order", V41),
];

pub const SCHEMA_VERSION: i64 = 41;

/// listEvents pages newest first among the unarchived: 412 ms a page at 121,000 events
/// without it (every event joined with its owner, then sorted).
const V41: &str = r#"
CREATE INDEX events_live ON events (archived, created, id)
"#;

/// listVolumes pages in (created, id) order: without this index every page sorted every live
/// volume joined with its owner (400 ms at 100,000 volumes).
const V40: &str = r#"
CREATE INDEX volumes_live ON volumes (removed, created, id)
"#;

/// Project roles (CloudStack's `project_role`, `project_role_permissions`): per project, each
/// an ordered list of allow/deny rules; a member's or an invitation's role.
const V39: &str = r#"
CREATE TABLE project_roles (
    id TEXT PRIMARY KEY, project_id TEXT NOT NULL REFERENCES projects(id), name TEXT NOT NULL,
    description TEXT NOT NULL, created BIGINT NOT NULL
);
CREATE UNIQUE INDEX project_roles_name ON project_roles (project_id, name);
CREATE TABLE project_role_permissions (
    id TEXT PRIMARY KEY, project_role_id TEXT NOT NULL REFERENCES project_roles(id),
    project_id TEXT NOT NULL, rule TEXT NOT NULL, permission TEXT NOT NULL,
    description TEXT NOT NULL, sort_order BIGINT NOT NULL
);
CREATE INDEX project_role_permissions_role ON project_role_permissions (project_role_id, sort_order);
ALTER TABLE project_members ADD COLUMN project_role_id TEXT;
ALTER TABLE project_invitations ADD COLUMN project_role_id TEXT
"#;

/// Site-to-site VPN: `net_rules` of kinds `s2sgateway` (one per VPC: its `parent_id`),
/// `s2scustomer` (named uniquely per account) and `s2sconnection` (under its gateway).
const V38: &str = r#"
CREATE UNIQUE INDEX net_rules_s2s_gateway ON net_rules (parent_id) WHERE removed IS NULL AND kind = 's2sgateway';
CREATE UNIQUE INDEX net_rules_s2s_customer ON net_rules (account_id, name) WHERE removed IS NULL AND kind = 's2scustomer'
"#;

/// VM schedules (CloudStack's `vm_schedule`): a cron expression, its time zone, an action,
/// the dates it applies between, and its next run (epoch ms; claimed by the server that runs
/// it with a conditional update).
const V37: &str = r#"
CREATE TABLE vm_schedules (
    id TEXT PRIMARY KEY, vm_id TEXT NOT NULL, description TEXT NOT NULL, schedule TEXT NOT NULL,
    timezone TEXT NOT NULL, action TEXT NOT NULL, enabled BIGINT NOT NULL,
    start_date BIGINT NOT NULL, end_date BIGINT, next_run BIGINT, created BIGINT NOT NULL
);
CREATE INDEX vm_schedules_vm ON vm_schedules (vm_id);
CREATE INDEX vm_schedules_due ON vm_schedules (next_run)
"#;

/// Guest VLAN (VNI) ranges dedicated to an account (CloudStack's `account_vnet_map`, one row
/// per range here): the account's networks take their VNIs from them first, no other account's
/// network takes one.
const V36: &str = r#"
CREATE TABLE guest_vlan_dedications (
    id TEXT PRIMARY KEY, zone_id TEXT NOT NULL, physnet_id TEXT NOT NULL,
    first_vni BIGINT NOT NULL, last_vni BIGINT NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts(id), domain_id TEXT NOT NULL REFERENCES domains(id),
    created BIGINT NOT NULL
);
CREATE INDEX guest_vlan_dedications_zone ON guest_vlan_dedications (zone_id)
"#;

/// Regions (CloudStack's `region`): this cloud is region 1 until an operator says otherwise;
/// other regions are other clouds' API endpoints (listRegions).
const V35: &str = r#"
CREATE TABLE regions (
    id BIGINT PRIMARY KEY, name TEXT NOT NULL, endpoint TEXT NOT NULL
);
CREATE UNIQUE INDEX regions_name ON regions (name);
INSERT INTO regions (id, name, endpoint) VALUES (1, 'Local', 'http://localhost:8080/client/')
"#;

/// Registered user data (CloudStack's `user_data`): an account's named, base64 user data with
/// the names of its parameters; VMs and templates refer to it by id.
const V34: &str = r#"
CREATE TABLE user_data (
    id TEXT PRIMARY KEY, account_id TEXT NOT NULL REFERENCES accounts(id),
    domain_id TEXT NOT NULL REFERENCES domains(id), name TEXT NOT NULL, userdata TEXT NOT NULL,
    params TEXT NOT NULL, created BIGINT NOT NULL, removed BIGINT
);
CREATE UNIQUE INDEX user_data_name_live ON user_data (account_id, name) WHERE removed IS NULL
"#;

/// Projects (CloudStack's `projects`, `project_account`, `project_invitations`): a project's
/// resources are owned by its own account (`accounts.account_type` 5); members are accounts,
/// or single users of an account (`user_id`), each Admin or Regular.
const V33: &str = r#"
CREATE TABLE projects (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, display_text TEXT NOT NULL,
    domain_id TEXT NOT NULL REFERENCES domains(id), account_id TEXT NOT NULL REFERENCES accounts(id),
    state TEXT NOT NULL, created BIGINT NOT NULL, removed BIGINT
);
CREATE UNIQUE INDEX projects_name_live ON projects (domain_id, name) WHERE removed IS NULL;
CREATE INDEX projects_account ON projects (account_id);
CREATE TABLE project_members (
    id TEXT PRIMARY KEY, project_id TEXT NOT NULL REFERENCES projects(id),
    account_id TEXT NOT NULL REFERENCES accounts(id), user_id TEXT, role TEXT NOT NULL,
    created BIGINT NOT NULL
);
CREATE UNIQUE INDEX project_members_one ON project_members (project_id, account_id, COALESCE(user_id, ''));
CREATE INDEX project_members_account ON project_members (account_id);
CREATE TABLE project_invitations (
    id TEXT PRIMARY KEY, project_id TEXT NOT NULL REFERENCES projects(id),
    account_id TEXT, user_id TEXT, email TEXT, token TEXT, role TEXT NOT NULL,
    state TEXT NOT NULL, created BIGINT NOT NULL
);
CREATE INDEX project_invitations_project ON project_invitations (project_id)
"#;

/// Alerts for the administrators (listAlerts), with CloudStack's type ordinals and names.
const V32: &str = r#"
CREATE TABLE alerts (
    id TEXT PRIMARY KEY, alert_type BIGINT NOT NULL, name TEXT NOT NULL, subject TEXT NOT NULL,
    zone_id TEXT, pod_id TEXT, cluster_id TEXT, created BIGINT NOT NULL, archived BIGINT NOT NULL
);
CREATE INDEX alerts_created ON alerts (created)
"#;

/// Resource details (addResourceDetail) of every type but VMs, whose details are their own.
const V31: &str = r#"
CREATE TABLE resource_details (
    resource_type TEXT NOT NULL, resource_id TEXT NOT NULL, name TEXT NOT NULL,
    value TEXT NOT NULL, for_display BIGINT NOT NULL,
    PRIMARY KEY (resource_type, resource_id, name)
)
"#;

/// Instance groups: a name unique per account among live groups; VMs name theirs in
/// `vms.vm_group` (a name set before this version gets its group when the VM is next given
/// a group; until then it has no `groupid`).
const V30: &str = r#"
CREATE TABLE instance_groups (
    id TEXT PRIMARY KEY, account_id TEXT NOT NULL REFERENCES accounts(id),
    domain_id TEXT NOT NULL REFERENCES domains(id), name TEXT NOT NULL,
    created BIGINT NOT NULL, removed BIGINT
);
CREATE UNIQUE INDEX instance_groups_name_live ON instance_groups (account_id, name) WHERE removed IS NULL
"#;

/// Dynamic roles: a role's rules (API name patterns with allow/deny) in `sort_order`; roles
/// gain `is_public` (domain admins see only public roles) and `state` (Enabled/Disabled).
const V29: &str = r#"
ALTER TABLE roles ADD COLUMN is_public BIGINT NOT NULL DEFAULT 1;
ALTER TABLE roles ADD COLUMN state TEXT NOT NULL DEFAULT 'Enabled';
CREATE TABLE role_permissions (
    id TEXT PRIMARY KEY, role_id TEXT NOT NULL REFERENCES roles(id), rule TEXT NOT NULL,
    permission TEXT NOT NULL, description TEXT NOT NULL, sort_order BIGINT NOT NULL
);
CREATE INDEX role_permissions_role ON role_permissions (role_id, sort_order)
"#;

/// extractVolume / extractTemplate: a download link (`id`, random) to a file on the image
/// store (`file`), valid until `expires` (epoch ms); `state` Uploading while a host sends a
/// volume, then Ready.
const V28: &str = r#"
CREATE TABLE extracts (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, object_id TEXT NOT NULL, account_id TEXT NOT NULL,
    zone_id TEXT NOT NULL, file TEXT NOT NULL, url TEXT NOT NULL, state TEXT NOT NULL,
    expires BIGINT NOT NULL, created BIGINT NOT NULL
);
CREATE INDEX extracts_expires ON extracts (expires)
"#;

/// VM snapshots: internal snapshots (`tag`) of every disk of a VM, with its memory when
/// `memory` is 1; `current` marks the one the VM was last taken or reverted at.
const V27: &str = r#"
CREATE TABLE vm_snapshots (
    id TEXT PRIMARY KEY, vm_id TEXT NOT NULL, account_id TEXT NOT NULL REFERENCES accounts(id),
    domain_id TEXT NOT NULL, zone_id TEXT NOT NULL, name TEXT NOT NULL, display_name TEXT NOT NULL,
    description TEXT NOT NULL, memory BIGINT NOT NULL, state TEXT NOT NULL, tag TEXT NOT NULL,
    parent_id TEXT, current BIGINT NOT NULL, created BIGINT NOT NULL, removed BIGINT
);
CREATE INDEX vm_snapshots_vm ON vm_snapshots (vm_id, removed)
"#;

/// Volume snapshots (kept on the zone's image store: `store_id`, `path` relative to it) and
/// the policies that take them on schedule (`next_run`: when one is due next, epoch ms; the
/// server that moves it on by a conditional update takes the snapshot, so with several
/// servers it is taken once).
const V26: &str = r#"
CREATE TABLE snapshots (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, account_id TEXT NOT NULL REFERENCES accounts(id),
    domain_id TEXT NOT NULL, zone_id TEXT NOT NULL, volume_id TEXT NOT NULL, vol_type TEXT NOT NULL,
    interval_type TEXT NOT NULL, policy_id TEXT, state TEXT NOT NULL, size BIGINT NOT NULL,
    physical_size BIGINT NOT NULL, store_id TEXT, path TEXT, attrs TEXT NOT NULL,
    created BIGINT NOT NULL, removed BIGINT
);
CREATE INDEX snapshots_volume ON snapshots (volume_id, removed);
CREATE INDEX snapshots_account ON snapshots (account_id, removed);
CREATE TABLE snapshot_policies (
    id TEXT PRIMARY KEY, volume_id TEXT NOT NULL, account_id TEXT NOT NULL REFERENCES accounts(id),
    domain_id TEXT NOT NULL, interval_type TEXT NOT NULL, schedule TEXT NOT NULL, timezone TEXT NOT NULL,
    max_snaps BIGINT NOT NULL, next_run BIGINT NOT NULL, display BIGINT NOT NULL, created BIGINT NOT NULL,
    UNIQUE (volume_id, interval_type)
);
CREATE INDEX snapshot_policies_due ON snapshot_policies (next_run)
"#;

/// Dedicated resources: a zone, pod, cluster or host kept for a domain or an account (a
/// zone's dedication is also its `domain_id`, which hides it from other domains' users).
const V25: &str = r#"
CREATE TABLE dedications (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, resource_id TEXT NOT NULL UNIQUE,
    domain_id TEXT NOT NULL, account_id TEXT, created BIGINT NOT NULL
)
"#;

/// Affinity groups: an account's named groups (one name per account) and their VMs.
const V24: &str = r#"
CREATE TABLE affinity_groups (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, group_type TEXT NOT NULL, description TEXT NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts(id), domain_id TEXT NOT NULL, created BIGINT NOT NULL,
    UNIQUE (account_id, name)
);
CREATE TABLE vm_affinity (
    vm_id TEXT NOT NULL, group_id TEXT NOT NULL, PRIMARY KEY (vm_id, group_id)
);
CREATE INDEX vm_affinity_group ON vm_affinity (group_id)
"#;

/// VM slots and admission policies (Canopy additions). A host's `vm_slots` overrides its
/// cluster's and the hypervisor's guest limit; a VM admitted with its CPU or memory
/// reservation dropped has `reserve_cpu` / `reserve_memory` 0 (host usage sums skip it, the
/// VM still holds its slot). `admission_policies` keep their rule in `attrs`; one per runtime
/// class.
const V23: &str = r#"
ALTER TABLE hosts ADD COLUMN vm_slots BIGINT;
ALTER TABLE vms ADD COLUMN reserve_cpu BIGINT NOT NULL DEFAULT 1;
ALTER TABLE vms ADD COLUMN reserve_memory BIGINT NOT NULL DEFAULT 1;
CREATE TABLE admission_policies (
    id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, runtime_class TEXT NOT NULL UNIQUE,
    attrs TEXT NOT NULL, created BIGINT NOT NULL
)
"#;

/// Service IP pools (a Canopy addition, after MetalLB's address pools): a public range marked
/// `for_lb` gives its addresses only to load balancer rules created without an address;
/// associateIpAddress and source NAT never take them.
const V22: &str = r#"
ALTER TABLE vlan_ranges ADD COLUMN for_lb BIGINT NOT NULL DEFAULT 0
"#;

/// Service tags (a Canopy addition): named address groups, `net_rules` of kind `servicetag`,
/// global and unique by name.
const V21: &str = r#"
CREATE UNIQUE INDEX net_rules_tag_name ON net_rules (kind, name) WHERE removed IS NULL AND kind = 'servicetag'
"#;

/// VPCs. `vpc_offerings` use the inventory layout (services in `attrs`); a VPC's tiers are
/// networks with its `vpc_id`, guarded by the network ACL list `acl_id`; its router is a `routers` row with the VPC's id in both
/// `network_id` (one live router per VPC, by the same unique index) and `vpc_id`. Network
/// ACL lists and their items are `net_rules` (kinds `acllist`, `aclitem`).
const V20: &str = r#"
CREATE TABLE vpc_offerings (
    id TEXT PRIMARY KEY, zone_id TEXT NOT NULL, parent_id TEXT, name TEXT NOT NULL, kind TEXT NOT NULL,
    state TEXT NOT NULL, domain_id TEXT, attrs TEXT NOT NULL, created BIGINT NOT NULL, removed BIGINT
);
CREATE TABLE vpcs (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, display_text TEXT NOT NULL, zone_id TEXT NOT NULL,
    account_id TEXT, domain_id TEXT, vpc_offering_id TEXT NOT NULL, cidr TEXT NOT NULL,
    network_domain TEXT, state TEXT NOT NULL, attrs TEXT NOT NULL, created BIGINT NOT NULL, removed BIGINT
);
CREATE INDEX vpcs_account ON vpcs (account_id, zone_id);
CREATE UNIQUE INDEX vpcs_name_live ON vpcs (zone_id, account_id, name) WHERE removed IS NULL;
ALTER TABLE networks ADD COLUMN vpc_id TEXT;
ALTER TABLE networks ADD COLUMN acl_id TEXT;
CREATE INDEX networks_vpc ON networks (vpc_id);
CREATE INDEX networks_acl ON networks (acl_id);
ALTER TABLE routers ADD COLUMN vpc_id TEXT
"#;

/// Several management servers: each registers its name (its agent endpoint, unique per
/// server), version and the endpoint agents dial; `state` is Up, PreparingForMaintenance,
/// Maintenance or Down (a graceful stop, or a peer judged it dead); `stopped` when it stopped;
/// `metrics` what it last measured of itself (`listManagementServersMetrics`).
/// `cluster_secrets` holds what every server must share — the agent endpoint's TLS identity,
/// so an agent that pinned one server's certificate trusts all of them.
/// Every take-over of a job starts a new generation; a job body (and its saga) writes only
/// while the job is still at the generation it started with (see `job_hold`).
const V19: &str = r#"
ALTER TABLE jobs ADD COLUMN generation BIGINT NOT NULL DEFAULT 1
"#;

const V18: &str = r#"
ALTER TABLE servers ADD COLUMN name TEXT NOT NULL DEFAULT '';
ALTER TABLE servers ADD COLUMN agent_endpoint TEXT NOT NULL DEFAULT '';
ALTER TABLE servers ADD COLUMN version TEXT NOT NULL DEFAULT '';
ALTER TABLE servers ADD COLUMN state TEXT NOT NULL DEFAULT 'Up';
ALTER TABLE servers ADD COLUMN stopped BIGINT;
ALTER TABLE servers ADD COLUMN metrics TEXT NOT NULL DEFAULT '{}';
CREATE TABLE cluster_secrets (
    name TEXT PRIMARY KEY, value TEXT NOT NULL, created BIGINT NOT NULL
)
"#;

/// Each VM's latest guest statistics, as its host reported them (replaced at each report).
const V17: &str = r#"
CREATE TABLE vm_stats (
    vm_id TEXT PRIMARY KEY, host_id TEXT NOT NULL, collected BIGINT NOT NULL, stats TEXT NOT NULL
)
"#;

/// How far a running job is, 0–100 (`jobprocstatus`): a saga's steps done, or a host
/// maintenance's VMs moved.
/// A resumed job's restart counter counts restarts without progress: the mark is where its
/// saga (and progress) stood when it was last taken over.
const V16: &str = r#"
ALTER TABLE jobs ADD COLUMN resume_mark TEXT
"#;

const V15: &str = r#"
ALTER TABLE jobs ADD COLUMN progress BIGINT NOT NULL DEFAULT 0
"#;

/// `listVirtualMachines state=X` (the web console's dashboard asks one count per state) read
/// every live VM without it: 50 ms per state at 100,000 VMs.
const V14: &str = r#"
CREATE INDEX vms_state ON vms (removed, state)
"#;

const LOCK_KEY: i64 = 0x63616e6f7079; // "canopy"

pub(crate) async fn run(store: &DataStore) -> Result<()> {
    let mut conn = store.write.acquire().await?;
    if store.backend == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(LOCK_KEY)
            .execute(&mut *conn)
            .await?;
    }
    let out = apply(&mut conn).await;
    if store.backend == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(LOCK_KEY)
            .execute(&mut *conn)
            .await?;
    }
    out
}

async fn apply(conn: &mut sqlx::AnyConnection) -> Result<()> {
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied BIGINT NOT NULL)",
    )
    .await?;
    let row = sqlx::query("SELECT COALESCE(MAX(version), 0) AS v FROM schema_version")
        .fetch_one(&mut *conn)
        .await?;
    let current: i64 = row.try_get("v")?;
    if current > SCHEMA_VERSION {
        return Err(DbError::SchemaTooNew {
            found: current,
            supported: SCHEMA_VERSION,
        });
    }
    for (version, name, sql) in MIGRATIONS {
        if *version <= current {
            continue;
        }
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        for stmt in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            tx.execute(stmt).await?;
        }
        sqlx::query("INSERT INTO schema_version (version, name, applied) VALUES ($1, $2, $3)")
            .bind(*version)
            .bind(name.to_string())
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        tracing::info!(version, name, "applied migration");
    }
    Ok(())
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
