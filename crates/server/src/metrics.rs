//! `GET /metrics`: the domain's Prometheus metrics ([`domain::metrics`]) for clients from
//! `metrics.allowed.cidrs` (default loopback), as CloudStack's Prometheus exporter has its
//! allowed-IPs list; everyone else gets 403.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State as AxState};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

pub use domain::metrics::*;

use crate::state::State;

/// Whether `peer` may scrape (`metrics.allowed.cidrs`).
fn allowed(st: &State, peer: &SocketAddr) -> bool {
    let ip = match peer.ip() {
        std::net::IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(std::net::IpAddr::V4)
            .unwrap_or(std::net::IpAddr::V6(v6)),
        v4 => v4,
    };
    st.settings
        .text("metrics.allowed.cidrs")
        .split(',')
        .map(str::trim)
        .filter_map(|c| {
            c.parse::<ipnet::IpNet>()
                .ok()
                .or_else(|| c.parse::<std::net::IpAddr>().ok().map(ipnet::IpNet::from))
        })
        .any(|n| n.contains(&ip))
}

/// `GET /metrics`.
pub async fn endpoint(
    AxState(st): AxState<State>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Response {
    if !allowed(&st, &peer) {
        return (
            StatusCode::FORBIDDEN,
            "metrics are served to the addresses in the global setting metrics.allowed.cidrs\n",
        )
            .into_response();
    }
    match st.metrics.render(&st.store, &st.hub, &st.tasks).await {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(e) => {
            let reference = uuid::Uuid::new_v4();
            tracing::error!(%reference, error = %e, "metrics could not be rendered");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("metrics unavailable (reference {reference})\n"),
            )
                .into_response()
        }
    }
}
