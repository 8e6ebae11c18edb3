//! Remote-access VPN (L2TP over IPsec with a pre-shared key, on the source-NAT or another
//! public IP of an isolated network): createRemoteAccessVpn, deleteRemoteAccessVpn,
//! updateRemoteAccessVpn, listRemoteAccessVpns; VPN users per account: addVpnUser,
//! removeVpnUser, listVpnUsers. The key and the passwords are stored encrypted with the server
//! key; the router's configuration (compiled by netplan) carries them to the host.

use std::net::Ipv4Addr;

use api::{list_body, success_body, ApiError, Args};
use db::{DbError, RuleRow};
use rand::Rng;
use serde_json::{json, Value};
use uuid::Uuid;

use super::netrules::{activate, owned_rule, owner_fields};
use crate::context::OpContext;
use crate::error::{param_err, AppResult};
use crate::events::Event;
use crate::jobs::{JobPlan, JobRef};
use crate::state::State;

fn psk(len: usize) -> String {
    const A: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut r = rand::thread_rng();
    (0..len)
        .map(|_| A[r.gen_range(0..A.len())] as char)
        .collect()
}

fn vpn_view(st: &State, r: &RuleRow, ip: Option<&db::PublicIpRow>) -> Value {
    let default = db::rulespec::VpnSpec::default();
    let s = match &r.spec {
        db::RuleSpec::Vpn(s) => s,
        _ => &default,
    };
    let mut v = json!({
        "id": r.id,
        "iprange": s.iprange,
        "presharedkey": st.key.decrypt(&s.presharedkey).unwrap_or_default(),
        "state": r.state,
        "fordisplay": s.fordisplay,
        "type": "RemoteAccessVpn",
    });
    if let Some(ip) = ip {
        v["publicipid"] = json!(ip.id);
        v["publicip"] = json!(ip.address);
    } else if let Some(i) = r.ip_id {
        v["publicipid"] = json!(i);
    }
    owner_fields(&mut v, r);
    v
}

async fn ip_of(st: &State, r: &RuleRow) -> AppResult<Option<db::PublicIpRow>> {
    let Some(i) = r.ip_id else { return Ok(None) };
    let mut c = st.store.read().await?;
    Ok(db::public_ip_get(&mut c, i).await?)
}

fn parse_range(s: &str) -> AppResult<(Ipv4Addr, Ipv4Addr)> {
    let (a, b) = s.split_once('-').ok_or_else(|| {
        ApiError::param(format!("Invalid iprange {s}: give it as a.b.c.d-e.f.g.h"))
    })?;
    let a: Ipv4Addr = a
        .trim()
        .parse()
        .map_err(|_| ApiError::param(format!("Invalid iprange {s}")))?;
    let b: Ipv4Addr = b
        .trim()
        .parse()
        .map_err(|_| ApiError::param(format!("Invalid iprange {s}")))?;
    if u32::from(b) < u32::from(a) {
        return param_err(format!("Invalid iprange {s}: the end is before the start"));
    }
    Ok((a, b))
}

async fn vpn_on(st: &State, ip: Uuid) -> AppResult<Option<RuleRow>> {
    let mut c = st.store.read().await?;
    Ok(db::rule_list(
        &mut c,
        &db::RuleFilter {
            kinds: vec!["vpn"],
            ip_ids: vec![ip],
            ..Default::default()
        },
    )
    .await?
    .0
    .into_iter()
    .next())
}

