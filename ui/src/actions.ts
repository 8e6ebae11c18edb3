// Running commands from the pages: every call goes through `run` (which follows async jobs),
// ends with a notification, and puts the API's error text in front of the user.

import { Params, Row, listAll, run } from "./api";
import { Field, Option, Values, confirmDialog, errorText, formDialog, options, toast } from "./dom";

/** Runs a command now; a notification says how it ended. */
export async function act(label: string, command: string, params: Params, after?: () => void): Promise<Row | undefined> {
  try {
    const r = await run(command, params, label);
    toast(`${label}: done`, "ok");
    after?.();
    return r;
  } catch (e) {
    toast(`${label}: ${errorText(e)}`, "error");
    after?.();
    return undefined;
  }
}

/** Asks first, then runs; errors stay in the dialog. */
export function confirmAct(label: string, text: string, command: string, params: Params, after?: () => void) {
  confirmDialog(label, text, async () => {
    await run(command, params, label);
    toast(`${label}: done`, "ok");
    after?.();
  }, label);
}

/** A form whose values (plus `fixed`) are the command's parameters. */
export function formAct(label: string, fields: Field[], command: string, fixed: Params = {}, after?: () => void, map?: (v: Values) => Params) {
  formDialog(label, fields, async (v) => {
    const params = map ? map(v) : clean(v);
    await run(command, { ...params, ...fixed }, label);
    toast(`${label}: done`, "ok");
    after?.();
  }, label);
}

/** Values with checkboxes as "true"/"false" and empty ones dropped. */
export function clean(v: Values): Params {
  const out: Params = {};
  for (const [k, x] of Object.entries(v)) {
    if (k.startsWith("_")) continue;
    if (typeof x === "boolean") out[k] = x ? "true" : "false";
    else if (x !== "") out[k] = x;
  }
  return out;
}

/** Options loaded from a list command. */
export function from(command: string, params: Params = {}, label?: (r: Row) => string, value?: (r: Row) => string): () => Promise<Option[]> {
  return async () => options(await listAll(command, params), label, value);
}
