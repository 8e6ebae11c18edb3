//! Volume snapshots on a real host: a point-in-time standalone copy on the pool
//! (`POOL/snapshots/<id>.qcow2`) — by a `blockdev-backup` job while the VM runs (the
//! guest's file systems frozen by its agent while the job starts, when it has one), by
//! `qemu-img convert` otherwise —, sent to the image store, reverted, and volumes exported.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};
use uuid::Uuid;

use super::guest::QGA_SOCKET;
use super::QemuDriver;
use crate::qga::Qga;

/// How long a backup job may run (a large disk under TCG copies slowly).
const JOB_LIMIT: Duration = Duration::from_secs(3600);

fn snap_dir(pool: &str) -> PathBuf {
    Path::new(pool).join("snapshots")
}

fn snap_file(pool: &str, id: Uuid) -> PathBuf {
    snap_dir(pool).join(format!("{id}.qcow2"))
}

fn vol_file(pool: &str, id: Uuid) -> PathBuf {
    Path::new(pool).join(format!("{id}.qcow2"))
}

fn size_of(p: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(p).map(|m| m.blocks() * 512).unwrap_or(0)
}

impl QemuDriver {
    pub(super) async fn snapshot_volume(
        &self,
        pool: &str,
        volume: Uuid,
        snapshot: Uuid,
        vm: Option<&str>,
    ) -> crate::HostResult<Value> {
        let dest = snap_file(pool, snapshot);
        let d = dest.display().to_string();
        let src = vol_file(pool, volume);
        let s = src.display().to_string();
        if !dest.exists() {
            std::fs::create_dir_all(snap_dir(pool))
                .map_err(|e| format!("creating {}: {e}", snap_dir(pool).display()))?;
            let part = dest.with_extension("part");
            let _ = std::fs::remove_file(&part);
            let running = vm
                .filter(|v| self.pid(v).is_some())
                .map(str::to_string)
                .or_else(|| self.in_use(volume));
            match running {
                Some(vm) => self.backup_live(&vm, volume, &s, &part).await?,
                None => {
                    let p = part.display().to_string();
                    self.tool("qemu-img", &["convert", "-q", "-O", "qcow2", &s, &p])
                        .await?;
                }
            }
            std::fs::rename(&part, &dest).map_err(|e| e.to_string())?;
        }
        let size = self.virtual_size(&d).await?;
        Ok(json!({"size": size, "physical": size_of(&dest)}))
    }

    /// Copies a running VM's disk as it is at this moment (`blockdev-backup`, sync full, to a
    /// new standalone image): writes after the job starts are copied-before-write, so the
    /// copy is the disk at the job's start.
    async fn backup_live(
        &self,
        vm: &str,
        volume: Uuid,
        src: &str,
        part: &Path,
    ) -> crate::HostResult<()> {
        let p = part.display().to_string();
        let size = self.virtual_size(src).await?.to_string();
        self.tool("qemu-img", &["create", "-q", "-f", "qcow2", &p, &size])
            .await?;
        self.give_to_qemu(part)?;
        let mut q = self.qmp(vm).await?;
        let node = source_node(&q.execute("query-block", Value::Null).await?, volume)
            .ok_or_else(|| format!("VM {vm} has no disk for volume {volume}"))?;
        let target = format!("bk{}", &volume.simple().to_string()[..20]);
        let job = format!("backup-{volume}");
        // Leftovers of an interrupted attempt.
        let _ = q.execute("job-cancel", json!({"id": job})).await;
        let _ = q.execute("job-dismiss", json!({"id": job})).await;
        let _ = q
            .execute("blockdev-del", json!({"node-name": target}))
            .await;
        q.execute(
            "blockdev-add",
            json!({"driver": "qcow2", "node-name": target,
                   "file": {"driver": "file", "filename": p}}),
        )
        .await?;
        // The guest's file systems are frozen while the job starts (the copy's moment), when
        // the guest runs an agent; without one the copy is crash-consistent.
        let mut agent = Qga::connect(&self.vm_dir(vm).join(QGA_SOCKET), Duration::from_secs(2))
            .await
            .ok();
        let mut frozen = false;
        if let Some(a) = agent.as_mut() {
            frozen = a
                .call(
                    "guest-fsfreeze-freeze",
                    Value::Null,
                    Duration::from_secs(10),
                )
                .await
                .is_ok();
        }
        let started = q
            .execute(
                "blockdev-backup",
                json!({"job-id": job, "device": node, "target": target, "sync": "full",
                       "auto-dismiss": false}),
            )
            .await;
        if frozen {
            if let Some(a) = agent.as_mut() {
                let _ = a
                    .call("guest-fsfreeze-thaw", Value::Null, Duration::from_secs(10))
                    .await;
            }
        }
        let outcome = match started {
            Ok(_) => wait_job(&mut q, &job).await,
            Err(e) => Err(e),
        };
        let _ = q.execute("job-dismiss", json!({"id": job})).await;
        let _ = q
            .execute("blockdev-del", json!({"node-name": target}))
            .await;
        outcome
    }

