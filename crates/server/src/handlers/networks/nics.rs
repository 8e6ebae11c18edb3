//! A VM's NICs: listNics, addNicToVirtualMachine, removeNicFromVirtualMachine,
//! updateDefaultNicForVirtualMachine.

use api::{list_body, ApiError, Args, ErrorCode};
use serde_json::Value;
use uuid::Uuid;

use super::*;
use crate::events::Event;
use crate::jobs::{JobPlan, JobRef};

async fn nics_of(st: &State, vm: Uuid) -> AppResult<Vec<db::NicRow>> {
    let mut c = st.store.read().await?;
    Ok(db::nics_for_vms(&mut c, &[model::VmId(vm)]).await?)
}

pub async fn list_nics(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let vm = super::super::vms::owned(st, ctx, args.required_id("virtualmachineid")?).await?;
    let mut nics = nics_of(st, vm.id.into()).await?;
    if let Some(n) = args.uuid("nicid") {
        nics.retain(|x| x.id == n);
    }
    if let Some(n) = args.uuid("networkid") {
        nics.retain(|x| x.network_id == n);
    }
    let total = nics.len() as u64;
    let nics = args.page.slice(nics);
    Ok(list_body("nic", total, nics.iter().map(nic_view).collect()))
}

fn vm_plan(vm: &db::VmRow, what: &str) -> JobPlan {
    JobPlan {
        instance_type: Some("VirtualMachine"),
        instance_id: Some(vm.id.to_string()),
        returns_id: false,
        description: format!("{what} VM {}", vm.instance_name),
    }
}

pub async fn add_nic_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let vm = super::super::vms::owned(st, ctx, args.required_id("virtualmachineid")?).await?;
    let n = network_get(st, "networkid", args.required_id("networkid")?).await?;
    if n.zone_id != vm.zone_id {
        return param_err(format!("Network {} is not in the VM's zone", n.name));
    }
    let acct = crate::access::account(st, "account", vm.account_id).await?;
    check_use(st, ctx, &acct, &n).await?;
    if !matches!(vm.state, model::VmState::Running | model::VmState::Stopped) {
        return Err(super::super::vms::state_err(&vm, "add a NIC to"));
    }
    if nics_of(st, vm.id.into())
        .await?
        .iter()
        .any(|x| x.network_id == n.id)
    {
        return param_err(format!(
            "Network {} already has a vm with host name: {}",
            n.name, vm.name
        ));
    }
    Ok(vm_plan(&vm, "Adding a NIC to"))
}

pub async fn add_nic_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    _job: &JobRef,
) -> AppResult<Value> {
    let vm = super::super::vms::owned(st, ctx, args.required_id("virtualmachineid")?).await?;
    let n = network_get(st, "networkid", args.required_id("networkid")?).await?;
    let nics = nics_of(st, vm.id.into()).await?;
    // Resumed after the NIC was made: done.
    if !nics.iter().any(|x| x.network_id == n.id) {
        let device = nics.iter().map(|x| x.device_id).max().map_or(0, |d| d + 1);
        allocate_nic(
            st,
            vm.id.into(),
            &n,
            args.text("ipaddress"),
            args.text("macaddress"),
            device,
            nics.is_empty(),
        )
        .await?;
        if vm.state == model::VmState::Running {
            implement(st, n.id).await?;
        }
        let mut tx = st.store.begin().await?;
        Event::new(
            ctx,
            "NIC.CREATE",
            format!("NIC on network {} added to VM {}", n.name, vm.instance_name),
        )
        .resource(vm.id, "VirtualMachine", Some(&vm.name))
        .record(&mut tx)
        .await?;
        tx.commit().await?;
    }
    super::super::vms::result(st, ctx, vm.id.into()).await
}

async fn vm_and_nic(
    st: &State,
    ctx: &OpContext,
    args: &Args,
) -> AppResult<(db::VmRow, db::NicRow, Vec<db::NicRow>)> {
    let vm = super::super::vms::owned(st, ctx, args.required_id("virtualmachineid")?).await?;
    let nic_id: Uuid = args.required_id("nicid")?;
    let nics = nics_of(st, vm.id.into()).await?;
    let nic = nics
        .iter()
        .find(|x| x.id == nic_id)
        .cloned()
        .ok_or_else(|| ApiError::invalid_id("nicid", &nic_id.to_string()))?;
    Ok((vm, nic, nics))
}

