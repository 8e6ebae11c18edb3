#!/usr/bin/env python3
"""Networking through the real `cs` client against `canopy up`: a security group with
ingress and egress rules on a deployed VM (shared network with security groups); public IPs
with static NAT, port forwarding and firewall rules; a load balancer with two VMs and a
stickiness policy; a static route with a metric. Each is checked in the list commands and in
the compiled configuration the host was given (getHostNetworkConfiguration), and the time from
a rule change at the API to the generation acknowledged by the (simulated) agent is printed.
Last line: "N passed, N failed".

    python3 network_cs.py --url http://127.0.0.1:8080/client/api --admin-json DIR/admin.json --cs-bin cs
"""
import argparse
import json
import os
import subprocess
import sys
import time
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
    ap.add_argument("--cs-bin", default="cs")
    a = ap.parse_args()
    creds = json.load(open(a.admin_json))
    admin = CloudStack(endpoint=a.url, key=creds["apikey"], secret=creds["secretkey"], poll_interval=0.1, job_timeout=60)
    admin_post = CloudStack(endpoint=a.url, key=creds["apikey"], secret=creds["secretkey"], method="post",
                            poll_interval=0.1, job_timeout=60)
    tag = uuid.uuid4().hex[:6]
    st = {}

    def setup():
        z = admin.listZones(name="zone1")["zone"][0]
        st["zone"] = z["id"]
        so = admin.listServiceOfferings()["serviceoffering"]
        st["offering"] = sorted(so, key=lambda o: o["memory"])[0]["id"]
        t = [x for x in admin.listTemplates(templatefilter="executable", zoneid=z["id"])["template"] if x["isready"]]
        check(t, "no ready template")
        st["template"] = t[0]["id"]
        acct = admin_post.createAccount(accounttype=0, username="net-" + tag, password="pw-" + tag,
                                        email="net@example.org", firstname="Net", lastname="User",
                                        account="net-" + tag)["account"]
        k = admin.registerUserKeys(id=acct["user"][0]["id"])["userkeys"]
        st["keys"] = k
        st["user"] = CloudStack(endpoint=a.url, key=k["apikey"], secret=k["secretkey"], poll_interval=0.1,
                                job_timeout=60)
        return "zone %s, account net-%s" % (z["name"], tag)
    step("setup: zone, offering, template, a user account", setup)
    u = st.get("user")
    if u is None:
        print("0 passed, %d failed" % len(RESULTS))
        sys.exit(1)

    def deploy(name, **kw):
        return u.deployVirtualMachine(zoneid=st["zone"], serviceofferingid=st["offering"],
                                      templateid=st["template"], name=name, fetch_result=True, **kw)["virtualmachine"]

    def host_config(**kw):
        return admin.getHostNetworkConfiguration(**kw)["hostnetworkconfiguration"]

    # --- security groups on a shared network ---------------------------------------------
    def shared_network():
        off = admin.listNetworkOfferings(name="DefaultSharedNetworkOfferingWithSGService")["networkoffering"][0]
        n = admin.createNetwork(name="shared-" + tag, displaytext="shared with SG", zoneid=st["zone"],
                                networkofferingid=off["id"], gateway="10.60.0.1", netmask="255.255.255.0",
                                startip="10.60.0.10", endip="10.60.0.200", vlan="vxlan://3100")["network"]
        check(n["state"] == "Setup" and n["type"] == "Shared", n)
        st["shared"] = n["id"]
        return n["id"]
    step("createNetwork (shared, security groups)", shared_network)

    def security_group():
        g = u.createSecurityGroup(name="web-" + tag, description="web")["securitygroup"]
        r = u.authorizeSecurityGroupIngress(securitygroupid=g["id"], protocol="TCP", startport=22, endport=22,
                                            cidrlist="0.0.0.0/0", fetch_result=True)["securitygroup"]
        check(r["ingressrule"][0]["startport"] == 22, r)
        r = u.authorizeSecurityGroupEgress(securitygroupid=g["id"], protocol="tcp", startport=443, endport=443,
                                           cidrlist="0.0.0.0/0", fetch_result=True)["securitygroup"]
        check(r["egressrule"][0]["startport"] == 443, r)
        vm = deploy("sg-" + tag, networkids=st["shared"], securitygroupnames="web-" + tag)
        check(vm["securitygroup"][0]["name"] == "web-" + tag, vm)
        listed = u.listSecurityGroups(securitygroupname="web-" + tag)["securitygroup"][0]
        check(listed["virtualmachinecount"] == 1 and len(listed["ingressrule"]) == 1 and len(listed["egressrule"]) == 1,
              listed)
        host = admin.listVirtualMachines(id=vm["id"], listall=True)["virtualmachine"][0]["hostid"]
        cfg = host_config(hostid=host)
        nft = cfg["security"] or ""
        check("tcp dport 22 accept" in nft and "tcp dport 443 return" in nft, nft)
        check(("ip saddr != %s drop" % vm["nic"][0]["ipaddress"]) in nft, "anti-spoofing missing")
        check(cfg["pushed"] and cfg["acknowledged"] == cfg["generation"], cfg)
        st["sg_vm"] = vm["id"]
        return "VM %s in web-%s; the host's ruleset has the rules (generation %d)" % (
            vm["nic"][0]["ipaddress"], tag, cfg["generation"])
    step("security group with ingress and egress rules on a deployed VM", security_group)

    # --- isolated network: NAT, firewall, LB, route --------------------------------------
    def isolated_vms():
        v1 = deploy("web1-" + tag)
        v2 = deploy("web2-" + tag)
        st["vms"] = (v1, v2)
        st["net"] = v1["nic"][0]["networkid"]
        n = u.listNetworks(id=st["net"])["network"][0]
        check(n["state"] == "Implemented", n)
        r = admin.listRouters(networkid=st["net"], listall=True)["router"][0]
        check(r["state"] == "Running" and r["publicip"], r)
        st["router"] = r["id"]
        return "router %s on %s, source NAT %s" % (r["name"], r["hostname"], r["publicip"])
    step("two VMs on the account's isolated network (implemented, router Running)", isolated_vms)

    def acquire():
        return u.associateIpAddress(networkid=st["net"], fetch_result=True)["ipaddress"]

    def static_nat_and_firewall():
        v1, _ = st["vms"]
        ip = acquire()
        u.enableStaticNat(ipaddressid=ip["id"], virtualmachineid=v1["id"])
        t0 = time.monotonic()
        fw = u.createFirewallRule(ipaddressid=ip["id"], protocol="tcp", startport=22, endport=22,
                                  cidrlist="198.51.100.0/24", fetch_result=True)["firewallrule"]
        st["rule_ms"] = (time.monotonic() - t0) * 1000
        check(fw["state"] == "Active", fw)
        listed = u.listPublicIpAddresses(id=ip["id"])["publicipaddress"][0]
        check(listed["isstaticnat"] and listed["virtualmachineid"] == v1["id"], listed)
        check(u.listFirewallRules(ipaddressid=ip["id"])["firewallrule"][0]["id"] == fw["id"], "firewall not listed")
        cfg = host_config(routerid=st["router"])
        nft = cfg["routers"][0]["nftables"]
        check(("ip daddr %s dnat to %s" % (ip["ipaddress"], v1["nic"][0]["ipaddress"])) in nft, nft)
        check("ip saddr 198.51.100.0/24" in nft, nft)
        check(cfg["pushed"] and cfg["acknowledged"] == cfg["generation"], cfg)
        return "%s -> %s; firewall rule to acknowledged generation in %.0f ms" % (
            ip["ipaddress"], v1["nic"][0]["ipaddress"], st["rule_ms"])
    step("public IP with static NAT and a firewall rule", static_nat_and_firewall)

    def port_forwarding():
        _, v2 = st["vms"]
        ip = acquire()
        pf = u.createPortForwardingRule(ipaddressid=ip["id"], protocol="TCP", publicport=2222, privateport=22,
                                        virtualmachineid=v2["id"], openfirewall=True, fetch_result=True)
        pf = pf["portforwardingrule"]
        check(pf["state"] == "Active" and pf["publicport"] == "2222", pf)
        listed = u.listPortForwardingRules(ipaddressid=ip["id"])["portforwardingrule"]
        check(len(listed) == 1 and listed[0]["virtualmachineid"] == v2["id"], listed)
        check(len(u.listFirewallRules(ipaddressid=ip["id"])["firewallrule"]) == 1, "openfirewall rule missing")
        nft = host_config(routerid=st["router"])["routers"][0]["nftables"]
        want = "ip daddr %s tcp dport 2222 dnat to %s:22" % (ip["ipaddress"], v2["nic"][0]["ipaddress"])
        check(want in nft, nft)
        return "%s:2222 -> %s:22" % (ip["ipaddress"], v2["nic"][0]["ipaddress"])
    step("port forwarding (with its firewall rule)", port_forwarding)

    def load_balancer():
        v1, v2 = st["vms"]
        ip = acquire()
        lb = u.createLoadBalancerRule(publicipid=ip["id"], name="lb-" + tag, algorithm="roundrobin",
                                      publicport=80, privateport=8080, fetch_result=True)["loadbalancer"]
        u.assignToLoadBalancerRule(id=lb["id"], virtualmachineids="%s,%s" % (v1["id"], v2["id"]), fetch_result=True)
        sp = u.createLBStickinessPolicy(lbruleid=lb["id"], methodname="LbCookie", name="sticky",
                                        param=[{"name": "cookie-name", "value": "SRV"}], fetch_result=True)
        check(sp["stickinesspolicies"]["stickinesspolicy"][0]["methodname"] == "LbCookie", sp)
        members = u.listLoadBalancerRuleInstances(id=lb["id"])["loadbalancerruleinstance"]
        check(len(members) == 2, members)
        check(u.listLoadBalancerRules(id=lb["id"])["loadbalancerrule"][0]["state"] == "Active", "LB not Active")
        pols = u.listLBStickinessPolicies(lbruleid=lb["id"])["stickinesspolicies"][0]["stickinesspolicy"]
        check(pols and pols[0]["name"] == "sticky", pols)
        ha = host_config(routerid=st["router"])["routers"][0]["haproxy_cfg"] or ""
        for v in (v1, v2):
            check(("%s:8080" % v["nic"][0]["ipaddress"]) in ha, ha)
        check("cookie SRV insert" in ha and ("bind %s:80" % ip["ipaddress"]) in ha, ha)
        return "%s:80 -> 2 VMs, LbCookie" % ip["ipaddress"]
    step("load balancer with two VMs and a stickiness policy", load_balancer)

    def static_route():
        r = u.createStaticRoute(networkid=st["net"], cidr="172.31.0.0/16", nexthop="10.1.0.254", metric=20,
                                fetch_result=True)["staticroute"]
        check(r["metric"] == 20 and r["state"] == "Active", r)
        check(len(u.listStaticRoutes(networkid=st["net"])["staticroute"]) == 1, "route not listed")
        routes = host_config(routerid=st["router"])["routers"][0]["routes"]
        check(any(x["destination"] == "172.31.0.0/16" and x["metric"] == 20 and x["via"] == "10.1.0.254"
                  for x in routes), routes)
        return "172.31.0.0/16 via 10.1.0.254 metric 20"
    step("static route with a metric", static_route)

    def cli():
        env = dict(os.environ, CLOUDSTACK_ENDPOINT=a.url, CLOUDSTACK_KEY=st["keys"]["apikey"],
                   CLOUDSTACK_SECRET=st["keys"]["secretkey"])
        p = subprocess.run([a.cs_bin, "listPortForwardingRules"], env=env, capture_output=True, text=True, timeout=60)
        check(p.returncode == 0, p.stderr)
        out = json.loads(p.stdout)
        check(out["count"] == 1, out)
        return "cs CLI ok"
    step("cs CLI listPortForwardingRules as the user", cli)

    def cleanup():
        ids = [v["id"] for v in st.get("vms", ())] + ([st["sg_vm"]] if "sg_vm" in st else [])
        for i in ids:
            admin.destroyVirtualMachine(id=i, expunge=True, fetch_result=True)
        return "%d VMs expunged" % len(ids)
    step("expunge the VMs", cleanup)

    passed = sum(RESULTS)
    print("%d passed, %d failed" % (passed, len(RESULTS) - passed))
    sys.exit(0 if passed == len(RESULTS) else 1)


if __name__ == "__main__":
    main()
