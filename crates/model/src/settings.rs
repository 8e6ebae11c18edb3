//! The catalogue of global settings (`listConfigurations` / `updateConfiguration`): names,
//! types, defaults and descriptions. Values live in the database only when an operator
//! changed them; everything else is the default from here.

/// The type of a setting's value; `updateConfiguration` refuses a value that does not parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SettingKind {
    Integer,
    Float,
    Boolean,
    String,
}

impl SettingKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Integer => "Integer",
            Self::Float => "Float",
            Self::Boolean => "Boolean",
            Self::String => "String",
        }
    }

    /// Checks a value against the kind and returns it in canonical form.
    pub fn validate(self, value: &str) -> Result<String, String> {
        let v = value.trim();
        match self {
            Self::Integer => v
                .parse::<i64>()
                .map(|n| n.to_string())
                .map_err(|_| format!("Please enter a valid integer value: {value}")),
            Self::Float => match v.parse::<f64>() {
                Ok(f) if f.is_finite() => Ok(v.to_string()),
                _ => Err(format!("Please enter a valid float value: {value}")),
            },
            Self::Boolean => match v.to_ascii_lowercase().as_str() {
                "true" | "false" => Ok(v.to_ascii_lowercase()),
                _ => Err(format!("Please enter either 'true' or 'false': {value}")),
            },
            Self::String => Ok(value.to_string()),
        }
    }
}

/// One setting.
#[derive(Debug)]
pub struct SettingDef {
    pub name: &'static str,
    pub category: &'static str,
    pub kind: SettingKind,
    pub default: &'static str,
    pub description: &'static str,
    /// Takes effect without a restart.
    pub dynamic: bool,
    /// Lower bound for numbers, where one makes sense.
    pub min: Option<f64>,
    /// Upper bound for numbers, where one makes sense.
    pub max: Option<f64>,
}

macro_rules! s {
    ($name:literal, $cat:literal, $kind:ident, $def:literal, $desc:literal) => {
        s!($name, $cat, $kind, $def, $desc, None, None)
    };
    ($name:literal, $cat:literal, $kind:ident, $def:literal, $desc:literal, $min:expr, $max:expr) => {
        SettingDef {
            name: $name,
            category: $cat,
            kind: SettingKind::$kind,
            default: $def,
            description: $desc,
            dynamic: true,
            min: $min,
            max: $max,
        }
    };
}

