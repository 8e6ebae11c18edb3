//! VPCs: VPC offerings, VPCs and their tiers' network ACL lists and items.

use super::objects::SUCCESS;
use super::objects_vpc::*;
use crate::registry::{roles::*, CommandSpec, ParamType::*};

fn owner(spec: CommandSpec, what: &'static str) -> CommandSpec {
    spec.opt("account", String, what)
        .opt("domainid", Uuid, "the domain of the account (with account)")
        .rel("listDomains")
        .opt("projectid", Uuid, "the project")
}

fn offerings() -> Vec<CommandSpec> {
    vec![
        CommandSpec::new("createVPCOffering", "Creates VPC offering")
            .roles(ADMIN)
            .creates()
            .returns("vpcoffering", VPC_OFFERING)
            .related("listVPCOfferings")
            .req("name", String, "the name of the vpc offering")
            .opt("displaytext", String, "the display text of the vpc offering, defaults to the 'name'")
            .len(4096)
            .req("supportedservices", List, "services supported by the vpc offering")
            .of(String)
            .opt("serviceproviderlist", Map, "provider to service mapping. If not specified, the provider for the service will be mapped to the default provider on the physical network")
            .opt("servicecapabilitylist", Map, "desired service capabilities as part of vpc offering")
            .opt("serviceofferingid", Uuid, "the ID of the service offering for the VPC router appliance")
            .rel("listServiceOfferings")
            .opt("internetprotocol", String, "The internet protocol of the offering. Options are ipv4 and dualstack (only ipv4 is supported)")
            .opt("domainid", List, "the ID of the containing domain(s), null for public offerings")
            .of(Uuid)
            .opt("zoneid", List, "the ID of the containing zone(s), null for public offerings")
            .of(Uuid)
            .opt("enable", Boolean, "set to true if the offering is to be enabled during creation. Default is false"),
        CommandSpec::new("listVPCOfferings", "Lists VPC offerings")
            .returns("vpcoffering", VPC_OFFERING)
            .list()
            .opt("id", Uuid, "list VPC offerings by id")
            .opt("name", String, "list VPC offerings by name")
            .opt("displaytext", String, "list VPC offerings by display text")
            .opt("isdefault", Boolean, "true if need to list only default VPC offerings. Default value is false")
            .opt("supportedservices", List, "list VPC offerings supporting certain services")
            .of(String)
            .opt("state", String, "list VPC offerings by state")
            .opt("zoneid", Uuid, "id of zone VPC offering is associated with")
            .rel("listZones")
            .opt("domainid", Uuid, "list VPC offerings available for VPC creation in specific domain")
            .rel("listDomains"),
        CommandSpec::new("updateVPCOffering", "Updates VPC offering")
            .roles(ADMIN)
            .asynchronous()
            .returns("vpcoffering", VPC_OFFERING)
            .related("listVPCOfferings")
            .req("id", Uuid, "the id of the VPC offering")
            .rel("listVPCOfferings")
            .opt("name", String, "the name of the VPC offering")
            .opt("displaytext", String, "the display text of the VPC offering")
            .len(4096)
            .opt("state", String, "update state for the VPC offering; supported states - Enabled/Disabled")
            .opt("sortkey", Integer, "sort key of the VPC offering, integer"),
        CommandSpec::new("deleteVPCOffering", "Deletes VPC offering")
            .roles(ADMIN)
            .asynchronous()
            .returns("success", SUCCESS)
            .req("id", Uuid, "the ID of the VPC offering")
            .rel("listVPCOfferings"),
    ]
}

