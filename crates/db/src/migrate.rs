//! Numbered migrations, applied in order at start inside one transaction each. A database
//! whose schema is newer than the binary is refused. On PostgreSQL an advisory lock keeps two
//! servers starting together from migrating at once.

use sqlx::{Executor, Row};

use crate::{Backend, DataStore, DbError, Result};

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
];

pub const SCHEMA_VERSION: i64 = 39;

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

const V1: &str = r#"
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE domains (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    path TEXT NOT NULL,
    parent_id TEXT REFERENCES domains(id),
    level BIGINT NOT NULL,
    network_domain TEXT,
    state TEXT NOT NULL,
    created BIGINT NOT NULL,
    removed BIGINT
);
CREATE UNIQUE INDEX domains_path_live ON domains(path) WHERE removed IS NULL;
CREATE INDEX domains_parent ON domains(parent_id);
CREATE TABLE roles (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    role_type TEXT NOT NULL,
    description TEXT NOT NULL,
    is_default BIGINT NOT NULL,
    read_only BIGINT NOT NULL,
    created BIGINT NOT NULL
);
CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    account_type BIGINT NOT NULL,
    role_id TEXT NOT NULL REFERENCES roles(id),
    domain_id TEXT NOT NULL REFERENCES domains(id),
    state TEXT NOT NULL,
    network_domain TEXT,
    is_default BIGINT NOT NULL,
    created BIGINT NOT NULL,
    removed BIGINT
);
CREATE UNIQUE INDEX accounts_name_live ON accounts(domain_id, name) WHERE removed IS NULL;
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    domain_id TEXT NOT NULL REFERENCES domains(id),
    username TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    email TEXT,
    firstname TEXT,
    lastname TEXT,
    state TEXT NOT NULL,
    api_key TEXT,
    secret_enc TEXT,
    timezone TEXT,
    is_default BIGINT NOT NULL,
    source TEXT NOT NULL,
    created BIGINT NOT NULL,
    removed BIGINT
);
CREATE UNIQUE INDEX users_name_live ON users(domain_id, username) WHERE removed IS NULL;
CREATE UNIQUE INDEX users_api_key ON users(api_key);
CREATE INDEX users_account ON users(account_id);
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    session_key TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id),
    created BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    timeout_s BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);
CREATE TABLE settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated BIGINT NOT NULL
);
CREATE TABLE events (
    id TEXT PRIMARY KEY,
    event_type TEXT NOT NULL,
    level TEXT NOT NULL,
    description TEXT NOT NULL,
    state TEXT NOT NULL,
    account_id TEXT NOT NULL,
    domain_id TEXT NOT NULL,
    user_id TEXT,
    resource_id TEXT,
    resource_type TEXT,
    resource_name TEXT,
    parent_id TEXT,
    created BIGINT NOT NULL,
    archived BIGINT NOT NULL
);
CREATE INDEX events_created ON events(created);
CREATE INDEX events_account ON events(account_id);
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    command TEXT NOT NULL,
    params TEXT NOT NULL,
    user_id TEXT NOT NULL,
    account_id TEXT NOT NULL,
    domain_id TEXT NOT NULL,
    status BIGINT NOT NULL,
    result_code BIGINT NOT NULL,
    result TEXT,
    instance_type TEXT,
    instance_id TEXT,
    created BIGINT NOT NULL,
    completed BIGINT,
    owner TEXT,
    lease_until BIGINT,
    attempts BIGINT NOT NULL,
    event_id TEXT
);
CREATE INDEX jobs_status ON jobs(status, lease_until);
CREATE INDEX jobs_account ON jobs(account_id);
CREATE TABLE servers (
    id TEXT PRIMARY KEY,
    address TEXT NOT NULL,
    started BIGINT NOT NULL,
    heartbeat BIGINT NOT NULL
)
"#;

