/**
 * The pure parts of `bootherd ipxe build` (target, user class and script checks, the cache key, the dhcp.c patch),
 * and its cache run against a small stand-in source tree whose Makefile (real make) copies its inputs into the
 * targets: what reaches the build, when a build is reused, and that concurrent builds leave one complete result.
 * Compiling iPXE itself and booting it is test/e2e/ipxe-build.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Command } from 'commander';
import { registerIpxe } from '../../src/cli/ipxe.ts';
import { decodeOptions } from '../../src/dhcp/options.ts';
import { BootherdError } from '../../src/errors.ts';
import {
  buildIpxe,
  buildKey,
  checkTarget,
  checkUserClass,
  normalizeRequest,
  patchUserClass,
} from '../../src/media/ipxe-build.ts';
import { isBuildOutput, localIpxeSource, sourceVersion } from '../../src/media/ipxe-source.ts';

const dir = mkdtempSync(join(tmpdir(), 'bh-ipxe-build-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const code = (c: string) => (err: unknown) => err instanceof BootherdError && err.code === c;

/** The line as iPXE's src/net/udp/dhcp.c has it (dhcp_request_options_data). */
const DHCP_C = `static uint8_t dhcp_request_options_data[] = {
\tDHCP_MESSAGE_TYPE, DHCP_BYTE ( 0 ),
\tDHCP_USER_CLASS_ID, DHCP_STRING ( 'i', 'P', 'X', 'E' ),
\tDHCP_END
};
`;

describe('ipxe build: inputs', () => {
  it('takes x86 BIOS and UEFI targets and refuses anything else', () => {
    for (const t of [
      'bin/undionly.kpxe',
      'bin/1af41000.rom',
      'bin/8086100e.rom',
      'bin/ipxe.lkrn',
      'bin/virtio-net.mrom',
      'bin-x86_64-efi/ipxe.efi',
      'bin-x86_64-efi/snponly.efi',
      'bin-i386-efi/ipxe.efirom',
    ]) {
      assert.equal(checkTarget(t), t);
    }
    for (const t of [
      '../etc/passwd',
      'bin/../x.rom',
      '/bin/undionly.kpxe',
      'bin/undionly.kpxe EMBED=x',
      '-C/ bin/x.rom',
      'bin/ipxe.efi.rom',
      'bin-x86_64-efi/ipxe.kpxe',
      'bin/ipxe.efi',
      'bin-arm64-efi/ipxe.efi',
      'bin/UNDIONLY.kpxe',
      'clean',
      'bin/',
    ]) {
      assert.throws(() => checkTarget(t), code('BAD_REQUEST'), t);
    }
  });

  it('a user class is 1 to 32 visible ASCII characters, and not the stock iPXE', () => {
    for (const n of ['bootherd', 'acme-ipxe.v2', 'site:a+b_c', '0', 'x'.repeat(32)]) assert.equal(checkUserClass(n), n);
    for (const n of [
      '',
      'iPXE',
      'x'.repeat(33),
      'with space',
      'quote"d',
      "it's",
      'back\\slash',
      'é',
      '-lead',
      'a\nb',
    ]) {
      assert.throws(() => checkUserClass(n), code('BAD_REQUEST'), JSON.stringify(n));
    }
  });

  it('every allowed user class reaches bootherd as that bare string, never as RFC 3004 instances', () => {
    // The worst case for the length-prefix reading: the smallest first byte ('0' = 48) at every allowed length.
    for (let n = 1; n <= 32; n++) {
      for (const name of ['0'.repeat(n), `1${'a'.repeat(n - 1)}`]) {
        const o = decodeOptions(new Map([[77, Buffer.from(name, 'latin1')]]));
        assert.deepEqual(o.userClass, { format: 'string', value: name });
      }
    }
  });

  it('the embedded script must be an iPXE script', () => {
    assert.throws(
      () => normalizeRequest({ targets: ['bin/undionly.kpxe'], embed: 'dhcp\nchain x\n' }),
      code('SCRIPT_VALUE'),
    );
    assert.throws(
      () => normalizeRequest({ targets: ['bin/undionly.kpxe'], embed: `#!ipxe\n${'echo x\n'.repeat(20_000)}` }),
      code('SCRIPT_VALUE'),
    );
    assert.throws(() => normalizeRequest({ targets: [] }), code('BAD_REQUEST'));
    assert.equal(
      normalizeRequest({ targets: ['bin/undionly.kpxe'], embed: '#!ipxe\nautoboot' }).embed,
      '#!ipxe\nautoboot\n',
    );
  });

  it('the cache key: the same build in another order is one key; each input changes it', () => {
    const a = normalizeRequest({ targets: ['bin/undionly.kpxe', 'bin/1af41000.rom'], embed: '#!ipxe\nautoboot\n' });
    const b = normalizeRequest({
      targets: ['bin/1af41000.rom', 'bin/undionly.kpxe', 'bin/1af41000.rom'],
      embed: '#!ipxe\nautoboot\n',
    });
    assert.deepEqual(b.targets, ['bin/1af41000.rom', 'bin/undionly.kpxe']);
    const key = buildKey('debian:ipxe=1', a);
    assert.match(key, /^[0-9a-f]{64}$/);
    assert.equal(buildKey('debian:ipxe=1', b), key);
    const others = [
      buildKey('debian:ipxe=2', a),
      buildKey('debian:ipxe=1', { ...a, targets: ['bin/1af41000.rom'] }),
      buildKey('debian:ipxe=1', { ...a, embed: '#!ipxe\nshell\n' }),
      buildKey('debian:ipxe=1', { targets: a.targets }),
      buildKey('debian:ipxe=1', { ...a, userClass: 'site' }),
      buildKey('debian:ipxe=1', { ...a, userClass: 'site2' }),
    ];
    assert.equal(new Set([key, ...others]).size, others.length + 1);
  });

  it("patches iPXE's user class line once, with hex bytes, and refuses a source it does not recognise", () => {
    const patched = patchUserClass(DHCP_C, 'site:A');
    assert.match(patched, /DHCP_USER_CLASS_ID, DHCP_STRING \( 0x73, 0x69, 0x74, 0x65, 0x3a, 0x41 \)/);
    assert.doesNotMatch(patched, /'i', 'P', 'X', 'E'/);
    assert.equal(patched.split('\n').length, DHCP_C.split('\n').length, 'one line changed, none added');
    assert.throws(() => patchUserClass(patched, 'x'), code('IPXE_BUILD'));
    assert.throws(() => patchUserClass(DHCP_C + DHCP_C, 'x'), code('IPXE_BUILD'));
    assert.throws(() => patchUserClass(DHCP_C, 'bad class'), code('BAD_REQUEST'));
  });

  it('reads the source version from apt-cache showsrc; build outputs are not source', () => {
    assert.equal(
      sourceVersion({
        stdout: 'Package: ipxe\nBinary: ipxe, ipxe-qemu\nVersion: 1.21.1+git20250501.dad20602+dfsg-1\n',
      }),
      '1.21.1+git20250501.dad20602+dfsg-1',
    );
    assert.throws(() => sourceVersion({ stdout: '' }), code('IPXE_BUILD'));
    for (const p of ['bin', 'bin/undionly.kpxe', 'bin-x86_64-efi', 'bin-x86_64-efi/ipxe.efi'])
      assert.ok(isBuildOutput(p), p);
    for (const p of ['binary.c', 'net/bin/x', 'Makefile', 'arch/x86/bin']) assert.ok(!isBuildOutput(p), p);
  });
});

