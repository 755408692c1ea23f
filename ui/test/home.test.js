// The overview's cards (views/home.js) touch the DOM only where something
// visible changed: an update of one module writes nothing to the other cards,
// and a redraw with nothing new writes nothing at all. Every write is a
// restyle and repaint in WebKit (BENCHMARKS.md section 3).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { T0, at, moduleKpis, snapshot } from './helpers.js';

/** Every write to the fake DOM, as the element written to; `what` says what was written. */
let writes = [];
let what = [];
const write = (node, w) => {
  writes.push(node);
  what.push(w);
};

class FakeText {
  constructor(text) {
    this.parent = null;
    this.nodeType = 3;
    this._data = String(text);
  }
  get data() {
    return this._data;
  }
  set data(v) {
    this._data = String(v);
    write(this.parent, '#text');
  }
  get textContent() {
    return this._data;
  }
  remove() {
    if (this.parent) this.parent.kids.splice(this.parent.kids.indexOf(this), 1);
    this.parent = null;
  }
}

/** Just enough of an element for home.js and dom.js; every setter is a write. */
class FakeEl {
  constructor(tag) {
    this.tagName = tag.toUpperCase();
    this.nodeType = 1;
    this.parent = null;
    this.kids = [];
    this.attrs = new Map();
    this.props = {};
    this.dataset = new Proxy(
      {},
      {
        set: (o, k, v) => {
          o[k] = String(v);
          write(this, `data-${k}`);
          return true;
        },
      },
    );
    const el = this;
    this.classList = {
      contains: (c) => el.className.split(' ').includes(c),
      toggle: (c, on) => {
        const rest = el.className.split(' ').filter((x) => x && x !== c);
        el.className = (on ? [...rest, c] : rest).join(' ');
      },
    };
    const styles = new Map();
    this.style = {
      getPropertyValue: (name) => styles.get(name) ?? '',
      setProperty: (name, v) => {
        styles.set(name, String(v));
        write(this, name);
      },
    };
  }
  prop(name) {
    return this.props[name] ?? '';
  }
  setProp(name, v) {
    this.props[name] = v;
    write(this, name);
  }
  get className() {
    return this.prop('className');
  }
  set className(v) {
    this.setProp('className', String(v));
  }
  get id() {
    return this.prop('id');
  }
  set id(v) {
    this.setProp('id', String(v));
  }
  get title() {
    return this.prop('title');
  }
  set title(v) {
    this.setProp('title', String(v));
  }
  get dateTime() {
    return this.prop('dateTime');
  }
  set dateTime(v) {
    this.setProp('dateTime', String(v));
  }
  get tabIndex() {
    return this.props.tabIndex ?? -1;
  }
  set tabIndex(v) {
    this.setProp('tabIndex', v);
  }
  get textContent() {
    return this.kids.map((k) => k.textContent).join('');
  }
  set textContent(v) {
    for (const k of this.kids) k.parent = null;
    this.kids = [];
    if (String(v) !== '') this.adopt(new FakeText(v));
    write(this, 'textContent');
  }
  get firstChild() {
    return this.kids[0] ?? null;
  }
  get lastChild() {
    return this.kids[this.kids.length - 1] ?? null;
  }
  get children() {
    return this.kids.filter((k) => k.nodeType === 1);
  }
  get lastElementChild() {
    const c = this.children;
    return c[c.length - 1] ?? null;
  }
  adopt(node, at = this.kids.length) {
    if (node.parent) node.remove();
    node.parent = this;
    this.kids.splice(at, 0, node);
  }
  append(...nodes) {
    for (const n of nodes) this.adopt(typeof n === 'string' ? new FakeText(n) : n);
    write(this, 'append');
  }
  appendChild(n) {
    this.append(n);
    return n;
  }
  replaceChildren(...nodes) {
    for (const k of this.kids) k.parent = null;
    this.kids = [];
    this.append(...nodes);
  }
  insertBefore(n, ref) {
    this.adopt(n, ref === null ? this.kids.length : this.kids.indexOf(ref));
    write(this, 'insertBefore');
    return n;
  }
  remove() {
    const p = this.parent;
    if (!p) return;
    p.kids.splice(p.kids.indexOf(this), 1);
    this.parent = null;
    write(p, 'remove');
  }
  setAttribute(k, v) {
    if (k === 'class') this.setProp('className', String(v));
    else {
      this.attrs.set(k, String(v));
      write(this, k);
    }
  }
  getAttribute(k) {
    if (k === 'class') return this.className || null;
    return this.attrs.has(k) ? this.attrs.get(k) : null;
  }
  hasAttribute(k) {
    return this.attrs.has(k);
  }
  removeAttribute(k) {
    this.attrs.delete(k);
    write(this, `-${k}`);
  }
  getBoundingClientRect() {
    // A forced layout in a browser: recorded in the write log's `what`.
    write(this, 'layout');
    return { left: 0, top: 0, right: 0, bottom: 0, width: 0, height: 0 };
  }
}

