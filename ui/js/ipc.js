// Every call to the Rust shell goes through this file.
//
// In the Tauri window (`withGlobalTauri: true`) it uses
// `window.__TAURI__.core.invoke` and `window.__TAURI__.event.listen`. In a
// plain browser (previews, screenshots, tests) it falls back to an in-memory
// mock driven by demo data (js/mock.js), so the page still renders.

export const COMMANDS = Object.freeze({
  getState: 'get_state',
  markRead: 'mark_read',
  markAllRead: 'mark_all_read',
  acknowledgeAlerts: 'acknowledge_alerts',
  diagnoseConnection: 'diagnose_connection',
  openLink: 'open_link',
  reconnect: 'reconnect',
  getSettings: 'get_settings',
  saveSettings: 'save_settings',
  setupNeeded: 'setup_needed',
  testConnection: 'test_connection',
  plainHttpWarning: 'plain_http_warning',
  kpiHistory: 'kpi_history',
});

export const EVENTS = Object.freeze({
  update: 'pb:update',
  navigate: 'pb:navigate',
});

function tauri() {
  const t = typeof window !== 'undefined' ? window.__TAURI__ : undefined;
  return t && t.core && typeof t.core.invoke === 'function' && t.event ? t : null;
}

let backendPromise = null;

function backend() {
  if (backendPromise) return backendPromise;
  const t = tauri();
  if (t) {
    backendPromise = Promise.resolve({
      mock: false,
      invoke: (name, args) => t.core.invoke(name, args),
      listen: (name, cb) => t.event.listen(name, cb),
    });
  } else {
    backendPromise = import('./mock.js').then(({ createMockBackend }) => createMockBackend());
  }
  return backendPromise;
}

async function invoke(name, args) {
  const b = await backend();
  return b.invoke(name, args);
}

/** True when running without the Rust shell (mock data). */
export async function isMock() {
  return (await backend()).mock;
}

/** `get_state` -> `{ state, settings, now }`. */
export function getState() {
  return invoke(COMMANDS.getState);
}

/** `mark_read` with `{ ids }`. */
export function markRead(ids) {
  return invoke(COMMANDS.markRead, { ids });
}

/** `mark_all_read`. */
export function markAllRead() {
  return invoke(COMMANDS.markAllRead);
}

/**
 * `acknowledge_alerts` with `{ ids }`, or `{ all: true }` when `ids` is
 * `'all'` -> every acknowledged id (Rust's whole set).
 */
export function acknowledgeAlerts(ids) {
  return invoke(COMMANDS.acknowledgeAlerts, ids === 'all' ? { all: true } : { ids });
}

/** `diagnose_connection` -> `{ kind, message }`: why the connection fails, in words (Rust's). */
export function diagnoseConnection() {
  return invoke(COMMANDS.diagnoseConnection);
}

/** `open_link` with `{ url }`: the default browser opens a web link (Rust checks it is one). */
export function openLink(url) {
  return invoke(COMMANDS.openLink, { url });
}

/** `reconnect`. */
export function reconnect() {
  return invoke(COMMANDS.reconnect);
}

/** `get_settings` -> Settings. */
export function getSettings() {
  return invoke(COMMANDS.getSettings);
}

/** `save_settings` with `{ settings }` -> Settings; rejects with an error string. */
export function saveSettings(settings) {
  return invoke(COMMANDS.saveSettings, { settings });
}

/** `setup_needed` -> true while no server is configured (first run). */
export function setupNeeded() {
  return invoke(COMMANDS.setupNeeded);
}

/**
 * `test_connection` with `{ server, token, ca }` -> `{ kind, message }`
 * (empty or absent token / ca: the saved ones).
 */
export function testConnection(server, token, ca = null) {
  return invoke(COMMANDS.testConnection, { server, token, ca });
}

/**
 * `plain_http_warning` -> the warning to show before a token goes over plain
 * http:// to a host that is not loopback, or null. Rust decides; nothing is sent.
 */
export function plainHttpWarning(server, hasToken) {
  return invoke(COMMANDS.plainHttpWarning, { server, hasToken });
}

/**
 * `kpi_history` with `{ module, key, range }` (`1h`, `24h`, `7d`) -> the
 * history the KPI detail view draws: `{ source: 'server'|'local', caption,
 * from, to, points: [{ at, value, min?, max? }], truncated, thresholds }`.
 * Rust asks the server or falls back to what the app saw, and words the caption.
 */
export function kpiHistory(module, key, range) {
  return invoke(COMMANDS.kpiHistory, { module, key, range });
}

/**
 * Listen to `pb:update`; `cb` gets each message. The shell sends a batch (an
 * array, oldest first); a single message is accepted too. Resolves to an
 * unlisten function.
 */
export async function onUpdate(cb) {
  const b = await backend();
  return b.listen(EVENTS.update, (e) => {
    const p = e && e.payload;
    if (Array.isArray(p)) for (const m of p) cb(m);
    else cb(p);
  });
}

/** Listen to `pb:navigate`; `cb` gets the view name. Resolves to an unlisten function. */
export async function onNavigate(cb) {
  const b = await backend();
  return b.listen(EVENTS.navigate, (e) => cb(e && e.payload));
}

/** A readable message from a rejected invoke (Tauri rejects with a string). */
export function errorMessage(err) {
  if (typeof err === 'string') return err;
  if (err && typeof err.message === 'string') return err.message;
  try {
    return JSON.stringify(err);
  } catch {
    return String(err);
  }
}
