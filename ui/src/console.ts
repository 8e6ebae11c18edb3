// The VM console page: noVNC over the websocket at /client/console, opened with the one-minute
// token that createConsoleEndpoint gave (in this page's URL). It needs no session of its own.

import RFB from "@novnc/novnc";
import "./style.css";

const q = new URLSearchParams(location.search);
const token = q.get("token") ?? "";
const name = q.get("name") ?? "";
const status = document.getElementById("console-status") as HTMLElement;
const cad = document.getElementById("console-cad") as HTMLButtonElement;
const screen = document.getElementById("screen") as HTMLElement;
(document.getElementById("console-title") as HTMLElement).textContent = name ? `Console — ${name}` : "Console";
if (name) document.title = `${name} — console`;

function show(state: string, text: string) {
  status.dataset.state = state;
  status.textContent = text;
}

if (!token) {
  show("error", "No console token: open the console from the instance's page (View console).");
} else {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const url = `${scheme}://${location.host}/client/console?token=${encodeURIComponent(token)}`;
  try {
    const rfb = new RFB(screen, url, { wsProtocols: ["binary"] });
    rfb.scaleViewport = true;
    rfb.background = "#111";
    rfb.addEventListener("connect", () => {
      show("connected", "connected");
      cad.disabled = false;
      // The token was used; a reload needs a new one from the instance's page.
      history.replaceState(null, "", location.pathname + (name ? `?name=${encodeURIComponent(name)}` : ""));
    });
    rfb.addEventListener("disconnect", (e: any) => {
      cad.disabled = true;
      show(e?.detail?.clean ? "disconnected" : "error", e?.detail?.clean ? "disconnected" : "the connection failed or was refused (the token lasts one minute; open the console again)");
    });
    rfb.addEventListener("securityfailure", (e: any) => show("error", `security failure: ${e?.detail?.reason ?? ""}`));
    rfb.addEventListener("desktopname", (e: any) => {
      if (!name) document.title = `${e.detail.name} — console`;
    });
    cad.addEventListener("click", () => rfb.sendCtrlAltDel());
    (window as any).canopyRfb = rfb;
  } catch (e) {
    show("error", String((e as Error).message ?? e));
  }
}
