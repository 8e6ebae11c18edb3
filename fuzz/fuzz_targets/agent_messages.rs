//! What crosses the agent connection before and after authentication: agent messages, server
//! messages (the agent's side), the command replies the server decodes, and join tokens.
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
    // Command replies the server decodes.
    if let Ok(l) = serde_json::from_slice::<proto::VmList>(data) {
        let again = serde_json::to_vec(&l).expect("serialise");
        let back: proto::VmList = serde_json::from_slice(&again).expect("round trip");
        assert_eq!(back.vms.len(), l.vms.len());
    }
    let text = String::from_utf8_lossy(data);
    let _ = proto::JoinToken::decode(&text);
});
