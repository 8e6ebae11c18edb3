//! A virtual router's guest data services, as CloudStack's virtual router offers them and
//! cloud-init's CloudStack datasource expects them:
//!
//! - the **data server** on port 80 of the router's guest address: `GET /latest/meta-data/`
//!   lists the keys, `/latest/meta-data/<key>` answers one (`instance-id`, `vm-id`,
//!   `local-hostname`, `local-ipv4`, `public-ipv4`, `public-hostname`, `public-keys`,
//!   `service-offering`, `availability-zone`, `cloud-identifier`, `hypervisor-host-name`),
//!   `/latest/user-data` the user data (decoded). The guest is identified by its source
//!   address on the guest network: it reads its own data, never another guest's (404).
//! - the **password server** on port 8080 (CloudStack's `passwd_server_ip.py`): header
//!   `DomU_Request: send_my_password` answers the guest's pending password (or
//!   `saved_password` when there is none), `DomU_Request: saved_password` acknowledges it —
//!   the password is dropped here and reported to the management server, which stops
//!   sending it — anything else is `400 bad_request`.
//!
//! The listeners are opened inside the router's network namespace (a short-lived thread
//! enters it with `setns`; a socket stays in the namespace it was made in) and served by the
//! agent's own runtime: no extra process per router, and the data is the desired state the
//! agent was last given, kept in memory.

use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

use base64::Engine;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Request, Response, StatusCode};
use netplan::GuestData;
use uuid::Uuid;

/// Port of the data server (meta-data and user-data).
pub const DATA_PORT: u16 = 80;
/// Port of the password server.
pub const PASSWORD_PORT: u16 = 8080;

/// What one router's services answer, by guest address.
#[derive(Default)]
struct Table {
    guests: BTreeMap<Ipv4Addr, GuestData>,
    /// Passwords acknowledged here (`(vm, password)`): not served again even while the
    /// management server still sends them (it learns of the acknowledgement asynchronously).
    delivered: BTreeSet<(Uuid, String)>,
}

impl Table {
    fn password_of(&self, ip: Ipv4Addr) -> Option<&str> {
        let g = self.guests.get(&ip)?;
        let p = g.password.as_deref()?;
        (!self.delivered.contains(&(g.vm_id, p.to_string()))).then_some(p)
    }
}

struct Running {
    addresses: Vec<Ipv4Addr>,
    /// The namespace's identity (its nsfs inode): a namespace made again needs new sockets.
    namespace_id: u64,
    table: Arc<RwLock<Table>>,
    stop: tokio::sync::watch::Sender<bool>,
}

/// The data and password servers of the routers on this host.
pub struct DataServers {
    running: Mutex<BTreeMap<String, Running>>,
    runtime: Option<tokio::runtime::Handle>,
    /// VMs whose password a guest acknowledged, to report to the management server.
    acknowledged: Arc<Mutex<Vec<Uuid>>>,
    /// Where named network namespaces are (`ip netns` bind mounts).
    netns_dir: PathBuf,
}

impl Default for DataServers {
    fn default() -> Self {
        Self {
            running: Mutex::default(),
            runtime: tokio::runtime::Handle::try_current().ok(),
            acknowledged: Arc::default(),
            netns_dir: PathBuf::from("/var/run/netns"),
        }
    }
}

