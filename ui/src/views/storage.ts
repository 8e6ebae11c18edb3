// Volumes, templates, ISOs and SSH key pairs.

import { api, Params, role, Row } from "../api";
import { clean, confirmAct, formAct, from } from "../actions";
import { badge, bytes, formDialog, h, modal, toast, when } from "../dom";
import { listView } from "../table";

export function volumes(): HTMLElement {
  return h(
    "section",
    {},
    h("h1", {}, "Volumes"),
    listView({
      command: "listVolumes",
      columns: [
        { key: "name", label: "Name" },
        { key: "state", label: "State", render: (v) => badge(v.state) },
        { key: "type", label: "Type" },
        { key: "size", label: "Size", render: (v) => bytes(v.size) },
        { key: "vmname", label: "Instance", render: (v) => (v.virtualmachineid ? h("a", { href: `#/instance/${v.virtualmachineid}` }, v.vmname ?? v.virtualmachineid) : "") },
        { key: "storage", label: "Storage", minor: true },
        { key: "zonename", label: "Zone", minor: true },
        { key: "account", label: "Account", minor: true },
      ],
      tools: [
        {
          label: "Upload volume",
          run: (r) =>
            formDialog(
              "Upload volume",
              [
                { name: "name", label: "Name", required: true },
                { name: "zoneid", label: "Zone", type: "select", required: true, options: from("listZones") },
                { name: "format", label: "Format", type: "select", required: true, options: [{ value: "QCOW2", label: "QCOW2" }, { value: "RAW", label: "RAW" }] },
                { name: "file", label: "Disk image", type: "file", required: true },
                { name: "checksum", label: "MD5 or SHA-256 (optional)" },
              ],
              async (v) => {
                const { file, ...rest } = v;
                await uploadFile("getUploadParamsForVolume", clean(rest), file as File);
                toast(`Volume ${v.name} uploaded`, "ok");
                r();
              },
              "Upload",
            ),
        },
        {
          label: "+ Create volume",
          primary: true,
          run: (r) =>
            formAct(
              "Create volume",
              [
                { name: "name", label: "Name" },
                { name: "zoneid", label: "Zone", type: "select", required: true, options: from("listZones") },
                { name: "diskofferingid", label: "Disk offering", type: "select", required: true, options: from("listDiskOfferings", {}, (o) => `${o.name} (${o.iscustomized ? "custom" : `${o.disksize} GB`})`) },
                { name: "size", label: "Size (GB, custom offerings)", type: "number" },
              ],
              "createVolume",
              {},
              r,
            ),
        },
      ],
      actions: [
        {
          label: "Attach",
          show: (v) => v.type === "DATADISK" && !v.virtualmachineid,
          run: (v, r) =>
            formAct(
              `Attach ${v.name}`,
              [{ name: "virtualmachineid", label: "Instance", type: "select", required: true, options: from("listVirtualMachines", { zoneid: v.zoneid, listall: true }) }],
              "attachVolume",
              { id: v.id },
              r,
            ),
        },
        { label: "Detach", show: (v) => v.type === "DATADISK" && !!v.virtualmachineid, run: (v, r) => confirmAct(`Detach ${v.name}`, `Detach ${v.name} from ${v.vmname}?`, "detachVolume", { id: v.id }, r) },
        { label: "Resize", run: (v, r) => formAct(`Resize ${v.name}`, [{ name: "size", label: "New size (GB)", type: "number", required: true }, { name: "shrinkok", label: "Allow shrinking", type: "checkbox" }], "resizeVolume", { id: v.id }, r) },
        {
          label: "Migrate",
          show: (v) => role() === "admin" && v.state === "Ready",
          run: (v, r) =>
            formAct(
              `Migrate ${v.name}`,
              [
                { name: "storageid", label: "Destination storage pool", type: "select", required: true, options: async () => (await from("listStoragePools", { zoneid: v.zoneid })()).filter((o) => o.value !== v.storageid) },
                { name: "livemigrate", label: "Live (the instance keeps running)", type: "checkbox", value: v.vmstate === "Running" },
              ],
              "migrateVolume",
              { volumeid: v.id },
              r,
            ),
        },
        { label: "Take snapshot", show: (v) => v.state === "Ready", run: (v, r) => takeSnapshot(v, r) },
        { label: "Snapshot policy", show: (v) => v.state === "Ready", run: (v, r) => snapshotPolicy(v, r) },
        { label: "Create template", show: (v) => v.state === "Ready" && (!v.virtualmachineid || v.vmstate === "Stopped"), run: (v, r) => createTemplate("volumeid", v, r) },
        { label: "Delete", danger: true, show: (v) => v.type === "DATADISK" && !v.virtualmachineid, run: (v, r) => confirmAct(`Delete ${v.name}`, `Delete ${v.name} and its data?`, "deleteVolume", { id: v.id }, r) },
      ],
    }),
  );
}

/**
 * A file sent from the browser to the image store: getUploadParamsFor… records the volume or
 * template and answers a signed ticket; the file is POSTed as a form, as CloudStack's UI sends
 * it, to the ticket's path on this origin (the page may be served over https).
 */
