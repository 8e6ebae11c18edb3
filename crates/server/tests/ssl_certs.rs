//! Load balancer certificates through the API (SQLite and PostgreSQL): uploadSslCert checks
//! the certificate and that the key is its own; an `ssl` rule with a certificate makes the
//! router's haproxy terminate TLS with it (the host receives the PEM, the admin's view of
//! the host's configuration never shows the key); a certificate in use is not deleted;
//! another tenant neither sees nor uses it. (TLS answered from the public side on a real
//! host: `tests/e2e/real_hosts.py`.)

mod common;

use common::*;

fn router_of(z: &VmZone) -> netplan::RouterDesired {
    let host = &z.hosts[0].0;
    let d = z
        .net_of(host)
        .desired
        .unwrap_or_else(|| panic!("host {host} has no configuration"));
    d.routers
        .first()
        .cloned()
        .unwrap_or_else(|| panic!("no router on {host}: {d:?}"))
}

async fn certs(ts: TestServer) {
    let admin = ts.admin.clone();
    let z = VmZone::new(&ts, 1).await;
    let (_, _, u) = account_with_keys(&ts, &admin, "tls", None, "0").await;
    let (_, _, other) = account_with_keys(&ts, &admin, "tls2", None, "0").await;
    let vm1 = deploy_vm(&u, &z, "w1", &[]).await;
    let vm2 = deploy_vm(&u, &z, "w2", &[]).await;
    let net = s(&vm1["nic"][0]["networkid"]);
    let j = u
        .job(&[("command", "associateIpAddress"), ("networkid", &net)])
        .await;
    let ip = s(&j["jobresult"]["ipaddress"]["id"]);
    let lb = |proto: &'static str, port: &'static str| {
        let u = Client::new(&u.base, &u.key, &u.secret);
        let ip = ip.clone();
        async move {
            let j = u
                .job(&[
                    ("command", "createLoadBalancerRule"),
                    ("publicipid", &ip),
                    ("name", "web"),
                    ("algorithm", "roundrobin"),
                    ("publicport", port),
                    ("privateport", "80"),
                    ("protocol", proto),
                ])
                .await;
            assert_eq!(j["jobstatus"], 1, "{j}");
            s(&j["jobresult"]["loadbalancer"]["id"])
        }
    };
    let https = lb("ssl", "443").await;
    let plain = lb("tcp", "80").await;
    // Terraform asks for a rule's autoscale groups before deleting it: none (no autoscaling).
    let g = u
        .ok(&[("command", "listAutoScaleVmGroups"), ("lbruleid", &https)])
        .await;
    assert_eq!(g["count"].as_u64().unwrap_or(0), 0, "{g}");
    let (_, _, eve) = account_with_keys(&ts, &ts.admin, "eve-asg", None, "0").await;
    eve.err(
        &[("command", "listAutoScaleVmGroups"), ("lbruleid", &https)],
        531,
    )
    .await;
    let members = format!("{},{}", s(&vm1["id"]), s(&vm2["id"]));
    let j = u
        .job(&[
            ("command", "assignToLoadBalancerRule"),
            ("id", &https),
            ("virtualmachineids", &members),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");

    let good = rcgen::generate_simple_self_signed(vec!["shop.example".into()]).expect("cert");
    let stranger = rcgen::generate_simple_self_signed(vec!["x.example".into()]).expect("cert");
    let (cert, key) = (good.cert.pem(), good.key_pair.serialize_pem());
    let upload = |c: &Client, name: &str, cert: &str, key: &str, code: u16| {
        let c = Client::new(&c.base, &c.key, &c.secret);
        let (name, cert, key) = (name.to_string(), cert.to_string(), key.to_string());
        async move {
            let p = [
                ("command", "uploadSslCert"),
                ("name", name.as_str()),
                ("certificate", cert.as_str()),
                ("privatekey", key.as_str()),
            ];
            if code == 200 {
                c.ok(&p).await["sslcert"].clone()
            } else {
                serde_json::Value::String(c.err(&p, code).await)
            }
        }
    };
    let e = upload(&u, "bad", "not a certificate", &key, 431).await;
    assert!(s(&e).contains("PEM certificate"), "{e}");
    let e = upload(
        &u,
        "mismatch",
        &cert,
        &stranger.key_pair.serialize_pem(),
        431,
    )
    .await;
    assert!(s(&e).contains("public-private key pair"), "{e}");
    // Expired: refused, as CloudStack's checkValidity refuses it.
    let mut old = rcgen::CertificateParams::new(vec!["old.example".into()]).expect("params");
    old.not_before = rcgen::date_time_ymd(2001, 1, 1);
    old.not_after = rcgen::date_time_ymd(2002, 1, 1);
    let old_key = rcgen::KeyPair::generate().expect("key");
    let old_cert = old.self_signed(&old_key).expect("cert");
    let e = upload(&u, "old", &old_cert.pem(), &old_key.serialize_pem(), 431).await;
    assert!(s(&e).contains("expired"), "{e}");
    let c = upload(&u, "shop", &cert, &key, 200).await;
    let cert_id = s(&c["id"]);
    assert_eq!(c["name"], "shop");
    assert_eq!(s(&c["fingerprint"]).len(), 59, "{c}");
    assert!(c.get("privatekey").is_none(), "{c}");
    assert!(!c.to_string().contains("PRIVATE KEY"), "{c}");

    // Another tenant: nothing to see, nothing to use.
    other
        .err(&[("command", "listSslCerts"), ("certid", &cert_id)], 531)
        .await;
    assert_eq!(
        other.ok(&[("command", "listSslCerts")]).await["count"],
        serde_json::Value::Null
    );
    other
        .err(
            &[
                ("command", "assignCertToLoadBalancer"),
                ("lbruleid", &https),
                ("certid", &cert_id),
            ],
            531,
        )
        .await;
    other
        .err(&[("command", "deleteSslCert"), ("id", &cert_id)], 531)
        .await;

    // Only ssl rules take certificates.
    let e = u
        .err(
            &[
                ("command", "assignCertToLoadBalancer"),
                ("lbruleid", &plain),
                ("certid", &cert_id),
            ],
            431,
        )
        .await;
    assert!(e.contains("ssl"), "{e}");
    let j = u
        .job(&[
            ("command", "assignCertToLoadBalancer"),
            ("lbruleid", &https),
            ("certid", &cert_id),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let l = u
        .ok(&[("command", "listSslCerts"), ("lbruleid", &https)])
        .await;
    assert_eq!(
        l["sslcert"][0]["loadbalancerrulelist"][0],
        https.as_str(),
        "{l}"
    );

    // The router terminates TLS with it; the admin's view of the host hides the key.
    let r = router_of(&z);
    let cfg = r.haproxy_cfg.clone().expect("haproxy");
    let hex = https.replace('-', "");
    let file = format!("lb_{}.pem", &hex[hex.len() - 8..]);
    assert!(cfg.contains(&format!(":443 ssl crt {file}")), "{cfg}");
    assert!(cfg.contains("X-Forwarded-Proto https"), "{cfg}");
    let pem = r
        .haproxy_files
        .get(&file)
        .expect("the PEM reached the host");
    assert!(
        pem.contains(cert.trim()) && pem.contains(key.trim()),
        "{pem}"
    );
    let hc = admin
        .ok(&[
            ("command", "getHostNetworkConfiguration"),
            ("hostid", &z.hosts[0].0),
        ])
        .await;
    assert!(
        !hc.to_string().contains("PRIVATE KEY"),
        "the key leaked: {hc}"
    );

    // In use: not deleted; removed from the rule, TLS ends, then it goes.
    let e = u
        .err(&[("command", "deleteSslCert"), ("id", &cert_id)], 431)
        .await;
    assert!(e.contains("in use"), "{e}");
    let j = u
        .job(&[
            ("command", "removeCertFromLoadBalancer"),
            ("lbruleid", &https),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let r = router_of(&z);
    assert!(!r.haproxy_cfg.unwrap_or_default().contains("ssl crt"));
    assert!(r.haproxy_files.is_empty());
    u.ok(&[("command", "deleteSslCert"), ("id", &cert_id)])
        .await;
    assert_eq!(
        u.ok(&[("command", "listSslCerts")]).await["count"],
        serde_json::Value::Null
    );
    ts.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ssl_certificates_terminate_tls_on_the_router() {
    certs(TestServer::start().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ssl_certificates_terminate_tls_on_the_router_postgres() {
    let Some(pg) = testkit::Postgres::start_for_test() else {
        return;
    };
    certs(TestServer::start_with(Some(pg.fresh_database().expect("db"))).await).await;
}
