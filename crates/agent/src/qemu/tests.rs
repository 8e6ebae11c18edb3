//! The QEMU driver's command lines and bookkeeping, through the fake `Sys`.

use super::*;
use crate::sys::FakeSys;
use uuid::Uuid;

fn driver(dir: &Path) -> QemuDriver {
    let sys: Arc<dyn Sys> = Arc::new(FakeSys::default());
    let net = Arc::new(LinuxNet::new(sys.clone(), dir.join("net"), None));
    QemuDriver::new(
        sys,
        dir.join("vms"),
        "tcg",
        net,
        ImageSource::default(),
        "10.0.0.5",
    )
}

fn spec(pool: &Path, template: Option<Uuid>) -> VmSpec {
    VmSpec {
        id: Uuid::nil(),
        name: "i-2-7-VM".into(),
        hostname: "web1".into(),
        cpus: 2,
        cpu_mhz: 1000,
        memory_mib: 256,
        disks: vec![
            proto::DiskSpec {
                volume_id: Uuid::from_u128(1),
                path: pool.join("root.qcow2").display().to_string(),
                device_id: 0,
                ..Default::default()
            },
            proto::DiskSpec {
                volume_id: Uuid::from_u128(2),
                path: pool.join("data.qcow2").display().to_string(),
                device_id: 1,
                ..Default::default()
            },
        ],
        userdata: None,
        ssh_keys: Vec::new(),
        nics: vec![proto::NicSpec {
            nic_id: Uuid::from_u128(3),
            mac: "02:00:00:00:00:07".into(),
            tap: "vt0000000003".into(),
        }],
        template_id: template,
        config_drive: None,
        iso: None,
        boot_iso: false,
    }
}

fn drive() -> proto::ConfigDrive {
    let mut d = proto::ConfigDrive::default();
    d.put(
        "openstack/latest/meta_data.json",
        br#"{"uuid":"u1","hostname":"web1"}"#,
    );
    d.put("openstack/latest/user_data", b"#cloud-config\n");
    d.put("cloudstack/metadata/vm-id.txt", b"u1");
    d
}

#[test]
fn command_line_boots_the_template_kernel_directly_when_the_pool_caches_it() {
    let dir = tempfile::tempdir().expect("tmp");
    let pool = dir.path().join("pool");
    let t = Uuid::from_u128(9);
    std::fs::create_dir_all(pool.join("templates")).expect("mkdir");
    let d = driver(dir.path());
    let vm_dir = dir.path().join("vms/i-2-7-VM");
    let without = d.command_line(&spec(&pool, Some(t)), &vm_dir).join(" ");
    assert!(!without.contains("-kernel"), "{without}");
    std::fs::write(pool.join(format!("templates/{t}.kernel")), b"k").expect("write");
    std::fs::write(pool.join(format!("templates/{t}.initrd")), b"i").expect("write");
    let a = d.command_line(&spec(&pool, Some(t)), &vm_dir).join(" ");
    for want in [
        "-machine q35,accel=tcg",
        "-cpu max",
        "-smp 2",
        "-m 256",
        &format!(
            "-kernel {}",
            pool.join(format!("templates/{t}.kernel")).display()
        ),
        &format!(
            "-initrd {}",
            pool.join(format!("templates/{t}.initrd")).display()
        ),
        "console=ttyS0",
        "canopy.name=web1",
        "tap,id=net0,ifname=vt0000000003,script=no,downscript=no,vhost=off",
        "virtio-net-pci,netdev=net0,mac=02:00:00:00:00:07",
        "bootindex=1",
        &format!("-vnc unix:{}", vm_dir.join("vnc.sock").display()),
        "-daemonize",
        "-sandbox on,obsolete=deny,resourcecontrol=deny",
    ] {
        assert!(a.contains(want), "missing {want:?} in {a}");
    }
    // Root first, the data disk second, without a boot index.
    let root = a
        .find("drive-00000000-0000-0000-0000-000000000001")
        .expect("root");
    let data = a
        .find("drive-00000000-0000-0000-0000-000000000002")
        .expect("data");
    assert!(root < data);
    assert_eq!(a.matches("bootindex").count(), 1);
}

