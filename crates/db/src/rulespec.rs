//! What a network rule says, decoded at the database boundary.
//!
//! `net_rules.spec` is a JSON document whose shape depends on `net_rules.kind`. Reading a row
//! decodes it into one variant of [`RuleSpec`]; a document that does not decode as its kind
//! (an unknown field, a wrong type, an unknown kind) is a [`DbError::Corrupt`] naming the row
//! — never a rule silently dropped by whoever reads it. Writing a rule writes the variant's
//! document and its kind together, so the two cannot disagree.

use std::collections::BTreeMap;

use model::VmId;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::DbError;

fn yes() -> bool {
    true
}

/// A security group itself (its rules are `Ingress`/`Egress` rows under it).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupSpec {
    #[serde(default)]
    pub description: String,
}

/// A group named by a security-group rule (`usersecuritygrouplist`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupRef {
    pub groupid: Uuid,
}

/// The layer-4 match shared by security-group, firewall and egress rules: the protocol
/// (`tcp`, `udp`, `icmp`, `all` or a number), a port range for TCP/UDP, a type/code for ICMP.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct L4 {
    pub protocol: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startport: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endport: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icmptype: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icmpcode: Option<i64>,
}

impl L4 {
    /// A match on this protocol alone.
    pub fn protocol(p: impl Into<String>) -> Self {
        L4 {
            protocol: p.into(),
            ..Default::default()
        }
    }

    /// The port range (`endport` defaults to `startport`), if there is one.
    pub fn ports(&self) -> Option<(i64, i64)> {
        let s = self.startport?;
        Some((s, self.endport.unwrap_or(s)))
    }
}

/// An ingress or egress rule of a security group: one source (a CIDR or a group).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SgRuleSpec {
    #[serde(flatten)]
    pub l4: L4,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cidrlist: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub usersecuritygrouplist: Vec<GroupRef>,
}

impl SgRuleSpec {
    /// The groups this rule names.
    pub fn groups(&self) -> Vec<Uuid> {
        self.usersecuritygrouplist
            .iter()
            .map(|g| g.groupid)
            .collect()
    }
}

/// A firewall rule on a public IP (ingress) or an egress firewall rule of a network.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FirewallSpec {
    #[serde(flatten)]
    pub l4: L4,
    #[serde(default)]
    pub cidrlist: Vec<String>,
    /// Egress rules only: where the traffic may go.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub destcidrlist: Vec<String>,
    /// `user`, or `system` for a rule another rule opened (`openfirewall`).
    #[serde(default = "user", rename = "type")]
    pub rule_type: String,
    #[serde(default = "yes")]
    pub fordisplay: bool,
    /// The rule this one was opened for (removed and activated with it).
    #[serde(default, rename = "for", skip_serializing_if = "Option::is_none")]
    pub opened_for: Option<Uuid>,
}

fn user() -> String {
    "user".into()
}

/// A port forwarding rule: a public port range of an IP to a VM's private range.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortForwardSpec {
    pub protocol: String,
    pub publicport: i64,
    pub publicendport: i64,
    pub privateport: i64,
    pub privateendport: i64,
    pub virtualmachineid: VmId,
    /// The VM's address the traffic goes to (its NIC on the IP's network).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vmguestip: Option<String>,
    #[serde(default)]
    pub cidrlist: Vec<String>,
    #[serde(default = "yes")]
    pub fordisplay: bool,
}

/// An IP forwarding (one-to-one port range) rule.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IpForwardSpec {
    #[serde(flatten)]
    pub l4: L4,
    pub virtualmachineid: VmId,
    #[serde(default)]
    pub cidrlist: Vec<String>,
}

