//! Networking response objects' fields, as `listApis` describes them.

use crate::registry::{f, Field};

pub const PUBLIC_IP: &[Field] = &[
    f("id", "string", "public IP address id"),
    f("ipaddress", "string", "public IP address"),
    f("allocated", "date", "date the public IP address was acquired"),
    f("zoneid", "string", "the ID of the zone the public IP address belongs to"),
    f("zonename", "string", "the name of the zone the public IP address belongs to"),
    f("issourcenat", "boolean", "true if the IP address is a source nat address, false otherwise"),
    f("account", "string", "the account the public IP address is associated with"),
    f("domainid", "string", "the domain ID the public IP address is associated with"),
    f("domain", "string", "the domain the public IP address is associated with"),
    f("domainpath", "string", "path of the domain the public IP belongs to"),
    f("forvirtualnetwork", "boolean", "the virtual network for the IP address"),
    f("vlanid", "string", "the ID of the VLAN associated with the IP address"),
    f("vlanname", "string", "the VLAN associated with the IP address"),
    f("isstaticnat", "boolean", "true if this ip is for static nat, false otherwise"),
    f("issystem", "boolean", "true if this ip is system ip (was allocated as a part of deployVm or createLbRule)"),
    f("virtualmachineid", "string", "virtual machine id the ip address is assigned to"),
    f("virtualmachinename", "string", "virtual machine name the ip address is assigned to"),
    f("virtualmachinedisplayname", "string", "virtual machine display name the ip address is assigned to"),
    f("virtualmachinetype", "string", "virtual machine type the ip address is assigned to"),
    f("vmipaddress", "string", "virtual machine (dnat) ip address (not null only for static nat Ip)"),
    f("associatednetworkid", "string", "the ID of the Network associated with the IP address"),
    f("associatednetworkname", "string", "the name of the Network associated with the IP address"),
    f("networkid", "string", "the ID of the Network where ip belongs to"),
    f("vpcid", "string", "VPC id the ip belongs to (its own, or its tier's)"),
    f("state", "string", "State of the ip address. Can be: Allocating, Allocated, Releasing, Reserved and Free"),
    f("physicalnetworkid", "string", "the physical network this belongs to"),
    f("purpose", "string", "purpose of the IP address. In Acton this value is not null for Ips with isSystem=true, and can have either StaticNat or LB value"),
    f("isportable", "boolean", "is public IP portable across the zones"),
    f("fordisplay", "boolean", "is public ip for display to the regular user"),
    f("hasrules", "boolean", "whether the ip address has Firewall/PortForwarding/LoadBalancing rules defined"),
    f("tags", "list", "the list of resource tags associated with ip address"),
];

pub const VLAN_RANGE: &[Field] = &[
    f("id", "string", "the ID of the VLAN IP range"),
    f(
        "forloadbalancers",
        "boolean",
        "true for a service IP pool: addresses for load balancer rules only (Canopy)",
    ),
    f(
        "forvirtualnetwork",
        "boolean",
        "the virtual network for the VLAN IP range",
    ),
    f("zoneid", "string", "the Zone ID of the VLAN IP range"),
    f("vlan", "string", "the ID or VID of the VLAN."),
    f("account", "string", "the account of the VLAN IP range"),
    f("domainid", "string", "the domain ID of the VLAN IP range"),
    f("domain", "string", "the domain name of the VLAN IP range"),
    f("podid", "string", "the Pod ID for the VLAN IP range"),
    f("podname", "string", "the Pod name for the VLAN IP range"),
    f("gateway", "string", "the gateway of the VLAN IP range"),
    f("netmask", "string", "the netmask of the VLAN IP range"),
    f("cidr", "string", "the cidr of the VLAN IP range"),
    f(
        "description",
        "string",
        "the description of the VLAN IP range",
    ),
    f("startip", "string", "the start ip of the VLAN IP range"),
    f("endip", "string", "the end ip of the VLAN IP range"),
    f("networkid", "string", "the network id of vlan range"),
    f(
        "physicalnetworkid",
        "string",
        "the physical network this belongs to",
    ),
    f(
        "forsystemvms",
        "boolean",
        "indicates whether VLAN IP range is dedicated to system vms or not",
    ),
];

