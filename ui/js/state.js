// Pure state for the Pulseboard window: no DOM, no IPC, no clocks read here
// (time is always passed in), so every rule below is unit-tested in Node.
//
// The state mirrors the Rust core `State` (crates/core/src/store.rs) as it is
// serialised to the UI, plus a few UI-only fields (settings, dismissed alerts,
// dashboard history). `applyUpdate` never mutates its input: it returns the
// same object when nothing changed, or a new object in which only the changed
// parts are new references. The renderer compares references to know what to
// redraw (per module, dashboard, notifications, alerts, pill).

export const MODULES = Object.freeze(['reports', 'finance', 'hr', 'security']);
export const MODULE_LABELS = Object.freeze({
  reports: 'Reports',
  finance: 'Finance',
  hr: 'HR',
  security: 'Security',
});
/** Values kept per KPI for sparklines (same as the Rust HISTORY_LEN). */
export const HISTORY_LEN = 60;
/** Notifications kept in memory (same as the Rust MAX_NOTIFICATIONS). */
export const MAX_NOTIFICATIONS = 500;
/** Notifications rendered at most. */
export const MAX_RENDERED_NOTIFICATIONS = 200;
/** Alerts kept (same as the Rust MAX_ALERTS). */
export const MAX_ALERTS = 100;
/** Dismissed alert ids remembered. */
export const MAX_DISMISSED = 200;

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

function boundedHistory(values) {
  if (!Array.isArray(values)) return [];
  const nums = values.filter((v) => typeof v === 'number' && Number.isFinite(v));
  return nums.length > HISTORY_LEN ? nums.slice(nums.length - HISTORY_LEN) : nums;
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
      const h = boundedHistory(rawHistory[k.key]);
      history[k.key] = h.length ? h : [k.value];
    }
    out[m] = {
      latest: { ...view.latest, kpis: validKpiList(view.latest.kpis) },
      history,
      demo: view.demo === true,
    };
  }
  return out;
}

function sortedNotifications(list) {
  if (!Array.isArray(list)) return [];
  const seen = new Set();
  const out = [];
  for (const n of list) {
    if (!validNotification(n) || seen.has(n.seq) || seen.has('id:' + n.id)) continue;
    seen.add(n.seq);
    seen.add('id:' + n.id);
    out.push(normalizeNotification(n));
  }
  out.sort((a, b) => a.seq - b.seq);
  return out.length > MAX_NOTIFICATIONS ? out.slice(out.length - MAX_NOTIFICATIONS) : out;
}

function dashboardHistoryFrom(dashboard, prev = {}) {
  if (!dashboard) return {};
  const out = {};
  for (const k of [...validKpiList(dashboard.summary), ...validKpiList(dashboard.topKpis)]) {
    const before = prev[k.key] || [];
    const next = before.concat([k.value]);
    out[k.key] = next.length > HISTORY_LEN ? next.slice(next.length - HISTORY_LEN) : next;
  }
  return out;
}

function localUnread(notifications) {
  let n = 0;
  for (const x of notifications) if (!x.read) n += 1;
  return n;
}

// ------------------------------------------------------------------ state

/**
 * Build the UI state from a `get_state` answer:
 * `{ state: State, settings: Settings, now }`. Missing parts get safe defaults,
 * so an empty object yields a valid (empty) state.
 */
export function initialState(snapshot = {}, ui = {}) {
  const s = isObject(snapshot.state) ? snapshot.state : {};
  const notifications = sortedNotifications(s.notifications);
  const dashboard = validDashboard(s.dashboard) ? s.dashboard : null;
  const alerts = Array.isArray(s.alerts) ? s.alerts.filter(validAlert).slice(-MAX_ALERTS) : [];
  const lastSeq = Math.max(
    typeof s.lastSeq === 'number' ? s.lastSeq : 0,
    notifications.length ? notifications[notifications.length - 1].seq : 0,
  );
  return {
    modules: normalizeModules(s.modules),
    dashboard,
    dashboardDemo: s.dashboardDemo === true,
    dashboardHistory: ui.dashboardHistory || dashboardHistoryFrom(dashboard),
    notifications,
    unreadCount:
      typeof s.unreadCount === 'number' && s.unreadCount >= 0
        ? s.unreadCount
        : localUnread(notifications),
    lastSeq,
    alerts,
    connection: isObject(s.connection) ? s.connection : { state: 'connecting', server: '' },
    source: isObject(s.source) ? s.source : { kind: 'demo' },
    lastUpdate: typeof s.lastUpdate === 'string' ? s.lastUpdate : null,
    counters: isObject(s.counters) ? s.counters : {},
    serverInfo: ui.serverInfo || null,
    settings: isObject(snapshot.settings) ? snapshot.settings : ui.settings || null,
    dismissedAlerts: Array.isArray(ui.dismissedAlerts) ? ui.dismissedAlerts.slice(-MAX_DISMISSED) : [],
  };
}

