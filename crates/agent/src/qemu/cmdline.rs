//! QEMU's command line for a VM.

use std::path::Path;

use proto::VmSpec;

use super::QemuDriver;

/// The QEMU secret object holding an encrypted volume's key.
pub(super) fn secret_id(volume: uuid::Uuid) -> String {
    format!("sec-{}", volume.simple())
}

/// The file (in the VM's directory) QEMU reads that key from at start.
pub(super) fn secret_file(volume: uuid::Uuid) -> String {
    format!("{}.key", secret_id(volume))
}

/// How many hot-plug slots (PCIe root ports) a VM gets for data disks.
pub(super) const HOTPLUG_PORTS: u32 = 6;

impl QemuDriver {
    /// The user this VM's QEMU drops to: none when the user could not reach the directory
    /// of one of its disks (QEMU reopens disks after dropping — hot-plug, the end of an
    /// incoming migration), so such a host keeps working, as root, and says why.
    pub fn run_as_for(&self, vm: &VmSpec) -> Option<&super::QemuUser> {
        let u = self.run_as.as_ref()?;
        for d in &vm.disks {
            let dir = Path::new(&d.path).parent()?;
            if let Some(blocked) = super::disks::unreachable_for(dir, u) {
                tracing::warn!(vm = %vm.name, user = %u.name, dir = %blocked.display(), "QEMU's user cannot enter this directory on the way to the VM's disks; this VM's QEMU keeps root (chmod o+x it)");
                return None;
            }
        }
        Some(u)
    }

