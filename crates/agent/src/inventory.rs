//! Inventory of the real machine the agent runs on, from /proc, and whether KVM can really
//! run guests here (a /dev/kvm alone is not enough: see docs/ARCHITECTURE.md).

use proto::Inventory;

/// Hardware virtualisation that QEMU can use: `kvm` when the CPU has VT-x/AMD-V and the
/// kernel's KVM is not the PVM flavour; `tcg` (software emulation) otherwise.
pub fn accelerator() -> &'static str {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let hw = cpuinfo
        .lines()
        .any(|l| l.starts_with("flags") && (l.contains(" vmx") || l.contains(" svm")));
    let pvm = std::path::Path::new("/sys/module/kvm_pvm").exists();
    if hw && !pvm && std::path::Path::new("/dev/kvm").exists() {
        "kvm"
    } else {
        "tcg"
    }
}

fn meminfo_bytes() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

fn cpu_mhz() -> u64 {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("cpu MHz"))
                .and_then(|l| l.split(':').nth(1))
                .and_then(|v| v.trim().parse::<f64>().ok())
        })
        .map(|f| f as u64)
        .unwrap_or(1000)
}

/// `qemu-system-x86_64 --version`'s version number, when QEMU is installed.
pub fn qemu_version() -> Option<String> {
    let out = std::process::Command::new("qemu-system-x86_64")
        .arg("--version")
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .skip_while(|w| *w != "version")
        .nth(1)
        .map(str::to_string)
}

/// What this machine has.
pub fn local(address: &str) -> Inventory {
    let accel = accelerator();
    Inventory {
        hostname: std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_default(),
        address: address.to_string(),
        cpus: std::thread::available_parallelism()
            .map(|n| n.get() as u32)
            .unwrap_or(1),
        cpu_speed_mhz: cpu_mhz(),
        memory_bytes: meminfo_bytes(),
        local_storage_bytes: 0,
        hypervisor: "KVM".into(),
        hypervisor_version: qemu_version().unwrap_or_default(),
        accelerator: accel.into(),
        capabilities: vec!["hvm".into()],
        agent_version: env!("CARGO_PKG_VERSION").into(),
    }
}