/// Inventory configuration objects share one layout: typed columns for what lists filter on,
/// the rest in `attrs` (JSON). `zone_id` is the zone (zones: their own id), `parent_id` the
/// object they belong to (pods, physical networks: the zone; clusters: the pod; traffic types
/// and providers: the physical network).
const V2: &str = r#"
CREATE TABLE zones (
    id TEXT PRIMARY KEY, zone_id TEXT NOT NULL, parent_id TEXT, name TEXT NOT NULL, kind TEXT NOT NULL,
    state TEXT NOT NULL, domain_id TEXT REFERENCES domains(id), attrs TEXT NOT NULL, created BIGINT NOT NULL, removed BIGINT
);
CREATE UNIQUE INDEX zones_name_live ON zones(name) WHERE removed IS NULL;
CREATE TABLE pods (
    id TEXT PRIMARY KEY, zone_id TEXT NOT NULL REFERENCES zones(id), parent_id TEXT REFERENCES zones(id), name TEXT NOT NULL,
    kind TEXT NOT NULL, state TEXT NOT NULL, domain_id TEXT, attrs TEXT NOT NULL, created BIGINT NOT NULL, removed BIGINT
);
CREATE UNIQUE INDEX pods_name_live ON pods(parent_id, name) WHERE removed IS NULL;
CREATE TABLE clusters (
    id TEXT PRIMARY KEY, zone_id TEXT NOT NULL REFERENCES zones(id), parent_id TEXT REFERENCES pods(id), name TEXT NOT NULL,
    kind TEXT NOT NULL, state TEXT NOT NULL, domain_id TEXT, attrs TEXT NOT NULL, created BIGINT NOT NULL, removed BIGINT
);
CREATE UNIQUE INDEX clusters_name_live ON clusters(zone_id, name) WHERE removed IS NULL;
CREATE TABLE physical_networks (
    id TEXT PRIMARY KEY, zone_id TEXT NOT NULL REFERENCES zones(id), parent_id TEXT REFERENCES zones(id), name TEXT NOT NULL,
    kind TEXT NOT NULL, state TEXT NOT NULL, domain_id TEXT, attrs TEXT NOT NULL, created BIGINT NOT NULL, removed BIGINT
);
CREATE UNIQUE INDEX physical_networks_name_live ON physical_networks(zone_id, name) WHERE removed IS NULL;
CREATE TABLE traffic_types (
    id TEXT PRIMARY KEY, zone_id TEXT NOT NULL REFERENCES zones(id), parent_id TEXT REFERENCES physical_networks(id), name TEXT NOT NULL,
    kind TEXT NOT NULL, state TEXT NOT NULL, domain_id TEXT, attrs TEXT NOT NULL, created BIGINT NOT NULL, removed BIGINT
);
CREATE UNIQUE INDEX traffic_types_live ON traffic_types(parent_id, name) WHERE removed IS NULL;
CREATE TABLE network_providers (
    id TEXT PRIMARY KEY, zone_id TEXT NOT NULL REFERENCES zones(id), parent_id TEXT REFERENCES physical_networks(id), name TEXT NOT NULL,
    kind TEXT NOT NULL, state TEXT NOT NULL, domain_id TEXT, attrs TEXT NOT NULL, created BIGINT NOT NULL, removed BIGINT
);
CREATE UNIQUE INDEX network_providers_live ON network_providers(parent_id, name) WHERE removed IS NULL
"#;

/// Offerings use the inventory layout; `zone_id` is the nil UUID (zone and domain scoping
/// lists live in `attrs`), `kind` is the offering's type, `state` Active/Inactive (network
/// offerings: Enabled/Disabled). Names are not unique, as in CloudStack.
const V3: &str = r#"
CREATE TABLE service_offerings (
    id TEXT PRIMARY KEY, zone_id TEXT NOT NULL, parent_id TEXT, name TEXT NOT NULL, kind TEXT NOT NULL,
    state TEXT NOT NULL, domain_id TEXT, attrs TEXT NOT NULL, created BIGINT NOT NULL, removed BIGINT
);
CREATE TABLE disk_offerings (
    id TEXT PRIMARY KEY, zone_id TEXT NOT NULL, parent_id TEXT, name TEXT NOT NULL, kind TEXT NOT NULL,
    state TEXT NOT NULL, domain_id TEXT, attrs TEXT NOT NULL, created BIGINT NOT NULL, removed BIGINT
);
CREATE TABLE network_offerings (
    id TEXT PRIMARY KEY, zone_id TEXT NOT NULL, parent_id TEXT, name TEXT NOT NULL, kind TEXT NOT NULL,
    state TEXT NOT NULL, domain_id TEXT, attrs TEXT NOT NULL, created BIGINT NOT NULL, removed BIGINT
)
"#;

