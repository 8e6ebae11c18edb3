//! One HTTP/1 accept loop for the API port and the agent endpoint, with the limits an outside
//! client cannot get around: a header-read timeout that also ends idle keep-alive connections
//! (hyper starts it whenever the connection waits for a request head, so a slowloris client
//! sending a byte at a time and a client that sends nothing are both cut off), an optional TLS
//! handshake timeout, and a bound on connections that have not been upgraded (a websocket —
//! an agent's channel, a console — leaves the bound once it is upgraded). Past the bound a
//! plain-HTTP client gets a 503 saying why; a TLS client is closed (agents back off and retry).
//!
//! `axum::serve` has none of these (it sets no timer, so hyper's header timeout never runs),
//! which is why this loop exists.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::connect_info::IntoMakeServiceWithConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::AsyncWriteExt;
use tokio::sync::{watch, Semaphore};

/// The limits of one listener.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Connections being served at once (not counting upgraded ones).
    pub max_connections: usize,
    /// Time a client has to send a whole request head, counted from when the connection
    /// starts waiting for one — so also the idle timeout between keep-alive requests.
    pub header_timeout: Duration,
    /// Time a TLS client has to finish the handshake.
    pub tls_handshake_timeout: Duration,
}

impl Limits {
    /// The API port: browsers and CLI clients.
    pub const API: Limits = Limits {
        max_connections: 2048,
        header_timeout: Duration::from_secs(15),
        tls_handshake_timeout: Duration::from_secs(10),
    };
    /// The agent endpoint: connections before their websocket upgrade (joins, image
    /// downloads, console relays being set up).
    pub const AGENT: Limits = Limits {
        max_connections: 4096,
        header_timeout: Duration::from_secs(15),
        tls_handshake_timeout: Duration::from_secs(10),
    };
}

/// Overridable for tests (`CANOPY_HTTP_HEADER_TIMEOUT_MS`, `CANOPY_HTTP_MAX_CONNECTIONS`),
/// so a test can see the limits work without waiting 15 s or opening 2,048 sockets.
pub fn from_env(base: Limits) -> Limits {
    let num = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u64>().ok());
    Limits {
        max_connections: num("CANOPY_HTTP_MAX_CONNECTIONS")
            .map(|v| v.max(1) as usize)
            .unwrap_or(base.max_connections),
        header_timeout: num("CANOPY_HTTP_HEADER_TIMEOUT_MS")
            .map(|v| Duration::from_millis(v.max(50)))
            .unwrap_or(base.header_timeout),
        ..base
    }
}

const BUSY: &str = "{\"errorresponse\":{\"uuidList\":[],\"errorcode\":503,\"errortext\":\"The server has too many open connections; try again later\"}}";

/// Serves `app` on `listener` (through TLS when `tls` is given) until `stop` turns true.
pub async fn serve(
    listener: tokio::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    app: IntoMakeServiceWithConnectInfo<Router, SocketAddr>,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.changed() => break,
        };
        let (mut tcp, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // EMFILE and friends: do not spin.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            tracing::warn!(%peer, limit = limits.max_connections, "connection refused: too many open connections");
            let plain = tls.is_none();
            tokio::spawn(async move {
                if plain {
                    let head = format!(
                        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json; charset=UTF-8\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
                        BUSY.len()
                    );
                    let _ = tokio::time::timeout(Duration::from_secs(2), async {
                        tcp.write_all(head.as_bytes()).await?;
                        tcp.write_all(BUSY.as_bytes()).await?;
                        tcp.shutdown().await
                    })
                    .await;
                }
            });
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let tls = tls.clone();
        let mut make = app.clone();
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let svc = match tower::Service::call(&mut make, peer).await {
                Ok(s) => s,
                Err(e) => match e {},
            };
            let svc = hyper_util::service::TowerToHyperService::new(svc);
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                // Room for a GET carrying 32 KiB of base64 user data (cs sends GET), bounded.
                .max_buf_size(256 * 1024);
            match tls {
                Some(tls) => {
                    let stream =
                        match tokio::time::timeout(limits.tls_handshake_timeout, tls.accept(tcp))
                            .await
                        {
                            Ok(Ok(s)) => s,
                            _ => {
                                tracing::debug!(%peer, "TLS handshake failed or timed out");
                                return;
                            }
                        };
                    let conn = builder
                        .serve_connection(TokioIo::new(stream), svc)
                        .with_upgrades();
                    drive(conn, &mut stop).await;
                }
                None => {
                    let conn = builder
                        .serve_connection(TokioIo::new(tcp), svc)
                        .with_upgrades();
                    drive(conn, &mut stop).await;
                }
            }
        });
    }
}

/// Runs one connection; on stop, lets the request in flight finish, then closes.
async fn drive<C>(conn: C, stop: &mut watch::Receiver<bool>)
where
    C: std::future::Future + GracefulShutdown,
{
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => return,
        _ = stop.changed() => {}
    }
    conn.as_mut().graceful();
    let _ = tokio::time::timeout(Duration::from_secs(10), conn).await;
}

/// hyper's upgradeable connection's graceful shutdown, named so `drive` serves TLS and plain
/// connections alike.
trait GracefulShutdown {
    fn graceful(self: std::pin::Pin<&mut Self>);
}

impl<I, S, B> GracefulShutdown for hyper::server::conn::http1::UpgradeableConnection<I, S>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    S: hyper::service::HttpService<hyper::body::Incoming, ResBody = B>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: hyper::body::Body + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    fn graceful(self: std::pin::Pin<&mut Self>) {
        hyper::server::conn::http1::UpgradeableConnection::graceful_shutdown(self)
    }
}
