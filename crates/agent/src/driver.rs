//! What carries out commands on a host. The simulator answers from memory; the QEMU driver
//! (`qemu`) runs real VMs behind the same trait; `LocalDriver` serves a machine without QEMU.

use std::time::Duration;

use proto::Command;
use rand::Rng;

pub trait Driver: Send + Sync {
    /// Carries out a command; the `Ok` value is the reply body.
    fn handle<'a>(
        &'a self,
        command: &'a Command,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = crate::HostResult<serde_json::Value>> + Send + 'a>,
    >;

    /// The unix socket of a running VM's VNC server (the console), if this host has one.
    fn vnc_socket(&self, _vm: &str) -> Option<std::path::PathBuf> {
        None
    }

    /// VMs that stopped on their own and are not reported yet.
    fn gone(&self) -> Vec<String> {
        Vec::new()
    }

    /// The server was told that `vm` is gone: do not report it again.
    fn reported(&self, _vm: &str) {}

    /// How many VMs the host runs (`None`: this driver does not say).
    fn vm_count(&self) -> Option<u64> {
        None
    }

    /// How often `gone` is worth asking (`None`: never — simulated hosts).
    fn gone_every(&self) -> Option<Duration> {
        None
    }

    /// VMs whose guest acknowledged its password at a router here since the last call.
    fn passwords_saved(&self) -> Vec<uuid::Uuid> {
        Vec::new()
    }

    /// The statistics of the guests running here (reported every `vm.stats.interval`).
    fn guest_stats(
        &self,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Vec<model::stats::GuestStats>> + Send + '_>,
    > {
        Box::pin(async { Vec::new() })
    }
}

/// What one simulated host runs and stores, kept in memory, and how it fails.
#[derive(Debug)]
pub struct SimHost {
    /// Instance name → VM.
    pub vms: std::sync::Mutex<std::collections::BTreeMap<String, proto::VmSpec>>,
    /// Volume id → size in bytes.
    pub volumes: std::sync::Mutex<std::collections::BTreeMap<uuid::Uuid, u64>>,
    /// Snapshot copies on primary storage not yet backed up: snapshot id → size in bytes.
    pub snapshots: std::sync::Mutex<std::collections::BTreeMap<uuid::Uuid, u64>>,
    /// VM snapshots: (instance name, tag) → taken with memory.
    pub vm_snapshots: std::sync::Mutex<std::collections::BTreeMap<(String, String), bool>>,
    /// True: the agent cannot talk to the server (host down or partitioned).
    pub offline: tokio::sync::watch::Sender<bool>,
    /// Whether other hosts can reach this one (`CheckHost`).
    pub reachable: std::sync::atomic::AtomicBool,
    /// The data plane this host was told to have (the fake network driver).
    pub net: crate::netdriver::FakeNet,
    /// Each simulated guest's running figures (counters only grow).
    pub guest_io: std::sync::Mutex<std::collections::BTreeMap<String, model::stats::GuestStats>>,
}

impl Default for SimHost {
    fn default() -> Self {
        Self {
            vms: Default::default(),
            volumes: Default::default(),
            snapshots: Default::default(),
            vm_snapshots: Default::default(),
            offline: tokio::sync::watch::Sender::new(false),
            reachable: std::sync::atomic::AtomicBool::new(true),
            net: Default::default(),
            guest_io: Default::default(),
        }
    }
}

impl SimHost {
    /// The host dies: its agent goes silent, its VMs are gone, no peer can reach it.
    pub fn power_off(&self) {
        self.reachable
            .store(false, std::sync::atomic::Ordering::SeqCst);
        if let Ok(mut v) = self.vms.lock() {
            v.clear();
        }
        self.offline.send_replace(true);
    }
    /// The host is cut off: from the server only (`peers_see_it`), or from everything. Its
    /// VMs keep running.
    pub fn partition(&self, peers_see_it: bool) {
        self.reachable
            .store(peers_see_it, std::sync::atomic::Ordering::SeqCst);
        self.offline.send_replace(true);
    }
    /// Power or network back: the agent reconnects.
    pub fn restore(&self) {
        self.reachable
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.offline.send_replace(false);
    }

