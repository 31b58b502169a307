/**
 * bootherd's TFTP server against real clients: tftp-hpa, atftp and curl fetch files of several sizes (including one
 * past the 16-bit block-number rollover at blksize 512) and the bytes must match. Path confinement and write refusal
 * are tested with the same clients. Loopback only.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { startTftpServer, type TftpServer } from '../../src/tftp/server.ts';

const run = promisify(execFile);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('TFTP with real clients', () => {
  let server: TftpServer;
  let root: string;
  let out: string;
  const sizes: Record<string, number> = {
    'empty.bin': 0,
    'one-block.bin': 512,
    'odd.bin': 70_001,
    'undionly.kpxe': 70 * 1024,
    'big.bin': 33 * 1024 * 1024 + 77, // > 65535 blocks of 512: block numbers roll over
  };
  const files = new Map<string, Buffer>();

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'bh-tftp-root-'));
    out = mkdtempSync(join(tmpdir(), 'bh-tftp-out-'));
    const second = mkdtempSync(join(tmpdir(), 'bh-tftp-root2-'));
    for (const [name, size] of Object.entries(sizes)) {
      const data = randomFillSync(Buffer.alloc(size));
      files.set(name, data);
      writeFileSync(join(root, name), data);
    }
    mkdirSync(join(root, 'efi'));
    files.set('efi/snponly.efi', randomFillSync(Buffer.alloc(200_000)));
    writeFileSync(join(root, 'efi/snponly.efi'), files.get('efi/snponly.efi')!);
    writeFileSync(join(second, 'from-second-root.txt'), 'second\n');
    files.set('from-second-root.txt', Buffer.from('second\n'));
    writeFileSync(join(tmpdir(), 'bh-tftp-secret.txt'), 'secret\n');
    symlinkSync(join(tmpdir(), 'bh-tftp-secret.txt'), join(root, 'escape.txt'));
    server = await startTftpServer({
      host: '127.0.0.1',
      port: 0,
      roots: [root, second],
      generated: {
        get: async (path) =>
          path === 'pxelinux.cfg/01-52-54-00-12-34-56' ? Buffer.from('DEFAULT local\n') : undefined,
      },
      timeoutMs: 500,
    });
  });
  after(async () => {
    await server?.close();
  });

  const port = () => String(server.port);

  it('tftp-hpa (RFC 1350, no options) fetches every size byte-exact', async () => {
    for (const name of ['empty.bin', 'one-block.bin', 'odd.bin', 'undionly.kpxe', 'big.bin']) {
      const dest = join(out, `hpa-${name}`);
      await run('tftp', ['-m', 'binary', '127.0.0.1', port(), '-c', 'get', name, dest], { timeout: 120_000 });
      assert.equal(sha(readFileSync(dest)), sha(files.get(name)!), name);
    }
  });

  it('atftp with blksize, tsize and windowsize fetches byte-exact', async () => {
    for (const [name, opts] of [
      ['odd.bin', ['--option', 'blksize 1468', '--option', 'tsize 0']],
      ['big.bin', ['--option', 'blksize 1468', '--option', 'windowsize 16']],
      ['efi/snponly.efi', ['--option', 'blksize 8192']],
      ['big.bin', ['--option', 'blksize 512']],
    ] as const) {
      const dest = join(out, `atftp-${name.replace('/', '_')}-${opts.join('').replace(/\W/g, '')}`);
      await run('atftp', ['--get', '-r', name, '-l', dest, ...opts, '127.0.0.1', port()], { timeout: 180_000 });
      assert.equal(sha(readFileSync(dest)), sha(files.get(name)!), `${name} ${opts.join(' ')}`);
    }
  });

  it('curl (tftp://, --tftp-blksize) fetches byte-exact, from the second root and generated files', async () => {
    for (const [name, blk] of [
      ['odd.bin', '1468'],
      ['undionly.kpxe', '512'],
      ['from-second-root.txt', '1024'],
      ['efi/snponly.efi', '4096'],
    ] as const) {
      const dest = join(out, `curl-${name.replace('/', '_')}`);
      await run('curl', ['-sS', '--fail', '--tftp-blksize', blk, '-o', dest, `tftp://127.0.0.1:${port()}/${name}`], {
        timeout: 60_000,
      });
      assert.equal(sha(readFileSync(dest)), sha(files.get(name)!), name);
    }
    const cfg = join(out, 'pxelinux.cfg');
    await run('curl', ['-sS', '--fail', '-o', cfg, `tftp://127.0.0.1:${port()}/pxelinux.cfg/01-52-54-00-12-34-56`]);
    assert.equal(readFileSync(cfg, 'utf8'), 'DEFAULT local\n');
  });

  it('traversal, absolute paths, backslashes and escaping symlinks are refused; nothing leaks', async () => {
    for (const name of [
      '../bh-tftp-secret.txt',
      '../../etc/passwd',
      '/etc/passwd',
      '..\\..\\etc\\passwd',
      'efi/../../etc/passwd',
      'escape.txt',
    ]) {
      const dest = join(out, `evil-${Math.random()}`);
      const r = await run('atftp', ['--get', '-r', name, '-l', dest, '127.0.0.1', port()], { timeout: 5_000 }).then(
        () => 'fetched',
        (err: { stderr?: string }) => err.stderr ?? 'failed',
      );
      // A prompt TFTP ERROR from the server, not a client timeout.
      assert.match(r, /error received from server/, `${name}: ${r}`);
      assert.ok(!existsSync(dest) || readFileSync(dest).length === 0, `${name}: no bytes delivered`);
    }
  });

  it('write requests are refused and write nothing', async () => {
    const src = join(out, 'upload.txt');
    writeFileSync(src, 'upload\n');
    await assert.rejects(
      run('atftp', ['--put', '-l', src, '-r', 'upload.txt', '127.0.0.1', port()], { timeout: 20_000 }),
    );
    assert.equal(existsSync(join(root, 'upload.txt')), false);
  });

  it('counts transfers and refusals', () => {
    const s = server.stats();
    assert.ok(s.completed >= 14, JSON.stringify(s));
    assert.ok(s.errors >= 7, JSON.stringify(s));
    assert.equal(s.active, 0);
  });
});