/// Every setting Canopy knows, sorted by name.
pub const SETTINGS: &[SettingDef] = &[
    s!("account.cleanup.interval", "Advanced", Integer, "86400",
       "The interval (in seconds) between cleanup for removed accounts", Some(1.0), None),
    s!("agent.lb.enabled", "Advanced", Boolean, "false",
       "Enable agent load balancing between management server nodes (Canopy's agents always reconnect to the servers in the list they are given)"),
    s!("allow.user.create.projects", "Project Defaults", Boolean, "true",
       "If regular user can create a project; true by default"),
    s!("allow.user.expunge.recover.vm", "Advanced", Boolean, "false",
       "Determines whether users can expunge or recover their VMs"),
    s!("allow.user.expunge.recover.volume", "Advanced", Boolean, "true",
       "Determines whether users can expunge or recover their volume"),
    s!("allow.user.view.destroyed.vm", "Advanced", Boolean, "false",
       "Determines whether users can view their destroyed or expunging VMs"),
    s!("api.key.access", "Advanced", Boolean, "true",
       "Whether API key (apiKey + signature) access is allowed"),
    s!("cloud.identifier", "Advanced", String, "",
       "A unique identifier for the cloud (guests read it as CloudStack-{identifier} at latest/meta-data/cloud-identifier)"),
    s!("cluster.cpu.allocated.capacity.disablethreshold", "Alert", Float, "0.85",
       "Percentage (as a value between 0 and 1) of cpu utilization above which allocators will disable using the cluster for low cpu available", Some(0.0), Some(1.0)),
    s!("cluster.cpu.allocated.capacity.notificationthreshold", "Alert", Float, "0.75",
       "Percentage (as a value between 0 and 1) of cpu utilization above which alerts will be sent about low cpu available (listHostsMetrics, listClustersMetrics and listZonesMetrics flag it)", Some(0.0), Some(1.0)),
    s!("cluster.heartbeat.interval", "Advanced", Integer, "1500",
       "Interval (in milliseconds) at which a management server writes its heartbeat and checks its peers'", Some(100.0), Some(60000.0)),
    s!("cluster.heartbeat.threshold", "Advanced", Integer, "20000",
       "Milliseconds without a heartbeat after which a management server is judged dead by its peers, and fences itself (CloudStack's default is 150000; Canopy's jobs are leased for 30 s)", Some(3000.0), Some(600000.0)),
    s!("cluster.memory.allocated.capacity.disablethreshold", "Alert", Float, "0.85",
       "Percentage (as a value between 0 and 1) of memory utilization above which allocators will disable using the cluster for low memory available", Some(0.0), Some(1.0)),
    s!("cluster.memory.allocated.capacity.notificationthreshold", "Alert", Float, "0.75",
       "Percentage (as a value between 0 and 1) of memory utilization above which alerts will be sent about low memory available (the metrics commands flag it)", Some(0.0), Some(1.0)),
    s!("cluster.storage.allocated.capacity.notificationthreshold", "Alert", Float, "0.75",
       "Percentage (as a value between 0 and 1) of allocated storage utilization above which alerts will be sent about low storage available (listStoragePoolsMetrics flags it)", Some(0.0), Some(1.0)),
    s!("cluster.storage.capacity.notificationthreshold", "Alert", Float, "0.75",
       "Percentage (as a value between 0 and 1) of storage utilization above which alerts will be sent about low storage available (listStoragePoolsMetrics flags it)", Some(0.0), Some(1.0)),
    s!("commands.timeout", "Advanced", String, "",
       "This timeout overrides the wait global config. This holds a comma separated key value pairs containing timeout (in seconds) for specific commands. For example: DhcpEntryCommand=600, SavePasswordCommand=300, VmDataCommand=300"),
    s!("cpu.overprovisioning.factor", "Advanced", Float, "1.0",
       "Used for CPU overprovisioning calculation; available CPU will be (actualCpuCapacity * cpu.overprovisioning.factor)", Some(1.0), None),
    s!("default.page.size", "Advanced", Integer, "500",
       "Default page size for API list* commands", Some(1.0), None),
    s!("enable.dynamic.scale.vm", "Advanced", Boolean, "false",
       "Enables/Disables dynamically scaling a vm"),
    s!("enforce.post.requests.and.timestamps", "Advanced", Boolean, "false",
       "Require POST for state-changing APIs and signatureVersion=3 with expires no more than 15 minutes ahead"),
    s!("event.purge.delay", "Advanced", Integer, "15",
       "Events older than the specified number of days will be purged; 0 keeps them forever", Some(0.0), None),
    s!("expunge.delay", "Advanced", Integer, "86400",
       "Determines how long (in seconds) to wait before actually expunging destroyed vm", Some(0.0), None),
    s!("expunge.interval", "Advanced", Integer, "86400",
       "The interval (in seconds) to wait before running the expunge thread", Some(1.0), None),
    s!("extract.url.expiration.interval", "Advanced", Integer, "14400",
       "The life of an extract URL (extractVolume, extractTemplate) in seconds, after which it and its copy are deleted", Some(60.0), None),
    s!("host.capacityType.to.order.clusters", "Advanced", String, "CPU",
       "The host capacity type (CPU or RAM) used to order clusters for VM placement"),
    s!(
        "image.staging.dirs",
        "Storage",
        String,
        "staging",
        "Directories on the management server from which root admins may register templates and ISOs with file:// URLs (comma-separated; relative paths are below the data directory). Symlinks leading out of them are refused"
    ),
    s!("indirect.agent.lb.algorithm", "Advanced", String, "static",
       "The order in which host agents are given the management servers to fail over to: static (by name), roundrobin (rotated by the host), shuffle"),
    s!("indirect.agent.lb.check.interval", "Advanced", Integer, "0",
       "Every this many seconds a host agent not connected to its preferred management server (the first of its list) moves back to it, between commands; 0: never (not with the shuffle algorithm)", Some(0.0), None),
    s!("instance.lease.enabled", "Advanced", Boolean, "false",
       "Indicates whether to enable the Instance lease, will be applicable only on instances created after lease is enabled"),
    s!("instance.name", "Advanced", String, "VM",
       "Name of the deployment instance: the last part of every VM's instance name (i-<account>-<vm>-<instance.name>)"),
    s!("job.cancel.threshold.minutes", "Advanced", Integer, "60",
       "Time (in minutes) for async-jobs to be forcely cancelled if it has been in process for long", Some(1.0), None),
    s!("job.expire.minutes", "Advanced", Integer, "1440",
       "Time (in minutes) for async-jobs to be kept in system", Some(1.0), None),
    s!("max.account.cpus", "Account Defaults", Integer, "40",
       "The default maximum number of cpu cores that can be used for an account; -1 for no limit", Some(-1.0), None),
    s!("max.account.memory", "Account Defaults", Integer, "40960",
       "The default maximum memory (in MiB) that can be used for an account; -1 for no limit", Some(-1.0), None),
    s!("max.account.networks", "Account Defaults", Integer, "20",
       "The default maximum number of networks that can be created for an account; -1 for no limit", Some(-1.0), None),
    s!("max.account.primary.storage", "Account Defaults", Integer, "200",
       "The default maximum primary storage space (in GiB) that can be used for an account; -1 for no limit", Some(-1.0), None),
    s!("max.account.projects", "Account Defaults", Integer, "10",
       "The default maximum number of projects that can be created for an account; -1 for no limit", Some(-1.0), None),
    s!("max.account.public.ips", "Account Defaults", Integer, "20",
       "The default maximum number of public IPs that can be consumed by an account; -1 for no limit", Some(-1.0), None),
    s!("max.account.secondary.storage", "Account Defaults", Integer, "400",
       "The default maximum secondary storage space (in GiB) that can be used for an account; -1 for no limit", Some(-1.0), None),
    s!("max.account.snapshots", "Account Defaults", Integer, "20",
       "The default maximum number of snapshots that can be created for an account; -1 for no limit", Some(-1.0), None),
    s!("max.account.templates", "Account Defaults", Integer, "20",
       "The default maximum number of templates that can be deployed for an account; -1 for no limit", Some(-1.0), None),
    s!("max.account.user.vms", "Account Defaults", Integer, "20",
       "The default maximum number of user VMs that can be deployed for an account; -1 for no limit", Some(-1.0), None),
    s!("max.account.volumes", "Account Defaults", Integer, "20",
       "The default maximum number of volumes that can be created for an account; -1 for no limit", Some(-1.0), None),
    s!("max.account.vpcs", "Account Defaults", Integer, "20",
       "The default maximum number of vpcs that can be created for an account; -1 for no limit", Some(-1.0), None),
    s!("max.domain.cpus", "Account Defaults", Integer, "80",
       "The default maximum number of cpu cores that can be used for a domain; -1 for no limit", Some(-1.0), None),
    s!("max.domain.memory", "Account Defaults", Integer, "81920",
       "The default maximum memory (in MiB) that can be used for a domain; -1 for no limit", Some(-1.0), None),
    s!("max.domain.networks", "Account Defaults", Integer, "20",
       "The default maximum number of networks that can be created for a domain; -1 for no limit", Some(-1.0), None),
    s!("max.domain.primary.storage", "Account Defaults", Integer, "400",
       "The default maximum primary storage space (in GiB) that can be used for a domain; -1 for no limit", Some(-1.0), None),
    s!("max.domain.projects", "Account Defaults", Integer, "50",
       "The default maximum number of projects that can be created for a domain; -1 for no limit", Some(-1.0), None),
    s!("max.domain.public.ips", "Account Defaults", Integer, "40",
       "The default maximum number of public IPs that can be consumed by a domain; -1 for no limit", Some(-1.0), None),
    s!("max.domain.secondary.storage", "Account Defaults", Integer, "800",
       "The default maximum secondary storage space (in GiB) that can be used for a domain; -1 for no limit", Some(-1.0), None),
    s!("max.domain.snapshots", "Account Defaults", Integer, "40",
       "The default maximum number of snapshots that can be created for a domain; -1 for no limit", Some(-1.0), None),
    s!("max.domain.templates", "Account Defaults", Integer, "40",
       "The default maximum number of templates that can be deployed for a domain; -1 for no limit", Some(-1.0), None),
    s!("max.domain.user.vms", "Account Defaults", Integer, "40",
       "The default maximum number of user VMs that can be deployed for a domain; -1 for no limit", Some(-1.0), None),
    s!("max.domain.volumes", "Account Defaults", Integer, "40",
       "The default maximum number of volumes that can be created for a domain; -1 for no limit", Some(-1.0), None),
    s!("max.domain.vpcs", "Account Defaults", Integer, "20",
       "The default maximum number of vpcs that can be created for a domain; -1 for no limit", Some(-1.0), None),
    s!("max.project.cpus", "Project Defaults", Integer, "40",
       "The default maximum number of cpu cores that can be used for a project; -1 for no limit", Some(-1.0), None),
    s!("max.project.memory", "Project Defaults", Integer, "40960",
       "The default maximum memory (in MiB) that can be used for a project; -1 for no limit", Some(-1.0), None),
    s!("max.project.networks", "Project Defaults", Integer, "20",
       "The default maximum number of networks that can be created for a project; -1 for no limit", Some(-1.0), None),
    s!("max.project.primary.storage", "Project Defaults", Integer, "200",
       "The default maximum primary storage space (in GiB) that can be used for a project; -1 for no limit", Some(-1.0), None),
    s!("max.project.public.ips", "Project Defaults", Integer, "20",
       "The default maximum number of public IPs that can be consumed for a project; -1 for no limit", Some(-1.0), None),
    s!("max.project.secondary.storage", "Project Defaults", Integer, "400",
       "The default maximum secondary storage space (in GiB) that can be used for a project; -1 for no limit", Some(-1.0), None),
    s!("max.project.snapshots", "Project Defaults", Integer, "20",
       "The default maximum number of snapshots that can be created for a project; -1 for no limit", Some(-1.0), None),
    s!("max.project.templates", "Project Defaults", Integer, "20",
       "The default maximum number of templates that can be deployed for a project; -1 for no limit", Some(-1.0), None),
    s!("max.project.user.vms", "Project Defaults", Integer, "20",
       "The default maximum number of user VMs that can be deployed for a project; -1 for no limit", Some(-1.0), None),
    s!("max.project.volumes", "Project Defaults", Integer, "20",
       "The default maximum number of volumes that can be created for a project; -1 for no limit", Some(-1.0), None),
    s!("max.project.vpcs", "Project Defaults", Integer, "20",
       "The default maximum number of vpcs that can be created for a project; -1 for no limit", Some(-1.0), None),
    s!("max.template.iso.size", "Storage", Integer, "50",
       "The maximum size for a downloaded or uploaded template or ISO (in GB)", Some(1.0), None),
    s!("mem.overprovisioning.factor", "Advanced", Float, "1.0",
       "Used for memory overprovisioning calculation", Some(1.0), None),
    s!("metrics.allowed.cidrs", "Advanced", String, "127.0.0.1/32,::1/128",
       "Comma-separated CIDRs of the clients that may scrape the Prometheus metrics at /metrics on the API port"),
    s!("network.gc.interval", "Advanced", Integer, "600",
       "Seconds to wait before checking for networks to shutdown", Some(1.0), None),
    s!("network.gc.wait", "Advanced", Integer, "600",
       "Time (in seconds) to wait before shutting down a network that's not in used", Some(0.0), None),
    s!("ping.interval", "Advanced", Integer, "10",
       "Interval (in seconds) at which agents send heartbeats to the management server", Some(1.0), None),
    s!("ping.timeout", "Advanced", Float, "2.5",
       "Multiplier to ping.interval before announcing an agent has timed out", Some(1.0), None),
    s!("pool.storage.allocated.capacity.disablethreshold", "Alert", Float, "0.85",
       "Percentage (as a value between 0 and 1) of allocated storage utilization above which allocators will disable using the pool", Some(0.0), Some(1.0)),
    s!("pool.storage.capacity.disablethreshold", "Alert", Float, "0.85",
       "Percentage (as a value between 0 and 1) of storage utilization above which allocators will disable using the pool", Some(0.0), Some(1.0)),
    s!("project.invite.required", "Project Defaults", Boolean, "false",
       "If invitation confirmation is required when add account to project. Default value is false"),
    s!("project.invite.timeout", "Project Defaults", Integer, "86400",
       "Invitation expiration time (in seconds). Default is 1 day - 86400 seconds", Some(1.0), None),
    s!("public.ip.address.quarantine.duration", "Network", Integer, "0",
       "The duration (in minutes) for the public IP address to be quarantined when it is disassociated", Some(0.0), None),
    s!("remote.access.vpn.client.iprange", "Network", String, "10.1.2.1-10.1.2.8",
       "The range of ips to be allocated to remote access vpn clients. The first ip in the range is used by the VPN server"),
    s!("remote.access.vpn.psk.length", "Network", Integer, "24",
       "The length of the ipsec preshared key (minimum 8, maximum 256)", Some(8.0), Some(256.0)),
    s!("returnproxy.port", "Network", Integer, "37140",
       "The return proxy's port of the first management server's SSH tunnel (the i-th server's is this + i); the cluster's agents dial it on the proxy (Canopy)", Some(1.0), Some(65000.0)),
    s!("router.check.interval", "Advanced", Integer, "30",
       "Interval (in seconds) to report redundant router status; Canopy: how often the site-to-site VPN connections' states are read from their routers", Some(1.0), None),
    s!(
        "secstorage.allowed.internal.download.sites",
        "Storage",
        String,
        "",
        "Comma-separated CIDRs of internal addresses (loopback, link-local, the management server's own networks) that users other than root admins may download templates and ISOs from"
    ),
    s!(
        "secstorage.proxy",
        "Storage",
        String,
        "",
        "HTTP proxy for template and ISO downloads from http(s) URLs, in http://[username:password@]proxyserver:port format; empty: direct"
    ),
    s!("session.timeout", "Advanced", Integer, "1800",
       "Seconds of inactivity after which a login session expires", Some(60.0), None),
    s!("site2site.vpn.customergateway.subnets.limit", "Network", Integer, "10",
       "The maximum number of subnets per customer gateway", Some(1.0), None),
    s!("site2site.vpn.vpngateway.connection.limit", "Network", Integer, "4",
       "The maximum number of VPN connection per VPN gateway", Some(1.0), None),
    s!("snapshot.poll.interval", "Snapshots", Integer, "300",
       "Seconds between the checks for snapshot policies that are due (each due policy's snapshot is taken once, by one server)", Some(1.0), None),
    s!("storage.cleanup.delay", "Advanced", Integer, "86400",
       "Determines how long (in seconds) to wait before actually expunging destroyed volumes", Some(0.0), None),
    s!("storage.cleanup.enabled", "Advanced", Boolean, "true",
       "Enables/disables the storage cleanup thread"),
    s!("storage.cleanup.interval", "Advanced", Integer, "86400",
       "The interval (in seconds) to wait before running the storage cleanup thread", Some(1.0), None),
    s!("storage.max.volume.upload.size", "Storage", Integer, "500",
       "The maximum size for an uploaded volume (in GB)", Some(1.0), None),
    s!("storage.overprovisioning.factor", "Storage", Float, "2",
       "Used for storage overprovisioning calculation", Some(1.0), None),
    s!("upload.operation.timeout", "Advanced", Integer, "60",
       "Time (in minutes) to wait before abandoning volume upload (the upload URL expires then)", Some(1.0), None),
    s!("use.external.dns", "Advanced", Boolean, "false",
       "Bypass internal dns, use external dns1 and dns2"),
    s!("vm.allocation.algorithm", "Advanced", String, "random",
       "Order in which hosts within a cluster will be considered for VM/volume allocation: random, firstfit, userdispersing, userconcentratedpod_random, userconcentratedpod_firstfit, firstfitleastconsumed"),
    s!("vm.deployment.planner", "Advanced", String, "FirstFitPlanner",
       "Deployment planner used: FirstFitPlanner, UserDispersingPlanner, UserConcentratedPodPlanner, ImplicitDedicationPlanner (an offering's deploymentplanner, or a root admin's deploy parameter, wins)"),
    s!("vm.password.length", "Advanced", Integer, "6",
       "Specifies the length of a randomly generated password", Some(6.0), Some(64.0)),
    s!("vm.power.sync.interval", "Advanced", Integer, "60",
       "The interval (in seconds) between comparisons of the VMs each host runs with the database (power-state sync); also run when a host connects", Some(5.0), None),
    s!("vm.stats.interval", "Advanced", Integer, "60000",
       "The interval (in milliseconds) when vm stats are retrieved from agents", Some(0.0), None),
    s!("vm.userdata.max.length", "Advanced", Integer, "32768",
       "Max length of vm userdata after base64 decoding", Some(1.0), Some(1048576.0)),
    s!("workers", "Advanced", Integer, "64",
       "Number of worker tasks that run async jobs", Some(1.0), Some(256.0)),
];