impl DataServers {
    /// Serves `guests` on `addresses` in namespace `ns` (started, restarted on new addresses
    /// or a new namespace, or just given the new data).
    pub fn apply(
        &self,
        ns: &str,
        addresses: &[Ipv4Addr],
        guests: &[GuestData],
    ) -> Result<(), String> {
        let namespace_id = std::fs::metadata(self.netns_dir.join(ns))
            .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
            .map_err(|e| format!("router namespace {ns}: {e}"))?;
        let mut running = self
            .running
            .lock()
            .map_err(|_| "data servers poisoned".to_string())?;
        let fresh = |t: &mut Table| {
            t.guests = guests.iter().map(|g| (g.ip, g.clone())).collect();
            // Forget acknowledgements of passwords the server no longer sends.
            let sent: BTreeSet<(Uuid, String)> = guests
                .iter()
                .filter_map(|g| Some((g.vm_id, g.password.clone()?)))
                .collect();
            t.delivered.retain(|d| sent.contains(d));
        };
        if let Some(r) = running.get(ns) {
            if r.addresses == addresses && r.namespace_id == namespace_id {
                if let Ok(mut t) = r.table.write() {
                    fresh(&mut t);
                }
                return Ok(());
            }
        }
        if let Some(old) = running.remove(ns) {
            let _ = old.stop.send(true);
        }
        let Some(rt) = self.runtime.clone() else {
            return Err("no async runtime to serve the router's data on".into());
        };
        let listeners = bind_in_namespace(&self.netns_dir.join(ns), addresses)?;
        let mut table = Table::default();
        fresh(&mut table);
        let table = Arc::new(RwLock::new(table));
        let (stop, stopped) = tokio::sync::watch::channel(false);
        for (port, l) in listeners {
            let table = table.clone();
            let acked = self.acknowledged.clone();
            let stopped = stopped.clone();
            let ns = ns.to_string();
            rt.spawn(async move {
                let l = match tokio::net::TcpListener::from_std(l) {
                    Ok(l) => l,
                    Err(e) => {
                        tracing::error!(namespace = %ns, port, error = %e, "router data listener");
                        return;
                    }
                };
                serve(l, port, table, acked, stopped).await;
            });
        }
        tracing::info!(
            namespace = ns,
            ?addresses,
            "router data and password servers up"
        );
        running.insert(
            ns.to_string(),
            Running {
                addresses: addresses.to_vec(),
                namespace_id,
                table,
                stop,
            },
        );
        Ok(())
    }

    /// Stops the servers of routers not in `keep`.
    pub fn retain(&self, keep: &BTreeSet<&str>) {
        if let Ok(mut running) = self.running.lock() {
            running.retain(|ns, r| {
                let k = keep.contains(ns.as_str());
                if !k {
                    let _ = r.stop.send(true);
                }
                k
            });
        }
    }

    /// The VMs whose password a guest acknowledged since the last call.
    pub fn take_acknowledged(&self) -> Vec<Uuid> {
        self.acknowledged
            .lock()
            .map(|mut a| std::mem::take(&mut *a))
            .unwrap_or_default()
    }
}

/// Opens the data and password listeners on each of `addresses` inside the namespace at
/// `ns_path`.
fn bind_in_namespace(
    ns_path: &std::path::Path,
    addresses: &[Ipv4Addr],
) -> Result<Vec<(u16, std::net::TcpListener)>, String> {
    let addresses = addresses.to_vec();
    let ns =
        std::fs::File::open(ns_path).map_err(|e| format!("opening {}: {e}", ns_path.display()))?;
    // setns changes only the calling thread: a thread of its own enters the namespace, makes
    // the sockets and ends.
    std::thread::spawn(
        move || -> Result<Vec<(u16, std::net::TcpListener)>, String> {
            rustix::thread::move_into_link_name_space(
                std::os::fd::AsFd::as_fd(&ns),
                Some(rustix::thread::LinkNameSpaceType::Network),
            )
            .map_err(|e| format!("entering the router namespace: {e}"))?;
            let mut out = Vec::new();
            for address in &addresses {
                for port in [DATA_PORT, PASSWORD_PORT] {
                    let l = std::net::TcpListener::bind(SocketAddr::from((*address, port)))
                        .map_err(|e| {
                            format!("binding {address}:{port} in the router namespace: {e}")
                        })?;
                    l.set_nonblocking(true)
                        .map_err(|e| format!("listener of {address}:{port}: {e}"))?;
                    out.push((port, l));
                }
            }
            Ok(out)
        },
    )
    .join()
    .map_err(|_| "the namespace thread panicked".to_string())?
}

