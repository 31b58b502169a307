/**
 * bench/tftp: bootherd's TFTP server beside tftpd-hpa (in.tftpd), atftpd and dnsmasq's TFTP, in one run, on loopback,
 * printing bootherd's ratio to the peer each row is judged against and whether the target is met.
 *
 * - lock-step: real C clients, one process per fetch: the tftp-hpa client (RFC 1350 only, so blksize 512) and curl
 *   (`--tftp-blksize` 512, 1468, 8192). Target ≥ 1.0× tftpd-hpa.
 * - windowsize 16 at blksize 1468 and 8192 (RFC 7440): atftp's client at 1468; the Node client of client.ts at 8192,
 *   where atftpd stalls with atftp's client (the Node client at 1468, where it is itself the limit, is an unjudged
 *   row). Only bootherd and atftpd implement windowsize. Target ≥ 1.2× atftpd.
 * - 1,000 fetches of a 70 KiB file at once (Node client in BENCH_CLIENT_PROCS processes, default 4, blksize 1468;
 *   parallel.ts): wall time and failures, with notes per measurement (failure reasons, drops, CPU). Target 0 failed
 *   and wall ≤ dnsmasq's.
 * Every cell is the median of BENCH_REPEAT runs (servers in a rotating order); the ratio is the median of the per-run
 * ratios, with their range. Bulk files: BENCH_BIG_MB (default 64; the blksize-512 rows use half).
 * BENCH_ONLY=<text> keeps the rows whose name contains it; BENCH_CPU_PROF=<dir> runs bootherd under --cpu-prof and
 * prints its heaviest functions at the end; BENCH_FLOOR=1 adds floor.ts's two bare lock-step servers (Node's event
 * loop, blocking libc calls) to the lock-step rows; BENCH_BASELINE=<another checkout's src/tftp/server.ts> adds a column
 * for that build, to measure a change against what it replaces in the same run.
 * Run as root: `npm run bench:tftp` (needs tftp-hpa, curl, atftp, dnsmasq-base, apt-get, dpkg, cc).
 */
import { spawn } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { printSelfTimes } from '../api/cpuprofile-top.ts';
import { fetchTftp, HOST } from './client.ts';
import { type FastResult, fastFetch } from './fast-client.ts';
import { floorChild } from './floor.ts';
import { type ParallelSetup, parallelChild, parallelRunner, SMALL_BYTES } from './parallel.ts';
import { killChildren, MAX_BLKSIZE, type Server, startServers, stopGracefully } from './peers.ts';

const BIG_MB = Number(process.env.BENCH_BIG_MB ?? 64);
const REPEAT = Number(process.env.BENCH_REPEAT ?? 3);
const ONLY = process.env.BENCH_ONLY;
const CPU_PROF = process.env.BENCH_CPU_PROF ? resolve(process.env.BENCH_CPU_PROF) : undefined;
const BASELINE = process.env.BENCH_BASELINE ? resolve(process.env.BENCH_BASELINE) : undefined;
/** BENCH_FLOOR=1: floor.ts's two bare lock-step servers as columns of the lock-step rows (ports 16906, 16907). */
const FLOORS = process.env.BENCH_FLOOR === '1' ? ['node-loop', 'node-blocking'] : [];
const PARALLEL = 1000;
const CLIENT_PROCS = Number(process.env.BENCH_CLIENT_PROCS ?? 4);
const BULK_DEADLINE_MS = 300_000;
const SELF = fileURLToPath(import.meta.url);

// ---------------------------------------------------------------------------------------------------------------
// Child mode: bootherd's TFTP server alone in its own process.

async function bootherdChild(port: number, dir: string, module: string): Promise<void> {
  const { startTftpServer } = (await import(module)) as typeof import('../../src/tftp/server.ts');
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
// One measurement.

interface Outcome {
  /** Wall time of the fetch (or of all parallel fetches). */
  ms: number;
  failures: number;
  error?: string;
  /** The parallel row: why fetches failed, retransmissions, drops and the clients' own load. */
  detail?: string;
}

let outDir = '';

/**
 * Runs a C client; ok when it exits 0 and, when it wrote to a file, the file has the expected size. Timed runs write
 * to /dev/null: writing 64 MiB to tmpfs costs a client more than a fast server takes to send it.
 */
function runClient(cmd: string, args: string[], dest: string, size: number): Promise<Outcome> {
  return new Promise((done) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: BULK_DEADLINE_MS });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-300);
    });
    child.on('error', (e) => done({ ms: 0, failures: 1, error: `${cmd}: ${e.message}` }));
    child.on('close', (code) => {
      const ms = performance.now() - t0;
      const got = dest === '/dev/null' ? size : existsSync(dest) ? statSync(dest).size : -1;
      if (dest !== '/dev/null') rmSync(dest, { force: true });
      if (code === 0 && got === size) return done({ ms, failures: 0 });
      done({ ms, failures: 1, error: `${cmd} exit ${code}, ${got} of ${size} bytes: ${stderr.trim()}` });
    });
  });
}

