//! What crosses the agent connection before and after authentication: agent messages, server
//! messages (the agent's side), the command replies the server decodes, join tokens, and
//! the calls between management servers (request, answer, authentication header).
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
    // Commands the agent carries out: a config drive's paths and contents are checked
    // before anything is written.
    if let Ok(c) = serde_json::from_slice::<proto::Command>(data) {
        let drive = match &c {
            proto::Command::StartVm { vm } | proto::Command::PrepareMigration { vm, .. } => {
                vm.config_drive.clone()
            }
            proto::Command::UpdateConfigDrive { drive, .. } => Some(drive.clone()),
            _ => None,
        };
        if let Some(Ok(files)) = drive.map(|d| d.decoded()) {
            for (p, _) in files {
                assert!(!p.starts_with('/') && !p.split('/').any(|c| c == ".." || c.is_empty()));
            }
        }
    }
    // Command replies the server decodes.
    if let Ok(l) = serde_json::from_slice::<proto::VmList>(data) {
        let again = serde_json::to_vec(&l).expect("serialise");
        let back: proto::VmList = serde_json::from_slice(&again).expect("round trip");
        assert_eq!(back.vms.len(), l.vms.len());
    }
    // Between servers: the request a peer runs (after its MAC is checked) and the header.
    if let Ok(r) = serde_json::from_slice::<proto::peer::PeerRequest>(data) {
        let again = serde_json::to_vec(&r).expect("serialise");
        let back: proto::peer::PeerRequest = serde_json::from_slice(&again).expect("round trip");
        assert_eq!(back, r);
    }
    let _ = serde_json::from_slice::<proto::peer::PeerAnswer>(data);
    let text = String::from_utf8_lossy(data);
    if let Some((ts, mac)) = proto::peer::parse_auth(&text) {
        assert!(ts >= 0 && !mac.is_empty() && mac.len() <= 128);
    }
    let _ = proto::JoinToken::decode(&text);
});
