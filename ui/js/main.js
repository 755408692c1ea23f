// @ts-check
// Wiring: IPC -> queue -> pure reducer -> at most one render per RENDER_GAP_MS.
//
// Every update message (the shell's channel) is pushed on a queue. One task
// (a timer, at most one per RENDER_GAP_MS) folds the queue into the state by
// `applyAll` (pure), then only the parts whose state references changed are
// redrawn, and only the visible view. While the window is hidden the task
// still folds the queue, so it never grows without bound; rendering waits
// until the window is shown again.
//
// Not requestAnimationFrame: its callback waits for the next display frame
// (up to 16.7 ms) before the DOM holds the update. From a task the DOM
// changes at once and WebKit's next rendering update paints it: emit -> DOM
// p99 at 1000 events/s 33 -> 20 ms, p50 19 -> 9 ms (BENCHMARKS.md section 3).

import * as ipc from './ipc.js';
import { applyAll, initialState, unreadCount } from './state.js';
import { setText } from './dom.js';
import { nextClockChange } from './clock.js';
import { homeTimes, renderHome, tickHome } from './views/home.js';
import { alertsTimes, bindAlerts, renderAlerts, renderAlertsBadge } from './views/alerts.js';
import { bindDetail, createDetailChart, findKpi, renderDetail } from './views/detail.js';
import { dashboardTimes, renderDashboard } from './views/dashboard.js';
import {
  bindNotifications,
  renderBadge,
  renderNotifications,
} from './views/notifications.js';
import { bindSettings, fillSettings, renderSettings } from './views/settings.js';
import { bindBanner, renderBanner } from './views/banner.js';

performance.mark('pulseboard:script');

const VIEWS = ['home', 'dashboard', 'alerts', 'notifications', 'settings'];
const TITLES = {
  home: 'Overview',
  dashboard: 'Dashboard',
  alerts: 'Alerts',
  notifications: 'Notifications',
  settings: 'Settings',
};
/** The times each view shows as clock texts ("3 min ago"), for the clock timer (see clock.js). */
const CLOCKS = { home: homeTimes, dashboard: dashboardTimes, alerts: alertsTimes };
/** A clock timer due later than this is re-armed when the state changes. */
const CLOCK_RECHECK_MS = 60000;
/** Fold the queue without waiting for a render once it is this long. */
const QUEUE_SOFT_LIMIT = 2000;
/** At most one render per this many ms (a 60 Hz frame): a flood is drawn in batches. */
const RENDER_GAP_MS = 16;
const $ = (sel) => document.querySelector(sel);

const dom = {
  title: $('#view-title'),
  pill: $('#pill'),
  pillText: $('#pill-text'),
  badge: $('#unread-badge'),
  alertsBadge: $('#alerts-badge'),
  app: $('.app'),
  skipLink: $('.skip-link'),
  detail: $('#kpi-detail'),
  bannerRegion: $('#banner-region'),
  serverInfo: $('#server-info'),
  content: $('#content'),
  moduleGrid: $('#module-grid'),
  views: Object.fromEntries(VIEWS.map((v) => [v, $(`#view-${v}`)])),
  navs: Object.fromEntries(VIEWS.map((v) => [v, $(`#nav-${v}`)])),
};

let state = initialState({});
let ready = false;
let queue = [];
/** The pending render task (0: none), and when the last render ran (performance.now()). */
let renderTimer = 0;
let lastRender = -Infinity;
/** The one timer that moves clock texts on, armed only when one will change. */
let clockTimer = 0;
/** When it fires (epoch ms), and the state it was armed for. */
let clockDue = 0;
let clockFrom = null;
let view = 'home';
/** Rust's clock minus ours (from get_state's `now`), so countdowns agree with Rust. */
let clockOffset = 0;
const now = () => Date.now() + clockOffset;
/** The state each part was last rendered from (null: never). */
const rendered = { home: null, dashboard: null, alerts: null, notifications: null, chrome: null };
let lastPill = { view: null, connection: null, source: null };
/**
 * Test and benchmark hooks (js/hooks.js: `window.__pulseboardStats`,
 * `window.__pulseboardProbe`), told of each message and frame. Loaded only
 * under WebDriver or with `?stats`; null in the window people use. Start-up
 * steps are `pulseboard:*` performance marks.
 */
