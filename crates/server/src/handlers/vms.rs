//! Virtual machines: deployVirtualMachine, listVirtualMachines, start/stop/reboot, destroy,
//! recover, expunge, updateVirtualMachine.
//!
//! Every operation that touches a host is a saga (see `saga.rs`) whose steps move the VM
//! through CloudStack's state machine with conditional updates, so an illegal or concurrent
//! transition changes nothing and is reported, never half-applied:
//! - start (also the second half of deploy): reserve (placement + a capacity re-check under
//!   the host's lock) → create volumes on the host → boot on the host → Running. A failure
//!   unwinds: the host VM is stopped, created volumes deleted, the reservation released (a
//!   VM that never ran goes to Error, as CloudStack's OperationFailedToError).
//! - stop: Stopping → halt on the host → Stopped (off the host). A failed halt returns the
//!   VM to Running unless `forced`.
//! - destroy: stop, then Destroyed (or, with expunge, Expunging → delete volumes → removed).

use std::collections::{BTreeSet, HashMap};

use api::{list_body, success_body, ApiError, Args, ErrorCode};
use base64::Engine;
use db::{Infra, InfraRow, VmPlace, VmRow, VolumeRow};
use futures_util::future::BoxFuture;
use model::identity::display_domain_path;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::offerings::{b as attr_b, n as attr_n, s as attr_s};
use super::zones::{attr_str, get as infra_get};
use crate::access;
use crate::context::OpContext;
use crate::error::{param_err, AppError, AppResult};
use crate::events::Event;
use crate::jobs::{JobPlan, JobRef};
use crate::saga::{self, SagaCx, SagaDef, Step};
use crate::state::State;

pub(crate) const HOST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// How often placement is retried when the database refuses a reservation (another deploy
/// took the capacity first); each retry avoids the hosts refused so far.
const RESERVE_ATTEMPTS: usize = 8;

// --- lookups ---------------------------------------------------------------------------------

pub(crate) async fn load(st: &State, id: Uuid) -> AppResult<Option<VmRow>> {
    let mut c = st.store.read().await?;
    Ok(db::vm_get(&mut c, id).await?)
}

pub(crate) fn vm_gone(id: Uuid) -> AppError {
    ApiError::new(
        ErrorCode::ParamError,
        format!("Unable to find virtual machine with id {id}"),
    )
    .into()
}

/// The VM the caller may act on.
pub(crate) async fn owned(st: &State, ctx: &OpContext, id: Uuid) -> AppResult<VmRow> {
    let vm = load(st, id)
        .await?
        .ok_or_else(|| ApiError::invalid_id("id", &id.to_string()))?;
    if vm.account_id != ctx.account_id() {
        let a = access::account(st, "id", vm.account_id).await?;
        access::check_account(ctx, &a)?;
    }
    if !ctx.is_admin()
        && matches!(vm.state.as_str(), "Destroyed" | "Expunging")
        && !st.settings.bool("allow.user.view.destroyed.vm")
    {
        return Err(ApiError::invalid_id("id", &id.to_string()).into());
    }
    Ok(vm)
}

pub(crate) fn state_err(vm: &VmRow, what: &str) -> AppError {
    ApiError::new(
        ErrorCode::ParamError,
        format!(
            "Unable to {what} VM {} ({}): it is in state {}",
            vm.display_name, vm.instance_name, vm.state
        ),
    )
    .into()
}

pub(crate) async fn volumes_of(st: &State, vm: Uuid) -> AppResult<Vec<VolumeRow>> {
    let mut c = st.store.read().await?;
    let f = db::VolumeFilter {
        vm_id: Some(vm),
        ..Default::default()
    };
    let mut v = db::volume_list(&mut c, &f).await?.0;
    v.sort_by_key(|x| (x.vol_type != "ROOT", x.device_id.unwrap_or(0)));
    Ok(v)
}

// --- views -----------------------------------------------------------------------------------

struct Names {
    nics: Vec<db::NicRow>,
    zones: HashMap<Uuid, String>,
    offerings: HashMap<Uuid, InfraRow>,
    templates: HashMap<Uuid, InfraRow>,
    hosts: HashMap<Uuid, String>,
}

async fn infra_rows(
    st: &State,
    t: Infra,
    ids: impl Iterator<Item = Uuid>,
) -> AppResult<HashMap<Uuid, InfraRow>> {
    let mut ids: Vec<Uuid> = ids.collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let mut c = st.store.read().await?;
    let f = db::InfraFilter {
        ids: Some(ids),
        ..Default::default()
    };
    Ok(db::infra_list(&mut c, t, &f)
        .await?
        .0
        .into_iter()
        .map(|r| (r.id, r))
        .collect())
}

async fn names(st: &State, vms: &[VmRow]) -> AppResult<Names> {
    let zones = super::zones::names(st, Infra::Zone, vms.iter().map(|v| v.zone_id)).await?;
    let offerings = infra_rows(
        st,
        Infra::ServiceOffering,
        vms.iter().map(|v| v.service_offering_id),
    )
    .await?;
    let templates = infra_rows(
        st,
        Infra::Template,
        vms.iter()
            .flat_map(|v| v.template_id.into_iter().chain(v.iso_id)),
    )
    .await?;
    let mut host_ids: Vec<Uuid> = vms.iter().filter_map(|v| v.host_id).collect();
    host_ids.sort_unstable();
    host_ids.dedup();
    let mut hosts = HashMap::new();
    if !host_ids.is_empty() {
        let mut c = st.store.read().await?;
        for chunk in host_ids.chunks(500) {
            let f = db::HostFilter {
                ids: chunk.to_vec(),
                ..Default::default()
            };
            for r in db::host_list(&mut c, &f).await?.0 {
                hosts.insert(r.id, r.name);
            }
        }
    }
    let nics = {
        let ids: Vec<Uuid> = vms.iter().map(|v| v.id).collect();
        let mut c = st.store.read().await?;
        let mut out = Vec::new();
        for chunk in ids.chunks(500) {
            out.extend(db::nics_for_vms(&mut c, chunk).await?);
        }
        out
    };
    Ok(Names {
        nics,
        zones,
        offerings,
        templates,
        hosts,
    })
}

fn view(ctx: &OpContext, vm: &VmRow, n: &Names, tags: &[db::TagRow]) -> Value {
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        m.insert(k.to_string(), v);
    };
    put("id", json!(vm.id));
    put("name", json!(vm.name));
    put("displayname", json!(vm.display_name));
    put("state", json!(vm.state));
    put("account", json!(vm.account_name));
    put("domainid", json!(vm.domain_id));
    put("domain", json!(vm.domain_name));
    put("domainpath", json!(display_domain_path(&vm.domain_path)));
    put("userid", json!(vm.user_id));
    put("created", json!(api::time::format_ms(vm.created)));
    put("lastupdated", json!(api::time::format_ms(vm.updated)));
    put("zoneid", json!(vm.zone_id));
    if let Some(z) = n.zones.get(&vm.zone_id) {
        put("zonename", json!(z));
    }
    let hypervisor = vm.attrs["hypervisor"].as_str().unwrap_or("Simulator");
    put("hypervisor", json!(hypervisor));
    if ctx.is_admin() {
        put("instancename", json!(vm.instance_name));
        if let Some(h) = vm.host_id {
            put("hostid", json!(h));
            if let Some(name) = n.hosts.get(&h) {
                put("hostname", json!(name));
            }
        }
    }
    for (key, id) in [("template", vm.template_id), ("iso", vm.iso_id)] {
        if let Some(id) = id {
            put(&format!("{key}id"), json!(id));
            if let Some(t) = n.templates.get(&id) {
                put(&format!("{key}name"), json!(t.name));
                put(
                    &format!("{key}displaytext"),
                    json!(attr_str(t, "displaytext").unwrap_or_else(|| t.name.clone())),
                );
                if key == "template" {
                    put("passwordenabled", json!(attr_b(t, "passwordenabled")));
                    if let Some(os) = attr_str(t, "ostypeid") {
                        put("guestosid", json!(os));
                        put("ostypeid", json!(os));
                    }
                }
            }
        }
    }
    if !m.contains_key("passwordenabled") {
        m.insert("passwordenabled".into(), json!(false));
    }
    let mut put = |k: &str, v: Value| {
        m.insert(k.to_string(), v);
    };
    put("serviceofferingid", json!(vm.service_offering_id));
    if let Some(o) = n.offerings.get(&vm.service_offering_id) {
        put("serviceofferingname", json!(o.name));
    }
    put("cpunumber", json!(vm.cpus));
    put("cpuspeed", json!(vm.cpu_mhz));
    put("memory", json!(vm.memory_mib));
    put("rootdeviceid", json!(0));
    put("rootdevicetype", json!("ROOT"));
    put("haenable", json!(vm.ha_enable));
    if let Some(g) = &vm.group {
        put("group", json!(g));
    }
    if !vm.keypairs.is_empty() {
        put("keypairs", json!(vm.keypairs.join(",")));
    }
    if let Some(d) = vm.attrs.get("diskofferingid").filter(|d| !d.is_null()) {
        put("diskofferingid", d.clone());
    }
    put(
        "details",
        vm.attrs
            .get("details")
            .cloned()
            .filter(Value::is_object)
            .unwrap_or_else(|| json!({})),
    );
    put(
        "displayvm",
        json!(vm.attrs["displayvm"].as_bool().unwrap_or(true)),
    );
    put("isdynamicallyscalable", json!(false));
    put("bootmode", json!("legacy"));
    put("boottype", json!("BIOS"));
    put("vmtype", json!("User"));
    put(
        "nic",
        Value::Array(super::networks::nic_views(&n.nics, vm.id)),
    );
    put("securitygroup", json!([]));
    put("affinitygroup", json!([]));
    put(
        "tags",
        Value::Array(
            tags.iter()
                .filter(|t| t.resource_id == vm.id)
                .map(super::tags::view)
                .collect(),
        ),
    );
    Value::Object(m)
}

