/**
 * A machine's own boot stick, built on request (`GET /api/v1/machines/{id}/media.iso`): the same image `bootherd
 * media iso --machine ID` writes, so a script can loop over the fleet through the API.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Machine } from '../model/types.ts';
import { buildIso } from './iso.ts';
import { machineChoice, mediaScript } from './script.ts';
import { fetchTrixieUefiIpxe } from './uefi-ipxe.ts';

export interface MachineMediaOptions {
  /** `<http.advertise>/boot.ipxe`. */
  bootUrl: string;
  /** Where Debian 13's UEFI iPXE is cached; absent: BIOS-only images. */
  uefiCacheDir?: string;
}

export type MachineMedia = (machine: Machine) => Promise<{ image: Buffer; sha256: string }>;

export function machineMedia(o: MachineMediaOptions): MachineMedia {
  return async (machine) => {
    const script = mediaScript(machineChoice(machine, o.bootUrl));
    const uefiIpxe = o.uefiCacheDir ? (await fetchTrixieUefiIpxe(o.uefiCacheDir)).efi : undefined;
    const dir = await mkdtemp(join(tmpdir(), 'bootherd-media-'));
    try {
      const built = await buildIso({ script, output: join(dir, 'media.iso'), ...(uefiIpxe ? { uefiIpxe } : {}) });
      return { image: await readFile(built.output), sha256: built.sha256 };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };
}
