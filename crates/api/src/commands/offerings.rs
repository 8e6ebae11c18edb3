//! Service (compute), disk and network offerings. Immutable once created except for their
//! names (and, for network offerings, state and availability).

use super::objects::*;
use crate::registry::{roles::*, CommandSpec, ParamType::*};

const ADMIN_DOMAIN: u8 = ADMIN | DOMAIN_ADMIN;

/// The I/O parameters of disk and service offerings (CloudStack's; applied as QEMU block
/// throttling and cache mode on the hosts).
fn io(spec: CommandSpec) -> CommandSpec {
    spec.opt(
        "bytesreadrate",
        Long,
        "bytes read rate of the disk offering",
    )
    .opt(
        "bytesreadratemax",
        Long,
        "burst bytes read rate of the disk offering",
    )
    .opt(
        "bytesreadratemaxlength",
        Long,
        "length (in seconds) of the burst",
    )
    .opt(
        "byteswriterate",
        Long,
        "bytes write rate of the disk offering",
    )
    .opt(
        "byteswriteratemax",
        Long,
        "burst bytes write rate of the disk offering",
    )
    .opt(
        "byteswriteratemaxlength",
        Long,
        "length (in seconds) of the burst",
    )
    .opt(
        "iopsreadrate",
        Long,
        "io requests read rate of the disk offering",
    )
    .opt(
        "iopsreadratemax",
        Long,
        "burst requests read rate of the disk offering",
    )
    .opt(
        "iopsreadratemaxlength",
        Long,
        "length (in seconds) of the burst",
    )
    .opt(
        "iopswriterate",
        Long,
        "io requests write rate of the disk offering",
    )
    .opt(
        "iopswriteratemax",
        Long,
        "burst io requests write rate of the disk offering",
    )
    .opt(
        "iopswriteratemaxlength",
        Long,
        "length (in seconds) of the burst",
    )
    .opt(
        "cachemode",
        String,
        "the cache mode to use for this disk offering: none, writeback or writethrough",
    )
}

