// The list page every resource uses: search (the API's `keyword`), server-side paging (`page`,
// `pagesize`, the response's `count`), sorting by a column, state badges, row actions and
// toolbar actions. Errors show as the API's text in the page.

import { list, Params, Row } from "./api";
import { clear, errorText, h } from "./dom";

export interface Column {
  key: string;
  label: string;
  render?: (r: Row) => Node | string;
  /** Hidden on narrow screens. */
  minor?: boolean;
}

export interface Action {
  label: string;
  show?: (r: Row) => boolean;
  run: (r: Row, reload: () => void) => void | Promise<void>;
  danger?: boolean;
}

export interface Tool {
  label: string;
  run: (reload: () => void) => void | Promise<void>;
  primary?: boolean;
}

export interface ListConfig {
  command: string;
  params?: () => Params;
  columns: Column[];
  actions?: Action[];
  tools?: Tool[];
  link?: (r: Row) => string | undefined;
  search?: boolean;
  pageSize?: number;
  /** Reload every N ms while the page is shown (states that change by themselves). */
  refreshMs?: number;
  /** While this holds for the rows shown (a download running, say), reload every second. */
  busy?: (rows: Row[]) => boolean;
  empty?: string;
  /** Sort order applied before the user picks a column. */
  sort?: { key: string; desc?: boolean };
}

export function listView(cfg: ListConfig): HTMLElement {
  const pageSize = cfg.pageSize ?? 20;
  let page = 1;
  let keyword = "";
  let sortKey = cfg.sort?.key ?? "";
  let desc = cfg.sort?.desc ?? false;
  let rows: Row[] = [];
  let count = 0;
  let seq = 0;

  const status = h("div", { class: "list-status", role: "status" });
  const tbody = h("tbody");
  const thead = h("thead");
  const pager = h("div", { class: "pager" });
  const search = cfg.search === false ? null : (h("input", { type: "search", placeholder: "Search", "aria-label": "search", class: "search" }) as HTMLInputElement);
  const root = h(
    "div",
    { class: "list" },
    h(
      "div",
      { class: "toolbar" },
      search,
      h("button", { type: "button", onclick: () => reload(), title: "Refresh" }, "↻ Refresh"),
      (cfg.tools ?? []).map((t) => h("button", { type: "button", class: t.primary ? "primary" : "", onclick: () => t.run(reload) }, t.label)),
    ),
    status,
    h("div", { class: "table-wrap" }, h("table", {}, thead, tbody)),
    pager,
  );

  let timer: number | undefined;
  search?.addEventListener("input", () => {
    clearTimeout(timer);
    timer = window.setTimeout(() => {
      keyword = search.value.trim();
      page = 1;
      reload();
    }, 250);
  });

  const header = () =>
    clear(
      thead,
      h(
        "tr",
        {},
        cfg.columns.map((c) =>
          h(
            "th",
            {
              class: `${c.minor ? "minor " : ""}sortable`,
              "aria-sort": sortKey === c.key ? (desc ? "descending" : "ascending") : "none",
              onclick: () => {
                if (sortKey === c.key) desc = !desc;
                else {
                  sortKey = c.key;
                  desc = false;
                }
                header();
                body();
              },
            },
            c.label,
            sortKey === c.key ? (desc ? " ▾" : " ▴") : "",
          ),
        ),
        cfg.actions?.length ? h("th", { class: "actions-col" }, "Actions") : null,
      ),
    );

  const cmp = (a: Row, b: Row) => {
    const x = a[sortKey];
    const y = b[sortKey];
    const nx = Number(x);
    const ny = Number(y);
    const r = x !== undefined && y !== undefined && x !== "" && y !== "" && !isNaN(nx) && !isNaN(ny) ? nx - ny : String(x ?? "").localeCompare(String(y ?? ""));
    return desc ? -r : r;
  };

  const body = () => {
    const sorted = sortKey ? [...rows].sort(cmp) : rows;
    clear(
      tbody,
      sorted.map((r) =>
        h(
          "tr",
          { "data-id": r.id ?? "", "data-name": r.name ?? r.username ?? r.ipaddress ?? "" },
          cfg.columns.map((c, i) => {
            const v = c.render ? c.render(r) : String(r[c.key] ?? "");
            const href = i === 0 ? cfg.link?.(r) : undefined;
            return h("td", { class: c.minor ? "minor" : "", "data-label": c.label }, href ? h("a", { href }, v) : v);
          }),
          cfg.actions?.length
            ? h(
                "td",
                { class: "actions" },
                cfg.actions
                  .filter((a) => !a.show || a.show(r))
                  .map((a) => h("button", { type: "button", class: a.danger ? "danger small" : "small", onclick: () => a.run(r, reload) }, a.label)),
              )
            : null,
        ),
      ),
    );
    if (!rows.length) tbody.append(h("tr", {}, h("td", { colspan: cfg.columns.length + 1, class: "empty" }, cfg.empty ?? "Nothing here yet.")));
    const pages = Math.max(1, Math.ceil(count / pageSize));
    clear(
      pager,
      h("button", { type: "button", disabled: page <= 1, onclick: () => ((page -= 1), reload()) }, "‹ Prev"),
      h("span", {}, `page ${page} of ${pages} · ${count} in all`),
      h("button", { type: "button", disabled: page >= pages, onclick: () => ((page += 1), reload()) }, "Next ›"),
    );
  };

  async function reload() {
    const mine = ++seq;
    status.textContent = rows.length ? "" : "Loading…";
    status.className = "list-status";
    try {
      const r = await list(cfg.command, { listall: true, ...(cfg.params?.() ?? {}), keyword: keyword || undefined, page, pagesize: pageSize });
      if (mine !== seq) return;
      rows = r.items;
      count = r.count;
      status.textContent = "";
      body();
      if (cfg.busy?.(rows)) {
        window.setTimeout(() => {
          if (root.isConnected && mine === seq) reload();
        }, 1000);
      }
    } catch (e) {
      if (mine !== seq) return;
      status.className = "list-status error";
      status.textContent = errorText(e);
    }
  }

  header();
  body();
  reload();
  if (cfg.refreshMs) {
    const t = window.setInterval(() => {
      if (!root.isConnected) window.clearInterval(t);
      else reload();
    }, cfg.refreshMs);
  }
  return root;
}

/** Key/value details of one resource. */
export function details(r: Row, keys: [string, string][]): HTMLElement {
  return h(
    "dl",
    { class: "details" },
    keys.filter(([k]) => r[k] !== undefined && r[k] !== "").map(([k, label]) => [h("dt", {}, label), h("dd", { "data-key": k }, typeof r[k] === "object" ? JSON.stringify(r[k]) : String(r[k]))]),
  );
}

/** Tabs: the first is shown; each tab's content is built when first opened. */
export function tabs(items: [string, () => HTMLElement][]): HTMLElement {
  const bodyEl = h("div", { class: "tab-body" });
  const bar = h("div", { class: "tabs", role: "tablist" });
  const show = (i: number) => {
    bar.querySelectorAll("button").forEach((b, j) => b.setAttribute("aria-selected", String(i === j)));
    clear(bodyEl, items[i][1]());
  };
  items.forEach(([label], i) => bar.append(h("button", { type: "button", role: "tab", onclick: () => show(i) }, label)));
  const el = h("div", { class: "tabbed" }, bar, bodyEl);
  show(0);
  return el;
}