let hooks = null;
const wantHooks = () => navigator.webdriver === true || /[?&]stats\b/.test(location.search);

// ------------------------------------------------------------------ queue

function enqueue(msg) {
  if (msg === undefined || msg === null) return;
  queue.push(msg);
  if (hooks) hooks.message(msg, queue.length);
  if (ready && queue.length >= QUEUE_SOFT_LIMIT) fold();
  schedule();
}

function fold() {
  if (!ready || queue.length === 0) return;
  const q = queue;
  queue = [];
  state = applyAll(state, q, new Date(now()).toISOString());
}

function schedule() {
  if (renderTimer) return;
  renderTimer = setTimeout(onRender, Math.max(0, lastRender + RENDER_GAP_MS - performance.now()));
}

function onRender() {
  renderTimer = 0;
  const t = performance.now();
  lastRender = t;
  fold();
  // Hidden: folded only; the visibilitychange handler draws when shown.
  if (document.hidden) return;
  render();
  markFirstPaint();
  if (hooks && hooks.frame(performance.now() - t)) schedule();
}

/**
 * Start-up mark `pulseboard:kpi-paint`: the frame after the one that drew the
 * first KPI values (that frame's paint is done). Two animation frames, once.
 */
let kpiDrawn = false;
function markFirstPaint() {
  if (kpiDrawn || !dom.content.querySelector('.kpi-value')) return;
  kpiDrawn = true;
  requestAnimationFrame(() => requestAnimationFrame(() => performance.mark('pulseboard:kpi-paint')));
}

// ------------------------------------------------------------------ rendering

/** The pill draws Rust's connection view as it is (words, tone, tooltip). */
function renderPill(s) {
  const v = s.connectionView;
  if (!v || v === lastPill.view) return;
  const stateChanged = lastPill.connection !== s.connection || lastPill.source !== s.source;
  if (!lastPill.view || v.text !== lastPill.view.text) {
    // Announce state changes, not the countdown ticking every second.
    dom.pillText.setAttribute('aria-live', stateChanged ? 'polite' : 'off');
    setText(dom.pillText, v.text);
  }
  dom.pill.className = `pill pill-${v.tone}`;
  const detail = `${v.detail}\nClick for the connection settings`.trim();
  if (dom.pill.title !== detail) dom.pill.title = detail;
  lastPill = { view: v, connection: s.connection, source: s.source };
}

function renderChrome(s) {
  const prev = rendered.chrome;
  renderPill(s);
  if (!prev || prev.unreadCount !== s.unreadCount) {
    renderBadge(dom.badge, s);
    const n = unreadCount(s);
    document.title = n > 0 ? `Pulseboard (${n})` : 'Pulseboard';
  }
  if (!prev || prev.alerts !== s.alerts || prev.acknowledgedAlerts !== s.acknowledgedAlerts) {
    const focused = dom.bannerRegion.contains(document.activeElement) ? document.activeElement : null;
    renderBanner(dom.bannerRegion, s, now());
    renderAlertsBadge(dom.alertsBadge, s);
    // The focused button went away with the banner: keep focus somewhere visible.
    if (focused && gone(focused)) focusFallback();
  }
  if (!prev || prev.settings !== s.settings || prev.serverInfo !== s.serverInfo) {
    const parts = [];
    if (s.settings && s.settings.server) parts.push(s.settings.server);
    if (s.serverInfo && s.serverInfo.serverVersion) parts.push(`server ${s.serverInfo.serverVersion}`);
    setText(dom.serverInfo, parts.join(' · '));
    dom.serverInfo.title = parts.join('\n');
  }
  rendered.chrome = s;
}

function render() {
  const s = state;
  renderChrome(s);
  if (detail.ref && detail.drawn !== s) {
    const found = findKpi(s, detail.ref);
    if (found) renderDetail(dom.detail, found);
    detail.drawn = s;
  }
  switch (view) {
    case 'home':
      if (rendered.home !== s) renderHome(dom.moduleGrid, s, rendered.home, now());
      rendered.home = s;
      break;
    case 'dashboard':
      if (rendered.dashboard !== s) renderDashboard(dom.views.dashboard, s, rendered.dashboard, now());
      rendered.dashboard = s;
      break;
    case 'alerts':
      if (
        !rendered.alerts ||
        rendered.alerts.alerts !== s.alerts ||
        rendered.alerts.acknowledgedAlerts !== s.acknowledgedAlerts
      ) {
        renderAlerts(dom.views.alerts, s, now());
        restoreAlertFocus();
      }
      rendered.alerts = s;
      break;
    case 'notifications':
      if (rendered.notifications !== s) {
        renderNotifications(dom.views.notifications, s, rendered.notifications);
      }
      rendered.notifications = s;
      break;
    case 'settings':
      renderSettings(dom.views.settings, s);
      renderDiagnosis(s);
      break;
    default:
      break;
  }
  armClock();
}