pub async fn remove_nic_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let (vm, nic, _) = vm_and_nic(st, ctx, args).await?;
    if nic.is_default {
        return param_err(format!(
            "Unable to remove nic from VM {} in network {}: it is the default NIC; make another NIC the default first",
            vm.instance_name, nic.network_name
        ));
    }
    if nic_in_rules(st, &vm, &nic).await? {
        return Err(ApiError::new(
            ErrorCode::ResourceInUse,
            format!(
                "Unable to remove nic from VM {}: its address {} is used by static NAT, port forwarding or load balancing rules",
                vm.instance_name,
                nic.ip4.as_deref().unwrap_or("")
            ),
        )
        .into());
    }
    Ok(vm_plan(&vm, "Removing a NIC from"))
}

/// Whether a NIC's address is the target of rules of its network.
async fn nic_in_rules(st: &State, vm: &db::VmRow, nic: &db::NicRow) -> AppResult<bool> {
    let mut c = st.store.read().await?;
    let rules = db::rule_list(
        &mut c,
        &db::RuleFilter {
            kinds: vec!["portforward"],
            network_ids: vec![nic.network_id],
            ..Default::default()
        },
    )
    .await?
    .0;
    if rules.iter().any(|r| r.spec.target_vm() == Some(vm.id)) {
        return Ok(true);
    }
    let nat = db::public_ip_list(
        &mut c,
        &db::PublicIpFilter {
            static_nat_vm: Some(vm.id.into()),
            network_id: Some(nic.network_id),
            ..Default::default()
        },
    )
    .await?
    .1;
    Ok(nat > 0)
}

pub async fn remove_nic_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    _job: &JobRef,
) -> AppResult<Value> {
    let vm = super::super::vms::owned(st, ctx, args.required_id("virtualmachineid")?).await?;
    let nic_id: Uuid = args.required_id("nicid")?;
    let mut tx = st.store.begin().await?;
    if db::nic_remove(&mut tx, nic_id).await? > 0 {
        Event::new(
            ctx,
            "NIC.DELETE",
            format!("NIC {nic_id} removed from VM {}", vm.instance_name),
        )
        .resource(vm.id, "VirtualMachine", Some(&vm.name))
        .record(&mut tx)
        .await?;
    }
    tx.commit().await?;
    super::super::vms::result(st, ctx, vm.id.into()).await
}

pub async fn default_nic_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let (vm, _, _) = vm_and_nic(st, ctx, args).await?;
    Ok(vm_plan(&vm, "Changing the default NIC of"))
}

pub async fn default_nic_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    _job: &JobRef,
) -> AppResult<Value> {
    let (vm, nic, _) = vm_and_nic(st, ctx, args).await?;
    let mut tx = st.store.begin().await?;
    db::nic_set_default(&mut tx, vm.id, nic.id).await?;
    tx.commit().await?;
    super::super::vms::result(st, ctx, vm.id.into()).await
}

// --- secondary addresses (addIpToNic, removeIpFromNic) ---------------------------------------

/// The VM (the caller's to change) and the NIC `nicid` names.
async fn owned_nic(st: &State, ctx: &OpContext, nic: Uuid) -> AppResult<(db::VmRow, db::NicRow)> {
    let vm = {
        let mut c = st.store.read().await?;
        db::nic_vm(&mut c, nic).await?
    }
    .ok_or_else(|| ApiError::invalid_id("nicid", &nic.to_string()))?;
    let vm = super::super::vms::owned(st, ctx, vm.into()).await?;
    let n = nics_of(st, vm.id.into())
        .await?
        .into_iter()
        .find(|x| x.id == nic)
        .ok_or_else(|| ApiError::invalid_id("nicid", &nic.to_string()))?;
    Ok((vm, n))
}

fn secondary_view(id: Uuid, ip: &str, nic: &db::NicRow) -> Value {
    serde_json::json!({
        "id": id,
        "ipaddress": ip,
        "nicid": nic.id,
        "networkid": nic.network_id,
        "virtualmachineid": nic.vm_id,
    })
}

