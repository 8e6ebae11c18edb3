// The application shell: login, the navigation (what it shows follows the role), the hash
// router, and the jobs indicator.

import "./style.css";
import { ApiError, currentProject, currentSession, list, login, logout, onJob, onSessionExpired, role, setProject, trackedJobs } from "./api";
import { clear, errorText, h } from "./dom";
import { dashboard } from "./views/dashboard";
import { instanceDetail, instances, deployWizard } from "./views/instances";
import { isos, keypairs, snapshots, templates, volumes } from "./views/storage";
import { certificates } from "./views/certs";
import { networkDetail, networks, publicIpDetail, publicIps, securityGroupDetail, securityGroups, vpnUsers } from "./views/network";
import { serviceTags, vpcDetail, vpcs } from "./views/vpc";
import { clusters, hostDetail, hosts, imageStores, offerings, physicalNetworks, pods, primaryStorage, routers, settings, zones } from "./views/infra";
import { accounts, domains, events, jobsPage, limits, users } from "./views/accounts";
import { admissionPolicies, affinityGroups, dedicatedResources } from "./views/scheduling";
import { instanceGroups, roleDetail, roles } from "./views/roles";
import { projectDetail, projects } from "./views/projects";

type View = (arg: string) => HTMLElement;
interface NavItem {
  path: string;
  label: string;
  view: View;
  roles?: ("admin" | "domainadmin" | "user")[];
  section: string;
}

const ADMIN: NavItem["roles"] = ["admin"];
const ADMINS: NavItem["roles"] = ["admin", "domainadmin"];

const NAV: NavItem[] = [
  { section: "", path: "dashboard", label: "Dashboard", view: dashboard },
  { section: "", path: "projects", label: "Projects", view: projects },
  { section: "Compute", path: "instances", label: "Instances", view: instances },
  { section: "Compute", path: "volumes", label: "Volumes", view: volumes },
  { section: "Compute", path: "snapshots", label: "Snapshots", view: snapshots },
  { section: "Compute", path: "keypairs", label: "SSH key pairs", view: keypairs },
  { section: "Compute", path: "affinitygroups", label: "Affinity groups", view: affinityGroups },
  { section: "Compute", path: "instancegroups", label: "Instance groups", view: instanceGroups },
  { section: "Images", path: "templates", label: "Templates", view: templates },
  { section: "Images", path: "isos", label: "ISOs", view: isos },
  { section: "Network", path: "networks", label: "Guest networks", view: networks },
  { section: "Network", path: "publicips", label: "Public IP addresses", view: publicIps },
  { section: "Network", path: "securitygroups", label: "Security groups", view: securityGroups },
  { section: "Network", path: "vpnusers", label: "VPN users", view: vpnUsers },
  { section: "Network", path: "sslcerts", label: "SSL certificates", view: certificates },
  { section: "Network", path: "vpcs", label: "VPCs", view: vpcs },
  { section: "Network", path: "servicetags", label: "Service tags", view: serviceTags },
  { section: "Infrastructure", path: "zones", label: "Zones", view: zones, roles: ADMIN },
  { section: "Infrastructure", path: "pods", label: "Pods", view: pods, roles: ADMIN },
  { section: "Infrastructure", path: "clusters", label: "Clusters", view: clusters, roles: ADMIN },
  { section: "Infrastructure", path: "hosts", label: "Hosts", view: hosts, roles: ADMIN },
  { section: "Infrastructure", path: "primarystorage", label: "Primary storage", view: primaryStorage, roles: ADMIN },
  { section: "Infrastructure", path: "imagestores", label: "Secondary storage", view: imageStores, roles: ADMIN },
  { section: "Infrastructure", path: "physicalnetworks", label: "Physical networks", view: physicalNetworks, roles: ADMIN },
  { section: "Infrastructure", path: "routers", label: "Virtual routers", view: routers, roles: ADMIN },
  { section: "Infrastructure", path: "dedicated", label: "Dedicated resources", view: dedicatedResources, roles: ADMIN },
  { section: "Service offerings", path: "offerings", label: "Offerings", view: offerings, roles: ADMIN },
  { section: "Service offerings", path: "admissionpolicies", label: "Admission policies", view: admissionPolicies, roles: ADMIN },
  { section: "Administration", path: "settings", label: "Global settings", view: settings, roles: ADMIN },
  { section: "Administration", path: "domains", label: "Domains", view: domains, roles: ADMINS },
  { section: "Administration", path: "accounts", label: "Accounts", view: accounts, roles: ADMINS },
  { section: "Administration", path: "roles", label: "Roles", view: roles, roles: ADMINS },
  { section: "Administration", path: "users", label: "Users", view: users },
  { section: "Administration", path: "limits", label: "Resource limits", view: limits },
  { section: "Administration", path: "events", label: "Events", view: events },
  { section: "Administration", path: "jobs", label: "Async jobs", view: jobsPage },
];

