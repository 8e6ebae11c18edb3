// Console steps for SSL certificates, NIC secondary IPs and browser uploads (run.mjs calls
// them after the volume step, on the instance it deployed).

import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export async function certsIpsUploads(steps, { page, base, vmId, rowByName, dialogSubmit }) {
  await steps.step("an SSL certificate uploaded on its page (PEM pasted), listed with its fingerprint, deleted", async () => {
    const dir = mkdtempSync(join(tmpdir(), "canopy-ui-cert-"));
    execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", join(dir, "k.pem"), "-out", join(dir, "c.pem"), "-days", "2", "-subj", "/CN=shop.example"], { stdio: "ignore" });
    const cert = readFileSync(join(dir, "c.pem"), "utf8");
    const key = readFileSync(join(dir, "k.pem"), "utf8");
    rmSync(dir, { recursive: true, force: true });
    await page.goto(`${base}/client/#/sslcerts`);
    await page.click("text=+ Upload certificate");
    await page.fill(".modal input[name=name]", "shop-cert");
    await page.fill(".modal textarea[name=certificate]", cert);
    await page.fill(".modal textarea[name=privatekey]", key);
    await dialogSubmit(page);
    const row = rowByName(page, "shop-cert");
    await row.waitFor();
    const fp = (await row.locator("td").nth(1).textContent()).trim();
    if (fp.split(":").length !== 20) throw new Error(`no SHA-1 fingerprint: ${fp}`);
    await steps.shot(page, "10g-ssl-certificate");
    await row.locator("button:has-text('Delete')").click();
    await dialogSubmit(page);
    await row.waitFor({ state: "detached" });
    return `shop-cert uploaded (fingerprint ${fp.slice(0, 11)}…) and deleted`;
  });

  await steps.step("a secondary IP added to the instance's NIC from its page, then removed", async () => {
    await page.goto(`${base}/client/#/instance/${vmId}`);
    await page.click(".tabs button:has-text('NICs')");
    const nic = page.locator("tbody tr[data-id]").first();
    await nic.waitFor();
    await nic.locator("button:has-text('Add IP')").click();
    await dialogSubmit(page);
    const cell = nic.locator("td").nth(2);
    await page.waitForFunction((el) => /\d+\.\d+\.\d+\.\d+/.test(el.textContent), await cell.elementHandle());
    const added = (await cell.textContent()).trim();
    await steps.shot(page, "10f-secondary-ip");
    await nic.locator("button:has-text('Remove IP')").click();
    await dialogSubmit(page);
    await page.waitForFunction((el) => el.textContent.trim() === "", await cell.elementHandle());
    return `secondary IP ${added} added to the NIC (next free address) and removed`;
  });

  await steps.step("a disk image uploaded from the browser becomes an Uploaded volume", async () => {
    // A qcow2 header claiming 2 GiB, as the file the user picks.
    const img = Buffer.alloc(64 * 1024);
    img.write("QFI\xfb", 0, "latin1");
    img.writeUInt32BE(3, 4);
    img.writeBigUInt64BE(2n << 30n, 24);
    await page.goto(`${base}/client/#/volumes`);
    await page.click("text=Upload volume");
    await page.fill(".modal input[name=name]", "uploaded1");
    await page.waitForSelector(".modal select[name=zoneid] option[value]:not([value=''])", { state: "attached" });
    await page.selectOption(".modal select[name=format]", "QCOW2");
    await page.setInputFiles(".modal input[name=file]", { name: "disk.qcow2", mimeType: "application/octet-stream", buffer: img });
    await dialogSubmit(page);
    const row = rowByName(page, "uploaded1");
    await row.waitFor();
    await row.locator(".badge", { hasText: /^Uploaded$/ }).waitFor();
    await steps.shot(page, "10e-volume-uploaded");
    return "uploaded1: getUploadParamsForVolume, then the file POSTed as a form from the page; listed Uploaded (2 GiB)";
  });
}
