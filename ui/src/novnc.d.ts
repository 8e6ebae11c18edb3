declare module "@novnc/novnc" {
  export default class RFB extends EventTarget {
    constructor(target: HTMLElement, url: string | WebSocket, options?: { wsProtocols?: string[]; credentials?: Record<string, string>; shared?: boolean });
    scaleViewport: boolean;
    resizeSession: boolean;
    background: string;
    viewOnly: boolean;
    disconnect(): void;
    sendCtrlAltDel(): void;
  }
}
