//! Site-to-site VPN in a VPC router's namespace: one strongSwan charon per router, configured
//! through its VICI socket with `swanctl`.
//!
//! charon keeps its pid file at the fixed `/run/charon.pid`, so each router's charon runs in
//! a mount namespace of its own with the router's `ipsec/run` directory bound over `/run`
//! (`unshare -m`; the bind never reaches the host). ESP is userspace (kernel-libipsec: a TUN
//! device `ipsec0` and routes in table 220), always in UDP 4500 — hosts whose kernel lacks
//! ESP carry the tunnels all the same. The daemon outlives the agent, as dnsmasq and haproxy
//! do; `swanctl --load-all` replaces the connections whenever the configuration changes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use netplan::s2s::{conn_id, conn_name, S2sDesired};
use uuid::Uuid;

use super::{path, LinuxNet};
use crate::procs::{alive, stop_pid};

/// Where distributions install charon.
const CHARON: [&str; 3] = [
    "/usr/lib/ipsec/charon",
    "/usr/libexec/ipsec/charon",
    "/usr/libexec/strongswan/charon",
];

/// The charon binary of this host (Debian's path when strongSwan is not installed: starting
/// it then fails, and says so).
pub fn charon_path() -> PathBuf {
    CHARON
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from(CHARON[0]))
}

/// The router's strongSwan directory.
fn ipsec_dir(router_dir: &Path) -> PathBuf {
    router_dir.join("ipsec")
}

fn pidfile(dir: &Path) -> PathBuf {
    dir.join("run").join("charon.pid")
}

fn socket(dir: &Path) -> PathBuf {
    dir.join("charon.vici")
}

fn uri(dir: &Path) -> String {
    format!("unix://{}", path(&socket(dir)))
}

/// charon's own settings: the plugins it needs (no others are loaded), its VICI socket in the
/// router's directory, userspace ESP, its log file.
fn strongswan_conf(dir: &Path) -> String {
    format!(
        "# Canopy router charon (generated)\n\
         charon {{\n  load_modular = no\n  load = random nonce aes sha1 sha2 md5 hmac kdf gmp gcm openssl pem pkcs1 x509 pubkey socket-default kernel-libipsec kernel-netlink vici\n  install_routes = yes\n  plugins {{\n    vici {{\n      socket = {}\n    }}\n    kernel-libipsec {{\n      allow_peer_ts = yes\n    }}\n  }}\n  filelog {{\n    canopy {{\n      path = {}\n      default = 1\n      time_format = %F %T\n    }}\n  }}\n}}\n",
        uri(dir),
        path(&dir.join("charon.log"))
    )
}

impl LinuxNet {
    /// Runs (or stops) the router's charon so it holds exactly `want`'s connections.
    pub(super) fn ipsec(
        &self,
        ns: &str,
        router_dir: &Path,
        want: Option<&S2sDesired>,
    ) -> crate::HostResult<()> {
        let dir = ipsec_dir(router_dir);
        let running = alive(&pidfile(&dir), "charon");
        let Some(want) = want else {
            if let Some(pid) = running {
                stop_pid(pid);
            }
            if dir.exists() {
                let _ = std::fs::remove_dir_all(&dir);
            }
            return Ok(());
        };
        std::fs::create_dir_all(dir.join("run"))
            .map_err(|e| format!("creating {}: {e}", dir.display()))?;
        let conf_changed = Self::write_file(&dir, "strongswan.conf", &strongswan_conf(&dir))?;
        let changed = self.write_secret(&dir, "swanctl.conf", &want.swanctl_conf)?;
        let running = match running {
            Some(pid) if conf_changed => {
                stop_pid(pid);
                None
            }
            r => r,
        };
        if running.is_none() {
            self.start_charon(ns, &dir)?;
        } else if !changed {
            return Ok(());
        }
        self.swanctl(
            &dir,
            &["--load-all", "--file", &path(&dir.join("swanctl.conf"))],
        )?;
        Ok(())
    }

