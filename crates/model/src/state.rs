//! Resource states and their transition tables.
//!
//! Each enum is spelled on the wire and in the database exactly as CloudStack spells it
//! (`Running`, `PrepareForMaintenance`, …). The transition tables follow CloudStack's state
//! machines (reference §6) restricted to the moves Canopy makes; the database layer refuses a
//! conditional update that the table does not allow, so an illegal move is a programming
//! error caught by the tests rather than a row in a state nothing expects.

use std::fmt;
use std::str::FromStr;

/// A stored or wire value that is not one of an enum's names.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a {kind}")]
pub struct UnknownState {
    pub kind: &'static str,
    pub value: String,
}

/// What every state enum offers: its names and its transition table.
pub trait State: Copy + Eq + fmt::Debug + fmt::Display + FromStr + 'static {
    /// The family's name in errors (`VM state`, …).
    const KIND: &'static str;
    /// Every value.
    const ALL: &'static [Self];
    fn as_str(self) -> &'static str;
    /// Whether the table allows `self → to`.
    fn can_become(self, to: Self) -> bool;
}

macro_rules! state_enum {
    ($(#[$m:meta])* $name:ident, $kind:literal { $($v:ident $(= $s:literal)?),* $(,)? }
     moves: |$from:ident, $to:ident| $table:expr) => {
        $(#[$m])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($v),* }

        impl State for $name {
            const KIND: &'static str = $kind;
            const ALL: &'static [Self] = &[$(Self::$v),*];
            fn as_str(self) -> &'static str {
                match self { $(Self::$v => state_enum!(@name $v $($s)?)),* }
            }
            fn can_become(self, to: Self) -> bool {
                #[allow(unused_imports)]
                use $name::*;
                let ($from, $to) = (self, to);
                $table
            }
        }

        impl $name {
            pub fn as_str(self) -> &'static str {
                <Self as State>::as_str(self)
            }
            /// Case-insensitive, as CloudStack's list filters are.
            pub fn parse_loose(s: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str().eq_ignore_ascii_case(s))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownState;
            fn from_str(s: &str) -> Result<Self, UnknownState> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| UnknownState { kind: $kind, value: s.to_string() })
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }

    };
    (@name $v:ident $s:literal) => { $s };
    (@name $v:ident) => { stringify!($v) };
}

state_enum! {
    /// A VM's (and a virtual router's) state (`VirtualMachine.State`).
    VmState, "VM state" {
        Starting, Running, Stopping, Stopped, Destroyed, Expunging, Migrating, Error, Unknown,
        Shutdown,
    }
    moves: |from, to| matches!(
        (from, to),
        (Stopped, Starting | Destroyed | Stopped | Error | Expunging | Migrating | Running)
            | (Starting, Starting | Running | Stopped | Error)
            | (Running, Migrating | Running | Stopped | Stopping | Error)
            // A destroy resumed after a crash may find the VM still Stopping.
            | (Stopping, Stopped | Running | Stopping | Destroyed | Expunging)
            | (Migrating, Migrating | Running | Stopped)
            | (Destroyed, Stopped | Expunging | Destroyed)
            | (Expunging, Expunging)
            | (Error, Expunging | Stopped | Destroyed)
            | (Unknown | Shutdown, _)
    )
}

impl VmState {
    /// States in which a VM holds CPU and memory on its host.
    pub const ACTIVE: &'static [VmState] = &[
        VmState::Starting,
        VmState::Running,
        VmState::Stopping,
        VmState::Migrating,
    ];
    /// Destroyed or being expunged (hidden from users, `state=present` excludes them).
    pub fn is_gone(self) -> bool {
        matches!(self, VmState::Destroyed | VmState::Expunging)
    }
    /// An operation is under way (another one must wait or be refused).
    pub fn is_transitional(self) -> bool {
        matches!(
            self,
            VmState::Starting | VmState::Stopping | VmState::Migrating | VmState::Expunging
        )
    }
}

state_enum! {
    /// A volume's state (`Volume.State`).
    VolumeState, "volume state" {
        Allocated, Creating, Ready, Migrating, Snapshotting, Resizing, Attaching, Destroy,
        Expunging, Expunged, Uploaded, NotUploaded, UploadInProgress, UploadError,
        UploadAbandoned,
    }
    moves: |from, to| matches!(
        (from, to),
        (Allocated, Creating | Ready | Destroy | Allocated | Expunging)
            | (Creating, Ready | Allocated | Creating)
            | (Ready, Migrating | Snapshotting | Resizing | Attaching | Destroy | Allocated | Ready)
            | (Migrating | Snapshotting | Resizing | Attaching, Ready)
            | (Destroy, Expunging | Ready | Allocated | Uploaded | Expunged)
            | (Expunging, Expunged | Expunging)
            | (Uploaded, Ready | Creating | Destroy)
            | (NotUploaded, UploadInProgress | Uploaded | UploadError | UploadAbandoned | Destroy)
            | (UploadInProgress, Uploaded | UploadError | UploadAbandoned)
            | (UploadError | UploadAbandoned, Destroy)
    )
}

