//! Command handlers, one module per resource family. Each takes the state, the caller and the
//! bound arguments, and returns the value inside the response envelope.

pub mod accounts;
pub mod admission;
pub mod affinity;
pub mod capacity;
pub mod catalog;
pub mod clusters;
pub mod dedication;
pub mod domains;
pub mod hosts;
pub mod instancegroups;
pub mod ips;
pub mod keypairs;
pub mod lb;
pub mod limits;
pub mod migrate;
pub mod netrules;
pub mod networks;
pub mod offerings;
pub mod physnets;
pub mod roles;
pub mod routers;
pub mod secgroups;
pub mod servers;
pub mod snapshots;
pub mod storage;
pub mod system;
pub mod tags;
pub mod template_copy;
pub mod templates;
pub mod users;
pub mod vms;
pub mod volumes;
pub mod vpcs;
pub mod vpn;
pub mod zones;
