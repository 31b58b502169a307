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
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';

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
  for (const d of ['bin', 'proc', 'dev']) mkdirSync(join(root, d), { recursive: true });
  copyFileSync('/bin/busybox', join(root, 'bin', 'busybox'));
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
  return { kernel, initrd };
}

const CACHE = new URL('../../../.cache', import.meta.url).pathname;

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
