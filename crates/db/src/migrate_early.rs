//! The first thirteen migrations (V1–V13: the schema of the first wave), kept apart from the
//! migration runner and the later ones; `migrate::MIGRATIONS` lists them all in order.

pub(super) const V1: &str = r#"
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
pub(super) const V2: &str = r#"
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
pub(super) const V3: &str = r#"
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

pub(super) const V4: &str = r#"
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
pub(super) const V5: &str = r#"
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
pub(super) const V6: &str = r#"
CREATE TABLE templates (
    id TEXT PRIMARY KEY, zone_id TEXT NOT NULL, parent_id TEXT, name TEXT NOT NULL, kind TEXT NOT NULL,
    state TEXT NOT NULL, domain_id TEXT, attrs TEXT NOT NULL, created BIGINT NOT NULL, removed BIGINT
)
"#;

/// SSH key pairs: a name is unique within its account; only the public key is kept.
pub(super) const V7: &str = r#"
CREATE TABLE ssh_keypairs (
    id TEXT PRIMARY KEY, account_id TEXT NOT NULL REFERENCES accounts(id), domain_id TEXT NOT NULL,
    name TEXT NOT NULL, fingerprint TEXT NOT NULL, public_key TEXT NOT NULL, created BIGINT NOT NULL,
    UNIQUE (account_id, name)
)
"#;

/// Resource limits set for an account or a domain (`owner_kind` account or domain); types
/// without a row use the `max.account.*` / `max.domain.*` defaults.
pub(super) const V8: &str = r#"
CREATE TABLE resource_limits (
    owner_kind TEXT NOT NULL, owner_id TEXT NOT NULL, resource_type BIGINT NOT NULL, max BIGINT NOT NULL,
    PRIMARY KEY (owner_kind, owner_id, resource_type)
)
"#;

/// Hypervisor capabilities per (hypervisor, version); `default` is the fallback version. The
/// rows are seeded here with fixed ids, like CloudStack's schema scripts.
pub(super) const V9: &str = r#"
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
pub(super) const V10: &str = r#"
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
pub(super) const V11: &str = r#"
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
pub(super) const V12: &str = r#"
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
pub(super) const V13: &str = r#"
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
