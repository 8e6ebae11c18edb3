//! Networking: guest networks and NICs, IP ranges and public IPs, NAT, firewall, security
//! groups, load balancing, remote-access VPN, static routes and virtual routers.

use super::objects::*;
use super::objects_net::*;
use super::objects_vm::{NETWORK, VIRTUAL_MACHINE};
use crate::registry::{roles::*, CommandSpec, ParamType::*};

fn owner(spec: CommandSpec, what: &'static str) -> CommandSpec {
    spec.opt("account", String, what)
        .opt("domainid", Uuid, "the domain of the account (with account)")
        .rel("listDomains")
        .opt("projectid", Uuid, "the project")
}

fn rule_ports(spec: CommandSpec) -> CommandSpec {
    spec.opt("startport", Integer, "the starting port of firewall rule")
        .opt("endport", Integer, "the ending port of firewall rule")
        .opt(
            "cidrlist",
            List,
            "the CIDR list to allow traffic from (default 0.0.0.0/0)",
        )
        .of(String)
        .opt(
            "icmptype",
            Integer,
            "type of the ICMP message being sent (-1: any)",
        )
        .opt(
            "icmpcode",
            Integer,
            "error code for this ICMP message (-1: any)",
        )
        .opt("type", String, "type of firewall rule: system/user")
        .opt(
            "fordisplay",
            Boolean,
            "an optional field, whether to the display the rule to the end user or not",
        )
}

fn networks() -> Vec<CommandSpec> {
    vec![
        owner(
            CommandSpec::new("createNetwork", "Creates a network")
                .returns("network", NETWORK)
                .related("listNetworks")
                .req("name", String, "the name of the network")
                .opt("displaytext", String, "the display text of the network")
                .req("networkofferingid", Uuid, "the network offering ID")
                .rel("listNetworkOfferings")
                .req("zoneid", Uuid, "the zone ID for the network")
                .rel("listZones")
                .opt("physicalnetworkid", Uuid, "the physical network ID the network belongs to")
                .rel("listPhysicalNetworks")
                .opt("gateway", String, "the gateway of the network (shared networks, or a custom CIDR)")
                .opt("netmask", String, "the netmask of the network")
                .opt("startip", String, "the beginning IP address in the network IP range (shared networks)")
                .opt("endip", String, "the ending IP address in the network IP range")
                .opt("vlan", String, "the ID or VID of the network (VLAN, or vxlan://VNI)")
                .opt("acltype", String, "Access control type; supported values are account and domain")
                .opt("subdomainaccess", Boolean, "Defines whether to allow subdomains to use networks dedicated to their parent domain(s)")
                .opt("networkdomain", String, "network domain")
                .opt("dns1", String, "the first IPv4 DNS for the network")
                .opt("dns2", String, "the second IPv4 DNS for the network")
                .opt("displaynetwork", Boolean, "an optional field, whether to the display the network to the end user or not")
                .opt("vpcid", Uuid, "the VPC network belongs to (a tier: gateway and netmask required, inside the VPC's cidr)")
                .rel("listVPCs")
                .opt("aclid", Uuid, "Network ACL Id associated for the network (a VPC tier's; default: default_deny)")
                .rel("listNetworkACLLists"),
            "account that will own the network",
        ),
        CommandSpec::new("updateNetwork", "Updates a network")
            .asynchronous()
            .returns("network", NETWORK)
            .related("listNetworks")
            .req("id", Uuid, "the ID of the network")
            .rel("listNetworks")
            .opt("name", String, "the new name for the network")
            .opt("displaytext", String, "the new display text for the network")
            .opt("networkdomain", String, "network domain")
            .opt("networkofferingid", Uuid, "network offering ID")
            .rel("listNetworkOfferings")
            .opt("changecidr", Boolean, "Force update even if CIDR type is different")
            .opt("forced", Boolean, "Setting this to true will cause a forced network update")
            .opt("displaynetwork", Boolean, "an optional field, whether to the display the network to the end user or not"),
        CommandSpec::new("deleteNetwork", "Deletes a network")
            .asynchronous()
            .returns("success", SUCCESS)
            .req("id", Uuid, "the ID of the network")
            .rel("listNetworks")
            .opt("forced", Boolean, "Force delete a network. Network will be marked as 'Destroy' even when commands to shutdown and cleanup to the backend fails."),
        CommandSpec::new("restartNetwork", "Restarts the network; includes 1) restarting network elements - virtual routers, DHCP servers 2) reapplying all public IPs 3) reapplying loadBalancing/portForwarding rules")
            .asynchronous()
            .returns("success", SUCCESS)
            .req("id", Uuid, "The ID of the network to restart.")
            .rel("listNetworks")
            .opt("cleanup", Boolean, "If cleanup old network elements")
            .opt("makeredundant", Boolean, "Turn the network into a network with redundant routers (not supported: refused when true)"),
        CommandSpec::new("listNics", "list the vm nics  IP to NIC")
            .returns("nic", NIC)
            .list()
            .req("virtualmachineid", Uuid, "the ID of the vm")
            .rel("listVirtualMachines")
            .opt("nicid", Uuid, "the ID of the nic to list IPs")
            .opt("networkid", Uuid, "list nic of the specific vm's network")
            .rel("listNetworks"),
        CommandSpec::new("addIpToNic", "Assigns secondary IP to NIC")
            .creates()
            .returns("nicsecondaryip", NIC_SECONDARY_IP)
            .req("nicid", Uuid, "the ID of the nic to which you want to assign private IP")
            .rel("listNics")
            .opt("ipaddress", String, "Secondary IP Address"),
        CommandSpec::new("removeIpFromNic", "Removes secondary IP from the NIC.")
            .asynchronous()
            .returns("success", SUCCESS)
            .req("id", Uuid, "the ID of the secondary ip address to nic")
            .rel("listNics"),
        CommandSpec::new("addNicToVirtualMachine", "Adds VM to specified network by creating a NIC")
            .asynchronous()
            .returns("virtualmachine", VIRTUAL_MACHINE)
            .related("listVirtualMachines")
            .req("virtualmachineid", Uuid, "Virtual Machine ID")
            .rel("listVirtualMachines")
            .req("networkid", Uuid, "Network ID")
            .rel("listNetworks")
            .opt("ipaddress", String, "IP Address for the new network")
            .opt("macaddress", String, "Mac Address for the new network"),
        CommandSpec::new("removeNicFromVirtualMachine", "Removes VM from specified network by deleting a NIC")
            .asynchronous()
            .returns("virtualmachine", VIRTUAL_MACHINE)
            .related("listVirtualMachines")
            .req("virtualmachineid", Uuid, "Virtual Machine ID")
            .rel("listVirtualMachines")
            .req("nicid", Uuid, "NIC ID")
            .rel("listNics"),
        CommandSpec::new("updateDefaultNicForVirtualMachine", "Changes the default NIC on a VM")
            .asynchronous()
            .returns("virtualmachine", VIRTUAL_MACHINE)
            .related("listVirtualMachines")
            .req("virtualmachineid", Uuid, "Virtual Machine ID")
            .rel("listVirtualMachines")
            .req("nicid", Uuid, "NIC ID")
            .rel("listNics"),
    ]
}

