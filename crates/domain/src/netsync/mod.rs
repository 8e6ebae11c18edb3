//! Desired data plane: from the database to `netplan` to the agents.
//!
//! Whoever changes something a host's network configuration depends on asks for those hosts
//! ([`request`]); one worker takes every pending request at once (so a burst of deploys
//! costs one round, not one each), loads the network state those hosts need, compiles each
//! host's configuration, and pushes it — as a new generation — only to the hosts whose
//! compiled digest changed (or that reconnected and must be told again). The generation and
//! digest are kept per host in `net_generations`, with the generation the agent acknowledged.
//!
//! A VM change waits only for the hosts it cannot do without — its own host(s) and its
//! networks' routers; the other hosts of its networks (their VXLAN peer lists) and of its
//! security groups (their member sets) follow in background rounds ([`request_later`]),
//! taken a chunk at a time whenever no caller is waiting, so a deploy's time does not grow
//! with its network.

mod guests;
mod load;
mod rules;
mod s2s;
mod tags;

pub use load::acl_item;
use load::load_state;
pub use tags::{image_store_addresses, management_addresses, split_sources};

use std::collections::{BTreeMap, BTreeSet};

use std::sync::Mutex;
use std::time::Duration;

use model::{HostId, NetworkId, VmId};
use uuid::Uuid;

use crate::core::Core;
use crate::error::DomainResult;

/// How long a caller waits for its round (the pushes themselves time out sooner).
const WAIT: Duration = Duration::from_secs(30);
/// How long an agent has to apply a configuration.
const PUSH_TIMEOUT: Duration = Duration::from_secs(10);
/// VM states in which a VM's NICs are on its host.
pub const ON_HOST: &[model::VmState] = model::VmState::ACTIVE;

#[derive(Default)]
struct Pending {
    hosts: BTreeSet<HostId>,
    force: BTreeSet<HostId>,
    /// Hosts nobody waits for: compiled in background rounds.
    later: BTreeSet<HostId>,
    /// Rounds taken by the worker so far.
    started: u64,
}

/// The request queue and the completed-round counter.
pub struct NetSync {
    pending: Mutex<Pending>,
    wake: tokio::sync::Notify,
    done: tokio::sync::watch::Sender<u64>,
}

impl Default for NetSync {
    fn default() -> Self {
        NetSync {
            pending: Mutex::new(Pending::default()),
            wake: tokio::sync::Notify::new(),
            done: tokio::sync::watch::Sender::new(0),
        }
    }
}

/// Asks for these hosts' configurations to be compiled and, where changed (or `force`d),
/// pushed; waits until the round that covers them has finished.
pub async fn request(st: &Core, hosts: impl IntoIterator<Item = HostId>, force: bool) {
    let hosts: Vec<HostId> = hosts.into_iter().collect();
    if hosts.is_empty() {
        // No round would ever run for nothing: do not wait for one.
        return;
    }
    let ticket = {
        let Ok(mut p) = st.net.pending.lock() else {
            return;
        };
        for h in hosts {
            p.hosts.insert(h);
            if force {
                p.force.insert(h);
            }
        }
        p.started + 1
    };
    st.net.wake.notify_one();
    let mut rx = st.net.done.subscribe();
    let _ = tokio::time::timeout(WAIT, rx.wait_for(|d| *d >= ticket)).await;
}

/// Hosts in a background round at most (a caller's round waits for at most one of them).
const LATER_CHUNK: usize = 128;

/// Asks for these hosts' configurations in a background round; returns at once.
pub fn request_later(st: &Core, hosts: impl IntoIterator<Item = HostId>) {
    let Ok(mut p) = st.net.pending.lock() else {
        return;
    };
    let before = p.later.len();
    p.later.extend(hosts);
    if p.later.len() > before {
        drop(p);
        st.net.wake.notify_one();
    }
}

