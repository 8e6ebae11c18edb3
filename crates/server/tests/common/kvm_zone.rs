//! A zone of its own (pod, KVM cluster, image store) with one real agent joined over TLS that
//! runs no VMs, and the agent's image-store client: for tests of what a host fetches from and
//! sends to the image store.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::{s, TestServer};

pub struct KvmZone {
    pub zone: String,
    pub host: uuid::Uuid,
    /// The zone's image store directory.
    pub store: std::path::PathBuf,
    /// The host's client of the image store, with its host credential.
    pub source: agent::images::ImageSource,
    pub servers: agent::ServerList,
    pub fingerprint: String,
    pub secret: String,
    stop_tx: tokio::sync::watch::Sender<bool>,
    run: tokio::task::JoinHandle<()>,
}

impl KvmZone {
    /// `name` names the zone and its image store directory; `address` is the host's (a
    /// documentation address: nothing connects to it).
    pub async fn new(ts: &TestServer, name: &str, address: &str) -> Self {
        let c = ts.admin.clone();
        let zone = s(&c
            .ok(&[
                ("command", "createZone"),
                ("name", name),
                ("networktype", "Advanced"),
                ("dns1", "8.8.8.8"),
                ("internaldns1", "10.0.0.1"),
            ])
            .await["zone"]["id"]);
        let pod = s(&c
            .ok(&[
                ("command", "createPod"),
                ("name", "p"),
                ("zoneid", &zone),
                ("gateway", "172.16.15.1"),
                ("netmask", "255.255.255.0"),
                ("startip", "172.16.15.2"),
            ])
            .await["pod"]["id"]);
        let cluster = s(&c
            .ok(&[
                ("command", "addCluster"),
                ("clustername", "kvms"),
                ("clustertype", "CloudManaged"),
                ("hypervisor", "KVM"),
                ("podid", &pod),
                ("zoneid", &zone),
            ])
            .await["cluster"][0]["id"]);
        let store = ts.dir.path().join(format!("secondary-{name}"));
        std::fs::create_dir_all(&store).expect("store");
        c.ok(&[
            ("command", "addImageStore"),
            ("provider", "NFS"),
            ("name", &format!("sec-{name}")),
            ("url", &format!("file://{}", store.display())),
            ("zoneid", &zone),
        ])
        .await;
        let r = c
            .ok(&[
                ("command", "addHost"),
                ("zoneid", &zone),
                ("podid", &pod),
                ("clusterid", &cluster),
                ("hypervisor", "KVM"),
                ("url", &format!("http://{address}")),
            ])
            .await;
        let host: uuid::Uuid = s(&r["host"][0]["id"]).parse().expect("host");
        let token = s(&r["host"][0]["jointoken"]);
        let t = proto::JoinToken::decode(&token).expect("token");
        let saved: Arc<Mutex<Option<(uuid::Uuid, String)>>> = Arc::new(Mutex::new(None));
        let keep = saved.clone();
        let mut inv = agent::inventory::local(address);
        inv.hostname = format!("kvm-{name}");
        let a = Arc::new(agent::HostAgent {
            server: t.server.clone().into(),
            fingerprint: t.fingerprint.clone(),
            credential: Mutex::new(agent::Credential::Token { secret: t.secret }),
            inventory: inv,
            driver: Arc::new(agent::driver::LocalDriver),
            offline: None,
            local: None,
            on_credential: Some(Arc::new(move |id, secret: &str| {
                if let Ok(mut s) = keep.lock() {
                    *s = Some((id, secret.to_string()));
                }
            })),
        });
        let (stop_tx, stop) = tokio::sync::watch::channel(false);
        let run = tokio::spawn({
            let a = a.clone();
            async move {
                let _ = a.run(stop).await;
            }
        });
        let mut cred = None;
        for _ in 0..100 {
            cred = saved.lock().ok().and_then(|g| g.clone());
            if cred.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let (hid, secret) = cred.expect("the agent joined");
        assert_eq!(hid, host);
        let servers: agent::ServerList = t.server.clone().into();
        let source = agent::images::ImageSource::new(
            &servers,
            &t.fingerprint,
            &agent::Credential::Host {
                host_id: hid,
                secret: secret.clone(),
            },
        );
        Self {
            zone,
            host,
            store,
            source,
            servers,
            fingerprint: t.fingerprint,
            secret,
            stop_tx,
            run,
        }
    }

    /// Stops the agent (bounded wait).
    pub async fn stop(self) {
        let _ = self.stop_tx.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(10), self.run).await;
    }
}
