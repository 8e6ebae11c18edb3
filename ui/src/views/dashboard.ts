// The dashboard: per-zone capacity as bar charts (admins), the caller's VMs by state, hosts by
// state (admins), and the latest events.

import { list, listAll, role, Row } from "../api";
import { bytes, clear, errorText, h, when } from "../dom";

const CAPACITY: Record<number, { label: string; fmt: (n: number) => string }> = {
  1: { label: "CPU", fmt: (n) => `${(n / 1000).toFixed(1)} GHz` },
  0: { label: "Memory", fmt: (n) => bytes(n) },
  2: { label: "Primary storage", fmt: (n) => bytes(n) },
  3: { label: "Storage allocated", fmt: (n) => bytes(n) },
  4: { label: "Public IPs", fmt: (n) => String(n) },
  6: { label: "Secondary storage", fmt: (n) => bytes(n) },
  9: { label: "Local storage", fmt: (n) => bytes(n) },
  1000: { label: "VM slots", fmt: (n) => String(n) },
};

function bar(label: string, used: number, total: number, fmt: (n: number) => string): HTMLElement {
  const pct = total > 0 ? Math.min(100, (used * 100) / total) : 0;
  const level = pct >= 90 ? "high" : pct >= 70 ? "mid" : "low";
  return h(
    "div",
    { class: "capbar", "data-capacity": label },
    h("div", { class: "caplabel" }, h("span", {}, label), h("span", {}, `${fmt(used)} / ${fmt(total)} · ${pct.toFixed(0)}%`)),
    h("div", { class: "track", role: "meter", "aria-valuenow": pct.toFixed(0), "aria-valuemin": 0, "aria-valuemax": 100, "aria-label": label }, h("div", { class: `fill ${level}`, style: { width: `${pct}%` } })),
  );
}

/** A donut of counts by state. */
function donut(title: string, counts: Record<string, number>): HTMLElement {
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  const colors: Record<string, string> = { Running: "#2e9d5b", Up: "#2e9d5b", Stopped: "#8a94a6", Down: "#d64545", Error: "#d64545", Alert: "#e0a030", Disconnected: "#e0a030", Maintenance: "#4a78d0", Starting: "#62a8e0", Stopping: "#62a8e0", Destroyed: "#555" };
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 42 42");
  svg.setAttribute("class", "donut");
  let offset = 25;
  const ring = document.createElementNS(ns, "circle");
  Object.entries({ cx: "21", cy: "21", r: "15.9", fill: "transparent", stroke: "#e6e9ef", "stroke-width": "6" }).forEach(([k, v]) => ring.setAttribute(k, v));
  svg.append(ring);
  for (const [state, n] of Object.entries(counts)) {
    if (!n || !total) continue;
    const pct = (n * 100) / total;
    const c = document.createElementNS(ns, "circle");
    Object.entries({
      cx: "21",
      cy: "21",
      r: "15.9",
      fill: "transparent",
      stroke: colors[state] ?? "#9b59b6",
      "stroke-width": "6",
      "stroke-dasharray": `${pct} ${100 - pct}`,
      "stroke-dashoffset": String(offset),
    }).forEach(([k, v]) => c.setAttribute(k, v));
    svg.append(c);
    offset -= pct;
  }
  const t = document.createElementNS(ns, "text");
  Object.entries({ x: "21", y: "23.5", "text-anchor": "middle", "font-size": "8" }).forEach(([k, v]) => t.setAttribute(k, v));
  t.textContent = String(total);
  svg.append(t);
  return h(
    "div",
    { class: "card donut-card", "data-chart": title },
    h("h3", {}, title),
    svg as unknown as HTMLElement,
    h(
      "ul",
      { class: "legend" },
      Object.entries(counts).map(([s, n]) => h("li", { "data-state": s }, h("i", { style: { background: colors[s] ?? "#9b59b6" } }), `${s}: ${n}`)),
    ),
  );
}

const VM_STATES = ["Running", "Stopped", "Starting", "Stopping", "Migrating", "Error", "Destroyed"];
const HOST_STATES = ["Up", "Down", "Alert", "Disconnected", "Connecting"];

/**
 * How many rows of a list command are in each state: one call per state asking for one row
 * and reading `count`, so the dashboard costs the same at ten VMs or a hundred thousand.
 */