fn addresses() -> Vec<CommandSpec> {
    vec![
        owner(
            CommandSpec::new("associateIpAddress", "Acquires and associates a public IP to an account.")
                .asynchronous()
                .creates()
                .returns("ipaddress", PUBLIC_IP)
                .related("listPublicIpAddresses")
                .opt("networkid", Uuid, "The network this IP address should be associated to.")
                .rel("listNetworks")
                .opt("zoneid", Uuid, "the ID of the availability zone you want to acquire an public IP address from")
                .rel("listZones")
                .opt("vpcid", Uuid, "the VPC you want the IP address to be associated with (it moves to a tier with its first forwarding or load balancing rule)")
                .opt("ipaddress", String, "IP Address to be associated")
                .opt("isportable", Boolean, "should be set to true if public IP is required to be transferable across zones (not supported)")
                .opt("fordisplay", Boolean, "an optional field, whether to the display the IP to the end user or not"),
            "the account to associate with this IP address",
        ),
        CommandSpec::new("disassociateIpAddress", "Disassociates an IP address from the account.")
            .asynchronous()
            .returns("success", SUCCESS)
            .opt("id", Uuid, "the ID of the public IP address to disassociate. Mutually exclusive with the ipaddress parameter")
            .rel("listPublicIpAddresses")
            .opt("ipaddress", String, "IP Address to be disassociated. Mutually exclusive with the id parameter"),
        CommandSpec::new("updateIpAddress", "Updates an IP address")
            .asynchronous()
            .returns("ipaddress", PUBLIC_IP)
            .req("id", Uuid, "the ID of the public IP address to update")
            .rel("listPublicIpAddresses")
            .opt("customid", String, "an optional field, in case you want to set a custom id to the resource. Allowed to Root Admins only (accepted; Canopy keeps its UUIDs)")
            .opt("fordisplay", Boolean, "an optional field, whether to the display the IP to the end user or not"),
        CommandSpec::new("listPublicIpAddresses", "Lists all public IP addresses")
            .returns("publicipaddress", PUBLIC_IP)
            .owned_list()
            .opt("id", Uuid, "lists IP address by ID")
            .opt("ipaddress", String, "lists the specified IP address")
            .opt("allocatedonly", Boolean, "limits search results to allocated public IP addresses (default true)")
            .opt("state", String, "lists all public IP addresses by state")
            .opt("associatednetworkid", Uuid, "lists all public IP addresses associated to the network specified")
            .rel("listNetworks")
            .opt("networkid", Uuid, "lists all public IP addresses by source network ID")
            .opt("zoneid", Uuid, "lists all public IP addresses by zone ID")
            .rel("listZones")
            .opt("vlanid", Uuid, "lists all public IP addresses by VLAN ID")
            .opt("physicalnetworkid", Uuid, "lists all public IP addresses by physical network ID")
            .opt("issourcenat", Boolean, "list only source NAT IP addresses")
            .opt("isstaticnat", Boolean, "list only static NAT IP addresses")
            .opt("forvirtualnetwork", Boolean, "the virtual network for the IP address")
            .opt("forloadbalancing", Boolean, "list only IPs used for load balancing")
            .opt("vpcid", Uuid, "List IPs belonging to the VPC")
            .opt("fordisplay", Boolean, "list resources by display flag; only ROOT admin is eligible to pass this parameter")
            .opt("tags", Map, "List resources by tags (key/value pairs)"),
        CommandSpec::new("enableStaticNat", "Enables static NAT for given IP address")
            .returns("success", SUCCESS)
            .req("ipaddressid", Uuid, "the public IP address ID for which static NAT feature is being enabled")
            .rel("listPublicIpAddresses")
            .req("virtualmachineid", Uuid, "the ID of the virtual machine for enabling static NAT feature")
            .rel("listVirtualMachines")
            .opt("networkid", Uuid, "The network of the VM the static NAT will be enabled for.")
            .opt("vmguestip", String, "VM guest NIC secondary IP address for the port forwarding rule"),
        CommandSpec::new("disableStaticNat", "Disables static rule for given IP address")
            .asynchronous()
            .returns("success", SUCCESS)
            .req("ipaddressid", Uuid, "the public IP address ID for which static NAT feature is being disabled")
            .rel("listPublicIpAddresses"),
    ]
}

