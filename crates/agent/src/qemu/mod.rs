//! The QEMU driver: one QEMU process per VM, controlled over QMP.
//!
//! Each VM has a directory `RUN/<instance name>/` holding `spec.json` (what it was started
//! with), `qemu.pid`, `qmp.sock`, `vnc.sock`, `serial.sock` and `serial.log`. QEMU
//! daemonizes, so VMs outlive the agent: a restarted agent finds them by their pid files and
//! QMP sockets (nothing else is kept in memory). Root disks are qcow2 overlays of the
//! template's base image, cached once per primary storage under `POOL/templates/`; a template
//! that carries a kernel and initrd is booted directly (the fast path under TCG).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use proto::{Command, VmSpec};
use serde_json::{json, Value};

use crate::driver::Driver;
use crate::images::ImageSource;
use crate::linuxnet::LinuxNet;
use crate::netdriver::NetDriver;
use crate::procs::alive;
use crate::qmp::Qmp;
use crate::sys::Sys;

/// What one `busybox ping -c 1` says: `Ok(true)` a reply, `Ok(false)` the echo went out and
/// nothing came back, `Err` the probe could not be made (so nothing can be concluded).
pub(crate) fn ping_verdict(
    code: Option<i32>,
    stdout: &str,
    stderr: &str,
) -> crate::HostResult<bool> {
    match code {
        Some(0) => Ok(true),
        Some(1) if stdout.contains("1 packets transmitted") && stderr.trim().is_empty() => {
            Ok(false)
        }
        _ => Err(format!(
            "ping failed ({}): {}",
            code.map(|c| format!("exit {c}"))
                .unwrap_or_else(|| "killed".into()),
            stderr.trim().chars().take(200).collect::<String>()
        )
        .into()),
    }
}

mod cmdline;
mod configdrive;
mod disks;
mod guest;
mod migration;
mod snapshots;
mod storagemotion;
mod vmsnapshots;

pub struct QemuDriver {
    pub sys: Arc<dyn Sys>,
    /// Per-VM directories.
    pub run_dir: PathBuf,
    /// `kvm` or `tcg`.
    pub accel: String,
    pub net: Arc<LinuxNet>,
    pub images: ImageSource,
    /// The address migrations are received on (this host's address).
    pub address: String,
    /// How long a graceful stop waits for the guest before QEMU is told to quit.
    pub stop_timeout: Duration,
    /// One template download at a time per file.
    fetching: tokio::sync::Mutex<()>,
    /// VMs being started, stopped or migrated right now (not "gone" while their QEMU comes
    /// or goes).
    busy: std::sync::Mutex<std::collections::BTreeSet<String>>,
    /// The unprivileged user QEMU switches to before the guest runs (`None`: the agent's).
    pub run_as: Option<QemuUser>,
    /// Each VM's previous CPU sample (its CPU use is measured between two rounds).
    cpu_samples: guest::CpuSamples,
}

/// The user QEMU runs as once it has opened its devices, files and sockets (as Firecracker's
/// jailer drops to an unprivileged uid): a guest that breaks out of QEMU holds that user's
/// rights, not root's. Volumes are made that user's (hot-plug and resize reopen them later).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QemuUser {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

impl QemuUser {
    /// A `getent passwd` line.
    pub fn from_passwd(line: &str) -> Option<Self> {
        let f: Vec<&str> = line.trim().split(':').collect();
        Some(Self {
            name: f.first()?.to_string(),
            uid: f.get(2)?.parse().ok()?,
            gid: f.get(3)?.parse().ok()?,
        })
        .filter(|u| u.uid != 0 && !u.name.is_empty())
    }

