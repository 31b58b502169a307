/**
 * A UEFI x64 iPXE that runs an `autoexec.ipxe` found beside it. Debian 12's ipxe.efi (a 2019 build) cannot: it has
 * neither the autoexec loader nor a command-line script. Debian 13 (trixie) ships one (package `ipxe`, file
 * `/usr/lib/ipxe/ipxe-amd64.efi`), which we fetch on Debian 12 through a private apt configuration — its own sources
 * list, index, cache and an empty dpkg status — so the system's sources and packages are never touched. The same
 * package (`Architecture: all`) holds the UEFI ARM64 build, `/usr/lib/ipxe/ipxe-arm64.efi`: no Debian release ships
 * an arm64 `snponly.efi`, so that is the binary ARM64 machines get.
 *
 * The result is cached in `cacheDir` (the .efi plus a manifest with version and hash); later calls use no network.
 */
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readdir, readFile, realpath, rename, rm, writeFile } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import { BootherdError } from '../errors.ts';
import { aptTool, openPrivateApt, type PrivateApt } from './debian-apt.ts';

export const TRIXIE_PACKAGE = 'ipxe';

export type UefiIpxeArch = 'amd64' | 'arm64';

/**
 * Per CPU: the file in the package (amd64's `ipxe.efi` there is a symlink to it), the cache manifest, and the COFF
 * machine type the binary must carry (PE format: "IMAGE_FILE_MACHINE_AMD64 0x8664", "IMAGE_FILE_MACHINE_ARM64 0xaa64").
 */
const BUILDS: Record<UefiIpxeArch, { name: string; manifest: string; machine: number }> = {
  amd64: { name: 'ipxe-amd64.efi', manifest: 'ipxe.json', machine: 0x8664 },
  arm64: { name: 'ipxe-arm64.efi', manifest: 'ipxe-arm64.json', machine: 0xaa64 },
};
const PACKAGE_DIR = 'usr/lib/ipxe';

export interface UefiIpxe {
  /** Absolute path of the cached .efi. */
  efi: string;
  package: string;
  version: string;
  sha256: string;
  mirror: string;
}

export interface FetchOptions {
  /** A Debian mirror; default: the one this machine's apt uses, else deb.debian.org. */
  mirror?: string;
  /** A pinned package version, e.g. `1.21.1+git20250501.dad20602+dfsg-1`; default: trixie's current one. */
  version?: string;
  timeoutMs?: number;
  /** Which CPU's build; default amd64. */
  arch?: UefiIpxeArch;
}

/** Where a server keeps the fetched UEFI iPXE, under its data folder. */
export function uefiIpxeCacheDir(dataDir: string): string {
  return join(dataDir, 'cache', 'ipxe-trixie');
}

