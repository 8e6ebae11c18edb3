//! A guest network implemented and taken down: a VNI from the zone's ranges and, for an
//! isolated network, its router (implement, when its first VM starts); router gone and VNI
//! released (shutdown, by the garbage collector once no VM has used it for
//! `network.gc.wait`). `Lifecycle` is the domain's port to this.

use api::{ApiError, ErrorCode};
use db::{DbError, Infra, NetworkRow};
use uuid::Uuid;

use super::*;
use crate::state::Core;

/// The zone's guest physical network's VNI ranges (`vlan` of the physical network that
/// carries Guest traffic, else of any physical network of the zone).
async fn vni_ranges(st: &Core, zone: Uuid) -> AppResult<Vec<(u32, u32)>> {
    let mut c = st.store.read().await?;
    let pns = db::infra_list(
        &mut c,
        Infra::PhysicalNetwork,
        &db::InfraFilter {
            zone_id: Some(zone),
            ..Default::default()
        },
    )
    .await?
    .0;
    let mut out = Vec::new();
    for p in pns {
        if let Some(v) = p.attrs["vlan"].as_str() {
            out.extend(model::net::parse_ranges(v, 16_777_215).unwrap_or_default());
        }
    }
    Ok(out)
}

/// The lowest free VNI for a network of `owner`: from the owner's dedicated ranges
/// (dedicateGuestVlanRange) first, else from the zone's ranges less every dedicated one (the
/// database refuses a duplicate; callers retry).
pub(crate) async fn allocate_vni(
    st: &Core,
    zone: &db::InfraRow,
    owner: Option<model::AccountId>,
) -> AppResult<i64> {
    let ranges = vni_ranges(st, zone.id).await?;
    let (used, dedicated): (std::collections::BTreeSet<u32>, Vec<db::VlanDedicationRow>) = {
        let mut c = st.store.read().await?;
        let used = db::network_vnis(&mut c, zone.id)
            .await?
            .into_iter()
            .filter_map(|v| u32::try_from(v).ok())
            .collect();
        (used, db::vlan_dedication_list(&mut c, Some(zone.id)).await?)
    };
    let span = |d: &db::VlanDedicationRow| {
        (
            u32::try_from(d.first_vni).unwrap_or(0),
            u32::try_from(d.last_vni).unwrap_or(0),
        )
    };
    let mine: Vec<(u32, u32)> = dedicated
        .iter()
        .filter(|d| Some(d.account_id) == owner)
        .map(span)
        .collect();
    if let Some(v) = netplan::ipam::pick_vni(&mine, &used) {
        return Ok(i64::from(v));
    }
    let all: Vec<(u32, u32)> = dedicated.iter().map(span).collect();
    let ranges = netplan::ipam::subtract_ranges(&ranges, &all);
    match netplan::ipam::pick_vni(&ranges, &used) {
        Some(v) => Ok(i64::from(v)),
        None if ranges.is_empty() => Err(ApiError::new(
            ErrorCode::InsufficientCapacity,
            format!(
                "Unable to allocate a VNI in zone {}: its physical network has no vlan range (updatePhysicalNetwork vlan=…)",
                zone.name
            ),
        )
        .into()),
        None => Err(ApiError::new(
            ErrorCode::InsufficientCapacity,
            format!("Insufficient capacity: every VNI of zone {}'s ranges is in use", zone.name),
        )
        .into()),
    }
}

