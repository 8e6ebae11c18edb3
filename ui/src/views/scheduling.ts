// Scheduling: affinity groups (every user's, CloudStack's four types) and admission policies
// (root admins; a Canopy addition: deploys of a runtime class rewritten before placement).

import { role } from "../api";
import { confirmAct, formAct, from } from "../actions";
import { h } from "../dom";
import { Action, listView, tabs } from "../table";

const TYPES = ["host anti-affinity", "host affinity", "non-strict host anti-affinity", "non-strict host affinity"];

export function affinityGroups(): HTMLElement {
  return h(
    "section",
    {},
    h("h1", {}, "Affinity groups"),
    h("p", { class: "hint" }, "Strict anti-affinity keeps a group's instances on different hosts, strict affinity on one host; the non-strict types are preferences. An instance joins groups when it is deployed, or while stopped."),
    listView({
      command: "listAffinityGroups",
      columns: [
        { key: "name", label: "Name" },
        { key: "type", label: "Type" },
        { key: "virtualmachineIds", label: "Instances", render: (g) => String((g.virtualmachineIds ?? []).length) },
        { key: "description", label: "Description", minor: true },
        { key: "account", label: "Account", minor: true },
      ],
      tools: [
        {
          label: "+ Create affinity group",
          primary: true,
          run: (r) =>
            formAct(
              "Create affinity group",
              [
                { name: "name", label: "Name", required: true },
                { name: "type", label: "Type", type: "select", required: true, options: TYPES.map((t) => ({ value: t, label: t })) },
                { name: "description", label: "Description" },
              ],
              "createAffinityGroup",
              {},
              r,
            ),
        },
      ],
      actions: [{ label: "Delete", danger: true, run: (g, r) => confirmAct(`Delete ${g.name}`, `Delete the affinity group ${g.name}? (It must have no instances.)`, "deleteAffinityGroup", { id: g.id }, r) }],
    }),
  );
}

export function admissionPolicies(): HTMLElement {
  const admin = role() === "admin";
  const yes = (b: unknown) => (b === true || b === "true" ? "yes" : "");
  return h(
    "section",
    {},
    h("h1", {}, "Admission policies"),
    h(
      "p",
      { class: "hint" },
      "A deploy naming a runtime class (details runtimeclass, or its offering's) is rewritten before placement: its CPU and memory reservations dropped (it still holds one VM slot), host tags required — or refused. Owners in protected domains or accounts are left alone.",
    ),
    listView({
      command: "listAdmissionPolicies",
      columns: [
        { key: "name", label: "Name" },
        { key: "runtimeclass", label: "Runtime class" },
        { key: "action", label: "Action" },
        { key: "dropcpu", label: "Drops CPU", render: (p) => yes(p.dropcpu) },
        { key: "dropmemory", label: "Drops memory", render: (p) => yes(p.dropmemory) },
        { key: "hosttags", label: "Host tags", minor: true },
        { key: "protecteddomainids", label: "Protected domains", minor: true },
      ],
      tools: admin
        ? [
            {
              label: "+ Create admission policy",
              primary: true,
              run: (r) =>
                formAct(
                  "Create admission policy",
                  [
                    { name: "name", label: "Name", required: true },
                    { name: "runtimeclass", label: "Runtime class", required: true, placeholder: "kata-remote" },
                    { name: "action", label: "Action", type: "select", options: [{ value: "mutate", label: "mutate" }, { value: "refuse", label: "refuse" }] },
                    { name: "dropcpu", label: "Drop the CPU reservation", type: "checkbox", value: true },
                    { name: "dropmemory", label: "Drop the memory reservation", type: "checkbox", value: true },
                    { name: "hosttags", label: "Host tags to require (comma separated)" },
                    { name: "protecteddomainids", label: "Protected domains", type: "select", options: from("listDomains", { listall: "true" }, (d) => d.path ?? d.name) },
                    { name: "description", label: "Description" },
                  ],
                  "createAdmissionPolicy",
                  {},
                  r,
                ),
            },
          ]
        : [],
      actions: admin ? [{ label: "Delete", danger: true, run: (p, r) => confirmAct(`Delete ${p.name}`, `Delete the admission policy ${p.name}? Instances it admitted keep what it did.`, "deleteAdmissionPolicy", { id: p.id }, r) }] : [],
    }),
  );
}

type DedKind = "Zone" | "Pod" | "Cluster" | "Host";
const DED: Record<DedKind, { param: string; key: string; name: string }> = {
  Zone: { param: "zoneid", key: "dedicatedzone", name: "zonename" },
  Pod: { param: "podid", key: "dedicatedpod", name: "podname" },
  Cluster: { param: "clusterid", key: "dedicatedcluster", name: "clustername" },
  Host: { param: "hostid", key: "dedicatedhost", name: "hostname" },
};

/** The "Dedicate" action of an infrastructure page's rows. */
export function dedicateAction(kind: DedKind): Action {
  return {
    label: "Dedicate",
    run: (x, r) =>
      formAct(
        `Dedicate ${kind.toLowerCase()} ${x.name}`,
        [
          { name: "domainid", label: "Domain", type: "select", required: true, options: from("listDomains", { listall: "true" }, (d) => d.path ?? d.name) },
          { name: "account", label: "Account (empty: the whole domain)" },
        ],
        `dedicate${kind}`,
        { [DED[kind].param]: x.id },
        r,
      ),
  };
}

/** Everything dedicated, by kind, with its release. */
export function dedicatedResources(): HTMLElement {
  const pane = (kind: DedKind) => () =>
    listView({
      command: `listDedicated${kind}s`,
      columns: [
        { key: DED[kind].name, label: kind },
        { key: "domainid", label: "Domain ID", minor: true },
        { key: "account", label: "Account", render: (d) => d.account ?? "(whole domain)" },
      ],
      actions: [{ label: "Release", danger: true, run: (d, r) => confirmAct(`Release ${d[DED[kind].name]}`, `Release the dedicated ${kind.toLowerCase()} ${d[DED[kind].name]}?`, `releaseDedicated${kind}`, { [DED[kind].param]: d[DED[kind].param] }, r) }],
    });
  return h(
    "section",
    {},
    h("h1", {}, "Dedicated resources"),
    h("p", { class: "hint" }, "A dedicated zone, pod, cluster or host runs only its domain's (or account's) instances, which go there first. Dedicate from the Zones, Pods, Clusters and Hosts pages."),
    tabs((["Zone", "Pod", "Cluster", "Host"] as DedKind[]).map((k) => [`${k}s`, pane(k)] as [string, () => HTMLElement])),
  );
}