    /// Instance names of the running VMs.
    pub fn vm_names(&self) -> Vec<String> {
        self.vms
            .lock()
            .map(|v| v.keys().cloned().collect())
            .unwrap_or_default()
    }
    pub fn volume_ids(&self) -> Vec<uuid::Uuid> {
        self.volumes
            .lock()
            .map(|v| v.keys().copied().collect())
            .unwrap_or_default()
    }
}

/// Simulated host: configurable delay per operation and injected failures; VMs and volumes
/// live in its [`SimHost`].
pub struct SimDriver {
    pub delay: Duration,
    /// What `StorageStat` reports as capacity.
    pub storage_bytes: u64,
    /// Probability (0..1) that an operation fails with "Simulated failure".
    pub fail_rate: f64,
    pub host: std::sync::Arc<SimHost>,
}

fn poisoned<T>(_: T) -> String {
    "simulator state poisoned".to_string()
}

impl SimDriver {
    fn apply(&self, command: &Command) -> crate::HostResult<serde_json::Value> {
        match command {
            Command::Ping => Ok(serde_json::json!({"pong": true})),
            // A simulated host's storage is as large as configured.
            Command::StorageStat { .. } => {
                let used: u64 = self.host.volumes.lock().map_err(poisoned)?.values().sum();
                Ok(serde_json::json!({"capacity_bytes": self.storage_bytes, "used_bytes": used}))
            }
            Command::CreateVolume { volume } => {
                let mut v = self.host.volumes.lock().map_err(poisoned)?;
                v.entry(volume.volume_id).or_insert(volume.size_bytes);
                Ok(serde_json::json!({
                    "path": format!("{}/{}.qcow2", volume.pool_path, volume.volume_id),
                    "size": volume.size_bytes,
                }))
            }
            Command::DeleteVolume { volume_id, .. } => {
                let in_use = self
                    .host
                    .vms
                    .lock()
                    .map_err(poisoned)?
                    .values()
                    .any(|vm| vm.disks.iter().any(|d| d.volume_id == *volume_id));
                if in_use {
                    return Err(format!("volume {volume_id} is in use by a running VM").into());
                }
                self.host
                    .volumes
                    .lock()
                    .map_err(poisoned)?
                    .remove(volume_id);
                Ok(serde_json::json!({}))
            }
            Command::StartVm { vm } => {
                // Shared storage is not modelled per host: a disk this host did not create
                // is taken as reachable (a shared pool), but a path must be given.
                if let Some(d) = vm.disks.iter().find(|d| d.path.is_empty()) {
                    return Err(format!("disk {} has no path", d.volume_id).into());
                }
                if let Some(c) = &vm.config_drive {
                    c.decoded().map_err(crate::HostError::Refused)?;
                }
                self.host
                    .vms
                    .lock()
                    .map_err(poisoned)?
                    .entry(vm.name.clone())
                    .or_insert_with(|| vm.clone());
                Ok(serde_json::json!({"state": "Running"}))
            }
            Command::StopVm { name, .. } => {
                self.host.vms.lock().map_err(poisoned)?.remove(name);
                Ok(serde_json::json!({"state": "Stopped"}))
            }
            Command::UpdateConfigDrive { name, drive } => {
                drive.decoded().map_err(crate::HostError::Refused)?;
                let mut vms = self.host.vms.lock().map_err(poisoned)?;
                let v = vms.get_mut(name).ok_or_else(|| proto::vm_not_here(name))?;
                v.config_drive = Some(drive.clone());
                Ok(serde_json::json!({"updated": true}))
            }
            Command::ChangeIso { name, iso, .. } => {
                let mut vms = self.host.vms.lock().map_err(poisoned)?;
                let v = vms.get_mut(name).ok_or_else(|| proto::vm_not_here(name))?;
                v.iso = *iso;
                Ok(serde_json::json!({"iso": iso}))
            }
            Command::RebootVm { name } => {
                if self.host.vms.lock().map_err(poisoned)?.contains_key(name) {
                    Ok(serde_json::json!({"state": "Running"}))
                } else {
                    Err(crate::HostError::VmNotHere(name.to_string()))
                }
            }
            Command::ScaleVm {
                name,
                cpus,
                cpu_mhz,
                memory_mib,
            } => {
                let mut vms = self.host.vms.lock().map_err(poisoned)?;
                let v = vms.get_mut(name).ok_or_else(|| proto::vm_not_here(name))?;
                v.cpus = *cpus;
                v.cpu_mhz = *cpu_mhz;
                v.memory_mib = *memory_mib;
                Ok(serde_json::json!({}))
            }
            Command::CheckHost { address } => match crate::simulator::known_sim_host(address) {
                Some(h) => Ok(serde_json::json!({
                    "alive": h.reachable.load(std::sync::atomic::Ordering::SeqCst),
                })),
                None => Err(crate::HostError::Undetermined(format!(
                    "cannot tell whether {address} is alive"
                ))),
            },
            Command::PrepareMigration { vm, storage } => {
                // Disks that move with the VM are created here (the mirror fills them); the
                // VM must have each (a real host exports its disk over NBD).
                if let Some(m) = storage.iter().find(|m| {
                    !vm.disks
                        .iter()
                        .any(|d| d.volume_id == m.volume_id && d.path == m.path)
                }) {
                    return Err(
                        format!("VM {} has no disk for volume {}", vm.name, m.volume_id).into(),
                    );
                }
                {
                    let mut v = self.host.volumes.lock().map_err(poisoned)?;
                    for m in storage {
                        v.entry(m.volume_id).or_insert(m.size_bytes);
                    }
                }
                self.host
                    .vms
                    .lock()
                    .map_err(poisoned)?
                    .entry(vm.name.clone())
                    .or_insert_with(|| vm.clone());
                Ok(serde_json::json!({}))
            }
            // The simulated transfer: the destination already holds the VM (prepared).
            Command::MigrateVm { name, .. } => {
                self.host.vms.lock().map_err(poisoned)?.remove(name);
                Ok(serde_json::json!({"state": "Migrated"}))
            }
            Command::EndDiskExport { .. } => Ok(serde_json::json!({})),
            // A volume another host created (shared storage) is taken as 1 GiB, as snapshots do.
            Command::DiskSizes { vm, volumes } => {
                if !self.host.vms.lock().map_err(poisoned)?.contains_key(vm) {
                    return Err(crate::HostError::VmNotHere(vm.to_string()));
                }
                let have = self.host.volumes.lock().map_err(poisoned)?;
                let sizes: serde_json::Map<String, serde_json::Value> = volumes
                    .iter()
                    .map(|v| {
                        (
                            v.to_string(),
                            serde_json::json!(have.get(v).copied().unwrap_or(1 << 30)),
                        )
                    })
                    .collect();
                Ok(serde_json::json!({ "sizes": sizes }))
            }
            Command::AttachDisk { vm, disk } => {
                let mut vms = self.host.vms.lock().map_err(poisoned)?;
                let v = vms.get_mut(vm).ok_or_else(|| proto::vm_not_here(vm))?;
                if !v.disks.iter().any(|d| d.volume_id == disk.volume_id) {
                    v.disks.push((**disk).clone());
                }
                Ok(serde_json::json!({}))
            }
            Command::DetachDisk { vm, volume_id } => {
                let mut vms = self.host.vms.lock().map_err(poisoned)?;
                if let Some(v) = vms.get_mut(vm) {
                    v.disks.retain(|d| d.volume_id != *volume_id);
                }
                Ok(serde_json::json!({}))
            }
            Command::ResizeVolume {
                volume_id,
                size_bytes,
                ..
            } => {
                let mut vols = self.host.volumes.lock().map_err(poisoned)?;
                match vols.get_mut(volume_id) {
                    Some(s) => {
                        *s = *size_bytes;
                        Ok(serde_json::json!({"size": size_bytes}))
                    }
                    // A volume on shared storage another host created.
                    None => Ok(serde_json::json!({"size": size_bytes})),
                }
            }
            // A volume on shared storage another host created is taken as 1 GiB.
            Command::SnapshotVolume {
                volume_id,
                snapshot_id,
                ..
            } => {
                let size = self
                    .host
                    .volumes
                    .lock()
                    .map_err(poisoned)?
                    .get(volume_id)
                    .copied()
                    .unwrap_or(1 << 30);
                self.host
                    .snapshots
                    .lock()
                    .map_err(poisoned)?
                    .insert(*snapshot_id, size);
                Ok(serde_json::json!({"size": size, "physical": size}))
            }
            Command::BackupSnapshot { snapshot_id, .. } => {
                match self
                    .host
                    .snapshots
                    .lock()
                    .map_err(poisoned)?
                    .remove(snapshot_id)
                {
                    Some(size) => Ok(serde_json::json!({"stored": size, "simulated": true})),
                    None => Err(crate::HostError::Refused(format!(
                        "snapshot {snapshot_id} has no copy on this host"
                    ))),
                }
            }
            Command::DeleteSnapshotCopy { snapshot_id, .. } => {
                self.host
                    .snapshots
                    .lock()
                    .map_err(poisoned)?
                    .remove(snapshot_id);
                Ok(serde_json::json!({}))
            }
            Command::RevertVolume { volume_id, .. } | Command::UploadVolume { volume_id, .. } => {
                let in_use = self
                    .host
                    .vms
                    .lock()
                    .map_err(poisoned)?
                    .values()
                    .any(|vm| vm.disks.iter().any(|d| d.volume_id == *volume_id));
                if in_use {
                    return Err(crate::HostError::Refused(format!(
                        "volume {volume_id} is in use by a running VM"
                    )));
                }
                let size = self
                    .host
                    .volumes
                    .lock()
                    .map_err(poisoned)?
                    .get(volume_id)
                    .copied()
                    .unwrap_or(1 << 30);
                Ok(serde_json::json!({"size": size, "stored": size, "simulated": true}))
            }
            // Shared storage is not modelled per pool: the volume stays where it is.
            Command::MigrateVolume {
                volume_id, to_pool, ..
            } => Ok(serde_json::json!({
                "path": format!("{to_pool}/{volume_id}.qcow2"),
            })),
            Command::CreateVmSnapshot {
                vm, tag, memory, ..
            } => {
                let running = self.host.vms.lock().map_err(poisoned)?.contains_key(vm);
                if *memory && !running {
                    return Err(crate::HostError::Refused(format!(
                        "VM {vm} is not running: its memory cannot be snapshotted"
                    )));
                }
                self.host
                    .vm_snapshots
                    .lock()
                    .map_err(poisoned)?
                    .insert((vm.clone(), tag.clone()), *memory);
                Ok(serde_json::json!({"taken": true, "memory": memory}))
            }
            Command::RevertVmSnapshot {
                vm, tag, memory, ..
            } => {
                let running = self.host.vms.lock().map_err(poisoned)?.contains_key(vm);
                if *memory != running {
                    return Err(crate::HostError::Refused(format!(
                        "VM {vm} must be {} to revert to this snapshot",
                        if *memory { "running" } else { "stopped" }
                    )));
                }
                if !self
                    .host
                    .vm_snapshots
                    .lock()
                    .map_err(poisoned)?
                    .contains_key(&(vm.clone(), tag.clone()))
                {
                    return Err(crate::HostError::Refused(format!(
                        "VM {vm} has no snapshot {tag}"
                    )));
                }
                Ok(serde_json::json!({"reverted": true}))
            }
            Command::DeleteVmSnapshot { vm, tag, .. } => {
                self.host
                    .vm_snapshots
                    .lock()
                    .map_err(poisoned)?
                    .remove(&(vm.clone(), tag.clone()));
                Ok(serde_json::json!({}))
            }
            Command::ListVms => to_reply(&proto::VmList::running(
                self.host.vm_names(),
                self.host.volume_ids(),
            )),
            Command::ApplyNetwork {
                generation,
                desired,
            } => {
                use crate::netdriver::NetDriver;
                let now = self.host.net.apply(*generation, desired)?;
                Ok(serde_json::json!({"generation": now, "stale": now != *generation}))
            }
            // A simulated router's connections are up once it holds them.
            Command::S2sStatus {
                namespace,
                connections,
            } => {
                let held: Vec<uuid::Uuid> = self
                    .host
                    .net
                    .snapshot()
                    .desired
                    .into_iter()
                    .flat_map(|d| d.routers)
                    .filter(|r| &r.namespace == namespace)
                    .filter_map(|r| r.s2s)
                    .flat_map(|s| s.connections)
                    .collect();
                let states: std::collections::BTreeMap<uuid::Uuid, &str> = connections
                    .iter()
                    .map(|c| {
                        let up = if held.contains(c) {
                            "Connected"
                        } else {
                            "Disconnected"
                        };
                        (*c, up)
                    })
                    .collect();
                Ok(serde_json::json!({ "connections": states }))
            }
            Command::S2sReset { .. } => Ok(serde_json::json!({})),
            other => Err(format!("unsupported command {other:?}").into()),
        }
    }
}

impl Driver for SimDriver {
    fn handle<'a>(
        &'a self,
        command: &'a Command,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = crate::HostResult<serde_json::Value>> + Send + 'a>,
    > {
        Box::pin(async move {
            if !self.delay.is_zero() {
                tokio::time::sleep(self.delay).await;
            }
            if self.fail_rate > 0.0
                && !matches!(command, Command::Ping | Command::ListVms)
                && rand::thread_rng().gen_bool(self.fail_rate.min(1.0))
            {
                return Err("Simulated failure".into());
            }
            self.apply(command)
        })
    }

