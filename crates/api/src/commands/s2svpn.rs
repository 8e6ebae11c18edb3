//! Site-to-site VPN: a VPC's VPN gateway (its source-NAT address), customer gateways (the
//! remote peers: address, subnets, pre-shared key, IKE/ESP policies) and the connections
//! between the two, with their response objects.

use super::objects::SUCCESS;
use crate::registry::{f, CommandSpec, Field, ParamType::*};

pub const VPN_GATEWAY: &[Field] = &[
    f("id", "string", "the vpn gateway ID"),
    f("publicip", "string", "the public IP address"),
    f("vpcid", "string", "the vpc id of this gateway"),
    f("vpcname", "string", "the vpc name of this gateway"),
    f("account", "string", "the owner"),
    f("domainid", "string", "the domain id of the owner"),
    f("domain", "string", "the domain name of the owner"),
    f("domainpath", "string", "the domain path of the owner"),
    f(
        "fordisplay",
        "boolean",
        "is vpn gateway for display to the regular user",
    ),
    f("removed", "date", "the date and time the host was removed"),
];

/// The policy fields shared by customer gateways and connections.
macro_rules! peer_fields {
    ($($extra:expr),* $(,)?) => {
        &[
            f("gateway", "string", "public ip address id of the customer gateway"),
            f("cidrlist", "string", "guest cidr list of the customer gateway. Multiple entries are separated by a single comma character (,)."),
            f("ipsecpsk", "string", "IPsec Preshared-Key of the customer gateway"),
            f("ikepolicy", "string", "IKE policy of customer gateway"),
            f("esppolicy", "string", "IPsec policy of customer gateway"),
            f("ikelifetime", "long", "Lifetime of IKE SA of customer gateway"),
            f("esplifetime", "long", "Lifetime of ESP SA of customer gateway"),
            f("dpd", "boolean", "if DPD is enabled for customer gateway"),
            f("forceencap", "boolean", "if Force NAT Encapsulation is enabled for customer gateway"),
            f("splitconnections", "boolean", "For IKEv2, whether to split multiple right subnets into separate connection statements"),
            f("ikeversion", "string", "Which IKE Version to use, one of ike (autoselect), ikev1, or ikev2. Defaults to ike"),
            f("account", "string", "the owner"),
            f("domainid", "string", "the domain id of the owner"),
            f("domain", "string", "the domain name of the owner"),
            f("domainpath", "string", "the domain path of the owner"),
            f("removed", "date", "the date and time the host was removed"),
            $($extra),*
        ]
    };
}

pub const VPN_CUSTOMER_GATEWAY: &[Field] = peer_fields!(
    f("id", "string", "the vpn gateway ID"),
    f("name", "string", "name of the customer gateway"),
    f("ipaddress", "string", "guest ip of the customer gateway"),
);

pub const VPN_CONNECTION: &[Field] = peer_fields!(
    f("id", "string", "the connection ID"),
    f("s2svpngatewayid", "string", "the vpn gateway ID"),
    f("publicip", "string", "the public IP address"),
    f("s2scustomergatewayid", "string", "the customer gateway ID"),
    f("state", "string", "State of vpn connection"),
    f("passive", "boolean", "State of vpn connection"),
    f("created", "date", "the date and time the host was created"),
    f(
        "fordisplay",
        "boolean",
        "is connection for display to the regular user"
    ),
);

fn owner(spec: CommandSpec, what: &'static str) -> CommandSpec {
    spec.opt("account", String, what)
        .opt("domainid", Uuid, "an optional domainId for the gateway. If the account parameter is used, domainId must also be used.")
        .rel("listDomains")
}

/// The customer gateway's parameters, required on create and update alike (as CloudStack).
fn peer(spec: CommandSpec) -> CommandSpec {
    spec.req("gateway", String, "public ip address (or domain name) of the customer gateway")
        .req("cidrlist", String, "guest cidr list of the customer gateway. Multiple entries must be separated by a single comma character (,).")
        .req("ipsecpsk", String, "IPsec Preshared-Key of the customer gateway. Cannot contain newline or double quotes.")
        .req("ikepolicy", String, "IKE policy of the customer gateway: cipher-hash;dhgroup[,…] (aes128|aes192|aes256|3des, md5|sha1|sha256|sha384|sha512, modp1024…modp8192)")
        .req("esppolicy", String, "ESP policy of the customer gateway: cipher-hash[;dhgroup][,…]")
        .opt("ikelifetime", Long, "Lifetime of phase 1 VPN connection to the customer gateway, in seconds (at most 86400, default 86400)")
        .opt("esplifetime", Long, "Lifetime of phase 2 VPN connection to the customer gateway, in seconds (at most 86400, default 3600)")
        .opt("dpd", Boolean, "If DPD is enabled for VPN connection")
        .opt("forceencap", Boolean, "Force Encapsulation for NAT traversal")
        .opt("splitconnections", Boolean, "For IKEv2, whether to split multiple right subnets into separate connection statements")
        .opt("ikeversion", String, "Which IKE Version to use, one of ike (autoselect), ikev1, or ikev2. Connections marked with 'ike' will use 'ikev2' when initiating, but accept any protocol version when responding. Defaults to ike")
}

