// Accounts: the domain tree, accounts, users and their API keys, resource limits; events and
// async jobs.

import { api, currentSession, Job, listAll, onJob, role, Row, trackedJobs } from "../api";
import { act, confirmAct, formAct, from } from "../actions";
import { badge, clear, errorText, formDialog, h, modal, toast, when } from "../dom";
import { listView } from "../table";

export function domains(): HTMLElement {
  const tree = h("div", { class: "tree" }, "Loading…");
  const paint = async () => {
    try {
      const rows = await listAll("listDomains", { listall: true });
      const byParent = new Map<string, Row[]>();
      for (const d of rows) {
        const p = String(d.parentdomainid ?? "");
        if (!byParent.has(p)) byParent.set(p, []);
        byParent.get(p)!.push(d);
      }
      const ids = new Set(rows.map((d) => String(d.id)));
      const node = (d: Row): HTMLElement =>
        h(
          "li",
          { "data-domain": d.path ?? d.name },
          h("span", { class: "node" }, h("b", {}, d.name), ` ${d.path ?? ""}`),
          " ",
          h("button", { type: "button", class: "small", onclick: () => formAct(`New domain under ${d.name}`, [{ name: "name", label: "Name", required: true }, { name: "networkdomain", label: "Network domain" }], "createDomain", { parentdomainid: d.id }, paint) }, "+ Subdomain"),
          d.level > 0 ? h("button", { type: "button", class: "small danger", onclick: () => confirmAct(`Delete ${d.name}`, `Delete the domain ${d.path ?? d.name} (and, with cleanup, everything in it)?`, "deleteDomain", { id: d.id, cleanup: "true" }, paint) }, "Delete") : null,
          (byParent.get(String(d.id)) ?? []).length ? h("ul", {}, (byParent.get(String(d.id)) ?? []).map(node)) : null,
        );
      const roots = rows.filter((d) => !ids.has(String(d.parentdomainid ?? "")));
      clear(tree, h("ul", {}, roots.map(node)));
    } catch (e) {
      clear(tree, h("p", { class: "error" }, errorText(e)));
    }
  };
  paint();
  return h("section", {}, h("h1", {}, "Domains"), tree);
}

const TYPES: Record<string, string> = { "0": "User", "1": "Root admin", "2": "Domain admin" };

export function accounts(): HTMLElement {
  return h(
    "section",
    {},
    h("h1", {}, "Accounts"),
    listView({
      command: "listAccounts",
      columns: [
        { key: "name", label: "Name" },
        { key: "state", label: "State", render: (a) => badge(a.state) },
        { key: "accounttype", label: "Type", render: (a) => TYPES[String(a.accounttype)] ?? String(a.accounttype) },
        { key: "domain", label: "Domain" },
        { key: "vmtotal", label: "VMs", minor: true },
      ],
      tools: [
        {
          label: "+ Add account",
          primary: true,
          run: (r) =>
            formAct(
              "Add account",
              [
                { name: "username", label: "User name", required: true },
                { name: "password", label: "Password", type: "password", required: true },
                { name: "email", label: "Email", required: true },
                { name: "firstname", label: "First name", required: true },
                { name: "lastname", label: "Last name", required: true },
                { name: "account", label: "Account name (default: the user name)" },
                { name: "domainid", label: "Domain", type: "select", options: from("listDomains", { listall: true }, (d) => d.path ?? d.name) },
                { name: "accounttype", label: "Type", type: "select", required: true, options: Object.entries(TYPES).filter(([k]) => role() === "admin" || k !== "1").map(([value, label]) => ({ value, label })) },
              ],
              "createAccount",
              {},
              r,
            ),
        },
      ],
      actions: [
        { label: "Disable", show: (a) => a.state === "enabled", run: (a, r) => confirmAct(`Disable ${a.name}`, `Disable ${a.name}? Its VMs are stopped.`, "disableAccount", { id: a.id, lock: "false" }, r) },
        { label: "Lock", show: (a) => a.state === "enabled", run: (a, r) => confirmAct(`Lock ${a.name}`, `Lock ${a.name}? Its users cannot log in; its VMs keep running.`, "disableAccount", { id: a.id, lock: "true" }, r) },
        { label: "Enable", show: (a) => a.state !== "enabled", run: (a, r) => void act(`Enable ${a.name}`, "enableAccount", { id: a.id }, r) },
        { label: "Limits", run: (a) => limitsDialog(a) },
        { label: "Delete", danger: true, run: (a, r) => confirmAct(`Delete ${a.name}`, `Delete the account ${a.name}?`, "deleteAccount", { id: a.id }, r) },
      ],
    }),
  );
}