async fn one_view(st: &State, ctx: &OpContext, vm: &VmRow) -> AppResult<Value> {
    let n = names(st, std::slice::from_ref(vm)).await?;
    let tags = super::tags::for_resources(st, &[vm.id]).await?;
    Ok(view(ctx, vm, &n, &tags))
}

pub(crate) async fn result_of(st: &State, ctx: &OpContext, vm: &VmRow) -> AppResult<Value> {
    Ok(json!({ "virtualmachine": one_view(st, ctx, vm).await? }))
}

async fn result(st: &State, ctx: &OpContext, id: Uuid) -> AppResult<Value> {
    let vm = load(st, id).await?.ok_or_else(|| vm_gone(id))?;
    Ok(json!({ "virtualmachine": one_view(st, ctx, &vm).await? }))
}

// --- deploy ----------------------------------------------------------------------------------

/// CloudStack's host-name rule (RFC 1123 label, not starting with a digit).
fn check_hostname(name: &str) -> AppResult<()> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        param_err("Invalid name. Vm name can contain ASCII letters 'a' through 'z', the digits '0' through '9', and the hyphen ('-'), must be between 1 and 63 characters long, and can't start or end with \"-\" and can't start with digit")
    }
}

fn check_userdata(ud: &str, max: i64) -> AppResult<()> {
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(ud.trim())
        .map_err(|_| ApiError::param("User data is not base64 encoded"))?;
    if decoded.len() as i64 > max {
        return param_err(format!(
            "User data is too long: {} bytes after decoding, the limit is {max} (vm.userdata.max.length)",
            decoded.len()
        ));
    }
    Ok(())
}

fn detail<'a>(args: &'a Args, key: &str) -> Option<&'a str> {
    args.map("details")?.iter().find_map(|m| {
        m.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    })
}

fn detail_num(args: &Args, key: &str) -> AppResult<Option<i64>> {
    match detail(args, key) {
        None => Ok(None),
        Some(v) => match v.trim().parse::<i64>() {
            Ok(n) if n > 0 => Ok(Some(n)),
            _ => param_err(format!("details {key} must be a positive number: {v}")),
        },
    }
}

/// CPU count, speed (MHz) and memory (MiB) from the offering, or from `details` for a
/// customized one.
fn compute_of(o: &InfraRow, args: &Args) -> AppResult<(i64, i64, i64)> {
    let fixed = (
        attr_n(o, "cpunumber"),
        attr_n(o, "cpuspeed"),
        attr_n(o, "memory"),
    );
    let cpus = match fixed.0 {
        Some(v) => v,
        None => detail_num(args, "cpuNumber")?.ok_or_else(|| {
            ApiError::param("The service offering is customized: give details[0].cpuNumber")
        })?,
    };
    let speed = match fixed.1 {
        Some(v) => v,
        None => detail_num(args, "cpuSpeed")?.unwrap_or(1000),
    };
    let mem = match fixed.2 {
        Some(v) => v,
        None => detail_num(args, "memory")?.ok_or_else(|| {
            ApiError::param("The service offering is customized: give details[0].memory (MB)")
        })?,
    };
    for (v, lo, hi) in [
        ("mincpunumber", "maxcpunumber", cpus),
        ("minmemory", "maxmemory", mem),
    ]
    .map(|(lo, hi, v)| (v, attr_n(o, lo), attr_n(o, hi)))
    {
        if lo.map(|m| v < m).unwrap_or(false) || hi.map(|m| v > m).unwrap_or(false) {
            return param_err(format!(
                "The requested value {v} is outside the offering's range {}..{}",
                lo.unwrap_or(1),
                hi.map(|m| m.to_string())
                    .unwrap_or_else(|| "unlimited".into())
            ));
        }
    }
    if mem < 32 {
        return param_err("Memory must be at least 32 MB");
    }
    Ok((cpus, speed, mem))
}

pub(crate) async fn owner_account(
    st: &State,
    ctx: &OpContext,
    args: &Args,
) -> AppResult<db::AccountRow> {
    match args.text("account") {
        Some(a) => {
            let acct = access::account_by_name(st, ctx, a, args.id("domainid")).await?;
            access::check_account(ctx, &acct)?;
            Ok(acct)
        }
        None => Ok(ctx.user.account.clone()),
    }
}

fn template_usable(t: &InfraRow, acct: &db::AccountRow, ctx: &OpContext) -> bool {
    let owner = attr_str(t, "account_id");
    attr_b(t, "ispublic") || owner.as_deref() == Some(&acct.id.to_string()) || ctx.is_admin()
}

pub(crate) const GIB: i64 = 1 << 30;

