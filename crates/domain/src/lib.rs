//! Canopy's domain layer: what the cloud does, with no knowledge of CloudStack's wire
//! format or of HTTP (this crate depends on neither `api` nor `axum`; `cargo tree -p domain`
//! shows it).
//!
//! Here today: what the services share ([`core::Core`]), the saga engine ([`saga`]:
//! persisted multi-step operations that unwind on failure and resume after a crash), the
//! job engine ([`jobs`]: worker pool, leases, recovery of orphaned jobs), the agent hub's
//! connections and commands ([`hub`]), the data-plane sync ([`netsync`]), placement wiring
//! ([`placing`]), background tasks ([`tasks`]), Prometheus metrics ([`metrics`]), the caller
//! of an operation ([`context`]), the event log ([`events`]), live settings ([`settings`]),
//! the server's secrets ([`crypto`]), inventory rows ([`inventory`]) and every saga
//! ([`vms`]: start, stop, destroy, expunge, migrate; [`volumes`]: attach, detach), host
//! investigation, fencing and HA restarts ([`ha`]), guests' pending passwords
//! ([`guestdata`]), with one error type ([`error`]). The server crate implements [`jobs::JobHost`] and
//! [`core::NetworkLifecycle`] and maps [`DomainError`] to CloudStack's codes in one place.
//! The resource services and the power-state sync still live in the server crate and
//! move here next (see docs/ARCHITECTURE.md).

pub mod admission;
pub mod affinity;
pub mod alerts;
pub mod context;
pub mod core;
pub mod crypto;
pub mod error;
pub mod events;
pub mod guestdata;
pub mod ha;
pub mod hub;
pub mod inventory;
pub mod jobs;
pub mod metrics;
pub mod netsync;
pub mod placing;
pub mod saga;
pub mod settings;
pub mod snapshots;
pub mod tasks;
pub mod vms;
pub mod vmsnapshots;
pub mod volmigrate;
pub mod volumes;

pub use error::{now_ms, DomainError, DomainResult, ErrorKind};