pub async fn create_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let ip =
        super::netrules::rule_ip(st, ctx, "publicipid", args.required_id("publicipid")?).await?;
    let net = ip.network_id.unwrap_or_default();
    // A VPC's address (the VPC router serves the VPN) or an isolated network's.
    let vpc = {
        let mut c = st.store.read().await?;
        db::vpc_get(&mut c, model::VpcId(net.0)).await?
    };
    let (name, guest_cidr) = match vpc {
        Some(v) => {
            let offering = {
                let mut c = st.store.read().await?;
                db::infra_get(&mut c, db::Infra::VpcOffering, v.vpc_offering_id).await?
            };
            if !offering.is_some_and(|o| super::offerings::vpc::has_service(&o, "Vpn")) {
                return param_err(format!(
                    "VPC {} does not support the Vpn service (its offering does not provide it)",
                    v.name
                ));
            }
            (format!("VPC {}", v.name), Some(v.cidr.clone()))
        }
        None => {
            let n = super::netrules::require_service(st, net, "Vpn").await?;
            (format!("Network {}", n.name), n.cidr.clone())
        }
    };
    if vpn_on(st, ip.id).await?.is_some() {
        return param_err(format!(
            "A remote access VPN already exists on IP {}",
            ip.address
        ));
    }
    {
        let mut c = st.store.read().await?;
        let others = db::rule_list(
            &mut c,
            &db::RuleFilter {
                kinds: vec!["vpn"],
                network_ids: vec![net],
                ..Default::default()
            },
        )
        .await?
        .1;
        if others > 0 {
            return param_err(format!("{name} already has a remote access VPN"));
        }
    }
    let range = args
        .text("iprange")
        .map(str::to_string)
        .unwrap_or_else(|| st.settings.text("remote.access.vpn.client.iprange"));
    let (a, b) = parse_range(&range)?;
    if let Some(g) = guest_cidr
        .as_deref()
        .and_then(|c| c.parse::<netplan::Cidr>().ok())
    {
        if g.contains(a) || g.contains(b) {
            return param_err(format!(
                "The VPN client range {range} overlaps the guest network {g}"
            ));
        }
    }
    let len = st
        .settings
        .int("remote.access.vpn.psk.length")
        .clamp(8, 256) as usize;
    let spec = db::RuleSpec::Vpn(db::rulespec::VpnSpec {
        iprange: format!("{a}-{b}"),
        presharedkey: st.key.encrypt(&psk(len))?,
        fordisplay: args.bool("fordisplay").unwrap_or(true),
    });
    let id = super::netrules::insert_rule(
        st,
        ctx,
        Some(&ip),
        None,
        None,
        spec,
        "VPN.REMOTE.ACCESS.CREATE",
    )
    .await?;
    Ok(JobPlan {
        instance_type: Some("RemoteAccessVpn"),
        instance_id: Some(id.to_string()),
        returns_id: true,
        description: format!("Creating a remote access VPN on {}", ip.address),
    })
}

pub async fn create_run(
    st: &State,
    _ctx: &OpContext,
    _args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let r = activate(st, job.instance()?).await?;
    let mut tx = st.store.begin().await?;
    db::rule_update(&mut tx, r.id, model::RuleState::Running, None, &r.spec).await?;
    tx.commit().await?;
    let r = {
        let mut c = st.store.read().await?;
        db::rule_get(&mut c, r.id).await?
    }
    .ok_or_else(|| ApiError::invalid_id("id", &r.id.to_string()))?;
    let ip = ip_of(st, &r).await?;
    Ok(json!({ "remoteaccessvpn": vpn_view(st, &r, ip.as_ref()) }))
}

pub async fn delete_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let ip = super::ips::owned_ip(st, ctx, "publicipid", args.required_id("publicipid")?).await?;
    let Some(r) = vpn_on(st, ip.id).await? else {
        return param_err(format!(
            "There is no remote access VPN on IP {}",
            ip.address
        ));
    };
    Ok(JobPlan {
        instance_type: Some("RemoteAccessVpn"),
        instance_id: Some(r.id.to_string()),
        returns_id: false,
        description: format!("Deleting the remote access VPN on {}", ip.address),
    })
}

pub async fn delete_run(
    st: &State,
    ctx: &OpContext,
    _args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    super::netrules::revoke(st, ctx, job.instance()?, &["vpn"]).await?;
    Ok(success_body())
}

