// @ts-check
// Pure state for the Pulseboard window: no DOM, no IPC, no clocks read here
// (time is always passed in), so every rule below is unit-tested in Node.
//
// The state mirrors the Rust core `ClientState` (crates/core/src/store.rs) as it is
// serialised to the UI, plus a few UI-only fields (settings, server info).
// Every rule of that state is Rust's: the page applies what Rust decided and
// decides nothing itself.
// - KPIs: each `module` / `dashboard` message is an update the core accepted
//   (newest-wins is Rust's); the batch's last one carries the view the core
//   keeps: the latest values, which the page swaps in, and the history values
//   added since Rust's previous view (or the whole history), which it appends
//   and trims to the bound the view states.
// - Notifications: a `notifications` message says what the core changed
//   (accepted, marked read, pruned, the unread count); mark-read is
//   optimistic in Rust, so the page shows it when Rust sends it back.
// - Alerts: an `alerts` message replaces the history (deduped and bounded
//   there), and `acknowledged` the acknowledged set; the page only shows an
//   acknowledgement at once while the command is on its way.
// - The connection's words (`connectionView`).
// `applyUpdate` never mutates its input: it returns the same object when
// nothing changed, or a new object in which only the changed parts are new
// references. The renderer compares references to know what to redraw (per
// module, dashboard, notifications, alerts, pill).

// What Rust sends is typed in ./types.d.ts (generated from the Rust types):
// `tsc` checks the reads below against it, so a field renamed in Rust fails
// the check, not the user.
/** @typedef {import('./types').UiMessage} UiMessage */
/** @typedef {import('./types').Snapshot} Snapshot */
/** @typedef {import('./types').ClientState} CoreState */
/** @typedef {import('./types').ConnectionView} ConnectionView */
/** @typedef {import('./types').UiSettings} UiSettings */
/**
 * Messages the window makes itself (see applyUpdate).
 * @typedef {{ type: 'ack-local', ids?: string[], all?: boolean }
 *   | { type: 'settings', settings: UiSettings }} LocalMessage
 */
/**
 * What the page keeps besides Rust's state.
 * @typedef {{ serverInfo?: any, settings?: UiSettings | null,
 *   connectionView?: ConnectionView | null }} UiParts
 */

export const MODULES = Object.freeze(['reports', 'finance', 'hr', 'security']);
export const MODULE_LABELS = Object.freeze({
  reports: 'Reports',
  finance: 'Finance',
  hr: 'HR',
  security: 'Security',
});
/** Notifications rendered at most. */
export const MAX_RENDERED_NOTIFICATIONS = 200;
/** Alert severities, most severe first. */
export const ALERT_SEVERITIES = Object.freeze(['critical', 'warning', 'info']);

const NOTIFICATION_SEVERITIES = ['info', 'success', 'warning', 'error'];
const KPI_STATUSES = ['ok', 'warning', 'critical'];

// ------------------------------------------------------------------ helpers

function isObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function str(v, fallback = '') {
  return typeof v === 'string' ? v : fallback;
}

/** Milliseconds since the epoch for an RFC 3339 string, or NaN. */
export function parseTime(iso) {
  if (typeof iso !== 'string' || iso === '') return NaN;
  return Date.parse(iso);
}

/** Rust's history of one KPI (bounded there); only numbers drawn. */
function historyOf(values) {
  return Array.isArray(values) ? values.filter((v) => typeof v === 'number' && Number.isFinite(v)) : [];
}

/** Rust's history per KPI key. */
function historyMap(raw) {
  const out = {};
  if (!isObject(raw)) return out;
  for (const [k, v] of Object.entries(raw)) out[k] = historyOf(v);
  return out;
}

function validKpiList(list) {
  return Array.isArray(list)
    ? list.filter((k) => isObject(k) && typeof k.key === 'string' && typeof k.value === 'number')
    : [];
}

function validModuleKpis(data) {
  return (
    isObject(data) &&
    MODULES.includes(data.module) &&
    Array.isArray(data.kpis) &&
    typeof data.updatedAt === 'string'
  );
}

