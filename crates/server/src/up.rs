//! `canopy up`: on first start, a usable zone on this machine, built through the same
//! command handlers (and checks) as the API, acting as the admin. The host is a real agent
//! for this machine when QEMU is installed, a simulated one otherwise.

use std::path::Path;

use api::{ApiError, RawParams};
use serde_json::Value;

use crate::context::OpContext;
use crate::dispatch;
use crate::error::{AppError, AppResult};
use crate::jobs::JobRef;
use crate::state::State;

/// Which host `canopy up` puts in the zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostChoice {
    /// This machine (KVM cluster) when QEMU is installed, else a simulated host.
    Auto,
    /// This machine, with a real agent.
    Kvm,
    /// A simulated host run by the server.
    Simulator,
}

/// What `canopy up` set up (or found).
#[derive(Clone, Debug)]
pub struct UpZone {
    pub zone_id: String,
    pub host_kind: &'static str,
    pub created: bool,
    /// The built-in template: registered (its id), or why not.
    pub template: Result<String, String>,
}

/// Name of the built-in template.
pub const BUILTIN_TEMPLATE: &str = "Canopy Tiny Linux";

/// Where `scripts/build-test-template.sh` puts the built-in template.
pub fn template_dir() -> std::path::PathBuf {
    std::env::var_os("CANOPY_TEMPLATE_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/canopy/template")
        })
}

/// Registers the built-in template (public, featured) unless it is registered already.
async fn ensure_template(
    st: &State,
    ctx: &OpContext,
    zone_id: &str,
    hypervisor: &str,
) -> Result<String, String> {
    let existing = call(
        st,
        ctx,
        &[
            ("command", "listTemplates"),
            ("templatefilter", "all"),
            ("name", BUILTIN_TEMPLATE),
        ],
    )
    .await
    .map_err(|e| e.into_api().text)?;
    if let Some(id) = existing["template"][0]["id"].as_str() {
        wait_ready(st, id).await;
        return Ok(id.to_string());
    }
    let dir = template_dir();
    let manifest: Value = std::fs::read(dir.join("template.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| {
            format!(
                "not built ({} missing): run scripts/build-test-template.sh",
                dir.join("template.json").display()
            )
        })?;
    let sha = manifest["files"]["root.qcow2"]["sha256"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let url = |f: &str| format!("file://{}", dir.join(f).display());
    // The built-in template's directory becomes a staging directory (file:// registrations
    // are confined to those): it holds only the images the test-template script built.
    let staging = st.settings.text("image.staging.dirs");
    let dir_text = dir.display().to_string();
    if !staging.split(',').any(|d| d.trim() == dir_text) {
        let value = if staging.trim().is_empty() {
            dir_text
        } else {
            format!("{staging},{dir_text}")
        };
        call(
            st,
            ctx,
            &[
                ("command", "updateConfiguration"),
                ("name", "image.staging.dirs"),
                ("value", &value),
            ],
        )
        .await
        .map_err(|e| e.into_api().text)?;
    }
    let os = model::os::OS_TYPES
        .iter()
        .find(|o| o.description == "Other Linux (64-bit)")
        .map(|o| o.id)
        .unwrap_or_default();
    let r = call(
        st,
        ctx,
        &[
            ("command", "registerTemplate"),
            ("name", BUILTIN_TEMPLATE),
            (
                "displaytext",
                "Canopy Tiny Linux (Debian kernel, busybox; boots in seconds under TCG)",
            ),
            ("url", &url("root.qcow2")),
            ("format", "QCOW2"),
            ("hypervisor", hypervisor),
            ("ostypeid", os),
            ("zoneid", zone_id),
            ("ispublic", "true"),
            ("isfeatured", "true"),
            ("checksum", &format!("{{SHA-256}}{sha}")),
            ("details[0].kernel", &url("vmlinux")),
            ("details[0].initrd", &url("initramfs.cpio.gz")),
        ],
    )
    .await
    .map_err(|e| e.into_api().text)?;
    let id = r["template"][0]["id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| "registration answered no id".to_string())?;
    wait_ready(st, &id).await;
    Ok(id)
}

/// Waits (at most two minutes) until the built-in template's copy into the image store has
/// ended, so the cloud `canopy up` announces can deploy it at once (the copy of a local file
/// takes a second or two; a user's first deployVirtualMachine right after the banner was
/// refused as "not ready").
async fn wait_ready(st: &State, id: &str) {
    let Ok(id) = id.parse::<uuid::Uuid>() else {
        return;
    };
    for _ in 0..1200 {
        let row = match st.store.read().await {
            Ok(mut c) => db::infra_get(&mut c, db::Infra::Template, id)
                .await
                .ok()
                .flatten(),
            Err(_) => None,
        };
        match row {
            Some(t) if t.attrs["isready"] == true || t.attrs["failed"] == true => return,
            None => return,
            _ => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
        }
    }
    tracing::warn!(template = %id, "the built-in template is not ready after two minutes");
}

/// Runs one command as `ctx`, exactly as the API would (binding, checks, handler); async
/// commands run their job body inline.
async fn call(st: &State, ctx: &OpContext, params: &[(&str, &str)]) -> AppResult<Value> {
    let raw = RawParams::from_pairs(params.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let name = raw.command().unwrap_or_default().to_string();
    let spec = st
        .registry
        .get(&name)
        .ok_or_else(|| AppError::Internal(format!("unknown command {name}")))?;
    let args = spec.bind(&raw, st.settings.page_size())?;
    if !spec.isasync {
        return dispatch::run_sync(st, ctx, &args).await;
    }
    let plan = dispatch::prepare_async(st, ctx, &args).await?;
    let job = JobRef {
        id: model::JobId::new(),
        instance_id: plan.instance_id,
    };
    dispatch::run_async(st, ctx, &args, &job).await
}

fn id(v: &Value, path: &[&str]) -> AppResult<String> {
    let mut cur = v;
    for p in path {
        cur = match p.parse::<usize>() {
            Ok(i) => &cur[i],
            Err(_) => &cur[*p],
        };
    }
    cur.as_str()
        .map(str::to_string)
        .ok_or_else(|| AppError::Internal(format!("no {path:?} in {v}")))
}

fn qemu_installed() -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join("qemu-system-x86_64").is_file()))
        .unwrap_or(false)
}