pub async fn deploy_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let acct = owner_account(st, ctx, args).await?;
    let zone = infra_get(st, Infra::Zone, "zoneid", args.required_id("zoneid")?).await?;
    if zone.state != "Enabled" && !ctx.is_root_admin() {
        return Err(ApiError::new(
            ErrorCode::Account,
            format!(
                "Cannot perform this operation, Zone {} is currently disabled",
                zone.name
            ),
        )
        .into());
    }
    let so = infra_get(
        st,
        Infra::ServiceOffering,
        "serviceofferingid",
        args.required_id("serviceofferingid")?,
    )
    .await?;
    if attr_b(&so, "issystem") || so.state == "Inactive" {
        return param_err(format!(
            "Service offering {} cannot be used to deploy a user VM",
            so.name
        ));
    }
    let (cpus, cpu_mhz, memory) = compute_of(&so, args)?;
    for p in ["hostid", "clusterid", "podid"] {
        if args.has(p) && !ctx.is_root_admin() {
            return Err(ApiError::permission(format!(
                "Parameter {p} can only be specified by a Root Admin"
            ))
            .into());
        }
    }
    if let Some(h) = args.uuid("hostid") {
        let mut c = st.store.read().await?;
        let host = db::host_get(&mut c, h)
            .await?
            .ok_or_else(|| ApiError::invalid_id("hostid", &h.to_string()))?;
        if host.zone_id != zone.id {
            return param_err("The host is not in the given zone");
        }
    }
    if let Some(cl) = args.uuid("clusterid") {
        infra_get(st, Infra::Cluster, "clusterid", cl).await?;
    }
    if let Some(p) = args.uuid("podid") {
        infra_get(st, Infra::Pod, "podid", p).await?;
    }
    // Image: a template, or an ISO with a blank root disk from a disk offering.
    let (template, iso) = match (args.uuid("templateid"), args.uuid("isoid")) {
        (Some(_), Some(_)) => return param_err("Specify either templateid or isoid, not both"),
        (None, None) => return param_err("Please specify a valid template or ISO ID (templateid)"),
        (Some(t), None) => (
            Some(infra_get(st, Infra::Template, "templateid", t).await?),
            None,
        ),
        (None, Some(i)) => (
            None,
            Some(infra_get(st, Infra::Template, "isoid", i).await?),
        ),
    };
    let image = template
        .as_ref()
        .or(iso.as_ref())
        .ok_or_else(|| AppError::Internal("no image".into()))?;
    if (image.kind == "ISO") != iso.is_some() {
        return Err(ApiError::invalid_id(
            if iso.is_some() { "isoid" } else { "templateid" },
            &image.id.to_string(),
        )
        .into());
    }
    if !template_usable(image, &acct, ctx) {
        return Err(ApiError::permission(format!(
            "Account {} has no access to template {}",
            acct.name, image.name
        ))
        .into());
    }
    if !attr_b(image, "isready") {
        return param_err(format!(
            "Template {} is not ready to be used (it has not been downloaded yet)",
            image.name
        ));
    }
    if !image.zone_id.is_nil() && image.zone_id != zone.id {
        return param_err(format!(
            "Template {} is not available in zone {}",
            image.name, zone.name
        ));
    }
    // Disks.
    let disk_offering = match args.uuid("diskofferingid") {
        Some(d) => Some(infra_get(st, Infra::DiskOffering, "diskofferingid", d).await?),
        None => None,
    };
    let data_size = match &disk_offering {
        Some(d) if attr_b(d, "iscustomized") => match args.int("size") {
            Some(s) if s > 0 => Some(s * GIB),
            _ => return param_err("The disk offering is customized: give size (GB)"),
        },
        Some(d) => Some(attr_n(d, "disksize").unwrap_or(0) * GIB),
        None => None,
    };
    let template_size = attr_n(image, "size").unwrap_or(0).max(0);
    let rootdisksize = match args
        .int("rootdisksize")
        .or(detail_num(args, "rootdisksize")?)
    {
        Some(g) if g <= 0 => return param_err("rootdisksize must be a positive number of GB"),
        Some(g) => Some(g * GIB),
        None => attr_n(&so, "rootdisksize").map(|g| g * GIB),
    };
    // A template deploy: root from the template (optionally larger) and the disk offering is
    // a data disk. An ISO deploy: the disk offering is the blank root disk.
    let (root_size, data_disk) = if iso.is_some() {
        let size = data_size
            .ok_or_else(|| ApiError::param("A disk offering (diskofferingid) is required to deploy from an ISO: it is the root disk"))?;
        (size, None)
    } else {
        let root = match rootdisksize {
            Some(r) if r < template_size => {
                return param_err(format!(
                    "rootdisksize ({} GB) is smaller than the template ({template_size} bytes)",
                    r / GIB
                ))
            }
            Some(r) => r,
            None => template_size.max(1),
        };
        (root, data_size.map(|s| (s, disk_offering.clone())))
    };
    // Names.
    let name = match args.text("name") {
        Some(n) => {
            check_hostname(n)?;
            Some(n.to_string())
        }
        None => None,
    };
    if let Some(n) = &name {
        let mut c = st.store.read().await?;
        let f = db::VmFilter {
            scope: Some(db::OwnerScope::Account(acct.id)),
            name: Some(n.clone()),
            zone_id: Some(zone.id),
            hide_states: vec!["Expunging".into()],
            ..Default::default()
        };
        if db::vm_list(&mut c, &f).await?.1 > 0 {
            return param_err(format!(
                "The vm with hostName {n} already exists in the network domain of the account"
            ));
        }
    }
    // Key pairs and user data.
    let mut keypairs: Vec<String> = Vec::new();
    if let Some(k) = args.text("keypair") {
        keypairs.push(k.to_string());
    }
    for k in args.list("keypairs").unwrap_or_default() {
        if !keypairs.contains(k) {
            keypairs.push(k.clone());
        }
    }
    {
        let mut c = st.store.read().await?;
        for k in &keypairs {
            if db::keypair_get_by_name(&mut c, acct.id, k).await?.is_none() {
                return param_err(format!(
                    "A key pair with name '{k}' was not found for account {}",
                    acct.name
                ));
            }
        }
    }
    let userdata = args.text("userdata").map(str::to_string);
    if let Some(u) = &userdata {
        check_userdata(u, st.settings.int("vm.userdata.max.length"))?;
    }
    // Limits: the VM, its CPUs and memory, its volumes and their storage.
    let volumes = 1 + data_disk.is_some() as i64;
    let storage = root_size + data_disk.as_ref().map(|(s, _)| *s).unwrap_or(0);
    super::limits::enforce(
        st,
        &acct,
        &[
            (model::limits::ResourceType::UserVm, 1),
            (model::limits::ResourceType::Cpu, cpus),
            (model::limits::ResourceType::Memory, memory),
            (model::limits::ResourceType::Volume, volumes),
            (model::limits::ResourceType::PrimaryStorage, storage),
        ],
    )
    .await?;
    let network = super::networks::default_network(
        st,
        &acct,
        &zone,
        args.list("networkids").unwrap_or_default(),
    )
    .await?;
    let details: Map<String, Value> = args
        .map("details")
        .unwrap_or_default()
        .iter()
        .flat_map(|m| m.iter().map(|(k, v)| (k.clone(), json!(v))))
        .collect();
    let strs = |k: &str| -> Vec<String> { args.list(k).map(|l| l.to_vec()).unwrap_or_default() };
    let attrs = json!({
        "hypervisor": args.text("hypervisor").unwrap_or("Simulator"),
        "details": details,
        "networkids": strs("networkids"),
        "securitygroupids": strs("securitygroupids"),
        "securitygroupnames": strs("securitygroupnames"),
        "diskofferingid": if iso.is_none() { disk_offering.as_ref().map(|d| d.id) } else { None },
        "displayvm": args.bool("displayvm").unwrap_or(true),
        "hosttags": attr_s(&so, "hosttags"),
        "storagetags": attr_s(&so, "storagetags"),
        "localstorage": attr_s(&so, "storagetype").as_deref() == Some("local"),
        "ipaddress": args.text("ipaddress"),
        "macaddress": args.text("macaddress"),
    });
    let id = Uuid::new_v4();
    let new = db::NewVm {
        id,
        name: name.clone(),
        display_name: args.text("displayname").map(str::to_string),
        account_id: acct.id,
        domain_id: acct.domain_id,
        user_id: ctx.user_id(),
        zone_id: zone.id,
        template_id: template.as_ref().map(|t| t.id),
        iso_id: iso.as_ref().map(|t| t.id),
        service_offering_id: so.id,
        cpus,
        cpu_mhz,
        memory_mib: memory,
        ha_enable: attr_b(&so, "offerha"),
        group: args.text("group").map(str::to_string),
        userdata,
        keypairs,
        attrs,
        suffix: st.settings.text("instance.name"),
    };
    let mut tx = st.store.begin().await?;
    let instance = db::vm_insert(&mut tx, &new).await?;
    db::volume_insert(
        &mut tx,
        &db::NewVolume {
            id: Uuid::new_v4(),
            name: format!("ROOT-{}", instance.split('-').nth(2).unwrap_or("0")),
            vol_type: "ROOT".into(),
            account_id: acct.id,
            domain_id: acct.domain_id,
            zone_id: zone.id,
            vm_id: Some(id),
            device_id: Some(0),
            size: root_size,
            disk_offering_id: iso.as_ref().and(disk_offering.as_ref()).map(|d| d.id),
            template_id: template.as_ref().map(|t| t.id),
            attrs: json!({}),
        },
    )
    .await?;
    if let Some((size, offering)) = data_disk {
        db::volume_insert(
            &mut tx,
            &db::NewVolume {
                id: Uuid::new_v4(),
                name: format!("DATA-{}", instance.split('-').nth(2).unwrap_or("0")),
                vol_type: "DATADISK".into(),
                account_id: acct.id,
                domain_id: acct.domain_id,
                zone_id: zone.id,
                vm_id: Some(id),
                device_id: Some(1),
                size,
                disk_offering_id: offering.map(|d| d.id),
                template_id: None,
                attrs: json!({}),
            },
        )
        .await?;
    }
    Event::new(ctx, "VM.CREATE", format!("VM {instance} created"))
        .resource(id, "VirtualMachine", name.as_deref())
        .record(&mut tx)
        .await?;
    tx.commit().await?;
    if let Err(e) = super::networks::allocate_nic(
        st,
        id,
        &network,
        args.text("ipaddress"),
        args.text("macaddress"),
    )
    .await
    {
        // No address: the VM can never start; it is left in Error (expunged later).
        let mut tx = st.store.begin().await?;
        db::vm_transition(&mut tx, id, &["Stopped"], "Error", &VmPlace::keep()).await?;
        tx.commit().await?;
        return Err(e);
    }
    Ok(JobPlan {
        instance_type: Some("VirtualMachine"),
        instance_id: Some(id.to_string()),
        returns_id: true,
        description: format!("Deploying VM {instance}"),
    })
}

fn placement_hints(args: &Args) -> Map<String, Value> {
    let mut m = Map::new();
    for k in ["hostid", "clusterid", "podid"] {
        if let Some(u) = args.uuid(k) {
            m.insert(k.into(), json!(u));
        }
    }
    m
}

pub async fn deploy_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let id: Uuid = job.instance()?;
    if args.bool("startvm").unwrap_or(true) {
        let mut data = placement_hints(args);
        data.insert("fresh".into(), json!(true));
        saga::run(st, job.id, &START, id, data).await?;
    }
    result(st, ctx, id).await
}

// --- the start saga --------------------------------------------------------------------------

