//! A guest's statistics as its host measured them (QMP, the guest agent, the taps, the QEMU
//! process), reported by the agent every `vm.stats.interval` and kept per VM (the latest
//! report): what listVirtualMachines, listVirtualMachinesMetrics and listVolumesMetrics show.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One VM's figures. Counters are cumulative since its QEMU started.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GuestStats {
    pub vm_id: Uuid,
    /// CPU time used over the last interval, as a share of the VM's CPUs (0–100).
    #[serde(default)]
    pub cpu_used_percent: f64,
    /// Memory the guest has (KiB).
    #[serde(default)]
    pub memory_kib: u64,
    /// Memory the guest itself reports free (the balloon driver's statistics), when it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_free_kib: Option<u64>,
    /// The balloon's target (KiB), when the guest has the balloon device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_target_kib: Option<u64>,
    /// Bytes and requests read and written by the guest's disks, all together.
    #[serde(default)]
    pub disk_read_bytes: u64,
    #[serde(default)]
    pub disk_write_bytes: u64,
    #[serde(default)]
    pub disk_read_ops: u64,
    #[serde(default)]
    pub disk_write_ops: u64,
    /// Bytes the guest received and sent on all its NICs.
    #[serde(default)]
    pub net_read_bytes: u64,
    #[serde(default)]
    pub net_write_bytes: u64,
    /// Per volume.
    #[serde(default)]
    pub disks: Vec<DiskIo>,
    /// The guest's own view of its interfaces (qemu-guest-agent), when its agent answers.
    #[serde(default)]
    pub interfaces: Vec<GuestInterface>,
}

/// One volume's I/O.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiskIo {
    pub volume_id: Uuid,
    #[serde(default)]
    pub read_bytes: u64,
    #[serde(default)]
    pub write_bytes: u64,
    #[serde(default)]
    pub read_ops: u64,
    #[serde(default)]
    pub write_ops: u64,
}

/// An interface as the guest agent reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuestInterface {
    pub name: String,
    #[serde(default)]
    pub mac: String,
    #[serde(default)]
    pub ipv4: Vec<String>,
    #[serde(default)]
    pub ipv6: Vec<String>,
}