function showKeys(u: Row, keys: Row) {
  modal(
    `API keys of ${u.username}`,
    h(
      "div",
      {},
      h("p", {}, "Use these with cs, CloudMonkey, Terraform or Ansible."),
      h("pre", { class: "key" }, `apikey:    ${keys.apikey ?? ""}\nsecretkey: ${keys.secretkey ?? ""}`),
    ),
  );
}

export function users(): HTMLElement {
  const me = currentSession();
  return h(
    "section",
    {},
    h("h1", {}, "Users"),
    listView({
      command: "listUsers",
      columns: [
        { key: "username", label: "User name" },
        { key: "state", label: "State", render: (u) => badge(u.state) },
        { key: "account", label: "Account" },
        { key: "domain", label: "Domain", minor: true },
        { key: "email", label: "Email", minor: true },
      ],
      tools:
        role() === "user"
          ? []
          : [
              {
                label: "+ Add user",
                primary: true,
                run: (r) =>
                  formAct(
                    "Add user",
                    [
                      { name: "account", label: "Account", required: true },
                      { name: "domainid", label: "Domain", type: "select", options: from("listDomains", { listall: true }, (d) => d.path ?? d.name) },
                      { name: "username", label: "User name", required: true },
                      { name: "password", label: "Password", type: "password", required: true },
                      { name: "email", label: "Email", required: true },
                      { name: "firstname", label: "First name", required: true },
                      { name: "lastname", label: "Last name", required: true },
                    ],
                    "createUser",
                    {},
                    r,
                  ),
              },
            ],
      actions: [
        {
          label: "API keys",
          run: async (u) => {
            try {
              const r = await api("getUserKeys", { id: u.id });
              const k = r.userkeys ?? r;
              if (k.apikey) showKeys(u, k);
              else
                confirmAct("Generate API keys", `${u.username} has no API keys. Generate them?`, "registerUserKeys", { id: u.id }, async () => {
                  const again = await api("getUserKeys", { id: u.id });
                  showKeys(u, again.userkeys ?? again);
                });
            } catch (e) {
              toast(errorText(e), "error");
            }
          },
        },
        { label: "Regenerate keys", run: (u, r) => confirmAct("Regenerate API keys", `New keys for ${u.username}? The old ones stop working.`, "registerUserKeys", { id: u.id }, r) },
        {
          label: "Change password",
          run: (u) =>
            formDialog(
              `Password of ${u.username}`,
              [
                ...(u.id === me?.userid && role() !== "admin" ? [{ name: "currentpassword", label: "Current password", type: "password" as const, required: true }] : []),
                { name: "password", label: "New password", type: "password", required: true },
              ],
              async (v) => {
                await api("updateUser", { id: u.id, password: v.password, currentpassword: v.currentpassword });
                toast(`Password of ${u.username} changed`, "ok");
              },
            ),
        },
        { label: "Disable", show: (u) => u.state === "enabled" && u.id !== me?.userid && role() !== "user", run: (u, r) => confirmAct(`Disable ${u.username}`, `Disable ${u.username}?`, "disableUser", { id: u.id }, r) },
        { label: "Enable", show: (u) => u.state !== "enabled" && role() !== "user", run: (u, r) => void act(`Enable ${u.username}`, "enableUser", { id: u.id }, r) },
        { label: "Delete", danger: true, show: (u) => u.id !== me?.userid && role() !== "user", run: (u, r) => confirmAct(`Delete ${u.username}`, `Delete the user ${u.username}?`, "deleteUser", { id: u.id }, r) },
      ],
    }),
  );
}

const RESOURCES: Record<string, string> = { "0": "Instances", "1": "Public IPs", "2": "Volumes", "3": "Snapshots", "4": "Templates", "6": "Networks", "7": "VPCs", "8": "CPU cores", "9": "Memory (MiB)", "10": "Primary storage (GiB)", "11": "Secondary storage (GiB)" };