/// A load balancer rule (its members are `rule_members` rows).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LbSpec {
    /// `roundrobin`, `leastconn` or `source`.
    pub algorithm: String,
    /// `tcp`, `udp` or `tcp-proxy`.
    pub protocol: String,
    pub publicport: i64,
    pub privateport: i64,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub cidrlist: Vec<String>,
    #[serde(default = "yes")]
    pub fordisplay: bool,
    /// The address came from a service IP pool for this rule and goes back with it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pooled: bool,
}

/// A stickiness policy of a load balancer rule.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StickinessSpec {
    pub methodname: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    #[serde(default = "yes")]
    pub fordisplay: bool,
}

/// A health check policy of a load balancer rule.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthCheckSpec {
    pub pingpath: String,
    pub responsetimeout: i64,
    pub intervaltime: i64,
    pub healthythreshold: i64,
    pub unhealthythreshold: i64,
    #[serde(default)]
    pub description: String,
    #[serde(default = "yes")]
    pub fordisplay: bool,
}

/// An SSL certificate of an account (uploadSslCert): PEM certificate and chain, the private
/// key encrypted with the server key, the certificate's SHA-1 fingerprint.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SslCertSpec {
    pub certificate: String,
    #[serde(default)]
    pub certchain: String,
    /// `ServerKey::encrypt` of the PEM private key.
    pub privatekey: String,
    pub fingerprint: String,
}

/// A certificate assigned to a load balancer rule (the rule is its parent).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LbCertSpec {
    pub certid: Uuid,
}

/// A static route of a network's router.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteSpec {
    pub cidr: String,
    #[serde(default)]
    pub metric: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nexthop: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    /// A VPC's route through this private gateway (a network of guest type Private).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gatewayid: Option<Uuid>,
}

/// A remote-access VPN on a public IP.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VpnSpec {
    /// `first-last` client addresses.
    pub iprange: String,
    /// Encrypted with the server's key.
    pub presharedkey: String,
    #[serde(default = "yes")]
    pub fordisplay: bool,
}

/// A VPC's site-to-site VPN gateway (the VPC is its parent, its source-NAT address its IP).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S2sGatewaySpec {
    #[serde(default = "yes")]
    pub fordisplay: bool,
}

/// A site-to-site VPN customer gateway: the remote peer (its name is the rule's name).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S2sCustomerSpec {
    /// The peer's address (or DNS name).
    pub gateway: String,
    /// The peer's subnets, comma-separated as given.
    pub cidrlist: String,
    /// Encrypted with the server's key.
    pub ipsecpsk: String,
    pub ikepolicy: String,
    pub esppolicy: String,
    pub ikelifetime: i64,
    pub esplifetime: i64,
    #[serde(default)]
    pub dpd: bool,
    #[serde(default)]
    pub forceencap: bool,
    #[serde(default)]
    pub splitconnections: bool,
    /// `ike`, `ikev1` or `ikev2`.
    pub ikeversion: String,
}

/// A site-to-site VPN connection (its gateway is its parent).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S2sConnectionSpec {
    pub customergatewayid: Uuid,
    #[serde(default)]
    pub passive: bool,
    #[serde(default = "yes")]
    pub fordisplay: bool,
    /// CloudStack's connection state: Pending, Connected, Disconnected or Error.
    pub status: String,
}

/// A VPN user of an account.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VpnUserSpec {
    /// Encrypted with the server's key.
    pub password: String,
}

/// A network ACL list (`createNetworkACLList`): its name is the rule's name, its parent the VPC
/// (none: a global list, such as the built-in `default_allow` and `default_deny`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AclListSpec {
    #[serde(default)]
    pub description: String,
    #[serde(default = "yes")]
    pub fordisplay: bool,
    /// A built-in list nobody may change or remove.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub builtin: bool,
}

/// An item of a network ACL list (`createNetworkACL`); its parent is the list.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AclItemSpec {
    #[serde(flatten)]
    pub l4: L4,
    /// Evaluation order, lowest first; unique in its list.
    pub number: i64,
    /// `Allow` or `Deny`.
    pub action: String,
    /// `Ingress` or `Egress`.
    pub traffictype: String,
    /// Sources of ingress traffic, destinations of egress traffic.
    #[serde(default)]
    pub cidrlist: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    #[serde(default = "yes")]
    pub fordisplay: bool,
}