const V4: &str = r#"
CREATE TABLE hosts (
    id TEXT PRIMARY KEY,
    zone_id TEXT NOT NULL REFERENCES zones(id),
    pod_id TEXT NOT NULL REFERENCES pods(id),
    cluster_id TEXT NOT NULL REFERENCES clusters(id),
    name TEXT NOT NULL,
    address TEXT NOT NULL,
    hypervisor TEXT NOT NULL,
    status TEXT NOT NULL,
    resource_state TEXT NOT NULL,
    host_tags TEXT NOT NULL,
    inventory TEXT NOT NULL,
    secret_hash TEXT,
    server_id TEXT,
    last_pinged BIGINT,
    disconnected BIGINT,
    simulated BIGINT NOT NULL,
    created BIGINT NOT NULL,
    removed BIGINT
);
CREATE UNIQUE INDEX hosts_address_live ON hosts(address) WHERE removed IS NULL;
CREATE INDEX hosts_cluster ON hosts(cluster_id);
CREATE INDEX hosts_zone ON hosts(zone_id);
CREATE TABLE join_tokens (
    id TEXT PRIMARY KEY,
    secret_hash TEXT NOT NULL UNIQUE,
    cluster_id TEXT NOT NULL REFERENCES clusters(id),
    address TEXT,
    uses_left BIGINT NOT NULL,
    expires BIGINT NOT NULL,
    created BIGINT NOT NULL
)
"#;

/// Storage pools and image stores use the inventory layout (`kind`: scope or protocol,
/// `state`: pool status, `parent_id`: the cluster of a cluster-scoped pool, else the zone).
const V5: &str = r#"
CREATE TABLE storage_pools (
    id TEXT PRIMARY KEY, zone_id TEXT NOT NULL REFERENCES zones(id), parent_id TEXT, name TEXT NOT NULL, kind TEXT NOT NULL,
    state TEXT NOT NULL, domain_id TEXT, attrs TEXT NOT NULL, created BIGINT NOT NULL, removed BIGINT
);
CREATE TABLE image_stores (
    id TEXT PRIMARY KEY, zone_id TEXT NOT NULL REFERENCES zones(id), parent_id TEXT, name TEXT NOT NULL, kind TEXT NOT NULL,
    state TEXT NOT NULL, domain_id TEXT, attrs TEXT NOT NULL, created BIGINT NOT NULL, removed BIGINT
)
"#;

/// Templates and ISOs (`kind` TEMPLATE or ISO; `zone_id` nil for cross-zone; `domain_id` the
/// owner's domain, the owning account in `attrs`).
const V6: &str = r#"
CREATE TABLE templates (
    id TEXT PRIMARY KEY, zone_id TEXT NOT NULL, parent_id TEXT, name TEXT NOT NULL, kind TEXT NOT NULL,
    state TEXT NOT NULL, domain_id TEXT, attrs TEXT NOT NULL, created BIGINT NOT NULL, removed BIGINT
)
"#;

/// SSH key pairs: a name is unique within its account; only the public key is kept.
const V7: &str = r#"
CREATE TABLE ssh_keypairs (
    id TEXT PRIMARY KEY, account_id TEXT NOT NULL REFERENCES accounts(id), domain_id TEXT NOT NULL,
    name TEXT NOT NULL, fingerprint TEXT NOT NULL, public_key TEXT NOT NULL, created BIGINT NOT NULL,
    UNIQUE (account_id, name)
)
"#;

/// Resource limits set for an account or a domain (`owner_kind` account or domain); types
/// without a row use the `max.account.*` / `max.domain.*` defaults.
const V8: &str = r#"
CREATE TABLE resource_limits (
    owner_kind TEXT NOT NULL, owner_id TEXT NOT NULL, resource_type BIGINT NOT NULL, max BIGINT NOT NULL,
    PRIMARY KEY (owner_kind, owner_id, resource_type)
)
"#;

/// Hypervisor capabilities per (hypervisor, version); `default` is the fallback version. The
/// rows are seeded here with fixed ids, like CloudStack's schema scripts.
const V9: &str = r#"
CREATE TABLE hypervisor_capabilities (
    id TEXT PRIMARY KEY, hypervisor TEXT NOT NULL, version TEXT NOT NULL, max_guests BIGINT NOT NULL,
    max_data_volumes BIGINT NOT NULL, max_hosts_per_cluster BIGINT, security_group_enabled BIGINT NOT NULL,
    storage_motion_enabled BIGINT NOT NULL, vm_snapshot_enabled BIGINT NOT NULL,
    UNIQUE (hypervisor, version)
);
INSERT INTO hypervisor_capabilities VALUES
    ('6e2b0c1d-4a1f-4a53-9a0e-0c0a4b564d01', 'KVM', 'default', 50, 24, NULL, 1, 1, 1),
    ('6e2b0c1d-4a1f-4a53-9a0e-0c0a4b564d02', 'Simulator', 'default', 50, 6, NULL, 1, 1, 1)
"#;

