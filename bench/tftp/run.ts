/**
 * bench/tftp: bootherd's TFTP server beside tftpd-hpa (in.tftpd), atftpd and dnsmasq's TFTP, in one run, on loopback.
 *
 * - bulk: one 32 MiB and one big file (BENCH_BIG_MB, default 256) at blksize 512, 1468 and 8192, windowsize 1 and 16.
 *   A server that does not know windowsize (RFC 7440) leaves it out of its OACK and the client falls back to lock-step:
 *   the table shows the windowsize actually negotiated.
 * - parallel: 200 and 1000 fetches of a 70 KiB file at blksize 1468, all started at once, each from its own socket.
 * One TFTP client, written here on node:dgram, fetches from every server, so all get the same client. It retransmits
 * after 1 s ±25% jitter and gives up after 5 timeouts in a row without progress.
 * Every server is its own process (bootherd too: a child running startTftpServer), so each may use its own core.
 * tftpd-hpa and atftpd conflict as Debian packages: the bench downloads and unpacks them under .cache/bench/root
 * (with libwrap0 if the host lacks it) instead of installing them. dnsmasq (dnsmasq-base) hard-codes TFTP port 69:
 * a tiny LD_PRELOAD shim (built with cc) moves its listener to a high port, so nothing here ever binds port 69.
 * Run: `npm run bench:tftp` (needs dnsmasq-base, apt-get, dpkg, cc). Env BENCH_BIG_MB (default 256).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const HOST = '127.0.0.1';
const BIG_MB = Number(process.env.BENCH_BIG_MB ?? 256);
const MID_MB = 32;
const SMALL_BYTES = 70 * 1024;
const BLKSIZES = [512, 1468, 8192];
const WINDOWS = [1, 16];
const PARALLEL = [200, 1000];
const MAX_BLKSIZE = 65464;
/** Per-fetch limits: CLIENT_RETRIES timeouts in a row without progress fail a fetch, as do the deadlines. */
const CLIENT_TIMEOUT_MS = 1000;
const CLIENT_RETRIES = 5;
const BULK_DEADLINE_MS = 300_000;
const SMALL_DEADLINE_MS = 60_000;

const ROOT = resolve(import.meta.dirname, '../..');
const CACHE = join(ROOT, '.cache', 'bench');
const PEER_ROOT = join(CACHE, 'root');
const SELF = fileURLToPath(import.meta.url);

// ---------------------------------------------------------------------------------------------------------------
// Child mode: bootherd's TFTP server alone in its own process.

async function bootherdChild(port: number, dir: string): Promise<void> {
  const { startTftpServer } = await import('../../src/tftp/server.ts');
  const server = await startTftpServer({
    host: HOST,
    port,
    roots: [dir],
    maxBlksize: MAX_BLKSIZE,
    maxWindowsize: 64,
    // Every bench client comes from 127.0.0.1; in the field 1000 fetches come from 1000 machines.
    maxPerClient: 4096,
    maxTransfers: 4096,
    maxQueue: 4096,
  });
  process.stdout.write('ready\n');
  const stop = () => void server.close().finally(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // The parent holds our stdin: when it goes away, so do we.
  process.stdin.on('end', stop);
  process.stdin.on('error', stop);
  process.stdin.resume();
}

// ---------------------------------------------------------------------------------------------------------------
// The client.

interface FetchOptions {
  port: number;
  file: string;
  size: number;
  blksize: number;
  windowsize: number;
  deadlineMs: number;
  recvBuffer?: number;
}

interface FetchResult {
  ok: boolean;
  bytes: number;
  ms: number;
  blksize: number;
  windowsize: number;
  retries: number;
  error?: string;
}

function rrq(file: string, opts: [string, string][]): Buffer {
  const parts: Buffer[] = [Buffer.from([0, 1]), Buffer.from(`${file}\0octet\0`)];
  for (const [k, v] of opts) parts.push(Buffer.from(`${k}\0${v}\0`));
  return Buffer.concat(parts);
}

function ack(block: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt16BE(4, 0);
  b.writeUInt16BE(block & 0xffff, 2);
  return b;
}

function errorPacket(code: number, msg: string): Buffer {
  const b = Buffer.alloc(5 + msg.length);
  b.writeUInt16BE(5, 0);
  b.writeUInt16BE(code, 2);
  b.write(msg, 4, 'latin1');
  return b;
}

function parseOack(msg: Buffer): Map<string, string> {
  const fields = msg.subarray(2).toString('latin1').split('\0');
  const out = new Map<string, string>();
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const k = fields[i];
    const v = fields[i + 1];
    if (k && v !== undefined) out.set(k.toLowerCase(), v);
  }
  return out;
}

