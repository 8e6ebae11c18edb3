//! What the routers' data and password servers tell each guest (CloudStack's VM data): the
//! VMs on the networks of the routers of a round, their keys and offering (`read_guests`),
//! and each guest's entry in its router's state (`add_guest_data`).

use db::Attrs;
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use model::VmId;
use netplan::NetState;
use uuid::Uuid;

use super::load::Rows;
use crate::core::Core;
use crate::error::DomainResult;

/// A VM on a router network here: its row, its public keys, its offering's name.
pub(super) struct Guest {
    pub(super) vm: db::VmRow,
    pub(super) keys: Vec<String>,
    pub(super) offering: String,
}

/// The VMs with a NIC on the networks of the routers here (what their data servers serve).
pub(super) async fn read_guests(
    c: &mut db::Conn,
    nics: &[db::NetNic],
    router_networks: &[model::NetworkId],
) -> DomainResult<Vec<Guest>> {
    let ids: BTreeSet<VmId> = nics
        .iter()
        .filter(|n| router_networks.contains(&n.network_id))
        .map(|n| n.vm_id)
        .collect();
    let ids: Vec<VmId> = ids.into_iter().collect();
    let mut out = Vec::new();
    let mut keys: BTreeMap<(model::AccountId, String), Option<String>> = BTreeMap::new();
    let mut offerings: BTreeMap<Uuid, String> = BTreeMap::new();
    for chunk in ids.chunks(500) {
        let vms = db::vm_list(
            c,
            &db::VmFilter {
                ids: chunk.to_vec(),
                ..Default::default()
            },
        )
        .await?
        .0;
        for vm in vms {
            let mut k = Vec::new();
            for name in &vm.keypairs {
                let key = (vm.account_id, name.clone());
                if !keys.contains_key(&key) {
                    let found = db::keypair_get_by_name(c, vm.account_id, name)
                        .await?
                        .map(|r| r.public_key);
                    keys.insert(key.clone(), found);
                }
                if let Some(Some(pk)) = keys.get(&key) {
                    k.push(pk.clone());
                }
            }
            let offering = match offerings.get(&vm.service_offering_id) {
                Some(o) => o.clone(),
                None => {
                    let name = crate::guestdata::offering_text(c, vm.service_offering_id).await?;
                    offerings.insert(vm.service_offering_id, name.clone());
                    name
                }
            };
            out.push(Guest {
                vm,
                keys: k,
                offering,
            });
        }
    }
    Ok(out)
}

/// What each guest's router tells it (CloudStack's VM data: the `VmDataCommand` of
/// `UserVmManagerImpl`): instance and VM id (the UUID), host name, addresses, keys, offering,
/// zone, cloud identifier, user data and a pending password.
pub(super) fn add_guest_data(st: &Core, s: &mut NetState, rows: &Rows) -> DomainResult<()> {
    let by_vm: BTreeMap<VmId, &Guest> = rows.guests.iter().map(|g| (g.vm.id, g)).collect();
    let cloud = crate::guestdata::cloud_identifier(st);
    for n in rows
        .nics
        .iter()
        .filter(|n| rows.router_networks.contains(&n.network_id))
    {
        let (Some(g), Some(ip)) = (
            by_vm.get(&n.vm_id),
            n.ip4.as_deref().and_then(|i| i.parse::<Ipv4Addr>().ok()),
        ) else {
            continue;
        };
        let vm = &g.vm;
        // The public address: the VM's static NAT IP on this network, else its router's
        // source NAT IP, else (no public side) its guest address, as CloudStack answers.
        let ips = &rows.router_side.ips;
        let public = ips
            .iter()
            .find(|i| i.network_id == Some(n.network_id) && i.static_nat_vm == Some(vm.id.0))
            .or_else(|| {
                ips.iter()
                    .find(|i| i.network_id == Some(n.network_id) && i.source_nat)
            })
            .map(|i| i.address.clone())
            .unwrap_or_else(|| ip.to_string());
        let zone = rows
            .zones
            .get(&vm.zone_id)
            .map(|z| z.name.clone())
            .unwrap_or_default();
        let metadata = crate::guestdata::metadata(&crate::guestdata::Facts {
            vm,
            zone: &zone,
            cloud: &cloud,
            offering: &g.offering,
            keys: &g.keys,
            local_ipv4: &ip.to_string(),
            public_ipv4: &public,
        });
        let password = vm
            .decode::<db::attrs::VmAttrs>()?
            .pendingpassword
            .and_then(|e| st.key.decrypt(&e).ok());
        s.guests.push((
            n.network_id.into(),
            netplan::GuestData {
                vm_id: vm.id.0,
                ip,
                metadata,
                user_data: vm.userdata.clone().filter(|u| !u.is_empty()),
                password,
            },
        ));
    }
    Ok(())
}