function applyKpis(state, data) {
  if (!validModuleKpis(data)) return state;
  const prev = state.modules[data.module];
  // Built-in demo values are replaced by the first server data whatever its
  // time, and their history is dropped (as the Rust store does): a sparkline
  // never joins a demo value to a real one.
  const fromDemo = Boolean(prev && prev.demo);
  // Once data comes from the server, equal or older timestamps are repeats
  // (e.g. an event already contained in the get_state snapshot).
  if (prev && !fromDemo && state.source && state.source.kind === 'server') {
    const a = parseTime(data.updatedAt);
    const b = parseTime(prev.latest.updatedAt);
    if (!Number.isNaN(a) && !Number.isNaN(b) && a <= b) return state;
  }
  // The very same update twice (e.g. queued while get_state was answering).
  if (
    prev &&
    prev.latest.updatedAt === data.updatedAt &&
    JSON.stringify(prev.latest.kpis) === JSON.stringify(data.kpis)
  ) {
    return state;
  }
  const kpis = validKpiList(data.kpis);
  const history = {};
  for (const k of kpis) {
    const before = prev && !fromDemo && prev.history[k.key] ? prev.history[k.key] : [];
    const next = before.concat([k.value]);
    history[k.key] = next.length > HISTORY_LEN ? next.slice(next.length - HISTORY_LEN) : next;
  }
  return {
    ...state,
    modules: { ...state.modules, [data.module]: { latest: { ...data, kpis }, history } },
  };
}

function applyDashboard(state, d) {
  if (!validDashboard(d)) return state;
  if (state.dashboard && !state.dashboardDemo && state.source && state.source.kind === 'server') {
    const a = parseTime(d.updatedAt);
    const b = parseTime(state.dashboard.updatedAt);
    if (!Number.isNaN(a) && !Number.isNaN(b) && a <= b) return state;
  }
  return {
    ...state,
    dashboard: d,
    dashboardDemo: false,
    dashboardHistory: dashboardHistoryFrom(d, state.dashboardDemo ? {} : state.dashboardHistory),
  };
}

function applyNotification(state, raw) {
  if (!validNotification(raw)) return state;
  const list = state.notifications;
  if (list.some((x) => x.seq === raw.seq || x.id === raw.id)) return state;
  // Older than everything kept while the list is full: it was pruned.
  if (list.length >= MAX_NOTIFICATIONS && raw.seq < list[0].seq) return state;
  const n = normalizeNotification(raw);
  let pos = list.length;
  while (pos > 0 && list[pos - 1].seq > n.seq) pos -= 1;
  let next = list.slice(0, pos).concat([n], list.slice(pos));
  if (next.length > MAX_NOTIFICATIONS) next = next.slice(next.length - MAX_NOTIFICATIONS);
  return {
    ...state,
    notifications: next,
    unreadCount: n.read ? state.unreadCount : state.unreadCount + 1,
    lastSeq: Math.max(state.lastSeq, n.seq),
  };
}

function markReadIn(notifications, ids) {
  const all = ids === 'all';
  const set = all ? null : new Set(ids);
  let changed = false;
  const next = notifications.map((n) => {
    if (!n.read && (all || set.has(n.id))) {
      changed = true;
      return { ...n, read: true };
    }
    return n;
  });
  return changed ? next : notifications;
}

function applyRead(state, data) {
  if (!isObject(data) || !Array.isArray(data.ids)) return state;
  const notifications = markReadIn(state.notifications, data.ids);
  const unreadCount =
    typeof data.unreadCount === 'number' && data.unreadCount >= 0
      ? data.unreadCount
      : Math.min(state.unreadCount, localUnread(notifications));
  if (notifications === state.notifications && unreadCount === state.unreadCount) return state;
  return { ...state, notifications, unreadCount };
}

function applyAlert(state, a) {
  if (!validAlert(a)) return state;
  if (state.alerts.some((x) => x.id === a.id)) return state;
  let alerts = state.alerts.concat([a]);
  if (alerts.length > MAX_ALERTS) alerts = alerts.slice(alerts.length - MAX_ALERTS);
  return { ...state, alerts };
}

