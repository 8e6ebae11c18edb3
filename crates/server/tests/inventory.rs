//! Inventory through the API, in the order Marvin's deployDataCenter builds a zone: zone →
//! physical network (+ traffic types, providers) → pod → cluster → enable. Disabled by
//! default, validation on enable, visibility for users, deletion only when empty.

mod common;

use common::*;
use serde_json::Value;

fn count(v: &Value) -> u64 {
    v["count"].as_u64().unwrap_or(0)
}

async fn job_ok(c: &Client, params: &[(&str, &str)]) -> Value {
    let j = c.job(params).await;
    assert_eq!(j["jobstatus"], 1, "{params:?}: {j}");
    j["jobresult"].clone()
}

#[tokio::test]
async fn zone_pod_cluster_physical_network_lifecycle() {
    let ts = TestServer::start().await;
    let c = &ts.admin;
    let (_, _, user) = account_with_keys(&ts, c, "zoneuser", None, "0").await;

    // createZone validation.
    c.err(
        &[
            ("command", "createZone"),
            ("networktype", "Advanced"),
            ("dns1", "8.8.8.8"),
            ("internaldns1", "10.0.0.1"),
        ],
        431,
    )
    .await;
    c.err(
        &[
            ("command", "createZone"),
            ("name", "z"),
            ("networktype", "Fancy"),
            ("dns1", "8.8.8.8"),
            ("internaldns1", "10.0.0.1"),
        ],
        431,
    )
    .await;
    c.err(
        &[
            ("command", "createZone"),
            ("name", "z"),
            ("networktype", "Advanced"),
            ("dns1", "8.8.8"),
            ("internaldns1", "10.0.0.1"),
        ],
        431,
    )
    .await;
    c.err(
        &[
            ("command", "createZone"),
            ("name", "z"),
            ("networktype", "Basic"),
            ("dns1", "8.8.8.8"),
            ("internaldns1", "10.0.0.1"),
            ("guestcidraddress", "10.1.1.0/24"),
        ],
        431,
    )
    .await;
    user.err(
        &[
            ("command", "createZone"),
            ("name", "z"),
            ("networktype", "Basic"),
            ("dns1", "8.8.8.8"),
            ("internaldns1", "10.0.0.1"),
        ],
        401,
    )
    .await;

    let z = c
        .ok(&[
            ("command", "createZone"),
            ("name", "Sandbox"),
            ("networktype", "advanced"),
            ("dns1", "8.8.8.8"),
            ("internaldns1", "10.0.0.1"),
            ("guestcidraddress", "10.1.1.0/24"),
            ("domain", "sandbox.example"),
        ])
        .await["zone"]
        .clone();
    assert_eq!(
        (
            z["allocationstate"].as_str(),
            z["networktype"].as_str(),
            z["securitygroupsenabled"].as_bool()
        ),
        (Some("Disabled"), Some("Advanced"), Some(false))
    );
    assert_eq!(z["domain"], "sandbox.example");
    let zid = z["id"].as_str().expect("id").to_string();
    c.err(
        &[
            ("command", "createZone"),
            ("name", "Sandbox"),
            ("networktype", "Advanced"),
            ("dns1", "8.8.8.8"),
            ("internaldns1", "10.0.0.1"),
        ],
        431,
    )
    .await;
    let b = c
        .ok(&[
            ("command", "createZone"),
            ("name", "BasicZone"),
            ("networktype", "Basic"),
            ("dns1", "8.8.8.8"),
            ("internaldns1", "10.0.0.1"),
        ])
        .await["zone"]
        .clone();
    assert_eq!(
        b["securitygroupsenabled"], true,
        "basic zones always use security groups"
    );

    // Users do not see Disabled zones; admins do.
    assert_eq!(count(&c.ok(&[("command", "listZones")]).await), 2);
    assert_eq!(
        user.ok(&[("command", "listZones")]).await,
        serde_json::json!({})
    );

    // Enabling needs physical networks with Guest, Management and (Advanced) Public traffic.
    let t = c
        .err(
            &[
                ("command", "updateZone"),
                ("id", &zid),
                ("allocationstate", "Enabled"),
            ],
            431,
        )
        .await;
    assert!(t.starts_with("Cannot enable this Zone since:"), "{t}");
    c.err(
        &[
            ("command", "createPhysicalNetwork"),
            ("name", "pn"),
            ("zoneid", &zid),
            ("isolationmethods", "GRE"),
        ],
        431,
    )
    .await;
    c.err(
        &[
            ("command", "createPhysicalNetwork"),
            ("name", "pn"),
            ("zoneid", &zid),
            ("isolationmethods", "VLAN"),
            ("vlan", "100-5000"),
        ],
        431,
    )
    .await;
    let r = c
        .ok(&[
            ("command", "createPhysicalNetwork"),
            ("name", "pn0"),
            ("zoneid", &zid),
            ("isolationmethods", "VXLAN"),
            ("vlan", "5000-6000,7000"),
        ])
        .await;
    let pnid = r["id"]
        .as_str()
        .expect("create-style async answers id")
        .to_string();
    let done = c.wait_job(r["jobid"].as_str().expect("jobid")).await;
    let pn = &done["jobresult"]["physicalnetwork"];
    assert_eq!(
        (
            pn["id"].as_str(),
            pn["isolationmethods"].as_str(),
            pn["vlan"].as_str(),
            pn["state"].as_str()
        ),
        (
            Some(pnid.as_str()),
            Some("VXLAN"),
            Some("5000-6000,7000"),
            Some("Disabled")
        )
    );
    for tt in ["Guest", "management"] {
        let r = job_ok(
            c,
            &[
                ("command", "addTrafficType"),
                ("physicalnetworkid", &pnid),
                ("traffictype", tt),
                ("kvmnetworklabel", "cloudbr0"),
            ],
        )
        .await;
        assert_eq!(r["traffictype"]["kvmnetworklabel"], "cloudbr0");
    }
    c.err(
        &[
            ("command", "addTrafficType"),
            ("physicalnetworkid", &pnid),
            ("traffictype", "Guest"),
        ],
        431,
    )
    .await;
    c.err(
        &[
            ("command", "addTrafficType"),
            ("physicalnetworkid", &pnid),
            ("traffictype", "Backplane"),
        ],
        431,
    )
    .await;
    let t = c
        .err(
            &[
                ("command", "updateZone"),
                ("id", &zid),
                ("allocationstate", "Enabled"),
            ],
            431,
        )
        .await;
    assert!(t.contains("Public"), "{t}");
    job_ok(
        c,
        &[
            ("command", "addTrafficType"),
            ("physicalnetworkid", &pnid),
            ("traffictype", "Public"),
        ],
    )
    .await;
    job_ok(
        c,
        &[
            ("command", "updatePhysicalNetwork"),
            ("id", &pnid),
            ("state", "Enabled"),
        ],
    )
    .await;

    // Providers come with the physical network; Marvin enables the virtual router.
    let provs = c
        .ok(&[
            ("command", "listNetworkServiceProviders"),
            ("physicalnetworkid", &pnid),
        ])
        .await;
    assert_eq!(count(&provs), 5);
    let vr = c
        .ok(&[
            ("command", "listNetworkServiceProviders"),
            ("physicalnetworkid", &pnid),
            ("name", "VirtualRouter"),
        ])
        .await;
    let nsp = vr["networkserviceprovider"][0]["id"]
        .as_str()
        .expect("nsp")
        .to_string();
    assert!(vr["networkserviceprovider"][0]["servicelist"]
        .as_array()
        .expect("services")
        .iter()
        .any(|s| s == "SourceNat"));
    let el = c
        .ok(&[("command", "listVirtualRouterElements"), ("nspid", &nsp)])
        .await;
    let elid = el["virtualrouterelement"][0]["id"]
        .as_str()
        .expect("element")
        .to_string();
    let r = job_ok(
        c,
        &[
            ("command", "configureVirtualRouterElement"),
            ("id", &elid),
            ("enabled", "true"),
        ],
    )
    .await;
    assert_eq!(r["virtualrouterelement"]["enabled"], true);
    let r = job_ok(
        c,
        &[
            ("command", "updateNetworkServiceProvider"),
            ("id", &nsp),
            ("state", "Enabled"),
        ],
    )
    .await;
    assert_eq!(r["networkserviceprovider"]["state"], "Enabled");
    assert_eq!(
        count(
            &c.ok(&[
                ("command", "listVirtualRouterElements"),
                ("enabled", "true")
            ])
            .await
        ),
        1
    );

    // InternalLbVm, as deployDataCenter configures it: its element first, then the provider
    // (enabling it before its element is refused, as CloudStack's isReady).
    let ilb = c
        .ok(&[
            ("command", "listNetworkServiceProviders"),
            ("physicalnetworkid", &pnid),
            ("name", "InternalLbVm"),
        ])
        .await;
    let ilb_nsp = ilb["networkserviceprovider"][0]["id"]
        .as_str()
        .expect("nsp")
        .to_string();
    let el = c
        .ok(&[
            ("command", "listInternalLoadBalancerElements"),
            ("nspid", &ilb_nsp),
        ])
        .await;
    assert_eq!(count(&el), 1, "{el}");
    assert_eq!(
        el["internalloadbalancerelement"][0]["enabled"], false,
        "{el}"
    );
    let ilb_el = el["internalloadbalancerelement"][0]["id"]
        .as_str()
        .expect("element")
        .to_string();
    let j = c
        .job(&[
            ("command", "updateNetworkServiceProvider"),
            ("id", &ilb_nsp),
            ("state", "Enabled"),
        ])
        .await;
    assert_eq!(j["jobstatus"], 2, "{j}");
    assert!(
        j["jobresult"]["errortext"]
            .as_str()
            .is_some_and(|t| t.contains("not ready")),
        "{j}"
    );
    let r = job_ok(
        c,
        &[
            ("command", "configureInternalLoadBalancerElement"),
            ("id", &ilb_el),
            ("enabled", "true"),
        ],
    )
    .await;
    assert_eq!(r["internalloadbalancerelement"]["enabled"], true, "{r}");
    let r = job_ok(
        c,
        &[
            ("command", "updateNetworkServiceProvider"),
            ("id", &ilb_nsp),
            ("state", "Enabled"),
        ],
    )
    .await;
    assert_eq!(r["networkserviceprovider"]["state"], "Enabled");
    // Not listed among the virtual router elements; one element per provider.
    let vre = c.ok(&[("command", "listVirtualRouterElements")]).await;
    assert!(!vre.to_string().contains(&ilb_el), "{vre}");
    c.err(
        &[
            ("command", "createInternalLoadBalancerElement"),
            ("nspid", &ilb_nsp),
        ],
        431,
    )
    .await;
    c.err(
        &[
            ("command", "createInternalLoadBalancerElement"),
            ("nspid", &nsp),
        ],
        431,
    )
    .await;

    // A provider deleted and added back (the Enabled one is refused first).
    c.err(
        &[
            ("command", "deleteNetworkServiceProvider"),
            ("id", &ilb_nsp),
        ],
        431,
    )
    .await;
    let cd = c
        .ok(&[
            ("command", "listNetworkServiceProviders"),
            ("physicalnetworkid", &pnid),
            ("name", "ConfigDrive"),
        ])
        .await["networkserviceprovider"][0]["id"]
        .as_str()
        .expect("ConfigDrive")
        .to_string();
    job_ok(
        c,
        &[("command", "deleteNetworkServiceProvider"), ("id", &cd)],
    )
    .await;
    let listed = |c: &Client| {
        let c = Client::new(&c.base, &c.key, &c.secret);
        let pnid = pnid.clone();
        async move {
            count(
                &c.ok(&[
                    ("command", "listNetworkServiceProviders"),
                    ("physicalnetworkid", &pnid),
                ])
                .await,
            )
        }
    };
    assert_eq!(listed(c).await, 4);
    let r = job_ok(
        c,
        &[
            ("command", "addNetworkServiceProvider"),
            ("name", "ConfigDrive"),
            ("physicalnetworkid", &pnid),
        ],
    )
    .await;
    assert_eq!(r["networkserviceprovider"]["state"], "Disabled", "{r}");
    assert_eq!(listed(c).await, 5);
    for name in ["ConfigDrive", "Netscaler"] {
        c.err(
            &[
                ("command", "addNetworkServiceProvider"),
                ("name", name),
                ("physicalnetworkid", &pnid),
            ],
            431,
        )
        .await;
    }

    // Pods: range inside the gateway's subnet, no overlap with other pods or the guest CIDR.
    c.err(
        &[
            ("command", "createPod"),
            ("name", "p"),
            ("zoneid", &zid),
            ("gateway", "172.16.15.1"),
            ("netmask", "255.255.255.0"),
            ("startip", "172.16.16.2"),
        ],
        431,
    )
    .await;
    c.err(
        &[
            ("command", "createPod"),
            ("name", "p"),
            ("zoneid", &zid),
            ("gateway", "10.1.1.1"),
            ("netmask", "255.255.255.0"),
            ("startip", "10.1.1.2"),
        ],
        431,
    )
    .await;
    c.err(
        &[
            ("command", "createPod"),
            ("name", "p"),
            ("zoneid", &zid),
            ("gateway", "172.16.15.1"),
            ("netmask", "255.0.255.0"),
            ("startip", "172.16.15.2"),
        ],
        431,
    )
    .await;
    let pod = c
        .ok(&[
            ("command", "createPod"),
            ("name", "POD0"),
            ("zoneid", &zid),
            ("gateway", "172.16.15.1"),
            ("netmask", "255.255.255.0"),
            ("startip", "172.16.15.2"),
            ("endip", "172.16.15.200"),
        ])
        .await["pod"]
        .clone();
    assert_eq!(
        (
            pod["allocationstate"].as_str(),
            pod["zonename"].as_str(),
            pod["startip"][0].as_str()
        ),
        (Some("Disabled"), Some("Sandbox"), Some("172.16.15.2"))
    );
    let podid = pod["id"].as_str().expect("id").to_string();
    c.err(
        &[
            ("command", "createPod"),
            ("name", "POD1"),
            ("zoneid", &zid),
            ("gateway", "172.16.15.129"),
            ("netmask", "255.255.255.128"),
            ("startip", "172.16.15.130"),
        ],
        431,
    )
    .await;
    c.err(
        &[("command", "createPod"), ("name", "POD0"), ("zoneid", &zid)],
        431,
    )
    .await;

    // Clusters: KVM or Simulator, a list envelope, Disabled by default.
    c.err(
        &[
            ("command", "addCluster"),
            ("clustername", "C0"),
            ("clustertype", "CloudManaged"),
            ("hypervisor", "VMware"),
            ("podid", &podid),
            ("zoneid", &zid),
        ],
        431,
    )
    .await;
    let bid = b["id"].as_str().expect("id").to_string();
    c.err(
        &[
            ("command", "addCluster"),
            ("clustername", "C0"),
            ("clustertype", "CloudManaged"),
            ("hypervisor", "KVM"),
            ("podid", &podid),
            ("zoneid", &bid),
        ],
        431,
    )
    .await;
    let cl = c
        .ok(&[
            ("command", "addCluster"),
            ("clustername", "C0"),
            ("clustertype", "CloudManaged"),
            ("hypervisor", "simulator"),
            ("podid", &podid),
            ("zoneid", &zid),
        ])
        .await;
    assert_eq!(count(&cl), 1);
    let cluster = &cl["cluster"][0];
    assert_eq!(
        (
            cluster["hypervisortype"].as_str(),
            cluster["allocationstate"].as_str(),
            cluster["podname"].as_str(),
            cluster["cpuovercommitratio"].as_str()
        ),
        (Some("Simulator"), Some("Disabled"), Some("POD0"), Some("1"))
    );
    let clid = cluster["id"].as_str().expect("id").to_string();
    c.err(
        &[
            ("command", "updateCluster"),
            ("id", &clid),
            ("hypervisor", "KVM"),
        ],
        431,
    )
    .await;
    let u = c
        .ok(&[
            ("command", "updateCluster"),
            ("id", &clid),
            ("allocationstate", "Enabled"),
        ])
        .await;
    assert_eq!(u["cluster"]["allocationstate"], "Enabled");
    assert_eq!(
        count(
            &c.ok(&[
                ("command", "listClusters"),
                ("zoneid", &zid),
                ("hypervisor", "Simulator")
            ])
            .await
        ),
        1
    );
    c.ok(&[
        ("command", "updatePod"),
        ("id", &podid),
        ("allocationstate", "Enabled"),
    ])
    .await;

    // Enable the zone; Storage traffic was added to mirror Management.
    let z = c
        .ok(&[
            ("command", "updateZone"),
            ("id", &zid),
            ("allocationstate", "Enabled"),
        ])
        .await;
    assert_eq!(z["zone"]["allocationstate"], "Enabled");
    let tts = c
        .ok(&[
            ("command", "listTrafficTypes"),
            ("physicalnetworkid", &pnid),
        ])
        .await;
    let mut kinds: Vec<&str> = tts["traffictype"]
        .as_array()
        .expect("tt")
        .iter()
        .filter_map(|t| t["traffictype"].as_str())
        .collect();
    kinds.sort();
    assert_eq!(kinds, vec!["Guest", "Management", "Public", "Storage"]);
    let seen = user.ok(&[("command", "listZones")]).await;
    assert_eq!(seen["zone"][0]["id"].as_str(), Some(zid.as_str()));
    assert_eq!(
        count(
            &c.ok(&[("command", "listZones"), ("available", "true")])
                .await
        ),
        1
    );

    // A zone dedicated to another domain is hidden from this user.
    let d = create_domain(c, "private", None).await;
    c.ok(&[
        ("command", "createZone"),
        ("name", "Dedicated"),
        ("networktype", "Basic"),
        ("dns1", "8.8.8.8"),
        ("internaldns1", "10.0.0.1"),
        ("domainid", &d),
        ("allocationstate", "Enabled"),
    ])
    .await;
    let seen = user.ok(&[("command", "listZones")]).await;
    assert_eq!(count(&seen), 1);

    // Deletion only when empty (CloudStack answers 530 for a zone or pod still in use).
    c.err(&[("command", "deleteZone"), ("id", &zid)], 530).await;
    c.err(&[("command", "deletePod"), ("id", &podid)], 530)
        .await;
    c.ok(&[("command", "deleteCluster"), ("id", &clid)]).await;
    c.ok(&[("command", "deletePod"), ("id", &podid)]).await;
    job_ok(c, &[("command", "deletePhysicalNetwork"), ("id", &pnid)]).await;
    assert_eq!(
        c.ok(&[
            ("command", "listNetworkServiceProviders"),
            ("physicalnetworkid", &pnid)
        ])
        .await,
        serde_json::json!({})
    );
    assert_eq!(
        c.ok(&[("command", "deleteZone"), ("id", &zid)]).await["success"],
        true
    );
    // Events: one per change; the async ones Scheduled + Completed, no duplicates.
    let ev = c
        .ok(&[
            ("command", "listEvents"),
            ("type", "PHYSICAL.NETWORK.CREATE"),
        ])
        .await;
    assert_eq!(count(&ev), 2, "{ev}");
    ts.stop().await;
}
