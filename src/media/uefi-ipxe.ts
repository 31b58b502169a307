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
import { lastLines, runTool, type ToolOutput } from './tool.ts';

export const TRIXIE_PACKAGE = 'ipxe';
/** The amd64 UEFI build inside the package (`ipxe.efi` there is a symlink to it). */
export const TRIXIE_EFI_PATH = 'usr/lib/ipxe/ipxe-amd64.efi';
const EFI_NAME = 'ipxe-amd64.efi';
const MANIFEST = 'ipxe.json';
const DEFAULT_MIRROR = 'http://deb.debian.org/debian';

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

/** The main Debian mirror of this machine's apt sources (deb822 `URIs:` or one-line `deb`), not the security one. */
export async function systemDebianMirror(): Promise<string> {
  const texts: string[] = [];
  const dir = '/etc/apt/sources.list.d';
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const n of names.filter((n) => n.endsWith('.sources') || n.endsWith('.list')).sort()) {
    texts.push(await readFile(join(dir, n), 'utf8').catch(() => ''));
  }
  texts.push(await readFile('/etc/apt/sources.list', 'utf8').catch(() => ''));
  for (const text of texts) {
    for (const line of text.split('\n')) {
      const m = /^\s*(?:URIs:\s*|deb\s+(?:\[[^\]]*\]\s+)?)(\S+)/.exec(line);
      const url = m?.[1]?.replace(/\/+$/, '');
      if (url && /^https?:\/\/\S+\/debian$/.test(url)) return url;
    }
  }
  return DEFAULT_MIRROR;
}

/** The cached trixie UEFI iPXE, fetched first if the cache does not hold a good copy. */
/** Where a server keeps the fetched UEFI iPXE, under its data folder. */
export function uefiIpxeCacheDir(dataDir: string): string {
  return join(dataDir, 'cache', 'ipxe-trixie');
}

