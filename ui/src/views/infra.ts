// Infrastructure (root admin): zones, pods, clusters, hosts, primary and secondary storage,
// physical networks, virtual routers; offerings; global settings.

import { api, list, Row } from "../api";
import { act, confirmAct, formAct, from } from "../actions";
import { badge, bytes, clear, errorText, formDialog, h, modal, toast } from "../dom";
import { Action, details, listView, tabs } from "../table";
import { dedicateAction } from "./scheduling";

/** Enable/disable for resources with an allocation state (zones, pods, clusters). */
function allocation(command: string, kind: string): Action[] {
  return [
    { label: "Disable", show: (r) => r.allocationstate === "Enabled", run: (r, reload) => confirmAct(`Disable ${kind} ${r.name}`, `Disable ${r.name}? New VMs will not be placed there.`, command, { id: r.id, allocationstate: "Disabled" }, reload) },
    { label: "Enable", show: (r) => r.allocationstate === "Disabled", run: (r, reload) => void act(`Enable ${kind} ${r.name}`, command, { id: r.id, allocationstate: "Enabled" }, reload) },
  ];
}

export function zones(): HTMLElement {
  return h(
    "section",
    {},
    h("h1", {}, "Zones"),
    listView({
      command: "listZones",
      columns: [
        { key: "name", label: "Name" },
        { key: "allocationstate", label: "Allocation", render: (z) => badge(z.allocationstate) },
        { key: "networktype", label: "Network type" },
        { key: "securitygroupsenabled", label: "Security groups", minor: true },
        { key: "dns1", label: "DNS", minor: true },
        { key: "guestcidraddress", label: "Guest CIDR", minor: true },
      ],
      tools: [
        {
          label: "+ Add zone",
          primary: true,
          run: (r) =>
            formAct(
              "Add zone",
              [
                { name: "name", label: "Name", required: true },
                { name: "networktype", label: "Network type", type: "select", required: true, options: [{ value: "Advanced", label: "Advanced" }, { value: "Basic", label: "Basic" }] },
                { name: "dns1", label: "Public DNS 1", required: true, value: "8.8.8.8" },
                { name: "internaldns1", label: "Internal DNS 1", required: true, value: "8.8.8.8" },
                { name: "guestcidraddress", label: "Guest CIDR", value: "10.1.1.0/24" },
                { name: "securitygroupenabled", label: "Security groups", type: "checkbox" },
                { name: "localstorageenabled", label: "Local storage", type: "checkbox" },
              ],
              "createZone",
              {},
              r,
            ),
        },
      ],
      actions: [...allocation("updateZone", "zone"), dedicateAction("Zone"), { label: "Delete", danger: true, run: (z, r) => confirmAct(`Delete zone ${z.name}`, `Delete the zone ${z.name}?`, "deleteZone", { id: z.id }, r) }],
    }),
  );
}

export function pods(): HTMLElement {
  return h(
    "section",
    {},
    h("h1", {}, "Pods"),
    listView({
      command: "listPods",
      columns: [
        { key: "name", label: "Name" },
        { key: "allocationstate", label: "Allocation", render: (p) => badge(p.allocationstate) },
        { key: "zonename", label: "Zone" },
        { key: "gateway", label: "Gateway", minor: true },
        { key: "netmask", label: "Netmask", minor: true },
      ],
      tools: [
        {
          label: "+ Add pod",
          primary: true,
          run: (r) =>
            formAct(
              "Add pod",
              [
                { name: "zoneid", label: "Zone", type: "select", required: true, options: from("listZones") },
                { name: "name", label: "Name", required: true },
                { name: "gateway", label: "Gateway", required: true },
                { name: "netmask", label: "Netmask", required: true },
                { name: "startip", label: "Start IP", required: true },
                { name: "endip", label: "End IP" },
              ],
              "createPod",
              {},
              r,
            ),
        },
      ],
      actions: [...allocation("updatePod", "pod"), dedicateAction("Pod"), { label: "Delete", danger: true, run: (p, r) => confirmAct(`Delete pod ${p.name}`, `Delete the pod ${p.name}?`, "deletePod", { id: p.id }, r) }],
    }),
  );
}