/// Makes a network ready for a starting VM (idempotent): a VNI, and for an isolated
/// network its router (placed on a host, with the source-NAT address). Allocated →
/// Implementing → Implemented.
pub async fn implement(st: &Core, network: model::NetworkId) -> AppResult<()> {
    // An implemented network (its router placed before it became so) needs no turn: every
    // deploy into it passes here.
    let n = network_get(st, "networkid", network).await?;
    if n.state == model::NetworkState::Implemented && n.vni.is_some() {
        return implement_now(st, n).await;
    }
    // One implementation of a network at a time in this process: the deploys racing into a
    // new network wait for the first and then find it implemented, instead of each placing
    // a router (reading every Up host of the zone: 256 reads of 100,000 rows at once starved
    // the read pool and failed deploys with "pool timed out").
    let lock = {
        let mut m = IMPLEMENTING.lock().unwrap_or_else(|p| p.into_inner());
        m.retain(|_, l| l.strong_count() > 0);
        match m.get(&network).and_then(std::sync::Weak::upgrade) {
            Some(l) => l,
            None => {
                let l = std::sync::Arc::new(tokio::sync::Mutex::new(()));
                m.insert(network, std::sync::Arc::downgrade(&l));
                l
            }
        }
    };
    let _one = lock.lock().await;
    // Read again under the turn: the one before may have implemented it.
    let n = network_get(st, "networkid", network).await?;
    implement_now(st, n).await
}

/// The networks being implemented in this process, each with its lock (dropped with its last
/// waiter).
static IMPLEMENTING: std::sync::LazyLock<
    std::sync::Mutex<
        std::collections::HashMap<model::NetworkId, std::sync::Weak<tokio::sync::Mutex<()>>>,
    >,
> = std::sync::LazyLock::new(Default::default);

async fn implement_now(st: &Core, n: NetworkRow) -> AppResult<()> {
    let zone = super::super::zones::get(st, Infra::Zone, "zoneid", n.zone_id).await?;
    // The VNI (a racing implement of another network may take the same one: retry).
    if n.vni.is_none() {
        let mut done = false;
        for _ in 0..8 {
            let vni = allocate_vni(st, &zone, n.account_id).await?;
            let mut tx = st.store.begin().await?;
            match db::network_set_vni(&mut tx, n.id, vni).await {
                Ok(_) => {
                    tx.commit().await?;
                    done = true;
                    break;
                }
                Err(DbError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        if !done {
            return Err(AppError::Internal(format!(
                "could not allocate a VNI for network {} after 8 attempts",
                n.id
            )));
        }
    }
    if n.guest_type == "Isolated" {
        if n.state == model::NetworkState::Allocated {
            let mut tx = st.store.begin().await?;
            db::network_transition(
                &mut tx,
                n.id,
                Some(model::NetworkState::Allocated),
                model::NetworkState::Implementing,
                None,
            )
            .await?;
            tx.commit().await?;
        }
        match n.vpc_id {
            // A tier is served by its VPC's router.
            Some(v) => {
                let vpc = {
                    let mut c = st.store.read().await?;
                    db::vpc_get(&mut c, v).await?
                }
                .ok_or_else(|| AppError::Internal(format!("tier {} has no VPC {v}", n.id)))?;
                super::super::routers::ensure_vpc_router(st, &vpc).await?;
            }
            None => super::super::routers::ensure_router(st, &n).await?,
        }
    } else if n.guest_type == "Shared" && n.cidr.is_some() {
        // DHCP and DNS for the shared network's VMs (no public side, no source NAT).
        super::super::routers::ensure_router(st, &n).await?;
    }
    if matches!(
        n.state,
        model::NetworkState::Allocated
            | model::NetworkState::Implementing
            | model::NetworkState::Shutdown
    ) {
        let mut tx = st.store.begin().await?;
        db::network_transition(&mut tx, n.id, None, model::NetworkState::Implemented, None).await?;
        let mut attrs = n.attrs.clone();
        if let Some(o) = attrs.as_object_mut() {
            o.remove("idle_since");
        }
        tx.commit().await?;
        if attrs != n.attrs {
            let mut row = network_get(st, "id", n.id).await?;
            row.attrs = attrs;
            let mut tx = st.store.begin().await?;
            db::network_update(&mut tx, &row).await?;
            tx.commit().await?;
        }
        tracing::info!(network = %n.id, name = %n.name, "network implemented");
    }
    Ok(())
}

/// The network lifecycle as the domain's sagas call it.
pub struct Lifecycle;

impl domain::core::NetworkLifecycle for Lifecycle {
    fn implement_for_vm<'a>(
        &'a self,
        core: &'a std::sync::Arc<domain::core::Core>,
        vm: model::VmId,
    ) -> futures_util::future::BoxFuture<'a, domain::DomainResult<()>> {
        Box::pin(async move {
            implement_for_vm(core, vm.0)
                .await
                .map_err(crate::error::AppError::into_domain)
        })
    }

    fn routers_host_failed<'a>(
        &'a self,
        core: &'a std::sync::Arc<domain::core::Core>,
        host: model::HostId,
    ) -> futures_util::future::BoxFuture<'a, domain::DomainResult<usize>> {
        Box::pin(async move {
            crate::handlers::routers::host_failed(core, host)
                .await
                .map_err(crate::error::AppError::into_domain)
        })
    }
}

