//! Virtual routers: one network namespace each, with its interfaces, addresses, routes,
//! nftables ruleset, dnsmasq and haproxy.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use netplan::RouterDesired;
use serde_json::Value;

use super::{host_end, path, LinkInfo, LinuxNet};
use crate::procs::{alive, stop_pid};

impl LinuxNet {
    /// Builds or updates one router; `links` are the host's links and `present` the named
    /// namespaces, both read once per apply.
    pub(super) fn router(
        &self,
        links: &BTreeMap<String, LinkInfo>,
        present: &BTreeSet<String>,
        r: &RouterDesired,
    ) -> crate::HostResult<()> {
        let ns = r.namespace.as_str();
        let dir = self.router_dir(ns);
        std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        let mut fresh = !present.contains(ns);
        // A name whose namespace cannot be entered (its bind mount lives in another mount
        // namespace, or is gone) is made again.
        if !fresh && self.ip(&["-n", ns, "link", "show", "lo"]).is_err() {
            tracing::warn!(namespace = ns, "router namespace unusable; rebuilding it");
            let _ = self.ip(&["netns", "del", ns]);
            fresh = true;
        }
        if fresh {
            self.ip(&["netns", "add", ns])?;
            self.ip(&["-n", ns, "link", "set", "lo", "up"])?;
            self.ip(&[
                "netns",
                "exec",
                ns,
                "sh",
                "-c",
                "echo 1 > /proc/sys/net/ipv4/ip_forward",
            ])?;
        }
        let inside = self.links(Some(ns))?;
        // The veth pairs first; the host's links are read again only if one was made.
        let mut made = false;
        for i in r
            .interfaces
            .iter()
            .filter(|i| !inside.contains_key(&i.name))
        {
            let host = host_end(ns, &i.name);
            if links.contains_key(&host) {
                self.ip(&["link", "del", &host])?;
            }
            self.ip(&[
                "link", "add", &host, "type", "veth", "peer", "name", &i.name, "netns", ns,
            ])?;
            made = true;
        }
        let fresh_links;
        let now = if made {
            fresh_links = self.links(None)?;
            &fresh_links
        } else {
            links
        };
        for i in &r.interfaces {
            let host = host_end(ns, &i.name);
            let mtu = i
                .bridge
                .as_ref()
                .and_then(|b| links.get(b))
                .map(|b| b.mtu as u32)
                .unwrap_or(1500);
            match &i.bridge {
                Some(b) => self.enslave(now, &host, b, mtu)?,
                None => {
                    if !now.get(&host).map(|l| l.up).unwrap_or(false) {
                        self.ip(&["link", "set", &host, "up"])?;
                    }
                }
            }
            let cur = inside.get(&i.name);
            if let Some(mac) = &i.mac {
                if cur.map(|c| c.address.as_str()) != Some(mac.as_str()) {
                    self.ip(&["-n", ns, "link", "set", &i.name, "address", mac])?;
                }
            }
            if cur.map(|c| c.mtu) != Some(mtu as u64) {
                self.ip(&["-n", ns, "link", "set", &i.name, "mtu", &mtu.to_string()])?;
            }
            self.addresses(ns, &i.name, &i.addresses)?;
            if !cur.map(|c| c.up).unwrap_or(false) {
                self.ip(&["-n", ns, "link", "set", &i.name, "up"])?;
            }
        }
        self.routes(ns, r)?;
        // The ruleset: only the chains and sets that changed (an ACL item, a service tag's
        // members) when it kept its shape — one transaction either way —, the whole of it in
        // a fresh namespace, when the shape changed, or if the delta is refused.
        let f = dir.join("ruleset.nft");
        let before = if fresh {
            None
        } else {
            std::fs::read_to_string(&f).ok()
        };
        if Self::write_file(&dir, "ruleset.nft", &r.nftables)? || fresh {
            let delta = before
                .as_deref()
                .and_then(|old| netplan::nft_delta(old, &r.nftables));
            let done = match delta {
                Some(d) if d.is_empty() => true,
                Some(d) => {
                    match self
                        .sys
                        .run("ip", &["netns", "exec", ns, "nft", "-f", "-"], Some(&d))
                    {
                        Ok(_) => true,
                        Err(e) => {
                            tracing::warn!(namespace = ns, error = %e, "router ruleset delta refused; applying the whole ruleset");
                            false
                        }
                    }
                }
                None => false,
            };
            if !done {
                self.ip(&["netns", "exec", ns, "nft", "-f", &path(&f)])?;
            }
        }
        self.dnsmasq(ns, &dir, r)?;
        self.haproxy(ns, &dir, r.haproxy_cfg.as_deref(), &r.haproxy_files)?;
        self.ipsec(ns, &dir, r.s2s.as_ref())?;
        if let Some(v) = &r.vpn {
            // The VPN daemons (strongSwan, xl2tpd) are not part of this build: the files are
            // written for an operator-provided endpoint to pick up.
            Self::write_file(&dir, "ipsec.conf", &v.ipsec_conf)?;
            Self::write_file(&dir, "ipsec.secrets", &v.ipsec_secrets)?;
            Self::write_file(&dir, "xl2tpd.conf", &v.xl2tpd_conf)?;
            Self::write_file(&dir, "chap-secrets", &v.chap_secrets)?;
        }
        Ok(())
    }

