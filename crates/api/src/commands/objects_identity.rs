//! Response objects' fields of identity: domains, users, accounts (with their resource
//! counts), roles and their permissions, instance groups.

use crate::registry::{f, Field};

pub const DOMAIN: &[Field] = &[
    f("id", "string", "the ID of the domain"),
    f("name", "string", "the name of the domain"),
    f("path", "string", "the path of the domain"),
    f("level", "integer", "the level of the domain"),
    f(
        "parentdomainid",
        "string",
        "the domain ID of the parent domain",
    ),
    f(
        "parentdomainname",
        "string",
        "the domain name of the parent domain",
    ),
    f(
        "haschild",
        "boolean",
        "whether the domain has one or more sub-domains",
    ),
    f("state", "string", "the state of the domain"),
    f("networkdomain", "string", "the network domain"),
    f("created", "date", "the date when this domain was created"),
    f(
        "vmlimit",
        "string",
        "the total number of virtual machines that can be used by this domain",
    ),
    f(
        "vmtotal",
        "long",
        "the total number of virtual machines used by this domain",
    ),
    f(
        "vmavailable",
        "string",
        "the total number of virtual machines available to this domain",
    ),
    f(
        "iplimit",
        "string",
        "the total number of public IP addresses that can be used by this domain",
    ),
    f(
        "iptotal",
        "long",
        "the total number of public IP addresses used by this domain",
    ),
    f(
        "ipavailable",
        "string",
        "the total number of public IP addresses available to this domain",
    ),
    f(
        "volumelimit",
        "string",
        "the total number of volumes that can be used by this domain",
    ),
    f(
        "volumetotal",
        "long",
        "the total number of volumes used by this domain",
    ),
    f(
        "volumeavailable",
        "string",
        "the total number of volumes available to this domain",
    ),
    f(
        "snapshotlimit",
        "string",
        "the total number of snapshots that can be used by this domain",
    ),
    f(
        "snapshottotal",
        "long",
        "the total number of snapshots used by this domain",
    ),
    f(
        "snapshotavailable",
        "string",
        "the total number of snapshots available to this domain",
    ),
    f(
        "vpclimit",
        "string",
        "the total number of VPCs that can be used by this domain",
    ),
    f(
        "vpctotal",
        "long",
        "the total number of VPCs used by this domain",
    ),
    f(
        "vpcavailable",
        "string",
        "the total number of VPCs available to this domain",
    ),
    f(
        "networklimit",
        "string",
        "the total number of networks that can be owned by this domain",
    ),
    f(
        "networktotal",
        "long",
        "the total number of networks owned by this domain",
    ),
    f(
        "networkavailable",
        "string",
        "the total number of networks available to this domain",
    ),
    f(
        "projectlimit",
        "string",
        "the total number of projects that can be owned by this domain",
    ),
    f(
        "projecttotal",
        "long",
        "the total number of projects owned by this domain",
    ),
    f(
        "projectavailable",
        "string",
        "the total number of projects available to this domain",
    ),
    f(
        "cpulimit",
        "string",
        "the total number of CPU cores that can be used by this domain",
    ),
    f(
        "cputotal",
        "long",
        "the total number of CPU cores used by this domain",
    ),
    f(
        "cpuavailable",
        "string",
        "the total number of CPU cores available to this domain",
    ),
    f(
        "memorylimit",
        "string",
        "the total number of memory (MiB) that can be used by this domain",
    ),
    f(
        "memorytotal",
        "long",
        "the total number of memory (MiB) used by this domain",
    ),
    f(
        "memoryavailable",
        "string",
        "the total number of memory (MiB) available to this domain",
    ),
    f(
        "primarystoragelimit",
        "string",
        "the total number of primary storage (GiB) that can be used by this domain",
    ),
    f(
        "primarystoragetotal",
        "long",
        "the total number of primary storage (GiB) used by this domain",
    ),
    f(
        "primarystorageavailable",
        "string",
        "the total number of primary storage (GiB) available to this domain",
    ),
    f(
        "secondarystoragelimit",
        "string",
        "the total number of secondary storage (GiB) that can be used by this domain",
    ),
    f(
        "secondarystoragetotal",
        "float",
        "the total number of secondary storage (GiB) used by this domain",
    ),
    f(
        "secondarystorageavailable",
        "string",
        "the total number of secondary storage (GiB) available to this domain",
    ),
];

