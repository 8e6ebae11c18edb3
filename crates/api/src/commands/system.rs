//! Discovery, sessions, jobs, events and configuration.

use super::objects::*;
use crate::registry::{f, roles::*, CommandSpec, Field, ParamType::*};

pub fn specs() -> Vec<CommandSpec> {
    vec![
        CommandSpec::new("login", "Logs a user into the CloudStack. A successful login attempt will generate a JSESSIONID cookie value that can be passed in subsequent Query command calls until the \"logout\" command has been issued or the session has expired.")
            .returns("loginresponse", LOGIN)
            .req("username", String, "Username")
            .req("password", String, "Hashed password (Default is MD5). If you wish to use any other hashing algorithm, you would need to write a custom authentication adapter See Docs section.")
            .opt("domain", String, "Path of the domain that the user belongs to. Example: domain=/com/cloud/internal. If no domain is passed in, the ROOT (/) domain is assumed.")
            .opt("domainid", String, "The id of the domain that the user belongs to. If both domain and domainId are passed in, \"domainId\" parameter takes precedence."),
        CommandSpec::new("logout", "Logs out the user").returns("logoutresponse", &[]),
        CommandSpec::new("listCapabilities", "Lists capabilities").returns("capability", CAPABILITY),
        CommandSpec::new("listApis", "lists all available apis on the server, provided by the Api Discovery plugin")
            .returns("api", API)
            .opt("name", String, "API name"),
        CommandSpec::new("queryAsyncJobResult", "Retrieves the current status of asynchronous job.")
            .returns("asyncjobs", ASYNC_JOB)
            .related("listAsyncJobs")
            .req("jobid", Uuid, "the ID of the asynchronous job"),
        CommandSpec::new("listAsyncJobs", "Lists all pending asynchronous jobs for the account.")
            .returns("asyncjobs", ASYNC_JOB)
            .related("queryAsyncJobResult")
            .owned_list()
            .opt("startdate", Date, "The start date of the async job (use format \"yyyy-MM-dd'T'HH:mm:ss'+'SSSS\")")
            .with_time()
            .opt("managementserverid", Uuid, "The id of the management server"),
        CommandSpec::new("listEvents", "A command to list events.")
            .returns("event", EVENT)
            .owned_list()
            .opt("id", Uuid, "the ID of the event")
            .opt("type", String, "the event type (see event types)")
            .opt("level", String, "the event level (INFO, WARN, ERROR)")
            .opt("startdate", Date, "the start date range of the list you want to retrieve (use format \"yyyy-MM-dd\" or the new format \"yyyy-MM-dd HH:mm:ss\")")
            .with_time()
            .opt("enddate", Date, "the end date range of the list you want to retrieve (use format \"yyyy-MM-dd\" or the new format \"yyyy-MM-dd HH:mm:ss\")")
            .with_time()
            .opt("resourceid", String, "the ID of the resource associated with the event")
            .opt("resourcetype", String, "the type of the resource associated with the event")
            .opt("startid", Uuid, "the parent/start ID of the event, when provided this will list all the events with the start/parent ID including the parent event")
            .opt("archived", Boolean, "true to list archived events, otherwise false (the default)"),
        CommandSpec::new("listAlerts", "Lists all alerts.")
            .roles(ADMIN)
            .returns("alert", ALERT)
            .list()
            .opt("id", Uuid, "the ID of the alert")
            .opt("type", Integer, "list by alert type")
            .opt("name", String, "list by alert name"),
        CommandSpec::new("archiveAlerts", "Archive one or more alerts.")
            .roles(ADMIN)
            .returns("success", SUCCESS)
            .opt("ids", List, "the IDs of the alerts")
            .opt("type", String, "archive by alert type")
            .opt("startdate", Date, "the start date range of the alerts to archive (use format \"yyyy-MM-dd\" or \"yyyy-MM-dd HH:mm:ss\")")
            .with_time()
            .opt("enddate", Date, "the end date range of the alerts to archive (use format \"yyyy-MM-dd\" or \"yyyy-MM-dd HH:mm:ss\")")
            .with_time(),
        CommandSpec::new("deleteAlerts", "Delete one or more alerts.")
            .roles(ADMIN)
            .returns("success", SUCCESS)
            .opt("ids", List, "the IDs of the alerts")
            .opt("type", String, "delete by alert type")
            .opt("startdate", Date, "the start date range of the alerts to delete (use format \"yyyy-MM-dd\" or \"yyyy-MM-dd HH:mm:ss\")")
            .with_time()
            .opt("enddate", Date, "the end date range of the alerts to delete (use format \"yyyy-MM-dd\" or \"yyyy-MM-dd HH:mm:ss\")")
            .with_time(),
        CommandSpec::new("archiveEvents", "Archive one or more events.")
            .returns("success", SUCCESS)
            .opt("ids", List, "the IDs of the events")
            .opt("type", String, "archive by event type")
            .opt("startdate", Date, "the start date range of the events to archive (use format \"yyyy-MM-dd\" or \"yyyy-MM-dd HH:mm:ss\")")
            .with_time()
            .opt("enddate", Date, "the end date range of the events to archive (use format \"yyyy-MM-dd\" or \"yyyy-MM-dd HH:mm:ss\")")
            .with_time(),
        CommandSpec::new("deleteEvents", "Delete one or more events.")
            .returns("success", SUCCESS)
            .opt("ids", List, "the IDs of the events")
            .opt("type", String, "delete by event type")
            .opt("startdate", Date, "the start date range of the events to delete (use format \"yyyy-MM-dd\" or \"yyyy-MM-dd HH:mm:ss\")")
            .with_time()
            .opt("enddate", Date, "the end date range of the events to delete (use format \"yyyy-MM-dd\" or \"yyyy-MM-dd HH:mm:ss\")")
            .with_time(),
        CommandSpec::new("listConfigurations", "Lists all configurations.")
            .roles(ADMIN)
            .returns("configuration", CONFIGURATION)
            .list()
            .opt("name", String, "lists configuration by name")
            .opt("category", String, "lists configurations by category")
            .opt("zoneid", Uuid, "the ID of the Zone to list the parameter value for corresponding zone")
            .rel("listZones")
            .opt("clusterid", Uuid, "the ID of the Cluster to list the parameter value for corresponding cluster")
            .rel("listClusters")
            .opt("storageid", Uuid, "the ID of the Storage pool to list the parameter value for corresponding storage pool")
            .rel("listStoragePools")
            .opt("imagestoreid", Uuid, "the ID of the Image Store to list the parameter value for corresponding image store")
            .rel("listImageStores")
            .opt("domainid", Uuid, "the ID of the Domain to list the parameter value for corresponding domain")
            .rel("listDomains")
            .opt("accountid", Uuid, "the ID of the Account to list the parameter value for corresponding account")
            .rel("listAccounts")
            .opt("group", String, "lists configuration by group name (listConfigurationGroups)")
            .opt("subgroup", String, "lists configuration by subgroup name"),
        CommandSpec::new("listConfigurationGroups", "Lists all configuration groups (primarily used for UI).")
            .roles(ADMIN)
            .returns("configurationgroup", CONFIGURATION_GROUP)
            .list()
            .opt("name", String, "lists configuration group by group name"),
        CommandSpec::new("listRegions", "Lists Regions")
            .returns("region", REGION)
            .list()
            .opt("id", Integer, "List Region by region ID.")
            .opt("name", String, "List Region by region name."),
        CommandSpec::new("addRegion", "Adds a Region")
            .roles(ADMIN)
            .returns("region", REGION)
            .req("id", Integer, "Id of the Region")
            .req("name", String, "Name of the region")
            .req("endpoint", String, "Region service endpoint"),
        CommandSpec::new("updateRegion", "Updates a region")
            .roles(ADMIN)
            .returns("region", REGION)
            .req("id", Integer, "Id of region to update")
            .opt("name", String, "updates region with this name")
            .opt("endpoint", String, "updates region with this end point"),
        CommandSpec::new("removeRegion", "Removes specified region")
            .roles(ADMIN)
            .returns("success", SUCCESS)
            .req("id", Integer, "ID of the region to delete"),
        CommandSpec::new("listManagementServers", "Lists management servers.")
            .roles(ADMIN)
            .returns("managementserver", MANAGEMENT_SERVER)
            .list()
            .opt("id", Uuid, "the id of the management server")
            .opt("name", String, "the name of the management server")
            .opt("peers", Boolean, "whether to include the management server peers (accepted; Canopy lists peers as servers)"),
        CommandSpec::new("listManagementServersMetrics", "Lists Management Server metrics")
            .roles(ADMIN)
            .returns("managementserver", MANAGEMENT_SERVER)
            .returns_also(MANAGEMENT_SERVER_METRICS)
            .list()
            .opt("id", Uuid, "the id of the management server")
            .opt("name", String, "the name of the management server")
            .opt("system", Boolean, "include system level stats (always included)")
            .opt("peers", Boolean, "whether to include the management server peers (accepted)"),
        CommandSpec::new("prepareForMaintenance", "Prepares management server for maintenance by preventing new jobs from being accepted after completion of active jobs and migrating the agents")
            .roles(ADMIN)
            .returns("managementserver", MANAGEMENT_SERVER_MAINTENANCE)
            .req("managementserverid", Uuid, "The id of the management server")
            .opt("algorithm", String, "indirect agents load balancer algorithm (static, roundrobin, shuffle) to move the agents with (accepted; the global setting applies)")
            .opt("forced", Boolean, "Force management server maintenance even when another server is preparing for maintenance"),
        CommandSpec::new("cancelMaintenance", "Cancels maintenance of the management server")
            .roles(ADMIN)
            .returns("managementserver", MANAGEMENT_SERVER_MAINTENANCE)
            .req("managementserverid", Uuid, "The id of the management server")
            .opt("rebalance", Boolean, "Rebalance agents across the servers after cancelling (accepted; agents stay where they are)"),
        CommandSpec::new("listBackgroundTasks", "Canopy addition: lists the management server's background tasks with their status")
            .roles(ADMIN)
            .returns("backgroundtask", BACKGROUND_TASK)
            .list()
            .opt("name", String, "the task's name"),
        CommandSpec::new("runBackgroundTask", "Canopy addition: runs a background task now (after its current run, if one is under way)")
            .roles(ADMIN)
            .returns("backgroundtask", BACKGROUND_TASK)
            .req("name", String, "the task's name"),
        CommandSpec::new("updateConfiguration", "Updates a configuration.")
            .roles(ADMIN)
            .returns("configuration", CONFIGURATION)
            .req("name", String, "the name of the configuration")
            .opt("value", String, "the value of the configuration")
            .len(4096)
            .opt("zoneid", Uuid, "the ID of the Zone to update the parameter value for corresponding zone")
            .rel("listZones")
            .opt("clusterid", Uuid, "the ID of the Cluster to update the parameter value for corresponding cluster")
            .rel("listClusters")
            .opt("storageid", Uuid, "the ID of the Storage pool to update the parameter value for corresponding storage pool")
            .rel("listStoragePools")
            .opt("imagestoreid", Uuid, "the ID of the Image Store to update the parameter value for corresponding image store")
            .rel("listImageStores")
            .opt("domainid", Uuid, "the ID of the Domain to update the parameter value for corresponding domain")
            .rel("listDomains")
            .opt("accountid", Uuid, "the ID of the Account to update the parameter value for corresponding account")
            .rel("listAccounts"),
        CommandSpec::new("resetConfiguration", "Resets a configuration. The configuration will be set to default value for global setting, and removed from account_details or domain_details for Account/Domain settings")
            .roles(ADMIN)
            .returns("configuration", CONFIGURATION)
            .req("name", String, "the name of the configuration")
            .opt("zoneid", Uuid, "the ID of the Zone to reset the parameter value for corresponding zone")
            .rel("listZones")
            .opt("clusterid", Uuid, "the ID of the Cluster to reset the parameter value for corresponding cluster")
            .rel("listClusters")
            .opt("storageid", Uuid, "the ID of the Storage pool to reset the parameter value for corresponding storage pool")
            .rel("listStoragePools")
            .opt("imagestoreid", Uuid, "the ID of the Image Store to reset the parameter value for corresponding image store")
            .rel("listImageStores")
            .opt("domainid", Uuid, "the ID of the Domain to reset the parameter value for corresponding domain")
            .rel("listDomains")
            .opt("accountid", Uuid, "the ID of the Account to reset the parameter value for corresponding account")
            .rel("listAccounts"),
    ]
}