function validDashboard(d) {
  return isObject(d) && Array.isArray(d.summary) && Array.isArray(d.topKpis);
}

function validNotification(n) {
  return (
    isObject(n) &&
    typeof n.id === 'string' &&
    typeof n.seq === 'number' &&
    Number.isFinite(n.seq)
  );
}

function validAlert(a) {
  return isObject(a) && typeof a.id === 'string';
}

function normalizeAlert(a) {
  return {
    id: a.id,
    severity: ALERT_SEVERITIES.includes(a.severity) ? a.severity : 'info',
    title: str(a.title),
    message: str(a.message),
    createdAt: str(a.createdAt),
  };
}

function idList(v) {
  return Array.isArray(v) ? v.filter((x) => typeof x === 'string') : [];
}

function normalizeNotification(n) {
  return {
    id: n.id,
    seq: n.seq,
    title: str(n.title),
    body: str(n.body),
    severity: NOTIFICATION_SEVERITIES.includes(n.severity) ? n.severity : 'info',
    module: MODULES.includes(n.module) ? n.module : undefined,
    createdAt: str(n.createdAt),
    read: n.read === true,
  };
}

function normalizeModules(raw) {
  const out = {};
  if (!isObject(raw)) return out;
  for (const m of MODULES) {
    const view = raw[m];
    if (!isObject(view) || !validModuleKpis(view.latest)) continue;
    const history = {};
    const rawHistory = isObject(view.history) ? view.history : {};
    for (const k of validKpiList(view.latest.kpis)) {
      const h = historyOf(rawHistory[k.key]);
      history[k.key] = h.length ? h : [k.value];
    }
    out[m] = {
      latest: { ...view.latest, kpis: validKpiList(view.latest.kpis) },
      history,
      demo: view.demo === true,
      // From a whole state: Rust's next view of it is whole.
      chained: false,
    };
  }
  return out;
}

/** Rust's notification list (sorted by seq, unique, bounded there). */
function notificationList(list) {
  return Array.isArray(list) ? list.filter(validNotification).map(normalizeNotification) : [];
}


const TONES = ['live', 'warn', 'error', 'demo', 'neutral'];

/**
 * Rust's connection view (`ConnectionView`: the pill's words, tone and
 * tooltip, and whether the data is stale), or null when it is not one.
 * @param {any} v
 * @returns {ConnectionView | null}
 */
function validView(v) {
  if (!isObject(v) || typeof v.text !== 'string' || !TONES.includes(v.tone)) return null;
  return {
    text: v.text,
    tone: v.tone,
    detail: str(v.detail),
    stale: v.stale === true,
    counting: v.counting === true,
  };
}

// ------------------------------------------------------------------ state

/**
 * Build the UI state from a `get_state` answer:
 * `{ state: State, settings: Settings, now }`. Missing parts get safe defaults,
 * so an empty object yields a valid (empty) state.
 * @param {Partial<Snapshot>} [snapshot]
 * @param {UiParts} [ui]
 */
export function initialState(snapshot = {}, ui = {}) {
  /** @type {Partial<CoreState>} */
  const s = isObject(snapshot.state) ? snapshot.state : {};
  const notifications = notificationList(s.notifications);
  const dashboard = validDashboard(s.dashboard) ? s.dashboard : null;
  const alerts = Array.isArray(s.alerts)
    ? s.alerts.filter(validAlert).map(normalizeAlert)
    : [];
  return {
    modules: normalizeModules(s.modules),
    dashboard,
    dashboardDemo: s.dashboardDemo === true,
    dashboardHistory: historyMap(s.dashboardHistory),
    dashboardChained: false,
    notifications,
    unreadCount: typeof s.unreadCount === 'number' && s.unreadCount >= 0 ? s.unreadCount : 0,
    alerts,
    connection: isObject(s.connection) ? s.connection : { state: 'connecting', server: '' },
    // What the pill says, worded by Rust; null until Rust said it (the
    // page's static text stays).
    connectionView: validView(snapshot.connectionView) || ui.connectionView || null,
    source: isObject(s.source) ? s.source : { kind: 'demo' },
    lastUpdate: typeof s.lastUpdate === 'string' ? s.lastUpdate : null,
    counters: isObject(s.counters) ? s.counters : {},
    serverInfo: ui.serverInfo || null,
    settings: isObject(snapshot.settings) ? snapshot.settings : ui.settings || null,
    acknowledgedAlerts: idList(s.acknowledgedAlerts),
  };
}

