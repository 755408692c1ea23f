// The pill draws Rust's connection view (pulseboard_core::view, where the
// words, tones and countdowns are decided and tested): the page only keeps
// the latest one.
import './helpers.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyAll, applyUpdate, initialState, isStale } from '../js/state.js';
import { at, snapshot } from './helpers.js';

const view = (text, extra = {}) => ({ text, tone: 'warn', detail: 'Next try in 5s', stale: false, counting: true, ...extra });

test('the first view comes with get_state; without one the page has none', () => {
  assert.equal(initialState(snapshot()).connectionView, null);
  const s = initialState({ ...snapshot(), connectionView: view('Reconnecting in 5s, attempt 3') });
  assert.equal(s.connectionView.text, 'Reconnecting in 5s, attempt 3');
  assert.equal(s.connectionView.detail, 'Next try in 5s');
});

test('each connection-view message replaces the words; the same words change nothing', () => {
  let s = initialState({ ...snapshot(), connectionView: view('Reconnecting in 5s, attempt 3') });
  s = applyAll(s, [
    { type: 'connection-view', view: view('Reconnecting in 4s, attempt 3') },
    { type: 'connection-view', view: view('Reconnecting in 3s, attempt 3') },
  ]);
  assert.equal(s.connectionView.text, 'Reconnecting in 3s, attempt 3', 'the newest wins');
  assert.equal(applyUpdate(s, { type: 'connection-view', view: view('Reconnecting in 3s, attempt 3') }), s);
  const offline = applyUpdate(s, {
    type: 'connection-view',
    view: view('Offline since 09:50, cached data from 09:41', { tone: 'error', stale: true }),
  });
  assert.equal(offline.connectionView.tone, 'error');
  assert.ok(isStale(offline.connectionView));
});

test('a malformed view is dropped, the last good one stays', () => {
  const s = initialState({ ...snapshot(), connectionView: view('Live', { tone: 'live' }) });
  for (const bad of [null, 'Live', { text: 3, tone: 'live' }, { text: 'x', tone: 'purple' }, { tone: 'live' }]) {
    assert.equal(applyUpdate(s, { type: 'connection-view', view: bad }), s, JSON.stringify(bad));
  }
});

test('a resync keeps the words until Rust sends new ones', () => {
  let s = initialState({ ...snapshot(), connectionView: view('Live', { tone: 'live' }) });
  s = applyUpdate(s, {
    type: 'resync',
    state: snapshot({ connection: { state: 'live', since: at(0), transport: 'websocket' } }).state,
  });
  assert.equal(s.connectionView.text, 'Live');
  s = applyUpdate(s, {
    type: 'resync',
    state: snapshot({ connection: { state: 'live', since: at(0), transport: 'websocket' } }).state,
    view: view('Demo data · Live', { tone: 'demo' }),
  });
  assert.equal(s.connectionView.text, 'Demo data · Live', 'or takes the ones it carries');
});
