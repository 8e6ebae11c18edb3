#!/usr/bin/env python3
"""Several management servers under fire: three `canopy` servers on a throwaway PostgreSQL
behind a real haproxy (the only address the clients use), a few hundred simulated hosts of
two kinds — server-run ones (`addHost hypervisor=Simulator`, spread over the servers) and two
`canopy agent --simulate 100` processes (one joined through B, one through C) — and a continuous mixed workload through haproxy with the `cs` client library.
The phases, in order, under the workload:

1. server B is SIGKILLed; 2. server C is SIGKILLed while B is still down (one survivor); both
   restart; 3. PostgreSQL is stopped for 10 s and started again; 4. server A is prepared for
   maintenance (its agents move, it finishes its jobs), then cancelled.

Measured and printed per phase: API calls and failed calls (haproxy retries once on a refused
connection, an empty answer or 503), the time until every host is connected again, hosts
judged Down and VMs fenced (goal 0: a dead server or database is not a dead host), the jobs a
killed server owned and that each finished (adopted by a survivor), and over the whole run
that no job's saga was run by two servers at once (a superseded run logs that it stopped).

Exits non-zero when a host was judged Down, a VM fenced, a job left unfinished, a host not back
within 90 s, or any call failed in a server-kill or maintenance phase. Every process it starts
(PostgreSQL, servers, agents, haproxy) it stops by PID.

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
    """initdb + pg_ctl on a loopback port (as the postgres user when root: initdb refuses root).
    fsync is off (the machine does not crash here) but commits are synchronous: the test stops
    PostgreSQL immediately, and with synchronous_commit=off that loses transactions it had
    acknowledged — no real PostgreSQL restart does that."""

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
        opts = "-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off" % (
            self.port, self.dir)
        self.run("pg_ctl", "-D", self.data, "-o", opts, "-l", os.path.join(self.dir, "pg.log"), "-w", "-t",
                 "30", "start")
        self.url = "postgres://postgres@127.0.0.1:%d/postgres" % self.port

    def run(self, tool, *args):
        cmd = [os.path.join(self.bin, tool)] + list(args)
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--"] + cmd
        subprocess.run(cmd, check=True, capture_output=True, timeout=60)

    def restart(self, down_s):
        """Stops PostgreSQL (fast: connections are cut), waits `down_s`, starts it again."""
        self.stop()
        time.sleep(down_s)
        opts = "-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off" % (
            self.port, self.dir)
        self.run("pg_ctl", "-D", self.data, "-o", opts, "-l", os.path.join(self.dir, "pg.log"), "-w", "-t",
                 "30", "start")

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
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=log,
                                     env=dict(os.environ, CANOPY_LOG=os.environ.get("FAILOVER_LOG", "warn")))
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

    def log_text(self):
        try:
            return re.sub(r"\x1b\[[0-9;]*m", "", open(self.logpath, errors="replace").read())
        except OSError:
            return ""

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
        self.phase = "warm-up"
        self.calls = {}
        self.errors = {}

    def add(self, ok, why=None):
        with self.lock:
            c = self.calls.setdefault(self.phase, [0, 0])
            c[0] += 1
            if not ok:
                c[1] += 1
                key = "%s | %s" % (self.phase, why)
                self.errors[key] = self.errors.get(key, 0) + 1

    def set_phase(self, name):
        with self.lock:
            self.phase = name

    def failed(self, phase):
        with self.lock:
            return self.calls.get(phase, [0, 0])[1]


def run_job(c, fn, **kw):
    r = getattr(c, fn)(fetch_result=False, **kw)
    job = r.get("jobid")
    if not job:
        return r
    end = time.time() + 180
    while time.time() < end:
        q = c.queryAsyncJobResult(jobid=job)
        if q.get("jobstatus") == 1:
            return q.get("jobresult", {})
        if q.get("jobstatus") == 2:
            raise CloudStackApiException(fn, error=q.get("jobresult", {}))
        time.sleep(0.2)
    raise RuntimeError("job %s of %s still pending after 180 s" % (job, fn))


def worker(name, c, env, stop, stats, rnd):
    vms = []
    while not stop.is_set():
        op = rnd.choice(["deploy", "stop", "start", "list", "list", "destroy"])
        try:
            if op == "deploy" or not vms:
                op = "deploy"
                r = run_job(c, "deployVirtualMachine", zoneid=env["zone"], templateid=env["template"],
                            serviceofferingid=env["offering"], name="%s-%d" % (name, rnd.randrange(10**6)))
                vms.append(r["virtualmachine"]["id"])
            elif op == "destroy" or len(vms) > 6:
                op = "destroy"
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
                stats.add(False, "%s: %s" % (op, text[:140]))
        except (CloudStackException, OSError, ValueError, RuntimeError, KeyError, IndexError) as e:
            stats.add(False, "%s %s: %s" % (op, type(e).__name__, str(e)[:100]))
            time.sleep(0.2)


def haproxy_config(path, port, servers):
    lines = [
        "global", "  maxconn 512",
        "defaults", "  mode http", "  timeout connect 2s", "  timeout client 180s", "  timeout server 180s",
        "  retries 1", "  option redispatch 1", "  retry-on conn-failure empty-response 503",
        "frontend api", "  bind 127.0.0.1:%d" % port, "  default_backend canopy",
        "backend canopy", "  balance roundrobin", "  option httpchk GET /client/api",
        "  http-check expect rstatus ^[234]",
    ]
    for i, s in enumerate(servers):
        lines.append("  server s%d 127.0.0.1:%d check inter 500 fall 2 rise 2" % (i, s.port))
    open(path, "w").write("\n".join(lines) + "\n")


def client(url, creds):
    return CloudStack(endpoint=url, key=creds["apikey"], secret=creds["secretkey"], timeout=90)


def server_row(c, srv):
    for s in c.listManagementServersMetrics().get("managementserver", []):
        if s["name"] == "127.0.0.1:%d" % srv.agent_port:
            return s
    return None


def wait_all_back(direct_clients, live, total, since, limit=90):
    """Seconds from `since` until every host is Up and the live servers hold `total` agents;
    the hosts seen Down meanwhile."""
    down_seen = set()
    end = since + limit
    while time.time() < end:
        try:
            c = direct_clients[live[0]]
            hosts = c.listHosts(type="Routing", page=1, pagesize=500).get("host", [])
            down_seen |= {h["name"] for h in hosts if h["state"] == "Down"}
            agents = sum((server_row(c, s) or {}).get("agentcount", 0) for s in live)
            if agents >= total and len(hosts) >= total and all(h["state"] == "Up" for h in hosts):
                return round(time.time() - since, 1), down_seen
        except (CloudStackException, OSError, ValueError, KeyError):
            pass
        time.sleep(0.5)
    return None, down_seen


def jobs_of(c, srv):
    me = server_row(c, srv)
    if not me:
        return []
    return [j["jobid"] for j in c.listAsyncJobs(listall="true", page=1, pagesize=500).get("asyncjobs", [])
            if j["jobstatus"] == 0 and j.get("managementserverid") == me["id"]]


def wait_jobs_done(c, jobs, limit=120):
    unfinished = list(jobs)
    end = time.time() + limit
    while unfinished and time.time() < end:
        try:
            unfinished = [j for j in unfinished if c.queryAsyncJobResult(jobid=j).get("jobstatus") == 0]
        except (CloudStackException, OSError):
            pass
        time.sleep(0.5)
    return unfinished


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--hosts-per-agent", type=int, default=100)
    a = ap.parse_args()
    # SIGTERM (a timeout) still stops every process started here (the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    rnd = random.Random(a.seed)
    binary = os.path.abspath(a.bin)
    root = tempfile.mkdtemp(prefix="canopy-failover-")
    pg = proxy = None
    servers, agents = [], []
    problems = []
    phases = []
    try:
        pg = Postgres(root)
        srv_a = Server(binary, os.path.join(root, "a"), pg.url, up=True)
        servers.append(srv_a)
        srv_a.start()
        for name in ["b", "c"]:
            s = Server(binary, os.path.join(root, name), pg.url, up=False)
            for f in ["server.key", "admin.json"]:
                shutil.copy(os.path.join(srv_a.data, f), os.path.join(s.data, f))
            servers.append(s)
            s.start()
        srv_b, srv_c = servers[1], servers[2]
        hport = free_port()
        cfg = os.path.join(root, "haproxy.cfg")
        haproxy_config(cfg, hport, servers)
        plog = open(os.path.join(root, "haproxy.log"), "ab")
        proxy = subprocess.Popen(["haproxy", "-db", "-f", cfg], stdout=plog, stderr=plog)
        url = "http://127.0.0.1:%d/client/api" % hport
        creds = json.load(open(os.path.join(srv_a.data, "admin.json")))
        admin = client(url, creds)
        direct = {s: client("http://127.0.0.1:%d/client/api" % s.port, creds) for s in servers}
        for _ in range(100):
            try:
                admin.listZones()
                break
            except (CloudStackException, OSError):
                time.sleep(0.1)
        admin.updateConfiguration(name="indirect.agent.lb.algorithm", value="roundrobin")
        zone = admin.listZones()["zone"][0]
        cluster = admin.listClusters(zoneid=zone["id"])["cluster"][0]
        # Server-run simulated hosts, two added through each server (each runs the ones it added).
        for i, s in enumerate(servers * 2):
            direct[s].addHost(zoneid=zone["id"], podid=cluster["podid"], clusterid=cluster["id"],
                              hypervisor="Simulator", url="http://sim/failover/h%d" % i, username="root",
                              password="password")
        n = a.hosts_per_agent
        # One agent process joins through B, the other through C.
        for k, via in enumerate([srv_b, srv_c]):
            tok = subprocess.run([binary, "token", "create", "--cluster", cluster["id"], "--uses", str(n),
                                  "--api", "http://127.0.0.1:%d/client/api" % via.port,
                                  "--admin-json", os.path.join(srv_a.data, "admin.json")],
                                 check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
            alog = open(os.path.join(root, "agent%d.log" % k), "ab")
            agents.append(subprocess.Popen([binary, "agent", "--token", tok, "--simulate", str(n), "--sim-prefix", "sim%d" % k, "--state-dir",
                                            os.path.join(root, "agents%d" % k)], stdout=alog, stderr=alog,
                                           env=dict(os.environ, CANOPY_LOG="warn")))
        total = 1 + 2 * len(servers) + 2 * n  # the zone's own host, server-run, agent processes
        back, _ = wait_all_back(direct, servers, total, time.time(), limit=240)
        if back is None:
            raise RuntimeError("the %d hosts did not all come up" % total)
        spread = {s.data[-1]: (server_row(admin, s) or {}).get("agentcount") for s in servers}
        print("failover: %d hosts up after %s s, agents per server %s" % (total, back, spread), flush=True)
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
                   for i in range(4)]
        for t in threads:
            t.start()

        def kill(victim, live, label):
            stats.set_phase(label)
            # Kill it while it owns jobs (bounded wait).
            owned = []
            for _ in range(40):
                owned = jobs_of(direct[live[0]], victim)
                if owned:
                    break
                time.sleep(0.25)
            killed = time.time()
            victim.kill()
            back, down = wait_all_back(direct, live, total, killed)
            unfinished = wait_jobs_done(direct[live[0]], owned)
            f = {"phase": label, "hosts_back_s": back, "hosts_judged_down": len(down), "jobs_owned": len(owned),
                 "jobs_unfinished": len(unfinished)}
            phases.append(f)
            print("%s: every host connected to the survivors after %s s; hosts judged Down %d; its %d unfinished "
                  "jobs: %d still unfinished after adoption" % (label, back, len(down), len(owned), len(unfinished)),
                  flush=True)
            if back is None:
                problems.append("%s: hosts not all back within 90 s" % label)
            if down:
                problems.append("%s: hosts judged Down: %s" % (label, sorted(down)[:10]))
            if unfinished:
                problems.append("%s: jobs never finished: %s" % (label, unfinished))

        time.sleep(rnd.uniform(4.0, 7.0))
        kill(srv_b, [srv_a, srv_c], "kill B")
        time.sleep(rnd.uniform(2.0, 4.0))
        kill(srv_c, [srv_a], "kill C while B is down")
        stats.set_phase("restart B and C")
        srv_b.start()
        srv_c.start()
        time.sleep(5)

        # The database goes away for 10 s.
        stats.set_phase("PostgreSQL restart")
        t0 = time.time()
        pg.restart(10)
        back, down = wait_all_back(direct, servers, total, t0)
        owned = [j for s in servers for j in jobs_of(direct[s], s)]
        unfinished = wait_jobs_done(admin, owned)
        alive = [s.data[-1] for s in servers if s.proc.poll() is None]
        print("PostgreSQL stopped for 10 s: every host Up %s s after the stop; hosts judged Down %d; servers alive %s; "
              "%d unfinished jobs: %d never finished" % (back, len(down), alive, len(owned), len(unfinished)),
              flush=True)
        phases.append({"phase": "PostgreSQL restart", "hosts_back_s": back, "hosts_judged_down": len(down),
                       "jobs_owned": len(owned), "jobs_unfinished": len(unfinished)})
        if back is None or down or unfinished or len(alive) != len(servers):
            problems.append("PostgreSQL restart: back %s, Down %s, unfinished %s, alive %s"
                            % (back, sorted(down)[:10], unfinished, alive))

        # Maintenance of A (which holds most agents now) under load.
        time.sleep(3)
        stats.set_phase("maintenance of A")
        a_id = server_row(admin, srv_a)["id"]
        t0 = time.time()
        admin.prepareForMaintenance(managementserverid=a_id)
        state, agents_left = None, None
        end = time.time() + 90
        while time.time() < end:
            row = server_row(direct[srv_b], srv_a) or {}
            state, agents_left = row.get("state"), row.get("agentcount")
            if state == "Maintenance":
                break
            time.sleep(0.5)
        reached = round(time.time() - t0, 1) if state == "Maintenance" else None
        back, down = wait_all_back(direct, [srv_b, srv_c], total, t0)
        print("maintenance of A: Maintenance after %s s with %s agents left; every host on B and C after %s s; "
              "hosts judged Down %d" % (reached, agents_left, back, len(down)), flush=True)
        phases.append({"phase": "maintenance of A", "hosts_back_s": back, "hosts_judged_down": len(down),
                       "jobs_owned": 0, "jobs_unfinished": 0})
        if reached is None or agents_left or back is None or down:
            problems.append("maintenance of A: state %s, agents left %s, back %s, Down %s"
                            % (state, agents_left, back, sorted(down)[:10]))
        admin.cancelMaintenance(managementserverid=a_id)
        time.sleep(3)
        stats.set_phase("end")
        stop.set()
        for t in threads:
            t.join(240)
        downs = fenced = 0
        superseded = 0
        for s in servers:
            d, f = s.fenced_vms()
            downs, fenced = downs + d, fenced + f
            superseded += s.log_text().count("this superseded run stops")
        if fenced:
            problems.append("%d VMs fenced" % fenced)
        if downs:
            problems.append("%d hosts declared Down" % downs)
        for label in ["kill B", "kill C while B is down", "maintenance of A"]:
            if stats.failed(label):
                problems.append("%s: %d API calls failed" % (label, stats.failed(label)))
        calls = sum(c[0] for c in stats.calls.values())
        print("failover: %d hosts on 3 servers, %d API calls; per phase (calls, failed): %s; hosts back after %s s; "
              "hosts judged Down %d; VMs fenced %d; jobs adopted %d (unfinished %d); superseded runs stopped %d"
              % (total, calls, json.dumps(stats.calls), [p["hosts_back_s"] for p in phases],
                 sum(p["hosts_judged_down"] for p in phases) + downs, fenced,
                 sum(p["jobs_owned"] for p in phases), sum(p["jobs_unfinished"] for p in phases), superseded))
        if stats.errors:
            print("failed calls: %s" % json.dumps(stats.errors, indent=1))
    finally:
        for p in [proxy] + agents:
            if p and p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        for s in servers:
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
