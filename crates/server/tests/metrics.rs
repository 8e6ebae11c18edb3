//! `GET /metrics` (Prometheus exposition) after some API calls and a deploy: API requests by
//! command and code, jobs, saga steps, data-plane rounds, agents, hosts and VMs by state,
//! database pools and background tasks, each with HELP and TYPE lines; a caller's invented
//! command name never becomes a label; only allowed addresses may scrape; every API answer
//! carries its request id; the agents' own figures (commands by op and outcome, their latency)
//! arrive in heartbeats and are shown per host.

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn metrics_describe_what_the_server_did() {
    let ts = TestServer::start().await;
    let c = ts.admin.clone();
    // Heartbeats every second, so the agent's figures arrive quickly.
    c.ok(&[
        ("command", "updateConfiguration"),
        ("name", "ping.interval"),
        ("value", "1"),
    ])
    .await;
    let z = VmZone::new(&ts, 1).await;
    deploy_vm(&c, &z, "metered", &[]).await;
    c.err(&[("command", "noSuchCommandXyz")], 401).await;
    let r = c.call(&[("command", "listZones")]).await;
    let rid = r
        .headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("x-request-id");
    assert!(uuid::Uuid::parse_str(rid).is_ok(), "{rid}");

    let url = ts.base.replace("/client/api", "/metrics");
    let body = reqwest::get(&url)
        .await
        .expect("scrape")
        .text()
        .await
        .expect("text");
    for want in [
        "# HELP canopy_api_requests ",
        "# TYPE canopy_api_requests counter",
        "canopy_api_requests_total{command=\"deployVirtualMachine\",code=\"200\"} 1",
        "canopy_api_requests_total{command=\"unknown\",code=\"401\"} 1",
        "canopy_api_request_duration_seconds_bucket{",
        "canopy_jobs_finished_total{command=\"deployVirtualMachine\",outcome=\"succeeded\"} 1",
        "canopy_job_queue_wait_seconds_count ",
        "canopy_saga_steps_total{saga=\"start\",outcome=\"done\"}",
        "canopy_dataplane_rounds_total ",
        "canopy_agents_connected ",
        "canopy_agent_heartbeat_lag_max_seconds ",
        "canopy_hosts{status=\"Up\",resource_state=\"Enabled\"} 1",
        "canopy_vms{state=\"Running\"} 1",
        "canopy_db_connections{pool=\"read\"}",
        "canopy_background_task_runs{task=\"job-lease-renewal\"}",
        "canopy_background_task_failures{task=\"host-monitor\"} 0",
    ] {
        assert!(body.contains(want), "missing {want:?} in:\n{body}");
    }
    assert!(
        !body.contains("noSuchCommandXyz"),
        "a caller's text became a label"
    );

    // The agent's own figures (it never listens): relayed in its heartbeats, shown per host.
    let mut body = body;
    for _ in 0..100 {
        if body.contains("op=\"start_vm\",outcome=\"ok\"} 1") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        body = reqwest::get(&url)
            .await
            .expect("scrape")
            .text()
            .await
            .expect("text");
    }
    for want in [
        "# TYPE canopy_agent_commands counter",
        ",op=\"start_vm\",outcome=\"ok\"} 1",
        "# TYPE canopy_agent_command_seconds histogram",
        "canopy_agent_command_seconds_bucket{le=\"+Inf\",host=",
        "canopy_agent_command_seconds_count{host=",
        "canopy_agent_vms{host=",
    ] {
        assert!(body.contains(want), "missing {want:?} in:\n{body}");
    }

    // Only allowed addresses may scrape.
    c.ok(&[
        ("command", "updateConfiguration"),
        ("name", "metrics.allowed.cidrs"),
        ("value", "192.0.2.0/24"),
    ])
    .await;
    let r = reqwest::get(&url).await.expect("scrape");
    assert_eq!(r.status().as_u16(), 403);
    ts.stop().await;
}
