//! The `canopy` binary's own parts: what wires the server and the host agent together in one
//! process (`canopy up` with this machine as its zone's host). The server crate reaches the
//! local agent only through [`server::up::LocalAgent`].

pub mod local_agent;
