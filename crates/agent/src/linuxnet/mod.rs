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
//!   (reloaded with `-sf`), and a VPC router's strongSwan charon for its site-to-site VPN
//!   connections (`ipsec`). Namespaces of routers no longer desired are torn down.
//!
//! Router files live in `STATE/routers/<namespace>/`; the daemons outlive the agent (an agent
//! restart changes nothing on the data plane).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use netplan::{Bridge, HostDesired, Link};
use serde_json::Value;

use crate::netdriver::NetDriver;
use crate::sys::Sys;

mod ipsec;
mod router;

pub use ipsec::charon_path;

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
    /// The switch that sends bridged traffic through the inet hooks, where the security
    /// groups' stateful rules are (tests point it elsewhere).
    pub bridge_nf: PathBuf,
    /// The routers' data and password servers (served by this process, inside each
    /// router's namespace).
    pub data: crate::vrdata::DataServers,
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

/// Host-side end of a router's interface: `rg`/`rp`/`rc` + the namespace's id; a VPC router's tier
/// interfaces `r` + a digest of both names.
pub fn host_end(namespace: &str, iface: &str) -> String {
    let id = namespace.trim_start_matches("r-");
    match iface {
        // `rg|rp|rc` + the router's 8 hex digits.
        "guest" | "public" | "control" => format!("r{}{id}", iface.chars().next().unwrap_or('x')),
        // A VPC router's tier interfaces (`t<VNI>`, several per router): `r` + 13 hex digits
        // of a digest of both names — unique where a first letter is not, and within the
        // kernel's 15 characters.
        _ => {
            let d = netplan::digest(format!("{namespace}/{iface}").as_bytes());
            format!("r{}", &d[..13])
        }
    }
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
            bridge_nf: PathBuf::from("/proc/sys/net/bridge/bridge-nf-call-iptables"),
            data: Default::default(),
        }
    }

    /// Security groups fail closed: they can only be enforced when bridged traffic passes the
    /// inet hooks (br_netfilter, `net.bridge.bridge-nf-call-iptables = 1`). The module is
    /// loaded and the switch set when they are not; when that does not take, the host's data
    /// plane is refused (the server keeps retrying and says so) rather than applied without
    /// its firewall.
    fn bridged_traffic_filtered(&self) -> crate::HostResult<()> {
        let on = || {
            std::fs::read_to_string(&self.bridge_nf)
                .map(|v| v.trim() == "1")
                .unwrap_or(false)
        };
        if on() {
            return Ok(());
        }
        if !self.bridge_nf.exists() {
            let _ = self.sys.run("modprobe", &["br_netfilter"], None);
        }
        let _ = std::fs::write(&self.bridge_nf, "1");
        if on() {
            Ok(())
        } else {
            Err(format!(
                "security groups cannot be enforced on this host: bridged traffic does not pass the firewall ({} is not 1; load br_netfilter); the data plane is not applied",
                self.bridge_nf.display()
            ).into())
        }
    }

    fn ip(&self, args: &[&str]) -> crate::HostResult<String> {
        self.sys.run("ip", args, None)
    }

    fn links(&self, ns: Option<&str>) -> crate::HostResult<BTreeMap<String, LinkInfo>> {
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
    ) -> crate::HostResult<()> {
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

    fn bridge(&self, links: &BTreeMap<String, LinkInfo>, b: &Bridge) -> crate::HostResult<()> {
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
    ) -> crate::HostResult<()> {
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
    fn peers(&self, dev: &str, want: BTreeSet<String>) -> crate::HostResult<()> {
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

    fn security(&self, text: &Option<String>) -> crate::HostResult<()> {
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

    fn namespaces(&self) -> crate::HostResult<BTreeSet<String>> {
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
    fn write_file(dir: &Path, name: &str, content: &str) -> crate::HostResult<bool> {
        let p = dir.join(name);
        if std::fs::read_to_string(&p).ok().as_deref() == Some(content) {
            return Ok(false);
        }
        // Atomic: dnsmasq rereads these files on SIGHUP and must never see half of one.
        crate::procs::write_atomic(&p, content.as_bytes())
            .map_err(|e| format!("writing {}: {e}", p.display()))?;
        Ok(true)
    }
}

impl LinuxNet {
    fn apply_all(&self, desired: &HostDesired, applied: &mut Applied) -> crate::HostResult<()> {
        // Bridged IPv4 must traverse the inet hooks for the security groups (stateful rules);
        // checked before any tap joins a bridge, so nothing flows unfiltered.
        if desired.security.is_some() {
            self.bridged_traffic_filtered()?;
        }
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
        let present = self.namespaces()?;
        for r in &desired.routers {
            self.router(&links, &present, r)
                .map_err(|e| format!("router {}: {e}", r.namespace))?;
            // The guests' data: a router whose data server cannot start still routes.
            let addresses = if r.data_addresses.is_empty() {
                vec![r.data_address]
            } else {
                r.data_addresses.clone()
            };
            if let Err(e) = self.data.apply(&r.namespace, &addresses, &r.guests) {
                tracing::warn!(namespace = %r.namespace, error = %e, "router data server");
            }
        }
        self.data.retain(&want);
        // Only routers this agent built (several agents may share a machine's namespaces).
        let mine: Vec<String> = std::fs::read_dir(self.state_dir.join("routers"))
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .filter_map(|e| e.file_name().into_string().ok())
                    .collect()
            })
            .unwrap_or_default();
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
    pub fn join_tap(&self, tap: &str, bridge: &str) -> crate::HostResult<()> {
        let links = self.links(None)?;
        if !links.contains_key(bridge) {
            return Ok(());
        }
        let mtu = links.get(bridge).map(|b| b.mtu as u32).unwrap_or(1500);
        self.enslave(&links, tap, bridge, mtu)
    }
}

impl NetDriver for LinuxNet {
    fn apply(&self, generation: u64, desired: &HostDesired) -> crate::HostResult<u64> {
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

fn path(p: &Path) -> String {
    p.display().to_string()
}

#[cfg(test)]
mod tests;