/** @typedef {ReturnType<typeof initialState>} UiState */

/**
 * A history extended from Rust's views (`ModuleShown` / `DashboardShown`): a
 * whole one (`full`) replaces the page's; otherwise the values Rust added
 * since its previous view are appended and the oldest dropped past `keep`
 * (Rust's bound, sent with each view). A key Rust did not send is no longer
 * kept. `chained`: the page's copy is built from this stream's views alone.
 * After a whole state (get_state, resync) it is not, and added values cannot
 * go on it: Rust then sends each history whole first, and until that view
 * arrives the copy stays as it is.
 * @param {Record<string, number[]>} prev
 * @param {boolean} chained
 * @param {{ history?: any, full?: boolean, keep?: number }} view
 * @returns {{ history: Record<string, number[]>, chained: boolean }}
 */
function extendHistory(prev, chained, view) {
  const keep = typeof view.keep === 'number' && view.keep > 0 ? view.keep : Infinity;
  const whole = view.full !== false;
  if (!whole && !chained) return { history: prev, chained: false };
  /** @type {Record<string, number[]>} */
  const history = {};
  if (isObject(view.history)) {
    for (const [k, v] of Object.entries(view.history)) {
      const h = whole ? historyOf(v) : (prev[k] || []).concat(historyOf(v));
      history[k] = h.length > keep ? h.slice(h.length - keep) : h;
    }
  }
  return { history, chained: true };
}

/**
 * A module as Rust keeps it (a `module` message's `view`): its latest KPIs
 * (the view's, or the message's `data` when the view leaves them out) are
 * swapped in, its history extended as Rust says. The messages before it in
 * the batch are steps it already includes.
 */
function applyModuleView(state, msg) {
  const view = msg.view;
  if (!isObject(view)) return state;
  const latest = isObject(view.latest) ? view.latest : msg.data;
  if (!validModuleKpis(latest)) return state;
  const kpis = validKpiList(latest.kpis);
  const prev = state.modules[latest.module];
  const { history, chained } = extendHistory(prev ? prev.history : {}, prev ? prev.chained === true : false, view);
  return {
    ...state,
    modules: {
      ...state.modules,
      [latest.module]: { latest: { ...latest, kpis }, history, demo: false, chained },
    },
  };
}

/** The dashboard as Rust keeps it (a `dashboard` message's `view`): swapped in, its history extended. */
function applyDashboardView(state, msg) {
  const view = msg.view;
  if (!isObject(view)) return state;
  const latest = isObject(view.latest) ? view.latest : msg.data;
  if (!validDashboard(latest)) return state;
  const { history, chained } = extendHistory(state.dashboardHistory, state.dashboardChained, view);
  return {
    ...state,
    dashboard: latest,
    dashboardDemo: false,
    dashboardHistory: history,
    dashboardChained: chained,
  };
}

/**
 * Apply what Rust changed in its notification list (a `notifications`
 * message): drop what it no longer keeps, put each added one in its seq's
 * place, show the ids it marked read, take its count. Nothing is decided here.
 */
function applyNotifications(state, msg) {
  let list = state.notifications;
  const keepFrom = typeof msg.keepFrom === 'number' ? msg.keepFrom : 0;
  let drop = 0;
  while (drop < list.length && list[drop].seq < keepFrom) drop += 1;
  if (drop > 0) list = list.slice(drop);
  const added = Array.isArray(msg.added) ? msg.added.filter(validNotification) : [];
  if (added.length > 0) {
    list = list.slice();
    for (const raw of added) {
      const n = normalizeNotification(raw);
      let pos = list.length;
      while (pos > 0 && list[pos - 1].seq > n.seq) pos -= 1;
      if (pos > 0 && list[pos - 1].seq === n.seq) list[pos - 1] = n;
      else list.splice(pos, 0, n);
    }
  }
  const read = new Set(idList(msg.read));
  if (read.size > 0) {
    let changed = false;
    const next = list.map((n) => {
      if (n.read || !read.has(n.id)) return n;
      changed = true;
      return { ...n, read: true };
    });
    if (changed) list = next;
  }
  const unreadCount =
    typeof msg.unread === 'number' && msg.unread >= 0 ? msg.unread : state.unreadCount;
  if (list === state.notifications && unreadCount === state.unreadCount) return state;
  return { ...state, notifications: list, unreadCount };
}

