//! Resource limits of accounts and domains, and per-hypervisor capabilities (the per-host
//! guest limit).

use super::objects::*;
use crate::registry::{roles::*, CommandSpec, ParamType::*};

pub fn specs() -> Vec<CommandSpec> {
    vec![
        CommandSpec::new("listResourceLimits", "Lists resource limits.")
            .returns("resourcelimit", RESOURCE_LIMIT)
            .owned_list()
            .opt("id", Long, "Lists resource limits by ID (not supported: limits have no ids here)")
            .opt("resourcetype", Integer, "Type of resource: 0 Instance, 1 IP, 2 Volume, 3 Snapshot, 4 Template, 5 Project, 6 Network, 7 VPC, 8 CPU, 9 Memory (MiB), 10 PrimaryStorage (GiB), 11 SecondaryStorage (GiB)")
            .opt("resourcetypename", String, "Type of resource (wins over resourcetype): user_vm, public_ip, volume, snapshot, template, project, network, vpc, cpu, memory, primary_storage, secondary_storage"),
        CommandSpec::new("updateResourceLimit", "Updates resource limits for an account or domain.")
            .roles(ADMIN | DOMAIN_ADMIN)
            .returns("resourcelimit", RESOURCE_LIMIT)
            .req("resourcetype", Integer, "Type of resource to update: 0 Instance, 1 IP, 2 Volume, 3 Snapshot, 4 Template, 5 Project, 6 Network, 7 VPC, 8 CPU, 9 Memory (MiB), 10 PrimaryStorage (GiB), 11 SecondaryStorage (GiB)")
            .opt("max", Long, "Maximum resource limit; -1 (the default) for no limit")
            .opt("account", String, "Update resource for a specified account. Must be used with the domainId parameter.")
            .opt("domainid", Uuid, "Update resource limits for all accounts in specified domain. If used with the account parameter, updates resource limits for a specified account in specified domain.")
            .rel("listDomains"),
        CommandSpec::new("listHypervisorCapabilities", "Lists all hypervisor capabilities.")
            .roles(ADMIN)
            .returns("hypervisorCapabilities", HYPERVISOR_CAPABILITIES)
            .list()
            .opt("id", Uuid, "ID of the hypervisor capability")
            .opt("hypervisor", String, "the hypervisor for which to restrict the search"),
        CommandSpec::new("updateHypervisorCapabilities", "Updates a hypervisor capabilities.")
            .roles(ADMIN)
            .returns("hypervisorCapabilities", HYPERVISOR_CAPABILITIES)
            .req("id", Uuid, "ID of the hypervisor capability")
            .rel("listHypervisorCapabilities")
            .opt("maxguestslimit", Long, "the max number of Guest Virtual Machines per host for this hypervisor")
            .opt("maxdatavolumeslimit", Integer, "the maximum number of Data Volumes that can be attached to a VM for this hypervisor")
            .opt("securitygroupenabled", Boolean, "set true to enable security group for this hypervisor")
            .opt("storagemotionenabled", Boolean, "set true to enable storage motion support for this hypervisor")
            .opt("vmsnapshotenabled", Boolean, "set true to enable VM snapshots for this hypervisor"),
    ]
}
