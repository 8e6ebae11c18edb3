//! The Linux network driver: applies a host's compiled desired data plane (`netplan`'s
//! `HostDesired`) with iproute2, nftables, dnsmasq and haproxy, diffing against what the host
//! has so a re-apply changes nothing:
//!
//! - a bridge per network (`cbr<VNI>`), joined to the other hosts of the network by a VXLAN
//!   device with head-end replication entries (`bridge fdb append 00:…:00 dst PEER`), or by an
//!   802.1Q sub-interface (`cvl<ID>`) of the uplink; the public bridge `cpub` takes the uplink;
//! - taps (created by the QEMU driver) joined to their bridge;
//! - the security-group ruleset, one `nft -f` transaction, only when it changed;
//! - one namespace per virtual router (`r-<id>`), with veth links `guest`/`public`/`control`
//!   (host ends `rg…`/`rp…`/`rc…`), addresses, routes (`proto static`, with metrics), its
//!   nftables ruleset, dnsmasq (restarted when its configuration changed) and haproxy
//!   (reloaded with `-sf`). Namespaces of routers no longer desired are torn down.
//!
//! Router files live in `STATE/routers/<namespace>/`; the daemons outlive the agent (an agent
//! restart changes nothing on the data plane).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use netplan::{Bridge, HostDesired, Link, RouterDesired};
use serde_json::Value;

use crate::netdriver::NetDriver;
use crate::sys::Sys;

pub struct LinuxNet {
    pub sys: Arc<dyn Sys>,
    /// Where router files (configurations, pid files, leases, logs) are kept.
    pub state_dir: PathBuf,
    /// The device joined to the public bridge (the host's uplink to the outside world).
    pub public_uplink: Option<String>,
    applied: Mutex<Applied>,
    /// Tap → bridge, from the last desired state (read by the QEMU driver while an apply
    /// may be running, so not under `applied`).
    taps: Mutex<BTreeMap<String, String>>,
}

#[derive(Default)]
struct Applied {
    generation: u64,
    security: Option<Option<String>>,
}

/// Link names this driver owns on the host.
const OWNED: [&str; 6] = ["cbr", "cbv", "cbn", "cvx", "cvl", "cpub"];

fn owned(name: &str) -> bool {
    OWNED.iter().any(|p| name.starts_with(p))
}

/// Host-side end of a router's interface: `rg`/`rp`/`rc` + the namespace's id.
pub fn host_end(namespace: &str, iface: &str) -> String {
    let id = namespace.trim_start_matches("r-");
    format!("r{}{id}", iface.chars().next().unwrap_or('x'))
}

#[derive(Debug, Clone)]
struct LinkInfo {
    master: Option<String>,
    up: bool,
    mtu: u64,
    address: String,
}

impl LinuxNet {
    pub fn new(sys: Arc<dyn Sys>, state_dir: PathBuf, public_uplink: Option<String>) -> Self {
        Self {
            sys,
            state_dir,
            public_uplink,
            applied: Mutex::new(Applied::default()),
            taps: Mutex::new(BTreeMap::new()),
        }
    }

    fn ip(&self, args: &[&str]) -> Result<String, String> {
        self.sys.run("ip", args, None)
    }

