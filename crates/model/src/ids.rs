//! Typed ids: newtypes over UUID so a `UserId` can never be passed where an `AccountId` is
//! expected. On the wire every id is the lower-case hyphenated UUID.

use std::fmt;
use std::str::FromStr;

macro_rules! typed_id {
    ($($(#[$m:meta])* $name:ident),* $(,)?) => {$(
        $(#[$m])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub uuid::Uuid);

        impl $name {
            /// A fresh random id.
            pub fn new() -> Self {
                Self(uuid::Uuid::new_v4())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                uuid::Uuid::parse_str(s).map(Self)
            }
        }

        impl From<uuid::Uuid> for $name {
            fn from(u: uuid::Uuid) -> Self {
                Self(u)
            }
        }

        impl From<$name> for uuid::Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl PartialEq<uuid::Uuid> for $name {
            fn eq(&self, other: &uuid::Uuid) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<$name> for uuid::Uuid {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }
    )*};
}

typed_id!(
    DomainId,
    AccountId,
    UserId,
    RoleId,
    JobId,
    EventId,
    SessionId,
    /// The id of one management-server process (changes at every start).
    ServerId,
    ZoneId,
    PodId,
    ClusterId,
    PhysicalNetworkId,
    TrafficTypeId,
    ProviderId,
    /// A virtual machine (user VMs; virtual routers have their own rows).
    VmId,
    /// A hypervisor host.
    HostId,
    VolumeId,
    /// A volume snapshot (kept on secondary storage).
    SnapshotId,
    /// A schedule of recurring volume snapshots.
    SnapshotPolicyId,
    /// A snapshot of a whole VM (its disks, and its memory when taken with it).
    VmSnapshotId,
    NetworkId,
    /// A virtual private cloud (its tiers are networks with this id).
    VpcId,
    /// A project (its resources are owned by its own account).
    ProjectId,
);