/// A service tag (a Canopy addition): a named group of addresses ACL items name in place of a
/// CIDR; its name is the rule's name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceTagSpec {
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub cidrlist: Vec<String>,
}

/// An internal load balancer (`createLoadBalancer scheme=Internal`): the rule's network is the
/// tier whose VMs receive the traffic; the source address is reserved on its own tier as a
/// NIC row owned by the load balancer (`db::nic_reserve`), so no VM can take it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InternalLbSpec {
    /// `roundrobin`, `leastconn` or `source`.
    pub algorithm: String,
    pub sourceport: i64,
    pub instanceport: i64,
    pub sourceipaddress: String,
    pub sourceipaddressnetworkid: Uuid,
    #[serde(default)]
    pub description: String,
    #[serde(default = "yes")]
    pub fordisplay: bool,
}

/// One rule of the networking model, by kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuleSpec {
    SecurityGroup(GroupSpec),
    Ingress(SgRuleSpec),
    Egress(SgRuleSpec),
    Firewall(FirewallSpec),
    EgressFirewall(FirewallSpec),
    PortForward(PortForwardSpec),
    IpForward(IpForwardSpec),
    LoadBalancer(LbSpec),
    InternalLb(InternalLbSpec),
    Stickiness(StickinessSpec),
    HealthCheck(HealthCheckSpec),
    Route(RouteSpec),
    Vpn(VpnSpec),
    VpnUser(VpnUserSpec),
    AclList(AclListSpec),
    AclItem(AclItemSpec),
    ServiceTag(ServiceTagSpec),
    SslCert(SslCertSpec),
    LbCert(LbCertSpec),
    S2sGateway(S2sGatewaySpec),
    S2sCustomer(S2sCustomerSpec),
    S2sConnection(S2sConnectionSpec),
}

/// The kinds as stored in `net_rules.kind`.
pub mod kind {
    pub const SECURITY_GROUP: &str = "securitygroup";
    pub const INGRESS: &str = "ingress";
    pub const EGRESS: &str = "egress";
    pub const FIREWALL: &str = "firewall";
    pub const EGRESS_FIREWALL: &str = "egressfw";
    pub const PORT_FORWARD: &str = "portforward";
    pub const IP_FORWARD: &str = "ipforward";
    pub const LOAD_BALANCER: &str = "lb";
    pub const INTERNAL_LB: &str = "ilb";
    pub const STICKINESS: &str = "stickiness";
    pub const HEALTH_CHECK: &str = "healthcheck";
    pub const ROUTE: &str = "route";
    pub const VPN: &str = "vpn";
    pub const VPN_USER: &str = "vpnuser";
    pub const ACL_LIST: &str = "acllist";
    pub const ACL_ITEM: &str = "aclitem";
    pub const SERVICE_TAG: &str = "servicetag";
    pub const SSL_CERT: &str = "sslcert";
    pub const LB_CERT: &str = "lbcert";
    pub const S2S_GATEWAY: &str = "s2sgateway";
    pub const S2S_CUSTOMER: &str = "s2scustomer";
    pub const S2S_CONNECTION: &str = "s2sconnection";
}

