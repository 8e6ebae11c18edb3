#!/usr/bin/env python3
"""Crash audit of the real binary: `canopy up --host simulator` plus server-run simulated
hosts and a separate `canopy agent --simulate 2` process (its hosts keep their VMs while the
server is dead, and reconnect to the restarted server), a concurrent mixed workload of several accounts through the `cs` client library
(deploy, stop, start, reboot, volume create/attach/detach, IP acquire/release, volume
snapshots taken and deleted, VM snapshots taken and deleted, destroy with expunge), SIGKILL of the server at random moments (--kills, at least 10), restart on the same
data directory each time, then an audit:

- no job pending, no VM in a transitional state, every saga row final (read from SQLite);
- no volume snapshot or VM snapshot left half taken (BackedUp/Ready or Error);
- no phantom VM: once settled, power-state sync rounds on every host find nothing to correct
  (no new VM.POWER.SYNC event over two sync intervals);
- per-host allocation equals its VMs; no guest IP or public IP assigned twice; no volume of
  an expunged VM;
- no operation failed with a bare "Internal error" (every failure has a specific text).

Last line: "crash audit: K kills, N operations (S ok, F failed), V invariant violations".

    python3 crash_cs.py --bin target/debug/canopy [--kills 10] [--seed 1]
"""
import argparse
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

from cs import CloudStack, CloudStackApiException, CloudStackException

TRANSITIONAL = {"Starting", "Stopping", "Migrating", "Expunging"}


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Server:
    def __init__(self, binary, data, port):
        self.binary, self.data, self.port, self.proc = binary, data, port, None
        # Fixed, so agent processes find the restarted server where they left it.
        self.agent_port = free_port()
        self.log = open(os.path.join(data, "server.log"), "ab")

    def banners(self):
        with open(os.path.join(self.data, "server.log"), "rb") as f:
            return f.read().count(b"Canopy management server is up.")

    def start(self):
        before = self.banners()
        self.proc = subprocess.Popen(
            [self.binary, "up", "--host", "simulator", "--data-dir", self.data,
             "--listen", "127.0.0.1:%d" % self.port, "--agent-listen", "127.0.0.1:%d" % self.agent_port],
            stdout=self.log, stderr=self.log, env=dict(os.environ, CANOPY_LOG="warn"))
        end = time.time() + 120
        while time.time() < end:
            if self.proc.poll() is not None:
                raise RuntimeError("canopy exited with %s" % self.proc.returncode)
            # The banner comes once the zone is built (first start) or checked (restarts).
            if self.banners() > before:
                return
            time.sleep(0.1)
        raise RuntimeError("canopy did not come up")

    def kill(self):
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.ok = 0
        self.failed = 0
        self.errors = {}

    def add(self, ok, why=None):
        with self.lock:
            if ok:
                self.ok += 1
            else:
                self.failed += 1
                if why:
                    self.errors[why] = self.errors.get(why, 0) + 1


class JobFailed(Exception):
    pass


def run_job(c, fn, **kw):
    """Starts an async command and waits for its job, riding out server restarts."""
    r = getattr(c, fn)(fetch_result=False, **kw)
    job = r.get("jobid")
    if not job:
        return r
    end = time.time() + 120
    while time.time() < end:
        try:
            q = c.queryAsyncJobResult(jobid=job)
        except (CloudStackException, OSError, ValueError):
            time.sleep(0.5)
            continue
        if q.get("jobstatus") == 1:
            return q.get("jobresult", {})
        if q.get("jobstatus") == 2:
            raise JobFailed(q.get("jobresult", {}).get("errortext", "failed"))
        time.sleep(0.3)
    raise RuntimeError("job %s of %s still pending after 120 s" % (job, fn))


