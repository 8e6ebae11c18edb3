//! What a guest is told when it boots, beyond its network: the password of a
//! password-enabled template, kept (encrypted) with the VM until the guest acknowledges it at
//! its router's password server. The VM data itself (meta-data, user data, keys) is built
//! for the routers by the data-plane sync (`netsync::load`).

use model::{HostId, VmId};
use rand::Rng;

use crate::core::Core;
use crate::error::DomainResult;

/// The VM attribute holding a password the guest has not acknowledged (encrypted with the
/// server's key).
pub const PENDING_PASSWORD: &str = "pendingpassword";

/// A new password as CloudStack makes them (`vm.password.length` characters, letters and
/// digits without the easily confused ones).
pub fn generate_password(st: &Core) -> String {
    const A: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let len = st.settings.int("vm.password.length").clamp(6, 64) as usize;
    let mut r = rand::thread_rng();
    (0..len)
        .map(|_| A[r.gen_range(0..A.len())] as char)
        .collect()
}

/// Records `password` as the VM's pending password (served at its next boot); `None`
/// clears it. Takes effect in the routers at the next data-plane round.
pub async fn set_pending_password(
    st: &Core,
    vm: VmId,
    password: Option<&str>,
) -> DomainResult<bool> {
    let mut tx = st.store.begin().await?;
    let Some(row) = db::vm_get(&mut tx, vm).await? else {
        return Ok(false);
    };
    let mut attrs = row.attrs.clone();
    if !attrs.is_object() {
        attrs = serde_json::json!({});
    }
    match password {
        Some(p) => attrs[PENDING_PASSWORD] = serde_json::json!(st.key.encrypt(p)?),
        None => {
            if let Some(m) = attrs.as_object_mut() {
                if m.remove(PENDING_PASSWORD).is_none() {
                    return Ok(false);
                }
            }
        }
    }
    db::vm_update(
        &mut tx,
        vm,
        &db::VmChanges {
            attrs: Some(attrs),
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// A host reports that the VM's guest acknowledged its password at a router the host runs:
/// the password is dropped (the routers stop serving it). A report from a host that runs no
/// router of the VM's networks changes nothing.
pub async fn password_saved(st: &Core, host: HostId, vm: VmId) -> DomainResult<bool> {
    let nets: Vec<uuid::Uuid> = {
        let mut c = st.store.read().await?;
        db::net_nics_of_vms(&mut c, &[vm])
            .await?
            .into_iter()
            .map(|n| n.network_id)
            .collect()
    };
    if nets.is_empty() {
        return Ok(false);
    }
    let routers = {
        let mut c = st.store.read().await?;
        db::router_list(
            &mut c,
            &db::RouterFilter {
                network_ids: nets.clone(),
                host_ids: vec![host],
                ..Default::default()
            },
        )
        .await?
        .0
    };
    if routers.is_empty() {
        tracing::warn!(%host, %vm, "a password acknowledgement from a host without the VM's router; ignored");
        return Ok(false);
    }
    let cleared = set_pending_password(st, vm, None).await?;
    if cleared {
        tracing::info!(%vm, "the guest acknowledged its password; no longer served");
        crate::netsync::networks_changed(st, &nets).await?;
    }
    Ok(cleared)
}
