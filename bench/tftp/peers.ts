/**
 * The servers of bench/tftp, each its own process on loopback: bootherd (a Node child running startTftpServer),
 * tftpd-hpa (in.tftpd), atftpd and dnsmasq's TFTP. tftpd-hpa and atftpd conflict as Debian packages: they are
 * downloaded with `apt-get download` and unpacked under .cache/bench/root (with libwrap0 if the host lacks it) instead
 * of installed. dnsmasq (dnsmasq-base) hard-codes TFTP port 69: a tiny LD_PRELOAD shim (built with cc) moves its
 * listener to a high port, so nothing here ever binds port 69. Every peer is configured for speed: no logging, no
 * per-transfer cap below the bench's 1,000 parallel fetches, the largest blksize allowed.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fetchTftp, HOST } from './client.ts';

export const MAX_BLKSIZE = 65464;
const ROOT = resolve(import.meta.dirname, '../..');
const CACHE = join(ROOT, '.cache', 'bench');
const PEER_ROOT = join(CACHE, 'root');

export interface Server {
  name: string;
  port: number;
  child: ChildProcess;
  stderr: string[];
}

const children: ChildProcess[] = [];

export function killChildren(): void {
  for (const c of children) {
    if (c.pid === undefined || c.exitCode !== null || c.signalCode !== null) continue;
    // Each child leads its own process group (in.tftpd forks one process per transfer): end the group by its id.
    try {
      process.kill(-c.pid, 'SIGKILL');
    } catch {
      try {
        process.kill(c.pid, 'SIGKILL');
      } catch {}
    }
  }
}

/** Ends bootherd's child with SIGTERM and waits, so a --cpu-prof profile gets written. */
export async function stopGracefully(s: Server): Promise<void> {
  if (s.child.exitCode !== null || s.child.signalCode !== null) return;
  const exited = new Promise((r) => s.child.once('exit', r));
  s.child.kill('SIGTERM');
  await Promise.race([exited, sleep(10_000)]);
}

function sh(cmd: string, args: string[], cwd?: string): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000, cwd });
}

const LIB_PACKAGES: Record<string, string> = { 'libwrap.so.0': 'libwrap0', 'libpcre2-8.so.0': 'libpcre2-8-0' };
const LIB_PATH = [join(PEER_ROOT, 'lib/x86_64-linux-gnu'), join(PEER_ROOT, 'usr/lib/x86_64-linux-gnu')].join(':');

function missingLibs(bin: string): string[] {
  const out = execFileSync('ldd', [bin], { encoding: 'utf8', env: { ...process.env, LD_LIBRARY_PATH: LIB_PATH } });
  return [...out.matchAll(/^\s*(\S+) => not found/gm)].map((m) => m[1] ?? '');
}

function unpack(packages: string[]): void {
  mkdirSync(CACHE, { recursive: true });
  try {
    sh('apt-get', ['download', ...packages], CACHE);
  } catch (e) {
    throw new Error(`apt-get download ${packages.join(' ')} failed: ${(e as Error).message.split('\n')[0]}`);
  }
  for (const p of packages) {
    const deb = readdirSync(CACHE).find((f) => f.startsWith(`${p}_`) && f.endsWith('.deb'));
    if (!deb) throw new Error(`apt-get download ${p} left no .deb in ${CACHE}`);
    sh('dpkg', ['-x', join(CACHE, deb), PEER_ROOT]);
  }
}

/** Makes sure in.tftpd and atftpd are unpacked under .cache/bench/root and can load their libraries. */
function ensurePeers(): { tftpd: string; atftpd: string } {
  const tftpd = join(PEER_ROOT, 'usr/sbin/in.tftpd');
  const atftpd = join(PEER_ROOT, 'usr/sbin/atftpd');
  // atftpd's package ships in.tftpd too, as a symlink to atftpd: it is unpacked first, and tftpd-hpa's binary over it.
  const tftpdHpa = existsSync(tftpd) && !lstatSync(tftpd).isSymbolicLink();
  const want = [...(existsSync(atftpd) ? [] : ['atftpd']), ...(tftpdHpa ? [] : ['tftpd-hpa'])];
  if (want.length > 0) {
    console.error(`bench/tftp: fetching ${want.join(' ')} into ${PEER_ROOT}`);
    unpack(want);
  }
  for (const bin of [tftpd, atftpd]) {
    let missing = missingLibs(bin);
    const fetchable = missing.map((l) => LIB_PACKAGES[l]).filter((p): p is string => p !== undefined);
    if (fetchable.length > 0) {
      console.error(`bench/tftp: ${bin} needs ${fetchable.join(' ')}: unpacking into ${PEER_ROOT}`);
      unpack([...new Set(fetchable)]);
      missing = missingLibs(bin);
    }
    if (missing.length > 0) {
      const pkgs = missing.map((l) => LIB_PACKAGES[l] ?? `the package providing ${l}`);
      throw new Error(`${bin} cannot load ${missing.join(', ')}: apt-get install -y ${pkgs.join(' ')}`);
    }
  }
  return { tftpd, atftpd };
}