state_enum! {
    /// A volume snapshot (CloudStack's `Snapshot.State`): Allocated → Creating (the point-in-time
    /// copy on primary storage) → BackingUp (its copy to secondary storage) → BackedUp; a
    /// failure ends Error, a delete Destroyed.
    SnapshotState, "snapshot state" {
        Allocated, Creating, CreatedOnPrimary, BackingUp, BackedUp, Copying, Destroying, Destroyed,
        Error,
    }
    moves: |from, to| matches!(
        (from, to),
        (Allocated, Creating | Error | Destroyed)
            | (Creating, CreatedOnPrimary | BackingUp | Error | Destroyed)
            | (CreatedOnPrimary, BackingUp | Error | Destroyed)
            | (BackingUp, BackedUp | Error | Destroyed)
            | (BackedUp, Copying | Destroying | Destroyed)
            | (Copying, BackedUp)
            | (Destroying, Destroyed | BackedUp)
            | (Error, Destroyed)
    )
}

state_enum! {
    /// A VM snapshot (CloudStack's `VMSnapshot.State`).
    VmSnapshotState, "VM snapshot state" {
        Allocated, Creating, Ready, Reverting, Expunging, Removed, Error,
    }
    moves: |from, to| matches!(
        (from, to),
        (Allocated, Creating | Error | Removed)
            | (Creating, Ready | Error)
            | (Ready, Reverting | Expunging)
            | (Reverting, Ready)
            | (Expunging, Removed | Ready)
            | (Error, Removed | Expunging)
    )
}

state_enum! {
    /// A host's connection status (`Status`).
    HostStatus, "host status" {
        Creating, Connecting, Up, Down, Disconnected, Alert, Removed, Error, Rebalancing, Unknown,
    }
    moves: |from, to| matches!(
        (from, to),
        (_, Connecting)
            | (Connecting, Up | Alert | Disconnected | Down)
            | (Up, Alert | Disconnected | Down | Up | Removed)
            | (Disconnected, Disconnected | Alert | Up | Down | Removed)
            | (Alert, Up | Removed | Alert | Disconnected | Down)
            | (Down, Down | Removed | Disconnected)
    )
}

impl HostStatus {
    /// Not connected to any server (VMs may be placed on it only once it is back).
    pub fn is_lost(self) -> bool {
        matches!(
            self,
            HostStatus::Disconnected | HostStatus::Alert | HostStatus::Down
        )
    }
}

state_enum! {
    /// A host's (or storage pool's) administrative state (`ResourceState`).
    ResourceState, "resource state" {
        Creating, Enabled, Disabled, ErrorInPrepareForMaintenance, PrepareForMaintenance,
        ErrorInMaintenance, Maintenance, Error, Degraded,
    }
    moves: |from, to| matches!(
        (from, to),
        (Creating, Enabled | Disabled | Error)
            | (Enabled, Disabled | PrepareForMaintenance | Maintenance | Degraded | Enabled)
            | (Disabled, Enabled | PrepareForMaintenance | Maintenance | Degraded | Disabled)
            | (PrepareForMaintenance, Maintenance | ErrorInMaintenance | ErrorInPrepareForMaintenance | Enabled)
            | (ErrorInPrepareForMaintenance, PrepareForMaintenance | Enabled | Maintenance)
            | (ErrorInMaintenance, Enabled | Maintenance | PrepareForMaintenance)
            | (Maintenance, Enabled | Disabled | Degraded)
            | (Degraded, Enabled | Maintenance)
            | (Error, Enabled | Disabled)
    )
}

impl ResourceState {
    /// Some form of maintenance (VMs are being or have been moved away).
    pub fn in_maintenance(self) -> bool {
        matches!(
            self,
            ResourceState::PrepareForMaintenance
                | ResourceState::ErrorInPrepareForMaintenance
                | ResourceState::ErrorInMaintenance
                | ResourceState::Maintenance
        )
    }
}

state_enum! {
    /// A guest network's state (`Network.State`).
    NetworkState, "network state" {
        Allocated, Setup, Implementing, Implemented, Shutdown, Destroy,
    }
    moves: |from, to| matches!(
        (from, to),
        (Allocated, Implementing | Implemented | Destroy | Shutdown)
            | (Implementing, Implemented | Shutdown)
            | (Implemented, Shutdown | Implemented)
            | (Shutdown, Allocated | Shutdown | Implemented | Destroy)
            | (Setup, Destroy | Setup | Implemented | Shutdown)
    )
}

