/**
 * The client side of bench/scale, run inside the relay's network namespace: times per-machine script fetches over
 * HTTP and DHCP DISCOVER → OFFER exchanges sent as a relay (giaddr set, from and to port 67), one at a time, so each
 * figure is the latency of one decision and not a queue. Reads its plan from the JSON file argv[2] names, prints JSON results.
 */
import { readFileSync } from 'node:fs';
import { Agent, get } from 'node:http';
import { MessageType } from '../../src/dhcp/option-types.ts';
import { PXE_BIOS, RelayedDhcp } from '../../test/lib/relayed-dhcp.ts';

export interface ProbePlan {
  server: string;
  httpPort: number;
  relay: string;
  /** Script fetches: `/ipxe?mac=` of these MACs, in order, `concurrency` at a time. */
  scripts: { macs: string[]; concurrency: number };
  /** DHCP rows: a name and the MACs to DISCOVER for, one at a time. */
  dhcp: { name: string; macs: string[] }[];
  /** DISCOVERs sent before the DHCP rows and not timed: this process's DHCP code and the server's run cold at first
   * (JIT), and their first compilations would land in the first row's tail. */
  dhcpWarmup?: string[];
}

export interface Latencies {
  count: number;
  failed: number;
  p50: number;
  p99: number;
  max: number;
  /** The server's own p99 over the row (ms), estimated from its histogram as Prometheus does: DHCP rows from its
   * bootherd_dhcp_reply_seconds histogram (arrival to reply handed to the kernel), script rows from
   * bootherd_http_request_duration_seconds of /ipxe (request to response). */
  serverP99?: number;
}

function summarize(ms: number[], failed: number): Latencies {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
  return { count: ms.length, failed, p50: at(0.5), p99: at(0.99), max: s.at(-1) ?? Number.NaN };
}

async function scripts(plan: ProbePlan): Promise<Latencies> {
  const before = await scriptHistogram(plan);
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
  return { ...summarize(ms, failed), serverP99: p99Of(before, await scriptHistogram(plan)) };
}

/** One of the server's histograms, cumulative counts by bucket bound (seconds): the series whose labels (besides
 * `le`) are exactly `labels`, e.g. `message="discover"` or `route="/ipxe"`. */
async function histogram(plan: ProbePlan, name: string, labels: string): Promise<Map<number, number>> {
  const res = await fetch(`http://${plan.server}:${plan.httpPort}/metrics`);
  const text = await res.text();
  const out = new Map<number, number>();
  for (const line of text.split('\n')) {
    const m = /^(\w+)_bucket\{le="([^"]+)",(.*)\} (\d+)$/.exec(line);
    if (!m || m[1] !== name || m[3] !== labels) continue;
    out.set(m[2] === '+Inf' ? Number.POSITIVE_INFINITY : Number(m[2]), Number(m[4]));
  }
  return out;
}

const discoverHistogram = (plan: ProbePlan) => histogram(plan, 'bootherd_dhcp_reply_seconds', 'message="discover"');
const scriptHistogram = (plan: ProbePlan) => histogram(plan, 'bootherd_http_request_duration_seconds', 'route="/ipxe"');

/**
 * The p99 (ms) of what was observed between two readings of a histogram, as Prometheus' histogram_quantile estimates
 * it: the bucket holding the 99th percentile, interpolated linearly inside it.
 */
function p99Of(before: Map<number, number>, after: Map<number, number>): number {
  const total = (after.get(Number.POSITIVE_INFINITY) ?? 0) - (before.get(Number.POSITIVE_INFINITY) ?? 0);
  const rank = 0.99 * total;
  let lower = 0;
  let below = 0;
  for (const le of [...after.keys()].sort((x, y) => x - y)) {
    const count = after.get(le)! - (before.get(le) ?? 0);
    if (count >= rank) {
      if (le === Number.POSITIVE_INFINITY) return lower * 1000;
      return (lower + (le - lower) * ((rank - below) / Math.max(count - below, 1))) * 1000;
    }
    lower = le;
    below = count;
  }
  return Number.NaN;
}

/** DISCOVER → OFFER round trips as a relay, one at a time: the server's whole decision, boot policy included. */
async function dhcp(plan: ProbePlan, macs: string[]): Promise<Latencies> {
  const before = await discoverHistogram(plan);
  const relay = await RelayedDhcp.open(plan.relay, plan.server);
  const ms: number[] = [];
  let failed = 0;
  let xid = (Math.random() * 0x7fffffff) >>> 0;
  for (const mac of macs) {
    xid = (xid + 1) >>> 0;
    const t0 = process.hrtime.bigint();
    const offer = await relay.exchange(mac, xid, MessageType.Discover, MessageType.Offer, {
      extra: PXE_BIOS,
      timeoutMs: 2000,
    });
    if (offer) ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
    else failed++;
  }
  relay.close();
  return { ...summarize(ms, failed), serverP99: p99Of(before, await discoverHistogram(plan)) };
}

const plan = JSON.parse(readFileSync(process.argv[2] ?? '', 'utf8')) as ProbePlan;
const out: Record<string, Latencies> = { script: await scripts(plan) };
if (plan.dhcpWarmup?.length) await dhcp(plan, plan.dhcpWarmup);
for (const row of plan.dhcp) out[row.name] = await dhcp(plan, row.macs);
process.stdout.write(JSON.stringify(out));
