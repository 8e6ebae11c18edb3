//! Response objects' fields, as `listApis` describes them.

use crate::registry::{f, Field};

pub const KEYPAIR: &[Field] = &[
    f("id", "string", "ID of the ssh keypair"),
    f("name", "string", "Name of the keypair"),
    f("fingerprint", "string", "Fingerprint of the public key"),
    f(
        "privatekey",
        "string",
        "Private key (PKCS#1 PEM), returned only by createSSHKeyPair",
    ),
    f("account", "string", "the owner of the keypair"),
    f("accountid", "string", "the owner id of the keypair"),
    f("domainid", "string", "the domain id of the keypair owner"),
    f("domain", "string", "the domain name of the keypair owner"),
    f(
        "domainpath",
        "string",
        "path of the domain to which the keypair belongs",
    ),
    f(
        "hasannotations",
        "boolean",
        "whether this resource has annotations",
    ),
];

pub const RESOURCE_LIMIT: &[Field] = &[
    f(
        "resourcetype",
        "string",
        "resource type (the ordinal, as a string)",
    ),
    f("resourcetypename", "string", "resource type name"),
    f(
        "max",
        "long",
        "the maximum number of the resource; -1 means unlimited",
    ),
    f("account", "string", "the account of the resource limit"),
    f("domainid", "string", "the domain ID of the resource limit"),
    f("domain", "string", "the domain name of the resource limit"),
    f(
        "domainpath",
        "string",
        "path of the domain to which the resource limit belongs",
    ),
];

pub const HYPERVISOR_CAPABILITIES: &[Field] = &[
    f("id", "string", "the ID of the hypervisor capabilities row"),
    f("hypervisor", "string", "the hypervisor type"),
    f("hypervisorversion", "string", "the hypervisor version"),
    f(
        "maxguestslimit",
        "long",
        "the maximum number of guest vms recommended for this hypervisor",
    ),
    f(
        "maxdatavolumeslimit",
        "integer",
        "the maximum number of Data Volumes that can be attached for this hypervisor",
    ),
    f(
        "maxhostspercluster",
        "integer",
        "the maximum number of Hosts per cluster for this hypervisor",
    ),
    f(
        "securitygroupenabled",
        "boolean",
        "true if security group is supported",
    ),
    f(
        "storagemotionenabled",
        "boolean",
        "true if storage motion is supported",
    ),
    f(
        "vmsnapshotenabled",
        "boolean",
        "true if VM snapshots are enabled for this hypervisor",
    ),
];

pub const TAG: &[Field] = &[
    f("key", "string", "tag key name"),
    f("value", "string", "tag value"),
    f("resourcetype", "string", "resource type"),
    f("resourceid", "string", "id of the resource"),
    f("account", "string", "the account associated with the tag"),
    f(
        "domainid",
        "string",
        "the ID of the domain associated with the tag",
    ),
    f("domain", "string", "the domain associated with the tag"),
    f(
        "domainpath",
        "string",
        "path of the Domain associated with the tag",
    ),
    f("customer", "string", "customer associated with the tag"),
];

pub const USER_KEYS: &[Field] = &[
    f("apikey", "string", "the api key of the registered user"),
    f(
        "secretkey",
        "string",
        "the secret key of the registered user",
    ),
    f(
        "apikeyaccess",
        "string",
        "whether api key access is allowed or not",
    ),
];

pub const EVENT: &[Field] = &[
    f("id", "string", "the ID of the event"),
    f(
        "username",
        "string",
        "the name of the user who performed the action",
    ),
    f("type", "string", "the type of the event (see event types)"),
    f("level", "string", "the event level (INFO, WARN, ERROR)"),
    f("description", "string", "a brief description of the event"),
    f(
        "account",
        "string",
        "the account name for the account that owns the object being acted on in the event",
    ),
    f("domainid", "string", "the id of the account's domain"),
    f("domain", "string", "the name of the account's domain"),
    f("created", "date", "the date the event was created"),
    f("state", "string", "the state of the event"),
    f("resourceid", "string", "the id of the resource"),
    f("resourcetype", "string", "the type of the resource"),
    f("resourcename", "string", "the name of the resource"),
    f(
        "archived",
        "boolean",
        "whether the event has been archived or not",
    ),
];

pub const ASYNC_JOB: &[Field] = &[
    f("jobid", "string", "the ID of the async job"),
    f(
        "accountid",
        "string",
        "the account id that executed the async command",
    ),
    f(
        "account",
        "string",
        "the account that executed the async command",
    ),
    f(
        "domainid",
        "string",
        "the domain id that executed the async command",
    ),
    f(
        "domainpath",
        "string",
        "the domain that executed the async command",
    ),
    f(
        "userid",
        "string",
        "the user that executed the async command",
    ),
    f("cmd", "string", "the async command executed"),
    f(
        "jobstatus",
        "integer",
        "the current job status-should be 0 for PENDING",
    ),
    f(
        "jobprocstatus",
        "integer",
        "the progress information of the PENDING job",
    ),
    f("jobresultcode", "integer", "the result code for the job"),
    f("jobresulttype", "string", "the result type"),
    f("jobresult", "responseobject", "the result reason"),
    f(
        "jobinstancetype",
        "string",
        "the instance/entity object related to the job",
    ),
    f(
        "jobinstanceid",
        "string",
        "the unique ID of the instance/entity object related to the job",
    ),
    f("created", "date", "the created date of the job"),
    f("completed", "date", "the completed date of the job"),
    f(
        "managementserverid",
        "string",
        "the msid of the management server on which the job is running",
    ),
];

