//! Where routers run: placement on the least-loaded host, their addresses (source NAT, a
//! shared network's DHCP address), and re-placement when their host fails.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use api::{ApiError, ErrorCode};
use db::{DbError, NetworkRow, RouterRow};
use rand::Rng;
use uuid::Uuid;

use crate::error::{AppError, AppResult};
use crate::state::Core;
use model::HostId;

/// Hosts that can run routers: Up, Enabled, with an agent whose drivers run guests.
async fn candidate_hosts(st: &Core, zone: Uuid) -> AppResult<Vec<db::HostRow>> {
    let mut c = st.store.read().await?;
    let hosts = db::host_list(
        &mut c,
        &db::HostFilter {
            zone_id: Some(zone),
            status: Some(model::HostStatus::Up),
            resource_state: Some(model::ResourceState::Enabled),
            ..Default::default()
        },
    )
    .await?
    .0;
    Ok(hosts
        .into_iter()
        .filter(|h| {
            h.inventory["capabilities"]
                .as_array()
                .is_some_and(|c| c.iter().any(|x| x == "vms"))
        })
        .collect())
}

/// The host for a network's router: the candidate with the fewest routers (ties broken by a
/// hash of network and host, so routers spread), never one in `avoid`.
pub(super) async fn choose_host(
    st: &Core,
    zone: Uuid,
    network: Uuid,
    avoid: &[HostId],
) -> AppResult<HostId> {
    let hosts = candidate_hosts(st, zone).await?;
    let routers = {
        let mut c = st.store.read().await?;
        db::router_list(
            &mut c,
            &db::RouterFilter {
                zone_id: Some(zone),
                ..Default::default()
            },
        )
        .await?
        .0
    };
    let mut load: HashMap<HostId, usize> = HashMap::new();
    for r in routers.iter().filter_map(|r| r.host_id) {
        *load.entry(r).or_default() += 1;
    }
    let mix = |h: HostId| {
        let (a, b) = (network.as_u128(), h.0.as_u128());
        netplan::digest(&(a ^ b).to_le_bytes())
    };
    hosts
        .iter()
        .filter(|h| !avoid.contains(&h.id))
        .min_by_key(|h| (load.get(&h.id).copied().unwrap_or(0), mix(h.id)))
        .map(|h| h.id)
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::InsufficientCapacity,
                "Unable to place the virtual router: no host in the zone is Up and Enabled"
                    .to_string(),
            )
            .into()
        })
}

fn random_mac() -> String {
    netplan::ipam::mac_from(rand::thread_rng().gen())
}

/// The network's source-NAT address: the one it has, else a free public address claimed for
/// it (ranges dedicated to its account first).
pub(crate) async fn source_nat_ip(st: &Core, n: &NetworkRow) -> AppResult<Option<Uuid>> {
    let off = crate::handlers::networks::offering_of(st, n).await?;
    if !crate::handlers::networks::has_service(n, off.as_ref(), "SourceNat")? {
        return Ok(None);
    }
    let (Some(acct), Some(dom)) = (n.account_id, n.domain_id) else {
        return Ok(None);
    };
    {
        let mut c = st.store.read().await?;
        let have = db::public_ip_list(
            &mut c,
            &db::PublicIpFilter {
                network_id: Some(n.id),
                source_nat: Some(true),
                ..Default::default()
            },
        )
        .await?
        .0;
        if let Some(ip) = have.first() {
            return Ok(Some(ip.id));
        }
    }
    claim_source_nat(st, n.zone_id, acct, dom, n.id.into(), &n.name)
        .await
        .map(Some)
}

/// Claims a free public address of the zone (ranges dedicated to the account first) as the
/// source NAT of `key` (a network, or a VPC by its id).
async fn claim_source_nat(
    st: &Core,
    zone: Uuid,
    acct: model::AccountId,
    dom: model::DomainId,
    key: Uuid,
    name: &str,
) -> AppResult<Uuid> {
    for _ in 0..8 {
        let free = {
            let mut c = st.store.read().await?;
            db::public_ip_free(&mut c, zone, acct, 8).await?
        };
        if free.is_empty() {
            return Err(ApiError::new(
                ErrorCode::InsufficientCapacity,
                format!(
                    "Insufficient address capacity: no free public IP address in the zone for the source NAT of {name} (add one with createVlanIpRange)"
                ),
            )
            .into());
        }
        let (id, addr) = free[rand::thread_rng().gen_range(0..free.len())].clone();
        let mut tx = st.store.begin().await?;
        // Concurrent first deploys into one network all find it without a source NAT: under
        // the network's lock, the first claim wins and the others take its address (else each
        // claimed one of its own, and past the free candidates they failed).
        db::source_nat_lock(&mut tx, key).await?;
        let have = db::public_ip_list(
            &mut tx,
            &db::PublicIpFilter {
                network_id: Some(model::NetworkId(key)),
                source_nat: Some(true),
                ..Default::default()
            },
        )
        .await?
        .0;
        if let Some(ip) = have.first() {
            return Ok(ip.id);
        }
        if db::public_ip_claim(
            &mut tx,
            id,
            acct,
            dom,
            Some(key),
            true,
            model::IpState::Allocated,
        )
        .await?
        {
            tx.commit().await?;
            tracing::info!(%key, ip = %addr, "source NAT address acquired");
            return Ok(id);
        }
    }
    Err(AppError::Internal(format!(
        "could not claim a source NAT address for {name} after 8 attempts"
    )))
}