    /// Who QEMU should run as here: `CANOPY_QEMU_USER` (empty or `none`: nobody else), by
    /// default `canopy-qemu` when that user exists and the agent runs as root (only root can
    /// switch users).
    pub fn for_this_host(sys: &dyn Sys) -> Option<Self> {
        let asked = std::env::var("CANOPY_QEMU_USER").ok();
        let name = asked.clone().unwrap_or_else(|| "canopy-qemu".into());
        if name.is_empty() || name == "none" {
            return None;
        }
        if !rustix::process::geteuid().is_root() {
            if asked.is_some() {
                tracing::warn!(user = %name, "the agent is not root, so QEMU cannot switch to another user; it runs as the agent's user");
            }
            return None;
        }
        match sys.run("getent", &["passwd", &name], None) {
            Ok(line) => match Self::from_passwd(&line) {
                Some(u) => {
                    tracing::info!(user = %u.name, uid = u.uid, gid = u.gid, "QEMU runs as an unprivileged user");
                    Some(u)
                }
                None => {
                    tracing::warn!(user = %name, "not an unprivileged user; QEMU runs as root");
                    None
                }
            },
            Err(_) => {
                if asked.is_some() {
                    tracing::warn!(user = %name, "CANOPY_QEMU_USER names no user; QEMU runs as root");
                } else {
                    tracing::info!("no canopy-qemu user on this host (scripts/install-deps.sh creates it); QEMU runs as root");
                }
                None
            }
        }
    }
}

/// Marks a VM busy while it lives.
struct Busy<'a>(&'a QemuDriver, String);

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        if let Ok(mut b) = self.0.busy.lock() {
            b.remove(&self.1);
        }
    }
}

impl QemuDriver {
    pub fn new(
        sys: Arc<dyn Sys>,
        run_dir: PathBuf,
        accel: &str,
        net: Arc<LinuxNet>,
        images: ImageSource,
        address: &str,
    ) -> Self {
        Self {
            sys,
            run_dir,
            accel: accel.to_string(),
            net,
            images,
            address: address.to_string(),
            stop_timeout: Duration::from_secs(20),
            fetching: tokio::sync::Mutex::new(()),
            busy: Default::default(),
            run_as: None,
            cpu_samples: Default::default(),
        }
    }