export async function uploadFile(command: string, params: Params, file: File): Promise<void> {
  const p = (await api(command, params)).getuploadparams as Row;
  const form = new FormData();
  form.append("file", file, file.name);
  const path = new URL(String(p.postURL), location.href).pathname;
  const resp = await fetch(path, {
    method: "POST",
    headers: { "X-signature": String(p.signature), "X-metadata": String(p.metadata), "X-expires": String(p.expires) },
    body: form,
  });
  if (!resp.ok) throw new Error(`The upload was refused (${resp.status}): ${await resp.text()}`);
}

/** A snapshot of a volume now (the job's progress shows in the notifications). */
export function takeSnapshot(v: Row, reload: () => void) {
  formAct(`Snapshot of ${v.name}`, [{ name: "name", label: "Name (default: VM_volume_time)" }], "createSnapshot", { volumeid: v.id }, reload);
}

const INTERVALS = ["HOURLY", "DAILY", "WEEKLY", "MONTHLY"].map((t) => ({ value: t, label: t.toLowerCase() }));

function snapshotPolicy(v: Row, reload: () => void) {
  formAct(
    `Snapshot policy for ${v.name}`,
    [
      { name: "intervaltype", label: "Interval", type: "select", required: true, options: INTERVALS },
      { name: "schedule", label: "Schedule (MM hourly, MM:HH daily, MM:HH:DD weekly 1=Sunday or monthly)", required: true },
      { name: "timezone", label: "Time zone (UTC, Etc/GMT+N or +HH:MM)", required: true, value: "UTC" },
      { name: "maxsnaps", label: "Snapshots kept (1-8)", type: "number", required: true, value: "3" },
    ],
    "createSnapshotPolicy",
    { volumeid: v.id },
    reload,
  );
}

/** A template from a volume (its VM stopped) or a snapshot. */
export function createTemplate(param: "volumeid" | "snapshotid", x: Row, reload: () => void) {
  formAct(
    `Template from ${x.name}`,
    [
      { name: "name", label: "Name", required: true },
      { name: "displaytext", label: "Description" },
      { name: "ostypeid", label: "OS type", type: "select", required: true, options: from("listOsTypes", {}, (o) => o.description) },
      { name: "ispublic", label: "Public", type: "checkbox" },
    ],
    "createTemplate",
    { [param]: x.id },
    reload,
  );
}

export function snapshots(): HTMLElement {
  return h(
    "section",
    {},
    h("h1", {}, "Snapshots"),
    listView({
      command: "listSnapshots",
      columns: [
        { key: "name", label: "Name" },
        { key: "state", label: "State", render: (x) => badge(x.state) },
        { key: "volumename", label: "Volume" },
        { key: "intervaltype", label: "Interval" },
        { key: "physicalsize", label: "Stored", render: (x) => bytes(x.physicalsize) },
        { key: "virtualsize", label: "Size", minor: true, render: (x) => bytes(x.virtualsize) },
        { key: "created", label: "Created", minor: true },
        { key: "account", label: "Account", minor: true },
      ],
      actions: [
        { label: "Revert volume", show: (x) => x.state === "BackedUp", run: (x, r) => confirmAct(`Revert ${x.volumename}`, `Replace the content of ${x.volumename} with snapshot ${x.name}? Its VM must be stopped.`, "revertSnapshot", { id: x.id }, r) },
        { label: "Create volume", show: (x) => x.state === "BackedUp", run: (x, r) => formAct(`Volume from ${x.name}`, [{ name: "name", label: "Name" }], "createVolume", { snapshotid: x.id }, r) },
        { label: "Create template", show: (x) => x.state === "BackedUp", run: (x, r) => createTemplate("snapshotid", x, r) },
        { label: "Delete", danger: true, run: (x, r) => confirmAct(`Delete ${x.name}`, `Delete snapshot ${x.name}?`, "deleteSnapshot", { id: x.id }, r) },
      ],
    }),
    h("h2", {}, "Snapshot policies"),
    listView({
      command: "listSnapshotPolicies",
      columns: [
        { key: "volumeid", label: "Volume" },
        { key: "intervaltype", label: "Interval", render: (x) => ["hourly", "daily", "weekly", "monthly"][Number(x.intervaltype)] ?? String(x.intervaltype) },
        { key: "schedule", label: "Schedule" },
        { key: "timezone", label: "Time zone" },
        { key: "maxsnaps", label: "Kept" },
        { key: "nextrun", label: "Next run", minor: true },
      ],
      actions: [{ label: "Delete", danger: true, run: (x, r) => confirmAct("Delete policy", "Delete this snapshot policy? Its snapshots stay.", "deleteSnapshotPolicies", { id: x.id }, r) }],
    }),
  );
}