// ------------------------------------------------------------------ clock

/**
 * Wake when a clock text of the shown view ("just now" -> "1 min ago", a date
 * after midnight) will change, and not before: an idle window whose texts
 * stay as they are runs no timer. Re-armed after each clock redraw.
 */
function armClock() {
  if (document.hidden) return;
  if (clockTimer) {
    // New data may show a text that changes sooner ("just now" while the
    // timer waits for "2 h ago"): look again, unless it fires soon anyway.
    if (clockFrom === state || clockDue - Date.now() <= CLOCK_RECHECK_MS) return;
    stopClock();
  }
  const times = CLOCKS[view];
  if (!times) return;
  const s = state;
  const dt = nextClockChange(times(s), now());
  if (dt === null) return;
  clockTimer = setTimeout(onClock, dt);
  clockDue = Date.now() + dt;
  clockFrom = s;
}

function stopClock() {
  clearTimeout(clockTimer);
  clockTimer = 0;
  clockFrom = null;
}

/** Redraw the shown view's clock texts (then armClock looks ahead again). */
function onClock() {
  clockTimer = 0;
  clockFrom = null;
  if (document.hidden) return;
  if (view === 'home') {
    tickHome(dom.moduleGrid, state, now());
    armClock();
  } else if (view === 'dashboard' || view === 'alerts') {
    rendered[view] = null;
    schedule();
  }
}

// ------------------------------------------------------------------ navigation

function navigate(next, { focus = false } = {}) {
  if (!VIEWS.includes(next)) return;
  view = next;
  for (const v of VIEWS) {
    dom.views[v].hidden = v !== next;
    if (v === next) dom.navs[v].setAttribute('aria-current', 'page');
    else dom.navs[v].removeAttribute('aria-current');
  }
  setText(dom.title, TITLES[next]);
  try {
    history.replaceState(null, '', `#${next}`);
  } catch {
    // file:// or sandboxed: the hash is a nicety only.
  }
  if (next === 'settings') openSettings();
  if (focus) dom.title.focus({ preventScroll: true });
  // The clock looks ahead for the texts of the view now shown.
  stopClock();
  schedule();
}

/**
 * Put keyboard focus somewhere visible when the focused control went away
 * (a dismissed banner, an acknowledged item): the view's title.
 */
// ------------------------------------------------------------------ KPI detail

/** The KPI shown in the detail dialog (`ref`), and where focus goes back to. */
const detail = { ref: null, back: null, drawn: null };

function openDetail(ref, back) {
  const found = findKpi(state, ref);
  if (!found) return;
  detail.ref = ref;
  detail.back = back || document.activeElement;
  createDetailChart(dom.detail);
  renderDetail(dom.detail, found);
  detail.drawn = state;
  dom.detail.hidden = false;
  // The window behind is out of reach while the dialog is open.
  dom.app.inert = true;
  dom.skipLink.inert = true;
  dom.detail.querySelector('#detail-chart').focus();
}

function closeDetail() {
  if (!detail.ref) return;
  detail.ref = null;
  dom.detail.hidden = true;
  dom.app.inert = false;
  dom.skipLink.inert = false;
  const back = detail.back;
  detail.back = null;
  if (back && back.isConnected && !gone(back)) back.focus();
  else focusFallback();
}

/** The KPI a click or key on `target` means: a module row or a dashboard tile. */
function kpiRefAt(target) {
  if (!(target instanceof Element)) return null;
  const row = /** @type {HTMLElement | null} */ (target.closest('.kpi-row'));
  if (row) {
    const card = /** @type {HTMLElement | null} */ (row.closest('[data-module]'));
    return card ? { ref: { module: card.dataset.module, key: row.dataset.key }, node: row } : null;
  }
  const tile = /** @type {HTMLElement | null} */ (target.closest('.summary-card, .top-card'));
  return tile ? { ref: { dashboard: true, key: tile.dataset.key }, node: tile } : null;
}

