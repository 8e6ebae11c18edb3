// The web console as a browser sees it at scale (run by the VM benchmark with --ui, against a
// server holding many VMs): median and worst of 5 runs, each in a fresh browser context, of
//   - load the page and log in; the dashboard drawn (VM and host donuts, capacity bars, events),
//   - open Instances → first page of rows drawn,
//   - search one VM by name → one row,
//   - next page → rows drawn,
//   - open a VM's page → its details drawn.
//
//   node tests/bench.mjs --base http://HOST:PORT --admin-json DIR/admin.json [--search NAME]

import { readFileSync } from "node:fs";
import { args, launch, uiLogin } from "./lib.mjs";

const a = args();
const creds = JSON.parse(readFileSync(a["admin-json"], "utf8"));
const base = a.base;
const search = a.search ?? "fill-7";
const runs = Number(a.runs ?? 5);
const times = {};
const note = (k, ms) => (times[k] ??= []).push(ms);

const browser = await launch();
try {
  for (let i = 0; i < runs; i++) {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    const page = await ctx.newPage();
    page.setDefaultTimeout(60000);
    let t = Date.now();
    await uiLogin(page, base, creds.username, creds.password);
    note("load the page and log in (the password check included)", Date.now() - t);
    await page.waitForSelector('.donut-card[data-chart="Hosts"]');
    await page.waitForSelector(".zone-capacity .capbar");
    await page.click('nav a[data-path="events"]');
    await page.waitForSelector("main h1:has-text('Events')");
    t = Date.now();
    await page.click('nav a[data-path="dashboard"]');
    await page.waitForSelector('.donut-card[data-chart="Hosts"]');
    await page.waitForSelector('.donut-card[data-chart="Instances"]');
    await page.waitForSelector(".zone-capacity .capbar");
    await page.waitForSelector(".event-list li");
    note("Dashboard → drawn (VM and host counts, capacity, events)", Date.now() - t);

    t = Date.now();
    await page.click('nav a[data-path="instances"]');
    await page.waitForSelector("tbody tr[data-id]");
    note("Instances → first page drawn", Date.now() - t);
    const total = (await page.textContent(".pager")).trim();

    t = Date.now();
    await page.fill("input.search", search);
    await page.waitForFunction((n) => {
      const rows = document.querySelectorAll("tbody tr[data-id]");
      return rows.length >= 1 && [...rows].every((r) => r.getAttribute("data-name")?.includes(n));
    }, search);
    note(`search "${search}" → rows drawn (incl. 250 ms typing debounce)`, Date.now() - t);

    await page.fill("input.search", "");
    await page.waitForFunction(() => document.querySelectorAll("tbody tr[data-id]").length === 20);
    const first = await page.getAttribute("tbody tr[data-id]", "data-id");
    t = Date.now();
    await page.click("text=Next ›");
    await page.waitForFunction((id) => document.querySelector("tbody tr[data-id]")?.getAttribute("data-id") !== id, first);
    note("next page → drawn", Date.now() - t);

    t = Date.now();
    await page.locator("tbody tr[data-id] a").first().click();
    await page.waitForSelector(".detail-head h1 .badge");
    note("a VM's page → details drawn", Date.now() - t);
    if (i === 0) {
      console.log(`instances list: ${total}`);
      // The dashboard's API calls one by one, as the page makes them (session, same origin).
      const calls = await page.evaluate(async () => {
        const key = JSON.parse(localStorage.getItem("canopy.session") ?? "{}").sessionkey;
        const one = async (p) => {
          const t = performance.now();
          await (await fetch("/client/api", { method: "POST", body: new URLSearchParams({ ...p, response: "json", sessionkey: key }) })).text();
          return Math.round(performance.now() - t);
        };
        const out = {};
        for (const [name, p] of Object.entries({
          "listVirtualMachines state=Running pagesize=1": { command: "listVirtualMachines", state: "Running", listall: "true", page: "1", pagesize: "1" },
          "listVirtualMachines state=Stopped pagesize=1": { command: "listVirtualMachines", state: "Stopped", listall: "true", page: "1", pagesize: "1" },
          "listVirtualMachines state=Destroyed pagesize=1": { command: "listVirtualMachines", state: "Destroyed", listall: "true", page: "1", pagesize: "1" },
          "listHosts state=Up pagesize=1": { command: "listHosts", type: "Routing", state: "Up", page: "1", pagesize: "1" },
          listZones: { command: "listZones" },
          listCapacity: { command: "listCapacity" },
          "listEvents pagesize=10": { command: "listEvents", listall: "true", page: "1", pagesize: "10" },
        })) out[name] = await one(p);
        return out;
      });
      console.log(`dashboard API calls (ms): ${Object.entries(calls).map(([k, v]) => `${k} ${v}`).join(", ")}`);
    }
    await ctx.close();
  }
} finally {
  await browser.close();
}
for (const [k, v] of Object.entries(times)) {
  v.sort((x, y) => x - y);
  console.log(`web console: ${k}: median ${v[Math.floor(v.length / 2)]} ms, worst ${v[v.length - 1]} ms (${v.length} runs)`);
}
