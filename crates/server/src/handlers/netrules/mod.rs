//! Rules on public IPs and guest networks: firewall (ingress on a public IP), egress
//! firewall (per network, against the offering's default policy), port forwarding, and IP
//! forwarding (port ranges of a static-NAT IP). Every rule is created in state `Add` by the
//! request (so it is listed at once, as libcloud expects), compiled and pushed to the router's
//! host by the job, then `Active`; deleting pushes the configuration without it.
//!
//! Also the helpers the other rule families share (owner fields, access, activate/revoke).

mod firewall;
mod forwarding;

pub use firewall::*;
pub use forwarding::*;

use std::net::Ipv4Addr;

use api::{ApiError, Args};
use db::rulespec::L4;
use db::{PublicIpRow, RuleRow, RuleSpec};
use model::identity::display_domain_path;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::context::OpContext;
use crate::error::{param_err, AppResult};
use crate::events::Event;
use crate::jobs::{JobPlan, JobRef};
use crate::state::State;

pub(crate) fn owner_fields(v: &mut Value, r: &RuleRow) {
    if let Some(a) = &r.account_name {
        v["account"] = json!(a);
    }
    if let (Some(d), Some(dn)) = (r.domain_id, &r.domain_name) {
        v["domainid"] = json!(d);
        v["domain"] = json!(dn);
        v["domainpath"] = json!(display_domain_path(r.domain_path.as_deref().unwrap_or("/")));
    }
}

/// The rule (of one of `kinds`) the caller may change.
pub(crate) async fn owned_rule(
    st: &State,
    ctx: &OpContext,
    param: &str,
    id: Uuid,
    kinds: &[&str],
) -> AppResult<RuleRow> {
    let r = {
        let mut c = st.store.read().await?;
        db::rule_get(&mut c, id).await?
    };
    let Some(r) = r.filter(|r| kinds.contains(&r.kind())) else {
        return Err(ApiError::invalid_id(param, &id.to_string()).into());
    };
    match r.account_id {
        Some(a) if a == ctx.account_id() => {}
        Some(a) => {
            let acct = crate::access::account(st, "account", a).await?;
            crate::access::check_account(ctx, &acct)?;
        }
        None if ctx.is_admin() => {}
        None => return Err(ApiError::invalid_id(param, &id.to_string()).into()),
    }
    Ok(r)
}

/// The networks a rule's configuration lives on.
pub(crate) fn nets_of(r: &RuleRow) -> Vec<model::NetworkId> {
    r.network_id.into_iter().collect()
}

/// Pushes the configuration with the rule and marks it Active.
pub(crate) async fn activate(st: &State, id: Uuid) -> AppResult<RuleRow> {
    let r = {
        let mut c = st.store.read().await?;
        db::rule_get(&mut c, id).await?
    }
    .ok_or_else(|| ApiError::invalid_id("id", &id.to_string()))?;
    crate::netsync::networks_changed(st, &nets_of(&r)).await?;
    if r.state != model::RuleState::Active {
        let mut tx = st.store.begin().await?;
        db::rule_update(
            &mut tx,
            r.id,
            model::RuleState::Active,
            r.name.as_deref(),
            &r.spec,
        )
        .await?;
        tx.commit().await?;
    }
    let mut c = st.store.read().await?;
    Ok(db::rule_get(&mut c, id)
        .await?
        .ok_or_else(|| ApiError::invalid_id("id", &id.to_string()))?)
}