pub static START: SagaDef = SagaDef {
    pivot: None,
    kind: "start",
    steps: &[
        Step {
            name: "reserve",
            run: reserve,
            undo: Some(release),
        },
        Step {
            name: "volumes",
            run: create_volumes,
            undo: Some(delete_created_volumes),
        },
        Step {
            name: "boot",
            run: boot,
            undo: Some(halt_forced),
        },
        Step {
            name: "running",
            run: mark_running,
            undo: None,
        },
    ],
};

async fn vm_of(cx: &SagaCx) -> AppResult<VmRow> {
    load(&cx.st, cx.resource)
        .await?
        .ok_or_else(|| vm_gone(cx.resource))
}

fn host_of(cx: &SagaCx) -> AppResult<Uuid> {
    cx.uuid("host")
        .ok_or_else(|| AppError::Internal(format!("saga {} has no host", cx.job)))
}

fn tag_set(v: &Value) -> BTreeSet<String> {
    v.as_str()
        .unwrap_or("")
        .split(',')
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect()
}

fn reserve(cx: &mut SagaCx) -> BoxFuture<'_, AppResult<()>> {
    Box::pin(async move {
        let vm = vm_of(cx).await?;
        let vols = volumes_of(&cx.st, vm.id).await?;
        let to_create: Vec<&VolumeRow> = vols.iter().filter(|v| v.state == "Allocated").collect();
        cx.data.insert(
            "to_create".into(),
            json!(to_create.iter().map(|v| v.id).collect::<Vec<_>>()),
        );
        if vm.state == "Starting" {
            // This saga reserved it before a restart: adopt the reservation.
            if let (Some(h), Some(c), Some(p)) = (vm.host_id, vm.cluster_id, vm.pod_id) {
                cx.data.insert("host".into(), json!(h));
                cx.data.insert("cluster".into(), json!(c));
                cx.data.insert("pod".into(), json!(p));
                if cx.uuid("pool").is_none() {
                    if let Some(pool) = vols.iter().find_map(|v| v.pool_id) {
                        cx.data.insert("pool".into(), json!(pool));
                    }
                }
                return Ok(());
            }
        }
        if vm.state != "Stopped" {
            return Err(state_err(&vm, "start"));
        }
        let st = cx.st.clone();
        let mut req = placement::Request {
            cpus: vm.cpus.clamp(0, u32::MAX as i64) as u32,
            cpu_mhz: vm.cpu_mhz.max(0) as u64,
            memory: (vm.memory_mib.max(0) as u64) << 20,
            disk: to_create.iter().map(|v| v.size.max(0) as u64).sum(),
            host_tags: tag_set(&vm.attrs["hosttags"]),
            storage_tags: tag_set(&vm.attrs["storagetags"]),
            local_storage: vm.attrs["localstorage"].as_bool().unwrap_or(false),
            host: cx.uuid("hostid"),
            cluster: cx.uuid("clusterid"),
            pod: cx.uuid("podid"),
            seed: vm.seq as u64,
            admin: false,
            ..Default::default()
        };
        // Volumes that already exist pin the VM to where their pool is reachable.
        let existing: Vec<Uuid> = vols.iter().filter_map(|v| v.pool_id).collect();
        if let Some(pool) = existing.first() {
            let p = infra_get(&st, Infra::StoragePool, "storageid", *pool).await?;
            match p.kind.as_str() {
                "CLUSTER" => req.cluster = p.parent_id.or(req.cluster),
                "HOST" => req.host = attr_str(&p, "host_id").and_then(|h| h.parse().ok()),
                _ => {}
            }
        }
        let policy = crate::placing::policy(&st.settings);
        for _ in 0..RESERVE_ATTEMPTS {
            let snap =
                crate::placing::planning_snapshot(&st, vm.zone_id, vm.account_id, &policy).await?;
            let mut plan = placement::plan(&snap, &req, &policy).map_err(|e| {
                AppError::from(ApiError::new(
                    ErrorCode::InsufficientCapacity,
                    format!(
                        "Unable to create a deployment for VM[User|{}]: {}",
                        vm.instance_name, e.reason
                    ),
                ))
            })?;
            if let Some(pool) = existing.first() {
                plan.pool = *pool;
            }
            let host = snap
                .hosts
                .iter()
                .find(|h| h.id == plan.host)
                .ok_or_else(|| AppError::Internal("placement chose an unknown host".into()))?;
            let cluster = snap
                .clusters
                .iter()
                .find(|c| c.id == plan.cluster)
                .ok_or_else(|| AppError::Internal("placement chose an unknown cluster".into()))?;
            // The database has the last word: under the host's lock, what its active VMs
            // hold now plus this VM must fit its over-committed capacity and guest limit.
            let mut tx = st.store.begin().await?;
            db::host_lock(&mut tx, host.id).await?;
            let used = db::host_usage(&mut tx, host.id).await?;
            // The snapshot may be a second old: the host must still take VMs, too.
            let live = db::host_get(&mut tx, host.id)
                .await?
                .map(|h| h.status == "Up" && h.resource_state == "Enabled")
                .unwrap_or(false);
            let cpu_cap = host.cpus as f64 * host.cpu_mhz as f64 * cluster.cpu_overcommit;
            let mem_cap = host.memory as f64 * cluster.mem_overcommit;
            let fits = live
                && (used.cpu_mhz + vm.cpus * vm.cpu_mhz) as f64 <= cpu_cap
                && (((used.memory_mib + vm.memory_mib) as u64) << 20) as f64 <= mem_cap
                && used.vms < host.max_guests as i64;
            if !fits {
                drop(tx);
                st.snapshots.invalidate(vm.zone_id);
                tracing::debug!(vm = %vm.id, host = %host.id, "reservation refused by the database; re-planning");
                req.avoid_hosts.insert(host.id);
                continue;
            }
            let moved = db::vm_transition(
                &mut tx,
                vm.id,
                &["Stopped"],
                "Starting",
                &VmPlace::on(host.id, cluster.id, cluster.pod),
            )
            .await?;
            if !moved {
                let now = load(&st, vm.id).await?;
                return Err(match now {
                    Some(v) => state_err(&v, "start"),
                    None => vm_gone(vm.id),
                });
            }
            tx.commit().await?;
            cx.data.insert("host".into(), json!(host.id));
            cx.data.insert("cluster".into(), json!(cluster.id));
            cx.data.insert("pod".into(), json!(cluster.pod));
            cx.data.insert("pool".into(), json!(plan.pool));
            return Ok(());
        }
        Err(ApiError::new(
            ErrorCode::InsufficientCapacity,
            format!(
                "Unable to create a deployment for VM[User|{}]: every suitable host was taken by concurrent deployments",
                vm.instance_name
            ),
        )
        .into())
    })
}

/// Undo of `reserve`: off the host; a VM that never ran goes to Error.
fn release(cx: &mut SagaCx) -> BoxFuture<'_, AppResult<()>> {
    Box::pin(async move {
        let to = if cx.flag("fresh") { "Error" } else { "Stopped" };
        let mut tx = cx.st.store.begin().await?;
        db::vm_transition(
            &mut tx,
            cx.resource,
            &["Starting", "Stopped"],
            to,
            &VmPlace::off(),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    })
}

pub(crate) async fn pool_path(st: &State, pool: Uuid) -> AppResult<String> {
    let p = infra_get(st, Infra::StoragePool, "storageid", pool).await?;
    Ok(attr_str(&p, "path").unwrap_or_else(|| format!("/var/lib/canopy/pools/{pool}")))
}

fn create_volumes(cx: &mut SagaCx) -> BoxFuture<'_, AppResult<()>> {
    Box::pin(async move {
        let host = host_of(cx)?;
        let Some(pool) = cx.uuid("pool") else {
            return Ok(());
        };
        let path = pool_path(&cx.st, pool).await?;
        for id in cx.uuids("to_create") {
            let v = {
                let mut c = cx.st.store.read().await?;
                db::volume_get(&mut c, id).await?
            };
            let Some(v) = v else { continue };
            if v.state == "Ready" {
                continue;
            }
            let mut tx = cx.st.store.begin().await?;
            db::volume_transition(
                &mut tx,
                id,
                &["Allocated", "Creating"],
                "Creating",
                Some(Some((pool, String::new()))),
            )
            .await?;
            tx.commit().await?;
            let reply = cx
                .st
                .hub
                .command_ready(
                    host,
                    proto::Command::CreateVolume {
                        volume: proto::VolumeSpec {
                            volume_id: id,
                            pool_path: path.clone(),
                            size_bytes: v.size.max(0) as u64,
                            template_id: v.template_id,
                        },
                    },
                    HOST_TIMEOUT,
                )
                .await?;
            let vpath = reply["path"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| format!("{path}/{id}"));
            let mut tx = cx.st.store.begin().await?;
            db::volume_transition(
                &mut tx,
                id,
                &["Creating"],
                "Ready",
                Some(Some((pool, vpath))),
            )
            .await?;
            db::volume_set_host(&mut tx, id, Some(host)).await?;
            tx.commit().await?;
        }
        Ok(())
    })
}

