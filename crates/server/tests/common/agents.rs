//! Simulated agents joined through one server's token (for the several-servers tests).

use crate::common::TestServer;

/// Simulated hosts whose agents joined through one server (its join token), running until
/// `stop`.
pub struct Agents {
    pub sims: Vec<std::sync::Arc<agent::HostAgent>>,
    pub prefix: String,
    /// The server the token named.
    pub server: String,
    pub stop_tx: tokio::sync::watch::Sender<bool>,
    pub tasks: Vec<tokio::task::JoinHandle<Result<(), agent::runtime::AgentError>>>,
}

impl Agents {
    pub async fn join(via: &TestServer, cluster: &str, tag: &str, count: usize) -> Self {
        let t = via
            .admin
            .ok(&[
                ("command", "createHostJoinToken"),
                ("clusterid", cluster),
                ("uses", &count.to_string()),
            ])
            .await["jointoken"]["token"]
            .as_str()
            .expect("token")
            .to_string();
        let tok = proto::JoinToken::decode(&t).expect("token");
        let prefix = format!("{tag}-{}", uuid::Uuid::new_v4().simple());
        let opts = agent::simulator::SimOptions {
            count,
            prefix: prefix.clone(),
            ..Default::default()
        };
        let sims = agent::simulator::hosts(&tok.server, &tok.fingerprint, &tok.secret, &opts, None);
        let (stop_tx, stop) = tokio::sync::watch::channel(false);
        let tasks = sims
            .iter()
            .map(|h| {
                let (h, stop) = (h.clone(), stop.clone());
                tokio::spawn(async move { h.run(stop).await })
            })
            .collect();
        Self {
            sims,
            prefix,
            server: tok.server,
            stop_tx,
            tasks,
        }
    }

    pub async fn stop(self) {
        let _ = self.stop_tx.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}
