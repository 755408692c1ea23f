// What the page finds on `window` (hand-written: these are not IPC types;
// those are generated from Rust into ./types.d.ts).
interface Window {
  /** Tauri's API (`withGlobalTauri`), absent in a plain browser. */
  __TAURI__?: {
    core: {
      invoke(name: string, args?: Record<string, unknown>): Promise<any>;
      /** An IPC channel the shell sends messages over (the update stream). */
      Channel: new () => { onmessage: (message: any) => void };
    };
    event: { listen(name: string, cb: (e: { payload: any }) => void): Promise<() => void> };
  };
  /** Counters for diagnosing floods (main.js). */
  __pulseboardStats?: unknown;
  /** Latency probe a benchmark may install (main.js calls it after each frame). */
  __pulseboardProbe?: (messages: unknown[], drawnAt: number) => void;
  /** get_state's answer, put in the page by the shell before it loads. */
  __PULSEBOARD_BOOT__?: import('./types').Snapshot;
}
