//! A volume's encryption passphrase as it crosses the agent connection.

use serde::{Deserialize, Serialize};

/// A volume's encryption passphrase. It travels only on the authenticated agent connection;
/// it never appears in logs or debug output, and hosts keep it only while they need it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[cfg(test)]
mod tests {
    use crate::{DiskSpec, Secret};

    #[test]
    fn secrets_travel_as_text_and_never_print() {
        let d = DiskSpec {
            secret: Some(Secret("hunter2".into())),
            ..Default::default()
        };
        assert!(!format!("{d:?}").contains("hunter2"));
        let j = serde_json::to_value(&d).expect("json");
        assert_eq!(j["secret"], "hunter2");
        let back: DiskSpec = serde_json::from_value(j).expect("back");
        assert_eq!(back, d);
    }
}
