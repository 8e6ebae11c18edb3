//! Canopy's domain layer: what the cloud does, with no knowledge of CloudStack's wire
//! format or of HTTP (this crate depends on neither `api` nor `axum`; `cargo tree -p domain`
//! shows it).
//!
//! Here today: the saga engine ([`saga`]: persisted multi-step operations that unwind on
//! failure and resume after a crash), the job engine ([`jobs`]: worker pool, leases,
//! recovery of orphaned jobs), background tasks ([`tasks`]), the caller of an operation
//! ([`context`]), the event log ([`events`]), live settings ([`settings`]) and the server's
//! secrets ([`crypto`]), with one error type ([`error`]). The server crate implements
//! [`saga::SagaEnv`] and [`jobs::JobHost`] and maps [`DomainError`] to CloudStack's codes
//! in one place. The saga definitions and resource services still live in the server
//! crate and move here as the server's state is split (see docs/ARCHITECTURE.md).

pub mod context;
pub mod crypto;
pub mod error;
pub mod events;
pub mod jobs;
pub mod saga;
pub mod settings;
pub mod tasks;

pub use error::{now_ms, DomainError, DomainResult, ErrorKind};
