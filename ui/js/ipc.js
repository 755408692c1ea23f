// @ts-check
// Every call to the Rust shell goes through this file. What the commands
// return and what the update stream carries are typed in ./types.d.ts,
// generated from the Rust types (`tsc` checks this file against them).
//
// In the Tauri window (`withGlobalTauri: true`) it uses
// `window.__TAURI__.core.invoke`, a `window.__TAURI__.core.Channel` for the
// update stream (`subscribe_updates`) and `window.__TAURI__.event.listen`
// for `pb:navigate`. In a
// plain browser (previews, screenshots, tests) it falls back to an in-memory
// mock driven by demo data (preview/mock.js, outside ui/: never shipped), so
// the page still renders.

/** @typedef {import('./types').UiMessage} UiMessage */
/** @typedef {import('./types').Snapshot} Snapshot */
/** @typedef {import('./types').UiSettings} UiSettings */
/** @typedef {import('./types').ConnectionTest} ConnectionTest */

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
  subscribeUpdates: 'subscribe_updates',
});

export const EVENTS = Object.freeze({
  /** The browser preview's mock sends its updates as this event. */
  update: 'pb:update',
  navigate: 'pb:navigate',
});

function tauri() {
  const t = typeof window !== 'undefined' ? window.__TAURI__ : undefined;
  return t && t.core && typeof t.core.invoke === 'function' && t.event ? t : null;
}

/**
 * @typedef {object} Backend
 * @property {boolean} mock
 * @property {(name: string, args?: Record<string, unknown>) => Promise<any>} invoke
 * @property {(name: string, cb: (e: { payload: any }) => void) => Promise<() => void>} listen
 * @property {(take: (batch: any) => void) => Promise<() => void>} updates
 */

/** @type {Promise<Backend> | null} */
let backendPromise = null;

function backend() {
  if (backendPromise) return backendPromise;
  const t = tauri();
  if (t) {
    backendPromise = Promise.resolve({
      mock: false,
      invoke: (name, args) => t.core.invoke(name, args),
      listen: (name, cb) => t.event.listen(name, cb),
      // The update stream: a channel the shell sends each batch over, in order.
      updates: async (take) => {
        const channel = new t.core.Channel();
        channel.onmessage = take;
        await t.core.invoke(COMMANDS.subscribeUpdates, { channel });
        return () => {
          channel.onmessage = () => {};
        };
      },
    });
  } else {
    backendPromise = import('../../preview/mock.js').then(async ({ createMockBackend }) => {
      const mock = await createMockBackend();
      return { ...mock, updates: (take) => mock.listen(EVENTS.update, (e) => take(e && e.payload)) };
    });
  }
  return backendPromise;
}

/**
 * @param {string} name
 * @param {Record<string, unknown>} [args]
 * @returns {Promise<any>}
 */
async function invoke(name, args) {
  const b = await backend();
  return b.invoke(name, args);
}

/** True when running without the Rust shell (mock data). */
export async function isMock() {
  return (await backend()).mock;
}

/**
 * `get_state` -> `{ state, settings, now, connectionView }`.
 * @returns {Promise<Snapshot>}
 */
export function getState() {
  return invoke(COMMANDS.getState);
}

/**
 * `mark_read` with `{ ids }`.
 * @param {string[]} ids
 * @returns {Promise<void>}
 */
export function markRead(ids) {
  return invoke(COMMANDS.markRead, { ids });
}

/**
 * `mark_all_read`.
 * @returns {Promise<void>}
 */
export function markAllRead() {
  return invoke(COMMANDS.markAllRead);
}

/**
 * `acknowledge_alerts` with `{ ids }`, or `{ all: true }` when `ids` is
 * `'all'` -> every acknowledged id (Rust's whole set).
 * @param {string[] | 'all'} ids
 * @returns {Promise<string[]>}
 */
export function acknowledgeAlerts(ids) {
  return invoke(COMMANDS.acknowledgeAlerts, ids === 'all' ? { all: true } : { ids });
}

/**
 * `diagnose_connection` -> `{ kind, message }`: why the connection fails, in words (Rust's).
 * @returns {Promise<ConnectionTest>}
 */
export function diagnoseConnection() {
  return invoke(COMMANDS.diagnoseConnection);
}

/**
 * `open_link` with `{ url }`: the default browser opens a web link (Rust checks it is one).
 * @param {string} url
 * @returns {Promise<void>}
 */
export function openLink(url) {
  return invoke(COMMANDS.openLink, { url });
}

/**
 * `reconnect`.
 * @returns {Promise<void>}
 */
export function reconnect() {
  return invoke(COMMANDS.reconnect);
}

/**
 * `get_settings` -> Settings.
 * @returns {Promise<UiSettings>}
 */
export function getSettings() {
  return invoke(COMMANDS.getSettings);
}

/**
 * `save_settings` with `{ settings }` -> Settings; rejects with an error string.
 * @param {UiSettings} settings
 * @returns {Promise<UiSettings>}
 */
export function saveSettings(settings) {
  return invoke(COMMANDS.saveSettings, { settings });
}

/**
 * `setup_needed` -> true while no server is configured (first run).
 * @returns {Promise<boolean>}
 */
export function setupNeeded() {
  return invoke(COMMANDS.setupNeeded);
}

/**
 * `test_connection` with `{ server, token, ca }` -> `{ kind, message }`
 * (empty or absent token / ca: the saved ones).
 * @param {string} server
 * @param {string} token
 * @param {string | null} [ca]
 * @returns {Promise<ConnectionTest>}
 */
export function testConnection(server, token, ca = null) {
  return invoke(COMMANDS.testConnection, { server, token, ca });
}

/**
 * `plain_http_warning` -> the warning to show before a token goes over plain
 * http:// to a host that is not loopback, or null. Rust decides; nothing is sent.
 * @param {string} server
 * @param {boolean} hasToken
 * @returns {Promise<string | null>}
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
 * Subscribe to the shell's updates; `cb` gets each message. The shell sends
 * batches (arrays, oldest first) over a channel; a single message is accepted
 * too. Resolves once subscribed (so a `get_state` after it misses nothing),
 * to an unsubscribe function.
 * @param {(msg: UiMessage) => void} cb
 * @returns {Promise<() => void>}
 */
export async function onUpdate(cb) {
  const b = await backend();
  return b.updates((p) => {
    if (Array.isArray(p)) for (const m of p) cb(m);
    else cb(p);
  });
}

/**
 * Listen to `pb:navigate`; `cb` gets the view name. Resolves to an unlisten function.
 * @param {(view: string) => void} cb
 * @returns {Promise<() => void>}
 */
export async function onNavigate(cb) {
  const b = await backend();
  return b.listen(EVENTS.navigate, (e) => cb(e && e.payload));
}

/**
 * A readable message from a rejected invoke (Tauri rejects with a string).
 * @param {any} err
 * @returns {string}
 */
export function errorMessage(err) {
  if (typeof err === 'string') return err;
  if (err && typeof err.message === 'string') return err.message;
  try {
    return JSON.stringify(err);
  } catch {
    return String(err);
  }
}