/// This machine as a host of `canopy up`'s zone: its agent, which the binary crate wires
/// (the server crate does not run a local agent itself). [`NoLocalAgent`] is for servers
/// whose zone is simulated.
pub trait LocalAgent: Send + Sync {
    /// Starts this machine's agent, joining with a fresh join token's secret.
    fn join(&self, st: &State, data_dir: &Path, token_secret: String) -> AppResult<()>;
    /// Starts it again with the credential it saved when it joined; `false` when this
    /// machine never joined (the zone's host is simulated).
    fn resume(&self, st: &State, data_dir: &Path) -> AppResult<bool>;
}

/// No local agent: a zone with this machine as its host cannot be built.
pub struct NoLocalAgent;

impl LocalAgent for NoLocalAgent {
    fn join(&self, _st: &State, _data_dir: &Path, _token_secret: String) -> AppResult<()> {
        Err(AppError::Internal(
            "this server runs no local agent: use a simulated host".into(),
        ))
    }

    fn resume(&self, _st: &State, _data_dir: &Path) -> AppResult<bool> {
        Ok(false)
    }
}

/// Sets up the zone on first start; on later starts brings the local agent back. Each step
/// is a CloudStack command run as the admin, as an operator would run it.
pub async fn ensure_zone(
    st: &State,
    data_dir: &Path,
    choice: HostChoice,
    local: &dyn LocalAgent,
) -> AppResult<UpZone> {
    let ctx = admin_context(st).await?;
    let zones = call(st, &ctx, &[("command", "listZones")]).await?;
    if let Some(z) = zones["zone"].as_array().and_then(|a| a.first()) {
        return resume_zone(st, &ctx, data_dir, z, local).await;
    }
    let zone_id = create_zone_network(st, &ctx).await?;
    let kvm = match choice {
        HostChoice::Auto => qemu_installed(),
        HostChoice::Kvm => true,
        HostChoice::Simulator => false,
    };
    let hv = if kvm { "KVM" } else { "Simulator" };
    let (pod_id, cluster_id) = create_pod_and_cluster(st, &ctx, &zone_id, hv).await?;
    let first = [zone_id.as_str(), pod_id.as_str(), cluster_id.as_str()];
    add_first_host(st, &ctx, data_dir, kvm.then_some(local), first).await?;
    add_storage(st, &ctx, data_dir, [&zone_id, &pod_id, &cluster_id]).await?;
    enable(st, &ctx, [&zone_id, &pod_id, &cluster_id]).await?;
    let template = ensure_template(st, &ctx, &zone_id, hv).await;
    Ok(UpZone {
        zone_id,
        host_kind: if kvm {
            "KVM (this machine: QEMU VMs)"
        } else {
            "Simulator"
        },
        created: true,
        template,
    })
}

/// The root admin, as whom the zone is built.
pub(crate) async fn admin_context(st: &State) -> AppResult<OpContext> {
    let admin = {
        let mut c = st.store.read().await?;
        let root = db::domain_get_by_path(&mut c, "/")
            .await?
            .ok_or_else(|| AppError::Internal("no ROOT domain".into()))?;
        db::user_get_by_username(&mut c, root.id, "admin")
            .await?
            .ok_or_else(|| AppError::Internal("no admin user".into()))?
    };
    Ok(OpContext::new(admin, false))
}

