/**
 * UEFI boot media without a compiler: Debian 13's UEFI iPXE (fetched once through a private apt configuration and
 * cached in .cache/) as EFI/BOOT/BOOTX64.EFI on a FAT ESP image, the script beside it as autoexec.ipxe. OVMF boots
 * the ESP as a raw disk and the script runs: the marker is built by iPXE from a variable the script sets, so it shows
 * only if the script ran. Control: Debian 12's ipxe.efi on the same ESP ignores the script — why the media carry
 * Debian 13's.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { buildEspImage, type EspImage } from '../../src/media/esp.ts';
import { fetchTrixieUefiIpxe, type UefiIpxe } from '../../src/media/uefi-ipxe.ts';
import { type EspVmOptions, startEspVm, tail } from './lib/esp-vm.ts';

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const NONCE = randomBytes(4).toString('hex');
// The literal marker is not in the script: iPXE must expand ${m} and ${platform} for it to appear.
const UEFI_SCRIPT = ['#!ipxe', `set m OK-${NONCE}`, 'echo UEFI-AUTOEXEC-${m} platform=${platform}', 'shell', ''].join(
  '\n',
);
const UEFI_MARKER = new RegExp(`UEFI-AUTOEXEC-OK-${NONCE} platform=efi`);

// The whole image (`media iso`, BIOS + UEFI, CD and stick) boots into the payload in media.test.ts.
describe('UEFI boot media: trixie iPXE + autoexec.ipxe on an ESP; Debian 12 ipxe.efi cannot', () => {
  let dir: string;
  let ipxe: UefiIpxe;
  let esp: EspImage;

  // Each test awaits the setup, so a missing tool or package fails every test with its message (not "cancelled").
  let ready: Promise<void>;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'bootherd-media-uefi-'));
    ready = (async () => {
      ipxe = await fetchTrixieUefiIpxe(join(REPO, '.cache', 'ipxe-trixie'));
      esp = await buildEspImage(ipxe.efi, UEFI_SCRIPT, join(dir, 'esp.img'));
    })();
    ready.catch(() => {});
  });

  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function boot(
    o: Omit<EspVmOptions, 'workDir' | 'deadlineMs'>,
    marker: RegExp,
    t: { diagnostic(s: string): void },
  ) {
    await ready;
    const started = Date.now();
    const vm = startEspVm({ ...o, workDir: dir, deadlineMs: 40_000 });
    try {
      await vm.waitFor(marker);
      t.diagnostic(`pattern after ${((Date.now() - started) / 1000).toFixed(1)} s`);
      return vm.console();
    } finally {
      vm.kill();
      await vm.exited;
    }
  }

  it('the ESP holds the loader and the script, and is byte-identical when rebuilt', { timeout: 240_000 }, async (t) => {
    await ready;
    t.diagnostic(`${ipxe.package} ${ipxe.version} sha256 ${ipxe.sha256}`);
    const { stdout } = await run('mtype', ['-i', esp.path, '::/EFI/BOOT/autoexec.ipxe'], {
      env: { ...process.env, MTOOLS_SKIP_CHECK: '1' },
    });
    assert.equal(stdout, UEFI_SCRIPT);
    await new Promise((r) => setTimeout(r, 1100)); // a later second, and the dates must still match
    const again = await buildEspImage(ipxe.efi, UEFI_SCRIPT, join(dir, 'esp-again.img'));
    assert.equal(again.sha256, esp.sha256);
    const other = await buildEspImage(ipxe.efi, `${UEFI_SCRIPT}# other\n`, join(dir, 'esp-other.img'));
    assert.notEqual(other.sha256, esp.sha256);
  });

  it('OVMF boots the ESP as a raw disk and iPXE runs autoexec.ipxe', { timeout: 60_000 }, async (t) => {
    const out = await boot({ image: esp.path }, UEFI_MARKER, t);
    assert.match(out, new RegExp(`iPXE ${ipxe.version.replace(/[.+]/g, '\\$&')}`));
  });

  it('control: Debian 12 ipxe.efi on the same ESP ignores autoexec.ipxe', { timeout: 60_000 }, async (t) => {
    const old = await buildEspImage('/usr/lib/ipxe/ipxe.efi', UEFI_SCRIPT, join(dir, 'esp-deb12.img'));
    const out = await boot({ image: old.path }, /iPXE 1\.0\.0[\s\S]*No more network devices/, t);
    assert.doesNotMatch(out, /UEFI-AUTOEXEC-OK/, tail(out));
  });
});
