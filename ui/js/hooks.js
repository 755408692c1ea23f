// Test and benchmark hooks. main.js loads this module only when the page is
// driven by WebDriver (`navigator.webdriver`: the e2e tests and
// `pulseboard-bench desktop` go through tauri-driver) or its URL has `?stats`
// (browser preview); the window people use never loads it.
//
// What it offers, all read through WebDriver:
// - `window.__pulseboardStats`: counters for diagnosing floods (`events`,
//   `frames`, `lastFrameMs`, `maxFrameMs`, `maxQueue`), `firstKpiPaintAt`
//   (epoch ms of the first frame after KPI values were drawn: that frame's
//   paint is done; the start-up benchmark), and `startup` (ms after navigation
//   start, from main.js's `pulseboard:*` performance marks; `boot`: the first
//   frame was drawn from the shell's snapshot).
// - `window.__pulseboardState()`: the page's state as the last frame drew it
//   (what a test compares with Rust's, e.g. the KPI histories).
// - `window.__pulseboardProbe = (messages, drawnAt) => ...`, set by a test or
//   benchmark: called after each frame with the update messages that
//   frame drew and the epoch ms when the DOM was updated.
// - With `?stats`, the counters are mirrored into `<html data-stats>` every
//   500 ms.

const epochNow = () => performance.timeOrigin + performance.now();

/** The time of main.js's performance mark `pulseboard:<name>`, or 0. */
function mark(name) {
  const e = performance.getEntriesByName(`pulseboard:${name}`, 'mark');
  return e.length ? e[e.length - 1].startTime : 0;
}

/**
 * Install the hooks; `state()` gives the page's state.
 * Returns what main.js calls: `message(msg, queueLength)` for each update
 * message, `frame(ms)` after each frame.
 */
export function install(state) {
  const startup = {
    get script() {
      return mark('script');
    },
    get boot() {
      return mark('boot') > 0;
    },
    get listening() {
      return mark('listening');
    },
    get state() {
      return mark('state');
    },
    get kpiPaint() {
      return mark('kpi-paint');
    },
  };
  const stats = {
    events: 0,
    frames: 0,
    lastFrameMs: 0,
    maxFrameMs: 0,
    maxQueue: 0,
    // main.js marks the first frame after KPI values were drawn (before
    // these hooks may have loaded).
    get firstKpiPaintAt() {
      const at = mark('kpi-paint');
      return at > 0 ? performance.timeOrigin + at : 0;
    },
    startup,
  };
  window.__pulseboardStats = stats;
  window.__pulseboardState = state;
  let batch = [];
  if (/[?&]stats\b/.test(location.search)) {
    setInterval(() => {
      document.documentElement.dataset.stats = JSON.stringify(stats);
    }, 500);
  }
  return {
    message(msg, queueLength) {
      if (window.__pulseboardProbe) batch.push(msg);
      stats.events += 1;
      if (queueLength > stats.maxQueue) stats.maxQueue = queueLength;
    },
    /** After a frame that took `ms`; returns true when one more frame is wanted. */
    frame(ms) {
      if (batch.length) {
        const drawn = batch;
        batch = [];
        if (window.__pulseboardProbe) window.__pulseboardProbe(drawn, epochNow());
      }
      stats.frames += 1;
      stats.lastFrameMs = ms;
      if (ms > stats.maxFrameMs) stats.maxFrameMs = ms;
      return false;
    },
  };
}