/// Undo of `create_volumes`: the volumes this saga created are deleted on the host and are
/// Allocated again (no pool).
fn delete_created_volumes(cx: &mut SagaCx) -> BoxFuture<'_, AppResult<()>> {
    Box::pin(async move {
        let host = host_of(cx)?;
        for id in cx.uuids("to_create") {
            let v = {
                let mut c = cx.st.store.read().await?;
                db::volume_get(&mut c, id).await?
            };
            let Some(v) = v else { continue };
            if v.state == "Allocated" {
                continue;
            }
            if let Some(pool) = v.pool_id {
                let path = pool_path(&cx.st, pool).await?;
                cx.st
                    .hub
                    .command_ready(
                        host,
                        proto::Command::DeleteVolume {
                            pool_path: path,
                            volume_id: id,
                        },
                        HOST_TIMEOUT,
                    )
                    .await?;
            }
            let mut tx = cx.st.store.begin().await?;
            db::volume_transition(&mut tx, id, &["Creating", "Ready"], "Allocated", Some(None))
                .await?;
            db::volume_set_host(&mut tx, id, None).await?;
            tx.commit().await?;
        }
        Ok(())
    })
}

pub(crate) async fn spec(st: &State, vm: &VmRow) -> AppResult<proto::VmSpec> {
    let vols = volumes_of(st, vm.id).await?;
    let mut keys = Vec::new();
    {
        let mut c = st.store.read().await?;
        for k in &vm.keypairs {
            if let Some(kp) = db::keypair_get_by_name(&mut c, vm.account_id, k).await? {
                keys.push(kp.public_key);
            }
        }
    }
    Ok(proto::VmSpec {
        id: vm.id,
        name: vm.instance_name.clone(),
        hostname: vm.name.clone(),
        cpus: vm.cpus.clamp(0, u32::MAX as i64) as u32,
        cpu_mhz: vm.cpu_mhz.max(0) as u64,
        memory_mib: vm.memory_mib.max(0) as u64,
        disks: vols
            .iter()
            .filter(|v| v.state == "Ready")
            .map(|v| proto::DiskSpec {
                volume_id: v.id,
                path: v.path.clone().unwrap_or_default(),
                device_id: v.device_id.unwrap_or(0).clamp(0, u32::MAX as i64) as u32,
            })
            .collect(),
        userdata: vm.userdata.clone(),
        ssh_keys: keys,
    })
}

fn boot(cx: &mut SagaCx) -> BoxFuture<'_, AppResult<()>> {
    Box::pin(async move {
        let host = host_of(cx)?;
        let vm = vm_of(cx).await?;
        let spec = spec(&cx.st, &vm).await?;
        cx.st
            .hub
            .command_ready(host, proto::Command::StartVm { vm: spec }, HOST_TIMEOUT)
            .await?;
        Ok(())
    })
}

/// Undo of `boot`: stop the VM on the host, without waiting for the guest.
fn halt_forced(cx: &mut SagaCx) -> BoxFuture<'_, AppResult<()>> {
    Box::pin(async move {
        let host = host_of(cx)?;
        let vm = vm_of(cx).await?;
        cx.st
            .hub
            .command_ready(
                host,
                proto::Command::StopVm {
                    name: vm.instance_name,
                    force: true,
                },
                HOST_TIMEOUT,
            )
            .await?;
        Ok(())
    })
}

fn mark_running(cx: &mut SagaCx) -> BoxFuture<'_, AppResult<()>> {
    Box::pin(async move {
        let mut tx = cx.st.store.begin().await?;
        let moved = db::vm_transition(
            &mut tx,
            cx.resource,
            &["Starting"],
            "Running",
            &VmPlace::keep(),
        )
        .await?;
        tx.commit().await?;
        if !moved {
            let vm = vm_of(cx).await?;
            if vm.state != "Running" {
                return Err(state_err(&vm, "mark as running"));
            }
        }
        Ok(())
    })
}

// --- start / stop / reboot -------------------------------------------------------------------

fn job_plan(vm: &VmRow, what: &str) -> JobPlan {
    JobPlan {
        instance_type: Some("VirtualMachine"),
        instance_id: Some(vm.id.to_string()),
        returns_id: false,
        description: format!("{what} VM {}", vm.instance_name),
    }
}

pub async fn start_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let vm = owned(st, ctx, args.required_id("id")?).await?;
    for p in ["hostid", "clusterid", "podid"] {
        if args.has(p) && !ctx.is_root_admin() {
            return Err(ApiError::permission(format!(
                "Parameter {p} can only be specified by a Root Admin"
            ))
            .into());
        }
    }
    match vm.state.as_str() {
        "Stopped" | "Running" => {}
        _ => return Err(state_err(&vm, "start")),
    }
    Ok(job_plan(&vm, "Starting"))
}

pub async fn start_run(st: &State, ctx: &OpContext, args: &Args, job: &JobRef) -> AppResult<Value> {
    let id: Uuid = job.instance()?;
    let vm = load(st, id).await?.ok_or_else(|| vm_gone(id))?;
    // Starting a running VM is a no-op in CloudStack (it answers with the VM).
    if vm.state != "Running" || saga_exists(st, job).await? {
        saga::run(st, job.id, &START, id, placement_hints(args)).await?;
    }
    result(st, ctx, id).await
}

async fn saga_exists(st: &State, job: &JobRef) -> AppResult<bool> {
    let mut c = st.store.read().await?;
    Ok(db::saga_get(&mut c, job.id).await?.is_some())
}

pub static STOP: SagaDef = SagaDef {
    pivot: Some(1),
    kind: "stop",
    steps: &[
        Step {
            name: "stopping",
            run: to_stopping,
            undo: Some(back_to_running),
        },
        Step {
            name: "halt",
            run: halt,
            undo: None,
        },
        Step {
            name: "stopped",
            run: mark_stopped,
            undo: None,
        },
    ],
};

fn to_stopping(cx: &mut SagaCx) -> BoxFuture<'_, AppResult<()>> {
    Box::pin(async move {
        let vm = vm_of(cx).await?;
        match vm.state.as_str() {
            "Running" => {
                let mut tx = cx.st.store.begin().await?;
                let moved =
                    db::vm_transition(&mut tx, vm.id, &["Running"], "Stopping", &VmPlace::keep())
                        .await?;
                tx.commit().await?;
                if !moved {
                    return Err(state_err(&vm, "stop"));
                }
                cx.data.insert("was_running".into(), json!(true));
                if let Some(h) = vm.host_id {
                    cx.data.insert("host".into(), json!(h));
                }
            }
            "Stopping" => {
                if let Some(h) = vm.host_id {
                    cx.data.insert("host".into(), json!(h));
                }
            }
            "Stopped" | "Error" => {}
            _ => return Err(state_err(&vm, "stop")),
        }
        Ok(())
    })
}

fn back_to_running(cx: &mut SagaCx) -> BoxFuture<'_, AppResult<()>> {
    Box::pin(async move {
        if cx.flag("was_running") {
            let mut tx = cx.st.store.begin().await?;
            db::vm_transition(
                &mut tx,
                cx.resource,
                &["Stopping"],
                "Running",
                &VmPlace::keep(),
            )
            .await?;
            tx.commit().await?;
        }
        Ok(())
    })
}

fn halt(cx: &mut SagaCx) -> BoxFuture<'_, AppResult<()>> {
    Box::pin(async move {
        let Some(host) = cx.uuid("host") else {
            return Ok(());
        };
        let vm = vm_of(cx).await?;
        let forced = cx.flag("forced");
        let r = cx
            .st
            .hub
            .command_ready(
                host,
                proto::Command::StopVm {
                    name: vm.instance_name.clone(),
                    force: forced,
                },
                HOST_TIMEOUT,
            )
            .await;
        match r {
            Ok(_) => Ok(()),
            Err(e) if forced => {
                tracing::warn!(vm = %vm.id, %host, error = %e, "forced stop: the host did not confirm; the VM is marked Stopped");
                Ok(())
            }
            Err(e) => Err(e),
        }
    })
}

/// Final step of stop (and the stop part of destroy).
fn mark_stopped(cx: &mut SagaCx) -> BoxFuture<'_, AppResult<()>> {
    Box::pin(async move {
        let mut tx = cx.st.store.begin().await?;
        db::vm_transition(
            &mut tx,
            cx.resource,
            &["Stopping", "Stopped"],
            "Stopped",
            &VmPlace::off(),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    })
}

pub async fn stop_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let vm = owned(st, ctx, args.required_id("id")?).await?;
    match vm.state.as_str() {
        "Running" | "Stopped" | "Stopping" => {}
        "Starting" | "Migrating" if args.flag("forced") => {}
        _ => return Err(state_err(&vm, "stop")),
    }
    Ok(job_plan(&vm, "Stopping"))
}

