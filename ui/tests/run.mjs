// The web console's browser tests, against a running server (`canopy up --host simulator`):
//
//   node tests/run.mjs --base http://127.0.0.1:PORT --admin-json DATA/admin.json --shots DIR
//
// As each role — root admin, domain admin, user (two accounts) — through the UI only, except
// for creating the test accounts: log in; deploy a VM with the wizard and see it Running;
// stop and start it; open its console page; create a security group and a rule; acquire a
// public IP and add a port-forwarding rule; disable and enable a zone and put a host into
// maintenance (root admin); a user sees no infrastructure menu and no other account's VMs.
// Screenshots of the main pages go to --shots.

import { createReadStream, readFileSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { certsIpsUploads } from "./certs_ips_uploads.mjs";
import { apiSession, args, check, launch, sleep, Steps, uiLogin, watchErrors } from "./lib.mjs";

const a = args();
const base = a.base ?? "http://127.0.0.1:8080";
const creds = JSON.parse(readFileSync(a["admin-json"], "utf8"));
const steps = new Steps(a.shots ?? "test-results/screenshots");
const PASS = "Secret-pass-1";
const run = Date.now().toString(36);
const alice = `alice${run}`;
const bob = `bob${run}`;
const dadmin = `dadmin${run}`;
const domainName = `acme${run}`;

const admin = await apiSession(base, creds.username, creds.password);
// Accounts for the roles (the only setup done through the API): a domain with a domain admin
// and a user, and a user of another domain.
const dom = (await admin("createDomain", { name: domainName })).domain;
await admin("createAccount", { username: alice, password: PASS, email: "a@example.org", firstname: "Alice", lastname: "User", accounttype: 0, domainid: dom.id });
await admin("createAccount", { username: dadmin, password: PASS, email: "d@example.org", firstname: "Dom", lastname: "Admin", accounttype: 2, domainid: dom.id });
await admin("createAccount", { username: bob, password: PASS, email: "b@example.org", firstname: "Bob", lastname: "Other", accounttype: 0 });
const zone = (await admin("listZones", {})).zone[0];
// A second simulated host in the zone's cluster, so that maintenance has somewhere to move VMs.
const firstHost = (await admin("listHosts", { type: "Routing" })).host[0];
await admin("addHost", { zoneid: zone.id, podid: firstHost.podid, clusterid: firstHost.clusterid, hypervisor: "Simulator", url: `http://sim/ui-${run}` });
for (let i = 0; i < 100 && (await admin("listHosts", { type: "Routing", state: "Up" })).host.length < 2; i++) await sleep(200);

// An image server on loopback that sends --slow-image at about 4 MB/s, so that a download
// takes a few seconds and its progress can be seen in the list.
const images = createServer((req, res) => {
  if (!a["slow-image"]) return res.writeHead(404).end();
  res.writeHead(200, { "content-type": "application/octet-stream", "content-length": statSync(a["slow-image"]).size });
  const src = createReadStream(a["slow-image"], { highWaterMark: 256 * 1024 });
  src.on("data", (chunk) => {
    src.pause();
    res.write(chunk);
    setTimeout(() => src.resume(), 60);
  });
  src.on("end", () => res.end());
});
await new Promise((r) => images.listen(0, "127.0.0.1", r));
const imagesUrl = `http://127.0.0.1:${images.address().port}/slow.qcow2`;

const browser = await launch();
const errors = [];
const newPage = async (width = 1280, height = 860) => {
  const ctx = await browser.newContext({ viewport: { width, height } });
  const page = await ctx.newPage();
  watchErrors(page, errors);
  page.setDefaultTimeout(20000);
  return { ctx, page };
};

const navSections = (page) => page.$$eval("nav .nav-section", (els) => els.map((e) => e.getAttribute("data-section")));
const rowByName = (page, name) => page.locator(`tbody tr[data-name="${name}"]`);
const waitText = async (loc, re, ms = 30000) => {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    const t = (await loc.textContent().catch(() => "")) ?? "";
    if (re.test(t)) return t;
    await sleep(250);
  }
  throw new Error(`waited ${ms} ms for ${re}: ${(await loc.textContent().catch(() => "")) ?? ""}`);
};
const dialogSubmit = async (page) => {
  await page.click(".modal form button[type=submit]");
  await page.waitForSelector(".modal", { state: "detached", timeout: 60000 });
};