pub const USER_OBJ: &[Field] = &[
    f("id", "string", "the user ID"),
    f("username", "string", "the user name"),
    f("firstname", "string", "the user firstname"),
    f("lastname", "string", "the user lastname"),
    f("email", "string", "the user email address"),
    f(
        "created",
        "date",
        "the date and time the user account was created",
    ),
    f("state", "string", "the user state"),
    f("account", "string", "the account name of the user"),
    f("accountid", "string", "the account ID of the user"),
    f("accounttype", "integer", "the account type of the user"),
    f("roleid", "string", "the ID of the role"),
    f("roletype", "string", "the type of the role"),
    f("rolename", "string", "the name of the role"),
    f("domainid", "string", "the domain ID of the user"),
    f("domain", "string", "the domain name of the user"),
    f("timezone", "string", "the timezone user was created in"),
    f("apikey", "string", "the api key of the user"),
    f(
        "isdefault",
        "boolean",
        "true if user is default, false otherwise",
    ),
    f(
        "usersource",
        "string",
        "the source type of the user in lowercase, such as native, ldap, saml2",
    ),
    f(
        "is2faenabled",
        "boolean",
        "true if user has two factor authentication enabled",
    ),
];

pub const ACCOUNT: &[Field] = &[
    f("id", "string", "the id of the account"),
    f("name", "string", "the name of the account"),
    f(
        "accounttype",
        "integer",
        "account type (admin, domain-admin, user)",
    ),
    f("roleid", "string", "the ID of the role"),
    f(
        "roletype",
        "string",
        "the type of the role (Admin, ResourceAdmin, DomainAdmin, User)",
    ),
    f("rolename", "string", "the name of the role"),
    f(
        "domainid",
        "string",
        "id of the Domain the account belongs to",
    ),
    f(
        "domain",
        "string",
        "name of the Domain the account belongs to",
    ),
    f(
        "domainpath",
        "string",
        "path of the Domain the account belongs to",
    ),
    f("state", "string", "the state of the account"),
    f(
        "isdefault",
        "boolean",
        "true if account is default, false otherwise",
    ),
    f("networkdomain", "string", "the network domain"),
    f("created", "date", "the date when this account was created"),
    f("user", "list", "the list of users associated with account"),
    f(
        "vmlimit",
        "string",
        "the total number of virtual machines that can be deployed by this account",
    ),
    f(
        "vmtotal",
        "long",
        "the total number of virtual machines deployed by this account",
    ),
    f(
        "vmavailable",
        "string",
        "the total number of virtual machines available to this account",
    ),
    f(
        "iplimit",
        "string",
        "the total number of public IP addresses that can be used by this account",
    ),
    f(
        "iptotal",
        "long",
        "the total number of public IP addresses used by this account",
    ),
    f(
        "ipavailable",
        "string",
        "the total number of public IP addresses available to this account",
    ),
    f(
        "volumelimit",
        "string",
        "the total number of volumes that can be used by this account",
    ),
    f(
        "volumetotal",
        "long",
        "the total number of volumes used by this account",
    ),
    f(
        "volumeavailable",
        "string",
        "the total number of volumes available to this account",
    ),
    f(
        "snapshotlimit",
        "string",
        "the total number of snapshots that can be used by this account",
    ),
    f(
        "snapshottotal",
        "long",
        "the total number of snapshots used by this account",
    ),
    f(
        "snapshotavailable",
        "string",
        "the total number of snapshots available to this account",
    ),
    f(
        "vpclimit",
        "string",
        "the total number of VPCs that can be used by this account",
    ),
    f(
        "vpctotal",
        "long",
        "the total number of VPCs used by this account",
    ),
    f(
        "vpcavailable",
        "string",
        "the total number of VPCs available to this account",
    ),
    f(
        "networklimit",
        "string",
        "the total number of networks that can be owned by this account",
    ),
    f(
        "networktotal",
        "long",
        "the total number of networks owned by this account",
    ),
    f(
        "networkavailable",
        "string",
        "the total number of networks available to this account",
    ),
    f(
        "projectlimit",
        "string",
        "the total number of projects that can be owned by this account",
    ),
    f(
        "projecttotal",
        "long",
        "the total number of projects owned by this account",
    ),
    f(
        "projectavailable",
        "string",
        "the total number of projects available to this account",
    ),
    f(
        "cpulimit",
        "string",
        "the total number of CPU cores that can be used by this account",
    ),
    f(
        "cputotal",
        "long",
        "the total number of CPU cores used by this account",
    ),
    f(
        "cpuavailable",
        "string",
        "the total number of CPU cores available to this account",
    ),
    f(
        "memorylimit",
        "string",
        "the total number of memory (MiB) that can be used by this account",
    ),
    f(
        "memorytotal",
        "long",
        "the total number of memory (MiB) used by this account",
    ),
    f(
        "memoryavailable",
        "string",
        "the total number of memory (MiB) available to this account",
    ),
    f(
        "primarystoragelimit",
        "string",
        "the total number of primary storage (GiB) that can be used by this account",
    ),
    f(
        "primarystoragetotal",
        "long",
        "the total number of primary storage (GiB) used by this account",
    ),
    f(
        "primarystorageavailable",
        "string",
        "the total number of primary storage (GiB) available to this account",
    ),
    f(
        "secondarystoragelimit",
        "string",
        "the total number of secondary storage (GiB) that can be used by this account",
    ),
    f(
        "secondarystoragetotal",
        "float",
        "the total number of secondary storage (GiB) used by this account",
    ),
    f(
        "secondarystorageavailable",
        "string",
        "the total number of secondary storage (GiB) available to this account",
    ),
];

