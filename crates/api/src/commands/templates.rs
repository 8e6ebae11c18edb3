//! Templates, ISOs and OS types.

use super::objects::*;
use crate::registry::{f, CommandSpec, Field, ParamType::*};

fn register(name: &'static str, desc: &'static str, key: &'static str) -> CommandSpec {
    CommandSpec::new(name, desc)
        .returns(key, TEMPLATE)
        .req("name", String, "the name of the template/ISO")
        .req("url", String, "the URL of where the template/ISO is hosted: http://, or file:// for a file on the management server")
        .len(2048)
        .opt("displaytext", String, "the display text of the template/ISO, defaults to the name")
        .len(4096)
        .opt("zoneid", String, "the ID of the zone the template/ISO is to be hosted on; -1 or absent: all zones")
        .opt("zoneids", List, "a list of zone ids where the template/ISO will be hosted")
        .of(Uuid)
        .opt("ostypeid", Uuid, "the ID of the OS Type that best represents the OS of this template/ISO")
        .rel("listOsTypes")
        .opt("ispublic", Boolean, "true if the template/ISO is available to all accounts; default is true for ISO, false for template")
        .opt("isfeatured", Boolean, "true if the template/ISO is featured (admins only)")
        .opt("isextractable", Boolean, "true if the template/ISO is extractable")
        .opt("passwordenabled", Boolean, "true if the template supports the password reset feature; default is false")
        .opt("sshkeyenabled", Boolean, "true if the template supports the sshkey upload feature; default is false")
        .opt("checksum", String, "the checksum value of this template: plain md5 or sha256 hex, or {MD5}hex / {SHA-256}hex")
        .opt("account", String, "an optional accountName. Must be used with domainId.")
        .opt("domainid", Uuid, "an optional domainId. If the account parameter is used, domainId must also be used.")
        .opt("details", Map, "Template details in key/value pairs.")
        .opt("directdownload", Boolean, "Indicates if the template/ISO should bypass Secondary Storage; not supported")
}

/// getUploadParamsForTemplate/Iso: registerTemplate/registerIso's parameters but `url`, and
/// `zoneid` required.
fn upload(name: &'static str, desc: &'static str) -> CommandSpec {
    let mut s = register(name, desc, "getuploadparams");
    s.params
        .retain(|p| p.name != "url" && p.name != "zoneid" && p.name != "zoneids");
    s.response = super::storage::UPLOAD_PARAMS;
    s.req(
        "zoneid",
        Uuid,
        "the ID of the zone the template/ISO is to be hosted on",
    )
    .rel("listZones")
}

pub const USER_DATA: &[crate::registry::Field] = &[
    crate::registry::f("id", "string", "ID of the userdata"),
    crate::registry::f("name", "string", "Name of the userdata"),
    crate::registry::f("userdata", "string", "base64 encoded userdata content"),
    crate::registry::f("params", "string", "list of parameters which contains the list of keys or string parameters that are needed to be passed for any variables declared in userdata"),
    crate::registry::f("account", "string", "the owner of the userdata"),
    crate::registry::f("accountid", "string", "the owner id of the userdata"),
    crate::registry::f("domainid", "string", "the domain id of the userdata owner"),
    crate::registry::f("domain", "string", "the domain name of the userdata owner"),
    crate::registry::f("domainpath", "string", "path of the domain the userdata owner belongs to"),
    crate::registry::f("hasannotations", "boolean", "whether the userdata has annotations"),
];

