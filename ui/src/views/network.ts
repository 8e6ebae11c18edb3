// Networks: guest networks (egress rules, static routes), public IP addresses (static NAT,
// port forwarding, firewall, load balancers with members and stickiness, remote-access VPN),
// security groups with their ingress and egress rule editors, and VPN users.

import { list, listAll, role, Row } from "../api";
import { act, clean, confirmAct, formAct, from } from "../actions";
import { badge, clear, errorText, Field, h, options } from "../dom";
import { details, listView, tabs } from "../table";
import { lbCertActions } from "./certs";

const PROTOCOLS = [
  { value: "tcp", label: "TCP" },
  { value: "udp", label: "UDP" },
  { value: "icmp", label: "ICMP" },
  { value: "all", label: "All" },
];

const ports = (r: Row) => (r.startport !== undefined && r.startport !== "" ? (r.startport === r.endport || r.endport === undefined ? String(r.startport) : `${r.startport}-${r.endport}`) : r.icmptype !== undefined ? `icmp ${r.icmptype}/${r.icmpcode}` : "all");

export function networks(): HTMLElement {
  return h(
    "section",
    {},
    h("h1", {}, "Guest networks"),
    listView({
      command: "listNetworks",
      columns: [
        { key: "name", label: "Name" },
        { key: "state", label: "State", render: (n) => badge(n.state) },
        { key: "type", label: "Type" },
        { key: "cidr", label: "CIDR" },
        { key: "zonename", label: "Zone", minor: true },
        { key: "account", label: "Account", minor: true },
        { key: "broadcasturi", label: "Broadcast", minor: true },
      ],
      link: (n) => `#/network/${n.id}`,
      tools: [
        {
          label: "+ Create network",
          primary: true,
          run: (r) =>
            formAct(
              "Create network",
              [
                { name: "name", label: "Name", required: true },
                { name: "displaytext", label: "Description" },
                { name: "zoneid", label: "Zone", type: "select", required: true, options: from("listZones") },
                { name: "networkofferingid", label: "Network offering", type: "select", required: true, options: from("listNetworkOfferings", { state: "Enabled" }, (o) => `${o.name} (${o.guestiptype})`) },
                { name: "gateway", label: "Gateway (optional for isolated)" },
                { name: "netmask", label: "Netmask" },
                { name: "startip", label: "Start IP (shared)" },
                { name: "endip", label: "End IP (shared)" },
                ...(role() === "admin" ? [{ name: "vlan", label: "VLAN / VNI (shared, e.g. vxlan://5000)" }] : []),
                { name: "networkdomain", label: "Network domain" },
              ],
              "createNetwork",
              {},
              r,
            ),
        },
      ],
      actions: [
        { label: "Restart", run: (n, r) => formAct(`Restart ${n.name}`, [{ name: "cleanup", label: "Clean up (rebuild the router)", type: "checkbox" }], "restartNetwork", { id: n.id }, r) },
        { label: "Delete", danger: true, run: (n, r) => confirmAct(`Delete ${n.name}`, `Delete the network ${n.name}?`, "deleteNetwork", { id: n.id }, r) },
      ],
    }),
  );
}

export function networkDetail(id: string): HTMLElement {
  const page = h("section", {}, h("a", { href: "#/networks", class: "back" }, "← Guest networks"), h("p", {}, "Loading…"));
  (async () => {
    try {
      const { items } = await list("listNetworks", { id, listall: true });
      const n = items[0];
      if (!n) throw new Error("this network does not exist (or is not yours)");
      clear(
        page,
        h("a", { href: "#/networks", class: "back" }, "← Guest networks"),
        h("h1", {}, n.name, " ", badge(n.state)),
        tabs([
          [
            "Details",
            () =>
              details(n, [
                ["id", "ID"],
                ["type", "Type"],
                ["cidr", "CIDR"],
                ["gateway", "Gateway"],
                ["networkdomain", "Network domain"],
                ["networkofferingname", "Offering"],
                ["broadcasturi", "Broadcast URI"],
                ["zonename", "Zone"],
                ["account", "Account"],
              ]),
          ],
          ["Egress rules", () => egressRules(n)],
          ["Static routes", () => staticRoutes(n)],
          [
            "Instances",
            () =>
              listView({
                command: "listVirtualMachines",
                params: () => ({ networkid: n.id }),
                columns: [
                  { key: "name", label: "Name" },
                  { key: "state", label: "State", render: (v) => badge(v.state) },
                ],
                link: (v) => `#/instance/${v.id}`,
              }),
          ],
        ]),
      );
    } catch (e) {
      page.append(h("p", { class: "error" }, errorText(e)));
    }
  })();
  return page;
}

