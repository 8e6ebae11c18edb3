//! Volumes on primary storage (qcow2 overlays of cached template images) and disks
//! hot-plugged into running VMs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};
use uuid::Uuid;

use super::cmdline::HOTPLUG_PORTS;
use super::QemuDriver;

impl QemuDriver {
    /// The template's cached files on a pool: base image, kernel and initrd (when it has them).
    async fn template_files(&self, pool: &Path, t: Uuid) -> crate::HostResult<PathBuf> {
        let dir = pool.join("templates");
        let base = dir.join(format!("{t}.qcow2"));
        let _one = self.fetching.lock().await;
        if base.exists() {
            return Ok(base);
        }
        std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        for (file, ext) in [("kernel", "kernel"), ("initrd", "initrd")] {
            let dest = dir.join(format!("{t}.{ext}"));
            match self.images.fetch(t, file, &dest).await {
                Ok(_) => {}
                Err(e) if e.to_string().starts_with("HTTP 404") => {}
                Err(e) => return Err(format!("fetching the template's {file}: {e}").into()),
            }
        }
        self.images
            .fetch(t, "disk", &base)
            .await
            .map_err(|e| format!("fetching the template's disk: {e}"))?;
        Ok(base)
    }

    /// The ISO cached in the pool's image cache, fetched from the image store on first use.
    pub(super) async fn iso_file(&self, pool: &Path, iso: Uuid) -> crate::HostResult<PathBuf> {
        let dest = super::cmdline::iso_cache(pool, iso);
        let _one = self.fetching.lock().await;
        if dest.exists() {
            return Ok(dest);
        }
        let dir = pool.join("templates");
        std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        let tmp = dir.join(format!("{iso}.iso.part"));
        self.images
            .fetch(iso, "disk", &tmp)
            .await
            .map_err(|e| format!("fetching ISO {iso}: {e}"))?;
        std::fs::rename(&tmp, &dest).map_err(|e| format!("caching ISO {iso}: {e}"))?;
        Ok(dest)
    }

    /// Runs a tool that may take a while (qemu-img on a large image) off the async workers.
    pub(super) async fn tool(
        &self,
        program: &'static str,
        args: &[&str],
    ) -> crate::HostResult<String> {
        let sys = self.sys.clone();
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        tokio::task::spawn_blocking(move || {
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            sys.run(program, &refs, None)
        })
        .await
        .map_err(|e| format!("{program} did not finish: {e}"))?
    }

    pub(super) async fn create_volume(&self, v: &proto::VolumeSpec) -> crate::HostResult<Value> {
        let pool = PathBuf::from(&v.pool_path);
        std::fs::create_dir_all(&pool).map_err(|e| format!("creating {}: {e}", pool.display()))?;
        let path = pool.join(format!("{}.qcow2", v.volume_id));
        let p = path.display().to_string();
        if !path.exists() && v.secret.is_some() {
            self.create_encrypted(v, &pool, &path).await?;
        }
        if !path.exists() {
            let tmp = pool.join(format!("{}.qcow2.part", v.volume_id));
            let t = tmp.display().to_string();
            let size = v.size_bytes.to_string();
            match (v.snapshot_id, v.template_id) {
                (None, _) if v.image_format.is_some() => {
                    // An uploaded volume: the image store's file is its content (made qcow2).
                    let fetched = pool.join(format!("{}.upload", v.volume_id));
                    let f = fetched.display().to_string();
                    self.images
                        .fetch_volume_image(v.volume_id, &fetched)
                        .await?;
                    let fmt = match v.image_format.as_deref() {
                        Some(x) if x.eq_ignore_ascii_case("RAW") => "raw",
                        _ => "qcow2",
                    };
                    let converted = self
                        .tool(
                            "qemu-img",
                            &["convert", "-q", "-f", fmt, "-O", "qcow2", &f, &t],
                        )
                        .await;
                    let _ = std::fs::remove_file(&fetched);
                    converted?;
                    let virtual_size = self.virtual_size(&t).await?;
                    if v.size_bytes > virtual_size {
                        self.tool("qemu-img", &["resize", "-q", &t, &size]).await?;
                    }
                }
                (Some(sid), _) => {
                    // The snapshot's standalone image is the volume's content.
                    self.images.fetch_snapshot(sid, &tmp).await?;
                    let virtual_size = self.virtual_size(&t).await?;
                    if v.size_bytes > virtual_size {
                        self.tool("qemu-img", &["resize", "-q", &t, &size]).await?;
                    }
                }
                (None, Some(tid)) => {
                    let base = self.template_files(&pool, tid).await?;
                    let b = base.display().to_string();
                    let info = self
                        .tool("qemu-img", &["info", "--output=json", &b])
                        .await?;
                    let virtual_size = serde_json::from_str::<Value>(&info)
                        .ok()
                        .and_then(|i| i["virtual-size"].as_u64())
                        .unwrap_or(0);
                    let mut args = vec!["create", "-q", "-f", "qcow2", "-b", &b, "-F", "qcow2", &t];
                    if v.size_bytes > virtual_size {
                        args.push(&size);
                    }
                    self.tool("qemu-img", &args).await?;
                }
                (None, None) => {
                    self.tool("qemu-img", &["create", "-q", "-f", "qcow2", &t, &size])
                        .await?;
                }
            }
            self.give_to_qemu(&tmp)?;
            std::fs::rename(&tmp, &path).map_err(|e| e.to_string())?;
        }
        Ok(json!({"path": p, "size": v.size_bytes}))
    }

