//! VPN gateways: createVpnGateway, deleteVpnGateway, updateVpnGateway, listVpnGateways.

use super::*;

pub async fn create_gateway_prepare(
    st: &State,
    ctx: &OpContext,
    args: &Args,
) -> AppResult<JobPlan> {
    let vpc =
        crate::handlers::vpcs::owned_vpc(st, ctx, "vpcid", args.required_id("vpcid")?).await?;
    let offering = {
        let mut c = st.store.read().await?;
        db::infra_get(&mut c, db::Infra::VpcOffering, vpc.vpc_offering_id).await?
    };
    if !offering.is_some_and(|o| crate::handlers::offerings::vpc::has_service(&o, "Vpn")) {
        return param_err(format!(
            "VPC {} does not support site-to-site VPN (its offering does not provide the Vpn service)",
            vpc.name
        ));
    }
    // The VPC's source-NAT address carries the tunnels.
    let ips = {
        let mut c = st.store.read().await?;
        db::public_ip_list(
            &mut c,
            &db::PublicIpFilter {
                network_id: Some(NetworkId(vpc.id.0)),
                allocated_only: true,
                source_nat: Some(true),
                ..Default::default()
            },
        )
        .await?
        .0
    };
    let Some(ip) = ips.first() else {
        return Err(ApiError::internal(format!(
            "Cannot find the source NAT address of VPC {}",
            vpc.name
        ))
        .into());
    };
    let id = Uuid::new_v4();
    let mut tx = st.store.begin().await?;
    let new = db::NewRule {
        id,
        name: None,
        state: model::RuleState::Active,
        account_id: vpc.account_id,
        domain_id: vpc.domain_id,
        network_id: None,
        ip_id: Some(ip.id),
        parent_id: Some(vpc.id.0),
        spec: RuleSpec::S2sGateway(S2sGatewaySpec {
            fordisplay: args.bool("fordisplay").unwrap_or(true),
        }),
    };
    match db::rule_insert(&mut tx, &new).await {
        Ok(()) => {}
        Err(DbError::Conflict(_)) => {
            return param_err(format!(
                "The VPN gateway of VPC {} already exists",
                vpc.name
            ))
        }
        Err(e) => return Err(e.into()),
    }
    Event::new(
        ctx,
        "VPN.S2S.VPN.GATEWAY.CREATE",
        format!("Site-to-site VPN gateway of VPC {} created", vpc.name),
    )
    .resource(id, "VpnGateway", None)
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(plan(
        "VpnGateway",
        id,
        false,
        format!("Creating the VPN gateway of VPC {}", vpc.name),
    ))
}

pub async fn gateway_run(
    st: &State,
    _ctx: &OpContext,
    _args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let r = rule(st, job.instance()?).await?;
    let v = gateway_views(st, &[r]).await?;
    Ok(json!({ "vpngateway": v.into_iter().next().unwrap_or_default() }))
}

pub async fn delete_gateway_prepare(
    st: &State,
    ctx: &OpContext,
    args: &Args,
) -> AppResult<JobPlan> {
    let (r, plan) = owned_plan(st, ctx, args, GW, "VpnGateway", "Deleting").await?;
    if !connections_of(st, vec![r.id]).await?.is_empty() {
        return param_err(format!(
            "Unable to delete VPN gateway {} because there are still VPN connections on it",
            r.id
        ));
    }
    Ok(plan)
}

pub async fn delete_gateway_run(
    st: &State,
    ctx: &OpContext,
    _args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let Ok(r) = owned_rule(st, ctx, "id", job.instance()?, &[GW]).await else {
        return Ok(success_body());
    };
    if !connections_of(st, vec![r.id]).await?.is_empty() {
        return param_err(format!(
            "Unable to delete VPN gateway {} because there are still VPN connections on it",
            r.id
        ));
    }
    remove(st, ctx, &r, "VPN.S2S.VPN.GATEWAY.DELETE", "VpnGateway").await?;
    Ok(success_body())
}

pub async fn update_gateway_prepare(
    st: &State,
    ctx: &OpContext,
    args: &Args,
) -> AppResult<JobPlan> {
    if args.has("customid") {
        return param_err("customid is not supported");
    }
    Ok(owned_plan(st, ctx, args, GW, "VpnGateway", "Updating")
        .await?
        .1)
}

pub async fn update_gateway_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    crate::handlers::netrules::update_display(st, ctx, args, &[GW]).await?;
    gateway_run(st, ctx, args, job).await
}

pub async fn list_gateways(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let mut f = db::RuleFilter::kind(GW);
    f.scope = Some(crate::access::owner_scope(st, ctx, args).await?);
    f.ids.extend(args.uuid("id"));
    f.parent_ids.extend(args.uuid("vpcid"));
    let display = args.bool("fordisplay");
    let mut rows = rules(st, f).await?;
    rows.retain(|r| display.is_none_or(|d| gw_spec(r).fordisplay == d));
    let total = rows.len() as u64;
    let page = page(rows, args);
    Ok(list_body(
        "vpngateway",
        total,
        gateway_views(st, &page).await?,
    ))
}
