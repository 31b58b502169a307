/**
 * Two real `bootherd serve` processes on one private PostgreSQL database: a next action set through A's API is
 * served by B and reaches B's caches by notification (B logs each change it hears, naming A); a one-shot install
 * requested from both at once is served once; a profile changed through A changes B's script; a stale If-Match is
 * refused; `bootherd servers` lists both with fresh heartbeats, and B, killed with SIGKILL, turns stale.
 * Timings are printed, never asserted beyond generous bounds.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type FleetClient, remoteClient } from '../../src/cli/client.ts';
import type { ServerView } from '../../src/core/servers.ts';
import { cli, freePort, type Served, serve } from '../lib/cli.ts';
import { type PgCluster, startCluster } from '../lib/postgres.ts';

const MAC = '52:54:00:cc:00:01';
const MAC2 = '52:54:00:cc:00:02';
const BURST = 64;

function get(port: number, path: string, agent: Agent): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString();
        if (res.statusCode !== 200) reject(new Error(`GET ${path}: ${res.statusCode} ${body}`));
        else resolve(body);
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** A raw API call (headers matter here), trusting the server's own self-signed certificate. */
function api(
  port: number,
  dataDir: string,
  token: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; etag?: string; json: Record<string, unknown> }> {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        method,
        path: `/api/v1${path}`,
        ca: readFileSync(join(dataDir, 'tls', 'cert.pem')),
        headers: {
          authorization: `Bearer ${token}`,
          ...(payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}),
          ...headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            ...(typeof res.headers.etag === 'string' ? { etag: res.headers.etag } : {}),
            json: JSON.parse(Buffer.concat(chunks).toString() || '{}') as Record<string, unknown>,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** Poll (every 10 ms, at most `ms`) until `check` gives a value; returns it with the time it took. */
async function until<T>(what: string, ms: number, check: () => T | undefined | Promise<T | undefined>) {
  const t0 = performance.now();
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return { value: v, ms: performance.now() - t0 };
    if (performance.now() - t0 > ms) throw new Error(`${what}: not within ${ms / 1000} s`);
    await sleep(10);
  }
}