fn rules() -> Vec<CommandSpec> {
    vec![
        CommandSpec::new("createPortForwardingRule", "Creates a port forwarding rule")
            .asynchronous()
            .creates()
            .returns("portforwardingrule", PF_RULE)
            .related("listPortForwardingRules")
            .req("ipaddressid", Uuid, "the IP address id of the port forwarding rule")
            .rel("listPublicIpAddresses")
            .req("privateport", Integer, "the starting port of port forwarding rule's private port range")
            .opt("privateendport", Integer, "the ending port of port forwarding rule's private port range")
            .req("publicport", Integer, "the starting port of port forwarding rule's public port range")
            .opt("publicendport", Integer, "the ending port of port forwarding rule's private port range")
            .req("protocol", String, "the protocol for the port forwarding rule. Valid values are TCP or UDP.")
            .req("virtualmachineid", Uuid, "the ID of the virtual machine for the port forwarding rule")
            .rel("listVirtualMachines")
            .opt("vmguestip", String, "VM guest nic secondary IP address for the port forwarding rule")
            .opt("networkid", Uuid, "the network of the virtual machine the port forwarding rule will be created for.")
            .opt("openfirewall", Boolean, "if true, firewall rule for source/end public port is automatically created; if false - firewall rule has to be created explicitly. If not specified 1) defaulted to false when PF rule is being created for VPC guest network 2) in all other cases defaulted to true")
            .opt("cidrlist", List, "the cidr list to forward traffic from. Multiple entries must be separated by a single comma character (,).")
            .of(String)
            .opt("fordisplay", Boolean, "an optional field, whether to the display the rule to the end user or not"),
        CommandSpec::new("listPortForwardingRules", "Lists all port forwarding rules for an IP address.")
            .returns("portforwardingrule", PF_RULE)
            .owned_list()
            .opt("id", Uuid, "Lists rule with the specified ID.")
            .opt("ipaddressid", Uuid, "the ID of IP address of the port forwarding services")
            .rel("listPublicIpAddresses")
            .opt("networkid", Uuid, "list port forwarding rules for certain network")
            .opt("virtualmachineid", Uuid, "list rules of this VM (Canopy)")
            .opt("fordisplay", Boolean, "list resources by display flag"),
        CommandSpec::new("deletePortForwardingRule", "Deletes a port forwarding rule")
            .asynchronous()
            .returns("success", SUCCESS)
            .req("id", Uuid, "the ID of the port forwarding rule")
            .rel("listPortForwardingRules"),
        CommandSpec::new("updatePortForwardingRule", "Updates a port forwarding rule. Only the private port and the virtual machine can be updated.")
            .asynchronous()
            .returns("portforwardingrule", PF_RULE)
            .related("listPortForwardingRules")
            .req("id", Uuid, "the ID of the port forwarding rule")
            .rel("listPortForwardingRules")
            .opt("privateport", Integer, "the private start port of the port forwarding rule")
            .opt("privateendport", Integer, "the private end port of the port forwarding rule")
            .opt("virtualmachineid", Uuid, "the ID of the virtual machine for the port forwarding rule")
            .rel("listVirtualMachines")
            .opt("vmguestip", String, "VM guest nic Secondary ip address for the port forwarding rule")
            .opt("fordisplay", Boolean, "an optional field, whether to the display the rule to the end user or not"),
        rule_ports(
            CommandSpec::new("createFirewallRule", "Creates a firewall rule for a given IP address")
                .asynchronous()
                .creates()
                .returns("firewallrule", FIREWALL_RULE)
                .related("listFirewallRules")
                .req("ipaddressid", Uuid, "the IP address id of the port forwarding rule")
                .rel("listPublicIpAddresses")
                .req("protocol", String, "the protocol for the firewall rule. Valid values are TCP/UDP/ICMP."),
        ),
        CommandSpec::new("listFirewallRules", "Lists all firewall rules for an IP address.")
            .returns("firewallrule", FIREWALL_RULE)
            .owned_list()
            .opt("id", Uuid, "Lists rule with the specified ID.")
            .opt("ipaddressid", Uuid, "the ID of IP address of the firewall services")
            .rel("listPublicIpAddresses")
            .opt("networkid", Uuid, "list firewall rules for certain network")
            .opt("fordisplay", Boolean, "list resources by display flag"),
        CommandSpec::new("deleteFirewallRule", "Deletes a firewall rule")
            .asynchronous()
            .returns("success", SUCCESS)
            .req("id", Uuid, "the ID of the firewall rule")
            .rel("listFirewallRules"),
        CommandSpec::new("updateFirewallRule", "Updates firewall rule ")
            .asynchronous()
            .returns("firewallrule", FIREWALL_RULE)
            .related("listFirewallRules")
            .req("id", Uuid, "the ID of the firewall rule")
            .rel("listFirewallRules")
            .opt("fordisplay", Boolean, "an optional field, whether to the display the rule to the end user or not"),
        rule_ports(
            CommandSpec::new("createEgressFirewallRule", "Creates a egress firewall rule for a given network ")
                .asynchronous()
                .creates()
                .returns("firewallrule", FIREWALL_RULE)
                .related("listEgressFirewallRules")
                .req("networkid", Uuid, "the network id of the port forwarding rule")
                .rel("listNetworks")
                .req("protocol", String, "the protocol for the firewall rule. Valid values are TCP/UDP/ICMP/ALL or valid protocol number")
                .opt("destcidrlist", List, "the cidr list to forward traffic to. Multiple entries must be separated by a single comma character (,).")
                .of(String),
        ),
        CommandSpec::new("listEgressFirewallRules", "Lists all egress firewall rules for network ID.")
            .returns("firewallrule", FIREWALL_RULE)
            .owned_list()
            .opt("id", Uuid, "Lists rule with the specified ID.")
            .opt("networkid", Uuid, "the network ID for the egress firewall services")
            .rel("listNetworks")
            .opt("ipaddressid", Uuid, "the ID of IP address of the firewall services")
            .opt("fordisplay", Boolean, "list resources by display flag"),
        CommandSpec::new("deleteEgressFirewallRule", "Deletes an egress firewall rule")
            .asynchronous()
            .returns("success", SUCCESS)
            .req("id", Uuid, "the ID of the firewall rule")
            .rel("listEgressFirewallRules"),
        CommandSpec::new("updateEgressFirewallRule", "Updates egress firewall rule ")
            .asynchronous()
            .returns("firewallrule", FIREWALL_RULE)
            .related("listEgressFirewallRules")
            .req("id", Uuid, "the ID of the egress firewall rule")
            .rel("listEgressFirewallRules")
            .opt("fordisplay", Boolean, "an optional field, whether to the display the rule to the end user or not"),
        CommandSpec::new("createIpForwardingRule", "Creates an IP forwarding rule")
            .asynchronous()
            .creates()
            .returns("ipforwardingrule", IP_FWD_RULE)
            .related("listIpForwardingRules")
            .req("ipaddressid", Uuid, "the public IP address ID of the forwarding rule, already associated via associateIp")
            .rel("listPublicIpAddresses")
            .req("startport", Integer, "the start port for the rule")
            .opt("endport", Integer, "the end port for the rule")
            .req("protocol", String, "the protocol for the rule. Valid values are TCP or UDP.")
            .opt("openfirewall", Boolean, "if true, firewall rule for source/end public port is automatically created; if false - firewall rule has to be created explicitly. Has value true by default")
            .opt("cidrlist", List, "the CIDR list to forward traffic from. Multiple entries must be separated by a single comma character (,).")
            .of(String),
        CommandSpec::new("listIpForwardingRules", "List the IP forwarding rules")
            .returns("ipforwardingrule", IP_FWD_RULE)
            .owned_list()
            .opt("id", Uuid, "Lists rule with the specified ID.")
            .opt("ipaddressid", Uuid, "list the rule belonging to this public IP address")
            .rel("listPublicIpAddresses")
            .opt("virtualmachineid", Uuid, "Lists all rules applied to the specified VM."),
        CommandSpec::new("deleteIpForwardingRule", "Deletes an IP forwarding rule")
            .asynchronous()
            .returns("success", SUCCESS)
            .req("id", Uuid, "the ID of the forwarding rule")
            .rel("listIpForwardingRules"),
    ]
}

