//! listConfigurationGroups and the groups of listConfigurations: CloudStack's groups and
//! subgroups, each setting in one, filtered by group and subgroup; admins only.

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn settings_are_grouped_as_cloudstack_groups_them() {
    let ts = TestServer::start().await;
    let c = ts.admin.clone();
    let g = c.ok(&[("command", "listConfigurationGroups")]).await;
    assert_eq!(g["count"], 9, "{g}");
    assert_eq!(g["configurationgroup"][0]["name"], "Access", "{g}");
    let one = c
        .ok(&[("command", "listConfigurationGroups"), ("name", "Storage")])
        .await;
    let subs: Vec<String> = one["configurationgroup"][0]["subgroup"]
        .as_array()
        .expect("subgroups")
        .iter()
        .map(|x| s(&x["name"]))
        .collect();
    assert_eq!(
        subs,
        ["Images", "Volume", "Snapshot", "VM Snapshot"],
        "{one}"
    );
    let l = c
        .ok(&[
            ("command", "listConfigurations"),
            ("name", "max.template.iso.size"),
        ])
        .await;
    assert_eq!(l["configuration"][0]["group"], "Storage", "{l}");
    assert_eq!(l["configuration"][0]["subgroup"], "Images", "{l}");
    // Every setting of a subgroup, and only those.
    let l = c
        .ok(&[
            ("command", "listConfigurations"),
            ("group", "Management Server"),
            ("subgroup", "Events"),
        ])
        .await;
    let items = l["configuration"].as_array().expect("settings");
    assert!(!items.is_empty(), "{l}");
    assert!(items.iter().all(|x| x["subgroup"] == "Events"), "{l}");
    let all = c
        .ok(&[
            ("command", "listConfigurations"),
            ("pagesize", "1"),
            ("page", "1"),
        ])
        .await["count"]
        .as_u64()
        .unwrap_or(0);
    let mut sum = 0;
    for grp in g["configurationgroup"].as_array().expect("groups") {
        sum += c
            .ok(&[
                ("command", "listConfigurations"),
                ("group", &s(&grp["name"])),
                ("pagesize", "1"),
                ("page", "1"),
            ])
            .await["count"]
            .as_u64()
            .unwrap_or(0);
    }
    assert_eq!(sum, all, "every setting is in exactly one group");
    let (_, _, u) = account_with_keys(&ts, &c, "nosettings", None, "0").await;
    u.err(&[("command", "listConfigurationGroups")], 401).await;
    ts.stop().await;
}