/** Pages reached from a list (a resource's details), not shown in the navigation. */
const DETAIL: Record<string, { view: View; roles?: NavItem["roles"] }> = {
  instance: { view: instanceDetail },
  deploy: { view: deployWizard },
  network: { view: networkDetail },
  publicip: { view: publicIpDetail },
  vpc: { view: vpcDetail },
  securitygroup: { view: securityGroupDetail },
  host: { view: hostDetail, roles: ADMIN },
  role: { view: roleDetail, roles: ADMIN },
  project: { view: projectDetail },
};

const app = document.getElementById("app") as HTMLElement;

function allowed(roles: NavItem["roles"]): boolean {
  return !roles || roles.includes(role());
}

function loginPage(message = "") {
  document.title = "Log in — Canopy";
  const err = h("p", { class: "form-error", role: "alert", hidden: !message }, message);
  const user = h("input", { name: "username", id: "username", autocomplete: "username", required: true }) as HTMLInputElement;
  const pass = h("input", { name: "password", id: "password", type: "password", autocomplete: "current-password", required: true }) as HTMLInputElement;
  const dom = h("input", { name: "domain", id: "domain", placeholder: "/ (ROOT)", autocomplete: "off" }) as HTMLInputElement;
  const btn = h("button", { type: "submit", class: "primary" }, "Log in") as HTMLButtonElement;
  const form = h(
    "form",
    { class: "login", "aria-label": "log in" },
    h("h1", {}, h("span", { class: "logo" }, "▲"), " Canopy"),
    h("div", { class: "field" }, h("label", { for: "username" }, "User name"), user),
    h("div", { class: "field" }, h("label", { for: "password" }, "Password"), pass),
    h("div", { class: "field" }, h("label", { for: "domain" }, "Domain"), dom, h("small", {}, "The domain path, e.g. / or /customers/acme")),
    err,
    btn,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    btn.disabled = true;
    try {
      await login(user.value.trim(), pass.value, dom.value.trim());
      if (!location.hash || location.hash === "#/login") location.hash = "#/dashboard";
      shell();
    } catch (e2) {
      err.hidden = false;
      err.textContent = e2 instanceof ApiError && e2.code === 531 ? "Those credentials are not valid (531)." : errorText(e2);
      btn.disabled = false;
    }
  });
  clear(app, h("div", { class: "login-page" }, form));
  user.focus();
}

let content: HTMLElement;
let navEl: HTMLElement;

function jobsIndicator(): HTMLElement {
  const el = h("a", { href: "#/jobs", class: "jobs-indicator", title: "Async jobs" });
  const paint = () => {
    const active = trackedJobs().filter((j) => j.status === "running");
    const running = active.length;
    const pct = running === 1 && active[0].progress ? ` (${active[0].progress}%)` : "";
    el.textContent = running ? `⟳ ${running} job${running > 1 ? "s" : ""} running${pct}` : "Jobs";
    el.classList.toggle("busy", running > 0);
  };
  paint();
  // Whoever started a job reports how it ended; this only counts. It stops listening when the
  // shell is replaced (a logout and a new login build a new one).
  const off = onJob(() => (el.isConnected ? paint() : off()));
  return el;
}

/** The project switcher: the account's own resources, or one project's (every call then
 * carries its `projectid`). */