pub fn specs() -> Vec<CommandSpec> {
    vec![
        owner(
            CommandSpec::new("createVpnGateway", "Creates site to site vpn local gateway")
                .asynchronous()
                .returns("vpngateway", VPN_GATEWAY)
                .related("listVpnGateways")
                .req("vpcid", Uuid, "public ip address id of the vpn gateway")
                .rel("listVPCs")
                .opt("fordisplay", Boolean, "an optional field, whether to the display the vpn to the end user or not"),
            "an optional account for the gateway (the VPC's owner is used)",
        ),
        CommandSpec::new("deleteVpnGateway", "Delete site to site vpn gateway")
            .asynchronous()
            .returns("success", SUCCESS)
            .req("id", Uuid, "id of customer gateway")
            .rel("listVpnGateways"),
        CommandSpec::new("updateVpnGateway", "Updates site to site vpn local gateway")
            .asynchronous()
            .returns("vpngateway", VPN_GATEWAY)
            .related("listVpnGateways")
            .req("id", Uuid, "id of customer gateway")
            .rel("listVpnGateways")
            .opt("customid", String, "an optional field, in case you want to set a custom id to the resource. Allowed to Root Admins only")
            .opt("fordisplay", Boolean, "an optional field, whether to the display the vpn to the end user or not"),
        CommandSpec::new("listVpnGateways", "Lists site 2 site vpn gateways")
            .returns("vpngateway", VPN_GATEWAY)
            .owned_list()
            .opt("id", Uuid, "id of the vpn gateway")
            .rel("listVpnGateways")
            .opt("vpcid", Uuid, "id of vpc")
            .rel("listVPCs")
            .opt("fordisplay", Boolean, "list resources by display flag"),
        owner(
            peer(
                CommandSpec::new("createVpnCustomerGateway", "Creates site to site vpn customer gateway")
                    .asynchronous()
                    .returns("vpncustomergateway", VPN_CUSTOMER_GATEWAY)
                    .related("listVpnCustomerGateways")
                    .opt("name", String, "name of this customer gateway (default VPN-<gateway>)"),
            ),
            "the account associated with the gateway. Must be used with the domainId parameter.",
        ),
        owner(
            peer(
                CommandSpec::new("updateVpnCustomerGateway", "Update site to site vpn customer gateway")
                    .asynchronous()
                    .returns("vpncustomergateway", VPN_CUSTOMER_GATEWAY)
                    .related("listVpnCustomerGateways")
                    .req("id", Uuid, "id of customer gateway")
                    .rel("listVpnCustomerGateways")
                    .opt("name", String, "name of this customer gateway (default VPN-<gateway>)"),
            ),
            "the account associated with the gateway. Must be used with the domainId parameter.",
        ),
        CommandSpec::new("deleteVpnCustomerGateway", "Delete site to site vpn customer gateway")
            .asynchronous()
            .returns("success", SUCCESS)
            .req("id", Uuid, "id of customer gateway")
            .rel("listVpnCustomerGateways"),
        CommandSpec::new("listVpnCustomerGateways", "Lists site to site vpn customer gateways")
            .returns("vpncustomergateway", VPN_CUSTOMER_GATEWAY)
            .owned_list()
            .opt("id", Uuid, "id of the customer gateway")
            .rel("listVpnCustomerGateways"),
        owner(
            CommandSpec::new("createVpnConnection", "Create site to site vpn connection")
                .creates()
                .returns("vpnconnection", VPN_CONNECTION)
                .related("listVpnConnections")
                .req("s2svpngatewayid", Uuid, "id of the vpn gateway")
                .rel("listVpnGateways")
                .req("s2scustomergatewayid", Uuid, "id of the customer gateway")
                .rel("listVpnCustomerGateways")
                .opt("passive", Boolean, "connection is passive or not (it waits for the peer to initiate)")
                .opt("fordisplay", Boolean, "an optional field, whether to the display the vpn to the end user or not"),
            "an optional account for the connection (the gateways' owner is used)",
        ),
        CommandSpec::new("deleteVpnConnection", "Delete site to site vpn connection")
            .asynchronous()
            .returns("success", SUCCESS)
            .req("id", Uuid, "id of vpn connection")
            .rel("listVpnConnections"),
        CommandSpec::new("resetVpnConnection", "Reset site to site vpn connection")
            .asynchronous()
            .returns("vpnconnection", VPN_CONNECTION)
            .related("listVpnConnections")
            .req("id", Uuid, "id of vpn connection")
            .rel("listVpnConnections")
            .opt("account", String, "an optional account for connection. Must be used with domainId.")
            .opt("domainid", Uuid, "an optional domainId for connection. If the account parameter is used, domainId must also be used.")
            .rel("listDomains"),
        CommandSpec::new("updateVpnConnection", "Updates site to site vpn connection")
            .asynchronous()
            .returns("vpnconnection", VPN_CONNECTION)
            .related("listVpnConnections")
            .req("id", Uuid, "id of vpn connection")
            .rel("listVpnConnections")
            .opt("customid", String, "an optional field, in case you want to set a custom id to the resource. Allowed to Root Admins only")
            .opt("fordisplay", Boolean, "an optional field, whether to the display the vpn to the end user or not"),
        CommandSpec::new("listVpnConnections", "Lists site to site vpn connection gateways")
            .returns("vpnconnection", VPN_CONNECTION)
            .owned_list()
            .opt("id", Uuid, "id of the vpn connection")
            .rel("listVpnConnections")
            .opt("vpcid", Uuid, "id of vpc")
            .rel("listVPCs")
            .opt("fordisplay", Boolean, "list resources by display flag"),
    ]
}
