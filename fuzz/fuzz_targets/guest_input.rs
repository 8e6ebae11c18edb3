//! What a guest sends its host: the guest agent's answers (lines on the virtio-serial
//! channel, interface lists) and the paths it asks its router's data server for. A guest is
//! not trusted; none of it may panic, and what is kept stays within bounds.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(v) = agent::qga::parse_line(data) {
        let ifs = agent::qga::interfaces(&v["return"]);
        assert!(ifs.len() <= 32);
        for i in &ifs {
            assert!(i.name.chars().count() <= 64 && i.ipv4.len() <= 16 && i.ipv6.len() <= 16);
        }
    }
    if let Ok(path) = std::str::from_utf8(data) {
        let g = netplan::GuestData {
            vm_id: Default::default(),
            ip: std::net::Ipv4Addr::new(10, 0, 0, 5),
            metadata: [("instance-id".to_string(), "i".to_string())]
                .into_iter()
                .collect(),
            user_data: Some(path.to_string()),
            password: None,
        };
        let _ = agent::vrdata::answer(&g, path);
    }
});
