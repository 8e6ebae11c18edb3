//! Test harness pieces shared by the crates' integration tests.
//!
//! - [`Postgres`]: a throwaway PostgreSQL cluster in a temporary directory on a loopback port,
//!   started with `initdb` + `pg_ctl` and stopped (by PID if need be) when dropped.
//! - [`free_port`], [`wait_for`]: small helpers for tests that start servers.
//!
//! Everything here only ever talks to loopback.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

/// Polls `f` every 50 ms until it returns `Some`, for at most `timeout`.
pub fn wait_for<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let end = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() > end {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn pg_bin_dir() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists())
        .collect();
    dirs.sort();
    dirs.pop()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// A running throwaway PostgreSQL.
pub struct Postgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
    stopped: bool,
    next_db: std::sync::atomic::AtomicU32,
}

/// A test (or part of one) that cannot run here. When `require` (an environment variable the
/// project's test command sets to 1) is set, this is a failure: the test command never skips
/// silently. Otherwise it says so on stderr and appends a line to `$CANOPY_SKIP_LOG`, which
/// the test command prints at the end, so a skip is never hidden by cargo's output capture.
pub fn skip(what: &str, why: &str, require: &str) {
    if std::env::var(require).map(|v| v == "1").unwrap_or(false) {
        panic!("{require}=1 but {what} cannot run: {why}");
    }
    eprintln!("SKIPPED: {what}: {why}");
    if let Some(log) = std::env::var_os("CANOPY_SKIP_LOG") {
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
        {
            // One write per line: O_APPEND keeps lines of parallel tests whole.
            let _ = f.write_all(format!("{what}: {why}\n").as_bytes());
        }
    }
}

impl Postgres {
    /// Whether the PostgreSQL server binaries are installed.
    pub fn available() -> bool {
        pg_bin_dir().is_some()
    }

    /// Starts a PostgreSQL for a test if the binaries are installed. When they are not, this
    /// returns `None` — unless `CANOPY_REQUIRE_PG=1` (the project's test command sets it), in
    /// which case it panics so the suite cannot silently skip PostgreSQL.
    pub fn start_for_test() -> Option<Self> {
        if !Self::available() {
            skip(
                "the PostgreSQL half of this test",
                "no PostgreSQL server binaries under /usr/lib/postgresql",
                "CANOPY_REQUIRE_PG",
            );
            return None;
        }
        match Self::start() {
            Ok(p) => Some(p),
            Err(e) => panic!("could not start a throwaway PostgreSQL: {e:#}"),
        }
    }

    /// Starts a cluster: `initdb` (as the `postgres` user when running as root, since initdb
    /// refuses root) and `pg_ctl start` on a free loopback port with fsync off.
    pub fn start() -> Result<Self> {
        let bin = pg_bin_dir().context("no PostgreSQL binaries")?;
        let dir = tempfile::Builder::new().prefix("canopy-pg-").tempdir()?;
        let as_postgres = is_root();
        if as_postgres {
            let st = Command::new("chown")
                .arg("-R")
                .arg("postgres:postgres")
                .arg(dir.path())
                .status()?;
            if !st.success() {
                bail!("chown of the PostgreSQL directory failed");
            }
        }
        let data = dir.path().join("data");
        let pg = Self {
            dir,
            bin,
            port: 0,
            as_postgres,
            stopped: true,
            next_db: 0.into(),
        };
        pg.run(
            "initdb",
            &[
                "-D",
                path_str(&data)?,
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        )?;
        let mut pg = pg;
        for _ in 0..5 {
            pg.port = free_port();
            let opts = format!(
                "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off -c synchronous_commit=off -c full_page_writes=off",
                pg.port,
                path_str(pg.dir.path())?
            );
            let log = pg.dir.path().join("pg.log");
            if pg
                .run(
                    "pg_ctl",
                    &[
                        "-D",
                        path_str(&data)?,
                        "-o",
                        &opts,
                        "-l",
                        path_str(&log)?,
                        "-w",
                        "-t",
                        "30",
                        "start",
                    ],
                )
                .is_ok()
            {
                pg.stopped = false;
                return Ok(pg);
            }
        }
        bail!(
            "PostgreSQL did not start; see {}",
            pg.dir.path().join("pg.log").display()
        )
    }

    fn run(&self, tool: &str, args: &[&str]) -> Result<()> {
        let exe = self.bin.join(tool);
        let out = if self.as_postgres {
            Command::new("runuser")
                .arg("-u")
                .arg("postgres")
                .arg("--")
                .arg(&exe)
                .args(args)
                .output()?
        } else {
            Command::new(&exe).args(args).output()?
        };
        if !out.status.success() {
            bail!(
                "{tool} failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// URL of a database.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// Creates a fresh, empty database and returns its URL.
    pub fn fresh_database(&self) -> Result<String> {
        let n = self
            .next_db
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let name = format!("t{n}_{}", std::process::id());
        self.run(
            "psql",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-q",
                "-c",
                &format!("CREATE DATABASE {name}"),
            ],
        )?;
        Ok(self.url(&name))
    }

    /// Stops the server (fast shutdown).
    pub fn stop(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        let data = self.dir.path().join("data");
        if let Some(d) = data.to_str() {
            if self
                .run("pg_ctl", &["-D", d, "-m", "immediate", "-w", "stop"])
                .is_ok()
            {
                return;
            }
        }
        // Fall back to the postmaster's PID.
        if let Ok(pid) = std::fs::read_to_string(data.join("postmaster.pid")) {
            if let Some(pid) = pid
                .lines()
                .next()
                .and_then(|l| l.trim().parse::<i32>().ok())
            {
                let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            }
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
    }
}

fn path_str(p: &Path) -> Result<&str> {
    p.to_str().context("non-UTF-8 path")
}
