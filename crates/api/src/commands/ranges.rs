//! Public IP ranges (VLAN IP ranges: create, list, update, dedicate, release, delete),
//! guest VLAN ranges dedicated to accounts, and autoscale VM groups (listed: none).

use super::objects::*;
use super::objects_net::*;
use crate::registry::{roles::*, CommandSpec, ParamType::*};

pub fn specs() -> Vec<CommandSpec> {
    vec![
        CommandSpec::new("createVlanIpRange", "Creates a VLAN IP range.")
            .roles(ADMIN)
            .returns("vlan", VLAN_RANGE)
            .related("listVlanIpRanges")
            .opt("zoneid", Uuid, "the Zone ID of the VLAN IP range")
            .rel("listZones")
            .opt("podid", Uuid, "optional parameter. Have to be specified for Direct Untagged vlan only.")
            .rel("listPods")
            .opt("physicalnetworkid", Uuid, "the physical network id")
            .rel("listPhysicalNetworks")
            .opt("networkid", Uuid, "the network id (an IP range of a shared network)")
            .rel("listNetworks")
            .opt("vlan", String, "the ID or VID of the VLAN. If not specified, will be defaulted to the vlan of the network or if vlan of the network is null - to Untagged")
            .opt("gateway", String, "the gateway of the VLAN IP range")
            .opt("netmask", String, "the netmask of the VLAN IP range")
            .opt("startip", String, "the beginning IP address in the VLAN IP range")
            .opt("endip", String, "the ending IP address in the VLAN IP range")
            .opt("forvirtualnetwork", Boolean, "true if VLAN is of Virtual type, false if Direct")
            .opt("forsystemvms", Boolean, "true if IP range is set to system vms, false if not")
            .opt("forloadbalancers", Boolean, "true for a service IP pool: the range's addresses go only to load balancer rules created without publicipid (dedicated with account: that account's pool) (Canopy)")
            .opt("account", String, "account who will own the VLAN. If VLAN is Zone wide, this parameter should be omitted")
            .opt("domainid", Uuid, "domain ID of the account owning a VLAN")
            .rel("listDomains")
            .opt("projectid", Uuid, "project who will own the VLAN"),
        CommandSpec::new("listAutoScaleVmGroups", "Lists autoscale vm groups (Canopy has no autoscaling: always empty).")
            .returns("autoscalevmgroup", AUTOSCALE_VM_GROUP)
            .owned_list()
            .opt("id", Uuid, "the ID of the autoscale vm group")
            .opt("name", String, "the name of the autoscale vmgroup")
            .opt("lbruleid", Uuid, "the ID of the loadbalancer")
            .rel("listLoadBalancerRules")
            .opt("vmprofileid", Uuid, "the ID of the profile")
            .opt("policyid", Uuid, "the ID of the policy")
            .opt("zoneid", Uuid, "the availability zone ID")
            .rel("listZones")
            .opt("fordisplay", Boolean, "list resources by display flag"),
        CommandSpec::new("listVlanIpRanges", "Lists all VLAN IP ranges.")
            .roles(ADMIN)
            .returns("vlaniprange", VLAN_RANGE)
            .list()
            .opt("id", Uuid, "the ID of the VLAN IP range")
            .opt("zoneid", Uuid, "the Zone ID of the VLAN IP range")
            .rel("listZones")
            .opt("networkid", Uuid, "network id of the VLAN IP range")
            .rel("listNetworks")
            .opt("physicalnetworkid", Uuid, "physical network id of the VLAN IP range")
            .opt("forvirtualnetwork", Boolean, "true if VLAN is of Virtual type, false if Direct")
            .opt("vlan", String, "the ID or VID of the VLAN. Default is an \"untagged\" VLAN.")
            .opt("account", String, "the account with which the VLAN IP range is associated. Must be used with the domainId parameter.")
            .opt("domainid", Uuid, "the domain ID with which the VLAN IP range is associated."),
        CommandSpec::new("dedicatePublicIpRange", "Dedicates a Public IP range to an account")
            .roles(ADMIN)
            .returns("vlan", VLAN_RANGE)
            .req("id", Uuid, "the id of the VLAN IP range")
            .rel("listVlanIpRanges")
            .req("account", String, "account who will own the VLAN")
            .opt("domainid", Uuid, "domain ID of the account owning a VLAN")
            .rel("listDomains"),
        CommandSpec::new("releasePublicIpRange", "Releases a Public IP range back to the system pool")
            .roles(ADMIN)
            .returns("success", SUCCESS)
            .req("id", Uuid, "the id of the Public IP range"),
        CommandSpec::new("updateVlanIpRange", "Updates a VLAN IP range.")
            .roles(ADMIN)
            .returns("vlan", VLAN_RANGE)
            .req("id", Uuid, "the UUID of the VLAN IP range")
            .rel("listVlanIpRanges")
            .opt("startip", String, "the beginning IP address in the VLAN IP range")
            .opt("endip", String, "the ending IP address in the VLAN IP range")
            .opt("gateway", String, "the gateway of the VLAN IP range")
            .opt("netmask", String, "the netmask of the VLAN IP range")
            .opt("forsystemvms", Boolean, "true if IP range is set to system vms, false if not"),
        CommandSpec::new("dedicateGuestVlanRange", "Dedicates a guest vlan range to an account")
            .roles(ADMIN)
            .returns("dedicatedguestvlanrange", GUEST_VLAN_RANGE)
            .req("vlanrange", String, "guest vlan range to be dedicated")
            .req("physicalnetworkid", Uuid, "physical network ID of the vlan")
            .rel("listPhysicalNetworks")
            .req("account", String, "account who will own the VLAN")
            .opt("domainid", Uuid, "domain ID of the account owning a VLAN")
            .rel("listDomains"),
        CommandSpec::new("listDedicatedGuestVlanRanges", "Lists dedicated guest vlan ranges")
            .roles(ADMIN)
            .returns("dedicatedguestvlanrange", GUEST_VLAN_RANGE)
            .list()
            .opt("id", Uuid, "list dedicated guest vlan ranges by id")
            .opt("account", String, "the account with which the guest VLAN range is associated. Must be used with the domainId parameter.")
            .opt("domainid", Uuid, "the domain ID with which the guest VLAN range is associated.  If used with the account parameter, returns all guest VLAN ranges for that account in the specified domain.")
            .opt("guestvlanrange", String, "the dedicated guest vlan range")
            .opt("physicalnetworkid", Uuid, "physical network id of the guest VLAN range")
            .opt("zoneid", Uuid, "zone of the guest VLAN range"),
        CommandSpec::new("releaseDedicatedGuestVlanRange", "Releases a dedicated guest vlan range to the system")
            .roles(ADMIN)
            .asynchronous()
            .returns("success", SUCCESS)
            .req("id", Uuid, "the ID of the dedicated guest vlan range")
            .rel("listDedicatedGuestVlanRanges"),
        CommandSpec::new("deleteVlanIpRange", "Deletes a VLAN IP range.")
            .roles(ADMIN)
            .returns("success", SUCCESS)
            .req("id", Uuid, "the id of the VLAN IP range")
            .rel("listVlanIpRanges"),
    ]
}

