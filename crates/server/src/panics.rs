//! A panic in a request handler or a job body must not take its connection down silently
//! (the client would wait for an answer that never comes) nor leave a job pending forever:
//! [`guard`] turns it into a 530 with a reference id, and logs the panic under that id. No
//! input is meant to panic — this is the net under the rule, not the rule.

use std::panic::AssertUnwindSafe;

use api::{ApiError, ErrorCode};
use futures_util::FutureExt;

/// Runs `fut`; a panic inside it becomes an internal error with a reference id.
pub async fn guard<F: std::future::Future>(fut: F, what: &str) -> Result<F::Output, ApiError> {
    match AssertUnwindSafe(fut).catch_unwind().await {
        Ok(v) => Ok(v),
        Err(panic) => {
            let reference = uuid::Uuid::new_v4();
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-text panic payload".into());
            tracing::error!(%reference, command = what, panic = %msg, "handler panicked");
            Err(ApiError::new(
                ErrorCode::Internal,
                format!("Internal error executing command (reference {reference})"),
            ))
        }
    }
}