export function clusters(): HTMLElement {
  return h(
    "section",
    {},
    h("h1", {}, "Clusters"),
    listView({
      command: "listClusters",
      columns: [
        { key: "name", label: "Name" },
        { key: "allocationstate", label: "Allocation", render: (c) => badge(c.allocationstate) },
        { key: "hypervisortype", label: "Hypervisor" },
        { key: "podname", label: "Pod" },
        { key: "vmslots", label: "VM slots per host", minor: true, render: (c) => (c.vmslots === undefined ? "hypervisor's limit" : String(c.vmslots)) },
        { key: "zonename", label: "Zone", minor: true },
      ],
      tools: [
        {
          label: "+ Add cluster",
          primary: true,
          run: (r) =>
            formAct(
              "Add cluster",
              [
                { name: "podid", label: "Pod", type: "select", required: true, options: from("listPods", {}, (p) => `${p.name} (${p.zonename})`) },
                { name: "clustername", label: "Name", required: true },
                { name: "hypervisor", label: "Hypervisor", type: "select", required: true, options: [{ value: "KVM", label: "KVM" }, { value: "Simulator", label: "Simulator" }] },
              ],
              "addCluster",
              { clustertype: "CloudManaged" },
              r,
            ),
        },
      ],
      actions: [
        { label: "Disable", show: (c) => c.allocationstate === "Enabled", run: (c, r) => confirmAct(`Disable cluster ${c.name}`, `Disable ${c.name}?`, "updateCluster", { id: c.id, allocationstate: "Disabled" }, r) },
        { label: "Enable", show: (c) => c.allocationstate === "Disabled", run: (c, r) => void act(`Enable cluster ${c.name}`, "updateCluster", { id: c.id, allocationstate: "Enabled" }, r) },
        dedicateAction("Cluster"),
        {
          label: "VM slots",
          run: (c, r) =>
            formAct(`VM slots per host in ${c.name}`, [{ name: "vmslots", label: "VMs each host may run (empty: the hypervisor's limit)", type: "number", value: String(c.vmslots ?? "") }], "updateCluster", { id: c.id }, r, (v) => ({ vmslots: v.vmslots === "" ? " " : String(v.vmslots) })),
        },
        {
          label: "Join token",
          run: (c) =>
            formDialog(`Join a host to ${c.name}`, [{ name: "hostaddress", label: "Host address (as given to addHost; empty: any host, one use)" }], async (v) => {
              const t = await api("createHostJoinToken", { clusterid: c.id, hostaddress: v.hostaddress || undefined });
              const tok = t.hostjointoken ?? t;
              modal("Host join token", h("div", {}, h("p", {}, "On the host, run:"), h("pre", { class: "key" }, `canopy agent --token ${tok.token} --address ${v.hostaddress || "<this host's address>"}`)));
            }),
        },
        { label: "Delete", danger: true, run: (c, r) => confirmAct(`Delete cluster ${c.name}`, `Delete the cluster ${c.name}?`, "deleteCluster", { id: c.id }, r) },
      ],
    }),
  );
}

const accel = (x: Row) => x.details?.accelerator ?? "";

function hostActions(): Action[] {
  return [
    { label: "Disable", show: (x) => x.resourcestate === "Enabled", run: (x, r) => confirmAct(`Disable host ${x.name}`, `Disable ${x.name}? Its VMs keep running; no new ones are placed there.`, "updateHost", { id: x.id, allocationstate: "Disable" }, r) },
    { label: "Enable", show: (x) => x.resourcestate === "Disabled", run: (x, r) => void act(`Enable host ${x.name}`, "updateHost", { id: x.id, allocationstate: "Enable" }, r) },
    {
      label: "Maintenance",
      show: (x) => x.resourcestate === "Enabled" || x.resourcestate === "Disabled",
      run: (x, r) => confirmAct(`Maintenance of ${x.name}`, `Put ${x.name} into maintenance? Its VMs are migrated away (or stopped when they cannot be).`, "prepareHostForMaintenance", { id: x.id }, r),
    },
    { label: "Cancel maintenance", show: (x) => ["Maintenance", "PrepareForMaintenance", "ErrorInMaintenance"].includes(x.resourcestate), run: (x, r) => void act(`Cancel maintenance of ${x.name}`, "cancelHostMaintenance", { id: x.id }, r) },
    { label: "Reconnect", show: (x) => x.state !== "Up", run: (x, r) => void act(`Reconnect ${x.name}`, "reconnectHost", { id: x.id }, r) },
    dedicateAction("Host"),
    {
      label: "VM slots",
      run: (x, r) =>
        formAct(`VM slots of ${x.name}`, [{ name: "vmslots", label: "VMs the host may run (empty: its cluster's)", type: "number", value: String(x.vmslots ?? "") }], "updateHost", { id: x.id }, r, (v) => ({ vmslots: v.vmslots === "" ? " " : String(v.vmslots) })),
    },
    { label: "Delete", danger: true, show: (x) => x.resourcestate === "Maintenance" || x.state !== "Up", run: (x, r) => confirmAct(`Delete host ${x.name}`, `Remove ${x.name} from the cloud?`, "deleteHost", { id: x.id }, r) },
  ];
}