// ------------------------------------------------------------------ links

/**
 * Web links in notifications and alerts open in the browser, through Rust's
 * `open_link`, after the user said yes: the webview itself never navigates.
 */
function bindLinks() {
  const box = $('#link-confirm');
  const url = $('#link-confirm-url');
  const error = $('#link-error');
  let pending = null;
  let back = null;
  const close = () => {
    box.hidden = true;
    pending = null;
    if (back && back.isConnected) back.focus({ preventScroll: true });
    else focusFallback();
    back = null;
  };
  document.addEventListener('click', (e) => {
    const a = e.target instanceof Element ? /** @type {HTMLElement | null} */ (e.target.closest('a[data-link]')) : null;
    if (!a) return;
    e.preventDefault();
    pending = a.dataset.link;
    back = a;
    setText(url, pending);
    error.hidden = true;
    box.hidden = false;
    $('#link-open').focus();
  });
  $('#link-cancel').addEventListener('click', close);
  box.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') {
      e.preventDefault();
      close();
    }
  });
  $('#link-open').addEventListener('click', () => {
    if (!pending) return;
    ipc
      .openLink(pending)
      .then(close)
      .catch((err) => {
        setText(error, `Could not open the link: ${ipc.errorMessage(err)}`);
        error.hidden = false;
      });
  });
}

/** Visible controls in Tab order (the page uses no positive tabindex). */
function focusables() {
  const sel = 'a[href], button, input, select, textarea, [tabindex]';
  // An open dialog keeps focus to itself.
  const scope = detail.ref ? dom.detail : document;
  return [...scope.querySelectorAll(sel)].filter((e) => {
    if (e.classList.contains('focus-wrap') || e.disabled || e.tabIndex < 0) return false;
    if (e.closest('[inert]')) return false;
    if (e.classList.contains('skip-link')) return true;
    const r = e.getBoundingClientRect();
    return r.width > 0 && r.height > 0;
  });
}

/** True when `el` can no longer hold focus: removed, or inside something hidden. */
function gone(el) {
  return !el.isConnected || el.closest('[hidden]') !== null || el.getClientRects().length === 0;
}

function focusFallback() {
  dom.title.focus({ preventScroll: true });
}

