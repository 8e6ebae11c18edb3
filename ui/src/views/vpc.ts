// VPCs: the VPC list, a VPC's page (its tiers, its network ACL lists with an ordered rule
// editor, its internal load balancers) and the service tags (root admins manage them; every
// one sees them, as ACL items name them).

import { list, listAll, role, Row } from "../api";
import { act, clean, confirmAct, formAct, from } from "../actions";
import { badge, clear, errorText, h } from "../dom";
import { details, listView, tabs } from "../table";

const PROTOCOLS = [
  { value: "tcp", label: "TCP" },
  { value: "udp", label: "UDP" },
  { value: "icmp", label: "ICMP" },
  { value: "all", label: "All" },
];

const ALGORITHMS = [
  { value: "roundrobin", label: "Round robin" },
  { value: "leastconn", label: "Least connections" },
  { value: "source", label: "Source" },
];

const ports = (r: Row) => (r.startport !== undefined && r.startport !== "" ? (r.startport === r.endport || r.endport === undefined ? String(r.startport) : `${r.startport}-${r.endport}`) : r.icmptype !== undefined ? `icmp ${r.icmptype}/${r.icmpcode}` : "all");

export function vpcs(): HTMLElement {
  return h(
    "section",
    {},
    h("h1", {}, "VPCs"),
    listView({
      command: "listVPCs",
      columns: [
        { key: "name", label: "Name" },
        { key: "state", label: "State", render: (v) => badge(v.state) },
        { key: "cidr", label: "Super CIDR" },
        { key: "networkdomain", label: "Domain", minor: true },
        { key: "network", label: "Tiers", render: (v) => String((v.network as Row[] | undefined)?.length ?? 0) },
        { key: "zonename", label: "Zone", minor: true },
        { key: "account", label: "Account", minor: true },
      ],
      link: (v) => `#/vpc/${v.id}`,
      tools: [
        {
          label: "+ Create VPC",
          primary: true,
          run: (r) =>
            formAct(
              "Create VPC",
              [
                { name: "name", label: "Name", required: true },
                { name: "displaytext", label: "Description" },
                { name: "zoneid", label: "Zone", type: "select", required: true, options: from("listZones") },
                { name: "vpcofferingid", label: "VPC offering", type: "select", required: true, options: from("listVPCOfferings", { state: "Enabled" }) },
                { name: "cidr", label: "Super CIDR", required: true, placeholder: "10.10.0.0/16" },
                { name: "networkdomain", label: "Network domain", placeholder: "prod.vpc" },
              ],
              "createVPC",
              {},
              r,
            ),
        },
      ],
      actions: [
        { label: "Restart", run: (v, r) => formAct(`Restart ${v.name}`, [{ name: "cleanup", label: "Clean up (a new router)", type: "checkbox" }], "restartVPC", { id: v.id }, r) },
        { label: "Delete", danger: true, run: (v, r) => confirmAct(`Delete ${v.name}`, `Delete the VPC ${v.name}? Its tiers must be deleted first.`, "deleteVPC", { id: v.id }, r) },
      ],
    }),
  );
}

export function vpcDetail(id: string): HTMLElement {
  const back = () => h("a", { href: "#/vpcs", class: "back" }, "← VPCs");
  const page = h("section", {}, back(), h("p", {}, "Loading…"));
  (async () => {
    try {
      const { items } = await list("listVPCs", { id, listall: true });
      const v = items[0];
      if (!v) throw new Error("this VPC does not exist (or is not yours)");
      clear(
        page,
        back(),
        h("h1", {}, v.name, " ", badge(v.state)),
        tabs([
          [
            "Details",
            () =>
              details(v, [
                ["id", "ID"],
                ["cidr", "Super CIDR"],
                ["networkdomain", "Network domain"],
                ["vpcofferingname", "Offering"],
                ["zonename", "Zone"],
                ["account", "Account"],
              ]),
          ],
          ["Tiers", () => tiers(v)],
          ["Network ACL lists", () => aclLists(v)],
          ["Internal load balancers", () => internalLbs(v)],
        ]),
      );
    } catch (e) {
      page.append(h("p", { class: "error" }, errorText(e)));
    }
  })();
  return page;
}

