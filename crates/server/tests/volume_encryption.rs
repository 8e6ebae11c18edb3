//! Volume encryption through the API on simulated hosts: offerings that ask for it
//! (`encryptroot`, `encrypt`) and the list filters by it; a VM's root volume and a data volume
//! made encrypted (`encryptformat` LUKS) with a key the VM's host is given and the API never
//! shows; what Canopy does not do to encrypted volumes refused with 431. The encryption itself
//! (LUKS in qcow2, a guest writing through it) is tested on real hosts.

mod common;

use common::*;

/// The disks (volume id → whether it carries a key) `instance` was started with.
fn keys_of(z: &VmZone, instance: &str) -> Vec<(String, bool)> {
    for (_, a) in &z.hosts {
        let h = agent::simulator::sim_host(a);
        let vms = h.vms.lock().expect("vms");
        if let Some(v) = vms.get(instance) {
            return v
                .disks
                .iter()
                .map(|d| (d.volume_id.to_string(), d.secret.is_some()))
                .collect();
        }
    }
    Vec::new()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn encrypted_volumes() {
    let ts = TestServer::start().await;
    let admin = &ts.admin;
    let z = VmZone::new(&ts, 1).await;
    let (_, _, fay) = account_with_keys(&ts, admin, "efay", None, "0").await;

    let enc_so = s(&admin
        .ok(&[
            ("command", "createServiceOffering"),
            ("name", "enc-small"),
            ("displaytext", "enc-small"),
            ("cpunumber", "1"),
            ("cpuspeed", "100"),
            ("memory", "64"),
            ("encryptroot", "true"),
        ])
        .await["serviceoffering"]["id"]);
    let enc_do = admin
        .ok(&[
            ("command", "createDiskOffering"),
            ("name", "enc-1g"),
            ("displaytext", "enc-1g"),
            ("disksize", "1"),
            ("encrypt", "true"),
        ])
        .await;
    assert_eq!(enc_do["diskoffering"]["encrypt"], true, "{enc_do}");
    let enc_do = s(&enc_do["diskoffering"]["id"]);

    // The list filters.
    let l = fay
        .ok(&[("command", "listServiceOfferings"), ("encryptroot", "true")])
        .await;
    let ids: Vec<String> = l["serviceoffering"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|o| s(&o["id"]))
        .collect();
    assert_eq!(ids, vec![enc_so.clone()], "{l}");
    assert_eq!(l["serviceoffering"][0]["encryptroot"], true);
    let l = fay
        .ok(&[
            ("command", "listServiceOfferings"),
            ("encryptroot", "false"),
        ])
        .await;
    assert!(
        l["serviceoffering"]
            .as_array()
            .is_some_and(|a| !a.is_empty() && a.iter().all(|o| o["encryptroot"] == false)),
        "{l}"
    );
    let l = fay
        .ok(&[("command", "listDiskOfferings"), ("encrypt", "true")])
        .await;
    assert_eq!(l["count"], 1, "{l}");
    assert_eq!(l["diskoffering"][0]["id"], enc_do.as_str());

    // A VM on the encryptroot offering: its root volume is encrypted, its host got the key.
    let j = fay
        .job(&[
            ("command", "deployVirtualMachine"),
            ("zoneid", &z.zone),
            ("templateid", &z.template),
            ("serviceofferingid", &enc_so),
            ("name", "encvm"),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let vm = &j["jobresult"]["virtualmachine"];
    let vm_id = s(&vm["id"]);
    let instance = s(&admin
        .ok(&[
            ("command", "listVirtualMachines"),
            ("id", &vm_id),
            ("listall", "true"),
        ])
        .await["virtualmachine"][0]["instancename"]);
    let root = fay
        .ok(&[
            ("command", "listVolumes"),
            ("virtualmachineid", &vm_id),
            ("type", "ROOT"),
        ])
        .await["volume"][0]
        .clone();
    assert_eq!(root["encryptformat"], "LUKS", "{root}");
    let root_id = s(&root["id"]);
    assert_eq!(keys_of(&z, &instance), vec![(root_id.clone(), true)]);

    // A data volume of the encrypt offering, attached: encrypted too; a plain VM's is not.
    let j = fay
        .job(&[
            ("command", "createVolume"),
            ("name", "encdata"),
            ("zoneid", &z.zone),
            ("diskofferingid", &enc_do),
        ])
        .await;
    let data = s(&j["jobresult"]["volume"]["id"]);
    let j = fay
        .job(&[
            ("command", "attachVolume"),
            ("id", &data),
            ("virtualmachineid", &vm_id),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    assert_eq!(j["jobresult"]["volume"]["encryptformat"], "LUKS", "{j}");
    let plain = deploy_vm(&fay, &z, "plainvm", &[]).await;
    let plain_root = fay
        .ok(&[
            ("command", "listVolumes"),
            ("virtualmachineid", &s(&plain["id"])),
        ])
        .await["volume"][0]
        .clone();
    assert!(plain_root.get("encryptformat").is_none(), "{plain_root}");

    // The key is the host's to know, not the API's.
    let listed = fay
        .ok(&[("command", "listVolumes"), ("id", &root_id)])
        .await;
    let text = listed.to_string();
    assert!(!text.contains("passphrase"), "{text}");

    // Not for encrypted volumes.
    for (params, why) in [
        (
            vec![
                ("command", "createSnapshot"),
                ("volumeid", root_id.as_str()),
            ],
            "snapshot",
        ),
        (
            vec![
                ("command", "resizeVolume"),
                ("id", data.as_str()),
                ("size", "2"),
            ],
            "Resizing",
        ),
        (
            vec![
                ("command", "createVMSnapshot"),
                ("virtualmachineid", vm_id.as_str()),
            ],
            "VM snapshot",
        ),
        (
            vec![
                ("command", "extractVolume"),
                ("id", data.as_str()),
                ("mode", "HTTP_DOWNLOAD"),
                ("zoneid", z.zone.as_str()),
            ],
            "Extraction",
        ),
    ] {
        let e = fay.err(&params, 431).await;
        assert!(
            e.contains(why) && e.contains("encrypted"),
            "{params:?}: {e}"
        );
    }
    let e: String = fay
        .err(
            &[
                ("command", "getUploadParamsForVolume"),
                ("name", "up"),
                ("zoneid", &z.zone),
                ("format", "QCOW2"),
                ("diskofferingid", &enc_do),
            ],
            431,
        )
        .await;
    assert!(e.contains("encrypt"), "{e}");
}