pub async fn stop_run(st: &State, ctx: &OpContext, args: &Args, job: &JobRef) -> AppResult<Value> {
    let id: Uuid = job.instance()?;
    let mut data = Map::new();
    data.insert("forced".into(), json!(args.flag("forced")));
    saga::run(st, job.id, &STOP, id, data).await?;
    result(st, ctx, id).await
}

pub async fn reboot_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let vm = owned(st, ctx, args.required_id("id")?).await?;
    if vm.state != "Running" {
        return Err(state_err(&vm, "reboot"));
    }
    Ok(job_plan(&vm, "Rebooting"))
}

pub async fn reboot_run(
    st: &State,
    ctx: &OpContext,
    _args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let id: Uuid = job.instance()?;
    let vm = load(st, id).await?.ok_or_else(|| vm_gone(id))?;
    let (Some(host), "Running") = (vm.host_id, vm.state.as_str()) else {
        return Err(state_err(&vm, "reboot"));
    };
    st.hub
        .command_ready(
            host,
            proto::Command::RebootVm {
                name: vm.instance_name.clone(),
            },
            HOST_TIMEOUT,
        )
        .await?;
    result(st, ctx, id).await
}

// --- destroy / recover / expunge -------------------------------------------------------------

pub static DESTROY: SagaDef = SagaDef {
    pivot: Some(1),
    kind: "destroy",
    steps: &[
        Step {
            name: "stopping",
            run: to_stopping,
            undo: Some(back_to_running),
        },
        Step {
            name: "halt",
            run: halt,
            undo: None,
        },
        Step {
            name: "destroyed",
            run: mark_destroyed,
            undo: None,
        },
    ],
};

pub static DESTROY_EXPUNGE: SagaDef = SagaDef {
    pivot: Some(1),
    kind: "destroy-expunge",
    steps: &[
        Step {
            name: "stopping",
            run: to_stopping,
            undo: Some(back_to_running),
        },
        Step {
            name: "halt",
            run: halt,
            undo: None,
        },
        Step {
            name: "expunging",
            run: to_expunging,
            undo: None,
        },
        Step {
            name: "volumes",
            run: delete_volumes,
            undo: None,
        },
        Step {
            name: "removed",
            run: mark_removed,
            undo: None,
        },
    ],
};

pub static EXPUNGE: SagaDef = SagaDef {
    pivot: Some(0),
    kind: "expunge",
    steps: &[
        Step {
            name: "expunging",
            run: to_expunging,
            undo: None,
        },
        Step {
            name: "volumes",
            run: delete_volumes,
            undo: None,
        },
        Step {
            name: "removed",
            run: mark_removed,
            undo: None,
        },
    ],
};

fn mark_destroyed(cx: &mut SagaCx) -> BoxFuture<'_, AppResult<()>> {
    Box::pin(async move {
        let mut tx = cx.st.store.begin().await?;
        let moved = db::vm_transition(
            &mut tx,
            cx.resource,
            &["Stopping", "Stopped", "Destroyed"],
            "Destroyed",
            &VmPlace::off(),
        )
        .await?;
        tx.commit().await?;
        if !moved {
            let vm = vm_of(cx).await?;
            return Err(state_err(&vm, "destroy"));
        }
        Ok(())
    })
}

fn to_expunging(cx: &mut SagaCx) -> BoxFuture<'_, AppResult<()>> {
    Box::pin(async move {
        let mut tx = cx.st.store.begin().await?;
        let moved = db::vm_transition(
            &mut tx,
            cx.resource,
            &["Stopping", "Stopped", "Destroyed", "Error", "Expunging"],
            "Expunging",
            &VmPlace::off(),
        )
        .await?;
        tx.commit().await?;
        if !moved {
            let vm = vm_of(cx).await?;
            return Err(state_err(&vm, "expunge"));
        }
        Ok(())
    })
}

/// A connected host that can reach a volume: the one that created it, else any Up host of the
/// VM's last cluster.
pub(crate) async fn host_for_volume(
    st: &State,
    v: &VolumeRow,
    vm: &VmRow,
) -> AppResult<Option<Uuid>> {
    for h in v.host_id.into_iter().chain(vm.last_host_id) {
        if st.hub.is_connected(h) {
            return Ok(Some(h));
        }
    }
    Ok(None)
}

/// Deletes the VM's ROOT volume (and the DATA volumes named in `volumeids`) on their host and
/// marks them expunged; other DATA volumes are detached and kept.
fn delete_volumes(cx: &mut SagaCx) -> BoxFuture<'_, AppResult<()>> {
    Box::pin(async move {
        let vm = vm_of(cx).await?;
        let also = cx.uuids("volumeids");
        for v in volumes_of(&cx.st, vm.id).await? {
            let delete = v.vol_type == "ROOT" || also.contains(&v.id);
            if !delete {
                let mut tx = cx.st.store.begin().await?;
                db::volume_attach(&mut tx, v.id, None).await?;
                tx.commit().await?;
                continue;
            }
            if let Some(pool) = v.pool_id {
                match host_for_volume(&cx.st, &v, &vm).await? {
                    Some(h) => {
                        let path = pool_path(&cx.st, pool).await?;
                        cx.st
                            .hub
                            .command_ready(
                                h,
                                proto::Command::DeleteVolume {
                                    pool_path: path,
                                    volume_id: v.id,
                                },
                                HOST_TIMEOUT,
                            )
                            .await?;
                    }
                    None => {
                        return Err(ApiError::new(
                            ErrorCode::ResourceUnavailable,
                            format!(
                                "No connected host can reach volume {} to delete it; try again when its host is Up",
                                v.name
                            ),
                        )
                        .into())
                    }
                }
            }
            let mut tx = cx.st.store.begin().await?;
            db::volume_mark_removed(&mut tx, v.id).await?;
            db::tag_delete_for_resource(&mut tx, v.id).await?;
            tx.commit().await?;
        }
        Ok(())
    })
}

fn mark_removed(cx: &mut SagaCx) -> BoxFuture<'_, AppResult<()>> {
    Box::pin(async move {
        let mut tx = cx.st.store.begin().await?;
        db::vm_mark_removed(&mut tx, cx.resource).await?;
        db::nic_release_for_vm(&mut tx, cx.resource).await?;
        db::tag_delete_for_resource(&mut tx, cx.resource).await?;
        tx.commit().await?;
        Ok(())
    })
}

fn may_expunge(st: &State, ctx: &OpContext) -> AppResult<()> {
    if ctx.is_admin() || st.settings.bool("allow.user.expunge.recover.vm") {
        Ok(())
    } else {
        Err(ApiError::permission(
            "Parameter expunge can be passed by Admin only (or when allow.user.expunge.recover.vm is true)",
        )
        .into())
    }
}

pub async fn destroy_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let vm = owned(st, ctx, args.required_id("id")?).await?;
    if args.flag("expunge") {
        may_expunge(st, ctx)?;
    }
    match vm.state.as_str() {
        "Running" | "Stopped" | "Stopping" | "Error" => {}
        "Destroyed" if args.flag("expunge") => {}
        _ => return Err(state_err(&vm, "destroy")),
    }
    for v in args.list("volumeids").unwrap_or_default() {
        let id: Uuid = v
            .trim()
            .parse()
            .map_err(|_| ApiError::invalid_id("volumeids", v))?;
        let mut c = st.store.read().await?;
        let vol = db::volume_get(&mut c, id)
            .await?
            .ok_or_else(|| ApiError::invalid_id("volumeids", v))?;
        if vol.vm_id != Some(vm.id) || vol.vol_type != "DATADISK" {
            return param_err(format!(
                "Volume {} is not a data volume of VM {}",
                vol.name, vm.display_name
            ));
        }
    }
    Ok(job_plan(&vm, "Destroying"))
}

pub async fn destroy_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let id: Uuid = job.instance()?;
    // After a restart the saga may already have removed the VM: answer from its last row.
    let vm = {
        let mut c = st.store.read().await?;
        db::vm_get_any(&mut c, id).await?
    }
    .ok_or_else(|| vm_gone(id))?;
    let mut data = Map::new();
    data.insert("forced".into(), json!(true));
    if let Some(v) = args.list("volumeids") {
        data.insert("volumeids".into(), json!(v));
    }
    let expunge = args.flag("expunge") || vm.state == "Error";
    if expunge {
        saga::run(st, job.id, &DESTROY_EXPUNGE, id, data).await?;
        // The removed VM, as its last state.
        let mut view = one_view(st, ctx, &vm).await?;
        view["state"] = json!("Expunging");
        return Ok(json!({ "virtualmachine": view }));
    }
    saga::run(st, job.id, &DESTROY, id, data).await?;
    result(st, ctx, id).await
}