/// addIpToNic: a secondary address of the NIC's network (the one asked for, or a free one),
/// reserved at once so no VM takes it; the data plane lets the VM send from it.
pub async fn add_ip_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let (vm, nic) = owned_nic(st, ctx, args.required_id("nicid")?).await?;
    if !matches!(vm.state, model::VmState::Running | model::VmState::Stopped) {
        return Err(super::super::vms::state_err(&vm, "add an address to"));
    }
    let n = network_get(st, "nicid", nic.network_id).await?;
    if n.guest_type == "L2" || n.cidr.is_none() {
        return param_err(format!(
            "Network {} has no addresses to give (L2): configure the guest itself",
            n.name
        ));
    }
    let want = match args.text("ipaddress") {
        Some(a) => Some(
            a.trim()
                .parse::<std::net::Ipv4Addr>()
                .map_err(|_| ApiError::param(format!("Invalid IP address {a}")))?,
        ),
        None => None,
    };
    let id = Uuid::new_v4();
    let ip = crate::handlers::lb::internal::reserve_as(st, &n, want, nic.id, (id, db::SECONDARY))
        .await?;
    let mut tx = st.store.begin().await?;
    Event::new(
        ctx,
        "NIC.SECONDARY.IP.ASSIGN",
        format!("{ip} added to NIC {} of VM {}", nic.id, vm.instance_name),
    )
    .resource(vm.id, "VirtualMachine", Some(&vm.name))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(JobPlan {
        instance_type: Some("NicSecondaryIp"),
        instance_id: Some(id.to_string()),
        returns_id: true,
        description: format!("Adding {ip} to a NIC of VM {}", vm.instance_name),
    })
}

pub async fn add_ip_run(
    st: &State,
    ctx: &OpContext,
    _args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let id: Uuid = job.instance()?;
    let s = {
        let mut c = st.store.read().await?;
        db::nic_secondary_get(&mut c, id).await?
    }
    .ok_or_else(|| ApiError::invalid_id("id", &id.to_string()))?;
    let (vm, nic) = owned_nic(st, ctx, s.1).await?;
    crate::netsync::vm_changed(st, vm.id, true).await;
    Ok(serde_json::json!({ "nicsecondaryip": secondary_view(s.0, &s.3, &nic) }))
}

async fn owned_secondary(
    st: &State,
    ctx: &OpContext,
    id: Uuid,
) -> AppResult<(db::VmRow, db::SecondaryIp)> {
    let s = {
        let mut c = st.store.read().await?;
        db::nic_secondary_get(&mut c, id).await?
    }
    .ok_or_else(|| ApiError::invalid_id("id", &id.to_string()))?;
    let (vm, _) = owned_nic(st, ctx, s.1).await?;
    Ok((vm, s))
}

pub async fn remove_ip_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let (vm, s) = owned_secondary(st, ctx, args.required_id("id")?).await?;
    Ok(JobPlan {
        instance_type: Some("NicSecondaryIp"),
        instance_id: Some(s.0.to_string()),
        returns_id: false,
        description: format!("Removing {} from a NIC of VM {}", s.3, vm.instance_name),
    })
}

pub async fn remove_ip_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    _job: &JobRef,
) -> AppResult<Value> {
    let id: Uuid = args.required_id("id")?;
    let found = {
        let mut c = st.store.read().await?;
        db::nic_secondary_get(&mut c, id).await?
    };
    // A resumed job whose address is already gone: done.
    if let Some(s) = found {
        let (vm, _) = owned_nic(st, ctx, s.1).await?;
        let mut tx = st.store.begin().await?;
        db::nic_remove(&mut tx, s.0).await?;
        Event::new(
            ctx,
            "NIC.SECONDARY.IP.UNASSIGN",
            format!(
                "{} removed from NIC {} of VM {}",
                s.3, s.1, vm.instance_name
            ),
        )
        .resource(vm.id, "VirtualMachine", Some(&vm.name))
        .record(&mut tx)
        .await?;
        tx.commit().await?;
        crate::netsync::vm_changed(st, vm.id, true).await;
    }
    Ok(api::success_body())
}
