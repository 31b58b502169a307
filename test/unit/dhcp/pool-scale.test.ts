/**
 * The pool's address choice keeps indexes instead of scanning (heaps of lease ends and free addresses, a cursor over
 * never-used ones, records by client). These tests hold it to the simple rule it replaces — a new client gets the
 * lowest address nobody holds — under random operations, and at 100,000 leases.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { intToIp, ipToInt, type Lease, LeasePool, type Subnet } from '../../../src/dhcp/pool.ts';
import { seededRandom } from '../../lib/random.ts';

const T0 = Date.UTC(2026, 11, 3);
const mac = (i: number): string =>
  `02:${[24, 16, 8, 0].map((s) => ((i >>> s) & 255).toString(16).padStart(2, '0')).join(':')}:01`;

const holds = (l: Lease | undefined, now: number): boolean =>
  l !== undefined && (l.state === 'offered' || l.state === 'bound' || l.state === 'declined') && l.expiresAt > now;

describe('LeasePool address choice without scans', () => {
  test('random offers, binds, releases, declines, expiries and reservation changes: always the lowest free address', () => {
    const first = ipToInt('192.0.2.100') as number;
    const last = ipToInt('192.0.2.139') as number;
    const excluded = new Set([ipToInt('192.0.2.110')]);
    const pool = new LeasePool({
      subnets: [{ subnet: '192.0.2.0/24', range: ['192.0.2.100', '192.0.2.139'], exclude: ['192.0.2.110'] }],
      offerHoldMs: 5_000,
      declineQuarantineMs: 20_000,
    });
    const s = pool.subnetFor('192.0.2.1') as Subnet;
    const rnd = seededRandom(12);
    let reserved = new Map<number, string>();
    let now = T0;
    let next = 0;
    const clients: string[] = [];
    const lowestFree = (): string | undefined => {
      for (let ip = first; ip <= last; ip++) {
        if (excluded.has(ip) || reserved.has(ip)) continue;
        if (!holds(pool.lease(intToIp(ip)), now)) return intToIp(ip);
      }
      return undefined;
    };
    for (let step = 0; step < 5_000; step++) {
      now += Math.floor(rnd() * 400);
      const r = rnd();
      const who = clients[Math.floor(rnd() * clients.length)];
      if (r < 0.35 || !who) {
        // A client never seen, asking for nothing: the lowest free address, or (full) an offer taken back.
        const m = mac(next++);
        clients.push(m);
        const expected = lowestFree();
        const got = pool.offer(s, { mac: m }, now);
        if (expected) assert.equal(got?.lease.ip, expected, `step ${step}`);
        else if (got) assert.equal(got.lease.state, 'offered');
      } else if (r < 0.65) {
        const offered = pool.all().find((l) => l.mac === who && l.state === 'offered' && l.expiresAt > now);
        if (offered) pool.request(s, { mac: who }, offered.ip, 'selecting', now);
      } else if (r < 0.75) {
        const mine = pool.all().find((l) => l.mac === who && holds(l, now));
        if (mine) pool.release({ mac: who }, mine.ip, now);
      } else if (r < 0.8) {
        const mine = pool.all().find((l) => l.mac === who && holds(l, now) && l.state !== 'declined');
        if (mine) pool.decline({ mac: who }, mine.ip, now);
      } else if (r < 0.85) {
        for (const l of pool.expire(now)) assert.ok(l.expiresAt <= now && l.state === 'expired');
      } else if (r < 0.88) {
        // Reserve one address for a machine that never asks, or drop the reservations.
        const ip = first + Math.floor(rnd() * (last - first + 1));
        reserved = rnd() < 0.5 || excluded.has(ip) ? new Map() : new Map([[ip, mac(1_000_000 + ip)]]);
        pool.setReservations([...reserved].map(([n, m]) => ({ ip: intToIp(n), mac: m })));
      } else {
        // A known client comes back: its own address while it holds one.
        const mine = pool.all().find((l) => l.mac === who && l.state === 'bound' && l.expiresAt > now);
        const got = pool.offer(s, { mac: who }, now);
        if (mine && !reserved.has(ipToInt(mine.ip) as number)) assert.equal(got?.lease.ip, mine.ip, `step ${step}`);
      }
      // Never two clients on one address.
      const held = pool.all().filter((l) => holds(l, now) && l.state !== 'declined');
      assert.equal(new Set(held.map((l) => l.ip)).size, held.length);
    }
  });

  test('100,000 leases: distinct, in order; freed and lapsed addresses come back lowest first', () => {
    const pool = new LeasePool({
      subnets: [{ subnet: '198.18.0.0/15', range: ['198.18.0.10', '198.19.255.250'], leaseSeconds: 3600 }],
    });
    const s = pool.subnetFor('198.18.0.1') as Subnet;
    const base = ipToInt('198.18.0.10') as number;
    const N = 100_000;
    for (let i = 0; i < N; i++) {
      const o = pool.offer(s, { mac: mac(i) }, T0);
      assert.ok(o);
      if (o.lease.ip !== intToIp(base + i)) assert.fail(`client ${i} got ${o.lease.ip}`);
      const r = pool.request(s, { mac: mac(i) }, o.lease.ip, 'selecting', T0);
      if (r.kind !== 'ack') assert.fail(`client ${i}: ${r.kind}`);
    }
    assert.equal(pool.usage(T0)[0]?.bound, N);
    // Clients known by their index come back to their own address.
    assert.equal(pool.offer(s, { mac: mac(77_777) }, T0 + 1)?.lease.ip, intToIp(base + 77_777));
    // Released addresses are reused lowest first, before never-used ones.
    for (const i of [90_000, 5, 60_000]) pool.release({ mac: mac(i) }, intToIp(base + i), T0 + 2);
    const next = (k: number, now: number) => pool.offer(s, { mac: mac(N + k) }, now)?.lease.ip;
    assert.deepEqual(
      [0, 1, 2, 3].map((k) => next(k, T0 + 3)),
      [intToIp(base + 5), intToIp(base + 60_000), intToIp(base + 90_000), intToIp(base + N)],
    );
    // One client renewed, the rest lapse: the renewed address stays taken, the lapsed come back in order.
    const later = T0 + 3600_000 + 10;
    assert.equal(pool.renew({ mac: mac(1) }, intToIp(base + 1), T0 + 1800_000).kind, 'ack');
    assert.deepEqual(
      [4, 5].map((k) => next(k, later)),
      [intToIp(base), intToIp(base + 2)],
    );
    // Ended: every binding but the renewed one, the three released and the two just re-offered; and the 4 offers.
    assert.equal(pool.expire(later).length, N - 1 - 3 - 2 + 4);
  });
});

/** The pool with its heaps' sizes in view (they are the pool's own business otherwise). */
class InspectedPool extends LeasePool {
  heaps(s: Subnet): { marks: number; ends: number; offers: number } {
    const st = this.stateOf(s);
    return { marks: this.marks.size, ends: st.ends.size, offers: st.offers.size };
  }
}

