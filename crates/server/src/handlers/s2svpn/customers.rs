//! Customer gateways: create, update (its connections restarted), delete, list.

use super::*;

/// A DNS name as CloudStack's NetUtils.verifyDomainName takes it: labels of letters, digits
/// and hyphens (not at either end), at most 63 characters each, the whole at most 253.
fn domain_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// The customer gateway a create or update describes (every policy parameter is required on
/// both, as CloudStack has them), checked as CloudStack checks it.
fn customer(st: &State, args: &Args) -> AppResult<(String, S2sCustomerSpec)> {
    let gateway = args.required_str("gateway")?.trim().to_string();
    if gateway.parse::<std::net::Ipv4Addr>().is_err() && !domain_name(&gateway) {
        return param_err(format!(
            "The customer gateway ip/Domain {gateway} is invalid"
        ));
    }
    let name = args
        .text("name")
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| format!("VPN-{gateway}"));
    let cidrlist = args.required_str("cidrlist")?.trim().to_string();
    let mut cidrs: Vec<netplan::Cidr> = Vec::new();
    for c in cidrlist.split(',') {
        let c = c.trim();
        let parsed: netplan::Cidr = c.parse().map_err(|_| {
            ApiError::param(format!(
                "The customer gateway peer cidr list {cidrlist} contains an invalid cidr: {c}"
            ))
        })?;
        if !c.contains('/') {
            return param_err(format!(
                "The customer gateway peer cidr list {cidrlist} contains an invalid cidr: {c}"
            ));
        }
        cidrs.push(parsed);
    }
    let limit = st
        .settings
        .int("site2site.vpn.customergateway.subnets.limit")
        .max(1) as usize;
    if cidrs.len() > limit {
        return param_err(format!(
            "Too many subnets of customer gateway! The limit is {limit}"
        ));
    }
    for (i, a) in cidrs.iter().enumerate() {
        for b in &cidrs[i + 1..] {
            if a.overlaps(b) {
                return param_err(format!(
                    "The subnet of customer gateway {a} is overlapped with another subnet {b} of customer gateway"
                ));
            }
        }
    }
    let psk = args.required_str("ipsecpsk")?;
    if psk.is_empty() || psk.contains(['"', '\n', '\r']) {
        return param_err(
            "The IPsec pre-shared key must not be empty, nor contain newlines or double quotes",
        );
    }
    let ikepolicy = args.required_str("ikepolicy")?.trim().to_string();
    if let Err(e) = netplan::s2s::proposals(&ikepolicy, true) {
        return param_err(format!(
            "The customer gateway IKE policy {ikepolicy} is invalid: {e}. Verify the required Diffie Hellman (DH) group is specified."
        ));
    }
    let esppolicy = args.required_str("esppolicy")?.trim().to_string();
    if let Err(e) = netplan::s2s::proposals(&esppolicy, false) {
        return param_err(format!(
            "The customer gateway ESP policy {esppolicy} is invalid: {e}"
        ));
    }
    let lifetime = |k: &str, default: i64, what: &str| -> AppResult<i64> {
        let v = args.int(k).unwrap_or(default);
        if !(60..=86400).contains(&v) {
            return param_err(format!(
                "The {what} lifetime {v} of vpn connection is invalid: give 60 to 86400 seconds"
            ));
        }
        Ok(v)
    };
    let ikelifetime = lifetime("ikelifetime", 86400, "IKE")?;
    let esplifetime = lifetime("esplifetime", 3600, "ESP")?;
    let ikeversion = args
        .text("ikeversion")
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_else(|| "ike".into());
    if !["ike", "ikev1", "ikev2"].contains(&ikeversion.as_str()) {
        return param_err(format!(
            "Invalid ikeversion {ikeversion}: one of ike, ikev1, ikev2"
        ));
    }
    Ok((
        name,
        S2sCustomerSpec {
            gateway,
            cidrlist: cidrs
                .iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(","),
            ipsecpsk: st.key.encrypt(psk)?,
            ikepolicy,
            esppolicy,
            ikelifetime,
            esplifetime,
            dpd: args.bool("dpd").unwrap_or(false),
            forceencap: args.bool("forceencap").unwrap_or(false),
            splitconnections: args.bool("splitconnections").unwrap_or(false),
            ikeversion,
        },
    ))
}

fn name_taken<T>(name: &str) -> AppResult<T> {
    param_err(format!(
        "The customer gateway with name {name} already exists"
    ))
}

