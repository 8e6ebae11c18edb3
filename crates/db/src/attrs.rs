//! Typed views of the JSON attribute bags (`attrs` of inventory rows, VMs and networks).
//!
//! Most of an inventory row's attributes are CloudStack's own fields, stored as the API took
//! them and shown again by the CloudStack edge. What the domain layer decides with — a pool's
//! capacity, scope host and tags, a cluster's overcommit ratios, a zone's DNS servers, an
//! offering's services and egress policy, a physical network's isolation methods, a VM's
//! placement tags and pending password — is read through these structs, decoded from the
//! bag with [`Attrs::decode`]. A value of the wrong shape is a [`DbError::Corrupt`] naming the
//! row, never a silently dropped setting. Unknown keys are kept in the bag and ignored here.

use serde::de::{DeserializeOwned, Deserializer};
use serde::Deserialize;
use std::collections::BTreeSet;

use crate::{DbError, Result};

/// A row whose `attrs` bag can be decoded into a typed view.
pub trait Attrs {
    /// The table the row lives in and its id (for the error).
    fn origin(&self) -> (&'static str, String);
    fn bag(&self) -> &serde_json::Value;

    /// The bag as `T`; a value of the wrong shape is `Corrupt` naming the row and the error.
    fn decode<T: DeserializeOwned>(&self) -> Result<T> {
        let bag = self.bag();
        let decoded = if bag.is_null() {
            T::deserialize(serde_json::json!({}))
        } else {
            T::deserialize(bag)
        };
        decoded.map_err(|e| {
            let (table, id) = self.origin();
            DbError::Corrupt {
                table,
                column: "attrs",
                value: format!("{id}: {e}"),
            }
        })
    }
}

impl Attrs for crate::InfraRow {
    fn origin(&self) -> (&'static str, String) {
        ("inventory", self.id.to_string())
    }
    fn bag(&self) -> &serde_json::Value {
        &self.attrs
    }
}

impl Attrs for crate::VolumeRow {
    fn origin(&self) -> (&'static str, String) {
        ("volumes", self.id.to_string())
    }
    fn bag(&self) -> &serde_json::Value {
        &self.attrs
    }
}

impl Attrs for crate::SnapshotRow {
    fn origin(&self) -> (&'static str, String) {
        ("snapshots", self.id.to_string())
    }
    fn bag(&self) -> &serde_json::Value {
        &self.attrs
    }
}

impl Attrs for crate::VmRow {
    fn origin(&self) -> (&'static str, String) {
        ("vms", self.id.to_string())
    }
    fn bag(&self) -> &serde_json::Value {
        &self.attrs
    }
}

impl Attrs for crate::NetworkRow {
    fn origin(&self) -> (&'static str, String) {
        ("networks", self.id.to_string())
    }
    fn bag(&self) -> &serde_json::Value {
        &self.attrs
    }
}

/// A set of tags or names, stored either as CloudStack's comma list (`"ssd,fast"`) or as a
/// JSON array; absent or null is empty. Items are trimmed; empty items dropped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TagSet(pub BTreeSet<String>);

impl TagSet {
    pub fn contains_ignore_case(&self, s: &str) -> bool {
        self.0.iter().any(|t| t.eq_ignore_ascii_case(s))
    }
}

impl<'de> Deserialize<'de> for TagSet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Stored {
            List(String),
            Items(Vec<String>),
            Nothing(()),
        }
        let items: Vec<String> = match Stored::deserialize(d)? {
            Stored::List(s) => s.split(',').map(str::to_string).collect(),
            Stored::Items(v) => v,
            Stored::Nothing(()) => Vec::new(),
        };
        Ok(TagSet(
            items
                .into_iter()
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
                .collect(),
        ))
    }
}

/// A number CloudStack's API took as text (`"2.0"`) or that was stored as a JSON number.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Ratio(pub Option<f64>);

impl Ratio {
    /// The ratio when it is a finite positive number, else 1.
    pub fn or_one(self) -> f64 {
        self.0.filter(|v| v.is_finite() && *v > 0.0).unwrap_or(1.0)
    }
}

impl<'de> Deserialize<'de> for Ratio {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Stored {
            Num(f64),
            Text(String),
            Nothing(()),
        }
        Ok(Ratio(match Stored::deserialize(d)? {
            Stored::Num(v) => Some(v),
            // Text that is not a number was accepted by CloudStack's API as a string; it has
            // never meant anything but "no ratio".
            Stored::Text(s) => s.trim().parse().ok(),
            Stored::Nothing(()) => None,
        }))
    }
}

/// A storage pool's attributes.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct PoolAttrs {
    pub capacity_bytes: Option<i64>,
    pub used_bytes: Option<i64>,
    pub tags: TagSet,
    /// A HOST-scope (local) pool's host.
    pub host_id: Option<model::HostId>,
    /// Where the pool's files are on its hosts.
    pub path: Option<String>,
}

/// A cluster's attributes.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct ClusterAttrs {
    pub cpuovercommitratio: Ratio,
    pub memoryovercommitratio: Ratio,
    /// VM slots per host (Canopy): overrides the hypervisor's guest limit; a host's own wins.
    pub vmslots: Option<i64>,
}

