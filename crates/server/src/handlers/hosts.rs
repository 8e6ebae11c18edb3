//! Hosts: registered by `addHost` (or admitted by a cluster join token), joined by their
//! agent over the agent endpoint, and watched by the hub's monitor. Simulator URLs
//! (`http://sim/...`, as CloudStack's simulator) make the server run the simulated host
//! itself, through the same protocol.

use std::collections::HashMap;
use std::time::Duration;

use api::{list_body, success_body, ApiError, Args};
use db::{DbError, HostFilter, HostRow, Infra, InfraFilter, TokenRow};
use proto::{Command, JoinToken};
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::agent_tls::sha256_hex;
use crate::context::OpContext;
use crate::error::{param_err, AppResult};
use crate::events::Event;
use crate::handlers::zones::{attr_str, get, names};
use crate::hub::new_secret;
use crate::jobs::{JobPlan, JobRef};
use crate::state::State;

const MINUTE_MS: i64 = 60_000;

/// What `addHost`'s URL says: a KVM host's address, or a simulated host with its shape.
enum HostUrl {
    Kvm {
        address: String,
    },
    Sim {
        address: String,
        opts: agent::simulator::SimOptions,
    },
}

fn parse_url(url: &str) -> AppResult<HostUrl> {
    let rest = url
        .trim()
        .trim_start_matches("http://")
        .trim_start_matches("https://")
        .trim_end_matches('/');
    if rest.is_empty() {
        return param_err(format!(
            "Invalid host url {url}: use http://ADDRESS or http://sim/..."
        ));
    }
    if rest == "sim" || rest.starts_with("sim/") {
        let mut opts = agent::simulator::SimOptions::default();
        // CloudStack's simulator reads overrides from the last path segment: cpuspeed=,
        // cpucore=, memory= (bytes), localstorage= (bytes), joined by '&'.
        let last = rest.rsplit('/').next().unwrap_or_default();
        for kv in last.split('&') {
            if let Some((k, v)) = kv.split_once('=') {
                let n: u64 = v.parse().map_err(|_| {
                    ApiError::param(format!("Invalid simulator option {kv} in {url}"))
                })?;
                match k {
                    "cpuspeed" => opts.cpu_mhz = n,
                    "cpucore" => opts.cpus = n as u32,
                    "memory" => opts.memory_bytes = n,
                    "localstorage" => opts.storage_bytes = n,
                    _ => return param_err(format!("Unknown simulator option {k} in {url}")),
                }
            }
        }
        return Ok(HostUrl::Sim {
            address: rest.to_string(),
            opts,
        });
    }
    let host = rest.split('/').next().unwrap_or(rest);
    Ok(HostUrl::Kvm {
        address: host.to_string(),
    })
}