/** One fetch; `check`: write to a file and check its size (untimed, once per server and row) instead of /dev/null. */
type Runner = (port: number, check?: boolean) => Promise<Outcome>;

const dest = (check?: boolean) => (check ? join(outDir, 'fetched.bin') : '/dev/null');
const tftpHpa =
  (file: string, size: number): Runner =>
  (port, check) =>
    runClient('tftp', ['-m', 'binary', HOST, String(port), '-c', 'get', file, dest(check)], dest(check), size);
const curl =
  (file: string, size: number, bs: number): Runner =>
  (port, check) =>
    runClient(
      'curl',
      ['-sS', '-o', dest(check), '--tftp-blksize', String(bs), `tftp://${HOST}:${port}/${file}`],
      dest(check),
      size,
    );
const atftp =
  (file: string, size: number, bs: number, ws: number): Runner =>
  (port, check) =>
    runClient(
      'atftp',
      [
        '--option',
        `blksize ${bs}`,
        '--option',
        `windowsize ${ws}`,
        '-g',
        '-r',
        file,
        '-l',
        dest(check),
        HOST,
        String(port),
      ],
      dest(check),
      size,
    );
const nodeClient =
  (file: string, size: number, bs: number, ws: number): Runner =>
  async (port) => {
    const r = await fetchTftp({
      port,
      file,
      size,
      blksize: bs,
      windowsize: ws,
      deadlineMs: BULK_DEADLINE_MS,
      recvBuffer: 4 << 20,
    });
    return { ms: r.ms, failures: r.ok ? 0 : 1, ...(r.error ? { error: r.error } : {}) };
  };
/** fast-client.ts in a child process of its own (its calls block); it times the fetch itself, so Node's start-up is
 * not counted. `check`: the bytes must also hash to the file's SHA-256. */
let servedDir = '';
const fastClient =
  (file: string, size: number, bs: number, ws: number): Runner =>
  (port, check) =>
    new Promise((done) => {
      const sha = check
        ? createHash('sha256')
            .update(readFileSync(join(servedDir, file)))
            .digest('hex')
        : '';
      const args = ['--import', 'tsx', SELF, '--fast-client', String(port), file, String(size), String(bs), String(ws)];
      const child = spawn(process.execPath, [...args, sha], {
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: BULK_DEADLINE_MS,
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
      });
      child.stderr.on('data', (d: Buffer) => {
        out += d.toString();
      });
      child.on('close', () => {
        try {
          const r = JSON.parse(out) as FastResult;
          done({ ms: r.ms, failures: r.ok ? 0 : 1, ...(r.error ? { error: r.error } : {}) });
        } catch {
          done({ ms: 0, failures: 1, error: `fast client: ${out.trim().slice(-300)}` });
        }
      });
    });
// ---------------------------------------------------------------------------------------------------------------
// The rows.

interface Row {
  name: string;
  client: string;
  /** Bytes per fetch (for MB/s) or undefined for the parallel row (judged on wall time). */
  bytes: number | undefined;
  servers: string[];
  peer: string;
  /** bootherd's speed over the peer's (peer wall / bootherd wall) must reach this; undefined: a cross-check. */
  target: number | undefined;
  run: Runner;
}

function rows(parallel: ParallelSetup): Row[] {
  const big = BIG_MB * 2 ** 20;
  const half = big / 2;
  const extra = BASELINE ? ['baseline'] : [];
  const all = ['bootherd', 'tftpd-hpa', 'atftpd', 'dnsmasq', ...extra];
  const windowed = ['bootherd', 'atftpd', ...extra];
  const lock = (name: string, client: string, bytes: number, run: Runner): Row => ({
    name,
    client,
    bytes,
    servers: [...all, ...FLOORS],
    peer: 'tftpd-hpa',
    target: 1.0,
    run,
  });
  const win = (bs: number, client: string, run: Runner): Row => ({
    name: `${BIG_MB} MiB, blksize ${bs}, windowsize 16`,
    client,
    bytes: big,
    servers: windowed,
    peer: 'atftpd',
    target: 1.2,
    run,
  });
  const list: Row[] = [
    lock(`${BIG_MB / 2} MiB, blksize 512, lock-step`, 'tftp-hpa', half, tftpHpa('half.bin', half)),
    lock(`${BIG_MB / 2} MiB, blksize 512, lock-step`, 'curl', half, curl('half.bin', half, 512)),
    lock(`${BIG_MB} MiB, blksize 1468, lock-step`, 'curl', big, curl('big.bin', big, 1468)),
    lock(`${BIG_MB} MiB, blksize 8192, lock-step`, 'curl', big, curl('big.bin', big, 8192)),
    // Windowed, judged with atftp's C client at 1468; at 8192 atftpd stalls on timeouts with that client (~20 s for
    // 16 MiB), so that row uses the Node client, near its own ceiling there (~70,000 datagrams/s). fast-client.ts
    // (blocking libc calls, recvmmsg) beside them, not judged: atftpd's speed depends on the client (README).
    win(1468, 'atftp', atftp('big.bin', big, 1468, 16)),
    win(8192, 'node', nodeClient('big.bin', big, 8192, 16)),
    { ...win(1468, 'node', nodeClient('big.bin', big, 1468, 16)), target: undefined },
    { ...win(8192, 'libc', fastClient('big.bin', big, 8192, 16)), target: undefined },
    { ...win(1468, 'libc', fastClient('big.bin', big, 1468, 16)), target: undefined },
    {
      name: `${PARALLEL} × 70 KiB in parallel, blksize 1468`,
      client: 'node',
      bytes: undefined,
      servers: all,
      peer: 'dnsmasq',
      target: 1.0,
      run: parallelRunner(PARALLEL, parallel),
    },
  ];
  return list.filter((r) => !ONLY || `${r.name} ${r.client}`.includes(ONLY));
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
};

