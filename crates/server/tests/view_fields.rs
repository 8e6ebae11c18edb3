//! What the views answer is what `api` documents (listApis's response fields, CloudStack's
//! response classes): every key of every object a list command returns — here with a running
//! VM that has guest statistics, a data disk, a network and public addresses, as an admin
//! sees them (admins see the most) — is in that command's response field list.

mod common;

use std::time::Duration;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn list_answers_carry_only_documented_fields() {
    let ts = TestServer::start().await;
    let c = ts.admin.clone();
    c.ok(&[
        ("command", "updateConfiguration"),
        ("name", "vm.stats.interval"),
        ("value", "1000"),
    ])
    .await;
    let z = VmZone::new(&ts, 1).await;
    let vm = deploy_vm(&c, &z, "fields", &[("group", "documented")]).await;
    let id = vm["id"].as_str().expect("id").to_string();
    // Its statistics arrive (the VM view's widest form).
    for _ in 0..100 {
        if vm_view(&c, &id).await.get("cpuused").is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(vm_view(&c, &id).await.get("cpuused").is_some());
    let specs = api::commands::all();
    let mut checked = 0;
    let mut missing = std::collections::BTreeSet::new();
    for command in [
        "listVirtualMachines",
        "listVirtualMachinesMetrics",
        "listVolumes",
        "listVolumesMetrics",
        "listNetworks",
        "listPublicIpAddresses",
        "listRouters",
        "listZones",
        "listHosts",
        "listTemplates",
        "listServiceOfferings",
        "listAccounts",
        "listDomains",
        "listInstanceGroups",
        "listRoles",
    ] {
        let spec = specs
            .iter()
            .find(|s| s.name == command)
            .unwrap_or_else(|| panic!("{command} is not in api"));
        let mut params = vec![("command", command), ("listall", "true")];
        if command == "listTemplates" {
            params.push(("templatefilter", "all"));
        }
        let body = c.ok(&params).await;
        let items = body[spec.response_key]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(
            !items.is_empty(),
            "{command} answered no {}: {body}",
            spec.response_key
        );
        let documented: Vec<&str> = spec.response_fields().map(|f| f.name).collect();
        for item in &items {
            for k in item.as_object().expect("an object").keys() {
                if !documented.contains(&k.as_str()) {
                    missing.insert(format!("{command}: {}.{k}", spec.response_key));
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 100, "{checked}");
    assert!(
        missing.is_empty(),
        "answered but not in api's response field lists:\n{}",
        missing.into_iter().collect::<Vec<_>>().join("\n")
    );
    ts.stop().await;
}