/// Removes a rule (and what hangs under it) and pushes the configuration without it.
/// Idempotent: a rule already gone is success.
pub(crate) async fn revoke(st: &State, ctx: &OpContext, id: Uuid, kinds: &[&str]) -> AppResult<()> {
    let r = match owned_rule(st, ctx, "id", id, kinds).await {
        Ok(r) => r,
        Err(_) => return Ok(()),
    };
    let mut tx = st.store.begin().await?;
    db::rule_remove(&mut tx, db::RuleOwner::Parent, r.id).await?;
    db::rule_remove(&mut tx, db::RuleOwner::Id, r.id).await?;
    let event = match &r.spec {
        RuleSpec::Firewall(_) | RuleSpec::EgressFirewall(_) => "FIREWALL.CLOSE",
        RuleSpec::PortForward(_) => "NET.RULEDELETE",
        RuleSpec::LoadBalancer(_) => "LB.DELETE",
        RuleSpec::Route(_) => "STATIC.ROUTE.DELETE",
        RuleSpec::Vpn(_) => "VPN.REMOTE.ACCESS.DESTROY",
        _ => "NET.RULEDELETE",
    };
    Event::new(ctx, event, format!("{} rule {} removed", r.kind(), r.id))
        .resource(r.id, "FirewallRule", None)
        .record(&mut tx)
        .await?;
    tx.commit().await?;
    crate::netsync::networks_changed(st, &nets_of(&r)).await?;
    Ok(())
}

/// The public IP the caller may put rules on: allocated, on a network.
pub(crate) async fn rule_ip(
    st: &State,
    ctx: &OpContext,
    param: &str,
    id: Uuid,
) -> AppResult<PublicIpRow> {
    let ip = super::ips::owned_ip(st, ctx, param, id).await?;
    if ip.state != model::IpState::Allocated {
        return param_err(format!(
            "Public IP {} is in state {}: rules need an Allocated address",
            ip.address, ip.state
        ));
    }
    if ip.network_id.is_none() {
        return param_err(format!(
            "Unable to create the rule: IP address {} is not associated with any network",
            ip.address
        ));
    }
    Ok(ip)
}

/// The address of a rule, as [`rule_ip`]; a VPC's own address (associated with the VPC, no
/// tier yet) first moves to the tier the rule is for — `networkid`, else the tier of `vm`'s
/// NIC in that VPC — as CloudStack ties a VPC address to a tier with its first rule.
pub(crate) async fn rule_ip_on_tier(
    st: &State,
    ctx: &OpContext,
    param: &str,
    id: Uuid,
    tier: Option<Uuid>,
    vm: Option<Uuid>,
) -> AppResult<PublicIpRow> {
    let ip = rule_ip(st, ctx, param, id).await?;
    let Some(key) = ip.network_id else {
        return Ok(ip);
    };
    let vpc = {
        let mut c = st.store.read().await?;
        db::vpc_get(&mut c, model::VpcId(key.0)).await?
    };
    let Some(vpc) = vpc else {
        return Ok(ip);
    };
    let tier = match (tier, vm) {
        (Some(t), _) => Some(t),
        (None, Some(v)) => {
            let mut c = st.store.read().await?;
            let nics = db::net_nics_of_vms(&mut c, &[model::VmId(v)]).await?;
            let tiers = super::vpcs::tiers_of(st, vpc.id).await?;
            nics.iter()
                .map(|n| n.network_id)
                .find(|n| tiers.iter().any(|t| t.id == *n))
                .map(|n| n.0)
        }
        (None, None) => None,
    };
    let Some(t) = tier else {
        return param_err(format!(
            "IP address {} belongs to VPC {}: give networkid, the tier the rule is for",
            ip.address, vpc.name
        ));
    };
    let net = super::networks::owned_network(st, ctx, "networkid", t).await?;
    if net.vpc_id != Some(vpc.id) {
        return param_err(format!(
            "Network {} is not a tier of VPC {}, which IP address {} belongs to",
            net.name, vpc.name, ip.address
        ));
    }
    let mut tx = st.store.begin().await?;
    db::public_ip_move(&mut tx, ip.id, key, net.id).await?;
    tx.commit().await?;
    rule_ip(st, ctx, param, id).await
}