export function hosts(): HTMLElement {
  return h(
    "section",
    {},
    h("h1", {}, "Hosts"),
    listView({
      command: "listHosts",
      params: () => ({ type: "Routing" }),
      columns: [
        { key: "name", label: "Name" },
        { key: "state", label: "State", render: (x) => badge(x.state) },
        { key: "resourcestate", label: "Resource state", render: (x) => badge(x.resourcestate) },
        { key: "accelerator", label: "Accelerator", render: accel },
        { key: "ipaddress", label: "Address" },
        { key: "clustername", label: "Cluster", minor: true },
        { key: "vmslots", label: "VM slots", render: (x) => `${x.vmslotsused ?? 0} / ${x.vmslots ?? "?"}` },
        { key: "cpuallocated", label: "CPU allocated", minor: true },
        { key: "memoryallocated", label: "Memory allocated", minor: true, render: (x) => bytes(x.memoryallocated) },
        { key: "hypervisorversion", label: "Hypervisor", minor: true, render: (x) => `${x.hypervisor} ${x.hypervisorversion ?? ""}` },
      ],
      link: (x) => `#/host/${x.id}`,
      tools: [
        {
          label: "+ Add host",
          primary: true,
          run: (r) =>
            formDialog(
              "Add host",
              [
                { name: "clusterid", label: "Cluster", type: "select", required: true, options: from("listClusters", {}, (c) => `${c.name} (${c.zonename}/${c.podname})`) },
                { name: "url", label: "Host address (http://ADDRESS)", required: true, placeholder: "http://10.0.0.5" },
              ],
              async (v) => {
                const { items } = await list("listClusters", { id: v.clusterid });
                const c = items[0];
                const res = await api("addHost", { zoneid: c.zoneid, podid: c.podid, clusterid: c.id, hypervisor: c.hypervisortype, url: v.url });
                const host = (res.host ?? [])[0] ?? {};
                toast(`Host ${host.name ?? v.url} added; start its agent with a join token (Clusters → Join token)`, "ok");
                r();
              },
            ),
        },
      ],
      actions: hostActions(),
      refreshMs: 5000,
    }),
  );
}

export function hostDetail(id: string): HTMLElement {
  const page = h("section", {}, h("a", { href: "#/hosts", class: "back" }, "← Hosts"), h("p", {}, "Loading…"));
  const load = async () => {
    try {
      const { items } = await list("listHosts", { id });
      const x = items[0];
      if (!x) throw new Error("no such host");
      clear(
        page,
        h("a", { href: "#/hosts", class: "back" }, "← Hosts"),
        h("h1", {}, x.name, " ", badge(x.state), " ", badge(x.resourcestate)),
        h("div", { class: "actions" }, hostActions().filter((a) => !a.show || a.show(x)).map((a) => h("button", { type: "button", class: a.danger ? "danger" : "", onclick: () => a.run(x, load) }, a.label))),
        tabs([
          [
            "Details",
            () =>
              h(
                "div",
                {},
                details({ ...x, accelerator: accel(x) }, [
                  ["id", "ID"],
                  ["ipaddress", "Address"],
                  ["accelerator", "Accelerator"],
                  ["hypervisor", "Hypervisor"],
                  ["hypervisorversion", "Hypervisor version"],
                  ["cpunumber", "CPUs"],
                  ["cpuspeed", "CPU speed (MHz)"],
                  ["cpuallocated", "CPU allocated"],
                  ["memorytotal", "Memory (bytes)"],
                  ["memoryallocated", "Memory allocated (bytes)"],
                  ["vmslots", "VM slots"],
                  ["vmslotsused", "VM slots used"],
                  ["zonename", "Zone"],
                  ["podname", "Pod"],
                  ["clustername", "Cluster"],
                  ["hosttags", "Host tags"],
                  ["lastpinged", "Last heartbeat"],
                  ["version", "Agent version"],
                ]),
              ),
          ],
          [
            "Instances",
            () =>
              listView({
                command: "listVirtualMachines",
                params: () => ({ hostid: x.id }),
                columns: [
                  { key: "name", label: "Name" },
                  { key: "state", label: "State", render: (v) => badge(v.state) },
                  { key: "account", label: "Account" },
                ],
                link: (v) => `#/instance/${v.id}`,
              }),
          ],
        ]),
      );
    } catch (e) {
      page.append(h("p", { class: "error" }, errorText(e)));
    }
  };
  load();
  return page;
}