#[test]
fn kvm_hosts_use_the_host_cpu() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut d = driver(dir.path());
    d.accel = "kvm".into();
    let a = d
        .command_line(&spec(dir.path(), None), dir.path())
        .join(" ");
    assert!(
        a.contains("q35,accel=kvm") && a.contains("-cpu host"),
        "{a}"
    );
}

#[test]
fn qemu_drops_to_its_unprivileged_user_when_one_is_set() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut d = driver(dir.path());
    let a = d
        .command_line(&spec(dir.path(), None), dir.path())
        .join(" ");
    assert!(!a.contains("-run-with"), "{a}");
    d.run_as =
        super::QemuUser::from_passwd("canopy-qemu:x:990:985::/nonexistent:/usr/sbin/nologin\n");
    assert_eq!(d.run_as.as_ref().map(|u| (u.uid, u.gid)), Some((990, 985)));
    use std::os::unix::fs::PermissionsExt;
    let open_to_all = |mode| {
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(mode)).expect("chmod")
    };
    open_to_all(0o755);
    let a = d
        .command_line(&spec(dir.path(), None), dir.path())
        .join(" ");
    assert!(a.contains("-run-with user=990:985"), "{a}");
    // A disk directory the user could not enter later (hot-plug, migration): this VM's QEMU
    // keeps root rather than fail then.
    open_to_all(0o700);
    let a = d
        .command_line(&spec(dir.path(), None), dir.path())
        .join(" ");
    assert!(!a.contains("-run-with"), "{a}");
    // Never "switch" to root, and a line that is not a passwd entry is no user.
    assert_eq!(
        super::QemuUser::from_passwd("root:x:0:0:root:/root:/bin/bash"),
        None
    );
    assert_eq!(super::QemuUser::from_passwd("garbage"), None);
}

#[test]
fn a_vm_whose_qemu_is_gone_is_reported_until_the_server_has_it_and_busy_ones_never() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = driver(dir.path());
    // A live process that is not QEMU (not this test binary: its command line may name a
    // test filter such as "qemu").
    let mut other = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .expect("sleep");
    for name in ["i-1-1-VM", "i-1-2-VM"] {
        let vm = d.vm_dir(name);
        std::fs::create_dir_all(&vm).expect("mkdir");
        std::fs::write(vm.join("spec.json"), b"{}").expect("write");
        std::fs::write(vm.join("qemu.pid"), other.id().to_string()).expect("write");
    }
    let busy = d.busy("i-1-2-VM");
    assert_eq!(d.reap(), vec!["i-1-1-VM".to_string()]);
    assert_eq!(
        d.reap(),
        vec!["i-1-1-VM".to_string()],
        "reported again until the server has it"
    );
    d.forget_gone("i-1-1-VM");
    assert!(d.reap().is_empty(), "not after");
    drop(busy);
    assert_eq!(d.reap(), vec!["i-1-2-VM".to_string()]);
    assert!(d.running().is_empty());
    let _ = other.kill();
    let _ = other.wait();
}

#[test]
fn migration_ports_are_stable_and_in_the_dynamic_range() {
    let p = proto::migration_port("i-2-7-VM");
    assert_eq!(p, proto::migration_port("i-2-7-VM"));
    assert!(p >= 49152);
}

#[test]
fn a_failed_probe_is_cannot_tell_not_dead() {
    use super::ping_verdict;
    assert_eq!(
        ping_verdict(Some(0), "1 packets transmitted, 1 packets received", ""),
        Ok(true)
    );
    assert_eq!(
        ping_verdict(
            Some(1),
            "PING 10.0.0.9 (10.0.0.9): 56 data bytes\n\n--- 10.0.0.9 ping statistics ---\n1 packets transmitted, 0 packets received, 100% packet loss\n",
            ""
        ),
        Ok(false)
    );
    // No raw socket, a bad address, a missing tool, a signal: nothing can be concluded.
    assert!(ping_verdict(Some(1), "", "ping: permission denied (are you root?)").is_err());
    assert!(ping_verdict(Some(1), "", "ping: bad address 'x'").is_err());
    assert!(ping_verdict(Some(127), "", "").is_err());
    assert!(ping_verdict(None, "", "").is_err());
}

