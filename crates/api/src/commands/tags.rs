//! Resource tags.

use super::objects::*;
use crate::registry::{CommandSpec, ParamType::*};

pub fn specs() -> Vec<CommandSpec> {
    vec![
        CommandSpec::new("createTags", "Creates resource tag(s)")
            .asynchronous()
            .returns("success", SUCCESS)
            .req("resourceids", List, "list of resources to create the tags for")
            .of(String)
            .req("resourcetype", String, "type of the resource: Template or ISO (other types arrive with their resources)")
            .req("tags", Map, "Map of tags (key/value pairs)")
            .opt("customer", String, "identifies client specific tag. When the value is not null, the tag can't be used by cloudStack code internally"),
        CommandSpec::new("deleteTags", "Deleting resource tag(s)")
            .asynchronous()
            .returns("success", SUCCESS)
            .req("resourceids", List, "Delete tags for resource id(s)")
            .of(String)
            .req("resourcetype", String, "Delete tag by resource type")
            .opt("tags", Map, "Delete tags matching key/value pairs"),
        CommandSpec::new("listTags", "List resource tag(s)")
            .returns("tag", TAG)
            .owned_list()
            .opt("resourceid", Uuid, "list by resource id")
            .opt("resourcetype", String, "list by resource type")
            .opt("key", String, "list by key")
            .opt("value", String, "list by value")
            .opt("customer", String, "list by customer name"),
    ]
}
