// appendLinked(): web links in server text become links; everything else stays text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendLinked } from '../js/dom.js';

/** Just enough of the DOM for appendLinked: elements with text, and strings. */
class FakeEl {
  constructor(tag) {
    this.tag = tag;
    this.parts = [];
    this.dataset = {};
    this.className = '';
    this.href = '';
    this.rel = '';
    this.textContent = '';
  }
  append(...xs) {
    this.parts.push(...xs);
  }
}
globalThis.document = { createElement: (tag) => new FakeEl(tag) };

const parts = (text) =>
  appendLinked(new FakeEl('p'), text).parts.map((p) => (typeof p === 'string' ? p : { link: p.dataset.link, text: p.textContent, href: p.href }));

test('a web link becomes a link; the full stop after it does not', () => {
  assert.deepEqual(parts('See https://status.example.com/i/42. Thanks'), [
    'See ',
    { link: 'https://status.example.com/i/42', text: 'https://status.example.com/i/42', href: 'https://status.example.com/i/42' },
    '. Thanks',
  ]);
});

test('only http and https are links; other schemes and markup stay text', () => {
  assert.deepEqual(parts('file:///etc/passwd javascript:alert(1) <a href="x">'), [
    'file:///etc/passwd javascript:alert(1) <a href="x">',
  ]);
  assert.deepEqual(parts('(http://a.example/x), https://'), [
    '(',
    { link: 'http://a.example/x', text: 'http://a.example/x', href: 'http://a.example/x' },
    '), https://',
  ]);
  assert.deepEqual(parts(''), []);
  assert.deepEqual(parts(undefined), []);
});
