//! Virtual machines: deployVirtualMachine, listVirtualMachines, start/stop/reboot, destroy,
//! recover, expunge, updateVirtualMachine.
//!
//! Every operation that touches a host is a saga (defined in `domain::vms`) whose steps move the VM
//! through CloudStack's state machine with conditional updates, so an illegal or concurrent
//! transition changes nothing and is reported, never half-applied:
//! - start (also the second half of deploy): reserve (placement + a capacity re-check under
//!   the host's lock) → create volumes on the host → boot on the host → Running. A failure
//!   unwinds: the host VM is stopped, created volumes deleted, the reservation released (a
//!   VM that never ran goes to Error, as CloudStack's OperationFailedToError).
//! - stop: Stopping → halt on the host → Stopped (off the host). A failed halt returns the
//!   VM to Running unless `forced`.
//! - destroy: stop, then Destroyed (or, with expunge, Expunging → delete volumes → removed).

use std::collections::HashMap;

use api::{list_body, success_body, ApiError, Args, ErrorCode};
use base64::Engine;
use db::{Infra, InfraRow, VmPlace, VmRow};
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
use crate::saga;
use crate::state::State;

pub(crate) mod deploy;
mod destroy;
mod guest;
mod iso;
mod resize;
mod start;

pub use deploy::*;
pub use destroy::*;
pub use guest::*;
pub use iso::*;
pub use resize::*;
pub use start::*;

pub(crate) use domain::vms::{
    host_for_volume, load, pool_path, DESTROY, DESTROY_EXPUNGE, EXPUNGE, HOST_TIMEOUT, START, STOP,
};

/// [`domain::vms::vm_gone`] as the server's error.
pub(crate) fn vm_gone(id: Uuid) -> AppError {
    domain::vms::vm_gone(id).into()
}

/// The VM the caller may act on.
pub(crate) async fn owned(st: &State, ctx: &OpContext, id: Uuid) -> AppResult<VmRow> {
    let vm = load(st, model::VmId(id))
        .await?
        .ok_or_else(|| ApiError::invalid_id("id", &id.to_string()))?;
    if vm.account_id != ctx.account_id() {
        let a = access::account(st, "id", vm.account_id).await?;
        access::check_account(ctx, &a)?;
    }
    if !ctx.is_admin()
        && matches!(
            vm.state,
            model::VmState::Destroyed | model::VmState::Expunging
        )
        && !st.settings.bool("allow.user.view.destroyed.vm")
    {
        return Err(ApiError::invalid_id("id", &id.to_string()).into());
    }
    Ok(vm)
}

/// [`domain::vms::state_err`] as the server's error.
pub(crate) fn state_err(vm: &VmRow, what: &str) -> AppError {
    domain::vms::state_err(vm, what).into()
}

pub(crate) use domain::vms::volumes_of;

// --- views -----------------------------------------------------------------------------------

pub(crate) struct Names {
    nics: Vec<db::NicRow>,
    zones: HashMap<Uuid, String>,
    offerings: HashMap<Uuid, InfraRow>,
    templates: HashMap<Uuid, InfraRow>,
    hosts: HashMap<model::HostId, String>,
    groups: HashMap<model::VmId, Vec<Value>>,
    /// Affinity groups per VM.
    affinity: HashMap<model::VmId, Vec<Value>>,
    /// Instance groups by (account, name).
    instance_groups: HashMap<(model::AccountId, String), Uuid>,
    /// Running VMs' latest guest statistics.
    stats: std::collections::BTreeMap<model::VmId, model::stats::GuestStats>,
}

