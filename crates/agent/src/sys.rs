//! The host's command-line tools (`ip`, `bridge`, `nft`, `dnsmasq`, `haproxy`, `qemu-img`) as
//! one trait: the real implementation runs them; the fake records what would have run and
//! answers from a script, so the drivers' decisions are unit-tested without touching the host.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Mutex;

use crate::HostError;

fn tool(program: &str, message: String) -> HostError {
    HostError::Tool {
        program: program.to_string(),
        message,
    }
}

pub trait Sys: Send + Sync {
    /// Runs `program args…` (with `stdin` fed to it), returning its standard output; a
    /// non-zero exit is an error carrying its standard error.
    fn run(&self, program: &str, args: &[&str], stdin: Option<&str>) -> crate::HostResult<String>;
    /// Runs a program that daemonizes itself (QEMU `-daemonize`, dnsmasq, haproxy `-D`): no
    /// pipes are held open (the daemon would keep them), standard error goes to `log`, and
    /// the call returns when the foreground process exits.
    fn run_daemon(
        &self,
        program: &str,
        args: &[&str],
        log: &std::path::Path,
    ) -> crate::HostResult<()>;
}

/// Runs the real tools.
#[derive(Debug, Default)]
pub struct RealSys;

impl Sys for RealSys {
    fn run_daemon(
        &self,
        program: &str,
        args: &[&str],
        log: &std::path::Path,
    ) -> crate::HostResult<()> {
        let err = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(HostError::io(format!("opening {}", log.display())))?;
        let status = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err)
            .status()
            .map_err(|e| tool(program, format!("running {program}: {e}")))?;
        if status.success() {
            Ok(())
        } else {
            let tail = std::fs::read_to_string(log).unwrap_or_default();
            let tail: Vec<&str> = tail.lines().rev().take(3).collect();
            Err(tool(
                program,
                format!(
                    "{program} exited with {status}: {}",
                    tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
                ),
            ))
        }
    }

    fn run(&self, program: &str, args: &[&str], stdin: Option<&str>) -> crate::HostResult<String> {
        let mut cmd = Command::new(program);
        cmd.args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .map_err(|e| tool(program, format!("running {program}: {e}")))?;
        if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(text.as_bytes())
                .map_err(|e| tool(program, format!("writing to {program}: {e}")))?;
        }
        let out = child
            .wait_with_output()
            .map_err(|e| tool(program, format!("waiting for {program}: {e}")))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(tool(
                program,
                format!(
                    "{program} {}: {}",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
            ))
        }
    }
}

/// Records every command; answers the ones that match a scripted prefix.
#[derive(Debug, Default)]
pub struct FakeSys {
    pub log: Mutex<Vec<String>>,
    /// `(command-line prefix, output)`: the first match answers.
    pub answers: Mutex<Vec<(String, String)>>,
}

impl FakeSys {
    pub fn answer(&self, prefix: &str, output: &str) {
        if let Ok(mut a) = self.answers.lock() {
            a.push((prefix.to_string(), output.to_string()));
        }
    }
    pub fn commands(&self) -> Vec<String> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl Sys for FakeSys {
    fn run_daemon(
        &self,
        program: &str,
        args: &[&str],
        _log: &std::path::Path,
    ) -> crate::HostResult<()> {
        self.run(program, args, None).map(|_| ())
    }

    fn run(&self, program: &str, args: &[&str], stdin: Option<&str>) -> crate::HostResult<String> {
        let line = std::iter::once(program)
            .chain(args.iter().copied())
            .collect::<Vec<_>>()
            .join(" ");
        if let Ok(mut l) = self.log.lock() {
            l.push(match stdin {
                Some(s) => format!("{line} <<{}", s.len()),
                None => line.clone(),
            });
        }
        let answers = self.answers.lock().map_err(|_| "poisoned".to_string())?;
        Ok(answers
            .iter()
            .find(|(p, _)| line.starts_with(p.as_str()))
            .map(|(_, o)| o.clone())
            .unwrap_or_default())
    }
}
