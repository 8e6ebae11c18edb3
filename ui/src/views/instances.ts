// Instances: the list, the Add Instance wizard, a VM's details, and its actions.

import { api, follow, list, listAll, Params, role, Row } from "../api";
import { act, clean, confirmAct, formAct, from } from "../actions";
import { badge, bytes, clear, errorText, h, options, toast, when } from "../dom";
import { Action, details, listView, tabs } from "../table";
import { createTemplate, takeSnapshot } from "./storage";

const isAdmin = () => role() === "admin";

/** The actions on one VM (used by the list and by the details page). */
export function vmActions(): Action[] {
  return [
    { label: "Start", show: (v) => v.state === "Stopped", run: (v, r) => void act(`Start ${v.name}`, "startVirtualMachine", { id: v.id }, r) },
    {
      label: "Stop",
      show: (v) => v.state === "Running",
      run: (v, r) =>
        formAct(`Stop ${v.name}`, [{ name: "forced", label: "Force stop (power off without asking the guest)", type: "checkbox" }], "stopVirtualMachine", { id: v.id }, r),
    },
    { label: "Reboot", show: (v) => v.state === "Running", run: (v, r) => confirmAct(`Reboot ${v.name}`, `Reboot ${v.name}?`, "rebootVirtualMachine", { id: v.id }, r) },
    { label: "Console", show: (v) => v.state === "Running", run: (v) => openConsole(v) },
    { label: "Migrate", show: (v) => isAdmin() && v.state === "Running", run: (v, r) => migrate(v, r) },
    {
      label: "Change offering",
      show: (v) => v.state === "Stopped" || v.state === "Running",
      run: (v, r) =>
        formAct(
          `Change offering of ${v.name}`,
          [{ name: "serviceofferingid", label: "Compute offering", type: "select", required: true, options: from("listServiceOfferings", {}, (o) => `${o.name} (${o.cpunumber} CPU, ${o.memory} MiB)`) }],
          v.state === "Running" ? "scaleVirtualMachine" : "changeServiceForVirtualMachine",
          { id: v.id },
          r,
        ),
    },
    { label: "Attach volume", show: (v) => v.state === "Running" || v.state === "Stopped", run: (v, r) => attachVolume(v, r) },
    {
      label: "Attach ISO",
      show: (v) => (v.state === "Running" || v.state === "Stopped") && !v.isoid,
      run: (v, r) =>
        formAct(
          `Attach an ISO to ${v.name}`,
          [{ name: "id", label: "ISO", type: "select", required: true, options: from("listIsos", { isofilter: "executable", zoneid: v.zoneid, isready: true }) }],
          "attachIso",
          { virtualmachineid: v.id },
          r,
        ),
    },
    { label: "Detach ISO", show: (v) => !!v.isoid, run: (v, r) => confirmAct(`Detach ISO from ${v.name}`, `Eject ${v.isoname ?? "the ISO"} from ${v.name}?`, "detachIso", { virtualmachineid: v.id }, r) },
    {
      label: "Affinity groups",
      show: (v) => v.state === "Stopped",
      run: (v, r) =>
        formAct(
          `Affinity groups of ${v.name}`,
          [
            {
              name: "affinitygroupnames",
              label: "Group names, comma separated (empty: none); they count at the next start",
              value: (v.affinitygroup ?? []).map((g: Row) => g.name).join(","),
            },
          ],
          "updateVMAffinityGroup",
          { id: v.id },
          r,
          // An emptied field is sent as a blank, which the server reads as "no group".
          (x) => ({ affinitygroupnames: String(x.affinitygroupnames ?? "").trim() || " " }),
        ),
    },
    {
      label: "Restore",
      show: (v) => v.state === "Running" || v.state === "Stopped",
      run: (v, r) =>
        formAct(
          `Restore ${v.name}`,
          [
            { name: "_info", label: "A fresh root disk from the template replaces the current one (its data is lost); a running instance is restarted.", type: "info" },
            { name: "templateid", label: "Template (default: the instance's own)", type: "select", options: from("listTemplates", { templatefilter: "executable" }) },
          ],
          "restoreVirtualMachine",
          { virtualmachineid: v.id },
          r,
        ),
    },
    { label: "Recover", show: (v) => v.state === "Destroyed", run: (v, r) => void act(`Recover ${v.name}`, "recoverVirtualMachine", { id: v.id }, r) },
    {
      label: "Destroy",
      danger: true,
      show: (v) => v.state !== "Destroyed" && v.state !== "Expunging",
      run: (v, r) =>
        formAct(
          `Destroy ${v.name}`,
          [
            { name: "_info", type: "info", label: `Destroy ${v.name}? Without expunge it can be recovered until the expunge delay passes.` },
            { name: "expunge", label: "Expunge now (cannot be undone)", type: "checkbox" },
          ],
          "destroyVirtualMachine",
          { id: v.id },
          r,
        ),
    },
  ];
}