/// A zone's attributes.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct ZoneAttrs {
    pub dns1: Option<String>,
    pub dns2: Option<String>,
}

/// A physical network's attributes.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct PhysicalNetworkAttrs {
    pub isolationmethods: TagSet,
}

/// One service a network offering provides, and by which provider.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct OfferedService {
    pub name: String,
    pub provider: Option<String>,
}

/// A network offering's attributes.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct NetworkOfferingAttrs {
    pub services: Vec<OfferedService>,
    pub egressdefaultpolicy: Option<bool>,
}

/// A service offering's attributes.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct ServiceOfferingAttrs {
    pub displaytext: Option<String>,
}

/// A network's attributes: the services it was created with (copied from its offering).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct NetworkAttrs {
    pub services: Option<Vec<String>>,
}

/// A volume's attributes.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct VolumeAttrs {
    /// The snapshot a volume was made from (createVolume snapshotid): its content.
    pub snapshot_id: Option<uuid::Uuid>,
    /// An uploaded volume (getUploadParamsForVolume, uploadVolume): its file in the image
    /// store, and that file's format (QCOW2 or RAW) — its content.
    pub image_file: Option<String>,
    pub image_format: Option<String>,
    /// Until when a browser upload is accepted (epoch ms); past it the volume is abandoned.
    pub upload_expires: Option<i64>,
    /// Why an upload or download failed.
    pub upload_error: Option<String>,
    /// An encrypted volume's passphrase (`ServerKey::encrypt`ed), set when its file is made:
    /// the offering asked for encryption (`encrypt` on a disk offering, `encryptroot` on a
    /// service offering for a root volume).
    pub passphrase: Option<String>,
}

/// A snapshot's attributes.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct SnapshotAttrs {
    /// The host whose pool holds the point-in-time copy until it is backed up.
    pub host_id: Option<uuid::Uuid>,
    /// The volume's pool then.
    pub pool_id: Option<uuid::Uuid>,
    /// The job that took the snapshot (a policy's, or the caller's).
    pub job_id: Option<uuid::Uuid>,
}

/// A VM's attributes.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct VmAttrs {
    pub hosttags: TagSet,
    pub storagetags: TagSet,
    pub localstorage: bool,
    pub hypervisor: Option<String>,
    /// The pending password, encrypted with the server key.
    pub pendingpassword: Option<String>,
    /// The deployment planner asked for at deploy (root admins), over the offering's.
    pub deploymentplanner: Option<String>,
    /// `Strict` or `Preferred` when the VM was deployed by the ImplicitDedicationPlanner.
    pub implicitdedication: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn infra(attrs: serde_json::Value) -> crate::InfraRow {
        crate::InfraRow {
            id: uuid::Uuid::nil(),
            zone_id: uuid::Uuid::nil(),
            parent_id: None,
            name: "p".into(),
            kind: "CLUSTER".into(),
            state: "Up".into(),
            domain_id: None,
            attrs,
            created: 0,
        }
    }

    #[test]
    fn tags_and_ratios_decode_from_every_stored_shape() {
        let p: PoolAttrs = infra(json!({"tags": "ssd, fast,,", "capacity_bytes": 10}))
            .decode()
            .expect("pool");
        assert_eq!(p.tags.0.len(), 2);
        assert_eq!(p.capacity_bytes, Some(10));
        let p: PoolAttrs = infra(json!({"tags": ["ssd"], "extra": {"x": 1}}))
            .decode()
            .expect("pool");
        assert!(p.tags.contains_ignore_case("SSD"));
        let c: ClusterAttrs =
            infra(json!({"cpuovercommitratio": "2.5", "memoryovercommitratio": 3}))
                .decode()
                .expect("cluster");
        assert_eq!(
            (
                c.cpuovercommitratio.or_one(),
                c.memoryovercommitratio.or_one()
            ),
            (2.5, 3.0)
        );
        let c: ClusterAttrs = infra(json!({"cpuovercommitratio": "-1"}))
            .decode()
            .expect("c");
        assert_eq!(c.cpuovercommitratio.or_one(), 1.0);
        let z: ZoneAttrs = infra(serde_json::Value::Null).decode().expect("null bag");
        assert_eq!(z.dns1, None);
    }

    #[test]
    fn a_value_of_the_wrong_shape_is_corrupt_and_names_the_row() {
        match infra(json!({"capacity_bytes": "lots"})).decode::<PoolAttrs>() {
            Err(DbError::Corrupt {
                table,
                column,
                value,
            }) => {
                assert_eq!((table, column), ("inventory", "attrs"));
                assert!(value.starts_with(&uuid::Uuid::nil().to_string()), "{value}");
            }
            other => panic!("{other:?}"),
        }
        assert!(infra(json!({"host_id": "not-a-uuid"}))
            .decode::<PoolAttrs>()
            .is_err());
        assert!(infra(json!([1, 2])).decode::<ZoneAttrs>().is_err());
    }
}
