import './helpers.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  HISTORY_LEN,
  MAX_NOTIFICATIONS,
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
  assert.equal(s.lastSeq, 2);
  assert.equal(s.settings.hasToken, true);
});

test('initial history longer than 60 points is trimmed to the newest 60', () => {
  const long = Array.from({ length: 100 }, (_, i) => i);
  const s = fresh({ modules: { hr: { latest: moduleKpis('hr', { headcount: 99 }), history: { headcount: long } } } });
  assert.equal(s.modules.hr.history.headcount.length, HISTORY_LEN);
  assert.equal(s.modules.hr.history.headcount[0], 40);
  assert.equal(s.modules.hr.history.headcount.at(-1), 99);
});

test('kpi:update replaces the module KPIs and appends to history, other modules untouched', () => {
  const s0 = fresh({ modules: { hr: { latest: moduleKpis('hr', { headcount: 1 }), history: { headcount: [1] } } } });
  const s1 = applyUpdate(s0, ev('kpi:update:finance', moduleKpis('finance', { revenue: 10, expenses: 4 }, 1)));
  assert.notEqual(s1, s0, 'a new state object');
  assert.equal(s0.modules.finance, undefined, 'the input is not mutated');
  assert.equal(s1.modules.hr, s0.modules.hr, 'an untouched module keeps its reference (not re-rendered)');
  assert.deepEqual(s1.modules.finance.history.revenue, [10]);
  const s2 = applyUpdate(s1, ev('kpi:update:finance', moduleKpis('finance', { revenue: 12, expenses: 5 }, 2)));
  assert.deepEqual(s2.modules.finance.history.revenue, [10, 12]);
  assert.equal(s2.modules.finance.latest.kpis[0].value, 12);
});

test('history per KPI is bounded to 60 points, newest kept', () => {
  let s = fresh();
  for (let i = 0; i < HISTORY_LEN + 25; i += 1) {
    s = applyUpdate(s, ev('kpi:update:security', moduleKpis('security', { threats: i }, i + 1)));
  }
  const h = s.modules.security.history.threats;
  assert.equal(h.length, HISTORY_LEN);
  assert.equal(h[0], 25);
  assert.equal(h.at(-1), HISTORY_LEN + 24);
});

test('a KPI that disappears loses its history', () => {
  let s = applyUpdate(fresh(), ev('kpi:update:hr', moduleKpis('hr', { a: 1, b: 2 }, 1)));
  s = applyUpdate(s, ev('kpi:update:hr', moduleKpis('hr', { a: 3 }, 2)));
  assert.deepEqual(Object.keys(s.modules.hr.history), ['a']);
});

test('once data comes from the server, repeated or older KPI updates are ignored', () => {
  let s = fresh({ source: { kind: 'server' } });
  s = applyUpdate(s, ev('kpi:update:hr', moduleKpis('hr', { a: 1 }, 10)));
  const same = applyUpdate(s, ev('kpi:update:hr', moduleKpis('hr', { a: 99 }, 10)));
  assert.equal(same, s, 'same timestamp: a repeat');
  const older = applyUpdate(s, ev('kpi:update:hr', moduleKpis('hr', { a: 99 }, 5)));
  assert.equal(older, s);
  assert.deepEqual(s.modules.hr.history.a, [1]);
});

test('the very same KPI update twice adds one history point, even before server data', () => {
  const u = ev('kpi:update:hr', moduleKpis('hr', { a: 7 }, 3));
  const s1 = applyUpdate(fresh(), u);
  assert.equal(applyUpdate(s1, u), s1);
  assert.deepEqual(s1.modules.hr.history.a, [7]);
});

test('a kpi event whose name and payload disagree, or with an unknown module, is dropped', () => {
  const s = fresh();
  assert.equal(applyUpdate(s, ev('kpi:update:hr', moduleKpis('finance', { a: 1 }))), s);
  assert.equal(applyUpdate(s, ev('kpi:update:sales', { ...moduleKpis('hr', { a: 1 }), module: 'sales' })), s);
  assert.equal(applyUpdate(s, ev('kpi:update:hr', null)), s);
  assert.equal(applyUpdate(s, ev('no:such:event', {})), s);
  assert.equal(applyUpdate(s, null), s);
  assert.equal(applyUpdate(s, { type: 'bogus' }), s);
});

test('dashboard:update replaces the dashboard and keeps a bounded history for its KPIs', () => {
  let s = fresh();
  s = applyUpdate(s, ev('dashboard:update', dashboard(1, 1)));
  assert.equal(s.dashboard.summary.length, 6);
  assert.equal(s.dashboard.topKpis.length, 4);
  for (let i = 2; i < 80; i += 1) s = applyUpdate(s, ev('dashboard:update', dashboard(i, i)));
  assert.equal(s.dashboard.summary[0].value, 79);
  assert.equal(s.dashboardHistory.a.length, HISTORY_LEN);
  assert.equal(s.dashboardHistory.a.at(-1), 79);
});

