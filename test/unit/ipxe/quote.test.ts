/**
 * text() returns most values untouched without splitting them; that shortcut must answer exactly as the full rule
 * (split on iPXE's whitespace, drop empty words, defuse terminators and comments, join by one space; refuse line
 * breaks and NUL), compared here on generated strings made of the characters the rule looks at.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { text } from '../../../src/ipxe/quote.ts';

/** The rule as written before the shortcut. */
function reference(value: string): string {
  if (/[\r\n\0]/.test(value)) return 'refused';
  return value
    .split(/[ \t\n\v\f\r]+/)
    .filter((w) => w !== '')
    .map((w) => {
      if (w === '&&' || w === '||' || w === ';') return `${w.slice(0, 1)}\${}${w.slice(1)}`;
      return w.startsWith('#') ? `\${}${w}` : w;
    })
    .join(' ');
}

function actual(value: string): string {
  try {
    return text('field', value);
  } catch (err) {
    assert.equal((err as { code?: string }).code, 'SCRIPT_VALUE');
    return 'refused';
  }
}

const ALPHABET = ['a', 'b', ' ', ' ', '\t', '\n', '\r', '\v', '\f', '\0', '#', '&', '|', ';', '=', '$', '{', '}'];

describe('text', () => {
  it('answers as the full rule on 50,000 generated values', () => {
    let seed = 12345;
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed;
    };
    let untouched = 0;
    for (let n = 0; n < 50_000; n++) {
      let v = '';
      for (let len = next() % 9; len > 0; len--) v += ALPHABET[next() % ALPHABET.length];
      const want = reference(v);
      assert.equal(actual(v), want, JSON.stringify(v));
      if (want === v) untouched++;
    }
    // The generator reaches both sides of the shortcut.
    assert.ok(untouched > 1000 && untouched < 49_000, `${untouched} untouched`);
  });

  it('keeps the usual values as they are and defuses what iPXE would read', () => {
    const cmdline = 'initrd=initrd.gz auto=true hostname=m0 url=http://x/a.cfg';
    assert.equal(text('cmdline', cmdline), cmdline);
    assert.equal(text('cmdline', 'a && b'), 'a &${}& b');
    assert.equal(text('cmdline', 'a ;'), 'a ;${}');
    assert.equal(text('cmdline', '#x y'), '${}#x y');
    assert.equal(text('cmdline', 'a&&b a;b a#b'), 'a&&b a;b a#b');
    assert.equal(text('cmdline', ' a\t b '), 'a b');
    assert.throws(() => text('cmdline', 'a\nb'), { code: 'SCRIPT_VALUE' });
  });
});