/** The cached trixie UEFI iPXE, fetched first if the cache does not hold a good copy. */
export async function fetchTrixieUefiIpxe(cacheDir: string, opts: FetchOptions = {}): Promise<UefiIpxe> {
  const arch = opts.arch ?? 'amd64';
  const build = BUILDS[arch];
  const cached = await readCache(cacheDir, build);
  if (cached && (!opts.version || cached.version === opts.version)) return cached;

  const timeout = opts.timeoutMs ?? 180_000;
  const work = join(cacheDir, `apt-${arch}`);
  const inPackage = `${PACKAGE_DIR}/${build.name}`;
  try {
    const apt = await openPrivateApt(join(work, 'apt'), [{ type: 'deb', suite: 'trixie' }], {
      ...(opts.mirror ? { mirror: opts.mirror } : {}),
      timeoutMs: timeout,
    });
    for (const d of ['deb', 'x']) await mkdir(join(work, d), { recursive: true });
    const version = opts.version ?? (await candidateVersion(apt));
    await apt.run('apt-get', ['download', `${TRIXIE_PACKAGE}=${version}`], join(work, 'deb'));
    const deb = (await readdir(join(work, 'deb'))).find((n) => n.endsWith('.deb'));
    if (!deb) throw new BootherdError('MEDIA', `apt-get download ${TRIXIE_PACKAGE}=${version} left no .deb`);
    await aptTool('dpkg-deb', ['-x', join(work, 'deb', deb), join(work, 'x')], { timeout }, 'dpkg');

    const extracted = join(work, 'x', inPackage);
    const real = await realpath(extracted).catch(() => {
      throw new BootherdError('MEDIA', `${deb} holds no ${inPackage}`);
    });
    if (relative(join(work, 'x'), real).startsWith('..'))
      throw new BootherdError('MEDIA', `${inPackage} points outside the package`);
    const bytes = await readFile(real);
    if (peMachine(bytes) !== build.machine || !bytes.includes('autoexec.ipxe')) {
      throw new BootherdError('MEDIA', `${deb}: ${inPackage} is not a UEFI ${arch} iPXE that loads autoexec.ipxe`);
    }
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const efi = join(cacheDir, build.name);
    await copyFile(real, `${efi}.tmp`);
    await rename(`${efi}.tmp`, efi);
    const result: UefiIpxe = { efi, package: TRIXIE_PACKAGE, version, sha256, mirror: apt.mirror };
    await writeFile(
      join(cacheDir, `${build.manifest}.tmp`),
      `${JSON.stringify({ ...result, efi: build.name, deb }, null, 2)}\n`,
    );
    await rename(join(cacheDir, `${build.manifest}.tmp`), join(cacheDir, build.manifest));
    return result;
  } finally {
    // Index, .deb and extracted tree: only the .efi and its manifest stay.
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * Copy a fetched iPXE into a folder bootherd serves (`http.ipxe_dir`: a TFTP root by default and the `/ipxe-bin/` of
 * UEFI HTTP boot), under its own name. A copy already there with the same bytes is left alone.
 */
export async function installUefiIpxe(got: UefiIpxe, dir: string): Promise<{ path: string; changed: boolean }> {
  const path = join(dir, basename(got.efi));
  const there = await readFile(path).catch(() => undefined);
  if (there && createHash('sha256').update(there).digest('hex') === got.sha256) return { path, changed: false };
  try {
    await mkdir(dir, { recursive: true });
    await copyFile(got.efi, `${path}.tmp`);
    await rename(`${path}.tmp`, path);
  } catch (err) {
    throw new BootherdError('MEDIA', `cannot write ${path}: ${(err as Error).message}`);
  }
  return { path, changed: true };
}

/** The COFF machine field of a PE image: the MZ header's e_lfanew (offset 0x3c) points at "PE\0\0", then that field. */
function peMachine(b: Buffer): number | undefined {
  if (b.length < 0x40 || b.subarray(0, 2).toString('latin1') !== 'MZ') return undefined;
  const pe = b.readUInt32LE(0x3c);
  if (pe + 6 > b.length || b.subarray(pe, pe + 4).toString('latin1') !== 'PE\0\0') return undefined;
  return b.readUInt16LE(pe + 4);
}

async function readCache(cacheDir: string, build: { name: string; manifest: string }): Promise<UefiIpxe | undefined> {
  try {
    const m = JSON.parse(await readFile(join(cacheDir, build.manifest), 'utf8')) as Omit<UefiIpxe, 'efi'>;
    const efi = join(cacheDir, build.name);
    const sha256 = createHash('sha256')
      .update(await readFile(efi))
      .digest('hex');
    if (sha256 !== m.sha256) return undefined;
    return { efi, package: m.package, version: m.version, sha256, mirror: m.mirror };
  } catch {
    return undefined;
  }
}

async function candidateVersion(apt: PrivateApt): Promise<string> {
  const out = await apt.run('apt-cache', ['policy', TRIXIE_PACKAGE]);
  const v = /Candidate:\s*(\S+)/.exec(out.stdout)?.[1];
  if (!v || v === '(none)') throw new BootherdError('MEDIA', `trixie's index has no package ${TRIXIE_PACKAGE}`);
  return v;
}