    /// An encrypted volume: qcow2 with LUKS under the volume's passphrase (a root volume on
    /// its template's image — the template's blocks stay as they are, everything the guest
    /// writes is encrypted — a data volume empty). Made from a snapshot or an upload it is
    /// not (the server refuses those).
    async fn create_encrypted(
        &self,
        v: &proto::VolumeSpec,
        pool: &Path,
        path: &Path,
    ) -> crate::HostResult<()> {
        let Some(secret) = &v.secret else {
            return Ok(());
        };
        if v.snapshot_id.is_some() || v.image_format.is_some() {
            return Err(crate::HostError::Refused(
                "an encrypted volume cannot be made from a snapshot or an upload".into(),
            ));
        }
        let tmp = pool.join(format!("{}.qcow2.part", v.volume_id));
        let key = pool.join(format!("{}.key", v.volume_id));
        write_key(&key, secret)?;
        let t = tmp.display().to_string();
        let size = v.size_bytes.to_string();
        let object = format!("secret,id=sec0,file={}", key.display());
        let mut args: Vec<String> = vec![
            "create".into(),
            "-q".into(),
            "-f".into(),
            "qcow2".into(),
            "--object".into(),
            object,
            "-o".into(),
            "encrypt.format=luks,encrypt.key-secret=sec0".into(),
        ];
        if let Some(tid) = v.template_id {
            let base = self.template_files(pool, tid).await?;
            let b = base.display().to_string();
            let virtual_size = self.virtual_size(&b).await?;
            args.extend(["-b".into(), b, "-F".into(), "qcow2".into(), t.clone()]);
            args.push(v.size_bytes.max(virtual_size).to_string());
        } else {
            args.extend([t.clone(), size]);
        }
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let made = self.tool("qemu-img", &a).await;
        let _ = std::fs::remove_file(&key);
        made?;
        self.give_to_qemu(&tmp)?;
        std::fs::rename(&tmp, path).map_err(|e| e.to_string())?;
        Ok(())
    }

    /// QEMU running as its own user opens hot-plugged disks (and grows resized ones) after
    /// dropping root: a volume file is that user's.
    pub(super) fn give_to_qemu(&self, file: &Path) -> crate::HostResult<()> {
        if let Some(u) = &self.run_as {
            rustix::fs::chown(
                file,
                Some(rustix::process::Uid::from_raw(u.uid)),
                Some(rustix::process::Gid::from_raw(u.gid)),
            )
            .map_err(|e| format!("giving {} to {}: {e}", file.display(), u.name))?;
        }
        Ok(())
    }

