//! API errors: the HTTP status is the CloudStack error code, and the body carries
//! `errorcode`, `cserrorcode` and `errortext`. This is the single place codes are assigned.

use serde_json::{json, Value};

/// `ApiErrorCode` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    Unauthorized = 401,
    MethodNotAllowed = 405,
    MalformedParameter = 430,
    ParamError = 431,
    UnsupportedAction = 432,
    Internal = 530,
    Account = 531,
    AccountResourceLimit = 532,
    InsufficientCapacity = 533,
    ResourceUnavailable = 534,
    ResourceAllocation = 535,
    ResourceInUse = 536,
    NetworkRuleConflict = 537,
    /// The server takes no new work now (a management server preparing for maintenance).
    ServiceUnavailable = 503,
}

impl ErrorCode {
    /// The code for a number, if it is one of these.
    pub fn from_u16(n: u16) -> Option<Self> {
        [
            Self::Unauthorized,
            Self::MethodNotAllowed,
            Self::MalformedParameter,
            Self::ParamError,
            Self::UnsupportedAction,
            Self::Internal,
            Self::Account,
            Self::AccountResourceLimit,
            Self::InsufficientCapacity,
            Self::ResourceUnavailable,
            Self::ResourceAllocation,
            Self::ResourceInUse,
            Self::NetworkRuleConflict,
            Self::ServiceUnavailable,
        ]
        .into_iter()
        .find(|c| *c as u16 == n)
    }

    pub fn http_status(self) -> u16 {
        self as u16
    }

    /// The exception-class code CloudStack reports next to the error code.
    pub fn cs_code(self) -> Option<u32> {
        match self {
            Self::Unauthorized | Self::MethodNotAllowed => None,
            Self::MalformedParameter | Self::UnsupportedAction | Self::ServiceUnavailable => {
                Some(9999)
            }
            Self::ParamError => Some(4350),
            Self::Internal => Some(4250),
            Self::Account => Some(4365),
            Self::AccountResourceLimit => Some(4280),
            Self::InsufficientCapacity => Some(4325),
            Self::ResourceUnavailable => Some(4380),
            Self::ResourceAllocation => Some(4370),
            Self::ResourceInUse => Some(4375),
            Self::NetworkRuleConflict => Some(4360),
        }
    }
}

/// An error as the client sees it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code:?} ({}): {text}", *code as u16)]
pub struct ApiError {
    pub code: ErrorCode,
    pub cs_code: Option<u32>,
    pub text: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, text: impl Into<String>) -> Self {
        Self {
            code,
            cs_code: code.cs_code(),
            text: text.into(),
        }
    }
    pub fn param(text: impl Into<String>) -> Self {
        Self::new(ErrorCode::ParamError, text)
    }
    pub fn internal(text: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, text)
    }
    pub fn permission(text: impl Into<String>) -> Self {
        Self::new(ErrorCode::Account, text)
    }
    pub fn in_use(text: impl Into<String>) -> Self {
        Self::new(ErrorCode::ResourceInUse, text)
    }
    /// The 401 every failed credential check gets (no hint which part failed).
    pub fn bad_credentials() -> Self {
        Self::new(
            ErrorCode::Unauthorized,
            "unable to verify user credentials and/or request signature",
        )
    }
    pub fn missing_param(command: &str, param: &str) -> Self {
        Self::param(format!(
            "Unable to execute API command {} due to missing parameter {}",
            command.to_ascii_lowercase(),
            param
        ))
    }
    /// CloudStack's text for an id that is malformed or names nothing.
    pub fn invalid_id(param: &str, value: &str) -> Self {
        Self::param(format!(
            "Invalid parameter {param} value={value} due to incorrect long value format, or entity does not exist or due to incorrect parameter annotation for the field in api cmd class."
        ))
    }
    pub fn not_permitted(command: &str) -> Self {
        Self::new(
            ErrorCode::Unauthorized,
            format!(
                "The given command '{command}' either does not exist, is not available for user."
            ),
        )
    }

    /// The value inside the `<command>response` envelope.
    pub fn body(&self) -> Value {
        let mut v = json!({ "uuidList": [], "errorcode": self.code as u16 });
        if let Some(cs) = self.cs_code {
            v["cserrorcode"] = json!(cs);
        }
        v["errortext"] = json!(self.text);
        v
    }

    /// What a non-admin caller may read of this error. Texts phrased for clients stay (a host
    /// that is not connected, capacity that is short: the user can act on them); an internal
    /// error keeps only its reference id — the detail is in the log under that id (written
    /// by whoever made the reference, or by the caller when `reference` is given here).
    pub fn redacted_for_user(self, reference: impl FnOnce(&str) -> String) -> Self {
        match self.code {
            ErrorCode::Internal if !self.text.contains("(reference ") => {
                let r = reference(&self.text);
                Self {
                    text: format!("Internal error executing command (reference {r})"),
                    ..self
                }
            }
            _ => self,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_codes_in_order() {
        let e = ApiError::missing_param("createZone", "name");
        assert_eq!(
            serde_json::to_string(&e.body()).expect("json"),
            r#"{"uuidList":[],"errorcode":431,"cserrorcode":4350,"errortext":"Unable to execute API command createzone due to missing parameter name"}"#
        );
        let e = ApiError::bad_credentials();
        assert!(e.body().get("cserrorcode").is_none());
        assert_eq!(e.code.http_status(), 401);
    }
}
