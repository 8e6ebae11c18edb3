//! What a guest is told when it boots, beyond its network: its metadata (CloudStack's
//! `latest/meta-data` items), user data and keys, and the password of a password-enabled
//! template, kept (encrypted) with the VM until the guest acknowledges it at its router's
//! password server. Routers' data servers get them from the data-plane sync
//! (`netsync::load`, through [`metadata`]); a VM on a network no router serves (L2, or an
//! offering whose UserData provider is ConfigDrive) gets them on a config drive
//! ([`config_drive`]), built at each start and rebuilt while it runs when they change.

use db::Attrs;
use std::collections::BTreeMap;

use base64::Engine;
use model::{HostId, VmId};
use rand::Rng;
use serde_json::json;

use crate::core::Core;
use crate::error::DomainResult;

/// The VM attribute holding a password the guest has not acknowledged (encrypted with the
/// server's key).
pub const PENDING_PASSWORD: &str = "pendingpassword";

/// A new password as CloudStack makes them (`vm.password.length` characters, letters and
/// digits without the easily confused ones).
pub fn generate_password(st: &Core) -> String {
    const A: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let len = st.settings.int("vm.password.length").clamp(6, 64) as usize;
    let mut r = rand::thread_rng();
    (0..len)
        .map(|_| A[r.gen_range(0..A.len())] as char)
        .collect()
}

