// Projects: the list (create, open, suspend/activate, delete) and a project's page (its
// members, adding an account, its resource counts). The header's project switcher (main.ts)
// puts the whole console into a project, as CloudStack's UI does.

import { confirmAct, formAct } from "../actions";
import { currentProject, list, role, Row, setProject } from "../api";
import { badge, clear, errorText, h } from "../dom";
import { details, listView, tabs } from "../table";

function open(p: Row) {
  setProject({ id: String(p.id), name: String(p.name) });
  location.hash = "#/instances";
  location.reload();
}

export function projects(): HTMLElement {
  const admin = role() !== "user";
  return h(
    "section",
    {},
    h("h1", {}, "Projects"),
    h("p", { class: "hint" }, "A project's instances, volumes, networks and addresses belong to the project and are shared by its members. Open one to work in it (the switcher at the top does the same)."),
    listView({
      command: "listProjects",
      params: () => (admin ? { listall: true } : {}),
      link: (p) => `#/project/${p.id}`,
      columns: [
        { key: "name", label: "Name" },
        { key: "displaytext", label: "Description", minor: true },
        { key: "state", label: "State", render: (p) => badge(p.state) },
        { key: "owner", label: "Admins", render: (p) => (p.owner ?? []).map((o: Row) => o.account).join(", ") },
        { key: "vmtotal", label: "Instances", minor: true },
        { key: "domain", label: "Domain", minor: true },
      ],
      tools: [
        {
          label: "+ Create project",
          primary: true,
          run: (r) =>
            formAct(
              "Create project",
              [
                { name: "name", label: "Name", required: true },
                { name: "displaytext", label: "Description" },
              ],
              "createProject",
              {},
              r,
            ),
        },
      ],
      actions: [
        { label: "Open", run: (p) => open(p) },
        { label: "Suspend", show: (p) => p.state === "Active", run: (p, r) => confirmAct(`Suspend ${p.name}`, `Suspend ${p.name}? Its running instances stop and nothing new can be added until it is activated.`, "suspendProject", { id: p.id }, r) },
        { label: "Activate", show: (p) => p.state === "Suspended", run: (p, r) => confirmAct(`Activate ${p.name}`, `Activate ${p.name}?`, "activateProject", { id: p.id }, r) },
        {
          label: "Delete",
          danger: true,
          run: (p, r) =>
            formAct(
              `Delete ${p.name}`,
              [{ name: "cleanup", label: "Also destroy its instances, volumes and networks", type: "checkbox" }],
              "deleteProject",
              { id: p.id },
              () => {
                if (currentProject()?.id === p.id) setProject(null);
                r();
              },
            ),
        },
      ],
    }),
  );
}

function members(p: Row): HTMLElement {
  return listView({
    command: "listProjectAccounts",
    params: () => ({ projectid: p.id }),
    search: false,
    columns: [
      { key: "account", label: "Account" },
      { key: "username", label: "User", minor: true },
      { key: "role", label: "Role" },
      { key: "domain", label: "Domain", minor: true },
    ],
    tools: [
      {
        label: "+ Add account",
        primary: true,
        run: (r) =>
          formAct(
            `Add an account to ${p.name}`,
            [
              { name: "account", label: "Account name", required: true, help: "An account of the project's domain" },
              {
                name: "roletype",
                label: "Role",
                type: "select",
                options: [
                  { value: "Regular", label: "Regular (uses the project)" },
                  { value: "Admin", label: "Admin (manages it too)" },
                ],
              },
            ],
            "addAccountToProject",
            { projectid: p.id },
            r,
          ),
      },
    ],
    actions: [
      { label: "Make Admin", show: (m) => m.role !== "Admin" && !m.userid, run: (m, r) => confirmAct(`Make ${m.account} an Admin`, `Make ${m.account} an Admin of ${p.name}?`, "updateProject", { id: p.id, account: m.account, roletype: "Admin" }, r) },
      { label: "Remove", danger: true, show: (m) => !m.userid, run: (m, r) => confirmAct(`Remove ${m.account}`, `Remove ${m.account} from ${p.name}?`, "deleteAccountFromProject", { projectid: p.id, account: m.account }, r) },
    ],
  });
}

export function projectDetail(id: string): HTMLElement {
  const back = () => h("a", { href: "#/projects", class: "back" }, "← Projects");
  const page = h("section", {}, back(), h("p", {}, "Loading…"));
  const load = async () => {
    try {
      const { items } = await list("listProjects", { id, listall: role() !== "user" });
      const p = items[0];
      if (!p) throw new Error("this project does not exist, or you are not a member");
      const t = tabs([
        ["Members", () => members(p)],
        [
          "Details",
          () =>
            details(p, [
              ["id", "ID"],
              ["name", "Name"],
              ["displaytext", "Description"],
              ["state", "State"],
              ["domain", "Domain"],
              ["projectaccountname", "Project account"],
              ["vmtotal", "Instances"],
              ["vmlimit", "Instance limit"],
              ["volumetotal", "Volumes"],
              ["iptotal", "Public IPs"],
              ["networktotal", "Networks"],
              ["created", "Created"],
            ]),
        ],
      ]);
      clear(page, back(), h("h1", {}, p.name, " ", badge(p.state)), h("p", {}, h("button", { type: "button", class: "primary", onclick: () => open(p) }, `Work in ${p.name}`)), t);
    } catch (e) {
      page.append(h("p", { class: "error" }, errorText(e)));
    }
  };
  load();
  return page;
}
