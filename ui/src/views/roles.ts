// Roles with their permission rules (root admins; domain admins see the list) and instance
// groups (every account's own).

import { act, confirmAct, formAct } from "../actions";
import { list, role, Row } from "../api";
import { badge, clear, errorText, h } from "../dom";
import { details, listView, tabs } from "../table";

const TYPES = ["User", "DomainAdmin", "ResourceAdmin", "Admin"];

export function roles(): HTMLElement {
  const admin = role() === "admin";
  return h(
    "section",
    {},
    h("h1", {}, "Roles"),
    h(
      "p",
      { class: "hint" },
      "A role's rules are API names or patterns with * (list*, *VirtualMachine), each allowing or denying; the first rule that matches a command decides, and a command no rule matches falls back to what the role's type may do. The default roles have no rules.",
    ),
    listView({
      command: "listRoles",
      link: (r) => (admin ? `#/role/${r.id}` : undefined),
      columns: [
        { key: "name", label: "Name" },
        { key: "type", label: "Type" },
        { key: "isdefault", label: "Default", render: (r) => (r.isdefault ? "yes" : "") },
        { key: "ispublic", label: "Public", render: (r) => (r.ispublic ? "yes" : "no"), minor: true },
        { key: "description", label: "Description", minor: true },
      ],
      tools: admin
        ? [
            {
              label: "+ Create role",
              primary: true,
              run: (r) =>
                formAct(
                  "Create role",
                  [
                    { name: "name", label: "Name", required: true },
                    { name: "type", label: "Type", type: "select", required: true, options: TYPES.map((t) => ({ value: t, label: t })) },
                    { name: "description", label: "Description" },
                  ],
                  "createRole",
                  {},
                  r,
                ),
            },
          ]
        : [],
      actions: admin
        ? [
            {
              label: "Clone",
              run: (g, r) => formAct(`Clone ${g.name}`, [{ name: "name", label: "Name of the copy", required: true }], "createRole", { roleid: g.id }, r),
            },
            {
              label: "Delete",
              danger: true,
              show: (g) => !g.isdefault,
              run: (g, r) => confirmAct(`Delete ${g.name}`, `Delete the role ${g.name}? (No account may have it.)`, "deleteRole", { id: g.id }, r),
            },
          ]
        : [],
    }),
  );
}

/** The rules of a role, in order: add, move, flip, delete. */
function ruleEditor(r: Row): HTMLElement {
  const editable = !(r.isdefault && r.type === "Admin");
  const box = h("div", {}, "Loading…");
  const paint = async () => {
    try {
      const { items } = await list("listRolePermissions", { roleid: r.id });
      const order = items.map((p) => String(p.id));
      const move = async (i: number, by: number) => {
        const j = i + by;
        if (j < 0 || j >= order.length) return;
        [order[i], order[j]] = [order[j], order[i]];
        await act("Reorder rules", "updateRolePermission", { roleid: r.id, ruleorder: order.join(",") }, paint);
      };
      const rows = items.map((p, i) =>
        h(
          "tr",
          { "data-rule": p.rule },
          h("td", {}, String(i + 1)),
          h("td", {}, h("code", {}, p.rule)),
          h("td", {}, badge(p.permission)),
          h("td", { class: "minor" }, p.description ?? ""),
          h(
            "td",
            {},
            editable
              ? [
                  h("button", { type: "button", class: "small", disabled: i === 0, onclick: () => move(i, -1) }, "↑"),
                  h("button", { type: "button", class: "small", disabled: i === items.length - 1, onclick: () => move(i, 1) }, "↓"),
                  h(
                    "button",
                    {
                      type: "button",
                      class: "small",
                      onclick: () => act(`${p.permission === "allow" ? "Deny" : "Allow"} ${p.rule}`, "updateRolePermission", { roleid: r.id, ruleid: p.id, permission: p.permission === "allow" ? "deny" : "allow" }, paint),
                    },
                    p.permission === "allow" ? "Deny" : "Allow",
                  ),
                  h("button", { type: "button", class: "small danger", onclick: () => confirmAct(`Delete rule ${p.rule}`, `Delete the rule ${p.permission} ${p.rule}?`, "deleteRolePermission", { id: p.id }, paint) }, "Delete"),
                ]
              : null,
          ),
        ),
      );
      clear(
        box,
        editable
          ? h(
              "button",
              {
                type: "button",
                class: "primary",
                onclick: () =>
                  formAct(
                    "Add rule",
                    [
                      { name: "rule", label: "API name or pattern (list*, *VirtualMachine)", required: true },
                      { name: "permission", label: "Permission", type: "select", required: true, options: [{ value: "allow", label: "allow" }, { value: "deny", label: "deny" }] },
                      { name: "description", label: "Description" },
                    ],
                    "createRolePermission",
                    { roleid: r.id },
                    paint,
                  ),
              },
              "+ Add rule",
            )
          : h("p", { class: "hint" }, "The root admins' own role is not changed."),
        items.length
          ? h("table", { class: "list rules" }, h("thead", {}, h("tr", {}, ["#", "Rule", "Permission", "Description", ""].map((t) => h("th", {}, t)))), h("tbody", {}, rows))
          : h("p", { class: "hint" }, "No rules: the role's accounts may call what its type may."),
      );
    } catch (e) {
      clear(box, h("p", { class: "error" }, errorText(e)));
    }
  };
  paint();
  return box;
}

export function roleDetail(id: string): HTMLElement {
  const back = () => h("a", { href: "#/roles", class: "back" }, "← Roles");
  const page = h("section", {}, back(), h("p", {}, "Loading…"));
  const load = async () => {
    try {
      const { items } = await list("listRoles", { id });
      const r = items[0];
      if (!r) throw new Error("this role does not exist");
      const t = tabs([
        ["Rules", () => ruleEditor(r)],
        ["Details", () => details(r, [["id", "ID"], ["name", "Name"], ["type", "Type"], ["description", "Description"], ["isdefault", "Default"], ["ispublic", "Public"]])],
      ]);
      clear(page, back(), h("h1", {}, r.name), t);
    } catch (e) {
      page.append(h("p", { class: "error" }, errorText(e)));
    }
  };
  load();
  return page;
}

export function instanceGroups(): HTMLElement {
  return h(
    "section",
    {},
    h("h1", {}, "Instance groups"),
    h("p", { class: "hint" }, "Name groups of your instances; an instance joins one when it is deployed or edited (a new name makes a new group)."),
    listView({
      command: "listInstanceGroups",
      columns: [
        { key: "name", label: "Name" },
        { key: "account", label: "Account", minor: true },
        { key: "created", label: "Created", minor: true },
      ],
      tools: [
        {
          label: "+ Create instance group",
          primary: true,
          run: (r) => formAct("Create instance group", [{ name: "name", label: "Name", required: true }], "createInstanceGroup", {}, r),
        },
      ],
      actions: [
        { label: "Rename", run: (g, r) => formAct(`Rename ${g.name}`, [{ name: "name", label: "New name", required: true }], "updateInstanceGroup", { id: g.id }, r) },
        { label: "Delete", danger: true, run: (g, r) => confirmAct(`Delete ${g.name}`, `Delete the instance group ${g.name}? Its instances leave it.`, "deleteInstanceGroup", { id: g.id }, r) },
      ],
    }),
  );
}
