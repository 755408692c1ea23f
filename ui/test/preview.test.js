// The browser preview's mock backend (preview/mock.js, outside ui/) serves the
// demo data generated from the seed table (preview/seed.json).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const seedUrl = new URL('../../preview/seed.json', import.meta.url);
const SEED = JSON.parse(readFileSync(seedUrl, 'utf8'));

// A browser without the shell, with timers driven by the test.
const ticks = [];
globalThis.window = { location: { search: '?mock=live' } };
globalThis.setInterval = (f) => ticks.push(f);
globalThis.setTimeout = (f) => {
  f();
  return 0;
};
globalThis.fetch = async (url) => ({ ok: true, json: async () => JSON.parse(readFileSync(fileURLToPath(url), 'utf8')) });
const { createMockBackend } = await import('../../preview/mock.js');

const shared = (state) => {
  const out = [];
  const d = state.dashboard;
  for (const tile of [...d.summary, ...d.topKpis]) {
    for (const view of Object.values(state.modules)) {
      const k = view.latest.kpis.find((x) => x.key === tile.key);
      if (k) out.push([tile.key, tile.value, k.value]);
    }
  }
  return out;
};

test('the preview serves the seed table and keeps one value per KPI', async () => {
  const b = createMockBackend();
  const { state } = await b.invoke('get_state');
  assert.deepEqual(Object.keys(state.modules), Object.keys(SEED.modules));
  for (const [m, kpis] of Object.entries(SEED.modules)) {
    const got = state.modules[m].latest.kpis;
    assert.deepEqual(
      got.map((k) => [k.key, k.label, k.value, k.unit, k.status, k.better, k.thresholds]),
      kpis.map((k) => [k.key, k.label, k.value, k.unit, k.status, k.better, k.thresholds]),
      m,
    );
  }
  assert.equal(state.dashboard.summary.length, 6);
  assert.equal(state.dashboard.topKpis.length, 4);
  assert.ok(shared(state).length > 0, 'the dashboard shows module KPIs');
  let moved = false;
  for (let i = 0; i < 40; i += 1) {
    for (const f of ticks) f();
    const { state: s } = await b.invoke('get_state');
    for (const [key, onDashboard, inModule] of shared(s)) assert.equal(onDashboard, inModule, key);
    moved ||= JSON.stringify(shared(s)) !== JSON.stringify(shared(state));
  }
  assert.ok(moved, 'the values moved');
});

// The fields of the Rust command's answer (`HistoryView` in
// src-tauri/src/commands.rs, its points `HistoryPoint` in
// crates/protocol/src/history.rs), camelCase on the wire.
function rustFields(struct, file = 'src-tauri/src/commands.rs') {
  const src = readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8');
  const body = src.split(`pub struct ${struct} {`)[1].split('\n}')[0];
  return [...body.matchAll(/^\s*pub (\w+):/gm)].map((m) => m[1].replace(/_(\w)/g, (_, c) => c.toUpperCase())).sort();
}

const inMode = (mode) => {
  globalThis.window.location.search = `?mock=${mode}`;
  try {
    return createMockBackend();
  } finally {
    globalThis.window.location.search = '?mock=live';
  }
};

test('the preview answers kpi_history like the Rust command: the server history while live', async () => {
  const b = inMode('live');
  const { state } = await b.invoke('get_state');
  const fields = rustFields('HistoryView');
  const pointFields = rustFields('HistoryPoint', 'crates/protocol/src/history.rs');
  const sizes = { '1h': 180, '24h': 288, '7d': 336 };
  for (const [m, view] of Object.entries(state.modules)) {
    for (const k of view.latest.kpis) {
      for (const [range, n] of Object.entries(sizes)) {
        const h = await b.invoke('kpi_history', { module: m, key: k.key, range });
        assert.deepEqual(Object.keys(h).sort(), fields, 'the same fields as HistoryView');
        assert.equal(h.source, 'server');
        assert.equal(h.range, range);
        assert.equal(h.caption, `From the server, ${{ '1h': '1 h', '24h': '24 h', '7d': '7 d' }[range]}`);
        assert.equal(h.points.length, n, `${m}/${k.key} ${range}: one point per bucket`);
        assert.deepEqual(h.thresholds, k.thresholds ?? null);
        assert.equal(h.truncated, false);
        const from = Date.parse(h.from);
        const to = Date.parse(h.to);
        assert.ok(to - from > 0);
        let last = -Infinity;
        for (const p of h.points) {
          assert.ok(Object.keys(p).every((f) => pointFields.includes(f)), Object.keys(p).join());
          const at = Date.parse(p.at);
          assert.ok(at > last && at >= from - 1800e3 && at <= to, `${m}/${k.key} ${range}: ${p.at} in order, in range`);
          last = at;
          assert.ok(Number.isFinite(p.value) && p.min <= p.value && p.value <= p.max, JSON.stringify(p));
        }
        assert.equal(h.points.at(-1).value, k.value, 'the history ends at the value shown');
      }
    }
  }
  const again = await b.invoke('kpi_history', { module: 'finance', key: 'revenue', range: '24h' });
  const first = await inMode('live').invoke('kpi_history', { module: 'finance', key: 'revenue', range: '24h' });
  assert.deepEqual(
    again.points.map((p) => p.value),
    first.points.map((p) => p.value),
    'stable for screenshots',
  );
  const none = await b.invoke('kpi_history', { module: 'finance', key: 'no_such_kpi', range: '1h' });
  assert.deepEqual([none.source, none.points, none.caption], ['server', [], 'From the server, 1 h: no values in this range']);
});

test('the preview answers kpi_history offline with what the window saw, and refuses bad input', async () => {
  const b = inMode('offline');
  const { state } = await b.invoke('get_state');
  const [m, view] = Object.entries(state.modules)[0];
  const k = view.latest.kpis[0];
  const h = await b.invoke('kpi_history', { module: m, key: k.key, range: '7d' });
  assert.deepEqual(Object.keys(h).sort(), rustFields('HistoryView'));
  assert.equal(h.source, 'local');
  assert.match(h.caption, /^Offline: what this app saw since \d\d:\d\d$/);
  assert.deepEqual(
    h.points.map((p) => p.value),
    view.history[k.key],
  );
  assert.ok(h.points.every((p, i) => i === 0 || Date.parse(p.at) > Date.parse(h.points[i - 1].at)));
  const refused = await inMode('unauthorized').invoke('kpi_history', { module: m, key: k.key, range: '1h' });
  assert.match(refused.caption, /^The server refused the token: /);

  await assert.rejects(b.invoke('kpi_history', { module: 'nope', key: k.key, range: '1h' }), /unknown module `nope`/);
  await assert.rejects(b.invoke('kpi_history', { module: m, key: k.key, range: '2h' }), /unknown range `2h`, expected one of 1h, 24h, 7d/);
  await assert.rejects(b.invoke('kpi_history', { module: m, key: '', range: '1h' }), /not a KPI key/);
  await assert.rejects(b.invoke('kpi_history', { module: m, key: 'k'.repeat(65), range: '1h' }), /not a KPI key/);
});