    /// An image's virtual size (bytes), as `qemu-img info` reports it.
    pub(super) async fn virtual_size(&self, file: &str) -> crate::HostResult<u64> {
        let info = self
            .tool("qemu-img", &["info", "--output=json", "-U", file])
            .await?;
        serde_json::from_str::<Value>(&info)
            .ok()
            .and_then(|i| i["virtual-size"].as_u64())
            .ok_or_else(|| format!("qemu-img info {file}: no virtual size").into())
    }

    pub(super) fn in_use(&self, volume: Uuid) -> Option<String> {
        self.running().into_iter().find(|n| {
            self.spec_of(n)
                .map(|s| s.disks.iter().any(|d| d.volume_id == volume))
                .unwrap_or(false)
        })
    }

    pub(super) async fn attach(
        &self,
        vm: &str,
        disk: &proto::DiskSpec,
    ) -> crate::HostResult<Value> {
        let mut q = self.qmp(vm).await?;
        let devices = q.execute("query-pci", Value::Null).await?.to_string();
        let id = format!("disk-{}", disk.volume_id);
        if devices.contains(&id) {
            return Ok(json!({}));
        }
        let node = hotplug_node(disk.volume_id);
        let mode = super::cmdline::cache_mode(disk);
        let mut file = json!({"driver": "file", "filename": disk.path});
        if mode == "none" {
            file["cache"] = json!({"direct": true});
        }
        let mut image = json!({"driver": "qcow2", "file": file});
        // An encrypted volume: its key as a secret object (over the root-only QMP socket; it
        // is never written to a file QEMU's user could read), named by the image.
        if let Some(k) = &disk.secret {
            let id = super::cmdline::secret_id(disk.volume_id);
            let _ = q.execute("object-del", json!({"id": id})).await;
            q.execute(
                "object-add",
                json!({"qom-type": "secret", "id": id, "data": k.0, "format": "raw"}),
            )
            .await?;
            image["encrypt"] = json!({"format": "luks", "key-secret": id});
        }
        // The offering's I/O limits: a throttle group and a throttle node over the image.
        let limits = disk.limits.as_ref().map(|l| l.qemu()).unwrap_or_default();
        let node_def = if limits.is_empty() {
            let mut n = image;
            n["node-name"] = json!(node);
            n
        } else {
            let group = format!("tg-{}", disk.volume_id.simple());
            let _ = q.execute("object-del", json!({"id": group})).await;
            let l: serde_json::Map<String, Value> = limits
                .iter()
                .map(|(k, v)| (k.to_string(), json!(v)))
                .collect();
            q.execute(
                "object-add",
                json!({"qom-type": "throttle-group", "id": group, "limits": l}),
            )
            .await?;
            json!({"driver": "throttle", "node-name": node, "throttle-group": group, "file": image})
        };
        q.execute("blockdev-add", node_def).await?;
        let mut last = String::new();
        for port in 1..=HOTPLUG_PORTS {
            match q
                .execute(
                    "device_add",
                    json!({"driver": "virtio-blk-pci", "drive": node, "id": id, "bus": format!("hp{port}"),
                           "write-cache": if mode == "writethrough" { "off" } else { "on" }}),
                )
                .await
            {
                Ok(_) => {
                    self.update_spec(vm, |s| {
                        if !s.disks.iter().any(|d| d.volume_id == disk.volume_id) {
                            s.disks.push(disk.clone());
                        }
                    });
                    return Ok(json!({}));
                }
                Err(e) => last = e.to_string(),
            }
        }
        let _ = q.execute("blockdev-del", json!({"node-name": node})).await;
        let _ = q
            .execute(
                "object-del",
                json!({"id": format!("tg-{}", disk.volume_id.simple())}),
            )
            .await;
        Err(crate::HostError::Refused(format!(
            "no free hot-plug slot: {last}"
        )))
    }

