// Volumes, templates, ISOs and SSH key pairs.

import { api, role, Row } from "../api";
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
        { label: "Delete", danger: true, show: (v) => v.type === "DATADISK" && !v.virtualmachineid, run: (v, r) => confirmAct(`Delete ${v.name}`, `Delete ${v.name} and its data?`, "deleteVolume", { id: v.id }, r) },
      ],
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