pub fn specs() -> Vec<CommandSpec> {
    vec![
        // --- service offerings ------------------------------------------------------------
        io(CommandSpec::new("createServiceOffering", "Creates a service offering."))
            .roles(ADMIN_DOMAIN)
            .returns("serviceoffering", SERVICE_OFFERING)
            .related("listServiceOfferings")
            .req("name", String, "the name of the service offering")
            .opt("displaytext", String, "The display text of the service offering, defaults to 'name'.")
            .len(4096)
            .opt("cpunumber", Integer, "the CPU number of the service offering")
            .opt("cpuspeed", Integer, "the CPU speed of the service offering in MHz.")
            .opt("memory", Integer, "the total memory of the service offering in MB")
            .opt("customized", Boolean, "Whether service offering size is custom or not")
            .opt("mincpunumber", Integer, "The minimum number of CPUs to be set with Custom Compute Offering")
            .opt("maxcpunumber", Integer, "The maximum number of CPUs to be set with Custom Compute Offering")
            .opt("minmemory", Integer, "The minimum memory size of the custom service offering in MB")
            .opt("maxmemory", Integer, "The maximum memory size of the custom service offering in MB")
            .opt("storagetype", String, "the storage type of the service offering. Values are local and shared.")
            .opt("offerha", Boolean, "the HA for the service offering")
            .opt("limitcpuuse", Boolean, "restrict the CPU usage to committed service offering")
            .opt("hosttags", String, "the host tag for this service offering.")
            .opt("tags", String, "the tags for this service offering.")
            .opt("issystem", Boolean, "is this a system vm offering")
            .opt("systemvmtype", String, "the system VM type. Possible types are \"domainrouter\", \"consoleproxy\" and \"secondarystoragevm\".")
            .opt("deploymentplanner", String, "The deployment planner heuristics used to deploy a VM of this offering. If null, value of global config vm.deployment.planner is used")
            .opt("domainid", List, "the ID of the containing domain(s), null for public offerings")
            .of(Uuid)
            .opt("zoneid", List, "the ID of the containing zone(s), null for public offerings")
            .of(Uuid)
            .opt("provisioningtype", String, "provisioning type used to create volumes. Valid values are thin, sparse, fat.")
            .opt("rootdisksize", Long, "the Root disk size in GB.")
            .opt("networkrate", Integer, "data transfer rate in megabits per second allowed. Supported only for non-System offering and system offerings having \"domainrouter\" systemvmtype")
            .opt("serviceofferingdetails", Map, "details for planner, used to store specific parameters")
            .opt("dynamicscalingenabled", Boolean, "true if virtual machine needs to be dynamically scalable of cpu or memory")
            .opt("encryptroot", Boolean, "VMs using this offering require root volume encryption (Canopy: LUKS in qcow2 under a per-volume key)"),
        CommandSpec::new("listServiceOfferings", "Lists all available service offerings.")
            .returns("serviceoffering", SERVICE_OFFERING)
            .list()
            .opt("id", Uuid, "ID of the service offering")
            .opt("name", String, "name of the service offering")
            .opt("issystem", Boolean, "is this a system vm offering")
            .opt("systemvmtype", String, "the system VM type. Possible types are \"consoleproxy\", \"secondarystoragevm\" or \"domainrouter\".")
            .opt("zoneid", Uuid, "id of zone disk offering is associated with")
            .opt("domainid", Uuid, "the ID of the domain associated with the service offering")
            .opt("isrecursive", Boolean, "with domainid: also the offerings of its subdomains")
            .opt("cpunumber", Integer, "the CPU number that listed offerings must support")
            .opt("cpuspeed", Integer, "the CPU speed that listed offerings must support")
            .opt("memory", Integer, "the RAM memory that listed offering must support")
            .opt("state", String, "Filter by state of the service offering. Defaults to 'Active'. If set to 'all' shows both Active & Inactive offerings.")
            .opt("encryptroot", Boolean, "listed offerings support root disk encryption"),
        CommandSpec::new("updateServiceOffering", "Updates a service offering.")
            .roles(ADMIN_DOMAIN)
            .returns("serviceoffering", SERVICE_OFFERING)
            .req("id", Uuid, "the ID of the service offering to be updated")
            .opt("name", String, "the name of the service offering to be updated")
            .opt("displaytext", String, "the display text of the service offering to be updated")
            .len(4096)
            .opt("domainid", String, "the ID of the containing domain(s) as comma separated string, public for public offerings")
            .len(4096)
            .opt("zoneid", String, "the ID of the containing zone(s) as comma separated string, all for all zones offerings")
            .len(4096)
            .opt("sortkey", Integer, "sort key of the service offering, integer"),
        CommandSpec::new("deleteServiceOffering", "Deletes a service offering.")
            .roles(ADMIN_DOMAIN)
            .returns("success", SUCCESS)
            .req("id", Uuid, "the ID of the service offering"),
        // --- disk offerings ----------------------------------------------------------------
        io(CommandSpec::new("createDiskOffering", "Creates a disk offering."))
            .roles(ADMIN_DOMAIN)
            .returns("diskoffering", DISK_OFFERING)
            .related("listDiskOfferings")
            .req("name", String, "name of the disk offering")
            .opt("displaytext", String, "An alternate display text of the disk offering, defaults to 'name'.")
            .len(4096)
            .opt("disksize", Long, "size of the disk offering in GB (1GB = 1,073,741,824 bytes)")
            .opt("customized", Boolean, "whether disk offering size is custom or not")
            .opt("storagetype", String, "the storage type of the disk offering. Values are local and shared.")
            .opt("tags", String, "tags for the disk offering")
            .len(4096)
            .opt("provisioningtype", String, "provisioning type used to create volumes. Valid values are thin, sparse, fat.")
            .opt("miniops", Long, "min iops of the disk offering")
            .opt("maxiops", Long, "max iops of the disk offering")
            .opt("customizediops", Boolean, "whether disk offering iops is custom or not")
            .opt("displayoffering", Boolean, "an optional field, whether to display the offering to the end user or not.")
            .opt("domainid", List, "the ID of the containing domain(s), null for public offerings")
            .of(Uuid)
            .opt("zoneid", List, "the ID of the containing zone(s), null for public offerings")
            .of(Uuid)
            .opt("encrypt", Boolean, "Volumes using this offering should be encrypted")
            .opt("disksizestrictness", Boolean, "To allow or disallow the resize operation on the disks created from this disk offering"),
        CommandSpec::new("listDiskOfferings", "Lists all available disk offerings.")
            .returns("diskoffering", DISK_OFFERING)
            .list()
            .opt("id", Uuid, "ID of the disk offering")
            .opt("name", String, "name of the disk offering")
            .opt("zoneid", Uuid, "id of zone disk offering is associated with")
            .opt("domainid", Uuid, "the ID of the domain of the disk offering.")
            .opt("isrecursive", Boolean, "with domainid: also the offerings of its subdomains")
            .opt("storagetype", String, "the storage type of the service offering. Values are local and shared.")
            .opt("state", String, "Filter by state of the disk offering. Defaults to 'Active'. If set to 'all' shows both Active & Inactive offerings.")
            .opt("encrypt", Boolean, "listed disk offerings support disk encryption"),
        CommandSpec::new("updateDiskOffering", "Updates a disk offering.")
            .roles(ADMIN_DOMAIN)
            .returns("diskoffering", DISK_OFFERING)
            .req("id", Uuid, "ID of the disk offering")
            .opt("name", String, "updates name of the disk offering with this value")
            .opt("displaytext", String, "updates alternate display text of the disk offering with this value")
            .len(4096)
            .opt("domainid", String, "the ID of the containing domain(s) as comma separated string, public for public offerings")
            .len(4096)
            .opt("zoneid", String, "the ID of the containing zone(s) as comma separated string, all for all zones offerings")
            .len(4096)
            .opt("sortkey", Integer, "sort key of the disk offering, integer")
            .opt("displayoffering", Boolean, "an optional field, whether to display the offering to the end user or not."),
        CommandSpec::new("deleteDiskOffering", "Updates a disk offering.")
            .roles(ADMIN_DOMAIN)
            .returns("success", SUCCESS)
            .req("id", Uuid, "ID of the disk offering"),
        // --- network offerings -------------------------------------------------------------
        CommandSpec::new("createNetworkOffering", "Creates a network offering.")
            .roles(ADMIN)
            .returns("networkoffering", NETWORK_OFFERING)
            .related("listNetworkOfferings")
            .req("name", String, "the name of the network offering")
            .req("guestiptype", String, "guest type of the network offering: Shared, Isolated or L2")
            .req("traffictype", String, "the traffic type for the network offering. Supported type in current release is GUEST only")
            .opt("displaytext", String, "the display text of the network offering, defaults to the value of 'name'.")
            .len(4096)
            .opt("supportedservices", List, "services supported by the network offering")
            .opt("serviceproviderlist", Map, "provider to service mapping. If not specified, the provider for the service will be mapped to the default provider on the physical network")
            .opt("servicecapabilitylist", Map, "desired service capabilities as part of network offering")
            .opt("availability", String, "the availability of network offering. The default value is Optional.  Another value is Required, which will make it as the default network offering for new networks")
            .opt("specifyvlan", Boolean, "true if network offering supports vlans")
            .opt("specifyipranges", Boolean, "true if network offering supports specifying ip ranges; defaulted to false if not specified")
            .opt("conservemode", Boolean, "true if the network offering is IP conserve mode enabled")
            .opt("ispersistent", Boolean, "true if network offering supports persistent networks; defaulted to false if not specified")
            .opt("egressdefaultpolicy", Boolean, "true if guest network default egress policy is allow; false if default egress policy is deny")
            .opt("forvpc", Boolean, "true if network offering is meant to be used for VPC, false otherwise.")
            .opt("networkrate", Integer, "data transfer rate in megabits per second allowed")
            .opt("tags", String, "the tags for the network offering.")
            .len(4096)
            .opt("domainid", List, "the ID of the containing domain(s), null for public offerings")
            .of(Uuid)
            .opt("zoneid", List, "the ID of the containing zone(s), null for public offerings")
            .of(Uuid)
            .opt("enable", Boolean, "set to true if the offering is to be enabled during creation. Default is false"),
        CommandSpec::new("listNetworkOfferings", "Lists all available network offerings.")
            .returns("networkoffering", NETWORK_OFFERING)
            .list()
            .opt("id", Uuid, "list network offerings by ID")
            .opt("name", String, "list network offerings by name")
            .opt("guestiptype", String, "list network offerings by guest type: shared or isolated")
            .opt("traffictype", String, "list by traffic type")
            .opt("availability", String, "the availability of network offering. Default value is required")
            .opt("state", String, "list network offerings by state")
            .opt("isdefault", Boolean, "true if need to list only default network offerings. Default value is false")
            .opt("specifyvlan", Boolean, "the tags for the network offering.")
            .opt("specifyipranges", Boolean, "true if need to list only network offerings which support specifying ip ranges")
            .opt("supportedservices", List, "list network offerings supporting certain services")
            .opt("sourcenatsupported", Boolean, "true if need to list only netwok offerings where source NAT is supported, false otherwise")
            .opt("forvpc", Boolean, "the network offering can be used only for network creation inside the VPC")
            .opt("zoneid", Uuid, "list network offerings available for network creation in specific zone")
            .opt("domainid", Uuid, "list network offerings available for network creation in specific domain"),
        CommandSpec::new("updateNetworkOffering", "Updates a network offering.")
            .roles(ADMIN)
            .returns("networkoffering", NETWORK_OFFERING)
            .opt("id", Uuid, "the id of the network offering")
            .opt("name", String, "the name of the network offering")
            .opt("displaytext", String, "the display text of the network offering")
            .len(4096)
            .opt("availability", String, "the availability of network offering. The value is Required makes this network offering default for Guest Virtual Networks. Only one network offering can have the value Required")
            .opt("state", String, "update state for the network offering")
            .opt("sortkey", Integer, "sort key of the network offering, integer"),
        CommandSpec::new("deleteNetworkOffering", "Deletes a network offering.")
            .roles(ADMIN)
            .returns("success", SUCCESS)
            .req("id", Uuid, "the ID of the network offering"),
    ]
}
