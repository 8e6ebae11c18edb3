#!/usr/bin/env python3
"""Identity end-to-end with the real `cs` client (PyPI cs 5.2.0), Python API and CLI,
against a running Canopy (the README's run command).

    python3 identity_cs.py --url http://127.0.0.1:8080/client/api --admin-json DIR/admin.json

Steps: list domains; create a domain, an account and a second user; register keys for that
user; as that user see only its own account; a wrong secret gets a 401 envelope; an expired
signatureVersion=3 request gets 401; listApis lists every implemented command with complete
params; SSH key pairs are created (the private key is OpenSSH-readable), registered, listed
and deleted; resource limits are listed and updated; a template is tagged and untagged; an async delete runs through job polling; POST works like GET.
Last line: "N passed, N failed"; exit status 1 if anything failed.
"""
import argparse
import json
import os
import subprocess
import sys
import traceback
import uuid

from cs import CloudStack, CloudStackApiException

RESULTS = []


def step(name, fn):
    try:
        out = fn()
        RESULTS.append((name, True, ""))
        print("PASS  %s%s" % (name, (" -- " + str(out)) if out else ""), flush=True)
        return out
    except Exception as e:  # noqa: BLE001
        RESULTS.append((name, False, str(e)))
        print("FAIL  %s -- %s: %s" % (name, type(e).__name__, e), flush=True)
        traceback.print_exc(limit=3)
        return None


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def expect_error(fn, status):
    try:
        fn()
    except CloudStackApiException as e:
        check(e.response.status_code == status, "expected HTTP %s, got %s" % (status, e.response.status_code))
        check(isinstance(e.error, dict) and e.error.get("errorcode") == status, "envelope errorcode: %r" % e.error)
        check(e.error.get("errortext"), "no errortext: %r" % e.error)
        return e.error["errortext"]
    raise AssertionError("expected an error with HTTP %s" % status)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--admin-json", required=True)
    ap.add_argument("--cs-bin", default=os.path.join(os.path.dirname(sys.executable), "cs"))
    a = ap.parse_args()
    creds = json.load(open(a.admin_json))
    admin = CloudStack(endpoint=a.url, key=creds["apikey"], secret=creds["secretkey"], poll_interval=0.2, job_timeout=60)
    admin_post = CloudStack(endpoint=a.url, key=creds["apikey"], secret=creds["secretkey"], method="post", poll_interval=0.2, job_timeout=60)
    tag = uuid.uuid4().hex[:6]
    st = {}

    def list_domains():
        r = admin.listDomains(listall=True)
        check(r["count"] == len(r["domain"]) and any(d["path"] == "ROOT" for d in r["domain"]), r)
        return "%d domains" % r["count"]
    step("listDomains", list_domains)

    def create_domain():
        d = admin.createDomain(name="e2e-" + tag)["domain"]
        check(d["path"] == "ROOT/e2e-" + tag, d)
        st["domain"] = d
        return d["id"]
    step("createDomain", create_domain)

    def create_account():
        acct = admin_post.createAccount(username="alice-" + tag, password="secret pw", email="a@example.org",
                                        firstname="Alice", lastname="E2E", domainid=st["domain"]["id"])["account"]
        check(acct["name"] == "alice-" + tag and acct["accounttype"] == 0 and acct["state"] == "enabled", acct)
        check(acct["domainid"] == st["domain"]["id"] and len(acct["user"]) == 1, acct)
        st["account"] = acct
        # A second account in the same domain, which alice must never see.
        admin.createAccount(username="bob-" + tag, password="pw", email="b@example.org", firstname="Bob",
                            lastname="E2E", domainid=st["domain"]["id"])
        return acct["id"]
    step("createAccount (POST)", create_account)

    def create_user():
        u = admin.createUser(account="alice-" + tag, domainid=st["domain"]["id"], username="alice2-" + tag,
                             password="pw2", email="a2@example.org", firstname="Alice", lastname="Two")["user"]
        check(u["accountid"] == st["account"]["id"], u)
        st["user"] = u
        return u["id"]
    step("createUser", create_user)

    def register_keys():
        k = admin.registerUserKeys(id=st["user"]["id"])["userkeys"]
        check(len(k["apikey"]) > 40 and len(k["secretkey"]) > 40, k)
        st["keys"] = k
        return "apikey %s…" % k["apikey"][:8]
    step("registerUserKeys", register_keys)

    def as_user():
        k = st["keys"]
        user = CloudStack(endpoint=a.url, key=k["apikey"], secret=k["secretkey"])
        accts = user.listAccounts(listall=True)
        check([x["id"] for x in accts["account"]] == [st["account"]["id"]], "user sees %r" % accts)
        users = user.listUsers(listall=True)
        check(sorted(x["username"] for x in users["user"]) == sorted(["alice-" + tag, "alice2-" + tag]), users)
        text = expect_error(lambda: user.listDomains(), 401)
        check("not available for user" in text, text)
        expect_error(lambda: user.listUsers(domainid=st["domain"]["id"], account="bob-" + tag), 531)
        # listAccounts has no `account` parameter (it is ignored); asking by name finds nothing.
        check(user.listAccounts(name="bob-" + tag) == {}, "user can see bob by name")
        return "sees only its own account"
    step("as the new user: only its own account", as_user)

    def cli_as_user():
        k = st["keys"]
        env = dict(os.environ, CLOUDSTACK_ENDPOINT=a.url, CLOUDSTACK_KEY=k["apikey"], CLOUDSTACK_SECRET=k["secretkey"])
        p = subprocess.run([a.cs_bin, "listAccounts", "listall=true"], env=env, capture_output=True, text=True, timeout=60)
        check(p.returncode == 0, p.stderr)
        out = json.loads(p.stdout)
        check(out["count"] == 1 and out["account"][0]["name"] == "alice-" + tag, out)
        return "cs CLI ok"
    step("cs CLI listAccounts as the user", cli_as_user)

    def ssh_keypairs():
        k = st["keys"]
        user = CloudStack(endpoint=a.url, key=k["apikey"], secret=k["secretkey"])
        kp = user.createSSHKeyPair(name="laptop")["keypair"]
        check(kp["privatekey"].startswith("-----BEGIN RSA PRIVATE KEY-----") and len(kp["fingerprint"]) == 47, kp)
        err = expect_error(lambda: user.createSSHKeyPair(name="laptop"), 431)
        check("already exists" in err, err)
        # The private key handed out is a real OpenSSH-readable key; register its public half
        # under another account (the same key twice in one account is refused).
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "id")
            with open(path, "w") as f:
                f.write(kp["privatekey"])
            os.chmod(path, 0o600)
            pub = subprocess.run(["ssh-keygen", "-y", "-f", path], capture_output=True, text=True, timeout=30)
            check(pub.returncode == 0, pub.stderr)
        err = expect_error(lambda: user.registerSSHKeyPair(name="again", publickey=pub.stdout.strip()), 431)
        check("already exists for this account" in err, err)
        reg = admin.registerSSHKeyPair(name="from-alice-" + tag, publickey=pub.stdout.strip())["keypair"]
        check(reg["fingerprint"] == kp["fingerprint"], (reg, kp))
        mine = user.listSSHKeyPairs()
        check(mine["count"] == 1 and mine["sshkeypair"][0]["name"] == "laptop" and "privatekey" not in mine["sshkeypair"][0], mine)
        check(user.deleteSSHKeyPair(name="laptop").get("success") is True, "delete")
        check(user.listSSHKeyPairs() == {}, "still listed")
        check(admin.deleteSSHKeyPair(name="from-alice-" + tag).get("success") is True, "admin delete")
        return "fingerprint %s" % kp["fingerprint"]
    step("SSH key pairs: create, register, list, delete", ssh_keypairs)

    def resource_limits():
        k = st["keys"]
        user = CloudStack(endpoint=a.url, key=k["apikey"], secret=k["secretkey"])
        mine = user.listResourceLimits()
        check(mine["count"] == 12 and {x["resourcetypename"] for x in mine["resourcelimit"]} >= {"user_vm", "cpu", "memory"}, mine)
        r = admin.updateResourceLimit(resourcetype=8, max=4, account=st["account"]["name"], domainid=st["domain"]["id"])["resourcelimit"]
        check(r["max"] == 4 and r["resourcetype"] == "8", r)
        cpu = user.listResourceLimits(resourcetypename="cpu")["resourcelimit"]
        check([x["max"] for x in cpu] == [4], cpu)
        expect_error(lambda: user.updateResourceLimit(resourcetype=8, max=100), 401)
        return "cpu limit 4"
    step("resource limits: list as user, update as admin", resource_limits)

    def resource_tags():
        tpl = admin.listTemplates(templatefilter="all")["template"][0]
        r = admin.createTags(resourceids=tpl["id"], resourcetype="Template",
                             tags=[{"key": "e2e-" + tag, "value": "yes"}], fetch_result=True)
        check(r.get("success") is True, r)
        found = admin.listTags(resourceid=tpl["id"], key="e2e-" + tag, listall=True)
        check(found["count"] == 1 and found["tag"][0]["value"] == "yes", found)
        again = admin.listTemplates(templatefilter="all", id=tpl["id"])["template"][0]
        check(any(t["key"] == "e2e-" + tag for t in again["tags"]), again)
        r = admin.deleteTags(resourceids=tpl["id"], resourcetype="Template",
                             tags=[{"key": "e2e-" + tag}], fetch_result=True)
        check(r.get("success") is True, r)
        check(admin.listTags(resourceid=tpl["id"], key="e2e-" + tag, listall=True) == {}, "tag left")
        return "tagged %s" % tpl["name"]
    step("resource tags on a template (async jobs)", resource_tags)

    def wrong_secret():
        bad = CloudStack(endpoint=a.url, key=creds["apikey"], secret=creds["secretkey"] + "x")
        text = expect_error(lambda: bad.listAccounts(), 401)
        check(text == "unable to verify user credentials and/or request signature", text)
        return text
    step("wrong secret -> 401 envelope", wrong_secret)

    def expired():
        return expect_error(lambda: admin.listZones(signatureVersion="3", expires="2001-01-01T00:00:00+0000"), 401)
    step("expired signatureVersion=3 -> 401", expired)

    def list_apis():
        apis = admin.listApis(listall=True)["api"]
        names = {x["name"] for x in apis}
        for n in ["createDomain", "listDomains", "createAccount", "listAccounts", "createUser", "listUsers",
                  "registerUserKeys", "getUserKeys", "queryAsyncJobResult", "listAsyncJobs", "listEvents",
                  "listConfigurations", "updateConfiguration", "listCapabilities", "listApis", "deleteAccount",
                  "deleteDomain", "listRoles", "login", "logout"]:
            check(n in names, "%s missing from listApis" % n)
        for x in apis:
            for k, t in (("name", str), ("description", str), ("isasync", bool), ("params", list), ("response", list)):
                check(isinstance(x.get(k), t), "%s.%s" % (x.get("name"), k))
            for p in x["params"]:
                for k, t in (("name", str), ("description", str), ("type", str), ("required", bool), ("length", int)):
                    check(isinstance(p.get(k), t), "%s param %r lacks %s" % (x["name"], p, k))
        return "%d apis" % len(apis)
    step("listApis complete", list_apis)

    def async_delete():
        r = admin.deleteAccount(id=st["account"]["id"], fetch_result=True)
        check(r.get("success") is True, r)
        left = admin.listAccounts(listall=True, domainid=st["domain"]["id"], isrecursive=True)
        check([x["name"] for x in left.get("account", [])] == ["bob-" + tag], left)
        r = admin.deleteDomain(id=st["domain"]["id"], cleanup=True, fetch_result=True)
        check(r.get("success") is True, r)
        return "deleted via jobs"
    step("deleteAccount / deleteDomain jobs", async_delete)

    def events():
        ev = admin.listEvents(type="ACCOUNT.CREATE", keyword="alice-" + tag)
        check(ev.get("count", 0) >= 1, ev)
        return "%d events" % ev["count"]
    step("listEvents records the changes", events)

    passed = sum(1 for r in RESULTS if r[1])
    failed = len(RESULTS) - passed
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