export function primaryStorage(): HTMLElement {
  return h(
    "section",
    {},
    h("h1", {}, "Primary storage"),
    listView({
      command: "listStoragePools",
      columns: [
        { key: "name", label: "Name" },
        { key: "state", label: "State", render: (p) => badge(p.state) },
        { key: "scope", label: "Scope" },
        { key: "type", label: "Type" },
        { key: "path", label: "Path", minor: true },
        { key: "disksizetotal", label: "Size", render: (p) => bytes(p.disksizetotal) },
        { key: "disksizeused", label: "Used", render: (p) => bytes(p.disksizeused) },
        { key: "clustername", label: "Cluster", minor: true },
      ],
      tools: [
        {
          label: "+ Add primary storage",
          primary: true,
          run: (r) =>
            formDialog(
              "Add primary storage",
              [
                { name: "clusterid", label: "Cluster", type: "select", required: true, options: from("listClusters") },
                { name: "name", label: "Name", required: true },
                { name: "url", label: "URL (sharedmountpoint:///PATH, filesystem:///PATH)", required: true },
                { name: "tags", label: "Storage tags" },
              ],
              async (v) => {
                const { items } = await list("listClusters", { id: v.clusterid });
                const c = items[0];
                await api("createStoragePool", { zoneid: c.zoneid, podid: c.podid, clusterid: c.id, name: v.name, url: v.url, tags: v.tags || undefined, scope: "cluster" });
                toast(`Primary storage ${v.name} added`, "ok");
                r();
              },
            ),
        },
      ],
      actions: [
        { label: "Maintenance", show: (p) => p.state === "Up", run: (p, r) => confirmAct(`Maintenance of ${p.name}`, `Put ${p.name} into maintenance?`, "enableStorageMaintenance", { id: p.id }, r) },
        { label: "Cancel maintenance", show: (p) => p.state === "Maintenance", run: (p, r) => void act(`Cancel maintenance of ${p.name}`, "cancelStorageMaintenance", { id: p.id }, r) },
        { label: "Delete", danger: true, run: (p, r) => confirmAct(`Delete ${p.name}`, `Remove the pool ${p.name}?`, "deleteStoragePool", { id: p.id }, r) },
      ],
    }),
  );
}

export function imageStores(): HTMLElement {
  return h(
    "section",
    {},
    h("h1", {}, "Secondary storage"),
    listView({
      command: "listImageStores",
      columns: [
        { key: "name", label: "Name" },
        { key: "url", label: "URL" },
        { key: "providername", label: "Provider" },
        { key: "zonename", label: "Zone" },
      ],
      tools: [
        {
          label: "+ Add image store",
          primary: true,
          run: (r) =>
            formAct(
              "Add image store",
              [
                { name: "name", label: "Name", required: true },
                { name: "zoneid", label: "Zone", type: "select", required: true, options: from("listZones") },
                { name: "url", label: "URL (file:///PATH on the management server)", required: true },
              ],
              "addImageStore",
              { provider: "NFS" },
              r,
            ),
        },
      ],
      actions: [{ label: "Delete", danger: true, run: (s, r) => confirmAct(`Delete ${s.name}`, `Remove the image store ${s.name}?`, "deleteImageStore", { id: s.id }, r) }],
    }),
  );
}

