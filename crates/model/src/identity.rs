//! Domains, accounts, users and roles: the enums and their CloudStack wire values.

use serde::Serialize;

/// CloudStack account types; the ordinal is the wire value (`accounttype`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum AccountType {
    User = 0,
    RootAdmin = 1,
    DomainAdmin = 2,
    ResourceDomainAdmin = 3,
    ReadOnlyAdmin = 4,
    /// The account that owns a project's resources (never logged into; no users).
    Project = 5,
}

impl AccountType {
    pub fn from_i64(v: i64) -> Option<Self> {
        Some(match v {
            0 => Self::User,
            1 => Self::RootAdmin,
            2 => Self::DomainAdmin,
            3 => Self::ResourceDomainAdmin,
            4 => Self::ReadOnlyAdmin,
            5 => Self::Project,
            _ => return None,
        })
    }
    pub fn as_i64(self) -> i64 {
        self as i64
    }
    /// The role type a new account of this type gets when no role is given.
    pub fn default_role_type(self) -> RoleType {
        match self {
            Self::User | Self::Project => RoleType::User,
            Self::RootAdmin | Self::ReadOnlyAdmin => RoleType::Admin,
            Self::DomainAdmin => RoleType::DomainAdmin,
            Self::ResourceDomainAdmin => RoleType::ResourceAdmin,
        }
    }
}

/// Role types (`RoleType` in CloudStack); each maps to one account type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum RoleType {
    Admin,
    ResourceAdmin,
    DomainAdmin,
    User,
}

impl RoleType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "Admin",
            Self::ResourceAdmin => "ResourceAdmin",
            Self::DomainAdmin => "DomainAdmin",
            Self::User => "User",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().as_str() {
            "admin" => Self::Admin,
            "resourceadmin" => Self::ResourceAdmin,
            "domainadmin" => Self::DomainAdmin,
            "user" => Self::User,
            _ => return None,
        })
    }
    pub fn account_type(self) -> AccountType {
        match self {
            Self::Admin => AccountType::RootAdmin,
            Self::ResourceAdmin => AccountType::ResourceDomainAdmin,
            Self::DomainAdmin => AccountType::DomainAdmin,
            Self::User => AccountType::User,
        }
    }
    /// Bit used in command permission masks.
    pub fn mask(self) -> u8 {
        match self {
            Self::Admin => 1,
            Self::ResourceAdmin => 2,
            Self::DomainAdmin => 4,
            Self::User => 8,
        }
    }
}

/// Account state, lower-case on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum AccountState {
    Enabled,
    Disabled,
    Locked,
}

impl AccountState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enabled => "enabled",
            Self::Disabled => "disabled",
            Self::Locked => "locked",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().as_str() {
            "enabled" => Self::Enabled,
            "disabled" => Self::Disabled,
            "locked" => Self::Locked,
            _ => return None,
        })
    }
}

/// User state uses the same three values as accounts.
pub type UserState = AccountState;

/// The names and types of the roles seeded on first start (CloudStack's defaults plus the
/// read-only user role). `read_only` roles may only call commands that change nothing.
pub struct DefaultRole {
    pub name: &'static str,
    pub role_type: RoleType,
    pub description: &'static str,
    pub read_only: bool,
}

pub const DEFAULT_ROLES: &[DefaultRole] = &[
    DefaultRole {
        name: "Root Admin",
        role_type: RoleType::Admin,
        description: "Default root admin role",
        read_only: false,
    },
    DefaultRole {
        name: "Resource Admin",
        role_type: RoleType::ResourceAdmin,
        description: "Default resource admin role",
        read_only: false,
    },
    DefaultRole {
        name: "Domain Admin",
        role_type: RoleType::DomainAdmin,
        description: "Default domain admin role",
        read_only: false,
    },
    DefaultRole {
        name: "User",
        role_type: RoleType::User,
        description: "Default user role",
        read_only: false,
    },
    DefaultRole {
        name: "Read-Only User - Default",
        role_type: RoleType::User,
        description: "Default read-only user role",
        read_only: true,
    },
];

/// Domain paths are stored as CloudStack does: `/` for ROOT, `/a/b/` below it. The API shows
/// them as `ROOT/a/b`.
pub fn display_domain_path(path: &str) -> String {
    let inner = path.trim_matches('/');
    if inner.is_empty() {
        "ROOT".to_string()
    } else {
        format!("ROOT/{inner}")
    }
}

/// Normalises a domain path given at login (`/`, `child`, `/child/`, `ROOT/child`) to the
/// stored form.
pub fn normalize_domain_path(input: &str) -> String {
    let mut p = input.trim().trim_matches('/').to_string();
    if p.eq_ignore_ascii_case("root") {
        p.clear();
    } else if let Some(rest) = p
        .get(..5)
        .filter(|head| head.eq_ignore_ascii_case("root/"))
        .and_then(|_| p.get(5..))
    {
        // `get` instead of `[..5]`: the text is the caller's and byte 5 need not be a
        // character boundary ("ユニ" is 6 bytes).
        p = rest.to_string();
    }
    if p.is_empty() {
        "/".to_string()
    } else {
        format!("/{p}/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_paths_round_trip() {
        assert_eq!(display_domain_path("/"), "ROOT");
        assert_eq!(display_domain_path("/a/b/"), "ROOT/a/b");
        assert_eq!(normalize_domain_path("/"), "/");
        assert_eq!(normalize_domain_path(""), "/");
        assert_eq!(normalize_domain_path("ROOT"), "/");
        assert_eq!(normalize_domain_path("child"), "/child/");
        assert_eq!(normalize_domain_path("/child/"), "/child/");
        assert_eq!(normalize_domain_path("ROOT/child/x"), "/child/x/");
        // Multi-byte text around byte 5 (the audit's pre-authentication panic).
        assert_eq!(normalize_domain_path("ユニ"), "/ユニ/");
        assert_eq!(normalize_domain_path("root/ユ"), "/ユ/");
        assert_eq!(normalize_domain_path("rooté/x"), "/rooté/x/");
    }

    #[test]
    fn role_and_account_types_agree() {
        for r in [
            RoleType::Admin,
            RoleType::DomainAdmin,
            RoleType::User,
            RoleType::ResourceAdmin,
        ] {
            assert_eq!(r.account_type().default_role_type(), r);
            assert_eq!(RoleType::parse(r.as_str()), Some(r));
        }
    }
}

/// A project's state (CloudStack's `Project.State`): resources are added only while Active;
/// Disabled while it is being deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum ProjectState {
    Active,
    Suspended,
    Disabled,
}

impl ProjectState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "Active",
            Self::Suspended => "Suspended",
            Self::Disabled => "Disabled",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().as_str() {
            "active" => Self::Active,
            "suspended" => Self::Suspended,
            "disabled" => Self::Disabled,
            _ => return None,
        })
    }
}

/// A member's role in a project: Admins manage the project, Regular members use it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum ProjectRole {
    Admin,
    Regular,
}

impl ProjectRole {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "Admin",
            Self::Regular => "Regular",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().as_str() {
            "admin" => Self::Admin,
            "regular" => Self::Regular,
            _ => return None,
        })
    }
}

/// A project invitation's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum InvitationState {
    Pending,
    Completed,
    Declined,
    Expired,
}

impl InvitationState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "Pending",
            Self::Completed => "Completed",
            Self::Declined => "Declined",
            Self::Expired => "Expired",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().as_str() {
            "pending" => Self::Pending,
            "completed" => Self::Completed,
            "declined" => Self::Declined,
            "expired" => Self::Expired,
            _ => return None,
        })
    }
}