const SHIM_C = `#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
/* Moves a bind to port 69 to $BENCH_TFTP_PORT: dnsmasq has no option for its TFTP port. */
int bind(int fd, const struct sockaddr *addr, socklen_t len) {
  static int (*real)(int, const struct sockaddr *, socklen_t);
  if (!real) real = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "bind");
  const char *p = getenv("BENCH_TFTP_PORT");
  if (p && addr && addr->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in) &&
      ((const struct sockaddr_in *)addr)->sin_port == htons(69)) {
    struct sockaddr_in moved = *(const struct sockaddr_in *)addr;
    moved.sin_port = htons((unsigned short)atoi(p));
    return real(fd, (const struct sockaddr *)&moved, sizeof moved);
  }
  return real(fd, addr, len);
}
`;

function ensureShim(): string {
  const so = join(CACHE, 'bind-port-shim.so');
  if (existsSync(so)) return so;
  mkdirSync(CACHE, { recursive: true });
  const src = join(CACHE, 'bind-port-shim.c');
  writeFileSync(src, SHIM_C);
  try {
    sh('cc', ['-shared', '-fPIC', '-O2', '-o', so, src, '-ldl']);
  } catch (e) {
    throw new Error(`cannot build the dnsmasq port shim (needs cc: apt-get install -y gcc): ${(e as Error).message}`);
  }
  return so;
}

function spawnServer(name: string, port: number, cmd: string, args: string[], env?: NodeJS.ProcessEnv): Server {
  const child = spawn(cmd, args, {
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
    env: { ...process.env, ...env },
    cwd: ROOT,
  });
  children.push(child);
  const stderr: string[] = [];
  const keep = (d: Buffer) => {
    stderr.push(d.toString());
    if (stderr.length > 20) stderr.shift();
  };
  child.stderr?.on('data', keep);
  child.stdout?.on('data', () => {});
  child.on('error', (e) => stderr.push(`spawn: ${e.message}`));
  return { name, port, child, stderr };
}

async function waitReady(s: Server, file: string, size: number): Promise<void> {
  for (let i = 0; i < 50; i++) {
    if (s.child.exitCode !== null) break;
    const r = await fetchTftp({ port: s.port, file, size, blksize: 512, windowsize: 1, deadlineMs: 1000 });
    if (r.ok) return;
    await sleep(100);
  }
  throw new Error(`${s.name} did not come up on ${HOST}:${s.port}: ${s.stderr.join('').trim().slice(-400)}`);
}

export interface StartOptions {
  /** The served directory; `probe` (of `probeSize` bytes) in it is fetched until each server answers. */
  dir: string;
  probe: string;
  probeSize: number;
  /** The module whose `--bootherd-child <port> <dir>` mode runs bootherd's server. */
  childScript: string;
  /** Extra node flags for bootherd's child (e.g. --cpu-prof). */
  nodeFlags: string[];
  /** Another build's src/tftp/server.ts, run as 'baseline' on port 16905 to compare before and after a change. */
  baseline?: string;
  /** More Node servers: the arguments after `node --import tsx`, e.g. floor.ts's bare servers. */
  extra?: { name: string; port: number; args: string[] }[];
}

/**
 * Starts bootherd, tftpd-hpa, atftpd and dnsmasq (in this order, ports 16901–16904), and the baseline if asked for,
 * and waits until each serves.
 */
export async function startServers(o: StartOptions): Promise<Server[]> {
  const peers = ensurePeers();
  const shim = ensureShim();
  if (!existsSync('/usr/sbin/dnsmasq'))
    throw new Error('/usr/sbin/dnsmasq is missing: apt-get install -y dnsmasq-base');
  const lib = { LD_LIBRARY_PATH: LIB_PATH };
  const servers = [
    spawnServer('bootherd', 16901, process.execPath, [
      ...o.nodeFlags,
      '--import',
      'tsx',
      o.childScript,
      '--bootherd-child',
      '16901',
      o.dir,
    ]),
    // -L: foreground; -B: the largest blksize; no -v: no per-transfer syslog.
    spawnServer(
      'tftpd-hpa',
      16902,
      peers.tftpd,
      ['-L', '-a', `${HOST}:16902`, '-u', 'root', '-B', String(MAX_BLKSIZE), '-s', o.dir],
      lib,
    ),
    // atftpd's default --logfile is syslog: /dev/null and the default log level keep it quiet.
    spawnServer(
      'atftpd',
      16903,
      peers.atftpd,
      [
        ...['--daemon', '--no-fork', '--port', '16903', '--bind-address', HOST, '--user', 'root', '--group', 'root'],
        ...['--maxthread', '1100', '--logfile', '/dev/null', o.dir],
      ],
      lib,
    ),
    spawnServer(
      'dnsmasq',
      16904,
      '/usr/sbin/dnsmasq',
      [
        ...['--port=0', '--enable-tftp', `--tftp-root=${o.dir}`, '--no-daemon', '--conf-file=/dev/null'],
        ...['--listen-address=127.0.0.1', '--bind-interfaces', '--user=root', '--group=root', '--pid-file='],
        ...['--tftp-max=1100', '--quiet-tftp', '--log-facility=/dev/null'],
      ],
      { LD_PRELOAD: shim, BENCH_TFTP_PORT: '16904' },
    ),
  ];
  if (o.baseline)
    servers.push(
      spawnServer('baseline', 16905, process.execPath, [
        ...['--import', 'tsx', o.childScript, '--bootherd-child', '16905', o.dir, o.baseline],
      ]),
    );
  for (const x of o.extra ?? [])
    servers.push(spawnServer(x.name, x.port, process.execPath, ['--import', 'tsx', ...x.args]));
  for (const s of servers) await waitReady(s, o.probe, o.probeSize);
  return servers;
}
