import './helpers.js';
import { test } from 'node:test';
import { readFileSync } from 'node:fs';
import assert from 'node:assert/strict';
import {
  activeCriticalAlert,
  alertsNewestFirst,
  applyAll,
  filterNotifications,
  openAlertCount,
  openCriticalAlerts,
  applyUpdate,
  initialState,
  notificationsNewestFirst,
  unreadCount,
} from '../js/state.js';
import { at, dashboard, ev, moduleKpis, notif, snapshot } from './helpers.js';

const fresh = (state, settings) => initialState(snapshot(state, settings));

test('initial state comes from get_state, with safe defaults for an empty answer', () => {
  const empty = initialState({});
  assert.deepEqual(empty.modules, {});
  assert.equal(empty.dashboard, null);
  assert.equal(empty.connection.state, 'connecting');
  assert.equal(empty.source.kind, 'demo');
  assert.equal(unreadCount(empty), 0);

  const s = fresh(
    {
      modules: { finance: { latest: moduleKpis('finance', { revenue: 5 }), history: { revenue: [1, 2, 3, 4, 5] } } },
      notifications: [notif(1), notif(2, { read: true })],
      unreadCount: 1,
      lastSeq: 2,
    },
    { server: 'http://x', hasToken: true, dnd: 'off', notifyThreshold: 'info', startAtLogin: false },
  );
  assert.deepEqual(s.modules.finance.history.revenue, [1, 2, 3, 4, 5]);
  assert.equal(unreadCount(s), 1);
  assert.equal(s.settings.hasToken, true);
});

// Rust decides which KPI updates are newer, bounds the history and drops
// demo points (crates/core store tests, src-tauri bridge tests); the page
// swaps in the view each batch's last message of a module carries.
const moduleMsg = (data, history) => ({
  type: 'module',
  event: `kpi:update:${data.module}`,
  data,
  ...(history ? { view: { latest: data, history } } : {}),
});
const dashMsg = (data, history) => ({
  type: 'dashboard',
  event: 'dashboard:update',
  data,
  ...(history ? { view: { latest: data, history } } : {}),
});

test("a module message swaps in Rust's view of that module; other modules untouched", () => {
  const s0 = fresh({ modules: { hr: { latest: moduleKpis('hr', { headcount: 1 }), history: { headcount: [1] } } } });
  const s1 = applyUpdate(s0, moduleMsg(moduleKpis('finance', { revenue: 10, expenses: 4 }, 1), { revenue: [9, 10], expenses: [4] }));
  assert.notEqual(s1, s0, 'a new state object');
  assert.equal(s0.modules.finance, undefined, 'the input is not mutated');
  assert.equal(s1.modules.hr, s0.modules.hr, 'an untouched module keeps its reference (not re-rendered)');
  assert.deepEqual(s1.modules.finance.history.revenue, [9, 10], "Rust's history, as sent");
  assert.equal(s1.modules.finance.latest.kpis[0].value, 10);
});

test('a module message without a view is a step the batch draws later: nothing changes', () => {
  const s = fresh();
  assert.equal(applyUpdate(s, moduleMsg(moduleKpis('hr', { a: 1 }, 1))), s);
  const batch = [moduleMsg(moduleKpis('hr', { a: 1 }, 1)), moduleMsg(moduleKpis('hr', { a: 2 }, 2), { a: [1, 2] })];
  const s2 = applyAll(s, batch);
  assert.deepEqual(s2.modules.hr.history.a, [1, 2]);
  assert.equal(s2.modules.hr.latest.kpis[0].value, 2);
});

// Rust sends a history whole once, then only the values it added since
// its previous view, with the bound to keep (`keep`).
const viewMsg = (data, view) => ({ type: 'module', event: `kpi:update:${data.module}`, data, view });