fn inv_str(h: &HostRow, k: &str) -> Option<String> {
    h.inventory
        .get(k)
        .and_then(|v| v.as_str())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn inv_num(h: &HostRow, k: &str) -> Option<u64> {
    h.inventory.get(k).and_then(|v| v.as_u64())
}

pub(crate) async fn views(st: &State, hosts: &[HostRow]) -> AppResult<Vec<Value>> {
    let zones = names(st, Infra::Zone, hosts.iter().map(|h| h.zone_id)).await?;
    let pods = names(st, Infra::Pod, hosts.iter().map(|h| h.pod_id)).await?;
    let clusters: HashMap<Uuid, db::InfraRow> = {
        let mut ids: Vec<Uuid> = hosts.iter().map(|h| h.cluster_id).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut c = st.store.read().await?;
        let f = InfraFilter {
            ids: Some(ids),
            ..Default::default()
        };
        db::infra_list(&mut c, Infra::Cluster, &f)
            .await?
            .0
            .into_iter()
            .map(|r| (r.id, r))
            .collect()
    };
    let usage = super::capacity::host_usage(st, hosts).await?;
    let caps = {
        let mut c = st.store.read().await?;
        db::hvcaps_list(&mut c, None, None).await?
    };
    Ok(hosts
        .iter()
        .map(|h| {
            let mut m = Map::new();
            m.insert("id".into(), json!(h.id));
            m.insert("name".into(), json!(h.name));
            m.insert("state".into(), json!(h.status));
            m.insert("resourcestate".into(), json!(h.resource_state));
            m.insert("type".into(), json!("Routing"));
            m.insert("ipaddress".into(), json!(h.address));
            m.insert("zoneid".into(), json!(h.zone_id));
            if let Some(n) = zones.get(&h.zone_id) {
                m.insert("zonename".into(), json!(n));
            }
            m.insert("podid".into(), json!(h.pod_id));
            if let Some(n) = pods.get(&h.pod_id) {
                m.insert("podname".into(), json!(n));
            }
            m.insert("clusterid".into(), json!(h.cluster_id));
            if let Some(c) = clusters.get(&h.cluster_id) {
                m.insert("clustername".into(), json!(c.name));
                if let Some(t) = attr_str(c, "clustertype") {
                    m.insert("clustertype".into(), json!(t));
                }
                // Behind a return proxy (Canopy): whether this host is it, and the tunnel.
                if let Some(d) = crate::returnproxy::Designation::of(c) {
                    let is_proxy = d.host_id == Some(h.id.0) || h.address == d.address.to_string();
                    m.insert("returnproxy".into(), json!(is_proxy));
                    m.insert("returnproxyaddress".into(), json!(d.reach().to_string()));
                    let t = st.tunnels.view(c.id).unwrap_or_default();
                    let state = if t.state.is_empty() { "Connecting".to_string() } else { t.state };
                    m.insert("returnproxystate".into(), json!(state));
                }
            }
            m.insert("hypervisor".into(), json!(h.hypervisor));
            if let Some(v) = inv_str(h, "hypervisor_version") {
                m.insert("hypervisorversion".into(), json!(v));
            }
            if let Some(a) = inv_str(h, "accelerator") {
                m.insert("accelerator".into(), json!(a));
                m.insert("details".into(), json!({ "accelerator": a }));
            }
            for (k, f) in [("cpunumber", "cpus"), ("cpuspeed", "cpu_speed_mhz"), ("memorytotal", "memory_bytes"), ("localstoragetotal", "local_storage_bytes")] {
                if let Some(v) = inv_num(h, f) {
                    m.insert(k.into(), json!(v));
                }
            }
            // Allocated: what the active VMs placed here hold, against the capacity
            // placement allows (the inventory × the cluster's over-commit ratios).
            let u = usage.get(&h.id).copied().unwrap_or_default();
            let (cpu_total, mem_total) =
                super::capacity::host_capacity(h, clusters.get(&h.cluster_id));
            let (cpu_total, mem_total) = (cpu_total as f64, mem_total as f64);
            let mem_used = u.memory_mib.max(0) as u64 * 1024 * 1024;
            let pct = |used: f64, total: f64| {
                if total > 0.0 {
                    format!("{:.2}%", used * 100.0 / total)
                } else {
                    "0%".to_string()
                }
            };
            m.insert("cpuallocated".into(), json!(pct(u.cpu_mhz as f64, cpu_total)));
            m.insert("cpuallocatedpercentage".into(), json!(pct(u.cpu_mhz as f64, cpu_total)));
            m.insert("cpuallocatedvalue".into(), json!(u.cpu_mhz));
            m.insert("memoryallocated".into(), json!(mem_used));
            m.insert("memoryallocatedbytes".into(), json!(mem_used));
            m.insert("memoryallocatedpercentage".into(), json!(pct(mem_used as f64, mem_total)));
            let cluster_slots = clusters
                .get(&h.cluster_id)
                .and_then(|c| c.attrs.get("vmslots"))
                .and_then(|v| v.as_i64());
            m.insert("vmslots".into(), json!(domain::placing::vm_slots(h, cluster_slots, &caps)));
            m.insert("vmslotsused".into(), json!(u.vms.max(0)));
            m.insert("hosttags".into(), json!(h.host_tags.join(",")));
            if let Some(caps) = h.inventory.get("capabilities").and_then(|c| c.as_array()) {
                m.insert("capabilities".into(), json!(caps.iter().filter_map(|c| c.as_str()).collect::<Vec<_>>().join(",")));
            }
            if let Some(v) = inv_str(h, "agent_version") {
                m.insert("version".into(), json!(v));
            }
            // A host connected here: its last heartbeat (its row's is written only now and then).
            if let Some(t) = st.hub.last_heartbeat(h.id).or(h.last_pinged) {
                m.insert("lastpinged".into(), json!(api::time::format_ms(t)));
            }
            if let Some(t) = h.disconnected {
                m.insert("disconnected".into(), json!(api::time::format_ms(t)));
            }
            m.insert("created".into(), json!(api::time::format_ms(h.created)));
            if let Some(s) = h.server_id {
                m.insert("managementserverid".into(), json!(s));
            }
            m.insert("islocalstorageactive".into(), json!(inv_num(h, "local_storage_bytes").unwrap_or(0) > 0));
            m.insert("events".into(), json!("AgentConnected; AgentDisconnected; HostDown; Ping; PingTimeout; Remove; ShutdownRequested"));
            Value::Object(m)
        })
        .collect())
}

pub(crate) use domain::inventory::host;

/// Mints a join token and stores its hash; returns the printable token and its expiry.
pub(crate) async fn mint_token(
    st: &State,
    cluster: Uuid,
    address: Option<String>,
    uses: i64,
    validity_min: i64,
) -> AppResult<(String, i64)> {
    let secret = new_secret();
    let expires = api::time::now_ms() + validity_min * MINUTE_MS;
    let row = TokenRow {
        id: Uuid::new_v4(),
        cluster_id: cluster,
        address,
        uses_left: uses,
        expires,
    };
    let mut tx = st.store.begin().await?;
    db::token_insert(&mut tx, &row, &sha256_hex(secret.as_bytes())).await?;
    tx.commit().await?;
    // A cluster reached through a return proxy: its hosts join through this server's tunnel.
    let server = match crate::returnproxy::of_cluster(st, cluster).await? {
        Some(d) => format!(
            "{}:{}",
            d.reach(),
            crate::returnproxy::port_of(st, crate::returnproxy::place(st).0)
        ),
        None => st.agent_endpoint.clone(),
    };
    let token = JoinToken {
        server,
        fingerprint: st.agent_fingerprint.clone(),
        secret,
    };
    Ok((token.encode(), expires))
}

/// Starts in-process simulated hosts (their credentials live in memory, renewed at start).
pub(crate) fn spawn_simulated(
    st: &State,
    token_secret: &str,
    address: &str,
    opts: &agent::simulator::SimOptions,
    credential: Option<(Uuid, String)>,
) {
    let hosts = agent::simulator::hosts(
        &st.agent_endpoint,
        &st.agent_fingerprint,
        token_secret,
        opts,
        Some(vec![address.to_string()]),
    );
    // They reach this server through in-memory pipes (no file handle each); another server
    // named in their list (after SetServers) is dialled over TCP as a real agent does.
    let weak = std::sync::Arc::downgrade(st);
    let local = agent::LocalLink {
        endpoint: st.agent_endpoint.clone(),
        connect: std::sync::Arc::new(move || {
            weak.upgrade().and_then(|st| crate::hub::connect_local(&st))
        }),
    };
    let hosts: Vec<_> = hosts
        .into_iter()
        .map(|h| match std::sync::Arc::try_unwrap(h) {
            Ok(mut a) => {
                a.local = Some(local.clone());
                std::sync::Arc::new(a)
            }
            Err(h) => h,
        })
        .collect();
    for h in &hosts {
        if let Some((id, secret)) = &credential {
            if let Ok(mut c) = h.credential.lock() {
                *c = agent::Credential::Host {
                    host_id: *id,
                    secret: secret.clone(),
                };
            }
        }
    }
    agent::simulator::spawn(hosts, st.stopping.clone());
}

/// Waits (bounded) until a host's agent has joined.
async fn wait_connected(st: &State, id: model::HostId, within: Duration) -> bool {
    let end = tokio::time::Instant::now() + within;
    while tokio::time::Instant::now() < end {
        if st.hub.is_connected(id) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

pub async fn add_host(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let zone = get(st, Infra::Zone, "zoneid", args.required_id("zoneid")?).await?;
    let pod = get(st, Infra::Pod, "podid", args.required_id("podid")?).await?;
    if pod.zone_id != zone.id {
        return param_err(format!("Pod {} doesn't belong to zone {}", pod.id, zone.id));
    }
    let cluster = if let Some(id) = args.uuid("clusterid") {
        get(st, Infra::Cluster, "clusterid", id).await?
    } else if let Some(name) = args.text("clustername") {
        let mut c = st.store.read().await?;
        let f = InfraFilter {
            parent_id: Some(pod.id),
            name: Some(name.to_string()),
            ..Default::default()
        };
        db::infra_list(&mut c, Infra::Cluster, &f)
            .await?
            .0
            .into_iter()
            .next()
            .ok_or_else(|| {
                ApiError::param(format!("No cluster named {name} in pod {}", pod.name))
            })?
    } else {
        return param_err("Either clusterid or clustername must be specified");
    };
    if cluster.parent_id != Some(pod.id) {
        return param_err(format!(
            "Cluster {} doesn't belong to pod {}",
            cluster.id, pod.id
        ));
    }
    let hv = args.required_str("hypervisor")?;
    if !hv.eq_ignore_ascii_case(&cluster.kind) {
        return param_err(format!(
            "Cluster {} is a {} cluster; the host says {hv}",
            cluster.name, cluster.kind
        ));
    }
    let url = parse_url(args.required_str("url")?)?;
    let (address, sim) = match url {
        HostUrl::Kvm { address } => {
            if cluster.kind != "KVM" {
                return param_err(format!(
                    "A KVM host URL was given for the {} cluster {}",
                    cluster.kind, cluster.name
                ));
            }
            (address, None)
        }
        HostUrl::Sim { address, opts } => {
            if cluster.kind != "Simulator" {
                return param_err(format!(
                    "A simulator URL was given for the {} cluster {}",
                    cluster.kind, cluster.name
                ));
            }
            (address, Some(opts))
        }
    };
    let resource_state = match args.text("allocationstate") {
        None => model::ResourceState::Enabled,
        Some(a) if a.eq_ignore_ascii_case("enable") || a.eq_ignore_ascii_case("enabled") => {
            model::ResourceState::Enabled
        }
        Some(a) if a.eq_ignore_ascii_case("disable") || a.eq_ignore_ascii_case("disabled") => {
            model::ResourceState::Disabled
        }
        Some(a) => {
            return param_err(format!(
                "Invalid allocation state {a}: use Enable or Disable"
            ))
        }
    };
    let row = HostRow {
        id: model::HostId(Uuid::new_v4()),
        zone_id: zone.id,
        pod_id: pod.id,
        cluster_id: cluster.id,
        name: address.clone(),
        address: address.clone(),
        hypervisor: cluster.kind.clone(),
        status: model::HostStatus::Connecting,
        resource_state,
        host_tags: args
            .list("hosttags")
            .map(|l| l.to_vec())
            .unwrap_or_default(),
        inventory: json!({}),
        secret_hash: None,
        server_id: None,
        last_pinged: None,
        disconnected: None,
        simulated: sim.is_some(),
        created: 0,
        vm_slots: None,
    };
    let mut tx = st.store.begin().await?;
    match db::host_insert(&mut tx, &row).await {
        Err(DbError::Conflict(_)) => {
            return param_err(format!("A host with address {address} already exists"))
        }
        r => r?,
    }
    Event::new(
        ctx,
        "HOST.CREATE",
        format!("Host {address} added to cluster {}", cluster.name),
    )
    .resource(row.id, "Host", Some(&address))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    let (token, _) = mint_token(st, cluster.id, Some(address.clone()), 1, 60).await?;
    if let Some(opts) = sim {
        let secret = JoinToken::decode(&token)
            .map(|t| t.secret)
            .unwrap_or_default();
        spawn_simulated(st, &secret, &address, &opts, None);
        if !wait_connected(st, row.id, Duration::from_secs(15)).await {
            tracing::warn!(host = %row.id, "the simulated host did not join within 15 s");
        }
    }
    let fresh = host(st, "id", row.id).await?;
    let mut v = views(st, std::slice::from_ref(&fresh)).await?;
    if !fresh.simulated {
        if let Some(Value::Object(m)) = v.first_mut() {
            m.insert("jointoken".into(), json!(token));
        }
    }
    Ok(list_body("host", 1, v))
}

pub async fn list_hosts(st: &State, _ctx: &OpContext, args: &Args) -> AppResult<Value> {
    if let Some(t) = args.text("type") {
        if !t.eq_ignore_ascii_case("routing") {
            return Ok(json!({}));
        }
    }
    // A state no host can be in matches nothing (CloudStack compares the text in SQL).
    let status = args.text("state").map(model::HostStatus::parse_loose);
    let resource_state = args
        .text("resourcestate")
        .map(model::ResourceState::parse_loose);
    let f = HostFilter {
        none: status == Some(None) || resource_state == Some(None),
        id: args.uuid("id").map(model::HostId),
        zone_id: args.uuid("zoneid"),
        pod_id: args.uuid("podid"),
        cluster_id: args.uuid("clusterid"),
        name: args.text("name").map(str::to_string),
        status: status.flatten(),
        resource_state: resource_state.flatten(),
        hypervisor: args.text("hypervisor").map(str::to_string),
        keyword: args.text("keyword").map(str::to_string),
        offset: args.page.offset,
        limit: args.page.limit,
        ..Default::default()
    };
    let (rows, total) = {
        let mut c = st.store.read().await?;
        db::host_list(&mut c, &f).await?
    };
    Ok(list_body("host", total, views(st, &rows).await?))
}

pub async fn update_host(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let mut h = host(st, "id", args.required_id("id")?).await?;
    if let Some(tags) = args.list("hosttags") {
        h.host_tags = tags.to_vec();
    } else if args.given_empty("hosttags") {
        h.host_tags.clear();
    }
    if let Some(n) = args.text("name") {
        h.name = n.trim().to_string();
    }
    if let Some(a) = args.text("allocationstate") {
        let target = if a.eq_ignore_ascii_case("enable") || a.eq_ignore_ascii_case("enabled") {
            model::ResourceState::Enabled
        } else if a.eq_ignore_ascii_case("disable") || a.eq_ignore_ascii_case("disabled") {
            model::ResourceState::Disabled
        } else {
            return param_err(format!(
                "Invalid allocation state {a}: use Enable or Disable"
            ));
        };
        if h.resource_state != model::ResourceState::Enabled
            && h.resource_state != model::ResourceState::Disabled
        {
            return param_err(format!("Host {} is in resource state {}; it can be enabled or disabled only from Enabled or Disabled", h.name, h.resource_state));
        }
        h.resource_state = target;
    }
    // VM slots (Canopy): this host's own count, or (empty) its cluster's again.
    if let Some(n) = args.int("vmslots") {
        if !(0..=100_000).contains(&n) {
            return param_err(format!("Invalid vmslots {n}: 0 to 100000"));
        }
        h.vm_slots = Some(n);
    } else if args.given_empty("vmslots") {
        h.vm_slots = None;
    }
    // Designating the host as its cluster's return proxy (Canopy), or undesignating it.
    if let Some(want) = args.bool("returnproxy") {
        let mut c = {
            let mut conn = st.store.read().await?;
            db::infra_get(&mut conn, db::Infra::Cluster, h.cluster_id).await?
        }
        .ok_or_else(|| api::ApiError::invalid_id("id", &h.id.to_string()))?;
        let current = crate::returnproxy::Designation::of(&c);
        let is_it = current
            .as_ref()
            .is_some_and(|d| d.address.to_string() == h.address);
        if want && !is_it {
            super::clusters::designate_address(st, &mut c, &h.address, args).await?;
        } else if !want && is_it {
            super::clusters::designate_address(st, &mut c, "", args).await?;
        }
        let mut tx = st.store.begin().await?;
        db::infra_update(&mut tx, db::Infra::Cluster, &c).await?;
        tx.commit().await?;
    }
    let mut tx = st.store.begin().await?;
    db::host_update(&mut tx, &h).await?;
    Event::new(ctx, "HOST.UPDATE", format!("Host {} updated", h.name))
        .resource(h.id, "Host", Some(&h.name))
        .record(&mut tx)
        .await?;
    tx.commit().await?;
    // Tags, state and slots are placement's input: the next deploy plans on them.
    st.snapshots.invalidate(h.zone_id);
    let fresh = host(st, "id", h.id).await?;
    Ok(json!({ "host": views(st, std::slice::from_ref(&fresh)).await?.pop() }))
}

pub async fn delete_host(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let h = host(st, "id", args.required_id("id")?).await?;
    let gone = matches!(
        h.status,
        model::HostStatus::Disconnected | model::HostStatus::Down | model::HostStatus::Alert
    ) || (h.status == model::HostStatus::Connecting && h.last_pinged.is_none());
    if !(h.resource_state == model::ResourceState::Maintenance || gone || args.flag("forced")) {
        return param_err(format!(
            "Host {} is {} and in resource state {}: put it into maintenance first, or use forced=true",
            h.name, h.status, h.resource_state
        ));
    }
    if !args.flag("forced") {
        let mut c = st.store.read().await?;
        let active = db::host_usage(&mut c, h.id).await?.vms;
        if active > 0 {
            return param_err(format!(
                "Unable to delete the host as there are vms in Running/Migrating/Starting/Stopping state using this host ({active} on {})",
                h.name
            ));
        }
    }
    st.hub.notify(h.id, Command::Forget).await;
    let mut tx = st.store.begin().await?;
    db::host_mark_removed(&mut tx, h.id).await?;
    Event::new(ctx, "HOST.DELETE", format!("Host {} deleted", h.name))
        .resource(h.id, "Host", Some(&h.name))
        .record(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(success_body())
}

pub async fn reconnect_prepare(st: &State, _ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let h = host(st, "id", args.required_id("id")?).await?;
    if !st.hub.is_connected(h.id) {
        return param_err(format!(
            "The agent of host {} is not connected; it reconnects by itself once reachable",
            h.name
        ));
    }
    Ok(JobPlan {
        instance_type: Some("Host"),
        instance_id: Some(h.id.to_string()),
        returns_id: false,
        description: format!("Reconnecting host {}", h.name),
    })
}

pub async fn reconnect_run(
    st: &State,
    _ctx: &OpContext,
    args: &Args,
    _job: &JobRef,
) -> AppResult<Value> {
    let id: Uuid = args.required_id("id")?;
    if st.hub.is_connected(model::HostId(id)) {
        st.hub
            .command(
                model::HostId(id),
                Command::Reconnect,
                Duration::from_secs(10),
            )
            .await?;
        // The old connection drops, then the agent dials again.
        let end = tokio::time::Instant::now() + Duration::from_secs(2);
        while st.hub.is_connected(model::HostId(id)) && tokio::time::Instant::now() < end {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    if !wait_connected(st, model::HostId(id), Duration::from_secs(30)).await {
        return Err(ApiError::new(
            api::ErrorCode::ResourceUnavailable,
            format!("Host {id} did not reconnect within 30 s"),
        )
        .into());
    }
    let fresh = host(st, "id", model::HostId(id)).await?;
    Ok(json!({ "host": views(st, std::slice::from_ref(&fresh)).await?.pop() }))
}

pub async fn create_join_token(st: &State, _ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let cluster = get(
        st,
        Infra::Cluster,
        "clusterid",
        args.required_id("clusterid")?,
    )
    .await?;
    let address = args.text("hostaddress").map(str::to_string);
    if let Some(a) = &address {
        let mut c = st.store.read().await?;
        match db::host_get_by_address(&mut c, a).await? {
            Some(h) if h.cluster_id == cluster.id => {}
            _ => {
                return param_err(format!(
                    "No host with address {a} was added to cluster {}",
                    cluster.name
                ))
            }
        }
    }
    let uses = args.int("uses").unwrap_or(1);
    if !(1..=1_000_000).contains(&uses) || (address.is_some() && uses != 1) {
        return param_err(
            "uses must be between 1 and 1000000 (and 1 for a token bound to a host address)",
        );
    }
    let validity = args.int("validityminutes").unwrap_or(60);
    if !(1..=7 * 24 * 60).contains(&validity) {
        return param_err("validityminutes must be between 1 and 10080 (7 days)");
    }
    let (token, expires) = mint_token(st, cluster.id, address.clone(), uses, validity).await?;
    let mut v = json!({ "token": token, "clusterid": cluster.id, "uses": uses, "expires": api::time::format_ms(expires) });
    if let Some(a) = address {
        v["hostaddress"] = json!(a);
    }
    Ok(json!({ "jointoken": v }))
}

/// At start: the in-process simulated hosts (added with a simulator URL) come back, each with
/// a fresh credential (the old one lived in the previous process's memory).
/// Runs the server-run simulated hosts that no live server runs (each on exactly one server:
/// a conditional claim decides). At start (`unowned`) also those nobody has run yet; later
/// (when a server went away) only those a gone server ran.
pub async fn resume_simulated(st: &State, unowned: bool) -> AppResult<usize> {
    let now = api::time::now_ms();
    let threshold = st.settings.int("cluster.heartbeat.threshold");
    let (hosts, live) = {
        let mut c = st.store.read().await?;
        let mut live: Vec<model::ServerId> = db::server_list(&mut c)
            .await?
            .into_iter()
            .filter(|s| s.state != "Down" && now - s.heartbeat <= threshold)
            .map(|s| s.id)
            .collect();
        if !live.contains(&st.server_id) {
            live.push(st.server_id);
        }
        let hosts = db::host_list(
            &mut c,
            &HostFilter {
                hypervisor: Some("Simulator".into()),
                ..Default::default()
            },
        )
        .await?
        .0;
        (hosts, live)
    };
    let mut n = 0;
    for h in hosts
        .into_iter()
        .filter(|h| h.simulated && h.address.starts_with("sim/"))
    {
        let secret = new_secret();
        let mut tx = st.store.begin().await?;
        if !db::host_claim(&mut tx, h.id, st.server_id, &live, unowned).await? {
            continue;
        }
        db::host_connected(
            &mut tx,
            h.id,
            &h.inventory,
            st.server_id.0,
            Some(&sha256_hex(secret.as_bytes())),
        )
        .await?;
        db::host_set_status(&mut tx, h.id, model::HostStatus::Connecting, None).await?;
        tx.commit().await?;
        let opts = agent::simulator::SimOptions {
            cpus: inv_num(&h, "cpus").unwrap_or(4) as u32,
            cpu_mhz: inv_num(&h, "cpu_speed_mhz").unwrap_or(8000),
            memory_bytes: inv_num(&h, "memory_bytes").unwrap_or(8 << 30),
            storage_bytes: inv_num(&h, "local_storage_bytes").unwrap_or(1 << 40),
            ..Default::default()
        };
        spawn_simulated(st, "", &h.address, &opts, Some((h.id.into(), secret)));
        n += 1;
    }
    Ok(n)
}
