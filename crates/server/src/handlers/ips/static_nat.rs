//! Static NAT: every port of a public IP to one VM's guest address.

use api::{success_body, Args};
use serde_json::Value;

use super::owned_ip;
use crate::context::OpContext;
use crate::error::{param_err, AppResult};
use crate::events::Event;
use crate::jobs::{JobPlan, JobRef};
use crate::state::State;

// --- static NAT ----------------------------------------------------------------------------

pub async fn enable_static_nat(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let ip = crate::handlers::netrules::rule_ip_on_tier(
        st,
        ctx,
        "ipaddressid",
        args.required_id("ipaddressid")?,
        args.uuid("networkid"),
        args.uuid("virtualmachineid"),
    )
    .await?;
    let net = ip.network_id.unwrap_or_default();
    crate::handlers::netrules::require_service(st, net, "StaticNat").await?;
    if ip.source_nat {
        return param_err(format!(
            "Static NAT can't be enabled on IP {}: it is the network's source NAT address",
            ip.address
        ));
    }
    if let Some(n) = args.uuid("networkid") {
        if n != net {
            return param_err("networkid must be the network of the IP address");
        }
    }
    let (vm, guest) = crate::handlers::netrules::target_vm(
        st,
        ctx,
        args.required_id("virtualmachineid")?,
        net,
        args.text("vmguestip"),
    )
    .await?;
    if ip.static_nat_vm == Some(vm.id.into()) {
        return Ok(success_body());
    }
    if ip.static_nat_vm.is_some() {
        return param_err(format!(
            "Failed to enable static NAT for IP {}: it is already static NAT for another VM",
            ip.address
        ));
    }
    {
        let mut c = st.store.read().await?;
        let busy = db::rule_list(
            &mut c,
            &db::RuleFilter {
                kinds: vec!["portforward", "lb"],
                ip_ids: vec![ip.id],
                ..Default::default()
            },
        )
        .await?
        .1;
        if busy > 0 {
            return param_err(format!(
                "Failed to enable static NAT for IP {}: it has port forwarding or load balancing rules",
                ip.address
            ));
        }
        let other = db::public_ip_list(
            &mut c,
            &db::PublicIpFilter {
                static_nat_vm: Some(vm.id.into()),
                network_id: Some(net),
                ..Default::default()
            },
        )
        .await?
        .0;
        if let Some(o) = other.first() {
            return param_err(format!(
                "Failed to enable static NAT: VM {} is already static NAT for IP {}",
                vm.instance_name, o.address
            ));
        }
    }
    let mut tx = st.store.begin().await?;
    if !db::public_ip_static_nat(&mut tx, ip.id, Some((vm.id.into(), guest.clone()))).await? {
        return param_err(format!(
            "Static NAT was enabled on IP {} concurrently",
            ip.address
        ));
    }
    Event::new(
        ctx,
        "STATICNAT.ENABLE",
        format!(
            "Static NAT {} -> {} ({})",
            ip.address, guest, vm.instance_name
        ),
    )
    .resource(ip.id, "IpAddress", Some(&ip.address))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    crate::netsync::networks_changed(st, &[net]).await?;
    Ok(success_body())
}

pub async fn disable_static_nat_prepare(
    st: &State,
    ctx: &OpContext,
    args: &Args,
) -> AppResult<JobPlan> {
    let ip = owned_ip(st, ctx, "ipaddressid", args.required_id("ipaddressid")?).await?;
    if ip.static_nat_vm.is_none() {
        return param_err(format!("Static NAT is not enabled on IP {}", ip.address));
    }
    Ok(JobPlan {
        instance_type: Some("IpAddress"),
        instance_id: Some(ip.id.to_string()),
        returns_id: false,
        description: format!("Disabling static NAT on {}", ip.address),
    })
}

pub async fn disable_static_nat_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    _job: &JobRef,
) -> AppResult<Value> {
    let ip = owned_ip(st, ctx, "ipaddressid", args.required_id("ipaddressid")?).await?;
    let mut tx = st.store.begin().await?;
    db::public_ip_static_nat(&mut tx, ip.id, None).await?;
    // The IP forwarding rules were port ranges of the static NAT.
    let fwd = db::rule_list(
        &mut tx,
        &db::RuleFilter {
            kinds: vec!["ipforward"],
            ip_ids: vec![ip.id],
            ..Default::default()
        },
    )
    .await?
    .0;
    for r in fwd {
        db::rule_remove(&mut tx, db::RuleOwner::Id, r.id).await?;
    }
    Event::new(
        ctx,
        "STATICNAT.DISABLE",
        format!("Static NAT disabled on {}", ip.address),
    )
    .resource(ip.id, "IpAddress", Some(&ip.address))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    if let Some(n) = ip.network_id {
        crate::netsync::networks_changed(st, &[n]).await?;
    }
    Ok(success_body())
}
