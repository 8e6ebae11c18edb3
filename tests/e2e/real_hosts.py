#!/usr/bin/env python3
"""Real hosts end to end (run by scripts/real-hosts.sh inside the management namespace):
builds a zone through the API, starts two host agents in their namespaces (real QEMU, the
Linux data plane), and checks what a user would: VMs boot and get their addresses from the
router's DHCP, resolve and ping each other across hosts; a security group opens one port and
not the next, and revoking closes it; port forwarding, static NAT and a load balancer (with
source stickiness) reach the VMs from the public namespace; the console websocket answers
RFB; stop, start, reboot; live migration keeps a guest counter counting; an agent killed and
restarted adopts its VMs. Prints measured times. Last line: "N passed, N failed".
"""
import argparse
import base64
import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import traceback

from cs import CloudStack

RESULTS = []
TIMES = {}
# vm1's user data: a cloud-config as a user would give it (the guest reads it back).
USERDATA = "#cloud-config\nwrite_files:\n- path: /etc/motd\n  content: hello from canopy\n"
# The Debian guest's user data: a file cloud-init writes (checked over SSH).
DEB_USERDATA = ("#cloud-config\nwrite_files:\n- path: /etc/canopy-userdata\n  content: written-by-user-data\n"
                "  permissions: '0644'\n")


def step(name, fn):
    t0 = time.monotonic()
    try:
        out = fn()
        RESULTS.append(True)
        print("PASS  %s (%.1f s)%s" % (name, time.monotonic() - t0, (" -- " + str(out)) if out else ""), flush=True)
        return out
    except Exception as e:  # noqa: BLE001
        RESULTS.append(False)
        print("FAIL  %s -- %s: %s" % (name, type(e).__name__, e), flush=True)
        traceback.print_exc(limit=4)
        return None


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def wait_for(what, fn, timeout=60.0, every=0.2):
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        last = fn()
        if last:
            return last
        time.sleep(every)
    raise AssertionError("timed out after %.0f s waiting for %s (last: %r)" % (timeout, what, last))