/// Records `password` as the VM's pending password (served at its next boot); `None`
/// clears it. Takes effect in the routers at the next data-plane round.
pub async fn set_pending_password(
    st: &Core,
    vm: VmId,
    password: Option<&str>,
) -> DomainResult<bool> {
    let mut tx = st.store.begin().await?;
    let Some(row) = db::vm_get(&mut tx, vm).await? else {
        return Ok(false);
    };
    let mut attrs = row.attrs.clone();
    if !attrs.is_object() {
        attrs = serde_json::json!({});
    }
    match password {
        Some(p) => attrs[PENDING_PASSWORD] = serde_json::json!(st.key.encrypt(p)?),
        None => {
            if let Some(m) = attrs.as_object_mut() {
                if m.remove(PENDING_PASSWORD).is_none() {
                    return Ok(false);
                }
            }
        }
    }
    db::vm_update(
        &mut tx,
        vm,
        &db::VmChanges {
            attrs: Some(attrs),
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// A host reports that the VM's guest acknowledged its password at a router the host runs:
/// the password is dropped (the routers stop serving it). A report from a host that runs no
/// router of the VM's networks changes nothing.
pub async fn password_saved(st: &Core, host: HostId, vm: VmId) -> DomainResult<bool> {
    let nets: Vec<model::NetworkId> = {
        let mut c = st.store.read().await?;
        db::net_nics_of_vms(&mut c, &[vm])
            .await?
            .into_iter()
            .map(|n| n.network_id)
            .collect()
    };
    if nets.is_empty() {
        return Ok(false);
    }
    let routers = {
        let mut c = st.store.read().await?;
        let (keys, _) = crate::netsync::router_keys(&mut c, &nets).await?;
        db::router_list(
            &mut c,
            &db::RouterFilter {
                network_ids: keys,
                host_ids: vec![host],
                ..Default::default()
            },
        )
        .await?
        .0
    };
    if routers.is_empty() {
        tracing::warn!(%host, %vm, "a password acknowledgement from a host without the VM's router; ignored");
        return Ok(false);
    }
    let cleared = set_pending_password(st, vm, None).await?;
    if cleared {
        tracing::info!(%vm, "the guest acknowledged its password; no longer served");
        crate::netsync::networks_changed(st, &nets).await?;
    }
    Ok(cleared)
}

/// What a guest's metadata is made of.
pub struct Facts<'a> {
    pub vm: &'a db::VmRow,
    /// The zone's name.
    pub zone: &'a str,
    /// [`cloud_identifier`].
    pub cloud: &'a str,
    /// The service offering's display text.
    pub offering: &'a str,
    /// Public keys of the VM's key pairs.
    pub keys: &'a [String],
    /// The guest's address on the network that serves the data (empty: none).
    pub local_ipv4: &'a str,
    /// Its public address (static NAT, else the router's source NAT, else `local_ipv4`).
    pub public_ipv4: &'a str,
}

/// `CloudStack-{<cloud.identifier>}`, or empty when the setting is.
pub fn cloud_identifier(st: &Core) -> String {
    let cloud = st.settings.text("cloud.identifier");
    if cloud.is_empty() {
        String::new()
    } else {
        format!("CloudStack-{{{cloud}}}")
    }
}

/// The guest's `latest/meta-data/<item>` → value, as CloudStack's data server and config
/// drive carry them.
pub fn metadata(f: &Facts<'_>) -> BTreeMap<String, String> {
    let id = f.vm.id.to_string();
    [
        ("availability-zone", f.zone.to_string()),
        ("cloud-identifier", f.cloud.to_string()),
        ("instance-id", id.clone()),
        ("local-hostname", f.vm.name.clone()),
        ("local-ipv4", f.local_ipv4.to_string()),
        ("public-hostname", f.public_ipv4.to_string()),
        ("public-ipv4", f.public_ipv4.to_string()),
        ("public-keys", f.keys.join("\n")),
        ("service-offering", f.offering.to_string()),
        ("vm-id", id),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// A NIC as a config drive's `network_data.json` describes it.
pub struct DriveNic {
    pub mac: String,
    pub device_id: i64,
    pub network_id: uuid::Uuid,
    pub ip4: Option<String>,
    pub netmask: Option<String>,
    pub gateway: Option<String>,
}

/// A config drive with CloudStack's layout: `openstack/latest/` (`meta_data.json` with
/// `uuid`, `name`, `hostname`, `availability_zone`, `public_keys` and `keys`; `user_data`;
/// `vendor_data.json`; `network_data.json` with the NICs that have addresses) and
/// `cloudstack/` (`metadata/<item>.txt`, `userdata/user_data.txt`,
/// `password/vm_password.txt`). Empty items are left out, as CloudStack does.
pub fn config_drive(
    meta: &BTreeMap<String, String>,
    user_data_b64: Option<&str>,
    password: Option<&str>,
    nics: &[DriveNic],
) -> proto::ConfigDrive {
    let mut d = proto::ConfigDrive::default();
    let mut md = serde_json::Map::new();
    for (item, key) in [
        ("availability-zone", "availability_zone"),
        ("local-hostname", "hostname"),
        ("vm-id", "uuid"),
        ("instance-id", "name"),
    ] {
        if let Some(v) = meta.get(item).filter(|v| !v.is_empty()) {
            md.insert(key.into(), json!(v));
        }
    }
    let keys: Vec<&str> = meta
        .get("public-keys")
        .map(|k| k.lines().map(str::trim).filter(|l| !l.is_empty()).collect())
        .unwrap_or_default();
    if !keys.is_empty() {
        let mut named = serde_json::Map::new();
        let mut legacy = Vec::new();
        for (i, k) in keys.iter().enumerate() {
            let comment = k.split_whitespace().nth(2).unwrap_or("key");
            let name = if named.contains_key(comment) {
                format!("{comment}-{i}")
            } else {
                comment.to_string()
            };
            named.insert(name.clone(), json!(k));
            legacy.push(json!({"type": "ssh", "data": k, "name": name}));
        }
        md.insert("public_keys".into(), serde_json::Value::Object(named));
        md.insert("keys".into(), json!(legacy));
    }
    d.put(
        "openstack/latest/meta_data.json",
        serde_json::Value::Object(md).to_string().as_bytes(),
    );
    d.put("openstack/latest/vendor_data.json", b"{}");
    let (mut links, mut networks) = (Vec::new(), Vec::new());
    for n in nics {
        let Some(ip) = n.ip4.as_deref().filter(|i| !i.is_empty()) else {
            continue;
        };
        let eth = format!("eth{}", n.device_id);
        links.push(json!({"ethernet_mac_address": n.mac, "id": eth, "mtu": 1500, "type": "phy"}));
        let mut net = json!({"id": eth, "ip_address": ip, "link": eth, "netmask": n.netmask,
            "network_id": n.network_id, "type": "ipv4"});
        if let Some(g) = &n.gateway {
            net["routes"] = json!([{"gateway": g, "netmask": "0.0.0.0", "network": "0.0.0.0"}]);
        }
        networks.push(net);
    }
    let mut nd = serde_json::Map::new();
    if !links.is_empty() {
        nd.insert("links".into(), json!(links));
        nd.insert("networks".into(), json!(networks));
    }
    d.put(
        "openstack/latest/network_data.json",
        serde_json::Value::Object(nd).to_string().as_bytes(),
    );
    for (item, v) in meta.iter().filter(|(_, v)| !v.is_empty()) {
        d.put(&format!("cloudstack/metadata/{item}.txt"), v.as_bytes());
    }
    let user_data = user_data_b64.filter(|u| !u.is_empty()).and_then(|u| {
        base64::engine::general_purpose::STANDARD
            .decode(u.trim())
            .ok()
    });
    if let Some(u) = user_data {
        d.put("openstack/latest/user_data", &u);
        d.put("cloudstack/userdata/user_data.txt", &u);
    }
    if let Some(p) = password {
        d.put("cloudstack/password/vm_password.txt", p.as_bytes());
    }
    d
}

/// A service offering's display text (its name when it has none; empty when it is gone):
/// the `service-offering` metadata item.
pub async fn offering_text(c: &mut db::Conn, id: uuid::Uuid) -> DomainResult<String> {
    Ok(db::infra_get(c, db::Infra::ServiceOffering, id)
        .await?
        .map(|o| {
            Ok::<_, db::DbError>(
                o.decode::<db::attrs::ServiceOfferingAttrs>()?
                    .displaytext
                    .unwrap_or(o.name),
            )
        })
        .transpose()?
        .unwrap_or_default())
}

/// Whether a VM with these NICs gets a config drive: one of its networks has no router to
/// serve its data (L2), or its offering names ConfigDrive as the UserData provider.
pub async fn wants_config_drive(c: &mut db::Conn, nics: &[db::NicRow]) -> DomainResult<bool> {
    for n in nics {
        if n.guest_type.eq_ignore_ascii_case("L2") {
            return Ok(true);
        }
        let Some(net) = db::network_get(c, n.network_id).await? else {
            continue;
        };
        let offering = match net.network_offering_id {
            Some(o) => db::infra_get(c, db::Infra::NetworkOffering, o).await?,
            None => None,
        };
        if crate::inventory::provider_of(offering.as_ref(), "UserData")?
            .is_some_and(|p| p.eq_ignore_ascii_case("ConfigDrive"))
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The config drive of a VM (its NICs sorted by device), or `None` when its networks' routers
/// serve its data.
pub async fn config_drive_of(
    st: &Core,
    c: &mut db::Conn,
    vm: &db::VmRow,
    nics: &[db::NicRow],
    keys: &[String],
) -> DomainResult<Option<proto::ConfigDrive>> {
    if !wants_config_drive(c, nics).await? {
        return Ok(None);
    }
    let zone = db::infra_get(c, db::Infra::Zone, vm.zone_id)
        .await?
        .map(|z| z.name)
        .unwrap_or_default();
    let offering = offering_text(c, vm.service_offering_id).await?;
    let ip = nics
        .iter()
        .find(|n| n.is_default)
        .or(nics.first())
        .and_then(|n| n.ip4.clone())
        .unwrap_or_default();
    let cloud = cloud_identifier(st);
    let meta = metadata(&Facts {
        vm,
        zone: &zone,
        cloud: &cloud,
        offering: &offering,
        keys,
        local_ipv4: &ip,
        public_ipv4: &ip,
    });
    let password = vm
        .decode::<db::attrs::VmAttrs>()?
        .pendingpassword
        .and_then(|e| st.key.decrypt(&e).ok());
    let drive_nics: Vec<DriveNic> = nics
        .iter()
        .map(|n| DriveNic {
            mac: n.mac.clone(),
            device_id: n.device_id,
            network_id: n.network_id.into(),
            ip4: n.ip4.clone(),
            netmask: n.netmask.clone(),
            gateway: n.gateway.clone(),
        })
        .collect();
    Ok(Some(config_drive(
        &meta,
        vm.userdata.as_deref(),
        password.as_deref(),
        &drive_nics,
    )))
}

/// The VM's user data, keys or password changed: a running VM with a config drive gets it
/// rebuilt by its host (read at its next boot). Failures are logged: the drive is rebuilt
/// at the next start anyway.
pub async fn refresh_config_drive(st: &Core, vm: VmId) {
    let r: DomainResult<()> = async {
        let row = {
            let mut c = st.store.read().await?;
            db::vm_get(&mut c, vm).await?
        };
        let Some(row) = row else { return Ok(()) };
        let Some(host) = row.host_id.filter(|_| row.state == model::VmState::Running) else {
            return Ok(());
        };
        let spec = crate::vms::start::spec(st, &row).await?;
        let Some(drive) = spec.config_drive else {
            return Ok(());
        };
        st.hub
            .command_ready(
                host,
                proto::Command::UpdateConfigDrive {
                    name: row.instance_name.clone(),
                    drive,
                },
                std::time::Duration::from_secs(60),
            )
            .await?;
        Ok(())
    }
    .await;
    if let Err(e) = r {
        tracing::warn!(%vm, error = %e, "could not rebuild the VM's config drive; it is rebuilt at its next start");
    }
}

/// A host reported its guests' statistics: kept for the VMs the database says run there
/// (a report about another host's VM — a stale one after a migration — is dropped).
pub async fn stats_reported(
    st: &Core,
    host: HostId,
    stats: Vec<model::stats::GuestStats>,
) -> DomainResult<usize> {
    if stats.is_empty() {
        return Ok(0);
    }
    let ids: Vec<VmId> = stats.iter().map(|s| VmId(s.vm_id)).collect();
    let here: std::collections::BTreeSet<VmId> = {
        let mut c = st.store.read().await?;
        let mut here = std::collections::BTreeSet::new();
        for chunk in ids.chunks(500) {
            let rows = db::vm_list(
                &mut c,
                &db::VmFilter {
                    ids: chunk.to_vec(),
                    ..Default::default()
                },
            )
            .await?
            .0;
            here.extend(
                rows.into_iter()
                    .filter(|v| v.host_id == Some(host) && v.state == model::VmState::Running)
                    .map(|v| v.id),
            );
        }
        here
    };
    let keep: Vec<model::stats::GuestStats> = stats
        .into_iter()
        .filter(|s| here.contains(&VmId(s.vm_id)))
        .collect();
    if keep.is_empty() {
        return Ok(0);
    }
    let mut tx = st.store.begin().await?;
    db::vm_stats_put(&mut tx, host, &keep).await?;
    tx.commit().await?;
    Ok(keep.len())
}

/// The latest statistics of running VMs, by VM (a VM that is not Running, or whose figures
/// came from another host than the one it runs on, has none).
pub async fn stats_of(
    st: &Core,
    vms: &[&db::VmRow],
) -> DomainResult<BTreeMap<VmId, model::stats::GuestStats>> {
    let running: Vec<VmId> = vms
        .iter()
        .filter(|v| v.state == model::VmState::Running)
        .map(|v| v.id)
        .collect();
    if running.is_empty() {
        return Ok(BTreeMap::new());
    }
    let host_of: BTreeMap<VmId, Option<HostId>> = vms.iter().map(|v| (v.id, v.host_id)).collect();
    let rows = {
        let mut c = st.store.read().await?;
        db::vm_stats_get(&mut c, &running).await?
    };
    Ok(rows
        .into_iter()
        .filter(|r| host_of.get(&r.vm_id).copied().flatten() == Some(r.host_id))
        .map(|r| (r.vm_id, r.stats))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_drive_describes_addressed_nics_keys_and_the_password() {
        let meta: BTreeMap<String, String> = [
            ("vm-id", "u1"),
            ("instance-id", "u1"),
            ("local-hostname", "web1"),
            ("availability-zone", "z1"),
            ("public-keys", "ssh-ed25519 AAAA a@x\nssh-ed25519 BBBB a@x"),
            ("public-ipv4", ""),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let nics = [
            DriveNic {
                mac: "02:00:00:00:00:01".into(),
                device_id: 0,
                network_id: uuid::Uuid::nil(),
                ip4: Some("10.1.1.5".into()),
                netmask: Some("255.255.255.0".into()),
                gateway: Some("10.1.1.1".into()),
            },
            DriveNic {
                mac: "02:00:00:00:00:02".into(),
                device_id: 1,
                network_id: uuid::Uuid::nil(),
                ip4: None,
                netmask: None,
                gateway: None,
            },
        ];
        let d = config_drive(&meta, Some("aGk="), Some("s3cret"), &nics);
        let files: BTreeMap<String, Vec<u8>> = d.decoded().expect("valid").into_iter().collect();
        let text = |p: &str| String::from_utf8(files[p].clone()).expect("utf-8");
        let md: serde_json::Value =
            serde_json::from_str(&text("openstack/latest/meta_data.json")).expect("json");
        assert_eq!(md["uuid"], "u1");
        assert_eq!(md["hostname"], "web1");
        assert_eq!(md["availability_zone"], "z1");
        // Two keys with the same comment keep both.
        assert_eq!(md["public_keys"]["a@x"], "ssh-ed25519 AAAA a@x");
        assert_eq!(md["public_keys"]["a@x-1"], "ssh-ed25519 BBBB a@x");
        assert_eq!(md["keys"].as_array().map(Vec::len), Some(2));
        let nd: serde_json::Value =
            serde_json::from_str(&text("openstack/latest/network_data.json")).expect("json");
        assert_eq!(nd["links"].as_array().map(Vec::len), Some(1), "{nd}");
        assert_eq!(nd["links"][0]["ethernet_mac_address"], "02:00:00:00:00:01");
        assert_eq!(nd["networks"][0]["ip_address"], "10.1.1.5");
        assert_eq!(nd["networks"][0]["routes"][0]["gateway"], "10.1.1.1");
        assert_eq!(text("openstack/latest/user_data"), "hi");
        assert_eq!(text("cloudstack/password/vm_password.txt"), "s3cret");
        assert!(
            !files.contains_key("cloudstack/metadata/public-ipv4.txt"),
            "empty items are left out"
        );
    }
}
