// Static checks that the page stays within the CSP
// (default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:)
// and never turns server text into markup.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const ui = join(dirname(fileURLToPath(import.meta.url)), '..');

function jsFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? jsFiles(join(dir, e.name)) : e.name.endsWith('.js') ? [join(dir, e.name)] : [],
  );
}

test('no script writes HTML (innerHTML, outerHTML, insertAdjacentHTML, document.write, eval)', () => {
  for (const f of jsFiles(join(ui, 'js'))) {
    const src = readFileSync(f, 'utf8');
    for (const bad of ['innerHTML', 'outerHTML', 'insertAdjacentHTML', 'document.write', 'eval(', 'new Function']) {
      assert.ok(!src.includes(bad), `${f} uses ${bad}`);
    }
    assert.ok(!/setAttribute\(\s*['"]style['"]/.test(src), `${f} sets a style attribute`);
    assert.ok(!/setAttribute\(\s*['"]on/i.test(src), `${f} sets an inline handler`);
  }
});

test('index.html has no inline script, inline handler or style attribute, and loads its own files', () => {
  const html = readFileSync(join(ui, 'index.html'), 'utf8');
  assert.ok(!/\sstyle\s*=/.test(html), 'style attribute');
  assert.ok(!/\son[a-z]+\s*=/i.test(html), 'inline event handler');
  assert.ok(!/<style[\s>]/i.test(html), '<style> element');
  for (const m of html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)) {
    assert.match(m[1], /src="js\//, 'script must be an external file');
    assert.equal(m[2].trim(), '', 'script must be empty');
  }
  assert.match(html, /<script type="module" src="js\/main\.js"><\/script>/);
  assert.match(html, /<link rel="stylesheet" href="css\/app\.css"/);
  assert.ok(!/http-equiv/i.test(html));
});

test('index.html carries the stable test ids', () => {
  const html = readFileSync(join(ui, 'index.html'), 'utf8');
  for (const id of ['pill', 'unread-badge', 'dashboard-updated', 'notification-list', 'mark-all-read', 'alert-banner', 'nav-home', 'nav-dashboard', 'nav-notifications', 'nav-settings']) {
    assert.match(html, new RegExp(`data-testid="${id}"`), id);
  }
});

test('index.html preloads every module main.js loads statically (and nothing else)', () => {
  const graph = new Set();
  const visit = (rel) => {
    if (graph.has(rel)) return;
    graph.add(rel);
    const src = readFileSync(join(ui, rel), 'utf8');
    for (const m of src.matchAll(/^import\b[^'"]*['"](\.{1,2}\/[^'"]+)['"]/gm)) {
      visit(join(dirname(rel), m[1]));
    }
  };
  visit('js/main.js');
  graph.delete('js/main.js');
  const html = readFileSync(join(ui, 'index.html'), 'utf8');
  const preloaded = new Set([...html.matchAll(/<link rel="modulepreload" href="([^"]+)"/g)].map((m) => join(m[1])));
  assert.deepEqual([...preloaded].sort(), [...graph].sort());
});