pub const FIREWALL_RULE: &[Field] = &[
    f("id", "string", "the ID of the firewall rule"),
    f("protocol", "string", "the protocol of the firewall rule"),
    f("startport", "integer", "the starting port of firewall rule's port range"),
    f("endport", "integer", "the ending port of firewall rule's port range"),
    f("ipaddressid", "string", "the public ip address id for the firewall rule"),
    f("networkid", "string", "the network id of the firewall rule"),
    f("ipaddress", "string", "the public ip address for the firewall rule"),
    f("state", "string", "the state of the rule"),
    f("cidrlist", "string", "the cidr list to forward traffic from. Multiple entries are separated by a single comma character (,)."),
    f("destcidrlist", "string", "the cidr list to forward traffic to. Multiple entries are separated by a single comma character (,)."),
    f("icmptype", "integer", "type of the icmp message being sent"),
    f("icmpcode", "integer", "error code for this icmp message"),
    f("traffictype", "string", "the traffic type for the firewall rule"),
    f("fordisplay", "boolean", "is rule for display to the regular user"),
    f("tags", "list", "the list of resource tags associated with the rule"),
];

pub const PF_RULE: &[Field] = &[
    f("id", "string", "the ID of the port forwarding rule"),
    f("privateport", "string", "the starting port of port forwarding rule's private port range"),
    f("privateendport", "string", "the ending port of port forwarding rule's private port range"),
    f("protocol", "string", "the protocol of the port forwarding rule"),
    f("publicport", "string", "the starting port of port forwarding rule's public port range"),
    f("publicendport", "string", "the ending port of port forwarding rule's private port range"),
    f("virtualmachineid", "string", "the VM ID for the port forwarding rule"),
    f("virtualmachinename", "string", "the VM name for the port forwarding rule"),
    f("virtualmachinedisplayname", "string", "the VM display name for the port forwarding rule"),
    f("ipaddressid", "string", "the public ip address id for the port forwarding rule"),
    f("ipaddress", "string", "the public ip address for the port forwarding rule"),
    f("vmguestip", "string", "the vm ip address for the port forwarding rule"),
    f("state", "string", "the state of the rule"),
    f("cidrlist", "string", "the cidr list to forward traffic from. Multiple entries are separated by a single comma character (,)."),
    f("networkid", "string", "the id of the guest network the port forwarding rule belongs to"),
    f("fordisplay", "boolean", "is firewall for display to the regular user"),
    f("tags", "list", "the list of resource tags associated with the rule"),
];

pub const SECURITY_GROUP: &[Field] = &[
    f("id", "string", "the ID of the security group"),
    f("name", "string", "the name of the security group"),
    f(
        "description",
        "string",
        "the description of the security group",
    ),
    f("account", "string", "the account owning the security group"),
    f("domainid", "string", "the domain ID of the security group"),
    f("domain", "string", "the domain name of the security group"),
    f(
        "domainpath",
        "string",
        "path of the Domain the security group belongs to",
    ),
    f(
        "ingressrule",
        "set",
        "the list of ingress rules associated with the security group",
    ),
    f(
        "egressrule",
        "set",
        "the list of egress rules associated with the security group",
    ),
    f(
        "virtualmachinecount",
        "integer",
        "the number of virtualmachines associated with this securitygroup",
    ),
    f(
        "virtualmachineids",
        "set",
        "the list of virtualmachine ids associated with this securitygroup",
    ),
    f(
        "tags",
        "set",
        "the list of resource tags associated with the rule",
    ),
];

