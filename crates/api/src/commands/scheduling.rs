//! Scheduling: admission policies (a Canopy addition, after OpenShift peer pods' mutating
//! webhook).

use super::objects_sched::*;
use crate::registry::{roles::*, CommandSpec, ParamType::*};

pub fn specs() -> Vec<CommandSpec> {
    admission()
}

fn admission() -> Vec<CommandSpec> {
    vec![
        CommandSpec::new("createAdmissionPolicy", "Creates an admission policy: deploys naming its runtime class (details[0].runtimeclass, or the service offering's runtimeclass detail) are rewritten before placement or refused (Canopy)")
            .roles(ADMIN)
            .returns("admissionpolicy", ADMISSION_POLICY)
            .related("listAdmissionPolicies")
            .req("name", String, "the policy's name: letters, digits, '-', '_', '.'")
            .req("runtimeclass", String, "the runtime class it applies to (one policy per class)")
            .opt("action", String, "mutate (default: rewrite the request) or refuse (431 naming the policy)")
            .opt("dropcpu", Boolean, "drop the VM's CPU reservation on its host (default true; the original is kept as the VM's detail originalcpureservation)")
            .opt("dropmemory", Boolean, "drop the VM's memory reservation (default true; detail originalmemoryreservation)")
            .opt("hosttags", List, "host tags the VM's host must carry, besides the offering's (a node selector)")
            .of(String)
            .opt("protecteddomainids", List, "domains (with their subdomains) whose accounts' deploys are left alone")
            .of(Uuid)
            .rel("listDomains")
            .opt("protectedaccountids", List, "accounts whose deploys are left alone")
            .of(Uuid)
            .rel("listAccounts")
            .opt("description", String, "what the policy is for (shown in a refusal)")
            .len(1024),
        CommandSpec::new("listAdmissionPolicies", "Lists admission policies (Canopy)")
            .roles(ADMIN)
            .returns("admissionpolicy", ADMISSION_POLICY)
            .list()
            .opt("id", Uuid, "the policy's ID")
            .rel("listAdmissionPolicies")
            .opt("name", String, "the policy's name")
            .opt("runtimeclass", String, "the runtime class"),
        CommandSpec::new("updateAdmissionPolicy", "Changes an admission policy; deploys after the change follow it (Canopy)")
            .roles(ADMIN)
            .returns("admissionpolicy", ADMISSION_POLICY)
            .related("listAdmissionPolicies")
            .req("id", Uuid, "the policy's ID")
            .rel("listAdmissionPolicies")
            .opt("name", String, "a new name")
            .opt("runtimeclass", String, "a new runtime class")
            .opt("action", String, "mutate or refuse")
            .opt("dropcpu", Boolean, "drop the CPU reservation")
            .opt("dropmemory", Boolean, "drop the memory reservation")
            .opt("hosttags", List, "host tags to require (empty clears)")
            .of(String)
            .opt("protecteddomainids", List, "protected domains (empty clears)")
            .of(Uuid)
            .rel("listDomains")
            .opt("protectedaccountids", List, "protected accounts (empty clears)")
            .of(Uuid)
            .rel("listAccounts")
            .opt("description", String, "what the policy is for")
            .len(1024),
        CommandSpec::new("deleteAdmissionPolicy", "Deletes an admission policy; VMs it admitted keep what it did (Canopy)")
            .roles(ADMIN)
            .returns("success", SUCCESS)
            .req("id", Uuid, "the policy's ID")
            .rel("listAdmissionPolicies"),
    ]
}