export function physicalNetworks(): HTMLElement {
  return h(
    "section",
    {},
    h("h1", {}, "Physical networks"),
    listView({
      command: "listPhysicalNetworks",
      columns: [
        { key: "name", label: "Name" },
        { key: "state", label: "State", render: (p) => badge(p.state) },
        { key: "isolationmethods", label: "Isolation" },
        { key: "vlan", label: "VLAN / VNI range" },
        { key: "zonename", label: "Zone", minor: true },
      ],
      actions: [
        { label: "Disable", show: (p) => p.state === "Enabled", run: (p, r) => confirmAct(`Disable ${p.name}`, `Disable ${p.name}?`, "updatePhysicalNetwork", { id: p.id, state: "Disabled" }, r) },
        { label: "Enable", show: (p) => p.state === "Disabled", run: (p, r) => void act(`Enable ${p.name}`, "updatePhysicalNetwork", { id: p.id, state: "Enabled" }, r) },
        { label: "Edit range", run: (p, r) => formAct(`VNI range of ${p.name}`, [{ name: "vlan", label: "Range (e.g. 5000-6000)", value: p.vlan ?? "" }], "updatePhysicalNetwork", { id: p.id }, r) },
      ],
    }),
  );
}

export function routers(): HTMLElement {
  return h(
    "section",
    {},
    h("h1", {}, "Virtual routers"),
    listView({
      command: "listRouters",
      columns: [
        { key: "name", label: "Name" },
        { key: "state", label: "State", render: (x) => badge(x.state) },
        { key: "guestnetworkname", label: "Network" },
        { key: "publicip", label: "Public IP" },
        { key: "hostname", label: "Host" },
        { key: "account", label: "Account", minor: true },
      ],
      actions: [
        { label: "Start", show: (x) => x.state === "Stopped", run: (x, r) => void act(`Start ${x.name}`, "startRouter", { id: x.id }, r) },
        { label: "Reboot", show: (x) => x.state === "Running", run: (x, r) => confirmAct(`Reboot ${x.name}`, `Rebuild ${x.name}'s namespace and daemons?`, "rebootRouter", { id: x.id }, r) },
        { label: "Stop", show: (x) => x.state === "Running", run: (x, r) => confirmAct(`Stop ${x.name}`, `Stop ${x.name}? Its network loses DHCP, DNS and NAT.`, "stopRouter", { id: x.id }, r) },
        {
          label: "Host config",
          run: async (x) => {
            try {
              const res = await api("getHostNetworkConfiguration", { routerid: x.id });
              modal(`Data plane of ${x.name}`, h("pre", { class: "key" }, JSON.stringify(res, null, 2)), { wide: true });
            } catch (e) {
              toast(errorText(e), "error");
            }
          },
        },
        { label: "Destroy", danger: true, run: (x, r) => confirmAct(`Destroy ${x.name}`, `Destroy ${x.name}? It is rebuilt when its network is next used.`, "destroyRouter", { id: x.id }, r) },
      ],
    }),
  );
}