/// A management server (CloudStack's `ManagementServerResponse`; no Java fields: Canopy is
/// not a JVM).
pub const MANAGEMENT_SERVER: &[Field] = &[
    f("id", "string", "the ID of the management server"),
    f(
        "name",
        "string",
        "the name of the management server (its agent endpoint)",
    ),
    f(
        "state",
        "state",
        "the state of the management server: Up, PreparingForMaintenance, Maintenance, Down",
    ),
    f("version", "string", "the version of the management server"),
    f(
        "osdistribution",
        "string",
        "the name of the OS distribution running on the management server",
    ),
    f(
        "lastserverstart",
        "date",
        "the last time this Management Server was started",
    ),
    f(
        "lastserverstop",
        "date",
        "the last time this Management Server was stopped",
    ),
    f(
        "lastboottime",
        "date",
        "the last time the host on which this Management Server runs was booted",
    ),
    f(
        "kernelversion",
        "string",
        "the running OS kernel version for this Management Server",
    ),
    f(
        "serviceip",
        "string",
        "the IP Address for this Management Server (deprecated: ipaddress)",
    ),
    f(
        "ipaddress",
        "string",
        "the IP Address for this Management Server",
    ),
    f(
        "agentendpoint",
        "string",
        "Canopy addition: the host:port agents dial (TLS)",
    ),
];

/// What listManagementServersMetrics adds (CloudStack's `ManagementServerMetricsResponse`),
/// as the server last measured itself at its heartbeat.
pub const MANAGEMENT_SERVER_METRICS: &[Field] = &[
    f(
        "agentcount",
        "integer",
        "the number of agents this Management Server is responsible for",
    ),
    f(
        "agents",
        "list",
        "the names of the hosts whose agents are connected to this Management Server",
    ),
    f(
        "agentscount",
        "long",
        "the number of agents connected to this Management Server",
    ),
    f(
        "pendingjobscount",
        "long",
        "the number of unfinished jobs this Management Server runs",
    ),
    f(
        "availableprocessors",
        "integer",
        "the number of processors available to the server",
    ),
    f(
        "collectiontime",
        "date",
        "the time these statistics were collected",
    ),
    f("cpuload", "string", "the load of the server's processors"),
    f(
        "heapmemoryused",
        "long",
        "the memory the server process uses (resident set, bytes)",
    ),
    f(
        "heapmemorytotal",
        "long",
        "the memory the server process holds (resident set, bytes)",
    ),
    f(
        "threadstotalcount",
        "integer",
        "the number of threads of the server process",
    ),
    f("sessions", "long", "the number of active sessions"),
    f(
        "systemloadaverages",
        "double[]",
        "the system load for 1, 5 and 15 minutes",
    ),
    f("systemmemorytotal", "string", "the total system memory"),
    f(
        "systemmemoryfree",
        "string",
        "the free (available) system memory",
    ),
    f("systemmemoryused", "string", "the used system memory"),
    f(
        "dbislocal",
        "boolean",
        "whether the database is on the same machine (embedded SQLite)",
    ),
    f(
        "usageislocal",
        "boolean",
        "whether a usage server runs on the same machine (never: Canopy has none)",
    ),
];

/// A management server's maintenance status (CloudStack's
/// `ManagementServerMaintenanceResponse`).
pub const MANAGEMENT_SERVER_MAINTENANCE: &[Field] = &[
    f(
        "managementserverid",
        "string",
        "The id of the management server",
    ),
    f("state", "string", "the state of the management server"),
    f(
        "maintenanceinitiated",
        "boolean",
        "Indicates whether maintenance is initiated",
    ),
    f(
        "shutdowntriggered",
        "boolean",
        "Indicates whether a shutdown is triggered (never: Canopy has no triggerShutdown)",
    ),
    f(
        "readyforshutdown",
        "boolean",
        "Indicates whether the server has no jobs and no agents left",
    ),
    f(
        "pendingjobscount",
        "long",
        "The number of jobs in progress on the management server",
    ),
    f(
        "agentscount",
        "long",
        "The number of host agents connected to the management server",
    ),
    f(
        "agents",
        "list",
        "The host agents connected to the management server (host names)",
    ),
];