    fn addresses(&self, ns: &str, dev: &str, want: &[String]) -> crate::HostResult<()> {
        let out = self.ip(&["-n", ns, "-j", "addr", "show", "dev", dev])?;
        let v: Value = serde_json::from_str(if out.trim().is_empty() { "[]" } else { &out })
            .map_err(|e| format!("parsing ip addr output: {e}"))?;
        let have: BTreeSet<String> = v
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|l| l["addr_info"].as_array().cloned().unwrap_or_default())
            .filter(|a| a["family"] == "inet")
            .filter_map(|a| {
                Some(format!(
                    "{}/{}",
                    a["local"].as_str()?,
                    a["prefixlen"].as_u64()?
                ))
            })
            .collect();
        let want: BTreeSet<String> = want.iter().cloned().collect();
        for a in have.difference(&want) {
            self.ip(&["-n", ns, "addr", "del", a, "dev", dev])?;
        }
        for a in want.difference(&have) {
            self.ip(&["-n", ns, "addr", "add", a, "dev", dev])?;
        }
        Ok(())
    }

    fn routes(&self, ns: &str, r: &RouterDesired) -> crate::HostResult<()> {
        let key = |dst: &str, via: &str, dev: &str, metric: u64| {
            format!("{dst} via {via} dev {dev} metric {metric}")
        };
        let out = self.ip(&["-n", ns, "-j", "route", "show", "proto", "static"])?;
        let v: Value = serde_json::from_str(if out.trim().is_empty() { "[]" } else { &out })
            .map_err(|e| format!("parsing ip route output: {e}"))?;
        let have: BTreeMap<String, Vec<String>> = v
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| {
                let dst = match e["dst"].as_str().unwrap_or("default") {
                    "default" => "0.0.0.0/0".to_string(),
                    d if d.contains('/') => d.to_string(),
                    d => format!("{d}/32"),
                };
                let via = e["gateway"].as_str().unwrap_or("-").to_string();
                let dev = e["dev"].as_str().unwrap_or("-").to_string();
                let metric = e["metric"].as_u64().unwrap_or(0);
                let mut args = vec![dst.clone()];
                if via != "-" {
                    args.extend(["via".into(), via.clone()]);
                }
                args.extend([
                    "dev".into(),
                    dev.clone(),
                    "metric".into(),
                    metric.to_string(),
                ]);
                (key(&dst, &via, &dev, metric), args)
            })
            .collect();
        let mut want = BTreeMap::new();
        for rt in &r.routes {
            // A route's device is the interface its next hop is on when not given.
            let dev = rt.dev.clone().or_else(|| {
                let via = rt.via?;
                r.interfaces
                    .iter()
                    .find(|i| {
                        i.addresses.iter().any(|a| {
                            a.parse::<netplan::Cidr>()
                                .map(|c| c.contains(via))
                                .unwrap_or(false)
                        })
                    })
                    .map(|i| i.name.clone())
            });
            let via = rt.via.map(|v| v.to_string());
            let dst = rt.destination.to_string();
            let mut args = vec![dst.clone()];
            if let Some(v) = &via {
                args.extend(["via".to_string(), v.clone()]);
            }
            if let Some(d) = &dev {
                args.extend(["dev".to_string(), d.clone()]);
            }
            args.extend(["metric".to_string(), rt.metric.to_string()]);
            want.insert(
                key(
                    &dst,
                    via.as_deref().unwrap_or("-"),
                    dev.as_deref().unwrap_or("-"),
                    rt.metric as u64,
                ),
                args,
            );
        }
        for (k, args) in &have {
            if !want.contains_key(k) {
                let mut a: Vec<&str> = vec!["-n", ns, "route", "del"];
                a.extend(args.iter().map(String::as_str));
                a.extend(["proto", "static"]);
                self.ip(&a)?;
            }
        }
        for (k, args) in &want {
            if !have.contains_key(k) {
                let mut a: Vec<&str> = vec!["-n", ns, "route", "add"];
                a.extend(args.iter().map(String::as_str));
                a.extend(["proto", "static"]);
                self.ip(&a)?;
            }
        }
        Ok(())
    }

    /// dnsmasq with the leases and names in files of their own (`dhcp-hostsfile`,
    /// `addn-hosts`): a VM coming or going changes only those, and dnsmasq rereads them on
    /// SIGHUP — no restart, no gap in DHCP and DNS. Any other change restarts it.
    fn dnsmasq(&self, ns: &str, dir: &Path, r: &RouterDesired) -> crate::HostResult<()> {
        let (conf, hosts, names) = dnsmasq_files(dir, r);
        let changed = Self::write_file(dir, "dnsmasq.conf", &conf)?;
        let lists_changed = Self::write_file(dir, "hosts.dhcp", &hosts)?
            | Self::write_file(dir, "hosts.dns", &names)?;
        let pidfile = dir.join("dnsmasq.pid");
        let running = alive(&pidfile, "dnsmasq");
        let leases = dir.join("leases");
        let lease_file = leases.join("dnsmasq.leases");
        // A lease dnsmasq holds for an address that now belongs to another MAC (a VM expunged,
        // its address given to a new one) would keep the new VM from getting its address
        // until the old lease expired: such leases are dropped, which needs a restart
        // (dnsmasq reads its lease file only when it starts).
        let stale = if lists_changed {
            std::fs::read_to_string(&lease_file)
                .ok()
                .and_then(|t| without_stale_leases(&t, &r.leases))
        } else {
            None
        };
        if let (Some(pid), false, None) = (running, changed, &stale) {
            if lists_changed {
                crate::procs::hangup(pid);
            }
            return Ok(());
        }
        if let Some(pid) = running {
            stop_pid(pid);
        }
        std::fs::create_dir_all(&leases).map_err(|e| e.to_string())?;
        if let Some(kept) = stale {
            tracing::info!(
                namespace = ns,
                "dropping leases of addresses that moved to another VM"
            );
            std::fs::write(&lease_file, kept)
                .map_err(|e| format!("rewriting {}: {e}", lease_file.display()))?;
        }
        let conf_arg = format!("--conf-file={}", path(&dir.join("dnsmasq.conf")));
        let pid_arg = format!("--pid-file={}", path(&pidfile));
        let lease_arg = format!("--dhcp-leasefile={}", path(&leases.join("dnsmasq.leases")));
        let log_arg = format!("--log-facility={}", path(&dir.join("dnsmasq.log")));
        // It stays root (alone in the router's namespace): it rereads the host files on
        // SIGHUP, and as `nobody` it could not reach them under a private state directory.
        self.sys.run_daemon(
            "ip",
            &[
                "netns",
                "exec",
                ns,
                "dnsmasq",
                "--user=root",
                &conf_arg,
                &pid_arg,
                &lease_arg,
                &log_arg,
            ],
            &dir.join("dnsmasq.err"),
        )
    }

    fn haproxy(
        &self,
        ns: &str,
        dir: &Path,
        cfg: Option<&str>,
        files: &BTreeMap<String, String>,
    ) -> crate::HostResult<()> {
        let pidfile = dir.join("haproxy.pid");
        let running = alive(&pidfile, "haproxy");
        let certs = Self::haproxy_files(dir, files)?;
        let Some(cfg) = cfg else {
            if let Some(pid) = running {
                stop_pid(pid);
            }
            let _ = std::fs::remove_file(dir.join("haproxy.cfg"));
            return Ok(());
        };
        let changed = Self::write_file(dir, "haproxy.cfg", cfg)? || certs;
        if running.is_some() && !changed {
            return Ok(());
        }
        let f = path(&dir.join("haproxy.cfg"));
        let p = path(&pidfile);
        let d = path(dir);
        let old = running.map(|p| p.to_string());
        // `-C`: the certificates are named relative to the router's directory.
        let mut args = vec![
            "netns", "exec", ns, "haproxy", "-D", "-C", &d, "-f", &f, "-p", &p,
        ];
        if let Some(o) = &old {
            // Graceful reload: the old process finishes its connections and exits.
            args.extend(["-sf", o.as_str()]);
        }
        self.sys.run_daemon("ip", &args, &dir.join("haproxy.err"))
    }

    /// Writes the PEM files haproxy terminates TLS with (mode 0600: they hold private keys)
    /// and removes those no longer wanted. Whether any changed.
    fn haproxy_files(dir: &Path, files: &BTreeMap<String, String>) -> crate::HostResult<bool> {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let mut changed = false;
        for (name, content) in files {
            // Names come from the compiler (`lb_<hex>.pem`); anything else is not written.
            if name.contains('/') || !name.ends_with(".pem") {
                continue;
            }
            let p = dir.join(name);
            if std::fs::read_to_string(&p).ok().as_deref() == Some(content.as_str()) {
                continue;
            }
            let tmp = dir.join(format!("{name}.tmp"));
            {
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .mode(0o600)
                    .open(&tmp)
                    .map_err(|e| format!("writing {}: {e}", tmp.display()))?;
                std::io::Write::write_all(&mut f, content.as_bytes())
                    .map_err(|e| format!("writing {}: {e}", tmp.display()))?;
            }
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| format!("restricting {}: {e}", tmp.display()))?;
            std::fs::rename(&tmp, &p).map_err(|e| format!("writing {}: {e}", p.display()))?;
            changed = true;
        }
        if let Ok(rd) = std::fs::read_dir(dir) {
            for e in rd.flatten() {
                let n = e.file_name().to_string_lossy().to_string();
                if n.starts_with("lb_") && n.ends_with(".pem") && !files.contains_key(&n) {
                    let _ = std::fs::remove_file(e.path());
                    changed = true;
                }
            }
        }
        Ok(changed)
    }

    pub(super) fn teardown(&self, ns: &str) -> crate::HostResult<()> {
        let dir = self.router_dir(ns);
        for d in ["dnsmasq", "haproxy"] {
            if let Some(pid) = alive(&dir.join(format!("{d}.pid")), d) {
                stop_pid(pid);
            }
        }
        self.ipsec(ns, &dir, None)?;
        // Deleting the namespace deletes the veth pairs with it.
        self.ip(&["netns", "del", ns])?;
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    }
}

