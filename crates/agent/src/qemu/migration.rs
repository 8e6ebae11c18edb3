//! Live migration. The source sends the VM's memory and device state with QMP `migrate` to
//! the destination's `-incoming` QEMU. With storage (the VM's disks move to the
//! destination's pools too), as libvirt does it without shared storage: the destination
//! creates the moved disks empty and exports them writable over NBD; the source mirrors each
//! disk into its export (`blockdev-mirror`, sync=full, `copy-mode=write-blocking`: once in
//! step, every guest write reaches both), migrates with `pause-before-switchover`, and at
//! that pause — the guest stopped — cancels the in-step mirrors (a READY mirror cancelled
//! completes as a consistent copy, without pivoting the source) before letting the switch-over
//! go on. The destination's exports end with `EndDiskExport`.

use std::path::Path;
use std::time::Duration;

use proto::StorageMove;
use serde_json::{json, Value};
use uuid::Uuid;

use super::storagemotion::disk_node;
use super::{stop_pid_async, QemuDriver};
use crate::qmp::Qmp;

/// How long the mirrors may take to get in step, and the memory transfer to finish.
const MIRROR_LIMIT: Duration = Duration::from_secs(3600);
const MIGRATE_LIMIT: Duration = Duration::from_secs(600);

fn job_id(volume: Uuid) -> String {
    format!("smig-{volume}")
}

fn nbd_node(volume: Uuid) -> String {
    format!("nbd{}", &volume.simple().to_string()[..20])
}

