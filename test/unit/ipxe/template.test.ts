/**
 * renderTemplate renders plain `{{name}}` templates by concatenation and hands everything else to handlebars. Both
 * must answer exactly as handlebars did with every variable quoted: compared here on generated templates.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Handlebars from 'handlebars';
import { text } from '../../../src/ipxe/quote.ts';
import { renderTemplate, templateNames } from '../../../src/ipxe/scripts.ts';

/** The renderer before the fast path: every variable quoted, then handlebars (strict, no escaping, `uri`). */
const reference = Handlebars.create();
reference.registerHelper('uri', (v: unknown) => encodeURIComponent(String(v ?? '').replaceAll('${}', '')));
function referenceRender(template: string, vars: Record<string, string>): string {
  const safe = Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, text(`variable ${k}`, v)]));
  try {
    return reference.compile(template, { strict: true, noEscape: true })(safe);
  } catch (err) {
    return `error: ${(err as Error).message.split('\n')[0]?.replace(' in [object Object]', '')}`;
  }
}
function render(template: string, vars: Record<string, string>): string {
  try {
    return renderTemplate(template, vars);
  } catch (err) {
    return `error: ${(err as Error).message.replace(/^template: /, '')}`;
  }
}

/** A small deterministic generator (xorshift), so a failure names a reproducible case. */
function rng(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

const VARS = {
  mac: '52:54:00:12:34:56',
  hostname: 'web-01',
  label_rack: 'r 12 && reboot',
  url: 'http://x/?a=1&b=2',
  e: '',
};
const PIECES = [
  'kernel ',
  ' ',
  'a=b ',
  '{',
  '}',
  '}}',
  '$',
  '${net0/mac}',
  '#',
  '&&',
  '\n',
  '{{mac}}',
  '{{ hostname }}',
  '{{label_rack}}',
  '{{e}}',
  '{{url}}',
  '{{uri url}}',
  '{{{mac}}}',
  '{{~mac}}',
  '{{missing}}',
  '{{this}}',
  '{{true}}',
  '\\{{mac}}',
  '{{!c}}',
  '{{#if e}}y{{else}}n{{/if}}',
  '{{',
  '{{constructor}}',
  '{{toString}}',
];

describe('iPXE templates: the fast path answers as handlebars', () => {
  it('on 5,000 generated templates (output or error alike)', () => {
    const next = rng(0x5eed);
    let plain = 0;
    for (let i = 0; i < 5000; i++) {
      const n = 1 + Math.floor(next() * 6);
      const t = Array.from({ length: n }, () => PIECES[Math.floor(next() * PIECES.length)]!).join('');
      assert.equal(render(t, VARS), referenceRender(t, VARS), `template ${JSON.stringify(t)}`);
      if (!/\{\{[^a-z ]|\\|\{\{(missing|this|true|constructor|toString)/.test(t)) plain++;
    }
    // The generator must exercise the concatenation path, not only handlebars'.
    assert.ok(plain > 500, `only ${plain} plain templates`);
  });

  it('names what a template mentions; only those values are checked', () => {
    assert.deepEqual([...templateNames('a {{mac}} b {{uri url}} {{#if e}}x{{/if}}')].sort(), [
      'e',
      'if',
      'mac',
      'uri',
      'url',
    ]);
    // A value the template never reads cannot reach the script.
    assert.equal(renderTemplate('host={{h}}', { h: 'a', other: 'x\nreboot' }), 'host=a');
    assert.throws(() => renderTemplate('host={{h}}', { h: 'a\nreboot' }), {
      code: 'SCRIPT_VALUE',
      message: /line break/,
    });
    assert.throws(() => renderTemplate('{{uri h}}', { h: 'a\nreboot' }), {
      code: 'SCRIPT_VALUE',
      message: /line break/,
    });
  });
});
