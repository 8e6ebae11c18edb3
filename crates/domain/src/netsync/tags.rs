//! Service tags in a round's state: the tags ACL items and egress rules name — root admins'
//! and the built-ins `Internet` (outside the private and public ranges of the networks'
//! zones), `ManagementServers` and `ImageStores` — with their members; and the split of a
//! `cidrlist` into CIDRs and tag names.

use std::collections::BTreeSet;

use uuid::Uuid;

use crate::error::DomainResult;

/// The addresses of the management servers not known to be down (API and agent endpoints).
pub async fn management_addresses(c: &mut db::Conn) -> DomainResult<Vec<std::net::Ipv4Addr>> {
    let mut out = BTreeSet::new();
    for s in db::server_list(c).await? {
        if s.state == "Down" {
            continue;
        }
        for a in [&s.address, &s.agent_endpoint] {
            if let Ok(sa) = a.parse::<std::net::SocketAddr>() {
                if let std::net::IpAddr::V4(v4) = sa.ip() {
                    if !v4.is_unspecified() {
                        out.insert(v4);
                    }
                }
            }
        }
    }
    Ok(out.into_iter().collect())
}

/// An image store's address: the host of its URL when that is an address; a store on the
/// management servers' disks (a path, `file://`) is theirs.
pub fn image_store_addresses(
    s: &db::InfraRow,
    servers: &[std::net::Ipv4Addr],
) -> Vec<std::net::Ipv4Addr> {
    let url = s.attrs["url"].as_str().unwrap_or_default();
    let host = url
        .split_once("://")
        .map(|(_, rest)| rest)
        .and_then(|rest| rest.split(['/', ':']).next())
        .filter(|h| !h.is_empty());
    match host.and_then(|h| h.parse::<std::net::Ipv4Addr>().ok()) {
        Some(ip) => vec![ip],
        None if url.starts_with("file:") || url.starts_with('/') || host.is_none() => {
            servers.to_vec()
        }
        None => Vec::new(),
    }
}

/// The service tags ACL items name: root admins' (by name, any case) and the built-in
/// `Internet` (outside the private ranges and the public ranges of these networks' zones).
pub(super) async fn read_service_tags(
    c: &mut db::Conn,
    items: &[db::RuleRow],
    networks: &[db::NetworkRow],
) -> DomainResult<Vec<netplan::ServiceTag>> {
    let named: BTreeSet<String> = items
        .iter()
        .filter_map(|r| match &r.spec {
            db::RuleSpec::AclItem(s) => Some(split_sources(&s.cidrlist).1),
            db::RuleSpec::EgressFirewall(s) => Some(split_sources(&s.destcidrlist).1),
            _ => None,
        })
        .flatten()
        .collect();
    if named.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    if named
        .iter()
        .any(|n| n.eq_ignore_ascii_case(netplan::tags::INTERNET))
    {
        let zones: BTreeSet<Uuid> = networks.iter().map(|n| n.zone_id).collect();
        let mut public = Vec::new();
        for z in zones {
            let ranges = db::vlan_range_list(
                c,
                &db::VlanRangeFilter {
                    zone_id: Some(z),
                    public: Some(true),
                    ..Default::default()
                },
            )
            .await?
            .0;
            for r in ranges {
                if let (Ok(a), Ok(b)) = (r.start_ip.parse(), r.end_ip.parse()) {
                    public.push((a, b));
                }
            }
        }
        out.push(netplan::tags::internet(&public));
    }
    let wants = |b: &str| named.iter().any(|n| n.eq_ignore_ascii_case(b));
    if wants(netplan::tags::MANAGEMENT_SERVERS) || wants(netplan::tags::IMAGE_STORES) {
        let servers = management_addresses(c).await?;
        if wants(netplan::tags::MANAGEMENT_SERVERS) {
            out.push(netplan::ServiceTag::of_addresses(
                netplan::tags::MANAGEMENT_SERVERS,
                &servers,
            ));
        }
        if wants(netplan::tags::IMAGE_STORES) {
            let zones: BTreeSet<Uuid> = networks.iter().map(|n| n.zone_id).collect();
            let stores = db::infra_list(c, db::Infra::ImageStore, &db::InfraFilter::default())
                .await?
                .0;
            let mut addrs = Vec::new();
            for s in stores.iter().filter(|s| zones.contains(&s.zone_id)) {
                addrs.extend(image_store_addresses(s, &servers));
            }
            out.push(netplan::ServiceTag::of_addresses(
                netplan::tags::IMAGE_STORES,
                &addrs,
            ));
        }
    }
    let tags = db::rule_list(c, &db::RuleFilter::kind("servicetag"))
        .await?
        .0;
    for t in tags {
        let (Some(name), db::RuleSpec::ServiceTag(spec)) = (&t.name, &t.spec) else {
            continue;
        };
        if named.iter().any(|n| n.eq_ignore_ascii_case(name)) {
            out.push(netplan::ServiceTag::of_cidrs(
                name,
                &super::rules::cidrs(&spec.cidrlist),
            ));
        }
    }
    Ok(out)
}

/// An ACL item's `cidrlist`: the CIDRs, and the names of service tags (what is not a CIDR).
pub fn split_sources(list: &[String]) -> (Vec<netplan::Cidr>, Vec<String>) {
    let mut cidrs = Vec::new();
    let mut tags = Vec::new();
    for e in list {
        match e.parse::<netplan::Cidr>() {
            Ok(c) => cidrs.push(c),
            Err(_) => tags.push(e.clone()),
        }
    }
    (cidrs, tags)
}
