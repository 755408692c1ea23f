// reconcile(): keyed, in-place list updates (the KPI rows and dashboard tiles).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { reconcile } from '../js/dom.js';

/** Just enough of an element for reconcile: children, insertBefore, remove. */
class FakeNode {
  constructor(name) {
    this.name = name;
    this.parent = null;
    this.kids = [];
  }
  get children() {
    return this.kids;
  }
  get lastElementChild() {
    return this.kids[this.kids.length - 1] ?? null;
  }
  insertBefore(node, ref) {
    if (node.parent) node.remove();
    const i = ref === null ? this.kids.length : this.kids.indexOf(ref);
    assert.ok(i >= 0, 'reference node is a child');
    this.kids.splice(i, 0, node);
    node.parent = this;
    return node;
  }
  remove() {
    if (!this.parent) return;
    this.parent.kids.splice(this.parent.kids.indexOf(this), 1);
    this.parent = null;
  }
}

function setup() {
  const parent = new FakeNode('list');
  const cache = new Map();
  const made = [];
  const make = (item) => {
    const node = new FakeNode(item.key);
    const entry = { node, value: null, ctx: null, update(it, ctx) { entry.value = it.v; entry.ctx = ctx; } };
    made.push(item.key);
    return entry;
  };
  const run = (items, ctx) => reconcile(parent, cache, items, (i) => i.key, make, ctx);
  const names = () => parent.children.map((n) => n.name);
  return { parent, cache, made, run, names };
}

test('builds one node per item, in order, and updates them with the context', () => {
  const t = setup();
  t.run([{ key: 'a', v: 1 }, { key: 'b', v: 2 }], 'ctx1');
  assert.deepEqual(t.names(), ['a', 'b']);
  assert.equal(t.cache.get('b').value, 2);
  assert.equal(t.cache.get('b').ctx, 'ctx1');
});

test('an update reuses the same nodes instead of rebuilding them', () => {
  const t = setup();
  t.run([{ key: 'a', v: 1 }, { key: 'b', v: 2 }]);
  const a = t.parent.children[0];
  t.run([{ key: 'a', v: 10 }, { key: 'b', v: 20 }], 'ctx2');
  assert.equal(t.parent.children[0], a);
  assert.deepEqual(t.made, ['a', 'b'], 'nothing built twice');
  assert.equal(t.cache.get('a').value, 10);
  assert.equal(t.cache.get('a').ctx, 'ctx2');
});

test('reorders, adds and removes by key; removed keys leave the cache', () => {
  const t = setup();
  t.run([{ key: 'a' }, { key: 'b' }, { key: 'c' }]);
  t.run([{ key: 'c' }, { key: 'd' }, { key: 'a' }]);
  assert.deepEqual(t.names(), ['c', 'd', 'a']);
  assert.deepEqual([...t.cache.keys()].sort(), ['a', 'c', 'd']);
  t.run([]);
  assert.deepEqual(t.names(), []);
  assert.equal(t.cache.size, 0);
});

test('a placeholder child is replaced and a repeated key is shown once', () => {
  const t = setup();
  t.parent.insertBefore(new FakeNode('No data yet'), null);
  t.run([{ key: 'a', v: 1 }, { key: 'a', v: 2 }, { key: 'b' }]);
  assert.deepEqual(t.names(), ['a', 'b']);
  assert.equal(t.cache.get('a').value, 1, 'the first of a repeated key wins');
});