    pub(super) async fn detach(&self, vm: &str, volume: Uuid) -> crate::HostResult<Value> {
        if self.pid(vm).is_none() {
            return Ok(json!({}));
        }
        let mut q = self.qmp(vm).await?;
        let id = format!("disk-{volume}");
        let _ = q.execute("device_del", json!({"id": id})).await;
        // The guest releases the device; then the block node can go (bounded wait).
        for _ in 0..100 {
            let pci = q.execute("query-pci", Value::Null).await?.to_string();
            if !pci.contains(&id) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // A disk the VM started with goes with its device; a hot-plugged node is deleted.
        let _ = q
            .execute("blockdev-del", json!({"node-name": hotplug_node(volume)}))
            .await;
        // And its throttle group, when it had limits.
        let _ = q
            .execute(
                "object-del",
                json!({"id": format!("tg-{}", volume.simple())}),
            )
            .await;
        // And its key, when it was encrypted.
        let _ = q
            .execute(
                "object-del",
                json!({"id": super::cmdline::secret_id(volume)}),
            )
            .await;
        self.update_spec(vm, |s| s.disks.retain(|d| d.volume_id != volume));
        Ok(json!({}))
    }

    pub(super) fn delete_volume(
        &self,
        pool_path: &str,
        volume_id: Uuid,
    ) -> crate::HostResult<Value> {
        if let Some(vm) = self.in_use(volume_id) {
            return Err(format!("volume {volume_id} is in use by running VM {vm}").into());
        }
        let p = Path::new(pool_path).join(format!("{volume_id}.qcow2"));
        match std::fs::remove_file(&p) {
            Ok(()) => Ok(json!({})),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(json!({})),
            Err(e) => Err(format!("deleting {}: {e}", p.display()).into()),
        }
    }

    pub(super) async fn resize_volume(
        &self,
        pool_path: &str,
        volume_id: Uuid,
        size_bytes: u64,
    ) -> crate::HostResult<Value> {
        if let Some(vm) = self.in_use(volume_id) {
            let mut q = self.qmp(&vm).await?;
            // A disk the VM started with is a drive; a hot-plugged one a node.
            let by_drive = q
                .execute(
                    "block_resize",
                    json!({"device": format!("drive-{volume_id}"), "size": size_bytes}),
                )
                .await;
            if by_drive.is_err() {
                q.execute(
                    "block_resize",
                    json!({"node-name": hotplug_node(volume_id), "size": size_bytes}),
                )
                .await?;
            }
        } else {
            let p = Path::new(pool_path).join(format!("{volume_id}.qcow2"));
            let size = size_bytes.to_string();
            self.tool(
                "qemu-img",
                &["resize", "-q", &p.display().to_string(), &size],
            )
            .await?;
        }
        Ok(json!({"size": size_bytes}))
    }
}

/// QEMU's name for a hot-plugged disk's block node (node names have at most 31 characters).
pub(super) fn hotplug_node(volume: Uuid) -> String {
    format!("hp{}", &volume.simple().to_string()[..28])
}

/// The first directory on the way to `dir` (itself included) that `u` may not enter.
pub(super) fn unreachable_for(dir: &std::path::Path, u: &super::QemuUser) -> Option<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let dir = dir.canonicalize().ok()?;
    dir.ancestors()
        .filter_map(|d| std::fs::metadata(d).ok().map(|m| (d, m)))
        .find(|(_, m)| {
            let mode = m.mode();
            let ok = if m.uid() == u.uid {
                mode & 0o100 != 0
            } else if m.gid() == u.gid {
                mode & 0o010 != 0
            } else {
                mode & 0o001 != 0
            };
            !ok
        })
        .map(|(d, _)| d.to_path_buf())
}

/// Writes a volume's key for qemu-img or QEMU to read: root's alone (0600), created so.
pub(super) fn write_key(f: &Path, secret: &proto::Secret) -> crate::HostResult<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::fs::remove_file(f);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(f)
        .map_err(|e| format!("writing {}: {e}", f.display()))?;
    file.write_all(secret.0.as_bytes())
        .map_err(|e| format!("writing {}: {e}", f.display()))?;
    Ok(())
}