test('a KPI update leaves the dashboard reference alone (only the module re-renders)', () => {
  const s0 = applyUpdate(fresh(), ev('dashboard:update', dashboard(1)));
  const s1 = applyUpdate(s0, ev('kpi:update:hr', moduleKpis('hr', { a: 1 }, 2)));
  assert.equal(s1.dashboard, s0.dashboard);
  assert.equal(s1.notifications, s0.notifications);
});

test('notification:new dedupes by seq and by id, keeps seq order and counts unread', () => {
  let s = fresh();
  s = applyUpdate(s, ev('notification:new', notif(2)));
  s = applyUpdate(s, ev('notification:new', notif(1)));
  const before = s;
  s = applyUpdate(s, ev('notification:new', notif(2)));
  assert.equal(s, before, 'same seq: ignored');
  s = applyUpdate(s, ev('notification:new', { ...notif(7), id: 'n-1' }));
  assert.equal(s, before, 'same id: ignored');
  assert.deepEqual(s.notifications.map((n) => n.seq), [1, 2]);
  assert.equal(unreadCount(s), 2);
  assert.equal(s.lastSeq, 2);
  s = applyUpdate(s, ev('notification:new', notif(3, { read: true })));
  assert.equal(unreadCount(s), 2, 'an already-read notification does not raise the count');
});

test('the notification list is newest first and capped for rendering; the store caps at 500', () => {
  let s = fresh();
  for (let i = 1; i <= MAX_NOTIFICATIONS + 20; i += 1) s = applyUpdate(s, ev('notification:new', notif(i)));
  assert.equal(s.notifications.length, MAX_NOTIFICATIONS);
  assert.equal(s.notifications[0].seq, 21);
  const shown = notificationsNewestFirst(s);
  assert.equal(shown.length, 200);
  assert.equal(shown[0].seq, MAX_NOTIFICATIONS + 20);
  assert.equal(shown[1].seq, MAX_NOTIFICATIONS + 19);
  assert.equal(notificationsNewestFirst(s, 3).length, 3);
  // a pruned one coming back by catch-up is not re-added
  const pruned = applyUpdate(s, ev('notification:new', notif(5)));
  assert.equal(pruned, s);
});

test('notification:read marks ids read and takes the server unread count', () => {
  let s = applyAll(fresh(), [1, 2, 3].map((i) => ev('notification:new', notif(i))));
  s = applyUpdate(s, ev('notification:read', { ids: ['n-1', 'n-3'], unreadCount: 1 }));
  assert.deepEqual(s.notifications.map((n) => n.read), [true, false, true]);
  assert.equal(unreadCount(s), 1);
});

test('unread message sets the badge count', () => {
  const s = applyUpdate(fresh(), { type: 'unread', count: 12 });
  assert.equal(unreadCount(s), 12);
  assert.equal(applyUpdate(s, { type: 'unread', count: -1 }), s);
});

test('local mark read is optimistic: one item, then all', () => {
  let s = applyAll(fresh(), [1, 2, 3].map((i) => ev('notification:new', notif(i))));
  s = applyUpdate(s, { type: 'mark-read-local', ids: ['n-2'] });
  assert.equal(s.notifications[1].read, true);
  assert.equal(s.notifications[0].read, false);
  assert.equal(unreadCount(s), 2);
  const again = applyUpdate(s, { type: 'mark-read-local', ids: ['n-2'] });
  assert.equal(again, s, 'marking a read item again changes nothing');
  s = applyUpdate(s, { type: 'mark-read-local', all: true });
  assert.equal(unreadCount(s), 0);
  assert.ok(s.notifications.every((n) => n.read));
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
  s = applyAll(s, [
    ev('notification:new', notif(1, { title: 'Payroll approved', severity: 'info', module: 'hr' })),
    ev('notification:new', notif(2, { title: 'Disk almost full', body: 'Volume /data at 91%', severity: 'warning' })),
    ev('notification:new', notif(3, { title: 'Card payments failing', severity: 'error', module: 'finance' })),
    ev('notification:new', notif(4, { title: 'disk cleaned', severity: 'info' })),
  ]);
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
  const s = applyUpdate(fresh(), ev('kpi:update:hr', moduleKpis('hr', { a: 1 })), at(42));
  assert.equal(s.lastUpdate, at(42));
  const ignored = applyUpdate(s, ev('kpi:update:hr', null), at(50));
  assert.equal(ignored.lastUpdate, at(42), 'a dropped event is not "an update"');
});

