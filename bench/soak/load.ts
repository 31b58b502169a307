/**
 * The simulated fleet of bench/soak, run inside the relay's network namespace: each machine boots in a loop, as a
 * PXE client does — DHCP DORA through the relay, the iPXE binary over TFTP, its script over HTTP — once every
 * `periodS` seconds (starts spread over the first period). Prints one JSON line per window of `windowS` seconds: the
 * count, failures and p50/p99 of each step in that window. Reads its plan from the JSON file argv[2] names.
 */
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { Agent, get } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { MessageType } from '../../src/dhcp/options.ts';
import { BOOTREQUEST, type DhcpPacket, decodePacket, encodePacket, macToChaddr } from '../../src/dhcp/packet.ts';
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

const dhcp = createSocket({ type: 'udp4', reuseAddr: true });
await new Promise<void>((r) => dhcp.bind({ address: plan.relay, port: 67 }, () => r()));
const waiting = new Map<number, (p: DhcpPacket) => void>();
dhcp.on('message', (msg) => {
  const d = decodePacket(msg);
  if (d.ok) waiting.get(d.packet.xid)?.(d.packet);
});

function request(mac: string, xid: number, type: number, extra: Partial<DhcpPacket['options']>): Buffer {
  const e = encodePacket({
    op: BOOTREQUEST,
    htype: 1,
    hlen: 6,
    hops: 1,
    xid,
    secs: 0,
    flags: 0,
    ciaddr: '0.0.0.0',
    yiaddr: '0.0.0.0',
    siaddr: '0.0.0.0',
    giaddr: plan.relay,
    chaddr: macToChaddr(mac) ?? Buffer.alloc(16),
    sname: '',
    file: '',
    options: {
      messageType: type,
      vendorClassIdentifier: 'PXEClient:Arch:00000:UNDI:002001',
      clientSystemArchitecture: [0],
      ...extra,
    },
  });
  if (!e.ok) throw new Error(e.error.message);
  return e.buffer;
}

/** One message and its reply, retried after 1 s up to 4 times as a PXE ROM does. */
async function exchange(mac: string, xid: number, type: number, want: number, extra = {}) {
  for (let attempt = 0; attempt < 4; attempt++) {
    const reply = await new Promise<DhcpPacket | undefined>((resolve) => {
      const timer = setTimeout(() => {
        waiting.delete(xid);
        resolve(undefined);
      }, 1000);
      waiting.set(xid, (p) => {
        if (p.options.messageType !== want) return;
        clearTimeout(timer);
        waiting.delete(xid);
        resolve(p);
      });
      dhcp.send(request(mac, xid, type, extra), 67, plan.server);
    });
    if (reply) return reply;
  }
  return undefined;
}

let xids = (Math.random() * 0x7fffffff) >>> 0;
async function dora(mac: string): Promise<boolean> {
  xids = (xids + 1) >>> 0;
  const xid = xids;
  const t0 = performance.now();
  const offer = await exchange(mac, xid, MessageType.Discover, MessageType.Offer);
  const ack =
    offer &&
    (await exchange(mac, xid, MessageType.Request, MessageType.Ack, {
      requestedIpAddress: offer.yiaddr,
      serverIdentifier: offer.options.serverIdentifier,
    }));
  record('dhcp', ack ? performance.now() - t0 : undefined);
  if (!ack) firstError('dhcp', offer ? 'no ACK' : 'no OFFER');
  return Boolean(ack);
}

const agent = new Agent({ keepAlive: false });
function script(mac: string): Promise<void> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const req = get(
      { host: plan.server, port: plan.httpPort, path: `/ipxe?mac=${mac.replace(/:/g, '-')}`, agent },
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
    if (await dora(mac)) {
      const t = await fetchTftp({
        host: plan.server,
        port: 69,
        file: plan.tftpFile,
        size: plan.tftpSize,
        blksize: 1468,
        windowsize: 1,
        deadlineMs: 30_000,
      });
      record('tftp', t.ok && t.bytes === plan.tftpSize ? t.ms : undefined);
      if (!t.ok) firstError('tftp', t.error ?? 'failed');
      if (t.ok) await script(mac);
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
dhcp.close();
agent.destroy();
