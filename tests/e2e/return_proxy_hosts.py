#!/usr/bin/env python3
"""A cluster behind a return proxy, for real (run by scripts/return-proxy.sh inside the
management namespace, which reaches only the proxy's SSH; host 2 reaches only the proxy host).

Designates host 1 as the cluster's return proxy (a real sshd in its namespace), joins both
hosts through the two servers' SSH tunnels, and checks what an operator would: the hosts are Up
and talk to the servers only through the proxy; a second proxy is refused; QEMU VMs on both
hosts boot from a template fetched through the tunnel and ping each other; the console
websocket carries RFB from the VM on host 2; a live migration between the hosts keeps the
guest's counter counting; the tunnels' ssh processes SIGKILLed come back with no host Down;
the proxy itself gone leaves the hosts Alert (never Down, VMs untouched) until it returns.
Prints measured times. Last line: "N passed, N failed".
"""
import argparse
import base64
import calendar
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from real_hosts import RESULTS, TIMES, Console, check, finish, step, tick, wait_for, ws_console  # noqa: E402

from cs import CloudStack, CloudStackApiException  # noqa: E402

PROXY = "192.168.251.11"


def children(pid):
    """The PIDs of a process's children."""
    r = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    return [int(x) for x in r.stdout.split()]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--urls", required=True, help="the two servers' API URLs")
    ap.add_argument("--admin-json", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--template", required=True)
    ap.add_argument("--hosts", required=True, help="namespaces of host 1 (the proxy) and host 2")
    ap.add_argument("--servers", required=True, help="the two servers' PIDs")
    a = ap.parse_args()
    creds = json.load(open(a.admin_json))
    apis = [CloudStack(endpoint=u, key=creds["apikey"], secret=creds["secretkey"], poll_interval=0.1,
                       job_timeout=300, fetch_result=True) for u in a.urls.split(",")]
    api = apis[0]
    hosts_ns = a.hosts.split(",")
    server_pids = [int(p) for p in a.servers.split(",")]
    proxy_dir = os.path.join(a.work, "proxy")
    st = {"agents": {}}

    def on_term(*_):
        for p in st["agents"].values():
            if p.poll() is None:
                p.kill()
        stop_sshd()
        sys.exit(143)
    signal.signal(signal.SIGTERM, on_term)

    def start_agent(i, token=None):
        d = os.path.join(a.work, "h%d" % i)
        cmd = ["nsenter", "--net=/run/netns/" + hosts_ns[i - 1], a.bin, "agent", "--address", "192.168.251.1%d" % i,
               "--state-dir", d, "--public-uplink", "pubup"]
        if token:
            cmd += ["--token", token]
        log = open(os.path.join(d, "agent.log"), "a")
        p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ, CANOPY_LOG="info"))
        st["agents"][i] = p
        return p

    def start_sshd():
        """Debian's sshd in the proxy host's namespace, as root with the servers' key authorized
        in a file of this test (the operator's step: `returnproxypublickey` into authorized_keys)."""
        key = os.path.join(proxy_dir, "ssh_host_ed25519_key")
        if not os.path.exists(key):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
        conf = os.path.join(proxy_dir, "sshd_config")
        with open(conf, "w") as f:
            f.write("ListenAddress %s:22\nHostKey %s\nAuthorizedKeysFile %s\nStrictModes no\n"
                    "PermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
                    "GatewayPorts clientspecified\nAllowTcpForwarding remote\nX11Forwarding no\nPermitTTY no\n"
                    "PidFile %s\nUsePAM no\nLogLevel VERBOSE\n"
                    % (PROXY, key, os.path.join(proxy_dir, "authorized_keys"), os.path.join(proxy_dir, "sshd.pid")))
        os.makedirs("/run/sshd", exist_ok=True)
        log = open(os.path.join(proxy_dir, "sshd.log"), "a")
        p = subprocess.Popen(["nsenter", "--net=/run/netns/" + hosts_ns[0], "/usr/sbin/sshd", "-D", "-e", "-f", conf],
                             stdout=log, stderr=subprocess.STDOUT)
        st["sshd"] = p

        def listening():
            r = subprocess.run(["ip", "netns", "exec", hosts_ns[0], "ss", "-Htln", "sport = :22"],
                               capture_output=True, text=True)
            return r.stdout.strip() != ""
        wait_for("sshd listening", listening, 15, 0.1)

    def stop_sshd():
        """The proxy's sshd and its session processes (the tunnels' ends), by PID."""
        p = st.get("sshd")
        if not p or p.poll() is not None:
            return
        # nsenter execs sshd: the Popen PID is sshd's; its children are the sessions.
        stack, pids = [p.pid], []
        while stack:
            x = stack.pop()
            pids.append(x)
            stack.extend(children(x))
        for x in pids:
            try:
                os.kill(x, signal.SIGKILL)
            except ProcessLookupError:
                pass
        p.wait(10)

    def hosts():
        return {h["id"]: h for h in api.listHosts(zoneid=st["zone"], type="Routing").get("host", [])}

    def cluster(i=0):
        return apis[i].listClusters(id=st["cluster"])["cluster"][0]

    def ns_run(i, *cmd):
        return subprocess.run(["ip", "netns", "exec", hosts_ns[i - 1], *cmd], capture_output=True, text=True)

    def zone():
        api.updateConfiguration(name="ping.interval", value="3")
        z = api.createZone(name="rp1", networktype="Advanced", dns1="203.0.113.1", internaldns1="203.0.113.1",
                           guestcidraddress="10.1.0.0/16", domain="rp.internal")["zone"]
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
        st["pod"] = pod["id"]
        cl = api.addCluster(clustername="c1", clustertype="CloudManaged", hypervisor="KVM", podid=pod["id"],
                            zoneid=z["id"])["cluster"][0]
        st["cluster"] = cl["id"]
    step("a zone and a cluster (no hosts yet)", zone)
    if "cluster" not in st:
        return finish(st)

    def cut_off():
        # What the firewalls promise, seen from each side.
        def connect(addr, port):
            s = socket.socket()
            s.settimeout(2)
            try:
                s.connect((addr, port))
                return "connected"
            except socket.timeout:
                return "timeout"  # dropped
            except OSError as e:
                return e.errno
            finally:
                s.close()
        m_to_h2 = connect("192.168.251.12", 22)
        m_to_h1 = connect(PROXY, 9000)
        check(m_to_h2 in (1, 101, 113, "timeout") and m_to_h1 in (1, 101, 113, "timeout"),
              "the management side reaches nothing but the proxy's SSH: errno %r, %r" % (m_to_h2, m_to_h1))
        probe = "import socket,sys\ntry:\n socket.create_connection(('192.168.251.1',9443),2)\nexcept OSError as e:\n " \
                "print(e); sys.exit(0)\nprint('connected'); sys.exit(1)"
        for i in (1, 2):
            r = ns_run(i, "python3", "-c", probe)
            check(r.returncode == 0, "host %d cannot reach the server's agent endpoint: %r" % (i, r.stdout + r.stderr))
            st["probe%d" % i] = r.stdout.strip()
        return "management -> h2:22 %s, -> h1:9000 %s; hosts -> 192.168.251.1:9443: %s, %s" % (
            m_to_h2, m_to_h1, st["probe1"], st["probe2"])
    step("the firewalls: the management side reaches only the proxy's SSH, the hosts cannot reach it", cut_off)

    def designate():
        start_sshd()
        t0 = time.monotonic()
        c = api.updateCluster(id=st["cluster"], returnproxyaddress=PROXY, returnproxyuser="root")["cluster"]
        check(c["returnproxyaddress"] == PROXY and c["returnproxyhostkey"].startswith("ssh-ed25519 "), c)
        ours = open(os.path.join(proxy_dir, "ssh_host_ed25519_key.pub")).read().split()[:2]
        check(c["returnproxyhostkey"] == " ".join(ours), "the recorded host key is the proxy's: %r" % c)
        # The operator authorizes the servers' key on the proxy.
        with open(os.path.join(proxy_dir, "authorized_keys"), "w") as f:
            f.write(c["returnproxypublickey"].strip() + "\n")
        tokens = []
        for i in (1, 2):
            h = api.addHost(zoneid=st["zone"], podid=st["pod"], clusterid=st["cluster"], hypervisor="KVM",
                            url="http://192.168.251.1%d" % i)["host"][0]
            st["h%d" % i] = h["id"]
            tokens.append(h["jointoken"])
            body = tokens[-1].split(".", 1)[1]
            server = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))["server"]
            check(server.startswith(PROXY + ":3714"), "the join token names the proxy: %s" % server)
        for i in (1, 2):
            start_agent(i, tokens[i - 1])
        wait_for("both hosts Up through the proxy",
                 lambda: [h["state"] for h in hosts().values()] == ["Up", "Up"], 90, 0.1)
        TIMES["designation -> both hosts Up through the proxy"] = time.monotonic() - t0
        for i in (0, 1):
            wait_for("server %d's tunnel Up" % (i + 1), lambda: cluster(i)["returnproxystate"] == "Up", 30, 0.2)
        ports = sorted(cluster(i)["returnproxyport"] for i in (0, 1))
        check(ports == [37140, 37141], "each server its own tunnel port: %s" % ports)
        check(cluster()["returnproxyhostid"] == st["h1"], "the proxy's host: %r" % cluster())
        hs = hosts()
        check(hs[st["h1"]]["returnproxy"] is True and hs[st["h2"]]["returnproxy"] is False, hs)
        check(hs[st["h2"]]["returnproxyaddress"] == PROXY, hs[st["h2"]])
        return "%.1f s; tunnels on %s" % (TIMES["designation -> both hosts Up through the proxy"], ports)
    step("designating host 1 the return proxy; both hosts join through it (tokens name the proxy)", designate)
    if "h2" not in st or hosts()[st["h2"]]["state"] != "Up":
        stop_sshd()
        return finish(st)

    def only_through_proxy():
        # Host 2's agent talks to the proxy's tunnel ports; the management side sees no host
        # connection but the servers' SSH.
        r = ns_run(2, "ss", "-Htn", "state", "established")
        peers = [l.split()[-1] for l in r.stdout.splitlines()]
        check(any(p.startswith(PROXY + ":3714") for p in peers), "h2's agent is connected to the proxy: %s" % peers)
        check(not any(p.startswith("192.168.251.1:") for p in peers), "h2 has no connection to the server: %s" % peers)
        r = subprocess.run(["ss", "-Htn", "state", "established"], capture_output=True, text=True)
        remote = [l.split()[-1] for l in r.stdout.splitlines() if not l.split()[-1].startswith(("127.", "192.168.251.1:"))]
        check(remote and all(p == PROXY + ":22" for p in remote), "the servers' only remote peer is the proxy's "
                                                                    "SSH: %s" % remote)
        try:
            api.updateHost(id=st["h2"], returnproxy="true")
            refused = None
        except CloudStackApiException as e:
            refused = e.error
        check(refused and refused.get("errorcode") == 431 and "already has a return proxy" in refused["errortext"],
              "a second proxy is refused: %r" % refused)
        try:
            api.updateCluster(id=st["cluster"], returnproxyaddress="192.168.251.12")
            refused2 = None
        except CloudStackApiException as e:
            refused2 = e.error
        check(refused2 and refused2.get("errorcode") == 431, "a second proxy is refused: %r" % refused2)
        api.updateCluster(id=st["cluster"], allocationstate="Enabled")
        api.updateZone(id=st["zone"], allocationstate="Enabled")
        return "h2 -> %s; servers -> %s; second proxy: %s" % (
            sorted(set(peers)), sorted(set(remote)), refused["errortext"][:90])
    step("the hosts reach the servers only through the proxy; a second proxy is refused (431)", only_through_proxy)

    def template():
        os_id = [o["id"] for o in api.listOsTypes()["ostype"] if o["description"] == "Other Linux (64-bit)"][0]
        api.createStoragePool(name="shared", zoneid=st["zone"], podid=st["pod"], clusterid=st["cluster"],
                              url="filesystem://" + os.path.join(a.work, "primary"))
        api.addImageStore(provider="NFS", name="sec", url="file://" + os.path.join(a.work, "secondary"),
                          zoneid=st["zone"])
        url = lambda f: "file://" + os.path.join(a.template, f)  # noqa: E731
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
    step("a template staged from files (no outbound access) and an offering", template)

    def vm_dir(host, inst):
        return os.path.join(a.work, "h%d" % host, "run", "vms", inst)

    def where(vm):
        v = api.listVirtualMachines(id=vm)["virtualmachine"][0]
        return 1 if v["hostid"] == st["h1"] else 2, v

    def read(path):
        try:
            with open(path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def console(vm):
        h, v = where(vm)
        return Console(os.path.join(vm_dir(h, v["instancename"]), "serial.sock"))

    def vms():
        for name, host in (("vm1", 1), ("vm2", 2)):
            t0 = time.monotonic()
            v = api.deployVirtualMachine(zoneid=st["zone"], serviceofferingid=st["offering"],
                                         templateid=st["template"], name=name, hostid=st["h%d" % host])
            v = v["virtualmachine"]
            log = os.path.join(vm_dir(host, v["instancename"]), "serial.log")
            wait_for(name + " guest init", lambda: "CANOPY-GUEST-READY" in read(log), 180, 0.05)
            TIMES["deploy through the proxy -> guest init marker (%s, h%d)" % (name, host)] = time.monotonic() - t0
            st[name] = v
        c = console(st["vm1"]["id"])
        ip2 = st["vm2"]["nic"][0]["ipaddress"]
        rc, out = c.run("ping -c 3 -W 2 %s" % ip2)
        c.close()
        check(rc == 0 and "3 packets received" in out, "vm1 pings vm2 across hosts: %r" % out)
        return "vm1 on h1, vm2 %s on h2; they ping each other" % ip2
    step("QEMU VMs on both hosts (template fetched through the tunnel) boot and ping each other", vms)
    if "vm2" not in st:
        stop_sshd()
        return finish(st)

    def console_ws():
        # The VM on host 2: its agent dials the answering server's tunnel port on the proxy.
        out = []
        for i in (0, 1):
            r = apis[i].createConsoleEndpoint(virtualmachineid=st["vm2"]["id"])["consoleendpoint"]
            w = r["websocket"]
            op, payload = ws_console("ws://%s:%s%s?token=%s" % (w["host"], w["port"], w["path"], w["token"]))
            check(op == 2 and payload.startswith(b"RFB 003.0"), "RFB handshake via server %d: %r" % (i + 1, payload))
            out.append(payload.decode().strip())
        return "through server 1: %s; server 2: %s" % tuple(out)
    step("the console websocket carries the RFB handshake of the VM on host 2 (through either server)", console_ws)

    def migrate():
        v = st["vm2"]
        c = console(v["id"])
        before = tick(c)
        c.close()
        t0 = time.monotonic()
        m = api.migrateVirtualMachine(virtualmachineid=v["id"], hostid=st["h1"])["virtualmachine"]
        TIMES["live migration h2 -> h1 (commands through the proxy)"] = time.monotonic() - t0
        check(m["hostid"] == st["h1"] and m["state"] == "Running", m)
        c = console(v["id"])
        after = tick(c)
        time.sleep(2)
        later = tick(c)
        c.close()
        check(after >= before and later > after, "counter %d -> %d -> %d" % (before, after, later))
        return "%.1f s; counter %d -> %d -> %d" % (TIMES["live migration h2 -> h1 (commands through the proxy)"],
                                                   before, after, later)
    step("a live migration between the hosts keeps the guest's counter counting", migrate)

    def qemu_pids():
        out = {}
        for v in api.listVirtualMachines(zoneid=st["zone"]).get("virtualmachine", []):
            h = 1 if v["hostid"] == st["h1"] else 2
            out[v["name"]] = int(read(os.path.join(vm_dir(h, v["instancename"]), "qemu.pid")).strip())
        return out

    def watch_states(until, seen):
        """Polls the hosts' states into `seen` until `until()` holds (bounded by its caller)."""
        for h in hosts().values():
            seen.add(h["state"])
        return until()

    def kill_tunnels():
        pids = qemu_pids()
        ssh = [c for s in server_pids for c in children(s)
               if open("/proc/%d/comm" % c).read().strip() == "ssh"]
        check(len(ssh) == 2, "each server runs one ssh: %s" % ssh)
        t_kill = time.time()
        t0 = time.monotonic()
        for p in ssh:
            os.kill(p, signal.SIGKILL)
        seen = set()

        def recovered():
            if any(cluster(i)["returnproxystate"] != "Up" for i in (0, 1)):
                return False
            hs = hosts().values()
            # Both agents pinged since the kill: they reconnected through a new tunnel.
            return all(h["state"] == "Up" and h.get("lastpinged") and
                       calendar.timegm(time.strptime(h["lastpinged"][:19], "%Y-%m-%dT%H:%M:%S")) > t_kill
                       for h in hs)
        wait_for("tunnels and agents back", lambda: watch_states(recovered, seen), 90, 0.2)
        TIMES["tunnels' ssh SIGKILLed -> tunnels Up, both agents pinging again"] = time.monotonic() - t0
        check("Down" not in seen, "no host declared Down: %s" % seen)
        check(qemu_pids() == pids and all(os.path.exists("/proc/%d" % p) for p in pids.values()),
              "the VMs kept running")
        new = [c for s in server_pids for c in children(s) if open("/proc/%d/comm" % c).read().strip() == "ssh"]
        check(len(new) == 2 and not set(new) & set(ssh), "new ssh processes: %s" % new)
        evs = api.listEvents(type="RETURNPROXY.UP", listall="true").get("event", [])
        check(evs, "a RETURNPROXY.UP event")
        return "%.1f s; states seen %s; VMs untouched" % (
            TIMES["tunnels' ssh SIGKILLed -> tunnels Up, both agents pinging again"], sorted(seen))
    step("the tunnels' ssh processes SIGKILLed: re-established, agents reconnect, no host Down", kill_tunnels)

    def proxy_lost():
        pids = qemu_pids()
        t0 = time.monotonic()
        stop_sshd()
        seen = set()
        # Past the dead-host threshold (ping.interval 3 s: 7.5 s) and the investigation.
        wait_for("the hosts Alert", lambda: watch_states(
            lambda: all(h["state"] == "Alert" for h in hosts().values()), seen), 60, 0.3)
        TIMES["proxy gone -> hosts Alert"] = time.monotonic() - t0
        end = time.monotonic() + 10
        while time.monotonic() < end:
            watch_states(lambda: True, seen)
            time.sleep(0.5)
        check("Down" not in seen, "no host declared Down while the proxy is gone: %s" % seen)
        states = {v["name"]: v["state"] for v in api.listVirtualMachines(zoneid=st["zone"])["virtualmachine"]}
        check(all(s == "Running" for s in states.values()), "VMs not fenced: %s" % states)
        check(qemu_pids() == pids and all(os.path.exists("/proc/%d" % p) for p in pids.values()), "QEMU untouched")
        down = cluster()["returnproxystate"]
        check(down in ("Down", "Connecting"), "the tunnel is not Up: %s" % down)
        t1 = time.monotonic()
        start_sshd()
        wait_for("hosts Up again", lambda: [h["state"] for h in hosts().values()] == ["Up", "Up"], 90, 0.2)
        TIMES["proxy back -> both hosts Up"] = time.monotonic() - t1
        c = console(st["vm1"]["id"])
        rc, out = c.run("ping -c 2 -W 2 %s" % st["vm2"]["nic"][0]["ipaddress"])
        c.close()
        check(rc == 0, "the VMs still reach each other: %r" % out)
        return "Alert after %.1f s (states seen %s, tunnel %s, VMs %s); Up %.1f s after the proxy returned" % (
            TIMES["proxy gone -> hosts Alert"], sorted(seen), down, sorted(set(states.values())),
            TIMES["proxy back -> both hosts Up"])
    step("the proxy gone: hosts Alert, never Down, VMs untouched; back when it returns", proxy_lost)

    for name in ("vm1", "vm2"):
        if name in st:
            try:
                api.destroyVirtualMachine(id=st[name]["id"], expunge="true")
            except Exception as e:  # noqa: BLE001
                print("cleanup: destroying %s: %s" % (name, e))
    stop_sshd()
    return finish(st)


if __name__ == "__main__":
    main()
