/**
 * iPXE's source for `bootherd ipxe build`: Debian 13's `ipxe` source package (fetched once through a private apt
 * configuration with a `deb-src` line, unpacked with dpkg-source, which applies Debian's patches), or the operator's
 * own tree or tarball. Each source has an id that says exactly which bytes it is, for the build cache key.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { BootherdError } from '../errors.ts';
import { aptTool, openPrivateApt } from './debian-apt.ts';

const PACKAGE = 'ipxe';
const SUITE = 'trixie';
const MANIFEST = 'source.json';

export interface IpxeSource {
  /** iPXE's `src` folder (it holds the Makefile). */
  srcDir: string;
  /** `debian:ipxe=<version>`, `tar:<sha256>` or `dir:<sha256 of the tree>`: what the build cache key records. */
  id: string;
}

export interface DebianSourceOptions {
  mirror?: string;
  /** A pinned source version; default: the cached one, else trixie's current one. */
  version?: string;
  /** Ask the mirror for trixie's current version even when one is cached. */
  refresh?: boolean;
  timeoutMs?: number;
}

/** The folder of a Debian version under `<cache>/source/`; an epoch's colon is not welcome in every tool's paths. */
export function debianSourceFolder(version: string): string {
  return `debian-${version.replaceAll(':', '_')}`;
}

/** A build tree's `src` folder: the tree itself, or its `src` child (an upstream checkout or Debian's source). */
async function findSrc(root: string): Promise<string | undefined> {
  for (const dir of [join(root, 'src'), root]) {
    if (await isFile(join(dir, 'Makefile.housekeeping'))) return dir;
  }
  return undefined;
}

const isFile = (p: string) =>
  stat(p).then(
    (s) => s.isFile(),
    () => false,
  );

async function cachedDebian(sources: string, version?: string): Promise<IpxeSource | undefined> {
  const names = await readdir(sources).catch(() => [] as string[]);
  const found: { version: string; srcDir: string; at: number }[] = [];
  for (const n of names.filter((n) => n.startsWith('debian-'))) {
    try {
      const m = JSON.parse(await readFile(join(sources, n, MANIFEST), 'utf8')) as { version: string };
      const srcDir = join(sources, n, 'ipxe', 'src');
      if (n !== debianSourceFolder(m.version) || !(await isFile(join(srcDir, 'Makefile.housekeeping')))) continue;
      found.push({ version: m.version, srcDir, at: (await stat(join(sources, n, MANIFEST))).mtimeMs });
    } catch {
      // an unfinished or foreign folder: not a cached source
    }
  }
  const pick = version ? found.find((f) => f.version === version) : found.sort((a, b) => b.at - a.at)[0];
  return pick && { srcDir: pick.srcDir, id: `debian:${PACKAGE}=${pick.version}` };
}