fn sg_rule_params(spec: CommandSpec) -> CommandSpec {
    owner(
        spec.asynchronous()
            .returns("securitygroup", SECURITY_GROUP)
            .related("listSecurityGroups")
            .opt("securitygroupid", Uuid, "The ID of the security group. Mutually exclusive with securityGroupName parameter")
            .rel("listSecurityGroups")
            .opt("securitygroupname", String, "The name of the security group. Mutually exclusive with securityGroupId parameter")
            .opt("protocol", String, "TCP is default. UDP is the other supported protocol")
            .opt("startport", Integer, "start port for this rule")
            .opt("endport", Integer, "end port for this rule")
            .opt("icmptype", Integer, "type of the icmp message being sent")
            .opt("icmpcode", Integer, "error code for this icmp message")
            .opt("cidrlist", List, "the cidr list associated. Multiple entries must be separated by a single comma character (,).")
            .of(String)
            .opt("usersecuritygrouplist", Map, "user to security group mapping"),
        "an optional account for the security group. Must be used with domainId.",
    )
}

fn security_groups() -> Vec<CommandSpec> {
    vec![
        owner(
            CommandSpec::new("createSecurityGroup", "Creates a security group")
                .returns("securitygroup", SECURITY_GROUP)
                .related("listSecurityGroups")
                .req("name", String, "name of the security group")
                .len(255)
                .opt(
                    "description",
                    String,
                    "the description of the security group",
                )
                .len(4096),
            "an optional account for the security group. Must be used with domainId.",
        ),
        owner(
            CommandSpec::new("deleteSecurityGroup", "Deletes security group")
                .returns("success", SUCCESS)
                .opt(
                    "id",
                    Uuid,
                    "The ID of the security group. Mutually exclusive with name parameter",
                )
                .rel("listSecurityGroups")
                .opt(
                    "name",
                    String,
                    "The ID of the security group. Mutually exclusive with id parameter",
                ),
            "the account of the security group. Must be specified with domain ID",
        ),
        CommandSpec::new("updateSecurityGroup", "Updates a security group")
            .returns("securitygroup", SECURITY_GROUP)
            .related("listSecurityGroups")
            .req("id", Uuid, "The ID of the security group.")
            .rel("listSecurityGroups")
            .opt("name", String, "The new name of the security group."),
        CommandSpec::new("listSecurityGroups", "Lists security groups")
            .returns("securitygroup", SECURITY_GROUP)
            .owned_list()
            .opt("id", Uuid, "list the security group by the id provided")
            .opt("securitygroupname", String, "lists security groups by name")
            .opt(
                "virtualmachineid",
                Uuid,
                "lists security groups by virtual machine id",
            )
            .rel("listVirtualMachines")
            .opt("tags", Map, "List resources by tags (key/value pairs)"),
        sg_rule_params(CommandSpec::new(
            "authorizeSecurityGroupIngress",
            "Authorizes a particular ingress rule for this security group",
        )),
        sg_rule_params(CommandSpec::new(
            "authorizeSecurityGroupEgress",
            "Authorizes a particular egress rule for this security group",
        )),
        CommandSpec::new(
            "revokeSecurityGroupIngress",
            "Deletes a particular ingress rule from this security group",
        )
        .asynchronous()
        .returns("success", SUCCESS)
        .req("id", Uuid, "The ID of the ingress rule"),
        CommandSpec::new(
            "revokeSecurityGroupEgress",
            "Deletes a particular egress rule from this security group",
        )
        .asynchronous()
        .returns("success", SUCCESS)
        .req("id", Uuid, "The ID of the egress rule"),
    ]
}

