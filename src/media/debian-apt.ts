/**
 * A private apt configuration: its own sources list, index, cache and an empty dpkg status in a folder of ours, so
 * packages and source packages of another Debian release (trixie on a bookworm host) can be fetched without touching
 * the system's sources or packages. The mirror is the one the system's apt already uses.
 */
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BootherdError } from '../errors.ts';
import { lastLines, runTool, type ToolOutput } from './tool.ts';

const DEFAULT_MIRROR = 'http://deb.debian.org/debian';
const KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';

/** One line of the private sources list: binary packages (`deb`) or source packages (`deb-src`) of a suite's main. */
export interface AptSource {
  type: 'deb' | 'deb-src';
  suite: string;
}

export interface PrivateApt {
  mirror: string;
  /** apt-get or apt-cache with the private configuration, in the C locale. */
  run(cmd: 'apt-get' | 'apt-cache', args: string[], cwd?: string): Promise<ToolOutput>;
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

/**
 * Lay out a private apt configuration in `dir` (emptied first) and fetch its indexes. The caller removes `dir` when
 * done; nothing outside it is written.
 */
export async function openPrivateApt(
  dir: string,
  sources: AptSource[],
  options: { mirror?: string; timeoutMs?: number; architecture?: string } = {},
): Promise<PrivateApt> {
  const mirror = (options.mirror ?? (await systemDebianMirror())).replace(/\/+$/, '');
  const timeout = options.timeoutMs ?? 180_000;
  await rm(dir, { recursive: true, force: true });
  for (const d of ['lists/partial', 'cache/archives/partial']) await mkdir(join(dir, d), { recursive: true });
  await writeFile(
    join(dir, 'sources.list'),
    sources.map((s) => `${s.type} [signed-by=${KEYRING}] ${mirror} ${s.suite} main\n`).join(''),
  );
  await writeFile(join(dir, 'status'), '');
  const o = (k: string, v: string) => ['-o', `${k}=${v}`];
  const opts = [
    ...o('Dir::Etc::sourcelist', join(dir, 'sources.list')),
    ...o('Dir::Etc::sourceparts', '-'),
    ...o('Dir::Etc::preferences', join(dir, 'preferences')),
    ...o('Dir::Etc::preferencesparts', '-'),
    ...o('Dir::State::Lists', join(dir, 'lists')),
    ...o('Dir::State::status', join(dir, 'status')),
    ...o('Dir::Cache', join(dir, 'cache')),
    ...o('APT::Get::List-Cleanup', '0'),
    ...o('APT::Sandbox::User', 'root'),
    ...o('Acquire::Languages', 'none'),
    ...o('Acquire::http::Timeout', '20'),
    // Another machine's packages (arm64 on an amd64 host): the index and downloads of that architecture only.
    ...(options.architecture
      ? [...o('APT::Architecture', options.architecture), ...o('APT::Architectures', options.architecture)]
      : []),
  ];
  const apt: PrivateApt = {
    mirror,
    run: (cmd, args, cwd) => aptTool(cmd, [...opts, '-q', ...args], { timeout, ...(cwd ? { cwd } : {}) }, 'apt'),
  };
  const suites = [...new Set(sources.map((s) => s.suite))].join(', ');
  const update = await apt.run('apt-get', ['update']);
  const lists = await readdir(join(dir, 'lists'));
  for (const kind of new Set(sources.map((s) => (s.type === 'deb' ? '_Packages' : '_Sources')))) {
    if (!lists.some((n) => n.endsWith(kind) || n.includes(`${kind}.`))) throw indexError(mirror, suites, update);
  }
  return apt;
}

/** The media tool runner, in the C locale, with a network failure said as such. */
export function aptTool(
  cmd: string,
  args: string[],
  o: { cwd?: string; timeout: number },
  pkg: string,
): Promise<ToolOutput> {
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

function indexError(mirror: string, suites: string, update: ToolOutput): BootherdError {
  const text = `${update.stderr}${update.stdout}`;
  if (NETWORK.test(text)) {
    return new BootherdError(
      'MEDIA',
      `no network access: could not fetch ${suites}'s package index from ${mirror} (${lastLines(text)})`,
    );
  }
  if (/NO_PUBKEY|not signed|signature/i.test(text)) {
    return new BootherdError(
      'MEDIA',
      `${suites}'s index from ${mirror} could not be verified: ${KEYRING} lacks its key (update debian-archive-keyring) (${lastLines(text)})`,
    );
  }
  return new BootherdError('MEDIA', `could not fetch ${suites}'s package index from ${mirror}: ${lastLines(text)}`);
}