pub fn specs() -> Vec<CommandSpec> {
    vec![
        register("registerTemplate", "Registers an existing template into the CloudStack cloud.", "template")
            .related("listTemplates")
            .req("format", String, "the format for the template: QCOW2 or RAW")
            .req("hypervisor", String, "the target hypervisor for the template: KVM or Simulator")
            .opt("requireshvm", Boolean, "true if this template requires HVM")
            .opt("bits", Integer, "32 or 64 bits support. 64 by default")
            .opt("templatetag", String, "the tag for this template."),
        register("registerIso", "Registers an existing ISO into the CloudStack Cloud.", "iso")
            .related("listIsos")
            .opt("bootable", Boolean, "true if this ISO is bootable. If not passed explicitly its assumed to be true"),
        upload("getUploadParamsForTemplate", "upload an existing template into the CloudStack cloud.")
            .req("format", String, "the format for the template: QCOW2 or RAW")
            .req("hypervisor", String, "the target hypervisor for the template: KVM or Simulator")
            .opt("requireshvm", Boolean, "true if this template requires HVM")
            .opt("bits", Integer, "32 or 64 bits support. 64 by default")
            .opt("templatetag", String, "the tag for this template."),
        upload("getUploadParamsForIso", "upload an existing ISO into the CloudStack Cloud.")
            .opt("bootable", Boolean, "true if this ISO is bootable. If not passed explicitly its assumed to be true"),
        CommandSpec::new("listTemplates", "List all public, private, and privileged templates.")
            .returns("template", TEMPLATE)
            .owned_list()
            .req("templatefilter", String, "possible values are featured, self, selfexecutable, sharedexecutable, executable, community, shared and all")
            .opt("id", Uuid, "the template ID")
            .opt("ids", List, "the IDs of the templates, mutually exclusive with id")
            .of(Uuid)
            .opt("name", String, "the template name")
            .opt("zoneid", Uuid, "list templates by zoneId")
            .rel("listZones")
            .opt("hypervisor", String, "the hypervisor for which to restrict the search")
            .opt("isready", Boolean, "list only ready templates")
            .opt("showremoved", Boolean, "show removed templates as well")
            .opt("showunique", Boolean, "If set to true, list only unique templates across zones"),
        CommandSpec::new("listIsos", "Lists all available ISO files.")
            .returns("iso", TEMPLATE)
            .owned_list()
            .opt("isofilter", String, "possible values are featured, self, selfexecutable, sharedexecutable, executable, community, shared and all")
            .opt("id", Uuid, "list ISO by ID")
            .opt("name", String, "list all ISOs by name")
            .opt("zoneid", Uuid, "the ID of the zone")
            .rel("listZones")
            .opt("bootable", Boolean, "true if the ISO is bootable, false otherwise")
            .opt("ispublic", Boolean, "true if the ISO is publicly available to all users, false otherwise.")
            .opt("isready", Boolean, "true if this ISO is ready to be deployed")
            .opt("showunique", Boolean, "If set to true, list only unique ISOs across zones"),
        CommandSpec::new("updateTemplate", "Updates attributes of a template.")
            .returns("template", TEMPLATE)
            .req("id", Uuid, "the ID of the image file")
            .opt("name", String, "the name of the image file")
            .opt("displaytext", String, "the display text of the image")
            .len(4096)
            .opt("ostypeid", Uuid, "the ID of the OS type that best represents the OS of this image.")
            .opt("passwordenabled", Boolean, "true if the image supports the password reset feature; default is false")
            .opt("sshkeyenabled", Boolean, "true if the template supports the sshkey upload feature; default is false")
            .opt("bootable", Boolean, "true if image is bootable, false otherwise; available only for updateIso API")
            .opt("sortkey", Integer, "sort key of the template, integer"),
        CommandSpec::new("updateIso", "Updates an ISO file.")
            .returns("iso", TEMPLATE)
            .req("id", Uuid, "the ID of the image file")
            .opt("name", String, "the name of the image file")
            .opt("displaytext", String, "the display text of the image")
            .len(4096)
            .opt("ostypeid", Uuid, "the ID of the OS type that best represents the OS of this image.")
            .opt("bootable", Boolean, "true if image is bootable, false otherwise; available only for updateIso API")
            .opt("sortkey", Integer, "sort key of the template, integer"),
        CommandSpec::new("copyTemplate", "Copies a template from one zone to another: the file is copied into the destination zone's image store and the template is listed in both zones.")
            .asynchronous()
            .returns("template", TEMPLATE)
            .req("id", Uuid, "Template ID.")
            .rel("listTemplates")
            .opt("destzoneid", Uuid, "ID of the zone the template is being copied to.")
            .rel("listZones")
            .opt("destzoneids", List, "A list of IDs of the zones that the template is being copied to.")
            .opt("sourcezoneid", Uuid, "ID of the zone the template is currently hosted on. If not specified and template is cross-zone, then we will sync this template to region wide image store.")
            .rel("listZones"),
        CommandSpec::new("copyIso", "Copies an ISO from one zone to another.")
            .asynchronous()
            .returns("iso", TEMPLATE)
            .req("id", Uuid, "Template ID.")
            .rel("listIsos")
            .opt("destzoneid", Uuid, "ID of the zone the template is being copied to.")
            .rel("listZones")
            .opt("destzoneids", List, "A list of IDs of the zones that the template is being copied to.")
            .opt("sourcezoneid", Uuid, "ID of the zone the template is currently hosted on.")
            .rel("listZones"),
        CommandSpec::new("deleteTemplate", "Deletes a template from the system. All virtual machines using the deleted template will not be affected.")
            .asynchronous()
            .returns("success", SUCCESS)
            .req("id", Uuid, "the ID of the template")
            .opt("zoneid", Uuid, "the ID of zone of the template")
            .opt("forced", Boolean, "Force delete a template."),
        CommandSpec::new("deleteIso", "Deletes an ISO file.")
            .asynchronous()
            .returns("success", SUCCESS)
            .req("id", Uuid, "the ID of the ISO file")
            .opt("zoneid", Uuid, "the ID of the zone of the ISO file"),
        CommandSpec::new("listOsTypes", "Lists all supported OS types for this cloud.")
            .returns("ostype", OS_TYPE)
            .list()
            .opt("id", Uuid, "list by Os type Id")
            .opt("oscategoryid", Uuid, "list by Os Category id")
            .opt("description", String, "list os by description"),
        CommandSpec::new("listOsCategories", "Lists all supported OS categories for this cloud.")
            .returns("oscategory", OS_CATEGORY)
            .list()
            .opt("id", Uuid, "list Os category by id")
            .opt("name", String, "list os category by name"),
        CommandSpec::new("listGuestOsMapping", "Lists all available OS mappings for given hypervisor")
            .roles(crate::registry::roles::ADMIN)
            .returns("guestosmapping", GUEST_OS_MAPPING)
            .list()
            .opt("id", Uuid, "list mapping by its UUID")
            .opt("ostypeid", Uuid, "list mapping by Guest OS Type UUID")
            .rel("listOsTypes")
            .opt("hypervisor", String, "list Guest OS mapping by hypervisor")
            .opt("hypervisorversion", String, "list Guest OS mapping by hypervisor version. Must be used with hypervisor parameter")
            .opt("osdisplayname", String, "list Guest OS mapping by OS display name")
            .opt("osnameforhypervisor", String, "list Guest OS mapping by OS mapping name with hypervisor"),
        CommandSpec::new("updateTemplatePermissions", "Updates template visibility permissions. A public template is visible to all accounts; a private one only to its owner and the accounts it is shared with.")
            .returns("success", SUCCESS)
            .req("id", Uuid, "the template ID")
            .rel("listTemplates")
            .opt("accounts", List, "a comma delimited list of accounts within caller's domain. If specified, \"op\" parameter has to be passed in.")
            .opt("op", String, "permission operator (add, remove, reset)")
            .opt("ispublic", Boolean, "true for public template, false for private template")
            .opt("isfeatured", Boolean, "true for featured template, false otherwise")
            .opt("isextractable", Boolean, "true if the template is extractable, false other wise. Can be set only by root admin")
            .opt("projectids", List, "a comma delimited list of projects (of the owner's domain) to share with"),
        CommandSpec::new("registerUserData", "Register a new userdata.")
            .returns("userdata", USER_DATA)
            .related("listUserData")
            .req("name", String, "Name of the userdata")
            .req("userdata", String, "Base64 encoded userdata content (up to vm.userdata.max.length bytes decoded)")
            .len(1_048_576)
            .opt("params", List, "comma separated list of variables declared in userdata content")
            .of(String)
            .opt("account", String, "an optional account for the userdata. Must be used with domainId.")
            .opt("domainid", Uuid, "an optional domainId for the userdata. If the account parameter is used, domainId must also be used.")
            .rel("listDomains"),
        CommandSpec::new("listUserData", "List registered userdatas")
            .returns("userdata", USER_DATA)
            .list()
            .opt("id", Uuid, "the ID of the Userdata")
            .opt("name", String, "Userdata name to look for")
            .opt("account", String, "list resources by account. Must be used with the domainId parameter.")
            .opt("domainid", Uuid, "list only resources belonging to the domain specified")
            .rel("listDomains")
            .opt("isrecursive", Boolean, "defaults to false, but if true, lists all resources from the parent specified by the domainId till leaves.")
            .opt("listall", Boolean, "If set to false, list only resources belonging to the command's caller; if set to true - list resources that the caller is authorized to see. Default value is false"),
        CommandSpec::new("deleteUserData", "Deletes a userdata")
            .returns("success", SUCCESS)
            .req("id", Uuid, "the ID of the Userdata")
            .rel("listUserData")
            .opt("account", String, "an optional account for the userdata. Must be used with domainId.")
            .opt("domainid", Uuid, "an optional domainId for the userdata. If the account parameter is used, domainId must also be used.")
            .rel("listDomains"),
        CommandSpec::new("linkUserDataToTemplate", "Link or unlink a userdata to a template.")
            .returns("template", TEMPLATE)
            .opt("templateid", Uuid, "the ID of the template for the virtual machine")
            .rel("listTemplates")
            .opt("isoid", Uuid, "the ID of the ISO for the virtual machine")
            .rel("listIsos")
            .opt("userdataid", Uuid, "the ID of the userdata that has to be linked to template/ISO. If not provided existing userdata will be unlinked from the template/ISO")
            .rel("listUserData")
            .opt("userdatapolicy", String, "an optional override policy of the userdata. Possible values are - ALLOWOVERRIDE, APPEND, DENYOVERRIDE. Default policy is allowoverride"),
        CommandSpec::new("listTemplatePermissions", "List template visibility and all accounts that have permissions to view this template.")
            .returns("templatepermission", TEMPLATE_PERMISSION)
            .req("id", Uuid, "the template ID")
            .rel("listTemplates"),
        CommandSpec::new("updateIsoPermissions", "Updates iso visibility permissions. A public iso is visible to all accounts; a private one only to its owner and the accounts it is shared with.")
            .returns("success", SUCCESS)
            .req("id", Uuid, "the iso ID")
            .rel("listIsos")
            .opt("accounts", List, "a comma delimited list of accounts within caller's domain. If specified, \"op\" parameter has to be passed in.")
            .opt("op", String, "permission operator (add, remove, reset)")
            .opt("ispublic", Boolean, "true for public iso, false for private iso")
            .opt("isfeatured", Boolean, "true for featured iso, false otherwise")
            .opt("isextractable", Boolean, "true if the iso is extractable, false other wise. Can be set only by root admin")
            .opt("projectids", List, "a comma delimited list of projects (of the owner's domain) to share with"),
        CommandSpec::new("listIsoPermissions", "List iso visibility and all accounts that have permissions to view this iso.")
            .returns("isopermission", TEMPLATE_PERMISSION)
            .req("id", Uuid, "the iso ID")
            .rel("listIsos"),
        CommandSpec::new("listInfrastructure", "Lists infrastructure")
            .roles(crate::registry::roles::ADMIN)
            .returns("infrastructure", INFRASTRUCTURE),
        CommandSpec::new("listSystemVms", "List system virtual machines (Canopy runs none: the list is empty).")
            .roles(crate::registry::roles::ADMIN)
            .returns("systemvm", SYSTEM_VM)
            .list()
            .opt("id", Uuid, "the ID of the system VM")
            .opt("name", String, "the name of the system VM")
            .opt("state", String, "the state of the system VM")
            .opt("systemvmtype", String, "the system VM type. Possible types are \"consoleproxy\" and \"secondarystoragevm\".")
            .opt("zoneid", Uuid, "the Zone ID of the system VM")
            .opt("podid", Uuid, "the Pod ID of the system VM")
            .opt("hostid", Uuid, "the host ID of the system VM")
            .opt("storageid", Uuid, "the storage ID where vm's volumes belong to"),
        CommandSpec::new("addResourceDetail", "Adds detail for the Resource.")
            .asynchronous()
            .returns("success", SUCCESS)
            .req("resourcetype", String, "type of the resource: UserVm, Volume, Template, ISO, Network, Snapshot or Vpc")
            .req("resourceid", Uuid, "resource id to create the details for")
            .req("details", Map, "Map of (key/value pairs)")
            .opt("fordisplay", Boolean, "pass false if you want this detail to be disabled for the regular user. True by default"),
        CommandSpec::new("removeResourceDetail", "Removes detail for the Resource.")
            .asynchronous()
            .returns("success", SUCCESS)
            .req("resourcetype", String, "Delete details for resource type")
            .req("resourceid", Uuid, "Delete details for resource id")
            .opt("key", String, "Delete details matching key/value pairs"),
        CommandSpec::new("listResourceDetails", "List resource detail(s)")
            .returns("resourcedetail", RESOURCE_DETAIL)
            .list()
            .req("resourcetype", String, "list by resource type")
            .opt("resourceid", Uuid, "list by resource id (required by Canopy)")
            .opt("key", String, "list by key")
            .opt("value", String, "list by key, value. Needs to be passed only along with key")
            .opt("fordisplay", Boolean, "if set to true, only details marked with display=true, are returned. False by default"),
        CommandSpec::new("listHypervisors", "List hypervisors")
            .returns("hypervisor", HYPERVISOR)
            .list()
            .opt("zoneid", Uuid, "the zone id for listing hypervisors.")
            .rel("listZones"),
    ]
}

