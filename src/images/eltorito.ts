/** The El Torito boot catalog: which boot images an ISO offers, for which firmware. */
import type { Source } from './source.ts';

export interface BootEntry {
  platform: 'bios' | 'uefi' | 'powerpc' | 'mac' | 'other';
  bootable: boolean;
  media: 'no-emulation' | 'floppy' | 'hard-disk';
  /** Sector (2048 bytes) of the boot image. */
  lba: number;
  /** Virtual 512-byte sectors loaded at boot. */
  sectors: number;
}

const ENTRY = 32;
/** A catalog with more entries than this is not a real one. */
const MAX_ENTRIES = 256;

/** El Torito 2.1 "Platform ID: 0 = 80x86, 1 = Power PC, 2 = Mac"; UEFI 2.x 13.3.2.1 adds 0xEF for EFI. */
function platform(id: number): BootEntry['platform'] {
  return id === 0 ? 'bios' : id === 0xef ? 'uefi' : id === 1 ? 'powerpc' : id === 2 ? 'mac' : 'other';
}

/**
 * El Torito 2.3 Initial/Default Entry and 2.5 Section Entry: "Offset 0 Boot Indicator: 88 = Bootable, 00 = Not
 * Bootable; 1 Boot media type (0 No Emulation, 1-3 diskettes, 4 Hard Disk); 6-7 Sector Count; 8-B Load RBA".
 */
function entry(b: Buffer, at: number, id: number): BootEntry {
  const media = b[at + 1]! & 0x0f;
  return {
    platform: platform(id),
    bootable: b[at] === 0x88,
    media: media === 0 ? 'no-emulation' : media === 4 ? 'hard-disk' : 'floppy',
    lba: b.readUInt32LE(at + 8),
    sectors: b.readUInt16LE(at + 6),
  };
}

/**
 * El Torito 2.1 Validation Entry: "Offset 0 Header ID, must be 01; 1 Platform ID; 1E-1F Key bytes 55 AA". Then the
 * default entry, then sections: 2.4 "Header Indicator: 90 - more headers follow, 91 - final header; 1 Platform ID;
 * 2-3 Number of section entries following this header". A catalog that fails these checks offers no boot images.
 */
export async function bootEntries(src: Source, catalogLba: number): Promise<BootEntry[]> {
  const b = await src.read(catalogLba * 2048, Math.min(4 * 2048, src.size - catalogLba * 2048), 'boot catalog');
  if (b.length < 2 * ENTRY || b[0] !== 1 || b[0x1e] !== 0x55 || b[0x1f] !== 0xaa) return [];
  const out = [entry(b, ENTRY, b[1]!)];
  let at = 2 * ENTRY;
  for (let n = 0; n < MAX_ENTRIES && at + ENTRY <= b.length; n++) {
    const indicator = b[at]!;
    if (indicator !== 0x90 && indicator !== 0x91) break;
    const id = b[at + 1]!;
    const count = b.readUInt16LE(at + 2);
    at += ENTRY;
    for (let i = 0; i < count && at + ENTRY <= b.length; i++, at += ENTRY) {
      // 2.6 Section Entry Extension (indicator 44) carries selection criteria, not an image.
      if (b[at] === 0x44) {
        i--;
        continue;
      }
      out.push(entry(b, at, id));
    }
    if (indicator === 0x91) break;
  }
  return out;
}