class Console:
    """The guest's serial console (QEMU's chardev socket): run a shell command, read its output."""

    def __init__(self, sock_path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(1.0)
        self.s.connect(sock_path)
        self.n = 1000 + (os.getpid() % 1000) * 10

    def run(self, cmd, timeout=30.0):
        self.n += 1
        n = self.n
        # The marker is computed by the shell, so the echoed command line never matches it.
        line = "%s; echo END-$((%d+0))-$?\n" % (cmd, n)
        self.s.sendall(line.encode())
        buf = b""
        end = time.monotonic() + timeout
        pat = re.compile(rb"END-%d-(\d+)" % n)
        while time.monotonic() < end:
            try:
                chunk = self.s.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                break
            buf += chunk
            m = pat.search(buf)
            if m:
                # The text includes the echoed command line: checks look for what only the
                # command's output can contain.
                return int(m.group(1)), buf[: m.start()].decode(errors="replace")
        raise AssertionError("no answer from the guest to %r within %.0f s: %r" % (cmd, timeout, buf[-300:]))

    def close(self):
        self.s.close()


def tick(c):
    """The guest's seconds counter (the pattern is built by the shell, so the echoed command
    line never matches it)."""
    rc, out = c.run("echo TICK=$(cat /tmp/tick)=")
    m = re.search(r"TICK=(\d+)=", out)
    check(rc == 0 and m, "no counter in %r" % out)
    return int(m.group(1))


def ns_fetch(ns, url, timeout=3):
    """GET `url` from the network namespace `ns` (a fresh connection); body or None."""
    code = ("import urllib.request,sys\n"
            "try:\n print(urllib.request.urlopen(sys.argv[1], timeout=%d).read().decode().strip())\n"
            "except Exception as e:\n print('ERR', e); sys.exit(1)\n") % timeout
    r = subprocess.run(["ip", "netns", "exec", ns, "python3", "-c", code, url], capture_output=True, text=True,
                       timeout=timeout + 10)
    return r.stdout.strip() if r.returncode == 0 else None


def ws_console(url):
    """Opens the console websocket and returns the first binary message (the RFB version)."""
    m = re.match(r"wss?://([^/:]+):(\d+)(/.*)", url)
    host, port, path = m.group(1), int(m.group(2)), m.group(3)
    s = socket.create_connection((host, port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    req = ("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: binary\r\n\r\n"
           % (path, host, port, key))
    s.sendall(req.encode())
    resp = b""
    while b"\r\n\r\n" not in resp:
        c = s.recv(4096)
        if not c:
            break
        resp += c
    head, _, rest = resp.partition(b"\r\n\r\n")
    check(head.startswith(b"HTTP/1.1 101"), "no websocket upgrade: %r" % head[:200])
    data = rest
    while len(data) < 2:
        data += s.recv(4096)
    ln = data[1] & 0x7F
    off = 2
    if ln == 126:
        while len(data) < 4:
            data += s.recv(4096)
        ln = int.from_bytes(data[2:4], "big")
        off = 4
    while len(data) < off + ln:
        data += s.recv(4096)
    s.close()
    return data[0] & 0x0F, data[off:off + ln]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--admin-json", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--template", required=True)
    ap.add_argument("--hosts", required=True, help="namespaces of host 1 and host 2")
    ap.add_argument("--inet", required=True, help="the public client's namespace")
    ap.add_argument("--ui", help="the web console's directory (ui/, built): its noVNC page is checked in Chromium")
    ap.add_argument("--shots", help="where the browser check saves its screenshot")
    ap.add_argument("--debian", help="the Debian cloud image (scripts/build-debian-image.sh)")
    ap.add_argument("--servers", help="the management servers as AGENT_ENDPOINT=PID,… (the API URL is their "
                                      "balancer): one is killed under the hosts")
    a = ap.parse_args()
    creds = json.load(open(a.admin_json))
    api = CloudStack(endpoint=a.url, key=creds["apikey"], secret=creds["secretkey"], poll_interval=0.1,
                     job_timeout=300, fetch_result=True)
    hosts_ns = a.hosts.split(",")
    st = {"agents": {}}

    def on_term(*_):
        # Stopped from outside (a timeout): the agents this test started go too.
        for p in st["agents"].values():
            if p.poll() is None:
                p.kill()
        sys.exit(143)
    signal.signal(signal.SIGTERM, on_term)

    def start_agent(i, token=None):
        d = os.path.join(a.work, "h%d" % i)
        # nsenter switches only the network namespace, as an agent on a real host runs: the
        # router namespaces it creates are mounted where every process sees them (`ip netns
        # exec` would give the agent a private mount namespace).
        cmd = ["nsenter", "--net=/run/netns/" + hosts_ns[i - 1], a.bin, "agent", "--address", "192.168.251.1%d" % i,
               "--state-dir", d, "--public-uplink", "pubup"]
        if token:
            cmd += ["--token", token]
        log = open(os.path.join(d, "agent.log"), "a")
        p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ, CANOPY_LOG="info"))
        st["agents"][i] = p
        return p

    def zone():
        # Heartbeats every 3 s: a dead host is noticed after 7.5 s (the default is 25 s).
        api.updateConfiguration(name="ping.interval", value="3")
        # Guest statistics every 5 s (CloudStack's default is a minute).
        api.updateConfiguration(name="vm.stats.interval", value="5000")
        z = api.createZone(name="real1", networktype="Advanced", dns1="203.0.113.1", internaldns1="203.0.113.1",
                           guestcidraddress="10.1.0.0/16", domain="real.internal")["zone"]
        st["zone"] = z["id"]
        pn = api.createPhysicalNetwork(name="pn1", zoneid=z["id"], isolationmethods="VXLAN", vlan="3000-3099")
        pn = pn["physicalnetwork"]
        for t in ("Guest", "Management", "Public"):
            api.addTrafficType(physicalnetworkid=pn["id"], traffictype=t)
        nsp = api.listNetworkServiceProviders(physicalnetworkid=pn["id"], name="VirtualRouter")
        nsp = nsp["networkserviceprovider"][0]
        el = api.listVirtualRouterElements(nspid=nsp["id"])["virtualrouterelement"][0]
        api.configureVirtualRouterElement(id=el["id"], enabled="true")
        api.updateNetworkServiceProvider(id=nsp["id"], state="Enabled")
        api.updatePhysicalNetwork(id=pn["id"], state="Enabled")
        api.createVlanIpRange(zoneid=z["id"], physicalnetworkid=pn["id"], forvirtualnetwork="true",
                              vlan="untagged", gateway="203.0.113.1", netmask="255.255.255.0",
                              startip="203.0.113.10", endip="203.0.113.60")
        pod = api.createPod(name="pod1", zoneid=z["id"], gateway="192.168.251.1", netmask="255.255.255.0",
                            startip="192.168.251.100", endip="192.168.251.200", allocationstate="Enabled")["pod"]
        cl = api.addCluster(clustername="c1", clustertype="CloudManaged", hypervisor="KVM", podid=pod["id"],
                            zoneid=z["id"])["cluster"][0]
        st["cluster"] = cl["id"]
        tokens = []
        for i in (1, 2):
            h = api.addHost(zoneid=z["id"], podid=pod["id"], clusterid=cl["id"], hypervisor="KVM",
                            url="http://192.168.251.1%d" % i)["host"][0]
            st["h%d" % i] = h["id"]
            tokens.append(h["jointoken"])
        for i in (1, 2):
            start_agent(i, tokens[i - 1])
        wait_for("both hosts Up", lambda: len([h for h in api.listHosts(zoneid=z["id"], type="Routing")
                                                .get("host", []) if h["state"] == "Up"]) == 2, 60)
        api.createStoragePool(name="shared", zoneid=z["id"], podid=pod["id"], clusterid=cl["id"],
                              url="filesystem://" + os.path.join(a.work, "primary"))
        api.addImageStore(provider="NFS", name="sec", url="file://" + os.path.join(a.work, "secondary"),
                          zoneid=z["id"])
        api.updateCluster(id=cl["id"], allocationstate="Enabled")
        api.updateZone(id=z["id"], allocationstate="Enabled")
        hs = api.listHosts(zoneid=z["id"], type="Routing")["host"]
        return ", ".join("%s %s (%s, QEMU %s)" % (h["name"], h["state"], h.get("details", {}).get("accelerator"),
                                                  h.get("hypervisorversion", "?")) for h in hs)
    step("zone with two real hosts (agents in their namespaces) joins and is enabled", zone)
    if "h2" not in st or not all(RESULTS):
        return finish(st)

    def locked_down():
        # The management namespace (where the servers and this test run) has no way out: a
        # connection to an address outside the hosts' underlay is refused by its nftables,
        # yet the zone works (everything after this runs there).
        sk = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sk.settimeout(2)
        try:
            sk.connect(("198.51.100.99", 443))
            refused = None
        except OSError as e:
            refused = e.errno
        finally:
            sk.close()
        check(refused in (1, 101, 113), "no outbound access from the management namespace: errno %r" % refused)
        rules = subprocess.run(["nft", "list", "table", "inet", "canopy_lockdown"], capture_output=True, text=True)
        check(rules.returncode == 0 and "policy drop" in rules.stdout, "the lockdown ruleset: %r" % rules.stdout)
        return "connect to 198.51.100.99:443 -> errno %s; the servers reach only loopback and the hosts" % refused
    step("the management namespace has no outbound access (only loopback and the hosts)", locked_down)

    def template():
        os_id = [o["id"] for o in api.listOsTypes()["ostype"] if o["description"] == "Other Linux (64-bit)"][0]
        st["ostype"] = os_id
        url = lambda f: "file://" + os.path.join(a.template, f)  # noqa: E731
        # file:// registrations read only from staging directories: make the template's one.
        api.updateConfiguration(name="image.staging.dirs", value=os.path.abspath(a.template))
        t = api.registerTemplate(**{"name": "tiny", "displaytext": "tiny", "url": url("root.qcow2"),
                                    "format": "QCOW2", "hypervisor": "KVM", "ostypeid": os_id,
                                    "zoneid": st["zone"], "ispublic": "true",
                                    "details[0].kernel": url("vmlinux"),
                                    "details[0].initrd": url("initramfs.cpio.gz")})["template"][0]
        st["template"] = t["id"]
        wait_for("template ready", lambda: api.listTemplates(templatefilter="all", id=t["id"])["template"][0]
                 ["isready"], 120)
        so = api.createServiceOffering(name="tiny", displaytext="tiny", cpunumber=1, cpuspeed=500,
                                       memory=256)["serviceoffering"]
        st["offering"] = so["id"]
    step("template (kernel + initrd + root disk) registered and ready; a 256 MiB offering", template)

    def download_through_proxy():
        # A locked-down site: the management server may reach its image server only through the
        # site's HTTP proxy. tinyproxy (as nobody) on loopback; the image server on loopback
        # too, and an nftables rule (this test's own table, loopback only) refuses every
        # connection to it that is not the proxy's. With secstorage.proxy set the download
        # completes (the proxy's log shows it); without, it fails.
        work = os.path.join(a.work, "proxy")
        os.makedirs(os.path.join(work, "www"), exist_ok=True)
        with open(os.path.join(a.template, "root.qcow2"), "rb") as f, \
                open(os.path.join(work, "www", "root.qcow2"), "wb") as g:
            g.write(f.read())
        free = lambda: socket.create_server(("127.0.0.1", 0))  # noqa: E731
        s1, s2 = free(), free()
        img_port, proxy_port = s1.getsockname()[1], s2.getsockname()[1]
        s1.close()
        s2.close()
        log = os.path.join(work, "tinyproxy.log")
        open(log, "w").close()
        os.chmod(log, 0o666)
        os.chmod(work, 0o755)
        with open(os.path.join(work, "tinyproxy.conf"), "w") as f:
            f.write("User nobody\nGroup nogroup\nPort %d\nListen 127.0.0.1\nTimeout 60\nAllow 127.0.0.1\n"
                    "LogFile \"%s\"\nLogLevel Info\nMaxClients 20\n" % (proxy_port, log))
        img = subprocess.Popen([sys.executable, "-m", "http.server", str(img_port), "--bind", "127.0.0.1",
                                "--directory", os.path.join(work, "www")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        proxy = subprocess.Popen(["tinyproxy", "-d", "-c", os.path.join(work, "tinyproxy.conf")],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        nft = lambda *args: subprocess.run(["nft", *args], check=True)  # noqa: E731
        try:
            def listening(port):
                try:
                    socket.create_connection(("127.0.0.1", port), 1).close()
                    return True
                except OSError:
                    return False
            wait_for("the image server", lambda: listening(img_port), 15, 0.2)
            wait_for("tinyproxy", lambda: listening(proxy_port), 15, 0.2)
            nft("add", "table", "inet", "rh_proxy")
            nft("add", "chain", "inet", "rh_proxy", "out", "{ type filter hook output priority 0 ; }")
            nft("add", "rule", "inet", "rh_proxy", "out", "oif", "lo", "tcp", "dport", str(img_port),
                "meta", "skuid", "!=", "nobody", "reject", "with", "tcp", "reset")
            url = "http://127.0.0.1:%d/root.qcow2" % img_port

            def register(name):
                return api.registerTemplate(name=name, displaytext=name, url=url, format="QCOW2",
                                            hypervisor="KVM", ostypeid=st["ostype"], zoneid=st["zone"])["template"][0]

            def state(t):
                return api.listTemplates(templatefilter="all", id=t["id"])["template"][0]

            api.updateConfiguration(name="secstorage.proxy", value="http://127.0.0.1:%d" % proxy_port)
            t0 = time.monotonic()
            t = register("via-proxy")
            ended = lambda t: state(t)["isready"] or state(t).get("status", "").startswith("fetching")  # noqa: E731
            wait_for("the download through the proxy", lambda: ended(t), 60, 0.5)
            check(state(t)["isready"], "downloaded through the proxy: %s" % state(t).get("status"))
            TIMES["template download through the proxy (3 MB)"] = time.monotonic() - t0
            with open(log) as f:
                seen = f.read()
            check("root.qcow2" in seen, "the proxy carried it: %r" % seen[-500:])
            api.updateConfiguration(name="secstorage.proxy", value="")
            t = register("direct")
            wait_for("the direct download to end", lambda: ended(t), 60, 0.5)
            why = state(t)["status"]
            check(not state(t)["isready"], "direct access is refused: %s" % why)
            api.deleteTemplate(id=t["id"])
        finally:
            subprocess.run(["nft", "delete", "table", "inet", "rh_proxy"], check=False)
            api.updateConfiguration(name="secstorage.proxy", value="")
            for p in (img, proxy):
                p.terminate()
                p.wait(10)
        return "ready through tinyproxy on loopback; direct: %s" % why[:120]
    step("a locked-down site: a template downloads through the HTTP proxy (secstorage.proxy) while direct "
         "access is refused", download_through_proxy)

    def key_pair():
        key = os.path.join(a.work, "id_rh")
        if not os.path.exists(key):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "rh@canopy", "-f", key], check=True)
        st["pubkey"] = open(key + ".pub").read().strip()
        api.registerSSHKeyPair(name="rh-key", publickey=st["pubkey"])
        return st["pubkey"].split()[0]
    step("a key pair registered (ssh-keygen)", key_pair)
    if "offering" not in st:
        return finish(st)

    def vm_dir(host, inst):
        return os.path.join(a.work, "h%d" % host, "run", "vms", inst)

    def host_no(host_id):
        return 1 if host_id == st["h1"] else 2

    def serial_log(vm):
        v = api.listVirtualMachines(id=vm)["virtualmachine"][0]
        return os.path.join(vm_dir(host_no(v["hostid"]), v["instancename"]), "serial.log")

    def read(path):
        try:
            with open(path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def console(vm):
        v = api.listVirtualMachines(id=vm)["virtualmachine"][0]
        return Console(os.path.join(vm_dir(host_no(v["hostid"]), v["instancename"]), "serial.sock"))

    def deploy(name, host, **kw):
        t0 = time.monotonic()
        args = dict(zoneid=st["zone"], serviceofferingid=st["offering"], templateid=st["template"], name=name,
                    hostid=st["h%d" % host])
        args.update(kw)
        v = api.deployVirtualMachine(**args)["virtualmachine"]
        t_api = time.monotonic() - t0
        log = serial_log(v["id"])
        wait_for(name + " guest init", lambda: "CANOPY-GUEST-READY" in read(log), 120, 0.05)
        t_ready = time.monotonic() - t0
        return v, t_api, t_ready

    def watch_dnsmasq(t0):
        # The network's implementation ends when its router serves DHCP (dnsmasq runs).
        import glob
        import threading

        def run():
            end = time.monotonic() + 120
            while time.monotonic() < end:
                if glob.glob(os.path.join(a.work, "h*", "run", "net", "routers", "r-*", "dnsmasq.pid")):
                    TIMES["network implement: deploy call -> router serving DHCP"] = time.monotonic() - t0
                    return
                time.sleep(0.01)
        threading.Thread(target=run, daemon=True).start()

    def two_vms():
        t0 = time.monotonic()
        watch_dnsmasq(t0)
        v1, api1, ready1 = deploy("vm1", 1, keypair="rh-key",
                                  userdata=base64.b64encode(USERDATA.encode()).decode())
        st["vm1"] = v1
        # The network is implemented by the first deploy: its router serves DHCP.
        routers = api.listRouters(networkid=v1["nic"][0]["networkid"])["router"]
        check(routers and routers[0]["state"] == "Running", routers)
        st["network"] = v1["nic"][0]["networkid"]
        st["router"] = routers[0]
        import glob
        pidf = glob.glob(os.path.join(a.work, "h*", "run", "net", "routers", "r-*", "dnsmasq.pid"))
        check(len(pidf) == 1, "one router running dnsmasq: %s" % pidf)
        dnsmasq_pid = read(pidf[0]).strip()
        v2, api2, ready2 = deploy("vm2", 2)
        # vm2's lease and name reached dnsmasq by a reread (SIGHUP), not a restart.
        check(read(pidf[0]).strip() == dnsmasq_pid, "dnsmasq was not restarted for vm2")
        st["vm2"] = v2
        TIMES["deploy API call (vm1, implements the network)"] = api1
        TIMES["deploy API call -> guest init marker, after its DHCP lease (vm1)"] = ready1
        TIMES["deploy API call -> guest init marker (vm2)"] = ready2
        for v in (v1, v2):
            check(v["state"] == "Running", v)
            ip = v["nic"][0]["ipaddress"]
            log = serial_log(v["id"])
            # The guest's init prints its DHCP address before the ready marker.
            got = wait_for(v["name"] + " DHCP address", lambda: re.search(r"CANOPY-GUEST-IP (\S+)", read(log)), 30)
            check(got.group(1).split("/")[0] == ip, "%s got %s over DHCP, expected %s" % (v["name"], got.group(1), ip))
        check(v1["hostid"] != v2["hostid"], "the VMs are on different hosts")
        return "vm1 %s on h1, vm2 %s on h2 (%.1f s)" % (v1["nic"][0]["ipaddress"], v2["nic"][0]["ipaddress"],
                                                        time.monotonic() - t0)
    step("two VMs of one isolated network on two hosts: Running, booted, addresses from the router's DHCP",
         two_vms)
    if "vm2" not in st:
        return finish(st)

    def unprivileged_qemu():
        # QEMU opens its devices as root, then becomes canopy-qemu (scripts/install-deps.sh
        # creates it): a guest that escapes QEMU holds that user's rights, not root's.
        import pwd
        want = pwd.getpwnam("canopy-qemu")
        for key in ("vm1", "vm2"):
            v = api.listVirtualMachines(id=st[key]["id"])["virtualmachine"][0]
            d = vm_dir(host_no(v["hostid"]), v["instancename"])
            pid = int(open(os.path.join(d, "qemu.pid")).read())
            uids = [l.split()[1:] for l in open("/proc/%d/status" % pid) if l.startswith("Uid:")][0]
            if any(int(u) != want.pw_uid for u in uids):
                raise AssertionError("QEMU of %s runs with uids %s, not canopy-qemu's %d" % (key, uids, want.pw_uid))
            args = open("/proc/%d/cmdline" % pid, "rb").read().split(b"\0")
            root = [x.decode() for x in args if x.startswith(b"file=")][0].split(",")[0][5:]
            if os.stat(root).st_uid != want.pw_uid:
                raise AssertionError("%s's root disk %s is not canopy-qemu's" % (key, root))
    step("QEMU runs as the unprivileged canopy-qemu user; the VMs' disks are that user's", unprivileged_qemu)

    def bare_boot():
        # The same image and QEMU command line as vm1, started by hand: the floor for a deploy.
        import shutil
        import tempfile
        v = api.listVirtualMachines(id=st["vm1"]["id"])["virtualmachine"][0]
        d = vm_dir(host_no(v["hostid"]), v["instancename"])
        args = open("/proc/%d/cmdline" % int(open(os.path.join(d, "qemu.pid")).read()), "rb").read()
        args = [x.decode() for x in args.split(b"\0") if x]
        tmp = tempfile.mkdtemp(prefix="bare-", dir=a.work)
        root = [x for x in args if x.startswith("file=")][0].split(",")[0][5:]
        base = subprocess.run(["qemu-img", "info", "-U", "--output=json", root], capture_output=True, text=True)
        base = json.loads(base.stdout)["backing-filename"]
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2",
                        os.path.join(tmp, "root.qcow2")], check=True)
        out = []
        for x in args:
            x = x.replace(d, tmp).replace(root, os.path.join(tmp, "root.qcow2"))
            if x.startswith("tap,"):
                x = "user,id=net0"
            out.append(x)
        t0 = time.monotonic()
        subprocess.run(out, check=True)
        log = os.path.join(tmp, "serial.log")
        try:
            wait_for("bare boot", lambda: "CANOPY-GUEST-READY" in read(log), 60, 0.05)
            TIMES["bare QEMU boot of the same image -> guest init marker"] = time.monotonic() - t0
        finally:
            pid = int(open(os.path.join(tmp, "qemu.pid")).read())
            os.kill(pid, signal.SIGKILL)
            time.sleep(0.2)
            shutil.rmtree(tmp, ignore_errors=True)
        return "%.2f s (deploy API call -> marker: vm1 %.2f s, vm2 %.2f s)" % (
            TIMES["bare QEMU boot of the same image -> guest init marker"],
            TIMES["deploy API call -> guest init marker, after its DHCP lease (vm1)"],
            TIMES["deploy API call -> guest init marker (vm2)"])
    step("measure: a bare QEMU boot of the same image and command line", bare_boot)

    def names_and_ping():
        c = console(st["vm1"]["id"])
        ip2 = st["vm2"]["nic"][0]["ipaddress"]
        rc, out = c.run("nslookup vm2")
        check(rc == 0 and ip2 in out, "vm1 resolves vm2: %r" % out)
        rc, out = c.run("ping -c 3 -W 2 %s" % ip2)
        check(rc == 0 and "3 packets received" in out, "vm1 pings vm2 across hosts: %r" % out)
        c.close()
        c = console(st["vm2"]["id"])
        rc, out = c.run("ping -c 2 -W 2 vm1")
        c.close()
        check(rc == 0, "vm2 pings vm1 by name: %r" % out)
        return "nslookup vm2 -> %s; ping both ways" % ip2
    step("vm1 resolves vm2 by name and they ping each other across hosts (VXLAN)", names_and_ping)

    def guest_fetch(c, url, header=None):
        """GET `url` from inside a guest: (ok, body). The request is written with busybox nc
        (the guest's static busybox wget cannot run without the C library's NSS modules)."""
        m = re.match(r"http://([^/:]+)(?::(\d+))?(/.*)?$", url)
        host, port, path = m.group(1), m.group(2) or "80", m.group(3) or "/"
        req = "GET %s HTTP/1.0\\r\\nHost: %s\\r\\n%s\\r\\n" % (path, host, (header + "\\r\\n") if header else "")
        # stdin stays open for a moment: busybox nc stops reading when its input ends.
        rc, out = c.run("echo BEGIN-$((40+2)); (printf '%s'; sleep 2) | nc -w 5 %s %s; echo; echo END-$((40+3))"
                        % (req, host, port), 40)
        m = re.search(r"BEGIN-42\n(.*)\nEND-43", out.replace("\r", ""), re.S)
        check(m and m.group(1).startswith("HTTP/"), "no HTTP answer in %r" % out)
        head, _, body = m.group(1).partition("\n\n")
        return head.split(" ")[1:2] == ["200"], body.rstrip("\n")

    def guest_data():
        router = st["router"]["guestipaddress"]
        base = "http://%s/latest" % router
        out = []
        for key in ("vm1", "vm2"):
            v = st[key]
            c = console(v["id"])
            ok, body = guest_fetch(c, base + "/meta-data/instance-id")
            check(ok and body.strip() == v["id"], "%s reads its own instance-id: %r" % (key, body))
            ok, body = guest_fetch(c, base + "/meta-data/local-hostname")
            check(ok and body.strip() == v["name"], "%s's local-hostname: %r" % (key, body))
            ok, body = guest_fetch(c, base + "/meta-data/local-ipv4")
            check(ok and body.strip() == v["nic"][0]["ipaddress"], "%s's local-ipv4: %r" % (key, body))
            ok, body = guest_fetch(c, base + "/meta-data/")
            check(ok and "instance-id" in body and "public-keys" in body, "the meta-data listing: %r" % body)
            if key == "vm1":
                ok, body = guest_fetch(c, base + "/meta-data/public-keys")
                check(ok and st["pubkey"].split()[1] in body, "vm1's public-keys carry its key pair: %r" % body)
                ok, body = guest_fetch(c, base + "/user-data")
                check(ok and body.strip() == USERDATA.strip(), "vm1's user-data, decoded: %r" % body)
                rc, ns = c.run("nslookup data-server")
                got = re.search(r"Name:\s*data-server\S*\s*Address:?\s*(\S+)", ns.replace("\r", ""))
                check(rc == 0 and got and got.group(1) == router, "data-server resolves to the router: %r" % ns)
            else:
                # vm2 has no user data, and no way to read vm1's: the server knows a guest by
                # its address on the network.
                ok, body = guest_fetch(c, base + "/user-data")
                check(not ok, "vm2 has no user data: %r" % body)
            c.close()
            out.append("%s -> its own id" % key)
        return "; ".join(out) + "; data-server -> %s" % router
    step("each guest reads its own meta-data and user data from the router's data server (inside the guest)",
         guest_data)

    def password_server():
        # A password-enabled template: the deploy answers a generated password, the guest reads
        # it once from the router's password server and acknowledges it; a reset gives a new
        # one at the next boot.
        api.updateTemplate(id=st["template"], passwordenabled="true")
        v = api.deployVirtualMachine(zoneid=st["zone"], serviceofferingid=st["offering"],
                                     templateid=st["template"], name="pw1", hostid=st["h1"])["virtualmachine"]
        st["pw1"] = v
        check(v.get("password"), "the deploy of a password-enabled template answers a password: %r" % v)
        wait_for("pw1 guest init", lambda: "CANOPY-GUEST-READY" in read(serial_log(v["id"])), 120, 0.05)
        url = "http://%s:8080/" % st["router"]["guestipaddress"]

        def ask(c, expect):
            got = [None]

            def once():
                ok, body = guest_fetch(c, url, "DomU_Request: send_my_password")
                got[0] = body.strip()
                return ok and got[0] == expect
            wait_for("the password server answers %r" % expect, once, 30, 1)
        c = console(v["id"])
        ask(c, v["password"])
        ok, body = guest_fetch(c, url, "DomU_Request: saved_password")
        check(ok and body.strip() == "saved_password", body)
        ask(c, "saved_password")
        ok, body = guest_fetch(c, url)
        check(not ok, "no DomU_Request header: bad request (%r)" % body)
        c.close()
        log = serial_log(v["id"])
        api.stopVirtualMachine(id=v["id"])
        r = api.resetPasswordForVirtualMachine(id=v["id"])["virtualmachine"]
        check(r.get("password") and r["password"] != v["password"], "a new password: %r" % r.get("password"))
        before = read(log).count("CANOPY-GUEST-READY")
        api.startVirtualMachine(id=v["id"], hostid=st["h1"])
        wait_for("pw1 boots again", lambda: read(log).count("CANOPY-GUEST-READY") > before, 120, 0.05)
        c = console(v["id"])
        ask(c, r["password"])
        c.close()
        api.destroyVirtualMachine(id=v["id"], expunge="true")
        return "deploy password read once then saved_password; reset password read after the restart"
    step("the router's password server: a deploy's password, acknowledged; a reset's, at the next boot",
         password_server)

    def debian_guest():
        # A real distribution image (scripts/build-debian-image.sh: Debian 12 with cloud-init,
        # openssh-server), registered as a user would, booting from its own disk; cloud-init
        # finds the router's data server and sets the host name, the key and the user data.
        if not a.debian:
            raise AssertionError("no Debian image given (--debian)")
        d = os.path.dirname(os.path.abspath(a.debian))
        api.updateConfiguration(name="image.staging.dirs", value="%s,%s" % (os.path.abspath(a.template), d))
        t = api.registerTemplate(name="debian-12", displaytext="Debian 12 (cloud-init)",
                                 url="file://" + os.path.abspath(a.debian), format="QCOW2", hypervisor="KVM",
                                 ostypeid=st["ostype"], zoneid=st["zone"], ispublic="true",
                                 sshkeyenabled="true")["template"][0]
        wait_for("debian template ready", lambda: api.listTemplates(templatefilter="all", id=t["id"])["template"][0]
                 ["isready"], 300)
        so = api.createServiceOffering(name="deb", displaytext="deb", cpunumber=1, cpuspeed=1000,
                                       memory=768)["serviceoffering"]
        st["deb_offering"] = so["id"]
        st["deb_template"] = t["id"]
        ip = api.associateIpAddress(networkid=st["network"])["ipaddress"]
        ipid, addr = ip["id"], ip["ipaddress"]
        key = os.path.join(a.work, "id_rh")
        t0 = time.monotonic()
        v = api.deployVirtualMachine(zoneid=st["zone"], serviceofferingid=so["id"], templateid=t["id"],
                                     name="deb1", hostid=st["h2"], keypair="rh-key",
                                     userdata=base64.b64encode(DEB_USERDATA.encode()).decode())["virtualmachine"]
        st["deb1"] = v
        api.createPortForwardingRule(ipaddressid=ipid, protocol="tcp", publicport=22, privateport=22,
                                     virtualmachineid=v["id"], openfirewall="true")
        ssh = ["ip", "netns", "exec", a.inet, "ssh", "-i", key, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
               "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=5", "-o", "LogLevel=ERROR",
               "debian@" + addr]

        def login():
            r = subprocess.run(ssh + ["hostname; cat /etc/canopy-userdata"], capture_output=True, text=True,
                               timeout=30)
            return r.stdout if r.returncode == 0 else None
        try:
            out = wait_for("SSH login to deb1 (%s:22) with the key pair" % addr, login, 420, 3)
        except AssertionError:
            tail = read(serial_log(v["id"]))[-3000:]
            r = subprocess.run(ssh + ["true"], capture_output=True, text=True, timeout=30)
            raise AssertionError("no SSH login to deb1; ssh said %r; the guest's console ends with:\n%s"
                                 % (r.stderr[-500:], tail))
        TIMES["Debian: deployVirtualMachine call -> SSH login possible"] = time.monotonic() - t0
        lines = out.split()
        check(lines[:1] == ["deb1"], "the guest's host name is the VM's name: %r" % out)
        check("written-by-user-data" in out, "the user data ran: %r" % out)
        st["deb_addr"] = addr
        return "ssh debian@%s -> %s in %.0f s after the deploy call" % (
            addr, lines[0], TIMES["Debian: deployVirtualMachine call -> SSH login possible"])
    step("a Debian 12 cloud image boots from its disk; cloud-init takes its name, key and user data "
         "from the router; SSH through port forwarding logs in", debian_guest)

    def debian_bare():
        # The same image and QEMU command line, started by hand with the same cloud-init
        # configuration given as a NoCloud seed (over HTTP, QEMU's user network): the floor.
        import http.server
        import shutil
        import tempfile
        import threading
        v = api.listVirtualMachines(id=st["deb1"]["id"])["virtualmachine"][0]
        d = vm_dir(host_no(v["hostid"]), v["instancename"])
        args = open("/proc/%d/cmdline" % int(open(os.path.join(d, "qemu.pid")).read()), "rb").read()
        args = [x.decode() for x in args.split(b"\0") if x]
        tmp = tempfile.mkdtemp(prefix="bare-deb-", dir=a.work)
        seed = os.path.join(tmp, "seed")
        os.makedirs(seed)
        open(os.path.join(seed, "meta-data"), "w").write("instance-id: bare-deb\nlocal-hostname: deb1\n")
        pub = open(os.path.join(a.work, "id_rh.pub")).read().strip()
        open(os.path.join(seed, "user-data"), "w").write(
            DEB_USERDATA + "ssh_authorized_keys:\n- %s\n" % pub)
        open(os.path.join(seed, "vendor-data"), "w").write("")

        class Quiet(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *x, **kw):
                super().__init__(*x, directory=seed, **kw)

            def log_message(self, *x):
                pass
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        port = srv.server_address[1]
        root = [x for x in args if x.startswith("file=")][0].split(",")[0][5:]
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", os.path.abspath(a.debian), "-F", "qcow2",
                        os.path.join(tmp, "root.qcow2")], check=True)
        # A free port (the management namespace also holds the servers' connections to
        # PostgreSQL and to each other, on ephemeral ports).
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        sshport = probe.getsockname()[1]
        probe.close()
        out = []
        for x in args:
            x = x.replace(d, tmp).replace(root, os.path.join(tmp, "root.qcow2"))
            if x.startswith("tap,"):
                x = "user,id=net0,hostfwd=tcp:127.0.0.1:%d-:22" % sshport
            if "CloudStack KVM Hypervisor" in x:
                # Not a CloudStack guest: cloud-init takes the NoCloud seed instead.
                out.pop()
                continue
            out.append(x)
        out += ["-smbios", "type=1,serial=ds=nocloud-net;s=http://10.0.2.2:%d/" % port]
        key = os.path.join(a.work, "id_rh")
        ssh = ["ssh", "-i", key, "-p", str(sshport), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
               "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=5", "-o", "LogLevel=ERROR",
               "debian@127.0.0.1", "hostname; cat /etc/canopy-userdata"]
        t0 = time.monotonic()
        subprocess.run(out, check=True)
        try:
            def login():
                r = subprocess.run(ssh, capture_output=True, text=True, timeout=30)
                return r.stdout if r.returncode == 0 else None
            got = wait_for("SSH login to the bare Debian boot", login, 420, 3)
            TIMES["Debian: bare QEMU boot with a NoCloud seed -> SSH login possible"] = time.monotonic() - t0
            check("written-by-user-data" in got, got)
        finally:
            srv.shutdown()
            pid = int(open(os.path.join(tmp, "qemu.pid")).read())
            os.kill(pid, signal.SIGKILL)
            time.sleep(0.2)
            shutil.rmtree(tmp, ignore_errors=True)
        return "bare boot -> SSH %.0f s; deploy call -> SSH %.0f s" % (
            TIMES["Debian: bare QEMU boot with a NoCloud seed -> SSH login possible"],
            TIMES["Debian: deployVirtualMachine call -> SSH login possible"])
    def deb_ssh(key, cmd, timeout=60):
        return subprocess.run(["ip", "netns", "exec", a.inet, "ssh", "-i", key, "-o", "BatchMode=yes",
                               "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                               "-o", "ConnectTimeout=5", "-o", "LogLevel=ERROR", "debian@" + st["deb_addr"], cmd],
                              capture_output=True, text=True, timeout=timeout)

    def debian_stats():
        # The guest writes 32 MiB to its disk and reads a file over the network: its host's
        # statistics (QMP block statistics, the tap's counters, the balloon) reach the API.
        r = deb_ssh(os.path.join(a.work, "id_rh"),
                    "sudo dd if=/dev/urandom of=/var/tmp/io bs=1M count=32 oflag=direct status=none && "
                    "sudo sync && head -c 2000000 /dev/urandom | base64 >/dev/null && echo io-done", 120)
        check("io-done" in r.stdout, "the guest's IO ran: %r %r" % (r.stdout, r.stderr[-300:]))
        vm = st["deb1"]["id"]

        def figures():
            v = api.listVirtualMachines(id=vm)["virtualmachine"][0]
            return v if v.get("diskkbswrite", 0) >= 32 * 1024 and v.get("networkkbsread", 0) > 0 else None
        v = wait_for("deb1's statistics show the writes", figures, 60, 1)
        check(v.get("cpuused", "").endswith("%"), "cpuused %r" % v.get("cpuused"))
        check(v.get("diskiowrite", 0) > 0 and v.get("diskkbsread", 0) > 0, "disk figures %r" % v)
        m = api.listVirtualMachinesMetrics(id=vm)["virtualmachine"][0]
        check(m.get("diskiopstotal", 0) > 0, "metrics %r" % m)
        vol = api.listVolumesMetrics(virtualmachineid=vm, type="ROOT")["volume"][0]
        check(vol.get("diskkbswrite", 0) >= 32 * 1024, "volume metrics %r" % vol)

        def balloon():
            x = api.listVirtualMachines(id=vm)["virtualmachine"][0]
            return x if x.get("memoryintfreekbs") else None
        x = wait_for("the guest's own memory figures (balloon)", balloon, 60, 1)
        return "cpuused %s, disk read/write %d/%d KiB (%d/%d requests), network read/write %d/%d KiB, free memory %d KiB" % (
            x["cpuused"], x["diskkbsread"], x["diskkbswrite"], x["diskioread"], x["diskiowrite"],
            x["networkkbsread"], x["networkkbswrite"], x["memoryintfreekbs"])

    def debian_iso():
        # attachIso on the running Debian guest: its host fetches the ISO from the image
        # store and swaps it into the VM's CD-ROM; the guest mounts it and reads the file;
        # detachIso empties the drive.
        src = os.path.join(a.work, "iso-src")
        os.makedirs(src, exist_ok=True)
        open(os.path.join(src, "marker.txt"), "w").write("ISOMARK-7\n")
        staging = os.path.join(a.work, "iso-staging")
        os.makedirs(staging, exist_ok=True)
        iso = os.path.join(staging, "tools.iso")
        subprocess.run(["genisoimage", "-quiet", "-V", "CANOPYTOOLS", "-J", "-r", "-o", iso, src], check=True,
                       timeout=60)
        dirs = api.listConfigurations(name="image.staging.dirs")["configuration"][0]["value"]
        api.updateConfiguration(name="image.staging.dirs", value="%s,%s" % (dirs, staging))
        i = api.registerIso(name="tools", displaytext="tools", url="file://" + iso, zoneid=st["zone"],
                            bootable="false", ispublic="true")["iso"][0]
        wait_for("the ISO ready", lambda: api.listIsos(isofilter="all", id=i["id"])["iso"][0]["isready"] or None,
                 60, 0.5)
        vm = st["deb1"]["id"]
        key = os.path.join(a.work, "id_rh")
        api.attachIso(id=i["id"], virtualmachineid=vm)

        def mounted():
            r = deb_ssh(key, "sudo mkdir -p /mnt/iso && (mountpoint -q /mnt/iso || "
                             "sudo mount -o ro /dev/disk/by-label/CANOPYTOOLS /mnt/iso) && "
                             "readlink -f /dev/disk/by-label/CANOPYTOOLS && cat /mnt/iso/marker.txt", 30)
            return r.stdout.split() if r.returncode == 0 else None
        dev, got = wait_for("the guest reads the attached ISO", mounted, 60, 2)[:2]
        check(got == "ISOMARK-7", "the ISO's file inside the guest: %r" % got)
        deb_ssh(key, "sudo umount /mnt/iso", 30)
        api.detachIso(virtualmachineid=vm)

        def ejected():
            # Reading the drive asks the device itself (udev's links may lag): no medium.
            r = deb_ssh(key, "sudo dd if=%s of=/dev/null bs=2048 count=1 2>&1 && echo readable || echo empty" % dev,
                        30)
            return r.stdout.strip().endswith("empty") or None
        wait_for("the medium leaves the guest's drive", ejected, 60, 2)
        return "attached to the running deb1: the guest mounted %s (label CANOPYTOOLS) and read %r; detached: %s has no medium" % (
            dev, got, dev)

    def debian_agent_and_key():
        # Stop: the agent asks the guest's qemu-guest-agent to power off (ACPI only when no
        # agent answers). Then a second key pair replaces the first while it is stopped, and
        # logs in after the start (the image runs cloud-init's ssh module at every boot, as
        # CloudStack's template guide prepares images).
        vm = st["deb1"]["id"]
        v = api.listVirtualMachines(id=vm)["virtualmachine"][0]
        log = os.path.join(a.work, "h%d" % host_no(v["hostid"]), "agent.log")
        before = read(log).count("stopping through the guest agent")
        t0 = time.monotonic()
        api.stopVirtualMachine(id=vm)
        took = time.monotonic() - t0
        lines = [x for x in read(log).splitlines() if "stopping through the guest agent" in x]
        check(len(lines) > before and v["instancename"] in lines[-1],
              "the agent stopped %s through its guest agent: %r" % (v["instancename"], lines[-1:]))
        key2 = os.path.join(a.work, "id_rh2")
        if not os.path.exists(key2):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "rh2@canopy", "-f", key2], check=True)
        api.registerSSHKeyPair(name="rh-key2", publickey=open(key2 + ".pub").read().strip())
        api.resetSSHKeyForVirtualMachine(id=vm, keypair="rh-key2")
        t1 = time.monotonic()
        api.startVirtualMachine(id=vm)

        def login():
            r = deb_ssh(key2, "cat ~/.ssh/authorized_keys", 30)
            return r.stdout if r.returncode == 0 else None
        out = wait_for("SSH login to deb1 with the second key", login, 420, 3)
        check("rh2@canopy" in out, "the second key is authorized: %r" % out)
        return "stopped through the guest agent in %.0f s; second key logs in %.0f s after the start" % (
            took, time.monotonic() - t1)

    def debian_l2():
        # An L2 network has no router: the VM's metadata, key and user data come on a config
        # drive (ISO 9660, label config-2). The user data prints what cloud-init found to the
        # serial console.
        off = api.listNetworkOfferings(name="DefaultL2NetworkOffering")["networkoffering"][0]
        net = api.createNetwork(name="l2", displaytext="l2", zoneid=st["zone"],
                                networkofferingid=off["id"])["network"]
        ud = ("#cloud-config\nruncmd:\n- [sh, -c, 'echo \"CANOPY-L2 platform=$(cloud-init query platform) "
              "host=$(hostname) keys=$(cat /home/debian/.ssh/authorized_keys | tr \" \" _)\" > /dev/ttyS0']\n")
        t0 = time.monotonic()
        v = api.deployVirtualMachine(zoneid=st["zone"], serviceofferingid=st["deb_offering"],
                                     templateid=st["deb_template"], name="debl2", hostid=st["h1"],
                                     networkids=net["id"], keypair="rh-key",
                                     userdata=base64.b64encode(ud.encode()).decode())["virtualmachine"]
        log = serial_log(v["id"])
        iso = os.path.join(os.path.dirname(log), "config-2.iso")
        check(os.path.exists(iso), "the host made %s" % iso)
        # The getty's prompt may share the console line ("debl2 login: CANOPY-L2 ...").
        line = wait_for("cloud-init reports from the config drive", lambda: next(
            (x[x.index("CANOPY-L2 "):] for x in read(log).splitlines() if "CANOPY-L2 " in x),
            None), 420, 2)
        took = time.monotonic() - t0
        api.destroyVirtualMachine(id=v["id"], expunge="true")
        # cloud-init 22.4 names the ConfigDrive datasource's platform "configdrive" (later
        # versions "openstack"); the CloudStack datasource's would be "cloudstack".
        check("platform=configdrive" in line or "platform=openstack" in line,
              "cloud-init's ConfigDrive datasource: %r" % line)
        check("host=debl2" in line, "the host name from the drive: %r" % line)
        check("rh@canopy" in line, "the key pair from the drive: %r" % line)
        return "%s (%.0f s after the deploy call)" % (line[:120], took)

    def vga_text(vm):
        # The guest's VGA text screen (80x25 at 0xb8000: character, attribute), read through
        # QEMU's monitor on the VM's QMP socket.
        import socket
        v = api.listVirtualMachines(id=vm)["virtualmachine"][0]
        path = os.path.join(vm_dir(host_no(v["hostid"]), v["instancename"]), "qmp.sock")
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(10)
        s.connect(path)
        f = s.makefile("rw")
        f.readline()
        for cmd in ({"execute": "qmp_capabilities"},
                    {"execute": "human-monitor-command", "arguments": {"command-line": "xp /2000hx 0xb8000"}}):
            f.write(json.dumps(cmd) + "\n")
            f.flush()
            for _ in range(100):
                r = json.loads(f.readline())
                if "return" in r or "error" in r:
                    break
        s.close()
        words = []
        for line in r.get("return", "").splitlines():
            words += [int(w, 16) for w in line.split(":", 1)[-1].split()]
        chars = "".join(chr(w & 0xFF) if 32 <= (w & 0xFF) < 127 else " " for w in words)
        return "\n".join(chars[i:i + 80].rstrip() for i in range(0, len(chars), 80))

    def debian_console():
        vm = st["deb1"]["id"]
        screen = wait_for("a login prompt on deb1's VGA console", lambda: (lambda t: t if "login:" in t else None)(
            vga_text(vm)), 120, 2)
        shot = os.path.join(a.shots or a.work, "console-debian.png")
        r = subprocess.run(["node", os.path.join(a.ui, "tests", "console.mjs"), "--base", a.url.replace("/client/api", ""),
                            "--user", creds["username"], "--password", creds["password"], "--vm", vm,
                            "--shot", shot], capture_output=True, text=True, timeout=120, cwd=a.ui)
        out = json.loads((r.stdout.strip().splitlines() or ["{}"])[-1])
        check(out.get("connected"), "noVNC connected: %r %s" % (out, r.stderr[-500:]))
        check(out.get("width", 0) >= 640 and out.get("lit", 0) > 0, "the guest's screen on the canvas: %r" % out)
        prompt = [x for x in screen.splitlines() if "login:" in x][-1].strip()
        return "%r on the screen; noVNC %dx%d, screenshot %s" % (prompt, out["width"], out["height"], shot)

    if "deb1" in st:
        step("measure: a bare QEMU boot of the Debian image with a NoCloud seed -> SSH login", debian_bare)
        step("guest statistics: the Debian guest's disk and network IO in listVirtualMachines, "
             "listVirtualMachinesMetrics and listVolumesMetrics; its own memory figures", debian_stats)
        step("attachIso on a running Debian guest: the guest mounts the ISO and reads it; detachIso ejects it",
             debian_iso)
        step("stop goes through the guest agent; resetSSHKeyForVirtualMachine's second key logs in after the start",
             debian_agent_and_key)
        if a.ui:
            step("the web console's noVNC page shows the Debian guest's login prompt (Chromium screenshot; "
                 "the prompt read from the guest's VGA text memory)", debian_console)
        api.destroyVirtualMachine(id=st["deb1"]["id"], expunge="true")
        step("on an L2 network the Debian image takes its name, key and user data from a config drive",
             debian_l2)

    def public_ip():
        ip = api.associateIpAddress(networkid=st["network"])["ipaddress"]
        return ip["id"], ip["ipaddress"]

    def port_forwarding():
        ipid, addr = public_ip()
        api.createPortForwardingRule(ipaddressid=ipid, protocol="tcp", publicport=8080, privateport=80,
                                     virtualmachineid=st["vm1"]["id"], openfirewall="true")
        body = wait_for("port forward answers", lambda: ns_fetch(a.inet, "http://%s:8080/" % addr), 30, 0.5)
        check(body == "vm1", body)
        st["pf"] = addr
        check(ns_fetch(a.inet, "http://%s:81/" % addr, 2) is None, "only the forwarded port is open")
        return "%s:8080 -> vm1:80" % addr
    step("port forwarding reaches vm1 from the public namespace", port_forwarding)

    def static_nat():
        ipid, addr = public_ip()
        api.enableStaticNat(ipaddressid=ipid, virtualmachineid=st["vm2"]["id"])
        api.createFirewallRule(ipaddressid=ipid, protocol="tcp", startport=80, endport=80, cidrlist="0.0.0.0/0")
        body = wait_for("static NAT answers", lambda: ns_fetch(a.inet, "http://%s/" % addr), 30, 0.5)
        check(body == "vm2", body)
        check(ns_fetch(a.inet, "http://%s:81/" % addr, 2) is None, "the firewall opens only port 80")
        return "%s -> vm2" % addr
    step("static NAT with a firewall rule reaches vm2 from the public namespace", static_nat)

    def load_balancer():
        ipid, addr = public_ip()
        lb = api.createLoadBalancerRule(publicipid=ipid, name="web", algorithm="roundrobin", publicport=80,
                                        privateport=80, openfirewall="true")["loadbalancer"]
        api.assignToLoadBalancerRule(id=lb["id"], virtualmachineids="%s,%s" % (st["vm1"]["id"], st["vm2"]["id"]))
        wait_for("LB answers", lambda: ns_fetch(a.inet, "http://%s/" % addr), 30, 0.5)
        seen = [ns_fetch(a.inet, "http://%s/" % addr) for _ in range(8)]
        check(set(seen) == {"vm1", "vm2"}, "round robin spreads over both VMs: %s" % seen)
        api.createLBStickinessPolicy(lbruleid=lb["id"], methodname="SourceBased", name="src")
        time.sleep(1.0)
        seen = [ns_fetch(a.inet, "http://%s/" % addr) for _ in range(8)]
        check(len(set(seen)) == 1 and seen[0] in ("vm1", "vm2"), "source stickiness keeps one VM: %s" % seen)
        return "%s: round robin over vm1+vm2, then sticky to %s" % (addr, seen[0])
    step("a load balancer spreads connections over two VMs; source stickiness keeps a client on one",
         load_balancer)

    def https_load_balancer():
        # An uploaded certificate: the router's haproxy terminates TLS with it in front of the
        # two VMs (plain HTTP behind it); a client in the public namespace verifies it.
        d = os.path.join(a.work, "tls")
        os.makedirs(d, exist_ok=True)
        crt, key = os.path.join(d, "shop.crt"), os.path.join(d, "shop.key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=shop.example", "-addext", "subjectAltName=DNS:shop.example",
                        "-keyout", key, "-out", crt], check=True, capture_output=True, timeout=60)
        cert = api.uploadSslCert(name="shop", certificate=read(crt), privatekey=read(key))["sslcert"]
        ipid, addr = public_ip()
        lb = api.createLoadBalancerRule(publicipid=ipid, name="shop", algorithm="roundrobin", publicport=443,
                                        privateport=80, protocol="ssl", openfirewall="true")["loadbalancer"]
        api.assignToLoadBalancerRule(id=lb["id"], virtualmachineids="%s,%s" % (st["vm1"]["id"], st["vm2"]["id"]))
        api.assignCertToLoadBalancer(lbruleid=lb["id"], certid=cert["id"])
        code = ("import socket,ssl,sys,hashlib\n"
                "ctx = ssl.create_default_context(cafile=sys.argv[2])\n"
                "try:\n"
                " t = ctx.wrap_socket(socket.create_connection((sys.argv[1], 443), timeout=3),\n"
                "                     server_hostname='shop.example')\n"
                " t.sendall(b'GET / HTTP/1.0\\r\\nHost: shop.example\\r\\n\\r\\n')\n"
                " data = b''\n"
                " while True:\n"
                "  c = t.recv(4096)\n"
                "  if not c: break\n"
                "  data += c\n"
                " body = data.split(b'\\r\\n\\r\\n', 1)[1].decode().strip()\n"
                " print(body, hashlib.sha1(t.getpeercert(True)).hexdigest())\n"
                "except Exception as e:\n print('ERR', e); sys.exit(1)\n")

        def fetch():
            # Connected by address, the certificate checked for the name shop.example.
            r = subprocess.run(["ip", "netns", "exec", a.inet, "python3", "-c", code, addr, crt],
                               capture_output=True, text=True, timeout=20)
            return r.stdout.strip() if r.returncode == 0 else None
        wait_for("the HTTPS LB answers", fetch, 30, 0.5)
        seen = [fetch() for _ in range(8)]
        bodies = {x.split()[0] for x in seen if x}
        fps = {x.split()[1] for x in seen if x}
        want = cert["fingerprint"].replace(":", "").lower()
        check(bodies == {"vm1", "vm2"}, "TLS ends on the router, round robin over both VMs: %s" % seen)
        check(fps == {want}, "the certificate served is the uploaded one: %s vs %s" % (fps, want))
        check(ns_fetch(a.inet, "http://%s:443/" % addr, 2) is None, "no plain HTTP on the TLS port")
        return "https://%s (shop.example, verified): vm1+vm2, certificate %s" % (addr, cert["fingerprint"])
    step("an HTTPS load balancer with an uploaded certificate answers TLS from the public namespace, "
         "backed by two VMs", https_load_balancer)

    def pool_load_balancer():
        # A service IP pool (a public range marked for load balancers): a rule created without
        # an address takes the pool's next one, the router answers on it from the public side,
        # and its name resolves inside the network; the address goes back with the rule.
        api.createVlanIpRange(zoneid=st["zone"], forvirtualnetwork="true", forloadbalancers="true",
                              vlan="untagged", gateway="203.0.113.1", netmask="255.255.255.0",
                              startip="203.0.113.200", endip="203.0.113.209")
        lb = api.createLoadBalancerRule(networkid=st["network"], name="pool-web", algorithm="roundrobin",
                                        publicport=8088, privateport=80)["loadbalancer"]
        addr = lb["publicip"]
        check(addr.startswith("203.0.113.20") and lb.get("servicepool") is True, "a pool address: %s" % lb)
        api.assignToLoadBalancerRule(id=lb["id"], virtualmachineids="%s,%s" % (st["vm1"]["id"], st["vm2"]["id"]))
        url = "http://%s:8088/" % addr
        wait_for("the pool LB answers", lambda: ns_fetch(a.inet, url), 30, 0.5)
        seen = [ns_fetch(a.inet, url) for _ in range(8)]
        check(set(seen) == {"vm1", "vm2"}, "from the public namespace, over both VMs: %s" % seen)
        c = console(st["vm1"]["id"])
        try:
            rc, out = c.run("nslookup pool-web")
            check(rc == 0 and addr in out, "its name resolves in the network: %r" % out)
        finally:
            c.close()
        api.deleteLoadBalancerRule(id=lb["id"])
        back = api.listPublicIpAddresses(ipaddress=addr, allocatedonly="false", listall="true")["publicipaddress"]
        check(back and back[0]["state"] == "Free", "the address went back to the pool: %s" % back)
        check(ns_fetch(a.inet, url, timeout=2) is None, "nothing answers on it any more")
        return "%s from the pool: vm1+vm2 from outside, pool-web resolves; back to Free with the rule" % addr
    step("a service IP pool lends a load balancer its address: reached from the public namespace, by name "
         "inside, returned with the rule", pool_load_balancer)

    def reboot_router():
        import glob
        r = st["router"]
        pidf = glob.glob(os.path.join(a.work, "h*", "run", "net", "routers", "r-*", "dnsmasq.pid"))
        before = {f: read(f).strip() for f in pidf}
        api.rebootRouter(id=r["id"])
        after = {f: read(f).strip() for f in pidf}
        check(any(before[f] != after.get(f) for f in before), "dnsmasq was restarted: %s -> %s" % (before, after))
        body = wait_for("port forward after the reboot", lambda: ns_fetch(a.inet, "http://%s:8080/" % st["pf"]), 30,
                        0.5)
        check(body == "vm1", body)
        return "namespace rebuilt (dnsmasq %s -> %s); port forwarding works again" % (
            sorted(before.values()), sorted(after.values()))
    step("rebootRouter rebuilds the router's namespace from the compiled state", reboot_router)

    def static_routes():
        # Two routes to one destination with different metrics, and a more specific one: the
        # router's namespace holds them all (the kernel picks by prefix, then metric).
        api.createStaticRoute(networkid=st["network"], cidr="172.31.0.0/16", nexthop="10.1.0.250", metric=20)
        api.createStaticRoute(networkid=st["network"], cidr="172.31.0.0/16", nexthop="10.1.0.251", metric=10)
        api.createStaticRoute(networkid=st["network"], cidr="172.31.5.0/24", nexthop="10.1.0.252", metric=5)
        r = api.listRouters(networkid=st["network"])["router"][0]
        ns = "r-" + r["id"].replace("-", "")[-8:]
        want = ["172.31.0.0/16 via 10.1.0.250 dev guest metric 20", "172.31.0.0/16 via 10.1.0.251 dev guest metric 10",
                "172.31.5.0/24 via 10.1.0.252 dev guest metric 5"]

        def table():
            out = subprocess.run(["ip", "-n", ns, "route", "show", "proto", "static"], capture_output=True,
                                 text=True).stdout
            return out if all(w in out for w in want) else None
        out = wait_for("the routes in the router's namespace", table, 30, 0.5)
        got = subprocess.run(["ip", "-n", ns, "route", "get", "172.31.9.9"], capture_output=True, text=True).stdout
        check("via 10.1.0.251" in got, "the lower metric wins: %r" % got)
        got = subprocess.run(["ip", "-n", ns, "route", "get", "172.31.5.9"], capture_output=True, text=True).stdout
        check("via 10.1.0.252" in got, "the longer prefix wins: %r" % got)
        return "%d static routes in %s; 172.31.9.9 via .251 (metric 10), 172.31.5.9 via .252 (/24)" % (
            len(out.strip().splitlines()), ns)
    step("static routes with metrics are in the router's namespace", static_routes)

    def security_groups():
        # A shared network with security groups (its router serves DHCP only), two VMs on it:
        # `web` allows TCP 80 in, the client is in the default group.
        offs = api.listNetworkOfferings(name="DefaultSharedNetworkOfferingWithSGService")["networkoffering"]
        n = api.createNetwork(zoneid=st["zone"], networkofferingid=offs[0]["id"], name="sgnet", displaytext="sgnet",
                              gateway="10.60.0.1", netmask="255.255.255.0", startip="10.60.0.10",
                              endip="10.60.0.99", vlan="3090")["network"]
        g = api.createSecurityGroup(name="web")["securitygroup"]
        api.authorizeSecurityGroupIngress(securitygroupid=g["id"], protocol="tcp", startport=80, endport=80,
                                          cidrlist="0.0.0.0/0")
        srv, _, _ = deploy("sgweb", 1, networkids=n["id"], securitygroupids=g["id"])
        cli, _, _ = deploy("sgcli", 2, networkids=n["id"])
        st["sg"] = (srv, cli, g)
        ip = srv["nic"][0]["ipaddress"]
        c = console(cli["id"])
        try:
            get = "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 %s %d"
            rc, out = c.run(get % (ip, 80))
            check(rc == 0 and "sgweb" in out, "port 80 allowed: %r" % out)
            rc, out = c.run(get % (ip, 81))
            check(rc != 0, "port 81 stays closed: %r" % out)
            rule = api.listSecurityGroups(id=g["id"])["securitygroup"][0]["ingressrule"][0]
            t0 = time.monotonic()
            api.revokeSecurityGroupIngress(id=rule["ruleid"])
            TIMES["security group revoke -> applied (API job)"] = time.monotonic() - t0
            rc, out = c.run(get % (ip, 80))
            check(rc != 0, "port 80 closed once the rule is revoked: %r" % out)
        finally:
            c.close()
        return "tcp/80 open, tcp/81 closed, revoke closes tcp/80"
    step("a security group rule opens one port, not the next; revoking closes it at once", security_groups)

    def console_ws():
        r = api.createConsoleEndpoint(virtualmachineid=st["vm1"]["id"])["consoleendpoint"]
        check(r.get("success") in (True, "true"), r)
        w = r["websocket"]
        url = "ws://%s:%s%s?token=%s" % (w["host"], w["port"], w["path"], w["token"])
        op, payload = ws_console(url)
        check(op == 2 and payload.startswith(b"RFB 003.0"), "RFB handshake: %r" % payload)
        return payload.decode().strip()
    step("the console websocket carries the VM's RFB handshake", console_ws)

    def console_page():
        shot = os.path.join(a.shots or a.work, "console-real-qemu.png")
        r = subprocess.run(["node", os.path.join(a.ui, "tests", "console.mjs"), "--base", a.url.replace("/client/api", ""),
                            "--user", creds["username"], "--password", creds["password"], "--vm", st["vm1"]["id"],
                            "--shot", shot], capture_output=True, text=True, timeout=120, cwd=a.ui)
        out = json.loads((r.stdout.strip().splitlines() or ["{}"])[-1])
        check(out.get("connected"), "noVNC connected: %r %s" % (out, r.stderr[-500:]))
        check(out.get("width", 0) > 0 and out.get("lit", 0) > 0, "the guest's screen drawn on the canvas: %r" % out)
        return "connected; %dx%d canvas, %.0f%% lit; screenshot %s" % (out["width"], out["height"], out["lit"] * 100, shot)
    if a.ui:
        step("the web console's View Console opens noVNC on the VM's screen (Chromium)", console_page)

    def stop_start_reboot():
        v = st["vm2"]
        log = serial_log(v["id"])
        t0 = time.monotonic()
        s = api.stopVirtualMachine(id=v["id"])["virtualmachine"]
        check(s["state"] == "Stopped", s)
        TIMES["graceful stop (no guest agent: ACPI after 2 s)"] = time.monotonic() - t0
        inst = v["instancename"]
        check(not os.path.exists(os.path.join(vm_dir(2, inst), "spec.json")), "QEMU gone on the host")
        check(TIMES["graceful stop (no guest agent: ACPI after 2 s)"] < 15, "the guest powered off (not the timeout)")
        before = read(log).count("CANOPY-GUEST-READY")
        s = api.startVirtualMachine(id=v["id"], hostid=st["h2"])["virtualmachine"]
        check(s["state"] == "Running", s)
        wait_for("vm2 boots again", lambda: read(log).count("CANOPY-GUEST-READY") > before, 120, 0.1)
        before = read(log).count("CANOPY-GUEST-READY")
        api.rebootVirtualMachine(id=v["id"])
        wait_for("vm2 reboots", lambda: read(log).count("CANOPY-GUEST-READY") > before, 120, 0.1)
        return "stopped in %.1f s, started, rebooted" % TIMES["graceful stop (no guest agent: ACPI after 2 s)"]
    step("stop (graceful), start and reboot a VM", stop_start_reboot)

    def migrate():
        v = st["vm1"]
        c = console(v["id"])
        before = tick(c)
        c.close()
        t0 = time.monotonic()
        m = api.migrateVirtualMachine(virtualmachineid=v["id"], hostid=st["h2"])["virtualmachine"]
        TIMES["live migration h1 -> h2"] = time.monotonic() - t0
        check(m["hostid"] == st["h2"] and m["state"] == "Running", m)
        check(not os.path.exists(os.path.join(vm_dir(1, v["instancename"]), "spec.json")), "gone from h1")
        new_log = os.path.join(vm_dir(2, v["instancename"]), "serial.log")
        check("CANOPY-GUEST-READY" not in read(new_log), "the guest did not boot again on h2")
        c = console(v["id"])
        after = tick(c)
        time.sleep(2)
        later = tick(c)
        c.close()
        check(after >= before and later > after, "counter %d -> %d -> %d" % (before, after, later))
        # Its network followed it: still reachable through the port forward.
        return "counter %d before, %d after, %d two seconds later" % (before, after, later)
    step("live migration moves a running VM to the other host; the guest's counter keeps counting", migrate)

    def anti_affinity():
        # Two VMs of one strict anti-affinity group land on the two hosts; moving one onto the
        # other's host is refused with the group's name.
        g = api.createAffinityGroup(name="spread", type="host anti-affinity")["affinitygroup"]
        vms = []
        try:
            for name in ("aa1", "aa2"):
                vms.append(api.deployVirtualMachine(zoneid=st["zone"], serviceofferingid=st["offering"],
                                                    templateid=st["template"], name=name,
                                                    affinitygroupids=g["id"])["virtualmachine"])
            hosts = [api.listVirtualMachines(id=v["id"])["virtualmachine"][0]["hostid"] for v in vms]
            check(vms[0]["state"] == vms[1]["state"] == "Running" and hosts[0] != hosts[1],
                  "two hosts for the group: %s" % hosts)
            found = api.findHostsForMigration(virtualmachineid=vms[0]["id"]).get("host", [])
            check(found and not any(h["suitableformigration"] for h in found if h["id"] == hosts[1]),
                  "the other member's host is not suitable: %s" % found)
            try:
                api.migrateVirtualMachine(virtualmachineid=vms[0]["id"], hostid=hosts[1])
                refused = None
            except Exception as e:  # noqa: BLE001 (the cs client's error carries the envelope)
                refused = str(e)
            check(refused and "anti-affinity group spread" in refused and "533" in refused,
                  "migration onto the other member's host refused: %r" % refused)
            return "aa1 on h%d, aa2 on h%d; migration refused: %s" % (host_no(hosts[0]), host_no(hosts[1]),
                                                                     refused[:140])
        finally:
            for v in vms:
                api.destroyVirtualMachine(id=v["id"], expunge="true")
            api.deleteAffinityGroup(id=g["id"])
    step("strict anti-affinity puts two VMs on the two hosts; a migration that would break it is refused",
         anti_affinity)

    def hotplug():
        do = api.createDiskOffering(name="small", displaytext="small", disksize=1)["diskoffering"]
        vol = api.createVolume(name="data1", zoneid=st["zone"], diskofferingid=do["id"])["volume"]
        v = st["vm1"]
        api.attachVolume(id=vol["id"], virtualmachineid=v["id"])
        c = console(v["id"])
        try:
            wait_for("the disk in the guest", lambda: c.run("ls /dev/vdb")[0] == 0, 30, 0.5)
            rc, out = c.run("cat /sys/block/vdb/size")
            check(rc == 0 and int(out.strip().splitlines()[-1]) * 512 == 1 << 30, "a 1 GiB disk: %r" % out)
            api.detachVolume(id=vol["id"])
            wait_for("the disk gone from the guest", lambda: c.run("ls /dev/vdb")[0] != 0, 30, 0.5)
        finally:
            c.close()
        api.deleteVolume(id=vol["id"])
        return "1 GiB data disk hot-plugged into the running guest and unplugged"
    step("a data disk attached to a running VM appears in the guest; detached, it goes", hotplug)

    # Snapshots, volumes and templates from them (tests/e2e/rh_storage.py).
    import types
    import rh_storage
    rh_storage.steps(types.SimpleNamespace(api=api, st=st, step=step, console=console, deploy=deploy,
                                           wait_for=wait_for, check=check, times=TIMES, tick=tick,
                                           serial_log=serial_log, read=read, work=a.work))
    # Encrypted root and data volumes (tests/e2e/rh_encrypt.py).
    import rh_encrypt
    rh_encrypt.steps(types.SimpleNamespace(api=api, st=st, step=step, console=console, deploy=deploy,
                                           wait_for=wait_for, check=check, times=TIMES,
                                           serial_log=serial_log, read=read, work=a.work))

    def agent_restart():
        p = st["agents"][2]
        p.send_signal(signal.SIGKILL)
        p.wait(10)
        running = [v for v in api.listVirtualMachines(hostid=st["h2"])["virtualmachine"]]
        pids = {}
        for v in running:
            pf = os.path.join(vm_dir(2, v["instancename"]), "qemu.pid")
            pids[v["name"]] = int(open(pf).read())
            os.kill(pids[v["name"]], 0)  # still alive
        start_agent(2)
        wait_for("h2 reconnects", lambda: api.listHosts(id=st["h2"])["host"][0]["state"] == "Up", 60)
        log = read(os.path.join(a.work, "h2", "agent.log"))
        check("adopted %d running VMs" % len(pids) in log, "the agent reports adopting its VMs")
        for v in running:
            pf = os.path.join(vm_dir(2, v["instancename"]), "qemu.pid")
            check(int(open(pf).read()) == pids[v["name"]], "same QEMU process")
            check(api.listVirtualMachines(id=v["id"])["virtualmachine"][0]["state"] == "Running", v["name"])
        c = console(st["vm1"]["id"])
        rc, _ = c.run("ping -c 1 -W 2 %s" % st["vm2"]["nic"][0]["ipaddress"])
        c.close()
        check(rc == 0, "VMs on the restarted host still reach each other")
        return "%d VMs kept running and were adopted: %s" % (len(pids), sorted(pids))
    step("killing and restarting an agent leaves its VMs running and adopted", agent_restart)

    def server_failover():
        pids = dict(kv.split("=") for kv in a.servers.split(","))
        ms = {s["id"]: s for s in api.listManagementServers()["managementserver"]}
        check(len([s for s in ms.values() if s["state"] == "Up"]) == 2, "two servers Up: %r" % list(ms.values()))
        on = {}
        for i in (1, 2):
            on.setdefault(api.listHosts(id=st["h%d" % i])["host"][0].get("managementserverid"), []).append(i)
        victim = max(on, key=lambda k: len(on[k]))
        check(victim in ms, "the hosts' server is known: %r" % on)
        survivor = [s for s in ms.values() if s["id"] != victim and s["state"] == "Up"][0]
        moved = on[victim]
        running = [v for i in moved for v in api.listVirtualMachines(hostid=st["h%d" % i]).get("virtualmachine", [])
                   if v["state"] == "Running"]
        check(running, "VMs run on the hosts of the server to be killed")
        qemu = {}
        for v in running:
            qemu[v["id"]] = int(open(os.path.join(vm_dir(host_no(v["hostid"]), v["instancename"]), "qemu.pid")).read())
        t0 = time.monotonic()
        os.kill(int(pids[ms[victim]["name"]]), signal.SIGKILL)
        wait_for("the agents connected to the other server", lambda: all(
            (lambda h: h["state"] == "Up" and h.get("managementserverid") == survivor["id"])(
                api.listHosts(id=st["h%d" % i])["host"][0]) for i in moved), 60, 0.2)
        TIMES["server killed -> its agents on the other server"] = time.monotonic() - t0
        for v in running:
            os.kill(qemu[v["id"]], 0)  # the same QEMU process still runs
            check(api.listVirtualMachines(id=v["id"])["virtualmachine"][0]["state"] == "Running", v["name"])
        # A console through the balancer (only the survivor answers now).
        v = [x for x in running if x["id"] == st["vm1"]["id"]] or running
        v = v[0]
        r = api.createConsoleEndpoint(virtualmachineid=v["id"])["consoleendpoint"]
        w = r["websocket"]
        op, payload = ws_console("ws://%s:%s%s?token=%s" % (w["host"], w["port"], w["path"], w["token"]))
        check(op == 2 and payload.startswith(b"RFB 003.0"), "RFB through the survivor: %r" % payload)
        # A stop (and the start back) through the survivor.
        s = api.stopVirtualMachine(id=v["id"])["virtualmachine"]
        check(s["state"] == "Stopped", s)
        check(not os.path.exists(os.path.join(vm_dir(host_no(v["hostid"]), v["instancename"]), "spec.json")),
              "QEMU gone on the host")
        s = api.startVirtualMachine(id=v["id"], hostid=v["hostid"])["virtualmachine"]
        check(s["state"] == "Running", s)
        return "killed %s under h%s: agents on %s after %.1f s; %d VMs kept running (same QEMU pids); console (RFB) " \
            "and stop/start of %s through the survivor" % (
                ms[victim]["name"], ",h".join(str(i) for i in moved), survivor["name"],
                TIMES["server killed -> its agents on the other server"], len(running), v["name"])
    if a.servers:
        step("the management server the agents use is SIGKILLed: they reconnect to the other, the VMs keep "
             "running, a console and a stop work through the survivor", server_failover)

    def vpc_tiers():
        # A VPC with two tiers on the two hosts: one VPC router (a namespace with an interface
        # on each tier) routes between them, resolves every VM name, and enforces the tiers'
        # network ACLs in number order.
        off = api.listVPCOfferings(isdefault="true")["vpcoffering"][0]["id"]
        vpc = api.createVPC(name="rhvpc", displaytext="rhvpc", cidr="10.70.0.0/16", vpcofferingid=off,
                            zoneid=st["zone"], networkdomain="rh.vpc")["vpc"]
        toff = api.listNetworkOfferings(name="DefaultIsolatedNetworkOfferingForVpcNetworks")["networkoffering"][0]
        web_acl = api.createNetworkACLList(name="web-acl", vpcid=vpc["id"])["networkacllist"]["id"]
        app_acl = api.createNetworkACLList(name="app-acl", vpcid=vpc["id"])["networkacllist"]["id"]
        # web-acl: ICMP in (so app1 can ping back); egress allowed (a list's default).
        api.createNetworkACL(aclid=web_acl, protocol="icmp", number=10, cidrlist="10.70.0.0/16")
        # app-acl, in the seed's shape: an allow at 100 beats a deny at 200 for 8080; a deny at
        # 50 beats an allow at 150 for 8022 (numbers are unique in a list); ICMP and HTTP from
        # the VPC.
        item = lambda **kw: api.createNetworkACL(aclid=app_acl, traffictype="ingress", **kw)["networkacl"]
        item(protocol="icmp", number=10, cidrlist="10.70.0.0/16")
        item(protocol="tcp", startport=80, endport=80, number=20, cidrlist="10.70.0.0/16")
        item(protocol="tcp", startport=8080, endport=8080, number=200, action="deny")
        item(protocol="tcp", startport=8080, endport=8080, number=100, action="allow")
        deny22 = item(protocol="tcp", startport=8022, endport=8022, number=50, action="deny")
        allow22 = item(protocol="tcp", startport=8022, endport=8022, number=150, action="allow")
        tier = lambda name, gw, acl: api.createNetwork(zoneid=st["zone"], networkofferingid=toff["id"], name=name,
                                                       displaytext=name, vpcid=vpc["id"], gateway=gw,
                                                       netmask="255.255.255.0", aclid=acl)["network"]
        web = tier("web", "10.70.1.1", web_acl)
        # app balances internally (the internal load balancer step uses it).
        toff = api.listNetworkOfferings(
            name="DefaultIsolatedNetworkOfferingForVpcNetworksWithInternalLB")["networkoffering"][0]
        app = tier("app", "10.70.2.1", app_acl)
        t0 = time.monotonic()
        w, _, _ = deploy("web1", 1, networkids=web["id"])
        TIMES["deploy into a VPC tier (places the VPC router) -> guest init"] = time.monotonic() - t0
        p, _, _ = deploy("app1", 2, networkids=app["id"])
        st["vpc"] = (vpc, web, app, w, p)
        routers = api.listRouters(vpcid=vpc["id"])["router"]
        check(len(routers) == 1, "one router for the VPC: %s" % routers)
        guest = sorted(n["ipaddress"] for n in routers[0]["nic"] if n["traffictype"] == "Guest")
        check(guest == ["10.70.1.1", "10.70.2.1"], "the router is on both tiers: %s" % guest)
        app_ip = p["nic"][0]["ipaddress"]
        cp = console(p["id"])
        try:
            rc, out = cp.run("httpd -p 8080 -h /www && httpd -p 8022 -h /www && echo LISTEN-$((1+1))")
            check(rc == 0 and "LISTEN-2" in out, "listeners in app1: %r" % out)
        finally:
            cp.close()
        c = console(w["id"])
        get = "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 %s %d"
        try:
            rc, out = c.run("nslookup app1")
            check(rc == 0 and app_ip in out, "web1 resolves app1 (another tier) by name: %r" % out)
            rc, out = c.run("ping -c 2 -W 2 app1")
            check(rc == 0, "web1 pings app1 across tiers and hosts: %r" % out)
            rc, out = c.run(get % (app_ip, 80))
            check(rc == 0 and "app1" in out, "HTTP allowed at 20: %r" % out)
            rc, out = c.run(get % (app_ip, 8080))
            check(rc == 0 and "app1" in out, "8080: the allow at 100 beats the deny at 200: %r" % out)
            rc, out = c.run(get % (app_ip, 8022))
            check(rc != 0 or "app1" not in out, "8022: the deny at 50 beats the allow at 100: %r" % out)
            rc, out = c.run(get % (app_ip, 81))
            check(rc != 0 or "app1" not in out, "81: nothing allows it, ingress is denied: %r" % out)
            # Move the allow for 8022 to the top: the same rules, another order, another outcome.
            items = sorted(api.listNetworkACLs(aclid=app_acl)["networkacl"], key=lambda i: int(i["number"]))
            seen = hashlib.md5("".join(i["id"] for i in items).encode()).hexdigest()
            t1 = time.monotonic()
            api.moveNetworkAclItem(id=allow22["id"], nextaclruleid=items[0]["id"], aclconsistencyhash=seen)
            TIMES["moveNetworkAclItem -> applied on the VPC router (API job)"] = time.monotonic() - t1
            rc, out = c.run(get % (app_ip, 8022))
            check(rc == 0 and "app1" in out, "8022 open once its allow comes first: %r" % out)
        finally:
            c.close()
        st["web_acl"] = web_acl
        return "web1 -> app1 (%s) by name across tiers; 80/8080 open, 8022/81 closed; a move opens 8022 " \
            "(deny %s stays at 50)" % (app_ip, deny22["number"])
    step("a VPC: two tiers on two hosts behind one router; names across tiers; ACL order decides, a move "
         "changes the outcome", vpc_tiers)

    def egress_by_service_tag():
        # The locked-down seed's egress policy on the web tier: 443 to the service tag
        # "Storage" at 100, nothing else out at 4000 (the VPC's own tiers stay reachable at 10).
        # "Storage" is the public client's 203.0.113.1; it moves to 203.0.113.250 — the rules
        # are not touched, the router's set changes.
        vpc, web, app, w, p = st["vpc"]
        subprocess.run(["ip", "-n", a.inet, "addr", "add", "203.0.113.250/24", "dev", "eth0"], check=True)
        srv = [subprocess.Popen(["ip", "netns", "exec", a.inet, sys.executable, "-m", "http.server", str(port),
                                 "--bind", "0.0.0.0"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
               for port in (443, 8443)]
        try:
            for port in (443, 8443):
                wait_for("the client's listener on %d" % port,
                         lambda: ns_fetch(a.inet, "http://203.0.113.1:%d/" % port) is not None, 15, 0.2)
            tag = api.createServiceTag(name="Storage", cidrlist="203.0.113.1/32")["servicetag"]
            acl = st["web_acl"]
            api.createNetworkACL(aclid=acl, traffictype="egress", protocol="all", number=11, cidrlist="10.70.0.0/16")
            api.createNetworkACL(aclid=acl, traffictype="egress", protocol="tcp", startport=443, endport=443,
                                 number=100, cidrlist="Storage")
            api.createNetworkACL(aclid=acl, traffictype="egress", protocol="all", number=4000, action="deny",
                                 cidrlist="0.0.0.0/0")
            c = console(w["id"])
            get = "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 %s %d"
            ok = lambda out: "HTTP/1.0 200" in out
            try:
                rc, out = c.run(get % ("203.0.113.1", 443))
                check(rc == 0 and ok(out), "443 to Storage allowed: %r" % out)
                rc, out = c.run(get % ("203.0.113.1", 8443))
                check(not ok(out), "8443 to the same address denied (4000): %r" % out)
                rc, out = c.run(get % ("203.0.113.250", 443))
                check(not ok(out), "443 elsewhere denied: %r" % out)
                t0 = time.monotonic()
                api.updateServiceTag(id=tag["id"], cidrlist="203.0.113.250/32")
                TIMES["updateServiceTag -> applied on the VPC router (API job)"] = time.monotonic() - t0
                rc, out = c.run(get % ("203.0.113.250", 443))
                check(rc == 0 and ok(out), "443 to Storage's new address allowed: %r" % out)
                rc, out = c.run(get % ("203.0.113.1", 443))
                check(not ok(out), "443 to the old address denied now: %r" % out)
                rc, out = c.run(get % (p["nic"][0]["ipaddress"], 80))
                check(rc == 0 and "app1" in out, "the other tier stays reachable: %r" % out)
            finally:
                c.close()
        finally:
            for x in srv:
                x.terminate()
                x.wait(10)
        return "443 to Storage (203.0.113.1) only; Storage moved to 203.0.113.250: reachable, the old one " \
            "not, no rule changed"
    step("the locked-down seed's egress: 443 to a service tag and nothing else out; the tag's members change "
         "and the new address is reachable without touching the rules", egress_by_service_tag)

    def internal_lb_by_name():
        # An internal load balancer on the app tier (10.70.2.0/24): the VPC router takes the
        # next free address, haproxy there spreads connections over app1 and app2 (on the two
        # hosts), and web1 (the other tier) reaches it by its name in the VPC's domain, through
        # web's egress and app's ingress items (80 from the VPC is allowed at 20).
        vpc, web, app, w, p = st["vpc"]
        q, _, _ = deploy("app2", 1, networkids=app["id"])
        cq = console(q["id"])
        try:
            rc, out = cq.run("httpd -p 8080 -h /www && echo LISTEN-$((1+1))")
            check(rc == 0 and "LISTEN-2" in out, "listener in app2: %r" % out)
        finally:
            cq.close()
        t0 = time.monotonic()
        lb = api.createLoadBalancer(name="api", scheme="Internal", algorithm="roundrobin", sourceport=80,
                                    instanceport=8080, networkid=app["id"],
                                    sourceipaddressnetworkid=app["id"])["loadbalancer"]
        api.assignToLoadBalancerRule(id=lb["id"], virtualmachineids="%s,%s" % (p["id"], q["id"]))
        TIMES["createLoadBalancer + assignToLoadBalancerRule -> applied (API jobs)"] = time.monotonic() - t0
        check(lb["dnsname"] == "api.rh.vpc", "its name: %s" % lb)
        c = console(w["id"])
        # The guest's static busybox resolves only with its own nslookup (its libc resolver
        # crashes without NSS modules): the name is looked up, then the address is used.
        get = "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 %s %d"
        try:
            rc, out = c.run("nslookup api.rh.vpc")
            check(rc == 0 and lb["sourceipaddress"] in out, "web1 resolves the balancer: %r" % out)
            seen = []
            for _ in range(6):
                rc, out = c.run(get % (lb["sourceipaddress"], 80))
                seen.append(next((n for n in ("app1", "app2") if n in out), out.strip()[-60:]))
            check(set(seen) == {"app1", "app2"}, "connections spread over app1 and app2: %s" % seen)
            rc, out = c.run(get % (lb["sourceipaddress"], 8080))
            check("app" not in out, "only the balancer's port answers: %r" % out)
        finally:
            c.close()
        # Not from outside: the public namespace has no route into the VPC's tiers and the
        # router's public side drops what no rule sent in.
        out = ns_fetch(a.inet, "http://%s/" % lb["sourceipaddress"], timeout=2)
        check(out is None, "not reachable from outside: %r" % out)
        return "api.rh.vpc = %s: web1's requests went to %s" % (lb["sourceipaddress"], sorted(set(seen)))
    step("an internal load balancer on a VPC tier spreads connections over two VMs on two hosts, reached by "
         "its DNS name from the other tier", internal_lb_by_name)

    def private_gateway():
        # A private gateway (VXLAN 5001) of the VPC: the router joins the segment as
        # 172.16.50.2; a namespace this test makes stands on the other side as the next hop
        # 172.16.50.1 with 192.168.100.1 behind it. A static route through the gateway makes
        # app1 reach it (source-NATed to the router's address); without the route it does not.
        vpc, web, app, w, p = st["vpc"]
        allow = api.listNetworkACLLists(name="default_allow")["networkacllist"][0]["id"]
        gw = api.createPrivateGateway(vpcid=vpc["id"], ipaddress="172.16.50.2", gateway="172.16.50.1",
                                      netmask="255.255.255.0", vlan="5001", sourcenatsupported="true",
                                      aclid=allow)["privategateway"]
        router = api.listRouters(vpcid=vpc["id"])["router"][0]
        host_ns = hosts_ns[host_no(router["hostid"]) - 1]
        wait_for("the gateway's bridge on the router's host", lambda: subprocess.run(
            ["ip", "-n", host_ns, "link", "show", "cbr5001"], capture_output=True).returncode == 0, 30, 0.5)
        run = lambda *c: subprocess.run(list(c), check=True)  # noqa: E731
        run("ip", "netns", "add", "rhpgw")
        try:
            run("ip", "link", "add", "rhpgwa", "type", "veth", "peer", "name", "rhpgwb", "netns", "rhpgw")
            run("ip", "link", "set", "rhpgwa", "netns", host_ns)
            run("ip", "-n", host_ns, "link", "set", "rhpgwa", "master", "cbr5001", "up")
            run("ip", "-n", "rhpgw", "addr", "add", "172.16.50.1/24", "dev", "rhpgwb")
            run("ip", "-n", "rhpgw", "addr", "add", "192.168.100.1/32", "dev", "lo")
            run("ip", "-n", "rhpgw", "link", "set", "rhpgwb", "up")
            run("ip", "-n", "rhpgw", "link", "set", "lo", "up")
            c = console(p["id"])
            try:
                rc, out = c.run("ping -c 1 -W 2 192.168.100.1")
                check(rc != 0, "no route yet: %r" % out)
                t0 = time.monotonic()
                route = api.createStaticRoute(gatewayid=gw["id"], cidr="192.168.100.0/24")["staticroute"]
                TIMES["createStaticRoute through a private gateway -> applied (API job)"] = time.monotonic() - t0
                rc, out = c.run("ping -c 2 -W 2 192.168.100.1")
                check(rc == 0, "app1 reaches 192.168.100.1 through the private gateway: %r" % out)
                api.deleteStaticRoute(id=route["id"])
                rc, out = c.run("ping -c 1 -W 2 192.168.100.1")
                check(rc != 0, "the route gone, so is the way: %r" % out)
            finally:
                c.close()
        finally:
            subprocess.run(["ip", "-n", host_ns, "link", "del", "rhpgwa"], check=False)
            subprocess.run(["ip", "netns", "del", "rhpgw"], check=False)
            api.deletePrivateGateway(id=gw["id"])
        return "app1 -> 192.168.100.1 via the private gateway 172.16.50.2 (vxlan 5001, source NAT) with the route, " \
            "not without"
    step("a VPC's private gateway: a static route through it reaches a network behind the next hop",
         private_gateway)

    # Site-to-site VPN between this VPC and a second one (tests/e2e/rh_s2s.py).
    import rh_s2s
    rh_s2s.steps(types.SimpleNamespace(api=api, st=st, step=step, console=console, deploy=deploy,
                                       wait_for=wait_for, check=check, times=TIMES))

    def qemu_dies():
        # Without HA: reported and Stopped. With HA: restarted.
        cli = st["sg"][1]
        pf = os.path.join(vm_dir(2, cli["instancename"]), "qemu.pid")
        os.kill(int(open(pf).read()), signal.SIGKILL)
        wait_for("sgcli Stopped", lambda: api.listVirtualMachines(id=cli["id"])["virtualmachine"][0]["state"]
                 == "Stopped", 30)
        v = st["vm2"]
        api.updateVirtualMachine(id=v["id"], haenable="true")
        log = serial_log(v["id"])
        before = read(log).count("CANOPY-GUEST-READY")
        pf = os.path.join(vm_dir(host_no(api.listVirtualMachines(id=v["id"])["virtualmachine"][0]["hostid"]),
                                 v["instancename"]), "qemu.pid")
        old = int(open(pf).read())
        os.kill(old, signal.SIGKILL)
        wait_for("vm2 restarted by HA", lambda: api.listVirtualMachines(id=v["id"])["virtualmachine"][0]["state"]
                 == "Running" and os.path.exists(pf) and int(open(pf).read() or 0) != old, 60)
        log = serial_log(v["id"])
        wait_for("vm2 boots again", lambda: read(log).count("CANOPY-GUEST-READY") > before, 120, 0.1)
        return "sgcli Stopped; vm2 (HA) restarted"
    step("a QEMU that dies is reported: Stopped, or restarted when the VM is HA-enabled", qemu_dies)

    def host_failure():
        # The host with the isolated network's router dies (agent, VMs and routers gone, its
        # underlay link down): the router moves to the other host and is rebuilt there, and
        # the HA-enabled vm2 restarts there; the public addresses work again.
        import glob
        import shutil
        r = api.listRouters(networkid=st["network"])["router"][0]
        dead = host_no(r["hostid"])
        alive = 3 - dead
        v2 = api.listVirtualMachines(id=st["vm2"]["id"])["virtualmachine"][0]
        if v2["hostid"] != r["hostid"]:
            api.migrateVirtualMachine(virtualmachineid=v2["id"], hostid=r["hostid"])
        # vm2 may have run on the surviving host before: count its boots there.
        new_log = os.path.join(vm_dir(alive, v2["instancename"]), "serial.log")
        boots = read(new_log).count("CANOPY-GUEST-READY")
        p = st["agents"][dead]
        p.send_signal(signal.SIGKILL)
        p.wait(10)
        base = os.path.join(a.work, "h%d" % dead, "run")
        for f in glob.glob(os.path.join(base, "vms", "*", "qemu.pid")) + \
                glob.glob(os.path.join(base, "net", "routers", "*", "*.pid")):
            try:
                os.kill(int(read(f).strip()), signal.SIGKILL)
            except (OSError, ValueError):
                pass
        for d in glob.glob(os.path.join(base, "net", "routers", "r-*")):
            subprocess.run(["ip", "netns", "del", os.path.basename(d)], check=False)
            shutil.rmtree(d, ignore_errors=True)
        subprocess.run(["ip", "-n", hosts_ns[dead - 1], "link", "set", "ul0", "down"], check=True)
        t0 = time.monotonic()
        h = st["h%d" % dead]
        wait_for("the dead host Down", lambda: api.listHosts(id=h)["host"][0]["state"] == "Down", 60, 0.5)
        TIMES["host death -> Down (ping.interval 3 s)"] = time.monotonic() - t0
        wait_for("the router on the other host", lambda: api.listRouters(id=r["id"])["router"][0].get("hostid")
                 == st["h%d" % alive], 60, 0.5)
        wait_for("vm2 Running on the other host", lambda: (lambda v: v["state"] == "Running" and v["hostid"]
                 == st["h%d" % alive])(api.listVirtualMachines(id=v2["id"])["virtualmachine"][0]), 90, 0.5)
        wait_for("vm2 boots there", lambda: read(new_log).count("CANOPY-GUEST-READY") > boots, 120, 0.2)
        TIMES["host death -> HA VM booted on the other host"] = time.monotonic() - t0
        snat = [i for i in api.listPublicIpAddresses(associatednetworkid=st["network"])["publicipaddress"]
                if i.get("isstaticnat")][0]["ipaddress"]
        body = wait_for("static NAT through the moved router", lambda: ns_fetch(a.inet, "http://%s/" % snat),
                        60, 0.5)
        check(body == "vm2", body)
        return "host h%d died: Down in %.1f s; router rebuilt on h%d; vm2 booted there %.1f s after the death; " \
            "static NAT %s answers again" % (dead, TIMES["host death -> Down (ping.interval 3 s)"], alive,
                                            TIMES["host death -> HA VM booted on the other host"], snat)
    step("a host dies: its router is rebuilt on the other host, its HA VM restarts there, NAT works again",
         host_failure)

    return finish(st)


def finish(st):
    if TIMES:
        print("\nMeasured:")
        for k, v in TIMES.items():
            print("  %-55s %6.2f s" % (k, v))
    for p in st.get("agents", {}).values():
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
    ok = sum(RESULTS)
    print("%d passed, %d failed" % (ok, len(RESULTS) - ok))
    sys.exit(0 if ok == len(RESULTS) else 1)


if __name__ == "__main__":
    main()