    pub(super) async fn backup_snapshot(
        &self,
        pool: &str,
        snapshot: Uuid,
    ) -> crate::HostResult<Value> {
        let f = snap_file(pool, snapshot);
        if !f.exists() {
            return Err(crate::HostError::Refused(format!(
                "snapshot {snapshot} has no copy on {pool}"
            )));
        }
        let stored = self.images.upload("snapshot", snapshot, &f).await?;
        let _ = std::fs::remove_file(&f);
        Ok(json!({"stored": stored}))
    }

    pub(super) fn delete_snapshot_copy(
        &self,
        pool: &str,
        snapshot: Uuid,
    ) -> crate::HostResult<Value> {
        for f in [
            snap_file(pool, snapshot),
            snap_file(pool, snapshot).with_extension("part"),
        ] {
            match std::fs::remove_file(&f) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(format!("deleting {}: {e}", f.display()).into()),
            }
        }
        Ok(json!({}))
    }

    pub(super) async fn revert_volume(
        &self,
        pool: &str,
        volume: Uuid,
        snapshot: Uuid,
    ) -> crate::HostResult<Value> {
        if let Some(vm) = self.in_use(volume) {
            return Err(crate::HostError::Refused(format!(
                "volume {volume} is in use by running VM {vm}"
            )));
        }
        let dest = vol_file(pool, volume);
        let tmp = dest.with_extension("revert");
        self.images.fetch_snapshot(snapshot, &tmp).await?;
        self.give_to_qemu(&tmp)?;
        std::fs::rename(&tmp, &dest).map_err(|e| e.to_string())?;
        let size = self.virtual_size(&dest.display().to_string()).await?;
        Ok(json!({"size": size}))
    }

    pub(super) async fn upload_volume(
        &self,
        pool: &str,
        volume: Uuid,
        kind: &str,
        id: Uuid,
    ) -> crate::HostResult<Value> {
        if let Some(vm) = self.in_use(volume) {
            return Err(crate::HostError::Refused(format!(
                "volume {volume} is in use by running VM {vm}: stop it first"
            )));
        }
        let src = vol_file(pool, volume).display().to_string();
        let dir = Path::new(pool).join("exports");
        std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        let out = dir.join(format!("{id}.qcow2"));
        let o = out.display().to_string();
        let r = async {
            self.tool("qemu-img", &["convert", "-q", "-O", "qcow2", &src, &o])
                .await?;
            self.images.upload(kind, id, &out).await
        }
        .await;
        let _ = std::fs::remove_file(&out);
        Ok(json!({"stored": r?}))
    }
}

/// The block node of a VM's disk for `volume`: a disk it started with is the drive
/// `drive-<volume>`, a hot-plugged one the node [`super::disks::hotplug_node`].
fn source_node(blocks: &Value, volume: Uuid) -> Option<String> {
    let drive = format!("drive-{volume}");
    let hp = super::disks::hotplug_node(volume);
    blocks.as_array()?.iter().find_map(|b| {
        let node = b["inserted"]["node-name"].as_str()?;
        (b["device"].as_str() == Some(drive.as_str()) || node == hp).then(|| node.to_string())
    })
}

/// Waits (bounded) for a job to conclude; its error, if it failed.
async fn wait_job(q: &mut crate::qmp::Qmp, job: &str) -> crate::HostResult<()> {
    let deadline = tokio::time::Instant::now() + JOB_LIMIT;
    while tokio::time::Instant::now() < deadline {
        let jobs = q.execute("query-jobs", Value::Null).await?;
        let Some(j) = jobs
            .as_array()
            .and_then(|a| a.iter().find(|j| j["id"].as_str() == Some(job)))
        else {
            return Err(format!("the backup job {job} vanished").into());
        };
        if j["status"].as_str() == Some("concluded") {
            return match j["error"].as_str() {
                Some(e) => Err(crate::HostError::Qmp(format!("the backup failed: {e}"))),
                None => Ok(()),
            };
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = q.execute("job-cancel", json!({"id": job})).await;
    Err("the backup job did not finish within an hour".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_source_node_is_found_by_drive_or_hotplug_name() {
        let v = Uuid::new_v4();
        let blocks = json!([
            {"device": "drive-config", "inserted": {"node-name": "#block1"}},
            {"device": format!("drive-{v}"), "inserted": {"node-name": "#block2"}},
        ]);
        assert_eq!(source_node(&blocks, v).as_deref(), Some("#block2"));
        let hp = super::super::disks::hotplug_node(v);
        let blocks = json!([{"device": "", "inserted": {"node-name": hp}}]);
        assert_eq!(source_node(&blocks, v), Some(hp));
        assert_eq!(source_node(&json!([]), v), None);
    }
}