interface Measured {
  row: Row;
  /** Per server: each repetition's outcome. */
  runs: Map<string, Outcome[]>;
}

async function measure(row: Row, servers: Server[]): Promise<Measured> {
  const runs = new Map<string, Outcome[]>(row.servers.map((s) => [s, []]));
  const mine = servers.filter((s) => row.servers.includes(s.name));
  // C clients fetch once into a file first, to check each server sends the whole file; the node client checks always.
  if (row.client !== 'node')
    for (const s of mine) {
      const c = await row.run(s.port, true);
      if (c.failures > 0) runs.get(s.name)!.push(c);
    }
  for (let rep = 0; rep < REPEAT; rep++) {
    // Rotate the order: a neighbour's burst on the shared machine should not always hit the same server.
    const order = [...mine.slice(rep % mine.length), ...mine.slice(0, rep % mine.length)];
    for (const s of order) runs.get(s.name)!.push(await row.run(s.port));
  }
  return { row, runs };
}

function writeRandom(path: string, bytes: number): void {
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(1 << 20);
  for (let left = bytes; left > 0; left -= chunk.length) {
    writeSync(fd, randomFillSync(chunk), 0, Math.min(left, chunk.length));
  }
  closeSync(fd);
}

function report(results: Measured[]): void {
  const names = ['bootherd', 'tftpd-hpa', 'atftpd', 'dnsmasq', ...(BASELINE ? ['baseline'] : []), ...FLOORS];
  const mbps = (row: Row, ms: number) => (row.bytes ?? 0) / 2 ** 20 / (ms / 1000);
  const cell = (row: Row, os: Outcome[] | undefined): string => {
    if (!os) return '–';
    const ok = os.filter((o) => o.failures === 0);
    const failed = os.reduce((a, o) => a + o.failures, 0);
    if (row.bytes === undefined) return `${(median(os.map((o) => o.ms)) / 1000).toFixed(2)} s, ${failed} failed`;
    if (ok.length === 0) return 'failed';
    const v = mbps(row, median(ok.map((o) => o.ms)));
    return `${v.toFixed(v < 100 ? 1 : 0)}${failed ? ` (${failed} failed)` : ''}`;
  };
  const now = new Date().toISOString().slice(0, 16).replace('T', ' ');
  console.log(
    `\nbench/tftp ${now} UTC, loopback, ${REPEAT} runs a cell (median), load ${loadavg()[0]!.toFixed(2)}; ` +
      'bulk cells MB/s (MiB/s), the parallel row: wall time and failed fetches' +
      `${CPU_PROF ? '; bootherd under --cpu-prof' : ''}\n`,
  );
  console.log(`| case | client | ${names.join(' | ')} | bootherd / peer | target | met |`);
  console.log(`| --- | --- | ${names.map(() => '---').join(' | ')} | --- | --- | --- |`);
  for (const { row, runs } of results) {
    const b = runs.get('bootherd') ?? [];
    const p = runs.get(row.peer) ?? [];
    // Per-run ratio of speeds = the peer's wall time over bootherd's; a failed fetch counts as speed 0.
    const ratios = b.map((o, i) => {
      const q = p[i];
      if (!q || (q.failures > 0 && row.bytes !== undefined)) return Number.POSITIVE_INFINITY;
      return o.failures > 0 && row.bytes !== undefined ? 0 : q.ms / o.ms;
    });
    const r = median(ratios);
    const failures = b.reduce((a, o) => a + o.failures, 0);
    const met = row.target === undefined ? '–' : r >= row.target && failures === 0 ? 'met' : 'NOT met';
    const range = ratios.length > 1 ? ` (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})` : '';
    const target =
      row.target === undefined
        ? '–'
        : row.bytes === undefined
          ? `0 failed, wall ≤ ${row.peer}'s`
          : `≥ ${row.target.toFixed(1)}× ${row.peer}`;
    console.log(
      `| ${row.name} | ${row.client} | ${names.map((n) => cell(row, runs.get(n))).join(' | ')} | ` +
        `${r.toFixed(2)}× ${row.peer}${range} | ${target} | ${met} |`,
    );
  }
  const errors = results.flatMap(({ row, runs }) =>
    [...runs].flatMap(([s, os]) => {
      const e = os.find((o) => o.error)?.error;
      return e ? [`  ${row.name} (${row.client}) ${s}: ${e}`] : [];
    }),
  );
  if (errors.length > 0) console.log(`\nfirst error per failing cell:\n${errors.join('\n')}`);
  const details = results.flatMap(({ runs }) =>
    [...runs].flatMap(([s, os]) => os.flatMap((o, i) => (o.detail ? [`  ${s} run ${i + 1}: ${o.detail}`] : []))),
  );
  if (details.length > 0) console.log(`\nparallel row, each measurement:\n${details.join('\n')}`);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bh-bench-tftp-'));
  outDir = mkdtempSync('/dev/shm/bh-bench-tftp-out-');
  process.on('exit', () => {
    killChildren();
    rmSync(dir, { recursive: true, force: true });
    rmSync(outDir, { recursive: true, force: true });
  });
  // tftpd-hpa and atftpd may drop to nobody: let them read the files.
  chmodSync(dir, 0o755);
  servedDir = dir;
  writeRandom(join(dir, 'big.bin'), BIG_MB * 2 ** 20);
  writeRandom(join(dir, 'half.bin'), (BIG_MB / 2) * 2 ** 20);
  writeRandom(join(dir, 'small.bin'), SMALL_BYTES);
  const sha256 = createHash('sha256')
    .update(readFileSync(join(dir, 'small.bin')))
    .digest('hex');
  if (CPU_PROF) mkdirSync(CPU_PROF, { recursive: true });
  const profilesBefore = CPU_PROF ? new Set(readdirSync(CPU_PROF)) : new Set<string>();

  const servers = await startServers({
    dir,
    probe: 'small.bin',
    probeSize: SMALL_BYTES,
    childScript: SELF,
    nodeFlags: CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${CPU_PROF}`] : [],
    ...(BASELINE ? { baseline: BASELINE } : {}),
    extra: FLOORS.map((name, i) => ({
      name,
      port: 16906 + i,
      args: [SELF, '--floor-child', name, String(16906 + i), dir],
    })),
  });
  const started = performance.now();
  const results: Measured[] = [];
  for (const row of rows({ script: SELF, procs: CLIENT_PROCS, sha256, servers })) {
    results.push(await measure(row, servers));
    console.error(`bench/tftp: ${row.name} (${row.client}) ${((performance.now() - started) / 1000).toFixed(0)} s`);
  }
  report(results);
  if (CPU_PROF) {
    await stopGracefully(servers[0]!);
    for (const f of readdirSync(CPU_PROF).filter((f) => f.endsWith('.cpuprofile') && !profilesBefore.has(f)))
      printSelfTimes(join(CPU_PROF, f), 20);
  }
}

if (process.argv[2] === '--parallel-client') {
  const [port, n, local, sha256] = process.argv.slice(3);
  void parallelChild(Number(port), Number(n), local ?? HOST, sha256 ?? '').then(() => process.exit(0));
} else if (process.argv[2] === '--fast-client') {
  const [port, file, size, bs, ws, sha] = process.argv.slice(3);
  void fastFetch(Number(port), file ?? '', Number(size), Number(bs), Number(ws), sha || undefined).then((r) => {
    process.stdout.write(JSON.stringify(r));
    process.exit(0);
  });
} else if (process.argv[2] === '--floor-child') {
  floorChild(process.argv[3] ?? '', Number(process.argv[4]), process.argv[5] ?? '');
} else if (process.argv[2] === '--bootherd-child') {
  const port = Number(process.argv[3]);
  const root = process.argv[4] ?? '';
  bootherdChild(port, root, resolve(process.argv[5] ?? join(import.meta.dirname, '../../src/tftp/server.ts'))).catch(
    (err: Error) => {
      console.error(`bootherd child failed: ${err.message}`);
      process.exit(1);
    },
  );
} else {
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(130));
  main().then(
    () => process.exit(0),
    (err: Error) => {
      console.error(`bench/tftp failed: ${err.message}`);
      process.exit(1);
    },
  );
}
