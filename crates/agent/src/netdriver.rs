//! Network drivers: what applies a host's compiled desired data plane. The Linux driver
//! (`linuxnet`: bridges, VXLAN, taps, nftables, router namespaces) runs on real hosts; the
//! fake here keeps what it was given, which is what simulated hosts and tests need: the
//! generation, the configuration, and how many times it changed.

use std::sync::Mutex;

use netplan::HostDesired;

pub trait NetDriver: Send + Sync {
    /// Applies `desired` as generation `generation` unless a newer one is already applied;
    /// returns the generation the host has afterwards.
    fn apply(&self, generation: u64, desired: &HostDesired) -> crate::HostResult<u64>;
}

#[derive(Debug, Default)]
pub struct FakeNet {
    state: Mutex<FakeNetState>,
}

#[derive(Clone, Debug, Default)]
pub struct FakeNetState {
    pub generation: u64,
    pub desired: Option<HostDesired>,
    /// Applies that changed something.
    pub applies: u64,
    /// Every configuration received (a reboot's forced push of an unchanged one included).
    pub received: u64,
}

impl FakeNet {
    /// What the host has now.
    pub fn snapshot(&self) -> FakeNetState {
        self.state.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl NetDriver for FakeNet {
    fn apply(&self, generation: u64, desired: &HostDesired) -> crate::HostResult<u64> {
        let mut s = self
            .state
            .lock()
            .map_err(|_| "network state poisoned".to_string())?;
        s.received += 1;
        if generation < s.generation {
            return Ok(s.generation);
        }
        if s.desired.as_ref() != Some(desired) {
            s.applies += 1;
        }
        s.generation = generation;
        s.desired = Some(desired.clone());
        Ok(generation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desired(n: usize) -> HostDesired {
        HostDesired {
            host_id: uuid::Uuid::nil(),
            bridges: Vec::new(),
            taps: Vec::new(),
            security: Some("x".repeat(n)),
            routers: Vec::new(),
        }
    }

    #[test]
    fn newer_generations_win_and_older_ones_are_refused() {
        let n = FakeNet::default();
        assert_eq!(n.apply(2, &desired(1)), Ok(2));
        assert_eq!(n.apply(1, &desired(2)), Ok(2), "stale generation refused");
        assert_eq!(n.snapshot().desired, Some(desired(1)));
        assert_eq!(n.apply(2, &desired(1)), Ok(2), "re-apply is idempotent");
        assert_eq!(n.snapshot().applies, 1);
        assert_eq!(n.snapshot().received, 3);
        assert_eq!(n.apply(3, &desired(3)), Ok(3));
        assert_eq!(n.snapshot().applies, 2);
    }
}
