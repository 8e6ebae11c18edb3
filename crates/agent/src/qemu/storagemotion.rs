//! Moving a volume between primary storage pools: a running VM's disk by a `blockdev-mirror`
//! job to a new standalone image (the guest keeps writing; once the copy is in step the job is
//! completed and the VM writes to the new file), a stopped one's by `qemu-img convert`.

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};
use uuid::Uuid;

use super::QemuDriver;

/// How long a mirror may take to catch up (a large disk under TCG).
const JOB_LIMIT: Duration = Duration::from_secs(3600);

impl QemuDriver {
    pub(super) async fn migrate_volume(
        &self,
        volume: Uuid,
        from_pool: &str,
        to_pool: &str,
        vm: Option<&str>,
    ) -> crate::HostResult<Value> {
        let src = Path::new(from_pool).join(format!("{volume}.qcow2"));
        let dest = Path::new(to_pool).join(format!("{volume}.qcow2"));
        let d = dest.display().to_string();
        if dest.exists() && !src.exists() {
            return Ok(json!({ "path": d }));
        }
        std::fs::create_dir_all(to_pool).map_err(|e| format!("creating {to_pool}: {e}"))?;
        let running = vm
            .filter(|v| self.pid(v).is_some())
            .map(str::to_string)
            .or_else(|| self.in_use(volume));
        let s = src.display().to_string();
        match running {
            Some(vm) => self.mirror(&vm, volume, &s, &dest).await?,
            None => {
                let part = dest.with_extension("part");
                let p = part.display().to_string();
                self.tool("qemu-img", &["convert", "-q", "-O", "qcow2", &s, &p])
                    .await?;
                self.give_to_qemu(&part)?;
                std::fs::rename(&part, &dest).map_err(|e| e.to_string())?;
            }
        }
        match std::fs::remove_file(&src) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("deleting {s}: {e}").into()),
        }
        Ok(json!({ "path": d }))
    }

    async fn mirror(
        &self,
        vm: &str,
        volume: Uuid,
        src: &str,
        dest: &Path,
    ) -> crate::HostResult<()> {
        let d = dest.display().to_string();
        let size = self.virtual_size(src).await?.to_string();
        let _ = std::fs::remove_file(dest);
        self.tool("qemu-img", &["create", "-q", "-f", "qcow2", &d, &size])
            .await?;
        self.give_to_qemu(dest)?;
        let mut q = self.qmp(vm).await?;
        let node = disk_node(&mut q, vm, volume).await?;
        let target = format!("mv{}", &volume.simple().to_string()[..20]);
        let job = format!("mirror-{volume}");
        let _ = q.execute("job-cancel", json!({"id": job})).await;
        let _ = q.execute("job-dismiss", json!({"id": job})).await;
        let _ = q
            .execute("blockdev-del", json!({"node-name": target}))
            .await;
        q.execute(
            "blockdev-add",
            json!({"driver": "qcow2", "node-name": target,
                   "file": {"driver": "file", "filename": d}}),
        )
        .await?;
        let started = q
            .execute(
                "blockdev-mirror",
                json!({"job-id": job, "device": node, "target": target, "sync": "full",
                       "auto-dismiss": false}),
            )
            .await;
        if let Err(e) = started {
            let _ = q
                .execute("blockdev-del", json!({"node-name": target}))
                .await;
            return Err(e);
        }
        let deadline = tokio::time::Instant::now() + JOB_LIMIT;
        let mut completing = false;
        while tokio::time::Instant::now() < deadline {
            let jobs = q.execute("query-jobs", Value::Null).await?;
            let Some(j) = jobs
                .as_array()
                .and_then(|a| a.iter().find(|j| j["id"].as_str() == Some(job.as_str())))
                .cloned()
            else {
                return Err(format!("the mirror job {job} vanished").into());
            };
            match j["status"].as_str() {
                // In step: the VM switches to the new file when the job completes.
                Some("ready") if !completing => {
                    q.execute("job-complete", json!({"id": job})).await?;
                    completing = true;
                }
                Some("concluded") => {
                    let _ = q.execute("job-dismiss", json!({"id": job})).await;
                    if let Some(e) = j["error"].as_str() {
                        let _ = q
                            .execute("blockdev-del", json!({"node-name": target}))
                            .await;
                        return Err(crate::HostError::Qmp(format!("the mirror failed: {e}")));
                    }
                    // The VM's disk is the new file from now on, also after a restart.
                    self.update_spec(vm, |s| {
                        for disk in s.disks.iter_mut().filter(|x| x.volume_id == volume) {
                            disk.path = d.clone();
                        }
                    });
                    return Ok(());
                }
                _ => {}
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = q.execute("job-cancel", json!({"id": job})).await;
        Err("the mirror did not finish within an hour".into())
    }
}

/// The block node of a VM's disk for `volume` (a boot-time `-drive` or a hot-plugged one).
pub(super) async fn disk_node(
    q: &mut crate::qmp::Qmp,
    vm: &str,
    volume: Uuid,
) -> crate::HostResult<String> {
    let blocks = q.execute("query-block", Value::Null).await?;
    let drive = format!("drive-{volume}");
    let hp = super::disks::hotplug_node(volume);
    blocks
        .as_array()
        .and_then(|a| {
            a.iter().find_map(|b| {
                let n = b["inserted"]["node-name"].as_str()?;
                (b["device"].as_str() == Some(drive.as_str()) || n == hp).then(|| n.to_string())
            })
        })
        .ok_or_else(|| format!("VM {vm} has no disk for volume {volume}").into())
}
