/**
 * The ISO 9660 reader against images xorriso builds here: Rock Ridge, Joliet and plain names, nested folders, a
 * file of several MB read back byte for byte, the El Torito catalog, and malformed images (truncated, a folder that
 * loops back to the root, random damage) that must give ISO_INVALID, never a crash or a hang.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BootherdError } from '../../../src/errors.ts';
import { type IsoFile, IsoReader } from '../../../src/images/iso9660.ts';

const dir = mkdtempSync(join(tmpdir(), 'bh-iso9660-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const DEEP = 'a/b/c/d/e/f/g/h/i/j';
const LONG = 'A Long Mixed-Case Name with spaces.and.dots.txt';
const UNICODE = 'Grüße-ünïcode-日本.txt';
const big = randomBytes(5 * 1024 * 1024 + 123);

function tree(): string {
  const root = join(dir, 'tree');
  mkdirSync(join(root, DEEP), { recursive: true });
  mkdirSync(join(root, 'install.amd'), { recursive: true });
  mkdirSync(join(root, 'boot'), { recursive: true });
  writeFileSync(join(root, DEEP, 'deep.txt'), 'deep\n');
  writeFileSync(join(root, LONG), 'long\n');
  writeFileSync(join(root, UNICODE), 'unicode\n');
  writeFileSync(join(root, 'install.amd', 'vmlinuz'), big);
  writeFileSync(join(root, 'empty'), '');
  writeFileSync(join(root, 'boot', 'bios.img'), randomBytes(2048));
  writeFileSync(join(root, 'boot', 'efi.img'), randomBytes(4096));
  symlinkSync('install.amd/vmlinuz', join(root, 'link-to-kernel'));
  return root;
}

/** xorriso's mkisofs emulation: Rock Ridge and Joliet, BIOS and EFI El Torito entries. */
function rockRidgeIso(root: string): string {
  const iso = join(dir, 'rr.iso');
  execFileSync('xorriso', [
    ...['-as', 'mkisofs', '-quiet', '-R', '-J', '-joliet-long', '-V', 'TEST_VOL', '-o', iso],
    ...['-b', 'boot/bios.img', '-no-emul-boot', '-boot-load-size', '4'],
    ...['-eltorito-alt-boot', '-e', 'boot/efi.img', '-no-emul-boot', root],
  ]);
  return iso;
}

/** xorriso's own commands, Rock Ridge off: Joliet only, or plain ISO 9660 names. */
function nativeIso(root: string, file: string, joliet: boolean): string {
  const iso = join(dir, file);
  execFileSync(
    'xorriso',
    [
      '-report_about',
      'SORRY',
      '-rockridge',
      'off',
      '-joliet',
      joliet ? 'on' : 'off',
      '-outdev',
      iso,
      '-map',
      root,
      '/',
    ],
    { stdio: 'ignore' },
  );
  return iso;
}

async function listing(iso: string) {
  const r = await IsoReader.open(iso);
  try {
    return r.listing;
  } finally {
    await r.close();
  }
}

async function sha(r: IsoReader, f: IsoFile): Promise<string> {
  const h = createHash('sha256');
  for await (const c of r.stream(f, 64 * 1024)) h.update(c);
  return h.digest('hex');
}

/** The root folder's directory records of a small image (one sector): offset and identifier of each. */
function rootRecords(img: Buffer): { at: number; id: string }[] {
  // ECMA-119 8.4.18: the root's directory record at BP 157 of the PVD; its extent at BP 3 (LE).
  let at = img.readUInt32LE(16 * 2048 + 156 + 2) * 2048;
  const out: { at: number; id: string }[] = [];
  while (img[at]! > 0) {
    out.push({ at, id: img.toString('latin1', at + 33, at + 33 + img[at + 32]!) });
    at += img[at]!;
  }
  return out;
}

