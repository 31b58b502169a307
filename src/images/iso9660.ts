/**
 * A read-only ISO 9660 reader: volume descriptors, the directory tree with Rock Ridge (preferred) or Joliet names,
 * multi-extent files and the El Torito boot catalog. It reads through a positional file handle and never holds more
 * than one directory (or one chunk of a file) in memory. Every structure read from the image is bounds-checked: a
 * malformed image is a BootherdError ISO_INVALID, never a crash or an endless walk.
 */
import { type FileHandle, open } from 'node:fs/promises';
import { BootherdError } from '../errors.ts';
import { type BootEntry, bootEntries } from './eltorito.ts';
import { isoError, Source } from './source.ts';
import { nameFromSusp, suspEntries } from './susp.ts';

/** A byte range of the image. */
export interface Extent {
  offset: number;
  length: number;
}

export interface IsoFile {
  /** Slash-separated, no leading slash: `install.amd/vmlinuz`. */
  path: string;
  size: number;
  extents: Extent[];
}

export interface IsoListing {
  volumeId: string;
  /** Which names the tree was read with. */
  names: 'rock-ridge' | 'joliet' | 'iso9660';
  files: IsoFile[];
  boot: BootEntry[];
  /** Bytes of the image file. */
  size: number;
}

// ECMA-119 6.2.1: "Logical Sectors 0 to 15 shall be the System Area"; the Volume Descriptor Set starts at sector 16.
const SECTOR = 2048;
const FIRST_VD = 16;
/** Bounds against hostile images: descriptors, tree depth, entries, one directory's size, SUSP continuations. */
const MAX_DESCRIPTORS = 64;
const MAX_DEPTH = 64;
const MAX_ENTRIES = 1_000_000;
const MAX_DIR_BYTES = 32 * 1024 * 1024;

interface Record {
  /** Extent start in bytes (after any extended attribute record). */
  offset: number;
  length: number;
  dir: boolean;
  /** ECMA-119 9.1.6 bit 7, Multi-Extent: "this is not the final Directory Record for the file". */
  more: boolean;
  /** 0x00 is the directory itself, 0x01 its parent (ECMA-119 6.8.2.2). */
  id: Buffer;
  systemUse: Buffer;
}

/**
 * ECMA-119 9.1 Directory Record: "BP 1 Length of Directory Record (LEN_DR); BP 2 Extended Attribute Record Length;
 * BP 3 to 10 Location of Extent; BP 11 to 18 Data Length; BP 26 File Flags; BP 33 Length of File Identifier (LEN_FI);
 * BP 34 to (33+LEN_FI) File Identifier; BP (34+LEN_FI) Padding Field [present if LEN_FI is even]; System Use".
 * Both-byte-order fields (7.2.3, 7.3.3) are read in their little-endian half.
 */
function parseRecord(buf: Buffer, at: number, where: string): Record {
  const len = buf[at]!;
  if (len < 34 || at + len > buf.length) throw isoError(`${where}: directory record of ${len} bytes does not fit`);
  const xa = buf[at + 1]!;
  const lba = buf.readUInt32LE(at + 2);
  const length = buf.readUInt32LE(at + 10);
  const flags = buf[at + 25]!;
  const lenFi = buf[at + 32]!;
  if (33 + lenFi > len) throw isoError(`${where}: file identifier runs past its directory record`);
  const su = 33 + lenFi + (lenFi % 2 === 0 ? 1 : 0);
  return {
    offset: (lba + xa) * SECTOR,
    length,
    dir: (flags & 0x02) !== 0,
    more: (flags & 0x80) !== 0,
    id: buf.subarray(at + 33, at + 33 + lenFi),
    systemUse: su < len ? buf.subarray(at + su, at + len) : Buffer.alloc(0),
  };
}

/** ECMA-119 7.5.1: `NAME.EXT;1`: drop the version and a trailing dot; lower-case like Linux's `map=normal`. */
function plainName(id: Buffer): string {
  return id.toString('latin1').replace(/;\d*$/, '').replace(/\.$/, '').toLowerCase();
}

/** Joliet: "the File Identifier ... shall be recorded as UCS-2 characters" (big-endian). */
function jolietName(id: Buffer): string {
  const le = Buffer.alloc(id.length - (id.length % 2));
  for (let i = 0; i + 1 < id.length; i += 2) {
    le[i] = id[i + 1]!;
    le[i + 1] = id[i]!;
  }
  return le.toString('utf16le').replace(/;\d*$/, '');
}

function checkName(name: string, parent: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: names with control characters are refused
  if (name === '' || name === '.' || name === '..' || /[/\\\u0000-\u001f]/.test(name))
    throw isoError(`directory ${parent || '/'} holds an entry named ${JSON.stringify(name)}`);
  return name;
}