describe('two bootherd servers on one PostgreSQL database', () => {
  const children: ChildProcess[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'bh-multi-'));
  const agent = new Agent({ keepAlive: true, maxSockets: BURST });
  let cluster: PgCluster;
  let a: Served;
  let b: Served;
  let idA: string;
  let idB: string;
  let token: string;
  let viaA: FleetClient;
  const cfg = (name: string) => join(dir, `${name}.yaml`);
  const dataDir = (name: string) => join(dir, name, 'data');
  const ipxe = (mac = MAC) => `/ipxe?mac=${mac.replace(/:/g, '-')}&platform=pcbios`;
  /** When `s` logged hearing `what` from server `from` (its log is JSON lines with ISO times), if it has. */
  const heard = (s: Served, from: string, what: string) => {
    const line = s
      .log()
      .split('\n')
      .find((l) => l.includes(`"change from server ${from}: ${what}"`));
    return line ? Date.parse((JSON.parse(line) as { time: string }).time) : undefined;
  };

  before(async () => {
    cluster = await startCluster();
    const url = await cluster.createDatabase();
    for (const name of ['a', 'b']) {
      const port = await freePort();
      mkdirSync(join(dir, name, 'assets'), { recursive: true });
      writeFileSync(
        cfg(name),
        `data_dir: ${dataDir(name)}\nstore: "${url}"\nlog: { level: debug }\n` +
          `http: { listen: 127.0.0.1, port: ${port}, advertise: "http://127.0.0.1:${port}", ` +
          `assets: ${join(dir, name, 'assets')}, tls: { enabled: true, port: 0 } }\n`,
      );
    }
    writeFileSync(
      join(dir, 'inventory.yaml'),
      `profiles:
  - name: installer
    kernel: http://198.51.100.1/installer/vmlinuz
    cmdline: auto=true
  - name: live
    kernel: http://198.51.100.1/live/vmlinuz
    cmdline: edition=one
machines:
  - id: web1
    macs: ["${MAC}"]
    profile: installer
  - id: web2
    macs: ["${MAC2}"]
    profile: live
`,
    );
    const applied = await cli(['apply', '-f', join(dir, 'inventory.yaml'), '-c', cfg('a')], {}, 60_000);
    assert.equal(applied.code, 0, applied.stderr);
    const created = await cli(['token', 'create', '--scope', 'write', '-c', cfg('a')], {}, 60_000);
    assert.equal(created.code, 0, created.stderr);
    token = created.stdout.trim().split('\n').at(-1)!;
    [a, b] = await Promise.all([serve(cfg('a'), children, 60_000), serve(cfg('b'), children, 60_000)]);
    // Each names its registry id once it has joined (after its listeners are up).
    const id = async (s: Served) =>
      (await until('server id logged', 15_000, () => /server ([0-9a-f-]{36}); store/.exec(s.log())?.[1])).value;
    idA = await id(a);
    idB = await id(b);
    assert.notEqual(idA, idB);
    // Both listen for changes before the first test writes.
    for (const s of [a, b]) await until('change feed listening', 15_000, () => /change feed listening/.test(s.log()));
    viaA = remoteClient({ server: `https://127.0.0.1:${a.httpsPort}`, token, fingerprint: a.fingerprint! });
  });
  after(async () => {
    agent.destroy();
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await cluster?.stop();
  });

  it("(a) a next action set through A's API reaches B by notification and is served by B", async () => {
    const sent = Date.now();
    await viaA.setNextAction('web1', { action: 'install' });
    const returned = Date.now();
    const notified = await until('B hears of the change', 5000, () => heard(b, idA, 'machine/web1 put'));
    const asked = Date.now();
    const script = await get(b.httpPort, ipxe(), agent);
    assert.match(script, /installer\/vmlinuz/);
    console.log(
      `next action through A's API (call ${returned - sent} ms): B logged the notification ` +
        `${notified.value - sent} ms after the call was sent`,
    );
    // B consumed the one-shot; A hears of that write in turn.
    const back = await until('A hears of the consume', 5000, () => heard(a, idB, 'machine/web1 put'));
    console.log(
      `one-shot consumed on B: A logged the notification ${back.value - asked} ms after the request to B was sent`,
    );
    assert.match(await get(a.httpPort, ipxe(), agent), /local disk/);
  });

  it(`(b) ${BURST} concurrent requests split between A and B get the one-shot install exactly once`, async () => {
    await viaA.setNextAction('web1', { action: 'install' });
    const ports = Array.from({ length: BURST }, (_, i) => (i % 2 ? b.httpPort : a.httpPort));
    const bodies = await Promise.all(ports.map((port) => get(port, ipxe(), agent)));
    const installers = bodies.filter((s) => s.includes('installer/vmlinuz')).length;
    assert.equal(installers, 1, `installer served ${installers} times`);
    assert.equal(bodies.filter((s) => s.includes('local disk')).length, BURST - 1);
    assert.deepEqual((await viaA.getMachine('web1')).nextAction, { action: 'local' });
  });

  it("(c) a profile changed through A changes B's script", async () => {
    // B has the profile cached from this request.
    assert.match(await get(b.httpPort, ipxe(MAC2), agent), /edition=one/);
    const doc = await viaA.export();
    const live = doc.profiles.find((p) => p.name === 'live')!;
    assert.equal(live.boot.kind, 'kernel');
    if (live.boot.kind === 'kernel') live.boot.cmdline = 'edition=two';
    const sent = Date.now();
    await viaA.apply({ profiles: [live], groups: [], machines: [] }, false);
    const notified = await until('B hears of the apply', 5000, () => heard(b, idA, 'inventory apply'));
    console.log(
      `profile applied through A: B logged the notification ${notified.value - sent} ms after the call was sent`,
    );
    assert.match(await get(b.httpPort, ipxe(MAC2), agent), /edition=two/);
  });

  it('a write naming a stale version is refused through either server (If-Match: 412, version: 409)', async () => {
    const read = await api(a.httpsPort!, dataDir('a'), token, 'GET', '/machines/web2');
    assert.equal(read.status, 200);
    assert.equal(read.etag, `"${read.json.version}"`);
    const { lastEvent: _e, lastSeen: _s, version, ...machine } = read.json;
    const ok = await api(
      b.httpsPort!,
      dataDir('b'),
      token,
      'PUT',
      '/machines/web2',
      { ...machine, labels: { x: '1' } },
      {
        'if-match': read.etag!,
      },
    );
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
    assert.equal(ok.etag, `"${Number(version) + 1}"`);
    const stale = await api(a.httpsPort!, dataDir('a'), token, 'PUT', '/machines/web2', machine, {
      'if-match': read.etag!,
    });
    assert.equal(stale.status, 412);
    assert.equal(stale.json.error, 'PRECONDITION_FAILED');
    assert.match(String(stale.json.message), /changed since it was read/);
    const body = await api(a.httpsPort!, dataDir('a'), token, 'PUT', '/machines/web2', { ...machine, version });
    assert.equal(body.status, 409);
    assert.equal(body.json.error, 'VERSION_CONFLICT');
    assert.deepEqual((await viaA.getMachine('web2')).labels, { x: '1' });
  });

  it('(d) `bootherd servers` lists both with fresh heartbeats; B killed with SIGKILL turns stale', async () => {
    const listed = await cli(
      ['servers', '--server', `https://127.0.0.1:${b.httpsPort}`, '--token', token, '--fingerprint', b.fingerprint!],
      {},
      60_000,
    );
    assert.equal(listed.code, 0, listed.stderr);
    for (const id of [idA, idB]) assert.match(listed.stdout, new RegExp(`^${id} .* alive `, 'm'));
    const local = await cli(['servers', '--json', '-c', cfg('a')], {}, 60_000);
    assert.equal(local.code, 0, local.stderr);
    const byId = (list: ServerView[], id: string) => list.find((s) => s.id === id);
    const before = JSON.parse(local.stdout) as ServerView[];
    for (const id of [idA, idB]) {
      assert.equal(byId(before, id)?.status, 'alive');
      assert.ok(byId(before, id)!.age < 10, `heartbeat ${byId(before, id)!.age} s old`);
    }
    assert.ok(byId(before, idA)?.urls.some((u) => u.includes(String(a.httpsPort))));
    b.child.kill('SIGKILL');
    const stale = await until('B shown stale', 30_000, async () => {
      const list = await viaA.listServers();
      return byId(list, idB)?.status === 'stale' ? list : undefined;
    });
    console.log(`B killed: shown stale after ${(stale.ms / 1000).toFixed(1)} s`);
    assert.equal(byId(stale.value, idA)?.status, 'alive');
    // A clean shutdown says so.
    assert.equal(await a.stop(), 0);
    const after = JSON.parse((await cli(['servers', '--json', '-c', cfg('a')], {}, 60_000)).stdout) as ServerView[];
    assert.equal(byId(after, idA)?.status, 'stopped');
    assert.equal(byId(after, idB)?.status, 'stale');
  });
});