globalThis.document = {
  createTextNode: (text) => new FakeText(text),
  createElement: (tag) => new FakeEl(tag),
  createElementNS: (_ns, tag) => new FakeEl(tag),
};

const { renderHome, tickHome } = await import('../js/views/home.js');
const { applyAll, initialState } = await import('../js/state.js');

/** The module card (`data-module`) a node is in, or '(outside)'. */
function cardOf(node) {
  for (let n = node; n; n = n.parent) if (n.dataset && n.dataset.module) return n.dataset.module;
  return '(outside)';
}

function fourModules() {
  const modules = {};
  for (const [m, k] of [
    ['finance', 'revenue'],
    ['reports', 'published'],
    ['hr', 'headcount'],
    ['security', 'incidents'],
  ]) {
    modules[m] = { latest: moduleKpis(m, { [k]: 100, [`${k}_b`]: 7.5 }, 0), history: { [k]: [90, 95, 100] } };
  }
  return initialState(snapshot({ modules, connection: { state: 'live', server: 'http://x' } }));
}

test('an update of one module writes only to its card', () => {
  const root = new FakeEl('div');
  const s0 = fourModules();
  renderHome(root, s0, null, T0 + 2000);
  assert.equal(root.children.length, 4, 'four cards drawn');

  const latest = moduleKpis('finance', { revenue: 120, revenue_b: 7.5 }, 1);
  const s1 = applyAll(s0, [{ type: 'module', data: latest, view: { latest, history: { revenue: [120] }, full: false, keep: 60 } }], at(1));
  writes = [];
  renderHome(root, s1, s0, T0 + 2000);
  // The grid itself says whether one card or several change at once (app.css).
  const cards = new Set(writes.filter((n) => n !== root).map(cardOf));
  assert.ok(writes.length > 0, 'the finance card was redrawn');
  assert.deepEqual([...cards], ['finance'], `writes outside the finance card: ${[...cards]}`);
});

test('a redraw with nothing new in the cards writes nothing', () => {
  const root = new FakeEl('div');
  const s0 = fourModules();
  renderHome(root, s0, null, T0 + 2000);
  // Something outside the cards changed (the page's state is a new object).
  const s1 = { ...s0, unreadCount: 3 };
  writes = [];
  renderHome(root, s1, s0, T0 + 2000);
  assert.deepEqual(writes.map(cardOf), [], 'nothing written');
  // A card redrawn with the same data (e.g. after it went stale and back) writes nothing either.
  writes = [];
  renderHome(root, s0, { ...s0, modules: {} }, T0 + 2000);
  assert.deepEqual(
    writes.map((n) => `${cardOf(n)} ${n.tagName} ${n.className}`),
    [],
    'the same data redrawn writes nothing',
  );
});

test('a card is as tall as its rows: --rows follows the KPIs it draws', () => {
  const root = new FakeEl('div');
  const s0 = fourModules();
  renderHome(root, s0, null, T0 + 2000);
  const card = (m) => root.children.find((c) => c.dataset.module === m);
  assert.equal(card('finance').style.getPropertyValue('--rows'), '2', 'two KPIs, two rows');
  const kpis = Object.fromEntries([...Array(8).keys()].map((i) => [`k${i}`, i]));
  const latest = moduleKpis('hr', kpis, 1);
  const s1 = applyAll(s0, [{ type: 'module', data: latest, view: { latest, history: {}, full: true, keep: 60 } }], at(1));
  renderHome(root, s1, s0, T0 + 2000);
  assert.equal(card('hr').style.getPropertyValue('--rows'), '8', 'eight KPIs, eight rows');
  assert.equal(card('finance').style.getPropertyValue('--rows'), '2', 'the other cards keep theirs');
});

