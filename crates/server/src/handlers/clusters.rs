//! Clusters: groups of hosts of one hypervisor (KVM or Simulator) in a pod.

use api::{list_body, success_body, Args};
use db::{DbError, Infra, InfraFilter, InfraRow};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use uuid::Uuid;

use crate::context::OpContext;
use crate::error::{param_err, AppResult};
use crate::events::Event;
use crate::handlers::zones::{allocation_state, attr_str, conflict, get, names};
use crate::state::State;

fn hypervisor(v: &str) -> AppResult<&'static str> {
    if v.eq_ignore_ascii_case("kvm") {
        Ok("KVM")
    } else if v.eq_ignore_ascii_case("simulator") {
        Ok("Simulator")
    } else {
        param_err(format!(
            "Unsupported hypervisor type {v}: Canopy runs KVM (QEMU) and Simulator clusters"
        ))
    }
}

fn cluster_view(
    c: &InfraRow,
    zones: &HashMap<Uuid, String>,
    pods: &HashMap<Uuid, String>,
) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(c.id));
    m.insert("name".into(), json!(c.name));
    if let Some(p) = c.parent_id {
        m.insert("podid".into(), json!(p));
        if let Some(n) = pods.get(&p) {
            m.insert("podname".into(), json!(n));
        }
    }
    m.insert("zoneid".into(), json!(c.zone_id));
    if let Some(n) = zones.get(&c.zone_id) {
        m.insert("zonename".into(), json!(n));
    }
    m.insert("hypervisortype".into(), json!(c.kind));
    for k in [
        "clustertype",
        "managedstate",
        "cpuovercommitratio",
        "memoryovercommitratio",
        "arch",
    ] {
        if let Some(v) = attr_str(c, k) {
            m.insert(k.into(), json!(v));
        }
    }
    m.insert("allocationstate".into(), json!(c.state));
    Value::Object(m)
}

async fn cluster_views(st: &State, rows: &[InfraRow]) -> AppResult<Vec<Value>> {
    let zn = names(st, Infra::Zone, rows.iter().map(|r| r.zone_id)).await?;
    let pn = names(st, Infra::Pod, rows.iter().filter_map(|r| r.parent_id)).await?;
    Ok(rows.iter().map(|c| cluster_view(c, &zn, &pn)).collect())
}

pub async fn add_cluster(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let zone = get(st, Infra::Zone, "zoneid", args.required_id("zoneid")?).await?;
    let pod = get(st, Infra::Pod, "podid", args.required_id("podid")?).await?;
    if pod.zone_id != zone.id {
        return param_err(format!("Pod {} doesn't belong to zone {}", pod.id, zone.id));
    }
    let name = args.required_str("clustername")?.trim().to_string();
    if name.is_empty() {
        return param_err("Cluster name can't be empty");
    }
    let hv = hypervisor(args.required_str("hypervisor")?)?;
    let ct = args.required_str("clustertype")?;
    let clustertype = if ct.eq_ignore_ascii_case("cloudmanaged") {
        "CloudManaged"
    } else if ct.eq_ignore_ascii_case("externalmanaged") {
        "ExternalManaged"
    } else {
        return param_err(format!(
            "Invalid cluster type {ct}: use CloudManaged or ExternalManaged"
        ));
    };
    let arch = match args.text("arch") {
        None => "x86_64",
        Some(a) if a.eq_ignore_ascii_case("x86_64") => "x86_64",
        Some(a) if a.eq_ignore_ascii_case("aarch64") => "aarch64",
        Some(a) => return param_err(format!("Invalid arch {a}: use x86_64 or aarch64")),
    };
    let attrs = json!({
        "clustertype": clustertype,
        "managedstate": "Managed",
        "arch": arch,
        "cpuovercommitratio": st.settings.float("cpu.overprovisioning.factor").to_string(),
        "memoryovercommitratio": st.settings.float("mem.overprovisioning.factor").to_string(),
    });
    let row = InfraRow {
        id: Uuid::new_v4(),
        zone_id: zone.id,
        parent_id: Some(pod.id),
        name: name.clone(),
        kind: hv.into(),
        state: allocation_state(args, "Disabled")?,
        domain_id: None,
        attrs,
        created: 0,
    };
    let mut tx = st.store.begin().await?;
    match db::infra_insert(&mut tx, Infra::Cluster, &row).await {
        Err(DbError::Conflict(_)) => return conflict("cluster in this zone", &name),
        r => r?,
    }
    Event::new(
        ctx,
        "CLUSTER.CREATE",
        format!("Cluster {name} added to pod {}", pod.name),
    )
    .resource(row.id, "Cluster", Some(&name))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    let v = cluster_views(st, std::slice::from_ref(&row)).await?;
    Ok(list_body("cluster", 1, v))
}

