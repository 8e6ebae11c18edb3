//! Response objects of the scheduling commands.

use crate::registry::{f, Field};

pub use super::objects::SUCCESS;

pub const ADMISSION_POLICY: &[Field] = &[
    f("id", "string", "the policy's ID"),
    f("name", "string", "the policy's name"),
    f("runtimeclass", "string", "the runtime class it applies to"),
    f("description", "string", "what the policy is for"),
    f("action", "string", "mutate or refuse"),
    f(
        "dropcpu",
        "boolean",
        "whether a matching VM's CPU reservation is dropped",
    ),
    f(
        "dropmemory",
        "boolean",
        "whether a matching VM's memory reservation is dropped",
    ),
    f(
        "hosttags",
        "string",
        "host tags a matching VM's host must carry, comma separated",
    ),
    f(
        "protecteddomainids",
        "string",
        "domains (and their subdomains) left alone, comma separated",
    ),
    f(
        "protectedaccountids",
        "string",
        "accounts left alone, comma separated",
    ),
    f("created", "date", "when the policy was created"),
];

pub const AFFINITY_GROUP_TYPE: &[Field] = &[
    f("type", "string", "the type of the affinity group"),
    f("description", "string", "what the type means (Canopy)"),
];

pub const AFFINITY_GROUP: &[Field] = &[
    f("id", "string", "the ID of the affinity group"),
    f("name", "string", "the name of the affinity group"),
    f("type", "string", "the type of the affinity group"),
    f(
        "description",
        "string",
        "the description of the affinity group",
    ),
    f("account", "string", "the account owning the affinity group"),
    f("domainid", "string", "the domain ID of the affinity group"),
    f("domain", "string", "the domain name of the affinity group"),
    f(
        "domainpath",
        "string",
        "path of the Domain the affinity group belongs to",
    ),
    f(
        "virtualmachineIds",
        "list",
        "virtual machine IDs associated with this affinity group",
    ),
];

macro_rules! dedicated {
    ($name:ident, $id:literal, $label:literal, $n:literal) => {
        pub const $name: &[Field] = &[
            f("id", "string", "the ID of the dedicated resource"),
            f($id, "string", concat!("the ID of the ", $label)),
            f($n, "string", concat!("the name of the ", $label)),
            f(
                "domainid",
                "string",
                concat!("the domain ID to which the ", $label, " is dedicated"),
            ),
            f(
                "accountid",
                "string",
                concat!("the Account Id to which the ", $label, " is dedicated"),
            ),
            f("account", "string", "the name of that account (Canopy)"),
            f(
                "affinitygroupid",
                "string",
                "the Dedication Affinity Group ID (Canopy creates none: null)",
            ),
        ];
    };
}

dedicated!(DEDICATED_ZONE, "zoneid", "Zone", "zonename");
dedicated!(DEDICATED_POD, "podid", "Pod", "podname");
dedicated!(DEDICATED_CLUSTER, "clusterid", "cluster", "clustername");
dedicated!(DEDICATED_HOST, "hostid", "host", "hostname");
