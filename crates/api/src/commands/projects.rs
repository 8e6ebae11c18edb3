//! Projects: the project, its members and its invitations (CloudStack's project commands;
//! `projectid` on the resource commands is added in [`super::with_projects`]).

use crate::registry::{f, roles::*, CommandSpec, Field, ParamType::*};

use super::objects::SUCCESS;

pub const PROJECT: &[Field] = &[
    f("id", "string", "the id of the project"),
    f("name", "string", "the name of the project"),
    f("displaytext", "string", "the displaytext of the project"),
    f("domainid", "string", "the domain id the project belongs to"),
    f(
        "domain",
        "string",
        "the domain name where the project belongs to",
    ),
    f(
        "domainpath",
        "string",
        "path of the domain the project belongs to",
    ),
    f("owner", "list", "the account name of the project's owners"),
    f(
        "projectaccountname",
        "string",
        "the project account name of the project",
    ),
    f("state", "string", "the state of the project"),
    f("created", "date", "the date this project was created"),
    f(
        "tags",
        "list",
        "the list of resource tags associated with the project",
    ),
    f(
        "vmlimit",
        "string",
        "the total number of virtual machines that can be deployed by this project",
    ),
    f(
        "vmtotal",
        "long",
        "the total number of virtual machines deployed by this project",
    ),
    f(
        "vmavailable",
        "string",
        "the total number of virtual machines available for this project to acquire",
    ),
    f(
        "vmrunning",
        "integer",
        "the total number of virtual machines running for this project",
    ),
    f(
        "vmstopped",
        "integer",
        "the total number of virtual machines stopped for this project",
    ),
    f(
        "iplimit",
        "string",
        "the total number of public ip addresses this project can acquire",
    ),
    f(
        "iptotal",
        "long",
        "the total number of public ip addresses allocated for this project",
    ),
    f(
        "ipavailable",
        "string",
        "the total number of public ip addresses available for this project to acquire",
    ),
    f(
        "volumelimit",
        "string",
        "the total volume which can be used by this project",
    ),
    f(
        "volumetotal",
        "long",
        "the total volume being used by this project",
    ),
    f(
        "volumeavailable",
        "string",
        "the total volume available for this project",
    ),
    f(
        "snapshotlimit",
        "string",
        "the total number of snapshots which can be stored by this project",
    ),
    f(
        "snapshottotal",
        "long",
        "the total number of snapshots stored by this project",
    ),
    f(
        "snapshotavailable",
        "string",
        "the total number of snapshots available for this project",
    ),
    f(
        "vpclimit",
        "string",
        "the total number of vpcs the project can own",
    ),
    f(
        "vpctotal",
        "long",
        "the total number of vpcs owned by project",
    ),
    f(
        "vpcavailable",
        "string",
        "the total number of vpcs available to be created for this project",
    ),
    f(
        "networklimit",
        "string",
        "the total number of networks the project can own",
    ),
    f(
        "networktotal",
        "long",
        "the total number of networks owned by project",
    ),
    f(
        "networkavailable",
        "string",
        "the total number of networks available to be created for this project",
    ),
    f(
        "projectlimit",
        "string",
        "unused for a project (a project owns no projects)",
    ),
    f(
        "projecttotal",
        "long",
        "unused for a project (a project owns no projects)",
    ),
    f(
        "projectavailable",
        "string",
        "unused for a project (a project owns no projects)",
    ),
    f(
        "cpulimit",
        "string",
        "the total number of cpu cores the project can own",
    ),
    f(
        "cputotal",
        "long",
        "the total number of cpu cores owned by project",
    ),
    f(
        "cpuavailable",
        "string",
        "the total number of cpu cores available to be created for this project",
    ),
    f(
        "memorylimit",
        "string",
        "the total memory (in MB) the project can own",
    ),
    f(
        "memorytotal",
        "long",
        "the total memory (in MB) owned by project",
    ),
    f(
        "memoryavailable",
        "string",
        "the total memory (in MB) available to be created for this project",
    ),
    f(
        "primarystoragelimit",
        "string",
        "the total primary storage space (in GiB) the project can own",
    ),
    f(
        "primarystoragetotal",
        "long",
        "the total primary storage space (in GiB) owned by project",
    ),
    f(
        "primarystorageavailable",
        "string",
        "the total primary storage space (in GiB) available to be used for this project",
    ),
    f(
        "secondarystoragelimit",
        "string",
        "the total secondary storage space (in GiB) the project can own",
    ),
    f(
        "secondarystoragetotal",
        "float",
        "the total secondary storage space (in GiB) owned by project",
    ),
    f(
        "secondarystorageavailable",
        "string",
        "the total secondary storage space (in GiB) available to be used for this project",
    ),
];

