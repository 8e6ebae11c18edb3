//! The offerings CloudStack ships with, inserted once per database.

use std::collections::HashMap;

use db::{Infra, InfraRow};
use serde_json::json;

use super::network::{network_attrs, NetworkSpec};
use super::new_row;
use crate::error::AppResult;

/// A default network offering.
struct NetworkDefault {
    name: &'static str,
    guest: &'static str,
    services: &'static [&'static str],
    /// (lower-cased service, provider) where not the default provider.
    providers: &'static [(&'static str, &'static str)],
    availability: &'static str,
    specifyvlan: bool,
    specifyipranges: bool,
    egress_allow: bool,
    forvpc: bool,
}

const ISOLATED_FULL: &[&str] = &[
    "Dhcp",
    "Dns",
    "UserData",
    "Firewall",
    "Gateway",
    "Lb",
    "PortForwarding",
    "SourceNat",
    "StaticNat",
    "Vpn",
];
const VPC: &[&str] = &[
    "Dhcp",
    "Dns",
    "UserData",
    "SourceNat",
    "StaticNat",
    "PortForwarding",
    "Lb",
    "NetworkACL",
    "Vpn",
    "Gateway",
];
const VPC_NO_LB: &[&str] = &[
    "Dhcp",
    "Dns",
    "UserData",
    "SourceNat",
    "StaticNat",
    "PortForwarding",
    "NetworkACL",
    "Vpn",
    "Gateway",
];

/// A table row; positional on purpose, so the table reads as one line per offering.
#[allow(clippy::too_many_arguments)]
const fn nd(
    name: &'static str,
    guest: &'static str,
    services: &'static [&'static str],
    providers: &'static [(&'static str, &'static str)],
    availability: &'static str,
    specifyvlan: bool,
    specifyipranges: bool,
    egress_allow: bool,
    forvpc: bool,
) -> NetworkDefault {
    NetworkDefault {
        name,
        guest,
        services,
        providers,
        availability,
        specifyvlan,
        specifyipranges,
        egress_allow,
        forvpc,
    }
}

const NETWORK_DEFAULTS: &[NetworkDefault] = &[
    nd(
        "DefaultSharedNetworkOfferingWithSGService",
        "Shared",
        &["Dhcp", "Dns", "UserData", "SecurityGroup"],
        &[],
        "Optional",
        true,
        true,
        true,
        false,
    ),
    nd(
        "DefaultSharedNetworkOffering",
        "Shared",
        &["Dhcp", "Dns", "UserData"],
        &[],
        "Optional",
        true,
        true,
        true,
        false,
    ),
    nd(
        "DefaultIsolatedNetworkOfferingWithSourceNatService",
        "Isolated",
        ISOLATED_FULL,
        &[],
        "Required",
        false,
        false,
        false,
        false,
    ),
    nd(
        "DefaultIsolatedNetworkOffering",
        "Isolated",
        &["Dhcp", "Dns", "UserData"],
        &[],
        "Optional",
        false,
        true,
        true,
        false,
    ),
    nd(
        "DefaultIsolatedNetworkOfferingForVpcNetworks",
        "Isolated",
        VPC,
        &[],
        "Optional",
        false,
        false,
        true,
        true,
    ),
    nd(
        "DefaultIsolatedNetworkOfferingForVpcNetworksNoLB",
        "Isolated",
        VPC_NO_LB,
        &[],
        "Optional",
        false,
        false,
        true,
        true,
    ),
    nd(
        "DefaultIsolatedNetworkOfferingForVpcNetworksWithInternalLB",
        "Isolated",
        VPC,
        &[("lb", "InternalLbVm")],
        "Optional",
        false,
        false,
        true,
        true,
    ),
    nd(
        "DefaultL2NetworkOffering",
        "L2",
        &[],
        &[],
        "Optional",
        false,
        false,
        true,
        false,
    ),
    nd(
        "DefaultL2NetworkOfferingVlan",
        "L2",
        &[],
        &[],
        "Optional",
        true,
        false,
        true,
        false,
    ),
    nd(
        "DefaultL2NetworkOfferingConfigDrive",
        "L2",
        &["UserData"],
        &[("userdata", "ConfigDrive")],
        "Optional",
        false,
        false,
        true,
        false,
    ),
    nd(
        "DefaultL2NetworkOfferingConfigDriveVlan",
        "L2",
        &["UserData"],
        &[("userdata", "ConfigDrive")],
        "Optional",
        true,
        false,
        true,
        false,
    ),
];