    /// Plausible figures: a few percent of CPU, half the memory free, counters that grow a
    /// little every round (volumes and NICs as the VM has them).
    fn guest_stats(
        &self,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Vec<model::stats::GuestStats>> + Send + '_>,
    > {
        Box::pin(async move {
            let vms: Vec<proto::VmSpec> = match self.host.vms.lock() {
                Ok(v) => v.values().cloned().collect(),
                Err(_) => return Vec::new(),
            };
            let Ok(mut io) = self.host.guest_io.lock() else {
                return Vec::new();
            };
            io.retain(|k, _| vms.iter().any(|v| &v.name == k));
            let mut r = rand::thread_rng();
            vms.iter()
                .map(|vm| {
                    let s = io
                        .entry(vm.name.clone())
                        .or_insert_with(|| model::stats::GuestStats {
                            vm_id: vm.id,
                            memory_kib: vm.memory_mib * 1024,
                            memory_target_kib: Some(vm.memory_mib * 1024),
                            disks: vm
                                .disks
                                .iter()
                                .map(|d| model::stats::DiskIo {
                                    volume_id: d.volume_id,
                                    ..Default::default()
                                })
                                .collect(),
                            ..Default::default()
                        });
                    s.cpu_used_percent = r.gen_range(1.0..25.0);
                    s.memory_free_kib = Some(vm.memory_mib * 1024 / 2);
                    for d in &mut s.disks {
                        let (rb, wb) = (r.gen_range(0..64u64), r.gen_range(0..32u64));
                        d.read_bytes += rb * 4096;
                        d.write_bytes += wb * 4096;
                        d.read_ops += rb;
                        d.write_ops += wb;
                    }
                    s.disk_read_bytes = s.disks.iter().map(|d| d.read_bytes).sum();
                    s.disk_write_bytes = s.disks.iter().map(|d| d.write_bytes).sum();
                    s.disk_read_ops = s.disks.iter().map(|d| d.read_ops).sum();
                    s.disk_write_ops = s.disks.iter().map(|d| d.write_ops).sum();
                    s.net_read_bytes += r.gen_range(0..100_000u64) * vm.nics.len() as u64;
                    s.net_write_bytes += r.gen_range(0..50_000u64) * vm.nics.len() as u64;
                    s.clone()
                })
                .collect()
        })
    }
}

/// A real host without QEMU: answers pings and measures storage, runs no VMs (it does not
/// advertise the `vms` capability, so placement never picks it).
pub struct LocalDriver;

/// Size and use of the filesystem holding `path` (statvfs through rustix: no `df`
/// subprocess; the same figures `df -B1` prints: size = blocks × fragment size, used = size −
/// free blocks).
/// A typed reply as the JSON body that travels back.
pub fn to_reply<T: serde::Serialize>(reply: &T) -> crate::HostResult<serde_json::Value> {
    serde_json::to_value(reply)
        .map_err(|e| crate::HostError::Failed(format!("encoding a reply: {e}")))
}

pub async fn storage_stat(path: &str) -> crate::HostResult<serde_json::Value> {
    if !std::path::Path::new(path).is_dir() {
        return Err(crate::HostError::Refused(format!(
            "{path} is not a directory on this host"
        )));
    }
    let p = path.to_string();
    let st = tokio::task::spawn_blocking(move || rustix::fs::statvfs(p.as_str()))
        .await
        .map_err(|e| format!("measuring {path}: {e}"))?
        .map_err(|e| format!("measuring {path}: {e}"))?;
    let total = st.f_blocks.saturating_mul(st.f_frsize);
    let used = st
        .f_blocks
        .saturating_sub(st.f_bfree)
        .saturating_mul(st.f_frsize);
    Ok(serde_json::json!({"capacity_bytes": total, "used_bytes": used}))
}

impl Driver for LocalDriver {
    fn handle<'a>(
        &'a self,
        command: &'a Command,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = crate::HostResult<serde_json::Value>> + Send + 'a>,
    > {
        Box::pin(async move {
            match command {
                Command::Ping => Ok(serde_json::json!({"pong": true})),
                Command::StorageStat { path } => storage_stat(path).await,
                Command::ListVms => to_reply(&proto::VmList::default()),
                other => Err(crate::HostError::Refused(format!(
                    "this host cannot run VMs: QEMU (qemu-system-x86_64) is not installed: {other:?}"
                ))),
            }
        })
    }
}