/// A VPC's source NAT address (its router's public side): the one it has, else a new one.
async fn vpc_source_nat_ip(st: &Core, vpc: &db::VpcRow) -> AppResult<Option<Uuid>> {
    let off = {
        let mut c = st.store.read().await?;
        db::infra_get(&mut c, db::Infra::VpcOffering, vpc.vpc_offering_id).await?
    };
    if !off
        .as_ref()
        .is_some_and(|o| crate::handlers::offerings::vpc_offering_has(o, "SourceNat"))
    {
        return Ok(None);
    }
    let (Some(acct), Some(dom)) = (vpc.account_id, vpc.domain_id) else {
        return Ok(None);
    };
    let key = model::NetworkId(vpc.id.0);
    {
        let mut c = st.store.read().await?;
        let have = db::public_ip_list(
            &mut c,
            &db::PublicIpFilter {
                network_id: Some(key),
                source_nat: Some(true),
                ..Default::default()
            },
        )
        .await?
        .0;
        if let Some(ip) = have.first() {
            return Ok(Some(ip.id));
        }
    }
    claim_source_nat(
        st,
        vpc.zone_id,
        acct,
        dom,
        vpc.id.0,
        &format!("VPC {}", vpc.name),
    )
    .await
    .map(Some)
}

/// Makes sure a VPC has a running router (idempotent): one namespace for all its tiers,
/// stored under the VPC's id, with the VPC's source NAT address.
pub async fn ensure_vpc_router(st: &Core, vpc: &db::VpcRow) -> AppResult<()> {
    let key = model::NetworkId(vpc.id.0);
    if let Some(r) = of_network(st, key).await?.into_iter().next() {
        if r.state == model::VmState::Running && r.host_id.is_some() {
            return Ok(());
        }
        let host = choose_host(st, vpc.zone_id, vpc.id.0, &[]).await?;
        let mut tx = st.store.begin().await?;
        db::router_set(&mut tx, r.id, model::VmState::Running, Some(host)).await?;
        tx.commit().await?;
        return Ok(());
    }
    let public = vpc_source_nat_ip(st, vpc).await?;
    let host = choose_host(st, vpc.zone_id, vpc.id.0, &[]).await?;
    let id = Uuid::new_v4();
    let b = id.as_bytes();
    let row = RouterRow {
        id,
        name: format!("r-{}-VM", &id.simple().to_string()[..8]),
        network_id: key,
        vpc_id: Some(vpc.id),
        zone_id: vpc.zone_id,
        account_id: vpc.account_id,
        account_name: None,
        domain_id: vpc.domain_id,
        domain_name: None,
        domain_path: None,
        host_id: Some(host),
        state: model::VmState::Running,
        guest_ip: None,
        guest_mac: random_mac(),
        public_ip_id: public,
        public_mac: random_mac(),
        link_local_ip: Ipv4Addr::new(169, 254, b[14].max(1), b[15].max(2)).to_string(),
        created: 0,
    };
    let mut tx = st.store.begin().await?;
    match db::router_insert(&mut tx, &row).await {
        Ok(()) => {
            tx.commit().await?;
            tracing::info!(vpc = %vpc.id, router = %row.name, %host, "VPC router placed");
            Ok(())
        }
        Err(DbError::Conflict(_)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The routers of a network.
pub(crate) async fn of_network(st: &Core, network: model::NetworkId) -> AppResult<Vec<RouterRow>> {
    let mut c = st.store.read().await?;
    Ok(db::router_list(
        &mut c,
        &db::RouterFilter {
            network_ids: vec![network],
            ..Default::default()
        },
    )
    .await?
    .0)
}

/// Makes sure a network (isolated, or shared with addresses) has a running router
/// (idempotent).
pub async fn ensure_router(st: &Core, n: &NetworkRow) -> AppResult<()> {
    let existing = of_network(st, n.id).await?;
    if let Some(r) = existing.into_iter().next() {
        if r.state == model::VmState::Running && r.host_id.is_some() {
            return Ok(());
        }
        let host = choose_host(st, n.zone_id, n.id.into(), &[]).await?;
        let mut tx = st.store.begin().await?;
        db::router_set(&mut tx, r.id, model::VmState::Running, Some(host)).await?;
        tx.commit().await?;
        return Ok(());
    }
    let public = source_nat_ip(st, n).await?;
    let host = choose_host(st, n.zone_id, n.id.into(), &[]).await?;
    // An isolated network's router is its gateway; a shared network's (DHCP and DNS only)
    // takes the highest free address of its range, VMs take the lowest.
    let guest_ip = if n.guest_type == "Shared" {
        Some(shared_router_ip(st, n).await?.to_string())
    } else {
        n.gateway.clone()
    };
    let id = Uuid::new_v4();
    let b = id.as_bytes();
    let row = RouterRow {
        id,
        name: format!("r-{}-VM", &id.simple().to_string()[..8]),
        network_id: n.id,
        vpc_id: None,
        zone_id: n.zone_id,
        account_id: n.account_id,
        account_name: None,
        domain_id: n.domain_id,
        domain_name: None,
        domain_path: None,
        host_id: Some(host),
        state: model::VmState::Running,
        guest_ip,
        guest_mac: random_mac(),
        public_ip_id: public,
        public_mac: random_mac(),
        link_local_ip: Ipv4Addr::new(169, 254, b[14].max(1), b[15].max(2)).to_string(),
        created: 0,
    };
    let mut tx = st.store.begin().await?;
    match db::router_insert(&mut tx, &row).await {
        Ok(()) => {
            tx.commit().await?;
            tracing::info!(network = %n.id, router = %row.name, %host, "virtual router placed");
            Ok(())
        }
        // A concurrent implement placed it.
        Err(DbError::Conflict(_)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

async fn shared_router_ip(st: &Core, n: &NetworkRow) -> AppResult<Ipv4Addr> {
    let ranges = crate::handlers::networks::nic_ranges(st, n).await?;
    let used: std::collections::BTreeSet<u32> = {
        let mut c = st.store.read().await?;
        db::nic_ips(&mut c, n.id)
            .await?
            .iter()
            .filter_map(|a| a.parse::<Ipv4Addr>().ok())
            .map(u32::from)
            .collect()
    };
    let gateway = n
        .gateway
        .as_deref()
        .and_then(|g| g.parse::<Ipv4Addr>().ok())
        .map(u32::from);
    ranges
        .iter()
        .rev()
        .flat_map(|(f, l)| (*f..=*l).rev())
        .find(|a| !used.contains(a) && Some(*a) != gateway)
        .map(Ipv4Addr::from)
        .ok_or_else(|| {
            api::ApiError::new(
                api::ErrorCode::InsufficientCapacity,
                format!(
                    "Insufficient address capacity: network {} has no free address for its DHCP router",
                    n.name
                ),
            )
            .into()
        })
}

/// A host failed: its routers move to other hosts of the zone and are rebuilt there.
pub async fn host_failed(st: &Core, host: HostId) -> AppResult<usize> {
    let routers = {
        let mut c = st.store.read().await?;
        db::router_list(
            &mut c,
            &db::RouterFilter {
                host_ids: vec![host],
                ..Default::default()
            },
        )
        .await?
        .0
    };
    let mut moved = 0;
    let mut nets = Vec::new();
    for r in routers
        .into_iter()
        .filter(|r| r.state == model::VmState::Running)
    {
        match choose_host(st, r.zone_id, r.network_id.into(), &[host]).await {
            Ok(to) => {
                let mut tx = st.store.begin().await?;
                db::router_set(&mut tx, r.id, model::VmState::Running, Some(to)).await?;
                tx.commit().await?;
                tracing::warn!(router = %r.name, from = %host, %to, "virtual router re-placed after its host failed");
                moved += 1;
                nets.push(r.network_id);
            }
            Err(e) => {
                tracing::error!(router = %r.name, error = %e, "no host to re-place the virtual router on");
                let mut tx = st.store.begin().await?;
                db::router_set(&mut tx, r.id, model::VmState::Stopped, None).await?;
                tx.commit().await?;
            }
        }
    }
    if !nets.is_empty() {
        crate::netsync::networks_changed(st, &nets).await?;
    }
    Ok(moved)
}