function egressRules(n: Row): HTMLElement {
  return listView({
    command: "listEgressFirewallRules",
    params: () => ({ networkid: n.id }),
    search: false,
    columns: [
      { key: "protocol", label: "Protocol" },
      { key: "startport", label: "Ports", render: ports },
      { key: "cidrlist", label: "Source CIDRs" },
      { key: "destcidrlist", label: "Destination CIDRs" },
      { key: "state", label: "State", render: (r) => badge(r.state) },
    ],
    tools: [
      {
        label: "+ Add egress rule",
        primary: true,
        run: (r) =>
          formAct(
            "Add egress rule",
            [
              { name: "protocol", label: "Protocol", type: "select", required: true, options: PROTOCOLS },
              { name: "startport", label: "Start port", type: "number", when: (v) => v.protocol === "tcp" || v.protocol === "udp" },
              { name: "endport", label: "End port", type: "number", when: (v) => v.protocol === "tcp" || v.protocol === "udp" },
              { name: "cidrlist", label: "Source CIDRs (inside the network)", value: n.cidr ?? "" },
              { name: "destcidrlist", label: "Destination CIDRs", placeholder: "0.0.0.0/0" },
            ],
            "createEgressFirewallRule",
            { networkid: n.id },
            r,
          ),
      },
    ],
    actions: [{ label: "Delete", danger: true, run: (x, r) => confirmAct("Delete egress rule", "Delete this egress rule?", "deleteEgressFirewallRule", { id: x.id }, r) }],
  });
}

function staticRoutes(n: Row): HTMLElement {
  return listView({
    command: "listStaticRoutes",
    params: () => ({ networkid: n.id }),
    search: false,
    columns: [
      { key: "cidr", label: "Destination" },
      { key: "nexthop", label: "Next hop" },
      { key: "interface", label: "Interface" },
      { key: "metric", label: "Metric" },
      { key: "state", label: "State", render: (r) => badge(r.state) },
    ],
    tools: [
      {
        label: "+ Add static route",
        primary: true,
        run: (r) =>
          formAct(
            "Add static route",
            [
              { name: "cidr", label: "Destination CIDR", required: true },
              { name: "nexthop", label: "Next hop", required: true },
              { name: "interface", label: "Interface", type: "select", options: [{ value: "guest", label: "guest" }, { value: "public", label: "public" }] },
              { name: "metric", label: "Metric", type: "number", value: "0" },
            ],
            "createStaticRoute",
            { networkid: n.id },
            r,
          ),
      },
    ],
    actions: [{ label: "Delete", danger: true, run: (x, r) => confirmAct("Delete static route", `Delete the route to ${x.cidr}?`, "deleteStaticRoute", { id: x.id }, r) }],
  });
}

// ---- public IP addresses ---------------------------------------------------------------

export function publicIps(): HTMLElement {
  return h(
    "section",
    {},
    h("h1", {}, "Public IP addresses"),
    listView({
      command: "listPublicIpAddresses",
      columns: [
        { key: "ipaddress", label: "IP address" },
        { key: "state", label: "State", render: (i) => badge(i.state) },
        { key: "associatednetworkname", label: "Network" },
        { key: "issourcenat", label: "Source NAT", render: (i) => (String(i.issourcenat) === "true" ? "yes" : "") },
        { key: "virtualmachinename", label: "Static NAT to", render: (i) => i.virtualmachinename ?? "" },
        { key: "zonename", label: "Zone", minor: true },
        { key: "account", label: "Account", minor: true },
      ],
      link: (i) => `#/publicip/${i.id}`,
      tools: [
        {
          label: "+ Acquire IP",
          primary: true,
          run: (r) =>
            formAct(
              "Acquire a public IP address",
              [{ name: "networkid", label: "For network", type: "select", required: true, options: async () => options((await listAll("listNetworks", { type: "Isolated" })).filter((n) => n.type === "Isolated"), (n) => `${n.name} (${n.cidr})`) }],
              "associateIpAddress",
              {},
              r,
            ),
        },
      ],
      actions: [{ label: "Release", danger: true, show: (i) => String(i.issourcenat) !== "true", run: (i, r) => confirmAct(`Release ${i.ipaddress}`, `Release ${i.ipaddress} and its rules?`, "disassociateIpAddress", { id: i.id }, r) }],
    }),
  );
}