impl RuleSpec {
    /// The `net_rules.kind` this spec is stored under.
    pub fn kind(&self) -> &'static str {
        use RuleSpec::*;
        match self {
            SecurityGroup(_) => kind::SECURITY_GROUP,
            Ingress(_) => kind::INGRESS,
            Egress(_) => kind::EGRESS,
            Firewall(_) => kind::FIREWALL,
            EgressFirewall(_) => kind::EGRESS_FIREWALL,
            PortForward(_) => kind::PORT_FORWARD,
            IpForward(_) => kind::IP_FORWARD,
            LoadBalancer(_) => kind::LOAD_BALANCER,
            InternalLb(_) => kind::INTERNAL_LB,
            Stickiness(_) => kind::STICKINESS,
            HealthCheck(_) => kind::HEALTH_CHECK,
            Route(_) => kind::ROUTE,
            Vpn(_) => kind::VPN,
            VpnUser(_) => kind::VPN_USER,
            AclList(_) => kind::ACL_LIST,
            AclItem(_) => kind::ACL_ITEM,
            ServiceTag(_) => kind::SERVICE_TAG,
            SslCert(_) => kind::SSL_CERT,
            LbCert(_) => kind::LB_CERT,
            S2sGateway(_) => kind::S2S_GATEWAY,
            S2sCustomer(_) => kind::S2S_CUSTOMER,
            S2sConnection(_) => kind::S2S_CONNECTION,
        }
    }

    /// The stored document.
    pub fn to_json(&self) -> String {
        use RuleSpec::*;
        let v = match self {
            SecurityGroup(s) => serde_json::to_string(s),
            Ingress(s) | Egress(s) => serde_json::to_string(s),
            Firewall(s) | EgressFirewall(s) => serde_json::to_string(s),
            PortForward(s) => serde_json::to_string(s),
            IpForward(s) => serde_json::to_string(s),
            LoadBalancer(s) => serde_json::to_string(s),
            InternalLb(s) => serde_json::to_string(s),
            Stickiness(s) => serde_json::to_string(s),
            HealthCheck(s) => serde_json::to_string(s),
            Route(s) => serde_json::to_string(s),
            Vpn(s) => serde_json::to_string(s),
            VpnUser(s) => serde_json::to_string(s),
            AclList(s) => serde_json::to_string(s),
            AclItem(s) => serde_json::to_string(s),
            ServiceTag(s) => serde_json::to_string(s),
            SslCert(s) => serde_json::to_string(s),
            LbCert(s) => serde_json::to_string(s),
            S2sGateway(s) => serde_json::to_string(s),
            S2sCustomer(s) => serde_json::to_string(s),
            S2sConnection(s) => serde_json::to_string(s),
        };
        // Serializing these plain structs (strings, numbers, lists, string maps) cannot fail.
        v.unwrap_or_else(|_| "{}".into())
    }

    /// Decodes the document stored for a rule of `kind`; `row` names the rule in the error.
    pub fn decode(kind: &str, doc: &str, row: Uuid) -> Result<Self, DbError> {
        fn de<'a, T: Deserialize<'a>>(doc: &'a str) -> Result<T, String> {
            serde_json::from_str(doc).map_err(|e| e.to_string())
        }
        use RuleSpec::*;
        let r = match kind {
            kind::SECURITY_GROUP => de(doc).map(SecurityGroup),
            kind::INGRESS => de(doc).map(Ingress),
            kind::EGRESS => de(doc).map(Egress),
            kind::FIREWALL => de(doc).map(Firewall),
            kind::EGRESS_FIREWALL => de(doc).map(EgressFirewall),
            kind::PORT_FORWARD => de(doc).map(PortForward),
            kind::IP_FORWARD => de(doc).map(IpForward),
            kind::LOAD_BALANCER => de(doc).map(LoadBalancer),
            kind::INTERNAL_LB => de(doc).map(InternalLb),
            kind::STICKINESS => de(doc).map(Stickiness),
            kind::HEALTH_CHECK => de(doc).map(HealthCheck),
            kind::ROUTE => de(doc).map(Route),
            kind::VPN => de(doc).map(Vpn),
            kind::VPN_USER => de(doc).map(VpnUser),
            kind::ACL_LIST => de(doc).map(AclList),
            kind::ACL_ITEM => de(doc).map(AclItem),
            kind::SERVICE_TAG => de(doc).map(ServiceTag),
            kind::SSL_CERT => de(doc).map(SslCert),
            kind::LB_CERT => de(doc).map(LbCert),
            kind::S2S_GATEWAY => de(doc).map(S2sGateway),
            kind::S2S_CUSTOMER => de(doc).map(S2sCustomer),
            kind::S2S_CONNECTION => de(doc).map(S2sConnection),
            other => Err(format!("unknown rule kind {other:?}")),
        };
        r.map_err(|e| DbError::Corrupt {
            table: "net_rules",
            column: "spec",
            value: format!("rule {row} ({kind}): {e}: {doc}"),
        })
    }

    /// The layer-4 match of a security-group, firewall or IP-forwarding rule.
    pub fn l4(&self) -> Option<&L4> {
        use RuleSpec::*;
        match self {
            Ingress(s) | Egress(s) => Some(&s.l4),
            Firewall(s) | EgressFirewall(s) => Some(&s.l4),
            IpForward(s) => Some(&s.l4),
            AclItem(s) => Some(&s.l4),
            _ => None,
        }
    }

    /// The protocol the rule matches, where it has one.
    pub fn protocol(&self) -> Option<&str> {
        use RuleSpec::*;
        match self {
            PortForward(s) => Some(&s.protocol),
            LoadBalancer(s) => Some(&s.protocol),
            _ => self.l4().map(|l| l.protocol.as_str()),
        }
    }

    /// The public port range the rule occupies on its IP.
    pub fn public_ports(&self) -> Option<(i64, i64)> {
        use RuleSpec::*;
        match self {
            PortForward(s) => Some((s.publicport, s.publicendport)),
            LoadBalancer(s) => Some((s.publicport, s.publicport)),
            _ => self.l4().and_then(L4::ports),
        }
    }

    /// The VM a forwarding rule sends traffic to.
    pub fn target_vm(&self) -> Option<VmId> {
        match self {
            RuleSpec::PortForward(s) => Some(s.virtualmachineid),
            RuleSpec::IpForward(s) => Some(s.virtualmachineid),
            _ => None,
        }
    }

    /// `fordisplay` where the kind has it (true otherwise).
    pub fn for_display(&self) -> bool {
        use RuleSpec::*;
        match self {
            Firewall(s) | EgressFirewall(s) => s.fordisplay,
            PortForward(s) => s.fordisplay,
            LoadBalancer(s) => s.fordisplay,
            InternalLb(s) => s.fordisplay,
            Stickiness(s) => s.fordisplay,
            HealthCheck(s) => s.fordisplay,
            Vpn(s) => s.fordisplay,
            S2sGateway(s) => s.fordisplay,
            S2sConnection(s) => s.fordisplay,
            _ => true,
        }
    }

    /// Sets `fordisplay` where the kind has it.
    pub fn set_for_display(&mut self, d: bool) {
        use RuleSpec::*;
        match self {
            Firewall(s) | EgressFirewall(s) => s.fordisplay = d,
            PortForward(s) => s.fordisplay = d,
            LoadBalancer(s) => s.fordisplay = d,
            InternalLb(s) => s.fordisplay = d,
            Stickiness(s) => s.fordisplay = d,
            HealthCheck(s) => s.fordisplay = d,
            Vpn(s) => s.fordisplay = d,
            S2sGateway(s) => s.fordisplay = d,
            S2sConnection(s) => s.fordisplay = d,
            _ => {}
        }
    }

    /// The groups a security-group rule names.
    pub fn groups(&self) -> Vec<Uuid> {
        match self {
            RuleSpec::Ingress(s) | RuleSpec::Egress(s) => s.groups(),
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips() {
        let id = Uuid::new_v4();
        let specs = [
            RuleSpec::SecurityGroup(GroupSpec {
                description: "d".into(),
            }),
            RuleSpec::Ingress(SgRuleSpec {
                l4: L4 {
                    protocol: "tcp".into(),
                    startport: Some(22),
                    endport: Some(22),
                    ..Default::default()
                },
                cidrlist: vec!["0.0.0.0/0".into()],
                usersecuritygrouplist: vec![],
            }),
            RuleSpec::Egress(SgRuleSpec {
                l4: L4::protocol("all"),
                cidrlist: vec![],
                usersecuritygrouplist: vec![GroupRef { groupid: id }],
            }),
            RuleSpec::Firewall(FirewallSpec {
                l4: L4::protocol("icmp"),
                cidrlist: vec!["10.0.0.0/8".into()],
                rule_type: "system".into(),
                fordisplay: true,
                opened_for: Some(id),
                ..Default::default()
            }),
            RuleSpec::EgressFirewall(FirewallSpec {
                l4: L4::protocol("udp"),
                destcidrlist: vec!["1.1.1.1/32".into()],
                rule_type: "user".into(),
                ..Default::default()
            }),
            RuleSpec::PortForward(PortForwardSpec {
                protocol: "tcp".into(),
                publicport: 80,
                publicendport: 81,
                privateport: 8080,
                privateendport: 8081,
                virtualmachineid: VmId(id),
                vmguestip: Some("10.1.1.2".into()),
                cidrlist: vec![],
                fordisplay: false,
            }),
            RuleSpec::IpForward(IpForwardSpec {
                l4: L4::protocol("tcp"),
                virtualmachineid: VmId(id),
                cidrlist: vec![],
            }),
            RuleSpec::LoadBalancer(LbSpec {
                algorithm: "source".into(),
                protocol: "tcp".into(),
                publicport: 80,
                privateport: 80,
                ..Default::default()
            }),
            RuleSpec::InternalLb(InternalLbSpec {
                algorithm: "leastconn".into(),
                sourceport: 80,
                instanceport: 8080,
                sourceipaddress: "10.1.1.200".into(),
                sourceipaddressnetworkid: id,
                ..Default::default()
            }),
            RuleSpec::Stickiness(StickinessSpec {
                methodname: "LbCookie".into(),
                params: [("holdtime".to_string(), "3600".to_string())].into(),
                ..Default::default()
            }),
            RuleSpec::HealthCheck(HealthCheckSpec {
                pingpath: "/".into(),
                responsetimeout: 2,
                intervaltime: 5,
                healthythreshold: 2,
                unhealthythreshold: 10,
                ..Default::default()
            }),
            RuleSpec::Route(RouteSpec {
                cidr: "10.9.0.0/16".into(),
                metric: 100,
                nexthop: Some("10.1.1.1".into()),
                interface: None,
                gatewayid: None,
            }),
            RuleSpec::Vpn(VpnSpec {
                iprange: "10.1.2.1-10.1.2.8".into(),
                presharedkey: "x".into(),
                fordisplay: true,
            }),
            RuleSpec::VpnUser(VpnUserSpec {
                password: "p".into(),
            }),
        ];
        for s in specs {
            let back = RuleSpec::decode(s.kind(), &s.to_json(), id).expect("round trip");
            assert_eq!(back, s);
        }
    }

    #[test]
    fn a_document_that_does_not_fit_its_kind_is_corrupt_and_names_the_row() {
        let id = Uuid::new_v4();
        for (kind, doc) in [
            ("firewall", r#"{"protocol":"tcp","startport":"22"}"#),
            ("firewall", r#"{"protocol":"tcp","bogus":1}"#),
            ("portforward", r#"{"protocol":"tcp"}"#),
            ("lb", "not json"),
            ("teleport", "{}"),
        ] {
            let e = RuleSpec::decode(kind, doc, id).expect_err("must not decode");
            match e {
                DbError::Corrupt { table, value, .. } => {
                    assert_eq!(table, "net_rules");
                    assert!(value.contains(&id.to_string()), "{value}");
                }
                other => panic!("{other:?}"),
            }
        }
    }
}