test('connection:status keeps the server info', () => {
  const s = applyUpdate(fresh(), ev('connection:status', { status: 'connected', serverVersion: '1.2.3', modules: [] }));
  assert.equal(s.serverInfo.serverVersion, '1.2.3');
});

test('resync replaces everything (acknowledged alerts too) but keeps local settings', () => {
  let s = fresh({}, { server: 'http://x', hasToken: false, dnd: 'on', notifyThreshold: 'info', startAtLogin: true });
  s = applyAll(s, [
    ev('notification:new', notif(1)),
    ev('kpi:update:hr', moduleKpis('hr', { a: 1 }, 1)),
    { type: 'alerts', alerts: [{ id: 'a-9', severity: 'critical', title: 't', message: 'm', createdAt: at(1) }] },
    { type: 'ack-local', ids: ['a-9'] },
  ]);
  s = applyUpdate(s, {
    type: 'resync',
    state: snapshot({
      notifications: [notif(5), notif(4, { read: true })],
      unreadCount: 1,
      lastSeq: 5,
      modules: { finance: { latest: moduleKpis('finance', { revenue: 2 }), history: { revenue: [1, 2] } } },
      connection: { state: 'live', since: at(0), transport: 'polling' },
      source: { kind: 'server' },
    }).state,
  });
  assert.deepEqual(s.notifications.map((n) => n.seq), [4, 5], 'sorted by seq');
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
    if (i % 10 === 0) msgs.push(ev('notification:new', notif(i)));
    else msgs.push(ev('kpi:update:finance', moduleKpis('finance', { revenue: i, expenses: i / 2 }, i)));
  }
  const t = performance.now();
  const s = applyAll(fresh({ source: { kind: 'server' } }), msgs, at(0));
  const ms = performance.now() - t;
  assert.equal(s.modules.finance.history.revenue.length, HISTORY_LEN);
  assert.equal(s.modules.finance.history.revenue.at(-1), 9999);
  assert.equal(s.notifications.length, 500);
  assert.equal(unreadCount(s), 1000);
  assert.ok(ms < 2000, `took ${ms.toFixed(0)} ms`);
});

test('server data replaces demo values whatever their time, and no demo point stays in a sparkline', () => {
  // Demo data is stamped when the app starts; the server's stored KPIs are older.
  let s = fresh({
    modules: {
      finance: { latest: moduleKpis('finance', { revenue: 1250000 }, 100), history: { revenue: [1200000, 1250000] }, demo: true },
    },
    dashboard: dashboard(100, 412),
    dashboardDemo: true,
  });
  // The shell sends the source change first, then the module snapshots.
  s = applyAll(s, [
    { type: 'source', source: { kind: 'server' } },
    ev('kpi:update:finance', moduleKpis('finance', { revenue: 4321 }, 5)),
    ev('dashboard:update', dashboard(5, 7)),
  ]);
  assert.equal(s.modules.finance.latest.kpis[0].value, 4321, 'the server value is shown');
  assert.deepEqual(s.modules.finance.history.revenue, [4321], 'no demo point in the history');
  assert.equal(s.dashboard.summary[0].value, 7);
  assert.deepEqual(s.dashboardHistory.a, [7]);
  // From then on the usual rules hold: older server data is a repeat.
  const older = applyUpdate(s, ev('kpi:update:finance', moduleKpis('finance', { revenue: 1 }, 4)));
  assert.equal(older, s);
});

test('a resync (sent on every return to Live) keeps the dashboard history, unless it was demo', () => {
  let s = fresh({ source: { kind: 'server' } });
  s = applyAll(s, [ev('dashboard:update', dashboard(1, 1)), ev('dashboard:update', dashboard(2, 2))]);
  assert.deepEqual(s.dashboardHistory.a, [1, 2]);
  const same = applyUpdate(s, { type: 'resync', state: { ...snapshot().state, source: { kind: 'server' }, dashboard: dashboard(2, 2) } });
  assert.deepEqual(same.dashboardHistory.a, [1, 2], 'same dashboard: history kept');
  const newer = applyUpdate(s, { type: 'resync', state: { ...snapshot().state, source: { kind: 'server' }, dashboard: dashboard(3, 5) } });
  assert.deepEqual(newer.dashboardHistory.a, [1, 2, 5], 'a newer dashboard is appended');
  const demo = fresh({ dashboard: dashboard(9, 412), dashboardDemo: true });
  const real = applyUpdate(demo, { type: 'resync', state: { ...snapshot().state, source: { kind: 'server' }, dashboard: dashboard(3, 7) } });
  assert.deepEqual(real.dashboardHistory.a, [7], 'no demo point kept');
});