function applyEvent(state, name, data) {
  if (typeof name !== 'string') return state;
  if (name.startsWith('kpi:update:')) {
    // The event name and the payload must agree on the module.
    if (!isObject(data) || name !== 'kpi:update:' + data.module) return state;
    return applyKpis(state, data);
  }
  switch (name) {
    case 'dashboard:update':
      return applyDashboard(state, data);
    case 'notification:new':
      return applyNotification(state, data);
    case 'notification:read':
      return applyRead(state, data);
    case 'alert:system':
      return applyAlert(state, data);
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
 * Apply one message to the state. Messages are the `pb:update` payloads from
 * the Rust shell, plus local ones the window emits itself:
 * - `{type: "mark-read-local", ids: [..]}` or `{type: "mark-read-local", all: true}`
 * - `{type: "dismiss-alert", id}` (optimistic; Rust answers with `dismissed`)
 * - `{type: "settings", settings}`
 *
 * `now` (RFC 3339 or ms) stamps `lastUpdate` when a server event arrives.
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
    case 'unread':
      if (typeof msg.count !== 'number' || msg.count < 0 || msg.count === state.unreadCount) {
        return state;
      }
      return { ...state, unreadCount: msg.count };
    case 'event': {
      const next = applyEvent(state, msg.event, msg.data);
      if (next === state || now === undefined || now === null) return next;
      const stamp = typeof now === 'number' ? new Date(now).toISOString() : String(now);
      return { ...next, lastUpdate: stamp };
    }
    case 'resync': {
      if (!isObject(msg.state)) return state;
      const next = initialState(
        { state: msg.state, settings: state.settings },
        { dismissedAlerts: state.dismissedAlerts, serverInfo: state.serverInfo },
      );
      // Dashboard history lives only here (the core keeps none): a resync
      // (sent on every return to Live) keeps it, adding the dashboard if it
      // is new; demo values start it afresh.
      if (state.dashboard && !state.dashboardDemo && next.dashboard && !next.dashboardDemo) {
        next.dashboardHistory =
          next.dashboard.updatedAt === state.dashboard.updatedAt
            ? state.dashboardHistory
            : dashboardHistoryFrom(next.dashboard, state.dashboardHistory);
      }
      return next;
    }
    case 'mark-read-local': {
      const ids = msg.all === true ? 'all' : Array.isArray(msg.ids) ? msg.ids : null;
      if (!ids) return state;
      const notifications = markReadIn(state.notifications, ids);
      const unreadCount =
        ids === 'all'
          ? 0
          : notifications === state.notifications
            ? state.unreadCount
            : Math.min(state.unreadCount, localUnread(notifications));
      if (notifications === state.notifications && unreadCount === state.unreadCount) return state;
      return { ...state, notifications, unreadCount };
    }
    case 'dismissed': {
      // Rust's dismissed set (it owns it: the tray follows the same set).
      if (!Array.isArray(msg.ids)) return state;
      const ids = msg.ids.filter((x) => typeof x === 'string').slice(-MAX_DISMISSED);
      if (sameJson(ids, state.dismissedAlerts)) return state;
      return { ...state, dismissedAlerts: ids };
    }
    case 'dismiss-alert': {
      if (typeof msg.id !== 'string' || state.dismissedAlerts.includes(msg.id)) return state;
      let dismissedAlerts = state.dismissedAlerts.concat([msg.id]);
      if (dismissedAlerts.length > MAX_DISMISSED) {
        dismissedAlerts = dismissedAlerts.slice(dismissedAlerts.length - MAX_DISMISSED);
      }
      return { ...state, dismissedAlerts };
    }
    case 'settings':
      if (!isObject(msg.settings)) return state;
      return { ...state, settings: msg.settings };
    default:
      return state;
  }
}

/** Apply a batch of messages in order. */
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

/** The latest critical alert the user has not dismissed, or null. */
export function activeCriticalAlert(state) {
  for (let i = state.alerts.length - 1; i >= 0; i -= 1) {
    const a = state.alerts[i];
    if (a.severity === 'critical' && !state.dismissedAlerts.includes(a.id)) return a;
  }
  return null;
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
const usdWhole = new Intl.NumberFormat(LOCALE, {
  style: 'currency',
  currency: 'USD',
  maximumFractionDigits: 0,
});
const usdCents = new Intl.NumberFormat(LOCALE, {
  style: 'currency',
  currency: 'USD',
  minimumFractionDigits: 2,
  maximumFractionDigits: 2,
});
const grouped = new Intl.NumberFormat(LOCALE, { maximumFractionDigits: 2 });
const groupedOne = new Intl.NumberFormat(LOCALE, { maximumFractionDigits: 1 });

/**
 * A KPI value for people: USD as currency (whole dollars from $1,000 up),
 * `%` with one decimal, other units after a grouped number, plain numbers
 * grouped.
 */
export function formatValue(kpi) {
  const v = kpi ? kpi.value : undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) return '—';
  const unit = typeof kpi.unit === 'string' ? kpi.unit.trim() : '';
  if (unit.toUpperCase() === 'USD') {
    return Math.abs(v) >= 1000 ? usdWhole.format(v) : usdCents.format(v);
  }
  if (unit === '%') return `${v.toFixed(1)}%`;
  if (unit) return `${groupedOne.format(v)} ${unit}`;
  return grouped.format(v);
}

