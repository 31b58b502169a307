/**
 * A machine's boot stick through the API: the ISO carries the static address its record holds (ip, prefix, gateway,
 * dns), or the try-every-NIC DHCP script when it has none; the image is the one `media iso` writes (BIOS-only here).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { BASE_URL, type TestCore, testCore } from '../../lib/core.ts';

const run = promisify(execFile);

const inventory = `
profiles:
  - name: disk
    local: true
machines:
  - { id: fixed, macs: ["52:54:00:00:41:01"], ip: 192.0.2.41, prefix: 24, gateway: 192.0.2.254, dns: 192.0.2.53, profile: disk }
  - { id: roaming, macs: ["52:54:00:00:41:02"], profile: disk }
`;

/** The script inside an ISO, read back with xorriso. */
async function scriptOf(iso: Buffer): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'bh-media-api-'));
  writeFileSync(join(dir, 'x.iso'), iso);
  await run('xorriso', [
    '-no_rc',
    '-osirrox',
    'on',
    '-indev',
    join(dir, 'x.iso'),
    '-extract',
    '/boot.ipxe',
    join(dir, 's'),
  ]);
  return readFileSync(join(dir, 's'), 'utf8');
}

describe('GET /api/v1/machines/{id}/media.iso', () => {
  let t: TestCore;
  let token: string;
  before(async () => {
    t = await testCore(inventory);
    token = (await t.tokens.create('media', 'read')).token;
  });
  after(() => t.close());

  const get = (id: string) =>
    t.app.inject({ url: `/api/v1/machines/${id}/media.iso`, headers: { authorization: `Bearer ${token}` } });

  it('a machine with a static address gets it on its stick, and no DHCP', async () => {
    const r = await get('fixed');
    assert.equal(r.statusCode, 200, r.body.slice(0, 200));
    assert.equal(r.headers['content-type'], 'application/octet-stream');
    assert.match(String(r.headers['content-disposition']), /filename="fixed\.iso"/);
    const script = await scriptOf(r.rawPayload);
    assert.match(script, /set net0\/ip 192\.0\.2\.41/);
    assert.match(script, /set net0\/gateway 192\.0\.2\.254/);
    assert.match(script, /192\.0\.2\.53/);
    assert.ok(script.includes(`${BASE_URL}/boot.ipxe`), script);
    assert.doesNotMatch(script, /\bdhcp\b|ifconf/);
  });

  it('a machine without one gets the try-every-NIC DHCP script (the control)', async () => {
    const script = await scriptOf((await get('roaming')).rawPayload);
    assert.match(script, /dhcp|ifconf/);
    assert.doesNotMatch(script, /192\.0\.2\.41/);
  });

  it('an unknown machine is a 404 naming it; a half-static record is refused at write time', async () => {
    const r = await get('nobody');
    assert.equal(r.statusCode, 404);
    assert.equal(r.json().error, 'MACHINE_NOT_FOUND');
    await assert.rejects(
      t.inventory.putMachine({ id: 'half', macs: [], labels: {}, hostname: 'half', prefix: 24 }, 'create'),
      /prefix: is the prefix length of ip/,
    );
  });
});