test('added values are appended to the whole history Rust sent first and trimmed to its bound', () => {
  let s = fresh();
  s = applyUpdate(s, viewMsg(moduleKpis('hr', { a: 3, b: 30 }, 3), { history: { a: [1, 2, 3], b: [30] }, full: true, keep: 4 }));
  assert.deepEqual(s.modules.hr.history, { a: [1, 2, 3], b: [30] });
  s = applyUpdate(s, viewMsg(moduleKpis('hr', { a: 5, b: 50 }, 5), { history: { a: [4, 5], b: [40, 50] }, full: false, keep: 4 }));
  assert.deepEqual(s.modules.hr.history, { a: [2, 3, 4, 5], b: [30, 40, 50] }, 'appended, the oldest dropped past 4');
  assert.equal(s.modules.hr.latest.kpis[0].value, 5, "the message's data is the latest when the view leaves it out");
  s = applyUpdate(s, viewMsg(moduleKpis('hr', { a: 6 }, 6), { history: { a: [6] }, full: false, keep: 4 }));
  assert.deepEqual(s.modules.hr.history, { a: [3, 4, 5, 6] }, 'a key Rust no longer sends is gone');
  s = applyUpdate(s, viewMsg(moduleKpis('hr', { a: 7 }, 7), { history: { a: [7] }, full: true, keep: 4 }));
  assert.deepEqual(s.modules.hr.history, { a: [7] }, 'a whole history replaces');
});

test("added values never go on a copy that did not come from Rust's views; the next whole one does", () => {
  // From get_state: Rust sends each history whole next.
  let s = fresh({ modules: { hr: { latest: moduleKpis('hr', { a: 3 }), history: { a: [1, 2, 3] } } } });
  const stale = applyUpdate(s, viewMsg(moduleKpis('hr', { a: 9 }, 9), { history: { a: [8, 9] }, full: false, keep: 60 }));
  assert.deepEqual(stale.modules.hr.history.a, [1, 2, 3], 'not appended to a copy they do not follow');
  assert.equal(stale.modules.hr.latest.kpis[0].value, 9, 'the latest is still shown');
  s = applyUpdate(stale, viewMsg(moduleKpis('hr', { a: 9 }, 9), { history: { a: [7, 8, 9] }, full: true, keep: 60 }));
  s = applyUpdate(s, viewMsg(moduleKpis('hr', { a: 10 }, 10), { history: { a: [10] }, full: false, keep: 60 }));
  assert.deepEqual(s.modules.hr.history.a, [7, 8, 9, 10]);
});

test("replaying what Rust sends of the KPIs gives the histories Rust holds (src-tauri/tests/fixtures/kpi-views.json)", () => {
  const fx = JSON.parse(readFileSync(new URL('../../src-tauri/tests/fixtures/kpi-views.json', import.meta.url), 'utf8'));
  const views = fx.messages.filter((m) => m.view);
  assert.ok(views.filter((m) => m.view.full === false).length >= 6, 'only the added values, mostly');
  const s = applyAll(initialState({}), fx.messages, at(0));
  assert.deepEqual(s.modules.hr.history, fx.core.modules.hr);
  assert.deepEqual(s.dashboardHistory, fx.core.dashboard);
  assert.ok(Object.values(s.modules.hr.history).some((h) => h.length === 60), 'across the bound');
});

test('malformed messages are dropped', () => {
  const s = fresh();
  assert.equal(applyUpdate(s, { type: 'module', view: { latest: { module: 'sales', kpis: [], updatedAt: at(0) }, history: {} } }), s);
  assert.equal(applyUpdate(s, { type: 'module', view: null }), s);
  assert.equal(applyUpdate(s, { type: 'dashboard', view: { latest: {} } }), s);
  assert.equal(applyUpdate(s, ev('no:such:event', {})), s);
  assert.equal(applyUpdate(s, null), s);
  assert.equal(applyUpdate(s, { type: 'bogus' }), s);
});

