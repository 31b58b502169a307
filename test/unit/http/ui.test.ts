/**
 * The web UI is served by the same app as the boot routes: its index and every file it references must load (the
 * boot assets own /assets/, so the UI's files must not be hidden there), with a strict CSP and, for browsers that
 * accept it, the pre-compressed form. Runs against the real build in web/dist (npm test builds it first).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { type TestCore, testCore } from '../../lib/core.ts';

const UI_DIR = new URL('../../../web/dist', import.meta.url).pathname;

describe('web UI files', () => {
  let t: TestCore;
  before(async () => {
    assert.ok(existsSync(`${UI_DIR}/index.html`), 'web/dist is missing: run npm run build');
    t = await testCore('profiles: []\n', { uiDir: UI_DIR });
  });
  after(() => t.close());

  it('index.html and every script, style and icon it references load, with a strict CSP', async () => {
    const index = await t.app.inject('/');
    assert.equal(index.statusCode, 200);
    assert.match(String(index.headers['content-type']), /text\/html/);
    assert.match(String(index.headers['content-security-policy']), /script-src 'self'/);
    const refs = [...index.body.matchAll(/(?:src|href)="(\/[^"]+)"/g)].map((m) => m[1] as string);
    assert.ok(refs.some((r) => r.endsWith('.js')) && refs.some((r) => r.endsWith('.css')), index.body);
    for (const ref of refs) {
      const r = await t.app.inject(ref);
      assert.equal(r.statusCode, 200, `${ref}: ${r.statusCode} ${r.body.slice(0, 200)}`);
      assert.doesNotMatch(String(r.headers['content-type']), /text\/plain/, ref);
    }
  });

  it('a browser that accepts gzip gets the pre-compressed script, byte-identical once inflated', async () => {
    const index = await t.app.inject('/');
    const js = /src="(\/[^"]+\.js)"/.exec(index.body)?.[1] as string;
    const plain = await t.app.inject(js);
    const gz = await t.app.inject({ url: js, headers: { 'accept-encoding': 'gzip' } });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.ok(
      gz.rawPayload.length < plain.rawPayload.length / 2,
      `${gz.rawPayload.length} vs ${plain.rawPayload.length}`,
    );
    assert.deepEqual(gunzipSync(gz.rawPayload), plain.rawPayload);
  });

  it('boot assets keep /assets/ on the same app', async () => {
    const r = await t.app.inject('/assets/missing.iso');
    assert.equal(r.statusCode, 404);
  });
});
