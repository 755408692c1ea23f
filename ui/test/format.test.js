import './helpers.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  cardDecimals,
  changeOf,
  deltaDirection,
  deltaTone,
  formatClock,
  formatDelta,
  formatRelative,
  formatTime,
  formatValue,
  formatValueFull,
  formatWhen,
  isCompact,
  isStale,
  worstStatus,
} from '../js/state.js';

test('USD values are currency; whole dollars from 1,000 up, cents below', () => {
  assert.equal(formatValue({ value: 1250000, unit: 'USD' }), '$1,250,000');
  assert.equal(formatValue({ value: 48200.4, unit: 'USD' }), '$48,200');
  assert.equal(formatValue({ value: 52.3, unit: 'USD' }), '$52.30');
  assert.equal(formatValue({ value: -1200, unit: 'USD' }), '-$1,200');
});

test('percentages have one decimal', () => {
  assert.equal(formatValue({ value: 33.6, unit: '%' }), '33.6%');
  assert.equal(formatValue({ value: 78, unit: '%' }), '78.0%');
  assert.equal(formatValue({ value: 7.25, unit: '%' }), '7.3%');
  assert.equal(formatValue({ value: -1.84, unit: '%' }), '-1.8%');
});

test('large plain numbers are grouped; other units follow the number', () => {
  assert.equal(formatValue({ value: 15230 }), '15,230');
  assert.equal(formatValue({ value: 1284 }), '1,284');
  assert.equal(formatValue({ value: 3 }), '3');
  assert.equal(formatValue({ value: 1234567.891 }), '1,234,568', 'no decimals from 1,000 up');
  assert.equal(formatValue({ value: 4.2, unit: 's' }), '4.2 s');
  assert.equal(formatValue({ value: 1800, unit: 'ms' }), '1,800 ms');
});

test('missing or non-finite values show a dash, never NaN', () => {
  assert.equal(formatValue({ value: NaN }), '—');
  assert.equal(formatValue({ value: Infinity, unit: '%' }), '—');
  assert.equal(formatValue(undefined), '—');
});

test('delta direction and text', () => {
  assert.equal(deltaDirection(2.4), 'up');
  assert.equal(deltaDirection(-1.2), 'down');
  assert.equal(deltaDirection(0), 'flat');
  assert.equal(deltaDirection(0.04), 'up', 'a small change is still a change');
  assert.equal(deltaDirection(undefined), 'flat');
  assert.equal(formatDelta(2.44), '▲ 2.4%');
  assert.equal(formatDelta(-1.25), '▼ 1.3%');
  assert.equal(formatDelta(0), '– 0%');
  assert.equal(formatDelta(0.0042), '▲ 0.0042%', 'never "0.0%" for a real change');
  assert.equal(formatDelta(-0.04), '▼ 0.040%');
  assert.equal(formatDelta(1234.5), '▲ 1,235%');
  assert.equal(formatDelta(undefined), '');
});

test('long values are drawn compact with the full value kept for the tooltip', () => {
  const big = { value: 98765432110, unit: 'USD' };
  assert.equal(formatValue(big), '$98.8B');
  assert.equal(formatValueFull(big), '$98,765,432,110');
  assert.ok(isCompact(big));
  assert.equal(formatValue({ value: 4321987, unit: 'USD' }), '$4,321,987', 'fits: drawn in full');
  assert.ok(!isCompact({ value: 4321987, unit: 'USD' }));
  assert.equal(formatValue({ value: -123456789012 }), '-123B');
  assert.equal(formatValue({ value: 12345678901, unit: 'ms' }), '12.3B ms');
  for (const v of [1e3, 1e6, 1e9, 1e12, 1e15, -1e15, 123456789.5]) {
    for (const unit of ['USD', '%', 'ms', undefined]) {
      const t = formatValue({ value: v, unit });
      assert.ok(t.length <= 11, `${v} ${unit} drawn as ${t}: at most 11 characters`);
    }
  }
});

