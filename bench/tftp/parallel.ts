/**
 * The parallel row of bench/tftp: 1,000 fetches of a 70 KiB file started at once from a few client processes, timed
 * as a whole. Each measurement reports, beside its wall time, why fetches failed (client.ts's reasons, server ERRORs
 * by their text), the fetch times' spread, both sides' retransmissions, UDP receive-buffer drops (the server's
 * listening socket and the whole namespace), the server's and the clients' CPU time, and whether the server survived:
 * enough to tell a slow or failing server from a client that measures itself.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fetchTftp } from './client.ts';
import type { Server } from './peers.ts';

export const SMALL_BYTES = 70 * 1024;
const SMALL_DEADLINE_MS = 60_000;

/** One measurement: wall time of all fetches, how many failed, the first error, and the notes above. */
export interface ParallelOutcome {
  ms: number;
  failures: number;
  error?: string;
  detail: string;
}

export interface ParallelSetup {
  /** The module whose `--parallel-client <port> <n> <local address> <sha256>` mode calls parallelChild. */
  script: string;
  procs: number;
  /** small.bin's SHA-256: every fetch must deliver exactly these bytes. */
  sha256: string;
  /** The running servers, for their CPU time and whether they survived. */
  servers: Server[];
}

/** What one client process reports after its share of the parallel fetches. */
interface ParallelReport {
  failures: number;
  error?: string;
  /** Failed fetches by reason (server ERRORs by their text). */
  reasons: Record<string, number>;
  retries: number;
  resends: number;
  /** Each successful fetch's time, ms. */
  okMs: number[];
  /** The process's CPU time (user + system) over the fetches, and its event loop's longest delay. */
  cpuMs: number;
  maxLagMs: number;
}

/**
 * Client mode: `n` fetches of small.bin at once from `local` (a loopback address of this measurement alone), started
 * when the parent writes a line; prints a ParallelReport.
 */
export async function parallelChild(port: number, n: number, local: string, sha256: string): Promise<void> {
  process.stdout.write('ready\n');
  await once(createInterface({ input: process.stdin }), 'line');
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  const cpu0 = process.cpuUsage();
  const results = await Promise.all(
    Array.from({ length: n }, () =>
      fetchTftp({
        localAddress: local,
        port,
        file: 'small.bin',
        size: SMALL_BYTES,
        sha256,
        blksize: 1468,
        windowsize: 1,
        deadlineMs: SMALL_DEADLINE_MS,
      }),
    ),
  );
  const cpu = process.cpuUsage(cpu0);
  lag.disable();
  const failed = results.filter((r) => !r.ok);
  const reasons: Record<string, number> = {};
  for (const r of failed) {
    const key = r.reason === 'server-error' ? (r.error ?? 'server-error') : (r.reason ?? 'unknown');
    reasons[key] = (reasons[key] ?? 0) + 1;
  }
  const report: ParallelReport = {
    failures: failed.length,
    ...(failed[0]?.error ? { error: failed[0].error } : {}),
    reasons,
    retries: results.reduce((a, r) => a + r.retries, 0),
    resends: results.reduce((a, r) => a + r.resends, 0),
    okMs: results.filter((r) => r.ok).map((r) => Math.round(r.ms)),
    cpuMs: (cpu.user + cpu.system) / 1000,
    maxLagMs: lag.max / 1e6,
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

/** UDP receive-buffer drops in this network namespace (/proc/net/snmp), and those of the socket bound to `port`. */
function udpDrops(port: number): { all: number; listener: number } {
  const snmp = readFileSync('/proc/net/snmp', 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('Udp:'));
  const head = snmp[0]?.split(/\s+/) ?? [];
  const all = Number(snmp[1]?.split(/\s+/)[head.indexOf('RcvbufErrors')] ?? 0);
  const local = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const row = readFileSync('/proc/net/udp', 'utf8')
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .find((f) => f[1]?.endsWith(local));
  return { all, listener: Number(row?.at(-1) ?? 0) };
}

/** Open file descriptors of a server's process: dnsmasq's transfers left over from an earlier measurement show. */
function openFds(pid: number | undefined): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return 0;
  }
}