export async function fetchTrixieUefiIpxe(cacheDir: string, opts: FetchOptions = {}): Promise<UefiIpxe> {
  const cached = await readCache(cacheDir);
  if (cached && (!opts.version || cached.version === opts.version)) return cached;

  const mirror = (opts.mirror ?? (await systemDebianMirror())).replace(/\/+$/, '');
  const timeout = opts.timeoutMs ?? 180_000;
  const apt = join(cacheDir, 'apt');
  await rm(apt, { recursive: true, force: true });
  for (const d of ['lists/partial', 'cache/archives/partial', 'deb', 'x'])
    await mkdir(join(apt, d), { recursive: true });
  await writeFile(
    join(apt, 'sources.list'),
    `deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] ${mirror} trixie main\n`,
  );
  await writeFile(join(apt, 'status'), '');
  const o = (k: string, v: string) => ['-o', `${k}=${v}`];
  const aptOpts = [
    ...o('Dir::Etc::sourcelist', join(apt, 'sources.list')),
    ...o('Dir::Etc::sourceparts', '-'),
    ...o('Dir::Etc::preferences', join(apt, 'preferences')),
    ...o('Dir::Etc::preferencesparts', '-'),
    ...o('Dir::State::Lists', join(apt, 'lists')),
    ...o('Dir::State::status', join(apt, 'status')),
    ...o('Dir::Cache', join(apt, 'cache')),
    ...o('APT::Get::List-Cleanup', '0'),
    ...o('APT::Sandbox::User', 'root'),
    ...o('Acquire::Languages', 'none'),
    ...o('Acquire::http::Timeout', '20'),
  ];

  try {
    const update = await tool('apt-get', [...aptOpts, '-q', 'update'], { timeout }, 'apt');
    const lists = await readdir(join(apt, 'lists'));
    if (!lists.some((n) => n.endsWith('_Packages') || n.includes('_Packages.'))) {
      throw indexError(mirror, update);
    }
    const version = opts.version ?? (await candidateVersion(aptOpts, timeout));
    await tool(
      'apt-get',
      [...aptOpts, '-q', 'download', `${TRIXIE_PACKAGE}=${version}`],
      { cwd: join(apt, 'deb'), timeout },
      'apt',
    );
    const deb = (await readdir(join(apt, 'deb'))).find((n) => n.endsWith('.deb'));
    if (!deb) throw new BootherdError('MEDIA', `apt-get download ${TRIXIE_PACKAGE}=${version} left no .deb`);
    await tool('dpkg-deb', ['-x', join(apt, 'deb', deb), join(apt, 'x')], { timeout }, 'dpkg');

    const extracted = join(apt, 'x', TRIXIE_EFI_PATH);
    const real = await realpath(extracted).catch(() => {
      throw new BootherdError('MEDIA', `${deb} holds no ${TRIXIE_EFI_PATH}`);
    });
    if (relative(join(apt, 'x'), real).startsWith('..'))
      throw new BootherdError('MEDIA', `${TRIXIE_EFI_PATH} points outside the package`);
    const bytes = await readFile(real);
    if (bytes.subarray(0, 2).toString('latin1') !== 'MZ' || !bytes.includes('autoexec.ipxe')) {
      throw new BootherdError('MEDIA', `${deb}: ${TRIXIE_EFI_PATH} is not a UEFI iPXE that loads autoexec.ipxe`);
    }
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const efi = join(cacheDir, EFI_NAME);
    await copyFile(real, `${efi}.tmp`);
    await rename(`${efi}.tmp`, efi);
    const result: UefiIpxe = { efi, package: TRIXIE_PACKAGE, version, sha256, mirror };
    await writeFile(
      join(cacheDir, `${MANIFEST}.tmp`),
      `${JSON.stringify({ ...result, efi: EFI_NAME, deb }, null, 2)}\n`,
    );
    await rename(join(cacheDir, `${MANIFEST}.tmp`), join(cacheDir, MANIFEST));
    return result;
  } finally {
    // Index, .deb and extracted tree: only the .efi and its manifest stay.
    await rm(apt, { recursive: true, force: true });
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

async function candidateVersion(aptOpts: string[], timeout: number): Promise<string> {
  const out = await tool('apt-cache', [...aptOpts, 'policy', TRIXIE_PACKAGE], { timeout }, 'apt');
  const v = /Candidate:\s*(\S+)/.exec(out.stdout)?.[1];
  if (!v || v === '(none)') throw new BootherdError('MEDIA', `trixie's index has no package ${TRIXIE_PACKAGE}`);
  return v;
}

/** The media tool runner, in the C locale, with a network failure said as such. */
function tool(cmd: string, args: string[], o: { cwd?: string; timeout: number }, pkg: string): Promise<ToolOutput> {
  return runTool(cmd, args, {
    ...o,
    pkg,
    env: { ...process.env, LC_ALL: 'C' },
    explain: (text) =>
      NETWORK.test(text)
        ? `no network access: ${cmd} could not reach the mirror (${lastLines(text)})`
        : `${cmd} ${args.at(-1)} failed: ${lastLines(text)}`,
  });
}

const NETWORK =
  /Temporary failure resolving|Could not resolve|Could not connect|Network is unreachable|Connection timed out|Connection failed|No route to host/i;

function indexError(mirror: string, update: ToolOutput): BootherdError {
  const text = `${update.stderr}${update.stdout}`;
  if (NETWORK.test(text)) {
    return new BootherdError(
      'MEDIA',
      `no network access: could not fetch trixie's package index from ${mirror} (${lastLines(text)})`,
    );
  }
  if (/NO_PUBKEY|not signed|signature/i.test(text)) {
    return new BootherdError(
      'MEDIA',
      `trixie's index from ${mirror} could not be verified: /usr/share/keyrings/debian-archive-keyring.gpg lacks its key (update debian-archive-keyring) (${lastLines(text)})`,
    );
  }
  return new BootherdError('MEDIA', `could not fetch trixie's package index from ${mirror}: ${lastLines(text)}`);
}