/// A zone exists: the local agent (if this machine is its host) starts again with its saved
/// credential, and the built-in template is registered if it is not.
async fn resume_zone(
    st: &State,
    ctx: &OpContext,
    data_dir: &Path,
    z: &Value,
    local: &dyn LocalAgent,
) -> AppResult<UpZone> {
    let zone_id = id(z, &["id"])?;
    let kind = if local.resume(st, data_dir)? {
        "KVM (this machine)"
    } else {
        "Simulator"
    };
    let hv = if kind == "Simulator" {
        "Simulator"
    } else {
        "KVM"
    };
    let template = ensure_template(st, ctx, &zone_id, hv).await;
    Ok(UpZone {
        zone_id,
        host_kind: kind,
        created: false,
        template,
    })
}

/// The zone, its physical network (VXLAN) with its traffic types, the virtual router
/// provider enabled, the VPN client range and the public range. Returns the zone's id.
async fn create_zone_network(st: &State, ctx: &OpContext) -> AppResult<String> {
    let zone = call(
        st,
        ctx,
        &[
            ("command", "createZone"),
            ("name", "zone1"),
            ("networktype", "Advanced"),
            ("dns1", "1.1.1.1"),
            ("internaldns1", "127.0.0.53"),
            ("guestcidraddress", "10.1.0.0/16"),
            ("domain", "canopy.internal"),
        ],
    )
    .await?;
    let zone_id = id(&zone, &["zone", "id"])?;
    let pn = call(
        st,
        ctx,
        &[
            ("command", "createPhysicalNetwork"),
            ("name", "physnet1"),
            ("zoneid", &zone_id),
            ("isolationmethods", "VXLAN"),
            ("vlan", "1000-1999"),
        ],
    )
    .await?;
    let pn_id = id(&pn, &["physicalnetwork", "id"])?;
    for t in ["Guest", "Management", "Public"] {
        call(
            st,
            ctx,
            &[
                ("command", "addTrafficType"),
                ("physicalnetworkid", &pn_id),
                ("traffictype", t),
                ("kvmnetworklabel", "canopybr0"),
            ],
        )
        .await?;
    }
    let nsp = call(
        st,
        ctx,
        &[
            ("command", "listNetworkServiceProviders"),
            ("physicalnetworkid", &pn_id),
            ("name", "VirtualRouter"),
        ],
    )
    .await?;
    let nsp_id = id(&nsp, &["networkserviceprovider", "0", "id"])?;
    let el = call(
        st,
        ctx,
        &[("command", "listVirtualRouterElements"), ("nspid", &nsp_id)],
    )
    .await?;
    call(
        st,
        ctx,
        &[
            ("command", "configureVirtualRouterElement"),
            ("id", &id(&el, &["virtualrouterelement", "0", "id"])?),
            ("enabled", "true"),
        ],
    )
    .await?;
    call(
        st,
        ctx,
        &[
            ("command", "updateNetworkServiceProvider"),
            ("id", &nsp_id),
            ("state", "Enabled"),
        ],
    )
    .await?;
    call(
        st,
        ctx,
        &[
            ("command", "updatePhysicalNetwork"),
            ("id", &pn_id),
            ("state", "Enabled"),
        ],
    )
    .await?;
    // The default VPN client range (10.1.2.1-10.1.2.8) lies inside this zone's guest CIDR.
    call(
        st,
        ctx,
        &[
            ("command", "updateConfiguration"),
            ("name", "remote.access.vpn.client.iprange"),
            ("value", "10.255.0.2-10.255.0.254"),
        ],
    )
    .await?;
    // The public range: source NAT, static NAT, port forwarding and load balancers take
    // addresses from it. 203.0.113.0/24 is TEST-NET-3: on a real deployment, replace it with
    // the operator's public range (createVlanIpRange / deleteVlanIpRange).
    call(
        st,
        ctx,
        &[
            ("command", "createVlanIpRange"),
            ("zoneid", &zone_id),
            ("physicalnetworkid", &pn_id),
            ("forvirtualnetwork", "true"),
            ("vlan", "untagged"),
            ("gateway", "203.0.113.1"),
            ("netmask", "255.255.255.0"),
            ("startip", "203.0.113.10"),
            ("endip", "203.0.113.250"),
        ],
    )
    .await?;
    Ok(zone_id)
}