/// Inserts the offerings CloudStack ships with, once per database (markers in `meta`: the
/// VPC offering came later, so it has its own).
pub async fn seed_defaults(store: &db::DataStore) -> AppResult<()> {
    seed_first(store).await?;
    seed_vpc(store).await
}

/// CloudStack's "Default VPC offering": every VPC service from the VPC virtual router.
async fn seed_vpc(store: &db::DataStore) -> AppResult<()> {
    const MARK: &str = "seed:offerings:vpc:1";
    {
        let mut c = store.read().await?;
        if db::meta_get(&mut c, MARK).await?.is_some() {
            return Ok(());
        }
    }
    let services: Vec<String> = super::vpc::VPC_SERVICES
        .iter()
        .map(|(s, _)| s.to_string())
        .collect();
    let mut a = super::vpc::vpc_attrs(&services, &HashMap::new())?;
    a["displaytext"] = json!("Default VPC offering");
    a["isdefault"] = json!(true);
    a["domainids"] = json!([]);
    a["zoneids"] = json!([]);
    let row = new_row("Default VPC offering", "vpc", "Enabled", a);
    let mut tx = store.begin().await?;
    if !db::meta_insert(&mut tx, MARK, "1").await? {
        return Ok(());
    }
    db::infra_insert(&mut tx, Infra::VpcOffering, &row).await?;
    tx.commit().await?;
    Ok(())
}

async fn seed_first(store: &db::DataStore) -> AppResult<()> {
    {
        let mut c = store.read().await?;
        if db::meta_get(&mut c, "seed:offerings:1").await?.is_some() {
            return Ok(());
        }
    }
    let mut rows: Vec<(Infra, InfraRow)> = Vec::new();
    let compute = |name: &str, cpu: i64, speed: i64, mem: i64, system: Option<&str>| {
        let mut a = json!({"displaytext": name, "cpunumber": cpu, "cpuspeed": speed, "memory": mem, "storagetype": "shared", "provisioningtype": "thin",
            "iscustomized": false, "offerha": false, "limitcpuuse": false, "issystem": system.is_some(), "defaultuse": system.is_some(), "dynamicscalingenabled": true,
            "domainids": [], "zoneids": []});
        if let Some(t) = system {
            a["systemvmtype"] = json!(t);
        }
        new_row(
            name,
            if system.is_some() { "system" } else { "user" },
            "Active",
            a,
        )
    };
    rows.push((
        Infra::ServiceOffering,
        compute("Small Instance", 1, 500, 512, None),
    ));
    rows.push((
        Infra::ServiceOffering,
        compute("Medium Instance", 1, 1000, 1024, None),
    ));
    rows.push((
        Infra::ServiceOffering,
        compute(
            "System Offering For Software Router",
            1,
            500,
            256,
            Some("domainrouter"),
        ),
    ));
    for (name, size, text) in [
        ("Small", Some(5), "Small Disk, 5 GB"),
        ("Medium", Some(20), "Medium Disk, 20 GB"),
        ("Large", Some(100), "Large Disk, 100 GB"),
        ("Custom", None, "Custom Disk"),
    ] {
        let mut a = json!({"displaytext": text, "iscustomized": size.is_none(), "provisioningtype": "thin", "displayoffering": true, "domainids": [], "zoneids": []});
        if let Some(sz) = size {
            a["disksize"] = json!(sz);
        }
        rows.push((Infra::DiskOffering, new_row(name, "shared", "Active", a)));
    }
    for d in NETWORK_DEFAULTS {
        let services: Vec<String> = d.services.iter().map(|s| s.to_string()).collect();
        let providers: HashMap<String, String> = d
            .providers
            .iter()
            .map(|(s, p)| (s.to_string(), p.to_string()))
            .collect();
        let mut a = network_attrs(&NetworkSpec {
            guest: d.guest,
            services: &services,
            providers: &providers,
            availability: d.availability,
            specifyvlan: d.specifyvlan,
            specifyipranges: d.specifyipranges,
            egress_allow: d.egress_allow,
            forvpc: d.forvpc,
        })?;
        a["displaytext"] = json!(d.name);
        a["isdefault"] = json!(true);
        a["domainids"] = json!([]);
        a["zoneids"] = json!([]);
        rows.push((
            Infra::NetworkOffering,
            new_row(d.name, d.guest, "Enabled", a),
        ));
    }
    let mut tx = store.begin().await?;
    if !db::meta_insert(&mut tx, "seed:offerings:1", "1").await? {
        return Ok(());
    }
    for (t, r) in &rows {
        db::infra_insert(&mut tx, *t, r).await?;
    }
    tx.commit().await?;
    Ok(())
}