async function rejects(iso: string, message: RegExp): Promise<void> {
  await assert.rejects(IsoReader.open(iso), (err: unknown) => {
    assert.ok(err instanceof BootherdError, `not a BootherdError: ${String(err)}`);
    assert.equal(err.code, 'ISO_INVALID');
    assert.match(err.message, message);
    return true;
  });
}

let root: string;
let rr: string;
before(() => {
  root = tree();
  rr = rockRidgeIso(root);
});

describe('ISO 9660 reader', () => {
  it('Rock Ridge names: case, spaces, UTF-8, deep folders; symbolic links are left out', async () => {
    const l = await listing(rr);
    assert.equal(l.names, 'rock-ridge');
    assert.equal(l.volumeId, 'TEST_VOL');
    const paths = l.files.map((f) => f.path).sort();
    assert.deepEqual(
      paths,
      [
        LONG,
        `${DEEP}/deep.txt`,
        'boot/bios.img',
        'boot/efi.img',
        'boot.catalog',
        'empty',
        'install.amd/vmlinuz',
        UNICODE,
      ].sort(),
    );
  });

  it('streams a file of several MB back byte for byte, in small chunks, through its extents', async () => {
    const r = await IsoReader.open(rr);
    try {
      const f = r.listing.files.find((x) => x.path === 'install.amd/vmlinuz')!;
      assert.equal(f.size, big.length);
      assert.equal(await sha(r, f), createHash('sha256').update(big).digest('hex'));
      const empty = r.listing.files.find((x) => x.path === 'empty')!;
      assert.equal(empty.size, 0);
      assert.equal(await r.readText(empty), '');
      const deep = r.listing.files.find((x) => x.path === `${DEEP}/deep.txt`)!;
      assert.equal(await r.readText(deep), 'deep\n');
      await assert.rejects(r.readText(f), /more than the 65536 expected/);
    } finally {
      await r.close();
    }
  });

  it('El Torito: the BIOS default entry and the UEFI section entry', async () => {
    const l = await listing(rr);
    assert.deepEqual(
      l.boot.map((b) => [b.platform, b.bootable, b.media]),
      [
        ['bios', true, 'no-emulation'],
        ['uefi', true, 'no-emulation'],
      ],
    );
    // The entries point at the boot images' sectors.
    const r = await IsoReader.open(rr);
    try {
      const bios = r.listing.files.find((f) => f.path === 'boot/bios.img')!;
      assert.equal(l.boot[0]!.lba * 2048, bios.extents[0]!.offset);
    } finally {
      await r.close();
    }
  });

  it('Joliet names (UCS-2) when there is no Rock Ridge', async () => {
    const l = await listing(nativeIso(root, 'joliet.iso', true));
    assert.equal(l.names, 'joliet');
    const paths = l.files.map((f) => f.path);
    assert.ok(paths.includes(LONG), paths.join('\n'));
    assert.ok(paths.includes(UNICODE), paths.join('\n'));
    assert.ok(paths.includes(`${DEEP}/deep.txt`), paths.join('\n'));
    assert.equal(l.boot.length, 0);
  });

  it('plain ISO 9660 names are read like Linux does (lower case, no ;1 version)', async () => {
    const l = await listing(nativeIso(root, 'plain.iso', false));
    assert.equal(l.names, 'iso9660');
    const paths = l.files.map((f) => f.path);
    assert.ok(paths.includes('install_amd/vmlinuz'), paths.join('\n'));
    assert.ok(
      paths.every((p) => p === p.toLowerCase() && !p.includes(';')),
      paths.join('\n'),
    );
  });
  it('a multi-extent file (ECMA-119 9.1.6 bit 7) is read as one file over its extents', async () => {
    const mroot = join(dir, 'multi-tree');
    mkdirSync(mroot, { recursive: true });
    const a = randomBytes(3000);
    const b = randomBytes(5000);
    writeFileSync(join(mroot, 'PARTA.BIN'), a);
    writeFileSync(join(mroot, 'PARTB.BIN'), b);
    const iso = nativeIso(mroot, 'multi.iso', false);
    // Make the two records one file: the first says "not the final record", the second takes the same name.
    const img = readFileSync(iso);
    const records = rootRecords(img);
    const first = records.find((r) => r.id === 'PARTA.BIN;1')!;
    const second = records.find((r) => r.id === 'PARTB.BIN;1')!;
    img[first.at + 25] = img[first.at + 25]! | 0x80;
    img.write('PARTA', second.at + 33, 'latin1');
    writeFileSync(iso, img);
    const r = await IsoReader.open(iso);
    try {
      const files = r.listing.files.filter((f) => f.path.startsWith('part'));
      assert.deepEqual(
        files.map((f) => [f.path, f.size, f.extents.length]),
        [['parta.bin', 8000, 2]],
      );
      assert.equal(
        await sha(r, files[0]!),
        createHash('sha256')
          .update(Buffer.concat([a, b]))
          .digest('hex'),
      );
    } finally {
      await r.close();
    }
  });
});