export function offerings(): HTMLElement {
  const compute = () =>
    listView({
      command: "listServiceOfferings",
      columns: [
        { key: "name", label: "Name" },
        { key: "cpunumber", label: "CPUs" },
        { key: "cpuspeed", label: "MHz" },
        { key: "memory", label: "Memory (MiB)" },
        { key: "storagetype", label: "Storage", minor: true },
        { key: "offerha", label: "HA", minor: true },
      ],
      tools: [
        {
          label: "+ Add compute offering",
          primary: true,
          run: (r) =>
            formAct(
              "Add compute offering",
              [
                { name: "name", label: "Name", required: true },
                { name: "displaytext", label: "Description" },
                { name: "cpunumber", label: "CPUs", type: "number", required: true },
                { name: "cpuspeed", label: "CPU speed (MHz)", type: "number", required: true, value: "1000" },
                { name: "memory", label: "Memory (MiB)", type: "number", required: true },
                { name: "storagetype", label: "Storage", type: "select", options: [{ value: "shared", label: "shared" }, { value: "local", label: "local" }] },
                { name: "offerha", label: "Offer HA", type: "checkbox" },
                { name: "hosttags", label: "Host tags" },
              ],
              "createServiceOffering",
              {},
              r,
            ),
        },
      ],
      actions: [{ label: "Delete", danger: true, run: (o, r) => confirmAct(`Delete ${o.name}`, `Delete the offering ${o.name}?`, "deleteServiceOffering", { id: o.id }, r) }],
    });
  const disk = () =>
    listView({
      command: "listDiskOfferings",
      columns: [
        { key: "name", label: "Name" },
        { key: "disksize", label: "Size (GB)", render: (o) => (String(o.iscustomized) === "true" ? "custom" : String(o.disksize)) },
        { key: "storagetype", label: "Storage" },
        { key: "tags", label: "Tags", minor: true },
      ],
      tools: [
        {
          label: "+ Add disk offering",
          primary: true,
          run: (r) =>
            formAct(
              "Add disk offering",
              [
                { name: "name", label: "Name", required: true },
                { name: "displaytext", label: "Description" },
                { name: "customized", label: "Custom size (the user chooses)", type: "checkbox" },
                { name: "disksize", label: "Size (GB)", type: "number", when: (v) => !v.customized },
                { name: "storagetype", label: "Storage", type: "select", options: [{ value: "shared", label: "shared" }, { value: "local", label: "local" }] },
                { name: "tags", label: "Storage tags" },
              ],
              "createDiskOffering",
              {},
              r,
            ),
        },
      ],
      actions: [{ label: "Delete", danger: true, run: (o, r) => confirmAct(`Delete ${o.name}`, `Delete the offering ${o.name}?`, "deleteDiskOffering", { id: o.id }, r) }],
    });
  const network = () =>
    listView({
      command: "listNetworkOfferings",
      columns: [
        { key: "name", label: "Name" },
        { key: "guestiptype", label: "Guest type" },
        { key: "state", label: "State", render: (o) => badge(o.state) },
        { key: "service", label: "Services", render: (o) => (o.service ?? []).map((s: Row) => s.name).join(", ") },
      ],
      tools: [
        {
          label: "+ Add network offering",
          primary: true,
          run: (r) =>
            formAct(
              "Add network offering",
              [
                { name: "name", label: "Name", required: true },
                { name: "displaytext", label: "Description", required: true },
                { name: "guestiptype", label: "Guest type", type: "select", required: true, options: ["Isolated", "Shared", "L2"].map((x) => ({ value: x, label: x })) },
                { name: "supportedservices", label: "Services (comma separated)", value: "Dhcp,Dns,SourceNat,StaticNat,PortForwarding,Firewall,Lb,UserData" },
                { name: "specifyvlan", label: "Specify VLAN", type: "checkbox" },
                { name: "specifyipranges", label: "Specify IP ranges", type: "checkbox" },
              ],
              "createNetworkOffering",
              { traffictype: "GUEST", enable: "true" },
              r,
            ),
        },
      ],
      actions: [
        { label: "Disable", show: (o) => o.state === "Enabled", run: (o, r) => void act(`Disable ${o.name}`, "updateNetworkOffering", { id: o.id, state: "Disabled" }, r) },
        { label: "Enable", show: (o) => o.state === "Disabled", run: (o, r) => void act(`Enable ${o.name}`, "updateNetworkOffering", { id: o.id, state: "Enabled" }, r) },
        { label: "Delete", danger: true, run: (o, r) => confirmAct(`Delete ${o.name}`, `Delete the offering ${o.name}?`, "deleteNetworkOffering", { id: o.id }, r) },
      ],
    });
  return h("section", {}, h("h1", {}, "Offerings"), tabs([["Compute", compute], ["Disk", disk], ["Network", network]]));
}

export function settings(): HTMLElement {
  return h(
    "section",
    {},
    h("h1", {}, "Global settings"),
    listView({
      command: "listConfigurations",
      pageSize: 50,
      columns: [
        { key: "name", label: "Name" },
        { key: "value", label: "Value" },
        { key: "category", label: "Category", minor: true },
        { key: "description", label: "Description", minor: true },
      ],
      actions: [
        {
          label: "Edit",
          run: (s, r) => formAct(`Setting ${s.name}`, [{ name: "_info", type: "info", label: s.description ?? "" }, { name: "value", label: "Value", value: String(s.value ?? "") }], "updateConfiguration", { name: s.name }, r),
        },
        { label: "Reset", run: (s, r) => confirmAct(`Reset ${s.name}`, `Put ${s.name} back to its default?`, "updateConfiguration", { name: s.name }, r) },
      ],
    }),
  );
}