interface Tree {
  root: Record;
  names: IsoListing['names'];
  /** Bytes to skip at the start of each System Use field (SUSP "SP" LEN_SKP), when Rock Ridge is in use. */
  suspSkip?: number;
  /** ECMA-119 8.4.6: "BP 41 to 72 Volume Identifier" (d-characters, space padded). */
  volumeId: string;
}

async function readDescriptors(src: Source, file: string): Promise<{ primary?: Tree; joliet?: Tree; boot: number[] }> {
  let primary: Tree | undefined;
  let joliet: Tree | undefined;
  const boot: number[] = [];
  for (let i = 0; i < MAX_DESCRIPTORS; i++) {
    const vd = await src.read((FIRST_VD + i) * SECTOR, SECTOR, `volume descriptor ${i}`);
    // ECMA-119 8.1: "BP 1 Volume Descriptor Type; BP 2 to 6 Standard Identifier" = "CD001".
    if (vd.toString('latin1', 1, 6) !== 'CD001') {
      if (i === 0) throw isoError(`${file}: not an ISO 9660 image (no CD001 volume descriptor at sector 16)`);
      throw isoError(`${file}: volume descriptor ${i} is not a CD001 descriptor and no terminator came before it`);
    }
    const type = vd[0]!;
    if (type === 255) return { ...(primary ? { primary } : {}), ...(joliet ? { joliet } : {}), boot };
    // El Torito 2.0: Boot Record Volume Descriptor, "Boot System Identifier: EL TORITO SPECIFICATION";
    // offset 0x47: "Absolute pointer to first sector of Boot Catalog".
    if (type === 0 && vd.toString('latin1', 7, 30) === 'EL TORITO SPECIFICATION') boot.push(vd.readUInt32LE(0x47));
    if (type === 1 || type === 2) {
      // ECMA-119 8.4.12: "BP 129 to 132 Logical Block Size"; 8.4.18: "BP 157 to 190 Directory Record for Root".
      const block = vd.readUInt16LE(128);
      if (block !== SECTOR) throw isoError(`${file}: logical block size ${block} (only 2048 is supported)`);
      const root = parseRecord(vd, 156, `${file}: root directory record`);
      // Joliet: Supplementary VD with escape sequence %/@, %/C or %/E (UCS-2 levels 1-3) at BP 89 to 120.
      const esc = vd.toString('latin1', 88, 91);
      const volumeId = vd.toString('latin1', 40, 72).trim();
      if (type === 1 && !primary) primary = { root, names: 'iso9660', volumeId };
      else if (type === 2 && !joliet && ['%/@', '%/C', '%/E'].includes(esc))
        joliet = { root, names: 'joliet', volumeId };
    }
  }
  throw isoError(`${file}: no volume descriptor set terminator within ${MAX_DESCRIPTORS} descriptors`);
}

export class IsoReader {
  private constructor(
    private readonly fh: FileHandle,
    readonly source: Source,
    readonly listing: IsoListing,
  ) {}

