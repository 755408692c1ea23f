// What the app ships: src-tauri embeds `build.frontendDist` of tauri.conf.json.
// The browser preview (mock backend, demo JSON) and the test/benchmark hooks
// must not be part of what the window people use carries or runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const ui = join(root, 'ui');

function files(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)],
  );
}

test('the embedded frontend holds no browser-preview code or data', () => {
  const conf = JSON.parse(readFileSync(join(root, 'tauri.conf.json'), 'utf8'));
  const dist = resolve(root, 'src-tauri', conf.build.frontendDist);
  assert.equal(dist, ui, 'the app embeds ui/');
  const shipped = files(dist).filter((f) => !f.startsWith(join(ui, 'test')) && !f.includes('node_modules'));
  assert.ok(shipped.some((f) => f.endsWith('main.js')), 'walked the frontend');
  for (const f of shipped) {
    assert.ok(!/(^|\/)(mock\.js|seed\.json)$/.test(f), `${f} is preview-only`);
    if (/\.(js|html|json)$/.test(f)) {
      assert.ok(!/function createMockBackend/.test(readFileSync(f, 'utf8')), `${f} carries the mock backend`);
    }
  }
});

test('main.js sets no test or benchmark globals and loads the hooks only on demand', () => {
  const main = readFileSync(join(ui, 'js', 'main.js'), 'utf8');
  assert.ok(!/__pulseboard\w*\s*=[^=]/.test(main), 'main.js assigns a __pulseboard* global');
  assert.ok(!/^import\b[^;]*hooks\.js/m.test(main), 'hooks.js imported statically');
  assert.match(main, /import\('\.\/hooks\.js'\)/);
  const html = readFileSync(join(ui, 'index.html'), 'utf8');
  assert.ok(!html.includes('hooks.js'), 'index.html loads hooks.js');
});
