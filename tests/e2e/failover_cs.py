#!/usr/bin/env python3
"""Several management servers under fire: two `canopy` servers on a throwaway PostgreSQL
behind a real haproxy (the only address the clients use), simulated hosts of two kinds —
server-run ones (`addHost hypervisor=Simulator`) and a separate `canopy agent --simulate`
process — and a continuous mixed workload through haproxy with the `cs` client library.
Server A is SIGKILLed, restarted; then server B. Measured and printed:

- API calls failed (haproxy retries once on a refused connection, an empty answer or 503);
- per kill, the time until every host is connected again (listManagementServersMetrics);
- hosts judged Down and VMs fenced (goal 0 for both: a dead server is not a dead host);
- jobs the dead server owned, and that each finished (adopted by the survivor).

Exits non-zero when a host was judged Down, a VM fenced, a job left unfinished, or a host not
back within 60 s. Every process it starts (PostgreSQL, servers, agent, haproxy) it stops by PID.

    python3 failover_cs.py --bin target/debug/canopy
"""
import argparse
import glob
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from cs import CloudStack, CloudStackApiException, CloudStackException


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Postgres:
    """initdb + pg_ctl on a loopback port (as the postgres user when root: initdb refuses root)."""

    def __init__(self, root):
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not bins:
            raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql")
        self.bin = os.path.dirname(bins[-1])
        # Its own directory (chowned to postgres when root; the caller's is private to root).
        self.dir = tempfile.mkdtemp(prefix="canopy-pg-")
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            subprocess.run(["chown", "-R", "postgres:postgres", self.dir], check=True)
        self.data = os.path.join(self.dir, "data")
        self.port = free_port()
        self.run("initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
        opts = "-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off -c synchronous_commit=off" % (
            self.port, self.dir)
        self.run("pg_ctl", "-D", self.data, "-o", opts, "-l", os.path.join(self.dir, "pg.log"), "-w", "-t",
                 "30", "start")
        self.url = "postgres://postgres@127.0.0.1:%d/postgres" % self.port

    def run(self, tool, *args):
        cmd = [os.path.join(self.bin, tool)] + list(args)
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--"] + cmd
        subprocess.run(cmd, check=True, capture_output=True, timeout=60)

    def stop(self):
        pid_file = os.path.join(self.data, "postmaster.pid")
        try:
            pid = int(open(pid_file).readline().strip())
        except (OSError, ValueError):
            return
        try:
            os.kill(pid, signal.SIGQUIT)  # immediate shutdown
        except ProcessLookupError:
            return
        for _ in range(100):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)


class Server:
    def __init__(self, binary, data, db, up):
        self.binary, self.data, self.db, self.up = binary, data, db, up
        self.port, self.agent_port = free_port(), free_port()
        self.proc = None
        os.makedirs(data, exist_ok=True)
        self.logpath = os.path.join(data, "server.log")

    def banners(self):
        try:
            with open(self.logpath, "rb") as f:
                return f.read().count(b"Canopy management server is up.")
        except OSError:
            return 0

    def start(self):
        before = self.banners()
        cmd = [self.binary, "up" if self.up else "server", "--data-dir", self.data, "--database", self.db,
               "--listen", "127.0.0.1:%d" % self.port, "--agent-listen", "127.0.0.1:%d" % self.agent_port]
        if self.up:
            cmd += ["--host", "simulator"]
        log = open(self.logpath, "ab")
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=log, env=dict(os.environ, CANOPY_LOG="warn"))
        end = time.time() + 120
        while time.time() < end:
            if self.proc.poll() is not None:
                raise RuntimeError("canopy exited with %s (%s)" % (self.proc.returncode, self.logpath))
            if self.banners() > before:
                return
            time.sleep(0.1)
        raise RuntimeError("canopy did not come up (%s)" % self.logpath)

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

    def fenced_vms(self):
        """VMs this server fenced off hosts it declared Down (from its log)."""
        try:
            text = open(self.logpath, errors="replace").read()
        except OSError:
            return 0, 0
        text = re.sub(r"\x1b\[[0-9;]*m", "", text)
        downs = re.findall(r"host Down: its VMs are fenced and stopped.*?vms=(\d+)", text)
        return len(downs), sum(int(v) for v in downs)


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
                self.errors[why] = self.errors.get(why, 0) + 1


def run_job(c, fn, **kw):
    r = getattr(c, fn)(fetch_result=False, **kw)
    job = r.get("jobid")
    if not job:
        return r
    end = time.time() + 120
    while time.time() < end:
        q = c.queryAsyncJobResult(jobid=job)
        if q.get("jobstatus") == 1:
            return q.get("jobresult", {})
        if q.get("jobstatus") == 2:
            raise CloudStackApiException(fn, error=q.get("jobresult", {}))
        time.sleep(0.2)
    raise RuntimeError("job %s of %s still pending after 120 s" % (job, fn))