test("a dashboard message swaps in Rust's dashboard and its history", () => {
  let s = fresh({ dashboard: dashboard(0, 412), dashboardDemo: true });
  s = applyUpdate(s, dashMsg(dashboard(2, 2), { a: [1, 2] }));
  assert.equal(s.dashboard.summary.length, 6);
  assert.equal(s.dashboard.summary[0].value, 2);
  assert.equal(s.dashboardDemo, false);
  assert.deepEqual(s.dashboardHistory.a, [1, 2]);
});

test('a KPI update leaves the dashboard reference alone (only the module re-renders)', () => {
  const s0 = applyUpdate(fresh(), dashMsg(dashboard(1), { a: [1] }));
  const s1 = applyUpdate(s0, moduleMsg(moduleKpis('hr', { a: 1 }, 2), { a: [1] }));
  assert.equal(s1.dashboard, s0.dashboard);
  assert.equal(s1.notifications, s0.notifications);
});

// Rust decides which notifications are kept, which are read and the count
// (crates/core store tests, src-tauri bridge tests); the page applies it.
const notes = (added, extra = {}) => ({ type: 'notifications', added, read: [], keepFrom: 0, unread: 0, ...extra });

test("a notifications message is applied as Rust sent it: placed by seq, count taken", () => {
  let s = fresh();
  s = applyUpdate(s, notes([notif(2)], { unread: 1 }));
  s = applyUpdate(s, notes([notif(1), notif(3, { read: true })], { unread: 7 }));
  assert.deepEqual(s.notifications.map((n) => n.seq), [1, 2, 3]);
  assert.equal(unreadCount(s), 7, "Rust's count, not one counted here");
  // Sent again (e.g. also in the get_state answer): same place, no copy.
  s = applyUpdate(s, notes([notif(2, { read: true })], { unread: 7 }));
  assert.deepEqual(s.notifications.map((n) => [n.seq, n.read]), [[1, false], [2, true], [3, true]]);
  const same = applyUpdate(s, notes([], { unread: 7 }));
  assert.equal(same, s, 'nothing changed: the same state');
});

test('a notifications message drops what Rust no longer keeps and shows what it marked read', () => {
  let s = applyUpdate(fresh(), notes([1, 2, 3, 4].map((i) => notif(i)), { unread: 4 }));
  s = applyUpdate(s, notes([notif(5)], { keepFrom: 3, read: ['n-4', 'n-9'], unread: 1 }));
  assert.deepEqual(s.notifications.map((n) => [n.seq, n.read]), [[3, false], [4, true], [5, false]]);
  assert.equal(unreadCount(s), 1);
});

test('the notification list is newest first and capped for rendering', () => {
  const list = Array.from({ length: 220 }, (_, i) => notif(i + 1));
  const s = applyUpdate(fresh(), notes(list, { unread: 220 }));
  const shown = notificationsNewestFirst(s);
  assert.equal(shown.length, 200);
  assert.equal(shown[0].seq, 220);
  assert.equal(shown[1].seq, 219);
  assert.equal(notificationsNewestFirst(s, 3).length, 3);
});

test("the alert history is Rust's list, swapped; the banner shows the latest unacknowledged critical one", () => {
  // Rust dedupes and bounds the list (crates/core store tests, and the
  // bridge test alerts_go_out_as_the_cores_list_once_per_batch).
  const crit = (id, s) => ({ id, severity: 'critical', title: `T${id}`, message: 'm', createdAt: at(s) });
  const list = (...alerts) => ({ type: 'alerts', alerts });
  let s = fresh();
  assert.equal(activeCriticalAlert(s), null);
  const a1 = crit('a-1', 1);
  const a2 = { ...crit('a-2', 2), severity: 'warning' };
  s = applyUpdate(s, list(a1, a2));
  assert.equal(activeCriticalAlert(s).id, 'a-1', 'warnings do not take the banner');
  const same = applyUpdate(s, list({ ...a1 }, { ...a2 }));
  assert.equal(same, s, 'the same list changes nothing (no redraw)');
  assert.equal(applyUpdate(s, { type: 'alerts', alerts: null }), s, 'a malformed list is dropped');
  s = applyUpdate(s, list(a1, a2, crit('a-3', 3)));
  assert.equal(activeCriticalAlert(s).id, 'a-3');
  assert.deepEqual(openCriticalAlerts(s).map((a) => a.id), ['a-3', 'a-1'], 'newest first: "+1 more"');
  s = applyUpdate(s, { type: 'ack-local', ids: ['a-3'] });
  assert.equal(activeCriticalAlert(s).id, 'a-1', 'an older unacknowledged one shows next');
  s = applyUpdate(s, { type: 'ack-local', ids: ['a-1'] });
  assert.equal(activeCriticalAlert(s), null);
  assert.equal(openAlertCount(s), 1, 'the warning is still open');
});

