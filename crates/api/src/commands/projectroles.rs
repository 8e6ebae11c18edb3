//! Project roles: named per project, each an ordered list of allow/deny rules over command
//! names, given to members with `projectroleid` (CloudStack's project role commands).

use crate::registry::{f, CommandSpec, Field, ParamType::*};

use super::objects::SUCCESS;

pub const PROJECT_ROLE: &[Field] = &[
    f("id", "string", "the ID of the role"),
    f("name", "string", "the name of the role"),
    f("description", "string", "the description of the role"),
    f("projectid", "string", "the id of the project"),
];

pub const PROJECT_ROLE_PERMISSION: &[Field] = &[
    f("id", "string", "the ID of the project role permission"),
    f(
        "projectroleid",
        "string",
        "the ID of the project role to which the role permission belongs",
    ),
    f(
        "projectrolename",
        "string",
        "the name of the project role to which the role permission belongs",
    ),
    f("projectid", "string", "the ID of the project"),
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

pub fn specs() -> Vec<CommandSpec> {
    vec![
        CommandSpec::new("createProjectRole", "Creates a Project role")
            .returns("projectrole", PROJECT_ROLE)
            .related("listProjectRoles")
            .req(
                "name",
                String,
                "creates a project role with this unique name",
            )
            .req(
                "projectid",
                Uuid,
                "ID of project where role is being created",
            )
            .rel("listProjects")
            .opt("description", String, "The description of the Project role"),
        CommandSpec::new("listProjectRoles", "Lists Project roles in CloudStack")
            .returns("projectrole", PROJECT_ROLE)
            .list()
            .req("projectid", Uuid, "List project role by project ID.")
            .rel("listProjects")
            .opt(
                "projectroleid",
                Uuid,
                "List project role by project role ID.",
            )
            .rel("listProjectRoles")
            .opt("name", String, "List project role by project role name."),
        CommandSpec::new("updateProjectRole", "Creates a Project role")
            .returns("projectrole", PROJECT_ROLE)
            .related("listProjectRoles")
            .req("id", Uuid, "ID of the Project role")
            .rel("listProjectRoles")
            .req(
                "projectid",
                Uuid,
                "ID of project where role is being created",
            )
            .rel("listProjects")
            .opt(
                "name",
                String,
                "creates a project role with this unique name",
            )
            .opt("description", String, "The description of the Project role"),
        CommandSpec::new("deleteProjectRole", "Delete Project roles in CloudStack")
            .returns("success", SUCCESS)
            .req("id", Uuid, "ID of the project role to be deleted")
            .rel("listProjectRoles")
            .req(
                "projectid",
                Uuid,
                "ID of the project from where the role is to be deleted",
            )
            .rel("listProjects"),
        CommandSpec::new(
            "createProjectRolePermission",
            "Adds API permissions to a project role",
        )
        .returns("projectrolepermission", PROJECT_ROLE_PERMISSION)
        .related("listProjectRolePermissions")
        .req(
            "projectid",
            Uuid,
            "ID of project where project role permission is to be created",
        )
        .rel("listProjects")
        .req("projectroleid", Uuid, "ID of the project role")
        .rel("listProjectRoles")
        .req(
            "rule",
            String,
            "The API name or wildcard rule such as list*",
        )
        .req(
            "permission",
            String,
            "The rule permission, allow or deny. Default: deny.",
        )
        .opt(
            "description",
            String,
            "The description of the role permission",
        ),
        CommandSpec::new(
            "listProjectRolePermissions",
            "Lists a project's project role permissions",
        )
        .returns("projectrolepermission", PROJECT_ROLE_PERMISSION)
        .req("projectid", Uuid, "ID of the project")
        .rel("listProjects")
        .opt(
            "projectroleid",
            Uuid,
            "Lists permissions of the project role by ID",
        )
        .rel("listProjectRoles"),
        CommandSpec::new(
            "updateProjectRolePermission",
            "Updates a project role permission and/or order",
        )
        .returns("success", SUCCESS)
        .req(
            "projectid",
            Uuid,
            "ID of project where project role permission is to be updated",
        )
        .rel("listProjects")
        .req("projectroleid", Uuid, "ID of the project role")
        .rel("listProjectRoles")
        .opt(
            "ruleorder",
            List,
            "The parent role permission uuid, use 0 to move this rule at the top of the list",
        )
        .of(Uuid)
        .opt(
            "projectrolepermissionid",
            Uuid,
            "Project Role permission rule id",
        )
        .rel("listProjectRolePermissions")
        .opt(
            "permission",
            String,
            "Rule permission, can be: allow or deny",
        ),
        CommandSpec::new(
            "deleteProjectRolePermission",
            "Deletes a project role permission in the project",
        )
        .returns("success", SUCCESS)
        .req(
            "id",
            Uuid,
            "ID of the project role permission to be deleted",
        )
        .rel("listProjectRolePermissions")
        .req(
            "projectid",
            Uuid,
            "ID of the project from where the role permission is to be deleted",
        )
        .rel("listProjects"),
    ]
}
