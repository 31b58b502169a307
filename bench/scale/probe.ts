/**
 * The client side of bench/scale, run inside the relay's network namespace: times per-machine script fetches over
 * HTTP and DHCP DISCOVER → OFFER exchanges sent as a relay (giaddr set, from and to port 67), one at a time, so each
 * figure is the latency of one decision and not a queue. Reads its plan from the JSON file argv[2] names, prints JSON results.
 */
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { Agent, get } from 'node:http';
import { MessageType } from '../../src/dhcp/options.ts';
import { BOOTREQUEST, decodePacket, encodePacket } from '../../src/dhcp/packet.ts';

export interface ProbePlan {
  server: string;
  httpPort: number;
  relay: string;
  /** Script fetches: `/ipxe?mac=` of these MACs, in order, `concurrency` at a time. */
  scripts: { macs: string[]; concurrency: number };
  /** DHCP rows: a name and the MACs to DISCOVER for, one at a time. */
  dhcp: { name: string; macs: string[] }[];
}

export interface Latencies {
  count: number;
  failed: number;
  p50: number;
  p99: number;
  max: number;
}

function summarize(ms: number[], failed: number): Latencies {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
  return { count: ms.length, failed, p50: at(0.5), p99: at(0.99), max: s.at(-1) ?? Number.NaN };
}

async function scripts(plan: ProbePlan): Promise<Latencies> {
  const agent = new Agent({ keepAlive: true, maxSockets: plan.scripts.concurrency });
  const ms: number[] = [];
  let failed = 0;
  let next = 0;
  const one = (mac: string) =>
    new Promise<void>((resolve) => {
      const t0 = process.hrtime.bigint();
      const req = get(
        { host: plan.server, port: plan.httpPort, path: `/ipxe?mac=${mac.replace(/:/g, '-')}`, agent },
        (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode === 200) ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
            else failed++;
            resolve();
          });
        },
      );
      req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
      req.on('error', () => {
        failed++;
        resolve();
      });
    });
  const worker = async () => {
    while (next < plan.scripts.macs.length) await one(plan.scripts.macs[next++]!);
  };
  await Promise.all(Array.from({ length: plan.scripts.concurrency }, worker));
  agent.destroy();
  return summarize(ms, failed);
}

/** A relayed PXE DISCOVER (option 60 PXEClient, arch 0): the server's whole decision, boot policy included. */
function discover(mac: string, xid: number, relay: string): Buffer {
  const chaddr = Buffer.alloc(16);
  Buffer.from(mac.replace(/:/g, ''), 'hex').copy(chaddr);
  const r = encodePacket({
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
    giaddr: relay,
    chaddr,
    sname: '',
    file: '',
    options: {
      messageType: MessageType.Discover,
      vendorClassIdentifier: 'PXEClient:Arch:00000:UNDI:002001',
      clientSystemArchitecture: [0],
    },
  });
  if (!r.ok) throw new Error(`cannot encode a DISCOVER: ${r.error.message}`);
  return r.buffer;
}

async function dhcp(plan: ProbePlan, macs: string[]): Promise<Latencies> {
  const sock = createSocket('udp4');
  await new Promise<void>((r) => sock.bind(67, plan.relay, r));
  const ms: number[] = [];
  let failed = 0;
  let waiting: ((xid: number) => void) | undefined;
  sock.on('message', (buf) => {
    const p = decodePacket(buf);
    if (p.ok && p.packet.options.messageType === MessageType.Offer) waiting?.(p.packet.xid);
  });
  let xid = (Math.random() * 0x7fffffff) >>> 0;
  for (const mac of macs) {
    xid = (xid + 1) >>> 0;
    const want = xid;
    const t0 = process.hrtime.bigint();
    const got = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 2000);
      waiting = (x) => {
        if (x !== want) return;
        clearTimeout(timer);
        resolve(true);
      };
      sock.send(discover(mac, want, plan.relay), 67, plan.server);
    });
    if (got) ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
    else failed++;
  }
  sock.close();
  return summarize(ms, failed);
}

const plan = JSON.parse(readFileSync(process.argv[2] ?? '', 'utf8')) as ProbePlan;
const out: Record<string, Latencies> = { script: await scripts(plan) };
for (const row of plan.dhcp) out[row.name] = await dhcp(plan, row.macs);
process.stdout.write(JSON.stringify(out));