fn vpcs() -> Vec<CommandSpec> {
    vec![
        owner(
            CommandSpec::new("createVPC", "Creates a VPC")
                .creates()
                .returns("vpc", VPC)
                .related("listVPCs")
                .req("name", String, "the name of the VPC")
                .opt("displaytext", String, "The display text of the VPC, defaults to its 'name'.")
                .req("cidr", String, "the cidr of the VPC. All VPC guest networks' cidrs should be within this CIDR")
                .req("vpcofferingid", Uuid, "the ID of the VPC offering")
                .rel("listVPCOfferings")
                .req("zoneid", Uuid, "the ID of the availability zone")
                .rel("listZones")
                .opt("networkdomain", String, "VPC network domain. All networks inside the VPC will belong to this domain")
                .opt("start", Boolean, "If set to false, the VPC won't start (VPC VR will not get allocated) until its first network gets implemented. True by default.")
                .opt("fordisplay", Boolean, "an optional field, whether to the display the vpc to the end user or not")
                .opt("dns1", String, "the first IPv4 DNS for the VPC")
                .opt("dns2", String, "the second IPv4 DNS for the VPC"),
            "the account associated with the VPC. Must be used with the domainId parameter.",
        ),
        CommandSpec::new("listVPCs", "Lists VPCs")
            .returns("vpc", VPC)
            .owned_list()
            .opt("id", Uuid, "list VPC by id")
            .opt("name", String, "list by name of the VPC")
            .opt("displaytext", String, "List by display text of the VPC")
            .opt("cidr", String, "list by cidr of the VPC. All VPC guest networks' cidrs should be within this CIDR")
            .opt("vpcofferingid", Uuid, "list by ID of the VPC offering")
            .rel("listVPCOfferings")
            .opt("zoneid", Uuid, "list by zone")
            .rel("listZones")
            .opt("state", String, "list VPCs by state")
            .opt("supportedservices", List, "list VPC supporting certain services")
            .of(String)
            .opt("restartrequired", Boolean, "list VPCs by restartRequired option")
            .opt("fordisplay", Boolean, "list resources by display flag; only ROOT admin is eligible to pass this parameter")
            .opt("projectid", Uuid, "list objects by project"),
        CommandSpec::new("updateVPC", "Updates a VPC")
            .asynchronous()
            .returns("vpc", VPC)
            .related("listVPCs")
            .req("id", Uuid, "the id of the VPC")
            .rel("listVPCs")
            .opt("name", String, "the name of the VPC")
            .opt("displaytext", String, "the display text of the VPC")
            .opt("fordisplay", Boolean, "an optional field, whether to the display the vpc to the end user or not")
            .opt("customid", String, "an optional field, in case you want to set a custom id to the resource. Allowed to Root Admins only (not supported: refused)"),
        CommandSpec::new("restartVPC", "Restarts a VPC")
            .asynchronous()
            .returns("success", SUCCESS)
            .req("id", Uuid, "the id of the VPC")
            .rel("listVPCs")
            .opt("cleanup", Boolean, "If cleanup old network elements (the VPC router is destroyed and a new one started)")
            .opt("makeredundant", Boolean, "Turn a single VPC into a redundant one (not supported: refused when true)")
            .opt("livepatch", Boolean, "Live patches the router software before restarting it (ignored: the router's configuration is pushed whole)"),
        CommandSpec::new("deleteVPC", "Deletes a VPC")
            .asynchronous()
            .returns("success", SUCCESS)
            .req("id", Uuid, "the ID of the VPC")
            .rel("listVPCs"),
    ]
}

fn acl_item_fields(spec: CommandSpec) -> CommandSpec {
    spec.opt("startport", Integer, "the starting port of ACL")
        .opt("endport", Integer, "the ending port of ACL")
        .opt("cidrlist", List, "the CIDR list to allow traffic from/to, comma separated; an entry may name a service tag (Canopy: listServiceTags, e.g. Internet)")
        .of(String)
        .opt("icmptype", Integer, "type of the ICMP message being sent")
        .opt("icmpcode", Integer, "error code for this ICMP message")
        .opt("traffictype", String, "the traffic type for the ACL, can be ingress or egress, defaulted to ingress if not specified")
        .opt("action", String, "scl entry action, allow or deny")
        .opt("number", Integer, "The network of the vm the ACL will be created for")
        .opt("reason", String, "A description indicating why the ACL rule is required.")
        .opt("fordisplay", Boolean, "an optional field, whether to the display the rule to the end user or not")
}

