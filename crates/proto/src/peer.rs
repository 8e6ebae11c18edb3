//! Calls between management servers (`server::peers`): a command for a host whose agent is
//! connected to another server, sent to that server's agent endpoint.

use serde::{Deserialize, Serialize};

/// The path on the agent endpoint.
pub const PATH: &str = "/internal/v1/command";
/// The header carrying `<epoch ms>.<hex HMAC>` of the request.
pub const HEADER: &str = "x-canopy-peer";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PeerRequest {
    pub host_id: model::HostId,
    pub command: crate::Command,
    pub timeout_ms: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PeerAnswer {
    pub ok: bool,
    #[serde(default)]
    pub body: serde_json::Value,
    /// The refusal's kind (a CloudStack error number) when the command was refused.
    #[serde(default)]
    pub kind: Option<u16>,
    #[serde(default)]
    pub text: Option<String>,
    /// The host's agent is not connected to the answering server either.
    #[serde(default)]
    pub not_here: bool,
}

/// Splits the authentication header into its time and MAC; `None` when it is not
/// `<digits>.<hex>` of sane lengths.
pub fn parse_auth(header: &str) -> Option<(i64, &str)> {
    let (ts, mac) = header.split_once('.')?;
    if ts.is_empty() || ts.len() > 19 || !ts.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if mac.is_empty() || mac.len() > 128 || !mac.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some((ts.parse().ok()?, mac))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_headers_parse_only_when_well_formed() {
        assert_eq!(
            parse_auth("1700000000000.00ff"),
            Some((1_700_000_000_000, "00ff"))
        );
        for bad in [
            "",
            ".",
            "1.",
            ".ff",
            "-1.ff",
            "1.zz",
            "1.ff.ff",
            "99999999999999999999.ff",
            "١.ff",
        ] {
            assert_eq!(parse_auth(bad), None, "{bad}");
        }
    }
}