def worker(name, c, env, stop, stats, rnd):
    vms, vols, ips, snaps = [], [], [], []
    while not stop.is_set():
        op = rnd.choice(["deploy", "deploy", "stop", "start", "reboot", "volume", "ip", "destroy",
                         "snapshot", "vmsnapshot"])
        try:
            if op == "deploy" or not vms:
                r = run_job(c, "deployVirtualMachine", zoneid=env["zone"], templateid=env["template"],
                            serviceofferingid=env["offering"], name="%s-%d" % (name, rnd.randrange(10**6)))
                vms.append(r["virtualmachine"]["id"])
            elif op == "stop":
                run_job(c, "stopVirtualMachine", id=rnd.choice(vms), forced="true")
            elif op == "start":
                run_job(c, "startVirtualMachine", id=rnd.choice(vms))
            elif op == "reboot":
                run_job(c, "rebootVirtualMachine", id=rnd.choice(vms))
            elif op == "volume":
                if vols and rnd.random() < 0.5:
                    v = vols.pop()
                    run_job(c, "detachVolume", id=v)
                    c.deleteVolume(id=v)
                else:
                    v = run_job(c, "createVolume", name="d%d" % rnd.randrange(10**6), zoneid=env["zone"],
                                diskofferingid=env["disk"])["volume"]["id"]
                    vols.append(v)
                    run_job(c, "attachVolume", id=v, virtualmachineid=rnd.choice(vms))
            elif op == "ip":
                if ips and rnd.random() < 0.5:
                    run_job(c, "disassociateIpAddress", id=ips.pop())
                else:
                    nets = c.listNetworks().get("network", [])
                    if nets:
                        ip = run_job(c, "associateIpAddress", networkid=nets[0]["id"])
                        ips.append(ip["ipaddress"]["id"])
            elif op == "snapshot":
                if snaps and rnd.random() < 0.4:
                    run_job(c, "deleteSnapshot", id=snaps.pop())
                else:
                    roots = c.listVolumes(virtualmachineid=rnd.choice(vms), type="ROOT").get("volume", [])
                    if roots:
                        snaps.append(run_job(c, "createSnapshot", volumeid=roots[0]["id"])["snapshot"]["id"])
            elif op == "vmsnapshot":
                s = run_job(c, "createVMSnapshot", virtualmachineid=rnd.choice(vms))["vmsnapshot"]["id"]
                run_job(c, "deleteVMSnapshot", vmsnapshotid=s)
            elif op == "destroy" and len(vms) > 1:
                v = vms.pop(rnd.randrange(len(vms)))
                run_job(c, "destroyVirtualMachine", id=v, expunge="true")
            stats.add(True)
        except (CloudStackApiException, JobFailed) as e:
            # Refusals (wrong state, capacity) and failures are answers; what matters is that
            # the cloud stays consistent.
            text = getattr(e, "error", None)
            text = text.get("errortext", str(e)) if isinstance(text, dict) else str(e)
            stats.add(False, text[:90])
        except (CloudStackException, OSError, ValueError, RuntimeError, KeyError, IndexError) as e:
            stats.add(False, type(e).__name__)
            time.sleep(0.3)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--kills", type=int, default=10)
    ap.add_argument("--seed", type=int, default=int(time.time()))
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    data = tempfile.mkdtemp(prefix="canopy-crash-")
    srv = Server(os.path.abspath(a.bin), data, free_port())
    url = "http://127.0.0.1:%d/client/api" % srv.port
    violations = []
    agent = None
    try:
        srv.start()
        creds = json.load(open(os.path.join(data, "admin.json")))
        admin = CloudStack(endpoint=url, key=creds["apikey"], secret=creds["secretkey"], timeout=30)
        zone = admin.listZones()["zone"][0]
        cluster = admin.listClusters(zoneid=zone["id"])["cluster"][0]
        for i in range(3):
            admin.addHost(zoneid=zone["id"], podid=cluster["podid"], clusterid=cluster["id"], hypervisor="Simulator",
                          url="http://sim/crash/h%d" % i, username="root", password="password")
        # Two more hosts simulated by an agent process of their own.
        tok = subprocess.run([srv.binary, "token", "create", "--cluster", cluster["id"], "--uses", "2",
                              "--api", url, "--admin-json", os.path.join(data, "admin.json")],
                             check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
        agent_log = open(os.path.join(data, "agent.log"), "ab")
        agent = subprocess.Popen([srv.binary, "agent", "--token", tok, "--simulate", "2", "--state-dir",
                                  os.path.join(data, "agents")], stdout=agent_log, stderr=agent_log,
                                 env=dict(os.environ, CANOPY_LOG="warn"))
        for _ in range(200):
            up = [h for h in admin.listHosts(type="Routing").get("host", []) if h["state"] == "Up"]
            if len(up) >= 6:
                break
            time.sleep(0.2)
        else:
            raise RuntimeError("the hosts did not all come up: %s" % admin.listHosts(type="Routing"))
        admin.updateConfiguration(name="vm.power.sync.interval", value="5")
        admin.updateConfiguration(name="allow.user.expunge.recover.vm", value="true")
        tmpl = []
        for _ in range(120):
            tmpl = [t for t in admin.listTemplates(templatefilter="all").get("template", []) if t.get("isready")]
            if tmpl:
                break
            time.sleep(0.5)
        if not tmpl:
            print("crash audit: no ready template (run scripts/build-test-template.sh)")
            return 1
        env = {
            "zone": zone["id"], "template": tmpl[0]["id"],
            "offering": admin.createServiceOffering(name="crash", displaytext="crash", cpunumber=1, cpuspeed=100,
                                                    memory=64)["serviceoffering"]["id"],
            "disk": admin.listDiskOfferings()["diskoffering"][0]["id"],
        }
        users = []
        for i in range(3):
            acct = admin.createAccount(username="crash%d" % i, password="pw-123", email="c@x", firstname="C",
                                       lastname="X", accounttype=0)["account"]
            keys = admin.registerUserKeys(id=acct["user"][0]["id"])["userkeys"]
            users.append(CloudStack(endpoint=url, key=keys["apikey"], secret=keys["secretkey"], timeout=30))
        stats, stop = Stats(), threading.Event()
        threads = [threading.Thread(target=worker, args=("c%d" % i, u, env, stop, stats, random.Random(rnd.random())),
                                    daemon=True) for i, u in enumerate(users)]
        for t in threads:
            t.start()
        for k in range(a.kills):
            time.sleep(rnd.uniform(1.0, 4.0))
            srv.kill()
            srv.start()
            print("kill %d/%d survived (operations so far: %d ok, %d failed)" % (k + 1, a.kills, stats.ok,
                                                                             stats.failed), flush=True)
        time.sleep(3)
        stop.set()
        for t in threads:
            t.join(180)
        # Settle: every job finishes.
        end = time.time() + 180
        pending = None
        while time.time() < end:
            jobs = admin.listAsyncJobs(listall="true").get("asyncjobs", [])
            pending = [j for j in jobs if j["jobstatus"] == 0]
            vms = admin.listVirtualMachines(listall="true").get("virtualmachine", [])
            moving = [v for v in vms if v["state"] in TRANSITIONAL]
            if not pending and not moving:
                break
            time.sleep(1)
        if pending:
            violations.append("jobs still pending: %s" % [(j["cmd"], j["jobid"]) for j in pending])
        vms = admin.listVirtualMachines(listall="true").get("virtualmachine", [])
        for v in vms:
            if v["state"] in TRANSITIONAL:
                violations.append("VM %s stays %s" % (v["name"], v["state"]))
        # Phantoms: sync rounds on every host correct nothing once settled.
        time.sleep(7)
        before = len(admin.listEvents(listall="true", type="VM.POWER.SYNC").get("event", []))
        time.sleep(12)
        after_events = admin.listEvents(listall="true", type="VM.POWER.SYNC").get("event", [])
        if len(after_events) != before:
            violations.append("power-state sync still corrects hosts: %s" %
                              [e["description"] for e in after_events[: len(after_events) - before]])
        # Allocation equals the VMs on each host.
        vms = admin.listVirtualMachines(listall="true").get("virtualmachine", [])
        for h in admin.listHosts(type="Routing").get("host", []):
            want = sum(v["memory"] for v in vms if v.get("hostid") == h["id"] and v["state"] == "Running")
            have = h.get("memoryallocatedbytes", 0) // (1024 * 1024)
            if want != have:
                violations.append("host %s: %d MiB allocated, its VMs hold %d MiB" % (h["name"], have, want))
        # No address twice.
        seen = {}
        for v in vms:
            for n in v.get("nic", []):
                key = (n.get("networkid"), n.get("ipaddress"))
                if key in seen:
                    violations.append("IP %s on %s and %s" % (key[1], seen[key], v["name"]))
                seen[key] = v["name"]
        pubs = admin.listPublicIpAddresses(listall="true", allocatedonly="true").get("publicipaddress", [])
        addrs = [p["ipaddress"] for p in pubs]
        if len(addrs) != len(set(addrs)):
            violations.append("a public IP is allocated twice: %s" % sorted(addrs))
        # Snapshots end BackedUp or Error, VM snapshots Ready or Error: none stays half taken.
        for sn in admin.listSnapshots(listall="true").get("snapshot", []):
            if sn["state"] not in ("BackedUp", "Error"):
                violations.append("snapshot %s stays %s" % (sn["id"], sn["state"]))
        for sn in admin.listVMSnapshot(listall="true").get("vmSnapshot", []):
            if sn["state"] not in ("Ready", "Error"):
                violations.append("VM snapshot %s stays %s" % (sn["id"], sn["state"]))
        live = {v["id"] for v in vms}
        for vol in admin.listVolumes(listall="true").get("volume", []):
            if vol.get("virtualmachineid") and vol["virtualmachineid"] not in live:
                violations.append("volume %s belongs to VM %s, which is gone" % (vol["name"], vol["virtualmachineid"]))
        srv.stop()
        db = sqlite3.connect(os.path.join(data, "canopy.db"))
        open_sagas = db.execute("SELECT job_id, kind, step, phase FROM sagas WHERE phase IN ('forward', 'unwind')").fetchall()
        if open_sagas:
            violations.append("saga rows not final: %s" % open_sagas)
        open_jobs = db.execute("SELECT id, command FROM jobs WHERE status = 0").fetchall()
        if open_jobs:
            violations.append("job rows pending: %s" % open_jobs)
        db.close()
        # Every failure a user suffers has a specific text: none is a bare internal error.
        opaque = {t: n for t, n in stats.errors.items() if t.startswith("Internal error")}
        if opaque:
            violations.append("failures with no specific text: %s" % opaque)
        for v in violations:
            print("VIOLATION  %s" % v)
        top = sorted(stats.errors.items(), key=lambda kv: -kv[1])[:8]
        print("failures by text: %s" % top)
        # Internal errors are answered with a reference: show what the log says under it.
        log = open(os.path.join(data, "server.log"), "rb").read().decode("utf-8", "replace")
        for text in stats.errors:
            if "(reference " in text:
                ref = text.split("(reference ", 1)[1].split(")", 1)[0]
                lines = [l for l in log.splitlines() if ref in l]
                print("530 %s: %s" % (ref, lines[:1]))
        print("crash audit: %d kills, %d operations (%d ok, %d failed), %d invariant violations (seed %d)" %
              (a.kills, stats.ok + stats.failed, stats.ok, stats.failed, len(violations), a.seed))
        return 1 if violations or stats.ok == 0 else 0
    finally:
        srv.stop()
        if agent is not None and agent.poll() is None:
            agent.terminate()
            try:
                agent.wait(20)
            except subprocess.TimeoutExpired:
                agent.kill()
                agent.wait()
        if os.environ.get("CANOPY_KEEP_CRASH_DATA"):
            print("data kept in %s" % data)
        else:
            subprocess.run(["rm", "-rf", data])


if __name__ == "__main__":
    sys.exit(main())