/// Resource tags (createTags): one key per resource; owner = the tagged resource's owner.
const V10: &str = r#"
CREATE TABLE resource_tags (
    id TEXT PRIMARY KEY, resource_type TEXT NOT NULL, resource_id TEXT NOT NULL, tag_key TEXT NOT NULL,
    tag_value TEXT NOT NULL, account_id TEXT NOT NULL, domain_id TEXT NOT NULL, customer TEXT,
    created BIGINT NOT NULL, UNIQUE (resource_type, resource_id, tag_key)
);
CREATE INDEX resource_tags_resource ON resource_tags (resource_id)
"#;

/// Virtual machines, volumes and saga progress. `counters` hands out the numbers in instance
/// names (`i-<account number>-<vm number>-VM`); `account_numbers` gives each account its number
/// the first time it deploys. Capacity is not stored: it is the sum over active VMs and live
/// volumes, so it cannot drift.
const V11: &str = r#"
CREATE TABLE counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL);
INSERT INTO counters VALUES ('account', 1), ('vm', 0);
CREATE TABLE account_numbers (account_id TEXT PRIMARY KEY, num BIGINT NOT NULL UNIQUE);
CREATE TABLE vms (
    id TEXT PRIMARY KEY, seq BIGINT NOT NULL UNIQUE, instance_name TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL, display_name TEXT NOT NULL, state TEXT NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts(id), domain_id TEXT NOT NULL, user_id TEXT NOT NULL,
    zone_id TEXT NOT NULL, pod_id TEXT, cluster_id TEXT, host_id TEXT, last_host_id TEXT, dest_host_id TEXT,
    template_id TEXT, iso_id TEXT, service_offering_id TEXT NOT NULL,
    cpus BIGINT NOT NULL, cpu_mhz BIGINT NOT NULL, memory_mib BIGINT NOT NULL,
    ha_enable BIGINT NOT NULL, vm_group TEXT, userdata TEXT, keypairs TEXT NOT NULL,
    attrs TEXT NOT NULL, created BIGINT NOT NULL, updated BIGINT NOT NULL, removed BIGINT
);
CREATE INDEX vms_live ON vms (removed, seq, id);
CREATE INDEX vms_host ON vms (host_id, state);
CREATE INDEX vms_dest ON vms (dest_host_id);
CREATE INDEX vms_account ON vms (account_id, removed);
CREATE INDEX vms_zone ON vms (zone_id, removed);
CREATE TABLE volumes (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, vol_type TEXT NOT NULL, state TEXT NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts(id), domain_id TEXT NOT NULL, zone_id TEXT NOT NULL,
    vm_id TEXT, device_id BIGINT, size BIGINT NOT NULL, pool_id TEXT, path TEXT, host_id TEXT,
    disk_offering_id TEXT, template_id TEXT, attrs TEXT NOT NULL,
    created BIGINT NOT NULL, attached BIGINT, removed BIGINT
);
CREATE INDEX volumes_vm ON volumes (vm_id);
CREATE INDEX volumes_pool ON volumes (pool_id, removed);
CREATE INDEX volumes_account ON volumes (account_id, removed);
CREATE TABLE fences (
    host_id TEXT NOT NULL, vm_name TEXT NOT NULL, created BIGINT NOT NULL, PRIMARY KEY (host_id, vm_name)
);
CREATE TABLE sagas (
    job_id TEXT PRIMARY KEY, kind TEXT NOT NULL, resource_id TEXT, step BIGINT NOT NULL,
    phase TEXT NOT NULL, data TEXT NOT NULL, updated BIGINT NOT NULL
)
"#;

/// Guest networks and the NICs of VMs on them (the IP address management the networking
/// release builds on). An IP or a MAC is unique among live NICs, so two deploys racing for
/// the same address cannot both get it.
const V12: &str = r#"
CREATE TABLE networks (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, display_text TEXT NOT NULL, zone_id TEXT NOT NULL,
    account_id TEXT, domain_id TEXT, guest_type TEXT NOT NULL, traffic_type TEXT NOT NULL,
    state TEXT NOT NULL, cidr TEXT, gateway TEXT, netmask TEXT, network_domain TEXT, vni BIGINT,
    network_offering_id TEXT, attrs TEXT NOT NULL, created BIGINT NOT NULL, removed BIGINT
);
CREATE INDEX networks_account ON networks (account_id, zone_id);
CREATE UNIQUE INDEX networks_name_live ON networks (zone_id, account_id, name) WHERE removed IS NULL;
CREATE TABLE nics (
    id TEXT PRIMARY KEY, vm_id TEXT NOT NULL, network_id TEXT NOT NULL, ip4 TEXT, mac TEXT NOT NULL,
    device_id BIGINT NOT NULL, is_default BIGINT NOT NULL, created BIGINT NOT NULL, removed BIGINT
);
CREATE INDEX nics_vm ON nics (vm_id);
CREATE UNIQUE INDEX nics_ip_live ON nics (network_id, ip4) WHERE removed IS NULL;
CREATE UNIQUE INDEX nics_mac_live ON nics (mac) WHERE removed IS NULL
"#;

