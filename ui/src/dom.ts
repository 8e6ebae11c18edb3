// A few DOM helpers: element building, notifications, dialogs and forms. No framework: the
// pages are lists, forms and detail panels, re-rendered from the API's answers.

import { ApiError, Row } from "./api";

type Child = Node | string | number | null | undefined | false | Child[];
type Attrs = Record<string, any>;

export function h(tag: string, attrs: Attrs = {}, ...children: Child[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") {
      el.addEventListener(k.slice(2).toLowerCase(), v);
    } else if (k === "class") {
      el.className = String(v);
    } else if (k === "style" && typeof v === "object") {
      Object.assign(el.style, v);
    } else if (k === "value" && "value" in el) {
      (el as HTMLInputElement).value = String(v);
    } else if (v === true) {
      el.setAttribute(k, "");
    } else {
      el.setAttribute(k, String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el: HTMLElement, children: Child[]) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

export function clear(el: HTMLElement, ...children: Child[]): HTMLElement {
  el.replaceChildren();
  append(el, children);
  return el;
}

export function errorText(e: unknown): string {
  if (e instanceof ApiError) return e.code ? `${e.message} (${e.code})` : e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}

// ---- notifications -------------------------------------------------------------------------

let toasts: HTMLElement | null = null;

export function toast(text: string, kind: "ok" | "error" | "info" = "info") {
  if (!toasts) {
    toasts = h("div", { class: "toasts", role: "status", "aria-live": "polite" });
    document.body.append(toasts);
  }
  const t = h("div", { class: `toast toast-${kind}` }, text, h("button", { class: "x", "aria-label": "dismiss", onclick: () => t.remove() }, "×"));
  toasts.append(t);
  while (toasts.children.length > 4) toasts.firstElementChild?.remove();
  setTimeout(() => t.remove(), kind === "error" ? 15000 : 6000);
}

// ---- dialogs ---------------------------------------------------------------------------------

export function modal(title: string, content: HTMLElement, opts: { wide?: boolean } = {}): { close: () => void; el: HTMLElement } {
  const back = h("div", { class: "modal-back" });
  const close = () => back.remove();
  const box = h(
    "div",
    { class: `modal${opts.wide ? " wide" : ""}`, role: "dialog", "aria-modal": "true", "aria-label": title },
    h("header", {}, h("h2", {}, title), h("button", { class: "x", "aria-label": "close", onclick: close }, "×")),
    content,
  );
  back.append(box);
  back.addEventListener("keydown", (e) => {
    if ((e as KeyboardEvent).key === "Escape") close();
  });
  document.body.append(back);
  (box.querySelector("input,select,textarea,button:not(.x)") as HTMLElement | null)?.focus();
  return { close, el: box };
}

export function confirmDialog(title: string, text: string, action: () => Promise<unknown>, label = "OK"): void {
  formDialog(title, [{ name: "_info", type: "info", label: text }], async () => action(), label);
}

// ---- forms -----------------------------------------------------------------------------------

export interface Option {
  value: string;
  label: string;
}

export interface Field {
  name: string;
  label: string;
  type?: "text" | "password" | "number" | "select" | "checkbox" | "textarea" | "info" | "file";
  required?: boolean;
  value?: string | boolean;
  placeholder?: string;
  help?: string;
  options?: Option[] | (() => Promise<Option[]>);
  /** Shown only when this returns true for the current values. */
  when?: (v: Record<string, any>) => boolean;
}

export type Values = Record<string, any>;

/** Input elements for fields, and a reader of their values. */
export function fieldset(fields: Field[]): { el: HTMLElement; values: () => Values; refresh: () => void } {
  const inputs = new Map<string, HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement>();
  const rows = new Map<string, HTMLElement>();
  const el = h("div", { class: "fields" });
  /** The fields' values; hidden fields (their `when` is false) only with `all`. */
  const read = (all: boolean): Values => {
    const v: Values = {};
    for (const [name, input] of inputs) {
      if (!all && rows.get(name)?.hidden) continue;
      if (input instanceof HTMLInputElement && input.type === "file") v[name] = input.files?.[0] ?? "";
      else v[name] = input instanceof HTMLInputElement && input.type === "checkbox" ? input.checked : input.value.trim();
    }
    return v;
  };
  const values = () => read(false);
  const refresh = () => {
    const v = read(true);
    for (const f of fields) {
      const row = rows.get(f.name);
      if (row && f.when) row.hidden = !f.when(v);
    }
  };
  for (const f of fields) {
    const id = `f-${f.name}-${Math.random().toString(36).slice(2, 7)}`;
    if (f.type === "info") {
      el.append(h("p", { class: "info" }, f.label));
      continue;
    }
    let input: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement;
    if (f.type === "select") {
      const sel = h("select", { id, name: f.name, required: f.required }) as HTMLSelectElement;
      const fill = (opts: Option[]) => {
        clear(sel, f.required ? null : h("option", { value: "" }, "—"), opts.map((o) => h("option", { value: o.value }, o.label)));
        if (typeof f.value === "string") sel.value = f.value;
        refresh();
      };
      if (typeof f.options === "function") {
        sel.append(h("option", { value: "" }, "loading…"));
        f.options().then(fill, (e) => clear(sel, h("option", { value: "" }, `could not load: ${errorText(e)}`)));
      } else fill(f.options ?? []);
      input = sel;
    } else if (f.type === "textarea") {
      input = h("textarea", { id, name: f.name, required: f.required, placeholder: f.placeholder, rows: 4 }) as HTMLTextAreaElement;
      if (typeof f.value === "string") input.value = f.value;
    } else {
      input = h("input", {
        id,
        name: f.name,
        type: f.type ?? "text",
        required: f.required,
        placeholder: f.placeholder,
        autocomplete: f.type === "password" ? "new-password" : "off",
      }) as HTMLInputElement;
      if (f.type === "checkbox") (input as HTMLInputElement).checked = f.value === true;
      else if (f.value !== undefined) input.value = String(f.value);
    }
    input.addEventListener("change", refresh);
    inputs.set(f.name, input);
    const row =
      f.type === "checkbox"
        ? h("div", { class: "field check" }, input, h("label", { for: id }, f.label), f.help ? h("small", {}, f.help) : null)
        : h("div", { class: "field" }, h("label", { for: id }, f.label + (f.required ? " *" : "")), input, f.help ? h("small", {}, f.help) : null);
    rows.set(f.name, row);
    el.append(row);
  }
  refresh();
  return { el, values, refresh };
}

/**
 * A dialog with a form. `submit` runs the API call; its error text is shown in the dialog
 * (which stays open), success closes it. Required fields are checked first.
 */
export function formDialog(title: string, fields: Field[], submit: (v: Values) => Promise<unknown>, label = "OK"): void {
  const fs = fieldset(fields);
  const err = h("p", { class: "form-error", role: "alert", hidden: true });
  const ok = h("button", { type: "submit", class: "primary" }, label) as HTMLButtonElement;
  const form = h(
    "form",
    { class: "dialog-form", novalidate: true },
    fs.el,
    err,
    h("div", { class: "buttons" }, h("button", { type: "button", onclick: () => m.close() }, "Cancel"), ok),
  ) as HTMLFormElement;
  const m = modal(title, form);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const v = fs.values();
    const missing = fields.filter((f) => f.required && f.type !== "checkbox" && v[f.name] !== undefined && v[f.name] === "");
    if (missing.length) {
      err.hidden = false;
      err.textContent = `Required: ${missing.map((f) => f.label).join(", ")}`;
      return;
    }
    ok.disabled = true;
    ok.textContent = "Working…";
    try {
      await submit(v);
      m.close();
    } catch (e2) {
      err.hidden = false;
      err.textContent = errorText(e2);
      ok.disabled = false;
      ok.textContent = label;
    }
  });
}

export function options(rows: Row[], label: (r: Row) => string = (r) => String(r.name), value: (r: Row) => string = (r) => String(r.id)): Option[] {
  return rows.map((r) => ({ value: value(r), label: label(r) }));
}

export function badge(state: string | undefined): HTMLElement {
  const s = String(state ?? "");
  return h("span", { class: `badge badge-${s.toLowerCase().replace(/[^a-z]/g, "")}` }, s || "—");
}

export function when(ms: string | number | undefined): string {
  if (!ms) return "";
  const d = new Date(ms);
  return isNaN(d.getTime()) ? String(ms) : d.toLocaleString();
}

export function bytes(n: number | string | undefined): string {
  const v = Number(n ?? 0);
  if (!isFinite(v)) return "";
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let i = 0;
  let x = v;
  while (x >= 1024 && i < units.length - 1) {
    x /= 1024;
    i++;
  }
  return `${x.toFixed(x >= 10 || i === 0 ? 0 : 1)} ${units[i]}`;
}
