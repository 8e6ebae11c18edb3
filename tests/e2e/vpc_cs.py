#!/usr/bin/env python3
"""VPCs through the real `cs` client against `canopy up`: a VPC with a tier and a network ACL
list, two VMs on the tier, then the Kubernetes cloud controller's call sequence for a Service
of type LoadBalancer on a VPC tier (apache/cloudstack-kubernetes-provider: listLoadBalancerRules
by keyword → listNetworks → associateIpAddress vpcid → createLoadBalancerRule networkid=tier
openfirewall=false → assignToLoadBalancerRule → listNetworkACLLists / listNetworkACLs →
createNetworkACL), checked in the list commands and in what the VPC router's host was given
(getHostNetworkConfiguration); then the controller's clean-up. Last line: "N passed, N failed".

    python3 vpc_cs.py --url http://127.0.0.1:8080/client/api --admin-json DIR/admin.json
"""
import argparse
import json
import sys
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
    admin = CloudStack(endpoint=a.url, key=creds["apikey"], secret=creds["secretkey"], poll_interval=0.1,
                       job_timeout=60)
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
        acct = admin.createAccount(accounttype=0, username="k8s-" + tag, password="pw-" + tag,
                                   email="k8s@example.org", firstname="K", lastname="S",
                                   account="k8s-" + tag)["account"]
        k = admin.registerUserKeys(id=acct["user"][0]["id"])["userkeys"]
        st["u"] = CloudStack(endpoint=a.url, key=k["apikey"], secret=k["secretkey"], poll_interval=0.1,
                             job_timeout=60)
        return "zone %s, account k8s-%s" % (z["name"], tag)
    step("setup: zone, offering, template, a user account", setup)
    u = st.get("u")
    if u is None:
        print("0 passed, %d failed" % len(RESULTS))
        sys.exit(1)

    def vpc_and_tier():
        off = u.listVPCOfferings(isdefault="true")["vpcoffering"][0]
        vpc = u.createVPC(name="k8s-" + tag, displaytext="k8s", cidr="10.95.0.0/16", vpcofferingid=off["id"],
                          zoneid=st["zone"], networkdomain="k8s.internal", fetch_result=True)["vpc"]
        acl = u.createNetworkACLList(name="nodes-" + tag, vpcid=vpc["id"], fetch_result=True)["networkacllist"]
        toff = u.listNetworkOfferings(name="DefaultIsolatedNetworkOfferingForVpcNetworks")["networkoffering"][0]
        tier = u.createNetwork(name="nodes", displaytext="nodes", networkofferingid=toff["id"],
                               zoneid=st["zone"], vpcid=vpc["id"], gateway="10.95.1.1", netmask="255.255.255.0",
                               aclid=acl["id"])["network"]
        check(tier["vpcid"] == vpc["id"] and tier["aclid"] == acl["id"], tier)
        vms = [u.deployVirtualMachine(zoneid=st["zone"], serviceofferingid=st["offering"], templateid=st["template"],
                                      name="node%d-%s" % (i, tag), networkids=tier["id"],
                                      fetch_result=True)["virtualmachine"] for i in (1, 2)]
        st.update(vpc=vpc, acl=acl, tier=tier, vms=vms)
        routers = admin.listRouters(vpcid=vpc["id"], listall=True)["router"]
        check(len(routers) == 1 and routers[0]["state"] == "Running", routers)
        st["router"] = routers[0]
        return "VPC %s, tier %s, nodes %s" % (vpc["cidr"], tier["cidr"],
                                              ", ".join(v["nic"][0]["ipaddress"] for v in vms))
    step("a VPC with a tier guarded by its own ACL list; two VMs on the tier behind the VPC router", vpc_and_tier)

    def ccm():
        lbname = "a" + tag + "svc"
        check(not u.listLoadBalancerRules(keyword=lbname, listall=True).get("loadbalancerrule"), "no rule yet")
        net = u.listNetworks(id=st["tier"]["id"])["network"][0]
        services = [s["name"] for s in net["service"]]
        check(net.get("vpcid") and "NetworkACL" in services, net)
        ip = u.associateIpAddress(vpcid=net["vpcid"], fetch_result=True)["ipaddress"]
        rule = u.createLoadBalancerRule(algorithm="roundrobin", name="%s-tcp-80" % lbname, privateport=30080,
                                        publicport=80, networkid=net["id"], publicipid=ip["id"], protocol="tcp",
                                        openfirewall="false", cidrlist="0.0.0.0/0",
                                        fetch_result=True)["loadbalancer"]
        u.assignToLoadBalancerRule(id=rule["id"], virtualmachineids=",".join(v["id"] for v in st["vms"]),
                                   fetch_result=True)
        acl = u.listNetworkACLLists(id=net["aclid"])["networkacllist"][0]
        check(acl["name"] not in ("default_allow", "default_deny"), acl)
        u.listNetworkACLs(aclid=acl["id"], networkid=net["id"])
        item = u.createNetworkACL(protocol="tcp", aclid=acl["id"], action="Allow", cidrlist="0.0.0.0/0",
                                  startport=30080, endport=30080, networkid=net["id"], traffictype="Ingress",
                                  fetch_result=True)["networkacl"]
        found = u.listLoadBalancerRules(keyword=lbname, listall=True)["loadbalancerrule"]
        check(len(found) == 1 and found[0]["publicip"] == ip["ipaddress"], found)
        members = u.listLoadBalancerRuleInstances(id=rule["id"])["loadbalancerruleinstance"]
        check(len(members) == 2, members)
        cfg = admin.getHostNetworkConfiguration(routerid=st["router"]["id"])["hostnetworkconfiguration"]
        r = cfg["routers"][0]
        check("bind %s:80" % ip["ipaddress"] in (r.get("haproxy_cfg") or ""), r.get("haproxy_cfg"))
        check("tcp dport 30080 accept" in r["nftables"], "the ACL item is on the router")
        check(cfg["pushed"] and cfg["acknowledged"] == cfg["generation"], cfg)
        st.update(ip=ip, rule=rule, item=item)
        return "%s:80 -> 2 nodes :30080 (rule %s), ingress 30080 allowed on %s" % (
            ip["ipaddress"], found[0]["name"], acl["name"])
    step("the Kubernetes cloud controller's LoadBalancer sequence on a VPC tier", ccm)

    def cleanup():
        u.deleteNetworkACL(id=st["item"]["id"], fetch_result=True)
        u.deleteLoadBalancerRule(id=st["rule"]["id"], fetch_result=True)
        u.disassociateIpAddress(id=st["ip"]["id"], fetch_result=True)
        for v in st["vms"]:
            admin.destroyVirtualMachine(id=v["id"], expunge="true", fetch_result=True)
        u.deleteNetwork(id=st["tier"]["id"], fetch_result=True)
        u.deleteNetworkACLList(id=st["acl"]["id"], fetch_result=True)
        u.deleteVPC(id=st["vpc"]["id"], fetch_result=True)
        check(not u.listVPCs().get("vpc"), "the VPC is gone")
        check(not admin.listRouters(vpcid=st["vpc"]["id"], listall=True).get("router"), "its router is gone")
        return "rule, address, VMs, tier, list and VPC deleted; the router went with the VPC"
    step("the controller's clean-up and the VPC's deletion", cleanup)

    ok = sum(RESULTS)
    print("%d passed, %d failed" % (ok, len(RESULTS) - ok))
    sys.exit(0 if ok == len(RESULTS) else 1)


if __name__ == "__main__":
    main()
