/**
 * bench/dhcp/pool: the cost of choosing a new client's address (LeasePool.offer for a MAC it has never seen) with
 * 0, 20,000 and 100,000 leases bound, in process, no network. Prints µs per choice and the ratio to the empty pool:
 * the issue's target is a cost independent of the lease count.
 *
 * `node --import tsx bench/dhcp/pool.ts`. Env: BENCH_LEASES (default "0,20000,100000"), BENCH_CHOICES (default 5000),
 * BENCH_POOL_MODULE (another pool.ts to measure, e.g. an older checkout's, for a before/after figure).
 * The pool is 198.18.0.0/15 (RFC 2544's benchmarking block): data only, nothing is sent anywhere.
 */
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import type { LeasePool, PoolConfig, Subnet } from '../../src/dhcp/pool.ts';

const COUNTS = (process.env.BENCH_LEASES ?? '0,20000,100000').split(',').map(Number);
const CHOICES = Number(process.env.BENCH_CHOICES ?? 5000);
const MODULE = process.env.BENCH_POOL_MODULE
  ? pathToFileURL(resolve(process.env.BENCH_POOL_MODULE)).href
  : new URL('../../src/dhcp/pool.ts', import.meta.url).href;

const { LeasePool: Pool } = (await import(MODULE)) as { LeasePool: new (c: PoolConfig) => LeasePool };

const mac = (i: number): string =>
  `02:${[24, 16, 8, 0].map((s) => ((i >>> s) & 255).toString(16).padStart(2, '0')).join(':')}:01`;

function measure(leases: number): number {
  const pool = new Pool({
    subnets: [{ subnet: '198.18.0.0/15', range: ['198.18.0.10', '198.19.255.250'], leaseSeconds: 3600 }],
  });
  const subnet = pool.subnetFor('198.18.0.1') as Subnet;
  const t0 = Date.UTC(2026, 11, 3);
  for (let i = 0; i < leases; i++) {
    const offer = pool.offer(subnet, { mac: mac(i) }, t0);
    if (!offer) throw new Error(`pool full at ${i}`);
    pool.request(subnet, { mac: mac(i) }, offer.lease.ip, 'selecting', t0);
  }
  const start = performance.now();
  for (let i = 0; i < CHOICES; i++) {
    if (!pool.offer(subnet, { mac: mac(leases + i) }, t0 + 1)) throw new Error('no offer');
  }
  return ((performance.now() - start) * 1000) / CHOICES;
}

console.log(`bench/dhcp/pool: ${MODULE}\n${CHOICES} new clients' offers after N bound leases`);
measure(0); // warm up: JIT
let base: number | undefined;
for (const n of COUNTS) {
  const us = measure(n);
  base ??= us;
  console.log(
    `${String(n).padStart(7)} leases: ${us.toFixed(2).padStart(9)} µs per choice  (${(us / base).toFixed(2)}× empty)`,
  );
}
