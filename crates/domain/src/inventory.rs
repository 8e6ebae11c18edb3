//! Reading inventory rows' attributes (what the JSON `attrs` of zones, offerings and
//! networks say), shared by the services and the CloudStack edge.

use db::attrs::{NetworkAttrs, NetworkOfferingAttrs};
use db::{Attrs, Infra, InfraRow, NetworkRow};
use model::HostId;
use uuid::Uuid;

use crate::core::Core;
use crate::error::{DomainError, DomainResult};

/// An inventory row by id; `param` names it in the error when there is none.
pub async fn get(st: &Core, t: Infra, param: &str, id: Uuid) -> DomainResult<InfraRow> {
    let mut c = st.store.read().await?;
    db::infra_get(&mut c, t, id)
        .await?
        .ok_or_else(|| DomainError::invalid_id(param, &id.to_string()))
}

/// A host by id; `param` names it in the error when there is none.
pub async fn host(st: &Core, param: &str, id: HostId) -> DomainResult<db::HostRow> {
    let mut c = st.store.read().await?;
    db::host_get(&mut c, id)
        .await?
        .ok_or_else(|| DomainError::invalid_id(param, &id.to_string()))
}

/// A string attribute of an inventory row.
pub fn attr_str(r: &InfraRow, k: &str) -> Option<String> {
    r.attrs.get(k).and_then(|v| v.as_str()).map(str::to_string)
}

/// Whether a network (through its offering) provides a service (`SourceNat`,
/// `SecurityGroup`, `Lb`, `Firewall`, `StaticNat`, `PortForwarding`, `Vpn`, `Dhcp`, …).
pub fn has_service(
    n: &NetworkRow,
    offering: Option<&InfraRow>,
    service: &str,
) -> DomainResult<bool> {
    if let Some(s) = n.decode::<NetworkAttrs>()?.services {
        return Ok(s.iter().any(|x| x.eq_ignore_ascii_case(service)));
    }
    Ok(match offering {
        Some(o) => o
            .decode::<NetworkOfferingAttrs>()?
            .services
            .iter()
            .any(|x| x.name.eq_ignore_ascii_case(service)),
        None => false,
    })
}

/// The provider of a service in a network offering (`VirtualRouter`, `ConfigDrive`, …).
pub fn provider_of(offering: Option<&InfraRow>, service: &str) -> DomainResult<Option<String>> {
    let Some(o) = offering else {
        return Ok(None);
    };
    Ok(o.decode::<NetworkOfferingAttrs>()?
        .services
        .into_iter()
        .find(|x| x.name.eq_ignore_ascii_case(service))
        .and_then(|x| x.provider))
}