test('the grid is marked while several cards change at once, and not while one does', () => {
  const root = new FakeEl('div');
  const s0 = fourModules();
  renderHome(root, s0, null, T0 + 2000);
  assert.ok(root.classList.contains('many'), 'the first draw changes all four');
  const latest = moduleKpis('finance', { revenue: 120, revenue_b: 7.5 }, 1);
  const s1 = applyAll(s0, [{ type: 'module', data: latest, view: { latest, history: { revenue: [120] }, full: false, keep: 60 } }], at(1));
  renderHome(root, s1, s0, T0 + 2000);
  assert.ok(!root.classList.contains('many'), 'one card changed');
  renderHome(root, { ...s1, unreadCount: 2 }, s1, T0 + 2000);
  assert.ok(!root.classList.contains('many'), 'nothing changed: as it was');
});

test('a new value is drawn in place: text nodes keep, only what changed is written', () => {
  const root = new FakeEl('div');
  const s0 = fourModules();
  renderHome(root, s0, null, T0 + 2000);
  const card = root.children.find((c) => c.dataset.module === 'finance');
  const [row, other] = card.children[1].children;
  const [label, , value, delta] = row.children;
  const valueText = value.firstChild;
  const nameText = label.children[1].firstChild;
  const deltaText = delta.firstChild;
  const latest = moduleKpis('finance', { revenue: 120, revenue_b: 7.5 }, 1);
  latest.kpis[0].delta = 20;
  const s1 = applyAll(s0, [{ type: 'module', data: latest, view: { latest, history: { revenue: [120] }, full: false, keep: 60 } }], at(1));
  writes = [];
  what = [];
  renderHome(root, s1, s0, T0 + 2000);
  assert.equal(value.firstChild, valueText, 'the value keeps its text node');
  assert.equal(valueText.data, '120.0', 'and shows the new value');
  assert.equal(label.children[1].firstChild, nameText, 'the name keeps its text node');
  assert.equal(delta.firstChild, deltaText, 'the change keeps its text node');
  assert.equal(deltaText.data, '▲ 20.0%', 'and shows the new change');
  // No node added, replaced or removed: texts change as data, the rest as attributes.
  const structural = what.filter((w) => ['textContent', 'append', 'insertBefore', 'remove'].includes(w));
  assert.deepEqual(structural, [], 'no node replaced');
  // The unchanged KPI's row is not written at all; nor are the unchanged parts of the changed one.
  const inOther = writes.filter((n) => {
    for (let p = n; p; p = p.parent) if (p === other) return true;
    return false;
  });
  assert.deepEqual(inOther, [], 'the unchanged row is not written');
  const written = new Set(writes);
  for (const [n, name] of [
    [label.children[0], 'status dot'],
    [label.children[1], 'name'],
    [label.children[2], 'status words'],
  ]) {
    assert.ok(!written.has(n), `${name} not written`);
  }
  assert.ok(written.has(value) && written.has(delta), 'value and change written');
});

test('a clock tick moves each card\'s "min ago" on and lays its footer out before the next', () => {
  const root = new FakeEl('div');
  const s0 = fourModules();
  renderHome(root, s0, null, T0 + 2000);
  const ago = (m) => root.children.find((c) => c.dataset.module === m).children[2].children[1];
  assert.equal(ago('finance').textContent, ' · just now');
  writes = [];
  what = [];
  tickHome(root, s0, T0 + 2 * 60 * 1000);
  for (const m of ['reports', 'finance', 'hr', 'security']) assert.equal(ago(m).textContent, ' · 2 min ago', m);
  // Only the four texts change, and each card's footer (its own layout root,
  // app.css) is laid out before the next card's text changes: four roots
  // waiting at once make WebKit lay out and repaint the whole column.
  const log = writes.map((n, i) => `${cardOf(n)} ${what[i]}`);
  assert.deepEqual(
    log,
    ['reports', 'finance', 'hr', 'security'].flatMap((m) => [`${m} #text`, `${m} layout`]),
  );
  // Nothing changed on screen: no write, no forced layout.
  writes = [];
  tickHome(root, s0, T0 + 2 * 60 * 1000 + 1000);
  assert.deepEqual(writes, [], 'the same texts: nothing done');
});