/// The lease file without the leases whose address is no longer given to that MAC (`None`
/// when every lease still holds). dnsmasq's lease lines: `expiry mac address name client-id`.
pub(super) fn without_stale_leases(
    text: &str,
    leases: &[netplan::compile::Lease],
) -> Option<String> {
    let mut stale = false;
    let kept: String = text
        .lines()
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let keep = match (
                f.get(1),
                f.get(2).and_then(|a| a.parse::<std::net::Ipv4Addr>().ok()),
            ) {
                (Some(mac), Some(ip)) => leases
                    .iter()
                    .any(|d| d.ip == ip && d.mac.eq_ignore_ascii_case(mac)),
                _ => true,
            };
            stale |= !keep;
            keep
        })
        .map(|l| format!("{l}\n"))
        .collect();
    stale.then_some(kept)
}

/// The router's dnsmasq configuration with its static leases and host records moved into
/// `hosts.dhcp` and `hosts.dns` (both reread on SIGHUP): (configuration, leases, names).
pub(super) fn dnsmasq_files(dir: &Path, r: &RouterDesired) -> (String, String, String) {
    let mut conf: String = r
        .dnsmasq_conf
        .lines()
        .filter(|l| !l.starts_with("dhcp-host=") && !l.starts_with("host-record="))
        .map(|l| format!("{l}\n"))
        .collect();
    conf.push_str(&format!(
        "dhcp-hostsfile={}\naddn-hosts={}\n",
        path(&dir.join("hosts.dhcp")),
        path(&dir.join("hosts.dns"))
    ));
    let hosts: String = r
        .leases
        .iter()
        .map(|l| format!("{},{},{},infinite\n", l.mac, l.ip, l.hostname))
        .collect();
    let names: String = r
        .dns
        .iter()
        .map(|(fqdn, ip)| {
            let short = fqdn.split('.').next().unwrap_or(fqdn);
            format!("{ip} {fqdn} {short}\n")
        })
        .collect();
    (conf, hosts, names)
}
