//! Connections: create, delete, reset, update, list.

use super::*;

/// The VPC a gateway belongs to.
async fn vpc_of_gateway(st: &State, gw: &RuleRow) -> AppResult<db::VpcRow> {
    let id = gw.parent_id.unwrap_or_default();
    let mut c = st.store.read().await?;
    db::vpc_get(&mut c, VpcId(id))
        .await?
        .ok_or_else(|| ApiError::invalid_id("s2svpngatewayid", &gw.id.to_string()).into())
}

fn cidrs(list: &str) -> Vec<netplan::Cidr> {
    list.split(',')
        .filter_map(|c| c.trim().parse().ok())
        .collect()
}

pub async fn create_connection_prepare(
    st: &State,
    ctx: &OpContext,
    args: &Args,
) -> AppResult<JobPlan> {
    let cust = owned_rule(
        st,
        ctx,
        "s2scustomergatewayid",
        args.required_id("s2scustomergatewayid")?,
        &[CUST],
    )
    .await?;
    let gw = owned_rule(
        st,
        ctx,
        "s2svpngatewayid",
        args.required_id("s2svpngatewayid")?,
        &[GW],
    )
    .await?;
    if cust.account_id != gw.account_id || cust.domain_id != gw.domain_id {
        return param_err(
            "A VPN connection can only be established between the same account's VPN gateway and customer gateway",
        );
    }
    let existing = connections_of(st, vec![gw.id]).await?;
    if existing
        .iter()
        .any(|c| conn_spec(c).customergatewayid == cust.id)
    {
        return param_err(format!(
            "The VPN connection with customer gateway {} and VPN gateway {} already exists",
            cust.id, gw.id
        ));
    }
    let vpc = vpc_of_gateway(st, &gw).await?;
    let remote = cidrs(&cust_spec(&cust).cidrlist);
    if let Ok(super_cidr) = vpc.cidr.parse::<netplan::Cidr>() {
        if let Some(c) = remote.iter().find(|c| c.overlaps(&super_cidr)) {
            return param_err(format!(
                "The subnet {c} of customer gateway {} overlaps the VPC's CIDR {super_cidr}",
                cust.name.as_deref().unwrap_or("")
            ));
        }
    }
    let limit = st
        .settings
        .int("site2site.vpn.vpngateway.connection.limit")
        .max(1) as usize;
    if existing.len() >= limit {
        return param_err(format!(
            "There are too many VPN connections on this VPN gateway! The limit is {limit}"
        ));
    }
    for other in &existing {
        let Ok(o) = rule(st, conn_spec(other).customergatewayid).await else {
            continue;
        };
        for old in cidrs(&cust_spec(&o).cidrlist) {
            if let Some(c) = remote.iter().find(|c| c.overlaps(&old)) {
                return param_err(format!(
                    "The new connection's remote subnet {c} overlaps {old} of the existing connection to customer gateway {}",
                    o.name.as_deref().unwrap_or("")
                ));
            }
        }
    }
    let id = Uuid::new_v4();
    let mut tx = st.store.begin().await?;
    db::rule_insert(
        &mut tx,
        &db::NewRule {
            id,
            name: None,
            state: model::RuleState::Active,
            account_id: gw.account_id,
            domain_id: gw.domain_id,
            network_id: None,
            ip_id: gw.ip_id,
            parent_id: Some(gw.id),
            spec: RuleSpec::S2sConnection(S2sConnectionSpec {
                customergatewayid: cust.id,
                passive: args.bool("passive").unwrap_or(false),
                fordisplay: args.bool("fordisplay").unwrap_or(true),
                status: "Pending".into(),
            }),
        },
    )
    .await?;
    Event::new(
        ctx,
        "VPN.S2S.CONNECTION.CREATE",
        format!("Site-to-site VPN connection from VPC {} created", vpc.name),
    )
    .resource(id, "VpnConnection", None)
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(plan(
        "VpnConnection",
        id,
        true,
        format!("Creating a VPN connection from VPC {}", vpc.name),
    ))
}

async fn connection_body(st: &State, id: Uuid) -> AppResult<Value> {
    let r = rule(st, id).await?;
    let v = connection_views(st, &[r]).await?;
    Ok(json!({ "vpnconnection": v.into_iter().next().unwrap_or_default() }))
}

pub async fn create_connection_run(
    st: &State,
    _ctx: &OpContext,
    _args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let c = rule(st, job.instance()?).await?;
    vpcs_changed(st, std::slice::from_ref(&c)).await?;
    settle(st, &c).await?;
    connection_body(st, c.id).await
}

pub async fn delete_connection_prepare(
    st: &State,
    ctx: &OpContext,
    args: &Args,
) -> AppResult<JobPlan> {
    Ok(owned_plan(st, ctx, args, CONN, "VpnConnection", "Deleting")
        .await?
        .1)
}

pub async fn delete_connection_run(
    st: &State,
    ctx: &OpContext,
    _args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let Ok(r) = owned_rule(st, ctx, "id", job.instance()?, &[CONN]).await else {
        return Ok(success_body());
    };
    remove(st, ctx, &r, "VPN.S2S.CONNECTION.DELETE", "VpnConnection").await?;
    vpcs_changed(st, &[r]).await?;
    Ok(success_body())
}

pub async fn reset_connection_prepare(
    st: &State,
    ctx: &OpContext,
    args: &Args,
) -> AppResult<JobPlan> {
    Ok(
        owned_plan(st, ctx, args, CONN, "VpnConnection", "Resetting")
            .await?
            .1,
    )
}

pub async fn reset_connection_run(
    st: &State,
    ctx: &OpContext,
    _args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let r = owned_rule(st, ctx, "id", job.instance()?, &[CONN]).await?;
    let mut tx = st.store.begin().await?;
    Event::new(
        ctx,
        "VPN.S2S.CONNECTION.RESET",
        format!("VPN connection {} reset", r.id),
    )
    .resource(r.id, "VpnConnection", None)
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    reset(st, &r).await?;
    connection_body(st, r.id).await
}

pub async fn update_connection_prepare(
    st: &State,
    ctx: &OpContext,
    args: &Args,
) -> AppResult<JobPlan> {
    if args.has("customid") {
        return param_err("customid is not supported");
    }
    Ok(owned_plan(st, ctx, args, CONN, "VpnConnection", "Updating")
        .await?
        .1)
}

pub async fn update_connection_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    crate::handlers::netrules::update_display(st, ctx, args, &[CONN]).await?;
    connection_body(st, job.instance()?).await
}

pub async fn list_connections(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let mut f = db::RuleFilter::kind(CONN);
    f.scope = Some(crate::access::owner_scope(st, ctx, args).await?);
    f.ids.extend(args.uuid("id"));
    if let Some(vpc) = args.uuid("vpcid") {
        let gws = rules(
            st,
            db::RuleFilter {
                kinds: vec![GW],
                parent_ids: vec![vpc],
                ..Default::default()
            },
        )
        .await?;
        if gws.is_empty() {
            return Ok(list_body("vpnconnection", 0, Vec::new()));
        }
        f.parent_ids = gws.iter().map(|g| g.id).collect();
    }
    let display = args.bool("fordisplay");
    let mut rows = rules(st, f).await?;
    rows.retain(|r| display.is_none_or(|d| conn_spec(r).fordisplay == d));
    let total = rows.len() as u64;
    let page = page(rows, args);
    Ok(list_body(
        "vpnconnection",
        total,
        connection_views(st, &page).await?,
    ))
}
