import './helpers.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pillDetail, pillText, pillTone } from '../js/state.js';
import { T0, at } from './helpers.js';

const server = { kind: 'server' };
const demo = { kind: 'demo' };
const cache = { kind: 'cache', savedAt: '2024-05-01T09:41:30Z' };

test('live says Live', () => {
  const c = { state: 'live', since: at(-60), transport: 'websocket' };
  assert.equal(pillText(c, server, at(-1), T0), 'Live');
  assert.equal(pillTone(c, server), 'live');
  assert.match(pillDetail(c, T0), /WebSocket/);
  assert.match(pillDetail({ ...c, transport: 'polling' }, T0), /long-polling/);
});

test('reconnecting counts down from nextRetryAt and shows the attempt', () => {
  const c = { state: 'reconnecting', attempt: 3, nextRetryAt: at(5), reason: 'connection refused' };
  assert.equal(pillText(c, server, at(-10), T0), 'Reconnecting in 5s, attempt 3');
  assert.equal(pillText(c, server, at(-10), T0 + 1000), 'Reconnecting in 4s, attempt 3');
  assert.equal(pillText(c, server, at(-10), T0 + 4200), 'Reconnecting in 1s, attempt 3', 'rounds up, never shows 0 early');
  assert.equal(pillText(c, server, at(-10), T0 + 9000), 'Reconnecting now, attempt 3', 'never negative');
  assert.equal(pillTone(c, server), 'warn');
  assert.match(pillDetail(c, T0), /connection refused/);
});

test('offline with a cache shows when the cached data is from (local HH:MM)', () => {
  const c = { state: 'offline', since: at(-600), attempt: 9, nextRetryAt: at(30), reason: 'refused' };
  assert.equal(pillText(c, cache, null, T0), 'Offline, cached data from 09:41');
  assert.equal(pillTone(c, cache), 'error');
});

test('offline after live server data uses lastUpdate as the data time', () => {
  const c = { state: 'offline', since: at(-600), attempt: 9, nextRetryAt: at(30), reason: 'refused' };
  assert.equal(pillText(c, server, '2024-05-01T11:58:10Z', T0), 'Offline, cached data from 11:58');
});

test('offline with nothing cached says when it retries', () => {
  const c = { state: 'offline', since: at(-600), attempt: 9, nextRetryAt: at(30), reason: 'refused' };
  assert.equal(pillText(c, server, null, T0), 'Offline, retrying in 30s');
  assert.equal(pillText(c, demo, null, T0 + 10000), 'Demo data · Offline, retrying in 20s');
});

test('demo data is always labelled', () => {
  assert.equal(pillText({ state: 'connecting', server: 'x' }, demo, null, T0), 'Demo data · Connecting…');
  assert.equal(
    pillText({ state: 'reconnecting', attempt: 1, nextRetryAt: at(2), reason: '' }, demo, null, T0),
    'Demo data · Reconnecting in 2s, attempt 1',
  );
  assert.equal(pillText({ state: 'live', since: at(0), transport: 'websocket' }, demo, null, T0), 'Demo data · Live');
  assert.equal(pillTone({ state: 'connecting' }, demo), 'demo');
});

test('unauthorized tells the user to check the token', () => {
  const c = { state: 'unauthorized', message: 'unauthorized' };
  assert.equal(pillText(c, server, null, T0), 'Unauthorized, check the token');
  assert.equal(pillText(c, cache, null, T0), 'Unauthorized, check the token');
  assert.equal(pillTone(c, server), 'error');
});

test('connecting, and anything unknown, says Connecting…', () => {
  assert.equal(pillText({ state: 'connecting', server: 'x' }, server, null, T0), 'Connecting…');
  assert.equal(pillText(undefined, server, null, T0), 'Connecting…');
  assert.equal(pillText({ state: 'weird' }, cache, null, T0), 'Connecting…');
});

test('now may be a Date or an RFC 3339 string too', () => {
  const c = { state: 'reconnecting', attempt: 2, nextRetryAt: at(7), reason: '' };
  assert.equal(pillText(c, server, null, new Date(T0)), 'Reconnecting in 7s, attempt 2');
  assert.equal(pillText(c, server, null, at(0)), 'Reconnecting in 7s, attempt 2');
});

test('local time follows the time zone (HH:MM from savedAt)', () => {
  const c = { state: 'offline', since: at(-600), attempt: 9, nextRetryAt: at(30), reason: '' };
  process.env.TZ = 'Asia/Kolkata'; // UTC+05:30
  try {
    assert.equal(pillText(c, cache, null, T0), 'Offline, cached data from 15:11');
  } finally {
    process.env.TZ = 'UTC';
  }
});

test('certificate says the certificate is not trusted and leads to the settings', () => {
  const c = {
    state: 'certificate',
    message: "the server's certificate could not be verified: invalid peer certificate: UnknownIssuer",
  };
  assert.equal(pillText(c, server, null, T0), 'Certificate not trusted, check the settings');
  assert.equal(pillText(c, demo, null, T0), 'Demo data · Certificate not trusted, check the settings');
  assert.equal(pillTone(c, server), 'error');
  const d = pillDetail(c, T0);
  assert.match(d, /UnknownIssuer/, 'the core\'s reason is shown');
  assert.match(d, /certificate authority/);
  assert.match(pillDetail({ state: 'certificate' }, T0), /could not be verified/);
});

test('every connection state the core names has its own pill wording', async () => {
  const { readFileSync } = await import('node:fs');
  const src = readFileSync(new URL('../../crates/core/src/store.rs', import.meta.url), 'utf8');
  const names = [...src.matchAll(/ConnectionState::\w+ \{ \.\. \} => "(\w+)"/g)].map((m) => m[1]);
  assert.ok(names.includes('certificate') && names.length >= 6, `${names}`);
  const connecting = pillText({ state: 'connecting' }, server, null, T0);
  for (const state of names.filter((n) => n !== 'connecting')) {
    assert.notEqual(pillText({ state }, server, null, T0), connecting, `${state} has no wording`);
    assert.notEqual(pillDetail({ state }, T0), '', `${state} has no detail`);
  }
});
