//! Scheduling: affinity groups, and admission policies (a Canopy addition, after OpenShift
//! peer pods' mutating webhook).

use super::objects_sched::*;
use crate::registry::{roles::*, CommandSpec, ParamType::*};

pub fn specs() -> Vec<CommandSpec> {
    let mut v = affinity();
    v.extend(dedication());
    v.extend(admission());
    v
}

/// dedicateZone/Pod/Cluster/Host, their list and release commands.
fn dedication() -> Vec<CommandSpec> {
    let mut v = Vec::new();
    for (kind, param, key, fields, list_name, related) in [
        (
            "Zone",
            "zoneid",
            "dedicatedzone",
            DEDICATED_ZONE,
            "listDedicatedZones",
            "listZones",
        ),
        (
            "Pod",
            "podid",
            "dedicatedpod",
            DEDICATED_POD,
            "listDedicatedPods",
            "listPods",
        ),
        (
            "Cluster",
            "clusterid",
            "dedicatedcluster",
            DEDICATED_CLUSTER,
            "listDedicatedClusters",
            "listClusters",
        ),
        (
            "Host",
            "hostid",
            "dedicatedhost",
            DEDICATED_HOST,
            "listDedicatedHosts",
            "listHosts",
        ),
    ] {
        let (dedicate, release): (&'static str, &'static str) = match kind {
            "Zone" => ("dedicateZone", "releaseDedicatedZone"),
            "Pod" => ("dedicatePod", "releaseDedicatedPod"),
            "Cluster" => ("dedicateCluster", "releaseDedicatedCluster"),
            _ => ("dedicateHost", "releaseDedicatedHost"),
        };
        v.push(
            // Root admins only, as CloudStack: a domain admin could otherwise take the
            // infrastructure other tenants run on for their own domain.
            CommandSpec::new(dedicate, "Dedicates a resource to a domain or an account: placement keeps everyone else off it and tries it first for its owner")
                .roles(ADMIN)
                .asynchronous()
                .returns(key, fields)
                .related(list_name)
                .req(param, Uuid, "the ID of the resource to dedicate")
                .rel(related)
                .req("domainid", Uuid, "the ID of the containing domain")
                .rel("listDomains")
                .opt("account", String, "the name of the account which needs dedication. Must be used with domainId."),
        );
        v.push(
            CommandSpec::new(list_name, "Lists dedicated resources of this kind")
                .roles(ADMIN | DOMAIN_ADMIN)
                .returns(key, fields)
                .list()
                .opt(param, Uuid, "the ID of the resource")
                .rel(related)
                .opt("domainid", Uuid, "the ID of the domain it is dedicated to")
                .rel("listDomains")
                .opt("account", String, "the name of the account it is dedicated to. Must be used with domainId.")
                .opt("affinitygroupid", Uuid, "list dedicated resources by affinity group (Canopy creates no dedication groups: matches nothing)"),
        );
        v.push(
            CommandSpec::new(release, "Releases a dedicated resource")
                .roles(ADMIN)
                .asynchronous()
                .returns("success", SUCCESS)
                .req(param, Uuid, "the ID of the dedicated resource")
                .rel(related),
        );
    }
    v
}

fn affinity() -> Vec<CommandSpec> {
    vec![
        CommandSpec::new("listAffinityGroupTypes", "Lists affinity group types available")
            .returns("affinityGroupType", AFFINITY_GROUP_TYPE)
            .list(),
        CommandSpec::new("createAffinityGroup", "Creates an affinity/anti-affinity group")
            .asynchronous()
            .creates()
            .returns("affinitygroup", AFFINITY_GROUP)
            .related("listAffinityGroups")
            .req("name", String, "name of the affinity group")
            .len(255)
            .req("type", String, "Type of the affinity group from the available affinity/anti-affinity group types: host affinity, host anti-affinity, non-strict host affinity, non-strict host anti-affinity")
            .opt("description", String, "optional description of the affinity group")
            .len(4096)
            .opt("account", String, "an account for the affinity group. Must be used with domainId.")
            .opt("domainid", Uuid, "domainId of the account owning the affinity group")
            .rel("listDomains")
            .opt("projectid", Uuid, "create affinity group for project"),
        CommandSpec::new("deleteAffinityGroup", "Deletes affinity group")
            .asynchronous()
            .returns("success", SUCCESS)
            .opt("id", Uuid, "The ID of the affinity group. Mutually exclusive with name parameter")
            .rel("listAffinityGroups")
            .opt("name", String, "The name of the affinity group. Mutually exclusive with ID parameter")
            .opt("account", String, "the account of the affinity group. Must be specified with domain ID")
            .opt("domainid", Uuid, "the domain ID of account owning the affinity group")
            .rel("listDomains")
            .opt("projectid", Uuid, "the ID of the project"),
        CommandSpec::new("listAffinityGroups", "Lists affinity groups")
            .returns("affinitygroup", AFFINITY_GROUP)
            .owned_list()
            .opt("id", Uuid, "list the affinity group by the ID provided")
            .rel("listAffinityGroups")
            .opt("name", String, "lists affinity groups by name")
            .opt("type", String, "lists affinity groups by type")
            .opt("virtualmachineid", Uuid, "lists affinity groups by virtual machine ID")
            .rel("listVirtualMachines")
            .opt("projectid", Uuid, "list objects by project"),
        CommandSpec::new("updateVMAffinityGroup", "Updates the affinity/anti-affinity group associations of a virtual machine. The VM has to be stopped and restarted for the new properties to take effect.")
            .asynchronous()
            .returns("virtualmachine", super::objects_vm::VIRTUAL_MACHINE)
            .related("listVirtualMachines")
            .req("id", Uuid, "The ID of the virtual machine")
            .rel("listVirtualMachines")
            .opt("affinitygroupids", List, "comma separated list of affinity groups id that are going to be applied to the virtual machine. Should be passed only when vm is created from a zone with Basic Network support. Mutually exclusive with securitygroupnames parameter")
            .of(Uuid)
            .rel("listAffinityGroups")
            .opt("affinitygroupnames", List, "comma separated list of affinity groups names that are going to be applied to the virtual machine. Mutually exclusive with affinitygroupids parameter")
            .of(String),
    ]
}