fn acls() -> Vec<CommandSpec> {
    vec![
        CommandSpec::new("createNetworkACLList", "Creates a network ACL. If no VPC is given, then it creates a global ACL that can be used by everyone.")
            .creates()
            .returns("networkacllist", ACL_LIST)
            .related("listNetworkACLLists")
            .req("name", String, "Name of the network ACL list")
            .opt("description", String, "Description of the network ACL list")
            .len(4096)
            .opt("vpcid", Uuid, "ID of the VPC associated with this network ACL list")
            .rel("listVPCs")
            .opt("fordisplay", Boolean, "an optional field, whether to the display the list to the end user or not"),
        CommandSpec::new("listNetworkACLLists", "Lists all network ACLs")
            .returns("networkacllist", ACL_LIST)
            .owned_list()
            .opt("id", Uuid, "Lists network ACL with the specified ID.")
            .opt("name", String, "list network ACLs by specified name")
            .opt("networkid", Uuid, "list network ACLs by network ID")
            .rel("listNetworks")
            .opt("vpcid", Uuid, "list network ACLs by VPC ID")
            .rel("listVPCs")
            .opt("fordisplay", Boolean, "list resources by display flag; only ROOT admin is eligible to pass this parameter")
            .opt("projectid", Uuid, "list objects by project"),
        CommandSpec::new("updateNetworkACLList", "Updates network ACL list")
            .asynchronous()
            .returns("success", SUCCESS)
            .req("id", Uuid, "the ID of the network ACL")
            .rel("listNetworkACLLists")
            .opt("name", String, "Name of the network ACL list")
            .opt("description", String, "Description of the network ACL list")
            .len(4096)
            .opt("fordisplay", Boolean, "an optional field, whether to the display the list to the end user or not")
            .opt("customid", String, "an optional field, in case you want to set a custom id to the resource (not supported: refused)"),
        CommandSpec::new("deleteNetworkACLList", "Deletes a network ACL")
            .asynchronous()
            .returns("success", SUCCESS)
            .req("id", Uuid, "the ID of the network ACL")
            .rel("listNetworkACLLists"),
        CommandSpec::new("replaceNetworkACLList", "Replaces ACL associated with a network or private gateway")
            .asynchronous()
            .returns("success", SUCCESS)
            .req("aclid", Uuid, "the ID of the network ACL")
            .rel("listNetworkACLLists")
            .opt("networkid", Uuid, "the ID of the network")
            .rel("listNetworks")
            .opt("gatewayid", Uuid, "the ID of the private gateway")
            .rel("listPrivateGateways"),
        acl_item_fields(
            CommandSpec::new("createNetworkACL", "Creates a ACL rule in the given network (the network has to belong to VPC)")
                .creates()
                .returns("networkacl", ACL_ITEM)
                .related("listNetworkACLs")
                .req("protocol", String, "the protocol for the ACL rule. Valid values are TCP/UDP/ICMP/ALL or valid protocol number")
                .opt("aclid", Uuid, "The network of the VM the ACL will be created for")
                .rel("listNetworkACLLists")
                .opt("networkid", Uuid, "The network of the VM the ACL will be created for")
                .rel("listNetworks"),
        ),
        acl_item_fields(
            CommandSpec::new("updateNetworkACLItem", "Updates ACL item with specified ID")
                .asynchronous()
                .returns("networkacl", ACL_ITEM)
                .related("listNetworkACLs")
                .req("id", Uuid, "the ID of the network ACL rule")
                .rel("listNetworkACLs")
                .opt("protocol", String, "the protocol for the ACL rule. Valid values are TCP/UDP/ICMP/ALL or valid protocol number")
                .opt("partialupgrade", Boolean, "Indicates if the ACL rule is to be updated partially (merging the parameters sent with current configuration) or completely (disconsidering all of the current configurations). The default value is 'true'.")
                .opt("customid", String, "an optional field, in case you want to set a custom id to the resource (not supported: refused)"),
        ),
        CommandSpec::new("moveNetworkAclItem", "Move an ACL rule to a position bettwen two other ACL rules of the same ACL network list")
            .asynchronous()
            .returns("networkacl", ACL_ITEM)
            .related("listNetworkACLs")
            .req("id", Uuid, "The ID of the network ACL rule that is being moved to a new position.")
            .rel("listNetworkACLs")
            .opt("previousaclruleid", String, "The ID of the first rule that is right before the new position where the rule being moved is going to be placed. This value can be 'NULL' if the rule is being moved to the first position of the network ACL list.")
            .opt("nextaclruleid", String, "The ID of the rule that is right after the new position where the rule being moved is going to be placed. This value can be 'NULL' if the rule is being moved to the last position of the network ACL list.")
            .opt("aclconsistencyhash", String, "Md5 hash used to check the consistency of the ACL rule list before applying the ACL rule move. This check is useful to avoid concurrent access problems."),
        CommandSpec::new("deleteNetworkACL", "Deletes a network ACL")
            .asynchronous()
            .returns("success", SUCCESS)
            .req("id", Uuid, "the ID of the network ACL")
            .rel("listNetworkACLs"),
        CommandSpec::new("listNetworkACLs", "Lists all network ACL items")
            .returns("networkacl", ACL_ITEM)
            .owned_list()
            .opt("id", Uuid, "Lists network ACL Item with the specified ID")
            .opt("aclid", Uuid, "list network ACL Items by ACL ID")
            .rel("listNetworkACLLists")
            .opt("networkid", Uuid, "list network ACL items by network ID")
            .rel("listNetworks")
            .opt("traffictype", String, "list network ACL items by traffic type - ingress or egress")
            .opt("action", String, "list network ACL items by action")
            .opt("protocol", String, "list network ACL items by protocol")
            .opt("fordisplay", Boolean, "list resources by display flag; only ROOT admin is eligible to pass this parameter")
            .opt("projectid", Uuid, "list objects by project"),
    ]
}

