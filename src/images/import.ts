/**
 * `images import`: read an ISO, recognise it, copy what its profile boots into `<assets>/images/<name>/`, then
 * create the profile through the inventory service.
 *
 * Crash safety: everything is written into `<assets>/images/.<name>.partial/` (a dot-name: the asset route never
 * serves it), each file fsynced, then that folder is renamed to `<name>` in one step and the parent fsynced; the
 * profile is created only after that. A kill -9 at any point before the rename leaves no file under a served name
 * and no profile; the next import cleans the leftover. The ISO is read once, front to back: one pass hashes the
 * whole image and every copied file.
 */
import { createHash, type Hash } from 'node:crypto';
import { type FileHandle, mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import type { InventoryService } from '../core/inventory.ts';
import { BootherdError } from '../errors.ts';
import { checkImageName, defaultImageName, imagesDir, MANIFEST, type Manifest, readManifest } from './catalog.ts';
import { type IsoFile, IsoReader } from './iso9660.ts';
import { isoAssetName, type Recipe, recognize, TEXT_FILES } from './recognize.ts';

export interface ImportOptions {
  iso: string;
  name?: string;
  /** Extra kernel arguments for the profile's command line. */
  append?: string;
  assetsDir: string;
  inventory: InventoryService;
  /** Called after each chunk with the bytes of the ISO read so far. */
  onProgress?: (done: number, total: number) => void;
  /** Called once the image is recognised, before the copy starts. */
  onPlan?: (plan: { name: string; recipe: Recipe; bytes: number }) => void;
  now?: () => Date;
}

const CHUNK = 4 * 1024 * 1024;
const OWNER = '.owner';

/** A file being written: its byte ranges in the ISO, in file order. */
interface Target {
  path: string;
  dest: string;
  ranges: { offset: number; length: number }[];
  size: number;
  fh?: FileHandle;
  /** Absent for the whole image: its hash is the source's. */
  hash?: Hash;
  sha256?: string;
  written: number;
}

export async function importIso(o: ImportOptions): Promise<Manifest> {
  const name = checkImageName(o.name ?? defaultImageName(o.iso));
  const root = imagesDir(o.assetsDir);
  await mkdir(root, { recursive: true });
  await cleanLeftovers(root, name);
  if (await readManifest(o.assetsDir, name))
    throw new BootherdError(
      'CONFLICT',
      `image "${name}" exists already: remove it first (bootherd images remove ${name})`,
    );
  if ((await o.inventory.listProfiles()).some((p) => p.name === name))
    throw new BootherdError('CONFLICT', `a profile "${name}" exists already: choose another name with --name`);
  const finalDir = join(root, name);
  if (await exists(finalDir))
    throw new BootherdError('CONFLICT', `${finalDir} exists and holds no ${MANIFEST}: move it away or choose --name`);

  const reader = await IsoReader.open(o.iso);
  const staging = join(root, `.${name}.partial`);
  let staged = false;
  try {
    const { listing } = reader;
    const byLower = new Map(listing.files.map((f) => [f.path.toLowerCase(), f]));
    const texts: Record<string, string> = {};
    for (const t of TEXT_FILES) {
      const f = byLower.get(t);
      if (f && f.size <= 64 * 1024) texts[t] = await reader.readText(f);
    }
    const recipe = recognize({
      name,
      volumeId: listing.volumeId,
      files: listing.files.map((f) => f.path),
      texts,
      ...(o.append ? { append: o.append } : {}),
    });
    const byPath = new Map(listing.files.map((f) => [f.path, f]));
    const sources: { path: string; file: IsoFile }[] = recipe.files.map((p) => ({ path: p, file: byPath.get(p)! }));
    if (recipe.wholeIso)
      sources.push({
        path: isoAssetName(name),
        file: { path: isoAssetName(name), size: listing.size, extents: [{ offset: 0, length: listing.size }] },
      });
    o.onPlan?.({ name, recipe, bytes: sources.reduce((n, s) => n + s.file.size, 0) });

    // Not recursive: a second import of this name started at the same moment fails here, and leaves ours alone.
    await mkdir(staging).catch((err: NodeJS.ErrnoException) => {
      throw err.code === 'EEXIST' ? new BootherdError('CONFLICT', `image "${name}" is being imported right now`) : err;
    });
    staged = true;
    await writeFile(join(staging, OWNER), `${process.pid}\n`);
    const targets = sources.map((s) => target(staging, s.path, s.file, listing.size));
    const sha256 = await copyPass(reader, targets, o.onProgress);

    const manifest: Manifest = {
      name,
      kind: recipe.kind,
      description: recipe.description,
      source: { file: basename(o.iso), size: listing.size, sha256, volumeId: listing.volumeId },
      names: listing.names,
      boot: listing.boot,
      profile: name,
      files: targets.map((t) => ({ path: t.path, size: t.size, sha256: t.sha256! })),
      importedAt: (o.now ?? (() => new Date()))().toISOString(),
    };
    await writeDurably(join(staging, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
    await rm(join(staging, OWNER));
    await syncTree(staging);
    await rename(staging, finalDir);
    await syncDir(root);
    try {
      await o.inventory.putProfile({ name, description: recipe.description, boot: recipe.boot }, 'create');
    } catch (err) {
      await rm(finalDir, { recursive: true, force: true });
      throw err;
    }
    return manifest;
  } catch (err) {
    if (staged) await rm(staging, { recursive: true, force: true });
    throw err;
  } finally {
    await reader.close();
  }
}

function target(staging: string, path: string, file: IsoFile, imageSize: number): Target {
  const dest = resolve(staging, path);
  // The reader refuses `..` and `/` in names; this is the last guard before a write outside the image's folder.
  if (!dest.startsWith(`${resolve(staging)}${sep}`) || relative(staging, dest).split(sep).includes('..'))
    throw new BootherdError('ISO_INVALID', `${path}: not a path inside the image folder`);
  let end = -1;
  for (const e of file.extents) {
    // Hashing in one front-to-back pass needs a file's extents in ascending order, as mkisofs and xorriso write them.
    if (e.offset < end) throw new BootherdError('ISO_INVALID', `${path}: its extents are out of order`);
    end = e.offset + e.length;
  }
  const whole = file.extents.length === 1 && file.extents[0]!.offset === 0 && file.size === imageSize;
  return {
    path,
    dest,
    ranges: file.extents,
    size: file.size,
    ...(whole ? {} : { hash: createHash('sha256') }),
    written: 0,
  };
}

/** Read the ISO once, front to back: hash all of it, and write each chunk's overlap with every target. */
async function copyPass(
  reader: IsoReader,
  targets: Target[],
  onProgress?: (done: number, total: number) => void,
): Promise<string> {
  const total = reader.source.size;
  const whole = createHash('sha256');
  const segments = targets
    .flatMap((t) => t.ranges.map((r) => ({ t, start: r.offset, end: r.offset + r.length })))
    .sort((a, b) => a.start - b.start);
  for (const t of targets) {
    await mkdir(dirname(t.dest), { recursive: true });
    t.fh = await open(t.dest, 'wx');
  }
  let next = 0;
  let active: typeof segments = [];
  const read = (pos: number) => {
    const p = reader.source.read(pos, Math.min(CHUNK, total - pos), 'image data');
    // Awaited later; a failure must not count as unhandled in the meantime.
    p.catch(() => undefined);
    return p;
  };
  let ahead = total > 0 ? read(0) : undefined;
  try {
    for (let pos = 0; pos < total; pos += CHUNK) {
      const buf = await ahead!;
      const n = buf.length;
      // The next chunk is read while this one is hashed and written.
      ahead = pos + n < total ? read(pos + n) : undefined;
      whole.update(buf);
      while (next < segments.length && segments[next]!.start < pos + n) active.push(segments[next++]!);
      for (const s of active) {
        const from = Math.max(s.start, pos);
        const to = Math.min(s.end, pos + n);
        if (to <= from) continue;
        const slice = buf.subarray(from - pos, to - pos);
        s.t.hash?.update(slice);
        await s.t.fh!.write(slice, 0, slice.length, s.t.written);
        s.t.written += slice.length;
      }
      active = active.filter((s) => s.end > pos + n);
      onProgress?.(pos + n, total);
    }
    const digest = whole.digest('hex');
    for (const t of targets) {
      t.sha256 = t.hash ? t.hash.digest('hex') : digest;
      if (t.written !== t.size)
        throw new BootherdError('IMAGE_IMPORT', `${t.path}: wrote ${t.written} of ${t.size} bytes`);
      await t.fh!.sync();
    }
    return digest;
  } finally {
    await ahead?.catch(() => undefined);
    for (const t of targets) await t.fh?.close();
  }
}

async function writeDurably(file: string, text: string): Promise<void> {
  const fh = await open(file, 'wx');
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** fsync every folder of the tree, so the renamed folder's entries are on disk with it. */
async function syncTree(dir: string): Promise<void> {
  for (const e of await readdir(dir, { withFileTypes: true })) if (e.isDirectory()) await syncTree(join(dir, e.name));
  await syncDir(dir);
}

/**
 * Leftovers of imports and removals that were killed: `.<name>.partial` folders whose importer is gone, and
 * `.<name>.removing` folders. A running import of the same name is a conflict; other running imports are left alone.
 */
async function cleanLeftovers(root: string, name: string): Promise<void> {
  for (const entry of await readdir(root)) {
    const m = /^\.(.+)\.(partial|removing)$/.exec(entry);
    if (!m) continue;
    const dir = join(root, entry);
    if (m[2] === 'partial') {
      const pid = Number.parseInt(await readFile(join(dir, OWNER), 'utf8').catch(() => ''), 10);
      if (pid && pid !== process.pid && alive(pid)) {
        if (m[1] === name) throw new BootherdError('CONFLICT', `image "${name}" is being imported by process ${pid}`);
        continue;
      }
    }
    await rm(dir, { recursive: true, force: true });
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