  static async open(file: string): Promise<IsoReader> {
    let fh: FileHandle;
    try {
      fh = await open(file, 'r');
    } catch (err) {
      throw new BootherdError('BAD_REQUEST', `cannot read ${file}: ${(err as Error).message}`);
    }
    try {
      const size = (await fh.stat()).size;
      if (size < (FIRST_VD + 1) * SECTOR) throw isoError(`${file}: not an ISO 9660 image (only ${size} bytes)`);
      const src = new Source(fh, size, file);
      const vds = await readDescriptors(src, file);
      if (!vds.primary) throw isoError(`${file}: no primary volume descriptor`);
      const tree = await pickTree(src, vds.primary, vds.joliet);
      const files = await walk(src, tree, file);
      const boot = vds.boot.length ? await bootEntries(src, vds.boot[0]!) : [];
      const listing: IsoListing = { volumeId: vds.primary.volumeId, names: tree.names, files, boot, size };
      return new IsoReader(fh, src, listing);
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  /** A small file's bytes as text (e.g. `.disk/info`); refuses files larger than `max`. */
  async readText(f: IsoFile, max = 64 * 1024): Promise<string> {
    if (f.size > max) throw isoError(`${f.path}: ${f.size} bytes, more than the ${max} expected`);
    const parts: Buffer[] = [];
    for await (const chunk of this.stream(f)) parts.push(chunk);
    return Buffer.concat(parts).toString('utf8');
  }

  /** A file's bytes, extent by extent, in chunks of at most `chunk` bytes. */
  async *stream(f: IsoFile, chunk = 1024 * 1024): AsyncGenerator<Buffer> {
    for (const e of f.extents) {
      for (let at = 0; at < e.length; at += chunk)
        yield await this.source.read(e.offset + at, Math.min(chunk, e.length - at), f.path);
    }
  }

  close(): Promise<void> {
    return this.fh.close();
  }
}

/**
 * Rock Ridge (RRIP, IEEE P1282) lives in the primary tree's System Use fields. SUSP (IEEE P1281) 5.3: the "SP"
 * entry "shall be recorded in the System Use field of the first Directory Record of the root directory", with
 * "check bytes BE EF" and "LEN_SKP". Without it, Joliet names (when present) beat 8.3 names.
 */
async function pickTree(src: Source, primary: Tree, joliet?: Tree): Promise<Tree> {
  const rootDir = await src.read(primary.root.offset, SECTOR, 'root directory');
  const self = parseRecord(rootDir, 0, 'root directory');
  const su = self.systemUse;
  if (su.length >= 7 && su.toString('latin1', 0, 2) === 'SP' && su[4] === 0xbe && su[5] === 0xef)
    return { ...primary, names: 'rock-ridge', suspSkip: su[6]! };
  return joliet ?? primary;
}

async function walk(src: Source, tree: Tree, file: string): Promise<IsoFile[]> {
  const files: IsoFile[] = [];
  const visited = new Set<number>();
  let entries = 0;
  const visit = async (dir: Record, path: string, depth: number): Promise<void> => {
    if (depth > MAX_DEPTH) throw isoError(`${file}: directories nest deeper than ${MAX_DEPTH} levels at ${path}`);
    if (visited.has(dir.offset))
      throw isoError(`${file}: directory ${path || '/'} loops back to a directory already read`);
    visited.add(dir.offset);
    if (dir.length > MAX_DIR_BYTES) throw isoError(`${file}: directory ${path || '/'} is ${dir.length} bytes`);
    const buf = await src.read(dir.offset, dir.length, `directory ${path || '/'}`);
    let pending: { name: string; extents: Extent[]; size: number } | undefined;
    let at = 0;
    while (at < buf.length) {
      // ECMA-119 6.8.1.1: "Each Directory Record shall end in the Logical Sector in which it begins"; the rest of
      // a sector is zero.
      if (buf[at] === 0) {
        at = (Math.floor(at / SECTOR) + 1) * SECTOR;
        continue;
      }
      if (++entries > MAX_ENTRIES) throw isoError(`${file}: more than ${MAX_ENTRIES} directory entries`);
      const where = `${file}: directory ${path || '/'}`;
      const r = parseRecord(buf, at, where);
      if (Math.floor(at / SECTOR) !== Math.floor((at + buf[at]! - 1) / SECTOR))
        throw isoError(`${where}: a directory record crosses a sector boundary`);
      at += buf[at]!;
      if (r.id.length === 1 && r.id[0]! <= 1) continue;
      const name = await entryName(src, tree, r, path);
      if (name === undefined) continue;
      const full = path ? `${path}/${name.name}` : name.name;
      if (name.dir) {
        await visit(name.dir, full, depth + 1);
        continue;
      }
      if (r.dir) {
        await visit(r, full, depth + 1);
        continue;
      }
      if (r.length > 0 && r.offset + r.length > src.size)
        throw isoError(`${file}: ${full} lies past the end of the image (truncated?)`);
      const extent = { offset: r.offset, length: r.length };
      if (pending && pending.name === full) {
        pending.extents.push(extent);
        pending.size += r.length;
      } else {
        if (pending) throw isoError(`${where}: multi-extent file ${pending.name} has no final record`);
        pending = { name: full, extents: [extent], size: r.length };
      }
      if (!r.more) {
        files.push({ path: pending.name, size: pending.size, extents: pending.extents.filter((e) => e.length) });
        pending = undefined;
      }
    }
    if (pending) throw isoError(`${file}: multi-extent file ${pending.name} has no final record`);
  };
  await visit(tree.root, '', 0);
  return files;
}

/** An entry's name, or undefined for entries Rock Ridge hides (relocated directories, symbolic links). */
async function entryName(
  src: Source,
  tree: Tree,
  r: Record,
  parent: string,
): Promise<{ name: string; dir?: Record } | undefined> {
  if (tree.names === 'joliet') return { name: checkName(jolietName(r.id), parent) };
  if (tree.names === 'iso9660') return { name: checkName(plainName(r.id), parent) };
  const susp = await suspEntries(src, r.systemUse, tree.suspSkip ?? 0);
  const rr = nameFromSusp(susp);
  if (rr.relocated || rr.symlink) return undefined;
  const name = checkName(rr.name ?? plainName(r.id), parent);
  if (rr.childLink === undefined) return { name };
  // RRIP 4.1.5.1 "CL": the directory's real place, moved out of a too-deep path.
  const at = rr.childLink * SECTOR;
  const first = await src.read(at, SECTOR, `relocated directory ${name}`);
  const self = parseRecord(first, 0, `relocated directory ${name}`);
  return { name, dir: { ...self, offset: at } };
}
