//! Global settings: the catalogue's defaults overlaid with what operators changed (stored in
//! the database). Cached in memory. With one server (SQLite) the cache is re-read every few
//! seconds; with several (PostgreSQL) every API call first compares the stored settings'
//! fingerprint (`db::setting_version`, one small query) and re-reads them when a peer changed
//! one — an `updateConfiguration` through one server is in force at once on the others
//! (behind a balancer the next call may reach any of them).

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use model::settings::{setting, SettingDef};

use crate::error::DomainResult;

const REFRESH: Duration = Duration::from_secs(5);

pub struct Settings {
    overrides: RwLock<(HashMap<String, String>, Instant)>,
    /// The fingerprint the overrides were read at.
    version: RwLock<Option<(i64, i64)>>,
}

impl Settings {
    pub async fn load(store: &db::DataStore) -> DomainResult<Self> {
        let s = Self {
            overrides: RwLock::new((HashMap::new(), Instant::now())),
            version: RwLock::new(None),
        };
        s.reload(store).await?;
        Ok(s)
    }

    pub async fn reload(&self, store: &db::DataStore) -> DomainResult<()> {
        let mut c = store.read().await?;
        let version = db::setting_version(&mut c).await?;
        let all: HashMap<String, String> = db::setting_all(&mut c).await?.into_iter().collect();
        if let Ok(mut g) = self.overrides.write() {
            *g = (all, Instant::now());
        }
        if let Ok(mut v) = self.version.write() {
            *v = Some(version);
        }
        Ok(())
    }

    /// Before serving a call: on a database several servers share, re-reads the overrides when
    /// another server changed one since; otherwise as [`Settings::refresh_if_stale`].
    pub async fn refresh(&self, store: &db::DataStore) {
        if store.backend() == db::Backend::Sqlite {
            return self.refresh_if_stale(store).await;
        }
        let current = match store.read().await {
            Ok(mut c) => db::setting_version(&mut c).await,
            Err(e) => Err(e),
        };
        match current {
            Ok(v) if self.version.read().map(|g| *g == Some(v)).unwrap_or(false) => {}
            Ok(_) => {
                if let Err(e) = self.reload(store).await {
                    tracing::warn!(error = %e, "could not refresh settings");
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not check the settings' version"),
        }
    }

    /// Re-reads the overrides if the cache is older than a few seconds.
    pub async fn refresh_if_stale(&self, store: &db::DataStore) {
        let stale = self
            .overrides
            .read()
            .map(|g| g.1.elapsed() > REFRESH)
            .unwrap_or(true);
        if stale {
            if let Err(e) = self.reload(store).await {
                tracing::warn!(error = %e, "could not refresh settings");
            }
        }
    }

    /// Records a new value locally (the caller has stored it).
    pub fn set_local(&self, name: &str, value: &str) {
        if let Ok(mut g) = self.overrides.write() {
            g.0.insert(name.to_string(), value.to_string());
        }
    }

    /// The current value: the override, else the default.
    pub fn value(&self, def: &SettingDef) -> String {
        self.overrides
            .read()
            .ok()
            .and_then(|g| g.0.get(def.name).cloned())
            .unwrap_or_else(|| def.default.to_string())
    }

    fn raw(&self, name: &str) -> String {
        match setting(name) {
            Some(d) => self.value(d),
            None => {
                tracing::error!(name, "unknown setting requested");
                String::new()
            }
        }
    }

    pub fn int(&self, name: &str) -> i64 {
        let v = self.raw(name);
        v.parse().unwrap_or_else(|_| {
            setting(name)
                .and_then(|d| d.default.parse().ok())
                .unwrap_or(0)
        })
    }

    pub fn float(&self, name: &str) -> f64 {
        let v = self.raw(name);
        v.parse().unwrap_or_else(|_| {
            setting(name)
                .and_then(|d| d.default.parse().ok())
                .unwrap_or(0.0)
        })
    }

    pub fn text(&self, name: &str) -> String {
        self.raw(name)
    }

    pub fn bool(&self, name: &str) -> bool {
        self.raw(name).eq_ignore_ascii_case("true")
    }

    /// The value `name` has for the first object of `chain` that sets it (most specific first:
    /// a storage pool, then its zone; an account, then its domains), else the global value.
    pub fn scoped_text(&self, name: &str, chain: &[(model::settings::Scope, String)]) -> String {
        let found = self.overrides.read().ok().and_then(|g| {
            chain
                .iter()
                .find_map(|(s, id)| g.0.get(&model::settings::scoped_key(name, *s, id)).cloned())
        });
        found.unwrap_or_else(|| self.raw(name))
    }

    pub fn scoped_bool(&self, name: &str, chain: &[(model::settings::Scope, String)]) -> bool {
        self.scoped_text(name, chain).eq_ignore_ascii_case("true")
    }

    /// The value stored for exactly this object, if any (listConfigurations shows whether a
    /// scope overrides).
    pub fn stored(&self, key: &str) -> Option<String> {
        self.overrides
            .read()
            .ok()
            .and_then(|g| g.0.get(key).cloned())
    }

    /// Forgets a stored value locally (the caller has removed it).
    pub fn reset_local(&self, key: &str) {
        if let Ok(mut g) = self.overrides.write() {
            g.0.remove(key);
        }
    }

    /// `default.page.size`, never below 1.
    pub fn page_size(&self) -> u64 {
        self.int("default.page.size").max(1) as u64
    }
}