function tiers(v: Row): HTMLElement {
  return listView({
    command: "listNetworks",
    params: () => ({ vpcid: v.id, listall: true }),
    columns: [
      { key: "name", label: "Name" },
      { key: "state", label: "State", render: (n) => badge(n.state) },
      { key: "cidr", label: "CIDR" },
      { key: "aclname", label: "ACL list" },
    ],
    link: (n) => `#/network/${n.id}`,
    tools: [
      {
        label: "+ Add tier",
        primary: true,
        run: (r) =>
          formAct(
            "Add tier",
            [
              { name: "name", label: "Name", required: true },
              { name: "networkofferingid", label: "Network offering", type: "select", required: true, options: from("listNetworkOfferings", { forvpc: true, state: "Enabled" }) },
              { name: "gateway", label: "Gateway", required: true, placeholder: "10.10.1.1" },
              { name: "netmask", label: "Netmask", required: true, value: "255.255.255.0" },
              { name: "aclid", label: "ACL list", type: "select", options: from("listNetworkACLLists", { vpcid: v.id }) },
            ],
            "createNetwork",
            { vpcid: v.id, zoneid: v.zoneid },
            r,
          ),
      },
    ],
    actions: [
      {
        label: "Replace ACL list",
        run: (n, r) =>
          formAct(`ACL list of ${n.name}`, [{ name: "aclid", label: "ACL list", type: "select", required: true, options: from("listNetworkACLLists", { vpcid: v.id }) }], "replaceNetworkACLList", { networkid: n.id }, r),
      },
      { label: "Delete", danger: true, run: (n, r) => confirmAct(`Delete ${n.name}`, `Delete the tier ${n.name}?`, "deleteNetwork", { id: n.id }, r) },
    ],
  });
}

function aclLists(v: Row): HTMLElement {
  const editor = h("div", { class: "acl-editor" });
  const lists = listView({
    command: "listNetworkACLLists",
    params: () => ({ vpcid: v.id }),
    search: false,
    columns: [
      { key: "name", label: "Name" },
      { key: "description", label: "Description" },
      { key: "vpcid", label: "Scope", render: (l) => (l.vpcid ? "this VPC" : "built-in") },
    ],
    tools: [
      {
        label: "+ Create ACL list",
        primary: true,
        run: (r) => formAct("Create ACL list", [{ name: "name", label: "Name", required: true }, { name: "description", label: "Description" }], "createNetworkACLList", { vpcid: v.id }, r),
      },
    ],
    actions: [
      { label: "Rules", run: (l) => void clear(editor, aclRules(l)) },
      { label: "Delete", danger: true, show: (l) => !!l.vpcid, run: (l, r) => confirmAct(`Delete ${l.name}`, `Delete the ACL list ${l.name}?`, "deleteNetworkACLList", { id: l.id }, r) },
    ],
  });
  return h("div", {}, lists, editor);
}

/** A list's rules in evaluation order (lowest number first), moved with moveNetworkAclItem. */
function aclRules(l: Row): HTMLElement {
  const builtin = !l.vpcid;
  let rows: Row[] = [];
  const ordered = async () => {
    rows = (await listAll("listNetworkACLs", { aclid: l.id as string })).sort((a, b) => Number(a.number) - Number(b.number));
    return rows;
  };
  const move = async (x: Row, dir: -1 | 1, reload: () => void) => {
    const all = await ordered();
    const i = all.findIndex((r) => r.id === x.id);
    const j = i + dir;
    if (i < 0 || j < 0 || j >= all.length) return;
    // The item goes between its new neighbours: above the one before (up), below the one after (down).
    const [prev, next] = dir < 0 ? [all[j - 1], all[j]] : [all[j], all[j + 1]];
    const params: Record<string, string> = { id: x.id as string };
    if (prev) params.previousaclruleid = prev.id as string;
    if (next) params.nextaclruleid = next.id as string;
    await act(`Move rule ${x.number}`, "moveNetworkAclItem", params, reload);
  };
  return h(
    "div",
    { class: "acl-rules" },
    h("h2", {}, `Rules of ${l.name}`, builtin ? " (built-in: read only)" : ""),
    h("p", { class: "hint" }, "Evaluated lowest number first; the first rule that matches decides. A list without rules denies ingress and allows egress."),
    listView({
      command: "listNetworkACLs",
      params: () => ({ aclid: l.id as string }),
      search: false,
      sort: { key: "number" },
      pageSize: 500,
      columns: [
        { key: "number", label: "#" },
        { key: "traffictype", label: "Traffic" },
        { key: "action", label: "Action", render: (r) => badge(r.action) },
        { key: "protocol", label: "Protocol" },
        { key: "startport", label: "Ports", render: ports },
        { key: "cidrlist", label: "CIDRs or service tags" },
        { key: "reason", label: "Reason", minor: true },
      ],
      tools: builtin
        ? []
        : [
            {
              label: "+ Add rule",
              primary: true,
              run: (r) =>
                formAct(
                  "Add rule",
                  [
                    { name: "number", label: "Number (empty: after the last)", type: "number" },
                    { name: "traffictype", label: "Traffic", type: "select", required: true, options: [{ value: "Ingress", label: "Ingress" }, { value: "Egress", label: "Egress" }] },
                    { name: "action", label: "Action", type: "select", required: true, options: [{ value: "Allow", label: "Allow" }, { value: "Deny", label: "Deny" }] },
                    { name: "protocol", label: "Protocol", type: "select", required: true, options: PROTOCOLS },
                    { name: "startport", label: "Start port", type: "number", when: (x) => x.protocol === "tcp" || x.protocol === "udp" },
                    { name: "endport", label: "End port", type: "number", when: (x) => x.protocol === "tcp" || x.protocol === "udp" },
                    { name: "cidrlist", label: "CIDRs or service tags", placeholder: "0.0.0.0/0, Storage" },
                    { name: "reason", label: "Reason" },
                  ],
                  "createNetworkACL",
                  { aclid: l.id as string },
                  r,
                ),
            },
          ],
      actions: builtin
        ? []
        : [
            { label: "↑", run: (x, r) => move(x, -1, r) },
            { label: "↓", run: (x, r) => move(x, 1, r) },
            { label: "Delete", danger: true, run: (x, r) => confirmAct(`Delete rule ${x.number}`, `Delete rule ${x.number}?`, "deleteNetworkACL", { id: x.id }, r) },
          ],
    }),
  );
}