/// Looks a setting up by its exact name.
pub fn setting(name: &str) -> Option<&'static SettingDef> {
    SETTINGS.iter().find(|s| s.name == name)
}

/// Validates a value for a setting: its type, then its bounds.
pub fn validate(def: &SettingDef, value: &str) -> Result<String, String> {
    let v = def.kind.validate(value)?;
    if let (SettingKind::Integer | SettingKind::Float, Ok(n)) = (def.kind, v.parse::<f64>()) {
        if let Some(min) = def.min {
            if n < min {
                return Err(format!(
                    "Invalid value for {}: {} is below the minimum {}",
                    def.name, v, min
                ));
            }
        }
        if let Some(max) = def.max {
            if n > max {
                return Err(format!(
                    "Invalid value for {}: {} is above the maximum {}",
                    def.name, v, max
                ));
            }
        }
    }
    Ok(v)
}

/// The scopes a setting may also be set at (CloudStack's `ConfigKey.Scope`), beyond the
/// global value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    Zone,
    Cluster,
    StoragePool,
    ImageStore,
    Domain,
    Account,
}

impl Scope {
    pub const ALL: [Scope; 6] = [
        Scope::Zone,
        Scope::Cluster,
        Scope::StoragePool,
        Scope::ImageStore,
        Scope::Domain,
        Scope::Account,
    ];
    /// CloudStack's name of the scope (`scope` in listConfigurations).
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Zone => "zone",
            Scope::Cluster => "cluster",
            Scope::StoragePool => "storagepool",
            Scope::ImageStore => "imagestore",
            Scope::Domain => "domain",
            Scope::Account => "account",
        }
    }
    /// The parameter of listConfigurations, updateConfiguration and resetConfiguration that
    /// names an object of this scope.
    pub fn param(self) -> &'static str {
        match self {
            Scope::Zone => "zoneid",
            Scope::Cluster => "clusterid",
            Scope::StoragePool => "storageid",
            Scope::ImageStore => "imagestoreid",
            Scope::Domain => "domainid",
            Scope::Account => "accountid",
        }
    }
}

