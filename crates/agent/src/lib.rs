//! The host agent: dials the management server over TLS (certificate pinned by the join
//! token's fingerprint), reports inventory, sends heartbeats, and answers commands through a
//! driver. The simulator runs many hosts in one process through the same protocol.
//!
//! The agent only ever dials out; it never listens.

pub mod console;
pub mod driver;
pub mod error;
pub mod images;
pub mod inventory;
pub mod linuxnet;
pub mod netdriver;
pub mod procs;
pub mod qemu;
pub mod qga;
pub mod qmp;
pub mod runtime;
pub mod servers;
pub mod simulator;
pub mod stats;
pub mod sys;
pub mod tls;
pub mod vrdata;

pub use error::{HostError, HostResult};
pub use runtime::{Credential, HostAgent, LocalLink, LocalPipe};
pub use servers::ServerList;