/** A stand-in iPXE tree: its Makefile writes each target from the (patched) dhcp.c and the embedded script. */
function fakeTree(root: string): string {
  const src = join(root, 'src');
  mkdirSync(join(src, 'net', 'udp'), { recursive: true });
  mkdirSync(join(src, 'bin'), { recursive: true });
  writeFileSync(join(src, 'Makefile.housekeeping'), '');
  writeFileSync(join(src, 'net', 'udp', 'dhcp.c'), DHCP_C);
  writeFileSync(join(src, 'bin', 'stale.o'), 'an object of an earlier build in this tree');
  writeFileSync(
    join(src, 'Makefile'),
    [
      'bin/%.rom bin/%.kpxe:',
      '\tmkdir -p $(dir $@)',
      '\tcat net/udp/dhcp.c $(EMBED) > $@',
      '\techo $@ >> ../../make-runs.log',
      '\ttest ! -e bin/stale.o',
      '',
    ].join('\n'),
  );
  return root;
}

describe('ipxe build: the cache', () => {
  const cache = join(dir, 'cache');
  const runs = () => readFileSync(join(cache, 'make-runs.log'), 'utf8').trim().split('\n');

  it('builds in a copy with the patch and the script, then reuses the result for the same inputs', async () => {
    const source = await localIpxeSource(cache, fakeTree(join(dir, 'tree')));
    assert.match(source.id, /^dir:[0-9a-f]{64}$/);
    const req = {
      targets: ['bin/undionly.kpxe', 'bin/1af41000.rom'],
      embed: '#!ipxe\necho embedded\n',
      userClass: 'site',
    };
    const first = await buildIpxe(cache, source, req, { jobs: 1 });
    assert.equal(first.cached, false);
    assert.deepEqual(
      first.files.map((f) => f.target),
      ['bin/1af41000.rom', 'bin/undionly.kpxe'],
    );
    const rom = readFileSync(first.files[0]?.path ?? '', 'utf8');
    assert.match(rom, /DHCP_STRING \( 0x73, 0x69, 0x74, 0x65 \)/);
    assert.match(rom, /#!ipxe\necho embedded\n$/);
    assert.equal(first.dir, join(cache, first.key));
    assert.equal(readFileSync(join(dir, 'tree', 'src', 'net', 'udp', 'dhcp.c'), 'utf8'), DHCP_C, 'source untouched');
    assert.equal(runs().length, 2);

    const again = await buildIpxe(cache, source, { ...req, targets: ['bin/1af41000.rom', 'bin/undionly.kpxe'] });
    assert.equal(again.cached, true);
    assert.deepEqual(again.files, first.files);
    assert.equal(runs().length, 2, 'make did not run again');

    // A result changed on disk is not trusted: it is built again.
    writeFileSync(first.files[1]?.path ?? '', 'tampered');
    const rebuilt = await buildIpxe(cache, source, req);
    assert.equal(rebuilt.cached, false);
    assert.equal(rebuilt.files[1]?.sha256, first.files[1]?.sha256);

    const plain = await buildIpxe(cache, source, { targets: ['bin/undionly.kpxe'] });
    assert.notEqual(plain.key, first.key);
    assert.match(readFileSync(plain.files[0]?.path ?? '', 'utf8'), /'i', 'P', 'X', 'E'/);
  });

  it('concurrent builds of the same inputs leave one complete result', async () => {
    const source = await localIpxeSource(cache, join(dir, 'tree'));
    const req = { targets: ['bin/8086100e.rom'], embed: '#!ipxe\necho concurrent\n' };
    const results = await Promise.all([1, 2, 3].map(() => buildIpxe(cache, source, req, { jobs: 1 })));
    assert.equal(new Set(results.map((r) => r.key)).size, 1);
    for (const r of results) assert.match(readFileSync(r.files[0]?.path ?? '', 'utf8'), /echo concurrent/);
  });

  it('a failed make is one line with the error, not a stack trace', async () => {
    const broken = fakeTree(join(dir, 'broken'));
    writeFileSync(
      join(broken, 'src', 'Makefile'),
      'bin/%.rom:\n\t@echo "drivers/x.c:1: error: no such driver" >&2; exit 1\n',
    );
    const source = await localIpxeSource(cache, broken);
    await assert.rejects(buildIpxe(cache, source, { targets: ['bin/x.rom'] }), (err: unknown) => {
      assert.ok(err instanceof BootherdError && err.code === 'IPXE_BUILD');
      assert.match(err.message, /make bin\/x\.rom failed: drivers\/x\.c:1: error: no such driver/);
      assert.match(err.message, /whole log: /);
      return true;
    });
  });
});

describe('ipxe build: the command checks its inputs before it fetches or compiles anything', () => {
  async function cli(...args: string[]): Promise<void> {
    const p = new Command('bootherd').exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
    registerIpxe(
      p,
      () => {},
      () => {},
    );
    await p.parseAsync(['node', 'bootherd', 'ipxe', 'build', '--set', `data_dir=${join(dir, 'never')}`, ...args]);
  }
  const notIpxe = join(dir, 'not-ipxe.txt');
  writeFileSync(notIpxe, 'dhcp\n');

  it('refuses bad names, scripts and the loopback default URL', async () => {
    await assert.rejects(cli('--url', 'http://192.0.2.1/boot.ipxe', '--user-class', 'my class'), code('BAD_REQUEST'));
    await assert.rejects(cli('--url', 'http://192.0.2.1/boot.ipxe', '--target', 'bin/x.exe'), code('BAD_REQUEST'));
    await assert.rejects(cli('--embed', notIpxe), code('SCRIPT_VALUE'));
    await assert.rejects(cli('--embed', notIpxe, '--url', 'http://192.0.2.1/boot.ipxe'), code('BAD_REQUEST'));
    // No config: http.advertise is 127.0.0.1, which no booting machine reaches.
    await assert.rejects(cli(), code('SCRIPT_VALUE'));
    await assert.rejects(cli('--url', 'http://192.0.2.1/boot.ipxe', '--nics', '0'), code('BAD_REQUEST'));
    await assert.rejects(cli('--no-embed', '--source', join(dir, 'nowhere')), code('BAD_REQUEST'));
    await assert.rejects(cli('--no-embed', '--source', dir, '--refresh-source'), code('BAD_REQUEST'));
  });
});