/** Opens the VM's console (noVNC) in a new tab: the endpoint's page with its one-minute token. */
export async function openConsole(v: Row) {
  const w = window.open("", "_blank");
  try {
    const r = await api("createConsoleEndpoint", { virtualmachineid: v.id });
    const e = r.consoleendpoint ?? {};
    if (String(e.success) !== "true") throw new Error(e.details ?? "the console is not available");
    const t = encodeURIComponent(e.websocket.token);
    const url = `${location.origin}/client/console.html?token=${t}&name=${encodeURIComponent(v.displayname || v.name)}`;
    if (w) w.location.href = url;
    else location.href = url;
  } catch (e2) {
    w?.close();
    toast(`Console of ${v.name}: ${errorText(e2)}`, "error");
  }
}

function migrate(v: Row, reload: () => void) {
  formAct(
    `Migrate ${v.name}`,
    [
      {
        name: "hostid",
        label: "Destination host",
        type: "select",
        required: true,
        options: async () => {
          const r = await list("findHostsForMigration", { virtualmachineid: v.id });
          return options(
            r.items.filter((x) => String(x.suitableformigration) === "true"),
            (x) => `${x.name} — ${x.cpuallocated ?? ""} CPU allocated, ${bytes(x.memoryallocated)} memory allocated`,
          );
        },
        help: "Hosts in the VM's cluster that are Up, enabled and have room for it.",
      },
    ],
    "migrateVirtualMachine",
    { virtualmachineid: v.id },
    reload,
  );
}

function attachVolume(v: Row, reload: () => void) {
  formAct(
    `Attach a volume to ${v.name}`,
    [
      {
        name: "id",
        label: "Volume",
        type: "select",
        required: true,
        options: async () => options((await listAll("listVolumes", { listall: true, type: "DATADISK" })).filter((x) => !x.virtualmachineid && x.zoneid === v.zoneid), (x) => `${x.name} (${bytes(x.size)})`),
      },
    ],
    "attachVolume",
    { virtualmachineid: v.id },
    reload,
  );
}

export function instances(): HTMLElement {
  return h(
    "section",
    {},
    h("h1", {}, "Instances"),
    listView({
      command: "listVirtualMachines",
      columns: [
        { key: "name", label: "Name" },
        { key: "state", label: "State", render: (v) => badge(v.state) },
        { key: "ipaddress", label: "IP address", render: (v) => v.nic?.[0]?.ipaddress ?? "" },
        { key: "account", label: "Account", minor: true },
        { key: "zonename", label: "Zone", minor: true },
        { key: "serviceofferingname", label: "Offering", minor: true },
        { key: "hostname", label: "Host", minor: true },
        { key: "created", label: "Created", minor: true, render: (v) => when(v.created) },
      ],
      link: (v) => `#/instance/${v.id}`,
      actions: vmActions(),
      tools: [{ label: "+ Add instance", primary: true, run: () => void (location.hash = "#/deploy") }],
      refreshMs: 5000,
      empty: "No instances yet — Add instance starts one.",
    }),
  );
}