/// Service tags: a Canopy addition (named address groups for network ACL items).
fn service_tags() -> Vec<CommandSpec> {
    vec![
        CommandSpec::new("createServiceTag", "Creates a service tag: a named group of addresses network ACL items can name in their cidrlist (Canopy)")
            .roles(ADMIN)
            .returns("servicetag", SERVICE_TAG)
            .related("listServiceTags")
            .req("name", String, "the tag's name: letters, digits, '-' and '_', at most 40 characters")
            .req("cidrlist", List, "the tag's addresses as CIDRs")
            .of(String)
            .opt("description", String, "what the addresses are")
            .len(1024),
        CommandSpec::new("listServiceTags", "Lists service tags, the built-in Internet included (Canopy)")
            .returns("servicetag", SERVICE_TAG)
            .list()
            .opt("id", Uuid, "the tag's ID")
            .opt("name", String, "the tag's name"),
        CommandSpec::new("updateServiceTag", "Changes a service tag's addresses: every router whose network ACLs name it is updated, no rule is rewritten (Canopy)")
            .roles(ADMIN)
            .asynchronous()
            .returns("servicetag", SERVICE_TAG)
            .related("listServiceTags")
            .req("id", Uuid, "the tag's ID")
            .rel("listServiceTags")
            .opt("cidrlist", List, "the tag's new addresses as CIDRs")
            .of(String)
            .opt("description", String, "what the addresses are")
            .len(1024),
        CommandSpec::new("deleteServiceTag", "Deletes a service tag no network ACL item names (Canopy)")
            .roles(ADMIN)
            .returns("success", SUCCESS)
            .req("id", Uuid, "the tag's ID")
            .rel("listServiceTags"),
    ]
}