/// Settings that may also be set per zone, cluster, storage pool, image store, domain or
/// account, with CloudStack's scopes for them.
pub const SCOPED: &[(&str, &[Scope])] = &[
    (
        "allow.user.expunge.recover.vm",
        &[Scope::Account, Scope::Domain],
    ),
    ("allow.user.expunge.recover.volume", &[Scope::Account]),
    (
        "allow.user.view.destroyed.vm",
        &[Scope::Account, Scope::Domain],
    ),
    ("cpu.overprovisioning.factor", &[Scope::Cluster]),
    ("enable.dynamic.scale.vm", &[Scope::Zone]),
    ("mem.overprovisioning.factor", &[Scope::Cluster]),
    (
        "pool.storage.allocated.capacity.disablethreshold",
        &[Scope::Zone, Scope::StoragePool],
    ),
    (
        "pool.storage.capacity.disablethreshold",
        &[Scope::Zone, Scope::StoragePool],
    ),
    (
        "remote.access.vpn.client.iprange",
        &[Scope::Account, Scope::Domain],
    ),
    (
        "storage.overprovisioning.factor",
        &[Scope::Zone, Scope::StoragePool],
    ),
    ("use.external.dns", &[Scope::Zone]),
    ("vm.password.length", &[Scope::Zone]),
];

