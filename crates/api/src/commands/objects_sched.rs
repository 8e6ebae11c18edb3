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