pub const REGION: &[Field] = &[
    f("id", "integer", "the ID of the region"),
    f("name", "string", "the name of the region"),
    f("endpoint", "string", "the end point of the region"),
    f(
        "gslbserviceenabled",
        "boolean",
        "true if GSLB service is enabled in the region, false otherwise",
    ),
    f(
        "portableipserviceenabled",
        "boolean",
        "true if security groups support is enabled, false otherwise",
    ),
];

pub const ALERT: &[Field] = &[
    f("id", "string", "the id of the alert"),
    f("type", "short", "One of the following alert types: MEMORY = 0, CPU = 1, STORAGE = 2, STORAGE_ALLOCATED = 3, PUBLIC_IP = 4, PRIVATE_IP = 5, SECONDARY_STORAGE = 6, HOST = 7, USERVM = 8, DOMAIN_ROUTER = 9, CONSOLE_PROXY = 10, ROUTING = 11, STORAGE_MISC = 12, USAGE_SERVER = 13, MANAGMENT_NODE = 14, ..."),
    f("name", "string", "the name of the alert"),
    f("description", "string", "description of the alert"),
    f("sent", "date", "the date and time the alert was sent"),
    f("zoneid", "string", "the zone of the alert (Canopy)"),
    f("podid", "string", "the pod of the alert (Canopy)"),
    f("clusterid", "string", "the cluster of the alert (Canopy)"),
];

/// A group of settings (listConfigurationGroups).
const CONFIGURATION_GROUP: &[Field] = &[
    f("name", "string", "the name of the configuration group"),
    f(
        "description",
        "string",
        "the description of the configuration group",
    ),
    f(
        "precedence",
        "long",
        "the precedence of the configuration group",
    ),
    f(
        "subgroup",
        "list",
        "the subgroups of the configuration group",
    ),
];