pub async fn expunge_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let vm = owned(st, ctx, args.required_id("id")?).await?;
    may_expunge(st, ctx)?;
    if !matches!(vm.state.as_str(), "Destroyed" | "Error" | "Expunging") {
        return param_err(format!(
            "Please destroy VM {} before expunging it (it is {})",
            vm.display_name, vm.state
        ));
    }
    Ok(job_plan(&vm, "Expunging"))
}

pub async fn expunge_run(
    st: &State,
    _ctx: &OpContext,
    _args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let id: Uuid = job.instance()?;
    saga::run(st, job.id, &EXPUNGE, id, Map::new()).await?;
    Ok(success_body())
}

pub async fn recover(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let vm = owned(st, ctx, args.required_id("id")?).await?;
    if !ctx.is_admin() && !st.settings.bool("allow.user.expunge.recover.vm") {
        return Err(ApiError::permission(
            "Recovering a VM is for admins only (or when allow.user.expunge.recover.vm is true)",
        )
        .into());
    }
    if vm.state != "Destroyed" {
        return Err(state_err(&vm, "recover"));
    }
    let mut tx = st.store.begin().await?;
    if !db::vm_transition(&mut tx, vm.id, &["Destroyed"], "Stopped", &VmPlace::keep()).await? {
        return Err(state_err(&vm, "recover"));
    }
    Event::new(
        ctx,
        "VM.RECOVER",
        format!("VM {} recovered", vm.instance_name),
    )
    .resource(vm.id, "VirtualMachine", Some(&vm.name))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    result(st, ctx, vm.id).await
}

// --- change offering / scale / reset key ----------------------------------------------------

/// The new offering and what it gives this VM; refuses system, inactive and unchanged
/// offerings, checks storage type and the limits for the increase.
async fn new_offering(st: &State, vm: &VmRow, args: &Args) -> AppResult<(InfraRow, i64, i64, i64)> {
    let so = infra_get(
        st,
        Infra::ServiceOffering,
        "serviceofferingid",
        args.required_id("serviceofferingid")?,
    )
    .await?;
    if attr_b(&so, "issystem") || so.state == "Inactive" {
        return param_err(format!(
            "Service offering {} cannot be used for a user VM",
            so.name
        ));
    }
    let (cpus, mhz, mem) = compute_of(&so, args)?;
    if so.id == vm.service_offering_id && (cpus, mhz, mem) == (vm.cpus, vm.cpu_mhz, vm.memory_mib) {
        return param_err("The VM already has this service offering");
    }
    let local_now = vm.attrs["localstorage"].as_bool().unwrap_or(false);
    let local_new = attr_s(&so, "storagetype").as_deref() == Some("local");
    if local_now != local_new {
        return param_err("The new offering's storage type (local/shared) differs from the VM's: its disks cannot move");
    }
    let acct = access::account(st, "id", vm.account_id).await?;
    super::limits::enforce(
        st,
        &acct,
        &[
            (model::limits::ResourceType::Cpu, cpus - vm.cpus),
            (model::limits::ResourceType::Memory, mem - vm.memory_mib),
        ],
    )
    .await?;
    Ok((so, cpus, mhz, mem))
}

async fn apply_offering(
    st: &State,
    ctx: &OpContext,
    vm: &VmRow,
    so: &InfraRow,
    (cpus, mhz, mem): (i64, i64, i64),
    from: &[&str],
) -> AppResult<bool> {
    let mut attrs = vm.attrs.clone();
    attrs["hosttags"] = json!(attr_s(so, "hosttags"));
    attrs["storagetags"] = json!(attr_s(so, "storagetags"));
    let mut tx = st.store.begin().await?;
    // Only in the state the caller checked (a concurrent start must not be scaled behind its
    // back): re-check under the write lock.
    let now = db::vm_get(&mut tx, vm.id).await?;
    if !now
        .map(|v| from.contains(&v.state.as_str()))
        .unwrap_or(false)
    {
        return Ok(false);
    }
    db::vm_update(
        &mut tx,
        vm.id,
        &db::VmChanges {
            offering: Some((so.id, cpus, mhz, mem)),
            attrs: Some(attrs),
            ha_enable: Some(attr_b(so, "offerha")),
            ..Default::default()
        },
    )
    .await?;
    Event::new(
        ctx,
        "VM.UPGRADE",
        format!(
            "VM {} now has service offering {}",
            vm.instance_name, so.name
        ),
    )
    .resource(vm.id, "VirtualMachine", Some(&vm.name))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(true)
}

pub async fn change_service(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let vm = owned(st, ctx, args.required_id("id")?).await?;
    if vm.state != "Stopped" {
        return param_err(format!(
            "Unable to upgrade virtual machine {}: it is {}; stop it first, or use scaleVirtualMachine",
            vm.display_name, vm.state
        ));
    }
    let (so, cpus, mhz, mem) = new_offering(st, &vm, args).await?;
    if !apply_offering(st, ctx, &vm, &so, (cpus, mhz, mem), &["Stopped"]).await? {
        return Err(state_err(&vm, "upgrade"));
    }
    result(st, ctx, vm.id).await
}

pub async fn scale_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let vm = owned(st, ctx, args.required_id("id")?).await?;
    if !matches!(vm.state.as_str(), "Running" | "Stopped") {
        return Err(state_err(&vm, "scale"));
    }
    let (_, cpus, mhz, mem) = new_offering(st, &vm, args).await?;
    if vm.state == "Running" && (cpus < vm.cpus || mhz < vm.cpu_mhz || mem < vm.memory_mib) {
        return param_err("Only scaling up a running VM is supported: stop it to scale down");
    }
    Ok(job_plan(&vm, "Scaling"))
}

pub async fn scale_run(st: &State, ctx: &OpContext, args: &Args, job: &JobRef) -> AppResult<Value> {
    let id: Uuid = job.instance()?;
    let vm = load(st, id).await?.ok_or_else(|| vm_gone(id))?;
    let (so, cpus, mhz, mem) = match new_offering(st, &vm, args).await {
        Ok(x) => x,
        // Resumed after the change was applied.
        Err(_) if vm.service_offering_id == args.uuid("serviceofferingid").unwrap_or_default() => {
            return result(st, ctx, id).await
        }
        Err(e) => return Err(e),
    };
    if vm.state == "Stopped" {
        if !apply_offering(st, ctx, &vm, &so, (cpus, mhz, mem), &["Stopped"]).await? {
            return Err(state_err(&vm, "scale"));
        }
        return result(st, ctx, id).await;
    }
    let (Some(host), Some(cluster)) = (vm.host_id, vm.cluster_id) else {
        return Err(state_err(&vm, "scale"));
    };
    // The increase must fit the VM's host (under its lock), as a deploy would.
    let snap = crate::placing::snapshot(st, vm.zone_id).await?;
    let (Some(h), Some(c)) = (
        snap.hosts.iter().find(|x| x.id == host),
        snap.clusters.iter().find(|x| x.id == cluster),
    ) else {
        return Err(AppError::Internal(
            "the VM's host is not in its zone".into(),
        ));
    };
    {
        let mut tx = st.store.begin().await?;
        db::host_lock(&mut tx, host).await?;
        let used = db::host_usage(&mut tx, host).await?;
        let cpu = used.cpu_mhz - vm.cpus * vm.cpu_mhz + cpus * mhz;
        let memory = used.memory_mib - vm.memory_mib + mem;
        let fits = cpu as f64 <= h.cpus as f64 * h.cpu_mhz as f64 * c.cpu_overcommit
            && ((memory.max(0) as u64) << 20) as f64 <= h.memory as f64 * c.mem_overcommit
            && h.cpus as i64 >= cpus
            && h.cpu_mhz as i64 >= mhz;
        if !fits {
            return Err(ApiError::new(
                ErrorCode::InsufficientCapacity,
                format!(
                    "Unable to scale VM {}: its host does not have enough free CPU or memory",
                    vm.instance_name
                ),
            )
            .into());
        }
        // Claim it in the same transaction: the VM's new size is what the host holds.
        db::vm_update(
            &mut tx,
            vm.id,
            &db::VmChanges {
                offering: Some((so.id, cpus, mhz, mem)),
                ..Default::default()
            },
        )
        .await?;
        tx.commit().await?;
    }
    let r = st
        .hub
        .command_ready(
            host,
            proto::Command::ScaleVm {
                name: vm.instance_name.clone(),
                cpus: cpus.clamp(0, u32::MAX as i64) as u32,
                cpu_mhz: mhz.max(0) as u64,
                memory_mib: mem.max(0) as u64,
            },
            HOST_TIMEOUT,
        )
        .await;
    if let Err(e) = r {
        // Put the old size back: the host did not take the new one.
        let mut tx = st.store.begin().await?;
        db::vm_update(
            &mut tx,
            vm.id,
            &db::VmChanges {
                offering: Some((vm.service_offering_id, vm.cpus, vm.cpu_mhz, vm.memory_mib)),
                ..Default::default()
            },
        )
        .await?;
        tx.commit().await?;
        return Err(e);
    }
    apply_offering(st, ctx, &vm, &so, (cpus, mhz, mem), &["Running"]).await?;
    result(st, ctx, id).await
}

