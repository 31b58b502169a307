/**
 * Steering machines as an operator does, against a running `bootherd serve`: a one-shot install stays consumed
 * across restarts and re-applies of the same inventory file; a bad inventory file does not stop the fleet; and the
 * CLI steers a remote server over HTTPS with scoped tokens.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { cli, freePort, serve } from '../lib/cli.ts';

const WEB1_MAC = '52:54:00:aa:00:01';
const DB1_MAC = '52:54:00:aa:00:02';
const NEW1_MAC = '52:54:00:aa:00:03';

const PROFILES = `profiles:
  - name: installer
    kernel: http://198.51.100.1/installer/vmlinuz
    initrds: [http://198.51.100.1/installer/initrd.gz]
    cmdline: auto=true
  - name: rescue
    kernel: http://198.51.100.1/rescue/vmlinuz
  - name: disk
    local: true
`;

/** An inventory file: web1 (installer profile, with `next` when given), db1 (rescue), and extra machine entries. */
function inventory(opts: { next?: string; db1Profile?: string; extra?: string } = {}): string {
  return `${PROFILES}machines:
  - id: web1
    macs: ["${WEB1_MAC}"]
    hostname: web1
    profile: installer
${opts.next ? `    next: ${opts.next}\n` : ''}  - id: db1
    macs: ["${DB1_MAC}"]
    profile: ${opts.db1Profile ?? 'rescue'}
${opts.extra ?? ''}`;
}

async function workspace(inv: string): Promise<{ dir: string; config: string; inv: string; cert: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'bh-steer-'));
  const config = join(dir, 'bootherd.yaml');
  writeFileSync(
    config,
    `data_dir: data\ninventory: inventory.yaml\nhttp:\n  listen: 127.0.0.1\n  port: ${await freePort()}\n  assets: assets\n  tls: { port: 0 }\n`,
  );
  writeFileSync(join(dir, 'inventory.yaml'), inv);
  return { dir, config, inv: join(dir, 'inventory.yaml'), cert: join(dir, 'data', 'tls', 'cert.pem') };
}

async function ipxe(port: number, mac: string): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/ipxe?mac=${mac.replaceAll(':', '-')}&platform=efi`, {
    signal: AbortSignal.timeout(10_000),
  });
  assert.equal(res.status, 200);
  return res.text();
}

const INSTALLER = /^kernel http:\/\/198\.51\.100\.1\/installer\/vmlinuz /m;
const RESCUE = /^kernel http:\/\/198\.51\.100\.1\/rescue\/vmlinuz/m;
/** What localScript renders for an EFI client: hand back to the firmware, no kernel. */
function assertLocal(script: string, what: string): void {
  assert.match(script, /boot from local disk/, what);
  assert.match(script, /^exit 0$/m, what);
  assert.doesNotMatch(script, /^kernel /m, what);
}

/** GET an API path over HTTPS, trusting the server's own certificate. */
function api(port: number, path: string, token: string, ca: string): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `https://127.0.0.1:${port}${path}`,
      { headers: { authorization: `Bearer ${token}` }, ca: readFileSync(ca), timeout: 10_000 },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`GET ${path}: no answer in 10 s`)));
    req.on('error', reject);
    req.end();
  });
}

async function nextOf(config: string, id: string): Promise<unknown> {
  const r = await cli(['machines', 'show', id, '-c', config]);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { nextAction?: unknown }).nextAction;
}

async function token(config: string, scope: string, name: string): Promise<{ id: string; secret: string }> {
  const r = await cli(['token', 'create', '--scope', scope, '--name', name, '-c', config]);
  assert.equal(r.code, 0, r.stderr);
  const id = /^token (\S+) /m.exec(r.stderr)?.[1];
  const secret = r.stdout.trim().split('\n').at(-1);
  assert.ok(id && secret, r.stdout + r.stderr);
  return { id, secret };
}