// ---- a user: alice -----------------------------------------------------------------------
{
  const { ctx, page } = await newPage();
  let vmId = "";
  const vmName = `web-${run}`.slice(0, 20);

  await steps.step("login page, bad password shows the API's refusal", async () => {
    await page.goto(`${base}/client/`);
    await steps.shot(page, "01-login");
    await page.fill("#username", alice);
    await page.fill("#password", "wrong");
    await page.fill("#domain", `/${domainName}`);
    await page.click("form.login button[type=submit]");
    const t = await waitText(page.locator(".login .form-error"), /credentials|531/);
    return t;
  });

  await steps.step("user logs in; no infrastructure or administration of others in the menu", async () => {
    await uiLogin(page, base, alice, PASS, `/${domainName}`);
    const s = await navSections(page);
    check(!s.includes("Infrastructure"), `sections ${s}`);
    check(!(await page.$('nav a[data-path="accounts"]')), "no accounts page for a user");
    check((await page.textContent(".who")).includes("(user)"), "role shown");
    await page.waitForSelector(".donut-card");
    await steps.shot(page, "02-dashboard-user");
    return s.join(", ");
  });

  await steps.step("create an affinity group on its page", async () => {
    await page.goto(`${base}/client/#/affinitygroups`);
    await page.click("text=+ Create affinity group");
    await page.fill(".modal input[name=name]", `spread-${run}`);
    await page.selectOption(".modal select[name=type]", "host anti-affinity");
    await dialogSubmit(page);
    const row = rowByName(page, `spread-${run}`);
    await row.waitFor();
    const cells = await row.locator("td").allTextContents();
    check(cells[1] === "host anti-affinity", cells.join(","));
    return cells.slice(0, 3).join(" | ");
  });

  await steps.step("create an instance group on its page and rename it", async () => {
    await page.goto(`${base}/client/#/instancegroups`);
    await page.click("text=+ Create instance group");
    await page.fill(".modal input[name=name]", `web-${run}`);
    await dialogSubmit(page);
    const row = rowByName(page, `web-${run}`);
    await row.waitFor();
    await row.locator("button:has-text('Rename')").click();
    await page.fill(".modal input[name=name]", `front-${run}`);
    await dialogSubmit(page);
    await rowByName(page, `front-${run}`).waitFor();
    return `web-${run} created, renamed front-${run}`;
  });

  await steps.step("a project: created on its page, chosen in the header's switcher; what is made in it stays in it", async () => {
    await page.goto(`${base}/client/#/projects`);
    await page.click("text=+ Create project");
    await page.fill(".modal input[name=name]", `team-${run}`);
    await dialogSubmit(page);
    const row = rowByName(page, `team-${run}`);
    await row.waitFor();
    const state = (await row.locator("td").allTextContents()).join(" ");
    check(state.includes("Active"), state);
    // Into the project: the switcher names it, and its instance groups are its own.
    await page.goto(`${base}/client/#/instancegroups`);
    await page.waitForSelector(`.project-switch option:has-text("team-${run}")`, { state: "attached" });
    const value = await page.$eval(".project-switch", (el, n) => [...el.options].find((o) => o.textContent.includes(n)).value, `team-${run}`);
    await Promise.all([page.waitForEvent("load"), page.selectOption(".project-switch", value)]);
    await page.waitForSelector("text=+ Create instance group");
    await page.click("text=+ Create instance group");
    await page.fill(".modal input[name=name]", `pg-${run}`);
    await dialogSubmit(page);
    await rowByName(page, `pg-${run}`).waitFor();
    check(!(await rowByName(page, `front-${run}`).count()), "the account's own group is not the project's");
    await steps.shot(page, "02b-project");
    // Back to the default view: the project's group is not listed there.
    await Promise.all([page.waitForEvent("load"), page.selectOption(".project-switch", "")]);
    await page.waitForSelector("text=+ Create instance group");
    await rowByName(page, `front-${run}`).waitFor();
    check(!(await rowByName(page, `pg-${run}`).count()), "the project's group stays in the project");
    return `team-${run}: pg-${run} made in it, not listed outside it`;
  });

  await steps.step("deploy a VM through the wizard and see it Running", async () => {
    await page.goto(`${base}/client/#/instances`);
    await page.click("text=+ Add instance");
    await page.waitForSelector(".wizard");
    // zone
    await page.check(`.choice[data-name="${zone.name}"] input`);
    await page.click("text=Next ›");
    // template
    await page.waitForSelector('.choice[data-name] input[name="image"]');
    await page.locator('input[name="image"]').first().check();
    await steps.shot(page, "03-wizard-template");
    await page.click("text=Next ›");
    // offering
    await page.waitForSelector('input[name="offering"]');
    await page.locator('input[name="offering"]').first().check();
    await page.click("text=Next ›");
    // data disk: none
    await page.waitForSelector('input[name="diskoffering"]');
    await page.click("text=Next ›");
    // networks: none chosen (the account's isolated network is created)
    await page.waitForSelector(".step-body h2:has-text('Networks')");
    await page.click("text=Next ›");
    // security groups
    await page.waitForSelector(".step-body h2:has-text('Security groups')");
    await page.click("text=Next ›");
    // key pair
    await page.waitForSelector('input[name="keypair"]');
    await page.click("text=Next ›");
    // affinity groups: the one just made
    await page.check(`.choice[data-name="spread-${run}"] input[name="affinitygroup"]`);
    await page.click("text=Next ›");
    // name
    await page.fill('input[name="vmname"]', vmName);
    await page.click("text=Next ›");
    await page.waitForSelector(".review");
    await steps.shot(page, "04-wizard-review");
    check((await page.textContent(".review")).includes(vmName), "review shows the name");
    check((await page.textContent(".review")).includes(`spread-${run}`), "review shows the affinity group");
    await page.click("text=Launch instance");
    await page.waitForURL(/#\/instance\//, { timeout: 30000 });
    vmId = page.url().split("/").pop();
    const t0 = Date.now();
    await waitText(page.locator(".detail-head h1 .badge"), /^Running$/, 60000);
    await steps.shot(page, "05-instance-detail");
    await waitText(page.locator('dd[data-key="affinitygroups"]'), new RegExp(`spread-${run} \\(host anti-affinity\\)`));
    return `Running ${((Date.now() - t0) / 1000).toFixed(1)} s after the wizard's launch`;
  });

  await steps.step("stop (with the force option offered) and start the VM", async () => {
    await page.click(".detail-head .actions button:has-text('Stop')");
    await page.waitForSelector(".modal input[name=forced]");
    await dialogSubmit(page);
    await waitText(page.locator(".detail-head h1 .badge"), /^Stopped$/, 60000);
    // While stopped, its affinity groups can change: emptied, it is in none.
    await page.click(".detail-head .actions button:has-text('Affinity groups')");
    check((await page.inputValue(".modal input[name=affinitygroupnames]")) === `spread-${run}`, "the current group is shown");
    await page.fill(".modal input[name=affinitygroupnames]", "");
    await dialogSubmit(page);
    await page.waitForSelector('dd[data-key="affinitygroups"]', { state: "detached" });
    await page.click(".detail-head .actions button:has-text('Start')");
    await waitText(page.locator(".detail-head h1 .badge"), /^Running$/, 60000);
    return "Stopped, its affinity group removed, then Running";
  });

  await steps.step("the instances list: search, state badge, sorting, paging text", async () => {
    await page.goto(`${base}/client/#/instances`);
    await rowByName(page, vmName).waitFor();
    await page.fill("input.search", vmName);
    // The search runs after a debounce: wait for the list it draws, not for a time.
    await page.waitForFunction(() => document.querySelectorAll("tbody tr[data-id]").length === 1);
    const rows = await page.locator("tbody tr[data-id]").count();
    check(rows === 1, `one row for the search, got ${rows}`);
    check((await rowByName(page, vmName).locator(".badge").textContent()) === "Running", "badge Running");
    await page.click("th:has-text('Name')");
    check((await page.textContent(".pager")).includes("1 in all"), "pager counts");
    await page.fill("input.search", "");
    await page.waitForLoadState("networkidle");
    await steps.shot(page, "06-instances");
    return `${await page.locator("tbody tr[data-id]").count()} row(s)`;
  });

  await steps.step("View console opens the noVNC page in a new tab", async () => {
    await page.goto(`${base}/client/#/instance/${vmId}`);
    await page.waitForSelector(".detail-head .actions button:has-text('Console')");
    const [tab] = await Promise.all([ctx.waitForEvent("page"), page.click(".detail-head .actions button:has-text('Console')")]);
    await tab.waitForURL(/console\.html/, { timeout: 15000 });
    // A simulated host has no display: the page must say the connection was refused (a real
    // QEMU host's console is checked by the real-hosts test, tests/e2e/real_hosts.py).
    const st = tab.locator("#console-status");
    const text = await waitText(st, /connected|failed|refused|disconnected/, 20000);
    await steps.shot(tab, "07-console-simulated-host");
    await tab.close();
    return `status: ${text}`;
  });

  await steps.step("create a security group and an ingress rule", async () => {
    await page.goto(`${base}/client/#/securitygroups`);
    await page.click("text=+ Create security group");
    await page.fill(".modal input[name=name]", "web");
    await page.fill(".modal input[name=description]", "web servers");
    await dialogSubmit(page);
    await rowByName(page, "web").waitFor();
    await rowByName(page, "web").locator("a").click();
    await page.click("text=+ Add ingress rule");
    await page.selectOption(".modal select[name=protocol]", "tcp");
    await page.fill(".modal input[name=startport]", "80");
    await page.fill(".modal input[name=endport]", "80");
    await page.selectOption(".modal select[name=source]", "cidr");
    await page.fill(".modal input[name=cidrlist]", "0.0.0.0/0");
    await dialogSubmit(page);
    await page.waitForSelector(".rules[data-kind=ingress] tr[data-rule]");
    const t = await page.textContent(".rules[data-kind=ingress] tr[data-rule]");
    check(t.includes("tcp") && t.includes("80") && t.includes("0.0.0.0/0"), t);
    // an invalid rule: the API's error text shows in the dialog
    await page.click("text=+ Add ingress rule");
    await page.selectOption(".modal select[name=protocol]", "tcp");
    await page.fill(".modal input[name=startport]", "70000");
    await page.fill(".modal input[name=endport]", "70001");
    await page.click(".modal form button[type=submit]");
    const err = await waitText(page.locator(".modal .form-error"), /\S/, 10000);
    await steps.shot(page, "08-security-group-rule-error");
    await page.click(".modal button:has-text('Cancel')");
    await steps.shot(page, "09-security-group");
    return `rule: ${t.trim()}; bad port refused: ${err}`;
  });

  await steps.step("a VPC: an ACL list whose rules are reordered, a tier guarded by it, an internal load balancer", async () => {
    await page.goto(`${base}/client/#/vpcs`);
    await page.click("text=+ Create VPC");
    await page.fill(".modal input[name=name]", "shop");
    await page.waitForSelector(".modal select[name=zoneid] option[value]:not([value=''])", { state: "attached" });
    await page.waitForSelector(".modal select[name=vpcofferingid] option[value]:not([value=''])", { state: "attached" });
    await page.fill(".modal input[name=cidr]", "10.60.0.0/16");
    await page.fill(".modal input[name=networkdomain]", "shop.vpc");
    await dialogSubmit(page);
    await rowByName(page, "shop").waitFor();
    await rowByName(page, "shop").locator("a").click();
    await page.waitForSelector(".tabs button:has-text('Network ACL lists')");
    await page.click(".tabs button:has-text('Network ACL lists')");
    await page.click("text=+ Create ACL list");
    await page.fill(".modal input[name=name]", "web-acl");
    await dialogSubmit(page);
    await rowByName(page, "web-acl").waitFor();
    await rowByName(page, "web-acl").locator("button:has-text('Rules')").click();
    for (const [port, action] of [["80", "Allow"], ["22", "Deny"]]) {
      await page.click("text=+ Add rule");
      await page.selectOption(".modal select[name=traffictype]", "Ingress");
      await page.selectOption(".modal select[name=action]", action);
      await page.selectOption(".modal select[name=protocol]", "tcp");
      await page.fill(".modal input[name=startport]", port);
      await page.fill(".modal input[name=endport]", port);
      await page.fill(".modal input[name=cidrlist]", "0.0.0.0/0");
      await dialogSubmit(page);
      await page.waitForSelector(`.acl-rules tbody tr[data-id] td[data-label=Ports]:text-is('${port}')`);
    }
    const order = async () => (await page.locator(".acl-rules tbody tr[data-id] td[data-label=Ports]").allTextContents()).join(",");
    check((await order()) === "80,22", `created in order: ${await order()}`);
    // The deny moves above the allow (moveNetworkAclItem): the list is shown in its new order.
    await page.locator(".acl-rules tbody tr[data-id]").nth(1).locator("button:has-text('↑')").click();
    await page.waitForFunction(() => [...document.querySelectorAll(".acl-rules tbody tr[data-id] td[data-label=Ports]")].map((t) => t.textContent).join(",") === "22,80");
    await steps.shot(page, "09b-vpc-acl-rules");
    await page.click(".tabs button:has-text('Tiers')");
    await page.click("text=+ Add tier");
    await page.fill(".modal input[name=name]", "web");
    await page.waitForSelector(".modal select[name=networkofferingid] option[value]:not([value=''])", { state: "attached" });
    const ilbOffering = await page.$eval(".modal select[name=networkofferingid]", (el) => [...el.options].find((o) => o.text.includes("WithInternalLB"))?.value);
    check(ilbOffering, "the internal LB tier offering is offered");
    await page.selectOption(".modal select[name=networkofferingid]", ilbOffering);
    await page.fill(".modal input[name=gateway]", "10.60.1.1");
    await page.waitForSelector(".modal select[name=aclid] option[value]:not([value=''])", { state: "attached" });
    const acl = await page.$eval(".modal select[name=aclid]", (el) => [...el.options].find((o) => o.text === "web-acl")?.value);
    check(acl, "the list is offered");
    await page.selectOption(".modal select[name=aclid]", acl);
    await dialogSubmit(page);
    await page.waitForSelector("tbody tr[data-name=web] td:has-text('web-acl')");
    await page.click(".tabs button:has-text('Internal load balancers')");
    await page.click("text=+ Create internal load balancer");
    await page.fill(".modal input[name=name]", "api");
    await page.waitForSelector(".modal select[name=networkid] option[value]:not([value=''])", { state: "attached" });
    await page.fill(".modal input[name=sourceport]", "80");
    await page.fill(".modal input[name=instanceport]", "8080");
    await dialogSubmit(page);
    const row = rowByName(page, "api");
    await row.waitFor();
    const cells = (await row.locator("td").allTextContents()).join(" | ");
    check(cells.includes("api.shop.vpc") && cells.includes("10.60.1.254") && cells.includes("80 → 8080"), cells);
    await steps.shot(page, "09c-vpc-internal-lb");
    return `rules 80,22 → 22,80 after a move; tier web on web-acl; ${cells}`;
  });

  await steps.step("acquire a public IP and add a port-forwarding rule", async () => {
    await page.goto(`${base}/client/#/publicips`);
    await page.locator("tbody tr[data-id]").first().waitFor();
    const before = await page.locator("tbody tr[data-id]").count();
    await page.click("text=+ Acquire IP");
    await page.waitForSelector(".modal select[name=networkid] option[value]:not([value=''])", { state: "attached" });
    await dialogSubmit(page);
    await page.waitForFunction((n) => document.querySelectorAll("tbody tr[data-id]").length > n, before);
    // the new (not source NAT) address
    const rows = page.locator("tbody tr[data-id]");
    let ip = "";
    for (let i = 0; i < (await rows.count()); i++) {
      const cells = await rows.nth(i).locator("td").allTextContents();
      if (cells[3] !== "yes") {
        ip = cells[0];
        await rows.nth(i).locator("a").click();
        break;
      }
    }
    check(ip, "an acquired address");
    await page.waitForSelector(".tabs button:has-text('Port forwarding')");
    await page.click(".tabs button:has-text('Port forwarding')");
    await page.click("text=+ Add port forwarding rule");
    await page.selectOption(".modal select[name=protocol]", "tcp");
    await page.fill(".modal input[name=publicport]", "2222");
    await page.fill(".modal input[name=privateport]", "22");
    await page.waitForSelector(".modal select[name=virtualmachineid] option[value]:not([value=''])", { state: "attached" });
    const opt = await page.$eval(".modal select[name=virtualmachineid]", (s, n) => [...s.options].find((o) => o.text.startsWith(n))?.value, vmName);
    check(opt, "the VM is offered");
    await page.selectOption(".modal select[name=virtualmachineid]", opt);
    await dialogSubmit(page);
    await page.waitForSelector("tbody tr[data-id] td:has-text('2222')");
    await steps.shot(page, "10-public-ip-port-forwarding");
    return `${ip}: tcp 2222 → ${vmName}:22`;
  });

  await steps.step("on that address: a firewall rule, a load balancer with a member and stickiness, a VPN", async () => {
    // still on the address's page
    await page.click(".tabs button:has-text('Firewall')");
    await page.click("text=+ Add firewall rule");
    await page.selectOption(".modal select[name=protocol]", "tcp");
    await page.fill(".modal input[name=startport]", "80");
    await page.fill(".modal input[name=endport]", "80");
    await dialogSubmit(page);
    await page.waitForSelector("tbody tr[data-id] td:has-text('0.0.0.0/0')");
    await page.click(".tabs button:has-text('Load balancing')");
    await page.click("text=+ Add load balancer");
    await page.fill(".modal input[name=name]", "web-lb");
    await page.selectOption(".modal select[name=algorithm]", "roundrobin");
    await page.fill(".modal input[name=publicport]", "80");
    await page.fill(".modal input[name=privateport]", "8080");
    await dialogSubmit(page);
    await rowByName(page, "web-lb").locator("button:has-text('Members')").click();
    await page.click(".lb-members button:has-text('+ Add member')");
    await page.waitForSelector(".modal select[name=virtualmachineids] option[value]:not([value=''])", { state: "attached" });
    const opt = await page.$eval(".modal select[name=virtualmachineids]", (s, n) => [...s.options].find((o) => o.text.startsWith(n))?.value, vmName);
    await page.selectOption(".modal select[name=virtualmachineids]", opt);
    await dialogSubmit(page);
    await page.waitForSelector(`.lb-members li:has-text("${vmName}")`);
    await page.click(".lb-members button:has-text('+ Stickiness policy')");
    await page.fill(".modal input[name=name]", "sticky");
    await page.selectOption(".modal select[name=methodname]", "SourceBased");
    await dialogSubmit(page);
    await page.waitForSelector(".lb-members li:has-text('sticky (SourceBased)')");
    await steps.shot(page, "10a-load-balancer");
    await page.click(".tabs button:has-text('VPN')");
    await page.click("button:has-text('Enable VPN')");
    await dialogSubmit(page);
    const psk = await page.locator('dd[data-key="presharedkey"]').textContent({ timeout: 15000 });
    check(psk.length >= 8, `pre-shared key ${psk}`);
    return "tcp/80 open; web-lb 80→8080 with the VM and SourceBased stickiness; VPN with a pre-shared key";
  });

  await steps.step("the network's egress rule and static route; a data volume attached and detached", async () => {
    await page.goto(`${base}/client/#/networks`);
    await page.locator("tbody tr[data-id] a").first().click();
    await page.click(".tabs button:has-text('Egress rules')");
    await page.click("text=+ Add egress rule");
    await page.selectOption(".modal select[name=protocol]", "tcp");
    await page.fill(".modal input[name=startport]", "443");
    await page.fill(".modal input[name=endport]", "443");
    await page.fill(".modal input[name=destcidrlist]", "0.0.0.0/0");
    await dialogSubmit(page);
    await page.waitForSelector("tbody tr[data-id] td:has-text('443')");
    await page.click(".tabs button:has-text('Static routes')");
    await page.click("text=+ Add static route");
    await page.fill(".modal input[name=cidr]", "172.31.0.0/16");
    await page.fill(".modal input[name=nexthop]", "10.1.0.254");
    await page.fill(".modal input[name=metric]", "20");
    await dialogSubmit(page);
    await page.waitForSelector("tbody tr[data-id] td:has-text('172.31.0.0/16')");
    await steps.shot(page, "10d-static-routes");
    // a volume: create, attach from the VM's page, detach
    await page.goto(`${base}/client/#/volumes`);
    await page.click("text=+ Create volume");
    await page.fill(".modal input[name=name]", "data1");
    await page.waitForSelector(".modal select[name=diskofferingid] option[value]:not([value=''])", { state: "attached" });
    const off = await page.$eval(".modal select[name=diskofferingid]", (s) => [...s.options].find((o) => o.value && !o.text.includes("custom"))?.value);
    await page.selectOption(".modal select[name=diskofferingid]", off);
    await dialogSubmit(page);
    await rowByName(page, "data1").waitFor();
    await page.goto(`${base}/client/#/instance/${vmId}`);
    await page.click(".detail-head .actions button:has-text('Attach volume')");
    await page.waitForSelector(".modal select[name=id] option[value]:not([value=''])", { state: "attached" });
    await dialogSubmit(page);
    await page.click(".tabs button:has-text('Volumes')");
    const vrow = rowByName(page, "data1");
    await vrow.waitFor();
    await vrow.locator("button:has-text('Detach')").click();
    await dialogSubmit(page);
    await vrow.waitFor({ state: "detached" });
    return "egress tcp/443, route 172.31.0.0/16 via 10.1.0.254 metric 20, data1 attached then detached";
  });

  await certsIpsUploads(steps, { page, base, vmId, rowByName, dialogSubmit });

  await steps.step("snapshots: a VM snapshot with memory taken, reverted and deleted; a volume snapshot from the instance page; a volume made from it", async () => {
    await page.goto(`${base}/client/#/instance/${vmId}`);
    await page.click(".tabs button:has-text('VM snapshots')");
    await page.click("text=+ Take VM snapshot");
    await page.fill(".modal input[name=name]", "before-upgrade");
    await page.check(".modal input[name=snapshotmemory]");
    await dialogSubmit(page);
    const vs = page.locator("tbody tr[data-id]:has-text('before-upgrade')");
    await vs.waitFor();
    await waitText(vs.locator(".badge").first(), /^Ready$/, 60000);
    check((await vs.textContent()).includes("DiskAndMemory"), await vs.textContent());
    await vs.locator("button:has-text('Revert')").click();
    await dialogSubmit(page);
    await page.waitForSelector(".toast-ok:has-text('Revert')");
    await vs.locator("button:has-text('Delete')").click();
    await dialogSubmit(page);
    await vs.waitFor({ state: "detached" });
    await page.click(".tabs button:has-text('Volumes')");
    const root = page.locator("tbody tr[data-id]:has-text('ROOT')");
    await root.waitFor();
    await root.locator("button:has-text('Take snapshot')").click();
    await page.fill(".modal input[name=name]", "root-snap");
    await dialogSubmit(page);
    await page.goto(`${base}/client/#/snapshots`);
    const snap = rowByName(page, "root-snap");
    await snap.waitFor();
    await waitText(snap.locator(".badge").first(), /^BackedUp$/, 60000);
    await steps.shot(page, "10e-snapshots");
    await snap.locator("button:has-text('Create volume')").click();
    await page.fill(".modal input[name=name]", "from-snap");
    await dialogSubmit(page);
    await page.goto(`${base}/client/#/volumes`);
    await rowByName(page, "from-snap").waitFor();
    return "VM snapshot before-upgrade (DiskAndMemory) reverted and deleted; root-snap BackedUp; volume from-snap made from it";
  });

  await steps.step("the jobs page lists this browser's jobs with their outcome", async () => {
    await page.goto(`${base}/client/#/jobs`);
    await page.waitForSelector("tr[data-job]");
    const rows = await page.$$eval("tr[data-job]", (els) => els.map((e) => e.textContent));
    check(rows.some((t) => t.includes("Succeeded")), rows.join(" | "));
    await page.waitForSelector("tbody tr[data-id]"); // the account's jobs from listAsyncJobs
    const progress = await page.$$eval("tbody tr[data-id] td[data-label=Progress]", (els) => els.map((e) => e.textContent));
    check(progress.includes("100%"), `finished saga jobs show 100%: ${progress}`);
    await steps.shot(page, "10b-jobs");
    return `${rows.length} job(s) followed`;
  });

  await steps.step("a user generates their API keys", async () => {
    await page.goto(`${base}/client/#/users`);
    const row = rowByName(page, alice);
    await row.waitFor();
    await row.locator("button:has-text('API keys')").click();
    // "no API keys: generate them?" — then the keys' own dialog
    await page.click(".modal form button[type=submit]");
    await page.waitForSelector(".modal pre.key", { timeout: 15000 });
    const keys = await page.locator(".modal pre.key").textContent();
    await steps.shot(page, "10c-api-keys");
    check(/apikey:\s+\S{20,}/.test(keys) && /secretkey:\s+\S{20,}/.test(keys), keys);
    const api = await apiSession(base, alice, PASS, `/${domainName}`);
    const mine = (await api("getUserKeys", { id: await row.getAttribute("data-id") })).userkeys;
    check(keys.includes(mine.apikey), "the keys shown are the user's");
    await page.click(".modal button.x");
    await page.waitForSelector(".modal", { state: "detached" });
    return "apikey and secretkey shown";
  });

  await steps.step("narrow window: the menu is a drawer and lists still read", async () => {
    await page.setViewportSize({ width: 390, height: 800 });
    await page.goto(`${base}/client/#/instances`);
    await rowByName(page, vmName).waitFor();
    check(await page.isVisible(".menu-toggle"), "menu button");
    await page.waitForSelector("nav.nav a[data-path=instances]", { state: "hidden" });
    check(!(await page.isVisible("nav.nav a[data-path=instances]")), "menu hidden until opened");
    await steps.shot(page, "11-instances-narrow");
    await page.click(".menu-toggle");
    await page.waitForSelector("nav.nav a[data-path=instances]", { state: "visible" });
    await steps.shot(page, "12-menu-narrow");
    await page.setViewportSize({ width: 1280, height: 860 });
    return "390 px";
  });

  await steps.step("session expiry: a logged-out session returns to the login page with a message", async () => {
    // end the session behind the UI's back (as an expiry does)
    const key = await page.evaluate(() => JSON.parse(localStorage.getItem("canopy.session") ?? "{}").sessionkey);
    await page.evaluate(async (k) => {
      await fetch("/client/api", { method: "POST", body: new URLSearchParams({ command: "logout", sessionkey: k, response: "json" }) });
    }, key);
    await page.goto(`${base}/client/#/volumes`);
    const t = await waitText(page.locator(".login .form-error"), /session|log in/i, 15000);
    return t;
  });
  await ctx.close();
}

// ---- another user: bob sees none of alice's VMs -------------------------------------------
await steps.step("another account's user sees no other account's VMs and no infrastructure", async () => {
  const { ctx, page } = await newPage();
  await uiLogin(page, base, bob, PASS);
  check(!(await navSections(page)).includes("Infrastructure"), "no infrastructure");
  await page.goto(`${base}/client/#/instances`);
  await page.waitForSelector("tbody tr");
  await page.waitForLoadState("networkidle");
  const n = await page.locator("tbody tr[data-id]").count();
  check(n === 0, `bob sees ${n} VMs`);
  // and a direct link to alice's VM says so, not a crash
  await page.goto(`${base}/client/#/hosts`);
  check((await page.textContent("main")).includes("Not found"), "hosts page refused");
  await steps.shot(page, "13-user-other-account");
  await ctx.close();
  return "0 VMs listed";
});

// ---- a domain admin --------------------------------------------------------------------------
await steps.step("domain admin: accounts of the domain, its VMs, no infrastructure", async () => {
  const { ctx, page } = await newPage();
  await uiLogin(page, base, dadmin, PASS, `/${domainName}`);
  const s = await navSections(page);
  check(!s.includes("Infrastructure"), `sections ${s}`);
  check(await page.$('nav a[data-path="accounts"]'), "accounts page");
  await page.goto(`${base}/client/#/accounts`);
  await rowByName(page, alice).waitFor();
  check((await page.locator(`tbody tr[data-name="${bob}"]`).count()) === 0, "not bob (another domain)");
  await steps.shot(page, "14-domain-admin-accounts");
  await page.goto(`${base}/client/#/instances`);
  await page.waitForSelector("tbody tr[data-id]");
  await ctx.close();
  return s.join(", ");
});

// ---- the root admin ------------------------------------------------------------------------
{
  const { ctx, page } = await newPage();
  await steps.step("root admin logs in; dashboard shows capacity charts and hosts by state", async () => {
    await uiLogin(page, base, creds.username, creds.password);
    check((await navSections(page)).includes("Infrastructure"), "infrastructure menu");
    await page.waitForSelector(".zone-capacity .capbar");
    await page.waitForSelector('.donut-card[data-chart="Hosts"]');
    const bars = await page.locator(".zone-capacity .capbar").count();
    await steps.shot(page, "15-dashboard-admin");
    return `${bars} capacity bars`;
  });

  await steps.step("disable and enable the zone", async () => {
    await page.goto(`${base}/client/#/zones`);
    const row = rowByName(page, zone.name);
    await row.waitFor();
    await row.locator("button:has-text('Disable')").click();
    await dialogSubmit(page);
    await waitText(row.locator(".badge").first(), /^Disabled$/);
    const z1 = (await admin("listZones", { id: zone.id })).zone[0].allocationstate;
    await steps.shot(page, "16-zone-disabled");
    await row.locator("button:has-text('Enable')").click();
    await waitText(row.locator(".badge").first(), /^Enabled$/);
    const z2 = (await admin("listZones", { id: zone.id })).zone[0].allocationstate;
    check(z1 === "Disabled" && z2 === "Enabled", `${z1} → ${z2}`);
    return `${z1} → ${z2}`;
  });

  await steps.step("admin sees every account's VMs and migrates one to a suitable host", async () => {
    await page.goto(`${base}/client/#/instances`);
    await page.waitForSelector("tbody tr[data-id]");
    const accounts = await page.$$eval("tbody tr[data-id] td[data-label=Account]", (els) => els.map((e) => e.textContent));
    check(accounts.includes(alice), `accounts ${accounts}`);
    const name = `web-${run}`.slice(0, 20);
    const before = (await admin("listVirtualMachines", { listall: true, name })).virtualmachine[0];
    await rowByName(page, name).locator("button:has-text('Migrate')").click();
    await page.waitForSelector(".modal select[name=hostid] option[value]:not([value=''])", { state: "attached" });
    const offered = await page.$$eval(".modal select[name=hostid] option[value]:not([value=''])", (os) => os.map((o) => o.textContent));
    await steps.shot(page, "17-migrate-dialog");
    await dialogSubmit(page);
    const after = (await admin("listVirtualMachines", { listall: true, name })).virtualmachine[0];
    check(after.state === "Running" && after.hostid !== before.hostid, `moved: ${before.hostname} → ${after.hostname}`);
    return `${accounts.length} VMs; offered ${offered.length} host(s): ${offered.join("; ")}; ${before.hostname} → ${after.hostname}`;
  });

  await steps.step("put a host into maintenance (its VM moves) and back; the accelerator is shown", async () => {
    const vm = (await admin("listVirtualMachines", { listall: true, name: `web-${run}`.slice(0, 20) })).virtualmachine[0];
    const hostRow = (await admin("listHosts", { id: vm.hostid })).host[0];
    await page.goto(`${base}/client/#/hosts`);
    const row = rowByName(page, hostRow.name);
    await row.waitFor();
    await row.locator("button:has-text('Maintenance')").click();
    await dialogSubmit(page);
    await waitText(row.locator("td").nth(2), /^Maintenance$/, 60000);
    await steps.shot(page, "18-host-maintenance");
    const rs = (await admin("listHosts", { id: hostRow.id })).host[0].resourcestate;
    const moved = (await admin("listVirtualMachines", { id: vm.id, listall: true })).virtualmachine[0];
    check(rs === "Maintenance", `resource state ${rs}`);
    check(moved.state === "Running" && moved.hostid !== hostRow.id, `the VM moved: ${moved.state} on ${moved.hostname}`);
    await row.locator("button:has-text('Cancel maintenance')").click();
    await waitText(row.locator("td").nth(2), /^Enabled$/, 60000);
    await row.locator("a").click();
    await page.waitForSelector('dd[data-key="accelerator"], dd[data-key="hypervisor"]');
    await steps.shot(page, "19-host-detail");
    return `${hostRow.name} ${rs} (its VM live-migrated to ${moved.hostname}), then Enabled`;
  });

  await steps.step("VM slots: a cluster's count set from its page shows on the hosts; an admission policy created on its page", async () => {
    await page.goto(`${base}/client/#/clusters`);
    const crow = page.locator("tbody tr[data-id]").first();
    await crow.waitFor();
    await crow.locator("button:has-text('VM slots')").click();
    await page.fill(".modal input[name=vmslots]", "7");
    await dialogSubmit(page);
    await page.goto(`${base}/client/#/hosts`);
    await page.waitForSelector("tbody tr[data-id]");
    await page.waitForFunction(() => [...document.querySelectorAll("tbody tr[data-id] td")].some((td) => / \/ 7$/.test(td.textContent)));
    const slots = await page.$$eval("tbody tr[data-id] td", (tds) => tds.map((td) => td.textContent).find((t) => / \/ 7$/.test(t)));
    // Back to the hypervisor's limit (an emptied field clears it).
    await page.goto(`${base}/client/#/clusters`);
    await crow.locator("button:has-text('VM slots')").click();
    await page.fill(".modal input[name=vmslots]", "");
    await dialogSubmit(page);
    await page.goto(`${base}/client/#/admissionpolicies`);
    await page.click("text=+ Create admission policy");
    await page.fill(".modal input[name=name]", `peer-pods-${run}`);
    await page.fill(".modal input[name=runtimeclass]", `kata-${run}`);
    await dialogSubmit(page);
    const prow = rowByName(page, `peer-pods-${run}`);
    await prow.waitFor();
    const cells = await prow.locator("td").allTextContents();
    check(cells[2] === "mutate" && cells[3] === "yes", cells.join(","));
    await steps.shot(page, "19b-admission-policies");
    await prow.locator("button:has-text('Delete')").click();
    await dialogSubmit(page);
    await prow.waitFor({ state: "detached" });
    return `host slots shown as "${slots}"; policy ${cells.slice(0, 4).join(" | ")}`;
  });

  await steps.step("dedicate a host from its page; the Dedicated resources page lists and releases it", async () => {
    await page.goto(`${base}/client/#/hosts`);
    const hrow = page.locator("tbody tr[data-id]").first();
    await hrow.waitFor();
    const hname = await hrow.getAttribute("data-name");
    await hrow.locator("button:has-text('Dedicate')").click();
    await page.waitForFunction(() => [...(document.querySelector(".modal select[name=domainid]")?.options ?? [])].some((o) => o.textContent === "ROOT"));
    await page.selectOption(".modal select[name=domainid]", { label: "ROOT" });
    await dialogSubmit(page);
    const listed = (await admin("listDedicatedHosts", {})).dedicatedhost ?? [];
    check(listed.some((d) => d.hostname === hname), `dedicated: ${JSON.stringify(listed)}`);
    await page.goto(`${base}/client/#/dedicated`);
    await page.click(".tabs button:has-text('Hosts')");
    await page.waitForSelector(`tbody tr td:has-text("${hname}")`);
    await steps.shot(page, "19c-dedicated-hosts");
    await page.locator(`tbody tr:has(td:has-text("${hname}")) button:has-text('Release')`).click();
    await dialogSubmit(page);
    await page.waitForSelector(`tbody tr td:has-text("${hname}")`, { state: "detached" });
    const after = (await admin("listDedicatedHosts", {})).dedicatedhost ?? [];
    check(!after.length, "released");
    return `${hname} dedicated to ROOT, listed, released`;
  });

  await steps.step("create and delete a compute offering", async () => {
    const name = `ui-offering-${run}`;
    await page.goto(`${base}/client/#/offerings`);
    await page.click("text=+ Add compute offering");
    await page.fill(".modal input[name=name]", name);
    await page.fill(".modal input[name=cpunumber]", "2");
    await page.fill(".modal input[name=memory]", "1024");
    await dialogSubmit(page);
    const row = rowByName(page, name);
    await row.waitFor();
    const cells = await row.locator("td").allTextContents();
    check(cells[1] === "2" && cells[3] === "1024", cells.join(","));
    await row.locator("button:has-text('Delete')").click();
    await dialogSubmit(page);
    await row.waitFor({ state: "detached" });
    return "2 CPU / 1024 MiB, then deleted";
  });

  await steps.step("a role from the Roles page: rules added, reordered and flipped, as the API then lists them", async () => {
    const name = `reader-${run}`;
    await page.goto(`${base}/client/#/roles`);
    await page.click("text=+ Create role");
    await page.fill(".modal input[name=name]", name);
    await page.selectOption(".modal select[name=type]", "User");
    await dialogSubmit(page);
    const row = rowByName(page, name);
    await row.waitFor();
    await row.locator("a").first().click();
    await page.waitForSelector("text=+ Add rule");
    for (const [rule, perm] of [["*", "deny"], ["list*", "allow"]]) {
      await page.click("text=+ Add rule");
      await page.fill(".modal input[name=rule]", rule);
      await page.selectOption(".modal select[name=permission]", perm);
      await dialogSubmit(page);
      await page.waitForSelector(`tr[data-rule="${rule}"]`);
    }
    // list* was added last: moved up, it decides before the closing deny.
    await page.locator('tr[data-rule="list*"] button:has-text("↑")').click();
    await waitText(page.locator("table.rules tbody tr").first(), /list\*/);
    await page.locator('tr[data-rule="*"] button:has-text("Allow")').click();
    await waitText(page.locator('tr[data-rule="*"]'), /allow/);
    const id = (await admin("listRoles", { name })).role[0].id;
    const rules = (await admin("listRolePermissions", { roleid: id })).rolepermission;
    const seen = rules.map((r) => `${r.permission} ${r.rule}`).join(", ");
    check(seen === "allow list*, allow *", seen);
    return `role ${name}: ${seen}`;
  });

  await steps.step("register a template from a staging path on the server; its download completes", async () => {
    check(a.staged, "--staged names a QCOW2 file");
    const name = `staged-${run}`;
    await page.goto(`${base}/client/#/templates`);
    await page.click("text=+ Register template");
    await page.fill(".modal input[name=name]", name);
    await page.fill(".modal input[name=url]", `file://${a.staged}`);
    await page.selectOption(".modal select[name=format]", "QCOW2");
    await page.selectOption(".modal select[name=hypervisor]", "Simulator");
    await dialogSubmit(page);
    const row = rowByName(page, name);
    await row.waitFor();
    const first = (await row.locator("td").nth(1).textContent()).trim();
    await waitText(row.locator("td").nth(1), /^Ready$/, 60000);
    await steps.shot(page, "20a-template-registered");
    return `status "${first}", then Ready`;
  });

  await steps.step("register a template from a URL; the list shows its download progress, then Ready", async () => {
    check(a["slow-image"], "--slow-image names a QCOW2 file");
    const name = `url-${run}`;
    await page.goto(`${base}/client/#/templates`);
    await page.click("text=+ Register template");
    await page.fill(".modal input[name=name]", name);
    await page.fill(".modal input[name=url]", imagesUrl);
    await page.selectOption(".modal select[name=format]", "QCOW2");
    await page.selectOption(".modal select[name=hypervisor]", "Simulator");
    await dialogSubmit(page);
    const row = rowByName(page, name);
    await row.waitFor();
    const seen = new Set();
    const t0 = Date.now();
    while (Date.now() - t0 < 60000) {
      const s = ((await row.locator("td").nth(1).textContent().catch(() => "")) ?? "").trim();
      if (s) seen.add(s);
      if (/% Downloaded/.test(s) && !(await page.$("[data-shot=progress]"))) {
        await steps.shot(page, "20b-template-download-progress");
        await page.evaluate(() => document.body.setAttribute("data-shot", "progress"));
      }
      if (s === "Ready") break;
      await sleep(200);
    }
    const progress = [...seen].filter((s) => /% Downloaded/.test(s));
    check(seen.has("Ready"), `Ready at the end: ${[...seen].join(", ")}`);
    check(progress.length >= 2, `progress shown while downloading: ${[...seen].join(", ")}`);
    return [...seen].join(" → ");
  });

  await steps.step("every page of the navigation renders without an error", async () => {
    const paths = await page.$$eval("nav a[data-path]", (els) => els.map((e) => e.getAttribute("data-path")));
    const bad = [];
    for (const p of paths) {
      const before = errors.length;
      await page.goto(`${base}/client/#/${p}`);
      await page.waitForSelector("main h1");
      await page.waitForLoadState("networkidle");
      const listErr = await page.$$eval(".list-status.error, p.error", (els) => els.map((e) => e.textContent));
      if (listErr.length || errors.length > before) bad.push(`${p}: ${[...listErr, ...errors.slice(before)].join(" | ")}`);
      if (["offerings", "settings", "accounts", "events", "networks", "templates", "routers", "domains", "primarystorage"].includes(p)) await steps.shot(page, `20-${p}`);
    }
    check(!bad.length, bad.join("\n"));
    return `${paths.length} pages`;
  });

  await steps.step("logout returns to the login page", async () => {
    await page.click("button.logout");
    await page.waitForSelector("form.login");
    return "";
  });
  await ctx.close();
}

await browser.close();
images.close();
if (errors.length) console.log(`browser errors seen:\n  ${errors.join("\n  ")}`);
process.exit(steps.finish());