pub async fn reset_key_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let vm = owned(st, ctx, args.required_id("id")?).await?;
    if vm.state != "Stopped" {
        return param_err(format!(
            "Vm {} should be stopped to do SSH Key reset",
            vm.display_name
        ));
    }
    reset_keys(st, &vm, args).await?;
    Ok(job_plan(&vm, "Resetting the SSH key of"))
}

async fn reset_keys(st: &State, vm: &VmRow, args: &Args) -> AppResult<Vec<String>> {
    let mut names: Vec<String> = Vec::new();
    if let Some(k) = args.text("keypair") {
        names.push(k.to_string());
    }
    for k in args.list("keypairs").unwrap_or_default() {
        if !names.contains(k) {
            names.push(k.clone());
        }
    }
    if names.is_empty() {
        return param_err("Please specify keypair or keypairs");
    }
    let mut c = st.store.read().await?;
    for k in &names {
        if db::keypair_get_by_name(&mut c, vm.account_id, k)
            .await?
            .is_none()
        {
            return param_err(format!(
                "A key pair with name '{k}' does not exist for account {} in specified domain id",
                vm.account_name
            ));
        }
    }
    Ok(names)
}

/// The new keys are stored with the VM and reach the guest (as its authorized_keys) at its
/// next start.
pub async fn reset_key_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let id: Uuid = job.instance()?;
    let vm = load(st, id).await?.ok_or_else(|| vm_gone(id))?;
    let names = reset_keys(st, &vm, args).await?;
    let mut tx = st.store.begin().await?;
    db::vm_update(
        &mut tx,
        vm.id,
        &db::VmChanges {
            keypairs: Some(names),
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    result(st, ctx, id).await
}

/// listVirtualMachinesMetrics: the VMs of listVirtualMachines with their usage figures. The
/// simulator reports no guest statistics, so usage is the allocation: CPU as configured,
/// disk as the size of the volumes.
pub async fn list_metrics(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let mut body = list(st, ctx, args).await?;
    let Some(items) = body.get_mut("virtualmachine").and_then(Value::as_array_mut) else {
        return Ok(body);
    };
    for vm in items.iter_mut() {
        let id: Uuid = vm["id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or_default();
        let vols = volumes_of(st, id).await?;
        let disk: i64 = vols.iter().map(|v| v.size).sum();
        let cpus = vm["cpunumber"].as_i64().unwrap_or(0);
        let mhz = vm["cpuspeed"].as_i64().unwrap_or(0);
        let mem = vm["memory"].as_i64().unwrap_or(0);
        vm["cputotal"] = json!(format!("{:.2} Ghz", (cpus * mhz) as f64 / 1000.0));
        vm["cpuused"] = json!("0%");
        vm["memorytotal"] = json!(format!("{:.2} GB", mem as f64 / 1024.0));
        vm["disksizetotal"] = json!(disk);
        vm["disksizetotalgb"] = json!(format!("{:.2} GB", disk as f64 / GIB as f64));
        vm["networkread"] = json!("0.00 MB");
        vm["networkwrite"] = json!("0.00 MB");
        vm["diskread"] = json!("0.00 MB");
        vm["diskwrite"] = json!("0.00 MB");
        vm["diskiopstotal"] = json!(0);
        vm["ipaddress"] = json!(null);
    }
    Ok(body)
}

// --- update / list ---------------------------------------------------------------------------

pub async fn update(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let vm = owned(st, ctx, args.required_id("id")?).await?;
    let mut ch = db::VmChanges::default();
    if let Some(n) = args.text("name") {
        check_hostname(n)?;
        if n != vm.name {
            if vm.state != "Stopped" {
                return param_err("The VM's host name can only be changed while it is Stopped");
            }
            ch.name = Some(n.to_string());
        }
    }
    if let Some(d) = args.text("displayname") {
        ch.display_name = Some(d.to_string());
    }
    if let Some(h) = args.bool("haenable") {
        ch.ha_enable = Some(h);
    }
    if let Some(g) = args.str("group") {
        ch.group = Some(Some(g.trim().to_string()).filter(|g| !g.is_empty()));
    }
    if let Some(u) = args.text("userdata") {
        check_userdata(u, st.settings.int("vm.userdata.max.length"))?;
        ch.userdata = Some(u.to_string());
    }
    let mut attrs = vm.attrs.clone();
    let mut attrs_changed = false;
    if let Some(d) = args.bool("displayvm") {
        attrs["displayvm"] = json!(d);
        attrs_changed = true;
    }
    if let Some(maps) = args.map("details") {
        let mut details = if args.flag("cleanupdetails") {
            Map::new()
        } else {
            attrs["details"].as_object().cloned().unwrap_or_default()
        };
        for m in maps {
            for (k, v) in m {
                details.insert(k.clone(), json!(v));
            }
        }
        attrs["details"] = Value::Object(details);
        attrs_changed = true;
    } else if args.flag("cleanupdetails") {
        attrs["details"] = json!({});
        attrs_changed = true;
    }
    if attrs_changed {
        ch.attrs = Some(attrs);
    }
    let mut tx = st.store.begin().await?;
    db::vm_update(&mut tx, vm.id, &ch).await?;
    Event::new(ctx, "VM.UPDATE", format!("VM {} updated", vm.instance_name))
        .resource(vm.id, "VirtualMachine", Some(&vm.name))
        .record(&mut tx)
        .await?;
    tx.commit().await?;
    result(st, ctx, vm.id).await
}

pub async fn list(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let scope = access::owner_scope(st, ctx, args).await?;
    let mut f = db::VmFilter {
        scope: Some(scope),
        offset: args.page.offset,
        limit: args.page.limit,
        ..Default::default()
    };
    if let Some(id) = args.uuid("id") {
        f.ids.push(id);
    }
    if let Some(ids) = args.list("ids") {
        for s in ids {
            f.ids.push(
                s.trim()
                    .parse()
                    .map_err(|_| ApiError::invalid_id("ids", s))?,
            );
        }
    }
    f.name = args.text("name").map(str::to_string);
    match args.text("state") {
        Some(s) if s.eq_ignore_ascii_case("present") => {
            f.hide_states = vec!["Destroyed".into(), "Expunging".into()];
        }
        Some(s) => {
            let canon = [
                "Starting",
                "Running",
                "Stopping",
                "Stopped",
                "Destroyed",
                "Expunging",
                "Migrating",
                "Error",
                "Unknown",
                "Shutdown",
            ]
            .into_iter()
            .find(|x| x.eq_ignore_ascii_case(s))
            .unwrap_or(s);
            f.states = vec![canon.to_string()];
        }
        None => {}
    }
    if !ctx.is_admin() && !st.settings.bool("allow.user.view.destroyed.vm") {
        f.hide_states
            .extend(["Destroyed".to_string(), "Expunging".to_string()]);
    }
    f.zone_id = args.uuid("zoneid");
    f.template_id = args.uuid("templateid");
    f.iso_id = args.uuid("isoid");
    f.service_offering_id = args.uuid("serviceofferingid");
    f.group = args
        .text("groupid")
        .or(args.text("group"))
        .map(str::to_string);
    f.ha_enable = args.bool("haenable");
    f.keypair = args.text("keypair").map(str::to_string);
    f.user_id = args.id("userid");
    f.keyword = args.text("keyword").map(str::to_string);
    if ctx.is_admin() {
        f.pod_id = args.uuid("podid");
        f.cluster_id = args.uuid("clusterid");
        f.host_id = args.uuid("hostid");
        f.storage_id = args.uuid("storageid");
    }
    for m in args.map("tags").unwrap_or_default() {
        if let (Some(k), Some(v)) = (m.get("key"), m.get("value")) {
            f.tags.push((k.clone(), v.clone()));
        }
    }
    let (rows, total) = {
        let mut c = st.store.read().await?;
        db::vm_list(&mut c, &f).await?
    };
    if args.flag("retrieveonlyresourcecount") {
        return Ok(json!({ "count": total }));
    }
    let n = names(st, &rows).await?;
    let ids: Vec<Uuid> = rows.iter().map(|v| v.id).collect();
    let tags = super::tags::for_resources(st, &ids).await?;
    let items: Vec<Value> = rows.iter().map(|v| view(ctx, v, &n, &tags)).collect();
    Ok(list_body("virtualmachine", total, items))
}