describe('steering a running bootherd', () => {
  const children: ChildProcess[] = [];
  after(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });

  it('a consumed one-shot install stays consumed across restarts and re-applies of the same file', {
    timeout: 60_000,
  }, async () => {
    const ws = await workspace(inventory({ next: 'install' }));
    let s = await serve(ws.config, children);
    assert.match(await ipxe(s.httpPort, WEB1_MAC), INSTALLER, 'armed: the installer');
    assertLocal(await ipxe(s.httpPort, WEB1_MAC), 'consumed: the local disk');
    assert.equal(await s.stop(), 0);

    // The same, unchanged file at the next start must not arm the install again (it would wipe the disk).
    s = await serve(ws.config, children);
    assert.match(s.log(), /inventory .*inventory\.yaml: 0 created, 0 updated, 5 unchanged/);
    assertLocal(await ipxe(s.httpPort, WEB1_MAC), 'after a restart with the same file');
    assert.deepEqual(await nextOf(ws.config, 'web1'), { action: 'local' });
    const reapply = await cli(['apply', '-c', ws.config, '-f', ws.inv]);
    assert.equal(reapply.code, 0, reapply.stderr);
    assert.deepEqual(await nextOf(ws.config, 'web1'), { action: 'local' }, 'apply -f of the same file');
    assertLocal(await ipxe(s.httpPort, WEB1_MAC), 'after apply -f of the same file');
    assert.equal(await s.stop(), 0);

    // Control: a changed `next` in the file is a new instruction and arms again, once.
    writeFileSync(ws.inv, inventory({ next: 'install:rescue' }));
    s = await serve(ws.config, children);
    assert.match(await ipxe(s.httpPort, WEB1_MAC), RESCUE, 'a changed next is armed');
    assertLocal(await ipxe(s.httpPort, WEB1_MAC), 'and consumed once');
    const again = await cli(['apply', '-c', ws.config, '-f', ws.inv]);
    assert.equal(again.code, 0, again.stderr);
    assertLocal(await ipxe(s.httpPort, WEB1_MAC), 'apply -f of the changed file after consumption');
    assert.equal(await s.stop(), 0);
    s = await serve(ws.config, children);
    assertLocal(await ipxe(s.httpPort, WEB1_MAC), 'and a restart');
    writeFileSync(ws.inv, inventory({ next: 'menu' }));
    const menu = await cli(['apply', '-c', ws.config, '-f', ws.inv]);
    assert.equal(menu.code, 0, menu.stderr);
    assert.deepEqual(await nextOf(ws.config, 'web1'), { action: 'menu' }, 'apply -f of a changed next arms it');
    assert.equal(await s.stop(), 0);
  });

  it('a bad inventory file does not stop the fleet and applies nothing', { timeout: 60_000 }, async () => {
    const ws = await workspace(inventory());
    let s = await serve(ws.config, children);
    assert.equal(await s.stop(), 0);

    // One bad record among good changes: db1 moved to another profile, a new machine, and a placeholder UUID.
    const bad = inventory({
      db1Profile: 'installer',
      extra: `  - id: new1
    macs: ["${NEW1_MAC}"]
    profile: disk
  - id: bad1
    macs: ["52:54:00:aa:00:09"]
    uuid: 00000000-0000-0000-0000-000000000000
    profile: disk
`,
    });
    writeFileSync(ws.inv, bad);
    const line = bad.split('\n').findIndex((l) => l.includes('00000000-0000')) + 1;
    const where = `${ws.inv}:${line}:11: machines[3].uuid`;

    s = await serve(ws.config, children);
    const boot = await fetch(`http://127.0.0.1:${s.httpPort}/boot.ipxe`, { signal: AbortSignal.timeout(10_000) });
    assert.equal(boot.status, 200, 'still serving');
    assert.match(await ipxe(s.httpPort, DB1_MAC), RESCUE, 'db1 boots what the store holds, not the bad file');
    assert.ok(s.log().includes(where), `the log names file:line:col:\n${s.log()}`);
    assert.match(s.log(), /"level":50.*inventory file not applied/);

    const health = await fetch(`http://127.0.0.1:${s.httpPort}/healthz`, { signal: AbortSignal.timeout(10_000) });
    assert.equal(health.status, 200);
    const h = (await health.json()) as { status: string; inventoryFile?: { path: string; error?: string } };
    assert.equal(h.status, 'degraded');
    assert.equal(h.inventoryFile?.path, ws.inv);
    assert.ok(h.inventoryFile?.error?.includes(where), JSON.stringify(h));

    const read = await token(ws.config, 'read', 'monitor');
    assert.ok(s.httpsPort);
    const status = await api(s.httpsPort, '/api/v1/status', read.secret, ws.cert);
    assert.equal(status.status, 200);
    const st = status.body as { inventoryFile?: { error?: string }; machines: number };
    assert.ok(st.inventoryFile?.error?.includes(where), JSON.stringify(st));
    assert.equal(st.machines, 2, 'neither new1 nor bad1 was stored');

    const unknown = await cli(['machines', 'show', 'new1', '-c', ws.config]);
    assert.equal(unknown.code, 1, 'the good change in the bad file was not applied');
    assert.match(unknown.stderr, /no machine "new1"/);

    // apply -f: all or nothing, with the same file:line:col.
    const applied = await cli(['apply', '-c', ws.config, '-f', ws.inv]);
    assert.equal(applied.code, 1);
    assert.ok(applied.stderr.includes(`error: ${where}`), applied.stderr);
    const list = await cli(['machines', 'list', '-c', ws.config]);
    assert.equal(list.code, 0, list.stderr);
    assert.doesNotMatch(list.stdout, /new1|bad1/);
    assert.match(list.stdout, /^db1\s+\S+\s+rescue\s/m);
    assert.match(await ipxe(s.httpPort, DB1_MAC), RESCUE);
    assert.equal(await s.stop(), 0);
  });

  it('the CLI steers a remote server over HTTPS with scoped tokens', { timeout: 90_000 }, async () => {
    const ws = await workspace(inventory({ next: 'local' }));
    const s = await serve(ws.config, children);
    assert.ok(s.httpsPort && s.fingerprint, s.log());
    const server = `https://127.0.0.1:${s.httpsPort}`;
    const write = await token(ws.config, 'write', 'deployer');
    const read = await token(ws.config, 'read', 'viewer');
    const admin = await token(ws.config, 'admin', 'root');
    const remote = (args: string[], tok: string | undefined, trust: string[] = ['--ca', ws.cert]) =>
      cli([...args, '--server', server, ...trust], { BOOTHERD_TOKEN: tok, BOOTHERD_SERVER: undefined });

    assertLocal(await ipxe(s.httpPort, WEB1_MAC), 'control: web1 boots its local disk');
    const steered = await remote(['machines', 'next', 'web1', 'install'], write.secret);
    assert.equal(steered.code, 0, steered.stderr);
    assert.match(steered.stdout, /web1: next boot install/);
    assert.match(await ipxe(s.httpPort, WEB1_MAC), INSTALLER, 'the next boot changed');

    const denied = await remote(['machines', 'next', 'web1', 'menu'], read.secret);
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /^error: this needs a write token; "viewer" is read/m);
    const none = await remote(['machines', 'next', 'web1', 'menu'], undefined);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /^error: --server needs a token: --token or BOOTHERD_TOKEN/m);
    assert.deepEqual(await nextOf(ws.config, 'web1'), { action: 'local' }, 'consumed above; nothing else changed it');

    const pinned = await remote(['machines', 'list'], read.secret, ['--fingerprint', s.fingerprint]);
    assert.equal(pinned.code, 0, pinned.stderr);
    assert.match(pinned.stdout, /^web1\s+52:54:00:aa:00:01\s+installer\s+local/m);
    const wrongPin = s.fingerprint.replace(/^../, s.fingerprint.startsWith('00') ? '11' : '00');
    const impostor = await remote(['machines', 'next', 'web1', 'menu'], write.secret, ['--fingerprint', wrongPin]);
    assert.equal(impostor.code, 1);
    assert.match(impostor.stderr, /fingerprint/);
    assert.deepEqual(await nextOf(ws.config, 'web1'), { action: 'local' }, 'a wrong pin sends no request');
    const untrusted = await remote(['machines', 'list'], read.secret, []);
    assert.equal(untrusted.code, 1, 'a self-signed certificate is not trusted without --ca or --fingerprint');
    assert.match(untrusted.stderr, /self-signed certificate/);

    const exported = await remote(['export'], read.secret);
    assert.equal(exported.code, 0, exported.stderr);
    assert.match(exported.stdout, /id: web1/);
    const file = join(ws.dir, 'exported.yaml');
    writeFileSync(file, `${exported.stdout.trimEnd()}\n  - id: new1\n    macs: ["${NEW1_MAC}"]\n    profile: rescue\n`);
    const applied = await remote(['apply', '-f', file], write.secret);
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(applied.stdout, /1 created, 0 updated, 5 unchanged, 0 deleted/);
    assert.match(await ipxe(s.httpPort, NEW1_MAC), RESCUE, 'applied through the server, served at once');
    const readApply = await remote(['apply', '-f', file], read.secret);
    assert.equal(readApply.code, 1);
    const listed = await remote(['machines', 'list'], read.secret);
    assert.match(listed.stdout, /^new1\s/m);

    const tokens = await remote(['token', 'list'], admin.secret);
    assert.equal(tokens.code, 0, tokens.stderr);
    for (const t of [write, read, admin]) {
      assert.match(tokens.stdout, new RegExp(`^${t.id}\\s`, 'm'));
      assert.ok(!tokens.stdout.includes(t.secret) && !tokens.stderr.includes(t.secret), 'no secret is listed');
    }
    assert.match(tokens.stdout, /\sdeployer\s+write\s/);
    const notAdmin = await remote(['token', 'list'], write.secret);
    assert.equal(notAdmin.code, 1);
    assert.match(notAdmin.stderr, /needs a admin token|needs an admin token/);

    const revoked = await remote(['token', 'revoke', read.id], admin.secret);
    assert.equal(revoked.code, 0, revoked.stderr);
    const after401 = await remote(['machines', 'list'], read.secret);
    assert.equal(after401.code, 1);
    assert.match(after401.stderr, /the token is unknown or revoked/);
    const status = await api(s.httpsPort, '/api/v1/whoami', read.secret, ws.cert);
    assert.equal(status.status, 401);

    const http = await cli(['machines', 'list', '--server', `http://127.0.0.1:${s.httpPort}`], {
      BOOTHERD_TOKEN: write.secret,
    });
    assert.equal(http.code, 1);
    assert.match(http.stderr, /--server must be an https:\/\/ URL/);
    for (const t of [write, read, admin]) assert.ok(!s.log().includes(t.secret), 'no secret in the server log');
    assert.equal(await s.stop(), 0);
  });
});