/// Canopy addition: a background task of the management server.
pub const BACKGROUND_TASK: &[Field] = &[
    f("name", "string", "the task's name"),
    f("description", "string", "what the task does"),
    f(
        "managementserverid",
        "string",
        "the management server that runs this copy of the task",
    ),
    f(
        "interval",
        "long",
        "seconds between the end of one run and the start of the next",
    ),
    f(
        "timeout",
        "long",
        "seconds after which a run is abandoned and counted as failed",
    ),
    f("running", "boolean", "whether a run is under way"),
    f("runs", "long", "runs since the server started"),
    f("failures", "long", "failed runs since the server started"),
    f("laststart", "date", "when the last run started"),
    f(
        "lastduration",
        "long",
        "milliseconds the last finished run took",
    ),
    f(
        "lasterror",
        "string",
        "the error of the last run, when it failed",
    ),
];

pub const CONFIGURATION: &[Field] = &[
    f("name", "string", "the name of the configuration"),
    f("group", "string", "the group of the configuration (listConfigurationGroups)"),
    f("subgroup", "string", "the subgroup of the configuration"),
    f("scope", "string", "scope(zone/cluster/storagepool/imagestore/domain/account) of the parameter that needs to be updated"),
    f("id", "string", "the ID of the object of the scope (zone, cluster, …) the value is for"),
    f("value", "string", "the value of the configuration"),
    f(
        "defaultvalue",
        "string",
        "the default value of the configuration",
    ),
    f("category", "string", "the category of the configuration"),
    f(
        "description",
        "string",
        "the description of the configuration",
    ),
    f("type", "string", "the type of the configuration value"),
    f(
        "scope",
        "string",
        "scope(zone/cluster/pool/account) of the parameter that needs to be updated",
    ),
    f(
        "isdynamic",
        "boolean",
        "true if the configuration is dynamic",
    ),
];

pub const CAPABILITY: &[Field] = &[
    f("cloudstackversion", "string", "version of the cloud stack"),
    f(
        "securitygroupsenabled",
        "boolean",
        "true if security groups support is enabled, false otherwise",
    ),
    f(
        "userpublictemplateenabled",
        "boolean",
        "true if user and domain admins can set templates to be shared, false otherwise",
    ),
    f(
        "supportELB",
        "string",
        "true if region supports elastic load balancer on basic zones",
    ),
    f(
        "projectinviterequired",
        "boolean",
        "If invitation confirmation is required when add account to project",
    ),
    f(
        "allowusercreateprojects",
        "boolean",
        "true if regular user is allowed to create projects",
    ),
    f(
        "customdiskofferingminsize",
        "long",
        "minimum size that can be specified when create disk from disk offering with custom size",
    ),
    f(
        "customdiskofferingmaxsize",
        "long",
        "maximum size that can be specified when create disk from disk offering with custom size",
    ),
    f(
        "kvmsnapshotenabled",
        "boolean",
        "true if snapshot is supported for KVM host, false otherwise",
    ),
    f(
        "apilimitinterval",
        "integer",
        "time interval (in seconds) to reset api count",
    ),
    f(
        "apilimitmax",
        "integer",
        "Max allowed number of api requests within the specified interval",
    ),
    f(
        "allowuserviewdestroyedvm",
        "boolean",
        "true if the user is allowed to view destroyed virtualmachines, false otherwise",
    ),
    f(
        "allowuserexpungerecovervm",
        "boolean",
        "true if the user can recover and expunge virtualmachines, false otherwise",
    ),
    f(
        "dynamicrolesenabled",
        "boolean",
        "true if dynamic role-based api checker is enabled, false otherwise",
    ),
    f(
        "defaultuipagesize",
        "long",
        "default page size in the UI for various views, value set in the configurations",
    ),
];

pub const API: &[Field] = &[
    f("name", "string", "the name of the api command"),
    f("description", "string", "description of the api"),
    f("isasync", "boolean", "true if api is asynchronous"),
    f("related", "string", "comma separated related apis"),
    f(
        "since",
        "string",
        "version of CloudStack the api was introduced in",
    ),
    f("params", "set", "the list params the api accepts"),
    f("response", "set", "api response fields"),
];

pub const LOGIN: &[Field] = &[
    f("username", "string", "Username"),
    f("userid", "string", "User ID"),
    f("domainid", "string", "Domain ID that the user belongs to"),
    f(
        "timeout",
        "integer",
        "the time period before the session has expired",
    ),
    f("account", "string", "the account name the user belongs to"),
    f("firstname", "string", "first name of the user"),
    f("lastname", "string", "last name of the user"),
    f(
        "type",
        "string",
        "the account type (admin, domain-admin, read-only-admin, user)",
    ),
    f(
        "sessionkey",
        "string",
        "Session key that can be passed in place of apikey and signature",
    ),
];

pub const SUCCESS: &[Field] = &[
    f(
        "success",
        "boolean",
        "true if operation is executed successfully",
    ),
    f(
        "displaytext",
        "string",
        "any text associated with the success or failure",
    ),
];

pub use super::objects_identity::*;
pub use super::objects_infra::*;
pub use super::objects_storage::*;
