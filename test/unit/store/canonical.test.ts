import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonical } from '../../../src/store/canonical.ts';

/** The definition canonical() must equal: JSON.stringify with a replacer that sorts every object's keys. */
function reference(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
        )
      : v,
  );
}

/** A small deterministic PRNG, so a failure names a reproducible seed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const KEYS = [
  'a',
  'B',
  'b',
  '_',
  'ä',
  'z1',
  'z10',
  'z2',
  '',
  'quote"d',
  'line\nbreak',
  '10',
  '9',
  '01',
  '4294967294',
  '4294967295',
  '\u{1f600}',
  'é',
];
const LEAVES: unknown[] = [
  0,
  -0,
  1.5,
  -3e21,
  1e-7,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  '',
  'text',
  'with "quotes" and \\ and \n',
  '\u2028',
  '\ud800',
  true,
  false,
  null,
  undefined,
  () => 1,
  Symbol('s'),
  new Date(Date.UTC(2026, 11, 3, 18, 0, 0)),
];

function generate(next: () => number, depth: number): unknown {
  const r = next();
  if (depth > 3 || r < 0.4) return LEAVES[Math.floor(next() * LEAVES.length)];
  if (r < 0.6) return Array.from({ length: Math.floor(next() * 4) }, () => generate(next, depth + 1));
  const o: Record<string, unknown> = {};
  for (let i = Math.floor(next() * 6); i > 0; i--)
    o[KEYS[Math.floor(next() * KEYS.length)]!] = generate(next, depth + 1);
  return o;
}

describe('canonical', () => {
  it('equals JSON.stringify with sorted keys on 5,000 generated values', () => {
    for (let seed = 1; seed <= 5000; seed++) {
      const value = generate(rng(seed), 0);
      assert.equal(canonical(value), reference(value), `seed ${seed}`);
    }
  });

  it('sorts keys at every depth and leaves arrays in order', () => {
    assert.equal(
      canonical({ b: 1, a: { d: [3, { y: 1, x: 2 }], c: undefined } }),
      '{"a":{"d":[3,{"x":2,"y":1}]},"b":1}',
    );
  });

  it('keeps what JSON.stringify keeps at the top level', () => {
    for (const v of [undefined, null, 'x', 1, [undefined], new Date(0)]) assert.equal(canonical(v), reference(v));
  });
});