/**
 * One RRQ: options blksize/tsize (and windowsize when asked for more than 1), OACK handling, ACK of the last block of
 * each window (or of the last in-order block on a gap), block-number rollover, timeout and retry. Never rejects.
 */
function fetchTftp(o: FetchOptions): Promise<FetchResult> {
  return new Promise((done) => {
    const t0 = performance.now();
    const sock: Socket = createSocket({ type: 'udp4', ...(o.recvBuffer ? { recvBufferSize: o.recvBuffer } : {}) });
    const options: [string, string][] = [
      ['blksize', String(o.blksize)],
      ['tsize', '0'],
    ];
    if (o.windowsize > 1) options.push(['windowsize', String(o.windowsize)]);
    const request = rrq(o.file, options);
    let serverPort = 0;
    let blksize = 512;
    let windowsize = 1;
    let tsize: number | undefined;
    /** Next block wanted, counted from 1 without wrapping; the wire carries the low 16 bits. */
    let expected = 1;
    let inWindow = 0;
    let bytes = 0;
    let retries = 0;
    /** Timeouts in a row without progress; a transfer fails after CLIENT_RETRIES of them. */
    let stalls = 0;
    let lastSent: Buffer = request;
    let lastAckAt = 0;
    let finished = false;
    let timer: NodeJS.Timeout | undefined;

    const finish = (ok: boolean, error?: string) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      clearTimeout(deadline);
      sock.removeAllListeners('message');
      sock.on('error', () => {});
      try {
        sock.close();
      } catch {}
      done({
        ok,
        bytes,
        ms: performance.now() - t0,
        blksize,
        windowsize,
        retries,
        ...(error ? { error } : {}),
      });
    };
    const send = (b: Buffer, port: number) => {
      lastSent = b;
      sock.send(b, port, HOST);
    };
    // ±25% jitter, as a fleet of real clients has: 1000 fetches started together must not retransmit in lockstep.
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(
        () => {
          if (finished) return;
          if (++stalls > CLIENT_RETRIES) return finish(false, 'timeout');
          retries++;
          sock.send(lastSent, serverPort || o.port, HOST);
          arm();
        },
        CLIENT_TIMEOUT_MS * (0.75 + Math.random() * 0.5),
      );
    };
    const deadline = setTimeout(() => finish(false, 'deadline'), o.deadlineMs);
    const sendAck = (block: number) => {
      lastAckAt = performance.now();
      send(ack(block), serverPort);
    };

    sock.on('error', (e) => finish(false, `socket: ${e.message}`));
    sock.on('message', (msg: Buffer, r: RemoteInfo) => {
      if (finished || msg.length < 4) return;
      if (serverPort === 0) serverPort = r.port;
      else if (r.port !== serverPort) {
        sock.send(errorPacket(5, 'unknown transfer ID'), r.port, HOST);
        return;
      }
      const op = msg.readUInt16BE(0);
      if (op === 5) return finish(false, `ERROR ${msg.readUInt16BE(2)}: ${msg.subarray(4).toString('latin1')}`);
      if (op === 6) {
        if (expected !== 1 || bytes > 0) return; // a late duplicate OACK
        const oack = parseOack(msg);
        blksize = Number(oack.get('blksize') ?? 512);
        windowsize = Number(oack.get('windowsize') ?? 1);
        const ts = oack.get('tsize');
        if (ts !== undefined) tsize = Number(ts);
        stalls = 0;
        sendAck(0);
        arm();
        return;
      }
      if (op !== 3) return;
      const block = msg.readUInt16BE(2);
      if (block !== (expected & 0xffff)) {
        // A gap or a duplicate: ACK the last in-order block so the server resends from there (RFC 7440), but not for
        // every packet of a resent window.
        if (performance.now() - lastAckAt > CLIENT_TIMEOUT_MS / 4) {
          inWindow = 0;
          sendAck(expected - 1);
        }
        return;
      }
      const len = msg.length - 4;
      stalls = 0;
      bytes += len;
      expected++;
      if (len < blksize) {
        sendAck(expected - 1);
        const want = tsize ?? o.size;
        return bytes === want && bytes === o.size ? finish(true) : finish(false, `got ${bytes} bytes, want ${o.size}`);
      }
      if (++inWindow >= windowsize) {
        inWindow = 0;
        sendAck(expected - 1);
      }
      arm();
    });
    sock.bind(0, HOST, () => {
      send(request, o.port);
      arm();
    });
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Servers.

interface Server {
  name: string;
  port: number;
  child: ChildProcess;
  stderr: string[];
}

const children: ChildProcess[] = [];
let dir = '';

function killChildren(): void {
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

function cleanup(): void {
  killChildren();
  if (dir) rmSync(dir, { recursive: true, force: true });
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
  const want = [...(existsSync(tftpd) ? [] : ['tftpd-hpa']), ...(existsSync(atftpd) ? [] : ['atftpd'])];
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

// ---------------------------------------------------------------------------------------------------------------
// Cases.

interface Outcome {
  mbps: number;
  wallMs: number;
  failures: number;
  /** Negotiated windowsize (bulk only). */
  windowsize?: number;
  error?: string;
}

async function bulk(port: number, file: string, size: number, blksize: number, windowsize: number): Promise<Outcome> {
  const r = await fetchTftp({
    port,
    file,
    size,
    blksize,
    windowsize,
    deadlineMs: BULK_DEADLINE_MS,
    recvBuffer: 4 << 20,
  });
  return {
    mbps: r.ok ? size / 2 ** 20 / (r.ms / 1000) : 0,
    wallMs: r.ms,
    failures: r.ok ? 0 : 1,
    windowsize: r.windowsize,
    ...(r.error ? { error: r.error } : {}),
  };
}

async function parallel(port: number, n: number): Promise<Outcome> {
  const t0 = performance.now();
  const results = await Promise.all(
    Array.from({ length: n }, () =>
      fetchTftp({
        port,
        file: 'small.bin',
        size: SMALL_BYTES,
        blksize: 1468,
        windowsize: 1,
        deadlineMs: SMALL_DEADLINE_MS,
      }),
    ),
  );
  const wallMs = performance.now() - t0;
  const ok = results.filter((r) => r.ok).length;
  const firstError = results.find((r) => !r.ok)?.error;
  return {
    mbps: (ok * SMALL_BYTES) / 2 ** 20 / (wallMs / 1000),
    wallMs,
    failures: n - ok,
    ...(firstError ? { error: firstError } : {}),
  };
}

function writeRandom(path: string, bytes: number): void {
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(1 << 20);
  for (let left = bytes; left > 0; left -= chunk.length) {
    writeSync(fd, randomFillSync(chunk), 0, Math.min(left, chunk.length));
  }
  closeSync(fd);
}

async function main(): Promise<void> {
  const peers = ensurePeers();
  const shim = ensureShim();
  if (!existsSync('/usr/sbin/dnsmasq'))
    throw new Error('/usr/sbin/dnsmasq is missing: apt-get install -y dnsmasq-base');

  dir = mkdtempSync(join(tmpdir(), 'bh-bench-tftp-'));
  // tftpd-hpa and atftpd may drop to nobody: let them read the files.
  chmodSync(dir, 0o755);
  const files = [
    { name: 'mid.bin', size: MID_MB * 2 ** 20 },
    { name: 'big.bin', size: BIG_MB * 2 ** 20 },
  ];
  for (const f of files) writeRandom(join(dir, f.name), f.size);
  writeRandom(join(dir, 'small.bin'), SMALL_BYTES);

  const servers: Server[] = [
    spawnServer('bootherd', 16901, process.execPath, ['--import', 'tsx', SELF, '--bootherd-child', '16901', dir]),
    spawnServer(
      'tftpd-hpa',
      16902,
      peers.tftpd,
      ['-L', '-a', `${HOST}:16902`, '-u', 'root', '-B', String(MAX_BLKSIZE), '-s', dir],
      { LD_LIBRARY_PATH: LIB_PATH },
    ),
    spawnServer(
      'atftpd',
      16903,
      peers.atftpd,
      [
        '--daemon',
        '--no-fork',
        '--port',
        '16903',
        '--bind-address',
        HOST,
        '--user',
        'root',
        '--group',
        'root',
        '--maxthread',
        '1100',
        '--logfile',
        '/dev/null',
        dir,
      ],
      { LD_LIBRARY_PATH: LIB_PATH },
    ),
    spawnServer(
      'dnsmasq',
      16904,
      '/usr/sbin/dnsmasq',
      [
        '--port=0',
        '--enable-tftp',
        `--tftp-root=${dir}`,
        '--no-daemon',
        '--conf-file=/dev/null',
        '--listen-address=127.0.0.1',
        '--bind-interfaces',
        '--user=root',
        '--group=root',
        '--pid-file=',
        '--tftp-max=1100',
        '--quiet-tftp',
        '--log-facility=/dev/null',
      ],
      { LD_PRELOAD: shim, BENCH_TFTP_PORT: '16904' },
    ),
  ];
  for (const s of servers) await waitReady(s, 'small.bin', SMALL_BYTES);

  interface Row {
    name: string;
    results: Outcome[];
  }
  const rows: Row[] = [];
  const started = performance.now();
  for (const f of files) {
    for (const bs of BLKSIZES) {
      for (const ws of WINDOWS) {
        const name = `${f.size / 2 ** 20} MiB bs${bs} ws${ws}`;
        const results: Outcome[] = [];
        for (const s of servers) results.push(await bulk(s.port, f.name, f.size, bs, ws));
        rows.push({ name, results });
        console.error(`bench/tftp: ${name} done (${((performance.now() - started) / 1000).toFixed(0)} s)`);
      }
    }
  }
  for (const n of PARALLEL) {
    const results: Outcome[] = [];
    for (const s of servers) {
      results.push(await parallel(s.port, n));
      await sleep(500); // let the server wind down the last transfers before the next one starts
    }
    const name = `${n} x 70 KiB parallel bs1468`;
    rows.push({ name, results });
    console.error(`bench/tftp: ${name} done (${((performance.now() - started) / 1000).toFixed(0)} s)`);
  }

  const cell = (o: Outcome) => {
    const ws = o.windowsize !== undefined ? ` w${o.windowsize}` : '';
    return `${o.mbps.toFixed(1).padStart(7)} ${(o.wallMs / 1000).toFixed(2).padStart(6)}s f${o.failures}${ws}`;
  };
  const W = 24;
  console.log(
    `\nbench/tftp: loopback ${HOST}, one in-process Node client (node:dgram) for every server; ` +
      'bootherd in its own Node child process (tsx), peers as their own processes',
  );
  console.log('cells: MB/s (MiB/s), wall time, failures f, negotiated windowsize w (bulk cases)');
  console.log(
    `${'case'.padEnd(30)} ${servers.map((s) => `${s.name}:${s.port}`.padEnd(W)).join(' ')} bootherd/best peer`,
  );
  for (const row of rows) {
    const [b, ...peerResults] = row.results;
    const best = Math.max(...peerResults.map((p) => p.mbps));
    const ratio = b && best > 0 ? (b.mbps / best).toFixed(2) : 'n/a';
    console.log(`${row.name.padEnd(30)} ${row.results.map((o) => cell(o).padEnd(W)).join(' ')} ${ratio}`);
  }
  const errors = rows.flatMap((r) =>
    r.results.flatMap((o, i) => (o.error ? [`  ${r.name} ${servers[i]?.name}: ${o.error}`] : [])),
  );
  if (errors.length > 0) console.log(`first error per failing cell:\n${errors.join('\n')}`);

  const wins: string[] = [];
  for (const f of files) {
    for (const bs of BLKSIZES) {
      const one = rows.find((r) => r.name === `${f.size / 2 ** 20} MiB bs${bs} ws1`)?.results[0];
      const sixteen = rows.find((r) => r.name === `${f.size / 2 ** 20} MiB bs${bs} ws16`)?.results[0];
      if (one && sixteen && one.mbps > 0)
        wins.push(`${f.size / 2 ** 20}M/bs${bs} ${(sixteen.mbps / one.mbps).toFixed(2)}x`);
      else wins.push(`${f.size / 2 ** 20}M/bs${bs} n/a`);
    }
  }
  console.log(`bootherd windowsize 16 vs 1 (target >= 2x): ${wins.join(', ')}`);
}

if (process.argv[2] === '--bootherd-child') {
  const port = Number(process.argv[3]);
  const root = process.argv[4] ?? '';
  bootherdChild(port, root).catch((err: Error) => {
    console.error(`bootherd child failed: ${err.message}`);
    process.exit(1);
  });
} else {
  process.on('exit', cleanup);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(130));
  main().then(
    () => process.exit(0),
    (err: Error) => {
      console.error(`bench/tftp failed: ${err.message}`);
      process.exit(1);
    },
  );
}