/// The scopes `name` may be set at (empty: global only).
pub fn scopes_of(name: &str) -> &'static [Scope] {
    SCOPED
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, s)| *s)
        .unwrap_or(&[])
}

/// How a scoped value is stored among the settings: `<name>@<scope>:<id>` (one table, one
/// fingerprint: a change on one server is seen by the others as any setting's).
pub fn scoped_key(name: &str, scope: Scope, id: &str) -> String {
    format!("{name}@{}:{id}", scope.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_is_sorted_unique_and_defaults_validate() {
        for w in SETTINGS.windows(2) {
            assert!(w[0].name < w[1].name, "{} !< {}", w[0].name, w[1].name);
        }
        for s in SETTINGS {
            assert_eq!(
                validate(s, s.default).as_deref(),
                Ok(s.default),
                "{}",
                s.name
            );
        }
    }

    #[test]
    fn scoped_settings_exist_and_are_sorted() {
        for w in SCOPED.windows(2) {
            assert!(w[0].0 < w[1].0, "{} !< {}", w[0].0, w[1].0);
        }
        for (n, scopes) in SCOPED {
            assert!(setting(n).is_some(), "{n}");
            assert!(!scopes.is_empty(), "{n}");
        }
        assert_eq!(scopes_of("use.external.dns"), &[Scope::Zone]);
        assert!(scopes_of("default.page.size").is_empty());
    }

    #[test]
    fn values_are_type_and_range_checked() {
        let page = setting("default.page.size").expect("exists");
        assert!(validate(page, "abc").is_err());
        assert!(validate(page, "0").is_err());
        assert_eq!(validate(page, " 200 ").as_deref(), Ok("200"));
        let f = setting("cpu.overprovisioning.factor").expect("exists");
        assert!(validate(f, "NaN").is_err());
        assert!(validate(f, "2.5").is_ok());
        let b = setting("api.key.access").expect("exists");
        assert_eq!(validate(b, "TRUE").as_deref(), Ok("true"));
        assert!(validate(b, "yes").is_err());
    }
}