pub async fn create_customer_prepare(
    st: &State,
    ctx: &OpContext,
    args: &Args,
) -> AppResult<JobPlan> {
    let acct = crate::handlers::vms::owner_account(st, ctx, args).await?;
    let (name, spec) = customer(st, args)?;
    let id = Uuid::new_v4();
    let mut tx = st.store.begin().await?;
    let new = db::NewRule {
        id,
        name: Some(name.clone()),
        state: model::RuleState::Active,
        account_id: Some(acct.id),
        domain_id: Some(acct.domain_id),
        network_id: None,
        ip_id: None,
        parent_id: None,
        spec: RuleSpec::S2sCustomer(spec),
    };
    match db::rule_insert(&mut tx, &new).await {
        Ok(()) => {}
        Err(DbError::Conflict(_)) => return name_taken(&name),
        Err(e) => return Err(e.into()),
    }
    Event::new(
        ctx,
        "VPN.S2S.CUSTOMER.GATEWAY.CREATE",
        format!("Site-to-site VPN customer gateway {name} created"),
    )
    .resource(id, "VpnCustomerGateway", Some(&name))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(plan(
        "VpnCustomerGateway",
        id,
        false,
        format!("Creating VPN customer gateway {name}"),
    ))
}

pub async fn customer_run(
    st: &State,
    _ctx: &OpContext,
    _args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let r = rule(st, job.instance()?).await?;
    Ok(json!({ "vpncustomergateway": customer_view(st, &r) }))
}

/// The connections made with this customer gateway (of its account).
async fn connections_with(st: &State, cust: &RuleRow) -> AppResult<Vec<RuleRow>> {
    let Some(acct) = cust.account_id else {
        return Ok(Vec::new());
    };
    let mut all = rules(
        st,
        db::RuleFilter {
            kinds: vec![CONN],
            scope: Some(db::OwnerScope::Account(acct)),
            ..Default::default()
        },
    )
    .await?;
    all.retain(|c| conn_spec(c).customergatewayid == cust.id);
    Ok(all)
}

pub async fn update_customer_prepare(
    st: &State,
    ctx: &OpContext,
    args: &Args,
) -> AppResult<JobPlan> {
    let (_, plan) = owned_plan(st, ctx, args, CUST, "VpnCustomerGateway", "Updating").await?;
    customer(st, args)?;
    Ok(plan)
}

pub async fn update_customer_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let r = owned_rule(st, ctx, "id", job.instance()?, &[CUST]).await?;
    let (name, spec) = customer(st, args)?;
    let mut tx = st.store.begin().await?;
    match db::rule_update(
        &mut tx,
        r.id,
        r.state,
        Some(&name),
        &RuleSpec::S2sCustomer(spec),
    )
    .await
    {
        Ok(_) => {}
        Err(DbError::Conflict(_)) => return name_taken(&name),
        Err(e) => return Err(e.into()),
    }
    Event::new(
        ctx,
        "VPN.S2S.CUSTOMER.GATEWAY.UPDATE",
        format!("Site-to-site VPN customer gateway {name} updated"),
    )
    .resource(r.id, "VpnCustomerGateway", Some(&name))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    // Its connections take the new settings: the routers get them, then each connection is
    // restarted (CloudStack stops and starts them).
    let conns = connections_with(st, &r).await?;
    vpcs_changed(st, &conns).await?;
    for c in &conns {
        if conn_spec(c).status != "Pending" {
            reset(st, c).await?;
        }
    }
    let r = rule(st, r.id).await?;
    Ok(json!({ "vpncustomergateway": customer_view(st, &r) }))
}

pub async fn delete_customer_prepare(
    st: &State,
    ctx: &OpContext,
    args: &Args,
) -> AppResult<JobPlan> {
    let (r, plan) = owned_plan(st, ctx, args, CUST, "VpnCustomerGateway", "Deleting").await?;
    if !connections_with(st, &r).await?.is_empty() {
        return param_err(format!(
            "Unable to delete VPN customer gateway {} because there are still VPN connections with it",
            r.id
        ));
    }
    Ok(plan)
}

pub async fn delete_customer_run(
    st: &State,
    ctx: &OpContext,
    _args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let Ok(r) = owned_rule(st, ctx, "id", job.instance()?, &[CUST]).await else {
        return Ok(success_body());
    };
    if !connections_with(st, &r).await?.is_empty() {
        return param_err(format!(
            "Unable to delete VPN customer gateway {} because there are still VPN connections with it",
            r.id
        ));
    }
    remove(
        st,
        ctx,
        &r,
        "VPN.S2S.CUSTOMER.GATEWAY.DELETE",
        "VpnCustomerGateway",
    )
    .await?;
    Ok(success_body())
}

pub async fn list_customers(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let mut f = db::RuleFilter::kind(CUST);
    f.scope = Some(crate::access::owner_scope(st, ctx, args).await?);
    f.ids.extend(args.uuid("id"));
    let keyword = args.text("keyword").map(str::to_lowercase);
    let mut rows = rules(st, f).await?;
    rows.retain(|r| {
        keyword.as_deref().is_none_or(|k| {
            r.name
                .as_deref()
                .is_some_and(|n| n.to_lowercase().contains(k))
        })
    });
    let total = rows.len() as u64;
    let out = page(rows, args)
        .iter()
        .map(|r| customer_view(st, r))
        .collect();
    Ok(list_body("vpncustomergateway", total, out))
}