#[test]
fn a_config_drive_is_a_read_only_scsi_cdrom_built_from_the_staged_files() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = driver(dir.path());
    let vm_dir = dir.path().join("vms/i-2-7-VM");
    let mut vm = spec(dir.path(), None);
    let plain = d.command_line(&vm, &vm_dir).join(" ");
    assert!(!plain.contains("drive-config"), "{plain}");
    // Every VM has an empty CD-ROM for ISOs.
    assert!(
        plain.contains("if=none,id=drive-iso,media=cdrom,readonly=on -device scsi-cd,bus=scsi0.0,drive=drive-iso,id=cd-iso "),
        "{plain}"
    );
    vm.config_drive = Some(drive());
    let a = d.command_line(&vm, &vm_dir).join(" ");
    for want in [
        "virtio-scsi-pci,id=scsi0".to_string(),
        format!(
            "file={},if=none,id=drive-config,media=cdrom,readonly=on,format=raw",
            vm_dir.join("config-2.iso").display()
        ),
        "scsi-cd,bus=scsi0.0,drive=drive-config,id=cd-config".into(),
    ] {
        assert!(a.contains(&want), "missing {want:?} in {a}");
    }
    // The root disk still boots first.
    assert_eq!(a.matches("bootindex").count(), 1);

    let staging = dir.path().join("stage");
    std::fs::create_dir_all(staging.join("stale")).expect("mkdir");
    super::configdrive::stage(&drive(), &staging).expect("stage");
    assert_eq!(
        std::fs::read_to_string(staging.join("openstack/latest/user_data")).expect("read"),
        "#cloud-config\n"
    );
    assert!(staging.join("cloudstack/metadata/vm-id.txt").exists());
    assert!(!staging.join("stale").exists(), "emptied first");
    let args = super::configdrive::iso_args(Path::new("/x/c.iso"), &staging).join(" ");
    assert!(
        args.starts_with("-o /x/c.iso -ldots -allow-lowercase -allow-multidot"),
        "{args}"
    );
    assert!(args.contains("-J -r -V config-2"), "{args}");

    // Paths that would leave the staging directory are refused whole.
    let mut bad = drive();
    bad.put("../../etc/passwd", b"x");
    assert!(super::configdrive::stage(&bad, &staging).is_err());
    let mut bad = drive();
    bad.put("/etc/passwd", b"x");
    assert!(bad.decoded().is_err());
    let mut bad = drive();
    bad.put("openstack/latest", b"x");
    assert!(bad.decoded().is_err(), "a file where a directory is");
}