def worker(name, c, env, stop, stats, rnd):
    vms = []
    while not stop.is_set():
        op = rnd.choice(["deploy", "stop", "start", "list", "list"])
        try:
            if op == "deploy" or not vms:
                r = run_job(c, "deployVirtualMachine", zoneid=env["zone"], templateid=env["template"],
                            serviceofferingid=env["offering"], name="%s-%d" % (name, rnd.randrange(10**6)))
                vms.append(r["virtualmachine"]["id"])
                if len(vms) > 6:
                    run_job(c, "destroyVirtualMachine", id=vms.pop(0), expunge="true")
            elif op == "stop":
                run_job(c, "stopVirtualMachine", id=rnd.choice(vms))
            elif op == "start":
                run_job(c, "startVirtualMachine", id=rnd.choice(vms))
            else:
                c.listVirtualMachines()
            stats.add(True)
        except CloudStackApiException as e:
            err = getattr(e, "error", None)
            text = err.get("errortext", str(e)) if isinstance(err, dict) else str(e)
            # A VM not in a state for the operation (another worker's, or already there) is an
            # answer, not a failure of the cloud.
            if "state" in text.lower() or "already" in text.lower():
                stats.add(True)
            else:
                stats.add(False, "%s: %s" % (op, text[:120]))
        except (CloudStackException, OSError, ValueError, RuntimeError, KeyError, IndexError) as e:
            stats.add(False, "%s: %s" % (type(e).__name__, str(e)[:80]))
            time.sleep(0.2)