function limitsTable(params: Row, editable: boolean): HTMLElement {
  const box = h("div", {}, "Loading…");
  const paint = async () => {
    try {
      const rows = await listAll("listResourceLimits", params);
      clear(
        box,
        h(
          "table",
          { class: "plain limits" },
          h("tr", {}, h("th", {}, "Resource"), h("th", {}, "Limit"), editable ? h("th", {}, "") : null),
          rows.map((l) =>
            h(
              "tr",
              { "data-resource": l.resourcetype },
              h("td", {}, RESOURCES[String(l.resourcetype)] ?? l.resourcetypename ?? l.resourcetype),
              h("td", {}, Number(l.max) < 0 ? "unlimited" : String(l.max)),
              editable
                ? h(
                    "td",
                    {},
                    h(
                      "button",
                      {
                        type: "button",
                        class: "small",
                        onclick: () => formAct("Change limit", [{ name: "max", label: "Maximum (-1: unlimited)", type: "number", value: String(l.max) }], "updateResourceLimit", { ...params, resourcetype: l.resourcetype }, paint),
                      },
                      "Change",
                    ),
                  )
                : null,
            ),
          ),
        ),
      );
    } catch (e) {
      clear(box, h("p", { class: "error" }, errorText(e)));
    }
  };
  paint();
  return box;
}

function limitsDialog(a: Row) {
  modal(`Limits of ${a.name}`, limitsTable({ account: a.name, domainid: a.domainid }, role() !== "user"));
}

export function limits(): HTMLElement {
  return h("section", {}, h("h1", {}, "Resource limits"), h("p", { class: "hint" }, role() === "user" ? "Your account's limits." : "Your account's limits; an account's are under Accounts → Limits."), limitsTable({}, false));
}

export function events(): HTMLElement {
  return h(
    "section",
    {},
    h("h1", {}, "Events"),
    listView({
      command: "listEvents",
      columns: [
        { key: "created", label: "When", render: (e) => when(e.created) },
        { key: "level", label: "Level", render: (e) => badge(e.level) },
        { key: "type", label: "Type" },
        { key: "description", label: "Description" },
        { key: "username", label: "User", minor: true },
        { key: "account", label: "Account", minor: true },
      ],
      refreshMs: 10000,
    }),
  );
}

export function jobsPage(): HTMLElement {
  const mine = h("div");
  const paint = () =>
    clear(
      mine,
      h("h2", {}, "Started from this browser"),
      trackedJobs().length
        ? h(
            "table",
            { class: "plain" },
            h("tr", {}, ["Job", "Status", "Started", "Took", "Result"].map((x) => h("th", {}, x))),
            trackedJobs().map((j: Job) =>
              h(
                "tr",
                { "data-job": j.id },
                h("td", {}, j.label),
                h(
                  "td",
                  {},
                  badge(j.status === "running" ? "Running" : j.status === "done" ? "Succeeded" : "Failed"),
                  j.status === "running" ? [h("span", { class: "spinner" }), ` ${j.progress ?? 0}%`] : null,
                ),
                h("td", {}, new Date(j.started).toLocaleTimeString()),
                h("td", {}, j.finished ? `${((j.finished - j.started) / 1000).toFixed(1)} s` : `${((Date.now() - j.started) / 1000).toFixed(0)} s…`),
                h("td", {}, j.text ?? ""),
              ),
            ),
          )
        : h("p", {}, "None yet."),
    );
  paint();
  const off = onJob(() => (mine.isConnected ? paint() : off()));
  return h(
    "section",
    {},
    h("h1", {}, "Async jobs"),
    mine,
    h("h2", {}, "Recent jobs of the account"),
    listView({
      command: "listAsyncJobs",
      search: false,
      columns: [
        { key: "cmd", label: "Command", render: (j) => String(j.cmd ?? "").split(".").pop() ?? "" },
        { key: "jobstatus", label: "Status", render: (j) => badge(["Running", "Succeeded", "Failed"][Number(j.jobstatus)] ?? String(j.jobstatus)) },
        { key: "jobprocstatus", label: "Progress", render: (j) => `${j.jobprocstatus ?? 0}%` },
        { key: "created", label: "Created", render: (j) => when(j.created) },
        { key: "jobinstancetype", label: "Resource", minor: true },
        { key: "jobresult", label: "Result", render: (j) => (Number(j.jobstatus) === 2 ? String(j.jobresult?.errortext ?? "") : "") },
      ],
      refreshMs: 5000,
    }),
  );
}
