//! Response objects of storage: snapshots and their policies, storage pools and image stores.

use crate::registry::{f, Field};

pub const SNAPSHOT: &[Field] = &[
    f("id", "string", "ID of the snapshot"),
    f("name", "string", "name of the snapshot"),
    f("account", "string", "the account associated with the snapshot"),
    f("domainid", "string", "the domain ID of the snapshot's account"),
    f("domain", "string", "the domain name of the snapshot's account"),
    f("domainpath", "string", "the domain path of the snapshot's account"),
    f("snapshottype", "string", "the type of the snapshot: MANUAL or RECURRING"),
    f("volumeid", "string", "ID of the disk volume"),
    f("volumename", "string", "name of the disk volume"),
    f("volumetype", "string", "type of the disk volume"),
    f("volumestate", "string", "state of the disk volume"),
    f("created", "date", "the date the snapshot was created"),
    f(
        "intervaltype",
        "string",
        "valid types are hourly, daily, weekly, monthy, template, and none.",
    ),
    f("state", "state", "the state of the snapshot. BackedUp means that snapshot is ready to be used; Creating - the snapshot is being allocated on the primary storage; BackingUp - the snapshot is being backed up on secondary storage"),
    f("physicalsize", "long", "physical size of backedup snapshot on image store"),
    f("virtualsize", "long", "virtual size of backedup snapshot on image store"),
    f("zoneid", "string", "id of the availability zone"),
    f("zonename", "string", "name of the availability zone"),
    f("revertable", "boolean", "indicates whether the underlying storage supports reverting the volume to this snapshot"),
    f("locationtype", "string", "valid location types are primary and secondary."),
    f("tags", "list", "the list of resource tags associated with snapshot"),
];

pub const SNAPSHOT_POLICY: &[Field] = &[
    f("id", "string", "the ID of the snapshot policy"),
    f("volumeid", "string", "the ID of the disk volume"),
    f(
        "schedule",
        "string",
        "time the snapshot is scheduled to be taken.",
    ),
    f(
        "intervaltype",
        "short",
        "the interval type of the snapshot policy",
    ),
    f("maxsnaps", "int", "maximum number of snapshots retained"),
    f("timezone", "string", "the time zone of the snapshot policy"),
    f(
        "fordisplay",
        "boolean",
        "is this policy for display to the regular user",
    ),
    f(
        "nextrun",
        "date",
        "when the policy takes its next snapshot (Canopy)",
    ),
    f("tags", "list", "the list of resource tags associated"),
];

pub const VM_SNAPSHOT: &[Field] = &[
    f("id", "string", "the ID of the vm snapshot"),
    f("name", "string", "the name of the vm snapshot"),
    f(
        "displayname",
        "string",
        "the display name of the vm snapshot",
    ),
    f(
        "description",
        "string",
        "the description of the vm snapshot",
    ),
    f("state", "state", "the state of the vm snapshot"),
    f("type", "string", "VM Snapshot type: Disk or DiskAndMemory"),
    f("current", "boolean", "indiates if this is current snapshot"),
    f("parent", "string", "the parent ID of the vm snapshot"),
    f(
        "parentName",
        "string",
        "the parent displayName of the vm snapshot",
    ),
    f("virtualmachineid", "string", "the vm ID of the vm snapshot"),
    f(
        "virtualmachinename",
        "string",
        "the vm name of the vm snapshot",
    ),
    f("zoneid", "string", "the Zone ID of the vm snapshot"),
    f("created", "date", "the create date of the vm snapshot"),
    f(
        "account",
        "string",
        "the account associated with the disk volume",
    ),
    f(
        "domainid",
        "string",
        "the ID of the domain associated with the disk volume",
    ),
    f(
        "domain",
        "string",
        "the domain associated with the disk volume",
    ),
    f(
        "hypervisor",
        "string",
        "the type of hypervisor on which snapshot is stored",
    ),
];

pub const EXTRACT: &[Field] = &[
    f("id", "string", "the id of extracted object"),
    f("name", "string", "the name of the extracted object"),
    f("extractId", "string", "the upload id of extracted object"),
    f(
        "accountid",
        "string",
        "the account id to which the extracted object belongs",
    ),
    f("state", "string", "the state of the extracted object"),
    f("status", "string", "the status of the extraction"),
    f(
        "uploadpercentage",
        "integer",
        "the percentage of the entity uploaded to the specified location",
    ),
    f(
        "extractMode",
        "string",
        "the mode of extraction - upload or download",
    ),
    f(
        "created",
        "date",
        "the time and date the object was created",
    ),
    f(
        "expires",
        "date",
        "when the download link stops working (Canopy)",
    ),
    f("zoneid", "string", "zone ID the object was extracted from"),
    f(
        "zonename",
        "string",
        "zone name the object was extracted from",
    ),
    f(
        "url",
        "string",
        "if mode = download the url from which the entity can be downloaded",
    ),
];

pub const STORAGE_POOL: &[Field] = &[
    f("id", "string", "the ID of the storage pool"),
    f("name", "string", "the name of the storage pool"),
    f("zoneid", "string", "the Zone ID of the storage pool"),
    f("zonename", "string", "the Zone name of the storage pool"),
    f("podid", "string", "the Pod ID of the storage pool"),
    f("podname", "string", "the Pod name of the storage pool"),
    f(
        "clusterid",
        "string",
        "the ID of the cluster for the storage pool",
    ),
    f(
        "clustername",
        "string",
        "the name of the cluster for the storage pool",
    ),
    f("state", "string", "the state of the storage pool"),
    f("scope", "string", "the scope of the storage pool"),
    f("type", "string", "the storage pool type"),
    f("path", "string", "the storage pool path"),
    f("ipaddress", "string", "the IP address of the storage pool"),
    f(
        "disksizetotal",
        "long",
        "the total disk size of the storage pool",
    ),
    f(
        "disksizeused",
        "long",
        "the host's currently used disk size",
    ),
    f(
        "disksizeallocated",
        "long",
        "the host's currently allocated disk size",
    ),
    f("tags", "string", "the tags for the storage pool"),
    f(
        "hypervisor",
        "string",
        "the hypervisor type of the storage pool",
    ),
    f("provider", "string", "Storage provider for this pool"),
    f(
        "overprovisionfactor",
        "string",
        "the overprovisionfactor for the storage pool",
    ),
    f(
        "created",
        "date",
        "the date and time the storage pool was created",
    ),
];

pub const IMAGE_STORE: &[Field] = &[
    f("id", "string", "the ID of the image store"),
    f("name", "string", "the name of the image store"),
    f("url", "string", "the url of the image store"),
    f("protocol", "string", "the protocol of the image store"),
    f(
        "providername",
        "string",
        "the provider name of the image store",
    ),
    f("scope", "string", "the scope of the image store"),
    f("zoneid", "string", "the Zone ID of the image store"),
    f("zonename", "string", "the Zone name of the image store"),
    f("readonly", "boolean", "defines if store is read-only"),
    f(
        "disksizetotal",
        "long",
        "the total disk size of the host (set with updateImageStore capacitybytes)",
    ),
];
