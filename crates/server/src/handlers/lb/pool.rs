//! Service IP pools (a Canopy addition, after MetalLB's address pools): a public range created
//! with `forloadbalancers=true` lends its addresses to load balancer rules created without
//! `publicipid` — the account's own pools first (ranges dedicated to it), then shared ones —
//! and takes each back when its rule is deleted. associateIpAddress and source NAT never
//! take a pool's addresses.

use api::{ApiError, Args, ErrorCode};
use rand::Rng;
use uuid::Uuid;

use crate::context::OpContext;
use crate::error::{param_err, AppResult};
use crate::events::Event;
use crate::state::State;

/// Takes the next free address of a pool for a rule on `network`; its id.
pub(super) async fn take(
    st: &State,
    ctx: &OpContext,
    _args: &Args,
    network: Uuid,
) -> AppResult<Uuid> {
    let net = super::super::networks::owned_network(st, ctx, "networkid", network).await?;
    let Some(acct_id) = net.account_id.filter(|_| net.guest_type == "Isolated") else {
        return param_err(format!(
            "Network {} is not an isolated network or VPC tier: service IP pool addresses go to those",
            net.name
        ));
    };
    let acct = crate::access::account(st, "account", acct_id).await?;
    crate::handlers::limits::enforce(st, &acct, &[(model::limits::ResourceType::PublicIp, 1)])
        .await?;
    for _ in 0..16 {
        let mut candidates = {
            let mut c = st.store.read().await?;
            db::public_ip_free_pool(&mut c, net.zone_id, acct.id, 32).await?
        };
        if candidates.is_empty() {
            return Err(ApiError::new(
                ErrorCode::InsufficientCapacity,
                format!(
                    "Insufficient address capacity: no service IP pool has a free address for account {} in the zone (pools are public ranges created with forloadbalancers=true); or give publicipid",
                    acct.name
                ),
            )
            .into());
        }
        {
            let mut r = rand::thread_rng();
            for i in (1..candidates.len()).rev() {
                candidates.swap(i, r.gen_range(0..=i));
            }
        }
        for (id, addr) in candidates {
            let mut tx = st.store.begin().await?;
            if db::public_ip_claim(
                &mut tx,
                id,
                acct.id,
                acct.domain_id,
                Some(net.id.0),
                false,
                model::IpState::Allocated,
            )
            .await?
            {
                Event::new(
                    ctx,
                    "NET.IPASSIGN",
                    format!(
                        "IP {addr} of a service IP pool taken for a load balancer on {}",
                        net.name
                    ),
                )
                .resource(id, "IpAddress", Some(&addr))
                .record(&mut tx)
                .await?;
                tx.commit().await?;
                return Ok(id);
            }
        }
    }
    Err(ApiError::new(
        ErrorCode::InsufficientCapacity,
        "Insufficient address capacity: every pool address was taken concurrently; try again"
            .to_string(),
    )
    .into())
}

/// Gives a pool's address back (its rules go with it).
pub(super) async fn give_back(st: &State, ctx: &OpContext, ip: Uuid) -> AppResult<()> {
    let row = {
        let mut c = st.store.read().await?;
        db::public_ip_get(&mut c, ip).await?
    };
    match row {
        Some(r) if r.state != model::IpState::Free => super::super::ips::release(st, ctx, &r).await,
        _ => Ok(()),
    }
}