describe('LeasePool heaps under churn', () => {
  test('a flood of new clients on a full range: the heaps stay bounded by the records, choices unchanged', () => {
    // bench/rss's range: 151 addresses. Every DISCOVER from a new MAC takes back the oldest offer once it is full.
    const pool = new InspectedPool({
      subnets: [{ subnet: '192.0.2.0/24', range: ['192.0.2.100', '192.0.2.250'] }],
      offerHoldMs: 30_000,
    });
    const s = pool.subnetFor('192.0.2.1') as Subnet;
    const size = 151;
    let now = T0;
    let largest = 0;
    for (let i = 0; i < 200_000; i++) {
      now += 1;
      const o = pool.offer(s, { mac: mac(i) }, now);
      if (!o) assert.fail(`client ${i} got no offer`);
      const h = pool.heaps(s);
      largest = Math.max(largest, h.marks, h.ends, h.offers);
    }
    // Without rebuilding, every offer made and taken back leaves its entries: 200,000 in each heap.
    assert.ok(largest <= 1024 + 4 * size + 1, `a heap reached ${largest} entries for ${size} records`);
    const held = pool.all().filter((l) => holds(l, now));
    assert.equal(held.length, size);
    assert.equal(new Set(held.map((l) => l.ip)).size, size);
    // The last 151 clients hold the range; once their holds lapse, the lowest address comes first again.
    const later = now + 30_001;
    assert.equal(pool.offer(s, { mac: mac(300_000) }, later)?.lease.ip, '192.0.2.100');
    assert.equal(pool.expire(later).length, size - 1);
  });
});

describe('LeasePool relay addresses', () => {
  test('a relay outside every subnet picks the subnet that lists it; one relay, one subnet', () => {
    const pool = new LeasePool({
      subnets: [
        { subnet: '198.51.100.0/24', range: ['198.51.100.10', '198.51.100.20'], relayAddresses: ['203.0.113.1'] },
        { subnet: '192.0.2.0/24', range: ['192.0.2.10', '192.0.2.20'] },
      ],
    });
    assert.equal(pool.subnetFor('203.0.113.1')?.cidr, '198.51.100.0/24');
    assert.equal(pool.subnetFor('203.0.113.2'), undefined);
    assert.equal(pool.subnetFor('192.0.2.1')?.cidr, '192.0.2.0/24');
    const offered = pool.offer(pool.subnetFor('203.0.113.1') as Subnet, { mac: mac(1) }, T0);
    assert.equal(offered?.lease.ip, '198.51.100.10');
    assert.throws(
      () =>
        new LeasePool({
          subnets: [
            { subnet: '198.51.100.0/24', range: ['198.51.100.10', '198.51.100.20'], relayAddresses: ['203.0.113.1'] },
            { subnet: '192.0.2.0/24', range: ['192.0.2.10', '192.0.2.20'], relayAddresses: ['203.0.113.1'] },
          ],
        }),
      /relay 203\.0\.113\.1 is mapped to both 198\.51\.100\.0\/24 and 192\.0\.2\.0\/24/,
    );
  });
});
