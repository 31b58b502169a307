/**
 * A hybrid boot ISO (a CD, or a USB stick when written raw) that runs iPXE with our script. BIOS: ISOLINUX loads
 * Debian 12's ipxe.lkrn as a Linux kernel and the script as its initrd, which iPXE runs because it starts with
 * `#!ipxe`. UEFI: an EFI System Partition (esp.ts) with a UEFI iPXE that runs `autoexec.ipxe` beside it — Debian 12's
 * ipxe.efi cannot, Debian 13's can (uefi-ipxe.ts) — appended as MBR partition 2 and named as the El Torito EFI image,
 * so the CD and the stick both boot it. No compiler: only files Debian ships, put together by xorriso.
 *
 * The same inputs give the same bytes (fixed dates, volume id and file modes), so an image can be checked by its
 * hash and rebuilt anywhere.
 */
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { access, copyFile, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BootherdError } from '../errors.ts';
import { buildEspImage } from './esp.ts';
import { runTool } from './tool.ts';

export interface BootFiles {
  lkrn: string;
  isolinux: string;
  ldlinux: string;
  hybridMbr: string;
}

/** Where Debian bookworm puts each file, and the package that ships it. */
export const DEBIAN_BOOT_FILES: BootFiles = {
  lkrn: '/usr/lib/ipxe/ipxe.lkrn',
  isolinux: '/usr/lib/ISOLINUX/isolinux.bin',
  ldlinux: '/usr/lib/syslinux/modules/bios/ldlinux.c32',
  hybridMbr: '/usr/lib/ISOLINUX/isohdpfx.bin',
};
const PACKAGE: Record<keyof BootFiles, string> = {
  lkrn: 'ipxe',
  isolinux: 'isolinux',
  ldlinux: 'syslinux-common',
  hybridMbr: 'isolinux',
};

export const VOLUME_ID = 'BOOTHERD';
/** 2000-01-01 00:00:00 UTC, for every date in the image. */
const FIXED_DATE = '2000010100000000';
const FIXED_EPOCH = '946684800';

/** No prompt, no wait: the script decides what happens, and a machine nobody watches must not stop at a menu. */
export const ISOLINUX_CFG = [
  'DEFAULT ipxe',
  'PROMPT 0',
  'TIMEOUT 0',
  'LABEL ipxe',
  '  KERNEL /ipxe.lkrn',
  '  INITRD /boot.ipxe',
  '',
].join('\n');

/** The mkisofs-style arguments; `-no_rc` keeps the operator's xorriso startup files from changing the bytes. */
export function xorrisoArgs(stage: string, output: string, hybridMbr: string, esp?: string): string[] {
  return [
    '-no_rc',
    '-as',
    'mkisofs',
    '-quiet',
    '-o',
    output,
    '-V',
    VOLUME_ID,
    // Rock Ridge with owner root and plain modes, whatever the staging files had.
    '-r',
    `--modification-date=${FIXED_DATE}`,
    '--set_all_file_dates',
    FIXED_DATE,
    '-isohybrid-mbr',
    hybridMbr,
    '-b',
    'isolinux/isolinux.bin',
    '-c',
    'isolinux/boot.cat',
    '-no-emul-boot',
    '-boot-load-size',
    '4',
    '-boot-info-table',
    // UEFI: the ESP appended as partition 2 (type 0xef, MBR only: no GPT, whose GUIDs would differ per build) and
    // named as the El Torito EFI boot image, so firmware finds it on a CD and on a stick alike.
    ...(esp
      ? [
          '-eltorito-alt-boot',
          '-e',
          '--interval:appended_partition_2:all::',
          '-no-emul-boot',
          '-append_partition',
          '2',
          '0xef',
          esp,
        ]
      : []),
    stage,
  ];
}

export interface BuildIsoOptions {
  /** The iPXE script, already validated (see script.ts). */
  script: string;
  output: string;
  /** xorriso's environment (its PATH); default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Other places for the boot files than Debian's. */
  files?: Partial<BootFiles>;
  /** A UEFI x64 iPXE that runs `autoexec.ipxe` (see uefi-ipxe.ts); absent: a BIOS-only image. */
  uefiIpxe?: string;
}

export interface BuiltIso {
  output: string;
  bytes: number;
  sha256: string;
}

async function requireFiles(files: BootFiles): Promise<void> {
  for (const key of Object.keys(files) as (keyof BootFiles)[]) {
    try {
      await access(files[key], constants.R_OK);
    } catch {
      throw new BootherdError(
        'TOOL_MISSING',
        `${files[key]} not found: install the Debian package ${PACKAGE[key]} (apt-get install ${PACKAGE[key]})`,
      );
    }
  }
}

export async function buildIso(o: BuildIsoOptions): Promise<BuiltIso> {
  if (!o.script.startsWith('#!ipxe')) throw new BootherdError('MEDIA', 'the boot script must start with #!ipxe');
  const files = { ...DEBIAN_BOOT_FILES, ...o.files };
  await requireFiles(files);
  const stage = await mkdtemp(join(tmpdir(), 'bootherd-iso-'));
  // Written next to the output and renamed, so a failed build never leaves a half image under the real name.
  const partial = `${o.output}.partial`;
  try {
    await mkdir(join(stage, 'isolinux'));
    await copyFile(files.isolinux, join(stage, 'isolinux', 'isolinux.bin'));
    await copyFile(files.ldlinux, join(stage, 'isolinux', 'ldlinux.c32'));
    await copyFile(files.lkrn, join(stage, 'ipxe.lkrn'));
    await writeFile(join(stage, 'isolinux', 'isolinux.cfg'), ISOLINUX_CFG);
    await writeFile(join(stage, 'boot.ipxe'), o.script);
    // Outside the ISO tree: it is appended as a partition, not stored twice.
    const esp = o.uefiIpxe ? join(`${stage}-esp`, 'esp.img') : undefined;
    if (o.uefiIpxe && esp) await buildEspImage(o.uefiIpxe, o.script, esp);
    await rm(partial, { force: true });
    await runTool('xorriso', xorrisoArgs(stage, partial, files.hybridMbr, esp), {
      pkg: 'xorriso',
      env: { ...(o.env ?? process.env), SOURCE_DATE_EPOCH: FIXED_EPOCH },
    });
    await rename(partial, o.output);
  } catch (err) {
    await rm(partial, { force: true });
    if (err instanceof BootherdError) throw err;
    throw new BootherdError('MEDIA', `cannot write ${o.output}: ${(err as Error).message}`);
  } finally {
    await rm(stage, { recursive: true, force: true });
    await rm(`${stage}-esp`, { recursive: true, force: true });
  }
  const bytes = await readFile(o.output);
  return { output: o.output, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
}