pub(crate) fn parse_cidrs(args: &Args, key: &str, default_any: bool) -> AppResult<Vec<String>> {
    let given: Vec<String> = args
        .list(key)
        .map(|l| {
            l.iter()
                .flat_map(|s| s.split(','))
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    if given.is_empty() {
        return Ok(if default_any {
            vec!["0.0.0.0/0".into()]
        } else {
            Vec::new()
        });
    }
    given
        .into_iter()
        .map(|c| {
            let p: netplan::Cidr = c
                .parse()
                .map_err(|_| ApiError::param(format!("Invalid CIDR {c} in {key}")))?;
            if !c.contains('/') || p.to_string() != c {
                // CloudStack wants the network address with its prefix length.
                return param_err(format!("Invalid CIDR {c} in {key}: give it as {p}"));
            }
            Ok(c)
        })
        .collect()
}

pub(crate) fn port_arg(args: &Args, k: &str) -> AppResult<Option<i64>> {
    match args.int(k) {
        Some(p) if !(1..=65535).contains(&p) => {
            param_err(format!("Invalid {k} {p}: ports are between 1 and 65535"))
        }
        other => Ok(other),
    }
}

/// The protocol and ports/ICMP of a firewall-style rule, checked. `extra` protocols are
/// allowed besides tcp/udp/icmp (egress: `all` and numbers).
pub(crate) fn l4_spec(args: &Args, egress: bool) -> AppResult<L4> {
    let proto_in = args.text("protocol").unwrap_or("all").to_ascii_lowercase();
    let proto = match proto_in.as_str() {
        "tcp" | "udp" | "icmp" => proto_in.clone(),
        "all" if egress => "all".into(),
        n if egress && n.parse::<u8>().is_ok() => n.to_string(),
        other => {
            return param_err(format!(
                "Invalid protocol {other}: use {}",
                if egress {
                    "TCP, UDP, ICMP, ALL or a protocol number"
                } else {
                    "TCP, UDP or ICMP"
                }
            ))
        }
    };
    let start = port_arg(args, "startport")?;
    let end = port_arg(args, "endport")?.or(start);
    let mut spec = L4::protocol(proto.clone());
    if proto == "tcp" || proto == "udp" {
        if let (Some(s), Some(e)) = (start, end) {
            if e < s {
                return param_err(format!("Invalid port range {s}-{e}: the end port is lower"));
            }
            spec.startport = Some(s);
            spec.endport = Some(e);
        }
    } else {
        if start.is_some() {
            return param_err(format!("Ports are only for TCP and UDP rules, not {proto}"));
        }
        if proto == "icmp" {
            for k in ["icmptype", "icmpcode"] {
                let v = args.int(k).unwrap_or(-1);
                if !(-1..=255).contains(&v) {
                    return param_err(format!("Invalid {k} {v}: -1 (any) or 0-255"));
                }
                if k == "icmptype" {
                    spec.icmptype = Some(v);
                } else {
                    spec.icmpcode = Some(v);
                }
            }
        }
    }
    if proto != "icmp" && (args.has("icmptype") || args.has("icmpcode")) {
        return param_err("icmptype and icmpcode are only for ICMP rules");
    }
    Ok(spec)
}

/// Refuses a public port range that overlaps one of another rule of these kinds on the IP
/// (same protocol).
pub(crate) async fn check_port_conflict(
    st: &State,
    ip: &PublicIpRow,
    kinds: Vec<&'static str>,
    protocol: &str,
    range: (i64, i64),
    except: Option<Uuid>,
) -> AppResult<()> {
    let rules = {
        let mut c = st.store.read().await?;
        db::rule_list(
            &mut c,
            &db::RuleFilter {
                kinds,
                ip_ids: vec![ip.id],
                ..Default::default()
            },
        )
        .await?
        .0
    };
    for r in rules.iter().filter(|r| Some(r.id) != except) {
        let p = r.spec.protocol().unwrap_or("tcp");
        let lb = matches!(r.spec, RuleSpec::LoadBalancer(_));
        if !(p.eq_ignore_ascii_case(protocol) || lb && protocol == "tcp") {
            continue;
        }
        let theirs = r.spec.public_ports();
        if let Some((a, b)) = theirs {
            if range.0 <= b && a <= range.1 {
                return param_err(format!(
                    "The range specified, {}-{}, conflicts with rule {} which has {a}-{b}",
                    range.0, range.1, r.id
                ));
            }
        }
    }
    Ok(())
}

pub(crate) fn base_view(r: &RuleRow, ip: Option<&PublicIpRow>) -> Value {
    let mut v = json!({
        "id": r.id,
        "state": r.state,
        "fordisplay": r.spec.for_display(),
        "tags": [],
    });
    if let Some(n) = r.network_id {
        v["networkid"] = json!(n);
    }
    if let Some(ip) = ip {
        v["ipaddressid"] = json!(ip.id);
        v["ipaddress"] = json!(ip.address);
    } else if let Some(i) = r.ip_id {
        v["ipaddressid"] = json!(i);
    }
    owner_fields(&mut v, r);
    v
}

pub(crate) fn cidr_text(cidrs: &[String]) -> String {
    cidrs.join(",")
}

/// The protocol and the ports or ICMP type/code of a rule view (those it has).
pub(crate) fn l4_fields(v: &mut Value, l4: &L4) {
    v["protocol"] = json!(l4.protocol);
    for (k, x) in [
        ("startport", l4.startport),
        ("endport", l4.endport),
        ("icmptype", l4.icmptype),
        ("icmpcode", l4.icmpcode),
    ] {
        if let Some(x) = x {
            v[k] = json!(x);
        }
    }
}

pub(crate) fn firewall_view(r: &RuleRow, ip: Option<&PublicIpRow>) -> Value {
    let mut v = base_view(r, ip);
    let (RuleSpec::Firewall(x) | RuleSpec::EgressFirewall(x)) = &r.spec else {
        return v;
    };
    l4_fields(&mut v, &x.l4);
    v["cidrlist"] = json!(cidr_text(&x.cidrlist));
    if matches!(r.spec, RuleSpec::EgressFirewall(_)) {
        v["destcidrlist"] = json!(cidr_text(&x.destcidrlist));
        v["traffictype"] = json!("Egress");
    } else {
        v["traffictype"] = json!("Ingress");
    }
    v
}

pub(crate) async fn ips_by_id(
    st: &State,
    rows: &[RuleRow],
) -> AppResult<std::collections::HashMap<Uuid, PublicIpRow>> {
    let ids: Vec<Uuid> = rows.iter().filter_map(|r| r.ip_id).collect();
    if ids.is_empty() {
        return Ok(Default::default());
    }
    let mut c = st.store.read().await?;
    Ok(db::public_ip_list(
        &mut c,
        &db::PublicIpFilter {
            ids,
            ..Default::default()
        },
    )
    .await?
    .0
    .into_iter()
    .map(|i| (i.id, i))
    .collect())
}

pub(crate) async fn vm_names(
    st: &State,
    rows: &[RuleRow],
) -> AppResult<std::collections::HashMap<model::VmId, db::VmRow>> {
    let mut out = std::collections::HashMap::new();
    let mut c = st.store.read().await?;
    for id in rows.iter().filter_map(|r| r.spec.target_vm()) {
        if out.contains_key(&id) {
            continue;
        }
        if let Some(vm) = db::vm_get_any(&mut c, id).await? {
            out.insert(id, vm);
        }
    }
    Ok(out)
}

pub(crate) fn pf_view(r: &RuleRow, ip: Option<&PublicIpRow>, vm: Option<&db::VmRow>) -> Value {
    let mut v = base_view(r, ip);
    let RuleSpec::PortForward(s) = &r.spec else {
        return v;
    };
    v["protocol"] = json!(s.protocol);
    for (k, x) in [
        ("privateport", s.privateport),
        ("privateendport", s.privateendport),
        ("publicport", s.publicport),
        ("publicendport", s.publicendport),
    ] {
        v[k] = json!(x.to_string());
    }
    v["virtualmachineid"] = json!(s.virtualmachineid);
    if let Some(vm) = vm {
        v["virtualmachinename"] = json!(vm.name);
        v["virtualmachinedisplayname"] = json!(vm.display_name);
    }
    if let Some(g) = &s.vmguestip {
        v["vmguestip"] = json!(g);
    }
    v["cidrlist"] = json!(cidr_text(&s.cidrlist));
    v
}

pub(crate) fn ipfwd_view(r: &RuleRow, ip: Option<&PublicIpRow>, vm: Option<&db::VmRow>) -> Value {
    let mut v = base_view(r, ip);
    let RuleSpec::IpForward(s) = &r.spec else {
        return v;
    };
    v["protocol"] = json!(s.l4.protocol);
    v["startport"] = json!(s.l4.startport.unwrap_or(0).to_string());
    v["endport"] = json!(s.l4.endport.unwrap_or(0).to_string());
    v["cidrlist"] = json!(cidr_text(&s.cidrlist));
    v["virtualmachineid"] = json!(s.virtualmachineid);
    if let Some(vm) = vm {
        v["virtualmachinename"] = json!(vm.name);
        v["virtualmachinedisplayname"] = json!(vm.display_name);
    }
    v
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn insert_rule(
    st: &State,
    ctx: &OpContext,
    ip: Option<&PublicIpRow>,
    network: Option<&db::NetworkRow>,
    name: Option<String>,
    spec: RuleSpec,
    event: &str,
) -> AppResult<Uuid> {
    let kind = spec.kind();
    let id = Uuid::new_v4();
    let (acct, dom) = match (ip, network) {
        (Some(i), _) => (i.account_id, i.domain_id),
        (None, Some(n)) => (n.account_id, n.domain_id),
        _ => (Some(ctx.account_id()), Some(ctx.domain_id())),
    };
    let mut tx = st.store.begin().await?;
    db::rule_insert(
        &mut tx,
        &db::NewRule {
            id,
            name,
            state: model::RuleState::Add,
            account_id: acct,
            domain_id: dom,
            network_id: ip.and_then(|i| i.network_id).or(network.map(|n| n.id)),
            ip_id: ip.map(|i| i.id),
            parent_id: None,
            spec,
        },
    )
    .await?;
    Event::new(ctx, event, format!("{kind} rule {id} created"))
        .resource(id, "FirewallRule", None)
        .record(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(id)
}

pub(crate) fn create_plan(id: Uuid, what: &str) -> JobPlan {
    JobPlan {
        instance_type: Some("FirewallRule"),
        instance_id: Some(id.to_string()),
        returns_id: true,
        description: what.to_string(),
    }
}

pub(crate) fn rule_plan(r: &RuleRow, what: &str) -> JobPlan {
    JobPlan {
        instance_type: Some("FirewallRule"),
        instance_id: Some(r.id.to_string()),
        returns_id: false,
        description: format!("{what} rule {}", r.id),
    }
}

/// The network-offering check: the network of the IP must provide the service.
pub(crate) async fn require_service(
    st: &State,
    network: model::NetworkId,
    service: &str,
) -> AppResult<db::NetworkRow> {
    let n = super::networks::network_get(st, "networkid", network).await?;
    let off = super::networks::offering_of(st, &n).await?;
    if !super::networks::has_service(&n, off.as_ref(), service)? {
        return param_err(format!(
            "Network {} does not support the {service} service (its offering does not provide it)",
            n.name
        ));
    }
    Ok(n)
}

pub(crate) async fn list_rules(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    kinds: Vec<&'static str>,
) -> AppResult<(Vec<RuleRow>, u64)> {
    let mut f = db::RuleFilter {
        kinds,
        scope: Some(crate::access::owner_scope(st, ctx, args).await?),
        offset: args.page.offset,
        limit: args.page.limit,
        ..Default::default()
    };
    f.ids.extend(args.uuid("id"));
    f.ip_ids.extend(args.uuid("ipaddressid"));
    f.network_ids
        .extend(args.id::<model::NetworkId>("networkid"));
    let mut c = st.store.read().await?;
    Ok(db::rule_list(&mut c, &f).await?)
}

pub(crate) async fn update_display(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    kinds: &[&str],
) -> AppResult<RuleRow> {
    let r = owned_rule(st, ctx, "id", args.required_id("id")?, kinds).await?;
    let mut spec = r.spec.clone();
    if let Some(d) = args.bool("fordisplay") {
        spec.set_for_display(d);
    }
    let mut tx = st.store.begin().await?;
    db::rule_update(&mut tx, r.id, r.state, r.name.as_deref(), &spec).await?;
    tx.commit().await?;
    owned_rule(st, ctx, "id", r.id, kinds).await
}

/// The VM a rule targets: the caller may use it, it has a NIC on the IP's network; returns
/// its guest address there.
pub(crate) async fn target_vm(
    st: &State,
    ctx: &OpContext,
    vm_id: Uuid,
    network: model::NetworkId,
    guest_ip: Option<&str>,
) -> AppResult<(db::VmRow, String)> {
    let vm = super::vms::owned(st, ctx, vm_id).await?;
    if matches!(
        vm.state,
        model::VmState::Destroyed | model::VmState::Expunging | model::VmState::Error
    ) {
        return Err(super::vms::state_err(&vm, "use"));
    }
    let nics = {
        let mut c = st.store.read().await?;
        db::nics_for_vms(&mut c, &[vm.id]).await?
    };
    let Some(nic) = nics.iter().find(|n| n.network_id == network) else {
        return param_err(format!(
            "VM {} has no NIC on the IP address's network",
            vm.instance_name
        ));
    };
    let ip = nic.ip4.clone().unwrap_or_default();
    if let Some(g) = guest_ip {
        if g.parse::<Ipv4Addr>().is_err() || g != ip {
            return param_err(format!(
                "vmguestip {g} is not an address of VM {} on that network (it has {ip})",
                vm.instance_name
            ));
        }
    }
    Ok((vm, ip))
}

/// The ingress firewall rule `openfirewall` creates with a rule (`for` it).
pub(crate) fn opened_firewall(
    protocol: &str,
    start: i64,
    end: i64,
    cidrlist: Vec<String>,
    opened_for: Uuid,
) -> db::rulespec::FirewallSpec {
    db::rulespec::FirewallSpec {
        l4: L4 {
            protocol: protocol.to_string(),
            startport: Some(start),
            endport: Some(end),
            ..Default::default()
        },
        cidrlist,
        destcidrlist: Vec::new(),
        rule_type: "system".into(),
        fordisplay: true,
        opened_for: Some(opened_for),
    }
}

/// The firewall rules created for a rule with `openfirewall`.
async fn companions(st: &State, r: &RuleRow) -> AppResult<Vec<RuleRow>> {
    let Some(ip) = r.ip_id else {
        return Ok(Vec::new());
    };
    let fws = {
        let mut c = st.store.read().await?;
        db::rule_list(
            &mut c,
            &db::RuleFilter {
                kinds: vec!["firewall"],
                ip_ids: vec![ip],
                ..Default::default()
            },
        )
        .await?
        .0
    };
    Ok(fws
        .into_iter()
        .filter(|f| matches!(&f.spec, RuleSpec::Firewall(x) if x.opened_for == Some(r.id)))
        .collect())
}

/// The firewall rules created for a rule (`openfirewall`) become Active with it.
pub(crate) async fn activate_companions(st: &State, r: &RuleRow) -> AppResult<()> {
    let fws = companions(st, r).await?;
    let mut tx = st.store.begin().await?;
    for f in fws.iter().filter(|f| f.state != model::RuleState::Active) {
        db::rule_update(&mut tx, f.id, model::RuleState::Active, None, &f.spec).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Removes the firewall rules created for a rule.
pub(crate) async fn remove_companions(st: &State, r: &RuleRow) -> AppResult<()> {
    let fws = companions(st, r).await?;
    let mut tx = st.store.begin().await?;
    for f in &fws {
        db::rule_remove(&mut tx, db::RuleOwner::Id, f.id).await?;
    }
    tx.commit().await?;
    Ok(())
}
