//! The QEMU command line of ISOs in the CD-ROM and of disks with I/O limits and a cache mode.

use super::*;

#[test]
fn an_attached_iso_is_in_the_cdrom_and_an_iso_deployed_vm_boots_from_it() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = driver(dir.path());
    let vm_dir = dir.path().join("vms/i-2-7-VM");
    let mut vm = spec(dir.path(), None);
    let iso = Uuid::from_u128(9);
    vm.iso = Some(iso);
    let a = d.command_line(&vm, &vm_dir).join(" ");
    let file = dir.path().join("templates").join(format!("{iso}.iso"));
    assert!(
        a.contains(&format!(
            "file={},if=none,id=drive-iso,media=cdrom,readonly=on,format=raw",
            file.display()
        )),
        "{a}"
    );
    assert!(!a.contains("id=cd-iso,bootindex=0"), "{a}");
    vm.boot_iso = true;
    let a = d.command_line(&vm, &vm_dir).join(" ");
    assert!(a.contains("id=cd-iso,bootindex=0"), "{a}");
}

#[test]
fn command_line_throttles_disks_and_sets_their_cache_mode() {
    let dir = tempfile::tempdir().expect("tmp");
    let pool = dir.path().join("pool");
    let d = driver(dir.path());
    let mut vm = spec(&pool, None);
    vm.disks[1].limits = Some(proto::DiskLimits {
        bytes_read: Some(1 << 20),
        bytes_read_max: Some(4 << 20),
        bytes_read_max_length: Some(2),
        iops_write: Some(50),
        ..Default::default()
    });
    vm.disks[1].cache = Some("none".into());
    vm.disks[0].cache = Some("bogus".into());
    let a = d.command_line(&vm, &dir.path().join("vms/x")).join(" ");
    let data = a
        .split(' ')
        .find(|x| x.contains("id=drive-00000000-0000-0000-0000-000000000002"))
        .expect("the data disk's drive");
    assert!(data.contains(",cache=none"), "{data}");
    for want in [
        "throttling.bps-read=1048576",
        "throttling.bps-read-max=4194304",
        "throttling.bps-read-max-length=2",
        "throttling.iops-write=50",
    ] {
        assert!(data.contains(want), "{want} missing: {data}");
    }
    assert!(!data.contains("bps-write"), "{data}");
    let root = a
        .split(' ')
        .find(|x| x.contains("id=drive-00000000-0000-0000-0000-000000000001"))
        .expect("the root disk's drive");
    assert!(
        root.contains(",cache=writeback") && !root.contains("throttling"),
        "{root}"
    );
}

#[test]
fn an_encrypted_disk_opens_with_its_secret_object_and_the_key_is_not_on_the_command_line() {
    let dir = tempfile::tempdir().expect("tmp");
    let pool = dir.path().join("pool");
    let d = driver(dir.path());
    let mut vm = spec(&pool, None);
    vm.disks[0].secret = Some(proto::Secret("k3y-material".into()));
    let vm_dir = dir.path().join("vms/x");
    let args = d.command_line(&vm, &vm_dir);
    let a = args.join(" ");
    assert!(!a.contains("k3y-material"), "{a}");
    let id = format!("sec-{}", vm.disks[0].volume_id.simple());
    // The secret object comes before the drive that names it, each after its own flag.
    let obj = args
        .iter()
        .position(|x| x.starts_with(&format!("secret,id={id},file=")))
        .expect("the secret object");
    assert_eq!(args[obj - 1], "-object");
    let drive = args
        .iter()
        .position(|x| x.contains(&format!("encrypt.format=luks,encrypt.key-secret={id}")))
        .expect("the drive opens with it");
    assert_eq!(args[drive - 1], "-drive");
    assert!(obj < drive);
    assert!(args[obj].ends_with(&format!("{id}.key")), "{}", args[obj]);
    // The plain data disk has neither.
    let data = args
        .iter()
        .find(|x| x.contains("id=drive-00000000-0000-0000-0000-000000000002"))
        .expect("data drive");
    assert!(!data.contains("encrypt"), "{data}");
}
