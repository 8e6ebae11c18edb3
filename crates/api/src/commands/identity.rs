//! Domains, accounts, users, roles and API keys.

use super::objects::*;
use crate::registry::{roles::*, CommandSpec, ParamType::*};

const ADMIN_DOMAIN: u8 = ADMIN | DOMAIN_ADMIN;

pub fn specs() -> Vec<CommandSpec> {
    vec![
        // --- domains ---------------------------------------------------------------
        CommandSpec::new("createDomain", "Creates a domain")
            .roles(ADMIN_DOMAIN)
            .returns("domain", DOMAIN)
            .related("listDomains,listDomainChildren")
            .req("name", String, "creates domain with this name")
            .opt("parentdomainid", Uuid, "assigns new domain a parent domain by domain ID of the parent.  If no parent domain is specified, the ROOT domain is assumed.")
            .rel("listDomains")
            .opt("networkdomain", String, "Network domain for networks in the domain")
            .opt("domainid", Uuid, "Domain UUID, required for adding domain from another Region"),
        CommandSpec::new("listDomains", "Lists domains and provides detailed information for listed domains")
            .roles(ADMIN_DOMAIN)
            .returns("domain", DOMAIN)
            .related("listDomainChildren")
            .list()
            .opt("id", Uuid, "List domain by domain ID.")
            .opt("name", String, "List domain by domain name.")
            .opt("level", Integer, "List domains by domain level.")
            .opt("listall", Boolean, "If set to false, list only resources belonging to the command's caller; if set to true - list resources that the caller is authorized to see. Default value is false"),
        CommandSpec::new("listDomainChildren", "Lists all children domains belonging to a specified domain")
            .roles(ADMIN_DOMAIN)
            .returns("domain", DOMAIN)
            .related("listDomains")
            .list()
            .opt("id", Uuid, "list children domain by parent domain ID.")
            .opt("name", String, "list children domains by name")
            .opt("isrecursive", Boolean, "to return the entire tree, use the value \"true\". To return the first level children, use the value \"false\".")
            .opt("listall", Boolean, "If set to false, list only resources belonging to the command's caller; if set to true - list resources that the caller is authorized to see. Default value is false"),
        CommandSpec::new("updateDomain", "Updates a domain with a new name")
            .roles(ADMIN_DOMAIN)
            .returns("domain", DOMAIN)
            .req("id", Uuid, "ID of domain to update")
            .opt("name", String, "updates domain with this name")
            .opt("networkdomain", String, "Network domain for the domain's networks; empty string will update domainName with NULL value"),
        CommandSpec::new("deleteDomain", "Deletes a specified domain")
            .roles(ADMIN_DOMAIN)
            .asynchronous()
            .returns("success", SUCCESS)
            .req("id", Uuid, "ID of domain to delete")
            .opt("cleanup", Boolean, "true if all domain resources (child domains, accounts) have to be cleaned up, false otherwise"),
        // --- accounts ------------------------------------------------------------
        CommandSpec::new("createAccount", "Creates an account")
            .roles(ADMIN_DOMAIN)
            .returns("account", ACCOUNT)
            .related("listAccounts")
            .req("username", String, "Unique username.")
            .req("password", String, "Clear text password (Default hashed to SHA256SALT). If you wish to use any other hashing algorithm, you would need to write a custom authentication adapter See Docs section.")
            .req("email", String, "email")
            .req("firstname", String, "firstname")
            .req("lastname", String, "lastname")
            .opt("accounttype", Integer, "Type of the account.  Specify 0 for user, 1 for root admin, and 2 for domain admin")
            .opt("roleid", Uuid, "Creates the account under the specified role.")
            .rel("listRoles")
            .opt("account", String, "Name of the account to be created. The user will be added to this newly created account. If no account is specified, the username will be used as the account name.")
            .opt("domainid", Uuid, "Creates the user under the specified domain.")
            .rel("listDomains")
            .opt("networkdomain", String, "Network domain for the account's networks")
            .opt("timezone", String, "Specifies a timezone for this command. For more information on the timezone parameter, see Time Zone Format.")
            .opt("accountdetails", Map, "details for account used to store specific parameters")
            .opt("accountid", String, "Account UUID, required for adding account from external provisioning system")
            .opt("userid", String, "User UUID, required for adding account from external provisioning system"),
        CommandSpec::new("listAccounts", "Lists accounts and provides detailed account information for listed accounts")
            .returns("account", ACCOUNT)
            .related("createAccount")
            .list()
            .opt("id", Uuid, "list account by account ID")
            .opt("name", String, "list account by account name")
            .opt("accounttype", Integer, "list accounts by account type. Valid account types are 1 (admin), 2 (domain-admin), and 0 (user).")
            .opt("domainid", Uuid, "list only resources belonging to the domain specified")
            .rel("listDomains")
            .opt("isrecursive", Boolean, "defaults to false, but if true, lists all resources from the parent specified by the domainId till leaves.")
            .opt("listall", Boolean, "If set to false, list only resources belonging to the command's caller; if set to true - list resources that the caller is authorized to see. Default value is false")
            .opt("state", String, "list accounts by state. Valid states are enabled, disabled, and locked.")
            .opt("iscleanuprequired", Boolean, "list accounts by cleanuprequired attribute (values are true or false)")
            .opt("details", List, "comma separated list of account details requested, value can be a list of [ all, resource, min]"),
        CommandSpec::new("updateAccount", "Updates account information for the authenticated user")
            .roles(ADMIN_DOMAIN)
            .returns("account", ACCOUNT)
            .opt("id", Uuid, "Account UUID")
            .opt("account", String, "the current account name")
            .opt("domainid", Uuid, "the ID of the domain where the account exists")
            .opt("newname", String, "new name for the account")
            .opt("networkdomain", String, "Network domain for the account's networks; empty string will update domainName with NULL value")
            .opt("roleid", Uuid, "The UUID of the dynamic role to set for the account")
            .opt("accountdetails", Map, "Details for the account used to store specific parameters"),
        CommandSpec::new("enableAccount", "Enables an account")
            .roles(ADMIN_DOMAIN)
            .returns("account", ACCOUNT)
            .opt("id", Uuid, "Account id")
            .opt("account", String, "Enables specified account.")
            .opt("domainid", Uuid, "Enables specified account in this domain."),
        CommandSpec::new("disableAccount", "Disables an account")
            .roles(ADMIN_DOMAIN)
            .asynchronous()
            .returns("account", ACCOUNT)
            .req("lock", Boolean, "If true, only lock the account; else disable the account")
            .opt("id", Uuid, "Account id")
            .opt("account", String, "Disables specified account.")
            .opt("domainid", Uuid, "Disables specified account in this domain."),
        CommandSpec::new("lockAccount", "This deprecated function used to locks an account. Look for the API DisableAccount instead")
            .roles(ADMIN_DOMAIN)
            .returns("account", ACCOUNT)
            .req("account", String, "Locks the specified account.")
            .req("domainid", Uuid, "Locks the specified account on this domain."),
        CommandSpec::new("deleteAccount", "Deletes a account, and all users associated with this account")
            .roles(ADMIN_DOMAIN)
            .asynchronous()
            .returns("success", SUCCESS)
            .req("id", Uuid, "Account id"),
        // --- users ---------------------------------------------------------------
        CommandSpec::new("createUser", "Creates a user for an account that already exists")
            .roles(ADMIN_DOMAIN)
            .returns("user", USER_OBJ)
            .req("account", String, "Creates the user under the specified account. If no account is specified, the username will be used as the account name.")
            .req("username", String, "Unique username.")
            .req("password", String, "Clear text password (Default hashed to SHA256SALT).")
            .req("email", String, "email")
            .req("firstname", String, "firstname")
            .req("lastname", String, "lastname")
            .opt("domainid", Uuid, "Creates the user under the specified domain. Has to be accompanied with the account parameter")
            .opt("timezone", String, "Specifies a timezone for this command.")
            .opt("userid", String, "User UUID, required for adding account from external provisioning system"),
        CommandSpec::new("listUsers", "Lists user accounts")
            .returns("user", USER_OBJ)
            .owned_list()
            .opt("id", Uuid, "List user by ID.")
            .opt("username", String, "List user by the username")
            .opt("accounttype", Integer, "List users by account type. Valid types include admin, domain-admin, read-only-admin, or user.")
            .opt("state", String, "List users by state of the user account."),
        CommandSpec::new("updateUser", "Updates a user account")
            .returns("user", USER_OBJ)
            .req("id", Uuid, "User uuid")
            .opt("email", String, "email")
            .opt("firstname", String, "first name")
            .opt("lastname", String, "last name")
            .opt("password", String, "Clear text password (default hashed to SHA256SALT).")
            .opt("currentpassword", String, "Current password that was being used by the user. You must inform the current password when updating the password.")
            .opt("username", String, "Unique username")
            .opt("timezone", String, "Specifies a timezone for this command.")
            .opt("usersecretkey", String, "The secret key for the user. Must be specified with userApiKey")
            .opt("userapikey", String, "The API key for the user. Must be specified with userSecretKey"),
        CommandSpec::new("enableUser", "Enables a user account")
            .roles(ADMIN_DOMAIN)
            .returns("user", USER_OBJ)
            .req("id", Uuid, "Enables user by user ID."),
        CommandSpec::new("disableUser", "Disables a user account")
            .roles(ADMIN_DOMAIN)
            .asynchronous()
            .returns("user", USER_OBJ)
            .req("id", Uuid, "Disables user by user ID."),
        CommandSpec::new("lockUser", "Locks a user account")
            .roles(ADMIN_DOMAIN)
            .returns("user", USER_OBJ)
            .req("id", Uuid, "Locks user by user ID."),
        CommandSpec::new("deleteUser", "Deletes a user for an account")
            .roles(ADMIN_DOMAIN)
            .returns("success", SUCCESS)
            .req("id", Uuid, "id of the user to be deleted"),
        CommandSpec::new("registerUserKeys", "This command allows a user to register for the developer API, returning a secret key and an API key. This request is made through the integration API port, so it is a privileged command and must be made on behalf of a user. It is up to the implementer just how the username and password are entered, and then how that translates to an integration API request. Both secret key and API key should be returned to the user")
            .returns("userkeys", USER_KEYS)
            .req("id", Uuid, "User id"),
        CommandSpec::new("getUserKeys", "This command allows the user to query the seceret and API keys for the account")
            .returns("userkeys", USER_KEYS)
            .req("id", Uuid, "ID of the user whose keys are required"),
        // --- roles ---------------------------------------------------------------
        CommandSpec::new("listRoles", "Lists dynamic roles in CloudStack")
            .roles(ADMIN_DOMAIN)
            .returns("role", ROLE)
            .list()
            .opt("id", Uuid, "List role by role ID.")
            .opt("name", String, "List role by role name.")
            .opt("type", String, "List role by role type, valid options are: Admin, ResourceAdmin, DomainAdmin, User."),
    ]
}
