//! VM snapshots on a real host: internal qcow2 snapshots named `tag` in every disk of the VM,
//! with the guest's memory in the root disk when taken with it. A running VM is snapshotted,
//! reverted and cleaned through QMP's snapshot jobs (`snapshot-save`, `snapshot-load`,
//! `snapshot-delete`) or `blockdev-snapshot-internal-sync` (disks only); a stopped one's disks
//! through `qemu-img snapshot`.

use std::time::Duration;

use proto::DiskSpec;
use serde_json::{json, Value};

use super::QemuDriver;

/// How long a snapshot job may run (the memory of a large guest is written under TCG).
const JOB_LIMIT: Duration = Duration::from_secs(1800);

/// The block node of each disk (see `snapshots::source_node`) and whether it has `tag`.
fn nodes(blocks: &Value, disks: &[DiskSpec], tag: &str) -> crate::HostResult<Vec<(String, bool)>> {
    disks
        .iter()
        .map(|d| {
            let drive = format!("drive-{}", d.volume_id);
            let hp = super::disks::hotplug_node(d.volume_id);
            blocks
                .as_array()
                .and_then(|a| {
                    a.iter().find_map(|b| {
                        let node = b["inserted"]["node-name"].as_str()?;
                        if b["device"].as_str() != Some(drive.as_str()) && node != hp {
                            return None;
                        }
                        let has = b["inserted"]["image"]["snapshots"]
                            .as_array()
                            .map(|s| s.iter().any(|x| x["name"].as_str() == Some(tag)))
                            .unwrap_or(false);
                        Some((node.to_string(), has))
                    })
                })
                .ok_or_else(|| format!("the VM has no disk for volume {}", d.volume_id).into())
        })
        .collect()
}

impl QemuDriver {
    async fn disk_tags(&self, path: &str) -> crate::HostResult<Vec<String>> {
        let out = self
            .tool("qemu-img", &["snapshot", "-l", "-U", path])
            .await?;
        // Lines after the header: ID TAG VM-SIZE DATE VM-CLOCK [ICOUNT]
        Ok(out
            .lines()
            .skip(2)
            .filter_map(|l| l.split_whitespace().nth(1).map(str::to_string))
            .collect())
    }

    async fn run_job(&self, vm: &str, command: &str, args: Value) -> crate::HostResult<()> {
        let mut q = self.qmp(vm).await?;
        let job = args["job-id"].as_str().unwrap_or_default().to_string();
        let _ = q.execute("job-dismiss", json!({ "id": job })).await;
        q.execute(command, args).await?;
        let deadline = tokio::time::Instant::now() + JOB_LIMIT;
        while tokio::time::Instant::now() < deadline {
            let jobs = q.execute("query-jobs", Value::Null).await?;
            let Some(j) = jobs
                .as_array()
                .and_then(|a| a.iter().find(|j| j["id"].as_str() == Some(job.as_str())))
            else {
                return Ok(()); // dismissed on its own: done
            };
            if j["status"].as_str() == Some("concluded") {
                let err = j["error"].as_str().map(str::to_string);
                let _ = q.execute("job-dismiss", json!({ "id": job })).await;
                return match err {
                    Some(e) => Err(crate::HostError::Qmp(format!("{command} failed: {e}"))),
                    None => Ok(()),
                };
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(format!("{command} did not finish in time").into())
    }

    pub(super) async fn create_vm_snapshot(
        &self,
        vm: &str,
        tag: &str,
        memory: bool,
        disks: &[DiskSpec],
    ) -> crate::HostResult<Value> {
        if self.pid(vm).is_some() {
            let blocks = self
                .qmp(vm)
                .await?
                .execute("query-block", Value::Null)
                .await?;
            let nodes = nodes(&blocks, disks, tag)?;
            if nodes.iter().all(|(_, has)| *has) {
                return Ok(json!({"taken": false}));
            }
            let names: Vec<&str> = nodes.iter().map(|(n, _)| n.as_str()).collect();
            if memory {
                self.run_job(
                    vm,
                    "snapshot-save",
                    json!({"job-id": format!("vmsnap-{tag}"), "tag": tag,
                           "vmstate": names.first().copied().unwrap_or_default(), "devices": names}),
                )
                .await?;
            } else {
                let actions: Vec<Value> = nodes
                    .iter()
                    .filter(|(_, has)| !*has)
                    .map(|(n, _)| {
                        json!({"type": "blockdev-snapshot-internal-sync",
                               "data": {"device": n, "name": tag}})
                    })
                    .collect();
                self.qmp(vm)
                    .await?
                    .execute("transaction", json!({ "actions": actions }))
                    .await?;
            }
            return Ok(json!({"taken": true, "memory": memory}));
        }
        if memory {
            return Err(crate::HostError::Refused(format!(
                "VM {vm} is not running: its memory cannot be snapshotted"
            )));
        }
        for d in disks {
            if !self.disk_tags(&d.path).await?.iter().any(|t| t == tag) {
                self.tool("qemu-img", &["snapshot", "-c", tag, &d.path])
                    .await?;
            }
        }
        Ok(json!({"taken": true, "memory": false}))
    }

    pub(super) async fn revert_vm_snapshot(
        &self,
        vm: &str,
        tag: &str,
        memory: bool,
        disks: &[DiskSpec],
    ) -> crate::HostResult<Value> {
        if memory {
            if self.pid(vm).is_none() {
                return Err(crate::HostError::Refused(format!(
                    "VM {vm} is not running: start it to revert to a snapshot with memory"
                )));
            }
            let blocks = self
                .qmp(vm)
                .await?
                .execute("query-block", Value::Null)
                .await?;
            let nodes = nodes(&blocks, disks, tag)?;
            let names: Vec<&str> = nodes.iter().map(|(n, _)| n.as_str()).collect();
            self.run_job(
                vm,
                "snapshot-load",
                json!({"job-id": format!("vmload-{tag}"), "tag": tag,
                       "vmstate": names.first().copied().unwrap_or_default(), "devices": names}),
            )
            .await?;
            // The guest continues from the snapshot's moment.
            let _ = self.qmp(vm).await?.execute("cont", Value::Null).await;
            return Ok(json!({"reverted": true}));
        }
        if self.pid(vm).is_some() {
            return Err(crate::HostError::Refused(format!(
                "VM {vm} is running: stop it to revert its disks"
            )));
        }
        for d in disks {
            self.tool("qemu-img", &["snapshot", "-a", tag, &d.path])
                .await?;
        }
        Ok(json!({"reverted": true}))
    }

    pub(super) async fn delete_vm_snapshot(
        &self,
        vm: &str,
        tag: &str,
        disks: &[DiskSpec],
    ) -> crate::HostResult<Value> {
        if self.pid(vm).is_some() {
            let blocks = self
                .qmp(vm)
                .await?
                .execute("query-block", Value::Null)
                .await?;
            let nodes = nodes(&blocks, disks, tag)?;
            let names: Vec<&str> = nodes
                .iter()
                .filter(|(_, has)| *has)
                .map(|(n, _)| n.as_str())
                .collect();
            if !names.is_empty() {
                self.run_job(
                    vm,
                    "snapshot-delete",
                    json!({"job-id": format!("vmdel-{tag}"), "tag": tag, "devices": names}),
                )
                .await?;
            }
            return Ok(json!({}));
        }
        for d in disks {
            if self.disk_tags(&d.path).await?.iter().any(|t| t == tag) {
                self.tool("qemu-img", &["snapshot", "-d", tag, &d.path])
                    .await?;
            }
        }
        Ok(json!({}))
    }
}