pub const PROJECT_ACCOUNT: &[Field] = &[
    f("projectid", "string", "project id"),
    f("project", "string", "project name"),
    f("accountid", "string", "the id of the account"),
    f("account", "string", "the name of the account"),
    f(
        "accounttype",
        "integer",
        "account type (admin, domain-admin, user)",
    ),
    f("userid", "string", "Id of the user"),
    f("username", "string", "Name of the user"),
    f(
        "projectroleid",
        "string",
        "Id of the project role associated with the account/user",
    ),
    f(
        "role",
        "string",
        "account role in the project (regular, owner)",
    ),
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
];

pub const PROJECT_INVITATION: &[Field] = &[
    f("id", "string", "the id of the invitation"),
    f("projectid", "string", "the id of the project"),
    f("project", "string", "the name of the project"),
    f("domainid", "string", "the domain id the project belongs to"),
    f(
        "domain",
        "string",
        "the domain name where the project belongs to",
    ),
    f(
        "account",
        "string",
        "the account name of the project's owner",
    ),
    f("userid", "string", "the User ID"),
    f("email", "string", "the email the invitation was sent to"),
    f("state", "string", "the invitation state"),
];

const ROLETYPE: &str =
    "Project role type to be assigned to the user - Admin/Regular; default: Regular";