function projectSwitcher(): HTMLElement {
  const cur = currentProject();
  const sel = h("select", { class: "project-switch", "aria-label": "project" }) as HTMLSelectElement;
  const fill = () =>
    list("listProjects", { listall: role() !== "user", details: "min", page: 1, pagesize: 200 })
      .then(({ items }) => {
        clear(sel, h("option", { value: "" }, "Default view (no project)"));
        for (const p of items) {
          sel.append(h("option", { value: p.id, selected: p.id === cur?.id }, `Project: ${p.name}`));
        }
        // A project that is gone (deleted elsewhere): back to the default view.
        if (cur && !items.some((p) => p.id === cur.id)) {
          setProject(null);
          location.reload();
        }
      })
      .catch(() => undefined);
  clear(sel, h("option", { value: "" }, "Default view (no project)"));
  if (cur) sel.append(h("option", { value: cur.id, selected: true }, `Project: ${cur.name}`));
  fill();
  // Projects made or deleted meanwhile show up at the next page.
  const refill = () => (sel.isConnected ? fill() : window.removeEventListener("hashchange", refill));
  window.addEventListener("hashchange", refill);
  sel.addEventListener("change", () => {
    const opt = sel.selectedOptions[0];
    setProject(sel.value ? { id: sel.value, name: (opt?.textContent ?? "").replace(/^Project: /, "") } : null);
    location.reload();
  });
  return sel;
}

function shell() {
  const s = currentSession();
  if (!s) return loginPage();
  const sections = new Map<string, NavItem[]>();
  for (const n of NAV.filter((n) => allowed(n.roles))) {
    if (!sections.has(n.section)) sections.set(n.section, []);
    sections.get(n.section)!.push(n);
  }
  navEl = h(
    "nav",
    { class: "nav", "aria-label": "main" },
    [...sections].map(([title, items]) =>
      h("div", { class: "nav-section", "data-section": title || "home" }, title ? h("h3", {}, title) : null, items.map((n) => h("a", { href: `#/${n.path}`, "data-path": n.path }, n.label))),
    ),
  );
  content = h("main", { class: "content", id: "content" });
  const roleName = { admin: "root admin", domainadmin: "domain admin", user: "user" }[role()];
  const menuBtn = h("button", { type: "button", class: "menu-toggle", "aria-label": "menu", onclick: () => document.body.classList.toggle("nav-open") }, "☰");
  clear(
    app,
    h(
      "header",
      { class: "top" },
      menuBtn,
      h("a", { href: "#/dashboard", class: "brand" }, h("span", { class: "logo" }, "▲"), " Canopy"),
      h("span", { class: "spacer" }),
      projectSwitcher(),
      jobsIndicator(),
      h("span", { class: "who", "data-role": role() }, `${s.username} · ${s.account} (${roleName})`),
      h(
        "button",
        {
          type: "button",
          class: "logout",
          onclick: async () => {
            await logout();
            location.hash = "#/login";
            loginPage("You have logged out.");
          },
        },
        "Log out",
      ),
    ),
    h("div", { class: "body" }, navEl, content),
  );
  route();
}

function route() {
  if (!currentSession()) return loginPage();
  if (!content || !content.isConnected) return shell();
  document.body.classList.remove("nav-open");
  const [path, ...rest] = location.hash.replace(/^#\/?/, "").split("/");
  const arg = decodeURIComponent(rest.join("/"));
  const item = NAV.find((n) => n.path === (path || "dashboard"));
  const detail = DETAIL[path];
  navEl.querySelectorAll("a").forEach((a) => a.classList.toggle("active", a.getAttribute("data-path") === path));
  let page: HTMLElement;
  if (item && allowed(item.roles)) {
    document.title = `${item.label} — Canopy`;
    page = item.view(arg);
  } else if (detail && allowed(detail.roles)) {
    page = detail.view(arg);
  } else {
    page = h("section", {}, h("h1", {}, "Not found"), h("p", {}, "There is no such page, or your role does not include it."));
  }
  clear(content, page);
}

onSessionExpired((why) => {
  if (content?.isConnected) {
    content = undefined as unknown as HTMLElement;
    loginPage(why);
  }
});
window.addEventListener("hashchange", route);
shell();