test('acknowledged alerts come from Rust; the local acknowledgement only shows it early', () => {
  const al = (id, severity) => ({ id, severity, title: `T${id}`, message: 'm', createdAt: at(1) });
  let s = fresh({
    alerts: [al('a-1', 'critical'), al('a-2', 'warning'), al('a-3', 'info'), { id: 'a-4', severity: 'bogus' }],
    acknowledgedAlerts: ['a-2'],
  });
  assert.equal(s.alerts[3].severity, 'info', 'an unknown severity is shown as info');
  assert.equal(openAlertCount(s), 3);
  assert.deepEqual(alertsNewestFirst(s).map((a) => a.id), ['a-4', 'a-3', 'a-2', 'a-1']);
  assert.deepEqual(alertsNewestFirst(s, 'warning').map((a) => a.id), ['a-2']);
  assert.equal(applyUpdate(s, { type: 'ack-local', ids: ['nope'] }), s, 'unknown ids change nothing');
  s = applyUpdate(s, { type: 'ack-local', all: true });
  assert.equal(openAlertCount(s), 0);
  // Rust answers with its own set: that is what stays.
  s = applyUpdate(s, { type: 'acknowledged', ids: ['a-1', 'a-2'] });
  assert.deepEqual(s.acknowledgedAlerts, ['a-1', 'a-2']);
  assert.equal(openAlertCount(s), 2);
  assert.equal(applyUpdate(s, { type: 'acknowledged', ids: ['a-1', 'a-2'] }), s);
});

test('notifications filter by severity and search title, body and module, newest first', () => {
  let s = fresh();
  s = applyUpdate(
    s,
    notes([
      notif(1, { title: 'Payroll approved', severity: 'info', module: 'hr' }),
      notif(2, { title: 'Disk almost full', body: 'Volume /data at 91%', severity: 'warning' }),
      notif(3, { title: 'Card payments failing', severity: 'error', module: 'finance' }),
      notif(4, { title: 'disk cleaned', severity: 'info' }),
    ]),
  );
  const ids = (r) => r.items.map((n) => n.seq);
  assert.deepEqual(ids(filterNotifications(s)), [4, 3, 2, 1]);
  assert.deepEqual(ids(filterNotifications(s, { severity: 'warning' })), [2]);
  assert.deepEqual(ids(filterNotifications(s, { query: 'DISK' })), [4, 2], 'case-insensitive');
  assert.deepEqual(ids(filterNotifications(s, { query: '/data' })), [2], 'in the body');
  assert.deepEqual(ids(filterNotifications(s, { query: 'finance' })), [3], 'by module name');
  assert.deepEqual(ids(filterNotifications(s, { severity: 'info', query: 'disk' })), [4]);
  const r = filterNotifications(s, {}, 2);
  assert.deepEqual([ids(r), r.matched], [[4, 3], 4], 'capped, with the full count');
});

test('connection and source messages replace those parts; identical ones change nothing', () => {
  let s = fresh();
  const live = { state: 'live', since: at(0), transport: 'websocket' };
  s = applyUpdate(s, { type: 'connection', state: live });
  assert.equal(s.connection.state, 'live');
  assert.equal(applyUpdate(s, { type: 'connection', state: { ...live } }), s);
  s = applyUpdate(s, { type: 'source', source: { kind: 'server' } });
  assert.equal(s.source.kind, 'server');
});