pub const ROLE: &[Field] = &[
    f("id", "string", "the ID of the role"),
    f("name", "string", "the name of the role"),
    f("type", "string", "the type of the role"),
    f("description", "string", "the description of the role"),
    f("isdefault", "boolean", "true if role is default, false otherwise"),
    f("ispublic", "boolean", "Indicates whether the role will be visible to all users (public) or only to root admins (private)."),
    f("state", "string", "the state of the role"),
];

pub const INSTANCE_GROUP: &[Field] = &[
    f("id", "string", "the ID of the instance group"),
    f("name", "string", "the name of the instance group"),
    f("account", "string", "the account owning the instance group"),
    f("domainid", "string", "the domain ID of the instance group"),
    f("domain", "string", "the domain name of the instance group"),
    f(
        "domainpath",
        "string",
        "path of the Domain the instance group belongs to",
    ),
    f(
        "created",
        "date",
        "time and date the instance group was created",
    ),
    f(
        "hasannotations",
        "boolean",
        "whether the instance group has annotations",
    ),
];

pub const ROLE_PERMISSION: &[Field] = &[
    f("id", "string", "the ID of the role permission"),
    f(
        "roleid",
        "string",
        "the ID of the role to which the role permission belongs",
    ),
    f(
        "rolename",
        "string",
        "the name of the role to which the role permission belongs",
    ),
    f("rule", "string", "the api name or wildcard rule"),
    f(
        "permission",
        "string",
        "the permission type of the api name or wildcard rule, allow/deny",
    ),
    f(
        "description",
        "string",
        "the description of the role permission",
    ),
];
