//! Daemons the agent started (QEMU, dnsmasq, haproxy), found by their pid files.

use std::path::Path;

/// The pid in `pidfile` when that process is alive and is `name`.
pub fn alive(pidfile: &Path, name: &str) -> Option<u32> {
    let pid: u32 = std::fs::read_to_string(pidfile).ok()?.trim().parse().ok()?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let cmd = String::from_utf8_lossy(&cmdline);
    cmd.contains(name).then_some(pid)
}

/// SIGTERM, then SIGKILL after 2 s if still there (bounded wait).
pub fn stop_pid(pid: u32) {
    let p = pid.to_string();
    let _ = std::process::Command::new("kill").arg(&p).status();
    for _ in 0..40 {
        if !Path::new(&format!("/proc/{pid}")).exists() || zombie(pid) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = std::process::Command::new("kill").args(["-9", &p]).status();
}

fn zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit(')')
                .next()
                .map(|r| r.trim_start().starts_with('Z'))
                .unwrap_or(false)
        })
        .unwrap_or(true)
}