pub(crate) async fn infra_rows(
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

pub(crate) async fn names(st: &State, vms: &[VmRow]) -> AppResult<Names> {
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
    let mut host_ids: Vec<model::HostId> = vms.iter().filter_map(|v| v.host_id).collect();
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
        let ids: Vec<model::VmId> = vms.iter().map(|v| v.id).collect();
        let mut c = st.store.read().await?;
        let mut out = Vec::new();
        for chunk in ids.chunks(500) {
            out.extend(db::nics_for_vms(&mut c, chunk).await?);
        }
        out
    };
    let groups = {
        let ids: Vec<model::VmId> = vms.iter().map(|v| v.id).collect();
        let mut out = HashMap::new();
        for chunk in ids.chunks(500) {
            out.extend(super::secgroups::of_vms(st, chunk).await?);
        }
        out
    };
    let stats = domain::guestdata::stats_of(st, &vms.iter().collect::<Vec<_>>()).await?;
    let affinity = {
        let ids: Vec<model::VmId> = vms.iter().map(|v| v.id).collect();
        let mut c = st.store.read().await?;
        let of = db::vm_affinity_of(&mut c, &ids).await?;
        let mut gids: Vec<Uuid> = of.values().flatten().copied().collect();
        gids.sort_unstable();
        gids.dedup();
        let rows: HashMap<Uuid, db::AffinityRow> = if gids.is_empty() {
            HashMap::new()
        } else {
            db::affinity_list(
                &mut c,
                &db::AffinityFilter {
                    ids: gids,
                    ..Default::default()
                },
            )
            .await?
            .into_iter()
            .map(|g| (g.id, g))
            .collect()
        };
        of.into_iter()
            .map(|(vm, gs)| {
                let views = gs
                    .iter()
                    .filter_map(|g| rows.get(g))
                    .map(|g| super::affinity::view(g, &[vm]))
                    .collect();
                (vm, views)
            })
            .collect()
    };
    let mut instance_groups = HashMap::new();
    {
        let mut c = st.store.read().await?;
        for vm in vms {
            if let Some(g) = &vm.group {
                let key = (vm.account_id, g.clone());
                if let std::collections::hash_map::Entry::Vacant(e) = instance_groups.entry(key) {
                    if let Some(row) = db::group_get_by_name(&mut c, vm.account_id, g).await? {
                        e.insert(row.id);
                    }
                }
            }
        }
    }
    Ok(Names {
        affinity,
        instance_groups,
        nics,
        zones,
        offerings,
        templates,
        hosts,
        groups,
        stats,
    })
}

