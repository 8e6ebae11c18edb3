//! Resource limits: the resource types CloudStack counts per account and domain
//! (`com.cloud.configuration.Resource.ResourceType`), their wire names, and the global
//! settings that give their defaults.

/// `-1`: no limit.
pub const UNLIMITED: i64 = -1;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ResourceType {
    UserVm,
    PublicIp,
    Volume,
    Snapshot,
    Template,
    Project,
    Network,
    Vpc,
    Cpu,
    Memory,
    PrimaryStorage,
    SecondaryStorage,
}

impl ResourceType {
    pub const ALL: [ResourceType; 12] = [
        Self::UserVm,
        Self::PublicIp,
        Self::Volume,
        Self::Snapshot,
        Self::Template,
        Self::Project,
        Self::Network,
        Self::Vpc,
        Self::Cpu,
        Self::Memory,
        Self::PrimaryStorage,
        Self::SecondaryStorage,
    ];

    /// The ordinal on the wire (`resourcetype`).
    pub fn ordinal(self) -> i64 {
        Self::ALL.iter().position(|t| *t == self).unwrap_or(0) as i64
    }

    pub fn from_ordinal(n: i64) -> Option<Self> {
        usize::try_from(n)
            .ok()
            .and_then(|i| Self::ALL.get(i).copied())
    }

    /// The name on the wire (`resourcetypename`).
    pub fn name(self) -> &'static str {
        match self {
            Self::UserVm => "user_vm",
            Self::PublicIp => "public_ip",
            Self::Volume => "volume",
            Self::Snapshot => "snapshot",
            Self::Template => "template",
            Self::Project => "project",
            Self::Network => "network",
            Self::Vpc => "vpc",
            Self::Cpu => "cpu",
            Self::Memory => "memory",
            Self::PrimaryStorage => "primary_storage",
            Self::SecondaryStorage => "secondary_storage",
        }
    }

    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == s)
    }

    /// The setting suffix shared by `max.account.*` and `max.domain.*`.
    fn setting_suffix(self) -> &'static str {
        match self {
            Self::UserVm => "user.vms",
            Self::PublicIp => "public.ips",
            Self::Volume => "volumes",
            Self::Snapshot => "snapshots",
            Self::Template => "templates",
            Self::Project => "projects",
            Self::Network => "networks",
            Self::Vpc => "vpcs",
            Self::Cpu => "cpus",
            Self::Memory => "memory",
            Self::PrimaryStorage => "primary.storage",
            Self::SecondaryStorage => "secondary.storage",
        }
    }

    /// The setting with an account's default limit for this type.
    pub fn account_setting(self) -> String {
        format!("max.account.{}", self.setting_suffix())
    }

    /// The setting with a project's default limit for this type (a project owns no
    /// projects: that type falls back to the account's).
    pub fn project_setting(self) -> String {
        match self {
            Self::Project => self.account_setting(),
            _ => format!("max.project.{}", self.setting_suffix()),
        }
    }

    /// The setting with a domain's default limit for this type.
    pub fn domain_setting(self) -> String {
        format!("max.domain.{}", self.setting_suffix())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinals_names_and_settings_round_trip() {
        for (i, t) in ResourceType::ALL.into_iter().enumerate() {
            assert_eq!(t.ordinal(), i as i64);
            assert_eq!(ResourceType::from_ordinal(i as i64), Some(t));
            assert_eq!(ResourceType::from_name(t.name()), Some(t));
            assert!(
                crate::settings::setting(&t.account_setting()).is_some(),
                "{t:?}"
            );
            assert!(
                crate::settings::setting(&t.domain_setting()).is_some(),
                "{t:?}"
            );
        }
        assert_eq!(ResourceType::from_ordinal(12), None);
        assert_eq!(ResourceType::from_ordinal(-1), None);
        assert_eq!(ResourceType::Memory.name(), "memory");
        assert_eq!(ResourceType::PrimaryStorage.ordinal(), 10);
    }
}