pub fn specs() -> Vec<CommandSpec> {
    vec![
        CommandSpec::new("createProject", "Creates a project")
            .creates()
            .returns("project", PROJECT)
            .related("listProjects")
            .req("name", String, "name of the project")
            .len(255)
            .opt("displaytext", String, "display text of the project (default: the name)")
            .len(255)
            .opt("account", String, "account who will be Admin for the project")
            .opt("domainid", Uuid, "domain ID of the account owning a project")
            .rel("listDomains")
            .opt("accountid", Uuid, "ID of the account owning a project (with userid)")
            .rel("listAccounts")
            .opt("userid", Uuid, "user ID of the account to be assigned as owner of the project i.e., Project Admin")
            .rel("listUsers"),
        CommandSpec::new("listProjects", "Lists projects and provides detailed information for listed projects")
            .returns("project", PROJECT)
            .list()
            .opt("id", Uuid, "list projects by project ID")
            .opt("name", String, "list projects by name")
            .opt("displaytext", String, "list projects by display text")
            .opt("state", String, "list projects by state (Active, Suspended, Disabled)")
            .opt("account", String, "list projects of this member account (with domainid)")
            .opt("domainid", Uuid, "list only resources belonging to the domain specified")
            .rel("listDomains")
            .opt("isrecursive", Boolean, "defaults to false, but if true, lists all resources from the parent specified by the domainId till leaves.")
            .opt("listall", Boolean, "If set to false, list only projects the caller is a member of; if set to true - list projects that the caller is authorized to see. Default value is false")
            .opt("userid", Uuid, "list projects this user is a member of")
            .opt("username", String, "list projects this user (by name) is a member of")
            .opt("details", List, "comma separated list of project details requested, value can be a list of [ all, resource, min]")
            .of(String)
            .opt("tags", Map, "List projects by tags (key/value pairs)"),
        CommandSpec::new("updateProject", "Updates a project")
            .asynchronous()
            .returns("project", PROJECT)
            .req("id", Uuid, "id of the project to be modified")
            .rel("listProjects")
            .opt("name", String, "name of the project")
            .len(255)
            .opt("displaytext", String, "display text of the project")
            .len(255)
            .opt("account", String, "new Admin account for the project (a member already)")
            .opt("userid", Uuid, "ID of the user to be promoted/demoted")
            .rel("listUsers")
            .opt("roletype", String, "Account level role to be assigned to the user/account : Admin/Regular"),
        CommandSpec::new("activateProject", "Activates a project")
            .asynchronous()
            .wrapper("activaterojectresponse")
            .returns("project", PROJECT)
            .req("id", Uuid, "id of the project to be modified")
            .rel("listProjects"),
        CommandSpec::new("suspendProject", "Suspends a project")
            .asynchronous()
            .returns("project", PROJECT)
            .req("id", Uuid, "id of the project to be suspended")
            .rel("listProjects"),
        CommandSpec::new("deleteProject", "Deletes a project")
            .asynchronous()
            .returns("success", SUCCESS)
            .req("id", Uuid, "id of the project to be deleted")
            .rel("listProjects")
            .opt("cleanup", Boolean, "true if all project resources have to be cleaned up, false otherwise"),
        CommandSpec::new("addAccountToProject", "Adds account to a project")
            .asynchronous()
            .returns("success", SUCCESS)
            .req("projectid", Uuid, "ID of the project to add the account to")
            .rel("listProjects")
            .opt("account", String, "name of the account to be added to the project")
            .opt("email", String, "email to which invitation to the project is going to be sent")
            .opt("roletype", String, ROLETYPE)
            .opt("projectroleid", Uuid, "ID of the project role (what the account may call in the project)")
            .rel("listProjectRoles"),
        CommandSpec::new("addUserToProject", "Adds user to a project")
            .asynchronous()
            .returns("success", SUCCESS)
            .req("projectid", Uuid, "ID of the project to add the user to")
            .rel("listProjects")
            .req("username", String, "Name of the user to be added to the project")
            .opt("email", String, "email ID of user to which invitation to the project is going to be sent")
            .opt("roletype", String, ROLETYPE)
            .opt("projectroleid", Uuid, "ID of the project role (what the user may call in the project)")
            .rel("listProjectRoles"),
        CommandSpec::new("deleteAccountFromProject", "Deletes account from the project")
            .asynchronous()
            .returns("success", SUCCESS)
            .req("projectid", Uuid, "ID of the project to remove the account from")
            .rel("listProjects")
            .req("account", String, "name of the account to be removed from the project"),
        CommandSpec::new("deleteUserFromProject", "Deletes user from the project")
            .asynchronous()
            .returns("success", SUCCESS)
            .req("projectid", Uuid, "ID of the project to remove the user from")
            .rel("listProjects")
            .req("userid", Uuid, "Id of the user to be removed from the project")
            .rel("listUsers"),
        CommandSpec::new("listProjectAccounts", "Lists project's accounts")
            .returns("projectaccount", PROJECT_ACCOUNT)
            .list()
            .req("projectid", Uuid, "ID of the project")
            .rel("listProjects")
            .opt("account", String, "list accounts of the project by account name")
            .opt("userid", Uuid, "list members of the project by user id")
            .rel("listUsers")
            .opt("role", String, "list accounts of the project by role (Admin, Regular)"),
        CommandSpec::new("listProjectInvitations", "Lists project invitations and provides detailed information for listed invitations")
            .returns("projectinvitation", PROJECT_INVITATION)
            .list()
            .opt("id", Uuid, "list invitations by id")
            .opt("projectid", Uuid, "list by project id")
            .rel("listProjects")
            .opt("activeonly", Boolean, "if true, list only active (Pending) invitations - invitations that are neither expired nor accepted or declined")
            .opt("state", String, "list invitations by state (Pending, Completed, Declined, Expired)")
            .opt("account", String, "list invitations for this account (with domainid)")
            .opt("domainid", Uuid, "list only invitations of this domain's projects")
            .rel("listDomains")
            .opt("userid", Uuid, "list invitations for this user")
            .rel("listUsers")
            .opt("isrecursive", Boolean, "defaults to false, but if true, lists all resources from the parent specified by the domainId till leaves.")
            .opt("listall", Boolean, "If set to false, list only the invitations addressed to the caller; if set to true - the invitations of every project the caller manages"),
        CommandSpec::new("updateProjectInvitation", "Accepts or declines project invitation")
            .asynchronous()
            .returns("success", SUCCESS)
            .req("projectid", Uuid, "id of the project to join")
            .rel("listProjects")
            .opt("account", String, "account that is joining the project (default: the caller's)")
            .opt("userid", Uuid, "User UUID, required for adding account from external provisioning system")
            .rel("listUsers")
            .opt("token", String, "list invitations for specified account; this parameter has to be specified with domainId")
            .opt("accept", Boolean, "if true, accept the invitation, decline if false. True by default"),
        CommandSpec::new("deleteProjectInvitation", "Deletes project invitation")
            .asynchronous()
            .returns("success", SUCCESS)
            .req("id", Uuid, "id of the invitation")
            .rel("listProjectInvitations"),
    ]
    .into_iter()
    .map(|s| s.roles(ALL))
    .collect()
}