async fn serve(
    l: tokio::net::TcpListener,
    port: u16,
    table: Arc<RwLock<Table>>,
    acked: Arc<Mutex<Vec<Uuid>>>,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let (stream, peer) = tokio::select! {
            r = l.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(port, error = %e, "router data accept");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = stopped.changed() => return,
        };
        let std::net::IpAddr::V4(client) = peer.ip() else {
            continue;
        };
        let table = table.clone();
        let acked = acked.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                let resp = if port == PASSWORD_PORT {
                    password(&table, &acked, client, &req)
                } else {
                    data(&table, client, &req)
                };
                async move { Ok::<_, Infallible>(resp) }
            });
            let io = hyper_util::rt::TokioIo::new(stream);
            let conn = hyper::server::conn::http1::Builder::new()
                .keep_alive(false)
                .serve_connection(io, svc);
            // A guest that holds its connection open cannot hold it forever.
            let _ = tokio::time::timeout(std::time::Duration::from_secs(30), conn).await;
        });
    }
}

fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain"),
    );
    r
}

fn not_found() -> Response<Full<Bytes>> {
    text(StatusCode::NOT_FOUND, "Not Found")
}

/// The data server: the guest's own meta-data and user data.
fn data<B>(table: &RwLock<Table>, client: Ipv4Addr, req: &Request<B>) -> Response<Full<Bytes>> {
    if req.method() != hyper::Method::GET && req.method() != hyper::Method::HEAD {
        return text(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed");
    }
    let Ok(t) = table.read() else {
        return text(StatusCode::SERVICE_UNAVAILABLE, "Unavailable");
    };
    let Some(g) = t.guests.get(&client) else {
        return not_found();
    };
    answer(g, req.uri().path())
}

/// What the data server answers a guest for `path`.
pub fn answer(g: &GuestData, path: &str) -> Response<Full<Bytes>> {
    let p = path.trim_end_matches('/');
    match p {
        "" | "/latest" => text(StatusCode::OK, "meta-data\nuser-data"),
        "/latest/meta-data" => {
            let keys: Vec<&str> = g.metadata.keys().map(String::as_str).collect();
            text(StatusCode::OK, keys.join("\n"))
        }
        "/latest/user-data" => match &g.user_data {
            Some(b64) => match base64::engine::general_purpose::STANDARD.decode(b64.trim()) {
                Ok(bytes) => {
                    let mut r = text(StatusCode::OK, bytes);
                    r.headers_mut().insert(
                        hyper::header::CONTENT_TYPE,
                        hyper::header::HeaderValue::from_static("application/octet-stream"),
                    );
                    r
                }
                Err(_) => not_found(),
            },
            None => not_found(),
        },
        _ => match p.strip_prefix("/latest/meta-data/") {
            Some(k) => match g.metadata.get(k) {
                Some(v) => text(StatusCode::OK, v.clone()),
                None => not_found(),
            },
            None => not_found(),
        },
    }
}

/// The password server.
fn password<B>(
    table: &RwLock<Table>,
    acked: &Mutex<Vec<Uuid>>,
    client: Ipv4Addr,
    req: &Request<B>,
) -> Response<Full<Bytes>> {
    let kind = req
        .headers()
        .get("DomU_Request")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    match kind {
        "send_my_password" => {
            let Ok(t) = table.read() else {
                return text(StatusCode::SERVICE_UNAVAILABLE, "Unavailable");
            };
            match t.password_of(client) {
                Some(p) => {
                    tracing::info!(%client, "password sent to the guest");
                    text(StatusCode::OK, p.to_string())
                }
                None => text(StatusCode::OK, "saved_password"),
            }
        }
        "saved_password" => {
            if let Ok(mut t) = table.write() {
                let sent = t
                    .guests
                    .get(&client)
                    .and_then(|g| Some((g.vm_id, g.password.clone()?)));
                if let Some((vm, p)) = sent {
                    if t.delivered.insert((vm, p)) {
                        tracing::info!(%client, %vm, "the guest acknowledged its password");
                        if let Ok(mut a) = acked.lock() {
                            a.push(vm);
                        }
                    }
                }
            }
            text(StatusCode::OK, "saved_password")
        }
        _ => text(StatusCode::BAD_REQUEST, "bad_request"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guest(ip: [u8; 4], pw: Option<&str>) -> GuestData {
        GuestData {
            vm_id: Uuid::new_v4(),
            ip: Ipv4Addr::from(ip),
            metadata: [
                ("instance-id".to_string(), "abc".to_string()),
                ("local-hostname".to_string(), "web1".to_string()),
            ]
            .into(),
            user_data: Some(
                base64::engine::general_purpose::STANDARD.encode("#!/bin/sh\necho hi\n"),
            ),
            password: pw.map(str::to_string),
        }
    }

    fn body(r: Response<Full<Bytes>>) -> (StatusCode, String) {
        use http_body_util::BodyExt;
        let status = r.status();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let b = rt
            .block_on(r.into_body().collect())
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        (status, String::from_utf8_lossy(&b).to_string())
    }

    fn get(path: &str, header: Option<&str>) -> Request<()> {
        let mut b = Request::builder().uri(path);
        if let Some(h) = header {
            b = b.header("DomU_Request", h);
        }
        b.body(()).expect("request")
    }

    #[test]
    fn a_guest_reads_its_own_data_and_nobody_elses() {
        let t = RwLock::new(Table::default());
        let a = guest([10, 1, 0, 5], None);
        t.write().expect("w").guests.insert(a.ip, a.clone());
        let me = Ipv4Addr::new(10, 1, 0, 5);
        let other = Ipv4Addr::new(10, 1, 0, 6);
        assert_eq!(
            body(data(&t, me, &get("/latest/meta-data/local-hostname", None))),
            (StatusCode::OK, "web1".into())
        );
        assert_eq!(
            body(data(&t, me, &get("/latest/meta-data/", None))),
            (StatusCode::OK, "instance-id\nlocal-hostname".into())
        );
        assert_eq!(
            body(data(&t, me, &get("/latest/user-data", None))),
            (StatusCode::OK, "#!/bin/sh\necho hi\n".into())
        );
        assert_eq!(
            body(data(
                &t,
                other,
                &get("/latest/meta-data/local-hostname", None)
            ))
            .0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            body(data(&t, me, &get("/latest/meta-data/nope", None))).0,
            StatusCode::NOT_FOUND
        );
    }

    #[test]
    fn the_password_is_served_until_acknowledged_then_never_again() {
        let t = RwLock::new(Table::default());
        let acked = Mutex::new(Vec::new());
        let a = guest([10, 1, 0, 5], Some("s3cret"));
        let vm = a.vm_id;
        t.write().expect("w").guests.insert(a.ip, a);
        let me = Ipv4Addr::new(10, 1, 0, 5);
        let ask = || {
            body(password(
                &t,
                &acked,
                me,
                &get("/", Some("send_my_password")),
            ))
        };
        assert_eq!(ask(), (StatusCode::OK, "s3cret".into()));
        assert_eq!(
            body(password(&t, &acked, me, &get("/", Some("saved_password")))),
            (StatusCode::OK, "saved_password".into())
        );
        assert_eq!(ask(), (StatusCode::OK, "saved_password".into()));
        assert_eq!(*acked.lock().expect("acked"), vec![vm]);
        assert_eq!(
            body(password(&t, &acked, me, &get("/", None))),
            (StatusCode::BAD_REQUEST, "bad_request".into())
        );
        // Another guest has no password.
        assert_eq!(
            body(password(
                &t,
                &acked,
                Ipv4Addr::new(10, 1, 0, 9),
                &get("/", Some("send_my_password"))
            )),
            (StatusCode::OK, "saved_password".into())
        );
    }
}
