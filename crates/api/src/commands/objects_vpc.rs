//! VPC response objects' fields, as `listApis` describes them.

use crate::registry::{f, Field};

pub const VPC_OFFERING: &[Field] = &[
    f("id", "string", "the id of the vpc offering"),
    f("name", "string", "the name of the vpc offering"),
    f("displaytext", "string", "an alternate display text of the vpc offering."),
    f("isdefault", "boolean", "true if vpc offering is default, false otherwise"),
    f("state", "string", "state of the vpc offering. Can be Disabled/Enabled"),
    f("service", "list", "the list of supported services"),
    f("distributedvpcrouter", "boolean", "indicates if the vpc offering supports distributed router for one-hop forwarding"),
    f("supportsregionLevelvpc", "boolean", "indicated if the offering can support region level vpc"),
    f("fordisplay", "boolean", "is the vpc offering shown to the end user"),
    f("internetprotocol", "string", "the internet protocol of the vpc offering"),
    f("domainid", "string", "the domain ID(s) this vpc offering belongs to. Ignore this information as it is not currently applicable."),
    f("domain", "string", "the domain name(s) this vpc offering belongs to. Ignore this information as it is not currently applicable."),
    f("zoneid", "string", "the zone ID(s) this vpc offering belongs to. Ignore this information as it is not currently applicable."),
    f("zone", "string", "the zone name(s) this vpc offering belongs to. Ignore this information as it is not currently applicable."),
    f("created", "date", "the date this vpc offering was created"),
];

pub const VPC: &[Field] = &[
    f("id", "string", "the id of the VPC"),
    f("name", "string", "the name of the VPC"),
    f(
        "displaytext",
        "string",
        "an alternate display text of the VPC.",
    ),
    f(
        "state",
        "string",
        "state of the VPC. Can be Inactive/Enabled",
    ),
    f("zoneid", "string", "zone id of the vpc"),
    f(
        "zonename",
        "string",
        "the name of the zone the VPC belongs to",
    ),
    f("cidr", "string", "the cidr the VPC"),
    f(
        "vpcofferingid",
        "string",
        "vpc offering id the VPC is created from",
    ),
    f(
        "vpcofferingname",
        "string",
        "vpc offering name the VPC is created from",
    ),
    f("account", "string", "the owner of the VPC"),
    f("domainid", "string", "the domain id of the VPC owner"),
    f("domain", "string", "the domain name of the owner"),
    f(
        "domainpath",
        "string",
        "path of the domain to which the VPC belongs",
    ),
    f(
        "network",
        "list",
        "the list of networks belongign to the VPC",
    ),
    f("service", "list", "the list of supported services"),
    f("networkdomain", "string", "the network domain of the VPC"),
    f("restartrequired", "boolean", "true VPC requires restart"),
    f(
        "redundantvpcrouter",
        "boolean",
        "if this VPC has redundant router",
    ),
    f("regionlevelvpc", "boolean", "true if VPC is region level"),
    f(
        "distributedvpcrouter",
        "boolean",
        "is VPC uses distributed router for one hop forwarding and host based network ACL's",
    ),
    f(
        "fordisplay",
        "boolean",
        "is vpc for display to the regular user",
    ),
    f("dns1", "string", "the first IPv4 DNS for the VPC"),
    f("dns2", "string", "the second IPv4 DNS for the VPC"),
    f("created", "date", "the date this VPC was created"),
    f(
        "tags",
        "list",
        "the list of resource tags associated with the project",
    ),
];

pub const ACL_LIST: &[Field] = &[
    f("id", "string", "the ID of the ACL"),
    f("name", "string", "the Name of the ACL"),
    f("description", "string", "Description of the ACL"),
    f(
        "vpcid",
        "string",
        "Id of the VPC this ACL is associated with",
    ),
    f(
        "vpcname",
        "string",
        "Name of the VPC this ACL is associated with",
    ),
    f(
        "fordisplay",
        "boolean",
        "is ACL for display to the regular user",
    ),
];