/// Internal load balancers (CloudStack's application load balancers, scheme Internal).
fn internal_lbs() -> Vec<CommandSpec> {
    vec![
        CommandSpec::new("createLoadBalancer", "Creates an internal load balancer")
            .asynchronous()
            .creates()
            .returns("loadbalancer", APPLICATION_LB)
            .related("listLoadBalancers")
            .req("name", String, "name of the load balancer")
            .opt("description", String, "the description of the load balancer")
            .len(4096)
            .req("networkid", Uuid, "the network id of the source ip address")
            .rel("listNetworks")
            .req("sourceport", Integer, "the source port the network traffic will be load balanced from")
            .req("instanceport", Integer, "the TCP port of the virtual machine where the network traffic will be load balanced to")
            .req("algorithm", String, "load balancer algorithm (source, roundrobin, leastconn)")
            .opt("sourceipaddress", String, "the source IP address the network traffic will be load balanced from")
            .req("sourceipaddressnetworkid", Uuid, "the network id of the source ip address")
            .rel("listNetworks")
            .req("scheme", String, "the load balancer scheme. Supported value in this release is Internal")
            .opt("fordisplay", Boolean, "an optional field, whether to the display the rule to the end user or not"),
        CommandSpec::new("listLoadBalancers", "Lists internal load balancers")
            .returns("loadbalancer", APPLICATION_LB)
            .owned_list()
            .opt("id", Uuid, "the ID of the load balancer")
            .opt("name", String, "the name of the load balancer")
            .opt("sourceipaddress", String, "the source IP address of the load balancer")
            .opt("sourceipaddressnetworkid", Uuid, "the network ID of the source IP address")
            .rel("listNetworks")
            .opt("scheme", String, "the scheme of the load balancer. Supported value is Internal in the current release")
            .opt("networkid", Uuid, "the network ID of the load balancer")
            .rel("listNetworks")
            .opt("vpcid", Uuid, "the balancers on the tiers of this VPC (Canopy)")
            .rel("listVPCs")
            .opt("fordisplay", Boolean, "list resources by display flag")
            .opt("tags", Map, "List resources by tags (key/value pairs)")
            .opt("projectid", Uuid, "list objects by project"),
        CommandSpec::new("deleteLoadBalancer", "Deletes an internal load balancer")
            .asynchronous()
            .returns("success", SUCCESS)
            .req("id", Uuid, "the ID of the Load Balancer")
            .rel("listLoadBalancers"),
    ]
}

/// Private gateways of VPCs (root admins, as in CloudStack).
fn private_gateways() -> Vec<CommandSpec> {
    vec![
        CommandSpec::new("createPrivateGateway", "Creates a private gateway")
            .roles(ADMIN)
            .asynchronous()
            .creates()
            .returns("privategateway", PRIVATE_GATEWAY)
            .related("listPrivateGateways")
            .req("vpcid", Uuid, "the VPC network belongs to")
            .rel("listVPCs")
            .req("ipaddress", String, "the IP address of the Private gateaway")
            .req("gateway", String, "the gateway of the Private gateway")
            .req("netmask", String, "the netmask of the Private gateway")
            .req("vlan", String, "the network implementation uri for the private gateway: a VXLAN (vxlan://N or N) or VLAN id, unique in the zone")
            .opt("physicalnetworkid", Uuid, "the Physical Network ID the network belongs to")
            .rel("listPhysicalNetworks")
            .opt("sourcenatsupported", Boolean, "source NAT supported value. Default value false. If 'true' source NAT is enabled on the private gateway 'false': sourcenat is not supported")
            .opt("aclid", Uuid, "the ID of the network ACL (default: default_deny)")
            .rel("listNetworkACLLists")
            .opt("networkofferingid", Uuid, "the uuid of the network offering to use for the private gateways network connection (ignored)")
            .opt("associatednetworkid", Uuid, "The isolated network this private gateway is associated to (not supported: refused)")
            .opt("bypassvlanoverlapcheck", Boolean, "when true bypasses VLAN id/range overlap check during private gateway creation (ignored: a VNI is unique per zone)"),
        CommandSpec::new("listPrivateGateways", "List private gateways")
            .returns("privategateway", PRIVATE_GATEWAY)
            .owned_list()
            .opt("id", Uuid, "list private gateway by id")
            .opt("ipaddress", String, "list gateways by ip address")
            .opt("vlan", String, "list gateways by vlan")
            .opt("vpcid", Uuid, "list gateways by vpc")
            .rel("listVPCs")
            .opt("state", String, "list gateways by state"),
        CommandSpec::new("deletePrivateGateway", "Deletes a Private gateway")
            .roles(ADMIN)
            .asynchronous()
            .returns("success", SUCCESS)
            .req("id", Uuid, "the ID of the private gateway")
            .rel("listPrivateGateways"),
    ]
}

pub fn specs() -> Vec<CommandSpec> {
    let mut v = offerings();
    v.extend(vpcs());
    v.extend(acls());
    v.extend(service_tags());
    v.extend(internal_lbs());
    v.extend(private_gateways());
    v
}