pub const LB_RULE: &[Field] = &[
    f("id", "string", "the load balancer rule ID"),
    f("name", "string", "the name of the load balancer"),
    f("description", "string", "the description of the load balancer"),
    f("algorithm", "string", "the load balancer algorithm (source, roundrobin, leastconn)"),
    f("publicipid", "string", "the public ip address id"),
    f("publicip", "string", "the public ip address"),
    f("publicport", "string", "the public port"),
    f("privateport", "string", "the private port"),
    f("cidrlist", "string", "the cidr list to allow traffic, all other cidr's will be blocked. Multiple entries must be separated by a single comma character (,)."),
    f("protocol", "string", "the protocol of the loadbalanacer rule"),
    f("state", "string", "the state of the rule"),
    f("networkid", "string", "the id of the guest network the lb rule belongs to"),
    f("zoneid", "string", "the id of the zone the rule belongs to"),
    f("zonename", "string", "the name of the zone the load balancer rule belongs to"),
    f("account", "string", "the account of the load balancer rule"),
    f("domainid", "string", "the domain ID of the load balancer rule"),
    f("domain", "string", "the domain of the load balancer rule"),
    f("domainpath", "string", "path of the domain to which the load balancer rule belongs"),
    f("fordisplay", "boolean", "is rule for display to the regular user"),
    f("tags", "list", "the list of resource tags associated with load balancer"),
    f(
        "servicepool",
        "boolean",
        "true when the address came from a service IP pool and goes back with the rule (Canopy)",
    ),
];

pub const NIC_SECONDARY_IP: &[Field] = &[
    f("id", "string", "the ID of the secondary private IP addr"),
    f("ipaddress", "string", "Secondary IP address"),
    f("nicid", "string", "the ID of the nic"),
    f("networkid", "string", "the ID of the network"),
    f("virtualmachineid", "string", "the ID of the vm"),
];

pub const SSL_CERT: &[Field] = &[
    f("id", "string", "SSL certificate ID"),
    f("name", "string", "name"),
    f("certificate", "string", "certificate"),
    f("certchain", "string", "certificate chain"),
    f("fingerprint", "string", "certificate fingerprint (SHA-1)"),
    f("account", "string", "account for the certificate"),
    f(
        "domainid",
        "string",
        "the domain id of the certificate owner",
    ),
    f(
        "domain",
        "string",
        "the domain name of the certificate owner",
    ),
    f(
        "domainpath",
        "string",
        "the domain path of the certificate owner",
    ),
    f(
        "loadbalancerrulelist",
        "list",
        "List of loabalancers this certificate is bound to",
    ),
];

pub const STICKINESS: &[Field] = &[
    f("lbruleid", "string", "the LB rule ID"),
    f("name", "string", "the name of the Stickiness policy"),
    f(
        "description",
        "string",
        "the description of the Stickiness policy",
    ),
    f("account", "string", "the account of the Stickiness policy"),
    f(
        "domainid",
        "string",
        "the domain ID of the Stickiness policy",
    ),
    f("domain", "string", "the domain of the Stickiness policy"),
    f(
        "zoneid",
        "string",
        "the id of the zone the Stickiness policy belongs to",
    ),
    f("state", "string", "the state of the policy"),
    f("stickinesspolicy", "list", "the list of stickinesspolicies"),
];

pub const HEALTHCHECK: &[Field] = &[
    f("lbruleid", "string", "the LB rule ID"),
    f("account", "string", "the account of the HealthCheck policy"),
    f(
        "domainid",
        "string",
        "the domain ID of the HealthCheck policy",
    ),
    f("domain", "string", "the domain of the HealthCheck policy"),
    f(
        "zoneid",
        "string",
        "the id of the zone the HealthCheck policy belongs to",
    ),
    f(
        "healthcheckpolicy",
        "list",
        "the list of healthcheckpolicies",
    ),
];

