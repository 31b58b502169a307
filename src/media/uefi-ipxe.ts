/**
 * A UEFI x64 iPXE that runs an `autoexec.ipxe` found beside it. Debian 12's ipxe.efi (a 2019 build) cannot: it has
 * neither the autoexec loader nor a command-line script. Debian 13 (trixie) ships one (package `ipxe`, file
 * `/usr/lib/ipxe/ipxe-amd64.efi`), which we fetch on Debian 12 through a private apt configuration — its own sources
 * list, index, cache and an empty dpkg status — so the system's sources and packages are never touched.
 *
 * The result is cached in `cacheDir` (the .efi plus a manifest with version and hash); later calls use no network.
 */
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readdir, readFile, realpath, rename, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { BootherdError } from '../errors.ts';
import { aptTool, openPrivateApt, type PrivateApt } from './debian-apt.ts';

export const TRIXIE_PACKAGE = 'ipxe';
/** The amd64 UEFI build inside the package (`ipxe.efi` there is a symlink to it). */
export const TRIXIE_EFI_PATH = 'usr/lib/ipxe/ipxe-amd64.efi';
const EFI_NAME = 'ipxe-amd64.efi';
const MANIFEST = 'ipxe.json';

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
}

/** Where a server keeps the fetched UEFI iPXE, under its data folder. */
export function uefiIpxeCacheDir(dataDir: string): string {
  return join(dataDir, 'cache', 'ipxe-trixie');
}

/** The cached trixie UEFI iPXE, fetched first if the cache does not hold a good copy. */
export async function fetchTrixieUefiIpxe(cacheDir: string, opts: FetchOptions = {}): Promise<UefiIpxe> {
  const cached = await readCache(cacheDir);
  if (cached && (!opts.version || cached.version === opts.version)) return cached;

  const timeout = opts.timeoutMs ?? 180_000;
  const work = join(cacheDir, 'apt');
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

    const extracted = join(work, 'x', TRIXIE_EFI_PATH);
    const real = await realpath(extracted).catch(() => {
      throw new BootherdError('MEDIA', `${deb} holds no ${TRIXIE_EFI_PATH}`);
    });
    if (relative(join(work, 'x'), real).startsWith('..'))
      throw new BootherdError('MEDIA', `${TRIXIE_EFI_PATH} points outside the package`);
    const bytes = await readFile(real);
    if (bytes.subarray(0, 2).toString('latin1') !== 'MZ' || !bytes.includes('autoexec.ipxe')) {
      throw new BootherdError('MEDIA', `${deb}: ${TRIXIE_EFI_PATH} is not a UEFI iPXE that loads autoexec.ipxe`);
    }
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const efi = join(cacheDir, EFI_NAME);
    await copyFile(real, `${efi}.tmp`);
    await rename(`${efi}.tmp`, efi);
    const result: UefiIpxe = { efi, package: TRIXIE_PACKAGE, version, sha256, mirror: apt.mirror };
    await writeFile(
      join(cacheDir, `${MANIFEST}.tmp`),
      `${JSON.stringify({ ...result, efi: EFI_NAME, deb }, null, 2)}\n`,
    );
    await rename(join(cacheDir, `${MANIFEST}.tmp`), join(cacheDir, MANIFEST));
    return result;
  } finally {
    // Index, .deb and extracted tree: only the .efi and its manifest stay.
    await rm(work, { recursive: true, force: true });
  }
}

async function readCache(cacheDir: string): Promise<UefiIpxe | undefined> {
  try {
    const m = JSON.parse(await readFile(join(cacheDir, MANIFEST), 'utf8')) as Omit<UefiIpxe, 'efi'>;
    const efi = join(cacheDir, EFI_NAME);
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
