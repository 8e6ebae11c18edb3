//! Catalogues: listHypervisors (the hypervisors Canopy runs — KVM through QEMU, and the
//! simulator), listGuestOsMapping (each OS type's name for each of them; ids are stable,
//! derived from the pair) and listInfrastructure (how many of each part the cloud has).

use api::{list_body, Args};
use model::os::OS_TYPES;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::context::OpContext;
use crate::error::{param_err, AppResult};
use crate::state::State;

/// The hypervisors and the version their OS mappings are for.
const HYPERVISORS: &[(&str, &str)] = &[("KVM", "default"), ("Simulator", "default")];

fn hypervisor_named(h: &str) -> AppResult<&'static str> {
    HYPERVISORS
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(h))
        .map(|(n, _)| *n)
        .ok_or_else(|| {
            api::ApiError::param(format!("Invalid hypervisor {h}: KVM or Simulator")).into()
        })
}

pub async fn list_hypervisors(st: &State, _ctx: &OpContext, args: &Args) -> AppResult<Value> {
    if let Some(z) = args.uuid("zoneid") {
        crate::handlers::zones::get(st, db::Infra::Zone, "zoneid", z).await?;
    }
    let items: Vec<Value> = HYPERVISORS
        .iter()
        .map(|(n, _)| json!({ "name": n }))
        .collect();
    Ok(list_body("hypervisor", items.len() as u64, items))
}

/// A mapping's id: stable for (hypervisor, OS type).
fn mapping_id(hypervisor: &str, os: &str) -> Uuid {
    Uuid::new_v5(
        &Uuid::NAMESPACE_OID,
        format!("canopy-guestos/{hypervisor}/{os}").as_bytes(),
    )
}

pub async fn list_guest_os_mapping(_st: &State, _ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let hv = args.text("hypervisor").map(hypervisor_named).transpose()?;
    if let Some(v) = args.text("hypervisorversion") {
        if v != "default" {
            return param_err(format!(
                "Invalid hypervisor version {v}: the mappings are for version default"
            ));
        }
    }
    let os = args.uuid("ostypeid").map(|u| u.to_string());
    let id = args.uuid("id");
    let name = args.text("osdisplayname").map(str::to_lowercase);
    let for_hv = args.text("osnameforhypervisor").map(str::to_lowercase);
    let kw = args.text("keyword").map(str::to_lowercase);
    let mut items = Vec::new();
    for (h, version) in HYPERVISORS
        .iter()
        .filter(|(h, _)| hv.map(|x| x == *h).unwrap_or(true))
    {
        for o in OS_TYPES {
            let mid = mapping_id(h, o.id);
            let d = o.description.to_lowercase();
            let keep = id.map(|i| i == mid).unwrap_or(true)
                && os.as_deref().map(|x| x == o.id).unwrap_or(true)
                && name.as_deref().map(|n| n == d).unwrap_or(true)
                && for_hv.as_deref().map(|n| n == d).unwrap_or(true)
                && kw.as_deref().map(|k| d.contains(k)).unwrap_or(true);
            if keep {
                items.push(json!({
                    "id": mid,
                    "hypervisor": h,
                    "hypervisorversion": version,
                    "ostypeid": o.id,
                    "osdisplayname": o.description,
                    "osnameforhypervisor": o.description,
                    "isuserdefined": "false",
                }));
            }
        }
    }
    let total = items.len() as u64;
    Ok(list_body("guestosmapping", total, args.page.slice(items)))
}

/// listInfrastructure: how many of each part the cloud has (root admins).
pub async fn list_infrastructure(st: &State, _ctx: &OpContext, _args: &Args) -> AppResult<Value> {
    use db::{Infra, InfraFilter};
    let mut c = st.store.read().await?;
    let f = InfraFilter {
        limit: Some(0),
        ..Default::default()
    };
    let mut counts = serde_json::Map::new();
    for (key, t) in [
        ("zones", Infra::Zone),
        ("pods", Infra::Pod),
        ("clusters", Infra::Cluster),
        ("storagepools", Infra::StoragePool),
        ("imagestores", Infra::ImageStore),
    ] {
        counts.insert(key.into(), json!(db::infra_list(&mut c, t, &f).await?.1));
    }
    let hosts = db::host_list(
        &mut c,
        &db::HostFilter {
            limit: Some(0),
            ..Default::default()
        },
    )
    .await?
    .1;
    counts.insert("hosts".into(), json!(hosts));
    let routers = db::router_list(
        &mut c,
        &db::RouterFilter {
            limit: Some(0),
            ..Default::default()
        },
    )
    .await?
    .1;
    counts.insert("routers".into(), json!(routers));
    counts.insert(
        "managementservers".into(),
        json!(db::server_list(&mut c).await?.len()),
    );
    drop(c);
    // Canopy runs no system VMs (no secondary storage or console proxy VMs) and no object
    // stores; internal load balancers are haproxy in the VPC router: the routers that serve
    // them are its "internal LB VMs".
    counts.insert("systemvms".into(), json!(0));
    counts.insert("ilbvms".into(), json!(super::ilb::count_vms(st).await?));
    counts.insert("objectstores".into(), json!(0));
    Ok(json!({ "infrastructure": counts }))
}

/// listSystemVms: Canopy runs no system VMs — the management server serves the console and
/// the image store itself, and routers are network namespaces (listRouters) — so the list is
/// empty; `systemvmtype` is checked as CloudStack checks it.
pub async fn list_system_vms(_st: &State, _ctx: &OpContext, args: &Args) -> AppResult<Value> {
    if let Some(t) = args.text("systemvmtype") {
        if !["consoleproxy", "secondarystoragevm"].contains(&t.trim().to_ascii_lowercase().as_str())
        {
            return Err(api::ApiError::param(format!(
                "Invalid systemvmtype {t}: use consoleproxy or secondarystoragevm"
            ))
            .into());
        }
    }
    Ok(api::list_body("systemvm", 0, Vec::new()))
}
