//! The management servers an agent knows, in the order it tries them (CloudStack's agent
//! `host=` list: the first is preferred; on losing its server the agent moves to the next).
//! The list comes from the join token (one server), then from every `Welcome` and
//! `SetServers` (all servers, ordered by the server's `indirect.agent.lb.algorithm`), and is
//! saved with the host credential so a restarted agent knows them all.

use std::sync::{Arc, Mutex};

/// Called with the new list when it changes (to save it).
pub type OnServers = Arc<dyn Fn(&[String]) + Send + Sync>;

#[derive(Default)]
struct Inner {
    list: Vec<String>,
    /// Index of the server in use (or to try next).
    at: usize,
    on_change: Option<OnServers>,
}

/// A shared, ordered list of agent endpoints (`host:port`) with a cursor.
#[derive(Clone, Default)]
pub struct ServerList(Arc<Mutex<Inner>>);

impl ServerList {
    /// A list of these endpoints (empty ones dropped, duplicates kept once), starting at the
    /// first.
    pub fn new(list: Vec<String>) -> Self {
        let s = Self::default();
        if let Ok(mut i) = s.0.lock() {
            i.list = dedup(list);
        }
        s
    }

    /// Saves the list through `f` whenever it changes.
    pub fn on_change(self, f: OnServers) -> Self {
        if let Ok(mut i) = self.0.lock() {
            i.on_change = Some(f);
        }
        self
    }

    /// The server in use (or to try next); empty when the list is.
    pub fn current(&self) -> String {
        self.0
            .lock()
            .ok()
            .and_then(|i| i.list.get(i.at).cloned())
            .unwrap_or_default()
    }

    /// Whether the server in use is not the first (preferred) one.
    pub fn off_preferred(&self) -> bool {
        self.0
            .lock()
            .map(|i| i.at != 0 && !i.list.is_empty())
            .unwrap_or(false)
    }

    /// Moves the cursor back to the first (preferred) server.
    pub fn prefer_first(&self) {
        if let Ok(mut i) = self.0.lock() {
            i.at = 0;
        }
    }

    /// Every endpoint, in order.
    pub fn all(&self) -> Vec<String> {
        self.0.lock().map(|i| i.list.clone()).unwrap_or_default()
    }

    /// Moves to the next server (round the list); answers it.
    pub fn advance(&self) -> String {
        if let Ok(mut i) = self.0.lock() {
            if !i.list.is_empty() {
                i.at = (i.at + 1) % i.list.len();
            }
        }
        self.current()
    }

    /// Replaces the list (from the server). The cursor stays on the server in use when the new
    /// list has it — the agent keeps its connection — else it moves to the new first. An
    /// empty list changes nothing (an older server sends none).
    pub fn set(&self, list: Vec<String>) {
        let list = dedup(list);
        if list.is_empty() {
            return;
        }
        let hook = {
            let Ok(mut i) = self.0.lock() else { return };
            if i.list == list {
                return;
            }
            let cur = i.list.get(i.at).cloned();
            i.at = cur
                .and_then(|c| list.iter().position(|x| *x == c))
                .unwrap_or(0);
            i.list = list.clone();
            i.on_change.clone()
        };
        if let Some(f) = hook {
            f(&list);
        }
    }
}

impl From<String> for ServerList {
    fn from(s: String) -> Self {
        Self::new(vec![s])
    }
}

impl From<&str> for ServerList {
    fn from(s: &str) -> Self {
        Self::new(vec![s.to_string()])
    }
}

fn dedup(list: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in list {
        let s = s.trim().to_string();
        if !s.is_empty() && !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cursor_follows_the_server_in_use_and_wraps() {
        let saved = Arc::new(Mutex::new(Vec::new()));
        let s2 = saved.clone();
        let l = ServerList::from("a:1").on_change(Arc::new(move |l: &[String]| {
            if let Ok(mut s) = s2.lock() {
                *s = l.to_vec();
            }
        }));
        assert_eq!(
            (l.current(), l.advance()),
            ("a:1".to_string(), "a:1".to_string())
        );
        // The new list keeps the server in use.
        l.set(vec![
            "b:1".into(),
            "a:1".into(),
            "c:1".into(),
            "b:1".into(),
            " ".into(),
        ]);
        assert_eq!(l.all(), ["b:1", "a:1", "c:1"]);
        assert_eq!(l.current(), "a:1");
        assert_eq!(saved.lock().expect("saved").len(), 3);
        assert_eq!(
            (l.advance(), l.advance()),
            ("c:1".to_string(), "b:1".to_string())
        );
        // Without the server in use: start at the first. Empty: no change.
        l.set(vec!["d:1".into(), "e:1".into()]);
        assert_eq!(l.current(), "d:1");
        l.set(Vec::new());
        assert_eq!(l.all(), ["d:1", "e:1"]);
    }
}