    fn busy(&self, name: &str) -> Busy<'_> {
        if let Ok(mut b) = self.busy.lock() {
            b.insert(name.to_string());
        }
        Busy(self, name.to_string())
    }

    /// VMs whose spec says they run here but whose QEMU is gone (and nobody is starting,
    /// stopping or migrating them). Each is reported until `reported` sets its spec aside, so
    /// a report lost with the connection is made again on the next one.
    pub fn reap(&self) -> Vec<String> {
        let Ok(rd) = std::fs::read_dir(&self.run_dir) else {
            return Vec::new();
        };
        let busy = self.busy.lock().map(|b| b.clone()).unwrap_or_default();
        let mut out = Vec::new();
        for name in rd
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().into_string().ok())
        {
            let dir = self.vm_dir(&name);
            if busy.contains(&name) || !dir.join("spec.json").exists() || self.pid(&name).is_some()
            {
                continue;
            }
            out.push(name);
        }
        out
    }

    /// The server knows the VM is gone: its taps go and its spec is set aside.
    pub fn forget_gone(&self, name: &str) {
        if self.pid(name).is_some() {
            return;
        }
        let dir = self.vm_dir(name);
        if let Some(s) = self.spec_of(name) {
            self.remove_taps(&s);
        }
        let _ = std::fs::rename(dir.join("spec.json"), dir.join("spec.gone.json"));
    }

    fn vm_dir(&self, name: &str) -> PathBuf {
        self.run_dir.join(name)
    }

    /// The pid of the VM's QEMU when it runs.
    pub fn pid(&self, name: &str) -> Option<u32> {
        alive(&self.vm_dir(name).join("qemu.pid"), "qemu")
    }

    /// The VNC socket of a running VM (the console).
    pub fn vnc_socket(&self, name: &str) -> Option<PathBuf> {
        self.pid(name)?;
        Some(self.vm_dir(name).join("vnc.sock"))
    }

    async fn qmp(&self, name: &str) -> crate::HostResult<Qmp> {
        Qmp::connect(&self.vm_dir(name).join("qmp.sock")).await
    }

    /// Names of the VMs whose QEMU runs.
    pub fn running(&self) -> Vec<String> {
        let Ok(rd) = std::fs::read_dir(&self.run_dir) else {
            return Vec::new();
        };
        let mut v: Vec<String> = rd
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| self.pid(n).is_some())
            .collect();
        v.sort();
        v
    }

    fn spec_of(&self, name: &str) -> Option<VmSpec> {
        std::fs::read(self.vm_dir(name).join("spec.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
    }

    /// Creates the VM's taps (joined to their bridges when the data plane has them).
    fn taps(&self, vm: &VmSpec) -> crate::HostResult<()> {
        for n in &vm.nics {
            let exists = self
                .sys
                .run("ip", &["link", "show", "dev", &n.tap], None)
                .is_ok();
            if !exists {
                self.sys
                    .run("ip", &["tuntap", "add", "dev", &n.tap, "mode", "tap"], None)?;
            }
            if let Some(b) = self.net.bridge_of(&n.tap) {
                self.net.join_tap(&n.tap, &b)?;
            }
        }
        Ok(())
    }

    fn remove_taps(&self, vm: &VmSpec) {
        for n in &vm.nics {
            let _ = self.sys.run("ip", &["link", "del", "dev", &n.tap], None);
        }
    }

    async fn start(&self, vm: &VmSpec, incoming: Option<u16>) -> crate::HostResult<Value> {
        let _busy = self.busy(&vm.name);
        if self.pid(&vm.name).is_some() {
            return Ok(json!({"state": "Running"}));
        }
        if let Some(d) = vm.disks.iter().find(|d| d.path.is_empty()) {
            return Err(crate::HostError::Refused(format!(
                "disk {} has no path",
                d.volume_id
            )));
        }
        let dir = self.vm_dir(&vm.name);
        std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        for f in [
            "qmp.sock",
            "vnc.sock",
            "serial.sock",
            guest::QGA_SOCKET,
            "qemu.pid",
        ] {
            let _ = std::fs::remove_file(dir.join(f));
        }
        let spec = serde_json::to_vec_pretty(&without_secrets(vm)).map_err(|e| e.to_string())?;
        crate::procs::write_atomic(&dir.join("spec.json"), &spec).map_err(|e| e.to_string())?;
        // Encrypted volumes' keys, for QEMU to read at start (removed once it runs, or fails).
        let key_files = write_keys(&dir, vm)?;
        match &vm.config_drive {
            Some(drive) => {
                self.config_drive_iso(&dir, drive).await?;
            }
            None => {
                let _ = std::fs::remove_file(dir.join(configdrive::ISO));
            }
        }
        if let (Some(iso), Some(root)) = (vm.iso, vm.disks.first()) {
            if let Some(pool) = Path::new(&root.path).parent() {
                self.iso_file(pool, iso).await?;
            }
        }
        self.taps(vm)?;
        let mut args = self.command_line(vm, &dir);
        if let Some(port) = incoming {
            args.push("-incoming".into());
            args.push(format!("tcp:{}:{port}", self.address));
        }
        let sys = self.sys.clone();
        let log = dir.join("qemu.log");
        let started = tokio::task::spawn_blocking(move || {
            let a: Vec<&str> = args.iter().map(String::as_str).collect();
            sys.run_daemon("qemu-system-x86_64", &a, &log)
        })
        .await
        .map_err(|e| e.to_string());
        // `-daemonize` returns once QEMU has initialised: it has read its keys.
        for f in key_files {
            let _ = std::fs::remove_file(f);
        }
        started??;
        let mut q = self.qmp(&vm.name).await?;
        let st = q.execute("query-status", Value::Null).await?;
        tracing::info!(vm = %vm.name, status = %st["status"], "QEMU started");
        drop(q);
        self.enable_balloon_stats(&vm.name).await;
        Ok(json!({"state": "Running"}))
    }

    async fn wait_gone(&self, name: &str, within: Duration) -> bool {
        let end = tokio::time::Instant::now() + within;
        while tokio::time::Instant::now() < end {
            if self.pid(name).is_none() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.pid(name).is_none()
    }

    async fn stop(&self, name: &str, force: bool) -> crate::HostResult<Value> {
        let _busy = self.busy(name);
        let spec = self.spec_of(name);
        if let Some(pid) = self.pid(name) {
            if !force {
                // The guest's agent first (a clean shutdown the guest OS itself carries
                // out), the ACPI power button when no agent answers.
                let by_agent = self.powerdown_through_agent(name).await;
                if !by_agent {
                    if let Ok(mut q) = self.qmp(name).await {
                        let _ = q.execute("system_powerdown", Value::Null).await;
                    }
                }
                if !self.wait_gone(name, self.stop_timeout).await {
                    tracing::warn!(
                        vm = name,
                        by_agent,
                        "the guest did not power off in time; quitting QEMU"
                    );
                }
            }
            if self.pid(name).is_some() {
                if let Ok(mut q) = self.qmp(name).await {
                    let _ = q.execute("quit", Value::Null).await;
                }
                if !self.wait_gone(name, Duration::from_secs(5)).await {
                    stop_pid_async(pid).await;
                }
            }
        }
        if let Some(s) = spec {
            self.remove_taps(&s);
        }
        let _ = std::fs::remove_file(self.vm_dir(name).join("spec.json"));
        Ok(json!({"state": "Stopped"}))
    }

    fn update_spec(&self, vm: &str, f: impl FnOnce(&mut VmSpec)) {
        if let Some(mut s) = self.spec_of(vm) {
            f(&mut s);
            if let Ok(b) = serde_json::to_vec_pretty(&without_secrets(&s)) {
                let _ = crate::procs::write_atomic(&self.vm_dir(vm).join("spec.json"), &b);
            }
        }
    }

    async fn apply(&self, command: &Command) -> crate::HostResult<Value> {
        match command {
            Command::Ping => Ok(json!({"pong": true})),
            Command::StorageStat { path } => {
                let _ = std::fs::create_dir_all(path);
                crate::driver::storage_stat(path).await
            }
            Command::CreateVolume { volume } => self.create_volume(volume).await,
            Command::DeleteVolume {
                pool_path,
                volume_id,
            } => self.delete_volume(pool_path, *volume_id),
            Command::ResizeVolume {
                pool_path,
                volume_id,
                size_bytes,
            } => self.resize_volume(pool_path, *volume_id, *size_bytes).await,
            Command::SnapshotVolume {
                pool_path,
                volume_id,
                snapshot_id,
                vm,
            } => {
                self.snapshot_volume(pool_path, *volume_id, *snapshot_id, vm.as_deref())
                    .await
            }
            Command::BackupSnapshot {
                pool_path,
                snapshot_id,
            } => self.backup_snapshot(pool_path, *snapshot_id).await,
            Command::DeleteSnapshotCopy {
                pool_path,
                snapshot_id,
            } => self.delete_snapshot_copy(pool_path, *snapshot_id),
            Command::RevertVolume {
                pool_path,
                volume_id,
                snapshot_id,
            } => {
                self.revert_volume(pool_path, *volume_id, *snapshot_id)
                    .await
            }
            Command::UploadVolume {
                pool_path,
                volume_id,
                kind,
                id,
            } => self.upload_volume(pool_path, *volume_id, kind, *id).await,
            Command::MigrateVolume {
                volume_id,
                from_pool,
                to_pool,
                vm,
            } => {
                self.migrate_volume(*volume_id, from_pool, to_pool, vm.as_deref())
                    .await
            }
            Command::CreateVmSnapshot {
                vm,
                tag,
                memory,
                disks,
            } => self.create_vm_snapshot(vm, tag, *memory, disks).await,
            Command::RevertVmSnapshot {
                vm,
                tag,
                memory,
                disks,
            } => self.revert_vm_snapshot(vm, tag, *memory, disks).await,
            Command::DeleteVmSnapshot { vm, tag, disks } => {
                self.delete_vm_snapshot(vm, tag, disks).await
            }
            Command::StartVm { vm } => self.start(vm, None).await,
            Command::PrepareMigration { vm, storage } => {
                if !storage.is_empty() {
                    self.create_targets(storage).await?;
                }
                self.start(vm, Some(proto::migration_port(&vm.name))).await?;
                if !storage.is_empty() {
                    self.export_disks(&vm.name, storage).await?;
                }
                Ok(json!({}))
            }
            Command::EndDiskExport { name } => self.end_disk_export(name).await,
            Command::DiskSizes { vm, volumes } => self.disk_sizes(vm, volumes).await,
            Command::StopVm { name, force } => self.stop(name, *force).await,
            Command::RebootVm { name } => {
                if self.pid(name).is_none() {
                    return Err(crate::HostError::VmNotHere(name.to_string()));
                }
                self.qmp(name)
                    .await?
                    .execute("system_reset", Value::Null)
                    .await?;
                Ok(json!({"state": "Running"}))
            }
            Command::MigrateVm {
                name,
                dest,
                storage,
            } => self.migrate(name, dest, storage).await,
            Command::UpdateConfigDrive { name, drive } => {
                self.update_config_drive(name, drive).await
            }
            Command::ChangeIso {
                name,
                iso,
                pool_path,
            } => self.change_iso(name, *iso, pool_path).await,
            Command::AttachDisk { vm, disk } => self.attach(vm, disk).await,
            Command::DetachDisk { vm, volume_id } => self.detach(vm, *volume_id).await,
            Command::ScaleVm { name, .. } => Err(crate::HostError::Refused(format!(
                "VM {name} runs on QEMU, which this driver does not resize while running: stop it and change its offering"
            ))),
            Command::CheckHost { address } => {
                // A peer is alive when it answers on the agent's underlay (ICMP echo). When
                // the probe itself cannot run (no busybox, no raw socket, a bad address), the
                // answer is "cannot tell" (an error), never "dead": the server fences a host
                // only on peers that really saw it silent.
                let a = address.clone();
                let alive = tokio::task::spawn_blocking(move || {
                    let out = std::process::Command::new("busybox")
                        .args(["ping", "-c", "1", "-W", "1", &a])
                        .stdin(std::process::Stdio::null())
                        .output()
                        .map_err(|e| crate::HostError::Undetermined(format!("cannot tell whether {a} is alive: busybox ping: {e}")))?;
                    ping_verdict(
                        out.status.code(),
                        &String::from_utf8_lossy(&out.stdout),
                        &String::from_utf8_lossy(&out.stderr),
                    )
                    .map_err(|e| crate::HostError::Undetermined(format!("cannot tell whether {a} is alive: {e}")))
                })
                .await
                .map_err(|e| format!("the host check did not finish: {e}"))??;
                Ok(json!({"alive": alive}))
            }
            Command::ListVms => crate::driver::to_reply(&proto::VmList::running(
                self.running(),
                Vec::new(),
            )),
            Command::ApplyNetwork {
                generation,
                desired,
            } => {
                let net = self.net.clone();
                let (g, d) = (*generation, desired.clone());
                let now = tokio::task::spawn_blocking(move || net.apply(g, &d))
                    .await
                    .map_err(|e| e.to_string())??;
                Ok(json!({"generation": now, "stale": now != *generation}))
            }
            Command::S2sStatus {
                namespace,
                connections,
            } => {
                let net = self.net.clone();
                let (ns, conns) = (namespace.clone(), connections.clone());
                let states = tokio::task::spawn_blocking(move || net.s2s_status(&ns, &conns))
                    .await
                    .map_err(|e| e.to_string())??;
                Ok(json!({ "connections": states }))
            }
            Command::S2sReset {
                namespace,
                connection,
                initiate,
            } => {
                let net = self.net.clone();
                let (ns, c, i) = (namespace.clone(), *connection, *initiate);
                tokio::task::spawn_blocking(move || net.s2s_reset(&ns, c, i))
                    .await
                    .map_err(|e| e.to_string())??;
                Ok(json!({}))
            }
            other => Err(crate::HostError::Refused(format!("unsupported command {other:?}"))),
        }
    }
}

impl Driver for QemuDriver {
    fn handle<'a>(
        &'a self,
        command: &'a Command,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = crate::HostResult<Value>> + Send + 'a>>
    {
        Box::pin(self.apply(command))
    }

    fn vnc_socket(&self, vm: &str) -> Option<PathBuf> {
        QemuDriver::vnc_socket(self, vm)
    }

    fn gone(&self) -> Vec<String> {
        self.reap()
    }

    fn vm_count(&self) -> Option<u64> {
        Some(self.running().len() as u64)
    }

    fn reported(&self, vm: &str) {
        self.forget_gone(vm)
    }

    fn gone_every(&self) -> Option<Duration> {
        Some(Duration::from_secs(1))
    }

    fn passwords_saved(&self) -> Vec<uuid::Uuid> {
        self.net.data.take_acknowledged()
    }

    fn guest_stats(
        &self,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Vec<model::stats::GuestStats>> + Send + '_>,
    > {
        Box::pin(QemuDriver::guest_stats(self))
    }
}

/// Summary of the VMs a restarted agent found running (logged at start).
pub fn adopted(d: &QemuDriver) -> Adopted {
    d.running()
        .into_iter()
        .filter_map(|n| d.pid(&n).map(|p| (n, p)))
        .collect()
}

/// `stop_pid` (which waits up to 2 s) off the async workers.
async fn stop_pid_async(pid: u32) {
    let _ = tokio::task::spawn_blocking(move || crate::procs::stop_pid(pid)).await;
}

/// VMs a starting agent found running: instance name → QEMU pid.
pub type Adopted = BTreeMap<String, u32>;

/// The driver for this machine: QEMU and the Linux data plane when QEMU is installed (the
/// inventory then advertises the `vms` capability), else a driver that only measures
/// storage. `run_dir` holds VMs' and routers' runtime files. Also answers the VMs found
/// running (adopted after an agent restart), with their QEMU pids.
pub fn for_this_machine(
    inventory: &mut proto::Inventory,
    run_dir: &Path,
    public_uplink: Option<String>,
    images: ImageSource,
) -> crate::HostResult<(Arc<dyn Driver>, Adopted)> {
    if crate::inventory::qemu_version().is_none() {
        return Ok((Arc::new(crate::driver::LocalDriver), BTreeMap::new()));
    }
    std::fs::create_dir_all(run_dir.join("vms"))
        .map_err(|e| format!("creating {}: {e}", run_dir.display()))?;
    let sys: Arc<dyn Sys> = Arc::new(crate::sys::RealSys);
    let net = Arc::new(LinuxNet::new(
        sys.clone(),
        run_dir.join("net"),
        public_uplink,
    ));
    let mut q = QemuDriver::new(
        sys.clone(),
        run_dir.join("vms"),
        &inventory.accelerator,
        net,
        images,
        &inventory.address,
    );
    q.run_as = QemuUser::for_this_host(sys.as_ref());
    if !inventory.capabilities.iter().any(|c| c == "vms") {
        inventory.capabilities.push("vms".into());
    }
    let adopted = adopted(&q);
    if !adopted.is_empty() {
        tracing::info!(count = adopted.len(), vms = ?adopted, "adopted running VMs");
    }
    Ok((Arc::new(q), adopted))
}

#[cfg(test)]
mod tests;

/// A VM's spec as it is kept on the host: without its volumes' keys (a running QEMU has
/// them; a restart comes with them from the server).
fn without_secrets(vm: &VmSpec) -> VmSpec {
    let mut s = vm.clone();
    for d in &mut s.disks {
        d.secret = None;
    }
    s
}

/// Writes the keys of a VM's encrypted volumes into its directory (mode 0600, root's) for
/// QEMU to read at start; the files written.
fn write_keys(dir: &Path, vm: &VmSpec) -> crate::HostResult<Vec<PathBuf>> {
    let mut out = Vec::new();
    for d in &vm.disks {
        if let Some(k) = &d.secret {
            let f = dir.join(cmdline::secret_file(d.volume_id));
            disks::write_key(&f, k)?;
            out.push(f);
        }
    }
    Ok(out)
}
