//! The domain layer's error type. A [`DomainError::Refused`] is phrased for whoever asked
//! (a parameter that is wrong, capacity that is short, a resource in use) and carries its
//! [`ErrorKind`]; everything else is internal and reaches a client only as a reference id.
//! The one mapping to CloudStack's wire codes lives at the edge (the `server` crate).

/// What kind of refusal an error is. The numbers are the stable encoding stored in job rows
/// and saga data (they are CloudStack's codes, so stored outcomes read the same as before).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum ErrorKind {
    /// A parameter is wrong, or names nothing the caller may see.
    Param = 431,
    /// The operation is not supported here.
    Unsupported = 432,
    /// Something failed inside.
    Internal = 530,
    /// The caller's account may not do this.
    Permission = 531,
    /// The account's resource limit is reached.
    ResourceLimit = 532,
    /// Not enough capacity to place it.
    Capacity = 533,
    /// A resource it needs is not available now.
    Unavailable = 534,
    /// Allocating a resource failed.
    Allocation = 535,
    /// The resource is in use.
    InUse = 536,
    /// A network rule conflicts with another.
    RuleConflict = 537,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 10] = [
        Self::Param,
        Self::Unsupported,
        Self::Internal,
        Self::Permission,
        Self::ResourceLimit,
        Self::Capacity,
        Self::Unavailable,
        Self::Allocation,
        Self::InUse,
        Self::RuleConflict,
    ];

    /// The stored number.
    pub fn number(self) -> u16 {
        self as u16
    }

    /// The kind a stored number stands for, if any.
    pub fn from_number(n: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.number() == n)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// Already phrased for the caller.
    #[error("{text}")]
    Refused { kind: ErrorKind, text: String },
    #[error("storage: {0}")]
    Db(#[from] db::DbError),
    #[error("crypto: {0}")]
    Crypto(String),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("internal: {0}")]
    Internal(String),
}

impl DomainError {
    pub fn refused(kind: ErrorKind, text: impl Into<String>) -> Self {
        Self::Refused {
            kind,
            text: text.into(),
        }
    }

    /// The database could not be reached (see `db::DbError::is_unavailable`).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, DomainError::Db(e) if e.is_unavailable())
    }

    /// A wrong parameter (CloudStack's 431).
    pub fn param(text: impl Into<String>) -> Self {
        Self::refused(ErrorKind::Param, text)
    }

    /// An id that is malformed or names nothing the caller may see (CloudStack's text).
    pub fn invalid_id(param: &str, value: &str) -> Self {
        Self::param(format!(
            "Invalid parameter {param} value={value} due to incorrect long value format, or entity does not exist or due to incorrect parameter annotation for the field in api cmd class."
        ))
    }

    /// The error as its caller reads it: a refusal as it is; a unique-key conflict as a
    /// parameter error; anything else is logged here under a new reference id, which is all
    /// the caller gets.
    pub fn phrased(self) -> (ErrorKind, String) {
        match self {
            DomainError::Refused { kind, text } => (kind, text),
            DomainError::Db(db::DbError::Conflict(msg)) => {
                tracing::info!(%msg, "unique constraint conflict");
                (
                    ErrorKind::Param,
                    "The request conflicts with an existing object of the same name or key"
                        .to_string(),
                )
            }
            other => {
                let reference = uuid::Uuid::new_v4();
                tracing::error!(%reference, error = %other, "internal error");
                (
                    ErrorKind::Internal,
                    format!("Internal error executing command (reference {reference})"),
                )
            }
        }
    }
}

impl From<db::SqlxError> for DomainError {
    fn from(e: db::SqlxError) -> Self {
        DomainError::Db(db::DbError::from(e))
    }
}

pub type DomainResult<T> = Result<T, DomainError>;

/// A refusal for a wrong parameter, as a result (CloudStack's 431).
pub fn refuse<T>(text: impl Into<String>) -> DomainResult<T> {
    Err(DomainError::param(text))
}

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_stored_numbers() {
        for k in ErrorKind::ALL {
            assert_eq!(ErrorKind::from_number(k.number()), Some(k));
        }
        assert_eq!(ErrorKind::from_number(401), None);
        assert_eq!(ErrorKind::Param.number(), 431);
    }
}