/** Direction of a percent change: `up`, `down` or `flat` (|delta| < 0.05). */
export function deltaDirection(delta) {
  if (typeof delta !== 'number' || !Number.isFinite(delta) || Math.abs(delta) < 0.05) {
    return 'flat';
  }
  return delta > 0 ? 'up' : 'down';
}

/** `▲ 2.4%`, `▼ 1.2%`, `– 0.0%`; empty when the KPI has no delta. */
export function formatDelta(delta) {
  if (typeof delta !== 'number' || !Number.isFinite(delta)) return '';
  const dir = deltaDirection(delta);
  const arrow = dir === 'up' ? '▲' : dir === 'down' ? '▼' : '–';
  return `${arrow} ${Math.abs(delta).toFixed(1)}%`;
}

// ------------------------------------------------------------------ connection pill

function secondsUntil(iso, nowMs) {
  const t = parseTime(iso);
  if (Number.isNaN(t)) return null;
  return Math.max(0, Math.ceil((t - nowMs) / 1000));
}

function retryPhrase(secs) {
  return secs === null || secs === 0 ? 'now' : `in ${secs}s`;
}

/**
 * The connection pill's text. Pure: `now` is ms since the epoch (or a Date /
 * RFC 3339 string). Demo data is always labelled as such.
 */
export function pillText(connection, source, lastUpdate, now) {
  const nowMs =
    typeof now === 'number' ? now : now instanceof Date ? now.getTime() : parseTime(now);
  const c = isObject(connection) ? connection : { state: 'connecting' };
  const kind = isObject(source) ? source.kind : 'demo';
  let text;
  switch (c.state) {
    case 'live':
      text = 'Live';
      break;
    case 'reconnecting': {
      const secs = secondsUntil(c.nextRetryAt, nowMs);
      const attempt = typeof c.attempt === 'number' ? `, attempt ${c.attempt}` : '';
      text = `Reconnecting ${retryPhrase(secs)}${attempt}`;
      break;
    }
    case 'offline': {
      const cachedAt =
        kind === 'cache' ? source.savedAt : kind === 'server' ? lastUpdate : null;
      const clock = formatClock(cachedAt);
      if (cachedAt && clock !== '—') {
        text = `Offline, cached data from ${clock}`;
      } else {
        text = `Offline, retrying ${retryPhrase(secondsUntil(c.nextRetryAt, nowMs))}`;
      }
      break;
    }
    case 'unauthorized':
      text = 'Unauthorized, check the token';
      break;
    case 'connecting':
    default:
      text = 'Connecting…';
      break;
  }
  return kind === 'demo' ? `Demo data · ${text}` : text;
}

/** The pill's colour class: `live`, `warn`, `error`, `demo` or `neutral`. */
export function pillTone(connection, source) {
  const state = isObject(connection) ? connection.state : 'connecting';
  if (state === 'unauthorized') return 'error';
  if (state === 'offline') return 'error';
  if (state === 'reconnecting') return 'warn';
  if (isObject(source) && source.kind === 'demo') return 'demo';
  if (state === 'live') return 'live';
  return 'neutral';
}

/** Extra detail for the pill's tooltip: reason and next retry. */
export function pillDetail(connection, now) {
  const nowMs = typeof now === 'number' ? now : parseTime(now);
  const c = isObject(connection) ? connection : {};
  switch (c.state) {
    case 'live':
      return `Connected${c.since ? ' since ' + formatTime(c.since) : ''}${
        c.transport ? ' via ' + (c.transport === 'polling' ? 'HTTP long-polling' : 'WebSocket') : ''
      }`;
    case 'reconnecting':
    case 'offline': {
      const secs = secondsUntil(c.nextRetryAt, nowMs);
      const parts = [`Next try ${retryPhrase(secs)}`];
      if (typeof c.attempt === 'number') parts.push(`attempt ${c.attempt}`);
      if (c.reason) parts.push(`last error: ${c.reason}`);
      return parts.join(', ');
    }
    case 'unauthorized':
      return c.message ? `The server refused the token: ${c.message}` : 'The server refused the token';
    case 'connecting':
      return c.server ? `Connecting to ${c.server}` : 'Connecting';
    default:
      return '';
  }
}
