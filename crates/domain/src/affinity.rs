//! Affinity groups as placement sees them: the hosts a VM's strict anti-affinity groups rule
//! out, the hosts its strict affinity groups confine it to, the preference its non-strict
//! groups give hosts; and the database's last word when a VM is reserved on a host (under the
//! host's lock, with a strict affinity group's row locked first).

use std::collections::{BTreeMap, BTreeSet};

use model::{HostId, VmId};
use uuid::Uuid;

use crate::core::Core;
use crate::error::DomainResult;

pub const ANTI: &str = "host anti-affinity";
pub const AFFINITY: &str = "host affinity";
pub const SOFT_ANTI: &str = "non-strict host anti-affinity";
pub const SOFT_AFFINITY: &str = "non-strict host affinity";
/// Every type, with its description (`listAffinityGroupTypes`).
pub const TYPES: &[(&str, &str)] = &[
    (AFFINITY, "VMs of the group run on one host"),
    (ANTI, "no two VMs of the group run on one host"),
    (
        SOFT_AFFINITY,
        "VMs of the group prefer the hosts running the group's other VMs",
    ),
    (
        SOFT_ANTI,
        "VMs of the group prefer hosts not running the group's other VMs",
    ),
];

/// The type as CloudStack spells it, from any case.
pub fn parse_type(t: &str) -> Option<&'static str> {
    TYPES
        .iter()
        .map(|(n, _)| *n)
        .find(|n| n.eq_ignore_ascii_case(t.trim()))
}

/// A VM's groups, read for placing it.
#[derive(Clone, Debug, Default)]
pub struct Constraints {
    pub groups: Vec<db::AffinityRow>,
    /// Per group: the hosts its other active members hold, with how many.
    pub members: BTreeMap<Uuid, BTreeMap<HostId, i64>>,
}

impl Constraints {
    /// Puts them into a placement request.
    pub fn apply(&self, r: &mut placement::Request) {
        for g in &self.groups {
            let hosts = self.members.get(&g.id).cloned().unwrap_or_default();
            match g.group_type.as_str() {
                ANTI => r.anti_affinity_hosts.extend(hosts.keys().map(|h| h.0)),
                AFFINITY if !hosts.is_empty() => {
                    let these: BTreeSet<Uuid> = hosts.keys().map(|h| h.0).collect();
                    r.affinity_hosts = Some(match r.affinity_hosts.take() {
                        Some(prev) => prev.intersection(&these).copied().collect(),
                        None => these,
                    });
                }
                SOFT_AFFINITY => {
                    for (h, n) in hosts {
                        *r.host_preference.entry(h.0).or_default() += n as i32;
                    }
                }
                SOFT_ANTI => {
                    for (h, n) in hosts {
                        *r.host_preference.entry(h.0).or_default() -= n as i32;
                    }
                }
                _ => {}
            }
        }
    }

    /// Whether a VM with these groups may run on `host` (strict groups only): the reason not.
    pub fn breaks(&self, host: HostId) -> Option<String> {
        for g in &self.groups {
            let hosts = self.members.get(&g.id).cloned().unwrap_or_default();
            match g.group_type.as_str() {
                ANTI if hosts.contains_key(&host) => {
                    return Some(format!(
                        "host anti-affinity group {}: the host already runs a VM of the group",
                        g.name
                    ))
                }
                AFFINITY if !hosts.is_empty() && !hosts.contains_key(&host) => {
                    return Some(format!(
                        "host affinity group {}: the group's VMs run on another host",
                        g.name
                    ))
                }
                _ => {}
            }
        }
        None
    }
}

async fn read(c: &mut db::Conn, vm: VmId) -> DomainResult<Constraints> {
    let groups = db::affinity_list(
        c,
        &db::AffinityFilter {
            vm: Some(vm),
            ..Default::default()
        },
    )
    .await?;
    let mut members = BTreeMap::new();
    for g in &groups {
        members.insert(g.id, db::affinity_member_hosts(c, g.id, vm).await?);
    }
    Ok(Constraints { groups, members })
}

/// A VM's groups and where their other members run now.
pub async fn of_vm(st: &Core, vm: VmId) -> DomainResult<Constraints> {
    let mut c = st.store.read().await?;
    read(&mut c, vm).await
}

/// The database's last word, in the transaction that reserves `vm` on `host`, before anything
/// else locks there: the VM's strict affinity groups' rows are locked first (their members'
/// first placements are decided one after the other), then the host (members reserved on it
/// concurrently are seen). The reason the host breaks a strict group, if it does.
pub async fn check_in_tx(
    tx: &mut db::Conn,
    vm: VmId,
    host: HostId,
) -> DomainResult<Option<String>> {
    let groups = db::affinity_list(
        tx,
        &db::AffinityFilter {
            vm: Some(vm),
            ..Default::default()
        },
    )
    .await?;
    if groups.is_empty() {
        return Ok(None);
    }
    for g in groups.iter().filter(|g| g.group_type == AFFINITY) {
        db::affinity_lock(tx, g.id).await?;
    }
    // Then the host (its reservation check locks it again, harmlessly): members placed on it
    // concurrently are seen.
    db::host_lock(tx, host).await?;
    let mut members = BTreeMap::new();
    for g in &groups {
        members.insert(g.id, db::affinity_member_hosts(tx, g.id, vm).await?);
    }
    Ok(Constraints { groups, members }.breaks(host))
}