state_enum! {
    /// A VPC's state (`Vpc.State`): Inactive while it has no router to serve it.
    VpcState, "VPC state" {
        Enabled, Inactive,
    }
    moves: |from, to| matches!(
        (from, to),
        (Enabled, Inactive | Enabled) | (Inactive, Enabled | Inactive)
    )
}

state_enum! {
    /// A public IP address's state (`IpAddress.State`).
    IpState, "IP address state" {
        Allocating, Allocated, Releasing, Reserved, Free,
    }
    moves: |from, to| matches!(
        (from, to),
        (Free, Allocating | Allocated | Reserved)
            | (Allocating, Allocated | Free | Releasing)
            | (Allocated, Releasing | Free | Allocated)
            | (Releasing, Free | Releasing)
            | (Reserved, Allocated | Free)
    )
}

state_enum! {
    /// A network rule's state (`FirewallRule.State`; also VPN users and routes). Security
    /// groups and their rules are `Active` from creation; CloudStack's static routes start
    /// `Staged`; a remote-access VPN is `Running` once its router serves it.
    RuleState, "rule state" {
        Staged, Add, Active, Revoke, Deploying, Running,
    }
    moves: |from, to| matches!(
        (from, to),
        (Staged, Add | Active | Revoke)
            | (Add, Active | Revoke | Add | Running)
            | (Running, Running | Revoke)
            | (Deploying, Active | Revoke)
            | (Active, Revoke | Active)
            | (Revoke, Revoke)
    )
}

state_enum! {
    /// Zone, pod, cluster and physical network allocation state; network offering state.
    AllocationState, "allocation state" {
        Enabled, Disabled, Inactive,
    }
    moves: |_from, _to| true
}

state_enum! {
    /// A storage pool's status (`StoragePoolStatus`).
    PoolState, "storage pool status" {
        Initial, Initialized, Creating, Attaching, Up, PrepareForMaintenance,
        ErrorInMaintenance, CancelMaintenance, Maintenance, Disabled, Removed,
    }
    moves: |_from, _to| true
}

state_enum! {
    /// Where a saga is: going forward, unwinding, or finished either way.
    SagaPhase, "saga phase" {
        Forward = "forward", Unwind = "unwind", Done = "done", Unwound = "unwound",
    }
    moves: |from, to| matches!(
        (from, to),
        (Forward, Forward | Unwind | Done) | (Unwind, Unwind | Unwound)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<T: State>()
    where
        <T as FromStr>::Err: fmt::Debug,
    {
        for v in T::ALL {
            let parsed: T = v.as_str().parse().expect("own name parses");
            assert_eq!(parsed, *v);
            assert_eq!(v.to_string(), v.as_str());
        }
        assert!("NoSuchState".parse::<T>().is_err());
    }

    #[test]
    fn names_round_trip() {
        round_trip::<VmState>();
        round_trip::<VolumeState>();
        round_trip::<SnapshotState>();
        round_trip::<VmSnapshotState>();
        round_trip::<HostStatus>();
        round_trip::<ResourceState>();
        round_trip::<NetworkState>();
        round_trip::<IpState>();
        round_trip::<VpcState>();
        round_trip::<RuleState>();
        round_trip::<AllocationState>();
        round_trip::<PoolState>();
        round_trip::<SagaPhase>();
        assert_eq!(SagaPhase::Unwound.as_str(), "unwound");
    }

    #[test]
    fn vm_table_follows_cloudstack() {
        use VmState::*;
        assert!(Stopped.can_become(Starting));
        assert!(Starting.can_become(Running));
        assert!(Running.can_become(Stopping));
        assert!(Stopping.can_become(Stopped));
        assert!(Running.can_become(Migrating));
        assert!(Destroyed.can_become(Stopped), "recoverVirtualMachine");
        assert!(Destroyed.can_become(Expunging));
        assert!(!Destroyed.can_become(Running));
        assert!(!Expunging.can_become(Running));
        assert!(!Expunging.can_become(Stopped));
        assert!(!Stopping.can_become(Starting));
    }

    #[test]
    fn wire_spelling_and_loose_parse() {
        assert_eq!(
            ResourceState::PrepareForMaintenance.as_str(),
            "PrepareForMaintenance"
        );
        assert_eq!(VmState::parse_loose("running"), Some(VmState::Running));
        assert_eq!(VmState::parse_loose("present"), None);
        assert_eq!(
            serde_json::to_string(&HostStatus::Up).expect("serializes"),
            "\"Up\""
        );
        let s: NetworkState = serde_json::from_str("\"Implemented\"").expect("parses");
        assert_eq!(s, NetworkState::Implemented);
        assert!(serde_json::from_str::<NetworkState>("\"implemented\"").is_err());
    }
}
