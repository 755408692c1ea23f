// The idle window wakes only when something on screen will change: the clock
// timer's look-ahead (clock.js), the views' clock texts, and no periodic
// timer or endless animation anywhere in the page people use.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { T0, at, moduleKpis } from './helpers.js';
import { CLOCK_HORIZON_MS, clockTexts, nextClockChange } from '../js/clock.js';
import { formatRelative } from '../js/state.js';
import { homeTimes } from '../js/views/home.js';
import { dashboardTimes } from '../js/views/dashboard.js';
import { alertsTimes } from '../js/views/alerts.js';

const ui = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Home state with `module` updated at `at(secs)`. */
function home(secs) {
  return { modules: { finance: { latest: moduleKpis('finance', { a: 1 }, secs), history: {} } } };
}

test('"just now" turns into "1 min ago" when the timer fires, not before', () => {
  const now = T0 + 10_000;
  const dt = nextClockChange([at(0)], now);
  assert.equal(formatRelative(at(0), now), 'just now');
  assert.notEqual(formatRelative(at(0), now + dt), 'just now', 'changed when the timer fires');
  assert.equal(formatRelative(at(0), now + dt - 1), 'just now', 'and not a millisecond before');
  assert.equal(dt, 34_500);
});

test('minutes move on once a minute; hours once an hour', () => {
  const times = homeTimes(home(0));
  const dt = nextClockChange(times, T0 + 5 * 60_000);
  assert.ok(dt >= 20_000 && dt <= 61_000, `${dt}`);
  const late = nextClockChange(times, T0 + 3 * 3600_000 + 60_000);
  assert.ok(late > 30 * 60_000, `hours: ${late}`);
});

test('several times: the timer is set for the first of them to change', () => {
  // "just now" for both; the one 30 s older turns into "1 min ago" first.
  const times = [at(0), at(-30), at(0)];
  const dt = nextClockChange(times, T0 + 10_000);
  assert.equal(dt, 4_500);
  assert.notEqual(clockTexts(times, T0 + 10_000 + dt), clockTexts(times, T0 + 10_000));
  assert.equal(clockTexts(times, T0 + 10_000 + dt - 1), clockTexts(times, T0 + 10_000));
});

test('nothing shown: no timer at all', () => {
  assert.equal(nextClockChange(homeTimes({ modules: {} }), T0), null);
  assert.equal(nextClockChange(dashboardTimes({ dashboard: null }), T0), null);
  assert.equal(nextClockChange(alertsTimes({ alerts: [] }), T0), null);
});

test('a text that never changes waits for the horizon, not a short period', () => {
  // A time of last week is drawn as its date: it stays so.
  assert.equal(nextClockChange([at(-7 * 86400)], T0), CLOCK_HORIZON_MS);
  assert.equal(nextClockChange(['not a time'], T0), CLOCK_HORIZON_MS);
});

test('midnight turns a time into a date', () => {
  // 23:59:40 UTC (the tests pin TZ=UTC), an update two hours before.
  const now = Date.parse('2024-05-01T23:59:40Z');
  const dt = nextClockChange(dashboardTimes({ dashboard: { updatedAt: '2024-05-01T22:00:00Z' } }), now);
  assert.equal(dt, 20_000);
});

/**
 * Second by second over the first day of a time shown (and around a
 * midnight, and a time of yesterday): the timer is set for exactly the
 * moment the texts next change, as the formatters draw them.
 */
test('the timer is set for the very moment the texts change, as the formatters say', () => {
  const cases = [
    [T0, T0 - 5000, 26 * 3600],
    [Date.parse('2024-05-01T23:20:00Z'), Date.parse('2024-05-01T23:00:00Z'), 3 * 3600],
    [Date.parse('2024-05-02T00:10:00Z'), Date.parse('2024-05-01T23:50:00Z'), 3 * 3600],
  ];
  let checked = 0;
  for (const [t, start, secs] of cases) {
    let now = start;
    const end = start + secs * 1000;
    while (now < end) {
      const dt = nextClockChange([t], now);
      const before = clockTexts([t], now);
      if (dt < CLOCK_HORIZON_MS) {
        assert.notEqual(clockTexts([t], now + dt), before, `changed at now + ${dt} (t ${t}, now ${now})`);
      }
      // Unchanged at every second until then (and the millisecond before).
      for (let s = 1000; s < dt && now + s < end; s += 1000) {
        assert.equal(clockTexts([t], now + s), before, `changed ${s} ms after ${now}, before the timer (${dt})`);
      }
      assert.equal(clockTexts([t], now + dt - 1), before);
      checked += 1;
      now += dt;
    }
  }
  assert.ok(checked > 40, `${checked} changes followed`);
});

/** The page people use: ui/ without the tests and the test/benchmark hooks. */
function shipped(ext) {
  const walk = (d) =>
    readdirSync(d, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? (e.name === 'test' || e.name === 'node_modules' ? [] : walk(join(d, e.name))) : [join(d, e.name)],
    );
  return walk(ui).filter((f) => f.endsWith(ext) && !f.endsWith('hooks.js'));
}

test('the page starts no periodic timer (setInterval): each wake-up is for a change', () => {
  const files = shipped('.js');
  assert.ok(files.some((f) => f.endsWith('main.js')));
  for (const f of files) {
    const code = readFileSync(f, 'utf8').replace(/\/\/.*$/gm, '');
    assert.ok(!/\bsetInterval\s*\(/.test(code), `${f} starts a periodic timer`);
  }
});

test('endless CSS animations run only while something is pending (connecting, retrying)', () => {
  for (const f of shipped('.css')) {
    const css = readFileSync(f, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '');
    for (const m of css.matchAll(/([^{}]+)\{([^{}]*)\}/g)) {
      const [, selector, body] = m;
      if (!/animation[^;]*\binfinite\b|animation-iteration-count\s*:\s*infinite/.test(body)) continue;
      for (const sel of selector.split(',')) {
        assert.match(sel.trim(), /\.pill-(warn|neutral)\b/, `${f}: ${sel.trim()} animates forever`);
      }
    }
  }
});
