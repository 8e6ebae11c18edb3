//! Guest networks as far as VMs need them today: the account's default isolated network
//! (created at its first deploy in a zone, as CloudStack's `getDefaultNetwork`), a NIC per VM
//! with a MAC and an IPv4 address from the network's CIDR (unique under concurrency), and
//! listNetworks. The network model, the other network commands and the data plane come with
//! the networking release.

use std::net::Ipv4Addr;

use api::{list_body, ApiError, Args};
use db::{DbError, Infra, InfraRow, NetworkRow};
use model::identity::display_domain_path;
use rand::Rng;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::access;
use crate::context::OpContext;
use crate::error::{param_err, AppError, AppResult};
use crate::state::State;

const DEFAULT_CIDR: &str = "10.1.1.0/24";
const DEFAULT_OFFERING: &str = "DefaultIsolatedNetworkOfferingWithSourceNatService";

fn mask_of(prefix: u8) -> Ipv4Addr {
    Ipv4Addr::from(u32::MAX.checked_shl(32 - prefix as u32).unwrap_or(0))
}

/// The network a VM of `acct` deployed in `zone` goes on: the first of `networkids`, else the
/// account's only isolated network there (created when there is none).
pub async fn default_network(
    st: &State,
    acct: &db::AccountRow,
    zone: &InfraRow,
    networkids: &[String],
) -> AppResult<NetworkRow> {
    let mut c = st.store.read().await?;
    if let Some(first) = networkids.first() {
        let id: Uuid = first
            .trim()
            .parse()
            .map_err(|_| ApiError::invalid_id("networkids", first))?;
        let n = db::network_get(&mut c, id)
            .await?
            .ok_or_else(|| ApiError::invalid_id("networkids", first))?;
        if n.zone_id != zone.id {
            return param_err(format!("Network {} is not in zone {}", n.name, zone.name));
        }
        if n.account_id.is_some() && n.account_id != Some(acct.id) {
            return Err(ApiError::permission(format!(
                "Account {} does not have permission to use network {}",
                acct.name, n.name
            ))
            .into());
        }
        return Ok(n);
    }
    let mine = db::NetworkFilter {
        scope: Some(db::OwnerScope::Account(acct.id)),
        zone_id: Some(zone.id),
        guest_type: Some("Isolated".into()),
        ..Default::default()
    };
    let (found, n) = db::network_list(&mut c, &mine).await?;
    match n {
        1 => {
            return found
                .into_iter()
                .next()
                .ok_or_else(|| AppError::Internal("lost network".into()))
        }
        0 => {}
        _ => {
            return param_err(format!(
                "More than 1 default Isolated networks are found for account {}; please specify networkIds",
                acct.name
            ))
        }
    }
    drop(c);
    let cidr = super::zones::attr_str(zone, "guestcidraddress")
        .filter(|c| model::net::parse_cidr(c).is_some())
        .unwrap_or_else(|| DEFAULT_CIDR.to_string());
    let (net, prefix) = model::net::parse_cidr(&cidr)
        .ok_or_else(|| AppError::Internal(format!("bad guest CIDR {cidr}")))?;
    let gateway = Ipv4Addr::from(u32::from(net) + 1);
    let offering = {
        let mut c = st.store.read().await?;
        db::infra_list(
            &mut c,
            Infra::NetworkOffering,
            &db::InfraFilter {
                name: Some(DEFAULT_OFFERING.into()),
                ..Default::default()
            },
        )
        .await?
        .0
        .into_iter()
        .next()
        .map(|o| o.id)
    };
    let row = NetworkRow {
        id: Uuid::new_v4(),
        name: format!("{}-network", acct.name),
        display_text: format!("Default isolated network of {}", acct.name),
        zone_id: zone.id,
        account_id: Some(acct.id),
        account_name: None,
        domain_id: Some(acct.domain_id),
        domain_name: None,
        domain_path: None,
        guest_type: "Isolated".into(),
        traffic_type: "Guest".into(),
        state: "Allocated".into(),
        cidr: Some(format!("{net}/{prefix}")),
        gateway: Some(gateway.to_string()),
        netmask: Some(mask_of(prefix).to_string()),
        network_domain: super::zones::attr_str(zone, "domain")
            .or_else(|| Some("cs.cloud.internal".into())),
        vni: None,
        network_offering_id: offering,
        attrs: json!({"availability": "Required"}),
        created: 0,
    };
    let mut tx = st.store.begin().await?;
    match db::network_insert(&mut tx, &row).await {
        Ok(()) => {
            tx.commit().await?;
            tracing::info!(account = %acct.name, network = %row.id, "created the account's default isolated network");
        }
        // Another deploy of this account created it first.
        Err(DbError::Conflict(_)) => drop(tx),
        Err(e) => return Err(e.into()),
    }
    let mut c = st.store.read().await?;
    let (found, _) = db::network_list(&mut c, &mine).await?;
    found
        .into_iter()
        .next()
        .ok_or_else(|| AppError::Internal("the default network vanished".into()))
}

