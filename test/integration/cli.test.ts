/** The CLI as an operator runs it: a real process, real files, a real SQLite database. */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { cli, ENTRY, freePort, waitFor } from '../lib/cli.ts';

const pexec = promisify(execFile);

function workspace(port = 0): { dir: string; config: string } {
  const dir = mkdtempSync(join(tmpdir(), 'bh-cli-'));
  const config = join(dir, 'bootherd.yaml');
  writeFileSync(
    config,
    `data_dir: data\nhttp:\n  listen: 127.0.0.1\n  port: ${port || 18080}\n  assets: assets\n  tls: { port: 0 }\n`,
  );
  return { dir, config };
}

describe('bootherd CLI', () => {
  const children: ChildProcess[] = [];
  after(() => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  });

  it('every command has --help', async () => {
    for (const cmd of [
      [],
      ['serve'],
      ['check'],
      ['apply'],
      ['export'],
      ['machines'],
      ['machines', 'list'],
      ['machines', 'next'],
      ['machines', 'events'],
      ['ipxe-try-nics'],
    ]) {
      const r = await cli([...cmd, '--help']);
      assert.equal(r.code, 0, `${cmd.join(' ')}: ${r.stderr}`);
      assert.match(r.stdout, /^Usage: bootherd/m, cmd.join(' '));
    }
  });

  it('apply is idempotent, export round-trips, prune deletes, next and events work', async () => {
    const { dir, config } = workspace();
    const inv = join(dir, 'inv.yaml');
    writeFileSync(inv, readFileSync('examples/inventory.yaml'));
    const first = await cli(['apply', '-c', config, '-f', inv]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /7 created, 0 updated, 0 unchanged, 0 deleted/);
    const second = await cli(['apply', '-c', config, '-f', inv]);
    assert.match(second.stdout, /0 created, 0 updated, 7 unchanged, 0 deleted/);
    const exported = await cli(['export', '-c', config]);
    writeFileSync(join(dir, 'exported.yaml'), exported.stdout);
    const third = await cli(['apply', '-c', config, '-f', join(dir, 'exported.yaml')]);
    assert.match(third.stdout, /0 created, 0 updated, 7 unchanged/, 'export → apply changes nothing');

    const next = await cli(['machines', 'next', 'db1', 'install:rescue-iso', '-c', config]);
    assert.equal(next.code, 0, next.stderr);
    const list = await cli(['machines', 'list', '-c', config]);
    assert.match(list.stdout, /^db1\s+52:54:00:12:34:57,52:54:00:12:34:58\s+disk\s+install:rescue-iso/m);
    const bad = await cli(['machines', 'next', 'db1', 'install:ghost', '-c', config]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /no profile "ghost"/);
    const missing = await cli(['machines', 'next', 'nobody', 'local', '-c', config]);
    assert.match(missing.stderr, /no machine "nobody"/);

    writeFileSync(join(dir, 'small.yaml'), 'profiles:\n  - name: disk\n    local: true\n');
    const pruned = await cli(['apply', '-c', config, '-f', join(dir, 'small.yaml'), '--prune']);
    assert.match(pruned.stdout, /deleted\s+machine\/web1/);
    assert.match(pruned.stdout, /deleted\s+profile\/rescue-iso/);
  });

  it('a bad inventory names the file, line and field and changes nothing', async () => {
    const { dir, config } = workspace();
    const inv = join(dir, 'bad.yaml');
    writeFileSync(inv, 'machines:\n  - id: a\n    macs: ["52:54:00:zz:00:01"]\n');
    const r = await cli(['apply', '-c', config, '-f', inv]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim(), `error: ${inv}:3:12: machines[0].macs[0]: "52:54:00:zz:00:01" is not a MAC address`);
  });

  it('a bad config names the line and field', async () => {
    const { dir } = workspace();
    const config = join(dir, 'bad.yaml');
    writeFileSync(config, 'http:\n  port: 99999\n');
    const r = await cli(['check', '-c', config]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim(), `error: ${config}:2:9: http.port: must be between 1 and 65535, got 99999`);
  });

  it('serve prints what listens where, serves, and stops cleanly on SIGTERM and SIGINT', async () => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const port = await freePort();
      const { config } = workspace(port);
      const child = spawn(process.execPath, [...ENTRY, 'serve', '-c', config], { stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(child);
      const banner = await waitFor(child, /HTTP\s+listening on 127\.0\.0\.1:\d+/, 20_000);
      assert.match(banner, new RegExp(`listening on 127\\.0\\.0\\.1:${port}`));
      const res = await fetch(`http://127.0.0.1:${port}/boot.ipxe`);
      assert.equal(res.status, 200);
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      child.kill(signal);
      assert.equal(await exited, 0, `exit code after ${signal}`);
    }
  });

  it('a port in use is a clear error naming the port and the fix', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    try {
      const { config } = workspace(port);
      const r = await cli(['serve', '-c', config]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`HTTP: 127\\.0\\.0\\.1:${port} is already in use .*choose another port`));
    } finally {
      blocker.close();
    }
  });

  it('a privileged port without privilege is a clear error naming the port and the fix', async () => {
    const { dir } = workspace();
    const config = join(dir, 'low.yaml');
    writeFileSync(config, `data_dir: ${join(dir, 'd')}\nhttp: { listen: 127.0.0.1, port: 80, tls: { port: 0 } }\n`);
    const { chmodSync } = await import('node:fs');
    chmodSync(dir, 0o777);
    // Run as nobody: setpriv drops root so binding port 80 fails the way it does for an operator's own account.
    const r = await pexec(
      'setpriv',
      ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, ...ENTRY, 'serve', '-c', config],
      {
        timeout: 30_000,
      },
    ).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /HTTP: no permission to bind 127\.0\.0\.1:80\. Ports below 1024 need root or CAP_NET_BIND_SERVICE/,
    );
  });
});