fn load_balancers() -> Vec<CommandSpec> {
    vec![
        owner(
            CommandSpec::new("createLoadBalancerRule", "Creates a load balancer rule")
                .asynchronous()
                .creates()
                .returns("loadbalancer", LB_RULE)
                .related("listLoadBalancerRules")
                .req("name", String, "name of the load balancer rule")
                .req("algorithm", String, "load balancer algorithm (source, roundrobin, leastconn)")
                .req("privateport", Integer, "the private port of the private IP address/virtual machine where the network traffic will be load balanced to")
                .req("publicport", Integer, "the public port from where the network traffic will be load balanced from")
                .opt("publicipid", Uuid, "public IP address ID from where the network traffic will be load balanced from")
                .rel("listPublicIpAddresses")
                .opt("networkid", Uuid, "The guest network this rule will be created for. Required when public Ip address is not associated with any Guest network yet (VPC case)")
                .opt("zoneid", Uuid, "zone where the load balancer is going to be created. This parameter is required when LB service provider is ElasticLoadBalancerVm")
                .opt("description", String, "the description of the load balancer rule")
                .len(4096)
                .opt("protocol", String, "The protocol for the LB such as tcp, udp, tcp-proxy or ssl.")
                .opt("cidrlist", List, "the CIDR list to allow traffic, all other CIDRs will be blocked. Multiple entries must be separated by a single comma character (,). By default, all CIDRs are allowed.")
                .of(String)
                .opt("openfirewall", Boolean, "if true, firewall rule for source/end public port is automatically created; if false - firewall rule has to be created explicitly. Has value true by default")
                .opt("fordisplay", Boolean, "an optional field, whether to the display the rule to the end user or not"),
            "the account associated with the load balancer. Must be used with the domainId parameter.",
        ),
        CommandSpec::new("deleteLoadBalancerRule", "Deletes a load balancer rule.")
            .asynchronous()
            .returns("success", SUCCESS)
            .req("id", Uuid, "the ID of the load balancer rule")
            .rel("listLoadBalancerRules"),
        CommandSpec::new("updateLoadBalancerRule", "Updates load balancer")
            .asynchronous()
            .returns("loadbalancer", LB_RULE)
            .related("listLoadBalancerRules")
            .req("id", Uuid, "the ID of the load balancer rule to update")
            .rel("listLoadBalancerRules")
            .opt("name", String, "the name of the load balancer rule")
            .opt("description", String, "the description of the load balancer rule")
            .len(4096)
            .opt("algorithm", String, "load balancer algorithm (source, roundrobin, leastconn)")
            .opt("protocol", String, "The protocol for the LB")
            .opt("fordisplay", Boolean, "an optional field, whether to the display the rule to the end user or not"),
        CommandSpec::new("listLoadBalancerRules", "Lists load balancer rules.")
            .returns("loadbalancerrule", LB_RULE)
            .owned_list()
            .opt("id", Uuid, "the ID of the load balancer rule")
            .opt("name", String, "the name of the load balancer rule")
            .opt("publicipid", Uuid, "the public IP address ID of the load balancer rule")
            .rel("listPublicIpAddresses")
            .opt("virtualmachineid", Uuid, "the ID of the virtual machine of the load balancer rule")
            .rel("listVirtualMachines")
            .opt("networkid", Uuid, "list by network ID the rule belongs to")
            .opt("zoneid", Uuid, "the availability zone ID")
            .opt("fordisplay", Boolean, "list resources by display flag")
            .opt("tags", Map, "List resources by tags (key/value pairs)"),
        CommandSpec::new("assignToLoadBalancerRule", "Assigns virtual machine or a list of virtual machines to a load balancer rule.")
            .asynchronous()
            .returns("success", SUCCESS)
            .req("id", Uuid, "the ID of the load balancer rule")
            .rel("listLoadBalancerRules")
            .opt("virtualmachineids", List, "the list of IDs of the virtual machine that are being assigned to the load balancer rule(i.e. virtualMachineIds=1,2,3)")
            .of(Uuid)
            .opt("vmidipmap", Map, "VM ID and IP map, vmidipmap[0].vmid=1 vmidipmap[0].vmip=10.1.1.75"),
        CommandSpec::new("removeFromLoadBalancerRule", "Removes a virtual machine or a list of virtual machines from a load balancer rule.")
            .asynchronous()
            .returns("success", SUCCESS)
            .req("id", Uuid, "The ID of the load balancer rule")
            .rel("listLoadBalancerRules")
            .opt("virtualmachineids", List, "the list of IDs of the virtual machines that are being removed from the load balancer rule (i.e. virtualMachineIds=1,2,3)")
            .of(Uuid)
            .opt("vmidipmap", Map, "VM ID and IP map, vmidipmap[0].vmid=1 vmidipmap[0].vmip=10.1.1.75"),
        CommandSpec::new("listLoadBalancerRuleInstances", "List all virtual machine instances that are assigned to a load balancer rule.")
            .returns("loadbalancerruleinstance", VIRTUAL_MACHINE)
            .list()
            .req("id", Uuid, "the ID of the load balancer rule")
            .rel("listLoadBalancerRules")
            .opt("applied", Boolean, "true if listing all virtual machines currently applied to the load balancer rule; default is true")
            .opt("lbvmips", Boolean, "true if load balancer rule VM IP information to be included; default is false"),
        CommandSpec::new("createLBStickinessPolicy", "Creates a load balancer stickiness policy ")
            .asynchronous()
            .creates()
            .returns("stickinesspolicies", STICKINESS)
            .related("listLBStickinessPolicies")
            .req("lbruleid", Uuid, "the ID of the load balancer rule")
            .rel("listLoadBalancerRules")
            .req("methodname", String, "name of the load balancer stickiness policy method, possible values can be obtained from listNetworks API")
            .req("name", String, "name of the load balancer stickiness policy")
            .opt("description", String, "the description of the load balancer stickiness policy")
            .opt("param", Map, "param list. Example: param[0].name=cookiename&param[0].value=LBCookie ")
            .opt("fordisplay", Boolean, "an optional field, whether to the display the rule to the end user or not"),
        CommandSpec::new("listLBStickinessPolicies", "Lists load balancer stickiness policies.")
            .returns("stickinesspolicies", STICKINESS)
            .list()
            .opt("lbruleid", Uuid, "the ID of the load balancer rule")
            .rel("listLoadBalancerRules")
            .opt("id", Uuid, "the ID of the load balancer stickiness policy")
            .opt("fordisplay", Boolean, "list resources by display flag"),
        CommandSpec::new("deleteLBStickinessPolicy", "Deletes a load balancer stickiness policy.")
            .asynchronous()
            .returns("success", SUCCESS)
            .req("id", Uuid, "the ID of the LB stickiness policy")
            .rel("listLBStickinessPolicies"),
        CommandSpec::new("createLBHealthCheckPolicy", "Creates a load balancer health check policy")
            .asynchronous()
            .creates()
            .returns("healthcheckpolicies", HEALTHCHECK)
            .related("listLBHealthCheckPolicies")
            .req("lbruleid", Uuid, "the ID of the load balancer rule")
            .rel("listLoadBalancerRules")
            .opt("description", String, "the description of the load balancer health check policy")
            .opt("pingpath", String, "HTTP ping path")
            .opt("responsetimeout", Integer, "Time to wait when receiving a response from the health check (2sec - 60 sec)")
            .opt("intervaltime", Integer, "Amount of time between health checks (1 sec - 20940 sec)")
            .opt("healthythreshold", Integer, "Number of consecutive health check success before declaring an instance healthy")
            .opt("unhealthythreshold", Integer, "Number of consecutive health check failures before declaring an instance unhealthy")
            .opt("fordisplay", Boolean, "an optional field, whether to the display the rule to the end user or not"),
        CommandSpec::new("listLBHealthCheckPolicies", "Lists load balancer health check policies.")
            .returns("healthcheckpolicies", HEALTHCHECK)
            .list()
            .opt("lbruleid", Uuid, "the ID of the load balancer rule")
            .rel("listLoadBalancerRules")
            .opt("id", Uuid, "the ID of the health check policy")
            .opt("fordisplay", Boolean, "list resources by display flag"),
        CommandSpec::new("deleteLBHealthCheckPolicy", "Deletes a load balancer health check policy.")
            .asynchronous()
            .returns("success", SUCCESS)
            .req("id", Uuid, "the ID of the load balancer health check policy")
            .rel("listLBHealthCheckPolicies"),
    ]
}

