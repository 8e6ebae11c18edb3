//! Daemons the agent started (QEMU, dnsmasq, haproxy), found by their pid files.

use std::path::Path;

/// The pid in `pidfile` when that process is alive and is `name`.
pub fn alive(pidfile: &Path, name: &str) -> Option<u32> {
    let pid: u32 = std::fs::read_to_string(pidfile).ok()?.trim().parse().ok()?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let cmd = String::from_utf8_lossy(&cmdline);
    cmd.contains(name).then_some(pid)
}

/// Sends `signal` to `pid` (rustix: no `kill` subprocess).
fn signal(pid: u32, signal: rustix::process::Signal) {
    if let Some(p) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    {
        let _ = rustix::process::kill_process(p, signal);
    }
}

/// SIGHUP (daemons reread their files).
pub fn hangup(pid: u32) {
    signal(pid, rustix::process::Signal::HUP);
}

/// SIGTERM, then SIGKILL after 2 s if still there (bounded wait).
pub fn stop_pid(pid: u32) {
    signal(pid, rustix::process::Signal::TERM);
    for _ in 0..40 {
        if !Path::new(&format!("/proc/{pid}")).exists() || zombie(pid) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    signal(pid, rustix::process::Signal::KILL);
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

/// Writes a file so that a reader (or a crash) sees the old content or the new, never a part:
/// a temporary file next to it, synced, then renamed over it.
pub fn write_atomic(path: &std::path::Path, content: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(content)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}