export function instanceDetail(id: string): HTMLElement {
  let shown = ""; // the state the page shows
  const head = h("div", { class: "detail-head" });
  const body = h("div");
  const page = h("section", {}, h("a", { href: "#/instances", class: "back" }, "← Instances"), head, body);
  const load = async () => {
    try {
      const { items } = await list("listVirtualMachines", { id, listall: true });
      const v = items[0];
      if (!v) throw new Error("this instance does not exist (or is not yours)");
      shown = String(v.state);
      document.title = `${v.name} — Canopy`;
      clear(
        head,
        h("h1", {}, v.displayname || v.name, " ", badge(v.state)),
        h("div", { class: "actions" }, vmActions().filter((a) => !a.show || a.show(v)).map((a) => h("button", { type: "button", class: a.danger ? "danger" : "", onclick: () => a.run(v, load) }, a.label))),
      );
      clear(
        body,
        tabs([
          [
            "Details",
            () =>
              details({ ...v, affinitygroups: (v.affinitygroup ?? []).map((g: Row) => `${g.name} (${g.type})`).join(", ") }, [
                ["id", "ID"],
                ["name", "Name"],
                ["displayname", "Display name"],
                ["state", "State"],
                ["instancename", "Instance name"],
                ["account", "Account"],
                ["domain", "Domain"],
                ["zonename", "Zone"],
                ["hostname", "Host"],
                ["templatename", "Template"],
                ["isoname", "ISO"],
                ["serviceofferingname", "Compute offering"],
                ["cpunumber", "CPUs"],
                ["memory", "Memory (MiB)"],
                ["keypair", "SSH key pair"],
                ["affinitygroups", "Affinity groups"],
                ["haenable", "HA"],
                ["created", "Created"],
              ]),
          ],
          [
            "NICs",
            () =>
              listView({
                command: "listNics",
                params: () => ({ virtualmachineid: v.id }),
                search: false,
                columns: [
                  { key: "networkname", label: "Network", render: (n) => n.networkname ?? n.networkid },
                  { key: "ipaddress", label: "IP" },
                  { key: "secondaryip", label: "Secondary IPs", render: (n) => (n.secondaryip ?? []).map((x: Row) => x.ipaddress).join(", ") },
                  { key: "macaddress", label: "MAC" },
                  { key: "isdefault", label: "Default", render: (n) => (n.isdefault ? "yes" : "") },
                ],
                actions: [
                  {
                    label: "Add IP",
                    run: (n, r) =>
                      formAct(`Secondary IP on ${n.networkname ?? "the NIC"}`, [{ name: "ipaddress", label: "Address (empty: the next free one)" }], "addIpToNic", { nicid: n.id }, r),
                  },
                  {
                    label: "Remove IP",
                    show: (n) => (n.secondaryip ?? []).length > 0,
                    run: (n, r) =>
                      formAct(
                        "Remove a secondary IP",
                        [{ name: "id", label: "Address", type: "select", required: true, options: (n.secondaryip ?? []).map((x: Row) => ({ value: String(x.id), label: String(x.ipaddress) })) }],
                        "removeIpFromNic",
                        {},
                        r,
                      ),
                  },
                ],
              }),
          ],
          [
            "Volumes",
            () =>
              listView({
                command: "listVolumes",
                params: () => ({ virtualmachineid: v.id }),
                search: false,
                columns: [
                  { key: "name", label: "Name" },
                  { key: "type", label: "Type" },
                  { key: "size", label: "Size", render: (x) => bytes(x.size) },
                  { key: "state", label: "State", render: (x) => badge(x.state) },
                ],
                actions: [
                  { label: "Detach", show: (x) => x.type === "DATADISK", run: (x, r) => confirmAct(`Detach ${x.name}`, `Detach ${x.name} from ${v.name}?`, "detachVolume", { id: x.id }, r) },
                  { label: "Take snapshot", show: (x) => x.state === "Ready", run: (x, r) => takeSnapshot(x, r) },
                  { label: "Create template", show: (x) => x.state === "Ready" && v.state === "Stopped", run: (x, r) => createTemplate("volumeid", x, r) },
                ],
              }),
          ],
          [
            "VM snapshots",
            () =>
              listView({
                command: "listVMSnapshot",
                params: () => ({ virtualmachineid: v.id }),
                search: false,
                columns: [
                  { key: "displayname", label: "Name" },
                  { key: "state", label: "State", render: (x) => badge(x.state) },
                  { key: "type", label: "Type" },
                  { key: "current", label: "Current", render: (x) => (x.current ? "yes" : "") },
                  { key: "created", label: "Created", minor: true },
                ],
                tools: [
                  {
                    label: "+ Take VM snapshot",
                    primary: true,
                    run: (r) =>
                      formAct(
                        `VM snapshot of ${v.name}`,
                        [
                          { name: "name", label: "Name" },
                          { name: "description", label: "Description" },
                          { name: "snapshotmemory", label: "With memory (the instance must be running; a revert resumes it where it was)", type: "checkbox" },
                        ],
                        "createVMSnapshot",
                        { virtualmachineid: v.id },
                        r,
                      ),
                  },
                ],
                actions: [
                  {
                    label: "Revert",
                    show: (x) => x.state === "Ready",
                    run: (x, r) =>
                      confirmAct(
                        `Revert ${v.name}`,
                        x.type === "DiskAndMemory" ? `Return ${v.name} to ${x.displayname}, memory included? It must be running.` : `Return the disks of ${v.name} to ${x.displayname}? It must be stopped.`,
                        "revertToVMSnapshot",
                        { vmsnapshotid: x.id },
                        r,
                      ),
                  },
                  { label: "Delete", danger: true, run: (x, r) => confirmAct(`Delete ${x.displayname}`, `Delete VM snapshot ${x.displayname}?`, "deleteVMSnapshot", { vmsnapshotid: x.id }, r) },
                ],
              }),
          ],
          [
            "Security groups",
            () => h("ul", {}, (v.securitygroup ?? []).map((g: Row) => h("li", {}, h("a", { href: `#/securitygroup/${g.id}` }, g.name)))),
          ],
          [
            "Events",
            () =>
              listView({
                command: "listEvents",
                params: () => ({ resourceid: v.id }),
                search: false,
                columns: [
                  { key: "created", label: "When", render: (e) => when(e.created) },
                  { key: "type", label: "Type" },
                  { key: "level", label: "Level" },
                  { key: "description", label: "Description" },
                ],
              }),
          ],
        ]),
      );
    } catch (e) {
      clear(head, h("h1", {}, "Instance"));
      clear(body, h("p", { class: "error" }, errorText(e)));
    }
  };
  load();
  // While the page is open, the VM's state is asked every 2 s and the page redrawn when it
  // differs from the state drawn (not from the last state seen: a change that lands between
  // the first drawing and the first poll must still redraw).
  const t = window.setInterval(() => (page.isConnected ? refreshState() : window.clearInterval(t)), 2000);
  async function refreshState() {
    try {
      const { items } = await list("listVirtualMachines", { id, listall: true });
      const s = items[0]?.state ?? "";
      if (shown && s !== shown) load();
    } catch {
      // the next tick tries again; errors show when the page loads
    }
  }
  return page;
}

