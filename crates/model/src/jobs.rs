//! Async jobs and events: status values as the wire shows them.

/// `jobstatus` on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobStatus {
    InProgress = 0,
    Succeeded = 1,
    Failed = 2,
    Cancelled = 3,
}

impl JobStatus {
    pub fn from_i64(v: i64) -> Option<Self> {
        Some(match v {
            0 => Self::InProgress,
            1 => Self::Succeeded,
            2 => Self::Failed,
            3 => Self::Cancelled,
            _ => return None,
        })
    }
    pub fn as_i64(self) -> i64 {
        self as i64
    }
}

/// Event levels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventLevel {
    Info,
    Warn,
    Error,
}

impl EventLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "INFO",
            Self::Warn => "WARN",
            Self::Error => "ERROR",
        }
    }
}

/// Event states: a sync command records `Completed`; an async one records `Scheduled` when
/// queued and `Completed` (or an ERROR-level `Completed`) when its job ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventState {
    Created,
    Scheduled,
    Started,
    Completed,
}

impl EventState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "Created",
            Self::Scheduled => "Scheduled",
            Self::Started => "Started",
            Self::Completed => "Completed",
        }
    }
}
