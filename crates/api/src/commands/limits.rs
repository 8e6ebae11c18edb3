//! Resource limits of accounts and domains.

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
    ]
}