test('small non-zero values keep two significant digits, never 0', () => {
  assert.equal(formatValue({ value: 0.000123, unit: 'ms' }), '0.00012 ms');
  assert.equal(formatValue({ value: 0.0042, unit: '%' }), '0.0042%');
  assert.equal(formatValue({ value: 0.004, unit: 'USD' }), '$0.0040');
  assert.equal(formatValue({ value: -0.5 }), '-0.50');
  assert.equal(formatValue({ value: 2e-12 }), '2.0e-12');
  assert.equal(formatValue({ value: 0, unit: 'ms' }), '0 ms');
});

test('a value that is not 100 % is never drawn as 100 %, nor a non-zero one as 0', () => {
  assert.equal(formatValue({ value: 99.95, unit: '%' }), '99.95%', 'the seed Uptime KPI');
  assert.equal(formatValue({ value: 99.999, unit: '%' }), '99.999%');
  assert.equal(formatValue({ value: 100, unit: '%' }), '100%');
  assert.equal(formatValue({ value: -99.95, unit: '%' }), '-99.95%');
  assert.equal(formatValue({ value: 99.94, unit: '%' }), '99.9%', 'rounding away from 100 is fine');
  assert.equal(formatValue({ value: 99.99999999999, unit: '%' }), '99.99999999%', 'cut, not rounded, at the last digit');
  assert.equal(formatValueFull({ value: 99.95, unit: '%' }), '99.95%');
  // Card decimals are a minimum: they never force a value onto 100 or 0.
  assert.equal(formatValue({ value: 99.96, unit: '%' }, 0), '99.96%');
  assert.equal(formatValue({ value: 100, unit: '%' }, 1), '100.0%');
  assert.equal(formatValue({ value: 0.004, unit: 's' }, 1), '0.004 s');
  assert.equal(formatValue({ value: 0.3, unit: 'USD' }, 0), '$0.3');
  const d = cardDecimals([
    { key: 'up', value: 99.95, unit: '%' },
    { key: 'cpu', value: 33.6, unit: '%' },
  ]);
  assert.equal(formatValue({ value: 99.95, unit: '%' }, d.up), '99.95%');
  assert.equal(formatValue({ value: 33.6, unit: '%' }, d.cpu), '33.6%');
  // A change: a fall of 99.96 % is not "down 100 %" (down to zero).
  assert.equal(formatDelta(-99.96), '▼ 99.96%');
  assert.equal(formatDelta(100.4), '▲ 100.4%');
  assert.equal(formatDelta(100), '▲ 100%');
});

test('compact forms carry into the next unit, never "1000K"', () => {
  // 999,960.00 ms is too long for a row: compact rounds up to the next unit.
  assert.equal(formatValue({ value: 999960, unit: 'ms' }, 2), '1M ms');
  assert.equal(formatValue({ value: 999960000, unit: 'USD' }), '$1B');
  assert.equal(formatValue({ value: 999.96e9, unit: 'USD' }), '$1T');
  // Past the last compact unit (T) the exponent form, not "$1000T".
  assert.equal(formatValue({ value: 999.99e12, unit: 'USD' }), '$1E15');
  assert.equal(formatValue({ value: -1e15, unit: 'ms' }), '-1E15 ms');
  for (let v = 1; v < 1e18; v *= 10) {
    for (const x of [v * 0.99996, v * 0.9995, v]) {
      for (const unit of ['USD', '%', 'ms', undefined]) {
        const t = formatValue({ value: x, unit }, 2);
        assert.ok(!/\b1,?000(\.0+)?[KMBT]/.test(t), `${x} ${unit} drawn as ${t}`);
        if (x !== 100 || unit !== '%') assert.ok(!/^-?\$?100(\.0+)?%$/.test(t), `${x} ${unit} drawn as ${t}`);
      }
    }
  }
});