fn vpn() -> Vec<CommandSpec> {
    vec![
        owner(
            CommandSpec::new("createRemoteAccessVpn", "Creates a l2tp/ipsec remote access vpn")
                .asynchronous()
                .creates()
                .returns("remoteaccessvpn", VPN)
                .related("listRemoteAccessVpns")
                .req("publicipid", Uuid, "public ip address id of the vpn server")
                .rel("listPublicIpAddresses")
                .opt("iprange", String, "the range of ip addresses to allocate to vpn clients. The first ip in the range will be taken by the vpn server")
                .opt("openfirewall", Boolean, "if true, firewall rule for source/end public port is automatically created; if false - firewall rule has to be created explicitly. Has value true by default")
                .opt("fordisplay", Boolean, "an optional field, whether to the display the vpn to the end user or not"),
            "an optional account for the VPN. Must be used with domainId.",
        ),
        CommandSpec::new("deleteRemoteAccessVpn", "Destroys a l2tp/ipsec remote access vpn")
            .asynchronous()
            .returns("success", SUCCESS)
            .req("publicipid", Uuid, "public ip address id of the vpn server")
            .rel("listPublicIpAddresses"),
        CommandSpec::new("updateRemoteAccessVpn", "Updates remote access vpn")
            .asynchronous()
            .returns("remoteaccessvpn", VPN)
            .related("listRemoteAccessVpns")
            .req("id", Uuid, "id of the remote access vpn")
            .rel("listRemoteAccessVpns")
            .opt("fordisplay", Boolean, "an optional field, whether to the display the vpn to the end user or not"),
        CommandSpec::new("listRemoteAccessVpns", "Lists remote access vpns")
            .returns("remoteaccessvpn", VPN)
            .owned_list()
            .opt("id", Uuid, "Lists remote access vpn rule with the specified ID")
            .opt("publicipid", Uuid, "public ip address id of the vpn server")
            .rel("listPublicIpAddresses")
            .opt("networkid", Uuid, "list remote access VPNs for certain network")
            .opt("fordisplay", Boolean, "list resources by display flag"),
        owner(
            CommandSpec::new("addVpnUser", "Adds vpn users")
                .asynchronous()
                .creates()
                .returns("vpnuser", VPN_USER)
                .related("listVpnUsers")
                .req("username", String, "username for the vpn user")
                .req("password", String, "password for the username"),
            "an optional account for the vpn user. Must be used with domainId.",
        ),
        owner(
            CommandSpec::new("removeVpnUser", "Removes vpn user")
                .asynchronous()
                .returns("success", SUCCESS)
                .req("username", String, "username for the vpn user"),
            "an optional account for the vpn user. Must be used with domainId.",
        ),
        CommandSpec::new("listVpnUsers", "Lists vpn users")
            .returns("vpnuser", VPN_USER)
            .owned_list()
            .opt("id", Uuid, "The uuid of the Vpn user")
            .opt("username", String, "the username of the vpn user."),
    ]
}

