import './helpers.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  deltaDirection,
  formatClock,
  formatDelta,
  formatTime,
  formatValue,
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
  assert.equal(formatValue({ value: 1234567.891 }), '1,234,567.89');
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
  assert.equal(deltaDirection(0.04), 'flat');
  assert.equal(deltaDirection(undefined), 'flat');
  assert.equal(formatDelta(2.44), '▲ 2.4%');
  assert.equal(formatDelta(-1.25), '▼ 1.3%');
  assert.equal(formatDelta(0), '– 0.0%');
  assert.equal(formatDelta(undefined), '');
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
