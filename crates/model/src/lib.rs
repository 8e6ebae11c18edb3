//! Canopy's domain vocabulary: typed ids, resource enums and their wire spellings, state
//! machines, and the catalogue of global settings.
//!
//! This crate must never do IO or know about the CloudStack parameter map: it is what every
//! other crate agrees on.

pub mod identity;
pub mod ids;
pub mod jobs;
pub mod limits;
pub mod net;
pub mod os;
pub mod rules;
pub mod schedule;
pub mod setting_groups;
pub mod settings;
pub mod state;
pub mod stats;
pub mod vmschedule;

pub use ids::*;
pub use state::{
    AllocationState, HostStatus, IpState, NetworkState, PoolState, ResourceState, RuleState,
    SagaPhase, SnapshotState, State, VmSnapshotState, VmState, VolumeState, VpcState,
};