def haproxy_config(path, port, servers):
    lines = [
        "global", "  maxconn 512",
        "defaults", "  mode http", "  timeout connect 2s", "  timeout client 120s", "  timeout server 120s",
        "  retries 1", "  option redispatch 1", "  retry-on conn-failure empty-response 503",
        "frontend api", "  bind 127.0.0.1:%d" % port, "  default_backend canopy",
        "backend canopy", "  balance roundrobin", "  option httpchk GET /client/api",
        "  http-check expect rstatus ^[234]",
    ]
    for i, s in enumerate(servers):
        lines.append("  server s%d 127.0.0.1:%d check inter 500 fall 2 rise 2" % (i, s.port))
    open(path, "w").write("\n".join(lines) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--seed", type=int, default=int(time.time()))
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    binary = os.path.abspath(a.bin)
    root = tempfile.mkdtemp(prefix="canopy-failover-")
    pg = srv_a = srv_b = agent = proxy = None
    problems = []
    try:
        pg = Postgres(root)
        srv_a = Server(binary, os.path.join(root, "a"), pg.url, up=True)
        srv_a.start()
        srv_b = Server(binary, os.path.join(root, "b"), pg.url, up=False)
        for f in ["server.key", "admin.json"]:
            shutil.copy(os.path.join(srv_a.data, f), os.path.join(srv_b.data, f))
        srv_b.start()
        hport = free_port()
        cfg = os.path.join(root, "haproxy.cfg")
        haproxy_config(cfg, hport, [srv_a, srv_b])
        plog = open(os.path.join(root, "haproxy.log"), "ab")
        proxy = subprocess.Popen(["haproxy", "-db", "-f", cfg], stdout=plog, stderr=plog)
        url = "http://127.0.0.1:%d/client/api" % hport
        creds = json.load(open(os.path.join(srv_a.data, "admin.json")))
        admin = CloudStack(endpoint=url, key=creds["apikey"], secret=creds["secretkey"], timeout=60)
        for _ in range(100):
            try:
                admin.listZones()
                break
            except (CloudStackException, OSError):
                time.sleep(0.1)
        zone = admin.listZones()["zone"][0]
        cluster = admin.listClusters(zoneid=zone["id"])["cluster"][0]
        for i in range(4):
            admin.addHost(zoneid=zone["id"], podid=cluster["podid"], clusterid=cluster["id"],
                          hypervisor="Simulator", url="http://sim/failover/h%d" % i, username="root",
                          password="password")
        tok = subprocess.run([binary, "token", "create", "--cluster", cluster["id"], "--uses", "4",
                              "--api", "http://127.0.0.1:%d/client/api" % srv_a.port,
                              "--admin-json", os.path.join(srv_a.data, "admin.json")],
                             check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
        alog = open(os.path.join(root, "agent.log"), "ab")
        agent = subprocess.Popen([binary, "agent", "--token", tok, "--simulate", "4", "--state-dir",
                                  os.path.join(root, "agents")], stdout=alog, stderr=alog,
                                 env=dict(os.environ, CANOPY_LOG="warn"))
        total = 9  # the zone's own host, 4 server-run, 4 in the agent process
        for _ in range(300):
            up = [h for h in admin.listHosts(type="Routing").get("host", []) if h["state"] == "Up"]
            if len(up) >= total:
                break
            time.sleep(0.2)
        else:
            raise RuntimeError("the hosts did not all come up")
        tmpl = []
        for _ in range(120):
            tmpl = [t for t in admin.listTemplates(templatefilter="all").get("template", []) if t.get("isready")]
            if tmpl:
                break
            time.sleep(0.5)
        if not tmpl:
            raise RuntimeError("no ready template (run scripts/build-test-template.sh)")
        env = {"zone": zone["id"], "template": tmpl[0]["id"],
               "offering": admin.createServiceOffering(name="fo", displaytext="fo", cpunumber=1, cpuspeed=100,
                                                       memory=64)["serviceoffering"]["id"]}
        stats, stop = Stats(), threading.Event()
        threads = [threading.Thread(target=worker, args=("w%d" % i, admin, env, stop, stats,
                                                         random.Random(rnd.random())), daemon=True)
                   for i in range(3)]
        for t in threads:
            t.start()
        figures = []
        for victim, survivor in [(srv_a, srv_b), (srv_b, srv_a)]:
            time.sleep(rnd.uniform(4.0, 7.0))
            me = [s for s in admin.listManagementServers()["managementserver"]
                  if s["name"] == "127.0.0.1:%d" % victim.agent_port][0]
            owned = [j["jobid"] for j in admin.listAsyncJobs(listall="true").get("asyncjobs", [])
                     if j["jobstatus"] == 0 and j.get("managementserverid") == me["id"]]
            killed = time.time()
            victim.kill()
            direct = CloudStack(endpoint="http://127.0.0.1:%d/client/api" % survivor.port,
                                key=creds["apikey"], secret=creds["secretkey"], timeout=60)
            back = None
            down_seen = set()
            end = killed + 60
            while time.time() < end:
                hosts = direct.listHosts(type="Routing").get("host", [])
                down_seen |= {h["name"] for h in hosts if h["state"] == "Down"}
                m = [s for s in direct.listManagementServersMetrics()["managementserver"]
                     if s["name"] == "127.0.0.1:%d" % survivor.agent_port][0]
                if m.get("agentcount", 0) >= total and all(h["state"] == "Up" for h in hosts):
                    back = time.time() - killed
                    break
                time.sleep(0.25)
            # Its jobs: each finishes (the survivor takes them over when their lease runs out).
            unfinished = owned
            jend = time.time() + 90
            while unfinished and time.time() < jend:
                unfinished = [j for j in owned if direct.queryAsyncJobResult(jobid=j).get("jobstatus") == 0]
                time.sleep(0.5)
            figures.append({"killed": "a" if victim is srv_a else "b",
                            "hosts_back_s": None if back is None else round(back, 1),
                            "hosts_judged_down": len(down_seen), "jobs_owned": len(owned),
                            "jobs_unfinished": len(unfinished)})
            print("kill of server %s: every host connected to the survivor after %s s; hosts judged Down %d; "
                  "its %d unfinished jobs: %d still unfinished after adoption"
                  % (figures[-1]["killed"], figures[-1]["hosts_back_s"], len(down_seen), len(owned),
                     len(unfinished)), flush=True)
            if back is None:
                problems.append("hosts not all back within 60 s after killing %s" % figures[-1]["killed"])
            if down_seen:
                problems.append("hosts judged Down: %s" % sorted(down_seen))
            if unfinished:
                problems.append("jobs never finished: %s" % unfinished)
            victim.start()
        time.sleep(3)
        stop.set()
        for t in threads:
            t.join(180)
        downs = fenced = 0
        for s in (srv_a, srv_b):
            d, f = s.fenced_vms()
            downs, fenced = downs + d, fenced + f
        if fenced:
            problems.append("%d VMs fenced" % fenced)
        print("failover: 2 kills, %d API calls (%d failed), hosts back after %s s, hosts judged Down %d, "
              "VMs fenced %d, jobs adopted %d (unfinished %d)"
              % (stats.ok + stats.failed, stats.failed, [f["hosts_back_s"] for f in figures],
                 sum(f["hosts_judged_down"] for f in figures) + downs, fenced,
                 sum(f["jobs_owned"] for f in figures), sum(f["jobs_unfinished"] for f in figures)))
        if stats.errors:
            print("failed calls: %s" % json.dumps(stats.errors, indent=1))
    finally:
        for p in (proxy, agent):
            if p and p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        for s in (srv_a, srv_b):
            if s:
                s.stop()
        if pg:
            pg.stop()
            pg.remove()
    if problems:
        print("FAILED: " + "; ".join(problems))
        print("logs: %s" % root)
        return 1
    shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