/** Debian 13's iPXE source, unpacked once under `<cacheDir>/source/`; later calls need no network. */
export async function debianIpxeSource(cacheDir: string, o: DebianSourceOptions = {}): Promise<IpxeSource> {
  const sources = join(cacheDir, 'source');
  if (!o.refresh) {
    const cached = await cachedDebian(sources, o.version);
    if (cached) return cached;
  }
  const timeout = o.timeoutMs ?? 600_000;
  const work = join(sources, `.fetch-${randomBytes(6).toString('hex')}`);
  try {
    const apt = await openPrivateApt(join(work, 'apt'), [{ type: 'deb-src', suite: SUITE }], {
      ...(o.mirror ? { mirror: o.mirror } : {}),
      timeoutMs: timeout,
    });
    const version =
      o.version ?? (await sourceVersion(await apt.run('apt-cache', ['showsrc', '--only-source', PACKAGE])));
    // Pinned, refreshed to a version already here, or fetched meanwhile by another process.
    const cached = await cachedDebian(sources, version);
    if (cached) return cached;
    const dl = join(work, 'dl');
    await mkdir(dl, { recursive: true });
    await apt.run('apt-get', ['source', '--download-only', `${PACKAGE}=${version}`], dl).catch((err: unknown) => {
      throw new BootherdError(
        'IPXE_BUILD',
        `could not download the source of ${PACKAGE} ${version} from ${apt.mirror}: ${(err as Error).message}; ` +
          'give an iPXE source tree or tarball with --source',
      );
    });
    const dsc = (await readdir(dl)).find((n) => n.endsWith('.dsc'));
    if (!dsc) throw new BootherdError('IPXE_BUILD', `apt-get source ${PACKAGE}=${version} left no .dsc`);
    const final = join(work, 'final');
    await mkdir(final);
    // dpkg-source checks the files against the .dsc and applies Debian's patches.
    await aptTool('dpkg-source', ['-x', join(dl, dsc), join(final, 'ipxe')], { timeout, cwd: work }, 'dpkg-dev');
    if (!(await isFile(join(final, 'ipxe', 'src', 'Makefile.housekeeping'))))
      throw new BootherdError('IPXE_BUILD', `${dsc} holds no iPXE src/ tree`);
    await writeFile(join(final, MANIFEST), `${JSON.stringify({ package: PACKAGE, version, mirror: apt.mirror })}\n`);
    await rename(final, join(sources, debianSourceFolder(version))).catch(async (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err;
    });
    const got = await cachedDebian(sources, version);
    if (!got) throw new BootherdError('IPXE_BUILD', `the unpacked source of ${PACKAGE} ${version} vanished`);
    return got;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** The newest `Version:` of `apt-cache showsrc` (one suite in the list, so usually one stanza). */
export function sourceVersion(out: { stdout: string }): string {
  const versions = [...out.stdout.matchAll(/^Version:\s*(\S+)$/gm)].map((m) => m[1] ?? '');
  if (versions.length === 0) throw new BootherdError('IPXE_BUILD', `${SUITE}'s source index has no package ${PACKAGE}`);
  return versions[0] ?? '';
}

/**
 * The operator's iPXE: a source tree (an upstream checkout, or Debian's unpacked source) or a tarball of one.
 * A tarball is unpacked once under `<cacheDir>/source/tar-<sha256>`; a tree is used where it is.
 */
export async function localIpxeSource(cacheDir: string, path: string): Promise<IpxeSource> {
  const abs = resolve(path);
  const st = await stat(abs).catch(() => {
    throw new BootherdError('BAD_REQUEST', `--source ${path}: no such file or folder`);
  });
  if (st.isDirectory()) {
    const srcDir = await findSrc(abs);
    if (!srcDir)
      throw new BootherdError('BAD_REQUEST', `--source ${path}: not an iPXE tree (no src/Makefile.housekeeping)`);
    return { srcDir, id: `dir:${await treeHash(srcDir)}` };
  }
  const sha = createHash('sha256')
    .update(await readFile(abs))
    .digest('hex');
  const dest = join(cacheDir, 'source', `tar-${sha.slice(0, 32)}`);
  let srcDir = await findUnpacked(dest);
  if (!srcDir) {
    const work = `${dest}.tmp-${randomBytes(6).toString('hex')}`;
    try {
      await mkdir(work, { recursive: true });
      await aptTool('tar', ['-xf', abs, '-C', work, '--no-same-owner'], { timeout: 300_000 }, 'tar');
      await rename(work, dest).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err;
      });
    } finally {
      await rm(work, { recursive: true, force: true });
    }
    srcDir = await findUnpacked(dest);
    if (!srcDir) throw new BootherdError('BAD_REQUEST', `--source ${path}: the tarball holds no iPXE src/ tree`);
  }
  return { srcDir, id: `tar:${sha}` };
}

/** The iPXE `src` folder in an unpacked tarball: at its top or one folder down (`ipxe-1.21.1/src`). */
async function findUnpacked(dest: string): Promise<string | undefined> {
  const top = await findSrc(dest);
  if (top) return top;
  for (const n of await readdir(dest).catch(() => [] as string[])) {
    const inner = await findSrc(join(dest, n));
    if (inner) return inner;
  }
  return undefined;
}

/** Build outputs (`bin`, `bin-*`) are not source: they are neither hashed nor copied. */
export function isBuildOutput(relPath: string): boolean {
  return /^bin(-[^/]*)?(\/|$)/.test(relPath);
}

/** SHA-256 over every source file's path and bytes, in a stable order. */
async function treeHash(srcDir: string): Promise<string> {
  const h = createHash('sha256');
  const walk = async (dir: string): Promise<void> => {
    const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const e of entries) {
      const p = join(dir, e.name);
      const rel = relative(srcDir, p);
      if (isBuildOutput(rel)) continue;
      if (e.isDirectory()) await walk(p);
      else if (e.isFile())
        h.update(`${rel}\0`)
          .update(await readFile(p))
          .update('\0');
    }
  };
  await walk(srcDir);
  return h.digest('hex');
}
