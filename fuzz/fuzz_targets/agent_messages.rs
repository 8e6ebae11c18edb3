//! What crosses the agent connection before and after authentication: agent messages, server
//! messages (the agent's side) and join tokens.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = serde_json::from_slice::<proto::AgentMsg>(data) {
        // What parses must print and parse back the same.
        let again = serde_json::to_vec(&m).expect("serialise");
        let back: proto::AgentMsg = serde_json::from_slice(&again).expect("round trip");
        assert_eq!(back, m);
    }
    let _ = serde_json::from_slice::<proto::ServerMsg>(data);
    let text = String::from_utf8_lossy(data);
    let _ = proto::JoinToken::decode(&text);
});
