// The idle window wakes only when something on screen will change: the clock
// timer's look-ahead (clock.js), the views' clock texts, and no periodic
// timer or endless animation anywhere in the page people use.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { T0, at, moduleKpis } from './helpers.js';
import { CLOCK_HORIZON_MS, CLOCK_STEP_MS, nextClockChange } from '../js/clock.js';
import { formatRelative } from '../js/state.js';
import { homeClock } from '../js/views/home.js';
import { dashboardClock } from '../js/views/dashboard.js';
import { alertsClock } from '../js/views/alerts.js';

const ui = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Home state with `module` updated at `at(secs)`. */
function home(secs) {
  return { modules: { finance: { latest: moduleKpis('finance', { a: 1 }, secs), history: {} } } };
}

test('"just now" turns into "1 min ago" when the timer fires, not 30 s early or late', () => {
  const shown = (t) => formatRelative(at(0), t);
  const now = T0 + 10_000;
  const dt = nextClockChange(shown, now);
  assert.equal(shown(now), 'just now');
  assert.notEqual(shown(now + dt), 'just now', 'changed when the timer fires');
  assert.equal(shown(now + dt - CLOCK_STEP_MS - 1), 'just now', 'and not long before');
  assert.ok(dt > 30_000 && dt < 36_000, `${dt}`);
});

test('minutes move on once a minute; hours once an hour', () => {
  const s = home(0);
  const dt = nextClockChange((t) => homeClock(s, t), T0 + 5 * 60_000);
  assert.ok(dt >= 20_000 && dt <= 61_000, `${dt}`);
  const late = nextClockChange((t) => homeClock(s, t), T0 + 3 * 3600_000 + 60_000);
  assert.ok(late > 30 * 60_000, `hours: ${late}`);
});

test('nothing shown: no timer at all', () => {
  assert.equal(nextClockChange((t) => homeClock({ modules: {} }, t), T0), null);
  assert.equal(nextClockChange((t) => dashboardClock({ dashboard: null }, t), T0), null);
  assert.equal(nextClockChange((t) => alertsClock({ alerts: [] }, t), T0), null);
});

test('a text that never changes waits for the horizon, not a short period', () => {
  assert.equal(nextClockChange(() => 'same', T0), CLOCK_HORIZON_MS);
});

test('midnight turns a time into a date', () => {
  // 23:59:40 UTC (the tests pin TZ=UTC), an update two hours before.
  const now = Date.parse('2024-05-01T23:59:40Z');
  const s = { dashboard: { updatedAt: '2024-05-01T22:00:00Z' } };
  const dt = nextClockChange((t) => dashboardClock(s, t), now);
  assert.ok(dt > 19_000 && dt <= 21_000, `${dt}`);
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
