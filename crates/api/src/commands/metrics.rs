//! CloudStack's metrics plugin: each infrastructure `list<X>Metrics` command takes the
//! parameters of `list<X>` and answers its objects with the plugin's figures added; and the
//! database and usage server metrics.

use crate::registry::{f, roles::*, CommandSpec, Field};

const THRESHOLDS: [Field; 8] = [
    f(
        "cputhreshold",
        "boolean",
        "cpu usage notification threshold exceeded",
    ),
    f(
        "cpudisablethreshold",
        "boolean",
        "cpu usage disable threshold exceeded",
    ),
    f(
        "cpuallocatedthreshold",
        "boolean",
        "cpu allocated notification threshold exceeded",
    ),
    f(
        "cpuallocateddisablethreshold",
        "boolean",
        "cpu allocated disable threshold exceeded",
    ),
    f(
        "memorythreshold",
        "boolean",
        "memory usage notification threshold exceeded",
    ),
    f(
        "memorydisablethreshold",
        "boolean",
        "memory usage disable threshold exceeded",
    ),
    f(
        "memoryallocatedthreshold",
        "boolean",
        "memory allocated notification threshold exceeded",
    ),
    f(
        "memoryallocateddisablethreshold",
        "boolean",
        "memory allocated disable threshold exceeded",
    ),
];

pub const HOST_METRICS: &[Field] = &[
    f(
        "instances",
        "string",
        "instances on the host: running / all",
    ),
    f("cputotalghz", "string", "the total cpu capacity in Ghz"),
    f("cpuusedghz", "string", "the cpu its guests use in Ghz"),
    f(
        "cpuallocatedghz",
        "string",
        "the total cpu allocated in Ghz",
    ),
    f(
        "memorytotalgb",
        "string",
        "the total memory capacity in GiB",
    ),
    f("memoryusedgb", "string", "the memory its guests use in GiB"),
    f(
        "memoryallocatedgb",
        "string",
        "the total memory allocated in GiB",
    ),
    f("networkread", "string", "network read by its guests in GiB"),
    f(
        "networkwrite",
        "string",
        "network written by its guests in GiB",
    ),
    THRESHOLDS[0],
    THRESHOLDS[1],
    THRESHOLDS[2],
    THRESHOLDS[3],
    THRESHOLDS[4],
    THRESHOLDS[5],
    THRESHOLDS[6],
    THRESHOLDS[7],
];

macro_rules! summary {
    ($name:ident, $res:literal, $res_doc:literal) => {
        pub const $name: &[Field] = &[
            f("state", "string", "the allocation state"),
            f($res, "string", $res_doc),
            f("cputotal", "string", "the total cpu capacity in Ghz"),
            f("cpuused", "string", "the cpu its guests use, in percent"),
            f("cpuallocated", "string", "the cpu allocated, in percent"),
            f("cpumaxdeviation", "string", "the maximum cpu deviation"),
            f("memorytotal", "string", "the total memory capacity in GiB"),
            f(
                "memoryused",
                "string",
                "the memory its guests use, in percent",
            ),
            f(
                "memoryallocated",
                "string",
                "the memory allocated, in percent",
            ),
            f(
                "memorymaxdeviation",
                "string",
                "the maximum memory deviation",
            ),
            THRESHOLDS[0],
            THRESHOLDS[1],
            THRESHOLDS[2],
            THRESHOLDS[3],
            THRESHOLDS[4],
            THRESHOLDS[5],
            THRESHOLDS[6],
            THRESHOLDS[7],
        ];
    };
}

summary!(CLUSTER_METRICS, "hosts", "Up / all hosts of the cluster");
summary!(
    ZONE_METRICS,
    "clusters",
    "Enabled / all clusters of the zone"
);

pub const STORAGE_POOL_METRICS: &[Field] = &[
    f(
        "disksizetotalgb",
        "string",
        "disk size in GiB (with the over-provisioning factor)",
    ),
    f("disksizeusedgb", "string", "disk size used in GiB"),
    f(
        "disksizeallocatedgb",
        "string",
        "disk size allocated in GiB",
    ),
    f(
        "disksizeunallocatedgb",
        "string",
        "disk size unallocated in GiB",
    ),
    f(
        "storageusagethreshold",
        "boolean",
        "storage usage notification threshold exceeded",
    ),
    f(
        "storageusagedisablethreshold",
        "boolean",
        "storage usage disable threshold exceeded",
    ),
    f(
        "storageallocatedthreshold",
        "boolean",
        "storage allocated notification threshold exceeded",
    ),
    f(
        "storageallocateddisablethreshold",
        "boolean",
        "storage allocated disable threshold exceeded",
    ),
];

pub const DB_METRICS: &[Field] = &[
    f("hostname", "string", "the address the database answers on"),
    f(
        "replicas",
        "string[]",
        "the database's replicas (PostgreSQL streaming standbys)",
    ),
    f(
        "connections",
        "integer",
        "the database's connections (PostgreSQL: to this database; SQLite: this server's pool)",
    ),
    f(
        "uptime",
        "long",
        "seconds since the database started (SQLite: since this server opened it)",
    ),
    f("version", "string", "the database's version"),
    f("versioncomment", "string", "the database's version string"),
    f(
        "queries",
        "long",
        "transactions run in this database (PostgreSQL)",
    ),
    f(
        "tlsversions",
        "string",
        "the TLS version of this server's connection, when TLS is used",
    ),
    f(
        "dbloadaverages",
        "double[]",
        "the load averages (not sampled by Canopy)",
    ),
    f(
        "collectiontime",
        "date",
        "the time these statistics were collected",
    ),
];

pub const USAGE_SERVER_METRICS: &[Field] = &[
    f("hostname", "string", "the name of the active usage server"),
    f("state", "string", "the state of the usage server"),
    f(
        "lastheartbeat",
        "date",
        "the last time this Usage Server checked for jobs",
    ),
    f(
        "lastsuccessfuljob",
        "date",
        "the last time a usage job successfully completed",
    ),
    f(
        "collectiontime",
        "date",
        "the time these statistics were collected",
    ),
];

/// The `list<X>Metrics` of each `list<X>` in `specs`.
pub fn derived(specs: &[CommandSpec]) -> Vec<CommandSpec> {
    const PAIRS: &[(&str, &str, &str, &[Field])] = &[
        (
            "listHosts",
            "listHostsMetrics",
            "Lists hosts metrics",
            HOST_METRICS,
        ),
        (
            "listClusters",
            "listClustersMetrics",
            "Lists clusters metrics",
            CLUSTER_METRICS,
        ),
        (
            "listZones",
            "listZonesMetrics",
            "Lists zone metrics",
            ZONE_METRICS,
        ),
        (
            "listStoragePools",
            "listStoragePoolsMetrics",
            "Lists storage pool metrics",
            STORAGE_POOL_METRICS,
        ),
    ];
    PAIRS
        .iter()
        .filter_map(|(base, name, desc, extra)| {
            let mut s = specs.iter().find(|s| s.name == *base)?.clone();
            s.name = name;
            s.description = desc;
            s.response_extra = extra;
            s.roles = ADMIN;
            Some(s)
        })
        .chain([
            CommandSpec::new("listDbMetrics", "list the db hosts and statistics")
                .roles(ADMIN)
                .returns("dbMetrics", DB_METRICS),
            CommandSpec::new("listUsageServerMetrics", "List Usage Server metrics")
                .roles(ADMIN)
                .returns("usageMetrics", USAGE_SERVER_METRICS),
        ])
        .collect()
}
