/**
 * The importer over a real core (SQLite in memory, the HTTP app through inject()): the profile and script it makes,
 * the files it serves back, leftovers of killed imports, conflicts, invalid ISOs that leave nothing, and removal with
 * and without --force.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, beforeEach, describe, it } from 'node:test';
import { BootherdError } from '../../../src/errors.ts';
import { listImages, removeImage } from '../../../src/images/catalog.ts';
import { importIso } from '../../../src/images/import.ts';
import { type TestCore, testCore } from '../../lib/core.ts';

const dir = mkdtempSync(join(tmpdir(), 'bh-import-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const KERNEL = Buffer.alloc(70_000, 0x4b);
const INITRD = Buffer.alloc(50_000, 0x49);

function iso(name: string, files: Record<string, Buffer | string>): string {
  const root = join(dir, `${name}-root`);
  for (const [p, data] of Object.entries(files)) {
    mkdirSync(join(root, p, '..'), { recursive: true });
    writeFileSync(join(root, p), data);
  }
  const out = join(dir, `${name}.iso`);
  execFileSync('xorriso', ['-as', 'mkisofs', '-quiet', '-R', '-J', '-o', out, root], { stdio: 'ignore' });
  return out;
}

const alpine = iso('alpine', {
  'boot/vmlinuz-lts': KERNEL,
  'boot/initramfs-lts': INITRD,
  'apks/x86_64/APKINDEX.tar.gz': 'index',
  '.alpine-release': '3.20.3 240906\n',
});
const unknown = iso('unknown', { 'README.TXT': 'hello' });
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const MAC = '52:54:00:00:00:01';
const isCode = (code: string) => (e: unknown) => e instanceof BootherdError && e.code === code;

describe('images import', () => {
  let t: TestCore;
  const run = (isoFile: string, name: string, append?: string) =>
    importIso({ iso: isoFile, name, assetsDir: t.assets, inventory: t.inventory, ...(append ? { append } : {}) });
  const images = () => join(t.assets, 'images');

  beforeEach(async () => {
    t = await testCore(`machines:\n  - id: m1\n    macs: ["${MAC}"]\n`);
  });
  afterEach(() => t.close());

  it('an Alpine ISO: its profile renders a script with URLs back to bootherd, and the files are served', async () => {
    const m = await run(alpine, 'alp', 'console=ttyS0');
    assert.equal(m.kind, 'alpine');
    assert.equal(m.source.sha256, sha(readFileSync(alpine)));
    assert.deepEqual(
      m.files.map((f) => [f.path, f.sha256]),
      [
        ['boot/vmlinuz-lts', sha(KERNEL)],
        ['boot/initramfs-lts', sha(INITRD)],
        ['apks/x86_64/APKINDEX.tar.gz', sha(Buffer.from('index'))],
      ],
    );
    const script = await t.app.inject({ url: `/ipxe?mac=${MAC}&profile=alp` });
    assert.equal(script.statusCode, 200, script.body);
    const base = 'http://192.0.2.1:8080/assets/images/alp';
    // No modloop in this image: no modloop= argument.
    assert.ok(
      script.body.includes(
        `\nkernel ${base}/boot/vmlinuz-lts initrd=initramfs-lts ip=dhcp alpine_repo=${base}/apks modules=loop,squashfs console=ttyS0 || goto failed\n` +
          `initrd --name initramfs-lts ${base}/boot/initramfs-lts || goto failed\n`,
      ),
      script.body,
    );
    const kernel = await t.app.inject({ url: '/assets/images/alp/boot/vmlinuz-lts' });
    assert.equal(kernel.statusCode, 200);
    assert.equal(sha(kernel.rawPayload), sha(KERNEL));
    assert.deepEqual(
      (await listImages(t.assets, t.inventory)).map((i) => [i.manifest.name, i.profileExists]),
      [['alp', true]],
    );
  });

  it("a killed import's leftover is removed; a live one of the same name is a conflict, of another name left alone", async () => {
    const dead = spawnSync('true').pid!;
    mkdirSync(join(images(), '.alp.partial', 'boot'), { recursive: true });
    writeFileSync(join(images(), '.alp.partial', '.owner'), `${dead}\n`);
    writeFileSync(join(images(), '.alp.partial', 'boot', 'vmlinuz-lts'), 'half');
    mkdirSync(join(images(), '.other.partial'));
    writeFileSync(join(images(), '.other.partial', '.owner'), `${process.ppid}\n`);
    await run(alpine, 'alp');
    assert.deepEqual(readdirSync(images()).sort(), ['.other.partial', 'alp']);
    // What the crash safety rests on: nothing under a dot-name is served.
    writeFileSync(join(images(), '.other.partial', 'half.iso'), 'half');
    const hidden = await t.app.inject({ url: '/assets/images/.other.partial/half.iso' });
    assert.ok([403, 404].includes(hidden.statusCode), `served a staging file: ${hidden.statusCode}`);
    assert.equal(sha(readFileSync(join(images(), 'alp', 'boot', 'vmlinuz-lts'))), sha(KERNEL));

    mkdirSync(join(images(), '.busy.partial'));
    writeFileSync(join(images(), '.busy.partial', '.owner'), `${process.ppid}\n`);
    await assert.rejects(run(alpine, 'busy'), /image "busy" is being imported by process/);
  });

  it('conflicts and bad input leave nothing behind: existing profile, existing image, bad name, not an ISO', async () => {
    await t.inventory.putProfile({ name: 'taken', boot: { kind: 'local' } }, 'create');
    await assert.rejects(run(unknown, 'taken'), /a profile "taken" exists already/);
    await run(unknown, 'unk');
    await assert.rejects(run(unknown, 'unk'), /image "unk" exists already/);
    await assert.rejects(run(unknown, '../evil'), isCode('VALIDATION'));
    const junk = join(dir, 'junk.iso');
    writeFileSync(junk, Buffer.alloc(100_000, 1));
    await assert.rejects(run(junk, 'junk'), isCode('ISO_INVALID'));
    assert.deepEqual(readdirSync(images()), ['unk']);
    assert.deepEqual((await t.inventory.listProfiles()).map((p) => p.name).sort(), ['taken', 'unk']);
    const p = await t.inventory.getProfile('unk');
    assert.deepEqual(p.boot, { kind: 'sanboot', url: 'images/unk/unk.iso' });
  });

  it('remove: refused while used; --force detaches machine, next action, group and menu, then deletes', async () => {
    await run(unknown, 'unk');
    const m1 = await t.inventory.getMachine('m1');
    await t.inventory.putMachine(
      { ...m1, profile: 'unk', nextAction: { action: 'install', profile: 'unk' } },
      'replace',
    );
    await t.inventory.putGroup({ name: 'g', selectors: { platform: 'pcbios' }, profile: 'unk' }, 'create');
    await t.inventory.putProfile({ name: 'menu', boot: { kind: 'menu', items: ['unk'] } }, 'create');
    await assert.rejects(removeImage(t.assets, t.inventory, 'unk', false), /is used by .*--force/);
    assert.ok(existsSync(join(images(), 'unk', 'unk.iso')));

    const r = await removeImage(t.assets, t.inventory, 'unk', true);
    assert.deepEqual(r.detached.sort(), [
      'group g',
      'machine m1',
      'machine m1 (next action)',
      'profile menu (menu item)',
    ]);
    assert.deepEqual(readdirSync(images()), []);
    await assert.rejects(t.inventory.getProfile('unk'), isCode('PROFILE_NOT_FOUND'));
    const after = await t.inventory.getMachine('m1');
    assert.equal(after.profile, undefined);
    assert.equal(after.nextAction, undefined);
    await assert.rejects(removeImage(t.assets, t.inventory, 'unk', false), isCode('IMAGE_NOT_FOUND'));
  });
});