/// Implements every network a VM has a NIC on (the start saga's network step).
pub async fn implement_for_vm(st: &Core, vm: Uuid) -> AppResult<()> {
    let nets: Vec<model::NetworkId> = {
        let mut c = st.store.read().await?;
        db::net_nics_of_vms(&mut c, &[model::VmId(vm)])
            .await?
            .into_iter()
            .map(|n| n.network_id)
            .collect()
    };
    for n in nets {
        implement(st, n).await?;
    }
    Ok(())
}

/// Takes an implemented network down: its router goes, its VNI is released (isolated and L2
/// networks), it is Allocated again. Public IPs and rules stay for the next implement.
pub async fn shutdown(st: &State, n: &NetworkRow) -> AppResult<()> {
    let hosts = crate::netsync::hosts_of_networks(st, &[n.id]).await?;
    let mut tx = st.store.begin().await?;
    db::network_transition(&mut tx, n.id, None, model::NetworkState::Shutdown, None).await?;
    let routers = db::router_list(
        &mut tx,
        &db::RouterFilter {
            network_ids: vec![n.id],
            ..Default::default()
        },
    )
    .await?
    .0;
    for r in routers {
        db::router_remove(&mut tx, r.id).await?;
    }
    let vni = if n.guest_type == "Shared" {
        Some(n.vni)
    } else {
        Some(None)
    };
    db::network_transition(
        &mut tx,
        n.id,
        Some(model::NetworkState::Shutdown),
        model::NetworkState::Allocated,
        vni,
    )
    .await?;
    tx.commit().await?;
    tracing::info!(network = %n.id, name = %n.name, "network shut down");
    crate::netsync::request(st, hosts, false).await;
    Ok(())
}

/// The garbage collector: isolated networks Implemented with no active VM for
/// `network.gc.wait` seconds are shut down.
pub async fn gc(st: &State) -> AppResult<u64> {
    let rows = {
        let mut c = st.store.read().await?;
        db::network_list(
            &mut c,
            &db::NetworkFilter {
                guest_type: Some("Isolated".into()),
                ..Default::default()
            },
        )
        .await?
        .0
    };
    let wait = st.settings.int("network.gc.wait").max(0) * 1000;
    let now = api::time::now_ms();
    let mut down = 0;
    for n in rows
        .into_iter()
        .filter(|n| n.state == model::NetworkState::Implemented)
    {
        let active = {
            let mut c = st.store.read().await?;
            db::net_nics(&mut c, &[n.id])
                .await?
                .iter()
                .any(|x| ACTIVE.contains(&x.vm_state))
        };
        let mut row = n.clone();
        match (active, n.attrs["idle_since"].as_i64()) {
            (true, Some(_)) => {
                if let Some(o) = row.attrs.as_object_mut() {
                    o.remove("idle_since");
                }
            }
            (true, None) => continue,
            (false, None) => row.attrs["idle_since"] = json!(now),
            (false, Some(t)) if now - t >= wait => {
                if let Some(o) = row.attrs.as_object_mut() {
                    o.remove("idle_since");
                }
                let mut tx = st.store.begin().await?;
                db::network_update(&mut tx, &row).await?;
                tx.commit().await?;
                shutdown(st, &row).await?;
                down += 1;
                continue;
            }
            (false, Some(_)) => continue,
        }
        let mut tx = st.store.begin().await?;
        db::network_update(&mut tx, &row).await?;
        tx.commit().await?;
    }
    Ok(down)
}
