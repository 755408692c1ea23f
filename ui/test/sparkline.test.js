import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sparkline } from '../js/sparkline.js';

test('no data: empty path, viewBox still set', () => {
  const g = sparkline([]);
  assert.equal(g.viewBox, '0 0 100 28');
  assert.equal(g.d, '');
  assert.equal(g.last, null);
  assert.equal(sparkline(undefined).d, '');
});

test('one point draws a flat line across the middle', () => {
  const g = sparkline([42], { width: 100, height: 20 });
  assert.equal(g.d, 'M0,10 L100,10');
  assert.equal(g.area, '', 'no fill under a single point');
});

test('a flat series is a horizontal line in the middle, not NaN', () => {
  const g = sparkline([5, 5, 5], { width: 100, height: 20 });
  assert.equal(g.d, 'M0,10 L50,10 L100,10');
  assert.ok(!g.d.includes('NaN'));
  assert.equal(g.area, '', 'no fill under a flat line');
});

test('rising values go up (smaller y), spanning the padded height and full width', () => {
  const g = sparkline([0, 5, 10], { width: 100, height: 24, pad: 2 });
  assert.deepEqual(g.points, [
    [0, 22],
    [50, 12],
    [100, 2],
  ]);
  assert.equal(g.d, 'M0,22 L50,12 L100,2');
  assert.deepEqual(g.last, [100, 2]);
  assert.equal(g.area, 'M0,22 L50,12 L100,2 L100,24 L0,24 Z');
});

test('falling values go down; the lowest value touches the bottom pad', () => {
  const g = sparkline([10, 0], { width: 10, height: 10, pad: 1 });
  assert.deepEqual(g.points, [
    [0, 1],
    [10, 9],
  ]);
});

test('non-finite values are skipped', () => {
  const g = sparkline([1, NaN, 3, Infinity], { width: 10, height: 10, pad: 0 });
  assert.equal(g.points.length, 2);
  assert.equal(g.d, 'M0,10 L10,0');
});

test('60 points stay inside the viewBox', () => {
  const values = Array.from({ length: 60 }, (_, i) => Math.sin(i / 5) * 1000);
  const g = sparkline(values, { width: 120, height: 28 });
  assert.equal(g.points.length, 60);
  for (const [x, y] of g.points) {
    assert.ok(x >= 0 && x <= 120, `x ${x}`);
    assert.ok(y >= 0 && y <= 28, `y ${y}`);
  }
});
