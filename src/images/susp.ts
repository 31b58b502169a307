/**
 * System Use Sharing Protocol (IEEE P1281) entries of one directory record, and the Rock Ridge (IEEE P1282, RRIP)
 * facts the reader needs from them: the POSIX name, symbolic links, and directory relocation.
 */
import { isoError, type Source } from './source.ts';

export interface SuspEntry {
  sig: string;
  data: Buffer;
}

/** Continuation areas one record may chain through; real images use one or two. */
const MAX_CONTINUATIONS = 16;
const SECTOR = 2048;

/**
 * SUSP 4.1: each entry is "BP 1 to 2 Signature Word; BP 3 Length (LEN_SUE); BP 4 System Use Entry Version;
 * BP 5 to LEN_SUE Data". 5.1 "CE": "BP 5 to 12 Block Location of Continuation Area; BP 13 to 20 Offset to Start of
 * Continuation Area; BP 21 to 28 Length of Continuation Area". 5.4 "ST" terminates the System Use area.
 */
export async function suspEntries(src: Source, systemUse: Buffer, skip: number): Promise<SuspEntry[]> {
  const out: SuspEntry[] = [];
  let area = systemUse.subarray(Math.min(skip, systemUse.length));
  for (let hop = 0; hop <= MAX_CONTINUATIONS; hop++) {
    let next: { block: number; offset: number; length: number } | undefined;
    let at = 0;
    while (at + 4 <= area.length) {
      const sig = area.toString('latin1', at, at + 2);
      const len = area[at + 2]!;
      if (len < 4 || at + len > area.length) break;
      const data = area.subarray(at + 4, at + len);
      at += len;
      if (sig === 'ST') break;
      if (sig === 'CE' && data.length >= 24)
        next = { block: data.readUInt32LE(0), offset: data.readUInt32LE(8), length: data.readUInt32LE(16) };
      else out.push({ sig, data });
    }
    if (!next) return out;
    if (next.length > SECTOR) throw isoError(`a SUSP continuation area of ${next.length} bytes`);
    area = await src.read(next.block * SECTOR + next.offset, next.length, 'SUSP continuation area');
  }
  throw isoError(`a directory record chains more than ${MAX_CONTINUATIONS} SUSP continuation areas`);
}

export interface RockRidge {
  name?: string;
  symlink: boolean;
  relocated: boolean;
  /** Sector of the directory this placeholder stands for. */
  childLink?: number;
}

const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;

/**
 * RRIP 4.1.4 "NM": "BP 5 Flags" (bit 0 CONTINUE: the name goes on in the next NM; bit 1 CURRENT, bit 2 PARENT),
 * "BP 6 to LEN_NM Name Content". 4.1.1 "PX": "BP 5 to 12 POSIX File Mode". 4.1.5.1 "CL": "BP 5 to 12 Location of
 * Child Directory"; 4.1.5.3 "RE": this directory was relocated (its CL placeholder names it). 4.1.3 "SL": a link.
 */
export function nameFromSusp(entries: SuspEntry[]): RockRidge {
  const rr: RockRidge = { symlink: false, relocated: false };
  let name: string | undefined;
  for (const { sig, data } of entries) {
    if (sig === 'NM' && data.length >= 1) {
      const flags = data[0]!;
      if (flags & 0x06) continue;
      name = (name ?? '') + data.subarray(1).toString('utf8');
    } else if (sig === 'PX' && data.length >= 8) {
      if ((data.readUInt32LE(0) & S_IFMT) === S_IFLNK) rr.symlink = true;
    } else if (sig === 'SL') rr.symlink = true;
    else if (sig === 'RE') rr.relocated = true;
    else if (sig === 'CL' && data.length >= 8) rr.childLink = data.readUInt32LE(0);
  }
  if (name !== undefined) rr.name = name;
  return rr;
}