pub async fn list_clusters(st: &State, _ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let f = InfraFilter {
        ids: args.uuid("id").map(|i| vec![i]),
        zone_id: args.uuid("zoneid"),
        parent_id: args.uuid("podid"),
        name: args.text("name").map(str::to_string),
        kind: args.text("hypervisor").map(str::to_string),
        state: args.text("allocationstate").map(str::to_string),
        keyword: args.text("keyword").map(str::to_string),
        offset: args.page.offset,
        limit: args.page.limit,
        ..Default::default()
    };
    let (mut rows, mut total) = {
        let mut c = st.store.read().await?;
        db::infra_list(&mut c, Infra::Cluster, &f).await?
    };
    for (k, param) in [
        ("clustertype", "clustertype"),
        ("managedstate", "managedstate"),
    ] {
        if let Some(v) = args.text(param) {
            rows.retain(|r| {
                attr_str(r, k)
                    .map(|x| x.eq_ignore_ascii_case(v))
                    .unwrap_or(false)
            });
            total = rows.len() as u64;
        }
    }
    Ok(list_body("cluster", total, cluster_views(st, &rows).await?))
}

pub async fn update_cluster(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let mut c = get(st, Infra::Cluster, "id", args.required_id("id")?).await?;
    if let Some(n) = args.text("clustername") {
        c.name = n.trim().to_string();
    }
    if let Some(h) = args.text("hypervisor") {
        if hypervisor(h)? != c.kind {
            return param_err("The hypervisor type of a cluster can't change");
        }
    }
    if let Some(ct) = args.text("clustertype") {
        if attr_str(&c, "clustertype")
            .map(|x| !x.eq_ignore_ascii_case(ct))
            .unwrap_or(true)
        {
            return param_err("The type of a cluster can't change");
        }
    }
    if let Some(ms) = args.text("managedstate") {
        let v = if ms.eq_ignore_ascii_case("managed") {
            "Managed"
        } else if ms.eq_ignore_ascii_case("unmanaged") {
            "Unmanaged"
        } else {
            return param_err(format!(
                "Invalid managed state {ms}: use Managed or Unmanaged"
            ));
        };
        c.attrs["managedstate"] = json!(v);
    }
    c.state = allocation_state(args, &c.state)?;
    let mut tx = st.store.begin().await?;
    match db::infra_update(&mut tx, Infra::Cluster, &c).await {
        Err(DbError::Conflict(_)) => return conflict("cluster in this zone", &c.name),
        r => r?,
    }
    Event::new(ctx, "CLUSTER.UPDATE", format!("Cluster {} updated", c.name))
        .resource(c.id, "Cluster", Some(&c.name))
        .record(&mut tx)
        .await?;
    tx.commit().await?;
    let v = cluster_views(st, std::slice::from_ref(&c)).await?;
    Ok(json!({ "cluster": v.into_iter().next() }))
}

pub async fn delete_cluster(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let c = get(st, Infra::Cluster, "id", args.required_id("id")?).await?;
    let hosts = {
        let mut conn = st.store.read().await?;
        db::host_count_in_cluster(&mut conn, c.id).await?
    };
    if hosts > 0 {
        return Err(api::ApiError::internal(format!(
            "The cluster is not deletable because there are {hosts} host(s) in it"
        ))
        .into());
    }
    let mut tx = st.store.begin().await?;
    db::infra_mark_removed(&mut tx, Infra::Cluster, c.id).await?;
    Event::new(ctx, "CLUSTER.DELETE", format!("Cluster {} deleted", c.name))
        .resource(c.id, "Cluster", Some(&c.name))
        .record(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(success_body())
}