async function countByState(command: string, states: string[], params: Row = {}): Promise<Record<string, number>> {
  const counts = await Promise.all(states.map(async (state) => (await list(command, { ...params, state, page: 1, pagesize: 1 })).count));
  const out: Record<string, number> = {};
  states.forEach((s, i) => {
    if (counts[i] > 0) out[s] = counts[i];
  });
  return out;
}

export function dashboard(): HTMLElement {
  const cards = h("div", { class: "cards" });
  const caps = h("div", { class: "capacity" });
  const ev = h("div", { class: "card events-card" }, h("h3", {}, "Recent events"), h("p", {}, "Loading…"));
  const page = h("section", {}, h("h1", {}, "Dashboard"), cards, caps, ev);

  // Three independent sections, loaded at once.
  (async () => {
    try {
      const [byState, hostStates] = await Promise.all([
        countByState("listVirtualMachines", VM_STATES, { listall: true }),
        role() === "admin" ? countByState("listHosts", HOST_STATES, { type: "Routing" }) : Promise.resolve(null),
      ]);
      cards.append(donut("Instances", byState));
      cards.append(
        h(
          "div",
          { class: "card counts" },
          h("h3", {}, "Instances"),
          h("p", { class: "big", "data-count": "running" }, String(byState.Running ?? 0), h("small", {}, " running")),
          h("p", { class: "big", "data-count": "stopped" }, String(byState.Stopped ?? 0), h("small", {}, " stopped")),
          h("a", { href: "#/instances" }, "All instances →"),
        ),
      );
      if (hostStates) cards.append(donut("Hosts", hostStates));
    } catch (e) {
      cards.append(h("p", { class: "error" }, errorText(e)));
    }
  })();
  (async () => {
    if (role() === "admin") {
      try {
        const [zones, cap] = await Promise.all([listAll("listZones"), listAll("listCapacity")]);
        for (const z of zones) {
          const mine = cap.filter((c) => c.zoneid === z.id && CAPACITY[Number(c.type)]);
          caps.append(
            h(
              "div",
              { class: "card zone-capacity", "data-zone": z.name },
              h("h3", {}, `Capacity — ${z.name}`, " ", h("span", { class: `badge badge-${String(z.allocationstate).toLowerCase()}` }, z.allocationstate)),
              mine.length
                ? Object.keys(CAPACITY)
                    .map(Number)
                    .map((t) => mine.find((c) => Number(c.type) === t))
                    .filter((c): c is Row => !!c)
                    .map((c) => bar(CAPACITY[Number(c.type)].label, Math.max(Number(c.capacityused), Number(c.capacityallocated ?? 0)), Number(c.capacitytotal), CAPACITY[Number(c.type)].fmt))
                : h("p", {}, "No capacity yet: add hosts and storage."),
            ),
          );
        }
      } catch (e) {
        caps.append(h("p", { class: "error" }, errorText(e)));
      }
    } else {
      try {
        const limits = await listAll("listResourceLimits");
        const names: Record<string, string> = { "0": "Instances", "1": "Public IPs", "2": "Volumes", "8": "CPU cores", "9": "Memory (MiB)" };
        caps.append(
          h(
            "div",
            { class: "card" },
            h("h3", {}, "Your limits"),
            h("ul", {}, limits.filter((l) => names[String(l.resourcetype)]).map((l) => h("li", {}, `${names[String(l.resourcetype)]}: ${Number(l.max) < 0 ? "unlimited" : l.max}`))),
          ),
        );
      } catch (e) {
        caps.append(h("p", { class: "error" }, errorText(e)));
      }
    }
  })();
  (async () => {
    try {
      const { items } = await list("listEvents", { listall: true, page: 1, pagesize: 10 });
      clear(
        ev,
        h("h3", {}, "Recent events"),
        items.length
          ? h(
              "ul",
              { class: "event-list" },
              items.map((e) => h("li", {}, h("span", { class: `level level-${String(e.level).toLowerCase()}` }, e.level), " ", h("b", {}, e.type), " ", e.description, " ", h("small", {}, when(e.created)))),
            )
          : h("p", {}, "No events yet."),
        h("a", { href: "#/events" }, "All events →"),
      );
    } catch (e) {
      clear(ev, h("h3", {}, "Recent events"), h("p", { class: "error" }, errorText(e)));
    }
  })();
  return page;
}
