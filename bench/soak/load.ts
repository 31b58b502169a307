/**
 * The simulated fleet of bench/soak, run inside the relay's network namespace: each machine boots in a loop, as a
 * PXE client does — DHCP DORA through the relay, the iPXE binary over TFTP, its script over HTTP — once every
 * `periodS` seconds (starts spread over the first period). Prints one JSON line per window of `windowS` seconds: the
 * count, failures and p50/p99 of each step in that window. Reads its plan from the JSON file argv[2] names.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Agent, get } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { PXE_BIOS, RelayedDhcp } from '../../test/lib/relayed-dhcp.ts';
import { fetchTftp } from '../tftp/client.ts';

export interface LoadPlan {
  server: string;
  relay: string;
  httpPort: number;
  tftpFile: string;
  tftpSize: number;
  macs: string[];
  periodS: number;
  minutes: number;
  windowS: number;
}

export interface StepWindow {
  count: number;
  failed: number;
  p50: number;
  p99: number;
}

const plan = JSON.parse(readFileSync(process.argv[2] ?? '', 'utf8')) as LoadPlan;
const steps = ['dhcp', 'tftp', 'http'] as const;
type Step = (typeof steps)[number];
let window = new Map<Step, { ms: number[]; failed: number }>(steps.map((s) => [s, { ms: [], failed: 0 }]));

const record = (step: Step, ms: number | undefined) => {
  const w = window.get(step)!;
  if (ms === undefined) w.failed++;
  else w.ms.push(ms);
};

const relay = await RelayedDhcp.open(plan.relay, plan.server);

let xids = (Math.random() * 0x7fffffff) >>> 0;
/** DORA through the relay; the address the server ACKed, or undefined. */
async function dora(mac: string): Promise<string | undefined> {
  xids = (xids + 1) >>> 0;
  const xid = xids;
  const t0 = performance.now();
  // A PXE ROM's timing: 4 tries, 1 s apart.
  const { offer, ack } = await relay.dora(mac, xid, { extra: PXE_BIOS, attempts: 4, timeoutMs: 1000 });
  record('dhcp', ack ? performance.now() - t0 : undefined);
  if (!ack) firstError('dhcp', offer ? 'no ACK' : 'no OFFER');
  return ack?.yiaddr;
}

const agent = new Agent({ keepAlive: false });
/**
 * A booted machine talks from its leased address, as a real one does (the server attributes TFTP and HTTP requests to
 * the machine by it, and limits concurrent transfers per address): the address goes on this namespace's loopback.
 */
const configured = new Set<string>();
async function own(ip: string): Promise<void> {
  if (configured.has(ip)) return;
  await new Promise<void>((resolve, reject) =>
    execFile('ip', ['addr', 'add', `${ip}/32`, 'dev', 'lo'], (err) => (err ? reject(err) : resolve())),
  );
  configured.add(ip);
}

function script(mac: string, ip: string): Promise<void> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const req = get(
      {
        host: plan.server,
        port: plan.httpPort,
        path: `/ipxe?mac=${mac.replace(/:/g, '-')}`,
        agent,
        localAddress: ip,
      },
      (res) => {
        res.resume();
        res.on('end', () => {
          record('http', res.statusCode === 200 ? performance.now() - t0 : undefined);
          if (res.statusCode !== 200) firstError('http', `HTTP ${res.statusCode}`);
          resolve();
        });
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.on('error', (err) => {
      firstError('http', err.message);
      record('http', undefined);
      resolve();
    });
  });
}

const said = new Set<Step>();
/** The first failure of each step goes to stderr: enough to see why without a line per failure. */
function firstError(step: Step, message: string): void {
  if (said.has(step)) return;
  said.add(step);
  process.stderr.write(`${step}: first failure: ${message}\n`);
}

const end = Date.now() + plan.minutes * 60_000;
async function machine(mac: string, index: number): Promise<void> {
  await sleep((index / plan.macs.length) * plan.periodS * 1000);
  while (Date.now() < end) {
    const started = Date.now();
    const ip = await dora(mac);
    if (ip) {
      await own(ip);
      const t = await fetchTftp({
        host: plan.server,
        localAddress: ip,
        port: 69,
        file: plan.tftpFile,
        size: plan.tftpSize,
        blksize: 1468,
        windowsize: 1,
        deadlineMs: 30_000,
      });
      record('tftp', t.ok && t.bytes === plan.tftpSize ? t.ms : undefined);
      if (!t.ok) firstError('tftp', t.error ?? 'failed');
      if (t.ok) await script(mac, ip);
    }
    await sleep(Math.max(0, started + plan.periodS * 1000 - Date.now()));
  }
}

function summarize(w: { ms: number[]; failed: number }): StepWindow {
  const s = w.ms.sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
  return { count: s.length, failed: w.failed, p50: at(0.5), p99: at(0.99) };
}

const reporter = setInterval(() => {
  const done = window;
  window = new Map(steps.map((s) => [s, { ms: [], failed: 0 }]));
  const line: Record<string, StepWindow> = {};
  for (const s of steps) line[s] = summarize(done.get(s)!);
  process.stdout.write(`${JSON.stringify(line)}\n`);
}, plan.windowS * 1000);
await Promise.all(plan.macs.map(machine));
clearInterval(reporter);
relay.close();
agent.destroy();