pub const VPN: &[Field] = &[
    f("id", "string", "the id of the remote access vpn"),
    f(
        "publicipid",
        "string",
        "the public ip address of the vpn server",
    ),
    f(
        "publicip",
        "string",
        "the public ip address of the vpn server",
    ),
    f(
        "iprange",
        "string",
        "the range of ips to allocate to the clients",
    ),
    f("presharedkey", "string", "the ipsec preshared key"),
    f("account", "string", "the account of the remote access vpn"),
    f(
        "domainid",
        "string",
        "the domain id of the account of the remote access vpn",
    ),
    f(
        "domain",
        "string",
        "the domain name of the account of the remote access vpn",
    ),
    f(
        "domainpath",
        "string",
        "path of the domain to which the remote access vpn belongs",
    ),
    f("state", "string", "the state of the rule"),
    f(
        "fordisplay",
        "boolean",
        "is vpn for display to the regular user",
    ),
];

pub const VPN_USER: &[Field] = &[
    f("id", "string", "the vpn userID"),
    f("username", "string", "the username of the vpn user"),
    f("account", "string", "the account of the remote access vpn"),
    f(
        "domainid",
        "string",
        "the domain id of the account of the remote access vpn",
    ),
    f(
        "domain",
        "string",
        "the domain name of the account of the remote access vpn",
    ),
    f(
        "domainpath",
        "string",
        "path of the domain to which the remote access vpn user belongs",
    ),
    f(
        "state",
        "string",
        "the state of the Vpn User, can be 'Add', 'Revoke' or 'Active'.",
    ),
];

pub const STATIC_ROUTE: &[Field] = &[
    f("id", "string", "the ID of static route"),
    f("cidr", "string", "static route CIDR"),
    f("nexthop", "string", "the next hop of the static route"),
    f(
        "metric",
        "integer",
        "the metric of the route: among routes of one prefix length the lowest wins (Canopy)",
    ),
    f(
        "interface",
        "string",
        "the router interface the route leaves by: guest or public (Canopy)",
    ),
    f(
        "networkid",
        "string",
        "the guest network the route belongs to (Canopy)",
    ),
    f("vpcid", "string", "VPC the static route belongs to"),
    f(
        "gatewayid",
        "string",
        "VPC gateway the route is created for",
    ),
    f("state", "string", "the state of the static route"),
    f(
        "account",
        "string",
        "the account associated with the static route",
    ),
    f(
        "domainid",
        "string",
        "the ID of the domain associated with the static route",
    ),
    f(
        "domain",
        "string",
        "the domain associated with the static route",
    ),
    f(
        "tags",
        "list",
        "the list of resource tags associated with static route",
    ),
];

