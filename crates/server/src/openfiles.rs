//! The server's open files, shared out so it never stops answering.
//!
//! At start the process raises its open-files limit to the hard limit. The limit is then
//! split: a reserve for the database (connections, SQLite's journal and WAL files), logs,
//! image files and child processes; the API port's connections; the agent endpoint's
//! connections still handshaking; and what is left, the agents' own connections (one file
//! each). Past that share an agent is refused with a reason it logs and told to retry (it
//! backs off, and with several servers moves to the next) — never accepted into a state where
//! the database cannot open its files. Hosts the server simulates itself reach it through
//! in-memory pipes and cost no file at all.
//!
//! Joins are admitted a few at a time ([`JOINS_AT_ONCE`]): a storm of agents (a restart of
//! the server, a rack powered on) is told to come back later rather than queueing database
//! writes in front of the API's.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Agents joining (authenticated, recorded, welcomed, their local pool ensured) at once.
pub const JOINS_AT_ONCE: usize = 32;

/// How the process's open files are shared out.
#[derive(Debug)]
pub struct Budget {
    /// The open-files limit in effect.
    pub limit: u64,
    /// Files kept for the database, logs, images and child processes.
    pub reserve: usize,
    /// API connections at once.
    pub api: usize,
    /// Agent-endpoint connections not yet upgraded (joins, downloads, console relays).
    pub agent_handshakes: usize,
    /// Agent connections over sockets at once.
    pub agents: usize,
    held: Arc<AtomicUsize>,
    joins: Arc<Semaphore>,
}

/// One agent connection's file, counted while it lives.
pub struct AgentFile(Arc<AtomicUsize>);

impl AgentFile {
    /// An in-process agent's connection: no file.
    pub fn none() -> Self {
        let n = Arc::new(AtomicUsize::new(1));
        Self(n)
    }
}

impl Drop for AgentFile {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Budget {
    /// Shares out `limit` files, the API and handshake shares at most `api`/`handshakes`.
    pub fn new(limit: u64, api: usize, handshakes: usize) -> Self {
        let l = usize::try_from(limit).unwrap_or(usize::MAX);
        let reserve = 512.min(l / 4);
        let api = api.min(l / 8).max(1);
        let agent_handshakes = handshakes.min(l / 8).max(1);
        let agents = l.saturating_sub(reserve + api + agent_handshakes);
        Self {
            limit,
            reserve,
            api,
            agent_handshakes,
            agents,
            held: Arc::default(),
            joins: Arc::new(Semaphore::new(JOINS_AT_ONCE)),
        }
    }

    /// `CANOPY_AGENT_CONNECTIONS` lowers the agents' share (so a test sees the refusal
    /// without opening thousands of sockets); it never raises it past the limit.
    pub fn agents_from_env(mut self) -> Self {
        if let Some(n) = std::env::var("CANOPY_AGENT_CONNECTIONS")
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
        {
            self.agents = self.agents.min(n);
        }
        self
    }

    /// Counts one more agent connection over a socket; `Err` with the reason past the share.
    pub fn take_agent_file(&self) -> Result<AgentFile, String> {
        let n = self.held.fetch_add(1, Ordering::SeqCst);
        let file = AgentFile(self.held.clone());
        if n >= self.agents {
            return Err(format!(
                "this management server holds {n} agent connections, all its open-files limit \
                 ({}) allows beside the API's and the database's reserve; add a management \
                 server or raise its limit (ulimit -n)",
                self.limit
            ));
        }
        Ok(file)
    }

    /// Agent connections over sockets now.
    pub fn agent_files(&self) -> usize {
        self.held.load(Ordering::SeqCst)
    }

    /// A turn to join, if one is free now.
    pub fn try_join(&self) -> Option<OwnedSemaphorePermit> {
        self.joins.clone().try_acquire_owned().ok()
    }
}

/// Raises the soft open-files limit to the hard one; returns the limit in effect.
pub fn raise_limit() -> u64 {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let r = getrlimit(Resource::Nofile);
    let (cur, max) = (r.current, r.maximum);
    if let Some(c) = cur {
        if max.is_none_or(|m| m > c) {
            // An unlimited hard limit: Linux still caps files at fs.nr_open.
            let want = Rlimit {
                current: Some(max.unwrap_or(1 << 20)),
                maximum: max,
            };
            match setrlimit(Resource::Nofile, want) {
                Ok(()) => {}
                Err(e) => {
                    tracing::warn!(error = %e, current = c, "could not raise the open-files limit")
                }
            }
        }
    }
    getrlimit(Resource::Nofile).current.unwrap_or(1 << 20)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_up_and_refuse_past_the_agents_share() {
        let b = Budget::new(20_000, 2048, 4096);
        assert_eq!(
            b.reserve + b.api + b.agent_handshakes + b.agents,
            20_000,
            "{b:?}"
        );
        let small = Budget::new(1024, 2048, 4096);
        assert_eq!(
            (
                small.reserve,
                small.api,
                small.agent_handshakes,
                small.agents
            ),
            (256, 128, 128, 512)
        );
        let tiny = Budget::new(16, 2048, 4096);
        let held: Vec<_> = (0..tiny.agents)
            .map(|_| tiny.take_agent_file().expect("within the share"))
            .collect();
        let why = tiny.take_agent_file().err().expect("past the share");
        assert!(why.contains("open-files limit (16)"), "{why}");
        assert_eq!(tiny.agent_files(), tiny.agents, "a refusal holds nothing");
        drop(held);
        assert_eq!(tiny.agent_files(), 0);
    }

    #[test]
    fn joins_are_admitted_a_few_at_a_time() {
        let b = Budget::new(20_000, 2048, 4096);
        let turns: Vec<_> = (0..JOINS_AT_ONCE).filter_map(|_| b.try_join()).collect();
        assert_eq!(turns.len(), JOINS_AT_ONCE);
        assert!(b.try_join().is_none());
        drop(turns);
        assert!(b.try_join().is_some());
    }
}