test('decimals are the same for every KPI of a unit within a card', () => {
  const kpis = [
    { key: 'a', value: 4, unit: 's' },
    { key: 'b', value: 4.1, unit: 's' },
    { key: 'c', value: 0.00012, unit: 's' },
    { key: 'd', value: 12, unit: 'people' },
  ];
  const d = cardDecimals(kpis);
  assert.equal(formatValue(kpis[0], d.a), '4.0 s');
  assert.equal(formatValue(kpis[1], d.b), '4.1 s');
  assert.equal(formatValue(kpis[2], d.c), '0.00012 s', 'tiny values keep their own digits');
  assert.equal(formatValue(kpis[3], d.d), '12 people', 'other units are not touched');
});

test('change colours follow the KPI direction: a rise is good only when up is better', () => {
  assert.equal(deltaTone(4, 'down'), 'bad', 'attrition up is bad');
  assert.equal(deltaTone(-0.3, 'down'), 'good', 'expenses down is good');
  assert.equal(deltaTone(4, 'up'), 'good');
  assert.equal(deltaTone(-4, 'up'), 'bad');
  assert.equal(deltaTone(4, undefined), 'neutral', 'no direction: neither');
  assert.equal(deltaTone(0, 'up'), 'neutral');
});

test('a zero delta while the value moved shows the change since the previous update', () => {
  assert.deepEqual(changeOf({ value: 20, delta: 0 }, [11, 20]), { delta: (9 / 11) * 100, basis: 'previous' });
  assert.deepEqual(changeOf({ value: 20, delta: 0 }, [20, 20]), { delta: 0, basis: 'period' });
  assert.deepEqual(changeOf({ value: 20, delta: 5 }, [11, 20]), { delta: 5, basis: 'period' });
  assert.equal(changeOf({ value: 20 }, [11, 20]), null, 'no delta from the server: no chip');
});

test('relative and stale times: "3 min ago", a date when not today', () => {
  process.env.TZ = 'UTC';
  const now = Date.parse('2024-05-01T14:08:00Z');
  assert.equal(formatRelative('2024-05-01T14:07:50Z', now), 'just now');
  assert.equal(formatRelative('2024-05-01T14:05:00Z', now), '3 min ago');
  assert.equal(formatRelative('2024-05-01T11:05:00Z', now), '3 h ago');
  assert.equal(formatRelative('2024-04-29T11:05:00Z', now), 'Apr 29, 11:05');
  assert.equal(formatWhen('2024-05-01T14:05:00Z', now), '14:05');
  assert.equal(formatWhen('2024-04-29T14:05:00Z', now), 'Apr 29, 14:05');
  assert.equal(formatRelative(null, now), '—');
  // Rust decides what is stale (pulseboard_core::view); the page reads it.
  assert.ok(isStale({ text: 'Offline', tone: 'error', stale: true }));
  assert.ok(!isStale({ text: 'Live', tone: 'live', stale: false }));
  assert.ok(!isStale(null));
  assert.ok(!isStale(undefined));
});

test('times are local HH:MM:SS / HH:MM, dash when unknown', () => {
  assert.equal(formatTime('2024-05-01T07:05:09Z'), '07:05:09');
  assert.equal(formatTime('2024-05-01T23:59:59.123456789Z'), '23:59:59', 'chrono nanoseconds parse');
  assert.equal(formatClock('2024-05-01T07:05:09Z'), '07:05');
  assert.equal(formatTime(null), '—');
  assert.equal(formatTime('not a date'), '—');
  process.env.TZ = 'America/New_York';
  try {
    assert.equal(formatTime('2024-05-01T07:05:09Z'), '03:05:09');
  } finally {
    process.env.TZ = 'UTC';
  }
});

test('worst status of a module', () => {
  assert.equal(worstStatus([{ status: 'ok' }, {}]), 'ok');
  assert.equal(worstStatus([{ status: 'ok' }, { status: 'warning' }]), 'warning');
  assert.equal(worstStatus([{ status: 'warning' }, { status: 'critical' }]), 'critical');
});