function registerFields(kind: "template" | "iso") {
  return [
    { name: "name", label: "Name", required: true },
    { name: "displaytext", label: "Description" },
    { name: "url", label: "URL (https://, http://, or file:// for a staging path on the management server)", required: true, placeholder: "https://… or file:///srv/images/x.qcow2" },
    { name: "zoneid", label: "Zone (none: all zones)", type: "select" as const, options: from("listZones") },
    ...(kind === "template"
      ? [
          { name: "format", label: "Format", type: "select" as const, required: true, options: [{ value: "QCOW2", label: "QCOW2" }, { value: "RAW", label: "RAW" }] },
          { name: "hypervisor", label: "Hypervisor", type: "select" as const, required: true, options: [{ value: "KVM", label: "KVM" }, { value: "Simulator", label: "Simulator" }] },
          { name: "passwordenabled", label: "Password enabled", type: "checkbox" as const },
          { name: "sshkeyenabled", label: "SSH key enabled", type: "checkbox" as const },
        ]
      : [{ name: "bootable", label: "Bootable", type: "checkbox" as const, value: true }]),
    { name: "ostypeid", label: "OS type", type: "select" as const, options: from("listOsTypes", {}, (o) => o.description) },
    { name: "ispublic", label: "Public (all accounts may use it)", type: "checkbox" as const },
    ...(role() === "admin" ? [{ name: "isfeatured", label: "Featured", type: "checkbox" as const }] : []),
  ];
}

function imageList(kind: "template" | "iso"): HTMLElement {
  const T = kind === "template" ? "Template" : "ISO";
  const filter = role() === "admin" ? "all" : "executable";
  return listView({
    command: kind === "template" ? "listTemplates" : "listIsos",
    params: () => (kind === "template" ? { templatefilter: filter } : { isofilter: filter }),
    columns: [
      { key: "name", label: "Name" },
      { key: "status", label: "Status / download", render: (t) => (String(t.isready) === "true" ? badge("Ready") : h("span", { class: "progress" }, t.status ?? "Downloading")) },
      { key: "zonename", label: "Zone" },
      { key: "size", label: "Size", render: (t) => (t.size ? bytes(t.size) : "") },
      { key: "ostypename", label: "OS", minor: true },
      { key: "account", label: "Owner", minor: true },
      { key: "ispublic", label: "Public", minor: true },
      { key: "created", label: "Created", minor: true, render: (t) => when(t.created) },
    ],
    tools: [
      {
        label: `+ Register ${T.toLowerCase()}`,
        primary: true,
        run: (r) =>
          formDialog(`Register ${T.toLowerCase()}`, registerFields(kind), async (v) => {
            await api(kind === "template" ? "registerTemplate" : "registerIso", { zoneid: "-1", ...clean(v) });
            toast(`${T} ${v.name}: registered; downloading (progress in the list)`, "ok");
            r();
          }),
      },
    ],
    actions: [
      {
        label: "Edit",
        run: (t, r) => formAct(`Edit ${t.name}`, [{ name: "name", label: "Name", value: t.name }, { name: "displaytext", label: "Description", value: t.displaytext ?? "" }], kind === "template" ? "updateTemplate" : "updateIso", { id: t.id }, r),
      },
      { label: "Delete", danger: true, run: (t, r) => confirmAct(`Delete ${t.name}`, `Delete the ${T.toLowerCase()} ${t.name}?`, kind === "template" ? "deleteTemplate" : "deleteIso", { id: t.id, zoneid: t.zoneid }, r) },
    ],
    refreshMs: 5000,
    busy: (rows) => rows.some((t) => String(t.isready) !== "true" && !/error|fail/i.test(String(t.status ?? ""))),
  });
}

export function templates(): HTMLElement {
  return h("section", {}, h("h1", {}, "Templates"), imageList("template"));
}

export function isos(): HTMLElement {
  return h("section", {}, h("h1", {}, "ISOs"), imageList("iso"));
}

function showPrivateKey(k: Row) {
  const pre = h("pre", { class: "key" }, k.privatekey ?? "");
  modal(`Private key of ${k.name}`, h("div", {}, h("p", {}, "Save it now: Canopy does not keep it and cannot show it again."), pre));
}

export function keypairs(): HTMLElement {
  return h(
    "section",
    {},
    h("h1", {}, "SSH key pairs"),
    listView({
      command: "listSSHKeyPairs",
      columns: [
        { key: "name", label: "Name" },
        { key: "fingerprint", label: "Fingerprint" },
        { key: "account", label: "Account", minor: true },
      ],
      tools: [
        {
          label: "+ Create key pair",
          primary: true,
          run: (r) =>
            formDialog("Create SSH key pair", [{ name: "name", label: "Name", required: true }], async (v) => {
              const res = await api("createSSHKeyPair", { name: v.name });
              showPrivateKey(res.keypair ?? res);
              r();
            }),
        },
        {
          label: "Register public key",
          run: (r) =>
            formAct(
              "Register SSH public key",
              [
                { name: "name", label: "Name", required: true },
                { name: "publickey", label: "Public key (ssh-ed25519 AAAA… comment)", type: "textarea", required: true },
              ],
              "registerSSHKeyPair",
              {},
              r,
            ),
        },
      ],
      actions: [{ label: "Delete", danger: true, run: (k, r) => confirmAct(`Delete ${k.name}`, `Delete the key pair ${k.name}?`, "deleteSSHKeyPair", { name: k.name, account: k.account, domainid: k.domainid }, r) }],
    }),
  );
}