/// The worker: one round per wake-up, until the server stops.
pub fn spawn_worker(st: std::sync::Arc<Core>) {
    tokio::spawn(async move {
        let mut stopping = st.stopping.clone();
        loop {
            tokio::select! {
                _ = st.net.wake.notified() => {}
                _ = stopping.changed() => break,
            }
            loop {
                let (hosts, force, round) = {
                    let Ok(mut p) = st.net.pending.lock() else {
                        return;
                    };
                    if p.hosts.is_empty() && p.later.is_empty() {
                        break;
                    }
                    p.started += 1;
                    if p.hosts.is_empty() {
                        // Nobody waits: a chunk of the background hosts.
                        let chunk: BTreeSet<HostId> =
                            p.later.iter().take(LATER_CHUNK).copied().collect();
                        p.later.retain(|h| !chunk.contains(h));
                        (chunk, BTreeSet::new(), p.started)
                    } else {
                        let hosts = std::mem::take(&mut p.hosts);
                        p.later.retain(|h| !hosts.contains(h));
                        (hosts, std::mem::take(&mut p.force), p.started)
                    }
                };
                let started = std::time::Instant::now();
                let r = sync_hosts(&st, &hosts, &force).await;
                st.metrics.dataplane_rounds.inc();
                st.metrics
                    .dataplane_round_seconds
                    .observe(started.elapsed().as_secs_f64());
                if let Err(e) = r {
                    st.metrics.dataplane_round_failures.inc();
                    tracing::warn!(error = %e, hosts = hosts.len(), "data-plane round failed");
                }
                st.net.done.send_replace(round);
            }
        }
    });
}

/// What a host's configuration is now (compiled from the database, as the next push would
/// send it) and the generation it was last given and acknowledged.
pub async fn compiled_for(
    st: &Core,
    host: HostId,
) -> DomainResult<(netplan::HostDesired, Option<db::NetGeneration>)> {
    let state = load_state(st, &[host]).await?;
    let desired = netplan::compile_host(&state, host.0);
    let mut c = st.store.read().await?;
    Ok((desired, db::netgen_get(&mut c, host).await?))
}

/// Compiles the hosts' configurations and pushes the changed ones.
async fn sync_hosts(
    st: &std::sync::Arc<Core>,
    hosts: &BTreeSet<HostId>,
    force: &BTreeSet<HostId>,
) -> DomainResult<()> {
    let t0 = std::time::Instant::now();
    let list: Vec<HostId> = hosts.iter().copied().collect();
    let state = load_state(st, &list).await?;
    let loaded = t0.elapsed();
    let prev: BTreeMap<HostId, db::NetGeneration> = {
        let mut c = st.store.read().await?;
        db::netgen_list(&mut c, &list)
            .await?
            .into_iter()
            .map(|g| (g.host_id, g))
            .collect()
    };
    let mut pushes = Vec::new();
    let mut records = Vec::new();
    let plain: Vec<Uuid> = list.iter().map(|h| h.0).collect();
    for (h, desired) in list.iter().zip(netplan::compile_hosts(&state, &plain)) {
        let digest = desired.digest();
        let prev = prev.get(h);
        let same = prev.is_some_and(|p| p.digest == digest);
        if same && !force.contains(h) {
            continue;
        }
        let generation = match (prev, same) {
            (Some(p), true) => p.generation,
            (Some(p), false) => p.generation + 1,
            (None, _) => 1,
        };
        if !same {
            records.push((*h, generation, digest));
        }
        pushes.push((*h, generation, desired));
    }
    let compiled = t0.elapsed();
    let results = futures_util::future::join_all(pushes.into_iter().map(|(h, g, d)| {
        let st = st.clone();
        async move {
            // Connected here or to another server (the push is forwarded there): whichever
            // server made the change configures every host it affects.
            if !st.hub.reachable(h).await {
                return (h, g, Err("not connected".to_string()));
            }
            let r = st
                .hub
                .command(
                    h,
                    proto::Command::ApplyNetwork {
                        generation: g as u64,
                        desired: Box::new(d),
                    },
                    PUSH_TIMEOUT,
                )
                .await
                .map_err(|e| e.to_string());
            (h, g, r)
        }
    }))
    .await;
    let pushed = results.len();
    let mut acks = Vec::new();
    for (h, g, r) in results {
        match r {
            Ok(body) => acks.push((h, body["generation"].as_i64().unwrap_or(0).min(g))),
            // A disconnected host gets its configuration when it connects again.
            Err(e) => {
                tracing::info!(host = %h, generation = g, error = %e, "data plane not applied yet")
            }
        }
    }
    // One write per round: the new generations (with their digests) and the
    // acknowledgements. A crash before it only means the next round pushes again.
    let acked: BTreeMap<HostId, i64> = acks.into_iter().collect();
    let mut rows: Vec<(HostId, i64, String, i64)> = records
        .into_iter()
        .map(|(h, g, d)| {
            let a = acked
                .get(&h)
                .copied()
                .unwrap_or_else(|| prev.get(&h).map(|p| p.acked).unwrap_or(0));
            (h, g, d, a)
        })
        .collect();
    // Forced pushes of an unchanged configuration only move the acknowledgement.
    for (h, a) in &acked {
        if let Some(p) = prev.get(h).filter(|_| !rows.iter().any(|r| r.0 == *h)) {
            rows.push((*h, p.generation, p.digest.clone(), *a));
        }
    }
    if !rows.is_empty() {
        let mut tx = st.store.begin().await?;
        db::netgen_record(&mut tx, &rows).await?;
        tx.commit().await?;
    }
    tracing::debug!(
        hosts = list.len(),
        pushed,
        load_ms = loaded.as_millis() as u64,
        compile_ms = (compiled - loaded).as_millis() as u64,
        total_ms = t0.elapsed().as_millis() as u64,
        "data-plane round"
    );
    Ok(())
}

