//! Offerings' I/O settings (CloudStack's disk and IOPS rates, bursts, cache mode): checked,
//! listed with CloudStack's field names, and given to the host with every disk of the
//! offering — the root disk by the VM's service offering, a data disk by its disk offering,
//! at start and when hot-plugged (the hosts turn them into QEMU block throttling).

mod common;

use common::*;
use serde_json::Value;

fn disks_on_hosts(z: &VmZone, instance: &str) -> Vec<proto::DiskSpec> {
    z.hosts
        .iter()
        .find_map(|(_, a)| {
            agent::simulator::sim_host(a)
                .vms
                .lock()
                .ok()?
                .get(instance)
                .map(|v| v.disks.clone())
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn offering_io_limits_reach_the_disks() {
    let ts = TestServer::start().await;
    let c = ts.admin.clone();
    let z = VmZone::new(&ts, 1).await;
    // Refusals.
    for (bad, why) in [
        (vec![("cachemode", "fast")], "cache mode"),
        (vec![("bytesreadrate", "0")], "positive"),
        (
            vec![("bytesreadrate", "1000"), ("bytesreadratemax", "10")],
            "greater than",
        ),
        (vec![("iopswriteratemaxlength", "5")], "needs"),
    ] {
        let mut p = vec![
            ("command", "createDiskOffering"),
            ("name", "bad"),
            ("disksize", "1"),
        ];
        p.extend(bad);
        let e = c.err(&p, 431).await;
        assert!(e.contains(why), "{e}");
    }
    let disk = c
        .ok(&[
            ("command", "createDiskOffering"),
            ("name", "slow"),
            ("disksize", "1"),
            ("bytesreadrate", "1048576"),
            ("bytesreadratemax", "4194304"),
            ("bytesreadratemaxlength", "2"),
            ("iopswriterate", "50"),
            ("cachemode", "None"),
        ])
        .await["diskoffering"]
        .clone();
    assert_eq!(disk["diskBytesReadRate"], 1048576, "{disk}");
    assert_eq!(disk["diskBytesReadRateMaxLength"], 2, "{disk}");
    assert_eq!(disk["diskIopsWriteRate"], 50, "{disk}");
    assert_eq!(disk["cacheMode"], "none", "{disk}");
    let l = c
        .ok(&[("command", "listDiskOfferings"), ("id", &s(&disk["id"]))])
        .await;
    assert_eq!(l["diskoffering"][0]["diskBytesReadRateMax"], 4194304, "{l}");
    let so = c
        .ok(&[
            ("command", "createServiceOffering"),
            ("name", "capped"),
            ("displaytext", "capped"),
            ("cpunumber", "1"),
            ("cpuspeed", "500"),
            ("memory", "256"),
            ("iopsreadrate", "200"),
            ("cachemode", "writethrough"),
        ])
        .await["serviceoffering"]
        .clone();
    assert_eq!(so["diskIopsReadRate"], 200, "{so}");
    assert_eq!(so["cacheMode"], "writethrough", "{so}");
    // A VM of that offering, with a data disk of the slow one: both reach its host.
    let j = c
        .job(&[
            ("command", "deployVirtualMachine"),
            ("zoneid", &z.zone),
            ("templateid", &z.template),
            ("serviceofferingid", &s(&so["id"])),
            ("diskofferingid", &s(&disk["id"])),
            ("name", "capped-vm"),
        ])
        .await;
    let vm: Value = j["jobresult"]["virtualmachine"].clone();
    assert_eq!(vm["state"], "Running", "{j}");
    let disks = disks_on_hosts(&z, &s(&vm["instancename"]));
    assert_eq!(disks.len(), 2, "{disks:?}");
    let root = disks.iter().find(|d| d.device_id == 0).expect("root");
    assert_eq!(root.cache.as_deref(), Some("writethrough"));
    assert_eq!(root.limits.as_ref().and_then(|l| l.iops_read), Some(200));
    let data = disks.iter().find(|d| d.device_id != 0).expect("data");
    assert_eq!(data.cache.as_deref(), Some("none"));
    let l = data.limits.clone().expect("limits");
    assert_eq!(
        (
            l.bytes_read,
            l.bytes_read_max,
            l.bytes_read_max_length,
            l.iops_write
        ),
        (Some(1 << 20), Some(4 << 20), Some(2), Some(50))
    );
    // Hot-plugged: the same.
    let vol = s(&c
        .job(&[
            ("command", "createVolume"),
            ("zoneid", &z.zone),
            ("diskofferingid", &s(&disk["id"])),
            ("name", "hot"),
        ])
        .await["jobresult"]["volume"]["id"]);
    let j = c
        .job(&[
            ("command", "attachVolume"),
            ("id", &vol),
            ("virtualmachineid", &s(&vm["id"])),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let disks = disks_on_hosts(&z, &s(&vm["instancename"]));
    let hot = disks
        .iter()
        .find(|d| d.volume_id.to_string() == vol)
        .expect("hot-plugged");
    assert_eq!(
        hot.limits.as_ref().and_then(|l| l.bytes_read),
        Some(1 << 20)
    );
    ts.stop().await;
}
