/** `serve` restarts itself in place with its heap settings: same PID, same stdio, the operator's own flags kept. */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { missingFlags, SERVE_FLAGS } from '../../src/cli/serve-flags.ts';
import { freePort, serve } from '../lib/cli.ts';

const cmdline = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');

describe('serve heap flags', () => {
  const children: ChildProcess[] = [];
  after(() => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  });

  it('a flag given on the command line or in NODE_OPTIONS is not added again', () => {
    assert.deepEqual(missingFlags([]), SERVE_FLAGS);
    assert.deepEqual(missingFlags(['--import', 'tsx', ...SERVE_FLAGS]), []);
    assert.deepEqual(missingFlags(['--max_semi_space_size=16'], '--heap-growing-percent=100'), [
      '--initial-old-space-size=48',
    ]);
  });

  it('serve runs with them in the process that was started, its output still on its stdio', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bh-flags-'));
    const config = join(dir, 'bootherd.yaml');
    const port = await freePort();
    writeFileSync(config, `data_dir: ${dir}/data\nhttp: { listen: 127.0.0.1, port: ${port}, tls: { port: 0 } }\n`);
    // serve() waits for the HTTP listener's log line: it comes from the re-executed image, through the same pipe.
    const served = await serve(config, children);
    const args = cmdline(served.child.pid!);
    for (const f of SERVE_FLAGS) assert.ok(args.includes(f), `${f} in ${args.join(' ')}`);
    assert.equal(args.filter((a) => a === 'serve').length, 1);
    const env = readFileSync(`/proc/${served.child.pid}/environ`, 'utf8').split('\0');
    assert.ok(env.includes('MALLOC_ARENA_MAX=2'));
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    assert.equal(await served.stop(), 0);
  });
});
