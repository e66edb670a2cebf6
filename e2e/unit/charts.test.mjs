import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ticks, scale, extent } from '../../api/web/assets/js/lib/charts.js';

test('ticks are round numbers that cover the range', () => {
  assert.deepEqual(ticks(0, 8, 4), [0, 2, 4, 6, 8]);
  assert.deepEqual(ticks(0, 1, 4), [0, 0.25, 0.5, 0.75, 1]);
  assert.deepEqual(ticks(0, 70, 4), [0, 20, 40, 60, 80]);
  assert.deepEqual(ticks(0, 100, 5), [0, 20, 40, 60, 80, 100]);
  const t = ticks(59.7, 95, 5);
  assert.ok(t[0] <= 59.7 && t[t.length - 1] >= 95, String(t));
  // An empty range (one value) still gets an axis above it.
  const flat = ticks(3, 3);
  assert.equal(flat[0], 3);
  assert.ok(flat[flat.length - 1] >= 4, String(flat));
});

test('counts get whole-number ticks', () => {
  assert.deepEqual(ticks(0, 1, 4, { integer: true }), [0, 1]);
  assert.deepEqual(ticks(0, 3, 4, { integer: true }), [0, 1, 2, 3]);
  assert.deepEqual(ticks(0, 70, 4, { integer: true }), [0, 20, 40, 60, 80]);
});

test('scales map the domain onto the range, upside down for a y axis', () => {
  const y = scale([0, 10], [200, 0]);
  assert.equal(y(0), 200);
  assert.equal(y(10), 0);
  assert.equal(y(5), 100);
  assert.equal(scale([1, 1], [0, 50])(1), 0);
});

test('the height of a stacked chart is its tallest stack', () => {
  const series = [{ values: [1, 5, 2] }, { values: [4, 0, 2] }];
  assert.equal(extent(series, true), 5);
  assert.equal(extent(series, false), 5);
  assert.equal(extent([{ values: [1, 2] }, { values: [2, 2] }], true), 4);
  assert.equal(extent([], true), 0);
});