pub const ROUTER: &[Field] = &[
    f("id", "string", "the id of the router"),
    f("vpcid", "string", "VPC the router belongs to"),
    f("vpcname", "string", "the name of VPC the router belongs to"),
    f("name", "string", "the name of the router"),
    f("state", "string", "the state of the router"),
    f("zoneid", "string", "the Zone ID for the router"),
    f("zonename", "string", "the Zone name for the router"),
    f("hostid", "string", "the host ID for the router"),
    f("hostname", "string", "the hostname for the router"),
    f(
        "hypervisor",
        "string",
        "the hypervisor on which the template runs",
    ),
    f(
        "linklocalip",
        "string",
        "the link local IP address for the router",
    ),
    f(
        "linklocalmacaddress",
        "string",
        "the link local MAC address for the router",
    ),
    f(
        "linklocalnetmask",
        "string",
        "the link local netmask for the router",
    ),
    f("publicip", "string", "the public IP address for the router"),
    f(
        "publicmacaddress",
        "string",
        "the public MAC address for the router",
    ),
    f(
        "publicnetmask",
        "string",
        "the public netmask for the router",
    ),
    f("gateway", "string", "the gateway for the router"),
    f(
        "guestipaddress",
        "string",
        "the guest IP address for the router",
    ),
    f(
        "guestmacaddress",
        "string",
        "the guest MAC address for the router",
    ),
    f("guestnetmask", "string", "the guest netmask for the router"),
    f(
        "guestnetworkid",
        "string",
        "the ID of the corresponding guest network",
    ),
    f(
        "guestnetworkname",
        "string",
        "the name of the corresponding guest network",
    ),
    f(
        "networkdomain",
        "string",
        "the network domain for the router",
    ),
    f("dns1", "string", "the first DNS for the router"),
    f("role", "string", "role of the domain router"),
    f(
        "redundantstate",
        "string",
        "the state of redundant virtual router",
    ),
    f(
        "isredundantrouter",
        "boolean",
        "if this router is an redundant virtual router",
    ),
    f(
        "requiresupgrade",
        "boolean",
        "true if the router template requires upgrader",
    ),
    f("version", "string", "the version of template"),
    f(
        "account",
        "string",
        "the account associated with the router",
    ),
    f(
        "domainid",
        "string",
        "the domain ID associated with the router",
    ),
    f("domain", "string", "the domain associated with the router"),
    f(
        "created",
        "date",
        "the date and time the router was created",
    ),
    f("nic", "set", "the list of nics associated with the router"),
    f(
        "domainpath",
        "string",
        "path of the Domain the router belongs to",
    ),
    f(
        "healthcheckresults",
        "list",
        "Last executed health check result for the router",
    ),
    f("podid", "string", "the Pod ID for the router"),
    f(
        "softwareversion",
        "string",
        "the version of the code / software in the router",
    ),
];

pub const NIC: &[Field] = &[
    f("id", "string", "the ID of the nic"),
    f("networkid", "string", "the ID of the corresponding network"),
    f(
        "networkname",
        "string",
        "the name of the corresponding network",
    ),
    f("netmask", "string", "the netmask of the nic"),
    f("gateway", "string", "the gateway of the nic"),
    f("ipaddress", "string", "the ip address of the nic"),
    f(
        "isdefault",
        "boolean",
        "true if nic is default, false otherwise",
    ),
    f(
        "macaddress",
        "string",
        "true if nic is default, false otherwise",
    ),
    f("traffictype", "string", "the traffic type of the nic"),
    f("type", "string", "the type of the nic"),
    f("broadcasturi", "string", "the broadcast uri of the nic"),
    f("isolationuri", "string", "the isolation uri of the nic"),
    f(
        "deviceid",
        "string",
        "device id for the network when plugged into the virtual machine",
    ),
    f(
        "virtualmachineid",
        "string",
        "Id of the vm to which the nic belongs",
    ),
    f("secondaryip", "set", "the Secondary ipv4 addr of nic"),
];

pub const IP_FWD_RULE: &[Field] = &[
    f("id", "string", "the ID of the rule"),
    f("protocol", "string", "the protocol of the rule"),
    f("startport", "string", "the starting port of the range"),
    f("endport", "string", "the ending port of the range"),
    f("ipaddressid", "string", "the public ip address id"),
    f("ipaddress", "string", "the public ip address"),
    f("virtualmachineid", "string", "the VM ID"),
    f("virtualmachinename", "string", "the VM name"),
    f("virtualmachinedisplayname", "string", "the VM display name"),
    f("state", "string", "the state of the rule"),
    f("cidrlist", "string", "the cidr list"),
];
pub const HOST_NET_CONFIG: &[Field] = &[
    f("host_id", "string", "the host"),
    f("bridges", "list", "bridges and their VXLAN/VLAN links with peers"),
    f("taps", "list", "the taps of the host's VM NICs"),
    f("security", "string", "the security-group nftables ruleset"),
    f("routers", "list", "the routers on this host: interfaces, routes, leases, DNS, dnsmasq, nftables, haproxy, VPN"),
    f("digest", "string", "digest of the compiled configuration"),
    f("generation", "long", "the generation last pushed to the host"),
    f("acknowledged", "long", "the generation the host acknowledged"),
    f("pushed", "boolean", "whether the last pushed generation is this configuration"),
];
