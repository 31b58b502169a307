import assert from 'node:assert/strict';
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { etagOf, evaluate, parseRange, resolveUnder } from '../../../src/http/assets.ts';
import { type TestCore, testCore } from '../../lib/core.ts';

describe('Range header (RFC 9110 §14.1.2)', () => {
  const cases: [string | undefined, number, ReturnType<typeof parseRange>][] = [
    [undefined, 100, { kind: 'full' }],
    ['bytes=0-0', 100, { kind: 'partial', start: 0, end: 0 }],
    ['bytes=10-19', 100, { kind: 'partial', start: 10, end: 19 }],
    ['bytes=90-500', 100, { kind: 'partial', start: 90, end: 99 }],
    ['bytes=5-', 100, { kind: 'partial', start: 5, end: 99 }],
    ['bytes=-10', 100, { kind: 'partial', start: 90, end: 99 }],
    ['bytes=-500', 100, { kind: 'full' }],
    ['bytes=0-', 100, { kind: 'full' }],
    ['bytes=-0', 100, { kind: 'unsatisfiable' }],
    ['bytes=100-', 100, { kind: 'unsatisfiable' }],
    ['bytes=200-300', 100, { kind: 'unsatisfiable' }],
    ['bytes=0-', 0, { kind: 'unsatisfiable' }],
    ['bytes=-5', 0, { kind: 'unsatisfiable' }],
    // invalid: the header is ignored, the whole file is sent
    ['bytes=10-5', 100, { kind: 'full' }],
    ['bytes=-', 100, { kind: 'full' }],
    ['bytes=a-b', 100, { kind: 'full' }],
    ['items=0-5', 100, { kind: 'full' }],
    ['bytes=1-2,x', 100, { kind: 'full' }],
    // several: overlapping or touching ranges are combined; disjoint ones get the whole file
    ['bytes=0-4, 5-9', 100, { kind: 'partial', start: 0, end: 9 }],
    ['bytes=20-29,10-25', 100, { kind: 'partial', start: 10, end: 29 }],
    ['bytes=0-1,3-4', 100, { kind: 'full' }],
    ['bytes=500-600, 10-19', 100, { kind: 'partial', start: 10, end: 19 }],
  ];
  for (const [header, size, want] of cases)
    it(`${header ?? '(none)'} of ${size} bytes → ${JSON.stringify(want)}`, () => {
      assert.deepEqual(parseRange(header, size), want);
    });
});

describe('conditional requests (RFC 9110 §13.2.2)', () => {
  const f = { size: 1000, mtimeMs: Date.parse('2026-12-01T10:00:00Z') + 250 };
  const etag = etagOf(f);
  const lm = new Date(f.mtimeMs).toUTCString();
  const older = 'Mon, 30 Nov 2026 10:00:00 GMT';
  it('If-None-Match matching (weakly) or * gives 304; another tag does not', () => {
    assert.deepEqual(evaluate({ 'if-none-match': etag }, f), { status: 304 });
    assert.deepEqual(evaluate({ 'if-none-match': `"x", W/${etag}` }, f), { status: 304 });
    assert.deepEqual(evaluate({ 'if-none-match': '*' }, f), { status: 304 });
    assert.deepEqual(evaluate({ 'if-none-match': '"other"' }, f), { status: 200 });
  });
  it('If-Modified-Since applies only without If-None-Match', () => {
    assert.deepEqual(evaluate({ 'if-modified-since': lm }, f), { status: 304 });
    assert.deepEqual(evaluate({ 'if-modified-since': older }, f), { status: 200 });
    assert.deepEqual(evaluate({ 'if-none-match': '"other"', 'if-modified-since': lm }, f), { status: 200 });
    assert.deepEqual(evaluate({ 'if-modified-since': 'not a date' }, f), { status: 200 });
  });
  it('If-Match needs a strong match; If-Unmodified-Since a file not changed since', () => {
    assert.deepEqual(evaluate({ 'if-match': etag }, f), { status: 200 });
    assert.deepEqual(evaluate({ 'if-match': `W/${etag}` }, f), { status: 412 });
    assert.deepEqual(evaluate({ 'if-match': '"other"' }, f), { status: 412 });
    assert.deepEqual(evaluate({ 'if-unmodified-since': older }, f), { status: 412 });
    assert.deepEqual(evaluate({ 'if-unmodified-since': lm }, f), { status: 200 });
  });
  it('If-Range honours Range only for the current ETag or Last-Modified', () => {
    const range = 'bytes=0-9';
    assert.deepEqual(evaluate({ range, 'if-range': etag }, f), { status: 206, start: 0, end: 9 });
    assert.deepEqual(evaluate({ range, 'if-range': lm }, f), { status: 206, start: 0, end: 9 });
    assert.deepEqual(evaluate({ range, 'if-range': '"stale"' }, f), { status: 200 });
    assert.deepEqual(evaluate({ range, 'if-range': older }, f), { status: 200 });
  });
  it('an unsatisfiable range is 416, unless a validator says 304 first', () => {
    assert.deepEqual(evaluate({ range: 'bytes=5000-' }, f), { status: 416 });
    assert.deepEqual(evaluate({ range: 'bytes=5000-', 'if-none-match': etag }, f), { status: 304 });
  });
});

