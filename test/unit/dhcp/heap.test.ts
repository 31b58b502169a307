/** The pool's min-heap: pushes, and a heap built at once from arrays (the pool's rebuild), give keys in order. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MinHeap } from '../../../src/dhcp/heap.ts';
import { seededRandom } from '../../lib/random.ts';

const drain = (h: MinHeap): [number, number][] => {
  const out: [number, number][] = [];
  while (h.size) {
    const key = h.peekKey();
    out.push([key, h.pop() as number]);
  }
  return out;
};

test('built from arrays or pushed one by one: the same keys come out in order, each with its value', () => {
  const rnd = seededRandom(7);
  for (const n of [0, 1, 2, 3, 10, 1000]) {
    // Repeated keys too: lease ends often share a millisecond.
    const keys = Array.from({ length: n }, () => Math.floor(rnd() * 50));
    const values = keys.map((_, i) => i);
    const pushed = new MinHeap();
    for (let i = 0; i < n; i++) pushed.push(keys[i] as number, values[i] as number);
    const built = drain(new MinHeap([...keys], [...values]));
    const sorted = keys.map((k, i) => [k, i] as [number, number]).sort((a, b) => a[0] - b[0]);
    assert.deepEqual(
      built.map(([k]) => k),
      sorted.map(([k]) => k),
      `n=${n}: keys in order`,
    );
    for (const [k, v] of built) assert.equal(keys[v], k, `n=${n}: value ${v} kept with its key`);
    assert.deepEqual(
      drain(pushed).map(([k]) => k),
      sorted.map(([k]) => k),
    );
    assert.equal(new MinHeap().peekKey(), Number.POSITIVE_INFINITY);
  }
});