// ---- the Add Instance wizard -------------------------------------------------------------

interface Choice {
  zone?: Row;
  imageKind: "template" | "iso";
  image?: Row;
  offering?: Row;
  diskOffering?: Row;
  diskSize: string;
  networks: Row[];
  groups: Row[];
  keypair: string;
  affinity: Row[];
  name: string;
}

function cards(rows: Row[], selected: (r: Row) => boolean, pick: (r: Row) => void, label: (r: Row) => Node | string, multi = false, name = "choice"): HTMLElement {
  if (!rows.length) return h("p", { class: "empty" }, "None available.");
  return h(
    "div",
    { class: "choices", role: multi ? "group" : "radiogroup" },
    rows.map((r) => {
      const input = h("input", { type: multi ? "checkbox" : "radio", name, value: r.id ?? r.name, checked: selected(r) }) as HTMLInputElement;
      input.addEventListener("change", () => pick(r));
      return h("label", { class: "choice", "data-name": r.name }, input, h("span", {}, label(r)));
    }),
  );
}

export function deployWizard(): HTMLElement {
  const steps = ["Zone", "Image", "Compute offering", "Data disk", "Networks", "Security groups", "SSH key pair", "Affinity groups", "Name", "Review"];
  const c: Choice = { imageKind: "template", diskSize: "", networks: [], groups: [], keypair: "", affinity: [], name: "" };
  let step = 0;
  const stepBar = h("ol", { class: "steps" });
  const body = h("div", { class: "step-body" });
  const err = h("p", { class: "form-error", role: "alert", hidden: true });
  const back = h("button", { type: "button" }, "‹ Back") as HTMLButtonElement;
  const next = h("button", { type: "button", class: "primary" }, "Next ›") as HTMLButtonElement;
  const page = h("section", { class: "wizard" }, h("a", { href: "#/instances", class: "back" }, "← Instances"), h("h1", {}, "Add instance"), stepBar, body, err, h("div", { class: "buttons" }, back, next));
  let sgNeeded = false;

  const fail = (e: unknown) => {
    err.hidden = false;
    err.textContent = errorText(e);
  };

  async function paint() {
    err.hidden = true;
    clear(stepBar, steps.map((s, i) => h("li", { class: i === step ? "current" : i < step ? "done" : "" }, s)));
    back.disabled = step === 0;
    next.textContent = step === steps.length - 1 ? "Launch instance" : "Next ›";
    clear(body, h("p", {}, "Loading…"));
    try {
      clear(body, await stepContent());
    } catch (e) {
      clear(body);
      fail(e);
    }
  }

  async function stepContent(): Promise<HTMLElement> {
    switch (step) {
      case 0: {
        const zones = (await listAll("listZones", { available: true })).filter((z) => z.allocationstate !== "Disabled" || isAdmin());
        if (!c.zone && zones.length === 1) c.zone = zones[0];
        return h("div", {}, h("h2", {}, "Where should it run?"), cards(zones, (z) => z.id === c.zone?.id, (z) => (c.zone = z), (z) => h("span", {}, h("b", {}, z.name), ` ${z.networktype} · ${z.allocationstate}`), false, "zone"));
      }
      case 1: {
        const holder = h("div");
        const show = async () => {
          const rows =
            c.imageKind === "template"
              ? await listAll("listTemplates", { templatefilter: "executable", zoneid: c.zone?.id, isready: true })
              : await listAll("listIsos", { isofilter: "executable", zoneid: c.zone?.id, isready: true, bootable: true });
          clear(holder, cards(rows, (r) => r.id === c.image?.id, (r) => (c.image = r), (r) => h("span", {}, h("b", {}, r.name), ` ${r.ostypename ?? ""} · ${r.displaytext ?? ""}`), false, "image"));
        };
        const kind = (k: "template" | "iso", label: string) => {
          const i = h("input", { type: "radio", name: "imagekind", value: k, checked: c.imageKind === k }) as HTMLInputElement;
          i.addEventListener("change", () => {
            c.imageKind = k;
            c.image = undefined;
            show().catch(fail);
          });
          return h("label", { class: "inline" }, i, label);
        };
        await show();
        return h("div", {}, h("h2", {}, "Template or ISO"), h("div", { class: "kinds" }, kind("template", "Templates"), kind("iso", "ISOs")), holder);
      }
      case 2: {
        const rows = await listAll("listServiceOfferings", { zoneid: c.zone?.id });
        return h("div", {}, h("h2", {}, "Compute offering"), cards(rows, (o) => o.id === c.offering?.id, (o) => (c.offering = o), (o) => h("span", {}, h("b", {}, o.name), ` ${o.cpunumber ?? "custom"} CPU × ${o.cpuspeed ?? "?"} MHz, ${o.memory ?? "custom"} MiB`), false, "offering"));
      }
      case 3: {
        const rows = await listAll("listDiskOfferings", { zoneid: c.zone?.id });
        const size = h("input", { type: "number", min: 1, name: "disksize", value: c.diskSize, placeholder: "GB" }) as HTMLInputElement;
        size.addEventListener("input", () => (c.diskSize = size.value));
        const none = { id: "", name: "No data disk" };
        return h(
          "div",
          {},
          h("h2", {}, c.imageKind === "iso" ? "Root disk (an ISO installs onto a blank disk)" : "Data disk (optional)"),
          cards([none, ...rows], (o) => (o.id || undefined) === c.diskOffering?.id, (o) => (c.diskOffering = o.id ? o : undefined), (o) => h("span", {}, h("b", {}, o.name), o.id ? ` ${o.iscustomized ? "custom size" : `${o.disksize} GB`}` : ""), false, "diskoffering"),
          h("div", { class: "field" }, h("label", {}, "Size for a custom-size offering (GB)"), size),
        );
      }
      case 4: {
        const rows = await listAll("listNetworks", { zoneid: c.zone?.id, canusefordeploy: true });
        return h(
          "div",
          {},
          h("h2", {}, "Networks"),
          h("p", { class: "hint" }, "The first one chosen is the default NIC. With none chosen, your account's isolated network in the zone is used (created when missing)."),
          cards(
            rows,
            (n) => c.networks.some((x) => x.id === n.id),
            (n) => {
              c.networks = c.networks.some((x) => x.id === n.id) ? c.networks.filter((x) => x.id !== n.id) : [...c.networks, n];
            },
            (n) => h("span", {}, h("b", {}, n.name), ` ${n.type} · ${n.cidr ?? ""}${String(n.securitygroupenabled ?? "") === "true" ? " · security groups" : ""}`),
            true,
            "network",
          ),
        );
      }
      case 5: {
        const def = c.networks[0];
        sgNeeded = !!def && (def.service ?? []).some((s: Row) => s.name === "SecurityGroup");
        if (!sgNeeded && !(c.zone?.securitygroupsenabled === true || String(c.zone?.securitygroupsenabled) === "true")) {
          return h("div", {}, h("h2", {}, "Security groups"), h("p", {}, "The default network does not use security groups: its firewall is the router's (Networks → Public IP addresses)."));
        }
        const rows = await listAll("listSecurityGroups", {});
        return h(
          "div",
          {},
          h("h2", {}, "Security groups"),
          h("p", { class: "hint" }, "None chosen: the account's default group."),
          cards(
            rows,
            (g) => c.groups.some((x) => x.id === g.id),
            (g) => (c.groups = c.groups.some((x) => x.id === g.id) ? c.groups.filter((x) => x.id !== g.id) : [...c.groups, g]),
            (g) => h("span", {}, h("b", {}, g.name), ` ${g.description ?? ""}`),
            true,
            "securitygroup",
          ),
        );
      }
      case 6: {
        const rows = await listAll("listSSHKeyPairs", {});
        const none = { name: "", fingerprint: "" };
        return h("div", {}, h("h2", {}, "SSH key pair"), cards([none, ...rows], (k) => k.name === c.keypair, (k) => (c.keypair = k.name), (k) => (k.name ? h("span", {}, h("b", {}, k.name), ` ${k.fingerprint}`) : "No key pair"), false, "keypair"));
      }
      case 7: {
        const rows = await listAll("listAffinityGroups", {});
        return h(
          "div",
          {},
          h("h2", {}, "Affinity groups"),
          h("p", { class: "hint" }, "Optional: strict anti-affinity keeps the group's instances on different hosts, strict affinity on one."),
          cards(
            rows,
            (g) => c.affinity.some((x) => x.id === g.id),
            (g) => (c.affinity = c.affinity.some((x) => x.id === g.id) ? c.affinity.filter((x) => x.id !== g.id) : [...c.affinity, g]),
            (g) => h("span", {}, h("b", {}, g.name), ` ${g.type}`),
            true,
            "affinitygroup",
          ),
        );
      }
      case 8: {
        const name = h("input", { name: "vmname", value: c.name, placeholder: "e.g. web-1 (letters, digits, hyphens)", maxlength: 63 }) as HTMLInputElement;
        name.addEventListener("input", () => (c.name = name.value.trim()));
        setTimeout(() => name.focus());
        return h("div", {}, h("h2", {}, "Name"), h("div", { class: "field" }, h("label", {}, "Name (the guest's host name; empty: generated)"), name));
      }
      default:
        return h(
          "div",
          {},
          h("h2", {}, "Review"),
          h(
            "dl",
            { class: "details review" },
            [
              ["Zone", c.zone?.name],
              [c.imageKind === "iso" ? "ISO" : "Template", c.image?.name],
              ["Compute offering", c.offering?.name],
              ["Disk", c.diskOffering ? `${c.diskOffering.name}${c.diskSize ? ` (${c.diskSize} GB)` : ""}` : "none"],
              ["Networks", c.networks.map((n) => n.name).join(", ") || "the account's default network"],
              ["Security groups", c.groups.map((g) => g.name).join(", ") || "default"],
              ["SSH key pair", c.keypair || "none"],
              ["Affinity groups", c.affinity.map((g) => g.name).join(", ") || "none"],
              ["Name", c.name || "generated"],
            ].map(([k, v]) => [h("dt", {}, k ?? ""), h("dd", {}, v ?? "")]),
          ),
        );
    }
  }

  function check(): string | null {
    if (step === 0 && !c.zone) return "Choose a zone.";
    if (step === 1 && !c.image) return `Choose a ${c.imageKind === "iso" ? "ISO" : "template"}.`;
    if (step === 2 && !c.offering) return "Choose a compute offering.";
    if (step === 3 && c.imageKind === "iso" && !c.diskOffering) return "An ISO needs a disk offering for its root disk.";
    if (step === 3 && c.diskOffering?.iscustomized && !c.diskSize) return "Give the size of the custom disk.";
    if (step === 8 && c.name && !/^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(c.name)) return "A name is letters, digits and hyphens, and does not start or end with a hyphen.";
    return null;
  }

  back.addEventListener("click", () => {
    if (step > 0) {
      step--;
      paint();
    }
  });
  next.addEventListener("click", async () => {
    const problem = check();
    if (problem) return fail(problem);
    if (step < steps.length - 1) {
      step++;
      return paint();
    }
    const params: Params = {
      zoneid: c.zone?.id,
      serviceofferingid: c.offering?.id,
      [c.imageKind === "iso" ? "isoid" : "templateid"]: c.image?.id,
      diskofferingid: c.diskOffering?.id,
      size: c.diskOffering?.iscustomized ? c.diskSize : undefined,
      networkids: c.networks.map((n) => n.id).join(",") || undefined,
      securitygroupids: c.groups.map((g) => g.id).join(",") || undefined,
      keypair: c.keypair || undefined,
      affinitygroupids: c.affinity.map((g) => g.id).join(",") || undefined,
      name: c.name || undefined,
    };
    next.disabled = true;
    next.textContent = "Launching…";
    try {
      const r = await api("deployVirtualMachine", clean(params as any));
      const label = `Deploy ${c.name || "instance"}`;
      toast(`${label}: started`, "info");
      // Followed in the background (the jobs panel, then a notification); the details page
      // shows the state as it changes.
      follow(String(r.jobid), label).then(
        (res) => toast(`${label}: ${res.virtualmachine?.state ?? "done"}`, "ok"),
        (e) => toast(`${label}: ${errorText(e)}`, "error"),
      );
      location.hash = r.id ? `#/instance/${r.id}` : "#/instances";
    } catch (e) {
      fail(e);
      next.disabled = false;
      next.textContent = "Launch instance";
    }
  });
  paint();
  return page;
}


