//! Slow and idle connections on the API port and on the agent endpoint (before an agent
//! authenticates): a client that sends its headers a byte at a time, or nothing at all, or
//! stays idle after a request, is cut off after the header timeout; past the connection bound
//! a client is told so; a body that never completes is answered, not waited for forever. The
//! limits are lowered for the test through the environment (this binary holds no other test).

mod common;

use std::time::{Duration, Instant};

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads until the peer closes (Ok(bytes)) or `limit` passes (Err).
async fn read_until_closed(s: &mut TcpStream, limit: Duration) -> Result<Vec<u8>, Vec<u8>> {
    let end = Instant::now() + limit;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(got);
        }
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Ok(got),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => return Err(got),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slow_idle_and_surplus_connections_are_cut_off() {
    // SAFETY of the test: this binary runs this one test, so no other thread reads the env.
    std::env::set_var("CANOPY_HTTP_HEADER_TIMEOUT_MS", "800");
    std::env::set_var("CANOPY_HTTP_MAX_CONNECTIONS", "40");
    std::env::set_var("CANOPY_HTTP_BODY_TIMEOUT_MS", "1000");
    let ts = TestServer::start().await;
    let api = ts.server.as_ref().expect("running").addr;
    let agent = ts.agent_addr();

    // Slowloris: a header byte every 200 ms never completes a request within the timeout.
    let started = Instant::now();
    let mut slow = TcpStream::connect(api).await.expect("connect");
    let head = b"GET /client/api?command=listZones HTTP/1.1\r\nHost: x\r\nX-Slow: ";
    let mut closed = false;
    for b in head
        .iter()
        .chain(b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".iter())
    {
        if slow.write_all(&[*b]).await.is_err() {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        if started.elapsed() > Duration::from_secs(6) {
            break;
        }
    }
    if !closed {
        closed = read_until_closed(&mut slow, Duration::from_secs(3))
            .await
            .is_ok();
    }
    assert!(closed, "a slowloris connection is closed");
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "closed after {:?}",
        started.elapsed()
    );

    // Idle: a connection that sends nothing, and one idle after a keep-alive request.
    let mut idle = TcpStream::connect(api).await.expect("connect");
    let t = Instant::now();
    assert!(read_until_closed(&mut idle, Duration::from_secs(4))
        .await
        .is_ok());
    let idle_closed = t.elapsed();
    let mut ka = TcpStream::connect(api).await.expect("connect");
    ka.write_all(
        b"GET /client/api?command=listCapabilities&response=json HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .await
    .expect("write");
    let got = read_until_closed(&mut ka, Duration::from_secs(4)).await;
    let text = String::from_utf8_lossy(got.as_ref().unwrap_or_else(|g| g)).to_string();
    assert!(got.is_ok(), "the idle keep-alive connection is closed");
    assert!(text.starts_with("HTTP/1.1 401"), "answered first: {text}");

    // A body promised but never sent: answered (or closed), not held.
    let mut body = TcpStream::connect(api).await.expect("connect");
    body.write_all(b"POST /client/api HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\ncommand=")
        .await
        .expect("write");
    let got = read_until_closed(&mut body, Duration::from_secs(5)).await;
    let text = String::from_utf8_lossy(got.as_ref().unwrap_or_else(|g| g)).to_string();
    assert!(
        got.is_ok(),
        "a stalled body does not hold the connection forever"
    );
    assert!(text.contains("not received in time"), "{text}");

    // Past the bound: a clear 503 on the API port, while the held connections last.
    let mut held = Vec::new();
    for _ in 0..40 {
        held.push(TcpStream::connect(api).await.expect("connect"));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut extra = TcpStream::connect(api).await.expect("connect");
    let got = read_until_closed(&mut extra, Duration::from_secs(3)).await;
    let text = String::from_utf8_lossy(got.as_ref().unwrap_or_else(|g| g)).to_string();
    assert!(
        text.starts_with("HTTP/1.1 503") && text.contains("too many open connections"),
        "{text}"
    );
    drop(held);
    // They time out (idle) and the server answers again.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    ts.admin.ok(&[("command", "listZones")]).await;

    // The agent endpoint: a TCP client that never starts TLS, and one that completes TLS
    // and then idles before sending a request, are both cut off.
    let mut raw = TcpStream::connect(agent).await.expect("connect");
    assert!(
        read_until_closed(&mut raw, Duration::from_secs(15))
            .await
            .is_ok(),
        "a client that never speaks TLS is dropped (10 s handshake timeout)"
    );
    let tls = {
        rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .dangerous()
        .with_custom_certificate_verifier(std::sync::Arc::new(AnyCert))
        .with_no_client_auth()
    };
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(tls));
    let tcp = TcpStream::connect(agent).await.expect("connect");
    let mut s = connector
        .connect(
            rustls::pki_types::ServerName::try_from("canopy").expect("name"),
            tcp,
        )
        .await
        .expect("TLS handshake");
    let t = Instant::now();
    let mut buf = [0u8; 64];
    let r = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await;
    assert!(
        matches!(r, Ok(Ok(0)) | Ok(Err(_))),
        "an idle TLS client is closed: {r:?}"
    );
    eprintln!(
        "http limits: idle API connection closed after {idle_closed:?}, idle agent-endpoint TLS connection after {:?}",
        t.elapsed()
    );
    ts.stop().await;
}

/// Accepts any server certificate (the test only checks that idle connections are dropped).
#[derive(Debug)]
struct AnyCert;

impl rustls::client::danger::ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }
    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        rustls::crypto::ring::default_provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}
