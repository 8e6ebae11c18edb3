// The console check on a real QEMU host (run by tests/e2e/real_hosts.py inside the management
// namespace): log in through the UI, open the VM's page, click Console, and in the new tab see
// noVNC connect and draw the guest's screen on its canvas.
//
//   node tests/console.mjs --base URL --user U --password P --vm ID --shot FILE
// Prints one line of JSON: {connected, width, height, lit} (lit: share of non-black pixels).

import { args, launch, uiLogin } from "./lib.mjs";

const a = args();
const browser = await launch();
let out = { connected: false };
try {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const page = await ctx.newPage();
  page.setDefaultTimeout(20000);
  await uiLogin(page, a.base, a.user, a.password, a.domain ?? "");
  await page.goto(`${a.base}/client/#/instance/${a.vm}`);
  await page.waitForSelector(".detail-head .actions button:has-text('Console')");
  const [tab] = await Promise.all([ctx.waitForEvent("page"), page.click(".detail-head .actions button:has-text('Console')")]);
  await tab.waitForSelector('#console-status[data-state="connected"], #console-status[data-state="error"]', { timeout: 30000 });
  out.status = await tab.textContent("#console-status");
  out.connected = (await tab.getAttribute("#console-status", "data-state")) === "connected";
  if (out.connected) {
    // The guest's framebuffer arrives after the handshake: wait until the canvas has a size
    // and something drawn (bounded).
    for (let i = 0; i < 60; i++) {
      const s = await tab.evaluate(() => {
        const c = document.querySelector("#screen canvas");
        if (!c || !c.width || !c.height) return null;
        const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
        let lit = 0;
        for (let p = 0; p < d.length; p += 4) if (d[p] + d[p + 1] + d[p + 2] > 60) lit++;
        return { width: c.width, height: c.height, lit: lit / (d.length / 4) };
      });
      if (s) Object.assign(out, s);
      if (s && s.lit > 0) break;
      await tab.waitForTimeout(500);
    }
  }
  if (a.shot) await tab.screenshot({ path: a.shot });
} catch (e) {
  out.error = String(e?.message ?? e);
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
process.exit(out.connected ? 0 : 1);
