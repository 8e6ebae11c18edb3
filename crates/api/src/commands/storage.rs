//! Primary storage pools and image stores (secondary storage).

use super::objects::*;
use crate::registry::{roles::*, CommandSpec, ParamType::*};

pub fn specs() -> Vec<CommandSpec> {
    vec![
        CommandSpec::new("createStoragePool", "Creates a storage pool. Canopy pools are a path present on every host of their scope: sharedmountpoint:///PATH (a shared mount) or filesystem:///PATH.")
            .roles(ADMIN)
            .returns("storagepool", STORAGE_POOL)
            .related("listStoragePools")
            .req("name", String, "the name for the storage pool")
            .req("url", String, "the URL of the storage pool: sharedmountpoint:///PATH or filesystem:///PATH")
            .len(2048)
            .req("zoneid", Uuid, "the Zone ID for the storage pool")
            .rel("listZones")
            .opt("podid", Uuid, "the Pod ID for the storage pool")
            .rel("listPods")
            .opt("clusterid", Uuid, "the cluster ID for the storage pool")
            .rel("listClusters")
            .opt("scope", String, "the scope of the storage: cluster or zone")
            .opt("hypervisor", String, "hypervisor type of the hosts in zone that will be attached to this storage pool. KVM or Simulator")
            .opt("tags", String, "the tags for the storage pool")
            .opt("provider", String, "the storage provider name")
            .opt("managed", Boolean, "whether the storage should be managed by CloudStack")
            .opt("capacitybytes", Long, "bytes CloudStack can provision from this storage pool")
            .opt("capacityiops", Long, "IOPS CloudStack can provision from this storage pool")
            .opt("details", Map, "the details for the storage pool")
            .opt("istagarule", Boolean, "Whether the informed tag is a JS interpretable rule or not."),
        CommandSpec::new("listStoragePools", "Lists storage pools.")
            .roles(ADMIN)
            .returns("storagepool", STORAGE_POOL)
            .list()
            .opt("id", Uuid, "the ID of the storage pool")
            .opt("name", String, "the name of the storage pool")
            .opt("zoneid", Uuid, "the Zone ID for the storage pool")
            .rel("listZones")
            .opt("podid", Uuid, "the Pod ID for the storage pool")
            .opt("clusterid", Uuid, "list storage pools belongig to the specific cluster")
            .rel("listClusters")
            .opt("scope", String, "the scope of the storage pool")
            .opt("status", String, "the status of the storage pool")
            .opt("path", String, "the storage pool path")
            .opt("ipaddress", String, "the IP address for the storage pool"),
        CommandSpec::new("updateStoragePool", "Updates a storage pool.")
            .roles(ADMIN)
            .returns("storagepool", STORAGE_POOL)
            .req("id", Uuid, "the Id of the storage pool")
            .opt("name", String, "Change the name of the storage pool")
            .opt("tags", List, "comma-separated list of tags for the storage pool")
            .opt("capacitybytes", Long, "bytes CloudStack can provision from this storage pool")
            .opt("enabled", Boolean, "false to disable the pool for allocation of new volumes, true to enable it back."),
        CommandSpec::new("deleteStoragePool", "Deletes a storage pool.")
            .roles(ADMIN)
            .returns("success", SUCCESS)
            .req("id", Uuid, "Storage pool id")
            .opt("forced", Boolean, "Force destroy storage pool (force expunge volumes in Destroyed state as a part of pool removal)"),
        CommandSpec::new("enableStorageMaintenance", "Puts storage pool into maintenance state")
            .roles(ADMIN)
            .asynchronous()
            .wrapper("prepareprimarystorageformaintenanceresponse")
            .returns("storagepool", STORAGE_POOL)
            .req("id", Uuid, "Primary storage ID"),
        CommandSpec::new("cancelStorageMaintenance", "Cancels maintenance for primary storage")
            .roles(ADMIN)
            .asynchronous()
            .wrapper("cancelprimarystoragemaintenanceresponse")
            .returns("storagepool", STORAGE_POOL)
            .req("id", Uuid, "the primary storage ID"),
        CommandSpec::new("addImageStore", "Adds backup image store. Canopy image stores are a directory on the management server: file:///PATH.")
            .roles(ADMIN)
            .returns("imagestore", IMAGE_STORE)
            .related("listImageStores")
            .req("provider", String, "the image store provider name (NFS is accepted with a file:/// URL)")
            .opt("name", String, "the name for the image store")
            .opt("url", String, "the URL for the image store: file:///PATH on the management server")
            .len(2048)
            .opt("zoneid", Uuid, "the Zone ID for the image store")
            .rel("listZones")
            .opt("details", Map, "the details for the image store. Example: details[0].key=accesskey&details[0].value=s389ddssaa&details[1].key=secretkey&details[1].value=8dshfsss"),
        CommandSpec::new("addSecondaryStorage", "Adds secondary storage.")
            .roles(ADMIN)
            .returns("imagestore", IMAGE_STORE)
            .req("url", String, "the URL for the secondary storage")
            .len(2048)
            .opt("zoneid", Uuid, "the Zone ID for the secondary storage"),
        CommandSpec::new("listImageStores", "Lists image stores.")
            .roles(ADMIN)
            .returns("imagestore", IMAGE_STORE)
            .list()
            .opt("id", Uuid, "the ID of the storage pool")
            .opt("name", String, "the name of the image store")
            .opt("zoneid", Uuid, "the Zone ID for the image store")
            .rel("listZones")
            .opt("provider", String, "the image store provider")
            .opt("protocol", String, "the image store protocol"),
        CommandSpec::new("deleteImageStore", "Deletes an image store or Secondary Storage.")
            .roles(ADMIN)
            .returns("success", SUCCESS)
            .req("id", Uuid, "The image store ID or Secondary Storage ID."),
        CommandSpec::new("updateImageStore", "Updates image store read-only status")
            .roles(ADMIN)
            .returns("imagestore", IMAGE_STORE)
            .req("id", Uuid, "Image Store UUID")
            .rel("listImageStores")
            .opt("name", String, "The new name for the Image Store.")
            .opt("readonly", Boolean, "If set to true, it designates the corresponding image store to read-only, hence not considering them during storage migration")
            .opt("capacitybytes", Long, "The number of bytes CloudStack can use on this image storage"),
    ]
}

/// The ticket of a browser upload (getUploadParamsFor…).
pub const UPLOAD_PARAMS: &[crate::registry::Field] = &[
    crate::registry::f("id", "string", "the template/volume ID"),
    crate::registry::f("postURL", "string", "POST url to upload the file to"),
    crate::registry::f(
        "metadata",
        "string",
        "encrypted data to be sent in the POST request.",
    ),
    crate::registry::f(
        "expires",
        "string",
        "the timestamp after which the signature expires",
    ),
    crate::registry::f(
        "signature",
        "string",
        "signature to be sent in the POST request.",
    ),
];
