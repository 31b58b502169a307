import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Command } from 'commander';
import { registerMedia } from '../../../src/cli/media.ts';
import { buildIso, VOLUME_ID } from '../../../src/media/iso.ts';
import { mediaScript } from '../../../src/media/script.ts';

const dir = mkdtempSync(join(tmpdir(), 'bh-media-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const URL_ = 'http://192.0.2.1:8080/boot.ipxe';
const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

/** Read one file back out of an image, the way an operator would check it. */
function extract(iso: string, path: string): string {
  const out = join(dir, `extract-${Math.random().toString(36).slice(2)}`);
  execFileSync('xorriso', ['-osirrox', 'on', '-indev', iso, '-extract', path, out], { stdio: 'ignore' });
  return readFileSync(out, 'utf8');
}

/** The CLI as main.ts wires it; resolves to the output or rejects with the command's error. */
async function cli(...args: string[]): Promise<string> {
  const p = new Command('bootherd').exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
  let out = '';
  registerMedia(p, (line) => {
    out += `${line}\n`;
  });
  // BIOS only here: the UEFI iPXE download and its boot are the e2e tests' (media.test.ts, media-uefi.test.ts).
  await p.parseAsync(['node', 'bootherd', 'media', 'iso', ...args, '--no-uefi']);
  return out;
}

describe('media iso: a hybrid BIOS ISO with iPXE and its script', () => {
  it('the same inputs give the same bytes; another script gives other bytes', async () => {
    const script = mediaScript({ kind: 'dhcp', bootUrl: URL_, nics: 4 });
    const a = await buildIso({ script, output: join(dir, 'a.iso') });
    // A second build a second later, from fresh staging files with new mtimes.
    await new Promise((r) => setTimeout(r, 1100));
    const b = await buildIso({ script, output: join(dir, 'b.iso') });
    assert.equal(a.sha256, b.sha256);
    assert.equal(sha(join(dir, 'a.iso')), a.sha256);
    const c = await buildIso({
      script: mediaScript({ kind: 'dhcp', bootUrl: 'http://192.0.2.9:8080/boot.ipxe', nics: 4 }),
      output: join(dir, 'c.iso'),
    });
    assert.notEqual(c.sha256, a.sha256);
  });

  it('holds the script, the isolinux config, and is bootable as a CD and as a disk', async () => {
    const script = mediaScript({ kind: 'dhcp', bootUrl: URL_, nics: 2 });
    const iso = join(dir, 'layout.iso');
    await buildIso({ script, output: iso });
    assert.equal(extract(iso, '/boot.ipxe'), script);
    assert.match(extract(iso, '/isolinux/isolinux.cfg'), /KERNEL \/ipxe\.lkrn\n\s+INITRD \/boot\.ipxe/);
    const bytes = readFileSync(iso);
    assert.equal(bytes.subarray(0x8001, 0x8006).toString('latin1'), 'CD001', 'an ISO 9660 volume');
    assert.equal(bytes.subarray(0x8028, 0x8028 + VOLUME_ID.length).toString('latin1'), VOLUME_ID);
    assert.equal(bytes.subarray(0x8801, 0x8806).toString('latin1'), 'CD001', 'an El Torito boot record');
    assert.equal(bytes.readUInt16LE(510), 0xaa55, 'an MBR: bootable when written raw to a stick');
    assert.equal(bytes[446], 0x80, 'the MBR partition is marked active');
  });

  it('CLI: default script chains <http.advertise>/boot.ipxe; --url overrides; --static has no DHCP', async () => {
    const def = join(dir, 'def.iso');
    assert.match(await cli('-o', def, '--set', 'http.advertise=http://192.0.2.7:8080'), /wrote .*sha256 [0-9a-f]{64}/);
    const defScript = extract(def, '/boot.ipxe');
    assert.match(defScript, /ifconf --configurator dhcp net7 /);
    assert.match(defScript, /chain --autofree http:\/\/192\.0\.2\.7:8080\/boot\.ipxe /);

    const st = join(dir, 'static.iso');
    await cli('-o', st, '--url', URL_, '--static', '192.0.2.5/24', '--gateway', '192.0.2.1', '--dns', '192.0.2.53');
    const stScript = extract(st, '/boot.ipxe');
    assert.match(stScript, /^set net0\/ip 192\.0\.2\.5$/m);
    assert.match(stScript, /^set net0\/netmask 255\.255\.255\.0$/m);
    assert.match(stScript, /^set dns 192\.0\.2\.53$/m);
    assert.doesNotMatch(stScript, /dhcp/);

    const own = join(dir, 'own.ipxe');
    writeFileSync(own, '#!ipxe\necho hello from the operator\n');
    await cli('-o', join(dir, 'own.iso'), '--script', own);
    assert.equal(extract(join(dir, 'own.iso'), '/boot.ipxe'), '#!ipxe\necho hello from the operator\n');
  });

  it('CLI: hostile or malformed values are refused, naming the field, and nothing is written', async () => {
    const out = join(dir, 'refused.iso');
    const cases: [string[], RegExp][] = [
      [['--static', '192.0.2.5/24', '--gateway', '1.2.3.4 && reboot'], /^gateway: /],
      [['--static', '192.0.2.5/24', '--gateway', '192.0.2.1', '--dns', '192.0.2.53 ; shell'], /^dns: /],
      [['--static', '192.0.2.5 && reboot/24', '--gateway', '192.0.2.1'], /^(static|address): /],
      [['--static', '192.0.2.5/40', '--gateway', '192.0.2.1'], /^prefix: /],
      [['--static', '192.0.2.5', '--gateway', '192.0.2.1'], /^static: /],
    ];
    for (const [args, message] of cases) {
      await assert.rejects(cli('-o', out, '--url', URL_, ...args), { code: 'SCRIPT_VALUE', message }, args.join(' '));
    }
    for (const bad of [
      'http://192.0.2.1/boot.ipxe && reboot',
      'tftp://192.0.2.1/x',
      'file:///etc/passwd',
      'http://127.0.0.1:8080/boot.ipxe',
      'http://localhost/boot.ipxe',
    ]) {
      await assert.rejects(cli('-o', out, '--url', bad), { code: 'SCRIPT_VALUE', message: /^url: / }, bad);
    }
    const notScript = join(dir, 'not-a-script');
    writeFileSync(notScript, 'chain http://192.0.2.1/x\n');
    await assert.rejects(cli('-o', out, '--script', notScript), { code: 'SCRIPT_VALUE', message: /^script: / });
    await assert.rejects(cli('-o', out, '--url', URL_, '--gateway', '192.0.2.1'), { code: 'BAD_REQUEST' });
    // No config: the advertised address defaults to loopback, useless on media.
    await assert.rejects(cli('-o', out), { code: 'SCRIPT_VALUE', message: /loopback.*http\.advertise/ });
    assert.throws(() => readFileSync(out), { code: 'ENOENT' });
  });

  it('a missing tool or boot file names the Debian package to install', async () => {
    const script = mediaScript({ kind: 'dhcp', bootUrl: URL_, nics: 1 });
    const output = join(dir, 'missing.iso');
    await assert.rejects(buildIso({ script, output, env: { PATH: join(dir, 'no-such-bin') } }), {
      code: 'TOOL_MISSING',
      message: /xorriso.*install the Debian package xorriso/,
    });
    await assert.rejects(buildIso({ script, output, files: { lkrn: join(dir, 'ipxe.lkrn') } }), {
      code: 'TOOL_MISSING',
      message: /ipxe\.lkrn not found: install the Debian package ipxe\b/,
    });
    await assert.rejects(buildIso({ script, output, files: { ldlinux: join(dir, 'ldlinux.c32') } }), {
      code: 'TOOL_MISSING',
      message: /install the Debian package syslinux-common/,
    });
    assert.throws(() => readFileSync(output), { code: 'ENOENT' });
  });
});