pub async fn update_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let r = owned_rule(st, ctx, "id", args.required_id("id")?, &["vpn"]).await?;
    Ok(JobPlan {
        instance_type: Some("RemoteAccessVpn"),
        instance_id: Some(r.id.to_string()),
        returns_id: false,
        description: "Updating a remote access VPN".into(),
    })
}

pub async fn update_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    _job: &JobRef,
) -> AppResult<Value> {
    let r = owned_rule(st, ctx, "id", args.required_id("id")?, &["vpn"]).await?;
    let mut spec = r.spec.clone();
    if let Some(d) = args.bool("fordisplay") {
        spec.set_for_display(d);
    }
    let mut tx = st.store.begin().await?;
    db::rule_update(&mut tx, r.id, r.state, None, &spec).await?;
    tx.commit().await?;
    let r = owned_rule(st, ctx, "id", r.id, &["vpn"]).await?;
    let ip = ip_of(st, &r).await?;
    Ok(json!({ "remoteaccessvpn": vpn_view(st, &r, ip.as_ref()) }))
}

pub async fn list(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let mut f = db::RuleFilter::kind("vpn");
    f.scope = Some(crate::access::owner_scope(st, ctx, args).await?);
    f.ids.extend(args.uuid("id"));
    f.ip_ids.extend(args.uuid("publicipid"));
    f.network_ids
        .extend(args.id::<model::NetworkId>("networkid"));
    f.offset = args.page.offset;
    f.limit = args.page.limit;
    let (rows, total) = {
        let mut c = st.store.read().await?;
        db::rule_list(&mut c, &f).await?
    };
    let mut out = Vec::new();
    for r in &rows {
        let ip = ip_of(st, r).await?;
        out.push(vpn_view(st, r, ip.as_ref()));
    }
    Ok(list_body("remoteaccessvpn", total, out))
}

// --- VPN users -------------------------------------------------------------------------------

fn user_view(r: &RuleRow) -> Value {
    let mut v = json!({
        "id": r.id,
        "username": r.name,
        "state": r.state,
    });
    owner_fields(&mut v, r);
    v
}

/// The networks whose VPN configuration lists this account's users.
async fn vpn_networks(st: &State, acct: model::AccountId) -> AppResult<Vec<model::NetworkId>> {
    let mut c = st.store.read().await?;
    Ok(db::rule_list(
        &mut c,
        &db::RuleFilter {
            kinds: vec!["vpn"],
            scope: Some(db::OwnerScope::Account(acct)),
            ..Default::default()
        },
    )
    .await?
    .0
    .into_iter()
    .filter_map(|r| r.network_id)
    .collect())
}

fn check_username(u: &str) -> AppResult<()> {
    let ok = !u.is_empty()
        && u.len() <= 64
        && u.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c));
    if ok {
        Ok(())
    } else {
        param_err("Username has to begin with an alphabet have 3-64 characters including alphabets, numbers and the set '@.-_'")
    }
}

pub async fn add_user_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let acct = super::vms::owner_account(st, ctx, args).await?;
    let username = args.required_str("username")?.trim().to_string();
    check_username(&username)?;
    let password = args.required_str("password")?;
    if password.len() < 4 || password.contains(['"', '\'', ' ', '#', '\\']) {
        return param_err(
            "Password has to be 4 characters or more, without quotes, spaces, '#' or '\\'",
        );
    }
    let id = Uuid::new_v4();
    let mut tx = st.store.begin().await?;
    match db::rule_insert(
        &mut tx,
        &db::NewRule {
            id,
            name: Some(username.clone()),
            state: model::RuleState::Add,
            account_id: Some(acct.id),
            domain_id: Some(acct.domain_id),
            network_id: None,
            ip_id: None,
            parent_id: None,
            spec: db::RuleSpec::VpnUser(db::rulespec::VpnUserSpec {
                password: st.key.encrypt(password)?,
            }),
        },
    )
    .await
    {
        Ok(()) => {}
        Err(DbError::Conflict(_)) => {
            return param_err(format!(
                "VPN user {username} already exists for account {}",
                acct.name
            ))
        }
        Err(e) => return Err(e.into()),
    }
    Event::new(ctx, "VPN.USER.ADD", format!("VPN user {username} added"))
        .resource(id, "VpnUser", Some(&username))
        .record(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(JobPlan {
        instance_type: Some("VpnUser"),
        instance_id: Some(id.to_string()),
        returns_id: true,
        description: format!("Adding VPN user {username}"),
    })
}