pub const ACL_ITEM: &[Field] = &[
    f("id", "string", "the ID of the ACL Item"),
    f("protocol", "string", "the protocol of the ACL"),
    f("startport", "string", "the starting port of ACL's port range"),
    f("endport", "string", "the ending port of ACL's port range"),
    f("traffictype", "string", "the traffic type for the ACL"),
    f("state", "string", "the state of the rule"),
    f("cidrlist", "string", "the cidr list to forward traffic from. Multiple entries are separated by a single comma character (,)."),
    f("icmptype", "integer", "type of the icmp message being sent"),
    f("icmpcode", "integer", "error code for this icmp message"),
    f("tags", "list", "the list of resource tags associated with the network ACLs"),
    f("aclid", "string", "the ID of the ACL this item belongs to"),
    f("aclname", "string", "the name of the ACL this item belongs to"),
    f("number", "integer", "Number of the ACL Item"),
    f("action", "string", "Action of ACL Item. Allow/Deny"),
    f("fordisplay", "boolean", "is rule for display to the regular user"),
    f("reason", "string", "an explanation on why this ACL rule is being applied"),
];

pub const SERVICE_TAG: &[Field] = &[
    f(
        "id",
        "string",
        "the ID of the service tag (none for a built-in one)",
    ),
    f(
        "name",
        "string",
        "the name of the service tag, usable in network ACL items' cidrlist",
    ),
    f("description", "string", "what the addresses are"),
    f(
        "cidrlist",
        "string",
        "the tag's addresses, comma separated (a built-in tag's are computed per zone)",
    ),
    f(
        "builtin",
        "boolean",
        "true for a tag Canopy defines (Internet)",
    ),
];

pub const APPLICATION_LB: &[Field] = &[
    f("id", "string", "the Load Balancer ID"),
    f("name", "string", "the name of the Load Balancer"),
    f("description", "string", "the description of the Load Balancer"),
    f("algorithm", "string", "the load balancer algorithm (source, roundrobin, leastconn)"),
    f("networkid", "string", "Load Balancer network id"),
    f("sourceipaddress", "string", "Load Balancer source ip"),
    f("sourceipaddressnetworkid", "string", "Load Balancer source ip network id"),
    f("account", "string", "the account of the Load Balancer"),
    f("domainid", "string", "the domain ID of the Load Balancer"),
    f("domain", "string", "the domain of the Load Balancer"),
    f("domainpath", "string", "path of the domain to which the Load Balancer belongs"),
    f("loadbalancerrule", "list", "the list of rules associated with the Load Balancer (sourceport, instanceport, state)"),
    f("loadbalancerinstance", "list", "the list of instances associated with the Load Balancer (id, name, ipaddress, state)"),
    f("fordisplay", "boolean", "is rule for display to the regular user"),
    f("tags", "list", "the list of resource tags associated with the Load Balancer"),
    f("dnsname", "string", "the name the VPC router's DNS answers for the load balancer: <name>.<network domain> (Canopy)"),
];

pub const PRIVATE_GATEWAY: &[Field] = &[
    f("id", "string", "the id of the private gateway"),
    f("vpcid", "string", "VPC id the private gateway belongs to"),
    f(
        "vpcname",
        "string",
        "VPC name the private gateway belongs to",
    ),
    f("ipaddress", "string", "the private gateway's ip address"),
    f("gateway", "string", "the gateway"),
    f("netmask", "string", "the private gateway's netmask"),
    f(
        "vlan",
        "string",
        "the network implementation uri for the private gateway",
    ),
    f("zoneid", "string", "zone id of the private gateway"),
    f(
        "zonename",
        "string",
        "the name of the zone the private gateway belongs to",
    ),
    f("physicalnetworkid", "string", "the physical network id"),
    f(
        "state",
        "string",
        "State of the gateway, can be Creating, Ready, Deleting",
    ),
    f("sourcenatsupported", "boolean", "Source Nat enable status"),
    f("aclid", "string", "ACL Id set for private gateway"),
    f("aclname", "string", "ACL name set for private gateway"),
    f(
        "account",
        "string",
        "the account associated with the private gateway",
    ),
    f(
        "domainid",
        "string",
        "the ID of the domain associated with the private gateway",
    ),
    f(
        "domain",
        "string",
        "the domain associated with the private gateway",
    ),
];
