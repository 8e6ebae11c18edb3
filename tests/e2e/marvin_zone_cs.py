#!/usr/bin/env python3
"""Builds a zone the way Marvin's deployDataCenter does, with the real `cs` client:
createZone -> createPhysicalNetwork -> addTrafficType (Guest, Management, Public) ->
configureVirtualRouterElement / updateNetworkServiceProvider -> updatePhysicalNetwork ->
createPod -> addCluster -> addHost (simulator) -> createStoragePool -> addImageStore ->
updateZone allocationstate=Enabled. Last line: "N passed, N failed".

    python3 marvin_zone_cs.py --url http://127.0.0.1:8080/client/api --admin-json DIR/admin.json
"""
import argparse
import json
import shutil
import sys
import tempfile
import traceback
import uuid

from cs import CloudStack

RESULTS = []


def step(name, fn):
    try:
        out = fn()
        RESULTS.append(True)
        print("PASS  %s%s" % (name, (" -- " + str(out)) if out else ""), flush=True)
        return out
    except Exception as e:  # noqa: BLE001
        RESULTS.append(False)
        print("FAIL  %s -- %s: %s" % (name, type(e).__name__, e), flush=True)
        traceback.print_exc(limit=3)
        return None


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--admin-json", required=True)
    a = ap.parse_args()
    creds = json.load(open(a.admin_json))
    c = CloudStack(endpoint=a.url, key=creds["apikey"], secret=creds["secretkey"], poll_interval=0.2, job_timeout=60)
    tag = uuid.uuid4().hex[:6]
    st = {}
    sec = tempfile.mkdtemp(prefix="canopy-sec-")

    def zone():
        z = c.createZone(name="Sandbox-" + tag, networktype="Advanced", dns1="10.147.28.6", internaldns1="10.147.28.6",
                         guestcidraddress="10.1.1.0/24")["zone"]
        check(z["allocationstate"] == "Disabled", z)
        st["zone"] = z["id"]
    step("createZone (Disabled by default)", zone)

    def physnet():
        pn = c.createPhysicalNetwork(name="Sandbox-pnet", zoneid=st["zone"], isolationmethods="VXLAN", vlan="100-200",
                                     broadcastdomainrange="Zone", fetch_result=True)["physicalnetwork"]
        st["pn"] = pn["id"]
        for t in ("Guest", "Management", "Public"):
            tt = c.addTrafficType(physicalnetworkid=pn["id"], traffictype=t, kvmnetworklabel="cloudbr0", fetch_result=True)
            check(tt["traffictype"]["traffictype"] == t, tt)
        return pn["isolationmethods"]
    step("createPhysicalNetwork + addTrafficType x3", physnet)

    def providers():
        nsp = c.listNetworkServiceProviders(name="VirtualRouter", physicalnetworkid=st["pn"])["networkserviceprovider"][0]
        el = c.listVirtualRouterElements(nspid=nsp["id"])["virtualrouterelement"][0]
        c.configureVirtualRouterElement(id=el["id"], enabled="true", fetch_result=True)
        r = c.updateNetworkServiceProvider(id=nsp["id"], state="Enabled", fetch_result=True)
        check(r["networkserviceprovider"]["state"] == "Enabled", r)
        c.updatePhysicalNetwork(id=st["pn"], state="Enabled", fetch_result=True)
    step("enable the virtual router provider and the physical network", providers)

    def pod_cluster_host():
        p = c.createPod(name="POD0", zoneid=st["zone"], gateway="172.16.15.1", netmask="255.255.255.0",
                        startip="172.16.15.2", endip="172.16.15.200")["pod"]
        cl = c.addCluster(clustername="C0", clustertype="CloudManaged", hypervisor="Simulator", podid=p["id"],
                          zoneid=st["zone"])["cluster"][0]
        h = c.addHost(zoneid=st["zone"], podid=p["id"], clusterid=cl["id"], hypervisor="Simulator",
                      url="http://sim/c0/h0", username="root", password="password")["host"][0]
        check(h["state"] == "Up", h)
        st.update(pod=p["id"], cluster=cl["id"])
        return "host %s Up" % h["name"]
    step("createPod + addCluster + addHost (simulator)", pod_cluster_host)

    def storage():
        ps = c.createStoragePool(name="PS0", zoneid=st["zone"], podid=st["pod"], clusterid=st["cluster"],
                                 url="sharedmountpoint:///export/home/sandbox/primary0")["storagepool"]
        check(ps["state"] == "Up" and ps["disksizetotal"] > 0, ps)
        ss = c.addImageStore(provider="NFS", name="SS0", url="file://" + sec, zoneid=st["zone"])["imagestore"]
        check(ss["zoneid"] == st["zone"], ss)
        return "%d GiB primary" % (ps["disksizetotal"] >> 30)
    step("createStoragePool + addImageStore", storage)

    def enable():
        z = c.updateZone(id=st["zone"], allocationstate="Enabled")["zone"]
        check(z["allocationstate"] == "Enabled", z)
        listed = c.listZones(id=st["zone"], available=True)["zone"]
        check(listed and listed[0]["allocationstate"] == "Enabled", listed)
    step("updateZone allocationstate=Enabled", enable)

    shutil.rmtree(sec, ignore_errors=True)
    passed = sum(RESULTS)
    print("%d passed, %d failed" % (passed, len(RESULTS) - passed))
    sys.exit(0 if passed == len(RESULTS) else 1)


if __name__ == "__main__":
    main()