pub const GUEST_OS_MAPPING: &[Field] = &[
    f("id", "string", "the ID of the Guest OS mapping"),
    f("hypervisor", "string", "the hypervisor"),
    f(
        "hypervisorversion",
        "string",
        "version of the hypervisor for mapping",
    ),
    f("ostypeid", "string", "the ID of the Guest OS type"),
    f(
        "osdisplayname",
        "string",
        "standard display name for the Guest OS",
    ),
    f(
        "osnameforhypervisor",
        "string",
        "hypervisor specific name for the Guest OS",
    ),
    f("isuserdefined", "string", "is the mapping user defined"),
];

pub const HYPERVISOR: &[Field] = &[f("name", "string", "Hypervisor name")];

pub const TEMPLATE_PERMISSION: &[Field] = &[
    f("id", "string", "the template ID"),
    f(
        "ispublic",
        "boolean",
        "true if this template is a public template, false otherwise",
    ),
    f(
        "domainid",
        "string",
        "the ID of the domain to which the template belongs",
    ),
    f(
        "account",
        "list",
        "the list of accounts the template is available for",
    ),
];

pub const INFRASTRUCTURE: &[Field] = &[
    f("zones", "integer", "Number of zones"),
    f("pods", "integer", "Number of pods"),
    f("clusters", "integer", "Number of clusters"),
    f("hosts", "integer", "Number of hypervisor hosts"),
    f("storagepools", "integer", "Number of storage pools"),
    f("imagestores", "integer", "Number of images stores"),
    f("objectstores", "integer", "Number of object stores"),
    f("systemvms", "integer", "Number of systemvms"),
    f("routers", "integer", "Number of routers"),
    f("ilbvms", "integer", "Number of internal LBs"),
    f(
        "managementservers",
        "integer",
        "Number of management servers",
    ),
];

pub const RESOURCE_DETAIL: &[Field] = &[
    f("resourceid", "string", "ID of the resource"),
    f("resourcetype", "string", "ID of the resource"),
    f("key", "string", "key of the resource detail"),
    f("value", "string", "value of the resource detail"),
    f(
        "fordisplay",
        "boolean",
        "if detail is returned to the regular user",
    ),
    f("account", "string", "the account associated with the tag"),
    f(
        "domainid",
        "string",
        "the ID of the domain associated with the tag",
    ),
    f("domain", "string", "the domain associated with the tag"),
];

/// A system VM (listSystemVms answers none; the fields are CloudStack's).
const SYSTEM_VM: &[Field] = &[
    f("id", "string", "the ID of the system VM"),
    f("name", "string", "the name of the system VM"),
    f("systemvmtype", "string", "the system VM type"),
    f("state", "string", "the state of the system VM"),
    f("zoneid", "string", "the Zone ID for the system VM"),
    f("hostid", "string", "the host ID for the system VM"),
];
