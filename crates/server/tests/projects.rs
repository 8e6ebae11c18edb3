//! Projects through the API (SQLite and PostgreSQL), from where their users stand: a project
//! with two member accounts owns a VM, a volume, a network and an IP; both members list them
//! with `projectid` (and `projectid=-1`), not without it; a non-member sees nothing and adds
//! nothing; only the project's Admin manages it; its limits hold; suspending it stops its VMs
//! and blocks new resources; it is deleted only with its resources (`cleanup=true`); with
//! `project.invite.required` members join by accepting an invitation.

mod common;

use common::*;
use serde_json::Value;

fn ids(v: &Value, key: &str) -> Vec<String> {
    v[key]
        .as_array()
        .map(|a| a.iter().map(|x| s(&x["id"])).collect())
        .unwrap_or_default()
}

async fn projects(ts: TestServer) {
    let admin = ts.admin.clone();
    let z = VmZone::new(&ts, 1).await;
    let (_, _, pa) = account_with_keys(&ts, &admin, "pa", None, "0").await;
    let (_, _, pb) = account_with_keys(&ts, &admin, "pb", None, "0").await;
    let (_, _, pc) = account_with_keys(&ts, &admin, "pc", None, "0").await;

    // pa creates the project and is its Admin.
    let j = pa
        .job(&[
            ("command", "createProject"),
            ("name", "web"),
            ("displaytext", "The web tier"),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let p = j["jobresult"]["project"].clone();
    let pid = s(&p["id"]);
    assert_eq!(p["state"], "Active", "{p}");
    assert_eq!(p["owner"][0]["account"], "pa", "{p}");
    assert_eq!(p["vmtotal"], 0, "{p}");
    let e = pa
        .err(&[("command", "createProject"), ("name", "web")], 431)
        .await;
    assert!(e.contains("already exists"), "{e}");
    assert_eq!(
        ids(&pa.ok(&[("command", "listProjects")]).await, "project"),
        [pid.as_str()]
    );
    assert!(ids(&pb.ok(&[("command", "listProjects")]).await, "project").is_empty());

    // pb joins as a Regular member; pc stays out.
    let j = pa
        .job(&[
            ("command", "addAccountToProject"),
            ("projectid", &pid),
            ("account", "pb"),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let members = pb
        .ok(&[("command", "listProjectAccounts"), ("projectid", &pid)])
        .await;
    let roles: Vec<(String, String)> = members["projectaccount"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| (s(&m["account"]), s(&m["role"])))
        .collect();
    assert_eq!(
        roles,
        [
            ("pa".into(), "Admin".into()),
            ("pb".into(), "Regular".into())
        ]
    );
    pc.err(
        &[("command", "listProjectAccounts"), ("projectid", &pid)],
        531,
    )
    .await;
    assert!(ids(&pc.ok(&[("command", "listProjects")]).await, "project").is_empty());

    // Resources in the project, made by either member.
    let off = s(&admin
        .ok(&[
            ("command", "listNetworkOfferings"),
            ("name", "DefaultIsolatedNetworkOfferingWithSourceNatService"),
        ])
        .await["networkoffering"][0]["id"]);
    let net = pb
        .ok(&[
            ("command", "createNetwork"),
            ("name", "pnet"),
            ("zoneid", &z.zone),
            ("networkofferingid", &off),
            ("projectid", &pid),
        ])
        .await["network"]
        .clone();
    assert_eq!(net["projectid"], pid.as_str(), "{net}");
    assert_eq!(net["project"], "web", "{net}");
    assert!(net.get("account").is_none(), "{net}");
    let net_id = s(&net["id"]);
    let vm = deploy_vm(
        &pa,
        &z,
        "pvm",
        &[("projectid", &pid), ("networkids", &net_id)],
    )
    .await;
    assert_eq!(vm["projectid"], pid.as_str(), "{vm}");
    let vm_id = s(&vm["id"]);
    let disk = s(&admin
        .ok(&[
            ("command", "createDiskOffering"),
            ("name", "pdisk"),
            ("displaytext", "pdisk"),
            ("disksize", "1"),
        ])
        .await["diskoffering"]["id"]);
    let r = pb
        .ok(&[
            ("command", "createVolume"),
            ("zoneid", &z.zone),
            ("diskofferingid", &disk),
            ("name", "pvol"),
            ("projectid", &pid),
        ])
        .await;
    let vol_id = s(&r["id"]);
    assert_eq!(pb.wait_job(&s(&r["jobid"])).await["jobstatus"], 1);
    let j = pb
        .job(&[
            ("command", "associateIpAddress"),
            ("networkid", &net_id),
            ("projectid", &pid),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let ip = j["jobresult"]["ipaddress"].clone();
    assert_eq!(ip["projectid"], pid.as_str(), "{ip}");

    // Both members list them with projectid (or -1), neither without it.
    for m in [&pa, &pb] {
        for (cmd, key, id) in [
            ("listVirtualMachines", "virtualmachine", &vm_id),
            ("listVolumes", "volume", &vol_id),
            ("listNetworks", "network", &net_id),
            ("listPublicIpAddresses", "publicipaddress", &s(&ip["id"])),
        ] {
            let with = m.ok(&[("command", cmd), ("projectid", &pid)]).await;
            assert!(ids(&with, key).contains(id), "{cmd} projectid: {with}");
            let all = m.ok(&[("command", cmd), ("projectid", "-1")]).await;
            assert!(ids(&all, key).contains(id), "{cmd} projectid=-1: {all}");
            let without = m.ok(&[("command", cmd)]).await;
            assert!(!ids(&without, key).contains(id), "{cmd}: {without}");
        }
    }
    // The admin: listall alone skips projects; projectid=-1 is projects only.
    let l = admin
        .ok(&[("command", "listVirtualMachines"), ("listall", "true")])
        .await;
    assert!(!ids(&l, "virtualmachine").contains(&vm_id), "{l}");
    let l = admin
        .ok(&[
            ("command", "listVirtualMachines"),
            ("listall", "true"),
            ("projectid", "-1"),
        ])
        .await;
    assert_eq!(ids(&l, "virtualmachine"), [vm_id.as_str()], "{l}");
    // A project's own account is not an account anyone lists or manages.
    let accts = admin
        .ok(&[("command", "listAccounts"), ("listall", "true")])
        .await;
    assert!(
        !accts.to_string().contains("PrjAcct-"),
        "project accounts listed: {accts}"
    );

    // The non-member: nothing to see, nothing to add, nothing to touch.
    pc.err(
        &[("command", "listVirtualMachines"), ("projectid", &pid)],
        531,
    )
    .await;
    assert!(ids(
        &pc.ok(&[("command", "listVirtualMachines"), ("projectid", "-1")])
            .await,
        "virtualmachine"
    )
    .is_empty());
    pc.err(&z.deploy(&[("name", "x"), ("projectid", &pid)]), 531)
        .await;
    pc.err(&[("command", "stopVirtualMachine"), ("id", &vm_id)], 531)
        .await;
    pa.err(
        &[
            ("command", "listVirtualMachines"),
            ("projectid", &pid),
            ("account", "pa"),
        ],
        431,
    )
    .await;

    // Events of the project's resources are the project's.
    let ev = pb
        .ok(&[("command", "listEvents"), ("projectid", &pid)])
        .await;
    let types: Vec<String> = ev["event"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| s(&e["type"]))
        .collect();
    assert!(types.iter().any(|t| t == "VM.CREATE"), "{types:?}");

    // The project's own limits.
    admin
        .ok(&[
            ("command", "updateResourceLimit"),
            ("projectid", &pid),
            ("resourcetype", "0"),
            ("max", "1"),
        ])
        .await;
    let l = pb
        .ok(&[
            ("command", "listResourceLimits"),
            ("projectid", &pid),
            ("resourcetype", "0"),
        ])
        .await;
    assert_eq!(l["resourcelimit"][0]["max"], 1, "{l}");
    pa.err(&z.deploy(&[("name", "pvm2"), ("projectid", &pid)]), 535)
        .await;
    let p = pa.ok(&[("command", "listProjects"), ("id", &pid)]).await["project"][0].clone();
    assert_eq!(
        (p["vmtotal"].clone(), p["vmlimit"].clone()),
        (1.into(), "1".into()),
        "{p}"
    );

    // Only the Admin manages the project.
    pb.err(&[("command", "suspendProject"), ("id", &pid)], 531)
        .await;
    pb.err(
        &[
            ("command", "deleteAccountFromProject"),
            ("projectid", &pid),
            ("account", "pa"),
        ],
        531,
    )
    .await;
    pa.err(
        &[
            ("command", "deleteAccountFromProject"),
            ("projectid", &pid),
            ("account", "pa"),
        ],
        431,
    )
    .await;

    // Suspended: its VMs stop, nothing new is added, nothing starts; activated again.
    let j = pa.job(&[("command", "suspendProject"), ("id", &pid)]).await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    assert_eq!(j["jobresult"]["project"]["state"], "Suspended", "{j}");
    let v = pa
        .ok(&[
            ("command", "listVirtualMachines"),
            ("id", &vm_id),
            ("projectid", &pid),
        ])
        .await;
    assert_eq!(v["virtualmachine"][0]["state"], "Stopped", "{v}");
    assert!(z.running().is_empty(), "{:?}", z.running());
    let e = pb
        .err(
            &[
                ("command", "createVolume"),
                ("zoneid", &z.zone),
                ("diskofferingid", &disk),
                ("projectid", &pid),
            ],
            531,
        )
        .await;
    assert!(e.contains("no longer active"), "{e}");
    pa.err(&[("command", "startVirtualMachine"), ("id", &vm_id)], 531)
        .await;
    let j = pa
        .job(&[("command", "activateProject"), ("id", &pid)])
        .await;
    assert_eq!(j["jobresult"]["project"]["state"], "Active", "{j}");
    let j = pb
        .job(&[("command", "startVirtualMachine"), ("id", &vm_id)])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");

    // Deleted only with its resources.
    let e = pa
        .err(&[("command", "deleteProject"), ("id", &pid)], 536)
        .await;
    assert!(e.contains("to clean up"), "{e}");
    let j = pa
        .job(&[
            ("command", "deleteProject"),
            ("id", &pid),
            ("cleanup", "true"),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    assert!(ids(&pa.ok(&[("command", "listProjects")]).await, "project").is_empty());
    assert!(z.running().is_empty(), "{:?}", z.running());
    let l = admin
        .ok(&[
            ("command", "listVolumes"),
            ("listall", "true"),
            ("id", &vol_id),
        ])
        .await;
    assert!(ids(&l, "volume").is_empty(), "{l}");

    // Invitations: with project.invite.required an account joins by accepting.
    admin
        .ok(&[
            ("command", "updateConfiguration"),
            ("name", "project.invite.required"),
            ("value", "true"),
        ])
        .await;
    let j = pa
        .job(&[("command", "createProject"), ("name", "ops")])
        .await;
    let ops = s(&j["jobresult"]["project"]["id"]);
    let j = pa
        .job(&[
            ("command", "addAccountToProject"),
            ("projectid", &ops),
            ("account", "pc"),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let members = |c: &Client| {
        let c = Client::new(&c.base, &c.key, &c.secret);
        let ops = ops.clone();
        async move {
            c.ok(&[("command", "listProjectAccounts"), ("projectid", &ops)])
                .await["count"]
                .clone()
        }
    };
    assert_eq!(members(&pa).await, 1);
    let inv = pc
        .ok(&[
            ("command", "listProjectInvitations"),
            ("activeonly", "true"),
        ])
        .await;
    assert_eq!(
        inv["projectinvitation"][0]["projectid"],
        ops.as_str(),
        "{inv}"
    );
    assert_eq!(inv["projectinvitation"][0]["state"], "Pending", "{inv}");
    // pb has no invitation to answer.
    pb.err(
        &[("command", "updateProjectInvitation"), ("projectid", &ops)],
        431,
    )
    .await;
    let j = pc
        .job(&[("command", "updateProjectInvitation"), ("projectid", &ops)])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    assert_eq!(members(&pa).await, 2);
    assert_eq!(
        ids(&pc.ok(&[("command", "listProjects")]).await, "project"),
        [ops.as_str()]
    );
    admin
        .ok(&[
            ("command", "updateConfiguration"),
            ("name", "project.invite.required"),
            ("value", "false"),
        ])
        .await;
    ts.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_project_is_shared_by_its_members_only() {
    projects(TestServer::start().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_project_is_shared_by_its_members_only_postgres() {
    let Some(pg) = testkit::Postgres::start_for_test() else {
        return;
    };
    projects(TestServer::start_with(Some(pg.fresh_database().expect("db"))).await).await;
}
