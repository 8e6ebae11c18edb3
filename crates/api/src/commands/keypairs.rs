//! SSH key pairs, owned by accounts and referenced by name when deploying a VM.

use super::objects::*;
use crate::registry::{CommandSpec, ParamType::*};

fn owner(spec: CommandSpec) -> CommandSpec {
    spec.opt("account", String, "an optional account for the ssh key. Must be used with domainId.")
        .opt("domainid", Uuid, "an optional domainId for the ssh key. If the account parameter is used, domainId must also be used.")
        .rel("listDomains")
}

pub fn specs() -> Vec<CommandSpec> {
    vec![
        owner(
            CommandSpec::new(
                "createSSHKeyPair",
                "Create a new keypair and returns the private key",
            )
            .returns("keypair", KEYPAIR)
            .related("listSSHKeyPairs")
            .req("name", String, "Name of the keypair")
            .len(255),
        ),
        owner(
            CommandSpec::new(
                "registerSSHKeyPair",
                "Register a public key in a keypair under a certain name",
            )
            .returns("keypair", KEYPAIR)
            .related("listSSHKeyPairs")
            .req("name", String, "Name of the keypair")
            .len(255)
            .req("publickey", String, "Public key material of the keypair")
            .len(5120),
        ),
        CommandSpec::new("listSSHKeyPairs", "List registered keypairs")
            .returns("sshkeypair", KEYPAIR)
            .owned_list()
            .opt("id", Uuid, "the ID of the ssh keypair")
            .opt("name", String, "A key pair name to look for")
            .opt(
                "fingerprint",
                String,
                "A public key fingerprint to look for",
            ),
        owner(
            CommandSpec::new("deleteSSHKeyPair", "Deletes a keypair by name")
                .returns("success", SUCCESS)
                .req("name", String, "Name of the keypair"),
        ),
    ]
}