/// The hosts where these networks are present: hosts of their VMs that are on a host, and
/// of their routers.
/// The keys routers of these networks are stored under: the networks themselves and, for
/// VPC tiers, their VPC's id (a VPC's router serves all its tiers). With each tier's VPC key.
pub async fn router_keys(
    c: &mut db::Conn,
    nets: &[NetworkId],
) -> DomainResult<(Vec<NetworkId>, BTreeMap<NetworkId, NetworkId>)> {
    let mut keys = nets.to_vec();
    let mut vpc_of = BTreeMap::new();
    if !nets.is_empty() {
        let tiers = db::network_list(
            c,
            &db::NetworkFilter {
                ids: nets.to_vec(),
                in_vpc: Some(true),
                ..Default::default()
            },
        )
        .await?
        .0;
        for t in tiers {
            if let Some(v) = t.vpc_id {
                let k = NetworkId(v.0);
                vpc_of.insert(t.id, k);
                if !keys.contains(&k) {
                    keys.push(k);
                }
            }
        }
    }
    Ok((keys, vpc_of))
}

pub async fn hosts_of_networks(st: &Core, nets: &[NetworkId]) -> DomainResult<BTreeSet<HostId>> {
    let mut c = st.store.read().await?;
    let mut out: BTreeSet<HostId> = db::network_vm_hosts(&mut c, nets, ON_HOST, None)
        .await?
        .into_iter()
        .map(|(_, h)| h)
        .collect();
    // A tier's router is its VPC's (stored under the VPC's id).
    let (keys, _) = router_keys(&mut c, nets).await?;
    let routers = db::router_list(
        &mut c,
        &db::RouterFilter {
            network_ids: keys,
            ..Default::default()
        },
    )
    .await?
    .0;
    out.extend(routers.into_iter().filter_map(|r| r.host_id));
    Ok(out)
}

/// The hosts affected by a change to these security groups: the hosts of their members, and
/// of the members of groups whose rules name them (their member sets change).
pub async fn hosts_of_groups(st: &Core, groups: &[Uuid]) -> DomainResult<BTreeSet<HostId>> {
    let mut c = st.store.read().await?;
    let mut owners: BTreeSet<Uuid> = groups.iter().copied().collect();
    // Groups whose rules refer to these.
    let rules = db::rule_list(
        &mut c,
        &db::RuleFilter {
            kinds: vec!["ingress", "egress"],
            ..Default::default()
        },
    )
    .await?
    .0;
    for r in &rules {
        let named = r.spec.groups();
        if named.iter().any(|g| groups.contains(g)) {
            if let Some(p) = r.parent_id {
                owners.insert(p);
            }
        }
    }
    let owners: Vec<Uuid> = owners.into_iter().collect();
    let vms: Vec<VmId> = db::members_of(&mut c, &owners)
        .await?
        .into_iter()
        .map(|m| m.member_id)
        .collect();
    let nics = db::net_nics_of_vms(&mut c, &vms).await?;
    Ok(nics
        .into_iter()
        .filter(|n| ON_HOST.contains(&n.vm_state))
        .filter_map(|n| n.host_id)
        .collect())
}