/// genisoimage makes the volume cloud-init finds: ISO 9660 labelled config-2, with the
/// files under their own (lower-case, several-dot) names.
#[test]
fn genisoimage_builds_a_config_2_volume_with_the_files() {
    let found = ["/usr/bin/genisoimage", "/usr/bin/isoinfo"]
        .iter()
        .all(|t| Path::new(t).exists());
    if !found {
        testkit::skip(
            "genisoimage_builds_a_config_2_volume_with_the_files",
            "genisoimage is not installed (scripts/install-deps.sh installs it)",
            "CANOPY_REQUIRE_TOOLS",
        );
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let iso =
        super::configdrive::build(&crate::sys::RealSys, None, dir.path(), &drive()).expect("build");
    assert_eq!(iso, dir.path().join("config-2.iso"));
    assert!(!dir.path().join("config-drive").exists(), "staging removed");
    let info = std::process::Command::new("isoinfo")
        .args(["-d", "-i"])
        .arg(&iso)
        .output()
        .expect("isoinfo");
    let info = String::from_utf8_lossy(&info.stdout);
    assert!(info.contains("Volume id: config-2"), "{info}");
    assert!(info.contains("Rock Ridge"), "{info}");
    let read = |p: &str| {
        let o = std::process::Command::new("isoinfo")
            .args(["-R", "-x", p, "-i"])
            .arg(&iso)
            .output()
            .expect("isoinfo");
        String::from_utf8_lossy(&o.stdout).to_string()
    };
    assert_eq!(
        read("/openstack/latest/meta_data.json"),
        r#"{"uuid":"u1","hostname":"web1"}"#
    );
    assert_eq!(read("/cloudstack/metadata/vm-id.txt"), "u1");
}

/// A real QEMU: a running VM's disk is copied by a backup job while the VM runs (the copy is
/// a standalone image equal to the disk), a stopped VM's by `qemu-img convert`, and a copy
/// that exists is not taken again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_copy_a_running_and_a_stopped_disk() {
    let found = [
        "/usr/bin/qemu-system-x86_64",
        "/usr/bin/qemu-img",
        "/usr/bin/qemu-io",
    ]
    .iter()
    .all(|t| Path::new(t).exists());
    if !found {
        testkit::skip(
            "snapshots_copy_a_running_and_a_stopped_disk",
            "QEMU is not installed (scripts/install-deps.sh installs it)",
            "CANOPY_REQUIRE_TOOLS",
        );
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let pool = dir.path().join("pool");
    std::fs::create_dir_all(&pool).expect("pool");
    let vol = Uuid::new_v4();
    let disk = pool.join(format!("{vol}.qcow2"));
    let d = disk.display().to_string();
    let run = |p: &str, args: &[&str]| {
        let o = std::process::Command::new(p).args(args).output().expect(p);
        assert!(
            o.status.success(),
            "{p} {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).to_string()
    };
    run("qemu-img", &["create", "-q", "-f", "qcow2", &d, "32M"]);
    run(
        "qemu-io",
        &["-c", "write -P 0x5a 0 4M", "-c", "write -P 0xa5 16M 1M", &d],
    );
    let sys: Arc<dyn Sys> = Arc::new(crate::sys::RealSys);
    let net = Arc::new(LinuxNet::new(sys.clone(), dir.path().join("net"), None));
    let drv = QemuDriver::new(
        sys,
        dir.path().join("vms"),
        "tcg",
        net,
        ImageSource::default(),
        "127.0.0.1",
    );
    let mut vm = spec(&pool, None);
    vm.name = format!("i-snap-{}", &vol.simple().to_string()[..8]);
    vm.nics.clear();
    vm.memory_mib = 64;
    vm.disks = vec![proto::DiskSpec {
        volume_id: vol,
        path: d.clone(),
        device_id: 0,
        ..Default::default()
    }];
    drv.start(&vm, None).await.expect("start");
    let p = pool.display().to_string();
    let live = Uuid::new_v4();
    let r = drv
        .snapshot_volume(&p, vol, live, Some(&vm.name))
        .await
        .expect("live snapshot");
    assert_eq!(r["size"], 32 << 20, "{r}");
    let copy = pool.join("snapshots").join(format!("{live}.qcow2"));
    let c = copy.display().to_string();
    run("qemu-img", &["compare", "-q", "-U", &d, &c]);
    let info = run("qemu-img", &["info", "--output=json", &c]);
    assert!(!info.contains("backing-filename"), "standalone: {info}");
    // Taken again (a resumed saga): the copy is kept as it is.
    drv.snapshot_volume(&p, vol, live, Some(&vm.name))
        .await
        .expect("again");
    drv.stop(&vm.name, true).await.expect("stop");
    let cold = Uuid::new_v4();
    drv.snapshot_volume(&p, vol, cold, None)
        .await
        .expect("stopped snapshot");
    let c2 = pool.join("snapshots").join(format!("{cold}.qcow2"));
    run(
        "qemu-img",
        &["compare", "-q", &d, &c2.display().to_string()],
    );
    drv.delete_snapshot_copy(&p, live).expect("delete");
    drv.delete_snapshot_copy(&p, live).expect("delete twice");
    assert!(!copy.exists());
}

/// A real QEMU: a VM snapshot with memory taken while the VM runs, the disk changed, the
/// snapshot loaded — the VM runs on and its disk is as it was; a disk-only one of the stopped
/// VM reverted by qemu-img; both deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vm_snapshots_revert_memory_and_disks() {
    let found = [
        "/usr/bin/qemu-system-x86_64",
        "/usr/bin/qemu-img",
        "/usr/bin/qemu-io",
    ]
    .iter()
    .all(|t| Path::new(t).exists());
    if !found {
        testkit::skip(
            "vm_snapshots_revert_memory_and_disks",
            "QEMU is not installed (scripts/install-deps.sh installs it)",
            "CANOPY_REQUIRE_TOOLS",
        );
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let pool = dir.path().join("pool");
    std::fs::create_dir_all(&pool).expect("pool");
    let vol = Uuid::new_v4();
    let d = pool.join(format!("{vol}.qcow2")).display().to_string();
    let run = |p: &str, args: &[&str]| {
        let o = std::process::Command::new(p).args(args).output().expect(p);
        assert!(
            o.status.success(),
            "{p} {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).to_string()
    };
    run("qemu-img", &["create", "-q", "-f", "qcow2", &d, "16M"]);
    run("qemu-io", &["-c", "write -P 0x5a 0 1M", &d]);
    let sys: Arc<dyn Sys> = Arc::new(crate::sys::RealSys);
    let net = Arc::new(LinuxNet::new(sys.clone(), dir.path().join("net"), None));
    let drv = QemuDriver::new(
        sys,
        dir.path().join("vms"),
        "tcg",
        net,
        ImageSource::default(),
        "127.0.0.1",
    );
    let mut vm = spec(&pool, None);
    vm.name = format!("i-vms-{}", &vol.simple().to_string()[..8]);
    vm.nics.clear();
    vm.memory_mib = 64;
    let disks = vec![proto::DiskSpec {
        volume_id: vol,
        path: d.clone(),
        device_id: 0,
        ..Default::default()
    }];
    vm.disks = disks.clone();
    drv.start(&vm, None).await.expect("start");
    drv.create_vm_snapshot(&vm.name, "s1", true, &disks)
        .await
        .expect("snapshot with memory");
    let again = drv
        .create_vm_snapshot(&vm.name, "s1", true, &disks)
        .await
        .expect("again");
    assert_eq!(again["taken"], false, "an existing tag is not taken twice");
    let mut q = drv.qmp(&vm.name).await.expect("qmp");
    q.execute(
        "human-monitor-command",
        json!({"command-line": format!("qemu-io drive-{vol} \"write -P 0x11 0 1M\"")}),
    )
    .await
    .expect("write in the running VM");
    drop(q); // QMP takes one client at a time
    drv.revert_vm_snapshot(&vm.name, "s1", true, &disks)
        .await
        .expect("load");
    let mut q = drv.qmp(&vm.name).await.expect("qmp");
    let status = q
        .execute("query-status", Value::Null)
        .await
        .expect("status");
    assert_eq!(status["status"], "running", "{status}");
    drop(q);
    drv.stop(&vm.name, true).await.expect("stop");
    let read = run("qemu-io", &["-c", "read -P 0x5a 0 1M", &d]);
    assert!(!read.contains("Pattern verification failed"), "{read}");
    // Disks only, stopped.
    drv.create_vm_snapshot(&vm.name, "s2", false, &disks)
        .await
        .expect("disk snapshot");
    assert!(
        drv.create_vm_snapshot(&vm.name, "s3", true, &disks)
            .await
            .is_err(),
        "memory of a stopped VM"
    );
    run("qemu-io", &["-c", "write -P 0x22 0 1M", &d]);
    drv.revert_vm_snapshot(&vm.name, "s2", false, &disks)
        .await
        .expect("revert disks");
    let read = run("qemu-io", &["-c", "read -P 0x5a 0 1M", &d]);
    assert!(!read.contains("Pattern verification failed"), "{read}");
    for t in ["s1", "s2", "s2"] {
        drv.delete_vm_snapshot(&vm.name, t, &disks)
            .await
            .expect("delete");
    }
    let tags = run("qemu-img", &["snapshot", "-l", &d]);
    assert!(!tags.contains("s1") && !tags.contains("s2"), "{tags}");
}

/// A real QEMU: a running VM's disk mirrored to another pool (the VM writes to the new file
/// after; its spec says so), then moved back while stopped by a copy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volumes_move_between_pools_live_and_stopped() {
    let found = [
        "/usr/bin/qemu-system-x86_64",
        "/usr/bin/qemu-img",
        "/usr/bin/qemu-io",
    ]
    .iter()
    .all(|t| Path::new(t).exists());
    if !found {
        testkit::skip(
            "volumes_move_between_pools_live_and_stopped",
            "QEMU is not installed (scripts/install-deps.sh installs it)",
            "CANOPY_REQUIRE_TOOLS",
        );
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::create_dir_all(&a).expect("a");
    let vol = Uuid::new_v4();
    let src = a.join(format!("{vol}.qcow2")).display().to_string();
    let run = |p: &str, args: &[&str]| {
        let o = std::process::Command::new(p).args(args).output().expect(p);
        assert!(
            o.status.success(),
            "{p} {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).to_string()
    };
    run("qemu-img", &["create", "-q", "-f", "qcow2", &src, "16M"]);
    run("qemu-io", &["-c", "write -P 0x5a 0 2M", &src]);
    let sys: Arc<dyn Sys> = Arc::new(crate::sys::RealSys);
    let net = Arc::new(LinuxNet::new(sys.clone(), dir.path().join("net"), None));
    let drv = QemuDriver::new(
        sys,
        dir.path().join("vms"),
        "tcg",
        net,
        ImageSource::default(),
        "127.0.0.1",
    );
    let mut vm = spec(&a, None);
    vm.name = format!("i-mv-{}", &vol.simple().to_string()[..8]);
    vm.nics.clear();
    vm.memory_mib = 64;
    vm.disks = vec![proto::DiskSpec {
        volume_id: vol,
        path: src.clone(),
        device_id: 0,
        ..Default::default()
    }];
    drv.start(&vm, None).await.expect("start");
    let (pa, pb) = (a.display().to_string(), b.display().to_string());
    let r = drv
        .migrate_volume(vol, &pa, &pb, Some(&vm.name))
        .await
        .expect("live move");
    let dest = b.join(format!("{vol}.qcow2")).display().to_string();
    assert_eq!(r["path"], dest.as_str());
    assert!(!Path::new(&src).exists(), "the old file is gone");
    assert_eq!(drv.spec_of(&vm.name).expect("spec").disks[0].path, dest);
    // The running VM writes to the new file.
    let mut q = drv.qmp(&vm.name).await.expect("qmp");
    q.execute(
        "human-monitor-command",
        json!({"command-line": format!("qemu-io drive-{vol} \"write -P 0x33 4M 1M\"")}),
    )
    .await
    .expect("write");
    drop(q);
    drv.stop(&vm.name, true).await.expect("stop");
    let out = run(
        "qemu-io",
        &["-c", "read -P 0x5a 0 2M", "-c", "read -P 0x33 4M 1M", &dest],
    );
    assert!(!out.contains("Pattern verification failed"), "{out}");
    let info = run("qemu-img", &["info", "--output=json", &dest]);
    assert!(!info.contains("backing-filename"), "standalone: {info}");
    // Stopped: copied back; again is a no-op.
    drv.migrate_volume(vol, &pb, &pa, None)
        .await
        .expect("cold move");
    drv.migrate_volume(vol, &pb, &pa, None)
        .await
        .expect("again");
    let out = run("qemu-io", &["-c", "read -P 0x33 4M 1M", &src]);
    assert!(!out.contains("Pattern verification failed"), "{out}");
    assert!(!Path::new(&dest).exists());
}

/// A real QEMU on each side (two drivers, one machine): a running VM migrates with its disk —
/// the destination creates and exports the new file over NBD, the source mirrors into it and
/// switches over once in step — and the VM then runs on the new file with everything written
/// before, during and after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vms_migrate_live_with_their_disks() {
    let found = [
        "/usr/bin/qemu-system-x86_64",
        "/usr/bin/qemu-img",
        "/usr/bin/qemu-io",
    ]
    .iter()
    .all(|t| Path::new(t).exists());
    if !found {
        testkit::skip(
            "vms_migrate_live_with_their_disks",
            "QEMU is not installed (scripts/install-deps.sh installs it)",
            "CANOPY_REQUIRE_TOOLS",
        );
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::create_dir_all(&a).expect("a");
    let vol = Uuid::new_v4();
    let src = a.join(format!("{vol}.qcow2")).display().to_string();
    let dest = b.join(format!("{vol}.qcow2")).display().to_string();
    let run = |p: &str, args: &[&str]| {
        let o = std::process::Command::new(p).args(args).output().expect(p);
        assert!(
            o.status.success(),
            "{p} {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).to_string()
    };
    run("qemu-img", &["create", "-q", "-f", "qcow2", &src, "16M"]);
    run("qemu-io", &["-c", "write -P 0x5a 0 2M", &src]);
    let host = |name: &str| {
        let sys: Arc<dyn Sys> = Arc::new(crate::sys::RealSys);
        let net = Arc::new(LinuxNet::new(
            sys.clone(),
            dir.path().join(format!("net-{name}")),
            None,
        ));
        QemuDriver::new(
            sys,
            dir.path().join(format!("vms-{name}")),
            "tcg",
            net,
            ImageSource::default(),
            "127.0.0.1",
        )
    };
    let (from, to) = (host("a"), host("b"));
    let mut vm = spec(&a, None);
    vm.name = format!("i-sm-{}", &vol.simple().to_string()[..8]);
    vm.nics.clear();
    vm.memory_mib = 64;
    vm.disks = vec![proto::DiskSpec {
        volume_id: vol,
        path: src.clone(),
        device_id: 0,
        ..Default::default()
    }];
    from.start(&vm, None).await.expect("start");
    async fn hmp(drv: &QemuDriver, name: &str, line: String) {
        let mut q = drv.qmp(name).await.expect("qmp");
        q.execute("human-monitor-command", json!({ "command-line": line }))
            .await
            .expect("hmp");
    }
    hmp(
        &from,
        &vm.name,
        format!("qemu-io drive-{vol} \"write -P 0x33 4M 1M\""),
    )
    .await;
    let mut there = vm.clone();
    there.disks[0].path = dest.clone();
    // The destination's file is sized by the source's disk.
    let sizes = from
        .apply(&Command::DiskSizes {
            vm: vm.name.clone(),
            volumes: vec![vol],
        })
        .await
        .expect("sizes");
    assert_eq!(sizes["sizes"][vol.to_string()], 16 << 20, "{sizes}");
    let moves = vec![proto::StorageMove {
        volume_id: vol,
        path: dest.clone(),
        size_bytes: 16 << 20,
    }];
    let prepare = Command::PrepareMigration {
        vm: there,
        storage: moves,
    };
    to.apply(&prepare).await.expect("prepare");
    to.apply(&prepare).await.expect("prepare again");
    from.apply(&Command::MigrateVm {
        name: vm.name.clone(),
        dest: "127.0.0.1".into(),
        storage: vec![vol],
    })
    .await
    .expect("migrate with storage");
    assert!(from.pid(&vm.name).is_none(), "the source QEMU is gone");
    assert!(to.pid(&vm.name).is_some(), "the VM runs on the destination");
    to.apply(&Command::EndDiskExport {
        name: vm.name.clone(),
    })
    .await
    .expect("end export");
    // The NBD port is closed again.
    let nbd = std::net::TcpStream::connect(("127.0.0.1", proto::nbd_port(&vm.name)));
    assert!(nbd.is_err(), "the export is closed");
    hmp(
        &to,
        &vm.name,
        format!("qemu-io drive-{vol} \"write -P 0x44 8M 1M\""),
    )
    .await;
    to.stop(&vm.name, true).await.expect("stop");
    let out = run(
        "qemu-io",
        &[
            "-c",
            "read -P 0x5a 0 2M",
            "-c",
            "read -P 0x33 4M 1M",
            "-c",
            "read -P 0x44 8M 1M",
            &dest,
        ],
    );
    assert!(!out.contains("Pattern verification failed"), "{out}");
    // Idempotent: a VM no longer here has migrated.
    from.apply(&Command::MigrateVm {
        name: vm.name.clone(),
        dest: "127.0.0.1".into(),
        storage: vec![vol],
    })
    .await
    .expect("again");
}

/// Command lines of CD-ROMs and throttled disks.
mod cmdline;