/// The networking model. `vlan_ranges` are public ranges (`network_id` NULL) and the IP
/// ranges of shared networks; a public range's addresses are rows of `public_ips` (Free until
/// associated), unique per zone. `net_rules` holds every rule-like object — security groups
/// and their rules, firewall/egress/port-forwarding/IP-forwarding rules, load balancers and
/// their stickiness and health-check policies, static routes, VPNs and VPN users — with the
/// kind-specific fields in `spec`; `rule_members` says which VMs a security group or a load
/// balancer has. `net_generations` is, per host, the last compiled configuration pushed
/// (generation, digest) and the generation the agent acknowledged.
const V13: &str = r#"
CREATE TABLE vlan_ranges (
    id TEXT PRIMARY KEY, zone_id TEXT NOT NULL, physnet_id TEXT, pod_id TEXT, network_id TEXT,
    vlan TEXT, gateway TEXT NOT NULL, netmask TEXT NOT NULL, start_ip TEXT NOT NULL, end_ip TEXT NOT NULL,
    for_virtual BIGINT NOT NULL, for_system BIGINT NOT NULL, account_id TEXT, domain_id TEXT,
    created BIGINT NOT NULL, removed BIGINT
);
CREATE INDEX vlan_ranges_zone ON vlan_ranges (zone_id, removed);
CREATE INDEX vlan_ranges_network ON vlan_ranges (network_id);
CREATE TABLE public_ips (
    id TEXT PRIMARY KEY, zone_id TEXT NOT NULL, range_id TEXT NOT NULL, address TEXT NOT NULL,
    addr_num BIGINT NOT NULL, state TEXT NOT NULL, account_id TEXT, domain_id TEXT, network_id TEXT,
    source_nat BIGINT NOT NULL, static_nat_vm TEXT, static_nat_ip TEXT, allocated BIGINT,
    for_display BIGINT NOT NULL
);
CREATE UNIQUE INDEX public_ips_address ON public_ips (zone_id, address);
CREATE INDEX public_ips_range ON public_ips (range_id);
CREATE INDEX public_ips_free ON public_ips (zone_id, state, addr_num);
CREATE INDEX public_ips_network ON public_ips (network_id);
CREATE INDEX public_ips_account ON public_ips (account_id);
CREATE TABLE net_rules (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT, state TEXT NOT NULL,
    account_id TEXT, domain_id TEXT, network_id TEXT, ip_id TEXT, parent_id TEXT,
    spec TEXT NOT NULL, created BIGINT NOT NULL, removed BIGINT
);
CREATE INDEX net_rules_network ON net_rules (network_id, kind);
CREATE INDEX net_rules_ip ON net_rules (ip_id, kind);
CREATE INDEX net_rules_parent ON net_rules (parent_id, kind);
CREATE INDEX net_rules_account ON net_rules (account_id, kind);
CREATE UNIQUE INDEX net_rules_unique_name ON net_rules (kind, account_id, name)
    WHERE removed IS NULL AND kind IN ('securitygroup', 'vpnuser');
CREATE TABLE rule_members (
    owner_id TEXT NOT NULL, member_id TEXT NOT NULL, ip TEXT, created BIGINT NOT NULL,
    PRIMARY KEY (owner_id, member_id)
);
CREATE INDEX rule_members_member ON rule_members (member_id);
CREATE TABLE routers (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, network_id TEXT NOT NULL, zone_id TEXT NOT NULL,
    account_id TEXT, domain_id TEXT, host_id TEXT, state TEXT NOT NULL, guest_ip TEXT,
    guest_mac TEXT NOT NULL, public_ip_id TEXT, public_mac TEXT NOT NULL, link_local_ip TEXT NOT NULL,
    created BIGINT NOT NULL, updated BIGINT NOT NULL, removed BIGINT
);
CREATE UNIQUE INDEX routers_network_live ON routers (network_id) WHERE removed IS NULL;
CREATE INDEX routers_host ON routers (host_id, removed);
CREATE TABLE net_generations (
    host_id TEXT PRIMARY KEY, generation BIGINT NOT NULL, digest TEXT NOT NULL,
    acked BIGINT NOT NULL, updated BIGINT NOT NULL
);
CREATE UNIQUE INDEX networks_vni_live ON networks (zone_id, vni) WHERE removed IS NULL AND vni IS NOT NULL
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