const vmsOf = (ip: Row) => async () => options(await listAll("listVirtualMachines", { networkid: ip.associatednetworkid, listall: true }), (v) => `${v.name} (${v.nic?.[0]?.ipaddress ?? ""})`);

export function publicIpDetail(id: string): HTMLElement {
  const page = h("section", {}, h("a", { href: "#/publicips", class: "back" }, "← Public IP addresses"), h("p", {}, "Loading…"));
  const load = async () => {
    try {
      const { items } = await list("listPublicIpAddresses", { id, listall: true });
      const ip = items[0];
      if (!ip) throw new Error("this address does not exist (or is not yours)");
      const staticNat = String(ip.isstaticnat) === "true";
      clear(
        page,
        h("a", { href: "#/publicips", class: "back" }, "← Public IP addresses"),
        h("h1", {}, ip.ipaddress, " ", badge(ip.state)),
        h(
          "div",
          { class: "actions" },
          staticNat
            ? h("button", { type: "button", onclick: () => confirmAct("Disable static NAT", `Stop forwarding ${ip.ipaddress} to ${ip.virtualmachinename}?`, "disableStaticNat", { ipaddressid: ip.id }, load) }, "Disable static NAT")
            : String(ip.issourcenat) === "true"
              ? null
              : h(
                  "button",
                  {
                    type: "button",
                    onclick: () =>
                      formAct("Enable static NAT", [{ name: "virtualmachineid", label: "Instance", type: "select", required: true, options: vmsOf(ip) }], "enableStaticNat", { ipaddressid: ip.id, networkid: ip.associatednetworkid }, load),
                  },
                  "Enable static NAT",
                ),
        ),
        tabs([
          [
            "Details",
            () =>
              details(ip, [
                ["id", "ID"],
                ["ipaddress", "Address"],
                ["associatednetworkname", "Network"],
                ["issourcenat", "Source NAT"],
                ["isstaticnat", "Static NAT"],
                ["virtualmachinename", "Static NAT instance"],
                ["zonename", "Zone"],
                ["account", "Account"],
              ]),
          ],
          ["Firewall", () => firewall(ip)],
          ["Port forwarding", () => portForwarding(ip)],
          ["Load balancing", () => loadBalancers(ip)],
          ["VPN", () => vpn(ip)],
        ]),
      );
    } catch (e) {
      page.append(h("p", { class: "error" }, errorText(e)));
    }
  };
  load();
  return page;
}

function firewall(ip: Row): HTMLElement {
  return listView({
    command: "listFirewallRules",
    params: () => ({ ipaddressid: ip.id }),
    search: false,
    columns: [
      { key: "protocol", label: "Protocol" },
      { key: "startport", label: "Ports", render: ports },
      { key: "cidrlist", label: "Source CIDRs" },
      { key: "state", label: "State", render: (r) => badge(r.state) },
    ],
    tools: [
      {
        label: "+ Add firewall rule",
        primary: true,
        run: (r) =>
          formAct(
            "Add firewall rule",
            [
              { name: "protocol", label: "Protocol", type: "select", required: true, options: PROTOCOLS.filter((p) => p.value !== "all") },
              { name: "startport", label: "Start port", type: "number", when: (v) => v.protocol !== "icmp" },
              { name: "endport", label: "End port", type: "number", when: (v) => v.protocol !== "icmp" },
              { name: "icmptype", label: "ICMP type (-1 any)", type: "number", value: "-1", when: (v) => v.protocol === "icmp" },
              { name: "icmpcode", label: "ICMP code (-1 any)", type: "number", value: "-1", when: (v) => v.protocol === "icmp" },
              { name: "cidrlist", label: "Source CIDRs", value: "0.0.0.0/0" },
            ],
            "createFirewallRule",
            { ipaddressid: ip.id },
            r,
          ),
      },
    ],
    actions: [{ label: "Delete", danger: true, run: (x, r) => confirmAct("Delete firewall rule", "Delete this firewall rule?", "deleteFirewallRule", { id: x.id }, r) }],
  });
}

