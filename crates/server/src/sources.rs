//! Where templates and ISOs may be fetched from — the rules that keep a registration from
//! reading the management server's own files or reaching into its networks.
//!
//! - `file://` is for root admins only, and only for regular files below the staging
//!   directories (`image.staging.dirs`, relative paths below the data directory); the path is
//!   resolved (symlinks followed) before the check, and again when the download starts. Every
//!   refusal has the same text, so a refusal says nothing about the file system.
//! - `http(s)://` from anyone but a root admin may not reach internal addresses: loopback,
//!   link-local, unspecified, multicast, and the networks of the server's own interfaces —
//!   unless `secstorage.allowed.internal.download.sites` lists them (CloudStack's setting).
//!   The check is made at registration and again by the downloader's resolver at connect
//!   time, so a name that resolves elsewhere later (DNS rebinding) is refused as well.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use api::ApiError;
use ipnet::IpNet;

use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// The one answer to every refused `file://` URL.
pub const FILE_REFUSED: &str = "file:// URLs are accepted only from root admins, for files in the management server's staging directories (global setting image.staging.dirs)";

/// A checked source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A file in a staging directory, resolved.
    File(PathBuf),
    /// An http(s) URL; `restricted` when internal addresses are off limits for its owner.
    Http { url: String, restricted: bool },
}

fn refused_file() -> AppError {
    ApiError::param(FILE_REFUSED).into()
}

/// The staging directories, resolved (those that do not exist are skipped).
pub fn staging_dirs(st: &AppState) -> Vec<PathBuf> {
    st.settings
        .text("image.staging.dirs")
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| {
            let p = Path::new(d);
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                st.data_dir.join(p)
            }
        })
        .filter_map(|p| std::fs::canonicalize(p).ok())
        .collect()
}

/// Resolves a `file://` URL to a regular file inside one of `dirs`, or refuses it.
pub fn staged_file(url: &str, dirs: &[PathBuf]) -> AppResult<PathBuf> {
    let path = url::Url::parse(url)
        .ok()
        .filter(|u| u.scheme() == "file" && u.host_str().is_none_or(|h| h.is_empty()))
        .and_then(|u| u.to_file_path().ok())
        .ok_or_else(refused_file)?;
    let real = std::fs::canonicalize(&path).map_err(|_| refused_file())?;
    let inside = dirs.iter().any(|d| real.starts_with(d) && real != *d);
    let regular = std::fs::metadata(&real)
        .map(|m| m.is_file())
        .unwrap_or(false);
    if inside && regular {
        Ok(real)
    } else {
        Err(refused_file())
    }
}

/// Checks a URL given by a caller (`root_admin` says who). `what` names the parameter.
pub async fn check(st: &AppState, root_admin: bool, url: &str, what: &str) -> AppResult<Source> {
    let lower = url.trim().to_ascii_lowercase();
    if lower.starts_with("file:") {
        if !root_admin {
            return Err(refused_file());
        }
        let dirs = staging_dirs(st);
        return staged_file(url.trim(), &dirs).map(Source::File);
    }
    let parsed = url::Url::parse(url.trim())
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
        .ok_or_else(|| {
            ApiError::param(format!(
                "Invalid {what}: use an http:// or https:// URL (or, for root admins, file:// in a staging directory)"
            ))
        })?;
    let restricted = !root_admin;
    if restricted {
        let host = parsed.host_str().unwrap_or_default().to_string();
        let port = parsed.port_or_known_default().unwrap_or(80);
        let addrs = resolve(&host, port).await.map_err(|_| {
            ApiError::param(format!(
                "Invalid {what}: the host {host} cannot be resolved"
            ))
        })?;
        let policy = Policy::of(st);
        if addrs.is_empty() || addrs.iter().any(|a| !policy.allows(a.ip())) {
            return Err(ApiError::param(format!(
                "Invalid {what}: {host} is an internal address of the cloud; downloads from internal addresses need the global setting secstorage.allowed.internal.download.sites"
            ))
            .into());
        }
    }
    Ok(Source::Http {
        url: url.trim().to_string(),
        restricted,
    })
}

pub(crate) async fn resolve(host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
    // `url` keeps IPv6 literals bracketed.
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    Ok(tokio::net::lookup_host((bare, port)).await?.collect())
}

/// Which addresses a restricted download may connect to.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    /// Anything goes (a root admin's download).
    open: bool,
    /// The server's own interface networks.
    own: Vec<IpNet>,
    /// `secstorage.allowed.internal.download.sites`.
    allowed: Vec<IpNet>,
}

impl Policy {
    /// No restriction.
    pub fn open() -> Self {
        Self {
            open: true,
            ..Self::default()
        }
    }

    pub fn of(st: &AppState) -> Self {
        Self::new(
            own_networks(),
            &st.settings
                .text("secstorage.allowed.internal.download.sites"),
        )
    }