test('server events stamp lastUpdate with the time given', () => {
  const s = applyUpdate(fresh(), moduleMsg(moduleKpis('hr', { a: 1 }), { a: [1] }), at(42));
  assert.equal(s.lastUpdate, at(42));
  const ignored = applyUpdate(s, { type: 'module', view: null }, at(50));
  assert.equal(ignored.lastUpdate, at(42), 'a dropped event is not "an update"');
});

test('connection:status keeps the server info', () => {
  const s = applyUpdate(fresh(), ev('connection:status', { status: 'connected', serverVersion: '1.2.3', modules: [] }));
  assert.equal(s.serverInfo.serverVersion, '1.2.3');
});

test('resync replaces everything (acknowledged alerts too) but keeps local settings', () => {
  let s = fresh({}, { server: 'http://x', hasToken: false, dnd: 'on', notifyThreshold: 'info', startAtLogin: true });
  s = applyAll(s, [
    notes([notif(1)], { unread: 1 }),
    moduleMsg(moduleKpis('hr', { a: 1 }, 1), { a: [1] }),
    { type: 'alerts', alerts: [{ id: 'a-9', severity: 'critical', title: 't', message: 'm', createdAt: at(1) }] },
    { type: 'ack-local', ids: ['a-9'] },
  ]);
  s = applyUpdate(s, {
    type: 'resync',
    state: snapshot({
      notifications: [notif(4, { read: true }), notif(5)],
      unreadCount: 1,
      lastSeq: 5,
      modules: { finance: { latest: moduleKpis('finance', { revenue: 2 }), history: { revenue: [1, 2] } } },
      connection: { state: 'live', since: at(0), transport: 'polling' },
      source: { kind: 'server' },
    }).state,
  });
  assert.deepEqual(s.notifications.map((n) => n.seq), [4, 5], "Rust's list");
  assert.equal(s.modules.hr, undefined, 'old modules are gone');
  assert.deepEqual(s.modules.finance.history.revenue, [1, 2]);
  assert.equal(unreadCount(s), 1);
  assert.equal(s.connection.state, 'live');
  assert.equal(s.settings.dnd, 'on');
  assert.deepEqual(s.acknowledgedAlerts, [], "Rust's set replaces the local one");
});

test('settings message replaces settings', () => {
  const s = applyUpdate(fresh(), { type: 'settings', settings: { server: 'https://y', hasToken: true } });
  assert.equal(s.settings.server, 'https://y');
});

test('a flood of 10,000 mixed events folds quickly and stays bounded', () => {
  const msgs = [];
  for (let i = 1; i <= 10000; i += 1) {
    if (i % 10 === 0) msgs.push(notes([notif(i)], { keepFrom: Math.max(0, i - 4990), unread: i / 10 }));
    else {
      // Every 100th is a batch's last of the module: Rust's view with it.
      const data = moduleKpis('finance', { revenue: i, expenses: i / 2 }, i);
      const tail = Array.from({ length: 60 }, (_, j) => i - 59 + j);
      msgs.push(moduleMsg(data, i % 100 === 99 ? { revenue: tail, expenses: tail.map((v) => v / 2) } : undefined));
    }
  }
  const t = performance.now();
  const s = applyAll(fresh({ source: { kind: 'server' } }), msgs, at(0));
  const ms = performance.now() - t;
  assert.equal(s.modules.finance.history.revenue.length, 60);
  assert.equal(s.modules.finance.history.revenue.at(-1), 9999);
  assert.equal(s.notifications.length, 500);
  assert.equal(unreadCount(s), 1000);
  assert.equal(s.notifications[0].seq, 5010);
  assert.ok(ms < 2000, `took ${ms.toFixed(0)} ms`);
});