fn admission() -> Vec<CommandSpec> {
    vec![
        CommandSpec::new("createAdmissionPolicy", "Creates an admission policy: deploys naming its runtime class (details[0].runtimeclass, or the service offering's runtimeclass detail) are rewritten before placement or refused (Canopy)")
            .roles(ADMIN)
            .returns("admissionpolicy", ADMISSION_POLICY)
            .related("listAdmissionPolicies")
            .req("name", String, "the policy's name: letters, digits, '-', '_', '.'")
            .req("runtimeclass", String, "the runtime class it applies to (one policy per class)")
            .opt("action", String, "mutate (default: rewrite the request) or refuse (431 naming the policy)")
            .opt("dropcpu", Boolean, "drop the VM's CPU reservation on its host (default true; the original is kept as the VM's detail originalcpureservation)")
            .opt("dropmemory", Boolean, "drop the VM's memory reservation (default true; detail originalmemoryreservation)")
            .opt("hosttags", List, "host tags the VM's host must carry, besides the offering's (a node selector)")
            .of(String)
            .opt("protecteddomainids", List, "domains (with their subdomains) whose accounts' deploys are left alone")
            .of(Uuid)
            .rel("listDomains")
            .opt("protectedaccountids", List, "accounts whose deploys are left alone")
            .of(Uuid)
            .rel("listAccounts")
            .opt("description", String, "what the policy is for (shown in a refusal)")
            .len(1024),
        CommandSpec::new("listAdmissionPolicies", "Lists admission policies (Canopy)")
            .roles(ADMIN)
            .returns("admissionpolicy", ADMISSION_POLICY)
            .list()
            .opt("id", Uuid, "the policy's ID")
            .rel("listAdmissionPolicies")
            .opt("name", String, "the policy's name")
            .opt("runtimeclass", String, "the runtime class"),
        CommandSpec::new("updateAdmissionPolicy", "Changes an admission policy; deploys after the change follow it (Canopy)")
            .roles(ADMIN)
            .returns("admissionpolicy", ADMISSION_POLICY)
            .related("listAdmissionPolicies")
            .req("id", Uuid, "the policy's ID")
            .rel("listAdmissionPolicies")
            .opt("name", String, "a new name")
            .opt("runtimeclass", String, "a new runtime class")
            .opt("action", String, "mutate or refuse")
            .opt("dropcpu", Boolean, "drop the CPU reservation")
            .opt("dropmemory", Boolean, "drop the memory reservation")
            .opt("hosttags", List, "host tags to require (empty clears)")
            .of(String)
            .opt("protecteddomainids", List, "protected domains (empty clears)")
            .of(Uuid)
            .rel("listDomains")
            .opt("protectedaccountids", List, "protected accounts (empty clears)")
            .of(Uuid)
            .rel("listAccounts")
            .opt("description", String, "what the policy is for")
            .len(1024),
        CommandSpec::new("deleteAdmissionPolicy", "Deletes an admission policy; VMs it admitted keep what it did (Canopy)")
            .roles(ADMIN)
            .returns("success", SUCCESS)
            .req("id", Uuid, "the policy's ID")
            .rel("listAdmissionPolicies"),
    ]
}
