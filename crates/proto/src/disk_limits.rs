//! A disk's I/O limits as the server sends them with a disk (its offering's rates), and their
//! names in QEMU's block throttling.

use serde::{Deserialize, Serialize};

/// A disk's I/O limits, as CloudStack's offerings give them (bytes or operations per second;
/// `*_max` a burst rate allowed for `*_max_length` seconds).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiskLimits {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_read: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_read_max: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_read_max_length: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_write: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_write_max: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_write_max_length: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iops_read: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iops_read_max: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iops_read_max_length: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iops_write: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iops_write_max: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iops_write_max_length: Option<u64>,
}

impl DiskLimits {
    /// QEMU's names for the limits (`throttling.<name>` on `-drive`, and the `limits` of a
    /// `throttle-group` object), with their values.
    pub fn qemu(&self) -> Vec<(&'static str, u64)> {
        [
            ("bps-read", self.bytes_read),
            ("bps-read-max", self.bytes_read_max),
            ("bps-read-max-length", self.bytes_read_max_length),
            ("bps-write", self.bytes_write),
            ("bps-write-max", self.bytes_write_max),
            ("bps-write-max-length", self.bytes_write_max_length),
            ("iops-read", self.iops_read),
            ("iops-read-max", self.iops_read_max),
            ("iops-read-max-length", self.iops_read_max_length),
            ("iops-write", self.iops_write),
            ("iops-write-max", self.iops_write_max),
            ("iops-write-max-length", self.iops_write_max_length),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect()
    }
}