    /// Writes a file that holds keys (mode 0600); true when its content changed.
    fn write_secret(&self, dir: &Path, name: &str, content: &str) -> crate::HostResult<bool> {
        use std::os::unix::fs::PermissionsExt;
        let changed = Self::write_file(dir, name, content)?;
        let p = dir.join(name);
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| format!("restricting {}: {e}", p.display()))?;
        Ok(changed)
    }

    fn start_charon(&self, ns: &str, dir: &Path) -> crate::HostResult<()> {
        let charon = charon_path();
        let quoted = |p: &Path| -> crate::HostResult<String> {
            let s = path(p);
            if s.contains('\'') {
                return Err(format!("unusable path {s}").into());
            }
            Ok(format!("'{s}'"))
        };
        let _ = std::fs::remove_file(socket(dir));
        let _ = std::fs::remove_file(pidfile(dir));
        // A mount namespace of its own, the router's run directory as /run (its pid file);
        // `setsid -f` leaves charon running when the shell returns.
        let script = format!(
            "mount --bind {} /run && exec setsid -f env STRONGSWAN_CONF={} {}",
            quoted(&dir.join("run"))?,
            quoted(&dir.join("strongswan.conf"))?,
            quoted(&charon)?
        );
        self.sys.run_daemon(
            "ip",
            &[
                "netns",
                "exec",
                ns,
                "unshare",
                "-m",
                "--propagation",
                "private",
                "sh",
                "-c",
                &script,
            ],
            &dir.join("charon.err"),
        )?;
        // Bounded: it answers on its socket once its plugins are loaded (well under a second).
        for _ in 0..100 {
            if self.swanctl(dir, &["--stats"]).is_ok() {
                return Ok(());
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Err(format!(
            "charon in {ns} did not answer on its control socket within 5 s (is strongSwan installed: charon, swanctl and the kernel-libipsec plugin? see {} and {})",
            path(&dir.join("charon.err")),
            path(&dir.join("charon.log"))
        )
        .into())
    }

    fn swanctl(&self, dir: &Path, args: &[&str]) -> crate::HostResult<String> {
        let u = uri(dir);
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--uri", &u]);
        self.sys.run("swanctl", &all, None)
    }

    /// Whether each connection's tunnel is up: `Connected` when a child SA of it is
    /// installed, `Disconnected` otherwise (no charon running: all of them).
    pub fn s2s_status(
        &self,
        ns: &str,
        connections: &[Uuid],
    ) -> crate::HostResult<BTreeMap<Uuid, &'static str>> {
        let dir = ipsec_dir(&self.router_dir(ns));
        let mut out: BTreeMap<Uuid, &'static str> =
            connections.iter().map(|c| (*c, "Disconnected")).collect();
        if alive(&pidfile(&dir), "charon").is_none() {
            return Ok(out);
        }
        let sas = self.swanctl(&dir, &["--list-sas"])?;
        for id in installed(&sas) {
            if let Some(s) = out.get_mut(&id) {
                *s = "Connected";
            }
        }
        Ok(out)
    }

    /// Closes a connection's SAs and, for an initiator, connects it again (CloudStack's
    /// resetVpnConnection).
    pub fn s2s_reset(&self, ns: &str, connection: Uuid, initiate: bool) -> crate::HostResult<()> {
        let dir = ipsec_dir(&self.router_dir(ns));
        if alive(&pidfile(&dir), "charon").is_none() {
            return Err(format!("no site-to-site VPN runs in router {ns}").into());
        }
        let name = conn_name(connection);
        // Nothing to close is not an error.
        let _ = self.swanctl(&dir, &["--terminate", "--ike", &name, "--force"]);
        if initiate {
            // Bounded: the peer may be down; charon keeps trying on its own (keyingtries 0).
            let _ = self.swanctl(&dir, &["--initiate", "--child", &name, "--timeout", "5"]);
        }
        Ok(())
    }
}

/// The connections with an installed child SA in `swanctl --list-sas` output (child lines are
/// indented: `  c<id>[-n]: #1, reqid 1, INSTALLED, TUNNEL-in-UDP, …`).
pub(super) fn installed(list: &str) -> Vec<Uuid> {
    let mut v: Vec<Uuid> = list
        .lines()
        .filter(|l| l.starts_with("  ") && !l.starts_with("    "))
        .filter_map(|l| {
            let (name, rest) = l.trim().split_once(':')?;
            if !rest.split(',').any(|f| f.trim() == "INSTALLED") {
                return None;
            }
            // A split connection's further children are `c<id>-<n>`.
            conn_id(name.split('-').next().unwrap_or(name))
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installed_children_are_connected() {
        let a = Uuid::from_u128(1);
        let b = Uuid::from_u128(2);
        let out = format!(
            "{na}: #1, ESTABLISHED, IKEv2, ffd68a8a79aafa21_i* d730a065f35895f8_r\n  local  '198.51.100.1' @ 198.51.100.1[4500]\n  {na}: #1, reqid 1, INSTALLED, TUNNEL-in-UDP, ESP:AES_CBC-128/HMAC_SHA1_96\n    installed 5s ago, rekeying in 3595s, expires in 3595s\n    local  10.1.0.0/24\n{nb}: #2, CONNECTING, IKEv2, 3d289255eb55c91c_i e0fba50893b62153_r*\n  {nb}-1: #3, reqid 2, REKEYING, TUNNEL-in-UDP\n",
            na = conn_name(a),
            nb = conn_name(b)
        );
        assert_eq!(installed(&out), vec![a]);
        let split = format!(
            "x: #1, ESTABLISHED\n  {}-2: #4, reqid 3, INSTALLED, TUNNEL\n",
            conn_name(b)
        );
        assert_eq!(installed(&split), vec![b]);
        assert!(installed("").is_empty());
        assert!(installed("garbage: INSTALLED\n  : , INSTALLED").is_empty());
    }

    #[test]
    fn charon_settings_name_the_routers_own_socket_and_log() {
        let c = strongswan_conf(Path::new("/var/lib/canopy/routers/r-1/ipsec"));
        assert!(c.contains("socket = unix:///var/lib/canopy/routers/r-1/ipsec/charon.vici"));
        assert!(c.contains("kernel-libipsec"));
        assert!(c.contains("path = /var/lib/canopy/routers/r-1/ipsec/charon.log"));
    }
}
