//! Specs of every implemented command, one file per family. The server registers one handler
//! per spec; a startup check fails if either side has one the other lacks.

mod certs;
mod hosts;
mod identity;
mod infra;
mod keypairs;
mod limits;
mod metrics;
mod network;
mod objects;
mod objects_identity;
mod objects_infra;
mod objects_net;
mod objects_sched;
mod objects_storage;
mod objects_vm;
mod objects_vpc;
mod offerings;
mod projectroles;
mod projects;
mod ranges;
mod s2svpn;
mod scheduling;
mod snapshots;
mod storage;
mod system;
mod tags;
mod templates;
mod vms;
mod vpc;

use crate::registry::{CommandSpec, Registry};

/// Every implemented command.
pub fn all() -> Vec<CommandSpec> {
    let mut v = Vec::new();
    v.extend(system::specs());
    v.extend(identity::specs());
    v.extend(infra::specs());
    v.extend(offerings::specs());
    v.extend(hosts::specs());
    v.extend(storage::specs());
    v.extend(templates::specs());
    v.extend(keypairs::specs());
    v.extend(limits::specs());
    v.extend(tags::specs());
    v.extend(vms::specs());
    v.extend(network::specs());
    v.extend(ranges::specs());
    v.extend(certs::specs());
    v.extend(vpc::specs());
    v.extend(s2svpn::specs());
    v.extend(scheduling::specs());
    v.extend(snapshots::specs());
    v.extend(projects::specs());
    v.extend(projectroles::specs());
    let derived = metrics::derived(&v);
    v.extend(derived);
    with_projects(v)
}

/// Commands with an `account` owner parameter where CloudStack has no `projectid`: the
/// account and user commands (a project's account is managed through the project) and the
/// dedication family.
const NO_PROJECTID: &[&str] = &[
    "createAccount",
    "updateAccount",
    "enableAccount",
    "disableAccount",
    "lockAccount",
    "createUser",
    "listUsers",
    "moveUser",
    "listAsyncJobs",
    "dedicateZone",
    "dedicatePod",
    "dedicateCluster",
    "dedicateHost",
    "listDedicatedZones",
    "listDedicatedPods",
    "listDedicatedClusters",
    "listDedicatedHosts",
    "addAccountToProject",
    "deleteAccountFromProject",
    "listProjectAccounts",
    "updateProjectInvitation",
    "listProjectInvitations",
    "createProject",
    "listProjects",
    "updateProject",
];

/// Every command that names an owner `account` also takes `projectid` (the server's edge
/// resolves it to the project's account), and objects that name their owner account may name
/// a project instead (CloudStack's `populateOwner`).
fn with_projects(specs: Vec<CommandSpec>) -> Vec<CommandSpec> {
    use crate::registry::{f, ParamType};
    const DESC: &str = "the project: its account owns what the command creates, and lists show its resources (-1: every project the caller may see)";
    specs
        .into_iter()
        .map(|mut s| {
            let has = |s: &CommandSpec, n: &str| s.params.iter().any(|p| p.name == n);
            if !NO_PROJECTID.contains(&s.name) && has(&s, "account") {
                if let Some(p) = s.params.iter_mut().find(|p| p.name == "projectid") {
                    p.description = DESC;
                } else {
                    s = s
                        .opt("projectid", ParamType::Uuid, DESC)
                        .rel("listProjects");
                }
            }
            let owned = s.response.iter().any(|x| x.name == "account")
                && !s.response.iter().any(|x| x.name == "projectid");
            if owned && s.response_key != "account" && s.response_key != "user" {
                let mut fields = s.response.to_vec();
                fields.push(f(
                    "project",
                    "string",
                    "the project name of the owner, when a project owns it",
                ));
                fields.push(f(
                    "projectid",
                    "string",
                    "the project id of the owner, when a project owns it",
                ));
                // Built once per registry (at start): the fields live as long as the process.
                s.response = Box::leak(fields.into_boxed_slice());
            }
            s
        })
        .collect()
}

/// The registry of every implemented command.
pub fn registry() -> Registry {
    Registry::new(all())
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_spec_is_well_formed() {
        let r = super::registry();
        for s in r.all() {
            assert!(!s.description.is_empty(), "{} has no description", s.name);
            assert!(
                !s.response_key.is_empty() || s.response.is_empty(),
                "{}",
                s.name
            );
            let mut names: Vec<_> = s.params.iter().map(|p| p.name).collect();
            names.sort();
            let n = names.len();
            names.dedup();
            assert_eq!(n, names.len(), "{} declares a parameter twice", s.name);
            for p in &s.params {
                assert_eq!(
                    p.name,
                    p.name.to_ascii_lowercase(),
                    "{}.{} must be lower-case",
                    s.name,
                    p.name
                );
            }
        }
    }
}

#[cfg(test)]
mod doc_tests {
    /// docs/API-COMPAT.md must list every implemented command.
    #[test]
    fn api_compat_doc_lists_every_command() {
        let doc = include_str!("../../../../docs/API-COMPAT.md");
        for s in super::registry().all() {
            let row = format!("| {} |", s.name);
            assert!(
                doc.contains(&row),
                "docs/API-COMPAT.md has no row for {}",
                s.name
            );
        }
    }
}