impl QemuDriver {
    /// Destination: the moved disks as empty images of their virtual size (kept when there:
    /// a resumed prepare).
    pub(super) async fn create_targets(&self, moves: &[StorageMove]) -> crate::HostResult<()> {
        for m in moves {
            let p = Path::new(&m.path);
            if p.exists() {
                continue;
            }
            if let Some(dir) = p.parent() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| format!("creating {}: {e}", dir.display()))?;
            }
            let part = p.with_extension("part");
            let (pp, size) = (part.display().to_string(), m.size_bytes.to_string());
            self.tool("qemu-img", &["create", "-q", "-f", "qcow2", &pp, &size])
                .await?;
            self.give_to_qemu(&part)?;
            std::fs::rename(&part, p).map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Destination: exports the moved disks writable over NBD on this host's address.
    pub(super) async fn export_disks(
        &self,
        name: &str,
        moves: &[StorageMove],
    ) -> crate::HostResult<()> {
        let mut q = self.qmp(name).await?;
        let port = proto::nbd_port(name).to_string();
        if let Err(e) = q
            .execute(
                "nbd-server-start",
                json!({"addr": {"type": "inet", "data": {"host": self.address, "port": port}}}),
            )
            .await
        {
            if !e.to_string().contains("already") {
                return Err(e);
            }
        }
        for m in moves {
            let node = disk_node(&mut q, name, m.volume_id).await?;
            let added = q
                .execute(
                    "block-export-add",
                    json!({"type": "nbd", "id": format!("exp-{}", m.volume_id),
                           "node-name": node, "writable": true,
                           "name": m.volume_id.to_string()}),
                )
                .await;
            if let Err(e) = added {
                if !e.to_string().contains("already") {
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// A running VM's disks' virtual sizes (QMP `query-block`).
    pub(super) async fn disk_sizes(&self, vm: &str, volumes: &[Uuid]) -> crate::HostResult<Value> {
        if self.pid(vm).is_none() {
            return Err(crate::HostError::VmNotHere(vm.to_string()));
        }
        let mut q = self.qmp(vm).await?;
        let blocks = q.execute("query-block", Value::Null).await?;
        let mut sizes = serde_json::Map::new();
        for v in volumes {
            let drive = format!("drive-{v}");
            let hp = super::disks::hotplug_node(*v);
            let size = blocks.as_array().and_then(|a| {
                a.iter().find_map(|b| {
                    let n = b["inserted"]["node-name"].as_str()?;
                    (b["device"].as_str() == Some(drive.as_str()) || n == hp)
                        .then(|| b["inserted"]["image"]["virtual-size"].as_u64())
                        .flatten()
                })
            });
            let size = size.ok_or_else(|| format!("VM {vm} has no disk for volume {v}"))?;
            sizes.insert(v.to_string(), json!(size));
        }
        Ok(json!({ "sizes": sizes }))
    }

    /// Destination, after the transfer: no more NBD server for the VM's disks.
    pub(super) async fn end_disk_export(&self, name: &str) -> crate::HostResult<Value> {
        if self.pid(name).is_none() {
            return Ok(json!({}));
        }
        let mut q = self.qmp(name).await?;
        if let Ok(exports) = q.execute("query-block-exports", Value::Null).await {
            for e in exports.as_array().into_iter().flatten() {
                if let Some(id) = e["id"].as_str().filter(|i| i.starts_with("exp-")) {
                    let _ = q
                        .execute("block-export-del", json!({"id": id, "mode": "hard"}))
                        .await;
                }
            }
        }
        let _ = q.execute("nbd-server-stop", Value::Null).await;
        Ok(json!({}))
    }

    pub(super) async fn migrate(
        &self,
        name: &str,
        dest: &str,
        storage: &[Uuid],
    ) -> crate::HostResult<Value> {
        if self.pid(name).is_none() {
            return Ok(json!({"state": "Migrated"}));
        }
        let _busy = self.busy(name);
        let mut q = self.qmp(name).await?;
        if !storage.is_empty() {
            if let Err(e) = self.mirror_out(&mut q, name, dest, storage).await {
                drop_mirrors(&mut q, storage).await;
                return Err(e);
            }
        }
        let res = self.transfer(&mut q, name, dest, storage).await;
        if res.is_err() {
            drop_mirrors(&mut q, storage).await;
            let _ = q
                .execute(
                    "migrate-set-capabilities",
                    json!({"capabilities": [{"capability": "pause-before-switchover", "state": false}]}),
                )
                .await;
        }
        res
    }

    /// Source: every moved disk mirrored into the destination's export, all in step.
    async fn mirror_out(
        &self,
        q: &mut Qmp,
        name: &str,
        dest: &str,
        storage: &[Uuid],
    ) -> crate::HostResult<()> {
        let port = proto::nbd_port(name).to_string();
        for v in storage {
            let node = disk_node(q, name, *v).await?;
            let (job, target) = (job_id(*v), nbd_node(*v));
            let _ = q.execute("job-cancel", json!({"id": job})).await;
            let _ = q.execute("job-dismiss", json!({"id": job})).await;
            let _ = q
                .execute("blockdev-del", json!({"node-name": target}))
                .await;
            q.execute(
                "blockdev-add",
                json!({"driver": "nbd", "node-name": target,
                       "server": {"type": "inet", "host": dest, "port": port},
                       "export": v.to_string()}),
            )
            .await?;
            q.execute(
                "blockdev-mirror",
                json!({"job-id": job, "device": node, "target": target, "sync": "full",
                       "copy-mode": "write-blocking", "auto-dismiss": false}),
            )
            .await?;
        }
        let deadline = tokio::time::Instant::now() + MIRROR_LIMIT;
        while tokio::time::Instant::now() < deadline {
            let jobs = q.execute("query-jobs", Value::Null).await?;
            let mut ready = 0;
            for v in storage {
                let id = job_id(*v);
                let Some(j) = jobs
                    .as_array()
                    .and_then(|a| a.iter().find(|j| j["id"].as_str() == Some(id.as_str())))
                else {
                    return Err(format!("the mirror job {id} vanished").into());
                };
                match j["status"].as_str() {
                    Some("ready") => ready += 1,
                    Some("concluded") | Some("aborting") | Some("null") => {
                        return Err(crate::HostError::Qmp(format!(
                            "the mirror of volume {v} to {dest} failed: {}",
                            j["error"].as_str().unwrap_or("no reason given")
                        )))
                    }
                    _ => {}
                }
            }
            if ready == storage.len() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err("the disks did not get in step with the destination within an hour".into())
    }

    /// Source: the memory transfer; with storage, the mirrors are settled at the
    /// pre-switchover pause.
    async fn transfer(
        &self,
        q: &mut Qmp,
        name: &str,
        dest: &str,
        storage: &[Uuid],
    ) -> crate::HostResult<Value> {
        // Set on every migration: a capability left on by an earlier attempt would pause this
        // one too (the pause is handled below either way).
        q.execute(
            "migrate-set-capabilities",
            json!({"capabilities": [{"capability": "pause-before-switchover",
                                     "state": !storage.is_empty()}]}),
        )
        .await?;
        let port = proto::migration_port(name);
        q.execute("migrate", json!({"uri": format!("tcp:{dest}:{port}")}))
            .await?;
        let deadline = tokio::time::Instant::now() + MIGRATE_LIMIT;
        let mut continued = false;
        while tokio::time::Instant::now() < deadline {
            let st = q.execute("query-migrate", Value::Null).await?;
            match st["status"].as_str().unwrap_or_default() {
                "pre-switchover" if !continued => {
                    settle_mirrors(q, storage).await?;
                    q.execute("migrate-continue", json!({"state": "pre-switchover"}))
                        .await?;
                    continued = true;
                }
                "completed" => {
                    let _ = q.execute("quit", Value::Null).await;
                    let pid = self.pid(name);
                    if !self.wait_gone(name, Duration::from_secs(5)).await {
                        if let Some(p) = pid {
                            stop_pid_async(p).await;
                        }
                    }
                    if let Some(s) = self.spec_of(name) {
                        self.remove_taps(&s);
                    }
                    let _ = std::fs::remove_file(self.vm_dir(name).join("spec.json"));
                    return Ok(json!({"state": "Migrated"}));
                }
                "failed" | "cancelled" => {
                    return Err(crate::HostError::Failed(format!(
                        "the migration failed: {}",
                        st["error-desc"].as_str().unwrap_or("no reason given")
                    )))
                }
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        let _ = q.execute("migrate_cancel", Value::Null).await;
        Err("the migration did not finish within 10 minutes; cancelled".into())
    }
}

/// At the switch-over pause (guest stopped): each in-step mirror cancelled, which completes
/// it as a consistent copy on the destination; then the NBD clients go.
async fn settle_mirrors(q: &mut Qmp, storage: &[Uuid]) -> crate::HostResult<()> {
    for v in storage {
        let job = job_id(*v);
        q.execute("block-job-cancel", json!({"device": job, "force": false}))
            .await?;
    }
    for _ in 0..600 {
        let jobs = q.execute("query-jobs", Value::Null).await?;
        let pending: Vec<&Value> = jobs
            .as_array()
            .into_iter()
            .flatten()
            .filter(|j| {
                j["id"]
                    .as_str()
                    .is_some_and(|i| storage.iter().any(|v| job_id(*v) == i))
            })
            .collect();
        if let Some(j) = pending.iter().find(|j| j["status"] == "concluded") {
            if let Some(e) = j["error"].as_str() {
                return Err(crate::HostError::Qmp(format!(
                    "a disk mirror failed at the switch-over: {e}"
                )));
            }
        }
        if pending.iter().all(|j| j["status"] == "concluded") {
            for j in pending {
                if let Some(id) = j["id"].as_str() {
                    let _ = q.execute("job-dismiss", json!({"id": id})).await;
                }
            }
            for v in storage {
                let _ = q
                    .execute("blockdev-del", json!({"node-name": nbd_node(*v)}))
                    .await;
            }
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err("the disk mirrors did not settle within a minute at the switch-over".into())
}

/// After a failure: the mirrors and their NBD clients gone; the VM keeps its own disks.
async fn drop_mirrors(q: &mut Qmp, storage: &[Uuid]) {
    for v in storage {
        let job = job_id(*v);
        let _ = q
            .execute("block-job-cancel", json!({"device": job, "force": true}))
            .await;
    }
    for _ in 0..50 {
        let Ok(jobs) = q.execute("query-jobs", Value::Null).await else {
            break;
        };
        let open = jobs.as_array().into_iter().flatten().any(|j| {
            j["id"]
                .as_str()
                .is_some_and(|i| storage.iter().any(|v| job_id(*v) == i))
                && j["status"] != "concluded"
        });
        if !open {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for v in storage {
        let _ = q.execute("job-dismiss", json!({"id": job_id(*v)})).await;
        let _ = q
            .execute("blockdev-del", json!({"node-name": nbd_node(*v)}))
            .await;
    }
}
