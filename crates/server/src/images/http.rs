//! The downloader's HTTP GET: direct (the guarded resolver refuses a restricted download's
//! internal destinations), or — when `secstorage.proxy` names one, as CloudStack's secondary
//! storage VM reads it — through an HTTP proxy: `http://` URLs are sent to the proxy in
//! absolute form, `https://` ones through a CONNECT tunnel (hyper-util's `Tunnel`), with
//! `Proxy-Authorization: Basic` when the setting carries `user:password@`. A locked-down site
//! whose hosts may only reach its proxy downloads images this way. Through a proxy the
//! destination is still checked: its name is resolved here and an internal address refused
//! for a restricted download (the proxy resolves it again; the check stops the obvious abuse —
//! asking the proxy for the cloud's own addresses).

use std::sync::Arc;

use axum::body::Bytes;
use http_body_util::Empty;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, HOST, PROXY_AUTHORIZATION};
use hyper::{Request, Response, Uri};
use hyper_util::rt::{TokioExecutor, TokioIo};

use super::chain;
use crate::sources::{GuardedResolver, Policy};

/// A proxy from the setting's text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Proxy {
    pub host: String,
    pub port: u16,
    /// `Basic …` when the setting carries credentials.
    pub auth: Option<String>,
}

impl Proxy {
    /// `http://[user[:password]@]host[:port]` (port 3128 when absent, as squid listens); empty
    /// text is no proxy.
    pub(crate) fn parse(text: &str) -> Result<Option<Proxy>, String> {
        let t = text.trim();
        if t.is_empty() {
            return Ok(None);
        }
        let bad = || {
            format!(
                "the setting secstorage.proxy is not http://[user:password@]host[:port]: {}",
                t.chars().take(200).collect::<String>()
            )
        };
        let rest = t
            .strip_prefix("http://")
            .or_else(|| t.strip_prefix("HTTP://"))
            .ok_or_else(bad)?;
        let rest = rest.trim_end_matches('/');
        let (userinfo, hostport) = match rest.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, rest),
        };
        if hostport.is_empty() || hostport.contains('/') {
            return Err(bad());
        }
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => {
                (h.to_string(), p.parse::<u16>().map_err(|_| bad())?)
            }
            _ => (hostport.to_string(), 3128),
        };
        if host.is_empty() {
            return Err(bad());
        }
        let auth = userinfo.map(|u| {
            use base64::Engine;
            let decoded = percent_encoding::percent_decode_str(u).decode_utf8_lossy();
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(decoded.as_bytes())
            )
        });
        Ok(Some(Proxy { host, port, auth }))
    }

    fn uri(&self) -> Result<Uri, String> {
        format!("http://{}:{}", self.host, self.port)
            .parse()
            .map_err(|e| format!("the proxy's address: {e}"))
    }
}

fn tls() -> Result<rustls::ClientConfig, String> {
    // https: Mozilla's root set (webpki-roots), ring as the crypto provider.
    Ok(rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    })
    .with_no_client_auth())
}

