//! The app layer's error type and its single mapping to what the client sees. Internal
//! details (database errors, IO) are logged with a reference and never sent.

use api::{ApiError, ErrorCode};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Already phrased for the client.
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("storage: {0}")]
    Db(#[from] db::DbError),
    #[error("crypto: {0}")]
    Crypto(String),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("internal: {0}")]
    Internal(String),
}

impl AppError {
    /// The error as the client sees it; internal ones are logged here.
    pub fn into_api(self) -> ApiError {
        let inner = match self {
            AppError::Api(e) => return e,
            AppError::Db(e) => domain::DomainError::Db(e),
            AppError::Crypto(e) => domain::DomainError::Crypto(e),
            AppError::Io(e) => domain::DomainError::Io(e),
            AppError::Internal(e) => domain::DomainError::Internal(e),
        };
        // One wording for both layers (a conflict as a parameter error, the rest by reference).
        let (kind, text) = inner.phrased();
        ApiError::new(code_of(kind), text)
    }
}

pub type AppResult<T> = Result<T, AppError>;

/// Shorthands for handlers.
pub fn param_err<T>(text: impl Into<String>) -> AppResult<T> {
    Err(ApiError::param(text).into())
}

/// The one mapping from the domain's refusal kinds to CloudStack's codes.
pub fn code_of(kind: domain::ErrorKind) -> ErrorCode {
    use domain::ErrorKind as K;
    match kind {
        K::Param => ErrorCode::ParamError,
        K::Unsupported => ErrorCode::UnsupportedAction,
        K::Internal => ErrorCode::Internal,
        K::Permission => ErrorCode::Account,
        K::ResourceLimit => ErrorCode::AccountResourceLimit,
        K::Capacity => ErrorCode::InsufficientCapacity,
        K::Unavailable => ErrorCode::ResourceUnavailable,
        K::Allocation => ErrorCode::ResourceAllocation,
        K::InUse => ErrorCode::ResourceInUse,
        K::RuleConflict => ErrorCode::NetworkRuleConflict,
    }
}

impl AppError {
    /// The database could not be reached (see `db::DbError::is_unavailable`).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, AppError::Db(e) if e.is_unavailable())
    }

    /// The error for the domain layer (a client-phrased error keeps its code's kind).
    pub fn into_domain(self) -> domain::DomainError {
        use domain::DomainError as D;
        match self {
            AppError::Api(a) => {
                let kind = domain::ErrorKind::ALL
                    .into_iter()
                    .find(|k| code_of(*k) == a.code)
                    .unwrap_or(domain::ErrorKind::Internal);
                D::refused(kind, a.text)
            }
            AppError::Db(e) => D::Db(e),
            AppError::Crypto(e) => D::Crypto(e),
            AppError::Io(e) => D::Io(e),
            AppError::Internal(e) => D::Internal(e),
        }
    }
}

impl From<domain::DomainError> for AppError {
    fn from(e: domain::DomainError) -> Self {
        use domain::DomainError as D;
        match e {
            D::Refused { kind, text } => AppError::Api(ApiError::new(code_of(kind), text)),
            D::Db(e) => AppError::Db(e),
            D::Crypto(e) => AppError::Crypto(e),
            D::Io(e) => AppError::Io(e),
            D::Internal(e) => AppError::Internal(e),
        }
    }
}

impl From<db::SqlxError> for AppError {
    fn from(e: db::SqlxError) -> Self {
        AppError::Db(db::DbError::from(e))
    }
}

/// [`ApiError::redacted_for_user`] with the detail logged under a new reference id.
pub fn for_user(e: ApiError) -> ApiError {
    e.redacted_for_user(|detail| {
        let reference = uuid::Uuid::new_v4();
        tracing::error!(%reference, error = %detail, "internal error (shown to the user by reference)");
        reference.to_string()
    })
}