    fn links(&self, ns: Option<&str>) -> Result<BTreeMap<String, LinkInfo>, String> {
        let out = match ns {
            Some(n) => self.ip(&["-n", n, "-j", "link", "show"])?,
            None => self.ip(&["-j", "link", "show"])?,
        };
        let v: Value = serde_json::from_str(if out.trim().is_empty() { "[]" } else { &out })
            .map_err(|e| format!("parsing ip link output: {e}"))?;
        Ok(v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|l| {
                        let name = l["ifname"].as_str()?.to_string();
                        let flags = l["flags"].as_array();
                        Some((
                            name,
                            LinkInfo {
                                master: l["master"].as_str().map(str::to_string),
                                up: flags.map(|f| f.iter().any(|x| x == "UP")).unwrap_or(false),
                                mtu: l["mtu"].as_u64().unwrap_or(0),
                                address: l["address"].as_str().unwrap_or_default().to_string(),
                            },
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Joins `dev` to `bridge` and brings it up, unless it already is.
    fn enslave(
        &self,
        links: &BTreeMap<String, LinkInfo>,
        dev: &str,
        bridge: &str,
        mtu: u32,
    ) -> Result<(), String> {
        let l = links.get(dev);
        let m = mtu.to_string();
        if l.and_then(|l| l.master.as_deref()) != Some(bridge) {
            self.ip(&["link", "set", dev, "master", bridge])?;
        }
        if l.map(|l| l.mtu) != Some(mtu as u64) {
            self.ip(&["link", "set", dev, "mtu", &m])?;
        }
        if !l.map(|l| l.up).unwrap_or(false) {
            self.ip(&["link", "set", dev, "up"])?;
        }
        Ok(())
    }

    fn bridge(&self, links: &BTreeMap<String, LinkInfo>, b: &Bridge) -> Result<(), String> {
        let m = b.mtu.to_string();
        if !links.contains_key(&b.name) {
            self.ip(&[
                "link",
                "add",
                "name",
                &b.name,
                "mtu",
                &m,
                "type",
                "bridge",
                "stp_state",
                "0",
            ])?;
            self.ip(&["link", "set", &b.name, "up"])?;
        } else if !links[&b.name].up {
            self.ip(&["link", "set", &b.name, "up"])?;
        }
        match &b.link {
            Link::Vxlan {
                dev,
                vni,
                local,
                port,
                peers,
            } => {
                if !links.contains_key(dev) {
                    self.ip(&[
                        "link",
                        "add",
                        dev,
                        "mtu",
                        &m,
                        "type",
                        "vxlan",
                        "id",
                        &vni.to_string(),
                        "local",
                        &local.to_string(),
                        "dstport",
                        &port.to_string(),
                        "nolearning",
                    ])?;
                }
                self.enslave(links, dev, &b.name, b.mtu)?;
                self.peers(dev, peers.iter().map(|p| p.to_string()).collect())?;
            }
            Link::Vlan { dev, id } => self.vlan_sub(links, dev, *id, b)?,
            Link::Public { vlan } => {
                if let Some(up) = &self.public_uplink {
                    match vlan {
                        None => self.enslave(links, up, &b.name, b.mtu)?,
                        Some(id) => self.vlan_sub(links, up, *id, b)?,
                    }
                }
            }
            Link::Local => {}
        }
        Ok(())
    }

    /// An 802.1Q sub-interface `cvl<id>` of `uplink`, joined to the bridge.
    fn vlan_sub(
        &self,
        links: &BTreeMap<String, LinkInfo>,
        uplink: &str,
        id: u16,
        b: &Bridge,
    ) -> Result<(), String> {
        let sub = format!("cvl{id}");
        if !links.contains_key(&sub) {
            self.ip(&[
                "link",
                "add",
                "link",
                uplink,
                "name",
                &sub,
                "type",
                "vlan",
                "id",
                &id.to_string(),
            ])?;
        }
        self.enslave(links, &sub, &b.name, b.mtu)
    }

    /// Makes the head-end replication list of a VXLAN device exactly `want`.
    fn peers(&self, dev: &str, want: BTreeSet<String>) -> Result<(), String> {
        let out = self
            .sys
            .run("bridge", &["-j", "fdb", "show", "dev", dev], None)?;
        let v: Value = serde_json::from_str(if out.trim().is_empty() { "[]" } else { &out })
            .map_err(|e| format!("parsing bridge fdb output: {e}"))?;
        let have: BTreeSet<String> = v
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|e| e["mac"] == "00:00:00:00:00:00")
                    .filter_map(|e| e["dst"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        for p in want.difference(&have) {
            self.sys.run(
                "bridge",
                &["fdb", "append", "00:00:00:00:00:00", "dev", dev, "dst", p],
                None,
            )?;
        }
        for p in have.difference(&want) {
            self.sys.run(
                "bridge",
                &["fdb", "del", "00:00:00:00:00:00", "dev", dev, "dst", p],
                None,
            )?;
        }
        Ok(())
    }

    fn security(&self, text: &Option<String>) -> Result<(), String> {
        match text {
            Some(t) => self.sys.run("nft", &["-f", "-"], Some(t)).map(|_| ()),
            None => self
                .sys
                .run(
                    "nft",
                    &["-f", "-"],
                    Some(
                        "table bridge canopy_spoof {}\ndelete table bridge canopy_spoof\n\
                         table inet canopy_sg {}\ndelete table inet canopy_sg\n",
                    ),
                )
                .map(|_| ()),
        }
    }

    fn namespaces(&self) -> Result<BTreeSet<String>, String> {
        let out = self.ip(&["-j", "netns", "list"])?;
        let v: Value = serde_json::from_str(if out.trim().is_empty() { "[]" } else { &out })
            .map_err(|e| format!("parsing netns list: {e}"))?;
        Ok(v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|n| n["name"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default())
    }

    fn router_dir(&self, ns: &str) -> PathBuf {
        self.state_dir.join("routers").join(ns)
    }

    /// Writes `name` in the router's directory; true when its content changed.
    fn write_file(dir: &Path, name: &str, content: &str) -> Result<bool, String> {
        let p = dir.join(name);
        if std::fs::read_to_string(&p).ok().as_deref() == Some(content) {
            return Ok(false);
        }
        std::fs::write(&p, content).map_err(|e| format!("writing {}: {e}", p.display()))?;
        Ok(true)
    }

    fn router(&self, links: &BTreeMap<String, LinkInfo>, r: &RouterDesired) -> Result<(), String> {
        let ns = r.namespace.as_str();
        let dir = self.router_dir(ns);
        std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        let mut fresh = !self.namespaces()?.contains(ns);
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
        }
        self.ip(&[
            "netns",
            "exec",
            ns,
            "sh",
            "-c",
            "echo 1 > /proc/sys/net/ipv4/ip_forward",
        ])?;
        let inside = self.links(Some(ns))?;
        for i in &r.interfaces {
            let host = host_end(ns, &i.name);
            if !inside.contains_key(&i.name) {
                if links.contains_key(&host) {
                    self.ip(&["link", "del", &host])?;
                }
                self.ip(&[
                    "link", "add", &host, "type", "veth", "peer", "name", &i.name, "netns", ns,
                ])?;
            }
            let mtu = i
                .bridge
                .as_ref()
                .and_then(|b| links.get(b))
                .map(|b| b.mtu as u32)
                .unwrap_or(1500);
            let now = self.links(None)?;
            match &i.bridge {
                Some(b) => self.enslave(&now, &host, b, mtu)?,
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
        if Self::write_file(&dir, "ruleset.nft", &r.nftables)? || fresh {
            let f = dir.join("ruleset.nft");
            self.ip(&["netns", "exec", ns, "nft", "-f", &path(&f)])?;
        }
        self.dnsmasq(ns, &dir, r)?;
        self.haproxy(ns, &dir, r.haproxy_cfg.as_deref())?;
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

    fn addresses(&self, ns: &str, dev: &str, want: &[String]) -> Result<(), String> {
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

    fn routes(&self, ns: &str, r: &RouterDesired) -> Result<(), String> {
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
    fn dnsmasq(&self, ns: &str, dir: &Path, r: &RouterDesired) -> Result<(), String> {
        let (conf, hosts, names) = dnsmasq_files(dir, r);
        let changed = Self::write_file(dir, "dnsmasq.conf", &conf)?;
        let lists_changed = Self::write_file(dir, "hosts.dhcp", &hosts)?
            | Self::write_file(dir, "hosts.dns", &names)?;
        let pidfile = dir.join("dnsmasq.pid");
        let running = alive(&pidfile, "dnsmasq");
        if let (Some(pid), false) = (running, changed) {
            if lists_changed {
                self.sys.run("kill", &["-HUP", &pid.to_string()], None)?;
            }
            return Ok(());
        }
        if let Some(pid) = running {
            stop_pid(pid);
        }
        let leases = dir.join("leases");
        std::fs::create_dir_all(&leases).map_err(|e| e.to_string())?;
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

    fn haproxy(&self, ns: &str, dir: &Path, cfg: Option<&str>) -> Result<(), String> {
        let pidfile = dir.join("haproxy.pid");
        let running = alive(&pidfile, "haproxy");
        let Some(cfg) = cfg else {
            if let Some(pid) = running {
                stop_pid(pid);
            }
            let _ = std::fs::remove_file(dir.join("haproxy.cfg"));
            return Ok(());
        };
        let changed = Self::write_file(dir, "haproxy.cfg", cfg)?;
        if running.is_some() && !changed {
            return Ok(());
        }
        let f = path(&dir.join("haproxy.cfg"));
        let p = path(&pidfile);
        let old = running.map(|p| p.to_string());
        let mut args = vec!["netns", "exec", ns, "haproxy", "-D", "-f", &f, "-p", &p];
        if let Some(o) = &old {
            // Graceful reload: the old process finishes its connections and exits.
            args.extend(["-sf", o.as_str()]);
        }
        self.sys.run_daemon("ip", &args, &dir.join("haproxy.err"))
    }

    fn teardown(&self, ns: &str) -> Result<(), String> {
        let dir = self.router_dir(ns);
        for d in ["dnsmasq", "haproxy"] {
            if let Some(pid) = alive(&dir.join(format!("{d}.pid")), d) {
                stop_pid(pid);
            }
        }
        // Deleting the namespace deletes the veth pairs with it.
        self.ip(&["netns", "del", ns])?;
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    }

    fn apply_all(&self, desired: &HostDesired, applied: &mut Applied) -> Result<(), String> {
        // Bridged IPv4 must traverse the inet hooks for the security groups (stateful rules).
        let _ = std::fs::write("/proc/sys/net/bridge/bridge-nf-call-iptables", "1");
        let links = self.links(None)?;
        for b in &desired.bridges {
            self.bridge(&links, b)?;
        }
        let links = self.links(None)?;
        for t in &desired.taps {
            // A tap exists while its VM runs; the QEMU driver joins it when it starts.
            if links.contains_key(&t.name) {
                let mtu = links.get(&t.bridge).map(|b| b.mtu as u32).unwrap_or(1500);
                self.enslave(&links, &t.name, &t.bridge, mtu)?;
            }
        }
        if applied.security.as_ref() != Some(&desired.security) {
            // Only the chains and sets that changed, when the ruleset kept its shape (one
            // transaction either way); the whole ruleset otherwise, or if the delta fails.
            let delta = match (&applied.security, &desired.security) {
                (Some(Some(old)), Some(new)) => netplan::nft_delta(old, new),
                _ => None,
            };
            match delta {
                Some(d) if d.is_empty() => {}
                Some(d) => {
                    if let Err(e) = self.sys.run("nft", &["-f", "-"], Some(&d)) {
                        tracing::warn!(error = %e, "security-group delta refused; applying the whole ruleset");
                        self.security(&desired.security)?;
                    }
                }
                None => self.security(&desired.security)?,
            }
            applied.security = Some(desired.security.clone());
        }
        let want: BTreeSet<&str> = desired
            .routers
            .iter()
            .map(|r| r.namespace.as_str())
            .collect();
        for r in &desired.routers {
            self.router(&links, r)
                .map_err(|e| format!("router {}: {e}", r.namespace))?;
        }
        // Only routers this agent built (several agents may share a machine's namespaces).
        let mine: Vec<String> = std::fs::read_dir(self.state_dir.join("routers"))
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .filter_map(|e| e.file_name().into_string().ok())
                    .collect()
            })
            .unwrap_or_default();
        let present = self.namespaces()?;
        for ns in mine {
            if ns.starts_with("r-") && !want.contains(ns.as_str()) {
                if present.contains(&ns) {
                    self.teardown(&ns)?;
                } else {
                    let _ = std::fs::remove_dir_all(self.router_dir(&ns));
                }
            }
        }
        // Bridges and devices of networks this host no longer has.
        let desired_links: BTreeSet<String> = desired
            .bridges
            .iter()
            .flat_map(|b| {
                let mut v = vec![b.name.clone()];
                match &b.link {
                    Link::Vxlan { dev, .. } => v.push(dev.clone()),
                    Link::Vlan { id, .. } => v.push(format!("cvl{id}")),
                    Link::Public { vlan: Some(id) } => v.push(format!("cvl{id}")),
                    _ => {}
                }
                v
            })
            .collect();
        for name in self.links(None)?.keys() {
            if owned(name) && !desired_links.contains(name) {
                self.ip(&["link", "del", name])?;
            }
        }
        Ok(())
    }

    /// The bridge a tap belongs to, from the last desired state (for the QEMU driver).
    pub fn bridge_of(&self, tap: &str) -> Option<String> {
        self.taps.lock().ok()?.get(tap).cloned()
    }

    /// Joins a VM's tap to its bridge when the bridge exists already.
    pub fn join_tap(&self, tap: &str, bridge: &str) -> Result<(), String> {
        let links = self.links(None)?;
        if !links.contains_key(bridge) {
            return Ok(());
        }
        let mtu = links.get(bridge).map(|b| b.mtu as u32).unwrap_or(1500);
        self.enslave(&links, tap, bridge, mtu)
    }
}

impl NetDriver for LinuxNet {
    fn apply(&self, generation: u64, desired: &HostDesired) -> Result<u64, String> {
        let mut applied = self
            .applied
            .lock()
            .map_err(|_| "network state poisoned".to_string())?;
        if generation < applied.generation {
            return Ok(applied.generation);
        }
        if let Ok(mut t) = self.taps.lock() {
            *t = desired
                .taps
                .iter()
                .map(|t| (t.name.clone(), t.bridge.clone()))
                .collect();
        }
        self.apply_all(desired, &mut applied)?;
        applied.generation = generation;
        Ok(generation)
    }
}

/// The router's dnsmasq configuration with its static leases and host records moved into
/// `hosts.dhcp` and `hosts.dns` (both reread on SIGHUP): (configuration, leases, names).
fn dnsmasq_files(dir: &Path, r: &RouterDesired) -> (String, String, String) {
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

fn path(p: &Path) -> String {
    p.display().to_string()
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::FakeSys;

    fn desired(link: Link) -> HostDesired {
        HostDesired {
            host_id: uuid::Uuid::nil(),
            bridges: vec![Bridge {
                name: "cbv42".into(),
                network_id: Some(uuid::Uuid::nil()),
                link,
                mtu: 1500,
            }],
            taps: Vec::new(),
            security: None,
            routers: Vec::new(),
        }
    }

    #[test]
    fn vlan_networks_get_a_sub_interface_of_the_uplink_joined_to_their_bridge() {
        let sys = Arc::new(FakeSys::default());
        let dir = std::env::temp_dir().join(format!("canopy-ln-{}", uuid::Uuid::new_v4()));
        let net = LinuxNet::new(sys.clone(), dir.clone(), None);
        net.apply(
            1,
            &desired(Link::Vlan {
                dev: "eth1".into(),
                id: 42,
            }),
        )
        .expect("apply");
        let cmds = sys.commands();
        assert!(
            cmds.contains(&"ip link add name cbv42 mtu 1500 type bridge stp_state 0".into()),
            "{cmds:#?}"
        );
        assert!(
            cmds.contains(&"ip link add link eth1 name cvl42 type vlan id 42".into()),
            "{cmds:#?}"
        );
        assert!(
            cmds.contains(&"ip link set cvl42 master cbv42".into()),
            "{cmds:#?}"
        );
        // Stale generations change nothing.
        let n = sys.commands().len();
        assert_eq!(net.apply(0, &desired(Link::Local)), Ok(1));
        assert_eq!(sys.commands().len(), n);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn dnsmasq_keeps_leases_and_names_in_files_it_rereads() {
        let golden = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../netplan/tests/golden/h3.json");
        let host: HostDesired =
            serde_json::from_slice(&std::fs::read(golden).expect("golden")).expect("json");
        let r = &host.routers[0];
        let dir = tempfile::tempdir().expect("tmp");
        let (conf, hosts, names) = dnsmasq_files(dir.path(), r);
        assert!(
            !conf.contains("dhcp-host=") && !conf.contains("host-record="),
            "{conf}"
        );
        assert!(
            conf.contains("dhcp-hostsfile=") && conf.contains("addn-hosts="),
            "{conf}"
        );
        assert!(
            hosts.contains("02:00:00:00:00:01,10.1.1.11,web1,infinite"),
            "{hosts}"
        );
        assert!(
            names.contains("10.1.1.11 web1.acme.internal web1"),
            "{names}"
        );
        // The real dnsmasq accepts the configuration and its files.
        if std::process::Command::new("dnsmasq")
            .arg("--version")
            .output()
            .is_ok()
        {
            std::fs::write(dir.path().join("hosts.dhcp"), &hosts).expect("write");
            std::fs::write(dir.path().join("hosts.dns"), &names).expect("write");
            let f = dir.path().join("dnsmasq.conf");
            std::fs::write(&f, &conf).expect("write");
            let out = std::process::Command::new("dnsmasq")
                .arg("--test")
                .arg(format!("--conf-file={}", f.display()))
                .output()
                .expect("dnsmasq");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    #[test]
    fn a_security_group_change_sends_only_the_changed_chain() {
        let sys = Arc::new(FakeSys::default());
        let dir = std::env::temp_dir().join(format!("canopy-ln-{}", uuid::Uuid::new_v4()));
        let net = LinuxNet::new(sys.clone(), dir.clone(), None);
        let rules = |extra: &str| {
            format!(
                "table inet canopy_sg {{}}\ndelete table inet canopy_sg\ntable inet canopy_sg {{\n    chain forward {{\n        type filter hook forward priority filter; policy accept;\n{}    }}\n    chain sgin_1 {{\n        tcp dport 80 accept\n{extra}    }}\n}}\n",
                "        jump sgin_1\n".repeat(200)
            )
        };
        let mut d = desired(Link::Local);
        d.security = Some(rules(""));
        net.apply(1, &d).expect("apply");
        d.security = Some(rules("        tcp dport 443 accept\n"));
        net.apply(2, &d).expect("apply");
        let nft: Vec<String> = sys
            .commands()
            .into_iter()
            .filter(|c| c.starts_with("nft -f -"))
            .collect();
        assert_eq!(nft.len(), 2, "{nft:?}");
        let size = |c: &str| {
            c.rsplit("<<")
                .next()
                .and_then(|n| n.parse::<usize>().ok())
                .unwrap_or(0)
        };
        assert!(
            size(&nft[1]) < 150 && size(&nft[0]) > 3000,
            "the second apply sends the changed chain only: {nft:?}"
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn vxlan_peers_are_diffed_against_the_fdb() {
        let sys = Arc::new(FakeSys::default());
        sys.answer(
            "ip -j link show",
            r#"[{"ifname":"cbv42","flags":["UP"],"mtu":1450},{"ifname":"cvx42","master":"cbv42","flags":["UP"],"mtu":1450},{"ifname":"cbr7","flags":["UP"],"mtu":1450}]"#,
        );
        sys.answer(
            "bridge -j fdb show dev cvx42",
            r#"[{"mac":"00:00:00:00:00:00","dst":"10.0.0.2"},{"mac":"00:00:00:00:00:00","dst":"10.0.0.9"},{"mac":"02:00:00:00:00:01","master":"cbv42"}]"#,
        );
        let dir = std::env::temp_dir().join(format!("canopy-ln-{}", uuid::Uuid::new_v4()));
        let net = LinuxNet::new(sys.clone(), dir.clone(), None);
        let mut d = desired(Link::Vxlan {
            dev: "cvx42".into(),
            vni: 42,
            local: "10.0.0.1".parse().expect("ip"),
            port: 4789,
            peers: vec![
                "10.0.0.2".parse().expect("ip"),
                "10.0.0.3".parse().expect("ip"),
            ],
        });
        d.bridges[0].mtu = 1450;
        net.apply(3, &d).expect("apply");
        let cmds = sys.commands();
        let changes: Vec<&String> = cmds
            .iter()
            .filter(|c| {
                !c.contains(" -j ") && !c.starts_with("ip -j") && !c.starts_with("bridge -j")
            })
            .collect();
        assert_eq!(
            changes,
            vec![
                "bridge fdb append 00:00:00:00:00:00 dev cvx42 dst 10.0.0.3",
                "bridge fdb del 00:00:00:00:00:00 dev cvx42 dst 10.0.0.9",
                "nft -f - <<114",
                "ip link del cbr7",
            ],
            "only the differences are applied; a bridge no longer desired goes"
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
