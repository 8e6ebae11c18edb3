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
    if let Some(n) = c.attrs.get("vmslots").and_then(|v| v.as_i64()) {
        m.insert("vmslots".into(), json!(n));
    }
    m.insert("allocationstate".into(), json!(c.state));
    Value::Object(m)
}

async fn cluster_views(st: &State, rows: &[InfraRow]) -> AppResult<Vec<Value>> {
    let zn = names(st, Infra::Zone, rows.iter().map(|r| r.zone_id)).await?;
    let pn = names(st, Infra::Pod, rows.iter().filter_map(|r| r.parent_id)).await?;
    // Clusters behind a return proxy show it, the tunnel's state and the servers' public key
    // (for the proxy's authorized_keys).
    let key = if rows
        .iter()
        .any(|r| crate::returnproxy::Designation::of(r).is_some())
    {
        crate::returnproxy::key_pair(st).await.ok().map(|(_, k)| k)
    } else {
        None
    };
    // The proxy's host, when its agent joined after the designation: the cluster's host at
    // the proxy's address.
    let mut proxy_hosts: HashMap<Uuid, Uuid> = HashMap::new();
    for r in rows {
        if let Some(d) = crate::returnproxy::Designation::of(r).filter(|d| d.host_id.is_none()) {
            let mut conn = st.store.read().await?;
            let f = db::HostFilter {
                cluster_id: Some(r.id),
                ..Default::default()
            };
            if let Some(h) = db::host_list(&mut conn, &f)
                .await?
                .0
                .into_iter()
                .find(|h| h.address == d.address.to_string())
            {
                proxy_hosts.insert(r.id, h.id.0);
            }
        }
    }
    Ok(rows
        .iter()
        .map(|c| {
            let mut v = cluster_view(c, &zn, &pn);
            if let Some(Value::Object(mut extra)) =
                crate::returnproxy::view_fields(st, c, key.as_deref())
            {
                if let Some(h) = proxy_hosts.get(&c.id) {
                    extra.insert("returnproxyhostid".into(), json!(h));
                }
                if let Some(m) = v.as_object_mut() {
                    m.extend(extra);
                }
            }
            v
        })
        .collect())
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
    // VM slots per host (Canopy); empty: the hypervisor's guest limit again.
    if let Some(n) = args.int("vmslots") {
        if !(0..=100_000).contains(&n) {
            return param_err(format!("Invalid vmslots {n}: 0 to 100000"));
        }
        c.attrs["vmslots"] = json!(n);
    } else if args.given_empty("vmslots") {
        if let Some(o) = c.attrs.as_object_mut() {
            o.remove("vmslots");
        }
    }
    if args.has("returnproxyaddress") {
        designate(st, &mut c, args).await?;
    }
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
    st.snapshots.invalidate(c.zone_id);
    let v = cluster_views(st, std::slice::from_ref(&c)).await?;
    Ok(json!({ "cluster": v.into_iter().next() }))
}

/// Designates (or, with an empty address, clears) the cluster's return proxy (Canopy):
/// `returnproxyaddress` (its private address, where this server's SSH goes),
/// `returnproxypublicaddress`, `returnproxyuse` (private/public: which one hosts dial),
/// `returnproxyuser` (default `canopy`), `returnproxysshport` (22). The proxy's SSH host key is
/// read now and recorded. A cluster has one proxy: designating another while one is set is
/// refused.
pub(crate) async fn designate(st: &State, c: &mut InfraRow, args: &Args) -> AppResult<()> {
    let given = args
        .text("returnproxyaddress")
        .unwrap_or("")
        .trim()
        .to_string();
    designate_address(st, c, &given, args).await
}

/// [`designate`] with the proxy's private address given (`updateHost returnproxy=true` gives
/// the host's own).
pub(crate) async fn designate_address(
    st: &State,
    c: &mut InfraRow,
    given: &str,
    args: &Args,
) -> AppResult<()> {
    use crate::returnproxy::{scan_host_key, Designation, DEFAULT_USER};
    let given = given.trim();
    let current = Designation::of(c);
    if given.is_empty() {
        if let Some(o) = c.attrs.as_object_mut() {
            o.remove("returnproxy");
        }
        return Ok(());
    }
    let address: std::net::Ipv4Addr = given.parse().map_err(|_| {
        api::ApiError::param(format!(
            "Invalid returnproxyaddress {given}: an IPv4 address"
        ))
    })?;
    if let Some(cur) = &current {
        if cur.address != address {
            return param_err(format!(
                "Cluster {} already has a return proxy ({}): a cluster has exactly one; clear it first (returnproxyaddress=)",
                c.name, cur.address
            ));
        }
    }
    let public =
        match args.text("returnproxypublicaddress").map(str::trim) {
            None | Some("") => current.as_ref().and_then(|d| d.public),
            Some(p) => Some(p.parse().map_err(|_| {
                api::ApiError::param(format!("Invalid returnproxypublicaddress {p}"))
            })?),
        };
    let use_public = match args.text("returnproxyuse").map(str::trim) {
        None => current.as_ref().is_some_and(|d| d.use_public),
        Some(u) if u.eq_ignore_ascii_case("public") => true,
        Some(u) if u.eq_ignore_ascii_case("private") => false,
        Some(u) => return param_err(format!("Invalid returnproxyuse {u}: private or public")),
    };
    if use_public && public.is_none() {
        return param_err("returnproxyuse=public needs returnproxypublicaddress");
    }
    let user = args
        .text("returnproxyuser")
        .map(|u| u.trim().to_string())
        .or_else(|| current.as_ref().map(|d| d.user.clone()))
        .unwrap_or_else(|| DEFAULT_USER.to_string());
    if user.is_empty()
        || user.len() > 32
        || !user
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_' || ch == '.')
        || user.starts_with('-')
    {
        return param_err(format!("Invalid returnproxyuser {user:?}"));
    }
    let ssh_port = match args.int("returnproxysshport") {
        Some(p) => u16::try_from(p)
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| api::ApiError::param(format!("Invalid returnproxysshport {p}")))?,
        None => current.as_ref().map(|d| d.ssh_port).unwrap_or(22),
    };
    let host_key = scan_host_key(address, ssh_port).await.map_err(|e| {
        api::ApiError::param(format!(
            "Could not read the SSH host key of the return proxy {address}:{ssh_port}: {e}"
        ))
    })?;
    // The host that is the proxy, when its agent already joined.
    let host_id = {
        let mut conn = st.store.read().await?;
        db::host_list(
            &mut conn,
            &db::HostFilter {
                cluster_id: Some(c.id),
                ..Default::default()
            },
        )
        .await?
        .0
        .into_iter()
        .find(|h| h.address == address.to_string())
        .map(|h| h.id.0)
    };
    let d = Designation {
        address,
        public,
        use_public,
        user,
        ssh_port,
        host_key,
        host_id,
    };
    c.attrs["returnproxy"] = d.to_json();
    Ok(())
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
