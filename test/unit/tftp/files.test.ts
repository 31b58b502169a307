import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { checkRequestPath, FileStore, type GeneratedFiles, type OpenResult } from '../../../src/tftp/files.ts';
import { TftpErrorCode } from '../../../src/tftp/packet.ts';

const client = { address: '127.0.0.1', port: 1234 };
let dir: string;
let rootA: string;
let rootB: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'bh-tftp-files-'));
  rootA = join(dir, 'a');
  rootB = join(dir, 'b');
  mkdirSync(join(rootA, 'sub'), { recursive: true });
  mkdirSync(rootB);
  writeFileSync(join(dir, 'secret'), 'outside');
  writeFileSync(join(rootA, 'pxelinux.0'), 'A-pxelinux');
  writeFileSync(join(rootA, 'sub', 'f'), 'A-sub-f');
  writeFileSync(join(rootB, 'pxelinux.0'), 'B-pxelinux');
  writeFileSync(join(rootB, 'only-b'), 'B-only');
  writeFileSync(join(rootA, 'big'), Buffer.alloc(300_000, 7));
  symlinkSync(join(dir, 'secret'), join(rootA, 'leak'));
  symlinkSync('../../secret', join(rootA, 'sub', 'leak-rel'));
  symlinkSync('sub/f', join(rootA, 'inside-link'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

async function content(r: OpenResult): Promise<string> {
  if (!r.ok) assert.fail(`open failed: ${r.code} ${r.message}`);
  const s = r.file.data ? r.file.data.toString() : (await r.file.read(0, r.file.size)).toString();
  await r.file.close();
  return s;
}

function refused(r: OpenResult, code: number): void {
  assert.equal(r.ok, false, 'expected a refusal');
  if (!r.ok) assert.equal(r.code, code, r.message);
}

describe('checkRequestPath', () => {
  test('plain, leading slash, dot segments', () => {
    assert.deepEqual(checkRequestPath('pxelinux.0'), { ok: true, path: 'pxelinux.0', absolute: false });
    assert.deepEqual(checkRequestPath('/pxelinux.0'), { ok: true, path: 'pxelinux.0', absolute: true });
    assert.deepEqual(checkRequestPath('./a//b'), { ok: true, path: 'a/b', absolute: false });
  });
  for (const bad of ['../etc/passwd', 'a/../../b', '..', '..\\x', 'a\\b', 'a\0b', 'a\nb', '/', '']) {
    test(`refused: ${JSON.stringify(bad)}`, () => assert.equal(checkRequestPath(bad).ok, false));
  }
});

describe('FileStore', () => {
  test('first root wins; later roots are searched', async () => {
    const fs = new FileStore({ roots: [rootA, rootB] });
    assert.equal(await content(await fs.open('pxelinux.0', client)), 'A-pxelinux');
    assert.equal(await content(await fs.open('only-b', client)), 'B-only');
    assert.equal(await content(await fs.open('/sub/f', client)), 'A-sub-f');
  });

  test('a missing root is skipped', async () => {
    const fs = new FileStore({ roots: [join(dir, 'nope'), rootB] });
    assert.equal(await content(await fs.open('only-b', client)), 'B-only');
  });

  test('not found → 1; traversal, NUL, backslash, escaping symlinks → 2', async () => {
    const fs = new FileStore({ roots: [rootA, rootB] });
    refused(await fs.open('missing', client), TftpErrorCode.FileNotFound);
    refused(await fs.open('../secret', client), TftpErrorCode.AccessViolation);
    refused(await fs.open('sub/../../secret', client), TftpErrorCode.AccessViolation);
    refused(await fs.open('..\\secret', client), TftpErrorCode.AccessViolation);
    refused(await fs.open('pxelinux.0\0x', client), TftpErrorCode.AccessViolation);
    refused(await fs.open('leak', client), TftpErrorCode.AccessViolation);
    refused(await fs.open('sub/leak-rel', client), TftpErrorCode.AccessViolation);
    refused(await fs.open('/etc/passwd', client), TftpErrorCode.AccessViolation);
    refused(await fs.open(join(dir, 'secret'), client), TftpErrorCode.AccessViolation);
    refused(await fs.open('sub', client), TftpErrorCode.AccessViolation);
    // Control: a symlink that stays inside the root is fine, and the root's own absolute path is accepted.
    assert.equal(await content(await fs.open('inside-link', client)), 'A-sub-f');
    assert.equal(await content(await fs.open(join(rootB, 'only-b'), client)), 'B-only');
  });

  test('generated files come first and get the normalized path and the client', async () => {
    const seen: [string, number][] = [];
    const generated: GeneratedFiles = {
      async get(path, c) {
        seen.push([path, c.port]);
        return path === 'pxelinux.cfg/01-52-54-00-12-34-56' ? Buffer.from('DEFAULT x') : undefined;
      },
    };
    const fs = new FileStore({ roots: [rootA], generated });
    const r = await fs.open('/pxelinux.cfg/01-52-54-00-12-34-56', client);
    assert.equal(r.ok && r.file.size, 9);
    assert.equal(await content(r), 'DEFAULT x');
    assert.equal(await content(await fs.open('pxelinux.0', client)), 'A-pxelinux');
    refused(await fs.open('pxelinux.cfg/../../x', client), TftpErrorCode.AccessViolation);
    assert.deepEqual(seen, [
      ['pxelinux.cfg/01-52-54-00-12-34-56', 1234],
      ['pxelinux.0', 1234],
    ]);
  });

  test('small files are cached (one read for many opens), invalidated on change, bounded by bytes', async () => {
    const fs = new FileStore({ roots: [rootA], cacheBytes: 400_000, cacheMaxFileBytes: 350_000 });
    const opens = await Promise.all(Array.from({ length: 50 }, () => fs.open('big', client)));
    assert.ok(opens.every((r) => r.ok && r.file.data?.length === 300_000));
    assert.equal(fs.stats().cacheMisses, 1);
    assert.equal(fs.stats().cachedBytes, 300_000);
    await content(await fs.open('pxelinux.0', client));
    assert.equal(fs.stats().cacheHits, 0, 'concurrent first opens share the load, they are not hits');
    await content(await fs.open('big', client));
    assert.equal(fs.stats().cacheHits, 1);

    // A second big file pushes the least recently used one out.
    writeFileSync(join(rootA, 'big2'), Buffer.alloc(300_000, 8));
    await content(await fs.open('big2', client));
    assert.ok(fs.stats().cachedBytes <= 400_000);

    // A changed file is read again.
    writeFileSync(join(rootA, 'sub', 'f'), 'changed!');
    assert.equal(await content(await fs.open('sub/f', client)), 'changed!');
    writeFileSync(join(rootA, 'sub', 'f'), 'A-sub-f');
  });

  test('files over the cache limit are read through a handle', async () => {
    const fs = new FileStore({ roots: [rootA], cacheMaxFileBytes: 1000 });
    const r = await fs.open('big', client);
    assert.ok(r.ok);
    if (!r.ok) return;
    assert.equal(r.file.data, undefined);
    assert.equal(r.file.size, 300_000);
    const chunk = await r.file.read(299_990, 100);
    assert.equal(chunk.length, 10);
    assert.ok(chunk.every((b) => b === 7));
    await r.file.close();
    assert.equal(fs.stats().cachedBytes, 0);
  });
});