/// After a VM changed (started, stopped, moved; `structural`: it got or lost a NIC or a group,
/// i.e. deployed or NICs added/removed). Only the hosts whose inputs can have changed: the
/// VM's current, last and destination hosts and its networks' routers (leases, DNS) — waited
/// for —; every host of a network when the VM's host gains or loses the network (VXLAN peers
/// change) and, for structural changes, the hosts whose group member sets hold it — in the
/// background. (Member sets and leases list a VM whatever its state, so starting or stopping
/// one does not touch them.)
pub async fn vm_changed(st: &Core, vm: VmId, structural: bool) {
    let r: DomainResult<(BTreeSet<HostId>, BTreeSet<HostId>)> = async {
        let (row, nets, others_all, routers, groups, vpc_of) = {
            let mut c = st.store.read().await?;
            let row = db::vm_get_any(&mut c, vm).await?;
            let mut nets: Vec<NetworkId> = db::net_nics_of_vms(&mut c, &[vm])
                .await?
                .into_iter()
                .map(|n| n.network_id)
                .collect();
            nets.sort_unstable();
            nets.dedup();
            let others = db::network_vm_hosts(&mut c, &nets, ON_HOST, Some(vm)).await?;
            let (keys, vpc_of) = router_keys(&mut c, &nets).await?;
            let routers = db::router_list(
                &mut c,
                &db::RouterFilter {
                    network_ids: keys,
                    ..Default::default()
                },
            )
            .await?
            .0;
            let groups: Vec<Uuid> = db::memberships(&mut c, &[vm])
                .await?
                .into_iter()
                .map(|m| m.owner_id)
                .collect();
            (row, nets, others, routers, groups, vpc_of)
        };
        let mut vm_hosts = BTreeSet::new();
        if let Some(v) = &row {
            vm_hosts.extend(v.host_id);
            vm_hosts.extend(v.last_host_id);
            vm_hosts.extend(v.dest_host_id);
        }
        let mut hosts = vm_hosts.clone();
        let mut later = BTreeSet::new();
        for n in &nets {
            let router_hosts: BTreeSet<HostId> = routers
                .iter()
                .filter(|r| r.network_id == *n || Some(&r.network_id) == vpc_of.get(n))
                .filter_map(|r| r.host_id)
                .collect();
            let mut others: BTreeSet<HostId> = others_all
                .iter()
                .filter(|(net, _)| net == n)
                .map(|(_, h)| *h)
                .collect();
            others.extend(router_hosts.iter().copied());
            hosts.extend(router_hosts);
            if vm_hosts.iter().any(|h| !others.contains(h)) {
                later.extend(others);
            }
        }
        if structural && !groups.is_empty() {
            later.extend(hosts_of_groups(st, &groups).await?);
        }
        later.retain(|h| !hosts.contains(h));
        Ok((hosts, later))
    }
    .await;
    match r {
        Ok((now, later)) => {
            request_later(st, later);
            request(st, now, false).await;
        }
        Err(e) => {
            tracing::warn!(%vm, error = %e, "could not work out the hosts a VM change affects")
        }
    }
}

/// After a change to networks' rules, IPs, routes or routers.
pub async fn networks_changed(st: &Core, nets: &[NetworkId]) -> DomainResult<()> {
    let hosts = hosts_of_networks(st, nets).await?;
    if !hosts.is_empty() {
        request(st, hosts, false).await;
    }
    Ok(())
}

/// After a change to security groups.
pub async fn groups_changed(st: &Core, groups: &[Uuid]) -> DomainResult<()> {
    let hosts = hosts_of_groups(st, groups).await?;
    if !hosts.is_empty() {
        request(st, hosts, false).await;
    }
    Ok(())
}