describe('ISO 9660 reader: malformed images', () => {
  it('a truncated image: the file past the end is named', async () => {
    const iso = join(dir, 'truncated.iso');
    writeFileSync(iso, readFileSync(rr).subarray(0, 1024 * 1024));
    await rejects(iso, /past the end of the image/);
  });

  it('not an ISO at all, and an image cut inside its volume descriptors', async () => {
    const junk = join(dir, 'junk.iso');
    writeFileSync(junk, randomBytes(64 * 1024));
    await rejects(junk, /not an ISO 9660 image/);
    const cut = join(dir, 'cut.iso');
    writeFileSync(cut, readFileSync(rr));
    truncateSync(cut, 16 * 2048 + 100);
    await rejects(cut, /not an ISO 9660 image \(only 32868 bytes\)/);
    writeFileSync(cut, readFileSync(rr).subarray(0, 18 * 2048));
    await rejects(cut, /volume descriptor 2 lies past the end of the image/);
  });

  it('a folder whose record points back at the root: refused, not walked forever', async () => {
    const loopRoot = join(dir, 'loop-tree');
    mkdirSync(join(loopRoot, 'sub', 'inner'), { recursive: true });
    writeFileSync(join(loopRoot, 'sub', 'inner', 'x'), 'x');
    const iso = nativeIso(loopRoot, 'loop.iso', false);
    const img = readFileSync(iso);
    const rootLba = img.readUInt32LE(16 * 2048 + 156 + 2);
    const sub = rootRecords(img).find((r) => r.id === 'SUB');
    assert.ok(sub, 'no SUB record in the root folder');
    // Its extent (BP 3 little-endian, BP 7 big-endian) now points at the root folder.
    img.writeUInt32LE(rootLba, sub.at + 2);
    img.writeUInt32BE(rootLba, sub.at + 6);
    writeFileSync(iso, img);
    await rejects(iso, /loops back/);
  });

  it('random damage to the descriptors and folders: ISO_INVALID or a listing, never another error', async () => {
    const clean = readFileSync(rr);
    // A fixed sequence (LCG), so a failure can be replayed.
    let seed = 12345;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const iso = join(dir, 'damaged.iso');
    let refused = 0;
    for (let round = 0; round < 150; round++) {
      const img = Buffer.from(clean);
      // Sectors 16-40 hold the descriptors, the boot catalog and the folders of this small tree.
      for (let i = 0; i < 8; i++) img[16 * 2048 + rnd(24 * 2048)] = rnd(256);
      writeFileSync(iso, img);
      try {
        const r = await IsoReader.open(iso);
        await r.close();
      } catch (err) {
        assert.ok(err instanceof BootherdError && err.code === 'ISO_INVALID', `round ${round}: ${String(err)}`);
        refused++;
      }
    }
    assert.ok(refused > 0, 'no damaged image was refused: the damage missed every structure');
  });
});