    pub fn new(own: Vec<IpNet>, allowed: &str) -> Self {
        let allowed = allowed
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .filter_map(|s| {
                s.parse::<IpNet>()
                    .ok()
                    .or_else(|| s.parse::<IpAddr>().ok().map(IpNet::from))
            })
            .collect();
        Self {
            open: false,
            own,
            allowed,
        }
    }

    /// Whether a restricted download may connect to `ip`.
    pub fn allows(&self, ip: IpAddr) -> bool {
        if self.open {
            return true;
        }
        let ip = match ip {
            IpAddr::V6(v6) => v6
                .to_ipv4_mapped()
                .map(IpAddr::V4)
                .unwrap_or(IpAddr::V6(v6)),
            v4 => v4,
        };
        if self.allowed.iter().any(|n| n.contains(&ip)) {
            return true;
        }
        let internal = ip.is_loopback()
            || ip.is_unspecified()
            || ip.is_multicast()
            || match ip {
                IpAddr::V4(v4) => v4.is_link_local() || v4.is_broadcast(),
                IpAddr::V6(v6) => v6.is_unicast_link_local(),
            }
            || self.own.iter().any(|n| n.contains(&ip));
        !internal
    }
}

/// The downloader's resolver: names resolve as usual, but a restricted download refuses a
/// name with an address the policy does not allow (checked at connect time, so the answer
/// given at registration cannot be swapped afterwards).
#[derive(Clone)]
pub struct GuardedResolver(pub Policy);

impl tower::Service<hyper_util::client::legacy::connect::dns::Name> for GuardedResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = std::io::Error;
    type Future = futures_util::future::BoxFuture<'static, std::io::Result<Self::Response>>;

    fn poll_ready(
        &mut self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: hyper_util::client::legacy::connect::dns::Name) -> Self::Future {
        let policy = self.0.clone();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            if addrs.iter().any(|a| !policy.allows(a.ip())) {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::PermissionDenied,
                    "the name resolves to an internal address of the cloud",
                ));
            }
            Ok(addrs.into_iter())
        })
    }
}

/// The networks of this machine's interfaces (the management network among them).
pub fn own_networks() -> Vec<IpNet> {
    if_addrs::get_if_addrs()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|i| {
            let (ip, mask) = match &i.addr {
                if_addrs::IfAddr::V4(a) => (IpAddr::V4(a.ip), IpAddr::V4(a.netmask)),
                if_addrs::IfAddr::V6(a) => (IpAddr::V6(a.ip), IpAddr::V6(a.netmask)),
            };
            IpNet::with_netmask(ip, mask).ok().map(|n| n.trunc())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_refused_unless_allowed() {
        let own: Vec<IpNet> = vec!["10.20.0.0/16".parse().expect("net")];
        let p = Policy::new(own.clone(), "");
        for ip in [
            "127.0.0.1",
            "127.8.9.10",
            "::1",
            "169.254.169.254",
            "fe80::1",
            "0.0.0.0",
            "::",
            "224.0.0.1",
            "255.255.255.255",
            "10.20.3.4",
            "::ffff:127.0.0.1",
            "::ffff:10.20.0.1",
        ] {
            assert!(!p.allows(ip.parse().expect("ip")), "{ip} allowed");
        }
        for ip in ["8.8.8.8", "192.0.2.7", "10.21.0.1", "2001:db8::1"] {
            assert!(p.allows(ip.parse().expect("ip")), "{ip} refused");
        }
        let open = Policy::new(own, "127.0.0.0/8, 10.20.3.4");
        assert!(open.allows("127.0.0.1".parse().expect("ip")));
        assert!(open.allows("10.20.3.4".parse().expect("ip")));
        assert!(!open.allows("10.20.3.5".parse().expect("ip")));
    }

    #[test]
    fn file_urls_resolve_inside_staging_only() {
        let root = tempfile::tempdir().expect("tmp");
        let staging = root.path().join("staging");
        std::fs::create_dir(&staging).expect("mkdir");
        std::fs::write(staging.join("ok.qcow2"), b"x").expect("write");
        std::fs::write(root.path().join("secret.key"), b"k").expect("write");
        std::fs::create_dir(staging.join("sub")).expect("mkdir");
        std::os::unix::fs::symlink(root.path().join("secret.key"), staging.join("link"))
            .expect("symlink");
        let dirs = vec![std::fs::canonicalize(&staging).expect("canon")];
        let url = |p: &Path| format!("file://{}", p.display());
        assert!(staged_file(&url(&staging.join("ok.qcow2")), &dirs).is_ok());
        for bad in [
            url(&root.path().join("secret.key")),
            url(&staging.join("link")),
            url(&staging.join("sub")),
            url(&staging),
            url(&staging.join("missing")),
            format!("{}/../secret.key", url(&staging)),
            "file:///etc/passwd".to_string(),
            "file://host/etc/passwd".to_string(),
            "file:".to_string(),
        ] {
            let e = staged_file(&bad, &dirs).expect_err(&bad).into_api();
            assert_eq!(e.text, FILE_REFUSED, "{bad}");
        }
    }
}
