/**
 * A UEFI boot image: a FAT EFI System Partition holding a UEFI iPXE as the removable-media loader
 * (`EFI/BOOT/BOOTX64.EFI`) and our script beside it as `EFI/BOOT/autoexec.ipxe`, which iPXE builds since 2021 load
 * from their own directory (then from the root) and run at start. Written with mtools, so no mount and no root.
 *
 * The same inputs give the same bytes: every file and directory is staged with one fixed date and copied with its
 * date kept, dates are written as UTC, the volume serial comes from the inputs' hash, and no volume label is written
 * (mformat stamps the label's entry with the current time).
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, open, readFile, rename, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { BootherdError } from '../errors.ts';
import { runTool } from './tool.ts';

/** Where the firmware looks on removable media, and where iPXE looks for its script (the loader's directory). */
export const ESP_LOADER_PATH = 'EFI/BOOT/BOOTX64.EFI';
export const ESP_SCRIPT_PATH = 'EFI/BOOT/autoexec.ipxe';

/** 2000-01-01 00:00:00 UTC: FAT cannot store dates before 1980. */
const FIXED_DATE = new Date(946_684_800_000);
const MIB = 1024 * 1024;

export interface EspImage {
  path: string;
  bytes: number;
  sha256: string;
}

/** Whole MiB, at least 2, with at least 1 MiB free above the files and the FAT overhead. */
export function espSizeBytes(payloadBytes: number): number {
  return Math.max(2, Math.ceil(payloadBytes / MIB) + 1) * MIB;
}

/**
 * Build the ESP image at `outputPath` (replaced atomically) from a UEFI x64 iPXE binary and the script text.
 * Needs mtools (`mformat`, `mcopy`).
 */
export async function buildEspImage(efiPath: string, scriptText: string, outputPath: string): Promise<EspImage> {
  if (!/^#!ipxe[ \t]*\r?\n/.test(scriptText)) {
    throw new BootherdError('MEDIA', 'the script must start with a "#!ipxe" line, or iPXE will not run it');
  }
  const efi = await readFile(efiPath).catch((err: NodeJS.ErrnoException) => {
    throw new BootherdError('TOOL_MISSING', `UEFI iPXE binary ${efiPath}: ${err.code ?? err.message}`);
  });
  if (efi.subarray(0, 2).toString('latin1') !== 'MZ') {
    throw new BootherdError('MEDIA', `${efiPath} is not an EFI (PE) executable`);
  }
  const script = Buffer.from(scriptText, 'utf8');
  const serial = createHash('sha256').update(efi).update(script).digest('hex').slice(0, 8);

  const stage = await mkdtemp(join(tmpdir(), 'bootherd-esp-'));
  const tmpOut = `${outputPath}.${process.pid}.tmp`;
  try {
    const boot = join(stage, 'EFI', 'BOOT');
    await mkdir(boot, { recursive: true });
    await writeFile(join(stage, ESP_LOADER_PATH), efi);
    await writeFile(join(stage, ESP_SCRIPT_PATH), script);
    for (const p of [ESP_LOADER_PATH, ESP_SCRIPT_PATH, 'EFI/BOOT', 'EFI']) {
      await utimes(join(stage, p), FIXED_DATE, FIXED_DATE);
    }

    await mkdir(dirname(outputPath), { recursive: true });
    const fh = await open(tmpOut, 'w');
    try {
      await fh.truncate(espSizeBytes(efi.length + script.length));
    } finally {
      await fh.close();
    }
    // FAT dates are local time: UTC makes them independent of the host's zone. MTOOLSRC: not the user's ~/.mtoolsrc.
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', TZ: 'UTC', MTOOLSRC: '/dev/null', MTOOLS_SKIP_CHECK: '1' };
    await mtools('mformat', ['-i', tmpOut, '-N', serial, '::'], env);
    await mtools('mcopy', ['-i', tmpOut, '-s', '-m', '-Q', join(stage, 'EFI'), '::/'], env);
    await rename(tmpOut, outputPath);
  } catch (err) {
    await rm(tmpOut, { force: true });
    throw err;
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
  const image = await readFile(outputPath);
  return { path: outputPath, bytes: image.length, sha256: createHash('sha256').update(image).digest('hex') };
}

function mtools(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<unknown> {
  return runTool(cmd, args, { pkg: 'mtools', env });
}