/// An autoscale VM group (listAutoScaleVmGroups answers none; CloudStack's fields).
const AUTOSCALE_VM_GROUP: &[crate::registry::Field] = &[
    crate::registry::f("id", "string", "the autoscale vm group ID"),
    crate::registry::f("name", "string", "the name of the autoscale vm group"),
    crate::registry::f("lbruleid", "string", "the load balancer rule ID"),
    crate::registry::f(
        "state",
        "string",
        "the current state of the AutoScale Vm Group",
    ),
];

/// A guest VLAN (VNI) range dedicated to an account.
const GUEST_VLAN_RANGE: &[crate::registry::Field] = &[
    crate::registry::f("id", "string", "the ID of the guest VLAN range"),
    crate::registry::f("guestvlanrange", "string", "the guest VLAN range"),
    crate::registry::f("account", "string", "the account of the guest VLAN range"),
    crate::registry::f(
        "accountid",
        "string",
        "the account ID of the guest VLAN range (Canopy)",
    ),
    crate::registry::f(
        "domainid",
        "string",
        "the domain ID of the guest VLAN range",
    ),
    crate::registry::f(
        "domain",
        "string",
        "the domain name of the guest VLAN range",
    ),
    crate::registry::f(
        "domainpath",
        "string",
        "path of the domain to which the guest VLAN range belongs",
    ),
    crate::registry::f(
        "physicalnetworkid",
        "string",
        "the physical network of the guest vlan range",
    ),
    crate::registry::f("zoneid", "string", "the zone of the guest vlan range"),
];