describe('asset paths', () => {
  const root = '/srv/assets';
  it('stay under the root', () => {
    assert.equal(resolveUnder(root, 'debian/linux'), '/srv/assets/debian/linux');
    assert.equal(resolveUnder(root, 'a%20b.iso'), '/srv/assets/a b.iso');
    for (const bad of [
      '',
      '../etc/passwd',
      '%2e%2e/x',
      'a/%2e%2e/%2e%2e/x',
      '..%2fx',
      '.hidden',
      'a/.git/x',
      'a//b',
      'a/',
      'x%00y',
      '%zz',
    ])
      assert.equal(resolveUnder(root, bad), undefined, bad);
  });
});

describe('assets over HTTP', () => {
  let t: TestCore;
  const data = Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251));
  before(async () => {
    t = await testCore('profiles:\n  - name: disk\n    local: true\n');
    writeFileSync(join(t.assets, 'iso', 'a.iso'), data);
    writeFileSync(join(t.assets, 'empty'), '');
    mkdirSync(join(t.assets, 'dir'));
    utimesSync(join(t.assets, 'iso', 'a.iso'), new Date('2026-12-01T10:00:00Z'), new Date('2026-12-01T10:00:00Z'));
  });
  after(() => t.close());

  it('416 names the size in Content-Range', async () => {
    const r = await t.app.inject({ url: '/assets/iso/a.iso', headers: { range: 'bytes=9000-' } });
    assert.equal(r.statusCode, 416);
    assert.equal(r.headers['content-range'], 'bytes */5000');
  });
  it('disjoint ranges get the whole file with 200', async () => {
    const r = await t.app.inject({ url: '/assets/iso/a.iso', headers: { range: 'bytes=0-1,10-11' } });
    assert.equal(r.statusCode, 200);
    assert.ok(r.rawPayload.equals(data));
  });
  it('HEAD of a range has the range headers and no body', async () => {
    const r = await t.app.inject({ method: 'HEAD', url: '/assets/iso/a.iso', headers: { range: 'bytes=100-199' } });
    assert.equal(r.statusCode, 206);
    assert.equal(r.headers['content-length'], '100');
    assert.equal(r.headers['content-range'], 'bytes 100-199/5000');
    assert.equal(r.rawPayload.length, 0);
  });
  it('a stale If-Range gets the whole file; a current one the range', async () => {
    const g = await t.app.inject('/assets/iso/a.iso');
    const etag = String(g.headers.etag);
    const stale = await t.app.inject({
      url: '/assets/iso/a.iso',
      headers: { range: 'bytes=0-9', 'if-range': '"0-0"' },
    });
    assert.equal(stale.statusCode, 200);
    assert.equal(stale.rawPayload.length, 5000);
    const fresh = await t.app.inject({ url: '/assets/iso/a.iso', headers: { range: 'bytes=0-9', 'if-range': etag } });
    assert.equal(fresh.statusCode, 206);
    assert.ok(fresh.rawPayload.equals(data.subarray(0, 10)));
  });
  it('If-Match with another tag is 412; If-Modified-Since after the file is 304', async () => {
    const r = await t.app.inject({ url: '/assets/iso/a.iso', headers: { 'if-match': '"nope"' } });
    assert.equal(r.statusCode, 412);
    const n = await t.app.inject({
      url: '/assets/iso/a.iso',
      headers: { 'if-modified-since': 'Wed, 02 Dec 2026 00:00:00 GMT' },
    });
    assert.equal(n.statusCode, 304);
    assert.equal(n.rawPayload.length, 0);
  });
  it('an empty file is 200 with no body; a directory or missing file is 404', async () => {
    const e = await t.app.inject('/assets/empty');
    assert.equal(e.statusCode, 200);
    assert.equal(e.headers['content-length'], '0');
    assert.equal((await t.app.inject('/assets/dir')).statusCode, 404);
    assert.equal((await t.app.inject('/assets/iso/none.iso')).statusCode, 404);
  });
  it('a fetched asset is recorded once per file, not per Range', async () => {
    await t.events.flush();
    const before = (await t.store.listEvents({ limit: 1000 })).filter((e) => e.decision.kind === 'asset').length;
    await t.app.inject({ url: '/assets/iso/a.iso', headers: { range: 'bytes=0-99' } });
    await t.app.inject({ url: '/assets/iso/a.iso', headers: { range: 'bytes=100-199' } });
    await t.events.flush();
    const now = (await t.store.listEvents({ limit: 1000 })).filter((e) => e.decision.kind === 'asset');
    assert.equal(now.length - before, 1);
    assert.equal(now[0]?.decision.file, 'iso/a.iso');
  });
});
