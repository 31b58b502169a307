/**
 * The boot payload for end-to-end tests: Debian's kernel and a busybox initramfs whose /init prints a marker line
 * with the kernel command line and powers off. Built once per machine into .cache/e2e.
 */
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { openPrivateApt } from '../../../src/media/debian-apt.ts';

export const MARKER = 'BOOTHERD-E2E-BOOTED';

export interface Payload {
  kernel: string;
  initrd: string;
}

function debianKernel(): string {
  const k = readdirSync('/boot')
    .filter((f) => /^vmlinuz-.*-amd64$/.test(f))
    .sort()
    .pop();
  if (!k) throw new Error('no /boot/vmlinuz-*-amd64: install the Debian package linux-image-amd64');
  return join('/boot', k);
}

/** A gzipped initramfs around `busybox` whose /init prints the marker with the kernel command line, then powers off. */
function markerInitramfs(root: string, busybox: string, initrd: string): void {
  for (const d of ['bin', 'proc', 'dev']) mkdirSync(join(root, d), { recursive: true });
  copyFileSync(busybox, join(root, 'bin', 'busybox'));
  chmodSync(join(root, 'bin', 'busybox'), 0o755);
  writeFileSync(
    join(root, 'init'),
    [
      '#!/bin/busybox sh',
      '/bin/busybox mount -t proc proc /proc',
      `echo "${MARKER} cmdline=[$(/bin/busybox cat /proc/cmdline)]"`,
      '/bin/busybox poweroff -f',
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  execFileSync('sh', [
    '-c',
    `cd "${root}" && find . | cpio -o -H newc --quiet | gzip -1 > "${initrd}.tmp" && mv "${initrd}.tmp" "${initrd}"`,
  ]);
}

export function buildPayload(cacheDir: string): Payload {
  const out = join(cacheDir, 'e2e');
  mkdirSync(out, { recursive: true });
  const kernel = join(out, 'vmlinuz');
  const initrd = join(out, 'initrd.gz');
  copyFileSync(debianKernel(), kernel);
  if (existsSync(initrd)) return { kernel, initrd };
  if (!existsSync('/bin/busybox')) throw new Error('no /bin/busybox: install the Debian package busybox-static');
  const root = join(out, 'root');
  rmSync(root, { recursive: true, force: true });
  markerInitramfs(root, '/bin/busybox', initrd);
  return { kernel, initrd };
}

const CACHE = new URL('../../../.cache', import.meta.url).pathname;

/**
 * The arm64 payload: Debian 12's arm64 kernel (the one `linux-image-arm64` depends on) and an initramfs with
 * `busybox-static:arm64`, fetched through a private apt configuration for arm64 and unpacked with `dpkg -x` (no
 * cross-compiler). Debian's arm64 vmlinuz is a gzip-compressed `Image`; it is stored uncompressed, since the EFI
 * stub (the PE header iPXE and the firmware load) is the `Image` itself. Built once into .cache/e2e-arm64.
 */
export async function buildArm64Payload(cacheDir: string = CACHE): Promise<Payload> {
  const out = join(cacheDir, 'e2e-arm64');
  const kernel = join(out, 'Image');
  const initrd = join(out, 'initrd.gz');
  if (existsSync(kernel) && existsSync(initrd)) return { kernel, initrd };
  const work = join(out, 'work');
  rmSync(work, { recursive: true, force: true });
  for (const d of ['deb', 'x']) mkdirSync(join(work, d), { recursive: true });
  try {
    const apt = await openPrivateApt(join(work, 'apt'), [{ type: 'deb', suite: 'bookworm' }], {
      architecture: 'arm64',
    });
    const meta = await apt.run('apt-cache', ['depends', '--no-recommends', '--no-suggests', 'linux-image-arm64']);
    const image = /Depends:\s*(linux-image-\S+-arm64)\b/.exec(meta.stdout)?.[1];
    if (!image) throw new Error(`linux-image-arm64 names no kernel package:\n${meta.stdout}`);
    await apt.run('apt-get', ['download', image, 'busybox-static'], join(work, 'deb'));
    for (const deb of readdirSync(join(work, 'deb')).filter((n) => n.endsWith('.deb'))) {
      execFileSync('dpkg-deb', ['-x', join(work, 'deb', deb), join(work, 'x')]);
    }
    const vmlinuz = readdirSync(join(work, 'x', 'boot')).find((f) => /^vmlinuz-.*-arm64$/.test(f));
    if (!vmlinuz) throw new Error(`${image} holds no /boot/vmlinuz-*-arm64`);
    const packed = readFileSync(join(work, 'x', 'boot', vmlinuz));
    // gzip magic 1f 8b: decompress to the Image (its PE header "MZ" at 0 and the arm64 magic "ARM\x64" at 56).
    const raw = packed[0] === 0x1f && packed[1] === 0x8b ? gunzipSync(packed) : packed;
    if (raw.subarray(0, 2).toString('latin1') !== 'MZ' || raw.subarray(56, 60).toString('latin1') !== 'ARM\x64') {
      throw new Error(`${vmlinuz} is not an arm64 EFI-stub Image`);
    }
    // The same /init as the x64 payload, around the arm64 busybox.
    markerInitramfs(join(work, 'root'), join(work, 'x', 'bin', 'busybox'), initrd);
    writeFileSync(`${kernel}.tmp`, raw);
    renameSync(`${kernel}.tmp`, kernel);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return { kernel, initrd };
}

/** The inventory most boot tests use: one machine that boots the payload kernel. */
export function tinyLinuxInventory(id: string, mac: string): string {
  return `
profiles:
  - name: tiny-linux
    kernel: linux/vmlinuz
    initrds: [linux/initrd.gz]
    cmdline: console=ttyS0 panic=-1
machines:
  - id: ${id}
    macs: ["${mac}"]
    profile: tiny-linux
`;
}

/** Put the payload where profiles find it: `linux/vmlinuz` and `linux/initrd.gz` under a server's asset folder. */
export function linkPayload(serverDir: string): void {
  const payload = buildPayload(CACHE);
  mkdirSync(join(serverDir, 'assets', 'linux'), { recursive: true });
  symlinkSync(payload.kernel, join(serverDir, 'assets', 'linux', 'vmlinuz'));
  symlinkSync(payload.initrd, join(serverDir, 'assets', 'linux', 'initrd.gz'));
}

/** A small bootable ISO (isolinux) holding the payload kernel and initrd, for `sanboot` tests. Cached. */
export function buildIso(): string {
  const payload = buildPayload(CACHE);
  const out = join(CACHE, 'e2e');
  const iso = join(out, 'tiny.iso');
  if (existsSync(iso)) return iso;
  for (const f of ['/usr/lib/ISOLINUX/isolinux.bin', '/usr/lib/syslinux/modules/bios/ldlinux.c32']) {
    if (!existsSync(f)) throw new Error(`no ${f}: install the Debian packages isolinux and syslinux-common`);
  }
  const root = join(out, 'iso-root');
  rmSync(root, { recursive: true, force: true });
  mkdirSync(join(root, 'isolinux'), { recursive: true });
  copyFileSync('/usr/lib/ISOLINUX/isolinux.bin', join(root, 'isolinux', 'isolinux.bin'));
  copyFileSync('/usr/lib/syslinux/modules/bios/ldlinux.c32', join(root, 'isolinux', 'ldlinux.c32'));
  copyFileSync(payload.kernel, join(root, 'vmlinuz'));
  copyFileSync(payload.initrd, join(root, 'initrd.gz'));
  writeFileSync(
    join(root, 'isolinux', 'isolinux.cfg'),
    'DEFAULT linux\nLABEL linux\n  KERNEL /vmlinuz\n  APPEND initrd=/initrd.gz console=ttyS0 panic=-1 from=iso\n',
  );
  execFileSync('xorriso', [
    '-as',
    'mkisofs',
    '-quiet',
    '-o',
    `${iso}.tmp`,
    '-b',
    'isolinux/isolinux.bin',
    '-c',
    'isolinux/boot.cat',
    '-no-emul-boot',
    '-boot-load-size',
    '4',
    '-boot-info-table',
    root,
  ]);
  execFileSync('mv', [`${iso}.tmp`, iso]);
  return iso;
}
