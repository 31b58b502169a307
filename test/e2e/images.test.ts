/**
 * `bootherd images import` end to end, through the real CLI beside a running `bootherd serve`: ISOs built here with
 * xorriso in the layouts of a Debian netinst, an Alpine ISO and an unknown (isolinux) one, each holding the e2e
 * payload kernel and initrd. Each becomes the profile kind expected; the Debian and Alpine ones boot their kernel in
 * QEMU (SeaBIOS + iPXE ROM, bootherd's full DHCP) with the command line bootherd made. A kill -9 in the middle of
 * an import leaves no profile and no file under a served name, and a re-run succeeds.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cli, ENTRY, ROOT, waitFor } from '../lib/cli.ts';
import { type RunningBootherd, startFull } from './lib/bootherd.ts';
import { createTestNet, type TestNet } from './lib/netns.ts';
import { buildIso, buildPayload, MARKER, type Payload } from './lib/payload.ts';
import { startVm, tail } from './lib/qemu.ts';

const CACHE = new URL('../../.cache', import.meta.url).pathname;
const DEB_MAC = '52:54:00:e2:e1:01';
const ALP_MAC = '52:54:00:e2:e1:02';
const APPEND = 'console=ttyS0 panic=-1';

const work = mkdtempSync(join(tmpdir(), 'bh-images-'));

function xorriso(root: string, iso: string, volid: string): string {
  execFileSync('xorriso', ['-as', 'mkisofs', '-quiet', '-R', '-J', '-V', volid, '-o', iso, root], { stdio: 'ignore' });
  return iso;
}

function layout(name: string, files: Record<string, Buffer | string>): string {
  const root = join(work, name);
  for (const [path, data] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), data);
  }
  return root;
}

const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe('images import: Debian, Alpine and unknown ISOs become profiles that boot', () => {
  let net: TestNet;
  let server: RunningBootherd;
  let payload: Payload;
  let isos: { debian: string; alpine: string; unknown: string };
  /** The body, a newline and the HTTP status, fetched from inside the test network. */
  const curl = (url: string) =>
    execFileSync(net.exec[0] as string, [
      ...net.exec.slice(1),
      'curl',
      '-sS',
      '--max-time',
      '10',
      '-o',
      '-',
      '-w',
      '\n%{http_code}',
      url,
    ]);
  /** The real CLI against the running server's config (its store and asset tree). */
  const bh = (...args: string[]) => cli([...args, '-c', server.config], {}, 120_000);
  const assets = () => join(server.dir, 'assets');

  before(async () => {
    payload = buildPayload(CACHE);
    const kernel = readFileSync(payload.kernel);
    const initrd = readFileSync(payload.initrd);
    isos = {
      debian: xorriso(
        layout('debian', {
          'install.amd/vmlinuz': kernel,
          'install.amd/initrd.gz': initrd,
          '.disk/info': 'Debian GNU/Linux 12.8.0 "Bookworm" - Official amd64 NETINST with firmware 20241109-11:04\n',
        }),
        join(work, 'debian-12.8.0-amd64-netinst.iso'),
        'Debian 12.8.0 amd64 n',
      ),
      alpine: xorriso(
        layout('alpine', {
          'boot/vmlinuz-lts': kernel,
          'boot/initramfs-lts': initrd,
          'boot/modloop-lts': Buffer.alloc(300_000, 7),
          'apks/x86_64/APKINDEX.tar.gz': 'not really an index\n',
          '.alpine-release': '3.20.3 240906\n',
        }),
        join(work, 'alpine-standard-3.20.3-x86_64.iso'),
        'alpine-std 3.20.3 x86_64',
      ),
      unknown: buildIso(),
    };
    net = createTestNet();
    net.addTap('tap0');
    server = await startFull(
      net,
      `machines:\n  - id: deb\n    macs: ["${DEB_MAC}"]\n  - id: alp\n    macs: ["${ALP_MAC}"]\n`,
      'boot:\n  unknown: local\n',
    );
  });

  after(async () => {
    await server?.stop();
    net?.destroy();
    rmSync(work, { recursive: true, force: true });
  });

  it('imports each ISO into the profile kind expected, with its files and manifest', { timeout: 180_000 }, async () => {
    const deb = await bh('images', 'import', isos.debian, '--name', 'debian', '--append', APPEND);
    assert.equal(deb.code, 0, deb.stderr);
    assert.match(deb.stdout, /debian-installer \(Debian GNU\/Linux 12\.8\.0 "Bookworm"/);
    const alp = await bh('images', 'import', isos.alpine, '--append', APPEND);
    assert.equal(alp.code, 0, alp.stderr);
    const unk = await bh('images', 'import', isos.unknown, '--name', 'tiny');
    assert.equal(unk.code, 0, unk.stderr);
    // Not a terminal: plain progress lines on stderr, ending at 100 %.
    assert.match(unk.stderr, /^100% {2}\d+\.\d\/\d+\.\d MB {2}[\d.]+ MB\/s {2}ETA /m);
    assert.match(unk.stdout, /El Torito: bios no-emulation image/);

    const list = await bh('images', 'list');
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^debian\s+debian-installer\s/m);
    assert.match(list.stdout, /^alpine-standard-3\.20\.3-x86_64\s+alpine\s/m);
    assert.match(list.stdout, /^tiny\s+unknown\s/m);

    const exported = (await bh('export')).stdout;
    assert.match(
      exported,
      /- name: debian\n.*\n {4}kernel: images\/debian\/install\.amd\/vmlinuz\n {4}initrds:\n {6}- images\/debian\/install\.amd\/initrd\.gz\n {4}cmdline: console=ttyS0 panic=-1 --- quiet\n/,
    );
    assert.match(exported, /- name: tiny\n.*\n {4}sanboot: images\/tiny\/tiny\.iso\n/);

    // The manifest: source, kind, a SHA-256 per file that matches what is served.
    const m = JSON.parse(readFileSync(join(assets(), 'images', 'tiny', 'image.json'), 'utf8'));
    assert.equal(m.kind, 'unknown');
    assert.equal(m.source.sha256, sha(readFileSync(isos.unknown)));
    assert.deepEqual(
      m.files.map((f: { path: string }) => f.path),
      ['tiny.iso'],
    );
    assert.equal(m.files[0].sha256, m.source.sha256);
    const a = JSON.parse(readFileSync(join(assets(), 'images', 'alpine-standard-3.20.3-x86_64', 'image.json'), 'utf8'));
    assert.equal(a.kind, 'alpine');
    assert.equal(a.description, 'Alpine Linux 3.20.3 (lts)');
    assert.equal(
      a.files.find((f: { path: string }) => f.path === 'boot/vmlinuz-lts').sha256,
      sha(readFileSync(payload.kernel)),
    );

    // Served back by bootherd under the URLs the Alpine command line names.
    const base = `http://${net.serverIp}:8080/assets/images/alpine-standard-3.20.3-x86_64`;
    const modloop = curl(`${base}/boot/modloop-lts`);
    assert.equal(modloop.subarray(modloop.length - 3).toString(), '200');
    assert.equal(sha(modloop.subarray(0, modloop.length - 4)), sha(Buffer.alloc(300_000, 7)));
    assert.match(curl(`${base}/apks/x86_64/APKINDEX.tar.gz`).toString(), /^not really an index\n\n200$/);
  });

  const bootWith = async (t: { diagnostic(s: string): void }, mac: string, id: string, profile: string) => {
    const next = await bh('machines', 'next', id, `profile:${profile}`);
    assert.equal(next.code, 0, next.stderr);
    const started = Date.now();
    const vm = startVm({
      exec: net.exec,
      tap: 'tap0',
      mac,
      romfile: '/usr/lib/ipxe/qemu/pxe-e1000.rom',
      deadlineMs: 240_000,
    });
    try {
      const out = await vm.waitFor(new RegExp(`${MARKER} cmdline=\\[[^\\]]*\\]`)).catch((err: Error) => {
        throw new Error(
          `${err.message}\n--- console ---\n${tail(vm.console())}\n--- bootherd ---\n${server.log().slice(-3000)}`,
        );
      });
      t.diagnostic(`VM start to kernel marker: ${((Date.now() - started) / 1000).toFixed(1)} s`);
      return new RegExp(`${MARKER} cmdline=\\[([^\\]]*)\\]`).exec(out)?.[1] ?? '';
    } finally {
      vm.kill();
      await vm.exited;
    }
  };

  it('the Debian netinst profile boots its kernel and initrd in QEMU with the installer command line', {
    timeout: 300_000,
  }, async (t) => {
    const cmdline = await bootWith(t, DEB_MAC, 'deb', 'debian');
    assert.match(cmdline, /initrd=initrd\.gz console=ttyS0 panic=-1 --- quiet$/, cmdline);
  });

  it('the Alpine profile boots with alpine_repo= and modloop= pointing back at bootherd', {
    timeout: 300_000,
  }, async (t) => {
    const cmdline = await bootWith(t, ALP_MAC, 'alp', 'alpine-standard-3.20.3-x86_64');
    const base = `http://${net.serverIp}:8080/assets/images/alpine-standard-3.20.3-x86_64`;
    assert.match(cmdline, /initrd=initramfs-lts /, cmdline);
    assert.ok(
      cmdline.endsWith(
        `ip=dhcp alpine_repo=${base}/apks modloop=${base}/boot/modloop-lts modules=loop,squashfs console=ttyS0 panic=-1`,
      ),
      cmdline,
    );
  });

  it('kill -9 in the middle of an import: no profile, nothing under a served name; a re-run succeeds', {
    timeout: 300_000,
  }, async () => {
    // An unknown layout with 300 MB inside: the whole ISO is copied, long enough to be killed mid-way.
    const root = layout('big', { 'README.TXT': 'nothing to boot here\n' });
    execFileSync('truncate', ['-s', '300M', join(root, 'data.bin')]);
    const iso = xorriso(root, join(work, 'big.iso'), 'BIG');
    const child = spawn(process.execPath, [...ENTRY, 'images', 'import', iso, '--name', 'big', '-c', server.config], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      // A progress line between 10 and 90 %: the copy is under way and far from done.
      await waitFor(child, /^\s*[1-9]0% /m, 120_000);
      const partial = join(assets(), 'images', '.big.partial');
      assert.ok(readdirSync(partial).includes('big.iso'), 'the partial copy is in the unserved staging folder');
    } finally {
      child.kill('SIGKILL');
    }
    const [code, signal] = await new Promise<[number | null, string | null]>((r) =>
      child.once('exit', (c, s) => r([c, s])),
    );
    assert.equal(signal, 'SIGKILL', `the import finished (exit ${code}) before it was killed`);

    // No profile, and no file under a name the asset route serves (it refuses every dot-name).
    assert.doesNotMatch((await bh('export')).stdout, /name: big/);
    const served = (dir: string, rel = ''): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
        e.name.startsWith('.')
          ? []
          : e.isDirectory()
            ? served(join(dir, e.name), `${rel}${e.name}/`)
            : [`${rel}${e.name}`],
      );
    assert.deepEqual(
      served(join(assets(), 'images')).filter((p) => p.startsWith('big')),
      [],
    );
    assert.match(curl(`http://${net.serverIp}:8080/assets/images/big/big.iso`).toString(), /404$/);
    assert.match(curl(`http://${net.serverIp}:8080/assets/images/.big.partial/big.iso`).toString(), /40[34]$/);
    assert.doesNotMatch((await bh('images', 'list')).stdout, /^big/m);

    // The next import cleans the leftover and completes.
    const again = await bh('images', 'import', iso, '--name', 'big');
    assert.equal(again.code, 0, again.stderr);
    assert.ok(!readdirSync(join(assets(), 'images')).includes('.big.partial'));
    const m = JSON.parse(readFileSync(join(assets(), 'images', 'big', 'image.json'), 'utf8'));
    assert.equal(m.files[0].size, m.source.size);
    assert.equal(m.files[0].sha256, m.source.sha256);
  });

  it('images remove: refused while a machine uses the profile, done with --force, files gone', {
    timeout: 60_000,
  }, async () => {
    const refused = await bh('images', 'remove', 'debian');
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /profile "debian" is used by machine "deb".*--force/);
    assert.ok(readdirSync(join(assets(), 'images')).includes('debian'));

    const forced = await bh('images', 'remove', 'debian', '--force');
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(forced.stdout, /detached machine deb \(next action\)/);
    assert.ok(!readdirSync(join(assets(), 'images')).includes('debian'));
    assert.doesNotMatch((await bh('export')).stdout, /name: debian/);

    const big = await bh('images', 'remove', 'big');
    assert.equal(big.code, 0, big.stderr);
    const missing = await bh('images', 'remove', 'nope');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no image "nope"/);
  });
});