function portForwarding(ip: Row): HTMLElement {
  return listView({
    command: "listPortForwardingRules",
    params: () => ({ ipaddressid: ip.id }),
    search: false,
    columns: [
      { key: "protocol", label: "Protocol" },
      { key: "publicport", label: "Public ports", render: (r) => (r.publicport === r.publicendport ? r.publicport : `${r.publicport}-${r.publicendport}`) },
      { key: "privateport", label: "Private ports", render: (r) => (r.privateport === r.privateendport ? r.privateport : `${r.privateport}-${r.privateendport}`) },
      { key: "virtualmachinename", label: "Instance" },
      { key: "vmguestip", label: "Guest IP" },
      { key: "state", label: "State", render: (r) => badge(r.state) },
    ],
    tools: [
      {
        label: "+ Add port forwarding rule",
        primary: true,
        run: (r) =>
          formAct(
            "Add port forwarding rule",
            [
              { name: "protocol", label: "Protocol", type: "select", required: true, options: PROTOCOLS.slice(0, 2) },
              { name: "publicport", label: "Public port", type: "number", required: true },
              { name: "publicendport", label: "Public end port (range)", type: "number" },
              { name: "privateport", label: "Private port", type: "number", required: true },
              { name: "privateendport", label: "Private end port (range)", type: "number" },
              { name: "virtualmachineid", label: "Instance", type: "select", required: true, options: vmsOf(ip) },
              { name: "openfirewall", label: "Open the firewall for it", type: "checkbox", value: true },
            ],
            "createPortForwardingRule",
            { ipaddressid: ip.id },
            r,
          ),
      },
    ],
    actions: [{ label: "Delete", danger: true, run: (x, r) => confirmAct("Delete port forwarding rule", "Delete this rule?", "deletePortForwardingRule", { id: x.id }, r) }],
  });
}

function loadBalancers(ip: Row): HTMLElement {
  const members = (lb: Row) => {
    const box = h("div", { class: "lb-members" });
    const paint = async () => {
      try {
        const rows = await listAll("listLoadBalancerRuleInstances", { id: lb.id });
        const sticky = await listAll("listLBStickinessPolicies", { lbruleid: lb.id });
        const policies = sticky.flatMap((s) => s.stickinesspolicy ?? []);
        clear(
          box,
          h("h3", {}, `Members of ${lb.name}`),
          h("ul", {}, rows.map((v) => h("li", {}, v.name, " ", h("button", { type: "button", class: "small danger", onclick: () => act(`Remove ${v.name} from ${lb.name}`, "removeFromLoadBalancerRule", { id: lb.id, virtualmachineids: v.id }, paint) }, "Remove")))),
          h(
            "button",
            {
              type: "button",
              class: "small",
              onclick: () =>
                formAct(`Add members to ${lb.name}`, [{ name: "virtualmachineids", label: "Instance", type: "select", required: true, options: vmsOf(ip) }], "assignToLoadBalancerRule", { id: lb.id }, paint),
            },
            "+ Add member",
          ),
          h("h3", {}, "Stickiness"),
          policies.length
            ? h("ul", {}, policies.map((p: Row) => h("li", {}, `${p.name} (${p.methodname}) `, h("button", { type: "button", class: "small danger", onclick: () => act("Delete stickiness policy", "deleteLBStickinessPolicy", { id: p.id }, paint) }, "Delete"))))
            : h(
                "button",
                {
                  type: "button",
                  class: "small",
                  onclick: () =>
                    formAct(
                      "Stickiness policy",
                      [
                        { name: "name", label: "Name", required: true },
                        { name: "methodname", label: "Method", type: "select", required: true, options: ["SourceBased", "LbCookie", "AppCookie"].map((m) => ({ value: m, label: m })) },
                      ],
                      "createLBStickinessPolicy",
                      { lbruleid: lb.id },
                      paint,
                    ),
                },
                "+ Stickiness policy",
              ),
        );
      } catch (e) {
        clear(box, h("p", { class: "error" }, errorText(e)));
      }
    };
    paint();
    return box;
  };
  const holder = h("div");
  const lv = listView({
    command: "listLoadBalancerRules",
    params: () => ({ publicipid: ip.id }),
    search: false,
    columns: [
      { key: "name", label: "Name" },
      { key: "algorithm", label: "Algorithm" },
      { key: "publicport", label: "Public port" },
      { key: "privateport", label: "Private port" },
      { key: "protocol", label: "Protocol", minor: true },
      { key: "state", label: "State", render: (r) => badge(r.state) },
    ],
    tools: [
      {
        label: "+ Add load balancer",
        primary: true,
        run: (r) =>
          formAct(
            "Add load balancer rule",
            [
              { name: "name", label: "Name", required: true },
              { name: "algorithm", label: "Algorithm", type: "select", required: true, options: ["roundrobin", "leastconn", "source"].map((a) => ({ value: a, label: a })) },
              { name: "publicport", label: "Public port", type: "number", required: true },
              { name: "privateport", label: "Private port", type: "number", required: true },
              { name: "protocol", label: "Protocol", type: "select", options: ["tcp", "udp", "ssl"].map((a) => ({ value: a, label: a === "ssl" ? "ssl (TLS ends at the router)" : a })) },
            ],
            "createLoadBalancerRule",
            { publicipid: ip.id, networkid: ip.associatednetworkid },
            r,
          ),
      },
    ],
    actions: [
      { label: "Members", run: (lb) => void clear(holder, members(lb)) },
      ...lbCertActions(),
      { label: "Delete", danger: true, run: (x, r) => confirmAct(`Delete ${x.name}`, `Delete the load balancer ${x.name}?`, "deleteLoadBalancerRule", { id: x.id }, r) },
    ],
  });
  return h("div", {}, lv, holder);
}