fn routes_and_routers() -> Vec<CommandSpec> {
    vec![
        CommandSpec::new("createStaticRoute", "Creates a static route. Canopy: on a guest network's virtual router (networkid), with a next hop, an optional interface and a metric; the longest prefix wins, then the lowest metric.")
            .asynchronous()
            .creates()
            .returns("staticroute", STATIC_ROUTE)
            .related("listStaticRoutes")
            .req("cidr", String, "static route cidr")
            .opt("networkid", Uuid, "the guest network whose router gets the route (Canopy)")
            .rel("listNetworks")
            .opt("nexthop", String, "IP address of the next hop")
            .opt("metric", Integer, "the route's metric, 0 or more (Canopy; default 0)")
            .opt("interface", String, "the router interface: guest or public (Canopy; default: where the next hop is)")
            .opt("gatewayid", Uuid, "the gateway id we are creating static route for: a VPC's private gateway (the route leaves the VPC router through it, to the gateway's next hop unless nexthop is given)")
            .rel("listPrivateGateways")
            .opt("vpcid", Uuid, "the VPC id we are creating static route for (with gatewayid: must be its VPC)"),
        CommandSpec::new("deleteStaticRoute", "Deletes a static route")
            .asynchronous()
            .returns("success", SUCCESS)
            .req("id", Uuid, "the ID of the static route")
            .rel("listStaticRoutes"),
        CommandSpec::new("listStaticRoutes", "Lists all static routes")
            .returns("staticroute", STATIC_ROUTE)
            .owned_list()
            .opt("id", Uuid, "list static route by id")
            .opt("networkid", Uuid, "list static routes of this guest network (Canopy)")
            .rel("listNetworks")
            .opt("vpcid", Uuid, "list static routes by vpc id")
            .opt("gatewayid", Uuid, "list static routes by gateway id")
            .opt("state", String, "list static routes by state")
            .opt("tags", Map, "List resources by tags (key/value pairs)"),
        CommandSpec::new("listRouters", "List routers.")
            .roles(ADMIN)
            .returns("router", ROUTER)
            .owned_list()
            .opt("id", Uuid, "the ID of the disk router")
            .opt("name", String, "the name of the router")
            .opt("state", String, "the state of the router")
            .opt("zoneid", Uuid, "the Zone ID of the router")
            .rel("listZones")
            .opt("podid", Uuid, "the Pod ID of the router")
            .opt("clusterid", Uuid, "the cluster ID of the router")
            .opt("hostid", Uuid, "the host ID of the router")
            .rel("listHosts")
            .opt("networkid", Uuid, "list by network id")
            .rel("listNetworks")
            .opt("vpcid", Uuid, "List the VPC's router")
            .opt("forvpc", Boolean, "if true is passed for this parameter, list only VPC routers (false: only networks' routers)")
            .opt("version", String, "list virtual router elements by version")
            .opt("healthchecksfailed", Boolean, "if this parameter is passed, list only routers by health check results")
            .opt("fetchhealthcheckresults", Boolean, "if true is passed for this parameter, also fetch last executed health check results for the router. Default is false"),
        CommandSpec::new("getHostNetworkConfiguration", "Canopy: the compiled data-plane configuration of a host (bridges, VXLAN peers, taps, security-group nftables, and its routers' interfaces, routes, dnsmasq, nftables, haproxy and VPN files), with the generation the host was given and acknowledged.")
            .roles(ADMIN)
            .returns("hostnetworkconfiguration", HOST_NET_CONFIG)
            .opt("hostid", Uuid, "the host")
            .rel("listHosts")
            .opt("routerid", Uuid, "a router: its host's configuration, narrowed to that router")
            .rel("listRouters"),
        CommandSpec::new("startRouter", "Starts a router.")
            .roles(ADMIN)
            .asynchronous()
            .returns("router", ROUTER)
            .related("listRouters")
            .req("id", Uuid, "the ID of the router")
            .rel("listRouters"),
        CommandSpec::new("stopRouter", "Stops a router.")
            .roles(ADMIN)
            .asynchronous()
            .returns("router", ROUTER)
            .related("listRouters")
            .req("id", Uuid, "the ID of the router")
            .rel("listRouters")
            .opt("forced", Boolean, "Force stop the VM (vm is marked as Stopped even when command fails to be send to the backend, otherwise a force poweroff is attempted). The caller knows the VM is stopped."),
        CommandSpec::new("rebootRouter", "Starts a router.")
            .roles(ADMIN)
            .asynchronous()
            .returns("router", ROUTER)
            .related("listRouters")
            .req("id", Uuid, "the ID of the router")
            .rel("listRouters")
            .opt("forced", Boolean, "Force reboot the router (Router is force Stopped and then Started)"),
        CommandSpec::new("destroyRouter", "Destroys a router.")
            .roles(ADMIN)
            .asynchronous()
            .returns("router", ROUTER)
            .related("listRouters")
            .req("id", Uuid, "the ID of the router")
            .rel("listRouters"),
    ]
}

pub fn specs() -> Vec<CommandSpec> {
    let mut v = networks();
    v.extend(addresses());
    v.extend(rules());
    v.extend(security_groups());
    v.extend(load_balancers());
    v.extend(vpn());
    v.extend(routes_and_routers());
    v
}