function applyEvent(state, name, data) {
  if (typeof name !== 'string') return state;
  switch (name) {
    case 'connection:status':
      return isObject(data) ? { ...state, serverInfo: data } : state;
    default:
      return state;
  }
}

function sameJson(a, b) {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Apply one message to the state. Messages are the update batches' messages from
 * the Rust shell, plus local ones the window emits itself:
 * - `{type: "ack-local", ids: [..]}` or `{type: "ack-local", all: true}` (the
 *   acknowledgement sent to Rust, shown at once; Rust's `acknowledged` answer
 *   replaces it)
 * - `{type: "settings", settings}`
 *
 * `now` (RFC 3339 or ms) stamps `lastUpdate` when a server event arrives.
 * @param {UiState} state
 * @param {UiMessage | LocalMessage} msg
 * @param {string | number | null} [now]
 * @returns {UiState}
 */
export function applyUpdate(state, msg, now) {
  if (!isObject(msg)) return state;
  switch (msg.type) {
    case 'connection':
      if (!isObject(msg.state) || sameJson(msg.state, state.connection)) return state;
      return { ...state, connection: msg.state };
    case 'source':
      if (!isObject(msg.source) || sameJson(msg.source, state.source)) return state;
      return { ...state, source: msg.source };
    case 'connection-view': {
      // Rust's words for the connection (sent on change, and each second
      // while a countdown runs): drawn as they are.
      const view = validView(msg.view);
      if (!view || sameJson(view, state.connectionView)) return state;
      return { ...state, connectionView: view };
    }
    case 'notifications':
      return applyNotifications(state, msg);
    case 'module':
    case 'dashboard':
    case 'event': {
      const next =
        msg.type === 'module'
          ? applyModuleView(state, msg)
          : msg.type === 'dashboard'
            ? applyDashboardView(state, msg)
            : applyEvent(state, msg.event, msg.data);
      if (next === state || now === undefined || now === null) return next;
      const stamp = typeof now === 'number' ? new Date(now).toISOString() : String(now);
      return { ...next, lastUpdate: stamp };
    }
    case 'resync': {
      if (!isObject(msg.state)) return state;
      return initialState(
        { state: msg.state, settings: state.settings },
        {
          serverInfo: state.serverInfo,
          // The connection's words come along when they changed too.
          connectionView: validView(msg.view) || state.connectionView,
        },
      );
    }
    case 'alerts': {
      // Rust's alert history (deduped and bounded there): swapped as it is.
      if (!Array.isArray(msg.alerts)) return state;
      const alerts = msg.alerts.filter(validAlert).map(normalizeAlert);
      if (sameJson(alerts, state.alerts)) return state;
      return { ...state, alerts };
    }
    case 'acknowledged': {
      // Rust's whole acknowledged set.
      if (!Array.isArray(msg.ids)) return state;
      const ids = idList(msg.ids);
      if (sameJson(ids, state.acknowledgedAlerts)) return state;
      return { ...state, acknowledgedAlerts: ids };
    }
    case 'ack-local': {
      const have = new Set(state.acknowledgedAlerts);
      const add =
        msg.all === true ? state.alerts.map((a) => a.id) : idList(msg.ids);
      const more = add.filter((id) => !have.has(id) && state.alerts.some((a) => a.id === id));
      if (more.length === 0) return state;
      return { ...state, acknowledgedAlerts: state.acknowledgedAlerts.concat(more) };
    }
    case 'settings':
      if (!isObject(msg.settings)) return state;
      return { ...state, settings: msg.settings };
    default:
      return state;
  }
}

/**
 * Apply a batch of messages in order.
 * @param {UiState} state
 * @param {Array<UiMessage | LocalMessage>} msgs
 * @param {string | number | null} [now]
 * @returns {UiState}
 */
export function applyAll(state, msgs, now) {
  let s = state;
  for (const m of msgs) s = applyUpdate(s, m, now);
  return s;
}

// ------------------------------------------------------------------ selectors

export function unreadCount(state) {
  return Math.max(0, state.unreadCount | 0);
}

/** Notifications newest first (by seq), at most `limit`. */
export function notificationsNewestFirst(state, limit = MAX_RENDERED_NOTIFICATIONS) {
  const list = state.notifications;
  const out = [];
  for (let i = list.length - 1; i >= 0 && out.length < limit; i -= 1) out.push(list[i]);
  return out;
}

/** True when Rust (or the acknowledgement on its way) has the alert acknowledged. */
export function isAcknowledged(state, id) {
  return state.acknowledgedAlerts.includes(id);
}

/** Critical alerts not acknowledged yet, newest first: the banner's list. */
export function openCriticalAlerts(state) {
  const out = [];
  for (let i = state.alerts.length - 1; i >= 0; i -= 1) {
    const a = state.alerts[i];
    if (a.severity === 'critical' && !isAcknowledged(state, a.id)) out.push(a);
  }
  return out;
}

/** The latest critical alert not acknowledged yet, or null. */
export function activeCriticalAlert(state) {
  return openCriticalAlerts(state)[0] || null;
}

/** Alerts not acknowledged yet (any severity). */
export function openAlertCount(state) {
  let n = 0;
  for (const a of state.alerts) if (!isAcknowledged(state, a.id)) n += 1;
  return n;
}

/** The alert history newest first, optionally of one severity. */
export function alertsNewestFirst(state, severity = 'all') {
  const out = [];
  for (let i = state.alerts.length - 1; i >= 0; i -= 1) {
    const a = state.alerts[i];
    if (severity === 'all' || a.severity === severity) out.push(a);
  }
  return out;
}

/**
 * Notifications newest first that match a severity (`all` for any) and a
 * search text (case-insensitive, in title, body and module), at most `limit`.
 * Returns `{ items, matched }` (`matched`: how many match in all).
 */
export function filterNotifications(state, { severity = 'all', query = '' } = {}, limit = MAX_RENDERED_NOTIFICATIONS) {
  const q = String(query || '').trim().toLocaleLowerCase();
  const items = [];
  let matched = 0;
  const list = state.notifications;
  for (let i = list.length - 1; i >= 0; i -= 1) {
    const n = list[i];
    if (severity !== 'all' && n.severity !== severity) continue;
    if (q) {
      const hay = `${n.title}\n${n.body}\n${n.module ? MODULE_LABELS[n.module] : ''}`.toLocaleLowerCase();
      if (!hay.includes(q)) continue;
    }
    matched += 1;
    if (items.length < limit) items.push(n);
  }
  return { items, matched };
}

/** Worst KPI status in a list: critical > warning > ok. */
export function worstStatus(kpis) {
  let worst = 'ok';
  for (const k of kpis || []) {
    if (k.status === 'critical') return 'critical';
    if (k.status === 'warning') worst = 'warning';
  }
  return worst;
}

export function kpiStatus(kpi) {
  return KPI_STATUSES.includes(kpi && kpi.status) ? kpi.status : 'ok';
}

// ------------------------------------------------------------------ formatters

function pad2(n) {
  return n < 10 ? '0' + n : String(n);
}

/** Local wall-clock `HH:MM:SS` for an RFC 3339 string; `—` when unknown. */
export function formatTime(iso) {
  const t = typeof iso === 'number' ? iso : parseTime(iso);
  if (Number.isNaN(t)) return '—';
  const d = new Date(t);
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

/** Local wall-clock `HH:MM`; `—` when unknown. */
export function formatClock(iso) {
  const t = typeof iso === 'number' ? iso : parseTime(iso);
  if (Number.isNaN(t)) return '—';
  const d = new Date(t);
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
}

const LOCALE = 'en-US';
/** A value whose full text is longer than this is drawn compact ("$98.8B"). */
export const COMPACT_AFTER = 11;
/** Most decimals drawn; smaller non-zero values are drawn in exponent form. */
const MAX_DECIMALS = 8;

const numberFormats = new Map();
function numberFormat(opts) {
  const key = JSON.stringify(opts);
  let f = numberFormats.get(key);
  if (!f) {
    f = new Intl.NumberFormat(LOCALE, opts);
    numberFormats.set(key, f);
  }
  return f;
}

function unitOf(kpi) {
  return kpi && typeof kpi.unit === 'string' ? kpi.unit.trim() : '';
}

function isUsd(unit) {
  return unit.toUpperCase() === 'USD';
}

/** Decimals that show `sig` significant digits of a value below 1. */
function significantDecimals(v, sig = 2) {
  const a = Math.abs(v);
  if (a === 0 || a >= 1) return 0;
  return Math.min(MAX_DECIMALS, Math.ceil(-Math.log10(a)) + sig - 1);
}

/**
 * The decimals a KPI's value needs on its own: none for whole numbers and
 * values from 1,000 up, cents for dollars, one decimal otherwise, and enough
 * for two significant digits below 1 (so 0.000123 ms is never "0 ms").
 */
export function naturalDecimals(kpi) {
  const v = kpi ? kpi.value : NaN;
  if (typeof v !== 'number' || !Number.isFinite(v)) return 0;
  const unit = unitOf(kpi);
  const a = Math.abs(v);
  if (isUsd(unit)) return a >= 1000 ? 0 : a === 0 || a >= 0.01 ? 2 : significantDecimals(v);
  if (unit === '%') return a === 100 ? 0 : a === 0 || a >= 0.1 ? 1 : significantDecimals(v);
  if (Number.isInteger(v) || a >= 1000) return 0;
  if (a >= 1) return 1;
  return Math.max(1, significantDecimals(v));
}

/**
 * Decimals per KPI key for one card: KPIs with the same unit get the same
 * decimals ("4.0 s" beside "4.1 s", not "4 s"), except values below 1, which
 * keep the significant digits they need.
 */
export function cardDecimals(kpis) {
  const byUnit = new Map();
  for (const k of kpis || []) {
    if (!k || typeof k.value !== 'number' || !Number.isFinite(k.value)) continue;
    if (Math.abs(k.value) < 1 && k.value !== 0) continue;
    const u = unitOf(k);
    byUnit.set(u, Math.max(byUnit.get(u) ?? 0, naturalDecimals(k)));
  }
  const out = {};
  for (const k of kpis || []) {
    if (!k || typeof k.key !== 'string') continue;
    const own = naturalDecimals(k);
    const v = k.value;
    const small = typeof v === 'number' && Math.abs(v) < 1 && v !== 0;
    out[k.key] = small ? own : Math.max(own, byUnit.get(unitOf(k)) ?? 0);
  }
  return out;
}

/**
 * Values a rounded number must not land on unless it is exactly that value:
 * 0 for every unit, and 100 for percentages (99.95 % of uptime is not 100 %).
 */
function isBoundary(x, unit) {
  return x === 0 || (unit === '%' && Math.abs(x) === 100);
}

/**
 * `v` rounded to at least `d` decimals without landing on a boundary it is
 * not: more decimals until the rounded value leaves the boundary (99.95 ->
 * "99.95", 99.999 -> "99.999"), and at [MAX_DECIMALS] the last digit cut
 * toward `v` instead of rounded. Returns the number to draw and its decimals.
 */
function unmisleading(v, d, unit) {
  let decimals = d;
  while (decimals < MAX_DECIMALS && isBoundary(Number(v.toFixed(decimals)), unit) && !isBoundary(v, unit)) {
    decimals += 1;
  }
  const rounded = Number(v.toFixed(decimals));
  if (!isBoundary(rounded, unit) || isBoundary(v, unit)) return { value: v, decimals };
  // Still on the boundary at the most decimals drawn: one step toward `v`.
  const step = 10 ** -decimals;
  return { value: rounded + (v < rounded ? -step : step), decimals };
}

function withUnit(num, unit) {
  if (unit === '%') return `${num}%`;
  return unit ? `${num} ${unit}` : num;
}

/**
 * A KPI value in full: USD as currency, `%` after the number, other units
 * after a grouped number. `decimals` defaults to [naturalDecimals].
 */
export function formatValueFull(kpi, decimals) {
  const v = kpi ? kpi.value : undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) return '—';
  const unit = unitOf(kpi);
  if (v !== 0 && Math.abs(v) < 10 ** -MAX_DECIMALS) {
    return withUnit(isUsd(unit) ? `$${v.toExponential(1)}` : v.toExponential(1), isUsd(unit) ? '' : unit);
  }
  const shown = unmisleading(v, Math.min(MAX_DECIMALS, Math.max(0, decimals ?? naturalDecimals(kpi))), unit);
  const d = shown.decimals;
  const opts = { minimumFractionDigits: d, maximumFractionDigits: d };
  if (isUsd(unit)) return numberFormat({ style: 'currency', currency: 'USD', ...opts }).format(shown.value);
  return withUnit(numberFormat(opts).format(shown.value), unit);
}

/** True when [formatValue] draws `kpi` in compact form (the full value then goes in a tooltip). */
export function isCompact(kpi, decimals) {
  return formatValueFull(kpi, decimals).length > COMPACT_AFTER;
}

/**
 * A KPI value for a row or tile: [formatValueFull], or, when that is longer
 * than [COMPACT_AFTER] characters, the compact form with three significant
 * digits ("$98.8B", "1.23M ms"). `full`: [formatValueFull]'s text for the
 * same arguments, when the caller has it already.
 */
export function formatValue(kpi, decimals, full = formatValueFull(kpi, decimals)) {
  if (full.length <= COMPACT_AFTER) return full;
  const v = kpi.value;
  const unit = unitOf(kpi);
  // Compact form rounds to three significant digits: only for values from
  // 1,000 up, where that cannot land on 0 or 100 (99.99999999 % stays in full).
  if (Math.abs(v) < 1000) return full;
  // Compact units end at T: from 999.5T up the mantissa would read "1000T".
  const big = Math.abs(v) >= 999.5e12;
  const compact = { notation: big ? 'scientific' : 'compact', maximumSignificantDigits: 3 };
  if (isUsd(unit)) return numberFormat({ style: 'currency', currency: 'USD', ...compact }).format(v);
  return withUnit(numberFormat(compact).format(v), unit);
}

/** Direction of a percent change: `up`, `down`, or `flat` (exactly zero or none). */
export function deltaDirection(delta) {
  if (typeof delta !== 'number' || !Number.isFinite(delta) || delta === 0) return 'flat';
  return delta > 0 ? 'up' : 'down';
}

function deltaNumber(delta) {
  const a = Math.abs(delta);
  if (a === 0) return '0';
  if (a >= 0.05) {
    // A fall of 99.96 % is not "▼ 100%" (which reads as "down to zero").
    const shown = unmisleading(a, a >= 100 ? 0 : 1, '%');
    const d = shown.decimals;
    return numberFormat({ minimumFractionDigits: d, maximumFractionDigits: d }).format(shown.value);
  }
  // A real but small change: two significant digits, never "0.0".
  return a.toFixed(significantDecimals(a));
}

/** `▲ 2.4%`, `▼ 1.2%`, `▲ 0.0042%`, `– 0%` (no change); empty when there is no delta. */
export function formatDelta(delta) {
  if (typeof delta !== 'number' || !Number.isFinite(delta)) return '';
  const dir = deltaDirection(delta);
  const arrow = dir === 'up' ? '▲' : dir === 'down' ? '▼' : '–';
  return `${arrow} ${deltaNumber(delta)}%`;
}

/**
 * Whether a change is good news: `good`, `bad` or `neutral`, from the KPI's
 * optional `better` ("up" | "down"). Without it a change is neither.
 */
export function deltaTone(delta, better) {
  const dir = deltaDirection(delta);
  if (dir === 'flat' || (better !== 'up' && better !== 'down')) return 'neutral';
  return dir === better ? 'good' : 'bad';
}

/**
 * The change to show for a KPI: `{ delta, basis }` or null. `basis` says what
 * it compares against: `period` (the server's `delta`), or `previous` (the
 * server says 0 while the value moved since the previous update this window
 * saw: the change from that update, so a real change never reads "0%").
 */
export function changeOf(kpi, history) {
  if (!kpi || typeof kpi.delta !== 'number' || !Number.isFinite(kpi.delta)) return null;
  if (kpi.delta !== 0) return { delta: kpi.delta, basis: 'period' };
  const h = Array.isArray(history) ? history : [];
  if (h.length >= 2) {
    const prev = h[h.length - 2];
    const cur = h[h.length - 1];
    if (prev !== cur && prev !== 0 && Number.isFinite(prev) && Number.isFinite(cur)) {
      return { delta: ((cur - prev) / Math.abs(prev)) * 100, basis: 'previous' };
    }
  }
  return { delta: 0, basis: 'period' };
}

/** What a change compares against, for people. */
export function basisText(basis) {
  return basis === 'previous' ? 'vs previous update' : 'vs previous period';
}

/**
 * True when the data on screen may be out of date (Rust's `stale`, in the
 * connection view: no live connection is refreshing it).
 */
export function isStale(view) {
  return isObject(view) && view.stale === true;
}

const monthDay = new Intl.DateTimeFormat(LOCALE, { month: 'short', day: 'numeric' });

function sameDay(a, b) {
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
}

/** `14:05`, or `Nov 26, 14:05` when not today; `—` when unknown. */
export function formatWhen(iso, nowMs) {
  const t = typeof iso === 'number' ? iso : parseTime(iso);
  if (Number.isNaN(t)) return '—';
  const d = new Date(t);
  const clock = formatClock(t);
  return sameDay(d, new Date(nowMs)) ? clock : `${monthDay.format(d)}, ${clock}`;
}

/**
 * The moments (epoch ms after `nowMs`, ascending) at which `formatWhen(iso, ·)`
 * or `formatRelative(iso, ·)` may next give another text: "just now" ends, the
 * next minute or hour step, an hour after a time of another day (it turns into
 * its date), the next local midnight (a date instead of a time). Empty when
 * the time is unknown. Kept beside the formatters whose rules it follows;
 * ui/test/clock.test.js checks it against them second by second.
 */
export function textChangesAfter(iso, nowMs) {
  const t = typeof iso === 'number' ? iso : parseTime(iso);
  if (Number.isNaN(t)) return [];
  // Math.round: `secs` (below) is k or more from t + 1000 k - 500 ms on.
  const from = (k) => t + 1000 * k - 500;
  const secs = Math.round((nowMs - t) / 1000);
  const mins = Math.max(1, Math.round(secs / 60));
  const midnight = new Date(nowMs);
  midnight.setHours(24, 0, 0, 0);
  return [
    from(45),
    from(60 * (mins + 1) - 30),
    from(3600 * (Math.floor(mins / 60) + 1) - 30),
    from(3601),
    midnight.getTime(),
  ]
    .filter((c) => c > nowMs)
    .sort((a, b) => a - b);
}

/** `just now`, `3 min ago`, `2 h ago`; a date when not today; `—` when unknown. */
export function formatRelative(iso, nowMs) {
  const t = typeof iso === 'number' ? iso : parseTime(iso);
  if (Number.isNaN(t)) return '—';
  const secs = Math.round((nowMs - t) / 1000);
  if (!sameDay(new Date(t), new Date(nowMs)) && secs > 3600) return formatWhen(t, nowMs);
  if (secs < 45) return 'just now';
  const mins = Math.round(secs / 60);
  if (mins < 60) return `${mins} min ago`;
  return `${Math.floor(mins / 60)} h ago`;
}