fn random_mac() -> String {
    let b: [u8; 4] = rand::thread_rng().gen();
    format!("02:00:{:02x}:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2], b[3])
}

/// Gives a VM its NIC on `n`: the requested address (if free), else the lowest free one (the
/// network and broadcast addresses and the gateway excluded).
pub async fn allocate_nic(
    st: &State,
    vm: Uuid,
    n: &NetworkRow,
    want_ip: Option<&str>,
    want_mac: Option<&str>,
) -> AppResult<()> {
    let (net, prefix) = n
        .cidr
        .as_deref()
        .and_then(model::net::parse_cidr)
        .ok_or_else(|| AppError::Internal(format!("network {} has no CIDR", n.id)))?;
    let first = u32::from(net) + 1;
    let last = u32::from(net) | !u32::from(mask_of(prefix));
    let gateway = n
        .gateway
        .as_deref()
        .and_then(|g| g.parse::<Ipv4Addr>().ok());
    if let Some(ip) = want_ip {
        let ok = ip
            .parse::<Ipv4Addr>()
            .map(|a| u32::from(a) >= first && u32::from(a) < last && Some(a) != gateway)
            .unwrap_or(false);
        if !ok {
            return param_err(format!(
                "IP address {ip} is not a usable address of network {} ({})",
                n.name,
                n.cidr.as_deref().unwrap_or("")
            ));
        }
    }
    for attempt in 0..16 {
        // Read the used addresses in the transaction that claims one: on SQLite that is the
        // single writer, so nobody can take it meanwhile; on PostgreSQL the unique index
        // refuses a duplicate and we try again, then among the first free ones at random.
        let mut tx = st.store.begin().await?;
        let used: std::collections::HashSet<String> =
            db::nic_ips(&mut tx, n.id).await?.into_iter().collect();
        let ip = match want_ip {
            Some(ip) if used.contains(ip) => {
                return param_err(format!(
                    "IP address {ip} is already in use in network {}",
                    n.name
                ))
            }
            Some(ip) => ip.to_string(),
            None => {
                let free: Vec<String> = (first..last)
                    .map(Ipv4Addr::from)
                    .filter(|a| Some(*a) != gateway)
                    .map(|a| a.to_string())
                    .filter(|a| !used.contains(a))
                    .take(if attempt == 0 { 1 } else { 64 })
                    .collect();
                if free.is_empty() {
                    return Err(ApiError::new(
                        api::ErrorCode::InsufficientCapacity,
                        format!(
                            "Insufficient address capacity: network {} has no free IP address",
                            n.name
                        ),
                    )
                    .into());
                }
                free[rand::thread_rng().gen_range(0..free.len())].clone()
            }
        };
        let nic = db::NewNic {
            id: Uuid::new_v4(),
            vm_id: vm,
            network_id: n.id,
            ip4: Some(ip),
            mac: want_mac.map(str::to_string).unwrap_or_else(random_mac),
            device_id: 0,
            is_default: true,
        };
        match db::nic_insert(&mut tx, &nic).await {
            Ok(()) => {
                tx.commit().await?;
                return Ok(());
            }
            // Someone took the address (or the MAC) meanwhile: try the next one.
            Err(DbError::Conflict(_)) if want_mac.is_none() => continue,
            Err(DbError::Conflict(_)) => {
                return param_err(format!("MAC address {} is already in use", nic.mac))
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::Internal(format!(
        "could not allocate an address in network {} after 16 attempts",
        n.id
    )))
}

/// The `nic` objects of a VM.
pub fn nic_views(nics: &[db::NicRow], vm: Uuid) -> Vec<Value> {
    nics.iter()
        .filter(|n| n.vm_id == vm)
        .map(|n| {
            let mut v = json!({
                "id": n.id,
                "networkid": n.network_id,
                "networkname": n.network_name,
                "macaddress": n.mac,
                "isdefault": n.is_default,
                "deviceid": n.device_id.to_string(),
                "traffictype": "Guest",
                "type": n.guest_type,
                "virtualmachineid": vm,
                "secondaryip": [],
                "extradhcpoption": [],
            });
            for (k, x) in [
                ("ipaddress", &n.ip4),
                ("gateway", &n.gateway),
                ("netmask", &n.netmask),
            ] {
                if let Some(x) = x {
                    v[k] = json!(x);
                }
            }
            if let Some(vni) = n.vni {
                v["isolationuri"] = json!(format!("vxlan://{vni}"));
                v["broadcasturi"] = json!(format!("vxlan://{vni}"));
            }
            v
        })
        .collect()
}

fn view(n: &NetworkRow, zone_name: Option<&String>) -> Value {
    let mut v = json!({
        "id": n.id,
        "name": n.name,
        "displaytext": n.display_text,
        "zoneid": n.zone_id,
        "type": n.guest_type,
        "traffictype": n.traffic_type,
        "state": n.state,
        "isdefault": true,
        "issystem": false,
        "canusefordeploy": true,
        "acltype": if n.account_id.is_some() { "Account" } else { "Domain" },
        "specifyipranges": false,
        "restartrequired": false,
        "ispersistent": false,
        "displaynetwork": true,
        "service": [],
        "tags": [],
    });
    if let Some(z) = zone_name {
        v["zonename"] = json!(z);
    }
    for (k, x) in [
        ("cidr", &n.cidr),
        ("gateway", &n.gateway),
        ("netmask", &n.netmask),
        ("networkdomain", &n.network_domain),
    ] {
        if let Some(x) = x {
            v[k] = json!(x);
        }
    }
    if let Some(o) = n.network_offering_id {
        v["networkofferingid"] = json!(o);
        v["networkofferingname"] = json!(DEFAULT_OFFERING);
        v["networkofferingavailability"] = json!("Required");
    }
    if let (Some(a), Some(an)) = (n.account_id, &n.account_name) {
        let _ = a;
        v["account"] = json!(an);
    }
    if let (Some(d), Some(dn)) = (n.domain_id, &n.domain_name) {
        v["domainid"] = json!(d);
        v["domain"] = json!(dn);
        v["domainpath"] = json!(display_domain_path(n.domain_path.as_deref().unwrap_or("/")));
    }
    if let Some(vni) = n.vni {
        v["vlan"] = json!(vni.to_string());
        v["broadcasturi"] = json!(format!("vxlan://{vni}"));
    }
    v
}

pub async fn list(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let scope = access::owner_scope(st, ctx, args).await?;
    let mut f = db::NetworkFilter {
        scope: Some(scope),
        zone_id: args.uuid("zoneid"),
        guest_type: args
            .text("type")
            .or(args.text("guestiptype"))
            .map(str::to_string),
        keyword: args.text("keyword").map(str::to_string),
        offset: args.page.offset,
        limit: args.page.limit,
        ..Default::default()
    };
    if let Some(id) = args.uuid("id") {
        f.ids.push(id);
    }
    if let Some(t) = args.text("traffictype") {
        if !t.eq_ignore_ascii_case("guest") {
            return Ok(list_body("network", 0, Vec::new()));
        }
    }
    if args.bool("issystem") == Some(true) {
        return Ok(list_body("network", 0, Vec::new()));
    }
    let (rows, total) = {
        let mut c = st.store.read().await?;
        db::network_list(&mut c, &f).await?
    };
    let zones = super::zones::names(st, Infra::Zone, rows.iter().map(|n| n.zone_id)).await?;
    Ok(list_body(
        "network",
        total,
        rows.iter()
            .map(|n| view(n, zones.get(&n.zone_id)))
            .collect(),
    ))
}
