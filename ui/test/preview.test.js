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