function vpn(ip: Row): HTMLElement {
  const box = h("div", {}, "Loading…");
  const paint = async () => {
    try {
      const rows = await listAll("listRemoteAccessVpns", { publicipid: ip.id });
      const v = rows[0];
      clear(
        box,
        v
          ? h(
              "div",
              {},
              details(v, [
                ["publicip", "Address"],
                ["iprange", "Client range"],
                ["presharedkey", "Pre-shared key"],
                ["state", "State"],
              ]),
              h("button", { type: "button", class: "danger", onclick: () => confirmAct("Disable VPN", `Remove the VPN on ${ip.ipaddress}?`, "deleteRemoteAccessVpn", { publicipid: ip.id }, paint) }, "Disable VPN"),
              h("p", {}, h("a", { href: "#/vpnusers" }, "VPN users →")),
            )
          : h(
              "div",
              {},
              h("p", {}, "No remote-access VPN on this address."),
              h("button", { type: "button", onclick: () => formAct("Enable VPN", [{ name: "iprange", label: "Client IP range (empty: the default)" }], "createRemoteAccessVpn", { publicipid: ip.id }, paint) }, "Enable VPN"),
            ),
      );
    } catch (e) {
      clear(box, h("p", { class: "error" }, errorText(e)));
    }
  };
  paint();
  return box;
}

export function vpnUsers(): HTMLElement {
  return h(
    "section",
    {},
    h("h1", {}, "VPN users"),
    listView({
      command: "listVpnUsers",
      columns: [
        { key: "username", label: "User name" },
        { key: "state", label: "State", render: (u) => badge(u.state) },
        { key: "account", label: "Account" },
      ],
      tools: [
        {
          label: "+ Add VPN user",
          primary: true,
          run: (r) =>
            formAct(
              "Add VPN user",
              [
                { name: "username", label: "User name", required: true },
                { name: "password", label: "Password", type: "password", required: true },
              ],
              "addVpnUser",
              {},
              r,
            ),
        },
      ],
      actions: [{ label: "Remove", danger: true, run: (u, r) => confirmAct(`Remove ${u.username}`, `Remove the VPN user ${u.username}?`, "removeVpnUser", { username: u.username, account: u.account, domainid: u.domainid }, r) }],
    }),
  );
}

// ---- security groups ---------------------------------------------------------------------

export function securityGroups(): HTMLElement {
  return h(
    "section",
    {},
    h("h1", {}, "Security groups"),
    listView({
      command: "listSecurityGroups",
      columns: [
        { key: "name", label: "Name" },
        { key: "description", label: "Description" },
        { key: "ingressrule", label: "Ingress rules", render: (g) => String((g.ingressrule ?? []).length) },
        { key: "egressrule", label: "Egress rules", render: (g) => String((g.egressrule ?? []).length) },
        { key: "account", label: "Account", minor: true },
      ],
      link: (g) => `#/securitygroup/${g.id}`,
      tools: [
        {
          label: "+ Create security group",
          primary: true,
          run: (r) =>
            formAct(
              "Create security group",
              [
                { name: "name", label: "Name", required: true },
                { name: "description", label: "Description" },
              ],
              "createSecurityGroup",
              {},
              r,
            ),
        },
      ],
      actions: [{ label: "Delete", danger: true, show: (g) => g.name !== "default", run: (g, r) => confirmAct(`Delete ${g.name}`, `Delete the security group ${g.name}?`, "deleteSecurityGroup", { id: g.id }, r) }],
    }),
  );
}

