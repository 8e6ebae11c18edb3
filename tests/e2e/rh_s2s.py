"""Site-to-site VPN between two VPCs on real hosts (called by real_hosts.py with its helpers):
a second VPC (10.80.0.0/16, one tier, a VM on the other host) gets a VPN gateway, each VPC a
customer gateway naming the other's gateway address and subnets, the branch's connection
passive and the headquarters' initiating. Both VPC routers run strongSwan (userspace ESP in
UDP over the public network); app1 (10.70.2.x) then reaches the branch VM by its private
address — nothing routes 10.80.0.0/16 on the public side — and both connections report
Connected. Deleting the connection closes the way again."""

import time

KEY = "rh-s2s-Pre-Shared-Key"


def steps(x):
    api, st, check, wait_for = x.api, x.st, x.check, x.wait_for

    def site_to_site():
        vpc, web, app, w, p = st["vpc"]
        # States are read from the routers every router.check.interval seconds.
        api.updateConfiguration(name="router.check.interval", value="2")
        off = api.listVPCOfferings(isdefault="true")["vpcoffering"][0]["id"]
        branch = api.createVPC(name="rhbranch", displaytext="rhbranch", cidr="10.80.0.0/16", vpcofferingid=off,
                               zoneid=st["zone"], networkdomain="branch.vpc")["vpc"]
        toff = api.listNetworkOfferings(name="DefaultIsolatedNetworkOfferingForVpcNetworks")["networkoffering"][0]
        allow = api.listNetworkACLLists(name="default_allow")["networkacllist"][0]["id"]
        tier = api.createNetwork(zoneid=st["zone"], networkofferingid=toff["id"], name="branch-web",
                                 displaytext="branch-web", vpcid=branch["id"], gateway="10.80.1.1",
                                 netmask="255.255.255.0", aclid=allow)["network"]
        b, _, _ = x.deploy("branch1", 2, networkids=tier["id"])
        b_ip = b["nic"][0]["ipaddress"]
        conns = []
        try:
            c = x.console(p["id"])
            try:
                rc, out = c.run("ping -c 1 -W 2 %s" % b_ip)
                check(rc != 0, "no way to the branch before the VPN: %r" % out)
            finally:
                c.close()
            hq_gw = api.createVpnGateway(vpcid=vpc["id"])["vpngateway"]
            br_gw = api.createVpnGateway(vpcid=branch["id"])["vpngateway"]
            pol = dict(ipsecpsk=KEY, ikepolicy="aes256-sha256;modp2048", esppolicy="aes256-sha256", dpd="true",
                       ikeversion="ikev2")
            to_branch = api.createVpnCustomerGateway(name="to-branch", gateway=br_gw["publicip"],
                                                     cidrlist="10.80.0.0/16", **pol)["vpncustomergateway"]
            to_hq = api.createVpnCustomerGateway(name="to-hq", gateway=hq_gw["publicip"],
                                                 cidrlist="10.70.0.0/16", **pol)["vpncustomergateway"]
            t0 = time.monotonic()
            # The branch waits for the headquarters to connect.
            k_br = api.createVpnConnection(s2svpngatewayid=br_gw["id"], s2scustomergatewayid=to_hq["id"],
                                           passive="true")["vpnconnection"]
            conns.append(k_br)
            k_hq = api.createVpnConnection(s2svpngatewayid=hq_gw["id"],
                                           s2scustomergatewayid=to_branch["id"])["vpnconnection"]
            conns.append(k_hq)
            x.times["createVpnConnection (both sides) -> tunnel up (API jobs)"] = time.monotonic() - t0
            check(k_hq["state"] == "Connected", "the initiator's job answers Connected: %s" % k_hq)
            wait_for("the passive side reports Connected", lambda: api.listVpnConnections(id=k_br["id"])[
                "vpnconnection"][0]["state"] == "Connected", 60, 0.5)
            c = x.console(p["id"])
            try:
                t1 = time.monotonic()
                rc, out = c.run("ping -c 3 -W 3 %s" % b_ip)
                check(rc == 0, "app1 reaches the branch VM %s through the tunnel: %r" % (b_ip, out))
                x.times["ping across the site-to-site tunnel (3 packets)"] = time.monotonic() - t1
                cb = x.console(b["id"])
                try:
                    rc, out = cb.run("httpd -p 8088 -h /www && echo LISTEN-$((2+2))")
                    check(rc == 0 and "LISTEN-4" in out, "a listener on branch1: %r" % out)
                finally:
                    cb.close()
                rc, out = c.run("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 %s 8088" % b_ip)
                check(rc == 0 and "branch1" in out, "TCP through the tunnel: %r" % out)
                api.deleteVpnConnection(id=k_hq["id"])
                conns.remove(k_hq)
                # The branch's side notices the peer gone (DPD or the closing exchange).
                rc, out = c.run("ping -c 1 -W 2 %s" % b_ip)
                check(rc != 0, "the connection deleted, the way is closed: %r" % out)
            finally:
                c.close()
            return "app1 -> branch1 %s through strongSwan between the two VPC routers (%s <-> %s); closed " \
                "after deleteVpnConnection" % (b_ip, hq_gw["publicip"], br_gw["publicip"])
        finally:
            for k in conns:
                api.deleteVpnConnection(id=k["id"])
            for cg in api.listVpnCustomerGateways().get("vpncustomergateway", []):
                api.deleteVpnCustomerGateway(id=cg["id"])
            for g in api.listVpnGateways().get("vpngateway", []):
                api.deleteVpnGateway(id=g["id"])
            api.destroyVirtualMachine(id=b["id"], expunge="true")
            api.deleteNetwork(id=tier["id"])
            api.deleteVPC(id=branch["id"])
            api.updateConfiguration(name="router.check.interval", value="30")

    x.step("site-to-site VPN between two VPCs: strongSwan on both VPC routers; a VM of one reaches a VM of "
           "the other by its private address", site_to_site)
