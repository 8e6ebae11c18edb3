//! Prometheus metrics (served by the server at `GET /metrics` on the API port (text exposition format, with `# HELP`
//! and `# TYPE` lines), through the `prometheus-client` crate. Counters and histograms are
//! updated where the work happens (API requests, jobs, saga steps, data-plane rounds); gauges
//! that describe state (agents, hosts and VMs by state, database pools, background tasks) are
//! read when scraped. Label values are bounded: a command label is a registered command name
//! or `unknown`, never what a caller sent.
//!
//! Who may scrape is the server's concern (`server::metrics`).

use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CommandCode {
    pub command: String,
    pub code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Command {
    pub command: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobOutcome {
    pub command: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SagaStep {
    pub saga: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobPhase {
    pub phase: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SagaStepName {
    pub saga: String,
    pub step: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Saga {
    pub saga: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabel {
    pub state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HostState {
    pub status: String,
    pub resource_state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Pool {
    pub pool: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Task {
    pub task: String,
}

fn latency() -> Histogram {
    // 1 ms … ~33 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

/// Every metric of the server.
pub struct Metrics {
    pub api_requests: Family<CommandCode, Counter>,
    pub api_latency: Family<Command, Histogram, fn() -> Histogram>,
    pub jobs_finished: Family<JobOutcome, Counter>,
    pub jobs_running: Gauge,
    pub job_queue_wait: Histogram,
    /// A job's run by phase: run (its body), settle (the data plane following it), record.
    pub job_phase_seconds: Family<JobPhase, Histogram, fn() -> Histogram>,
    pub saga_steps: Family<SagaStep, Counter>,
    /// How long each step's work took (its position write not included).
    pub saga_step_seconds: Family<SagaStepName, Histogram, fn() -> Histogram>,
    /// How long writing a saga's position took (one write transaction each step).
    pub saga_save_seconds: Histogram,
    pub saga_unwinds: Family<Saga, Counter>,
    pub dataplane_rounds: Counter,
    pub dataplane_round_failures: Counter,
    pub dataplane_round_seconds: Histogram,
    // Read at scrape time.
    agents_connected: Gauge,
    heartbeat_lag_max: Gauge<f64, std::sync::atomic::AtomicU64>,
    hosts: Family<HostState, Gauge>,
    vms: Family<StateLabel, Gauge>,
    db_connections: Family<Pool, Gauge>,
    db_idle: Family<Pool, Gauge>,
    task_runs: Family<Task, Gauge>,
    task_failures: Family<Task, Gauge>,
    task_running: Family<Task, Gauge>,
    /// What connected agents report in their heartbeats, shown per host.
    pub agents: std::sync::Arc<AgentFigures>,
    registry: Mutex<Registry>,
}

/// The figures agents send (`proto::AgentStats`), by host id, encoded at scrape time as
/// `canopy_agent_*{host="…"}` (the agent itself never listens).
#[derive(Debug, Default)]
pub struct AgentFigures {
    by_host: Mutex<std::collections::BTreeMap<model::HostId, proto::AgentStats>>,
}

impl AgentFigures {
    pub fn set(&self, host: model::HostId, s: proto::AgentStats) {
        if let Ok(mut m) = self.by_host.lock() {
            m.insert(host, s);
        }
    }
    pub fn remove(&self, host: model::HostId) {
        if let Ok(mut m) = self.by_host.lock() {
            m.remove(&host);
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HostLabel {
    host: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HostOp {
    host: String,
    op: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HostOpOutcome {
    host: String,
    op: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HostKind {
    host: String,
    kind: String,
}

/// A histogram whose figures were counted elsewhere (by an agent).
#[derive(Debug)]
struct RelayedHistogram<'a> {
    sum: f64,
    count: u64,
    buckets: &'a [u64],
}

impl prometheus_client::encoding::EncodeMetric for RelayedHistogram<'_> {
    fn encode(
        &self,
        mut encoder: prometheus_client::encoding::MetricEncoder,
    ) -> Result<(), std::fmt::Error> {
        // The agent counts cumulatively per bound; the encoder wants each bucket's own
        // count (it accumulates), with +Inf taking the observations above the last bound.
        let mut b = Vec::with_capacity(self.buckets.len() + 1);
        let mut below = 0u64;
        for (bound, cum) in proto::COMMAND_SECONDS_BUCKETS.iter().zip(self.buckets) {
            let cum = (*cum).clamp(below, self.count);
            b.push((*bound, cum - below));
            below = cum;
        }
        b.push((f64::INFINITY, self.count.saturating_sub(below)));
        encoder.encode_histogram::<prometheus_client::encoding::NoLabelSet>(
            self.sum, self.count, &b, None,
        )
    }
    fn metric_type(&self) -> prometheus_client::metrics::MetricType {
        prometheus_client::metrics::MetricType::Histogram
    }
}

impl prometheus_client::collector::Collector for AgentFigures {
    fn encode(
        &self,
        mut encoder: prometheus_client::encoding::DescriptorEncoder,
    ) -> Result<(), std::fmt::Error> {
        use prometheus_client::encoding::EncodeMetric;
        use prometheus_client::metrics::counter::ConstCounter;
        use prometheus_client::metrics::gauge::ConstGauge;
        use prometheus_client::metrics::MetricType;
        let Ok(m) = self.by_host.lock() else {
            return Ok(());
        };
        if m.is_empty() {
            return Ok(());
        }
        {
            let mut f = encoder.encode_descriptor(
                "agent_vms",
                "VMs running on the host, as its agent reports",
                None,
                MetricType::Gauge,
            )?;
            for (h, s) in m.iter() {
                let l = HostLabel {
                    host: h.to_string(),
                };
                ConstGauge::new(s.vms as i64).encode(f.encode_family(&l)?)?;
            }
        }
        {
            let mut f = encoder.encode_descriptor(
                "agent_commands",
                "Commands the host's agent carried out, by op and outcome",
                None,
                MetricType::Counter,
            )?;
            for (h, s) in m.iter() {
                for c in &s.commands {
                    for (outcome, n) in [("ok", c.ok), ("failed", c.failed)] {
                        let l = HostOpOutcome {
                            host: h.to_string(),
                            op: c.op.clone(),
                            outcome: outcome.to_string(),
                        };
                        ConstCounter::new(n).encode(f.encode_family(&l)?)?;
                    }
                }
            }
        }
        {
            let mut f = encoder.encode_descriptor(
                "agent_command_seconds",
                "How long the host's agent took per command (apply_network: data-plane applies)",
                None,
                MetricType::Histogram,
            )?;
            for (h, s) in m.iter() {
                for c in &s.commands {
                    let l = HostOp {
                        host: h.to_string(),
                        op: c.op.clone(),
                    };
                    RelayedHistogram {
                        sum: c.seconds_sum,
                        count: c.ok + c.failed,
                        buckets: &c.buckets,
                    }
                    .encode(f.encode_family(&l)?)?;
                }
            }
        }
        {
            let mut f = encoder.encode_descriptor(
                "agent_command_errors",
                "Failed agent commands by error kind",
                None,
                MetricType::Counter,
            )?;
            for (h, s) in m.iter() {
                for (kind, n) in &s.errors {
                    let l = HostKind {
                        host: h.to_string(),
                        kind: kind.clone(),
                    };
                    ConstCounter::new(*n).encode(f.encode_family(&l)?)?;
                }
            }
        }
        Ok(())
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let m = Self {
            api_requests: Family::default(),
            api_latency: Family::new_with_constructor(latency),
            jobs_finished: Family::default(),
            jobs_running: Gauge::default(),
            job_queue_wait: latency(),
            job_phase_seconds: Family::new_with_constructor(latency),
            saga_steps: Family::default(),
            saga_step_seconds: Family::new_with_constructor(latency),
            saga_save_seconds: latency(),
            saga_unwinds: Family::default(),
            dataplane_rounds: Counter::default(),
            dataplane_round_failures: Counter::default(),
            dataplane_round_seconds: latency(),
            agents_connected: Gauge::default(),
            heartbeat_lag_max: Gauge::default(),
            hosts: Family::default(),
            vms: Family::default(),
            db_connections: Family::default(),
            db_idle: Family::default(),
            task_runs: Family::default(),
            task_failures: Family::default(),
            task_running: Family::default(),
            agents: Default::default(),
            registry: Mutex::new(Registry::with_prefix("canopy")),
        };
        if let Ok(mut r) = m.registry.lock() {
            r.register_collector(Box::new(m.agents.clone()));
            r.register(
                "api_requests",
                "API requests by command and answer code (200 or the CloudStack error code)",
                m.api_requests.clone(),
            );
            r.register(
                "api_request_duration_seconds",
                "API request latency by command",
                m.api_latency.clone(),
            );
            r.register(
                "jobs_finished",
                "Async jobs finished, by command and outcome (succeeded, failed)",
                m.jobs_finished.clone(),
            );
            r.register(
                "jobs_running",
                "Async jobs running on this server",
                m.jobs_running.clone(),
            );
            r.register(
                "job_queue_wait_seconds",
                "Time from a job's submission to the start of its run",
                m.job_queue_wait.clone(),
            );
            r.register(
                "job_phase_duration_seconds",
                "Duration of a job's phases: run (its body), settle (the data plane that follows it before it answers), record (writing its outcome)",
                m.job_phase_seconds.clone(),
            );
            r.register(
                "saga_steps",
                "Saga steps run, by saga and outcome (done, failed)",
                m.saga_steps.clone(),
            );
            r.register(
                "saga_step_duration_seconds",
                "Duration of saga steps' work, by saga and step",
                m.saga_step_seconds.clone(),
            );
            r.register(
                "saga_position_write_seconds",
                "Duration of the write that records a saga's position after each step",
                m.saga_save_seconds.clone(),
            );
            r.register("saga_unwinds", "Sagas that unwound", m.saga_unwinds.clone());
            r.register(
                "dataplane_rounds",
                "Data-plane rounds (compile and push to hosts)",
                m.dataplane_rounds.clone(),
            );
            r.register(
                "dataplane_round_failures",
                "Data-plane rounds that failed",
                m.dataplane_round_failures.clone(),
            );
            r.register(
                "dataplane_round_duration_seconds",
                "Duration of data-plane rounds",
                m.dataplane_round_seconds.clone(),
            );
            r.register(
                "agents_connected",
                "Host agents connected to this server",
                m.agents_connected.clone(),
            );
            r.register(
                "agent_heartbeat_lag_max_seconds",
                "The longest time since a connected agent's last heartbeat",
                m.heartbeat_lag_max.clone(),
            );
            r.register(
                "hosts",
                "Hosts by status and resource state",
                m.hosts.clone(),
            );
            r.register("vms", "Virtual machines by state", m.vms.clone());
            r.register(
                "db_connections",
                "Database connections open, by pool",
                m.db_connections.clone(),
            );
            r.register(
                "db_connections_idle",
                "Database connections idle, by pool",
                m.db_idle.clone(),
            );
            r.register(
                "background_task_runs",
                "Runs of each background task since start",
                m.task_runs.clone(),
            );
            r.register(
                "background_task_failures",
                "Failed runs of each background task since start",
                m.task_failures.clone(),
            );
            r.register(
                "background_task_running",
                "Whether a background task is running now",
                m.task_running.clone(),
            );
        }
        m
    }
}

impl Metrics {
    /// Counts an API request; `command` must be a registered name (or "unknown").
    pub fn api_request(&self, command: &str, code: u16, seconds: f64) {
        self.api_requests
            .get_or_create(&CommandCode {
                command: command.to_string(),
                code: code.to_string(),
            })
            .inc();
        self.api_latency
            .get_or_create(&Command {
                command: command.to_string(),
            })
            .observe(seconds);
    }

    pub fn saga_step(&self, saga: &str, step: &str, ok: bool, seconds: f64) {
        self.saga_step_seconds
            .get_or_create(&SagaStepName {
                saga: saga.to_string(),
                step: step.to_string(),
            })
            .observe(seconds);
        self.saga_steps
            .get_or_create(&SagaStep {
                saga: saga.to_string(),
                outcome: if ok { "done" } else { "failed" }.to_string(),
            })
            .inc();
    }

    pub fn saga_unwound(&self, saga: &str) {
        self.saga_unwinds
            .get_or_create(&Saga {
                saga: saga.to_string(),
            })
            .inc();
    }

    pub fn job_finished(&self, command: &str, ok: bool) {
        self.jobs_finished
            .get_or_create(&JobOutcome {
                command: command.to_string(),
                outcome: if ok { "succeeded" } else { "failed" }.to_string(),
            })
            .inc();
    }

    /// Reads the state gauges and renders everything.
    pub async fn render(
        &self,
        store: &db::DataStore,
        hub: &crate::hub::AgentHub,
        tasks: &crate::tasks::Tasks,
    ) -> Result<String, String> {
        self.agents_connected.set(hub.connected_count() as i64);
        self.heartbeat_lag_max
            .set(hub.max_heartbeat_lag_ms() as f64 / 1000.0);
        {
            let mut c = store.read().await.map_err(|e| e.to_string())?;
            self.hosts.clear();
            for (status, resource_state, n) in db::host_count_by_status(&mut c)
                .await
                .map_err(|e| e.to_string())?
            {
                self.hosts
                    .get_or_create(&HostState {
                        status,
                        resource_state,
                    })
                    .set(n);
            }
            self.vms.clear();
            for (state, n) in db::vm_count_by_state(&mut c)
                .await
                .map_err(|e| e.to_string())?
            {
                self.vms.get_or_create(&StateLabel { state }).set(n);
            }
        }
        for (pool, size, idle) in store.pool_stats() {
            let p = Pool {
                pool: pool.to_string(),
            };
            self.db_connections.get_or_create(&p).set(size as i64);
            self.db_idle.get_or_create(&p).set(idle as i64);
        }
        for t in tasks.status() {
            let l = Task {
                task: t.name.to_string(),
            };
            self.task_runs.get_or_create(&l).set(t.runs as i64);
            self.task_failures.get_or_create(&l).set(t.failures as i64);
            self.task_running
                .get_or_create(&l)
                .set(i64::from(t.running));
        }
        let mut out = String::new();
        let r = self.registry.lock().map_err(|e| e.to_string())?;
        prometheus_client::encoding::text::encode(&mut out, &r).map_err(|e| e.to_string())?;
        Ok(out)
    }
}