function ruleFields(): Field[] {
  return [
    { name: "protocol", label: "Protocol", type: "select", required: true, options: PROTOCOLS },
    { name: "startport", label: "Start port", type: "number", when: (v) => v.protocol === "tcp" || v.protocol === "udp" },
    { name: "endport", label: "End port", type: "number", when: (v) => v.protocol === "tcp" || v.protocol === "udp" },
    { name: "icmptype", label: "ICMP type (-1 any)", type: "number", value: "-1", when: (v) => v.protocol === "icmp" },
    { name: "icmpcode", label: "ICMP code (-1 any)", type: "number", value: "-1", when: (v) => v.protocol === "icmp" },
    { name: "source", label: "Source", type: "select", required: true, options: [{ value: "cidr", label: "CIDR" }, { value: "group", label: "Another security group" }] },
    { name: "cidrlist", label: "CIDRs (comma separated)", value: "0.0.0.0/0", when: (v) => v.source !== "group" },
    { name: "group", label: "Security group", type: "select", options: from("listSecurityGroups", {}, (g) => `${g.account}/${g.name}`, (g) => `${g.account}/${g.name}`), when: (v) => v.source === "group" },
  ];
}

function ruleEditor(g: Row, kind: "ingress" | "egress", reload: () => void): HTMLElement {
  const rules: Row[] = g[`${kind}rule`] ?? [];
  const K = kind === "ingress" ? "Ingress" : "Egress";
  return h(
    "div",
    { class: "rules", "data-kind": kind },
    h(
      "div",
      { class: "toolbar" },
      h(
        "button",
        {
          type: "button",
          class: "primary",
          onclick: () =>
            formAct(`Add ${kind} rule`, ruleFields(), kind === "ingress" ? "authorizeSecurityGroupIngress" : "authorizeSecurityGroupEgress", { securitygroupid: g.id }, reload, (v) => {
              const p = clean(v);
              delete p.source;
              delete p.group;
              if (v.source === "group" && v.group) {
                const [account, group] = String(v.group).split("/");
                delete p.cidrlist;
                p["usersecuritygrouplist[0].account"] = account;
                p["usersecuritygrouplist[0].group"] = group;
              }
              return p;
            }),
        },
        `+ Add ${kind} rule`,
      ),
    ),
    h(
      "table",
      { class: "plain" },
      h("tr", {}, ["Protocol", "Ports / ICMP", kind === "ingress" ? "Source" : "Destination", ""].map((x) => h("th", {}, x))),
      rules.length
        ? rules.map((r) =>
            h(
              "tr",
              { "data-rule": r.ruleid },
              h("td", {}, r.protocol),
              h("td", {}, ports(r)),
              h("td", {}, r.cidr ?? (r.securitygroupname ? `${r.account}/${r.securitygroupname}` : "")),
              h(
                "td",
                {},
                h("button", { type: "button", class: "small danger", onclick: () => confirmAct(`Revoke ${kind} rule`, "Revoke this rule?", `revokeSecurityGroup${K}`, { id: r.ruleid }, reload) }, "Revoke"),
              ),
            ),
          )
        : h("tr", {}, h("td", { colspan: 4, class: "empty" }, `No ${kind} rules.`)),
    ),
  );
}

export function securityGroupDetail(id: string): HTMLElement {
  const page = h("section", {}, h("a", { href: "#/securitygroups", class: "back" }, "← Security groups"), h("p", {}, "Loading…"));
  let tab = 0;
  const load = async () => {
    try {
      const { items } = await list("listSecurityGroups", { id, listall: true });
      const g = items[0];
      if (!g) throw new Error("this security group does not exist (or is not yours)");
      const t = tabs([
        ["Ingress rules", () => ((tab = 0), ruleEditor(g, "ingress", load))],
        ["Egress rules", () => ((tab = 1), ruleEditor(g, "egress", load))],
        ["Details", () => details(g, [["id", "ID"], ["name", "Name"], ["description", "Description"], ["account", "Account"], ["domain", "Domain"]])],
      ]);
      clear(page, h("a", { href: "#/securitygroups", class: "back" }, "← Security groups"), h("h1", {}, g.name), t);
      if (tab) (t.querySelectorAll(".tabs button")[tab] as HTMLElement).click();
    } catch (e) {
      page.append(h("p", { class: "error" }, errorText(e)));
    }
  };
  load();
  return page;
}
