//! TLS termination in the routers' haproxy (render::haproxy, render::haproxy_files).

use super::*;

fn lb(protocol: &str, tls: Option<&str>) -> LoadBalancer {
    LoadBalancer {
        id: uuid::Uuid::from_u128(0xabcd_1234),
        name: "shop".into(),
        ip_id: uuid::Uuid::nil(),
        protocol: protocol.into(),
        public_port: 443,
        private_port: 80,
        algorithm: Algorithm::Roundrobin,
        members: vec![Ipv4Addr::new(10, 1, 0, 5)],
        cidrs: Vec::new(),
        stickiness: None,
        health_check: None,
        tls_pem: tls.map(str::to_string),
    }
}

#[test]
fn an_ssl_rule_with_a_certificate_terminates_tls_in_http_mode() {
    let ip = Ipv4Addr::new(198, 51, 100, 7);
    let with = lb("ssl", Some("PEM"));
    let cfg = haproxy(&[(ip, &with)]);
    assert!(
        cfg.contains("bind 198.51.100.7:443 ssl crt lb_abcd1234.pem\n"),
        "{cfg}"
    );
    assert!(cfg.contains("    mode http\n"), "{cfg}");
    assert!(cfg.contains("X-Forwarded-Proto https"), "{cfg}");
    let files = haproxy_files(&[(ip, &with)]);
    assert_eq!(
        files.get("lb_abcd1234.pem").map(String::as_str),
        Some("PEM")
    );
    // Without a certificate (or not ssl): plain TCP, no file.
    for l in [lb("ssl", None), lb("tcp", Some("PEM"))] {
        let cfg = haproxy(&[(ip, &l)]);
        assert!(cfg.contains("bind 198.51.100.7:443\n"), "{cfg}");
        assert!(!cfg.contains("ssl crt"), "{cfg}");
        assert!(haproxy_files(&[(ip, &l)]).is_empty());
    }
}