/// The pod and the cluster of hypervisor `hv`. Returns their ids.
async fn create_pod_and_cluster(
    st: &State,
    ctx: &OpContext,
    zone_id: &str,
    hv: &str,
) -> AppResult<(String, String)> {
    let pod = call(
        st,
        ctx,
        &[
            ("command", "createPod"),
            ("name", "pod1"),
            ("zoneid", zone_id),
            ("gateway", "172.30.0.1"),
            ("netmask", "255.255.0.0"),
            ("startip", "172.30.0.10"),
            ("endip", "172.30.255.250"),
        ],
    )
    .await?;
    let pod_id = id(&pod, &["pod", "id"])?;
    let cluster = call(
        st,
        ctx,
        &[
            ("command", "addCluster"),
            ("clustername", "cluster1"),
            ("clustertype", "CloudManaged"),
            ("hypervisor", hv),
            ("podid", &pod_id),
            ("zoneid", zone_id),
        ],
    )
    .await?;
    let cluster_id = id(&cluster, &["cluster", "0", "id"])?;
    Ok((pod_id, cluster_id))
}

/// This machine as a KVM host (its agent started in-process with a join token, waited for
/// up to 15 s) or a simulated host.
async fn add_first_host(
    st: &State,
    ctx: &OpContext,
    data_dir: &Path,
    local: Option<&dyn LocalAgent>,
    [zone_id, pod_id, cluster_id]: [&str; 3],
) -> AppResult<()> {
    if let Some(local) = local {
        let h = call(
            st,
            ctx,
            &[
                ("command", "addHost"),
                ("zoneid", zone_id),
                ("podid", pod_id),
                ("clusterid", cluster_id),
                ("hypervisor", "KVM"),
                ("url", "http://127.0.0.1"),
            ],
        )
        .await?;
        let token = proto::JoinToken::decode(&id(&h, &["host", "0", "jointoken"])?)
            .ok_or_else(|| AppError::Internal("bad join token".into()))?;
        let host_id: uuid::Uuid = id(&h, &["host", "0", "id"])?
            .parse()
            .map_err(|_| AppError::Internal("bad host id".into()))?;
        local.join(st, data_dir, token.secret)?;
        let end = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
        while !st.hub.is_connected(model::HostId(host_id)) && tokio::time::Instant::now() < end {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    } else {
        call(
            st,
            ctx,
            &[
                ("command", "addHost"),
                ("zoneid", zone_id),
                ("podid", pod_id),
                ("clusterid", cluster_id),
                ("hypervisor", "Simulator"),
                ("url", "http://sim/up/host1"),
            ],
        )
        .await?;
    }
    Ok(())
}

/// Primary storage (a directory pool) and secondary storage (a directory image store) under
/// the data directory.
async fn add_storage(
    st: &State,
    ctx: &OpContext,
    data_dir: &Path,
    [zone_id, pod_id, cluster_id]: [&str; 3],
) -> AppResult<()> {
    let primary = data_dir.join("primary");
    let secondary = data_dir.join("secondary");
    std::fs::create_dir_all(&primary)?;
    let abs =
        |p: &Path| -> AppResult<String> { Ok(std::fs::canonicalize(p)?.display().to_string()) };
    call(
        st,
        ctx,
        &[
            ("command", "createStoragePool"),
            ("name", "primary1"),
            ("zoneid", zone_id),
            ("podid", pod_id),
            ("clusterid", cluster_id),
            ("url", &format!("filesystem://{}", abs(&primary)?)),
        ],
    )
    .await?;
    std::fs::create_dir_all(&secondary)?;
    call(
        st,
        ctx,
        &[
            ("command", "addImageStore"),
            ("provider", "NFS"),
            ("name", "secondary1"),
            ("url", &format!("file://{}", abs(&secondary)?)),
            ("zoneid", zone_id),
        ],
    )
    .await?;
    Ok(())
}

/// The cluster, the pod and the zone enabled, in that order.
async fn enable(
    st: &State,
    ctx: &OpContext,
    [zone_id, pod_id, cluster_id]: [&str; 3],
) -> AppResult<()> {
    call(
        st,
        ctx,
        &[
            ("command", "updateCluster"),
            ("id", cluster_id),
            ("allocationstate", "Enabled"),
        ],
    )
    .await?;
    call(
        st,
        ctx,
        &[
            ("command", "updatePod"),
            ("id", pod_id),
            ("allocationstate", "Enabled"),
        ],
    )
    .await?;
    call(
        st,
        ctx,
        &[
            ("command", "updateZone"),
            ("id", zone_id),
            ("allocationstate", "Enabled"),
        ],
    )
    .await
    .map_err(|e| match e {
        AppError::Api(a) => AppError::Api(ApiError {
            text: format!("enabling the zone: {}", a.text),
            ..a
        }),
        other => other,
    })?;
    Ok(())
}
