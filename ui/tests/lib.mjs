// Helpers for the browser tests: Debian's Chromium driven by playwright-core (never a browser
// a test tool downloads), an API client for setting up accounts, bounded waits, and steps that
// report pass/fail and keep going.

import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

export const CHROMIUM = process.env.CANOPY_CHROMIUM ?? "/usr/bin/chromium";

/** Headless Chromium as the env notes say: no sandbox (root), no background networking. */
export async function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-dev-shm-usage",
    ],
  });
}

export function args(argv = process.argv.slice(2)) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    if (argv[i].startsWith("--")) {
      const k = argv[i].slice(2);
      const v = argv[i + 1] && !argv[i + 1].startsWith("--") ? argv[++i] : "true";
      out[k] = v;
    }
  }
  return out;
}

/** A session-authenticated API client (login with a password, as the UI does). */
export async function apiSession(base, username, password, domain = "/") {
  const body = new URLSearchParams({ command: "login", username, password, domain, response: "json" });
  const r = await fetch(`${base}/client/api`, { method: "POST", body });
  const j = await r.json();
  const l = j.loginresponse;
  if (!l?.sessionkey) throw new Error(`login ${username}: ${JSON.stringify(j)}`);
  const cookies = r.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
  const call = async (command, params = {}) => {
    const b = new URLSearchParams({ command, response: "json", sessionkey: l.sessionkey });
    for (const [k, v] of Object.entries(params)) if (v !== undefined) b.set(k, String(v));
    const resp = await fetch(`${base}/client/api`, { method: "POST", body: b, headers: { cookie: cookies } });
    const jj = await resp.json();
    const inner = Object.values(jj)[0];
    if (inner?.errorcode) throw new Error(`${command}: ${inner.errortext} (${inner.errorcode})`);
    if (inner?.jobid && !command.startsWith("queryAsync")) {
      for (let i = 0; i < 600; i++) {
        await sleep(200);
        const q = await call("queryAsyncJobResult", { jobid: inner.jobid });
        if (q.jobstatus === 1) return q.jobresult;
        if (q.jobstatus === 2) throw new Error(`${command}: ${q.jobresult?.errortext}`);
      }
      throw new Error(`${command}: job did not finish`);
    }
    return inner;
  };
  return call;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export class Steps {
  constructor(shots) {
    this.shots = shots;
    this.failed = [];
    this.passed = 0;
    this.saved = [];
    mkdirSync(shots, { recursive: true });
  }

  async step(name, f) {
    const t0 = Date.now();
    try {
      const detail = await f();
      this.passed++;
      console.log(`  ok   ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)${detail ? ` — ${detail}` : ""}`);
    } catch (e) {
      this.failed.push(name);
      console.log(`  FAIL ${name}: ${e?.stack ?? e}`);
    }
  }

  async shot(page, name) {
    const path = join(this.shots, `${name}.png`);
    await page.screenshot({ path, fullPage: false });
    this.saved.push(path);
    return path;
  }

  finish() {
    console.log(`screenshots (${this.saved.length}) in ${this.shots}: ${this.saved.map((p) => p.split("/").pop()).join(", ")}`);
    console.log(`${this.passed} passed, ${this.failed.length} failed${this.failed.length ? ": " + this.failed.join("; ") : ""}`);
    return this.failed.length ? 1 : 0;
  }
}

export function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
}

/** Logs in through the login form and waits for the shell. */
export async function uiLogin(page, base, username, password, domain = "") {
  await page.goto(`${base}/client/`);
  await page.fill("#username", username);
  await page.fill("#password", password);
  if (domain) await page.fill("#domain", domain);
  await page.click("form.login button[type=submit]");
  await page.waitForSelector("header.top .who", { timeout: 15000 });
}

/** Errors the page throws or logs fail the test that looks at them. */
export function watchErrors(page, into) {
  page.on("pageerror", (e) => into.push(`pageerror: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") into.push(`console: ${m.text()}`);
  });
}