function viewFromHash() {
  const h = (location.hash || '').replace(/^#/, '');
  return VIEWS.includes(h) ? h : 'home';
}

// ------------------------------------------------------------------ actions

async function resync() {
  try {
    const snap = await ipc.getState();
    enqueue({ type: 'resync', state: snap.state });
    if (snap.connectionView) enqueue({ type: 'connection-view', view: snap.connectionView });
    if (snap.settings) enqueue({ type: 'settings', settings: snap.settings });
  } catch (err) {
    console.error('get_state failed', ipc.errorMessage(err));
  }
}

function markRead(id) {
  ipc.markRead([id]).catch((err) => {
    console.error('mark_read failed', ipc.errorMessage(err));
    resync();
  });
}

function markAllRead() {
  if (unreadCount(state) === 0) return;
  ipc.markAllRead().catch((err) => {
    console.error('mark_all_read failed', ipc.errorMessage(err));
    resync();
  });
}

/**
 * Why the connection fails, in Rust's words (`diagnose_connection`), asked
 * once per failure (state, reason, server) while Settings is shown.
 */
let diagnosed = '';
function renderDiagnosis(s) {
  const box = dom.views.settings.querySelector('#connection-diagnosis');
  const c = s.connection || {};
  if (c.state === 'live' || c.state === 'connecting') {
    diagnosed = '';
    box.hidden = true;
    return;
  }
  const key = [c.state, c.reason || c.message || '', s.settings && s.settings.server].join('|');
  if (key === diagnosed) return;
  diagnosed = key;
  ipc
    .diagnoseConnection()
    .then((d) => {
      if (diagnosed !== key || !d || typeof d.message !== 'string') return;
      box.dataset.kind = String(d.kind || '');
      setText(box, d.message);
      box.hidden = false;
    })
    .catch((err) => console.error('diagnose_connection failed', ipc.errorMessage(err)));
}

/** Acknowledge alerts (`ids` or 'all') in Rust; shown at once, Rust's answer wins. */
function acknowledge(ids) {
  enqueue(ids === 'all' ? { type: 'ack-local', all: true } : { type: 'ack-local', ids });
  ipc
    .acknowledgeAlerts(ids)
    .then((all) => enqueue({ type: 'acknowledged', ids: all }))
    .catch((err) => {
      console.error('acknowledge_alerts failed', ipc.errorMessage(err));
      resync();
    });
}

/** Focus to restore after the alert list is redrawn: the next open alert's button. */
let alertFocus = null;

function ackOne(id, btn) {
  if (btn && btn === document.activeElement) {
    const items = [...dom.views.alerts.querySelectorAll('#alert-list button[data-id]')];
    const i = items.indexOf(btn);
    const next = items[i + 1] || items[i - 1];
    alertFocus = next ? next.dataset.id : 'ack-all';
  }
  acknowledge([id]);
}

function restoreAlertFocus() {
  if (!alertFocus) return;
  const want = alertFocus;
  alertFocus = null;
  const target =
    want === 'ack-all'
      ? dom.views.alerts.querySelector('#ack-all')
      : dom.views.alerts.querySelector(`#alert-list button[data-id="${CSS.escape(want)}"]`) ||
        dom.views.alerts.querySelector('#ack-all');
  target.focus({ preventScroll: true });
}

async function openSettings() {
  fillSettings(dom.views.settings, state.settings);
  try {
    const s = await ipc.getSettings();
    enqueue({ type: 'settings', settings: s });
    // What the user typed meanwhile is kept.
    if (view === 'settings') fillSettings(dom.views.settings, s, { keepEdits: true });
  } catch (err) {
    console.error('get_settings failed', ipc.errorMessage(err));
  }
}

// ------------------------------------------------------------------ start

function bind() {
  for (const v of VIEWS) {
    dom.navs[v].addEventListener('click', () => navigate(v));
  }
  // Arrow keys move between the navigation buttons.
  $('.nav-list').addEventListener('keydown', (e) => {
    if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
    const i = VIEWS.findIndex((v) => dom.navs[v] === document.activeElement);
    if (i < 0) return;
    e.preventDefault();
    const j = (i + (e.key === 'ArrowDown' ? 1 : VIEWS.length - 1)) % VIEWS.length;
    dom.navs[VIEWS[j]].focus();
  });
  window.addEventListener('hashchange', () => {
    const v = viewFromHash();
    if (v !== view) navigate(v);
  });
  bindNotifications(dom.views.notifications, {
    onMarkRead: markRead,
    onMarkAllRead: markAllRead,
    onFilter: () => {
      if (view === 'notifications') renderNotifications(dom.views.notifications, state, rendered.notifications);
    },
    fallbackFocus: focusFallback,
  });
  bindBanner(dom.bannerRegion, {
    onDismiss: (id) => acknowledge([id]),
    onDismissAll: () => {
      const ids = [];
      for (const a of state.alerts) if (a.severity === 'critical') ids.push(a.id);
      acknowledge(ids);
    },
    onMore: () => navigate('alerts', { focus: true }),
  });
  bindAlerts(dom.views.alerts, {
    onAck: ackOne,
    onAckAll: () => {
      if (dom.views.alerts.querySelector('#ack-all').getAttribute('aria-disabled') === 'true') return;
      acknowledge('all');
    },
    onFilter: () => {
      if (view === 'alerts') renderAlerts(dom.views.alerts, state, now());
    },
  });
  // Focus wraps around inside the page (see the .focus-wrap sentinels).
  const app = $('.app');
  for (const sentinel of document.querySelectorAll('.focus-wrap')) {
    if (!(sentinel instanceof HTMLElement)) continue;
    sentinel.addEventListener('focus', (e) => {
      const all = focusables();
      // Coming from a control of the page: wrap around; from outside: enter.
      const from = e instanceof FocusEvent ? e.relatedTarget : null;
      const fromInside =
        from instanceof Element &&
        (app.contains(from) || dom.detail.contains(from) || from.classList.contains('skip-link'));
      const atEnd = sentinel.dataset.wrap === 'end';
      const target = atEnd === fromInside ? all[0] : all[all.length - 1];
      if (target) target.focus();
    });
  }
  // A KPI (row or tile) opens its detail: click, Enter or Space.
  for (const root of [dom.moduleGrid, dom.views.dashboard]) {
    root.addEventListener('click', (e) => {
      const hit = kpiRefAt(e.target);
      if (hit) openDetail(hit.ref, hit.node);
    });
    root.addEventListener('keydown', (e) => {
      if (e.key !== 'Enter' && e.key !== ' ') return;
      const hit = kpiRefAt(e.target);
      if (!hit || e.target !== hit.node) return;
      e.preventDefault();
      openDetail(hit.ref, hit.node);
    });
  }
  bindDetail(dom.detail, { onClose: closeDetail });
  bindLinks();
  // The pill leads to the fix: the connection settings.
  dom.pill.addEventListener('click', () => {
    navigate('settings');
    const server = document.querySelector('#set-server');
    const c = state.connection && state.connection.state;
    const field =
      c === 'unauthorized' ? '#set-token' : c === 'certificate' ? '#set-ca' : '#set-server';
    /** @type {HTMLElement} */ (document.querySelector(field) || server).focus();
  });
  bindSettings(dom.views.settings, {
    save: (s) => ipc.saveSettings(s),
    reconnect: () => ipc.reconnect(),
    current: () => state.settings,
    connection: () => state.connection,
    saved: (s) => enqueue({ type: 'settings', settings: s }),
    errorText: ipc.errorMessage,
    plainHttpWarning: (server, hasToken) => ipc.plainHttpWarning(server, hasToken),
  });
  // Hidden: no clock; shown again: clock texts brought up to date at once.
  document.addEventListener('visibilitychange', () => {
    stopClock();
    if (document.hidden) return;
    onClock();
    schedule();
  });
}

async function start() {
  bind();
  navigate(viewFromHash());
  // The shell puts get_state's answer in the page before it loads, so the
  // first frame shows the data without waiting for IPC. It is only drawn:
  // updates keep queuing until get_state below replaces it, as before.
  const boot = window.__PULSEBOARD_BOOT__;
  window.__PULSEBOARD_BOOT__ = undefined;
  if (boot && typeof boot === 'object' && boot.state) {
    adoptSnapshot(boot);
    performance.mark('pulseboard:boot');
    schedule();
  }
  // The hooks (WebDriver only) load while the first frame is drawn, not
  // before it: they are in place before any update message is listened to.
  if (wantHooks()) {
    try {
      hooks = (await import('./hooks.js')).install(() => state);
    } catch (err) {
      console.error('hooks failed', err);
    }
  }
  // Listen first so nothing between the snapshot and the listener is lost;
  // updates queue up until the snapshot is in.
  try {
    await Promise.all([ipc.onUpdate(enqueue), ipc.onNavigate((v) => navigate(v, { focus: true }))]);
    performance.mark('pulseboard:listening');
  } catch (err) {
    console.error('listen failed', ipc.errorMessage(err));
  }
  let snap = null;
  try {
    snap = await ipc.getState();
    performance.mark('pulseboard:state');
  } catch (err) {
    console.error('get_state failed', ipc.errorMessage(err));
    setTimeout(resync, 2000);
  }
  if (snap) adoptSnapshot(snap);
  ready = true;
  migrateDismissed();
  schedule();
}

/** Older versions kept dismissed alerts in localStorage: acknowledge them in Rust once. */
function migrateDismissed() {
  const key = 'pulseboard.dismissedAlerts';
  let ids;
  try {
    ids = JSON.parse(localStorage.getItem(key) || 'null');
    localStorage.removeItem(key);
  } catch {
    return;
  }
  if (!Array.isArray(ids)) return;
  const kept = new Set(state.alerts.map((a) => a.id));
  const open = ids.filter(
    (x) => typeof x === 'string' && kept.has(x) && !state.acknowledgedAlerts.includes(x),
  );
  if (open.length > 0) acknowledge(open.slice(-200));
}

/** Take a get_state answer as the whole state. */
function adoptSnapshot(snap) {
  const rustNow = Date.parse(snap.now);
  if (Number.isFinite(rustNow)) clockOffset = rustNow - Date.now();
  state = initialState(snap);
  if (view === 'settings') fillSettings(dom.views.settings, state.settings, { keepEdits: true });
}

start();