/// GETs `url` (http or https), directly or through `proxy`; the response (any status).
pub(crate) async fn get(
    url: &str,
    policy: Policy,
    proxy: Option<Proxy>,
) -> Result<Response<Incoming>, String> {
    let uri: Uri = url.parse().map_err(|e| format!("invalid URL {url}: {e}"))?;
    let host = uri
        .host()
        .map(|h| h.trim_start_matches('[').trim_end_matches(']').to_string())
        .ok_or_else(|| format!("invalid URL {url}: no host"))?;
    let https = uri
        .scheme_str()
        .is_some_and(|s| s.eq_ignore_ascii_case("https"));
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    // The connector skips the resolver for address literals, and a proxy resolves by itself:
    // check the destination here.
    let literal = host.parse::<std::net::IpAddr>().ok();
    if literal.is_some_and(|ip| !policy.allows(ip)) {
        return Err(format!(
            "fetching {url}: the address is internal to the cloud"
        ));
    }
    if let (Some(_), None) = (&proxy, literal) {
        // A name this server cannot resolve is the proxy's to resolve (a site whose only way
        // out is its proxy often has no outside DNS either).
        if let Ok(addrs) = crate::sources::resolve(&host, port).await {
            if addrs.iter().any(|a| !policy.allows(a.ip())) {
                return Err(format!(
                    "fetching {url}: the address is internal to the cloud"
                ));
            }
        }
    }
    let timeout = Some(std::time::Duration::from_secs(30));
    match proxy {
        None => {
            let mut http = hyper_util::client::legacy::connect::HttpConnector::new_with_resolver(
                GuardedResolver(policy),
            );
            http.enforce_http(false);
            http.set_connect_timeout(timeout);
            let connector = hyper_rustls::HttpsConnectorBuilder::new()
                .with_tls_config(tls()?)
                .https_or_http()
                .enable_http1()
                .wrap_connector(http);
            let client = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
                .build::<_, Empty<Bytes>>(connector);
            client
                .get(uri)
                .await
                .map_err(|e| format!("fetching {url}: {}", chain(&e)))
        }
        Some(p) if https => {
            let mut http = hyper_util::client::legacy::connect::HttpConnector::new();
            http.enforce_http(false);
            http.set_connect_timeout(timeout);
            let mut tunnel =
                hyper_util::client::legacy::connect::proxy::Tunnel::new(p.uri()?, http);
            if let Some(a) = &p.auth {
                let v = HeaderValue::from_str(a).map_err(|e| e.to_string())?;
                tunnel = tunnel.with_auth(v);
            }
            let connector = hyper_rustls::HttpsConnectorBuilder::new()
                .with_tls_config(tls()?)
                .https_only()
                .enable_http1()
                .wrap_connector(tunnel);
            let client = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
                .build::<_, Empty<Bytes>>(connector);
            client
                .get(uri)
                .await
                .map_err(|e| format!("fetching {url} through the proxy {}: {}", p.host, chain(&e)))
        }
        Some(p) => {
            // Plain HTTP: the request in absolute form to the proxy.
            let tcp = tokio::time::timeout(
                std::time::Duration::from_secs(30),
                tokio::net::TcpStream::connect((p.host.as_str(), p.port)),
            )
            .await
            .map_err(|_| format!("connecting to the proxy {}:{}: timed out", p.host, p.port))?
            .map_err(|e| format!("connecting to the proxy {}:{}: {e}", p.host, p.port))?;
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
                .await
                .map_err(|e| format!("the proxy {}: {}", p.host, chain(&e)))?;
            tokio::spawn(async move {
                if let Err(e) = conn.await {
                    tracing::debug!(error = %e, "proxy connection ended");
                }
            });
            let authority = uri
                .authority()
                .map(|a| a.as_str().to_string())
                .unwrap_or_else(|| host.clone());
            let mut req = Request::get(uri.clone())
                .header(HOST, authority)
                .body(Empty::<Bytes>::new())
                .map_err(|e| e.to_string())?;
            if let Some(a) = &p.auth {
                req.headers_mut().insert(
                    PROXY_AUTHORIZATION,
                    HeaderValue::from_str(a).map_err(|e| e.to_string())?,
                );
            }
            sender
                .send_request(req)
                .await
                .map_err(|e| format!("fetching {url} through the proxy {}: {}", p.host, chain(&e)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Proxy;

    #[test]
    fn proxy_settings_parse() {
        assert_eq!(Proxy::parse("").expect("empty"), None);
        let p = Proxy::parse("http://proxy.example:8080")
            .expect("ok")
            .expect("some");
        assert_eq!(
            (p.host.as_str(), p.port, p.auth),
            ("proxy.example", 8080, None)
        );
        let p = Proxy::parse("http://u:p%40ss@10.0.0.1:3128/")
            .expect("ok")
            .expect("some");
        assert_eq!((p.host.as_str(), p.port), ("10.0.0.1", 3128));
        // "u:p@ss" in base64.
        assert_eq!(p.auth.as_deref(), Some("Basic dTpwQHNz"));
        assert_eq!(
            Proxy::parse("http://squid")
                .expect("ok")
                .expect("some")
                .port,
            3128
        );
        for bad in [
            "socks5://x:1",
            "http://",
            "http://x:port",
            "http://x/y",
            "ftp://x",
        ] {
            assert!(Proxy::parse(bad).is_err(), "{bad}");
        }
    }
}
