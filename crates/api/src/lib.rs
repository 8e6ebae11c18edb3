//! The CloudStack wire protocol, and nothing else: parsing a request (query + form merge,
//! case-insensitive names, lists and indexed maps), verifying signatures and their expiry,
//! rendering JSON and XML envelopes, the error codes, and the command registry from which
//! `listApis` is generated.
//!
//! No business logic lives here: a handler receives bound, type-checked [`Args`] and returns a
//! JSON value; this crate never touches the database.

pub mod commands;
pub mod envelope;
pub mod error;
pub mod params;
pub mod registry;
pub mod sign;
pub mod time;

pub use envelope::{list_body, success_body, Format};
pub use error::{ApiError, ErrorCode};
pub use params::RawParams;
pub use registry::{Arg, Args, CommandSpec, ParamType, Registry};

/// The CloudStack version we answer to `listCapabilities` and in XML envelopes.
pub const CLOUDSTACK_VERSION: &str = "4.20.0.0";
