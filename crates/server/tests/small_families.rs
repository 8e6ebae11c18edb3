//! The smaller command families the CloudStack tools call: listHypervisors,
//! listGuestOsMapping, listInfrastructure, resource details, account and domain resource
//! counts, archiveEvents/deleteEvents (a tenant's own events only),
//! updateVolume, delete protection of VMs and volumes, listRouters' resolvers, and the async
//! job result's entity carrying its job id.

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_smaller_families_answer_as_cloudstack() {
    let ts = TestServer::start().await;
    let c = ts.admin.clone();
    let z = VmZone::new(&ts, 1).await;
    let (_, _, a) = account_with_keys(&ts, &c, "fa", None, "0").await;
    let (_, _, b) = account_with_keys(&ts, &c, "fb", None, "0").await;

    // Hypervisors and guest OS mappings.
    let h = a.ok(&[("command", "listHypervisors")]).await;
    assert_eq!(names(&h, "hypervisor", "name"), ["KVM", "Simulator"]);
    a.err(
        &[
            ("command", "listHypervisors"),
            ("zoneid", &uuid::Uuid::new_v4().to_string()),
        ],
        431,
    )
    .await;
    let m = c
        .ok(&[("command", "listGuestOsMapping"), ("hypervisor", "kvm")])
        .await;
    let first = m["guestosmapping"][0].clone();
    assert_eq!(first["hypervisor"], "KVM", "{m}");
    let again = c
        .ok(&[("command", "listGuestOsMapping"), ("id", &s(&first["id"]))])
        .await;
    assert_eq!(again["count"], 1, "{again}");
    assert_eq!(again["guestosmapping"][0]["ostypeid"], first["ostypeid"]);
    c.err(
        &[("command", "listGuestOsMapping"), ("hypervisor", "xen")],
        431,
    )
    .await;
    a.err(&[("command", "listGuestOsMapping")], 401).await;

    // listInfrastructure counts what there is (root admins).
    let inf = c.ok(&[("command", "listInfrastructure")]).await["infrastructure"].clone();
    assert_eq!(inf["zones"], 1, "{inf}");
    assert!(
        inf["hosts"].as_u64().unwrap_or(0) >= 2,
        "the zone's host and the simulated one: {inf}"
    );
    assert_eq!(inf["managementservers"], 1, "{inf}");
    a.err(&[("command", "listInfrastructure")], 401).await;

    // The job's result entity carries the job id.
    let r = a.ok(&z.deploy(&[("name", "p1")])).await;
    let job = s(&r["jobid"]);
    let j = a.wait_job(&job).await;
    assert_eq!(
        j["jobresult"]["virtualmachine"]["jobid"],
        job.as_str(),
        "{j}"
    );
    let vm = s(&j["jobresult"]["virtualmachine"]["id"]);
    // The VM's network router answers the zone's resolvers it forwards to.
    let zone = c.ok(&[("command", "listZones"), ("id", &z.zone)]).await["zone"][0].clone();
    let routers = c
        .ok(&[("command", "listRouters"), ("listall", "true")])
        .await;
    let router = routers["router"][0].clone();
    assert!(router.is_object(), "the deploy made a router: {routers}");
    assert_eq!(router["dns1"], zone["dns1"], "{router}");

    // The account reports its counts and limits (listAccounts, listDomains).
    let dom = s(&c
        .ok(&[
            ("command", "listAccounts"),
            ("listall", "true"),
            ("name", "fa"),
        ])
        .await["account"][0]["domainid"]);
    c.ok(&[
        ("command", "updateResourceLimit"),
        ("account", "fa"),
        ("domainid", &dom),
        ("resourcetype", "0"),
        ("max", "5"),
    ])
    .await;
    let me = a.ok(&[("command", "listAccounts")]).await["account"][0].clone();
    assert_eq!(me["vmtotal"], 1, "{me}");
    assert_eq!(me["vmlimit"], "5", "{me}");
    assert_eq!(me["vmavailable"], "4", "{me}");
    assert_eq!(me["cputotal"], 1, "{me}");
    assert!(me["memorytotal"].as_i64().unwrap_or(0) > 0, "{me}");
    let min = a
        .ok(&[("command", "listAccounts"), ("details", "min")])
        .await["account"][0]
        .clone();
    assert!(min.get("vmtotal").is_none(), "{min}");
    let root = c.ok(&[("command", "listDomains"), ("id", &dom)]).await["domain"][0].clone();
    assert_eq!(
        root["vmtotal"], 1,
        "the domain counts its subtree (fa's VM): {root}"
    );
    assert_eq!(root["vmlimit"], "Unlimited", "{root}");
    // Subtrees by path: a volume in /sub/child/ counts for child, sub and ROOT, not for
    // /su/ (whose path is a prefix of /sub/'s text but not its ancestor) — in one page.
    let sub = create_domain(&c, "sub", None).await;
    create_domain(&c, "su", None).await;
    let child = create_domain(&c, "child", Some(&sub)).await;
    let (_, _, fc) = account_with_keys(&ts, &c, "fc", Some(&child), "0").await;
    let disk = s(&c.ok(&[("command", "listDiskOfferings")]).await["diskoffering"][0]["id"]);
    fc.ok(&[
        ("command", "createVolume"),
        ("name", "counted"),
        ("zoneid", &z.zone),
        ("diskofferingid", &disk),
    ])
    .await;
    let all = c
        .ok(&[("command", "listDomains"), ("listall", "true")])
        .await;
    let total = |name: &str| {
        all["domain"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|d| d["name"] == name)
            .map(|d| d["volumetotal"].clone())
            .unwrap_or_default()
    };
    assert_eq!(total("child"), 1, "{all}");
    assert_eq!(total("sub"), 1, "{all}");
    assert_eq!(total("su"), 0, "{all}");
    assert!(total("ROOT").as_i64().unwrap_or(0) >= 1, "{all}");
    // A page without ROOT counts only the accounts under its domains (by index): the same
    // totals, one domain at a time.
    for (name, want) in [("sub", 1), ("su", 0), ("child", 1)] {
        let one = c
            .ok(&[
                ("command", "listDomains"),
                ("name", name),
                ("listall", "true"),
            ])
            .await;
        let d = &one["domain"][0];
        assert_eq!(d["name"], name, "{one}");
        assert_eq!(d["volumetotal"], want, "{name}: {one}");
    }
    let accts = c
        .ok(&[("command", "listAccounts"), ("listall", "true")])
        .await;
    let fc_row = accts["account"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["name"] == "fc")
        .cloned()
        .unwrap_or_default();
    assert_eq!(fc_row["volumetotal"], 1, "{accts}");
    assert_eq!(fc_row["vmtotal"], 0, "{accts}");

    // Resource details: on the VM (its own details) and on a template; another tenant
    // neither reads nor adds them.
    let j = a
        .job(&[
            ("command", "addResourceDetail"),
            ("resourcetype", "UserVm"),
            ("resourceid", &vm),
            ("details[0].key", "tier"),
            ("details[0].value", "web"),
            ("details[1].key", "owner"),
            ("details[1].value", "ops"),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let d = a
        .ok(&[
            ("command", "listResourceDetails"),
            ("resourcetype", "UserVm"),
            ("resourceid", &vm),
        ])
        .await;
    assert_eq!(names(&d, "resourcedetail", "key"), ["owner", "tier"], "{d}");
    assert_eq!(vm_view(&a, &vm).await["details"]["tier"], "web");
    let e = b
        .call(&[
            ("command", "listResourceDetails"),
            ("resourcetype", "UserVm"),
            ("resourceid", &vm),
        ])
        .await;
    assert!([431, 531].contains(&e.status), "{}", e.text);
    let e = b
        .call(&[
            ("command", "addResourceDetail"),
            ("resourcetype", "UserVm"),
            ("resourceid", &vm),
            ("details[0].key", "x"),
            ("details[0].value", "y"),
        ])
        .await;
    assert!([431, 531].contains(&e.status), "{}", e.text);
    a.err(
        &[
            ("command", "addResourceDetail"),
            ("resourcetype", "Spaceship"),
            ("resourceid", &vm),
            ("details[0].key", "x"),
            ("details[0].value", "y"),
        ],
        431,
    )
    .await;
    a.job(&[
        ("command", "removeResourceDetail"),
        ("resourcetype", "UserVm"),
        ("resourceid", &vm),
        ("key", "owner"),
    ])
    .await;
    let d = a
        .ok(&[
            ("command", "listResourceDetails"),
            ("resourcetype", "UserVm"),
            ("resourceid", &vm),
        ])
        .await;
    assert_eq!(names(&d, "resourcedetail", "key"), ["tier"], "{d}");
    // On a template (admins own the zone's), kept in resource_details; a user reads a public one.
    let j = c
        .job(&[
            ("command", "addResourceDetail"),
            ("resourcetype", "Template"),
            ("resourceid", &z.template),
            ("details[0].key", "arch"),
            ("details[0].value", "x86_64"),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let d = a
        .ok(&[
            ("command", "listResourceDetails"),
            ("resourcetype", "Template"),
            ("resourceid", &z.template),
            ("key", "arch"),
        ])
        .await;
    assert_eq!(d["resourcedetail"][0]["value"], "x86_64", "{d}");

    // Delete protection: a protected VM is not destroyed until it is lifted.
    let u = a
        .ok(&[
            ("command", "updateVirtualMachine"),
            ("id", &vm),
            ("deleteprotection", "true"),
        ])
        .await;
    assert_eq!(u["virtualmachine"]["deleteprotection"], true, "{u}");
    let e = a
        .err(&[("command", "destroyVirtualMachine"), ("id", &vm)], 431)
        .await;
    assert!(e.contains("delete protection"), "{e}");
    a.ok(&[
        ("command", "updateVirtualMachine"),
        ("id", &vm),
        ("deleteprotection", "false"),
    ])
    .await;
    let d = a
        .job(&[("command", "destroyVirtualMachine"), ("id", &vm)])
        .await;
    assert_eq!(d["jobstatus"], 1, "{d}");

    // updateVolume: renamed, protected, refused to delete until unprotected; others' no.
    let offering = s(&c.ok(&[("command", "listDiskOfferings")]).await["diskoffering"][0]["id"]);
    let v = a
        .job(&[
            ("command", "createVolume"),
            ("name", "data"),
            ("zoneid", &z.zone),
            ("diskofferingid", &offering),
        ])
        .await;
    let vol = s(&v["jobresult"]["volume"]["id"]);
    let u = a
        .ok(&[
            ("command", "updateVolume"),
            ("id", &vol),
            ("name", "data2"),
            ("deleteprotection", "true"),
        ])
        .await;
    assert_eq!(u["volume"]["name"], "data2", "{u}");
    assert_eq!(u["volume"]["deleteprotection"], true, "{u}");
    let e = a
        .err(&[("command", "deleteVolume"), ("id", &vol)], 431)
        .await;
    assert!(e.contains("delete protection"), "{e}");
    let r = b
        .call(&[("command", "updateVolume"), ("id", &vol), ("name", "x")])
        .await;
    assert!([431, 531].contains(&r.status), "{}", r.text);
    a.ok(&[
        ("command", "updateVolume"),
        ("id", &vol),
        ("deleteprotection", "false"),
    ])
    .await;
    a.ok(&[("command", "deleteVolume"), ("id", &vol)]).await;

    // Events: archived ones leave listEvents (archived=true shows them); deleted ones go;
    // another tenant's stay.
    let mine = a.ok(&[("command", "listEvents")]).await;
    let n = mine["count"].as_u64().unwrap_or(0);
    assert!(n >= 3, "{mine}");
    let theirs_before = b.ok(&[("command", "listEvents")]).await["count"].clone();
    a.err(&[("command", "archiveEvents")], 431).await;
    a.ok(&[("command", "archiveEvents"), ("type", "VOLUME.UPDATE")])
        .await;
    let after = a.ok(&[("command", "listEvents")]).await;
    let types: Vec<String> = names(&after, "event", "type");
    assert!(!types.contains(&"VOLUME.UPDATE".to_string()), "{types:?}");
    let archived = a
        .ok(&[("command", "listEvents"), ("archived", "true")])
        .await;
    assert!(
        names(&archived, "event", "type").contains(&"VOLUME.UPDATE".to_string()),
        "{archived}"
    );
    let ids: Vec<String> = after["event"]
        .as_array()
        .expect("events")
        .iter()
        .take(2)
        .map(|e| s(&e["id"]))
        .collect();
    a.ok(&[("command", "deleteEvents"), ("ids", &ids.join(","))])
        .await;
    let left = a.ok(&[("command", "listEvents")]).await;
    for id in &ids {
        assert!(!names(&left, "event", "id").contains(id), "{left}");
    }
    // b's events: untouched by a's archive of every type and date.
    a.ok(&[("command", "archiveEvents"), ("enddate", "2999-01-01")])
        .await;
    assert_eq!(
        b.ok(&[("command", "listEvents")]).await["count"],
        theirs_before
    );
    assert!(a.ok(&[("command", "listEvents")]).await["event"]
        .as_array()
        .map(|e| e.is_empty())
        .unwrap_or(true));
    ts.stop().await;
}
