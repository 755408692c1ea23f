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

test('the start-up snapshot is drawn before anything is awaited (the hooks, IPC)', () => {
  // The first frame with KPIs (the `pulseboard:kpi-paint` mark the start-up
  // benchmark reads) must not wait for a module fetch or an IPC answer.
  const main = readFileSync(join(ui, 'js', 'main.js'), 'utf8');
  const start = main.slice(main.indexOf('async function start()'));
  const body = start.slice(0, start.indexOf('\n}\n'));
  const boot = body.indexOf('adoptSnapshot(boot)');
  assert.ok(boot > 0, 'start() draws the boot snapshot');
  const firstAwait = body.indexOf('await ');
  assert.ok(firstAwait > boot, 'start() awaits something before drawing the boot snapshot');
  assert.match(main, /performance\.mark\('pulseboard:kpi-paint'\)/, 'main.js marks the first painted KPI');
});

test('the page names no font families beyond the system ones (each is a fontconfig walk at first paint)', () => {
  // Every named family in a stack is looked up per font (weight, size) the
  // page uses; missing ones cost ~80 ms of the first painted KPIs on a
  // machine without them (BENCHMARKS.md section 3).
  const allowed = new Set(['system-ui', 'sans-serif', 'ui-monospace', 'monospace', 'inherit', 'var(--font)', 'var(--mono)']);
  for (const f of ['app.css', 'setup.css']) {
    const css = readFileSync(join(ui, 'css', f), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '');
    const stacks = [...css.matchAll(/(?:font-family|--font|--mono)\s*:\s*([^;]+);/g)].map((m) => m[1]);
    assert.ok(f !== 'app.css' || stacks.length >= 2, 'found the font stacks');
    for (const stack of stacks) {
      for (const family of stack.split(',').map((x) => x.trim())) {
        assert.ok(allowed.has(family), `${f}: font family ${family} in "${stack.trim()}"`);
      }
    }
  }
});

test('the main column is a layout root: a changed number repaints its card, not the column', () => {
  // Without size containment on .main, any text change inside lays out up to
  // .app's grid, which lays .main out again and repaints all of it (the whole
  // column, 972x800 px, per KPI update on WebKitGTK's software path; with it,
  // the changed card: BENCHMARKS.md section 3). Layout containment alone
  // (which the cards have) does not make a layout root in WebKit.
  const css = readFileSync(join(ui, 'css', 'app.css'), 'utf8');
  const rule = css.match(/^\.main \{([^}]*)\}/m);
  assert.ok(rule, 'app.css has a `.main { ... }` rule');
  assert.match(rule[1], /contain:\s*strict;/, '.main is not `contain: strict`');
});

test('each module card is a layout root: a KPI update lays out its own card, not the grid of four', () => {
  // A change inside a grid item lays the item out again; without size
  // containment on the card that walks up to .module-grid and every card is
  // laid out and the changed one repainted whole (BENCHMARKS.md section 3).
  const css = readFileSync(join(ui, 'css', 'app.css'), 'utf8');
  const rule = css.match(/^\.module-grid:not\(\.many\) \.module-card:not\(:focus-within\) \{([^}]*)\}/m);
  assert.ok(rule, 'app.css has a `.module-grid:not(.many) .module-card:not(:focus-within) { ... }` rule');
  assert.match(rule[1], /contain:\s*strict;/, 'the module card is not `contain: strict`');
  assert.match(rule[1], /height:\s*calc\([^;]*var\(--rows/, 'the card height does not follow --rows');
});

test('updates are drawn from a task, not an animation frame (which holds the DOM back up to a frame)', () => {
  // requestAnimationFrame's callback runs at the next display frame: the DOM
  // held each update up to 16.7 ms longer (emit -> DOM p99 at 1000 events/s
  // 33 ms with it, 20 ms without: BENCHMARKS.md section 3).
  const main = readFileSync(join(ui, 'js', 'main.js'), 'utf8');
  const start = main.indexOf('function schedule()');
  assert.ok(start > 0, 'main.js has schedule()');
  const body = main.slice(start, main.indexOf('\n}\n', start));
  assert.match(body, /setTimeout\(onRender/, 'schedule() does not draw from a timer task');
  assert.ok(!/requestAnimationFrame/.test(body), 'schedule() waits for an animation frame');
});