    /// QEMU's command line for a VM (without `-incoming`).
    pub fn command_line(&self, vm: &VmSpec, dir: &Path) -> Vec<String> {
        let d = |f: &str| dir.join(f).display().to_string();
        let kvm = self.accel == "kvm";
        let mut a: Vec<String> = vec![
            "-name".into(),
            format!("{},process={}", vm.name, vm.name),
            "-machine".into(),
            format!("q35,accel={}", if kvm { "kvm" } else { "tcg" }),
            "-cpu".into(),
            if kvm { "host" } else { "max" }.into(),
            "-smp".into(),
            vm.cpus.max(1).to_string(),
            "-m".into(),
            vm.memory_mib.max(64).to_string(),
            "-nodefaults".into(),
            "-no-user-config".into(),
            // The guest sees a CloudStack KVM guest (cloud-init's ds-identify finds its
            // CloudStack datasource by this product name) and its VM's UUID.
            "-uuid".into(),
            vm.id.hyphenated().to_string(),
            "-smbios".into(),
            "type=1,manufacturer=Apache Software Foundation,product=CloudStack KVM Hypervisor"
                .into(),
            "-display".into(),
            "none".into(),
            "-device".into(),
            "VGA".into(),
            "-vnc".into(),
            format!("unix:{}", d("vnc.sock")),
            "-qmp".into(),
            format!("unix:{},server=on,wait=off", d("qmp.sock")),
            "-chardev".into(),
            format!(
                "socket,id=ser0,path={},server=on,wait=off,logfile={},logappend=on",
                d("serial.sock"),
                d("serial.log")
            ),
            "-serial".into(),
            "chardev:ser0".into(),
            // The guest agent's channel (qemu-guest-agent opens org.qemu.guest_agent.0).
            "-chardev".into(),
            format!(
                "socket,id=qga0,path={},server=on,wait=off",
                d(super::guest::QGA_SOCKET)
            ),
            "-device".into(),
            "virtio-serial-pci,id=vser0".into(),
            "-device".into(),
            "virtserialport,bus=vser0.0,chardev=qga0,name=org.qemu.guest_agent.0".into(),
            // The balloon: the guest's own memory figures (statistics).
            "-device".into(),
            "virtio-balloon-pci,id=balloon0".into(),
            "-pidfile".into(),
            d("qemu.pid"),
            "-daemonize".into(),
            // QEMU's seccomp filter: no obsolete system calls, no changes to scheduling or
            // resource limits. (`elevateprivileges=deny` and `spawn=deny` would stop
            // `-daemonize` itself — both checked with this QEMU.)
            "-sandbox".into(),
            "on,obsolete=deny,resourcecontrol=deny".into(),
        ];
        if let Some(u) = self.run_as_for(vm) {
            // Everything above is opened as root; then QEMU becomes this user.
            a.push("-run-with".into());
            a.push(format!("user={}:{}", u.uid, u.gid));
        }
        for i in 1..=HOTPLUG_PORTS {
            a.push("-device".into());
            a.push(format!("pcie-root-port,id=hp{i},chassis={i},slot={i}"));
        }
        for (i, disk) in vm.disks.iter().enumerate() {
            let mut drive = format!(
                "file={},if=none,id=drive-{},format=qcow2,cache={}",
                disk.path,
                disk.volume_id,
                cache_mode(disk)
            );
            // The offering's I/O limits: QEMU's block throttling on the drive.
            for (k, v) in disk.limits.iter().flat_map(|l| l.qemu()) {
                drive.push_str(&format!(",throttling.{k}={v}"));
            }
            // An encrypted volume: LUKS inside qcow2, its key a secret object read (as root,
            // before QEMU drops to its user) from a file that is deleted once QEMU runs.
            if disk.secret.is_some() {
                let id = secret_id(disk.volume_id);
                a.push("-object".into());
                a.push(format!(
                    "secret,id={id},file={}",
                    d(&secret_file(disk.volume_id))
                ));
                drive.push_str(&format!(",encrypt.format=luks,encrypt.key-secret={id}"));
            }
            a.push("-drive".into());
            a.push(drive);
            a.push("-device".into());
            a.push(format!(
                "virtio-blk-pci,drive=drive-{},id=disk-{}{}",
                disk.volume_id,
                disk.volume_id,
                if i == 0 { ",bootindex=1" } else { "" }
            ));
        }
        // Every VM has a SCSI CD-ROM for ISOs (attachIso swaps its medium while it runs; empty
        // until then); a VM deployed from an ISO boots from it first.
        a.extend([
            "-device".into(),
            "virtio-scsi-pci,id=scsi0".into(),
            "-drive".into(),
        ]);
        match vm.iso.and_then(|i| iso_path(vm, i)) {
            Some(p) => a.push(format!(
                "file={},if=none,id=drive-iso,media=cdrom,readonly=on,format=raw",
                p.display()
            )),
            None => a.push("if=none,id=drive-iso,media=cdrom,readonly=on".into()),
        }
        a.extend([
            "-device".into(),
            format!(
                "scsi-cd,bus=scsi0.0,drive=drive-iso,id={ISO_DEVICE}{}",
                if vm.boot_iso && vm.iso.is_some() {
                    ",bootindex=0"
                } else {
                    ""
                }
            ),
        ]);
        if vm.config_drive.is_some() {
            // The config drive: a read-only SCSI CD-ROM (its medium is swapped when the data
            // changes).
            a.extend([
                "-drive".into(),
                format!(
                    "file={},if=none,id=drive-config,media=cdrom,readonly=on,format=raw",
                    d(super::configdrive::ISO)
                ),
                "-device".into(),
                format!(
                    "scsi-cd,bus=scsi0.0,drive=drive-config,id={}",
                    super::configdrive::DEVICE
                ),
            ]);
        }
        for (i, n) in vm.nics.iter().enumerate() {
            a.push("-netdev".into());
            a.push(format!(
                "tap,id=net{i},ifname={},script=no,downscript=no,vhost=off",
                n.tap
            ));
            a.push("-device".into());
            a.push(format!("virtio-net-pci,netdev=net{i},mac={}", n.mac));
        }
        if let (Some(t), Some(root)) = (vm.template_id, vm.disks.first()) {
            let tdir = Path::new(&root.path)
                .parent()
                .map(|p| p.join("templates"))
                .unwrap_or_default();
            let kernel = tdir.join(format!("{t}.kernel"));
            let initrd = tdir.join(format!("{t}.initrd"));
            if kernel.exists() {
                a.extend([
                    "-kernel".into(),
                    kernel.display().to_string(),
                    "-append".into(),
                    format!("console=ttyS0 panic=-1 quiet canopy.name={}", vm.hostname),
                ]);
                if initrd.exists() {
                    a.extend(["-initrd".into(), initrd.display().to_string()]);
                }
            }
        }
        a
    }
}

/// The device id of every VM's ISO CD-ROM.
pub(super) const ISO_DEVICE: &str = "cd-iso";

/// Where an ISO is cached on a host: next to the templates of the VM's root disk's pool.
pub(super) fn iso_path(vm: &VmSpec, iso: uuid::Uuid) -> Option<std::path::PathBuf> {
    let root = vm.disks.first()?;
    Some(iso_cache(Path::new(&root.path).parent()?, iso))
}

/// The cached copy of an ISO in a pool directory.
pub(super) fn iso_cache(pool: &Path, iso: uuid::Uuid) -> std::path::PathBuf {
    pool.join("templates").join(format!("{iso}.iso"))
}

/// A disk's cache mode as QEMU takes it (`none`, `writeback`, `writethrough`; anything else —
/// the server refuses it — is writeback).
pub(super) fn cache_mode(disk: &proto::DiskSpec) -> &'static str {
    match disk
        .cache
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("none") => "none",
        Some("writethrough") => "writethrough",
        _ => "writeback",
    }
}