pub(crate) fn view(ctx: &OpContext, vm: &VmRow, n: &Names, tags: &[db::TagRow]) -> Value {
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
    put(
        "deleteprotection",
        json!(vm.attrs["deleteprotection"] == true),
    );
    for k in ["userdataid", "userdataname", "userdatapolicy"] {
        if let Some(v) = vm.attrs.get(k).filter(|v| v.is_string()) {
            put(k, v.clone());
        }
    }
    if let Some(g) = &vm.group {
        put("group", json!(g));
        if let Some(id) = n.instance_groups.get(&(vm.account_id, g.clone())) {
            put("groupid", json!(id));
        }
    }
    if let Some(first) = vm.keypairs.first() {
        // Both: `keypair` (the first key's name) is what libcloud and Ansible's cs_instance
        // read; `keypairs` lists them all (CloudStack 4.17+).
        put("keypair", json!(first));
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
    let mut nics = super::networks::nic_views(&n.nics, vm.id.into());
    if let Some(g) = n.stats.get(&vm.id) {
        stats_view(g, &mut put);
        // A NIC without an address the cloud gave (L2) shows what the guest's agent reports.
        for nic in &mut nics {
            if nic.get("ipaddress").is_some() {
                continue;
            }
            let mac = nic["macaddress"].as_str().unwrap_or_default();
            if let Some(ip) = g
                .interfaces
                .iter()
                .find(|i| !mac.is_empty() && i.mac.eq_ignore_ascii_case(mac))
                .and_then(|i| i.ipv4.first())
            {
                nic["ipaddress"] = json!(ip);
            }
        }
    }
    put("nic", Value::Array(nics));
    put(
        "securitygroup",
        json!(n.groups.get(&vm.id).cloned().unwrap_or_default()),
    );
    put(
        "affinitygroup",
        json!(n.affinity.get(&vm.id).cloned().unwrap_or_default()),
    );
    put("tags", super::tags::embedded(tags, vm.id.into()));
    Value::Object(m)
}

/// A running VM's guest statistics as CloudStack's VM response carries them (kilobytes,
/// requests, `cpuused` as a percentage text).
fn stats_view(g: &model::stats::GuestStats, put: &mut impl FnMut(&str, Value)) {
    put("cpuused", json!(format!("{:.2}%", g.cpu_used_percent)));
    put("memorykbs", json!(g.memory_kib));
    if let Some(f) = g.memory_free_kib {
        put("memoryintfreekbs", json!(f));
    }
    if let Some(t) = g.memory_target_kib {
        put("memorytargetkbs", json!(t));
    }
    put("diskkbsread", json!(g.disk_read_bytes / 1024));
    put("diskkbswrite", json!(g.disk_write_bytes / 1024));
    put("diskioread", json!(g.disk_read_ops));
    put("diskiowrite", json!(g.disk_write_ops));
    put("networkkbsread", json!(g.net_read_bytes / 1024));
    put("networkkbswrite", json!(g.net_write_bytes / 1024));
    put("receivedbytes", json!(g.net_read_bytes));
    put("sentbytes", json!(g.net_write_bytes));
}

pub(crate) async fn one_view(st: &State, ctx: &OpContext, vm: &VmRow) -> AppResult<Value> {
    let n = names(st, std::slice::from_ref(vm)).await?;
    let tags = super::tags::for_resources(st, &[vm.id.into()]).await?;
    Ok(view(ctx, vm, &n, &tags))
}

pub(crate) async fn result_of(st: &State, ctx: &OpContext, vm: &VmRow) -> AppResult<Value> {
    Ok(json!({ "virtualmachine": one_view(st, ctx, vm).await? }))
}

pub(crate) async fn result(st: &State, ctx: &OpContext, id: Uuid) -> AppResult<Value> {
    let vm = load(st, model::VmId(id))
        .await?
        .ok_or_else(|| vm_gone(id))?;
    Ok(json!({ "virtualmachine": one_view(st, ctx, &vm).await? }))
}

// --- update / list ---------------------------------------------------------------------------

pub async fn update(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let vm = owned(st, ctx, args.required_id("id")?).await?;
    let mut ch = db::VmChanges::default();
    if let Some(n) = args.text("name") {
        check_hostname(n)?;
        if n != vm.name {
            if vm.state != model::VmState::Stopped {
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
        let g = g.trim();
        if !g.is_empty() {
            super::instancegroups::ensure(st, vm.account_id, vm.domain_id, g).await?;
        }
        ch.group = Some(Some(g.to_string()).filter(|g| !g.is_empty()));
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
    if let Some(p) = args.bool("deleteprotection") {
        attrs["deleteprotection"] = json!(p);
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
    if ch.userdata.is_some() || ch.name.is_some() {
        // The routers' data servers answer the new user data / host name; a running VM's
        // config drive is rebuilt.
        crate::netsync::vm_changed(st, vm.id, false).await;
        domain::guestdata::refresh_config_drive(st, vm.id).await;
    }
    result(st, ctx, vm.id.into()).await
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
        f.ids.push(model::VmId(id));
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
            f.hide_states = vec![model::VmState::Destroyed, model::VmState::Expunging];
        }
        Some(s) => match model::VmState::parse_loose(s) {
            Some(v) => f.states = vec![v],
            None => f.none = true,
        },
        None => {}
    }
    if !ctx.is_admin() && !st.settings.bool("allow.user.view.destroyed.vm") {
        f.hide_states
            .extend([model::VmState::Destroyed, model::VmState::Expunging]);
    }
    f.zone_id = args.uuid("zoneid");
    f.template_id = args.uuid("templateid");
    f.iso_id = args.uuid("isoid");
    f.service_offering_id = args.uuid("serviceofferingid");
    f.group = args.text("group").map(str::to_string);
    // A group by id: its name within its account (a group the caller cannot see: nothing).
    if let Some(gid) = args.uuid("groupid") {
        match super::instancegroups::filter_of(st, ctx, gid).await? {
            Some((account, name)) => {
                f.group = Some(name);
                f.scope = Some(db::OwnerScope::Account(account));
            }
            None => f.none = true,
        }
    }
    f.ha_enable = args.bool("haenable");
    f.keypair = args.text("keypair").map(str::to_string);
    f.user_id = args.id("userid");
    f.keyword = args.text("keyword").map(str::to_string);
    f.affinity_group = args.uuid("affinitygroupid");
    if ctx.is_admin() {
        f.pod_id = args.uuid("podid");
        f.cluster_id = args.uuid("clusterid");
        f.host_id = args.uuid("hostid").map(model::HostId);
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
    let ids: Vec<Uuid> = rows.iter().map(|v| v.id.0).collect();
    let tags = super::tags::for_resources(st, &ids).await?;
    let items: Vec<Value> = rows.iter().map(|v| view(ctx, v, &n, &tags)).collect();
    Ok(list_body("virtualmachine", total, items))
}