pub async fn add_user_run(
    st: &State,
    _ctx: &OpContext,
    _args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let id: Uuid = job.instance()?;
    let r = {
        let mut c = st.store.read().await?;
        db::rule_get(&mut c, id).await?
    }
    .ok_or_else(|| ApiError::invalid_id("id", &id.to_string()))?;
    if let Some(a) = r.account_id {
        let nets = vpn_networks(st, a).await?;
        crate::netsync::networks_changed(st, &nets).await?;
    }
    let mut tx = st.store.begin().await?;
    db::rule_update(
        &mut tx,
        r.id,
        model::RuleState::Active,
        r.name.as_deref(),
        &r.spec,
    )
    .await?;
    tx.commit().await?;
    let mut c = st.store.read().await?;
    let r = db::rule_get(&mut c, id)
        .await?
        .ok_or_else(|| ApiError::invalid_id("id", &id.to_string()))?;
    Ok(json!({ "vpnuser": user_view(&r) }))
}

async fn user_by_name(st: &State, ctx: &OpContext, args: &Args) -> AppResult<RuleRow> {
    let acct = super::vms::owner_account(st, ctx, args).await?;
    let username = args.required_str("username")?.trim().to_string();
    let mut c = st.store.read().await?;
    db::rule_list(
        &mut c,
        &db::RuleFilter {
            kinds: vec!["vpnuser"],
            scope: Some(db::OwnerScope::Account(acct.id)),
            name: Some(username.clone()),
            ..Default::default()
        },
    )
    .await?
    .0
    .into_iter()
    .next()
    .ok_or_else(|| {
        ApiError::param(format!(
            "Unable to find VPN user {username} of account {}",
            acct.name
        ))
        .into()
    })
}

pub async fn remove_user_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let r = user_by_name(st, ctx, args).await?;
    Ok(JobPlan {
        instance_type: Some("VpnUser"),
        instance_id: Some(r.id.to_string()),
        returns_id: false,
        description: "Removing a VPN user".into(),
    })
}

pub async fn remove_user_run(
    st: &State,
    ctx: &OpContext,
    _args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let id: Uuid = job.instance()?;
    let Ok(r) = owned_rule(st, ctx, "id", id, &["vpnuser"]).await else {
        return Ok(success_body());
    };
    let mut tx = st.store.begin().await?;
    db::rule_remove(&mut tx, db::RuleOwner::Id, r.id).await?;
    Event::new(
        ctx,
        "VPN.USER.REMOVE",
        format!("VPN user {} removed", r.name.as_deref().unwrap_or("")),
    )
    .resource(r.id, "VpnUser", r.name.as_deref())
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    if let Some(a) = r.account_id {
        let nets = vpn_networks(st, a).await?;
        crate::netsync::networks_changed(st, &nets).await?;
    }
    Ok(success_body())
}

pub async fn list_users(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let mut f = db::RuleFilter::kind("vpnuser");
    f.scope = Some(crate::access::owner_scope(st, ctx, args).await?);
    f.ids.extend(args.uuid("id"));
    f.name = args.text("username").map(|u| u.trim().to_string());
    f.offset = args.page.offset;
    f.limit = args.page.limit;
    let (rows, total) = {
        let mut c = st.store.read().await?;
        db::rule_list(&mut c, &f).await?
    };
    Ok(list_body(
        "vpnuser",
        total,
        rows.iter().map(user_view).collect(),
    ))
}