/**
 * CPU seconds a server's process has used (ticks of USER_HZ = 100). in.tftpd forks one process per transfer and ignores
 * SIGCHLD, so its children's time is never added to its own: its figure is left out.
 */
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    // Fields after the ")" that ends the command name: utime, stime, cutime, cstime are the 12th to 15th.
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return f.slice(11, 15).reduce((a, v) => a + Number(v), 0) / 100;
  } catch {
    return 0;
  }
}

let parallelRound = 0;

/**
 * The 1,000 fetches come from `setup.procs` processes (the clients' CPU spread over both cores), started first and
 * then told to go at once. Each measurement sends from its own loopback address (127.1.<round>.1, …): a server still
 * retransmitting to, or timing out, a transfer of the previous measurement must not hit a new fetch that got the same
 * port (it did: tftpd-hpa's cell showed bootherd's "ERROR 0 timeout", and stale DATA stalled fetches).
 */
export const parallelRunner =
  (n: number, setup: ParallelSetup) =>
  async (port: number): Promise<ParallelOutcome> => {
    const round = ++parallelRound;
    const local = `127.${1 + ((round >> 8) & 127)}.${round & 255}.1`;
    const kids = Array.from({ length: setup.procs }, (_, i) => {
      const share = Math.floor(n / setup.procs) + (i < n % setup.procs ? 1 : 0);
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', setup.script, '--parallel-client', String(port), String(share), local, setup.sha256],
        { stdio: ['pipe', 'pipe', 'inherit'] },
      );
      return { child, lines: createInterface({ input: child.stdout }) };
    });
    await Promise.all(kids.map((k) => once(k.lines, 'line')));
    const server = setup.servers.find((s) => s.port === port);
    const cpu0 = cpuSeconds(server?.child.pid);
    const fds = openFds(server?.child.pid);
    const before = udpDrops(port);
    const t0 = performance.now();
    const outcomes = kids.map((k) => once(k.lines, 'line'));
    for (const k of kids) k.child.stdin.write('go\n');
    const outs = (await Promise.all(outcomes)).map(([line]) => JSON.parse(String(line)) as ParallelReport);
    const ms = performance.now() - t0;
    const after = udpDrops(port);
    const serverCpu = cpuSeconds(server?.child.pid) - cpu0;
    await sleep(500); // let the server wind down its last transfers before the next measurement
    const reasons: Record<string, number> = {};
    for (const o of outs) for (const [k, v] of Object.entries(o.reasons)) reasons[k] = (reasons[k] ?? 0) + v;
    const sum = (f: (o: ParallelReport) => number) => outs.reduce((a, o) => a + f(o), 0);
    const exited = server && (server.child.exitCode ?? server.child.signalCode);
    const okMs = outs.flatMap((o) => o.okMs).sort((a, b) => a - b);
    const pct = (q: number) =>
      `${((okMs[Math.min(okMs.length - 1, Math.floor(q * okMs.length))] ?? 0) / 1000).toFixed(2)}`;
    const cpuNote = server?.name === 'tftpd-hpa' ? '–' : `${serverCpu.toFixed(2)} s`;
    const detail =
      `${(ms / 1000).toFixed(2)} s (fetches p50/p90/max ${pct(0.5)}/${pct(0.9)}/${pct(1)} s); ` +
      `failed ${JSON.stringify(reasons)}` +
      `${exited ? ` (the server exited: ${exited}, ${server.stderr.join('').trim().split('\n').at(-1)})` : ''}; ` +
      `server CPU ${cpuNote}, open fds at the start ${fds}; ` +
      `client retransmissions ${sum((o) => o.retries)}, ` +
      `server retransmissions seen ${sum((o) => o.resends)}; receive-buffer drops: listening socket ` +
      `${after.listener - before.listener}, all UDP ${after.all - before.all}; client CPU ` +
      `${outs.map((o) => `${(o.cpuMs / 1000).toFixed(2)} s`).join('/')}, longest event-loop delay ` +
      `${Math.max(...outs.map((o) => o.maxLagMs)).toFixed(0)} ms`;
    const error = outs.find((o) => o.error)?.error;
    return { ms, failures: sum((o) => o.failures), detail, ...(error ? { error } : {}) };
  };