function internalLbs(v: Row): HTMLElement {
  const tierOptions = from("listNetworks", { vpcid: v.id as string, listall: "true" });
  return listView({
    command: "listLoadBalancers",
    params: () => ({ vpcid: v.id, listall: true }),
    search: false,
    columns: [
      { key: "name", label: "Name" },
      { key: "dnsname", label: "DNS name" },
      { key: "sourceipaddress", label: "Address" },
      { key: "loadbalancerrule", label: "Ports", render: (x) => ((x.loadbalancerrule as Row[] | undefined) ?? []).map((p) => `${p.sourceport} → ${p.instanceport}`).join(", ") },
      { key: "algorithm", label: "Algorithm", minor: true },
      { key: "loadbalancerinstance", label: "Members", render: (x) => ((x.loadbalancerinstance as Row[] | undefined) ?? []).map((m) => m.name).join(", ") },
    ],
    tools: [
      {
        label: "+ Create internal load balancer",
        primary: true,
        run: (r) =>
          formAct(
            "Create internal load balancer",
            [
              { name: "name", label: "Name (its DNS name in the VPC's domain)", required: true },
              { name: "networkid", label: "Tier", type: "select", required: true, options: tierOptions },
              { name: "sourceport", label: "Port", type: "number", required: true },
              { name: "instanceport", label: "Instance port", type: "number", required: true },
              { name: "algorithm", label: "Algorithm", type: "select", required: true, options: ALGORITHMS },
              { name: "sourceipaddress", label: "Address (empty: the next free one)" },
            ],
            "createLoadBalancer",
            { scheme: "Internal" },
            r,
            (x) => ({ ...clean(x), scheme: "Internal", sourceipaddressnetworkid: String(x.networkid) }),
          ),
      },
    ],
    actions: [
      {
        label: "Add members",
        run: (x, r) =>
          formAct(
            `Members of ${x.name}`,
            [{ name: "virtualmachineids", label: "Instance", type: "select", required: true, options: from("listVirtualMachines", { networkid: String(x.networkid) }) }],
            "assignToLoadBalancerRule",
            { id: x.id },
            r,
          ),
      },
      { label: "Delete", danger: true, run: (x, r) => confirmAct(`Delete ${x.name}`, `Delete the internal load balancer ${x.name}?`, "deleteLoadBalancer", { id: x.id }, r) },
    ],
  });
}

export function serviceTags(): HTMLElement {
  const admin = role() === "admin";
  return h(
    "section",
    {},
    h("h1", {}, "Service tags"),
    h("p", { class: "hint" }, "Named address groups network ACL rules and egress rules name in place of a CIDR; when a tag's addresses change, every router using it follows, no rule changes."),
    listView({
      command: "listServiceTags",
      columns: [
        { key: "name", label: "Name" },
        { key: "cidrlist", label: "Addresses" },
        { key: "description", label: "Description", minor: true },
        { key: "builtin", label: "Built-in", render: (t) => (t.builtin ? "yes" : "") },
      ],
      tools: admin
        ? [
            {
              label: "+ Create service tag",
              primary: true,
              run: (r) =>
                formAct(
                  "Create service tag",
                  [
                    { name: "name", label: "Name", required: true },
                    { name: "cidrlist", label: "CIDRs", required: true, placeholder: "198.51.100.0/24" },
                    { name: "description", label: "Description" },
                  ],
                  "createServiceTag",
                  {},
                  r,
                ),
            },
          ]
        : [],
      actions: admin
        ? [
            { label: "Edit addresses", show: (t) => !t.builtin, run: (t, r) => formAct(`Addresses of ${t.name}`, [{ name: "cidrlist", label: "CIDRs", required: true, value: String(t.cidrlist ?? "") }], "updateServiceTag", { id: t.id }, r) },
            { label: "Delete", danger: true, show: (t) => !t.builtin, run: (t, r) => confirmAct(`Delete ${t.name}`, `Delete the service tag ${t.name}?`, "deleteServiceTag", { id: t.id }, r) },
          ]
        : [],
    }),
  );
}
