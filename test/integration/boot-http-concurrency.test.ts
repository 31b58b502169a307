/**
 * The boot HTTP service under a burst, against a running `bootherd serve` with its SQLite store on disk (the boot log
 * written by its writer thread): 64 machines-worth of concurrent script requests for one machine with a one-shot
 * install get the installer exactly once; a second arming is seen at once (scripts come from the live inventory);
 * every request is in the boot log after shutdown; a large asset arrives whole, and Ranges across read pieces exact.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import SQLite from 'better-sqlite3';
import { cli, freePort, type Served, serve } from '../lib/cli.ts';

const MAC = '52:54:00:bb:00:01';
const BURST = 64;

function get(
  port: number,
  path: string,
  agent: Agent,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('boot HTTP under concurrency (bootherd serve, SQLite on disk)', () => {
  const children: ChildProcess[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'bh-burst-'));
  const config = join(dir, 'bootherd.yaml');
  const iso = Buffer.alloc(3 * 1024 * 1024 + 12_345);
  let served: Served;
  let port: number;
  const agent = new Agent({ keepAlive: true, maxSockets: BURST });

  before(async () => {
    port = await freePort();
    mkdirSync(join(dir, 'assets', 'iso'), { recursive: true });
    writeFileSync(join(dir, 'assets', 'iso', 'big.iso'), randomFillSync(iso));
    writeFileSync(join(dir, 'assets', 'iso', 'secret.cfg'), 'd-i passwd/root-password password s3cret\n');
    writeFileSync(
      join(dir, 'inventory.yaml'),
      `profiles:
  - name: installer
    kernel: http://198.51.100.1/installer/vmlinuz
    cmdline: auto=true
    private: [iso/secret.cfg]
machines:
  - id: burst1
    macs: ["${MAC}"]
    profile: installer
    next: install
`,
    );
    writeFileSync(
      config,
      `data_dir: data\ninventory: inventory.yaml\n` +
        `http: { listen: 127.0.0.1, port: ${port}, advertise: "http://127.0.0.1:${port}", assets: assets, tls: { enabled: false } }\n`,
    );
    served = await serve(config, children, 60_000);
  });
  after(async () => {
    agent.destroy();
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });

  const burst = async () => {
    const path = `/ipxe?mac=${MAC.replace(/:/g, '-')}&platform=pcbios`;
    const replies = await Promise.all(Array.from({ length: BURST }, () => get(port, path, agent)));
    for (const r of replies) assert.equal(r.status, 200, r.body.toString());
    return replies.map((r) => r.body.toString());
  };

  it(`${BURST} concurrent script requests consume a one-shot install exactly once`, async () => {
    const bodies = await burst();
    const installers = bodies.filter((b) => b.includes('installer/vmlinuz'));
    assert.equal(installers.length, 1, `installer served ${installers.length} times`);
    assert.equal(bodies.filter((b) => b.includes('booting from the local disk')).length, BURST - 1);
  });

  it('arming the one-shot again is seen by the very next burst, and consumed once again', async () => {
    const r = await cli(['machines', 'next', 'burst1', 'install', '-c', config], {}, 60_000);
    assert.equal(r.code, 0, r.stderr);
    const bodies = await burst();
    assert.equal(bodies.filter((b) => b.includes('installer/vmlinuz')).length, 1);
  });

  it('a multi-piece asset arrives whole, and Ranges across piece boundaries are exact', async () => {
    const whole = await get(port, '/assets/iso/big.iso', agent);
    assert.equal(whole.status, 200);
    assert.equal(whole.headers['content-length'], String(iso.length));
    assert.equal(createHash('sha256').update(whole.body).digest('hex'), createHash('sha256').update(iso).digest('hex'));
    for (const [a, b] of [
      [1_048_000, 2_100_000],
      [0, 1_048_575],
      [1_048_576, 1_048_576],
      [iso.length - 5000, iso.length - 1],
    ] as const) {
      const r = await get(port, '/assets/iso/big.iso', agent, { range: `bytes=${a}-${b}` });
      assert.equal(r.status, 206);
      assert.equal(r.headers['content-range'], `bytes ${a}-${b}/${iso.length}`);
      assert.ok(r.body.equals(iso.subarray(a, b + 1)), `bytes ${a}-${b}`);
    }
    // sanboot's pattern: sequential 1 MiB ranges on one keep-alive connection.
    const one = new Agent({ keepAlive: true, maxSockets: 1 });
    const parts: Buffer[] = [];
    for (let at = 0; at < iso.length; at += 1 << 20) {
      const end = Math.min(at + (1 << 20), iso.length) - 1;
      parts.push((await get(port, '/assets/iso/big.iso', one, { range: `bytes=${at}-${end}` })).body);
    }
    one.destroy();
    assert.ok(Buffer.concat(parts).equals(iso));
  });

  it('an asset a profile lists as private needs a signed URL', async () => {
    const r = await get(port, '/assets/iso/secret.cfg', agent);
    assert.equal(r.status, 403);
    assert.doesNotMatch(r.body.toString(), /s3cret/);
  });

  it('a client that goes away mid-file leaves the server serving', async () => {
    await new Promise<void>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/assets/iso/big.iso' }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', (err) => ((err as NodeJS.ErrnoException).code === 'ECONNRESET' ? resolve() : reject(err)));
      req.end();
    });
    const r = await get(port, '/assets/iso/big.iso', agent, { range: 'bytes=0-9' });
    assert.ok(r.body.equals(iso.subarray(0, 10)));
  });

  it('every script request is in the boot log once the server has stopped', async () => {
    assert.equal(await served.stop(), 0);
    const db = new SQLite(join(dir, 'data', 'bootherd.db'), { readonly: true });
    const rows = db
      .prepare("SELECT decision FROM boot_events WHERE stage = 'http' AND mac = ? ORDER BY id")
      .pluck()
      .all(MAC) as string[];
    db.close();
    // Asset fetches from the same address are attributed to this MAC too: count the script decisions.
    const scripts = rows
      .map((r) => JSON.parse(r) as { kind: string; consumed?: boolean })
      .filter((d) => d.kind !== 'asset');
    assert.equal(scripts.length, 2 * BURST);
    assert.equal(scripts.filter((d) => d.consumed === true).length, 2);
  });
});
