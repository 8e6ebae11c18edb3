//! The authorization matrix: two domains and a subdomain, each with a user account and a
//! domain-admin account, each owning one of every resource kind (VM, its network, volume,
//! public IP, port-forwarding rule, security group, private template and ISO, instance group,
//! the account itself). Every list command of `listApis` is called as each caller with the
//! listall / isrecursive / domainid / account / id variants, and every answer is searched for
//! ids the caller may not see; then mutating commands are aimed at the objects the caller may
//! not touch. Each tenant also has a project with a VM in it: lists are also called with
//! `projectid` (every hidden project, and -1), and the project commands and resource creation
//! in a project are aimed at the projects the caller may not touch. Zero cross-tenant reads
//! or writes.
//!
//! Who may see whom: an account itself; a domain admin everything owned in its subtree.

mod common;

use common::*;
use serde_json::Value;

struct Tenant {
    name: String,
    domain_id: String,
    domain_path: String,
    admin: bool,
    client: Client,
    account: String,
    /// (kind, id) of what it owns.
    owns: Vec<(&'static str, String)>,
}

fn can_see(c: &Tenant, o: &Tenant) -> bool {
    c.name == o.name || (c.admin && o.domain_path.starts_with(&c.domain_path))
}

async fn job_ok(c: &Client, params: &[(&str, &str)]) -> Value {
    let j = c.job(params).await;
    assert_eq!(j["jobstatus"], 1, "{params:?}: {j}");
    j["jobresult"].clone()
}

/// Calls and, for an accepted async command, waits for its job. Whether it succeeded.
async fn succeeded(c: &Client, params: &[(&str, &str)]) -> (bool, String) {
    let r = c.call(params).await;
    if r.status != 200 {
        return (false, r.text);
    }
    let inner = r.inner();
    if let Some(job) = inner["jobid"].as_str() {
        let j = c.wait_job(job).await;
        return (j["jobstatus"] == 1, j.to_string());
    }
    // An answer that grants nothing (createConsoleEndpoint's success=false) is a refusal.
    let granted = inner["consoleendpoint"]["success"] != false && inner["success"] != false;
    (granted, r.text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_tenant_reads_or_changes_another_tenants_objects() {
    let ts = TestServer::start().await;
    let z = VmZone::new(&ts, 2).await;
    let root = ts.admin.clone();
    let acme = create_domain(&root, "acme", None).await;
    let globex = create_domain(&root, "globex", None).await;
    let sub = create_domain(&root, "sub", Some(&acme)).await;
    let paths = [
        (acme.clone(), "/acme/".to_string()),
        (globex.clone(), "/globex/".to_string()),
        (sub.clone(), "/acme/sub/".to_string()),
    ];
    let staging = ts.staging();
    let img = staging.join("private.qcow2");
    let mut bytes = b"QFI\xfb".to_vec();
    bytes.resize(64 * 1024, 9);
    std::fs::write(&img, bytes).expect("image");
    let iso = staging.join("private.iso");
    let mut isob = vec![0u8; 40 * 1024];
    isob[32769..32774].copy_from_slice(b"CD001");
    std::fs::write(&iso, isob).expect("iso");

    let mut tenants = Vec::new();
    for (d, path) in &paths {
        for (kind, admin) in [("user", false), ("dadmin", true)] {
            let name = format!("{kind}-{}", path.trim_matches('/').replace('/', "-"));
            let (acct, _, client) =
                account_with_keys(&ts, &root, &name, Some(d), if admin { "2" } else { "0" }).await;
            tenants.push(Tenant {
                name: name.clone(),
                domain_id: d.clone(),
                domain_path: path.clone(),
                admin,
                client,
                account: name,
                owns: vec![("account", acct)],
            });
        }
    }
    // One of everything, created by each tenant (private templates by the root admin for it).
    for t in tenants.iter_mut() {
        let c = t.client.clone();
        let vm = deploy_vm(&c, &z, &format!("vm-{}", t.name), &[]).await;
        let vm_id = vm["id"].as_str().expect("vm").to_string();
        let net = vm["nic"][0]["networkid"].as_str().expect("net").to_string();
        let vol = job_ok(
            &c,
            &[
                ("command", "createVolume"),
                ("name", "v"),
                ("zoneid", &z.zone),
                (
                    "diskofferingid",
                    root.ok(&[("command", "listDiskOfferings")]).await["diskoffering"][0]["id"]
                        .as_str()
                        .expect("disk offering"),
                ),
            ],
        )
        .await["volume"]["id"]
            .as_str()
            .expect("volume")
            .to_string();
        let ip = job_ok(
            &c,
            &[("command", "associateIpAddress"), ("networkid", &net)],
        )
        .await["ipaddress"]["id"]
            .as_str()
            .expect("ip")
            .to_string();
        let pf = job_ok(
            &c,
            &[
                ("command", "createPortForwardingRule"),
                ("ipaddressid", &ip),
                ("protocol", "tcp"),
                ("publicport", "2222"),
                ("privateport", "22"),
                ("virtualmachineid", &vm_id),
            ],
        )
        .await["portforwardingrule"]["id"]
            .as_str()
            .expect("rule")
            .to_string();
        let sg = c
            .ok(&[("command", "createSecurityGroup"), ("name", "sg")])
            .await["securitygroup"]["id"]
            .as_str()
            .expect("sg")
            .to_string();
        let tpl = root
            .ok(&[
                ("command", "registerTemplate"),
                ("name", &format!("tpl-{}", t.name)),
                ("format", "QCOW2"),
                ("hypervisor", "Simulator"),
                ("url", &format!("file://{}", img.display())),
                ("zoneid", &z.zone),
                ("account", &t.account),
                ("domainid", &t.domain_id),
                ("ispublic", "false"),
            ])
            .await["template"][0]["id"]
            .as_str()
            .expect("template")
            .to_string();
        let isoid = root
            .ok(&[
                ("command", "registerIso"),
                ("name", &format!("iso-{}", t.name)),
                ("url", &format!("file://{}", iso.display())),
                ("zoneid", &z.zone),
                ("account", &t.account),
                ("domainid", &t.domain_id),
                ("ispublic", "false"),
                ("bootable", "false"),
            ])
            .await["iso"][0]["id"]
            .as_str()
            .expect("iso")
            .to_string();
        c.job(&[
            ("command", "createTags"),
            ("resourcetype", "UserVm"),
            ("resourceids", &vm_id),
            ("tags[0].key", "owner"),
            ("tags[0].value", &t.name),
        ])
        .await;
        let group = s(&c
            .ok(&[("command", "createInstanceGroup"), ("name", "g")])
            .await["instancegroup"]["id"]);
        let project = s(&job_ok(
            &c,
            &[
                ("command", "createProject"),
                ("name", &format!("prj-{}", t.name)),
            ],
        )
        .await["project"]["id"]);
        let pvm = s(&deploy_vm(
            &c,
            &z,
            &format!("pvm-{}", t.name),
            &[("projectid", &project), ("startvm", "false")],
        )
        .await["id"]);
        t.owns.extend([
            ("project", project),
            ("projectvm", pvm),
            ("group", group),
            ("vm", vm_id),
            ("network", net),
            ("volume", vol),
            ("ip", ip),
            ("pf", pf),
            ("sg", sg),
            ("template", tpl),
            ("iso", isoid),
        ]);
    }

    // --- reads ---------------------------------------------------------------------------
    let mut reads = 0usize;
    let mut leaks: Vec<String> = Vec::new();
    for ci in 0..tenants.len() {
        let c = &tenants[ci];
        let hidden: Vec<(&str, &str, &str)> = tenants
            .iter()
            .filter(|o| !can_see(c, o))
            .flat_map(|o| {
                o.owns
                    .iter()
                    .map(move |(k, id)| (o.name.as_str(), *k, id.as_str()))
            })
            .collect();
        let apis = c.client.ok(&[("command", "listApis")]).await;
        let lists: Vec<(String, Vec<String>)> = apis["api"]
            .as_array()
            .expect("apis")
            .iter()
            .filter_map(|a| {
                let n = a["name"].as_str()?;
                (n.starts_with("list") && n != "listApis").then(|| {
                    (
                        n.to_string(),
                        a["params"]
                            .as_array()
                            .map(|p| {
                                p.iter()
                                    .filter_map(|p| p["name"].as_str().map(str::to_string))
                                    .collect()
                            })
                            .unwrap_or_default(),
                    )
                })
            })
            .collect();
        assert!(lists.len() > 25, "{} list commands", lists.len());
        for (cmd, params) in &lists {
            let mut variants: Vec<Vec<(String, String)>> = vec![
                vec![],
                vec![("listall".into(), "true".into())],
                vec![
                    ("listall".into(), "true".into()),
                    ("isrecursive".into(), "true".into()),
                ],
            ];
            for (d, _) in &paths {
                variants.push(vec![("domainid".into(), d.clone())]);
                variants.push(vec![
                    ("domainid".into(), d.clone()),
                    ("isrecursive".into(), "true".into()),
                ]);
            }
            for o in &tenants {
                variants.push(vec![
                    ("account".into(), o.account.clone()),
                    ("domainid".into(), o.domain_id.clone()),
                ]);
            }
            if params.iter().any(|p| p == "id") {
                for (_, _, id) in &hidden {
                    variants.push(vec![("id".into(), id.to_string())]);
                    variants.push(vec![
                        ("id".into(), id.to_string()),
                        ("listall".into(), "true".into()),
                    ]);
                }
            }
            if params.iter().any(|p| p == "projectid") {
                variants.push(vec![("projectid".into(), "-1".into())]);
                variants.push(vec![
                    ("projectid".into(), "-1".into()),
                    ("listall".into(), "true".into()),
                ]);
                for (_, kind, id) in &hidden {
                    if *kind == "project" {
                        variants.push(vec![("projectid".into(), id.to_string())]);
                    }
                }
            }
            for key in ["resourceid", "virtualmachineid", "networkid", "ipaddressid"] {
                if params.iter().any(|p| p == key) {
                    for (_, _, id) in &hidden {
                        variants.push(vec![(key.into(), id.to_string())]);
                    }
                }
            }
            let filters: Vec<Option<(&str, &str)>> = match cmd.as_str() {
                "listTemplates" => ["all", "self", "executable", "community", "featured"]
                    .iter()
                    .map(|f| Some(("templatefilter", *f)))
                    .collect(),
                "listIsos" => ["all", "self", "executable", "community"]
                    .iter()
                    .map(|f| Some(("isofilter", *f)))
                    .collect(),
                _ => vec![None],
            };
            for f in &filters {
                for v in &variants {
                    let mut p: Vec<(&str, &str)> = vec![("command", cmd.as_str())];
                    if let Some(f) = f {
                        p.push(*f);
                    }
                    p.extend(v.iter().map(|(a, b)| (a.as_str(), b.as_str())));
                    let r = c.client.call(&p).await;
                    reads += 1;
                    for (owner, kind, id) in &hidden {
                        // An error may echo the id the caller sent ("Invalid parameter id
                        // value=…"); an answer that carries it, or any that names an id the
                        // caller did not send, is a leak.
                        let sent = p.iter().any(|(_, v)| v.contains(id));
                        if r.text.contains(id) && (r.status == 200 || !sent) {
                            leaks.push(format!("{} saw {owner}'s {kind} {id} via {p:?}", c.name));
                        }
                    }
                }
            }
        }
    }

    // --- writes --------------------------------------------------------------------------
    let disk = root.ok(&[("command", "listDiskOfferings")]).await["diskoffering"][0]["id"]
        .as_str()
        .expect("disk offering")
        .to_string();
    let mut writes = 0usize;
    let mut breaches: Vec<String> = Vec::new();
    for c in &tenants {
        let own = |k: &str| {
            c.owns
                .iter()
                .find(|(kind, _)| *kind == k)
                .map(|(_, id)| id.clone())
                .expect("own object")
        };
        let (my_vm, my_vol) = (own("vm"), own("volume"));
        for o in tenants.iter().filter(|o| !can_see(c, o)) {
            let their = |k: &str| {
                o.owns
                    .iter()
                    .find(|(kind, _)| *kind == k)
                    .map(|(_, id)| id.clone())
                    .expect("object")
            };
            let (vm, vol, net, ip, pf, sg, tpl, iso, acct) = (
                their("vm"),
                their("volume"),
                their("network"),
                their("ip"),
                their("pf"),
                their("sg"),
                their("template"),
                their("iso"),
                their("account"),
            );
            let group = their("group");
            let (project, pvm) = (their("project"), their("projectvm"));
            let me = c.name.clone();
            let attempts: Vec<Vec<(&str, &str)>> = vec![
                vec![
                    ("command", "updateInstanceGroup"),
                    ("id", &group),
                    ("name", "pwned"),
                ],
                vec![("command", "deleteInstanceGroup"), ("id", &group)],
                vec![("command", "updateVolume"), ("id", &vol), ("name", "pwned")],
                vec![
                    ("command", "updateVirtualMachine"),
                    ("id", &vm),
                    ("deleteprotection", "true"),
                ],
                vec![
                    ("command", "addResourceDetail"),
                    ("resourcetype", "UserVm"),
                    ("resourceid", &vm),
                    ("details[0].key", "x"),
                    ("details[0].value", "y"),
                ],
                vec![
                    ("command", "addResourceDetail"),
                    ("resourcetype", "Volume"),
                    ("resourceid", &vol),
                    ("details[0].key", "x"),
                    ("details[0].value", "y"),
                ],
                vec![
                    ("command", "updateTemplatePermissions"),
                    ("id", &tpl),
                    ("accounts", &me),
                    ("op", "add"),
                ],
                vec![("command", "listTemplatePermissions"), ("id", &tpl)],
                vec![("command", "stopVirtualMachine"), ("id", &vm)],
                vec![("command", "rebootVirtualMachine"), ("id", &vm)],
                vec![
                    ("command", "updateVirtualMachine"),
                    ("id", &vm),
                    ("displayname", "pwned"),
                ],
                vec![("command", "destroyVirtualMachine"), ("id", &vm)],
                vec![
                    ("command", "createConsoleEndpoint"),
                    ("virtualmachineid", &vm),
                ],
                vec![
                    ("command", "attachVolume"),
                    ("id", &my_vol),
                    ("virtualmachineid", &vm),
                ],
                vec![
                    ("command", "attachVolume"),
                    ("id", &vol),
                    ("virtualmachineid", &my_vm),
                ],
                vec![("command", "deleteVolume"), ("id", &vol)],
                vec![("command", "resizeVolume"), ("id", &vol), ("size", "20")],
                vec![("command", "disassociateIpAddress"), ("id", &ip)],
                vec![
                    ("command", "enableStaticNat"),
                    ("ipaddressid", &ip),
                    ("virtualmachineid", &my_vm),
                ],
                vec![
                    ("command", "createFirewallRule"),
                    ("ipaddressid", &ip),
                    ("protocol", "tcp"),
                    ("startport", "1"),
                    ("endport", "2"),
                    ("cidrlist", "0.0.0.0/0"),
                ],
                vec![("command", "deletePortForwardingRule"), ("id", &pf)],
                vec![("command", "deleteNetwork"), ("id", &net)],
                vec![("command", "restartNetwork"), ("id", &net)],
                vec![
                    ("command", "updateNetwork"),
                    ("id", &net),
                    ("name", "pwned"),
                ],
                vec![
                    ("command", "createEgressFirewallRule"),
                    ("networkid", &net),
                    ("protocol", "tcp"),
                    ("startport", "1"),
                    ("endport", "2"),
                ],
                vec![("command", "deleteSecurityGroup"), ("id", &sg)],
                vec![
                    ("command", "authorizeSecurityGroupIngress"),
                    ("securitygroupid", &sg),
                    ("protocol", "tcp"),
                    ("startport", "1"),
                    ("endport", "2"),
                    ("cidrlist", "0.0.0.0/0"),
                ],
                vec![
                    ("command", "updateTemplate"),
                    ("id", &tpl),
                    ("name", "pwned"),
                ],
                vec![("command", "deleteTemplate"), ("id", &tpl)],
                vec![("command", "deleteIso"), ("id", &iso)],
                vec![
                    ("command", "createTags"),
                    ("resourcetype", "UserVm"),
                    ("resourceids", &vm),
                    ("tags[0].key", "x"),
                    ("tags[0].value", "y"),
                ],
                vec![
                    ("command", "createTags"),
                    ("resourcetype", "Template"),
                    ("resourceids", &tpl),
                    ("tags[0].key", "x"),
                    ("tags[0].value", "y"),
                ],
                vec![
                    ("command", "deployVirtualMachine"),
                    ("zoneid", &z.zone),
                    ("serviceofferingid", &z.offering),
                    ("templateid", &tpl),
                ],
                vec![
                    ("command", "deployVirtualMachine"),
                    ("zoneid", &z.zone),
                    ("serviceofferingid", &z.offering),
                    ("templateid", &z.template),
                    ("networkids", &net),
                ],
                vec![
                    ("command", "deployVirtualMachine"),
                    ("zoneid", &z.zone),
                    ("serviceofferingid", &z.offering),
                    ("isoid", &iso),
                    ("diskofferingid", &disk),
                ],
                vec![
                    ("command", "disableAccount"),
                    ("id", &acct),
                    ("lock", "false"),
                ],
                vec![
                    ("command", "updateAccount"),
                    ("id", &acct),
                    ("newname", "pwned"),
                ],
                vec![("command", "deleteAccount"), ("id", &acct)],
                vec![
                    ("command", "updateProject"),
                    ("id", &project),
                    ("displaytext", "pwned"),
                ],
                vec![("command", "suspendProject"), ("id", &project)],
                vec![
                    ("command", "deleteProject"),
                    ("id", &project),
                    ("cleanup", "true"),
                ],
                vec![
                    ("command", "addAccountToProject"),
                    ("projectid", &project),
                    ("account", &me),
                ],
                vec![
                    ("command", "updateProjectInvitation"),
                    ("projectid", &project),
                ],
                vec![
                    ("command", "deployVirtualMachine"),
                    ("zoneid", &z.zone),
                    ("serviceofferingid", &z.offering),
                    ("templateid", &z.template),
                    ("projectid", &project),
                ],
                vec![
                    ("command", "createVolume"),
                    ("zoneid", &z.zone),
                    ("diskofferingid", &disk),
                    ("projectid", &project),
                ],
                vec![
                    ("command", "createSSHKeyPair"),
                    ("name", "pwned"),
                    ("projectid", &project),
                ],
                vec![("command", "startVirtualMachine"), ("id", &pvm)],
                vec![("command", "destroyVirtualMachine"), ("id", &pvm)],
            ];
            for p in attempts {
                writes += 1;
                let (ok, text) = succeeded(&c.client, &p).await;
                if ok {
                    breaches.push(format!(
                        "{} changed {}'s objects: {p:?} -> {text}",
                        c.name, o.name
                    ));
                }
            }
        }
    }
    eprintln!(
        "authorization matrix: {} callers, {reads} cross-tenant reads tried, {} succeeded; {writes} cross-tenant writes tried, {} succeeded",
        tenants.len(),
        leaks.len(),
        breaches.len()
    );
    assert!(
        leaks.is_empty(),
        "cross-tenant reads:\n{}",
        leaks.join("\n")
    );
    assert!(
        breaches.is_empty(),
        "cross-tenant writes:\n{}",
        breaches.join("\n")
    );
    // The objects are still there, unchanged, for their owners.
    for t in &tenants {
        let vm = t
            .owns
            .iter()
            .find(|(k, _)| *k == "vm")
            .map(|(_, id)| id)
            .expect("vm");
        let v = vm_view(&t.client, vm).await;
        assert_eq!(v["state"], "Running", "{}: {v}", t.name);
        assert_eq!(v["displayname"], format!("vm-{}", t.name));
    }
    ts.stop().await;
}
