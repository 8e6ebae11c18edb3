//! VMs in the domain layer: the sagas that change a VM on its host — start (deploy, start,
//! HA restart), stop, destroy, destroy-with-expunge and expunge — and the lookups they share.
//! The CloudStack commands that run them (`deployVirtualMachine`, `startVirtualMachine`, …)
//! are the server's; they check their parameters and run these sagas in their jobs.

pub mod destroy;
pub mod migrate;
pub mod migrate_storage;
pub mod restore;
pub mod start;

pub use destroy::*;
pub use start::*;

use db::{VmRow, VolumeRow};
use model::VmId;

use crate::core::Core;
use crate::error::{DomainError, DomainResult};

/// The context the VM sagas' steps run in.
pub type SagaCx = crate::saga::SagaCx<Core>;
/// A VM saga.
pub type SagaDef = crate::saga::SagaDef<Core>;
/// One of its steps.
pub type Step = crate::saga::Step<Core>;

/// How long a host has to carry out a VM command.
pub const HOST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// How often placement is retried when the database refuses a reservation (another deploy
/// took the capacity first); each retry avoids the hosts refused so far.
pub const RESERVE_ATTEMPTS: usize = 8;

// --- lookups ---------------------------------------------------------------------------------

/// The VM, if it exists.
pub async fn load(st: &Core, id: VmId) -> DomainResult<Option<VmRow>> {
    let mut c = st.store.read().await?;
    Ok(db::vm_get(&mut c, id).await?)
}

/// A VM that is not there (CloudStack's text).
pub fn vm_gone(id: impl std::fmt::Display) -> DomainError {
    DomainError::param(format!("Unable to find virtual machine with id {id}"))
}

/// A VM that is not in a state the operation allows (CloudStack's 431).
pub fn state_err(vm: &VmRow, what: &str) -> DomainError {
    DomainError::param(format!(
        "Unable to {what} VM {} ({}): it is in state {}",
        vm.display_name, vm.instance_name, vm.state
    ))
}

/// A VM's volumes, the root first, then by device id.
pub async fn volumes_of(st: &Core, vm: VmId) -> DomainResult<Vec<VolumeRow>> {
    let mut c = st.store.read().await?;
    let f = db::VolumeFilter {
        vm_id: Some(vm),
        ..Default::default()
    };
    let mut v = db::volume_list(&mut c, &f).await?.0;
    v.sort_by_key(|x| (x.vol_type != "ROOT", x.device_id.unwrap_or(0)));
    Ok(v)
}

/// What a VM holds on its host: CPU (MHz, cores × speed) and memory (MiB) — none of either
/// when an admission policy dropped that reservation.
pub fn held(vm: &VmRow) -> (i64, i64) {
    (
        if vm.reserve_cpu {
            vm.cpus * vm.cpu_mhz
        } else {
            0
        },
        if vm.reserve_memory { vm.memory_mib } else { 0 },
    )
}
